/* tui_message.c — messages: what a command did, why something failed, what the app is
 * doing. The newest is shown on the bottom rows across the whole width of the terminal
 * (wrapped at spaces, up to TUI_MSG_ROWS rows, the rest marked); the last TUI_MSG_KEEP
 * are kept, and /messages shows them in full. */
#include "tui_app.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define TUI_MSG_ROWS 3

void tui_message(tui_app *a, bool error, const char *fmt, ...) {
    tui_msg *m = &a->msgs.ring[a->msgs.n % TUI_MSG_KEEP];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m->text, sizeof m->text, fmt, ap);
    va_end(ap);
    m->error = error;
    a->msgs.n++;
    a->msgs.shown = true;
    a->dirty = true;
}

const tui_msg *tui_message_current(const tui_app *a) {
    if (!a->msgs.shown || a->msgs.n == 0) return NULL;
    return &a->msgs.ring[(a->msgs.n - 1) % TUI_MSG_KEEP];
}

void tui_message_clear(tui_app *a) { a->msgs.shown = false; }

/* Where the rows of TEXT start in WIDTH cells: broken after the last space that fits,
 * or at the edge. Returns the number of rows (at most MAX), START[i] the byte offsets. */
static int wrap_rows(const char *text, int width, size_t *start, int max) {
    int n = 0;
    size_t at = 0, len = strlen(text);
    while (n < max) {
        start[n++] = at;
        size_t cut = tui_wrap_cut(text + at, width);
        if (at + cut >= len) break;
        at += cut;
    }
    return n;
}

static int message_rows(const tui_app *a, const tui_pane *p, int width, int avail) {
    const tui_msg *m = tui_message_current(a);
    size_t start[TUI_MSG_ROWS];
    (void)p;
    int rows = m ? wrap_rows(m->text, width - 2, start, TUI_MSG_ROWS) : 1;
    return avail >= TUI_MIN_ROWS ? rows : 1;
}

static void message_draw(const tui_app *a, const tui_pane *p) {
    const tui_msg *m = tui_message_current(a);
    tui_rect R = p->r;
    if (!m || R.h <= 0) return;
    size_t start[TUI_MSG_ROWS + 1];
    int rows = wrap_rows(m->text, R.w - 2, start, TUI_MSG_ROWS + 1);
    tui_style st = tui_role_style(&a->pal, m->error ? TC_ERROR : TC_INFO);
    for (int i = 0; i < rows && i < R.h; i++) {
        bool cut = i == R.h - 1 && rows > R.h;
        const char *from = m->text + start[i];
        size_t len = i + 1 < rows ? start[i + 1] - start[i] : strlen(from);
        char line[TUI_MSG_LEN];
        snprintf(line, sizeof line, "%.*s", (int)len, from);
        int w = tui_put_text(R.y + i, R.x + 1, R.w - 2 - (cut ? 14 : 0), line, st);
        if (cut) tui_put_text(R.y + i, R.x + 1 + w, 14, " ... /messages", tui_role_style(&a->pal, TC_DIM));
    }
}

const tui_pane_class tui_pane_message = {
    .name = "message",
    .area = TUI_BOTTOM,
    .always = true,
    .rows = message_rows,
    .draw = message_draw,
};

/* ---- /messages ---- */

void tui_messages_command(tui_app *a, const char *name, const char *args) {
    (void)name, (void)args;
    int n = a->msgs.n < TUI_MSG_KEEP ? a->msgs.n : TUI_MSG_KEEP;
    if (n == 0) {
        tui_message(a, false, "no messages yet");
        return;
    }
    tui_sheet *sh = &a->sheet;
    tui_sheet_reset(sh, &tui_sheet_plain);
    snprintf(sh->title, sizeof sh->title, "Messages: the last %d, newest at the bottom", n);
    snprintf(sh->footer, sizeof sh->footer, "Up/Down PgUp/PgDn scroll  Esc closes");
    int width = tui_sheet_width(a);
    for (int i = a->msgs.n - n; i < a->msgs.n; i++) {
        const tui_msg *m = &a->msgs.ring[i % TUI_MSG_KEEP];
        tui_sheet_wrapped(sh, m->error ? TC_ERROR : TC_NORMAL, m->text, width);
    }
    sh->scroll = sh->n_lines; /* the newest in view (clamped when drawn) */
    a->dirty = true;
}
