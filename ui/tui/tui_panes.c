/* tui_panes.c — the registry of panes: creating them from tui_panes.def, laying them
 * out, updating and drawing them, offering them keys and clicks, and the per-record cache
 * they share.
 *
 *   +-- meter -----------+ +-- attention --------------+
 *   | conversation       | | heads x keys, legend,     |
 *   |                    | | zoomed head               |
 *   |                    | +-- probabilities ----------+
 *   |--------------------| | top-k bars, entropy       |
 *   | > input            | |                           |
 *   +--------------------+-+---------------------------+
 *    message (full width, one to three rows)
 *    status bar
 *
 * The layout walks the list by area. Bottom panes are stacked up from the last row.
 * In the left and right areas, panes with a fixed number of rows get them, and the rows
 * left are shared by the TUI_FILL panes in proportion to their weight (a rule above a
 * pane comes out of its own share). Below TUI_MIN_COLS x TUI_MIN_ROWS the right column
 * would be too narrow to read, so only the panes marked `always` are laid out. */
#include "tui_app.h"

#include <stdio.h>
#include <string.h>

static const tui_pane_class *const CLASSES[] = {
#define TUI_PANE(name) &tui_pane_##name,
#include "tui_panes.def"
#undef TUI_PANE
};
#define N_CLASSES ((int)(sizeof CLASSES / sizeof CLASSES[0]))
_Static_assert(sizeof CLASSES / sizeof CLASSES[0] <= TUI_MAX_PANES, "raise TUI_MAX_PANES");

bool tui_panes_init(tui_app *a) {
    a->n_panes = 0;
    for (int i = 0; i < N_CLASSES; i++) {
        tui_pane *p = &a->panes[i];
        memset(p, 0, sizeof *p);
        p->cls = CLASSES[i];
        p->index = i;
        if (p->cls->state_size && !(p->st = calloc(1, p->cls->state_size))) return false;
        a->n_panes = i + 1;
        if (p->cls->init) p->cls->init(a, p);
    }
    return true;
}

void tui_panes_free(tui_app *a) {
    for (int i = 0; i < a->n_panes; i++) {
        tui_pane *p = &a->panes[i];
        if (p->cls->fini) p->cls->fini(a, p);
        free(p->st);
        p->st = NULL;
    }
    a->n_panes = 0;
    tui_cache_free(&a->cache);
}

tui_pane *tui_pane_of(const tui_app *a, const tui_pane_class *cls) {
    for (int i = 0; i < a->n_panes; i++)
        if (a->panes[i].cls == cls) return (tui_pane *)&a->panes[i];
    abort(); /* every class of the list has its pane from tui_panes_init on */
}

/* ---- layout ---- */

static int clamp_int(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

static bool laid_out(const tui_app *a, const tui_pane *p) {
    if (p->cls->area == TUI_RIGHT) return a->lay.full;
    return a->lay.full || p->cls->always;
}

static int wanted_rows(const tui_app *a, const tui_pane *p, int width, int avail) {
    return p->cls->rows ? p->cls->rows(a, p, width, avail) : TUI_FILL;
}

/* The panes of AREA, top to bottom, in the column [X, X + W) of rows [0, H). */
static void stack(tui_app *a, tui_area area, int x, int w, int h) {
    int want[TUI_MAX_PANES], fixed = 0, weights = 0, n_fill = 0, any = 0;
    for (int i = 0; i < a->n_panes; i++) {
        tui_pane *p = &a->panes[i];
        want[i] = 0;
        if (p->cls->area != area || !laid_out(a, p)) continue;
        want[i] = wanted_rows(a, p, w, h);
        if (want[i] == 0) continue;
        if (want[i] == TUI_FILL) {
            weights += p->cls->weight > 0 ? p->cls->weight : 1;
            n_fill++;
        } else {
            fixed += want[i] + (p->cls->rule_above && any ? 1 : 0);
        }
        any++;
    }
    int share = h - fixed > 0 ? h - fixed : 0, given = 0, seen = 0, y = 0;
    for (int i = 0; i < a->n_panes; i++) {
        tui_pane *p = &a->panes[i];
        if (p->cls->area != area || want[i] == 0) continue;
        int rule = p->cls->rule_above && seen ? 1 : 0, rows;
        if (want[i] == TUI_FILL) {
            int wt = p->cls->weight > 0 ? p->cls->weight : 1;
            rows = --n_fill == 0 ? share - given : share * wt / weights; /* the last takes the rest */
            given += rows;
            rows -= rule;
        } else {
            rows = want[i];
        }
        if (rows < 0) rows = 0;
        p->r = (tui_rect){y + rule, x, rows, w};
        y += rule + rows;
        seen++;
    }
}

void tui_panes_layout(tui_app *a) {
    int rows = a->rows < 3 ? 3 : a->rows, cols = a->cols < 4 ? 4 : a->cols;
    a->lay.full = rows >= TUI_MIN_ROWS && cols >= TUI_MIN_COLS;
    for (int i = 0; i < a->n_panes; i++) a->panes[i].r = (tui_rect){0, 0, 0, 0};
    /* the bottom panes, from the last row up */
    int bottom = rows;
    for (int i = a->n_panes; i-- > 0;) {
        tui_pane *p = &a->panes[i];
        if (p->cls->area != TUI_BOTTOM || !laid_out(a, p)) continue;
        int h = wanted_rows(a, p, cols, rows);
        h = clamp_int(h == TUI_FILL ? 1 : h, 0, bottom - 2 > 0 ? bottom - 2 : 0);
        p->r = (tui_rect){bottom - h, 0, h, cols};
        bottom -= h;
    }
    a->lay.content_h = bottom;
    int left_w = cols;
    a->lay.sep_x = -1;
    if (a->lay.full) {
        /* The chat gets two fifths: enough for a sentence per line; the heatmap needs the
         * width more, since every column is one earlier token. */
        left_w = clamp_int(cols * 2 / 5, 36, 80);
        a->lay.sep_x = left_w;
    }
    stack(a, TUI_LEFT, 0, left_w, bottom);
    if (a->lay.full) stack(a, TUI_RIGHT, left_w + 1, cols - left_w - 1, bottom);
}

/* ---- drawing ---- */

void tui_panes_update(tui_app *a) {
    for (int i = 0; i < a->n_panes; i++) {
        tui_pane *p = &a->panes[i];
        if (tui_pane_shown(p) && p->cls->update) p->cls->update(a, p);
    }
}

/* The vertical rule between the columns and a rule above each pane that asks for one,
 * joined where they meet; on a small screen the rule above the input line says what is
 * hidden. */
static void draw_rules(const tui_app *a) {
    tui_style frame = tui_role_style(&a->pal, TC_FRAME);
    const tui_layout *l = &a->lay;
    if (l->full)
        for (int y = 0; y < l->content_h; y++) tui_put_wch(y, l->sep_x, tui_glyph(0x2502, L'|'), frame);
    for (int i = 0; i < a->n_panes; i++) {
        const tui_pane *p = &a->panes[i];
        if (!tui_pane_shown(p) || !p->cls->rule_above || p->r.y == 0) continue;
        int y = p->r.y - 1;
        tui_fill(y, p->r.x, p->r.w, tui_glyph(0x2500, L'-'), frame);
        if (!l->full) {
            char hint[96];
            snprintf(hint, sizeof hint, " enlarge to %dx%d for attention and probabilities ", TUI_MIN_COLS, TUI_MIN_ROWS);
            tui_put_text(y, p->r.x + 1, p->r.w - 2, hint, tui_role_style(&a->pal, TC_DIM));
            continue;
        }
        if (p->cls->area == TUI_RIGHT) tui_put_wch(y, l->sep_x, tui_glyph(0x251C, L'+'), frame);
        else if (p->cls->area == TUI_LEFT) tui_put_wch(y, l->sep_x, tui_glyph(0x2524, L'+'), frame);
    }
}

void tui_panes_draw(const tui_app *a) {
    draw_rules(a);
    for (int i = 0; i < a->n_panes; i++) {
        const tui_pane *p = &a->panes[i];
        if (tui_pane_shown(p) && p->cls->draw) p->cls->draw(a, p);
    }
}

/* ---- keys and the mouse ---- */

bool tui_panes_key(tui_app *a, tui_key k) {
    for (int i = 0; i < a->n_panes; i++) {
        tui_pane *p = &a->panes[i];
        if (p->cls->key && p->cls->key(a, p, k)) return true;
    }
    return false;
}

bool tui_panes_click(tui_app *a, int y, int x, mmask_t button) {
    for (int i = 0; i < a->n_panes; i++) {
        tui_pane *p = &a->panes[i];
        if (tui_pane_shown(p) && tui_rect_has(p->r, y, x) && p->cls->click) return p->cls->click(a, p, y, x, button);
    }
    return false;
}

/* ---- the per-record cache ---- */

void *tui_cache_slot(tui_app *a, const tui_pane *p, size_t rec, bool *fresh) {
    tui_cache *c = &a->cache;
    size_t size = p->cls->rec_size, n = session_n_records(a->s);
    *fresh = false;
    if (!size || rec >= n) return NULL;
    if (c->epoch != a->epoch) { /* records replaced: forget every column */
        for (int i = 0; i < TUI_MAX_PANES; i++)
            if (c->col[i].have) memset(c->col[i].have, 0, c->col[i].cap);
        c->epoch = a->epoch;
    }
    tui_cache_column *col = &c->col[p->index];
    if (rec >= col->cap) {
        size_t cap = col->cap ? col->cap : 256;
        while (cap <= rec) cap *= 2;
        unsigned char *data = realloc(col->data, cap * size);
        if (!data) return NULL;
        col->data = data;
        uint8_t *have = realloc(col->have, cap);
        if (!have) return NULL;
        memset(have + col->cap, 0, cap - col->cap);
        col->have = have;
        col->cap = cap;
    }
    void *slot = col->data + rec * size;
    if (!col->have[rec]) {
        memset(slot, 0, size);
        col->have[rec] = 1;
        *fresh = true;
    }
    return slot;
}

void tui_cache_free(tui_cache *c) {
    for (int i = 0; i < TUI_MAX_PANES; i++) {
        free(c->col[i].data);
        free(c->col[i].have);
    }
    memset(c, 0, sizeof *c);
}
