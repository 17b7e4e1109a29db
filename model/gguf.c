/* gguf.c — see gguf.h. The parser reads through a cursor that never moves past the end
 * of the buffer; every count is checked against the bytes that remain before anything is
 * allocated for it, so a hostile file cannot make us allocate more than ~its own size. */
#include "gguf.h"
#include "quant.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define GGUF_MAGIC 0x46554747u /* "GGUF" little-endian */
#define GGUF_DEFAULT_ALIGNMENT 32

typedef struct cursor {
    const uint8_t *base;
    uint64_t size, pos;
    const char *name;
    char *err;
    size_t errlen;
} cursor;

static int fail(cursor *c, uint64_t at, const char *fmt, ...) {
    char msg[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(c->err, c->errlen, "%s: %s (at byte %llu)", c->name, msg, (unsigned long long)at);
    return -1;
}

static bool need(cursor *c, uint64_t n) { return n <= c->size - c->pos; }

static int rd(cursor *c, void *dst, uint64_t n, const char *what) {
    if (!need(c, n))
        return fail(c, c->pos, "file ends inside %s (needs %llu more bytes, %llu left)", what,
                    (unsigned long long)n, (unsigned long long)(c->size - c->pos));
    memcpy(dst, c->base + c->pos, n);
    c->pos += n;
    return 0;
}

static int rd_u32(cursor *c, uint32_t *v, const char *what) { return rd(c, v, 4, what); }
static int rd_u64(cursor *c, uint64_t *v, const char *what) { return rd(c, v, 8, what); }

static int rd_str(cursor *c, gguf_str *s, const char *what) {
    uint64_t len = 0;
    uint64_t at = c->pos;
    if (rd_u64(c, &len, what)) return -1;
    if (!need(c, len))
        return fail(c, at, "%s has length %llu but only %llu bytes remain", what,
                    (unsigned long long)len, (unsigned long long)(c->size - c->pos));
    s->ptr = (const char *)c->base + c->pos;
    s->len = len;
    c->pos += len;
    return 0;
}

static uint64_t scalar_size(uint32_t t) {
    switch (t) {
    case GGUF_VT_UINT8: case GGUF_VT_INT8: case GGUF_VT_BOOL: return 1;
    case GGUF_VT_UINT16: case GGUF_VT_INT16: return 2;
    case GGUF_VT_UINT32: case GGUF_VT_INT32: case GGUF_VT_FLOAT32: return 4;
    case GGUF_VT_UINT64: case GGUF_VT_INT64: case GGUF_VT_FLOAT64: return 8;
    default: return 0;
    }
}

const char *gguf_type_name(uint32_t t) {
    static const char *const names[] = {"u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool",
                                        "string", "array", "u64", "i64", "f64"};
    return t < GGUF_VT_COUNT ? names[t] : "unknown";
}

/* Decodes one little-endian scalar of type T at P into the widened union. */
static void load_scalar(uint32_t t, const uint8_t *p, gguf_kv *kv) {
    uint8_t u8; int8_t i8; uint16_t u16; int16_t i16; uint32_t u32; int32_t i32; float f32;
    uint64_t u64; int64_t i64; double f64;
    switch (t) {
    case GGUF_VT_UINT8: memcpy(&u8, p, 1); kv->num.u = u8; break;
    case GGUF_VT_BOOL: memcpy(&u8, p, 1); kv->num.u = u8 != 0; break;
    case GGUF_VT_INT8: memcpy(&i8, p, 1); kv->num.i = i8; break;
    case GGUF_VT_UINT16: memcpy(&u16, p, 2); kv->num.u = u16; break;
    case GGUF_VT_INT16: memcpy(&i16, p, 2); kv->num.i = i16; break;
    case GGUF_VT_UINT32: memcpy(&u32, p, 4); kv->num.u = u32; break;
    case GGUF_VT_INT32: memcpy(&i32, p, 4); kv->num.i = i32; break;
    case GGUF_VT_FLOAT32: memcpy(&f32, p, 4); kv->num.f = f32; break;
    case GGUF_VT_UINT64: memcpy(&u64, p, 8); kv->num.u = u64; break;
    case GGUF_VT_INT64: memcpy(&i64, p, 8); kv->num.i = i64; break;
    case GGUF_VT_FLOAT64: memcpy(&f64, p, 8); kv->num.f = f64; break;
    default: break;
    }
}

static bool is_signed(uint32_t t) {
    return t == GGUF_VT_INT8 || t == GGUF_VT_INT16 || t == GGUF_VT_INT32 || t == GGUF_VT_INT64;
}
static bool is_int(uint32_t t) {
    return t == GGUF_VT_UINT8 || t == GGUF_VT_INT8 || t == GGUF_VT_UINT16 || t == GGUF_VT_INT16 ||
           t == GGUF_VT_UINT32 || t == GGUF_VT_INT32 || t == GGUF_VT_UINT64 || t == GGUF_VT_INT64;
}

static int parse(gguf_file *f, cursor *c) {
    uint32_t magic = 0;
    if (rd_u32(c, &magic, "the header")) return -1;
    if (magic != GGUF_MAGIC) return fail(c, 0, "not a GGUF file (bad magic)");
    if (rd_u32(c, &f->version, "the header")) return -1;
    if (f->version != 2 && f->version != 3)
        return fail(c, 4, "unsupported GGUF version %u (supported: 2, 3)", f->version);
    if (rd_u64(c, &f->n_tensors, "the header") || rd_u64(c, &f->n_kv, "the header")) return -1;
    /* Each key/value takes at least 12 bytes and each tensor entry at least 24: counts that
     * could not fit in the file are rejected before any allocation. */
    if (f->n_kv > (c->size - c->pos) / 12)
        return fail(c, 16, "metadata count %llu cannot fit in a %llu-byte file",
                    (unsigned long long)f->n_kv, (unsigned long long)c->size);
    if (f->n_tensors > (c->size - c->pos) / 24)
        return fail(c, 8, "tensor count %llu cannot fit in a %llu-byte file",
                    (unsigned long long)f->n_tensors, (unsigned long long)c->size);

    f->kv = calloc(f->n_kv ? f->n_kv : 1, sizeof *f->kv);
    if (!f->kv) return fail(c, c->pos, "out of memory");
    /* First pass over metadata counts string-array elements so the offset index is one
     * allocation; second pass fills it. Simpler: grow per array. */
    uint64_t pool_used = 0, pool_cap = 0;
    uint64_t *pool_index = calloc(f->n_kv ? f->n_kv : 1, sizeof *pool_index);
    if (!pool_index) return fail(c, c->pos, "out of memory");

    for (uint64_t i = 0; i < f->n_kv; i++) {
        gguf_kv *kv = &f->kv[i];
        uint64_t at = c->pos;
        char what[64];
        snprintf(what, sizeof what, "metadata entry %llu", (unsigned long long)i);
        if (rd_str(c, &kv->key, what) || rd_u32(c, &kv->type, what)) goto bad;
        if (kv->type == GGUF_VT_STRING) {
            if (rd_str(c, &kv->str, what)) goto bad;
        } else if (kv->type == GGUF_VT_ARRAY) {
            if (rd_u32(c, &kv->arr_type, what) || rd_u64(c, &kv->arr_len, what)) goto bad;
            kv->arr_data = c->base + c->pos;
            if (kv->arr_type == GGUF_VT_STRING) {
                if (kv->arr_len > (c->size - c->pos) / 8) {
                    fail(c, at, "metadata '%.*s': string array of %llu elements cannot fit",
                         (int)(kv->key.len > 80 ? 80 : kv->key.len), kv->key.ptr,
                         (unsigned long long)kv->arr_len);
                    goto bad;
                }
                if (pool_used + kv->arr_len > pool_cap) {
                    uint64_t ncap = pool_cap * 2 + kv->arr_len + 16;
                    gguf_str *np = realloc(f->str_pool, ncap * sizeof *np);
                    if (!np) { fail(c, at, "out of memory"); goto bad; }
                    f->str_pool = np;
                    pool_cap = ncap;
                }
                pool_index[i] = pool_used + 1; /* 0 = none */
                for (uint64_t j = 0; j < kv->arr_len; j++) {
                    if (rd_str(c, &f->str_pool[pool_used + j], what)) goto bad;
                }
                pool_used += kv->arr_len;
            } else if (kv->arr_type == GGUF_VT_ARRAY) {
                fail(c, at, "metadata '%.*s': nested arrays are not supported",
                     (int)(kv->key.len > 80 ? 80 : kv->key.len), kv->key.ptr);
                goto bad;
            } else {
                uint64_t es = scalar_size(kv->arr_type);
                if (!es) {
                    fail(c, at, "metadata '%.*s': unknown array element type %u",
                         (int)(kv->key.len > 80 ? 80 : kv->key.len), kv->key.ptr, kv->arr_type);
                    goto bad;
                }
                if (kv->arr_len > (c->size - c->pos) / es) {
                    fail(c, at, "metadata '%.*s': array of %llu elements runs past the end of the file",
                         (int)(kv->key.len > 80 ? 80 : kv->key.len), kv->key.ptr,
                         (unsigned long long)kv->arr_len);
                    goto bad;
                }
                c->pos += kv->arr_len * es;
            }
        } else {
            uint64_t es = scalar_size(kv->type);
            if (!es) {
                fail(c, at, "metadata '%.*s': unknown value type %u",
                     (int)(kv->key.len > 80 ? 80 : kv->key.len), kv->key.ptr, kv->type);
                goto bad;
            }
            if (!need(c, es)) { fail(c, c->pos, "file ends inside %s", what); goto bad; }
            load_scalar(kv->type, c->base + c->pos, kv);
            c->pos += es;
        }
    }
    for (uint64_t i = 0; i < f->n_kv; i++)
        if (pool_index[i]) f->kv[i].arr_strs = f->str_pool + pool_index[i] - 1;
    free(pool_index);
    pool_index = NULL;

    /* general.alignment: must be a non-zero power of two. */
    f->alignment = GGUF_DEFAULT_ALIGNMENT;
    const gguf_kv *al = gguf_find(f, "general.alignment");
    if (al) {
        if (!is_int(al->type) || (is_signed(al->type) && al->num.i <= 0) || al->num.u == 0 ||
            al->num.u > (1u << 30) || (al->num.u & (al->num.u - 1)))
            return fail(c, 0, "general.alignment must be a power of two, got %lld",
                        (long long)al->num.i);
        f->alignment = al->num.u;
    }

    f->tensors = calloc(f->n_tensors ? f->n_tensors : 1, sizeof *f->tensors);
    if (!f->tensors) return fail(c, c->pos, "out of memory");
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        gguf_tensor *t = &f->tensors[i];
        uint64_t at = c->pos;
        char what[64];
        snprintf(what, sizeof what, "tensor entry %llu", (unsigned long long)i);
        if (rd_str(c, &t->name, what) || rd_u32(c, &t->n_dims, what)) return -1;
        int nl = (int)(t->name.len > 80 ? 80 : t->name.len);
        if (t->n_dims == 0 || t->n_dims > GGUF_MAX_DIMS)
            return fail(c, at, "tensor '%.*s' has %u dimensions (1..4 allowed)", nl, t->name.ptr, t->n_dims);
        uint64_t nelem = 1;
        for (uint32_t d = 0; d < GGUF_MAX_DIMS; d++) t->ne[d] = 1;
        for (uint32_t d = 0; d < t->n_dims; d++) {
            if (rd_u64(c, &t->ne[d], what)) return -1;
            if (t->ne[d] == 0 || t->ne[d] > (1ull << 40) || nelem > (1ull << 48) / t->ne[d])
                return fail(c, at, "tensor '%.*s' has an absurd dimension %llu", nl, t->name.ptr,
                            (unsigned long long)t->ne[d]);
            nelem *= t->ne[d];
        }
        if (rd_u32(c, &t->type, what) || rd_u64(c, &t->offset, what)) return -1;
        uint32_t be = ggml_block_elems(t->type), bb = ggml_block_bytes(t->type);
        if (!be) return fail(c, at, "tensor '%.*s' has unknown type %u", nl, t->name.ptr, t->type);
        if (t->ne[0] % be)
            return fail(c, at, "tensor '%.*s': row length %llu is not a multiple of the %s block size %u",
                        nl, t->name.ptr, (unsigned long long)t->ne[0], ggml_type_name(t->type), be);
        t->nbytes = nelem / be * bb;
        if (t->offset % f->alignment)
            return fail(c, at, "tensor '%.*s' offset %llu is not aligned to %llu", nl, t->name.ptr,
                        (unsigned long long)t->offset, (unsigned long long)f->alignment);
        for (uint64_t j = 0; j < i; j++)
            if (f->tensors[j].name.len == t->name.len &&
                !memcmp(f->tensors[j].name.ptr, t->name.ptr, t->name.len))
                return fail(c, at, "tensor '%.*s' appears twice", nl, t->name.ptr);
    }
    /* Data section starts at the next multiple of the alignment. */
    uint64_t data = c->pos + (f->alignment - c->pos % f->alignment) % f->alignment;
    if (f->n_tensors && data > c->size) return fail(c, c->pos, "file ends before the tensor data section");
    f->data_offset = data;
    uint64_t avail = c->size >= data ? c->size - data : 0;
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        gguf_tensor *t = &f->tensors[i];
        int nl = (int)(t->name.len > 80 ? 80 : t->name.len);
        if (t->offset > avail || t->nbytes > avail - t->offset)
            return fail(c, data + (t->offset < avail ? t->offset : avail),
                        "tensor '%.*s' data (%llu bytes at offset %llu) runs past the end of the file",
                        nl, t->name.ptr, (unsigned long long)t->nbytes, (unsigned long long)t->offset);
        t->data = c->base + data + t->offset;
    }
    /* Overlap check: sort offsets (insertion over an index array; n is small). */
    if (f->n_tensors > 1) {
        uint64_t n = f->n_tensors;
        uint64_t *ord = malloc(n * sizeof *ord);
        if (!ord) return fail(c, 0, "out of memory");
        for (uint64_t i = 0; i < n; i++) ord[i] = i;
        /* heap-free shell sort by offset */
        for (uint64_t gap = n / 2; gap > 0; gap /= 2)
            for (uint64_t i = gap; i < n; i++)
                for (uint64_t j = i; j >= gap && f->tensors[ord[j - gap]].offset > f->tensors[ord[j]].offset; j -= gap) {
                    uint64_t tmp = ord[j]; ord[j] = ord[j - gap]; ord[j - gap] = tmp;
                }
        for (uint64_t i = 1; i < n; i++) {
            const gguf_tensor *a = &f->tensors[ord[i - 1]], *b = &f->tensors[ord[i]];
            if (a->offset + a->nbytes > b->offset) {
                int r = fail(c, data + b->offset, "tensors '%.*s' and '%.*s' overlap",
                             (int)(a->name.len > 60 ? 60 : a->name.len), a->name.ptr,
                             (int)(b->name.len > 60 ? 60 : b->name.len), b->name.ptr);
                free(ord);
                return r;
            }
        }
        free(ord);
    }
    return 0;
bad:
    free(pool_index);
    return -1;
}

int gguf_open_memory(gguf_file *f, const void *buf, uint64_t size, const char *name, char *err,
                     size_t errlen) {
    memset(f, 0, sizeof *f);
    cursor c = {buf, size, 0, name, err, errlen};
    f->map = buf;
    f->size = size;
    f->path = strdup(name);
    if (!f->path || parse(f, &c)) {
        if (!f->path) snprintf(err, errlen, "%s: out of memory", name);
        f->map = NULL; /* caller owns the buffer */
        gguf_close(f);
        return -1;
    }
    return 0;
}

int gguf_open(gguf_file *f, const char *path, char *err, size_t errlen) {
    memset(f, 0, sizeof *f);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: not a regular file", path);
        close(fd);
        return -1;
    }
    if (st.st_size < 24) {
        snprintf(err, errlen, "%s: file is %lld bytes, too short for a GGUF header (24 bytes)", path,
                 (long long)st.st_size);
        close(fd);
        return -1;
    }
    void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (m == MAP_FAILED) {
        snprintf(err, errlen, "%s: cannot map: %s", path, strerror(errno));
        return -1;
    }
    if (gguf_open_memory(f, m, (uint64_t)st.st_size, path, err, errlen)) {
        munmap(m, (size_t)st.st_size);
        return -1;
    }
    f->map = m;
    f->size = (uint64_t)st.st_size;
    f->mapped = true;
    return 0;
}

void gguf_close(gguf_file *f) {
    if (f->mapped && f->map) munmap((void *)f->map, (size_t)f->size);
    free(f->path);
    free(f->kv);
    free(f->tensors);
    free(f->str_pool);
    memset(f, 0, sizeof *f);
}

bool gguf_str_eq(gguf_str s, const char *cstr) {
    size_t n = strlen(cstr);
    return s.len == n && memcmp(s.ptr, cstr, n) == 0;
}

char *gguf_str_dup(gguf_str s) {
    if (s.len > SIZE_MAX - 1) return NULL;
    char *p = malloc((size_t)s.len + 1);
    if (!p) return NULL;
    memcpy(p, s.ptr, (size_t)s.len);
    p[s.len] = 0;
    return p;
}

const gguf_kv *gguf_find(const gguf_file *f, const char *key) {
    for (uint64_t i = 0; i < f->n_kv; i++)
        if (gguf_str_eq(f->kv[i].key, key)) return &f->kv[i];
    return NULL;
}

const gguf_tensor *gguf_find_tensor(const gguf_file *f, const char *name) {
    for (uint64_t i = 0; i < f->n_tensors; i++)
        if (gguf_str_eq(f->tensors[i].name, name)) return &f->tensors[i];
    return NULL;
}

bool gguf_get_i64(const gguf_file *f, const char *key, int64_t *out) {
    const gguf_kv *kv = gguf_find(f, key);
    if (!kv || !is_int(kv->type)) return false;
    if (!is_signed(kv->type) && kv->num.u > (uint64_t)INT64_MAX) return false;
    *out = kv->num.i;
    return true;
}

bool gguf_get_u64(const gguf_file *f, const char *key, uint64_t *out) {
    const gguf_kv *kv = gguf_find(f, key);
    if (!kv || !is_int(kv->type)) return false;
    if (is_signed(kv->type) && kv->num.i < 0) return false;
    *out = kv->num.u;
    return true;
}

bool gguf_get_u32(const gguf_file *f, const char *key, uint32_t *out) {
    uint64_t v;
    if (!gguf_get_u64(f, key, &v) || v > UINT32_MAX) return false;
    *out = (uint32_t)v;
    return true;
}

bool gguf_get_f32(const gguf_file *f, const char *key, float *out) {
    const gguf_kv *kv = gguf_find(f, key);
    if (!kv || (kv->type != GGUF_VT_FLOAT32 && kv->type != GGUF_VT_FLOAT64)) return false;
    *out = (float)kv->num.f;
    return true;
}

bool gguf_get_bool(const gguf_file *f, const char *key, bool *out) {
    const gguf_kv *kv = gguf_find(f, key);
    if (!kv || kv->type != GGUF_VT_BOOL) return false;
    *out = kv->num.u != 0;
    return true;
}

bool gguf_get_str(const gguf_file *f, const char *key, gguf_str *out) {
    const gguf_kv *kv = gguf_find(f, key);
    if (!kv || kv->type != GGUF_VT_STRING) return false;
    *out = kv->str;
    return true;
}

const gguf_kv *gguf_get_arr(const gguf_file *f, const char *key, uint32_t elem_type) {
    const gguf_kv *kv = gguf_find(f, key);
    if (!kv || kv->type != GGUF_VT_ARRAY || kv->arr_type != elem_type) return NULL;
    return kv;
}

gguf_str gguf_arr_str(const gguf_kv *kv, uint64_t i) {
    gguf_str none = {"", 0};
    if (kv->type != GGUF_VT_ARRAY || kv->arr_type != GGUF_VT_STRING || i >= kv->arr_len) return none;
    return kv->arr_strs[i];
}

static const uint8_t *arr_elem(const gguf_kv *kv, uint64_t i, uint64_t *es) {
    *es = scalar_size(kv->arr_type);
    if (kv->type != GGUF_VT_ARRAY || !*es || i >= kv->arr_len) return NULL;
    return kv->arr_data + i * *es;
}

float gguf_arr_f32(const gguf_kv *kv, uint64_t i) {
    uint64_t es;
    const uint8_t *p = arr_elem(kv, i, &es);
    float v = 0;
    if (p && kv->arr_type == GGUF_VT_FLOAT32) memcpy(&v, p, 4);
    return v;
}

int32_t gguf_arr_i32(const gguf_kv *kv, uint64_t i) {
    uint64_t es;
    const uint8_t *p = arr_elem(kv, i, &es);
    int32_t v = 0;
    if (p && kv->arr_type == GGUF_VT_INT32) memcpy(&v, p, 4);
    return v;
}

int64_t gguf_arr_int(const gguf_kv *kv, uint64_t i) {
    uint64_t es;
    const uint8_t *p = arr_elem(kv, i, &es);
    if (!p || !is_int(kv->arr_type)) return 0;
    gguf_kv tmp;
    memset(&tmp, 0, sizeof tmp);
    load_scalar(kv->arr_type, p, &tmp);
    return tmp.num.i;
}
