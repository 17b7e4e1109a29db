/* jinja.h — a Jinja interpreter for the subset that chat templates use.
 *
 * GGUF files carry the model's chat template as Jinja text (tokenizer.chat_template),
 * written for Hugging Face's settings: jinja2's ImmutableSandboxedEnvironment with
 * trim_blocks and lstrip_blocks, the loopcontrols extension, a tojson filter that is
 * Python's json.dumps, and the globals raise_exception and strftime_now. This interpreter
 * runs such templates and writes what Hugging Face writes, byte for byte.
 *
 * Supported (anything else is an error at parse time, or at run time for a method):
 *
 *   Whitespace   trim_blocks, lstrip_blocks, "-" and "+" markers on {% %}, {{ }}, {# #};
 *                \r\n and \r read as \n; one newline at the end of the template dropped.
 *   Statements   if / elif / else; for (tuple targets, "if" filter, else, loop.index,
 *                index0, revindex, revindex0, first, last, length, previtem, nextitem,
 *                depth, depth0, cycle()); break, continue; set (names, tuples,
 *                namespace attributes) and set ... endset; macro (defaults, keyword
 *                arguments, varargs, kwargs, caller) and call ... endcall; filter ...
 *                endfilter; with; raw; generation (renders its body).
 *   Expressions  literals (strings with Python escapes, integers, floats, true/false/
 *                none in either case, lists, tuples, dicts); attribute, item and slice
 *                access; calls with keyword arguments; + - * / // % ** ~; comparisons
 *                == != < <= > >= (chained), in, not in; and, or, not; is [not] TEST;
 *                | FILTER; inline if / else; "%" string formatting (%s %r %d %i %f %e %g
 *                %x %o %c, flags, width, precision, %(key)s).
 *   Filters      abs, attr, capitalize, count, default (d), dictsort, e (escape), first,
 *                float, indent, int, items, join, last, length, list, lower, map, max,
 *                min, reject, rejectattr, replace, reverse, round, safe, select,
 *                selectattr, sort, string, sum, title, tojson (indent, separators,
 *                sort_keys, ensure_ascii), trim, unique, upper, wordcount.
 *   Tests        boolean, callable, defined, divisibleby, eq (equalto, ==), even, false,
 *                float, ge (>=), gt (>, greaterthan), in, integer, iterable, le (<=),
 *                lower, lt (<, lessthan), mapping, ne (!=), none, number, odd, sameas,
 *                sequence, string, true, undefined, upper.
 *   Methods      strings: capitalize, count, endswith, find, isalnum, isalpha, isdigit,
 *                islower, isspace, isupper, join, lower, lstrip, replace, rfind, rsplit,
 *                rstrip, split, startswith, strip, title, upper; dicts: get, items,
 *                keys, values.
 *   Globals      dict, namespace, raise_exception, range (at most 100000 items, as the
 *                sandbox allows), strftime_now (a pinned time, or now).
 *
 * Not supported: extends, block, include, import, recursive loops, str.format. Case mapping (upper, lower, title) is per code point (so "ß"
 * stays "ß", where Python writes "SS").
 *
 * Values behave as in Python: strings are indexed and measured in code points, integers
 * are 64-bit (overflow is an error), undefined values print as "" and fail when used
 * as operands, as jinja2's default Undefined does.
 *
 * Limits: a template cannot loop forever, recurse without end, or grow without bound:
 * it runs under a step budget, a nesting depth, an output size and a memory budget
 * (jinja_limits), and each ends the render with one error line.
 *
 * Message text. A string can carry a tag (the index of the message it came from). Tags
 * follow the bytes through concatenation, slicing, trim, split, replace and join, and the
 * render reports which output bytes carry which tag: the caller tokenizes those bytes as
 * text, so a "<|im_end|>" typed in a message cannot end a turn. Where an operation cannot
 * follow bytes (case mapping of a string whose length changes, printing a list), the whole
 * result is tagged with the first tag of its input — the safe side. */
#ifndef LLMSCOPE_JINJA_H
#define LLMSCOPE_JINJA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

typedef struct jinja_template jinja_template;
typedef struct jinja_ctx jinja_ctx;
typedef struct jinja_value jinja_value;

typedef struct jinja_limits {
    uint64_t max_steps;   /* statements and expressions evaluated */
    int max_depth;        /* nested evaluation: blocks, expressions, macro calls */
    size_t max_output;    /* bytes of output (and of any captured block or macro call) */
    size_t max_memory;    /* bytes the render may allocate */
} jinja_limits;

void jinja_limits_default(jinja_limits *l); /* 10M steps, depth 500, 16 MiB, 256 MiB */

/* Parses SRC (LEN bytes). NULL with ERR ("line N: ...") on a syntax error, an unknown
 * filter or test, or a template nested deeper than 200 levels. */
jinja_template *jinja_parse(const char *src, size_t len, char *err, size_t errlen);
void jinja_free(jinja_template *t);

/* The variables of one render. Values belong to the context and live until it is
 * freed. The constructors return NULL when out of memory. */
jinja_ctx *jinja_ctx_create(const jinja_limits *limits); /* NULL: the defaults */
void jinja_ctx_free(jinja_ctx *c);
/* A string; TAG >= 0 marks every byte as message TAG's text. */
jinja_value *jinja_string(jinja_ctx *c, const char *s, size_t len, int tag);
jinja_value *jinja_bool(jinja_ctx *c, bool b);
jinja_value *jinja_none(jinja_ctx *c);
jinja_value *jinja_list(jinja_ctx *c);
jinja_value *jinja_dict(jinja_ctx *c);
/* Appends to a list / sets a dict key; -1 when out of memory or V is not a list / dict. */
int jinja_list_push(jinja_ctx *c, jinja_value *list, const jinja_value *item);
int jinja_dict_set(jinja_ctx *c, jinja_value *dict, const char *key, const jinja_value *val);
/* JSON text as a value (objects keep their key order; integers stay integers). NULL with
 * ERR on malformed JSON. */
jinja_value *jinja_json(jinja_ctx *c, const char *text, size_t len, char *err, size_t errlen);
/* Binds NAME for the render; -1 when out of memory. */
int jinja_set(jinja_ctx *c, const char *name, const jinja_value *v);
/* The time strftime_now() formats (default: the local time when the render starts). */
void jinja_set_time(jinja_ctx *c, const struct tm *tm);

typedef struct jinja_span {
    size_t start, len;
    uint32_t tag;
} jinja_span;

/* Renders T with the variables of C. Returns the output (malloc'd, NUL-terminated; it
 * may itself contain NUL bytes, *LEN says how long it is) and, if SPANS is not NULL, the
 * tagged byte ranges in order (malloc'd; NULL when there are none). On failure NULL with
 * ERR: the text of raise_exception() as the template wrote it, or "line N: ..." for an
 * error the interpreter found (a limit, a type error, an undefined name used). A context
 * serves one render. */
char *jinja_render(const jinja_template *t, jinja_ctx *c, size_t *len, jinja_span **spans,
                   size_t *n_spans, char *err, size_t errlen);

#endif
