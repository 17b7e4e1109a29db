// dequant_q8_0.glsl — Q8_0: blocks of 32 elements, 34 bytes: an f16 scale d, then 32
// signed bytes q; element i is q[i] * d.
//
// Every dequant_*.glsl hands out a row in units of 8 elements (unit u = elements
// 8u .. 8u+7), so that neighbouring invocations read neighbouring pieces of both the
// weights and the input vector: memory accesses coalesce on GPUs.
#define UNIT 8
void load_unit(uint row_byte, uint u, out float w[UNIT]) {
    uint b = row_byte + (u >> 2) * 34u, q0 = b + 2u + (u & 3u) * 8u;
    float d = w_f16(b);
    for (uint i = 0; i < 8u; i += 4u) {
        uint q = w_u32_even(q0 + i);
        for (uint k = 0; k < 4u; k++) w[i + k] = float(int(q << (24u - 8u * k)) >> 24) * d;
    }
}
