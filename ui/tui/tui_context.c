/* tui_context.c — the context window: what the model sees, and what happens when the
 * conversation no longer fits it.
 *
 * The session drops a chat's oldest turns when a message or a reply would not fit
 * (session_window_info); records then start over from the first position of the new
 * window. tui_window_check, called after every step that can do that, brings the app's
 * own notes in line (the messages it remembers for /save, the branch tree, the cursor),
 * and says what happened. The chat keeps showing the dropped turns, dimmed, above a rule
 * that says the model no longer sees them; positions everywhere (the attention pane, the
 * why card) count from the start of the window, and the chat marks the tokens they name.
 * /context lists what the window holds. */
#include "tui_app.h"

#include <stdio.h>
#include <string.h>

/* The app's turns from the session's records: the Nth message it remembers is the Nth
 * user message still in the window, and begins at the first record of that message. */
static void renumber_turns(tui_app *a, int dropped) {
    size_t gone = dropped > 0 && (size_t)dropped < a->n_turns ? (size_t)dropped : dropped > 0 ? a->n_turns : 0;
    for (size_t i = 0; i < gone; i++) free(a->turns[i].text);
    memmove(a->turns, a->turns + gone, (a->n_turns - gone) * sizeof *a->turns);
    a->n_turns -= gone;
    size_t n = session_n_records(a->s), t = 0, first = 0;
    int turn = -1;
    for (size_t i = 0; i < n && t < a->n_turns; i++) {
        const step_record *r = session_record(a->s, i);
        if (r->turn != turn) first = i, turn = r->turn;
        if (r->segment == SEG_USER && (i == 0 || session_record(a->s, i - 1)->segment != SEG_USER ||
                                       session_record(a->s, i - 1)->turn != r->turn))
            a->turns[t++].first_record = first;
    }
}

void tui_window_check(tui_app *a) {
    session_window w;
    session_window_info(a->s, &w);
    if (w.shifts == a->window.shifts) return;
    int turns = w.dropped_turns - a->window.dropped_turns, tokens = w.dropped_tokens - a->window.dropped_tokens;
    a->window = w;
    renumber_turns(a, turns);
    /* the branches' remembered records are of the old window: the tree starts over */
    bool had_branches = a->branches.n > 0;
    tui_branches_reset(a);
    tui_records_changed(a);
    size_t n = session_n_records(a->s);
    if (a->cursor >= n) a->cursor = n ? n - 1 : 0;
    tui_message(a, false, "the context (%d tokens) was full: the oldest %d %s (%d tokens) left it, so the model no "
                          "longer sees them%s; /context shows what it holds",
                session_n_ctx(a->s), turns, tui_plural(turns, "turn", "turns"), tokens,
                had_branches ? " (the branch tree starts over)" : "");
}

void tui_window_reset(tui_app *a) { memset(&a->window, 0, sizeof a->window); }

/* ---- /context ---- */

/* Up to CAP bytes of the text of records [FROM, TO) that is not template text, on one line. */
static void preview(const tui_app *a, size_t from, size_t to, char *out, size_t cap) {
    size_t o = 0;
    for (size_t i = from; i < to && o + 1 < cap; i++) {
        const step_record *r = session_record(a->s, i);
        if (r->segment == SEG_TEMPLATE) continue;
        for (const char *p = r->text; *p && o + 1 < cap; p++) out[o++] = *p == '\n' || *p == '\t' ? ' ' : *p;
    }
    while (o > 0 && !utf8_valid(out, o, NULL)) o--; /* no character cut in half */
    out[o] = 0;
}

static const char *segment_name(segment_kind k) {
    switch (k) {
    case SEG_SYSTEM: return "system";
    case SEG_USER: return "you";
    case SEG_ASSISTANT: return "assistant";
    case SEG_PLAIN: return "text";
    case SEG_TEMPLATE: break;
    }
    return "template";
}

/* One line per message in the window: who, its positions, how many tokens, its start. */
static void window_lines(tui_app *a, tui_sheet *sh) {
    size_t n = session_n_records(a->s);
    for (size_t i = 0; i < n;) {
        const step_record *r = session_record(a->s, i);
        size_t j = i;
        segment_kind seg = SEG_TEMPLATE;
        while (j < n && session_record(a->s, j)->turn == r->turn) {
            if (seg == SEG_TEMPLATE) seg = session_record(a->s, j)->segment;
            j++;
        }
        char text[72];
        preview(a, i, j, text, sizeof text);
        tui_sheet_line_begin(sh, -1);
        tui_sheet_text(sh, TC_LABEL, "%s", segment_name(seg));
        tui_sheet_col(sh, 11);
        tui_sheet_text(sh, TC_DIM, "%zu-%zu", i, j - 1);
        tui_sheet_link(sh, i);
        tui_sheet_col(sh, 24);
        tui_sheet_text(sh, TC_NORMAL, "%5zu tokens  ", j - i);
        tui_sheet_text(sh, TC_NORMAL, "%s", text);
        i = j;
    }
}

void tui_cmd_context(tui_app *a, const char *name, const char *args) {
    (void)name, (void)args;
    tui_sheet *sh = &a->sheet;
    size_t n = session_n_records(a->s);
    int n_ctx = session_n_ctx(a->s);
    tui_sheet_reset(sh, &tui_sheet_plain);
    snprintf(sh->title, sizeof sh->title, "Context window: %zu of %d tokens (%.0f%%)", n, n_ctx, 100.0 * (double)n / n_ctx);
    snprintf(sh->footer, sizeof sh->footer, "Up/Down scroll  click a position to inspect it  Esc closes");
    tui_sheet_line_begin(sh, -1);
    tui_sheet_text(sh, TC_DIM, "positions count from the start of the window; the attention pane and the why card use them");
    tui_sheet_heading(sh, "What the model sees, message by message");
    window_lines(a, sh);
    tui_sheet_line_begin(sh, -1);
    tui_sheet_line_begin(sh, -1);
    tui_sheet_text(sh, TC_NORMAL, "%zu tokens free", (size_t)n_ctx > n ? (size_t)n_ctx - n : 0);
    if (session_is_chat(a->s))
        tui_sheet_text(sh, TC_DIM, "; when a message or a reply does not fit, the oldest turns leave (the system prompt stays)");
    else
        tui_sheet_text(sh, TC_DIM, "; completion mode: a reply stops when the context is full (/clear starts over)");
    session_window w;
    session_window_info(a->s, &w);
    if (w.shifts == 0) return;
    char head[160];
    snprintf(head, sizeof head, "Left the window (%d %s, %d tokens, in %d %s): the model no longer sees these",
             w.dropped_turns, tui_plural(w.dropped_turns, "turn", "turns"), w.dropped_tokens, w.shifts,
             tui_plural(w.shifts, "shift", "shifts"));
    tui_sheet_heading(sh, head);
    int width = tui_sheet_width(a);
    for (size_t i = 0; i < session_n_dropped(a->s); i++) {
        const char *role = "", *text = session_dropped(a->s, i, &role);
        char line[1024];
        text = text ? text : "";
        size_t cut = tui_text_fit(text, width > 20 ? width - 12 : 8);
        snprintf(line, sizeof line, "%-10s %.*s", strcmp(role, "user") == 0 ? "you" : role, (int)cut, text);
        for (char *p = line; *p; p++)
            if (*p == '\n' || *p == '\t') *p = ' ';
        tui_sheet_line_begin(sh, -1);
        tui_sheet_text(sh, TC_DIM, "%s", line);
    }
}
