/* jinja_builtins.c — the filters, tests, methods and global functions of jinja.h's list,
 * with the behaviour of jinja2 3.1 and Python 3 (and Hugging Face's tojson, which is
 * json.dumps with ensure_ascii=False: its first positional argument is ensure_ascii).
 *
 * String operations keep message tags where bytes are copied (slices, strip, split,
 * replace, join); case mapping maps code point by code point and keeps them too. */
#include "jinja_impl.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

/* ---------------------------------------------------------------- names ---- */

typedef enum {
    F_ABS, F_ATTR, F_CAPITALIZE, F_COUNT, F_D, F_DEFAULT, F_DICTSORT, F_E, F_ESCAPE, F_FIRST,
    F_FLOAT, F_INDENT, F_INT, F_ITEMS, F_JOIN, F_LAST, F_LENGTH, F_LIST, F_LOWER, F_MAP, F_MAX,
    F_MIN, F_REJECT, F_REJECTATTR, F_REPLACE, F_REVERSE, F_ROUND, F_SAFE, F_SELECT,
    F_SELECTATTR, F_SORT, F_STRING, F_SUM, F_TITLE, F_TOJSON, F_TRIM, F_UNIQUE, F_UPPER,
    F_WORDCOUNT, F__COUNT
} filter_id;

static const char *const FILTERS[F__COUNT] = {
    "abs", "attr", "capitalize", "count", "d", "default", "dictsort", "e", "escape", "first",
    "float", "indent", "int", "items", "join", "last", "length", "list", "lower", "map", "max",
    "min", "reject", "rejectattr", "replace", "reverse", "round", "safe", "select",
    "selectattr", "sort", "string", "sum", "title", "tojson", "trim", "unique", "upper",
    "wordcount"};

typedef enum {
    TS_BOOLEAN, TS_CALLABLE, TS_DEFINED, TS_DIVISIBLEBY, TS_EQ, TS_EQUALTO, TS_EQ_OP, TS_EVEN, TS_FALSE,
    TS_FLOAT, TS_GE, TS_GE_OP, TS_GREATERTHAN, TS_GT, TS_GT_OP, TS_IN, TS_INTEGER, TS_ITERABLE, TS_LE,
    TS_LE_OP, TS_LESSTHAN, TS_LOWER, TS_LT, TS_LT_OP, TS_MAPPING, TS_NE, TS_NE_OP, TS_NONE, TS_NUMBER,
    TS_ODD, TS_SAMEAS, TS_SEQUENCE, TS_STRING, TS_TRUE, TS_UNDEFINED, TS_UPPER, TS__COUNT
} test_id;

static const char *const TESTS[TS__COUNT] = {
    "boolean", "callable", "defined", "divisibleby", "eq", "equalto", "==", "even", "false",
    "float", "ge", ">=", "greaterthan", "gt", ">", "in", "integer", "iterable", "le",
    "<=", "lessthan", "lower", "lt", "<", "mapping", "ne", "!=", "none", "number",
    "odd", "sameas", "sequence", "string", "true", "undefined", "upper"};

typedef enum {
    M_CAPITALIZE, M_COUNT, M_ENDSWITH, M_FIND, M_ISALNUM, M_ISALPHA, M_ISDIGIT, M_ISLOWER,
    M_ISSPACE, M_ISUPPER, M_JOIN, M_LOWER, M_LSTRIP, M_REPLACE, M_RFIND, M_RSPLIT, M_RSTRIP,
    M_SPLIT, M_STARTSWITH, M_STRIP, M_TITLE, M_UPPER, M__STR_END,
    M_GET = M__STR_END, M_ITEMS, M_KEYS, M_VALUES, M__DICT_END,
    M_CYCLE = M__DICT_END, M__COUNT
} method_id;

static const char *const METHODS[M__COUNT] = {
    "capitalize", "count", "endswith", "find", "isalnum", "isalpha", "isdigit", "islower",
    "isspace", "isupper", "join", "lower", "lstrip", "replace", "rfind", "rsplit", "rstrip",
    "split", "startswith", "strip", "title", "upper",
    "get", "items", "keys", "values",
    "cycle"};

typedef enum { FN_DICT, FN_NAMESPACE, FN_RAISE, FN_RANGE, FN_STRFTIME, FN__COUNT } func_id;
static const char *const FUNCS[FN__COUNT] = {"dict", "namespace", "raise_exception", "range", "strftime_now"};

static int find_name(const char *const *names, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0) return i;
    return -1;
}

int jfilter_id(const char *name) { return find_name(FILTERS, F__COUNT, name); }
int jtest_id(const char *name) { return find_name(TESTS, TS__COUNT, name); }
int jfunc_id(const char *name) { return find_name(FUNCS, FN__COUNT, name); }
const char *jfunc_name(int id) { return id >= 0 && id < FN__COUNT ? FUNCS[id] : NULL; }

/* ---------------------------------------------------------------- arguments ---- */

/* Argument POS (by position) or NAME (by keyword); NULL when not given. */
static const jv *arg(const jargs *a, size_t pos, const char *name) {
    size_t k = 0;
    for (size_t i = 0; i < a->n; i++) {
        if (a->kw && a->kw[i]) {
            if (name && strcmp(a->kw[i], name) == 0) return &a->v[i];
        } else if (k++ == pos) {
            return &a->v[i];
        }
    }
    return NULL;
}

static size_t n_positional(const jargs *a) {
    size_t k = 0;
    for (size_t i = 0; i < a->n; i++) k += !(a->kw && a->kw[i]);
    return k;
}

static void at_most(jinja_ctx *c, const jargs *a, size_t n, const char *what) {
    if (n_positional(a) > n) jfail(c, a->line, "%s takes at most %zu argument%s", what, n, n == 1 ? "" : "s");
}

static const jstr *arg_str(jinja_ctx *c, const jargs *a, size_t pos, const char *name, const char *what) {
    const jv *v = arg(a, pos, name);
    if (!v || v->t == JV_NONE) return NULL;
    if (v->t != JV_STR) jfail(c, a->line, "%s: '%s' must be a string, not %s", what, name, jv_type_name(*v));
    return v->u.s;
}

static int64_t arg_int(jinja_ctx *c, const jargs *a, size_t pos, const char *name, int64_t dflt, const char *what) {
    const jv *v = arg(a, pos, name);
    if (!v || v->t == JV_NONE) return dflt;
    if (v->t != JV_INT && v->t != JV_BOOL) jfail(c, a->line, "%s: '%s' must be an integer, not %s", what, name, jv_type_name(*v));
    return v->t == JV_INT ? v->u.i : v->u.b;
}

static bool arg_bool(const jargs *a, size_t pos, const char *name, bool dflt) {
    const jv *v = arg(a, pos, name);
    return v ? jv_truthy(*v) : dflt;
}

/* The arguments from position FROM on (for the test of select() or the filter of map()). */
static jargs args_from(const jargs *a, size_t from) {
    size_t k = 0, i = 0;
    for (; i < a->n && k < from; i++) k += !(a->kw && a->kw[i]);
    return (jargs){a->v + i, a->kw ? a->kw + i : NULL, a->n - i, a->line};
}

static const jstr *need_str(jinja_ctx *c, int line, jv v, const char *what) {
    if (v.t != JV_STR) jfail(c, line, "%s needs a string, not %s", what, jv_type_name(v));
    return v.u.s;
}

/* ---------------------------------------------------------------- strings ---- */

/* CASE_TITLE is str.title() (title case after any uncased character); CASE_WORDS is
 * jinja2's title filter (upper case after "-", whitespace or an opening bracket). */
typedef enum { CASE_UPPER, CASE_LOWER, CASE_TITLE, CASE_WORDS, CASE_CAPITALIZE } case_mode;

static bool is_cased(uint32_t cp) {
    if (cp >= 0xD800 && cp <= 0xDFFF) return false;
    utf8proc_category_t cat = utf8proc_category((utf8proc_int32_t)cp);
    return cat == UTF8PROC_CATEGORY_LU || cat == UTF8PROC_CATEGORY_LL || cat == UTF8PROC_CATEGORY_LT;
}

/* Case mapping, code point by code point; tags follow the code points. */
static const jstr *map_case(jinja_ctx *c, const jstr *s, case_mode mode) {
    jbuf b = {0};
    bool prev_cased = false, word_start = true;
    size_t t = 0, cp_index = 0;
    for (size_t i = 0; i < s->len; cp_index++) {
        size_t next;
        uint32_t cp = u8_decode(s->s, s->len, i, &next), out = cp;
        if (cp < 0xD800 || cp > 0xDFFF) {
            utf8proc_int32_t x = (utf8proc_int32_t)cp;
            switch (mode) {
            case CASE_UPPER: out = (uint32_t)utf8proc_toupper(x); break;
            case CASE_LOWER: out = (uint32_t)utf8proc_tolower(x); break;
            case CASE_TITLE:
                out = (uint32_t)(prev_cased ? utf8proc_tolower(x) : utf8proc_totitle(x));
                prev_cased = is_cased(cp);
                break;
            case CASE_WORDS: {
                bool sep = cp == '-' || cp == '(' || cp == '{' || cp == '[' || cp == '<' || py_isspace(cp);
                out = (uint32_t)(sep ? x : word_start ? utf8proc_toupper(x) : utf8proc_tolower(x));
                word_start = sep;
                break;
            }
            case CASE_CAPITALIZE: out = (uint32_t)(cp_index == 0 ? utf8proc_totitle(x) : utf8proc_tolower(x)); break;
            }
        }
        while (t < s->n_tags && s->tags[t].start + s->tags[t].len <= i) t++;
        size_t before = b.len;
        u8_encode(c, &b, out);
        if (t < s->n_tags && s->tags[t].start <= i) jb_tag(c, &b, before, b.len - before, s->tags[t].msg);
        i = next;
    }
    return jb_finish(c, &b);
}

/* The code points of CHARS (for strip(chars)); NULL: whitespace. */
static bool in_chars(const jstr *chars, uint32_t cp) {
    if (!chars) return py_isspace(cp);
    for (size_t i = 0; i < chars->len;) {
        size_t next;
        if (u8_decode(chars->s, chars->len, i, &next) == cp) return true;
        i = next;
    }
    return false;
}

static const jstr *strip(jinja_ctx *c, const jstr *s, const jstr *chars, bool left, bool right) {
    jwork(c, s->len * (chars ? chars->len + 1 : 1), 0);
    size_t a = 0, b = s->len;
    if (left) {
        while (a < b) {
            size_t next;
            if (!in_chars(chars, u8_decode(s->s, s->len, a, &next))) break;
            a = next;
        }
    }
    if (right) {
        while (b > a) {
            size_t k = b - 1; /* the start of the last code point */
            while (k > a && ((unsigned char)s->s[k] & 0xC0) == 0x80 && b - k < 4) k--;
            size_t next;
            uint32_t cp = u8_decode(s->s, s->len, k, &next);
            if (next != b) k = b - 1, cp = u8_decode(s->s, s->len, k, &next); /* a stray byte */
            if (!in_chars(chars, cp)) break;
            b = k;
        }
    }
    return js_sub(c, s, a, b - a);
}

static const char *find_bytes(jinja_ctx *c, const char *h, size_t hn, const char *n, size_t nn) {
    return jfind(c, h, hn, n, nn, false);
}

static const char *rfind_bytes(jinja_ctx *c, const char *h, size_t hn, const char *n, size_t nn) {
    return jfind(c, h, hn, n, nn, true);
}

/* str.split / str.rsplit. SEP NULL: runs of whitespace. MAX < 0: no limit. */
static jv split(jinja_ctx *c, int line, const jstr *s, const jstr *sep, int64_t max, bool from_right) {
    jlist *out = jl_new(c, 0);
    if (sep && sep->len == 0) jfail(c, line, "empty separator");
    if (sep) {
        if (!from_right) {
            size_t at = 0;
            for (int64_t k = 0; max < 0 || k < max; k++) {
                const char *hit = find_bytes(c, s->s + at, s->len - at, sep->s, sep->len);
                if (!hit) break;
                size_t pos = (size_t)(hit - s->s);
                jstep(c, line);
                jl_push(c, out, jv_str(js_sub(c, s, at, pos - at)));
                at = pos + sep->len;
            }
            jl_push(c, out, jv_str(js_sub(c, s, at, s->len - at)));
            return jv_list(out);
        }
        size_t end = s->len;
        jlist *rev = jl_new(c, 0);
        for (int64_t k = 0; max < 0 || k < max; k++) {
            const char *hit = rfind_bytes(c, s->s, end, sep->s, sep->len);
            if (!hit) break;
            size_t pos = (size_t)(hit - s->s);
            jstep(c, line);
            jl_push(c, rev, jv_str(js_sub(c, s, pos + sep->len, end - pos - sep->len)));
            end = pos;
        }
        jl_push(c, rev, jv_str(js_sub(c, s, 0, end)));
        for (size_t i = rev->n; i-- > 0;) jl_push(c, out, rev->v[i]);
        return jv_list(out);
    }
    /* whitespace: words; with a limit, the rest is kept as it is (from_right: mirrored) */
    size_t n = s->len, k = 0;
    jwork(c, n, 0);
    for (size_t i = 0; i < n;) { /* count the words first */
        size_t next;
        if (py_isspace(u8_decode(s->s, n, i, &next))) { i = next; continue; }
        k++;
        while (i < n && !py_isspace(u8_decode(s->s, n, i, &next))) i = next;
    }
    bool limited = max >= 0 && (size_t)max < k;
    size_t first = limited && from_right ? k - (size_t)max : 0; /* rsplit: words before it are one */
    size_t w = 0;
    for (size_t i = 0; i < n;) {
        size_t next;
        if (py_isspace(u8_decode(s->s, n, i, &next))) { i = next; continue; }
        size_t start = i;
        while (i < n && !py_isspace(u8_decode(s->s, n, i, &next))) i = next;
        if (limited && !from_right && w == (size_t)max) { /* split: the rest from here */
            jl_push(c, out, jv_str(js_sub(c, s, start, n - start)));
            break;
        }
        if (limited && from_right && w + 1 == first) /* rsplit: everything up to here */
            jl_push(c, out, jv_str(js_sub(c, s, 0, i)));
        else if (!limited || !from_right || w >= first)
            jl_push(c, out, jv_str(js_sub(c, s, start, i - start)));
        w++;
    }
    return jv_list(out);
}

static const jstr *replace(jinja_ctx *c, int line, const jstr *s, const jstr *old, const jstr *new, int64_t count) {
    jbuf b = {0};
    size_t at = 0;
    int64_t done = 0;
    if (old->len == 0) { /* between every code point, and at both ends */
        for (size_t i = 0; i <= s->len && (count < 0 || done < count); done++) {
            jstep(c, line);
            jb_put_str(c, &b, new);
            if (i == s->len) { at = i; break; }
            size_t next = u8_next(s->s, s->len, i);
            jb_put_sub(c, &b, s, i, next - i);
            at = i = next;
        }
        jb_put_sub(c, &b, s, at, s->len - at);
        return jb_finish(c, &b);
    }
    while (count < 0 || done < count) {
        const char *hit = find_bytes(c, s->s + at, s->len - at, old->s, old->len);
        if (!hit) break;
        size_t pos = (size_t)(hit - s->s);
        jstep(c, line);
        jb_put_sub(c, &b, s, at, pos - at);
        jb_put_str(c, &b, new);
        at = pos + old->len;
        done++;
    }
    jb_put_sub(c, &b, s, at, s->len - at);
    return jb_finish(c, &b);
}

static jv join(jinja_ctx *c, int line, jv items, const jstr *sep, const jstr *attribute, bool strict) {
    jlist *l = jiterate(c, line, items);
    jbuf b = {0};
    for (size_t i = 0; i < l->n; i++) {
        jstep(c, line);
        if (i && sep) jb_put_str(c, &b, sep);
        jv v = l->v[i];
        if (attribute) {
            char *name = jalloc(c, attribute->len + 1);
            memcpy(name, attribute->s, attribute->len);
            name[attribute->len] = '\0';
            v = jgetattr(c, line, v, name);
        }
        if (strict && v.t != JV_STR)
            jfail(c, line, "sequence item %zu: expected str instance, %s found", i, jv_type_name(v));
        jv_write(c, &b, v);
    }
    return jv_str(jb_finish(c, &b));
}

/* Python's find/rfind/count on code points. */
static int64_t cp_index_of(jinja_ctx *c, const jstr *s, const char *at) {
    return at ? (int64_t)u8_count(c, s->s, (size_t)(at - s->s)) : -1;
}

static int64_t count_sub(jinja_ctx *c, const jstr *s, const jstr *sub) {
    if (sub->len == 0) return (int64_t)u8_count(c, s->s, s->len) + 1;
    int64_t n = 0;
    for (size_t at = 0;;) {
        const char *hit = find_bytes(c, s->s + at, s->len - at, sub->s, sub->len);
        if (!hit) return n;
        n++;
        at = (size_t)(hit - s->s) + sub->len;
    }
}

typedef bool (*cp_pred)(uint32_t);
static bool is_digit_cp(uint32_t cp) { return cp < 0xD800 ? utf8proc_category((utf8proc_int32_t)cp) == UTF8PROC_CATEGORY_ND : cp > 0xDFFF && utf8proc_category((utf8proc_int32_t)cp) == UTF8PROC_CATEGORY_ND; }
static bool is_alpha_cp(uint32_t cp) {
    if (cp >= 0xD800 && cp <= 0xDFFF) return false;
    utf8proc_category_t k = utf8proc_category((utf8proc_int32_t)cp);
    return k >= UTF8PROC_CATEGORY_LU && k <= UTF8PROC_CATEGORY_LO;
}
static bool is_alnum_cp(uint32_t cp) { return is_alpha_cp(cp) || is_digit_cp(cp); }

static bool all_cps(const jstr *s, cp_pred pred) {
    if (s->len == 0) return false;
    for (size_t i = 0; i < s->len;) {
        size_t next;
        if (!pred(u8_decode(s->s, s->len, i, &next))) return false;
        i = next;
    }
    return true;
}

/* islower / isupper: at least one cased character, and none of the other case. */
static bool cased_as(const jstr *s, bool lower) {
    bool any = false;
    for (size_t i = 0; i < s->len;) {
        size_t next;
        uint32_t cp = u8_decode(s->s, s->len, i, &next);
        i = next;
        if (!is_cased(cp)) continue;
        utf8proc_category_t k = utf8proc_category((utf8proc_int32_t)cp);
        if (lower ? k != UTF8PROC_CATEGORY_LL : k != UTF8PROC_CATEGORY_LU) return false;
        any = true;
    }
    return any;
}

/* startswith / endswith with a string or a tuple of strings */
static bool affix(jinja_ctx *c, int line, const jstr *s, jv what, bool end) {
    if (what.t == JV_LIST) {
        for (size_t i = 0; i < what.u.l->n; i++)
            if (affix(c, line, s, what.u.l->v[i], end)) return true;
        return false;
    }
    const jstr *p = need_str(c, line, what, end ? "endswith" : "startswith");
    if (p->len > s->len) return false;
    return memcmp(s->s + (end ? s->len - p->len : 0), p->s, p->len) == 0;
}

/* Python's "FORMAT" % ARGS: %s %r %d %i %f %e %g %x %o %c %%, with flags, width,
 * precision and %(name)s keys. */
static void pad_to(jinja_ctx *c, jbuf *b, size_t have, int64_t width) {
    for (int64_t i = (int64_t)have; i < width; i++) jb_put(c, b, " ", 1);
}

jv jformat_percent(jinja_ctx *c, int line, const jstr *fmt, jv args) {
    bool tuple = args.t == JV_LIST && args.u.l->tuple, mapping = args.t == JV_DICT;
    size_t next = 0, n_args = tuple ? args.u.l->n : 1;
    jbuf b = {0};
    for (size_t i = 0; i < fmt->len; i++) {
        if (fmt->s[i] != '%') {
            size_t start = i;
            while (i < fmt->len && fmt->s[i] != '%') i++;
            jb_put_sub(c, &b, fmt, start, i - start);
            i--;
            continue;
        }
        if (++i >= fmt->len) jfail(c, line, "incomplete format");
        jv v;
        bool have_v = false;
        if (fmt->s[i] == '(') {
            size_t k = i + 1;
            while (k < fmt->len && fmt->s[k] != ')') k++;
            if (k >= fmt->len || !mapping) jfail(c, line, "format requires a mapping");
            jv *found = jd_find_str(c, args.u.d, fmt->s + i + 1, k - i - 1);
            if (!found) jfail(c, line, "format key '%.*s' not found", (int)(k - i - 1), fmt->s + i + 1);
            v = *found;
            have_v = true;
            i = k + 1;
        }
        char flags[8] = "";
        size_t nf = 0;
        while (i < fmt->len && strchr("-+ 0#", fmt->s[i]) && nf < 6) flags[nf++] = fmt->s[i++];
        int64_t width = 0, prec = -1;
        while (i < fmt->len && fmt->s[i] >= '0' && fmt->s[i] <= '9' && width < 1000) width = width * 10 + (fmt->s[i++] - '0');
        if (i < fmt->len && fmt->s[i] == '.') {
            prec = 0;
            i++;
            while (i < fmt->len && fmt->s[i] >= '0' && fmt->s[i] <= '9' && prec < 1000) prec = prec * 10 + (fmt->s[i++] - '0');
        }
        if (i >= fmt->len) jfail(c, line, "incomplete format");
        char type = fmt->s[i];
        if (type == '%') {
            jb_put(c, &b, "%", 1);
            continue;
        }
        if (!have_v) {
            if (next >= n_args) jfail(c, line, "not enough arguments for format string");
            v = tuple ? args.u.l->v[next] : args;
            next++;
        }
        char spec[32], out[512];
        if (type == 's' || type == 'r' || type == 'a') {
            jbuf tmp = {0};
            if (type == 's') jv_write(c, &tmp, v);
            else jv_write_repr(c, &tmp, v);
            const jstr *str = jb_finish(c, &tmp);
            size_t len = str->len;
            if (prec >= 0) len = u8_offset(c, str->s, str->len, (size_t)prec);
            size_t cps = u8_count(c, str->s, len);
            bool left = strchr(flags, '-') != NULL;
            if (!left) pad_to(c, &b, cps, width);
            jb_put_sub(c, &b, str, 0, len);
            if (left) pad_to(c, &b, cps, width);
            continue;
        }
        if (!strchr("diuoxXeEfFgGc", type)) jfail(c, line, "unsupported format character '%c'", type);
        jv_need(c, line, v);
        bool num = v.t == JV_INT || v.t == JV_BOOL || v.t == JV_FLOAT;
        if (!num) jfail(c, line, "%%%c format: a number is required, not %s", type, jv_type_name(v));
        double d = v.t == JV_FLOAT ? v.u.f : (double)(v.t == JV_INT ? v.u.i : v.u.b);
        long long iv = v.t == JV_FLOAT ? (long long)v.u.f : v.t == JV_INT ? v.u.i : v.u.b;
        if (type == 'c') {
            u8_encode(c, &b, (uint32_t)iv);
            continue;
        }
        bool integer = strchr("diuoxX", type) != NULL;
        snprintf(spec, sizeof spec, "%%%s%s%s%s%s%c", flags, width ? "*" : "", prec >= 0 ? ".*" : "",
                 integer ? "ll" : "", "", type == 'u' || type == 'i' ? 'd' : type);
        if (integer && width && prec >= 0) snprintf(out, sizeof out, spec, (int)width, (int)prec, iv);
        else if (integer && width) snprintf(out, sizeof out, spec, (int)width, iv);
        else if (integer && prec >= 0) snprintf(out, sizeof out, spec, (int)prec, iv);
        else if (integer) snprintf(out, sizeof out, spec, iv);
        else if (width && prec >= 0) snprintf(out, sizeof out, spec, (int)width, (int)prec, d);
        else if (width) snprintf(out, sizeof out, spec, (int)width, d);
        else if (prec >= 0) snprintf(out, sizeof out, spec, (int)prec, d);
        else snprintf(out, sizeof out, spec, d);
        jb_puts(c, &b, out);
    }
    if (!mapping && next < n_args) jfail(c, line, "not all arguments converted during string formatting");
    return jv_str(jb_finish(c, &b));
}

/* ---------------------------------------------------------------- methods ---- */

jv jmethod_get(jinja_ctx *c, jv v, const char *name) {
    int lo, hi;
    if (v.t == JV_STR) lo = 0, hi = M__STR_END;
    else if (v.t == JV_DICT) lo = M__STR_END, hi = M__DICT_END;
    else if (v.t == JV_LOOP) lo = M_CYCLE, hi = M__COUNT;
    else return jv_undef(name, JU_ATTR);
    for (int id = lo; id < hi; id++) {
        if (strcmp(METHODS[id], name) != 0) continue;
        jmethod *m = jalloc(c, sizeof *m);
        *m = (jmethod){v, id};
        jv r = {JV_METHOD, 0, {.meth = m}};
        return r;
    }
    return jv_undef(name, JU_ATTR);
}

static jv dict_items(jinja_ctx *c, const jdict *d) {
    jwork(c, 0, d->n);
    jlist *l = jl_new(c, d->n);
    for (size_t i = 0; i < d->n; i++) {
        jlist *pair = jl_new(c, 2);
        pair->tuple = true;
        jl_push(c, pair, d->k[i]);
        jl_push(c, pair, d->v[i]);
        jl_push(c, l, jv_list(pair));
    }
    return jv_list(l);
}

static jv str_method(jinja_ctx *c, int id, const jstr *s, const jargs *a) {
    const char *what = METHODS[id];
    int line = a->line;
    switch (id) {
    case M_STARTSWITH: case M_ENDSWITH: {
        const jv *p = arg(a, 0, NULL);
        if (!p) jfail(c, line, "%s needs an argument", what);
        return jv_bool(affix(c, line, s, *p, id == M_ENDSWITH));
    }
    case M_STRIP: case M_LSTRIP: case M_RSTRIP:
        at_most(c, a, 1, what);
        return jv_str(strip(c, s, arg_str(c, a, 0, "chars", what), id != M_RSTRIP, id != M_LSTRIP));
    case M_SPLIT: case M_RSPLIT:
        at_most(c, a, 2, what);
        return split(c, line, s, arg_str(c, a, 0, "sep", what), arg_int(c, a, 1, "maxsplit", -1, what), id == M_RSPLIT);
    case M_REPLACE: {
        const jstr *old = arg_str(c, a, 0, "old", what), *new = arg_str(c, a, 1, "new", what);
        if (!old || !new) jfail(c, line, "replace needs two strings");
        return jv_str(replace(c, line, s, old, new, arg_int(c, a, 2, "count", -1, what)));
    }
    case M_UPPER: return jv_str(map_case(c, s, CASE_UPPER));
    case M_LOWER: return jv_str(map_case(c, s, CASE_LOWER));
    case M_TITLE: return jv_str(map_case(c, s, CASE_TITLE));
    case M_CAPITALIZE: return jv_str(map_case(c, s, CASE_CAPITALIZE));
    case M_FIND: case M_RFIND: case M_COUNT: {
        const jstr *sub = arg_str(c, a, 0, "sub", what);
        if (!sub) jfail(c, line, "%s needs a string", what);
        if (id == M_COUNT) return jv_int(count_sub(c, s, sub));
        const char *at = id == M_FIND ? find_bytes(c, s->s, s->len, sub->s, sub->len) : rfind_bytes(c, s->s, s->len, sub->s, sub->len);
        return jv_int(cp_index_of(c, s, at));
    }
    case M_JOIN: {
        const jv *items = arg(a, 0, NULL);
        if (!items) jfail(c, line, "join needs an iterable");
        return join(c, line, *items, s, NULL, true);
    }
    case M_ISDIGIT: return jv_bool(all_cps(s, is_digit_cp));
    case M_ISALPHA: return jv_bool(all_cps(s, is_alpha_cp));
    case M_ISALNUM: return jv_bool(all_cps(s, is_alnum_cp));
    case M_ISSPACE: return jv_bool(all_cps(s, py_isspace));
    case M_ISLOWER: return jv_bool(cased_as(s, true));
    case M_ISUPPER: return jv_bool(cased_as(s, false));
    default: jfail(c, line, "internal error: string method %d", id);
    }
}

jv jmethod_call(jinja_ctx *c, const jmethod *m, const jargs *a) {
    jv self = m->self;
    if (self.t == JV_STR) return str_method(c, m->id, self.u.s, a);
    if (self.t == JV_LOOP) {
        if (a->n == 0) jfail(c, a->line, "no items for cycling given");
        return a->v[self.u.loop->i % a->n];
    }
    const jdict *d = self.u.d;
    switch (m->id) {
    case M_ITEMS: return dict_items(c, d);
    case M_KEYS: case M_VALUES: {
        jlist *l = jl_new(c, d->n);
        for (size_t i = 0; i < d->n; i++) jl_push(c, l, m->id == M_KEYS ? d->k[i] : d->v[i]);
        return jv_list(l);
    }
    default: { /* get */
        const jv *key = arg(a, 0, NULL), *dflt = arg(a, 1, NULL);
        if (!key) jfail(c, a->line, "get expected at least 1 argument, got 0");
        jv *v = jd_find(c, d, *key);
        return v ? *v : dflt ? *dflt : jv_none();
    }
    }
}

/* ---------------------------------------------------------------- functions ---- */

#define MAX_RANGE 100000 /* jinja2's sandbox refuses bigger ranges */

static const char *const MONTHS[12] = {"January", "February", "March", "April", "May", "June", "July",
                                       "August", "September", "October", "November", "December"};
static const char *const DAYS[7] = {"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"};

/* strftime with English names whatever the locale (the model was trained on those). */
static jv strftime_now(jinja_ctx *c, const jstr *fmt) {
    const struct tm *tm = &c->tm;
    jbuf b = {0};
    char buf[32];
    for (size_t i = 0; i < fmt->len; i++) {
        if (fmt->s[i] != '%' || i + 1 >= fmt->len) {
            jb_put(c, &b, fmt->s + i, 1);
            continue;
        }
        char f = fmt->s[++i];
        bool no_pad = false;
        if (f == '-' && i + 1 < fmt->len) { /* GNU's %-d: no padding */
            no_pad = true;
            f = fmt->s[++i];
        }
        const char *pad2 = no_pad ? "%d" : "%02d";
        int mon = tm->tm_mon >= 0 && tm->tm_mon < 12 ? tm->tm_mon : 0;
        int wday = tm->tm_wday >= 0 && tm->tm_wday < 7 ? tm->tm_wday : 0;
        buf[0] = '\0';
        switch (f) {
        case 'd': snprintf(buf, sizeof buf, pad2, tm->tm_mday); break;
        case 'e': snprintf(buf, sizeof buf, "%2d", tm->tm_mday); break;
        case 'm': snprintf(buf, sizeof buf, pad2, mon + 1); break;
        case 'Y': snprintf(buf, sizeof buf, "%d", tm->tm_year + 1900); break;
        case 'y': snprintf(buf, sizeof buf, "%02d", (tm->tm_year + 1900) % 100); break;
        case 'H': snprintf(buf, sizeof buf, pad2, tm->tm_hour); break;
        case 'I': snprintf(buf, sizeof buf, pad2, tm->tm_hour % 12 ? tm->tm_hour % 12 : 12); break;
        case 'M': snprintf(buf, sizeof buf, pad2, tm->tm_min); break;
        case 'S': snprintf(buf, sizeof buf, pad2, tm->tm_sec); break;
        case 'j': snprintf(buf, sizeof buf, no_pad ? "%d" : "%03d", tm->tm_yday + 1); break;
        case 'p': snprintf(buf, sizeof buf, "%s", tm->tm_hour < 12 ? "AM" : "PM"); break;
        case 'b': case 'h': snprintf(buf, sizeof buf, "%.3s", MONTHS[mon]); break;
        case 'B': snprintf(buf, sizeof buf, "%s", MONTHS[mon]); break;
        case 'a': snprintf(buf, sizeof buf, "%.3s", DAYS[wday]); break;
        case 'A': snprintf(buf, sizeof buf, "%s", DAYS[wday]); break;
        case 'Z': case 'z': break; /* a naive datetime has no zone */
        case '%': snprintf(buf, sizeof buf, "%%"); break;
        default: snprintf(buf, sizeof buf, "%%%s%c", no_pad ? "-" : "", f); break;
        }
        jb_puts(c, &b, buf);
    }
    return jv_str(jb_finish(c, &b));
}

static jv range(jinja_ctx *c, const jargs *a) {
    size_t np = n_positional(a);
    if (np < 1 || np > 3) jfail(c, a->line, "range expected 1 to 3 arguments, got %zu", np);
    int64_t start = 0, stop, step = 1;
    if (np == 1) {
        stop = arg_int(c, a, 0, NULL, 0, "range");
    } else {
        start = arg_int(c, a, 0, NULL, 0, "range");
        stop = arg_int(c, a, 1, NULL, 0, "range");
        step = arg_int(c, a, 2, NULL, 1, "range");
    }
    if (step == 0) jfail(c, a->line, "range() arg 3 must not be zero");
    double n = step > 0 ? ceil(((double)stop - (double)start) / (double)step)
                        : ceil(((double)start - (double)stop) / -(double)step);
    if (n > MAX_RANGE)
        jfail(c, a->line, "Range too big. The sandbox blocks ranges larger than MAX_RANGE (%d).", MAX_RANGE);
    jlist *l = jl_new(c, n > 0 ? (size_t)n : 0);
    for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
        jstep(c, a->line);
        jl_push(c, l, jv_int(i));
    }
    return jv_list(l);
}

jv jfunc_call(jinja_ctx *c, int id, const jargs *a) {
    switch (id) {
    case FN_RANGE: return range(c, a);
    case FN_RAISE: {
        const jv *msg = arg(a, 0, NULL);
        const jstr *s = msg ? jv_to_str(c, *msg) : js_cstr(c, "");
        jraise(c, s->s, s->len);
    }
    case FN_STRFTIME: {
        const jstr *fmt = arg_str(c, a, 0, "format", "strftime_now");
        if (!fmt) jfail(c, a->line, "strftime_now needs a format");
        return strftime_now(c, fmt);
    }
    default: { /* namespace(), dict(): keyword arguments, or a dict to copy */
        jdict *d = jd_new(c);
        for (size_t i = 0; i < a->n; i++) {
            if (a->kw && a->kw[i]) {
                jd_set(c, d, jv_str(js_cstr(c, a->kw[i])), a->v[i]);
            } else if (a->v[i].t == JV_DICT || a->v[i].t == JV_NS) {
                for (size_t k = 0; k < a->v[i].u.d->n; k++) jd_set(c, d, a->v[i].u.d->k[k], a->v[i].u.d->v[k]);
            } else {
                jfail(c, a->line, "%s takes keyword arguments or a dict", FUNCS[id]);
            }
        }
        jv r = {(uint8_t)(id == FN_NAMESPACE ? JV_NS : JV_DICT), 0, {.d = d}};
        return r;
    }
    }
}

/* ---------------------------------------------------------------- tests ---- */

static bool same_as(jinja_ctx *c, jv a, jv b) {
    if (a.t != b.t) return false;
    switch (a.t) {
    case JV_UNDEF: case JV_NONE: return true;
    case JV_BOOL: case JV_INT: case JV_FLOAT: return jv_equal(c, a, b);
    case JV_STR: return jv_equal(c, a, b); /* Python interns equal literals: "a" is "a" */
    case JV_LIST: return a.u.l == b.u.l;
    case JV_DICT: case JV_NS: return a.u.d == b.u.d;
    default: return jv_equal(c, a, b);
    }
}

bool jtest_apply(jinja_ctx *c, int id, jv in, const jargs *a) {
    const jv *other = arg(a, 0, NULL);
    int line = a->line;
    switch (id) {
    case TS_DEFINED: return in.t != JV_UNDEF;
    case TS_UNDEFINED: return in.t == JV_UNDEF;
    case TS_NONE: return in.t == JV_NONE;
    case TS_BOOLEAN: return in.t == JV_BOOL;
    case TS_TRUE: return in.t == JV_BOOL && in.u.b;
    case TS_FALSE: return in.t == JV_BOOL && !in.u.b;
    case TS_STRING: return in.t == JV_STR;
    case TS_NUMBER: return in.t == JV_INT || in.t == JV_FLOAT || in.t == JV_BOOL;
    case TS_INTEGER: return in.t == JV_INT;
    case TS_FLOAT: return in.t == JV_FLOAT;
    case TS_MAPPING: return in.t == JV_DICT;
    case TS_ITERABLE: return in.t == JV_STR || in.t == JV_LIST || in.t == JV_DICT || in.t == JV_UNDEF;
    case TS_SEQUENCE: return in.t == JV_STR || in.t == JV_LIST || in.t == JV_DICT;
    case TS_CALLABLE: return in.t == JV_MACRO || in.t == JV_FUNC || in.t == JV_METHOD;
    case TS_LOWER: return in.t == JV_STR && cased_as(in.u.s, true);
    case TS_UPPER: return in.t == JV_STR && cased_as(in.u.s, false);
    case TS_ODD: case TS_EVEN: case TS_DIVISIBLEBY: {
        jv_need(c, line, in);
        if (in.t != JV_INT && in.t != JV_BOOL) jfail(c, line, "test '%s' needs an integer, not %s", TESTS[id], jv_type_name(in));
        int64_t v = in.t == JV_INT ? in.u.i : in.u.b;
        if (id == TS_DIVISIBLEBY) {
            int64_t d = arg_int(c, a, 0, "num", 0, "divisibleby");
            if (d == 0) jfail(c, line, "integer division or modulo by zero");
            return d == -1 || v % d == 0;
        }
        return (v % 2 != 0) == (id == TS_ODD);
    }
    default: break;
    }
    if (!other) jfail(c, line, "test '%s' needs an argument", TESTS[id]);
    switch (id) {
    case TS_SAMEAS: return same_as(c, in, *other);
    case TS_EQ: case TS_EQUALTO: case TS_EQ_OP: return jv_equal(c, in, *other);
    case TS_NE: case TS_NE_OP: return !jv_equal(c, in, *other);
    case TS_LT: case TS_LT_OP: case TS_LESSTHAN: return jv_compare(c, line, in, *other) < 0;
    case TS_LE: case TS_LE_OP: return jv_compare(c, line, in, *other) <= 0;
    case TS_GT: case TS_GT_OP: case TS_GREATERTHAN: return jv_compare(c, line, in, *other) > 0;
    case TS_GE: case TS_GE_OP: return jv_compare(c, line, in, *other) >= 0;
    default: { /* in */
        if (other->t == JV_STR) {
            const jstr *h = other->u.s, *n = need_str(c, line, in, "'in <string>'");
            return find_bytes(c, h->s, h->len, n->s, n->len) != NULL;
        }
        jlist *items = jiterate(c, line, *other);
        for (size_t i = 0; i < items->n; i++)
            if (jv_equal(c, items->v[i], in)) return true;
        return false;
    }
    }
}

/* ---------------------------------------------------------------- filters ---- */

static int64_t length_of(jinja_ctx *c, int line, jv v) {
    switch (v.t) {
    case JV_UNDEF: return 0;
    case JV_STR: return (int64_t)u8_count(c, v.u.s->s, v.u.s->len);
    case JV_LIST: return (int64_t)v.u.l->n;
    case JV_DICT: case JV_NS: return (int64_t)v.u.d->n;
    default: jfail(c, line, "object of type '%s' has no len()", jv_type_name(v));
    }
}

static char *cstr(jinja_ctx *c, const jstr *s) {
    char *p = jalloc(c, s->len + 1);
    memcpy(p, s->s, s->len);
    p[s->len] = '\0';
    return p;
}

/* A sort key: the item (or its attribute), lower-cased when case does not count. */
static jv sort_key(jinja_ctx *c, int line, jv v, const jstr *attribute, bool case_sensitive) {
    if (attribute) v = jgetattr(c, line, v, cstr(c, attribute));
    if (!case_sensitive && v.t == JV_STR) v = jv_str(map_case(c, v.u.s, CASE_LOWER));
    return v;
}

typedef struct sort_item {
    jv key, val;
} sort_item;

/* A stable merge sort (Python's sort is stable). */
static void merge_sort(jinja_ctx *c, int line, sort_item *v, sort_item *tmp, size_t n, bool reverse) {
    if (n < 2) return;
    size_t h = n / 2;
    merge_sort(c, line, v, tmp, h, reverse);
    merge_sort(c, line, v + h, tmp, n - h, reverse);
    size_t i = 0, j = h, k = 0;
    while (i < h && j < n) {
        jstep(c, line);
        int cmp = jv_compare(c, line, v[j].key, v[i].key);
        tmp[k++] = (reverse ? cmp > 0 : cmp < 0) ? v[j++] : v[i++];
    }
    while (i < h) tmp[k++] = v[i++];
    while (j < n) tmp[k++] = v[j++];
    memcpy(v, tmp, n * sizeof *v);
}

static jlist *sorted(jinja_ctx *c, int line, jlist *items, const jstr *attribute, bool case_sensitive, bool reverse,
                     bool by_value_of_pair) {
    size_t n = items->n;
    sort_item *v = jalloc(c, (n + 1) * sizeof *v), *tmp = jalloc(c, (n + 1) * sizeof *tmp);
    for (size_t i = 0; i < n; i++) {
        jv key = items->v[i];
        if (by_value_of_pair) key = key.u.l->v[1];
        v[i] = (sort_item){sort_key(c, line, key, attribute, case_sensitive), items->v[i]};
    }
    merge_sort(c, line, v, tmp, n, reverse);
    jlist *out = jl_new(c, n);
    for (size_t i = 0; i < n; i++) jl_push(c, out, v[i].val);
    return out;
}

static jv select_items(jinja_ctx *c, int id, jv in, const jargs *a) {
    bool by_attr = id == F_SELECTATTR || id == F_REJECTATTR, keep = id == F_SELECT || id == F_SELECTATTR;
    size_t from = by_attr ? 1 : 0;
    const jstr *attribute = by_attr ? arg_str(c, a, 0, NULL, FILTERS[id]) : NULL;
    if (by_attr && !attribute) jfail(c, a->line, "%s needs an attribute name", FILTERS[id]);
    const jstr *test = arg_str(c, a, from, NULL, FILTERS[id]);
    int tid = -1;
    if (test && (tid = jtest_id(cstr(c, test))) < 0) jfail(c, a->line, "no test named '%.*s'", (int)test->len, test->s);
    jargs rest = args_from(a, from + 1);
    jlist *items = jiterate(c, a->line, in), *out = jl_new(c, 0);
    for (size_t i = 0; i < items->n; i++) {
        jstep(c, a->line);
        jv v = by_attr ? jgetattr(c, a->line, items->v[i], cstr(c, attribute)) : items->v[i];
        bool ok = tid < 0 ? jv_truthy(v) : jtest_apply(c, tid, v, &rest);
        if (ok == keep) jl_push(c, out, items->v[i]);
    }
    return jv_list(out);
}

static jv map_items(jinja_ctx *c, jv in, const jargs *a) {
    jlist *items = jiterate(c, a->line, in), *out = jl_new(c, items->n);
    const jstr *attribute = arg_str(c, a, 99, "attribute", "map");
    const jv *dflt = arg(a, 99, "default");
    int fid = -1;
    jargs rest = args_from(a, 1);
    if (!attribute) {
        const jstr *name = arg_str(c, a, 0, NULL, "map");
        if (!name) jfail(c, a->line, "map needs a filter name or attribute=");
        if ((fid = jfilter_id(cstr(c, name))) < 0) jfail(c, a->line, "no filter named '%.*s'", (int)name->len, name->s);
    }
    for (size_t i = 0; i < items->n; i++) {
        jstep(c, a->line);
        jv v;
        if (attribute) {
            v = jgetattr(c, a->line, items->v[i], cstr(c, attribute));
            if (v.t == JV_UNDEF && dflt) v = *dflt;
        } else {
            v = jfilter_apply(c, fid, items->v[i], &rest);
        }
        jl_push(c, out, v);
    }
    return jv_list(out);
}

static jv dictsort(jinja_ctx *c, jv in, const jargs *a) {
    jv_need(c, a->line, in);
    if (in.t != JV_DICT && in.t != JV_NS) jfail(c, a->line, "dictsort needs a dict, not %s", jv_type_name(in));
    bool case_sensitive = arg_bool(a, 0, "case_sensitive", false), reverse = arg_bool(a, 2, "reverse", false);
    const jstr *by = arg_str(c, a, 1, "by", "dictsort");
    bool by_value = by && js_eq(by, "value");
    if (by && !by_value && !js_eq(by, "key")) jfail(c, a->line, "You can only sort by either \"key\" or \"value\"");
    jlist *pairs = dict_items(c, in.u.d).u.l;
    if (!by_value) { /* the key of a pair is its first item */
        size_t n = pairs->n;
        sort_item *v = jalloc(c, (n + 1) * sizeof *v), *tmp = jalloc(c, (n + 1) * sizeof *tmp);
        for (size_t i = 0; i < n; i++) v[i] = (sort_item){sort_key(c, a->line, pairs->v[i].u.l->v[0], NULL, case_sensitive), pairs->v[i]};
        merge_sort(c, a->line, v, tmp, n, reverse);
        jlist *out = jl_new(c, n);
        for (size_t i = 0; i < n; i++) jl_push(c, out, v[i].val);
        return jv_list(out);
    }
    return jv_list(sorted(c, a->line, pairs, NULL, case_sensitive, reverse, true));
}

static jv unique(jinja_ctx *c, jv in, const jargs *a) {
    bool case_sensitive = arg_bool(a, 0, "case_sensitive", false);
    const jstr *attribute = arg_str(c, a, 1, "attribute", "unique");
    jlist *items = jiterate(c, a->line, in), *out = jl_new(c, 0), *seen = jl_new(c, 0);
    for (size_t i = 0; i < items->n; i++) {
        jv key = sort_key(c, a->line, items->v[i], attribute, case_sensitive);
        bool dup = false;
        for (size_t k = 0; k < seen->n && !dup; k++) {
            jstep(c, a->line);
            dup = jv_equal(c, seen->v[k], key);
        }
        if (!dup) {
            jl_push(c, seen, key);
            jl_push(c, out, items->v[i]);
        }
    }
    return jv_list(out);
}

static jv min_max(jinja_ctx *c, jv in, const jargs *a, bool max) {
    bool case_sensitive = arg_bool(a, 0, "case_sensitive", false);
    const jstr *attribute = arg_str(c, a, 1, "attribute", max ? "max" : "min");
    jlist *items = jiterate(c, a->line, in);
    if (items->n == 0) return jv_undef("min/max of an empty sequence", JU_ATTR);
    size_t best = 0;
    jv best_key = sort_key(c, a->line, items->v[0], attribute, case_sensitive);
    for (size_t i = 1; i < items->n; i++) {
        jv key = sort_key(c, a->line, items->v[i], attribute, case_sensitive);
        int cmp = jv_compare(c, a->line, key, best_key);
        if (max ? cmp > 0 : cmp < 0) best = i, best_key = key;
    }
    return items->v[best];
}

static jv sum(jinja_ctx *c, jv in, const jargs *a) {
    const jstr *attribute = arg_str(c, a, 0, "attribute", "sum");
    const jv *start = arg(a, 1, "start");
    jlist *items = jiterate(c, a->line, in);
    bool is_float = start && start->t == JV_FLOAT;
    int64_t si = start && start->t != JV_FLOAT ? (start->t == JV_INT ? start->u.i : start->t == JV_BOOL ? start->u.b : 0) : 0;
    double sf = start && start->t == JV_FLOAT ? start->u.f : 0;
    for (size_t i = 0; i < items->n; i++) {
        jv v = attribute ? jgetattr(c, a->line, items->v[i], cstr(c, attribute)) : items->v[i];
        if (v.t == JV_FLOAT) {
            if (!is_float) sf = (double)si, is_float = true;
            sf += v.u.f;
        } else if (v.t == JV_INT || v.t == JV_BOOL) {
            int64_t x = v.t == JV_INT ? v.u.i : v.u.b;
            if (is_float) sf += (double)x;
            else if (__builtin_add_overflow(si, x, &si)) jfail(c, a->line, "integer overflow in sum");
        } else {
            jfail(c, a->line, "unsupported operand type(s) for +: 'int' and '%s'", jv_type_name(v));
        }
    }
    return is_float ? jv_float(sf) : jv_int(si);
}

static jv tojson(jinja_ctx *c, jv in, const jargs *a) {
    jjson_opts o = {.indent = -1};
    o.ensure_ascii = arg_bool(a, 0, "ensure_ascii", false);
    const jv *indent = arg(a, 1, "indent");
    if (indent && indent->t == JV_INT) o.indent = indent->u.i < 0 ? 0 : indent->u.i > 64 ? 64 : (int)indent->u.i;
    else if (indent && indent->t != JV_NONE) jfail(c, a->line, "tojson: indent must be an integer");
    const jv *seps = arg(a, 2, "separators");
    if (seps && seps->t == JV_LIST && seps->u.l->n == 2 && seps->u.l->v[0].t == JV_STR && seps->u.l->v[1].t == JV_STR) {
        o.item_sep = seps->u.l->v[0].u.s;
        o.key_sep = seps->u.l->v[1].u.s;
    } else if (seps && seps->t != JV_NONE) {
        jfail(c, a->line, "tojson: separators must be a pair of strings");
    }
    o.sort_keys = arg_bool(a, 3, "sort_keys", false);
    jbuf b = {0};
    jv_write_json(c, &b, in, &o, a->line);
    return jv_str(jb_finish(c, &b));
}

static jv indent(jinja_ctx *c, jv in, const jargs *a) {
    const jv *w = arg(a, 0, "width");
    const jstr *pad;
    if (w && w->t == JV_STR) {
        pad = w->u.s;
    } else {
        int64_t n = arg_int(c, a, 0, "width", 4, "indent");
        if (n < 0) n = 0;
        if (n > 256) jfail(c, a->line, "indent: width %lld is too large", (long long)n);
        char *sp = jalloc(c, (size_t)n + 1);
        memset(sp, ' ', (size_t)n);
        pad = js_new(c, sp, (size_t)n);
    }
    bool first = arg_bool(a, 1, "first", false), blank = arg_bool(a, 2, "blank", false);
    const jstr *s = jv_to_str(c, in);
    jbuf b = {0};
    if (first) jb_put_str(c, &b, pad);
    for (size_t at = 0; at <= s->len;) {
        const char *nl = memchr(s->s + at, '\n', s->len - at);
        size_t end = nl ? (size_t)(nl - s->s) : s->len;
        if (at > 0 && (blank || end > at)) jb_put_str(c, &b, pad);
        jb_put_sub(c, &b, s, at, end - at);
        if (!nl) break;
        jb_put(c, &b, "\n", 1);
        at = end + 1;
        jstep(c, a->line);
    }
    return jv_str(jb_finish(c, &b));
}

static jv round_filter(jinja_ctx *c, jv in, const jargs *a) {
    jv_need(c, a->line, in);
    if (in.t != JV_INT && in.t != JV_FLOAT && in.t != JV_BOOL) jfail(c, a->line, "round needs a number, not %s", jv_type_name(in));
    int64_t prec = arg_int(c, a, 0, "precision", 0, "round");
    const jstr *method = arg_str(c, a, 1, "method", "round");
    double x = in.t == JV_FLOAT ? in.u.f : (double)(in.t == JV_INT ? in.u.i : in.u.b);
    if (prec < -300) prec = -300;
    if (prec > 300) prec = 300;
    if (method && !js_eq(method, "common")) {
        double scale = pow(10, (double)prec), y = x * scale;
        if (js_eq(method, "ceil")) return jv_float(ceil(y) / scale);
        if (js_eq(method, "floor")) return jv_float(floor(y) / scale);
        jfail(c, a->line, "method must be common, ceil or floor");
    }
    if (in.t != JV_FLOAT) return in.t == JV_BOOL ? jv_int(in.u.b) : in; /* Python: round(int) is int */
    if (prec >= 0 && isfinite(x)) { /* correctly rounded, half to even on exact ties, like Python */
        char buf[400];
        snprintf(buf, sizeof buf, "%.*f", (int)prec, x);
        return jv_float(strtod(buf, NULL));
    }
    double scale = pow(10, (double)-prec);
    return jv_float(nearbyint(x / scale) * scale);
}

/* Python's int() and float() of a string: surrounding whitespace allowed, nothing else. */
static bool parse_num(const jstr *s, bool integer, int64_t *iv, double *dv) {
    char buf[128];
    size_t a = 0, b = s->len;
    while (a < b && (s->s[a] == ' ' || (s->s[a] >= '\t' && s->s[a] <= '\r'))) a++;
    while (b > a && (s->s[b - 1] == ' ' || (s->s[b - 1] >= '\t' && s->s[b - 1] <= '\r'))) b--;
    if (b == a || b - a >= sizeof buf) return false;
    size_t k = 0;
    for (size_t i = a; i < b; i++)
        if (s->s[i] != '_') buf[k++] = s->s[i];
    buf[k] = '\0';
    char *end;
    errno = 0;
    if (integer) {
        long long v = strtoll(buf, &end, 10);
        if (*end || errno) return false;
        *iv = v;
        return true;
    }
    double v = strtod(buf, &end);
    if (*end) return false;
    *dv = v;
    return true;
}

static jv to_int(jinja_ctx *c, jv in, const jargs *a) {
    const jv *dflt = arg(a, 0, "default");
    jv fallback = dflt ? *dflt : jv_int(0);
    int64_t i;
    double d;
    switch (in.t) {
    case JV_INT: return in;
    case JV_BOOL: return jv_int(in.u.b);
    case JV_FLOAT: d = in.u.f; break;
    case JV_STR:
        if (parse_num(in.u.s, true, &i, &d)) return jv_int(i);
        if (!parse_num(in.u.s, false, &i, &d)) return fallback;
        break;
    default: return fallback;
    }
    if (!isfinite(d) || d >= 9.2e18 || d <= -9.2e18) jfail(c, a->line, "cannot convert float %g to integer", d);
    return jv_int((int64_t)d);
}

static jv to_float(jinja_ctx *c, jv in, const jargs *a) {
    (void)c;
    const jv *dflt = arg(a, 0, "default");
    int64_t i;
    double d;
    switch (in.t) {
    case JV_FLOAT: return in;
    case JV_INT: return jv_float((double)in.u.i);
    case JV_BOOL: return jv_float(in.u.b);
    case JV_STR:
        if (parse_num(in.u.s, false, &i, &d)) return jv_float(d);
        /* fallthrough */
    default: return dflt ? *dflt : jv_float(0);
    }
}

static jv escape_html(jinja_ctx *c, jv in) {
    const jstr *s = jv_to_str(c, in);
    jbuf b = {0};
    for (size_t i = 0; i < s->len; i++) {
        const char *rep = s->s[i] == '&' ? "&amp;" : s->s[i] == '<' ? "&lt;" : s->s[i] == '>' ? "&gt;"
                        : s->s[i] == '"' ? "&#34;" : s->s[i] == '\'' ? "&#39;" : NULL;
        if (rep) jb_puts(c, &b, rep);
        else jb_put(c, &b, s->s + i, 1);
    }
    return jv_str(js_derived(c, jb_finish(c, &b), s));
}

static jv first_last(jinja_ctx *c, jv in, const jargs *a, bool last) {
    jlist *items = jiterate(c, a->line, in);
    if (items->n == 0) return jv_undef(last ? "last" : "first", JU_ATTR);
    return items->v[last ? items->n - 1 : 0];
}

static jv reverse(jinja_ctx *c, jv in, const jargs *a) {
    if (in.t == JV_STR) {
        jlist *cps = jiterate(c, a->line, in);
        jbuf b = {0};
        for (size_t i = cps->n; i-- > 0;) jb_put_str(c, &b, cps->v[i].u.s);
        return jv_str(jb_finish(c, &b));
    }
    jlist *items = jiterate(c, a->line, in), *out = jl_new(c, items->n);
    for (size_t i = items->n; i-- > 0;) jl_push(c, out, items->v[i]);
    return jv_list(out);
}

static int64_t word_count(const jstr *s) {
    int64_t n = 0;
    bool in_word = false;
    for (size_t i = 0; i < s->len;) {
        size_t next;
        uint32_t cp = u8_decode(s->s, s->len, i, &next);
        bool w = cp == '_' || is_alnum_cp(cp);
        if (w && !in_word) n++;
        in_word = w;
        i = next;
    }
    return n;
}

jv jfilter_apply(jinja_ctx *c, int id, jv in, const jargs *a) {
    int line = a->line;
    switch (id) {
    case F_DEFAULT: case F_D: {
        const jv *v = arg(a, 0, "default_value");
        bool boolean = arg_bool(a, 1, "boolean", false);
        if (in.t == JV_UNDEF || (boolean && !jv_truthy(in))) return v ? *v : jv_str(js_cstr(c, ""));
        return in;
    }
    case F_LENGTH: case F_COUNT: return jv_int(length_of(c, line, in));
    case F_SAFE: return in;
    case F_STRING: return in.t == JV_STR ? in : jv_str(jv_to_str(c, in));
    case F_TRIM: {
        const jstr *chars = arg_str(c, a, 0, "chars", "trim");
        return jv_str(strip(c, jv_to_str(c, in), chars, true, true));
    }
    case F_UPPER: return jv_str(map_case(c, jv_to_str(c, in), CASE_UPPER));
    case F_LOWER: return jv_str(map_case(c, jv_to_str(c, in), CASE_LOWER));
    case F_TITLE: return jv_str(map_case(c, jv_to_str(c, in), CASE_WORDS));
    case F_CAPITALIZE: return jv_str(map_case(c, jv_to_str(c, in), CASE_CAPITALIZE));
    case F_TOJSON: return tojson(c, in, a);
    case F_ITEMS:
        if (in.t == JV_UNDEF) return jv_list(jl_new(c, 0));
        if (in.t != JV_DICT && in.t != JV_NS) jfail(c, line, "items needs a mapping, not %s", jv_type_name(in));
        return dict_items(c, in.u.d);
    case F_DICTSORT: return dictsort(c, in, a);
    case F_JOIN: {
        const jstr *sep = arg_str(c, a, 0, "d", "join");
        return join(c, line, in, sep, arg_str(c, a, 1, "attribute", "join"), false);
    }
    case F_LIST: {
        jlist *items = jiterate(c, line, in), *out = jl_new(c, items->n);
        for (size_t i = 0; i < items->n; i++) jl_push(c, out, items->v[i]);
        return jv_list(out);
    }
    case F_FIRST: return first_last(c, in, a, false);
    case F_LAST: return first_last(c, in, a, true);
    case F_MAP: return map_items(c, in, a);
    case F_SELECT: case F_REJECT: case F_SELECTATTR: case F_REJECTATTR: return select_items(c, id, in, a);
    case F_SORT: {
        bool reverse = arg_bool(a, 0, "reverse", false), case_sensitive = arg_bool(a, 1, "case_sensitive", false);
        const jstr *attribute = arg_str(c, a, 2, "attribute", "sort");
        return jv_list(sorted(c, line, jiterate(c, line, in), attribute, case_sensitive, reverse, false));
    }
    case F_UNIQUE: return unique(c, in, a);
    case F_MIN: return min_max(c, in, a, false);
    case F_MAX: return min_max(c, in, a, true);
    case F_SUM: return sum(c, in, a);
    case F_REPLACE: {
        const jstr *old = arg_str(c, a, 0, "old", "replace"), *new = arg_str(c, a, 1, "new", "replace");
        if (!old || !new) jfail(c, line, "replace needs two strings");
        return jv_str(replace(c, line, jv_to_str(c, in), old, new, arg_int(c, a, 2, "count", -1, "replace")));
    }
    case F_REVERSE: return reverse(c, in, a);
    case F_INT: return to_int(c, in, a);
    case F_FLOAT: return to_float(c, in, a);
    case F_ABS:
        jv_need(c, line, in);
        if (in.t == JV_FLOAT) return jv_float(fabs(in.u.f));
        if (in.t == JV_INT) {
            if (in.u.i == INT64_MIN) jfail(c, line, "integer overflow");
            return jv_int(in.u.i < 0 ? -in.u.i : in.u.i);
        }
        if (in.t == JV_BOOL) return jv_int(in.u.b);
        jfail(c, line, "bad operand type for abs(): '%s'", jv_type_name(in));
    case F_ROUND: return round_filter(c, in, a);
    case F_E: case F_ESCAPE: return escape_html(c, in);
    case F_INDENT: return indent(c, in, a);
    case F_WORDCOUNT: return jv_int(word_count(jv_to_str(c, in)));
    case F_ATTR: {
        const jstr *name = arg_str(c, a, 0, "name", "attr");
        if (!name) jfail(c, line, "attr needs a name");
        return jgetattr(c, line, in, cstr(c, name));
    }
    default: jfail(c, line, "internal error: filter %d", id);
    }
}
