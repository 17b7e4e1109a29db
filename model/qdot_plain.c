/* qdot_plain.c — qdot.h's kernels in plain C, for any processor (and the yardstick of the
 * vector copies' layout): one row of the tile per entry of a 16-wide array, as the vector
 * kernels have one per lane. Float weights go to ops_fast.c's portable products, which
 * are exact. */
#include "ops_fast.h"

#define QDOT_TOKENS 1
#define QDOT_DRIVER
#include "qdot_impl.h"

static void interleave(const int8_t *stage, int64_t cols, int8_t *tq) {
    spread_columns(stage, cols, 0, tq, 0);
}

/* One token at a time: integer sums per sub-block, then its scale (and offset). */
static void tile_kernel(const qtile *t, const qdot_acts *xa, int t0, int nt, float *y,
                        int64_t y_stride, int real) {
    const int64_t cols = t->cols;
    const int S = t->sub, nsub = (int)(cols / S);
    for (int k = 0; k < nt; k++) {
        const int tok = t0 + k;
        const int8_t *xq = xa->q + (int64_t)tok * cols;
        const float *xd = xa->d + tok, *xs = (S == 16 ? xa->sum16 : xa->sum32) + tok; /* [j * n] */
        const int64_t n = xa->n;
        float acc[QDOT_ROWS] = {0};
        for (int j = 0; j < nsub; j++) {
            int32_t isum[QDOT_ROWS] = {0};
            for (int k4 = 0; k4 < S / 4; k4++) {
                const int8_t *wq = t->q + ((int64_t)j * (S / 4) + k4) * QDOT_ROWS * 4;
                const int8_t *xv = xq + (int64_t)j * S + 4 * k4;
                for (int r = 0; r < QDOT_ROWS; r++)
                    for (int i = 0; i < 4; i++) isum[r] += wq[4 * r + i] * xv[i];
            }
            const float dx = xd[j * S / 32 * n];
            const float *sc = t->sc + (int64_t)j * QDOT_ROWS, *mn = t->mn + (int64_t)j * QDOT_ROWS;
            for (int r = 0; r < QDOT_ROWS; r++) acc[r] += (float)isum[r] * (sc[r] * dx);
            if (t->has_min)
                for (int r = 0; r < QDOT_ROWS; r++) acc[r] += mn[r] * xs[j * n];
        }
        for (int r = 0; r < real; r++) y[(int64_t)k * y_stride + r] = acc[r];
    }
}

static void rows_float(const weight *w, const float *x, float *y, int n, int64_t r0, int64_t r1) {
    fast_matmul_rows_portable(w, x, y, n, r0, r1);
}

const qdot_isa_ops qdot_plain_ops = {quantize_acts, rows_quant, rows_float, NULL};
