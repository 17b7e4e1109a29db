/* jinja_parse.c — tokens to a tree, by recursive descent in jinja2's own precedence:
 *
 *   expression  := or ["if" or ["else" expression]]
 *   or          := and {"or" and}          and := not {"and" not}
 *   not         := "not" not | compare
 *   compare     := add {("==" | "!=" | "<" | "<=" | ">" | ">=" | "in" | "not in") add}
 *   add         := concat {("+" | "-") concat}       concat := mul {"~" mul}
 *   mul         := pow {("*" | "/" | "//" | "%") pow}   pow := unary {"**" unary}
 *   unary       := ("-" | "+") unary | primary postfix {"|" filter | "is" test | call}
 *   postfix     := {"." name | "[" subscript "]" | "(" arguments ")"}
 *
 * so "not x is defined" is "not (x is defined)" and "a + b | trim" trims only b. Filter
 * and test names are looked up here: an unknown one is a parse error, as in jinja2, which
 * lets a caller fall back before rendering anything. */
#include "jinja_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_NESTING 200
#define JINJA_MAX_SOURCE (4 << 20)

typedef struct parser {
    jarena *a;
    const jtok *t;
    size_t n, i;
    int nesting, loops;
    char *err;
    size_t errlen;
    jmp_buf jmp;
} parser;

_Noreturn static void pfail(parser *P, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void pfail(parser *P, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    jerr_format(P->err, P->errlen, P->t[P->i].line, fmt, ap);
    va_end(ap);
    longjmp(P->jmp, 1);
}

static void *palloc(parser *P, size_t n) {
    void *p = jarena_alloc(P->a, n);
    if (!p) pfail(P, "out of memory");
    memset(p, 0, n);
    return p;
}

/* ---- tokens ---- */

static const jtok *cur(parser *P) { return &P->t[P->i]; }
static const jtok *look(parser *P) { return &P->t[P->i + 1 < P->n ? P->i + 1 : P->i]; }
static void advance(parser *P) {
    if (P->i + 1 < P->n) P->i++;
}

static bool tok_is(const jtok *t, jtok_type type, const char *text) {
    if (t->type != type) return false;
    size_t k = strlen(text);
    return t->len == k && memcmp(t->s, text, k) == 0;
}
static bool is_op(parser *P, const char *op) { return tok_is(cur(P), T_OP, op); }
static bool is_name(parser *P, const char *kw) { return tok_is(cur(P), T_NAME, kw); }
static bool skip_op(parser *P, const char *op) {
    if (!is_op(P, op)) return false;
    advance(P);
    return true;
}
static bool skip_name(parser *P, const char *kw) {
    if (!is_name(P, kw)) return false;
    advance(P);
    return true;
}

static const char *describe(const jtok *t) {
    switch (t->type) {
    case T_EOF: return "the end of the template";
    case T_TEXT: return "text";
    case T_VAR_END: return "'}}'";
    case T_BLOCK_END: return "'%}'";
    case T_VAR_BEGIN: return "'{{'";
    case T_BLOCK_BEGIN: return "'{%'";
    case T_STRING: return "a string";
    default: return NULL;
    }
}

_Noreturn static void unexpected(parser *P, const char *wanted) {
    const jtok *t = cur(P);
    const char *what = describe(t);
    if (what) pfail(P, "expected %s, found %s", wanted, what);
    pfail(P, "expected %s, found '%.*s'", wanted, (int)(t->len > 40 ? 40 : t->len), t->s);
}

static void expect_op(parser *P, const char *op) {
    if (!skip_op(P, op)) {
        char want[16];
        snprintf(want, sizeof want, "'%s'", op);
        unexpected(P, want);
    }
}

static void expect_type(parser *P, jtok_type type, const char *what) {
    if (cur(P)->type != type) unexpected(P, what);
    advance(P);
}

static const char *name_text(parser *P, const jtok *t) {
    char *s = palloc(P, t->len + 1);
    memcpy(s, t->s, t->len);
    return s;
}

static const char *expect_name(parser *P, const char *what) {
    if (cur(P)->type != T_NAME) unexpected(P, what);
    const char *s = name_text(P, cur(P));
    advance(P);
    return s;
}

/* ---- nodes ---- */

typedef struct kids {
    jnode *v[16], **heap;
    const char *kw[16], **kw_heap;
    size_t n, cap;
} kids;

static void kid_push(parser *P, kids *k, jnode *n, const char *kw) {
    if (k->n == 16 && !k->heap) {
        k->cap = 32;
        k->heap = palloc(P, k->cap * sizeof *k->heap);
        k->kw_heap = palloc(P, k->cap * sizeof *k->kw_heap);
        memcpy(k->heap, k->v, sizeof k->v);
        memcpy(k->kw_heap, k->kw, sizeof k->kw);
    } else if (k->heap && k->n == k->cap) {
        jnode **h = palloc(P, 2 * k->cap * sizeof *h);
        const char **w = palloc(P, 2 * k->cap * sizeof *w);
        memcpy(h, k->heap, k->n * sizeof *h);
        memcpy(w, k->kw_heap, k->n * sizeof *w);
        k->heap = h;
        k->kw_heap = w;
        k->cap *= 2;
    }
    (k->heap ? k->heap : k->v)[k->n] = n;
    (k->kw_heap ? k->kw_heap : k->kw)[k->n] = kw;
    k->n++;
}

static jnode *mk(parser *P, jnode_kind kind, int line, uint32_t n_kid) {
    jnode *n = palloc(P, sizeof *n);
    n->kind = (uint8_t)kind;
    n->line = line;
    n->n_kid = n_kid;
    if (n_kid) n->kid = palloc(P, n_kid * sizeof *n->kid);
    return n;
}

static jnode *mk_kids(parser *P, jnode_kind kind, int line, const kids *k, bool with_kw) {
    jnode *n = mk(P, kind, line, (uint32_t)k->n);
    if (k->n) memcpy(n->kid, k->heap ? k->heap : k->v, k->n * sizeof *n->kid);
    if (with_kw && k->n) {
        n->kw = palloc(P, k->n * sizeof *n->kw);
        memcpy(n->kw, k->kw_heap ? k->kw_heap : k->kw, k->n * sizeof *n->kw);
    }
    return n;
}

static jnode *mk2(parser *P, jnode_kind kind, int line, jnode *a, jnode *b) {
    jnode *n = mk(P, kind, line, 2);
    n->kid[0] = a;
    n->kid[1] = b;
    return n;
}

static jstr *const_str(parser *P, const char *s, size_t len) {
    jstr *j = palloc(P, sizeof *j);
    j->s = s;
    j->len = len;
    return j;
}

static void enter(parser *P) {
    if (++P->nesting > MAX_NESTING) pfail(P, "the template nests deeper than %d levels", MAX_NESTING);
}

/* ---- expressions ---- */

static jnode *parse_expression(parser *P);
static jnode *parse_or(parser *P);
static jnode *parse_unary(parser *P, bool with_filter);
static jnode *parse_tuple(parser *P, bool with_condexpr, bool explicit_parens);

static bool is_tuple_end(parser *P) {
    jtok_type t = (jtok_type)cur(P)->type;
    return t == T_VAR_END || t == T_BLOCK_END || t == T_EOF || is_op(P, ")") || is_name(P, "in");
}

/* ( [arg {, arg}] ) where arg is EXPR or NAME=EXPR; appended to K after its first child. */
static void parse_args(parser *P, kids *k) {
    expect_op(P, "(");
    bool kw_seen = false;
    while (!is_op(P, ")")) {
        if (is_op(P, "*") || is_op(P, "**")) pfail(P, "*args and **kwargs in calls are not supported");
        if (cur(P)->type == T_NAME && tok_is(look(P), T_OP, "=")) {
            const char *kw = expect_name(P, "a name");
            advance(P);
            kid_push(P, k, parse_expression(P), kw);
            kw_seen = true;
        } else {
            if (kw_seen) pfail(P, "a positional argument after a keyword argument");
            kid_push(P, k, parse_expression(P), NULL);
        }
        if (!skip_op(P, ",")) break;
    }
    expect_op(P, ")");
}

static jnode *parse_call(parser *P, jnode *callee) {
    kids k = {0};
    kid_push(P, &k, callee, NULL);
    int line = cur(P)->line;
    parse_args(P, &k);
    return mk_kids(P, E_CALL, line, &k, true);
}

static const char *dotted_name(parser *P, const char *what) {
    const char *name = expect_name(P, what);
    while (is_op(P, ".") && look(P)->type == T_NAME) {
        advance(P);
        const char *more = expect_name(P, what);
        char *joined = palloc(P, strlen(name) + strlen(more) + 2);
        sprintf(joined, "%s.%s", name, more);
        name = joined;
    }
    return name;
}

static jnode *parse_filter(parser *P, jnode *operand) {
    int line = cur(P)->line;
    expect_op(P, "|");
    const char *name = dotted_name(P, "a filter name");
    int id = jfilter_id(name);
    if (id < 0) pfail(P, "no filter named '%s'", name);
    kids k = {0};
    kid_push(P, &k, operand, NULL);
    if (is_op(P, "(")) parse_args(P, &k);
    jnode *n = mk_kids(P, E_FILTER, line, &k, true);
    n->op = (uint16_t)id;
    n->name = name;
    return n;
}

static jnode *parse_postfix(parser *P, jnode *node);
static jnode *parse_primary(parser *P);

static jnode *parse_test(parser *P, jnode *operand) {
    int line = cur(P)->line;
    advance(P); /* "is" */
    bool neg = skip_name(P, "not");
    const char *name = dotted_name(P, "a test name");
    int id = jtest_id(name);
    if (id < 0) pfail(P, "no test named '%s'", name);
    kids k = {0};
    kid_push(P, &k, operand, NULL);
    const jtok *t = cur(P);
    if (is_op(P, "(")) {
        parse_args(P, &k);
    } else if ((t->type == T_NAME || t->type == T_STRING || t->type == T_INT || t->type == T_FLOAT ||
                is_op(P, "[") || is_op(P, "{")) &&
               !is_name(P, "else") && !is_name(P, "or") && !is_name(P, "and")) {
        if (is_name(P, "is")) pfail(P, "tests cannot be chained with 'is'");
        kid_push(P, &k, parse_postfix(P, parse_primary(P)), NULL);
    }
    jnode *n = mk_kids(P, E_TEST, line, &k, true);
    n->op = (uint16_t)id;
    n->neg = neg;
    n->name = name;
    return n;
}

static jnode *parse_subscript(parser *P, jnode *obj) {
    int line = cur(P)->line;
    expect_op(P, "[");
    jnode *part[3] = {NULL, NULL, NULL};
    int n = 0;
    bool slice = false;
    for (;;) {
        if (!is_op(P, ":") && !is_op(P, "]")) part[n] = parse_expression(P);
        if (n < 2 && skip_op(P, ":")) {
            slice = true;
            n++;
            continue;
        }
        break;
    }
    expect_op(P, "]");
    if (!slice) {
        if (!part[0]) pfail(P, "empty subscript");
        return mk2(P, E_ITEM, line, obj, part[0]);
    }
    jnode *s = mk(P, E_SLICE, line, 4);
    s->kid[0] = obj;
    for (int k = 0; k < 3; k++) s->kid[k + 1] = part[k];
    return s;
}

static jnode *parse_postfix(parser *P, jnode *node) {
    for (;;) {
        int line = cur(P)->line;
        if (is_op(P, ".")) {
            advance(P);
            if (cur(P)->type == T_INT) { /* x.0 is x[0] */
                jnode *idx = mk(P, E_CONST, line, 0);
                idx->value = jv_int(strtoll(cur(P)->s, NULL, 10));
                advance(P);
                node = mk2(P, E_ITEM, line, node, idx);
                continue;
            }
            jnode *a = mk(P, E_ATTR, line, 1);
            a->kid[0] = node;
            a->name = expect_name(P, "an attribute name");
            node = a;
        } else if (is_op(P, "[")) {
            node = parse_subscript(P, node);
        } else if (is_op(P, "(")) {
            node = parse_call(P, node);
        } else {
            return node;
        }
    }
}

static jnode *parse_filter_expr(parser *P, jnode *node) {
    for (;;) {
        if (is_op(P, "|")) node = parse_filter(P, node);
        else if (is_name(P, "is")) node = parse_test(P, node);
        else if (is_op(P, "(")) node = parse_call(P, node);
        else return node;
    }
}

static jnode *parse_number(parser *P) {
    const jtok *t = cur(P);
    char buf[128];
    size_t k = 0;
    for (size_t i = 0; i < t->len && k + 1 < sizeof buf; i++)
        if (t->s[i] != '_') buf[k++] = t->s[i];
    buf[k] = '\0';
    jnode *n = mk(P, E_CONST, t->line, 0);
    errno = 0;
    if (t->type == T_INT) {
        long long v = strtoll(buf, NULL, 10);
        if (errno) pfail(P, "integer %s is too large", buf);
        n->value = jv_int(v);
    } else {
        n->value = jv_float(strtod(buf, NULL));
    }
    advance(P);
    return n;
}

static jnode *parse_primary(parser *P) {
    const jtok *t = cur(P);
    int line = t->line;
    if (t->type == T_NAME) {
        jnode *n = mk(P, E_CONST, line, 0);
        if (is_name(P, "true") || is_name(P, "True")) n->value = jv_bool(true);
        else if (is_name(P, "false") || is_name(P, "False")) n->value = jv_bool(false);
        else if (is_name(P, "none") || is_name(P, "None")) n->value = jv_none();
        else {
            n->kind = E_NAME;
            n->name = name_text(P, t);
        }
        advance(P);
        return n;
    }
    if (t->type == T_STRING) { /* adjacent strings are one */
        size_t len = 0, i = P->i;
        while (P->t[i].type == T_STRING) len += P->t[i++].len;
        char *s = palloc(P, len + 1);
        len = 0;
        while (cur(P)->type == T_STRING) {
            memcpy(s + len, cur(P)->s, cur(P)->len);
            len += cur(P)->len;
            advance(P);
        }
        jnode *n = mk(P, E_CONST, line, 0);
        n->value = jv_str(const_str(P, s, len));
        return n;
    }
    if (t->type == T_INT || t->type == T_FLOAT) return parse_number(P);
    if (skip_op(P, "(")) {
        jnode *n = parse_tuple(P, true, true);
        expect_op(P, ")");
        return n;
    }
    if (skip_op(P, "[")) {
        kids k = {0};
        while (!is_op(P, "]")) {
            kid_push(P, &k, parse_expression(P), NULL);
            if (!skip_op(P, ",")) break;
        }
        expect_op(P, "]");
        return mk_kids(P, E_LIST, line, &k, false);
    }
    if (skip_op(P, "{")) {
        kids k = {0};
        while (!is_op(P, "}")) {
            kid_push(P, &k, parse_expression(P), NULL);
            expect_op(P, ":");
            kid_push(P, &k, parse_expression(P), NULL);
            if (!skip_op(P, ",")) break;
        }
        expect_op(P, "}");
        return mk_kids(P, E_DICT, line, &k, false);
    }
    unexpected(P, "an expression");
}

static jnode *parse_unary(parser *P, bool with_filter) {
    enter(P);
    int line = cur(P)->line;
    jnode *node;
    if (skip_op(P, "-")) {
        node = mk(P, E_NEG, line, 1);
        node->kid[0] = parse_unary(P, false);
    } else if (skip_op(P, "+")) {
        node = mk(P, E_POS, line, 1);
        node->kid[0] = parse_unary(P, false);
    } else {
        node = parse_primary(P);
    }
    node = parse_postfix(P, node);
    if (with_filter) node = parse_filter_expr(P, node);
    P->nesting--;
    return node;
}

/* The arithmetic levels, loosest first: each level's operands are expressions of the
 * next level, the last level's are unary expressions. All are left-associative, as in
 * jinja2 (so 2 ** 3 ** 2 is 64). */
typedef struct op_name {
    const char *text;
    jbinop op;
} op_name;
static const op_name LEVEL_ADD[] = {{"+", OP_ADD}, {"-", OP_SUB}, {NULL, 0}};
static const op_name LEVEL_CONCAT[] = {{"~", OP_CONCAT}, {NULL, 0}};
static const op_name LEVEL_MUL[] = {{"*", OP_MUL}, {"/", OP_DIV}, {"//", OP_FLOORDIV}, {"%", OP_MOD}, {NULL, 0}};
static const op_name LEVEL_POW[] = {{"**", OP_POW}, {NULL, 0}};
static const op_name *const LEVELS[] = {LEVEL_ADD, LEVEL_CONCAT, LEVEL_MUL, LEVEL_POW};

static jnode *parse_arith(parser *P, size_t level) {
    if (level == sizeof LEVELS / sizeof LEVELS[0]) return parse_unary(P, true);
    jnode *left = parse_arith(P, level + 1);
    for (;;) {
        const op_name *o = LEVELS[level];
        while (o->text && !is_op(P, o->text)) o++;
        if (!o->text) return left;
        int line = cur(P)->line;
        advance(P);
        jnode *n = mk2(P, E_BINOP, line, left, parse_arith(P, level + 1));
        n->op = (uint16_t)o->op;
        left = n;
    }
}

/* a < b < c is (a < b) and (b < c), b written once but evaluated twice (it has no side
 * effects in a template). */
static jnode *parse_compare(parser *P) {
    jnode *expr = parse_arith(P, 0), *left = expr, *result = NULL;
    for (;;) {
        int line = cur(P)->line;
        jcmp op;
        if (is_op(P, "==")) op = CMP_EQ;
        else if (is_op(P, "!=")) op = CMP_NE;
        else if (is_op(P, "<")) op = CMP_LT;
        else if (is_op(P, "<=")) op = CMP_LE;
        else if (is_op(P, ">")) op = CMP_GT;
        else if (is_op(P, ">=")) op = CMP_GE;
        else if (is_name(P, "in")) op = CMP_IN;
        else if (is_name(P, "not") && tok_is(look(P), T_NAME, "in")) {
            advance(P);
            op = CMP_NOT_IN;
        } else {
            return result ? result : expr;
        }
        advance(P);
        jnode *right = parse_arith(P, 0);
        jnode *cmp = mk2(P, E_CMP, line, left, right);
        cmp->op = (uint16_t)op;
        result = result ? mk2(P, E_AND, line, result, cmp) : cmp;
        left = right;
    }
}

static jnode *parse_not(parser *P) {
    if (is_name(P, "not")) {
        enter(P);
        int line = cur(P)->line;
        advance(P);
        jnode *n = mk(P, E_NOT, line, 1);
        n->kid[0] = parse_not(P);
        P->nesting--;
        return n;
    }
    return parse_compare(P);
}

static jnode *parse_and(parser *P) {
    jnode *left = parse_not(P);
    while (is_name(P, "and")) {
        int line = cur(P)->line;
        advance(P);
        left = mk2(P, E_AND, line, left, parse_not(P));
    }
    return left;
}

static jnode *parse_or(parser *P) {
    jnode *left = parse_and(P);
    while (is_name(P, "or")) {
        int line = cur(P)->line;
        advance(P);
        left = mk2(P, E_OR, line, left, parse_and(P));
    }
    return left;
}

static jnode *parse_expression(parser *P) {
    enter(P);
    jnode *e = parse_or(P);
    while (is_name(P, "if")) {
        int line = cur(P)->line;
        advance(P);
        jnode *c = mk(P, E_COND, line, 3);
        c->kid[0] = parse_or(P);
        c->kid[1] = e;
        c->kid[2] = skip_name(P, "else") ? parse_expression(P) : NULL;
        e = c;
    }
    P->nesting--;
    return e;
}

static jnode *parse_tuple(parser *P, bool with_condexpr, bool explicit_parens) {
    int line = cur(P)->line;
    kids k = {0};
    bool tuple = false;
    if (explicit_parens && is_op(P, ")")) return mk_kids(P, E_TUPLE, line, &k, false); /* () */
    for (;;) {
        if (k.n && is_tuple_end(P)) break;
        kid_push(P, &k, with_condexpr ? parse_expression(P) : parse_or(P), NULL);
        if (!skip_op(P, ",")) break;
        tuple = true;
    }
    if (!tuple && k.n == 1) return k.v[0];
    if (k.n == 0 && !explicit_parens) unexpected(P, "an expression");
    return mk_kids(P, E_TUPLE, line, &k, false);
}

/* ---- statements ---- */

static jnode *parse_body(parser *P, const char *const *ends);

/* NAME, NAME.ATTR (when ALLOW_ATTR), or a tuple of names. */
static jnode *parse_target(parser *P, bool allow_attr) {
    int line = cur(P)->line;
    bool parens = skip_op(P, "(");
    kids k = {0};
    for (;;) {
        jnode *n = mk(P, E_NAME, cur(P)->line, 0);
        n->name = expect_name(P, "a variable name");
        if (allow_attr && !parens && k.n == 0 && is_op(P, ".")) {
            advance(P);
            jnode *a = mk(P, E_ATTR, line, 1);
            a->kid[0] = n;
            a->name = expect_name(P, "an attribute name");
            return a;
        }
        kid_push(P, &k, n, NULL);
        if (!skip_op(P, ",")) break;
        if (!parens && (is_op(P, "=") || is_name(P, "in"))) break;
        if (parens && is_op(P, ")")) break;
    }
    if (parens) expect_op(P, ")");
    if (k.n == 1 && !parens) return k.v[0];
    return mk_kids(P, E_TUPLE, line, &k, false);
}

static void end_tag(parser *P) { expect_type(P, T_BLOCK_END, "'%}'"); }

/* Consumes "{% NAME ... %}" of a closing tag that parse_body stopped at. */
static void close_tag(parser *P) {
    advance(P); /* {% */
    advance(P); /* the name */
    while (cur(P)->type == T_NAME) advance(P); /* "endmacro name" */
    end_tag(P);
}

static const char *const END_IF[] = {"elif", "else", "endif", NULL};
static const char *const END_FOR[] = {"else", "endfor", NULL};
static const char *const ONLY_ENDFOR[] = {"endfor", NULL};

static jnode *parse_if(parser *P, int line) {
    kids k = {0};
    for (;;) {
        kid_push(P, &k, parse_tuple(P, true, false), NULL);
        end_tag(P);
        kid_push(P, &k, parse_body(P, END_IF), NULL);
        advance(P); /* {% */
        if (skip_name(P, "elif")) continue;
        if (skip_name(P, "else")) {
            end_tag(P);
            static const char *const END[] = {"endif", NULL};
            kid_push(P, &k, parse_body(P, END), NULL);
            advance(P);
        }
        expect_name(P, "'endif'");
        end_tag(P);
        return mk_kids(P, N_IF, line, &k, false);
    }
}

static jnode *parse_for(parser *P, int line) {
    jnode *n = mk(P, N_FOR, line, 5);
    n->kid[0] = parse_target(P, false);
    if (!skip_name(P, "in")) unexpected(P, "'in'");
    n->kid[1] = parse_tuple(P, false, false);
    if (skip_name(P, "if")) n->kid[2] = parse_expression(P);
    if (is_name(P, "recursive")) pfail(P, "recursive loops are not supported");
    end_tag(P);
    P->loops++;
    n->kid[3] = parse_body(P, END_FOR);
    P->loops--;
    advance(P);
    if (skip_name(P, "else")) {
        end_tag(P);
        n->kid[4] = parse_body(P, ONLY_ENDFOR);
        advance(P);
    }
    expect_name(P, "'endfor'");
    end_tag(P);
    return n;
}

static jnode *parse_set(parser *P, int line) {
    jnode *target = parse_target(P, true);
    if (skip_op(P, "=")) {
        jnode *n = mk2(P, N_SET, line, target, parse_tuple(P, true, false));
        end_tag(P);
        return n;
    }
    if (target->kind != E_NAME) pfail(P, "a block set needs a plain name");
    if (is_op(P, "|")) pfail(P, "filters on a block set are not supported");
    end_tag(P);
    static const char *const END[] = {"endset", NULL};
    jnode *n = mk2(P, N_SET_BLOCK, line, target, parse_body(P, END));
    close_tag(P);
    return n;
}

/* ( NAME [= default] {, NAME [= default]} ) after a macro's name, or a call block's. */
static void parse_params(parser *P, kids *k) {
    expect_op(P, "(");
    while (!is_op(P, ")")) {
        jnode *p = mk(P, E_PARAM, cur(P)->line, 1);
        p->name = expect_name(P, "a parameter name");
        if (skip_op(P, "=")) p->kid[0] = parse_expression(P);
        kid_push(P, k, p, NULL);
        if (!skip_op(P, ",")) break;
    }
    expect_op(P, ")");
}

static jnode *parse_macro(parser *P, int line) {
    const char *name = expect_name(P, "a macro name");
    kids k = {0};
    kid_push(P, &k, NULL, NULL); /* the body, below */
    parse_params(P, &k);
    end_tag(P);
    int loops = P->loops;
    P->loops = 0;
    static const char *const END[] = {"endmacro", NULL};
    jnode *body = parse_body(P, END);
    P->loops = loops;
    close_tag(P);
    jnode *n = mk_kids(P, N_MACRO, line, &k, false);
    n->kid[0] = body;
    n->name = name;
    return n;
}

static jnode *parse_call_block(parser *P, int line) {
    kids k = {0};
    kid_push(P, &k, NULL, NULL);
    kid_push(P, &k, NULL, NULL);
    if (is_op(P, "(")) parse_params(P, &k);
    jnode *call = parse_expression(P);
    if (call->kind != E_CALL) pfail(P, "a call block needs a call");
    end_tag(P);
    static const char *const END[] = {"endcall", NULL};
    jnode *body = parse_body(P, END);
    close_tag(P);
    jnode *n = mk_kids(P, N_CALL_BLOCK, line, &k, false);
    n->kid[0] = call;
    n->kid[1] = body;
    return n;
}

static jnode *parse_filter_block(parser *P, int line) {
    jnode *f = NULL;
    do {
        jnode *prev = f;
        int fl = cur(P)->line;
        const char *name = dotted_name(P, "a filter name");
        int id = jfilter_id(name);
        if (id < 0) pfail(P, "no filter named '%s'", name);
        kids k = {0};
        kid_push(P, &k, prev, NULL);
        if (is_op(P, "(")) parse_args(P, &k);
        f = mk_kids(P, E_FILTER, fl, &k, true);
        f->op = (uint16_t)id;
        f->name = name;
    } while (skip_op(P, "|"));
    end_tag(P);
    static const char *const END[] = {"endfilter", NULL};
    jnode *n = mk2(P, N_FILTER_BLOCK, line, parse_body(P, END), f);
    close_tag(P);
    return n;
}

static jnode *parse_with(parser *P, int line) {
    kids k = {0};
    while (cur(P)->type != T_BLOCK_END) {
        int l = cur(P)->line;
        jnode *target = parse_target(P, false);
        expect_op(P, "=");
        kid_push(P, &k, mk2(P, N_SET, l, target, parse_expression(P)), NULL);
        if (!skip_op(P, ",")) break;
    }
    end_tag(P);
    static const char *const END[] = {"endwith", NULL};
    kid_push(P, &k, parse_body(P, END), NULL);
    close_tag(P);
    return mk_kids(P, N_WITH, line, &k, false);
}

static jnode *parse_statement(parser *P) {
    advance(P); /* {% */
    int line = cur(P)->line;
    if (cur(P)->type != T_NAME) unexpected(P, "a tag name");
    enter(P);
    jnode *n;
    if (skip_name(P, "if")) n = parse_if(P, line);
    else if (skip_name(P, "for")) n = parse_for(P, line);
    else if (skip_name(P, "set")) n = parse_set(P, line);
    else if (skip_name(P, "macro")) n = parse_macro(P, line);
    else if (skip_name(P, "call")) n = parse_call_block(P, line);
    else if (skip_name(P, "filter")) n = parse_filter_block(P, line);
    else if (skip_name(P, "with")) n = parse_with(P, line);
    else if (is_name(P, "break") || is_name(P, "continue")) {
        bool brk = is_name(P, "break");
        if (!P->loops) pfail(P, "'%s' outside a loop", brk ? "break" : "continue");
        advance(P);
        end_tag(P);
        n = mk(P, brk ? N_BREAK : N_CONTINUE, line, 0);
    } else if (skip_name(P, "generation")) {
        /* transformers' AssistantTracker marks what the assistant wrote; the text is the body */
        end_tag(P);
        static const char *const END[] = {"endgeneration", NULL};
        n = parse_body(P, END);
        close_tag(P);
    } else {
        const jtok *t = cur(P);
        pfail(P, "the tag '%.*s' is not supported", (int)(t->len > 40 ? 40 : t->len), t->s);
    }
    P->nesting--;
    return n;
}

static bool at_end_tag(parser *P, const char *const *ends) {
    if (cur(P)->type != T_BLOCK_BEGIN || !ends) return false;
    const jtok *name = look(P);
    for (size_t i = 0; ends[i]; i++)
        if (tok_is(name, T_NAME, ends[i])) return true;
    return false;
}

/* Statements up to (not including) a "{% END %}" for END in ENDS, or the end of the
 * template when ENDS is NULL. */
static jnode *parse_body(parser *P, const char *const *ends) {
    int line = cur(P)->line;
    kids k = {0};
    for (;;) {
        const jtok *t = cur(P);
        if (t->type == T_EOF) {
            if (ends) {
                const char *closing = ends[0];
                for (size_t i = 0; ends[i]; i++)
                    if (strncmp(ends[i], "end", 3) == 0) closing = ends[i];
                pfail(P, "missing '{%% %s %%}' for the block opened on line %d", closing, line);
            }
            break;
        }
        if (at_end_tag(P, ends)) break;
        if (t->type == T_TEXT) {
            jnode *n = mk(P, N_TEXT, t->line, 0);
            n->value = jv_str(const_str(P, t->s, t->len));
            kid_push(P, &k, n, NULL);
            advance(P);
        } else if (t->type == T_VAR_BEGIN) {
            advance(P);
            jnode *n = mk(P, N_OUTPUT, t->line, 1);
            n->kid[0] = parse_tuple(P, true, false);
            expect_type(P, T_VAR_END, "'}}'");
            kid_push(P, &k, n, NULL);
        } else if (t->type == T_BLOCK_BEGIN) {
            if (look(P)->type == T_NAME) {
                const jtok *nm = look(P);
                if ((nm->len > 3 && memcmp(nm->s, "end", 3) == 0) || tok_is(nm, T_NAME, "elif") ||
                    tok_is(nm, T_NAME, "else")) {
                    advance(P);
                    pfail(P, "unexpected '%.*s'", (int)(nm->len > 40 ? 40 : nm->len), nm->s);
                }
            }
            kid_push(P, &k, parse_statement(P), NULL);
        } else {
            unexpected(P, "text or a tag");
        }
    }
    return mk_kids(P, N_BODY, line, &k, false);
}

jinja_template *jinja_parse(const char *src, size_t len, char *err, size_t errlen) {
    if (err && errlen) err[0] = '\0';
    jinja_template *volatile t = calloc(1, sizeof *t);
    if (!t) {
        if (err && errlen) snprintf(err, errlen, "out of memory");
        return NULL;
    }
    t->arena.limit = (size_t)256 << 20;
    if (len > JINJA_MAX_SOURCE) {
        if (err && errlen) snprintf(err, errlen, "the template is larger than %d MiB", JINJA_MAX_SOURCE >> 20);
        jinja_free(t);
        return NULL;
    }
    jtok *toks;
    size_t n_toks;
    if (jinja_lex(&t->arena, src, len, &toks, &n_toks, err, errlen) < 0) {
        jinja_free(t);
        return NULL;
    }
    parser P = {.a = &t->arena, .t = toks, .n = n_toks, .err = err, .errlen = errlen};
    if (setjmp(P.jmp)) {
        jinja_free(t);
        return NULL;
    }
    t->root = parse_body(&P, NULL);
    return t;
}

void jinja_free(jinja_template *t) {
    if (!t) return;
    jarena_free(&t->arena);
    free(t);
}
