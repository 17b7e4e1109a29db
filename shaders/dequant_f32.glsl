// dequant_f32.glsl — F32 rows: a unit is 8 consecutive floats, so neighbouring
// invocations read neighbouring 32-byte pieces of the row.
#define UNIT 8
void load_unit(uint row_byte, uint u, out float w[UNIT]) {
    uint base = (row_byte >> 2) + u * UNIT;
    for (uint i = 0; i < UNIT; i++) w[i] = uintBitsToFloat(W[base + i]);
}

// One element, for the tail of rows whose length is not a multiple of UNIT.
#define HAS_TAIL
float load_elem(uint row_byte, uint c) {
    return uintBitsToFloat(W[(row_byte >> 2) + c]);
}
