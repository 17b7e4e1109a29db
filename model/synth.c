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
static const char *const SHAPE_NAMES[] = {"smollm2-135m", "smollm2-360m", "qwen2.5-0.5b", "llama-3.2-1b", "llama-3-8b",
                                          "qwen3-30b-a3b", "qwen3moe-tiny", NULL};

/* Mixtures of experts (Qwen3-MoE): the shape above plus its head size (q is n_head x
 * head_dim wide, not n_embd), its experts and their width; q/k norms. The tiny one is
 * for tests: small enough to write in milliseconds, with routing that varies by token. */
typedef struct moe_shape {
    shape base;
    int head_dim, n_expert, n_used, n_ff_exp;
} moe_shape;
static const moe_shape MOE_SHAPES[] = {
    {{"qwen3-30b-a3b", "qwen3moe", 2048, 48, 32, 4, 6144, 151936, 40960, 1000000.0f, 1e-6f, false, false, false},
     128, 128, 8, 768},
    {{"qwen3moe-tiny", "qwen3moe", 64, 3, 4, 2, 96, 512, 512, 1000000.0f, 1e-6f, false, false, false}, 16, 8, 3, 32},
};
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

int synth_write(const char *shape_name, const char *ftype, const char *path, uint64_t seed,
                void (*progress)(uint64_t, uint64_t, void *), void *ctx, char *err, size_t errlen) {
    const shape *s = NULL;
    const moe_shape *moe = NULL;
    for (size_t i = 0; i < sizeof SHAPES / sizeof *SHAPES; i++)
        if (!strcmp(SHAPES[i].name, shape_name)) s = &SHAPES[i];
    for (size_t i = 0; i < sizeof MOE_SHAPES / sizeof *MOE_SHAPES; i++)
        if (!strcmp(MOE_SHAPES[i].base.name, shape_name)) moe = &MOE_SHAPES[i], s = &moe->base;
    if (!s) {
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
    const int head_dim = moe ? moe->head_dim : s->n_embd / s->n_head, kv_dim = head_dim * s->n_head_kv,
              q_dim = head_dim * s->n_head;
    gguf_writer *w = gguf_writer_create();
    if (!w) { snprintf(err, errlen, "out of memory"); return -1; }
    char key[128], name[64];
#define KEY(suffix) (snprintf(key, sizeof key, "%s." suffix, s->arch), key)
    gguf_writer_add_str(w, "general.architecture", s->arch);
    snprintf(name, sizeof name, "synth-%s-%s", s->name, ftype);
    gguf_writer_add_str(w, "general.name", name);
    gguf_writer_add_u32(w, "general.file_type", file_type_id(ftype));
    gguf_writer_add_u32(w, "general.quantization_version", 2);
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
    if (moe) {
        gguf_writer_add_u32(w, KEY("attention.key_length"), (uint32_t)head_dim);
        gguf_writer_add_u32(w, KEY("attention.value_length"), (uint32_t)head_dim);
        gguf_writer_add_u32(w, KEY("expert_count"), (uint32_t)moe->n_expert);
        gguf_writer_add_u32(w, KEY("expert_used_count"), (uint32_t)moe->n_used);
        gguf_writer_add_u32(w, KEY("expert_feed_forward_length"), (uint32_t)moe->n_ff_exp);
    }
#undef KEY

    /* Vocabulary: 256 byte tokens, three ChatML control tokens, then filler tokens. */
    const char **tokens = calloc((size_t)s->n_vocab, sizeof *tokens);
    int32_t *types = calloc((size_t)s->n_vocab, sizeof *types);
    char *text = malloc((size_t)s->n_vocab * 24);
    if (!tokens || !types || !text) {
        free(tokens); free(types); free(text); gguf_writer_free(w);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (int i = 0; i < s->n_vocab; i++) {
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
    gguf_writer_add_str_array(w, "tokenizer.ggml.tokens", tokens, (size_t)s->n_vocab);
    gguf_writer_add_i32_array(w, "tokenizer.ggml.token_type", types, (size_t)s->n_vocab);
    gguf_writer_add_str_array(w, "tokenizer.ggml.merges", NULL, 0);
    gguf_writer_add_u32(w, "tokenizer.ggml.bos_token_id", 257);
    gguf_writer_add_u32(w, "tokenizer.ggml.eos_token_id", 258);
    gguf_writer_add_bool(w, "tokenizer.ggml.add_bos_token", false);
    gguf_writer_add_str(w, "tokenizer.chat_template",
                        "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + "
                        "message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if "
                        "add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}");
    free(tokens); free(types); free(text);

    /* Tensor plan, in the order llama.cpp writes them. */
    planned plan[8 + 16 * 64]; /* globals + up to 16 per layer; the largest shape has 48 layers */
    int np = 0;
    uint64_t ne[3];
    /* a matrix, or with DEPTH > 1 a stack of DEPTH of them (the experts: ne[2]) */
#define MATRIX3(nm, role, layer, cols, rows, depth)                                           \
    do {                                                                                     \
        ne[0] = (uint64_t)(cols); ne[1] = (uint64_t)(rows); ne[2] = (uint64_t)(depth);       \
        uint32_t ty_ = !strcmp(role, "ffn_gate_inp") ? GGML_TYPE_F32 : matrix_type(ftype, role, layer, s->n_layer, cols); \
        plan[np] = (planned){gguf_writer_add_tensor(w, nm, ty_, (depth) > 1 ? 3 : 2, ne), ty_, false, 0, (cols),   \
                             (int64_t)(rows) * (depth)};                                    \
        np++;                                                                                \
    } while (0)
#define MATRIX(nm, role, layer, cols, rows) MATRIX3(nm, role, layer, cols, rows, 1)
#define VECTOR(nm, n, value)                                                                  \
    do {                                                                                     \
        ne[0] = (uint64_t)(n);                                                               \
        plan[np] = (planned){gguf_writer_add_tensor(w, nm, GGML_TYPE_F32, 1, ne), GGML_TYPE_F32, true, value, (n), 1}; \
        np++;                                                                                \
    } while (0)
    MATRIX("token_embd.weight", s->tied ? "output" : "token_embd", -1, s->n_embd, s->n_vocab);
    VECTOR("output_norm.weight", s->n_embd, 1.0f);
    if (!s->tied) MATRIX("output.weight", "output", -1, s->n_embd, s->n_vocab);
    if (s->llama3_rope) VECTOR("rope_freqs.weight", head_dim / 2, 1.0f);
    for (int l = 0; l < s->n_layer; l++) {
        char nm[64];
#define BLK(x) (snprintf(nm, sizeof nm, "blk.%d." x, l), nm)
        VECTOR(BLK("attn_norm.weight"), s->n_embd, 1.0f);
        MATRIX(BLK("attn_q.weight"), "attn_q", l, s->n_embd, q_dim);
        MATRIX(BLK("attn_k.weight"), "attn_k", l, s->n_embd, kv_dim);
        MATRIX(BLK("attn_v.weight"), "attn_v", l, s->n_embd, kv_dim);
        if (s->qkv_bias) {
            VECTOR(BLK("attn_q.bias"), s->n_embd, 0.0f);
            VECTOR(BLK("attn_k.bias"), kv_dim, 0.0f);
            VECTOR(BLK("attn_v.bias"), kv_dim, 0.0f);
        }
        if (moe) {
            VECTOR(BLK("attn_q_norm.weight"), head_dim, 1.0f);
            VECTOR(BLK("attn_k_norm.weight"), head_dim, 1.0f);
        }
        MATRIX(BLK("attn_output.weight"), "attn_output", l, q_dim, s->n_embd);
        VECTOR(BLK("ffn_norm.weight"), s->n_embd, 1.0f);
        if (moe) { /* the router stays f32, as llama.cpp's converter keeps it */
            MATRIX(BLK("ffn_gate_inp.weight"), "ffn_gate_inp", l, s->n_embd, moe->n_expert);
            MATRIX3(BLK("ffn_gate_exps.weight"), "ffn_gate", l, s->n_embd, moe->n_ff_exp, moe->n_expert);
            MATRIX3(BLK("ffn_up_exps.weight"), "ffn_up", l, s->n_embd, moe->n_ff_exp, moe->n_expert);
            MATRIX3(BLK("ffn_down_exps.weight"), "ffn_down", l, moe->n_ff_exp, s->n_embd, moe->n_expert);
            continue;
        }
        MATRIX(BLK("ffn_gate.weight"), "ffn_gate", l, s->n_embd, s->n_ff);
        MATRIX(BLK("ffn_up.weight"), "ffn_up", l, s->n_embd, s->n_ff);
        MATRIX(BLK("ffn_down.weight"), "ffn_down", l, s->n_ff, s->n_embd);
#undef BLK
    }
#undef MATRIX
#undef MATRIX3
#undef VECTOR
    for (int i = 0; i < np; i++)
        if (plan[i].index < 0) {
            snprintf(err, errlen, "internal error: tensor %d could not be declared", i);
            gguf_writer_free(w);
            return -1;
        }
    FILE *out = fopen(path, "wb");
    if (!out) {
        snprintf(err, errlen, "%s: cannot create: %s", path, strerror(errno));
        gguf_writer_free(w);
        return -1;
    }
    uint64_t total = 0, done = 0;
    for (int i = 0; i < np; i++) total += gguf_writer_tensor_bytes(w, plan[i].index);
    int rc = gguf_writer_write_header(w, out);
    uint64_t rng = seed ? seed : 0x9E3779B97F4A7C15ULL;
    void *buf = NULL;
    float *row = NULL;
    size_t buf_cap = 0;
    for (int i = 0; i < np && rc == 0; i++) {
        uint64_t nbytes = gguf_writer_tensor_bytes(w, plan[i].index);
        if (nbytes > buf_cap) {
            free(buf);
            buf = malloc((size_t)nbytes);
            buf_cap = buf ? (size_t)nbytes : 0;
        }
        free(row);
        row = malloc((size_t)plan[i].cols * sizeof *row);
        if (!buf || !row) { rc = -1; errno = ENOMEM; break; }
        if (plan[i].vector) {
            for (int64_t c = 0; c < plan[i].cols; c++) row[c] = plan[i].vector_value;
            memcpy(buf, row, (size_t)nbytes);
        } else {
            /* Uniform in [-a, a] with variance 1/cols keeps activations of order 1. */
            const float a = sqrtf(3.0f / (float)plan[i].cols);
            const uint64_t row_bytes = nbytes / (uint64_t)plan[i].rows;
            for (int64_t r = 0; r < plan[i].rows; r++) {
                for (int64_t c = 0; c < plan[i].cols; c++) row[c] = a * next_uniform(&rng);
                quantize_row(plan[i].type, row, (uint8_t *)buf + (uint64_t)r * row_bytes, plan[i].cols);
            }
        }
        if (rc == 0 && gguf_writer_write_tensor(w, out, plan[i].index, buf)) rc = -1;
        done += nbytes;
        if (progress) progress(done, total, ctx);
    }
    free(buf);
    free(row);
    if (fclose(out) != 0 && rc == 0) rc = -1;
    gguf_writer_free(w);
    if (rc) {
        snprintf(err, errlen, "%s: write failed: %s", path, strerror(errno));
        remove(path);
        return -1;
    }
    return 0;
}
