/* jinja_eval.c — running a parsed template.
 *
 * Scopes follow jinja2: the template's top level is one frame (over the caller's
 * variables and the builtins); each for loop runs its body in a frame of its own, fresh
 * for every iteration, so a "set" inside a loop is gone after it (which is why templates
 * use namespace()); "if" opens no frame; a macro runs in a new frame whose parent is the
 * frame it was defined in, and sees names as they are when it is called.
 *
 * Every statement and expression counts one step against the budget and one level of
 * depth while it runs; output goes to the buffer on top (the render's, or a capture for
 * a macro call, a block set or a filter block). Errors longjmp to jinja_render. */
#include "jinja_impl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { FLOW_NORMAL, FLOW_BREAK, FLOW_CONTINUE } flow;

static flow exec(jinja_ctx *c, jframe *f, const jnode *n);
static jv eval(jinja_ctx *c, jframe *f, const jnode *n);

/* ---------------------------------------------------------------- frames ---- */

static jframe *frame_new(jinja_ctx *c, jframe *parent) {
    jframe *f = jalloc(c, sizeof *f);
    *f = (jframe){parent, NULL, 0, 0};
    return f;
}

static jv *frame_local(jframe *f, const char *name) {
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->vars[i].name, name) == 0) return &f->vars[i].v;
    return NULL;
}

static void frame_set(jinja_ctx *c, jframe *f, const char *name, jv v) {
    jwork(c, 0, f->n);
    jv *old = frame_local(f, name);
    if (old) {
        *old = v;
        return;
    }
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 8;
        f->vars = jgrow(c, f->vars, f->n * sizeof *f->vars, cap * sizeof *f->vars);
        f->cap = cap;
    }
    f->vars[f->n++] = (jvar){name, v};
}

static jv lookup(jinja_ctx *c, jframe *f, const char *name) {
    for (; f; f = f->parent) {
        jwork(c, 0, f->n);
        jv *v = frame_local(f, name);
        if (v) return *v;
    }
    return jv_undef(name, JU_NAME);
}

/* ---------------------------------------------------------------- access ---- */

static jv loop_attr(jinja_ctx *c, const jloop *l, const char *name) {
    size_t i = l->i, n = l->items->n;
    if (!strcmp(name, "index")) return jv_int((int64_t)i + 1);
    if (!strcmp(name, "index0")) return jv_int((int64_t)i);
    if (!strcmp(name, "revindex")) return jv_int((int64_t)(n - i));
    if (!strcmp(name, "revindex0")) return jv_int((int64_t)(n - i - 1));
    if (!strcmp(name, "first")) return jv_bool(i == 0);
    if (!strcmp(name, "last")) return jv_bool(i + 1 == n);
    if (!strcmp(name, "length")) return jv_int((int64_t)n);
    if (!strcmp(name, "depth")) return jv_int(1); /* nesting counts only in recursive loops */
    if (!strcmp(name, "depth0")) return jv_int(0);
    if (!strcmp(name, "previtem")) return i > 0 ? l->items->v[i - 1] : jv_undef("previtem", JU_ATTR);
    if (!strcmp(name, "nextitem")) return i + 1 < n ? l->items->v[i + 1] : jv_undef("nextitem", JU_ATTR);
    jv loop = {JV_LOOP, 0, {.loop = (jloop *)l}};
    return jmethod_get(c, loop, name);
}

jv jgetattr(jinja_ctx *c, int line, jv obj, const char *name) {
    jv_need(c, line, obj);
    switch (obj.t) {
    case JV_DICT: {
        /* a dict's own methods come first, as Python's getattr finds them */
        jv m = jmethod_get(c, obj, name);
        if (m.t != JV_UNDEF) return m;
        jv *v = jd_find_str(c, obj.u.d, name, strlen(name));
        return v ? *v : jv_undef(name, JU_ATTR);
    }
    case JV_NS: {
        jv *v = jd_find_str(c, obj.u.d, name, strlen(name));
        return v ? *v : jv_undef(name, JU_ATTR);
    }
    case JV_LOOP: return loop_attr(c, obj.u.loop, name);
    default: {
        jv m = jmethod_get(c, obj, name);
        return m.t != JV_UNDEF ? m : jv_undef(name, JU_ATTR);
    }
    }
}

/* Python's index I of a sequence of N items (negative counts from the end); -1 if out. */
static int64_t seq_index(jv key, size_t n) {
    int64_t i = key.t == JV_INT ? key.u.i : key.u.b;
    if (i < 0) i += (int64_t)n;
    return i >= 0 && (uint64_t)i < n ? i : -1;
}

jv jgetitem(jinja_ctx *c, int line, jv obj, jv key) {
    jv_need(c, line, obj);
    bool int_key = key.t == JV_INT || key.t == JV_BOOL;
    switch (obj.t) {
    case JV_DICT: case JV_NS: {
        jv *v = jd_find(c, obj.u.d, key);
        if (v) return *v;
        break;
    }
    case JV_LIST:
        if (int_key) {
            int64_t i = seq_index(key, obj.u.l->n);
            return i >= 0 ? obj.u.l->v[i] : jv_undef(NULL, JU_ITEM);
        }
        break;
    case JV_STR:
        if (int_key) {
            const jstr *s = obj.u.s;
            int64_t i = seq_index(key, u8_count(c, s->s, s->len));
            if (i < 0) return jv_undef(NULL, JU_ITEM);
            size_t off = u8_offset(c, s->s, s->len, (size_t)i);
            return jv_str(js_sub(c, s, off, u8_next(s->s, s->len, off) - off));
        }
        break;
    default: break;
    }
    if (key.t == JV_STR) { /* obj['name'] falls back to the attribute, as in jinja2 */
        char *name = jalloc(c, key.u.s->len + 1);
        memcpy(name, key.u.s->s, key.u.s->len);
        name[key.u.s->len] = '\0';
        if (obj.t == JV_LOOP) return loop_attr(c, obj.u.loop, name);
        jv m = jmethod_get(c, obj, name);
        if (m.t != JV_UNDEF) return m;
        return jv_undef(name, JU_ATTR);
    }
    return jv_undef(NULL, JU_ITEM);
}

jlist *jiterate(jinja_ctx *c, int line, jv v) {
    switch (v.t) {
    case JV_UNDEF: return jl_new(c, 0);
    case JV_LIST: return v.u.l;
    case JV_DICT: case JV_NS: {
        jwork(c, 0, v.u.d->n);
        jlist *l = jl_new(c, v.u.d->n);
        for (size_t i = 0; i < v.u.d->n; i++) jl_push(c, l, v.u.d->k[i]);
        return l;
    }
    case JV_STR: {
        const jstr *s = v.u.s;
        jwork(c, 0, s->len);
        jlist *l = jl_new(c, 0);
        for (size_t i = 0; i < s->len;) {
            size_t next = u8_next(s->s, s->len, i);
            jl_push(c, l, jv_str(js_sub(c, s, i, next - i)));
            i = next;
        }
        return l;
    }
    default: jfail(c, line, "'%s' object is not iterable", jv_type_name(v));
    }
}

/* Python's slice of a sequence of N items: the indices it visits. */
typedef struct slice_ix {
    int64_t start, stop, step;
} slice_ix;

static int64_t slice_bound(jinja_ctx *c, int line, jv v, int64_t dflt) {
    if (v.t == JV_NONE || v.t == JV_UNDEF) return dflt;
    if (v.t != JV_INT && v.t != JV_BOOL) jfail(c, line, "slice indices must be integers or None");
    return v.t == JV_INT ? v.u.i : v.u.b;
}

static slice_ix slice_indices(jinja_ctx *c, int line, jv start, jv stop, jv step, size_t len) {
    int64_t n = (int64_t)len;
    int64_t st = slice_bound(c, line, step, 1);
    if (st == 0) jfail(c, line, "slice step cannot be zero");
    if (st == INT64_MIN) st = -INT64_MAX;
    int64_t lo = st < 0 ? -1 : 0, hi = st < 0 ? n - 1 : n;
    int64_t a = slice_bound(c, line, start, st < 0 ? hi : lo);
    int64_t b = slice_bound(c, line, stop, st < 0 ? lo : hi);
    if (start.t == JV_INT || start.t == JV_BOOL) {
        if (a < 0) a = a < -n ? lo : a + n;
        else if (a > hi) a = hi;
    }
    if (stop.t == JV_INT || stop.t == JV_BOOL) {
        if (b < 0) b = b < -n ? lo : b + n;
        else if (b > hi) b = hi;
    }
    return (slice_ix){a, b, st};
}

static bool slice_more(const slice_ix *s, int64_t i) { return s->step > 0 ? i < s->stop : i > s->stop; }

static jv do_slice(jinja_ctx *c, int line, jv obj, jv start, jv stop, jv step) {
    jv_need(c, line, obj);
    if (obj.t == JV_LIST) {
        const jlist *l = obj.u.l;
        slice_ix s = slice_indices(c, line, start, stop, step, l->n);
        jlist *out = jl_new(c, 0);
        out->tuple = l->tuple;
        for (int64_t i = s.start; slice_more(&s, i); i += s.step) jl_push(c, out, l->v[i]);
        return jv_list(out);
    }
    if (obj.t != JV_STR) jfail(c, line, "'%s' object is not subscriptable", jv_type_name(obj));
    const jstr *str = obj.u.s;
    size_t n = u8_count(c, str->s, str->len);
    slice_ix s = slice_indices(c, line, start, stop, step, n);
    if (s.step == 1) {
        if (s.stop <= s.start) return jv_str(js_sub(c, str, 0, 0));
        size_t a = u8_offset(c, str->s, str->len, (size_t)s.start);
        size_t b = u8_offset(c, str->s, str->len, (size_t)s.stop);
        return jv_str(js_sub(c, str, a, b - a));
    }
    /* any other step: code point by code point (offsets first, so this is linear) */
    jwork(c, 0, n);
    size_t *off = jalloc(c, (n + 1) * sizeof *off);
    for (size_t i = 0, k = 0; k <= n; k++) {
        off[k] = i;
        if (i < str->len) i = u8_next(str->s, str->len, i);
    }
    jbuf b = {0};
    for (int64_t i = s.start; slice_more(&s, i); i += s.step) {
        jstep(c, line);
        jb_put_sub(c, &b, str, off[i], off[i + 1] - off[i]);
    }
    return jv_str(jb_finish(c, &b));
}

/* ---------------------------------------------------------------- operators ---- */

static bool contains(jinja_ctx *c, int line, jv container, jv item) {
    switch (container.t) {
    case JV_UNDEF: return false;
    case JV_STR: {
        if (item.t != JV_STR)
            jfail(c, line, "'in <string>' requires string as left operand, not %s", jv_type_name(item));
        const jstr *h = container.u.s, *n = item.u.s;
        jwork(c, h->len, 0);
        return jfind(c, h->s, h->len, n->s, n->len, false) != NULL;
    }
    case JV_LIST:
        for (size_t i = 0; i < container.u.l->n; i++)
            if (jv_equal(c, container.u.l->v[i], item)) return true;
        return false;
    case JV_DICT: case JV_NS: return jd_find(c, container.u.d, item) != NULL;
    default: jfail(c, line, "argument of type '%s' is not iterable", jv_type_name(container));
    }
}

static bool is_num(jv v) { return v.t == JV_INT || v.t == JV_FLOAT || v.t == JV_BOOL; }
static int64_t as_int(jv v) { return v.t == JV_INT ? v.u.i : v.t == JV_BOOL ? v.u.b : 0; }
static double as_dbl(jv v) { return v.t == JV_FLOAT ? v.u.f : (double)as_int(v); }

static const char *OP_NAMES[] = {"+", "-", "*", "/", "//", "%", "**", "~"};

_Noreturn static void bad_operands(jinja_ctx *c, int line, jbinop op, jv a, jv b) {
    if (op == OP_ADD && a.t == JV_STR)
        jfail(c, line, "can only concatenate str (not \"%s\") to str", jv_type_name(b));
    jfail(c, line, "unsupported operand type(s) for %s: '%s' and '%s'", OP_NAMES[op], jv_type_name(a),
          jv_type_name(b));
}

static jv repeat(jinja_ctx *c, int line, jv seq, int64_t times) {
    if (seq.t == JV_STR) {
        jbuf b = {0};
        for (int64_t i = 0; i < times; i++) {
            jstep(c, line);
            jb_put_str(c, &b, seq.u.s);
        }
        return jv_str(jb_finish(c, &b));
    }
    jlist *out = jl_new(c, 0);
    out->tuple = seq.u.l->tuple;
    for (int64_t i = 0; i < times; i++)
        for (size_t k = 0; k < seq.u.l->n; k++) {
            jstep(c, line);
            jl_push(c, out, seq.u.l->v[k]);
        }
    return jv_list(out);
}

static jv int_result(jinja_ctx *c, int line, bool overflow, int64_t r) {
    if (overflow) jfail(c, line, "integer overflow (llmscope's integers are 64-bit)");
    return jv_int(r);
}

static int64_t floor_div(int64_t a, int64_t b) {
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

static jv arith(jinja_ctx *c, int line, jbinop op, jv a, jv b) {
    if (op == OP_CONCAT) {
        jbuf out = {0};
        jv_write(c, &out, a);
        jv_write(c, &out, b);
        return jv_str(jb_finish(c, &out));
    }
    jv_need(c, line, a);
    jv_need(c, line, b);
    if (is_num(a) && is_num(b)) {
        bool ints = a.t != JV_FLOAT && b.t != JV_FLOAT;
        int64_t x = as_int(a), y = as_int(b), r = 0;
        double p = as_dbl(a), q = as_dbl(b);
        bool ov;
        switch (op) {
        case OP_ADD:
            if (!ints) return jv_float(p + q);
            ov = __builtin_add_overflow(x, y, &r);
            return int_result(c, line, ov, r);
        case OP_SUB:
            if (!ints) return jv_float(p - q);
            ov = __builtin_sub_overflow(x, y, &r);
            return int_result(c, line, ov, r);
        case OP_MUL:
            if (!ints) return jv_float(p * q);
            ov = __builtin_mul_overflow(x, y, &r);
            return int_result(c, line, ov, r);
        case OP_DIV:
            if (q == 0) jfail(c, line, "division by zero");
            return jv_float(p / q);
        case OP_FLOORDIV:
        case OP_MOD:
            if (ints ? y == 0 : q == 0) jfail(c, line, "%s by zero", op == OP_MOD ? "modulo" : "integer division");
            if (ints) {
                if (x == INT64_MIN && y == -1) return op == OP_MOD ? jv_int(0) : int_result(c, line, true, 0);
                int64_t d = floor_div(x, y);
                return jv_int(op == OP_FLOORDIV ? d : x - d * y);
            } else {
                double m = fmod(p, q);
                if (m != 0 && ((m < 0) != (q < 0))) m += q;
                if (op == OP_MOD) return jv_float(m);
                double d = (p - m) / q, fl = floor(d); /* as Python's float_floor_div */
                return jv_float(d - fl > 0.5 ? fl + 1 : fl);
            }
        case OP_POW:
            if (ints && y >= 0) {
                int64_t acc = 1, base = x;
                ov = false;
                for (int64_t e = y; e > 0 && !ov; e >>= 1) {
                    if (e & 1) ov |= __builtin_mul_overflow(acc, base, &acc);
                    if (e > 1) ov |= __builtin_mul_overflow(base, base, &base);
                }
                return int_result(c, line, ov, acc);
            }
            if (p == 0 && q < 0) jfail(c, line, "0.0 cannot be raised to a negative power");
            return jv_float(pow(p, q));
        default: break;
        }
    }
    if (op == OP_ADD && a.t == JV_STR && b.t == JV_STR) {
        jbuf out = {0};
        jb_put_str(c, &out, a.u.s);
        jb_put_str(c, &out, b.u.s);
        return jv_str(jb_finish(c, &out));
    }
    if (op == OP_ADD && a.t == JV_LIST && b.t == JV_LIST && a.u.l->tuple == b.u.l->tuple) {
        jlist *out = jl_new(c, a.u.l->n + b.u.l->n);
        out->tuple = a.u.l->tuple;
        for (size_t i = 0; i < a.u.l->n; i++) jl_push(c, out, a.u.l->v[i]);
        for (size_t i = 0; i < b.u.l->n; i++) jl_push(c, out, b.u.l->v[i]);
        return jv_list(out);
    }
    if (op == OP_MUL && (a.t == JV_STR || a.t == JV_LIST) && (b.t == JV_INT || b.t == JV_BOOL))
        return repeat(c, line, a, as_int(b));
    if (op == OP_MUL && (b.t == JV_STR || b.t == JV_LIST) && (a.t == JV_INT || a.t == JV_BOOL))
        return repeat(c, line, b, as_int(a));
    if (op == OP_MOD && a.t == JV_STR) return jformat_percent(c, line, a.u.s, b);
    bad_operands(c, line, op, a, b);
}

static jv compare(jinja_ctx *c, int line, jcmp op, jv a, jv b) {
    switch (op) {
    case CMP_EQ: return jv_bool(jv_equal(c, a, b));
    case CMP_NE: return jv_bool(!jv_equal(c, a, b));
    case CMP_LT: return jv_bool(jv_compare(c, line, a, b) < 0);
    case CMP_LE: return jv_bool(jv_compare(c, line, a, b) <= 0);
    case CMP_GT: return jv_bool(jv_compare(c, line, a, b) > 0);
    case CMP_GE: return jv_bool(jv_compare(c, line, a, b) >= 0);
    case CMP_IN: return jv_bool(contains(c, line, b, a));
    default: return jv_bool(!contains(c, line, b, a));
    }
}

/* ---------------------------------------------------------------- calls ---- */

static jargs eval_args(jinja_ctx *c, jframe *f, const jnode *n, uint32_t from) {
    uint32_t k = n->n_kid > from ? n->n_kid - from : 0;
    jv *v = k ? jalloc(c, k * sizeof *v) : NULL;
    for (uint32_t i = 0; i < k; i++) v[i] = eval(c, f, n->kid[from + i]);
    return (jargs){v, n->kw ? n->kw + from : NULL, k, n->line};
}

static const jstr *capture(jinja_ctx *c, jframe *f, const jnode *body) {
    jbuf *saved = c->out, buf = {0};
    c->out = &buf;
    exec(c, f, body);
    c->out = saved;
    return jb_finish(c, &buf);
}

/* Binds a macro's arguments in a new frame and renders its body to a string. */
static jv call_macro(jinja_ctx *c, const jmacro *m, const jargs *a, jv caller) {
    const jnode *def = m->def;
    bool is_caller = def->kind == N_CALL_BLOCK;
    uint32_t first = is_caller ? 2 : 1, n_params = def->n_kid - first;
    jframe *f = frame_new(c, is_caller ? m->caller_frame : m->closure);
    bool *bound = n_params ? jalloc(c, n_params * sizeof *bound) : NULL;
    if (n_params) memset(bound, 0, n_params * sizeof *bound);
    jlist *varargs = jl_new(c, 0);
    varargs->tuple = true;
    jdict *kwargs = jd_new(c);
    for (size_t i = 0; i < a->n; i++) {
        const char *kw = a->kw ? a->kw[i] : NULL;
        if (!kw) {
            if (i < n_params) {
                frame_set(c, f, def->kid[first + i]->name, a->v[i]);
                bound[i] = true;
            } else {
                jl_push(c, varargs, a->v[i]);
            }
            continue;
        }
        uint32_t p = 0;
        while (p < n_params && strcmp(def->kid[first + p]->name, kw) != 0) p++;
        if (p == n_params) {
            jd_set(c, kwargs, jv_str(js_cstr(c, kw)), a->v[i]);
        } else {
            if (bound[p]) jfail(c, a->line, "macro got multiple values for argument '%s'", kw);
            frame_set(c, f, kw, a->v[i]);
            bound[p] = true;
        }
    }
    for (uint32_t p = 0; p < n_params; p++) {
        const jnode *param = def->kid[first + p];
        if (!bound[p]) frame_set(c, f, param->name, param->kid[0] ? eval(c, f, param->kid[0]) : jv_undef(param->name, JU_NAME));
    }
    frame_set(c, f, "varargs", jv_list(varargs));
    frame_set(c, f, "kwargs", (jv){JV_DICT, 0, {.d = kwargs}});
    if (caller.t != JV_UNDEF) frame_set(c, f, "caller", caller);
    return jv_str(capture(c, f, is_caller ? def->kid[1] : def->kid[0]));
}

jv jcall(jinja_ctx *c, jv callee, const jargs *a) {
    switch (callee.t) {
    case JV_MACRO: return call_macro(c, callee.u.m, a, jv_undef(NULL, JU_NAME));
    case JV_FUNC: return jfunc_call(c, callee.u.fn, a);
    case JV_METHOD: return jmethod_call(c, callee.u.meth, a);
    default:
        jv_need(c, a->line, callee); /* an undefined name says so */
        jfail(c, a->line, "'%s' object is not callable", jv_type_name(callee));
    }
}

/* ---------------------------------------------------------------- expressions ---- */

static jv eval_filter(jinja_ctx *c, jframe *f, const jnode *n, const jv *block_in) {
    jv in;
    if (!n->kid[0]) in = *block_in;
    else if (block_in && n->kid[0]->kind == E_FILTER) in = eval_filter(c, f, n->kid[0], block_in);
    else in = eval(c, f, n->kid[0]);
    jargs a = eval_args(c, f, n, 1);
    return jfilter_apply(c, n->op, in, &a);
}

static jv eval_dict(jinja_ctx *c, jframe *f, const jnode *n) {
    jdict *d = jd_new(c);
    for (uint32_t i = 0; i + 1 < n->n_kid; i += 2) {
        jv k = eval(c, f, n->kid[i]);
        if (k.t != JV_STR && k.t != JV_INT && k.t != JV_FLOAT && k.t != JV_BOOL && k.t != JV_NONE &&
            !(k.t == JV_LIST && k.u.l->tuple))
            jfail(c, n->line, "unhashable type: '%s'", jv_type_name(k));
        jd_set(c, d, k, eval(c, f, n->kid[i + 1]));
    }
    return jv_dict(d);
}

static jv eval_inner(jinja_ctx *c, jframe *f, const jnode *n) {
    switch (n->kind) {
    case E_CONST: return n->value;
    case E_NAME: return lookup(c, f, n->name);
    case E_LIST: case E_TUPLE: {
        jlist *l = jl_new(c, n->n_kid);
        l->tuple = n->kind == E_TUPLE;
        for (uint32_t i = 0; i < n->n_kid; i++) jl_push(c, l, eval(c, f, n->kid[i]));
        return jv_list(l);
    }
    case E_DICT: return eval_dict(c, f, n);
    case E_ATTR: return jgetattr(c, n->line, eval(c, f, n->kid[0]), n->name);
    case E_ITEM: {
        jv obj = eval(c, f, n->kid[0]);
        return jgetitem(c, n->line, obj, eval(c, f, n->kid[1]));
    }
    case E_SLICE: {
        jv obj = eval(c, f, n->kid[0]), part[3];
        for (int k = 0; k < 3; k++) part[k] = n->kid[k + 1] ? eval(c, f, n->kid[k + 1]) : jv_none();
        return do_slice(c, n->line, obj, part[0], part[1], part[2]);
    }
    case E_CALL: {
        jv callee = eval(c, f, n->kid[0]);
        jargs a = eval_args(c, f, n, 1);
        return jcall(c, callee, &a);
    }
    case E_FILTER: return eval_filter(c, f, n, NULL);
    case E_TEST: {
        jv in = eval(c, f, n->kid[0]);
        jargs a = eval_args(c, f, n, 1);
        return jv_bool(jtest_apply(c, n->op, in, &a) != (bool)n->neg);
    }
    case E_NOT: return jv_bool(!jv_truthy(eval(c, f, n->kid[0])));
    case E_NEG: case E_POS: {
        jv v = eval(c, f, n->kid[0]);
        jv_need(c, n->line, v);
        if (!is_num(v)) jfail(c, n->line, "bad operand type for unary %s: '%s'", n->kind == E_NEG ? "-" : "+", jv_type_name(v));
        if (n->kind == E_POS) return v.t == JV_BOOL ? jv_int(v.u.b) : v;
        if (v.t == JV_FLOAT) return jv_float(-v.u.f);
        return int_result(c, n->line, as_int(v) == INT64_MIN, -as_int(v));
    }
    case E_AND: case E_OR: { /* Python returns the operand that decided */
        jv a = eval(c, f, n->kid[0]);
        if (jv_truthy(a) == (n->kind == E_OR)) return a;
        return eval(c, f, n->kid[1]);
    }
    case E_BINOP: {
        jv a = eval(c, f, n->kid[0]);
        return arith(c, n->line, (jbinop)n->op, a, eval(c, f, n->kid[1]));
    }
    case E_CMP: {
        jv a = eval(c, f, n->kid[0]);
        return compare(c, n->line, (jcmp)n->op, a, eval(c, f, n->kid[1]));
    }
    case E_COND:
        if (jv_truthy(eval(c, f, n->kid[0]))) return eval(c, f, n->kid[1]);
        return n->kid[2] ? eval(c, f, n->kid[2]) : jv_undef(NULL, JU_NAME);
    default: jfail(c, n->line, "internal error: node %d is not an expression", n->kind);
    }
}

static void enter(jinja_ctx *c, int line) {
    jstep(c, line);
    if (++c->depth > c->lim.max_depth)
        jfail(c, line, "the template nests or recurses deeper than %d levels", c->lim.max_depth);
}

static jv eval(jinja_ctx *c, jframe *f, const jnode *n) {
    enter(c, n->line);
    jv v = eval_inner(c, f, n);
    c->depth--;
    return v;
}

/* ---------------------------------------------------------------- statements ---- */

static void assign(jinja_ctx *c, jframe *f, const jnode *target, jv v) {
    if (target->kind == E_NAME) {
        frame_set(c, f, target->name, v);
    } else if (target->kind == E_ATTR) {
        jv ns = lookup(c, f, target->kid[0]->name);
        if (ns.t != JV_NS) jfail(c, target->line, "cannot assign attribute on non-namespace object");
        jd_set(c, ns.u.d, jv_str(js_cstr(c, target->name)), v);
    } else {
        jlist *items = jiterate(c, target->line, v);
        if (items->n != target->n_kid)
            jfail(c, target->line, "%s values to unpack (expected %u, got %zu)",
                  items->n > target->n_kid ? "too many" : "not enough", target->n_kid, items->n);
        for (uint32_t i = 0; i < target->n_kid; i++) assign(c, f, target->kid[i], items->v[i]);
    }
}

static flow exec_for(jinja_ctx *c, jframe *f, const jnode *n) {
    jlist *all = jiterate(c, n->line, eval(c, f, n->kid[1])), *items = all;
    jframe *body = frame_new(c, f);
    if (n->kid[2]) { /* the "if" filter runs before the loop: loop.length counts what passed */
        items = jl_new(c, 0);
        for (size_t i = 0; i < all->n; i++) {
            body->n = 0;
            assign(c, body, n->kid[0], all->v[i]);
            if (jv_truthy(eval(c, body, n->kid[2]))) jl_push(c, items, all->v[i]);
        }
    }
    if (items->n == 0) return n->kid[4] ? exec(c, f, n->kid[4]) : FLOW_NORMAL;
    jloop *loop = jalloc(c, sizeof *loop);
    *loop = (jloop){items, 0};
    for (size_t i = 0; i < items->n; i++) {
        body->n = 0; /* a fresh scope for each iteration */
        loop->i = i;
        frame_set(c, body, "loop", (jv){JV_LOOP, 0, {.loop = loop}});
        assign(c, body, n->kid[0], items->v[i]);
        if (exec(c, body, n->kid[3]) == FLOW_BREAK) break;
    }
    return FLOW_NORMAL;
}

static flow exec_inner(jinja_ctx *c, jframe *f, const jnode *n) {
    switch (n->kind) {
    case N_BODY:
        for (uint32_t i = 0; i < n->n_kid; i++) {
            flow fl = exec(c, f, n->kid[i]);
            if (fl != FLOW_NORMAL) return fl;
        }
        return FLOW_NORMAL;
    case N_TEXT: jb_put_str(c, c->out, n->value.u.s); return FLOW_NORMAL;
    case N_OUTPUT: jv_write(c, c->out, eval(c, f, n->kid[0])); return FLOW_NORMAL;
    case N_IF:
        for (uint32_t i = 0; i + 1 < n->n_kid; i += 2)
            if (jv_truthy(eval(c, f, n->kid[i]))) return exec(c, f, n->kid[i + 1]);
        return n->n_kid % 2 ? exec(c, f, n->kid[n->n_kid - 1]) : FLOW_NORMAL;
    case N_FOR: return exec_for(c, f, n);
    case N_SET: assign(c, f, n->kid[0], eval(c, f, n->kid[1])); return FLOW_NORMAL;
    case N_SET_BLOCK: assign(c, f, n->kid[0], jv_str(capture(c, f, n->kid[1]))); return FLOW_NORMAL;
    case N_MACRO: {
        jmacro *m = jalloc(c, sizeof *m);
        *m = (jmacro){n, f, NULL};
        frame_set(c, f, n->name, (jv){JV_MACRO, 0, {.m = m}});
        return FLOW_NORMAL;
    }
    case N_CALL_BLOCK: {
        const jnode *call = n->kid[0];
        jmacro *m = jalloc(c, sizeof *m);
        *m = (jmacro){n, f, f};
        jv callee = eval(c, f, call->kid[0]);
        jargs a = eval_args(c, f, call, 1);
        if (callee.t != JV_MACRO) jfail(c, n->line, "a call block must call a macro");
        jv_write(c, c->out, call_macro(c, callee.u.m, &a, (jv){JV_MACRO, 0, {.m = m}}));
        return FLOW_NORMAL;
    }
    case N_FILTER_BLOCK: {
        jv body = jv_str(capture(c, f, n->kid[0]));
        jv_write(c, c->out, eval_filter(c, f, n->kid[1], &body));
        return FLOW_NORMAL;
    }
    case N_WITH: {
        jframe *w = frame_new(c, f);
        for (uint32_t i = 0; i + 1 < n->n_kid; i++) /* values are read in the outer scope */
            assign(c, w, n->kid[i]->kid[0], eval(c, f, n->kid[i]->kid[1]));
        return exec(c, w, n->kid[n->n_kid - 1]);
    }
    case N_BREAK: return FLOW_BREAK;
    case N_CONTINUE: return FLOW_CONTINUE;
    default: jfail(c, n->line, "internal error: node %d is not a statement", n->kind);
    }
}

static flow exec(jinja_ctx *c, jframe *f, const jnode *n) {
    enter(c, n->line);
    flow fl = exec_inner(c, f, n);
    c->depth--;
    return fl;
}

/* ---------------------------------------------------------------- the interface ---- */

struct jinja_value {
    jv v;
};

void jinja_limits_default(jinja_limits *l) {
    l->max_steps = 10000000;
    l->max_depth = 500;
    l->max_output = (size_t)16 << 20;
    l->max_memory = (size_t)256 << 20;
}

static jinja_value *wrap(jinja_ctx *c, jv v) {
    jinja_value *w = jarena_alloc(&c->arena, sizeof *w);
    if (w) w->v = v;
    return w;
}

jinja_ctx *jinja_ctx_create(const jinja_limits *limits) {
    jinja_ctx *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    if (limits) c->lim = *limits;
    else jinja_limits_default(&c->lim);
    if (c->lim.max_depth < 1) c->lim.max_depth = 1;
    c->arena.limit = c->lim.max_memory;
    c->globals = jarena_alloc(&c->arena, sizeof *c->globals);
    if (!c->globals) {
        jinja_ctx_free(c);
        return NULL;
    }
    *c->globals = (jframe){0};
    for (int id = 0; jfunc_name(id); id++) {
        if (jinja_set(c, jfunc_name(id), wrap(c, (jv){JV_FUNC, 0, {.fn = id}})) < 0) {
            jinja_ctx_free(c);
            return NULL;
        }
    }
    return c;
}

void jinja_ctx_free(jinja_ctx *c) {
    if (!c) return;
    jarena_free(&c->arena);
    free(c);
}

jinja_value *jinja_string(jinja_ctx *c, const char *s, size_t len, int tag) {
    jstr *j = jarena_alloc(&c->arena, sizeof *j + len + 1);
    jtag *t = tag >= 0 && len ? jarena_alloc(&c->arena, sizeof *t) : NULL;
    if (!j || (tag >= 0 && len && !t)) return NULL;
    char *bytes = (char *)(j + 1);
    if (len) memcpy(bytes, s, len);
    *j = (jstr){bytes, len, t, t ? 1 : 0};
    if (t) *t = (jtag){0, len, (uint32_t)tag};
    return wrap(c, jv_str(j));
}

jinja_value *jinja_bool(jinja_ctx *c, bool b) { return wrap(c, jv_bool(b)); }
jinja_value *jinja_none(jinja_ctx *c) { return wrap(c, jv_none()); }

jinja_value *jinja_list(jinja_ctx *c) {
    jlist *l = jarena_alloc(&c->arena, sizeof *l);
    if (!l) return NULL;
    *l = (jlist){0};
    return wrap(c, jv_list(l));
}

jinja_value *jinja_dict(jinja_ctx *c) {
    jdict *d = jarena_alloc(&c->arena, sizeof *d);
    if (!d) return NULL;
    *d = (jdict){0};
    return wrap(c, jv_dict(d));
}

/* Runs F(C, ARG) with errors caught: the value-building calls outside a render use the
 * same allocators as the render, which report failure by longjmp. */
static bool guarded(jinja_ctx *c, void (*fn)(jinja_ctx *, void *), void *arg, char *err, size_t errlen) {
    jmp_buf jmp, *saved = c->jmp;
    char *saved_err = c->err;
    size_t saved_len = c->errlen;
    char scratch[8];
    c->jmp = &jmp;
    c->err = err ? err : scratch;
    c->errlen = err ? errlen : sizeof scratch;
    volatile bool ok = false;
    if (setjmp(jmp) == 0) {
        fn(c, arg);
        ok = true;
    }
    c->jmp = saved;
    c->err = saved_err;
    c->errlen = saved_len;
    return ok;
}

typedef struct push_args {
    jinja_value *container;
    const char *key;
    const jinja_value *item;
} push_args;

static void do_push(jinja_ctx *c, void *p) {
    push_args *a = p;
    if (a->key) jd_set(c, a->container->v.u.d, jv_str(js_cstr(c, a->key)), a->item->v);
    else jl_push(c, a->container->v.u.l, a->item->v);
}

int jinja_list_push(jinja_ctx *c, jinja_value *list, const jinja_value *item) {
    if (!list || !item || list->v.t != JV_LIST) return -1;
    push_args a = {list, NULL, item};
    return guarded(c, do_push, &a, NULL, 0) ? 0 : -1;
}

int jinja_dict_set(jinja_ctx *c, jinja_value *dict, const char *key, const jinja_value *val) {
    if (!dict || !key || !val || dict->v.t != JV_DICT) return -1;
    push_args a = {dict, key, val};
    return guarded(c, do_push, &a, NULL, 0) ? 0 : -1;
}

typedef struct json_args {
    const char *text;
    size_t len;
    jv out;
} json_args;

static void do_json(jinja_ctx *c, void *p) {
    json_args *a = p;
    a->out = jjson_parse(c, a->text, a->len);
}

jinja_value *jinja_json(jinja_ctx *c, const char *text, size_t len, char *err, size_t errlen) {
    json_args a = {text, len, jv_none()};
    if (!guarded(c, do_json, &a, err, errlen)) return NULL;
    return wrap(c, a.out);
}

typedef struct set_args {
    const char *name;
    jv v;
} set_args;

static void do_set(jinja_ctx *c, void *p) {
    set_args *a = p;
    size_t n = strlen(a->name);
    char *name = jalloc(c, n + 1);
    memcpy(name, a->name, n + 1);
    frame_set(c, c->globals, name, a->v);
}

int jinja_set(jinja_ctx *c, const char *name, const jinja_value *v) {
    if (!c || !name || !v) return -1;
    set_args a = {name, v->v};
    return guarded(c, do_set, &a, NULL, 0) ? 0 : -1;
}

void jinja_set_time(jinja_ctx *c, const struct tm *tm) {
    c->tm = *tm;
    c->have_tm = true;
}

char *jinja_render(const jinja_template *t, jinja_ctx *c, size_t *len, jinja_span **spans, size_t *n_spans,
                   char *err, size_t errlen) {
    char scratch[8];
    if (spans) *spans = NULL;
    if (n_spans) *n_spans = 0;
    if (len) *len = 0;
    if (err && errlen) err[0] = '\0';
    if (!t || !c || c->used) {
        if (err && errlen) snprintf(err, errlen, "%s", c && c->used ? "a jinja context serves one render" : "no template");
        return NULL;
    }
    c->used = true;
    if (!c->have_tm) {
        time_t now = time(NULL);
        if (localtime_r(&now, &c->tm)) c->have_tm = true;
    }
    jmp_buf jmp;
    c->jmp = &jmp;
    c->err = err && errlen ? err : scratch;
    c->errlen = err && errlen ? errlen : sizeof scratch;
    if (setjmp(jmp)) return NULL;
    jbuf out = {0};
    c->out = &out;
    exec(c, frame_new(c, c->globals), t->root);
    char *text = malloc(out.len + 1);
    jinja_span *sp = out.n_tags && spans ? malloc(out.n_tags * sizeof *sp) : NULL;
    if (!text || (out.n_tags && spans && !sp)) {
        free(text);
        free(sp);
        if (err && errlen) snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (out.len) memcpy(text, out.s, out.len);
    text[out.len] = '\0';
    for (size_t i = 0; sp && i < out.n_tags; i++) sp[i] = (jinja_span){out.tags[i].start, out.tags[i].len, out.tags[i].msg};
    if (len) *len = out.len;
    if (spans) *spans = sp;
    if (n_spans) *n_spans = sp ? out.n_tags : 0;
    return text;
}
