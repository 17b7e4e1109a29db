#version 450
// topk_partial.comp — first pass of the vocabulary reduction: each workgroup takes CHUNK
// logits of one row and writes a record of 3 + 2k floats:
//   m = max, s = sum exp(x - m), u = sum exp(x - m) * (x - m)   (enough to merge the
//   log-sum-exp and the entropy exactly, see topk_merge.comp),
//   then its k largest logits as k ids (int bits) and k values, largest first, ties to
//   the lower id; missing entries have id -1.
// Grid: x = chunk, y = row (rows start at row_off).
#include "common.glsl"

layout(constant_id = 1) const uint CHUNK = 1024;

layout(binding = 0, std430) readonly buffer Lbuf { float logits[]; };
layout(binding = 1, std430) writeonly buffer Pbuf { float part[]; };

layout(push_constant) uniform Push { uint n_vocab, row_stride, k, n_chunks, row_off; } pc;

shared float vals[CHUNK];
shared bool taken[CHUNK];

void main() {
    uint chunk = gl_WorkGroupID.x, row = gl_WorkGroupID.y, lid = gl_LocalInvocationID.x;
    uint c0 = chunk * CHUNK, len = min(CHUNK, pc.n_vocab - c0);
    const float NEG_INF = -1.0 / 0.0;

    float m = NEG_INF;
    for (uint i = lid; i < CHUNK; i += WG) {
        float x = i < len ? logits[pc.row_off + row * pc.row_stride + c0 + i] : NEG_INF;
        vals[i] = x;
        taken[i] = i >= len;
        m = max(m, x);
    }
    m = wg_max(m);
    float s = 0.0, u = 0.0;
    for (uint i = lid; i < len; i += WG) {
        float e = exp(vals[i] - m);
        s += e;
        u += e * (vals[i] - m);
    }
    s = wg_sum(s);
    u = wg_sum(u);

    uint rec = (row * pc.n_chunks + chunk) * (3u + 2u * pc.k);
    if (lid == 0) {
        part[rec] = m;
        part[rec + 1u] = s;
        part[rec + 2u] = u;
    }
    for (uint r = 0; r < pc.k; r++) {
        // this invocation's best untaken entry, then the workgroup's (lowest id on ties)
        float best = NEG_INF;
        uint best_i = 0xffffffffu;
        for (uint i = lid; i < len; i += WG)
            if (!taken[i] && (best_i == 0xffffffffu || vals[i] > best)) { best = vals[i]; best_i = i; }
        float top = wg_max(best_i == 0xffffffffu ? NEG_INF : best);
        bool mine = best_i != 0xffffffffu && best == top;
        // ids < 2^24 are exact in a float; the max of -id is the lowest id
        float low = -wg_max(mine ? -float(best_i) : -16777216.0);
        bool any = low < 16777216.0;
        if (lid == 0) {
            part[rec + 3u + r] = intBitsToFloat(any ? int(c0 + uint(low)) : -1);
            part[rec + 3u + pc.k + r] = any ? top : NEG_INF;
        }
        if (any && mine && best_i == uint(low)) taken[best_i] = true;
        barrier();
    }
}
