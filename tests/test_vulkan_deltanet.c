/* test_vulkan_deltanet.c — the Vulkan engine on the tiny Qwen3.5 hybrid (Gated DeltaNet
 * layers): what a DeltaNet head looks at, and the recurrent state under rewinds, as
 * test_deltanet.c checks the CPU engine.
 *
 *   - the GPU's effective weights reconstruct every DeltaNet head's read-out, built from
 *     the GPU's own residual stream (deltanet_check.h), and its betas and decays are the
 *     layer's;
 *   - evaluating at an earlier position (from the zero state, a periodic checkpoint, a
 *     marked one) gives what a fresh CPU engine gives for the same tokens. The GPU sums
 *     in another order than the CPU, and differently for batches and single tokens, so
 *     within 1e-3 of the logit range, as test_vulkan_forward compares the engines.
 * Every test fails on a Vulkan validation error (LLMSCOPE_VK_VALIDATION=1), and skips
 * without a Vulkan device. */
#include "deltanet_check.h"
#include "vk_engine.h"

static engine *gpu_engine(const model *m, int n_ctx) {
    char err[512];
    engine *e = engine_vulkan_create(m, n_ctx, -1, true, err, sizeof err);
    if (!e) {
        snprintf(test_skip_reason_, sizeof test_skip_reason_, "no Vulkan engine: %.400s", err);
        test_skipped_ = 1;
    }
    return e;
}

static void gpu_close(engine *e) {
    if (!e) return;
    CHECKF(engine_vulkan_validation_errors(e) == 0, "%d Vulkan validation errors", engine_vulkan_validation_errors(e));
    engine_destroy(e);
}

static void weights_reconstruct_vulkan(void) {
    model m;
    if (!dn_open_model(&m)) return;
    enum { T = 70 };
    engine *e = gpu_engine(&m, T);
    int32_t tokens[T];
    dn_prompt(&m, tokens, T);
    if (e) {
        int cut = 0;
        double worst = dn_check_reconstruction(e, tokens, T, 1e-4, &cut);
        if (getenv("LLMSCOPE_TEST_VERBOSE")) fprintf(stderr, "  worst relative error %g, %d rows cut\n", worst, cut);
        /* the read-outs come from the GPU's residual stream through the CPU's products:
         * float rounding of two summation orders */
        CHECKF(worst < 1e-3, "sum of w v differs from the read-out by %g of its scale", worst);
        /* dn_weights.comp stops at the floor too (up to 7 steps after the CPU): some rows
         * must have stopped, and the sums above cover them */
        CHECKF(cut > 0, "no row's sweep stopped at the floor");
    }
    gpu_close(e);
    model_free(&m);
}

static double logit_range(const float *x, int n) {
    float lo = x[0], hi = x[0];
    for (int i = 1; i < n; i++) lo = x[i] < lo ? x[i] : lo, hi = x[i] > hi ? x[i] : hi;
    return (double)hi - lo;
}

static void rewinds_equal_fresh_evaluation_vulkan(void) {
    model m;
    if (!dn_open_model(&m)) return;
    char err[512];
    enum { N = 600, PROMPT = 560 };
    const int V = m.hp.n_vocab;
    int32_t seq[N];
    dn_prompt(&m, seq, N);
    engine *e = gpu_engine(&m, N);
    float *got = malloc((size_t)V * sizeof *got), *want = malloc((size_t)V * sizeof *want);
    if (!e || !got || !want) goto done;
    engine_batch b = {.tokens = seq, .n_tokens = PROMPT, .pos = 0, .logits = got};
    CHECKF(engine_eval(e, &b, err, sizeof err) == 0, "%s", err);
    for (int p = PROMPT; p < 570; p++) {
        engine_batch d = {.tokens = seq + p, .n_tokens = 1, .pos = p, .logits = got};
        CHECKF(engine_eval(e, &d, err, sizeof err) == 0, "%s", err);
    }
    engine_checkpoint(e);
    for (int p = 570; p < 574; p++) {
        engine_batch d = {.tokens = seq + p, .n_tokens = 1, .pos = p, .logits = got};
        CHECKF(engine_eval(e, &d, err, sizeof err) == 0, "%s", err);
    }
    engine_state_memory mem;
    engine_get_state_memory(e, &mem);
    CHECKF(mem.n_checkpoints == 3, "checkpoints at 256, 512 and 570 expected, %d held", mem.n_checkpoints);
    const int at[] = {570, 565, 512, 40};
    for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) {
        const int p = at[i];
        seq[p] = (seq[p] + 1 + (int32_t)i) % V;
        engine_batch r = {.tokens = seq + p, .n_tokens = 3, .pos = p, .logits = got};
        CHECKF(engine_eval(e, &r, err, sizeof err) == 0, "rewind to %d: %s", p, err);
        engine *f = engine_cpu_create(&m, p + 3, err, sizeof err);
        engine_batch fb = {.tokens = seq, .n_tokens = p + 3, .pos = 0, .logits = want};
        CHECKF(f && engine_eval(f, &fb, err, sizeof err) == 0, "%s", err);
        engine_destroy(f);
        double worst = 0, tol = 1e-3 * logit_range(want, V);
        for (int v = 0; v < V; v++) worst = fmax(worst, fabs(got[v] - want[v]));
        CHECKF(worst <= tol, "after rewinding to %d the logits differ from a fresh evaluation by %g (> %g)", p, worst, tol);
    }
done:
    free(got);
    free(want);
    gpu_close(e);
    model_free(&m);
}

int main(void) {
    RUN(weights_reconstruct_vulkan);
    RUN(rewinds_equal_fresh_evaluation_vulkan);
    return test_exit_code();
}
