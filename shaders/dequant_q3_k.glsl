// dequant_q3_k.glsl — Q3_K: super-blocks of 256 elements, 110 bytes: hmask[32], qs[64],
// scales[12], f16 d. Element e = 128h + 32g + l has its two low bits in bits 2g, 2g+1 of
// qs[32h + l] and a third bit, bit 4h + g of hmask[l], that is set for "as is" and clear
// for "minus 4": q in -4..3. Sub-block j = e/16 has a 6-bit scale stored plus 32: its low
// 4 bits are the low (j < 8) or high (j >= 8) nibble of scales[j % 8], its top 2 bits are
// bits 2(j/4), 2(j/4)+1 of scales[8 + j % 4]. element = d * scale * q. Units of 8 elements
// as in dequant_q2_k.glsl; super-blocks start at any even byte.
#define UNIT 8
void load_unit(uint row_byte, uint u, out float w[UNIT]) {
    uint b = row_byte + (u >> 5) * 110u, e0 = (u & 31u) * 8u;
    uint h = e0 >> 7, g = (e0 >> 5) & 3u, l0 = e0 & 31u, j = e0 >> 4;
    uint lo = j < 8u ? w_u8(b + 96u + j) & 0xfu : w_u8(b + 88u + j) >> 4;
    uint hi = (w_u8(b + 104u + (j & 3u)) >> (2u * (j >> 2))) & 3u;
    float dl = w_f16(b + 108u) * float(int(lo | (hi << 4)) - 32);
    uint qs = b + 32u + 32u * h + l0, hbit = 4u * h + g;
    for (uint i = 0; i < 8u; i += 4u) {
        uint q = w_u32_even(qs + i), m = w_u32_even(b + l0 + i);
        for (uint k = 0; k < 4u; k++) {
            int v = int((q >> (8u * k + 2u * g)) & 3u) - (((m >> (8u * k + hbit)) & 1u) != 0u ? 0 : 4);
            w[i + k] = dl * float(v);
        }
    }
}
