/* jinja_lex.c — template text to tokens, with the whitespace control of Hugging Face's
 * settings (jinja2's lexer with trim_blocks and lstrip_blocks):
 *
 *   - "{%-", "{{-", "{#-" remove all whitespace before the tag; "-%}", "-}}", "-#}" all
 *     whitespace after it.
 *   - trim_blocks: the first newline after "%}" or "#}" is removed ("+%}" keeps it).
 *   - lstrip_blocks: spaces and tabs between the start of a line and "{%" or "{#" are
 *     removed ("{%+" keeps them). A line "starts" after a newline in the text, at the start
 *     of the template, and right after a tag whose trimming ended on a newline.
 *   - "\r\n" and "\r" read as "\n", and one newline at the very end of the template is
 *     dropped (keep_trailing_newline off).
 *
 * Inside a tag the text is split into names, strings (Python escapes decoded), numbers and
 * operators; "}}" and "%}" end the tag only outside brackets, so a dict literal can close
 * with "}}". */
#include "jinja_impl.h"

#include <stdio.h>
#include <string.h>

typedef struct lexer {
    jarena *a;
    const char *s;
    size_t n, pos;
    int line;
    jtok *toks;
    size_t n_toks, cap_toks;
    char *err;
    size_t errlen;
    jmp_buf jmp;
} lexer;

_Noreturn static void lex_fail(lexer *L, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void lex_fail(lexer *L, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    jerr_format(L->err, L->errlen, L->line, fmt, ap);
    va_end(ap);
    longjmp(L->jmp, 1);
}

static void *lex_alloc(lexer *L, void *p, size_t old, size_t n) {
    void *q = jarena_grow(L->a, p, old, n);
    if (!q) lex_fail(L, "out of memory");
    return q;
}

static void emit(lexer *L, jtok_type type, const char *s, size_t len, int line) {
    if (L->n_toks == L->cap_toks) {
        size_t cap = L->cap_toks ? L->cap_toks * 2 : 256;
        L->toks = lex_alloc(L, L->toks, L->n_toks * sizeof *L->toks, cap * sizeof *L->toks);
        L->cap_toks = cap;
    }
    L->toks[L->n_toks++] = (jtok){(uint8_t)type, line, s, len};
}

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }
static bool is_digit(char c) { return c >= '0' && c <= '9'; }
static bool is_name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
static bool is_name_char(char c) { return is_name_start(c) || is_digit(c); }

static int count_lines(const char *s, size_t n) {
    int k = 0;
    for (size_t i = 0; i < n; i++) k += s[i] == '\n';
    return k;
}

static bool at(const lexer *L, const char *lit) {
    size_t k = strlen(lit);
    return L->n - L->pos >= k && memcmp(L->s + L->pos, lit, k) == 0;
}

/* The text before a tag, with the tag's left whitespace control applied. */
static void emit_text(lexer *L, size_t from, size_t to, char sign, bool block_or_comment, bool line_starting) {
    size_t end = to;
    if (sign == '-') {
        while (end > from && is_space(L->s[end - 1])) end--;
    } else if (sign != '+' && block_or_comment) {
        size_t l_pos = end;
        while (l_pos > from && L->s[l_pos - 1] != '\n') l_pos--;
        bool blank = l_pos < end;
        for (size_t i = l_pos; i < end && blank; i++) blank = is_space(L->s[i]);
        if (blank && (l_pos > from || line_starting)) end = l_pos;
    }
    if (end > from) emit(L, T_TEXT, L->s + from, end - from, L->line);
    L->line += count_lines(L->s + from, to - from);
}

/* After a tag's closing marker: "-" eats all whitespace, trim_blocks one newline. Returns
 * whether the next text starts a line. */
static bool after_tag(lexer *L, char sign, bool trim_newline) {
    if (sign == '-') {
        while (L->pos < L->n && is_space(L->s[L->pos])) L->line += L->s[L->pos++] == '\n';
    } else if (sign != '+' && trim_newline && L->pos < L->n && L->s[L->pos] == '\n') {
        L->pos++;
        L->line++;
    }
    return L->pos > 0 && L->s[L->pos - 1] == '\n';
}

static void put_utf8(lexer *L, char **buf, size_t *len, size_t *cap, unsigned long cp) {
    if (cp > 0x10FFFF) lex_fail(L, "bad escape in a string: code point %lx", cp);
    char tmp[4];
    size_t k;
    if (cp < 0x80) { tmp[0] = (char)cp; k = 1; }
    else if (cp < 0x800) { tmp[0] = (char)(0xC0 | cp >> 6); tmp[1] = (char)(0x80 | (cp & 0x3F)); k = 2; }
    else if (cp < 0x10000) {
        tmp[0] = (char)(0xE0 | cp >> 12); tmp[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        tmp[2] = (char)(0x80 | (cp & 0x3F)); k = 3;
    } else {
        tmp[0] = (char)(0xF0 | cp >> 18); tmp[1] = (char)(0x80 | (cp >> 12 & 0x3F));
        tmp[2] = (char)(0x80 | (cp >> 6 & 0x3F)); tmp[3] = (char)(0x80 | (cp & 0x3F)); k = 4;
    }
    if (*len + k > *cap) {
        size_t nc = (*cap + k) * 2;
        *buf = lex_alloc(L, *buf, *len, nc);
        *cap = nc;
    }
    memcpy(*buf + *len, tmp, k);
    *len += k;
}

static unsigned long hex_digits(lexer *L, const char *p, int n) {
    unsigned long v = 0;
    for (int i = 0; i < n; i++) {
        char c = p[i];
        int d = is_digit(c) ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0) lex_fail(L, "truncated \\x, \\u or \\U escape in a string");
        v = v * 16 + (unsigned long)d;
    }
    return v;
}

/* A quoted string; its value with Python's escapes decoded. */
static void lex_string(lexer *L) {
    char q = L->s[L->pos];
    size_t start = ++L->pos;
    int line = L->line;
    while (L->pos < L->n && L->s[L->pos] != q) L->pos += L->s[L->pos] == '\\' && L->pos + 1 < L->n ? 2 : 1;
    if (L->pos >= L->n) lex_fail(L, "unterminated string");
    size_t end = L->pos++;
    size_t cap = end - start + 1, len = 0;
    char *buf = lex_alloc(L, NULL, 0, cap);
    for (size_t i = start; i < end;) {
        char c = L->s[i];
        if (c != '\\') {
            if (len + 1 > cap) { buf = lex_alloc(L, buf, len, cap * 2); cap *= 2; }
            buf[len++] = c;
            i++;
            continue;
        }
        char e = L->s[i + 1];
        i += 2;
        unsigned long cp;
        int digits = 0;
        switch (e) {
        case '\n': continue; /* a line continuation */
        case '\\': case '\'': case '"': cp = (unsigned char)e; break;
        case 'a': cp = 7; break;
        case 'b': cp = 8; break;
        case 'f': cp = 12; break;
        case 'n': cp = 10; break;
        case 'r': cp = 13; break;
        case 't': cp = 9; break;
        case 'v': cp = 11; break;
        case 'x': digits = 2; break;
        case 'u': digits = 4; break;
        case 'U': digits = 8; break;
        default:
            if (e >= '0' && e <= '7') {
                cp = (unsigned long)(e - '0');
                for (int k = 0; k < 2 && i < end && L->s[i] >= '0' && L->s[i] <= '7'; k++)
                    cp = cp * 8 + (unsigned long)(L->s[i++] - '0');
                break;
            }
            /* Python keeps an unknown escape as it is written */
            put_utf8(L, &buf, &len, &cap, '\\');
            i--;
            continue;
        }
        if (digits) {
            if (end - i < (size_t)digits) lex_fail(L, "truncated \\%c escape in a string", e);
            cp = hex_digits(L, L->s + i, digits);
            i += (size_t)digits;
        }
        put_utf8(L, &buf, &len, &cap, cp);
    }
    emit(L, T_STRING, buf, len, line);
    L->line += count_lines(L->s + start, end - start);
}

static void lex_number(lexer *L) {
    size_t start = L->pos;
    bool is_float = false;
    while (L->pos < L->n && (is_digit(L->s[L->pos]) || L->s[L->pos] == '_')) L->pos++;
    if (L->pos + 1 < L->n && L->s[L->pos] == '.' && is_digit(L->s[L->pos + 1])) {
        is_float = true;
        L->pos++;
        while (L->pos < L->n && (is_digit(L->s[L->pos]) || L->s[L->pos] == '_')) L->pos++;
    }
    if (L->pos < L->n && (L->s[L->pos] == 'e' || L->s[L->pos] == 'E')) {
        size_t p = L->pos + 1;
        if (p < L->n && (L->s[p] == '+' || L->s[p] == '-')) p++;
        if (p < L->n && is_digit(L->s[p])) {
            is_float = true;
            L->pos = p;
            while (L->pos < L->n && is_digit(L->s[L->pos])) L->pos++;
        }
    }
    emit(L, is_float ? T_FLOAT : T_INT, L->s + start, L->pos - start, L->line);
}

static const char *const OPERATORS[] = {
    "//", "**", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "~", "<", ">", "=",
    "(", ")", "[", "]", "{", "}", ",", ".", ":", "|", NULL};

/* The inside of {{ }} or {% %}; stops after the closing marker. Returns its sign. */
static char lex_tag(lexer *L, bool block) {
    char stack[256];
    int depth = 0;
    for (;;) {
        while (L->pos < L->n && is_space(L->s[L->pos])) L->line += L->s[L->pos++] == '\n';
        if (L->pos >= L->n) lex_fail(L, "unexpected end of template inside a tag");
        if (depth == 0) {
            const char *close = block ? "%}" : "}}";
            char sign = L->s[L->pos];
            if ((sign == '-' || (block && sign == '+')) && L->pos + 1 < L->n &&
                memcmp(L->s + L->pos + 1, close, 2) == 0) {
                L->pos += 3;
                return sign;
            }
            if (at(L, close)) {
                L->pos += 2;
                return 0;
            }
        }
        char c = L->s[L->pos];
        if (c == '\'' || c == '"') {
            lex_string(L);
        } else if (is_digit(c)) {
            lex_number(L);
        } else if (is_name_start(c)) {
            size_t start = L->pos;
            while (L->pos < L->n && is_name_char(L->s[L->pos])) L->pos++;
            emit(L, T_NAME, L->s + start, L->pos - start, L->line);
        } else {
            const char *op = NULL;
            for (int k = 0; OPERATORS[k] && !op; k++)
                if (at(L, OPERATORS[k])) op = OPERATORS[k];
            if (!op) lex_fail(L, "unexpected character '%c' in a tag", c);
            size_t k = strlen(op);
            if (k == 1 && strchr("([{", *op)) {
                if (depth == (int)sizeof stack) lex_fail(L, "brackets nest deeper than %d levels", (int)sizeof stack);
                stack[depth++] = *op == '(' ? ')' : *op == '[' ? ']' : '}';
            } else if (k == 1 && strchr(")]}", *op)) {
                if (depth == 0 || stack[depth - 1] != *op) lex_fail(L, "unexpected '%c'", *op);
                depth--;
            }
            emit(L, T_OP, L->s + L->pos, k, L->line);
            L->pos += k;
        }
    }
}

/* {% raw %}...{% endraw %}: the body is text, taken as it is. Called with L->pos just
 * after "{%" and its sign; false if this block is not "raw". */
static bool lex_raw(lexer *L, bool *line_starting) {
    size_t p = L->pos;
    while (p < L->n && is_space(L->s[p])) p++;
    if (L->n - p < 3 || memcmp(L->s + p, "raw", 3) != 0 || (p + 3 < L->n && is_name_char(L->s[p + 3]))) return false;
    p += 3;
    while (p < L->n && is_space(L->s[p])) p++;
    char sign = 0;
    if (p < L->n && L->s[p] == '-') sign = L->s[p++];
    if (L->n - p < 2 || memcmp(L->s + p, "%}", 2) != 0) lex_fail(L, "expected '%%}' after raw");
    L->line += count_lines(L->s + L->pos, p - L->pos);
    L->pos = p + 2;
    after_tag(L, sign, false);
    /* the body runs to "{%" [-+] endraw [-+] "%}" */
    for (size_t i = L->pos; i + 1 < L->n; i++) {
        if (L->s[i] != '{' || L->s[i + 1] != '%') continue;
        size_t q = i + 2;
        char lsign = q < L->n && (L->s[q] == '-' || L->s[q] == '+') ? L->s[q++] : 0;
        while (q < L->n && is_space(L->s[q])) q++;
        if (L->n - q < 6 || memcmp(L->s + q, "endraw", 6) != 0) continue;
        q += 6;
        while (q < L->n && is_space(L->s[q])) q++;
        char rsign = q < L->n && (L->s[q] == '-' || L->s[q] == '+') ? L->s[q++] : 0;
        if (L->n - q < 2 || memcmp(L->s + q, "%}", 2) != 0) continue;
        emit_text(L, L->pos, i, lsign, true, *line_starting);
        L->line += count_lines(L->s + i, q + 2 - i);
        L->pos = q + 2;
        *line_starting = after_tag(L, rsign, true);
        return true;
    }
    lex_fail(L, "raw block without endraw");
}

/* Newlines normalised to "\n" and one final newline dropped, as jinja2 reads a template. */
static char *normalise(jarena *a, const char *src, size_t len, size_t *out_len) {
    char *s = jarena_alloc(a, len + 1);
    if (!s) return NULL;
    size_t k = 0;
    for (size_t i = 0; i < len; i++) {
        if (src[i] == '\r') {
            s[k++] = '\n';
            if (i + 1 < len && src[i + 1] == '\n') i++;
        } else {
            s[k++] = src[i];
        }
    }
    if (k > 0 && s[k - 1] == '\n') k--;
    s[k] = '\0';
    *out_len = k;
    return s;
}

int jinja_lex(jarena *a, const char *src, size_t len, jtok **toks, size_t *n_toks, char *err, size_t errlen) {
    lexer L = {.a = a, .line = 1, .err = err, .errlen = errlen};
    if (setjmp(L.jmp)) return -1;
    L.s = normalise(a, src, len, &L.n);
    if (!L.s) lex_fail(&L, "out of memory");
    bool line_starting = true;
    while (L.pos < L.n) {
        const char *open = NULL;
        for (size_t i = L.pos; i + 1 < L.n && !open; i++)
            if (L.s[i] == '{' && (L.s[i + 1] == '{' || L.s[i + 1] == '%' || L.s[i + 1] == '#')) open = L.s + i;
        if (!open) {
            emit_text(&L, L.pos, L.n, 0, false, line_starting);
            L.pos = L.n;
            break;
        }
        size_t at_open = (size_t)(open - L.s);
        char kind = open[1];
        char sign = at_open + 2 < L.n && (L.s[at_open + 2] == '-' || L.s[at_open + 2] == '+') ? L.s[at_open + 2] : 0;
        size_t text_from = L.pos;
        L.pos = at_open + 2 + (sign ? 1 : 0);
        if (kind == '%') {
            emit_text(&L, text_from, at_open, sign, true, line_starting);
            if (lex_raw(&L, &line_starting)) continue;
            emit(&L, T_BLOCK_BEGIN, open, 2, L.line);
            char end = lex_tag(&L, true);
            emit(&L, T_BLOCK_END, L.s + L.pos, 0, L.line);
            line_starting = after_tag(&L, end, true);
        } else if (kind == '{') {
            emit_text(&L, text_from, at_open, sign, false, line_starting);
            emit(&L, T_VAR_BEGIN, open, 2, L.line);
            char end = lex_tag(&L, false);
            emit(&L, T_VAR_END, L.s + L.pos, 0, L.line);
            line_starting = after_tag(&L, end, false);
        } else {
            emit_text(&L, text_from, at_open, sign, true, line_starting);
            const char *close = NULL;
            for (size_t i = L.pos; i + 1 < L.n && !close; i++)
                if (L.s[i] == '#' && L.s[i + 1] == '}') close = L.s + i;
            if (!close) lex_fail(&L, "unterminated comment");
            size_t at_close = (size_t)(close - L.s);
            char end = at_close > L.pos && (L.s[at_close - 1] == '-' || L.s[at_close - 1] == '+') ? L.s[at_close - 1] : 0;
            L.line += count_lines(L.s + L.pos, at_close - L.pos);
            L.pos = at_close + 2;
            line_starting = after_tag(&L, end, true);
        }
    }
    emit(&L, T_EOF, L.s + L.n, 0, L.line);
    *toks = L.toks;
    *n_toks = L.n_toks;
    return 0;
}
