/* model.c — turning a GGUF file into a model the engines can trust (see model.h).
 *
 * Loading happens in three steps: find the file's architecture description and read its
 * metadata through it (model_meta.c: hyper-parameters, each layer's recipe, the ropes),
 * then find every tensor the description lists for this architecture (arch.c) and check
 * its shape and type, converting the small vectors (norm weights, biases) to f32.
 * Everything a model file says is untrusted: the first problem found becomes one error
 * line naming the file. */
#include "model.h"
#include "model_loader.h"
#include "quant.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int loader_fail(loader *L, const char *fmt, ...) {
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(L->err, L->errlen, "%s: %s", L->f->path ? L->f->path : "model", msg);
    return -1;
}

const char *loader_printable(gguf_str s, char *buf, size_t cap) {
    size_t n = s.len < cap - 1 ? (size_t)s.len : cap - 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s.ptr[i];
        buf[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    buf[n] = 0;
    return buf;
}

/* ---- one tensor ---------------------------------------------------------------------- */

/* T must be NE0 x NE1 x NE2 (ne[0] first; the 3-D expert tensors have NE2 > 1). */
static int check_shape(loader *L, const char *name, const gguf_tensor *t, int64_t ne0, int64_t ne1, int64_t ne2) {
    if (t->ne[0] == (uint64_t)ne0 && t->ne[1] == (uint64_t)ne1 && t->ne[2] == (uint64_t)ne2 && t->ne[3] == 1)
        return 0;
    char want[96];
    if (ne2 > 1) snprintf(want, sizeof want, "[%lld, %lld, %lld]", (long long)ne0, (long long)ne1, (long long)ne2);
    else if (ne1 == 1) snprintf(want, sizeof want, "[%lld]", (long long)ne0);
    else snprintf(want, sizeof want, "[%lld, %lld]", (long long)ne0, (long long)ne1);
    return loader_fail(L, "tensor '%s' has shape [%llu, %llu, %llu, %llu], expected %s", name,
                       (unsigned long long)t->ne[0], (unsigned long long)t->ne[1], (unsigned long long)t->ne[2],
                       (unsigned long long)t->ne[3], want);
}

static int check_type(loader *L, const char *name, const gguf_tensor *t) {
    if (!ggml_type_supported(t->type)) {
        char names[256];
        return loader_fail(L, "tensor '%s' has type %s, which llmscope cannot compute with (supported: %s)", name,
                           ggml_type_name(t->type), ggml_supported_type_names(names, sizeof names));
    }
    uint64_t row_bytes;
    if (!ggml_row_bytes(t->type, t->ne[0], &row_bytes))
        return loader_fail(L, "tensor '%s': row length %llu is not a multiple of the %s block size", name,
                           (unsigned long long)t->ne[0], ggml_type_name(t->type));
    if (row_bytes * t->ne[1] * t->ne[2] * t->ne[3] != t->nbytes)
        return loader_fail(L, "tensor '%s': data size does not match its shape", name);
    return 0;
}

/* Matrix T (checked to be COLS x ROWS x DEPTH, ne[0] = cols, of a supported type) into
 * *W, as one matrix of ROWS * DEPTH rows (the DEPTH matrices of a 3-D tensor stacked). */
static int get_matrix(loader *L, const char *name, const gguf_tensor *t, int64_t cols, int64_t rows,
                      int64_t depth, weight *w) {
    if (check_shape(L, name, t, cols, rows, depth) || check_type(L, name, t)) return -1;
    rows *= depth;
    w->name = gguf_str_dup(t->name);
    if (!w->name) return loader_fail(L, "out of memory");
    w->type = t->type;
    w->cols = cols;
    w->rows = rows;
    w->data = t->data;
    w->row_bytes = t->nbytes / (uint64_t)rows;
    return 0;
}

/* Vector T of COLS x ROWS elements (ROWS > 1: one vector per expert) converted to a new
 * f32 array in *OUT; every value finite. */
static int get_vector(loader *L, const char *name, const gguf_tensor *t, int64_t cols, int64_t rows, float **out) {
    if (check_shape(L, name, t, cols, rows, 1) || check_type(L, name, t)) return -1;
    const int64_t n = cols * rows;
    float *v = malloc((size_t)n * sizeof *v);
    if (!v) return loader_fail(L, "out of memory");
    dequantize_row(t->type, t->data, v, n);
    for (int64_t i = 0; i < n; i++) {
        if (!isfinite(v[i])) {
            free(v);
            return loader_fail(L, "tensor '%s' holds a non-finite value at index %lld", name, (long long)i);
        }
    }
    *out = v;
    return 0;
}

/* ---- the tensors of the description -------------------------------------------------- */

/* The size a symbolic dimension has in LAYER (-1 for model-level tensors). */
static int64_t dim_size(const model *m, tensor_dim d, int layer) {
    const model_hparams *hp = &m->hp;
    const layer_desc *ld = layer >= 0 ? &m->desc[layer] : NULL;
    switch (d) {
    case DIM_1: return 1;
    case DIM_EMBD: return hp->n_embd;
    case DIM_VOCAB: return hp->n_vocab;
    case DIM_CTX_TRAIN: return hp->n_ctx_train;
    case DIM_Q: return ld ? (int64_t)ld->n_head * ld->head_dim : 0;
    case DIM_QG: return ld ? (int64_t)ld->n_head * ld->head_dim * (ld->out_gate ? 2 : 1) : 0;
    case DIM_KV: return ld ? (int64_t)ld->n_head_kv * ld->head_dim : 0;
    case DIM_QKV: return ld ? (int64_t)(ld->n_head + 2 * ld->n_head_kv) * ld->head_dim : 0;
    case DIM_HEAD: return ld ? ld->head_dim : 0;
    case DIM_FF: return ld ? ld->n_ff : 0;
    case DIM_FF2: return ld ? 2 * (int64_t)ld->n_ff : 0;
    case DIM_ROPE_HALF: return m->n_ropes ? m->ropes[0].dim / 2 : 0;
    case DIM_PLE: return hp->n_embd_per_layer;
    case DIM_PLE_ALL: return (int64_t)hp->n_embd_per_layer * hp->n_layer;
    case DIM_N_HEAD: return ld ? ld->n_head : 0;
    case DIM_EXPERT: return hp->moe.n_expert;
    case DIM_FF_EXP: case DIM_FF_EXP_X: return hp->moe.n_ff_exp;
    case DIM_EMBD_X: return hp->n_embd;
    case DIM_SSM_CONV: return ld ? 2 * (int64_t)ld->n_head_kv * ld->head_dim + (int64_t)ld->n_head * ld->head_dim_v : 0;
    case DIM_SSM_V: return ld ? (int64_t)ld->n_head * ld->head_dim_v : 0;
    case DIM_SSM_HEADS: return ld ? ld->n_head : 0;
    case DIM_SSM_HEAD_V: return ld ? ld->head_dim_v : 0;
    case DIM_SSM_KERNEL: return ld ? ld->conv_kernel : 0;
    }
    return 0;
}

/* Calls FN for every tensor spec that exists in LAYER (-1: the model's) of M. */
static void plan_specs(const model *m, const tensor_spec *specs, size_t n, int layer, model_tensor_fn fn, void *ctx) {
    for (size_t i = 0; i < n; i++) {
        const tensor_spec *s = &specs[i];
        bool required;
        if (!tensor_spec_applies(s, m->hp.arch, &required)) continue;
        if (layer >= 0 && !tensor_spec_in_layer(s, &m->desc[layer], layer)) continue;
        char name[128];
        if (layer >= 0) snprintf(name, sizeof name, "blk.%d.%s", layer, s->name);
        else snprintf(name, sizeof name, "%s", s->name);
        fn(ctx, name, s, layer, dim_size(m, s->cols, layer), dim_size(m, s->rows, layer));
    }
}

/* Loading, one tensor at a time through plan_specs: the first problem stops it. */
typedef struct load_ctx {
    loader *L;
    int rc;
} load_ctx;

static void load_one(void *arg, const char *name, const tensor_spec *s, int layer, int64_t cols, int64_t rows) {
    load_ctx *c = arg;
    if (c->rc) return;
    model *m = c->L->m;
    const gguf_tensor *t = gguf_find_tensor(c->L->f, name);
    bool required;
    tensor_spec_applies(s, m->hp.arch, &required);
    if (!t) {
        if (required) c->rc = loader_fail(c->L, "missing tensor '%s'", name);
        return;
    }
    const int64_t depth = tensor_dim_stacked(s->rows) ? m->hp.moe.n_expert : 1; /* experts: ne[2] */
    void *field = (char *)(layer >= 0 ? (void *)&m->layers[layer] : (void *)m) + s->field;
    c->rc = s->matrix ? get_matrix(c->L, name, t, cols, rows, depth, field) : get_vector(c->L, name, t, cols, rows, field);
}

/* The vocabulary size is the embedding's row count; a vocab_size key must agree. */
static int read_vocab(loader *L) {
    model_hparams *hp = &L->m->hp;
    const gguf_tensor *emb = gguf_find_tensor(L->f, "token_embd.weight");
    if (!emb) return loader_fail(L, "missing tensor 'token_embd.weight'");
    if (emb->ne[1] < 1 || emb->ne[1] > MAX_VOCAB)
        return loader_fail(L, "tensor 'token_embd.weight' has %llu rows (vocabulary size out of range)",
                           (unsigned long long)emb->ne[1]);
    hp->n_vocab = (int)emb->ne[1];
    char key[160];
    snprintf(key, sizeof key, "%s.vocab_size", hp->arch_name);
    int64_t v;
    if (gguf_find(L->f, key)) {
        if (!gguf_get_i64(L->f, key, &v)) return loader_fail(L, "metadata '%s' has a non-integer type", key);
        if (v != hp->n_vocab)
            return loader_fail(L, "%s is %lld but token_embd.weight has %d rows", key, (long long)v, hp->n_vocab);
    }
    return 0;
}

static int load_tensors(loader *L) {
    model *m = L->m;
    model_hparams *hp = &m->hp;
    if (read_vocab(L)) return -1;
    load_ctx c = {L, 0};
    plan_specs(m, ARCH_MODEL_TENSORS, ARCH_N_MODEL_TENSORS, -1, load_one, &c);
    if (c.rc) return -1;
    hp->tied_output = m->output.data == NULL;
    if (hp->tied_output) m->output = m->token_embd;
    for (int r = 0; r < m->n_ropes; r++)
        for (int i = 0; i < m->ropes[r].dim / 2; i++)
            if ((m->ropes[r].factors && m->ropes[r].factors[i] <= 0) ||
                (m->ropes[r].factors_long && m->ropes[r].factors_long[i] <= 0))
                return loader_fail(L, "the rope frequency factors hold a non-positive value at %d", i);
    m->layers = calloc((size_t)hp->n_layer, sizeof *m->layers);
    if (!m->layers) return loader_fail(L, "out of memory");
    for (int l = 0; l < hp->n_layer && !c.rc; l++) plan_specs(m, ARCH_LAYER_TENSORS, ARCH_N_LAYER_TENSORS, l, load_one, &c);
    return c.rc ? -1 : 0;
}

int model_plan_tensors(const gguf_file *f, model_tensor_fn fn, void *ctx, char *err, size_t errlen) {
    model m;
    memset(&m, 0, sizeof m);
    loader L = {&m, f, err, errlen};
    int rc = loader_read_arch(&L);
    if (rc == 0) {
        char key[160];
        int64_t v = 0;
        snprintf(key, sizeof key, "%s.vocab_size", m.hp.arch_name);
        rc = gguf_get_i64(f, key, &v) && v >= 1 && v <= MAX_VOCAB ? 0 : loader_fail(&L, "missing or bad '%s'", key);
        m.hp.n_vocab = (int)v;
    }
    if (rc == 0) rc = loader_read_meta(&L);
    if (rc == 0) {
        plan_specs(&m, ARCH_MODEL_TENSORS, ARCH_N_MODEL_TENSORS, -1, fn, ctx);
        for (int l = 0; l < m.hp.n_layer; l++) plan_specs(&m, ARCH_LAYER_TENSORS, ARCH_N_LAYER_TENSORS, l, fn, ctx);
    }
    free(m.desc);
    return rc;
}

static char *model_display_name(const gguf_file *f) {
    gguf_str s;
    if (gguf_get_str(f, "general.name", &s) && s.len > 0 && s.len < 256) {
        char buf[256];
        return strdup(loader_printable(s, buf, sizeof buf));
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
    if (loader_read_arch(&L) || loader_read_meta(&L) || load_tensors(&L)) {
        model_free(m);
        return -1;
    }
    m->name = model_display_name(&m->file);
    if (!m->name) {
        loader_fail(&L, "out of memory");
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

/* Frees what load_spec put into the struct at BASE for each of the N specs. */
static void free_specs(const tensor_spec *specs, size_t n, void *base) {
    for (size_t i = 0; i < n; i++) {
        void *field = (char *)base + specs[i].field;
        if (specs[i].matrix) {
            weight *w = field;
            free((char *)w->name);
            w->name = NULL;
        } else {
            float **v = field;
            free(*v);
            *v = NULL;
        }
    }
}

void model_free(model *m) {
    if (m->layers)
        for (int i = 0; i < m->hp.n_layer; i++)
            free_specs(ARCH_LAYER_TENSORS, ARCH_N_LAYER_TENSORS, &m->layers[i]);
    free(m->layers);
    if (m->hp.tied_output) m->output.name = NULL; /* the embedding's name, freed below */
    free_specs(ARCH_MODEL_TENSORS, ARCH_N_MODEL_TENSORS, m);
    free(m->desc);
    free(m->name);
    gguf_close(&m->file);
    memset(m, 0, sizeof *m);
}

void weight_row(const weight *w, int64_t r, float *out) {
    dequantize_row(w->type, (const uint8_t *)w->data + (uint64_t)r * w->row_bytes, out, w->cols);
}
