/* gguf_builder.h — writes GGUF files into memory, byte by byte, for tests.
 *
 * Tests need both well-formed files (to read every value type back) and malformed ones
 * (absurd counts, lengths of 2^64-1, overlapping tensors, ...). A real writer refuses to
 * produce the second kind, so this helper is deliberately dumb: every call appends exactly
 * the bytes the GGUF layout prescribes for that field, with whatever value it is given,
 * and returns the byte position where it started writing so a test can patch that field
 * later (gb_put_u32/gb_put_u64).
 *
 * GGUF layout, as written here (all little-endian):
 *   header:  "GGUF"  u32 version  u64 n_tensors  u64 n_kv
 *   n_kv x   string key  u32 value_type  value
 *            (string = u64 length + bytes; array = u32 elem_type  u64 count  elements)
 *   n_tensors x  string name  u32 n_dims  u64 ne[n_dims]  u32 ggml_type  u64 offset
 *   padding to general.alignment (default 32), then the tensor data section; each
 *   tensor's offset is relative to the start of that section.
 *
 * Allocation failure aborts: this is test scaffolding, not product code. */
#ifndef LLMSCOPE_TESTS_GGUF_BUILDER_H
#define LLMSCOPE_TESTS_GGUF_BUILDER_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Value type ids as the file spells them (kept here so the builder does not depend on the
 * reader it is used to test). */
enum {
    GB_U8 = 0, GB_I8 = 1, GB_U16 = 2, GB_I16 = 3, GB_U32 = 4, GB_I32 = 5, GB_F32 = 6,
    GB_BOOL = 7, GB_STRING = 8, GB_ARRAY = 9, GB_U64 = 10, GB_I64 = 11, GB_F64 = 12
};

typedef struct gbuf {
    uint8_t *p;
    size_t len, cap;
} gbuf;

static inline void gb_reserve(gbuf *b, size_t extra) {
    if (b->len + extra <= b->cap) return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra) cap *= 2;
    uint8_t *p = realloc(b->p, cap);
    if (!p) {
        fprintf(stderr, "gguf_builder: out of memory\n");
        abort();
    }
    b->p = p;
    b->cap = cap;
}

static inline size_t gb_bytes(gbuf *b, const void *src, size_t n) {
    size_t at = b->len;
    gb_reserve(b, n);
    if (n) memcpy(b->p + b->len, src, n);
    b->len += n;
    return at;
}

static inline size_t gb_zeros(gbuf *b, size_t n) {
    size_t at = b->len;
    gb_reserve(b, n);
    memset(b->p + b->len, 0, n);
    b->len += n;
    return at;
}

/* Little-endian stores, written out byte by byte so the file layout never depends on
 * the host's byte order. */
static inline size_t gb_le(gbuf *b, uint64_t v, int nbytes) {
    uint8_t tmp[8];
    for (int i = 0; i < nbytes; i++) tmp[i] = (uint8_t)(v >> (8 * i));
    return gb_bytes(b, tmp, (size_t)nbytes);
}
static inline size_t gb_u8(gbuf *b, uint8_t v) { return gb_le(b, v, 1); }
static inline size_t gb_u16(gbuf *b, uint16_t v) { return gb_le(b, v, 2); }
static inline size_t gb_u32(gbuf *b, uint32_t v) { return gb_le(b, v, 4); }
static inline size_t gb_u64(gbuf *b, uint64_t v) { return gb_le(b, v, 8); }
static inline size_t gb_f32(gbuf *b, float v) {
    uint32_t u;
    memcpy(&u, &v, 4);
    return gb_u32(b, u);
}
static inline size_t gb_f64(gbuf *b, double v) {
    uint64_t u;
    memcpy(&u, &v, 8);
    return gb_u64(b, u);
}

/* Overwrite a field already written at byte AT. */
static inline void gb_put_u32(gbuf *b, size_t at, uint32_t v) {
    for (int i = 0; i < 4; i++) b->p[at + (size_t)i] = (uint8_t)(v >> (8 * i));
}
static inline void gb_put_u64(gbuf *b, size_t at, uint64_t v) {
    for (int i = 0; i < 8; i++) b->p[at + (size_t)i] = (uint8_t)(v >> (8 * i));
}

/* A GGUF string: u64 byte length, then the bytes (no terminator). */
static inline size_t gb_strn(gbuf *b, const char *s, size_t n) {
    size_t at = gb_u64(b, n);
    gb_bytes(b, s, n);
    return at;
}
static inline size_t gb_str(gbuf *b, const char *s) { return gb_strn(b, s, strlen(s)); }

static inline size_t gb_header(gbuf *b, uint32_t version, uint64_t n_tensors, uint64_t n_kv) {
    size_t at = gb_bytes(b, "GGUF", 4);
    gb_u32(b, version);
    gb_u64(b, n_tensors);
    gb_u64(b, n_kv);
    return at;
}

/* Key/value entries. Each returns the position of the entry (its key length field). */
static inline size_t gb_kv_head(gbuf *b, const char *key, uint32_t type) {
    size_t at = gb_str(b, key);
    gb_u32(b, type);
    return at;
}
static inline size_t gb_kv_u32(gbuf *b, const char *key, uint32_t v) {
    size_t at = gb_kv_head(b, key, GB_U32);
    gb_u32(b, v);
    return at;
}
static inline size_t gb_kv_u64(gbuf *b, const char *key, uint64_t v) {
    size_t at = gb_kv_head(b, key, GB_U64);
    gb_u64(b, v);
    return at;
}
static inline size_t gb_kv_f32(gbuf *b, const char *key, float v) {
    size_t at = gb_kv_head(b, key, GB_F32);
    gb_f32(b, v);
    return at;
}
static inline size_t gb_kv_str(gbuf *b, const char *key, const char *v) {
    size_t at = gb_kv_head(b, key, GB_STRING);
    gb_str(b, v);
    return at;
}
/* Array header only: the caller appends COUNT elements of ELEM_TYPE after it. */
static inline size_t gb_kv_arr(gbuf *b, const char *key, uint32_t elem_type, uint64_t count) {
    size_t at = gb_kv_head(b, key, GB_ARRAY);
    gb_u32(b, elem_type);
    gb_u64(b, count);
    return at;
}

/* One tensor-table entry; NE holds the dimensions, innermost first. N_DIMS is written as
 * given, but at most 4 dimensions follow it (NE must have min(N_DIMS, 4) entries), so a
 * test can claim an absurd number of dimensions. */
static inline size_t gb_tensor(gbuf *b, const char *name, uint32_t n_dims, const uint64_t *ne,
                               uint32_t type, uint64_t offset) {
    size_t at = gb_str(b, name);
    gb_u32(b, n_dims);
    for (uint32_t d = 0; d < n_dims && d < 4; d++) gb_u64(b, ne[d]);
    gb_u32(b, type);
    gb_u64(b, offset);
    return at;
}

/* Zero padding up to the next multiple of ALIGN; returns the (aligned) end position. */
static inline size_t gb_pad(gbuf *b, size_t align) {
    size_t pad = (align - b->len % align) % align;
    gb_zeros(b, pad);
    return b->len;
}

/* A malloc'd copy of the first N bytes: exactly N, so AddressSanitizer catches a reader
 * that looks one byte past the end of a truncated file. */
static inline uint8_t *gb_copy(const gbuf *b, size_t n) {
    uint8_t *p = malloc(n ? n : 1);
    if (!p) abort();
    if (n) memcpy(p, b->p, n);
    return p;
}

static inline void gb_free(gbuf *b) {
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

#endif
