#version 450
// ple_gate.comp — Gemma 4's per-layer input gate, in place: for each of N_TOKENS tokens,
// g[t][j] = gelu(g[t][j]) * input[t * all + layer_off + j] for j < width, where INPUT holds
// every layer's per-layer input of a token side by side (all = width * n_layer).
#include "common.glsl"

layout(binding = 0, std430) buffer Gbuf { float g[]; };
layout(binding = 1, std430) readonly buffer Ibuf { float inp[]; };

layout(push_constant) uniform Push { uint n_tokens, width, all, layer_off; } pc;

void main() {
    uint i = folded_group() * WG + gl_LocalInvocationID.x;
    if (i >= pc.n_tokens * pc.width) return;
    uint t = i / pc.width, j = i % pc.width;
    g[i] = gelu_tanh(g[i]) * inp[t * pc.all + pc.layer_off + j];
}
