#version 450
// attention_merge.comp — second pass of split-key attention (see attention.comp): one
// workgroup per (query head, query token) combines the chunk records (m_c, l_c, o_c).
// With M = max m_c and f_c = exp(m_c - M), the softmax denominator is L = sum f_c l_c and
// the output sum f_c o_c / L. Captured rows get p_j = e_j f_c / L for each key j of chunk
// c (e_j = exp(s_j - m_c), left in the scores scratch by the first pass): the exact
// softmax row, zero after the causal limit up to cap_stride.
// Keys before a sliding window's start are left out: their chunks are skipped, their
// captured probabilities are zero. An attention sink (sink_off != ~0) joins M and L as
// one more chunk with l = 1 and no output (see attention.comp).
// Grid: x = query head, y = query token; the push constants are attention.comp's.
#include "common.glsl"

layout(binding = 0, std430) readonly buffer Pbuf { float part[]; };
layout(binding = 1, std430) readonly buffer Sbuf { float scores[]; };
layout(binding = 2, std430) writeonly buffer Obuf { float o[]; };
layout(binding = 3, std430) writeonly buffer Cbuf { float capture[]; };
layout(binding = 4, std430) readonly buffer Params { float params[]; };

layout(push_constant) uniform Push {
    uint pos, head_dim, group, q_stride, kv_stride, out_stride, score_stride;
    int cap_first;
    uint cap_rows, cap_stride, cap_off;
    float scale;
    uint chunk, n_chunks;
    uint window;
    float softcap;
    float temp;      // attention temperature (layer_desc.attn_temp), 0 = none
    uint temp_floor;
    uint sink_off;
} pc;

// chunk factors f_c; the host keeps n_chunks <= 256 (VK_ATTN_MAX_CHUNKS)
shared float factor[256];

void main() {
    uint h = gl_WorkGroupID.x, t = gl_WorkGroupID.y, lid = gl_LocalInvocationID.x;
    uint n_heads = gl_NumWorkGroups.x, n_tokens = gl_NumWorkGroups.y;
    uint n_kv = pc.pos + t + 1u;
    uint nc = (n_kv + pc.chunk - 1u) / pc.chunk; // chunks holding this token's keys
    uint first = pc.window > 0u && n_kv > pc.window ? n_kv - pc.window : 0u, c0 = first / pc.chunk;
    uint rec0 = (t * n_heads + h) * pc.n_chunks * (2u + pc.head_dim), rec_len = 2u + pc.head_dim;

    float m = -1.0 / 0.0;
    for (uint c = c0 + lid; c < nc; c += WG) m = max(m, part[rec0 + c * rec_len]);
    float M = wg_max(m);
    bool sink = pc.sink_off != 0xffffffffu;
    float sink_logit = sink ? params[pc.sink_off + h] : 0.0;
    if (sink) M = max(M, sink_logit);
    float l = 0.0;
    for (uint c = c0 + lid; c < nc; c += WG) {
        float f = exp(part[rec0 + c * rec_len] - M);
        factor[c] = f;
        l += f * part[rec0 + c * rec_len + 1u];
    }
    float L = wg_sum(l); // its barriers also publish factor[]
    if (sink) L += exp(sink_logit - M);
    float inv = 1.0 / L;

    uint ob = t * pc.out_stride + h * pc.head_dim;
    for (uint d = lid; d < pc.head_dim; d += WG) {
        float acc = 0.0;
        for (uint c = c0; c < nc; c++) acc += factor[c] * part[rec0 + c * rec_len + 2u + d];
        o[ob + d] = acc * inv;
    }

    int crow = int(t) - pc.cap_first;
    if (crow >= 0 && crow < int(pc.cap_rows)) {
        uint srow = (h * n_tokens + t) * pc.score_stride;
        uint cbase = pc.cap_off + (h * pc.cap_rows + uint(crow)) * pc.cap_stride;
        for (uint j = lid; j < first; j += WG) capture[cbase + j] = 0.0;
        for (uint j = first + lid; j < n_kv; j += WG) capture[cbase + j] = scores[srow + j] * (factor[j / pc.chunk] * inv);
        for (uint j = n_kv + lid; j < pc.cap_stride; j += WG) capture[cbase + j] = 0.0;
    }
}
