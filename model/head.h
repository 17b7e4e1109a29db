/* head.h — the norms of the model, and the end of every forward pass in one place: the
 * final norm, the output head and the logit soft-cap.
 *
 * The CPU engine and the CPU logit lens both decode a residual-stream vector through
 * these, so the lens applies exactly what the model applies (Gemma's soft-cap included).
 * The Vulkan engine has its own copy on the GPU (compute/vk_forward.c, record_head). */
#ifndef LLMSCOPE_HEAD_H
#define LLMSCOPE_HEAD_H

#include "model.h"

/* out = the model's norm (RMSNorm, or LayerNorm with shift B) of X (N values) with gain G
 * (NULL: none). out may alias x. */
void model_norm(const model_hparams *hp, float *out, const float *x, const float *g, const float *b, int n);
/* The final norm of one residual-stream vector (n_embd values). */
void head_norm(const model *m, float *out, const float *x);
/* Soft-caps N logits in place when the model caps them (no-op otherwise). */
void head_softcap(const model *m, float *logits, int64_t n);
/* The logits of one final-normed vector XN: the output head, then the cap. */
void head_logits(const model *m, const float *xn, float *logits);

/* How much PART, one component of the last layer's output X_FINAL (n_embd values each: a
 * layer's attention or experts' output), pushes the logit of TOKEN directly: the final
 * norm linearised at X_FINAL (its scale, 1/rms or 1/std of X_FINAL, held fixed; LayerNorm
 * also removes PART's mean), times the gain, dotted with the output head's row of TOKEN.
 * The parts of X_FINAL add up to its logit before the cap (and a LayerNorm's shift); the
 * cap, when the model has one, is left out. */
float head_contribution(const model *m, const float *x_final, const float *part, int32_t token);

#endif
