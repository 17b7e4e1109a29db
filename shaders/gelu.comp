#version 450
// gelu.comp — GELU (tanh approximation), element-wise (y may alias x).
#include "common.glsl"

layout(binding = 0, std430) readonly buffer Xbuf { float x[]; };
layout(binding = 1, std430) writeonly buffer Ybuf { float y[]; };

layout(push_constant) uniform Push { uint n, x_off, y_off; } pc;

void main() {
    uint i = folded_group() * WG + gl_LocalInvocationID.x;
    if (i >= pc.n) return;
    y[pc.y_off + i] = gelu_tanh(x[pc.x_off + i]);
}
