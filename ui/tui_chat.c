/* tui_chat.c — the conversation: step records laid out as wrapped lines of cells.
 *
 * Every cell remembers the record (token) it came from, so the inspect cursor, mouse
 * clicks and the probability tint all work on tokens while the text reads as text.
 * Token texts are concatenated before decoding, because one character can be split over
 * several tokens (byte-fallback emoji, Korean); the character's cell belongs to the token
 * holding its first byte, and the other tokens get zero-width marks after it so that the
 * cursor can still stop on them. Chat-template text is hidden unless asked for.
 *
 * The layout is rebuilt when the record count, the width or the epoch (clear/load)
 * changes: linear in the conversation, which for a few thousand tokens is far below the
 * cost of one forward pass. */
#include "tui_app.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* ---- building the layout ---- */

typedef struct builder {
    tui_chat *c;
    int width;
    int line_w;                /* cells used on the last line */
    unsigned char pending[4];  /* start of a character cut at a token boundary */
    int32_t pending_rec[4];
    int n_pending;
    uint8_t pending_role;
    bool oom;
} builder;

static bool grow(void **p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return true;
    size_t n = *cap ? *cap * 2 : 256;
    while (n < need) n *= 2;
    void *q = realloc(*p, n * elem);
    if (!q) return false;
    *p = q;
    *cap = n;
    return true;
}

static void new_line(builder *b) {
    tui_chat *c = b->c;
    if (!grow((void **)&c->lines, &c->cap_lines, c->n_lines + 1, sizeof *c->lines)) {
        b->oom = true;
        return;
    }
    c->lines[c->n_lines++] = (tui_line){c->n_cells, 0};
    b->line_w = 0;
}

static tui_line *last_line(builder *b) { return &b->c->lines[b->c->n_lines - 1]; }

/* Wraps at the last space of the line when there is one (words stay whole), else at the
 * edge. Lines are contiguous ranges of one cell array, so a wrap only splits a range. */
static void wrap(builder *b) {
    tui_chat *c = b->c;
    tui_line *l = last_line(b);
    size_t start = l->start, n = l->n, cut = n; /* cut: cells kept on the current line */
    for (size_t k = n; k-- > 1;) {
        if (c->cells[start + k].kind == CELL_TEXT && c->cells[start + k].ch == L' ') {
            cut = k + 1;
            break;
        }
    }
    l->n = cut;
    new_line(b); /* may move c->lines */
    if (b->oom) return;
    l = last_line(b);
    l->start = start + cut;
    l->n = n - cut;
    b->line_w = 0;
    for (size_t k = 0; k < l->n; k++) b->line_w += c->cells[l->start + k].width;
}

static void add_cell(builder *b, tui_cell cell) {
    tui_chat *c = b->c;
    if (b->oom) return;
    while (!b->oom && cell.width > 0 && b->line_w + cell.width > b->width && last_line(b)->n > 0) wrap(b);
    if (b->oom || !grow((void **)&c->cells, &c->cap_cells, c->n_cells + 1, sizeof *c->cells)) {
        b->oom = true;
        return;
    }
    c->cells[c->n_cells++] = cell;
    last_line(b)->n++;
    b->line_w += cell.width;
}

static void add_char(builder *b, wchar_t wc, int32_t rec, uint8_t role) {
    if (wc == L'\n') {
        add_cell(b, (tui_cell){L'\n', 0, CELL_NEWLINE, role, rec});
        new_line(b);
        return;
    }
    if (wc == L'\t') wc = L' ';
    if (wc < 0x20 || wc == 0x7F) wc = 0xFFFD;
    int w = wcwidth(wc);
    if (w == 0) return; /* combining marks are left out (see tui_draw.c) */
    if (w < 0) {
        wc = 0xFFFD;
        w = 1;
    }
    if (w > b->width) return;
    add_cell(b, (tui_cell){wc, (uint8_t)w, CELL_TEXT, role, rec});
}

/* A token that only finished someone else's character gets a zero-width mark. */
static void add_mark(builder *b, int32_t rec, uint8_t role) { add_cell(b, (tui_cell){0, 0, CELL_PART, role, rec}); }

static void flush_pending(builder *b) {
    if (b->n_pending) add_char(b, 0xFFFD, b->pending_rec[0], b->pending_role);
    for (int k = 1; k < b->n_pending; k++)
        if (b->pending_rec[k] != b->pending_rec[0]) add_mark(b, b->pending_rec[k], b->pending_role);
    b->n_pending = 0;
}

/* Bytes a UTF-8 sequence starting with LEAD needs (1 for ASCII and for invalid leads). */
static int utf8_need(unsigned char lead) {
    return lead >= 0xF0 && lead <= 0xF4 ? 4 : lead >= 0xE0 ? (lead <= 0xEF ? 3 : 1) : lead >= 0xC2 ? 2 : 1;
}

static void add_text(builder *b, const char *text, int32_t rec, uint8_t role) {
    size_t len = strlen(text), i = 0;
    /* finish a character begun by an earlier token */
    while (b->n_pending && i < len) {
        unsigned char byte = (unsigned char)text[i];
        if ((byte & 0xC0) != 0x80) {
            flush_pending(b); /* the sequence was cut short: show U+FFFD */
            break;
        }
        b->pending[b->n_pending] = byte;
        b->pending_rec[b->n_pending++] = rec;
        i++;
        if (b->n_pending == utf8_need(b->pending[0])) {
            wchar_t wc;
            tui_utf8_decode((const char *)b->pending, (size_t)b->n_pending, &wc);
            int32_t owner = b->pending_rec[0];
            add_char(b, wc, owner, b->pending_role);
            int32_t last = owner;
            for (int k = 1; k < b->n_pending; k++)
                if (b->pending_rec[k] != last) add_mark(b, last = b->pending_rec[k], role);
            b->n_pending = 0;
        }
    }
    while (i < len) {
        unsigned char lead = (unsigned char)text[i];
        int need = utf8_need(lead);
        if (need > 1 && (size_t)need > len - i) {
            /* a prefix of a character at the end of the token: hold it if it is valid */
            bool prefix = true;
            for (size_t k = i + 1; k < len; k++)
                if (((unsigned char)text[k] & 0xC0) != 0x80) prefix = false;
            if (prefix) {
                b->n_pending = 0;
                for (size_t k = i; k < len; k++) {
                    b->pending[b->n_pending] = (unsigned char)text[k];
                    b->pending_rec[b->n_pending++] = rec;
                }
                b->pending_role = role;
                return;
            }
        }
        wchar_t wc;
        i += (size_t)tui_utf8_decode(text + i, len - i, &wc);
        add_char(b, wc, rec, role);
    }
}

static void add_label(builder *b, const char *label) {
    for (const char *p = label; *p; p++) add_cell(b, (tui_cell){(wchar_t)*p, 1, CELL_LABEL, TC_LABEL, -1});
    new_line(b);
}

/* A role heading when the turn changes ("You", "Assistant"). */
static void heading(builder *b, const char *label, int turn, int *cur_turn, bool any) {
    if (turn == *cur_turn || !label) return;
    flush_pending(b);
    if (last_line(b)->n) new_line(b);
    if (any) new_line(b);
    add_label(b, label);
    *cur_turn = turn;
}

/* The line a folded thinking block shows instead of its tokens; its cells belong to the
 * block's first record, so the cursor and a click can land on it. */
static void add_fold_line(tui_app *a, builder *b, const uint8_t *think, size_t n, size_t i) {
    char text[96];
    size_t tokens = tui_think_block_tokens(a, think, n, i);
    snprintf(text, sizeof text, "%s thinking, %zu token%s (Tab z shows it)", a->pal.utf8 ? "\u25B8" : "+", tokens,
             tokens == 1 ? "" : "s");
    flush_pending(b);
    if (last_line(b)->n) new_line(b);
    for (const char *p = text; *p;) {
        wchar_t wc;
        p += tui_utf8_decode(p, strlen(p), &wc);
        add_cell(b, (tui_cell){wc, 1, CELL_LABEL, TC_DIM, (int32_t)i});
    }
    new_line(b);
}

static uint8_t record_role(const tui_app *a, const step_record *r) {
    if (r->segment == SEG_TEMPLATE) return TC_TEMPLATE;
    if (r->generated && tokenizer_is_control(a->tok, r->token)) return TC_TEMPLATE;
    switch (r->segment) {
    case SEG_SYSTEM: return TC_SYSTEM;
    case SEG_USER: return TC_USER;
    case SEG_ASSISTANT: return TC_ASSISTANT;
    case SEG_PLAIN: return r->generated ? TC_ASSISTANT : TC_USER;
    default: return TC_NORMAL;
    }
}

static const char *segment_label(segment_kind k) {
    switch (k) {
    case SEG_SYSTEM: return "System";
    case SEG_USER: return "You";
    case SEG_ASSISTANT: return "Assistant";
    default: return NULL;
    }
}

static void layout(tui_app *a, int width) {
    tui_chat *c = &a->chat;
    size_t n = session_n_records(a->s);
    c->n_cells = c->n_lines = 0;
    if (!grow((void **)&c->rec_line, &c->cap_rec_line, n + 1, sizeof *c->rec_line)) n = 0;
    builder b = {.c = c, .width = width > 0 ? width : 1};
    new_line(&b);
    bool chat = session_is_chat(a->s);
    int turn = INT_MIN;
    bool any = false;
    uint8_t *think = tui_think_marks(a, n); /* thinking blocks: folded, or shown dim */
    bool folding = false;                   /* in a folded block that has reply tokens */
    for (size_t i = 0; i < n && !b.oom; i++) {
        const step_record *r = session_record(a->s, i);
        if (!r) continue;
        if (think && think[i] && (i == 0 || !think[i - 1] || session_record(a->s, i - 1)->turn != r->turn)) {
            folding = !a->show_thinking && tui_think_block_tokens(a, think, n, i) > 0;
            if (folding) {
                if (chat && !a->show_template) heading(&b, segment_label(SEG_ASSISTANT), r->turn, &turn, any);
                add_fold_line(a, &b, think, n, i);
                any = true;
            }
        }
        if (think && think[i] && folding) continue;
        if (r->segment == SEG_TEMPLATE && !a->show_template) {
            flush_pending(&b);
            continue;
        }
        /* headings name the roles, unless the template text that names them is shown */
        const char *label = a->show_template ? NULL : segment_label(r->segment);
        if (chat) heading(&b, label, r->turn, &turn, any);
        add_text(&b, r->text ? r->text : "", (int32_t)i, think && think[i] ? TC_DIM : record_role(a, r));
        any = true;
    }
    free(think);
    flush_pending(&b);
    if (b.oom) {
        /* keep what fits; the status line says why the rest is missing */
        tui_message(a, true, "out of memory laying out the conversation");
    }
    for (size_t i = 0; i < n; i++) c->rec_line[i] = -1;
    for (size_t l = 0; l < c->n_lines; l++)
        for (size_t k = 0; k < c->lines[l].n; k++) {
            int32_t rec = c->cells[c->lines[l].start + k].rec;
            if (rec >= 0 && (size_t)rec < n && c->rec_line[rec] < 0) c->rec_line[rec] = (int32_t)l;
        }
    c->width = width;
    c->n_records = n;
    c->epoch = a->epoch;
    c->show_template = a->show_template;
    c->show_thinking = a->show_thinking;
}

void tui_chat_update(tui_app *a) {
    tui_chat *c = &a->chat;
    int width = a->lay.chat.w - 1; /* the last column stays free for the scroll mark */
    if (c->width == width && c->n_records == session_n_records(a->s) && c->epoch == a->epoch &&
        c->show_template == a->show_template && c->show_thinking == a->show_thinking && c->lines)
        return;
    layout(a, width);
}

void tui_chat_free(tui_chat *c) {
    free(c->cells);
    free(c->lines);
    free(c->rec_line);
    memset(c, 0, sizeof *c);
}

/* ---- drawing ---- */

static float tint_value(const tui_app *a, const step_record *r) {
    if (a->tint == TINT_PROB) return r->sample.prob_before;
    /* entropy: 0 nats = certain (1.0); 4 nats (about 55 equally likely tokens) or more = 0 */
    float h = r->sample.entropy_before;
    return 1.0f - (h > 4.0f ? 1.0f : h < 0 ? 0 : h / 4.0f);
}

static tui_style cell_style(const tui_app *a, const tui_cell *cell, bool cursor) {
    if (cursor) return tui_role_style(&a->pal, TC_CURSOR);
    if (cell->rec >= 0 && cell->rec == tui_branch_fork_record(a)) { /* where this branch parts */
        tui_style st = tui_role_style(&a->pal, (tui_role)cell->role);
        st.attr |= A_UNDERLINE;
        return st;
    }
    if (cell->kind == CELL_LABEL || a->tint == TINT_OFF || cell->role == TC_TEMPLATE)
        return tui_role_style(&a->pal, (tui_role)cell->role);
    const step_record *r = session_record(a->s, (size_t)cell->rec);
    if (!r || !r->has_prediction) return tui_role_style(&a->pal, (tui_role)cell->role);
    return tui_tint_style(&a->pal, tint_value(a, r));
}

static void draw_welcome(tui_app *a) {
    tui_rect r = a->lay.chat;
    tui_style dim = tui_role_style(&a->pal, TC_DIM);
    const char *lines[] = {
        session_is_chat(a->s) ? "Type a message and press Enter."
                              : "Completion mode (no chat template): type text for the model to continue; Enter on an empty line continues from the start.",
        "Tab: look at earlier tokens. F1 or /help: keys and commands.",
        "Ctrl-C stops a reply; Ctrl-D or /quit leaves.",
    };
    int y = r.y + 1;
    for (size_t i = 0; i < sizeof lines / sizeof lines[0] && y < r.y + r.h; i++) {
        /* wrap by words into the pane */
        const char *s = lines[i];
        while (*s && y < r.y + r.h) {
            int len = (int)strlen(s), cut = len;
            if (len > r.w - 2) {
                cut = r.w - 2;
                while (cut > 0 && s[cut] != ' ') cut--;
                if (cut == 0) cut = r.w - 2;
            }
            char buf[256];
            snprintf(buf, sizeof buf, "%.*s", cut, s);
            tui_put_text(y++, r.x + 1, r.w - 2, buf, dim);
            s += cut;
            while (*s == ' ') s++;
        }
        y++;
    }
}

void tui_chat_draw(tui_app *a) {
    tui_chat *c = &a->chat;
    tui_rect r = a->lay.chat;
    if (r.h <= 0 || r.w <= 1) return;
    if (session_n_records(a->s) == 0) {
        c->top_line = 0;
        draw_welcome(a);
        return;
    }
    int total = (int)c->n_lines;
    long cur = -1;
    if (tui_on_cursor(a)) {
        size_t idx;
        if (tui_current_record(a, &idx)) cur = (long)idx;
        /* keep the cursor's line on screen */
        if (cur >= 0 && (size_t)cur < c->n_records && c->rec_line[cur] >= 0) {
            int line = c->rec_line[cur];
            int top = total - r.h - c->scroll;
            if (line < top) c->scroll = total - r.h - line;
            else if (line >= top + r.h) c->scroll = total - line - 1;
        }
    }
    int max_scroll = total > r.h ? total - r.h : 0;
    if (c->scroll > max_scroll) c->scroll = max_scroll;
    if (c->scroll < 0) c->scroll = 0;
    int top = total - r.h - c->scroll;
    if (top < 0) top = 0;
    c->top_line = top;

    for (int row = 0; row < r.h && top + row < total; row++) {
        const tui_line *l = &c->lines[top + row];
        int x = 0;
        for (size_t k = 0; k < l->n; k++) {
            const tui_cell *cell = &c->cells[l->start + k];
            bool on = cur >= 0 && cell->rec == cur;
            if (cell->kind == CELL_NEWLINE) { /* show where the newline token is */
                if (on) tui_put_wch(r.y + row, r.x + (x < r.w - 1 ? x : r.w - 2), MB_CUR_MAX > 1 ? 0x21B5 : L'/', cell_style(a, cell, true));
                continue;
            }
            if (cell->kind == CELL_PART) { /* highlight the character this token finished */
                const tui_cell *prev = k > 0 ? &c->cells[l->start + k - 1] : NULL;
                if (on && prev && prev->kind == CELL_TEXT && x >= prev->width)
                    tui_put_wch(r.y + row, r.x + x - prev->width, prev->ch, cell_style(a, prev, true));
                continue;
            }
            if (x + cell->width > r.w - 1) break;
            tui_put_wch(r.y + row, r.x + x, cell->ch, cell_style(a, cell, on));
            x += cell->width;
        }
    }
    /* scroll marks in the free last column */
    tui_style dim = tui_role_style(&a->pal, TC_DIM);
    wchar_t up = MB_CUR_MAX > 1 ? 0x2191 : L'^', down = MB_CUR_MAX > 1 ? 0x2193 : L'v';
    if (top > 0) tui_put_wch(r.y, r.x + r.w - 1, up, dim);
    if (c->scroll > 0) tui_put_wch(r.y + r.h - 1, r.x + r.w - 1, down, dim);
}

/* ---- the inspect cursor ---- */

/* The x offset of record REC's first cell on LINE, or -1. */
static int cell_x(const tui_chat *c, size_t line, int32_t rec) {
    const tui_line *l = &c->lines[line];
    int x = 0;
    for (size_t k = 0; k < l->n; k++) {
        const tui_cell *cell = &c->cells[l->start + k];
        if (cell->rec == rec) return x;
        x += cell->width;
    }
    return -1;
}

/* The record on LINE closest to column X, or -1 if the line holds no token. */
static long record_near(const tui_chat *c, size_t line, int x) {
    const tui_line *l = &c->lines[line];
    long best = -1;
    int best_d = INT_MAX, cx = 0;
    for (size_t k = 0; k < l->n; k++) {
        const tui_cell *cell = &c->cells[l->start + k];
        if (cell->rec >= 0) {
            int d = abs(cx - x);
            if (d < best_d || (x >= cx && x < cx + cell->width)) {
                best_d = (x >= cx && x < cx + cell->width) ? -1 : d;
                best = cell->rec;
            }
        }
        cx += cell->width;
    }
    return best;
}

static bool visible(const tui_chat *c, size_t rec) { return rec < c->n_records && c->rec_line[rec] >= 0; }

void tui_chat_move(tui_app *a, int dx, int dy) {
    tui_chat *c = &a->chat;
    tui_chat_update(a);
    if (c->n_records == 0) return;
    size_t cur;
    if (!tui_current_record(a, &cur)) return;
    if (!visible(c, cur)) { /* e.g. hidden template text: go to the nearest shown token */
        size_t i = cur;
        while (i > 0 && !visible(c, i)) i--;
        if (!visible(c, i)) {
            i = cur;
            while (i + 1 < c->n_records && !visible(c, i)) i++;
        }
        cur = i;
    }
    for (int step = 0; step < abs(dx); step++) {
        size_t i = cur;
        do {
            if (dx < 0 ? i == 0 : i + 1 >= c->n_records) { i = cur; break; }
            i = dx < 0 ? i - 1 : i + 1;
        } while (!visible(c, i));
        cur = i;
    }
    if (dy != 0 && visible(c, cur)) {
        int line = c->rec_line[cur];
        int x = cell_x(c, (size_t)line, (int32_t)cur);
        long found = -1;
        for (int l = line + dy; l >= 0 && l < (int)c->n_lines; l += dy > 0 ? 1 : -1) {
            found = record_near(c, (size_t)l, x);
            if (found >= 0) break;
        }
        if (found >= 0) cur = (size_t)found;
    }
    a->cursor = cur;
}

void tui_chat_cursor_end(tui_app *a, bool first) {
    tui_chat *c = &a->chat;
    tui_chat_update(a);
    if (c->n_records == 0) return;
    if (first) {
        size_t i = 0;
        while (i + 1 < c->n_records && !visible(c, i)) i++;
        a->cursor = i;
    } else {
        size_t i = c->n_records - 1;
        while (i > 0 && !visible(c, i)) i--;
        a->cursor = i;
    }
}

long tui_chat_hit(const tui_app *a, int y, int x) {
    const tui_chat *c = &a->chat;
    tui_rect r = a->lay.chat;
    if (y < r.y || y >= r.y + r.h || x < r.x || x >= r.x + r.w) return -1;
    size_t line = (size_t)(c->top_line + (y - r.y));
    if (line >= c->n_lines) return -1;
    return record_near(c, line, x - r.x);
}
