// dequant_q8_0.glsl — Q8_0: blocks of 32 elements, 34 bytes: an f16 scale d, then 32
// signed bytes q; element i is q[i] * d. A unit is one block.
#define UNIT 32
void load_unit(uint row_byte, uint u, out float w[UNIT]) {
    uint b = row_byte + u * 34u;
    float d = w_f16(b);
    for (uint i = 0; i < 32u; i += 4u) {
        uint q = w_u32_even(b + 2u + i);
        for (uint k = 0; k < 4u; k++) w[i + k] = float(int(q << (24u - 8u * k)) >> 24) * d;
    }
}
