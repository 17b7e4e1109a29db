/* ops.h — the plain C reference for every operation of the forward pass.
 *
 * The CPU engine is built from these, and each Vulkan shader is tested against the
 * function here of the same name. They favour clarity over speed; arithmetic is f32 with
 * f32 accumulation (matvec accumulates in double-free plain float order per block). */
#ifndef LLMSCOPE_OPS_H
#define LLMSCOPE_OPS_H

#include "model.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

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

/* ---- Gated DeltaNet and gated attention (deltanet.h tells the whole layer) ---- */

/* out = x / max(|x|, eps): the L2 norm DeltaNet gives each head of q and k. */
void op_l2norm(float *out, const float *x, int n, float eps);
/* x[i] *= sigmoid(gate[i]): the output gate of gated attention. */
void op_sigmoid_mul(float *x, const float *gate, int n);
/* out = rmsnorm(x) * g * silu(z) over one value head of N: DeltaNet's gated output norm. */
void op_gated_rmsnorm(float *out, const float *x, const float *g, const float *z, int n, float eps);
/* One token's convolution: out[c] = silu(sum_j w[c * taps + j] * rows[j][c]) for the
 * TAPS input rows ROWS (oldest first; rows[taps - 1] is the token's own). */
void op_conv_silu(float *out, const float *const *rows, const float *w, int channels, int taps);
/* The per-head gates of one token from its projections B and A: beta = sigmoid(b), and
 * the log of the decay g = softplus(a + dt_bias) * rate (rate < 0: the decay e^g is in
 * (0, 1]). */
void op_deltanet_gates(const float *b, const float *a, const float *dt_bias, const float *rate, int n_heads,
                       float *beta, float *g);
/* The delta rule for one token of one head, written as the recurrence it is: the state S
 * ([d_v][d_k], row r the value dimension r) forgets by e^g, moves its value for key k
 * towards v by beta, and is read with q:
 *     S <- e^g S (I - beta k k^T) + beta v k^T,    out = S q.
 * The yardstick of op_deltanet_chunked (q already scaled). */
void op_deltanet_step(float *S, const float *q, const float *k, const float *v, float beta, float g, int d_k,
                      int d_v, float *out);

/* Tokens per chunk of the chunked form. Chunks start at positions that are multiples of
 * it, whatever the batch, so a token's result does not depend on how the tokens arrived. */
#define DN_CHUNK 64

/* One value head's state in the chunked form: S at the last chunk boundary, and for each
 * token of the chunk since then (token j at k + j * stride_k, ...) its key, the value u it
 * wrote into the state (the delta-rule correction applied), and lc, its log-decay summed
 * from the chunk's start. */
typedef struct dn_head_state {
    float *S;          /* [d_v][d_k] */
    float *k, *u, *lc;
    size_t stride_k, stride_u, stride_lc;
    int d_k, d_v;
} dn_head_state;

/* N tokens of one head through the chunked form from position POS (the state holds the
 * tokens before it): q, k [n][qk_stride] (L2-normed, q scaled), v [n][v_stride], beta and
 * g [n][gb_stride], out [n][out_stride]. Token t of a chunk starting at state S0, with
 * L_t its log-decay summed over the chunk up to t:
 *     u_t = beta_t (v_t - e^L_t S0 k_t - sum_{s<t} e^(L_t-L_s) (k_s.k_t) u_s)
 *     o_t = e^L_t S0 q_t + sum_{s<=t} e^(L_t-L_s) (k_s.q_t) u_s
 * (forward substitution over the chunk's keys, the triangular solve of the chunked form),
 * and at the chunk's end S0 <- e^L S0 + sum_s e^(L-L_s) u_s k_s^T. The same numbers as
 * op_deltanet_step's, in another order; SCRATCH holds 3 * DN_CHUNK floats. */
void op_deltanet_chunked(const dn_head_state *st, int pos, int n, const float *q, const float *k, size_t qk_stride,
                         const float *v, size_t v_stride, const float *beta, const float *g, size_t gb_stride,
                         float *out, size_t out_stride, float *scratch);

/* What a DeltaNet head's read-out at token T looks at: o_T = sum_{s<=T} w_s v_s, with
 *     w_s = beta_s k_s^T A_{s+1} ... A_T q,   A_r = e^g_r (I - beta_r k_r k_r^T),
 * found by one sweep back from T: x = q; for s = T .. 0: w_s = beta_s (k_s.x), then
 * x = e^g_s (x - w_s k_s). Signed, not summing to 1. k [T+1][k_stride], beta and the
 * decays e^g [T+1][gb_stride]; W gets T+1 values; X is d_k floats of scratch.
 * Once every element of x is below 2^-63 (dn_below_floor) the rest of W is written as 0:
 * with beta <= 1, |k| <= 1 and decays <= 1 (softplus times a negative ssm_a, as every
 * real file has) |x| never grows back, so those weights are below 2^-63 sqrt(d_k), about
 * 1e-18: nothing a record's f16 keeps (its smallest is 6e-8) and nothing a read-out
 * notices; x's further steps would soon run on subnormal numbers, which cost processors
 * up to a hundred times more per operation (a third of a prompt's time, measured). */
static inline bool dn_below_floor(const float *x, int d_k) {
    uint32_t bits = 0; /* an integer OR, which vectorises where a float max would not */
    for (int c = 0; c < d_k; c++) {
        uint32_t u;
        memcpy(&u, x + c, sizeof u);
        bits |= u;
    }
    /* the exponent fields' top two bits all clear: every biased exponent below 64, so
     * every |x[c]| < 2^(64 - 127) (NaN and infinity have them set) */
    return (bits & 0x60000000u) == 0;
}
void op_deltanet_weights(const float *q, const float *k, size_t k_stride, const float *beta, const float *decay,
                         size_t gb_stride, int t, int d_k, float *w, float *x);

#endif
