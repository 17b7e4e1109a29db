/* deltanet_fast.c — the effective weights of a DeltaNet head (ops.h, op_deltanet_weights)
 * with ops.c's arithmetic in ops.c's order, only arranged for the vectoriser: the sweep
 * back over the tokens is sequential (each step's dot product needs the previous step's
 * x), so the speed is in each step's two passes over d_k numbers. Compiled at -O3, and on
 * x86-64 twice (baseline and AVX2, picked when it runs: fast_copy.h); ISO C mode
 * fuses no multiply-adds, so both copies give op_deltanet_weights' bits
 * (tests/test_deltanet.c checks). The capture of a long prompt spends most of its time
 * here: the same order of work per step as a softmax attention row. */
#include "deltanet.h"
#include "fast_copy.h"
#include "ops.h"

#include <math.h>
#include <stdbool.h>
#include <string.h>


/* dot() of ops.c: element i into partial sum i % 8 (a tail into sum 0), combined
 * ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7)). */
INLINE float dot8(const float *a, const float *b, int n) {
    float acc[LANES] = {0};
    int i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int j = 0; j < LANES; j++) acc[j] += a[i + j] * b[i + j];
    for (; i < n; i++) acc[0] += a[i] * b[i];
    return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

/* One step's update of a query's vector, x = decay (x - ws k): element by element, so
 * vectorised it has the same bits; restrict tells the compiler that x is none of the
 * other arrays (the weights' rows could be, for all it knows, and then it would not
 * vectorise). */
INLINE void update(float *restrict x, const float *restrict ks, float ws, float decay, int d_k) {
    for (int c = 0; c < d_k; c++) x[c] = decay * (x[c] - ws * ks[c]);
}

/* M sweeps at once, query j from its token T[j] down to 0: each query's steps in the
 * reference's order (so its bits), the queries' steps at one token side by side, which
 * lets the processor overlap their chains (one sweep alone waits on each step's sum). */
INLINE void sweep(int m, const float *const *q, const float *k, size_t k_stride, const float *beta,
                  const float *decays, size_t gb_stride, const int *t, int d_k, float *const *w, float *x) {
    int top = 0, live = m;
    bool done[DN_SWEEP_QUERIES] = {false};
    for (int j = 0; j < m; j++) {
        memcpy(x + (size_t)j * d_k, q[j], (size_t)d_k * sizeof *x);
        top = t[j] > top ? t[j] : top;
    }
    for (int s = top; s >= 0 && live > 0; s--) {
        const float *ks = k + (size_t)s * k_stride;
        const float b = beta[(size_t)s * gb_stride], decay = decays[(size_t)s * gb_stride];
        for (int j = 0; j < m; j++) {
            if (t[j] < s || done[j]) continue;
            float *xj = x + (size_t)j * d_k;
            const float ws = b * dot8(ks, xj, d_k);
            w[j][s] = ws;
            update(xj, ks, ws, decay, d_k);
            if (dn_below_floor(xj, d_k)) { /* as op_deltanet_weights */
                memset(w[j], 0, (size_t)s * sizeof *w[j]);
                done[j] = true;
                live--;
            }
        }
    }
}

static void sweep_portable(int m, const float *const *q, const float *k, size_t k_stride, const float *beta,
                           const float *decays, size_t gb_stride, const int *t, int d_k, float *const *w, float *x) {
    sweep(m, q, k, k_stride, beta, decays, gb_stride, t, d_k, w, x);
}

#ifdef HAVE_AVX2_COPY
__attribute__((target("avx2"))) static void sweep_avx2(int m, const float *const *q, const float *k, size_t k_stride,
                                                       const float *beta, const float *decays, size_t gb_stride,
                                                       const int *t, int d_k, float *const *w, float *x) {
    sweep(m, q, k, k_stride, beta, decays, gb_stride, t, d_k, w, x);
}
#endif

void fast_deltanet_weights_many(int m, const float *const *q, const float *k, size_t k_stride, const float *beta,
                                const float *decays, size_t gb_stride, const int *t, int d_k, float *const *w,
                                float *x) {
#ifdef HAVE_AVX2_COPY
    if (__builtin_cpu_supports("avx2")) {
        sweep_avx2(m, q, k, k_stride, beta, decays, gb_stride, t, d_k, w, x);
        return;
    }
#endif
    sweep_portable(m, q, k, k_stride, beta, decays, gb_stride, t, d_k, w, x);
}

void fast_deltanet_weights(const float *q, const float *k, size_t k_stride, const float *beta, const float *decays,
                           size_t gb_stride, int t, int d_k, float *w, float *x) {
    fast_deltanet_weights_many(1, &q, k, k_stride, beta, decays, gb_stride, &t, d_k, &w, x);
}

/* ---- the chunked recurrence: deltanet_chunked.h with dot8, ops.c's dot() twin ---- */

#define DN_DOT dot8
#define DN_INLINE INLINE
#include "deltanet_chunked.h"

static void chunked_portable(const dn_head_state *st, int pos, int n, const float *q, const float *k,
                             size_t qk_stride, const float *v, size_t v_stride, const float *beta, const float *g,
                             size_t gb_stride, float *out, size_t out_stride, float *scratch) {
    dn_chunked(st, pos, n, q, k, qk_stride, v, v_stride, beta, g, gb_stride, out, out_stride, scratch);
}

#ifdef HAVE_AVX2_COPY
__attribute__((target("avx2"))) static void chunked_avx2(const dn_head_state *st, int pos, int n, const float *q,
                                                         const float *k, size_t qk_stride, const float *v,
                                                         size_t v_stride, const float *beta, const float *g,
                                                         size_t gb_stride, float *out, size_t out_stride,
                                                         float *scratch) {
    dn_chunked(st, pos, n, q, k, qk_stride, v, v_stride, beta, g, gb_stride, out, out_stride, scratch);
}
#endif

void fast_deltanet_chunked(const dn_head_state *st, int pos, int n, const float *q, const float *k, size_t qk_stride,
                           const float *v, size_t v_stride, const float *beta, const float *g, size_t gb_stride,
                           float *out, size_t out_stride, float *scratch) {
#ifdef HAVE_AVX2_COPY
    if (__builtin_cpu_supports("avx2")) {
        chunked_avx2(st, pos, n, q, k, qk_stride, v, v_stride, beta, g, gb_stride, out, out_stride, scratch);
        return;
    }
#endif
    chunked_portable(st, pos, n, q, k, qk_stride, v, v_stride, beta, g, gb_stride, out, out_stride, scratch);
}
