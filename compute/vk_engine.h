/* vk_engine.h — the Vulkan engine: the whole forward pass on the GPU behind engine.h.
 *
 * Weights are uploaded once to device-local memory (split by rows where a matrix exceeds
 * the device's buffer limit). A prompt is evaluated in micro-batches of up to 512 tokens
 * through a tiled matrix-matrix kernel, one submit each. A decode step is five steps per
 * layer (norms, rope and SwiGLU fused into the matrix products), one command buffer, one
 * submit, one wait; the next step's commands are recorded while the GPU runs this one.
 * Attention rows are written by the attention kernel itself into host-visible memory
 * while it computes them (long rows split their keys into chunks and stay exact); the
 * top-k, log-sum-exp and entropy of the logits are reduced on the GPU (engine_batch.top_k
 * ...), so the CPU reads the full vocabulary only when asked, and so is the logit lens
 * (engine_batch.lens_*). docs/vulkan-performance.md has the design and the numbers. */
#ifndef LLMSCOPE_VK_ENGINE_H
#define LLMSCOPE_VK_ENGINE_H

#include "engine.h"
#include "vk_ops.h"
#include "vk_runtime.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* What of model M the Vulkan backend does not compute yet, as one line ("Gated DeltaNet"),
 * or NULL: engine_vulkan_create refuses such a model with it. */
const char *engine_vulkan_unsupported(const model *m);

/* How the Vulkan engine is made and runs; all zero is the default (device chosen, no
 * capture memory). The program fills it in from its command line and environment
 * (ui/cli/engine_options.c); nothing under compute/ reads the environment. */
typedef struct vk_engine_options {
    int device_index;         /* as listed by engine_vulkan_list_devices, when PICK_DEVICE */
    bool pick_device;
    bool capture;             /* attention capture memory (false rejects batches that ask) */
    bool no_fuse;             /* the decode fusions off (to measure what they save) */
    bool no_prerecord;        /* do not record the next decode step ahead */
    bool profile;             /* GPU timestamps per step (engine_vulkan_print_profile) */
    vk_runtime_options rt;    /* validation, buffer limit, timeout, pipeline cache */
    vk_tuning tuning;         /* kernel shapes (vk_ops.h) */
} vk_engine_options;

/* OPT may be NULL (the defaults). NULL with ERR filled on failure (no loader, no device,
 * unsupported model or tensor type, out of device memory). */
engine *engine_vulkan_create_opts(const model *m, int n_ctx, const vk_engine_options *opt, char *err, size_t errlen);
/* The same with the defaults but DEVICE_INDEX (-1: choose: discrete GPU, then integrated,
 * then CPU) and CAPTURE. */
engine *engine_vulkan_create(const model *m, int n_ctx, int device_index, bool capture,
                             char *err, size_t errlen);

/* One line per device to OUT: index, name, type, driver, Vulkan version, memory.
 * Returns the number of devices or -1 with ERR filled. */
int engine_vulkan_list_devices(FILE *out, char *err, size_t errlen);

/* What automatic device choice would pick: 0 a GPU, 1 a CPU implementation (such as
 * Mesa's lavapipe, where the CPU reference engine is the faster choice), -1 none (ERR
 * filled). NAME (may be NULL) gets the device's name. */
int engine_vulkan_auto_device_kind(char *name, size_t cap, char *err, size_t errlen);

/* Errors reported by the Khronos validation layer so far (0 when it is off: see
 * vk_runtime_options). */
int engine_vulkan_validation_errors(const engine *e);

/* Barriers the runtime had to add because a command would have raced another of the same
 * step (compute/vk_sync.h). The engine's own steps are meant to need none: a count above
 * 0 is a missing barrier in vk_engine.c, made safe at the price of one barrier. */
long engine_vulkan_inserted_barriers(const engine *e);

/* Decode steps so far that ran from a recording made during the step before (the engine
 * records the likely next step while the GPU works; see vk_engine.c). For tests and bench. */
long engine_vulkan_prerecorded_steps(const engine *e);

/* GPU time per step of the forward pass (the work between two barriers, named after its
 * kernels: "qkv+norm+rope", "attention", ...), summed over the evals so far, with the
 * dispatches and barriers per submit: recorded only when the options ask for it
 * (timestamps cost a little, and the next step is then not recorded ahead). Prints
 * nothing otherwise. reset starts the sums again. */
void engine_vulkan_print_profile(const engine *e, FILE *out);
void engine_vulkan_reset_profile(engine *e);

#endif
