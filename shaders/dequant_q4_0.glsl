// dequant_q4_0.glsl — Q4_0: blocks of 32 elements, 18 bytes: an f16 scale d, then 16
// bytes whose low nibbles are elements 0..15 and high nibbles elements 16..31, each
// (nibble - 8) * d. A unit is one block.
#define UNIT 32
void load_unit(uint row_byte, uint u, out float w[UNIT]) {
    uint b = row_byte + u * 18u;
    float d = w_f16(b);
    for (uint j = 0; j < 16u; j += 4u) {
        uint q = w_u32_even(b + 2u + j);
        for (uint k = 0; k < 4u; k++) {
            uint byte = (q >> (8u * k)) & 0xffu;
            w[j + k] = (float(int(byte & 0xfu)) - 8.0) * d;
            w[j + k + 16u] = (float(int(byte >> 4)) - 8.0) * d;
        }
    }
}
