// weights.glsl — binding 0 of every kernel that reads a weight matrix: the tensor's bytes
// exactly as stored in the GGUF file, read as 32-bit words. Quantized blocks are 18, 20,
// 22, 24, 34, 84, 110, 144, 176 or 210 bytes long, so a block may start at any even
// byte; the helpers below pick bytes and half-words out of words so that no 8/16-bit
// storage feature is needed.
layout(binding = 0, std430) readonly buffer Weights { uint W[]; };

uint w_u8(uint byte_off) {
    return (W[byte_off >> 2] >> ((byte_off & 3u) * 8u)) & 0xffu;
}
// byte_off must be even (every field read this way is).
uint w_u16(uint byte_off) {
    return (W[byte_off >> 2] >> ((byte_off & 2u) * 8u)) & 0xffffu;
}
float w_f16(uint byte_off) {
    return unpackHalf2x16(w_u16(byte_off)).x;
}
int w_i8(uint byte_off) {
    return int(w_u8(byte_off) << 24) >> 24;
}
// Four bytes starting at an even offset, as one little-endian word.
uint w_u32_even(uint byte_off) {
    return (byte_off & 2u) == 0u ? W[byte_off >> 2]
                                  : (W[byte_off >> 2] >> 16) | (W[(byte_off >> 2) + 1u] << 16);
}
