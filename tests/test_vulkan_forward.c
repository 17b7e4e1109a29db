/* test_vulkan_forward.c — the Vulkan engine against the CPU reference engine and the
 * goldens, for every model in ../shared/models that has a golden file.
 *
 * Per model and prompt:
 *   batch   the whole prompt in one eval with every output on: logits at every position,
 *           attention rows of every layer and head, hidden states, and the GPU's own
 *           top-10 / log-sum-exp / entropy reduction. Checked against the CPU engine's
 *           reference configuration (ops.c's products, which the shaders mirror)
 *           (logits within 1e-3 of the logit range, attention within 1e-4, hidden states
 *           within 1e-4 of their largest entry) and against the golden (top-10 ids and
 *           log-sum-exp at every position, attention and hidden states for Hugging Face
 *           references).
 *   decode  the same prompt one token per eval through the KV cache: each step's logits
 *           and attention row against the CPU batch, and the GPU top-k against a sort of
 *           the CPU logits.
 *   greedy  16 greedy tokens after the prompt by decoding: identical to golden greedy16
 *           for references that our arithmetic reproduces exactly (transformers fp32,
 *           llama.cpp on f32 weights); otherwise identical to the CPU engine's greedy
 *           until a step where the CPU's two best logits are within the tolerance (a near
 *           tie that summation order may break either way).
 * Why one tolerance serves quantized weights too: both engines dequantise the same
 * blocks to the same f32 values (the shaders mirror quant.c's expressions); they differ
 * only in the order of f32 additions, an error far below 1e-3 of the range.
 * A last test splits every large weight into many buffers (LLMSCOPE_VK_MAX_BUFFER) and
 * must still agree with the CPU. Every test fails on any Vulkan validation error when
 * the validation layer is on. LLMSCOPE_TEST_VERBOSE=1 prints the measured errors. */
#include "engine.h"
#include "inspect.h"
#include "model.h"
#include "quant.h"
#include "test.h"
#include "test_vulkan.h"
#include "test_models.h"
#include "vk_engine.h"

#include <dirent.h>
#include <stdint.h>

#define GREEDY_N 16
#define TOPK 10

/* The CPU engine's reference products (ops.c): the judge. Its fast products round the
 * activations of quantised weights to 8 bits (qdot.h), which the shaders do not. */
static const cpu_engine_options CPU_REFERENCE = {.n_threads = 1, .reference = true};

static const char *current_model;
static int current_prompt;

static int verbose(void) {
    const char *v = getenv("LLMSCOPE_TEST_VERBOSE");
    return v && *v && *v != '0';
}

typedef struct fixture {
    model m;
    gguf_file g;
    bool hf;                 /* golden made by transformers (else llama.cpp) */
    bool exact;              /* our arithmetic reproduces the golden's: greedy must match */
    int T, V, L, H, D;
    const int32_t *tokens, *top10_ids, *greedy;
    const float *logsumexp, *logits_last;
    const float *attention, *hidden; /* Hugging Face references only */
    /* the 2026 goldens' softmax attention of hybrid models: [n_att][att_heads][T][T] for
     * the layers golden.attention_layers lists */
    const float *softmax_att;
    int n_att, att_heads, att_layers[64];
    double range;            /* max - min of the golden's last logits */
    engine *cpu, *gpu;
} fixture;

static const void *golden_tensor(const gguf_file *g, const char *key, uint32_t type, uint64_t n) {
    const gguf_tensor *t = gguf_find_tensor(g, key);
    if (!t) return NULL;
    bool ok = t->type == type && t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3] == n;
    CHECKF(ok, "golden tensor %s has an unexpected type or size", key);
    return ok ? t->data : NULL;
}

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

static void fixture_close(fixture *fx) {
    if (fx->gpu) {
        CHECKF(engine_vulkan_validation_errors(fx->gpu) == 0, "%d Vulkan validation errors",
               engine_vulkan_validation_errors(fx->gpu));
        CHECKF(engine_vulkan_inserted_barriers(fx->gpu) == 0, "the runtime added %ld barriers the engine's "
               "steps lacked (compute/vk_sync.h)", engine_vulkan_inserted_barriers(fx->gpu));
        engine_destroy(fx->gpu);
    }
    engine_destroy(fx->cpu);
    gguf_close(&fx->g);
    model_free(&fx->m);
}

/* golden.attention_layers (the 2026 goldens of hybrid models): the softmax layers whose
 * attention the golden holds, all with the same heads. */
static bool read_softmax_layers(fixture *fx) {
    const gguf_kv *kv = gguf_find(&fx->g, "golden.attention_layers");
    if (!kv) return false;
    bool ok = kv->type == GGUF_VT_ARRAY && kv->arr_len >= 1 && kv->arr_len <= 64;
    for (uint64_t i = 0; ok && i < kv->arr_len; i++) {
        int64_t l = gguf_arr_int(kv, i);
        ok = l >= 0 && l < fx->m.hp.n_layer && fx->m.desc[l].mixer == MIXER_ATTENTION &&
             (i == 0 || fx->m.desc[l].n_head == fx->att_heads);
        if (ok) fx->att_layers[i] = (int)l, fx->att_heads = fx->m.desc[l].n_head;
    }
    CHECKF(ok, "golden.attention_layers does not list softmax-attention layers of the model");
    fx->n_att = ok ? (int)kv->arr_len : 0;
    return ok;
}

static double max_abs_diff(const float *a, const float *b, size_t n);

/* The largest difference between our attention rows GA ([L][H][T][T]) and the golden's
 * softmax layers'. */
static double softmax_attention_error(const fixture *fx, const float *ga) {
    const size_t T = (size_t)fx->T;
    double worst = 0;
    for (int i = 0; fx->softmax_att && i < fx->n_att; i++)
        for (int h = 0; h < fx->att_heads; h++) {
            const float *ours = ga + ((size_t)fx->att_layers[i] * fx->H + h) * T * T;
            worst = fmax(worst, max_abs_diff(ours, fx->softmax_att + ((size_t)i * fx->att_heads + h) * T * T, T * T));
        }
    return worst;
}

/* Loads the current model and prompt and creates both engines; false after SKIP/CHECK
 * (the fixture is then closed). */
static bool fixture_open(fixture *fx) {
    memset(fx, 0, sizeof *fx);
    if (!test_vulkan_ready()) return false;
    char mpath[512], gpath[512], rel[256], err[512], key[64];
    snprintf(rel, sizeof rel, "models/%s.gguf", current_model);
    if (!test_shared_path(mpath, sizeof mpath, rel)) {
        snprintf(test_skip_reason_, sizeof test_skip_reason_, "../shared/%s not found", rel);
        test_skipped_ = 1;
        return false;
    }
    snprintf(rel, sizeof rel, "golden/%s.golden.gguf", current_model);
    if (!test_shared_path(gpath, sizeof gpath, rel)) {
        snprintf(test_skip_reason_, sizeof test_skip_reason_, "../shared/%s not found", rel);
        test_skipped_ = 1;
        return false;
    }
    if (test_skip_unimplemented(mpath)) return false;
    if (model_load(&fx->m, mpath, err, sizeof err)) {
        CHECKF(0, "model_load: %s", err);
        return false;
    }
    const char *gap = engine_vulkan_unsupported(&fx->m);
    if (gap) { /* a family whose Vulkan half is still to come: skipped by name */
        snprintf(test_skip_reason_, sizeof test_skip_reason_, "%s: not on Vulkan yet", gap);
        test_skipped_ = 1;
        model_free(&fx->m);
        return false;
    }
    if (gguf_open(&fx->g, gpath, err, sizeof err)) {
        CHECKF(0, "golden: %s", err);
        model_free(&fx->m);
        return false;
    }
    gguf_str s;
    fx->hf = gguf_get_str(&fx->g, "golden.reference", &s) && s.len >= 12 &&
             memcmp(s.ptr, "transformers", 12) == 0;
    /* exact: references that compute what we compute (f32 maths, f32 cache); ik_llama.cpp's
     * ran an f16 cache (../shared/README-2026.md), so its f32 files are not exact */
    const bool ik = gguf_get_str(&fx->g, "golden.reference", &s) && s.len >= 11 && memcmp(s.ptr, "ik_llama.cpp", 11) == 0;
    fx->exact = fx->hf || (!ik && (ends_with(current_model, "-f32") || strcmp(current_model, "stories260K") == 0));
    model_hparams *hp = &fx->m.hp;
    /* as the CPU golden test does (test_models.h) */
    if (fx->hf && ends_with(current_model, "-f16")) CHECK(test_round_rope_f16(&fx->m));
    fx->V = hp->n_vocab, fx->L = hp->n_layer, fx->H = hp->n_head, fx->D = hp->n_embd;

    const int p = current_prompt;
    snprintf(key, sizeof key, "p%d.tokens", p);
    const gguf_tensor *tt = gguf_find_tensor(&fx->g, key);
    uint64_t T = tt ? tt->ne[0] : 0;
    CHECKF(T >= 1 && T <= 1024, "golden %s missing or too long", key);
#define GT(field, suffix, type, n)                                                        \
    snprintf(key, sizeof key, "p%d." suffix, p);                                         \
    fx->field = golden_tensor(&fx->g, key, type, n)
    GT(tokens, "tokens", GGML_TYPE_I32, T);
    GT(top10_ids, "top10_ids", GGML_TYPE_I32, 10 * T);
    GT(greedy, "greedy16", GGML_TYPE_I32, GREEDY_N);
    GT(logsumexp, "logsumexp", GGML_TYPE_F32, T);
    GT(logits_last, "logits_last", GGML_TYPE_F32, (uint64_t)fx->V);
    if (fx->hf) {
        GT(attention, "attention", GGML_TYPE_F32, T * T * fx->H * fx->L);
    } else if (read_softmax_layers(fx)) {
        GT(softmax_att, "attention", GGML_TYPE_F32, T * T * (uint64_t)fx->att_heads * (uint64_t)fx->n_att);
    }
    GT(hidden, "hidden_last", GGML_TYPE_F32, (uint64_t)(fx->L + 1) * fx->D);
#undef GT
    fx->T = (int)T;
    if (!fx->tokens || !fx->top10_ids || !fx->greedy || !fx->logsumexp || !fx->logits_last ||
        (fx->hf && (!fx->attention || !fx->hidden))) {
        CHECKF(0, "golden file for %s is incomplete", current_model);
        fixture_close(fx);
        return false;
    }
    float lo = fx->logits_last[0], hi = lo;
    for (int v = 1; v < fx->V; v++) {
        lo = fx->logits_last[v] < lo ? fx->logits_last[v] : lo;
        hi = fx->logits_last[v] > hi ? fx->logits_last[v] : hi;
    }
    fx->range = (double)hi - lo;

    const int n_ctx = fx->T + GREEDY_N + 1;
    fx->cpu = engine_cpu_create_opts(&fx->m, n_ctx, &CPU_REFERENCE, err, sizeof err);
    CHECKF(fx->cpu, "engine_cpu_create: %s", err);
    if (fx->cpu) {
        fx->gpu = test_vulkan_create(&fx->m, n_ctx, -1, true, err, sizeof err);
        CHECKF(fx->gpu, "engine_vulkan_create: %s", err);
    }
    if (!fx->cpu || !fx->gpu) {
        fixture_close(fx);
        return false;
    }
    return true;
}

/* ---- helpers ------------------------------------------------------------------------ */

static double max_abs_diff(const float *a, const float *b, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (d > m || d != d) m = d != d ? INFINITY : d;
    }
    return m;
}

static double max_abs(const float *a, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fabs(a[i]) > m ? fabs(a[i]) : m;
    return m;
}

/* The K best ids of LOGITS, best first, ties to the lower id (the GPU's order). */
static void top_ids(const float *logits, int n, int k, int32_t *ids) {
    for (int j = 0; j < k; j++) ids[j] = -1;
    for (int v = 0; v < n; v++) {
        int j = k;
        while (j > 0 && (ids[j - 1] < 0 || logits[v] > logits[ids[j - 1]])) j--;
        if (j == k) continue;
        memmove(ids + j + 1, ids + j, (size_t)(k - 1 - j) * sizeof *ids);
        ids[j] = v;
    }
}

/* log-sum-exp and entropy of LOGITS in double precision. */
static void lse_entropy(const float *x, int n, double *lse, double *entropy) {
    double max = x[0], s = 0, u = 0;
    for (int i = 1; i < n; i++) max = x[i] > max ? x[i] : max;
    for (int i = 0; i < n; i++) {
        double e = exp((double)x[i] - max);
        s += e;
        u += e * ((double)x[i] - max);
    }
    *lse = max + log(s);
    *entropy = log(s) - u / s;
}

static int argmax(const float *x, int n) {
    int best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return best;
}

/* Checks the GPU's reduction of one logits row (top-k ids and values, log-sum-exp,
 * entropy) against the same quantities computed here from REF_LOGITS (the CPU's).
 * A GPU id may differ from ours only where the two logits are within TOL (a near tie). */
static void check_reduction(const char *where, const float *ref_logits, int V, const int32_t *ids,
                            const float *vals, int k, float lse, float entropy, double tol) {
    int32_t want[64];
    top_ids(ref_logits, V, k, want);
    for (int j = 0; j < k; j++) {
        bool ok = ids[j] >= 0 && ids[j] < V;
        CHECKF(ok, "%s: top-%d id %d out of range", where, j, (int)ids[j]);
        if (!ok) return;
        CHECKF(ids[j] == want[j] || fabs((double)ref_logits[ids[j]] - ref_logits[want[j]]) <= tol,
               "%s: top-%d id %d, CPU says %d", where, j, (int)ids[j], (int)want[j]);
        CHECKF(fabs((double)vals[j] - ref_logits[ids[j]]) <= tol, "%s: top-%d logit %g, CPU %g",
               where, j, vals[j], ref_logits[ids[j]]);
    }
    double l, h;
    lse_entropy(ref_logits, V, &l, &h);
    CHECKF(fabs(lse - l) <= tol, "%s: log-sum-exp %g, expected %g", where, lse, l);
    CHECKF(fabs(entropy - h) <= 1e-3 * (1 + h), "%s: entropy %g, expected %g", where, entropy, h);
}

/* ---- tests ------------------------------------------------------------------------ */

static void test_batch(void) {
    fixture fx;
    if (!fixture_open(&fx)) return;
    const int T = fx.T, V = fx.V, L = fx.L, H = fx.H, D = fx.D;
    const size_t n_att = (size_t)L * H * T * T;
    float *cl = malloc((size_t)T * V * sizeof *cl), *gl = malloc((size_t)T * V * sizeof *gl);
    float *ca = malloc(n_att * sizeof *ca), *ga = malloc(n_att * sizeof *ga);
    float *ch = malloc((size_t)(L + 1) * D * sizeof *ch), *gh = malloc((size_t)(L + 1) * D * sizeof *gh);
    int32_t *ids = malloc((size_t)T * TOPK * sizeof *ids);
    float *vals = malloc((size_t)T * TOPK * sizeof *vals), *lse = malloc((size_t)T * sizeof *lse),
          *ent = malloc((size_t)T * sizeof *ent);
    char err[512];
    engine_batch cb = {.tokens = fx.tokens, .n_tokens = T, .pos = 0, .all_positions = true,
                       .logits = cl, .attention = ca, .hidden = ch};
    engine_batch gb = {.tokens = fx.tokens, .n_tokens = T, .pos = 0, .all_positions = true,
                       .logits = gl, .attention = ga, .hidden = gh, .top_k = TOPK, .top_ids = ids,
                       .top_logits = vals, .logsumexp = lse, .entropy = ent};
    int rc = engine_eval(fx.cpu, &cb, err, sizeof err);
    CHECKF(rc == 0, "cpu eval: %s", err);
    int rg = engine_eval(fx.gpu, &gb, err, sizeof err);
    CHECKF(rg == 0, "gpu eval: %s", err);
    if (rc == 0 && rg == 0) {
        const double tol = 1e-3 * fx.range;
        double dl = max_abs_diff(gl, cl, (size_t)T * V), da = max_abs_diff(ga, ca, n_att);
        double dh = max_abs_diff(gh, ch, (size_t)(L + 1) * D), hs = max_abs(ch, (size_t)(L + 1) * D);
        CHECKF(dl <= tol, "logits differ from the CPU by %g (> %g = 1e-3 of the range)", dl, tol);
        CHECKF(da <= 1e-4, "attention differs from the CPU by %g", da);
        CHECKF(dh <= 1e-4 * hs, "hidden states differ from the CPU by %g (scale %g)", dh, hs);

        /* the GPU reduction, against the CPU's logits and against the golden */
        double lse_golden = 0, att_golden = 0, hid_golden = 0;
        int overlap_min = TOPK, top1_miss = 0;
        for (int t = 0; t < T; t++) {
            char where[64];
            snprintf(where, sizeof where, "position %d", t);
            check_reduction(where, cl + (size_t)t * V, V, ids + t * TOPK, vals + t * TOPK, TOPK,
                            lse[t], ent[t], tol);
            double d = fabs((double)lse[t] - fx.logsumexp[t]);
            lse_golden = d > lse_golden ? d : lse_golden;
            int overlap = 0;
            for (int a = 0; a < TOPK; a++)
                for (int b = 0; b < TOPK; b++) overlap += ids[t * TOPK + a] == fx.top10_ids[t * 10 + b];
            overlap_min = overlap < overlap_min ? overlap : overlap_min;
            top1_miss += ids[t * TOPK] != fx.top10_ids[t * 10];
        }
        double last_golden = max_abs_diff(gl + (size_t)(T - 1) * V, fx.logits_last, (size_t)V);
        if (fx.hf) {
            att_golden = max_abs_diff(ga, fx.attention, n_att);
            hid_golden = max_abs_diff(gh, fx.hidden, (size_t)(L + 1) * D);
        }
        /* ik_llama.cpp's softmax layers (../shared/README-2026.md) */
        if (fx.softmax_att) {
            att_golden = softmax_attention_error(&fx, ga);
            const double att_tol = test_golden_softmax_attention_tol(current_model);
            CHECKF(att_golden <= att_tol, "softmax layers' attention differs from the golden by %g (> %g)", att_golden,
                   att_tol);
        }
        if (verbose())
            fprintf(stderr, "  %s p%d: vs CPU logits %.3g (range %.3g) attention %.3g hidden %.3g; "
                    "vs golden lse %.3g last logits %.3g attention %.3g hidden %.3g top-10 overlap >= %d\n",
                    current_model, current_prompt, dl, fx.range, da, dh, lse_golden, last_golden,
                    att_golden, hid_golden, overlap_min);
        /* Against the golden: exact references within 1e-3 of the range; llama.cpp's
         * quantized-activation products (see test_golden_cpu.c) within 5e-2 of it and at
         * least 9 of 10 top ids shared (8 for IQ4_XS, whose crowded 9th to 11th logits
         * test_golden_cpu.c measures). */
        double gtol = (fx.exact ? 1e-3 : 5e-2) * fx.range;
        const int min_overlap = fx.exact ? 10 : ends_with(current_model, "-iq4_xs") ? 8 : 9;
        CHECKF(lse_golden <= gtol, "log-sum-exp differs from the golden by %g (> %g)", lse_golden, gtol);
        CHECKF(last_golden <= gtol, "last logits differ from the golden by %g (> %g)", last_golden, gtol);
        CHECKF(overlap_min >= min_overlap, "top-10 shares only %d ids with the golden", overlap_min);
        if (fx.exact) CHECKF(top1_miss == 0, "top-1 differs from the golden at %d positions", top1_miss);
        if (fx.hf) {
            CHECKF(att_golden <= 1e-4, "attention differs from the golden by %g", att_golden);
            CHECKF(hid_golden <= 1e-4 * max_abs(fx.hidden, (size_t)(L + 1) * D),
                   "hidden states differ from the golden by %g", hid_golden);
        }
    }
    free(cl), free(gl), free(ca), free(ga), free(ch), free(gh), free(ids), free(vals), free(lse), free(ent);
    fixture_close(&fx);
}

static void test_decode(void) {
    fixture fx;
    if (!fixture_open(&fx)) return;
    const int T = fx.T, V = fx.V, L = fx.L, H = fx.H;
    const size_t n_att = (size_t)L * H * T * T;
    float *cl = malloc((size_t)T * V * sizeof *cl), *ca = malloc(n_att * sizeof *ca);
    float *gl = malloc((size_t)V * sizeof *gl), *ga = malloc((size_t)L * H * T * sizeof *ga);
    char err[512];
    engine_batch cb = {.tokens = fx.tokens, .n_tokens = T, .all_positions = true, .logits = cl, .attention = ca};
    int rc = engine_eval(fx.cpu, &cb, err, sizeof err);
    CHECKF(rc == 0, "cpu eval: %s", err);
    double dl = 0, da = 0, tol = 1e-3 * fx.range;
    for (int t = 0; rc == 0 && t < T; t++) {
        int32_t ids[TOPK];
        float vals[TOPK], lse, ent;
        engine_batch gb = {.tokens = fx.tokens + t, .n_tokens = 1, .pos = t, .logits = gl,
                           .attention = ga, .top_k = TOPK, .top_ids = ids, .top_logits = vals,
                           .logsumexp = &lse, .entropy = &ent};
        if (engine_eval(fx.gpu, &gb, err, sizeof err)) {
            CHECKF(0, "gpu eval at %d: %s", t, err);
            break;
        }
        double d = max_abs_diff(gl, cl + (size_t)t * V, (size_t)V);
        dl = d > dl ? d : dl;
        for (int lh = 0; lh < L * H; lh++) { /* the decode row has t+1 entries */
            d = max_abs_diff(ga + (size_t)lh * (t + 1), ca + ((size_t)lh * T + t) * T, (size_t)t + 1);
            da = d > da ? d : da;
        }
        char where[64];
        snprintf(where, sizeof where, "decode step %d", t);
        check_reduction(where, cl + (size_t)t * V, V, ids, vals, TOPK, lse, ent, tol);
    }
    if (verbose())
        fprintf(stderr, "  %s p%d decode: vs CPU logits %.3g attention %.3g\n", current_model,
                current_prompt, dl, da);
    /* steps 2.. asked for what step 1 did: they ran from the recording made meanwhile */
    CHECKF(T < 3 || engine_vulkan_prerecorded_steps(fx.gpu) >= T - 2, "only %ld of %d decode steps were prerecorded",
           engine_vulkan_prerecorded_steps(fx.gpu), T - 1);
    CHECKF(dl <= tol, "decoded logits differ from the CPU batch by %g (> %g)", dl, tol);
    CHECKF(da <= 1e-4, "decoded attention differs from the CPU batch by %g", da);
    free(cl), free(ca), free(gl), free(ga);
    fixture_close(&fx);
}

/* Greedy continuation by decoding on engine E; LOGITS_AT (may be NULL) receives each
 * step's logits [GREEDY_N][V]. Returns 0 or -1. */
static int greedy(fixture *fx, engine *e, int32_t *out, float *logits_at) {
    char err[512];
    float *logits = malloc((size_t)fx->V * sizeof *logits);
    engine_batch b = {.tokens = fx->tokens, .n_tokens = fx->T, .pos = 0, .logits = logits};
    int rc = engine_eval(e, &b, err, sizeof err);
    for (int i = 0; rc == 0 && i < GREEDY_N; i++) {
        if (logits_at) memcpy(logits_at + (size_t)i * fx->V, logits, (size_t)fx->V * sizeof *logits);
        out[i] = argmax(logits, fx->V);
        engine_batch d = {.tokens = &out[i], .n_tokens = 1, .pos = fx->T + i, .logits = logits};
        if (i + 1 < GREEDY_N) rc = engine_eval(e, &d, err, sizeof err);
    }
    CHECKF(rc == 0, "%s eval: %s", e->backend, err);
    free(logits);
    return rc;
}

static void test_greedy(void) {
    fixture fx;
    if (!fixture_open(&fx)) return;
    int32_t gpu[GREEDY_N], cpu[GREEDY_N];
    float *cpu_logits = malloc((size_t)GREEDY_N * fx.V * sizeof *cpu_logits);
    if (greedy(&fx, fx.gpu, gpu, NULL) == 0 && greedy(&fx, fx.cpu, cpu, cpu_logits) == 0) {
        if (fx.exact) {
            for (int i = 0; i < GREEDY_N; i++)
                CHECKF(gpu[i] == fx.greedy[i], "greedy token %d: %d, golden %d", i, (int)gpu[i],
                       (int)fx.greedy[i]);
        } else {
            /* agree with the CPU up to the first near tie, after which both are right */
            int i = 0;
            while (i < GREEDY_N && gpu[i] == cpu[i]) i++;
            if (i < GREEDY_N) {
                const float *l = cpu_logits + (size_t)i * fx.V;
                double gap = fabs((double)l[gpu[i]] - l[cpu[i]]);
                CHECKF(gap <= 1e-3 * fx.range,
                       "greedy token %d: GPU %d, CPU %d, whose logits differ by %g (not a near tie)",
                       i, (int)gpu[i], (int)cpu[i], gap);
            }
            if (verbose()) fprintf(stderr, "  %s p%d greedy: %d of %d tokens as the CPU\n",
                                   current_model, current_prompt, i, GREEDY_N);
        }
    }
    free(cpu_logits);
    fixture_close(&fx);
}

/* Every weight larger than 256 KiB split into many buffers (and micro-batches of one
 * token, since the logits buffer must fit too): the results must not change. */
static void test_split_weights(void) {
    fixture fx;
    if (!fixture_open(&fx)) return;
    engine_destroy(fx.gpu);
    setenv("LLMSCOPE_VK_MAX_BUFFER", "262144", 1);
    char err[512];
    fx.gpu = test_vulkan_create(&fx.m, fx.T + 1, -1, true, err, sizeof err);
    unsetenv("LLMSCOPE_VK_MAX_BUFFER");
    CHECKF(fx.gpu, "engine_vulkan_create with 256 KiB buffers: %s", err);
    const int T = fx.T, V = fx.V;
    const size_t n_att = (size_t)fx.L * fx.H * T * T;
    float *cl = malloc((size_t)T * V * sizeof *cl), *gl = malloc((size_t)T * V * sizeof *gl);
    float *ca = malloc(n_att * sizeof *ca), *ga = malloc(n_att * sizeof *ga);
    engine_batch cb = {.tokens = fx.tokens, .n_tokens = T, .all_positions = true, .logits = cl, .attention = ca};
    engine_batch gb = cb;
    gb.logits = gl;
    gb.attention = ga;
    if (fx.gpu && engine_eval(fx.cpu, &cb, err, sizeof err) == 0) {
        CHECKF(engine_eval(fx.gpu, &gb, err, sizeof err) == 0, "gpu eval: %s", err);
        double dl = max_abs_diff(gl, cl, (size_t)T * V), da = max_abs_diff(ga, ca, n_att);
        CHECKF(dl <= 1e-3 * fx.range, "split weights: logits differ from the CPU by %g", dl);
        CHECKF(da <= 1e-4, "split weights: attention differs from the CPU by %g", da);
    }
    free(cl), free(gl), free(ca), free(ga);
    fixture_close(&fx);
}

/* A long random prompt (longer than a tile of the matrix kernel, several of the
 * attention kernel's key chunks), evaluated by the GPU in two evals (the second at a
 * non-zero position), then a few decode steps deep in the context: logits, every
 * attention row and the hidden states against the CPU engine's single batch. */
#define LONG_T 300
#define LONG_DECODE 3
static void test_long(void) {
    fixture fx;
    if (!fixture_open(&fx)) return;
    engine_destroy(fx.gpu);
    engine_destroy(fx.cpu);
    fx.gpu = NULL;
    const int T = LONG_T + LONG_DECODE, V = fx.V, L = fx.L, H = fx.H, D = fx.D;
    char err[512];
    fx.cpu = engine_cpu_create_opts(&fx.m, T, &CPU_REFERENCE, err, sizeof err);
    CHECKF(fx.cpu, "engine_cpu_create: %s", err);
    if (fx.cpu) {
        fx.gpu = test_vulkan_create(&fx.m, T, -1, true, err, sizeof err);
        CHECKF(fx.gpu, "engine_vulkan_create: %s", err);
    }
    if (!fx.cpu || !fx.gpu) {
        fixture_close(&fx);
        return;
    }
    int32_t tokens[LONG_T + LONG_DECODE];
    unsigned long long rng = 0x2545f4914f6cdd1dull;
    for (int i = 0; i < T; i++) {
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        tokens[i] = (int32_t)((rng >> 33) % (unsigned long long)V);
    }
    const size_t n_att = (size_t)L * H * T * T;
    float *cl = malloc((size_t)T * V * sizeof *cl), *ca = malloc(n_att * sizeof *ca);
    float *ch = malloc((size_t)(L + 1) * D * sizeof *ch), *gh = malloc((size_t)(L + 1) * D * sizeof *gh);
    float *gl = malloc((size_t)LONG_T * V * sizeof *gl), *ga = malloc(n_att * sizeof *ga);
    engine_batch cb = {.tokens = tokens, .n_tokens = T, .all_positions = true, .logits = cl, .attention = ca};
    int rc = engine_eval(fx.cpu, &cb, err, sizeof err);
    CHECKF(rc == 0, "cpu eval: %s", err);
    /* the CPU's hidden states after the prompt, for the GPU's second half */
    engine_batch ch_b = {.tokens = tokens, .n_tokens = LONG_T, .hidden = ch};
    if (rc == 0) rc = engine_eval(fx.cpu, &ch_b, err, sizeof err);
    double range = 0;
    if (rc == 0) {
        const float *last = cl + (size_t)(T - 1) * V;
        float lo = last[0], hi = last[0];
        for (int v = 1; v < V; v++) lo = last[v] < lo ? last[v] : lo, hi = last[v] > hi ? last[v] : hi;
        range = (double)hi - lo;
    }
    const int half = LONG_T / 2;
    double dl = 0, da = 0, dh = 0;
    for (int part = 0; rc == 0 && part < 2; part++) {
        const int p0 = part ? half : 0, n = part ? LONG_T - half : half;
        engine_batch gb = {.tokens = tokens + p0, .n_tokens = n, .pos = p0, .all_positions = true,
                           .logits = gl, .attention = ga, .hidden = part ? gh : NULL};
        if (engine_eval(fx.gpu, &gb, err, sizeof err)) {
            CHECKF(0, "gpu eval of positions %d..%d: %s", p0, p0 + n - 1, err);
            rc = -1;
            break;
        }
        double d = max_abs_diff(gl, cl + (size_t)p0 * V, (size_t)n * V);
        dl = d > dl ? d : dl;
        /* GPU rows: [layer][head][n][p0 + n]; CPU rows: [layer][head][T][T] */
        for (int lh = 0; lh < L * H; lh++)
            for (int t = 0; t < n; t++) {
                d = max_abs_diff(ga + ((size_t)lh * n + t) * (p0 + n), ca + ((size_t)lh * T + p0 + t) * T,
                                 (size_t)(p0 + n));
                da = d > da ? d : da;
            }
        if (part) dh = max_abs_diff(gh, ch, (size_t)(L + 1) * D);
    }
    for (int i = 0; rc == 0 && i < LONG_DECODE; i++) {
        const int pos = LONG_T + i;
        int32_t ids[TOPK];
        float vals[TOPK], lse, ent;
        engine_batch gb = {.tokens = tokens + pos, .n_tokens = 1, .pos = pos, .logits = gl, .attention = ga,
                           .top_k = TOPK, .top_ids = ids, .top_logits = vals, .logsumexp = &lse, .entropy = &ent};
        if (engine_eval(fx.gpu, &gb, err, sizeof err)) {
            CHECKF(0, "gpu decode at %d: %s", pos, err);
            break;
        }
        double d = max_abs_diff(gl, cl + (size_t)pos * V, (size_t)V);
        dl = d > dl ? d : dl;
        for (int lh = 0; lh < L * H; lh++) {
            d = max_abs_diff(ga + (size_t)lh * (pos + 1), ca + ((size_t)lh * T + pos) * T, (size_t)pos + 1);
            da = d > da ? d : da;
        }
        char where[64];
        snprintf(where, sizeof where, "decode at %d", pos);
        check_reduction(where, cl + (size_t)pos * V, V, ids, vals, TOPK, lse, ent, 1e-3 * range);
    }
    double hs = max_abs(ch, (size_t)(L + 1) * D);
    if (verbose())
        fprintf(stderr, "  %s long: vs CPU logits %.3g (range %.3g) attention %.3g hidden %.3g (scale %.3g)\n",
                current_model, dl, range, da, dh, hs);
    CHECKF(dl <= 1e-3 * range, "long prompt: logits differ from the CPU by %g (range %g)", dl, range);
    /* Rounding in a score grows with its size: a rope magnitude (Phi-3's LongRoPE: sqrt 2 on
     * both q and k) multiplies every score, so it multiplies the bound too. */
    const double mag = fx.m.n_ropes ? (double)fx.m.ropes[0].attn_factor * fx.m.ropes[0].attn_factor : 1.0;
    CHECKF(da <= 1e-4 * fmax(1.0, mag), "long prompt: attention differs from the CPU by %g", da);
    CHECKF(dh <= 1e-4 * hs, "long prompt: hidden states differ from the CPU by %g (scale %g)", dh, hs);
    free(cl), free(ca), free(ch), free(gh), free(gl), free(ga);
    fixture_close(&fx);
}

/* The GPU logit lens (engine_batch.lens_*) against inspect_lens_entry, the CPU reference,
 * run on the CPU engine's own hidden states of the same token: for the last token of the
 * prompt evaluated as a batch, and again as a decode step (the fused path), over all but
 * the last 3 ids (the valid-vocabulary mask). Candidates: the top ids of the CPU's final
 * logits (a GPU id may differ only in a near tie); candidate logits and log-sum-exp
 * within 1e-3 of each entry's logit range; the argmax the same up to a near tie; each
 * candidate's rank off by no more than the ids whose logits are within that tolerance of
 * its own. Without lens_full only the candidates' part is written. */
static void check_lens_entry(const fixture *fx, const float *cpu_hidden, int i, int n_valid, const int32_t *ids,
                             int K, const float *logits, const int32_t *top_id, const float *top_logit,
                             const float *lse, const int32_t *ranks, const char *where) {
    const int V = fx->V;
    float *scratch = malloc((size_t)V * sizeof *scratch), *all = malloc((size_t)V * sizeof *all);
    inspect_lens_logits(&fx->m, cpu_hidden, i, all);
    float lo = all[0], hi = all[0];
    for (int v = 1; v < n_valid; v++) lo = all[v] < lo ? all[v] : lo, hi = all[v] > hi ? all[v] : hi;
    const double tol = 1e-3 * ((double)hi - lo);
    for (int j = 0; j < K; j++) {
        lens_layer ref;
        inspect_lens_entry(&fx->m, cpu_hidden, i, n_valid, ids[j], ids, K, scratch, &ref);
        CHECKF(fabs((double)logits[j] - ref.cand_logit[j]) <= tol, "%s entry %d: candidate %d logit %g, CPU %g",
               where, i, (int)ids[j], logits[j], ref.cand_logit[j]);
        if (!ranks) continue;
        int near = 0; /* ids whose order against this candidate rounding may flip */
        for (int v = 0; v < n_valid; v++) near += v != ids[j] && fabs((double)all[v] - all[ids[j]]) <= tol;
        CHECKF(abs(ranks[j] - ref.chosen_rank) <= near, "%s entry %d: candidate %d rank %d, CPU %d (%d near ties)",
               where, i, (int)ids[j], (int)ranks[j], ref.chosen_rank, near);
        if (j > 0) continue;
        CHECKF(fabs((double)*lse - ref.logsumexp) <= tol, "%s entry %d: log-sum-exp %g, CPU %g", where, i, *lse,
               ref.logsumexp);
        CHECKF(*top_id >= 0 && *top_id < n_valid &&
                   (*top_id == ref.top_id || fabs((double)all[*top_id] - ref.top_logit) <= tol),
               "%s entry %d: argmax %d, CPU %d", where, i, (int)*top_id, (int)ref.top_id);
        CHECKF(fabs((double)*top_logit - ref.top_logit) <= tol, "%s entry %d: top logit %g, CPU %g", where, i,
               *top_logit, ref.top_logit);
    }
    free(scratch), free(all);
}

static void test_lens(void) {
    fixture fx;
    if (!fixture_open(&fx)) return;
    const int T = fx.T, V = fx.V, L = fx.L, D = fx.D, E = L + 1, K = INSPECT_LENS_K, n_valid = V - 3;
    char err[512];
    float *ch = malloc((size_t)E * D * sizeof *ch), *cl = malloc((size_t)V * sizeof *cl);
    engine_batch cb = {.tokens = fx.tokens, .n_tokens = T, .logits = cl, .hidden = ch};
    int rc = engine_eval(fx.cpu, &cb, err, sizeof err);
    CHECKF(rc == 0, "cpu eval: %s", err);
    int32_t want[ENGINE_LENS_MAX];
    for (int v = n_valid; v < V; v++) cl[v] = -INFINITY;
    top_ids(cl, V, K, want);
    for (int pass = 0; rc == 0 && pass < 3; pass++) {
        /* 0: the prompt as one batch, full lens; 1: its last token as a decode step, full
         * lens; 2: the same decode step, candidates only */
        const bool decode = pass > 0, full = pass < 2;
        int32_t ids[ENGINE_LENS_MAX], top[64], ranks[64 * ENGINE_LENS_MAX];
        float logits[64 * ENGINE_LENS_MAX], top_logits[64], lse[64];
        for (int i = 0; i < 64; i++) top[i] = -7, lse[i] = -7.0f;
        if (E > 64) { CHECKF(0, "too many layers for this test"); break; }
        engine_batch gb = {.tokens = fx.tokens, .n_tokens = T, .lens_k = K, .lens_n_valid = n_valid,
                           .lens_full = full, .lens_ids = ids, .lens_logits = logits, .lens_top_ids = top,
                           .lens_top_logits = top_logits, .lens_logsumexp = lse, .lens_ranks = ranks};
        if (decode) {
            engine_batch pre = {.tokens = fx.tokens, .n_tokens = T - 1};
            if (T > 1 && engine_eval(fx.gpu, &pre, err, sizeof err)) {
                CHECKF(0, "gpu eval: %s", err);
                break;
            }
            gb.tokens = fx.tokens + T - 1;
            gb.n_tokens = 1;
            gb.pos = T - 1;
        }
        if (engine_eval(fx.gpu, &gb, err, sizeof err)) {
            CHECKF(0, "gpu eval with the lens: %s", err);
            break;
        }
        const char *where = pass == 0 ? "batch" : pass == 1 ? "decode" : "decode, candidates only";
        for (int j = 0; j < K; j++)
            CHECKF(ids[j] == want[j] || (ids[j] >= 0 && ids[j] < n_valid &&
                                         fabs((double)cl[ids[j]] - cl[want[j]]) <= 1e-3 * fx.range),
                   "%s: candidate %d is %d, CPU says %d", where, j, (int)ids[j], (int)want[j]);
        for (int i = 0; i < E; i++)
            check_lens_entry(&fx, ch, i, n_valid, ids, K, logits + (size_t)i * K, &top[i], &top_logits[i], &lse[i],
                             full ? ranks + (size_t)i * K : NULL, where);
        if (!full) CHECKF(top[0] == -7 && lse[0] == -7.0f, "%s: the full lens's outputs were written", where);
    }
    /* out-of-range requests are refused */
    int32_t ids[ENGINE_LENS_MAX];
    float logits[ENGINE_LENS_MAX * 64];
    engine_batch bad = {.tokens = fx.tokens, .n_tokens = 1, .lens_k = ENGINE_LENS_MAX + 1, .lens_ids = ids,
                        .lens_logits = logits};
    CHECK(engine_eval(fx.gpu, &bad, err, sizeof err) == -1 && strstr(err, "logit lens"));
    free(ch), free(cl);
    fixture_close(&fx);
}

/* The logit lens of hidden states handed in (engine_lens_query, what the why card asks for
 * on any earlier token), through inspect_logit_lens_on on the GPU engine, against
 * inspect_logit_lens on the CPU, from the CPU engine's hidden states of the prompt's last
 * token (last entry normalised, as a step record holds them). Twice: the chosen token the
 * final argmax (among the candidates), and a low-ranked one (an extra candidate). Same
 * tolerances as test_lens: logits and log-sum-exp within 1e-3 of each entry's logit range,
 * ids and ranks equal up to ids within that tolerance of each other. */
static void test_lens_of_hidden(void) {
    fixture fx;
    if (!fixture_open(&fx)) return;
    const int V = fx.V, L = fx.L, D = fx.D, E = L + 1, n_valid = V - 3;
    char err[512];
    float *ch = malloc((size_t)E * D * sizeof *ch), *all = malloc((size_t)V * sizeof *all),
          *fin = malloc((size_t)V * sizeof *fin);
    engine_batch cb = {.tokens = fx.tokens, .n_tokens = fx.T, .hidden = ch};
    CHECKF(engine_eval(fx.cpu, &cb, err, sizeof err) == 0, "cpu eval: %s", err);
    inspect_lens_logits(&fx.m, ch, E - 1, fin); /* the last entry: where the candidates come from */
    int32_t last_top = 0, low = 0;
    float flo = fin[0], fhi = fin[0];
    for (int v = 1; v < n_valid; v++) {
        if (fin[v] > fin[last_top]) last_top = v;
        if (fin[v] < fin[low]) low = v;
        flo = fin[v] < flo ? fin[v] : flo, fhi = fin[v] > fhi ? fin[v] : fhi;
    }
    CHECK(engine_has_lens(fx.gpu) && !engine_has_lens(fx.cpu));
    const int32_t chosen_ids[2] = {last_top, low};
    for (int c = 0; c < 2; c++) {
        const int32_t chosen = chosen_ids[c];
        logit_lens ref, got;
        if (inspect_logit_lens(&fx.m, ch, n_valid, chosen, &ref, err, sizeof err) < 0) {
            CHECKF(0, "cpu lens: %s", err);
            break;
        }
        if (inspect_logit_lens_on(fx.gpu, &fx.m, ch, n_valid, chosen, &got, err, sizeof err) < 0) {
            CHECKF(0, "gpu lens: %s", err);
            logit_lens_free(&ref);
            break;
        }
        const char *where = c == 0 ? "chosen = final argmax" : "chosen = lowest-ranked";
        CHECKF(got.n_entries == E && got.chosen == chosen && got.n_cand == ref.n_cand, "%s: %d entries, %d candidates "
               "(CPU %d)", where, got.n_entries, got.n_cand, ref.n_cand);
        bool tops_differ = false;
        for (int i = 0; i < E && got.n_entries == E && got.n_cand == ref.n_cand; i++) {
            inspect_lens_logits(&fx.m, ch, i, all);
            float lo = all[0], hi = all[0];
            for (int v = 1; v < n_valid; v++) lo = all[v] < lo ? all[v] : lo, hi = all[v] > hi ? all[v] : hi;
            const double tol = 1e-3 * ((double)hi - lo);
            const lens_layer *g = &got.entry[i], *r = &ref.entry[i];
            for (int j = 0; j < got.n_cand; j++) {
                int32_t id = got.cand_ids[j];
                if (i == 0)
                    CHECKF(id == ref.cand_ids[j] || (id >= 0 && id < n_valid &&
                                                     fabs((double)fin[id] - fin[ref.cand_ids[j]]) <= 1e-3 * (fhi - flo)),
                           "%s: candidate %d is %d, CPU %d", where, j, (int)id, (int)ref.cand_ids[j]);
                if (id >= 0 && id < n_valid)
                    CHECKF(fabs((double)g->cand_logit[j] - all[id]) <= tol, "%s entry %d: candidate %d logit %g, CPU %g",
                           where, i, (int)id, g->cand_logit[j], all[id]);
            }
            CHECKF(fabs((double)g->logsumexp - r->logsumexp) <= tol, "%s entry %d: log-sum-exp %g, CPU %g", where, i,
                   g->logsumexp, r->logsumexp);
            CHECKF(fabs((double)g->chosen_logit - r->chosen_logit) <= tol, "%s entry %d: chosen logit %g, CPU %g",
                   where, i, g->chosen_logit, r->chosen_logit);
            CHECKF(g->top_id >= 0 && g->top_id < n_valid &&
                       (g->top_id == r->top_id || fabs((double)all[g->top_id] - r->top_logit) <= tol),
                   "%s entry %d: argmax %d, CPU %d", where, i, (int)g->top_id, (int)r->top_id);
            tops_differ |= g->top_id != r->top_id;
            int near = 0;
            for (int v = 0; v < n_valid; v++) near += v != chosen && fabs((double)all[v] - all[chosen]) <= tol;
            CHECKF(abs(g->chosen_rank - r->chosen_rank) <= near, "%s entry %d: chosen rank %d, CPU %d (%d near ties)",
                   where, i, g->chosen_rank, r->chosen_rank, near);
            CHECKF(fabs((double)g->chosen_prob - r->chosen_prob) <= 2 * tol * (r->chosen_prob + 1e-6) + 1e-6,
                   "%s entry %d: chosen probability %g, CPU %g", where, i, g->chosen_prob, r->chosen_prob);
        }
        CHECKF(tops_differ || (got.commit_depth == ref.commit_depth && got.top_commit_depth == ref.top_commit_depth),
               "%s: commit depth %d/%d, CPU %d/%d", where, got.commit_depth, got.top_commit_depth, ref.commit_depth,
               ref.top_commit_depth);
        logit_lens_free(&ref);
        logit_lens_free(&got);
    }
    /* out-of-range requests are refused with one line */
    int32_t ids[ENGINE_LENS_MAX], tops[64], ranks[64 * ENGINE_LENS_MAX];
    float logits[64 * ENGINE_LENS_MAX], tl[64], lse[64];
    engine_lens_query bad = {.hidden = ch, .k = ENGINE_LENS_MAX, .extra = -1, .cand_ids = ids, .cand_logits = logits,
                             .ranks = ranks, .top_ids = tops, .top_logits = tl, .logsumexp = lse};
    CHECK(engine_lens(fx.gpu, &bad, err, sizeof err) == -1 && strstr(err, "logit lens"));
    bad.k = 4;
    bad.extra = V;
    CHECK(engine_lens(fx.gpu, &bad, err, sizeof err) == -1 && strstr(err, "logit lens"));
    free(ch), free(all), free(fin);
    fixture_close(&fx);
}

/* Bad requests are refused with one line, and the engine stays usable. */
static void test_errors(void) {
    fixture fx;
    if (!fixture_open(&fx)) return;
    char err[512] = "";
    float *logits = malloc((size_t)fx.V * sizeof *logits);
    int32_t bad = fx.V;
    engine_batch b = {.tokens = &bad, .n_tokens = 1, .logits = logits};
    CHECK(engine_eval(fx.gpu, &b, err, sizeof err) == -1 && strstr(err, "out of range"));
    b.tokens = fx.tokens;
    b.pos = fx.gpu->n_ctx;
    CHECK(engine_eval(fx.gpu, &b, err, sizeof err) == -1 && strstr(err, "context"));
    b.pos = 0;
    b.top_k = 65;
    CHECK(engine_eval(fx.gpu, &b, err, sizeof err) == -1 && strstr(err, "top_k"));
    b.top_k = 0;
    CHECKF(engine_eval(fx.gpu, &b, err, sizeof err) == 0, "a good batch after bad ones: %s", err);
    CHECK(!test_vulkan_create(&fx.m, 16, 99, true, err, sizeof err) && strstr(err, "no Vulkan device 99"));
    engine *nocap = test_vulkan_create(&fx.m, 16, -1, false, err, sizeof err);
    CHECKF(nocap, "engine without capture: %s", err);
    if (nocap) {
        float att[64];
        engine_batch a = {.tokens = fx.tokens, .n_tokens = 1, .attention = att};
        CHECK(engine_eval(nocap, &a, err, sizeof err) == -1 && strstr(err, "capture is off"));
        a.attention = NULL;
        a.logits = logits;
        CHECKF(engine_eval(nocap, &a, err, sizeof err) == 0, "eval without capture: %s", err);
        engine_destroy(nocap);
    }
    free(logits);
    fixture_close(&fx);
}

static void run_named(const char *model, int prompt, const char *what, void (*fn)(void)) {
    char name[160];
    snprintf(name, sizeof name, "%s %s/p%d", what, model, prompt);
    current_model = model;
    current_prompt = prompt;
    test_run_(name, fn);
}

static int by_name(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The families without a golden (test_families.c): the GPU against the CPU reference on
 * the same synthetic files, every position of a prompt past Mistral 3's original context,
 * with attention captured, then decoding token by token. */
static void synthetic_families(void) {
    if (!test_vulkan_ready()) return;
    enum { T = 40 };
    for (size_t i = 0; i < TEST_N_FAMILY_SHAPES; i++)
        for (int q = 0; q < 2; q++) {
            const synth_shape *s = &TEST_FAMILY_SHAPES[i];
            const char *type = q ? "q8_0" : "f32";
            char path[64], err[512];
            model m;
            if (!test_synth_load(s, type, path, sizeof path, &m)) continue;
            const int V = m.hp.n_vocab, LH = m.hp.n_layer * m.hp.n_head;
            engine *cpu = engine_cpu_create_opts(&m, T, &CPU_REFERENCE, err, sizeof err);
            engine *gpu = test_vulkan_create(&m, T, -1, true, err, sizeof err);
            CHECKF(cpu && gpu, "%s: engines: %s", s->name, err);
            float *cl = malloc((size_t)T * V * 4), *gl = malloc((size_t)T * V * 4);
            float *ca = malloc((size_t)LH * T * T * 4), *ga = malloc((size_t)LH * T * T * 4);
            int32_t tokens[T];
            for (int t = 0; t < T; t++) tokens[t] = (int32_t)((t * 37 + 11) % V);
            if (cpu && gpu && cl && gl && ca && ga) {
                engine_batch cb = {.tokens = tokens, .n_tokens = T, .all_positions = true, .logits = cl, .attention = ca};
                engine_batch gb = {.tokens = tokens, .n_tokens = T, .all_positions = true, .logits = gl, .attention = ga};
                if (engine_eval(cpu, &cb, err, sizeof err) || engine_eval(gpu, &gb, err, sizeof err)) {
                    CHECKF(0, "%s: eval: %s", s->name, err);
                } else {
                    double range = max_abs(cl, (size_t)T * V) * 2, dl = max_abs_diff(gl, cl, (size_t)T * V);
                    double da = max_abs_diff(ga, ca, (size_t)LH * T * T);
                    CHECKF(dl <= 1e-3 * range, "%s %s batch: logits differ from the CPU by %g", s->name, type, dl);
                    CHECKF(da <= 1e-4, "%s %s batch: attention differs from the CPU by %g", s->name, type, da);
                    /* decode, one token at a time from position 0, against the batch */
                    double dd = 0;
                    for (int t = 0; t < T; t++) {
                        engine_batch db = {.tokens = tokens + t, .n_tokens = 1, .pos = t, .logits = gl};
                        if (engine_eval(gpu, &db, err, sizeof err)) {
                            CHECKF(0, "%s: decode at %d: %s", s->name, t, err);
                            break;
                        }
                        dd = fmax(dd, max_abs_diff(gl, cl + (size_t)t * V, (size_t)V));
                    }
                    CHECKF(dd <= 1e-3 * range, "%s %s decode: logits differ from the CPU by %g", s->name, type, dd);
                }
            }
            free(cl), free(gl), free(ca), free(ga);
            engine_destroy(cpu);
            engine_destroy(gpu);
            model_free(&m);
            remove(path);
        }
}

int main(void) {
    char dir[512], *names[64];
    int n = 0;
    if (!test_shared_path(dir, sizeof dir, "models")) {
        current_model = "stories260K";
        RUN(test_batch); /* skips with the reason */
        return test_exit_code();
    }
    DIR *d = opendir(dir);
    for (struct dirent *ent; d && n < 64 && (ent = readdir(d));) {
        size_t len = strlen(ent->d_name);
        if (len > 5 && strcmp(ent->d_name + len - 5, ".gguf") == 0) names[n++] = strndup(ent->d_name, len - 5);
    }
    if (d) closedir(d);
    qsort(names, (size_t)n, sizeof *names, by_name);
    const char *only = getenv("LLMSCOPE_TEST_MODEL"); /* run one model's tests */
    for (int i = 0; i < n; i++) {
        char rel[256], path[512], err[512];
        if (only && *only && strcmp(only, names[i]) != 0) continue;
        snprintf(rel, sizeof rel, "golden/%s.golden.gguf", names[i]);
        gguf_file g;
        uint32_t prompts = 0;
        if (!test_shared_path(path, sizeof path, rel) || gguf_open(&g, path, err, sizeof err)) continue;
        gguf_get_u32(&g, "golden.prompt_count", &prompts);
        gguf_close(&g);
        for (int p = 0; p < (int)prompts && p < 8; p++) {
            run_named(names[i], p, "batch", test_batch);
            run_named(names[i], p, "decode", test_decode);
            run_named(names[i], p, "greedy", test_greedy);
        }
    }
    static const char *long_models[] = {"llama-k-tiny-q4_k_m", "llama-k-tiny-q5_k_m", "llama-k-tiny-q6_k",
                                        "llama-k-tiny-q8_0", "llama-k-tiny-q4_0", "llama-k-tiny-iq4_nl",
                                        "llama-k-tiny-iq4_xs", "llama-k-tiny-bf16",
                                        "llama-k-tiny-f16", "qwen2-tiny-f16", "qwen3-tiny-f16",
                                        "gpt2-tiny-f16", "stories260K", "gemma2-tiny-f16", "gemma3-tiny-f16",
                                        "gemma4-tiny-f16", "phi3-tiny-f16", "qwen35-tiny-f16"};
    for (size_t i = 0; i < sizeof long_models / sizeof long_models[0]; i++)
        if (!only || !*only || strcmp(only, long_models[i]) == 0) run_named(long_models[i], 0, "long", test_long);
    static const char *lens_models[] = {"llama-k-tiny-q4_k_m", "qwen2-tiny-f16", "qwen3-tiny-f16", "gpt2-tiny-f16",
                                        "stories260K", "llama-gqa-tiny-f32", "gemma2-tiny-f16", "gemma4-tiny-f16"};
    for (size_t i = 0; i < sizeof lens_models / sizeof lens_models[0]; i++)
        if (!only || !*only || strcmp(only, lens_models[i]) == 0) {
            run_named(lens_models[i], 0, "lens", test_lens);
            run_named(lens_models[i], 0, "lens of hidden states", test_lens_of_hidden);
        }
    run_named("gpt2-tiny-f16", 0, "split-weights", test_split_weights);
    run_named("llama-gqa-tiny-f32", 0, "split-weights", test_split_weights);
    run_named("qwen2-tiny-f16", 0, "errors", test_errors);
    if (!only || !*only) RUN(synthetic_families);
    for (int i = 0; i < n; i++) free(names[i]);
    return test_exit_code();
}
