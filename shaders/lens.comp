#version 450
// lens.comp — the logit lens for a few candidate tokens (inspect.h, "logit lens"): each
// entry of the residual stream (entry 0 the embeddings, entry i the output of layer i)
// through the final norm, dotted with the candidates' rows of the output head only.
//
// One workgroup per entry: the norm's statistics of the entry (RMSNorm, or LayerNorm with
// the mean taken out), then one candidate per subgroup in turn, the normalised entry
// computed on the fly. The candidate rows were dequantised beforehand (get_rows), so this
// kernel is the same for every storage type. Entry n_layer is the last layer's output
// before the final norm: normalised here, it is the model's own distribution.
// flags: 1 scale by g = params[g_off ..], 2 shift by b = params[b_off ..], 4 LayerNorm,
// 8 the last entry is already normalised (hidden states handed in from a step record,
// where entry n_layer is the final norm's output): it is dotted as it is; 16 the logits
// are soft-capped by CAP, as the model's own are.
#include "common.glsl"

layout(binding = 0, std430) readonly buffer Hbuf { float hid[]; };   // [entries][dim]
layout(binding = 1, std430) readonly buffer Cbuf { float cand[]; };  // [k][dim]
layout(binding = 2, std430) readonly buffer Params { float params[]; };
layout(binding = 3, std430) writeonly buffer Obuf { float outv[]; }; // [entries][k]

layout(push_constant) uniform Push { uint dim, k, g_off, b_off, flags; float eps, cap; } pc;

void main() {
    uint e = gl_WorkGroupID.x, lid = gl_LocalInvocationID.x, hb = e * pc.dim;
    bool layer_norm = (pc.flags & 4u) != 0u;
    float mean = 0.0;
    if (layer_norm) {
        float s = 0.0;
        for (uint i = lid; i < pc.dim; i += WG) s += hid[hb + i];
        mean = wg_sum(s) / float(pc.dim);
    }
    float ss = 0.0;
    for (uint i = lid; i < pc.dim; i += WG) {
        float v = hid[hb + i] - mean;
        ss += v * v;
    }
    float scale = 1.0 / sqrt(wg_sum(ss) / float(pc.dim) + pc.eps);
    bool as_is = (pc.flags & 8u) != 0u && e + 1u == gl_NumWorkGroups.x;
    if (as_is) {
        mean = 0.0;
        scale = 1.0;
    }

    for (uint j = gl_SubgroupID; j < pc.k; j += gl_NumSubgroups) {
        float acc = 0.0;
        for (uint i = gl_SubgroupInvocationID; i < pc.dim; i += gl_SubgroupSize) {
            float x = (hid[hb + i] - mean) * scale;
            if ((pc.flags & 1u) != 0u && !as_is) x *= params[pc.g_off + i];
            if ((pc.flags & 2u) != 0u && !as_is) x += params[pc.b_off + i];
            acc += cand[j * pc.dim + i] * x;
        }
        acc = subgroupAdd(acc);
        if ((pc.flags & 16u) != 0u) acc = softcap(acc, pc.cap);
        if (subgroupElect()) outv[e * pc.k + j] = acc;
    }
}
