/* unicode.c — UTF-8 validation and streaming, and the few Unicode properties the
 * tokenizer asks about (utf8proc supplies the tables).
 *
 * Validation follows the Unicode standard's definition of well-formed UTF-8 (no overlong
 * forms, no surrogates, nothing above U+10FFFF). Where bytes are ill-formed, each
 * "maximal subpart" (the longest prefix of a valid sequence that was cut short, or a
 * single bad byte) becomes one U+FFFD, as the standard recommends, so the number of
 * replacement characters does not depend on how the bytes were split into pieces. */
#include "unicode.h"
#include "tokenizer.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

typedef enum { SEQ_VALID, SEQ_INCOMPLETE, SEQ_INVALID } seq_status;

/* Looks at the sequence starting at P (N >= 1 bytes available) and sets *LEN to the bytes
 * it covers: a whole character (VALID), everything available because it is a valid but
 * unfinished prefix (INCOMPLETE), or the maximal ill-formed subpart (INVALID). */
static seq_status scan_seq(const unsigned char *p, size_t n, size_t *len) {
    unsigned char b = p[0];
    size_t need;
    unsigned char lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    if (b < 0x80) { *len = 1; return SEQ_VALID; }
    if (b >= 0xC2 && b <= 0xDF) need = 2;
    else if (b >= 0xE0 && b <= 0xEF) {
        need = 3;
        if (b == 0xE0) lo = 0xA0;      /* overlong */
        if (b == 0xED) hi = 0x9F;      /* surrogates */
    } else if (b >= 0xF0 && b <= 0xF4) {
        need = 4;
        if (b == 0xF0) lo = 0x90;      /* overlong */
        if (b == 0xF4) hi = 0x8F;      /* above U+10FFFF */
    } else {
        *len = 1;                      /* continuation byte, C0/C1, F5..FF */
        return SEQ_INVALID;
    }
    for (size_t i = 1; i < need; i++) {
        if (i >= n) { *len = i; return SEQ_INCOMPLETE; }
        unsigned char c = p[i];
        bool ok = i == 1 ? (c >= lo && c <= hi) : (c >= 0x80 && c <= 0xBF);
        if (!ok) { *len = i; return SEQ_INVALID; }
    }
    *len = need;
    return SEQ_VALID;
}

bool utf8_valid(const char *s, size_t len, size_t *bad_at) {
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        /* ASCII runs are the common case; skip them without the general path. */
        if (p[i] < 0x80) { i++; continue; }
        size_t n;
        if (scan_seq(p + i, len - i, &n) != SEQ_VALID) {
            if (bad_at) *bad_at = i;
            return false;
        }
        i += n;
    }
    return true;
}

static const char REPLACEMENT[3] = {(char)0xEF, (char)0xBF, (char)0xBD}; /* U+FFFD */

/* Writes the stand-in for an ill-formed subpart. The caller promised CAP >= n + 4, which
 * is room for every valid byte but not for three bytes per bad byte; REMAINING is how
 * many input bytes still wait behind this one, and when U+FFFD would eat into their room
 * a single '?' (never longer than the bytes it replaces) is written instead. */
static size_t put_replacement(char *out, size_t o, size_t cap, size_t remaining) {
    if (o + sizeof REPLACEMENT + remaining <= cap) {
        memcpy(out + o, REPLACEMENT, sizeof REPLACEMENT);
        return sizeof REPLACEMENT;
    }
    if (o < cap) {
        out[o] = '?';
        return 1;
    }
    return 0;
}

size_t utf8_stream_push(utf8_stream *s, const char *in, size_t n, char *out, size_t cap) {
    /* The input is logically the held bytes followed by IN; a held prefix either
     * completes with IN's first bytes or turns out to be ill-formed. */
    size_t held = s->n_pending > 0 && s->n_pending <= 4 ? (size_t)s->n_pending : 0;
    unsigned char pending[4];
    memcpy(pending, s->pending, held);
    s->n_pending = 0;

    size_t total = held + n, j = 0, o = 0;
    while (j < total) {
        unsigned char w[4];
        size_t wn = 0;
        for (; wn < 4 && j + wn < total; wn++) {
            size_t k = j + wn;
            w[wn] = k < held ? pending[k] : (unsigned char)in[k - held];
        }
        size_t len;
        seq_status st = scan_seq(w, wn, &len);
        if (st == SEQ_VALID) {
            if (o + len > cap) break; /* only if the caller broke the capacity rule */
            memcpy(out + o, w, len);
            o += len;
        } else if (st == SEQ_INCOMPLETE) {
            memcpy(s->pending, w, len); /* len == total - j: the stream's unfinished tail */
            s->n_pending = (int)len;
        } else {
            o += put_replacement(out, o, cap, total - j - len);
        }
        j += len;
    }
    return o;
}

size_t utf8_stream_finish(utf8_stream *s, char *out, size_t cap) {
    size_t o = 0;
    if (s->n_pending > 0) o = put_replacement(out, 0, cap, 0);
    s->n_pending = 0;
    return o;
}

uint32_t utf8_decode(const char *s, size_t len, size_t *n) {
    const unsigned char *p = (const unsigned char *)s;
    size_t k = utf8_seq_len(p[0]);
    if (k > len) k = len;
    uint32_t cp = k == 1 ? p[0] : k == 2 ? p[0] & 0x1Fu : k == 3 ? p[0] & 0x0Fu : p[0] & 0x07u;
    for (size_t i = 1; i < k; i++) cp = (cp << 6) | (p[i] & 0x3Fu);
    *n = k;
    return cp;
}

size_t utf8_encode(uint32_t cp, char *out) {
    return (size_t)utf8proc_encode_char((utf8proc_int32_t)cp, (utf8proc_uint8_t *)out);
}

bool ucp_is_whitespace(uint32_t cp) {
    if ((cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85) return true;
    if (cp < 0x80) return false;
    utf8proc_category_t c = utf8proc_category((utf8proc_int32_t)cp);
    return c == UTF8PROC_CATEGORY_ZS || c == UTF8PROC_CATEGORY_ZL || c == UTF8PROC_CATEGORY_ZP;
}

bool ucp_is_punctuation(uint32_t cp) {
    utf8proc_category_t c = utf8proc_category((utf8proc_int32_t)cp);
    return c >= UTF8PROC_CATEGORY_PC && c <= UTF8PROC_CATEGORY_PO;
}

bool ucp_is_control(uint32_t cp) {
    utf8proc_category_t c = utf8proc_category((utf8proc_int32_t)cp);
    return c == UTF8PROC_CATEGORY_CC || c == UTF8PROC_CATEGORY_CF ||
           c == UTF8PROC_CATEGORY_CO || c == UTF8PROC_CATEGORY_CN;
}

bool ucp_is_nonspacing_mark(uint32_t cp) {
    return utf8proc_category((utf8proc_int32_t)cp) == UTF8PROC_CATEGORY_MN;
}

bool ucp_is_cjk_ideograph(uint32_t cp) {
    return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
           (cp >= 0x20000 && cp <= 0x2A6DF) || (cp >= 0x2A700 && cp <= 0x2B73F) ||
           (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B820 && cp <= 0x2CEAF) ||
           (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

uint32_t ucp_tolower(uint32_t cp) {
    return (uint32_t)utf8proc_tolower((utf8proc_int32_t)cp);
}

char *ucp_nfd(const char *s, size_t len, size_t *out_len) {
    utf8proc_uint8_t *dst = NULL;
    utf8proc_ssize_t n = utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)len, &dst,
                                      UTF8PROC_DECOMPOSE);
    if (n < 0) {
        free(dst);
        return NULL;
    }
    *out_len = (size_t)n;
    return (char *)dst;
}
