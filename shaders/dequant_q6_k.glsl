// dequant_q6_k.glsl — Q6_K: super-blocks of 256 elements, 210 bytes: 128 bytes of low
// nibbles (ql), 64 bytes of 2-bit high parts (qh), 16 signed 8-bit scales, f16 d.
// Each half of 128 elements uses 64 ql, 32 qh and 8 scales; within a half, group g
// (0..3, 32 elements each) takes low (g < 2) or high nibbles of ql[32*(g&1) + l], bits
// 2g..2g+1 of qh[l], and scale (l/16) + 2g: element = d * scale * (q - 32).
// Units of 8 elements (see dequant_q8_0.glsl): unit u is part u%4 (l = 8*(u%4) ..) of
// group (u/4)%8 of super-block u/32.
#define UNIT 8
void load_unit(uint row_byte, uint u, out float w[UNIT]) {
    uint b = row_byte + (u >> 5) * 210u, k = (u >> 2) & 7u, p = u & 3u;
    uint half_ = k >> 2, g = k & 3u;
    uint ql = b + 64u * half_ + 32u * (g & 1u) + 8u * p, qh = b + 128u + 32u * half_ + 8u * p;
    uint lshift = (g >> 1) * 4u, hshift = 2u * g;
    float s = w_f16(b + 208u) * float(w_i8(b + 192u + 8u * half_ + 2u * g + (p >> 1)));
    for (uint l = 0; l < 8u; l += 4u) {
        uint lo = w_u32_even(ql + l), hi = w_u32_even(qh + l);
        for (uint i = 0; i < 4u; i++) {
            uint q = ((lo >> (8u * i + lshift)) & 0xfu) | (((hi >> (8u * i + hshift)) & 3u) << 4);
            w[l + i] = s * float(int(q) - 32);
        }
    }
}
