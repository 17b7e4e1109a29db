/* test_jinja.c — the Jinja interpreter (model/jinja.h) on its own.
 *
 * The language: every template of tests/jinja_cases.txt against what Python's jinja2
 * rendered for it with Hugging Face's settings (tests/jinja_cases.inc, written by
 * tests/gen_jinja_cases.py): whitespace control, scoping, operators, filters, tests,
 * methods, macros, errors. Then what jinja2 cannot check: the limits a hostile template
 * meets, the message tags that follow text through string operations, JSON values. */
#include "chat_jinja.h"
#include "jinja.h"
#include "test.h"

#include <stdbool.h>

#include "jinja_cases.inc"

/* ------------------------------------------------------------ helpers ---- */

/* Binds the variables every case sees (JINJA_CASE_VARS: a name and its JSON). */
static bool bind_case_vars(jinja_ctx *c) {
    for (size_t i = 0; i < sizeof JINJA_CASE_VARS / sizeof JINJA_CASE_VARS[0]; i++) {
        const char *json = JINJA_CASE_VARS[i].json;
        jinja_value *v = jinja_json(c, json, strlen(json), NULL, 0);
        if (!v || jinja_set(c, JINJA_CASE_VARS[i].name, v) < 0) return false;
    }
    return true;
}

static void pin_date(jinja_ctx *c) {
    struct tm tm;
    if (chat_parse_date("26 Jul 2024", &tm)) jinja_set_time(c, &tm);
}

/* Renders SRC with LIMITS (NULL: defaults) and no variables; returns the text or NULL
 * with ERR. */
static char *render_plain(const char *src, const jinja_limits *limits, char *err, size_t errlen) {
    jinja_template *t = jinja_parse(src, strlen(src), err, errlen);
    if (!t) return NULL;
    jinja_ctx *c = jinja_ctx_create(limits);
    char *out = c ? jinja_render(t, c, NULL, NULL, NULL, err, errlen) : NULL;
    jinja_ctx_free(c);
    jinja_free(t);
    return out;
}

static void show(const char *label, const char *s) {
    fprintf(stderr, "    %s \"", label);
    for (const char *p = s; p && *p; p++) {
        if (*p == '\n') fputs("\\n", stderr);
        else fputc(*p, stderr);
    }
    fputs("\"\n", stderr);
}

/* ------------------------------------------------------------ tests ---- */

static void cases_render_as_jinja2_does(void) {
    size_t n = sizeof JINJA_CASES / sizeof JINJA_CASES[0];
    CHECK(n >= 70);
    for (size_t i = 0; i < n; i++) {
        const struct jinja_case *k = &JINJA_CASES[i];
        char err[512] = "";
        char *got = NULL;
        jinja_template *t = jinja_parse(k->tpl, strlen(k->tpl), err, sizeof err);
        jinja_ctx *c = t ? jinja_ctx_create(NULL) : NULL;
        if (c && bind_case_vars(c)) {
            pin_date(c);
            got = jinja_render(t, c, NULL, NULL, NULL, err, sizeof err);
        }
        if (k->want) {
            bool ok = got && strcmp(got, k->want) == 0;
            CHECKF(ok, "case %zu differs from jinja2", i);
            if (!ok) {
                show("template", k->tpl);
                show("jinja2  ", k->want);
                show("got     ", got ? got : err);
            }
        } else {
            CHECKF(!got && err[0], "case %zu: jinja2 failed, llmscope wrote \"%s\"", i, got ? got : "");
            if (k->error && k->error[0]) CHECKF(strcmp(err, k->error) == 0, "case %zu: error \"%s\", jinja2 raised \"%s\"", i, err, k->error);
            CHECKF(!strchr(err, '\n'), "case %zu: the error is not one line", i);
        }
        free(got);
        jinja_ctx_free(c);
        jinja_free(t);
    }
}

/* Each limit ends the render with its own one-line error, promptly. */
static void limits_stop_hostile_templates(void) {
    jinja_limits lim = {.max_steps = 200000, .max_depth = 64, .max_output = 4096, .max_memory = (size_t)8 << 20};
    static const struct {
        const char *tpl, *error;
    } CASES[] = {
        {"{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}", "steps"},
        {"{% macro r(n) %}{{ r(n + 1) }}{% endmacro %}{{ r(0) }}", "deeper than 64"},
        {"{% for i in range(10000) %}xxxxxxxxxx{% endfor %}", "longer than 4096 bytes"},
        {"{{ 'x' * 100000 }}", "longer than 4096 bytes"},
        {"{% set ns = namespace(l=[1]) %}{% for i in range(40) %}{% set ns.l = ns.l + ns.l %}{% endfor %}", "MiB of memory"},
        {"{% set ns = namespace(l=[]) %}{% for i in range(5000) %}{% set ns.l = [ns.l] %}{% endfor %}{{ ns.l == ns.l }}", "nests deeper"},
        {"{% set ns = namespace(l=[]) %}{% for i in range(5000) %}{% set ns.l = [ns.l] %}{% endfor %}{{ ns.l|tojson }}", "nests deeper"},
        {"{% set s = 'ab' * 2000 %}{% for i in range(100000) %}{{ s|length }}{% endfor %}", "steps"},
        {"{{ range(100001)|length }}", "MAX_RANGE"},
    };
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        char err[256] = "";
        lim.max_output = i == 7 ? (size_t)1 << 20 : 4096;
        char *got = render_plain(CASES[i].tpl, &lim, err, sizeof err);
        CHECKF(!got && strstr(err, CASES[i].error) && !strchr(err, '\n'), "limit %zu: got %s \"%s\", wanted an error with \"%s\"",
               i, got ? "the render" : "the error", got ? got : err, CASES[i].error);
        free(got);
    }
    /* nesting is refused when parsing, before anything runs */
    char deep[4096] = "", err[256];
    for (int i = 0; i < 300; i++) strcat(deep, "{% if 1 %}");
    jinja_template *t = jinja_parse(deep, strlen(deep), err, sizeof err);
    CHECKF(!t && strstr(err, "nests deeper"), "300 nested ifs: %s", t ? "parsed" : err);
    jinja_free(t);
    char parens[1024] = "{{ ";
    for (int i = 0; i < 300; i++) strcat(parens, "(");
    t = jinja_parse(parens, strlen(parens), err, sizeof err);
    CHECKF(!t && strstr(err, "deeper"), "300 parentheses: %s", t ? "parsed" : err);
    jinja_free(t);
    /* the defaults are real limits too */
    jinja_limits d;
    jinja_limits_default(&d);
    CHECK(d.max_steps > 0 && d.max_depth > 0 && d.max_output > 0 && d.max_memory > 0);
    char *got = render_plain("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}", NULL, err, sizeof err);
    CHECKF(!got && strstr(err, "steps"), "default budget: %s", got ? "finished" : err);
    free(got);
}

typedef struct piece {
    const char *text;
    int tag; /* -1: template text */
} piece;

/* Message text keeps its tag through the operations templates apply to it; template text
 * gets none. Expected output built from pieces: each byte's tag is its piece's. */
static void tags_follow_message_text(void) {
    const char *tpl =
        "{%- macro m(x) %}({{ x }}){% endmacro -%}\n"
        "{%- set c = messages[0].content -%}\n"
        "A:{{ c }}|B:{{ '<' + c + '>' }}|C:{{ c[2:5] }}|D:{{ c | trim }}|E:{{ c.split(' ')[1] }}"
        "|F:{{ c.replace('o', '0') }}|G:{{ c.split(' ') | join('_') }}|H:{{ c | upper }}"
        "|I:{{ c | tojson }}|J:{{ m(c) }}|K:{% set s %}[{{ c }}]{% endset %}{{ s }}"
        "|L:{% for ch in c %}{{ ch }}{% endfor %}"
        "|M:{% set ns = namespace(r='') %}{% for p in c.split(' ') %}{% set ns.r = ns.r + p %}{% endfor %}{{ ns.r }}"
        "|N:{{ messages[1].content }}|O:{{ 'T' }}|P:{{ messages[2].content | tojson }}|Q:{{ [messages[1].content] }}"
        "|R:{{ c[::-1] }}|S:{{ c.strip().title() }}";
    static const piece WANT[] = {
        {"A:", -1}, {" hello world ", 0}, {"|B:<", -1}, {" hello world ", 0}, {">|C:", -1}, {"ell", 0},
        {"|D:", -1}, {"hello world", 0}, {"|E:", -1}, {"hello", 0},
        {"|F:", -1}, {" hell", 0}, {"0", -1}, {" w", 0}, {"0", -1}, {"rld ", 0},
        {"|G:_", -1}, {"hello", 0}, {"_", -1}, {"world", 0}, {"_", -1},
        {"|H:", -1}, {" HELLO WORLD ", 0}, {"|I:\"", -1}, {" hello world ", 0}, {"\"", -1},
        {"|J:(", -1}, {" hello world ", 0}, {")|K:[", -1}, {" hello world ", 0}, {"]|L:", -1}, {" hello world ", 0},
        {"|M:", -1}, {"helloworld", 0}, {"|N:", -1}, {"bye", 1}, {"|O:T|P:\"", -1}, {"a\\\"b\\n", 2}, {"\"|Q:", -1},
        {"['bye']", 1}, {"|R:", -1}, {" dlrow olleh ", 0}, {"|S:", -1}, {"Hello World", 0},
    };
    char want[1024] = "";
    int mask[1024];
    size_t n = 0;
    for (size_t i = 0; i < sizeof WANT / sizeof WANT[0]; i++)
        for (const char *p = WANT[i].text; *p; p++) {
            want[n] = *p;
            mask[n++] = WANT[i].tag;
        }
    want[n] = '\0';

    char err[256];
    jinja_template *t = jinja_parse(tpl, strlen(tpl), err, sizeof err);
    CHECKF(t, "%s", err);
    jinja_ctx *c = jinja_ctx_create(NULL);
    const char *contents[] = {" hello world ", "bye", "a\"b\n"};
    jinja_value *msgs = jinja_list(c);
    for (int i = 0; i < 3; i++) {
        jinja_value *m = jinja_dict(c);
        CHECK(jinja_dict_set(c, m, "role", jinja_string(c, "user", 4, -1)) == 0);
        CHECK(jinja_dict_set(c, m, "content", jinja_string(c, contents[i], strlen(contents[i]), i)) == 0);
        CHECK(jinja_list_push(c, msgs, m) == 0);
    }
    CHECK(jinja_set(c, "messages", msgs) == 0);
    jinja_span *spans = NULL;
    size_t n_spans = 0, len = 0;
    char *got = t ? jinja_render(t, c, &len, &spans, &n_spans, err, sizeof err) : NULL;
    CHECKF(got && strcmp(got, want) == 0, "render: %s", got ? got : err);
    if (got && strcmp(got, want) == 0) {
        int have[1024];
        for (size_t i = 0; i < n; i++) have[i] = -1;
        size_t prev_end = 0;
        for (size_t s = 0; s < n_spans; s++) {
            CHECKF(spans[s].start >= prev_end && spans[s].start + spans[s].len <= len, "span %zu out of order or range", s);
            prev_end = spans[s].start + spans[s].len;
            for (size_t i = spans[s].start; i < prev_end && i < n; i++) have[i] = (int)spans[s].tag;
        }
        for (size_t i = 0; i < n; i++)
            CHECKF(have[i] == mask[i], "byte %zu ('%c' in \"...%.12s\"): tag %d, expected %d", i, want[i],
                   want + (i > 6 ? i - 6 : 0), have[i], mask[i]);
    }
    free(got);
    free(spans);
    jinja_ctx_free(c);
    jinja_free(t);
}

/* Values from JSON keep Python's types and key order; bad JSON is an error. */
static void json_values(void) {
    static const struct {
        const char *json, *want;
    } CASES[] = {
        {"{\"b\": 1, \"a\": [1.0, 2.5e3, -0, 10000000000000000000], \"c\": \"\\u00e9\\ud83d\\ude00\\n\", \"d\": null}",
         "{\"b\": 1, \"a\": [1.0, 2500.0, 0, 1e+19], \"c\": \"é😀\\n\", \"d\": null}|4|True"},
        {"{\"a\": 1, \"a\": 2}", "{\"a\": 2}|1|True"},
        {"[true, false, \"x\"]", "[true, false, \"x\"]|3|False"},
    };
    const char *tpl = "{{ v|tojson }}|{{ v|length }}|{{ v is mapping }}";
    char err[256];
    jinja_template *t = jinja_parse(tpl, strlen(tpl), err, sizeof err);
    for (size_t i = 0; t && i < sizeof CASES / sizeof CASES[0]; i++) {
        jinja_ctx *c = jinja_ctx_create(NULL);
        jinja_value *v = jinja_json(c, CASES[i].json, strlen(CASES[i].json), err, sizeof err);
        CHECKF(v, "json %zu: %s", i, err);
        char *got = v && jinja_set(c, "v", v) == 0 ? jinja_render(t, c, NULL, NULL, NULL, err, sizeof err) : NULL;
        CHECKF(got && strcmp(got, CASES[i].want) == 0, "json %zu: %s", i, got ? got : err);
        free(got);
        jinja_ctx_free(c);
    }
    jinja_free(t);
    static const char *const BAD[] = {"", "[1,", "{\"a\" 1}", "[1] x", "\"\\x\"", "tru", "[01]", "{1: 2}", "\"a\nb\""};
    jinja_ctx *c = jinja_ctx_create(NULL);
    for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++) {
        err[0] = '\0';
        CHECKF(!jinja_json(c, BAD[i], strlen(BAD[i]), err, sizeof err) && strstr(err, "JSON"), "bad json %zu accepted", i);
    }
    char deep[2000];
    memset(deep, '[', sizeof deep - 1);
    deep[sizeof deep - 1] = '\0';
    CHECK(!jinja_json(c, deep, strlen(deep), err, sizeof err) && strstr(err, "nested"));
    jinja_ctx_free(c);
}

/* A context serves one render; the output may hold NUL bytes and says how long it is. */
static void api_edges(void) {
    char err[256];
    const char *tpl = "a{{ '\\0' }}b";
    jinja_template *t = jinja_parse(tpl, strlen(tpl), err, sizeof err);
    jinja_ctx *c = jinja_ctx_create(NULL);
    size_t len = 0;
    char *got = jinja_render(t, c, &len, NULL, NULL, err, sizeof err);
    CHECK(got && len == 3 && memcmp(got, "a\0b", 3) == 0);
    free(got);
    got = jinja_render(t, c, &len, NULL, NULL, err, sizeof err);
    CHECK(!got && strstr(err, "one render"));
    jinja_ctx_free(c);
    jinja_free(t);
    CHECK(jinja_render(NULL, NULL, NULL, NULL, NULL, err, sizeof err) == NULL);
    /* unknown filters and tests are parse errors (a caller can fall back early) */
    CHECK(!jinja_parse("{{ x|nosuch }}", 14, err, sizeof err) && strstr(err, "nosuch"));
    CHECK(!jinja_parse("{{ x is nosuch }}", 17, err, sizeof err) && strstr(err, "nosuch"));
    CHECK(!jinja_parse("{% include 'x' %}", 17, err, sizeof err) && strstr(err, "include"));
    CHECK(!jinja_parse("{% if x %}", 10, err, sizeof err) && strstr(err, "endif"));
    CHECK(!jinja_parse("{{ 'abc }}", 10, err, sizeof err) && strstr(err, "line 1"));
}

int main(void) {
    RUN(cases_render_as_jinja2_does);
    RUN(limits_stop_hostile_templates);
    RUN(tags_follow_message_text);
    RUN(json_values);
    RUN(api_edges);
    return test_exit_code();
}
