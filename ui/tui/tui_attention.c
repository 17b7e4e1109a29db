/* tui_attention.c — where the model looked: per-head heatmap and one head zoomed.
 *
 * For the record under the cursor (or the newest one) the heatmap has one row per query
 * head of the selected layer and one column per earlier token (the keys), labelled with
 * the token's text. Below it, the selected head's query-by-key matrix for the most recent
 * records, so a pattern (previous-token, induction, sink) shows as a shape.
 *
 * Only visible columns are decoded into the picture: with thousands of keys the pane
 * shows the first (sink) token, a gap, and the most recent keys that fit. Colours are
 * scaled to the largest value on screen (linear) or over four decades below it (log);
 * hiding the sink rescales to what is left, which is usually what one wants to see.
 *
 * Each row is labelled with its head's role once tui_heads.c knows it (prev, induct,
 * sink, broad), and a role filter leaves only the heads of that role.
 *
 * update() decides the columns and rows and decodes the values shown into the pane's
 * picture; draw() paints the picture. */
#include "tui_app.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LABEL_W 8   /* head / query labels on the left */
#define LABEL_W_ROLES 15 /* ... with the head's role: "h31 kv7 induct" */
#define LABEL_W_WORDS 26 /* ... in words: "head 31  kv 7  induction" */
#define WORDS_MIN_KEYS 32 /* words only where this many key columns still fit */
#define MIN_CW 3    /* a column: at least two label characters and a gap */
#define MAX_CW 8
#define MAX_COLS 512
#define MAX_HEADS 256
#define MAX_ZOOM 64
#define SINK_W 5 /* " sink", then a cell and "12%" */
#define LOG_DECADES 4.0f

typedef struct columns {
    int key[MAX_COLS]; /* key index, or -1 for the "..." gap */
    int n, cw;
} columns;

/* What the pane shows for the current record, made by update(). */
typedef struct picture {
    const char *note;      /* instead of a heatmap: why there is none, NULL */
    const char *note2;
    char title[256];
    size_t rec;
    int n_keys;
    int lw;                /* label column width */
    columns cols;
    int list[MAX_HEADS], n_list; /* the heads shown (all, or the filtered role's) */
    int first, head_rows;  /* rows of the list on screen */
    float *vals;           /* [head_rows][cols.n], NO_VALUE: none */
    float max;
    int top_key;           /* the selected head's favourite key, -1 */
    float top_p;
    bool words;            /* head labels in words */
    int key;               /* the key the key line names: the selected one, else top_key */
    float key_p, key_mean; /* the selected head's weight on it, and the layer's mean */
    size_t zoom_rec[MAX_ZOOM];
    int zoom_n, zoom_rows;
    float *zoom_vals;      /* [zoom_n][cols.n], NO_VALUE: none */
    float zoom_max;
    bool signed_rows;      /* a Gated DeltaNet layer: signed weights, a diverging scale */
    int strips;            /* rows of its decay and beta strips under the heads */
    int sink_w;            /* gpt-oss: cells of the sink column at the right, 0: none */
    float sink[MAX_HEADS]; /* each shown head's sink share (1 minus what its keys got) */
} picture;

typedef struct attention {
    /* the view */
    int layer, head;
    bool log_scale, hide_sink;
    int sel_key;           /* a key picked with , . or the mouse; -1: the top key */
    /* scratch and the picture */
    float *row;            /* one decoded attention row */
    size_t row_cap;
    size_t vals_cap, zoom_cap;
    picture pic;
} attention;

static attention *attention_of(const tui_app *a) { return tui_pane_of(a, &tui_pane_attention)->st; }

int tui_attention_layer(const tui_app *a) { return attention_of(a)->layer; }

long tui_attention_mark(const tui_app *a) {
    const tui_pane *p = tui_pane_of(a, &tui_pane_attention);
    const attention *at = p->st;
    return tui_pane_shown(p) && !at->pic.note ? at->pic.key : -1;
}

/* One head's attention row of R, decoded into the pane's scratch; NULL if not kept. */
static const float *attention_row(tui_app *a, attention *at, const step_record *r, int layer, int head) {
    if (!r || !r->attention || r->n_keys <= 0) return NULL;
    if ((size_t)r->n_keys > at->row_cap) {
        float *p = realloc(at->row, (size_t)r->n_keys * sizeof *p);
        if (!p) return NULL;
        at->row = p;
        at->row_cap = (size_t)r->n_keys;
    }
    return session_attention_row(a->s, r, layer, head, at->row) ? at->row : NULL;
}

/* Which keys get a column: all of them if they fit (with labels of two or more
 * characters when there is room, of one when that is what it takes); else the sink
 * (unless hidden), a gap, and the most recent keys. */
static void choose_columns(columns *c, int n_keys, bool hide_sink, int width) {
    int first = hide_sink && n_keys > 1 ? 1 : 0;
    int n_show = n_keys - first;
    c->n = 0;
    c->cw = MIN_CW;
    if (n_show <= 0 || width < MIN_CW) return;
    if (n_show * MIN_CW <= width) {
        int cw = width / n_show;
        c->cw = cw > MAX_CW ? MAX_CW : cw;
    } else if (n_show * 2 <= width && n_show <= MAX_COLS) {
        c->cw = 2;
    }
    int fit = width / c->cw;
    if (fit > MAX_COLS) fit = MAX_COLS;
    if (n_show <= fit) {
        for (int k = first; k < n_keys; k++) c->key[c->n++] = k;
        return;
    }
    int tail = fit;
    if (!hide_sink && fit >= 4) {
        c->key[c->n++] = 0;
        c->key[c->n++] = -1;
        tail = fit - 2;
    }
    for (int k = n_keys - tail; k < n_keys; k++) c->key[c->n++] = k;
}

static float scaled(const attention *at, float p, float max) {
    if (!(p > 0) || !(max > 0)) return 0;
    if (!at->log_scale) return p / max;
    float v = 1.0f + log10f(p / max) / LOG_DECADES;
    return v < 0 ? 0 : v > 1 ? 1 : v;
}

/* Query heads per key head of LAYER (value heads per key head in a DeltaNet layer). */
static int group_size(const tui_app *a, int layer) {
    const layer_desc *d = &a->m->desc[layer];
    return d->n_head_kv > 0 && d->n_head % d->n_head_kv == 0 ? d->n_head / d->n_head_kv : 1;
}

/* How far a value is from nothing, for the scale: signed rows (DeltaNet) by magnitude. */
static float magnitude(const picture *pic, float v) {
    if (!isfinite(v)) return 0;
    return pic->signed_rows && v < 0 ? -v : v;
}

/* The heads of the selected layer that the heatmap shows (every one of the layer's own,
 * or those of the filtered role), into LIST; returns how many. */
static int shown_heads(const tui_app *a, const attention *at, int *list, int cap) {
    int n = 0, filter = a->heads.filter;
    for (int h = 0; h < tui_layer_heads(a, at->layer) && n < cap; h++) {
        const head_stats *st = filter >= 0 ? tui_head_role(a, at->layer, h) : NULL;
        if (filter < 0 || (st && (int)st->role == filter)) list[n++] = h;
    }
    return n;
}

static bool reserve(float **buf, size_t *cap, size_t n) {
    if (n <= *cap) return true;
    float *b = realloc(*buf, n * sizeof *b);
    if (!b) return false;
    *buf = b;
    *cap = n;
    return true;
}

/* A cell's value: the probability (a DeltaNet layer: the signed weight) of key KEY in ROW
 * (a query that saw N_KEYS keys), NO_VALUE when there is none to show, OUTSIDE when the
 * layer's sliding window left the key out (drawn as such, not as zero attention). */
#define NO_VALUE NAN
#define OUTSIDE (-INFINITY)
static float cell_value(const tui_app *a, int layer, const float *row, int key, int n_keys) {
    if (!row || key < 0 || key >= n_keys) return NO_VALUE;
    const int window = a->m->desc[layer].window;
    return window && key < n_keys - window ? OUTSIDE : row[key];
}

/* Rows of the zoomed head: the newest records up to and including the current one that
 * hold attention, so the diagonal and the columns line up with the heatmap above. */
static void zoom_picture(tui_app *a, attention *at, picture *pic, int rows) {
    pic->zoom_n = 0;
    pic->zoom_rows = rows;
    pic->zoom_max = 0;
    for (size_t i = pic->rec + 1; i-- > 0 && pic->zoom_n < rows && pic->zoom_n < MAX_ZOOM;) {
        const step_record *q = session_record(a->s, i);
        if (q && q->has_prediction && q->attention && q->n_keys > 0) pic->zoom_rec[pic->zoom_n++] = i;
    }
    if (!reserve(&pic->zoom_vals, &at->zoom_cap, (size_t)(pic->zoom_n ? pic->zoom_n : 1) * (size_t)pic->cols.n)) {
        pic->zoom_n = 0;
        return;
    }
    for (int i = 0; i < pic->zoom_n; i++) {
        const step_record *q = session_record(a->s, pic->zoom_rec[i]);
        const float *row = attention_row(a, at, q, at->layer, at->head);
        for (int c = 0; c < pic->cols.n; c++) {
            float v = cell_value(a, at->layer, row, pic->cols.key[c], q->n_keys);
            pic->zoom_vals[i * pic->cols.n + c] = v;
            if (magnitude(pic, v) > pic->zoom_max) pic->zoom_max = magnitude(pic, v);
        }
    }
}

/* The heatmap's values: each visible head row decoded once, scaled to the largest. */
static bool heat_picture(tui_app *a, attention *at, picture *pic, const step_record *r) {
    if (!reserve(&pic->vals, &at->vals_cap, (size_t)pic->head_rows * (size_t)pic->cols.n)) return false;
    pic->max = 0;
    for (int i = 0; i < pic->head_rows; i++) {
        const float *row = attention_row(a, at, r, at->layer, pic->list[pic->first + i]);
        for (int c = 0; c < pic->cols.n; c++) {
            float v = cell_value(a, at->layer, row, pic->cols.key[c], pic->n_keys);
            pic->vals[i * pic->cols.n + c] = v;
            if (magnitude(pic, v) > pic->max) pic->max = magnitude(pic, v);
        }
        /* a sink takes its share in the softmax's denominator: the keys get less than 1 */
        double sum = 0;
        for (int k = 0; row && k < pic->n_keys; k++) sum += row[k];
        pic->sink[i] = row && sum < 1 ? (float)(1 - sum) : row ? 0.0f : -1.0f;
    }
    /* the selected head's favourite key, and the key the key line names */
    const float *sel = attention_row(a, at, r, at->layer, at->head);
    pic->top_key = -1;
    pic->top_p = -1;
    if (sel)
        for (int k = at->hide_sink ? 1 : 0; k < pic->n_keys; k++)
            if (magnitude(pic, sel[k]) > pic->top_p) pic->top_p = magnitude(pic, sel[k]), pic->top_key = k;
    if (at->sel_key >= pic->n_keys) at->sel_key = -1;
    pic->key = at->sel_key >= 0 ? at->sel_key : pic->top_key;
    pic->key_p = pic->key >= 0 && sel ? sel[pic->key] : 0;
    pic->key_mean = 0;
    const int n_heads = tui_layer_heads(a, at->layer);
    for (int h = 0; pic->key >= 0 && h < n_heads; h++) {
        const float *row = attention_row(a, at, r, at->layer, h);
        if (row) pic->key_mean += row[pic->key] / (float)n_heads;
    }
    return true;
}

/* " sliding 16", " global" (in a model that has sliding layers), " reads layer 1's keys". */
static void layer_kind(const tui_app *a, int layer, char *buf, size_t cap) {
    const model *m = a->m;
    const layer_desc *d = &m->desc[layer];
    bool any_window = false;
    for (int l = 0; l < m->hp.n_layer; l++) any_window |= m->desc[l].window > 0;
    int n = 0;
    buf[0] = 0;
    if (d->window) n = snprintf(buf, cap, " sliding %d", d->window);
    else if (any_window) n = snprintf(buf, cap, " global");
    if (d->kv_layer != layer && n >= 0 && (size_t)n < cap)
        snprintf(buf + n, cap - (size_t)n, " reads layer %d's keys", d->kv_layer);
}

static void clamp_view(const tui_app *a, attention *at) {
    const model_hparams *hp = &a->m->hp;
    if (at->layer >= hp->n_layer) at->layer = hp->n_layer - 1;
    if (at->layer < 0) at->layer = 0;
    if (at->head >= tui_layer_heads(a, at->layer)) at->head = tui_layer_heads(a, at->layer) - 1;
    if (at->head < 0) at->head = 0;
}

static void attention_update(tui_app *a, tui_pane *p) {
    attention *at = p->st;
    picture *pic = &at->pic;
    tui_rect R = p->r;
    pic->note = pic->note2 = NULL;
    pic->head_rows = pic->zoom_n = 0;
    pic->top_key = -1;
    pic->title[0] = 0;
    if (R.h < 4 || R.w < LABEL_W_ROLES + MIN_CW * 2) {
        pic->note = "";
        return;
    }
    const model_hparams *hp = &a->m->hp;
    clamp_view(a, at);
    pic->signed_rows = tui_layer_signed(a, at->layer);
    tui_heads_update(a);
    const step_record *cur_r = tui_current_record(a, NULL);
    int keys_now = cur_r && cur_r->has_prediction ? cur_r->n_keys : 0;
    int keys_wanted = keys_now < WORDS_MIN_KEYS ? keys_now : WORDS_MIN_KEYS;
    pic->words = R.w - LABEL_W_WORDS >= keys_wanted * MIN_CW;
    pic->lw = pic->words ? LABEL_W_WORDS : a->heads.valid ? LABEL_W_ROLES : LABEL_W;
    pic->n_list = shown_heads(a, at, pic->list, MAX_HEADS);
    int sel = -1;
    for (int i = 0; i < pic->n_list; i++)
        if (pic->list[i] == at->head) sel = i;
    if (sel < 0 && pic->n_list > 0) { /* the filter hides the selected head: select the first shown */
        at->head = pic->list[0];
        sel = 0;
    }
    const step_record *r = tui_current_record(a, &pic->rec);
    pic->n_keys = r && r->has_prediction && r->attention ? r->n_keys : 0;
    const int g = group_size(a, at->layer), n_heads = tui_layer_heads(a, at->layer);
    char kv[24] = "";
    if (g > 1) snprintf(kv, sizeof kv, " (kv %d)", layer_key_head(&a->m->desc[at->layer], at->head));
    pic->cols.n = 0;
    pic->cols.cw = MIN_CW;
    pic->sink_w = a->m->layers[at->layer].attn_sinks ? SINK_W : 0;
    if (pic->n_keys > 0) choose_columns(&pic->cols, pic->n_keys, at->hide_sink, R.w - pic->lw - pic->sink_w);
    int shown = 0;
    for (int c = 0; c < pic->cols.n; c++) shown += pic->cols.key[c] >= 0;
    char note[48] = "";
    if (shown < pic->n_keys - (at->hide_sink ? 1 : 0)) snprintf(note, sizeof note, " (%d shown)", shown);
    else if (at->hide_sink && pic->n_keys > 1) snprintf(note, sizeof note, " (sink hidden)");
    char filter[48] = "";
    if (a->heads.filter >= 0)
        snprintf(filter, sizeof filter, "  role %s: %d", tui_role_words((head_role)a->heads.filter), pic->n_list);
    char kind[64];
    layer_kind(a, at->layer, kind, sizeof kind);
    snprintf(pic->title, sizeof pic->title, "%s  layer %d/%d%s  head %d/%d%s  %d heads x %d keys%s%s",
             pic->signed_rows ? "DeltaNet" : "Attention", at->layer, hp->n_layer, kind, at->head, n_heads, kv, n_heads,
             pic->n_keys, note, filter);
    if (!r) pic->note = "no tokens yet";
    else if (!r->has_prediction || r->n_keys <= 0) pic->note = "the first token: nothing came before it";
    else if (!r->attention) {
        pic->note = "attention was not kept for this token";
        pic->note2 = session_attention_dropped(a->s) ? "(older than the attention memory budget keeps)" : "(--no-capture)";
    } else if (pic->cols.n == 0) pic->note = "only the sink token came before (hidden)";
    else if (pic->n_list == 0) pic->note = "no head"; /* drawn with the role's name */
    if (pic->note) return;

    /* rows: title, key labels, heads, a DeltaNet layer's decay and beta strips, legend, key
     * line, then the zoom if two rows are left */
    pic->strips = pic->signed_rows && R.h - 4 - 2 >= 1 ? 2 : 0;
    int avail = R.h - 4 - pic->strips;
    pic->head_rows = pic->n_list < avail ? pic->n_list : avail;
    if (pic->head_rows < 1) {
        pic->note = "";
        return;
    }
    pic->first = sel >= pic->head_rows ? sel - pic->head_rows + 1 : 0;
    if (!heat_picture(a, at, pic, r)) {
        pic->note = "out of memory for the heatmap";
        return;
    }
    int legend_y = R.y + 2 + pic->head_rows + pic->strips;
    int zoom_rows = R.y + R.h - (legend_y + 3);
    if (zoom_rows >= 2) zoom_picture(a, at, pic, zoom_rows);
}

/* ---- drawing ---- */

static void draw_cell(const tui_app *a, int y, int x, int cw, float v) {
    wchar_t ch;
    tui_style st;
    tui_heat_cell(&a->pal, v, &ch, &st);
    tui_fill(y, x, cw - 1, ch, st);
}

static void draw_blank(const tui_app *a, int y, int x, int cw) {
    tui_put_wch(y, x + (cw - 1) / 2, tui_glyph(0x00B7, L'.'), tui_role_style(&a->pal, TC_DIM));
}

/* A key the sliding window left out: not zero attention, no attention at all. */
static void draw_outside(const tui_app *a, int y, int x, int cw) {
    tui_put_wch(y, x + (cw - 1) / 2, tui_glyph(0x00D7, L'x'), tui_role_style(&a->pal, TC_DIM));
}

/* A cell of the heatmap or the zoom: its value (signed ones on the diverging scale),
 * nothing, or outside the window. */
static void draw_value(const tui_app *a, const attention *at, int y, int x, int cw, float v, float max) {
    if (v == OUTSIDE) draw_outside(a, y, x, cw);
    else if (isnan(v)) draw_blank(a, y, x, cw);
    else if (at->pic.signed_rows) {
        wchar_t ch;
        tui_style st;
        tui_diverging_cell(&a->pal, max > 0 ? v / max : 0, &ch, &st);
        tui_fill(y, x, cw - 1, ch, st);
    } else draw_cell(a, y, x, cw, scaled(at, v, max));
}

/* "h5 kv2 prev", or where there is room "head 5  kv 2  previous". */
static void head_label(const tui_app *a, const attention *at, int h, char *buf, size_t cap) {
    const int g = group_size(a, at->layer), kv = layer_key_head(&a->m->desc[at->layer], h);
    bool words = at->pic.words;
    int n = g > 1 ? snprintf(buf, cap, words ? "head %d  kv %d" : "h%d kv%d", h, kv)
                  : snprintf(buf, cap, words ? "head %d" : "h%d", h);
    const head_stats *st = tui_head_role(a, at->layer, h);
    if (st && n > 0 && (size_t)n < cap)
        snprintf(buf + n, cap - (size_t)n, words ? "  %s" : " %s", words ? tui_role_words(st->role) : tui_role_label(st->role));
}

/* The colour ramp with its end values. */
static void draw_legend(const tui_app *a, const attention *at, int y, tui_rect R) {
    const picture *pic = &at->pic;
    tui_style dim = tui_role_style(&a->pal, TC_DIM);
    int x = R.x;
    char buf[96];
    if (at->log_scale) snprintf(buf, sizeof buf, "%.0e", (double)pic->max * pow(10, -LOG_DECADES));
    else snprintf(buf, sizeof buf, "0");
    x += tui_put_text(y, x, R.w, buf, dim) + 1;
    for (int i = 0; i < 8 && x + 2 < R.x + R.w; i++) {
        wchar_t ch;
        tui_style st;
        tui_heat_cell(&a->pal, (float)i / 7.0f, &ch, &st);
        tui_put_wch(y, x++, ch, st);
    }
    const int window = a->m->desc[at->layer].window;
    char outside[48] = "";
    if (window && pic->n_keys > window)
        snprintf(outside, sizeof outside, "  %s outside the window", MB_CUR_MAX > 1 ? "\xc3\x97" : "x");
    snprintf(buf, sizeof buf, " %.3g %s%s%s", (double)pic->max, at->log_scale ? "log" : "linear",
             at->hide_sink ? " no-sink" : "", outside);
    tui_put_text(y, x, R.x + R.w - x, buf, dim);
}

/* The key that the labels cannot name whole: the one picked (, . or a click), else the
 * one the selected head attends to most; its position is marked in the chat. */
static void draw_key_line(const tui_app *a, const attention *at, int y, tui_rect R) {
    const picture *pic = &at->pic;
    if (pic->key < 0) return;
    tui_style dim = tui_role_style(&a->pal, TC_DIM), norm = tui_role_style(&a->pal, TC_NORMAL),
              mark = tui_role_style(&a->pal, TC_CHOSEN);
    const step_record *k = session_record(a->s, (size_t)pic->key);
    char buf[160];
    int x = R.x;
    if (at->sel_key < 0) snprintf(buf, sizeof buf, "head %d looks most at ", at->head);
    else snprintf(buf, sizeof buf, "key ");
    x += tui_put_text(y, x, R.w, buf, dim);
    x += tui_put_token(y, x, 24 < R.x + R.w - x ? 24 : R.x + R.w - x, k && k->text ? k->text : "?", mark);
    snprintf(buf, sizeof buf, " (position %d, marked in the chat): ", pic->key);
    x += tui_put_text(y, x, R.x + R.w - x, buf, dim);
    if (at->sel_key < 0) snprintf(buf, sizeof buf, "%.0f%%", (double)pic->key_p * 100);
    else snprintf(buf, sizeof buf, "head %d %.0f%%", at->head, (double)pic->key_p * 100);
    x += tui_put_text(y, x, R.x + R.w - x, buf, norm);
    /* then what fits of: the layer's mean, and how to pick another key */
    snprintf(buf, sizeof buf, ", the layer's heads %.0f%% on average", (double)pic->key_mean * 100);
    if (tui_text_width(buf) <= R.x + R.w - x) x += tui_put_text(y, x, R.x + R.w - x, buf, norm);
    if (at->sel_key >= 0 && 16 <= R.x + R.w - x) tui_put_text(y, x, R.x + R.w - x, "  (, . another)", dim);
}

static void draw_zoom(const tui_app *a, const attention *at, tui_rect R, int y0) {
    const picture *pic = &at->pic;
    tui_style title = tui_role_style(&a->pal, TC_TITLE), lab = tui_role_style(&a->pal, TC_DIM);
    tui_printf(y0, R.x, R.w, title, "head %d zoomed: rows = recent tokens, columns = keys", at->head);
    y0++;
    for (int i = 0; i < pic->zoom_n; i++) { /* newest at the bottom, like the chat */
        int y = y0 + (pic->zoom_n - 1 - i);
        const step_record *q = session_record(a->s, pic->zoom_rec[i]);
        tui_put_token(y, R.x, pic->lw - 1, q->text ? q->text : "",
                      pic->zoom_rec[i] == pic->rec ? tui_role_style(&a->pal, TC_CURSOR) : lab);
        for (int c = 0; c < pic->cols.n; c++) {
            int x = R.x + pic->lw + c * pic->cols.cw, key = pic->cols.key[c];
            float v = pic->zoom_vals[i * pic->cols.n + c];
            if (key < 0) continue;
            draw_value(a, at, y, x, pic->cols.cw, v, pic->zoom_max);
        }
    }
}

static void draw_keys(const tui_app *a, const picture *pic, int y, tui_rect R) {
    tui_style dim = tui_role_style(&a->pal, TC_DIM);
    tui_put_text(y, R.x, pic->lw - 1, "keys", dim);
    if (pic->sink_w) tui_put_text(y, R.x + pic->lw + pic->cols.n * pic->cols.cw, pic->sink_w, " sink", dim);
    for (int c = 0; c < pic->cols.n; c++) {
        int x = R.x + pic->lw + c * pic->cols.cw, key = pic->cols.key[c];
        if (key < 0) {
            tui_put_text(y, x, pic->cols.cw, MB_CUR_MAX > 1 ? "\xe2\x80\xa6" : "..", dim);
            continue;
        }
        const step_record *k = session_record(a->s, (size_t)key);
        tui_style st = tui_role_style(&a->pal, key == pic->key ? TC_CHOSEN : TC_NORMAL);
        tui_put_token(y, x, pic->cols.cw - 1, k && k->text ? k->text : "?", st);
    }
}

/* gpt-oss: a head's sink share, a heat cell and a percentage, at (Y, X). */
static void draw_sink(const tui_app *a, int y, int x, float share) {
    wchar_t ch;
    tui_style st;
    tui_heat_cell(&a->pal, share, &ch, &st);
    tui_put_wch(y, x + 1, ch, st);
    tui_printf(y, x + 2, 3, tui_role_style(&a->pal, TC_NORMAL), "%2.0f%%", share * 100 > 99 ? 99.0 : share * 100.0);
}

static void draw_heads(const tui_app *a, const attention *at, tui_rect R) {
    const picture *pic = &at->pic;
    tui_style dim = tui_role_style(&a->pal, TC_DIM);
    for (int i = 0; i < pic->head_rows; i++) {
        int h = pic->list[pic->first + i], y = R.y + 2 + i;
        char label[32];
        head_label(a, at, h, label, sizeof label);
        tui_style ls = h == at->head ? tui_role_style(&a->pal, TC_SELECTED) : dim;
        tui_printf(y, R.x, pic->lw - 1, ls, "%-*s", pic->lw - 1, label);
        for (int c = 0; c < pic->cols.n; c++) {
            int x = R.x + pic->lw + c * pic->cols.cw;
            float v = pic->vals[i * pic->cols.n + c];
            if (pic->cols.key[c] < 0) continue;
            draw_value(a, at, y, x, pic->cols.cw, v, pic->max);
        }
        if (pic->sink_w && pic->sink[i] >= 0) draw_sink(a, y, R.x + pic->lw + pic->cols.n * pic->cols.cw, pic->sink[i]);
    }
    if (pic->first > 0 || pic->first + pic->head_rows < pic->n_list)
        tui_printf(R.y + 1, R.x + pic->lw - 1, 1, dim, "%s", MB_CUR_MAX > 1 ? "\xe2\x86\x95" : "|");
}

static void attention_draw(const tui_app *a, const tui_pane *p) {
    const attention *at = p->st;
    const picture *pic = &at->pic;
    tui_rect R = p->r;
    if (!pic->title[0]) return;
    tui_style title = tui_role_style(&a->pal, TC_TITLE), dim = tui_role_style(&a->pal, TC_DIM);
    tui_put_text(R.y, R.x, R.w, pic->title, title);
    if (pic->note && pic->n_list == 0 && pic->n_keys > 0 && pic->cols.n > 0) {
        tui_printf(R.y + 2, R.x, R.w, dim, "no head of layer %d is %s here; r: the next role, /heads all: every head",
                   at->layer, a->heads.filter == HEAD_UNCLEAR ? "unclassified" : head_role_name((head_role)a->heads.filter));
        return;
    }
    if (pic->note) {
        tui_put_text(R.y + 2, R.x, R.w, pic->note, dim);
        if (pic->note2) tui_put_text(R.y + 3, R.x, R.w, pic->note2, dim);
        return;
    }
    draw_keys(a, pic, R.y + 1, R);
    draw_heads(a, at, R);
    int y = R.y + 2 + pic->head_rows;
    if (pic->strips)
        y += tui_deltanet_strips(a, at->layer, at->head, y, R, pic->cols.key, pic->cols.n, pic->cols.cw, pic->lw);
    if (y < R.y + R.h && pic->signed_rows) tui_deltanet_legend(a, y, R, pic->max);
    else if (y < R.y + R.h) draw_legend(a, at, y, R);
    if (y + 1 < R.y + R.h) draw_key_line(a, at, y + 1, R);
    if (pic->zoom_rows >= 2 && pic->zoom_n > 0) draw_zoom(a, at, R, y + 2);
    else if (pic->zoom_rows >= 2)
        tui_printf(y + 2, R.x, R.w, title, "head %d zoomed: rows = recent tokens, columns = keys", at->head);
}

/* ---- keys and the mouse ---- */

static void change_layer(tui_app *a, attention *at, int d) {
    int n = a->m->hp.n_layer;
    at->layer = (at->layer + d + n) % n;
}

static void change_head(tui_app *a, attention *at, int d) {
    int n = tui_layer_heads(a, at->layer); /* the selected layer's own */
    at->head = (at->head + d + n) % n;
}

/* , and . walk the key line over the columns on screen, from the top key on. */
static void pick_key(attention *at, int d) {
    const picture *pic = &at->pic;
    int from = at->sel_key >= 0 ? at->sel_key : pic->top_key, c = -1;
    for (int i = 0; i < pic->cols.n; i++)
        if (pic->cols.key[i] == from) c = i;
    do c += d;
    while (c >= 0 && c < pic->cols.n && pic->cols.key[c] < 0);
    if (c >= 0 && c < pic->cols.n) at->sel_key = pic->cols.key[c];
}

static bool attention_key(tui_app *a, tui_pane *p, tui_key k) {
    attention *at = p->st;
    if (k.is_key) {
        switch (k.ch) {
        case KEY_F(2): change_layer(a, at, -1); return true;
        case KEY_F(3): change_layer(a, at, 1); return true;
        case KEY_F(4): change_head(a, at, -1); return true;
        case KEY_F(5): change_head(a, at, 1); return true;
        case KEY_F(6): at->log_scale = !at->log_scale; return true;
        case KEY_F(7): at->hide_sink = !at->hide_sink; return true;
        default: return false;
        }
    }
    if (k.modal || a->mode != MODE_INSPECT) return false;
    switch (k.ch) {
    case L'[': change_layer(a, at, -1); return true;
    case L']': change_layer(a, at, 1); return true;
    case L'-': change_head(a, at, -1); return true;
    case L'=': case L'+': change_head(a, at, 1); return true;
    case L'l': at->log_scale = !at->log_scale; return true;
    case L's': at->hide_sink = !at->hide_sink; return true;
    case L'r': tui_heads_cycle(a); return true;
    case L',': pick_key(at, -1); return true;
    case L'.': pick_key(at, 1); return true;
    default: return false;
    }
}

/* A press on a heatmap row selects that head. */
static bool attention_click(tui_app *a, tui_pane *p, int y, int x, mmask_t button) {
    attention *at = p->st;
    const picture *pic = &at->pic;
    if (!(button & (BUTTON1_PRESSED | BUTTON1_CLICKED | BUTTON1_RELEASED)) || pic->note) return false;
    int row = y - (p->r.y + 2), col = (x - p->r.x - pic->lw);
    int key = col >= 0 && col / pic->cols.cw < pic->cols.n ? pic->cols.key[col / pic->cols.cw] : -1;
    if (row == -1 && key >= 0) { /* the key labels: name that key */
        at->sel_key = key == at->sel_key ? -1 : key;
        return true;
    }
    if (row < 0 || row >= pic->head_rows) return false;
    at->head = pic->list[pic->first + row];
    if (key >= 0) at->sel_key = key;
    return true;
}

/* The router pane (models with experts) takes this pane's place while it is shown. */
static int attention_rows(const tui_app *a, const tui_pane *p, int width, int avail) {
    (void)p;
    (void)width;
    (void)avail;
    return tui_router_shown(a) ? 0 : TUI_FILL;
}

static void attention_fini(tui_app *a, tui_pane *p) {
    attention *at = p->st;
    free(at->row);
    free(at->pic.vals);
    free(at->pic.zoom_vals);
    (void)a;
}

static void attention_init(tui_app *a, tui_pane *p) {
    attention *at = p->st;
    at->sel_key = -1;
    (void)a;
}

const tui_pane_class tui_pane_attention = {
    .name = "attention",
    .init = attention_init,
    .area = TUI_RIGHT,
    .weight = 3,
    .state_size = sizeof(attention),
    .rows = attention_rows,
    .fini = attention_fini,
    .update = attention_update,
    .draw = attention_draw,
    .key = attention_key,
    .click = attention_click,
};
