#version 450
// scale.comp — x *= params[s_off] over N values from OFF: Gemma 4's per-layer output scale
// (a stored scalar, so the host need not read it back to record the step).
#include "common.glsl"

layout(binding = 0, std430) buffer Xbuf { float x[]; };
layout(binding = 1, std430) readonly buffer Params { float params[]; };

layout(push_constant) uniform Push { uint n, off, s_off; } pc;

void main() {
    uint i = folded_group() * WG + gl_LocalInvocationID.x;
    if (i >= pc.n) return;
    x[pc.off + i] *= params[pc.s_off];
}
