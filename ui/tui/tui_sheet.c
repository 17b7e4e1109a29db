/* tui_sheet.c — the overlay that holds the why card, the branch list, the results of a
 * probe or a comparison, /messages and /context.
 *
 * Each of those is built once (when opened, or when the token it explains changes) as a
 * list of lines of styled segments at fixed columns, and only drawn afterwards: drawing
 * is a copy of what is visible, so scrolling and redraws during a streaming reply cost
 * nothing. The sheet covers the right-hand panes, leaving the conversation (and the
 * token the card is about) in view; on a small screen it covers everything. What a kind
 * of sheet does beyond scrolling and closing (the why card's arrows, the branch list's
 * Enter) is in its tui_sheet_class, next to the code that builds it. */
#include "tui_app.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const tui_sheet_class tui_sheet_plain = {.name = "plain"};

static void free_lines(tui_sheet *sh) {
    for (int i = 0; i < sh->n_lines; i++) {
        for (int k = 0; k < sh->lines[i].n_segs; k++) free(sh->lines[i].segs[k].text);
        free(sh->lines[i].segs);
    }
    sh->n_lines = 0;
}

void tui_sheet_reset(tui_sheet *sh, const tui_sheet_class *cls) {
    free_lines(sh);
    sh->cls = cls;
    sh->title[0] = sh->footer[0] = 0;
    sh->scroll = 0;
    sh->n_items = 0;
    sh->selected = 0;
}

void tui_sheet_free(tui_sheet *sh) {
    free_lines(sh);
    free(sh->lines);
    memset(sh, 0, sizeof *sh);
}

bool tui_sheet_is(const tui_app *a, const tui_sheet_class *cls) { return a->sheet.cls == cls; }

void tui_sheet_line_begin(tui_sheet *sh, int item) {
    if (sh->n_lines == sh->cap_lines) {
        int cap = sh->cap_lines ? sh->cap_lines * 2 : 64;
        tui_sheet_line *l = realloc(sh->lines, (size_t)cap * sizeof *l);
        if (!l) return; /* out of memory: the text goes on the previous line */
        sh->lines = l;
        sh->cap_lines = cap;
    }
    sh->lines[sh->n_lines++] = (tui_sheet_line){NULL, 0, 0, 0, item};
    if (item >= 0 && item + 1 > sh->n_items) sh->n_items = item + 1;
}

static void add_seg(tui_sheet *sh, tui_role role, bool token, const char *text, int width) {
    if (sh->n_lines == 0) tui_sheet_line_begin(sh, -1);
    if (sh->n_lines == 0 || !*text) return;
    tui_sheet_line *l = &sh->lines[sh->n_lines - 1];
    if (l->n_segs == l->cap_segs) {
        int cap = l->cap_segs ? l->cap_segs * 2 : 8;
        tui_seg *s = realloc(l->segs, (size_t)cap * sizeof *s);
        if (!s) return;
        l->segs = s;
        l->cap_segs = cap;
    }
    char *copy = strdup(text);
    if (!copy) return;
    l->segs[l->n_segs++] = (tui_seg){l->x, width, (uint8_t)role, token, -1, copy};
    l->x += width;
}

void tui_sheet_text(tui_sheet *sh, tui_role role, const char *fmt, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    add_seg(sh, role, false, buf, tui_text_width(buf));
}

void tui_sheet_token(tui_sheet *sh, tui_role role, const char *text, int maxw) {
    int w = tui_token_width(text);
    add_seg(sh, role, true, text, maxw > 0 && w > maxw ? maxw : w);
}

void tui_sheet_link(tui_sheet *sh, size_t rec) {
    if (sh->n_lines == 0) return;
    tui_sheet_line *l = &sh->lines[sh->n_lines - 1];
    if (l->n_segs) l->segs[l->n_segs - 1].rec = (int32_t)rec;
}

void tui_sheet_col(tui_sheet *sh, int x) {
    if (sh->n_lines == 0) return;
    tui_sheet_line *l = &sh->lines[sh->n_lines - 1];
    l->x = l->x >= x ? l->x + 1 : x;
}

void tui_sheet_heading(tui_sheet *sh, const char *text) {
    tui_sheet_line_begin(sh, -1);
    tui_sheet_line_begin(sh, -1);
    tui_sheet_text(sh, TC_TITLE, "%s", text);
}

void tui_sheet_wrapped(tui_sheet *sh, tui_role role, const char *text, int width) {
    if (width < 8) width = 8;
    const char *p = text;
    do {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        char *part = strndup(p, len);
        if (!part) return;
        size_t at = 0;
        do { /* rows of this paragraph, broken after the last space that fits */
            size_t cut = tui_wrap_cut(part + at, width);
            tui_sheet_line_begin(sh, -1);
            tui_sheet_text(sh, role, "%.*s", (int)cut, part + at);
            at += cut;
        } while (at < len);
        free(part);
        p = nl ? nl + 1 : NULL;
    } while (p);
}

/* ---- drawing ---- */

static tui_rect sheet_rect(const tui_app *a) {
    if (a->lay.full) return (tui_rect){0, a->lay.sep_x + 1, a->lay.content_h, a->cols - a->lay.sep_x - 1};
    return (tui_rect){0, 0, a->lay.content_h, a->cols};
}

int tui_sheet_width(const tui_app *a) { return sheet_rect(a).w - 1; }

/* Rows for lines: the title row and the footer row are the sheet's own. */
static int body_rows(const tui_app *a) {
    int h = sheet_rect(a).h - 2;
    return h > 0 ? h : 0;
}

static void clamp_scroll(tui_app *a) {
    tui_sheet *sh = &a->sheet;
    int rows = body_rows(a), max = sh->n_lines - rows;
    if (max < 0) max = 0;
    if (sh->scroll > max) sh->scroll = max;
    if (sh->scroll < 0) sh->scroll = 0;
}

void tui_sheet_update(tui_app *a) {
    if (a->sheet.cls) clamp_scroll(a);
}

void tui_sheet_draw(const tui_app *a) {
    const tui_sheet *sh = &a->sheet;
    if (!sh->cls) return;
    tui_rect R = sheet_rect(a);
    if (R.h < 3 || R.w < 10) return;
    tui_style norm = tui_role_style(&a->pal, TC_NORMAL), title = tui_role_style(&a->pal, TC_TITLE),
              dim = tui_role_style(&a->pal, TC_DIM), sel = tui_role_style(&a->pal, TC_SELECTED);
    for (int y = 0; y < R.h; y++) tui_fill(R.y + y, R.x, R.w, L' ', norm);
    tui_put_text(R.y, R.x, R.w, sh->title, title);
    int rows = body_rows(a);
    for (int i = 0; i < rows && sh->scroll + i < sh->n_lines; i++) {
        const tui_sheet_line *l = &sh->lines[sh->scroll + i];
        int y = R.y + 1 + i;
        bool on = l->item >= 0 && l->item == sh->selected;
        if (on) tui_fill(y, R.x, R.w, L' ', sel);
        for (int k = 0; k < l->n_segs; k++) {
            const tui_seg *s = &l->segs[k];
            if (s->x >= R.w) break;
            int maxw = R.w - s->x;
            if (k + 1 < l->n_segs && l->segs[k + 1].x - s->x < maxw) maxw = l->segs[k + 1].x - s->x;
            if (s->w < maxw) maxw = s->w;
            tui_style st = on ? sel : tui_role_style(&a->pal, (tui_role)s->role);
            if (s->rec >= 0 && !on) st.attr |= A_UNDERLINE; /* a link: a click goes there */
            if (s->token) tui_put_token(y, R.x + s->x, maxw, s->text, st);
            else tui_put_text(y, R.x + s->x, maxw, s->text, st);
        }
    }
    /* the footer: what the keys do, and where in a long sheet this is */
    char where[48] = "";
    if (sh->n_lines > rows)
        snprintf(where, sizeof where, "  lines %d-%d of %d", sh->scroll + 1,
                 sh->scroll + rows < sh->n_lines ? sh->scroll + rows : sh->n_lines, sh->n_lines);
    char foot[256];
    snprintf(foot, sizeof foot, "%s%s", sh->footer, where);
    tui_put_text(R.y + R.h - 1, R.x, R.w, foot, dim);
}

/* ---- keys and the mouse ---- */

void tui_sheet_close(tui_app *a) {
    tui_sheet_reset(&a->sheet, NULL);
    a->dirty = true;
}

/* Moves the selection by D items and scrolls it into view. */
static void select_item(tui_app *a, int d) {
    tui_sheet *sh = &a->sheet;
    if (sh->n_items == 0) return;
    sh->selected += d;
    if (sh->selected < 0) sh->selected = 0;
    if (sh->selected >= sh->n_items) sh->selected = sh->n_items - 1;
    for (int i = 0; i < sh->n_lines; i++)
        if (sh->lines[i].item == sh->selected) {
            int rows = body_rows(a);
            if (i < sh->scroll) sh->scroll = i;
            else if (i >= sh->scroll + rows) sh->scroll = i - rows + 1;
            break;
        }
}

static void scroll_by(tui_app *a, int d) {
    a->sheet.scroll += d;
    clamp_scroll(a);
}

static void step_by(tui_app *a, int d) {
    if (a->sheet.n_items > 0) select_item(a, d);
    else scroll_by(a, d);
}

bool tui_sheet_key(tui_app *a, tui_key k) {
    tui_sheet *sh = &a->sheet;
    int page = body_rows(a) > 1 ? body_rows(a) - 1 : 1;
    if (sh->cls->key && sh->cls->key(a, k)) return true;
    if (k.is_key) {
        switch (k.ch) {
        case KEY_UP: step_by(a, -1); return true;
        case KEY_DOWN: step_by(a, 1); return true;
        case KEY_PPAGE: step_by(a, -page); return true;
        case KEY_NPAGE: step_by(a, page); return true;
        case KEY_HOME: step_by(a, sh->n_items ? -sh->n_items : -sh->n_lines); return true;
        case KEY_END: step_by(a, sh->n_items ? sh->n_items : sh->n_lines); return true;
        case KEY_ENTER: k = (tui_key){false, L'\r', k.modal}; break;
        default: return false;
        }
    }
    switch (k.ch) {
    case 27: case L'q': tui_sheet_close(a); return true;
    case L'k': step_by(a, -1); return true;
    case L'j': step_by(a, 1); return true;
    case L' ': scroll_by(a, page); return true;
    case L'\r': case L'\n': {
        const tui_sheet_class *cls = sh->cls;
        int item = sh->selected;
        bool act = cls->enter && sh->n_items > 0;
        tui_sheet_close(a);
        if (act) cls->enter(a, item);
        return true;
    }
    default: return false;
    }
}

bool tui_sheet_click(tui_app *a, int y, int x, mmask_t button) {
    tui_sheet *sh = &a->sheet;
    tui_rect R = sheet_rect(a);
    if (!tui_rect_has(R, y, x)) return false;
    if (button & BUTTON4_PRESSED) scroll_by(a, -3);
    else if (button & BUTTON5_PRESSED) scroll_by(a, 3);
    if (!(button & (BUTTON1_PRESSED | BUTTON1_CLICKED | BUTTON1_RELEASED))) return true;
    int i = sh->scroll + (y - R.y - 1);
    if (y == R.y || y == R.y + R.h - 1 || i < 0 || i >= sh->n_lines) return true;
    const tui_sheet_line *l = &sh->lines[i];
    for (int k = 0; k < l->n_segs; k++) {
        const tui_seg *s = &l->segs[k];
        if (s->rec >= 0 && x - R.x >= s->x && x - R.x < s->x + s->w) {
            tui_inspect_at(a, (size_t)s->rec);
            return true;
        }
    }
    if (l->item >= 0) select_item(a, l->item - sh->selected);
    return true;
}
