/* test_deltanet.c — the CPU engine on the tiny Qwen3.5 hybrid (Gated DeltaNet layers):
 * what a DeltaNet head looks at, and the recurrent state under rewinds.
 *
 * The golden tests (test_golden_cpu) check the numbers against ik_llama.cpp. Here:
 *   - the captured effective weights reconstruct every DeltaNet head's read-out
 *     (deltanet_check.h), and the rows of heads a layer lacks are zero;
 *   - evaluating at an earlier position (how sessions branch and probes fork) gives
 *     exactly, bit for bit, what a fresh engine gives for the same tokens, whether the
 *     state comes from position 0, a periodic checkpoint or a marked one: the CPU
 *     engine's results do not depend on batching, so exact equality is the right test;
 *   - a probe's continuations are the ones fresh engines sample. */
#include "deltanet_check.h"
#include "inspect.h"
#include "sampler.h"
#include "state_ckpt.h"

static void weights_reconstruct_cpu(void) {
    model m;
    if (!dn_open_model(&m)) return;
    char err[512];
    enum { T = 70 }; /* more than one chunk */
    engine *e = engine_cpu_create(&m, T, err, sizeof err);
    CHECKF(e != NULL, "%s", err);
    int32_t tokens[T];
    dn_prompt(&m, tokens, T);
    if (e) {
        int cut = 0;
        double worst = dn_check_reconstruction(e, tokens, T, 1e-6, &cut);
        if (getenv("LLMSCOPE_TEST_VERBOSE")) fprintf(stderr, "  worst relative error %g, %d rows cut\n", worst, cut);
        CHECKF(worst < 1e-4, "sum of w v differs from the read-out by %g of its scale", worst);
        /* 70 tokens are enough for some heads of this model to forget (measured: 182 of
         * 1,656 rows), so the sums above cover rows cut at the floor */
        CHECKF(cut > 0, "no row's sweep stopped at the floor");
    }
    engine_destroy(e);
    model_free(&m);
}

/* The attention layers (2 query heads) leave the rows of heads 2 and 3 zero; their own
 * rows are probabilities; the DeltaNet rows are signed. */
static void rows_by_layer_kind(void) {
    model m;
    if (!dn_open_model(&m)) return;
    char err[512];
    enum { T = 20 };
    const int L = m.hp.n_layer, H = m.hp.n_head;
    CHECK(H == 4 && m.desc[3].mixer == MIXER_ATTENTION && m.desc[3].n_head == 2 && m.desc[0].mixer == MIXER_DELTANET);
    CHECK(L == 8 && m.hp.n_layer_nextn == 1); /* block_count 9: the MTP block is not a layer */
    engine *e = engine_cpu_create(&m, T, err, sizeof err);
    float *att = malloc((size_t)L * H * T * T * sizeof *att);
    int32_t tokens[T];
    dn_prompt(&m, tokens, T);
    for (size_t i = 0; att && i < (size_t)L * H * T * T; i++) att[i] = NAN; /* everything must be written */
    engine_batch b = {.tokens = tokens, .n_tokens = T, .pos = 0, .all_positions = true, .attention = att};
    if (e && att && engine_eval(e, &b, err, sizeof err) == 0) {
        int negative = 0;
        for (int l = 0; l < L; l++)
            for (int h = 0; h < H; h++)
                for (int t = 0; t < T; t++) {
                    const float *row = att + (((size_t)l * H + h) * T + t) * T;
                    double sum = 0;
                    for (int j = 0; j < T; j++) {
                        CHECKF(isfinite(row[j]), "layer %d head %d query %d key %d not written", l, h, t, j);
                        sum += row[j];
                        negative += row[j] < 0;
                    }
                    if (h >= m.desc[l].n_head) CHECKF(sum == 0, "layer %d has no head %d, yet its row sums to %g", l, h, sum);
                    else if (m.desc[l].mixer == MIXER_ATTENTION) CHECK_NEAR(sum, 1, 1e-5);
                }
        CHECKF(negative > 0, "DeltaNet weights are signed, yet none is negative");
    } else {
        CHECKF(0, "%s", err);
    }
    free(att);
    engine_destroy(e);
    model_free(&m);
}

/* The last logits of a fresh engine evaluating SEQ[0 .. N-1] in one batch. */
static void fresh_logits(const model *m, const int32_t *seq, int n, float *out) {
    char err[512];
    engine *f = engine_cpu_create(m, n, err, sizeof err);
    engine_batch b = {.tokens = seq, .n_tokens = n, .pos = 0, .logits = out};
    CHECKF(f && engine_eval(f, &b, err, sizeof err) == 0, "fresh engine: %s", err);
    engine_destroy(f);
}

static void rewinds_equal_fresh_evaluation(void) {
    model m;
    if (!dn_open_model(&m)) return;
    char err[512];
    enum { N = 640, PROMPT = 600 };
    const int V = m.hp.n_vocab;
    int32_t seq[N];
    dn_prompt(&m, seq, N);
    float *got = malloc((size_t)V * sizeof *got), *want = malloc((size_t)V * sizeof *want);
    engine *e = engine_cpu_create(&m, N, err, sizeof err);
    CHECKF(e != NULL, "%s", err);
    if (!e || !got || !want) goto done;
    engine_batch b = {.tokens = seq, .n_tokens = PROMPT, .pos = 0, .logits = got};
    CHECKF(engine_eval(e, &b, err, sizeof err) == 0, "%s", err);
    for (int p = PROMPT; p < 610; p++) {
        engine_batch d = {.tokens = seq + p, .n_tokens = 1, .pos = p, .logits = got};
        CHECKF(engine_eval(e, &d, err, sizeof err) == 0, "%s", err);
    }
    engine_checkpoint(e); /* a turn boundary at 610 */
    for (int p = 610; p < 615; p++) {
        engine_batch d = {.tokens = seq + p, .n_tokens = 1, .pos = p, .logits = got};
        CHECKF(engine_eval(e, &d, err, sizeof err) == 0, "%s", err);
    }
    engine_state_memory mem;
    engine_get_state_memory(e, &mem);
    CHECKF(mem.n_checkpoints == 3 && mem.checkpoints > 0 && mem.state > 0 && mem.keys > 0,
           "checkpoints at 256, 512 and 610 expected, %d held (%zu bytes)", mem.n_checkpoints, mem.checkpoints);
    /* a token past the state is refused */
    engine_batch far = {.tokens = seq, .n_tokens = 1, .pos = 620, .logits = got};
    CHECK(engine_eval(e, &far, err, sizeof err) < 0 && strstr(err, "position"));

    /* rewind to: the marked checkpoint itself, past a periodic one, exactly at one, and
     * before any (from the zero state); each time a different token than before, then
     * two more */
    const int at[] = {610, 605, 256, 100};
    for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) {
        const int p = at[i];
        seq[p] = (seq[p] + 1 + (int32_t)i) % V;
        engine_batch r = {.tokens = seq + p, .n_tokens = 3, .pos = p, .logits = got};
        CHECKF(engine_eval(e, &r, err, sizeof err) == 0, "rewind to %d: %s", p, err);
        fresh_logits(&m, seq, p + 3, want);
        CHECKF(memcmp(got, want, (size_t)V * sizeof *got) == 0, "after rewinding to %d the logits differ from a fresh evaluation", p);
    }
    engine_get_state_memory(e, &mem);
    CHECKF(mem.n_checkpoints == 0, "checkpoints past position 100 kept after rewinding there: %d", mem.n_checkpoints);
done:
    free(got);
    free(want);
    engine_destroy(e);
    model_free(&m);
}

/* inspect_probe_run samples several continuations from one prefix on one engine, each
 * rewinding to the prefix's end; each must be what a fresh engine samples. */
static void probe_equals_fresh_continuations(void) {
    model m;
    if (!dn_open_model(&m)) return;
    char err[512];
    enum { PREFIX = 70, LEN = 12, N = 3 };
    const int V = m.hp.n_vocab;
    int32_t prefix[PREFIX], *seqs[N], hist[PREFIX + LEN];
    int lens[N];
    dn_prompt(&m, prefix, PREFIX);
    sampler_params sp;
    sampler_params_default(&sp);
    sp.temperature = 1.0f;
    engine *e = engine_cpu_create(&m, PREFIX + LEN, err, sizeof err);
    float *logits = malloc((size_t)V * sizeof *logits);
    if (!e || !logits || inspect_probe_run(e, NULL, prefix, PREFIX, &sp, N, LEN, seqs, lens, err, sizeof err)) {
        CHECKF(0, "probe: %s", err);
        free(logits);
        engine_destroy(e);
        model_free(&m);
        return;
    }
    for (int i = 0; i < N; i++) {
        sampler_params p = sp;
        p.seed = sp.seed + (uint64_t)i;
        sampler smp;
        engine *f = engine_cpu_create(&m, PREFIX + LEN, err, sizeof err);
        CHECK(f && sampler_init(&smp, &p, V) == 0);
        memcpy(hist, prefix, sizeof prefix);
        engine_batch b = {.tokens = prefix, .n_tokens = PREFIX, .pos = 0, .logits = logits};
        CHECK(f && engine_eval(f, &b, err, sizeof err) == 0);
        int same = lens[i] == LEN;
        for (int t = 0; f && t < LEN; t++) {
            int32_t id = sampler_sample(&smp, logits, hist, PREFIX + t, NULL);
            hist[PREFIX + t] = id;
            same &= t < lens[i] && seqs[i][t] == id;
            engine_batch s = {.tokens = &id, .n_tokens = 1, .pos = PREFIX + t, .logits = logits};
            if (t + 1 < LEN) CHECK(engine_eval(f, &s, err, sizeof err) == 0);
        }
        CHECKF(same, "continuation %d differs from a fresh engine's", i);
        sampler_free(&smp);
        engine_destroy(f);
        free(seqs[i]);
    }
    free(logits);
    engine_destroy(e);
    model_free(&m);
}

/* The engine's vectorised sweep (deltanet_fast.c) gives op_deltanet_weights' bits, on
 * keys, betas and decays like a real layer's (d_k 128, a row of 300 tokens). */
static void fast_weights_are_the_reference(void) {
    enum { T = 300, DK = 128 };
    static float k[T][DK], q[DK], beta[T], decay[T], want[T], got[T], x[DK];
    uint32_t s = 7;
    for (int t = 0; t < T; t++) {
        for (int c = 0; c < DK; c++) s = s * 1664525u + 1013904223u, k[t][c] = (float)(s >> 8) / (1 << 24) - 0.5f;
        op_l2norm(k[t], k[t], DK, 1e-6f);
        s = s * 1664525u + 1013904223u, beta[t] = (float)(s >> 8) / (1 << 24);
        s = s * 1664525u + 1013904223u, decay[t] = 0.1f + 0.9f * (float)(s >> 8) / (1 << 24);
    }
    memcpy(q, k[T / 2], sizeof q);
    op_deltanet_weights(q, k[0], DK, beta, decay, 1, T - 1, DK, want, x);
    fast_deltanet_weights(q, k[0], DK, beta, decay, 1, T - 1, DK, got, x);
    CHECK(memcmp(got, want, sizeof got) == 0);

    /* several queries swept together (a prompt's tokens), each ending at its own token
     * and with its own bits; the last two end at the same token */
    enum { M = DN_SWEEP_QUERIES };
    static float many[M][T], xs[M * DK];
    const float *qs[M];
    float *ws[M];
    int ts[M];
    for (int j = 0; j < M; j++) {
        qs[j] = k[j * 37 % T];
        ws[j] = many[j];
        ts[j] = j + 1 < M ? T - 1 - 50 * j : T - 1 - 50 * (j - 1);
    }
    fast_deltanet_weights_many(M, qs, k[0], DK, beta, decay, 1, ts, DK, ws, xs);
    for (int j = 0; j < M; j++) {
        op_deltanet_weights(qs[j], k[0], DK, beta, decay, 1, ts[j], DK, want, x);
        CHECKF(memcmp(many[j], want, (size_t)(ts[j] + 1) * sizeof *want) == 0, "query %d (to token %d) differs", j,
               ts[j]);
    }
}

/* The engine's chunked recurrence (deltanet_fast.c) gives op_deltanet_chunked's bits:
 * outputs and the state after 150 tokens (two folds and a partial chunk) from a state
 * that already held 30, fed in pieces of 37 as micro-batches are. */
static void fast_chunked_is_the_reference(void) {
    enum { DK = 128, DV = 128, T = 150, START = 30 };
    static float S[2][DV * DK], kbuf[2][DN_CHUNK * DK], ubuf[2][DN_CHUNK * DV], lcbuf[2][DN_CHUNK];
    static float q[T][DK], k[T][DK], v[T][DV], beta[T], g[T], out[2][T][DV], scratch[3 * DN_CHUNK];
    uint32_t r = 5;
#define RND() (r = r * 1664525u + 1013904223u, (float)(r >> 8) / (1 << 24) - 0.5f)
    for (int i = 0; i < DV * DK; i++) S[0][i] = S[1][i] = 0.1f * RND();
    for (int t = 0; t < T; t++) {
        for (int c = 0; c < DK; c++) q[t][c] = RND(), k[t][c] = RND();
        for (int c = 0; c < DV; c++) v[t][c] = RND();
        op_l2norm(q[t], q[t], DK, 1e-6f);
        op_l2norm(k[t], k[t], DK, 1e-6f);
        beta[t] = 0.5f + RND();
        g[t] = -0.05f + 0.1f * RND();
    }
#undef RND
    for (int e = 0; e < 2; e++) {
        dn_head_state st = {.S = S[e], .k = kbuf[e], .u = ubuf[e], .lc = lcbuf[e], .stride_k = DK, .stride_u = DV,
                            .stride_lc = 1, .d_k = DK, .d_v = DV};
        memset(kbuf[e], 0, sizeof kbuf[e]);
        memset(ubuf[e], 0, sizeof ubuf[e]);
        memset(lcbuf[e], 0, sizeof lcbuf[e]);
        for (int t0 = 0; t0 < T; t0 += 37) {
            const int n = T - t0 < 37 ? T - t0 : 37;
            (e ? fast_deltanet_chunked : op_deltanet_chunked)(&st, START + t0, n, q[t0], k[t0], DK, v[t0], DV,
                                                              beta + t0, g + t0, 1, out[e][t0], DV, scratch);
        }
    }
    CHECK(memcmp(out[0], out[1], sizeof out[0]) == 0);
    CHECK(memcmp(S[0], S[1], sizeof S[0]) == 0);
}

int main(void) {
    RUN(fast_weights_are_the_reference);
    RUN(fast_chunked_is_the_reference);
    RUN(weights_reconstruct_cpu);
    RUN(rows_by_layer_kind);
    RUN(rewinds_equal_fresh_evaluation);
    RUN(probe_equals_fresh_continuations);
    return test_exit_code();
}
