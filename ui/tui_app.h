/* tui_app.h — state shared by the files of the terminal app (private to ui/tui*.c).
 *
 * One tui_app holds everything the screen shows; each tui_*.c draws one part of it
 * (layout, chat, input, attention, probabilities, status) or handles one kind of
 * action (commands, save/load). Include this header first: it selects the wide-character
 * curses API and wcwidth() before any system header is read. */
#ifndef LLMSCOPE_TUI_APP_H
#define LLMSCOPE_TUI_APP_H

#ifndef _XOPEN_SOURCE
#define _XOPEN_SOURCE 700 /* wcwidth() */
#endif
#ifndef NCURSES_WIDECHAR
#define NCURSES_WIDECHAR 1 /* add_wch, get_wch, cchar_t */
#endif

#include <curses.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h> /* MB_CUR_MAX: can the locale show more than ASCII? */
#include <wchar.h>

#include "session.h"
#include "tokenizer.h"
#include "tui.h"

/* ---- geometry (tui_layout.c) ---- */

typedef struct tui_rect {
    int y, x, h, w;
} tui_rect;

/* Terminals smaller than this show the chat only, with a hint. */
#define TUI_MIN_COLS 80
#define TUI_MIN_ROWS 24

typedef struct tui_layout {
    bool full;       /* every pane, or chat + input + status only */
    tui_rect chat;   /* conversation text */
    tui_rect input;  /* the line being typed (1..TUI_INPUT_MAX_LINES rows) */
    tui_rect attn;   /* attention heatmap, legend and zoomed head */
    tui_rect probs;  /* next-token bars */
    tui_rect status; /* bottom row */
    int sep_x;       /* column of the vertical separator (full layout) */
    int sep_y;       /* row of the separator between attention and probabilities */
} tui_layout;

#define TUI_INPUT_MAX_LINES 5

void tui_layout_compute(tui_layout *l, int rows, int cols, int input_lines);

/* ---- colours and characters (tui_color.c) ---- */

typedef enum {
    TC_NORMAL = 0,
    TC_FRAME,     /* separators and pane titles */
    TC_TITLE,     /* pane title text */
    TC_USER,
    TC_ASSISTANT,
    TC_SYSTEM,
    TC_TEMPLATE,  /* chat-template control text, control tokens */
    TC_LABEL,     /* "You", "Assistant" headings */
    TC_DIM,
    TC_STATUS,
    TC_CURSOR,    /* the inspected token */
    TC_CHOSEN,    /* the sampled token in the bars */
    TC_BAR,
    TC_BAR_CHOSEN,
    TC_ERROR,
    TC_INFO,
    TC_SELECTED,  /* selected head row label */
    TC__COUNT
} tui_role;

#define TUI_HEAT_LEVELS 16
#define TUI_TINT_LEVELS 8

typedef struct tui_palette {
    int colors;   /* 0 (none), 8, 256 or 16777216 (direct RGB) */
    bool utf8;    /* the locale can show block and shade characters */
    bool can_rgb; /* the user asked for true colour and the terminal has it */
} tui_palette;

typedef struct tui_style {
    attr_t attr;
    short pair;
} tui_style;

/* Call after the screen is initialised. MODE_NAME_OUT gets what was chosen ("256 colours"). */
void tui_palette_init(tui_palette *p, tui_color_mode mode, char *mode_name, size_t cap);
tui_style tui_role_style(const tui_palette *p, tui_role r);
/* One heatmap cell for V in [0,1]: a character and its style. */
void tui_heat_cell(const tui_palette *p, float v, wchar_t *ch, tui_style *st);
/* Style of chat text tinted by V in [0,1] (1 = confident / low entropy). */
tui_style tui_tint_style(const tui_palette *p, float v);

/* ---- drawing text (tui_draw.c) ---- */

/* Display width of a character: wcwidth(), with unprintable characters counted as the
 * one-cell replacement they are drawn as. */
int tui_wcwidth(wchar_t wc);
void tui_put_wch(int y, int x, wchar_t wc, tui_style st);
/* Draws UTF-8 text at (y, x) in at most MAXW cells (wide characters that would straddle
 * the edge are left out); control characters are shown as visible symbols. Returns the
 * cells used. */
int tui_put_text(int y, int x, int maxw, const char *s, tui_style st);
/* Same, for a token's text: whitespace made visible ('·' for space, '↵' for newline),
 * a lone byte of a split character as \xNN. */
int tui_put_token(int y, int x, int maxw, const char *s, tui_style st);
/* Display width of tui_put_token(S) without a limit. */
int tui_token_width(const char *s);
void tui_fill(int y, int x, int w, wchar_t wc, tui_style st);
void tui_printf(int y, int x, int maxw, tui_style st, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Decodes the UTF-8 character at S (LEN bytes available). Returns the bytes it takes
 * (>= 1) and sets *WC, U+FFFD for an invalid or cut-off sequence. */
int tui_utf8_decode(const char *s, size_t len, wchar_t *wc);

/* ---- the conversation pane (tui_chat.c) ---- */

typedef enum {
    CELL_TEXT,
    CELL_NEWLINE, /* zero width: a token's '\n' ended the line here */
    CELL_PART,    /* zero width: a token that only finished the character before it */
    CELL_LABEL    /* role heading, not a token */
} tui_cell_kind;

typedef struct tui_cell {
    wchar_t ch;
    uint8_t width;
    uint8_t kind;
    uint8_t role;  /* tui_role of the text */
    int32_t rec;   /* record index, -1 for headings */
} tui_cell;

typedef struct tui_line {
    size_t start, n; /* cells [start, start + n) */
} tui_line;

typedef struct tui_chat {
    tui_cell *cells;
    size_t n_cells, cap_cells;
    tui_line *lines;
    size_t n_lines, cap_lines;
    int32_t *rec_line;  /* first line of each record, -1 when hidden */
    size_t cap_rec_line;
    /* what the current layout was made from; a change means "lay out again" */
    int width;
    size_t n_records;
    unsigned epoch;
    bool show_template;
    int scroll;         /* lines scrolled up from the bottom (0: follow the end) */
    int top_line;       /* first line drawn last time (mouse hit-testing) */
} tui_chat;

/* ---- the line being typed (tui_input.c) ---- */

typedef struct tui_input {
    wchar_t *buf;
    size_t len, cap, cursor;
    char **history;     /* UTF-8, oldest first */
    size_t n_history, cap_history;
    size_t hist_pos;    /* == n_history: editing a new line */
    char *draft;        /* the new line, kept while browsing history */
    bool pasting;       /* inside a bracketed paste: Enter inserts a newline */
} tui_input;

void tui_input_init(tui_input *in);
void tui_input_free(tui_input *in);
/* Handles one key (IS_KEY: a KEY_* code; else a character). Returns true if it was an
 * editing key. Enter is not handled here. */
bool tui_input_key(tui_input *in, bool is_key, wint_t ch);
void tui_input_insert(tui_input *in, wchar_t wc);
/* The text as malloc'd UTF-8; adds it to the history and empties the line. */
char *tui_input_take(tui_input *in);
void tui_input_set(tui_input *in, const char *utf8);
/* Rows needed to show the text in WIDTH columns (1..TUI_INPUT_MAX_LINES). */
int tui_input_rows(const tui_input *in, int width);

/* ---- the application ---- */

typedef enum { MODE_TYPE, MODE_INSPECT } tui_mode;
typedef enum { TINT_OFF, TINT_PROB, TINT_ENTROPY } tui_tint;

/* A message the user sent, kept for /save: its text and the first record it made. */
typedef struct tui_turn {
    char *text;
    size_t first_record;
} tui_turn;

typedef struct tui_app {
    const tui_options *opt;
    session *s;
    const tokenizer *tok;
    const model *m;
    tui_palette pal;
    char color_name[32];
    tui_layout lay;
    int rows, cols;

    tui_mode mode;
    bool quit, dirty, help;
    unsigned epoch;        /* bumped by /clear and /load: the chat is laid out again */

    /* generation */
    bool generating;
    int reply_tokens;
    double reply_t0, tok_per_s;

    /* what the panes look at */
    size_t cursor;         /* inspected record (MODE_INSPECT) */
    int layer, head;
    bool log_scale, hide_sink, show_after, show_template;
    tui_tint tint;

    tui_chat chat;
    tui_input input;

    tui_turn *turns;
    size_t n_turns, cap_turns;

    char msg[320];
    bool msg_error;

    int caret_y, caret_x;  /* where the terminal cursor goes (input line), -1: hidden */

    /* heatmap geometry from the last draw, for mouse clicks */
    int heat_y0, heat_first_head, heat_rows;

    float *row;            /* scratch for one attention row */
    size_t row_cap;
} tui_app;

/* tui.c */
void tui_message(tui_app *a, bool error, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
const step_record *tui_current_record(const tui_app *a, size_t *index);
/* Starts a reply to TEXT (chat message or text to continue). */
void tui_submit_text(tui_app *a, const char *text);
/* Forgets the conversation (session and the TUI's own notes of it). */
void tui_reset_conversation(tui_app *a);
bool tui_turns_push(tui_app *a, const char *text, size_t first_record);
/* Decodes one attention row into a->row (grown as needed); NULL if not available. */
const float *tui_attention_row(tui_app *a, const step_record *r, int layer, int head);

/* tui_chat.c */
void tui_chat_free(tui_chat *c);
void tui_chat_update(tui_app *a);
void tui_chat_draw(tui_app *a);
/* Moves the inspect cursor: DX tokens sideways or DY lines up/down. */
void tui_chat_move(tui_app *a, int dx, int dy);
void tui_chat_cursor_end(tui_app *a, bool first);
/* Record under screen cell (Y, X) of the chat pane, or -1. */
long tui_chat_hit(const tui_app *a, int y, int x);

/* tui_input.c */
void tui_input_draw(tui_app *a);

/* tui_attention.c, tui_probs.c, tui_status.c */
void tui_attention_draw(tui_app *a);
void tui_probs_draw(tui_app *a);
void tui_status_draw(tui_app *a);
void tui_help_draw(tui_app *a);
void tui_frame_draw(tui_app *a);
/* Head under screen row Y of the heatmap, or -1. */
int tui_attention_hit(const tui_app *a, int y, int x);

/* tui_commands.c: LINE starts with '/'. */
void tui_command(tui_app *a, const char *line);

/* tui_save.c: 0 or -1 with ERR filled; tui_load also fills ERR with a summary on success. */
int tui_save(tui_app *a, const char *path, char *err, size_t errlen);
int tui_load(tui_app *a, const char *path, char *err, size_t errlen);

#endif
