/* tui.c — the terminal app: screen set-up and restore, the main loop, keys and mouse.
 *
 * One thread. The loop draws, reads every pending key without waiting while a reply is
 * being generated, then asks the session for one more token; so Ctrl-C, scrolling and
 * the inspect cursor stay live between tokens, and a redraw is at most one token late.
 * Redraws are throttled to about 30 per second while tokens stream (small models make
 * thousands per second, faster than a terminal can show them). A probe (tui_probe.c)
 * runs the same way, one continuation per turn of the loop; a breakpoint pauses the
 * reply without ending it.
 *
 * The terminal is restored on every way out: a normal quit, SIGINT/SIGTERM/SIGHUP (a
 * flag the loop polls), exit() from anywhere (atexit), and crashes (a handler that writes
 * the reset sequences and the saved termios, then re-raises). */
#include "tui_app.h"

#include "vk_engine.h"

#include <locale.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

/* Keys we teach ncurses: the markers terminals put around pasted text once bracketed
 * paste mode (DEC private mode 2004) is on. */
#define KEY_PASTE_BEGIN (KEY_MAX + 1)
#define KEY_PASTE_END (KEY_MAX + 2)

#define CTRL_KEY(c) ((c) & 0x1f)

/* ---- the only process-wide state: what signal handlers need ---- */

static volatile sig_atomic_t g_signal;        /* a quit signal arrived */
static volatile sig_atomic_t g_screen_active; /* curses owns the terminal */
static struct termios g_saved_termios;
static bool g_have_termios;

static void on_quit_signal(int sig) { g_signal = sig; }

static void on_fatal_signal(int sig) {
    if (g_screen_active) {
        /* async-signal-safe: no curses here, just the sequences that undo its modes */
        static const char reset[] = "\033[?2004l\033[?1000l\033[?1002l\033[?1006l\033[0m\033[?25h\033[?1049l\r\n";
        if (write(STDOUT_FILENO, reset, sizeof reset - 1) < 0) { /* nothing more to do */
        }
        if (g_have_termios) tcsetattr(STDIN_FILENO, TCSAFLUSH, &g_saved_termios);
        g_screen_active = 0;
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

static void restore_at_exit(void) {
    if (g_screen_active) {
        putp("\033[?2004l");
        endwin();
        g_screen_active = 0;
    }
}

static const int QUIT_SIGNALS[] = {SIGINT, SIGTERM, SIGHUP};
static const int FATAL_SIGNALS[] = {SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL};
#define N_QUIT (sizeof QUIT_SIGNALS / sizeof QUIT_SIGNALS[0])
#define N_FATAL (sizeof FATAL_SIGNALS / sizeof FATAL_SIGNALS[0])

typedef struct saved_handlers {
    struct sigaction quit[N_QUIT], fatal[N_FATAL];
} saved_handlers;

static void install_handlers(saved_handlers *old) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_quit_signal; /* no SA_RESTART: a waiting get_wch returns */
    for (size_t i = 0; i < N_QUIT; i++) sigaction(QUIT_SIGNALS[i], &sa, &old->quit[i]);
    sa.sa_handler = on_fatal_signal;
    sa.sa_flags = SA_RESETHAND;
    for (size_t i = 0; i < N_FATAL; i++) sigaction(FATAL_SIGNALS[i], &sa, &old->fatal[i]);
}

static void restore_handlers(const saved_handlers *old) {
    for (size_t i = 0; i < N_QUIT; i++) sigaction(QUIT_SIGNALS[i], &old->quit[i], NULL);
    for (size_t i = 0; i < N_FATAL; i++) sigaction(FATAL_SIGNALS[i], &old->fatal[i], NULL);
}

/* ---- helpers shared with the other tui files ---- */

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double tui_now(void) { return now_s(); }

void tui_message(tui_app *a, bool error, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->msg, sizeof a->msg, fmt, ap);
    va_end(ap);
    a->msg_error = error;
    a->dirty = true;
}

bool tui_on_cursor(const tui_app *a) { return a->mode == MODE_INSPECT || a->hold_cursor; }

const step_record *tui_current_record(const tui_app *a, size_t *index) {
    size_t n = session_n_records(a->s);
    if (n == 0) return NULL;
    size_t i = n - 1;
    if (tui_on_cursor(a)) {
        i = a->cursor < n ? a->cursor : n - 1;
    } else {
        /* the newest token that is not template text: after a reply the template closes
         * the turn ("<|im_end|>", "\n"), which says little */
        while (i > 0 && session_record(a->s, i)->segment == SEG_TEMPLATE) i--;
        if (session_record(a->s, i)->segment == SEG_TEMPLATE) i = n - 1;
    }
    if (index) *index = i;
    return session_record(a->s, i);
}

const char *tui_record_text(const tui_app *a, int pos) {
    const step_record *r = pos >= 0 ? session_record(a->s, (size_t)pos) : NULL;
    return r && r->text ? r->text : "?";
}

const float *tui_attention_row(tui_app *a, const step_record *r, int layer, int head) {
    if (!r || !r->attention || r->n_keys <= 0) return NULL;
    if ((size_t)r->n_keys > a->row_cap) {
        float *p = realloc(a->row, (size_t)r->n_keys * sizeof *p);
        if (!p) return NULL;
        a->row = p;
        a->row_cap = (size_t)r->n_keys;
    }
    return session_attention_row(a->s, r, layer, head, a->row) ? a->row : NULL;
}

bool tui_turns_push(tui_app *a, const char *text, size_t first_record) {
    if (a->n_turns == a->cap_turns) {
        size_t cap = a->cap_turns ? a->cap_turns * 2 : 16;
        tui_turn *t = realloc(a->turns, cap * sizeof *t);
        if (!t) return false;
        a->turns = t;
        a->cap_turns = cap;
    }
    char *copy = strdup(text);
    if (!copy) return false;
    a->turns[a->n_turns++] = (tui_turn){copy, first_record};
    return true;
}

static void free_turns(tui_app *a) {
    for (size_t i = 0; i < a->n_turns; i++) free(a->turns[i].text);
    a->n_turns = 0;
}

void tui_records_changed(tui_app *a) {
    a->epoch++;
    a->dirty = true;
}

void tui_start_generating(tui_app *a) {
    a->generating = true;
    a->paused = false;
    a->reply_tokens = 0;
    a->reply_t0 = now_s();
    a->tok_per_s = 0;
    a->chat.scroll = 0;
    a->mode = MODE_TYPE; /* the panes follow the newest token */
    a->hold_cursor = false;
}

engine *tui_engine_for(tui_app *a, const model *m, int n_ctx, char *err, size_t errlen) {
    const engine *main_e = a->opt->engine;
    if (main_e && strcmp(main_e->backend, "vulkan") == 0) {
        engine *e = engine_vulkan_create(m, n_ctx, a->opt->device, false, err, errlen);
        if (e) return e;
    }
    return engine_cpu_create(m, n_ctx, err, errlen);
}

engine *tui_spare_engine(tui_app *a, char *err, size_t errlen) {
    if (!a->spare) a->spare = tui_engine_for(a, a->m, session_n_ctx(a->s), err, errlen);
    return a->spare;
}

void tui_reset_conversation(tui_app *a) {
    if (a->generating) session_stop_reply(a->s);
    a->generating = a->paused = a->choosing = false;
    tui_probe_cancel(a);
    tui_branches_reset(a);
    if (a->sheet.kind != SHEET_NONE) tui_sheet_close(a);
    session_clear(a->s);
    free_turns(a);
    a->epoch++;
    a->cursor = 0;
    a->chat.scroll = 0;
    a->tok_per_s = 0;
    a->dirty = true;
}

/* ---- drawing ---- */

static void draw(tui_app *a) {
    getmaxyx(stdscr, a->rows, a->cols);
    tui_layout_compute(&a->lay, a->rows, a->cols, 1);
    int input_rows = tui_input_rows(&a->input, a->lay.input.w);
    if (input_rows != 1) tui_layout_compute(&a->lay, a->rows, a->cols, input_rows);
    erase();
    a->caret_y = a->caret_x = -1;
    tui_chat_update(a);
    tui_chat_draw(a);
    tui_input_draw(a);
    tui_frame_draw(a);
    if (a->lay.full) {
        tui_attention_draw(a);
        tui_probs_draw(a);
    }
    tui_ground_draw(a);
    tui_status_draw(a);
    tui_sheet_draw(a);
    if (a->help) tui_help_draw(a);
    if (a->caret_y >= 0 && !a->help) {
        curs_set(1);
        move(a->caret_y, a->caret_x);
    } else {
        curs_set(0);
    }
    refresh();
    a->dirty = false;
}

void tui_draw_now(tui_app *a) { draw(a); }

/* ---- generation ---- */

void tui_submit_text(tui_app *a, const char *text) {
    if (session_is_chat(a->s) && !*text) return;
    tui_message(a, false, "reading the prompt...");
    draw(a); /* the prompt is evaluated in one call: say so before it starts */
    size_t first = session_n_records(a->s);
    char err[256];
    double t0 = now_s();
    if (session_begin_reply(a->s, text, err, sizeof err) != 0) {
        tui_message(a, true, "%s", err);
        tui_input_set(&a->input, text); /* give the text back to fix it */
        return;
    }
    tui_turns_push(a, text, first);
    tui_records_changed(a); /* the prompt may have rewound into earlier records */
    size_t now = session_n_records(a->s), n = now > first ? now - first : 0; /* a rewind may shrink it */
    tui_message(a, false, "prompt: %zu tokens in %.2f s", n, now_s() - t0);
    tui_start_generating(a);
}

static void generate_one(tui_app *a) {
    const step_record *r;
    char err[256];
    int rc = session_next(a->s, &r, err, sizeof err);
    double dt = now_s() - a->reply_t0;
    if (rc == 1) {
        a->reply_tokens++;
        if (dt > 0) a->tok_per_s = a->reply_tokens / dt;
        tui_break_check(a, session_n_records(a->s) - 1);
    } else {
        a->generating = a->paused = false;
        if (rc < 0) {
            session_stop_reply(a->s);
            tui_message(a, true, "%s", err);
        } else {
            tui_message(a, false, "reply: %d tokens, %.1f tok/s", a->reply_tokens, a->tok_per_s);
        }
    }
    a->dirty = true;
}

static void stop_reply(tui_app *a) {
    if (!a->generating) return;
    session_stop_reply(a->s);
    a->generating = a->paused = false;
    tui_message(a, false, "stopped after %d tokens", a->reply_tokens);
}

/* ---- keys ---- */

static void change_layer(tui_app *a, int d) {
    int n = a->m->hp.n_layer;
    a->layer = (a->layer + d + n) % n;
}

static void change_head(tui_app *a, int d) {
    int n = tui_layer_heads(a, a->layer); /* the selected layer's own */
    a->head = (a->head + d + n) % n;
}

static void cycle_tint(tui_app *a) {
    a->tint = a->tint == TINT_OFF ? TINT_PROB : a->tint == TINT_PROB ? TINT_ENTROPY : TINT_OFF;
    tui_message(a, false, "%s", a->tint == TINT_PROB ? "colouring tokens by their probability (red: unlikely)"
                                : a->tint == TINT_ENTROPY ? "colouring tokens by entropy (red: the model was unsure)"
                                                          : "token colouring off");
}

static void enter_inspect(tui_app *a) {
    bool held = a->hold_cursor;
    a->mode = MODE_INSPECT;
    a->hold_cursor = false;
    if (held) return; /* back to the token the command was about */
    size_t cur;
    if (tui_current_record(a, &cur)) a->cursor = cur;
    tui_chat_cursor_end(a, false);
}

static void leave_inspect(tui_app *a) {
    a->mode = MODE_TYPE;
    a->hold_cursor = false;
}

/* Keys that act the same in both modes. Returns true if KEY was one. */
static bool global_key(tui_app *a, bool is_key, wint_t ch) {
    if (is_key) {
        switch (ch) {
        case KEY_F(1): a->help = true; return true;
        case KEY_F(2): change_layer(a, -1); return true;
        case KEY_F(3): change_layer(a, 1); return true;
        case KEY_F(4): change_head(a, -1); return true;
        case KEY_F(5): change_head(a, 1); return true;
        case KEY_F(6): a->log_scale = !a->log_scale; return true;
        case KEY_F(7): a->hide_sink = !a->hide_sink; return true;
        case KEY_F(8): a->show_after = !a->show_after; return true;
        case KEY_F(9): cycle_tint(a); return true;
        case KEY_PPAGE: a->chat.scroll += a->lay.chat.h / 2 > 0 ? a->lay.chat.h / 2 : 1; return true;
        case KEY_NPAGE: a->chat.scroll -= a->lay.chat.h / 2 > 0 ? a->lay.chat.h / 2 : 1; return true;
        case KEY_BTAB: a->mode == MODE_TYPE ? enter_inspect(a) : leave_inspect(a); return true;
        default: return false;
        }
    }
    switch (ch) {
    case CTRL_KEY('c'):
        if (a->probe.running) tui_probe_cancel(a);
        else if (a->generating) stop_reply(a);
        else if (a->input.len) a->input.len = a->input.cursor = 0;
        else tui_message(a, false, "Ctrl-D or /quit leaves");
        return true;
    case CTRL_KEY('d'):
        if (a->input.len == 0 || a->mode == MODE_INSPECT || a->sheet.kind != SHEET_NONE) {
            stop_reply(a);
            a->quit = true;
            return true;
        }
        return false; /* readline: delete the character under the cursor */
    case CTRL_KEY('l'): clearok(curscr, TRUE); return true;
    case L'\t':
        if (a->mode == MODE_TYPE) enter_inspect(a);
        else leave_inspect(a);
        return true;
    default: return false;
    }
}

static void inspect_key(tui_app *a, bool is_key, wint_t ch) {
    if (is_key) {
        switch (ch) {
        case KEY_LEFT: tui_chat_move(a, -1, 0); return;
        case KEY_RIGHT: tui_chat_move(a, 1, 0); return;
        case KEY_UP: tui_chat_move(a, 0, -1); return;
        case KEY_DOWN: tui_chat_move(a, 0, 1); return;
        case KEY_HOME: tui_chat_cursor_end(a, true); return;
        case KEY_END: tui_chat_cursor_end(a, false); return;
        case KEY_ENTER: leave_inspect(a); return;
        default: return;
        }
    }
    switch (ch) {
    case 27: case L'\r': case L'\n': leave_inspect(a); return;
    case L'[': change_layer(a, -1); return;
    case L']': change_layer(a, 1); return;
    case L'-': change_head(a, -1); return;
    case L'=': case L'+': change_head(a, 1); return;
    case L'l': a->log_scale = !a->log_scale; return;
    case L's': a->hide_sink = !a->hide_sink; return;
    case L'a': a->show_after = !a->show_after; return;
    case L'c': cycle_tint(a); return;
    case L't': a->show_template = !a->show_template; return;
    case L'w': tui_why_open(a); return;
    case L'b': tui_branch_choose(a); return;
    case L'B': tui_branch_list(a); return;
    case L'p': tui_probe_command(a, ""); return;
    case L'r': tui_heads_cycle(a); return;
    case L'g': tui_break_continue(a); return;
    case L'h': tui_chat_move(a, -1, 0); return;
    case L'k': tui_chat_move(a, 0, -1); return;
    case L'j': tui_chat_move(a, 0, 1); return;
    case L'?': a->help = true; return;
    default:
        /* any other character: back to typing, and it is the first one typed; a
         * command typed now (/why, /branch 2, /probe) is about the token under the
         * cursor, so the panes stay on it until the line is sent */
        if (ch >= 0x20 && ch != 0x7F) {
            a->mode = MODE_TYPE;
            a->hold_cursor = true;
            tui_input_key(&a->input, false, ch);
        }
        return;
    }
}

static void submit(tui_app *a) {
    if (a->input.len > 0 && a->input.buf[0] == L'/' && !(a->input.len > 1 && a->input.buf[1] == L'/')) {
        char *line = tui_input_take(&a->input);
        if (line) tui_command(a, line);
        free(line);
        a->hold_cursor = false;
        return;
    }
    if (a->paused && a->input.len == 0) { /* Enter on an empty line: go on */
        tui_break_continue(a);
        return;
    }
    if (a->generating) {
        tui_message(a, true, "a reply is being written: wait, or Ctrl-C to stop it");
        return;
    }
    char *text = tui_input_take(&a->input);
    if (!text) return;
    a->msg[0] = 0;
    a->hold_cursor = false;
    tui_submit_text(a, text[0] == '/' ? text + 1 : text); /* "//x" sends "/x" */
    free(text);
}

/* The next key if one is already waiting (part of the same paste or escape sequence). */
static int peek_key(wint_t *ch) {
    timeout(0);
    return get_wch(ch);
}

static void type_key(tui_app *a, bool is_key, wint_t ch) {
    if (is_key && ch == KEY_ENTER) ch = L'\r', is_key = false;
    if (!is_key && (ch == L'\r')) {
        if (a->input.pasting) {
            tui_input_insert(&a->input, L'\n');
            return;
        }
        /* Without bracketed paste a pasted newline looks like Enter; if more text is
         * already waiting it was a paste, not a person pressing Enter. */
        wint_t next;
        int kind = peek_key(&next);
        if (kind != ERR) {
            tui_input_insert(&a->input, L'\n');
            unget_wch((wchar_t)next);
            if (kind == KEY_CODE_YES) ungetch((int)next);
            return;
        }
        submit(a);
        return;
    }
    if (!is_key && ch == 27) { /* Alt-Enter inserts a newline; a lone Esc does nothing */
        wint_t next;
        int kind = peek_key(&next);
        if (kind == OK && (next == L'\r' || next == L'\n')) tui_input_insert(&a->input, L'\n');
        else if (kind == KEY_CODE_YES) ungetch((int)next);
        else if (kind == OK) unget_wch((wchar_t)next);
        return;
    }
    if (!is_key && ch == CTRL_KEY('d')) { /* input not empty: delete forward */
        tui_input_key(&a->input, true, KEY_DC);
        return;
    }
    tui_input_key(&a->input, is_key, ch);
}

static void mouse_event(tui_app *a) {
    MEVENT ev;
    if (getmouse(&ev) != OK) return;
    if (ev.bstate & BUTTON4_PRESSED) {
        a->chat.scroll += 3;
        return;
    }
    if (ev.bstate & BUTTON5_PRESSED) {
        a->chat.scroll -= 3;
        return;
    }
    if (!(ev.bstate & (BUTTON1_PRESSED | BUTTON1_CLICKED | BUTTON1_RELEASED))) return;
    long rec = tui_chat_hit(a, ev.y, ev.x);
    if (rec >= 0) {
        a->mode = MODE_INSPECT;
        a->cursor = (size_t)rec;
        a->choosing = false;
        if (a->sheet.kind == SHEET_WHY) tui_why_open(a);
        return;
    }
    if (a->sheet.kind != SHEET_NONE) return; /* the panes are covered */
    int head = tui_attention_hit(a, ev.y, ev.x);
    if (head >= 0) a->head = head;
}

static void handle_key(tui_app *a, bool is_key, wint_t ch) {
    if (is_key && ch == KEY_RESIZE) return; /* the next draw reads the new size */
    if (a->help) { /* any key closes the help */
        a->help = false;
        return;
    }
    if (is_key && ch == KEY_MOUSE) {
        mouse_event(a);
        return;
    }
    if (is_key && (ch == KEY_PASTE_BEGIN || ch == KEY_PASTE_END)) {
        a->input.pasting = ch == KEY_PASTE_BEGIN;
        if (a->input.pasting) a->mode = MODE_TYPE;
        return;
    }
    if (a->sheet.kind != SHEET_NONE) {
        /* a sheet takes the keys; the global ones (Ctrl-C, F keys, Tab) still work */
        if (!tui_sheet_key(a, is_key, ch)) global_key(a, is_key, ch);
        return;
    }
    if (a->choosing && tui_branch_choose_key(a, is_key, ch)) return;
    if (global_key(a, is_key, ch)) return;
    if (a->mode == MODE_INSPECT) inspect_key(a, is_key, ch);
    else type_key(a, is_key, ch);
}

/* ---- the entry point ---- */

void tui_options_default(tui_options *o) {
    memset(o, 0, sizeof *o);
    o->color = TUI_COLOR_AUTO;
    o->device = -1;
}

/* Everything the app needs before its first frame; ncurses must already be running (the
 * palette asks the terminal about its colours). */
void tui_app_init(tui_app *a, const tui_options *opt) {
    memset(a, 0, sizeof *a);
    a->opt = opt;
    a->s = opt->session;
    a->tok = opt->tokenizer;
    a->m = session_model(a->s);
    tui_palette_init(&a->pal, opt->color, a->color_name, sizeof a->color_name);
    tui_input_init(&a->input);
    a->chat.width = -1;
    a->dirty = true;
    a->role_filter = -1;
    grounding_params_default(&a->ground_params);
}

void tui_app_free(tui_app *a) {
    free_turns(a);
    free(a->turns);
    tui_chat_free(&a->chat);
    tui_input_free(&a->input);
    free(a->row);
    tui_sheet_free(&a->sheet);
    tui_why_free(a);
    tui_branches_free(a);
    tui_probe_free(a);
    free(a->ground);
    free(a->ground_state);
    free(a->roles);
    engine_destroy(a->spare);
}

int tui_run(const tui_options *opt) {
    if (!opt || !opt->session || !opt->tokenizer) {
        fprintf(stderr, "llmscope: internal error: the interactive interface needs a session and a tokenizer\n");
        return 1;
    }
    if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
        fprintf(stderr, "llmscope: the interactive interface needs a terminal; use -p TEXT for a one-shot answer\n");
        return 1;
    }
    setlocale(LC_ALL, "");
    g_have_termios = tcgetattr(STDIN_FILENO, &g_saved_termios) == 0;
    g_signal = 0;
    saved_handlers old;
    install_handlers(&old);
    static bool atexit_done; /* register once per process */
    if (!atexit_done) atexit(restore_at_exit), atexit_done = true;

    SCREEN *screen = newterm(NULL, stdout, stdin);
    if (!screen) {
        const char *term = getenv("TERM");
        restore_handlers(&old);
        fprintf(stderr, "llmscope: cannot use the terminal (TERM=%s); use -p TEXT for a one-shot answer\n",
                term && *term ? term : "unset");
        return 1;
    }
    g_screen_active = 1;
    /* a terminal that cannot move the cursor (TERM=dumb) would show garbage */
    const char *cup = tigetstr("cup");
    if (!cup || cup == (char *)-1) {
        endwin();
        g_screen_active = 0;
        delscreen(screen);
        restore_handlers(&old);
        const char *term = getenv("TERM");
        fprintf(stderr, "llmscope: the terminal (TERM=%s) cannot move the cursor; use -p TEXT for a one-shot answer\n",
                term && *term ? term : "unset");
        return 1;
    }
    raw(); /* Ctrl-C arrives as a key (stop the reply), not as SIGINT */
    noecho();
    nonl();
    keypad(stdscr, TRUE);
    intrflush(stdscr, FALSE);
    set_escdelay(25);
    if (!opt->no_mouse) {
        mousemask(BUTTON1_PRESSED | BUTTON1_CLICKED | BUTTON4_PRESSED | BUTTON5_PRESSED, NULL);
        mouseinterval(0);
    }
    define_key("\033[200~", KEY_PASTE_BEGIN);
    define_key("\033[201~", KEY_PASTE_END);
    putp("\033[?2004h"); /* bracketed paste: pasted newlines do not send */

    tui_app app;
    tui_app *a = &app;
    tui_app_init(a, opt);
    if (session_template_warning(a->s)) tui_message(a, true, "%s", session_template_warning(a->s));
    else if (a->pal.colors == 0 && opt->color != TUI_COLOR_NONE)
        tui_message(a, false, "no colours (NO_COLOR or the terminal): shades and attributes instead");

    double last_draw = 0;
    while (!a->quit && !g_signal) {
        double t = now_s();
        bool busy = (a->generating && !a->paused) || a->probe.running || tui_why_pending(a);
        if (a->dirty && (!busy || t - last_draw >= 1.0 / 30)) {
            draw(a);
            last_draw = t;
            if (a->why_timing && a->sheet.kind == SHEET_WHY) {
                /* what opening the card cost: computing it, and the frame that shows it */
                double drawn = (now_s() - t) * 1000;
                tui_message(a, false, "why card: %.1f ms (%.1f computing, %.1f drawing the screen)",
                            a->sheet.compute_ms + drawn, a->sheet.compute_ms, drawn);
                draw(a);
            }
            a->why_timing = false;
        }
        timeout(busy ? 0 : 500);
        wint_t ch;
        int kind = get_wch(&ch);
        while (kind != ERR && !a->quit) {
            handle_key(a, kind == KEY_CODE_YES, ch);
            a->dirty = true;
            timeout(0);
            kind = get_wch(&ch);
        }
        if (a->quit || g_signal) break;
        if (tui_why_pending(a) && !a->dirty) tui_why_finish(a); /* once the card is on screen */
        else if (a->generating && !a->paused) generate_one(a);
        else if (a->probe.running) tui_probe_step(a);
    }
    if (a->generating) session_stop_reply(a->s);

    putp("\033[?2004l");
    endwin();
    g_screen_active = 0;
    delscreen(screen);
    restore_handlers(&old);
    tui_app_free(a);
    if (g_signal) {
        fprintf(stderr, "llmscope: stopped by signal %d\n", (int)g_signal);
        return 1;
    }
    return 0;
}
