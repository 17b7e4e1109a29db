// kquant.glsl — the 6-bit (scale, min) pairs shared by Q4_K and Q5_K. Twelve bytes at
// SCALES hold eight pairs: pairs 0..3 are the low 6 bits of bytes 0..3 (scale) and 4..7
// (min); pairs 4..7 take their low 4 bits from bytes 8..11 (scale low nibble, min high
// nibble) and their top 2 bits from the spare top bits of bytes 0..7.
void kquant_scale_min(uint scales, uint j, out float sc, out float m) {
    if (j < 4u) {
        sc = float(w_u8(scales + j) & 63u);
        m = float(w_u8(scales + j + 4u) & 63u);
    } else {
        uint lo = w_u8(scales + j + 4u);
        sc = float((lo & 0xfu) | ((w_u8(scales + j - 4u) >> 6) << 4));
        m = float((lo >> 4) | ((w_u8(scales + j) >> 6) << 4));
    }
}
