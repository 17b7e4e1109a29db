/* cli_util.c — small helpers the commands share: error lines, number arguments,
 * escaping token text for the terminal and for JSON, reading standard input. */
#include "cli.h"
#include "workers.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "term_text.h"

void cli_error(const char *fmt, ...) {
    /* error lines carry names from files and servers: shown, never obeyed (term_text.h) */
    char msg[2048], shown[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "llmscope: %s\n", term_clean(msg, shown, sizeof shown));
}

int cli_parse_int(const char *opt, const char *text, long lo, long hi, int *out) {
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end || v < lo || v > hi) {
        cli_error("%s expects a whole number from %ld to %ld, not '%s'", opt, lo, hi, text);
        return -1;
    }
    *out = (int)v;
    return 0;
}

int cli_set_threads(const char *text) {
    int n;
    if (cli_parse_int("--threads", text, 1, WORKERS_MAX, &n) < 0) return -1;
    char value[16];
    snprintf(value, sizeof value, "%d", n);
    return setenv("LLMSCOPE_THREADS", value, 1) == 0 ? 0 : -1;
}

int cli_bad_option(const char *cmd, int c, const char *arg) {
    cli_error("%s: %s %s (see llmscope %s --help)", cmd, c == ':' ? "missing value for" : "unknown option", arg, cmd);
    return 2;
}

int cli_parse_backend(const char *text, cli_backend *out) {
    if (strcmp(text, "cpu") == 0) *out = CLI_BACKEND_CPU;
    else if (strcmp(text, "vulkan") == 0) *out = CLI_BACKEND_VULKAN;
    else if (strcmp(text, "auto") == 0) *out = CLI_BACKEND_AUTO;
    else {
        cli_error("--backend expects cpu, vulkan or auto, not '%s'", text);
        return -1;
    }
    return 0;
}

int cli_parse_float(const char *opt, const char *text, double lo, double hi, float *out) {
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end == text || *end || !isfinite(v) || v < lo || v > hi) {
        cli_error("%s expects a number from %g to %g, not '%s'", opt, lo, hi, text);
        return -1;
    }
    *out = (float)v;
    return 0;
}

int cli_parse_u64(const char *opt, const char *text, uint64_t *out) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno || end == text || *end || text[0] == '-') {
        cli_error("%s expects a whole number from 0 to %llu, not '%s'", opt,
                  (unsigned long long)UINT64_MAX, text);
        return -1;
    }
    *out = (uint64_t)v;
    return 0;
}

void cli_print_escaped(FILE *f, const char *s, size_t len, char quote) {
    char small[512];
    size_t need = term_escape(s, len, quote, TERM_ESCAPE_BACKSLASH, small, sizeof small);
    if (need < sizeof small) {
        fwrite(small, 1, need, f);
        return;
    }
    char *big = malloc(need + 1);
    if (!big) return;
    term_escape(s, len, quote, TERM_ESCAPE_BACKSLASH, big, need + 1);
    fwrite(big, 1, need, f);
    free(big);
}

char *cli_utf8_sanitize(const char *s, size_t len, bool *changed) {
    /* U+FFFD takes 3 bytes and replaces at least 1 */
    char *out = malloc(3 * len + 1);
    if (!out) return NULL;
    const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)s;
    size_t i = 0, o = 0;
    *changed = false;
    while (i < len) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t n = utf8proc_iterate(p + i, (utf8proc_ssize_t)(len - i), &cp);
        if (n < 0 || cp == 0) { /* a NUL would end the string early */
            memcpy(out + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i++;
            *changed = true;
        } else {
            memcpy(out + o, p + i, (size_t)n);
            o += (size_t)n;
            i += (size_t)n;
        }
    }
    out[o] = 0;
    return out;
}

char *cli_read_stdin(size_t limit, char *err, size_t errlen) {
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (n + 1 == cap) {
            if (cap > limit) {
                free(buf);
                snprintf(err, errlen, "standard input is longer than %zu bytes", limit);
                return NULL;
            }
            char *b = realloc(buf, cap * 2);
            if (!b) break;
            buf = b;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - 1 - n, stdin);
        n += got;
        if (got == 0) {
            if (ferror(stdin)) {
                free(buf);
                snprintf(err, errlen, "cannot read standard input: %s", strerror(errno));
                return NULL;
            }
            buf[n] = 0;
            return buf;
        }
    }
    free(buf);
    snprintf(err, errlen, "out of memory reading standard input");
    return NULL;
}

void cli_format_count(uint64_t n, char *buf, size_t cap) {
    if (n >= 1000000000ull) snprintf(buf, cap, "%.2fB", (double)n / 1e9);
    else if (n >= 1000000ull) snprintf(buf, cap, "%.1fM", (double)n / 1e6);
    else if (n >= 1000ull) snprintf(buf, cap, "%.1fK", (double)n / 1e3);
    else snprintf(buf, cap, "%llu", (unsigned long long)n);
}
