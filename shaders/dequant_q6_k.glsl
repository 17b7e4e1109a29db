// dequant_q6_k.glsl — Q6_K: super-blocks of 256 elements, 210 bytes: 128 bytes of low
// nibbles (ql), 64 bytes of 2-bit high parts (qh), 16 signed 8-bit scales, f16 d.
// Each half of 128 elements uses 64 ql, 32 qh and 8 scales; within a half, group g
// (0..3, 32 elements each) takes low (g < 2) or high nibbles of ql[32*(g&1) + l], bits
// 2g..2g+1 of qh[l], and scale (l/16) + 2g: element = d * scale * (q - 32).
// A unit is one group.
#define UNIT 32
void load_unit(uint row_byte, uint u, out float w[UNIT]) {
    uint b = row_byte + (u >> 3) * 210u, k = u & 7u, half_ = k >> 2, g = k & 3u;
    uint ql = b + 64u * half_ + 32u * (g & 1u), qh = b + 128u + 32u * half_;
    uint sc = b + 192u + 8u * half_ + 2u * g;
    uint lshift = (g >> 1) * 4u, hshift = 2u * g;
    float d = w_f16(b + 208u);
    float s0 = d * float(w_i8(sc)), s1 = d * float(w_i8(sc + 1u));
    for (uint l = 0; l < 32u; l += 4u) {
        uint lo = w_u32_even(ql + l), hi = w_u32_even(qh + l);
        for (uint i = 0; i < 4u; i++) {
            uint q = ((lo >> (8u * i + lshift)) & 0xfu) | (((hi >> (8u * i + hshift)) & 3u) << 4);
            w[l + i] = (l < 16u ? s0 : s1) * float(int(q) - 32);
        }
    }
}
