/* qdot_blocks.h — each quantised weight type's block decoder for qdot.h, and the table of
 * types (included by each instruction set's file, qdot_isa.h, and compiled for it).
 *
 * A decoder turns one stored block of B weights into signed 8-bit quants and, for each
 * sub-block of S consecutive weights (16 or 32), a float scale and (for the types with
 * one) a float offset, such that weight i is  sc[i / S] * q[i] + mn[i / S],  with sc and
 * mn rounded exactly as quant.c rounds them (the same float products: d * scale,
 * dmin * min), so the decoded weights are quant.c's. Scales and offsets are written
 * QDOT_SC_STRIDE floats apart: straight into the kernels' layout, where the scales of a
 * tile's rows lie side by side. The kernels then multiply q with the rounded activations
 * in integers and apply sc and mn once per sub-block.
 *
 * Each decoder is plain C, which every copy compiles, and has a body of AVX2 intrinsics
 * for the copies that have AVX2 (the compiler does not turn the bit fiddling into vector
 * code by itself); the tests check every copy. Adding a type: a decoder below and one
 * line in QDOT_TYPES. */
#ifndef LLMSCOPE_QDOT_BLOCKS_H
#define LLMSCOPE_QDOT_BLOCKS_H

#include "quant.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#if defined(__F16C__) || defined(__AVX2__)
#include <immintrin.h>
#endif

/* Scales and offsets a decoder writes are this many floats apart (see above). */
#define QDOT_SC_STRIDE 16

#if defined(__GNUC__) || defined(__clang__)
#define QDOT_INLINE static inline __attribute__((always_inline))
#else
#define QDOT_INLINE static inline
#endif

/* fp16 to float, exactly (quant.h's fp16_to_f32_inline; every block needs one or two); with
 * F16C one instruction, which differs only in making a signalling NaN quiet. */
QDOT_INLINE float qdot_half(uint16_t h) {
#ifdef __F16C__
    return _cvtsh_ss(h);
#else
    return fp16_to_f32_inline(h);
#endif
}

/* The fifth bits of Q5_0/Q5_1: bit j of the little-endian word qh is weight j's. */
QDOT_INLINE uint32_t qdot_word(const uint8_t b[4]) {
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

#ifdef __AVX2__
/* The 32 quants of a block with 16 bytes of nibbles: low nibbles are weights 0..15, high
 * nibbles 16..31. */
QDOT_INLINE __m256i nibbles32(const uint8_t *qs) {
    const __m128i b = _mm_loadu_si128((const __m128i *)(const void *)qs), m = _mm_set1_epi8(0x0F);
    return _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(b, 4), m), _mm_and_si128(b, m));
}

/* Byte j is 16 where bit j of the fifth bits is set, else 0. */
QDOT_INLINE __m256i fifth_bits32(uint32_t qh) {
#if defined(__AVX512BW__) && defined(__AVX512VL__)
    return _mm256_maskz_mov_epi8(qh, _mm256_set1_epi8(16));
#else
    /* each byte gets the byte of qh holding its bit, then tests that bit */
    const __m256i which = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2,
                                           2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
    const __m256i bit = _mm256_set1_epi64x((long long)0x8040201008040201ull);
    const __m256i v = _mm256_and_si256(_mm256_shuffle_epi8(_mm256_set1_epi32((int)qh), which), bit);
    return _mm256_and_si256(_mm256_cmpeq_epi8(v, bit), _mm256_set1_epi8(16));
#endif
}

QDOT_INLINE void store32(int8_t *q, __m256i v) { _mm256_storeu_si256((__m256i *)(void *)q, v); }

QDOT_INLINE __m256i load32(const uint8_t *p) { return _mm256_loadu_si256((const __m256i *)(const void *)p); }

/* Bits SHIFT.. of each byte of V (a 16-bit shift and a mask: AVX2 shifts no bytes), then
 * masked with M. */
QDOT_INLINE __m256i bits_right(__m256i v, int shift, int m) {
    return _mm256_and_si256(_mm256_srli_epi16(v, shift), _mm256_set1_epi8((char)m));
}
#endif

#ifdef __AVX2__
/* The 32-weight types' quants as one vector, their scale (and offset) into SC (MN): the
 * decoders below store it; qdot_avx512.c builds its tiles from these directly. */
QDOT_INLINE __m256i vec_q8_0(const void *p, float *sc, float *mn) {
    const block_q8_0 *b = p;
    (void)mn;
    *sc = qdot_half(b->d);
    return _mm256_loadu_si256((const __m256i *)(const void *)b->qs);
}

QDOT_INLINE __m256i vec_q4_0(const void *p, float *sc, float *mn) {
    const block_q4_0 *b = p;
    (void)mn;
    *sc = qdot_half(b->d);
    return _mm256_sub_epi8(nibbles32(b->qs), _mm256_set1_epi8(8));
}

QDOT_INLINE __m256i vec_q4_1(const void *p, float *sc, float *mn) {
    const block_q4_1 *b = p;
    *sc = qdot_half(b->d);
    *mn = qdot_half(b->m);
    return nibbles32(b->qs);
}

QDOT_INLINE __m256i vec_q5_0(const void *p, float *sc, float *mn) {
    const block_q5_0 *b = p;
    (void)mn;
    *sc = qdot_half(b->d);
    return _mm256_sub_epi8(_mm256_or_si256(nibbles32(b->qs), fifth_bits32(qdot_word(b->qh))),
                           _mm256_set1_epi8(16));
}

QDOT_INLINE __m256i vec_q5_1(const void *p, float *sc, float *mn) {
    const block_q5_1 *b = p;
    *sc = qdot_half(b->d);
    *mn = qdot_half(b->m);
    return _mm256_or_si256(nibbles32(b->qs), fifth_bits32(qdot_word(b->qh)));
}
/* IQ4_NL, MXFP4: the LEVELS (16 signed bytes) of the 32 nibble indices (a byte shuffle). */
QDOT_INLINE __m256i nibble_levels32(const int8_t *levels, const uint8_t *qs) {
    const __m128i table = _mm_loadu_si128((const __m128i *)(const void *)levels);
    const __m128i b = _mm_loadu_si128((const __m128i *)(const void *)qs), m = _mm_set1_epi8(0x0F);
    return _mm256_set_m128i(_mm_shuffle_epi8(table, _mm_and_si128(_mm_srli_epi16(b, 4), m)),
                            _mm_shuffle_epi8(table, _mm_and_si128(b, m)));
}

QDOT_INLINE __m256i vec_iq4_nl(const void *p, float *sc, float *mn) {
    const block_iq4_nl *b = p;
    (void)mn;
    *sc = qdot_half(b->d);
    return nibble_levels32(IQ4_LEVELS, b->qs);
}
#define QDOT_VEC_BODY(vec) \
    do {                   \
        store32(q, vec(p, sc, mn)); \
        return;            \
    } while (0)
#else
#define QDOT_VEC_BODY(vec) (void)0
#endif

QDOT_INLINE void dec_q8_0(const void *p, int8_t *q, float *sc, float *mn) {
    const block_q8_0 *b = p;
    (void)mn;
    memcpy(q, b->qs, QK8_0);
    sc[0] = qdot_half(b->d);
}

QDOT_INLINE void dec_q4_0(const void *p, int8_t *q, float *sc, float *mn) {
    const block_q4_0 *b = p;
    (void)mn;
    QDOT_VEC_BODY(vec_q4_0);
    sc[0] = qdot_half(b->d);
    for (int j = 0; j < 16; j++) {
        q[j] = (int8_t)((b->qs[j] & 0x0F) - 8);
        q[j + 16] = (int8_t)((b->qs[j] >> 4) - 8);
    }
}

QDOT_INLINE void dec_q4_1(const void *p, int8_t *q, float *sc, float *mn) {
    const block_q4_1 *b = p;
    QDOT_VEC_BODY(vec_q4_1);
    sc[0] = qdot_half(b->d);
    mn[0] = qdot_half(b->m);
    for (int j = 0; j < 16; j++) {
        q[j] = (int8_t)(b->qs[j] & 0x0F);
        q[j + 16] = (int8_t)(b->qs[j] >> 4);
    }
}

QDOT_INLINE void dec_q5_0(const void *p, int8_t *q, float *sc, float *mn) {
    const block_q5_0 *b = p;
    const uint32_t qh = qdot_word(b->qh);
    (void)mn;
    QDOT_VEC_BODY(vec_q5_0);
    sc[0] = qdot_half(b->d);
    for (int j = 0; j < 16; j++) {
        q[j] = (int8_t)(((b->qs[j] & 0x0F) | ((qh >> j) & 1) << 4) - 16);
        q[j + 16] = (int8_t)(((b->qs[j] >> 4) | ((qh >> (j + 16)) & 1) << 4) - 16);
    }
}

QDOT_INLINE void dec_q5_1(const void *p, int8_t *q, float *sc, float *mn) {
    const block_q5_1 *b = p;
    const uint32_t qh = qdot_word(b->qh);
    QDOT_VEC_BODY(vec_q5_1);
    sc[0] = qdot_half(b->d);
    mn[0] = qdot_half(b->m);
    for (int j = 0; j < 16; j++) {
        q[j] = (int8_t)((b->qs[j] & 0x0F) | ((qh >> j) & 1) << 4);
        q[j + 16] = (int8_t)((b->qs[j] >> 4) | ((qh >> (j + 16)) & 1) << 4);
    }
}

/* Q2_K and Q3_K: weight 128h + 32g + l keeps its two low bits at bits 2g, 2g+1 of
 * qs[32h + l], and its sub-block of 16 is simply its index / 16 (quant.c explains). */
QDOT_INLINE void dec_q2_k(const void *p, int8_t *q, float *sc, float *mn) {
    const block_q2_K *b = p;
    const float d = qdot_half(b->d), dmin = qdot_half(b->dmin);
#ifdef __AVX2__
    for (int h = 0; h < 2; h++) {
        const __m256i v = load32(b->qs + 32 * h);
        for (int g = 0; g < 4; g++) store32(q + 128 * h + 32 * g, bits_right(v, 2 * g, 3));
    }
#else
    for (int h = 0; h < 2; h++)
        for (int g = 0; g < 4; g++)
            for (int l = 0; l < 32; l++)
                q[128 * h + 32 * g + l] = (int8_t)((b->qs[32 * h + l] >> (2 * g)) & 3);
#endif
    for (int s = 0; s < QK_K / 16; s++) {
        sc[s * QDOT_SC_STRIDE] = d * (b->scales[s] & 0xF);
        mn[s * QDOT_SC_STRIDE] = -(dmin * (b->scales[s] >> 4));
    }
}

/* Scale J of a Q3_K block, -32..31 (quant.c explains the packing). */
QDOT_INLINE int qdot_q3_k_scale(const uint8_t *s, int j) {
    const int lo = j < 8 ? s[j] & 0xF : s[j - 8] >> 4, hi = (s[8 + j % 4] >> (2 * (j / 4))) & 3;
    return (lo | hi << 4) - 32;
}

QDOT_INLINE void dec_q3_k(const void *p, int8_t *q, float *sc, float *mn) {
    const block_q3_K *b = p;
    const float d = qdot_half(b->d);
    (void)mn;
#ifdef __AVX2__
    const __m256i hm = load32(b->hmask);
    for (int h = 0; h < 2; h++) {
        const __m256i v = load32(b->qs + 32 * h);
        for (int g = 0; g < 4; g++) { /* minus 4 where the high bit is clear: + 4 * bit - 4 */
            const __m256i high = _mm256_slli_epi16(bits_right(hm, 4 * h + g, 1), 2);
            store32(q + 128 * h + 32 * g,
                    _mm256_sub_epi8(_mm256_add_epi8(bits_right(v, 2 * g, 3), high), _mm256_set1_epi8(4)));
        }
    }
#else
    for (int h = 0; h < 2; h++)
        for (int g = 0; g < 4; g++)
            for (int l = 0; l < 32; l++)
                q[128 * h + 32 * g + l] = (int8_t)(((b->qs[32 * h + l] >> (2 * g)) & 3) -
                                                   ((b->hmask[l] >> (4 * h + g)) & 1 ? 0 : 4));
#endif
    for (int s = 0; s < QK_K / 16; s++) sc[s * QDOT_SC_STRIDE] = d * qdot_q3_k_scale(b->scales, s);
}

/* The (scale, min) pair J of a Q4_K/Q5_K block's 12 packed bytes (quant.c explains). */
QDOT_INLINE void qdot_scale_min_k4(int j, const uint8_t *s, int *sc, int *m) {
    if (j < 4) {
        *sc = s[j] & 63;
        *m = s[j + 4] & 63;
    } else {
        *sc = (s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4);
        *m = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
    }
}

/* Q4_K and Q5_K: each 64 weights are 32 low nibbles then 32 high nibbles of 32 bytes,
 * sub-blocks of 32 with a 6-bit scale and min each. */
QDOT_INLINE void k4_scales(const uint8_t *scales, float d, float dmin, float *sc, float *mn) {
    for (int j = 0; j < 8; j++) {
        int s, m;
        qdot_scale_min_k4(j, scales, &s, &m);
        sc[j * QDOT_SC_STRIDE] = d * s;
        mn[j * QDOT_SC_STRIDE] = -(dmin * m);
    }
}

QDOT_INLINE void dec_q4_k(const void *p, int8_t *q, float *sc, float *mn) {
    const block_q4_K *b = p;
#ifdef __AVX2__
    for (int c = 0; c < 4; c++) {
        const __m256i v = load32(b->qs + 32 * c);
        store32(q + 64 * c, bits_right(v, 0, 0xF));
        store32(q + 64 * c + 32, bits_right(v, 4, 0xF));
    }
#else
    for (int c = 0; c < 4; c++)
        for (int l = 0; l < 32; l++) {
            q[64 * c + l] = (int8_t)(b->qs[32 * c + l] & 0xF);
            q[64 * c + 32 + l] = (int8_t)(b->qs[32 * c + l] >> 4);
        }
#endif
    k4_scales(b->scales, qdot_half(b->d), qdot_half(b->dmin), sc, mn);
}

/* Q5_K: the fifth bit of weight 64c + l (l < 32) is bit 2c of qh[l], of 64c + 32 + l bit
 * 2c + 1. */
QDOT_INLINE void dec_q5_k(const void *p, int8_t *q, float *sc, float *mn) {
    const block_q5_K *b = p;
#ifdef __AVX2__
    const __m256i hb = load32(b->qh);
    for (int c = 0; c < 4; c++) {
        const __m256i v = load32(b->qs + 32 * c);
        store32(q + 64 * c, _mm256_or_si256(bits_right(v, 0, 0xF), _mm256_slli_epi16(bits_right(hb, 2 * c, 1), 4)));
        store32(q + 64 * c + 32,
                _mm256_or_si256(bits_right(v, 4, 0xF), _mm256_slli_epi16(bits_right(hb, 2 * c + 1, 1), 4)));
    }
#else
    for (int c = 0; c < 4; c++)
        for (int l = 0; l < 32; l++) {
            q[64 * c + l] = (int8_t)((b->qs[32 * c + l] & 0xF) | ((b->qh[l] >> (2 * c)) & 1) << 4);
            q[64 * c + 32 + l] =
                (int8_t)((b->qs[32 * c + l] >> 4) | ((b->qh[l] >> (2 * c + 1)) & 1) << 4);
        }
#endif
    k4_scales(b->scales, qdot_half(b->d), qdot_half(b->dmin), sc, mn);
}

/* Q6_K: each half of 128 weights takes 64 bytes of low nibbles and 32 of high bit pairs;
 * weight 128h + 32k + l uses the nibble of ql[64h + l + 32 (k & 1)] (low for k < 2) and
 * bits 2k, 2k+1 of qh[32h + l]; quants are centred on 32, scales signed, one per 16. */
QDOT_INLINE void dec_q6_k(const void *p, int8_t *q, float *sc, float *mn) {
    const block_q6_K *b = p;
    const float d = qdot_half(b->d);
    (void)mn;
#ifdef __AVX2__
    for (int h = 0; h < 2; h++) {
        const __m256i hi = load32(b->qh + 32 * h);
        for (int k = 0; k < 4; k++) {
            const __m256i lo = load32(b->ql + 64 * h + 32 * (k & 1));
            const __m256i nib = bits_right(lo, k < 2 ? 0 : 4, 0xF);
            const __m256i top = _mm256_slli_epi16(bits_right(hi, 2 * k, 3), 4);
            store32(q + 128 * h + 32 * k, _mm256_sub_epi8(_mm256_or_si256(nib, top), _mm256_set1_epi8(32)));
        }
    }
#else
    for (int h = 0; h < 2; h++)
        for (int k = 0; k < 4; k++)
            for (int l = 0; l < 32; l++) {
                const uint8_t lo = b->ql[64 * h + l + 32 * (k & 1)];
                const int nib = k < 2 ? lo & 0xF : lo >> 4;
                q[128 * h + 32 * k + l] = (int8_t)((nib | ((b->qh[32 * h + l] >> (2 * k)) & 3) << 4) - 32);
            }
#endif
    for (int s = 0; s < QK_K / 16; s++) sc[s * QDOT_SC_STRIDE] = d * b->scales[s];
}

/* IQ4_NL, IQ4_XS and MXFP4: 4-bit indices into a table of 16 LEVELS (IQ4_LEVELS: -127..113;
 * MXFP4_VALUES: E2M1 doubled, -12..12), low nibbles weights 0..15 of each 32, high nibbles
 * 16..31 (quant.c explains). */
QDOT_INLINE void nibble_levels(const int8_t *levels, const uint8_t *qs, int8_t *q) {
#ifdef __AVX2__
    store32(q, nibble_levels32(levels, qs));
#else
    for (int j = 0; j < 16; j++) {
        q[j] = levels[qs[j] & 0x0F];
        q[j + 16] = levels[qs[j] >> 4];
    }
#endif
}

QDOT_INLINE void dec_iq4_nl(const void *p, int8_t *q, float *sc, float *mn) {
    const block_iq4_nl *b = p;
    (void)mn;
    nibble_levels(IQ4_LEVELS, b->qs, q);
    sc[0] = qdot_half(b->d);
}

/* IQ4_XS: eight IQ4_NL-like sub-blocks of 32, each scaled by d * (its 6-bit scale - 32),
 * rounded once as in quant.c. */
QDOT_INLINE void dec_iq4_xs(const void *p, int8_t *q, float *sc, float *mn) {
    const block_iq4_xs *b = p;
    const float d = qdot_half(b->d);
    (void)mn;
    for (int s = 0; s < QK_K / 32; s++) {
        const int lo = (b->scales_l[s / 2] >> (4 * (s % 2))) & 0xF, hi = (b->scales_h >> (2 * s)) & 3;
        nibble_levels(IQ4_LEVELS, b->qs + 16 * s, q + 32 * s);
        sc[s * QDOT_SC_STRIDE] = d * ((lo | hi << 4) - 32);
    }
}

/* MXFP4 (gpt-oss's experts): the doubled E2M1 values and half the E8M0 scale, the bits
 * of quant.c's dq_mxfp4 (mxfp4_scale_half is exact, subnormals included). */
QDOT_INLINE void dec_mxfp4(const void *p, int8_t *q, float *sc, float *mn) {
    const block_mxfp4 *b = p;
    (void)mn;
    nibble_levels(MXFP4_VALUES, b->qs, q);
    sc[0] = mxfp4_scale_half(b->e);
}

/* Every type with a decoder: ggml type, block struct, weights per block, weights per
 * sub-block (one scale each), whether it has offsets, decoder. */
#define QDOT_TYPES(X)                                           \
    X(GGML_TYPE_Q8_0, block_q8_0, QK8_0, 32, false, dec_q8_0)   \
    X(GGML_TYPE_Q4_0, block_q4_0, QK4_0, 32, false, dec_q4_0)   \
    X(GGML_TYPE_Q4_1, block_q4_1, QK4_1, 32, true, dec_q4_1)    \
    X(GGML_TYPE_Q5_0, block_q5_0, QK5_0, 32, false, dec_q5_0)   \
    X(GGML_TYPE_Q5_1, block_q5_1, QK5_1, 32, true, dec_q5_1)    \
    X(GGML_TYPE_Q2_K, block_q2_K, QK_K, 16, true, dec_q2_k)     \
    X(GGML_TYPE_Q3_K, block_q3_K, QK_K, 16, false, dec_q3_k)    \
    X(GGML_TYPE_Q4_K, block_q4_K, QK_K, 32, true, dec_q4_k)     \
    X(GGML_TYPE_Q5_K, block_q5_K, QK_K, 32, true, dec_q5_k)     \
    X(GGML_TYPE_Q6_K, block_q6_K, QK_K, 16, false, dec_q6_k)     \
    X(GGML_TYPE_IQ4_NL, block_iq4_nl, QK4_NL, 32, false, dec_iq4_nl) \
    X(GGML_TYPE_IQ4_XS, block_iq4_xs, QK_K, 32, false, dec_iq4_xs) \
    X(GGML_TYPE_MXFP4, block_mxfp4, QK_MXFP4, 32, false, dec_mxfp4)

#endif
