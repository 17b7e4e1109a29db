// iq4.glsl — what IQ4_NL and IQ4_XS share: the sixteen levels (IQ4_LEVELS in
// model/quant.h, a constant of the format), and a run of 32 elements stored as 16 bytes
// of 4-bit indices into them (low nibbles elements 0..15, high nibbles 16..31, Q4_0's
// placement), each element its run's step times its level.
const float IQ4_LEVELS[16] = float[16](-127.0, -104.0, -83.0, -65.0, -49.0, -35.0, -22.0, -10.0,
                                       1.0, 13.0, 25.0, 38.0, 53.0, 69.0, 89.0, 113.0);

// Unit P (0..3, 8 elements) of the run whose bytes start at QS: units 0, 1 are the low
// nibbles of bytes 0..7, 8..15; units 2, 3 the high nibbles of the same bytes.
void iq4_unit(uint qs, uint p, float step, out float w[8]) {
    uint q0 = qs + (p & 1u) * 8u, shift = (p >> 1) * 4u;
    for (uint i = 0; i < 8u; i += 4u) {
        uint q = w_u32_even(q0 + i);
        for (uint k = 0; k < 4u; k++) w[i + k] = step * IQ4_LEVELS[(q >> (8u * k + shift)) & 0xfu];
    }
}
