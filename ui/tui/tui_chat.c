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

typedef enum {
    CELL_TEXT,
    CELL_NEWLINE, /* zero width: a token's '\n' ended the line here */
    CELL_PART,    /* zero width: a token that only finished the character before it */
    CELL_LABEL    /* role heading, not a token */
} cell_kind;

typedef struct cell {
    wchar_t ch;
    uint8_t width;
    uint8_t kind;
    uint8_t role;  /* tui_role of the text */
    int32_t rec;   /* record index, -1 for headings */
} cell;

typedef struct line {
    size_t start, n; /* cells [start, start + n) */
} line;

typedef enum { TINT_OFF, TINT_PROB, TINT_ENTROPY } tint_kind;

typedef struct tui_chat {
    cell *cells;
    size_t n_cells, cap_cells;
    line *lines;
    size_t n_lines, cap_lines;
    int32_t *rec_line;  /* first line of each record, -1 when hidden */
    size_t cap_rec_line;
    /* what the current layout was made from; a change means "lay out again" */
    int width;
    size_t n_records;
    unsigned epoch;
    bool laid_show_template, laid_generating, laid_show_thinking;
    int scroll;         /* lines scrolled up from the bottom (0: follow the end) */
    int top_line;       /* first line drawn (mouse hit-testing) */
    long cursor;        /* the record highlighted as the cursor's, -1 */
    long fork;          /* where the shown branch parts from its parent, -1 */
    /* the view */
    tint_kind tint;
    bool show_template;
    bool show_thinking;    /* thinking blocks unfolded (tui_think.c, 'z') */
} tui_chat;

static tui_chat *chat_of(const tui_app *a) { return tui_pane_of(a, &tui_pane_chat)->st; }

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
    c->lines[c->n_lines++] = (line){c->n_cells, 0};
    b->line_w = 0;
}

static line *last_line(builder *b) { return &b->c->lines[b->c->n_lines - 1]; }

/* Wraps at the last space of the line when there is one (words stay whole), else at the
 * edge. Lines are contiguous ranges of one cell array, so a wrap only splits a range. */
static void wrap(builder *b) {
    tui_chat *c = b->c;
    line *l = last_line(b);
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

static void add_cell(builder *b, cell cell) {
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
        add_cell(b, (cell){L'\n', 0, CELL_NEWLINE, role, rec});
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
    add_cell(b, (cell){wc, (uint8_t)w, CELL_TEXT, role, rec});
}

/* A token that only finished someone else's character gets a zero-width mark. */
static void add_mark(builder *b, int32_t rec, uint8_t role) { add_cell(b, (cell){0, 0, CELL_PART, role, rec}); }

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
    size_t len = strlen(label);
    for (size_t i = 0; i < len;) {
        wchar_t wc;
        i += (size_t)tui_utf8_decode(label + i, len - i, &wc);
        int w = tui_wcwidth(wc);
        if (w > 0) add_cell(b, (cell){wc, (uint8_t)w, CELL_LABEL, TC_LABEL, -1});
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

/* Messages that left the context window (tui_context.c): dimmed text that is no token
 * (the cursor skips it), then a rule that says so. */
static void add_dropped(tui_app *a, builder *b) {
    size_t n = session_n_dropped(a->s);
    if (n == 0) return;
    for (size_t i = 0; i < n && !b->oom; i++) {
        const char *role = "", *text = session_dropped(a->s, i, &role);
        if (i > 0) new_line(b);
        add_label(b, strcmp(role, "user") == 0 ? "You" : strcmp(role, "assistant") == 0 ? "Assistant" : "System");
        add_text(b, text ? text : "", -1, TC_DIM);
        flush_pending(b);
        if (last_line(b)->n) new_line(b);
    }
    new_line(b);
    add_label(b, MB_CUR_MAX > 1 ? "\xe2\x94\x80\xe2\x94\x80 the model no longer sees the text above (/context) \xe2\x94\x80\xe2\x94\x80"
                                : "-- the model no longer sees the text above (/context) --");
    new_line(b);
}

/* After the last token of a finished reply: its summary (tui_suspect.c), dimmed. */
static void add_summary(tui_app *a, builder *b, size_t i, size_t n) {
    size_t first, last;
    const step_record *r = session_record(a->s, i);
    if (r->segment != SEG_ASSISTANT || !tui_reply_at(a, i, &first, &last) || last != i) return;
    if (i + 1 >= n && a->gen.generating) return; /* still being written */
    char line[512];
    if (!tui_reply_summary(a, first, last, line, sizeof line)) return;
    flush_pending(b);
    if (last_line(b)->n) new_line(b);
    add_text(b, line, -1, TC_DIM);
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
    add_text(b, text, (int32_t)i, TC_DIM);
    new_line(b);
}

static void layout(tui_app *a, tui_chat *c, int width) {
    size_t n = session_n_records(a->s);
    c->n_cells = c->n_lines = 0;
    if (!grow((void **)&c->rec_line, &c->cap_rec_line, n + 1, sizeof *c->rec_line)) n = 0;
    builder b = {.c = c, .width = width > 0 ? width : 1};
    new_line(&b);
    add_dropped(a, &b);
    bool chat = session_is_chat(a->s);
    int turn = INT_MIN;
    bool any = false;
    uint8_t *think = tui_think_marks(a, n); /* thinking blocks: folded, or shown dim */
    bool folding = false;                   /* in a folded block that has reply tokens */
    for (size_t i = 0; i < n && !b.oom; i++) {
        const step_record *r = session_record(a->s, i);
        if (!r) continue;
        if (think && think[i] && (i == 0 || !think[i - 1] || session_record(a->s, i - 1)->turn != r->turn)) {
            folding = !c->show_thinking && tui_think_block_tokens(a, think, n, i) > 0;
            if (folding) {
                if (chat && !c->show_template) heading(&b, segment_label(SEG_ASSISTANT), r->turn, &turn, any);
                add_fold_line(a, &b, think, n, i);
                any = true;
            }
        }
        if (think && think[i] && folding) {
            add_summary(a, &b, i, n);
            continue;
        }
        if (r->segment == SEG_TEMPLATE && !c->show_template) {
            flush_pending(&b);
            continue;
        }
        /* headings name the roles, unless the template text that names them is shown */
        const char *label = c->show_template ? NULL : segment_label(r->segment);
        if (chat) heading(&b, label, r->turn, &turn, any);
        add_text(&b, r->text ? r->text : "", (int32_t)i, think && think[i] ? TC_DIM : record_role(a, r));
        any = true;
        add_summary(a, &b, i, n);
    }
    free(think);
    flush_pending(&b);
    if (b.oom) {
        /* keep what fits; the message line says why the rest is missing */
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
    c->laid_show_template = c->show_template;
    c->laid_show_thinking = c->show_thinking;
    c->laid_generating = a->gen.generating;
}

/* Lays the conversation out again if anything it was made from changed. */
static void relayout(tui_app *a, tui_chat *c, int width) {
    if (c->width == width && c->n_records == session_n_records(a->s) && c->epoch == a->epoch &&
        c->laid_show_template == c->show_template && c->laid_show_thinking == c->show_thinking &&
        c->laid_generating == a->gen.generating && c->lines)
        return;
    layout(a, c, width);
}

static void chat_fini(tui_app *a, tui_pane *p) {
    tui_chat *c = p->st;
    free(c->cells);
    free(c->lines);
    free(c->rec_line);
    (void)a;
}

static void chat_init(tui_app *a, tui_pane *p) {
    tui_chat *c = p->st;
    c->width = -1;
    c->cursor = c->fork = -1;
    (void)a;
}

/* ---- drawing ---- */

static float tint_value(const tui_chat *c, const step_record *r) {
    if (c->tint == TINT_PROB) return r->sample.prob_before;
    /* entropy: 0 nats = certain (1.0); 4 nats (about 55 equally likely tokens) or more = 0 */
    float h = r->sample.entropy_before;
    return 1.0f - (h > 4.0f ? 1.0f : h < 0 ? 0 : h / 4.0f);
}

static tui_style cell_style(const tui_app *a, const tui_chat *c, long mark, const cell *cl, bool cursor) {
    if (cursor) return tui_role_style(&a->pal, TC_CURSOR);
    if (cl->rec >= 0 && cl->rec == mark) return tui_role_style(&a->pal, TC_MARK);
    if (cl->rec >= 0 && cl->rec == c->fork) { /* where this branch parts */
        tui_style st = tui_role_style(&a->pal, (tui_role)cl->role);
        st.attr |= A_UNDERLINE;
        return st;
    }
    if (cl->kind == CELL_LABEL || c->tint == TINT_OFF || cl->role == TC_TEMPLATE)
        return tui_role_style(&a->pal, (tui_role)cl->role);
    const step_record *r = session_record(a->s, (size_t)cl->rec);
    if (!r || !r->has_prediction) return tui_role_style(&a->pal, (tui_role)cl->role);
    return tui_tint_style(&a->pal, tint_value(c, r));
}

static void draw_welcome(const tui_app *a, tui_rect r) {
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

/* The layout, the cursor kept on screen, the scroll clamped, what to highlight. */
static void chat_update(tui_app *a, tui_pane *p) {
    tui_chat *c = p->st;
    tui_rect r = p->r;
    relayout(a, c, r.w - 1); /* the last column stays free for the scroll mark */
    c->cursor = -1;
    int total = (int)c->n_lines;
    if (tui_on_cursor(a)) {
        size_t idx;
        if (tui_current_record(a, &idx)) c->cursor = (long)idx;
        /* keep the cursor's line on screen */
        if (c->cursor >= 0 && (size_t)c->cursor < c->n_records && c->rec_line[c->cursor] >= 0) {
            int ln = c->rec_line[c->cursor];
            int top = total - r.h - c->scroll;
            if (ln < top) c->scroll = total - r.h - ln;
            else if (ln >= top + r.h) c->scroll = total - ln - 1;
        }
    }
    int max_scroll = total > r.h ? total - r.h : 0;
    if (c->scroll > max_scroll) c->scroll = max_scroll;
    if (c->scroll < 0) c->scroll = 0;
    int top = total - r.h - c->scroll;
    c->top_line = top < 0 ? 0 : top;
    c->fork = tui_branch_fork_record(a);
}

static void chat_draw(const tui_app *a, const tui_pane *p) {
    const tui_chat *c = p->st;
    tui_rect r = p->r;
    if (r.h <= 0 || r.w <= 1) return;
    if (session_n_records(a->s) == 0) {
        draw_welcome(a, r);
        return;
    }
    int total = (int)c->n_lines, top = c->top_line;
    long cur = c->cursor;
    /* the key the selected head attends to most (the attention pane's legend names it) */
    long mark = cur >= 0 ? tui_attention_mark(a) : -1;
    for (int row = 0; row < r.h && top + row < total; row++) {
        const line *l = &c->lines[top + row];
        int x = 0;
        for (size_t k = 0; k < l->n; k++) {
            const cell *cl = &c->cells[l->start + k];
            bool on = cur >= 0 && cl->rec == cur;
            if (cl->kind == CELL_NEWLINE) { /* show where the newline token is */
                if (on) tui_put_wch(r.y + row, r.x + (x < r.w - 1 ? x : r.w - 2), tui_glyph(0x21B5, L'/'), cell_style(a, c, mark, cl, true));
                continue;
            }
            if (cl->kind == CELL_PART) { /* highlight the character this token finished */
                const cell *prev = k > 0 ? &c->cells[l->start + k - 1] : NULL;
                if (on && prev && prev->kind == CELL_TEXT && x >= prev->width)
                    tui_put_wch(r.y + row, r.x + x - prev->width, prev->ch, cell_style(a, c, mark, prev, true));
                continue;
            }
            if (x + cl->width > r.w - 1) break;
            tui_put_wch(r.y + row, r.x + x, cl->ch, cell_style(a, c, mark, cl, on));
            x += cl->width;
        }
    }
    /* scroll marks in the free last column */
    tui_style dim = tui_role_style(&a->pal, TC_DIM);
    if (top > 0) tui_put_wch(r.y, r.x + r.w - 1, tui_glyph(0x2191, L'^'), dim);
    if (c->scroll > 0) tui_put_wch(r.y + r.h - 1, r.x + r.w - 1, tui_glyph(0x2193, L'v'), dim);
}

/* ---- the inspect cursor ---- */

/* The x offset of record REC's first cell on LINE, or -1. */
static int cell_x(const tui_chat *c, size_t ln, int32_t rec) {
    const line *l = &c->lines[ln];
    int x = 0;
    for (size_t k = 0; k < l->n; k++) {
        const cell *cl = &c->cells[l->start + k];
        if (cl->rec == rec) return x;
        x += cl->width;
    }
    return -1;
}

/* The record on LINE closest to column X, or -1 if the line holds no token. */
static long record_near(const tui_chat *c, size_t ln, int x) {
    const line *l = &c->lines[ln];
    long best = -1;
    int best_d = INT_MAX, cx = 0;
    for (size_t k = 0; k < l->n; k++) {
        const cell *cl = &c->cells[l->start + k];
        if (cl->rec >= 0) {
            int d = abs(cx - x);
            if (d < best_d || (x >= cx && x < cx + cl->width)) {
                best_d = (x >= cx && x < cx + cl->width) ? -1 : d;
                best = cl->rec;
            }
        }
        cx += cl->width;
    }
    return best;
}

static bool visible(const tui_chat *c, size_t rec) { return rec < c->n_records && c->rec_line[rec] >= 0; }

/* The layout for the pane's current width (keys can arrive before the first frame). */
static tui_chat *laid_out_chat(tui_app *a) {
    tui_pane *p = tui_pane_of(a, &tui_pane_chat);
    tui_chat *c = p->st;
    relayout(a, c, p->r.w > 1 ? p->r.w - 1 : 1);
    return c;
}

void tui_chat_move(tui_app *a, int dx, int dy) {
    tui_chat *c = laid_out_chat(a);
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
        int ln = c->rec_line[cur];
        int x = cell_x(c, (size_t)ln, (int32_t)cur);
        long found = -1;
        for (int l = ln + dy; l >= 0 && l < (int)c->n_lines; l += dy > 0 ? 1 : -1) {
            found = record_near(c, (size_t)l, x);
            if (found >= 0) break;
        }
        if (found >= 0) cur = (size_t)found;
    }
    a->cursor = cur;
}

void tui_chat_cursor_end(tui_app *a, bool first) {
    tui_chat *c = laid_out_chat(a);
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

void tui_chat_scroll(tui_app *a, int lines) { chat_of(a)->scroll += lines; }

const char *tui_chat_tint_name(const tui_app *a) {
    tint_kind t = chat_of(a)->tint;
    return t == TINT_PROB ? " | colour: probability" : t == TINT_ENTROPY ? " | colour: entropy" : "";
}

static void cycle_tint(tui_app *a, tui_chat *c) {
    c->tint = c->tint == TINT_OFF ? TINT_PROB : c->tint == TINT_PROB ? TINT_ENTROPY : TINT_OFF;
    tui_message(a, false, "%s", c->tint == TINT_PROB ? "colouring tokens by their probability (red: unlikely)"
                                : c->tint == TINT_ENTROPY ? "colouring tokens by entropy (red: the model was unsure)"
                                                          : "token colouring off");
}

/* ---- keys and the mouse ---- */

static bool chat_key(tui_app *a, tui_pane *p, tui_key k) {
    tui_chat *c = p->st;
    int page = p->r.h / 2 > 0 ? p->r.h / 2 : 1;
    if (k.is_key) {
        switch (k.ch) {
        case KEY_F(9): cycle_tint(a, c); return true;
        case KEY_PPAGE: if (k.modal) return false; c->scroll += page; return true;
        case KEY_NPAGE: if (k.modal) return false; c->scroll -= page; return true;
        default: break;
        }
    }
    if (k.modal || a->mode != MODE_INSPECT) return false;
    if (k.is_key) {
        switch (k.ch) {
        case KEY_LEFT: tui_chat_move(a, -1, 0); return true;
        case KEY_RIGHT: tui_chat_move(a, 1, 0); return true;
        case KEY_UP: tui_chat_move(a, 0, -1); return true;
        case KEY_DOWN: tui_chat_move(a, 0, 1); return true;
        case KEY_HOME: tui_chat_cursor_end(a, true); return true;
        case KEY_END: tui_chat_cursor_end(a, false); return true;
        default: return false;
        }
    }
    switch (k.ch) {
    case L'h': tui_chat_move(a, -1, 0); return true;
    case L'k': tui_chat_move(a, 0, -1); return true;
    case L'j': tui_chat_move(a, 0, 1); return true;
    case L'c': cycle_tint(a, c); return true;
    case L't': c->show_template = !c->show_template; return true;
    case L'z':
        c->show_thinking = !c->show_thinking;
        tui_message(a, false, c->show_thinking ? "thinking shown (z folds it)" : "thinking folded (z shows it)");
        return true;
    default: return false;
    }
}

/* A press on a token inspects it (and the why card, when open, follows). */
static bool chat_click(tui_app *a, tui_pane *p, int y, int x, mmask_t button) {
    tui_chat *c = p->st;
    if (!(button & (BUTTON1_PRESSED | BUTTON1_CLICKED | BUTTON1_RELEASED))) return false;
    size_t ln = (size_t)(c->top_line + (y - p->r.y));
    if (ln >= c->n_lines) return false;
    long rec = record_near(c, ln, x - p->r.x);
    if (rec < 0) return false;
    tui_inspect_at(a, (size_t)rec);
    return true;
}

const tui_pane_class tui_pane_chat = {
    .name = "chat",
    .area = TUI_LEFT,
    .weight = 1,
    .always = true,
    .state_size = sizeof(tui_chat),
    .init = chat_init,
    .fini = chat_fini,
    .update = chat_update,
    .draw = chat_draw,
    .key = chat_key,
    .click = chat_click,
};
