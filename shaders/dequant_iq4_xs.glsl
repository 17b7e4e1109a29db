// dequant_iq4_xs.glsl — IQ4_XS: super-blocks of 256 elements, 136 bytes: f16 d, a 16-bit
// scales_h, 4 bytes scales_l, then eight sub-blocks of 32, each a run of 16 bytes of
// indices into the IQ4 levels (see iq4.glsl). Sub-block s has a 6-bit scale stored plus
// 32: its low 4 bits are the low (s even) or high (s odd) nibble of scales_l[s / 2], its
// top 2 bits are bits 2s, 2s+1 of scales_h. element = (d * (scale - 32)) * level, the
// step rounded once as in quant.c. Units of 8 elements: unit u is part u%4 of sub-block
// (u/4)%8.
#include "iq4.glsl"
#define UNIT 8
void load_unit(uint row_byte, uint u, out float w[UNIT]) {
    uint b = row_byte + (u >> 5) * 136u, s = (u >> 2) & 7u;
    uint lo = (w_u8(b + 4u + (s >> 1)) >> (4u * (s & 1u))) & 0xfu, hi = (w_u16(b + 2u) >> (2u * s)) & 3u;
    iq4_unit(b + 8u + 16u * s, u & 3u, w_f16(b) * float(int(lo | (hi << 4)) - 32), w);
}
