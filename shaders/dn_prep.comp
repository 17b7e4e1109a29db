#version 450
// dn_prep.comp — per token (one workgroup each): L2-normalise each key head of q and k
// (op_l2norm; q also scaled), and the gates of each value head (op_deltanet_gates):
// beta = sigmoid(b), g = softplus(a + dt_bias) * rate, kept for every position with,
// when flags & 1, the token's normalised keys (for the effective weights).
#include "common.glsl"

layout(binding = 0, std430) buffer Conv { float conv[]; };           // [n][conv_dim]: q | k | v
layout(binding = 1, std430) readonly buffer BA { float ba[]; };       // [n][2 n_v]: b, a
layout(binding = 2, std430) readonly buffer Params { float params[]; };
layout(binding = 3, std430) buffer Gates { float gates[]; };         // [n_ctx][n_v][2]: beta, g
layout(binding = 4, std430) writeonly buffer Keys { float keys[]; }; // [n_ctx][n_k d_k]

layout(push_constant) uniform Push {
    uint n, p0, n_k, d_k, n_v, conv_dim, dt_off, rate_off, flags;
    float eps, scale;
} pc;

void main() {
    uint i = folded_group();
    if (i >= pc.n) return;
    uint lid = gl_LocalInvocationID.x, key_dim = pc.n_k * pc.d_k, pos = pc.p0 + i;
    for (uint hh = 0; hh < 2u * pc.n_k; hh++) {
        uint base = i * pc.conv_dim + hh * pc.d_k;
        float ss = 0.0;
        for (uint c = lid; c < pc.d_k; c += WG) ss += conv[base + c] * conv[base + c];
        float norm = sqrt(wg_sum(ss));
        float f = 1.0 / (norm > pc.eps ? norm : pc.eps);
        for (uint c = lid; c < pc.d_k; c += WG) {
            float v = conv[base + c] * f;
            if (hh < pc.n_k) v *= pc.scale;
            conv[base + c] = v;
            if (hh >= pc.n_k && (pc.flags & 1u) != 0u) keys[pos * key_dim + (hh - pc.n_k) * pc.d_k + c] = v;
        }
    }
    for (uint h = lid; h < pc.n_v; h += WG) {
        float b = ba[i * 2u * pc.n_v + h], a = ba[i * 2u * pc.n_v + pc.n_v + h] + params[pc.dt_off + h];
        float sp = a > 20.0 ? a : log(1.0 + exp(a));
        gates[(pos * pc.n_v + h) * 2u] = 1.0 / (1.0 + exp(-b));
        gates[(pos * pc.n_v + h) * 2u + 1u] = sp * params[pc.rate_off + h];
    }
}
