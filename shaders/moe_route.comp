#version 450
// moe_route.comp — a mixture of experts' router, one workgroup per token (op_moe_route):
// from the token's n_expert logits (row t of LOGITS, n_logits apart; a shared expert's
// gate logit, when there is one, follows the experts'), the n_rank experts with the
// highest logits, best first, ties to the lower id (the first k are the chosen ones),
// their probabilities under a softmax over every expert, the chosen ones' weights
// (routing 0: those probabilities, divided by their sum when norm; routing 1: a softmax
// of their logits) and the shared expert's gate sigmoid(logit). Into ROUTE (uints; floats
// as their bits) at ids_off + t * k, w_off + t * k, rank_off + t * n_rank, prob_off +
// t * n_rank, gate_off + t: the ids are what matvec.glsl's EXPERTS mode reads.
// The ranking is n_rank rounds of an arg-max over the experts not taken yet, each round
// one pass of the workgroup and a two-level reduction (subgroups, then shared memory).
#include "common.glsl"

layout(binding = 0, std430) readonly buffer Lbuf { float logits[]; };
layout(binding = 1, std430) buffer Rbuf { uint route[]; };

layout(push_constant) uniform Push {
    uint n_expert, n_logits, k, n_rank, routing, norm, shared_gate;
    uint ids_off, w_off, rank_off, prob_off, gate_off;
} pc;

const uint MAX_EXPERTS = 1024u, MAX_RANK = 68u; // checked by the engine
shared uint taken[MAX_EXPERTS / 32u];
shared float best_val[64];
shared uint best_id[64];
shared uint ranked[MAX_RANK];

// The better of two (logit, id) candidates: the higher logit, then the lower id.
bool better(float v, uint i, float bv, uint bi) {
    return v > bv || (v == bv && i < bi);
}

void main() {
    uint t = folded_group(), lid = gl_LocalInvocationID.x;
    uint base = t * pc.n_logits;
    for (uint i = lid; i < MAX_EXPERTS / 32u; i += WG) taken[i] = 0u;
    float m = -1.0 / 0.0;
    for (uint i = lid; i < pc.n_expert; i += WG) m = max(m, logits[base + i]);
    m = wg_max(m); // its barriers also publish taken[]
    float s = 0.0;
    for (uint i = lid; i < pc.n_expert; i += WG) s += exp(logits[base + i] - m);
    s = wg_sum(s);

    for (uint j = 0; j < pc.n_rank; j++) {
        float bv = -1.0 / 0.0;
        uint bi = 0xffffffffu;
        for (uint i = lid; i < pc.n_expert; i += WG) {
            float v = logits[base + i];
            if ((taken[i >> 5] & (1u << (i & 31u))) == 0u && better(v, i, bv, bi)) bv = v, bi = i;
        }
        // the subgroup's best: its highest logit, then the lowest id holding it
        float sv = subgroupMax(bv);
        uint si = subgroupMin(bv == sv ? bi : 0xffffffffu);
        if (subgroupElect()) best_val[gl_SubgroupID] = sv, best_id[gl_SubgroupID] = si;
        barrier();
        if (lid == 0u) {
            float v = best_val[0];
            uint id = best_id[0];
            for (uint g = 1u; g < gl_NumSubgroups; g++)
                if (better(best_val[g], best_id[g], v, id)) v = best_val[g], id = best_id[g];
            ranked[j] = id;
            taken[id >> 5] |= 1u << (id & 31u);
        }
        barrier();
    }

    if (lid != 0u) return;
    float chosen = 0.0, wmax = logits[base + ranked[0]];
    for (uint j = 0; j < pc.n_rank; j++) {
        float p = exp(logits[base + ranked[j]] - m) / s;
        route[pc.rank_off + t * pc.n_rank + j] = ranked[j];
        route[pc.prob_off + t * pc.n_rank + j] = floatBitsToUint(p);
        if (j < pc.k) chosen += pc.routing == 0u ? p : exp(logits[base + ranked[j]] - wmax);
    }
    for (uint j = 0; j < pc.k; j++) {
        float l = logits[base + ranked[j]];
        float w = pc.routing == 0u ? exp(l - m) / s : exp(l - wmax);
        if (pc.routing != 0u || pc.norm != 0u) w /= chosen;
        route[pc.ids_off + t * pc.k + j] = ranked[j];
        route[pc.w_off + t * pc.k + j] = floatBitsToUint(w);
    }
    if (pc.shared_gate != 0u) route[pc.gate_off + t] = floatBitsToUint(1.0 / (1.0 + exp(-logits[base + pc.n_expert])));
}
