/* tui.c — the terminal app: screen set-up and restore, the main loop, generation.
 *
 * One thread. The loop draws, reads every pending key without waiting while a reply is
 * being generated, then asks the session for one more token; so Ctrl-C, scrolling and
 * the inspect cursor stay live between tokens, and a redraw is at most one token late.
 * Redraws are throttled to about 30 per second while tokens stream (small models make
 * thousands per second, faster than a terminal can show them). A probe (tui_probe.c)
 * runs the same way, one continuation per turn of the loop; a breakpoint pauses the
 * reply without ending it. Such deferred work is the JOBS table: the loop runs the
 * first that has something to do. Keys and the mouse go through tui_keys.c, the screen
 * is the panes of tui_panes.def.
 *
 * The terminal is restored on every way out: a normal quit, SIGINT/SIGTERM/SIGHUP (a
 * flag the loop polls, and long commands too: tui_quit_requested), exit() from anywhere
 * (atexit), and crashes (a handler that writes the reset sequences, keypad mode included,
 * and the saved termios, then re-raises). SIGXFSZ is ignored while the app runs. */
#include "tui_app.h"

#include "cli.h"
#include "vk_engine.h"
#include "engine_options.h"

#include <locale.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

/* ---- the only process-wide state: what signal handlers need ---- */

static volatile sig_atomic_t g_signal;        /* a quit signal arrived */
static volatile sig_atomic_t g_screen_active; /* curses owns the terminal */
static struct termios g_saved_termios;
static bool g_have_termios;
/* This terminal's "keypad off" (terminfo rmkx), taken when the screen starts: curses
 * turns the application cursor and keypad modes on, and a shell left in them after a
 * crash gets escape sequences instead of arrow keys. */
static char g_keypad_off[64];

static void on_quit_signal(int sig) { g_signal = sig; }

static void on_fatal_signal(int sig) {
    if (g_screen_active) {
        /* async-signal-safe: no curses here, just the sequences that undo its modes */
        static const char reset[] = "\033[?2004l\033[?1000l\033[?1002l\033[?1006l\033[0m\033[?25h\033[?1049l\r\n";
        size_t n = 0;
        while (n < sizeof g_keypad_off && g_keypad_off[n]) n++;
        if (write(STDOUT_FILENO, g_keypad_off, n) < 0 || write(STDOUT_FILENO, reset, sizeof reset - 1) < 0) {
            /* nothing more to do */
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
        fflush(stdout);
        endwin();
        g_screen_active = 0;
    }
}

/* For the other tui files: see tui_app.h. */
bool tui_quit_requested(void) { return g_signal != 0; }

/* Keeps the keypad-off sequence of the terminal curses just opened (a plain xterm one
 * when terminfo has none, or one too long to keep). */
static void remember_keypad_off(void) {
    const char *rmkx = tigetstr("rmkx");
    if (!rmkx || rmkx == (char *)-1 || strlen(rmkx) >= sizeof g_keypad_off) rmkx = "\033[?1l\033>";
    snprintf(g_keypad_off, sizeof g_keypad_off, "%s", rmkx);
}

static const int QUIT_SIGNALS[] = {SIGINT, SIGTERM, SIGHUP};
static const int FATAL_SIGNALS[] = {SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL};
#define N_QUIT (sizeof QUIT_SIGNALS / sizeof QUIT_SIGNALS[0])
#define N_FATAL (sizeof FATAL_SIGNALS / sizeof FATAL_SIGNALS[0])

typedef struct saved_handlers {
    struct sigaction quit[N_QUIT], fatal[N_FATAL], file_size;
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
    /* past a file-size limit (ulimit -f) a write fails with EFBIG, which /save reports,
     * instead of killing the app and the conversation with it */
    sa.sa_handler = SIG_IGN;
    sa.sa_flags = 0;
    sigaction(SIGXFSZ, &sa, &old->file_size);
}

static void restore_handlers(const saved_handlers *old) {
    for (size_t i = 0; i < N_QUIT; i++) sigaction(QUIT_SIGNALS[i], &old->quit[i], NULL);
    for (size_t i = 0; i < N_FATAL; i++) sigaction(FATAL_SIGNALS[i], &old->fatal[i], NULL);
    sigaction(SIGXFSZ, &old->file_size, NULL);
}

/* ---- helpers shared with the other tui files ---- */

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double tui_now(void) { return now_s(); }

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

void tui_inspect_at(tui_app *a, size_t rec) {
    a->mode = MODE_INSPECT;
    a->hold_cursor = false;
    a->cursor = rec;
    a->grab = NULL;
    tui_why_follow(a);
    a->dirty = true;
}

const char *tui_record_text(const tui_app *a, int pos) {
    const step_record *r = pos >= 0 ? session_record(a->s, (size_t)pos) : NULL;
    return r && r->text ? r->text : "?";
}

const char *tui_plural(int n, const char *one, const char *many) { return n == 1 ? one : many; }

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
    tui_gen *g = &a->gen;
    g->generating = true;
    g->paused = false;
    g->reply_tokens = 0;
    g->reply_t0 = now_s();
    g->tok_per_s = 0;
    tui_chat_scroll(a, -(1 << 30)); /* follow the end */
    a->mode = MODE_TYPE; /* the panes follow the newest token */
    a->hold_cursor = false;
}

engine *tui_engine_for(tui_app *a, const model *m, int n_ctx, char *err, size_t errlen) {
    const engine *main_e = a->opt->engine;
    if (main_e && strcmp(main_e->backend, "vulkan") == 0) {
        vk_engine_options vo = vk_options_from_env(a->opt->device, false);
        engine *e = engine_vulkan_create_opts(m, n_ctx, &vo, err, errlen);
        if (e) return e;
    }
    cpu_engine_options co;
    if (cpu_options_from_env(&co, err, errlen) < 0) return NULL;
    return engine_cpu_create_opts(m, n_ctx, &co, err, errlen);
}

engine *tui_spare_engine(tui_app *a, char *err, size_t errlen) {
    if (!a->spare) a->spare = tui_engine_for(a, a->m, session_n_ctx(a->s), err, errlen);
    return a->spare;
}

void tui_reset_conversation(tui_app *a) {
    if (a->gen.generating) session_stop_reply(a->s);
    a->gen.generating = a->gen.paused = false;
    a->grab = NULL;
    tui_probe_cancel(a);
    tui_branches_reset(a);
    if (a->sheet.cls) tui_sheet_close(a);
    session_clear(a->s);
    free_turns(a);
    tui_window_reset(a);
    a->epoch++;
    a->cursor = 0;
    tui_chat_scroll(a, -(1 << 30));
    a->gen.tok_per_s = 0;
    a->dirty = true;
}

/* ---- drawing ---- */

static void draw(tui_app *a) {
    getmaxyx(stdscr, a->rows, a->cols);
    tui_panes_layout(a);
    a->caret_y = a->caret_x = -1;
    tui_panes_update(a);
    tui_sheet_update(a);
    erase();
    tui_panes_draw(a);
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
    tui_window_check(a); /* the oldest turns may have left to make room */
    tui_start_generating(a);
}

/* --trace: the token R (EOG: the one that ended the reply) as headless writes it; a
 * token that does not follow the last one written (a new message, a branch, a context
 * shift) first gets the context of the tokens before it, which replay needs. */
static void trace_token(tui_app *a, const step_record *r, bool eog) {
    tui_gen *g = &a->gen;
    struct cli_trace *t = a->opt->trace;
    if (!t || g->trace_failed) return;
    int rc = 0;
    if (r->pos != g->trace_next) rc = cli_trace_set_context_at(t, a->s, a->opt->model_path, (size_t)r->pos);
    if (rc == 0) rc = cli_trace_record(t, a->s, a->m, a->tok, r, eog, a->opt->trace_lens);
    g->trace_next = r->pos + 1;
    if (rc < 0) {
        g->trace_failed = true;
        tui_message(a, true, "cannot write the trace file: the rest of the conversation is not traced");
    }
}

static void generate_one(tui_app *a) {
    tui_gen *g = &a->gen;
    const step_record *r;
    char err[256];
    int rc = session_next(a->s, &r, err, sizeof err);
    double dt = now_s() - g->reply_t0;
    if (rc == 1) {
        g->reply_tokens++;
        if (dt > 0) g->tok_per_s = g->reply_tokens / dt;
        tui_window_check(a); /* the oldest turns may have left to make room */
        trace_token(a, r, false);
        tui_break_check(a, session_n_records(a->s) - 1);
    } else {
        size_t n = session_n_records(a->s);
        const step_record *last = n ? session_record(a->s, n - 1) : NULL;
        if (rc == 0 && session_stop_reason(a->s) == SESSION_STOP_END && last && last->generated) trace_token(a, last, true);
        g->generating = g->paused = false;
        if (rc < 0) {
            session_stop_reply(a->s);
            tui_message(a, true, "%s", err);
        } else if (session_stop_reason(a->s) == SESSION_STOP_FULL) {
            tui_message(a, false, "reply: %d tokens, %.1f tok/s; it stops here because the context is full (%d tokens)%s",
                        g->reply_tokens, g->tok_per_s, session_n_ctx(a->s),
                        session_is_chat(a->s) ? ": the message and its reply fill it alone" : "; /clear starts over");
        } else {
            tui_message(a, false, "reply: %d tokens, %.1f tok/s", g->reply_tokens, g->tok_per_s);
        }
    }
    a->dirty = true;
}

void tui_stop_reply(tui_app *a) {
    if (!a->gen.generating) return;
    session_stop_reply(a->s);
    a->gen.generating = a->gen.paused = false;
    tui_message(a, false, "stopped after %d tokens", a->gen.reply_tokens);
}

void tui_submit_line(tui_app *a) {
    tui_input *in = &a->input;
    if (in->len > 0 && in->buf[0] == L'/' && !(in->len > 1 && in->buf[1] == L'/')) {
        char *line = tui_input_take(in);
        if (line) tui_command(a, line);
        free(line);
        a->hold_cursor = false;
        return;
    }
    if (a->gen.paused && in->len == 0) { /* Enter on an empty line: go on */
        tui_break_continue(a);
        return;
    }
    if (a->gen.generating) {
        tui_message(a, true, "a reply is being written: wait, or Ctrl-C to stop it");
        return;
    }
    char *text = tui_input_take(in);
    if (!text) return;
    tui_message_clear(a);
    a->hold_cursor = false;
    tui_submit_text(a, text[0] == '/' ? text + 1 : text); /* "//x" sends "/x" */
    free(text);
}

/* ---- deferred work: one step per turn of the loop, between keys ---- */

typedef struct job {
    const char *name;
    bool (*pending)(const tui_app *a);
    void (*step)(tui_app *a);
    bool after_frame;   /* waits until the screen shows the current state */
} job;

static bool generation_pending(const tui_app *a) { return a->gen.generating && !a->gen.paused; }
static bool probe_pending(const tui_app *a) { return a->probe.running; }

static const job JOBS[] = {
    {"the why card's slow parts", tui_why_pending, tui_why_finish, true},
    {"the reply", generation_pending, generate_one, false},
    {"a probe", probe_pending, tui_probe_step, false},
};
#define N_JOBS (sizeof JOBS / sizeof JOBS[0])

static bool busy(const tui_app *a) {
    for (size_t i = 0; i < N_JOBS; i++)
        if (JOBS[i].pending(a)) return true;
    return false;
}

static void run_a_job(tui_app *a) {
    for (size_t i = 0; i < N_JOBS; i++) {
        if (!JOBS[i].pending(a) || (JOBS[i].after_frame && a->dirty)) continue;
        JOBS[i].step(a);
        return;
    }
}

/* ---- the entry point ---- */

void tui_options_default(tui_options *o) {
    memset(o, 0, sizeof *o);
    o->color = TUI_COLOR_AUTO;
    o->device = -1;
}

/* Everything the app needs before its first frame; ncurses must already be running (the
 * palette asks the terminal about its colours). */
bool tui_app_init(tui_app *a, const tui_options *opt) {
    memset(a, 0, sizeof *a);
    a->opt = opt;
    a->s = opt->session;
    a->tok = opt->tokenizer;
    a->m = session_model(a->s);
    tui_palette_init(&a->pal, opt->color, a->color_name, sizeof a->color_name);
    tui_input_init(&a->input);
    a->dirty = true;
    a->heads.filter = -1;
    a->gen.trace_next = -1;
    a->jumped_to = -1;
    if (tui_panes_init(a)) return true;
    tui_app_free(a);
    return false;
}

void tui_app_free(tui_app *a) {
    free_turns(a);
    free(a->turns);
    tui_panes_free(a);
    tui_input_free(&a->input);
    tui_sheet_free(&a->sheet);
    tui_why_free(a);
    tui_branches_free(a);
    tui_probe_free(a);
    tui_heads_free(a);
    tui_suspicion_free(a);
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
    remember_keypad_off();
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
    /* bracketed paste: pasted newlines do not send. putp writes to stdout's buffer,
     * which curses does not flush: without fflush the terminal would see it at exit */
    putp("\033[?2004h");
    fflush(stdout);

    tui_app app;
    tui_app *a = &app;
    if (!tui_app_init(a, opt)) {
        putp("\033[?2004l");
        fflush(stdout);
        endwin();
        g_screen_active = 0;
        delscreen(screen);
        restore_handlers(&old);
        fprintf(stderr, "llmscope: out of memory for the screen\n");
        return 1;
    }
    if (opt->warning) tui_message(a, true, "warning: %s", opt->warning);
    if (session_template_warning(a->s)) tui_message(a, true, "%s", session_template_warning(a->s));
    else if (a->pal.colors == 0 && opt->color != TUI_COLOR_NONE)
        tui_message(a, false, "no colours (NO_COLOR or the terminal): shades and attributes instead");

    double last_draw = 0;
    while (!a->quit && !g_signal) {
        double t = now_s();
        bool working = busy(a);
        if (a->dirty && (!working || t - last_draw >= 1.0 / 30)) {
            draw(a);
            last_draw = t;
            if (a->why.timing && tui_why_shown(a)) {
                /* what opening the card cost: computing it, and the frame that shows it */
                double drawn = (now_s() - t) * 1000;
                tui_message(a, false, "why card: %.1f ms (%.1f computing, %.1f drawing the screen)",
                            a->sheet.compute_ms + drawn, a->sheet.compute_ms, drawn);
                draw(a);
            }
            a->why.timing = false;
        }
        timeout(working ? 0 : 500);
        wint_t ch;
        int kind = get_wch(&ch);
        while (kind != ERR && !a->quit) {
            tui_handle_key(a, (tui_key){kind == KEY_CODE_YES, ch, false});
            a->dirty = true;
            timeout(0);
            kind = get_wch(&ch);
        }
        if (a->quit || g_signal) break;
        run_a_job(a);
    }
    if (a->gen.generating) session_stop_reply(a->s);

    putp("\033[?2004l");
    fflush(stdout);
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
