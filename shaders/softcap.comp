#version 450
// softcap.comp — x = cap * tanh(x / cap), in place over N values from OFF: Gemma's cap on
// the final logits (op_softcap).
#include "common.glsl"

layout(binding = 0, std430) buffer Xbuf { float x[]; };

layout(push_constant) uniform Push { uint n, off; float cap; } pc;

void main() {
    uint i = folded_group() * WG + gl_LocalInvocationID.x;
    if (i >= pc.n) return;
    x[pc.off + i] = softcap(x[pc.off + i], pc.cap);
}
