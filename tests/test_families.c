/* test_families.c — the families without a golden in ../shared (SmolLM3, Ministral 3,
 * Qwen3-VL as a text model), on tiny files `synth` writes from the architecture tables:
 * the loader resolves each family's recipe (NoPE layers; YaRN and the attention
 * temperature; q/k norms and NEOX rope), the fast CPU engine matches the reference one,
 * and each family's own feature changes the result (so it is really computed). The Vulkan
 * engine is checked against these in test_vulkan_forward. */
#include "engine.h"
#include "model.h"
#include "test.h"
#include "test_models.h"

#include <math.h>

enum { T = 40 }; /* past Ministral 3's original context of 16 */

/* Logits of every position of a fixed prompt, on an engine made with OPT. */
static bool run_prompt(const model *m, bool reference, float *logits) {
    char err[512];
    cpu_engine_options opt = {.reference = reference};
    engine *e = engine_cpu_create_opts(m, T + 8, &opt, err, sizeof err);
    CHECKF(e, "engine: %s", err);
    if (!e) return false;
    int32_t tokens[T];
    for (int i = 0; i < T; i++) tokens[i] = (int32_t)((i * 37 + 11) % m->hp.n_vocab);
    engine_batch b = {.tokens = tokens, .n_tokens = T, .pos = 0, .all_positions = true, .logits = logits};
    int rc = engine_eval(e, &b, err, sizeof err);
    CHECKF(rc == 0, "eval: %s", err);
    engine_destroy(e);
    return rc == 0;
}

static double max_diff(const float *a, const float *b, size_t n, double *range) {
    double d = 0, lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        d = fmax(d, fabs((double)a[i] - b[i]));
        lo = fmin(lo, b[i]), hi = fmax(hi, b[i]);
    }
    *range = hi - lo;
    return d;
}

/* The family's own recipe, as the loader resolved it. */
static void check_recipe(const model *m) {
    const char *a = m->hp.arch_name;
    if (!strcmp(a, "smollm3"))
        for (int l = 0; l < m->hp.n_layer; l++)
            CHECKF((m->desc[l].rope < 0) == ((l + 1) % 4 == 0), "smollm3 layer %d: rope %d", l, m->desc[l].rope);
    if (!strcmp(a, "mistral3")) {
        CHECK(m->n_ropes == 1 && m->ropes[0].ext_factor == 1.0f && m->ropes[0].orig_ctx == 16);
        CHECK(m->ropes[0].freq_scale == 0.25f && m->ropes[0].beta_fast == 32 && m->ropes[0].beta_slow == 1);
        CHECK(m->desc[0].attn_temp == 0.5f && m->desc[0].attn_temp_floor == 16);
    }
    if (!strcmp(a, "qwen3vl"))
        CHECK(m->layers[0].q_norm && m->layers[0].k_norm && m->ropes[0].kind == ROPE_NEOX && m->desc[0].head_dim == 32);
}

/* Turns the family's own feature off in M, or returns false when it has none to turn off. */
static bool drop_feature(model *m) {
    const char *a = m->hp.arch_name;
    if (!strcmp(a, "smollm3")) { /* rope in every layer */
        for (int l = 0; l < m->hp.n_layer; l++) m->desc[l].rope = 0;
        return true;
    }
    if (!strcmp(a, "mistral3")) { /* no temperature, no YaRN blend */
        for (int l = 0; l < m->hp.n_layer; l++) m->desc[l].attn_temp = 0;
        m->ropes[0].ext_factor = 0;
        return true;
    }
    if (!strcmp(a, "qwen3vl")) { /* its multi-section rope taken as Llama's pairing */
        m->ropes[0].kind = ROPE_NORM;
        return true;
    }
    return false;
}

static void families(void) {
    for (size_t i = 0; i < TEST_N_FAMILY_SHAPES; i++) {
        const synth_shape *s = &TEST_FAMILY_SHAPES[i];
        for (int q = 0; q < 2; q++) {
            const char *type = q ? "q8_0" : "f32";
            char path[64];
            model m;
            if (!test_synth_load(s, type, path, sizeof path, &m)) continue;
            check_recipe(&m);
            const size_t n = (size_t)T * m.hp.n_vocab;
            float *ref = malloc(n * sizeof *ref), *fast = malloc(n * sizeof *fast);
            if (ref && fast && run_prompt(&m, true, ref) && run_prompt(&m, false, fast)) {
                double range, d = max_diff(fast, ref, n, &range);
                /* the fast products sum as the reference does (ops_fast.h) */
                CHECKF(d <= 1e-5 * range, "%s %s: fast engine differs from the reference by %g (range %g)", s->name, type,
                       d, range);
                if (drop_feature(&m) && run_prompt(&m, true, fast)) {
                    d = max_diff(fast, ref, n, &range);
                    CHECKF(d >= 1e-2 * range, "%s %s: its own feature changes the logits only by %g (range %g)", s->name,
                           type, d, range);
                }
            }
            free(ref), free(fast);
            model_free(&m);
            remove(path);
        }
    }
}

int main(void) {
    RUN(families);
    return test_exit_code();
}
