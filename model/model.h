/* model.h — a loaded model: hyper-parameters and the tensor map of one architecture.
 *
 * model_load() opens a GGUF file, reads the hyper-parameters of its architecture, finds
 * every tensor the forward pass needs and checks its shape and type, so that engines can
 * trust what they are given. Matrices stay in the file's storage type (memory-mapped);
 * vectors (norm weights, biases) are converted to f32 at load time. */
#ifndef LLMSCOPE_MODEL_H
#define LLMSCOPE_MODEL_H

#include "gguf.h"

#include <stdbool.h>
#include <stdint.h>

typedef enum { ARCH_LLAMA, ARCH_QWEN2, ARCH_QWEN3, ARCH_GPT2 } model_arch;

/* How RoPE pairs dimensions: NORM rotates (2i, 2i+1) (llama); NEOX rotates (i, i+d/2)
 * (qwen2, qwen3); NONE for learned absolute positions (gpt2). */
typedef enum { ROPE_NONE, ROPE_NORM, ROPE_NEOX } rope_kind;

/* A matrix in storage form: ROWS rows of COLS elements each (GGUF ne[0] = cols).
 * y = W x computes y[r] = dot(row r, x). data == NULL means "absent". */
typedef struct weight {
    const char *name;     /* NUL-terminated copy owned by the model */
    uint32_t type;        /* enum ggml_type */
    int64_t cols, rows;
    const void *data;
    uint64_t row_bytes;   /* bytes per row */
} weight;

typedef struct layer_weights {
    /* vectors, f32, length n_embd unless noted; NULL when the architecture has none */
    float *attn_norm, *attn_norm_b, *ffn_norm, *ffn_norm_b;
    float *bq, *bk, *bv;  /* qwen2 biases: n_head*head_dim, n_head_kv*head_dim (x2) */
    float *bqkv;          /* gpt2 fused bias, 3*n_embd */
    float *bo, *ffn_up_b, *ffn_down_b; /* gpt2 */
    float *q_norm, *k_norm; /* qwen3, length head_dim */
    /* matrices */
    weight wq, wk, wv;    /* separate projections (llama, qwen2, qwen3) */
    weight wqkv;          /* fused (gpt2): rows = 3*n_embd, order q, k, v */
    weight wo;
    weight ffn_gate, ffn_up, ffn_down; /* gate absent for gpt2 */
} layer_weights;

typedef struct model_hparams {
    model_arch arch;
    char arch_name[32];
    int n_vocab, n_embd, n_layer, n_head, n_head_kv, head_dim, n_ff, n_ctx_train;
    int rope_dim;         /* dimensions rotated per head (<= head_dim) */
    rope_kind rope;
    float rope_base;
    float rope_freq_scale; /* linear scaling: positions multiplied by this (1 = none) */
    float norm_eps;
    bool layer_norm;      /* LayerNorm with bias (gpt2) instead of RMSNorm */
    bool gelu;            /* GELU MLP (gpt2) instead of SwiGLU */
    bool tied_output;     /* output head reuses token_embd */
} model_hparams;

typedef struct model {
    gguf_file file;
    model_hparams hp;
    char *name;           /* general.name or the file name */
    weight token_embd;    /* rows = n_vocab, cols = n_embd */
    weight position_embd; /* gpt2: rows = n_ctx_train */
    weight output;        /* rows = n_vocab; == token_embd when tied */
    float *output_norm, *output_norm_b;
    float *rope_freqs;    /* Llama 3 frequency factors, rope_dim/2 entries, or NULL */
    layer_weights *layers;
} model;

/* Loads PATH. On failure fills ERR with one line naming the file and the problem
 * (unsupported architecture or tensor type named explicitly) and returns -1. */
int model_load(model *m, const char *path, char *err, size_t errlen);
/* Same over an already-open file; takes ownership of *F (closed by model_free). */
int model_load_gguf(model *m, gguf_file *f, char *err, size_t errlen);
void model_free(model *m);

/* Dequantises row R of W into OUT (W->cols floats). */
void weight_row(const weight *w, int64_t r, float *out);

const char *model_arch_name(model_arch a);

/* What in an open GGUF file llmscope does not implement yet, as one line in BUF ("gemma2
 * not implemented yet", "type iq4_nl not implemented yet"), or NULL when its
 * architecture and every tensor type are implemented. A file that names an architecture
 * or a ggml type llmscope knows of but has not built gets this; a file that is merely
 * broken does not (model_load reports that). Tests use it to skip, by name, the shared
 * files of families still to come. */
const char *model_file_unimplemented(const gguf_file *f, char *buf, size_t cap);

#endif
