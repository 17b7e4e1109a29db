// dequant_q4_k.glsl — Q4_K: super-blocks of 256 elements, 144 bytes: f16 d, f16 dmin,
// 12 bytes of (scale, min) pairs, 128 bytes of nibbles. Sub-block j (32 elements) uses
// pair j and the low (j even) or high (j odd) nibbles of bytes 32*(j/2) .. +31:
// element = d*scale * q - dmin*min. Units of 8 elements (see dequant_q8_0.glsl): unit u
// is part u%4 of sub-block (u/4)%8.
#include "kquant.glsl"
#define UNIT 8
void load_unit(uint row_byte, uint u, out float w[UNIT]) {
    uint b = row_byte + (u >> 5) * 144u, j = (u >> 2) & 7u, p = u & 3u;
    float sc, m;
    kquant_scale_min(b + 4u, j, sc, m);
    float d1 = w_f16(b) * sc, m1 = w_f16(b + 2u) * m;
    uint qs = b + 16u + 32u * (j >> 1) + 8u * p, shift = (j & 1u) * 4u;
    for (uint l = 0; l < 8u; l += 4u) {
        uint q = w_u32_even(qs + l);
        for (uint k = 0; k < 4u; k++) w[l + k] = d1 * float((q >> (8u * k + shift)) & 0xfu) - m1;
    }
}
