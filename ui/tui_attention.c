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
 * sink, broad), and a role filter leaves only the heads of that role. */
#include "tui_app.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define LABEL_W 8   /* head / query labels on the left */
#define LABEL_W_ROLES 15 /* ... with the head's role: "h31 kv7 induct" */
#define MIN_CW 3    /* a column: at least two label characters and a gap */
#define MAX_CW 8
#define MAX_COLS 512
#define LOG_DECADES 4.0f

typedef struct columns {
    int key[MAX_COLS]; /* key index, or -1 for the "..." gap */
    int n, cw;
} columns;

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

static float scaled(const tui_app *a, float p, float max) {
    if (!(p > 0) || !(max > 0)) return 0;
    if (!a->log_scale) return p / max;
    float v = 1.0f + log10f(p / max) / LOG_DECADES;
    return v < 0 ? 0 : v > 1 ? 1 : v;
}

static void draw_cell(const tui_app *a, int y, int x, int cw, float v) {
    wchar_t ch;
    tui_style st;
    tui_heat_cell(&a->pal, v, &ch, &st);
    tui_fill(y, x, cw - 1, ch, st);
}

static void draw_blank(const tui_app *a, int y, int x, int cw) {
    tui_put_wch(y, x + (cw - 1) / 2, MB_CUR_MAX > 1 ? 0x00B7 : L'.', tui_role_style(&a->pal, TC_DIM));
}

/* A cell of value V of the selected layer: shaded by V / MAX, on the diverging scale when
 * the layer's rows are signed (DeltaNet). */
static void draw_value(const tui_app *a, int y, int x, int cw, float v, float max) {
    if (!tui_layer_signed(a, a->layer)) {
        draw_cell(a, y, x, cw, scaled(a, v, max));
        return;
    }
    wchar_t ch;
    tui_style st;
    tui_diverging_cell(&a->pal, max > 0 ? v / max : 0, &ch, &st);
    tui_fill(y, x, cw - 1, ch, st);
}

/* The size of the largest |value| of a row entry for the scale: signed rows by magnitude. */
static float magnitude(const tui_app *a, float v) { return tui_layer_signed(a, a->layer) && v < 0 ? -v : v; }

/* Query heads per key head of the selected layer (several value heads per key head in
 * a DeltaNet layer). */
static int group_size(const tui_app *a) {
    const layer_desc *d = &a->m->desc[a->layer];
    return d->n_head_kv > 0 && d->n_head % d->n_head_kv == 0 ? d->n_head / d->n_head_kv : 1;
}

static void head_label(const tui_app *a, int h, char *buf, size_t cap) {
    int g = group_size(a);
    int n = g > 1 ? snprintf(buf, cap, "h%d kv%d", h, layer_key_head(&a->m->desc[a->layer], h))
                  : snprintf(buf, cap, "h%d", h);
    const head_stats *st = tui_head_role(a, a->layer, h);
    if (st && n > 0 && (size_t)n < cap) snprintf(buf + n, cap - (size_t)n, " %s", tui_role_label(st->role));
}

/* The colour ramp with its end values, then what the selected head attends to most. */
static void draw_legend(tui_app *a, int y, tui_rect R, float max, const step_record *r, int top_key, float top_p) {
    tui_style dim = tui_role_style(&a->pal, TC_DIM), norm = tui_role_style(&a->pal, TC_NORMAL);
    int x = R.x;
    char buf[96];
    if (a->log_scale) snprintf(buf, sizeof buf, "%.0e", (double)max * pow(10, -LOG_DECADES));
    else snprintf(buf, sizeof buf, "0");
    x += tui_put_text(y, x, R.w, buf, dim) + 1;
    for (int i = 0; i < 8 && x + 2 < R.x + R.w; i++) {
        wchar_t ch;
        tui_style st;
        tui_heat_cell(&a->pal, (float)i / 7.0f, &ch, &st);
        tui_put_wch(y, x++, ch, st);
    }
    snprintf(buf, sizeof buf, " %.3g %s%s", (double)max, a->log_scale ? "log" : "linear",
             a->hide_sink ? " no-sink" : "");
    x += tui_put_text(y, x, R.x + R.w - x, buf, dim);
    if (top_key < 0 || x + 12 >= R.x + R.w) return;
    const step_record *k = session_record(a->s, (size_t)top_key);
    snprintf(buf, sizeof buf, "  h%d top: ", a->head);
    x += tui_put_text(y, x, R.x + R.w - x, buf, dim);
    x += tui_put_token(y, x, 12 < R.x + R.w - x ? 12 : R.x + R.w - x, k && k->text ? k->text : "?",
                       tui_role_style(&a->pal, TC_CHOSEN));
    snprintf(buf, sizeof buf, "@%d %.0f%%", top_key, (double)top_p * 100);
    tui_put_text(y, x, R.x + R.w - x, buf, norm);
    (void)r;
}

/* Rows of the zoomed head: the newest records up to and including the current one that
 * hold attention, so the diagonal and the columns line up with the heatmap above. */
static void draw_zoom(tui_app *a, tui_rect R, int y0, int rows, size_t cur, const columns *cols, int lw) {
    tui_style title = tui_role_style(&a->pal, TC_TITLE);
    tui_printf(y0, R.x, R.w, title, "head %d zoomed: rows = recent tokens, columns = keys", a->head);
    y0++;
    size_t idx[64];
    int n = 0;
    for (size_t i = cur + 1; i-- > 0 && n < rows && n < 64;) {
        const step_record *q = session_record(a->s, i);
        if (q && q->has_prediction && q->attention && q->n_keys > 0) idx[n++] = i;
    }
    if (n == 0) return;
    /* scale: the largest value shown in this block */
    float max = 0;
    for (int i = 0; i < n; i++) {
        const step_record *q = session_record(a->s, idx[i]);
        const float *row = tui_attention_row(a, q, a->layer, a->head);
        if (!row) continue;
        for (int c = 0; c < cols->n; c++)
            if (cols->key[c] >= 0 && cols->key[c] < q->n_keys && magnitude(a, row[cols->key[c]]) > max)
                max = magnitude(a, row[cols->key[c]]);
    }
    tui_style lab = tui_role_style(&a->pal, TC_DIM);
    for (int i = 0; i < n; i++) { /* newest at the bottom, like the chat */
        int y = y0 + (n - 1 - i);
        const step_record *q = session_record(a->s, idx[i]);
        tui_put_token(y, R.x, lw - 1, q->text ? q->text : "", idx[i] == cur ? tui_role_style(&a->pal, TC_CURSOR) : lab);
        const float *row = tui_attention_row(a, q, a->layer, a->head);
        for (int c = 0; c < cols->n; c++) {
            int x = R.x + lw + c * cols->cw, key = cols->key[c];
            if (key < 0) continue;
            if (!row || key >= q->n_keys) draw_blank(a, y, x, cols->cw);
            else draw_value(a, y, x, cols->cw, row[key], max);
        }
    }
}

/* The heads of the selected layer that the heatmap shows (every one, or those of the
 * filtered role), into LIST; returns how many. */
static int shown_heads(const tui_app *a, int *list, int cap) {
    int n = 0;
    for (int h = 0; h < tui_layer_heads(a, a->layer) && n < cap; h++) {
        const head_stats *st = a->role_filter >= 0 ? tui_head_role(a, a->layer, h) : NULL;
        if (a->role_filter < 0 || (st && (int)st->role == a->role_filter)) list[n++] = h;
    }
    return n;
}

void tui_attention_draw(tui_app *a) {
    tui_rect R = a->lay.attn;
    a->heat_rows = 0;
    if (R.h < 4 || R.w < LABEL_W_ROLES + MIN_CW * 2) return;
    const model_hparams *hp = &a->m->hp;
    if (a->layer >= hp->n_layer) a->layer = hp->n_layer - 1;
    if (a->layer < 0) a->layer = 0;
    const int n_heads = tui_layer_heads(a, a->layer);
    if (a->head >= n_heads) a->head = n_heads - 1;
    if (a->head < 0) a->head = 0;
    tui_heads_update(a);
    int lw = a->roles_valid ? LABEL_W_ROLES : LABEL_W;

    int list[256];
    int n_list = shown_heads(a, list, 256);
    int sel = -1;
    for (int i = 0; i < n_list; i++)
        if (list[i] == a->head) sel = i;
    if (sel < 0 && n_list > 0) { /* the filter hides the selected head: select the first shown */
        a->head = list[0];
        sel = 0;
    }

    tui_style title = tui_role_style(&a->pal, TC_TITLE), dim = tui_role_style(&a->pal, TC_DIM);
    size_t cur = 0;
    const step_record *r = tui_current_record(a, &cur);
    int n_keys = r && r->has_prediction && r->attention ? r->n_keys : 0;
    int g = group_size(a);
    char kv[24] = "";
    if (g > 1) snprintf(kv, sizeof kv, " (kv %d)", layer_key_head(&a->m->desc[a->layer], a->head));
    columns cols;
    cols.n = 0;
    cols.cw = MIN_CW;
    if (n_keys > 0) choose_columns(&cols, n_keys, a->hide_sink, R.w - lw);
    int shown = 0;
    for (int c = 0; c < cols.n; c++) shown += cols.key[c] >= 0;
    char note[48] = "";
    if (shown < n_keys - (a->hide_sink ? 1 : 0)) snprintf(note, sizeof note, " (%d shown)", shown);
    else if (a->hide_sink && n_keys > 1) snprintf(note, sizeof note, " (sink hidden)");
    char filter[48] = "";
    if (a->role_filter >= 0) snprintf(filter, sizeof filter, "  role %s: %d", tui_role_label((head_role)a->role_filter), n_list);
    tui_printf(R.y, R.x, R.w, title, "%s  layer %d/%d  head %d/%d%s  %d heads x %d keys%s%s",
               tui_layer_signed(a, a->layer) ? "DeltaNet" : "Attention", a->layer, hp->n_layer, a->head, n_heads, kv,
               n_heads, n_keys, note, filter);
    if (!r) {
        tui_put_text(R.y + 2, R.x, R.w, "no tokens yet", dim);
        return;
    }
    if (!r->has_prediction || r->n_keys <= 0) {
        tui_put_text(R.y + 2, R.x, R.w, "the first token: nothing came before it", dim);
        return;
    }
    if (!r->attention) {
        tui_put_text(R.y + 2, R.x, R.w, "attention was not kept for this token", dim);
        tui_put_text(R.y + 3, R.x, R.w,
                     session_attention_dropped(a->s) ? "(older than the attention memory budget keeps)" : "(--no-capture)", dim);
        return;
    }

    if (cols.n == 0) {
        tui_put_text(R.y + 2, R.x, R.w, "only the sink token came before (hidden)", dim);
        return;
    }
    if (n_list == 0) {
        tui_printf(R.y + 2, R.x, R.w, dim, "no head of layer %d is %s here; r: the next role, /heads all: every head",
                   a->layer, a->role_filter == HEAD_UNCLEAR ? "unclassified" : head_role_name((head_role)a->role_filter));
        return;
    }

    /* rows: title, key labels, heads, legend, then the zoom if two rows are left */
    int avail = R.h - 3;
    int head_rows = n_list < avail ? n_list : avail;
    if (head_rows < 1) return;
    int first = sel >= head_rows ? sel - head_rows + 1 : 0;

    /* key labels; the selected head's favourite key is highlighted */
    int y = R.y + 1;
    tui_put_text(y, R.x, lw - 1, "keys", dim);
    const float *selrow = tui_attention_row(a, r, a->layer, a->head);
    int top_key = -1;
    float top_p = -1;
    if (selrow)
        for (int k = a->hide_sink ? 1 : 0; k < n_keys; k++)
            if (magnitude(a, selrow[k]) > top_p) top_p = magnitude(a, selrow[k]), top_key = k;
    for (int c = 0; c < cols.n; c++) {
        int x = R.x + lw + c * cols.cw, key = cols.key[c];
        if (key < 0) {
            tui_put_text(y, x, cols.cw, MB_CUR_MAX > 1 ? "\xe2\x80\xa6" : "..", dim);
            continue;
        }
        const step_record *k = session_record(a->s, (size_t)key);
        tui_style st = key == top_key ? tui_role_style(&a->pal, TC_CHOSEN) : tui_role_style(&a->pal, TC_NORMAL);
        tui_put_token(y, x, cols.cw - 1, k && k->text ? k->text : "?", st);
    }

    /* heads: decode each visible row once, scale to the largest visible value */
    float *vals = malloc((size_t)head_rows * (size_t)cols.n * sizeof *vals);
    if (!vals) return;
    float max = 0;
    for (int i = 0; i < head_rows; i++) {
        const float *row = tui_attention_row(a, r, a->layer, list[first + i]);
        for (int c = 0; c < cols.n; c++) {
            float v = row && cols.key[c] >= 0 ? row[cols.key[c]] : NAN; /* NAN: no row */
            vals[i * cols.n + c] = v;
            if (!isnan(v) && magnitude(a, v) > max) max = magnitude(a, v);
        }
    }
    a->heat_y0 = R.y + 2;
    a->heat_rows = head_rows;
    for (int i = 0; i < head_rows; i++) {
        int h = list[first + i];
        a->heat_head[i] = h;
        y = R.y + 2 + i;
        char label[32];
        head_label(a, h, label, sizeof label);
        tui_style ls = h == a->head ? tui_role_style(&a->pal, TC_SELECTED) : dim;
        tui_printf(y, R.x, lw - 1, ls, "%-*s", lw - 1, label);
        for (int c = 0; c < cols.n; c++) {
            int x = R.x + lw + c * cols.cw;
            float v = vals[i * cols.n + c];
            if (cols.key[c] < 0) continue;
            if (isnan(v)) draw_blank(a, y, x, cols.cw);
            else draw_value(a, y, x, cols.cw, v, max);
        }
    }
    free(vals);
    if (first > 0 || first + head_rows < n_list)
        tui_printf(R.y + 1, R.x + lw - 1, 1, dim, "%s", MB_CUR_MAX > 1 ? "\xe2\x86\x95" : "|");

    y = R.y + 2 + head_rows;
    y += tui_deltanet_strips(a, y, R, cols.key, cols.n, cols.cw, lw);
    if (y < R.y + R.h && tui_layer_signed(a, a->layer)) tui_deltanet_legend(a, y, R, max);
    else if (y < R.y + R.h) draw_legend(a, y, R, max, r, top_key, top_p);
    int zoom_rows = R.y + R.h - (y + 2);
    if (zoom_rows >= 2) draw_zoom(a, R, y + 1, zoom_rows, cur, &cols, lw);
}

int tui_attention_hit(const tui_app *a, int y, int x) {
    tui_rect R = a->lay.attn;
    if (!a->lay.full || x < R.x || x >= R.x + R.w) return -1;
    if (y < a->heat_y0 || y >= a->heat_y0 + a->heat_rows) return -1;
    return a->heat_head[y - a->heat_y0];
}
