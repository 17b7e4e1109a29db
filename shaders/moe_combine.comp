#version 450
// moe_combine.comp — a mixture of experts' output (compute/vk_moe.c): for token t and
// dimension i, o = sum over the chosen slots j of w[t][j] * y[t * k + j][i] in the
// router's order, plus gate[t] * shared[t][i] with a shared expert (the additions of
// model/moe.c, in its order). o goes to OUT (what the layer added, for the views) and is
// added into DST (the residual stream x), or written there (accumulate 0: xn, for a
// sandwich norm to add).
#include "common.glsl"

layout(binding = 0, std430) readonly buffer Rbuf { uint route[]; };
layout(binding = 1, std430) readonly buffer Ybuf { float y[]; };
layout(binding = 2, std430) readonly buffer Sbuf { float shared_y[]; };
layout(binding = 3, std430) buffer Dbuf { float dst[]; };
layout(binding = 4, std430) writeonly buffer Obuf { float o[]; };

layout(push_constant) uniform Push {
    uint n, dim, k, w_off, gate_off, shared_gate, accumulate;
} pc;

void main() {
    uint g = folded_group() * WG + gl_LocalInvocationID.x;
    if (g >= pc.n * pc.dim) return;
    uint t = g / pc.dim, i = g % pc.dim;
    float acc = uintBitsToFloat(route[pc.w_off + t * pc.k]) * y[(t * pc.k) * pc.dim + i];
    for (uint j = 1u; j < pc.k; j++) acc += uintBitsToFloat(route[pc.w_off + t * pc.k + j]) * y[(t * pc.k + j) * pc.dim + i];
    if (pc.shared_gate != 0u) acc += uintBitsToFloat(route[pc.gate_off + t]) * shared_y[g];
    o[g] = acc;
    dst[g] = pc.accumulate != 0u ? dst[g] + acc : acc;
}
