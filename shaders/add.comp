#version 450
// add.comp — y = a + b, element-wise (y may alias a or b).
#include "common.glsl"

layout(binding = 0, std430) readonly buffer Abuf { float a[]; };
layout(binding = 1, std430) readonly buffer Bbuf { float b[]; };
layout(binding = 2, std430) writeonly buffer Ybuf { float y[]; };

layout(push_constant) uniform Push { uint n, a_off, b_off, y_off; } pc;

void main() {
    uint i = folded_group() * WG + gl_LocalInvocationID.x;
    if (i >= pc.n) return;
    y[pc.y_off + i] = a[pc.a_off + i] + b[pc.b_off + i];
}
