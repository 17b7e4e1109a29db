/* tui.h — the interactive terminal app: chat beside live attention heatmaps and
 * next-token probability bars.
 *
 * main() loads the model, tokenizer and engine, creates the session, fills a tui_options
 * and calls tui_run() when no -p was given and stdin/stdout are terminals. The TUI reads
 * only step records (model/session.h); it never touches engine buffers. Everything passed
 * in stays owned by the caller and must outlive tui_run(). */
#ifndef LLMSCOPE_TUI_H
#define LLMSCOPE_TUI_H

#include "engine.h"
#include "session.h"

#include <stdbool.h>

struct tokenizer;
struct cli_trace;

typedef enum {
    TUI_COLOR_AUTO = 0, /* NO_COLOR set or a terminal without colours: none; else the best
                           the terminal offers (true colour when COLORTERM says so) */
    TUI_COLOR_NONE,     /* shade characters ' ░▒▓█' and bold/reverse only */
    TUI_COLOR_8,
    TUI_COLOR_256,
    TUI_COLOR_TRUE      /* 24-bit; falls back to the nearest the terminal can show */
} tui_color_mode;

typedef struct tui_options {
    session *session;                   /* required */
    const struct tokenizer *tokenizer;  /* required: text of candidate tokens in the bars */
    const engine *engine;               /* backend and device name for the status bar; may be NULL */
    const char *model_path;             /* shown in the status bar; may be NULL */
    tui_color_mode color;
    bool no_mouse;                      /* leave the mouse to the terminal (text selection) */
    int device;                         /* Vulkan device of the main engine (-1: chosen), for the
                                           second engine that probes and /compare use */
    const char *warning;                /* shown as the first message (a context longer than
                                           the model's); may be NULL */
    struct cli_trace *trace;            /* --trace: every generated token, as headless; may be NULL */
    bool trace_lens;                    /* --trace-lens */
    const struct detector *detector;    /* the model's detector of wrong answers; may be NULL */
} tui_options;

/* Sets every field to its default (no session: the caller fills the required ones). */
void tui_options_default(tui_options *o);

/* Runs until the user quits (Ctrl-D, /quit). The terminal is restored on every exit
 * path, signals included. Returns 0, or 1 after printing one line on stderr (not a
 * terminal, screen could not be initialised, missing options). */
int tui_run(const tui_options *opt);

/* For `llmscope bench`: draws the screen for session S's latest token into an off-screen
 * terminal of ROWS x COLS (256 colours, output to /dev/null) REPS times and reports the
 * best time of the attention pane alone and of a whole frame, in milliseconds.
 * Returns 0, or -1 with ERR filled. */
int tui_bench_draw(session *s, const struct tokenizer *tok, int rows, int cols, int reps,
                   double *heatmap_ms, double *frame_ms, char *err, size_t errlen);

#endif
