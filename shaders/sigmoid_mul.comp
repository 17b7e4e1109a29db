#version 450
// sigmoid_mul.comp — x[i] *= sigmoid(gate[i]) (op_sigmoid_mul): gated attention's output
// gate (Qwen3.5), applied before the output projection.
#include "common.glsl"

layout(binding = 0, std430) buffer X { float x[]; };
layout(binding = 1, std430) readonly buffer Gate { float gate[]; };

layout(push_constant) uniform Push { uint n; } pc;

void main() {
    uint i = folded_group() * WG + gl_LocalInvocationID.x;
    if (i >= pc.n) return;
    x[i] *= 1.0 / (1.0 + exp(-gate[i]));
}
