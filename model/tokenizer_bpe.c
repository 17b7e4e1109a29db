/* tokenizer_bpe.c — byte-level BPE ("gpt2") vocabularies: GPT-2, Llama 3, Qwen, SmolLM...
 *
 * The text is first cut into words by the vocabulary's pre-tokenizer (pretokenizer.c).
 * Each word's bytes are then spelled with GPT-2's byte alphabet: every byte is one
 * printable character (printable ASCII and Latin-1 stand for themselves; the rest move
 * to U+0100 and up, so a space is "Ġ" and a newline "Ċ"). Starting from those
 * characters, the adjacent pair with the best (lowest) rank in the merge list is merged
 * until no listed pair is left; the resulting strings are the tokens. */
#include "tokenizer_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* GPT-2's table: bytes 0x21-0x7E, 0xA1-0xAC and 0xAE-0xFF keep their own code point; the
 * other 68 bytes, in order, take U+0100, U+0101, ... */
uint32_t bpe_byte_to_cp(unsigned char b) {
    if (b <= 0x20) return 0x100 + b;              /* 0x00-0x20 -> U+0100-U+0120 */
    if (b >= 0x7F && b <= 0xA0) return b + 0xA2;  /* 0x7F-0xA0 -> U+0121-U+0142 */
    if (b == 0xAD) return 0x143;
    return b;
}

int bpe_cp_to_byte(uint32_t cp) {
    if (cp >= 0x21 && cp <= 0xFF && cp != 0x7F && !(cp >= 0x80 && cp <= 0xA0) && cp != 0xAD)
        return (int)cp;
    if (cp >= 0x100 && cp <= 0x120) return (int)(cp - 0x100);
    if (cp >= 0x121 && cp <= 0x142) return (int)(cp - 0xA2);
    if (cp == 0x143) return 0xAD;
    return -1;
}

static bool bpe_pair_key(const tokenizer *t, const char *text, const merge_symbol *left,
                         const merge_symbol *right, double *key) {
    int32_t rank = tok_merge_rank(t, text + left->off, left->len, text + right->off, right->len);
    if (rank < 0) return false;
    *key = rank;
    return true;
}

/* Appends the tokens of one pre-tokenized word, already in the byte alphabet. */
static bool encode_word(const tokenizer *t, const char *word, size_t len, merge_work *w,
                        id_list *out) {
    if (pretokenizer_ignores_merges(t->pre)) {
        int32_t id = tok_lookup(t, word, len);
        if (id >= 0) return id_list_push(out, id);
    }
    if (!merge_run(t, word, len, bpe_pair_key, w)) return false;
    for (int32_t i = w->n_sym ? 0 : -1; i >= 0; i = w->sym[i].next) {
        const merge_symbol *s = &w->sym[i];
        int32_t id = tok_lookup(t, word + s->off, s->len);
        if (id >= 0) {
            if (!id_list_push(out, id)) return false;
            continue;
        }
        /* Not a token (only in a vocabulary missing part of the byte alphabet): like
         * llama.cpp, keep whatever single bytes are tokens and drop the rest. */
        for (uint32_t k = 0; k < s->len; k++) {
            int32_t b = tok_lookup(t, word + s->off + k, 1);
            if (b >= 0 && !id_list_push(out, b)) return false;
        }
    }
    return true;
}

int bpe_encode(const tokenizer *t, const char *text, size_t len, id_list *out, char *err,
               size_t errlen) {
    text_span *words = NULL;
    long n_words = pretokenizer_split(t->pre, text, len, &words, err, errlen);
    if (n_words < 0) return -1;

    /* Every byte becomes at most two bytes of UTF-8, so one buffer of 2 * the longest
     * word serves all words. */
    size_t longest = 0;
    for (long i = 0; i < n_words; i++)
        if (words[i].len > longest) longest = words[i].len;
    char *buf = malloc(2 * longest + 1);
    merge_work w = {0};
    if (!buf) goto oom;

    for (long i = 0; i < n_words; i++) {
        size_t o = 0;
        for (size_t k = 0; k < words[i].len; k++) {
            uint32_t cp = bpe_byte_to_cp((unsigned char)text[words[i].off + k]);
            if (cp < 0x80) {
                buf[o++] = (char)cp;
            } else {
                buf[o++] = (char)(0xC0 | (cp >> 6));
                buf[o++] = (char)(0x80 | (cp & 0x3F));
            }
        }
        if (!encode_word(t, buf, o, &w, out)) goto oom;
    }
    merge_work_free(&w);
    free(buf);
    free(words);
    return 0;
oom:
    merge_work_free(&w);
    free(buf);
    free(words);
    snprintf(err, errlen, "out of memory while tokenizing");
    return -1;
}
