// dequant_f16.glsl — F16 rows: a unit is 8 halves (four words).
#define UNIT 8
void load_unit(uint row_byte, uint u, out float w[UNIT]) {
    uint base = (row_byte >> 2) + u * 4u;
    for (uint i = 0; i < 4u; i++) {
        vec2 h = unpackHalf2x16(W[base + i]);
        w[2 * i] = h.x;
        w[2 * i + 1] = h.y;
    }
}

// One element, for the tail of rows whose length is not a multiple of UNIT.
#define HAS_TAIL
float load_elem(uint row_byte, uint c) {
    vec2 h = unpackHalf2x16(W[(row_byte >> 2) + (c >> 1)]);
    return (c & 1u) != 0u ? h.y : h.x;
}
