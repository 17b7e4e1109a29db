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
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(c->err, c->errlen, "%s: %s (at byte %llu)", c->name, msg, (unsigned long long)at);
    return -1;
}

/* Names and keys come from the file: before one goes into an error message it is cut to
 * 48 bytes and every byte outside printable ASCII is written as \xNN, so a hostile name
 * can neither break the one-line error nor send escape sequences to a terminal. */
typedef struct { char s[4 * 48 + 4]; } shown_name;

static shown_name show(gguf_str name) {
    shown_name out;
    size_t o = 0;
    uint64_t n = name.len > 48 ? 48 : name.len;
    for (uint64_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)name.ptr[i];
        if (ch >= 0x20 && ch < 0x7f && ch != '\\') {
            out.s[o++] = (char)ch;
        } else {
            snprintf(out.s + o, sizeof out.s - o, "\\x%02x", ch);
            o += 4;
        }
    }
    if (name.len > n) { memcpy(out.s + o, "...", 3); o += 3; }
    out.s[o] = 0;
    return out;
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

/* True if a whole string (length field and bytes) lies at the cursor. */
static bool str_fits(const cursor *c) {
    uint64_t len;
    if (c->size - c->pos < 8) return false;
    memcpy(&len, c->base + c->pos, 8);
    return len <= c->size - c->pos - 8;
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

/* --- header ------------------------------------------------------------------------ */

static int parse_header(gguf_file *f, cursor *c) {
    uint32_t magic = 0;
    if (rd_u32(c, &magic, "the header")) return -1;
    if (magic != GGUF_MAGIC) {
        uint8_t m[4];
        memcpy(m, &magic, 4);
        return fail(c, 0, "not a GGUF file (magic bytes %02x %02x %02x %02x, expected \"GGUF\")",
                    m[0], m[1], m[2], m[3]);
    }
    if (rd_u32(c, &f->version, "the header")) return -1;
    if (f->version != 2 && f->version != 3) {
        /* A big-endian GGUF has the right magic but its version reads byte-swapped. */
        bool swapped = f->version == 0x02000000u || f->version == 0x03000000u;
        return fail(c, 4, "unsupported GGUF version %u (supported: 2, 3)%s", f->version,
                    swapped ? "; this looks like a big-endian file" : "");
    }
    if (rd_u64(c, &f->n_tensors, "the header") || rd_u64(c, &f->n_kv, "the header")) return -1;
    /* A key/value entry takes at least 13 bytes (key length, type, 1-byte value) and a
     * tensor entry at least 32: counts that could not fit in what is left of the file are
     * rejected here, before anything is allocated for them. */
    uint64_t left = c->size - c->pos;
    if (f->n_kv > left / 13)
        return fail(c, 16, "metadata count %llu cannot fit in a %llu-byte file",
                    (unsigned long long)f->n_kv, (unsigned long long)c->size);
    if (f->n_tensors > left / 32)
        return fail(c, 8, "tensor count %llu cannot fit in a %llu-byte file",
                    (unsigned long long)f->n_tensors, (unsigned long long)c->size);
    return 0;
}

/* --- metadata ---------------------------------------------------------------------- */

/* String arrays are indexed into f->str_pool as they are read. The pool may move while it
 * grows, so each array remembers its start as an index (+1, 0 = none) until the end. */
typedef struct pool_state {
    uint64_t used, cap;
    uint64_t *start; /* per kv */
} pool_state;

static int read_string_array(gguf_file *f, cursor *c, uint64_t i, uint64_t at, pool_state *ps) {
    gguf_kv *kv = &f->kv[i];
    /* every element has at least its 8-byte length */
    if (kv->arr_len > (c->size - c->pos) / 8)
        return fail(c, at, "metadata '%s': array of %llu strings cannot fit in the %llu bytes left",
                    show(kv->key).s, (unsigned long long)kv->arr_len,
                    (unsigned long long)(c->size - c->pos));
    if (ps->used + kv->arr_len > ps->cap) {
        uint64_t ncap = ps->cap * 2 + kv->arr_len + 16;
        gguf_str *np = realloc(f->str_pool, ncap * sizeof *np);
        if (!np) return fail(c, at, "out of memory");
        f->str_pool = np;
        ps->cap = ncap;
    }
    ps->start[i] = ps->used + 1;
    for (uint64_t j = 0; j < kv->arr_len; j++) {
        /* Vocabularies hold 10^5 strings: the message naming the element is only written
         * when the element does not fit (rd_str then fails exactly as it would have). */
        const char *what = "";
        char buf[320];
        if (!str_fits(c)) {
            snprintf(buf, sizeof buf, "element %llu of metadata '%s'", (unsigned long long)j,
                     show(kv->key).s);
            what = buf;
        }
        if (rd_str(c, &f->str_pool[ps->used + j], what)) return -1;
    }
    ps->used += kv->arr_len;
    return 0;
}

static int read_kv(gguf_file *f, cursor *c, uint64_t i, pool_state *ps) {
    gguf_kv *kv = &f->kv[i];
    uint64_t at = c->pos;
    char what[64];
    snprintf(what, sizeof what, "the key of metadata entry %llu", (unsigned long long)i);
    if (rd_str(c, &kv->key, what)) return -1;
    snprintf(what, sizeof what, "metadata entry %llu", (unsigned long long)i);
    if (rd_u32(c, &kv->type, what)) return -1;
    snprintf(what, sizeof what, "the value of metadata entry %llu", (unsigned long long)i);
    if (kv->type == GGUF_VT_STRING) return rd_str(c, &kv->str, what);
    if (kv->type != GGUF_VT_ARRAY) {
        uint64_t es = scalar_size(kv->type);
        if (!es)
            return fail(c, at, "metadata '%s' has unknown value type %u", show(kv->key).s, kv->type);
        if (!need(c, es)) return fail(c, c->pos, "file ends inside %s", what);
        load_scalar(kv->type, c->base + c->pos, kv);
        c->pos += es;
        return 0;
    }
    if (rd_u32(c, &kv->arr_type, what) || rd_u64(c, &kv->arr_len, what)) return -1;
    kv->arr_data = c->base + c->pos;
    if (kv->arr_type == GGUF_VT_STRING) return read_string_array(f, c, i, at, ps);
    if (kv->arr_type == GGUF_VT_ARRAY)
        return fail(c, at, "metadata '%s' is an array of arrays (nested arrays are not supported)",
                    show(kv->key).s);
    uint64_t es = scalar_size(kv->arr_type);
    if (!es)
        return fail(c, at, "metadata '%s' is an array of unknown element type %u", show(kv->key).s,
                    kv->arr_type);
    if (kv->arr_len > (c->size - c->pos) / es)
        return fail(c, at, "metadata '%s': array of %llu %s elements runs past the end of the file",
                    show(kv->key).s, (unsigned long long)kv->arr_len, gguf_type_name(kv->arr_type));
    c->pos += kv->arr_len * es;
    return 0;
}

static int str_cmp(gguf_str a, gguf_str b) {
    uint64_t n = a.len < b.len ? a.len : b.len;
    int r = n ? memcmp(a.ptr, b.ptr, (size_t)n) : 0;
    return r ? r : (a.len > b.len) - (a.len < b.len);
}
static int kv_ptr_by_key(const void *a, const void *b) {
    return str_cmp((*(const gguf_kv *const *)a)->key, (*(const gguf_kv *const *)b)->key);
}

/* Sorts pointers to the entries by key into f->kv_by_key (the lookup index) and refuses
 * a key that appears twice: lookups would silently pick one of them. O(n log n) even for
 * a file that claims a million keys. */
static int index_keys(gguf_file *f, cursor *c) {
    const gguf_kv **ord = malloc((f->n_kv ? f->n_kv : 1) * sizeof *ord);
    if (!ord) return fail(c, 0, "out of memory");
    for (uint64_t i = 0; i < f->n_kv; i++) ord[i] = &f->kv[i];
    qsort(ord, f->n_kv, sizeof *ord, kv_ptr_by_key);
    f->kv_by_key = ord;
    for (uint64_t i = 1; i < f->n_kv; i++)
        if (!str_cmp(ord[i - 1]->key, ord[i]->key))
            return fail(c, (uint64_t)((const uint8_t *)ord[i]->key.ptr - c->base) - 8,
                        "metadata key '%s' appears twice", show(ord[i]->key).s);
    return 0;
}

static int parse_metadata(gguf_file *f, cursor *c) {
    f->kv = calloc(f->n_kv ? f->n_kv : 1, sizeof *f->kv);
    pool_state ps = {0, 0, calloc(f->n_kv ? f->n_kv : 1, sizeof(uint64_t))};
    if (!f->kv || !ps.start) {
        free(ps.start);
        return fail(c, c->pos, "out of memory");
    }
    for (uint64_t i = 0; i < f->n_kv; i++) {
        if (read_kv(f, c, i, &ps)) {
            free(ps.start);
            return -1;
        }
    }
    for (uint64_t i = 0; i < f->n_kv; i++)
        if (ps.start[i] && f->kv[i].arr_len) f->kv[i].arr_strs = f->str_pool + (ps.start[i] - 1);
    free(ps.start);
    return index_keys(f, c);
}

/* general.alignment: a power of two and, as the GGUF specification requires, a multiple
 * of 8, so that tensor data handed out is always aligned for float and block reads. */
static int read_alignment(gguf_file *f, cursor *c) {
    f->alignment = GGUF_DEFAULT_ALIGNMENT;
    const gguf_kv *al = gguf_find(f, "general.alignment");
    if (!al) return 0;
    uint64_t at = (uint64_t)((const uint8_t *)al->key.ptr - c->base) - 8;
    if (!is_int(al->type))
        return fail(c, at, "general.alignment must be an integer, not %s", gguf_type_name(al->type));
    if (is_signed(al->type) && al->num.i < 0)
        return fail(c, at, "general.alignment must be a power of two >= 8, got %lld",
                    (long long)al->num.i);
    uint64_t a = al->num.u;
    if (a < 8 || a > (1u << 30) || (a & (a - 1)))
        return fail(c, at, "general.alignment must be a power of two between 8 and 2^30, got %llu",
                    (unsigned long long)a);
    f->alignment = a;
    return 0;
}

/* --- tensor table ------------------------------------------------------------------ */

static int read_tensor_info(gguf_file *f, cursor *c, uint64_t i) {
    gguf_tensor *t = &f->tensors[i];
    uint64_t at = c->pos;
    char what[64];
    snprintf(what, sizeof what, "the name of tensor entry %llu", (unsigned long long)i);
    if (rd_str(c, &t->name, what)) return -1;
    snprintf(what, sizeof what, "tensor entry %llu", (unsigned long long)i);
    if (rd_u32(c, &t->n_dims, what)) return -1;
    if (t->n_dims == 0 || t->n_dims > GGUF_MAX_DIMS)
        return fail(c, at, "tensor '%s' has %u dimensions (1 to %d allowed)", show(t->name).s,
                    t->n_dims, GGUF_MAX_DIMS);
    /* Element counts are capped far above any real model (2^48 elements) but far below
     * where size arithmetic could overflow: nbytes = nelem / block * block_bytes. */
    uint64_t nelem = 1;
    for (uint32_t d = 0; d < GGUF_MAX_DIMS; d++) t->ne[d] = 1;
    for (uint32_t d = 0; d < t->n_dims; d++) {
        if (rd_u64(c, &t->ne[d], what)) return -1;
        if (t->ne[d] == 0)
            return fail(c, at, "tensor '%s' has a zero-length dimension %u", show(t->name).s, d);
        if (t->ne[d] > (1ull << 48) / nelem)
            return fail(c, at, "tensor '%s' is absurdly large: dimension %u is %llu, %s2^48 elements",
                        show(t->name).s, d, (unsigned long long)t->ne[d],
                        d ? "the product exceeds " : "more than ");
        nelem *= t->ne[d];
    }
    if (rd_u32(c, &t->type, what) || rd_u64(c, &t->offset, what)) return -1;
    uint32_t be = ggml_block_elems(t->type), bb = ggml_block_bytes(t->type);
    if (!be) return fail(c, at, "tensor '%s' has unknown type %u", show(t->name).s, t->type);
    if (t->ne[0] % be)
        return fail(c, at, "tensor '%s': row length %llu is not a multiple of the %s block size %u",
                    show(t->name).s, (unsigned long long)t->ne[0], ggml_type_name(t->type), be);
    t->nbytes = nelem / be * bb;
    if (t->offset % f->alignment)
        return fail(c, at, "tensor '%s' offset %llu is not aligned to %llu", show(t->name).s,
                    (unsigned long long)t->offset, (unsigned long long)f->alignment);
    return 0;
}

static int tensor_ptr_by_name(const void *a, const void *b) {
    return str_cmp((*(const gguf_tensor *const *)a)->name, (*(const gguf_tensor *const *)b)->name);
}
static int tensor_ptr_by_offset(const void *a, const void *b) {
    uint64_t x = (*(const gguf_tensor *const *)a)->offset, y = (*(const gguf_tensor *const *)b)->offset;
    return (x > y) - (x < y);
}

/* Names must be unique (lookups would be ambiguous) and data ranges must not overlap
 * (two tensors sharing bytes is never what a writer meant). Both checks sort an array of
 * pointers, O(n log n); the by-name order is kept as the lookup index. */
static int check_tensor_set(gguf_file *f, cursor *c) {
    uint64_t n = f->n_tensors;
    const gguf_tensor **by_name = malloc((n ? n : 1) * sizeof *by_name);
    if (!by_name) return fail(c, 0, "out of memory");
    for (uint64_t i = 0; i < n; i++) by_name[i] = &f->tensors[i];
    qsort(by_name, n, sizeof *by_name, tensor_ptr_by_name);
    f->tensors_by_name = by_name;
    for (uint64_t i = 1; i < n; i++)
        if (!str_cmp(by_name[i - 1]->name, by_name[i]->name))
            return fail(c, (uint64_t)((const uint8_t *)by_name[i]->name.ptr - c->base) - 8,
                        "tensor name '%s' appears twice", show(by_name[i]->name).s);
    if (n < 2) return 0;
    const gguf_tensor **ord = malloc(n * sizeof *ord);
    if (!ord) return fail(c, 0, "out of memory");
    memcpy(ord, by_name, n * sizeof *ord);
    qsort(ord, n, sizeof *ord, tensor_ptr_by_offset);
    int r = 0;
    for (uint64_t i = 1; i < n && !r; i++) {
        const gguf_tensor *a = ord[i - 1], *b = ord[i];
        if (a->offset + a->nbytes > b->offset) /* both lie inside the file: no overflow */
            r = fail(c, f->data_offset + b->offset,
                     "tensors '%s' and '%s' overlap (bytes %llu..%llu and %llu..%llu of the data section)",
                     show(a->name).s, show(b->name).s, (unsigned long long)a->offset,
                     (unsigned long long)(a->offset + a->nbytes), (unsigned long long)b->offset,
                     (unsigned long long)(b->offset + b->nbytes));
    }
    free(ord);
    return r;
}

static int parse_tensors(gguf_file *f, cursor *c) {
    f->tensors = calloc(f->n_tensors ? f->n_tensors : 1, sizeof *f->tensors);
    if (!f->tensors) return fail(c, c->pos, "out of memory");
    for (uint64_t i = 0; i < f->n_tensors; i++)
        if (read_tensor_info(f, c, i)) return -1;

    /* The data section starts at the next multiple of the alignment. */
    uint64_t data = c->pos + (f->alignment - c->pos % f->alignment) % f->alignment;
    if (f->n_tensors && data > c->size)
        return fail(c, c->size, "file ends before the tensor data section (which starts at byte %llu)",
                    (unsigned long long)data);
    f->data_offset = data;
    uint64_t avail = c->size >= data ? c->size - data : 0;
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        gguf_tensor *t = &f->tensors[i];
        if (t->offset > avail || t->nbytes > avail - t->offset)
            return fail(c, data + (t->offset < avail ? t->offset : avail),
                        "tensor '%s' data (%llu bytes at offset %llu) runs past the end of the file",
                        show(t->name).s, (unsigned long long)t->nbytes, (unsigned long long)t->offset);
        t->data = c->base + data + t->offset;
    }
    return check_tensor_set(f, c);
}

static int parse(gguf_file *f, cursor *c) {
    if (parse_header(f, c) || parse_metadata(f, c) || read_alignment(f, c)) return -1;
    return parse_tensors(f, c);
}

int gguf_open_memory(gguf_file *f, const void *buf, uint64_t size, const char *name, char *err,
                     size_t errlen) {
    memset(f, 0, sizeof *f);
    if (!name) name = "(memory)";
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
    free(f->kv_by_key);
    free(f->tensors_by_name);
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

/* Both lookups binary-search the name-sorted indexes built at open time. */
const gguf_kv *gguf_find(const gguf_file *f, const char *key) {
    gguf_str want = {key, strlen(key)};
    if (!f->kv_by_key) {
        for (uint64_t i = 0; i < f->n_kv; i++)
            if (!str_cmp(f->kv[i].key, want)) return &f->kv[i];
        return NULL;
    }
    uint64_t lo = 0, hi = f->n_kv;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        int r = str_cmp(f->kv_by_key[mid]->key, want);
        if (r == 0) return f->kv_by_key[mid];
        if (r < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

const gguf_tensor *gguf_find_tensor(const gguf_file *f, const char *name) {
    gguf_str want = {name, strlen(name)};
    if (!f->tensors_by_name) {
        for (uint64_t i = 0; i < f->n_tensors; i++)
            if (!str_cmp(f->tensors[i].name, want)) return &f->tensors[i];
        return NULL;
    }
    uint64_t lo = 0, hi = f->n_tensors;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        int r = str_cmp(f->tensors_by_name[mid]->name, want);
        if (r == 0) return f->tensors_by_name[mid];
        if (r < 0) lo = mid + 1;
        else hi = mid;
    }
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
