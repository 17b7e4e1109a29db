/* ops_fast.c — matrix products straight from the stored blocks, and attention, with the
 * results of ops.c (see ops_fast.h).
 *
 * Rows are taken four at a time. For each block position, the block of each of the four
 * rows is decoded into a small float array (it stays in the first-level cache) and its
 * products with every input vector are added into that vector's eight partial sums.
 * Everything is plain C with fixed trip counts so that the compiler turns it into SIMD
 * code (the Makefile builds this file with -O3, which lets GCC vectorise it). The
 * formulas are quant.c's dequantisation and the partial sums are ops.c's dot(): the same
 * operations in the same order, so the same bits as op_matmul. */
#include "ops_fast.h"
#include "fast_copy.h"
#include "ops.h"
#include "quant.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* The products and attention have an AVX2 copy on x86-64 (fast_copy.h). */
#ifdef HAVE_AVX2_COPY
#include <immintrin.h>
#endif

/* Rows taken at a time: their partial sums are independent chains of additions that the
 * processor overlaps, where one row's eight sums alone would wait on each addition (with
 * one input vector, as in decoding, that wait would be the limit). */
#define ROWS FAST_ROW_GROUP

/* F32/F16/BF16 rows have no blocks; they are converted this many elements at a time. */
#define PLAIN_CHUNK 256

typedef float lanes[LANES];

/* fp16_to_f32 without the call (scales need one per block): the same bits for every
 * input. */
INLINE float half_to_float(uint16_t h) { return fp16_to_f32_inline(h); }

#ifdef HAVE_AVX2_COPY
/* F16 rows in the AVX2 copy: the processor's own conversion (F16C, which every AVX2
 * processor has), eight halves per instruction. Exact like fp16_to_f32, except that a
 * signalling NaN comes out quiet (no model stores NaN weights that matter). */
__attribute__((target("avx2,f16c"))) static void halves_f16c(const uint8_t *src, float *w,
                                                             int len) {
    int i = 0;
    for (; i + 8 <= len; i += 8)
        _mm256_storeu_ps(w + i, _mm256_cvtph_ps(_mm_loadu_si128((const void *)(src + 2 * i))));
    for (; i < len; i++) {
        uint16_t h;
        memcpy(&h, src + 2 * i, sizeof h);
        w[i] = half_to_float(h);
    }
}
#endif

/* ---- decoding one block: the formulas of quant.c, weight by weight ------------------ */

INLINE void decode_q8_0(const block_q8_0 *b, float *w) {
    const float d = half_to_float(b->d);
    for (int j = 0; j < QK8_0; j++) w[j] = b->qs[j] * d;
}

INLINE void decode_q4_0(const block_q4_0 *b, float *w) {
    const float d = half_to_float(b->d);
    for (int j = 0; j < QK4_0 / 2; j++) w[j] = ((b->qs[j] & 0x0F) - 8) * d;
    for (int j = 0; j < QK4_0 / 2; j++) w[j + QK4_0 / 2] = ((b->qs[j] >> 4) - 8) * d;
}

/* Eight bytes as one word and back, byte k in bits 8k..8k+7: the file's byte order,
 * which is the processor's (a little-endian host is assumed throughout, as in every
 * direct read of a block's fp16 scales). */
INLINE uint64_t bytes_word(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}
INLINE void word_bytes(uint64_t v, uint8_t *p) { memcpy(p, &v, sizeof v); }

#define BYTES(x) (0x0101010101010101u * (x)) /* byte X in every byte of a word */

/* The quants of a 32-weight block with 16 bytes of nibbles (low nibbles weights 0..15,
 * high nibbles 16..31) and, if QH is not NULL, a fifth bit per weight (bit j of the
 * little-endian word QH for weight j), eight weights per word operation: a vectoriser
 * handles these bit patterns badly (the fifth bits would be shifted into place lane by
 * lane), and the conversion that follows becomes Q8_0's byte-to-float loop. */
INLINE void block32_quants(const uint8_t qs[16], const uint8_t *qh, uint8_t q[32]) {
    const uint64_t a = bytes_word(qs), b = bytes_word(qs + 8);
    uint64_t v[4] = {a & BYTES(0x0f), b & BYTES(0x0f), (a >> 4) & BYTES(0x0f), (b >> 4) & BYTES(0x0f)};
    for (int i = 0; qh && i < 4; i++) {
        /* byte k of X: bit k of qh[i]; a nonzero byte plus 0x7f has its top bit set, with
         * no carry into the next byte; that bit moved down to bit 4 is 16 */
        const uint64_t x = BYTES(qh[i]) & 0x8040201008040201u;
        v[i] |= (((x + BYTES(0x7f)) | x) & BYTES(0x80)) >> 3;
    }
    for (int i = 0; i < 4; i++) word_bytes(v[i], q + 8 * i);
}

/* MXFP4: the nibbles (placed as Q4_0's) index the doubled E2M1 values of quant.c's
 * table, times the halved power-of-two scale: the same integers and the same products.
 * The AVX2 copy looks the sixteen values up with a byte shuffle (mxfp4_blocks_avx2). */
INLINE void decode_mxfp4(const block_mxfp4 *b, float *w) {
    const float d = mxfp4_scale_half(b->e);
    for (int j = 0; j < QK_MXFP4 / 2; j++) w[j] = d * MXFP4_VALUES[b->qs[j] & 0x0F];
    for (int j = 0; j < QK_MXFP4 / 2; j++) w[j + QK_MXFP4 / 2] = d * MXFP4_VALUES[b->qs[j] >> 4];
}

INLINE void decode_q4_1(const block_q4_1 *b, float *w) {
    const float d = half_to_float(b->d), m = half_to_float(b->m);
    uint8_t q[QK4_1];
    block32_quants(b->qs, NULL, q);
    for (int j = 0; j < QK4_1; j++) w[j] = q[j] * d + m;
}

INLINE void decode_q5_0(const block_q5_0 *b, float *w) {
    const float d = half_to_float(b->d);
    uint8_t q[QK5_0];
    block32_quants(b->qs, b->qh, q);
    for (int j = 0; j < QK5_0; j++) w[j] = ((int)q[j] - 16) * d;
}

INLINE void decode_q5_1(const block_q5_1 *b, float *w) {
    const float d = half_to_float(b->d), m = half_to_float(b->m);
    uint8_t q[QK5_1];
    block32_quants(b->qs, b->qh, q);
    for (int j = 0; j < QK5_1; j++) w[j] = q[j] * d + m;
}

/* The (scale, min) pair J of a Q4_K/Q5_K block's 12 packed bytes (quant.c explains). */
INLINE void scale_min_k4(int j, const uint8_t *q, uint8_t *sc, uint8_t *m) {
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = (uint8_t)((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
        *m = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}

/* Q2_K and Q3_K: weight 128h + 32g + l has its two low bits at bits 2g, 2g+1 of
 * qs[32h + l] and the scale of sub-block 8h + 2g + l/16 (quant.c explains). Each group of
 * 32 shares a shift and is written as two runs of 16, one per scale; the bytes are
 * copied out of the block first so the vectoriser need not fear that they alias W. */
INLINE void decode_q2_k(const block_q2_K *b, float *w) {
    const float d = half_to_float(b->d), dmin = half_to_float(b->dmin);
    uint8_t qs[QK_K / 4], sc[QK_K / 16];
    memcpy(qs, b->qs, sizeof qs);
    memcpy(sc, b->scales, sizeof sc);
    for (int h = 0; h < 2; h++)
        for (int g = 0; g < 4; g++)
            for (int half = 0; half < 2; half++) {
                const int s = 8 * h + 2 * g + half;
                const float dl = d * (sc[s] & 0xF), ml = dmin * (sc[s] >> 4);
                for (int l = 16 * half; l < 16 * half + 16; l++)
                    w[128 * h + 32 * g + l] = dl * ((qs[32 * h + l] >> (2 * g)) & 3) - ml;
            }
}

/* Scale J of a Q3_K block, -32..31 (quant.c explains the packing). */
INLINE int q3_k_scale(const uint8_t *s, int j) {
    const int lo = j < 8 ? s[j] & 0xF : s[j - 8] >> 4, hi = (s[8 + j % 4] >> (2 * (j / 4))) & 3;
    return (lo | hi << 4) - 32;
}

INLINE void decode_q3_k(const block_q3_K *b, float *w) {
    const float d = half_to_float(b->d);
    uint8_t qs[QK_K / 4], hm[QK_K / 8];
    memcpy(qs, b->qs, sizeof qs);
    memcpy(hm, b->hmask, sizeof hm);
    for (int h = 0; h < 2; h++)
        for (int g = 0; g < 4; g++)
            for (int half = 0; half < 2; half++) {
                const int s = 8 * h + 2 * g + half, hbit = 4 * h + g;
                const float dl = d * q3_k_scale(b->scales, s);
                for (int l = 16 * half; l < 16 * half + 16; l++)
                    w[128 * h + 32 * g + l] =
                        dl * (((qs[32 * h + l] >> (2 * g)) & 3) - (((hm[l] >> hbit) & 1) ? 0 : 4));
            }
}

INLINE void decode_q4_k(const block_q4_K *b, float *w) {
    const uint8_t *q = b->qs;
    const float d = half_to_float(b->d), dmin = half_to_float(b->dmin);
    for (int j = 0, is = 0; j < QK_K; j += 64, is += 2, q += 32) {
        uint8_t sc, m;
        scale_min_k4(is, b->scales, &sc, &m);
        const float d1 = d * sc, m1 = dmin * m;
        scale_min_k4(is + 1, b->scales, &sc, &m);
        const float d2 = d * sc, m2 = dmin * m;
        for (int l = 0; l < 32; l++) w[j + l] = d1 * (q[l] & 0xF) - m1;
        for (int l = 0; l < 32; l++) w[j + 32 + l] = d2 * (q[l] >> 4) - m2;
    }
}

INLINE void decode_q5_k(const block_q5_K *b, float *w) {
    const uint8_t *ql = b->qs, *qh = b->qh;
    const float d = half_to_float(b->d), dmin = half_to_float(b->dmin);
    int shift = 0; /* the fifth bits of this pair of 32s are bits SHIFT and SHIFT+1 of qh */
    for (int j = 0, is = 0; j < QK_K; j += 64, is += 2, ql += 32, shift += 2) {
        uint8_t sc, m;
        scale_min_k4(is, b->scales, &sc, &m);
        const float d1 = d * sc, m1 = dmin * m;
        scale_min_k4(is + 1, b->scales, &sc, &m);
        const float d2 = d * sc, m2 = dmin * m;
        for (int l = 0; l < 32; l++)
            w[j + l] = d1 * ((ql[l] & 0xF) + (((qh[l] >> shift) & 1) << 4)) - m1;
        for (int l = 0; l < 32; l++)
            w[j + 32 + l] = d2 * ((ql[l] >> 4) + (((qh[l] >> (shift + 1)) & 1) << 4)) - m2;
    }
}

INLINE void decode_q6_k(const block_q6_K *b, float *w) {
    const float d = half_to_float(b->d);
    const uint8_t *ql = b->ql, *qh = b->qh;
    const int8_t *sc = b->scales;
    for (int h = 0; h < QK_K; h += 128, ql += 64, qh += 32, sc += 8) {
        /* weights l < 16 and l >= 16 of each quarter have different scales; (d * scale)
         * is rounded once and then multiplies the quant, as in quant.c */
        for (int half = 0; half < 2; half++) {
            const float s0 = d * sc[half], s1 = d * sc[half + 2];
            const float s2 = d * sc[half + 4], s3 = d * sc[half + 6];
            for (int l = half * 16; l < half * 16 + 16; l++) {
                w[h + l] = s0 * ((int)((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32);
                w[h + l + 32] = s1 * ((int)((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32);
                w[h + l + 64] = s2 * ((int)((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32);
                w[h + l + 96] = s3 * ((int)((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32);
            }
        }
    }
}

/* The levels of the 32 nibble indices of 16 bytes (low nibbles weights 0..15, high
 * nibbles 16..31) into V. GCC: as two 16-way byte shuffles of the table, one instruction
 * each in the AVX2 copy (`llmscope bench --backend cpu --prompt 64 --decode 32` on
 * `synth --shape smollm2-135m --type iq4_nl`, GCC 12: decode 20 tokens/s, against 14 byte
 * by byte; Q4_0 of the same shape 31 in both runs). The SSE2 copy, which has no byte
 * shuffle and only runs on processors without AVX2, emulates it, more slowly than byte
 * by byte. Other compilers: byte by byte. */
#if defined(__GNUC__) && !defined(__clang__)
typedef int8_t bytes16 __attribute__((vector_size(16)));
INLINE void iq4_levels(const uint8_t qs[16], int8_t v[32]) {
    bytes16 table, b;
    memcpy(&table, IQ4_LEVELS, sizeof table);
    memcpy(&b, qs, sizeof b);
    const bytes16 lo = __builtin_shuffle(table, b & 0x0f), hi = __builtin_shuffle(table, (b >> 4) & 0x0f);
    memcpy(v, &lo, sizeof lo);
    memcpy(v + 16, &hi, sizeof hi);
}
#else
INLINE void iq4_levels(const uint8_t qs[16], int8_t v[32]) {
    for (int j = 0; j < 16; j++) v[j] = IQ4_LEVELS[qs[j] & 0x0F];
    for (int j = 0; j < 16; j++) v[j + 16] = IQ4_LEVELS[qs[j] >> 4];
}
#endif

/* 32 weights of IQ4_NL's layout with scale STEP: step * level, as in quant.c. */
INLINE void iq4_levels_times(const uint8_t qs[16], float step, float *w) {
    int8_t v[32];
    iq4_levels(qs, v);
    for (int j = 0; j < 32; j++) w[j] = step * v[j];
}

INLINE void decode_iq4_nl(const block_iq4_nl *b, float *w) {
    iq4_levels_times(b->qs, half_to_float(b->d), w);
}

/* IQ4_XS: eight IQ4_NL-like sub-blocks, each with a 6-bit scale split between scales_l
 * and scales_h (quant.c explains); the step d * (scale - 32) is rounded once, as there. */
INLINE void decode_iq4_xs(const block_iq4_xs *b, float *w) {
    const float d = half_to_float(b->d);
    for (int s = 0; s < QK_K / 32; s++) {
        const int lo = (b->scales_l[s / 2] >> (4 * (s % 2))) & 0xF, hi = (b->scales_h >> (2 * s)) & 3;
        iq4_levels_times(b->qs + 16 * s, d * ((lo | hi << 4) - 32), w + 32 * s);
    }
}

/* Block C0 / block size of a row of quantised TYPE into W. */
INLINE void decode_block(uint32_t type, const uint8_t *row, int64_t c0, float *w) {
    switch (type) {
    case GGML_TYPE_Q8_0: decode_q8_0((const block_q8_0 *)(const void *)row + c0 / QK8_0, w); break;
    case GGML_TYPE_Q4_0: decode_q4_0((const block_q4_0 *)(const void *)row + c0 / QK4_0, w); break;
    case GGML_TYPE_Q4_1: decode_q4_1((const block_q4_1 *)(const void *)row + c0 / QK4_1, w); break;
    case GGML_TYPE_Q5_0: decode_q5_0((const block_q5_0 *)(const void *)row + c0 / QK5_0, w); break;
    case GGML_TYPE_Q5_1: decode_q5_1((const block_q5_1 *)(const void *)row + c0 / QK5_1, w); break;
    case GGML_TYPE_MXFP4: decode_mxfp4((const block_mxfp4 *)(const void *)row + c0 / QK_MXFP4, w); break;
    case GGML_TYPE_Q2_K: decode_q2_k((const block_q2_K *)(const void *)row + c0 / QK_K, w); break;
    case GGML_TYPE_Q3_K: decode_q3_k((const block_q3_K *)(const void *)row + c0 / QK_K, w); break;
    case GGML_TYPE_Q4_K: decode_q4_k((const block_q4_K *)(const void *)row + c0 / QK_K, w); break;
    case GGML_TYPE_Q5_K: decode_q5_k((const block_q5_K *)(const void *)row + c0 / QK_K, w); break;
    case GGML_TYPE_IQ4_NL: decode_iq4_nl((const block_iq4_nl *)(const void *)row + c0 / QK4_NL, w); break;
    case GGML_TYPE_IQ4_XS: decode_iq4_xs((const block_iq4_xs *)(const void *)row + c0 / QK_K, w); break;
    default: decode_q6_k((const block_q6_K *)(const void *)row + c0 / QK_K, w); break;
    }
}

/* Elements [C0, C0 + LEN) of an F32, F16 or BF16 row as floats: the mapped row itself
 * where it is f32 and float-aligned, else converted into BUF. AVX2: this is the AVX2 copy
 * (F16 then uses the processor's own conversion). */
INLINE const float *plain_piece(uint32_t type, const uint8_t *row, int64_t c0, int len,
                                float *buf, bool avx2) {
    const uint8_t *src = row + c0 * (type == GGML_TYPE_F32 ? 4 : 2);
    switch (type) {
    case GGML_TYPE_F32:
        if ((uintptr_t)src % sizeof(float) == 0) return (const float *)(const void *)src;
        memcpy(buf, src, (size_t)len * sizeof(float));
        return buf;
    case GGML_TYPE_F16:
#ifdef HAVE_AVX2_COPY
        if (avx2) {
            halves_f16c(src, buf, len);
            return buf;
        }
#endif
        if ((uintptr_t)src % sizeof(uint16_t) == 0) {
            fp16_to_f32_row((const uint16_t *)(const void *)src, buf, (size_t)len);
        } else {
            uint16_t h[PLAIN_CHUNK];
            memcpy(h, src, (size_t)len * sizeof *h);
            fp16_to_f32_row(h, buf, (size_t)len);
        }
        return buf;
    default: /* BF16: the top half of an f32 */
        for (int i = 0; i < len; i++) {
            uint16_t h;
            memcpy(&h, src + 2 * i, sizeof h);
            const uint32_t bits = (uint32_t)h << 16;
            memcpy(&buf[i], &bits, sizeof bits);
        }
        return buf;
    }
}

/* ---- products ------------------------------------------------------------------------ */

/* acc[t] += w[0..len) * x_t[0..len) for the N vectors x_t = x + t * x_stride, element i
 * going to partial sum i % LANES. LEN is a multiple of LANES. */
INLINE void add_products(lanes *restrict acc, const float *restrict w, int len,
                         const float *restrict x, int64_t x_stride, int n) {
    for (int t = 0; t < n; t++) {
        const float *restrict xt = x + t * x_stride;
        float a[LANES];
        memcpy(a, acc[t], sizeof a);
        for (int i = 0; i < len; i += LANES)
            for (int j = 0; j < LANES; j++) a[j] += w[i + j] * xt[i + j];
        memcpy(acc[t], a, sizeof a);
    }
}

/* Elements [BODY, LEN) of rows whose length is not a multiple of LANES (fewer than LANES
 * of them): like ops.c's dot(), they go one after another into partial sum 0. */
static void add_tail(lanes (*acc)[FAST_MAX_TOKENS], const float *const w[ROWS], int body,
                     int len, const float *x, int64_t x_stride, int n) {
    for (int r = 0; r < ROWS; r++)
        for (int t = 0; t < n; t++)
            for (int i = body; i < len; i++) acc[r][t][0] += w[r][i] * x[t * x_stride + i];
}

/* A group of rows of a quantised TYPE (BLOCK weights per block), block by block. Called
 * with constants, so that the compiler builds one loop per type with fixed trip counts. */
INLINE void blocks_of(uint32_t type, int block, int64_t cols, const uint8_t *const row[ROWS],
                      const float *x, int n, lanes (*acc)[FAST_MAX_TOKENS]) {
    for (int64_t c0 = 0; c0 < cols; c0 += block) {
        float wb[ROWS][QK_K];
        for (int r = 0; r < ROWS; r++) decode_block(type, row[r], c0, wb[r]);
        for (int r = 0; r < ROWS; r++) add_products(acc[r], wb[r], block, x + c0, cols, n);
    }
}

/* The same for F32, F16 and BF16, PLAIN_CHUNK weights at a time (f32 straight from the
 * mapping), with a tail when the row length is not a multiple of LANES. */
INLINE void plain_chunks(uint32_t type, int64_t cols, const uint8_t *const row[ROWS],
                         const float *x, int n, lanes (*acc)[FAST_MAX_TOKENS], bool avx2) {
    for (int64_t c0 = 0; c0 < cols; c0 += PLAIN_CHUNK) {
        const int len = cols - c0 < PLAIN_CHUNK ? (int)(cols - c0) : PLAIN_CHUNK;
        const int body = len - len % LANES;
        float wb[ROWS][PLAIN_CHUNK];
        const float *w[ROWS];
        for (int r = 0; r < ROWS; r++) w[r] = plain_piece(type, row[r], c0, len, wb[r], avx2);
        for (int r = 0; r < ROWS; r++) add_products(acc[r], w[r], body, x + c0, cols, n);
        if (body < len) add_tail(acc, w, body, len, x + c0, cols, n);
    }
}

#ifdef HAVE_AVX2_COPY
/* MXFP4 rows in the AVX2 copy: the table lookup of decode_mxfp4 as a byte shuffle (sixteen
 * int8 values in a register, indexed by the nibbles), widened to floats and times the
 * scale: the same values as the table, so the same products. */
__attribute__((target("avx2"))) static void decode_mxfp4_avx2(const block_mxfp4 *b, float *w) {
    const __m128i table = _mm_loadu_si128((const void *)MXFP4_VALUES);
    const __m128i q = _mm_loadu_si128((const void *)b->qs), low = _mm_set1_epi8(0x0f);
    const __m128i lo = _mm_shuffle_epi8(table, _mm_and_si128(q, low));
    const __m128i hi = _mm_shuffle_epi8(table, _mm_and_si128(_mm_srli_epi16(q, 4), low));
    const __m256 d = _mm256_set1_ps(mxfp4_scale_half(b->e));
    _mm256_storeu_ps(w, _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(lo))));
    _mm256_storeu_ps(w + 8, _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(lo, 8)))));
    _mm256_storeu_ps(w + 16, _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(hi))));
    _mm256_storeu_ps(w + 24, _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(hi, 8)))));
}
#endif

/* MXFP4 rows block by block, decoded by the AVX2 shuffle where this is the AVX2 copy. */
INLINE void mxfp4_blocks(int64_t cols, const uint8_t *const row[ROWS], const float *x, int n,
                         lanes (*acc)[FAST_MAX_TOKENS], bool avx2) {
#ifdef HAVE_AVX2_COPY
    if (avx2) {
        for (int64_t c0 = 0; c0 < cols; c0 += QK_MXFP4) {
            float wb[ROWS][QK_MXFP4];
            for (int r = 0; r < ROWS; r++) decode_mxfp4_avx2((const block_mxfp4 *)(const void *)row[r] + c0 / QK_MXFP4, wb[r]);
            for (int r = 0; r < ROWS; r++) add_products(acc[r], wb[r], QK_MXFP4, x + c0, cols, n);
        }
        return;
    }
#endif
    blocks_of(GGML_TYPE_MXFP4, QK_MXFP4, cols, row, x, n, acc);
}

/* ACC[r][t] = the partial sums of row ROW[r] times x_t, for ROWS rows and N <=
 * FAST_MAX_TOKENS vectors (x is [n][w->cols]). */
INLINE void row_group(const weight *w, const uint8_t *const row[ROWS], const float *x, int n,
                      lanes (*acc)[FAST_MAX_TOKENS], bool avx2) {
    const int64_t cols = w->cols;
    for (int r = 0; r < ROWS; r++) memset(acc[r], 0, (size_t)n * sizeof acc[r][0]);
    switch (w->type) {
    case GGML_TYPE_Q8_0: blocks_of(GGML_TYPE_Q8_0, QK8_0, cols, row, x, n, acc); break;
    case GGML_TYPE_Q4_0: blocks_of(GGML_TYPE_Q4_0, QK4_0, cols, row, x, n, acc); break;
    case GGML_TYPE_Q4_1: blocks_of(GGML_TYPE_Q4_1, QK4_1, cols, row, x, n, acc); break;
    case GGML_TYPE_Q5_0: blocks_of(GGML_TYPE_Q5_0, QK5_0, cols, row, x, n, acc); break;
    case GGML_TYPE_Q5_1: blocks_of(GGML_TYPE_Q5_1, QK5_1, cols, row, x, n, acc); break;
    case GGML_TYPE_MXFP4: mxfp4_blocks(cols, row, x, n, acc, avx2); break;
    case GGML_TYPE_Q2_K: blocks_of(GGML_TYPE_Q2_K, QK_K, cols, row, x, n, acc); break;
    case GGML_TYPE_Q3_K: blocks_of(GGML_TYPE_Q3_K, QK_K, cols, row, x, n, acc); break;
    case GGML_TYPE_Q4_K: blocks_of(GGML_TYPE_Q4_K, QK_K, cols, row, x, n, acc); break;
    case GGML_TYPE_Q5_K: blocks_of(GGML_TYPE_Q5_K, QK_K, cols, row, x, n, acc); break;
    case GGML_TYPE_Q6_K: blocks_of(GGML_TYPE_Q6_K, QK_K, cols, row, x, n, acc); break;
    case GGML_TYPE_IQ4_NL: blocks_of(GGML_TYPE_IQ4_NL, QK4_NL, cols, row, x, n, acc); break;
    case GGML_TYPE_IQ4_XS: blocks_of(GGML_TYPE_IQ4_XS, QK_K, cols, row, x, n, acc); break;
    case GGML_TYPE_F32: plain_chunks(GGML_TYPE_F32, cols, row, x, n, acc, avx2); break;
    case GGML_TYPE_F16: plain_chunks(GGML_TYPE_F16, cols, row, x, n, acc, avx2); break;
    default: plain_chunks(GGML_TYPE_BF16, cols, row, x, n, acc, avx2); break;
    }
}

/* ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7)), the order of ops.c's dot(). */
INLINE float lanes_sum(const float *a) {
    return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
}

/* ---- the rows of a product, in groups ------------------------------------------------ */

INLINE void matmul_rows(const weight *w, const float *x, float *y, int n, int64_t row_begin,
                        int64_t row_end, bool avx2) {
    const int64_t cols = w->cols, rows = w->rows;
    for (int t0 = 0; t0 < n; t0 += FAST_MAX_TOKENS) {
        const int nt = n - t0 < FAST_MAX_TOKENS ? n - t0 : FAST_MAX_TOKENS;
        const float *xt = x + (int64_t)t0 * cols;
        for (int64_t r0 = row_begin; r0 < row_end; r0 += ROWS) {
            const int real = row_end - r0 < ROWS ? (int)(row_end - r0) : ROWS;
            const uint8_t *row[ROWS];
            for (int r = 0; r < ROWS; r++) /* past the end: the last row again, unused */
                row[r] = (const uint8_t *)w->data +
                         (uint64_t)(r0 + (r < real ? r : real - 1)) * w->row_bytes;
            lanes acc[ROWS][FAST_MAX_TOKENS];
            row_group(w, row, xt, nt, acc, avx2);
            for (int r = 0; r < real; r++)
                for (int t = 0; t < nt; t++)
                    y[(int64_t)(t0 + t) * rows + r0 + r] = lanes_sum(acc[r][t]);
        }
    }
}

void fast_matmul_rows_portable(const weight *w, const float *x, float *y, int n,
                               int64_t row_begin, int64_t row_end) {
    matmul_rows(w, x, y, n, row_begin, row_end, false);
}

#ifdef HAVE_AVX2_COPY
__attribute__((target("avx2"))) static void matmul_rows_avx2(const weight *w, const float *x,
                                                             float *y, int n, int64_t row_begin,
                                                             int64_t row_end) {
    matmul_rows(w, x, y, n, row_begin, row_end, true);
}
#endif

void fast_matmul_rows(const weight *w, const float *x, float *y, int n, int64_t row_begin,
                      int64_t row_end) {
#ifdef HAVE_AVX2_COPY
    /* Q4_0 and Q4_1 are the exceptions: GCC 12's AVX2 code for them decodes at a third
     * (Q4_0) or a half (Q4_1) of the speed of its SSE2 code (measured with one input
     * vector; with many they are about equal). */
    if (w->type != GGML_TYPE_Q4_0 && w->type != GGML_TYPE_Q4_1 && __builtin_cpu_supports("avx2") &&
        __builtin_cpu_supports("f16c")) {
        matmul_rows_avx2(w, x, y, n, row_begin, row_end);
        return;
    }
#endif
    matmul_rows(w, x, y, n, row_begin, row_end, false);
}

/* ---- attention ------------------------------------------------------------------------ */

/* op_attention_head's formulas, not its bits: each score is the query's dot product with a
 * key times the scale (capped as op_softcap does), the scores go through a softmax (with
 * the head's sink in the denominator where it has one, as op_softmax_sink), the
 * output sums p_t * v_t over the keys in order. Where the copy has FMA, products are fused
 * into their sums; dot products keep L partial sums (8, or 16 with AVX-512, which also
 * takes 16 keys at a time); and the softmax takes its exponentials from exp_nonpositive
 * below, vectorised, where op_softmax calls expf once per score (the cost of attention in
 * a long prompt). Within float rounding of op_attention_head (tests/test_ops_fast.c
 * bounds it). */

#define MAX_L 16

INLINE float mul_add(float a, float b, float c, bool fma) { return fma ? fmaf(a, b, c) : a * b + c; }

/* Round to nearest (ties to even) for |v| < 2^22: adding 1.5 * 2^23 leaves no fraction. */
INLINE float round_nearest(float v) { return (v + 0x1.8p23f) - 0x1.8p23f; }

/* e^x for x <= 0 (a score minus the largest) and NaN: 2^n e^r with n = x / ln 2 rounded
 * and |r| <= ln 2 / 2 (ln 2 in two parts, the first exact in a few bits, so that n ln 2 is
 * subtracted without rounding), e^r by its Taylor polynomial to degree 7, whose remainder
 * (below 6e-9 relative) is a tenth of float's rounding, and 2^n made in the exponent bits.
 * Below -87 (where e^x leaves the normal floats) the result is 0; NaN stays NaN. */
INLINE float exp_nonpositive(float x, bool fma) {
    const float xc = x > -87.0f ? x : -87.0f; /* also NaN: computed, then replaced */
    const float n = round_nearest(xc * 1.44269504f);
    const float r = mul_add(n, 2.12194440e-4f, mul_add(n, -0.693359375f, xc, fma), fma);
    float p = mul_add(1.0f / 5040, r, 1.0f / 720, fma);
    p = mul_add(p, r, 1.0f / 120, fma);
    p = mul_add(p, r, 1.0f / 24, fma);
    p = mul_add(p, r, 1.0f / 6, fma);
    p = mul_add(p, r, 0.5f, fma);
    p = mul_add(p, r, 1.0f, fma);
    p = mul_add(p, r, 1.0f, fma);
    const int32_t bits = ((int32_t)n + 127) << 23;
    float two_n;
    memcpy(&two_n, &bits, sizeof two_n);
    const float e = p * two_n;
    return x < -87.0f ? 0.0f : x == x ? e : x;
}

/* The sum of L (8 or 16) partial sums, in halves: a[j] + a[j + 8], then + 4, + 2, + 1. */
INLINE float partial_sum(const float *a, int L) {
    float t[MAX_L];
    memcpy(t, a, (size_t)L * sizeof *t);
    if (L == 16)
        for (int j = 0; j < 8; j++) t[j] += t[j + 8];
    for (int j = 0; j < 4; j++) t[j] += t[j + 4];
    for (int j = 0; j < 2; j++) t[j] += t[j + 2];
    return t[0] + t[1];
}

/* Elements [I0, I0 + W) of the output, W a constant: kept in registers over all keys. */
INLINE void weighted_values(const float *v, const float *p, const attn_span *s, int i0, float *out,
                            const int W, const bool fma) {
    float acc[64] = {0};
    for (int t = s->first; t < s->n_kv; t++) {
        const float *vt = v + (int64_t)t * s->kv_stride + i0;
        for (int i = 0; i < W; i++) acc[i] = mul_add(p[t], vt[i], acc[i], fma);
    }
    memcpy(out + i0, acc, (size_t)W * sizeof *acc);
}

/* Scores of keys [first, T_DONE) already computed by the caller (AVX-512, 16 at a time). */
INLINE void attention_head(const float *q, const float *k, const float *v, const attn_span *s,
                           float *scores, float *out, const int L, const bool fma, int t_done) {
    const int head_dim = s->head_dim, body = head_dim - head_dim % L, first = s->first, n_kv = s->n_kv;
    for (int t = 0; t < first; t++) scores[t] = 0.0f;
    for (int t = t_done > first ? t_done : first; t < n_kv; t++) {
        const float *kt = k + (int64_t)t * s->kv_stride;
        float a[MAX_L] = {0};
        for (int i = 0; i < body; i += L)
            for (int j = 0; j < L; j++) a[j] = mul_add(q[i + j], kt[i + j], a[j], fma);
        for (int i = body; i < head_dim; i++) a[0] = mul_add(q[i], kt[i], a[0], fma);
        scores[t] = partial_sum(a, L) * s->scale;
    }
    if (s->softcap > 0) op_softcap(scores + first, n_kv - first, s->softcap);
    /* softmax: the largest score, then exponentials and their sum in L partial sums */
    float max = s->has_sink ? s->sink : scores[first], sum[MAX_L] = {0};
    for (int t = first; t < n_kv; t++) max = scores[t] > max ? scores[t] : max;
    for (int t = first; t < n_kv; t++) scores[t] = exp_nonpositive(scores[t] - max, fma);
    const int kbody = n_kv - (n_kv - first) % L;
    for (int t = first; t < kbody; t += L)
        for (int j = 0; j < L; j++) sum[j] += scores[t + j];
    for (int t = kbody; t < n_kv; t++) sum[0] += scores[t];
    float total = partial_sum(sum, L);
    if (s->has_sink) total += exp_nonpositive(s->sink - max, fma); /* gpt-oss: op_softmax_sink */
    for (int t = first; t < n_kv; t++) scores[t] /= total;
    /* the output 64 elements at a time (one key after another, as the reference) */
    int i0 = 0;
    for (; i0 + 64 <= head_dim; i0 += 64) weighted_values(v, scores, s, i0, out, 64, fma);
    for (; i0 + 8 <= head_dim; i0 += 8) weighted_values(v, scores, s, i0, out, 8, fma);
    if (i0 < head_dim) {
        for (int i = i0; i < head_dim; i++) out[i] = 0.0f;
        for (int t = first; t < n_kv; t++)
            for (int i = i0; i < head_dim; i++)
                out[i] = mul_add(scores[t], v[(int64_t)t * s->kv_stride + i], out[i], fma);
    }
}

#ifdef HAVE_AVX2_COPY
__attribute__((target("avx2,fma"))) static void attention_head_avx2(
    const float *q, const float *k, const float *v, const attn_span *s, float *scores, float *out) {
    attention_head(q, k, v, s, scores, out, 8, true, 0);
}

#define AVX512_TARGET __attribute__((target("avx512f,avx512vl,avx512dq,avx2,fma")))

/* The sums of the 16 lanes of each of A[0..15], as lanes 0..15 of one vector: pairs of
 * vectors are added across lanes in four rounds of shuffles (45 operations, where 16
 * separate sums would take over a hundred and each a trip through memory). */
AVX512_TARGET static inline __m512 sum16x16(const __m512 a[16]) {
    __m512 s[8], u[4], v[2];
    for (int m = 0; m < 8; m++) /* per 128-bit lane: a0 a1 a0 a1 halves summed */
        s[m] = _mm512_add_ps(_mm512_unpacklo_ps(a[2 * m], a[2 * m + 1]),
                             _mm512_unpackhi_ps(a[2 * m], a[2 * m + 1]));
    for (int m = 0; m < 4; m++) /* per 128-bit lane: the sums of a[4m .. 4m+3] over it */
        u[m] = _mm512_add_ps(
            _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(s[2 * m]), _mm512_castps_pd(s[2 * m + 1]))),
            _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(s[2 * m]), _mm512_castps_pd(s[2 * m + 1]))));
    for (int m = 0; m < 2; m++) /* 128-bit lanes 0+1 and 2+3 of two such */
        v[m] = _mm512_add_ps(_mm512_shuffle_f32x4(u[2 * m], u[2 * m + 1], 0x88),
                             _mm512_shuffle_f32x4(u[2 * m], u[2 * m + 1], 0xdd));
    return _mm512_add_ps(_mm512_shuffle_f32x4(v[0], v[1], 0x88), _mm512_shuffle_f32x4(v[0], v[1], 0xdd));
}

AVX512_TARGET static void attention_head_avx512(const float *q, const float *k, const float *v,
                                                const attn_span *s, float *scores, float *out) {
    int t = s->first;
    if (s->head_dim % 16 == 0) /* 16 keys at a time: 16 dot products side by side */
        for (; t + 16 <= s->n_kv; t += 16) {
            __m512 a[16];
            for (int j = 0; j < 16; j++) a[j] = _mm512_setzero_ps();
            for (int i = 0; i < s->head_dim; i += 16) {
                const __m512 qv = _mm512_loadu_ps(q + i);
                for (int j = 0; j < 16; j++)
                    a[j] = _mm512_fmadd_ps(qv, _mm512_loadu_ps(k + (int64_t)(t + j) * s->kv_stride + i), a[j]);
            }
            _mm512_storeu_ps(scores + t, _mm512_mul_ps(sum16x16(a), _mm512_set1_ps(s->scale)));
        }
    attention_head(q, k, v, s, scores, out, 16, true, t);
}
#endif

void fast_attention_head(const float *q, const float *k, const float *v, const attn_span *a,
                         float *scores_out, float *out) {
#ifdef HAVE_AVX2_COPY
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512dq")) {
        attention_head_avx512(q, k, v, a, scores_out, out);
        return;
    }
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        attention_head_avx2(q, k, v, a, scores_out, out);
        return;
    }
#endif
    attention_head(q, k, v, a, scores_out, out, 8, false, 0);
}
