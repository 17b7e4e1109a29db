// dequant_mxfp4.glsl — MXFP4 (gpt-oss's experts): blocks of 32 elements, 17 bytes: an E8M0
// scale byte e, then 16 bytes whose low nibbles are elements 0..15 and high nibbles
// elements 16..31, each indexing the doubled E2M1 values below; the weight is that value
// times 2^(e - 128) (the scale halved for the doubling: quant.c). Units of 8 elements are
// placed as Q4_0's (dequant_q4_0.glsl): units 0, 1 of a block are the low nibbles of
// bytes 0..7, 8..15 of its quants, units 2, 3 the high nibbles of the same bytes.
// 17-byte blocks start at any byte, so the quants are read as unaligned words.
#define UNIT 8
const float MXFP4_VALUES[16] = float[16](0.0, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0,
                                         0.0, -1.0, -2.0, -3.0, -4.0, -6.0, -8.0, -12.0);

// Four bytes from any byte offset, as one little-endian word (the next word is read only
// when the four bytes reach into it, so nothing past the buffer is touched).
uint w_u32_any(uint byte_off) {
    uint s = (byte_off & 3u) * 8u, lo = W[byte_off >> 2];
    return s == 0u ? lo : (lo >> s) | (W[(byte_off >> 2) + 1u] << (32u - s));
}

float mxfp4_scale_half(uint e) {
    return uintBitsToFloat(e >= 2u ? (e - 1u) << 23 : 0x00200000u << e);
}

void load_unit(uint row_byte, uint u, out float w[UNIT]) {
    uint b = row_byte + (u >> 2) * 17u, p = u & 3u;
    uint q0 = b + 1u + (p & 1u) * 8u, shift = (p >> 1) * 4u;
    float d = mxfp4_scale_half(w_u8(b));
    for (uint i = 0; i < 8u; i += 4u) {
        uint q = w_u32_any(q0 + i);
        for (uint k = 0; k < 4u; k++) w[i + k] = MXFP4_VALUES[(q >> (8u * k + shift)) & 0xfu] * d;
    }
}
