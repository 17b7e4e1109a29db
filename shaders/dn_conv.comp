#version 450
// dn_conv.comp — Gated DeltaNet's causal depthwise convolution (op_conv_silu): for each
// token i and channel c, silu(sum_j taps[c][j] * x_{i - K + 1 + j}[c]), the rows before
// the micro-batch coming from the layer's state (its last K - 1 input rows, oldest
// first). Mode 1, recorded after a barrier: the state keeps the last K - 1 input rows.
#include "common.glsl"

layout(binding = 0, std430) readonly buffer Pre { float pre[]; };     // [n][C] the inputs
layout(binding = 1, std430) buffer State { float st[]; };            // [K - 1][C] at 0
layout(binding = 2, std430) readonly buffer Params { float params[]; }; // taps [C][K] at taps_off
layout(binding = 3, std430) writeonly buffer Out { float outv[]; };  // [n][C]

layout(push_constant) uniform Push {
    uint n, C, K, taps_off, mode;
} pc;

// Row q of the inputs (q < 0: from the state) at channel c.
float input_at(int q, uint c) {
    return q >= 0 ? pre[uint(q) * pc.C + c] : st[uint(int(pc.K) - 1 + q) * pc.C + c];
}

void main() {
    uint idx = folded_group() * WG + gl_LocalInvocationID.x;
    if (pc.mode == 1u) {
        if (idx >= pc.C) return;
        // row r of the new state is input n - K + 1 + r; an old row moves from index n + r,
        // never below r, so in order they move safely in place
        for (uint r = 0; r + 1 < pc.K; r++) st[r * pc.C + idx] = input_at(int(pc.n) - int(pc.K) + 1 + int(r), idx);
        return;
    }
    if (idx >= pc.n * pc.C) return;
    uint i = idx / pc.C, c = idx % pc.C;
    float acc = 0.0;
    for (uint j = 0; j < pc.K; j++) acc += params[pc.taps_off + c * pc.K + j] * input_at(int(i) - int(pc.K) + 1 + int(j), c);
    outv[idx] = acc / (1.0 + exp(-acc));
}
