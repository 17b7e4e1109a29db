/* term_text.h — text from outside made safe to show on a terminal: the one place that
 * decides it.
 *
 * Model files (names, tokens, templates), traces, saved conversations, catalogs and
 * servers (an HTTP reason phrase from any host in a redirect chain) can carry bytes a
 * terminal acts on: ESC sequences that move the cursor, set the title, rewrite the
 * screen or answer back, and their 8-bit forms, the C1 controls U+0080-U+009F (0x9B is
 * CSI). Everything from outside goes through term_escape before it is printed, which
 * shows such bytes instead of sending them:
 *   C0 controls and DEL   \xNN  (newline, tab and carriage return as \n \t \r, or kept
 *                                 as they are with TERM_KEEP_LAYOUT)
 *   C1 controls           \u0080 .. \u009f
 *   bytes that are not UTF-8 (a lone 0x9B among them)  \xNN
 *   the backslash itself  \\ with TERM_ESCAPE_BACKSLASH (so the escapes are unambiguous)
 *   QUOTE (when not 0)    \QUOTE
 * Everything else, valid UTF-8, passes unchanged. */
#ifndef LLMSCOPE_TERM_TEXT_H
#define LLMSCOPE_TERM_TEXT_H

#include <stddef.h>

enum {
    TERM_ESCAPE_BACKSLASH = 1, /* "\" -> "\\" */
    TERM_KEEP_LAYOUT = 2,      /* newlines and tabs pass through (streamed text) */
};

/* Writes the escaped form of LEN bytes of S into OUT (CAP bytes, NUL-terminated when CAP
 * > 0; cut at a whole escape when short). Returns the length the whole of it needs. */
size_t term_escape(const char *s, size_t len, char quote, unsigned flags, char *out, size_t cap);

/* The escaped form of the string S in BUF (CAP bytes, cut when short), for "%s". */
const char *term_clean(const char *s, char *buf, size_t cap);

#endif
