/* tui_probs.c — why this token: the top candidates as bars, before or after the sampler.
 *
 * "Before" is the model's own softmax; "after" is the distribution the sampler actually
 * drew from (temperature, penalties and the top-k/top-p/min-p cuts applied). Bars are
 * absolute (a full bar is 100%), drawn with eighth blocks so small differences show.
 * The chosen token is marked; when it is not among the listed candidates a last row says
 * where it ranked. Given tokens (prompt, template) have only the "before" half.
 *
 * While a branch is being chosen ('b'), the bars are numbered and one is selected:
 * tui_branch.c forks with the token of the selected bar. */
#include "tui_app.h"

#include <stdio.h>
#include <string.h>

/* The text of token ID as it appears in the output; bytes that are not valid UTF-8 on
 * their own (one piece of a multi-byte character) are written as \xNN. Shared with the
 * why card and the branch list. */
void tui_piece_text(const tui_app *a, int32_t id, char *out, size_t cap) {
    char buf[128];
    int n = tokenizer_piece(a->tok, id, buf, sizeof buf - 1);
    if (n < 0) {
        snprintf(out, cap, "<%d?>", (int)id);
        return;
    }
    if ((size_t)n > sizeof buf - 1) n = (int)sizeof buf - 1;
    buf[n] = 0;
    if (utf8_valid(buf, (size_t)n, NULL)) {
        snprintf(out, cap, "%s", buf);
        return;
    }
    size_t o = 0;
    for (int i = 0; i < n && o + 5 < cap; i++) {
        unsigned char c = (unsigned char)buf[i];
        if (c < 0x80) out[o++] = (char)c;
        else o += (size_t)snprintf(out + o, cap - o, "\\x%02X", c);
    }
    out[o] = 0;
}

static void draw_bar(const tui_app *a, int y, int x, int w, float p, tui_style st) {
    if (w <= 0) return;
    if (p < 0) p = 0;
    if (p > 1) p = 1;
    int eighths = (int)(p * (float)w * 8.0f + 0.5f);
    int full = eighths / 8, part = eighths % 8;
    bool wide = a->pal.utf8 && MB_CUR_MAX > 1;
    for (int i = 0; i < full && i < w; i++) tui_put_wch(y, x + i, wide ? 0x2588 : L'#', st);
    if (part && full < w) {
        /* U+2589..U+258F are the left 7/8 .. 1/8 blocks */
        wchar_t ch = wide ? (wchar_t)(0x2590 - part) : (part >= 4 ? L'#' : L'-');
        tui_put_wch(y, x + full, ch, st);
    }
}

void tui_pct(char *buf, size_t cap, double p) {
    if (p >= 0.001 || p <= 0) snprintf(buf, cap, "%.1f%%", p * 100);
    else snprintf(buf, cap, "<0.1%%");
}

/* Right-aligned in six cells, as the bars' column wants it. */
static void format_pct(float p, char *buf, size_t cap) {
    char s[16];
    tui_pct(s, sizeof s, p);
    snprintf(buf, cap, "%6s", s);
}

/* ---- the pane ---- */

typedef struct probs {
    bool show_after;       /* the distribution the sampler drew from, not the model's */
    /* what update() decided for the current record */
    size_t rec;
    bool has_rec, after, listed;
    int n_rows_list;       /* rows of candidates shown */
    /* the branch chooser (while this pane grabs the keys) */
    int choice, n_choices;
    int32_t choice_ids[SAMPLER_TOP_N];
} probs;

static probs *probs_of(const tui_app *a) { return tui_pane_of(a, &tui_pane_probs)->st; }

bool tui_probs_after(const tui_app *a) { return probs_of(a)->show_after; }

static bool choosing(const tui_app *a, const tui_pane *p) { return a->grab == p; }

/* The list the bars show for R: the model's, or the sampler's (generated tokens only). */
static const token_prob *bar_list(const probs *st, const step_record *r, int *n) {
    bool after = st->show_after && r->generated;
    const token_prob *list = after ? r->sample.top_after : r->sample.top_before;
    *n = r->sample.n_top < SAMPLER_TOP_N ? r->sample.n_top : SAMPLER_TOP_N;
    if (after) {
        int m = 0;
        while (m < *n && list[m].prob > 0) m++;
        *n = m;
    }
    return list;
}

/* How many candidates fit the pane, and which: the chooser's choices are exactly the bars
 * on screen, known as soon as choosing starts (keys typed in one burst find them). */
static void plan(tui_app *a, tui_pane *p) {
    probs *st = p->st;
    tui_rect R = p->r;
    const step_record *r = tui_current_record(a, &st->rec);
    st->has_rec = r != NULL;
    st->n_rows_list = 0;
    if (!r || !r->has_prediction) return;
    int n;
    const token_prob *list = bar_list(st, r, &n);
    st->after = st->show_after && r->generated;
    st->listed = false;
    for (int i = 0; i < n; i++)
        if (list[i].id == r->token) st->listed = true;
    int rows = R.y + R.h - (R.y + 3);
    if (rows < 0) rows = 0;
    /* keep the last row for the chosen token when it is not in the list */
    int show = n < rows ? n : rows;
    if (!st->listed && show == rows && show > 0) show--;
    st->n_rows_list = show;
    if (choosing(a, p)) {
        st->n_choices = show;
        for (int i = 0; i < show; i++) st->choice_ids[i] = list[i].id;
        if (st->choice >= show) st->choice = show > 0 ? show - 1 : 0;
    }
}

static void probs_update(tui_app *a, tui_pane *p) { plan(a, p); }

static void probs_draw(const tui_app *a, const tui_pane *p) {
    const probs *st = p->st;
    tui_rect R = p->r;
    if (R.h < 2 || R.w < 24) return;
    tui_style title = tui_role_style(&a->pal, TC_TITLE), dim = tui_role_style(&a->pal, TC_DIM),
              norm = tui_role_style(&a->pal, TC_NORMAL), chosen = tui_role_style(&a->pal, TC_CHOSEN),
              on = tui_role_style(&a->pal, TC_SELECTED);
    const step_record *r = st->has_rec ? session_record(a->s, st->rec) : NULL;
    int x = R.x + tui_put_text(R.y, R.x, R.w, "Next token  ", title);
    x += tui_put_text(R.y, x, R.x + R.w - x, "before", !st->show_after ? on : dim);
    x += tui_put_text(R.y, x, R.x + R.w - x, " | ", dim);
    x += tui_put_text(R.y, x, R.x + R.w - x, "after sampler", st->show_after ? on : dim);
    if (!r) {
        tui_put_text(R.y + 1, R.x, R.w, "no tokens yet", dim);
        return;
    }
    if (!r->has_prediction) {
        tui_put_text(R.y + 1, R.x, R.w, "the first token: nothing predicted it", dim);
        return;
    }
    const sample_result *sr = &r->sample;

    /* summary: entropy and where the chosen token stood */
    char tok[160], line[320];
    tui_piece_text(a, r->token, tok, sizeof tok);
    if (r->generated)
        snprintf(line, sizeof line, "entropy %.2f nats (after %.2f)  p %.1f%% -> %.1f%%  rank %d", (double)sr->entropy_before,
                 (double)sr->entropy_after, (double)sr->prob_before * 100, (double)sr->prob_after * 100, sr->rank_before + 1);
    else
        snprintf(line, sizeof line, "entropy %.2f nats  p %.1f%%  rank %d", (double)sr->entropy_before,
                 (double)sr->prob_before * 100, sr->rank_before + 1);
    tui_put_text(R.y + 1, R.x, R.w, line, norm);
    int y = R.y + 2;
    bool picking = choosing(a, p);
    if (y < R.y + R.h) {
        if (picking) {
            tui_put_text(y, R.x, R.w, "branch: Up/Down or 1-9 pick, Enter continues with it, r resamples, Esc cancels",
                         tui_role_style(&a->pal, TC_INFO));
        } else if (!r->generated) {
            tui_put_text(y, R.x, R.w, st->show_after ? "given token (prompt): no sampler, the model's view" : "given token (prompt), not sampled", dim);
        } else if (sr->blame != STAGE_NONE) {
            char greedy[160];
            tui_piece_text(a, sr->greedy_id, greedy, sizeof greedy);
            int gx = R.x + tui_put_text(y, R.x, R.w, "greedy: ", dim);
            gx += tui_put_token(y, gx, 16 < R.x + R.w - gx ? 16 : R.x + R.w - gx, greedy, norm);
            snprintf(line, sizeof line, "  changed by %s  (%d left)", sampler_stage_name(sr->blame), sr->n_candidates_after);
            tui_put_text(y, gx, R.x + R.w - gx, line, dim);
        } else {
            snprintf(line, sizeof line, "the model's top choice  (%d %s left after the sampler's cuts)", sr->n_candidates_after,
                     tui_plural(sr->n_candidates_after, "candidate", "candidates"));
            tui_put_text(y, R.x, R.w, line, dim);
        }
        y++;
    }

    int n;
    const token_prob *list = bar_list(st, r, &n);
    int label_w = R.w / 4 < 8 ? 8 : R.w / 4 > 18 ? 18 : R.w / 4;
    int pct_w = 7, bar_x = R.x + 2 + label_w + 1, bar_w = R.x + R.w - bar_x - pct_w;
    for (int i = 0; i < st->n_rows_list; i++, y++) {
        bool is = list[i].id == r->token;
        char text[160], pct[16];
        tui_piece_text(a, list[i].id, text, sizeof text);
        if (is) tui_put_wch(y, R.x, a->pal.utf8 && MB_CUR_MAX > 1 ? 0x25B6 : L'>', chosen);
        bool picked = picking && i == st->choice;
        if (picking && i < 9) tui_put_wch(y, R.x + 1, (wchar_t)(L'1' + i), picked ? on : dim);
        tui_put_token(y, R.x + 2, label_w, text, picked ? on : is ? chosen : norm);
        draw_bar(a, y, bar_x, bar_w, list[i].prob, tui_role_style(&a->pal, is ? TC_BAR_CHOSEN : TC_BAR));
        format_pct(list[i].prob, pct, sizeof pct);
        tui_put_text(y, R.x + R.w - pct_w + 1, pct_w - 1, pct, is ? chosen : norm);
    }
    if (!st->listed && y < R.y + R.h) {
        char pct[16];
        tui_put_wch(y, R.x, a->pal.utf8 && MB_CUR_MAX > 1 ? 0x25B6 : L'>', chosen);
        int cx = R.x + 2 + tui_put_token(y, R.x + 2, label_w, tok, chosen);
        format_pct(st->after ? sr->prob_after : sr->prob_before, pct, sizeof pct);
        snprintf(line, sizeof line, "  rank %d, %s", sr->rank_before + 1, pct);
        tui_put_text(y, cx, R.x + R.w - cx, line, dim);
    }
}

/* ---- the branch chooser ---- */

void tui_probs_choose(tui_app *a) {
    tui_pane *p = tui_pane_of(a, &tui_pane_probs);
    probs *st = p->st;
    const step_record *r = tui_current_record(a, NULL);
    if (!tui_branch_can_fork(a, r)) return;
    if (!tui_pane_shown(p)) {
        tui_message(a, true, "the bars are hidden on a small screen: /branch N or /branch resample");
        return;
    }
    a->grab = p;
    /* start on the runner-up: the likeliest token that is not the one there */
    int n;
    const token_prob *list = bar_list(st, r, &n);
    st->choice = n > 1 && list[0].id == r->token ? 1 : 0;
    plan(a, p);
}

static void stop_choosing(tui_app *a) { a->grab = NULL; }

static void pick(tui_app *a, probs *st) {
    if (st->choice < st->n_choices) tui_branch_fork(a, st->choice_ids[st->choice]);
}

/* Keys while choosing: the pane grabs them all; any other key ends the choice and goes
 * on to whoever wants it (moving the cursor, say). */
static bool choose_key(tui_app *a, probs *st, tui_key k) {
    int n = st->n_choices;
    if (k.is_key) {
        switch (k.ch) {
        case KEY_UP: if (st->choice > 0) st->choice--; return true;
        case KEY_DOWN: if (st->choice + 1 < n) st->choice++; return true;
        case KEY_ENTER: pick(a, st); return true;
        default: stop_choosing(a); return false;
        }
    }
    switch (k.ch) {
    case L'k': if (st->choice > 0) st->choice--; return true;
    case L'j': if (st->choice + 1 < n) st->choice++; return true;
    case L'\r': case L'\n': pick(a, st); return true;
    case L'r': tui_branch_fork(a, -1); return true;
    case 27: case L'b': stop_choosing(a); return true;
    default:
        if (k.ch >= L'1' && k.ch <= L'9') { /* a digit picks that bar; Enter goes on with it */
            if ((int)(k.ch - L'1') < n) st->choice = (int)(k.ch - L'1');
            return true;
        }
        stop_choosing(a);
        return false;
    }
}

static bool probs_key(tui_app *a, tui_pane *p, tui_key k) {
    probs *st = p->st;
    if (choosing(a, p) && !k.modal) return choose_key(a, st, k);
    if (tui_key_code(k, KEY_F(8))) {
        st->show_after = !st->show_after;
        return true;
    }
    if (k.modal || a->mode != MODE_INSPECT) return false;
    if (tui_key_is(k, L'a')) {
        st->show_after = !st->show_after;
        return true;
    }
    if (tui_key_is(k, L'b')) {
        tui_probs_choose(a);
        return true;
    }
    return false;
}

const tui_pane_class tui_pane_probs = {
    .name = "probs",
    .area = TUI_RIGHT,
    .weight = 2,
    .rule_above = true,
    .state_size = sizeof(probs),
    .update = probs_update,
    .draw = probs_draw,
    .key = probs_key,
};
