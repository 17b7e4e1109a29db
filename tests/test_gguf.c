/* test_gguf.c — the GGUF reader on well-formed input.
 *
 * Files are built byte by byte with tests/gguf_builder.h (every value type, arrays,
 * versions 2 and 3, several alignments, a tensor table of mixed types) and read back; the
 * expected values are the ones written, and the expected sizes are worked out here from
 * the block layouts. Then every GGUF file in ../shared must open, with every tensor inside
 * the file and packed exactly the way llama.cpp's writer packs them. */
#include "gguf.h"
#include "quant.h"
#include "test.h"
#include "gguf_builder.h"

#include <dirent.h>
#include <stdint.h>
#include <time.h>

/* Opens the first B->len bytes of B through an exact-size copy (so ASan sees overreads).
 * *COPY must be freed after gguf_close. */
static int open_built(gguf_file *f, const gbuf *b, uint8_t **copy, char *err, size_t errlen) {
    *copy = gb_copy(b, b->len);
    return gguf_open_memory(f, *copy, b->len, "built.gguf", err, errlen);
}

static bool str_is(gguf_str s, const char *want, size_t n) {
    return s.len == n && memcmp(s.ptr, want, n) == 0;
}

/* --- every scalar value type ---------------------------------------------------------- */

static void build_scalars(gbuf *b, uint32_t version) {
    gb_header(b, version, 0, 14);
    gb_kv_head(b, "u8", GB_U8), gb_u8(b, 200);
    gb_kv_head(b, "i8", GB_I8), gb_u8(b, (uint8_t)-100);
    gb_kv_head(b, "u16", GB_U16), gb_u16(b, 60000);
    gb_kv_head(b, "i16", GB_I16), gb_u16(b, (uint16_t)-30000);
    gb_kv_head(b, "u32", GB_U32), gb_u32(b, 4000000000u);
    gb_kv_head(b, "i32", GB_I32), gb_u32(b, (uint32_t)-2000000000);
    gb_kv_head(b, "f32", GB_F32), gb_f32(b, 3.25f);
    gb_kv_head(b, "bool.t", GB_BOOL), gb_u8(b, 1);
    gb_kv_head(b, "bool.f", GB_BOOL), gb_u8(b, 0);
    gb_kv_head(b, "str", GB_STRING), gb_strn(b, "hello\0world", 11);
    gb_kv_head(b, "u64", GB_U64), gb_u64(b, UINT64_MAX);
    gb_kv_head(b, "i64", GB_I64), gb_u64(b, (uint64_t)INT64_MIN);
    gb_kv_head(b, "f64", GB_F64), gb_f64(b, 0.1);
    gb_kv_str(b, "", "empty key");
}

static void check_scalars(const gguf_file *f) {
    CHECK(f->n_kv == 14 && f->n_tensors == 0);
    static const struct { const char *key; uint32_t type; } types[] = {
        {"u8", GGUF_VT_UINT8}, {"i8", GGUF_VT_INT8}, {"u16", GGUF_VT_UINT16},
        {"i16", GGUF_VT_INT16}, {"u32", GGUF_VT_UINT32}, {"i32", GGUF_VT_INT32},
        {"f32", GGUF_VT_FLOAT32}, {"bool.t", GGUF_VT_BOOL}, {"str", GGUF_VT_STRING},
        {"u64", GGUF_VT_UINT64}, {"i64", GGUF_VT_INT64}, {"f64", GGUF_VT_FLOAT64}};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        const gguf_kv *kv = gguf_find(f, types[i].key);
        CHECKF(kv && kv->type == types[i].type, "key %s: type %u, expected %u", types[i].key,
               kv ? kv->type : 999u, types[i].type);
    }
    uint32_t u32 = 0;
    uint64_t u64 = 0;
    int64_t i64 = 0;
    float f32 = 0;
    bool bl = false;
    gguf_str s;
    /* integers widen to any getter they fit in, and only then */
    CHECK(gguf_get_u32(f, "u8", &u32) && u32 == 200);
    CHECK(gguf_get_i64(f, "i8", &i64) && i64 == -100);
    CHECK(!gguf_get_u32(f, "i8", &u32) && !gguf_get_u64(f, "i8", &u64));
    CHECK(gguf_get_u32(f, "u16", &u32) && u32 == 60000);
    CHECK(gguf_get_i64(f, "i16", &i64) && i64 == -30000);
    CHECK(gguf_get_u32(f, "u32", &u32) && u32 == 4000000000u);
    CHECK(gguf_get_i64(f, "i32", &i64) && i64 == -2000000000);
    CHECK(gguf_get_u64(f, "u64", &u64) && u64 == UINT64_MAX);
    CHECK(!gguf_get_u32(f, "u64", &u32));  /* does not fit */
    CHECK(!gguf_get_i64(f, "u64", &i64));  /* does not fit */
    CHECK(gguf_get_i64(f, "i64", &i64) && i64 == INT64_MIN);
    CHECK(!gguf_get_u64(f, "i64", &u64));
    /* floats: f32 exact, f64 narrowed; integers are not floats and vice versa */
    CHECK(gguf_get_f32(f, "f32", &f32) && f32 == 3.25f);
    CHECK(gguf_get_f32(f, "f64", &f32) && f32 == (float)0.1);
    CHECK(gguf_find(f, "f64") && gguf_find(f, "f64")->num.f == 0.1);
    CHECK(!gguf_get_f32(f, "u32", &f32) && !gguf_get_u32(f, "f32", &u32));
    CHECK(gguf_get_bool(f, "bool.t", &bl) && bl);
    CHECK(gguf_get_bool(f, "bool.f", &bl) && !bl);
    CHECK(!gguf_get_bool(f, "u8", &bl));
    /* strings are length-delimited: an embedded NUL is just a byte */
    CHECK(gguf_get_str(f, "str", &s) && str_is(s, "hello\0world", 11));
    CHECK(!gguf_get_str(f, "u8", &s));
    char *dup = gguf_get_str(f, "str", &s) ? gguf_str_dup(s) : NULL;
    CHECK(dup && memcmp(dup, "hello\0world", 12) == 0);
    free(dup);
    CHECK(gguf_get_str(f, "", &s) && gguf_str_eq(s, "empty key"));
    /* absent keys, and keys that are only a prefix of a real one */
    CHECK(!gguf_find(f, "missing") && !gguf_get_u32(f, "missing", &u32) && !gguf_find(f, "u"));
    CHECK(!gguf_get_str(f, "st", &s) && !gguf_find(f, "u8 "));
}

static void test_every_scalar_type(void) {
    for (uint32_t version = 2; version <= 3; version++) {
        gbuf b = {0};
        build_scalars(&b, version);
        gguf_file f;
        uint8_t *copy;
        char err[512] = "";
        int rc = open_built(&f, &b, &copy, err, sizeof err);
        CHECKF(rc == 0, "version %u: %s", version, err);
        if (rc == 0) {
            CHECK(f.version == version);
            CHECK(f.alignment == 32); /* the default when general.alignment is absent */
            check_scalars(&f);
            gguf_close(&f);
        }
        free(copy);
        gb_free(&b);
    }
}

/* --- arrays ---------------------------------------------------------------------------- */

static void test_arrays_of_every_type(void) {
    gbuf b = {0};
    gb_header(&b, 3, 0, 14);
    gb_kv_arr(&b, "a.u8", GB_U8, 3), gb_u8(&b, 0), gb_u8(&b, 128), gb_u8(&b, 255);
    gb_kv_arr(&b, "a.i8", GB_I8, 3), gb_u8(&b, 0x80), gb_u8(&b, 0xff), gb_u8(&b, 127);
    gb_kv_arr(&b, "a.u16", GB_U16, 2), gb_u16(&b, 65535), gb_u16(&b, 1);
    gb_kv_arr(&b, "a.i16", GB_I16, 2), gb_u16(&b, 0x8000), gb_u16(&b, 2);
    gb_kv_arr(&b, "a.u32", GB_U32, 2), gb_u32(&b, 0xffffffffu), gb_u32(&b, 3);
    gb_kv_arr(&b, "a.i32", GB_I32, 3), gb_u32(&b, (uint32_t)-5), gb_u32(&b, 0x7fffffff), gb_u32(&b, 0x80000000u);
    gb_kv_arr(&b, "a.u64", GB_U64, 1), gb_u64(&b, 123456789012345ull);
    gb_kv_arr(&b, "a.i64", GB_I64, 1), gb_u64(&b, (uint64_t)-9000000000000000000ll);
    gb_kv_arr(&b, "a.f32", GB_F32, 3), gb_f32(&b, -0.0f), gb_f32(&b, 1.5f), gb_f32(&b, -1e30f);
    gb_kv_arr(&b, "a.f64", GB_F64, 2), gb_f64(&b, 2.5), gb_f64(&b, -1e300);
    gb_kv_arr(&b, "a.bool", GB_BOOL, 2), gb_u8(&b, 1), gb_u8(&b, 0);
    gb_kv_arr(&b, "a.empty", GB_U32, 0);
    gb_kv_arr(&b, "a.strs.empty", GB_STRING, 0);
    gb_kv_u32(&b, "after", 7); /* proves the cursor stepped over each array exactly */

    gguf_file f;
    uint8_t *copy;
    char err[512] = "";
    int rc = open_built(&f, &b, &copy, err, sizeof err);
    CHECKF(rc == 0, "%s", err);
    if (rc == 0) {
        const gguf_kv *kv;
        uint32_t after = 0;
        CHECK(gguf_get_u32(&f, "after", &after) && after == 7);
        CHECK((kv = gguf_get_arr(&f, "a.u8", GGUF_VT_UINT8)) && kv->arr_len == 3 &&
              gguf_arr_int(kv, 0) == 0 && gguf_arr_int(kv, 1) == 128 && gguf_arr_int(kv, 2) == 255);
        CHECK((kv = gguf_get_arr(&f, "a.i8", GGUF_VT_INT8)) && gguf_arr_int(kv, 0) == -128 &&
              gguf_arr_int(kv, 1) == -1 && gguf_arr_int(kv, 2) == 127);
        CHECK((kv = gguf_get_arr(&f, "a.u16", GGUF_VT_UINT16)) && gguf_arr_int(kv, 0) == 65535 &&
              gguf_arr_int(kv, 1) == 1);
        CHECK((kv = gguf_get_arr(&f, "a.i16", GGUF_VT_INT16)) && gguf_arr_int(kv, 0) == -32768 &&
              gguf_arr_int(kv, 1) == 2);
        CHECK((kv = gguf_get_arr(&f, "a.u32", GGUF_VT_UINT32)) && gguf_arr_int(kv, 0) == 4294967295ll &&
              gguf_arr_int(kv, 1) == 3);
        CHECK((kv = gguf_get_arr(&f, "a.i32", GGUF_VT_INT32)) && gguf_arr_i32(kv, 0) == -5 &&
              gguf_arr_i32(kv, 1) == INT32_MAX && gguf_arr_i32(kv, 2) == INT32_MIN &&
              gguf_arr_int(kv, 2) == INT32_MIN);
        CHECK((kv = gguf_get_arr(&f, "a.u64", GGUF_VT_UINT64)) && gguf_arr_int(kv, 0) == 123456789012345ll);
        CHECK((kv = gguf_get_arr(&f, "a.i64", GGUF_VT_INT64)) &&
              gguf_arr_int(kv, 0) == -9000000000000000000ll);
        kv = gguf_get_arr(&f, "a.f32", GGUF_VT_FLOAT32);
        CHECK(kv && kv->arr_len == 3);
        if (kv) {
            float z = gguf_arr_f32(kv, 0);
            CHECK(z == 0.0f && signbit(z));
            CHECK(gguf_arr_f32(kv, 1) == 1.5f && gguf_arr_f32(kv, 2) == -1e30f);
            CHECK(gguf_arr_int(kv, 1) == 0); /* floats are not integers */
        }
        kv = gguf_get_arr(&f, "a.f64", GGUF_VT_FLOAT64);
        CHECK(kv && kv->arr_len == 2);
        if (kv) { /* no typed accessor: the raw little-endian elements */
            double d[2];
            memcpy(d, kv->arr_data, sizeof d);
            CHECK(d[0] == 2.5 && d[1] == -1e300);
        }
        kv = gguf_get_arr(&f, "a.bool", GGUF_VT_BOOL);
        CHECK(kv && kv->arr_len == 2 && kv->arr_data[0] == 1 && kv->arr_data[1] == 0);
        CHECK((kv = gguf_get_arr(&f, "a.empty", GGUF_VT_UINT32)) && kv->arr_len == 0 &&
              gguf_arr_int(kv, 0) == 0);
        CHECK((kv = gguf_get_arr(&f, "a.strs.empty", GGUF_VT_STRING)) && kv->arr_len == 0 &&
              gguf_arr_str(kv, 0).len == 0);
        /* wrong element type, not an array, out of range */
        CHECK(!gguf_get_arr(&f, "a.u8", GGUF_VT_INT8) && !gguf_get_arr(&f, "after", GGUF_VT_UINT32));
        CHECK(!gguf_get_arr(&f, "a.i32", GGUF_VT_UINT32));
        kv = gguf_get_arr(&f, "a.i32", GGUF_VT_INT32);
        CHECK(kv && gguf_arr_i32(kv, 3) == 0 && gguf_arr_int(kv, UINT64_MAX) == 0 &&
              gguf_arr_f32(kv, 0) == 0.0f);
        gguf_close(&f);
    }
    free(copy);
    gb_free(&b);
}

/* Several string arrays, so the reader's index has to grow (and move) between them;
 * elements of varying length including empty ones and embedded NULs, read back in a
 * scrambled order. */
static void string_element(uint64_t i, char *buf, size_t *len) {
    if (i % 100 == 0) { *len = 0; return; }
    int n = snprintf(buf, 64, "s%llu", (unsigned long long)i);
    size_t extra = i % 17;
    memset(buf + n, 'x', extra);
    if (i % 13 == 0 && extra) buf[n] = '\0';
    *len = (size_t)n + extra;
}

static void test_string_array_random_access(void) {
    const uint64_t n_big = 5000;
    gbuf b = {0};
    gb_header(&b, 3, 0, 4);
    gb_kv_arr(&b, "small", GB_STRING, 3), gb_str(&b, "a"), gb_str(&b, ""), gb_str(&b, "ccc");
    gb_kv_arr(&b, "big", GB_STRING, n_big);
    for (uint64_t i = 0; i < n_big; i++) {
        char buf[96];
        size_t len;
        string_element(i, buf, &len);
        gb_strn(&b, buf, len);
    }
    gb_kv_u32(&b, "between", 1);
    gb_kv_arr(&b, "tail", GB_STRING, 2), gb_str(&b, "<|im_end|>"), gb_str(&b, "\xe2\x96\x81the");

    gguf_file f;
    uint8_t *copy;
    char err[512] = "";
    int rc = open_built(&f, &b, &copy, err, sizeof err);
    CHECKF(rc == 0, "%s", err);
    if (rc == 0) {
        const gguf_kv *small = gguf_get_arr(&f, "small", GGUF_VT_STRING);
        const gguf_kv *big = gguf_get_arr(&f, "big", GGUF_VT_STRING);
        const gguf_kv *tail = gguf_get_arr(&f, "tail", GGUF_VT_STRING);
        CHECK(small && big && tail);
        if (small && big && tail) {
            CHECK(gguf_str_eq(gguf_arr_str(small, 0), "a") && gguf_arr_str(small, 1).len == 0 &&
                  gguf_str_eq(gguf_arr_str(small, 2), "ccc"));
            CHECK(gguf_arr_str(small, 3).len == 0); /* out of range: empty */
            CHECK(big->arr_len == n_big);
            uint64_t x = 12345, bad = 0;
            for (uint64_t k = 0; k < 3 * n_big; k++) {
                x = x * 6364136223846793005ull + 1442695040888963407ull;
                uint64_t i = (x >> 33) % n_big;
                char want[96];
                size_t len;
                string_element(i, want, &len);
                gguf_str s = gguf_arr_str(big, i);
                /* every element lies inside the file */
                if (!str_is(s, want, len) ||
                    (len && ((const uint8_t *)s.ptr < copy || (const uint8_t *)s.ptr + s.len > copy + b.len)))
                    bad++;
            }
            CHECKF(bad == 0, "%llu of %llu random reads of 'big' were wrong", (unsigned long long)bad,
                   (unsigned long long)(3 * n_big));
            CHECK(gguf_str_eq(gguf_arr_str(big, n_big - 1), "s4999x" /* 4999 % 17 == 1 */));
            CHECK(gguf_arr_str(big, n_big).len == 0);
            CHECK(gguf_str_eq(gguf_arr_str(tail, 0), "<|im_end|>") &&
                  gguf_str_eq(gguf_arr_str(tail, 1), "\xe2\x96\x81the"));
            CHECK(gguf_arr_str(big, 0).len == 0 && gguf_arr_str(big, 100).len == 0);
        }
        gguf_close(&f);
    }
    free(copy);
    gb_free(&b);
}

/* --- tensor table, alignment ------------------------------------------------------------- */

typedef struct tensor_spec {
    const char *name;
    uint32_t n_dims;
    uint64_t ne[4];
    uint32_t type;
    uint64_t nbytes; /* worked out by hand from the block layout */
} tensor_spec;

/* Sizes: f32 4 B/elem, f16/bf16 2; q8_0 34 B per 32; q4_0 18 B per 32; q4_K 144 B per
 * 256; q6_K 210 B per 256; q5_K 176 B per 256. */
static const tensor_spec SPECS[] = {
    {"f32.vec", 1, {5}, GGML_TYPE_F32, 20},
    {"f16.mat", 2, {4, 3}, GGML_TYPE_F16, 24},
    {"q8.mat", 2, {64, 3}, GGML_TYPE_Q8_0, 2 * 34 * 3},
    {"q4k.mat", 2, {256, 2}, GGML_TYPE_Q4_K, 2 * 144},
    {"bf16.4d", 4, {2, 3, 4, 5}, GGML_TYPE_BF16, 2 * 120},
    {"q6k", 1, {512}, GGML_TYPE_Q6_K, 2 * 210},
    {"q4_0.3d", 3, {32, 1, 1}, GGML_TYPE_Q4_0, 18},
    {"q5k", 2, {256, 1}, GGML_TYPE_Q5_K, 176},
};
#define N_SPECS (sizeof SPECS / sizeof SPECS[0])

static uint64_t round_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

/* Builds a file holding SPECS at ALIGNMENT (0 = leave general.alignment out, i.e. 32),
 * each tensor's bytes filled with a pattern that names the tensor. Returns in OFFSETS the
 * offsets written and in *DATA_AT where the data section starts. */
static void build_tensors(gbuf *b, uint32_t version, uint64_t alignment, uint64_t *offsets,
                          size_t *data_at) {
    uint64_t a = alignment ? alignment : 32;
    gb_header(b, version, N_SPECS, alignment ? 2 : 1);
    gb_kv_str(b, "general.architecture", "test");
    if (alignment) gb_kv_u32(b, "general.alignment", (uint32_t)alignment);
    uint64_t off = 0;
    for (size_t i = 0; i < N_SPECS; i++) {
        offsets[i] = off;
        gb_tensor(b, SPECS[i].name, SPECS[i].n_dims, SPECS[i].ne, SPECS[i].type, off);
        off = round_up(off + SPECS[i].nbytes, a);
    }
    *data_at = gb_pad(b, a);
    for (size_t i = 0; i < N_SPECS; i++) {
        gb_pad(b, a);
        for (uint64_t k = 0; k < SPECS[i].nbytes; k++) gb_u8(b, (uint8_t)(i * 31 + k * 7));
    }
}

static void check_tensors(const gguf_file *f, const uint8_t *base, const uint64_t *offsets,
                          size_t data_at, uint64_t alignment) {
    CHECK(f->n_tensors == N_SPECS);
    CHECK(f->alignment == alignment);
    CHECKF(f->data_offset == data_at, "data section at %llu, written at %zu",
           (unsigned long long)f->data_offset, data_at);
    for (size_t i = 0; i < N_SPECS && i < f->n_tensors; i++) {
        const tensor_spec *s = &SPECS[i];
        const gguf_tensor *t = gguf_find_tensor(f, s->name);
        CHECKF(t == &f->tensors[i], "%s not found in table order", s->name);
        if (!t) continue;
        CHECK(t->n_dims == s->n_dims && t->type == s->type);
        for (uint32_t d = 0; d < 4; d++)
            CHECKF(t->ne[d] == (d < s->n_dims ? s->ne[d] : 1), "%s ne[%u] = %llu", s->name, d,
                   (unsigned long long)t->ne[d]);
        CHECKF(t->nbytes == s->nbytes, "%s: nbytes %llu, expected %llu", s->name,
               (unsigned long long)t->nbytes, (unsigned long long)s->nbytes);
        CHECK(t->offset == offsets[i]);
        CHECK((const uint8_t *)t->data == base + data_at + offsets[i]);
        CHECK((uint64_t)((const uint8_t *)t->data - base) % alignment == 0);
        const uint8_t *p = t->data;
        uint64_t wrong = 0;
        for (uint64_t k = 0; k < s->nbytes; k++) wrong += p[k] != (uint8_t)(i * 31 + k * 7);
        CHECKF(wrong == 0, "%s: %llu data bytes differ", s->name, (unsigned long long)wrong);
    }
    CHECK(!gguf_find_tensor(f, "f32") && !gguf_find_tensor(f, "f32.vec2") && !gguf_find_tensor(f, ""));
}

static void test_tensor_table(void) {
    for (uint32_t version = 2; version <= 3; version++) {
        gbuf b = {0};
        uint64_t offsets[N_SPECS];
        size_t data_at;
        build_tensors(&b, version, 0, offsets, &data_at);
        gguf_file f;
        uint8_t *copy;
        char err[512] = "";
        int rc = open_built(&f, &b, &copy, err, sizeof err);
        CHECKF(rc == 0, "version %u: %s", version, err);
        if (rc == 0) {
            check_tensors(&f, copy, offsets, data_at, 32);
            gguf_close(&f);
        }
        free(copy);
        gb_free(&b);
    }
}

static void test_alignment(void) {
    static const uint64_t good[] = {8, 16, 32, 64, 128, 4096};
    for (size_t k = 0; k < sizeof good / sizeof good[0]; k++) {
        gbuf b = {0};
        uint64_t offsets[N_SPECS];
        size_t data_at;
        build_tensors(&b, 3, good[k], offsets, &data_at);
        gguf_file f;
        uint8_t *copy;
        char err[512] = "";
        int rc = open_built(&f, &b, &copy, err, sizeof err);
        CHECKF(rc == 0, "alignment %llu: %s", (unsigned long long)good[k], err);
        if (rc == 0) {
            check_tensors(&f, copy, offsets, data_at, good[k]);
            gguf_close(&f);
        }
        free(copy);
        gb_free(&b);
    }
    /* A tensor offset that is a multiple of 32 but not of 64 is misaligned at 64. */
    {
        gbuf b = {0};
        uint64_t ne[1] = {8};
        gb_header(&b, 3, 2, 1);
        gb_kv_u32(&b, "general.alignment", 64);
        gb_tensor(&b, "a", 1, ne, GGML_TYPE_F32, 0);
        gb_tensor(&b, "b", 1, ne, GGML_TYPE_F32, 32);
        gb_pad(&b, 64);
        gb_zeros(&b, 64);
        gguf_file f;
        uint8_t *copy;
        char err[512] = "";
        CHECK(open_built(&f, &b, &copy, err, sizeof err) == -1);
        CHECKF(strstr(err, "'b'") && strstr(err, "not aligned to 64"), "err: %s", err);
        free(copy);
        gb_free(&b);
    }
    /* general.alignment values that are not a power of two >= 8, or not integers */
    static const struct { uint32_t type; uint64_t value; } bad[] = {
        {GB_U32, 48}, {GB_U32, 0}, {GB_U32, 1}, {GB_U32, 4}, {GB_U32, 96},
        {GB_U32, 0x80000000u}, {GB_U64, 1ull << 40}, {GB_I32, (uint32_t)-32},
        {GB_F32, 0x42000000u /* 32.0f */}, {GB_STRING, 0}};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        gbuf b = {0};
        gb_header(&b, 3, 0, 1);
        gb_kv_head(&b, "general.alignment", bad[k].type);
        if (bad[k].type == GB_U64) gb_u64(&b, bad[k].value);
        else if (bad[k].type == GB_STRING) gb_str(&b, "32");
        else gb_u32(&b, (uint32_t)bad[k].value);
        gguf_file f;
        uint8_t *copy;
        char err[512] = "";
        CHECKF(open_built(&f, &b, &copy, err, sizeof err) == -1, "alignment case %zu accepted", k);
        CHECKF(strstr(err, "general.alignment") && !strchr(err, '\n'), "case %zu: %s", k, err);
        free(copy);
        gb_free(&b);
    }
}

/* --- lookups ------------------------------------------------------------------------------- */

/* Lookups must stay fast and exact on files with very many entries (the model loader does
 * one per tensor it needs): 100000 tensors and 20000 keys, every one looked up. */
static void test_lookups_at_scale(void) {
    const size_t n_t = 100000, n_kv = 20000;
    gbuf b = {0};
    gb_header(&b, 3, n_t, n_kv);
    for (size_t i = 0; i < n_kv; i++) {
        char key[48];
        snprintf(key, sizeof key, "key.%zu.%zu", (i * 7919) % n_kv, i % 3);
        gb_kv_u32(&b, key, (uint32_t)i);
    }
    for (size_t i = 0; i < n_t; i++) {
        char name[48];
        snprintf(name, sizeof name, "blk.%zu.w", (i * 104729) % n_t);
        uint64_t ne = 8;
        gb_tensor(&b, name, 1, &ne, GGML_TYPE_F32, 32 * (uint64_t)i);
    }
    gb_pad(&b, 32);
    gb_zeros(&b, 32 * n_t);
    gguf_file f;
    uint8_t *copy;
    char err[512] = "";
    int rc = open_built(&f, &b, &copy, err, sizeof err);
    CHECKF(rc == 0, "%s", err);
    if (rc == 0) {
        clock_t t0 = clock();
        size_t bad = 0;
        for (size_t i = 0; i < n_t; i++) {
            char name[48];
            snprintf(name, sizeof name, "blk.%zu.w", (i * 104729) % n_t);
            if (gguf_find_tensor(&f, name) != &f.tensors[i]) bad++;
        }
        for (size_t i = 0; i < n_kv; i++) {
            char key[48];
            snprintf(key, sizeof key, "key.%zu.%zu", (i * 7919) % n_kv, i % 3);
            uint32_t v = 0;
            if (gguf_find(&f, key) != &f.kv[i] || !gguf_get_u32(&f, key, &v) || v != i) bad++;
        }
        bad += gguf_find_tensor(&f, "blk.100000.w") != NULL;
        bad += gguf_find_tensor(&f, "blk.1.") != NULL;
        bad += gguf_find(&f, "key.0") != NULL;
        double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
        CHECKF(bad == 0, "%zu lookups wrong", bad);
        CHECKF(secs < 10, "120000 lookups took %.1f s", secs);
        gguf_close(&f);
    }
    free(copy);
    gb_free(&b);
    /* a gguf_file assembled by hand (no index) is searched linearly */
    gguf_kv kv[2] = {{.key = {"b", 1}}, {.key = {"a", 1}}};
    gguf_tensor t[2] = {{.name = {"y", 1}}, {.name = {"x", 1}}};
    gguf_file hand = {.n_kv = 2, .kv = kv, .n_tensors = 2, .tensors = t};
    CHECK(gguf_find(&hand, "a") == &kv[1] && gguf_find(&hand, "c") == NULL);
    CHECK(gguf_find_tensor(&hand, "x") == &t[1] && gguf_find_tensor(&hand, "z") == NULL);
}

/* --- the real files in ../shared ---------------------------------------------------------- */

/* Every tensor lies inside the file, aligned, and -- since these files were written by
 * llama.cpp / gguf-py, which pack tensors back to back with padding to the alignment --
 * each tensor starts exactly where the previous one's padded end is, and the last one
 * ends within one alignment unit of the end of the file. That cross-checks the reader's
 * size computation for every storage type present against an independent writer. */
static int check_real_file(const char *path) {
    gguf_file f;
    char err[512] = "";
    if (gguf_open(&f, path, err, sizeof err)) {
        CHECKF(0, "%s", err);
        return 0;
    }
    CHECKF(f.version == 2 || f.version == 3, "%s: version %u", path, f.version);
    CHECK(f.data_offset % f.alignment == 0);
    const uint8_t *lo = f.map + f.data_offset, *hi = f.map + f.size;
    uint64_t expect_next = 0, bad_place = 0, bad_range = 0;
    /* tensors in offset order: the table is in offset order in these files */
    for (uint64_t i = 0; i < f.n_tensors; i++) {
        const gguf_tensor *t = &f.tensors[i];
        const uint8_t *p = t->data;
        if (p < lo || p > hi || t->nbytes > (uint64_t)(hi - p)) bad_range++;
        if ((uint64_t)(p - f.map) % f.alignment) bad_range++;
        uint64_t rb = 0;
        if (!ggml_row_bytes(t->type, t->ne[0], &rb) || rb * t->ne[1] * t->ne[2] * t->ne[3] != t->nbytes)
            bad_range++;
        if (t->offset != expect_next) bad_place++;
        expect_next = round_up(t->offset + t->nbytes, f.alignment);
    }
    CHECKF(bad_range == 0, "%s: %llu tensors outside the file or misaligned", path,
           (unsigned long long)bad_range);
    CHECKF(bad_place == 0, "%s: %llu tensors not where a packed layout puts them", path,
           (unsigned long long)bad_place);
    if (f.n_tensors) {
        uint64_t end = f.data_offset + expect_next;
        CHECKF(f.size <= end && end - f.size < f.alignment, "%s: file is %llu bytes, tensors end at %llu",
               path, (unsigned long long)f.size, (unsigned long long)end);
    }
    /* every string and string-array element inside the mapping */
    uint64_t bad_str = 0;
    for (uint64_t i = 0; i < f.n_kv; i++) {
        const gguf_kv *kv = &f.kv[i];
        if (kv->type == GGUF_VT_STRING &&
            ((const uint8_t *)kv->str.ptr < f.map || (const uint8_t *)kv->str.ptr + kv->str.len > hi))
            bad_str++;
        if (kv->type == GGUF_VT_ARRAY && kv->arr_type == GGUF_VT_STRING)
            for (uint64_t j = 0; j < kv->arr_len; j++) {
                gguf_str s = gguf_arr_str(kv, j);
                if ((const uint8_t *)s.ptr < f.map || (const uint8_t *)s.ptr + s.len > hi) bad_str++;
            }
    }
    CHECKF(bad_str == 0, "%s: %llu strings outside the file", path, (unsigned long long)bad_str);
    gguf_close(&f);
    return 1;
}

/* Checks every *.gguf in SHARED/SUB; returns how many opened. */
static int check_dir(const char *shared, const char *sub) {
    char dir[1024];
    int opened = 0;
    snprintf(dir, sizeof dir, "%s/%s", shared, sub);
    DIR *d = opendir(dir);
    if (!d) return 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n < 5 || strcmp(e->d_name + n - 5, ".gguf")) continue;
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        opened += check_real_file(path);
    }
    closedir(d);
    return opened;
}

static void test_real_files_open(void) {
    const char *shared = test_shared_dir();
    if (!shared) SKIP("../shared not found (the shared models are needed)");
    int n_models = check_dir(shared, "models");
    int n_golden = check_dir(shared, "golden");
    int n_vocab = check_dir(shared, "tokenizer/llama.cpp-vocab");
    CHECKF(n_models >= 14, "only %d model files opened", n_models);
    CHECKF(n_golden >= 14 && n_vocab > 0, "golden: %d, vocab: %d files opened", n_golden, n_vocab);
}

/* Facts stated in ../shared/README.md, read through the typed getters. */
static void test_real_metadata(void) {
    char path[1024];
    REQUIRE_SHARED(path, "models/stories260K.gguf");
    gguf_file f;
    char err[512] = "";
    gguf_str s;
    uint32_t u = 0;
    CHECKF(gguf_open(&f, path, err, sizeof err) == 0, "%s", err);
    if (f.map) {
        CHECK(gguf_get_str(&f, "general.architecture", &s) && gguf_str_eq(s, "llama"));
        CHECK(gguf_get_u32(&f, "llama.embedding_length", &u) && u == 64);
        CHECK(gguf_get_u32(&f, "llama.block_count", &u) && u == 5);
        CHECK(gguf_get_u32(&f, "llama.attention.head_count", &u) && u == 8);
        CHECK(gguf_get_u32(&f, "llama.attention.head_count_kv", &u) && u == 4);
        const gguf_kv *tok = gguf_get_arr(&f, "tokenizer.ggml.tokens", GGUF_VT_STRING);
        CHECK(tok && tok->arr_len == 512);
        const gguf_tensor *emb = gguf_find_tensor(&f, "token_embd.weight");
        CHECK(emb && emb->ne[0] == 64 && emb->ne[1] == 512);
        gguf_close(&f);
    }
    if (test_shared_path(path, sizeof path, "models/llama-gqa-tiny-f32.gguf")) {
        CHECKF(gguf_open(&f, path, err, sizeof err) == 0, "%s", err);
        if (f.map) {
            const gguf_kv *tok = gguf_get_arr(&f, "tokenizer.ggml.tokens", GGUF_VT_STRING);
            CHECK(tok && tok->arr_len == 49152);
            CHECK(gguf_get_str(&f, "tokenizer.ggml.pre", &s) && gguf_str_eq(s, "smollm"));
            CHECK(gguf_get_str(&f, "tokenizer.chat_template", &s) && s.len > 0);
            gguf_close(&f);
        }
    }
    if (test_shared_path(path, sizeof path, "models/gpt2-tiny-f16.gguf")) {
        CHECKF(gguf_open(&f, path, err, sizeof err) == 0, "%s", err);
        if (f.map) {
            const gguf_kv *tok = gguf_get_arr(&f, "tokenizer.ggml.tokens", GGUF_VT_STRING);
            CHECK(tok && tok->arr_len == 50257);
            CHECK(gguf_get_str(&f, "general.architecture", &s) && gguf_str_eq(s, "gpt2"));
            gguf_close(&f);
        }
    }
}

int main(void) {
    RUN(test_every_scalar_type);
    RUN(test_arrays_of_every_type);
    RUN(test_string_array_random_access);
    RUN(test_tensor_table);
    RUN(test_alignment);
    RUN(test_lookups_at_scale);
    RUN(test_real_files_open);
    RUN(test_real_metadata);
    return test_exit_code();
}
