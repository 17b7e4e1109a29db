/* tui_prompt.c — /prompt: the conversation so far as the chat template writes it.
 *
 * Debugging a prompt format means reading exactly what the model reads. The sheet shows
 * the template's render of the conversation (session_render_conversation): template
 * text (control tokens, role names) with its whitespace made visible ('·' a space, '↵'
 * a newline), message text in its speaker's colour, so a stray space or a missing
 * newline in the format stands out, and so does which text came from whom. Lines are
 * wrapped to the sheet's width. */
#include "tui_app.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct wrapper {
    tui_sheet *sh;
    int width, col;
    char piece[512];
    size_t len;
    tui_role role;
    bool visible_ws; /* template text: whitespace shown */
} wrapper;

static void flush(wrapper *w) {
    if (w->len == 0) return;
    w->piece[w->len] = '\0';
    if (w->visible_ws) tui_sheet_token(w->sh, w->role, w->piece, 0);
    else tui_sheet_text(w->sh, w->role, "%s", w->piece);
    w->len = 0;
}

static void new_line(wrapper *w) {
    flush(w);
    tui_sheet_line_begin(w->sh, -1);
    w->col = 0;
}

/* One character (LEN bytes at S) of a run of ROLE text. */
static void put_char(wrapper *w, const char *s, size_t len, tui_role role, bool visible_ws) {
    if (role != w->role || visible_ws != w->visible_ws) {
        flush(w);
        w->role = role;
        w->visible_ws = visible_ws;
    }
    char one[8];
    memcpy(one, s, len);
    one[len] = '\0';
    bool newline = len == 1 && s[0] == '\n';
    int cw = visible_ws ? tui_token_width(one) : newline ? 0 : tui_text_width(one);
    if (w->col + cw > w->width || w->len + len >= sizeof w->piece) {
        if (w->col + cw > w->width) new_line(w);
        else flush(w);
    }
    if (newline && !visible_ws) { /* message text: the line just ends */
        new_line(w);
        return;
    }
    memcpy(w->piece + w->len, s, len);
    w->len += len;
    w->col += cw;
    if (newline) new_line(w); /* template text: shown as ↵, then the line ends */
}

static tui_role message_role(const tui_app *a, size_t msg) {
    const char *role = session_message_role(a->s, msg);
    if (role && strcmp(role, "assistant") == 0) return TC_ASSISTANT;
    if (role && strcmp(role, "system") == 0) return TC_SYSTEM;
    return TC_USER;
}

void tui_cmd_prompt(tui_app *a, const char *name, const char *args) {
    (void)name, (void)args;
    char err[512];
    chat_span *spans = NULL;
    size_t n_spans = 0;
    char *text = session_render_conversation(a->s, &spans, &n_spans, err, sizeof err);
    if (!text) {
        tui_message(a, true, "/prompt: %s", err);
        return;
    }
    tui_sheet *sh = &a->sheet;
    tui_sheet_reset(sh, &tui_sheet_plain);
    size_t len = strlen(text);
    static const char *const THINK[] = {"", ", thinking on", ", thinking off"};
    snprintf(sh->title, sizeof sh->title, "Prompt: the conversation as the %s template writes it (%zu bytes%s)",
             session_template_name(a->s), len, THINK[session_thinking(a->s)]);
    snprintf(sh->footer, sizeof sh->footer, "template text as written (\u00b7 space, \u21b5 newline), messages in colour; Esc closes");
    wrapper w = {.sh = sh, .width = tui_sheet_width(a), .role = TC_TEMPLATE, .visible_ws = true};
    if (w.width < 8) w.width = 8;
    tui_sheet_line_begin(sh, -1);
    size_t span = 0;
    for (size_t i = 0; i < len;) {
        while (span < n_spans && spans[span].start + spans[span].len <= i) span++;
        bool message = span < n_spans && spans[span].start <= i;
        wchar_t wc;
        size_t k = (size_t)tui_utf8_decode(text + i, len - i, &wc);
        put_char(&w, text + i, k, message ? message_role(a, spans[span].message) : TC_TEMPLATE, !message);
        i += k;
    }
    flush(&w);
    free(text);
    free(spans);
    a->dirty = true;
}
