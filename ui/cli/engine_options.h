/* engine_options.h — the engines' options from the environment: the one place the
 * program reads LLMSCOPE_THREADS, LLMSCOPE_CPU_ISA and LLMSCOPE_VK_* (and the validation
 * layer's own VK_INSTANCE_LAYERS), so that model/ and compute/ never do (engine.h's
 * cpu_engine_options, vk_engine.h's vk_engine_options). */
#ifndef LLMSCOPE_ENGINE_OPTIONS_H
#define LLMSCOPE_ENGINE_OPTIONS_H

#include "engine.h"
#include "vk_engine.h"

#include <stddef.h>

/* The CPU engine's options: LLMSCOPE_THREADS (a number from 1 to WORKERS_MAX; --threads
 * sets it) and LLMSCOPE_CPU_ISA (plain, avx2, avx512, amx: at most this instruction set).
 * Returns 0, or -1 with ERR filled for a bad LLMSCOPE_THREADS. */
int cpu_options_from_env(cpu_engine_options *o, char *err, size_t errlen);

/* Options for DEVICE_INDEX (-1: choose) and CAPTURE, with what the environment says:
 *   LLMSCOPE_VK_VALIDATION=1   load the Khronos validation layer and count its errors
 *                              (counted too when VK_INSTANCE_LAYERS names the layer)
 *   LLMSCOPE_VK_MAX_BUFFER=N   a lower storage-buffer limit (bytes, at least 65536)
 *   LLMSCOPE_VK_TIMEOUT=S      seconds a submit may take before the GPU counts as hung
 *   LLMSCOPE_VK_FUSE=0         the decode fusions off
 *   LLMSCOPE_VK_PRERECORD=0    no recording of the next decode step ahead
 *   LLMSCOPE_VK_PROFILE=1      GPU time per step
 *   LLMSCOPE_VK_WG, LLMSCOPE_VK_MATVEC_ROWS, LLMSCOPE_VK_MATMUL="BM,BN,BK,TM,TN",
 *   LLMSCOPE_VK_MATMUL_MIN, LLMSCOPE_VK_ATTN_CHUNK   kernel shapes (vk_tuning)
 * and the pipeline cache in $XDG_CACHE_HOME/llmscope or ~/.cache/llmscope. */
vk_engine_options vk_options_from_env(int device_index, bool capture);

#endif
