/* quant.c — ggml type table and reference dequantisation (see quant.h).
 * The formulas follow the block layouts documented with GGUF; each loop is written the
 * plain way so that a shader author can read off the bit positions. */
#include "quant.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

typedef struct { const char *name; uint32_t block_elems, block_bytes; bool supported; } type_info;

static const type_info TYPES[GGML_TYPE_COUNT_] = {
    [GGML_TYPE_F32] = {"f32", 1, 4, true},       [GGML_TYPE_F16] = {"f16", 1, 2, true},
    [GGML_TYPE_Q4_0] = {"q4_0", 32, 18, true},   [GGML_TYPE_Q4_1] = {"q4_1", 32, 20, true},
    [GGML_TYPE_Q5_0] = {"q5_0", 32, 22, true},   [GGML_TYPE_Q5_1] = {"q5_1", 32, 24, true},
    [GGML_TYPE_Q8_0] = {"q8_0", 32, 34, true},   [GGML_TYPE_Q8_1] = {"q8_1", 32, 36, false},
    [GGML_TYPE_Q2_K] = {"q2_K", 256, 84, true},  [GGML_TYPE_Q3_K] = {"q3_K", 256, 110, true},
    [GGML_TYPE_Q4_K] = {"q4_K", 256, 144, true}, [GGML_TYPE_Q5_K] = {"q5_K", 256, 176, true},
    [GGML_TYPE_Q6_K] = {"q6_K", 256, 210, true}, [GGML_TYPE_Q8_K] = {"q8_K", 256, 292, false},
    [GGML_TYPE_IQ2_XXS] = {"iq2_xxs", 256, 66, false}, [GGML_TYPE_IQ2_XS] = {"iq2_xs", 256, 74, false},
    [GGML_TYPE_IQ3_XXS] = {"iq3_xxs", 256, 98, false}, [GGML_TYPE_IQ1_S] = {"iq1_s", 256, 50, false},
    [GGML_TYPE_IQ4_NL] = {"iq4_nl", 32, 18, true},    [GGML_TYPE_IQ3_S] = {"iq3_s", 256, 110, false},
    [GGML_TYPE_IQ2_S] = {"iq2_s", 256, 82, false},     [GGML_TYPE_IQ4_XS] = {"iq4_xs", 256, 136, true},
    [GGML_TYPE_I8] = {"i8", 1, 1, false},   [GGML_TYPE_I16] = {"i16", 1, 2, false},
    [GGML_TYPE_I32] = {"i32", 1, 4, false}, [GGML_TYPE_I64] = {"i64", 1, 8, false},
    [GGML_TYPE_F64] = {"f64", 1, 8, false}, [GGML_TYPE_IQ1_M] = {"iq1_m", 256, 56, false},
    [GGML_TYPE_BF16] = {"bf16", 1, 2, true}, [GGML_TYPE_TQ1_0] = {"tq1_0", 256, 54, false},
    [GGML_TYPE_TQ2_0] = {"tq2_0", 256, 66, false},
    [GGML_TYPE_MXFP4] = {"mxfp4", 32, 17, true},
};

static const type_info *info(uint32_t t) {
    return t < GGML_TYPE_COUNT_ && TYPES[t].name ? &TYPES[t] : NULL;
}

const char *ggml_type_name(uint32_t t) {
    const type_info *i = info(t);
    return i ? i->name : "unknown";
}
bool ggml_type_supported(uint32_t t) { const type_info *i = info(t); return i && i->supported; }
const char *ggml_supported_type_names(char *buf, size_t cap) {
    size_t len = 0;
    if (cap) buf[0] = 0;
    for (uint32_t t = 0; t < GGML_TYPE_COUNT_ && cap; t++) {
        if (!ggml_type_supported(t)) continue;
        int n = snprintf(buf + len, cap - len, "%s%s", len ? ", " : "", TYPES[t].name);
        if (n < 0 || (size_t)n >= cap - len) { /* does not fit: end at the last whole name */
            buf[len] = 0;
            break;
        }
        len += (size_t)n;
    }
    return buf;
}

uint32_t ggml_block_elems(uint32_t t) { const type_info *i = info(t); return i ? i->block_elems : 0; }
uint32_t ggml_block_bytes(uint32_t t) { const type_info *i = info(t); return i ? i->block_bytes : 0; }

bool ggml_row_bytes(uint32_t t, uint64_t n, uint64_t *out) {
    const type_info *i = info(t);
    if (!i || n % i->block_elems) return false;
    if (n / i->block_elems > UINT64_MAX / i->block_bytes) return false; /* would overflow */
    *out = n / i->block_elems * i->block_bytes;
    return true;
}

float fp16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else { /* subnormal: renormalise */
            int e = -1;
            do { e++; man <<= 1; } while (!(man & 0x400));
            bits = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3ff) << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (man << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t f32_to_fp16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000;
    int32_t exp = (int32_t)((x >> 23) & 0xff) - 127 + 15;
    uint32_t man = x & 0x7fffff;
    if (((x >> 23) & 0xff) == 0xff) return (uint16_t)(sign | 0x7c00 | (man ? 0x200 : 0));
    if (exp >= 31) return (uint16_t)(sign | 0x7c00);
    if (exp <= 0) {
        if (exp < -10) return (uint16_t)sign;
        man |= 0x800000;
        uint32_t shift = (uint32_t)(14 - exp);
        uint32_t half = man >> shift, rem = man & ((1u << shift) - 1), mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (half & 1))) half++;
        return (uint16_t)(sign | half);
    }
    uint32_t h = sign | ((uint32_t)exp << 10) | (man >> 13), rem = man & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (h & 1))) h++; /* may carry into the exponent: correct */
    return (uint16_t)h;
}

float bf16_to_f32(uint16_t h) {
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t f32_to_bf16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7fffffff) > 0x7f800000) return (uint16_t)((x >> 16) | 64); /* quiet NaN */
    x += 0x7fff + ((x >> 16) & 1);
    return (uint16_t)(x >> 16);
}

/* ---- rows of fp16, branch-free ----
 * Every case of the scalar functions is computed for eight values at once and the right
 * one picked with masks, so each loop body is straight-line code the vectoriser takes. */

#define ROW_LANES 8

void f32_to_fp16_row(const float *x, uint16_t *y, size_t n) {
    size_t i = 0;
    for (; i + ROW_LANES <= n; i += ROW_LANES) {
        uint32_t bits[ROW_LANES], out[ROW_LANES], sub[ROW_LANES];
        float small[ROW_LANES];
        memcpy(bits, x + i, sizeof bits);
        for (int j = 0; j < ROW_LANES; j++) {
            /* Below 2^-14 the result is subnormal: adding 0.5 lets the FPU round the
             * value to a multiple of 2^-24 (half's subnormal step), which is then the low
             * bits of the sum. */
            uint32_t a = bits[j] & 0x7fffffffu;
            float f;
            memcpy(&f, &a, sizeof f);
            small[j] = f + 0.5f;
        }
        memcpy(sub, small, sizeof sub);
        for (int j = 0; j < ROW_LANES; j++) {
            uint32_t sign = (bits[j] >> 16) & 0x8000u;
            int32_t a = (int32_t)(bits[j] & 0x7fffffffu);
            /* normal: rebias the exponent from 127 to 15 and round the 13 dropped bits to
             * nearest even (a carry may reach the exponent, even up to infinity) */
            uint32_t normal = ((uint32_t)a - (112u << 23) + 0xfffu + (((uint32_t)a >> 13) & 1u)) >> 13;
            uint32_t subn = sub[j] - 0x3f000000u; /* minus the bits of 0.5 */
            uint32_t special = 0x7c00u | (a > 0x7f800000 ? 0x200u : 0u); /* inf, quiet NaN */
            uint32_t m_special = a >= 0x7f800000 ? ~0u : 0u;
            uint32_t m_over = a >= 0x47800000 ? ~0u : 0u; /* 2^16 and up: infinity */
            uint32_t m_sub = a < 0x38800000 ? ~0u : 0u;
            uint32_t v = (normal & ~m_sub) | (subn & m_sub);
            v = (v & ~m_over) | (0x7c00u & m_over);
            v = (v & ~m_special) | (special & m_special);
            out[j] = sign | v;
        }
        for (int j = 0; j < ROW_LANES; j++) y[i + (size_t)j] = (uint16_t)out[j];
    }
    for (; i < n; i++) y[i] = f32_to_fp16(x[i]);
}

void fp16_to_f32_row(const uint16_t *x, float *y, size_t n) {
    size_t i = 0;
    for (; i + ROW_LANES <= n; i += ROW_LANES) {
        uint32_t out[ROW_LANES], sub[ROW_LANES];
        float small[ROW_LANES];
        for (int j = 0; j < ROW_LANES; j++) small[j] = (float)(int32_t)(x[i + (size_t)j] & 0x3ffu) * 0x1p-24f;
        memcpy(sub, small, sizeof sub);
        for (int j = 0; j < ROW_LANES; j++) {
            uint32_t h = x[i + (size_t)j], sign = (h & 0x8000u) << 16, e = h & 0x7c00u;
            uint32_t normal = ((h & 0x7fffu) << 13) + (112u << 23);
            uint32_t special = 0x7f800000u | ((h & 0x3ffu) << 13);
            uint32_t m_sub = e == 0 ? ~0u : 0u, m_special = e == 0x7c00u ? ~0u : 0u;
            uint32_t v = (normal & ~m_sub) | (sub[j] & m_sub);
            v = (v & ~m_special) | (special & m_special);
            out[j] = sign | v;
        }
        memcpy(y + i, out, sizeof out);
    }
    for (; i < n; i++) y[i] = fp16_to_f32(x[i]);
}

/* Q4_K and Q5_K pack eight 6-bit (scale, min) pairs into 12 bytes: pairs 0..3 sit in the
 * low 6 bits of bytes 0..7; pairs 4..7 take their low 4 bits from bytes 8..11 and their
 * top 2 bits from the spare high bits of bytes 0..7. */
static void scale_min_k4(int j, const uint8_t *q, uint8_t *sc, uint8_t *m) {
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = (uint8_t)((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
        *m = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}

static void dq_q4_0(const block_q4_0 *b, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, y += QK4_0) {
        float d = fp16_to_f32(b[i].d);
        for (int j = 0; j < QK4_0 / 2; j++) {
            y[j] = ((b[i].qs[j] & 0x0F) - 8) * d;
            y[j + QK4_0 / 2] = ((b[i].qs[j] >> 4) - 8) * d;
        }
    }
}

/* Q4_1: the nibbles of Q4_0, unsigned, with an offset: weight = d * q + m. */
static void dq_q4_1(const block_q4_1 *b, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, y += QK4_1) {
        float d = fp16_to_f32(b[i].d), m = fp16_to_f32(b[i].m);
        for (int j = 0; j < QK4_1 / 2; j++) {
            y[j] = (b[i].qs[j] & 0x0F) * d + m;
            y[j + QK4_1 / 2] = (b[i].qs[j] >> 4) * d + m;
        }
    }
}

/* Q5_0 and Q5_1 give each nibble a fifth (top) bit: the block's 32 fifth bits are one
 * little-endian 32-bit word, bit j for weight j (so bits 0..15 go with the low nibbles,
 * bits 16..31 with the high ones). */
static uint32_t fifth_bits(const uint8_t qh[4]) {
    return (uint32_t)qh[0] | (uint32_t)qh[1] << 8 | (uint32_t)qh[2] << 16 | (uint32_t)qh[3] << 24;
}

/* Q5_0: q in 0..31 centred on 16: weight = d * (q - 16). */
static void dq_q5_0(const block_q5_0 *b, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, y += QK5_0) {
        float d = fp16_to_f32(b[i].d);
        uint32_t qh = fifth_bits(b[i].qh);
        for (int j = 0; j < QK5_0 / 2; j++) {
            int lo = (int)((b[i].qs[j] & 0x0F) | ((qh >> j) & 1) << 4);
            int hi = (int)((b[i].qs[j] >> 4) | ((qh >> (j + 16)) & 1) << 4);
            y[j] = (lo - 16) * d;
            y[j + QK5_0 / 2] = (hi - 16) * d;
        }
    }
}

/* Q5_1: q in 0..31 with an offset: weight = d * q + m. */
static void dq_q5_1(const block_q5_1 *b, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, y += QK5_1) {
        float d = fp16_to_f32(b[i].d), m = fp16_to_f32(b[i].m);
        uint32_t qh = fifth_bits(b[i].qh);
        for (int j = 0; j < QK5_1 / 2; j++) {
            int lo = (int)((b[i].qs[j] & 0x0F) | ((qh >> j) & 1) << 4);
            int hi = (int)((b[i].qs[j] >> 4) | ((qh >> (j + 16)) & 1) << 4);
            y[j] = lo * d + m;
            y[j + QK5_1 / 2] = hi * d + m;
        }
    }
}

/* MXFP4: element j < 16 is the low nibble of byte j, element j + 16 the high nibble; the
 * nibble indexes the doubled E2M1 values, and the block's E8M0 byte e gives the scale
 * 2^(e - 127), halved for the doubling. Both factors are exact in f32, so the product is
 * the weight exactly (only e = 255 with a large value overflows to infinity). */
const int8_t MXFP4_VALUES[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};

static void dq_mxfp4(const block_mxfp4 *b, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, y += QK_MXFP4) {
        const float d = mxfp4_scale_half(b[i].e);
        for (int j = 0; j < QK_MXFP4 / 2; j++) {
            y[j] = d * MXFP4_VALUES[b[i].qs[j] & 0x0F];
            y[j + QK_MXFP4 / 2] = d * MXFP4_VALUES[b[i].qs[j] >> 4];
        }
    }
}

static void dq_q8_0(const block_q8_0 *b, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, y += QK8_0) {
        float d = fp16_to_f32(b[i].d);
        for (int j = 0; j < QK8_0; j++) y[j] = b[i].qs[j] * d;
    }
}

/* Q2_K and Q3_K both lay out a super-block of 256 weights as two halves of 128, each four
 * groups of 32, with 2-bit quants four to a byte: weight 128h + 32g + l (l = 0..31) keeps
 * its two low bits in bits 2g, 2g+1 of qs[32h + l]. Each 16 weights have their own scale:
 * sub-block 8h + 2g + l/16, i.e. simply weight / 16. */

/* Q2_K: the sub-block's byte in scales[] holds a 4-bit scale (low nibble) and a 4-bit min
 * (high nibble), multiplied by the fp16 d and dmin: weight = d*scale * q - dmin*min. */
static void dq_q2_k(const block_q2_K *b, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, y += QK_K) {
        const float d = fp16_to_f32(b[i].d), dmin = fp16_to_f32(b[i].dmin);
        for (int s = 0; s < QK_K / 16; s++) { /* s = 8h + 2g + l/16 */
            const int h = s / 8, g = (s / 2) % 4, l0 = 16 * (s % 2);
            const float dl = d * (b[i].scales[s] & 0xF), ml = dmin * (b[i].scales[s] >> 4);
            for (int l = l0; l < l0 + 16; l++)
                y[16 * s + l - l0] = dl * ((b[i].qs[32 * h + l] >> (2 * g)) & 3) - ml;
        }
    }
}

/* Q3_K's sixteen scales are 6 bits, stored plus 32, packed into 12 bytes: the low 4 bits
 * of scale j are the low (j < 8) or high (j >= 8) nibble of byte j % 8; its top 2 bits are
 * bits 2(j/4), 2(j/4)+1 of byte 8 + j % 4. */
static int q3_k_scale(const uint8_t *s, int j) {
    const int lo = j < 8 ? s[j] & 0xF : s[j - 8] >> 4, hi = (s[8 + j % 4] >> (2 * (j / 4))) & 3;
    return (lo | hi << 4) - 32;
}

/* Q3_K: a third bit per weight in hmask, bit 4h + g of hmask[l] for weight 128h + 32g + l,
 * set meaning "as is", clear meaning "minus 4": q in -4..3, weight = d*scale * q. */
static void dq_q3_k(const block_q3_K *b, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, y += QK_K) {
        const float d = fp16_to_f32(b[i].d);
        for (int s = 0; s < QK_K / 16; s++) {
            const int h = s / 8, g = (s / 2) % 4, l0 = 16 * (s % 2);
            const float dl = d * q3_k_scale(b[i].scales, s);
            for (int l = l0; l < l0 + 16; l++) {
                const int q = ((b[i].qs[32 * h + l] >> (2 * g)) & 3) - (b[i].hmask[l] >> (4 * h + g) & 1 ? 0 : 4);
                y[16 * s + l - l0] = dl * q;
            }
        }
    }
}

static void dq_q4_k(const block_q4_K *b, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++) {
        const uint8_t *q = b[i].qs;
        float d = fp16_to_f32(b[i].d), dmin = fp16_to_f32(b[i].dmin);
        for (int j = 0, is = 0; j < QK_K; j += 64, is += 2, q += 32) {
            uint8_t sc, m;
            scale_min_k4(is, b[i].scales, &sc, &m);
            float d1 = d * sc, m1 = dmin * m;
            scale_min_k4(is + 1, b[i].scales, &sc, &m);
            float d2 = d * sc, m2 = dmin * m;
            for (int l = 0; l < 32; l++) *y++ = d1 * (q[l] & 0xF) - m1;
            for (int l = 0; l < 32; l++) *y++ = d2 * (q[l] >> 4) - m2;
        }
    }
}

static void dq_q5_k(const block_q5_K *b, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++) {
        const uint8_t *ql = b[i].qs, *qh = b[i].qh;
        float d = fp16_to_f32(b[i].d), dmin = fp16_to_f32(b[i].dmin);
        uint8_t u1 = 1, u2 = 2;
        for (int j = 0, is = 0; j < QK_K; j += 64, is += 2, ql += 32, u1 <<= 2, u2 <<= 2) {
            uint8_t sc, m;
            scale_min_k4(is, b[i].scales, &sc, &m);
            float d1 = d * sc, m1 = dmin * m;
            scale_min_k4(is + 1, b[i].scales, &sc, &m);
            float d2 = d * sc, m2 = dmin * m;
            for (int l = 0; l < 32; l++) *y++ = d1 * ((ql[l] & 0xF) + (qh[l] & u1 ? 16 : 0)) - m1;
            for (int l = 0; l < 32; l++) *y++ = d2 * ((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0)) - m2;
        }
    }
}

static void dq_q6_k(const block_q6_K *b, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++) {
        const float d = fp16_to_f32(b[i].d);
        const uint8_t *ql = b[i].ql, *qh = b[i].qh;
        const int8_t *sc = b[i].scales;
        for (int n = 0; n < QK_K; n += 128, y += 128, ql += 64, qh += 32, sc += 8) {
            for (int l = 0; l < 32; l++) {
                int is = l / 16;
                int q1 = (int)((ql[l + 0] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
                int q2 = (int)((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
                int q3 = (int)((ql[l + 0] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                int q4 = (int)((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                y[l + 0] = d * sc[is + 0] * q1;
                y[l + 32] = d * sc[is + 2] * q2;
                y[l + 64] = d * sc[is + 4] * q3;
                y[l + 96] = d * sc[is + 6] * q4;
            }
        }
    }
}

const int8_t IQ4_LEVELS[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

/* IQ4_NL: Q4_0's block (fp16 d, then 16 bytes whose low nibbles are weights 0..15 and high
 * nibbles weights 16..31), but each nibble indexes IQ4_LEVELS: weight = d * level. */
static void dq_iq4_nl(const block_iq4_nl *b, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, y += QK4_NL) {
        const float d = fp16_to_f32(b[i].d);
        for (int j = 0; j < QK4_NL / 2; j++) {
            y[j] = d * IQ4_LEVELS[b[i].qs[j] & 0x0F];
            y[j + QK4_NL / 2] = d * IQ4_LEVELS[b[i].qs[j] >> 4];
        }
    }
}

/* IQ4_XS: a super-block of 256 is eight IQ4_NL-like sub-blocks of 32 (16 bytes of nibbles
 * each, laid out as in IQ4_NL, one after another) under one fp16 d. Sub-block s has a
 * 6-bit scale stored plus 32: its low 4 bits are the low (s even) or high (s odd) nibble
 * of scales_l[s / 2], its top 2 bits are bits 2s, 2s+1 of scales_h. The sub-block's
 * step, d * (scale - 32), is rounded to float once: weight = step * level. */
static void dq_iq4_xs(const block_iq4_xs *b, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++) {
        const float d = fp16_to_f32(b[i].d);
        for (int s = 0; s < QK_K / 32; s++, y += 32) {
            const int lo = (b[i].scales_l[s / 2] >> (4 * (s % 2))) & 0xF, hi = (b[i].scales_h >> (2 * s)) & 3;
            const float step = d * ((lo | hi << 4) - 32);
            const uint8_t *qs = b[i].qs + 16 * s;
            for (int j = 0; j < 16; j++) {
                y[j] = step * IQ4_LEVELS[qs[j] & 0x0F];
                y[j + 16] = step * IQ4_LEVELS[qs[j] >> 4];
            }
        }
    }
}

void dequantize_row(uint32_t type, const void *src, float *dst, int64_t n) {
    switch (type) {
    case GGML_TYPE_F32: memcpy(dst, src, (size_t)n * 4); break;
    case GGML_TYPE_F16: {
        const uint8_t *p = src;
        for (int64_t i = 0; i < n; i++) { uint16_t h; memcpy(&h, p + 2 * i, 2); dst[i] = fp16_to_f32(h); }
        break;
    }
    case GGML_TYPE_BF16: {
        const uint8_t *p = src;
        for (int64_t i = 0; i < n; i++) { uint16_t h; memcpy(&h, p + 2 * i, 2); dst[i] = bf16_to_f32(h); }
        break;
    }
    case GGML_TYPE_Q4_0: dq_q4_0(src, dst, n / QK4_0); break;
    case GGML_TYPE_Q4_1: dq_q4_1(src, dst, n / QK4_1); break;
    case GGML_TYPE_Q5_0: dq_q5_0(src, dst, n / QK5_0); break;
    case GGML_TYPE_Q5_1: dq_q5_1(src, dst, n / QK5_1); break;
    case GGML_TYPE_Q8_0: dq_q8_0(src, dst, n / QK8_0); break;
    case GGML_TYPE_MXFP4: dq_mxfp4(src, dst, n / QK_MXFP4); break;
    case GGML_TYPE_Q2_K: dq_q2_k(src, dst, n / QK_K); break;
    case GGML_TYPE_Q3_K: dq_q3_k(src, dst, n / QK_K); break;
    case GGML_TYPE_Q4_K: dq_q4_k(src, dst, n / QK_K); break;
    case GGML_TYPE_Q5_K: dq_q5_k(src, dst, n / QK_K); break;
    case GGML_TYPE_Q6_K: dq_q6_k(src, dst, n / QK_K); break;
    case GGML_TYPE_IQ4_NL: dq_iq4_nl(src, dst, n / QK4_NL); break;
    case GGML_TYPE_IQ4_XS: dq_iq4_xs(src, dst, n / QK_K); break;
    default: memset(dst, 0, (size_t)n * sizeof *dst); break; /* callers check support first */
    }
}

_Static_assert(sizeof(block_q4_0) == 18, "q4_0 layout");
_Static_assert(sizeof(block_q4_1) == 20, "q4_1 layout");
_Static_assert(sizeof(block_q5_0) == 22, "q5_0 layout");
_Static_assert(sizeof(block_q5_1) == 24, "q5_1 layout");
_Static_assert(sizeof(block_q8_0) == 34, "q8_0 layout");
_Static_assert(sizeof(block_mxfp4) == 17, "mxfp4 layout");
_Static_assert(sizeof(block_q2_K) == 84, "q2_K layout");
_Static_assert(sizeof(block_q3_K) == 110, "q3_K layout");
_Static_assert(sizeof(block_q4_K) == 144, "q4_K layout");
_Static_assert(sizeof(block_q5_K) == 176, "q5_K layout");
_Static_assert(sizeof(block_q6_K) == 210, "q6_K layout");
_Static_assert(sizeof(block_iq4_nl) == 18, "iq4_nl layout");
_Static_assert(sizeof(block_iq4_xs) == 136, "iq4_xs layout");
