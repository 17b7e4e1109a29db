/* engine_options.c — see engine_options.h. */
#include "engine_options.h"
#include "workers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VALIDATION_LAYER "VK_LAYER_KHRONOS_validation"

static bool env_is(const char *name, const char *value) {
    const char *v = getenv(name);
    return v && strcmp(v, value) == 0;
}

/* A positive whole number from NAME, else 0 (the default). */
static unsigned long long env_count(const char *name) {
    const char *v = getenv(name);
    if (!v || !*v) return 0;
    char *end;
    unsigned long long n = strtoull(v, &end, 10);
    return *end || v[0] == '-' ? 0 : n;
}

static uint32_t env_u32(const char *name) {
    unsigned long long n = env_count(name);
    return n > UINT32_MAX ? 0 : (uint32_t)n;
}

vk_engine_options vk_options_from_env(int device_index, bool capture) {
    vk_engine_options o = {.device_index = device_index, .pick_device = device_index < 0, .capture = capture};
    const char *layers = getenv("VK_INSTANCE_LAYERS");
    o.rt.load_layer = env_is("LLMSCOPE_VK_VALIDATION", "1");
    o.rt.count_errors = o.rt.load_layer || (layers && strstr(layers, VALIDATION_LAYER));
    o.rt.max_buffer = env_count("LLMSCOPE_VK_MAX_BUFFER");
    o.rt.timeout_s = env_u32("LLMSCOPE_VK_TIMEOUT");
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    if (xdg && *xdg) snprintf(o.rt.cache_dir, sizeof o.rt.cache_dir, "%s/llmscope", xdg);
    else if (home && *home) snprintf(o.rt.cache_dir, sizeof o.rt.cache_dir, "%s/.cache/llmscope", home);
    o.no_fuse = env_is("LLMSCOPE_VK_FUSE", "0");
    o.no_prerecord = env_is("LLMSCOPE_VK_PRERECORD", "0");
    o.profile = env_is("LLMSCOPE_VK_PROFILE", "1");
    o.tuning.wg = env_u32("LLMSCOPE_VK_WG");
    o.tuning.matvec_rows = env_u32("LLMSCOPE_VK_MATVEC_ROWS");
    o.tuning.matmul_min = env_u32("LLMSCOPE_VK_MATMUL_MIN");
    o.tuning.attn_chunk = env_u32("LLMSCOPE_VK_ATTN_CHUNK");
    const char *mm = getenv("LLMSCOPE_VK_MATMUL");
    vk_matmul_tiles t;
    if (mm && sscanf(mm, "%u,%u,%u,%u,%u", &t.bm, &t.bn, &t.bk, &t.tm, &t.tn) == 5) o.tuning.tiles = t;
    return o;
}

int cpu_options_from_env(cpu_engine_options *o, char *err, size_t errlen) {
    *o = (cpu_engine_options){0};
    o->isa = getenv("LLMSCOPE_CPU_ISA");
    const char *env = getenv("LLMSCOPE_THREADS");
    if (!env || !*env) return 0;
    char *end;
    long n = strtol(env, &end, 10);
    if (*end || n < 1 || n > WORKERS_MAX) {
        snprintf(err, errlen, "LLMSCOPE_THREADS must be a number from 1 to %d, not '%.40s'", WORKERS_MAX, env);
        return -1;
    }
    o->n_threads = (int)n;
    return 0;
}
