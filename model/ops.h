/* ops.h — the plain C reference for every operation of the forward pass.
 *
 * The CPU engine is built from these, and each Vulkan shader is tested against the
 * function here of the same name. They favour clarity over speed; arithmetic is f32 with
 * f32 accumulation (matvec accumulates in double-free plain float order per block). */
#ifndef LLMSCOPE_OPS_H
#define LLMSCOPE_OPS_H

#include "model.h"

/* y[r] = sum_c W[r][c] * x[c] for r < w->rows. */
void op_matvec(const weight *w, const float *x, float *y);
/* N independent vectors: x is [n][w->cols], y is [n][w->rows]. */
void op_matmul(const weight *w, const float *x, float *y, int n);
/* out = x / sqrt(mean(x^2) + eps) * g  (g may be NULL: no scale). out may alias x. */
void op_rmsnorm(float *out, const float *x, const float *g, int n, float eps);
/* out = (x - mean) / sqrt(var + eps) * g + b. out may alias x. */
void op_layernorm(float *out, const float *x, const float *g, const float *b, int n, float eps);
/* Rotates the first R->dim dimensions of each of N_HEADS heads of VEC (head_dim apart)
 * for position POS, with the rope's frequency divisors FACTORS (rope_factors_for). */
void op_rope(float *vec, int n_heads, int head_dim, const rope_desc *r, const float *factors, int pos);
/* In-place numerically stable softmax over N values. */
void op_softmax(float *x, int n);
/* The same with one more logit, SINK, in the denominator only: the N outputs sum to
 * 1 - exp(sink) / (exp(sink) + sum exp(x)). */
void op_softmax_sink(float *x, int n, float sink);
/* What one query head attends over: keys FIRST .. N_KV-1 of the cache (the causal
 * prefix, less what a sliding window leaves out), and how its scores are formed. */
typedef struct attn_span {
    int first, n_kv;
    int head_dim, kv_stride;  /* k, v: [n_kv][kv_stride], this head's slice at offset 0 */
    float scale;              /* multiplier of q.k (usually 1/sqrt(head_dim)) */
    float softcap;            /* scores become cap * tanh(score / cap); 0 = none */
    bool has_sink;            /* gpt-oss: the head's learned logit SINK joins the softmax's
                                 denominator (a key with no value): the row sums to less
                                 than 1, and 1 - sum is the sink's share */
    float sink;
} attn_span;
/* Attention of one query head: scores_out[0 .. n_kv-1] gets the softmax probabilities
 * (the attention row users see; 0 before FIRST), out[0 .. head_dim-1] the weighted sum
 * of the values. */
void op_attention_head(const float *q, const float *k, const float *v, const attn_span *a,
                       float *scores_out, float *out);
/* Scores of the keys in A's span from query Q (scaled, then capped), into
 * scores[first .. n_kv-1]: what op_attention_head softmaxes. */
void op_attention_scores(const float *q, const float *k, const attn_span *a, float *scores);
/* x[i] = silu(gate[i]) * up[i] -> out */
void op_swiglu(float *out, const float *gate, const float *up, int n);
/* tanh-approximation GELU, as GPT-2 and Gemma use */
void op_gelu(float *out, const float *x, int n);
/* x[i] = gelu(gate[i]) * up[i] -> out (GeGLU) */
void op_geglu(float *out, const float *gate, const float *up, int n);
/* gpt-oss's clamped SwiGLU: g = min(gate, 7), u = clamp(up, -7, 7),
 * out = g * sigmoid(1.702 g) * (u + 1) */
void op_swiglu_oai(float *out, const float *gate, const float *up, int n);
#define SWIGLU_OAI_ALPHA 1.702f
#define SWIGLU_OAI_LIMIT 7.0f
/* The K largest of N values into IDS, largest first, ties to the lower index. */
void op_top_k(const float *v, int n, int k, int32_t *ids);
/* A MoE router's choice for one token from its N_EXPERT logits: the K experts in IDS,
 * best first (ties to the lower id), and their weights. ROUTE_SOFTMAX: the K highest
 * probabilities of a softmax over every expert, renormalised to sum 1 when NORM;
 * ROUTE_TOPK_SOFTMAX: the K highest logits, their softmax. PROBS (may be NULL) gets the
 * softmax over every expert, whichever the routing (what a view shows as the router's
 * confidence, runners-up included). */
void op_moe_route(const float *logits, int n_expert, int k, moe_routing routing, bool norm, int32_t *ids,
                  float *weights, float *probs);
/* x = cap * tanh(x / cap), in place (Gemma's soft-capping of scores and logits) */
void op_softcap(float *x, int n, float cap);
void op_add(float *out, const float *a, const float *b, int n);

#endif
