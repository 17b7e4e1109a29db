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

#include <math.h>
#include <stdlib.h>

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

#endif
