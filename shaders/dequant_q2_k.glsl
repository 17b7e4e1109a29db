// dequant_q2_k.glsl — Q2_K: super-blocks of 256 elements, 84 bytes: 16 scale bytes, 64
// bytes of 2-bit quants, f16 d, f16 dmin. Element e = 128h + 32g + l has its quant in bits
// 2g, 2g+1 of qs[32h + l]; sub-block e/16 has scale byte scales[e/16], a 4-bit scale (low
// nibble) and a 4-bit min (high nibble): element = d*scale * q - dmin*min. Units of 8
// elements (see dequant_q8_0.glsl): unit u is elements 8(u%32) .. +7 of super-block u/32,
// which share one sub-block, one shift and 8 consecutive bytes of qs.
#define UNIT 8
void load_unit(uint row_byte, uint u, out float w[UNIT]) {
    uint b = row_byte + (u >> 5) * 84u, e0 = (u & 31u) * 8u;
    uint h = e0 >> 7, g = (e0 >> 5) & 3u, l0 = e0 & 31u;
    uint sc = w_u8(b + (e0 >> 4));
    float dl = w_f16(b + 80u) * float(sc & 0xfu), ml = w_f16(b + 82u) * float(sc >> 4);
    uint qs = b + 16u + 32u * h + l0;
    for (uint i = 0; i < 8u; i += 4u) {
        uint q = w_u32_even(qs + i);
        for (uint k = 0; k < 4u; k++) w[i + k] = dl * float((q >> (8u * k + 2u * g)) & 3u) - ml;
    }
}
