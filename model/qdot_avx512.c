/* qdot_avx512.c — qdot.h's kernels for AVX-512 with VNNI (Ice Lake, Sapphire Rapids, Zen 4
 * and later), compiled with those instructions enabled (see the Makefile) and run only
 * where qdot_isa_available says the processor has them.
 *
 * Quantised weights: each 512-bit vector holds four consecutive weights of each of the
 * tile's 16 rows, and VPDPBUSD adds four products per row into that row's 32-bit lane:
 * a vector of weights meets one token's four activations, broadcast. VPDPBUSD multiplies
 * unsigned by signed bytes, so the tile holds each quant plus 128 (q ^ 0x80) and every
 * sub-block's sum starts from -128 * (the sum of its activations): the excess, exactly.
 * The sums are exact integers; each sub-block then adds its float part, in lane order.
 *
 * Float weights: 16 consecutive columns per vector, four rows times four tokens of
 * accumulators, fused multiply-adds, and one sum of the 16 lanes per output. */
#include "qdot_impl.h"

#ifdef QDOT_HAVE_X86
#if !defined(__AVX512F__) || !defined(__AVX512BW__) || !defined(__AVX512VNNI__) || \
    !defined(__AVX512VL__) || !defined(__F16C__)
#error "qdot_avx512.c must be compiled with AVX-512 (F, BW, VL, VNNI) and F16C enabled (see the Makefile)"
#endif
#include <immintrin.h>

#define QDOT_TOKENS 8
#define QDOT_DRIVER
#include "qdot_impl.h"

/* 16 rows of 64 bytes (16 dwords each) -> 16 vectors, vector k holding dword k of every
 * row: a 16 x 16 transpose of dwords in four rounds of shuffles. */
QDOT_INLINE void transpose16(__m512i r[16]) {
    __m512i t[16], u[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_epi32(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_epi32(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {
        u[i] = _mm512_unpacklo_epi64(t[i], t[i + 2]);
        u[i + 1] = _mm512_unpackhi_epi64(t[i], t[i + 2]);
        u[i + 2] = _mm512_unpacklo_epi64(t[i + 1], t[i + 3]);
        u[i + 3] = _mm512_unpackhi_epi64(t[i + 1], t[i + 3]);
    }
    /* u[4g + c] holds dwords c, c+4, c+8, c+12 of rows 4g .. 4g+3, one per 128-bit lane */
    for (int c = 0; c < 4; c++) {
        const __m512i v0 = _mm512_shuffle_i32x4(u[c], u[4 + c], 0x88);
        const __m512i v1 = _mm512_shuffle_i32x4(u[c], u[4 + c], 0xdd);
        const __m512i v2 = _mm512_shuffle_i32x4(u[8 + c], u[12 + c], 0x88);
        const __m512i v3 = _mm512_shuffle_i32x4(u[8 + c], u[12 + c], 0xdd);
        r[c] = _mm512_shuffle_i32x4(v0, v2, 0x88);
        r[c + 8] = _mm512_shuffle_i32x4(v0, v2, 0xdd);
        r[c + 4] = _mm512_shuffle_i32x4(v1, v3, 0x88);
        r[c + 12] = _mm512_shuffle_i32x4(v1, v3, 0xdd);
    }
}

static void interleave(const int8_t *stage, int64_t cols, int8_t *tq) {
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    int64_t c = 0;
    for (; c + 64 <= cols; c += 64) {
        __m512i r[16];
        for (int i = 0; i < 16; i++) r[i] = _mm512_loadu_si512(stage + i * cols + c);
        transpose16(r);
        for (int i = 0; i < 16; i++)
            _mm512_store_si512(tq + (c / 4 + i) * 64, _mm512_xor_si512(r[i], flip));
    }
    for (; c < cols; c += 4) /* the last 32 of a row of 32 * odd */
        for (int i = 0; i < 16; i++) {
            uint32_t v;
            memcpy(&v, stage + i * cols + c, 4);
            v ^= 0x80808080u;
            memcpy(tq + (c / 4 * 16 + i) * 4, &v, 4);
        }
}

QDOT_INLINE __m512i broadcast4(const int8_t *p) {
    int32_t v;
    memcpy(&v, p, sizeof v);
    return _mm512_set1_epi32(v);
}

/* NT tokens (a constant after inlining) from T0, S weights per sub-block. */
QDOT_INLINE void tokens_body(const qtile *t, const qdot_acts *xa, int t0, float *y,
                             int64_t y_stride, int real, const int S, const bool has_min,
                             const int NT) {
    const int64_t cols = t->cols;
    const int nsub = (int)(cols / S);
    const int8_t *xq[QDOT_TOKENS];
    const float *xd[QDOT_TOKENS], *xs[QDOT_TOKENS];
    const int32_t *xb[QDOT_TOKENS];
    __m512 acc[QDOT_TOKENS];
    for (int k = 0; k < NT; k++) {
        const int64_t tok = t0 + k;
        xq[k] = xa->q + tok * cols;
        xd[k] = xa->d + tok * (cols / 32);
        xs[k] = (S == 16 ? xa->sum16 : xa->sum32) + tok * nsub;
        xb[k] = (S == 16 ? xa->bias16 : xa->bias32) + tok * nsub;
        acc[k] = _mm512_setzero_ps();
    }
    for (int j = 0; j < nsub; j++) {
        const int8_t *wq = t->q + (int64_t)j * S * QDOT_ROWS;
        /* two chains of sums per token: integers, so their order changes nothing */
        __m512i is0[QDOT_TOKENS], is1[QDOT_TOKENS];
        for (int k = 0; k < NT; k++) {
            is0[k] = _mm512_set1_epi32(xb[k][j]);
            is1[k] = _mm512_setzero_si512();
        }
        for (int k4 = 0; k4 < S / 4; k4 += 2) {
            const __m512i w0 = _mm512_load_si512(wq + k4 * 64);
            const __m512i w1 = _mm512_load_si512(wq + (k4 + 1) * 64);
            for (int k = 0; k < NT; k++) {
                const int8_t *x = xq[k] + (int64_t)j * S + 4 * k4;
                is0[k] = _mm512_dpbusd_epi32(is0[k], w0, broadcast4(x));
                is1[k] = _mm512_dpbusd_epi32(is1[k], w1, broadcast4(x + 4));
            }
        }
        const __m512 sc = _mm512_load_ps(t->sc + (int64_t)j * QDOT_ROWS);
        for (int k = 0; k < NT; k++) {
            const __m512 scale = _mm512_mul_ps(sc, _mm512_set1_ps(xd[k][j * S / 32]));
            acc[k] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(is0[k], is1[k])), scale,
                                     acc[k]);
        }
        if (has_min) {
            const __m512 mn = _mm512_load_ps(t->mn + (int64_t)j * QDOT_ROWS);
            for (int k = 0; k < NT; k++) acc[k] = _mm512_fmadd_ps(mn, _mm512_set1_ps(xs[k][j]), acc[k]);
        }
    }
    const __mmask16 keep = (__mmask16)((1u << real) - 1);
    for (int k = 0; k < NT; k++) {
        if (real == QDOT_ROWS)
            _mm512_storeu_ps(y + k * y_stride, acc[k]);
        else
            _mm512_mask_storeu_ps(y + k * y_stride, keep, acc[k]);
    }
}

#define TOKENS_CASE(S, M, N) \
    case N: tokens_body(t, xa, t0, y, y_stride, real, S, M, N); break;
#define TOKENS_SWITCH(S, M)                                                                   \
    switch (nt) {                                                                             \
        TOKENS_CASE(S, M, 1) TOKENS_CASE(S, M, 2) TOKENS_CASE(S, M, 3) TOKENS_CASE(S, M, 4)   \
        TOKENS_CASE(S, M, 5) TOKENS_CASE(S, M, 6) TOKENS_CASE(S, M, 7)                        \
        default: tokens_body(t, xa, t0, y, y_stride, real, S, M, 8); break;                  \
    }

static void tile_kernel(const qtile *t, const qdot_acts *xa, int t0, int nt, float *y,
                        int64_t y_stride, int real) {
    if (t->sub == 16) {
        if (t->has_min) TOKENS_SWITCH(16, true) else TOKENS_SWITCH(16, false)
    } else {
        if (t->has_min) TOKENS_SWITCH(32, true) else TOKENS_SWITCH(32, false)
    }
}

/* ---- float weights ------------------------------------------------------------------- */

enum { FROWS = 4, FTOKENS = 4 };

/* 16 weights from column C of a row of TYPE (MASK: the columns that exist), as floats. */
QDOT_INLINE __m512 load_weights(uint32_t type, const uint8_t *row, int64_t c, __mmask16 mask) {
    switch (type) {
    case GGML_TYPE_F32: return _mm512_maskz_loadu_ps(mask, row + 4 * c);
    case GGML_TYPE_F16: return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(mask, row + 2 * c));
    default: /* BF16: the top half of an f32 */
        return _mm512_castsi512_ps(
            _mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(mask, row + 2 * c)), 16));
    }
}

/* Rows ROW[0..FROWS) times NT tokens (a constant after inlining); the first REAL rows are
 * stored. */
QDOT_INLINE void float_group(uint32_t type, const weight *w, const uint8_t *const row[FROWS],
                             const float *x, float *y, int real, const int NT) {
    const int64_t cols = w->cols;
    __m512 acc[FROWS][FTOKENS];
    for (int r = 0; r < FROWS; r++)
        for (int k = 0; k < NT; k++) acc[r][k] = _mm512_setzero_ps();
    for (int64_t c = 0; c < cols; c += 16) {
        const __mmask16 m = cols - c >= 16 ? 0xFFFF : (__mmask16)((1u << (cols - c)) - 1);
        __m512 wv[FROWS], xv[FTOKENS];
        for (int r = 0; r < FROWS; r++) wv[r] = load_weights(type, row[r], c, m);
        for (int k = 0; k < NT; k++) xv[k] = _mm512_maskz_loadu_ps(m, x + k * cols + c);
        for (int r = 0; r < FROWS; r++)
            for (int k = 0; k < NT; k++) acc[r][k] = _mm512_fmadd_ps(wv[r], xv[k], acc[r][k]);
    }
    for (int r = 0; r < real; r++)
        for (int k = 0; k < NT; k++) y[k * w->rows + r] = _mm512_reduce_add_ps(acc[r][k]);
}

QDOT_INLINE void float_rows(uint32_t type, const weight *w, const float *x, float *y, int n,
                            int64_t r0, int64_t r1) {
    for (int64_t g = r0; g < r1; g += FROWS) {
        const int real = r1 - g < FROWS ? (int)(r1 - g) : FROWS;
        const uint8_t *row[FROWS];
        for (int r = 0; r < FROWS; r++) /* past the end: the last row again, not stored */
            row[r] = (const uint8_t *)w->data + (uint64_t)(g + (r < real ? r : real - 1)) * w->row_bytes;
        for (int t0 = 0; t0 < n; t0 += FTOKENS) {
            const float *xt = x + (int64_t)t0 * w->cols;
            float *yt = y + (int64_t)t0 * w->rows + g;
            switch (n - t0 < FTOKENS ? n - t0 : FTOKENS) {
            case 1: float_group(type, w, row, xt, yt, real, 1); break;
            case 2: float_group(type, w, row, xt, yt, real, 2); break;
            case 3: float_group(type, w, row, xt, yt, real, 3); break;
            default: float_group(type, w, row, xt, yt, real, 4); break;
            }
        }
    }
}

static void rows_float(const weight *w, const float *x, float *y, int n, int64_t r0, int64_t r1) {
    switch (w->type) {
    case GGML_TYPE_F32: float_rows(GGML_TYPE_F32, w, x, y, n, r0, r1); break;
    case GGML_TYPE_F16: float_rows(GGML_TYPE_F16, w, x, y, n, r0, r1); break;
    default: float_rows(GGML_TYPE_BF16, w, x, y, n, r0, r1); break;
    }
}

const qdot_isa_ops qdot_avx512_ops = {quantize_acts, rows_quant, rows_float};

#else
typedef int qdot_avx512_unused; /* not an x86-64 build: nothing here */
#endif
