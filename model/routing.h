/* routing.h — which experts answered: a step record's mixture-of-experts routing.
 *
 * For a model with experts (moe.h), each step record keeps, for every layer, the experts
 * its router ranked highest for the token that was the input of the pass (the first
 * n_used are the ones that ran, the rest the runners-up), each one's probability under a
 * softmax over all the layer's experts, and the weights the chosen ones' outputs were
 * summed with. Small (a few KiB per token), so every record keeps its routing: the
 * expert-usage map covers the whole conversation. Probabilities and weights are f16. */
#ifndef LLMSCOPE_ROUTING_H
#define LLMSCOPE_ROUTING_H

#include "model.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct record_routing {
    int n_layer, n_rank, n_used;
    int16_t *ids;       /* [n_layer][n_rank]; -1 in a layer without experts */
    uint16_t *probs;    /* f16 [n_layer][n_rank] */
    uint16_t *weights;  /* f16 [n_layer][n_used] */
} record_routing;

/* Row ROW of an eval's routing (engine_batch.route_ids / route_probs / route_weights,
 * N_OUT rows per layer) as a new record_routing for model M, or NULL (out of memory). */
record_routing *routing_from_batch(const model *m, const int32_t *ids, const float *probs, const float *weights,
                                   int n_out, int row);
record_routing *routing_copy(const record_routing *r);
void routing_free(record_routing *r);
size_t routing_bytes(const record_routing *r);

/* Rank J's expert in layer L (-1: none), its probability, and (J < n_used) its weight. */
int routing_id(const record_routing *r, int l, int j);
float routing_prob(const record_routing *r, int l, int j);
float routing_weight(const record_routing *r, int l, int j);
/* True when layer L ran experts. */
bool routing_layer_has_experts(const record_routing *r, int l);

#endif
