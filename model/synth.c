/* synth.c — see synth.h. */
#include "synth.h"
#include "gguf_writer.h"
#include "quant.h"
#include "quantize.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct shape {
    const char *name, *arch;
    int n_embd, n_layer, n_head, n_head_kv, n_ff, n_vocab, n_ctx;
    float rope_base, eps;
    bool tied, qkv_bias, llama3_rope;
} shape;

/* Hyper-parameters as published in each model's config.json. */
static const shape SHAPES[] = {
    {"smollm2-135m", "llama", 576, 30, 9, 3, 1536, 49152, 8192, 100000.0f, 1e-5f, true, false, false},
    {"smollm2-360m", "llama", 960, 32, 15, 5, 2560, 49152, 8192, 100000.0f, 1e-5f, true, false, false},
    {"qwen2.5-0.5b", "qwen2", 896, 24, 14, 2, 4864, 151936, 32768, 1000000.0f, 1e-6f, true, true, false},
    {"llama-3.2-1b", "llama", 2048, 16, 32, 8, 8192, 128256, 131072, 500000.0f, 1e-5f, true, false, true},
    {"llama-3-8b", "llama", 4096, 32, 32, 8, 14336, 128256, 8192, 500000.0f, 1e-5f, false, false, false},
};
/* Qwen3.5's hybrids (Gated DeltaNet layers, a gated attention layer every fourth, one
 * multi-token-prediction block appended as real files have it), from the published
 * config.json as remembered: hidden size, layers, heads and rope are the published
 * ones; the feed-forward widths (3584, 6144) are from memory and may be off; the vocabulary
 * (248320) and the DeltaNet head counts (16 key and 16 value heads of 128) are the
 * published family values, not checked against these two files. */
typedef struct hybrid_shape {
    const char *name;
    int n_embd, n_layer, n_ff, n_vocab, n_ctx;
    int n_head, n_head_kv, head_dim, rope_dim, interval;
    int ssm_k_heads, ssm_v_heads, ssm_head, taps;
    float rope_base, eps;
} hybrid_shape;
static const hybrid_shape HYBRID_SHAPES[] = {
    {"qwen3.5-0.8b", 1024, 24, 3584, 248320, 262144, 8, 2, 256, 64, 4, 16, 16, 128, 4, 1e7f, 1e-6f},
    {"qwen3.5-2b", 2048, 24, 6144, 248320, 262144, 8, 2, 256, 64, 4, 16, 16, 128, 4, 1e7f, 1e-6f},
};
static const char *const SHAPE_NAMES[] = {"smollm2-135m", "smollm2-360m", "qwen2.5-0.5b", "llama-3.2-1b", "llama-3-8b",
                                          "qwen3.5-0.8b", "qwen3.5-2b", NULL};
static const char *const TYPE_NAMES[] = {"f32", "f16", "bf16", "q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "q4_k_m", NULL};

const char *const *synth_shapes(void) { return SHAPE_NAMES; }
const char *const *synth_types(void) { return TYPE_NAMES; }

/* xorshift64* — seeded, fast, good enough for weights. */
static uint64_t next_u64(uint64_t *s) {
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1DULL;
}
static float next_uniform(uint64_t *s) { return (float)(next_u64(s) >> 40) / (float)(1 << 24) * 2.0f - 1.0f; }

static uint32_t matrix_type_for(const char *ftype, const char *role, int layer, int n_layer);

/* The storage type of one matrix for a file type. q4_k_m follows llama.cpp's mix: Q6_K
 * for the output head and for attn_v / ffn_down in the first and last eighth of the
 * layers and every third layer between; Q4_K elsewhere. */
static uint32_t matrix_type(const char *ftype, const char *role, int layer, int n_layer, int64_t cols) {
    /* K-quants need rows that are a multiple of 256. For other rows (SmolLM2's 576-wide
     * and Qwen2.5-0.5B's 896-wide matrices, for two) llama.cpp's quantizer falls back to a
     * 32-block type of about as many bits: Q5_0 where Q4_K was wanted, Q8_0 where Q6_K
     * was. Real Q4_K_M files of those models are made that way, so synthetic ones are too. */
    uint32_t t = matrix_type_for(ftype, role, layer, n_layer);
    if (cols % QK_K) {
        if (t == GGML_TYPE_Q4_K) t = GGML_TYPE_Q5_0;
        else if (t == GGML_TYPE_Q6_K) t = GGML_TYPE_Q8_0;
    }
    return t;
}

static uint32_t matrix_type_for(const char *ftype, const char *role, int layer, int n_layer) {
    if (!strcmp(ftype, "f32")) return GGML_TYPE_F32;
    if (!strcmp(ftype, "f16")) return GGML_TYPE_F16;
    if (!strcmp(ftype, "bf16")) return GGML_TYPE_BF16;
    if (!strcmp(ftype, "q8_0")) return GGML_TYPE_Q8_0;
    /* the 32-block types: every matrix in that type but the output head (Q6_K) */
    if (!strcmp(ftype, "q4_0")) return !strcmp(role, "output") ? GGML_TYPE_Q6_K : GGML_TYPE_Q4_0;
    if (!strcmp(ftype, "q4_1")) return !strcmp(role, "output") ? GGML_TYPE_Q6_K : GGML_TYPE_Q4_1;
    if (!strcmp(ftype, "q5_0")) return !strcmp(role, "output") ? GGML_TYPE_Q6_K : GGML_TYPE_Q5_0;
    if (!strcmp(ftype, "q5_1")) return !strcmp(role, "output") ? GGML_TYPE_Q6_K : GGML_TYPE_Q5_1;
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
    return 32; /* bf16 */
}

typedef struct planned { int index; uint32_t type; bool vector; float vector_value; int64_t cols, rows; } planned;

/* The tensors of a file being planned, in the order they are written. */
typedef struct plan {
    gguf_writer *w;
    const char *ftype;
    int n_layer;
    planned *list;
    int n, cap;
} plan;

static void plan_add(plan *p, const char *name, uint32_t type, bool vector, float value, int64_t cols, int64_t rows) {
    if (p->n == p->cap) {
        int cap = p->cap ? 2 * p->cap : 256;
        planned *l = realloc(p->list, (size_t)cap * sizeof *l);
        if (!l) {
            p->n = -1; /* out of memory: reported when the plan is checked */
            return;
        }
        p->list = l, p->cap = cap;
    }
    if (p->n < 0) return;
    uint64_t ne[2] = {(uint64_t)cols, (uint64_t)rows};
    int idx = gguf_writer_add_tensor(p->w, name, type, vector ? 1 : 2, ne);
    p->list[p->n++] = (planned){idx, type, vector, value, cols, rows};
}

/* A matrix of ROWS x COLS in the file type's storage for ROLE (matrix_type). */
static void plan_matrix(plan *p, const char *name, const char *role, int layer, int64_t cols, int64_t rows) {
    plan_add(p, name, matrix_type(p->ftype, role, layer, p->n_layer, cols), false, 0, cols, rows);
}
/* A matrix kept in f32 whatever the file type (convolution taps, the tiny beta and decay
 * projections of DeltaNet layers, as converters keep them). */
static void plan_f32_matrix(plan *p, const char *name, int64_t cols, int64_t rows) {
    plan_add(p, name, GGML_TYPE_F32, false, 0, cols, rows);
}
/* A vector of N copies of VALUE (norm gains 1, biases 0). */
static void plan_vector(plan *p, const char *name, int64_t n, float value) {
    plan_add(p, name, GGML_TYPE_F32, true, value, n, 1);
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

/* Vocabulary: 256 byte tokens, three ChatML control tokens, then filler tokens; and a
 * ChatML template. Returns -1 when out of memory. */
static int add_tokenizer(gguf_writer *w, int n_vocab) {
    const char **tokens = calloc((size_t)n_vocab, sizeof *tokens);
    int32_t *types = calloc((size_t)n_vocab, sizeof *types);
    char *text = malloc((size_t)n_vocab * 24);
    if (!tokens || !types || !text) {
        free(tokens); free(types); free(text);
        return -1;
    }
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
    free(tokens); free(types); free(text);
    return 0;
}

/* The metadata and tensors of a llama-layout shape, in the order llama.cpp writes them. */
static void plan_llama(plan *p, const shape *s) {
    gguf_writer *w = p->w;
    const int head_dim = s->n_embd / s->n_head, kv_dim = head_dim * s->n_head_kv;
    char key[128];
#define KEY(suffix) (snprintf(key, sizeof key, "%s." suffix, s->arch), key)
    gguf_writer_add_u32(w, KEY("context_length"), (uint32_t)s->n_ctx);
    gguf_writer_add_u32(w, KEY("embedding_length"), (uint32_t)s->n_embd);
    gguf_writer_add_u32(w, KEY("block_count"), (uint32_t)s->n_layer);
    gguf_writer_add_u32(w, KEY("feed_forward_length"), (uint32_t)s->n_ff);
    gguf_writer_add_u32(w, KEY("attention.head_count"), (uint32_t)s->n_head);
    gguf_writer_add_u32(w, KEY("attention.head_count_kv"), (uint32_t)s->n_head_kv);
    gguf_writer_add_f32(w, KEY("attention.layer_norm_rms_epsilon"), s->eps);
    gguf_writer_add_f32(w, KEY("rope.freq_base"), s->rope_base);
    gguf_writer_add_u32(w, KEY("rope.dimension_count"), (uint32_t)head_dim);
    gguf_writer_add_u32(w, KEY("vocab_size"), (uint32_t)s->n_vocab);
#undef KEY
    plan_matrix(p, "token_embd.weight", s->tied ? "output" : "token_embd", -1, s->n_embd, s->n_vocab);
    plan_vector(p, "output_norm.weight", s->n_embd, 1.0f);
    if (!s->tied) plan_matrix(p, "output.weight", "output", -1, s->n_embd, s->n_vocab);
    if (s->llama3_rope) plan_vector(p, "rope_freqs.weight", head_dim / 2, 1.0f);
    for (int l = 0; l < s->n_layer; l++) {
        char nm[64];
#define BLK(x) (snprintf(nm, sizeof nm, "blk.%d." x, l), nm)
        plan_vector(p, BLK("attn_norm.weight"), s->n_embd, 1.0f);
        plan_matrix(p, BLK("attn_q.weight"), "attn_q", l, s->n_embd, s->n_embd);
        plan_matrix(p, BLK("attn_k.weight"), "attn_k", l, s->n_embd, kv_dim);
        plan_matrix(p, BLK("attn_v.weight"), "attn_v", l, s->n_embd, kv_dim);
        if (s->qkv_bias) {
            plan_vector(p, BLK("attn_q.bias"), s->n_embd, 0.0f);
            plan_vector(p, BLK("attn_k.bias"), kv_dim, 0.0f);
            plan_vector(p, BLK("attn_v.bias"), kv_dim, 0.0f);
        }
        plan_matrix(p, BLK("attn_output.weight"), "attn_output", l, s->n_embd, s->n_embd);
        plan_vector(p, BLK("ffn_norm.weight"), s->n_embd, 1.0f);
        plan_matrix(p, BLK("ffn_gate.weight"), "ffn_gate", l, s->n_embd, s->n_ff);
        plan_matrix(p, BLK("ffn_up.weight"), "ffn_up", l, s->n_embd, s->n_ff);
        plan_matrix(p, BLK("ffn_down.weight"), "ffn_down", l, s->n_ff, s->n_embd);
#undef BLK
    }
}

/* Qwen3.5 (arch qwen35): metadata, then per layer either a Gated DeltaNet mixer or gated
 * attention (q and gate rows per head, q/k norms), each with post_attention_norm before
 * its SwiGLU, and after the last layer one multi-token-prediction block (an attention
 * layer with nextn.* tensors) that loaders skip. ssm_a gets -1 (a decay e^-softplus(.)). */
static void plan_qwen35(plan *p, const hybrid_shape *s) {
    gguf_writer *w = p->w;
    const int n_blocks = s->n_layer + 1, q_dim = s->n_head * s->head_dim, kv_dim = s->n_head_kv * s->head_dim;
    const int key_dim = s->ssm_k_heads * s->ssm_head, value_dim = s->ssm_v_heads * s->ssm_head;
    const int conv_dim = 2 * key_dim + value_dim;
    const int32_t sections[4] = {11, 11, 10, 0};
    gguf_writer_add_u32(w, "qwen35.context_length", (uint32_t)s->n_ctx);
    gguf_writer_add_u32(w, "qwen35.embedding_length", (uint32_t)s->n_embd);
    gguf_writer_add_u32(w, "qwen35.block_count", (uint32_t)n_blocks);
    gguf_writer_add_u32(w, "qwen35.feed_forward_length", (uint32_t)s->n_ff);
    gguf_writer_add_u32(w, "qwen35.attention.head_count", (uint32_t)s->n_head);
    gguf_writer_add_u32(w, "qwen35.attention.head_count_kv", (uint32_t)s->n_head_kv);
    gguf_writer_add_u32(w, "qwen35.attention.key_length", (uint32_t)s->head_dim);
    gguf_writer_add_u32(w, "qwen35.attention.value_length", (uint32_t)s->head_dim);
    gguf_writer_add_f32(w, "qwen35.attention.layer_norm_rms_epsilon", s->eps);
    gguf_writer_add_f32(w, "qwen35.rope.freq_base", s->rope_base);
    gguf_writer_add_u32(w, "qwen35.rope.dimension_count", (uint32_t)s->rope_dim);
    gguf_writer_add_i32_array(w, "qwen35.rope.dimension_sections", sections, 4);
    gguf_writer_add_u32(w, "qwen35.full_attention_interval", (uint32_t)s->interval);
    gguf_writer_add_u32(w, "qwen35.nextn_predict_layers", 1);
    gguf_writer_add_u32(w, "qwen35.ssm.conv_kernel", (uint32_t)s->taps);
    gguf_writer_add_u32(w, "qwen35.ssm.state_size", (uint32_t)s->ssm_head);
    gguf_writer_add_u32(w, "qwen35.ssm.group_count", (uint32_t)s->ssm_k_heads);
    gguf_writer_add_u32(w, "qwen35.ssm.time_step_rank", (uint32_t)s->ssm_v_heads);
    gguf_writer_add_u32(w, "qwen35.ssm.inner_size", (uint32_t)value_dim);
    gguf_writer_add_u32(w, "qwen35.vocab_size", (uint32_t)s->n_vocab);
    plan_matrix(p, "token_embd.weight", "output", -1, s->n_embd, s->n_vocab); /* tied */
    plan_vector(p, "output_norm.weight", s->n_embd, 1.0f);
    for (int l = 0; l < n_blocks; l++) {
        char nm[64];
        const bool mtp = l == s->n_layer, attention = mtp || (l + 1) % s->interval == 0;
#define BLK(x) (snprintf(nm, sizeof nm, "blk.%d." x, l), nm)
        plan_vector(p, BLK("attn_norm.weight"), s->n_embd, 1.0f);
        plan_vector(p, BLK("post_attention_norm.weight"), s->n_embd, 1.0f);
        if (attention) {
            plan_matrix(p, BLK("attn_q.weight"), "attn_q", l, s->n_embd, 2 * q_dim);
            plan_matrix(p, BLK("attn_k.weight"), "attn_k", l, s->n_embd, kv_dim);
            plan_matrix(p, BLK("attn_v.weight"), "attn_v", l, s->n_embd, kv_dim);
            plan_matrix(p, BLK("attn_output.weight"), "attn_output", l, q_dim, s->n_embd);
            plan_vector(p, BLK("attn_q_norm.weight"), s->head_dim, 1.0f);
            plan_vector(p, BLK("attn_k_norm.weight"), s->head_dim, 1.0f);
        } else {
            plan_matrix(p, BLK("attn_qkv.weight"), "attn_qkv", l, s->n_embd, conv_dim);
            plan_matrix(p, BLK("attn_gate.weight"), "attn_gate", l, s->n_embd, value_dim);
            plan_f32_matrix(p, BLK("ssm_conv1d.weight"), s->taps, conv_dim);
            plan_vector(p, BLK("ssm_dt.bias"), s->ssm_v_heads, 0.0f);
            plan_vector(p, BLK("ssm_a"), s->ssm_v_heads, -1.0f);
            plan_f32_matrix(p, BLK("ssm_beta.weight"), s->n_embd, s->ssm_v_heads);
            plan_f32_matrix(p, BLK("ssm_alpha.weight"), s->n_embd, s->ssm_v_heads);
            plan_vector(p, BLK("ssm_norm.weight"), s->ssm_head, 1.0f);
            plan_matrix(p, BLK("ssm_out.weight"), "ssm_out", l, value_dim, s->n_embd);
        }
        plan_matrix(p, BLK("ffn_gate.weight"), "ffn_gate", l, s->n_embd, s->n_ff);
        plan_matrix(p, BLK("ffn_up.weight"), "ffn_up", l, s->n_embd, s->n_ff);
        plan_matrix(p, BLK("ffn_down.weight"), "ffn_down", l, s->n_ff, s->n_embd);
        if (mtp) {
            plan_matrix(p, BLK("nextn.eh_proj.weight"), "nextn", l, 2 * s->n_embd, s->n_embd);
            plan_vector(p, BLK("nextn.enorm.weight"), s->n_embd, 1.0f);
            plan_vector(p, BLK("nextn.hnorm.weight"), s->n_embd, 1.0f);
            plan_vector(p, BLK("nextn.shared_head_norm.weight"), s->n_embd, 1.0f);
        }
#undef BLK
    }
}

/* Writes the header and the planned tensors' data (seeded random matrices) to PATH. */
static int write_file(plan *p, const char *path, uint64_t seed, void (*progress)(uint64_t, uint64_t, void *),
                      void *ctx, char *err, size_t errlen) {
    gguf_writer *w = p->w;
    FILE *out = fopen(path, "wb");
    if (!out) {
        snprintf(err, errlen, "%s: cannot create: %s", path, strerror(errno));
        return -1;
    }
    uint64_t total = 0, done = 0;
    for (int i = 0; i < p->n; i++) total += gguf_writer_tensor_bytes(w, p->list[i].index);
    int rc = gguf_writer_write_header(w, out);
    uint64_t rng = seed ? seed : 0x9E3779B97F4A7C15ULL;
    void *buf = NULL;
    float *row = NULL;
    size_t buf_cap = 0;
    for (int i = 0; i < p->n && rc == 0; i++) {
        const planned *pl = &p->list[i];
        uint64_t nbytes = gguf_writer_tensor_bytes(w, pl->index);
        if (nbytes > buf_cap) {
            free(buf);
            buf = malloc((size_t)nbytes);
            buf_cap = buf ? (size_t)nbytes : 0;
        }
        free(row);
        row = malloc((size_t)pl->cols * sizeof *row);
        if (!buf || !row) { rc = -1; errno = ENOMEM; break; }
        if (pl->vector) {
            for (int64_t c = 0; c < pl->cols; c++) row[c] = pl->vector_value;
            memcpy(buf, row, (size_t)nbytes);
        } else {
            /* Uniform in [-a, a] with variance 1/cols keeps activations of order 1. */
            const float a = sqrtf(3.0f / (float)pl->cols);
            const uint64_t row_bytes = nbytes / (uint64_t)pl->rows;
            for (int64_t r = 0; r < pl->rows; r++) {
                for (int64_t c = 0; c < pl->cols; c++) row[c] = a * next_uniform(&rng);
                quantize_row(pl->type, row, (uint8_t *)buf + (uint64_t)r * row_bytes, pl->cols);
            }
        }
        if (rc == 0 && gguf_writer_write_tensor(w, out, pl->index, buf)) rc = -1;
        done += nbytes;
        if (progress) progress(done, total, ctx);
    }
    free(buf);
    free(row);
    if (fclose(out) != 0 && rc == 0) rc = -1;
    if (rc) {
        snprintf(err, errlen, "%s: write failed: %s", path, strerror(errno));
        remove(path);
        return -1;
    }
    return 0;
}

int synth_write(const char *shape_name, const char *ftype, const char *path, uint64_t seed,
                void (*progress)(uint64_t, uint64_t, void *), void *ctx, char *err, size_t errlen) {
    const shape *s = NULL;
    const hybrid_shape *hs = NULL;
    for (size_t i = 0; i < sizeof SHAPES / sizeof *SHAPES; i++)
        if (!strcmp(SHAPES[i].name, shape_name)) s = &SHAPES[i];
    for (size_t i = 0; i < sizeof HYBRID_SHAPES / sizeof *HYBRID_SHAPES; i++)
        if (!strcmp(HYBRID_SHAPES[i].name, shape_name)) hs = &HYBRID_SHAPES[i];
    if (!s && !hs) {
        char known[256] = "";
        for (int i = 0; SHAPE_NAMES[i]; i++)
            snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s", i ? ", " : "", SHAPE_NAMES[i]);
        snprintf(err, errlen, "unknown shape '%s' (known: %s)", shape_name, known);
        return -1;
    }
    bool type_ok = false;
    for (int i = 0; TYPE_NAMES[i]; i++) type_ok |= !strcmp(TYPE_NAMES[i], ftype);
    if (!type_ok) {
        char known[128] = "";
        for (int i = 0; TYPE_NAMES[i]; i++)
            snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s", i ? ", " : "", TYPE_NAMES[i]);
        snprintf(err, errlen, "unknown type '%s' (known: %s)", ftype, known);
        return -1;
    }
    plan p = {.w = gguf_writer_create(), .ftype = ftype, .n_layer = s ? s->n_layer : hs->n_layer + 1};
    if (!p.w) { snprintf(err, errlen, "out of memory"); return -1; }
    char name[64];
    gguf_writer_add_str(p.w, "general.architecture", s ? s->arch : "qwen35");
    snprintf(name, sizeof name, "synth-%s-%s", shape_name, ftype);
    gguf_writer_add_str(p.w, "general.name", name);
    gguf_writer_add_u32(p.w, "general.file_type", file_type_id(ftype));
    gguf_writer_add_u32(p.w, "general.quantization_version", 2);
    int rc = 0;
    if (s) plan_llama(&p, s);
    else plan_qwen35(&p, hs);
    if (add_tokenizer(p.w, s ? s->n_vocab : hs->n_vocab) || p.n < 0) {
        snprintf(err, errlen, "out of memory");
        rc = -1;
    }
    for (int i = 0; rc == 0 && i < p.n; i++)
        if (p.list[i].index < 0) {
            snprintf(err, errlen, "internal error: tensor %d could not be declared", i);
            rc = -1;
        }
    if (rc == 0) rc = write_file(&p, path, seed, progress, ctx, err, errlen);
    free(p.list);
    gguf_writer_free(p.w);
    return rc;
}
