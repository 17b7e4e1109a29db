/* chat_template.c — see chat_template.h.
 *
 * A template the file carries is run by the interpreter (chat_jinja.c); this file picks
 * that or a family, and holds the families. Two halves for those. Detection looks at the Jinja text the model file carries: a few distinctive
 * substrings pick the family, and a handful of string literals read out of the template
 * (never executed) pick the variation inside it — Qwen's default system prompt, the date
 * Llama 3.1 hard-codes, whether a Mistral template writes "[INST] " or "[INST]", and so
 * on. Rendering is one C function per family that writes what Hugging Face's Jinja
 * (trim_blocks, lstrip_blocks) would write for that template, byte for byte, including
 * the errors a template raises (Gemma 2 and a system message).
 *
 * While rendering, every byte that came from a message's text (rather than from the
 * template) is recorded as a span, so the caller can tokenize message text with special
 * tokens off (typed "<|im_end|>" must not end a turn) and label tokens by turn. */
#include "chat_template.h"
#include "error_msg.h"
#include "chat_jinja.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <utf8proc.h>

typedef enum {
    FAM_CHATML,   /* <|im_start|>role\n...<|im_end|>\n (SmolLM2, Minueza, ...) */
    FAM_QWEN,     /* ChatML plus Qwen's additions: a default system turn (Qwen2, 2.5),
                     <tool_response> turns (2.5, 3), reasoning handling (3) */
    FAM_LLAMA3,   /* <|start_header_id|>role<|end_header_id|>\n\n...<|eot_id|> */
    FAM_LLAMA2,   /* <s>[INST] <<SYS>>\n...\n<</SYS>>\n\n... [/INST] ... </s> */
    FAM_MISTRAL,  /* [INST]...[/INST]...</s> (Mistral 7B v0.x, Nemo) */
    FAM_GEMMA,    /* <start_of_turn>user\n...<end_of_turn>\n */
    FAM_PHI3,     /* <|user|>\n...<|end|>\n */
    FAM_DEEPSEEK, /* <｜User｜>...<｜Assistant｜>...<｜end▁of▁sentence｜> */
    FAM_ZEPHYR,   /* <|user|>\n...</s>\n (Zephyr, TinyLlama chat) */
    FAM_COUNT
} family;

/* Indexed by family; also the list chat_template_families() returns. */
static const char *const FAMILY_NAMES[FAM_COUNT + 1] = {
    "chatml", "qwen", "llama3", "llama2", "mistral", "gemma", "phi3", "deepseek", "zephyr",
    NULL};

/* Where a Mistral template puts the system message. */
typedef enum {
    SYSTEM_IN_LAST_USER,  /* prepended to the last message if it is a user one (v0.3, Nemo) */
    SYSTEM_IN_FIRST_USER, /* prepended to the first user message (v0.1 revisions) */
    SYSTEM_REFUSED        /* the template has no place for one */
} mistral_system;

struct chat_template {
    family fam;
    jinja_template *jinja; /* the file's own template, run as it is; NULL: the family */
    char warning[384];     /* why the file's template is not the one being run */

    /* qwen: the system turn written when the conversation has none, and whether tool
     * results are wrapped in <tool_response> (2.5; then other roles are dropped). */
    char *default_system;
    bool qwen_tools;
    /* qwen: Qwen3 drops the reasoning (<think>...</think>) of replies before the last
     * user query, and re-frames it in the replies after it. */
    bool qwen_think;

    /* llama3: 3.1 and later open with a system block that states the knowledge cutoff
     * and today's date; 3.0 does not. */
    bool llama3_dated;
    char *knowledge_line; /* "Cutting Knowledge Date: December 2023\n" */
    /* The date the template falls back to without a date_string (3.1 hard-codes
     * "26 Jul 2024"); NULL when it asks for today's date (3.2's strftime_now). */
    char *fixed_date;

    /* mistral */
    char *inst_open, *inst_close;   /* "[INST]"/"[/INST]", or with spaces around */
    bool mistral_tools;             /* knows tool results (v0.3, Nemo) */
    bool reply_space;               /* a space before an assistant reply */
    bool reply_trim;                /* assistant replies are trimmed */
    mistral_system system_place;

    /* gemma: Gemma 3 prepends the system text to the first user turn; Gemma 2 refuses. */
    bool gemma_system_prefix;

    /* phi3 */
    bool phi3_bos;          /* the template starts with bos_token (Phi-3 mini) */
    bool phi3_system;       /* it has a <|system|> turn at all */
    bool phi3_skip_empty;   /* ... and skips it when empty (Phi-3.5) */
    bool phi3_legacy;       /* first Phi-3 template: ignores add_generation_prompt and
                               opens the assistant turn after every user turn */
    bool phi3_eos_at_end;   /* eos_token closes a prompt without a generation prompt */

    /* deepseek: R1 opens the reply with "<think>\n" and drops earlier replies' reasoning. */
    bool deepseek_think_prompt;
    bool deepseek_strip_think;
};

static const char WARN_NO_TEMPLATE[] =
    "the model has no chat template; using ChatML (choose another with --template NAME)";
static const char WARN_UNKNOWN_TEMPLATE[] =
    "unrecognised chat template; using ChatML (choose another with --template NAME)";

static bool has(const char *hay, const char *needle) { return hay && strstr(hay, needle); }

/* ---------------------------------------------------------------- Jinja literals ----
 * Variations are read from the template's string literals. This is a lexer, not an
 * interpreter: it only knows where tags ({{ }}, {% %}) start and end, skips comments,
 * and returns the quoted strings inside tags. Quotes in plain text outside tags (an
 * apostrophe in "Don't") are output text, not literals, and are skipped. */

typedef struct jinja_lexer {
    const char *p;
    bool in_tag;
} jinja_lexer;

/* Finds the next literal; *BODY and *LEN give its raw text between the quotes, *AFTER the
 * first byte past the closing quote. False at the end (or at an unterminated string). */
static bool jinja_next_literal(jinja_lexer *lx, const char **body, size_t *len,
                               const char **after) {
    const char *p = lx->p;
    while (*p) {
        if (!lx->in_tag) {
            if (p[0] == '{' && (p[1] == '{' || p[1] == '%')) {
                lx->in_tag = true;
                p += 2;
            } else if (p[0] == '{' && p[1] == '#') {
                const char *end = strstr(p + 2, "#}");
                if (!end) break;
                p = end + 2;
            } else {
                p++;
            }
            continue;
        }
        if ((p[0] == '}' && p[1] == '}') || (p[0] == '%' && p[1] == '}')) {
            lx->in_tag = false;
            p += 2;
        } else if (*p == '\'' || *p == '"') {
            char quote = *p++;
            const char *start = p;
            while (*p && *p != quote) p += (p[0] == '\\' && p[1]) ? 2 : 1;
            if (!*p) break;
            *body = start;
            *len = (size_t)(p - start);
            *after = p + 1;
            lx->p = p + 1;
            return true;
        } else {
            p++;
        }
    }
    lx->p = p + strlen(p);
    return false;
}

/* The value of a literal's raw text: Python-style escapes as Jinja reads them. */
static char *jinja_unescape(const char *s, size_t n) {
    char *out = malloc(n + 1), *o = out;
    if (!out) return NULL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '\\' || i + 1 == n) {
            *o++ = s[i];
            continue;
        }
        char c = s[++i];
        switch (c) {
        case 'n': *o++ = '\n'; break;
        case 't': *o++ = '\t'; break;
        case 'r': *o++ = '\r'; break;
        case '\\': case '\'': case '"': *o++ = c; break;
        default: *o++ = '\\'; *o++ = c; break; /* Python keeps unknown escapes as written */
        }
    }
    *o = '\0';
    return out;
}

/* Tests one literal's value; AFTER is the template text following it. */
typedef bool (*literal_test)(const char *value, const char *after);

/* The value of the first literal (from FROM, which lies inside a tag when IN_TAG) that
 * passes TEST, malloc'd; NULL if none does. */
static char *find_literal_from(const char *from, bool in_tag, literal_test test) {
    jinja_lexer lx = {from, in_tag};
    const char *body, *after;
    size_t len;
    while (jinja_next_literal(&lx, &body, &len, &after)) {
        char *value = jinja_unescape(body, len);
        if (!value) return NULL;
        if (test(value, after)) return value;
        free(value);
    }
    return NULL;
}

static char *find_literal(const char *jinja, literal_test test) {
    return find_literal_from(jinja, false, test);
}

static bool starts_with(const char *s, const char *prefix) {
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

/* True if S is WORD with only spaces around it ("[INST]", " [INST] "). */
static bool is_padded(const char *s, const char *word) {
    s += strspn(s, " ");
    if (!starts_with(s, word)) return false;
    s += strlen(word);
    return s[strspn(s, " ")] == '\0';
}

static bool any_literal(const char *value, const char *after) {
    (void)value; (void)after;
    return true;
}
/* Qwen2/2.5: '<|im_start|>system\nYou are ... assistant.<|im_end|>\n' as one literal. */
static bool is_default_system_turn(const char *v, const char *after) {
    (void)after;
    const char *open = "<|im_start|>system\n", *close = "<|im_end|>\n";
    return starts_with(v, open) && ends_with(v, close) &&
           strlen(v) > strlen(open) + strlen(close);
}
static bool is_knowledge_line(const char *v, const char *after) {
    (void)after;
    return starts_with(v, "Cutting Knowledge Date:");
}
static bool is_inst_open(const char *v, const char *after) { (void)after; return is_padded(v, "[INST]"); }
static bool is_inst_close(const char *v, const char *after) { (void)after; return is_padded(v, "[/INST]"); }
/* ' ' + message['content'] : a space before the assistant's text. */
static bool is_space_before_content(const char *v, const char *after) {
    if (strcmp(v, " ") != 0) return false;
    after += strspn(after, " ");
    if (*after != '+') return false;
    after += 1 + strspn(after + 1, " ");
    return starts_with(after, "message");
}

/* ---------------------------------------------------------------- detection ---- */

static family detect_family(const char *j) {
    if (has(j, "<|im_start|>")) return FAM_CHATML; /* refined to qwen below */
    if (has(j, "<|start_header_id|>")) return FAM_LLAMA3;
    if (has(j, "<start_of_turn>")) return FAM_GEMMA;
    if (has(j, "<｜User｜>")) return FAM_DEEPSEEK;
    if (has(j, "<|user|>")) return has(j, "<|end|>") ? FAM_PHI3 : FAM_ZEPHYR;
    if (has(j, "[INST]")) return has(j, "<<SYS>>") ? FAM_LLAMA2 : FAM_MISTRAL;
    return FAM_COUNT;
}

/* The variation a family name alone stands for: the newest template of the family that
 * llmscope has reference renders for. */
static bool set_defaults(chat_template *t) {
    switch (t->fam) {
    case FAM_QWEN: /* Qwen2.5 */
        t->default_system =
            strdup("You are Qwen, created by Alibaba Cloud. You are a helpful assistant.");
        t->qwen_tools = true;
        return t->default_system != NULL;
    case FAM_LLAMA3:
        t->llama3_dated = true;
        t->knowledge_line = strdup("Cutting Knowledge Date: December 2023\n");
        return t->knowledge_line != NULL;
    case FAM_MISTRAL: /* Mistral Nemo */
        t->inst_open = strdup("[INST]");
        t->inst_close = strdup("[/INST]");
        t->system_place = SYSTEM_IN_LAST_USER;
        t->mistral_tools = true;
        return t->inst_open && t->inst_close;
    case FAM_PHI3: /* Phi-3.5 */
        t->phi3_system = t->phi3_skip_empty = t->phi3_eos_at_end = true;
        return true;
    case FAM_DEEPSEEK: /* R1 */
        t->deepseek_think_prompt = t->deepseek_strip_think = true;
        return true;
    default:
        return true;
    }
}

/* Reads the variation inside the family from the template text J. */
static bool read_variation(chat_template *t, const char *j) {
    switch (t->fam) {
    case FAM_CHATML:
    case FAM_QWEN: {
        char *turn = find_literal(j, is_default_system_turn);
        if (turn) {
            size_t open = strlen("<|im_start|>system\n"), close = strlen("<|im_end|>\n");
            size_t n = strlen(turn) - open - close;
            memmove(turn, turn + open, n);
            turn[n] = '\0';
            t->default_system = turn;
        }
        t->qwen_tools = has(j, "<tool_response>");
        t->qwen_think = has(j, "</think>") && has(j, "last_query_index");
        /* Qwen's templates (2, 2.5, 3) are ChatML plus some of these */
        if (t->default_system || t->qwen_tools || t->qwen_think) t->fam = FAM_QWEN;
        return true;
    }
    case FAM_LLAMA3:
        t->llama3_dated = has(j, "Cutting Knowledge Date");
        if (!t->llama3_dated) return true;
        t->knowledge_line = find_literal(j, is_knowledge_line);
        if (!t->knowledge_line) return set_defaults(t);
        if (!has(j, "strftime_now")) {
            /* {%- set date_string = "26 Jul 2024" %}: the literal after the '=' */
            const char *set = strstr(j, "set date_string");
            if (set) t->fixed_date = find_literal_from(set, true, any_literal);
        }
        return true;
    case FAM_MISTRAL:
        t->inst_open = find_literal(j, is_inst_open);
        t->inst_close = find_literal(j, is_inst_close);
        if (!t->inst_open || !t->inst_close) {
            free(t->inst_open);
            free(t->inst_close);
            t->inst_open = t->inst_close = NULL;
            return set_defaults(t);
        }
        t->mistral_tools = has(j, "[TOOL_RESULTS]");
        char *space = find_literal(j, is_space_before_content);
        t->reply_space = space != NULL;
        free(space);
        t->reply_trim = has(j, "content\"]|trim") || has(j, "content'] | trim") ||
                        has(j, "content\"] | trim") || has(j, "content']|trim");
        t->system_place = has(j, "loop.last and system_message") ? SYSTEM_IN_LAST_USER
                          : has(j, "loop.first and system_message") ? SYSTEM_IN_FIRST_USER
                                                                    : SYSTEM_REFUSED;
        return true;
    case FAM_GEMMA:
        t->gemma_system_prefix = has(j, "first_user_prefix");
        return true;
    case FAM_PHI3:
        t->phi3_bos = has(j, "bos_token");
        t->phi3_system = has(j, "<|system|>");
        t->phi3_skip_empty = has(j, "'system' and message['content']") ||
                             has(j, "\"system\" and message[\"content\"]");
        t->phi3_legacy = !has(j, "add_generation_prompt");
        t->phi3_eos_at_end = has(j, "eos_token");
        return true;
    case FAM_DEEPSEEK:
        t->deepseek_think_prompt = has(j, "<｜Assistant｜><think>");
        t->deepseek_strip_think = has(j, "</think>");
        return true;
    default:
        return true;
    }
}

static void free_variation(chat_template *t);

chat_template *chat_template_create_family(const char *jinja, const char *name, const char **warning,
                                           char *err, size_t errlen) {
    if (warning) *warning = NULL;
    family named = FAM_COUNT;
    if (name) {
        for (int f = 0; f < FAM_COUNT; f++)
            if (strcasecmp(name, FAMILY_NAMES[f]) == 0) named = (family)f;
        if (named == FAM_COUNT) {
            char list[256] = "";
            for (int f = 0; f < FAM_COUNT; f++) {
                if (f) strncat(list, ", ", sizeof list - strlen(list) - 1);
                strncat(list, FAMILY_NAMES[f], sizeof list - strlen(list) - 1);
            }
            err_set(err, errlen, "unknown chat template '%s' (known: %s)", name, list);
            return NULL;
        }
    }

    chat_template *t = calloc(1, sizeof *t);
    if (!t) {
        err_set(err, errlen, "out of memory");
        return NULL;
    }
    family found = (jinja && *jinja) ? detect_family(jinja) : FAM_COUNT;
    bool ok = true;
    t->fam = found == FAM_COUNT ? FAM_CHATML : found;
    if (found != FAM_COUNT) ok = read_variation(t, jinja); /* may turn chatml into qwen */
    if (ok && named != FAM_COUNT && named != t->fam) {
        /* An override of another family gets that family's defaults; one that names the
         * template's own family keeps its variation ("llama3" on a Llama 3.1 file keeps
         * 3.1's fixed date). */
        free_variation(t);
        memset(t, 0, sizeof *t);
        t->fam = named;
        ok = set_defaults(t);
    }
    if (!ok) {
        chat_template_free(t);
        err_set(err, errlen, "out of memory");
        return NULL;
    }
    if (warning && named == FAM_COUNT && found == FAM_COUNT)
        *warning = (jinja && *jinja) ? WARN_UNKNOWN_TEMPLATE : WARN_NO_TEMPLATE;
    return t;
}

chat_template *chat_template_create_jinja(const char *jinja, char *err, size_t errlen) {
    jinja_template *jt = jinja_parse(jinja ? jinja : "", jinja ? strlen(jinja) : 0, err, errlen);
    chat_template *t = jt ? calloc(1, sizeof *t) : NULL;
    if (!t) {
        if (jt) err_set(err, errlen, "out of memory");
        jinja_free(jt);
        return NULL;
    }
    t->jinja = jt;
    return t;
}

chat_template *chat_template_create(const char *jinja, const char *name, const char **warning,
                                    char *err, size_t errlen) {
    if (name || !jinja || !*jinja) return chat_template_create_family(jinja, name, warning, err, errlen);
    char why[256];
    chat_template *t = chat_template_create_jinja(jinja, why, sizeof why);
    if (t) {
        if (warning) *warning = NULL;
        return t;
    }
    /* a template the interpreter cannot read: the family it looks like, and a warning */
    t = chat_template_create_family(jinja, NULL, NULL, err, errlen);
    if (t) {
        snprintf(t->warning, sizeof t->warning,
                 "llmscope cannot run this model's chat template (%s); rendering it as %s instead "
                 "(choose another with --template NAME)", why, FAMILY_NAMES[t->fam]);
        if (warning) *warning = t->warning;
    }
    return t;
}

static void free_variation(chat_template *t) {
    free(t->default_system);
    free(t->knowledge_line);
    free(t->fixed_date);
    free(t->inst_open);
    free(t->inst_close);
}

void chat_template_free(chat_template *t) {
    if (!t) return;
    free_variation(t);
    jinja_free(t->jinja);
    free(t);
}

const char *chat_template_name(const chat_template *t) { return t->jinja ? "jinja" : FAMILY_NAMES[t->fam]; }

const char *const *chat_template_families(void) { return FAMILY_NAMES; }

/* ---------------------------------------------------------------- output ---- */

typedef struct out {
    char *buf;
    size_t len, cap;
    chat_span *spans;
    size_t n_spans, cap_spans;
    bool oom;
    char *err; /* the template's refusal, when it raises one */
    size_t errlen;
    bool refused;
} out;

static void put_n(out *o, const char *s, size_t n) {
    if (o->oom) return;
    if (o->len + n + 1 > o->cap) {
        size_t cap = o->cap ? o->cap : 256;
        while (cap < o->len + n + 1) cap *= 2;
        char *p = realloc(o->buf, cap);
        if (!p) {
            o->oom = true;
            return;
        }
        o->buf = p;
        o->cap = cap;
    }
    memcpy(o->buf + o->len, s, n);
    o->len += n;
    o->buf[o->len] = '\0';
}

static void put(out *o, const char *s) { put_n(o, s, strlen(s)); }

/* Message text: written like template text, but remembered as a span of message MSG. */
static void put_text(out *o, size_t msg, const char *s, size_t n) {
    if (n == 0 || o->oom) return;
    size_t start = o->len;
    put_n(o, s, n);
    if (o->oom) return;
    if (o->n_spans && o->spans[o->n_spans - 1].message == msg &&
        o->spans[o->n_spans - 1].start + o->spans[o->n_spans - 1].len == start) {
        o->spans[o->n_spans - 1].len += n; /* continues the previous span */
        return;
    }
    if (o->n_spans == o->cap_spans) {
        size_t cap = o->cap_spans ? 2 * o->cap_spans : 16;
        chat_span *p = realloc(o->spans, cap * sizeof *p);
        if (!p) {
            o->oom = true;
            return;
        }
        o->spans = p;
        o->cap_spans = cap;
    }
    o->spans[o->n_spans++] = (chat_span){start, n, msg};
}

static void put_msg(out *o, size_t msg, const char *s) { put_text(o, msg, s, strlen(s)); }

/* Makes the render fail with the template's own message. */
static void refuse(out *o, const char *msg) {
    if (!o->refused) err_set(o->err, o->errlen, "%s", msg);
    o->refused = true;
}

/* Jinja's trim filter is Python's str.strip(): it removes Unicode whitespace (category Zs
 * or bidi class WS/B/S, as str.isspace() defines it), not only ASCII. */
static bool is_py_space(utf8proc_int32_t c) {
    const utf8proc_property_t *p = utf8proc_get_property(c);
    return p->category == UTF8PROC_CATEGORY_ZS || p->bidi_class == UTF8PROC_BIDI_CLASS_WS ||
           p->bidi_class == UTF8PROC_BIDI_CLASS_B || p->bidi_class == UTF8PROC_BIDI_CLASS_S;
}

/* Writes S without its leading (LEAD) and/or trailing (TRAIL) whitespace, as message
 * MSG's text; returns false if nothing was left to write. Bytes that are not valid UTF-8
 * count as text (the tokenizer reports them later). */
static bool put_stripped(out *o, size_t msg, const char *s, bool lead, bool trail) {
    size_t n = strlen(s), i = 0, first = n, last = 0;
    while (i < n) {
        utf8proc_int32_t c;
        utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s + i,
                                              (utf8proc_ssize_t)(n - i), &c);
        if (k <= 0) k = 1, c = -1;
        if (c < 0 || !is_py_space(c)) {
            if (first == n) first = i;
            last = i + (size_t)k;
        }
        i += (size_t)k;
    }
    if (first == n) return false; /* blank */
    if (!lead) first = 0;
    if (!trail) last = n;
    put_text(o, msg, s + first, last - first);
    return true;
}

static void put_trimmed(out *o, size_t msg, const char *s) { put_stripped(o, msg, s, true, true); }

/* Python's json.dumps(s, ensure_ascii=False), which HF's tojson filter is; cJSON escapes
 * a string the same way (", \, \b \f \n \r \t, other control bytes as \u00xx). */
static void put_json_string(out *o, size_t msg, const char *s) {
    cJSON *str = cJSON_CreateString(s);
    char *json = str ? cJSON_PrintUnformatted(str) : NULL;
    cJSON_Delete(str);
    if (!json) {
        o->oom = true;
        return;
    }
    put_msg(o, msg, json);
    cJSON_free(json);
}

static bool is(const chat_message *m, const char *role) { return strcmp(m->role, role) == 0; }

/* Today's date as the Llama 3.2 template's strftime_now("%d %b %Y") prints it. The month
 * comes from a table, not strftime's %b, so that a UI that set a locale still gets the
 * English abbreviation the model was trained on. */
static void today(char buf[32]) {
    static const char *const MONTHS[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                           "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t now = time(NULL);
    struct tm tm;
    if (!localtime_r(&now, &tm)) {
        snprintf(buf, 32, "26 Jul 2024");
        return;
    }
    snprintf(buf, 32, "%02d %s %04d", tm.tm_mday, MONTHS[tm.tm_mon % 12], tm.tm_year + 1900);
}

/* ---------------------------------------------------------------- families ---- */

typedef struct render_args {
    const chat_message *m;
    size_t n;
    bool gen;             /* add_generation_prompt */
    const char *bos, *eos;
    const char *date;     /* NULL: the template's default */
} render_args;

/* The text of a Qwen3 reply, message MSG. The template splits TEXT at the first
 * "</think>" for the reasoning (after the last "<think>" before it) and at the last one
 * for the answer. Replies after the last user query (AFTER_QUERY) keep their reasoning,
 * re-framed as "<think>\nREASONING\n</think>\n\nANSWER", if they have some or are the
 * last message; every other reply is written as the answer alone. */
static void qwen3_reply(out *o, size_t msg, const char *text, bool after_query, bool last) {
    const char *close = strstr(text, "</think>");
    if (!close) {
        if (after_query && last) {
            put(o, "<think>\n\n</think>\n\n");
            put_msg(o, msg, text + strspn(text, "\n"));
        } else {
            put_msg(o, msg, text);
        }
        return;
    }
    const char *answer = close;
    for (const char *p = close; p; p = strstr(p + 1, "</think>")) answer = p;
    answer += strlen("</think>");
    answer += strspn(answer, "\n");

    /* reasoning = text[:close].rstrip('\n').split('<think>')[-1].lstrip('\n'), then
     * .strip('\n') when written: i.e. the part after the last <think>, newlines trimmed */
    const char *r = text, *r_end = close;
    for (const char *p = text; (p = strstr(p, "<think>")) && p < close; p += strlen("<think>"))
        r = p + strlen("<think>");
    while (r < r_end && *r == '\n') r++;
    while (r_end > r && r_end[-1] == '\n') r_end--;

    if (after_query && (last || r_end > r)) {
        put(o, "<think>\n");
        put_text(o, msg, r, (size_t)(r_end - r));
        put(o, "\n</think>\n\n");
    }
    put_msg(o, msg, answer);
}

/* ChatML: <|im_start|>ROLE\nTEXT<|im_end|>\n for every message, whatever its role.
 * Qwen adds a system turn when the conversation does not start with one (the template's
 * default text); Qwen2.5 also gathers consecutive tool results into one user turn of
 * <tool_response> blocks and drops roles it does not know. */
static void render_chatml(const chat_template *t, const render_args *a, out *o) {
    /* Qwen3: the last real user query (not a tool result sent as a user message) */
    size_t last_query = a->n ? a->n - 1 : 0;
    for (size_t k = a->n; t->qwen_think && k-- > 0;) {
        const char *c = a->m[k].content;
        if (is(&a->m[k], "user") &&
            !(starts_with(c, "<tool_response>") && ends_with(c, "</tool_response>"))) {
            last_query = k;
            break;
        }
    }
    size_t i = 0;
    if (t->default_system && (a->n == 0 || !is(&a->m[0], "system"))) {
        put(o, "<|im_start|>system\n");
        put(o, t->default_system);
        put(o, "<|im_end|>\n");
    }
    for (; i < a->n; i++) {
        const chat_message *m = &a->m[i];
        if (t->qwen_think && is(m, "assistant")) {
            put(o, "<|im_start|>assistant\n");
            qwen3_reply(o, i, m->content, i > last_query, i + 1 == a->n);
            put(o, "<|im_end|>\n");
        } else if (!t->qwen_tools || is(m, "user") || is(m, "system") || is(m, "assistant")) {
            put(o, "<|im_start|>");
            put(o, m->role);
            put(o, "\n");
            put_msg(o, i, m->content);
            put(o, "<|im_end|>\n");
        } else if (is(m, "tool")) {
            if (i == 0 || !is(&a->m[i - 1], "tool")) put(o, "<|im_start|>user");
            put(o, "\n<tool_response>\n");
            put_msg(o, i, m->content);
            put(o, "\n</tool_response>");
            if (i + 1 == a->n || !is(&a->m[i + 1], "tool")) put(o, "<|im_end|>\n");
        }
    }
    if (a->gen) put(o, "<|im_start|>assistant\n");
}

static void llama3_header(out *o, const char *role) {
    put(o, "<|start_header_id|>");
    put(o, role);
    put(o, "<|end_header_id|>\n\n");
}

/* Llama 3.1+: a system block with the knowledge cutoff, the date and the (trimmed)
 * system message, then every message trimmed; tool results as "ipython" turns whose
 * text is JSON-quoted (the template tests `content is iterable`, which a string is).
 * Llama 3.0: just the messages, BOS glued to the first. */
static void render_llama3(const chat_template *t, const render_args *a, out *o) {
    if (!t->llama3_dated) {
        for (size_t i = 0; i < a->n; i++) {
            if (i == 0) put(o, a->bos);
            llama3_header(o, a->m[i].role);
            put_trimmed(o, i, a->m[i].content);
            put(o, "<|eot_id|>");
        }
    } else {
        char date[32];
        if (!a->date && !t->fixed_date) today(date);
        put(o, a->bos);
        put(o, "<|start_header_id|>system<|end_header_id|>\n\n");
        put(o, t->knowledge_line);
        put(o, "Today Date: ");
        put(o, a->date ? a->date : t->fixed_date ? t->fixed_date : date);
        put(o, "\n\n");
        size_t i = 0;
        if (a->n > 0 && is(&a->m[0], "system")) {
            put_trimmed(o, 0, a->m[0].content);
            i = 1;
        }
        put(o, "<|eot_id|>");
        for (; i < a->n; i++) {
            if (is(&a->m[i], "tool") || is(&a->m[i], "ipython")) {
                put(o, "<|start_header_id|>ipython<|end_header_id|>\n\n");
                put_json_string(o, i, a->m[i].content);
            } else {
                llama3_header(o, a->m[i].role);
                put_trimmed(o, i, a->m[i].content);
            }
            put(o, "<|eot_id|>");
        }
    }
    if (a->gen) put(o, "<|start_header_id|>assistant<|end_header_id|>\n\n");
}

/* Llama 2 chat: the system message goes into the first turn inside <<SYS>> markers, and
 * the whole turn is stripped; every user turn starts with BOS, every reply ends with EOS.
 * Roles must alternate user/assistant; the model needs no generation prompt. */
static void render_llama2(const chat_template *t, const render_args *a, out *o) {
    (void)t;
    size_t start = (a->n > 0 && is(&a->m[0], "system")) ? 1 : 0;
    for (size_t i = start; i < a->n; i++) {
        const chat_message *m = &a->m[i];
        if (is(m, "user") != ((i - start) % 2 == 0)) {
            refuse(o, "Conversation roles must alternate user/assistant/user/assistant/...");
            return;
        }
        bool user = is(m, "user");
        if (!user && !is(m, "assistant")) continue;
        if (user) {
            put(o, a->bos);
            put(o, "[INST] ");
        } else {
            put(o, " ");
        }
        if (i == start && start == 1) {
            /* content = '<<SYS>>\n' + system + '\n<</SYS>>\n\n' + text, then .strip():
             * the string starts with "<<SYS>>", so only its end can lose whitespace — the
             * message's trailing space, and the "\n\n" too when the message is blank. */
            put(o, "<<SYS>>\n");
            put_msg(o, 0, a->m[0].content);
            put(o, "\n<</SYS>>");
            size_t at = o->len;
            put(o, "\n\n");
            if (!put_stripped(o, i, m->content, false, true) && !o->oom) {
                o->len = at; /* a blank message: the strip eats the "\n\n" as well */
                o->buf[at] = '\0';
            }
        } else {
            put_stripped(o, i, m->content, true, true);
        }
        put(o, user ? " [/INST]" : " ");
        if (!user) put(o, a->eos);
    }
}

/* Mistral: roles must alternate after an optional system message, which joins a user
 * turn (the last message, for v0.3 and Nemo: so it vanishes once a reply follows);
 * replies end with EOS; there is no generation prompt. */
static void render_mistral(const chat_template *t, const render_args *a, out *o) {
    size_t start = 0;
    const char *sys = NULL;
    if (a->n > 0 && is(&a->m[0], "system") && t->system_place != SYSTEM_REFUSED) {
        sys = a->m[0].content;
        start = 1;
    }
    size_t turn = 0;
    for (size_t i = start; i < a->n; i++) {
        if (t->mistral_tools && (is(&a->m[i], "tool") || is(&a->m[i], "tool_results")))
            continue;
        if (is(&a->m[i], "user") != (turn % 2 == 0)) {
            refuse(o, "After the optional system message, conversation roles must alternate "
                      "user/assistant/user/assistant/...");
            return;
        }
        turn++;
    }
    put(o, a->bos);
    for (size_t i = start; i < a->n; i++) {
        const chat_message *m = &a->m[i];
        if (is(m, "user")) {
            bool with_sys = sys && (t->system_place == SYSTEM_IN_LAST_USER ? i + 1 == a->n
                                                                           : i == start);
            put(o, t->inst_open);
            if (with_sys) {
                put_msg(o, 0, sys);
                put(o, "\n\n");
            }
            put_msg(o, i, m->content);
            put(o, t->inst_close);
        } else if (is(m, "assistant")) {
            if (t->reply_space) put(o, " ");
            if (t->reply_trim)
                put_trimmed(o, i, m->content);
            else
                put_msg(o, i, m->content);
            put(o, a->eos);
        } else if (t->mistral_tools && (is(m, "tool") || is(m, "tool_results"))) {
            /* the template needs a 9-character tool_call_id, which a chat_message lacks */
            refuse(o, "Tool call IDs should be alphanumeric strings with length 9!");
            return;
        } else {
            refuse(o, "Only user and assistant roles are supported, with the exception of an "
                      "initial optional system message!");
            return;
        }
    }
}

/* Gemma: user/model turns that must alternate, text trimmed. Gemma 2 refuses a system
 * message; Gemma 3 puts it at the top of the first user turn. */
static void render_gemma(const chat_template *t, const render_args *a, out *o) {
    size_t start = 0;
    if (a->n > 0 && is(&a->m[0], "system")) {
        if (!t->gemma_system_prefix) {
            refuse(o, "System role not supported");
            return;
        }
        start = 1;
    }
    put(o, a->bos);
    for (size_t i = start; i < a->n; i++) {
        const chat_message *m = &a->m[i];
        if (is(m, "user") != ((i - start) % 2 == 0)) {
            refuse(o, "Conversation roles must alternate user/assistant/user/assistant/...");
            return;
        }
        put(o, "<start_of_turn>");
        if (is(m, "assistant"))
            put(o, "model");
        else
            put(o, m->role);
        put(o, "\n");
        if (i == start && start == 1) {
            put_msg(o, 0, a->m[0].content);
            put(o, "\n\n");
        }
        put_trimmed(o, i, m->content);
        put(o, "<end_of_turn>\n");
    }
    if (a->gen) put(o, "<start_of_turn>model\n");
}

/* Phi-3: <|role|>\n TEXT <|end|>\n for system/user/assistant (others dropped). The first
 * Phi-3 mini template instead drops the system message and opens the assistant turn
 * after every user turn. */
static void render_phi3(const chat_template *t, const render_args *a, out *o) {
    if (t->phi3_bos) put(o, a->bos);
    for (size_t i = 0; i < a->n; i++) {
        const chat_message *m = &a->m[i];
        if (is(m, "system")) {
            if (!t->phi3_system || (t->phi3_skip_empty && !*m->content)) continue;
            put(o, "<|system|>\n");
        } else if (is(m, "user")) {
            put(o, "<|user|>\n");
        } else if (is(m, "assistant")) {
            if (!t->phi3_legacy) put(o, "<|assistant|>\n");
        } else {
            continue;
        }
        put_msg(o, i, m->content);
        put(o, "<|end|>\n");
        if (t->phi3_legacy && is(m, "user")) put(o, "<|assistant|>\n");
    }
    if (t->phi3_legacy) return;
    if (a->gen)
        put(o, "<|assistant|>\n");
    else if (t->phi3_eos_at_end)
        put(o, a->eos);
}

/* DeepSeek (R1 distills): BOS, then the system text bare (the last system message wins),
 * then <｜User｜>/<｜Assistant｜> turns; earlier replies lose their reasoning (everything up
 * to the last </think>); tool results are framed with tool-output markers. */
static void render_deepseek(const chat_template *t, const render_args *a, out *o) {
    static const char EOS[] = "<｜end▁of▁sentence｜>"; /* literal in the template */
    size_t sys = a->n;
    for (size_t i = 0; i < a->n; i++)
        if (is(&a->m[i], "system")) sys = i;
    put(o, a->bos);
    if (sys < a->n) put_msg(o, sys, a->m[sys].content);
    bool in_tool = false, first_output = true;
    for (size_t i = 0; i < a->n; i++) {
        const chat_message *m = &a->m[i];
        if (is(m, "user")) {
            in_tool = false;
            put(o, "<｜User｜>");
            put_msg(o, i, m->content);
        } else if (is(m, "assistant")) {
            if (in_tool) {
                put(o, "<｜tool▁outputs▁end｜>");
                put_msg(o, i, m->content);
                in_tool = false;
            } else {
                const char *text = m->content;
                if (t->deepseek_strip_think) {
                    for (const char *p = strstr(text, "</think>"); p; p = strstr(p, "</think>")) {
                        p += strlen("</think>");
                        text = p;
                    }
                }
                put(o, "<｜Assistant｜>");
                put_msg(o, i, text);
            }
            put(o, EOS);
        } else if (is(m, "tool")) {
            in_tool = true;
            put(o, first_output ? "<｜tool▁outputs▁begin｜><｜tool▁output▁begin｜>"
                                : "\n<｜tool▁output▁begin｜>");
            first_output = false;
            put_msg(o, i, m->content);
            put(o, "<｜tool▁output▁end｜>");
        }
    }
    if (in_tool) put(o, "<｜tool▁outputs▁end｜>");
    if (a->gen && !in_tool) put(o, t->deepseek_think_prompt ? "<｜Assistant｜><think>\n" : "<｜Assistant｜>");
}

/* Zephyr / TinyLlama chat: <|role|>\n TEXT EOS \n; the generation prompt is written after
 * the last message (so not at all for an empty conversation). */
static void render_zephyr(const chat_template *t, const render_args *a, out *o) {
    (void)t;
    for (size_t i = 0; i < a->n; i++) {
        const chat_message *m = &a->m[i];
        if (is(m, "user") || is(m, "system") || is(m, "assistant")) {
            put(o, "<|");
            put(o, m->role);
            put(o, "|>\n");
            put_msg(o, i, m->content);
            put(o, a->eos);
            put(o, "\n");
        }
        if (i + 1 == a->n && a->gen) put(o, "<|assistant|>\n");
    }
}

typedef void (*renderer)(const chat_template *, const render_args *, out *);
static const renderer RENDERERS[FAM_COUNT] = {
    [FAM_CHATML] = render_chatml,   [FAM_QWEN] = render_chatml,
    [FAM_LLAMA3] = render_llama3,   [FAM_LLAMA2] = render_llama2,
    [FAM_MISTRAL] = render_mistral, [FAM_GEMMA] = render_gemma,
    [FAM_PHI3] = render_phi3,       [FAM_DEEPSEEK] = render_deepseek,
    [FAM_ZEPHYR] = render_zephyr,
};

char *chat_template_render_spans(const chat_template *t, const chat_message *msgs, size_t n,
                                 const chat_render_options *opt, chat_span **spans,
                                 size_t *n_spans, char *err, size_t errlen) {
    if (spans) *spans = NULL;
    if (n_spans) *n_spans = 0;
    if (!t || (n > 0 && !msgs)) {
        err_set(err, errlen, "chat template: no template or no messages");
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        if (!msgs[i].role || !msgs[i].content) {
            err_set(err, errlen, "chat message %zu has no %s", i, msgs[i].role ? "text" : "role");
            return NULL;
        }
    }
    if (t->jinja) return chat_jinja_render(t->jinja, msgs, n, NULL, opt, NULL, spans, n_spans, err, errlen);
    render_args a = {msgs, n, false, "", "", NULL};
    if (opt) {
        a.gen = opt->add_generation_prompt;
        a.bos = opt->bos_token ? opt->bos_token : "";
        a.eos = opt->eos_token ? opt->eos_token : "";
        a.date = opt->date_string;
    }
    out o = {0};
    o.err = err;
    o.errlen = errlen;
    put(&o, ""); /* an empty render is "", not NULL */
    RENDERERS[t->fam](t, &a, &o);
    if (o.oom || o.refused) {
        if (o.oom && !o.refused) err_set(err, errlen, "out of memory");
        free(o.buf);
        free(o.spans);
        return NULL;
    }
    if (spans) {
        *spans = o.spans;
        if (n_spans) *n_spans = o.n_spans;
    } else {
        free(o.spans);
    }
    return o.buf;
}

char *chat_template_render(const chat_template *t, const chat_message *msgs, size_t n,
                           const chat_render_options *opt, char *err, size_t errlen) {
    return chat_template_render_spans(t, msgs, n, opt, NULL, NULL, err, errlen);
}

/* The families read role and content strings only. */
static chat_message *messages_from_json(const cJSON *arr, size_t *n, char *err, size_t errlen) {
    if (!cJSON_IsArray(arr)) {
        err_set(err, errlen, "messages: expected a JSON array of {\"role\": ..., \"content\": ...} objects");
        return NULL;
    }
    *n = (size_t)cJSON_GetArraySize(arr);
    chat_message *m = calloc(*n + 1, sizeof *m);
    if (!m) {
        err_set(err, errlen, "out of memory");
        return NULL;
    }
    size_t i = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, arr) {
        m[i].role = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(item, "role"));
        m[i].content = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(item, "content"));
        if (!m[i].role || !m[i].content) {
            err_set(err, errlen, "messages[%zu]: the built-in templates need \"role\" and \"content\" strings", i);
            free(m);
            return NULL;
        }
        i++;
    }
    return m;
}

char *chat_template_render_json(const chat_template *t, const char *messages_json,
                                const chat_render_options *opt, size_t *len, char *err, size_t errlen) {
    if (len) *len = 0;
    if (!t || !messages_json) {
        err_set(err, errlen, "chat template: no template or no messages");
        return NULL;
    }
    if (t->jinja) return chat_jinja_render(t->jinja, NULL, 0, messages_json, opt, len, NULL, NULL, err, errlen);
    cJSON *root = cJSON_Parse(messages_json);
    if (!root) {
        err_set(err, errlen, "messages: not valid JSON");
        return NULL;
    }
    size_t n = 0;
    chat_message *m = messages_from_json(root, &n, err, errlen);
    char *text = m ? chat_template_render(t, m, n, opt, err, errlen) : NULL;
    if (text && len) *len = strlen(text);
    free(m);
    cJSON_Delete(root);
    return text;
}
