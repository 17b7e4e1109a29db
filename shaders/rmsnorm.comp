#version 450
// rmsnorm.comp — y = x / sqrt(mean(x^2) + eps) * g for N vectors of DIM, one workgroup
// each. Vector i starts at x_off + i*x_stride, so the same kernel normalises whole
// hidden states (stride n_embd) and, for Qwen3, each attention head (stride head_dim).
// flags: 1 = scale by g = params[g_off ..]; 4 = add into y instead of writing it (a
// sandwich norm's output joining the residual stream). y may be x (in place).
#include "common.glsl"

layout(binding = 0, std430) readonly buffer Xbuf { float x[]; };
layout(binding = 1, std430) readonly buffer Params { float params[]; };
layout(binding = 2, std430) buffer Ybuf { float y[]; };

layout(push_constant) uniform Push {
    uint n, dim, x_off, x_stride, y_off, y_stride, g_off, flags;
    float eps;
} pc;

void main() {
    uint v = folded_group();
    if (v >= pc.n) return;
    uint xb = pc.x_off + v * pc.x_stride, yb = pc.y_off + v * pc.y_stride;
    float ss = 0.0;
    for (uint i = gl_LocalInvocationID.x; i < pc.dim; i += WG) ss += x[xb + i] * x[xb + i];
    ss = wg_sum(ss);
    float scale = 1.0 / sqrt(ss / float(pc.dim) + pc.eps);
    for (uint i = gl_LocalInvocationID.x; i < pc.dim; i += WG) {
        float g = (pc.flags & 1u) != 0u ? params[pc.g_off + i] : 1.0;
        float v = x[xb + i] * scale * g;
        y[yb + i] = (pc.flags & 4u) != 0u ? y[yb + i] + v : v;
    }
}
