/* tui_ground.c — the grounding meter: how much of each reply token's attention went to
 * what the user supplied rather than to the model's own output.
 *
 * inspect_grounding() gives one number per generated token (attention averaged over all
 * layers and heads; template text such as role markers and the sink counts for neither
 * side). It is computed once per record, when first needed (for the meter, a breakpoint
 * or the why card), and kept until the records change (a new message, a branch, /clear).
 *
 * The meter is the row above the conversation: a sparkline of the reply that holds the
 * token being looked at, one cell per token, the newest (or the cursor's) on the right.
 * Tokens with low grounding and high entropy — the model looked at its own words while
 * unsure — are drawn as '!' in the error colour, and the count of them is named. */
#include "tui_app.h"

#include <stdio.h>
#include <string.h>

static bool ensure_cache(tui_app *a, size_t n) {
    if (a->ground_epoch != a->epoch) {
        if (a->ground_state) memset(a->ground_state, 0, a->ground_cap);
        a->ground_epoch = a->epoch;
    }
    if (n <= a->ground_cap) return true;
    size_t cap = a->ground_cap ? a->ground_cap : 256;
    while (cap < n) cap *= 2;
    grounding *g = realloc(a->ground, cap * sizeof *g);
    if (!g) return false;
    a->ground = g;
    uint8_t *st = realloc(a->ground_state, cap);
    if (!st) return false;
    memset(st + a->ground_cap, 0, cap - a->ground_cap);
    a->ground_state = st;
    a->ground_cap = cap;
    return true;
}

const grounding *tui_grounding(tui_app *a, size_t rec) {
    size_t n = session_n_records(a->s);
    if (rec >= n || !ensure_cache(a, n)) return NULL;
    if (a->ground_state[rec] == 0) {
        const step_record *r = session_record(a->s, rec);
        inspect_view v;
        inspect_view_session(&v, a->s);
        bool ok = r->segment == SEG_ASSISTANT && r->has_prediction &&
                  inspect_grounding(&v, rec, &a->ground_params, &a->ground[rec]);
        a->ground_state[rec] = ok ? 1 : 2;
    }
    return a->ground_state[rec] == 1 ? &a->ground[rec] : NULL;
}

/* The reply tokens the meter shows: those of the reply holding the current record, or of
 * the last reply before it. FIRST..LAST (inclusive) bound it; *AT is the current one. */
static bool reply_range(tui_app *a, size_t *first, size_t *last, size_t *at) {
    size_t cur;
    if (!tui_current_record(a, &cur)) return false;
    size_t n = session_n_records(a->s), i = cur;
    while (i > 0 && session_record(a->s, i)->segment != SEG_ASSISTANT) i--;
    const step_record *r = session_record(a->s, i);
    if (r->segment != SEG_ASSISTANT) return false;
    int turn = r->turn;
    size_t f = i, l = i;
    while (f > 0 && session_record(a->s, f - 1)->segment == SEG_ASSISTANT && session_record(a->s, f - 1)->turn == turn) f--;
    while (l + 1 < n && session_record(a->s, l + 1)->segment == SEG_ASSISTANT && session_record(a->s, l + 1)->turn == turn) l++;
    *first = f;
    *last = l;
    *at = i;
    return true;
}

void tui_ground_draw(tui_app *a) {
    tui_rect R = a->lay.meter;
    if (R.h <= 0 || R.w < 20) return;
    tui_style dim = tui_role_style(&a->pal, TC_DIM), norm = tui_role_style(&a->pal, TC_NORMAL),
              bad = tui_role_style(&a->pal, TC_ERROR), cur = tui_role_style(&a->pal, TC_CURSOR),
              bar = tui_role_style(&a->pal, TC_BAR);
    int x = R.x + tui_put_text(R.y, R.x, R.w, "grounding ", dim);
    size_t first, last, at;
    if (!reply_range(a, &first, &last, &at)) {
        tui_put_text(R.y, x, R.x + R.w - x, "(no reply yet)", dim);
        return;
    }
    /* the figures on the right: this token's share, and the count of flagged tokens */
    const grounding *g = tui_grounding(a, at);
    int flagged = 0;
    for (size_t i = first; i <= last; i++) {
        const grounding *gi = tui_grounding(a, i);
        if (gi && gi->flagged) flagged++;
    }
    char tail[96];
    if (g) snprintf(tail, sizeof tail, " %3.0f%%", 100.0 * g->share);
    else snprintf(tail, sizeof tail, "  --");
    if (flagged) snprintf(tail + strlen(tail), sizeof tail - strlen(tail), "  ! %d low+unsure", flagged);
    int tail_w = tui_text_width(tail);
    int cells = R.x + R.w - x - tail_w - 1;
    if (cells < 4) return;
    /* a window of CELLS tokens that holds the current one, preferring the newest */
    size_t n_tok = last - first + 1, start = first;
    if (n_tok > (size_t)cells) {
        start = last + 1 - (size_t)cells;
        if (at < start) start = at;
    }
    bool wide = a->pal.utf8 && MB_CUR_MAX > 1;
    static const char ascii_levels[] = "_.-:=+*#";
    for (size_t i = start; i <= last && x < R.x + R.w - tail_w - 1; i++, x++) {
        const grounding *gi = tui_grounding(a, i);
        if (!gi) {
            tui_put_wch(R.y, x, wide ? 0x00B7 : L'.', dim);
            continue;
        }
        int level = (int)(gi->share * 7.0f + 0.5f);
        if (level < 0) level = 0;
        if (level > 7) level = 7;
        wchar_t ch = wide ? (wchar_t)(0x2581 + level) : (wchar_t)ascii_levels[level];
        tui_style st = bar;
        if (gi->flagged) {
            ch = L'!';
            st = bad;
        }
        if (tui_on_cursor(a) && i == at) st = cur;
        tui_put_wch(R.y, x, ch, st);
    }
    tui_put_text(R.y, R.x + R.w - tail_w, tail_w, tail, flagged ? bad : norm);
}
