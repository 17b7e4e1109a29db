/* test_hostile_files.c — malformed and malicious GGUF files must be refused cleanly.
 *
 * Every case hands the reader a file that is wrong in one way and expects: return -1, the
 * gguf_file left zeroed, and one line in err that names the problem (the test looks for a
 * word that says what is wrong). Buffers are exact-size heap copies, so under
 * AddressSanitizer (make test runs this binary that way too) a read one byte past the end
 * is a crash, not luck. The last tests fuzz real files with fixed-seed byte flips. */
#include "gguf.h"
#include "model.h"
#include "quant.h"
#include "synth.h"
#include "tokenizer.h"
#include "test.h"
#include "gguf_builder.h"

#include <stdint.h>
#include <time.h>
#include <unistd.h>

/* --- helpers ------------------------------------------------------------------------------ */

static bool is_zeroed(const gguf_file *f) {
    static const gguf_file zero;
    return memcmp(f, &zero, sizeof zero) == 0;
}

/* True if ERR is one non-empty line containing one of the '|'-separated NEEDLES. */
static bool names_problem(const char *err, const char *needles) {
    if (!err[0] || strchr(err, '\n') || strchr(err, '\r')) return false;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", needles);
    for (char *save = NULL, *n = strtok_r(buf, "|", &save); n; n = strtok_r(NULL, "|", &save))
        if (strstr(err, n)) return true;
    return false;
}

/* Opens the first N bytes of DATA (through an exact-size copy) and expects a refusal whose
 * message contains one of NEEDLES. Returns true when it was refused as expected. */
static bool expect_reject_n(const char *label, const uint8_t *data, size_t n, const char *needles) {
    uint8_t *copy = malloc(n ? n : 1);
    if (!copy) abort();
    if (n) memcpy(copy, data, n);
    gguf_file f;
    char err[512] = "";
    int rc = gguf_open_memory(&f, copy, n, "hostile.gguf", err, sizeof err);
    bool ok = rc == -1 && is_zeroed(&f) && names_problem(err, needles) &&
              strncmp(err, "hostile.gguf: ", 14) == 0;
    CHECKF(ok, "%s: rc %d, err \"%s\" (wanted one line naming %s)", label, rc, err, needles);
    if (rc == 0) gguf_close(&f);
    free(copy);
    return ok;
}
static bool expect_reject(const char *label, const gbuf *b, const char *needles) {
    return expect_reject_n(label, b->p, b->len, needles);
}

static void expect_accept(const char *label, const gbuf *b) {
    uint8_t *copy = gb_copy(b, b->len);
    gguf_file f;
    char err[512] = "";
    int rc = gguf_open_memory(&f, copy, b->len, "ok.gguf", err, sizeof err);
    CHECKF(rc == 0, "%s: %s", label, err);
    if (rc == 0) gguf_close(&f);
    free(copy);
}

/* A small valid file: 4 key/values (a string, a u32, a string array, an f32 array) and two
 * tensors; it ends exactly at the end of the last tensor's data, so every proper prefix is
 * a truncated file. Section starts are recorded for the tests that cut or patch there. */
typedef struct small_marks {
    size_t kv[4], tensor[2], data, end;
} small_marks;

static void build_small(gbuf *b, small_marks *m) {
    static const uint64_t ne_a[1] = {8}, ne_b[2] = {32, 2};
    gb_header(b, 3, 2, 4);
    m->kv[0] = gb_kv_str(b, "general.architecture", "llama");
    m->kv[1] = gb_kv_u32(b, "llama.block_count", 2);
    m->kv[2] = gb_kv_arr(b, "tokenizer.ggml.tokens", GB_STRING, 3);
    gb_str(b, "<s>"), gb_str(b, "hello"), gb_str(b, "");
    m->kv[3] = gb_kv_arr(b, "tokenizer.ggml.scores", GB_F32, 2);
    gb_f32(b, -1.0f), gb_f32(b, -2.5f);
    m->tensor[0] = gb_tensor(b, "a", 1, ne_a, GGML_TYPE_F32, 0);
    m->tensor[1] = gb_tensor(b, "b", 2, ne_b, GGML_TYPE_Q8_0, 32);
    m->data = gb_pad(b, 32);
    for (int i = 0; i < 32 + 68; i++) gb_u8(b, (uint8_t)i);
    m->end = b->len;
}

/* --- truncation ----------------------------------------------------------------------------- */

static void test_truncated_at_every_byte(void) {
    gbuf b = {0};
    small_marks m;
    build_small(&b, &m);
    expect_accept("the whole small file", &b);
    int refused = 0;
    for (size_t n = 0; n < b.len; n++) {
        char label[64];
        snprintf(label, sizeof label, "cut at byte %zu of %zu", n, b.len);
        refused += expect_reject_n(label, b.p, n, "ends|cannot fit|past the end|remain");
    }
    CHECK(refused == (int)b.len);
    gb_free(&b);
}

/* Where a cut lands decides what the message must talk about. */
static const char *needle_for_cut(const gguf_file *f, uint64_t cut, char *buf, size_t cap) {
    if (cut < 24) return "header";
    for (uint64_t i = 0; i < f->n_kv; i++) {
        uint64_t start = (uint64_t)((const uint8_t *)f->kv[i].key.ptr - f->map) - 8;
        uint64_t next = i + 1 < f->n_kv ? (uint64_t)((const uint8_t *)f->kv[i + 1].key.ptr - f->map) - 8
                                        : (uint64_t)((const uint8_t *)f->tensors[0].name.ptr - f->map) - 8;
        if (cut >= start && cut < next) {
            snprintf(buf, cap, "metadata entry %llu|'%.*s'|metadata count", (unsigned long long)i,
                     (int)f->kv[i].key.len, f->kv[i].key.ptr);
            return buf;
        }
    }
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        uint64_t start = (uint64_t)((const uint8_t *)f->tensors[i].name.ptr - f->map) - 8;
        uint64_t next = i + 1 < f->n_tensors
                            ? (uint64_t)((const uint8_t *)f->tensors[i + 1].name.ptr - f->map) - 8
                            : f->data_offset;
        if (cut >= start && cut < next) {
            snprintf(buf, cap, "tensor entry %llu|'%.*s'|tensor count|before the tensor data",
                     (unsigned long long)i, (int)f->tensors[i].name.len, f->tensors[i].name.ptr);
            return buf;
        }
    }
    return "runs past the end|before the tensor data";
}

/* The real stories260K file cut at (and one byte either side of) every section boundary:
 * header fields, each key/value, each tensor entry, the data section, each tensor's data. */
static void test_truncated_real_file_at_boundaries(void) {
    char path[1024];
    REQUIRE_SHARED(path, "models/stories260K.gguf");
    gguf_file f;
    char err[512] = "";
    if (gguf_open(&f, path, err, sizeof err)) {
        CHECKF(0, "%s", err);
        return;
    }
    uint64_t cuts[4096];
    size_t nc = 0;
    static const uint64_t header[] = {0, 3, 4, 8, 16, 23, 24};
    for (size_t i = 0; i < sizeof header / sizeof header[0]; i++) cuts[nc++] = header[i];
    for (uint64_t i = 0; i < f.n_kv && nc + 4 < 4096; i++) {
        uint64_t key_at = (uint64_t)((const uint8_t *)f.kv[i].key.ptr - f.map);
        cuts[nc++] = key_at - 8;                 /* entry start */
        cuts[nc++] = key_at;                     /* inside: key bytes */
        cuts[nc++] = key_at + f.kv[i].key.len;   /* the type field */
        cuts[nc++] = key_at + f.kv[i].key.len + 4; /* the value */
    }
    for (uint64_t i = 0; i < f.n_tensors && nc + 6 < 4096; i++) {
        uint64_t name_at = (uint64_t)((const uint8_t *)f.tensors[i].name.ptr - f.map);
        cuts[nc++] = name_at - 8;
        cuts[nc++] = name_at + f.tensors[i].name.len + 2; /* inside n_dims */
        cuts[nc++] = name_at + f.tensors[i].name.len + 4 + 3; /* inside ne[0] */
        uint64_t d = f.data_offset + f.tensors[i].offset;
        cuts[nc++] = d;
        cuts[nc++] = d + 1;
        cuts[nc++] = d + f.tensors[i].nbytes - 1;
    }
    cuts[nc++] = f.data_offset - 1;
    cuts[nc++] = f.data_offset;
    cuts[nc++] = f.size - 1;
    for (size_t i = 0; i < nc; i++) {
        for (int delta = -1; delta <= 1; delta++) {
            if (delta < 0 && cuts[i] == 0) continue;
            uint64_t cut = cuts[i] + (uint64_t)(int64_t)delta;
            if (cut >= f.size) continue;
            char label[96], nb[256];
            snprintf(label, sizeof label, "stories260K cut at byte %llu", (unsigned long long)cut);
            expect_reject_n(label, f.map, cut, needle_for_cut(&f, cut, nb, sizeof nb));
        }
    }
    /* The mmap path as well: a few truncated copies on disk. */
    uint64_t disk_cuts[] = {24, f.data_offset - 1, f.data_offset + 1, f.size - 1};
    for (size_t i = 0; i < sizeof disk_cuts / sizeof disk_cuts[0]; i++) {
        char tmp[] = "/tmp/llmscope-hostile-XXXXXX";
        int fd = mkstemp(tmp);
        CHECK(fd >= 0);
        if (fd < 0) break;
        bool wrote = write(fd, f.map, disk_cuts[i]) == (ssize_t)disk_cuts[i];
        close(fd);
        CHECK(wrote);
        gguf_file g;
        err[0] = 0;
        int rc = gguf_open(&g, tmp, err, sizeof err);
        CHECKF(rc == -1 && is_zeroed(&g) && names_problem(err, "ends|cannot fit|past the end|before") &&
               strstr(err, tmp) == err,
               "disk cut %llu: rc %d, %s", (unsigned long long)disk_cuts[i], rc, err);
        if (rc == 0) gguf_close(&g);
        unlink(tmp);
    }
    gguf_close(&f);
}

/* --- header ------------------------------------------------------------------------------- */

static void test_bad_magic_and_version(void) {
    gbuf b = {0};
    small_marks m;
    build_small(&b, &m);
    static const char *const magics[] = {"GGML", "gguf", "\0\0\0\0", "FUGG", "GGJT"};
    for (size_t i = 0; i < sizeof magics / sizeof magics[0]; i++) {
        memcpy(b.p, magics[i], 4);
        expect_reject("bad magic", &b, "not a GGUF file");
    }
    memcpy(b.p, "GGUF", 4);
    static const uint32_t versions[] = {0, 1, 4, 99, 0xFFFFFFFFu};
    for (size_t i = 0; i < sizeof versions / sizeof versions[0]; i++) {
        gb_put_u32(&b, 4, versions[i]);
        expect_reject("bad version", &b, "unsupported GGUF version");
    }
    gb_put_u32(&b, 4, 0x03000000u); /* version 3 written big-endian */
    expect_reject("big-endian", &b, "big-endian");
    gb_put_u32(&b, 4, 2);
    expect_accept("version 2", &b);
    gb_free(&b);
}

/* --- counts and lengths ---------------------------------------------------------------------- */

static void test_absurd_counts(void) {
    gbuf b = {0};
    small_marks m;
    build_small(&b, &m);
    static const uint64_t counts[] = {UINT64_MAX, 1ull << 63, 1ull << 32, 1000, 5};
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        gb_put_u64(&b, 16, counts[i]); /* n_kv */
        expect_reject("n_kv", &b, counts[i] == 5 ? "ends|metadata|tensor" : "metadata count");
    }
    gb_put_u64(&b, 16, 4);
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        gb_put_u64(&b, 8, counts[i]); /* n_tensors */
        expect_reject("n_tensors", &b, counts[i] == 5 ? "tensor" : "tensor count");
    }
    gb_put_u64(&b, 8, 2);
    expect_accept("restored", &b);

    /* string array length: the tokens array has 3 elements */
    size_t arr_len_at = m.kv[2] + 8 + strlen("tokenizer.ggml.tokens") + 4 + 4;
    static const uint64_t lens[] = {UINT64_MAX, 1ull << 61, 1ull << 40, 4};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        gb_put_u64(&b, arr_len_at, lens[i]);
        expect_reject("string array length", &b, "tokenizer.ggml.tokens|metadata entry 3");
    }
    gb_put_u64(&b, arr_len_at, 3);
    /* f32 array length: 2^62 elements of 4 bytes wraps a 64-bit size to 0 */
    size_t f32_len_at = m.kv[3] + 8 + strlen("tokenizer.ggml.scores") + 4 + 4;
    static const uint64_t flens[] = {UINT64_MAX, 1ull << 62, (1ull << 62) + 1, 1ull << 61};
    for (size_t i = 0; i < sizeof flens / sizeof flens[0]; i++) {
        gb_put_u64(&b, f32_len_at, flens[i]);
        expect_reject("f32 array length", &b, "runs past the end");
    }
    gb_put_u64(&b, f32_len_at, 2);
    expect_accept("restored", &b);

    /* string lengths: a key, a string value, an array element, a tensor name */
    size_t value_len_at = m.kv[0] + 8 + strlen("general.architecture") + 4;
    size_t elem_len_at = arr_len_at + 8;
    struct { size_t at; const char *needle; } fields[] = {
        {m.kv[0], "the key of metadata entry 0"},
        {value_len_at, "the value of metadata entry 0"},
        {elem_len_at, "element 0 of metadata 'tokenizer.ggml.tokens'"},
        {m.tensor[1], "the name of tensor entry 1"}};
    static const uint64_t slens[] = {UINT64_MAX, UINT64_MAX - 7, 1ull << 63, 1ull << 32, 100000};
    for (size_t k = 0; k < sizeof fields / sizeof fields[0]; k++) {
        uint64_t orig = 0;
        memcpy(&orig, b.p + fields[k].at, 8);
        for (size_t i = 0; i < sizeof slens / sizeof slens[0]; i++) {
            gb_put_u64(&b, fields[k].at, slens[i]);
            char label[96];
            snprintf(label, sizeof label, "string length %llu at %zu", (unsigned long long)slens[i], fields[k].at);
            expect_reject(label, &b, fields[k].needle);
        }
        gb_put_u64(&b, fields[k].at, orig);
    }
    expect_accept("restored", &b);
    gb_free(&b);
}

/* --- tensor entries --------------------------------------------------------------------------- */

/* One tensor with the given shape/type/offset and DATA_BYTES of data after the table. */
static void build_one_tensor(gbuf *b, uint32_t n_dims, const uint64_t *ne, uint32_t type,
                             uint64_t offset, size_t data_bytes) {
    gb_header(b, 3, 1, 0);
    gb_tensor(b, "blk.0.attn_q.weight", n_dims, ne, type, offset);
    gb_pad(b, 32);
    gb_zeros(b, data_bytes);
}

static void test_absurd_dimensions(void) {
    struct { uint32_t n_dims; uint64_t ne[4]; const char *needle; } cases[] = {
        {0, {1}, "0 dimensions"},
        {5, {1, 1, 1, 1}, "5 dimensions"},
        {0xFFFFFFFFu, {1}, "4294967295 dimensions"},
        {2, {8, 0}, "zero-length dimension 1"},
        {1, {UINT64_MAX}, "absurdly large"},
        {2, {1ull << 32, 1ull << 32}, "absurdly large"},      /* product wraps to 0 in 64 bits */
        {4, {1 << 20, 1 << 20, 1 << 20, 1 << 20}, "absurdly large"},
        {3, {1ull << 40, 1 << 9, 1}, "absurdly large"},
        {2, {1ull << 24, 1ull << 24}, "runs past the end"}, /* 2^48 floats: plausible, not here */
        {4, {32, 3, 5, 7}, "runs past the end"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        gbuf b = {0};
        build_one_tensor(&b, cases[i].n_dims, cases[i].ne, GGML_TYPE_F32, 0, 64);
        char label[64];
        snprintf(label, sizeof label, "dimensions case %zu", i);
        expect_reject(label, &b, cases[i].needle);
        gb_free(&b);
    }
}

static void test_tensor_data_out_of_bounds(void) {
    static const uint64_t ne9[1] = {9}, ne8[1] = {8};
    struct { const uint64_t *ne; uint64_t offset; size_t data; } cases[] = {
        {ne9, 0, 32},                    /* 36 bytes wanted, 32 present */
        {ne8, 32, 32},                   /* starts exactly at the end */
        {ne8, 1ull << 40, 64},
        {ne8, UINT64_MAX - 31, 64},      /* offset + size wraps around */
        {ne8, UINT64_MAX & ~31ull, 64}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        gbuf b = {0};
        build_one_tensor(&b, 1, cases[i].ne, GGML_TYPE_F32, cases[i].offset, cases[i].data);
        char label[64];
        snprintf(label, sizeof label, "data bounds case %zu", i);
        expect_reject(label, &b, "runs past the end|not aligned");
        gb_free(&b);
    }
    /* the header promises tensors, but the file ends before the data section */
    gbuf b = {0};
    build_one_tensor(&b, 1, ne8, GGML_TYPE_F32, 0, 0);
    size_t table_end = b.len;
    b.len = table_end - 4; /* cut the padding short */
    while (b.len % 32 == 0) b.len--;
    expect_reject("no data section", &b, "before the tensor data section|runs past the end");
    gb_free(&b);
}

static void build_tensors_at(gbuf *b, size_t n, const char *const *names, const uint64_t *elems,
                             const uint64_t *offsets, size_t data_bytes) {
    gb_header(b, 3, n, 0);
    for (size_t i = 0; i < n; i++) gb_tensor(b, names[i], 1, &elems[i], GGML_TYPE_F32, offsets[i]);
    gb_pad(b, 32);
    gb_zeros(b, data_bytes);
}

static void test_overlapping_tensors(void) {
    static const char *const names[] = {"a", "b", "c"};
    struct { uint64_t elems[3], offsets[3]; size_t n; } cases[] = {
        {{8, 8}, {0, 0}, 2},                 /* same place */
        {{16, 8}, {0, 32}, 2},               /* b inside a */
        {{8, 32, 8}, {256, 0, 64}, 3},       /* table order differs from offset order */
        {{8, 8, 40}, {0, 64, 0}, 3}};        /* c covers both */
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        gbuf b = {0};
        build_tensors_at(&b, cases[i].n, names, cases[i].elems, cases[i].offsets, 512);
        char label[64];
        snprintf(label, sizeof label, "overlap case %zu", i);
        expect_reject(label, &b, "overlap");
        gb_free(&b);
    }
    /* touching but not overlapping is fine */
    gbuf b = {0};
    uint64_t elems[2] = {8, 8}, offsets[2] = {32, 0};
    build_tensors_at(&b, 2, names, elems, offsets, 64);
    expect_accept("adjacent tensors", &b);
    gb_free(&b);
}

static void test_misaligned_offsets(void) {
    static const uint64_t ne8[1] = {8};
    static const uint64_t offs[] = {1, 2, 4, 16, 31, 33};
    for (size_t i = 0; i < sizeof offs / sizeof offs[0]; i++) {
        gbuf b = {0};
        build_one_tensor(&b, 1, ne8, GGML_TYPE_F32, offs[i], 128);
        expect_reject("misaligned offset", &b, "not aligned to 32");
        gb_free(&b);
    }
}

static void test_unknown_types(void) {
    static const uint64_t ne256[1] = {256}, ne100[1] = {100};
    static const uint32_t types[] = {4, 5, 31, 36, 40, 1000, 0xFFFFFFFFu};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        gbuf b = {0};
        build_one_tensor(&b, 1, ne256, types[i], 0, 2048);
        expect_reject("unknown tensor type", &b, "unknown type");
        gb_free(&b);
    }
    gbuf b = {0};
    build_one_tensor(&b, 1, ne100, GGML_TYPE_Q4_K, 0, 2048);
    expect_reject("partial block", &b, "not a multiple of the q4_K block size 256");
    gb_free(&b);
    static const uint64_t ne896[2] = {896, 2}; /* Qwen2.5-0.5B's width: IQ4_NL's, not IQ4_XS's */
    build_one_tensor(&b, 2, ne896, GGML_TYPE_IQ4_XS, 0, 2048);
    expect_reject("iq4_xs partial block", &b, "row length 896 is not a multiple of the iq4_xs block size 256");
    gb_free(&b);
    /* A known but unsupported type is the model loader's to refuse: the reader measures it
     * (so the error can say "iq2_xxs is not supported" rather than "corrupt file"). */
    build_one_tensor(&b, 1, ne256, GGML_TYPE_IQ2_XXS, 0, 66);
    expect_accept("iq2_xxs tensor", &b);
    gb_free(&b);

    static const uint32_t vtypes[] = {13, 100, 0xFFFFFFFFu};
    for (size_t i = 0; i < sizeof vtypes / sizeof vtypes[0]; i++) {
        gb_header(&b, 3, 0, 1);
        gb_kv_head(&b, "general.weird", vtypes[i]);
        gb_zeros(&b, 16);
        expect_reject("unknown value type", &b, "'general.weird' has unknown value type");
        gb_free(&b);
        gb_header(&b, 3, 0, 1);
        gb_kv_arr(&b, "general.weird", vtypes[i], 2);
        gb_zeros(&b, 16);
        expect_reject("unknown element type", &b, "unknown element type");
        gb_free(&b);
    }
}

static void test_nested_arrays(void) {
    gbuf b = {0};
    gb_header(&b, 3, 0, 1);
    gb_kv_arr(&b, "general.nested", GB_ARRAY, 1);
    gb_u32(&b, GB_U32), gb_u64(&b, 1), gb_u32(&b, 7);
    expect_reject("nested array", &b, "nested arrays are not supported");
    gb_free(&b);
    /* an empty array of arrays is still refused: the element type alone is unsupported */
    gb_header(&b, 3, 0, 1);
    gb_kv_arr(&b, "general.nested", GB_ARRAY, 0);
    expect_reject("empty nested array", &b, "nested");
    gb_free(&b);
}

static void test_duplicates(void) {
    static const char *const names[] = {"same", "same"};
    uint64_t elems[2] = {8, 8}, offsets[2] = {0, 32};
    gbuf b = {0};
    build_tensors_at(&b, 2, names, elems, offsets, 64);
    expect_reject("duplicate tensor names", &b, "tensor name 'same' appears twice");
    gb_free(&b);

    gb_header(&b, 3, 0, 3);
    gb_kv_u32(&b, "llama.block_count", 2);
    gb_kv_str(&b, "general.architecture", "llama");
    gb_kv_u32(&b, "llama.block_count", 200);
    expect_reject("duplicate keys", &b, "metadata key 'llama.block_count' appears twice");
    gb_free(&b);

    /* Many tensors, duplicate at the two ends of the table: found, and fast (the check is
     * a sort, not a comparison of every pair). */
    const size_t n = 100000;
    gb_header(&b, 3, n, 0);
    for (size_t i = 0; i < n; i++) {
        char name[32];
        snprintf(name, sizeof name, "t.%zu", i == n - 1 ? (size_t)0 : i);
        uint64_t ne = 8;
        gb_tensor(&b, name, 1, &ne, GGML_TYPE_F32, 32 * i);
    }
    gb_pad(&b, 32);
    gb_zeros(&b, 32 * n);
    clock_t t0 = clock();
    expect_reject("duplicate among 100000", &b, "tensor name 't.0' appears twice");
    double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    CHECKF(secs < 20, "100000-tensor check took %.1f s", secs);
    gb_free(&b);
}

/* Names are attacker-chosen text: an error must stay one line and carry no raw control
 * bytes (a newline or an ESC sequence would garble a terminal or a log). */
static void test_hostile_names_stay_one_line(void) {
    static const uint64_t ne256[1] = {256};
    gbuf b = {0};
    gb_header(&b, 3, 1, 0);
    gb_tensor(&b, "evil\n\x1b[2J\rname", 1, ne256, 99, 0);
    gb_pad(&b, 32);
    gb_zeros(&b, 1024);
    uint8_t *copy = gb_copy(&b, b.len);
    gguf_file f;
    char err[512] = "";
    CHECK(gguf_open_memory(&f, copy, b.len, "x.gguf", err, sizeof err) == -1);
    CHECKF(!strchr(err, '\n') && !strchr(err, '\r') && !strchr(err, '\x1b') &&
           strstr(err, "evil\\x0a\\x1b[2J\\x0dname") && strstr(err, "unknown type"), "err: %s", err);
    free(copy);
    gb_free(&b);

    char long_key[5000];
    memset(long_key, 'k', sizeof long_key - 1);
    long_key[sizeof long_key - 1] = 0;
    gb_header(&b, 3, 0, 1);
    gb_kv_head(&b, long_key, 77);
    gb_zeros(&b, 8);
    copy = gb_copy(&b, b.len);
    CHECK(gguf_open_memory(&f, copy, b.len, "x.gguf", err, sizeof err) == -1);
    CHECKF(strlen(err) < 300 && strstr(err, "kkk...' has unknown value type 77"), "err: %s", err);
    free(copy);
    gb_free(&b);
}

static void test_open_errors(void) {
    gguf_file f;
    char err[512] = "";
    CHECK(gguf_open(&f, "/nonexistent/model.gguf", err, sizeof err) == -1 && is_zeroed(&f));
    CHECKF(names_problem(err, "cannot open") && strstr(err, "/nonexistent/model.gguf"), "%s", err);
    CHECK(gguf_open(&f, "/tmp", err, sizeof err) == -1);
    CHECKF(names_problem(err, "not a regular file"), "%s", err);
    CHECK(gguf_open(&f, "/dev/null", err, sizeof err) == -1);
    CHECKF(names_problem(err, "not a regular file"), "%s", err);
    static const size_t sizes[] = {0, 3, 23};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        char tmp[] = "/tmp/llmscope-short-XXXXXX";
        int fd = mkstemp(tmp);
        CHECK(fd >= 0);
        if (fd < 0) return;
        bool wrote = write(fd, "GGUF\3\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", sizes[i]) == (ssize_t)sizes[i];
        close(fd);
        CHECK(wrote);
        CHECK(gguf_open(&f, tmp, err, sizeof err) == -1 && is_zeroed(&f));
        CHECKF(names_problem(err, "too short"), "%zu bytes: %s", sizes[i], err);
        unlink(tmp);
    }
    /* a tiny err buffer is truncated, never overrun */
    char small[8];
    memset(small, 'x', sizeof small);
    CHECK(gguf_open(&f, "/nonexistent/model.gguf", small, sizeof small) == -1 && small[7] == 0);
}

/* --- fuzzing -------------------------------------------------------------------------------- */

static uint64_t next_rand(uint64_t *s) { /* xorshift64*: fixed seed, reproducible */
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ull;
}

/* After an accepted open, everything the reader hands out must be readable: ASan turns a
 * pointer outside the buffer into a crash. Returns a checksum so nothing is optimised out. */
static unsigned touch_everything(const gguf_file *f, const uint8_t *buf, uint64_t size) {
    unsigned sum = 0;
    uint64_t bad = 0;
    for (uint64_t i = 0; i < f->n_kv; i++) {
        const gguf_kv *kv = &f->kv[i];
        for (uint64_t k = 0; k < kv->key.len; k++) sum += (unsigned char)kv->key.ptr[k];
        if (kv->type == GGUF_VT_STRING && kv->str.len) sum += (unsigned char)kv->str.ptr[kv->str.len - 1];
        if (kv->type == GGUF_VT_ARRAY) {
            for (uint64_t j = 0; j < kv->arr_len && j < 4096; j++) {
                if (kv->arr_type == GGUF_VT_STRING) {
                    gguf_str s = gguf_arr_str(kv, j);
                    if (s.len) sum += (unsigned char)s.ptr[s.len - 1];
                } else {
                    sum += (unsigned)gguf_arr_int(kv, j) + (unsigned)gguf_arr_f32(kv, j);
                }
            }
        }
    }
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        const gguf_tensor *t = &f->tensors[i];
        const uint8_t *p = t->data;
        if (p < buf || t->nbytes > (uint64_t)(buf + size - p)) bad++;
        sum += p[0] + p[t->nbytes - 1];
        if (ggml_type_supported(t->type) && t->ne[0] <= 1 << 16) {
            float *row = malloc(t->ne[0] * sizeof *row);
            if (row) {
                dequantize_row(t->type, t->data, row, (int64_t)t->ne[0]);
                sum += row[0] != row[0];
                free(row);
            }
        }
    }
    CHECKF(bad == 0, "%llu tensors outside the buffer after a successful open", (unsigned long long)bad);
    return sum;
}

/* Runs the tokenizer and model loaders over an accepted file: they must either succeed or
 * fail with one line, never crash. Consumes F (the model owns it once handed over). */
static void load_everything(const char *label, int iter, gguf_file *f) {
    char err[512] = "";
    tokenizer *t = tokenizer_load(f, err, sizeof err);
    if (t) {
        int32_t *ids = NULL;
        int n = tokenizer_encode(t, "Once upon a time", 16, true, false, &ids, err, sizeof err);
        for (int i = 0; i < n; i++) {
            char piece[64];
            tokenizer_piece(t, ids[i], piece, sizeof piece);
        }
        free(ids);
        tokenizer_free(t);
    } else {
        CHECKF(err[0] && !strchr(err, '\n'), "%s iteration %d: tokenizer error \"%s\"", label, iter, err);
    }
    model m;
    err[0] = 0;
    if (model_load_gguf(&m, f, err, sizeof err) == 0) {
        float *row = malloc((size_t)m.token_embd.cols * sizeof *row);
        if (row) weight_row(&m.token_embd, m.hp.n_vocab - 1, row);
        free(row);
        model_free(&m);
    } else {
        CHECKF(err[0] && !strchr(err, '\n'), "%s iteration %d: model error \"%s\"", label, iter, err);
    }
}

/* Mutates BUF (SIZE bytes) ITERS times: a few random bytes (mostly within the first
 * HOT bytes, where the header and tables live) set to random or boundary values, opens
 * it, checks the outcome, and restores the bytes. With LOADERS, accepted files also go
 * through tokenizer_load and model_load_gguf. */
static void fuzz(const char *label, uint8_t *buf, uint64_t size, uint64_t hot, int iters, uint64_t seed,
                 double max_secs, bool loaders) {
    uint64_t s = seed;
    int accepted = 0, rejected = 0, done = 0;
    clock_t t0 = clock();
    for (; done < iters; done++) {
        if ((double)(clock() - t0) / CLOCKS_PER_SEC > max_secs) break;
        uint64_t pos[8];
        uint8_t old[8];
        int n = 1 + (int)(next_rand(&s) % 8);
        for (int k = 0; k < n; k++) {
            uint64_t r = next_rand(&s);
            pos[k] = (r & 15) ? (r >> 8) % hot : (r >> 8) % size;
            old[k] = buf[pos[k]];
            uint64_t v = next_rand(&s);
            static const uint8_t special[] = {0x00, 0xFF, 0x7F, 0x80, 0x01, 0x20};
            buf[pos[k]] = (v & 3) ? (uint8_t)(v >> 8) : special[(v >> 8) % sizeof special];
        }
        /* sometimes also cut the file short */
        uint64_t len = (next_rand(&s) % 10) ? size : next_rand(&s) % size;
        uint8_t *copy = malloc(len ? len : 1);
        if (!copy) abort();
        memcpy(copy, buf, len);
        gguf_file f;
        char err[512] = "";
        if (gguf_open_memory(&f, copy, len, "fuzz.gguf", err, sizeof err) == 0) {
            accepted++;
            touch_everything(&f, copy, len);
            if (loaders) load_everything(label, done, &f);
            gguf_close(&f); /* harmless after the model took it: F was zeroed */
        } else {
            rejected++;
            CHECKF(is_zeroed(&f) && err[0] && !strchr(err, '\n') && !strchr(err, '\x1b'),
                   "%s iteration %d: bad error \"%s\"", label, done, err);
        }
        free(copy);
        for (int k = n - 1; k >= 0; k--) buf[pos[k]] = old[k];
    }
    CHECKF(done >= 500, "%s: only %d iterations in %.0f s", label, done, max_secs);
    CHECKF(rejected > 0, "%s: no mutation was rejected", label);
    (void)accepted;
}

static void test_fuzz_small_built_file(void) {
    gbuf b = {0};
    small_marks m;
    build_small(&b, &m);
    fuzz("small", b.p, b.len, m.data, 10000, 0x9E3779B97F4A7C15ull, 20, false);
    gb_free(&b);
}

/* Real models (a float one with a SentencePiece vocabulary, a k-quantised one), mutated
 * and pushed through the reader, the tokenizer and the model loader. */
static void test_fuzz_real_files(void) {
    static const char *const files[] = {"models/stories260K.gguf", "models/llama-k-tiny-q4_k_m.gguf"};
    char path[1024];
    REQUIRE_SHARED(path, "models/stories260K.gguf");
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        gguf_file f;
        char err[512] = "";
        if (!test_shared_path(path, sizeof path, files[i]) || gguf_open(&f, path, err, sizeof err)) {
            CHECKF(0, "%s: %s", files[i], err);
            continue;
        }
        uint8_t *buf = malloc(f.size);
        if (!buf) abort();
        memcpy(buf, f.map, f.size);
        fuzz(files[i], buf, f.size, f.data_offset, 2000, 42 + i, 30, true);
        free(buf);
        gguf_close(&f);
    }
}

/* --- model level: model_load_gguf on files that are valid GGUF but wrong models --------- */

/* A tiny llama model described as data, so each case can change one thing: dim 32, one
 * layer, 4 query heads and 2 kv heads of 8, ffn 64, vocabulary 4. */
typedef struct mtensor {
    const char *name;
    uint32_t n_dims;
    uint64_t ne[2];
    uint32_t type;
} mtensor;
typedef struct mkv {
    const char *key;
    uint32_t type; /* GB_U32, GB_F32, GB_STRING, GB_U64 */
    uint64_t u;
    float f;
    const char *s;
} mkv;
typedef struct model_spec {
    mtensor t[16];
    int nt;
    mkv kv[16];
    int nkv;
    float fill; /* value of every f32 element */
} model_spec;

static model_spec tiny_llama(void) {
    model_spec s = {
        .t = {{"token_embd.weight", 2, {32, 4}, GGML_TYPE_F32},
              {"output_norm.weight", 1, {32}, GGML_TYPE_F32},
              {"blk.0.attn_norm.weight", 1, {32}, GGML_TYPE_F32},
              {"blk.0.ffn_norm.weight", 1, {32}, GGML_TYPE_F32},
              {"blk.0.attn_q.weight", 2, {32, 32}, GGML_TYPE_F32},
              {"blk.0.attn_k.weight", 2, {32, 16}, GGML_TYPE_F32},
              {"blk.0.attn_v.weight", 2, {32, 16}, GGML_TYPE_F32},
              {"blk.0.attn_output.weight", 2, {32, 32}, GGML_TYPE_F32},
              {"blk.0.ffn_gate.weight", 2, {32, 64}, GGML_TYPE_F32},
              {"blk.0.ffn_up.weight", 2, {32, 64}, GGML_TYPE_F32},
              {"blk.0.ffn_down.weight", 2, {64, 32}, GGML_TYPE_F32}},
        .nt = 11,
        .kv = {{"general.architecture", GB_STRING, 0, 0, "llama"},
               {"llama.embedding_length", GB_U32, 32, 0, NULL},
               {"llama.block_count", GB_U32, 1, 0, NULL},
               {"llama.feed_forward_length", GB_U32, 64, 0, NULL},
               {"llama.context_length", GB_U32, 128, 0, NULL},
               {"llama.attention.head_count", GB_U32, 4, 0, NULL},
               {"llama.attention.head_count_kv", GB_U32, 2, 0, NULL},
               {"llama.rope.freq_base", GB_F32, 0, 10000.0f, NULL},
               {"llama.attention.layer_norm_rms_epsilon", GB_F32, 0, 1e-5f, NULL}},
        .nkv = 9,
        .fill = 0.01f};
    return s;
}

static mtensor *spec_tensor(model_spec *s, const char *name) {
    for (int i = 0; i < s->nt; i++)
        if (!strcmp(s->t[i].name, name)) return &s->t[i];
    return NULL;
}
static mkv *spec_kv(model_spec *s, const char *key) {
    for (int i = 0; i < s->nkv; i++)
        if (!strcmp(s->kv[i].key, key)) return &s->kv[i];
    if (s->nkv == 16) abort();
    s->kv[s->nkv] = (mkv){key, GB_U32, 0, 0, NULL};
    return &s->kv[s->nkv++];
}
static void spec_drop_tensor(model_spec *s, const char *name) {
    mtensor *t = spec_tensor(s, name);
    if (t) *t = s->t[--s->nt];
}
static void spec_drop_kv(model_spec *s, const char *key) {
    mkv *kv = spec_kv(s, key);
    *kv = s->kv[--s->nkv];
}

static void build_model(gbuf *b, const model_spec *s) {
    gb_header(b, 3, (uint64_t)s->nt, (uint64_t)s->nkv);
    for (int i = 0; i < s->nkv; i++) {
        const mkv *kv = &s->kv[i];
        gb_kv_head(b, kv->key, kv->type);
        if (kv->type == GB_STRING) gb_str(b, kv->s);
        else if (kv->type == GB_F32) gb_f32(b, kv->f);
        else if (kv->type == GB_U64) gb_u64(b, kv->u);
        else gb_u32(b, (uint32_t)kv->u);
    }
    uint64_t off = 0, sizes[16];
    for (int i = 0; i < s->nt; i++) {
        const mtensor *t = &s->t[i];
        uint64_t rb = 0;
        if (!ggml_row_bytes(t->type, t->ne[0], &rb)) rb = 0;
        sizes[i] = rb * (t->n_dims > 1 ? t->ne[1] : 1);
        gb_tensor(b, t->name, t->n_dims, t->ne, t->type, off);
        off += (sizes[i] + 31) / 32 * 32;
    }
    for (int i = 0; i < s->nt; i++) {
        gb_pad(b, 32);
        if (s->t[i].type == GGML_TYPE_F32)
            for (uint64_t k = 0; k < sizes[i] / 4; k++) gb_f32(b, s->fill);
        else
            for (uint64_t k = 0; k < sizes[i]; k++) gb_u8(b, (uint8_t)(k * 13));
    }
    gb_pad(b, 32);
}

/* Loads S; expects success when NEEDLES is NULL, else a one-line error containing one of
 * them. */
static void expect_model(const char *label, const model_spec *s, const char *needles) {
    gbuf b = {0};
    build_model(&b, s);
    uint8_t *copy = gb_copy(&b, b.len);
    gguf_file f;
    char err[512] = "";
    int rc = gguf_open_memory(&f, copy, b.len, "tiny.gguf", err, sizeof err);
    CHECKF(rc == 0, "%s: the GGUF layer refused it: %s", label, err);
    if (rc == 0) {
        model m;
        rc = model_load_gguf(&m, &f, err, sizeof err);
        if (!needles) {
            CHECKF(rc == 0, "%s: %s", label, err);
        } else {
            CHECKF(rc == -1 && names_problem(err, needles) && strstr(err, "tiny.gguf"),
                   "%s: rc %d, err \"%s\" (wanted one line naming %s)", label, rc, err, needles);
        }
        if (rc == 0) model_free(&m);
    }
    free(copy);
    gb_free(&b);
}

static void test_model_tiny_llama_loads(void) {
    model_spec s = tiny_llama();
    expect_model("the baseline tiny llama", &s, NULL);
}

static void test_model_missing_tensor(void) {
    static const char *const names[] = {"token_embd.weight", "output_norm.weight",
                                        "blk.0.ffn_down.weight", "blk.0.attn_k.weight"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        model_spec s = tiny_llama();
        spec_drop_tensor(&s, names[i]);
        char needle[128];
        snprintf(needle, sizeof needle, "missing tensor '%s'", names[i]);
        expect_model(names[i], &s, needle);
    }
    /* block_count says 2 but only layer 0 exists */
    model_spec s = tiny_llama();
    spec_kv(&s, "llama.block_count")->u = 2;
    expect_model("layer 1 absent", &s, "missing tensor 'blk.1.");
}

static void test_model_wrong_shape(void) {
    struct { const char *name; uint32_t n_dims; uint64_t ne[2]; } cases[] = {
        {"blk.0.attn_k.weight", 2, {32, 32}},     /* kv heads x head_dim is 16 */
        {"blk.0.attn_q.weight", 2, {16, 32}},
        {"blk.0.ffn_down.weight", 2, {32, 64}},   /* transposed */
        {"blk.0.attn_norm.weight", 1, {16}},
        {"output_norm.weight", 2, {32, 2}},
        {"token_embd.weight", 2, {16, 4}}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        model_spec s = tiny_llama();
        mtensor *t = spec_tensor(&s, cases[i].name);
        t->n_dims = cases[i].n_dims;
        t->ne[0] = cases[i].ne[0];
        t->ne[1] = cases[i].ne[1];
        char needle[128];
        snprintf(needle, sizeof needle, "tensor '%s' has shape", cases[i].name);
        expect_model(cases[i].name, &s, needle);
    }
}

static void test_model_unsupported_type(void) {
    struct { const char *name; uint32_t type; const char *needle; } cases[] = {
        {"blk.0.attn_q.weight", GGML_TYPE_Q8_1,
         "type q8_1, which llmscope cannot compute with (supported: f32, f16, q4_0, q4_1, q5_0, q5_1, "
         "q8_0, q2_K, q3_K, q4_K, q5_K, q6_K, iq4_nl, iq4_xs, bf16, mxfp4)"},
        {"blk.0.ffn_up.weight", GGML_TYPE_I16, "type i16"},
        {"blk.0.attn_norm.weight", GGML_TYPE_F64, "type f64"},
        {"token_embd.weight", GGML_TYPE_I32, "type i32"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        model_spec s = tiny_llama();
        spec_tensor(&s, cases[i].name)->type = cases[i].type;
        expect_model(cases[i].name, &s, cases[i].needle);
    }
    /* a supported quantised type in the same place loads */
    model_spec s = tiny_llama();
    spec_tensor(&s, "blk.0.attn_q.weight")->type = GGML_TYPE_Q8_0;
    expect_model("q8_0 attn_q", &s, NULL);
}

/* IQ4_XS blocks are 256 wide; llama.cpp stores narrower rows as IQ4_NL (32). A 32-wide
 * matrix declared IQ4_XS is refused by the reader, in one line naming the type and its
 * block size; every matrix of the same model as IQ4_NL loads. */
static void test_model_iq4_xs_narrow_rows(void) {
    model_spec s = tiny_llama();
    spec_tensor(&s, "blk.0.attn_q.weight")->type = GGML_TYPE_IQ4_XS;
    gbuf b = {0};
    build_model(&b, &s);
    expect_reject("iq4_xs rows of 32", &b, "row length 32 is not a multiple of the iq4_xs block size 256");
    gb_free(&b);
    s = tiny_llama();
    for (int i = 0; i < s.nt; i++)
        if (s.t[i].n_dims == 2) s.t[i].type = GGML_TYPE_IQ4_NL;
    expect_model("iq4_nl matrices", &s, NULL);
}

static void test_model_bad_hyperparameters(void) {
    static const char *const required[] = {"llama.embedding_length", "llama.block_count",
                                           "llama.feed_forward_length", "llama.attention.head_count"};
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++) {
        model_spec s = tiny_llama();
        spec_drop_kv(&s, required[i]);
        char needle[128];
        snprintf(needle, sizeof needle, "missing metadata key '%s'", required[i]);
        expect_model(required[i], &s, needle);
    }
    struct { const char *key; uint32_t type; uint64_t u; float f; const char *needle; } cases[] = {
        {"llama.block_count", GB_U32, 0, 0, "'llama.block_count' = 0 is out of range"},
        {"llama.block_count", GB_U32, 0x80000000u, 0, "'llama.block_count' = 2147483648 is out of range"},
        {"llama.block_count", GB_U64, UINT64_MAX, 0, "llama.block_count"},
        {"llama.embedding_length", GB_U32, 0xFFFFFFFFu, 0, "'llama.embedding_length' = 4294967295 is out of range"},
        {"llama.attention.head_count", GB_U32, 0, 0, "attention.head_count' = 0 is out of range"},
        {"llama.attention.head_count_kv", GB_U32, 3, 0, "not a multiple of head_count_kv 3"},
        {"llama.attention.head_count_kv", GB_U32, 8, 0, "head_count_kv' = 8 is out of range"},
        {"llama.attention.head_count", GB_U32, 5, 0, "not a multiple"},
        {"llama.context_length", GB_U64, 1ull << 40, 0, "context_length"},
        {"llama.feed_forward_length", GB_F32, 0, 64.0f, "expected an integer"},
        {"llama.rope.freq_base", GB_F32, 0, -1.0f, "rope.freq_base' = -1 must be positive"},
        {"llama.rope.freq_base", GB_F32, 0, NAN, "rope.freq_base"},
        {"llama.rope.freq_base", GB_F32, 0, INFINITY, "rope.freq_base"},
        {"llama.rope.freq_base", GB_U32, 10000, 0, "expected a float"},
        {"llama.attention.layer_norm_rms_epsilon", GB_F32, 0, 2.0f, "not below 1"},
        {"llama.attention.layer_norm_rms_epsilon", GB_F32, 0, 0.0f, "must be positive"},
        {"llama.attention.key_length", GB_U32, 100000, 0, "key_length"},
        {"llama.rope.dimension_count", GB_U32, 7, 0, "dimension_count"},
        {"llama.vocab_size", GB_U32, 5, 0, "vocab_size is 5 but token_embd.weight has 4 rows"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        model_spec s = tiny_llama();
        mkv *kv = spec_kv(&s, cases[i].key);
        kv->type = cases[i].type;
        kv->u = cases[i].u;
        kv->f = cases[i].f;
        char label[128];
        snprintf(label, sizeof label, "hyper-parameter case %zu (%s)", i, cases[i].key);
        expect_model(label, &s, cases[i].needle);
    }
    model_spec s = tiny_llama();
    spec_drop_kv(&s, "general.architecture");
    expect_model("no architecture", &s, "general.architecture");
    s = tiny_llama();
    spec_kv(&s, "general.architecture")->s = "mamba";
    expect_model("unknown architecture", &s, "unsupported architecture 'mamba'");
    s = tiny_llama();
    spec_kv(&s, "general.architecture")->s = "llama\n\x1b[1m";
    expect_model("architecture with control bytes", &s, "unsupported architecture");
    s = tiny_llama();
    s.fill = NAN;
    expect_model("NaN weights in a norm", &s, "non-finite");
}

/* A tiny Qwen3.5 hybrid: one Gated DeltaNet layer (dim 32, 2 key heads of 8, 4 value
 * heads of 8, 4 taps), so each case can break one of its ssm.* keys or tensors. */
static model_spec tiny_qwen35(void) {
    model_spec s = {
        .t = {{"token_embd.weight", 2, {32, 4}, GGML_TYPE_F32},
              {"output_norm.weight", 1, {32}, GGML_TYPE_F32},
              {"blk.0.attn_norm.weight", 1, {32}, GGML_TYPE_F32},
              {"blk.0.post_attention_norm.weight", 1, {32}, GGML_TYPE_F32},
              {"blk.0.attn_qkv.weight", 2, {32, 64}, GGML_TYPE_F32},
              {"blk.0.attn_gate.weight", 2, {32, 32}, GGML_TYPE_F32},
              {"blk.0.ssm_conv1d.weight", 2, {4, 64}, GGML_TYPE_F32},
              {"blk.0.ssm_dt.bias", 1, {4}, GGML_TYPE_F32},
              {"blk.0.ssm_a", 1, {4}, GGML_TYPE_F32},
              {"blk.0.ssm_beta.weight", 2, {32, 4}, GGML_TYPE_F32},
              {"blk.0.ssm_alpha.weight", 2, {32, 4}, GGML_TYPE_F32},
              {"blk.0.ssm_norm.weight", 1, {8}, GGML_TYPE_F32},
              {"blk.0.ssm_out.weight", 2, {32, 32}, GGML_TYPE_F32},
              {"blk.0.ffn_gate.weight", 2, {32, 64}, GGML_TYPE_F32},
              {"blk.0.ffn_up.weight", 2, {32, 64}, GGML_TYPE_F32},
              {"blk.0.ffn_down.weight", 2, {64, 32}, GGML_TYPE_F32}},
        .nt = 16,
        .kv = {{"general.architecture", GB_STRING, 0, 0, "qwen35"},
               {"qwen35.embedding_length", GB_U32, 32, 0, NULL},
               {"qwen35.block_count", GB_U32, 1, 0, NULL},
               {"qwen35.feed_forward_length", GB_U32, 64, 0, NULL},
               {"qwen35.context_length", GB_U32, 128, 0, NULL},
               {"qwen35.attention.head_count", GB_U32, 2, 0, NULL},
               {"qwen35.attention.head_count_kv", GB_U32, 1, 0, NULL},
               {"qwen35.attention.layer_norm_rms_epsilon", GB_F32, 0, 1e-6f, NULL},
               {"qwen35.ssm.conv_kernel", GB_U32, 4, 0, NULL},
               {"qwen35.ssm.state_size", GB_U32, 8, 0, NULL},
               {"qwen35.ssm.group_count", GB_U32, 2, 0, NULL},
               {"qwen35.ssm.time_step_rank", GB_U32, 4, 0, NULL},
               {"qwen35.ssm.inner_size", GB_U32, 32, 0, NULL}},
        .nkv = 13,
        .fill = 0.01f};
    return s;
}

static void test_model_hybrid(void) {
    model_spec s = tiny_qwen35();
    expect_model("the baseline tiny qwen35", &s, NULL);
    struct { const char *key; uint64_t u; const char *needle; } cases[] = {
        {"qwen35.ssm.time_step_rank", 3, "not a multiple of ssm.group_count"},
        {"qwen35.ssm.inner_size", 30, "does not split into"},
        {"qwen35.ssm.conv_kernel", 0, "conv_kernel' = 0 is out of range"},
        {"qwen35.ssm.conv_kernel", 99, "conv_kernel' = 99 is out of range"},
        {"qwen35.ssm.state_size", 0, "state_size' = 0 is out of range"},
        {"qwen35.nextn_predict_layers", 1, "nextn_predict_layers' = 1 is out of range"},
        {"qwen35.full_attention_interval", 0, "full_attention_interval' = 0 is out of range"},
        {"qwen35.ssm.group_count", 4, "missing tensor 'blk.0.attn_qkv.weight'|has shape"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        s = tiny_qwen35();
        spec_kv(&s, cases[i].key)->u = cases[i].u;
        char label[128];
        snprintf(label, sizeof label, "hybrid case %zu (%s)", i, cases[i].key);
        expect_model(label, &s, cases[i].needle);
    }
    s = tiny_qwen35();
    spec_drop_kv(&s, "qwen35.ssm.state_size");
    expect_model("no ssm.state_size", &s, "missing metadata key 'qwen35.ssm.state_size'");
    s = tiny_qwen35();
    spec_drop_tensor(&s, "blk.0.ssm_a");
    expect_model("no ssm_a", &s, "missing tensor 'blk.0.ssm_a'");
    /* an attention layer (interval 1: every layer) has no DeltaNet tensors to find */
    s = tiny_qwen35();
    spec_kv(&s, "qwen35.full_attention_interval")->u = 1;
    expect_model("attention where DeltaNet tensors are", &s, "missing tensor 'blk.0.attn_q.weight'");
}

/* --- tokenizer level: tokenizer_load on vocabularies that do not add up ---------------- */

/* A six-token SentencePiece vocabulary, plus whatever a case adds or changes. */
typedef struct vocab_spec {
    const char *model;      /* tokenizer.ggml.model; NULL = absent */
    uint64_t n_tokens;      /* entries written to tokenizer.ggml.tokens (UINT64_MAX = absent) */
    uint32_t tokens_type;   /* element type of the tokens array */
    uint64_t n_scores, n_types;  /* UINT64_MAX = absent */
    uint32_t scores_type, types_type;
    int32_t bad_type_value; /* written as token_type[1] when nonzero */
    uint32_t bos_id;
    const char *merge;      /* gpt2: the one merge rule; NULL = no merges key */
} vocab_spec;

static vocab_spec spm_vocab(void) {
    return (vocab_spec){"llama", 6, GB_STRING, 6, 6, GB_F32, GB_I32, 0, 1, NULL};
}

static void build_vocab(gbuf *b, const vocab_spec *v) {
    static const char *const text[] = {"<unk>", "<s>", "</s>", "\xe2\x96\x81" "a", "a", "b",
                                       "x", "y"};
    uint64_t n_kv = 1 + (v->model != NULL) + (v->n_tokens != UINT64_MAX) + (v->n_scores != UINT64_MAX) +
                    (v->n_types != UINT64_MAX) + (v->merge != NULL);
    gb_header(b, 3, 0, n_kv);
    if (v->model) gb_kv_str(b, "tokenizer.ggml.model", v->model);
    if (v->n_tokens != UINT64_MAX) {
        gb_kv_arr(b, "tokenizer.ggml.tokens", v->tokens_type, v->n_tokens);
        for (uint64_t i = 0; i < v->n_tokens; i++) {
            if (v->tokens_type == GB_STRING) gb_str(b, text[i % 8]);
            else gb_u32(b, (uint32_t)i);
        }
    }
    if (v->n_scores != UINT64_MAX) {
        gb_kv_arr(b, "tokenizer.ggml.scores", v->scores_type, v->n_scores);
        for (uint64_t i = 0; i < v->n_scores; i++) gb_u32(b, v->scores_type == GB_F32 ? 0xBF800000u : 1);
    }
    if (v->n_types != UINT64_MAX) {
        gb_kv_arr(b, "tokenizer.ggml.token_type", v->types_type, v->n_types);
        for (uint64_t i = 0; i < v->n_types; i++) {
            int32_t ty = i == 0 ? 2 : i < 3 ? 3 : 1; /* unknown, control x2, normal */
            if (i == 1 && v->bad_type_value) ty = v->bad_type_value;
            gb_u32(b, (uint32_t)ty);
        }
    }
    if (v->merge) {
        gb_kv_arr(b, "tokenizer.ggml.merges", GB_STRING, 1);
        gb_str(b, v->merge);
    }
    gb_kv_u32(b, "tokenizer.ggml.bos_token_id", v->bos_id);
}

static void expect_vocab(const char *label, const vocab_spec *v, const char *needles) {
    gbuf b = {0};
    build_vocab(&b, v);
    uint8_t *copy = gb_copy(&b, b.len);
    gguf_file f;
    char err[512] = "";
    int rc = gguf_open_memory(&f, copy, b.len, "vocab.gguf", err, sizeof err);
    CHECKF(rc == 0, "%s: the GGUF layer refused it: %s", label, err);
    if (rc == 0) {
        tokenizer *t = tokenizer_load(&f, err, sizeof err);
        if (!needles) {
            CHECKF(t != NULL, "%s: %s", label, err);
            if (t) {
                int32_t *ids = NULL;
                int n = tokenizer_encode(t, "ab", 2, false, false, &ids, err, sizeof err);
                CHECKF(n > 0, "%s: encoding failed: %s", label, err);
                free(ids);
            }
        } else {
            CHECKF(!t && names_problem(err, needles), "%s: %s, err \"%s\" (wanted one line naming %s)",
                   label, t ? "loaded" : "refused", err, needles);
        }
        tokenizer_free(t);
        gguf_close(&f);
    }
    free(copy);
    gb_free(&b);
}

static void test_tokenizer_arrays_disagree(void) {
    vocab_spec v = spm_vocab();
    expect_vocab("the baseline vocabulary", &v, NULL);
    v.n_scores = UINT64_MAX;
    v.n_types = UINT64_MAX;
    expect_vocab("scores and types absent", &v, NULL);

    static const uint64_t wrong[] = {0, 5, 7, 1000};
    for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++) {
        char label[64], needle[128];
        v = spm_vocab();
        v.n_scores = wrong[i];
        snprintf(label, sizeof label, "%llu scores", (unsigned long long)wrong[i]);
        snprintf(needle, sizeof needle, "tokenizer.ggml.scores has %llu entries but tokenizer.ggml.tokens has 6",
                 (unsigned long long)wrong[i]);
        expect_vocab(label, &v, needle);
        v = spm_vocab();
        v.n_types = wrong[i];
        snprintf(label, sizeof label, "%llu token types", (unsigned long long)wrong[i]);
        snprintf(needle, sizeof needle, "tokenizer.ggml.token_type has %llu entries", (unsigned long long)wrong[i]);
        expect_vocab(label, &v, needle);
    }
    v = spm_vocab();
    v.scores_type = GB_I32;
    expect_vocab("integer scores", &v, "tokenizer.ggml.scores must be an array of f32");
    v = spm_vocab();
    v.types_type = GB_F32;
    expect_vocab("float token types", &v, "tokenizer.ggml.token_type must be an array");
    v = spm_vocab();
    v.bad_type_value = 99;
    expect_vocab("token type 99", &v, "token_type[1] = 99 is not a token type");
    v = spm_vocab();
    v.bad_type_value = -7;
    expect_vocab("token type -7", &v, "token_type[1] = -7");
}

static void test_tokenizer_bad_vocabulary(void) {
    vocab_spec v = spm_vocab();
    v.n_tokens = UINT64_MAX;
    v.n_scores = v.n_types = UINT64_MAX;
    expect_vocab("no tokens", &v, "tokenizer.ggml.tokens is missing");
    v = spm_vocab();
    v.tokens_type = GB_U32;
    v.n_scores = v.n_types = UINT64_MAX;
    expect_vocab("tokens not strings", &v, "tokenizer.ggml.tokens is not an array of strings");
    v = spm_vocab();
    v.n_tokens = 0;
    v.n_scores = v.n_types = 0;
    expect_vocab("empty vocabulary", &v, "tokenizer.ggml.tokens has 0 entries");
    v = spm_vocab();
    v.model = NULL;
    expect_vocab("no tokenizer model", &v, "tokenizer.ggml.model is missing");
    v = spm_vocab();
    v.model = "sentencepiece\n";
    expect_vocab("unknown tokenizer model", &v, "unsupported tokenizer model 'sentencepiece\\x0a'");
    static const uint32_t ids[] = {6, 7, 1000000};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        v = spm_vocab();
        v.bos_id = ids[i];
        expect_vocab("bos id outside the vocabulary", &v, "is not a token id");
    }
    v = spm_vocab();
    v.model = "gpt2";
    expect_vocab("byte-level BPE without merges", &v, "without tokenizer.ggml.merges");
    v.merge = "ab";
    expect_vocab("malformed merge", &v, "is not of the form 'left right'");
    v.merge = "a ";
    expect_vocab("merge with empty right side", &v, "is not of the form");
}

/* --- the keys of the 2026 families ------------------------------------------------------ */

/* Appends the value of KV (any type the reader accepts) to B as the file spells it. */
static void copy_value(gbuf *b, const gguf_kv *kv) {
    static const int size[GGUF_VT_COUNT] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    if (kv->type == GGUF_VT_STRING) {
        gb_strn(b, kv->str.ptr, (size_t)kv->str.len);
    } else if (kv->type == GGUF_VT_ARRAY) {
        gb_u32(b, kv->arr_type);
        gb_u64(b, kv->arr_len);
        if (kv->arr_type == GGUF_VT_STRING)
            for (uint64_t i = 0; i < kv->arr_len; i++) gb_strn(b, kv->arr_strs[i].ptr, (size_t)kv->arr_strs[i].len);
        else
            gb_bytes(b, kv->arr_data, (size_t)(kv->arr_len * (uint64_t)size[kv->arr_type]));
    } else if (kv->type == GGUF_VT_FLOAT32) { /* the reader widened floats to double */
        gb_f32(b, (float)kv->num.f);
    } else if (kv->type == GGUF_VT_FLOAT64) {
        gb_f64(b, kv->num.f);
    } else {
        gb_le(b, kv->num.u, size[kv->type]);
    }
}

/* F rewritten into B with key KEY's value replaced by what EMIT appends (its type TYPE),
 * or added when F has no such key: every other key, the tensor table and the data as
 * they were. */
static void rewrite_with(gbuf *b, const gguf_file *f, const char *key, uint32_t type, void (*emit)(gbuf *)) {
    const bool found = gguf_find(f, key) != NULL;
    gb_header(b, 3, f->n_tensors, f->n_kv + (found ? 0 : 1));
    for (uint64_t i = 0; i < f->n_kv; i++) {
        const gguf_kv *kv = &f->kv[i];
        bool mine = gguf_str_eq(kv->key, key);
        gb_strn(b, kv->key.ptr, (size_t)kv->key.len);
        gb_u32(b, mine ? type : kv->type);
        if (mine) emit(b);
        else copy_value(b, kv);
    }
    if (!found) {
        gb_kv_head(b, key, type);
        emit(b);
    }
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        const gguf_tensor *t = &f->tensors[i];
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int)t->name.len, t->name.ptr);
        gb_tensor(b, name, t->n_dims, t->ne, t->type, t->offset);
    }
    gb_pad(b, 32);
    size_t data = b->len;
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        const gguf_tensor *t = &f->tensors[i];
        gb_zeros(b, data + (size_t)t->offset - b->len);
        gb_bytes(b, t->data, (size_t)t->nbytes);
    }
    gb_pad(b, 32);
}

static void emit_pattern_short(gbuf *b) { gb_u32(b, GB_BOOL), gb_u64(b, 3), gb_u8(b, 1), gb_u8(b, 1), gb_u8(b, 0); }
static void emit_pattern_ints(gbuf *b) {
    gb_u32(b, GB_U32), gb_u64(b, 5);
    for (int i = 0; i < 5; i++) gb_u32(b, 1);
}
static void emit_ff_short(gbuf *b) {
    gb_u32(b, GB_I32), gb_u64(b, 4);
    for (int i = 0; i < 4; i++) gb_u32(b, 64);
}
static void emit_zero(gbuf *b) { gb_u32(b, 0); }
static void emit_four(gbuf *b) { gb_u32(b, 4); }
static void emit_huge(gbuf *b) { gb_u32(b, 1000000); }
static void emit_dynamic(gbuf *b) { gb_str(b, "dynamic"); }

/* A tiny Gemma 4 (5 layers: sliding, sliding, global, sliding, global; the last two
 * reading layers 1 and 2's keys), then one broken key at a time: each gives one error line
 * naming the key or the layer, never a crash (this binary also runs under ASan/UBSan). */
static void test_model_2026_keys(void) {
    static const bool pattern[5] = {1, 1, 0, 1, 0};
    static const int ff[5] = {64, 64, 64, 128, 128};
    const synth_shape shape = {.name = "tiny-gemma4", .arch = "gemma4", .n_embd = 64, .n_layer = 5, .n_head = 2,
                               .n_head_kv = 1, .head_dim = 64, .head_dim_swa = 32, .n_ff_layers = ff, .n_vocab = 300,
                               .n_ctx = 256, .rope_base = 1e6f, .rope_base_swa = 1e4f, .eps = 1e-6f, .tied = true,
                               .window = 16, .window_pattern = pattern, .shared_kv = 2, .per_layer = 16,
                               .final_softcap = 30.0f, .rope_factors = true};
    char path[] = "/tmp/llmscope-hostile-XXXXXX", err[512];
    int fd = mkstemp(path);
    if (fd < 0) return;
    close(fd);
    gguf_file f;
    model m;
    if (synth_write_shape(&shape, "f32", path, 1, NULL, NULL, err, sizeof err) || gguf_open(&f, path, err, sizeof err)) {
        CHECKF(0, "%s", err);
        remove(path);
        return;
    }
    CHECKF(model_load(&m, path, err, sizeof err) == 0, "the valid tiny gemma4: %s", err);
    if (!test_failed_) {
        CHECK(m.desc[3].kv_layer == 1 && m.desc[4].kv_layer == 2 && m.desc[2].window == 0 && m.desc[3].window == 16);
        model_free(&m);
    }
    static const struct {
        const char *key;
        uint32_t type;
        void (*emit)(gbuf *);
        const char *needle;
    } cases[] = {
        {"gemma4.attention.sliding_window_pattern", GB_ARRAY, emit_pattern_short, "has 3 entries for 5 layers"},
        {"gemma4.attention.sliding_window_pattern", GB_ARRAY, emit_pattern_ints, "must be an array of booleans"},
        {"gemma4.feed_forward_length", GB_ARRAY, emit_ff_short, "has 4 entries for 5 layers"},
        {"gemma4.attention.sliding_window", GB_U32, emit_zero, "sliding_window' = 0 is out of range"},
        {"gemma4.attention.shared_kv_layers", GB_U32, emit_four, "an earlier global layer, and there is none"},
        {"gemma4.attention.key_length_swa", GB_U32, emit_huge, "key_length_swa' = 1000000 is out of range"},
        {"gemma4.rope.scaling.type", GB_STRING, emit_dynamic, "unsupported rope scaling type 'dynamic'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        gbuf b = {0};
        rewrite_with(&b, &f, cases[i].key, cases[i].type, cases[i].emit);
        uint8_t *copy = gb_copy(&b, b.len);
        gguf_file g;
        int rc = gguf_open_memory(&g, copy, b.len, "tiny.gguf", err, sizeof err);
        CHECKF(rc == 0, "%s: the GGUF layer refused it: %s", cases[i].key, err);
        if (rc == 0) {
            rc = model_load_gguf(&m, &g, err, sizeof err);
            CHECKF(rc == -1 && names_problem(err, cases[i].needle) && strstr(err, "tiny.gguf"),
                   "%s: rc %d, err \"%s\" (wanted one line naming %s)", cases[i].key, rc, err, cases[i].needle);
            if (rc == 0) model_free(&m);
        }
        free(copy);
        gb_free(&b);
    }
    gguf_close(&f);
    remove(path);
}

int main(void) {
    RUN(test_truncated_at_every_byte);
    RUN(test_truncated_real_file_at_boundaries);
    RUN(test_bad_magic_and_version);
    RUN(test_absurd_counts);
    RUN(test_absurd_dimensions);
    RUN(test_tensor_data_out_of_bounds);
    RUN(test_overlapping_tensors);
    RUN(test_misaligned_offsets);
    RUN(test_unknown_types);
    RUN(test_nested_arrays);
    RUN(test_duplicates);
    RUN(test_hostile_names_stay_one_line);
    RUN(test_open_errors);
    RUN(test_fuzz_small_built_file);
    RUN(test_fuzz_real_files);
    RUN(test_model_tiny_llama_loads);
    RUN(test_model_missing_tensor);
    RUN(test_model_wrong_shape);
    RUN(test_model_unsupported_type);
    RUN(test_model_iq4_xs_narrow_rows);
    RUN(test_model_bad_hyperparameters);
    RUN(test_model_2026_keys);
    RUN(test_model_hybrid);
    RUN(test_tokenizer_arrays_disagree);
    RUN(test_tokenizer_bad_vocabulary);
    return test_exit_code();
}
