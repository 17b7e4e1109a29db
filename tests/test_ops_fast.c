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
 * fast_matmul_rows_portable, the copy compiled for the baseline processor, must agree too.
 * fast_attention_head, no longer op_attention_head's bits, must stay within float
 * rounding of it (the bound is derived below).
 *
 * The pool must run every task of a job exactly once, on a thread number in range, for
 * any thread count and over many jobs in a row, and helpers that went to sleep while the
 * pool was idle must wake for the next job (two tasks that wait for each other, for up to
 * five seconds: the one check here that depends on timing, failing only if a woken thread
 * waits five seconds for a core). */
#include "engine_options.h"
#include "model.h"
#include "ops.h"
#include "ops_fast.h"
#include "quant.h"
#include "random_blocks.h"
#include "test.h"
#include "workers.h"

#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

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

/* The three lengths with 1, 3 and more tokens than one pass takes; the long rows with
 * one vector only: they are there for the reference's pieces. */
static void compare_random(const char *what, const weight *w, int k) {
    static const int n_vectors[] = {1, 3, FAST_MAX_TOKENS + 5};
    for (int v = 0; v < (k == 2 ? 1 : 3); v++) compare_products(what, w, n_vectors[v]);
}

static void every_type_random_blocks(void) { for_each_random_matrix(11, compare_random); }

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

static int seen_types[GGML_TYPE_COUNT_]; /* types among the llama-k-tiny matrices */

static void compare_real(const char *what, const weight *w, int i) {
    compare_products(what, w, i % 2 ? 1 : 4);
    seen_types[w->type] = 1;
}

/* Every matrix of the llama-k-tiny files: real blocks in every type llama.cpp writes. */
static void shared_llama_k_tiny(void) {
    if (!for_each_llama_k_tiny_matrix(compare_real)) return;
    static const uint32_t want[] = {GGML_TYPE_F32, GGML_TYPE_F16, GGML_TYPE_BF16, GGML_TYPE_Q8_0,
                                    GGML_TYPE_Q4_0, GGML_TYPE_Q4_K, GGML_TYPE_Q5_K, GGML_TYPE_Q6_K,
                                    GGML_TYPE_IQ4_NL, GGML_TYPE_IQ4_XS};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        CHECKF(seen_types[want[i]], "no %s matrix among the llama-k-tiny files", ggml_type_name(want[i]));
}

/* fast_attention_head against op_attention_head, for head sizes that are and are not
 * multiples of 8 and 16, in a cache whose rows hold other heads, over the whole prefix,
 * over a sliding window (the later half of the keys), with soft-capped scores and with a
 * sink (gpt-oss: one more logit in the softmax's sum, op_softmax_sink). Not the
 * same bits (fused multiply-adds, other partial sums, its own exponential), so within what
 * rounding allows: each score is a dot product of HD terms, off by at most (HD + 16) 2^-24
 * times the sum of their magnitudes in either version (a cap only shrinks differences, and
 * its tanh adds a rounding of the cap's size), and a softmax probability moves relatively
 * by about twice the largest score error, plus the exponential's error (below 2^-20: a
 * degree-7 polynomial and ten roundings) and the sum's ((n_kv + 16) 2^-23); an output
 * element by the probabilities' errors times |v| plus its own sum's rounding. Keys before
 * a window's start get probability 0 in both. Also: the exponential alone, scores that
 * are all equal, and one far below the others (whose exponential is 0 in both). */
static void attention_within_rounding(void) {
    static const int head_dims[] = {8, 12, 16, 64, 80};
    static const int lengths[] = {1, 7, 16, 33, 300};
    double worst = 0;
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
                /* whole prefix, a window, a soft-cap, a window with a sink (gpt-oss) */
                const attn_span spans[4] = {{0, n_kv, hd, stride, 0.125f, 0, false, 0},
                                            {n_kv / 2, n_kv, hd, stride, 0.125f, 0, false, 0},
                                            {0, n_kv, hd, stride, 0.125f, 3.0f, false, 0},
                                            {n_kv / 2, n_kv, hd, stride, 0.125f, 0, true, 0.7f}};
                for (int a = 0; a < 4; a++) {
                    const attn_span *sp = &spans[a];
                    op_attention_head(q, k, v, sp, s1, o1);
                    fast_attention_head(q, k, v, sp, s2, o2);
                    double score_err = sp->softcap > 0 ? 0x1p-22 * sp->softcap : 0;
                    for (int t = sp->first; t < n_kv; t++) {
                        double mag = 0;
                        for (int i = 0; i < hd; i++) mag += fabs((double)q[i] * k[(size_t)t * stride + i]);
                        score_err = fmax(score_err, 2 * (hd + 16) * 0x1p-24 * 0.125 * mag);
                    }
                    const double rel_p = 2 * score_err + 0x1p-20 + (n_kv + 16) * 0x1p-23;
                    for (int t = 0; t < sp->first; t++) CHECK(s2[t] == 0.0f);
                    for (int t = sp->first; t < n_kv; t++)
                        worst = fmax(worst, fabs((double)s2[t] - s1[t]) / (s1[t] * rel_p + 1e-30));
                    for (int i = 0; i < hd; i++) {
                        double mag = 0;
                        for (int t = sp->first; t < n_kv; t++) mag += s1[t] * fabs((double)v[(size_t)t * stride + i]);
                        const double bound = mag * (rel_p + (n_kv + 16) * 0x1p-23) + 1e-30;
                        worst = fmax(worst, fabs((double)o2[i] - o1[i]) / bound);
                    }
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
    CHECKF(worst <= 1, "fast attention differs from op_attention_head by %g times the bound", worst);
    if (getenv("LLMSCOPE_TEST_VERBOSE")) fprintf(stderr, "  worst: %.3g of the bound\n", worst);

    /* The exponential alone: exact scores (one nonzero product each), 0, -1/8, ..., -37,
     * whose probabilities' ratios to the first are exp(-t/8) up to the two exponentials'
     * errors (below 2^-20 each) and one division. */
    {
        enum { HDE = 8, NE = 297 };
        float qe[HDE] = {1}, *kve = calloc((size_t)2 * NE * HDE, sizeof *kve), pe1[NE], pe2[NE], oe[HDE];
        if (kve) {
            for (int t = 0; t < NE; t++) kve[(size_t)t * HDE] = -(float)t / 8;
            const attn_span span = {0, NE, HDE, HDE, 1.0f, 0, false, 0};
            op_attention_head(qe, kve, kve + NE * HDE, &span, pe1, oe);
            fast_attention_head(qe, kve, kve + NE * HDE, &span, pe2, oe);
            double worst_exp = 0;
            for (int t = 0; t < NE; t++) {
                const double want = (double)pe1[t] / pe1[0], got = (double)pe2[t] / pe2[0];
                worst_exp = fmax(worst_exp, fabs(got - want) / (want * (2 * 0x1p-20 + 0x1p-22)));
            }
            CHECKF(worst_exp <= 1, "the softmax's exponentials are off by %g times their bound", worst_exp);
        }
        free(kve);
    }

    /* equal scores: equal probabilities; a score 200 below the rest: probability 0 */
    enum { HD = 16, N = 5 };
    float q[HD], kv[2 * N * HD], sc[N], out[HD];
    for (int i = 0; i < HD; i++) q[i] = i == 0 ? 1.0f : 0.0f;
    for (int i = 0; i < 2 * N * HD; i++) kv[i] = i < N * HD && i % HD == 0 ? 3.0f : 0.5f;
    const attn_span span = {0, N, HD, HD, 1.0f, 0, false, 0};
    fast_attention_head(q, kv, kv + N * HD, &span, sc, out);
    for (int t = 0; t < N; t++) CHECK_NEAR(sc[t], 0.2, 1e-7);
    kv[2 * HD] = -200.0f;
    fast_attention_head(q, kv, kv + N * HD, &span, sc, out);
    CHECK(sc[2] == 0.0f && fabs(sc[0] - 0.25) < 1e-7);
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

/* Two tasks that each wait (up to 5 s) until both have started: they finish at once only
 * if two threads run them side by side. */
typedef struct meeting {
    atomic_int started;
    atomic_int met;
} meeting;

static void meet_task(void *arg, int task, int thread) {
    (void)task;
    (void)thread;
    meeting *m = arg;
    atomic_fetch_add(&m->started, 1);
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do {
        if (atomic_load(&m->started) == 2) {
            atomic_fetch_add(&m->met, 1);
            return;
        }
        clock_gettime(CLOCK_MONOTONIC, &t);
    } while ((t.tv_sec - t0.tv_sec) * 1000000000L + (t.tv_nsec - t0.tv_nsec) < 5000000000L);
}

/* Helpers that have gone to sleep (the pool idle for longer than they spin and yield)
 * wake for the next job, and the pool closes while they sleep. */
static void pool_wakes_sleeping_helpers(void) {
    workers *w = workers_create(2);
    CHECK(w != NULL);
    if (!w) return;
    for (int round = 0; round < 3; round++) {
        nanosleep(&(struct timespec){0, 50000000}, NULL); /* 50 ms: the helper sleeps */
        meeting m;
        atomic_init(&m.started, 0);
        atomic_init(&m.met, 0);
        workers_run(w, 2, meet_task, &m);
        CHECKF(atomic_load(&m.met) == 2, "round %d: the sleeping helper did not take a task", round);
    }
    nanosleep(&(struct timespec){0, 50000000}, NULL);
    workers_destroy(w);
}

/* The program (ui/cli/engine_options.c) reads the environment; the engine only its options. */
static void thread_count_from_environment(void) {
    char err[128] = "";
    cpu_engine_options o;
    setenv("LLMSCOPE_THREADS", "3", 1);
    setenv("LLMSCOPE_CPU_ISA", "plain", 1);
    CHECK(cpu_options_from_env(&o, err, sizeof err) == 0 && o.n_threads == 3 && o.isa &&
          strcmp(o.isa, "plain") == 0);
    setenv("LLMSCOPE_THREADS", "many", 1);
    CHECK(cpu_options_from_env(&o, err, sizeof err) == -1 && strstr(err, "LLMSCOPE_THREADS") &&
          !strchr(err, '\n'));
    setenv("LLMSCOPE_THREADS", "0", 1);
    CHECK(cpu_options_from_env(&o, err, sizeof err) == -1);
    unsetenv("LLMSCOPE_THREADS");
    unsetenv("LLMSCOPE_CPU_ISA");
    CHECK(cpu_options_from_env(&o, err, sizeof err) == 0 && o.n_threads == 0 && !o.isa);
    CHECK(workers_default_count() >= 1 && workers_default_count() <= WORKERS_MAX);
}

int main(void) {
    RUN(every_type_random_blocks);
    RUN(misaligned_f32);
    RUN(shared_llama_k_tiny);
    RUN(attention_within_rounding);
    RUN(pool_runs_every_task_once);
    RUN(pool_wakes_sleeping_helpers);
    RUN(thread_count_from_environment);
    return test_exit_code();
}
