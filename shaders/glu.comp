#version 450
// glu.comp — y = act(gate) * up, element-wise over N values (y may alias gate), with act
// silu (SwiGLU) or GELU (GeGLU, Gemma). Gate i is at g_off + i * in_stride and up i at
// u_off + i * in_stride: stride 1 for separate vectors, 2 for the interleaved (gate, up)
// rows of a fused matrix.
#include "common.glsl"

layout(binding = 0, std430) readonly buffer Gbuf { float gate[]; };
layout(binding = 1, std430) readonly buffer Ubuf { float up[]; };
layout(binding = 2, std430) writeonly buffer Ybuf { float y[]; };

layout(push_constant) uniform Push { uint n, g_off, u_off, y_off, in_stride, gelu; } pc;

void main() {
    uint i = folded_group() * WG + gl_LocalInvocationID.x;
    if (i >= pc.n) return;
    float g = gate[pc.g_off + i * pc.in_stride];
    float a = pc.gelu != 0u ? gelu_tanh(g) : g / (1.0 + exp(-g));
    y[pc.y_off + i] = a * up[pc.u_off + i * pc.in_stride];
}
