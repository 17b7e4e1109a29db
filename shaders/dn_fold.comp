#version 450
// dn_fold.comp — the last step of a chunk of the chunked form: its records folded into
// the state, S <- e^L S + sum_s e^(L - L_s) u_s k_s^T (L the chunk's last log-decay), one
// invocation per element of S.
#include "common.glsl"

layout(binding = 0, std430) buffer State { float st[]; };

layout(push_constant) uniform Push {
    uint n_v, d_k, d_v, conv_floats;
} pc;

const uint CHUNK = 64;

void main() {
    uint idx = folded_group() * WG + gl_LocalInvocationID.x;
    if (idx >= pc.n_v * pc.d_v * pc.d_k) return;
    uint h = idx / (pc.d_v * pc.d_k), r = idx / pc.d_k % pc.d_v, c = idx % pc.d_k;
    uint tail = pc.conv_floats + pc.n_v * pc.d_v * pc.d_k, rec = pc.n_v * (pc.d_k + pc.d_v + 1u);
    uint tk = tail + h * pc.d_k + c, tu = tail + pc.n_v * pc.d_k + h * pc.d_v + r;
    uint tl = tail + pc.n_v * (pc.d_k + pc.d_v) + h;
    float last = st[tl + (CHUNK - 1u) * rec];
    float v = st[pc.conv_floats + idx] * exp(last);
    for (uint s = 0; s < CHUNK; s++) v += exp(last - st[tl + s * rec]) * st[tu + s * rec] * st[tk + s * rec];
    st[pc.conv_floats + idx] = v;
}
