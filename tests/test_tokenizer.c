/* test_tokenizer.c — the tokenizer against reference tokenizations.
 *
 * ../shared/tokenizer/llama.cpp-vocab holds llama.cpp's own tokenizer tests (vocab-only
 * GGUF files, .inp texts, .out ids produced by Hugging Face tokenizers), and
 * ../shared/tokenizer/hf the same layout for vocabularies inside the shared models. Every
 * text must encode to exactly the reference ids (no BOS). Reference ids must also decode
 * back to the text, and our own encodings of byte-level vocabularies must round-trip.
 * The rest checks UTF-8 streaming and validation, and that malformed vocabularies are
 * refused with a clear message. */
#include "gguf.h"
#include "gguf_builder.h"
#include "pretokenizer.h"
#include "test.h"
#include "tokenizer.h"

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

/* ---- reading the suites ---- */

static char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            char *b = realloc(buf, 2 * cap + 1);
            if (!b) { free(buf); buf = NULL; break; }
            buf = b;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf) buf[n] = 0;
    *len = n;
    return buf;
}

typedef struct suite {
    char *inp, *out;           /* file contents; texts and lines point into them */
    int n;
    const char **text;
    size_t *text_len;
    int32_t **ids;
    int *n_ids;
} suite;

static void suite_free(suite *s) {
    for (int i = 0; i < s->n; i++) free(s->ids[i]);
    free(s->inp);
    free(s->out);
    free(s->text);
    free(s->text_len);
    free(s->ids);
    free(s->n_ids);
    memset(s, 0, sizeof *s);
}

/* Texts are separated by "\n__ggml_vocab_test__\n" (llama.cpp's files also end with
 * one); the .out file has one line of space-separated ids per text. */
static bool suite_load(suite *s, const char *inp_path, const char *out_path) {
    static const char SEP[] = "\n__ggml_vocab_test__\n";
    size_t inp_len, out_len;
    memset(s, 0, sizeof *s);
    s->inp = slurp(inp_path, &inp_len);
    s->out = slurp(out_path, &out_len);
    if (!s->inp || !s->out) return false;
    int cap = 256;
    s->text = malloc(cap * sizeof *s->text);
    s->text_len = malloc(cap * sizeof *s->text_len);
    const char *p = s->inp, *end = s->inp + inp_len;
    while (p < end && s->n < cap) {
        const char *sep = strstr(p, SEP);
        const char *stop = sep ? sep : end;
        s->text[s->n] = p;
        s->text_len[s->n++] = (size_t)(stop - p);
        if (!sep) break;
        p = sep + strlen(SEP);
    }
    s->ids = calloc(cap, sizeof *s->ids);
    s->n_ids = calloc(cap, sizeof *s->n_ids);
    int line = 0;
    for (char *q = s->out; q < s->out + out_len && line < s->n; line++) {
        char *nl = strchr(q, '\n');
        if (nl) *nl = 0;
        s->ids[line] = malloc((strlen(q) / 2 + 1) * sizeof(int32_t));
        char *e;
        for (long v = strtol(q, &e, 10); e != q; v = strtol(q, &e, 10)) {
            s->ids[line][s->n_ids[line]++] = (int32_t)v;
            q = e;
        }
        q = nl ? nl + 1 : s->out + out_len;
    }
    if (line != s->n) {
        fprintf(stderr, "  %s: %d texts but %d lines of ids\n", out_path, s->n, line);
        return false;
    }
    return true;
}

/* Prints up to 60 bytes of a text on one line with control bytes escaped. */
static void show_text(const char *s, size_t n) {
    fputc('"', stderr);
    for (size_t i = 0; i < n && i < 60; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n') fputs("\\n", stderr);
        else if (c == '\t') fputs("\\t", stderr);
        else if (c < 0x20) fprintf(stderr, "\\x%02x", c);
        else fputc(c, stderr);
    }
    fputs(n > 60 ? "\"..." : "\"", stderr);
}

static void show_ids(const char *label, const int32_t *ids, int n) {
    fprintf(stderr, "      %s:", label);
    for (int i = 0; i < n && i < 24; i++) fprintf(stderr, " %d", ids[i]);
    fputs(n > 24 ? " ...\n" : "\n", stderr);
}

typedef struct loaded {
    gguf_file f;
    tokenizer *t;
} loaded;

static bool load_vocab(loaded *v, const char *path) {
    char err[512];
    memset(v, 0, sizeof *v);
    if (gguf_open(&v->f, path, err, sizeof err)) {
        CHECKF(0, "%s", err);
        return false;
    }
    v->t = tokenizer_load(&v->f, err, sizeof err);
    CHECKF(v->t, "%s: %s", path, err);
    return v->t != NULL;
}

static void unload(loaded *v) {
    tokenizer_free(v->t);
    gguf_close(&v->f);
}

/* Encodes every text of the suite and counts the lines that match the reference. */
static int count_matches(const tokenizer *t, const suite *s, bool parse_special, const char *name) {
    int ok = 0, shown = 0;
    for (int i = 0; i < s->n; i++) {
        int32_t *ids = NULL;
        char err[256];
        int n = tokenizer_encode(t, s->text[i], s->text_len[i], false, parse_special, &ids, err,
                                 sizeof err);
        bool same = n == s->n_ids[i] && memcmp(ids, s->ids[i], (size_t)n * sizeof *ids) == 0;
        if (same) ok++;
        else if (shown++ < 3) {
            fprintf(stderr, "    %s line %d ", name, i + 1);
            show_text(s->text[i], s->text_len[i]);
            fputc('\n', stderr);
            show_ids("expected", s->ids[i], s->n_ids[i]);
            if (n >= 0) show_ids("got     ", ids, n);
            else fprintf(stderr, "      error: %s\n", err);
        }
        free(ids);
    }
    return ok;
}

/* Concatenated pieces of IDS. */
static char *detokenize(const tokenizer *t, const int32_t *ids, int n, size_t *len) {
    size_t cap = 64, o = 0;
    char *buf = malloc(cap);
    for (int i = 0; i < n; i++) {
        int k = tokenizer_piece(t, ids[i], NULL, 0);
        if (k < 0) { free(buf); return NULL; }
        while (o + (size_t)k > cap) buf = realloc(buf, cap *= 2);
        tokenizer_piece(t, ids[i], buf + o, (size_t)k);
        o += (size_t)k;
    }
    *len = o;
    return buf;
}

/* The reference ids, decoded, give back the text ("▁" prefix: SPM adds one space). */
static int count_decodes(const tokenizer *t, const suite *s, bool space_prefix) {
    int ok = 0;
    for (int i = 0; i < s->n; i++) {
        size_t n;
        char *d = detokenize(t, s->ids[i], s->n_ids[i], &n);
        size_t skip = space_prefix && s->text_len[i] > 0 ? 1 : 0;
        if (d && n == s->text_len[i] + skip && (!skip || d[0] == ' ') &&
            memcmp(d + skip, s->text[i], s->text_len[i]) == 0)
            ok++;
        else if (ok + 3 > i) {
            fprintf(stderr, "    line %d decodes to ", i + 1);
            show_text(d ? d : "", d ? n : 0);
            fputc('\n', stderr);
        }
        free(d);
    }
    return ok;
}

/* Our own encoding (parse_special off), decoded, gives back the text. */
static int count_round_trips(const tokenizer *t, const suite *s, bool space_prefix) {
    int ok = 0;
    for (int i = 0; i < s->n; i++) {
        int32_t *ids = NULL;
        char err[256];
        int k = tokenizer_encode(t, s->text[i], s->text_len[i], false, false, &ids, err,
                                 sizeof err);
        size_t n = 0;
        char *d = k >= 0 ? detokenize(t, ids, k, &n) : NULL;
        size_t skip = space_prefix && s->text_len[i] > 0 ? 1 : 0;
        if (d && n == s->text_len[i] + skip && memcmp(d + skip, s->text[i], s->text_len[i]) == 0)
            ok++;
        free(d);
        free(ids);
    }
    return ok;
}

/* ---- llama.cpp's suites ---- */

/* llama.cpp's test-tokenizer-0 encodes with add_special = false and parse_special = true
 * (none of the texts contains a control token, so the flag only matters in principle). */
static void run_llamacpp_suite(const char *name, bool round_trip, bool spm) {
    char vocab_rel[200], inp_rel[256], out_rel[256], vp[512], ip[512], op[512];
    snprintf(vocab_rel, sizeof vocab_rel, "tokenizer/llama.cpp-vocab/ggml-vocab-%s.gguf", name);
    snprintf(inp_rel, sizeof inp_rel, "%s.inp", vocab_rel);
    snprintf(out_rel, sizeof out_rel, "%s.out", vocab_rel);
    REQUIRE_SHARED(vp, vocab_rel);
    REQUIRE_SHARED(ip, inp_rel);
    REQUIRE_SHARED(op, out_rel);
    suite s;
    loaded v;
    if (!suite_load(&s, ip, op)) {
        CHECKF(0, "cannot read the %s suite", name);
        suite_free(&s);
        return;
    }
    if (load_vocab(&v, vp)) {
        int ok = count_matches(v.t, &s, true, name);
        CHECKF(ok == s.n, "suite %s: %d/%d lines match", name, ok, s.n);
        if (round_trip) {
            int dec = count_decodes(v.t, &s, spm);
            CHECKF(dec == s.n, "suite %s: %d/%d reference tokenizations decode to the text", name,
                   dec, s.n);
            int rt = count_round_trips(v.t, &s, spm);
            CHECKF(rt == s.n, "suite %s: %d/%d texts round-trip", name, rt, s.n);
        }
        unload(&v);
    }
    suite_free(&s);
}

#define LLAMACPP_SUITE(fn, name, round_trip, spm) \
    static void fn(void) { run_llamacpp_suite(name, round_trip, spm); }
LLAMACPP_SUITE(test_vocab_llama_spm, "llama-spm", true, true)
LLAMACPP_SUITE(test_vocab_phi_3, "phi-3", true, true)
LLAMACPP_SUITE(test_vocab_gpt_2, "gpt-2", true, false)
LLAMACPP_SUITE(test_vocab_deepseek_llm, "deepseek-llm", true, false)
LLAMACPP_SUITE(test_vocab_deepseek_coder, "deepseek-coder", true, false)
LLAMACPP_SUITE(test_vocab_falcon, "falcon", true, false)
LLAMACPP_SUITE(test_vocab_mpt, "mpt", true, false)
LLAMACPP_SUITE(test_vocab_refact, "refact", true, false)
LLAMACPP_SUITE(test_vocab_starcoder, "starcoder", true, false)
LLAMACPP_SUITE(test_vocab_bert_bge, "bert-bge", false, false) /* lowercases: no round trip */

/* ---- Hugging Face suites over the vocabularies inside the shared models ---- */

static void test_smollm2_suite(void) {
    char vp[512], ip[512], op[512];
    REQUIRE_SHARED(vp, "models/llama-gqa-tiny-f32.gguf");
    REQUIRE_SHARED(ip, "tokenizer/hf/smollm2.inp");
    REQUIRE_SHARED(op, "tokenizer/hf/smollm2.out");
    suite s;
    loaded v;
    if (!suite_load(&s, ip, op)) {
        CHECKF(0, "cannot read the smollm2 suite");
        suite_free(&s);
        return;
    }
    if (load_vocab(&v, vp)) {
        /* Hugging Face always recognises special tokens written in the text. */
        int ok = count_matches(v.t, &s, true, "smollm2");
        CHECKF(ok == s.n, "suite smollm2: %d/%d lines match", ok, s.n);
        int dec = count_decodes(v.t, &s, false);
        CHECKF(dec == s.n, "suite smollm2: %d/%d reference tokenizations decode to the text",
               dec, s.n);
        int rt = count_round_trips(v.t, &s, false);
        CHECKF(rt == s.n, "suite smollm2: %d/%d texts round-trip", rt, s.n);
        unload(&v);
    }
    suite_free(&s);
}

/* What a user types must not become control tokens: "<|im_start|>" typed as text stays
 * text unless the caller (a rendered chat template) asks for special parsing. */
static void test_smollm2_parse_special(void) {
    char vp[512];
    REQUIRE_SHARED(vp, "models/llama-gqa-tiny-f32.gguf");
    loaded v;
    if (!load_vocab(&v, vp)) return;
    const tokenizer *t = v.t;
    static const char text[] = "<|im_start|>user\nhi<|im_end|>";
    const int32_t want[] = {1, 4093, 198, 6004, 2}; /* hf/smollm2.out */
    int32_t *ids = NULL;
    char err[256];
    int n = tokenizer_encode(t, text, strlen(text), false, true, &ids, err, sizeof err);
    CHECKF(n == 5 && memcmp(ids, want, sizeof want) == 0, "parse_special=true: n=%d", n);
    free(ids);
    n = tokenizer_encode(t, text, strlen(text), false, false, &ids, err, sizeof err);
    CHECKF(n > 5, "parse_special=false gave %d tokens", n);
    for (int i = 0; i < n; i++)
        CHECKF(ids[i] != 1 && ids[i] != 2 && !tokenizer_is_control(t, ids[i]),
               "typed text produced control token %d", ids[i]);
    size_t len;
    char *d = detokenize(t, ids, n, &len);
    CHECKF(d && len == strlen(text) && memcmp(d, text, len) == 0,
           "typed control text does not round-trip");
    free(d);
    free(ids);

    /* The file's metadata: BOS <|im_start|> (1), EOS <|im_end|> (2), no automatic BOS. */
    CHECK(tokenizer_get_kind(t) == TOKENIZER_BPE);
    CHECK(strcmp(tokenizer_pre_name(t), "smollm") == 0);
    CHECK(tokenizer_n_vocab(t) == 49152);
    CHECK(tokenizer_bos(t) == 1 && tokenizer_eos(t) == 2);
    CHECK(!tokenizer_adds_bos(t));
    CHECK(tokenizer_find(t, "<|im_end|>") == 2);
    CHECK(tokenizer_find(t, "no such token, surely") == -1);
    CHECK(tokenizer_is_eog(t, 2));
    CHECK(tokenizer_is_eog(t, tokenizer_find(t, "<|endoftext|>")));
    CHECK(!tokenizer_is_eog(t, 198));
    CHECK(tokenizer_is_control(t, 1) && !tokenizer_is_control(t, 198));
    CHECK(tokenizer_token_text(t, 2) && strcmp(tokenizer_token_text(t, 2), "<|im_end|>") == 0);
    CHECK(tokenizer_token_text(t, -1) == NULL && tokenizer_token_text(t, 49152) == NULL);
    char buf[8];
    CHECK(tokenizer_piece(t, 49152, buf, sizeof buf) == -1);
    CHECK(tokenizer_piece(t, 198, buf, sizeof buf) == 1 && buf[0] == '\n');
    unload(&v);
}

/* TinyStories-656K: a SentencePiece-style BPE stored as "llama" with scores -id and no
 * <0xNN> tokens. A stretch goal: llama.cpp cannot load it at all. */
static void test_tinystories_suite(void) {
    char vp[512], ip[512], op[512];
    REQUIRE_SHARED(vp, "models/tinystories-656k-f32.gguf");
    REQUIRE_SHARED(ip, "tokenizer/hf/tinystories656k.inp");
    REQUIRE_SHARED(op, "tokenizer/hf/tinystories656k.out");
    suite s;
    loaded v;
    if (!suite_load(&s, ip, op)) {
        CHECKF(0, "cannot read the tinystories656k suite");
        suite_free(&s);
        return;
    }
    if (load_vocab(&v, vp)) {
        CHECK(tokenizer_get_kind(v.t) == TOKENIZER_SPM && tokenizer_adds_bos(v.t));
        /* Its only special tokens (<unk>, <|start_story|>, <|end_story|>) are not in the
         * texts, so the flag does not matter; off is what typed text gets. */
        int ok = count_matches(v.t, &s, false, "tinystories656k");
        CHECKF(ok == s.n, "suite tinystories656k: %d/%d lines match", ok, s.n);
        unload(&v);
    }
    suite_free(&s);
}

/* ---- details ---- */

static void test_spm_details(void) {
    char vp[512];
    REQUIRE_SHARED(vp, "tokenizer/llama.cpp-vocab/ggml-vocab-llama-spm.gguf");
    loaded v;
    if (!load_vocab(&v, vp)) return;
    const tokenizer *t = v.t;
    CHECK(tokenizer_get_kind(t) == TOKENIZER_SPM);
    CHECK(tokenizer_adds_bos(t) && tokenizer_bos(t) == 1 && tokenizer_eos(t) == 2);
    CHECK(tokenizer_is_eog(t, 2) && !tokenizer_is_eog(t, 1));
    char buf[16];
    int32_t nl = tokenizer_find(t, "<0x0A>");
    CHECK(nl >= 0 && tokenizer_piece(t, nl, buf, sizeof buf) == 1 && buf[0] == '\n');
    int32_t the = tokenizer_find(t, "\xe2\x96\x81the");
    CHECK(the >= 0 && tokenizer_piece(t, the, buf, sizeof buf) == 4 && memcmp(buf, " the", 4) == 0);
    /* A piece longer than the buffer: the full length comes back, only CAP bytes written. */
    buf[2] = 'X';
    CHECK(tokenizer_piece(t, the, buf, 2) == 4 && buf[2] == 'X');

    /* add_bos puts BOS first; typed "<s>" is only BOS with parse_special. */
    int32_t *ids = NULL;
    char err[256];
    int n = tokenizer_encode(t, "Hello", 5, true, false, &ids, err, sizeof err);
    CHECK(n == 2 && ids[0] == 1); /* llama-spm.out: " Hello" -> 15043 */
    CHECK(n == 2 && ids[1] == 15043);
    free(ids);
    n = tokenizer_encode(t, "<s>", 3, false, false, &ids, err, sizeof err);
    CHECK(n > 1);
    for (int i = 0; i < n; i++) CHECK(ids[i] != 1);
    free(ids);
    n = tokenizer_encode(t, "<s>", 3, false, true, &ids, err, sizeof err);
    CHECK(n == 1 && ids[0] == 1);
    free(ids);
    n = tokenizer_encode(t, "", 0, true, false, &ids, err, sizeof err);
    CHECK(n == 1 && ids && ids[0] == 1);
    free(ids);
    unload(&v);
}

static void test_invalid_utf8_rejected(void) {
    char vp[512];
    REQUIRE_SHARED(vp, "tokenizer/llama.cpp-vocab/ggml-vocab-gpt-2.gguf");
    loaded v;
    if (!load_vocab(&v, vp)) return;
    static const char *const bad[] = {"ab\xff" "cd", "ab\xc3", "ab\xc0\xaf", "ab\xed\xa0\x80",
                                      "ab\xf4\x90\x80\x80", "ab\x80"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int32_t *ids = (int32_t *)1;
        char err[256] = "";
        int n = tokenizer_encode(v.t, bad[i], strlen(bad[i]), false, false, &ids, err, sizeof err);
        CHECKF(n == -1 && ids == NULL, "invalid text %zu was accepted", i);
        CHECKF(strstr(err, "offset 2") && !strchr(err, '\n'), "error was: %s", err);
    }
    int32_t *ids = NULL;
    char err[256];
    /* NUL is a valid character. */
    CHECK(tokenizer_encode(v.t, "a\0b", 3, false, false, &ids, err, sizeof err) == 3);
    free(ids);
    unload(&v);
}

static void test_utf8_valid(void) {
    size_t at = 99;
    CHECK(utf8_valid("", 0, &at));
    CHECK(utf8_valid("plain ascii", 11, NULL));
    CHECK(utf8_valid("\xc3\xa9\xe2\x82\xac\xf0\x9f\xa6\x99\xf4\x8f\xbf\xbf", 13, NULL));
    CHECK(!utf8_valid("ab\xc3", 3, &at) && at == 2);                 /* truncated */
    CHECK(!utf8_valid("\xc0\xaf", 2, &at) && at == 0);               /* overlong '/' */
    CHECK(!utf8_valid("x\xe0\x80\xaf", 4, &at) && at == 1);          /* overlong, 3 bytes */
    CHECK(!utf8_valid("xy\xed\xa0\x80", 5, &at) && at == 2);         /* surrogate */
    CHECK(!utf8_valid("\xf4\x90\x80\x80", 4, &at) && at == 0);       /* > U+10FFFF */
    CHECK(!utf8_valid("abc\x80", 4, &at) && at == 3);                /* stray continuation */
    CHECK(!utf8_valid("\xe2\x82" "a", 3, &at) && at == 0);           /* cut short */
}

/* Feeds IN to a stream in pieces of the given sizes and collects the output. */
static size_t stream_in_pieces(const char *in, size_t n, const size_t *sizes, int n_sizes,
                               char *out, bool *ever_partial) {
    utf8_stream s = {0};
    size_t o = 0, pos = 0;
    for (int i = 0; i < n_sizes && pos < n; i++) {
        size_t k = sizes[i] < n - pos ? sizes[i] : n - pos;
        size_t w = utf8_stream_push(&s, in + pos, k, out + o, k + 4);
        CHECKF(utf8_valid(out + o, w, NULL), "stream emitted an incomplete character");
        if (s.n_pending && ever_partial) *ever_partial = true;
        o += w;
        pos += k;
    }
    return o + utf8_stream_finish(&s, out + o, 4);
}

static void test_utf8_stream(void) {
    static const char text[] = "a\xc3\xa9\xf0\x9f\xa6\x99z\xe2\x82\xac"; /* a é 🦙 z € */
    size_t n = strlen(text);
    char out[64];
    /* Every way of cutting the text into 1..4-byte pieces gives back the same text. */
    for (size_t a = 1; a <= 4; a++)
        for (size_t b = 1; b <= 4; b++) {
            size_t sizes[16];
            for (int i = 0; i < 16; i++) sizes[i] = i % 2 ? b : a;
            bool partial = false;
            size_t o = stream_in_pieces(text, n, sizes, 16, out, &partial);
            CHECKF(o == n && memcmp(out, text, n) == 0, "pieces %zu/%zu: text changed", a, b);
            if (a == 1) CHECK(partial);
        }
    /* The emoji split 1 + 3: nothing comes out until its last byte arrives. */
    utf8_stream s = {0};
    CHECK(utf8_stream_push(&s, "\xf0", 1, out, 5) == 0 && s.n_pending == 1);
    CHECK(utf8_stream_push(&s, "\x9f\xa6", 2, out, 6) == 0 && s.n_pending == 3);
    CHECK(utf8_stream_push(&s, "\x99!", 2, out, 6) == 5 &&
          memcmp(out, "\xf0\x9f\xa6\x99!", 5) == 0);
    CHECK(s.n_pending == 0);

    /* Ill-formed bytes come out as U+FFFD, one per maximal ill-formed subpart. */
    static const char fffd[] = "\xef\xbf\xbd";
    size_t w = utf8_stream_push(&s, "a\xff" "b", 3, out, 64);
    CHECK(w == 5 && memcmp(out, "a", 1) == 0 && memcmp(out + 1, fffd, 3) == 0 && out[4] == 'b');
    w = utf8_stream_push(&s, "\xe2\x82" "x", 3, out, 64); /* cut-short € then x */
    CHECK(w == 4 && memcmp(out, fffd, 3) == 0 && out[3] == 'x');
    /* A held prefix that the next piece does not continue. */
    CHECK(utf8_stream_push(&s, "\xe2", 1, out, 64) == 0);
    w = utf8_stream_push(&s, "A", 1, out, 64);
    CHECK(w == 4 && memcmp(out, fffd, 3) == 0 && out[3] == 'A');
    /* A stream that ends inside a character. */
    CHECK(utf8_stream_push(&s, "\xc3", 1, out, 64) == 0);
    CHECK(utf8_stream_finish(&s, out, 64) == 3 && memcmp(out, fffd, 3) == 0);
    CHECK(utf8_stream_finish(&s, out, 64) == 0);
    /* Garbage at the minimum capacity (n + 4) never overflows. */
    char small[12];
    memset(small, '#', sizeof small);
    w = utf8_stream_push(&s, "\xff\xff\xff\xff\xff\xff\xff\xff", 8, small, 12);
    CHECK(w <= 12 && memcmp(small, fffd, 3) == 0);
}

/* Pieces of a real byte-level vocabulary split an emoji across tokens; streaming them
 * must never show half a character. */
static void test_stream_tokens(void) {
    char vp[512];
    REQUIRE_SHARED(vp, "tokenizer/llama.cpp-vocab/ggml-vocab-gpt-2.gguf");
    loaded v;
    if (!load_vocab(&v, vp)) return;
    static const char text[] = " this is \xf0\x9f\xa6\x99.cpp \xe2\x9c\x85 done";
    int32_t *ids = NULL;
    char err[256];
    int n = tokenizer_encode(v.t, text, strlen(text), false, false, &ids, err, sizeof err);
    CHECK(n > 0);
    utf8_stream s = {0};
    char out[256], piece[64];
    size_t o = 0;
    int held = 0;
    for (int i = 0; i < n; i++) {
        int k = tokenizer_piece(v.t, ids[i], piece, sizeof piece);
        CHECK(k >= 0 && k < (int)sizeof piece);
        size_t w = utf8_stream_push(&s, piece, (size_t)k, out + o, sizeof out - o);
        CHECK(utf8_valid(out + o, w, NULL));
        if (s.n_pending) held++;
        o += w;
    }
    o += utf8_stream_finish(&s, out + o, sizeof out - o);
    CHECK(held > 0); /* 🦙 is three tokens in GPT-2 (the .out file says 12520 99 247) */
    CHECK(o == strlen(text) && memcmp(out, text, o) == 0);
    free(ids);
    unload(&v);
}

/* A 102k-token vocabulary loads and its lookup table maps every token back to its own
 * id (load time is reported by `llmscope info`, not asserted here). */
static void test_load_large_vocab(void) {
    char vp[512];
    REQUIRE_SHARED(vp, "tokenizer/llama.cpp-vocab/ggml-vocab-deepseek-llm.gguf");
    gguf_file f;
    char err[512];
    if (gguf_open(&f, vp, err, sizeof err)) {
        CHECKF(0, "%s", err);
        return;
    }
    tokenizer *t = tokenizer_load(&f, err, sizeof err);
    CHECKF(t, "%s", err);
    if (t) {
        CHECK(tokenizer_n_vocab(t) > 100000);
        int wrong = 0;
        for (int32_t id = 0; id < tokenizer_n_vocab(t); id++) {
            const char *txt = tokenizer_token_text(t, id);
            int32_t back = txt ? tokenizer_find(t, txt) : -1;
            /* a vocabulary may list the same string twice; then the first id wins */
            if (back < 0 || (back != id && strcmp(tokenizer_token_text(t, back), txt) != 0)) wrong++;
        }
        CHECKF(wrong == 0, "%d tokens do not map back to their id", wrong);
    }
    tokenizer_free(t);
    gguf_close(&f);
}

/* ---- malformed vocabularies ---- */

typedef struct vocab_spec {
    const char *model, *pre, *merge;
    int n_scores, n_types, bad_type;
    uint32_t bos;
} vocab_spec;

/* A five-token byte-level vocabulary, with one thing made wrong by SPEC. */
static tokenizer *load_spec(vocab_spec sp, char *err, size_t errlen) {
    static const char *const TOKENS[] = {"a", "b", "ab", "\xc4\xa0", "<|end|>"};
    gbuf b = {0};
    int n_kv = 6 + (sp.n_scores > 0);
    gb_header(&b, 3, 0, (uint64_t)n_kv);
    gb_kv_str(&b, "tokenizer.ggml.model", sp.model);
    gb_kv_str(&b, "tokenizer.ggml.pre", sp.pre);
    gb_kv_arr(&b, "tokenizer.ggml.tokens", GB_STRING, 5);
    for (int i = 0; i < 5; i++) gb_str(&b, TOKENS[i]);
    gb_kv_arr(&b, "tokenizer.ggml.token_type", GB_I32, (uint64_t)sp.n_types);
    for (int i = 0; i < sp.n_types; i++) gb_u32(&b, i == 4 ? (uint32_t)sp.bad_type : 1u);
    if (sp.n_scores > 0) {
        gb_kv_arr(&b, "tokenizer.ggml.scores", GB_F32, (uint64_t)sp.n_scores);
        for (int i = 0; i < sp.n_scores; i++) gb_f32(&b, 0.0f);
    }
    gb_kv_arr(&b, "tokenizer.ggml.merges", GB_STRING, 1);
    gb_str(&b, sp.merge);
    gb_kv_u32(&b, "tokenizer.ggml.bos_token_id", sp.bos);
    uint8_t *mem = gb_copy(&b, b.len);
    gguf_file f;
    tokenizer *t = NULL;
    if (gguf_open_memory(&f, mem, b.len, "vocab.gguf", err, errlen) == 0) {
        t = tokenizer_load(&f, err, errlen);
        if (t) {
            /* The tokenizer keeps pointers into the file: exercise it before closing. */
            int32_t *ids = NULL;
            int n = tokenizer_encode(t, "ab", 2, false, false, &ids, err, errlen);
            CHECKF(n == 1 && ids[0] == 2, "'ab' should merge into token 2 (n=%d)", n);
            free(ids);
            tokenizer_free(t);
            t = (tokenizer *)1; /* "loaded" */
        }
        gguf_close(&f);
    }
    free(mem);
    gb_free(&b);
    return t;
}

static void test_malformed_vocab(void) {
    const vocab_spec good = {"gpt2", "gpt-2", "a b", 0, 5, 3, 4};
    char err[512];
    CHECKF(load_spec(good, err, sizeof err), "the well-formed vocabulary failed: %s", err);

    struct { vocab_spec sp; const char *expect; } cases[] = {
        {{"gpt2", "gpt-2", "a b", 3, 5, 3, 4}, "scores"},
        {{"gpt2", "gpt-2", "a b", 0, 4, 3, 4}, "token_type"},
        {{"gpt2", "gpt-2", "a b", 0, 5, 42, 4}, "token_type[4]"},
        {{"gpt2", "gpt-2", "ab", 0, 5, 3, 4}, "merges[0]"},
        {{"gpt2", "gpt-2", "a ", 0, 5, 3, 4}, "merges[0]"},
        {{"gpt2", "gpt-2", "a b", 0, 5, 3, 5}, "bos_token_id"},
        {{"gpt2", "klingon-bpe", "a b", 0, 5, 3, 4}, "klingon-bpe"},
        {{"t5", "gpt-2", "a b", 0, 5, 3, 4}, "t5"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        err[0] = 0;
        tokenizer *t = load_spec(cases[i].sp, err, sizeof err);
        CHECKF(t == NULL, "case %zu (%s) was accepted", i, cases[i].expect);
        CHECKF(strstr(err, cases[i].expect) && !strchr(err, '\n'),
               "case %zu: error '%s' does not name '%s'", i, err, cases[i].expect);
    }
    /* 0xFFFFFFFF is how converters write "no such token". */
    vocab_spec none = good;
    none.bos = 0xFFFFFFFFu;
    CHECKF(load_spec(none, err, sizeof err), "bos = 0xFFFFFFFF should mean none: %s", err);
}

/* ---- pre-tokenizers: every family compiles, and splits as its expression says ---- */

/* Splits TEXT with pre-tokenizer NAME and compares with the words of WANT, which are
 * separated by '|'. */
static void check_split(const char *name, const char *text, const char *want) {
    char err[256];
    pretokenizer *p = pretokenizer_new(name, err, sizeof err);
    CHECKF(p, "%s", err);
    if (!p) return;
    text_span *w = NULL;
    long n = pretokenizer_split(p, text, strlen(text), &w, err, sizeof err);
    char got[256];
    size_t o = 0;
    for (long i = 0; i < n && o + w[i].len + 2 < sizeof got; i++) {
        if (i) got[o++] = '|';
        memcpy(got + o, text + w[i].off, w[i].len);
        o += w[i].len;
    }
    got[o] = 0;
    CHECKF(strcmp(got, want) == 0, "%s splits \"%s\" as \"%s\", expected \"%s\"", name, text,
           got, want);
    free(w);
    pretokenizer_free(p);
}

static void test_pretokenizers(void) {
    static const char *const names[] = {
        "default", "gpt-2", "llama-bpe", "llama3", "qwen2", "smollm", "deepseek-llm",
        "deepseek-coder", "deepseek-v3", "falcon", "starcoder", "mpt", "refact", "command-r",
        "dbrx", "tekken", "gpt-4o", "bloom", "viking", "seed-coder", "stablelm2", "olmo"};
    char err[256];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        pretokenizer *p = pretokenizer_new(names[i], err, sizeof err);
        CHECKF(p && strcmp(pretokenizer_name(p), names[i]) == 0, "%s: %s", names[i], err);
        pretokenizer_free(p);
    }
    CHECK(pretokenizer_new("no-such-pre", err, sizeof err) == NULL && strstr(err, "no-such-pre"));

    /* GPT-2: a space sticks to the word after it; the last space of a run does too. */
    check_split("gpt-2", "Hello world's  123", "Hello| world|'s| | 123");
    /* Llama 3: digits in threes, no leading space on numbers, contractions any case. */
    check_split("llama-bpe", "Hello world 12345 IT'S", "Hello| world| |123|45| IT|'S");
    check_split("llama-bpe", "a\n\n  b", "a|\n\n| | b");
    /* Qwen2: single digits. SmolLM/StarCoder: single digits, then GPT-2's rule. */
    check_split("qwen2", "x 12345", "x| |1|2|3|4|5");
    check_split("smollm", "abc123 de", "abc|1|2|3| de");
    /* DeepSeek Coder: newlines alone, letters with one space before them. */
    check_split("deepseek-coder", "ab\ncd 12", "ab|\n|cd| |1|2");
    /* GPT-4o: words split at case changes, contractions stay attached. */
    check_split("gpt-4o", "HelloWorld they're", "Hello|World| they're");
    pretokenizer *l3 = pretokenizer_new("llama3", err, sizeof err);
    pretokenizer *g2 = pretokenizer_new("gpt-2", err, sizeof err);
    CHECK(l3 && g2 && pretokenizer_ignores_merges(l3) && pretokenizer_wants_bos(l3) &&
          !pretokenizer_ignores_merges(g2) && !pretokenizer_wants_bos(g2));
    pretokenizer_free(l3);
    pretokenizer_free(g2);
}

/* ---- WordPiece with BERT's own "##" convention (a file not converted by llama.cpp) ---- */

static void test_wordpiece_hash_convention(void) {
    static const char *const TOKENS[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "un", "##aff",
                                         "##able", "hello", ",", "world", "!", "##s"};
    static const int TYPES[] = {3, 2, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1};
    enum { N = 12 };
    gbuf b = {0};
    gb_header(&b, 3, 0, 5);
    gb_kv_str(&b, "tokenizer.ggml.model", "bert");
    gb_kv_arr(&b, "tokenizer.ggml.tokens", GB_STRING, N);
    for (int i = 0; i < N; i++) gb_str(&b, TOKENS[i]);
    gb_kv_arr(&b, "tokenizer.ggml.token_type", GB_I32, N);
    for (int i = 0; i < N; i++) gb_u32(&b, (uint32_t)TYPES[i]);
    gb_kv_u32(&b, "tokenizer.ggml.unknown_token_id", 1);
    gb_kv_u32(&b, "tokenizer.ggml.cls_token_id", 2);
    gguf_file f;
    char err[256];
    if (gguf_open_memory(&f, b.p, b.len, "bert.gguf", err, sizeof err)) {
        CHECKF(0, "%s", err);
        gb_free(&b);
        return;
    }
    tokenizer *t = tokenizer_load(&f, err, sizeof err);
    CHECKF(t, "%s", err);
    if (t) {
        struct { const char *text; bool bos; int n; int32_t ids[8]; } cases[] = {
            {"UnAffable", false, 3, {4, 5, 6}},                 /* BERT's own example */
            {"H\xc3\xa9llo, worlds!", false, 5, {7, 8, 9, 11, 10}}, /* accent stripped */
            {"hello xyz", false, 2, {7, 1}},                   /* uncoverable word: [UNK] */
            {"hello", true, 2, {2, 7}},                        /* BOS is [CLS] */
        };
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            int32_t *ids = NULL;
            int n = tokenizer_encode(t, cases[i].text, strlen(cases[i].text), cases[i].bos, false,
                                     &ids, err, sizeof err);
            CHECKF(n == cases[i].n && memcmp(ids, cases[i].ids, (size_t)n * sizeof *ids) == 0,
                   "wordpiece case %zu: n=%d", i, n);
            free(ids);
        }
        char buf[16];
        CHECK(tokenizer_piece(t, 5, buf, sizeof buf) == 3 && memcmp(buf, "aff", 3) == 0);
        CHECK(tokenizer_piece(t, 7, buf, sizeof buf) == 6 && memcmp(buf, " hello", 6) == 0);
        tokenizer_free(t);
    }
    gguf_close(&f);
    gb_free(&b);
}

int main(void) {
    RUN(test_vocab_llama_spm);
    RUN(test_vocab_phi_3);
    RUN(test_vocab_gpt_2);
    RUN(test_vocab_deepseek_llm);
    RUN(test_vocab_deepseek_coder);
    RUN(test_vocab_falcon);
    RUN(test_vocab_mpt);
    RUN(test_vocab_refact);
    RUN(test_vocab_starcoder);
    RUN(test_vocab_bert_bge);
    RUN(test_smollm2_suite);
    RUN(test_smollm2_parse_special);
    RUN(test_tinystories_suite);
    RUN(test_spm_details);
    RUN(test_invalid_utf8_rejected);
    RUN(test_utf8_valid);
    RUN(test_utf8_stream);
    RUN(test_stream_tokens);
    RUN(test_load_large_vocab);
    RUN(test_malformed_vocab);
    RUN(test_pretokenizers);
    RUN(test_wordpiece_hash_convention);
    return test_exit_code();
}
