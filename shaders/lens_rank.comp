#version 450
// lens_rank.comp — for the full logit lens: how many valid ids rank above each candidate
// at each entry (a higher logit, or an equal one and a lower id: the sampler's order;
// NaN counts as -inf, as in inspect.c). Grid: x = chunk of CHUNK ids, y = entry; each
// workgroup counts its chunk for every candidate and adds the counts to RANKS (zeroed
// beforehand) atomically.
#include "common.glsl"

layout(constant_id = 1) const uint CHUNK = 1024;

layout(binding = 0, std430) readonly buffer Lbuf { float logits[]; };  // [entries][row_stride]
layout(binding = 1, std430) readonly buffer Tbuf { float cands[]; };   // top-k record: ids at 2..
layout(binding = 2, std430) buffer Rbuf { uint ranks[]; };             // [entries][k]

layout(push_constant) uniform Push { uint n_valid, row_stride, k; } pc;

shared float vals[CHUNK];

float clean(float x) { return isnan(x) ? -1.0 / 0.0 : x; }

void main() {
    uint c0 = gl_WorkGroupID.x * CHUNK, e = gl_WorkGroupID.y, lid = gl_LocalInvocationID.x;
    uint len = min(CHUNK, pc.n_valid - c0), row = e * pc.row_stride;
    for (uint i = lid; i < len; i += WG) vals[i] = clean(logits[row + c0 + i]);
    barrier();
    for (uint j = 0; j < pc.k; j++) {
        int id = floatBitsToInt(cands[2u + j]);
        float cl = id >= 0 ? clean(logits[row + uint(id)]) : 0.0;
        uint n = 0u;
        for (uint i = lid; i < len; i += WG) {
            float x = vals[i];
            int v = int(c0 + i);
            if (v != id && (x > cl || (x == cl && v < id))) n++;
        }
        float total = wg_sum(float(n)); // exact: counts stay far below 2^24
        if (lid == 0u && id >= 0) atomicAdd(ranks[e * pc.k + j], uint(total));
    }
}
