#version 450
// rope.comp — rotary position embedding, in place, for N_TOKENS tokens of N_HEADS heads.
//
// The angles come from a table of (cos, sin) per position and pair, computed once on the
// CPU in double precision (frequency factors and linear scaling included): GPU sin/cos
// lose accuracy for the large angles of late positions, and a table makes the result
// identical on every vendor. NORM rotates pairs (2i, 2i+1); NEOX (i, i + rope_dim/2).
#include "common.glsl"

layout(binding = 0, std430) buffer Xbuf { float x[]; };
layout(binding = 1, std430) readonly buffer Table { vec2 cos_sin[]; }; // [position][rope_dim/2]

layout(push_constant) uniform Push {
    uint n_tokens, n_heads, head_dim, rope_dim, pos0, x_off, x_stride, neox;
} pc;

void main() {
    uint half_ = pc.rope_dim / 2u;
    uint idx = folded_group() * WG + gl_LocalInvocationID.x;
    if (idx >= pc.n_tokens * pc.n_heads * half_) return;
    uint i = idx % half_, h = (idx / half_) % pc.n_heads, t = idx / (half_ * pc.n_heads);
    vec2 cs = cos_sin[(pc.pos0 + t) * half_ + i];
    uint a = pc.neox != 0u ? i : 2u * i;
    uint b = pc.neox != 0u ? i + half_ : 2u * i + 1u;
    uint base = pc.x_off + t * pc.x_stride + h * pc.head_dim;
    float x0 = x[base + a], x1 = x[base + b];
    x[base + a] = x0 * cs.x - x1 * cs.y;
    x[base + b] = x0 * cs.y + x1 * cs.x;
}
