/* tui_router.c — which experts answered (models with experts): the router pane, shown in
 * place of the attention pane (x while inspecting; the attention pane's rows() gives way
 * to it), on the layer the attention pane has selected ([ and ] move both), and the why
 * card's experts section.
 *
 * For the token under the cursor (the pass that predicted it, like the attention row),
 * one row per layer, the layers around the selected one: the chosen experts, best first,
 * with their weights as bars (shaded like the heatmap), then the runners-up with the
 * router's probability for each (dim), and, for reply tokens, how much the layer's experts
 * pushed the token's logit (the why card's number, head_contribution).
 *
 * Below, the expert-usage map over the conversation: a row per layer, a cell per expert
 * (several experts per cell when they do not fit), shaded by the expert's share of the
 * layer's picks; cells this reply picked at least twice as often as the conversation did
 * (and at least twice) are marked with a triangle: what this reply leaned on.
 *
 * The counts are kept incrementally: each record is counted once, and everything starts
 * over when the records are replaced (the app's epoch). */
#include "tui_app.h"

#include "routing.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define LAYER_W 5    /* "L12 " */
#define MIN_MAP_ROWS 3

typedef struct router {
    bool shown;            /* in place of the attention pane */
    int *usage;            /* [n_layer][n_expert] picks over the conversation's records */
    int *reply_usage;      /* the same within the reply at hand */
    int n_tokens, n_reply; /* records counted, and of those in the reply */
    size_t counted;        /* records 0 .. counted-1 are in the counts */
    unsigned epoch;
    int reply_turn;
    /* what update() found for draw() */
    size_t rec;
    const step_record *r;
    int layer;
} router;

static bool available(const tui_app *a) { return a->m && a->m->hp.moe.n_expert > 0; }

bool tui_router_shown(const tui_app *a) {
    const router *t = tui_pane_of(a, &tui_pane_router)->st;
    return t->shown && available(a);
}

static void toggle(tui_app *a, router *t) {
    if (!available(a)) {
        tui_message(a, false, "this model has no experts: the router pane is for mixtures of experts");
        return;
    }
    t->shown = !t->shown;
    tui_message(a, false, "%s", t->shown ? "router: which experts answered (x: back to attention)"
                                         : "attention (x: the router)");
}

/* The reply the cursor is in (its turn), else the last reply; -1 if none. */
static int reply_turn(const tui_app *a, size_t cur) {
    size_t n = session_n_records(a->s);
    for (size_t i = cur + 1; i-- > 0;) {
        const step_record *r = session_record(a->s, i);
        if (r && r->segment == SEG_ASSISTANT) return r->turn;
        if (r && r->segment != SEG_TEMPLATE) break;
    }
    for (size_t i = n; i-- > 0;) {
        const step_record *r = session_record(a->s, i);
        if (r && r->segment == SEG_ASSISTANT) return r->turn;
    }
    return -1;
}

/* Brings the usage counts up to date; false when out of memory. */
static bool count_usage(tui_app *a, router *t, int turn) {
    const int L = a->m->hp.n_layer, E = a->m->hp.moe.n_expert;
    const size_t n = session_n_records(a->s);
    if (!t->usage) {
        t->usage = calloc((size_t)L * E, sizeof *t->usage);
        t->reply_usage = calloc((size_t)L * E, sizeof *t->reply_usage);
        if (!t->usage || !t->reply_usage) return false;
        t->epoch = a->epoch + 1;
    }
    if (t->epoch != a->epoch || t->counted > n || t->reply_turn != turn) {
        memset(t->usage, 0, (size_t)L * E * sizeof *t->usage);
        memset(t->reply_usage, 0, (size_t)L * E * sizeof *t->reply_usage);
        t->counted = 0;
        t->n_tokens = t->n_reply = 0;
        t->epoch = a->epoch;
        t->reply_turn = turn;
    }
    for (; t->counted < n; t->counted++) {
        const step_record *r = session_record(a->s, t->counted);
        if (!r || !r->routing) continue;
        const bool in_reply = r->turn == turn && r->segment == SEG_ASSISTANT;
        t->n_tokens++;
        t->n_reply += in_reply;
        for (int l = 0; l < L && l < r->routing->n_layer; l++)
            for (int j = 0; j < r->routing->n_used; j++) {
                int e = routing_id(r->routing, l, j);
                if (e < 0 || e >= E) continue;
                t->usage[(size_t)l * E + e]++;
                if (in_reply) t->reply_usage[(size_t)l * E + e]++;
            }
    }
    return true;
}

/* The layers shown: ROWS of them around the selected one. */
static int first_layer(const tui_app *a, int layer, int rows) {
    const int L = a->m->hp.n_layer;
    int first = layer - rows / 2;
    if (first > L - rows) first = L - rows;
    return first < 0 ? 0 : first;
}

/* One layer of the token's routing at row Y: chosen experts with weight bars, runners-up,
 * the push. */
static void draw_layer(const tui_app *a, int y, tui_rect R, const record_routing *rt, int l, bool selected,
                       float push) {
    tui_style dim = tui_role_style(&a->pal, TC_DIM), chosen = tui_role_style(&a->pal, TC_CHOSEN);
    tui_style lab = selected ? tui_role_style(&a->pal, TC_SELECTED) : dim;
    const int right = R.x + R.w;
    tui_printf(y, R.x, LAYER_W, lab, "L%-3d", l);
    if (!routing_layer_has_experts(rt, l)) {
        tui_put_text(y, R.x + LAYER_W, R.w - LAYER_W, "(no experts)", dim);
        return;
    }
    int x = R.x + LAYER_W;
    char buf[32];
    for (int j = 0; j < rt->n_used && x + 10 < right; j++) {
        const float w = routing_weight(rt, l, j);
        snprintf(buf, sizeof buf, "e%d", routing_id(rt, l, j));
        x += tui_put_text(y, x, right - x, buf, chosen);
        wchar_t ch;
        tui_style st;
        tui_heat_cell(&a->pal, w, &ch, &st);
        const int bar = 1 + (int)(w * 4.0f + 0.5f);
        tui_put_wch(y, x++, L' ', dim);
        for (int b = 0; b < bar && x < right; b++) tui_put_wch(y, x++, ch, st);
        snprintf(buf, sizeof buf, "%3.0f%% ", (double)w * 100);
        x += tui_put_text(y, x, right - x, buf, tui_role_style(&a->pal, TC_NORMAL));
    }
    char tail[24] = "";
    if (!isnan(push)) snprintf(tail, sizeof tail, " %+.2f", (double)push);
    const int tail_w = (int)strlen(tail);
    if (x + 2 < right - tail_w) x += tui_put_text(y, x, right - tail_w - x, "\xc2\xb7 ", dim);
    for (int j = rt->n_used; j < rt->n_rank && x + 8 < right - tail_w; j++) {
        snprintf(buf, sizeof buf, "e%d %.2f ", routing_id(rt, l, j), (double)routing_prob(rt, l, j));
        x += tui_put_text(y, x, right - tail_w - x, buf, dim);
    }
    if (tail_w) tui_put_text(y, right - tail_w, tail_w, tail, push >= 0 ? chosen : dim);
}

/* The usage map: a row per layer from FIRST, a cell per GROUP experts. */
static void draw_usage(const tui_app *a, const router *t, int y0, int rows, tui_rect R) {
    const int L = a->m->hp.n_layer, E = a->m->hp.moe.n_expert, K = a->m->hp.moe.n_used;
    tui_style dim = tui_role_style(&a->pal, TC_DIM), title = tui_role_style(&a->pal, TC_TITLE);
    const int width = R.w - LAYER_W, group = (E + width - 1) / (width > 0 ? width : 1);
    char grp[40] = "";
    if (group > 1) snprintf(grp, sizeof grp, ", %d experts a cell", group);
    tui_printf(y0, R.x, R.w, title, "Expert usage, %d tokens (%d in this reply%s; %s more than usual)", t->n_tokens,
               t->n_reply, grp, MB_CUR_MAX > 1 ? "\xe2\x96\xb2" : "^");
    const int n_rows = rows - 1 < L ? rows - 1 : L, first = first_layer(a, t->layer, n_rows);
    for (int i = 0; i < n_rows; i++) {
        const int l = first + i, y = y0 + 1 + i;
        tui_printf(y, R.x, LAYER_W, l == t->layer ? tui_role_style(&a->pal, TC_SELECTED) : dim, "L%-3d", l);
        for (int c = 0; c * group < E && c < width; c++) {
            double share = 0, reply = 0;
            int reply_picks = 0;
            for (int e = c * group; e < (c + 1) * group && e < E; e++) {
                const int u = t->usage[(size_t)l * E + e], ru = t->reply_usage[(size_t)l * E + e];
                if (t->n_tokens) share = fmax(share, (double)u / ((double)t->n_tokens * K));
                if (t->n_reply) reply = fmax(reply, (double)ru / ((double)t->n_reply * K));
                reply_picks += ru;
            }
            wchar_t ch;
            tui_style st;
            /* a share of 1/K of the layer's picks (every token picked it) is full scale */
            tui_heat_cell(&a->pal, (float)fmin(1.0, share * K), &ch, &st);
            if (reply_picks >= 2 && reply >= 2 * share && t->n_reply < t->n_tokens) {
                ch = MB_CUR_MAX > 1 ? 0x25B2 : L'^';
                st = tui_role_style(&a->pal, TC_CHOSEN);
            } else if (share == 0) {
                ch = MB_CUR_MAX > 1 ? 0x00B7 : L'.';
                st = dim;
            }
            tui_put_wch(y, R.x + LAYER_W + c, ch, st);
        }
    }
}

static void router_update(tui_app *a, tui_pane *p) {
    router *t = p->st;
    t->r = NULL;
    if (!tui_pane_shown(p)) return;
    t->layer = tui_attention_layer(a);
    t->r = tui_current_record(a, &t->rec);
    if (!count_usage(a, t, reply_turn(a, t->rec))) tui_message(a, true, "out of memory for the expert-usage map");
}

static void router_draw(const tui_app *a, const tui_pane *p) {
    const router *t = p->st;
    tui_rect R = p->r;
    if (R.h < 4 || R.w < 30 || !t->usage) return;
    const model_hparams *hp = &a->m->hp;
    const step_record *r = t->r;
    tui_style title = tui_role_style(&a->pal, TC_TITLE), dim = tui_role_style(&a->pal, TC_DIM);
    tui_printf(R.y, R.x, R.w, title, "Router  layer %d/%d  %d of %d experts per token  (x: attention)", t->layer,
               hp->n_layer, hp->moe.n_used, hp->moe.n_expert);
    /* the token's routing takes up to half the pane, the usage map the rest */
    int map_rows = R.h / 2 < MIN_MAP_ROWS ? 0 : R.h / 2;
    if (map_rows > hp->n_layer + 1) map_rows = hp->n_layer + 1;
    const int tok_rows = R.h - 1 - map_rows;
    if (!r || !r->routing) {
        tui_put_text(R.y + 1, R.x, R.w,
                     !r ? "no tokens yet" : !r->has_prediction ? "the first token: no pass predicted it"
                                                               : "no routing kept for this token (--no-capture)",
                     dim);
    } else {
        float *push = malloc((size_t)hp->n_layer * sizeof *push);
        const bool has_push = push && inspect_expert_pushes(a->m, r, push);
        int y = R.y + 1;
        char head[64];
        snprintf(head, sizeof head, "token @%d: ", r->pos);
        int x = R.x + tui_put_text(y, R.x, R.w, head, dim);
        x += tui_put_token(y, x, 16, r->text ? r->text : "", tui_role_style(&a->pal, TC_CURSOR));
        tui_put_text(y, x, R.x + R.w - x, has_push ? "  chosen (weight) \xc2\xb7 runners-up (router p)  push on the logit"
                                                   : "  chosen (weight) \xc2\xb7 runners-up (router p)", dim);
        const int n_rows = tok_rows - 1 < hp->n_layer ? tok_rows - 1 : hp->n_layer,
                  first = first_layer(a, t->layer, n_rows);
        for (int i = 0; i < n_rows; i++)
            draw_layer(a, R.y + 2 + i, R, r->routing, first + i, first + i == t->layer,
                       has_push ? push[first + i] : NAN);
        free(push);
    }
    if (map_rows >= MIN_MAP_ROWS) draw_usage(a, t, R.y + 1 + tok_rows, map_rows, R);
}

static int router_rows(const tui_app *a, const tui_pane *p, int width, int avail) {
    const router *t = p->st;
    (void)width;
    (void)avail;
    return t->shown && available(a) ? TUI_FILL : 0;
}

/* x while inspecting: the router pane in place of the attention pane, and back. */
static bool router_key(tui_app *a, tui_pane *p, tui_key k) {
    if (k.modal || a->mode != MODE_INSPECT || !tui_key_is(k, L'x')) return false;
    toggle(a, p->st);
    return true;
}

static void router_fini(tui_app *a, tui_pane *p) {
    router *t = p->st;
    free(t->usage);
    free(t->reply_usage);
    (void)a;
}

const tui_pane_class tui_pane_router = {
    .name = "router",
    .area = TUI_RIGHT,
    .weight = 3,
    .state_size = sizeof(router),
    .rows = router_rows,
    .update = router_update,
    .draw = router_draw,
    .key = router_key,
    .fini = router_fini,
};

/* ---- the why card's experts ---- */

void tui_why_experts(tui_app *a, const why_card *w) {
    if (!w->routing) return;
    tui_sheet *sh = &a->sheet;
    const record_routing *rt = w->routing;
    tui_sheet_heading(sh, w->expert_push ? "Experts: chosen per layer (weight), and how much they pushed this token's logit"
                                         : "Experts: chosen per layer (weight)");
    char buf[48];
    for (int l = 0; l < rt->n_layer; l++) {
        if (!routing_layer_has_experts(rt, l)) continue;
        tui_sheet_line_begin(sh, -1);
        tui_sheet_text(sh, TC_DIM, "layer %-3d", l);
        for (int j = 0; j < rt->n_used; j++) {
            snprintf(buf, sizeof buf, "e%d %.0f%%", routing_id(rt, l, j), (double)routing_weight(rt, l, j) * 100);
            tui_sheet_text(sh, TC_CHOSEN, "%s  ", buf);
        }
        if (w->expert_push && !isnan(w->expert_push[l]))
            tui_sheet_text(sh, w->expert_push[l] >= 0 ? TC_NORMAL : TC_DIM, "push %+.2f", (double)w->expert_push[l]);
    }
    if (!w->expert_push) {
        tui_sheet_line_begin(sh, -1);
        tui_sheet_text(sh, TC_DIM, "(the pushes need the experts' outputs, kept for reply tokens)");
    }
}
