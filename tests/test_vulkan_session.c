/* test_vulkan_session.c — a session on the Vulkan engine against the same session on the
 * CPU engine, on the real shared models.
 *
 * On Vulkan the session describes each prediction from the engine's on-GPU summary of the
 * row (top-k, log-sum-exp, entropy: sampler.h's logit_summary) instead of a pass over the
 * vocabulary. The two sessions must make the same tokens (greedy, and sampled with the
 * default sampler and seed) and describe them alike: the same ranks and top lists (up to
 * logits within the engines' tolerance of each other), probabilities and entropies within
 * 1e-3 of each other. The counter proves the Vulkan session took the summary path. With
 * the validation layer on (tests/run.sh), any validation error fails the test. */
#include "engine.h"
#include "model.h"
#include "session.h"
#include "test.h"
#include "test_vulkan.h"
#include "tokenizer.h"
#include "vk_engine.h"

#include <math.h>
#include <stdint.h>

static void run_one(const char *name, float temperature) {
    char path[512], rel[256], err[512];
    snprintf(rel, sizeof rel, "models/%s.gguf", name);
    if (!test_shared_path(path, sizeof path, rel)) SKIP("../shared/%s not found", rel);
    model m;
    tokenizer *tok = NULL;
    engine *cpu = NULL, *gpu = NULL;
    session *sc = NULL, *sg = NULL;
    if (model_load(&m, path, err, sizeof err) < 0) {
        CHECKF(0, "%s", err);
        return;
    }
    const int n_ctx = 128;
    /* the CPU engine's reference products (ops.c), which the shaders mirror; its fast
     * products round quantised weights' activations to 8 bits (qdot.h) */
    const cpu_engine_options reference = {.n_threads = 1, .reference = true};
    if (!(tok = tokenizer_load(&m.file, err, sizeof err)) || !(cpu = engine_cpu_create_opts(&m, n_ctx, &reference, err, sizeof err))) {
        CHECKF(0, "%s", err);
        goto done;
    }
    if (!(gpu = test_vulkan_create(&m, n_ctx, -1, true, err, sizeof err))) {
        engine_destroy(cpu);
        tokenizer_free(tok);
        model_free(&m);
        SKIP("no Vulkan device: %.200s", err);
    }
    session_config cfg = {.n_ctx = n_ctx, .capture_attention = true};
    sampler_params_default(&cfg.sampling);
    cfg.sampling.temperature = temperature;
    sc = session_create(&m, tok, cpu, &cfg, err, sizeof err);
    sg = sc ? session_create(&m, tok, gpu, &cfg, err, sizeof err) : NULL;
    if (!sg || session_begin_reply(sc, "Once upon a time there was", err, sizeof err) < 0 ||
        session_begin_reply(sg, "Once upon a time there was", err, sizeof err) < 0) {
        CHECKF(0, "%s", err);
        goto done;
    }
    const step_record *r;
    for (int i = 0; i < 24; i++) {
        int a = session_next(sc, &r, err, sizeof err), b = session_next(sg, &r, err, sizeof err);
        CHECKF(a == b && a >= 0, "step %d: %d vs %d (%s)", i, a, b, err);
        if (a != 1 || b != 1) break;
    }
    size_t n = session_n_records(sc);
    CHECKF(n == session_n_records(sg), "%zu records on the CPU, %zu on Vulkan", n, session_n_records(sg));
    CHECKF(session_summarized(sg) + 1 >= n && session_summarized(sc) == 0,
           "summaries used: %zu of %zu records on Vulkan, %zu on the CPU", session_summarized(sg), n,
           session_summarized(sc));
    for (size_t i = 1; i < n && i < session_n_records(sg); i++) {
        const step_record *c = session_record(sc, i), *g = session_record(sg, i);
        const sample_result *x = &c->sample, *y = &g->sample;
        CHECKF(c->token == g->token, "record %zu: token %d vs %d", i, c->token, g->token);
        if (c->token != g->token) break;
        CHECKF(fabs(x->prob_before - y->prob_before) <= 1e-3 && fabs(x->entropy_before - y->entropy_before) <= 1e-3 &&
                   fabs(x->prob_after - y->prob_after) <= 1e-3 && fabs(x->margin - y->margin) <= 1e-3,
               "record %zu: p %g/%g, H %g/%g, p after %g/%g, margin %g/%g", i, x->prob_before, y->prob_before,
               x->entropy_before, y->entropy_before, x->prob_after, y->prob_after, x->margin, y->margin);
        CHECKF(x->n_top == y->n_top && x->n_candidates_after == y->n_candidates_after && x->blame == y->blame,
               "record %zu: %d/%d listed, %d/%d kept, blame %d/%d", i, x->n_top, y->n_top, x->n_candidates_after,
               y->n_candidates_after, x->blame, y->blame);
        /* ranks and list order may differ only where two logits are within 1e-3 */
        for (int j = 0; j < x->n_top && j < y->n_top; j++)
            CHECKF(x->top_before[j].id == y->top_before[j].id ||
                       fabs(x->top_before[j].logit - y->top_before[j].logit) <= 1e-3,
                   "record %zu: top_before[%d] %d (%g) vs %d (%g)", i, j, x->top_before[j].id, x->top_before[j].logit,
                   y->top_before[j].id, y->top_before[j].logit);
        CHECKF(x->rank_before == y->rank_before || fabs(x->prob_before - y->prob_before) <= 1e-4,
               "record %zu: rank %d vs %d", i, x->rank_before, y->rank_before);
    }
    CHECKF(engine_vulkan_validation_errors(gpu) == 0, "%d Vulkan validation errors",
           engine_vulkan_validation_errors(gpu));
done:
    session_free(sg);
    session_free(sc);
    engine_destroy(gpu);
    engine_destroy(cpu);
    if (tok) tokenizer_free(tok);
    model_free(&m);
}

static void stories_greedy(void) { run_one("stories260K", 0.0f); }
static void stories_sampled(void) { run_one("stories260K", 0.8f); }
static void llama_k_tiny_sampled(void) { run_one("llama-k-tiny-q8_0", 0.8f); }
static void llama_gqa_tiny_sampled(void) { run_one("llama-gqa-tiny-f32", 0.8f); }

int main(void) {
    RUN(stories_greedy);
    RUN(stories_sampled);
    RUN(llama_k_tiny_sampled);
    RUN(llama_gqa_tiny_sampled);
    return test_exit_code();
}
