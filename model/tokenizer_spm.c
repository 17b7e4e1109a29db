/* tokenizer_spm.c — SentencePiece ("llama") vocabularies.
 *
 * Spaces become "▁" (U+2581) and, where a stretch of text begins, one "▁" is put in
 * front (add_space_prefix), so "Hello" and " Hello" inside a sentence encode alike.
 * Then, starting from single characters, the adjacent pair whose concatenation is the
 * vocabulary token with the highest score is merged until no pair forms a token.
 * A character no token covers falls back to its UTF-8 bytes as <0xNN> tokens.
 *
 * Some files (TinyStories-656K) carry an SPM-style vocabulary without <0xNN> tokens; an
 * uncovered character then becomes the unknown token, and a run of them one unknown
 * token, as Hugging Face's BPE does with fuse_unk. */
#include "tokenizer_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool spm_pair_key(const tokenizer *t, const char *text, const merge_symbol *left,
                         const merge_symbol *right, double *key) {
    int32_t id = tok_lookup(t, text + left->off, left->len + right->len);
    if (id < 0) return false;
    *key = -(double)t->scores[id]; /* highest score merges first */
    return true;
}

/* Emits the tokens for a symbol no token covers: its bytes, one token each. */
static bool emit_bytes(const tokenizer *t, const char *s, size_t n, id_list *out,
                       bool *last_was_unk) {
    for (size_t i = 0; i < n; i++) {
        unsigned char b = (unsigned char)s[i];
        int32_t id = t->byte_token[b];
        if (id < 0) id = tok_lookup(t, s + i, 1); /* a vocabulary may list bytes as themselves */
        if (id < 0) {
            if (t->unk < 0 || *last_was_unk) continue;
            if (!id_list_push(out, t->unk)) return false;
            *last_was_unk = true;
            continue;
        }
        if (!id_list_push(out, id)) return false;
        *last_was_unk = false;
    }
    return true;
}

int spm_encode(const tokenizer *t, const char *text, size_t len, bool at_start, id_list *out,
               char *err, size_t errlen) {
    static const char SPACE_MARK[3] = {(char)0xE2, (char)0x96, (char)0x81}; /* "▁" */
    bool prefix = at_start && t->add_space_prefix;
    size_t spaces = 0;
    for (size_t i = 0; i < len; i++) spaces += text[i] == ' ';
    size_t n = (prefix ? 3 : 0) + len + 2 * spaces; /* each "▁" is 3 bytes */
    char *buf = malloc(n ? n : 1);
    merge_work w = {0};
    if (!buf) goto oom;

    size_t o = 0;
    if (prefix) {
        memcpy(buf, SPACE_MARK, 3);
        o = 3;
    }
    for (size_t i = 0; i < len; i++) {
        if (text[i] == ' ') {
            memcpy(buf + o, SPACE_MARK, 3);
            o += 3;
        } else {
            buf[o++] = text[i];
        }
    }

    if (!merge_run(t, buf, n, spm_pair_key, &w)) goto oom;
    bool last_was_unk = false;
    for (int32_t i = w.n_sym ? 0 : -1; i >= 0; i = w.sym[i].next) {
        const merge_symbol *s = &w.sym[i];
        int32_t id = tok_lookup(t, buf + s->off, s->len);
        if (id >= 0) {
            if (!id_list_push(out, id)) goto oom;
            last_was_unk = false;
        } else if (!emit_bytes(t, buf + s->off, s->len, out, &last_was_unk)) {
            goto oom;
        }
    }
    merge_work_free(&w);
    free(buf);
    return 0;
oom:
    merge_work_free(&w);
    free(buf);
    snprintf(err, errlen, "out of memory while tokenizing");
    return -1;
}
