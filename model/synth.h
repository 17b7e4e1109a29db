/* synth.h — random-weight GGUF files with the exact shapes of real models.
 *
 * Weights cannot be downloaded on every machine, but speed depends only on shapes and
 * storage types: `llmscope synth` writes a model that loads and runs like the real one
 * (same tensors, types and metadata, a byte-level vocabulary of the right size and a
 * ChatML template), filled with seeded random numbers. */
#ifndef LLMSCOPE_SYNTH_H
#define LLMSCOPE_SYNTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A model's shape: the numbers its config.json gives, for any architecture llmscope
 * loads. The tensors follow from the architecture's description (arch.c); zero fields are
 * left out of the file (the loader's defaults apply). */
typedef struct synth_shape {
    const char *name, *arch;
    int n_embd, n_layer, n_head, n_head_kv;
    int head_dim;             /* 0: n_embd / n_head */
    int n_ff;
    const int *n_ff_layers;   /* per layer (Gemma 4), or NULL */
    int n_vocab, n_ctx;
    float rope_base, eps;
    int rope_dim;             /* 0: head_dim */
    bool tied;
    bool rope_factors;        /* a rope_freqs tensor (Llama 3, Gemma 4), all ones */
    int window;               /* attention.sliding_window */
    const bool *window_pattern; /* attention.sliding_window_pattern (Gemma 4) */
    int head_dim_swa;         /* sliding layers' head size and rope dims (Gemma 4) */
    float rope_base_swa;
    int shared_kv;            /* attention.shared_kv_layers */
    int per_layer;            /* embedding_length_per_layer_input */
    float attn_softcap, final_softcap;
    const char *rope_scaling; /* "linear", "yarn", or NULL */
    float rope_factor, rope_attn_factor;
    int rope_orig_ctx;
    float attn_temp;          /* attention.temperature_scale */
    int n_expert, n_expert_used, n_ff_exp; /* a mixture of experts (expert_count, ...) */
    int n_ff_shexp;           /* its shared expert's width (expert_shared_feed_forward_length) */
    /* Gated DeltaNet hybrids (Qwen3.5): every full_attn_interval-th layer attention, the
     * rest DeltaNet layers of ssm_groups key heads and ssm_dt_rank value heads of
     * ssm_state, ssm_inner values in all, a causal convolution of ssm_conv taps */
    int full_attn_interval, ssm_groups, ssm_dt_rank, ssm_state, ssm_inner, ssm_conv;
} synth_shape;

/* The named shapes: smollm2-135m, qwen2.5-0.5b, llama-3.2-1b, llama-3-8b, gemma3-1b, ...
 * NAME i, or NULL past the last. */
const char *synth_shape_name(size_t i);
const synth_shape *synth_find_shape(const char *name);
/* Type names, NULL-terminated: f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, q4_k_m. */
const char *const *synth_types(void);

/* Writes PATH. PROGRESS (may be NULL) is called after each tensor with done/total bytes.
 * Returns 0, or -1 with ERR filled (unknown shape or type, I/O error). */
int synth_write(const char *shape, const char *type, const char *path, uint64_t seed,
                void (*progress)(uint64_t done, uint64_t total, void *ctx), void *ctx,
                char *err, size_t errlen);
/* The same for a shape given whole (tests write tiny models of every family). */
int synth_write_shape(const synth_shape *s, const char *type, const char *path, uint64_t seed,
                      void (*progress)(uint64_t done, uint64_t total, void *ctx), void *ctx,
                      char *err, size_t errlen);

#endif
