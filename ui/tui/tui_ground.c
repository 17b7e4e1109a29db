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
 * unsure — are drawn as '!' in the error colour, and the count of them is named.
 *
 * When the model has a detector of wrong answers (tui_suspicion.c), that rule, which it
 * was measured against, gives way: the row becomes the suspicion meter, one cell per
 * token with the detector's score of the reply up to it, and '!' from the score at which
 * the detector flags an answer (its threshold). */
#include "tui_app.h"

#include <stdio.h>
#include <string.h>

/* A record's grounding in the shared cache: computed once, kept until the records change. */
typedef struct ground_slot {
    uint8_t state; /* 1: valid, 2: none (no attention, not a reply token) */
    grounding g;
} ground_slot;

#define METER_MAX 512

typedef struct meter {
    bool reply;            /* a reply to show */
    bool suspicion;        /* the detector's score, not grounding */
    size_t first, last, at;/* the reply's records, and the current one */
    size_t start;          /* the first record drawn */
    int cells;             /* cells for the sparkline */
    char tail[96];
    int flagged;
    int8_t level[METER_MAX]; /* per cell: -1 none (a dot), 0..7 the bar, 8 flagged */
} meter;

const grounding *tui_grounding(tui_app *a, size_t rec) {
    bool fresh;
    ground_slot *slot = tui_cache_slot(a, tui_pane_of(a, &tui_pane_meter), rec, &fresh);
    if (!slot) return NULL;
    if (fresh) {
        const step_record *r = session_record(a->s, rec);
        inspect_view v;
        inspect_view_session(&v, a->s);
        grounding_params gp;
        grounding_params_default(&gp);
        bool ok = r->segment == SEG_ASSISTANT && r->has_prediction && inspect_grounding(&v, rec, &gp, &slot->g);
        slot->state = ok ? 1 : 2;
    }
    return slot->state == 1 ? &slot->g : NULL;
}

/* The reply tokens the meter shows: those of the reply holding the current record, or of
 * the last reply before it. FIRST..LAST (inclusive) bound it; *AT is the current one. */
static bool reply_range(tui_app *a, size_t *first, size_t *last, size_t *at) {
    size_t cur;
    if (!tui_current_record(a, &cur) || !tui_reply_at(a, cur, first, last)) return false;
    *at = cur < *first ? *first : cur > *last ? *last : cur;
    return true;
}

static int meter_rows(const tui_app *a, const tui_pane *p, int width, int avail) {
    (void)a, (void)p, (void)width;
    return avail >= 8 ? 1 : 0; /* gives its row back on tiny screens */
}

/* The suspicion meter's figures: the current token's score and the tokens at or over
 * the threshold. */
static void suspicion_tail(tui_app *a, meter *m) {
    double s, t = a->opt->detector->threshold;
    m->flagged = 0;
    for (size_t i = m->first; i <= m->last; i++) m->flagged += tui_suspicion_at(a, i, &s) && s >= t;
    if (tui_suspicion_at(a, m->at, &s)) snprintf(m->tail, sizeof m->tail, " %.2f", s);
    else snprintf(m->tail, sizeof m->tail, "  --");
    if (m->flagged)
        snprintf(m->tail + strlen(m->tail), sizeof m->tail - strlen(m->tail), "  ! %d at %.2f+", m->flagged, t);
}

/* One cell: -1 none, 0..7 the bar, 8 flagged. */
static int cell_level(tui_app *a, const meter *m, size_t i) {
    if (i > m->last) return -1;
    if (m->suspicion) {
        double s;
        if (!tui_suspicion_at(a, i, &s)) return -1;
        if (s >= a->opt->detector->threshold) return 8;
        int level = (int)(s * 7.0 + 0.5);
        return level < 0 ? 0 : level > 7 ? 7 : level;
    }
    const grounding *gi = tui_grounding(a, i);
    if (!gi) return -1;
    if (gi->flagged) return 8;
    int level = (int)(gi->share * 7.0f + 0.5f);
    return level < 0 ? 0 : level > 7 ? 7 : level;
}

static void meter_update(tui_app *a, tui_pane *p) {
    meter *m = p->st;
    tui_rect R = p->r;
    m->reply = R.w >= 20 && reply_range(a, &m->first, &m->last, &m->at);
    m->suspicion = a->opt->detector != NULL;
    if (!m->reply) return;
    /* the figures on the right: this token's share, and the count of flagged tokens */
    if (m->suspicion) {
        suspicion_tail(a, m);
    } else {
        const grounding *g = tui_grounding(a, m->at);
        m->flagged = 0;
        for (size_t i = m->first; i <= m->last; i++) {
            const grounding *gi = tui_grounding(a, i);
            if (gi && gi->flagged) m->flagged++;
        }
        if (g) snprintf(m->tail, sizeof m->tail, " %3.0f%%", 100.0 * g->share);
        else snprintf(m->tail, sizeof m->tail, "  --");
        if (m->flagged)
            snprintf(m->tail + strlen(m->tail), sizeof m->tail - strlen(m->tail), "  ! %d low+unsure", m->flagged);
    }
    int x = R.x + tui_text_width(m->suspicion ? "suspicion " : "grounding ");
    m->cells = R.x + R.w - x - tui_text_width(m->tail) - 1;
    if (m->cells > METER_MAX) m->cells = METER_MAX;
    if (m->cells < 4) return;
    /* a window of CELLS tokens that holds the current one, preferring the newest */
    size_t n_tok = m->last - m->first + 1;
    m->start = m->first;
    if (n_tok > (size_t)m->cells) {
        m->start = m->last + 1 - (size_t)m->cells;
        if (m->at < m->start) m->start = m->at;
    }
    for (int c = 0; c < m->cells; c++) m->level[c] = (int8_t)cell_level(a, m, m->start + (size_t)c);
}

static void meter_draw(const tui_app *a, const tui_pane *p) {
    const meter *m = p->st;
    tui_rect R = p->r;
    if (R.h <= 0 || R.w < 20) return;
    tui_style dim = tui_role_style(&a->pal, TC_DIM), norm = tui_role_style(&a->pal, TC_NORMAL),
              bad = tui_role_style(&a->pal, TC_ERROR), cur = tui_role_style(&a->pal, TC_CURSOR),
              bar = tui_role_style(&a->pal, TC_BAR);
    int x = R.x + tui_put_text(R.y, R.x, R.w, m->suspicion ? "suspicion " : "grounding ", dim);
    if (!m->reply) {
        tui_put_text(R.y, x, R.x + R.w - x, "(no reply yet)", dim);
        return;
    }
    int tail_w = tui_text_width(m->tail);
    if (m->cells < 4) return;
    bool wide = a->pal.utf8 && MB_CUR_MAX > 1;
    static const char ascii_levels[] = "_.-:=+*#";
    for (size_t i = m->start; i <= m->last && x < R.x + R.w - tail_w - 1; i++, x++) {
        int level = m->level[i - m->start];
        wchar_t ch;
        tui_style st = bar;
        if (level < 0) ch = wide ? 0x00B7 : L'.', st = dim;
        else if (level == 8) ch = L'!', st = bad;
        else ch = wide ? (wchar_t)(0x2581 + level) : (wchar_t)ascii_levels[level];
        if (tui_on_cursor(a) && i == m->at) st = cur;
        tui_put_wch(R.y, x, ch, st);
    }
    tui_put_text(R.y, R.x + R.w - tail_w, tail_w, m->tail, m->flagged ? bad : norm);
}

const tui_pane_class tui_pane_meter = {
    .name = "meter",
    .area = TUI_LEFT,
    .always = true,
    .state_size = sizeof(meter),
    .rec_size = sizeof(ground_slot),
    .rows = meter_rows,
    .update = meter_update,
    .draw = meter_draw,
};
