/* routing.c — see routing.h. */
#include "routing.h"
#include "moe.h"
#include "quant.h"

#include <stdlib.h>
#include <string.h>

record_routing *routing_from_batch(const model *m, const int32_t *ids, const float *probs, const float *weights,
                                   int n_out, int row) {
    const int L = m->hp.n_layer, R = moe_rank_n(&m->hp.moe), K = m->hp.moe.n_used;
    record_routing *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    *r = (record_routing){L, R, K, malloc((size_t)L * R * sizeof(int16_t)), malloc((size_t)L * R * sizeof(uint16_t)),
                          malloc((size_t)L * K * sizeof(uint16_t))};
    if (!r->ids || !r->probs || !r->weights) {
        routing_free(r);
        return NULL;
    }
    for (int l = 0; l < L; l++) {
        const size_t src = ((size_t)l * n_out + (size_t)row);
        const bool moe = m->desc[l].ffn == FFN_MOE;
        for (int j = 0; j < R; j++) {
            const int32_t id = moe ? ids[src * R + j] : -1;
            r->ids[(size_t)l * R + j] = (int16_t)(id >= 0 && id < m->hp.moe.n_expert ? id : -1);
            r->probs[(size_t)l * R + j] = f32_to_fp16(moe ? probs[src * R + j] : 0.0f);
        }
        for (int j = 0; j < K; j++) r->weights[(size_t)l * K + j] = f32_to_fp16(moe ? weights[src * K + j] : 0.0f);
    }
    return r;
}

record_routing *routing_copy(const record_routing *src) {
    if (!src) return NULL;
    record_routing *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    const size_t a = (size_t)src->n_layer * src->n_rank, b = (size_t)src->n_layer * src->n_used;
    *r = (record_routing){src->n_layer, src->n_rank, src->n_used, malloc(a * sizeof(int16_t)), malloc(a * sizeof(uint16_t)),
                          malloc(b * sizeof(uint16_t))};
    if (!r->ids || !r->probs || !r->weights) {
        routing_free(r);
        return NULL;
    }
    memcpy(r->ids, src->ids, a * sizeof(int16_t));
    memcpy(r->probs, src->probs, a * sizeof(uint16_t));
    memcpy(r->weights, src->weights, b * sizeof(uint16_t));
    return r;
}

void routing_free(record_routing *r) {
    if (!r) return;
    free(r->ids);
    free(r->probs);
    free(r->weights);
    free(r);
}

size_t routing_bytes(const record_routing *r) {
    return r ? sizeof *r + (size_t)r->n_layer * ((size_t)r->n_rank * 4 + (size_t)r->n_used * 2) : 0;
}

int routing_id(const record_routing *r, int l, int j) { return r->ids[(size_t)l * r->n_rank + j]; }
float routing_prob(const record_routing *r, int l, int j) { return fp16_to_f32(r->probs[(size_t)l * r->n_rank + j]); }
float routing_weight(const record_routing *r, int l, int j) { return fp16_to_f32(r->weights[(size_t)l * r->n_used + j]); }
bool routing_layer_has_experts(const record_routing *r, int l) { return r->n_rank > 0 && r->ids[(size_t)l * r->n_rank] >= 0; }
