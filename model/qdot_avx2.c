/* qdot_avx2.c — qdot.h's kernels for AVX2 with FMA and F16C (Haswell, Zen and later),
 * compiled with those instructions enabled (see the Makefile) and run only where
 * qdot_isa_available says the processor has them.
 *
 * Quantised weights: the layout of qdot_avx512.c (four consecutive weights of each of 16
 * rows per 64 bytes), taken as two halves of eight rows. AVX2 has no VPDPBUSD: VPMADDUBSW
 * multiplies unsigned by signed bytes and adds pairs into 16 bits, saturating, so the
 * weights go in as magnitudes and their signs move to the activations (VPSIGNB), which
 * keeps every pair within 2 * 128 * 127; VPMADDWD with ones then adds pairs into the 32-bit
 * lanes. Float weights: eight columns per vector, four rows times two tokens. */
#include "qdot_impl.h"

#ifdef QDOT_HAVE_X86
#if !defined(__AVX2__) || !defined(__FMA__) || !defined(__F16C__)
#error "qdot_avx2.c must be compiled with AVX2, FMA and F16C enabled (see the Makefile)"
#endif
#include <immintrin.h>
#include <math.h>

/* qdot_impl.h's quantize_block, eight values per instruction, with the same results (see
 * qdot_avx512.c's). */
static inline __attribute__((always_inline)) void quantize_block_avx2(const float *x, int8_t *q,
                                                                     float *d_out, int32_t sums[2]) {
    __m256 v[4], m = _mm256_setzero_ps(), nan = _mm256_setzero_ps();
    const __m256 sign = _mm256_set1_ps(-0.0f);
    for (int i = 0; i < 4; i++) {
        v[i] = _mm256_loadu_ps(x + 8 * i);
        m = _mm256_max_ps(m, _mm256_andnot_ps(sign, v[i]));
        nan = _mm256_or_ps(nan, _mm256_cmp_ps(v[i], v[i], _CMP_UNORD_Q));
    }
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    float amax = _mm_cvtss_f32(_mm_max_ss(m4, _mm_movehdup_ps(m4)));
    if (_mm256_movemask_ps(nan)) amax = __builtin_nanf("");
    const float id = amax > 0.0f ? 127.0f / amax : 0.0f;
    const __m256 lo = _mm256_set1_ps(-127.0f), hi = _mm256_set1_ps(127.0f), vid = _mm256_set1_ps(id);
    __m256i n[4];
    for (int i = 0; i < 4; i++) {
        const __m256 r = _mm256_round_ps(_mm256_mul_ps(v[i], vid), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        n[i] = _mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(r, lo), hi)); /* max: NaN -> -127 */
    }
    /* 32 int32 -> 32 int8 in order: packs work within 128-bit halves, a permute restores it */
    const __m256i w = _mm256_packs_epi16(_mm256_packs_epi32(n[0], n[1]), _mm256_packs_epi32(n[2], n[3]));
    _mm256_storeu_si256((__m256i *)(void *)q,
                        _mm256_permutevar8x32_epi32(w, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
    for (int h = 0; h < 2; h++) {
        __m256i s = _mm256_add_epi32(n[2 * h], n[2 * h + 1]);
        __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
        s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0x4E));
        sums[h] = _mm_cvtsi128_si32(_mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0xB1)));
    }
    *d_out = amax / 127.0f;
}
#define QUANTIZE_BLOCK quantize_block_avx2

#define QDOT_TOKENS 4
#define QDOT_DRIVER
#include "qdot_impl.h"

static void interleave(const int8_t *stage, int64_t cols, int8_t *tq) {
    spread_columns(stage, cols, 0, tq, 0);
}

/* Eight rows (HALF of the tile) times NT tokens (a constant after inlining). */
QDOT_INLINE void half_body(const qtile *t, const qdot_acts *xa, int t0, float *y,
                           int64_t y_stride, int half, int real, const int S,
                           const bool has_min, const int NT) {
    const int64_t cols = t->cols;
    const int nsub = (int)(cols / S);
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 acc[QDOT_TOKENS];
    for (int k = 0; k < NT; k++) acc[k] = _mm256_setzero_ps();
    for (int j = 0; j < nsub; j++) {
        const int8_t *wq = t->q + (int64_t)j * S * QDOT_ROWS + 32 * half;
        __m256i is[QDOT_TOKENS];
        for (int k = 0; k < NT; k++) is[k] = _mm256_setzero_si256();
        for (int k4 = 0; k4 < S / 4; k4++) {
            const __m256i w = _mm256_load_si256((const __m256i *)(const void *)(wq + k4 * 64));
            const __m256i aw = _mm256_abs_epi8(w);
            for (int k = 0; k < NT; k++) {
                int32_t x4;
                memcpy(&x4, xa->q + (int64_t)(t0 + k) * cols + (int64_t)j * S + 4 * k4, 4);
                const __m256i sx = _mm256_sign_epi8(_mm256_set1_epi32(x4), w);
                is[k] = _mm256_add_epi32(is[k], _mm256_madd_epi16(_mm256_maddubs_epi16(aw, sx), ones));
            }
        }
        const __m256 sc = _mm256_load_ps(t->sc + (int64_t)j * QDOT_ROWS + 8 * half);
        for (int k = 0; k < NT; k++) {
            const float dx = xa->d[(int64_t)(j * S / 32) * xa->n + t0 + k];
            acc[k] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(is[k]), _mm256_mul_ps(sc, _mm256_set1_ps(dx)), acc[k]);
        }
        if (has_min) {
            const __m256 mn = _mm256_load_ps(t->mn + (int64_t)j * QDOT_ROWS + 8 * half);
            const float *xs = S == 16 ? xa->sum16 : xa->sum32;
            for (int k = 0; k < NT; k++)
                acc[k] = _mm256_fmadd_ps(mn, _mm256_set1_ps(xs[(int64_t)j * xa->n + t0 + k]), acc[k]);
        }
    }
    const int n_store = real - 8 * half < 8 ? real - 8 * half : 8;
    for (int k = 0; k < NT; k++) {
        float out[8];
        _mm256_storeu_ps(out, acc[k]);
        memcpy(y + k * y_stride + 8 * half, out, (size_t)n_store * sizeof(float));
    }
}

QDOT_INLINE void tile_body(const qtile *t, const qdot_acts *xa, int t0, int nt, float *y,
                           int64_t y_stride, int real, const int S, const bool has_min) {
    for (int half = 0; half < 2 && 8 * half < real; half++) {
        switch (nt) {
        case 1: half_body(t, xa, t0, y, y_stride, half, real, S, has_min, 1); break;
        case 2: half_body(t, xa, t0, y, y_stride, half, real, S, has_min, 2); break;
        case 3: half_body(t, xa, t0, y, y_stride, half, real, S, has_min, 3); break;
        default: half_body(t, xa, t0, y, y_stride, half, real, S, has_min, 4); break;
        }
    }
}

static void tile_kernel(const qtile *t, const qdot_acts *xa, int t0, int nt, float *y,
                        int64_t y_stride, int real) {
    if (t->sub == 16) {
        if (t->has_min) tile_body(t, xa, t0, nt, y, y_stride, real, 16, true);
        else tile_body(t, xa, t0, nt, y, y_stride, real, 16, false);
    } else {
        if (t->has_min) tile_body(t, xa, t0, nt, y, y_stride, real, 32, true);
        else tile_body(t, xa, t0, nt, y, y_stride, real, 32, false);
    }
}

/* ---- float weights ------------------------------------------------------------------- */

enum { FROWS = 4, FTOKENS = 2 };

/* 8 weights from column C of a row of TYPE, as floats. */
QDOT_INLINE __m256 load_weights(uint32_t type, const uint8_t *row, int64_t c) {
    switch (type) {
    case GGML_TYPE_F32: return _mm256_loadu_ps((const float *)(const void *)(row + 4 * c));
    case GGML_TYPE_F16: return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)(row + 2 * c)));
    default:
        return _mm256_castsi256_ps(_mm256_slli_epi32(
            _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(const void *)(row + 2 * c))), 16));
    }
}

QDOT_INLINE float weight_at(uint32_t type, const uint8_t *row, int64_t c) {
    uint16_t h;
    float f;
    switch (type) {
    case GGML_TYPE_F32: memcpy(&f, row + 4 * c, sizeof f); return f;
    case GGML_TYPE_F16: memcpy(&h, row + 2 * c, sizeof h); return qdot_half(h);
    default: {
        memcpy(&h, row + 2 * c, sizeof h);
        const uint32_t bits = (uint32_t)h << 16;
        memcpy(&f, &bits, sizeof f);
        return f;
    }
    }
}

QDOT_INLINE float lanes_sum(__m256 v) {
    const __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    const __m128 s2 = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(s2, _mm_movehdup_ps(s2)));
}

QDOT_INLINE void float_group(uint32_t type, const weight *w, const uint8_t *const row[FROWS],
                             const float *x, float *y, int real, const int NT) {
    const int64_t cols = w->cols, body = cols - cols % 8;
    __m256 acc[FROWS][FTOKENS];
    for (int r = 0; r < FROWS; r++)
        for (int k = 0; k < NT; k++) acc[r][k] = _mm256_setzero_ps();
    for (int64_t c = 0; c < body; c += 8) {
        __m256 wv[FROWS], xv[FTOKENS];
        for (int r = 0; r < FROWS; r++) wv[r] = load_weights(type, row[r], c);
        for (int k = 0; k < NT; k++) xv[k] = _mm256_loadu_ps(x + k * cols + c);
        for (int r = 0; r < FROWS; r++)
            for (int k = 0; k < NT; k++) acc[r][k] = _mm256_fmadd_ps(wv[r], xv[k], acc[r][k]);
    }
    for (int r = 0; r < real; r++)
        for (int k = 0; k < NT; k++) {
            float s = lanes_sum(acc[r][k]);
            for (int64_t c = body; c < cols; c++) s = fmaf(weight_at(type, row[r], c), x[k * cols + c], s);
            y[k * w->rows + r] = s;
        }
}

QDOT_INLINE void float_rows(uint32_t type, const weight *w, const float *x, float *y, int n,
                            int64_t r0, int64_t r1) {
    for (int64_t g = r0; g < r1; g += FROWS) {
        const int real = r1 - g < FROWS ? (int)(r1 - g) : FROWS;
        const uint8_t *row[FROWS];
        for (int r = 0; r < FROWS; r++)
            row[r] = (const uint8_t *)w->data + (uint64_t)(g + (r < real ? r : real - 1)) * w->row_bytes;
        for (int t0 = 0; t0 < n; t0 += FTOKENS) {
            const float *xt = x + (int64_t)t0 * w->cols;
            float *yt = y + (int64_t)t0 * w->rows + g;
            if (n - t0 == 1) float_group(type, w, row, xt, yt, real, 1);
            else float_group(type, w, row, xt, yt, real, 2);
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

const qdot_isa_ops qdot_avx2_ops = {quantize_acts, rows_quant, rows_float, NULL};

#else
typedef int qdot_avx2_unused; /* not an x86-64 build: nothing here */
#endif
