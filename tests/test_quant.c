/* test_quant.c — dequantisation and half-precision conversions, bit for bit.
 *
 * Three kinds of evidence:
 *  1. Hand-built blocks. Each test packs chosen scales, mins and quants into the block
 *     layout GGUF documents, written here "element -> where its bits live" (the inverse of
 *     how the decoder walks a block), and expects exactly d*scale*q - dmin*min. The values
 *     are chosen so every product is exact in float, so equality is the right test.
 *  2. The llama-k-tiny family in ../shared: one model stored in every type by llama.cpp's
 *     own quantizer. Every tensor, dequantised, must match the f32 file within the error
 *     that type's quantizer can make (bounds derived below), and the f16/bf16 files must
 *     be exactly the f32 values rounded to nearest-even. A companion test corrupts the
 *     blocks the way a decoder bug would read them and shows the bounds then fail.
 *  3. fp16/bf16 conversions: all 65536 encodings decoded against the IEEE definition,
 *     round trips, and rounding at every midpoint between neighbouring values. */
#include "gguf.h"
#include "quant.h"
#include "test.h"

#include <float.h>
#include <stdint.h>

/* --- helpers ----------------------------------------------------------------------------- */

static void put_le16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static uint32_t f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}
static float bits_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* Compares N outputs with N expectations bit for bit (so -0 != +0); reports the first
 * few mismatches. */
static void check_exact(const char *what, const float *got, const float *want, int n) {
    int bad = 0;
    for (int i = 0; i < n; i++) {
        if (f32_bits(got[i]) != f32_bits(want[i])) {
            if (bad < 5)
                fprintf(stderr, "  %s[%d] = %.9g, expected %.9g\n", what, i, (double)got[i],
                        (double)want[i]);
            bad++;
        }
    }
    CHECKF(bad == 0, "%s: %d of %d values differ", what, bad, n);
}

/* --- 1. hand-built blocks ------------------------------------------------------------------ */

/* IQ4_NL and IQ4_XS: 4-bit indices into a fixed table of sixteen levels, which the format
 * defines (ggml's kvalues_iq4nl) and is written down here from its definition, not taken
 * from the code under test. */
static const int IQ4_SPEC_LEVELS[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                        1,    13,   25,  38,  53,  69,  89,  113};

/* Q4_0 and IQ4_NL (18 bytes per 32): fp16 d, then 16 bytes; element j < 16 is the low
 * nibble of byte j, element j + 16 the high nibble of byte j; value (nibble - 8) * d for
 * Q4_0, d * level[nibble] for IQ4_NL. The nibbles of each block take all sixteen values,
 * so a wrong table entry shows. */
static void test_q4_0_iq4_nl_blocks(void) {
    static const uint16_t d_bits[2] = {0x3800 /* 0.5 */, 0xC000 /* -2 */};
    static const float d_val[2] = {0.5f, -2.0f};
    for (int nl = 0; nl < 2; nl++) { /* Q4_0, then IQ4_NL */
        uint8_t raw[2 * 18] = {0};
        float want[64], got[64];
        for (int b = 0; b < 2; b++) {
            uint8_t *blk = raw + 18 * b;
            put_le16(blk, d_bits[b]);
            for (int e = 0; e < 32; e++) {
                int q = b == 0 ? (e * 5 + 3) % 16 : 15 - e % 16;
                uint8_t *byte = &blk[2 + e % 16];
                *byte |= (uint8_t)(e < 16 ? q : q << 4);
                want[32 * b + e] = nl ? d_val[b] * (float)IQ4_SPEC_LEVELS[q] : (float)(q - 8) * d_val[b];
            }
        }
        dequantize_row(nl ? GGML_TYPE_IQ4_NL : GGML_TYPE_Q4_0, raw, got, 64);
        check_exact(nl ? "iq4_nl" : "q4_0", got, want, 64);
    }
}

/* Q4_1 (20 bytes per 32): fp16 d, fp16 m, then 16 bytes of nibbles placed as in Q4_0
 * (element j < 16 low nibble of byte j, element j + 16 high nibble); value d * q + m. */
static void test_q4_1_block(void) {
    static const uint16_t d_bits[2] = {0x3800 /* 0.5 */, 0xC400 /* -4 */};
    static const uint16_t m_bits[2] = {0xBC00 /* -1 */, 0x3400 /* 0.25 */};
    static const float d_val[2] = {0.5f, -4.0f}, m_val[2] = {-1.0f, 0.25f};
    uint8_t raw[2 * 20] = {0};
    float want[64], got[64];
    for (int b = 0; b < 2; b++) {
        uint8_t *blk = raw + 20 * b;
        put_le16(blk, d_bits[b]);
        put_le16(blk + 2, m_bits[b]);
        for (int e = 0; e < 32; e++) {
            int q = b == 0 ? (e * 5 + 3) % 16 : 15 - e % 16;
            blk[4 + e % 16] |= (uint8_t)(e < 16 ? q : q << 4);
            want[32 * b + e] = (float)q * d_val[b] + m_val[b];
        }
    }
    dequantize_row(GGML_TYPE_Q4_1, raw, got, 64);
    check_exact("q4_1", got, want, 64);
}

/* Q5_0 (22 bytes per 32) and Q5_1 (24 bytes per 32): fp16 d (Q5_1: then fp16 m), then
 * qh, 4 bytes read as one little-endian 32-bit word whose bit e is the fifth (top) bit
 * of element e, i.e. bit e % 8 of byte e / 8; then 16 bytes of low nibbles placed as in
 * Q4_0. Q5_0's value is d * (q - 16), Q5_1's d * q + m, q in 0..31. The quants cover
 * all 32 values, so every qh bit is set in one block and clear in another. */
static void test_q5_blocks(void) {
    static const uint16_t d_bits[2] = {0x3400 /* 0.25 */, 0x0001 /* 2^-24 */};
    static const uint16_t m_bits[2] = {0xC200 /* -3 */, 0x3C00 /* 1 */};
    const float d_val[2] = {0.25f, ldexpf(1.0f, -24)}, m_val[2] = {-3.0f, 1.0f};
    for (int type1 = 0; type1 < 2; type1++) { /* Q5_0, then Q5_1 */
        const int size = type1 ? 24 : 22, qh_at = type1 ? 4 : 2, qs_at = qh_at + 4;
        uint8_t raw[2 * 24] = {0};
        float want[64], got[64];
        for (int b = 0; b < 2; b++) {
            uint8_t *blk = raw + size * b;
            put_le16(blk, d_bits[b]);
            if (type1) put_le16(blk + 2, m_bits[b]);
            for (int e = 0; e < 32; e++) {
                int q = b == 0 ? (e * 7 + 3) % 32 : 31 - e;
                blk[qs_at + e % 16] |= (uint8_t)(e < 16 ? (q & 15) : (q & 15) << 4);
                blk[qh_at + e / 8] |= (uint8_t)((q >> 4) << (e % 8));
                want[32 * b + e] = type1 ? (float)q * d_val[b] + m_val[b] : (float)(q - 16) * d_val[b];
            }
        }
        dequantize_row(type1 ? GGML_TYPE_Q5_1 : GGML_TYPE_Q5_0, raw, got, 64);
        check_exact(type1 ? "q5_1" : "q5_0", got, want, 64);
    }
}

/* MXFP4 (17 bytes per 32): an E8M0 byte e (scale 2^(e - 127)), then 16 bytes whose low
 * nibbles are elements 0..15 and high nibbles 16..31, each an E2M1 code: sign bit 3, then
 * 0, 0.5, 1, 1.5, 2, 3, 4, 6 for codes 0..7. The expectations are written out by hand
 * from the OCP format, not from the decoder's table; the scales cover the subnormal
 * corner (e = 0, 1), 1 (e = 127) and a large one (e = 140). */
static void test_mxfp4_block(void) {
    static const float e2m1[16] = {0, 0.5f, 1, 1.5f, 2, 3, 4, 6, -0.0f, -0.5f, -1, -1.5f, -2, -3, -4, -6};
    static const uint8_t e[4] = {127, 0, 1, 140};
    static const float scale[4] = {1.0f, 0x1p-127f, 0x1p-126f, 8192.0f};
    uint8_t raw[4 * 17] = {0};
    float want[128], got[128];
    for (int b = 0; b < 4; b++) {
        uint8_t *blk = raw + 17 * b;
        blk[0] = e[b];
        for (int j = 0; j < 32; j++) {
            int q = (j * 7 + b * 3) % 16;
            blk[1 + j % 16] |= (uint8_t)(j < 16 ? q : q << 4);
            /* code 8 is "minus zero" in the format; the reference table holds +0 for it */
            want[32 * b + j] = q == 8 ? 0.0f : e2m1[q] * scale[b];
        }
    }
    dequantize_row(GGML_TYPE_MXFP4, raw, got, 128);
    check_exact("mxfp4", got, want, 128);
    CHECK(ggml_type_supported(GGML_TYPE_MXFP4) && ggml_block_bytes(GGML_TYPE_MXFP4) == 17 &&
          ggml_block_elems(GGML_TYPE_MXFP4) == 32 && !strcmp(ggml_type_name(GGML_TYPE_MXFP4), "mxfp4"));
}

/* Q8_0 (34 bytes per 32): fp16 d, then 32 signed bytes; value q * d. The second block's d
 * is the smallest fp16 subnormal, 2^-24. */
static void test_q8_0_block(void) {
    static const uint16_t d_bits[2] = {0x3400 /* 0.25 */, 0x0001 /* 2^-24 */};
    const float d_val[2] = {0.25f, ldexpf(1.0f, -24)};
    uint8_t raw[2 * 34] = {0};
    float want[64], got[64];
    for (int b = 0; b < 2; b++) {
        uint8_t *blk = raw + 34 * b;
        put_le16(blk, d_bits[b]);
        for (int e = 0; e < 32; e++) {
            int q = b == 0 ? e * 8 - 128 : 127 - e * 3; /* -128 .. 120, 127 .. 34 */
            blk[2 + e] = (uint8_t)(int8_t)q;
            want[32 * b + e] = (float)q * d_val[b];
        }
    }
    dequantize_row(GGML_TYPE_Q8_0, raw, got, 64);
    check_exact("q8_0", got, want, 64);
}

/* Q4_K and Q5_K share the 12-byte packing of eight 6-bit (scale, min) pairs:
 *   bytes 0-3:  scale[j]   in bits 0-5, top 2 bits of scale[j+4] in bits 6-7
 *   bytes 4-7:  min[j]     in bits 0-5, top 2 bits of min[j+4]   in bits 6-7
 *   bytes 8-11: low 4 bits of scale[j+4] in bits 0-3, low 4 bits of min[j+4] in bits 4-7
 * (j = 0..3). Scales >= 16 use the top bits, so a layout slip changes them visibly. */
static void pack_k_scales(uint8_t out[12], const uint8_t sc[8], const uint8_t mn[8]) {
    for (int j = 0; j < 4; j++) {
        out[j] = (uint8_t)((sc[j] & 63) | ((sc[j + 4] >> 4) << 6));
        out[j + 4] = (uint8_t)((mn[j] & 63) | ((mn[j + 4] >> 4) << 6));
        out[j + 8] = (uint8_t)((sc[j + 4] & 15) | ((mn[j + 4] & 15) << 4));
    }
}

static const uint8_t K_SC[2][8] = {{1, 2, 63, 17, 40, 33, 5, 62}, {62, 5, 33, 40, 17, 63, 2, 1}};
static const uint8_t K_MN[2][8] = {{0, 3, 7, 60, 21, 48, 9, 31}, {31, 9, 48, 21, 60, 7, 3, 0}};
static const uint16_t K_D[2] = {0x3C00 /* 1 */, 0x3000 /* 0.125 */};
static const uint16_t K_DMIN[2] = {0x3800 /* 0.5 */, 0x4000 /* 2 */};
static const float K_D_VAL[2] = {1.0f, 0.125f}, K_DMIN_VAL[2] = {0.5f, 2.0f};

/* Q4_K (144 bytes per 256): fp16 d, fp16 dmin, scales[12], qs[128]. Element e is in
 * sub-block s = e/32 at l = e%32; its nibble is in byte 32*(s/2) + l of qs, the low
 * nibble for even s and the high nibble for odd s. Value d*scale[s]*q - dmin*min[s]. */
static void test_q4_k_block(void) {
    uint8_t raw[2 * 144] = {0};
    float want[512], got[512];
    for (int b = 0; b < 2; b++) {
        uint8_t *blk = raw + 144 * b, *qs = blk + 16;
        put_le16(blk, K_D[b]);
        put_le16(blk + 2, K_DMIN[b]);
        pack_k_scales(blk + 4, K_SC[b], K_MN[b]);
        for (int e = 0; e < 256; e++) {
            int s = e / 32, l = e % 32, q = (e * 7 + 3 + b) % 16;
            qs[32 * (s / 2) + l] |= (uint8_t)(s % 2 == 0 ? q : q << 4);
            want[256 * b + e] = K_D_VAL[b] * K_SC[b][s] * q - K_DMIN_VAL[b] * K_MN[b][s];
        }
    }
    dequantize_row(GGML_TYPE_Q4_K, raw, got, 512);
    check_exact("q4_K", got, want, 512);
}

/* Q5_K (176 bytes per 256): fp16 d, fp16 dmin, scales[12], qh[32], qs[128]. The low 4
 * bits are placed as in Q4_K; the fifth bit of element e (sub-block s, position l) is bit
 * s of qh[l]. Value d*scale[s]*q - dmin*min[s], q in 0..31. */
static void test_q5_k_block(void) {
    uint8_t raw[2 * 176] = {0};
    float want[512], got[512];
    for (int b = 0; b < 2; b++) {
        uint8_t *blk = raw + 176 * b, *qh = blk + 16, *qs = blk + 48;
        put_le16(blk, K_D[b]);
        put_le16(blk + 2, K_DMIN[b]);
        pack_k_scales(blk + 4, K_SC[b], K_MN[b]);
        for (int e = 0; e < 256; e++) {
            int s = e / 32, l = e % 32, q = (e * 11 + 5 + 3 * b) % 32;
            qs[32 * (s / 2) + l] |= (uint8_t)(s % 2 == 0 ? (q & 15) : (q & 15) << 4);
            if (q & 16) qh[l] |= (uint8_t)(1u << s);
            want[256 * b + e] = K_D_VAL[b] * K_SC[b][s] * q - K_DMIN_VAL[b] * K_MN[b][s];
        }
    }
    dequantize_row(GGML_TYPE_Q5_K, raw, got, 512);
    check_exact("q5_K", got, want, 512);
}

/* Q2_K (84 bytes per 256) and Q3_K (110 bytes per 256) place their 2-bit quants alike:
 * element e = 128h + 32g + l (h = e/128, g = (e%128)/32, l = e%32) has them in bits
 * 2g..2g+1 of qs[32h + l]; its scale is that of sub-block e/16. */

/* Q2_K: scales[16], qs[64], fp16 d, fp16 dmin. scales[s] holds the sub-block's 4-bit
 * scale in its low nibble and 4-bit min in its high nibble. Value d*scale*q - dmin*min. */
static void test_q2_k_block(void) {
    static const uint16_t d_bits[2] = {0x3800 /* 0.5 */, 0xC000 /* -2 */};
    static const uint16_t dmin_bits[2] = {0x3400 /* 0.25 */, 0x3C00 /* 1 */};
    static const float d_val[2] = {0.5f, -2.0f}, dmin_val[2] = {0.25f, 1.0f};
    uint8_t raw[2 * 84] = {0};
    float want[512], got[512];
    for (int b = 0; b < 2; b++) {
        uint8_t *blk = raw + 84 * b, *scales = blk, *qs = blk + 16;
        put_le16(blk + 80, d_bits[b]);
        put_le16(blk + 82, dmin_bits[b]);
        for (int s = 0; s < 16; s++) scales[s] = (uint8_t)(((s * 7 + b) % 16) | ((15 - s - b * 3 + 32) % 16) << 4);
        for (int e = 0; e < 256; e++) {
            int h = e / 128, g = (e % 128) / 32, l = e % 32, q = (e * 5 + 1 + b) % 4, s = e / 16;
            qs[32 * h + l] |= (uint8_t)(q << (2 * g));
            want[256 * b + e] = d_val[b] * (scales[s] & 15) * q - dmin_val[b] * (scales[s] >> 4);
        }
    }
    dequantize_row(GGML_TYPE_Q2_K, raw, got, 512);
    check_exact("q2_K", got, want, 512);
}

/* Q3_K: hmask[32], qs[64], scales[12], fp16 d. q is -4..3: its two low bits as above
 * hold q + 4 (mod 4), and bit 4h + g of hmask[l] is set when q >= 0. The 16 scales are
 * 6 bits, stored as scale + 32 = u: the low 4 bits of u for sub-block j are the low (j < 8)
 * or high (j >= 8) nibble of scales[j % 8]; its top 2 bits are bits 2(j/4)..2(j/4)+1 of
 * scales[8 + j % 4]. Value d * scale * q. Scales span -32..31, so every packed bit is used. */
static void test_q3_k_block(void) {
    static const int sc[2][16] = {{-32, 31, 0, -1, 17, -17, 5, 30, -30, 1, 16, -16, 9, -9, 24, -25},
                                  {3, -5, 8, 13, -21, 29, -31, 31, 1, 1, -1, -1, 27, -28, 0, 15}};
    static const uint16_t d_bits[2] = {0x3400 /* 0.25 */, 0xB800 /* -0.5 */};
    static const float d_val[2] = {0.25f, -0.5f};
    uint8_t raw[2 * 110] = {0};
    float want[512], got[512];
    for (int b = 0; b < 2; b++) {
        uint8_t *blk = raw + 110 * b, *hmask = blk, *qs = blk + 32, *scales = blk + 96;
        put_le16(blk + 108, d_bits[b]);
        for (int j = 0; j < 16; j++) {
            int u = sc[b][j] + 32;
            scales[j % 8] |= (uint8_t)(j < 8 ? (u & 15) : (u & 15) << 4);
            scales[8 + j % 4] |= (uint8_t)((u >> 4) << (2 * (j / 4)));
        }
        for (int e = 0; e < 256; e++) {
            int h = e / 128, g = (e % 128) / 32, l = e % 32, q = (e * 3 + 2 * b) % 8 - 4;
            qs[32 * h + l] |= (uint8_t)(((q + 4) & 3) << (2 * g));
            if (q >= 0) hmask[l] |= (uint8_t)(1u << (4 * h + g));
            want[256 * b + e] = d_val[b] * sc[b][e / 16] * q;
        }
    }
    dequantize_row(GGML_TYPE_Q3_K, raw, got, 512);
    check_exact("q3_K", got, want, 512);
}

/* Q6_K (210 bytes per 256): ql[128], qh[64], int8 scales[16], fp16 d. The block is two
 * halves of 128; in half h, element i (group g = i/32, l = i%32) keeps its low 4 bits in
 * ql[64h + l + 32*(g%2)] (low nibble for g < 2, high nibble for g >= 2) and its top 2
 * bits in bits 2g..2g+1 of qh[32h + l]; its scale is scales[8h + i/16]. Value
 * d * scale * (q - 32), q in 0..63. */
static void test_q6_k_block(void) {
    static const int8_t sc[2][16] = {
        {-128, 127, 1, -1, 5, 100, -3, 64, 2, -64, 17, 33, -100, 7, 99, -7},
        {3, -5, 8, 13, -21, 34, -55, 89, 1, 1, -1, -1, 127, -128, 0, 50}};
    static const uint16_t d_bits[2] = {0x3400 /* 0.25 */, 0xB800 /* -0.5 */};
    static const float d_val[2] = {0.25f, -0.5f};
    uint8_t raw[2 * 210] = {0};
    float want[512], got[512];
    for (int b = 0; b < 2; b++) {
        uint8_t *blk = raw + 210 * b, *ql = blk, *qh = blk + 128, *scales = blk + 192;
        for (int k = 0; k < 16; k++) scales[k] = (uint8_t)sc[b][k];
        put_le16(blk + 208, d_bits[b]);
        for (int e = 0; e < 256; e++) {
            int h = e / 128, i = e % 128, g = i / 32, l = i % 32, q = (e * 13 + 7 + b) % 64;
            uint8_t *lo = &ql[64 * h + l + 32 * (g % 2)];
            *lo |= (uint8_t)(g < 2 ? (q & 15) : (q & 15) << 4);
            qh[32 * h + l] |= (uint8_t)((q >> 4) << (2 * g));
            want[256 * b + e] = d_val[b] * sc[b][8 * h + i / 16] * (q - 32);
        }
    }
    dequantize_row(GGML_TYPE_Q6_K, raw, got, 512);
    check_exact("q6_K", got, want, 512);
}

/* IQ4_XS (136 bytes per 256): fp16 d, a little-endian 16-bit scales_h, scales_l[4], then
 * qs[128]. Element e is in sub-block s = e/32 at j = e%32; its index is the low (j < 16)
 * or high (j >= 16) nibble of qs[16s + j%16]. Sub-block s has a 6-bit scale stored as
 * u = scale + 32: the low 4 bits of u are the low (s even) or high (s odd) nibble of
 * scales_l[s/2], its top 2 bits are bits 2s, 2s+1 of scales_h. Value d * scale * level.
 * The scales include -32 and 31 and each sub-block's u sets other bits, so every packed
 * bit is exercised. */
static void test_iq4_xs_block(void) {
    static const int sc[2][8] = {{-32, 31, 1, -1, 17, -17, 5, -30}, {3, -5, 16, 13, -21, 29, 0, -9}};
    static const uint16_t d_bits[2] = {0x3400 /* 0.25 */, 0xB800 /* -0.5 */};
    static const float d_val[2] = {0.25f, -0.5f};
    uint8_t raw[2 * 136] = {0};
    float want[512], got[512];
    for (int b = 0; b < 2; b++) {
        uint8_t *blk = raw + 136 * b, *scales_l = blk + 4, *qs = blk + 8;
        uint16_t scales_h = 0;
        put_le16(blk, d_bits[b]);
        for (int s = 0; s < 8; s++) {
            int u = sc[b][s] + 32;
            scales_l[s / 2] |= (uint8_t)((u & 15) << (4 * (s % 2)));
            scales_h |= (uint16_t)((u >> 4) << (2 * s));
        }
        put_le16(blk + 2, scales_h);
        for (int e = 0; e < 256; e++) {
            int s = e / 32, j = e % 32, q = (e * 7 + 3 + b) % 16;
            qs[16 * s + j % 16] |= (uint8_t)(j < 16 ? q : q << 4);
            want[256 * b + e] = d_val[b] * (float)sc[b][s] * (float)IQ4_SPEC_LEVELS[q];
        }
    }
    dequantize_row(GGML_TYPE_IQ4_XS, raw, got, 512);
    check_exact("iq4_xs", got, want, 512);
}

/* F32 is copied; F16 and BF16 rows decode element by element (values from the IEEE
 * definitions: fp16 1.0 = 0x3C00, 65504 = 0x7BFF, 2^-24 = 0x0001; bf16 is the top half
 * of a float). */
static void test_float_rows(void) {
    const float f32_in[4] = {1.5f, -0.0f, FLT_MAX, ldexpf(1.0f, -149)};
    float got[8];
    dequantize_row(GGML_TYPE_F32, f32_in, got, 4);
    check_exact("f32", got, f32_in, 4);

    static const uint16_t h[8] = {0x3C00, 0xC000, 0x7BFF, 0x0001, 0x8000, 0x7C00, 0xFC00, 0x3555};
    const float h_want[8] = {1.0f, -2.0f, 65504.0f, ldexpf(1.0f, -24), -0.0f, INFINITY, -INFINITY,
                             ldexpf(1024 + 0x155, -10 - 2) /* 0x3555: exp 13-15, man 0x155 */};
    uint8_t raw[16];
    for (int i = 0; i < 8; i++) put_le16(raw + 2 * i, h[i]);
    dequantize_row(GGML_TYPE_F16, raw, got, 8);
    check_exact("f16", got, h_want, 8);

    static const uint16_t bf[6] = {0x3F80, 0x4049, 0x0001, 0xFF80, 0x8000, 0x7F7F};
    const float bf_want[6] = {1.0f, 3.140625f, ldexpf(1.0f, -133), -INFINITY, -0.0f,
                              ldexpf(255.0f, 120) /* 0x7F7F: 1.1111111b * 2^127 */};
    for (int i = 0; i < 6; i++) put_le16(raw + 2 * i, bf[i]);
    dequantize_row(GGML_TYPE_BF16, raw, got, 6);
    check_exact("bf16", got, bf_want, 6);
}

/* Sizes and names of the supported types, as GGUF defines them. */
static void test_type_table(void) {
    static const struct { uint32_t type; uint32_t elems, bytes; const char *name; } t[] = {
        {GGML_TYPE_F32, 1, 4, "f32"},       {GGML_TYPE_F16, 1, 2, "f16"},
        {GGML_TYPE_BF16, 1, 2, "bf16"},     {GGML_TYPE_Q4_0, 32, 18, "q4_0"},
        {GGML_TYPE_Q4_1, 32, 20, "q4_1"},   {GGML_TYPE_Q5_0, 32, 22, "q5_0"},
        {GGML_TYPE_Q5_1, 32, 24, "q5_1"},   {GGML_TYPE_Q2_K, 256, 84, "q2_K"},
        {GGML_TYPE_Q3_K, 256, 110, "q3_K"},
        {GGML_TYPE_Q8_0, 32, 34, "q8_0"},   {GGML_TYPE_Q4_K, 256, 144, "q4_K"},
        {GGML_TYPE_Q5_K, 256, 176, "q5_K"}, {GGML_TYPE_Q6_K, 256, 210, "q6_K"},
        {GGML_TYPE_IQ4_NL, 32, 18, "iq4_nl"}, {GGML_TYPE_IQ4_XS, 256, 136, "iq4_xs"}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        CHECKF(ggml_block_elems(t[i].type) == t[i].elems && ggml_block_bytes(t[i].type) == t[i].bytes,
               "%s sizes", t[i].name);
        CHECK(ggml_type_supported(t[i].type) && !strcmp(ggml_type_name(t[i].type), t[i].name));
    }
    uint64_t rb = 0;
    CHECK(ggml_row_bytes(GGML_TYPE_Q4_K, 512, &rb) && rb == 288);
    CHECK(!ggml_row_bytes(GGML_TYPE_Q4_K, 100, &rb));        /* not whole blocks */
    CHECK(!ggml_row_bytes(4, 32, &rb) && !ggml_row_bytes(1000, 32, &rb)); /* unknown types */
    CHECK(!ggml_row_bytes(GGML_TYPE_F32, UINT64_MAX / 2, &rb)); /* size overflows */
    CHECK(ggml_row_bytes(GGML_TYPE_Q5_0, 576, &rb) && rb == 18 * 22); /* SmolLM2's width */
    CHECK(!ggml_type_supported(GGML_TYPE_Q8_1) && ggml_block_bytes(GGML_TYPE_Q8_1) == 36);
    CHECK(!ggml_type_supported(GGML_TYPE_IQ2_XXS) && ggml_block_bytes(GGML_TYPE_IQ2_XXS) == 66);
    CHECK(ggml_row_bytes(GGML_TYPE_IQ4_XS, 512, &rb) && rb == 272);
    CHECK(!ggml_row_bytes(GGML_TYPE_IQ4_XS, 896, &rb));          /* Qwen2.5-0.5B's width: IQ4_NL's */
    CHECK(ggml_row_bytes(GGML_TYPE_IQ4_NL, 896, &rb) && rb == 28 * 18);
    CHECK(!ggml_type_supported(4) && ggml_block_elems(4) == 0 && !strcmp(ggml_type_name(4), "unknown"));
    CHECK(ggml_block_elems(UINT32_MAX) == 0 && !ggml_type_supported(UINT32_MAX));
}

/* The list the model loader's "supported types" message prints is built from the table:
 * exactly the types above, in type-id order; a short buffer gets whole names only. */
static void test_supported_type_names(void) {
    char buf[256], small[12];
    CHECK(ggml_supported_type_names(buf, sizeof buf) == buf);
    CHECKF(strcmp(buf, "f32, f16, q4_0, q4_1, q5_0, q5_1, q8_0, q2_K, q3_K, q4_K, q5_K, q6_K, iq4_nl, "
                       "iq4_xs, bf16, mxfp4") == 0, "supported: %s", buf);
    ggml_supported_type_names(small, sizeof small);
    CHECKF(strcmp(small, "f32, f16") == 0, "truncated: %s", small);
    small[0] = 'x';
    ggml_supported_type_names(small, 0); /* writes nothing */
    CHECK(small[0] == 'x');
}

/* --- 2. the llama-k-tiny family against its f32 original ------------------------------------ */

/* Error bounds, per block of the type (32 elements for Q4_0/Q8_0, 256 for the k-quants),
 * in units of that block's quantisation step, with amax = max |x| and range = max(x,0) -
 * min(x,0) over the block of f32 originals:
 *
 *   Q8_0  step = amax/127. llama.cpp sets d = amax/127, q = round(x/d) in -127..127, then
 *         stores d as fp16. Rounding costs <= step/2; fp16 storage moves d by <= 2^-11 d,
 *         i.e. <= 127 * 2^-11 step for |q| <= 127.      Bound: 0.5 + 127/2048 = 0.562.
 *   Q4_0  step = amax/8. d = -(signed extreme)/8 so the extreme maps to q = 0 exactly, but
 *         values of the other sign reach x/d = +8, which is clamped to 7: up to one full
 *         step; fp16 storage of d adds <= 8 * 2^-11 step.   Bound: 1 + 8/2048 = 1.004.
 *   Q4_K / Q5_K  step = range/15 (/31). Each 32-element sub-block gets its own scale and
 *         min, chosen by a search that may clip outliers, then rounded to 6 bits of the
 *         super-block's d/dmin, after which quants are re-rounded: half a step for the
 *         rounding plus at most half a step for clipping and scale/min rounding. Bound: 1.
 *   Q6_K  step = amax/32 (q in -32..31), 16-element sub-blocks, 8-bit scales: same
 *         argument as the other k-quants.                   Bound: 1.
 *   IQ4_NL / IQ4_XS  levels -127..113 of d (sixteen, unevenly spaced) with d about amax/127:
 *         step = the levels' mean spacing, 240/15 = 16 units of amax/127, i.e. amax/7.94.
 *         Rounding to the nearest level costs up to half the widest gap, 12 units; the
 *         quantizer's search for d may stretch it by up to 127/120 and clip values beyond
 *         the grid's ends; IQ4_XS's 6-bit sub-block scales add their rounding (its blocks
 *         here are the 256-element super-blocks, amax over all eight sub-blocks). Measured
 *         worst 15.3 units (0.96 step) for IQ4_NL, 13.9 (0.87) for IQ4_XS.  Bound: 1.1.
 *
 * Over a whole tensor the root-mean-square error must also stay within 1.25 x the RMS of
 * step/sqrt(12), the RMS error of an ideal rounding quantiser (measured: 0.64-1.00).
 * A decoder that swaps nibbles, reads the wrong scale or drops high bits is off by many
 * steps (measured 3.6x-60x on these files, see test_bounds_catch_decoder_bugs). */
typedef struct qbound {
    uint32_t type;
    double levels;  /* step = amax/levels (symmetric) or range/levels (asymmetric) */
    bool asym;
    double max_steps;
} qbound;

static const qbound BOUNDS[] = {
    {GGML_TYPE_Q8_0, 127, false, 0.5 + 127.0 / 2048}, {GGML_TYPE_Q4_0, 8, false, 1 + 8.0 / 2048},
    {GGML_TYPE_Q4_K, 15, true, 1.0},   {GGML_TYPE_Q5_K, 31, true, 1.0},
    {GGML_TYPE_Q6_K, 32, false, 1.0},  {GGML_TYPE_IQ4_NL, 127.0 / 16, false, 1.1},
    {GGML_TYPE_IQ4_XS, 127.0 / 16, false, 1.1}};
#define RMS_STEPS 1.25

static const qbound *bound_for(uint32_t type) {
    for (size_t i = 0; i < sizeof BOUNDS / sizeof BOUNDS[0]; i++)
        if (BOUNDS[i].type == type) return &BOUNDS[i];
    return NULL;
}

typedef struct qerr {
    double max_ratio; /* worst |err| / (bound * step) over all blocks: <= 1 passes */
    double rms_ratio; /* rms err / (RMS_STEPS * rms(step / sqrt 12)): <= 1 passes */
} qerr;

/* Compares dequantised GOT with the f32 originals REF (N elements) under TYPE's bound. */
static qerr measure(uint32_t type, const float *got, const float *ref, int64_t n) {
    const qbound *qb = bound_for(type);
    int64_t blk = ggml_block_elems(type);
    double worst = 0, se = 0, ss = 0;
    for (int64_t s = 0; s < n; s += blk) {
        float lo = 0, hi = 0, amax = 0;
        for (int64_t k = 0; k < blk; k++) {
            float v = ref[s + k];
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
            amax = fabsf(v) > amax ? fabsf(v) : amax;
        }
        double step = (qb->asym ? (double)hi - lo : amax) / qb->levels;
        /* float rounding in the quantizer's own arithmetic: a few ulps of amax */
        double allow = qb->max_steps * step + 4 * FLT_EPSILON * amax;
        for (int64_t k = 0; k < blk; k++) {
            double e = fabs((double)got[s + k] - ref[s + k]);
            double ratio = e <= allow ? (allow > 0 ? e / allow : 0) : (allow > 0 ? e / allow : INFINITY);
            if (ratio != ratio) ratio = INFINITY; /* a NaN decoded where a number was due */
            worst = fmax(worst, ratio);
            se += e * e;
            ss += step * step / 12;
        }
    }
    qerr r = {worst, ss > 0 ? sqrt(se / ss) / RMS_STEPS : (se > 0 ? INFINITY : 0)};
    if (se != se) r.rms_ratio = INFINITY; /* NaN */
    return r;
}

/* Dequantises tensor T row by row (exercising the row stride) into a malloc'd array. */
static float *dequant_tensor(const gguf_tensor *t) {
    int64_t cols = (int64_t)t->ne[0], rows = (int64_t)(t->ne[1] * t->ne[2] * t->ne[3]);
    uint64_t rb = 0;
    float *out = malloc((size_t)(cols * rows) * sizeof *out);
    if (!out || !ggml_row_bytes(t->type, (uint64_t)cols, &rb)) {
        free(out);
        return NULL;
    }
    for (int64_t r = 0; r < rows; r++)
        dequantize_row(t->type, (const uint8_t *)t->data + (uint64_t)r * rb, out + r * cols, cols);
    return out;
}

static const char *const K_TINY_QUANT[] = {"q8_0", "q4_0", "q4_k_m", "q5_k_m", "q6_k", "iq4_nl", "iq4_xs"};

static void test_k_tiny_quantized_vs_f32(void) {
    char path[1024];
    REQUIRE_SHARED(path, "models/llama-k-tiny-f32.gguf");
    gguf_file ref;
    char err[512] = "";
    if (gguf_open(&ref, path, err, sizeof err)) {
        CHECKF(0, "%s", err);
        return;
    }
    bool seen[GGML_TYPE_COUNT_] = {0};
    for (size_t fi = 0; fi < sizeof K_TINY_QUANT / sizeof K_TINY_QUANT[0]; fi++) {
        char rel[128];
        snprintf(rel, sizeof rel, "models/llama-k-tiny-%s.gguf", K_TINY_QUANT[fi]);
        gguf_file q;
        if (!test_shared_path(path, sizeof path, rel) || gguf_open(&q, path, err, sizeof err)) {
            CHECKF(0, "%s: cannot open: %s", rel, err);
            continue;
        }
        CHECK(q.n_tensors == ref.n_tensors);
        for (uint64_t i = 0; i < q.n_tensors; i++) {
            const gguf_tensor *t = &q.tensors[i];
            char name[128];
            snprintf(name, sizeof name, "%.*s", (int)t->name.len, t->name.ptr);
            const gguf_tensor *r = gguf_find_tensor(&ref, name);
            CHECKF(r && r->type == GGML_TYPE_F32, "%s: %s missing from the f32 file", rel, name);
            if (!r) continue;
            CHECK(memcmp(t->ne, r->ne, sizeof t->ne) == 0);
            int64_t n = (int64_t)(r->nbytes / 4);
            if (t->type == GGML_TYPE_F32) { /* norms stay f32: identical */
                CHECKF(memcmp(t->data, r->data, r->nbytes) == 0, "%s %s differs", rel, name);
                continue;
            }
            if (!bound_for(t->type)) {
                CHECKF(0, "%s %s: unexpected type %s", rel, name, ggml_type_name(t->type));
                continue;
            }
            seen[t->type] = true;
            float *got = dequant_tensor(t), *want = malloc((size_t)n * sizeof *want);
            if (got && want) {
                memcpy(want, r->data, (size_t)n * 4);
                qerr e = measure(t->type, got, want, n);
                CHECKF(e.max_ratio <= 1.0 && e.rms_ratio <= 1.0,
                       "%s %s (%s): worst error %.3f x bound, rms %.3f x bound", rel, name,
                       ggml_type_name(t->type), e.max_ratio, e.rms_ratio);
            }
            free(got);
            free(want);
        }
        gguf_close(&q);
    }
    static const uint32_t must[] = {GGML_TYPE_Q8_0, GGML_TYPE_Q4_0, GGML_TYPE_Q4_K, GGML_TYPE_Q5_K,
                                    GGML_TYPE_Q6_K, GGML_TYPE_IQ4_NL, GGML_TYPE_IQ4_XS};
    for (size_t i = 0; i < sizeof must / sizeof must[0]; i++)
        CHECKF(seen[must[i]], "no %s tensor found in the llama-k-tiny files", ggml_type_name(must[i]));
    gguf_close(&ref);
}

/* The same comparison on copies of real blocks corrupted the way a decoder bug would see
 * them: it must fail by a wide margin, or the bounds above could not catch such a bug.
 * (IQ4_XS sub-blocks trading scales is not among them: the sub-block scales of this
 * random model are nearly equal, so that bug stays near 2 rms bounds here; the distinct
 * scales of test_iq4_xs_block catch it.) */
typedef enum { BUG_SWAP_NIBBLES, BUG_SWAP_SCALES, BUG_SWAP_SCALE_MIN, BUG_DROP_HIGH_BITS,
               BUG_SWAP_D_BYTES, BUG_ROTATE_QH } decoder_bug;

static void inject(uint32_t type, uint8_t *blk, decoder_bug bug) {
    uint8_t tmp;
    switch (type) {
    case GGML_TYPE_Q4_0:
        if (bug == BUG_SWAP_NIBBLES)
            for (int j = 0; j < 16; j++) blk[2 + j] = (uint8_t)(blk[2 + j] << 4 | blk[2 + j] >> 4);
        break;
    case GGML_TYPE_Q8_0:
        if (bug == BUG_SWAP_D_BYTES) { tmp = blk[0]; blk[0] = blk[1]; blk[1] = tmp; }
        break;
    case GGML_TYPE_IQ4_NL: /* indices read from the wrong nibble, or as Q4_0's q - 8 */
        if (bug == BUG_SWAP_NIBBLES)
            for (int j = 0; j < 16; j++) blk[2 + j] = (uint8_t)(blk[2 + j] << 4 | blk[2 + j] >> 4);
        break;
    case GGML_TYPE_IQ4_XS: {
        uint8_t *qs = blk + 8;
        if (bug == BUG_SWAP_NIBBLES)
            for (int j = 0; j < 128; j++) qs[j] = (uint8_t)(qs[j] << 4 | qs[j] >> 4);
        if (bug == BUG_DROP_HIGH_BITS) blk[2] = blk[3] = 0; /* scales_h */
        break;
    }
    case GGML_TYPE_Q4_K:
    case GGML_TYPE_Q5_K: {
        uint8_t *sc = blk + 4, *qs = blk + (type == GGML_TYPE_Q4_K ? 16 : 48);
        if (bug == BUG_SWAP_NIBBLES)
            for (int j = 0; j < 128; j++) qs[j] = (uint8_t)(qs[j] << 4 | qs[j] >> 4);
        if (bug == BUG_SWAP_SCALES) { /* sub-blocks 0 and 1 trade scale and min */
            tmp = sc[0]; sc[0] = sc[1]; sc[1] = tmp;
            tmp = sc[4]; sc[4] = sc[5]; sc[5] = tmp;
        }
        if (bug == BUG_SWAP_SCALE_MIN)
            for (int j = 0; j < 4; j++) { tmp = sc[j]; sc[j] = sc[j + 4]; sc[j + 4] = tmp; }
        if (bug == BUG_DROP_HIGH_BITS)
            for (int j = 0; j < 8; j++) sc[j] &= 63;
        break;
    }
    case GGML_TYPE_Q6_K: {
        uint8_t *ql = blk, *qh = blk + 128, *sc = blk + 192;
        if (bug == BUG_SWAP_NIBBLES)
            for (int j = 0; j < 128; j++) ql[j] = (uint8_t)(ql[j] << 4 | ql[j] >> 4);
        if (bug == BUG_ROTATE_QH)
            for (int j = 0; j < 64; j++) qh[j] = (uint8_t)(qh[j] << 2 | qh[j] >> 6);
        if (bug == BUG_SWAP_SCALES)
            for (int j = 0; j < 16; j += 2) { tmp = sc[j]; sc[j] = sc[j + 1]; sc[j + 1] = tmp; }
        break;
    }
    default: break;
    }
}

static void test_bounds_catch_decoder_bugs(void) {
    static const struct { const char *file; uint32_t type; decoder_bug bug; } cases[] = {
        {"q4_0", GGML_TYPE_Q4_0, BUG_SWAP_NIBBLES},    {"q8_0", GGML_TYPE_Q8_0, BUG_SWAP_D_BYTES},
        {"q4_k_m", GGML_TYPE_Q4_K, BUG_SWAP_NIBBLES},  {"q4_k_m", GGML_TYPE_Q4_K, BUG_SWAP_SCALES},
        {"q4_k_m", GGML_TYPE_Q4_K, BUG_SWAP_SCALE_MIN}, {"q4_k_m", GGML_TYPE_Q4_K, BUG_DROP_HIGH_BITS},
        {"q5_k_m", GGML_TYPE_Q5_K, BUG_SWAP_NIBBLES},  {"q5_k_m", GGML_TYPE_Q5_K, BUG_SWAP_SCALES},
        {"q6_k", GGML_TYPE_Q6_K, BUG_SWAP_NIBBLES},    {"q6_k", GGML_TYPE_Q6_K, BUG_ROTATE_QH},
        {"q6_k", GGML_TYPE_Q6_K, BUG_SWAP_SCALES},     {"iq4_nl", GGML_TYPE_IQ4_NL, BUG_SWAP_NIBBLES},
        {"iq4_xs", GGML_TYPE_IQ4_XS, BUG_SWAP_NIBBLES}, {"iq4_xs", GGML_TYPE_IQ4_XS, BUG_DROP_HIGH_BITS}};
    char path[1024];
    REQUIRE_SHARED(path, "models/llama-k-tiny-f32.gguf");
    gguf_file ref;
    char err[512] = "";
    if (gguf_open(&ref, path, err, sizeof err)) {
        CHECKF(0, "%s", err);
        return;
    }
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char rel[128];
        snprintf(rel, sizeof rel, "models/llama-k-tiny-%s.gguf", cases[c].file);
        gguf_file q;
        if (!test_shared_path(path, sizeof path, rel) || gguf_open(&q, path, err, sizeof err)) {
            CHECKF(0, "%s: cannot open", rel);
            continue;
        }
        /* the first tensor of the wanted type that is not the (large) embedding */
        const gguf_tensor *t = NULL;
        for (uint64_t i = 0; i < q.n_tensors && !t; i++)
            if (q.tensors[i].type == cases[c].type && q.tensors[i].nbytes < 200000) t = &q.tensors[i];
        CHECKF(t != NULL, "%s has no small %s tensor", rel, ggml_type_name(cases[c].type));
        if (t) {
            char name[128];
            snprintf(name, sizeof name, "%.*s", (int)t->name.len, t->name.ptr);
            const gguf_tensor *r = gguf_find_tensor(&ref, name);
            uint8_t *bad = malloc(t->nbytes);
            int64_t n = (int64_t)(t->nbytes / ggml_block_bytes(t->type) * ggml_block_elems(t->type));
            float *got = malloc((size_t)n * 4), *want = malloc((size_t)n * 4);
            if (r && bad && got && want) {
                memcpy(bad, t->data, t->nbytes);
                for (uint64_t o = 0; o < t->nbytes; o += ggml_block_bytes(t->type))
                    inject(t->type, bad + o, cases[c].bug);
                dequantize_row(t->type, bad, got, n);
                memcpy(want, r->data, (size_t)n * 4);
                qerr e = measure(t->type, got, want, n);
                CHECKF(e.max_ratio > 3 && e.rms_ratio > 2.5,
                       "case %zu (%s %s): corrupted blocks pass too easily: max %.2f, rms %.2f", c,
                       cases[c].file, name, e.max_ratio, e.rms_ratio);
            }
            free(bad);
            free(got);
            free(want);
        }
        gguf_close(&q);
    }
    gguf_close(&ref);
}

/* fp16 ulp at |x| (x finite, within fp16 range): 2^(e-10) for normal, 2^-24 below. */
static double fp16_ulp(float x) {
    int e = ilogbf(x);
    return e < -14 ? ldexp(1, -24) : ldexp(1, e - 10);
}
static bool fp16_representable(float x) {
    if (x == 0) return true;
    if (!isfinite(x) || fabsf(x) > 65504.0f) return false;
    double scaled = (double)x / fp16_ulp(x);
    return scaled == floor(scaled);
}

/* The f16 and bf16 files hold the f32 file's values rounded to nearest-even by
 * llama.cpp: our encoders must produce exactly the stored bits, and decoding must give
 * the f32 value back exactly when it is representable and within half an ulp otherwise. */
static void test_k_tiny_f16_bf16_exact(void) {
    char path[1024];
    REQUIRE_SHARED(path, "models/llama-k-tiny-f32.gguf");
    gguf_file ref, h, b;
    char err[512] = "";
    if (gguf_open(&ref, path, err, sizeof err)) {
        CHECKF(0, "%s", err);
        return;
    }
    int ok_h = test_shared_path(path, sizeof path, "models/llama-k-tiny-f16.gguf") &&
               gguf_open(&h, path, err, sizeof err) == 0;
    int ok_b = test_shared_path(path, sizeof path, "models/llama-k-tiny-bf16.gguf") &&
               gguf_open(&b, path, err, sizeof err) == 0;
    CHECKF(ok_h && ok_b, "cannot open the f16/bf16 files: %s", err);
    uint64_t n_half = 0, enc_h = 0, enc_b = 0, dec_h = 0, dec_b = 0, representable = 0;
    for (uint64_t i = 0; ok_h && ok_b && i < ref.n_tensors; i++) {
        const gguf_tensor *r = &ref.tensors[i];
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int)r->name.len, r->name.ptr);
        const gguf_tensor *th = gguf_find_tensor(&h, name), *tb = gguf_find_tensor(&b, name);
        CHECKF(th && tb, "%s missing", name);
        if (!th || !tb || th->type != GGML_TYPE_F16) continue;
        CHECK(tb->type == GGML_TYPE_BF16);
        float *dh = dequant_tensor(th), *db = dequant_tensor(tb);
        uint64_t n = r->nbytes / 4;
        for (uint64_t k = 0; dh && db && k < n; k++) {
            float x;
            uint16_t hb, bb;
            memcpy(&x, (const uint8_t *)r->data + 4 * k, 4);
            memcpy(&hb, (const uint8_t *)th->data + 2 * k, 2);
            memcpy(&bb, (const uint8_t *)tb->data + 2 * k, 2);
            enc_h += f32_to_fp16(x) != hb;
            enc_b += f32_to_bf16(x) != bb;
            if (fp16_representable(x)) {
                representable++;
                dec_h += dh[k] != x;
            } else {
                dec_h += !(fabs((double)dh[k] - x) <= fp16_ulp(x) / 2);
            }
            /* bf16: a float whose low 16 bits are zero is exact; others within half an ulp */
            uint32_t xb = f32_bits(x);
            if ((xb & 0xffff) == 0) dec_b += db[k] != x;
            else dec_b += !(fabs((double)db[k] - x) <= ldexp(1, ilogbf(x) - 8));
            n_half++;
        }
        free(dh);
        free(db);
    }
    CHECKF(n_half > 1000000, "only %llu f16 values compared", (unsigned long long)n_half);
    CHECKF(enc_h == 0 && enc_b == 0, "encoders disagree with llama.cpp on %llu (f16) and %llu (bf16) values",
           (unsigned long long)enc_h, (unsigned long long)enc_b);
    CHECKF(dec_h == 0 && dec_b == 0, "decoded values off on %llu (f16) and %llu (bf16) values",
           (unsigned long long)dec_h, (unsigned long long)dec_b);
    CHECKF(representable > 0, "no exactly representable value met (the exact branch went untested)");
    if (ok_h) gguf_close(&h);
    if (ok_b) gguf_close(&b);
    gguf_close(&ref);
}

/* --- 3. fp16 / bf16 ------------------------------------------------------------------------ */

/* Every fp16 encoding against the IEEE 754 binary16 definition. */
static void test_fp16_decode_all(void) {
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        uint32_t sign = h >> 15, exp = (h >> 10) & 31, man = h & 1023;
        float got = fp16_to_f32((uint16_t)h);
        if (exp == 31 && man) { /* NaN: stays NaN, keeps its sign and payload */
            uint32_t g = f32_bits(got);
            if (!isnan(got) || (g >> 31) != sign || ((g >> 13) & 1023) != man) bad++;
            continue;
        }
        float mag = exp == 31 ? INFINITY
                  : exp == 0  ? ldexpf((float)man, -24)
                              : ldexpf((float)(1024 + man), (int)exp - 25);
        float want = sign ? -mag : mag;
        if (f32_bits(got) != f32_bits(want)) {
            if (bad < 5) fprintf(stderr, "  fp16 %04x -> %g, expected %g\n", h, (double)got, (double)want);
            bad++;
        }
    }
    CHECKF(bad == 0, "%d fp16 encodings decode wrongly", bad);
}

static void test_fp16_round_trip(void) {
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        bool nan = ((h >> 10) & 31) == 31 && (h & 1023);
        uint16_t back = f32_to_fp16(fp16_to_f32((uint16_t)h));
        if (nan ? !(((back >> 10) & 31) == 31 && (back & 1023) && (back >> 15) == (h >> 15)) : back != h) {
            if (bad < 5) fprintf(stderr, "  fp16 %04x -> %04x\n", h, back);
            bad++;
        }
    }
    CHECKF(bad == 0, "%d fp16 values do not survive f32 and back", bad);
}

/* Between every pair of neighbouring fp16 values a and b (including subnormals, and the
 * step from 65504 to infinity): the exact midpoint rounds to the one with an even
 * mantissa, and one float ulp either side rounds to the nearer. */
static void test_fp16_rounding(void) {
    int bad = 0;
    for (uint32_t h = 0; h < 0x7C00; h++) {
        for (uint32_t sign = 0; sign <= 0x8000; sign += 0x8000) {
            uint16_t lo = (uint16_t)(sign | h), hi = (uint16_t)(sign | (h + 1));
            double a = fp16_to_f32(lo);
            double b = h + 1 == 0x7C00 ? (sign ? -65536.0 : 65536.0) : fp16_to_f32(hi);
            float mid = (float)((a + b) / 2); /* exact: 12 significant bits */
            uint16_t even = (h & 1) ? hi : lo;
            if (f32_to_fp16(mid) != even) bad++;
            if (f32_to_fp16(nextafterf(mid, (float)a)) != lo) bad++;
            if (f32_to_fp16(nextafterf(mid, (float)b)) != hi) bad++;
        }
    }
    CHECKF(bad == 0, "%d fp16 rounding cases wrong", bad);
    /* far ends */
    CHECK(f32_to_fp16(1e10f) == 0x7C00 && f32_to_fp16(-1e10f) == 0xFC00);
    CHECK(f32_to_fp16(INFINITY) == 0x7C00 && f32_to_fp16(-INFINITY) == 0xFC00);
    CHECK(f32_to_fp16(ldexpf(1, -25)) == 0x0000);                        /* tie to even: 0 */
    CHECK(f32_to_fp16(nextafterf(ldexpf(1, -25), 1)) == 0x0001);
    CHECK(f32_to_fp16(ldexpf(1, -26)) == 0x0000 && f32_to_fp16(-ldexpf(1, -26)) == 0x8000);
    CHECK(f32_to_fp16(ldexpf(1, -149)) == 0x0000 && f32_to_fp16(-0.0f) == 0x8000);
    uint16_t n1 = f32_to_fp16(NAN), n2 = f32_to_fp16(bits_f32(0x7F800001u)), n3 = f32_to_fp16(-NAN);
    CHECKF((n1 & 0x7C00) == 0x7C00 && (n1 & 0x3FF), "NaN -> %04x", n1);
    CHECKF((n2 & 0x7C00) == 0x7C00 && (n2 & 0x3FF), "NaN with low payload -> %04x (must not be inf)", n2);
    CHECKF((n3 & 0xFC00) == 0xFC00 && (n3 & 0x3FF), "-NaN -> %04x", n3);
}

/* bf16 is by definition the upper 16 bits of a binary32. */
static void test_bf16_all(void) {
    int bad_dec = 0, bad_trip = 0, bad_round = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        float x = bf16_to_f32((uint16_t)h);
        if (f32_bits(x) != h << 16) bad_dec++;
        bool nan = (h & 0x7F80) == 0x7F80 && (h & 0x7F);
        uint16_t back = f32_to_bf16(x);
        if (nan ? !((back & 0x7F80) == 0x7F80 && (back & 0x7F) && (back >> 15) == (h >> 15)) : back != h)
            bad_trip++;
        /* rounding between h and h+1 for finite non-negative and negative values */
        if ((h & 0x7FFF) < 0x7F80) {
            uint32_t mid = (h << 16) | 0x8000;
            uint16_t lo = (uint16_t)h, hi = (uint16_t)(h + 1), even = (h & 1) ? hi : lo;
            if (f32_to_bf16(bits_f32(mid)) != even) bad_round++;
            if (f32_to_bf16(bits_f32(mid - 1)) != lo) bad_round++;
            if (f32_to_bf16(bits_f32(mid + 1)) != hi) bad_round++;
        }
    }
    CHECKF(bad_dec == 0 && bad_trip == 0 && bad_round == 0, "bf16: %d decode, %d round-trip, %d rounding errors",
           bad_dec, bad_trip, bad_round);
    CHECK(f32_to_bf16(FLT_MAX) == 0x7F80);           /* rounds up past the largest: inf */
    CHECK(f32_to_bf16(bits_f32(0x7F7F7FFFu)) == 0x7F7F);
    CHECK(f32_to_bf16(ldexpf(1, -149)) == 0x0000);   /* float subnormal 1 ulp: low half only */
    CHECK(f32_to_bf16(bits_f32(0x00018000u)) == 0x0002); /* subnormal tie, odd below: up */
    uint16_t n = f32_to_bf16(bits_f32(0x7F800001u)), m = f32_to_bf16(bits_f32(0xFFC00000u));
    CHECKF((n & 0x7F80) == 0x7F80 && (n & 0x7F), "NaN with low payload -> %04x (must not be inf)", n);
    CHECKF(m == 0xFFC0, "-qNaN -> %04x", m);
}

/* The row converters (vectorised, branch-free) must agree bit for bit with the scalar
 * ones, which the tests above check against the IEEE definitions: every fp16 encoding,
 * every fp16 midpoint and its neighbours, and a million random float bit patterns (NaNs,
 * infinities and subnormals included), in runs whose lengths exercise the scalar tail. */
static void test_fp16_rows_match_scalar(void) {
    enum { N = 65536 };
    uint16_t *h = malloc(N * sizeof *h);
    float *f = malloc(3 * N * sizeof *f);
    uint16_t *enc = malloc(3 * N * sizeof *enc);
    if (!h || !f || !enc) abort();
    for (uint32_t i = 0; i < N; i++) h[i] = (uint16_t)i;
    int bad = 0;
    /* decode: all encodings, in pieces of odd lengths */
    for (size_t at = 0, len = 1; at < N; at += len, len = len % 29 + 3) {
        size_t n = at + len <= N ? len : N - at;
        fp16_to_f32_row(h + at, f + at, n);
    }
    for (uint32_t i = 0; i < N; i++) {
        bad += f32_bits(f[i]) != f32_bits(fp16_to_f32((uint16_t)i)); /* NaN payloads too */
    }
    CHECKF(bad == 0, "fp16_to_f32_row differs from fp16_to_f32 on %d encodings", bad);
    /* encode: midpoints between neighbours and one float ulp either side */
    size_t m = 0;
    for (uint32_t i = 0; i < 0x7C00 && m + 3 <= 3 * N; i++) {
        double a = fp16_to_f32((uint16_t)i), b = i + 1 == 0x7C00 ? 65536.0 : fp16_to_f32((uint16_t)(i + 1));
        float mid = (float)((a + b) / 2);
        float sign = (i & 1) ? -1.0f : 1.0f;
        f[m++] = sign * mid;
        f[m++] = sign * nextafterf(mid, (float)a);
        f[m++] = sign * nextafterf(mid, (float)b);
    }
    bad = 0;
    for (size_t at = 0, len = 7; at < m; at += len, len = len % 41 + 5) {
        size_t n = at + len <= m ? len : m - at;
        f32_to_fp16_row(f + at, enc + at, n);
    }
    for (size_t i = 0; i < m; i++) bad += enc[i] != f32_to_fp16(f[i]);
    CHECKF(bad == 0, "f32_to_fp16_row differs from f32_to_fp16 on %d of %zu midpoint cases", bad, m);
    /* encode: random bit patterns */
    uint64_t st = 0x243F6A8885A308D3ull;
    bad = 0;
    for (int round = 0; round < 16; round++) {
        for (size_t i = 0; i < 3 * N; i++) {
            st ^= st >> 12, st ^= st << 25, st ^= st >> 27;
            uint32_t r = (uint32_t)((st * 2685821657736338717ull) >> 32);
            /* half the time steer the exponent into fp16's range, where the work is */
            if (i & 1) r = (r & 0x807FFFFFu) | ((uint32_t)(100 + (r >> 24) % 48) << 23);
            f[i] = bits_f32(r);
        }
        f32_to_fp16_row(f, enc, 3 * N - 5);
        for (size_t i = 0; i < 3 * N - 5; i++) bad += enc[i] != f32_to_fp16(f[i]);
    }
    CHECKF(bad == 0, "f32_to_fp16_row differs from f32_to_fp16 on %d random values", bad);
    free(h);
    free(f);
    free(enc);
}

int main(void) {
    RUN(test_q4_0_iq4_nl_blocks);
    RUN(test_q4_1_block);
    RUN(test_q5_blocks);
    RUN(test_q8_0_block);
    RUN(test_mxfp4_block);
    RUN(test_q4_k_block);
    RUN(test_q5_k_block);
    RUN(test_q2_k_block);
    RUN(test_q3_k_block);
    RUN(test_q6_k_block);
    RUN(test_iq4_xs_block);
    RUN(test_float_rows);
    RUN(test_type_table);
    RUN(test_supported_type_names);
    RUN(test_k_tiny_quantized_vs_f32);
    RUN(test_bounds_catch_decoder_bugs);
    RUN(test_k_tiny_f16_bf16_exact);
    RUN(test_fp16_decode_all);
    RUN(test_fp16_round_trip);
    RUN(test_fp16_rounding);
    RUN(test_bf16_all);
    RUN(test_fp16_rows_match_scalar);
    return test_exit_code();
}
