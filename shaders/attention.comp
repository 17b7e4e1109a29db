#version 450
// attention.comp — causal attention with grouped-query heads, the keys split into chunks
// (flash-decoding), and the softmax rows written out exactly for llmscope's views.
//
// Grid: x = chunk of keys, y = query head, z = query token. Token t of the batch sits at
// position pos + t and attends to keys 0 .. pos + t of this layer's cache (K and V rows
// of kv_stride floats; query head h reads cache head h / group). The workgroup of chunk c
// takes keys c*chunk .. (c+1)*chunk - 1 of that range (none: it returns at once):
//   1. scores s_j = q . k_j * scale into this (head, token)'s row of the SCORES scratch,
//      and their maximum m_c;
//   2. e_j = exp(s_j - m_c), kept in the scratch row, and their sum l_c;
//   3. the unnormalised output o_c = sum_j e_j v_j, one output dimension per invocation
//      (the keys split across groups of invocations when the workgroup is wider than
//      head_dim).
// With one chunk (n_chunks == 1: short contexts, or batches with parallelism enough in
// their tokens and heads) the softmax is complete here: out = o_c / l_c, and the rows
// wanted by the capture (batch rows cap_first .. cap_first + cap_rows - 1) get
// p_j = e_j / l_c, zero after the causal limit up to cap_stride. Otherwise the record
// (m_c, l_c, o_c) goes to PART and attention_merge.comp finishes the job, rescaling
// every chunk by exp(m_c - M) for the row's overall maximum M: the same probabilities,
// exactly normalised, written in the same place.
// A sliding window (window > 0) leaves out keys before n_kv - window: chunks wholly
// before that return at once (attention_merge skips them too), and the captured rows are
// zero there. softcap > 0 caps each scaled score to softcap * tanh(s / softcap) (Gemma 2).
// An attention sink (gpt-oss: sink_off != ~0, the head's logit at params[sink_off + h])
// joins the softmax's denominator only: it raises the maximum and adds exp(sink - m) to
// the sum, so a row's probabilities add up to less than 1; with several chunks the merge
// pass adds it.
#include "common.glsl"

layout(binding = 0, std430) readonly buffer Qbuf { float q[]; };
layout(binding = 1, std430) readonly buffer Kbuf { float k[]; };
layout(binding = 2, std430) readonly buffer Vbuf { float v[]; };
layout(binding = 3, std430) writeonly buffer Obuf { float o[]; };
layout(binding = 4, std430) coherent buffer Sbuf { float scores[]; };
layout(binding = 5, std430) writeonly buffer Cbuf { float capture[]; };
layout(binding = 6, std430) writeonly buffer Pbuf { float part[]; };
layout(binding = 7, std430) readonly buffer Params { float params[]; };

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

shared float q_sh[512]; // head_dim <= 512 (VK_MAX_HEAD_DIM), checked when the engine is created
shared float out_part[256]; // one partial output per invocation (WG <= 256)

void main() {
    uint c = gl_WorkGroupID.x, h = gl_WorkGroupID.y, t = gl_WorkGroupID.z, lid = gl_LocalInvocationID.x;
    uint n_heads = gl_NumWorkGroups.y, n_tokens = gl_NumWorkGroups.z;
    uint n_kv = pc.pos + t + 1u;
    uint first = pc.window > 0u && n_kv > pc.window ? n_kv - pc.window : 0u;
    uint j0 = c * pc.chunk;
    // uniform over the workgroup: a chunk past this token's keys, or before its window
    if (j0 >= n_kv || c < first / pc.chunk) return;
    uint j1 = min(n_kv, j0 + pc.chunk);
    j0 = max(j0, first);
    bool direct = pc.n_chunks == 1u;
    float scale = pc.scale;
    if (pc.temp > 0.0) scale *= log(floor(float(pc.pos + t + 1u) / float(pc.temp_floor)) + 1.0) * pc.temp + 1.0;
    uint kv_base = (h / pc.group) * pc.head_dim;
    uint srow = (h * n_tokens + t) * pc.score_stride;

    for (uint d = lid; d < pc.head_dim; d += WG) q_sh[d] = q[t * pc.q_stride + h * pc.head_dim + d];
    barrier();

    float m = -1.0 / 0.0;
    for (uint j = j0 + lid; j < j1; j += WG) {
        uint kb = j * pc.kv_stride + kv_base;
        float s = 0.0;
        for (uint d = 0; d < pc.head_dim; d++) s += q_sh[d] * k[kb + d];
        s *= scale;
        if (pc.softcap > 0.0) s = softcap(s, pc.softcap);
        scores[srow + j] = s;
        m = max(m, s);
    }
    m = wg_max(m);
    bool sink = direct && pc.sink_off != 0xffffffffu;
    float sink_logit = sink ? params[pc.sink_off + h] : 0.0;
    if (sink) m = max(m, sink_logit);

    float l = 0.0;
    for (uint j = j0 + lid; j < j1; j += WG) {
        float e = exp(scores[srow + j] - m);
        scores[srow + j] = e;
        l += e;
    }
    l = wg_sum(l);
    if (sink) l += exp(sink_logit - m);

    if (direct) {
        int crow = int(t) - pc.cap_first;
        if (crow >= 0 && crow < int(pc.cap_rows)) {
            uint cbase = pc.cap_off + (h * pc.cap_rows + uint(crow)) * pc.cap_stride;
            for (uint j = lid; j < first; j += WG) capture[cbase + j] = 0.0;
            for (uint j = first + lid; j < n_kv; j += WG) capture[cbase + j] = scores[srow + j] / l;
            for (uint j = n_kv + lid; j < pc.cap_stride; j += WG) capture[cbase + j] = 0.0;
        }
    }
    memoryBarrierBuffer();
    barrier();

    // o_c, divided by l_c at once when this is the only chunk
    float inv = direct ? 1.0 / l : 1.0;
    uint ob = t * pc.out_stride + h * pc.head_dim;
    uint rec = ((t * n_heads + h) * pc.n_chunks + c) * (2u + pc.head_dim);
    if (pc.head_dim >= WG) {
        for (uint d = lid; d < pc.head_dim; d += WG) {
            float acc = 0.0;
            for (uint j = j0; j < j1; j++) acc += scores[srow + j] * v[j * pc.kv_stride + kv_base + d];
            if (direct) o[ob + d] = acc * inv;
            else part[rec + 2u + d] = acc;
        }
    } else {
        // fewer dimensions than invocations: S slices of head_dim invocations each take
        // every S-th key, then slice 0 adds up the partial sums
        uint S = WG / pc.head_dim, slice = lid / pc.head_dim, d = lid % pc.head_dim;
        float acc = 0.0;
        if (slice < S)
            for (uint j = j0 + slice; j < j1; j += S) acc += scores[srow + j] * v[j * pc.kv_stride + kv_base + d];
        out_part[lid] = acc;
        barrier();
        if (slice == 0) {
            float sum = 0.0;
            for (uint i = 0; i < S; i++) sum += out_part[i * pc.head_dim + d];
            if (direct) o[ob + d] = sum * inv;
            else part[rec + 2u + d] = sum;
        }
    }
    if (!direct && lid == 0) {
        part[rec] = m;
        part[rec + 1u] = l;
    }
}
