/* model.c — turning a GGUF file into a model the engines can trust (see model.h).
 *
 * Loading happens in three steps: read the hyper-parameters of the architecture and check
 * they are sane, find every tensor the forward pass needs and check its shape and type,
 * then convert the small vectors (norm weights, biases) to f32. Everything a model file
 * says is untrusted: the first problem found becomes one error line naming the file. */
#include "model.h"
#include "quant.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Limits far above any real model, low enough that every size derived from them fits in
 * an int and every product of two of them fits comfortably in 64 bits. */
#define MAX_EMBD     (1 << 17)
#define MAX_FF       (1 << 20)
#define MAX_LAYER    1024
#define MAX_HEAD     1024
#define MAX_HEAD_DIM 1024
#define MAX_VOCAB    (1 << 23)
#define MAX_CTX      (1 << 24)

typedef struct loader {
    model *m;
    const gguf_file *f;
    char *err;
    size_t errlen;
} loader;

static int fail(loader *L, const char *fmt, ...) {
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(L->err, L->errlen, "%s: %s", L->f->path ? L->f->path : "model", msg);
    return -1;
}

/* Copies a string from the file into BUF for an error message: at most CAP-1 bytes,
 * control characters replaced so the message stays one line. */
static const char *printable(gguf_str s, char *buf, size_t cap) {
    size_t n = s.len < cap - 1 ? (size_t)s.len : cap - 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s.ptr[i];
        buf[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    buf[n] = 0;
    return buf;
}

const char *model_arch_name(model_arch a) {
    switch (a) {
    case ARCH_LLAMA: return "llama";
    case ARCH_QWEN2: return "qwen2";
    case ARCH_QWEN3: return "qwen3";
    case ARCH_GPT2: return "gpt2";
    }
    return "unknown";
}

/* ---- hyper-parameters -------------------------------------------------------------- */

/* Reads the integer "{arch}.SUFFIX" into *OUT. Absent: *OUT = DEF, or an error when
 * REQUIRED. Present: must be an integer in [LO, HI]. */
static int hp_int(loader *L, const char *suffix, bool required, int def, int lo, int hi,
                  int *out) {
    char key[160];
    snprintf(key, sizeof key, "%s.%s", L->m->hp.arch_name, suffix);
    const gguf_kv *kv = gguf_find(L->f, key);
    if (!kv) {
        if (required) return fail(L, "missing metadata key '%s'", key);
        *out = def;
        return 0;
    }
    int64_t v;
    if (!gguf_get_i64(L->f, key, &v))
        return fail(L, "metadata '%s' has type %s, expected an integer", key,
                    gguf_type_name(kv->type));
    if (v < lo || v > hi)
        return fail(L, "metadata '%s' = %lld is out of range [%d, %d]", key, (long long)v, lo,
                    hi);
    *out = (int)v;
    return 0;
}

/* Reads the float "{arch}.SUFFIX" (DEF when absent); must be finite and > 0. */
static int hp_float(loader *L, const char *suffix, float def, float *out) {
    char key[160];
    snprintf(key, sizeof key, "%s.%s", L->m->hp.arch_name, suffix);
    const gguf_kv *kv = gguf_find(L->f, key);
    if (!kv) {
        *out = def;
        return 0;
    }
    float v;
    if (!gguf_get_f32(L->f, key, &v))
        return fail(L, "metadata '%s' has type %s, expected a float", key,
                    gguf_type_name(kv->type));
    if (!isfinite(v) || v <= 0) return fail(L, "metadata '%s' = %g must be positive", key, v);
    *out = v;
    return 0;
}

static const struct { const char *name; model_arch arch; } KNOWN_ARCHS[] = {
    {"llama", ARCH_LLAMA}, {"qwen2", ARCH_QWEN2}, {"qwen3", ARCH_QWEN3}, {"gpt2", ARCH_GPT2}};

/* Families whose files exist (../shared has some) and that llmscope is still to build. */
static const char *const PLANNED_ARCHS[] = {"gemma2", "gemma3", "gemma4", "phi3", "qwen35",
                                            "qwen35moe", "qwen3moe", "gpt-oss", "smollm3",
                                            "mistral3", "qwen3vl"};

static int known_arch(gguf_str s) {
    for (size_t i = 0; i < sizeof KNOWN_ARCHS / sizeof KNOWN_ARCHS[0]; i++)
        if (gguf_str_eq(s, KNOWN_ARCHS[i].name)) return (int)i;
    return -1;
}

const char *model_file_unimplemented(const gguf_file *f, char *buf, size_t cap) {
    gguf_str s;
    if (!gguf_get_str(f, "general.architecture", &s)) return NULL;
    if (known_arch(s) < 0) {
        for (size_t i = 0; i < sizeof PLANNED_ARCHS / sizeof PLANNED_ARCHS[0]; i++)
            if (gguf_str_eq(s, PLANNED_ARCHS[i])) {
                snprintf(buf, cap, "%s not implemented yet", PLANNED_ARCHS[i]);
                return buf;
            }
        return NULL;
    }
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        uint32_t t = f->tensors[i].type;
        if (!ggml_type_supported(t) && ggml_block_elems(t) > 0) {
            snprintf(buf, cap, "type %s not implemented yet", ggml_type_name(t));
            return buf;
        }
    }
    return NULL;
}

static int read_arch(loader *L) {
    model_hparams *hp = &L->m->hp;
    gguf_str s;
    if (!gguf_get_str(L->f, "general.architecture", &s))
        return fail(L, "missing metadata key 'general.architecture' (not a model file?)");
    int k = known_arch(s);
    if (k >= 0) {
        hp->arch = KNOWN_ARCHS[k].arch;
        snprintf(hp->arch_name, sizeof hp->arch_name, "%s", KNOWN_ARCHS[k].name);
        return 0;
    }
    char buf[48];
    return fail(L, "unsupported architecture '%s' (supported: llama, qwen2, qwen3, gpt2)",
                printable(s, buf, sizeof buf));
}

/* Rope scaling: only linear scaling (positions divided by the factor) is implemented.
 * Files name it with "{arch}.rope.scaling.type"/".factor" or the older ".rope.scale_linear". */
static int read_rope_scaling(loader *L) {
    model_hparams *hp = &L->m->hp;
    char key[160];
    float factor = 1.0f;
    snprintf(key, sizeof key, "%s.rope.scaling.type", hp->arch_name);
    gguf_str type;
    bool has_type = gguf_get_str(L->f, key, &type);
    if (has_type && !gguf_str_eq(type, "none") && !gguf_str_eq(type, "linear")) {
        char buf[48];
        return fail(L, "unsupported rope scaling type '%s' (supported: none, linear)",
                    printable(type, buf, sizeof buf));
    }
    if (!has_type || gguf_str_eq(type, "linear")) {
        if (hp_float(L, "rope.scaling.factor", 1.0f, &factor)) return -1;
        if (factor == 1.0f && hp_float(L, "rope.scale_linear", 1.0f, &factor)) return -1;
    }
    hp->rope_freq_scale = 1.0f / factor;
    return 0;
}

static int read_hparams(loader *L) {
    model_hparams *hp = &L->m->hp;
    if (hp_int(L, "embedding_length", true, 0, 1, MAX_EMBD, &hp->n_embd) ||
        hp_int(L, "block_count", true, 0, 1, MAX_LAYER, &hp->n_layer) ||
        hp_int(L, "feed_forward_length", true, 0, 1, MAX_FF, &hp->n_ff) ||
        hp_int(L, "context_length", true, 0, 1, MAX_CTX, &hp->n_ctx_train) ||
        hp_int(L, "attention.head_count", true, 0, 1, MAX_HEAD, &hp->n_head) ||
        hp_int(L, "attention.head_count_kv", false, hp->n_head, 1, hp->n_head, &hp->n_head_kv))
        return -1;
    if (hp->n_head % hp->n_head_kv)
        return fail(L, "head_count %d is not a multiple of head_count_kv %d", hp->n_head,
                    hp->n_head_kv);

    /* head_dim is n_embd / n_head unless the file says otherwise (qwen3 does). */
    bool has_key_length = false;
    {
        char key[160];
        snprintf(key, sizeof key, "%s.attention.key_length", hp->arch_name);
        has_key_length = gguf_find(L->f, key) != NULL;
    }
    if (!has_key_length && hp->n_embd % hp->n_head)
        return fail(L, "embedding_length %d is not a multiple of head_count %d", hp->n_embd,
                    hp->n_head);
    int value_length;
    if (hp_int(L, "attention.key_length", false, hp->n_embd / hp->n_head, 1, MAX_HEAD_DIM,
               &hp->head_dim) ||
        hp_int(L, "attention.value_length", false, hp->head_dim, 1, MAX_HEAD_DIM,
               &value_length))
        return -1;
    if (value_length != hp->head_dim)
        return fail(L, "attention.value_length %d differs from key_length %d (unsupported)",
                    value_length, hp->head_dim);

    bool rms = hp->arch != ARCH_GPT2;
    if (rms) {
        if (hp_float(L, "attention.layer_norm_rms_epsilon", 1e-5f, &hp->norm_eps)) return -1;
    } else {
        if (hp_float(L, "attention.layer_norm_epsilon", 1e-5f, &hp->norm_eps)) return -1;
    }
    if (hp->norm_eps >= 1.0f) return fail(L, "norm epsilon %g is not below 1", hp->norm_eps);
    hp->layer_norm = !rms;
    hp->gelu = !rms;

    switch (hp->arch) {
    case ARCH_LLAMA: hp->rope = ROPE_NORM; break;
    case ARCH_QWEN2: case ARCH_QWEN3: hp->rope = ROPE_NEOX; break;
    case ARCH_GPT2: hp->rope = ROPE_NONE; break;
    }
    hp->rope_base = 10000.0f;
    hp->rope_dim = 0;
    hp->rope_freq_scale = 1.0f;
    if (hp->rope != ROPE_NONE) {
        if (hp->head_dim % 2) return fail(L, "head dimension %d is odd (rope needs pairs)",
                                          hp->head_dim);
        if (hp_float(L, "rope.freq_base", 10000.0f, &hp->rope_base) ||
            hp_int(L, "rope.dimension_count", false, hp->head_dim, 2, hp->head_dim,
                   &hp->rope_dim) ||
            read_rope_scaling(L))
            return -1;
        if (hp->rope_dim % 2) return fail(L, "rope.dimension_count %d is odd", hp->rope_dim);
    } else if (hp->n_head_kv != hp->n_head) {
        return fail(L, "gpt2 models have no grouped-query attention (head_count_kv %d != %d)",
                    hp->n_head_kv, hp->n_head);
    }
    return 0;
}

/* ---- tensors ----------------------------------------------------------------------- */

static const gguf_tensor *find_tensor(loader *L, const char *name, bool required, int *rc) {
    *rc = 0;
    const gguf_tensor *t = gguf_find_tensor(L->f, name);
    if (!t && required) *rc = fail(L, "missing tensor '%s'", name);
    return t;
}

static int check_shape(loader *L, const char *name, const gguf_tensor *t, int64_t ne0,
                       int64_t ne1) {
    if (t->ne[0] != (uint64_t)ne0 || t->ne[1] != (uint64_t)ne1 || t->ne[2] != 1 || t->ne[3] != 1) {
        if (ne1 == 1)
            return fail(L, "tensor '%s' has shape [%llu, %llu, %llu, %llu], expected [%lld]",
                        name, (unsigned long long)t->ne[0], (unsigned long long)t->ne[1],
                        (unsigned long long)t->ne[2], (unsigned long long)t->ne[3],
                        (long long)ne0);
        return fail(L, "tensor '%s' has shape [%llu, %llu, %llu, %llu], expected [%lld, %lld]",
                    name, (unsigned long long)t->ne[0], (unsigned long long)t->ne[1],
                    (unsigned long long)t->ne[2], (unsigned long long)t->ne[3], (long long)ne0,
                    (long long)ne1);
    }
    return 0;
}

static int check_type(loader *L, const char *name, const gguf_tensor *t) {
    if (!ggml_type_supported(t->type)) {
        char names[256];
        return fail(L, "tensor '%s' has type %s, which llmscope cannot compute with (supported: %s)",
                    name, ggml_type_name(t->type), ggml_supported_type_names(names, sizeof names));
    }
    uint64_t row_bytes;
    if (!ggml_row_bytes(t->type, t->ne[0], &row_bytes))
        return fail(L, "tensor '%s': row length %llu is not a multiple of the %s block size",
                    name, (unsigned long long)t->ne[0], ggml_type_name(t->type));
    if (row_bytes * t->ne[1] != t->nbytes)
        return fail(L, "tensor '%s': data size does not match its shape", name);
    return 0;
}

/* Finds matrix NAME with COLS x ROWS (ne[0] = cols) in a supported type into *W.
 * Absent and not required: *W stays zeroed (data == NULL). */
static int get_matrix(loader *L, const char *name, int64_t cols, int64_t rows, bool required,
                      weight *w) {
    int rc;
    const gguf_tensor *t = find_tensor(L, name, required, &rc);
    if (!t) return rc;
    if (check_shape(L, name, t, cols, rows) || check_type(L, name, t)) return -1;
    w->name = gguf_str_dup(t->name);
    if (!w->name) return fail(L, "out of memory");
    w->type = t->type;
    w->cols = cols;
    w->rows = rows;
    w->data = t->data;
    w->row_bytes = t->nbytes / (uint64_t)rows;
    return 0;
}

/* Finds vector NAME of N elements and converts it to a new f32 array in *OUT.
 * Absent and not required: *OUT = NULL. */
static int get_vector(loader *L, const char *name, int64_t n, bool required, float **out) {
    int rc;
    *out = NULL;
    const gguf_tensor *t = find_tensor(L, name, required, &rc);
    if (!t) return rc;
    if (check_shape(L, name, t, n, 1) || check_type(L, name, t)) return -1;
    float *v = malloc((size_t)n * sizeof *v);
    if (!v) return fail(L, "out of memory");
    dequantize_row(t->type, t->data, v, n);
    for (int64_t i = 0; i < n; i++) {
        if (!isfinite(v[i])) {
            free(v);
            return fail(L, "tensor '%s' holds a non-finite value at index %lld", name,
                        (long long)i);
        }
    }
    *out = v;
    return 0;
}

/* "blk.I.WHAT.weight" / ".bias" */
static const char *blk(char *buf, size_t cap, int i, const char *what, const char *kind) {
    snprintf(buf, cap, "blk.%d.%s.%s", i, what, kind);
    return buf;
}

static int load_layer(loader *L, int i, layer_weights *lw) {
    const model_hparams *hp = &L->m->hp;
    const int64_t d = hp->n_embd, ff = hp->n_ff;
    const int64_t q_dim = (int64_t)hp->n_head * hp->head_dim;
    const int64_t kv_dim = (int64_t)hp->n_head_kv * hp->head_dim;
    const bool gpt2 = hp->arch == ARCH_GPT2;
    char n[96];

    if (get_vector(L, blk(n, sizeof n, i, "attn_norm", "weight"), d, true, &lw->attn_norm) ||
        get_vector(L, blk(n, sizeof n, i, "ffn_norm", "weight"), d, true, &lw->ffn_norm) ||
        get_matrix(L, blk(n, sizeof n, i, "attn_output", "weight"), q_dim, d, true, &lw->wo) ||
        get_matrix(L, blk(n, sizeof n, i, "ffn_up", "weight"), d, ff, true, &lw->ffn_up) ||
        get_matrix(L, blk(n, sizeof n, i, "ffn_down", "weight"), ff, d, true, &lw->ffn_down))
        return -1;

    if (gpt2) {
        /* Every gpt2 matrix has a bias and both norms are LayerNorms with a shift. */
        if (get_vector(L, blk(n, sizeof n, i, "attn_norm", "bias"), d, true, &lw->attn_norm_b) ||
            get_vector(L, blk(n, sizeof n, i, "ffn_norm", "bias"), d, true, &lw->ffn_norm_b) ||
            get_matrix(L, blk(n, sizeof n, i, "attn_qkv", "weight"), d, 3 * d, true, &lw->wqkv) ||
            get_vector(L, blk(n, sizeof n, i, "attn_qkv", "bias"), 3 * d, true, &lw->bqkv) ||
            get_vector(L, blk(n, sizeof n, i, "attn_output", "bias"), d, true, &lw->bo) ||
            get_vector(L, blk(n, sizeof n, i, "ffn_up", "bias"), ff, true, &lw->ffn_up_b) ||
            get_vector(L, blk(n, sizeof n, i, "ffn_down", "bias"), d, true, &lw->ffn_down_b))
            return -1;
        return 0;
    }

    /* qwen2 always has Q/K/V biases; some llama-layout files do too, so they are read
     * wherever present. */
    const bool qkv_bias = hp->arch == ARCH_QWEN2;
    if (get_matrix(L, blk(n, sizeof n, i, "attn_q", "weight"), d, q_dim, true, &lw->wq) ||
        get_matrix(L, blk(n, sizeof n, i, "attn_k", "weight"), d, kv_dim, true, &lw->wk) ||
        get_matrix(L, blk(n, sizeof n, i, "attn_v", "weight"), d, kv_dim, true, &lw->wv) ||
        get_matrix(L, blk(n, sizeof n, i, "ffn_gate", "weight"), d, ff, true, &lw->ffn_gate) ||
        get_vector(L, blk(n, sizeof n, i, "attn_q", "bias"), q_dim, qkv_bias, &lw->bq) ||
        get_vector(L, blk(n, sizeof n, i, "attn_k", "bias"), kv_dim, qkv_bias, &lw->bk) ||
        get_vector(L, blk(n, sizeof n, i, "attn_v", "bias"), kv_dim, qkv_bias, &lw->bv) ||
        get_vector(L, blk(n, sizeof n, i, "attn_output", "bias"), d, false, &lw->bo))
        return -1;
    if (hp->arch == ARCH_QWEN3) {
        if (get_vector(L, blk(n, sizeof n, i, "attn_q_norm", "weight"), hp->head_dim, true,
                       &lw->q_norm) ||
            get_vector(L, blk(n, sizeof n, i, "attn_k_norm", "weight"), hp->head_dim, true,
                       &lw->k_norm))
            return -1;
    }
    return 0;
}

static int load_tensors(loader *L) {
    model *m = L->m;
    model_hparams *hp = &m->hp;

    /* The vocabulary size is the embedding's row count; a vocab_size key must agree. */
    int rc;
    const gguf_tensor *emb = find_tensor(L, "token_embd.weight", true, &rc);
    if (!emb) return rc;
    if (emb->ne[1] < 1 || emb->ne[1] > MAX_VOCAB)
        return fail(L, "tensor 'token_embd.weight' has %llu rows (vocabulary size out of range)",
                    (unsigned long long)emb->ne[1]);
    hp->n_vocab = (int)emb->ne[1];
    int vocab_key;
    if (hp_int(L, "vocab_size", false, hp->n_vocab, 1, MAX_VOCAB, &vocab_key)) return -1;
    if (vocab_key != hp->n_vocab)
        return fail(L, "%s.vocab_size is %d but token_embd.weight has %d rows", hp->arch_name,
                    vocab_key, hp->n_vocab);

    if (get_matrix(L, "token_embd.weight", hp->n_embd, hp->n_vocab, true, &m->token_embd) ||
        get_vector(L, "output_norm.weight", hp->n_embd, true, &m->output_norm))
        return -1;
    if (hp->layer_norm &&
        get_vector(L, "output_norm.bias", hp->n_embd, true, &m->output_norm_b))
        return -1;
    if (hp->arch == ARCH_GPT2 &&
        get_matrix(L, "position_embd.weight", hp->n_embd, hp->n_ctx_train, true,
                   &m->position_embd))
        return -1;

    /* No output.weight means the output head shares the embedding matrix. */
    if (get_matrix(L, "output.weight", hp->n_embd, hp->n_vocab, false, &m->output)) return -1;
    hp->tied_output = m->output.data == NULL;
    if (hp->tied_output) m->output = m->token_embd;

    /* Llama 3 stores its rope frequency correction as a tensor of rope_dim/2 divisors. */
    if (hp->rope != ROPE_NONE) {
        if (get_vector(L, "rope_freqs.weight", hp->rope_dim / 2, false, &m->rope_freqs))
            return -1;
        for (int i = 0; m->rope_freqs && i < hp->rope_dim / 2; i++)
            if (m->rope_freqs[i] <= 0)
                return fail(L, "tensor 'rope_freqs.weight' has a non-positive factor at %d", i);
    }

    m->layers = calloc((size_t)hp->n_layer, sizeof *m->layers);
    if (!m->layers) return fail(L, "out of memory");
    for (int i = 0; i < hp->n_layer; i++)
        if (load_layer(L, i, &m->layers[i])) return -1;
    return 0;
}

static char *model_display_name(const gguf_file *f) {
    gguf_str s;
    if (gguf_get_str(f, "general.name", &s) && s.len > 0 && s.len < 256) {
        char buf[256];
        return strdup(printable(s, buf, sizeof buf));
    }
    const char *path = f->path ? f->path : "model";
    const char *slash = strrchr(path, '/');
    return strdup(slash ? slash + 1 : path);
}

int model_load_gguf(model *m, gguf_file *f, char *err, size_t errlen) {
    memset(m, 0, sizeof *m);
    m->file = *f;
    memset(f, 0, sizeof *f); /* the model owns the file now; closing F again is harmless */
    loader L = {m, &m->file, err, errlen};
    if (read_arch(&L) || read_hparams(&L) || load_tensors(&L)) {
        model_free(m);
        return -1;
    }
    m->name = model_display_name(&m->file);
    if (!m->name) {
        fail(&L, "out of memory");
        model_free(m);
        return -1;
    }
    return 0;
}

int model_load(model *m, const char *path, char *err, size_t errlen) {
    gguf_file f;
    memset(m, 0, sizeof *m);
    if (gguf_open(&f, path, err, errlen)) return -1;
    return model_load_gguf(m, &f, err, errlen);
}

static void free_layer(layer_weights *lw) {
    float *vecs[] = {lw->attn_norm, lw->attn_norm_b, lw->ffn_norm, lw->ffn_norm_b, lw->bq,
                     lw->bk, lw->bv, lw->bqkv, lw->bo, lw->ffn_up_b, lw->ffn_down_b,
                     lw->q_norm, lw->k_norm};
    for (size_t i = 0; i < sizeof vecs / sizeof vecs[0]; i++) free(vecs[i]);
    weight *mats[] = {&lw->wq, &lw->wk, &lw->wv, &lw->wqkv, &lw->wo, &lw->ffn_gate,
                      &lw->ffn_up, &lw->ffn_down};
    for (size_t i = 0; i < sizeof mats / sizeof mats[0]; i++) free((char *)mats[i]->name);
}

void model_free(model *m) {
    if (m->layers)
        for (int i = 0; i < m->hp.n_layer; i++) free_layer(&m->layers[i]);
    free(m->layers);
    if (!m->hp.tied_output) free((char *)m->output.name);
    free((char *)m->token_embd.name);
    free((char *)m->position_embd.name);
    free(m->output_norm);
    free(m->output_norm_b);
    free(m->rope_freqs);
    free(m->name);
    gguf_close(&m->file);
    memset(m, 0, sizeof *m);
}

void weight_row(const weight *w, int64_t r, float *out) {
    dequantize_row(w->type, (const uint8_t *)w->data + (uint64_t)r * w->row_bytes, out, w->cols);
}
