// dequant_q5_k.glsl — Q5_K: super-blocks of 256 elements, 176 bytes: f16 d, f16 dmin,
// 12 bytes of (scale, min) pairs, 32 bytes of fifth bits (qh), 128 bytes of nibbles.
// Sub-block j is laid out as in Q4_K, plus 16 when bit j of qh[l] is set (l: the
// element's index inside its 32-element sub-block). Units of 8 elements as in Q4_K.
#include "kquant.glsl"
#define UNIT 8
void load_unit(uint row_byte, uint u, out float w[UNIT]) {
    uint b = row_byte + (u >> 5) * 176u, j = (u >> 2) & 7u, p = u & 3u;
    float sc, m;
    kquant_scale_min(b + 4u, j, sc, m);
    float d1 = w_f16(b) * sc, m1 = w_f16(b + 2u) * m;
    uint qs = b + 48u + 32u * (j >> 1) + 8u * p, qh = b + 16u + 8u * p, shift = (j & 1u) * 4u;
    for (uint l = 0; l < 8u; l += 4u) {
        uint q = w_u32_even(qs + l), h = w_u32_even(qh + l);
        for (uint k = 0; k < 4u; k++) {
            uint v = ((q >> (8u * k + shift)) & 0xfu) + (((h >> (8u * k + j)) & 1u) << 4);
            w[l + k] = d1 * float(v) - m1;
        }
    }
}
