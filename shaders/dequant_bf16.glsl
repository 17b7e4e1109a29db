// dequant_bf16.glsl — BF16 rows: a bf16 is the top half of an f32, so widening is a shift.
#define UNIT 8
void load_unit(uint row_byte, uint u, out float w[UNIT]) {
    uint base = (row_byte >> 2) + u * 4u;
    for (uint i = 0; i < 4u; i++) {
        uint v = W[base + i];
        w[2 * i] = uintBitsToFloat(v << 16);
        w[2 * i + 1] = uintBitsToFloat(v & 0xffff0000u);
    }
}

// One element, for the tail of rows whose length is not a multiple of UNIT.
#define HAS_TAIL
float load_elem(uint row_byte, uint c) {
    uint v = W[(row_byte >> 2) + (c >> 1)];
    return uintBitsToFloat((c & 1u) != 0u ? v & 0xffff0000u : v << 16);
}
