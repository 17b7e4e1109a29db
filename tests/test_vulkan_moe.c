/* test_vulkan_moe.c — mixtures of experts on the Vulkan engine (compute/vk_moe.c) against
 * the CPU engine, on a synthetic Qwen3-MoE file (`llmscope synth`, qwen3moe-tiny: no
 * golden exists for the family) in f32 and in Q4_K_M's mix, and on gpt-oss-tiny from
 * ../shared when present:
 *   agree      the prompt in one batch, every output on: logits within 1e-3 of the logit
 *              range, attention within 1e-4, the same experts chosen at every layer and
 *              position (but for near ties of the router), weights within 1e-4; then 16
 *              greedy tokens by decoding, the CPU's until its two best logits tie
 *   routing    the captured routing, decoding token by token, is a plain recomputation
 *              from each layer's input (test_moe_check.h), as on the CPU
 * Every test fails on any Vulkan validation error when the validation layer is on. */
#include "engine.h"
#include "model.h"
#include "moe.h"
#include "test.h"
#include "test_models.h"
#include "test_moe_check.h"
#include "vk_engine.h"

#define N_TOK 12
#define GREEDY_N 16

static const int32_t PROMPT[N_TOK] = {257, 72, 101, 108, 108, 111, 44, 32, 119, 111, 114, 300};

typedef struct outputs {
    float *logits, *attention, *probs, *weights;
    int32_t *ranked;
} outputs;

static void outputs_free(outputs *o) { free(o->logits), free(o->attention), free(o->probs), free(o->weights), free(o->ranked); }

/* The prompt in one batch through E with every output on. */
static bool run_batch(engine *e, const model *m, int n, outputs *o) {
    const model_hparams *hp = &m->hp;
    const size_t L = (size_t)hp->n_layer, R = (size_t)moe_rank_n(&hp->moe), K = (size_t)hp->moe.n_used;
    o->logits = malloc((size_t)n * hp->n_vocab * sizeof(float));
    o->attention = malloc(L * hp->n_head * n * n * sizeof(float));
    o->ranked = malloc(L * n * R * sizeof(int32_t));
    o->probs = malloc(L * n * R * sizeof(float));
    o->weights = malloc(L * n * K * sizeof(float));
    engine_batch b = {.tokens = PROMPT, .n_tokens = n, .all_positions = true, .logits = o->logits,
                      .attention = o->attention, .route_ids = o->ranked, .route_probs = o->probs,
                      .route_weights = o->weights};
    char err[512];
    bool ok = engine_eval(e, &b, err, sizeof err) == 0;
    CHECKF(ok, "%s: %s", e->backend, err);
    return ok;
}

static double max_diff(const float *a, const float *b, size_t n) {
    double w = 0;
    for (size_t i = 0; i < n; i++) w = fmax(w, fabs((double)a[i] - b[i]));
    return w;
}

static void agree_on(const char *path, const char *what) {
    model m;
    char err[512];
    if (model_load(&m, path, err, sizeof err)) {
        CHECKF(0, "%s", err);
        return;
    }
    const model_hparams *hp = &m.hp;
    const int L = hp->n_layer, V = hp->n_vocab, K = hp->moe.n_used, R = moe_rank_n(&hp->moe);
    /* the CPU engine's reference products (ops.c), which the shaders mirror; its fast
     * products round quantised weights' activations to 8 bits (qdot.h) */
    const cpu_engine_options reference = {.n_threads = 1, .reference = true};
    engine *cpu = engine_cpu_create_opts(&m, 64, &reference, err, sizeof err);
    engine *gpu = engine_vulkan_create(&m, 64, -1, true, err, sizeof err);
    CHECKF(cpu && gpu, "%s: %s", what, err);
    outputs a = {0}, b = {0};
    if (cpu && gpu && run_batch(cpu, &m, N_TOK, &a) && run_batch(gpu, &m, N_TOK, &b)) {
        float lo = a.logits[0], hi = lo;
        for (size_t i = 0; i < (size_t)N_TOK * V; i++) lo = fminf(lo, a.logits[i]), hi = fmaxf(hi, a.logits[i]);
        double el = max_diff(a.logits, b.logits, (size_t)N_TOK * V);
        double ea = max_diff(a.attention, b.attention, (size_t)L * hp->n_head * N_TOK * N_TOK);
        CHECKF(el <= 1e-3 * (hi - lo), "%s: logits differ by %g (range %g)", what, el, (double)(hi - lo));
        CHECKF(ea <= 1e-4, "%s: attention differs by %g", what, ea);
        int differ = 0;
        for (int i = 0; i < L * N_TOK; i++) {
            if (memcmp(a.ranked + (size_t)i * R, b.ranked + (size_t)i * R, (size_t)K * sizeof(int32_t))) {
                differ++;
                continue;
            }
            CHECKF(max_diff(a.weights + (size_t)i * K, b.weights + (size_t)i * K, (size_t)K) <= 1e-4 &&
                   max_diff(a.probs + (size_t)i * R, b.probs + (size_t)i * R, (size_t)K) <= 1e-4,
                   "%s: routing weights differ at row %d", what, i);
        }
        CHECKF(differ == 0, "%s: %d of %d (layer, position) choices differ from the CPU's", what, differ, L * N_TOK);
        if (getenv("LLMSCOPE_TEST_VERBOSE"))
            fprintf(stderr, "  %s: logits %g of range %g, attention %g, choices differing %d\n", what, el,
                    (double)(hi - lo), ea, differ);
    }
    /* greedy decoding on both */
    int32_t seq[N_TOK + GREEDY_N];
    memcpy(seq, PROMPT, sizeof PROMPT);
    float *lc = malloc((size_t)V * sizeof *lc), *lg = malloc((size_t)V * sizeof *lg);
    for (int s = 0; cpu && gpu && s < GREEDY_N; s++) {
        const int pos = N_TOK + s - 1;
        engine_batch bc = {.tokens = seq + pos, .n_tokens = 1, .pos = pos, .logits = lc}, bg = bc;
        bg.logits = lg;
        if (engine_eval(cpu, &bc, err, sizeof err) || engine_eval(gpu, &bg, err, sizeof err)) {
            CHECKF(0, "%s: decoding: %s", what, err);
            break;
        }
        int best = 0, second = -1, gbest = 0;
        for (int v = 1; v < V; v++) {
            if (lc[v] > lc[best]) second = best, best = v;
            else if (second < 0 || lc[v] > lc[second]) second = v;
            if (lg[v] > lg[gbest]) gbest = v;
        }
        if (gbest != best) {
            CHECKF(lc[best] - lc[second] < 1e-3f, "%s: greedy step %d: Vulkan %d, CPU %d (margin %g)", what, s, gbest,
                   best, lc[best] - lc[second]);
            break; /* a near tie: the two continuations may part here */
        }
        seq[N_TOK + s] = best;
    }
    free(lc), free(lg);
    if (gpu) CHECKF(engine_vulkan_validation_errors(gpu) == 0, "%d Vulkan validation errors", engine_vulkan_validation_errors(gpu));
    outputs_free(&a), outputs_free(&b);
    engine_destroy(cpu);
    engine_destroy(gpu);
    model_free(&m);
}

/* Decoding one token at a time on Vulkan, the captured routing of every layer against
 * the recomputation from its input (moe_check_decoding). */
static void routing_on(const char *path, const char *what) {
    model m;
    char err[512];
    if (model_load(&m, path, err, sizeof err)) {
        CHECKF(0, "%s", err);
        return;
    }
    engine *gpu = engine_vulkan_create(&m, 64, -1, true, err, sizeof err);
    CHECKF(gpu, "%s", err);
    if (gpu) {
        const int bad = moe_check_decoding(&m, gpu, PROMPT, N_TOK, what, NULL);
        CHECKF(bad == 0, "%s: %d routing differences", what, bad);
        CHECKF(engine_vulkan_validation_errors(gpu) == 0, "%d Vulkan validation errors", engine_vulkan_validation_errors(gpu));
    }
    engine_destroy(gpu);
    model_free(&m);
}

static void synth_case(const char *type, bool routing) {
    if (!test_vulkan_ready()) return;
    char path[] = "/tmp/llmscope-vkmoe-XXXXXX";
    if (!moe_synth_file(path, type)) return;
    char what[64];
    snprintf(what, sizeof what, "qwen3moe-tiny %s", type);
    if (routing) routing_on(path, what);
    else agree_on(path, what);
    unlink(path);
}

static void qwen3moe_f32_agrees(void) { synth_case("f32", false); }
static void qwen3moe_q4_k_m_agrees(void) { synth_case("q4_k_m", false); }
static void qwen3moe_routing_is_recomputable(void) { synth_case("f32", true); }

static void gpt_oss_routing_is_recomputable(void) {
    char path[512];
    REQUIRE_SHARED(path, "models/gpt-oss-tiny-mxfp4.gguf");
    if (test_vulkan_ready()) routing_on(path, "gpt-oss-tiny");
}

int main(void) {
    RUN(qwen3moe_f32_agrees);
    RUN(qwen3moe_q4_k_m_agrees);
    RUN(qwen3moe_routing_is_recomputable);
    RUN(gpt_oss_routing_is_recomputable);
    return test_exit_code();
}
