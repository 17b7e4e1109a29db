#version 450
// dn_project.comp — the first step of Gated DeltaNet's chunked form (op_deltanet_chunked)
// for a segment of tokens inside one chunk: one workgroup per (value head, token t). It
// records the token's key and log-decay L_t (summed from the chunk's start) in the
// chunk's records of the state, and computes what the rest of the chunk needs of the
// state S at the chunk's start and of the chunk's keys:
//   ab[t]      = (S k_t, S q_t)                       (d_v each)
//   gram[t][s] = (k_s . k_t, k_s . q_t)  for the chunk's tokens s <= t
// No invocation waits inside a loop: the per-token work of the recurrence is dn_solve's.
#include "common.glsl"

layout(binding = 0, std430) readonly buffer Conv { float conv[]; };   // [n][conv_dim]: q | k | v
layout(binding = 1, std430) readonly buffer Gates { float gates[]; }; // [n_ctx][n_v][2]: beta, g
layout(binding = 2, std430) buffer State { float st[]; };             // model/deltanet.h layout
layout(binding = 3, std430) writeonly buffer AB { float ab[]; };      // [64][n_v][2][d_v]
layout(binding = 4, std430) writeonly buffer Gram { float gram[]; };  // [64][n_v][64][2]

layout(push_constant) uniform Push {
    uint n, p0, n_k, d_k, n_v, d_v, conv_dim, conv_floats, row0;
} pc;

const uint CHUNK = 64;
const uint MAX_DK = 256;
shared float sk[MAX_DK], sq[MAX_DK];
shared float lc_sh;

void main() {
    uint g = folded_group();
    if (g >= pc.n_v * pc.n) return;
    uint h = g % pc.n_v, i = g / pc.n_v, kh = h % pc.n_k, lid = gl_LocalInvocationID.x;
    uint key_dim = pc.n_k * pc.d_k, j0 = pc.p0 % CHUNK, jt = j0 + i;
    uint S0 = pc.conv_floats + h * pc.d_v * pc.d_k;
    uint tail = pc.conv_floats + pc.n_v * pc.d_v * pc.d_k, rec = pc.n_v * (pc.d_k + pc.d_v + 1u);
    uint tk = tail + h * pc.d_k, tl = tail + pc.n_v * (pc.d_k + pc.d_v) + h;
    uint row = (pc.row0 + i) * pc.conv_dim;
    for (uint c = lid; c < pc.d_k; c += WG) {
        sq[c] = conv[row + kh * pc.d_k + c];
        sk[c] = conv[row + key_dim + kh * pc.d_k + c];
        st[tk + jt * rec + c] = sk[c];
    }
    if (lid == 0u) {
        // the log-decays of the segment's tokens up to t, after the records before it
        float lc = j0 > 0u ? st[tl + (j0 - 1u) * rec] : 0.0;
        for (uint q = 0; q <= i; q++) lc += gates[((pc.p0 + q) * pc.n_v + h) * 2u + 1u];
        lc_sh = lc;
        st[tl + jt * rec] = lc;
    }
    barrier();
    uint out_ab = (i * pc.n_v + h) * 2u * pc.d_v;
    for (uint r = lid; r < pc.d_v; r += WG) {
        float a = 0.0, b = 0.0;
        for (uint c = 0; c < pc.d_k; c++) {
            a += st[S0 + r * pc.d_k + c] * sk[c];
            b += st[S0 + r * pc.d_k + c] * sq[c];
        }
        ab[out_ab + r] = a;
        ab[out_ab + pc.d_v + r] = b;
    }
    // the chunk's keys before t: its records before the segment, the segment's own rows
    uint out_g = (i * pc.n_v + h) * CHUNK * 2u;
    for (uint s = lid; s <= jt; s += WG) {
        float a = 0.0, b = 0.0;
        for (uint c = 0; c < pc.d_k; c++) {
            float ks = s < j0 ? st[tk + s * rec + c] : conv[(pc.row0 + s - j0) * pc.conv_dim + key_dim + kh * pc.d_k + c];
            a += ks * sk[c];
            b += ks * sq[c];
        }
        gram[out_g + 2u * s] = a;
        gram[out_g + 2u * s + 1u] = b;
    }
}
