/* test_jinja_fuzz.c — hostile and broken templates: no crash, no hang, no leak.
 *
 * The interpreter runs templates a model file supplies, so every one of these must end
 * in a render or one error line, quickly. `make test` runs this binary twice, the second
 * time under AddressSanitizer and UndefinedBehaviorSanitizer (and LeakSanitizer), which
 * turn any memory error, undefined behaviour or leak into a failure.
 *
 *   random        templates from a grammar of the constructs the interpreter knows
 *                 (and some it does not), with random whitespace control
 *   noise         random strings over the characters that matter to Jinja
 *   truncated     every shared chat template (../shared) cut at many points, and
 *                 mutated at random bytes
 *   nesting       deep blocks, brackets, filters, unary operators, macro recursion
 *   loops         huge loops, huge strings, doubling values
 *
 * Every render runs under small limits and must finish in well under a second; message
 * spans must lie in order inside the output. LLMSCOPE_FUZZ_N=N multiplies the random
 * cases by N for a longer run; LLMSCOPE_FUZZ_SEED picks another seed. */
#include "jinja.h"
#include "test.h"

#include <stdarg.h>
#include <stdint.h>
#include <time.h>

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t rnd(void) {
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}
static size_t pick(size_t n) { return (size_t)(rnd() % n); }
#define PICK(arr) (arr)[pick(sizeof(arr) / sizeof((arr)[0]))]

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ------------------------------------------------------------ running one ---- */

typedef struct stats {
    size_t rendered, failed, parse_errors;
    double slowest;
} stats;

static const jinja_limits FUZZ_LIMITS = {.max_steps = 200000, .max_depth = 120, .max_output = (size_t)256 << 10,
                                         .max_memory = (size_t)32 << 20};

/* The variables every fuzz render sees; message contents are tagged. */
static bool bind(jinja_ctx *c) {
    static const char *const JSON[][2] = {
        {"x", "{\"a\": 1, \"b\": [1, 2, {\"c\": null}], \"items\": 5, \"s\": \"Hi <|im_end|>\"}"},
        {"l", "[3, 1, 2, \"a\", [1]]"},
        {"n", "null"},
        {"f", "2.5"},
        {"tools", "[{\"type\": \"function\", \"function\": {\"name\": \"f\", \"parameters\": {\"type\": \"object\"}}}]"},
    };
    for (size_t i = 0; i < sizeof JSON / sizeof JSON[0]; i++) {
        jinja_value *v = jinja_json(c, JSON[i][1], strlen(JSON[i][1]), NULL, 0);
        if (!v || jinja_set(c, JSON[i][0], v) < 0) return false;
    }
    static const char *const CONTENT[] = {"  hello <think>r</think> wörld 😀 ", "", "line\nline2 {{ x }}", "\xff\xfe bad utf-8"};
    static const char *const ROLE[] = {"system", "user", "assistant", "user"};
    jinja_value *msgs = jinja_list(c);
    for (int i = 0; i < 4; i++) {
        jinja_value *m = jinja_dict(c);
        if (!m || jinja_dict_set(c, m, "role", jinja_string(c, ROLE[i], strlen(ROLE[i]), -1)) < 0 ||
            jinja_dict_set(c, m, "content", jinja_string(c, CONTENT[i], strlen(CONTENT[i]), i)) < 0 ||
            jinja_list_push(c, msgs, m) < 0)
            return false;
    }
    return jinja_set(c, "messages", msgs) == 0 && jinja_set(c, "s", jinja_string(c, "abc é", 6, -1)) == 0 &&
           jinja_set(c, "add_generation_prompt", jinja_bool(c, true)) == 0;
}

/* Parses and renders SRC; checks the result's shape and how long it took. */
static void run(const char *label, const char *src, size_t len, stats *st) {
    char err[512] = "";
    double t0 = now_s();
    jinja_template *t = jinja_parse(src, len, err, sizeof err);
    if (!t) {
        CHECKF(err[0] && !strchr(err, '\n'), "%s: a parse error must be one line: \"%s\"", label, err);
        st->parse_errors++;
    } else {
        jinja_ctx *c = jinja_ctx_create(&FUZZ_LIMITS);
        CHECKF(c && bind(c), "%s: could not set the variables", label);
        jinja_span *spans = NULL;
        size_t n_spans = 0, out_len = 0;
        char *out = c ? jinja_render(t, c, &out_len, &spans, &n_spans, err, sizeof err) : NULL;
        if (out) {
            st->rendered++;
            CHECKF(out_len <= FUZZ_LIMITS.max_output, "%s: output of %zu bytes passed the limit", label, out_len);
            size_t end = 0;
            for (size_t i = 0; i < n_spans; i++) {
                CHECKF(spans[i].start >= end && spans[i].len > 0 && spans[i].start + spans[i].len <= out_len &&
                       spans[i].tag < 4, "%s: span %zu is out of order or range", label, i);
                end = spans[i].start + spans[i].len;
            }
        } else {
            st->failed++;
            CHECKF(err[0], "%s: a failed render must say why", label);
        }
        free(out);
        free(spans);
        jinja_ctx_free(c);
        jinja_free(t);
    }
    double dt = now_s() - t0;
    if (dt > st->slowest) st->slowest = dt;
    CHECKF(dt < 5.0, "%s took %.1f s", label, dt);
}

/* ------------------------------------------------------------ the grammar ---- */

typedef struct gen {
    char buf[16384];
    size_t len;
    int loops; /* inside a for loop: break/continue allowed */
} gen;

static void put(gen *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(gen *g, const char *fmt, ...) {
    if (g->len >= sizeof g->buf - 1) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(g->buf + g->len, sizeof g->buf - g->len, fmt, ap);
    va_end(ap);
    if (n > 0) g->len += (size_t)n < sizeof g->buf - g->len ? (size_t)n : sizeof g->buf - g->len - 1;
}

static const char *const NAMES[] = {"x", "l", "n", "f", "s", "messages", "tools", "ns", "loop", "u", "i", "m", "x.s"};
static const char *const FILTERS[] = {"trim", "tojson", "length", "upper", "lower", "title", "capitalize", "list",
                                      "first", "last", "string", "safe", "e", "items", "dictsort", "sort", "unique",
                                      "reverse", "join(', ')", "default('d')", "int", "float", "abs", "round(1)",
                                      "replace('o', '0')", "map('upper')", "select", "reject('none')",
                                      "selectattr('role', 'eq', 'user')", "map(attribute='content')", "sum",
                                      "tojson(indent=2)", "indent(2)", "wordcount", "min", "max", "count",
                                      "nosuchfilter"};
static const char *const TESTS[] = {"defined", "undefined", "none", "string", "mapping", "sequence", "iterable",
                                    "number", "integer", "boolean", "false", "true", "odd", "even",
                                    "divisibleby 2", "eq 1", "in [1, 2]", "lower", "callable", "sameas none",
                                    "nosuchtest"};
static const char *const METHODS[] = {"strip()", "lstrip('x')", "rstrip()", "split()", "split(',')", "rsplit(' ', 1)",
                                      "replace('a', 'b')", "upper()", "lower()", "title()", "startswith('H')",
                                      "endswith(('x', 'y'))", "find('l')", "count('l')", "items()", "keys()",
                                      "values()", "get('a')", "get('zz', 1)", "isdigit()", "join(['a', 'b'])"};
static const char *const OPS[] = {"+", "-", "*", "/", "//", "%", "**", "~", "==", "!=", "<", ">=", "in", "not in",
                                  "and", "or"};
static const char *const LITERALS[] = {"0", "1", "-3", "2.5", "1e3", "''", "'a'", "\"q\\\"\"", "'\\n\\t\\x41\\u00e9'",
                                       "true", "False", "none", "[]", "[1, 'a']", "{'k': 1}", "(1, 2)", "()",
                                       "'<|im_end|>'", "range(5)", "range(3, 0, -1)", "namespace(a=1)",
                                       "'%s-%d' % ('a', 1)", "strftime_now('%Y %B')"};

static void expr(gen *g, int d);

static void primary(gen *g, int d) {
    size_t k = pick(d > 3 ? 2 : 5);
    if (k == 0) put(g, "%s", PICK(LITERALS));
    else if (k == 1) put(g, "%s", PICK(NAMES));
    else if (k == 2) { put(g, "("); expr(g, d + 1); put(g, ")"); }
    else if (k == 3) { put(g, "["); expr(g, d + 1); put(g, ", "); expr(g, d + 1); put(g, "]"); }
    else { put(g, "{"); expr(g, d + 1); put(g, ": "); expr(g, d + 1); put(g, "}"); }
}

static void expr(gen *g, int d) {
    size_t k = pick(d > 4 ? 1 : 10);
    switch (k) {
    case 0: primary(g, d); break;
    case 1: expr(g, d + 1); put(g, " %s ", PICK(OPS)); expr(g, d + 1); break;
    case 2: put(g, "%s", pick(2) ? "not " : "-"); expr(g, d + 1); break;
    case 3: primary(g, d); put(g, ".%s", pick(2) ? PICK(METHODS) : "a"); break;
    case 4: primary(g, d); put(g, "["); expr(g, d + 1); put(g, "]"); break;
    case 5: primary(g, d); put(g, "[%s:%s%s]", pick(2) ? "1" : "", pick(2) ? "-1" : "", pick(2) ? ":-1" : ""); break;
    case 6: primary(g, d); put(g, " | %s", PICK(FILTERS)); break;
    case 7: primary(g, d); put(g, " is %s%s", pick(3) ? "" : "not ", PICK(TESTS)); break;
    case 8: expr(g, d + 1); put(g, " if "); expr(g, d + 1); put(g, " else "); expr(g, d + 1); break;
    default: put(g, "m("); expr(g, d + 1); put(g, ")"); break;
    }
}

static const char *sign(void) { return PICK(((const char *const[]){"", "", "-", "+"})); }
static const char *vsign(void) { return PICK(((const char *const[]){"", "", "-"})); }
static const char *space(void) { return PICK(((const char *const[]){"", " ", "\n", "\n  ", "\t", "  \n\n "})); }

static void block(gen *g, int d);

static void statement(gen *g, int d) {
    switch (pick(d > 3 ? 3 : 14)) {
    case 0: put(g, "%stext %s%s", space(), pick(2) ? "<|im_start|>" : "é", space()); break;
    case 1: put(g, "{{%s ", vsign()); expr(g, 0); put(g, " %s}}", vsign()); break;
    case 2: put(g, "{#%s comment %s#}", vsign(), vsign()); break;
    case 3:
        put(g, "{%%%s if ", sign()); expr(g, 0); put(g, " %s%%}", sign());
        block(g, d + 1);
        if (pick(2)) { put(g, "{%%%s elif ", sign()); expr(g, 0); put(g, " %s%%}", sign()); block(g, d + 1); }
        if (pick(2)) { put(g, "{%% else %%}"); block(g, d + 1); }
        put(g, "{%%%s endif %s%%}", sign(), sign());
        break;
    case 4:
        put(g, "{%%%s for %s in ", sign(), pick(3) ? "i" : "k, v");
        expr(g, 2);
        if (pick(3) == 0) { put(g, " if "); expr(g, 2); }
        put(g, " %s%%}", sign());
        g->loops++;
        block(g, d + 1);
        g->loops--;
        if (pick(4) == 0) { put(g, "{%% else %%}"); block(g, d + 1); }
        put(g, "{%%%s endfor %s%%}", sign(), sign());
        break;
    case 5: put(g, "{%% set %s = ", pick(2) ? "i" : "ns.v"); expr(g, 0); put(g, " %%}"); break;
    case 6: put(g, "{%% set ns = namespace(v=0, r='') %%}"); break;
    case 7:
        put(g, "{%% macro m(a, b=1) %%}");
        block(g, d + 1);
        put(g, "{{ a }}{%% endmacro %%}");
        break;
    case 8: if (g->loops) put(g, "{%% %s %%}", pick(2) ? "break" : "continue"); break;
    case 9: put(g, "{%% set c %%}"); block(g, d + 1); put(g, "{%% endset %%}{{ c }}"); break;
    case 10: put(g, "{%% filter upper %%}"); block(g, d + 1); put(g, "{%% endfilter %%}"); break;
    case 11: put(g, "{%% raw %%}{{ raw }}{%% endraw %%}"); break;
    case 12: put(g, "{{ raise_exception('stop ' ~ "); expr(g, 3); put(g, ") if "); expr(g, 3); put(g, " }}"); break;
    default: put(g, "{%% with w = "); expr(g, 1); put(g, " %%}{{ w }}{%% endwith %%}"); break;
    }
}

static void block(gen *g, int d) {
    for (size_t i = 0, n = 1 + pick(4); i < n; i++) statement(g, d);
}

/* ------------------------------------------------------------ the tests ---- */

static size_t scale(void) {
    const char *e = getenv("LLMSCOPE_FUZZ_N");
    long n = e ? strtol(e, NULL, 10) : 1;
    return n > 0 ? (size_t)n : 1;
}

static void seed(uint64_t s) {
    const char *e = getenv("LLMSCOPE_FUZZ_SEED");
    rng_state = (e ? strtoull(e, NULL, 10) : 0) * 0x9E3779B97F4A7C15ull + s + 1;
}

static void random_templates(void) {
    seed(1);
    stats st = {0};
    size_t n = 1500 * scale();
    for (size_t i = 0; i < n; i++) {
        gen g = {.len = 0};
        put(&g, "{%% set ns = namespace(v=1, r='') %%}{%% macro m(a) %%}[{{ a }}]{%% endmacro %%}");
        block(&g, 0);
        char label[64];
        snprintf(label, sizeof label, "random template %zu", i);
        run(label, g.buf, g.len, &st);
    }
    fprintf(stderr, "  random: %zu rendered, %zu failed, %zu did not parse, slowest %.3f s\n", st.rendered, st.failed,
            st.parse_errors, st.slowest);
    /* the grammar must reach the renderer, not only the parser's errors */
    CHECKF(st.rendered > n / 10 && st.failed > 0 && st.parse_errors > 0,
           "%zu rendered, %zu failed, %zu did not parse", st.rendered, st.failed, st.parse_errors);
}

static void random_noise(void) {
    seed(2);
    static const char ALPHABET[] = "{}%#-+ \n'\"()[]|.~,:=!<>*/ab0_xisnotdefinedforendif\\\xc3\xa9";
    stats st = {0};
    size_t n = 3000 * scale();
    char buf[512];
    for (size_t i = 0; i < n; i++) {
        size_t len = 1 + pick(sizeof buf - 1);
        for (size_t k = 0; k < len; k++) buf[k] = ALPHABET[pick(sizeof ALPHABET - 1)];
        /* some bytes anywhere, NUL included: the text is taken by length */
        if (pick(4) == 0) buf[pick(len)] = (char)pick(256);
        char label[64];
        snprintf(label, sizeof label, "noise %zu", i);
        run(label, buf, len, &st);
    }
}

static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = malloc((size_t)1 << 20);
    *len = buf ? fread(buf, 1, ((size_t)1 << 20) - 1, f) : 0;
    fclose(f);
    return buf;
}

static void truncated_and_mutated(void) {
    static const char *const FILES[] = {
        "Qwen3.5-4B", "google-gemma-4-31B-it", "openai-gpt-oss-120b", "meta-llama-Llama-3.1-8B-Instruct",
        "mistralai-Ministral-3-14B-Reasoning-2512", "HuggingFaceTB-SmolLM3-3B", "ibm-granite-granite-3.3-2B-Instruct",
        "Qwen-Qwen3-0.6B", "LFM2.5-Instruct", "deepseek-ai-DeepSeek-R1-Distill-Llama-8B", "google-gemma-2-2b-it",
        "mistralai-Mistral-Nemo-Instruct-2407", "microsoft-Phi-3.5-mini-instruct"};
    char probe[512];
    REQUIRE_SHARED(probe, "chat-templates");
    seed(3);
    stats st = {0};
    size_t files = 0;
    for (size_t f = 0; f < sizeof FILES / sizeof FILES[0]; f++) {
        char rel[256], path[512];
        snprintf(rel, sizeof rel, "chat-templates/%s.jinja", FILES[f]);
        size_t len = 0;
        char *text = test_shared_path(path, sizeof path, rel) ? read_file(path, &len) : NULL;
        if (!text) continue;
        files++;
        char label[128];
        snprintf(label, sizeof label, "%s whole", FILES[f]);
        run(label, text, len, &st);
        size_t step = len / 60 + 1;
        for (size_t cut = 0; cut < len; cut += step) {
            snprintf(label, sizeof label, "%s cut at %zu", FILES[f], cut);
            run(label, text, cut, &st);
        }
        char *copy = malloc(len + 1);
        for (size_t m = 0; copy && m < 40 * scale(); m++) {
            memcpy(copy, text, len);
            for (int k = 0; k < 3; k++) copy[pick(len)] = "{}%#-+ \n'\"()[]|.x"[pick(17)];
            snprintf(label, sizeof label, "%s mutation %zu", FILES[f], m);
            run(label, copy, len, &st);
        }
        free(copy);
        free(text);
    }
    fprintf(stderr, "  shared: %zu rendered, %zu failed, %zu did not parse, slowest %.3f s\n", st.rendered, st.failed,
            st.parse_errors, st.slowest);
    CHECKF(files == sizeof FILES / sizeof FILES[0], "only %zu of the shared templates found", files);
    CHECKF(st.rendered > 0 && st.parse_errors > 0, "%zu rendered, %zu did not parse", st.rendered, st.parse_errors);
}

/* PREFIX x N + MIDDLE + SUFFIX x N */
static char *repeat3(const char *prefix, size_t n, const char *middle, const char *suffix) {
    size_t lp = strlen(prefix), lm = strlen(middle), ls = strlen(suffix);
    char *s = malloc(n * (lp + ls) + lm + 1), *o = s;
    if (!s) return NULL;
    for (size_t i = 0; i < n; i++, o += lp) memcpy(o, prefix, lp);
    memcpy(o, middle, lm);
    o += lm;
    for (size_t i = 0; i < n; i++, o += ls) memcpy(o, suffix, ls);
    *o = '\0';
    return s;
}

static void deep_nesting(void) {
    static const struct {
        const char *prefix, *middle, *suffix;
    } SHAPES[] = {
        {"{% if true %}", "x", "{% endif %}"},
        {"{% for i in [1] %}", "{{ i }}", "{% endfor %}"},
        {"{{ ", "1", " }}"},
        {"(", "1", ")"},
        {"{{ [", "1", "] }}"},
        {"{{ {'a': ", "1", "} }}"},
        {"{{ not ", "1", " }}"},
        {"{{ -", "1", " }}"},
        {"{{ 1", "", " + 1 }}"},
        {"{{ s", "", "|trim }}"},
        {"{{ s", "", ".upper() }}"},
        {"{% macro m", "() %}", "{% endmacro %}"},
        {"{% set x %}", "y", "{% endset %}"},
        {"{{ x if ", "1", " else 2 }}"},
        {"{{ '", "", "' ~ '}}"},
    };
    static const size_t DEPTHS[] = {1, 50, 199, 200, 201, 1000, 20000};
    stats st = {0};
    for (size_t s = 0; s < sizeof SHAPES / sizeof SHAPES[0]; s++) {
        for (size_t d = 0; d < sizeof DEPTHS / sizeof DEPTHS[0]; d++) {
            char *src = repeat3(SHAPES[s].prefix, DEPTHS[d], SHAPES[s].middle, SHAPES[s].suffix);
            char label[96];
            snprintf(label, sizeof label, "shape %zu x %zu", s, DEPTHS[d]);
            if (src) run(label, src, strlen(src), &st);
            free(src);
        }
    }
    static const char *const RECURSION[] = {
        "{% macro m(n) %}{{ m(n + 1) }}{% endmacro %}{{ m(0) }}",
        "{% macro a() %}{{ b() }}{% endmacro %}{% macro b() %}{{ a() }}{% endmacro %}{{ a() }}",
        "{% macro m() %}{% call m() %}x{% endcall %}{% endmacro %}{{ m() }}",
        "{% set ns = namespace(l=[]) %}{% for i in range(100000) %}{% set ns.l = [ns.l] %}{% endfor %}{{ ns.l }}",
        "{% set ns = namespace(d={}) %}{% for i in range(3000) %}{% set ns.d = {'k': ns.d} %}{% endfor %}{{ ns.d|tojson }}{{ ns.d == ns.d }}",
    };
    for (size_t i = 0; i < sizeof RECURSION / sizeof RECURSION[0]; i++) {
        char label[64];
        snprintf(label, sizeof label, "recursion %zu", i);
        run(label, RECURSION[i], strlen(RECURSION[i]), &st);
    }
}

static void huge_loops(void) {
    static const char *const LOOPS[] = {
        "{% for i in range(100000) %}{% for j in range(100000) %}{{ i }}{% endfor %}{% endfor %}",
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
        "{{ 'x' * 1000000000 }}",
        "{{ [1] * 1000000000 }}",
        "{% set ns = namespace(s='ab') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s|length }}",
        "{% set s = 'a' * 100000 %}{% for i in range(100000) %}{{ s.split('b')|length }}{{ 'b' in s }}{% endfor %}",
        "{% set s = 'a' * 100000 %}{% for i in range(100000) %}{{ s.rfind('aaaaaaaaab') }}{% endfor %}",
        "{% set l = range(100000)|list %}{% for i in l %}{{ l|sort|length }}{% endfor %}",
        "{{ range(100000)|map('string')|join }}",
        "{% for i in range(100000) %}{{ range(100000)|sum }}{% endfor %}",
        "{% set d = {} %}{% for i in range(100000) %}{{ d.get(i) }}{% endfor %}",
        "{{ 2 ** 100 }}{{ 10 ** 400 }}{{ 2.0 ** 10000 }}",
    };
    stats st = {0};
    for (size_t i = 0; i < sizeof LOOPS / sizeof LOOPS[0]; i++) {
        char label[64];
        snprintf(label, sizeof label, "loop %zu", i);
        run(label, LOOPS[i], strlen(LOOPS[i]), &st);
    }
    fprintf(stderr, "  loops: %zu rendered, %zu stopped, slowest %.3f s\n", st.rendered, st.failed, st.slowest);
    CHECKF(st.failed >= 8, "only %zu of the huge loops were stopped", st.failed);
}

int main(void) {
    RUN(random_templates);
    RUN(random_noise);
    RUN(truncated_and_mutated);
    RUN(deep_nesting);
    RUN(huge_loops);
    return test_exit_code();
}
