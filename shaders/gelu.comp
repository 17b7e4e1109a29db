#version 450
// gelu.comp — GPT-2's tanh approximation of GELU, element-wise (y may alias x).
#include "common.glsl"

layout(binding = 0, std430) readonly buffer Xbuf { float x[]; };
layout(binding = 1, std430) writeonly buffer Ybuf { float y[]; };

layout(push_constant) uniform Push { uint n, x_off, y_off; } pc;

void main() {
    uint i = folded_group() * WG + gl_LocalInvocationID.x;
    if (i >= pc.n) return;
    float v = x[pc.x_off + i];
    // tanh saturates long before |u| = 15; clamping keeps drivers that build tanh from
    // exp() away from inf/inf = NaN for large inputs.
    float u = clamp(0.7978845608028654 * (v + 0.044715 * v * v * v), -15.0, 15.0);
    y[pc.y_off + i] = 0.5 * v * (1.0 + tanh(u));
}
