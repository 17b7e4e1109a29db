/* arch.h — every architecture described once.
 *
 * An architecture is one row of a table (arch.c): the traits all its layers share (how
 * activations are normalised, which activation the feed-forward network uses, how q/k/v
 * and gate/up are stored, which extra norms, biases and caps it has) and the rules that
 * give each layer its own recipe from the file's metadata (which layers slide over a
 * window, which rope they use, whose keys they read). The tensors an architecture's file
 * holds are listed once too, by role, with their shapes and when each exists: the loader
 * reads a file through them and `llmscope synth` writes files from them.
 *
 * The loader (model.c) turns a file into one layer_desc per layer plus the model-level
 * numbers in model_hparams; the engines (CPU and Vulkan) and the logit lens read only
 * those. No engine asks which architecture it runs: adding a family is a row here, the
 * metadata rules it needs, and only the operations that are really new. */
#ifndef LLMSCOPE_ARCH_H
#define LLMSCOPE_ARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* How RoPE pairs dimensions: NORM rotates (2i, 2i+1) (llama); NEOX rotates (i, i+d/2)
 * (qwen2, qwen3, gemma, phi3); NONE for no rotation (learned positions, NoPE layers). */
typedef enum { ROPE_NONE, ROPE_NORM, ROPE_NEOX } rope_kind;

typedef enum { NORM_RMS, NORM_LAYER } norm_kind;

/* The feed-forward network's activation. GLU forms multiply it by the up projection. */
typedef enum {
    ACT_SILU,       /* silu(gate) * up (SwiGLU) */
    ACT_GELU_TANH,  /* gelu_tanh(gate) * up (GeGLU, Gemma); gelu_tanh(up) without a gate (GPT-2) */
    ACT_SWIGLU_OAI, /* gpt-oss: gate clamped above at 7, up clamped to +-7, then
                       gate * sigmoid(1.702 gate) * (up + 1) (op_swiglu_oai) */
} activation;

/* Traits: what an architecture has, as bits of arch_desc.traits. */
enum {
    AT_NORM_BIAS    = 1u << 0,  /* norms have a shift (LayerNorm with bias, GPT-2) */
    AT_ALL_BIASES   = 1u << 1,  /* every matrix of a layer has a bias (GPT-2) */
    AT_QKV_BIAS     = 1u << 2,  /* q, k and v have biases (Qwen2) */
    AT_FUSED_QKV    = 1u << 3,  /* q, k, v stored as one attn_qkv matrix, rows q | k | v */
    AT_FUSED_UP     = 1u << 4,  /* gate and up stored as one ffn_up of 2*n_ff rows, gate first (Phi-3) */
    AT_NO_GATE      = 1u << 5,  /* a plain MLP: act(up x) (GPT-2) */
    AT_QK_NORM      = 1u << 6,  /* RMSNorm of each head of q and k, with gains, before rope */
    AT_V_NORM       = 1u << 7,  /* RMSNorm of each head of v, without a gain (Gemma 4) */
    AT_SANDWICH     = 1u << 8,  /* post_attention_norm / post_ffw_norm on each sublayer's
                                   output before the residual add (Gemma 2/3/4) */
    AT_EMBED_SCALE  = 1u << 9,  /* token embeddings multiplied by sqrt(n_embd) (Gemma) */
    AT_LEARNED_POS  = 1u << 10, /* learned absolute positions, position_embd (GPT-2) */
    AT_LONGROPE     = 1u << 11, /* rope_factors_short/long chosen by context (Phi-3) */
    AT_PER_LAYER_IN = 1u << 12, /* per-layer token embeddings fed to every layer (Gemma 4 E2B/E4B) */
    AT_OUT_SCALE    = 1u << 13, /* each layer's output multiplied by a stored scalar (Gemma 4) */
    AT_KV_SHARING   = 1u << 14, /* the last layers read an earlier layer's keys and values (Gemma 4) */
    AT_ATTN_TEMP    = 1u << 15, /* queries scaled up past the original context (Llama 4, Ministral 3) */
    /* Qwen3.5's hybrid (bits kept apart from the others' so that families added in
     * parallel do not collide): */
    AT_ATTN_GATE    = 1u << 24, /* attn_q holds [q | gate] per head; the attention output is
                                   multiplied by sigmoid(gate) before attn_output */
    AT_DELTANET     = 1u << 25, /* Gated DeltaNet layers between the attention layers, which
                                   come every full_attention_interval-th layer */
    AT_FFN_NORM_POST = 1u << 26, /* the feed-forward input norm is stored as post_attention_norm */
    /* mixtures of experts and what came with them (gpt-oss, Qwen3-MoE, Qwen3.5-MoE) */
    AT_MOE          = 1u << 27, /* every layer's FFN is a mixture of experts: a router
                                   (ffn_gate_inp) and 3-D expert matrices ffn_*_exps */
    AT_MOE_BIAS     = 1u << 28, /* the router and every expert matrix have biases (gpt-oss) */
    AT_SHARED_EXPERT= 1u << 29, /* plus a shared expert, gated per token by
                                   sigmoid(ffn_gate_inp_shexp . x) (Qwen3.5-MoE) */
    AT_ATTN_SINKS   = 1u << 30, /* a learned logit per head in each softmax denominator (gpt-oss) */
    AT_O_BIAS       = 1u << 31, /* attn_output has a bias (gpt-oss) */
};

/* How a MoE layer's router turns its logits into the chosen experts and their weights. */
typedef enum {
    ROUTE_SOFTMAX,      /* softmax over every expert, the top k by probability, their
                           probabilities as weights (renormalised to sum 1 when
                           arch_desc.moe_norm): Qwen3-MoE, Qwen3.5-MoE */
    ROUTE_TOPK_SOFTMAX, /* the top k raw logits, then a softmax over those k: gpt-oss */
} moe_routing;

/* Which layers attend over a sliding window rather than the whole prefix. */
typedef enum {
    SWA_NONE,        /* none (a sliding_window key, if any, is ignored as llama.cpp does) */
    SWA_ALL,         /* every layer, when the file gives a window (Phi-3) */
    SWA_EVEN,        /* layers 0, 2, 4, ... (Gemma 2, gpt-oss) */
    SWA_PERIOD,      /* all but every swa_period-th layer: layer l slides when (l+1) % period != 0 (Gemma 3) */
    SWA_PATTERN_KEY, /* attention.sliding_window_pattern: one bool per layer (Gemma 4) */
} swa_rule;

/* The scale of q.k scores. */
typedef enum {
    QSCALE_HEAD_DIM,  /* 1/sqrt(head_dim) */
    QSCALE_ONE,       /* 1 (Gemma 4: its q/k norms fix the scale) */
    QSCALE_GEMMA,     /* 1/sqrt(head_dim), but 1/sqrt(n_embd/n_head) for the block count in
                         arch_desc.wide_scale_layers (Gemma 2 and 3 27B; GGUF has no key for
                         query_pre_attn_scalar, so llama.cpp decides by layer count) */
} qscale_rule;

/* One rope: how the pairs of each head's first DIM dimensions turn with the position.
 * Pair i turns by pos * freq_scale * base^(-2i/dim) / factors[i], blended with the
 * unscaled angle by YaRN when ext_factor is set, and cos and sin are multiplied by
 * attn_factor. */
typedef struct rope_desc {
    rope_kind kind;
    int dim;              /* dimensions rotated per head (<= head_dim, even) */
    float base;
    float freq_scale;     /* linear scaling: positions multiplied by this (1 = none) */
    float *factors;       /* dim/2 divisors of the frequencies, or NULL (owned by the model) */
    float *factors_long;  /* LongRoPE: used instead of factors when the context exceeds orig_ctx */
    int orig_ctx;         /* the context the model was trained at before scaling */
    float attn_factor;    /* multiplies cos and sin (LongRoPE's and YaRN's magnitude); 1 = none */
    float ext_factor;     /* YaRN's blend of interpolated and extrapolated angles; 0 = none */
    float beta_fast, beta_slow;
} rope_desc;

/* The divisors an engine with a context of N_CTX positions uses (LongRoPE picks the long
 * factors when the context is longer than the original one, as llama.cpp does). */
const float *rope_factors_for(const rope_desc *r, int n_ctx);
/* cos and sin of pair PAIR at position POS with divisors FACTORS (from rope_factors_for),
 * in double precision: every engine and the Vulkan rope table share these bits. */
void rope_cos_sin(const rope_desc *r, const float *factors, int pos, int pair, float *c, float *s);

#define MODEL_MAX_ROPES 2

/* What mixes tokens in a layer: softmax attention over a KV cache, or a Gated DeltaNet
 * (a linear-attention recurrence with a fixed-size state; deltanet.h). */
typedef enum { MIXER_ATTENTION, MIXER_DELTANET } mixer_kind;

/* What a layer's feed-forward sublayer is: one network, or a mixture of experts (the
 * router picks moe_hparams.n_used of n_expert per token, model/moe.c). */
typedef enum { FFN_DENSE, FFN_MOE } ffn_kind;

/* One layer's recipe, resolved by the loader from its architecture and the file. */
typedef struct layer_desc {
    mixer_kind mixer;
    int n_head, n_head_kv, head_dim;  /* this layer's attention shape; for a DeltaNet layer
                                         its value heads, key heads and key head size */
    int window;       /* a query sees at most this many keys, itself included; 0 = all */
    int kv_layer;     /* the layer whose keys and values it reads: itself, or an earlier
                         one of its kind (KV sharing) */
    int rope;         /* index into model.ropes; -1: no rope in this layer */
    float attn_scale; /* multiplier of q.k */
    float attn_softcap; /* scores become cap * tanh(score / cap) before the softmax; 0 = none */
    /* attention temperature: the scale is multiplied by 1 + temp * ln(1 + floor((pos + 1) /
     * temp_floor)) for the query at POS, so past the original context queries sharpen */
    float attn_temp;
    int attn_temp_floor;
    int n_ff;         /* this layer's feed-forward width (a MoE layer: its shared expert's,
                         or 0; the experts' is moe_hparams.n_ff_exp) */
    ffn_kind ffn;
    bool out_gate;    /* attention output times sigmoid(gate), the gate from q's rows */
    /* MIXER_DELTANET: a key head serves n_head / n_head_kv value heads, tiled (value head h
     * reads key head h % n_head_kv, layer_key_head); its values are head_dim_v wide and a
     * causal convolution of conv_kernel taps runs over q, k and v first */
    int head_dim_v;
    int conv_kernel;
} layer_desc;

/* The key (or key/value) head that query (or value) head H of layer D reads: consecutive
 * query heads share one in grouped-query attention; DeltaNet tiles its key heads. */
static inline int layer_key_head(const layer_desc *d, int h) {
    if (d->mixer == MIXER_DELTANET) return h % d->n_head_kv;
    return h / (d->n_head / d->n_head_kv);
}

/* An architecture: one row of the table in arch.c. */
typedef struct arch_desc {
    const char *name;        /* general.architecture */
    norm_kind norm;
    activation act;
    rope_kind rope;          /* how its rotated layers pair dimensions */
    unsigned traits;         /* AT_* */
    swa_rule swa;
    int swa_period;          /* SWA_PERIOD */
    float local_rope_base;   /* rope base of sliding layers when the file gives none
                                (rope.freq_base_swa); 0: the global rope */
    bool local_rope_unscaled; /* sliding layers drop the rope scaling (Gemma 3) */
    int no_rope_every;       /* every N-th layer has no rope (SmolLM3: 4); 0 = none */
    qscale_rule qscale;
    int wide_scale_layers;   /* QSCALE_GEMMA */
    moe_routing routing;     /* AT_MOE */
    bool moe_norm;           /* ROUTE_SOFTMAX: the chosen weights renormalised to sum 1 */
} arch_desc;

/* The row for NAME (NUL-terminated), or NULL. */
const arch_desc *arch_find(const char *name, size_t len);
/* The names of every architecture llmscope loads, comma-separated, into BUF (for
 * messages and --help). */
void arch_list(char *buf, size_t cap);

/* --- tensors ------------------------------------------------------------------------ */

/* Symbolic sizes of a tensor's dimensions, resolved per layer. */
typedef enum {
    DIM_1, DIM_EMBD, DIM_VOCAB, DIM_CTX_TRAIN,
    DIM_Q,        /* n_head * head_dim */
    DIM_QG,       /* attn_q's rows: DIM_Q, twice that with an output gate (q, gate per head) */
    DIM_KV,       /* n_head_kv * head_dim */
    DIM_QKV,      /* q + k + v rows */
    DIM_HEAD,     /* head_dim */
    DIM_FF,       /* n_ff */
    DIM_FF2,      /* 2 * n_ff (gate and up in one matrix) */
    DIM_ROPE_HALF,/* rope dim / 2 (global rope) */
    DIM_PLE,      /* per-layer input width */
    DIM_PLE_ALL,  /* per-layer input width * n_layer */
    DIM_N_HEAD,   /* the layer's query heads (attention sinks) */
    DIM_EXPERT,   /* experts of a MoE layer */
    DIM_FF_EXP,   /* one expert's feed-forward width */
    /* rows of the 3-D expert tensors: ne[1] is this, ne[2] the number of experts, and the
     * loader stacks the experts into one matrix of ne[1] * n_expert rows */
    DIM_FF_EXP_X, /* one expert's feed-forward width, per expert */
    DIM_EMBD_X,   /* n_embd, per expert */
    /* DeltaNet layers: q, k, v into the convolution; values; value heads; a value head;
       convolution taps */
    DIM_SSM_CONV, DIM_SSM_V, DIM_SSM_HEADS, DIM_SSM_HEAD_V, DIM_SSM_KERNEL,
} tensor_dim;

/* ne[2] of a tensor whose rows are ROWS: the experts for the stacked kinds, else 1. */
static inline bool tensor_dim_stacked(tensor_dim rows) { return rows == DIM_FF_EXP_X || rows == DIM_EMBD_X; }

/* Which layers hold a tensor (tensor_spec.layers): every one; attention layers that
 * compute their own keys and values (1, the old "own_kv"); attention layers; DeltaNet
 * layers. */
enum { TL_ALL = 0, TL_OWN_KV = 1, TL_ATTENTION = 2, TL_DELTANET = 3 };

/* When a tensor exists: in architectures with every trait of WHEN and none of UNLESS.
 * There it is required, unless OPTIONAL (read when the file has it), which architectures
 * with a trait of REQUIRED_BY override; LAYERS (TL_*) says which layers hold it. */
typedef struct tensor_spec {
    const char *name;        /* "attn_q.weight"; layer tensors get "blk.N." in front */
    size_t field;            /* offsetof the weight / float* in layer_weights or model */
    bool matrix;             /* a weight (matrix, any supported type), else an f32 vector */
    tensor_dim cols, rows;   /* ne[0], ne[1] (rows DIM_1 for vectors) */
    unsigned when, unless;   /* AT_* */
    bool optional;
    unsigned required_by;    /* AT_*: optional tensors these architectures must have */
    unsigned char layers;    /* TL_*: false (TL_ALL) and true (TL_OWN_KV) read as before */
} tensor_spec;

extern const tensor_spec ARCH_MODEL_TENSORS[];
extern const size_t ARCH_N_MODEL_TENSORS;
extern const tensor_spec ARCH_LAYER_TENSORS[];
extern const size_t ARCH_N_LAYER_TENSORS;

/* True when SPEC exists in a file of architecture A (before LAYERS); *REQUIRED says
 * whether the file must have it. */
static inline bool tensor_spec_applies(const tensor_spec *s, const arch_desc *a, bool *required) {
    *required = !s->optional || (a->traits & s->required_by);
    return (a->traits & s->when) == s->when && !(a->traits & s->unless);
}

/* True when layer L (of recipe D, whose keys come from layer KV_LAYER) holds SPEC's
 * tensor, by SPEC's LAYERS. */
static inline bool tensor_spec_in_layer(const tensor_spec *s, const layer_desc *d, int l) {
    switch (s->layers) {
    case TL_OWN_KV: return d->mixer == MIXER_ATTENTION && d->kv_layer == l;
    case TL_ATTENTION: return d->mixer == MIXER_ATTENTION;
    case TL_DELTANET: return d->mixer == MIXER_DELTANET;
    }
    return true;
}

#endif
