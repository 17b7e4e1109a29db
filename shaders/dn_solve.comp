#version 450
// dn_solve.comp — the second step of the chunked form: the forward substitution over the
// segment's tokens, one invocation per (value head, row r of S), each on its own:
//   u_t = beta_t (v_t - e^L_t (S k_t) - sum_{s<t} e^(L_t-L_s) (k_s.k_t) u_s)
//   o_t = e^L_t (S q_t) + sum_{s<=t} e^(L_t-L_s) (k_s.q_t) u_s
// with dn_project's products, the chunk's records before the segment, and writing each
// token's u into its record.
#include "common.glsl"

layout(binding = 0, std430) readonly buffer Conv { float conv[]; };
layout(binding = 1, std430) readonly buffer Gates { float gates[]; };
layout(binding = 2, std430) buffer State { float st[]; };
layout(binding = 3, std430) readonly buffer AB { float ab[]; };
layout(binding = 4, std430) readonly buffer Gram { float gram[]; };
layout(binding = 5, std430) writeonly buffer Out { float o[]; };     // [n][n_v d_v]

layout(push_constant) uniform Push {
    uint n, p0, n_k, d_k, n_v, d_v, conv_dim, conv_floats, row0;
} pc;

const uint CHUNK = 64;

void main() {
    uint idx = folded_group() * WG + gl_LocalInvocationID.x;
    if (idx >= pc.n_v * pc.d_v) return;
    uint h = idx / pc.d_v, r = idx % pc.d_v, j0 = pc.p0 % CHUNK;
    uint key_dim = pc.n_k * pc.d_k;
    uint tail = pc.conv_floats + pc.n_v * pc.d_v * pc.d_k, rec = pc.n_v * (pc.d_k + pc.d_v + 1u);
    uint tu = tail + pc.n_v * pc.d_k + h * pc.d_v + r, tl = tail + pc.n_v * (pc.d_k + pc.d_v) + h;
    for (uint i = 0; i < pc.n; i++) {
        uint jt = j0 + i, pos = pc.p0 + i;
        float lc = st[tl + jt * rec], from_s0 = exp(lc);
        uint a_at = (i * pc.n_v + h) * 2u * pc.d_v + r, g_at = (i * pc.n_v + h) * CHUNK * 2u;
        float acc = conv[(pc.row0 + i) * pc.conv_dim + 2u * key_dim + h * pc.d_v + r] - from_s0 * ab[a_at];
        float out_v = from_s0 * ab[a_at + pc.d_v];
        for (uint s = 0; s < jt; s++) {
            float d = exp(lc - st[tl + s * rec]), us = st[tu + s * rec];
            acc -= d * gram[g_at + 2u * s] * us;
            out_v += d * gram[g_at + 2u * s + 1u] * us;
        }
        float u = gates[(pos * pc.n_v + h) * 2u] * acc;
        st[tu + jt * rec] = u;
        o[(pc.row0 + i) * pc.n_v * pc.d_v + h * pc.d_v + r] = out_v + gram[g_at + 2u * jt + 1u] * u;
    }
}
