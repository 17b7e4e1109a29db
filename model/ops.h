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
/* Rotates the first ROPE_DIM dimensions of each of N_HEADS heads of VEC (head_dim apart)
 * for position POS. FREQ_FACTORS (rope_dim/2 entries) divide the frequencies (Llama 3),
 * FREQ_SCALE multiplies the position. */
void op_rope(float *vec, int n_heads, int head_dim, int rope_dim, int pos, float base,
             float freq_scale, rope_kind kind, const float *freq_factors);
/* In-place numerically stable softmax over N values. */
void op_softmax(float *x, int n);
/* Causal attention of one query head over N_KV cached positions.
 * q: head_dim; k, v: [n_kv][kv_stride] with this head's slice at offset 0;
 * scores_out (n_kv): the softmax probabilities (the attention row users see);
 * out: head_dim. scale is usually 1/sqrt(head_dim). */
void op_attention_head(const float *q, const float *k, const float *v, int n_kv, int head_dim,
                       int kv_stride, float scale, float *scores_out, float *out);
/* x[i] = silu(gate[i]) * up[i] -> out */
void op_swiglu(float *out, const float *gate, const float *up, int n);
/* tanh-approximation GELU, as GPT-2 uses */
void op_gelu(float *out, const float *x, int n);
void op_add(float *out, const float *a, const float *b, int n);

#endif
