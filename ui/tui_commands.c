/* tui_commands.c — the slash commands typed on the input line.
 *
 * /why, /break, /heads, /branch, /branches, /switch, /probe, /compare, /prompt and
 * /think hand over to the files that implement them (tui_why.c, tui_break.c, ...).
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
                p.repeat_last_n, (unsigned long long)p.seed, a->generating ? " (from the next token)" : "");
    return true;
}

/* The "why this token?" commands; they act on the token under the cursor (or the
 * newest one). */
static bool inspect_command(tui_app *a, const char *name, const char *args) {
    if (strcmp(name, "why") == 0) tui_why_open(a);
    else if (strcmp(name, "break") == 0) tui_break_command(a, args);
    else if (strcmp(name, "continue") == 0 || strcmp(name, "go") == 0) tui_break_continue(a);
    else if (strcmp(name, "heads") == 0) tui_heads_command(a, args);
    else if (strcmp(name, "branch") == 0 || strcmp(name, "fork") == 0) tui_branch_command(a, args);
    else if (strcmp(name, "branches") == 0) tui_branch_list(a);
    else if (strcmp(name, "switch") == 0) {
        long k;
        if (!parse_int(args, 0, INT_MAX, &k)) tui_message(a, true, "/switch takes a branch number (/branches lists them)");
        else tui_branch_switch(a, (int)k);
    } else if (strcmp(name, "probe") == 0) tui_probe_command(a, args);
    else if (strcmp(name, "compare") == 0) tui_compare_command(a, args);
    else if (strcmp(name, "prompt") == 0) tui_prompt_open(a);
    else if (strcmp(name, "think") == 0) tui_think_command(a, args);
    else return false;
    return true;
}

void tui_command(tui_app *a, const char *line) {
    char name[32];
    const char *p = line + 1;
    size_t n = 0;
    while (*p && *p != ' ' && n + 1 < sizeof name) name[n++] = *p++;
    name[n] = 0;
    while (*p == ' ') p++;
    const char *args = p;

    if (strcmp(name, "help") == 0 || strcmp(name, "?") == 0) {
        a->help = true;
        return;
    }
    if (strcmp(name, "quit") == 0 || strcmp(name, "exit") == 0 || strcmp(name, "q") == 0) {
        a->quit = true;
        return;
    }
    if (sampling_command(a, name, args)) return;
    if (inspect_command(a, name, args)) return;

    bool known = strcmp(name, "clear") == 0 || strcmp(name, "system") == 0 || strcmp(name, "save") == 0 ||
                 strcmp(name, "load") == 0;
    if (!known) {
        tui_message(a, true, "unknown command /%s (/help lists them; start with // to send a '/')", name);
        return;
    }
    if (a->generating) {
        tui_message(a, true, "/%s waits until the reply is over (Ctrl-C stops it)", name);
        return;
    }
    char msg[512];
    if (strcmp(name, "clear") == 0) {
        tui_reset_conversation(a);
        tui_message(a, false, "conversation cleared");
    } else if (strcmp(name, "system") == 0) {
        session_set_system_prompt(a->s, *args ? args : NULL);
        if (a->n_turns == 0) { /* nothing said yet: start over with it right away */
            tui_reset_conversation(a);
            tui_message(a, false, *args ? "system prompt set" : "system prompt removed");
        } else {
            tui_message(a, false, "%s; it applies from /clear", *args ? "system prompt set" : "system prompt removed");
        }
    } else if (!*args) {
        tui_message(a, true, "/%s needs a file name", name);
    } else if (strcmp(name, "save") == 0) {
        if (tui_save(a, args, msg, sizeof msg) == 0) tui_message(a, false, "saved %zu tokens to %s", session_n_records(a->s), args);
        else tui_message(a, true, "%s", msg);
    } else {
        int rc = tui_load(a, args, msg, sizeof msg);
        tui_message(a, rc != 0, "%s", msg);
    }
}
