/* tui_keys.c — where a key goes.
 *
 * In order: the help screen (any key closes it), the mouse, the bracketed-paste markers,
 * an open sheet (it takes what it knows; the keys that act from anywhere still work),
 * a pane that grabbed the keys (the branch chooser), the app's own keys (APP_KEYS:
 * Ctrl-C, Ctrl-D, Tab, F1), every pane in the order of tui_panes.def, and while
 * inspecting the tools of INSPECT_KEYS; any other character typed while inspecting
 * starts a line of input (a /command typed then is about the token under the cursor). */
#include "tui_app.h"

void tui_enter_inspect(tui_app *a) {
    bool held = a->hold_cursor;
    a->mode = MODE_INSPECT;
    a->hold_cursor = false;
    if (held) return; /* back to the token the command was about */
    size_t cur;
    if (tui_current_record(a, &cur)) a->cursor = cur;
    tui_chat_cursor_end(a, false);
}

void tui_leave_inspect(tui_app *a) {
    a->mode = MODE_TYPE;
    a->hold_cursor = false;
}

static void toggle_inspect(tui_app *a) {
    if (a->mode == MODE_TYPE) tui_enter_inspect(a);
    else tui_leave_inspect(a);
}

static void show_help(tui_app *a) { a->help = true; }

/* Enter or Esc while inspecting: back to typing; Enter at a breakpoint goes on, as it
 * does on an empty input line. */
static void enter_key(tui_app *a) {
    if (a->gen.paused) tui_break_continue(a);
    else tui_leave_inspect(a);
}

static void ctrl_c(tui_app *a) {
    if (a->probe.running) tui_probe_cancel(a);
    else if (a->gen.generating) tui_stop_reply(a);
    else if (a->input.len) a->input.len = a->input.cursor = 0;
    else tui_message(a, false, "Ctrl-D or /quit leaves");
}

static void repaint(tui_app *a) { clearok(curscr, TRUE); }

static void probe_here(tui_app *a) { tui_cmd_probe(a, "probe", ""); }

static void lowest_next(tui_app *a) { tui_cmd_lowest(a, "lowest", ""); }

static void lowest_back(tui_app *a) { tui_cmd_lowest(a, "lowest", "back"); }

/* A key bound to an action: IS_KEY and CH as tui_key has them. */
typedef struct binding {
    bool is_key;
    wint_t ch;
    void (*act)(tui_app *a);
} binding;

/* In both modes, even with a sheet open. */
static const binding APP_KEYS[] = {
    {true, KEY_F(1), show_help},
    {true, KEY_BTAB, toggle_inspect},
    {false, L'\t', toggle_inspect},
    {false, TUI_CTRL('c'), ctrl_c},
    {false, TUI_CTRL('l'), repaint},
};

/* While inspecting (after the panes had their turn). */
static const binding INSPECT_KEYS[] = {
    {true, KEY_ENTER, enter_key},
    {false, 27, tui_leave_inspect},
    {false, L'\r', enter_key},
    {false, L'\n', enter_key},
    {false, L'w', tui_why_open},
    {false, L'B', tui_branch_list},
    {false, L'p', probe_here},
    {false, L'g', tui_break_continue},
    {false, L'n', lowest_next},
    {false, L'N', lowest_back},
    {false, L'?', show_help},
};

static bool run_binding(tui_app *a, const binding *b, size_t n, tui_key k) {
    for (size_t i = 0; i < n; i++)
        if (b[i].is_key == k.is_key && b[i].ch == k.ch) {
            b[i].act(a);
            return true;
        }
    return false;
}

/* Ctrl-D quits, except with text on the line while typing (then it deletes forward). */
static bool ctrl_d(tui_app *a, tui_key k) {
    if (!tui_key_is(k, TUI_CTRL('d'))) return false;
    if (a->input.len && a->mode == MODE_TYPE && !a->sheet.cls) return false;
    tui_stop_reply(a);
    a->quit = true;
    return true;
}

static void mouse_event(tui_app *a) {
    MEVENT ev;
    if (getmouse(&ev) != OK) return;
    if (a->sheet.cls && tui_sheet_click(a, ev.y, ev.x, ev.bstate)) return;
    if (ev.bstate & BUTTON4_PRESSED) {
        tui_chat_scroll(a, 3);
        return;
    }
    if (ev.bstate & BUTTON5_PRESSED) {
        tui_chat_scroll(a, -3);
        return;
    }
    tui_panes_click(a, ev.y, ev.x, ev.bstate);
}

/* While inspecting, a character nobody took: back to typing, and it is the first one
 * typed; a command typed now (/why, /branch 2, /probe) is about the token under the
 * cursor, so the panes stay on it until the line is sent. */
static void start_typing(tui_app *a, tui_key k) {
    if (k.is_key || k.ch < 0x20 || k.ch == 0x7F) return;
    a->mode = MODE_TYPE;
    a->hold_cursor = true;
    tui_input_key(&a->input, false, k.ch);
}

void tui_handle_key(tui_app *a, tui_key k) {
    if (tui_key_code(k, KEY_RESIZE)) return; /* the next draw reads the new size */
    if (a->help) { /* any key closes the help */
        a->help = false;
        return;
    }
    if (tui_key_code(k, KEY_MOUSE)) {
        mouse_event(a);
        return;
    }
    if (tui_key_code(k, KEY_PASTE_BEGIN) || tui_key_code(k, KEY_PASTE_END)) {
        a->input.pasting = k.ch == KEY_PASTE_BEGIN;
        if (a->input.pasting) a->mode = MODE_TYPE;
        return;
    }
    if (a->sheet.cls) {
        /* a sheet takes the keys; the global ones (Ctrl-C, F keys, Tab) still work */
        if (tui_sheet_key(a, k)) return;
        k.modal = true;
    }
    if (a->grab && !k.modal && a->grab->cls->key(a, a->grab, k)) return;
    if (ctrl_d(a, k) || run_binding(a, APP_KEYS, sizeof APP_KEYS / sizeof APP_KEYS[0], k)) return;
    if (tui_panes_key(a, k) || k.modal || a->mode != MODE_INSPECT) return;
    if (run_binding(a, INSPECT_KEYS, sizeof INSPECT_KEYS / sizeof INSPECT_KEYS[0], k)) return;
    start_typing(a, k);
}
