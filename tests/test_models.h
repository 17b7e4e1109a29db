/* test_models.h — what tests that run the shared models have in common.
 *
 * Skipping, by name, the shared files of families still to come:
 * ../shared holds files of architectures and types llmscope has not built yet
 * (../shared/README-2026.md). A test that meets one skips with a message naming what is
 * missing ("gemma2 not implemented yet"), never silently, and never for a file whose
 * architecture and types the program claims to load: model_file_unimplemented decides. */
#ifndef LLMSCOPE_TEST_MODELS_H
#define LLMSCOPE_TEST_MODELS_H

#include "test.h"
#include "model.h"
#include "quant.h"
#include "vk_engine.h"
#include "synth.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* True (and the current test marked skipped) when PATH is such a file. */
static inline bool test_skip_unimplemented(const char *path) {
    gguf_file f;
    char err[512], what[160];
    if (gguf_open(&f, path, err, sizeof err)) return false; /* model_load will say why */
    const char *gap = model_file_unimplemented(&f, what, sizeof what);
    if (gap) {
        snprintf(test_skip_reason_, sizeof test_skip_reason_, "%s", gap);
        test_skipped_ = 1;
    }
    gguf_close(&f);
    return gap != NULL;
}

/* SKIPs (returns false) when this machine has no Vulkan loader or device. */
/* The bound on the 2026 goldens' softmax attention probabilities (pI.attention, from
 * ik_llama.cpp): ~1e-2 (README-2026.md: f16 K and V); gpt-oss's (the MXFP4 file) came from a
 * second pass that differs from the golden's logits by up to 3% of the largest, and the
 * CPU engine measures 1.4e-2 there (test_golden_cpu.c, TOL_IK_MXFP4): about twice that. */
static inline double test_golden_softmax_attention_tol(const char *model_name) {
    size_t n = strlen(model_name);
    return n > 6 && !strcmp(model_name + n - 6, "-mxfp4") ? 2.5e-2 : 1e-2;
}

static inline bool test_vulkan_ready(void) {
    char err[512];
    FILE *null = fopen("/dev/null", "w");
    int n = engine_vulkan_list_devices(null ? null : stderr, err, sizeof err);
    if (null) fclose(null);
    if (n <= 0) {
        snprintf(test_skip_reason_, sizeof test_skip_reason_, "no Vulkan device: %.400s", n < 0 ? err : "none listed");
        test_skipped_ = 1;
        return false;
    }
    return true;
}

/* Some Hugging Face references ran in float16, which rounds transformers' rotary
 * frequencies to fp16 too (measured with exact frequencies the difference grows with the
 * position). The frequency-factor hook reproduces that rounding for the global rope
 * (factor = exact / fp16(exact)); the model owns and frees the factors. Only for the
 * goldens that need it: the engines stay exact. Returns false when out of memory. */
static inline bool test_round_rope_f16(model *m) {
    rope_desc *r = m->n_ropes ? &m->ropes[0] : NULL;
    if (!r || r->kind == ROPE_NONE || r->factors) return true;
    float *f = malloc((size_t)(r->dim / 2) * sizeof *f);
    if (!f) return false;
    for (int i = 0; i < r->dim / 2; i++) {
        double exact = pow((double)r->base, -2.0 * i / r->dim);
        f[i] = (float)(exact / fp16_to_f32(f32_to_fp16((float)exact)));
    }
    r->factors = f;
    return true;
}

/* Tiny models of the families that have no golden in ../shared (smollm3, mistral3,
 * qwen3vl), written by `synth` from the same architecture tables the loader reads: 4
 * layers of 4 query and 2 key/value heads, a vocabulary of 300. Mistral 3's YaRN context of
 * 16 and its temperature make prompts past 16 tokens exercise both. */
static const synth_shape TEST_FAMILY_SHAPES[] = {
    {.name = "tiny-smollm3", .arch = "smollm3", .n_embd = 64, .n_layer = 4, .n_head = 4, .n_head_kv = 2, .n_ff = 128,
     .n_vocab = 300, .n_ctx = 256, .rope_base = 10000.0f, .eps = 1e-6f, .tied = true},
    {.name = "tiny-mistral3", .arch = "mistral3", .n_embd = 64, .n_layer = 4, .n_head = 4, .n_head_kv = 2,
     .head_dim = 32, .n_ff = 128, .n_vocab = 300, .n_ctx = 256, .rope_base = 1000000.0f, .eps = 1e-5f,
     .rope_scaling = "yarn", .rope_factor = 4.0f, .rope_orig_ctx = 16, .attn_temp = 0.5f},
    {.name = "tiny-qwen3vl", .arch = "qwen3vl", .n_embd = 64, .n_layer = 4, .n_head = 4, .n_head_kv = 2,
     .head_dim = 32, .n_ff = 128, .n_vocab = 300, .n_ctx = 256, .rope_base = 5000000.0f, .eps = 1e-6f, .tied = true},
};
#define TEST_N_FAMILY_SHAPES (sizeof TEST_FAMILY_SHAPES / sizeof TEST_FAMILY_SHAPES[0])

/* Writes shape S in storage TYPE to a new temporary file PATH (at least 32 bytes) and
 * loads it into M. Returns false (the test marked failed) on any error. */
static inline bool test_synth_load(const synth_shape *s, const char *type, char *path, size_t cap, model *m) {
    char err[512];
    snprintf(path, cap, "/tmp/llmscope-family-XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0) {
        CHECKF(0, "mkstemp failed");
        return false;
    }
    close(fd);
    if (synth_write_shape(s, type, path, 11, NULL, NULL, err, sizeof err) || model_load(m, path, err, sizeof err)) {
        CHECKF(0, "%s (%s): %s", s->name, type, err);
        remove(path);
        return false;
    }
    return true;
}

#endif
