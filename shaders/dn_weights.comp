#version 450
// dn_weights.comp — what a Gated DeltaNet head looks at (op_deltanet_weights): the
// effective weights w_s of its read-out at a token over every earlier token s, by one
// sweep back from the token: x = q; w_s = beta_s (k_s . x); x = e^g_s (x - w_s k_s). One
// workgroup per (value head, output token); the row goes where the attention kernel puts
// a softmax head's, and is zero past the token.
// Like the CPU's sweep (ops.h, dn_below_floor) it stops once every |x| is below 2^-63,
// the rest of the row 0: decays keep x from growing back, so the weights left are below
// 1e-18. Without the stop a row costs a step per earlier token however fast its head
// forgets; with it, about as many as the head remembers. Checked every FLOOR_EVERY steps
// (a reduction of its own), so the stop comes up to FLOOR_EVERY - 1 steps after the
// CPU's: weights under 1e-18 where the CPU has 0.
#include "common.glsl"

layout(binding = 0, std430) readonly buffer Conv { float conv[]; };   // [n][conv_dim]: q first
layout(binding = 1, std430) readonly buffer Keys { float keys[]; };   // [n_ctx][n_k d_k]
layout(binding = 2, std430) readonly buffer Gates { float gates[]; }; // [n_ctx][n_v][2]
layout(binding = 3, std430) writeonly buffer Cap { float cap[]; };

layout(push_constant) uniform Push {
    uint n_out, out_first, p0, n_k, d_k, n_v, conv_dim, cap_off, cap_stride;
} pc;

const uint MAX_DK = 256;
const uint FLOOR_EVERY = 8;
const float FLOOR = 1.0842021724855044e-19; // 2^-63, exactly
shared float x[MAX_DK];

void main() {
    uint g = folded_group();
    if (g >= pc.n_v * pc.n_out) return;
    uint h = g / pc.n_out, oi = g % pc.n_out, i = pc.out_first + oi, pos = pc.p0 + i, kh = h % pc.n_k;
    uint lid = gl_LocalInvocationID.x, key_dim = pc.n_k * pc.d_k;
    uint dst = pc.cap_off + (h * pc.n_out + oi) * pc.cap_stride;
    for (uint c = lid; c < pc.d_k; c += WG) x[c] = conv[i * pc.conv_dim + kh * pc.d_k + c];
    int stop = 0; // the weights of tokens before it are below the floor
    for (int s = int(pos); s >= 0; s--) {
        uint ks = uint(s) * key_dim + kh * pc.d_k, gs = (uint(s) * pc.n_v + h) * 2u;
        float part = 0.0;
        for (uint c = lid; c < pc.d_k; c += WG) part += keys[ks + c] * x[c];
        float w = gates[gs] * wg_sum(part), decay = exp(gates[gs + 1u]), big = 0.0;
        // each invocation updates only the entries of x it read
        for (uint c = lid; c < pc.d_k; c += WG) {
            x[c] = decay * (x[c] - w * keys[ks + c]);
            big = max(big, abs(x[c]));
        }
        if (lid == 0u) cap[dst + uint(s)] = w;
        // s and the reduction are the same for the whole workgroup: a uniform branch
        if ((int(pos) - s) % int(FLOOR_EVERY) == int(FLOOR_EVERY) - 1 && wg_max(big) < FLOOR) {
            stop = s;
            break;
        }
    }
    for (uint s = lid; s < pc.cap_stride; s += WG)
        if (int(s) < stop || s > pos) cap[dst + s] = 0.0;
}
