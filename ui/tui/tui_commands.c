/* tui_commands.c — the slash commands typed on the input line.
 *
 * The commands are the table in tui_commands.def: each names its handler, which lives
 * with the feature it belongs to (/why in tui_why.c, /break in tui_break.c, ...); the
 * ones about the conversation itself and the sampler are here.
 *
 * Sampling changes apply from the next token, even in the middle of a reply; commands
 * that change the conversation itself wait until the reply is over. Every value is
 * checked and a bad one is answered with a message naming the accepted range. */
#include "tui_app.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static bool parse_float(const char *s, double lo, double hi, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    while (*end == ' ') end++;
    if (end == s || *end || errno || !isfinite(v) || v < lo || v > hi) return false;
    *out = v;
    return true;
}

static bool parse_int(const char *s, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    while (*end == ' ') end++;
    if (end == s || *end || errno || v < lo || v > hi) return false;
    *out = v;
    return true;
}

static bool parse_u64(const char *s, uint64_t *out) {
    while (*s == ' ') s++;
    if (*s < '0' || *s > '9') return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    while (*end == ' ') end++;
    if (*end || errno) return false;
    *out = (uint64_t)v;
    return true;
}

/* The sampling commands: name, what it sets, and its range. */
static bool sampling_command(tui_app *a, const char *name, const char *args) {
    sampler_params p = *session_sampling(a->s);
    double v;
    long k;
    bool show = !*args;
    if (strcmp(name, "temp") == 0 || strcmp(name, "temperature") == 0) {
        if (show) return tui_message(a, false, "temperature %.2f (0 = greedy)", (double)p.temperature), true;
        if (!parse_float(args, 0, 100, &v)) return tui_message(a, true, "/temp takes a number from 0 (greedy) to 100"), true;
        p.temperature = (float)v;
    } else if (strcmp(name, "top-k") == 0 || strcmp(name, "topk") == 0) {
        if (show) return tui_message(a, false, "top-k %d (0 = off)", p.top_k), true;
        if (!parse_int(args, 0, INT_MAX, &k)) return tui_message(a, true, "/top-k takes a whole number >= 0 (0 = off)"), true;
        p.top_k = (int)k;
    } else if (strcmp(name, "top-p") == 0 || strcmp(name, "topp") == 0) {
        if (show) return tui_message(a, false, "top-p %.3g (1 = off)", (double)p.top_p), true;
        if (!parse_float(args, 0, 1, &v) || v <= 0) return tui_message(a, true, "/top-p takes a number in (0, 1] (1 = off)"), true;
        p.top_p = (float)v;
    } else if (strcmp(name, "min-p") == 0 || strcmp(name, "minp") == 0) {
        if (show) return tui_message(a, false, "min-p %.3g (0 = off)", (double)p.min_p), true;
        if (!parse_float(args, 0, 1, &v) || v >= 1) return tui_message(a, true, "/min-p takes a number in [0, 1) (0 = off)"), true;
        p.min_p = (float)v;
    } else if (strcmp(name, "repeat-penalty") == 0 || strcmp(name, "repeat_penalty") == 0) {
        if (show)
            return tui_message(a, false, "repeat penalty %.3g over the last %d tokens (1 = off)", (double)p.repeat_penalty,
                               p.repeat_last_n),
                   true;
        char first[64];
        const char *rest = strchr(args, ' ');
        size_t len = rest ? (size_t)(rest - args) : strlen(args);
        if (len >= sizeof first) len = sizeof first - 1;
        memcpy(first, args, len);
        first[len] = 0;
        if (!parse_float(first, 0, 100, &v) || v <= 0)
            return tui_message(a, true, "/repeat-penalty takes a number > 0 (1 = off) and optionally how many tokens back"), true;
        p.repeat_penalty = (float)v;
        if (rest) {
            if (!parse_int(rest, 0, session_n_ctx(a->s), &k))
                return tui_message(a, true, "the last-N of /repeat-penalty is a whole number from 0 to %d", session_n_ctx(a->s)), true;
            p.repeat_last_n = (int)k;
        }
    } else if (strcmp(name, "seed") == 0) {
        if (show) return tui_message(a, false, "seed %llu", (unsigned long long)p.seed), true;
        if (!parse_u64(args, &p.seed)) return tui_message(a, true, "/seed takes a whole number >= 0"), true;
    } else {
        return false;
    }
    session_set_sampling(a->s, &p);
    tui_message(a, false, "sampling: T %.2g  top-k %d  top-p %.3g  min-p %.3g  penalty %.3g/%d  seed %llu%s",
                (double)p.temperature, p.top_k, (double)p.top_p, (double)p.min_p, (double)p.repeat_penalty,
                p.repeat_last_n, (unsigned long long)p.seed, a->gen.generating ? " (from the next token)" : "");
    return true;
}


void tui_cmd_sampling(tui_app *a, const char *name, const char *args) { sampling_command(a, name, args); }


void tui_cmd_quit(tui_app *a, const char *name, const char *args) {
    (void)name, (void)args;
    a->quit = true;
}

void tui_cmd_clear(tui_app *a, const char *name, const char *args) {
    (void)name, (void)args;
    tui_reset_conversation(a);
    tui_message(a, false, "conversation cleared");
}

void tui_cmd_system(tui_app *a, const char *name, const char *args) {
    (void)name;
    if (!*args) { /* show it; "/system none" removes it */
        const char *now = session_system_prompt(a->s);
        if (now) tui_message(a, false, "system prompt: %s  (/system none removes it)", now);
        else tui_message(a, false, "no system prompt of yours (/system TEXT sets one; the chat template may add its own: t shows template text)");
        return;
    }
    if (strcmp(args, "none") == 0 || strcmp(args, "off") == 0) args = "";
    session_set_system_prompt(a->s, *args ? args : NULL);
    if (a->n_turns == 0) { /* nothing said yet: start over with it right away */
        tui_reset_conversation(a);
        tui_message(a, false, *args ? "system prompt set" : "system prompt removed");
    } else {
        tui_message(a, false, "%s; it applies from /clear", *args ? "system prompt set" : "system prompt removed");
    }
}

void tui_cmd_save(tui_app *a, const char *name, const char *args) {
    char msg[512];
    if (!*args) {
        tui_message(a, true, "/%s needs a file name", name);
        return;
    }
    if (tui_save(a, args, msg, sizeof msg) == 0) tui_message(a, false, "saved %zu tokens to %s", session_n_records(a->s), args);
    else tui_message(a, true, "%s", msg);
}

void tui_cmd_load(tui_app *a, const char *name, const char *args) {
    char msg[512];
    if (!*args) {
        tui_message(a, true, "/%s needs a file name", name);
        return;
    }
    int rc = tui_load(a, args, msg, sizeof msg);
    tui_message(a, rc != 0, "%s", msg);
    tui_window_check(a); /* a long conversation may not have fitted the window */
}

/* ---- the table ---- */

typedef struct command {
    const char *names; /* the name and its aliases, separated by spaces */
    tui_command_fn *fn;
    int flags;
    const char *help;
} command;

static const command COMMANDS[] = {
#define TUI_COMMAND(names, fn, flags, help) {names, fn, flags, help},
#include "tui_commands.def"
#undef TUI_COMMAND
};

/* Is NAME one of the words of NAMES? */
static bool named(const char *names, const char *name) {
    size_t n = strlen(name);
    for (const char *p = names; *p;) {
        const char *end = strchr(p, ' ');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && strncmp(p, name, n) == 0) return true;
        if (!end) break;
        p = end + 1;
    }
    return false;
}

void tui_command(tui_app *a, const char *line) {
    char name[32];
    const char *p = line + 1;
    size_t n = 0;
    while (*p && *p != ' ' && n + 1 < sizeof name) name[n++] = *p++;
    name[n] = 0;
    while (*p == ' ') p++;
    for (size_t i = 0; i < sizeof COMMANDS / sizeof COMMANDS[0]; i++) {
        const command *c = &COMMANDS[i];
        if (!named(c->names, name)) continue;
        if ((c->flags & TUI_CMD_IDLE) && a->gen.generating) {
            tui_message(a, true, "/%s waits until the reply is over (Ctrl-C stops it)", name);
            return;
        }
        c->fn(a, name, p);
        return;
    }
    tui_message(a, true, "unknown command /%s (/help lists them; start with // to send a '/')", name);
}

void tui_command_names(char *out, size_t cap) {
    size_t o = 0;
    out[0] = 0;
    for (size_t i = 0; i < sizeof COMMANDS / sizeof COMMANDS[0] && o + 1 < cap; i++) {
        const char *names = COMMANDS[i].names;
        size_t len = strcspn(names, " ");
        if (i > 0 && strncmp(names, COMMANDS[i - 1].names, len) == 0) continue;
        int n = snprintf(out + o, cap - o, "%s/%.*s", o ? "  " : "", (int)len, names);
        if (n < 0) break;
        o += (size_t)n;
    }
}

/* /help: every command, its aliases and what it does, from the table. */
void tui_cmd_help(tui_app *a, const char *name, const char *args) {
    (void)name, (void)args;
    tui_sheet *sh = &a->sheet;
    tui_sheet_reset(sh, &tui_sheet_plain);
    snprintf(sh->title, sizeof sh->title, "Commands (F1: the keys)");
    snprintf(sh->footer, sizeof sh->footer, "Up/Down scroll  Esc closes  (start a message with // to send a '/')");
    for (size_t i = 0; i < sizeof COMMANDS / sizeof COMMANDS[0]; i++) {
        const command *c = &COMMANDS[i];
        char first[32], aliases[96] = "";
        size_t len = strcspn(c->names, " ");
        snprintf(first, sizeof first, "/%.*s", (int)len, c->names);
        if (c->names[len]) snprintf(aliases, sizeof aliases, " (also %s)", c->names + len + 1);
        const char *colon = strchr(c->help, ':');
        bool has_args = colon && colon - c->help < 32;
        tui_sheet_line_begin(sh, -1);
        tui_sheet_text(sh, TC_CHOSEN, "%s", first);
        if (has_args) tui_sheet_text(sh, TC_NORMAL, " %.*s", (int)(colon - c->help), c->help);
        tui_sheet_col(sh, 30);
        tui_sheet_text(sh, TC_NORMAL, "%s", has_args ? colon + 2 : c->help);
        if (aliases[0]) tui_sheet_text(sh, TC_DIM, "%s", aliases);
    }
    a->dirty = true;
}
