/* quantize.c — see quantize.h. Each packer is the exact inverse of the matching
 * dequantiser in quant.c, which is what the round-trip test checks. */
#include "quantize.h"
#include "quant.h"

#include <math.h>
#include <string.h>

static float max_abs(const float *x, int n) {
    float m = 0;
    for (int i = 0; i < n; i++) m = fmaxf(m, fabsf(x[i]));
    return m;
}

static int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

static void q8_0(const float *x, block_q8_0 *b, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, x += QK8_0) {
        float d = max_abs(x, QK8_0) / 127.0f, id = d ? 1.0f / d : 0;
        b[i].d = f32_to_fp16(d);
        for (int j = 0; j < QK8_0; j++) b[i].qs[j] = (int8_t)clampi((int)lrintf(x[j] * id), -127, 127);
    }
}

/* Q4_0 stores q - 8 in 0..15; the scale maps the largest-magnitude value onto -8. */
static void q4_0(const float *x, block_q4_0 *b, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, x += QK4_0) {
        float amax = 0, vmax = 0;
        for (int j = 0; j < QK4_0; j++)
            if (fabsf(x[j]) > amax) { amax = fabsf(x[j]); vmax = x[j]; }
        float d = vmax / -8.0f, id = d ? 1.0f / d : 0;
        b[i].d = f32_to_fp16(d);
        for (int j = 0; j < QK4_0 / 2; j++) {
            int lo = clampi((int)lrintf(x[j] * id) + 8, 0, 15);
            int hi = clampi((int)lrintf(x[j + QK4_0 / 2] * id) + 8, 0, 15);
            b[i].qs[j] = (uint8_t)(lo | (hi << 4));
        }
    }
}

/* Q5_0 stores q - 16 in 0..31 (a fifth bit per weight in qh): Q4_0's scheme on a grid
 * twice as fine, the largest-magnitude value mapped onto -16. */
static void q5_0(const float *x, block_q5_0 *b, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, x += QK5_0) {
        float amax = 0, vmax = 0;
        for (int j = 0; j < QK5_0; j++)
            if (fabsf(x[j]) > amax) { amax = fabsf(x[j]); vmax = x[j]; }
        float d = vmax / -16.0f, id = d ? 1.0f / d : 0;
        b[i].d = f32_to_fp16(d);
        uint32_t qh = 0;
        for (int j = 0; j < QK5_0 / 2; j++) {
            int lo = clampi((int)lrintf(x[j] * id) + 16, 0, 31);
            int hi = clampi((int)lrintf(x[j + QK5_0 / 2] * id) + 16, 0, 31);
            b[i].qs[j] = (uint8_t)((lo & 15) | ((hi & 15) << 4));
            qh |= (uint32_t)(lo >> 4) << j | (uint32_t)(hi >> 4) << (j + QK5_0 / 2);
        }
        for (int k = 0; k < 4; k++) b[i].qh[k] = (uint8_t)(qh >> (8 * k));
    }
}

/* Q4_1 / Q5_1: x ~ d * q + m with m the block's minimum and d its range over the grid
 * (LEVELS = 15 or 31); the quants are rounded against d and m as they will be decoded,
 * after fp16 rounding. QH is NULL for Q4_1. Writes the 16 nibble bytes and the fifth bits. */
static void offset_block(const float *x, int levels, uint16_t *d_out, uint16_t *m_out, uint8_t qs[16],
                         uint8_t *qh) {
    float lo = x[0], hi = x[0];
    for (int j = 1; j < 32; j++) { lo = fminf(lo, x[j]); hi = fmaxf(hi, x[j]); }
    *d_out = f32_to_fp16((hi - lo) / (float)levels);
    *m_out = f32_to_fp16(lo);
    float d = fp16_to_f32(*d_out), m = fp16_to_f32(*m_out), id = d ? 1.0f / d : 0;
    uint32_t bits = 0;
    for (int j = 0; j < 16; j++) {
        int q0 = clampi((int)lrintf((x[j] - m) * id), 0, levels);
        int q1 = clampi((int)lrintf((x[j + 16] - m) * id), 0, levels);
        qs[j] = (uint8_t)((q0 & 15) | ((q1 & 15) << 4));
        bits |= (uint32_t)(q0 >> 4) << j | (uint32_t)(q1 >> 4) << (j + 16);
    }
    if (qh)
        for (int k = 0; k < 4; k++) qh[k] = (uint8_t)(bits >> (8 * k));
}

static void q4_1(const float *x, block_q4_1 *b, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, x += QK4_1) offset_block(x, 15, &b[i].d, &b[i].m, b[i].qs, NULL);
}

static void q5_1(const float *x, block_q5_1 *b, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, x += QK5_1) offset_block(x, 31, &b[i].d, &b[i].m, b[i].qs, b[i].qh);
}

/* Weight e of a Q2_K/Q3_K super-block keeps its two low bits in bits 2g, 2g+1 of
 * qs[32h + l], for e = 128h + 32g + l. */
static void pack_2bit(const uint8_t q[QK_K], uint8_t qs[QK_K / 4]) {
    memset(qs, 0, QK_K / 4);
    for (int e = 0; e < QK_K; e++) qs[32 * (e / 128) + e % 32] |= (uint8_t)((q[e] & 3) << (2 * ((e % 128) / 32)));
}

/* Q2_K: sixteen sub-blocks of 16, each x ~ d*sc*q - dmin*m with q in 0..3 and 4-bit sc, m
 * (Q4_K's scheme with a coarser grid). */
static void q2_k(const float *x, block_q2_K *b, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, x += QK_K) {
        float scale[16], minv[16], max_scale = 0, max_min = 0;
        for (int s = 0; s < 16; s++) {
            float lo = 0, hi = 0; /* the range always includes 0, so mins are >= 0 */
            for (int l = 0; l < 16; l++) { lo = fminf(lo, x[16 * s + l]); hi = fmaxf(hi, x[16 * s + l]); }
            scale[s] = (hi - lo) / 3.0f;
            minv[s] = -lo;
            max_scale = fmaxf(max_scale, scale[s]);
            max_min = fmaxf(max_min, minv[s]);
        }
        b[i].d = f32_to_fp16(max_scale / 15.0f);
        b[i].dmin = f32_to_fp16(max_min / 15.0f);
        /* the scales as they will be decoded (after fp16 rounding) */
        const float dd = fp16_to_f32(b[i].d), dm = fp16_to_f32(b[i].dmin);
        uint8_t q[QK_K];
        for (int s = 0; s < 16; s++) {
            const int sc = clampi(dd ? (int)lrintf(scale[s] / dd) : 0, 0, 15);
            const int m = clampi(dm ? (int)lrintf(minv[s] / dm) : 0, 0, 15);
            b[i].scales[s] = (uint8_t)(sc | m << 4);
            const float step = dd * sc, off = dm * m;
            for (int l = 0; l < 16; l++)
                q[16 * s + l] = (uint8_t)clampi(step ? (int)lrintf((x[16 * s + l] + off) / step) : 0, 0, 3);
        }
        pack_2bit(q, b[i].qs);
    }
}

/* Q3_K: sixteen sub-blocks of 16 with signed 6-bit scales; q in -4..3 (the extreme of
 * each sub-block mapped onto -4, as Q4_0 does), its low two bits in qs and a bit in hmask
 * that is set for q >= 0. */
static void q3_k(const float *x, block_q3_K *b, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, x += QK_K) {
        float scale[16], max_scale = 0;
        for (int s = 0; s < 16; s++) {
            float amax = 0, vmax = 0;
            for (int l = 0; l < 16; l++)
                if (fabsf(x[16 * s + l]) > amax) { amax = fabsf(x[16 * s + l]); vmax = x[16 * s + l]; }
            scale[s] = vmax / -4.0f;
            max_scale = fmaxf(max_scale, fabsf(scale[s]));
        }
        b[i].d = f32_to_fp16(max_scale / 31.0f);
        const float dd = fp16_to_f32(b[i].d);
        uint8_t q[QK_K];
        memset(b[i].scales, 0, sizeof b[i].scales);
        memset(b[i].hmask, 0, sizeof b[i].hmask);
        for (int s = 0; s < 16; s++) {
            const int sc = clampi(dd ? (int)lrintf(scale[s] / dd) : 0, -32, 31), u = sc + 32;
            b[i].scales[s % 8] |= (uint8_t)(s < 8 ? (u & 15) : (u & 15) << 4);
            b[i].scales[8 + s % 4] |= (uint8_t)((u >> 4) << (2 * (s / 4)));
            const float step = dd * sc;
            for (int l = 0; l < 16; l++) {
                const int e = 16 * s + l, v = clampi(step ? (int)lrintf(x[e] / step) : 0, -4, 3);
                q[e] = (uint8_t)(v + 4);
                if (v >= 0) b[i].hmask[e % 32] |= (uint8_t)(1u << (4 * (e / 128) + (e % 128) / 32));
            }
        }
        pack_2bit(q, b[i].qs);
    }
}

/* Q4_K / Q5_K: eight sub-blocks of 32, each x ~ d*sc*q - dmin*m with q in 0..LEVELS (15 or
 * 31) and 6-bit sc, m. Writes d, dmin and the 12 packed scale bytes, and the quants into Q
 * (one per weight, unpacked). */
static void k_sub_blocks(const float *x, int levels, uint16_t *d_out, uint16_t *dmin_out,
                         uint8_t scales[K_SCALE_SIZE], uint8_t q[QK_K]) {
    float scale[8], minv[8], max_scale = 0, max_min = 0;
    for (int s = 0; s < 8; s++) {
        float lo = 0, hi = 0; /* the range always includes 0, so mins are >= 0 */
        for (int l = 0; l < 32; l++) { lo = fminf(lo, x[32 * s + l]); hi = fmaxf(hi, x[32 * s + l]); }
        scale[s] = (hi - lo) / (float)levels;
        minv[s] = -lo;
        max_scale = fmaxf(max_scale, scale[s]);
        max_min = fmaxf(max_min, minv[s]);
    }
    float d = max_scale / 63.0f, dmin = max_min / 63.0f;
    uint8_t sc[8], m[8];
    for (int s = 0; s < 8; s++) {
        sc[s] = (uint8_t)clampi(d ? (int)lrintf(scale[s] / d) : 0, 0, 63);
        m[s] = (uint8_t)clampi(dmin ? (int)lrintf(minv[s] / dmin) : 0, 0, 63);
    }
    *d_out = f32_to_fp16(d);
    *dmin_out = f32_to_fp16(dmin);
    /* Use the scales as they will be decoded (after fp16 rounding). */
    float dd = fp16_to_f32(*d_out), dm = fp16_to_f32(*dmin_out);
    for (int j = 0; j < 4; j++) {
        scales[j] = (uint8_t)((sc[j] & 63) | ((sc[j + 4] >> 4) << 6));
        scales[j + 4] = (uint8_t)((m[j] & 63) | ((m[j + 4] >> 4) << 6));
        scales[j + 8] = (uint8_t)((sc[j + 4] & 0xF) | ((m[j + 4] & 0xF) << 4));
    }
    for (int s = 0; s < 8; s++) {
        float step = dd * sc[s], off = dm * m[s];
        for (int l = 0; l < 32; l++)
            q[32 * s + l] = (uint8_t)clampi(step ? (int)lrintf((x[32 * s + l] + off) / step) : 0, 0, levels);
    }
}

/* Q4_K: sub-blocks 2j and 2j+1 share the bytes qs[32j .. 32j+31], low and high nibbles. */
static void q4_k(const float *x, block_q4_K *b, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, x += QK_K) {
        uint8_t q[QK_K];
        k_sub_blocks(x, 15, &b[i].d, &b[i].dmin, b[i].scales, q);
        for (int j = 0; j < 4; j++)
            for (int l = 0; l < 32; l++)
                b[i].qs[32 * j + l] = (uint8_t)(q[64 * j + l] | (q[64 * j + 32 + l] << 4));
    }
}

/* Q5_K: Q4_K's nibbles, and the fifth bit of weight 32s + l in bit s of qh[l]. */
static void q5_k(const float *x, block_q5_K *b, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, x += QK_K) {
        uint8_t q[QK_K];
        k_sub_blocks(x, 31, &b[i].d, &b[i].dmin, b[i].scales, q);
        memset(b[i].qh, 0, sizeof b[i].qh);
        for (int j = 0; j < 4; j++)
            for (int l = 0; l < 32; l++)
                b[i].qs[32 * j + l] = (uint8_t)((q[64 * j + l] & 15) | ((q[64 * j + 32 + l] & 15) << 4));
        for (int e = 0; e < QK_K; e++) b[i].qh[e % 32] |= (uint8_t)((q[e] >> 4) << (e / 32));
    }
}

/* IQ4_NL / IQ4_XS: the index of the level of IQ4_LEVELS nearest to V. */
static int iq4_nearest(float v) {
    int best = 0;
    for (int k = 1; k < 16; k++)
        if (fabsf(v - IQ4_LEVELS[k]) < fabsf(v - IQ4_LEVELS[best])) best = k;
    return best;
}

/* 32 weights as the indices of their nearest levels times STEP, packed as Q4_0's nibbles
 * (weight j < 16 in the low nibble of byte j, weight j + 16 in its high nibble). */
static void iq4_indices(const float *x, float step, uint8_t qs[16]) {
    const float inv = step ? 1.0f / step : 0;
    for (int j = 0; j < 16; j++)
        qs[j] = (uint8_t)(iq4_nearest(x[j] * inv) | iq4_nearest(x[j + 16] * inv) << 4);
}

/* The value of largest magnitude among X[0..N), with its sign. */
static float signed_extreme(const float *x, int n) {
    float amax = 0, vmax = 0;
    for (int j = 0; j < n; j++)
        if (fabsf(x[j]) > amax) { amax = fabsf(x[j]); vmax = x[j]; }
    return vmax;
}

/* IQ4_NL: the block's extreme mapped onto the level -127 (Q4_0's scheme on the non-linear
 * grid), without llama.cpp's search for a better scale. */
static void iq4_nl(const float *x, block_iq4_nl *b, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, x += QK4_NL) {
        b[i].d = f32_to_fp16(signed_extreme(x, QK4_NL) / -127.0f);
        iq4_indices(x, fp16_to_f32(b[i].d), b[i].qs);
    }
}

/* IQ4_XS: each sub-block of 32 wants IQ4_NL's scale; those are written as d * (an integer
 * in -32..31), the largest in magnitude mapped onto -32 (Q3_K's scheme on 6 bits), and the
 * indices are rounded against the steps as they will be decoded. */
static void iq4_xs(const float *x, block_iq4_xs *b, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, x += QK_K) {
        float scale[QK_K / 32], extreme = 0;
        for (int s = 0; s < QK_K / 32; s++) {
            scale[s] = signed_extreme(x + 32 * s, 32) / -127.0f;
            if (fabsf(scale[s]) > fabsf(extreme)) extreme = scale[s];
        }
        b[i].d = f32_to_fp16(extreme / -32.0f);
        const float d = fp16_to_f32(b[i].d);
        b[i].scales_h = 0;
        memset(b[i].scales_l, 0, sizeof b[i].scales_l);
        for (int s = 0; s < QK_K / 32; s++) {
            const int u = clampi(d ? (int)lrintf(scale[s] / d) : 0, -32, 31) + 32;
            b[i].scales_l[s / 2] |= (uint8_t)((u & 15) << (4 * (s % 2)));
            b[i].scales_h |= (uint16_t)((u >> 4) << (2 * s));
            iq4_indices(x + 32 * s, d * (u - 32), b[i].qs + 16 * s);
        }
    }
}

/* Q6_K: sixteen sub-blocks of 16 with int8 scales; q in -32..31 stored as 6 bits split
 * into a low nibble (ql) and two high bits (qh). */
static void q6_k(const float *x, block_q6_K *b, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, x += QK_K) {
        float scale[16], max_scale = 0;
        for (int s = 0; s < 16; s++) {
            scale[s] = max_abs(x + 16 * s, 16) / 31.0f;
            max_scale = fmaxf(max_scale, scale[s]);
        }
        float d = max_scale / 127.0f;
        b[i].d = f32_to_fp16(d);
        float dd = fp16_to_f32(b[i].d);
        uint8_t q[QK_K];
        for (int s = 0; s < 16; s++) {
            int sc = clampi(dd ? (int)lrintf(scale[s] / dd) : 0, -128, 127);
            b[i].scales[s] = (int8_t)sc;
            float step = dd * sc;
            for (int l = 0; l < 16; l++)
                q[16 * s + l] = (uint8_t)(clampi(step ? (int)lrintf(x[16 * s + l] / step) : 0, -32, 31) + 32);
        }
        for (int h = 0; h < 2; h++) {
            uint8_t *ql = b[i].ql + 64 * h, *qh = b[i].qh + 32 * h;
            const uint8_t *L = q + 128 * h;
            for (int l = 0; l < 32; l++) {
                int q1 = L[l], q2 = L[l + 32], q3 = L[l + 64], q4 = L[l + 96];
                ql[l] = (uint8_t)((q1 & 0xF) | ((q3 & 0xF) << 4));
                ql[l + 32] = (uint8_t)((q2 & 0xF) | ((q4 & 0xF) << 4));
                qh[l] = (uint8_t)((q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6));
            }
        }
    }
}

bool quantize_supported(uint32_t t) {
    return t == GGML_TYPE_F32 || t == GGML_TYPE_F16 || t == GGML_TYPE_BF16 || t == GGML_TYPE_Q8_0 ||
           t == GGML_TYPE_Q4_0 || t == GGML_TYPE_Q4_1 || t == GGML_TYPE_Q5_0 || t == GGML_TYPE_Q5_1 ||
           t == GGML_TYPE_Q2_K || t == GGML_TYPE_Q3_K || t == GGML_TYPE_Q4_K || t == GGML_TYPE_Q5_K ||
           t == GGML_TYPE_Q6_K || t == GGML_TYPE_IQ4_NL || t == GGML_TYPE_IQ4_XS;
}

void quantize_row(uint32_t type, const float *src, void *dst, int64_t n) {
    switch (type) {
    case GGML_TYPE_F32: memcpy(dst, src, (size_t)n * 4); break;
    case GGML_TYPE_F16:
        for (int64_t i = 0; i < n; i++) { uint16_t h = f32_to_fp16(src[i]); memcpy((uint8_t *)dst + 2 * i, &h, 2); }
        break;
    case GGML_TYPE_BF16:
        for (int64_t i = 0; i < n; i++) { uint16_t h = f32_to_bf16(src[i]); memcpy((uint8_t *)dst + 2 * i, &h, 2); }
        break;
    case GGML_TYPE_Q8_0: q8_0(src, dst, n / QK8_0); break;
    case GGML_TYPE_Q4_0: q4_0(src, dst, n / QK4_0); break;
    case GGML_TYPE_Q4_1: q4_1(src, dst, n / QK4_1); break;
    case GGML_TYPE_Q5_0: q5_0(src, dst, n / QK5_0); break;
    case GGML_TYPE_Q5_1: q5_1(src, dst, n / QK5_1); break;
    case GGML_TYPE_Q2_K: q2_k(src, dst, n / QK_K); break;
    case GGML_TYPE_Q3_K: q3_k(src, dst, n / QK_K); break;
    case GGML_TYPE_Q4_K: q4_k(src, dst, n / QK_K); break;
    case GGML_TYPE_Q5_K: q5_k(src, dst, n / QK_K); break;
    case GGML_TYPE_Q6_K: q6_k(src, dst, n / QK_K); break;
    case GGML_TYPE_IQ4_NL: iq4_nl(src, dst, n / QK4_NL); break;
    case GGML_TYPE_IQ4_XS: iq4_xs(src, dst, n / QK_K); break;
    default: break;
    }
}
