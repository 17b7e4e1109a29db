/* tui_break.c — breakpoints: pause a reply at the token where the model became unsure
 * (entropy above a threshold) or stopped looking at what it was given (grounding below
 * one), so that it can be inspected — the why card, the bars, a branch — before the
 * reply goes on.
 *
 *   /break entropy 2.5     pause after a token whose entropy exceeds 2.5 nats
 *   /break grounding 0.2   pause after a reply token with less than 20% grounding
 *   /break suspicion 0.8   pause when the model's detector (llmscope calibrate) gives the
 *                          reply so far a score of 0.8 or more (tui_suspicion.c); without
 *                          a detector it says so, and how to get one
 *   /break off             no breakpoints
 *   /break                 show them
 *
 * They can be set together. Entropy and grounding are inspect_should_break()'s decision;
 * this file parses, checks the suspicion, pauses, and continues. */
#include "tui_app.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static void describe(const tui_app *a, char *buf, size_t cap) {
    const inspect_breakpoints *b = &a->gen.breaks;
    if (!b->on_entropy && !b->on_grounding && !b->on_suspicion) {
        snprintf(buf, cap, "no breakpoints");
        return;
    }
    buf[0] = 0;
    if (b->on_entropy) snprintf(buf, cap, "entropy above %.2f nats", (double)b->entropy_above);
    if (b->on_grounding) {
        size_t n = strlen(buf);
        snprintf(buf + n, cap - n, "%sgrounding below %.0f%%", n ? ", " : "", 100.0 * b->grounding_below);
    }
    if (b->on_suspicion) {
        size_t n = strlen(buf);
        snprintf(buf + n, cap - n, "%ssuspicion %.2f or more", n ? ", " : "", (double)b->suspicion_above);
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
    } else if (strcmp(what, "suspicion") == 0) {
        if (strcmp(args, "off") == 0) {
            a->gen.breaks.on_suspicion = false;
        } else if (!a->opt->detector) {
            tui_message(a, true, "this model has no detector (MODEL.detector.json, made by llmscope calibrate from "
                                 "labelled answers); /break entropy or grounding meanwhile");
            return;
        } else if (!parse_number(args, &v) || v < 0 || v > 1) {
            tui_message(a, true, "/break suspicion takes a score from 0 to 1 (or off); the detector flags from %.2f",
                        a->opt->detector->threshold);
            return;
        } else {
            a->gen.breaks.on_suspicion = true;
            a->gen.breaks.suspicion_above = (float)v;
        }
    } else {
        tui_message(a, true, "/break entropy NATS, /break grounding SHARE, /break suspicion SCORE or /break off");
        return;
    }
    describe(a, desc, sizeof desc);
    tui_message(a, false, "breakpoints: %s", desc);
}

void tui_break_check(tui_app *a, size_t rec) {
    const inspect_breakpoints *b = &a->gen.breaks;
    if (!b->on_entropy && !b->on_grounding && !b->on_suspicion) return;
    const step_record *r = session_record(a->s, rec);
    const grounding *g = b->on_grounding ? tui_grounding(a, rec) : NULL;
    double score;
    bool suspicious = b->on_suspicion && tui_suspicion_at(a, rec, &score) && score >= b->suspicion_above;
    if (suspicious)
        snprintf(a->gen.pause_why, sizeof a->gen.pause_why, "suspicion %.2f >= %.2f", score, (double)b->suspicion_above);
    else if (!inspect_should_break(b, r, g, a->gen.pause_why, sizeof a->gen.pause_why)) return;
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
