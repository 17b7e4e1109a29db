/* tui_input.c — the line being typed: editing, history, pasted newlines.
 *
 * The text is kept as wide characters so that the cursor moves by character and the
 * display width of each is known; it becomes UTF-8 only when sent. Keys follow readline
 * where it has one (Ctrl-A/E/B/F/U/K/W), Up/Down recall earlier lines, Ctrl-J (or a
 * newline inside a bracketed paste) inserts a newline, Enter is left to the caller. */
#include "tui_app.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

void tui_input_init(tui_input *in) { memset(in, 0, sizeof *in); }

void tui_input_free(tui_input *in) {
    free(in->buf);
    for (size_t i = 0; i < in->n_history; i++) free(in->history[i]);
    free(in->history);
    free(in->draft);
    memset(in, 0, sizeof *in);
}

static bool reserve(tui_input *in, size_t n) {
    if (n <= in->cap) return true;
    size_t cap = in->cap ? in->cap * 2 : 128;
    while (cap < n) cap *= 2;
    wchar_t *b = realloc(in->buf, cap * sizeof *b);
    if (!b) return false;
    in->buf = b;
    in->cap = cap;
    return true;
}

/* Longer input than this is refused: the context of any model would be full long before. */
#define INPUT_MAX_CHARS (1u << 20)

void tui_input_insert(tui_input *in, wchar_t wc) {
    if (in->len >= INPUT_MAX_CHARS || !reserve(in, in->len + 1)) return;
    memmove(in->buf + in->cursor + 1, in->buf + in->cursor, (in->len - in->cursor) * sizeof *in->buf);
    in->buf[in->cursor++] = wc;
    in->len++;
}

static void delete_range(tui_input *in, size_t from, size_t to) {
    if (from >= to || to > in->len) return;
    memmove(in->buf + from, in->buf + to, (in->len - to) * sizeof *in->buf);
    in->len -= to - from;
    in->cursor = from;
}

static char *to_utf8(const wchar_t *w, size_t n) {
    char *s = malloc(n * 4 + 1);
    if (!s) return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        utf8proc_int32_t cp = (utf8proc_int32_t)w[i];
        if (!utf8proc_codepoint_valid(cp)) cp = 0xFFFD;
        o += (size_t)utf8proc_encode_char(cp, (utf8proc_uint8_t *)s + o);
    }
    s[o] = 0;
    return s;
}

void tui_input_set(tui_input *in, const char *utf8) {
    in->len = in->cursor = 0;
    size_t n = strlen(utf8);
    for (size_t i = 0; i < n;) {
        wchar_t wc;
        i += (size_t)tui_utf8_decode(utf8 + i, n - i, &wc);
        tui_input_insert(in, wc);
    }
}

char *tui_input_take(tui_input *in) {
    char *s = to_utf8(in->buf, in->len);
    if (!s) return NULL;
    if (*s && (in->n_history == 0 || strcmp(in->history[in->n_history - 1], s) != 0)) {
        if (in->n_history == in->cap_history) {
            size_t cap = in->cap_history ? in->cap_history * 2 : 32;
            char **h = realloc(in->history, cap * sizeof *h);
            if (h) {
                in->history = h;
                in->cap_history = cap;
            }
        }
        if (in->n_history < in->cap_history) {
            char *copy = strdup(s);
            if (copy) in->history[in->n_history++] = copy;
        }
    }
    in->hist_pos = in->n_history;
    free(in->draft);
    in->draft = NULL;
    in->len = in->cursor = 0;
    return s;
}

static void recall(tui_input *in, int dir) {
    if (dir < 0 && in->hist_pos == 0) return;
    if (dir > 0 && in->hist_pos >= in->n_history) return;
    if (in->hist_pos == in->n_history) { /* leaving the new line: keep it */
        free(in->draft);
        in->draft = to_utf8(in->buf, in->len);
    }
    in->hist_pos = dir < 0 ? in->hist_pos - 1 : in->hist_pos + 1;
    const char *text = in->hist_pos < in->n_history ? in->history[in->hist_pos] : (in->draft ? in->draft : "");
    tui_input_set(in, text);
}

/* Start of the logical line (after the last '\n') holding position P. */
static size_t line_start(const tui_input *in, size_t p) {
    while (p > 0 && in->buf[p - 1] != L'\n') p--;
    return p;
}

static size_t line_end(const tui_input *in, size_t p) {
    while (p < in->len && in->buf[p] != L'\n') p++;
    return p;
}

/* Up/Down inside multi-line text move between its lines; at the first/last line they
 * browse the history. */
static void vertical(tui_input *in, int dir) {
    size_t start = line_start(in, in->cursor), col = in->cursor - start;
    if (dir < 0 && start > 0) {
        size_t prev = line_start(in, start - 1);
        in->cursor = prev + col < start - 1 ? prev + col : start - 1;
    } else if (dir > 0 && line_end(in, in->cursor) < in->len) {
        size_t next = line_end(in, in->cursor) + 1, end = line_end(in, next);
        in->cursor = next + col < end ? next + col : end;
    } else {
        recall(in, dir);
    }
}

static bool is_word(wchar_t c) { return c != L' ' && c != L'\n' && c != L'\t'; }

bool tui_input_key(tui_input *in, bool is_key, wint_t ch) {
    if (is_key) {
        switch (ch) {
        case KEY_LEFT: if (in->cursor > 0) in->cursor--; return true;
        case KEY_RIGHT: if (in->cursor < in->len) in->cursor++; return true;
        case KEY_HOME: in->cursor = line_start(in, in->cursor); return true;
        case KEY_END: in->cursor = line_end(in, in->cursor); return true;
        case KEY_BACKSPACE: if (in->cursor > 0) delete_range(in, in->cursor - 1, in->cursor); return true;
        case KEY_DC: if (in->cursor < in->len) delete_range(in, in->cursor, in->cursor + 1); return true;
        case KEY_UP: vertical(in, -1); return true;
        case KEY_DOWN: vertical(in, 1); return true;
        default: return false;
        }
    }
    switch (ch) {
    case 1: in->cursor = line_start(in, in->cursor); return true;  /* Ctrl-A */
    case 5: in->cursor = line_end(in, in->cursor); return true;    /* Ctrl-E */
    case 2: if (in->cursor > 0) in->cursor--; return true;          /* Ctrl-B */
    case 6: if (in->cursor < in->len) in->cursor++; return true;    /* Ctrl-F */
    case 8: case 127: if (in->cursor > 0) delete_range(in, in->cursor - 1, in->cursor); return true;
    case 11: delete_range(in, in->cursor, line_end(in, in->cursor)); return true; /* Ctrl-K */
    case 21: delete_range(in, line_start(in, in->cursor), in->cursor); return true; /* Ctrl-U */
    case 23: { /* Ctrl-W: the word before the cursor */
        size_t p = in->cursor;
        while (p > 0 && !is_word(in->buf[p - 1])) p--;
        while (p > 0 && is_word(in->buf[p - 1])) p--;
        delete_range(in, p, in->cursor);
        return true;
    }
    case 10: tui_input_insert(in, L'\n'); return true; /* Ctrl-J */
    case L'\t': tui_input_insert(in, L' '); return true;
    default:
        if (ch >= 0x20 && ch != 0x7F && !(ch >= 0x80 && ch < 0xA0)) {
            tui_input_insert(in, (wchar_t)ch);
            return true;
        }
        return false;
    }
}

/* Lays the text out in WIDTH columns after a 2-cell prompt; calls back for each
 * character with its row and column, and reports the cursor's place. */
typedef struct placed {
    int rows, cursor_row, cursor_col;
} placed;

/* EMIT gets (ctx, row, col, character, width, is_newline_mark). */
static placed place(const tui_input *in, int width, void (*emit)(void *, int, int, wchar_t, int, bool), void *ctx) {
    placed p = {1, 0, 2};
    int row = 0, col = 2;
    if (width < 4) width = 4;
    for (size_t i = 0; i <= in->len; i++) {
        if (i == in->cursor) {
            if (col >= width) { /* the cursor sits after a full line: show it on the next */
                row++;
                col = 2;
            }
            p.cursor_row = row;
            p.cursor_col = col;
        }
        if (i == in->len) break;
        wchar_t wc = in->buf[i];
        if (wc == L'\n') {
            if (emit) emit(ctx, row, col, MB_CUR_MAX > 1 ? 0x21B5 : L'/', 1, true);
            row++;
            col = 2;
            continue;
        }
        int w = tui_wcwidth(wc);
        if (w == 0) continue;
        if (col + w > width) {
            row++;
            col = 2;
        }
        if (emit) emit(ctx, row, col, wc, w, false);
        col += w;
    }
    p.rows = (p.cursor_row > row ? p.cursor_row : row) + 1;
    return p;
}

int tui_input_rows(const tui_input *in, int width) {
    placed p = place(in, width, NULL, NULL);
    return p.rows < 1 ? 1 : p.rows > TUI_INPUT_MAX_LINES ? TUI_INPUT_MAX_LINES : p.rows;
}

typedef struct draw_ctx {
    const tui_app *a;
    tui_rect r;
    int first_row;
    tui_style text, mark;
} draw_ctx;

static void emit_char(void *vctx, int row, int col, wchar_t wc, int w, bool newline_mark) {
    draw_ctx *d = vctx;
    tui_rect r = d->r;
    int y = row - d->first_row;
    if (y < 0 || y >= r.h || col + w > r.w) return;
    tui_put_wch(r.y + y, r.x + col, wc, newline_mark ? d->mark : d->text);
}

/* ---- the pane ---- */

typedef struct input_pane {
    int first_row;      /* the text's first row shown (a tall text scrolls to the cursor) */
} input_pane;

static int input_rows(const tui_app *a, const tui_pane *p, int width, int avail) {
    int n = tui_input_rows(&a->input, width);
    (void)p;
    return n > avail - 3 ? 1 : n;
}

static void input_update(tui_app *a, tui_pane *p) {
    input_pane *st = p->st;
    tui_rect r = p->r;
    placed pl = place(&a->input, r.w, NULL, NULL);
    /* scroll so that the cursor's row is the last one shown when the text is taller */
    st->first_row = pl.cursor_row - r.h + 1;
    if (st->first_row < 0) st->first_row = 0;
    if (a->mode == MODE_TYPE && r.w > 4) {
        a->caret_y = r.y + pl.cursor_row - st->first_row;
        a->caret_x = r.x + pl.cursor_col;
    }
}

static void input_draw(const tui_app *a, const tui_pane *p) {
    const input_pane *st = p->st;
    tui_rect r = p->r;
    if (r.h <= 0 || r.w <= 4) return;
    draw_ctx d = {a, r, st->first_row, tui_role_style(&a->pal, TC_NORMAL), tui_role_style(&a->pal, TC_DIM)};
    place(&a->input, r.w, emit_char, &d);
    bool typing = a->mode == MODE_TYPE;
    tui_style prompt = tui_role_style(&a->pal, typing ? TC_USER : TC_DIM);
    tui_put_wch(r.y, r.x, a->gen.generating ? L'~' : L'>', prompt);
    if (a->input.len == 0 && !typing)
        tui_put_text(r.y, r.x + 2, r.w - 2, "inspecting tokens: Tab or Esc to type", tui_role_style(&a->pal, TC_DIM));
}

/* The next key if one is already waiting (part of the same paste or escape sequence). */
static int peek_key(wint_t *ch) {
    timeout(0);
    return get_wch(ch);
}

static void put_back(int kind, wint_t next) {
    if (kind == KEY_CODE_YES) ungetch((int)next);
    else if (kind == OK) unget_wch((wchar_t)next);
}

/* Enter sends, unless it is part of a paste: inside bracketed paste it is a newline, and
 * without bracketed paste a newline followed at once by more text was pasted too. */
static void enter_key(tui_app *a) {
    if (a->input.pasting) {
        tui_input_insert(&a->input, L'\n');
        return;
    }
    wint_t next;
    int kind = peek_key(&next);
    if (kind != ERR) {
        tui_input_insert(&a->input, L'\n');
        put_back(kind, next);
        return;
    }
    tui_submit_line(a);
}

static bool input_key(tui_app *a, tui_pane *p, tui_key k) {
    (void)p;
    if (k.modal || a->mode != MODE_TYPE) return false;
    if (tui_key_code(k, KEY_ENTER) || tui_key_is(k, L'\r')) {
        enter_key(a);
        return true;
    }
    if (tui_key_is(k, 27)) { /* Alt-Enter inserts a newline; a lone Esc does nothing */
        wint_t next;
        int kind = peek_key(&next);
        if (kind == OK && (next == L'\r' || next == L'\n')) tui_input_insert(&a->input, L'\n');
        else put_back(kind, next);
        return true;
    }
    if (tui_key_is(k, 4)) { /* Ctrl-D with text on the line: delete forward */
        tui_input_key(&a->input, true, KEY_DC);
        return true;
    }
    return tui_input_key(&a->input, k.is_key, k.ch);
}

const tui_pane_class tui_pane_input = {
    .name = "input",
    .area = TUI_LEFT,
    .rule_above = true,
    .always = true,
    .state_size = sizeof(input_pane),
    .rows = input_rows,
    .update = input_update,
    .draw = input_draw,
    .key = input_key,
};
