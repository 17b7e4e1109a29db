/* synth.c — see synth.h. */
#include "synth.h"
#include "atomic_file.h"
#include "gguf.h"
#include "model.h"
#include "gguf_writer.h"
#include "quant.h"
#include "quantize.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Hyper-parameters as published in each model's config.json (the Gemma 4, Ministral 3 and
 * Qwen3-VL rows from their model cards as remembered, not checked against the files, which
 * are not available offline: their speed is what matters, and it depends on the shapes). */
static const bool GEMMA4_E2B_PATTERN[35] = {
    1, 1, 1, 1, 0, 1, 1, 1, 1, 0, 1, 1, 1, 1, 0, 1, 1, 1, 1, 0, 1, 1, 1, 1, 0, 1, 1, 1, 1, 0, 1, 1, 1, 1, 0};
static const int GEMMA4_E2B_FF[35] = {
    6144, 6144, 6144, 6144, 6144, 6144, 6144, 6144, 6144, 6144, 6144, 6144, 6144, 6144, 6144,
    12288, 12288, 12288, 12288, 12288, 12288, 12288, 12288, 12288, 12288, 12288, 12288, 12288, 12288, 12288,
    12288, 12288, 12288, 12288, 12288};
static const synth_shape SHAPES[] = {
    {.name = "smollm2-135m", .arch = "llama", .n_embd = 576, .n_layer = 30, .n_head = 9, .n_head_kv = 3, .n_ff = 1536,
     .n_vocab = 49152, .n_ctx = 8192, .rope_base = 100000.0f, .eps = 1e-5f, .tied = true},
    {.name = "smollm2-360m", .arch = "llama", .n_embd = 960, .n_layer = 32, .n_head = 15, .n_head_kv = 5, .n_ff = 2560,
     .n_vocab = 49152, .n_ctx = 8192, .rope_base = 100000.0f, .eps = 1e-5f, .tied = true},
    {.name = "qwen2.5-0.5b", .arch = "qwen2", .n_embd = 896, .n_layer = 24, .n_head = 14, .n_head_kv = 2, .n_ff = 4864,
     .n_vocab = 151936, .n_ctx = 32768, .rope_base = 1000000.0f, .eps = 1e-6f, .tied = true},
    {.name = "llama-3.2-1b", .arch = "llama", .n_embd = 2048, .n_layer = 16, .n_head = 32, .n_head_kv = 8, .n_ff = 8192,
     .n_vocab = 128256, .n_ctx = 131072, .rope_base = 500000.0f, .eps = 1e-5f, .tied = true, .rope_factors = true},
    {.name = "llama-3-8b", .arch = "llama", .n_embd = 4096, .n_layer = 32, .n_head = 32, .n_head_kv = 8, .n_ff = 14336,
     .n_vocab = 128256, .n_ctx = 8192, .rope_base = 500000.0f, .eps = 1e-5f},
    {.name = "gemma3-1b", .arch = "gemma3", .n_embd = 1152, .n_layer = 26, .n_head = 4, .n_head_kv = 1, .head_dim = 256,
     .n_ff = 6912, .n_vocab = 262144, .n_ctx = 32768, .rope_base = 1000000.0f, .eps = 1e-6f, .tied = true,
     .window = 512},
    {.name = "gemma4-e2b", .arch = "gemma4", .n_embd = 1536, .n_layer = 35, .n_head = 8, .n_head_kv = 1, .head_dim = 512,
     .head_dim_swa = 256, .n_ff_layers = GEMMA4_E2B_FF, .n_vocab = 262144, .n_ctx = 131072, .rope_base = 1000000.0f,
     .rope_base_swa = 10000.0f, .eps = 1e-6f, .tied = true, .window = 512, .window_pattern = GEMMA4_E2B_PATTERN,
     .shared_kv = 20, .per_layer = 256, .final_softcap = 30.0f, .rope_factors = true},
    {.name = "phi4-mini", .arch = "phi3", .n_embd = 3072, .n_layer = 32, .n_head = 24, .n_head_kv = 8, .n_ff = 8192,
     .n_vocab = 200064, .n_ctx = 131072, .rope_base = 10000.0f, .rope_dim = 96, .eps = 1e-5f, .tied = true,
     .rope_orig_ctx = 4096, .rope_attn_factor = 1.1902f},
    {.name = "smollm3-3b", .arch = "smollm3", .n_embd = 2048, .n_layer = 36, .n_head = 16, .n_head_kv = 4, .n_ff = 11008,
     .n_vocab = 128256, .n_ctx = 65536, .rope_base = 5000000.0f, .eps = 1e-6f, .tied = true},
    {.name = "ministral3-3b", .arch = "mistral3", .n_embd = 3072, .n_layer = 26, .n_head = 32, .n_head_kv = 8,
     .head_dim = 128, .n_ff = 9216, .n_vocab = 131072, .n_ctx = 262144, .rope_base = 1000000.0f, .eps = 1e-5f,
     .tied = true, .rope_scaling = "yarn", .rope_factor = 16.0f, .rope_orig_ctx = 16384, .attn_temp = 0.1f},
    /* a mixture of experts (Qwen3-30B-A3B), and a tiny one for the tests: small enough to
     * write in milliseconds, with routing that varies from token to token */
    {.name = "qwen3-30b-a3b", .arch = "qwen3moe", .n_embd = 2048, .n_layer = 48, .n_head = 32, .n_head_kv = 4,
     .head_dim = 128, .n_ff = 6144, .n_vocab = 151936, .n_ctx = 40960, .rope_base = 1000000.0f, .eps = 1e-6f,
     .n_expert = 128, .n_expert_used = 8, .n_ff_exp = 768},
    {.name = "qwen3moe-tiny", .arch = "qwen3moe", .n_embd = 64, .n_layer = 3, .n_head = 4, .n_head_kv = 2,
     .head_dim = 16, .n_ff = 96, .n_vocab = 512, .n_ctx = 512, .rope_base = 1000000.0f, .eps = 1e-6f,
     .n_expert = 8, .n_expert_used = 3, .n_ff_exp = 32},
    /* Qwen3.5's hybrids, from the published config.json as remembered: hidden size,
     * layers, heads and rope as published; the feed-forward widths (3584, 6144) are from
     * memory and may be off; the vocabulary (248320) and the DeltaNet heads (16 key and 16
     * value heads of 128) are the family's values, not checked against these files. Real
     * files append a multi-token-prediction block that loaders skip; these do not. */
    {.name = "qwen3.5-0.8b", .arch = "qwen35", .n_embd = 1024, .n_layer = 24, .n_head = 8, .n_head_kv = 2,
     .head_dim = 256, .rope_dim = 64, .n_ff = 3584, .n_vocab = 248320, .n_ctx = 262144, .rope_base = 1e7f,
     .eps = 1e-6f, .tied = true, .full_attn_interval = 4, .ssm_groups = 16, .ssm_dt_rank = 16, .ssm_state = 128,
     .ssm_inner = 2048, .ssm_conv = 4},
    {.name = "qwen3.5-2b", .arch = "qwen35", .n_embd = 2048, .n_layer = 24, .n_head = 8, .n_head_kv = 2,
     .head_dim = 256, .rope_dim = 64, .n_ff = 6144, .n_vocab = 248320, .n_ctx = 262144, .rope_base = 1e7f,
     .eps = 1e-6f, .tied = true, .full_attn_interval = 4, .ssm_groups = 16, .ssm_dt_rank = 16, .ssm_state = 128,
     .ssm_inner = 2048, .ssm_conv = 4},
    {.name = "qwen3-vl-2b", .arch = "qwen3vl", .n_embd = 2048, .n_layer = 28, .n_head = 16, .n_head_kv = 8,
     .head_dim = 128, .n_ff = 6144, .n_vocab = 151936, .n_ctx = 262144, .rope_base = 5000000.0f, .eps = 1e-6f,
     .tied = true},
};
#define N_SHAPES (sizeof SHAPES / sizeof SHAPES[0])
static const char *const TYPE_NAMES[] = {"f32", "f16", "bf16", "q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "q4_k_m", "iq4_nl", "iq4_xs", NULL};

const char *synth_shape_name(size_t i) { return i < N_SHAPES ? SHAPES[i].name : NULL; }

const synth_shape *synth_find_shape(const char *name) {
    for (size_t i = 0; i < N_SHAPES; i++)
        if (!strcmp(SHAPES[i].name, name)) return &SHAPES[i];
    return NULL;
}

const char *const *synth_types(void) { return TYPE_NAMES; }

/* xorshift64* — seeded, fast, good enough for weights. */
static uint64_t next_u64(uint64_t *s) {
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1DULL;
}
static float next_uniform(uint64_t *s) { return (float)(next_u64(s) >> 40) / (float)(1 << 24) * 2.0f - 1.0f; }

static uint32_t matrix_type_for(const char *ftype, const char *role, int layer, const synth_shape *s);

/* The storage type of one matrix for a file type. q4_k_m follows llama.cpp's mix: Q6_K
 * for the output head and for attn_v / ffn_down in the first and last eighth of the
 * layers and every third layer between; Q4_K elsewhere. iq4_nl and iq4_xs follow its mix
 * for files made without an importance matrix: Q6_K for the output head, Q5_K for attn_v
 * where four or more query heads share each KV head and for ffn_down in the first eighth
 * of the layers; the type itself elsewhere. */
static uint32_t matrix_type(const char *ftype, const char *role, int layer, const synth_shape *s, int64_t cols) {
    /* K-quants and IQ4_XS need rows that are a multiple of 256. For other rows (SmolLM2's
     * 576-wide and Qwen2.5-0.5B's 896-wide matrices, for two) llama.cpp's quantizer falls
     * back to a 32-block type of about as many bits: Q5_0 where Q4_K was wanted, Q5_1 for
     * Q5_K, Q8_0 for Q6_K, IQ4_NL for IQ4_XS. Real files of those models are made that
     * way, so synthetic ones are too. */
    uint32_t t = matrix_type_for(ftype, role, layer, s);
    if (cols % QK_K) {
        if (t == GGML_TYPE_Q4_K) t = GGML_TYPE_Q5_0;
        else if (t == GGML_TYPE_Q5_K) t = GGML_TYPE_Q5_1;
        else if (t == GGML_TYPE_Q6_K) t = GGML_TYPE_Q8_0;
        else if (t == GGML_TYPE_IQ4_XS) t = GGML_TYPE_IQ4_NL;
    }
    return t;
}

static uint32_t matrix_type_for(const char *ftype, const char *role, int layer, const synth_shape *s) {
    const int n_layer = s->n_layer;
    if (!strcmp(ftype, "f32")) return GGML_TYPE_F32;
    if (!strcmp(ftype, "f16")) return GGML_TYPE_F16;
    if (!strcmp(ftype, "bf16")) return GGML_TYPE_BF16;
    if (!strcmp(ftype, "q8_0")) return GGML_TYPE_Q8_0;
    /* the 32-block types: every matrix in that type but the output head (Q6_K) */
    if (!strcmp(ftype, "q4_0")) return !strcmp(role, "output") ? GGML_TYPE_Q6_K : GGML_TYPE_Q4_0;
    if (!strcmp(ftype, "q4_1")) return !strcmp(role, "output") ? GGML_TYPE_Q6_K : GGML_TYPE_Q4_1;
    if (!strcmp(ftype, "q5_0")) return !strcmp(role, "output") ? GGML_TYPE_Q6_K : GGML_TYPE_Q5_0;
    if (!strcmp(ftype, "q5_1")) return !strcmp(role, "output") ? GGML_TYPE_Q6_K : GGML_TYPE_Q5_1;
    if (!strcmp(ftype, "iq4_nl") || !strcmp(ftype, "iq4_xs")) {
        if (!strcmp(role, "output")) return GGML_TYPE_Q6_K;
        if ((!strcmp(role, "attn_v") && s->n_head >= 4 * s->n_head_kv) ||
            (!strcmp(role, "ffn_down") && layer < n_layer / 8))
            return GGML_TYPE_Q5_K;
        return !strcmp(ftype, "iq4_nl") ? GGML_TYPE_IQ4_NL : GGML_TYPE_IQ4_XS;
    }
    /* q4_k_m */
    if (!strcmp(role, "output")) return GGML_TYPE_Q6_K;
    if (!strcmp(role, "attn_v") || !strcmp(role, "ffn_down")) {
        bool more = layer < n_layer / 8 || layer >= 7 * n_layer / 8 || (layer - n_layer / 8) % 3 == 2;
        if (more) return GGML_TYPE_Q6_K;
    }
    return GGML_TYPE_Q4_K;
}

static uint32_t file_type_id(const char *t) {
    /* general.file_type values (llama.cpp's LLAMA_FTYPE_*) */
    if (!strcmp(t, "f32")) return 0;
    if (!strcmp(t, "f16")) return 1;
    if (!strcmp(t, "q4_0")) return 2;
    if (!strcmp(t, "q4_1")) return 3;
    if (!strcmp(t, "q5_0")) return 8;
    if (!strcmp(t, "q5_1")) return 9;
    if (!strcmp(t, "q8_0")) return 7;
    if (!strcmp(t, "q4_k_m")) return 15;
    if (!strcmp(t, "iq4_nl")) return 25;
    if (!strcmp(t, "iq4_xs")) return 30;
    return 32; /* bf16 */
}


/* GPT-2's byte-to-text mapping: printable bytes stand for themselves, the rest are moved
 * to U+0100 onwards, so every byte has a visible one-character token. */
static void byte_token(int b, char out[8]) {
    int cp;
    if ((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255)) {
        cp = b;
    } else {
        int n = 0;
        for (int x = 0; x < b; x++)
            if (!((x >= 33 && x <= 126) || (x >= 161 && x <= 172) || (x >= 174 && x <= 255))) n++;
        cp = 256 + n;
    }
    if (cp < 0x80) { out[0] = (char)cp; out[1] = 0; }
    else { out[0] = (char)(0xC0 | (cp >> 6)); out[1] = (char)(0x80 | (cp & 0x3F)); out[2] = 0; }
}

/* --- metadata ------------------------------------------------------------------------ */

static void write_tokenizer(gguf_writer *w, int n_vocab, char *text, const char **tokens, int32_t *types) {
    /* Vocabulary: 256 byte tokens, three ChatML control tokens, then filler tokens. */
    for (int i = 0; i < n_vocab; i++) {
        char *t = text + (size_t)i * 24;
        types[i] = 1; /* normal */
        if (i < 256) byte_token(i, t);
        else if (i == 256) { strcpy(t, "<|endoftext|>"); types[i] = 3; }
        else if (i == 257) { strcpy(t, "<|im_start|>"); types[i] = 3; }
        else if (i == 258) { strcpy(t, "<|im_end|>"); types[i] = 3; }
        else snprintf(t, 24, "[synth%d]", i);
        tokens[i] = t;
    }
    gguf_writer_add_str(w, "tokenizer.ggml.model", "gpt2");
    gguf_writer_add_str(w, "tokenizer.ggml.pre", "default");
    gguf_writer_add_str_array(w, "tokenizer.ggml.tokens", tokens, (size_t)n_vocab);
    gguf_writer_add_i32_array(w, "tokenizer.ggml.token_type", types, (size_t)n_vocab);
    gguf_writer_add_str_array(w, "tokenizer.ggml.merges", NULL, 0);
    gguf_writer_add_u32(w, "tokenizer.ggml.bos_token_id", 257);
    gguf_writer_add_u32(w, "tokenizer.ggml.eos_token_id", 258);
    gguf_writer_add_bool(w, "tokenizer.ggml.add_bos_token", false);
    gguf_writer_add_str(w, "tokenizer.chat_template",
                        "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + "
                        "message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if "
                        "add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}");
}

/* The keys model_meta.c reads, from the shape: every number a real file of its family has. */
static void write_hparams(gguf_writer *w, const synth_shape *s, const char *ftype) {
    char key[128], name[96];
    const int head_dim = s->head_dim ? s->head_dim : s->n_embd / s->n_head;
#define KEY(suffix) (snprintf(key, sizeof key, "%s." suffix, s->arch), key)
    gguf_writer_add_str(w, "general.architecture", s->arch);
    snprintf(name, sizeof name, "synth-%s-%s", s->name, ftype);
    gguf_writer_add_str(w, "general.name", name);
    gguf_writer_add_u32(w, "general.file_type", file_type_id(ftype));
    gguf_writer_add_u32(w, "general.quantization_version", 2);
    gguf_writer_add_u32(w, KEY("context_length"), (uint32_t)s->n_ctx);
    gguf_writer_add_u32(w, KEY("embedding_length"), (uint32_t)s->n_embd);
    gguf_writer_add_u32(w, KEY("block_count"), (uint32_t)s->n_layer);
    if (s->n_ff_layers) {
        int32_t ff[256];
        for (int i = 0; i < s->n_layer && i < 256; i++) ff[i] = s->n_ff_layers[i];
        gguf_writer_add_i32_array(w, KEY("feed_forward_length"), ff, (size_t)s->n_layer);
    } else {
        gguf_writer_add_u32(w, KEY("feed_forward_length"), (uint32_t)s->n_ff);
    }
    gguf_writer_add_u32(w, KEY("attention.head_count"), (uint32_t)s->n_head);
    gguf_writer_add_u32(w, KEY("attention.head_count_kv"), (uint32_t)s->n_head_kv);
    if (s->head_dim) {
        gguf_writer_add_u32(w, KEY("attention.key_length"), (uint32_t)s->head_dim);
        gguf_writer_add_u32(w, KEY("attention.value_length"), (uint32_t)s->head_dim);
    }
    if (s->head_dim_swa) {
        gguf_writer_add_u32(w, KEY("attention.key_length_swa"), (uint32_t)s->head_dim_swa);
        gguf_writer_add_u32(w, KEY("attention.value_length_swa"), (uint32_t)s->head_dim_swa);
        gguf_writer_add_u32(w, KEY("rope.dimension_count_swa"), (uint32_t)s->head_dim_swa);
    }
    gguf_writer_add_f32(w, KEY("attention.layer_norm_rms_epsilon"), s->eps);
    gguf_writer_add_f32(w, KEY("rope.freq_base"), s->rope_base);
    if (s->rope_base_swa) gguf_writer_add_f32(w, KEY("rope.freq_base_swa"), s->rope_base_swa);
    gguf_writer_add_u32(w, KEY("rope.dimension_count"), (uint32_t)(s->rope_dim ? s->rope_dim : head_dim));
    if (s->rope_scaling) {
        gguf_writer_add_str(w, KEY("rope.scaling.type"), s->rope_scaling);
        gguf_writer_add_f32(w, KEY("rope.scaling.factor"), s->rope_factor);
    }
    if (s->rope_orig_ctx) gguf_writer_add_u32(w, KEY("rope.scaling.original_context_length"), (uint32_t)s->rope_orig_ctx);
    if (s->rope_attn_factor) gguf_writer_add_f32(w, KEY("rope.scaling.attn_factor"), s->rope_attn_factor);
    if (s->window) gguf_writer_add_u32(w, KEY("attention.sliding_window"), (uint32_t)s->window);
    if (s->window_pattern) gguf_writer_add_bool_array(w, KEY("attention.sliding_window_pattern"), s->window_pattern,
                                                      (size_t)s->n_layer);
    if (s->shared_kv) gguf_writer_add_u32(w, KEY("attention.shared_kv_layers"), (uint32_t)s->shared_kv);
    if (s->per_layer) gguf_writer_add_u32(w, KEY("embedding_length_per_layer_input"), (uint32_t)s->per_layer);
    if (s->attn_softcap) gguf_writer_add_f32(w, KEY("attn_logit_softcapping"), s->attn_softcap);
    if (s->final_softcap) gguf_writer_add_f32(w, KEY("final_logit_softcapping"), s->final_softcap);
    if (s->attn_temp) gguf_writer_add_f32(w, KEY("attention.temperature_scale"), s->attn_temp);
    if (s->n_expert) {
        gguf_writer_add_u32(w, KEY("expert_count"), (uint32_t)s->n_expert);
        gguf_writer_add_u32(w, KEY("expert_used_count"), (uint32_t)s->n_expert_used);
        gguf_writer_add_u32(w, KEY("expert_feed_forward_length"), (uint32_t)s->n_ff_exp);
    }
    if (s->n_ff_shexp) gguf_writer_add_u32(w, KEY("expert_shared_feed_forward_length"), (uint32_t)s->n_ff_shexp);
    if (s->ssm_inner) {
        gguf_writer_add_u32(w, KEY("full_attention_interval"), (uint32_t)s->full_attn_interval);
        gguf_writer_add_u32(w, KEY("ssm.conv_kernel"), (uint32_t)s->ssm_conv);
        gguf_writer_add_u32(w, KEY("ssm.state_size"), (uint32_t)s->ssm_state);
        gguf_writer_add_u32(w, KEY("ssm.group_count"), (uint32_t)s->ssm_groups);
        gguf_writer_add_u32(w, KEY("ssm.time_step_rank"), (uint32_t)s->ssm_dt_rank);
        gguf_writer_add_u32(w, KEY("ssm.inner_size"), (uint32_t)s->ssm_inner);
    }
    gguf_writer_add_u32(w, KEY("vocab_size"), (uint32_t)s->n_vocab);
#undef KEY
}

/* --- tensors --------------------------------------------------------------------------- */

typedef struct planned {
    int index;
    uint32_t type;
    bool vector;
    float vector_value;
    int64_t cols, rows;
} planned;

typedef struct plan_ctx {
    gguf_writer *w;
    const synth_shape *s;
    const char *ftype;
    planned *plan;
    int n, cap;
} plan_ctx;

/* The role of a tensor for the storage-type rules ("attn_v", "ffn_down", "output"...). */
static void role_of(const char *spec_name, char *role, size_t cap) {
    snprintf(role, cap, "%s", spec_name);
    char *dot = strchr(role, '.');
    if (dot) *dot = 0;
}

/* model_plan_tensors' callback: declares each tensor the file must hold (and the optional
 * ones this shape has: an untied output head, rope frequency factors). */
static void plan_tensor(void *arg, const char *name, const tensor_spec *spec, int layer, int64_t cols, int64_t rows) {
    plan_ctx *c = arg;
    const synth_shape *s = c->s;
    if (spec->optional) {
        bool want = (!strcmp(spec->name, "output.weight") && !s->tied) ||
                    (!strcmp(spec->name, "rope_freqs.weight") && s->rope_factors);
        if (!want) return;
    }
    if (c->n == c->cap) {
        int cap = c->cap ? 2 * c->cap : 256;
        planned *p = realloc(c->plan, (size_t)cap * sizeof *p);
        if (!p) { c->n = -1; return; }
        c->plan = p, c->cap = cap;
    }
    if (c->n < 0) return;
    char role[64];
    role_of(spec->name, role, sizeof role);
    if (!strcmp(role, "token_embd") && s->tied) snprintf(role, sizeof role, "output");
    /* the experts' matrices are 3-D (ne[2] = n_expert); expert biases are [n, n_expert] */
    const int64_t depth = tensor_dim_stacked(spec->rows) ? s->n_expert : 1;
    uint64_t ne[3] = {(uint64_t)cols, (uint64_t)rows, (uint64_t)depth};
    char *exps = strstr(role, "_exps");
    if (exps) *exps = 0; /* the experts' matrices follow the dense ones' rules */
    /* routers, DeltaNet's convolution taps and its small beta and decay projections stay
     * f32, as llama.cpp's converters keep them */
    const bool f32 = !spec->matrix || !strcmp(role, "ffn_gate_inp") || !strcmp(role, "ssm_conv1d") ||
                     !strcmp(role, "ssm_beta") || !strcmp(role, "ssm_alpha");
    uint32_t type = f32 ? GGML_TYPE_F32 : matrix_type(c->ftype, role, layer, s, cols);
    /* norms, scales and frequency factors 1, biases 0, DeltaNet's A -1 (a decay that
     * forgets: e^(A softplus(.)) < 1) */
    float value = strstr(spec->name, ".bias") ? 0.0f : !strcmp(role, "ssm_a") ? -1.0f : 1.0f;
    const int n_dims = depth > 1 ? 3 : spec->matrix || rows > 1 ? 2 : 1;
    c->plan[c->n++] = (planned){gguf_writer_add_tensor(c->w, name, type, n_dims, ne), type, !spec->matrix, value, cols,
                                rows * depth};
}

/* The tensors of S's architecture, from the description the loader reads (arch.c). */
static int plan_tensors(gguf_writer *w, plan_ctx *c, char *err, size_t errlen) {
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    if (!mem) return snprintf(err, errlen, "out of memory"), -1;
    int rc = gguf_writer_write_header(w, mem);
    if (fclose(mem) != 0) rc = -1;
    gguf_file f;
    if (rc == 0) rc = gguf_open_memory(&f, buf, len, c->s->name, err, errlen);
    else snprintf(err, errlen, "out of memory");
    if (rc == 0) {
        rc = model_plan_tensors(&f, plan_tensor, c, err, errlen);
        gguf_close(&f);
        if (rc == 0 && c->n < 0) rc = -1, snprintf(err, errlen, "out of memory");
    }
    free(buf);
    return rc;
}

static int write_data(gguf_writer *w, FILE *out, const plan_ctx *c, uint64_t seed,
                      void (*progress)(uint64_t, uint64_t, void *), void *ctx) {
    uint64_t total = 0, done = 0;
    for (int i = 0; i < c->n; i++) total += gguf_writer_tensor_bytes(w, c->plan[i].index);
    int rc = gguf_writer_write_header(w, out);
    uint64_t rng = seed ? seed : 0x9E3779B97F4A7C15ULL;
    void *buf = NULL;
    float *row = NULL;
    size_t buf_cap = 0;
    for (int i = 0; i < c->n && rc == 0; i++) {
        const planned *p = &c->plan[i];
        uint64_t nbytes = gguf_writer_tensor_bytes(w, p->index);
        if (nbytes > buf_cap) {
            free(buf);
            buf = malloc((size_t)nbytes);
            buf_cap = buf ? (size_t)nbytes : 0;
        }
        free(row);
        row = malloc((size_t)p->cols * sizeof *row);
        if (!buf || !row) { rc = -1; errno = ENOMEM; break; }
        if (p->vector) { /* one row per expert for the experts' biases */
            for (int64_t k = 0; k < p->cols; k++) row[k] = p->vector_value;
            for (int64_t r = 0; r < p->rows; r++)
                memcpy((uint8_t *)buf + (uint64_t)r * p->cols * sizeof *row, row, (size_t)p->cols * sizeof *row);
        } else {
            /* Uniform in [-a, a] with variance 1/cols keeps activations of order 1. */
            const float a = sqrtf(3.0f / (float)p->cols);
            const uint64_t row_bytes = nbytes / (uint64_t)p->rows;
            for (int64_t r = 0; r < p->rows; r++) {
                for (int64_t k = 0; k < p->cols; k++) row[k] = a * next_uniform(&rng);
                quantize_row(p->type, row, (uint8_t *)buf + (uint64_t)r * row_bytes, p->cols);
            }
        }
        if (rc == 0 && gguf_writer_write_tensor(w, out, p->index, buf)) rc = -1;
        done += nbytes;
        if (progress) progress(done, total, ctx);
    }
    free(buf);
    free(row);
    return rc;
}

int synth_write_shape(const synth_shape *s, const char *ftype, const char *path, uint64_t seed,
                      void (*progress)(uint64_t, uint64_t, void *), void *ctx, char *err, size_t errlen) {
    bool type_ok = false;
    for (int i = 0; TYPE_NAMES[i]; i++) type_ok |= !strcmp(TYPE_NAMES[i], ftype);
    if (!type_ok) {
        char known[128] = "";
        for (int i = 0; TYPE_NAMES[i]; i++)
            snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s", i ? ", " : "", TYPE_NAMES[i]);
        snprintf(err, errlen, "unknown type '%s' (known: %s)", ftype, known);
        return -1;
    }
    if (s->n_layer > 256 || s->n_vocab < 259) {
        snprintf(err, errlen, "shape '%s': at most 256 layers and at least 259 tokens", s->name);
        return -1;
    }
    gguf_writer *w = gguf_writer_create();
    const char **tokens = calloc((size_t)s->n_vocab, sizeof *tokens);
    int32_t *types = calloc((size_t)s->n_vocab, sizeof *types);
    char *text = malloc((size_t)s->n_vocab * 24);
    plan_ctx c = {w, s, ftype, NULL, 0, 0};
    int rc = 0;
    if (!w || !tokens || !types || !text) {
        snprintf(err, errlen, "out of memory");
        rc = -1;
    } else {
        write_hparams(w, s, ftype);
        write_tokenizer(w, s->n_vocab, text, tokens, types);
        rc = plan_tensors(w, &c, err, errlen);
    }
    free(tokens), free(types), free(text);
    for (int i = 0; rc == 0 && i < c.n; i++)
        if (c.plan[i].index < 0) {
            snprintf(err, errlen, "internal error: tensor %d could not be declared", i);
            rc = -1;
        }
    /* a temporary file renamed into place: a failed or interrupted run leaves no
     * half-written model under the name (nor destroys the file that was there) */
    atomic_file af;
    if (rc == 0 && atomic_file_open(&af, path, err, errlen) < 0) rc = -1;
    else if (rc == 0) {
        if (write_data(w, af.f, &c, seed, progress, ctx)) {
            snprintf(err, errlen, "%s: write failed: %s", path, strerror(errno));
            atomic_file_abort(&af);
            rc = -1;
        } else {
            rc = atomic_file_commit(&af, err, errlen);
        }
    }
    free(c.plan);
    gguf_writer_free(w);
    return rc;
}

int synth_write(const char *shape_name, const char *ftype, const char *path, uint64_t seed,
                void (*progress)(uint64_t, uint64_t, void *), void *ctx, char *err, size_t errlen) {
    const synth_shape *s = synth_find_shape(shape_name);
    if (!s) {
        char known[512] = "";
        for (size_t i = 0; i < N_SHAPES; i++)
            snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s", i ? ", " : "", SHAPES[i].name);
        snprintf(err, errlen, "unknown shape '%s' (known: %s)", shape_name, known);
        return -1;
    }
    return synth_write_shape(s, ftype, path, seed, progress, ctx, err, errlen);
}
