// dequant_q5_0.glsl — Q5_0: blocks of 32 elements, 22 bytes: an f16 scale d, a 32-bit
// little-endian word qh whose bit j is the fifth (top) bit of element j, then 16 bytes of
// low nibbles placed as in Q4_0; element = d * (q - 16), q in 0..31. Units of 8 elements
// (see dequant_q8_0.glsl): unit p of a block holds elements 8p .. 8p+7 (low nibbles of
// bytes 0..7, 8..15, then high nibbles of the same bytes), so its fifth bits are byte p
// of qh. Blocks start at any even byte: everything is read through w_u32_even/w_f16.
#define UNIT 8
void load_unit(uint row_byte, uint u, out float w[UNIT]) {
    uint b = row_byte + (u >> 2) * 22u, p = u & 3u;
    uint q0 = b + 6u + (p & 1u) * 8u, shift = (p >> 1) * 4u;
    uint hb = w_u32_even(b + 2u) >> (8u * p);
    float d = w_f16(b);
    for (uint i = 0; i < 8u; i += 4u) {
        uint q = w_u32_even(q0 + i);
        for (uint k = 0; k < 4u; k++) {
            uint v = ((q >> (8u * k + shift)) & 0xfu) | (((hb >> (i + k)) & 1u) << 4);
            w[i + k] = (float(int(v)) - 16.0) * d;
        }
    }
}
