// dequant_q5_1.glsl — Q5_1: blocks of 32 elements, 24 bytes: an f16 scale d, an f16
// offset m, the 32 fifth bits qh as in Q5_0 (bit j for element j), then 16 bytes of low
// nibbles placed as in Q4_0; element = d * q + m, q in 0..31. Units of 8 elements as in
// dequant_q5_0.glsl: unit p holds elements 8p .. 8p+7, whose fifth bits are byte p of qh.
#define UNIT 8
void load_unit(uint row_byte, uint u, out float w[UNIT]) {
    uint b = row_byte + (u >> 2) * 24u, p = u & 3u;
    uint q0 = b + 8u + (p & 1u) * 8u, shift = (p >> 1) * 4u;
    uint hb = w_u32_even(b + 4u) >> (8u * p);
    float d = w_f16(b), m = w_f16(b + 2u);
    for (uint i = 0; i < 8u; i += 4u) {
        uint q = w_u32_even(q0 + i);
        for (uint k = 0; k < 4u; k++) {
            uint v = ((q >> (8u * k + shift)) & 0xfu) | (((hb >> (i + k)) & 1u) << 4);
            w[i + k] = float(v) * d + m;
        }
    }
}
