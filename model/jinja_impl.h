/* jinja_impl.h — what the jinja_*.c files share (private to them).
 *
 *   jinja_value.c     the arena, strings with message tags, values, Python's str(),
 *                     repr(), ==, <, JSON in and out
 *   jinja_lex.c       template text -> tokens, with Hugging Face's whitespace control
 *   jinja_parse.c     tokens -> a tree of nodes (jnode)
 *   jinja_eval.c      running the tree: scopes, statements, expressions, macros, limits
 *   jinja_builtins.c  filters, tests, methods and global functions
 *
 * Memory. Everything a render makes lives in one arena that is freed at the end, and
 * every error (raise_exception, a type error, a limit) longjmps back to jinja_render:
 * no value is ever freed on its own, so an error in the middle of an expression leaks
 * nothing and the evaluator needs no error paths. The template's tree lives in an arena
 * of its own that lasts as long as the template. */
#ifndef LLMSCOPE_JINJA_IMPL_H
#define LLMSCOPE_JINJA_IMPL_H

#include "jinja.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- arena ---- */

typedef struct jarena_chunk jarena_chunk;
typedef struct jarena {
    jarena_chunk *head;
    size_t total, limit; /* bytes taken from malloc, and the most allowed */
} jarena;

void *jarena_alloc(jarena *a, size_t n);                     /* NULL: over the limit */
void *jarena_grow(jarena *a, void *p, size_t old, size_t n); /* keeps the first OLD bytes */
void jarena_free(jarena *a);

/* ---- values ---- */

typedef enum {
    JV_UNDEF, JV_NONE, JV_BOOL, JV_INT, JV_FLOAT, JV_STR, JV_LIST, JV_DICT,
    JV_NS,     /* namespace(): a dict whose attributes can be set */
    JV_MACRO,  /* a macro, or caller() inside a call block */
    JV_FUNC,   /* a global function (range, namespace, ...) */
    JV_METHOD, /* a method bound to its object ("abc".upper) */
    JV_LOOP    /* the loop variable of a for loop */
} jv_type;

/* What an undefined value was, for the error when it is used. */
typedef enum { JU_NAME, JU_ATTR, JU_ITEM } ju_kind;

/* A byte range of a string that came from message MSG. */
typedef struct jtag {
    size_t start, len;
    uint32_t msg;
} jtag;

/* Strings are immutable and need not end in NUL; substrings share their bytes. */
typedef struct jstr {
    const char *s;
    size_t len;
    const jtag *tags; /* in order, not overlapping */
    size_t n_tags;
} jstr;

typedef struct jnode jnode;
typedef struct jframe jframe;
typedef struct jv jv;

typedef struct jlist {
    jv *v;
    size_t n, cap;
    bool tuple; /* printed as (a, b) */
} jlist;

typedef struct jdict { /* insertion-ordered, looked up by a linear scan: they are small */
    jv *k, *v;
    size_t n, cap;
} jdict;

typedef struct jmacro {
    const jnode *def;  /* N_MACRO, or N_CALL_BLOCK for caller() */
    jframe *closure;   /* where it was defined: its body reads names from there */
    jframe *caller_frame; /* N_CALL_BLOCK: the frame that holds caller's arguments */
} jmacro;

struct jv {
    uint8_t t;   /* jv_type */
    uint8_t sub; /* JV_UNDEF: ju_kind */
    union {
        bool b;
        int64_t i;
        double f;
        const jstr *s;
        jlist *l;
        jdict *d;       /* JV_DICT, JV_NS */
        const jmacro *m;
        int fn;         /* JV_FUNC: jfunc_id */
        const struct jmethod *meth;
        struct jloop *loop;
        const char *undef; /* JV_UNDEF: the name (or NULL) */
    } u;
};

typedef struct jmethod {
    jv self;
    int id; /* jmethod_id */
} jmethod;

typedef struct jloop {
    jlist *items;
    size_t i;
} jloop;

static inline jv jv_undef(const char *name, ju_kind k) { jv v = {JV_UNDEF, (uint8_t)k, {.undef = name}}; return v; }
static inline jv jv_none(void) { jv v = {JV_NONE, 0, {.i = 0}}; return v; }
static inline jv jv_bool(bool b) { jv v = {JV_BOOL, 0, {.b = b}}; return v; }
static inline jv jv_int(int64_t i) { jv v = {JV_INT, 0, {.i = i}}; return v; }
static inline jv jv_float(double f) { jv v = {JV_FLOAT, 0, {.f = f}}; return v; }
static inline jv jv_str(const jstr *s) { jv v = {JV_STR, 0, {.s = s}}; return v; }
static inline jv jv_list(jlist *l) { jv v = {JV_LIST, 0, {.l = l}}; return v; }
static inline jv jv_dict(jdict *d) { jv v = {JV_DICT, 0, {.d = d}}; return v; }

/* ---- the render context ---- */

typedef struct jvar {
    const char *name;
    jv v;
} jvar;

struct jframe {
    jframe *parent;
    jvar *vars;
    size_t n, cap;
};

/* Output being written: the render's, or a block's or macro call's being captured. */
typedef struct jbuf {
    char *s;
    size_t len, cap;
    jtag *tags;
    size_t n_tags, cap_tags;
} jbuf;

struct jinja_ctx {
    jarena arena;
    jinja_limits lim;
    jframe *globals;   /* what the caller set, and the builtins */
    struct tm tm;      /* strftime_now's time */
    bool have_tm, used;
    /* while running */
    jmp_buf *jmp;      /* where errors go */
    char *err;
    size_t errlen;
    uint64_t steps;
    int depth;
    jbuf *out;
};

/* Writes "line LINE: " (LINE 0: nothing) and the message into ERR (the lexer's, the
 * parser's and the render's errors). */
void jerr_format(char *err, size_t errlen, int line, const char *fmt, va_list ap);
/* Ends the render with "line LINE: ..." (LINE 0: no line). */
_Noreturn void jfail(jinja_ctx *c, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Ends the render with MSG as it is (raise_exception). */
_Noreturn void jraise(jinja_ctx *c, const char *msg, size_t len);
/* Arena memory; fails the render when the memory budget is spent. */
void *jalloc(jinja_ctx *c, size_t n);
void *jgrow(jinja_ctx *c, void *p, size_t old, size_t n);
/* Counts one step against the budget. */
static inline void jstep(jinja_ctx *c, int line) {
    if (++c->steps > c->lim.max_steps)
        jfail(c, line, "the template ran more than %llu steps (an endless loop?)",
              (unsigned long long)c->lim.max_steps);
}
/* Work inside one step (bytes copied or scanned, items looked through) counts too, so
 * that no single step can take long: one step per 256 bytes, per 4 items. */
static inline void jwork(jinja_ctx *c, uint64_t bytes, uint64_t items) {
    c->steps += (bytes >> 8) + (items >> 2);
    if (c->steps > c->lim.max_steps) jstep(c, 0);
}

/* ---- strings (jinja_value.c) ---- */

const jstr *js_new(jinja_ctx *c, const char *s, size_t n);        /* a copy, untagged */
const jstr *js_cstr(jinja_ctx *c, const char *s);
const jstr *js_sub(jinja_ctx *c, const jstr *s, size_t off, size_t n); /* shares bytes */
/* RESULT (untagged bytes made from SRC by a transformation the tags cannot follow) with
 * the whole of it tagged as SRC's first tag, if SRC has one. */
const jstr *js_derived(jinja_ctx *c, const jstr *result, const jstr *src);
bool js_eq(const jstr *a, const char *lit);
/* The first (LAST: the last) occurrence of N (NN bytes) in H (HN bytes), or NULL. */
const char *jfind(jinja_ctx *c, const char *h, size_t hn, const char *n, size_t nn, bool last);

void jb_put(jinja_ctx *c, jbuf *b, const char *s, size_t n);
void jb_puts(jinja_ctx *c, jbuf *b, const char *s);
void jb_put_tagged(jinja_ctx *c, jbuf *b, const char *s, size_t n, uint32_t msg);
void jb_put_str(jinja_ctx *c, jbuf *b, const jstr *s);                 /* with its tags */
void jb_put_sub(jinja_ctx *c, jbuf *b, const jstr *s, size_t off, size_t n);
/* Marks N bytes of B from START as message MSG's (in order, after any earlier tag). */
void jb_tag(jinja_ctx *c, jbuf *b, size_t start, size_t n, uint32_t msg);
const jstr *jb_finish(jinja_ctx *c, jbuf *b);

/* UTF-8 as Python's str sees it: one code point per valid sequence, one per stray byte. */
size_t u8_next(const char *s, size_t len, size_t i);
size_t u8_count(jinja_ctx *c, const char *s, size_t len);
size_t u8_offset(jinja_ctx *c, const char *s, size_t len, size_t cp); /* byte offset of code point CP */
uint32_t u8_decode(const char *s, size_t len, size_t i, size_t *next); /* stray byte: 0xDC80+b */
void u8_encode(jinja_ctx *c, jbuf *b, uint32_t cp);
bool py_isspace(uint32_t cp); /* str.isspace() */

/* ---- values (jinja_value.c) ---- */

jlist *jl_new(jinja_ctx *c, size_t cap);
void jl_push(jinja_ctx *c, jlist *l, jv v);
jdict *jd_new(jinja_ctx *c);
jv *jd_find(jinja_ctx *c, const jdict *d, jv key);
jv *jd_find_str(jinja_ctx *c, const jdict *d, const char *key, size_t len);
void jd_set(jinja_ctx *c, jdict *d, jv key, jv val);

const char *jv_type_name(jv v); /* Python's: str, int, list, dict, NoneType, ... */
bool jv_truthy(jv v);
bool jv_is_str(jv v, const char *lit);
bool jv_equal(jinja_ctx *c, jv a, jv b);
/* a < b: -1, 0, 1; a type error ends the render. */
int jv_compare(jinja_ctx *c, int line, jv a, jv b);
/* Python's str(V) written to B (an undefined value writes nothing). */
void jv_write(jinja_ctx *c, jbuf *b, jv v);
void jv_write_repr(jinja_ctx *c, jbuf *b, jv v);
/* str(V) as a string (V itself when it is one). */
const jstr *jv_to_str(jinja_ctx *c, jv v);
/* Python's float repr: shortest text that reads back the same. */
void py_float_repr(double f, char out[40]);
/* Fails the render when V is undefined (using it as an operand). */
void jv_need(jinja_ctx *c, int line, jv v);

/* json.dumps(V, ensure_ascii=False, indent=INDENT, separators=..., sort_keys=...). */
typedef struct jjson_opts {
    int indent;            /* < 0: none */
    const jstr *item_sep;  /* NULL: ", " (or "," with an indent) */
    const jstr *key_sep;   /* NULL: ": " */
    bool sort_keys, ensure_ascii;
} jjson_opts;
void jv_write_json(jinja_ctx *c, jbuf *b, jv v, const jjson_opts *o, int line);
/* Parses JSON; fails the render on malformed text. */
jv jjson_parse(jinja_ctx *c, const char *text, size_t len);

/* ---- the tree (jinja_parse.c) ---- */

typedef enum {
    /* statements */
    N_BODY, N_TEXT, N_OUTPUT, N_IF, N_FOR, N_SET, N_SET_BLOCK, N_MACRO, N_CALL_BLOCK,
    N_FILTER_BLOCK, N_WITH, N_BREAK, N_CONTINUE,
    /* expressions */
    E_CONST, E_NAME, E_LIST, E_TUPLE, E_DICT, E_ATTR, E_ITEM, E_SLICE, E_CALL, E_FILTER,
    E_TEST, E_NOT, E_NEG, E_POS, E_AND, E_OR, E_BINOP, E_CMP, E_COND, E_PARAM
} jnode_kind;

typedef enum { OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_FLOORDIV, OP_MOD, OP_POW, OP_CONCAT } jbinop;
typedef enum { CMP_EQ, CMP_NE, CMP_LT, CMP_LE, CMP_GT, CMP_GE, CMP_IN, CMP_NOT_IN } jcmp;

/* Children by kind:
 *   N_BODY        kid[]: statements              N_TEXT, E_CONST  value
 *   N_OUTPUT      kid[0] expression
 *   N_IF          kid[]: cond, body, cond, body, ... [, else body]
 *   N_FOR         kid[0] target, [1] iterable, [2] filter or NULL, [3] body, [4] else or NULL
 *   N_SET         kid[0] target (E_NAME, E_ATTR, E_TUPLE), [1] value
 *   N_SET_BLOCK   kid[0] target, [1] body
 *   N_MACRO       name; kid[0] body, kid[1..] E_PARAM (name, kid[0] default or NULL)
 *   N_CALL_BLOCK  kid[0] E_CALL, [1] body, [2..] E_PARAM of caller()
 *   N_FILTER_BLOCK kid[0] body, [1] E_FILTER whose operand is NULL (the body's output)
 *   N_WITH        kid[]: N_SET..., body last
 *   E_NAME        name                E_ATTR  kid[0] object, name
 *   E_LIST, E_TUPLE kid[] items       E_DICT  kid[]: key, value, key, value, ...
 *   E_ITEM        kid[0] object, [1] index
 *   E_SLICE       kid[0] object, [1] start, [2] stop, [3] step (each may be NULL)
 *   E_CALL        kid[0] callee, kid[1..] arguments (kw[i] names keyword ones)
 *   E_FILTER      kid[0] operand, kid[1..] arguments (kw[i]); op = filter id, name
 *   E_TEST        kid[0] operand, kid[1..] arguments; op = test id, neg
 *   E_NOT, E_NEG, E_POS kid[0]        E_AND, E_OR, E_BINOP (op), E_CMP (op) kid[0], [1]
 *   E_COND        kid[0] condition, [1] then, [2] else or NULL */
struct jnode {
    uint8_t kind;
    uint8_t neg;
    uint16_t op;
    int line;
    const char *name;
    jv value;
    jnode **kid;
    const char **kw; /* per child: keyword name, or NULL (calls, filters, tests) */
    uint32_t n_kid;
};

struct jinja_template {
    jarena arena;
    jnode *root;
};

/* ---- tokens (jinja_lex.c) ---- */

typedef enum {
    T_EOF, T_TEXT, T_VAR_BEGIN, T_VAR_END, T_BLOCK_BEGIN, T_BLOCK_END,
    T_NAME, T_STRING, T_INT, T_FLOAT, T_OP
} jtok_type;

typedef struct jtok {
    uint8_t type;
    int line;
    const char *s; /* T_TEXT, T_STRING: the value (decoded); others: the source text */
    size_t len;
} jtok;

/* Tokenizes SRC into *TOKS (allocated in A). 0, or -1 with ERR. */
int jinja_lex(jarena *a, const char *src, size_t len, jtok **toks, size_t *n_toks, char *err,
              size_t errlen);

/* ---- builtins (jinja_builtins.c) ---- */

/* Filter and test ids by name; -1 if unknown. */
int jfilter_id(const char *name);
int jtest_id(const char *name);
/* A global function's id by name (range, namespace, ...); -1 if not one. */
int jfunc_id(const char *name);
const char *jfunc_name(int id);

/* Evaluated call arguments. */
typedef struct jargs {
    const jv *v;
    const char *const *kw; /* kw[i]: keyword name of v[i], or NULL */
    size_t n;
    int line;
} jargs;

jv jfilter_apply(jinja_ctx *c, int id, jv in, const jargs *a);
bool jtest_apply(jinja_ctx *c, int id, jv in, const jargs *a);
jv jfunc_call(jinja_ctx *c, int id, const jargs *a);
/* Python's FORMAT % ARGS. */
jv jformat_percent(jinja_ctx *c, int line, const jstr *fmt, jv args);
/* The method NAME of V bound to it, or an undefined value if V has none. */
jv jmethod_get(jinja_ctx *c, jv v, const char *name);
jv jmethod_call(jinja_ctx *c, const jmethod *m, const jargs *a);

/* ---- evaluation (jinja_eval.c), used by the builtins ---- */

/* Calls a macro, a function or a method. */
jv jcall(jinja_ctx *c, jv callee, const jargs *a);
jv jgetattr(jinja_ctx *c, int line, jv obj, const char *name);
jv jgetitem(jinja_ctx *c, int line, jv obj, jv key);
/* Iterates V (list, tuple, dict keys, string code points, undefined: nothing) as a list. */
jlist *jiterate(jinja_ctx *c, int line, jv v);

#endif
