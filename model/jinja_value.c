/* jinja_value.c — the arena, strings that remember which bytes are message text, and
 * values with Python's meaning of str(), repr(), == and <, and JSON read and written the
 * way Python's json module does (see jinja_impl.h). */
#include "jinja_impl.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

/* ---------------------------------------------------------------- arena ---- */

struct jarena_chunk {
    jarena_chunk *next;
    size_t size, used;
    max_align_t data[];
};

#define CHUNK_BYTES ((size_t)64 << 10)
#define ALIGN(n) (((n) + 15) & ~(size_t)15)

static jarena_chunk *new_chunk(jarena *a, size_t bytes) {
    size_t need = sizeof(jarena_chunk) + bytes;
    if (bytes > a->limit || a->total > a->limit - bytes) return NULL;
    jarena_chunk *ch = malloc(need);
    if (!ch) return NULL;
    ch->size = bytes;
    ch->used = 0;
    a->total += bytes;
    return ch;
}

void *jarena_alloc(jarena *a, size_t n) {
    if (n > SIZE_MAX / 2) return NULL;
    n = ALIGN(n ? n : 1);
    jarena_chunk *h = a->head;
    if (h && h->size - h->used >= n) {
        void *p = (char *)h->data + h->used;
        h->used += n;
        return p;
    }
    if (n > CHUNK_BYTES / 4 && h) {
        /* a big block gets a chunk of its own, behind the current one */
        jarena_chunk *ch = new_chunk(a, n);
        if (!ch) return NULL;
        ch->used = n;
        ch->next = h->next;
        h->next = ch;
        return ch->data;
    }
    jarena_chunk *ch = new_chunk(a, n > CHUNK_BYTES ? n : CHUNK_BYTES);
    if (!ch) return NULL;
    ch->next = h;
    a->head = ch;
    ch->used = n;
    return ch->data;
}

void *jarena_grow(jarena *a, void *p, size_t old, size_t n) {
    if (n <= old) return p;
    jarena_chunk *h = a->head;
    size_t old_a = ALIGN(old ? old : 1);
    if (p && h && (char *)p + old_a == (char *)h->data + h->used && n <= SIZE_MAX / 2 &&
        ALIGN(n) - old_a <= h->size - h->used) {
        h->used += ALIGN(n) - old_a; /* the last block of the chunk: grow in place */
        return p;
    }
    void *q = jarena_alloc(a, n);
    if (q && old) memcpy(q, p, old);
    return q;
}

void jarena_free(jarena *a) {
    for (jarena_chunk *ch = a->head, *next; ch; ch = next) {
        next = ch->next;
        free(ch);
    }
    a->head = NULL;
    a->total = 0;
}

/* ---------------------------------------------------------------- errors ---- */

void jerr_format(char *err, size_t errlen, int line, const char *fmt, va_list ap) {
    if (!err || !errlen) return;
    int n = line > 0 ? snprintf(err, errlen, "line %d: ", line) : 0;
    if (n < 0 || (size_t)n >= errlen) n = 0;
    vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
}

void jfail(jinja_ctx *c, int line, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    jerr_format(c->err, c->errlen, line, fmt, ap);
    va_end(ap);
    longjmp(*c->jmp, 1);
}

void jraise(jinja_ctx *c, const char *msg, size_t len) {
    if (len == 0) msg = "the template raised an error without a message", len = strlen(msg);
    if (c->err && c->errlen) {
        if (len >= c->errlen) len = c->errlen - 1;
        memcpy(c->err, msg, len);
        c->err[len] = '\0';
    }
    longjmp(*c->jmp, 1);
}

void *jalloc(jinja_ctx *c, size_t n) {
    void *p = jarena_alloc(&c->arena, n);
    if (!p) jfail(c, 0, "the template needs more than %zu MiB of memory", c->lim.max_memory >> 20);
    return p;
}

void *jgrow(jinja_ctx *c, void *p, size_t old, size_t n) {
    void *q = jarena_grow(&c->arena, p, old, n);
    if (!q) jfail(c, 0, "the template needs more than %zu MiB of memory", c->lim.max_memory >> 20);
    return q;
}

/* ---------------------------------------------------------------- UTF-8 ---- */

/* Length of the valid UTF-8 sequence at S[I], or 0 if none starts there. */
static size_t u8_seq(const char *s, size_t len, size_t i) {
    const unsigned char *p = (const unsigned char *)s + i;
    size_t avail = len - i;
    unsigned char b = p[0];
    if (b < 0x80) return 1;
    size_t n = b >= 0xF0 && b <= 0xF4 ? 4 : b >= 0xE0 && b <= 0xEF ? 3 : b >= 0xC2 && b <= 0xDF ? 2 : 0;
    if (n == 0 || n > avail) return 0;
    for (size_t k = 1; k < n; k++)
        if ((p[k] & 0xC0) != 0x80) return 0;
    if (n == 3 && b == 0xE0 && p[1] < 0xA0) return 0;  /* overlong */
    if (n == 3 && b == 0xED && p[1] >= 0xA0) return 0; /* surrogate */
    if (n == 4 && b == 0xF0 && p[1] < 0x90) return 0;  /* overlong */
    if (n == 4 && b == 0xF4 && p[1] >= 0x90) return 0; /* above U+10FFFF */
    return n;
}

size_t u8_next(const char *s, size_t len, size_t i) {
    size_t n = u8_seq(s, len, i);
    return i + (n ? n : 1);
}

size_t u8_count(jinja_ctx *c, const char *s, size_t len) {
    jwork(c, len, 0);
    size_t n = 0;
    for (size_t i = 0; i < len; i = u8_next(s, len, i)) n++;
    return n;
}

size_t u8_offset(jinja_ctx *c, const char *s, size_t len, size_t cp) {
    jwork(c, cp, 0);
    size_t i = 0;
    while (cp-- > 0 && i < len) i = u8_next(s, len, i);
    return i;
}

uint32_t u8_decode(const char *s, size_t len, size_t i, size_t *next) {
    const unsigned char *p = (const unsigned char *)s + i;
    size_t n = u8_seq(s, len, i);
    *next = i + (n ? n : 1);
    switch (n) {
    case 1: return p[0];
    case 2: return (uint32_t)(p[0] & 0x1F) << 6 | (p[1] & 0x3F);
    case 3: return (uint32_t)(p[0] & 0x0F) << 12 | (uint32_t)(p[1] & 0x3F) << 6 | (p[2] & 0x3F);
    case 4:
        return (uint32_t)(p[0] & 0x07) << 18 | (uint32_t)(p[1] & 0x3F) << 12 |
               (uint32_t)(p[2] & 0x3F) << 6 | (p[3] & 0x3F);
    default: return 0xDC00 + p[0]; /* a stray byte, as Python's surrogateescape reads it */
    }
}

void u8_encode(jinja_ctx *c, jbuf *b, uint32_t cp) {
    char buf[4];
    size_t n;
    if (cp >= 0xDC80 && cp <= 0xDCFF) { /* a stray byte goes back as it came */
        buf[0] = (char)(cp - 0xDC00);
        n = 1;
    } else if (cp < 0x80) {
        buf[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        buf[0] = (char)(0xC0 | cp >> 6);
        buf[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        buf[0] = (char)(0xE0 | cp >> 12);
        buf[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        buf[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        buf[0] = (char)(0xF0 | (cp >> 18 & 0x07));
        buf[1] = (char)(0x80 | (cp >> 12 & 0x3F));
        buf[2] = (char)(0x80 | (cp >> 6 & 0x3F));
        buf[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    jb_put(c, b, buf, n);
}

/* Python's str.isspace(): category Zs, or bidirectional class WS, B or S. */
bool py_isspace(uint32_t cp) {
    if (cp >= 0xD800 && cp <= 0xDFFF) return false;
    if (cp == ' ' || (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x1F)) return true;
    if (cp < 0x80) return false;
    const utf8proc_property_t *p = utf8proc_get_property((utf8proc_int32_t)cp);
    return p->category == UTF8PROC_CATEGORY_ZS || p->bidi_class == UTF8PROC_BIDI_CLASS_WS ||
           p->bidi_class == UTF8PROC_BIDI_CLASS_B || p->bidi_class == UTF8PROC_BIDI_CLASS_S;
}

/* ---------------------------------------------------------------- strings ---- */

static const jstr EMPTY = {"", 0, NULL, 0};

const jstr *js_new(jinja_ctx *c, const char *s, size_t n) {
    if (n == 0) return &EMPTY;
    jstr *j = jalloc(c, sizeof *j + n);
    char *bytes = (char *)(j + 1);
    memcpy(bytes, s, n);
    *j = (jstr){bytes, n, NULL, 0};
    return j;
}

const jstr *js_cstr(jinja_ctx *c, const char *s) { return js_new(c, s, strlen(s)); }

const jstr *js_sub(jinja_ctx *c, const jstr *s, size_t off, size_t n) {
    if (off > s->len) off = s->len;
    if (n > s->len - off) n = s->len - off;
    if (off == 0 && n == s->len) return s;
    if (n == 0) return &EMPTY;
    size_t k = 0;
    for (size_t i = 0; i < s->n_tags; i++)
        if (s->tags[i].start < off + n && s->tags[i].start + s->tags[i].len > off) k++;
    jstr *j = jalloc(c, sizeof *j);
    *j = (jstr){s->s + off, n, NULL, 0};
    if (k == 0) return j;
    jtag *tags = jalloc(c, k * sizeof *tags);
    k = 0;
    for (size_t i = 0; i < s->n_tags; i++) {
        size_t a = s->tags[i].start, b = a + s->tags[i].len;
        if (a >= off + n || b <= off) continue;
        if (a < off) a = off;
        if (b > off + n) b = off + n;
        tags[k++] = (jtag){a - off, b - a, s->tags[i].msg};
    }
    j->tags = tags;
    j->n_tags = k;
    return j;
}

const jstr *js_derived(jinja_ctx *c, const jstr *result, const jstr *src) {
    if (!src->n_tags || result->len == 0) return result;
    jstr *j = jalloc(c, sizeof *j);
    jtag *t = jalloc(c, sizeof *t);
    *t = (jtag){0, result->len, src->tags[0].msg};
    *j = (jstr){result->s, result->len, t, 1};
    return j;
}

/* A plain search, paid for at its worst case (HN x NN bytes compared) before it starts. */
const char *jfind(jinja_ctx *c, const char *h, size_t hn, const char *n, size_t nn, bool last) {
    if (nn == 0) return last ? h + hn : h;
    if (nn > hn) return NULL;
    size_t positions = hn - nn + 1;
    jwork(c, (uint64_t)positions * nn, 0);
    for (size_t k = 0; k < positions; k++) {
        size_t i = last ? positions - 1 - k : k;
        if (h[i] == n[0] && memcmp(h + i, n, nn) == 0) return h + i;
    }
    return NULL;
}

bool js_eq(const jstr *a, const char *lit) {
    size_t n = strlen(lit);
    return a->len == n && memcmp(a->s, lit, n) == 0;
}

/* ---------------------------------------------------------------- output buffers ---- */

static void jb_reserve(jinja_ctx *c, jbuf *b, size_t n) {
    if (n > c->lim.max_output || b->len > c->lim.max_output - n)
        jfail(c, 0, "the template's output (or a string it made) is longer than %zu bytes", c->lim.max_output);
    jwork(c, n, 0);
    if (b->len + n <= b->cap) return;
    size_t cap = b->cap ? b->cap * 2 : 64;
    while (cap < b->len + n) cap *= 2;
    b->s = jgrow(c, b->s, b->len, cap);
    b->cap = cap;
}

void jb_put(jinja_ctx *c, jbuf *b, const char *s, size_t n) {
    if (n == 0) return;
    jb_reserve(c, b, n);
    memcpy(b->s + b->len, s, n);
    b->len += n;
}

void jb_puts(jinja_ctx *c, jbuf *b, const char *s) { jb_put(c, b, s, strlen(s)); }

/* Marks N bytes from START as message MSG's (tags arrive in order). */
void jb_tag(jinja_ctx *c, jbuf *b, size_t start, size_t n, uint32_t msg) {
    if (n == 0) return;
    if (b->n_tags) {
        jtag *last = &b->tags[b->n_tags - 1];
        if (last->msg == msg && last->start + last->len == start) {
            last->len += n;
            return;
        }
    }
    if (b->n_tags == b->cap_tags) {
        size_t cap = b->cap_tags ? b->cap_tags * 2 : 8;
        b->tags = jgrow(c, b->tags, b->n_tags * sizeof *b->tags, cap * sizeof *b->tags);
        b->cap_tags = cap;
    }
    b->tags[b->n_tags++] = (jtag){start, n, msg};
}

void jb_put_tagged(jinja_ctx *c, jbuf *b, const char *s, size_t n, uint32_t msg) {
    jb_put(c, b, s, n);
    jb_tag(c, b, b->len - n, n, msg);
}

void jb_put_sub(jinja_ctx *c, jbuf *b, const jstr *s, size_t off, size_t n) {
    if (n == 0) return;
    size_t base = b->len;
    jb_put(c, b, s->s + off, n);
    for (size_t i = 0; i < s->n_tags; i++) {
        size_t a = s->tags[i].start, e = a + s->tags[i].len;
        if (a >= off + n || e <= off) continue;
        if (a < off) a = off;
        if (e > off + n) e = off + n;
        jb_tag(c, b, base + (a - off), e - a, s->tags[i].msg);
    }
}

void jb_put_str(jinja_ctx *c, jbuf *b, const jstr *s) { jb_put_sub(c, b, s, 0, s->len); }

const jstr *jb_finish(jinja_ctx *c, jbuf *b) {
    if (b->len == 0) return &EMPTY;
    jstr *j = jalloc(c, sizeof *j);
    *j = (jstr){b->s, b->len, b->tags, b->n_tags};
    *b = (jbuf){0};
    return j;
}

/* ---------------------------------------------------------------- lists, dicts ---- */

jlist *jl_new(jinja_ctx *c, size_t cap) {
    jlist *l = jalloc(c, sizeof *l);
    *l = (jlist){cap ? jalloc(c, cap * sizeof(jv)) : NULL, 0, cap, false};
    return l;
}

void jl_push(jinja_ctx *c, jlist *l, jv v) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        l->v = jgrow(c, l->v, l->n * sizeof(jv), cap * sizeof(jv));
        l->cap = cap;
    }
    l->v[l->n++] = v;
}

jdict *jd_new(jinja_ctx *c) {
    jdict *d = jalloc(c, sizeof *d);
    *d = (jdict){0};
    return d;
}

jv *jd_find_str(jinja_ctx *c, const jdict *d, const char *key, size_t len) {
    jwork(c, 0, d->n);
    for (size_t i = 0; i < d->n; i++)
        if (d->k[i].t == JV_STR && d->k[i].u.s->len == len && memcmp(d->k[i].u.s->s, key, len) == 0)
            return &d->v[i];
    return NULL;
}

jv *jd_find(jinja_ctx *c, const jdict *d, jv key) {
    if (key.t == JV_STR) return jd_find_str(c, d, key.u.s->s, key.u.s->len);
    jwork(c, 0, d->n);
    for (size_t i = 0; i < d->n; i++)
        if (jv_equal(c, d->k[i], key)) return &d->v[i];
    return NULL;
}

void jd_set(jinja_ctx *c, jdict *d, jv key, jv val) {
    jv *old = jd_find(c, d, key);
    if (old) {
        *old = val;
        return;
    }
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 8;
        d->k = jgrow(c, d->k, d->n * sizeof(jv), cap * sizeof(jv));
        d->v = jgrow(c, d->v, d->n * sizeof(jv), cap * sizeof(jv));
        d->cap = cap;
    }
    d->k[d->n] = key;
    d->v[d->n++] = val;
}

/* ---------------------------------------------------------------- semantics ---- */

const char *jv_type_name(jv v) {
    switch (v.t) {
    case JV_UNDEF: return "Undefined";
    case JV_NONE: return "NoneType";
    case JV_BOOL: return "bool";
    case JV_INT: return "int";
    case JV_FLOAT: return "float";
    case JV_STR: return "str";
    case JV_LIST: return v.u.l->tuple ? "tuple" : "list";
    case JV_DICT: return "dict";
    case JV_NS: return "Namespace";
    case JV_MACRO: return "Macro";
    case JV_FUNC: return "function";
    case JV_METHOD: return "method";
    default: return "LoopContext";
    }
}

bool jv_truthy(jv v) {
    switch (v.t) {
    case JV_UNDEF: case JV_NONE: return false;
    case JV_BOOL: return v.u.b;
    case JV_INT: return v.u.i != 0;
    case JV_FLOAT: return v.u.f != 0;
    case JV_STR: return v.u.s->len > 0;
    case JV_LIST: return v.u.l->n > 0;
    case JV_DICT: return v.u.d->n > 0;
    default: return true;
    }
}

bool jv_is_str(jv v, const char *lit) { return v.t == JV_STR && js_eq(v.u.s, lit); }

void jv_need(jinja_ctx *c, int line, jv v) {
    if (v.t != JV_UNDEF) return;
    if (v.sub == JU_ATTR && v.u.undef) jfail(c, line, "undefined attribute '%s' used as a value", v.u.undef);
    if (v.u.undef) jfail(c, line, "'%s' is undefined", v.u.undef);
    jfail(c, line, "an undefined value was used");
}

static bool is_number(jv v) { return v.t == JV_INT || v.t == JV_FLOAT || v.t == JV_BOOL; }
static double as_double(jv v) {
    return v.t == JV_FLOAT ? v.u.f : v.t == JV_INT ? (double)v.u.i : v.u.b ? 1.0 : 0.0;
}

static bool equal(jinja_ctx *c, jv a, jv b);

/* == on nested values recurses: as deep as a value nests, bounded like everything else */
bool jv_equal(jinja_ctx *c, jv a, jv b) {
    if (a.t != JV_LIST && a.t != JV_DICT) return equal(c, a, b);
    if (++c->depth > c->lim.max_depth) jfail(c, 0, "a value nests deeper than %d levels", c->lim.max_depth);
    bool r = equal(c, a, b);
    c->depth--;
    return r;
}

static bool equal(jinja_ctx *c, jv a, jv b) {
    if (is_number(a) && is_number(b)) {
        if (a.t != JV_FLOAT && b.t != JV_FLOAT)
            return (a.t == JV_INT ? a.u.i : a.u.b) == (b.t == JV_INT ? b.u.i : b.u.b);
        return as_double(a) == as_double(b);
    }
    if (a.t != b.t) return false;
    switch (a.t) {
    case JV_UNDEF: case JV_NONE: return true;
    case JV_STR:
        jwork(c, a.u.s->len, 0);
        return a.u.s->len == b.u.s->len && memcmp(a.u.s->s, b.u.s->s, a.u.s->len) == 0;
    case JV_LIST:
        if (a.u.l->n != b.u.l->n || a.u.l->tuple != b.u.l->tuple) return false;
        jwork(c, 0, a.u.l->n);
        for (size_t i = 0; i < a.u.l->n; i++)
            if (!jv_equal(c, a.u.l->v[i], b.u.l->v[i])) return false;
        return true;
    case JV_DICT:
        if (a.u.d->n != b.u.d->n) return false;
        for (size_t i = 0; i < a.u.d->n; i++) {
            jv *o = jd_find(c, b.u.d, a.u.d->k[i]);
            if (!o || !jv_equal(c, a.u.d->v[i], *o)) return false;
        }
        return true;
    case JV_NS: return a.u.d == b.u.d;
    case JV_MACRO: return a.u.m == b.u.m;
    case JV_FUNC: return a.u.fn == b.u.fn;
    case JV_METHOD: return a.u.meth == b.u.meth;
    default: return a.u.loop == b.u.loop;
    }
}

int jv_compare(jinja_ctx *c, int line, jv a, jv b) {
    jv_need(c, line, a);
    jv_need(c, line, b);
    if (is_number(a) && is_number(b)) {
        if (a.t != JV_FLOAT && b.t != JV_FLOAT) {
            int64_t x = a.t == JV_INT ? a.u.i : a.u.b, y = b.t == JV_INT ? b.u.i : b.u.b;
            return x < y ? -1 : x > y;
        }
        double x = as_double(a), y = as_double(b);
        return x < y ? -1 : x > y;
    }
    if (a.t == JV_STR && b.t == JV_STR) { /* UTF-8 byte order is code point order */
        size_t n = a.u.s->len < b.u.s->len ? a.u.s->len : b.u.s->len;
        int r = n ? memcmp(a.u.s->s, b.u.s->s, n) : 0;
        if (r) return r < 0 ? -1 : 1;
        return a.u.s->len < b.u.s->len ? -1 : a.u.s->len > b.u.s->len;
    }
    if (a.t == JV_LIST && b.t == JV_LIST && a.u.l->tuple == b.u.l->tuple) {
        for (size_t i = 0; i < a.u.l->n && i < b.u.l->n; i++) {
            if (jv_equal(c, a.u.l->v[i], b.u.l->v[i])) continue;
            if (++c->depth > c->lim.max_depth) jfail(c, line, "a value nests deeper than %d levels", c->lim.max_depth);
            int r = jv_compare(c, line, a.u.l->v[i], b.u.l->v[i]);
            c->depth--;
            return r;
        }
        return a.u.l->n < b.u.l->n ? -1 : a.u.l->n > b.u.l->n;
    }
    jfail(c, line, "'<' not supported between instances of '%s' and '%s'", jv_type_name(a), jv_type_name(b));
}

/* ---------------------------------------------------------------- str() and repr() ---- */

void py_float_repr(double f, char out[40]) {
    if (isnan(f)) { strcpy(out, "nan"); return; }
    if (isinf(f)) { strcpy(out, f < 0 ? "-inf" : "inf"); return; }
    /* the shortest %e that reads back as F */
    char e[40];
    for (int prec = 0; prec < 17; prec++) {
        snprintf(e, sizeof e, "%.*e", prec, f);
        if (strtod(e, NULL) == f) break;
    }
    /* e = "-d.ddde+XX": digits and the decimal exponent */
    char digits[24];
    size_t nd = 0;
    const char *p = e;
    bool neg = *p == '-';
    if (neg) p++;
    for (; *p && *p != 'e'; p++)
        if (*p >= '0' && *p <= '9' && nd < sizeof digits - 1) digits[nd++] = *p;
    digits[nd] = '\0';
    int exp = atoi(p + 1);
    while (nd > 1 && digits[nd - 1] == '0') digits[--nd] = '\0';
    char *o = out;
    if (neg) *o++ = '-';
    if (exp >= -4 && exp < 16) { /* fixed notation, at least one digit after the point */
        if (exp < 0) {
            *o++ = '0';
            *o++ = '.';
            for (int k = -1; k > exp; k--) *o++ = '0';
            memcpy(o, digits, nd);
            o += nd;
        } else {
            for (int k = 0; k <= exp; k++) *o++ = (size_t)k < nd ? digits[k] : '0';
            *o++ = '.';
            if (nd > (size_t)exp + 1) {
                memcpy(o, digits + exp + 1, nd - (size_t)exp - 1);
                o += nd - (size_t)exp - 1;
            } else {
                *o++ = '0';
            }
        }
        *o = '\0';
    } else {
        *o++ = digits[0];
        if (nd > 1) {
            *o++ = '.';
            memcpy(o, digits + 1, nd - 1);
            o += nd - 1;
        }
        int ae = exp < 0 ? -exp : exp; /* at most 324 */
        *o++ = 'e';
        *o++ = exp < 0 ? '-' : '+';
        if (ae >= 100) *o++ = (char)('0' + ae / 100);
        *o++ = (char)('0' + ae / 10 % 10);
        *o++ = (char)('0' + ae % 10);
        *o = '\0';
    }
}

static void write_repr(jinja_ctx *c, jbuf *b, jv v, int depth, int64_t *tag);

/* Python's repr() of a string: quoted, with escapes for what does not print. */
static void write_str_repr(jinja_ctx *c, jbuf *b, const jstr *s, int64_t *tag) {
    if (s->n_tags && *tag < 0) *tag = s->tags[0].msg;
    bool has_single = memchr(s->s, '\'', s->len) != NULL, has_double = memchr(s->s, '"', s->len) != NULL;
    char q = has_single && !has_double ? '"' : '\'';
    jb_put(c, b, &q, 1);
    for (size_t i = 0; i < s->len;) {
        size_t next;
        uint32_t cp = u8_decode(s->s, s->len, i, &next);
        char esc[12];
        if (cp == '\\' || cp == (uint32_t)q) {
            esc[0] = '\\';
            esc[1] = (char)cp;
            jb_put(c, b, esc, 2);
        } else if (cp == '\n' || cp == '\r' || cp == '\t') {
            jb_puts(c, b, cp == '\n' ? "\\n" : cp == '\r' ? "\\r" : "\\t");
        } else if (cp < 0x20 || (cp >= 0x7F && cp < 0xA0)) {
            snprintf(esc, sizeof esc, "\\x%02x", (unsigned)cp);
            jb_puts(c, b, esc);
        } else if (cp >= 0xDC80 && cp <= 0xDCFF) {
            snprintf(esc, sizeof esc, "\\udc%02x", (unsigned)(cp & 0xFF));
            jb_puts(c, b, esc);
        } else {
            jb_put(c, b, s->s + i, next - i);
        }
        i = next;
    }
    jb_put(c, b, &q, 1);
}

static void write_scalar(jinja_ctx *c, jbuf *b, jv v) {
    char num[48];
    switch (v.t) {
    case JV_NONE: jb_puts(c, b, "None"); break;
    case JV_BOOL: jb_puts(c, b, v.u.b ? "True" : "False"); break;
    case JV_INT: snprintf(num, sizeof num, "%" PRId64, v.u.i); jb_puts(c, b, num); break;
    case JV_FLOAT: py_float_repr(v.u.f, num); jb_puts(c, b, num); break;
    case JV_MACRO: jb_puts(c, b, "<Macro>"); break;
    case JV_FUNC: jb_puts(c, b, "<built-in function "); jb_puts(c, b, jfunc_name(v.u.fn)); jb_puts(c, b, ">"); break;
    case JV_METHOD: jb_puts(c, b, "<built-in method>"); break;
    case JV_LOOP: jb_puts(c, b, "<LoopContext>"); break;
    default: break;
    }
}

static void write_repr(jinja_ctx *c, jbuf *b, jv v, int depth, int64_t *tag) {
    if (depth > c->lim.max_depth) jfail(c, 0, "a value nests deeper than %d levels", c->lim.max_depth);
    switch (v.t) {
    case JV_UNDEF: break;
    case JV_STR: write_str_repr(c, b, v.u.s, tag); break;
    case JV_LIST: {
        const jlist *l = v.u.l;
        jb_puts(c, b, l->tuple ? "(" : "[");
        for (size_t i = 0; i < l->n; i++) {
            if (i) jb_puts(c, b, ", ");
            write_repr(c, b, l->v[i], depth + 1, tag);
        }
        jb_puts(c, b, l->tuple ? (l->n == 1 ? ",)" : ")") : "]");
        break;
    }
    case JV_DICT: case JV_NS: {
        const jdict *d = v.u.d;
        jb_puts(c, b, v.t == JV_NS ? "<Namespace {" : "{");
        for (size_t i = 0; i < d->n; i++) {
            if (i) jb_puts(c, b, ", ");
            write_repr(c, b, d->k[i], depth + 1, tag);
            jb_puts(c, b, ": ");
            write_repr(c, b, d->v[i], depth + 1, tag);
        }
        jb_puts(c, b, v.t == JV_NS ? "}>" : "}");
        break;
    }
    default: write_scalar(c, b, v); break;
    }
}

/* Containers are written whole, and tagged whole when any string in them was. */
static void write_container(jinja_ctx *c, jbuf *b, jv v) {
    jbuf tmp = {0};
    int64_t tag = -1;
    write_repr(c, &tmp, v, 0, &tag);
    if (tag >= 0) jb_put_tagged(c, b, tmp.s, tmp.len, (uint32_t)tag);
    else jb_put(c, b, tmp.s, tmp.len);
}

void jv_write(jinja_ctx *c, jbuf *b, jv v) {
    if (v.t == JV_STR) jb_put_str(c, b, v.u.s);
    else if (v.t == JV_LIST || v.t == JV_DICT || v.t == JV_NS) write_container(c, b, v);
    else write_scalar(c, b, v);
}

void jv_write_repr(jinja_ctx *c, jbuf *b, jv v) {
    if (v.t == JV_STR || v.t == JV_LIST || v.t == JV_DICT || v.t == JV_NS) write_container(c, b, v);
    else write_scalar(c, b, v);
}

const jstr *jv_to_str(jinja_ctx *c, jv v) {
    if (v.t == JV_STR) return v.u.s;
    jbuf b = {0};
    jv_write(c, &b, v);
    return jb_finish(c, &b);
}

/* ---------------------------------------------------------------- JSON out ---- */

/* A JSON string; the escaped form of tagged bytes keeps their tag. */
static void json_string(jinja_ctx *c, jbuf *b, const jstr *s, bool ascii) {
    jb_put(c, b, "\"", 1);
    size_t t = 0;
    for (size_t i = 0; i < s->len;) {
        /* the run up to the next tag boundary */
        size_t end = s->len;
        int64_t msg = -1;
        while (t < s->n_tags && s->tags[t].start + s->tags[t].len <= i) t++;
        if (t < s->n_tags && s->tags[t].start <= i) {
            end = s->tags[t].start + s->tags[t].len;
            msg = s->tags[t].msg;
        } else if (t < s->n_tags) {
            end = s->tags[t].start;
        }
        size_t before = b->len;
        while (i < end) {
            size_t next;
            uint32_t cp = u8_decode(s->s, s->len, i, &next);
            char esc[16];
            if (cp == '"' || cp == '\\') {
                esc[0] = '\\';
                esc[1] = (char)cp;
                jb_put(c, b, esc, 2);
            } else if (cp == '\n' || cp == '\r' || cp == '\t' || cp == '\b' || cp == '\f') {
                jb_puts(c, b, cp == '\n' ? "\\n" : cp == '\r' ? "\\r" : cp == '\t' ? "\\t" : cp == '\b' ? "\\b" : "\\f");
            } else if (cp < 0x20 || (ascii && cp >= 0x7F && !(cp >= 0xDC80 && cp <= 0xDCFF))) {
                if (cp >= 0x10000) {
                    uint32_t v = cp - 0x10000;
                    snprintf(esc, sizeof esc, "\\u%04x\\u%04x", 0xD800 + (v >> 10), 0xDC00 + (v & 0x3FF));
                } else {
                    snprintf(esc, sizeof esc, "\\u%04x", (unsigned)cp);
                }
                jb_puts(c, b, esc);
            } else {
                jb_put(c, b, s->s + i, next - i);
            }
            i = next;
        }
        if (msg >= 0) jb_tag(c, b, before, b->len - before, (uint32_t)msg);
    }
    jb_put(c, b, "\"", 1);
}

static void json_indent(jinja_ctx *c, jbuf *b, const jjson_opts *o, int level) {
    jb_put(c, b, "\n", 1);
    for (int i = 0; i < o->indent * level; i++) jb_put(c, b, " ", 1);
}

static void json_sep(jinja_ctx *c, jbuf *b, const jstr *sep, const char *dflt) {
    if (sep) jb_put(c, b, sep->s, sep->len);
    else jb_puts(c, b, dflt);
}

static void json_value(jinja_ctx *c, jbuf *b, jv v, const jjson_opts *o, int level, int line);

/* A dict key as json.dumps writes it: strings as they are, numbers and constants as text. */
static void json_key(jinja_ctx *c, jbuf *b, jv k, const jjson_opts *o, int line) {
    if (k.t == JV_STR) {
        json_string(c, b, k.u.s, o->ensure_ascii);
        return;
    }
    jbuf tmp = {0};
    if (k.t == JV_NONE) jb_puts(c, &tmp, "null");
    else if (k.t == JV_BOOL) jb_puts(c, &tmp, k.u.b ? "true" : "false");
    else if (k.t == JV_INT || k.t == JV_FLOAT) json_value(c, &tmp, k, o, 0, line);
    else jfail(c, line, "keys must be str, int, float, bool or None, not %s", jv_type_name(k));
    json_string(c, b, jb_finish(c, &tmp), false);
}

static int cmp_keys(jinja_ctx *c, int line, const jdict *d, size_t a, size_t b) {
    return jv_compare(c, line, d->k[a], d->k[b]);
}

static void json_value(jinja_ctx *c, jbuf *b, jv v, const jjson_opts *o, int level, int line) {
    if (level > c->lim.max_depth) jfail(c, line, "a value nests deeper than %d levels", c->lim.max_depth);
    char num[48];
    switch (v.t) {
    case JV_NONE: jb_puts(c, b, "null"); return;
    case JV_BOOL: jb_puts(c, b, v.u.b ? "true" : "false"); return;
    case JV_INT: snprintf(num, sizeof num, "%" PRId64, v.u.i); jb_puts(c, b, num); return;
    case JV_FLOAT:
        if (isnan(v.u.f)) jb_puts(c, b, "NaN");
        else if (isinf(v.u.f)) jb_puts(c, b, v.u.f < 0 ? "-Infinity" : "Infinity");
        else { py_float_repr(v.u.f, num); jb_puts(c, b, num); }
        return;
    case JV_STR: json_string(c, b, v.u.s, o->ensure_ascii); return;
    case JV_LIST: {
        const jlist *l = v.u.l;
        if (l->n == 0) { jb_puts(c, b, "[]"); return; }
        jb_puts(c, b, "[");
        for (size_t i = 0; i < l->n; i++) {
            if (i) json_sep(c, b, o->item_sep, o->indent >= 0 ? "," : ", ");
            if (o->indent >= 0) json_indent(c, b, o, level + 1);
            json_value(c, b, l->v[i], o, level + 1, line);
        }
        if (o->indent >= 0) json_indent(c, b, o, level);
        jb_puts(c, b, "]");
        return;
    }
    case JV_DICT: {
        const jdict *d = v.u.d;
        if (d->n == 0) { jb_puts(c, b, "{}"); return; }
        size_t *order = jalloc(c, d->n * sizeof *order);
        for (size_t i = 0; i < d->n; i++) order[i] = i;
        for (size_t i = 1; o->sort_keys && i < d->n; i++) /* insertion sort: stable, dicts are small */
            for (size_t k = i; k > 0 && cmp_keys(c, line, d, order[k - 1], order[k]) > 0; k--) {
                size_t t = order[k];
                order[k] = order[k - 1];
                order[k - 1] = t;
            }
        jb_puts(c, b, "{");
        for (size_t i = 0; i < d->n; i++) {
            jstep(c, line);
            if (i) json_sep(c, b, o->item_sep, o->indent >= 0 ? "," : ", ");
            if (o->indent >= 0) json_indent(c, b, o, level + 1);
            json_key(c, b, d->k[order[i]], o, line);
            json_sep(c, b, o->key_sep, ": ");
            json_value(c, b, d->v[order[i]], o, level + 1, line);
        }
        if (o->indent >= 0) json_indent(c, b, o, level);
        jb_puts(c, b, "}");
        return;
    }
    default:
        jfail(c, line, "Object of type %s is not JSON serializable", jv_type_name(v));
    }
}

void jv_write_json(jinja_ctx *c, jbuf *b, jv v, const jjson_opts *o, int line) {
    json_value(c, b, v, o, 0, line);
}

/* ---------------------------------------------------------------- JSON in ---- */

typedef struct jp {
    jinja_ctx *c;
    const char *s;
    size_t len, i;
    int depth;
} jp;

_Noreturn static void jp_fail(jp *p, const char *what) {
    jfail(p->c, 0, "malformed JSON at byte %zu: %s", p->i, what);
}

static void jp_space(jp *p) {
    while (p->i < p->len && (p->s[p->i] == ' ' || p->s[p->i] == '\t' || p->s[p->i] == '\n' || p->s[p->i] == '\r'))
        p->i++;
}

static bool jp_word(jp *p, const char *w) {
    size_t n = strlen(w);
    if (p->len - p->i < n || memcmp(p->s + p->i, w, n) != 0) return false;
    p->i += n;
    return true;
}

static int hex4(jp *p) {
    if (p->len - p->i < 4) jp_fail(p, "short \\u escape");
    int v = 0;
    for (int k = 0; k < 4; k++) {
        char ch = p->s[p->i++];
        int d = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
              : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;
        if (d < 0) jp_fail(p, "bad \\u escape");
        v = v * 16 + d;
    }
    return v;
}

static const jstr *jp_string(jp *p) {
    p->i++; /* the opening quote */
    jbuf b = {0};
    for (;;) {
        if (p->i >= p->len) jp_fail(p, "unterminated string");
        char ch = p->s[p->i];
        if (ch == '"') {
            p->i++;
            return jb_finish(p->c, &b);
        }
        if ((unsigned char)ch < 0x20) jp_fail(p, "control character in a string");
        if (ch != '\\') {
            size_t start = p->i;
            while (p->i < p->len && p->s[p->i] != '"' && p->s[p->i] != '\\' && (unsigned char)p->s[p->i] >= 0x20)
                p->i++;
            jb_put(p->c, &b, p->s + start, p->i - start);
            continue;
        }
        if (++p->i >= p->len) jp_fail(p, "unterminated escape");
        char e = p->s[p->i++];
        const char *simple = strchr("\"\\/bfnrt", e);
        if (simple && e) {
            static const char OUT[] = "\"\\/\b\f\n\r\t";
            jb_put(p->c, &b, &OUT[simple - "\"\\/bfnrt"], 1);
        } else if (e == 'u') {
            uint32_t cp = (uint32_t)hex4(p);
            if (cp >= 0xD800 && cp < 0xDC00 && p->len - p->i >= 6 && p->s[p->i] == '\\' && p->s[p->i + 1] == 'u') {
                size_t save = p->i;
                p->i += 2;
                uint32_t lo = (uint32_t)hex4(p);
                if (lo >= 0xDC00 && lo < 0xE000) cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                else p->i = save;
            }
            if (cp >= 0xDC80 && cp <= 0xDCFF) cp = 0xFFFD; /* not a stray byte */
            u8_encode(p->c, &b, cp);
        } else {
            jp_fail(p, "bad escape");
        }
    }
}

static jv jp_number(jp *p) {
    size_t start = p->i;
    bool frac = false;
    if (p->s[p->i] == '-') p->i++;
    if (p->i >= p->len || p->s[p->i] < '0' || p->s[p->i] > '9') jp_fail(p, "bad number");
    if (p->s[p->i] == '0') p->i++;
    else while (p->i < p->len && p->s[p->i] >= '0' && p->s[p->i] <= '9') p->i++;
    if (p->i < p->len && p->s[p->i] == '.') {
        frac = true;
        p->i++;
        if (p->i >= p->len || p->s[p->i] < '0' || p->s[p->i] > '9') jp_fail(p, "bad number");
        while (p->i < p->len && p->s[p->i] >= '0' && p->s[p->i] <= '9') p->i++;
    }
    if (p->i < p->len && (p->s[p->i] == 'e' || p->s[p->i] == 'E')) {
        frac = true;
        p->i++;
        if (p->i < p->len && (p->s[p->i] == '+' || p->s[p->i] == '-')) p->i++;
        if (p->i >= p->len || p->s[p->i] < '0' || p->s[p->i] > '9') jp_fail(p, "bad number");
        while (p->i < p->len && p->s[p->i] >= '0' && p->s[p->i] <= '9') p->i++;
    }
    char buf[64];
    size_t n = p->i - start;
    if (n >= sizeof buf) n = sizeof buf - 1; /* an absurdly long number: its first digits */
    memcpy(buf, p->s + start, n);
    buf[n] = '\0';
    if (!frac) {
        errno = 0;
        long long v = strtoll(buf, NULL, 10);
        if (errno == 0) return jv_int(v);
    }
    return jv_float(strtod(buf, NULL));
}

static jv jp_value(jp *p) {
    if (++p->depth > p->c->lim.max_depth) jp_fail(p, "nested too deeply");
    jp_space(p);
    if (p->i >= p->len) jp_fail(p, "unexpected end");
    jv v;
    char ch = p->s[p->i];
    if (ch == '"') {
        v = jv_str(jp_string(p));
    } else if (ch == '[') {
        p->i++;
        jlist *l = jl_new(p->c, 0);
        jp_space(p);
        if (p->i < p->len && p->s[p->i] == ']') p->i++;
        else for (;;) {
            jl_push(p->c, l, jp_value(p));
            jp_space(p);
            if (p->i < p->len && p->s[p->i] == ',') { p->i++; continue; }
            if (p->i < p->len && p->s[p->i] == ']') { p->i++; break; }
            jp_fail(p, "expected ',' or ']'");
        }
        v = jv_list(l);
    } else if (ch == '{') {
        p->i++;
        jdict *d = jd_new(p->c);
        jp_space(p);
        if (p->i < p->len && p->s[p->i] == '}') p->i++;
        else for (;;) {
            jp_space(p);
            if (p->i >= p->len || p->s[p->i] != '"') jp_fail(p, "expected a key");
            jv key = jv_str(jp_string(p));
            jp_space(p);
            if (p->i >= p->len || p->s[p->i] != ':') jp_fail(p, "expected ':'");
            p->i++;
            jd_set(p->c, d, key, jp_value(p));
            jp_space(p);
            if (p->i < p->len && p->s[p->i] == ',') { p->i++; continue; }
            if (p->i < p->len && p->s[p->i] == '}') { p->i++; break; }
            jp_fail(p, "expected ',' or '}'");
        }
        v = jv_dict(d);
    } else if (jp_word(p, "true")) {
        v = jv_bool(true);
    } else if (jp_word(p, "false")) {
        v = jv_bool(false);
    } else if (jp_word(p, "null")) {
        v = jv_none();
    } else if (ch == '-' || (ch >= '0' && ch <= '9')) {
        v = jp_number(p);
    } else {
        jp_fail(p, "unexpected character");
    }
    p->depth--;
    return v;
}

jv jjson_parse(jinja_ctx *c, const char *text, size_t len) {
    jp p = {c, text, len, 0, 0};
    jv v = jp_value(&p);
    jp_space(&p);
    if (p.i != p.len) jp_fail(&p, "text after the value");
    return v;
}
