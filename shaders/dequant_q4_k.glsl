// dequant_q4_k.glsl — Q4_K: super-blocks of 256 elements, 144 bytes: f16 d, f16 dmin,
// 12 bytes of (scale, min) pairs, 128 bytes of nibbles. Sub-block j (32 elements) uses
// pair j and the low (j even) or high (j odd) nibbles of bytes 32*(j/2) .. +31:
// element = d*scale * q - dmin*min. A unit is one sub-block.
#include "kquant.glsl"
#define UNIT 32
void load_unit(uint row_byte, uint u, out float w[UNIT]) {
    uint b = row_byte + (u >> 3) * 144u, j = u & 7u;
    float sc, m;
    kquant_scale_min(b + 4u, j, sc, m);
    float d1 = w_f16(b) * sc, m1 = w_f16(b + 2u) * m;
    uint qs = b + 16u + 32u * (j >> 1), shift = (j & 1u) * 4u;
    for (uint l = 0; l < 32u; l += 4u) {
        uint q = w_u32_even(qs + l);
        for (uint k = 0; k < 4u; k++) w[l + k] = d1 * float((q >> (8u * k + shift)) & 0xfu) - m1;
    }
}
