/* tokenizer_wpm.c — WordPiece ("bert") vocabularies.
 *
 * BERT's uncased preprocessing: drop NUL, U+FFFD and control characters; decompose
 * (NFD) and drop the combining marks, so "é" becomes "e"; lowercase; split at whitespace;
 * make every punctuation character and every CJK ideograph a word of its own.
 * Each word is then covered greedily from the left by the longest vocabulary pieces: the
 * first piece is a word-initial token, the rest are continuations. If some position
 * cannot be covered, or the word is over 100 characters, the whole word becomes the
 * unknown token.
 *
 * GGUF files converted by llama.cpp mark word-initial tokens with "▁" and keep
 * continuations bare ("▁hello", "ing"); BERT's own files keep initial tokens bare and
 * prefix continuations with "##". tokenizer.c picks the convention from the vocabulary. */
#include "tokenizer_impl.h"
#include "unicode.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WPM_MAX_WORD_CHARS 100

/* BERT counts every ASCII symbol (including $ + < = > ^ ` | ~) as punctuation. */
static bool is_bert_punctuation(uint32_t cp) {
    if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) ||
        (cp >= 123 && cp <= 126))
        return true;
    return cp >= 0x80 && ucp_is_punctuation(cp);
}

/* Covers WORD (LEN bytes, CHARS characters) with vocabulary pieces. */
static bool encode_word(const tokenizer *t, const char *word, size_t len, size_t chars,
                        char *scratch, id_list *out) {
    size_t first = out->n;
    if (chars > WPM_MAX_WORD_CHARS) goto unknown;
    size_t wp = strlen(t->wpm_word_prefix), cp = strlen(t->wpm_cont_prefix);
    for (size_t start = 0; start < len;) {
        const char *prefix = start == 0 ? t->wpm_word_prefix : t->wpm_cont_prefix;
        size_t pl = start == 0 ? wp : cp;
        memcpy(scratch, prefix, pl);
        size_t end = len;
        if (end - start + pl > t->max_token_len)
            end = t->max_token_len > pl ? start + (t->max_token_len - pl) : start;
        int32_t id = -1;
        for (; end > start; end--) {
            if (end < len && ((unsigned char)word[end] & 0xC0) == 0x80) continue; /* mid-char */
            memcpy(scratch + pl, word + start, end - start);
            id = tok_lookup(t, scratch, pl + end - start);
            if (id >= 0) break;
        }
        if (id < 0) goto unknown;
        if (!id_list_push(out, id)) return false;
        start = end;
    }
    return true;
unknown:
    out->n = first;
    return t->unk < 0 || id_list_push(out, t->unk);
}

int wpm_encode(const tokenizer *t, const char *text, size_t len, id_list *out, char *err,
               size_t errlen) {
    size_t nfd_len = 0;
    char *nfd = ucp_nfd(text, len, &nfd_len);
    /* Lowercasing can lengthen a character's UTF-8 by at most a byte or two; 4 bytes per
     * code point is always enough for the cleaned text. Scratch holds prefix + word. */
    char *clean = nfd ? malloc(4 * nfd_len + 4) : NULL;
    char *scratch = nfd ? malloc(4 * nfd_len + 8) : NULL;
    if (!nfd || !clean || !scratch) {
        free(nfd);
        free(clean);
        free(scratch);
        snprintf(err, errlen, "out of memory while tokenizing");
        return -1;
    }

    size_t o = 0, word_start = 0, word_chars = 0;
    bool ok = true;
    for (size_t i = 0; i < nfd_len && ok;) {
        size_t n;
        uint32_t c = utf8_decode(nfd + i, nfd_len - i, &n);
        i += n;
        bool space = ucp_is_whitespace(c);
        if (!space && (c == 0 || c == 0xFFFD || ucp_is_control(c) || ucp_is_nonspacing_mark(c)))
            continue;
        bool alone = !space && (is_bert_punctuation(c) || ucp_is_cjk_ideograph(c));
        if ((space || alone) && o > word_start) { /* the word before ends here */
            ok = encode_word(t, clean + word_start, o - word_start, word_chars, scratch, out);
            word_start = o;
            word_chars = 0;
        }
        if (space) continue;
        o += utf8_encode(ucp_tolower(c), clean + o);
        word_chars++;
        if (alone && ok) {
            ok = encode_word(t, clean + word_start, o - word_start, word_chars, scratch, out);
            word_start = o;
            word_chars = 0;
        }
    }
    if (ok && o > word_start)
        ok = encode_word(t, clean + word_start, o - word_start, word_chars, scratch, out);
    free(nfd);
    free(clean);
    free(scratch);
    if (!ok) snprintf(err, errlen, "out of memory while tokenizing");
    return ok ? 0 : -1;
}
