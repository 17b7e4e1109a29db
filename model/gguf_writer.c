/* gguf_writer.c — see gguf_writer.h. Metadata values are serialised into one growing
 * byte buffer as they are added, so writing the header is a single fwrite. */
#include "gguf_writer.h"
#include "gguf.h"
#include "quant.h"

#include <stdlib.h>
#include <string.h>

#define ALIGNMENT 32

typedef struct { char *name; uint32_t type; int n_dims; uint64_t ne[4]; uint64_t nbytes, offset; } wtensor;

struct gguf_writer {
    uint8_t *kv;          /* serialised key/value records */
    size_t kv_len, kv_cap;
    uint64_t n_kv;
    wtensor *tensors;
    int n_tensors, cap_tensors, next_to_write;
    uint64_t data_size;
    bool failed;
};

static void put(gguf_writer *w, const void *p, size_t n) {
    if (w->failed) return;
    if (w->kv_len + n > w->kv_cap) {
        size_t cap = w->kv_cap ? w->kv_cap : 4096;
        while (cap < w->kv_len + n) cap *= 2;
        uint8_t *b = realloc(w->kv, cap);
        if (!b) { w->failed = true; return; }
        w->kv = b;
        w->kv_cap = cap;
    }
    memcpy(w->kv + w->kv_len, p, n);
    w->kv_len += n;
}
static void put_u32(gguf_writer *w, uint32_t v) { put(w, &v, 4); }
static void put_u64(gguf_writer *w, uint64_t v) { put(w, &v, 8); }
static void put_str(gguf_writer *w, const char *s) { size_t n = strlen(s); put_u64(w, n); put(w, s, n); }
static void put_key(gguf_writer *w, const char *key, uint32_t type) { put_str(w, key); put_u32(w, type); w->n_kv++; }

gguf_writer *gguf_writer_create(void) { return calloc(1, sizeof(gguf_writer)); }

void gguf_writer_free(gguf_writer *w) {
    if (!w) return;
    for (int i = 0; i < w->n_tensors; i++) free(w->tensors[i].name);
    free(w->tensors);
    free(w->kv);
    free(w);
}

void gguf_writer_add_str(gguf_writer *w, const char *key, const char *v) { put_key(w, key, GGUF_VT_STRING); put_str(w, v); }
void gguf_writer_add_u32(gguf_writer *w, const char *key, uint32_t v) { put_key(w, key, GGUF_VT_UINT32); put_u32(w, v); }
void gguf_writer_add_f32(gguf_writer *w, const char *key, float v) { put_key(w, key, GGUF_VT_FLOAT32); put(w, &v, 4); }
void gguf_writer_add_bool(gguf_writer *w, const char *key, bool v) { uint8_t b = v; put_key(w, key, GGUF_VT_BOOL); put(w, &b, 1); }

void gguf_writer_add_str_array(gguf_writer *w, const char *key, const char *const *v, size_t n) {
    put_key(w, key, GGUF_VT_ARRAY);
    put_u32(w, GGUF_VT_STRING);
    put_u64(w, n);
    for (size_t i = 0; i < n; i++) put_str(w, v[i]);
}
void gguf_writer_add_f32_array(gguf_writer *w, const char *key, const float *v, size_t n) {
    put_key(w, key, GGUF_VT_ARRAY);
    put_u32(w, GGUF_VT_FLOAT32);
    put_u64(w, n);
    put(w, v, n * 4);
}
void gguf_writer_add_bool_array(gguf_writer *w, const char *key, const bool *v, size_t n) {
    put_key(w, key, GGUF_VT_ARRAY);
    put_u32(w, GGUF_VT_BOOL);
    put_u64(w, n);
    for (size_t i = 0; i < n; i++) {
        uint8_t b = v[i] ? 1 : 0;
        put(w, &b, 1);
    }
}
void gguf_writer_add_i32_array(gguf_writer *w, const char *key, const int32_t *v, size_t n) {
    put_key(w, key, GGUF_VT_ARRAY);
    put_u32(w, GGUF_VT_INT32);
    put_u64(w, n);
    put(w, v, n * 4);
}

static uint64_t pad(uint64_t x) { return (x + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT; }

int gguf_writer_add_tensor(gguf_writer *w, const char *name, uint32_t type, int n_dims, const uint64_t *ne) {
    if (n_dims < 1 || n_dims > 4 || !ggml_block_elems(type)) return -1;
    uint64_t rows = 1, row_bytes;
    for (int d = 1; d < n_dims; d++) rows *= ne[d];
    if (!ggml_row_bytes(type, ne[0], &row_bytes)) return -1;
    if (w->n_tensors == w->cap_tensors) {
        int cap = w->cap_tensors ? w->cap_tensors * 2 : 64;
        wtensor *t = realloc(w->tensors, (size_t)cap * sizeof *t);
        if (!t) { w->failed = true; return -1; }
        w->tensors = t;
        w->cap_tensors = cap;
    }
    wtensor *t = &w->tensors[w->n_tensors];
    memset(t, 0, sizeof *t);
    t->name = strdup(name);
    if (!t->name) { w->failed = true; return -1; }
    t->type = type;
    t->n_dims = n_dims;
    for (int d = 0; d < 4; d++) t->ne[d] = d < n_dims ? ne[d] : 1;
    t->nbytes = rows * row_bytes;
    t->offset = w->data_size;
    w->data_size = pad(w->data_size + t->nbytes);
    return w->n_tensors++;
}

uint64_t gguf_writer_tensor_bytes(const gguf_writer *w, int i) { return w->tensors[i].nbytes; }
bool gguf_writer_failed(const gguf_writer *w) { return w->failed; }

static int write_zeros(FILE *out, uint64_t n) {
    static const uint8_t zeros[ALIGNMENT];
    return n && fwrite(zeros, 1, (size_t)n, out) != n ? -1 : 0;
}

int gguf_writer_write_header(gguf_writer *w, FILE *out) {
    if (w->failed) return -1;
    uint32_t magic = 0x46554747u, version = 3;
    uint64_t nt = (uint64_t)w->n_tensors;
    uint64_t pos = 0;
    if (fwrite(&magic, 4, 1, out) != 1 || fwrite(&version, 4, 1, out) != 1 ||
        fwrite(&nt, 8, 1, out) != 1 || fwrite(&w->n_kv, 8, 1, out) != 1)
        return -1;
    pos += 24;
    if (w->kv_len && fwrite(w->kv, 1, w->kv_len, out) != w->kv_len) return -1;
    pos += w->kv_len;
    for (int i = 0; i < w->n_tensors; i++) {
        const wtensor *t = &w->tensors[i];
        uint64_t len = strlen(t->name);
        uint32_t nd = (uint32_t)t->n_dims;
        if (fwrite(&len, 8, 1, out) != 1 || fwrite(t->name, 1, len, out) != len ||
            fwrite(&nd, 4, 1, out) != 1 || fwrite(t->ne, 8, nd, out) != nd ||
            fwrite(&t->type, 4, 1, out) != 1 || fwrite(&t->offset, 8, 1, out) != 1)
            return -1;
        pos += 8 + len + 4 + 8 * nd + 4 + 8;
    }
    w->next_to_write = 0;
    return write_zeros(out, pad(pos) - pos);
}

int gguf_writer_write_tensor(gguf_writer *w, FILE *out, int index, const void *data) {
    if (index != w->next_to_write || index >= w->n_tensors) return -1;
    const wtensor *t = &w->tensors[index];
    if (fwrite(data, 1, (size_t)t->nbytes, out) != t->nbytes) return -1;
    w->next_to_write++;
    return write_zeros(out, pad(t->nbytes) - t->nbytes);
}
