/* term_text.c — escaping text from outside for the terminal (see term_text.h). */
#include "term_text.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <utf8proc.h>

/* Appends PIECE (N bytes) when it fits whole; counts it either way. */
static void put(char *out, size_t cap, size_t *at, bool *full, const char *piece, size_t n) {
    if (!*full && *at + n < cap) memcpy(out + *at, piece, n);
    else *full = true;
    *at += n;
}

size_t term_escape(const char *s, size_t len, char quote, unsigned flags, char *out, size_t cap) {
    const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)s;
    size_t i = 0, at = 0, kept = 0;
    bool full = cap == 0;
    char esc[16];
    while (i < len) {
        unsigned char c = p[i];
        const char *named = c == '\n' ? "\\n" : c == '\t' ? "\\t" : c == '\r' ? "\\r" : NULL;
        if ((c == '\n' || c == '\t') && (flags & TERM_KEEP_LAYOUT)) {
            put(out, cap, &at, &full, (const char *)p + i, 1);
            i++;
        } else if (named) {
            put(out, cap, &at, &full, named, 2);
            i++;
        } else if (c == '\\' && (flags & TERM_ESCAPE_BACKSLASH)) {
            put(out, cap, &at, &full, "\\\\", 2);
            i++;
        } else if (quote && c == (unsigned char)quote) {
            esc[0] = '\\';
            esc[1] = quote;
            put(out, cap, &at, &full, esc, 2);
            i++;
        } else {
            utf8proc_int32_t cp;
            utf8proc_ssize_t n = utf8proc_iterate(p + i, (utf8proc_ssize_t)(len - i), &cp);
            if (n < 0 || cp < 0x20 || cp == 0x7f) { /* invalid, partial, or a C0 control */
                snprintf(esc, sizeof esc, "\\x%02x", c);
                put(out, cap, &at, &full, esc, 4);
                i++;
            } else if (cp >= 0x80 && cp <= 0x9f) { /* C1: what 8-bit terminals take as ESC x */
                snprintf(esc, sizeof esc, "\\u%04x", (unsigned)cp);
                put(out, cap, &at, &full, esc, 6);
                i += (size_t)n;
            } else {
                put(out, cap, &at, &full, (const char *)p + i, (size_t)n);
                i += (size_t)n;
            }
        }
        if (!full) kept = at;
    }
    if (cap > 0) out[kept < cap ? kept : cap - 1] = 0;
    return at;
}

const char *term_clean(const char *s, char *buf, size_t cap) {
    term_escape(s ? s : "", s ? strlen(s) : 0, 0, 0, buf, cap);
    return buf;
}
