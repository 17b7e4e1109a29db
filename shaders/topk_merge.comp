#version 450
// topk_merge.comp — second pass of the vocabulary reduction, one workgroup per row: merges
// the chunk records of topk_partial.comp into 2 + 2k floats:
//   log-sum-exp = M + log S  and entropy = log S - U / S, where M is the largest chunk max,
//   S = sum_c s_c exp(m_c - M) and U = sum_c exp(m_c - M) (u_c + (m_c - M) s_c), i.e. the
//   sums of exp(x - M) and exp(x - M)(x - M) over the whole row (entropy
//   -sum p log p with p = exp(x - M) / S);
//   then the k largest logits as k ids (int bits) and k values (ties to the lower id).
// Chosen candidates are marked in the (scratch) record buffer by setting their id to -1.
#include "common.glsl"

// coherent: an invocation marks a chosen candidate, and the others of the workgroup must
// see the mark after the barrier (without it, a GPU may serve them a cached old value)
layout(binding = 0, std430) coherent buffer Pbuf { float part[]; };
layout(binding = 1, std430) writeonly buffer Obuf { float outv[]; };

layout(push_constant) uniform Push { uint k, n_chunks; } pc;

void main() {
    uint row = gl_WorkGroupID.x, lid = gl_LocalInvocationID.x;
    uint rec_len = 3u + 2u * pc.k, base = row * pc.n_chunks * rec_len;
    const float NEG_INF = -1.0 / 0.0;

    float m = NEG_INF;
    for (uint c = lid; c < pc.n_chunks; c += WG) m = max(m, part[base + c * rec_len]);
    float M = wg_max(m);
    float s = 0.0, u = 0.0;
    for (uint c = lid; c < pc.n_chunks; c += WG) {
        uint r = base + c * rec_len;
        float mc = part[r], sc = part[r + 1u], uc = part[r + 2u];
        float f = exp(mc - M);
        s += sc * f;
        u += f * (uc + (mc - M) * sc);
    }
    float S = wg_sum(s), U = wg_sum(u);
    uint ob = row * (2u + 2u * pc.k);
    if (lid == 0) {
        outv[ob] = M + log(S);
        outv[ob + 1u] = log(S) - U / S;
    }

    uint n_cand = pc.n_chunks * pc.k;
    for (uint r = 0; r < pc.k; r++) {
        float best = NEG_INF;
        int best_id = -1;
        uint best_at = 0u;
        for (uint i = lid; i < n_cand; i += WG) {
            uint c = i / pc.k, j = i % pc.k, at = base + c * rec_len + 3u + j;
            int id = floatBitsToInt(part[at]);
            float x = part[at + pc.k];
            if (id >= 0 && (best_id < 0 || x > best || (x == best && id < best_id))) {
                best = x; best_id = id; best_at = at;
            }
        }
        float top = wg_max(best_id < 0 ? NEG_INF : best);
        bool mine = best_id >= 0 && best == top;
        float low = -wg_max(mine ? -float(best_id) : -16777216.0);
        bool any = low < 16777216.0;
        if (lid == 0) {
            outv[ob + 2u + r] = intBitsToFloat(any ? int(low) : -1);
            outv[ob + 2u + pc.k + r] = any ? top : NEG_INF;
        }
        // the winning candidate is unique (ids are distinct), so one invocation marks it
        if (any && mine && best_id == int(low)) part[best_at] = intBitsToFloat(-1);
        memoryBarrierBuffer();
        barrier();
    }
}
