#version 450
// dn_gated_norm.comp — Gated DeltaNet's output norm (op_gated_rmsnorm): each value head's
// read-out o becomes rmsnorm(o) * gain * silu(z), in place; one workgroup per (token, head).
#include "common.glsl"

layout(binding = 0, std430) buffer O { float o[]; };
layout(binding = 1, std430) readonly buffer Z { float z[]; };
layout(binding = 2, std430) readonly buffer Params { float params[]; };

layout(push_constant) uniform Push {
    uint n_vec, dim, g_off;
    float eps;
} pc;

void main() {
    uint v = folded_group();
    if (v >= pc.n_vec) return;
    uint base = v * pc.dim;
    float ss = 0.0;
    for (uint i = gl_LocalInvocationID.x; i < pc.dim; i += WG) ss += o[base + i] * o[base + i];
    float scale = 1.0 / sqrt(wg_sum(ss) / float(pc.dim) + pc.eps);
    for (uint i = gl_LocalInvocationID.x; i < pc.dim; i += WG) {
        float zi = z[base + i];
        o[base + i] = o[base + i] * scale * params[pc.g_off + i] * (zi / (1.0 + exp(-zi)));
    }
}
