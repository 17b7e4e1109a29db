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
 * accumulators, fused multiply-adds, and one sum of the 16 lanes per output.
 *
 * Where the processor has AMX (Sapphire Rapids and later) and the build knows it, a
 * second table (qdot_amx_ops) multiplies 16 tokens at a time with the tile multiplier,
 * on the same tiles, with the same bits. */
#include "qdot_impl.h"

#ifdef QDOT_HAVE_X86
#if !defined(__AVX512F__) || !defined(__AVX512BW__) || !defined(__AVX512VNNI__) || \
    !defined(__AVX512VL__) || !defined(__F16C__)
#error "qdot_avx512.c must be compiled with AVX-512 (F, BW, VL, VNNI) and F16C enabled (see the Makefile)"
#endif
#include <immintrin.h>

/* qdot_impl.h's quantize_block, 16 values per instruction: the same operations (a
 * maximum, one division, products rounded to nearest even and clamped, where NaN becomes
 * -127 as there), so the same results. */
static inline __attribute__((always_inline)) void quantize_block_avx512(const float *x, int8_t *q,
                                                                       float *d_out, int32_t sums[2]) {
    const __m512 x0 = _mm512_loadu_ps(x), x1 = _mm512_loadu_ps(x + 16);
    const __m512 sign = _mm512_set1_ps(-0.0f);
    float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_andnot_ps(sign, x0), _mm512_andnot_ps(sign, x1)));
    if (_mm512_cmp_ps_mask(x0, x1, _CMP_UNORD_Q)) amax = __builtin_nanf(""); /* a NaN in either */
    const float id = amax > 0.0f ? 127.0f / amax : 0.0f;
    const __m512 lo = _mm512_set1_ps(-127.0f), hi = _mm512_set1_ps(127.0f), vid = _mm512_set1_ps(id);
    __m512i v[2];
    for (int h = 0; h < 2; h++) {
        const __m512 r = _mm512_roundscale_ps(_mm512_mul_ps(h ? x1 : x0, vid),
                                              _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        v[h] = _mm512_cvtps_epi32(_mm512_min_ps(_mm512_max_ps(r, lo), hi)); /* max: NaN -> -127 */
        _mm_storeu_si128((__m128i *)(void *)(q + 16 * h), _mm512_cvtepi32_epi8(v[h]));
        sums[h] = _mm512_reduce_add_epi32(v[h]);
    }
    *d_out = amax / 127.0f;
}
#define QUANTIZE_BLOCK quantize_block_avx512

#define QDOT_TOKENS 8
#define QDOT_FUSED_TILES
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
    spread_columns(stage, cols, c, tq, 0x80808080u); /* the last 32 of a row of 32 * odd */
}

/* ---- tiles of the 32-weight types, decoded straight into the kernel's layout --------- */

/* Two consecutive blocks of a 32-weight type at P, P + BB: their 64 quants plus 128 (the
 * tile's unsigned form), block P's in the low half. */
typedef __m512i (*pair_fn)(const uint8_t *p, size_t bb);

/* Any type with a vector decoder in qdot_blocks.h (its scale outputs unused here). */
#define PAIR_FROM_VEC(name)                                                                    \
    QDOT_INLINE __m512i pair_##name(const uint8_t *p, size_t bb) {                             \
        float unused_sc, unused_mn;                                                            \
        const __m256i lo = vec_##name(p, &unused_sc, &unused_mn);                              \
        const __m256i hi = vec_##name(p + bb, &unused_sc, &unused_mn);                         \
        return _mm512_xor_si512(_mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1),         \
                                _mm512_set1_epi8((char)0x80));                                 \
    }
PAIR_FROM_VEC(q4_0)
PAIR_FROM_VEC(q4_1)
PAIR_FROM_VEC(q5_1)
PAIR_FROM_VEC(iq4_nl)

QDOT_INLINE __m512i pair_q8_0(const uint8_t *p, size_t bb) {
    const __m256i lo = _mm256_loadu_si256((const __m256i *)(const void *)(p + 2));
    const __m256i hi = _mm256_loadu_si256((const __m256i *)(const void *)(p + bb + 2));
    return _mm512_xor_si512(_mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1),
                            _mm512_set1_epi8((char)0x80));
}

/* Q5_0, both blocks at once: the two 16-byte nibble runs side by side, low and high
 * nibbles split and put in weight order (lo0 hi0 lo1 hi1), the 64 fifth bits as a mask
 * adding 16, and -16 + 128 = +112. */
QDOT_INLINE __m512i pair_q5_0(const uint8_t *p, size_t bb) {
    const block_q5_0 *b0 = (const void *)p, *b1 = (const void *)(p + bb);
    const __m256i qs = _mm256_inserti128_si256(
        _mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)(const void *)b0->qs)),
        _mm_loadu_si128((const __m128i *)(const void *)b1->qs), 1);
    const __m256i m = _mm256_set1_epi8(0x0F);
    const __m512i nib = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_and_si256(qs, m)),
                                           _mm256_and_si256(_mm256_srli_epi16(qs, 4), m), 1);
    const __m512i q = _mm512_shuffle_i64x2(nib, nib, _MM_SHUFFLE(3, 1, 2, 0));
    const __mmask64 fifth = (__mmask64)qdot_word(b0->qh) | (__mmask64)qdot_word(b1->qh) << 32;
    return _mm512_add_epi8(_mm512_mask_add_epi8(q, fifth, q, _mm512_set1_epi8(16)),
                           _mm512_set1_epi8(112));
}

/* The fp16 word at byte OFF of block B of each of the tile's rows (OFFSETS: each row's
 * start from BASE), as floats: one gather of the 32 bits there (which stay inside the
 * block); HIGH: the upper 16 bits instead (Q4_1/Q5_1's m after d). */
QDOT_INLINE __m512 gather_halves(const uint8_t *base, __m512i offsets, int64_t off, bool high) {
    __m512i g = _mm512_i32gather_epi32(offsets, (const void *)(base + off), 1);
    if (high) g = _mm512_srli_epi32(g, 16);
    return _mm512_cvtph_ps(_mm512_cvtepi32_epi16(g));
}

/* Rows R0 .. R0+REAL-1 (qdot_impl.h's decode_tile) of a type with BB-byte blocks of 32
 * weights, d (and m) at their start: each row's next two blocks become one vector (PAIR),
 * the 16 rows' are transposed, and the scales of 16 rows come in one gather each, with no
 * stage in between. A row of an odd number of blocks ends with one block done the plain
 * way. */
QDOT_INLINE void fused32(const qtype *ty, const weight *w, int64_t r0, int real,
                         const qdot_scratch *s, bool ahead, const size_t bb, const bool has_min,
                         pair_fn pair) {
    const int64_t nb = w->cols / 32;
    const uint8_t *base = (const uint8_t *)w->data + (uint64_t)r0 * w->row_bytes;
    int32_t off[QDOT_ROWS];
    for (int r = 0; r < QDOT_ROWS; r++) off[r] = (int32_t)((uint64_t)(r < real ? r : real - 1) * w->row_bytes);
    const __m512i offsets = _mm512_loadu_si512(off);
    /* decoding few tokens: the same bytes of the next tile's rows, asked for as these are
     * read, so that the requests keep pace with the reading instead of queueing at once */
    const uint8_t *next = base + QDOT_ROWS * w->row_bytes;
    int64_t b = 0;
    for (; b + 2 <= nb; b += 2) {
        __m512i v[QDOT_ROWS];
        for (int r = 0; r < QDOT_ROWS; r++) {
            if (ahead) {
                __builtin_prefetch(next + (int64_t)r * w->row_bytes + b * bb, 0, 2);
                __builtin_prefetch(next + (int64_t)r * w->row_bytes + b * bb + 64, 0, 2);
            }
            v[r] = pair(base + off[r] + b * bb, bb);
        }
        transpose16(v);
        for (int i = 0; i < 16; i++) _mm512_store_si512(s->tq + (b * 8 + i) * 64, v[i]);
        for (int h = 0; h < 2; h++) {
            _mm512_store_ps(s->tsc + (b + h) * QDOT_ROWS, gather_halves(base, offsets, (b + h) * (int64_t)bb, false));
            if (has_min)
                _mm512_store_ps(s->tmn + (b + h) * QDOT_ROWS, gather_halves(base, offsets, (b + h) * (int64_t)bb, true));
        }
    }
    if (b < nb) { /* the last block: decoded, then spread four bytes at a time */
        int8_t q[QDOT_ROWS][32];
        for (int r = 0; r < QDOT_ROWS; r++)
            ty->decode(base + off[r], b, 1, q[r], s->tsc + b * QDOT_ROWS + r, s->tmn + b * QDOT_ROWS + r);
        spread_columns(&q[0][0], 32, 0, s->tq + b * 8 * 64, 0x80808080u);
    }
}

#define FUSED32(name, type, btype, has_min)                                                    \
    static void fused_##name(const weight *w, int64_t r0, int real, const qdot_scratch *s,     \
                             bool ahead) {                                                     \
        fused32(find_qtype(type), w, r0, real, s, ahead, sizeof(btype), has_min, pair_##name); \
    }
FUSED32(q8_0, GGML_TYPE_Q8_0, block_q8_0, false)
FUSED32(q4_0, GGML_TYPE_Q4_0, block_q4_0, false)
FUSED32(q4_1, GGML_TYPE_Q4_1, block_q4_1, true)
FUSED32(q5_0, GGML_TYPE_Q5_0, block_q5_0, false)
FUSED32(q5_1, GGML_TYPE_Q5_1, block_q5_1, true)
FUSED32(iq4_nl, GGML_TYPE_IQ4_NL, block_iq4_nl, false)

static fused_tile_fn fused_tile(uint32_t type) {
    switch (type) {
    case GGML_TYPE_Q8_0: return fused_q8_0;
    case GGML_TYPE_Q4_0: return fused_q4_0;
    case GGML_TYPE_Q4_1: return fused_q4_1;
    case GGML_TYPE_Q5_0: return fused_q5_0;
    case GGML_TYPE_Q5_1: return fused_q5_1;
    case GGML_TYPE_IQ4_NL: return fused_iq4_nl;
    default: return NULL;
    }
}

QDOT_INLINE __m512i broadcast4(const int8_t *p) {
    int32_t v;
    memcpy(&v, p, sizeof v);
    return _mm512_set1_epi32(v);
}

/* The float part of one sub-block for one token: ISUM, the exact integer sum of its
 * products (the excess of the weights' +128 removed), times the weights' scales SC and the
 * token's DX, and with offsets (HAS_MIN) MN times the token's scaled sum XS, added to ACC
 * in this order. Both integer engines below end each sub-block here, so they give the same
 * bits. */
QDOT_INLINE __m512 finish_sub(__m512 acc, __m512i isum, __m512 sc, float dx, __m512 mn,
                              float xs, const bool has_min) {
    acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_mul_ps(sc, _mm512_set1_ps(dx)), acc);
    if (has_min) acc = _mm512_fmadd_ps(mn, _mm512_set1_ps(xs), acc);
    return acc;
}

QDOT_INLINE void store_rows(float *y, __m512 v, int real) {
    if (real == QDOT_ROWS)
        _mm512_storeu_ps(y, v);
    else
        _mm512_mask_storeu_ps(y, (__mmask16)((1u << real) - 1), v);
}

/* NT tokens (a constant after inlining) from T0, S weights per sub-block. */
QDOT_INLINE void tokens_body(const qtile *t, const qdot_acts *xa, int t0, float *y,
                             int64_t y_stride, int real, const int S, const bool has_min,
                             const int NT) {
    const int64_t cols = t->cols, n = xa->n;
    const int nsub = (int)(cols / S);
    const int8_t *xq = xa->q + (int64_t)t0 * cols; /* token k's: xq + k * cols */
    __m512 acc[QDOT_TOKENS];
    for (int k = 0; k < NT; k++) acc[k] = _mm512_setzero_ps();
    for (int j = 0; j < nsub; j++) {
        const int8_t *wq = t->q + (int64_t)j * S * QDOT_ROWS;
        /* this sub-block's numbers for tokens t0.. (token-minor, see qdot_acts) */
        const int32_t *xb = (S == 16 ? xa->bias16 : xa->bias32) + j * n + t0;
        const float *xs = (S == 16 ? xa->sum16 : xa->sum32) + j * n + t0;
        const float *xd = xa->d + (int64_t)(j * S / 32) * n + t0;
        /* two chains of sums per token: integers, so their order changes nothing */
        __m512i is0[QDOT_TOKENS], is1[QDOT_TOKENS];
        for (int k = 0; k < NT; k++) {
            is0[k] = _mm512_set1_epi32(xb[k]);
            is1[k] = _mm512_setzero_si512();
        }
        for (int k4 = 0; k4 < S / 4; k4 += 2) {
            const __m512i w0 = _mm512_load_si512(wq + k4 * 64);
            const __m512i w1 = _mm512_load_si512(wq + (k4 + 1) * 64);
            for (int k = 0; k < NT; k++) {
                const int8_t *x = xq + k * cols + (int64_t)j * S + 4 * k4;
                is0[k] = _mm512_dpbusd_epi32(is0[k], w0, broadcast4(x));
                is1[k] = _mm512_dpbusd_epi32(is1[k], w1, broadcast4(x + 4));
            }
        }
        const __m512 sc = _mm512_load_ps(t->sc + (int64_t)j * QDOT_ROWS);
        const __m512 mn = has_min ? _mm512_load_ps(t->mn + (int64_t)j * QDOT_ROWS) : sc;
        for (int k = 0; k < NT; k++)
            acc[k] = finish_sub(acc[k], _mm512_add_epi32(is0[k], is1[k]), sc, xd[k], mn, xs[k], has_min);
    }
    for (int k = 0; k < NT; k++) store_rows(y + k * y_stride, acc[k], real);
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

/* ---- AMX: 16 tokens at a time through the tile multiplier --------------------------- */

#ifdef __AMX_INT8__
#include <sys/syscall.h>
#include <unistd.h>

enum { AMX_TOKENS = 16 };

/* Linux hands out the tiles' 8 KiB of state only to processes that ask for it. */
static bool amx_ready(void) {
#ifdef __linux__
    enum { ARCH_REQ_XCOMP_PERM = 0x1023, XFEATURE_XTILEDATA = 18 };
    return syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) == 0;
#else
    return false;
#endif
}

typedef struct amx_config {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} amx_config;

/* Tiles 0 and 1: sums, 16 tokens x 16 rows of int32; 2 and 3: activations, 16 tokens x S
 * bytes; 4 and 5: weights, S / 4 x 64 bytes (the tile's layout as it is). Even and odd
 * sub-blocks alternate, so that one's sums are read while the next is multiplied. */
static void amx_configure(int S) {
    amx_config c;
    memset(&c, 0, sizeof c);
    c.palette = 1;
    for (int i = 0; i < 2; i++) {
        c.rows[i] = AMX_TOKENS;
        c.colsb[i] = QDOT_ROWS * 4;
        c.rows[2 + i] = AMX_TOKENS;
        c.colsb[2 + i] = (uint16_t)S;
        c.rows[4 + i] = (uint8_t)(S / 4);
        c.colsb[4 + i] = QDOT_ROWS * 4;
    }
    _tile_loadconfig(&c);
}

/* A sub-block's integer sums for 16 tokens into tile C, from activations A (tile TA,
 * rows LDA bytes apart) and weights B (tile TB). Tile numbers must be literals. */
#define AMX_MULTIPLY(C, TA, TB, a, b, lda)                                                     \
    do {                                                                                       \
        _tile_zero(C);                                                                         \
        _tile_loadd(TA, a, lda);                                                               \
        _tile_loadd(TB, b, QDOT_ROWS * 4);                                                     \
        _tile_dpbsud(C, TA, TB);                                                               \
    } while (0)

/* Tokens T0 .. T0+15: TDPBSUD multiplies the signed activations by the tile's weights
 * plus 128 (unsigned), exactly, AMX_GROUP sub-blocks at a time (each one's sums stored
 * while the next is multiplied); finish_sub then adds the excess and the floats as the
 * VPDPBUSD kernel does, sub-block after sub-block, for four tokens at a time. */
enum { AMX_GROUP = 16 };

QDOT_INLINE void amx_body(const qtile *t, const qdot_acts *xa, int t0, float *y, int64_t y_stride,
                          int real, const int S, const bool has_min) {
    const int64_t cols = t->cols, n = xa->n;
    const int nsub = (int)(cols / S);
    const int8_t *a = xa->q + (int64_t)t0 * cols;
    _Alignas(64) int32_t sums[AMX_GROUP][AMX_TOKENS][QDOT_ROWS];
    _Alignas(64) float accs[AMX_TOKENS][QDOT_ROWS];
    memset(accs, 0, sizeof accs);
    for (int g0 = 0; g0 < nsub; g0 += AMX_GROUP) {
        const int ng = nsub - g0 < AMX_GROUP ? nsub - g0 : AMX_GROUP;
        for (int j = 0; j <= ng; j++) {
            const int64_t p = g0 + j;
            if (j < ng && j % 2 == 0) AMX_MULTIPLY(0, 2, 4, a + p * S, t->q + p * S * QDOT_ROWS, cols);
            if (j < ng && j % 2 == 1) AMX_MULTIPLY(1, 3, 5, a + p * S, t->q + p * S * QDOT_ROWS, cols);
            if (j > 0 && (j - 1) % 2 == 0) _tile_stored(0, sums[j - 1], QDOT_ROWS * 4);
            if (j > 0 && (j - 1) % 2 == 1) _tile_stored(1, sums[j - 1], QDOT_ROWS * 4);
        }
        for (int k0 = 0; k0 < AMX_TOKENS; k0 += 4) {
            __m512 acc[4];
            for (int k = 0; k < 4; k++) acc[k] = _mm512_load_ps(accs[k0 + k]);
            for (int j = 0; j < ng; j++) {
                const int64_t p = g0 + j;
                const __m512 sc = _mm512_load_ps(t->sc + p * QDOT_ROWS);
                const __m512 mn = has_min ? _mm512_load_ps(t->mn + p * QDOT_ROWS) : sc;
                const int32_t *xb = (S == 16 ? xa->bias16 : xa->bias32) + p * n + t0 + k0;
                const float *xs = (S == 16 ? xa->sum16 : xa->sum32) + p * n + t0 + k0;
                const float *xd = xa->d + p * S / 32 * n + t0 + k0;
                for (int k = 0; k < 4; k++) {
                    const __m512i isum = _mm512_add_epi32(_mm512_load_si512(sums[j][k0 + k]),
                                                          _mm512_set1_epi32(xb[k]));
                    acc[k] = finish_sub(acc[k], isum, sc, xd[k], mn, xs[k], has_min);
                }
            }
            for (int k = 0; k < 4; k++) _mm512_store_ps(accs[k0 + k], acc[k]);
        }
    }
    for (int k = 0; k < AMX_TOKENS; k++) store_rows(y + k * y_stride, _mm512_load_ps(accs[k]), real);
}

/* Whole groups of 16 tokens through the tiles, fewer through VPDPBUSD. */
static void amx_kernel(const qtile *t, const qdot_acts *xa, int t0, int nt, float *y,
                       int64_t y_stride, int real) {
    if (nt < AMX_TOKENS) {
        for (int k = 0; k < nt; k += QDOT_TOKENS)
            tile_kernel(t, xa, t0 + k, nt - k < QDOT_TOKENS ? nt - k : QDOT_TOKENS,
                        y + k * y_stride, y_stride, real);
    } else if (t->sub == 16) {
        if (t->has_min) amx_body(t, xa, t0, y, y_stride, real, 16, true);
        else amx_body(t, xa, t0, y, y_stride, real, 16, false);
    } else {
        if (t->has_min) amx_body(t, xa, t0, y, y_stride, real, 32, true);
        else amx_body(t, xa, t0, y, y_stride, real, 32, false);
    }
}

static bool rows_quant_amx(const weight *w, const qdot_acts *xa, float *y, int n, int64_t r0,
                           int64_t r1, void *scratch) {
    const qtype *ty = find_qtype(w->type);
    if (!ty) return false;
    if (n < AMX_TOKENS) {
        rows_quant_by(ty, tile_kernel, QDOT_TOKENS, w, xa, y, n, r0, r1, scratch);
        return true;
    }
    amx_configure(ty->sub); /* per thread, so per call */
    rows_quant_by(ty, amx_kernel, AMX_TOKENS, w, xa, y, n, r0, r1, scratch);
    _tile_release();
    return true;
}

const qdot_isa_ops qdot_amx_ops = {quantize_acts, rows_quant_amx, rows_float, amx_ready};
#else
const qdot_isa_ops qdot_amx_ops = {quantize_acts, rows_quant, rows_float, NULL}; /* never used */
#endif

const qdot_isa_ops qdot_avx512_ops = {quantize_acts, rows_quant, rows_float, NULL};

#else
typedef int qdot_avx512_unused; /* not an x86-64 build: nothing here */
#endif
