/* chat_jinja.c — see chat_jinja.h.
 *
 * The variables mirror what transformers' apply_chat_template gives a template (and
 * what ../shared/chat-templates/expected*.json were rendered with): messages, tools=None,
 * documents=None, add_generation_prompt, bos_token, eos_token, plus enable_thinking and
 * any other keyword the caller names. A message's content string is tagged with the
 * message's index; the interpreter carries the tags through the template's string
 * operations and reports where they land in the output. */
#include "chat_jinja.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

bool chat_parse_date(const char *s, struct tm *out) {
    static const char *const MON[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    int d = 0, m = -1, y = 0, used = 0;
    char mon[4] = "";
    if (sscanf(s, "%4d-%2d-%2d%n", &y, &m, &d, &used) == 3 && !s[used]) {
        m -= 1;
    } else if (sscanf(s, "%2d %3s %4d%n", &d, mon, &y, &used) == 3 && !s[used]) {
        m = -1;
        for (int i = 0; i < 12; i++)
            if (strcasecmp(mon, MON[i]) == 0) m = i;
    } else {
        return false;
    }
    if (m < 0 || m > 11 || d < 1 || d > 31 || y < 1 || y > 9999) return false;
    struct tm tm = {.tm_mday = d, .tm_mon = m, .tm_year = y - 1900, .tm_hour = 12};
    time_t t = timegm(&tm); /* fills in the weekday and the day of the year */
    struct tm norm;
    if (t == (time_t)-1 || !gmtime_r(&t, &norm) || norm.tm_mday != d) return false;
    norm.tm_hour = norm.tm_min = norm.tm_sec = 0;
    *out = norm;
    return true;
}

static jinja_value *string_value(jinja_ctx *c, const char *s, int tag) {
    return jinja_string(c, s ? s : "", s ? strlen(s) : 0, tag);
}

/* messages as a list of {role, content} dicts, each content tagged with its index */
static jinja_value *message_list(jinja_ctx *c, const chat_message *msgs, size_t n) {
    jinja_value *list = jinja_list(c);
    for (size_t i = 0; list && i < n; i++) {
        jinja_value *m = jinja_dict(c);
        if (!m || jinja_dict_set(c, m, "role", string_value(c, msgs[i].role, -1)) < 0 ||
            jinja_dict_set(c, m, "content", string_value(c, msgs[i].content, (int)i)) < 0 ||
            jinja_list_push(c, list, m) < 0)
            return NULL;
    }
    return list;
}

/* NAME=VALUE: VALUE as JSON when it reads as JSON (true, 3, ["a"]), else as a string. */
static int set_var(jinja_ctx *c, const char *pair, char *err, size_t errlen) {
    const char *eq = strchr(pair, '=');
    if (!eq || eq == pair) {
        snprintf(err, errlen, "--var wants NAME=VALUE, not '%s'", pair);
        return -1;
    }
    char name[128];
    size_t n = (size_t)(eq - pair);
    if (n >= sizeof name) {
        snprintf(err, errlen, "--var: the name '%.*s...' is too long", 20, pair);
        return -1;
    }
    memcpy(name, pair, n);
    name[n] = '\0';
    const char *value = eq + 1;
    jinja_value *v = jinja_json(c, value, strlen(value), NULL, 0);
    if (!v) v = jinja_string(c, value, strlen(value), -1);
    if (!v || jinja_set(c, name, v) < 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

static int set_variables(jinja_ctx *c, const chat_message *msgs, size_t n, const char *messages_json,
                         const chat_render_options *opt, char *err, size_t errlen) {
    jinja_value *messages;
    if (msgs || !messages_json) {
        messages = message_list(c, msgs, msgs ? n : 0);
    } else {
        char why[200];
        messages = jinja_json(c, messages_json, strlen(messages_json), why, sizeof why);
        if (!messages) {
            snprintf(err, errlen, "messages: %s", why);
            return -1;
        }
    }
    jinja_value *tools = jinja_none(c);
    if (opt->tools_json) {
        char why[200];
        if (!(tools = jinja_json(c, opt->tools_json, strlen(opt->tools_json), why, sizeof why))) {
            snprintf(err, errlen, "tools: %s", why);
            return -1;
        }
    }
    if (!messages || jinja_set(c, "messages", messages) < 0 || jinja_set(c, "tools", tools) < 0 ||
        jinja_set(c, "documents", jinja_none(c)) < 0 ||
        jinja_set(c, "add_generation_prompt", jinja_bool(c, opt->add_generation_prompt)) < 0 ||
        jinja_set(c, "bos_token", string_value(c, opt->bos_token, -1)) < 0 ||
        jinja_set(c, "eos_token", string_value(c, opt->eos_token, -1)) < 0 ||
        (opt->enable_thinking != CHAT_THINK_DEFAULT &&
         jinja_set(c, "enable_thinking", jinja_bool(c, opt->enable_thinking == CHAT_THINK_ON)) < 0)) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < opt->n_vars; i++)
        if (set_var(c, opt->vars[i], err, errlen) < 0) return -1;
    if (opt->date_string) {
        struct tm tm;
        if (!chat_parse_date(opt->date_string, &tm)) {
            snprintf(err, errlen, "unrecognised date '%s' (write it like 26 Jul 2024 or 2024-07-26)", opt->date_string);
            return -1;
        }
        jinja_set_time(c, &tm);
    }
    return 0;
}

char *chat_jinja_render(const jinja_template *t, const chat_message *msgs, size_t n, const char *messages_json,
                        const chat_render_options *opt, size_t *len, chat_span **spans, size_t *n_spans,
                        char *err, size_t errlen) {
    static const chat_render_options NONE = {0};
    char scratch[256];
    if (!err || !errlen) err = scratch, errlen = sizeof scratch;
    if (!opt) opt = &NONE;
    jinja_ctx *c = jinja_ctx_create(NULL);
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    char *text = NULL;
    jinja_span *js = NULL;
    size_t n_js = 0;
    if (set_variables(c, msgs, n, messages_json, opt, err, errlen) == 0)
        text = jinja_render(t, c, len, spans ? &js : NULL, &n_js, err, errlen);
    jinja_ctx_free(c);
    if (text && spans && n_js) {
        /* jinja_span and chat_span say the same thing; tags are message indices < N */
        chat_span *cs = malloc(n_js * sizeof *cs);
        if (!cs) {
            free(text);
            free(js);
            snprintf(err, errlen, "out of memory");
            return NULL;
        }
        for (size_t i = 0; i < n_js; i++) cs[i] = (chat_span){js[i].start, js[i].len, js[i].tag};
        *spans = cs;
        *n_spans = n_js;
    }
    free(js);
    return text;
}
