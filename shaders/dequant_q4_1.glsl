// dequant_q4_1.glsl — Q4_1: blocks of 32 elements, 20 bytes: an f16 scale d, an f16
// offset m, then 16 bytes of nibbles placed as in Q4_0 (low nibbles elements 0..15, high
// nibbles 16..31); element = d * nibble + m. Units of 8 elements (see dequant_q8_0.glsl):
// units 0, 1 of a block are low nibbles of bytes 0..7, 8..15; units 2, 3 the high ones.
#define UNIT 8
void load_unit(uint row_byte, uint u, out float w[UNIT]) {
    uint b = row_byte + (u >> 2) * 20u, p = u & 3u;
    uint q0 = b + 4u + (p & 1u) * 8u, shift = (p >> 1) * 4u;
    float d = w_f16(b), m = w_f16(b + 2u);
    for (uint i = 0; i < 8u; i += 4u) {
        uint q = w_u32_even(q0 + i);
        for (uint k = 0; k < 4u; k++) w[i + k] = float((q >> (8u * k + shift)) & 0xfu) * d + m;
    }
}
