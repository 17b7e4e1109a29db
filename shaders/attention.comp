#version 450
// attention.comp — causal attention with grouped-query heads, one workgroup per (query
// token, query head), and the softmax row written out for llmscope's attention views.
//
// Token t of the batch sits at position pos + t and attends to keys 0 .. pos + t of this
// layer's cache (K and V rows of kv_stride floats; query head h reads cache head
// h / group). The steps, each over the keys split across the workgroup:
//   1. scores s_j = q . k_j * scale, kept in this row of the SCORES scratch; max m;
//   2. e_j = exp(s_j - m) and their sum l;
//   3. p_j = e_j / l, also copied to CAPTURE when this token's row is wanted (rows
//      cap_first .. cap_first + cap_rows - 1 of the batch, zero after the causal limit
//      up to cap_stride) — capture costs one extra store per probability;
//   4. out = sum_j p_j v_j, one output dimension per invocation (the keys split across
//      groups of invocations when the workgroup is wider than head_dim).
#include "common.glsl"

layout(binding = 0, std430) readonly buffer Qbuf { float q[]; };
layout(binding = 1, std430) readonly buffer Kbuf { float k[]; };
layout(binding = 2, std430) readonly buffer Vbuf { float v[]; };
layout(binding = 3, std430) writeonly buffer Obuf { float o[]; };
layout(binding = 4, std430) coherent buffer Sbuf { float scores[]; };
layout(binding = 5, std430) writeonly buffer Cbuf { float capture[]; };

layout(push_constant) uniform Push {
    uint pos, head_dim, group, q_stride, kv_stride, out_stride, score_stride;
    int cap_first;
    uint cap_rows, cap_stride, cap_off;
    float scale;
} pc;

shared float q_sh[256]; // head_dim <= 256, checked when the engine is created
shared float out_part[256]; // one partial output per invocation (WG <= 256)

void main() {
    uint t = gl_WorkGroupID.x, h = gl_WorkGroupID.y, lid = gl_LocalInvocationID.x;
    uint n_kv = pc.pos + t + 1u;
    uint kv_base = (h / pc.group) * pc.head_dim;
    uint srow = (h * gl_NumWorkGroups.x + t) * pc.score_stride;

    for (uint d = lid; d < pc.head_dim; d += WG) q_sh[d] = q[t * pc.q_stride + h * pc.head_dim + d];
    barrier();

    float m = -1.0 / 0.0;
    for (uint j = lid; j < n_kv; j += WG) {
        uint kb = j * pc.kv_stride + kv_base;
        float s = 0.0;
        for (uint d = 0; d < pc.head_dim; d++) s += q_sh[d] * k[kb + d];
        s *= pc.scale;
        scores[srow + j] = s;
        m = max(m, s);
    }
    m = wg_max(m);

    float l = 0.0;
    for (uint j = lid; j < n_kv; j += WG) {
        float e = exp(scores[srow + j] - m);
        scores[srow + j] = e;
        l += e;
    }
    l = wg_sum(l);

    int crow = int(t) - pc.cap_first;
    bool captured = crow >= 0 && crow < int(pc.cap_rows);
    uint cbase = pc.cap_off + (h * pc.cap_rows + uint(crow)) * pc.cap_stride;
    for (uint j = lid; j < n_kv; j += WG) {
        float p = scores[srow + j] / l;
        scores[srow + j] = p;
        if (captured) capture[cbase + j] = p;
    }
    if (captured)
        for (uint j = n_kv + lid; j < pc.cap_stride; j += WG) capture[cbase + j] = 0.0;
    memoryBarrierBuffer();
    barrier();

    uint ob = t * pc.out_stride + h * pc.head_dim;
    if (pc.head_dim >= WG) {
        for (uint d = lid; d < pc.head_dim; d += WG) {
            float acc = 0.0;
            for (uint j = 0; j < n_kv; j++) acc += scores[srow + j] * v[j * pc.kv_stride + kv_base + d];
            o[ob + d] = acc;
        }
    } else {
        // fewer dimensions than invocations: S slices of head_dim invocations each take
        // every S-th key, then slice 0 adds up the partial sums
        uint S = WG / pc.head_dim, slice = lid / pc.head_dim, d = lid % pc.head_dim;
        float acc = 0.0;
        if (slice < S)
            for (uint j = slice; j < n_kv; j += S) acc += scores[srow + j] * v[j * pc.kv_stride + kv_base + d];
        out_part[lid] = acc;
        barrier();
        if (slice == 0) {
            float sum = 0.0;
            for (uint k = 0; k < S; k++) sum += out_part[k * pc.head_dim + d];
            o[ob + d] = sum;
        }
    }
}
