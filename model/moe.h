/* moe.h — a mixture-of-experts feed-forward layer on the CPU (AT_MOE).
 *
 * Each token's router logits (ffn_gate_inp x, plus its bias) choose n_used of the layer's
 * n_expert experts and weigh them (op_moe_route: the model's routing); each chosen expert
 * is a gated FFN of its own (its rows of the stacked ffn_{gate,up,down}_exps, biases where
 * the model has them, the model's activation); the layer's output is the weighted sum of
 * the chosen experts' outputs, in the router's order, plus a shared expert scaled by
 * sigmoid(ffn_gate_inp_shexp . x) where the model has one.
 *
 * Only the chosen experts are computed, and only their rows are read: the tokens of a
 * micro-batch are grouped by expert, so an expert that several tokens chose is read once
 * for all of them, and an expert nobody chose is not read at all (the matrices stay in
 * the memory-mapped file, so unread experts are not even paged in).
 *
 * The arithmetic of every product is the caller's (the CPU engine's products, whose bits
 * do not depend on how the rows are shared out nor on which tokens share a product), so
 * the result does not depend on how tokens are grouped. */
#ifndef LLMSCOPE_MOE_H
#define LLMSCOPE_MOE_H

#include "model.h"

#include <stdint.h>

/* Experts a view shows beyond the chosen ones (runners-up): the router's ranking is
 * reported for n_used + this many, at most n_expert. */
#define MOE_RUNNERS_UP 4

/* How many experts the router's ranking reports per token and layer. */
static inline int moe_rank_n(const moe_hparams *moe) {
    int n = moe->n_used + MOE_RUNNERS_UP;
    return n < moe->n_expert ? n : moe->n_expert;
}

/* Expert E's rows of a stacked expert matrix W of N_EXPERT experts: a view, no copy. */
weight moe_expert(const weight *w, int n_expert, int e);

/* Y_i = W_i X for N vectors (x [n][cols], y_i [n][rows_i]) and each of N products: the
 * caller's matrix products (its threads, its arithmetic). */
typedef struct moe_product {
    const weight *w;
    float *y;
} moe_product;
typedef struct moe_multiplier {
    void (*multiply)(void *ctx, const float *x, int n, const moe_product *p, int n_products);
    void *ctx;
} moe_multiplier;

/* One token's routing through one layer: the experts ranked by the router (the first
 * n_used chosen), the softmax over every expert of those ranked, the chosen weights. */
typedef struct moe_token_route {
    const int32_t *ranked;   /* [moe_rank_n] */
    const float *probs;      /* [moe_rank_n] */
    const float *weights;    /* [n_used] */
} moe_token_route;

typedef struct moe_scratch moe_scratch;

/* Scratch for micro-batches of up to MAX_TOKENS tokens of model M, or NULL when out of
 * memory (or M has no experts). */
moe_scratch *moe_scratch_create(const model *m, int max_tokens);
void moe_scratch_free(moe_scratch *s);

/* Layer L's mixture of experts for N tokens: XN [n][n_embd], the normalised input, ->
 * OUT [n][n_embd], what the layer adds to the residual stream (OUT may be XN). */
void moe_forward(const model *m, int l, const float *xn, int n, float *out, const moe_multiplier *mul,
                 moe_scratch *s);
/* Token T's routing in the last moe_forward. */
moe_token_route moe_route_of(const moe_scratch *s, int t);

#endif
