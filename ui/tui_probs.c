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

void tui_probs_draw(tui_app *a) {
    tui_rect R = a->lay.probs;
    if (R.h < 2 || R.w < 24) return;
    tui_style title = tui_role_style(&a->pal, TC_TITLE), dim = tui_role_style(&a->pal, TC_DIM),
              norm = tui_role_style(&a->pal, TC_NORMAL), chosen = tui_role_style(&a->pal, TC_CHOSEN);
    size_t cur = 0;
    const step_record *r = tui_current_record(a, &cur);
    bool after = a->show_after && r && r->generated;
    int x = R.x + tui_put_text(R.y, R.x, R.w, "Next token  ", title);
    tui_style on = tui_role_style(&a->pal, TC_SELECTED);
    x += tui_put_text(R.y, x, R.x + R.w - x, "before", !a->show_after ? on : dim);
    x += tui_put_text(R.y, x, R.x + R.w - x, " | ", dim);
    x += tui_put_text(R.y, x, R.x + R.w - x, "after sampler", a->show_after ? on : dim);
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
    if (y < R.y + R.h) {
        if (a->choosing) {
            tui_put_text(y, R.x, R.w, "branch: Up/Down or 1-9 pick, Enter continues with it, r resamples, Esc cancels",
                         tui_role_style(&a->pal, TC_INFO));
        } else if (!r->generated) {
            tui_put_text(y, R.x, R.w, a->show_after ? "given token (prompt): no sampler, the model's view" : "given token (prompt), not sampled", dim);
        } else if (sr->blame != STAGE_NONE) {
            char greedy[160];
            tui_piece_text(a, sr->greedy_id, greedy, sizeof greedy);
            int gx = R.x + tui_put_text(y, R.x, R.w, "greedy: ", dim);
            gx += tui_put_token(y, gx, 16 < R.x + R.w - gx ? 16 : R.x + R.w - gx, greedy, norm);
            snprintf(line, sizeof line, "  changed by %s  (%d left)", sampler_stage_name(sr->blame), sr->n_candidates_after);
            tui_put_text(y, gx, R.x + R.w - gx, line, dim);
        } else {
            snprintf(line, sizeof line, "the model's top choice  (%d candidates left)", sr->n_candidates_after);
            tui_put_text(y, R.x, R.w, line, dim);
        }
        y++;
    }

    const token_prob *list = after ? sr->top_after : sr->top_before;
    int n = sr->n_top < SAMPLER_TOP_N ? sr->n_top : SAMPLER_TOP_N;
    if (after) {
        int m = 0;
        while (m < n && list[m].prob > 0) m++;
        n = m;
    }
    int label_w = R.w / 4 < 8 ? 8 : R.w / 4 > 18 ? 18 : R.w / 4;
    int pct_w = 7, bar_x = R.x + 2 + label_w + 1, bar_w = R.x + R.w - bar_x - pct_w;
    int rows = R.y + R.h - y;
    bool listed = false;
    for (int i = 0; i < n; i++)
        if (list[i].id == r->token) listed = true;
    /* keep the last row for the chosen token when it is not in the list */
    int show = n < rows ? n : rows;
    if (!listed && show == rows && show > 0) show--;
    if (a->choosing) {
        a->n_choices = show;
        if (a->choice >= show) a->choice = show > 0 ? show - 1 : 0;
    }
    for (int i = 0; i < show; i++, y++) {
        bool is = list[i].id == r->token;
        char text[160], pct[16];
        tui_piece_text(a, list[i].id, text, sizeof text);
        if (is) tui_put_wch(y, R.x, a->pal.utf8 && MB_CUR_MAX > 1 ? 0x25B6 : L'>', chosen);
        bool picked = a->choosing && i == a->choice;
        if (a->choosing) {
            a->choice_ids[i] = list[i].id;
            if (i < 9) tui_put_wch(y, R.x + 1, (wchar_t)(L'1' + i), picked ? on : tui_role_style(&a->pal, TC_DIM));
        }
        tui_put_token(y, R.x + 2, label_w, text, picked ? on : is ? chosen : norm);
        draw_bar(a, y, bar_x, bar_w, list[i].prob, tui_role_style(&a->pal, is ? TC_BAR_CHOSEN : TC_BAR));
        format_pct(list[i].prob, pct, sizeof pct);
        tui_put_text(y, R.x + R.w - pct_w + 1, pct_w - 1, pct, is ? chosen : norm);
    }
    if (!listed && y < R.y + R.h) {
        char pct[16];
        tui_put_wch(y, R.x, a->pal.utf8 && MB_CUR_MAX > 1 ? 0x25B6 : L'>', chosen);
        int cx = R.x + 2 + tui_put_token(y, R.x + 2, label_w, tok, chosen);
        format_pct(after ? sr->prob_after : sr->prob_before, pct, sizeof pct);
        snprintf(line, sizeof line, "  rank %d, %s", sr->rank_before + 1, pct);
        tui_put_text(y, cx, R.x + R.w - cx, line, dim);
    }
}
