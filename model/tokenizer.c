/* tokenizer.c — loading a vocabulary from GGUF, splitting out special tokens, and the
 * public API of tokenizer.h. The three algorithms live beside it: tokenizer_spm.c
 * (SentencePiece), tokenizer_bpe.c (byte-level BPE), tokenizer_wpm.c (WordPiece).
 *
 * The behaviour follows llama.cpp's tokenizer, whose own test suites (and Hugging Face's
 * outputs) are what tests/test_tokenizer.c checks against:
 *  - special tokens are cut out of the text first, longest first; control and unknown
 *    tokens only when the caller asks for it (parse_special), user-defined tokens always
 *    (Hugging Face matches "added tokens" before normalising);
 *  - every stretch of text between them is encoded on its own. */
#include "tokenizer_impl.h"
#include "unicode.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- hashing: FNV-1a over one or more byte ranges ---- */

#define FNV_OFFSET 1469598103934665603ull
#define FNV_PRIME 1099511628211ull

static uint64_t fnv_add(uint64_t h, const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * FNV_PRIME;
    return h;
}

/* A power-of-two table at least twice the number of entries keeps probe runs short. */
static bool table_init(str_table *t, uint32_t n_entries) {
    uint32_t size = 16;
    while (size < 2 * (uint64_t)n_entries) size *= 2;
    t->slots = calloc(size, sizeof *t->slots);
    t->mask = size - 1;
    return t->slots != NULL;
}

static void table_free(str_table *t) { free(t->slots); }

int32_t tok_lookup(const tokenizer *t, const char *s, size_t len) {
    uint64_t h = fnv_add(FNV_OFFSET, s, len);
    for (uint32_t i = (uint32_t)h & t->by_text.mask;; i = (i + 1) & t->by_text.mask) {
        uint32_t v = t->by_text.slots[i];
        if (v == 0) return -1;
        int32_t id = (int32_t)(v - 1);
        if (t->text_len[id] == len && memcmp(t->text + t->text_off[id], s, len) == 0) return id;
    }
}

/* Inserts token ID under its own text; a later duplicate replaces an earlier one, as in
 * llama.cpp (real vocabularies do contain a few duplicates). */
static void insert_token(tokenizer *t, int32_t id) {
    const char *s = t->text + t->text_off[id];
    size_t len = t->text_len[id];
    uint64_t h = fnv_add(FNV_OFFSET, s, len);
    for (uint32_t i = (uint32_t)h & t->by_text.mask;; i = (i + 1) & t->by_text.mask) {
        uint32_t v = t->by_text.slots[i];
        if (v == 0 || (t->text_len[v - 1] == len &&
                       memcmp(t->text + t->text_off[v - 1], s, len) == 0)) {
            t->by_text.slots[i] = (uint32_t)id + 1;
            return;
        }
    }
}

/* Where the separating space of merge line M is: the first space after its first byte
 * (llama.cpp's rule; the load checks that there is one). */
static size_t merge_split(gguf_str m) {
    const char *sp = memchr(m.ptr + 1, ' ', m.len - 1);
    return (size_t)(sp - m.ptr);
}

static uint64_t merge_hash(const char *l, size_t ln, const char *r, size_t rn) {
    return fnv_add(fnv_add(fnv_add(FNV_OFFSET, l, ln), " ", 1), r, rn);
}

int32_t tok_merge_rank(const tokenizer *t, const char *left, size_t left_len, const char *right,
                       size_t right_len) {
    if (!t->merge_rank.slots) return -1;
    uint64_t h = merge_hash(left, left_len, right, right_len);
    for (uint32_t i = (uint32_t)h & t->merge_rank.mask;; i = (i + 1) & t->merge_rank.mask) {
        uint32_t v = t->merge_rank.slots[i];
        if (v == 0) return -1;
        gguf_str m = t->merges[v - 1];
        if (m.len == left_len + 1 + right_len && merge_split(m) == left_len &&
            memcmp(m.ptr, left, left_len) == 0 &&
            memcmp(m.ptr + left_len + 1, right, right_len) == 0)
            return (int32_t)(v - 1);
    }
}

/* Inserts merge RANK unless the same pair came earlier (the first, best rank wins). */
static void insert_merge(tokenizer *t, uint32_t rank) {
    gguf_str m = t->merges[rank];
    size_t sp = merge_split(m);
    if (tok_merge_rank(t, m.ptr, sp, m.ptr + sp + 1, m.len - sp - 1) >= 0) return;
    uint64_t h = merge_hash(m.ptr, sp, m.ptr + sp + 1, m.len - sp - 1);
    uint32_t i = (uint32_t)h & t->merge_rank.mask;
    while (t->merge_rank.slots[i]) i = (i + 1) & t->merge_rank.mask;
    t->merge_rank.slots[i] = rank + 1;
}

bool id_list_push(id_list *l, int32_t id) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        int32_t *v = realloc(l->v, cap * sizeof *v);
        if (!v) return false;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = id;
    return true;
}

/* ---- loading ---- */

/* Untrusted strings going into an error message: cut short and made printable. */
static void shown(char *dst, size_t cap, const char *s, size_t n) {
    size_t o = 0;
    for (size_t i = 0; i < n && o + 5 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f && c != '\\') dst[o++] = (char)c;
        else o += (size_t)snprintf(dst + o, cap - o, "\\x%02x", c);
    }
    dst[o] = 0;
}

/* Reads special-token id KEY. Absent (or llama.cpp's "none", 0xFFFFFFFF / -1) leaves
 * *OUT at -1; a value of the wrong type or outside the vocabulary is an error. */
static int read_id(const gguf_file *f, const char *key, int32_t n_vocab, int32_t *out, char *err,
                   size_t errlen) {
    *out = -1;
    const gguf_kv *kv = gguf_find(f, key);
    if (!kv) return 0;
    uint64_t u;
    int64_t v;
    if (gguf_get_u64(f, key, &u)) {
        if (u == UINT32_MAX || u == UINT64_MAX) return 0;
        if (u >= (uint64_t)n_vocab) {
            snprintf(err, errlen, "%s = %llu is not a token id (the vocabulary has %d tokens)",
                     key, (unsigned long long)u, (int)n_vocab);
            return -1;
        }
        *out = (int32_t)u;
        return 0;
    }
    if (gguf_get_i64(f, key, &v)) { /* only negative values get here */
        if (v == -1) return 0;
        snprintf(err, errlen, "%s = %lld is not a token id", key, (long long)v);
        return -1;
    }
    snprintf(err, errlen, "%s has type %s, expected an integer token id", key,
             gguf_type_name(kv->type));
    return -1;
}

static int read_flag(const gguf_file *f, const char *key, bool dflt, bool *out, char *err,
                     size_t errlen) {
    *out = dflt;
    const gguf_kv *kv = gguf_find(f, key);
    if (!kv) return 0;
    if (!gguf_get_bool(f, key, out)) {
        snprintf(err, errlen, "%s has type %s, expected bool", key, gguf_type_name(kv->type));
        return -1;
    }
    return 0;
}

/* An optional per-token array: absent is fine, present must have one entry per token. */
static int optional_array(const gguf_file *f, const char *key, uint32_t elem, int32_t n_vocab,
                          const gguf_kv **out, char *err, size_t errlen) {
    *out = NULL;
    const gguf_kv *kv = gguf_find(f, key);
    if (!kv) return 0;
    /* Integer arrays may use any integer width (gguf_arr_int reads them all). */
    bool any_int = kv->arr_type <= GGUF_VT_INT32 || kv->arr_type == GGUF_VT_UINT64 ||
                   kv->arr_type == GGUF_VT_INT64;
    if (kv->type != GGUF_VT_ARRAY ||
        (kv->arr_type != elem && !(elem == GGUF_VT_INT32 && any_int))) {
        snprintf(err, errlen, "%s must be an array of %s", key, gguf_type_name(elem));
        return -1;
    }
    if (kv->arr_len != (uint64_t)n_vocab) {
        snprintf(err, errlen, "%s has %llu entries but tokenizer.ggml.tokens has %d", key,
                 (unsigned long long)kv->arr_len, (int)n_vocab);
        return -1;
    }
    *out = kv;
    return 0;
}

static int load_tokens(tokenizer *t, const gguf_kv *tokens, char *err, size_t errlen) {
    uint64_t total = 0;
    for (int32_t i = 0; i < t->n_vocab; i++) total += gguf_arr_str(tokens, (uint64_t)i).len + 1;
    if (total > UINT32_MAX) {
        snprintf(err, errlen, "tokenizer.ggml.tokens: %llu bytes of token text is more than a "
                 "vocabulary can hold", (unsigned long long)total);
        return -1;
    }
    t->text = malloc(total);
    t->text_off = malloc((size_t)t->n_vocab * sizeof *t->text_off);
    t->text_len = malloc((size_t)t->n_vocab * sizeof *t->text_len);
    if (!t->text || !t->text_off || !t->text_len ||
        !table_init(&t->by_text, (uint32_t)t->n_vocab)) {
        snprintf(err, errlen, "out of memory loading %d tokens", (int)t->n_vocab);
        return -1;
    }
    uint32_t o = 0;
    for (int32_t i = 0; i < t->n_vocab; i++) {
        gguf_str s = gguf_arr_str(tokens, (uint64_t)i);
        memcpy(t->text + o, s.ptr, s.len);
        t->text[o + s.len] = 0;
        t->text_off[i] = o;
        t->text_len[i] = (uint32_t)s.len;
        if (s.len > t->max_token_len) t->max_token_len = (uint32_t)s.len;
        o += (uint32_t)s.len + 1;
        insert_token(t, i);
    }
    return 0;
}

static int load_merges(tokenizer *t, const gguf_file *f, char *err, size_t errlen) {
    const gguf_kv *kv = gguf_find(f, "tokenizer.ggml.merges");
    if (!kv) {
        snprintf(err, errlen, "byte-level BPE vocabulary without tokenizer.ggml.merges");
        return -1;
    }
    if (kv->type != GGUF_VT_ARRAY || kv->arr_type != GGUF_VT_STRING) {
        snprintf(err, errlen, "tokenizer.ggml.merges must be an array of strings");
        return -1;
    }
    if (kv->arr_len >= INT32_MAX) {
        snprintf(err, errlen, "tokenizer.ggml.merges has %llu entries, too many",
                 (unsigned long long)kv->arr_len);
        return -1;
    }
    t->merges = kv->arr_strs;
    t->n_merges = (uint32_t)kv->arr_len;
    for (uint32_t i = 0; i < t->n_merges; i++) {
        gguf_str m = t->merges[i];
        const char *sp = m.len >= 3 ? memchr(m.ptr + 1, ' ', m.len - 1) : NULL;
        if (!sp || sp == m.ptr + m.len - 1) {
            char s[64];
            shown(s, sizeof s, m.ptr, m.len < 40 ? m.len : 40);
            snprintf(err, errlen, "tokenizer.ggml.merges[%u] = '%s' is not of the form "
                     "'left right'", i, s);
            return -1;
        }
    }
    if (!table_init(&t->merge_rank, t->n_merges)) {
        snprintf(err, errlen, "out of memory loading %u merges", t->n_merges);
        return -1;
    }
    for (uint32_t i = 0; i < t->n_merges; i++) insert_merge(t, i);
    return 0;
}

static bool is_special_type(uint8_t type) {
    return type == TOKTYPE_CONTROL || type == TOKTYPE_USER_DEFINED || type == TOKTYPE_UNKNOWN;
}

/* Longest first, so "<|im_end|>" is cut out before a shorter token inside it could be;
 * equal lengths in id order to keep the result independent of the sort. */
static int special_cmp(const void *a, const void *b, void *ctx) {
    const tokenizer *t = ctx;
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    if (t->text_len[x] != t->text_len[y]) return t->text_len[x] > t->text_len[y] ? -1 : 1;
    return x < y ? -1 : x > y;
}

/* qsort has no context argument in C11, so a small merge sort does the ordering. */
static void sort_specials(int32_t *v, int32_t *tmp, int32_t n, const tokenizer *t) {
    if (n < 2) return;
    int32_t h = n / 2;
    sort_specials(v, tmp, h, t);
    sort_specials(v + h, tmp, n - h, t);
    int32_t i = 0, j = h, k = 0;
    while (i < h && j < n)
        tmp[k++] = special_cmp(&v[j], &v[i], (void *)t) < 0 ? v[j++] : v[i++];
    while (i < h) tmp[k++] = v[i++];
    while (j < n) tmp[k++] = v[j++];
    memcpy(v, tmp, (size_t)n * sizeof *v);
}

static int collect_specials(tokenizer *t, char *err, size_t errlen) {
    int32_t n = 0;
    for (int32_t i = 0; i < t->n_vocab; i++)
        if (is_special_type(t->type[i]) && t->text_len[i] > 0) n++;
    t->specials = malloc(((size_t)n + 1) * sizeof *t->specials);
    int32_t *tmp = malloc(((size_t)n + 1) * sizeof *tmp);
    if (!t->specials || !tmp) {
        free(tmp);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (int32_t i = 0; i < t->n_vocab; i++)
        if (is_special_type(t->type[i]) && t->text_len[i] > 0) t->specials[t->n_specials++] = i;
    sort_specials(t->specials, tmp, t->n_specials, t);
    free(tmp);
    return 0;
}

static void add_eog(tokenizer *t, int32_t id) {
    if (id < 0 || t->n_eog >= TOKENIZER_MAX_EOG) return;
    for (int i = 0; i < t->n_eog; i++)
        if (t->eog[i] == id) return;
    t->eog[t->n_eog++] = id;
}

/* End-of-generation: the file's EOS/EOT/EOM ids, plus the end-of-turn markers of the
 * common chat formats (llama.cpp recognises the same names) when they are special
 * tokens of this vocabulary. */
static void collect_eog(tokenizer *t) {
    static const char *const NAMES[] = {
        "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|eom_id|>",
        "<EOT>", "_<EOT>", "<|end_of_text|>",
        "<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>", /* DeepSeek */
    };
    add_eog(t, t->eos);
    add_eog(t, t->eot);
    add_eog(t, t->eom);
    for (size_t i = 0; i < sizeof NAMES / sizeof NAMES[0]; i++) {
        int32_t id = tok_lookup(t, NAMES[i], strlen(NAMES[i]));
        if (id >= 0 && (t->type[id] == TOKTYPE_CONTROL || t->type[id] == TOKTYPE_USER_DEFINED))
            add_eog(t, id);
    }
}

static int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* "<0x0A>" -> 0x0A; -1 if TEXT is not of that form. */
static int byte_token_value(const char *text, size_t len) {
    if (len != 6 || memcmp(text, "<0x", 3) != 0 || text[5] != '>') return -1;
    int hi = hex_digit(text[3]), lo = hex_digit(text[4]);
    return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

/* Replaces every "▁" (U+2581, SentencePiece's visible space) in S with a space. */
static size_t unescape_spaces(const char *s, size_t n, char *out) {
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        if (i + 3 <= n && memcmp(s + i, "\xe2\x96\x81", 3) == 0) {
            out[o++] = ' ';
            i += 3;
        } else {
            out[o++] = s[i++];
        }
    }
    return o;
}

/* Byte-level BPE token text -> the bytes it encodes (each character stands for a byte).
 * Characters outside the 256 (never in a well-formed vocabulary) are kept as they are. */
static size_t decode_byte_level(const char *s, size_t n, char *out) {
    if (!utf8_valid(s, n, NULL)) {
        memcpy(out, s, n);
        return n;
    }
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        size_t k;
        uint32_t cp = utf8_decode(s + i, n - i, &k);
        int b = bpe_cp_to_byte(cp);
        if (b >= 0) out[o++] = (char)b;
        else { memcpy(out + o, s + i, k); o += k; }
        i += k;
    }
    return o;
}

/* Works out once what every token prints as (tokenizer_piece just copies it). */
static int build_pieces(tokenizer *t, bool have_types, char *err, size_t errlen) {
    size_t total = t->text_off[t->n_vocab - 1] + t->text_len[t->n_vocab - 1] + 1;
    t->piece = malloc(total + (size_t)t->n_vocab); /* WPM "##" adds up to one byte a token */
    t->piece_off = malloc((size_t)t->n_vocab * sizeof *t->piece_off);
    t->piece_len = malloc((size_t)t->n_vocab * sizeof *t->piece_len);
    if (!t->piece || !t->piece_off || !t->piece_len) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    size_t o = 0;
    for (int32_t i = 0; i < t->n_vocab; i++) {
        const char *s = t->text + t->text_off[i];
        size_t n = t->text_len[i], len;
        char *out = t->piece + o;
        int byte = byte_token_value(s, n);
        if (is_special_type(t->type[i])) {
            memcpy(out, s, n);
            len = n;
        } else if (t->kind == TOKENIZER_SPM && byte >= 0 &&
                   (t->type[i] == TOKTYPE_BYTE || !have_types)) {
            out[0] = (char)byte;
            len = 1;
        } else if (t->kind == TOKENIZER_BPE) {
            len = decode_byte_level(s, n, out);
        } else if (t->kind == TOKENIZER_WPM && t->wpm_cont_prefix[0]) {
            /* BERT's own convention: "##ing" continues a word, anything else starts one. */
            size_t cl = strlen(t->wpm_cont_prefix);
            if (n >= cl && memcmp(s, t->wpm_cont_prefix, cl) == 0) {
                memcpy(out, s + cl, n - cl);
                len = n - cl;
            } else {
                out[0] = ' ';
                memcpy(out + 1, s, n);
                len = n + 1;
            }
        } else {
            len = unescape_spaces(s, n, out);
        }
        t->piece_off[i] = (uint32_t)o;
        t->piece_len[i] = (uint32_t)len;
        o += len;
    }
    return 0;
}

tokenizer *tokenizer_load(const gguf_file *f, char *err, size_t errlen) {
    gguf_str model;
    if (!gguf_get_str(f, "tokenizer.ggml.model", &model)) {
        snprintf(err, errlen, "%s: no tokenizer (tokenizer.ggml.model is missing)",
                 f->path ? f->path : "model");
        return NULL;
    }
    tokenizer_kind kind;
    if (gguf_str_eq(model, "llama")) kind = TOKENIZER_SPM;
    else if (gguf_str_eq(model, "gpt2")) kind = TOKENIZER_BPE;
    else if (gguf_str_eq(model, "bert")) kind = TOKENIZER_WPM;
    else {
        char s[64];
        shown(s, sizeof s, model.ptr, model.len < 40 ? model.len : 40);
        snprintf(err, errlen, "unsupported tokenizer model '%s' (tokenizer.ggml.model; supported: "
                 "llama, gpt2, bert)", s);
        return NULL;
    }
    const gguf_kv *tokens = gguf_find(f, "tokenizer.ggml.tokens");
    if (!tokens || tokens->type != GGUF_VT_ARRAY || tokens->arr_type != GGUF_VT_STRING) {
        snprintf(err, errlen, "tokenizer.ggml.tokens is %s", tokens ? "not an array of strings"
                                                                    : "missing");
        return NULL;
    }
    if (tokens->arr_len == 0 || tokens->arr_len >= INT32_MAX) {
        snprintf(err, errlen, "tokenizer.ggml.tokens has %llu entries",
                 (unsigned long long)tokens->arr_len);
        return NULL;
    }

    tokenizer *t = calloc(1, sizeof *t);
    if (!t) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    t->kind = kind;
    t->n_vocab = (int32_t)tokens->arr_len;

    const gguf_kv *scores, *types;
    if (optional_array(f, "tokenizer.ggml.scores", GGUF_VT_FLOAT32, t->n_vocab, &scores, err,
                       errlen) ||
        optional_array(f, "tokenizer.ggml.token_type", GGUF_VT_INT32, t->n_vocab, &types, err,
                       errlen) ||
        load_tokens(t, tokens, err, errlen))
        goto fail;

    size_t nv = (size_t)tokens->arr_len;
    t->scores = malloc(nv * sizeof *t->scores);
    t->type = malloc(nv);
    if (!t->scores || !t->type) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    for (int32_t i = 0; i < t->n_vocab; i++) {
        float s = scores ? gguf_arr_f32(scores, (uint64_t)i) : 0.0f;
        t->scores[i] = s == s ? s : -1e30f; /* a NaN would break the merge order */
        int64_t ty = types ? gguf_arr_int(types, (uint64_t)i) : TOKTYPE_NORMAL;
        if (ty < 0 || ty >= TOKTYPE_COUNT) {
            snprintf(err, errlen, "tokenizer.ggml.token_type[%d] = %lld is not a token type (0..6)",
                     (int)i, (long long)ty);
            goto fail;
        }
        t->type[i] = (uint8_t)ty;
    }

    int32_t cls;
    if (read_id(f, "tokenizer.ggml.bos_token_id", t->n_vocab, &t->bos, err, errlen) ||
        read_id(f, "tokenizer.ggml.eos_token_id", t->n_vocab, &t->eos, err, errlen) ||
        read_id(f, "tokenizer.ggml.unknown_token_id", t->n_vocab, &t->unk, err, errlen) ||
        read_id(f, "tokenizer.ggml.seperator_token_id", t->n_vocab, &t->sep, err, errlen) ||
        read_id(f, "tokenizer.ggml.eot_token_id", t->n_vocab, &t->eot, err, errlen) ||
        read_id(f, "tokenizer.ggml.eom_token_id", t->n_vocab, &t->eom, err, errlen) ||
        read_id(f, "tokenizer.ggml.cls_token_id", t->n_vocab, &cls, err, errlen))
        goto fail;
    if (t->unk < 0) t->unk = tok_lookup(t, "<unk>", 5);
    if (kind == TOKENIZER_WPM) {
        if (t->bos < 0) t->bos = cls; /* BERT starts a sequence with [CLS] */
        if (t->unk < 0) t->unk = tok_lookup(t, "[UNK]", 5);
    }

    gguf_str pre = {0};
    bool have_pre = gguf_get_str(f, "tokenizer.ggml.pre", &pre) && pre.len > 0;
    if (have_pre) shown(t->pre_name, sizeof t->pre_name, pre.ptr, pre.len < 48 ? pre.len : 48);
    else snprintf(t->pre_name, sizeof t->pre_name, "default");

    bool bos_default = kind != TOKENIZER_BPE;
    if (kind == TOKENIZER_BPE) {
        /* Like llama.cpp, a file without tokenizer.ggml.pre gets the "default" splitting. */
        t->pre = pretokenizer_new(t->pre_name, err, errlen);
        if (!t->pre || load_merges(t, f, err, errlen)) goto fail;
        bos_default = pretokenizer_wants_bos(t->pre);
    }
    if (read_flag(f, "tokenizer.ggml.add_bos_token", bos_default, &t->add_bos, err, errlen) ||
        read_flag(f, "tokenizer.ggml.add_space_prefix", kind == TOKENIZER_SPM, &t->add_space_prefix,
                  err, errlen))
        goto fail;

    for (int b = 0; b < 256; b++) {
        char name[8];
        snprintf(name, sizeof name, "<0x%02X>", b);
        t->byte_token[b] = tok_lookup(t, name, 6);
        if (t->byte_token[b] >= 0) t->has_byte_tokens = true;
    }

    t->wpm_word_prefix = "";
    t->wpm_cont_prefix = "";
    if (kind == TOKENIZER_WPM) {
        bool spm_style = false;
        for (int32_t i = 0; i < t->n_vocab && !spm_style; i++)
            spm_style = t->text_len[i] > 3 &&
                        memcmp(t->text + t->text_off[i], "\xe2\x96\x81", 3) == 0;
        if (spm_style) t->wpm_word_prefix = "\xe2\x96\x81";
        else t->wpm_cont_prefix = "##";
    }

    if (collect_specials(t, err, errlen) || build_pieces(t, types != NULL, err, errlen)) goto fail;
    collect_eog(t);
    return t;
fail:
    tokenizer_free(t);
    return NULL;
}

void tokenizer_free(tokenizer *t) {
    if (!t) return;
    free(t->text);
    free(t->text_off);
    free(t->text_len);
    free(t->piece);
    free(t->piece_off);
    free(t->piece_len);
    free(t->scores);
    free(t->type);
    table_free(&t->by_text);
    table_free(&t->merge_rank);
    free(t->specials);
    pretokenizer_free(t->pre);
    free(t);
}

/* ---- encoding ---- */

/* A stretch of the input: raw text (id < 0) or one special token. */
typedef struct fragment {
    int32_t id;
    size_t off, len;
} fragment;

typedef struct fragment_list {
    fragment *v;
    size_t n, cap;
} fragment_list;

static bool frag_push(fragment_list *l, int32_t id, size_t off, size_t len) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        fragment *v = realloc(l->v, cap * sizeof *v);
        if (!v) return false;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = (fragment){id, off, len};
    return true;
}

/* First occurrence of NEEDLE (NN > 0 bytes) in HAY, or NULL (memmem is a GNU extension). */
static const char *find_bytes(const char *hay, size_t hn, const char *needle, size_t nn) {
    if (nn > hn) return NULL;
    const char *last = hay + (hn - nn);
    for (const char *p = hay; p <= last; p++) {
        p = memchr(p, needle[0], (size_t)(last - p) + 1);
        if (!p) return NULL;
        if (memcmp(p, needle, nn) == 0) return p;
    }
    return NULL;
}

/* Cuts the special tokens out of TEXT, longest first: each one is searched for in the
 * text fragments the longer ones left over. */
static int split_specials(const tokenizer *t, const char *text, size_t len, bool parse_special,
                          fragment_list *frags, char *err, size_t errlen) {
    fragment_list next = {0};
    bool present[256] = {false}; /* which bytes occur at all: most specials can be skipped */
    for (size_t i = 0; i < len; i++) present[(unsigned char)text[i]] = true;
    if (len > 0 && !frag_push(frags, -1, 0, len)) goto oom;

    for (int32_t k = 0; k < t->n_specials; k++) {
        int32_t id = t->specials[k];
        if (!parse_special && (t->type[id] == TOKTYPE_CONTROL || t->type[id] == TOKTYPE_UNKNOWN))
            continue;
        const char *s = t->text + t->text_off[id];
        size_t n = t->text_len[id];
        if (!present[(unsigned char)s[0]] || n > len) continue;

        bool found = false;
        for (size_t i = 0; i < frags->n && !found; i++)
            found = frags->v[i].id < 0 && find_bytes(text + frags->v[i].off, frags->v[i].len, s, n);
        if (!found) continue;

        next.n = 0;
        for (size_t i = 0; i < frags->n; i++) {
            fragment fr = frags->v[i];
            if (fr.id >= 0) {
                if (!frag_push(&next, fr.id, fr.off, fr.len)) goto oom;
                continue;
            }
            size_t pos = fr.off, end = fr.off + fr.len;
            const char *hit;
            while (pos < end && (hit = find_bytes(text + pos, end - pos, s, n)) != NULL) {
                size_t at = (size_t)(hit - text);
                if (at > pos && !frag_push(&next, -1, pos, at - pos)) goto oom;
                if (!frag_push(&next, id, at, n)) goto oom;
                pos = at + n;
            }
            if (pos < end && !frag_push(&next, -1, pos, end - pos)) goto oom;
        }
        fragment_list tmp = *frags;
        *frags = next;
        next = tmp;
    }
    free(next.v);
    return 0;
oom:
    free(next.v);
    snprintf(err, errlen, "out of memory while tokenizing");
    return -1;
}

int tokenizer_encode(const tokenizer *t, const char *text, size_t len, bool add_bos,
                     bool parse_special, int32_t **out, char *err, size_t errlen) {
    *out = NULL;
    if (!text && len > 0) {
        snprintf(err, errlen, "no text to tokenize");
        return -1;
    }
    if (len > (size_t)INT_MAX / 2) {
        snprintf(err, errlen, "text of %zu bytes is too long to tokenize", len);
        return -1;
    }
    size_t bad;
    if (!utf8_valid(text, len, &bad)) {
        snprintf(err, errlen, "text is not valid UTF-8: byte 0x%02X at offset %zu",
                 (unsigned char)text[bad], bad);
        return -1;
    }

    fragment_list frags = {0};
    id_list ids = {0};
    if (split_specials(t, text, len, parse_special, &frags, err, errlen)) goto fail;
    if (add_bos && t->add_bos && t->bos >= 0 && !id_list_push(&ids, t->bos)) goto oom;

    bool after_special = true; /* SentencePiece's leading space goes where text begins */
    for (size_t i = 0; i < frags.n; i++) {
        fragment fr = frags.v[i];
        int rc = 0;
        if (fr.id >= 0) {
            if (!id_list_push(&ids, fr.id)) goto oom;
            after_special = true;
            continue;
        }
        if (t->kind == TOKENIZER_SPM)
            rc = spm_encode(t, text + fr.off, fr.len, after_special, &ids, err, errlen);
        else if (t->kind == TOKENIZER_BPE)
            rc = bpe_encode(t, text + fr.off, fr.len, &ids, err, errlen);
        else
            rc = wpm_encode(t, text + fr.off, fr.len, &ids, err, errlen);
        if (rc) goto fail;
        after_special = false;
    }
    if (!ids.v && !(ids.v = malloc(sizeof *ids.v))) goto oom; /* never hand back NULL */
    free(frags.v);
    *out = ids.v;
    return (int)ids.n;
oom:
    snprintf(err, errlen, "out of memory while tokenizing");
fail:
    free(frags.v);
    free(ids.v);
    return -1;
}

/* ---- decoding and queries ---- */

int tokenizer_piece(const tokenizer *t, int32_t id, char *buf, size_t cap) {
    if (!t || id < 0 || id >= t->n_vocab) return -1;
    size_t n = t->piece_len[id];
    if (buf) memcpy(buf, t->piece + t->piece_off[id], n < cap ? n : cap);
    return (int)n;
}

const char *tokenizer_token_text(const tokenizer *t, int32_t id) {
    if (!t || id < 0 || id >= t->n_vocab) return NULL;
    return t->text + t->text_off[id];
}

int32_t tokenizer_find(const tokenizer *t, const char *text) {
    return t && text ? tok_lookup(t, text, strlen(text)) : -1;
}

int tokenizer_n_vocab(const tokenizer *t) { return t->n_vocab; }
tokenizer_kind tokenizer_get_kind(const tokenizer *t) { return t->kind; }
const char *tokenizer_pre_name(const tokenizer *t) { return t->pre_name; }
int32_t tokenizer_bos(const tokenizer *t) { return t->bos; }
int32_t tokenizer_eos(const tokenizer *t) { return t->eos; }
bool tokenizer_adds_bos(const tokenizer *t) { return t->add_bos && t->bos >= 0; }

bool tokenizer_is_eog(const tokenizer *t, int32_t id) {
    for (int i = 0; i < t->n_eog; i++)
        if (t->eog[i] == id) return true;
    return false;
}

bool tokenizer_is_control(const tokenizer *t, int32_t id) {
    return id >= 0 && id < t->n_vocab && t->type[id] == TOKTYPE_CONTROL;
}

uint64_t tokenizer_vocabulary_hash(const tokenizer *t) {
    const uint64_t prime = 0x100000001b3ull;
    uint64_t h = 0xcbf29ce484222325ull;
    int n = tokenizer_n_vocab(t);
    for (int b = 0; b < 4; b++) h = (h ^ (uint8_t)((uint32_t)n >> (8 * b))) * prime;
    for (int i = 0; i < n; i++) {
        const char *s = tokenizer_token_text(t, i);
        for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) h = (h ^ *p) * prime;
        h = (h ^ (s ? 0xffu : 0xfeu)) * prime; /* ends the string: "ab","c" differs from "a","bc" */
    }
    return h;
}

bool tokenizer_same_vocabulary(const tokenizer *a, const tokenizer *b, char *err, size_t errlen) {
    int na = tokenizer_n_vocab(a), nb = tokenizer_n_vocab(b);
    if (na != nb) {
        snprintf(err, errlen, "the models have different vocabularies (%d and %d tokens)", na, nb);
        return false;
    }
    for (int i = 0; i < na; i++) {
        const char *x = tokenizer_token_text(a, i), *y = tokenizer_token_text(b, i);
        if ((x == NULL) != (y == NULL) || (x && strcmp(x, y) != 0)) {
            snprintf(err, errlen, "the models' vocabularies differ at token %d", i);
            return false;
        }
    }
    return true;
}
