/* engine.h — the one interface behind which the CPU reference and the Vulkan backend sit.
 *
 * An engine owns a KV cache of n_ctx positions. eval() places BATCH->n_tokens tokens at
 * positions pos .. pos+n_tokens-1 (the cache must hold positions 0 .. pos-1 from earlier
 * calls; evaluating at an earlier pos simply overwrites, which is how branching rewinds)
 * and returns what was asked for. Outputs are written only where the pointer is non-NULL.
 * A model with recurrent (Gated DeltaNet) layers keeps that promise too: the engine
 * brings the recurrent state back to pos from its nearest checkpoint (state_ckpt.h). */
#ifndef LLMSCOPE_ENGINE_H
#define LLMSCOPE_ENGINE_H

#include "model.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct engine_batch {
    const int32_t *tokens;
    int n_tokens;
    int pos;
    /* all_positions: outputs for every token of the batch (n_out = n_tokens), else only
     * for the last one (n_out = 1). */
    bool all_positions;
    /* [n_out][n_vocab] raw logits */
    float *logits;
    /* [n_layer][n_head][n_out][pos + n_tokens]: each query head's softmax attention row;
     * entries after the query's own position are written as 0, and so are the rows of
     * heads a layer does not have (n_head is the widest layer's). A Gated DeltaNet layer's
     * rows are its value heads' effective weights (deltanet.h): signed, not summing to 1. */
    float *attention;
    /* [n_out][n_layer][n_head][2]: each DeltaNet value head's beta and decay (e^g) at the
     * token, 0 for other layers and heads. */
    float *gates;
    /* [n_layer + 1][n_embd] residual stream at the last token: [0] the embedding output,
     * [i] the output of layer i, [n_layer] the last layer's output after the final norm
     * (the convention of Hugging Face's hidden_states and of the goldens). */
    float *hidden;
    /* Optional summaries of each output row's distribution [n_out], which the Vulkan
     * engine computes on the GPU so that a decode step need not read back the whole
     * vocabulary (logits may then be NULL). Engines that do not compute them (the CPU
     * reference) leave these arrays untouched. top_k <= 64. */
    int top_k;             /* entries wanted per row in top_ids/top_logits (0: none) */
    int32_t *top_ids;      /* [n_out][top_k] by descending logit, ties to the lower id */
    float *top_logits;     /* [n_out][top_k] */
    float *logsumexp;      /* [n_out] log(sum(exp(logits))) */
    float *entropy;        /* [n_out] entropy of softmax(logits), in nats */
    /* Optional logit lens of the last output row (inspect.h, "logit lens"), which the
     * Vulkan engine computes on the GPU; engines that do not (the CPU reference) leave
     * these arrays untouched, so fill lens_ids with -1 to tell. Every entry of the
     * residual stream at that token ([0] the embeddings, [i] layer i's output, [n_layer]
     * the last layer's) is decoded through the final norm and the output head, for
     * lens_k candidates (0: no lens; <= ENGINE_LENS_MAX): the top lens_k ids of the row's
     * own logits among ids 0 .. lens_n_valid - 1 (0: all), ties to the lower id. A sampler
     * choosing from the top lens_k picks one of them. Only the candidates' rows of the
     * output head are read, lens_k per entry:
     *   lens_ids     [lens_k]                 the candidates, best first
     *   lens_logits  [n_layer + 1][lens_k]    their logits at each entry
     * With lens_full, every entry is also decoded over the whole vocabulary (one read of
     * the output head for all entries) for the rest of what inspect_lens_entry reports,
     * over ids 0 .. lens_n_valid - 1:
     *   lens_top_ids, lens_top_logits, lens_logsumexp  [n_layer + 1]  argmax (ties to the
     *                                          lower id), its logit, log-sum-exp
     *   lens_ranks   [n_layer + 1][lens_k]    valid ids ranking above each candidate (a
     *                                          higher logit, or an equal one and a lower id) */
    int lens_k;
    int lens_n_valid;
    bool lens_full;
    int32_t *lens_ids;
    float *lens_logits;
    int32_t *lens_top_ids;
    float *lens_top_logits;
    float *lens_logsumexp;
    int32_t *lens_ranks;
    /* Mixture-of-experts routing (models with experts, moe.h), where non-NULL, for each
     * output row (R = moe_rank_n, K = n_used):
     *   route_ids      [n_layer][n_out][R]  the experts ranked by the router, best first,
     *                                       the first K the chosen ones (rows of layers
     *                                       without experts are left as they are)
     *   route_probs    [n_layer][n_out][R]  each one's probability under a softmax over
     *                                       every expert of the layer
     *   route_weights  [n_layer][n_out][K]  the weights the chosen experts' outputs were
     *                                       summed with
     * and at the last token (like hidden):
     *   moe_out        [n_layer + 1][n_embd] what each layer's experts (the shared one
     *                                       included) added to the residual stream (zeros
     *                                       in layers without experts), then the last
     *                                       layer's output before the final norm, whose
     *                                       scale a direct logit contribution uses
     *                                       (head_contribution) */
    int32_t *route_ids;
    float *route_probs;
    float *route_weights;
    float *moe_out;
} engine_batch;

#define ENGINE_LENS_MAX 64

/* The output row of the batch's token BT (index within the batch), or -1 when B wants no
 * output of it. */
static inline int engine_batch_output(const engine_batch *b, int bt) {
    return b->all_positions ? bt : bt == b->n_tokens - 1 ? 0 : -1;
}

/* A logit lens of hidden states the caller holds (a step record's, in engine_batch.hidden's
 * convention: entry n_layer is already normalised, so it is decoded as it is), computed on
 * the engine's device long after the step that made them: what the why card asks for when
 * it opens on any earlier token. Every entry is decoded over the whole vocabulary (one read
 * of the output head for all of them) and reduced there; only the numbers below come back.
 * The candidates are the top K ids of the last entry among ids 0 .. n_valid - 1 (ties to
 * the lower id), then EXTRA when it is not -1 (it may repeat one of them). */
typedef struct engine_lens_query {
    const float *hidden;  /* [n_layer + 1][n_embd] */
    int n_valid;          /* 0: all */
    int k;                /* 1 .. ENGINE_LENS_MAX - 1 */
    int32_t extra;        /* -1: none */
    /* outputs, n_cand = k + (extra >= 0) candidates */
    int32_t *cand_ids;    /* [n_cand] */
    float *cand_logits;   /* [n_layer + 1][n_cand] */
    int32_t *ranks;       /* [n_layer + 1][n_cand] valid ids ranking above each candidate */
    int32_t *top_ids;     /* [n_layer + 1] argmax, ties to the lower id */
    float *top_logits;    /* [n_layer + 1] */
    float *logsumexp;     /* [n_layer + 1] over the valid ids */
} engine_lens_query;

typedef struct engine engine;

/* Memory an engine holds for its recurrent (DeltaNet) layers, beyond the KV cache. */
typedef struct engine_state_memory {
    size_t state;        /* the live recurrent state */
    size_t keys;         /* every token's keys, betas and decays (the effective weights) */
    size_t checkpoints;  /* copies of the state kept for rewinding (state_ckpt.h) */
    int n_checkpoints;
} engine_state_memory;

typedef struct engine_ops {
    int (*eval)(engine *e, const engine_batch *b, char *err, size_t errlen);
    void (*destroy)(engine *e);
    /* Optional (NULL: the caller computes the lens on the CPU, inspect.h). Returns 0, or
     * -1 with ERR filled. Does not touch the KV cache. */
    int (*lens)(engine *e, const engine_lens_query *q, char *err, size_t errlen);
    /* Optional (NULL: a model without recurrent layers, nothing to keep). Keeps a copy of
     * the recurrent state at the position evaluated last, so that evaluating there again
     * (a turn's start, a probe's fork) recomputes nothing (state_ckpt.h). */
    void (*checkpoint)(engine *e);
    /* Optional: fills OUT (all zero without recurrent layers). */
    void (*state_memory)(const engine *e, engine_state_memory *out);
} engine_ops;

struct engine {
    const engine_ops *ops;
    const model *model;
    int n_ctx;
    char backend[16];      /* "cpu" or "vulkan" */
    char device_name[128]; /* shown in the status bar */
};

/* Returns 0, or -1 with ERR filled (context overflow, device lost, ...). */
static inline int engine_eval(engine *e, const engine_batch *b, char *err, size_t errlen) {
    return e->ops->eval(e, b, err, errlen);
}
/* True when the engine computes engine_lens_query itself (on its device). */
static inline bool engine_has_lens(const engine *e) { return e && e->ops->lens; }
static inline int engine_lens(engine *e, const engine_lens_query *q, char *err, size_t errlen) {
    return e->ops->lens(e, q, err, errlen);
}
static inline void engine_checkpoint(engine *e) {
    if (e && e->ops->checkpoint) e->ops->checkpoint(e);
}
static inline void engine_get_state_memory(const engine *e, engine_state_memory *out) {
    *out = (engine_state_memory){0};
    if (e && e->ops->state_memory) e->ops->state_memory(e, out);
}
static inline void engine_destroy(engine *e) {
    if (e) e->ops->destroy(e);
}

/* The CPU reference engine (model/forward_cpu.c), with the default options below. */
engine *engine_cpu_create(const model *m, int n_ctx, char *err, size_t errlen);

/* How the CPU engine computes; all zero is the default. Every thread count gives the same
 * bits (threads share out whole rows and heads). The fast products (qdot.h) round the
 * activations of quantised weights to 8 bits, so they are not the reference's bits: they
 * stay within what that rounding allows of them (tests/test_qdot.c, test_golden_cpu.c). */
typedef struct cpu_engine_options {
    int n_threads;   /* 0: the physical cores */
    bool reference;  /* ops.c's plain products and attention on one thread: the judge */
    const char *isa; /* at most this instruction set for the products (qdot.h's names); NULL: the widest */
} cpu_engine_options;
engine *engine_cpu_create_opts(const model *m, int n_ctx, const cpu_engine_options *opt,
                               char *err, size_t errlen);
/* Bytes of weight matrices the CPU engine E's products have read since it was created
 * (each product's rows once, however many tokens share them): with a mixture of experts,
 * only the chosen experts' (bench: bytes per token against the dense equivalent). */
uint64_t engine_cpu_weight_bytes(const engine *e);

#endif
