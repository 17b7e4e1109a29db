/* model.h — a loaded model: hyper-parameters and the tensor map of one architecture.
 *
 * model_load() opens a GGUF file, finds its architecture's description (arch.h), reads
 * the hyper-parameters and resolves each layer's recipe, finds every tensor the forward
 * pass needs and checks its shape and type, so that engines can trust what they are given. Matrices stay in the file's storage type (memory-mapped);
 * vectors (norm weights, biases) are converted to f32 at load time. */
#ifndef LLMSCOPE_MODEL_H
#define LLMSCOPE_MODEL_H

#include "arch.h"
#include "gguf.h"

#include <stdbool.h>
#include <stdint.h>

/* A matrix in storage form: ROWS rows of COLS elements each (GGUF ne[0] = cols).
 * y = W x computes y[r] = dot(row r, x). data == NULL means "absent". */
typedef struct weight {
    const char *name;     /* NUL-terminated copy owned by the model */
    uint32_t type;        /* enum ggml_type */
    int64_t cols, rows;
    const void *data;
    uint64_t row_bytes;   /* bytes per row */
} weight;

/* One layer's tensors (which exist follows from its architecture: arch.c's table).
 * Vectors are f32 copies, NULL when absent; matrices stay in the file's storage. */
typedef struct layer_weights {
    float *attn_norm, *attn_norm_b, *ffn_norm, *ffn_norm_b;
    float *bq, *bk, *bv;  /* q/k/v biases: q_dim, kv_dim, kv_dim */
    float *bqkv;          /* fused bias, q_dim + 2 * kv_dim */
    float *bo, *ffn_up_b, *ffn_down_b;
    float *q_norm, *k_norm; /* per-head gains, head_dim */
    float *post_attn_norm, *post_ffw_norm; /* sandwich norms */
    weight wq, wk, wv;    /* separate projections */
    weight wqkv;          /* fused: rows q | k | v */
    weight wo;
    weight ffn_gate, ffn_up, ffn_down; /* gate absent without a GLU; with AT_FUSED_UP ffn_up
                                          holds gate rows then up rows */
    /* per-layer inputs (Gemma 4): gelu(inp_gate x) * input -> proj -> post_norm, added */
    weight inp_gate, proj;
    float *post_norm;
    float *out_scale;     /* [1]: the layer's output is multiplied by it */
    /* attention sinks (AT_ATTN_SINKS): one logit per query head */
    float *attn_sinks;
    /* a mixture of experts (AT_MOE; model/moe.h): the router's n_expert rows, then every
     * expert's gate, up and down matrices stacked (expert e's rows follow expert e-1's,
     * moe_expert() gives one), their biases [n_expert][rows] (AT_MOE_BIAS), and a shared
     * expert gated by sigmoid(shexp_gate . x) (AT_SHARED_EXPERT) */
    weight router;
    float *router_b;
    weight gate_exps, up_exps, down_exps;
    float *gate_exps_b, *up_exps_b, *down_exps_b;
    float *shexp_gate;
    weight gate_shexp, up_shexp, down_shexp;
    /* Gated DeltaNet layers (deltanet.h): ssm_qkv rows q | k | v (key heads, key heads,
     * value heads), ssm_z the output gate, ssm_conv [conv rows][taps], ssm_beta/ssm_alpha
     * one row per value head; vectors: ssm_dt and ssm_a per value head, ssm_norm a value
     * head's gain */
    weight ssm_qkv, ssm_z, ssm_conv, ssm_beta, ssm_alpha, ssm_out;
    float *ssm_dt, *ssm_a, *ssm_norm;
} layer_weights;

/* The mixture of experts every MoE layer shares (AT_MOE). */
typedef struct moe_hparams {
    int n_expert, n_used; /* experts, and how many the router picks per token */
    int n_ff_exp;         /* one expert's feed-forward width */
    moe_routing routing;
    bool norm;            /* ROUTE_SOFTMAX: the chosen weights renormalised */
} moe_hparams;

/* Numbers every layer shares; the per-layer ones are in model.desc. */
typedef struct model_hparams {
    const arch_desc *arch;
    char arch_name[32];
    int n_vocab, n_embd, n_layer, n_ctx_train;
    int n_head;           /* heads of the widest layer (step records keep [layer][head];
                             a layer's own count is desc[l].n_head, the rest of its rows
                             are zero): query heads, or a DeltaNet layer's value heads */
    int n_head_kv;        /* key/value heads (the largest over the layers) */
    int head_dim;         /* the largest head_dim over the layers */
    int n_ff;             /* the largest feed-forward width over the layers */
    int n_embd_per_layer; /* per-layer input width (AT_PER_LAYER_IN), else 0 */
    int n_layer_nextn;    /* multi-token-prediction blocks the file appends after the
                             n_layer layers (block_count counts them): not loaded, not run */
    int n_deltanet;       /* layers whose mixer is a Gated DeltaNet */
    norm_kind norm;
    float norm_eps;
    activation act;
    bool glu;             /* gated feed-forward (act(gate) * up) */
    float embed_scale;    /* token embeddings are multiplied by this (1: none) */
    float final_softcap;  /* logits become cap * tanh(logit / cap); 0 = none */
    bool tied_output;     /* output head reuses token_embd */
    moe_hparams moe;      /* n_expert 0: no MoE layers */
} model_hparams;

typedef struct model {
    gguf_file file;
    model_hparams hp;
    char *name;           /* general.name or the file name */
    weight token_embd;    /* rows = n_vocab, cols = n_embd */
    weight position_embd; /* learned positions: rows = n_ctx_train */
    weight output;        /* rows = n_vocab; == token_embd when tied */
    float *output_norm, *output_norm_b;
    rope_desc ropes[MODEL_MAX_ROPES]; /* [0] the global layers', [1] the sliding layers' when
                                         it differs (layer_desc.rope picks one) */
    int n_ropes;
    weight per_layer_embd;  /* AT_PER_LAYER_IN: rows = n_vocab, cols = n_embd_per_layer * n_layer */
    weight per_layer_proj;  /* rows = n_embd_per_layer * n_layer, cols = n_embd */
    float *per_layer_proj_norm; /* n_embd_per_layer */
    layer_desc *desc;     /* [n_layer]: each layer's recipe */
    layer_weights *layers;
} model;

/* Loads PATH. On failure fills ERR with one line naming the file and the problem
 * (unsupported architecture or tensor type named explicitly) and returns -1. */
int model_load(model *m, const char *path, char *err, size_t errlen);
/* Same over an already-open file; takes ownership of *F (closed by model_free). */
int model_load_gguf(model *m, gguf_file *f, char *err, size_t errlen);
void model_free(model *m);

/* The tensors a file with the metadata of F (architecture, hyper-parameters, and its
 * `{arch}.vocab_size`) holds, as its architecture's description lists them: FN is called
 * for each, in order, with its name, spec, layer (-1: model-level) and shape; OPTIONAL
 * ones are offered too (spec->optional), for the caller to write or leave out. For
 * `llmscope synth`, which so writes exactly what the loader reads. Returns 0, or -1 with
 * ERR filled when the metadata is refused. */
typedef void (*model_tensor_fn)(void *ctx, const char *name, const tensor_spec *spec, int layer, int64_t cols,
                                int64_t rows);
int model_plan_tensors(const gguf_file *f, model_tensor_fn fn, void *ctx, char *err, size_t errlen);

/* Dequantises row R of W into OUT (W->cols floats). */
void weight_row(const weight *w, int64_t r, float *out);


/* What in an open GGUF file llmscope does not implement yet, as one line in BUF ("gemma2
 * not implemented yet", "type iq4_nl not implemented yet"), or NULL when its
 * architecture and every tensor type are implemented. A file that names an architecture
 * or a ggml type llmscope knows of but has not built gets this; a file that is merely
 * broken does not (model_load reports that). Tests use it to skip, by name, the shared
 * files of families still to come. */
const char *model_file_unimplemented(const gguf_file *f, char *buf, size_t cap);

#endif
