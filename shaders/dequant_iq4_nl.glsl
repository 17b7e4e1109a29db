// dequant_iq4_nl.glsl — IQ4_NL: blocks of 32 elements, 18 bytes laid out as Q4_0's (an
// f16 scale d, then 16 bytes whose low nibbles are elements 0..15 and high nibbles
// elements 16..31), but each nibble is an index into the IQ4 levels: element = d * level.
// Units of 8 elements as in dequant_q4_0.glsl: units 0, 1 of a block are the low nibbles
// of bytes 0..7, 8..15; units 2, 3 the high nibbles of the same bytes.
#include "iq4_levels.glsl"
#define UNIT 8
void load_unit(uint row_byte, uint u, out float w[UNIT]) {
    uint b = row_byte + (u >> 2) * 18u, p = u & 3u;
    uint q0 = b + 2u + (p & 1u) * 8u, shift = (p >> 1) * 4u;
    float d = w_f16(b);
    for (uint i = 0; i < 8u; i += 4u) {
        uint q = w_u32_even(q0 + i);
        for (uint k = 0; k < 4u; k++) w[i + k] = d * IQ4_LEVELS[(q >> (8u * k + shift)) & 0xfu];
    }
}
