// dequant_iq4_nl.glsl — IQ4_NL: blocks of 32 elements, 18 bytes: an f16 scale d, then one
// run of 16 bytes of indices into the IQ4 levels (see iq4.glsl): element = d * level.
// Units of 8 elements: unit u is part u%4 of block u/4, as in dequant_q4_0.glsl.
#include "iq4.glsl"
#define UNIT 8
void load_unit(uint row_byte, uint u, out float w[UNIT]) {
    uint b = row_byte + (u >> 2) * 18u;
    iq4_unit(b + 2u, u & 3u, w_f16(b), w);
}
