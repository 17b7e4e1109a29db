/* line_reader.c — bounded line reading (see line_reader.h). */
#include "line_reader.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define CANCEL_EVERY (1u << 20)

void line_reader_init(line_reader *r, FILE *f, size_t max_line, uint64_t max_bytes) {
    memset(r, 0, sizeof *r);
    r->f = f;
    r->max_line = max_line;
    r->max_bytes = max_bytes;
}

void line_reader_free(line_reader *r) {
    free(r->buf);
    r->buf = NULL;
    r->cap = 0;
}

/* Room for N bytes plus the NUL, growing by doubling up to max_line + 1. */
static bool reserve(line_reader *r, size_t n) {
    if (n + 1 <= r->cap) return true;
    size_t cap = r->cap ? r->cap : 256;
    while (cap < n + 1) cap *= 2;
    if (cap > r->max_line + 1) cap = r->max_line + 1;
    char *b = realloc(r->buf, cap);
    if (!b) return false;
    r->buf = b;
    r->cap = cap;
    return true;
}

line_status line_reader_next(line_reader *r, size_t *len) {
    size_t n = 0;
    *len = 0;
    if (!reserve(r, 0)) return LINE_ERROR;
    r->lineno++;
    for (;;) {
        int c = getc_unlocked(r->f);
        if (c == EOF) {
            if (ferror(r->f)) return LINE_ERROR;
            if (n == 0) {
                r->lineno--;
                return LINE_END;
            }
            break;
        }
        if (++r->total > r->max_bytes) return LINE_TOO_MUCH;
        if (r->cancel && r->total % CANCEL_EVERY == 0 && r->cancel(r->cancel_ctx)) return LINE_CANCELLED;
        if (c == '\n') break;
        if (n == r->max_line) return LINE_TOO_LONG;
        if (!reserve(r, n + 1)) {
            errno = ENOMEM;
            return LINE_ERROR;
        }
        r->buf[n++] = (char)c;
    }
    if (n > 0 && r->buf[n - 1] == '\r') n--;
    r->buf[n] = 0;
    *len = n;
    return LINE_OK;
}

static void size_text(uint64_t bytes, char *buf, size_t cap) {
    if (bytes >= (1u << 20) && bytes % (1u << 20) == 0) snprintf(buf, cap, "%llu MiB", (unsigned long long)(bytes >> 20));
    else snprintf(buf, cap, "%llu bytes", (unsigned long long)bytes);
}

void line_reader_describe(const line_reader *r, line_status status, char *buf, size_t cap) {
    char size[48];
    switch (status) {
    case LINE_TOO_LONG:
        size_text(r->max_line, size, sizeof size);
        snprintf(buf, cap, "line %ld is longer than %s", r->lineno, size);
        break;
    case LINE_TOO_MUCH:
        size_text(r->max_bytes, size, sizeof size);
        snprintf(buf, cap, "the file is larger than %s", size);
        break;
    case LINE_CANCELLED: snprintf(buf, cap, "reading was interrupted at line %ld", r->lineno); break;
    case LINE_ERROR: snprintf(buf, cap, "cannot read line %ld: %s", r->lineno, strerror(errno)); break;
    default: snprintf(buf, cap, "line %ld", r->lineno); break;
    }
}
