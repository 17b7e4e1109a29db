/* test_ops_fast.c — the CPU engine's fast matrix products and attention, and its thread
 * pool.
 *
 * fast_matmul_rows (model/ops_fast.c) must give op_matmul's results (model/ops.c, the
 * reference) bit for bit, for every storage type: it decodes the same blocks with the same
 * formulas and sums in the same order, only its memory traffic differs. Checked on
 * random blocks (with zero, subnormal and negative scales, rows longer than the
 * reference's 2048-element pieces, row lengths that are not a multiple of 8, and more
 * vectors than one pass takes) and on every matrix of the llama-k-tiny family in
 * ../shared, whose blocks llama.cpp's own quantizer wrote. Both are also checked against
 * a double-precision sum over quant.c's dequantisation, so that a mistake shared by the
 * two (the order of the partial sums, say) cannot hide.
 *
 * fast_matmul_rows_portable, the copy compiled for the baseline processor, must agree too,
 * and so must fast_attention_head with op_attention_head.
 *
 * The pool must run every task of a job exactly once, on a thread number in range, for
 * any thread count and over many jobs in a row. Nothing here depends on timing. */
#include "model.h"
#include "ops.h"
#include "ops_fast.h"
#include "quant.h"
#include "test.h"
#include "workers.h"

#include <stdatomic.h>
#include <stdint.h>

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint32_t rnd(void) { /* xorshift64* */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * 0x2545F4914F6CDD1Dull) >> 32);
}

static float rnd_float(float lo, float hi) { return lo + (hi - lo) * (float)(rnd() >> 8) / 16777216.0f; }

/* A block scale: mostly ordinary values, and every few blocks one of the awkward ones. */
static uint16_t rnd_scale(int i) {
    static const uint16_t special[] = {0x0000, 0x8000, 0x0001, 0x03ff, 0x8200};
    if (i % 7 == 3) return special[(i / 7) % 5];
    float v = rnd_float(1e-3f, 5e-2f);
    return f32_to_fp16(rnd() & 1 ? -v : v);
}

/* ROWS x COLS random weights of TYPE: random quant bytes, scales from rnd_scale. */
static void *random_matrix(uint32_t type, int64_t rows, int64_t cols, uint64_t *row_bytes) {
    if (!ggml_row_bytes(type, (uint64_t)cols, row_bytes)) return NULL;
    const size_t size = (size_t)(*row_bytes * (uint64_t)rows);
    uint8_t *p = malloc(size + 8);
    if (!p) return NULL;
    for (size_t i = 0; i < size; i++) p[i] = (uint8_t)rnd();
    const int64_t n_el = rows * cols;
    switch (type) {
    case GGML_TYPE_F32:
        for (int64_t i = 0; i < n_el; i++) {
            float v = rnd_float(-2, 2);
            memcpy(p + 4 * i, &v, 4);
        }
        break;
    case GGML_TYPE_F16:
        for (int64_t i = 0; i < n_el; i++) { /* every 50th a subnormal half */
            uint16_t h = i % 50 == 7 ? (uint16_t)(rnd() & 0x83ff) : f32_to_fp16(rnd_float(-2, 2));
            memcpy(p + 2 * i, &h, 2);
        }
        break;
    case GGML_TYPE_BF16:
        for (int64_t i = 0; i < n_el; i++) {
            uint16_t h = f32_to_bf16(rnd_float(-2, 2));
            memcpy(p + 2 * i, &h, 2);
        }
        break;
    case GGML_TYPE_Q8_0: case GGML_TYPE_Q4_0: case GGML_TYPE_Q5_0: case GGML_TYPE_IQ4_NL:
    case GGML_TYPE_IQ4_XS: { /* d is the first two bytes of each block */
        const uint32_t bb = ggml_block_bytes(type);
        for (size_t b = 0; b < size / bb; b++) {
            uint16_t d = rnd_scale((int)b);
            memcpy(p + b * bb, &d, 2);
        }
        break;
    }
    case GGML_TYPE_Q4_K: case GGML_TYPE_Q5_K: case GGML_TYPE_Q4_1: case GGML_TYPE_Q5_1: {
        /* d and dmin (the offset m of Q4_1/Q5_1) lead the block */
        const uint32_t bb = ggml_block_bytes(type);
        for (size_t b = 0; b < size / bb; b++) {
            uint16_t d = rnd_scale((int)b), dmin = rnd_scale((int)b + 1);
            memcpy(p + b * bb, &d, 2);
            memcpy(p + b * bb + 2, &dmin, 2);
        }
        break;
    }
    case GGML_TYPE_MXFP4: { /* the scale byte leads: keep it to 2^-16 .. 2^4 */
        const uint32_t bb = ggml_block_bytes(type);
        for (size_t b = 0; b < size / bb; b++) p[b * bb] = (uint8_t)(112 + rnd() % 21);
        break;
    }
    case GGML_TYPE_Q2_K: { /* d and dmin are the last four bytes */
        for (size_t b = 0; b < size / sizeof(block_q2_K); b++) {
            uint16_t d = rnd_scale((int)b), dmin = rnd_scale((int)b + 1);
            memcpy(p + b * sizeof(block_q2_K) + offsetof(block_q2_K, d), &d, 2);
            memcpy(p + b * sizeof(block_q2_K) + offsetof(block_q2_K, dmin), &dmin, 2);
        }
        break;
    }
    case GGML_TYPE_Q3_K: { /* d is the last two bytes */
        for (size_t b = 0; b < size / sizeof(block_q3_K); b++) {
            uint16_t d = rnd_scale((int)b);
            memcpy(p + b * sizeof(block_q3_K) + offsetof(block_q3_K, d), &d, 2);
        }
        break;
    }
    case GGML_TYPE_Q6_K: { /* d is the last two bytes */
        for (size_t b = 0; b < size / sizeof(block_q6_K); b++) {
            uint16_t d = rnd_scale((int)b);
            memcpy(p + b * sizeof(block_q6_K) + offsetof(block_q6_K, d), &d, 2);
        }
        break;
    }
    default: break;
    }
    return p;
}

static uint32_t bits_of(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* y = W x for N vectors with fast_matmul_rows against op_matmul (bit for bit) and a
 * double-precision sum over dequantize_row (within summation rounding). The fast
 * product is computed in two row ranges, as two threads would, and must write nothing
 * outside its range. */
static void compare_products(const char *what, const weight *w, int n) {
    const int64_t rows = w->rows, cols = w->cols;
    float *x = malloc((size_t)(n * cols) * sizeof *x);
    float *want = malloc((size_t)(n * rows) * sizeof *want);
    float *got = malloc((size_t)(n * rows) * sizeof *got);
    float *row = malloc((size_t)cols * sizeof *row);
    if (!x || !want || !got || !row) {
        CHECKF(0, "out of memory");
        goto done;
    }
    for (int64_t i = 0; i < n * cols; i++) x[i] = rnd_float(-1, 1);
    op_matmul(w, x, want, n);

    const float sentinel = -12345.5f;
    for (int64_t i = 0; i < n * rows; i++) got[i] = sentinel;
    const int64_t split = rows / 3;
    fast_matmul_rows(w, x, got, n, split, rows);
    int untouched = 1;
    for (int t = 0; t < n; t++)
        for (int64_t r = 0; r < split; r++) untouched &= got[t * rows + r] == sentinel;
    CHECKF(untouched, "%s: rows outside the range were written", what);
    fast_matmul_rows(w, x, got, n, 0, split);
    /* the baseline copy of the code, where fast_matmul_rows chose a wider one */
    float *base = malloc((size_t)(n * rows) * sizeof *base);
    if (base) {
        fast_matmul_rows_portable(w, x, base, n, 0, rows);
        CHECKF(memcmp(base, got, (size_t)(n * rows) * sizeof *base) == 0,
               "%s: the portable code gives other bits", what);
        free(base);
    }

    int differ = 0, first = -1;
    double worst_ref = 0;
    for (int64_t i = 0; i < n * rows; i++) {
        if (bits_of(got[i]) != bits_of(want[i])) {
            if (first < 0) first = (int)i;
            differ++;
        }
    }
    CHECKF(differ == 0, "%s (%lld x %lld, %d vectors): %d of %lld outputs differ from op_matmul "
           "(first at %d: %.9g vs %.9g)", what, (long long)rows, (long long)cols, n, differ,
           (long long)(n * rows), first, first >= 0 ? (double)got[first] : 0.0,
           first >= 0 ? (double)want[first] : 0.0);

    for (int64_t r = 0; r < rows; r++) {
        weight_row(w, r, row);
        for (int t = 0; t < n; t++) {
            double sum = 0, mag = 0;
            for (int64_t c = 0; c < cols; c++) {
                sum += (double)row[c] * x[t * cols + c];
                mag += fabs((double)row[c] * x[t * cols + c]);
            }
            /* float rounding of the products and of the sums: far below 1e-5 of the
             * magnitude for these lengths; a wrong element or lane order is far above */
            double err = fabs(got[t * rows + r] - sum) / (mag + 1e-30);
            if (err > worst_ref) worst_ref = err;
        }
    }
    CHECKF(worst_ref <= 1e-5, "%s: relative error %g against a double-precision sum", what,
           worst_ref);
done:
    free(x);
    free(want);
    free(got);
    free(row);
}

static void every_type_random_blocks(void) {
    static const struct { uint32_t type; int64_t cols[3]; } cases[] = {
        {GGML_TYPE_F32, {172, 64, 2501}},   /* 172: stories260K's n_ff, not a multiple of 8 */
        {GGML_TYPE_F16, {172, 200, 2500}},  /* 2500: longer than the reference's pieces */
        {GGML_TYPE_BF16, {172, 64, 2100}},
        {GGML_TYPE_Q8_0, {32, 576, 2304}},
        {GGML_TYPE_Q4_0, {32, 576, 2304}},
        {GGML_TYPE_Q4_1, {32, 576, 2304}},
        {GGML_TYPE_Q5_0, {32, 544, 2336}},  /* 544: 17 blocks of 22 bytes, rows at odd pairs */
        {GGML_TYPE_Q5_1, {32, 896, 2304}},  /* 896: Qwen2.5-0.5B's width */
        {GGML_TYPE_MXFP4, {32, 544, 2880}}, /* 17-byte blocks: rows start at any byte;
                                                 2880: gpt-oss-20b's width */
        {GGML_TYPE_Q2_K, {256, 768, 2304}},
        {GGML_TYPE_Q3_K, {256, 768, 2304}},
        {GGML_TYPE_Q4_K, {256, 768, 2304}},
        {GGML_TYPE_Q5_K, {256, 768, 2304}},
        {GGML_TYPE_Q6_K, {256, 768, 2304}},
        {GGML_TYPE_IQ4_NL, {32, 544, 2336}}, /* 18-byte blocks, as Q4_0's */
        {GGML_TYPE_IQ4_XS, {256, 768, 2304}},
    };
    static const int n_vectors[] = {1, 3, FAST_MAX_TOKENS + 5};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        for (int k = 0; k < 3; k++) {
            const int64_t rows = 11, cols = cases[c].cols[k];
            uint64_t rb;
            void *data = random_matrix(cases[c].type, rows, cols, &rb);
            if (!data) {
                CHECKF(0, "cannot build a %s matrix of %lld columns",
                       ggml_type_name(cases[c].type), (long long)cols);
                continue;
            }
            weight w = {"random", cases[c].type, cols, rows, data, rb};
            char what[64];
            for (int v = 0; v < 3; v++) {
                /* the long rows with one vector only: they are there for the pieces */
                if (k == 2 && v > 0) break;
                snprintf(what, sizeof what, "%s/%lld", ggml_type_name(cases[c].type), (long long)cols);
                compare_products(what, &w, n_vectors[v]);
            }
            free(data);
        }
    }
}

/* F32 weights that are not float-aligned in the mapping (the reference copies them
 * first; the fast path always does): same bits. */
static void misaligned_f32(void) {
    enum { R = 5, C = 100 };
    uint8_t *buf = malloc(R * C * 4 + 2);
    if (!buf) {
        CHECKF(0, "out of memory");
        return;
    }
    for (int i = 0; i < R * C; i++) {
        float v = rnd_float(-1, 1);
        memcpy(buf + 2 + 4 * i, &v, 4);
    }
    weight w = {"misaligned", GGML_TYPE_F32, C, R, buf + 2, C * 4};
    compare_products("f32 misaligned", &w, 2);
    free(buf);
}

/* Every matrix of the llama-k-tiny files: real blocks in every type llama.cpp writes. */
static void shared_llama_k_tiny(void) {
    static const char *files[] = {"f32", "f16", "bf16", "q8_0", "q4_0", "q4_k_m", "q5_k_m", "q6_k", "iq4_nl", "iq4_xs"};
    char path[512], rel[128], err[512];
    snprintf(rel, sizeof rel, "models/llama-k-tiny-%s.gguf", files[0]);
    REQUIRE_SHARED(path, rel);
    int seen[GGML_TYPE_COUNT_] = {0};
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        snprintf(rel, sizeof rel, "models/llama-k-tiny-%s.gguf", files[f]);
        if (!test_shared_path(path, sizeof path, rel)) {
            CHECKF(0, "../shared/%s missing", rel);
            continue;
        }
        model m;
        if (model_load(&m, path, err, sizeof err)) {
            CHECKF(0, "%s", err);
            continue;
        }
        /* one layer's matrices and the output head cover every type in the file */
        const layer_weights *lw = &m.layers[m.hp.n_layer - 1];
        const weight *ws[] = {&lw->wq, &lw->wk, &lw->wv, &lw->wo, &lw->ffn_gate, &lw->ffn_up,
                              &lw->ffn_down, &m.output};
        for (size_t i = 0; i < sizeof ws / sizeof ws[0]; i++) {
            char what[128];
            snprintf(what, sizeof what, "%s %s (%s)", files[f], ws[i]->name,
                     ggml_type_name(ws[i]->type));
            compare_products(what, ws[i], i % 2 ? 1 : 4);
            seen[ws[i]->type] = 1;
        }
        model_free(&m);
    }
    static const uint32_t want[] = {GGML_TYPE_F32, GGML_TYPE_F16, GGML_TYPE_BF16, GGML_TYPE_Q8_0,
                                    GGML_TYPE_Q4_0, GGML_TYPE_Q4_K, GGML_TYPE_Q5_K, GGML_TYPE_Q6_K,
                                    GGML_TYPE_IQ4_NL, GGML_TYPE_IQ4_XS};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        CHECKF(seen[want[i]], "no %s matrix among the llama-k-tiny files",
               ggml_type_name(want[i]));
}

/* fast_attention_head against op_attention_head: scores and output, bit for bit, for
 * head sizes that are and are not multiples of 8, in a cache whose rows hold other heads,
 * over the whole prefix, over a sliding window (the later half of the keys) and with
 * soft-capped scores. */
static void attention_same_bits(void) {
    static const int head_dims[] = {8, 12, 64, 80};
    static const int lengths[] = {1, 7, 300};
    for (size_t h = 0; h < sizeof head_dims / sizeof head_dims[0]; h++) {
        for (size_t l = 0; l < sizeof lengths / sizeof lengths[0]; l++) {
            const int hd = head_dims[h], n_kv = lengths[l], stride = 3 * hd + 4;
            float *q = malloc((size_t)hd * sizeof *q);
            float *kv = malloc((size_t)2 * n_kv * stride * sizeof *kv);
            float *s1 = malloc((size_t)n_kv * sizeof *s1), *s2 = malloc((size_t)n_kv * sizeof *s2);
            float *o1 = malloc((size_t)hd * sizeof *o1), *o2 = malloc((size_t)hd * sizeof *o2);
            if (!q || !kv || !s1 || !s2 || !o1 || !o2) {
                CHECKF(0, "out of memory");
            } else {
                for (int i = 0; i < hd; i++) q[i] = rnd_float(-2, 2);
                for (int i = 0; i < 2 * n_kv * stride; i++) kv[i] = rnd_float(-2, 2);
                const float *k = kv + hd, *v = kv + (size_t)n_kv * stride + 2 * hd;
                /* whole prefix, a window, a soft-cap, a sink (gpt-oss) */
                const attn_span spans[4] = {{0, n_kv, hd, stride, 0.125f, 0, false, 0},
                                            {n_kv / 2, n_kv, hd, stride, 0.125f, 0, false, 0},
                                            {0, n_kv, hd, stride, 0.125f, 3.0f, false, 0},
                                            {n_kv / 2, n_kv, hd, stride, 0.125f, 0, true, 0.7f}};
                for (int a = 0; a < 4; a++) {
                    op_attention_head(q, k, v, &spans[a], s1, o1);
                    fast_attention_head(q, k, v, &spans[a], s2, o2);
                    CHECKF(memcmp(s1, s2, (size_t)n_kv * sizeof *s1) == 0 &&
                           memcmp(o1, o2, (size_t)hd * sizeof *o1) == 0,
                           "head_dim %d, %d keys, case %d: fast attention differs from op_attention_head", hd,
                           n_kv, a);
                }
            }
            free(q);
            free(kv);
            free(s1);
            free(s2);
            free(o1);
            free(o2);
        }
    }
}

/* ---- the thread pool ---- */

typedef struct pool_job {
    atomic_int *runs;      /* [n_tasks] times each task ran */
    atomic_int bad_thread; /* a task saw a thread number out of range */
    int n_threads;
} pool_job;

static void count_task(void *arg, int task, int thread) {
    pool_job *j = arg;
    atomic_fetch_add(&j->runs[task], 1);
    if (thread < 0 || thread >= j->n_threads) atomic_store(&j->bad_thread, 1);
}

static void pool_runs_every_task_once(void) {
    enum { MAX_TASKS = 97, JOBS = 300 };
    static const int thread_counts[] = {1, 2, 3, 8};
    for (size_t c = 0; c < sizeof thread_counts / sizeof thread_counts[0]; c++) {
        workers *w = workers_create(thread_counts[c]);
        CHECKF(w != NULL, "workers_create(%d)", thread_counts[c]);
        if (!w) continue;
        CHECK(workers_count(w) == thread_counts[c]);
        atomic_int runs[MAX_TASKS];
        pool_job job = {runs, 0, thread_counts[c]};
        int wrong = 0;
        for (int k = 0; k < JOBS; k++) {
            const int n_tasks = k % MAX_TASKS; /* 0, 1 (run inline) and many */
            for (int i = 0; i < MAX_TASKS; i++) atomic_init(&runs[i], 0);
            workers_run(w, n_tasks, count_task, &job);
            for (int i = 0; i < MAX_TASKS; i++) wrong += atomic_load(&runs[i]) != (i < n_tasks);
        }
        CHECKF(wrong == 0, "%d threads: %d tasks ran other than once", thread_counts[c], wrong);
        CHECK(atomic_load(&job.bad_thread) == 0);
        workers_destroy(w);
    }
    CHECK(workers_create(0) == NULL && workers_create(WORKERS_MAX + 1) == NULL);
}

static void thread_count_from_environment(void) {
    char err[128] = "";
    setenv("LLMSCOPE_THREADS", "3", 1);
    CHECK(workers_default_count(err, sizeof err) == 3);
    setenv("LLMSCOPE_THREADS", "many", 1);
    CHECK(workers_default_count(err, sizeof err) == 0 && strstr(err, "LLMSCOPE_THREADS") &&
          !strchr(err, '\n'));
    setenv("LLMSCOPE_THREADS", "0", 1);
    CHECK(workers_default_count(err, sizeof err) == 0);
    unsetenv("LLMSCOPE_THREADS");
    CHECK(workers_default_count(err, sizeof err) >= 1);
}

int main(void) {
    RUN(every_type_random_blocks);
    RUN(misaligned_f32);
    RUN(shared_llama_k_tiny);
    RUN(attention_same_bits);
    RUN(pool_runs_every_task_once);
    RUN(thread_count_from_environment);
    return test_exit_code();
}
