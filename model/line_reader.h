/* line_reader.h — reading text files from outside one line at a time, with hard limits.
 *
 * Saved conversations and traces are JSON Lines written by llmscope, but a user can point
 * /load, replay or render at anything: /dev/zero is one endless line, `yes` an endless
 * file. getline() reads a whole line before anyone can look at its length, so such a file
 * grows the process until memory runs out. This reader stops as soon as a line passes
 * MAX_LINE bytes or the file passes MAX_BYTES, having read at most one byte more, and
 * asks CANCEL (when given) every megabyte whether to stop: a person waiting on a slow or
 * endless file can interrupt it. */
#ifndef LLMSCOPE_LINE_READER_H
#define LLMSCOPE_LINE_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum {
    LINE_OK = 0,
    LINE_END,       /* end of file: no more lines */
    LINE_TOO_LONG,  /* a line longer than max_line (what was read of it is dropped) */
    LINE_TOO_MUCH,  /* the file is longer than max_bytes */
    LINE_CANCELLED, /* cancel() said stop */
    LINE_ERROR      /* a read error (errno) or out of memory */
} line_status;

typedef struct line_reader {
    FILE *f;
    size_t max_line;
    uint64_t max_bytes;
    bool (*cancel)(void *ctx); /* may be NULL */
    void *cancel_ctx;
    char *buf;                 /* the current line, NUL-terminated, without its "\n" / "\r\n" */
    size_t cap;
    long lineno;               /* of the current line, from 1 */
    uint64_t total;            /* bytes read so far */
} line_reader;

void line_reader_init(line_reader *r, FILE *f, size_t max_line, uint64_t max_bytes);
/* The next line into r->buf (*LEN: its length; it may hold NUL bytes). */
line_status line_reader_next(line_reader *r, size_t *len);
/* What went wrong, in a few words ("line 3 is longer than 16 MiB"), for STATUS. */
void line_reader_describe(const line_reader *r, line_status status, char *buf, size_t cap);
void line_reader_free(line_reader *r);

#endif
