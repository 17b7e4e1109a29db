/* test_moe.c — mixtures of experts on the CPU engine (model/moe.c): the captured routing
 * is a plain recomputation from each layer's input, a batch routes as token-by-token
 * decoding does, the fast engine gives the reference engine's bits, and a step reads the
 * chosen experts only (the engine's count of weight bytes its products read).
 *
 * The model is a synthetic Qwen3-MoE file written by `llmscope synth` (qwen3moe-tiny:
 * 3 layers, 8 experts, 3 chosen; no golden exists for the family), and gpt-oss-tiny from
 * ../shared when present (top-k of raw logits, softmax over the chosen, biases). */
#include "engine.h"
#include "head.h"
#include "inspect.h"
#include "routing.h"
#include "session.h"
#include "tokenizer.h"
#include "model.h"
#include "moe.h"
#include "test.h"
#include "test_models.h"
#include "test_moe_check.h"

#define N_TOK 12

static const int32_t PROMPT[N_TOK] = {257, 72, 101, 108, 108, 111, 44, 32, 119, 111, 114, 300};

/* Every position decoded one token at a time with the captures on: each layer's routing
 * against the recomputation (moe_check_decoding); the choice changes from token to token;
 * then the whole prompt in one batch routes as the decoding did. */
static void routing_of(const char *path, const char *what, int n_tok) {
    model m;
    char err[512];
    if (model_load(&m, path, err, sizeof err)) {
        CHECKF(0, "%s", err);
        return;
    }
    const model_hparams *hp = &m.hp;
    const int L = hp->n_layer, K = hp->moe.n_used, R = moe_rank_n(&hp->moe);
    engine *e = engine_cpu_create(&m, 64, err, sizeof err);
    int32_t *ranked = malloc((size_t)L * n_tok * R * sizeof *ranked), *batch_ranked = malloc((size_t)L * n_tok * R * sizeof *ranked);
    int32_t tokens[N_TOK];
    for (int t = 0; t < n_tok; t++) tokens[t] = PROMPT[t] % hp->n_vocab;
    CHECKF(e != NULL, "%s", err);
    int bad = e ? moe_check_decoding(&m, e, tokens, n_tok, what, ranked) : 0, changes = 0;
    for (int t = 1; e && t < n_tok; t++) /* layer 0's choice, step by step */
        changes += memcmp(ranked + (size_t)t * L * R, ranked + (size_t)(t - 1) * L * R, (size_t)K * sizeof *ranked) != 0;
    CHECKF(bad == 0, "%s: %d routing differences", what, bad);
    CHECKF(changes >= n_tok / 3, "%s: layer 0's choice changed only %d times in %d tokens", what, changes, n_tok);
    /* the batch's routing at every position is the decoding's */
    engine_batch b = {.tokens = tokens, .n_tokens = n_tok, .pos = 0, .all_positions = true, .route_ids = batch_ranked};
    if (e && engine_eval(e, &b, err, sizeof err) == 0) {
        int differ = 0;
        for (int t = 0; t < n_tok; t++)
            for (int l = 0; l < L; l++)
                differ += memcmp(batch_ranked + ((size_t)l * n_tok + t) * R, ranked + ((size_t)t * L + l) * R,
                                 (size_t)K * sizeof(int32_t)) != 0;
        CHECKF(differ == 0, "%s: %d (layer, position) choices differ between the batch and decoding", what, differ);
    }
    engine_destroy(e);
    free(ranked), free(batch_ranked);
    model_free(&m);
}

static void qwen3moe_routing_is_recomputable(void) {
    char path[] = "/tmp/llmscope-moe-XXXXXX";
    if (!moe_synth_file(path, "f32")) return;
    routing_of(path, "qwen3moe-tiny f32", N_TOK);
    unlink(path);
}

static void gpt_oss_routing_is_recomputable(void) {
    char path[512];
    REQUIRE_SHARED(path, "models/gpt-oss-tiny-mxfp4.gguf");
    routing_of(path, "gpt-oss-tiny", N_TOK);
}

/* Qwen3.5-MoE (../shared): the hybrid's DeltaNet layers, routing renormalised over the
 * chosen, and a shared expert beside them. */
static void qwen35moe_routing_is_recomputable(void) {
    char path[512];
    REQUIRE_SHARED(path, "models/qwen35moe-tiny-f16.gguf");
    routing_of(path, "qwen35moe-tiny", N_TOK);
}

/* The fast engine (qdot.h products, tokens grouped by expert) gives the same bits on one
 * thread and on three (rows shared out differently, experts' token groups alike), and
 * stays near the reference engine (ops.c, one thread): its q8_0 products round each
 * input to 8 bits, which moves a logit by far less than 5% of the logits' range (the
 * bound test_golden_cpu holds q4_K_M files to; the routers are f32, whose products round
 * nothing, so a routing decision moves only with the residual stream's rounding). */
static void fast_and_reference_agree(void) {
    char path[] = "/tmp/llmscope-moe-XXXXXX";
    if (!moe_synth_file(path, "q8_0")) return;
    model m;
    char err[512];
    if (model_load(&m, path, err, sizeof err) == 0) {
        const int V = m.hp.n_vocab;
        const size_t n = (size_t)N_TOK * V;
        float *out[3] = {malloc(n * sizeof(float)), malloc(n * sizeof(float)), malloc(n * sizeof(float))};
        const cpu_engine_options opts[3] = {{.n_threads = 1, .reference = true}, {.n_threads = 1}, {.n_threads = 3}};
        bool ok = out[0] && out[1] && out[2];
        for (int i = 0; ok && i < 3; i++) {
            engine *e = engine_cpu_create_opts(&m, 64, &opts[i], err, sizeof err);
            engine_batch bt = {.tokens = PROMPT, .n_tokens = N_TOK, .all_positions = true, .logits = out[i]};
            ok = e && engine_eval(e, &bt, err, sizeof err) == 0;
            CHECKF(ok, "engine %d: %s", i, err);
            engine_destroy(e);
        }
        if (ok) {
            CHECKF(memcmp(out[1], out[2], n * sizeof(float)) == 0, "one thread and three differ");
            float lo = out[0][0], hi = lo;
            double worst = 0;
            for (size_t i = 0; i < n; i++) {
                lo = fminf(lo, out[0][i]);
                hi = fmaxf(hi, out[0][i]);
                worst = fmax(worst, fabs((double)out[1][i] - out[0][i]));
            }
            CHECKF(worst <= 0.05 * (hi - lo), "fast and reference logits differ by %g (range %g)", worst,
                   (double)(hi - lo));
        }
        for (int i = 0; i < 3; i++) free(out[i]);
        model_free(&m);
    } else {
        CHECKF(0, "%s", err);
    }
    unlink(path);
}

static uint64_t bytes_of(const weight *w) { return (uint64_t)w->rows * w->row_bytes; }

/* One decoding step reads the attention, the routers and, per layer, the chosen experts'
 * rows only; a batch reads each expert its tokens chose once. The expectation is counted
 * from the model's matrices and the captured routing (no logits are asked for, so the
 * output head is not read). */
static void reads_only_chosen_experts(void) {
    char path[] = "/tmp/llmscope-moe-XXXXXX";
    if (!moe_synth_file(path, "q8_0")) return;
    model m;
    char err[512];
    if (model_load(&m, path, err, sizeof err)) {
        CHECKF(0, "%s", err);
        unlink(path);
        return;
    }
    const model_hparams *hp = &m.hp;
    const int L = hp->n_layer, E = hp->moe.n_expert, K = hp->moe.n_used, R = moe_rank_n(&hp->moe);
    uint64_t dense = 0, per_expert = 0, all_experts = 0;
    for (int l = 0; l < L; l++) {
        const layer_weights *lw = &m.layers[l];
        dense += bytes_of(&lw->wq) + bytes_of(&lw->wk) + bytes_of(&lw->wv) + bytes_of(&lw->wo) + bytes_of(&lw->router);
        per_expert = (bytes_of(&lw->gate_exps) + bytes_of(&lw->up_exps) + bytes_of(&lw->down_exps)) / (uint64_t)E;
        all_experts += per_expert * (uint64_t)E;
    }
    int32_t ranked[8 * 16 * 16];
    CHECK((size_t)L * 8 * R <= sizeof ranked / sizeof ranked[0]);
    engine *e = engine_cpu_create(&m, 64, err, sizeof err);
    for (int n = 1; e && n <= 8; n += 7) { /* a decoding step, then a batch of 8 */
        uint64_t before = engine_cpu_weight_bytes(e);
        engine_batch b = {.tokens = PROMPT, .n_tokens = n, .all_positions = true, .route_ids = ranked};
        if (engine_eval(e, &b, err, sizeof err)) {
            CHECKF(0, "%s", err);
            break;
        }
        uint64_t read = engine_cpu_weight_bytes(e) - before, expect = dense, chosen = 0;
        for (int l = 0; l < L; l++) {
            bool used[64] = {false};
            for (int t = 0; t < n; t++)
                for (int j = 0; j < K; j++) used[ranked[((size_t)l * n + t) * R + j]] = true;
            for (int x = 0; x < E; x++) chosen += used[x];
        }
        expect += chosen * per_expert;
        CHECKF(read == expect, "%d tokens: the products read %llu bytes, the chosen experts and the rest make %llu",
               n, (unsigned long long)read, (unsigned long long)expect);
        if (n == 1)
            CHECKF(read < dense + all_experts / 2, "a decoding step read %llu of the %llu bytes a dense pass would",
                   (unsigned long long)read, (unsigned long long)(dense + all_experts));
    }
    engine_destroy(e);
    model_free(&m);
    unlink(path);
}

/* head_contribution: the last layer's output taken whole pushes its own logit (before a
 * cap): the linearised norm at X is the norm itself; and pushes add up. */
static void contributions_add_up(void) {
    char path[] = "/tmp/llmscope-moe-XXXXXX";
    if (!moe_synth_file(path, "f32")) return;
    model m;
    char err[512];
    if (model_load(&m, path, err, sizeof err) == 0) {
        const int d = m.hp.n_embd, L = m.hp.n_layer, V = m.hp.n_vocab;
        float *moe_out = malloc((size_t)(L + 1) * d * sizeof *moe_out), *logits = malloc((size_t)V * sizeof *logits);
        float *half = malloc((size_t)d * sizeof *half);
        engine *e = engine_cpu_create(&m, 64, err, sizeof err);
        engine_batch b = {.tokens = PROMPT, .n_tokens = 5, .logits = logits, .moe_out = moe_out};
        if (e && engine_eval(e, &b, err, sizeof err) == 0) {
            const float *x = moe_out + (size_t)L * d;
            for (int tok = 0; tok < V; tok += 97) {
                float whole = head_contribution(&m, x, x, tok);
                CHECKF(fabsf(whole - logits[tok]) <= 1e-4f * (1 + fabsf(logits[tok])), "token %d: %g, logit %g", tok,
                       whole, logits[tok]);
                for (int i = 0; i < d; i++) half[i] = 0.5f * x[i];
                CHECKF(fabsf(2 * head_contribution(&m, x, half, tok) - whole) <= 1e-5f * (1 + fabsf(whole)),
                       "token %d: two halves do not add up", tok);
            }
        } else {
            CHECKF(0, "%s", err);
        }
        engine_destroy(e);
        free(moe_out), free(logits), free(half);
        model_free(&m);
    }
    unlink(path);
}

/* A session on a model with experts: every record with a prediction keeps the routing
 * of the pass that predicted it (the engine's, at the position before), reply tokens
 * keep the experts' outputs, and the why card of a reply token has the experts and their
 * pushes. */
static void session_keeps_routing(void) {
    char path[] = "/tmp/llmscope-moe-XXXXXX";
    if (!moe_synth_file(path, "f32")) return;
    model m;
    char err[512];
    tokenizer *tok = NULL;
    engine *e = NULL;
    session *s = NULL;
    if (model_load(&m, path, err, sizeof err) == 0 && (tok = tokenizer_load(&m.file, err, sizeof err)) &&
        (e = engine_cpu_create(&m, 128, err, sizeof err))) {
        session_config cfg = {0};
        sampler_params_default(&cfg.sampling);
        cfg.sampling.temperature = 0;
        cfg.capture_attention = true;
        s = session_create(&m, tok, e, &cfg, err, sizeof err);
    }
    CHECKF(s, "%s", err);
    const step_record *last = NULL;
    if (s && session_begin_reply(s, "hello there", err, sizeof err) == 0)
        for (int i = 0; i < 4; i++)
            if (session_next(s, &last, err, sizeof err) != 1) break;
    const size_t n = s ? session_n_records(s) : 0;
    CHECK(n > 5);
    /* the engine's routing of the same tokens, all positions at once */
    const int L = m.hp.n_layer, R = moe_rank_n(&m.hp.moe), K = m.hp.moe.n_used;
    int32_t *tokens = malloc(n * sizeof *tokens), *ranked = malloc((size_t)L * n * R * sizeof *ranked);
    engine *check = n ? engine_cpu_create(&m, 128, err, sizeof err) : NULL;
    for (size_t i = 0; i < n; i++) tokens[i] = session_record(s, i)->token;
    engine_batch b = {.tokens = tokens, .n_tokens = (int)n - 1, .all_positions = true, .route_ids = ranked};
    if (check && engine_eval(check, &b, err, sizeof err) == 0) {
        for (size_t i = 1; i < n; i++) {
            const step_record *r = session_record(s, i);
            CHECKF(r->routing != NULL, "record %zu has no routing", i);
            if (!r->routing) continue;
            for (int l = 0; l < L; l++)
                for (int j = 0; j < K; j++)
                    CHECKF(routing_id(r->routing, l, j) == ranked[((size_t)l * (n - 1) + i - 1) * R + j],
                           "record %zu layer %d slot %d: expert %d, the engine chose %d at position %zu", i, l, j,
                           routing_id(r->routing, l, j), ranked[((size_t)l * (n - 1) + i - 1) * R + j], i - 1);
            CHECKF(!r->generated || r->moe_out, "reply record %zu kept no experts' outputs", i);
        }
        inspect_view v;
        inspect_view_session(&v, s);
        why_options o;
        why_options_default(&o);
        o.push_model = &m;
        why_card w;
        if (last && inspect_why(&v, (size_t)last->pos, &o, &w, err, sizeof err) == 0) {
            CHECK(w.routing && w.expert_push);
            for (int l = 0; w.expert_push && l < L; l++)
                CHECKF(isfinite(w.expert_push[l]), "layer %d's push is %g", l, w.expert_push[l]);
            why_card_free(&w);
        } else {
            CHECKF(0, "why card: %s", err);
        }
    } else {
        CHECKF(0, "%s", err);
    }
    engine_destroy(check);
    free(tokens), free(ranked);
    session_free(s);
    engine_destroy(e);
    tokenizer_free(tok);
    model_free(&m);
    unlink(path);
}

/* A copy of the file at PATH with the 8 bytes after the first occurrence of NEEDLE (plus
 * SKIP bytes) replaced by VALUE's low BYTES bytes; false when NEEDLE is not there. */
static bool patched_copy(const char *path, const char *out, const char *needle, size_t skip, uint64_t value,
                         size_t bytes) {
    FILE *f = fopen(path, "rb");
    if (!f) return false;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc((size_t)n);
    bool ok = buf && fread(buf, 1, (size_t)n, f) == (size_t)n;
    fclose(f);
    uint8_t *at = NULL;
    for (long i = 0; ok && i + (long)strlen(needle) <= n && !at; i++)
        if (!memcmp(buf + i, needle, strlen(needle))) at = buf + i + strlen(needle) + skip;
    if (at && at + bytes <= buf + n) {
        memcpy(at, &value, bytes); /* little-endian, as GGUF */
        FILE *o = fopen(out, "wb");
        ok = o && fwrite(buf, 1, (size_t)n, o) == (size_t)n;
        if (o) fclose(o);
    } else {
        ok = false;
    }
    free(buf);
    return ok;
}

/* Hostile experts' metadata and shapes: one clear error line each, naming what is wrong. */
static void hostile_experts(void) {
    char path[] = "/tmp/llmscope-moe-XXXXXX", bad[64];
    if (!moe_synth_file(path, "f32")) return;
    snprintf(bad, sizeof bad, "%s.bad", path);
    static const struct { const char *needle; size_t skip; uint64_t value; size_t bytes; const char *want; } cases[] = {
        /* key, then its type (u32), then the value */
        {"qwen3moe.expert_used_count", 4, 9, 4, "expert_used_count' = 9 is out of range [1, 8]"},
        {"qwen3moe.expert_used_count", 4, 0, 4, "expert_used_count' = 0 is out of range"},
        {"qwen3moe.expert_count", 4, 5000, 4, "expert_count' = 5000 is out of range"},
        {"qwen3moe.expert_feed_forward_length", 4, 0, 4, "expert_feed_forward_length' = 0 is out of range"},
        /* a tensor's name, n_dims (u32), ne[0], ne[1], then ne[2]: a stack of 7, not 8 */
        {"blk.0.ffn_up_exps.weight", 4 + 16, 7, 8, "ffn_up_exps.weight' has shape [64, 32, 7, 1], expected [64, 32, 8]"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (!patched_copy(path, bad, cases[i].needle, cases[i].skip, cases[i].value, cases[i].bytes)) {
            CHECKF(0, "cannot patch %s", cases[i].needle);
            continue;
        }
        model m;
        char err[512] = "";
        int rc = model_load(&m, bad, err, sizeof err);
        CHECKF(rc != 0 && strstr(err, cases[i].want), "case %zu: %s (want '%s')", i, rc ? err : "loaded", cases[i].want);
        if (rc == 0) model_free(&m);
    }
    unlink(bad);
    unlink(path);
}

int main(void) {
    RUN(qwen3moe_routing_is_recomputable);
    RUN(gpt_oss_routing_is_recomputable);
    RUN(qwen35moe_routing_is_recomputable);
    RUN(fast_and_reference_agree);
    RUN(reads_only_chosen_experts);
    RUN(contributions_add_up);
    RUN(session_keeps_routing);
    RUN(hostile_experts);
    return test_exit_code();
}
