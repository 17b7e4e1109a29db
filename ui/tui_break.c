/* tui_break.c — breakpoints: pause a reply at the token where the model became unsure
 * (entropy above a threshold) or stopped looking at what it was given (grounding below
 * one), so that it can be inspected — the why card, the bars, a branch — before the
 * reply goes on.
 *
 *   /break entropy 2.5     pause after a token whose entropy exceeds 2.5 nats
 *   /break grounding 0.2   pause after a reply token with less than 20% grounding
 *   /break off             no breakpoints
 *   /break                 show them
 *
 * The two can be set together. The decision is inspect_should_break()'s; this file
 * parses, pauses, and continues. */
#include "tui_app.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static void describe(const tui_app *a, char *buf, size_t cap) {
    const inspect_breakpoints *b = &a->gen.breaks;
    if (!b->on_entropy && !b->on_grounding) {
        snprintf(buf, cap, "no breakpoints");
        return;
    }
    buf[0] = 0;
    if (b->on_entropy) snprintf(buf, cap, "entropy above %.2f nats", (double)b->entropy_above);
    if (b->on_grounding) {
        size_t n = strlen(buf);
        snprintf(buf + n, cap - n, "%sgrounding below %.0f%%", n ? ", " : "", 100.0 * b->grounding_below);
    }
}

static bool parse_number(const char *s, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    while (*end == ' ') end++;
    if (end == s || *end || errno || !isfinite(v)) return false;
    *out = v;
    return true;
}

void tui_cmd_break(tui_app *a, const char *name, const char *args) {
    (void)name;
    char what[32] = "";
    size_t n = 0;
    while (*args && *args != ' ' && n + 1 < sizeof what) what[n++] = *args++;
    what[n] = 0;
    while (*args == ' ') args++;
    char desc[128];
    double v;
    if (!what[0]) {
        describe(a, desc, sizeof desc);
        tui_message(a, false, "breakpoints: %s", desc);
        return;
    }
    if (strcmp(what, "off") == 0 || strcmp(what, "clear") == 0) {
        memset(&a->gen.breaks, 0, sizeof a->gen.breaks);
        tui_message(a, false, "breakpoints off");
        return;
    }
    if (strcmp(what, "entropy") == 0) {
        if (strcmp(args, "off") == 0) {
            a->gen.breaks.on_entropy = false;
        } else if (!parse_number(args, &v) || v < 0 || v > 100) {
            tui_message(a, true, "/break entropy takes a number of nats from 0 to 100 (or off)");
            return;
        } else {
            a->gen.breaks.on_entropy = true;
            a->gen.breaks.entropy_above = (float)v;
        }
    } else if (strcmp(what, "grounding") == 0) {
        if (strcmp(args, "off") == 0) {
            a->gen.breaks.on_grounding = false;
        } else if (!parse_number(args, &v) || v < 0 || v > 1) {
            tui_message(a, true, "/break grounding takes a share from 0 to 1 (or off)");
            return;
        } else {
            a->gen.breaks.on_grounding = true;
            a->gen.breaks.grounding_below = (float)v;
        }
    } else {
        tui_message(a, true, "/break entropy NATS, /break grounding SHARE or /break off");
        return;
    }
    describe(a, desc, sizeof desc);
    tui_message(a, false, "breakpoints: %s", desc);
}

void tui_break_check(tui_app *a, size_t rec) {
    const inspect_breakpoints *b = &a->gen.breaks;
    if (!b->on_entropy && !b->on_grounding) return;
    const step_record *r = session_record(a->s, rec);
    const grounding *g = b->on_grounding ? tui_grounding(a, rec) : NULL;
    if (!inspect_should_break(b, r, g, a->gen.pause_why, sizeof a->gen.pause_why)) return;
    a->gen.paused = true;
    a->gen.paused_at = tui_now();
    /* look at the token that tripped it */
    a->mode = MODE_INSPECT;
    a->cursor = rec;
    tui_message(a, false, "paused at position %zu: %s. g continues, w explains, Ctrl-C ends the reply", rec,
                a->gen.pause_why);
}

void tui_break_continue(tui_app *a) {
    if (!a->gen.paused) {
        tui_message(a, false, a->gen.generating ? "the reply is not paused" : "no reply to continue");
        return;
    }
    a->gen.paused = false;
    a->gen.reply_t0 += tui_now() - a->gen.paused_at;
    a->mode = MODE_TYPE;
    tui_message(a, false, "continuing (%s)", a->gen.pause_why);
}

void tui_cmd_continue(tui_app *a, const char *name, const char *args) {
    (void)name, (void)args;
    tui_break_continue(a);
}
