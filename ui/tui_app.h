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

#include "inspect.h"
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
    tui_rect meter;  /* one row above the chat: the grounding sparkline */
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
    bool direct;  /* the terminal takes colours as RGB values (a direct-colour terminfo
                     entry), so even palette colours are sent as their RGB */
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
/* The same for a signed V in [-1, 1] (a DeltaNet layer's effective weights): the heat
 * ramp for positive values, a cool ramp (or, without colours, dots and rings) for
 * negative ones. */
void tui_diverging_cell(const tui_palette *p, float v, wchar_t *ch, tui_style *st);
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
/* Display width of tui_put_token(S) / tui_put_text(S) without a limit. */
int tui_token_width(const char *s);
int tui_text_width(const char *s);
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

/* ---- overlays: the why card, the branch list, probe and compare results (tui_sheet.c) ----
 *
 * A sheet is a scrollable list of lines, each a row of styled segments at fixed columns,
 * drawn over the right-hand panes (over everything on a small screen). Some lines are
 * items that Up/Down select and Enter acts on (the branch list). */

typedef enum { SHEET_NONE, SHEET_WHY, SHEET_BRANCHES, SHEET_PROBE, SHEET_COMPARE } tui_sheet_kind;

typedef struct tui_seg {
    int x;          /* column from the sheet's left edge */
    uint8_t role;   /* tui_role */
    bool token;     /* token text: whitespace made visible */
    char *text;
} tui_seg;

typedef struct tui_sheet_line {
    tui_seg *segs;
    int n_segs, cap_segs;
    int x;          /* the column after the last segment */
    int item;       /* index of the selectable item on this line, -1 for none */
} tui_sheet_line;

typedef struct tui_sheet {
    tui_sheet_kind kind;
    char title[256];
    char footer[192];
    tui_sheet_line *lines;
    int n_lines, cap_lines;
    int scroll;
    int n_items, selected;
    size_t rec;     /* the why card: the record it explains */
    double compute_ms; /* the why card: how long inspect_why and laying it out took */
} tui_sheet;

struct tui_app;
void tui_sheet_reset(tui_sheet *sh, tui_sheet_kind kind);
void tui_sheet_free(tui_sheet *sh);
/* Starts a line (ITEM: its item index, or -1). */
void tui_sheet_line_begin(tui_sheet *sh, int item);
/* Adds text (printf) or a token's text (at most MAXW cells, 0: all) to the current line. */
void tui_sheet_text(tui_sheet *sh, tui_role role, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void tui_sheet_token(tui_sheet *sh, tui_role role, const char *text, int maxw);
/* Moves the current line's next segment to column X (at least one space after the last). */
void tui_sheet_col(tui_sheet *sh, int x);
/* A line of its own: a section heading. */
void tui_sheet_heading(tui_sheet *sh, const char *text);
void tui_sheet_draw(struct tui_app *a);
/* Handles a key while a sheet is open; false if the sheet did not use it. */
bool tui_sheet_key(struct tui_app *a, bool is_key, wint_t ch);
void tui_sheet_close(struct tui_app *a);

/* ---- branches (tui_branch.c) ---- */

/* One record as a branch remembers it, enough to rebuild it through the session. */
typedef struct tui_step {
    int32_t token;
    bool reply;         /* a token of a reply (the model's), not prompt or template */
    bool generated;
    sample_result sample;
    sampler_params params;
} tui_step;

typedef struct tui_branch {
    int parent;         /* -1: the conversation the first fork was made from */
    size_t fork;        /* the record where it leaves its parent */
    int32_t old_token, new_token; /* the parent's token there, and this branch's */
    bool resampled;     /* a new draw rather than a chosen token */
    /* the conversation on this branch when it was last left (the active branch is the
     * session itself) */
    tui_step *steps;
    size_t n_steps;
    char **turn_text;
    size_t *turn_first;
    size_t n_turns;
} tui_branch;

typedef struct tui_branches {
    tui_branch *list;
    int n, cap;
    int active;         /* index into list; meaningless while n == 0 */
    int *order;         /* the branch on each line of the list sheet (tree order) */
} tui_branches;

/* ---- fork and probe (tui_probe.c) ---- */

#define TUI_PROBE_MAX 64

typedef struct tui_probe {
    bool running;
    size_t rec;         /* continuations redraw the token at this position onward */
    int n, done, max_tokens;
    sampler_params params;
    int32_t *prefix;
    int n_prefix;
    int32_t *seqs[TUI_PROBE_MAX];
    int lens[TUI_PROBE_MAX];
    double t0;
} tui_probe;

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
    unsigned epoch;        /* bumped whenever records may have been replaced (/clear, /load,
                              a new message, a branch): the chat is laid out again and the
                              grounding and head-role caches start over */

    /* generation */
    bool generating;
    bool paused;           /* a breakpoint stopped the reply; it goes on with 'g' */
    char pause_why[96];
    double paused_at;      /* when (the pause does not count against tokens per second) */
    int reply_tokens;
    double reply_t0, tok_per_s;
    inspect_breakpoints breaks;

    /* what the panes look at */
    size_t cursor;         /* inspected record (MODE_INSPECT) */
    bool hold_cursor;      /* typing began while inspecting (a /command about the token):
                              the panes stay on the cursor until the line is sent */
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
    int heat_y0, heat_rows;
    int heat_head[256];    /* the head drawn on each heatmap row */

    float *row;            /* scratch for one attention row */
    size_t row_cap;

    /* grounding of each record, computed when first needed (tui_ground.c) */
    grounding *ground;
    uint8_t *ground_state; /* 0: not yet, 1: valid, 2: none (no attention, no reply) */
    size_t ground_cap;
    unsigned ground_epoch;
    grounding_params ground_params;

    /* head roles over the recent queries (tui_heads.c) */
    head_stats *roles;     /* [n_layer][n_head] */
    bool roles_valid;
    size_t roles_n_records, roles_from, roles_to;
    unsigned roles_epoch;
    int role_filter;       /* -1: every head; else a head_role */

    /* the overlay sheet, the branch chooser in the probability bars, branches, probes */
    tui_sheet sheet;
    why_card why;          /* what the why card shows (valid while why_valid) */
    bool why_valid;
    bool why_later_rollout, why_later_lens; /* parts computed once the card is on screen */
    unsigned why_epoch;
    bool why_timing;       /* report how long the why card took once it is drawn */
    bool choosing;         /* picking a candidate in the bars to branch with */
    int choice, n_choices;
    int32_t choice_ids[SAMPLER_TOP_N];
    tui_branches branches;
    tui_probe probe;
    engine *spare;         /* a second engine of the same model (probes, /compare) */
} tui_app;

/* tui.c */
void tui_message(tui_app *a, bool error, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
const step_record *tui_current_record(const tui_app *a, size_t *index);
/* The panes follow the cursor (inspecting, or a command typed from there). */
bool tui_on_cursor(const tui_app *a);
/* Starts a reply to TEXT (chat message or text to continue). */
void tui_submit_text(tui_app *a, const char *text);
/* Forgets the conversation (session and the TUI's own notes of it). */
void tui_reset_conversation(tui_app *a);
bool tui_turns_push(tui_app *a, const char *text, size_t first_record);
/* Decodes one attention row into a->row (grown as needed); NULL if not available. */
const float *tui_attention_row(tui_app *a, const step_record *r, int layer, int head);
/* Records may have been replaced: lay out again, recompute what is cached per record. */
void tui_records_changed(tui_app *a);
/* Starts generating (the reply is open in the session). */
void tui_start_generating(tui_app *a);
/* The second engine of the session's model, created when first asked for (same backend
 * as the main one), or NULL with ERR. */
engine *tui_spare_engine(tui_app *a, char *err, size_t errlen);
/* An engine for another model M on the main engine's backend, or NULL with ERR. */
engine *tui_engine_for(tui_app *a, const model *m, int n_ctx, char *err, size_t errlen);
/* Draws the screen now (before a long computation, so that its message shows). */
void tui_draw_now(tui_app *a);
void tui_app_init(tui_app *a, const tui_options *opt);
void tui_app_free(tui_app *a);
double tui_now(void);

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
/* tui_deltanet.c: a Gated DeltaNet layer in the attention pane (signed rows, a diverging
 * scale and its legend, the selected head's decay and beta per key) */
bool tui_layer_signed(const tui_app *a, int layer);
int tui_layer_heads(const tui_app *a, int layer);
void tui_deltanet_legend(tui_app *a, int y, tui_rect R, float max);
int tui_deltanet_strips(tui_app *a, int y, tui_rect R, const int *keys, int n_cols, int cw, int lw);
/* the why card's line on how DeltaNet layers enter sources, rollout and grounding */
void tui_deltanet_why_note(tui_app *a);
void tui_probs_draw(tui_app *a);
/* The text of token ID for display; bytes that are not UTF-8 on their own as \xNN. */
void tui_piece_text(const tui_app *a, int32_t id, char *out, size_t cap);
/* A probability as a percentage: "98.3%", "<0.1%". */
void tui_pct(char *buf, size_t cap, double p);
/* The text of the record at POS ("?" if there is none). */
const char *tui_record_text(const tui_app *a, int pos);
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

/* tui_why.c: the why card of the current record (rebuilt when the cursor moves). Parts
 * too slow to wait for (the logit lens of a large vocabulary, the rollout of a long
 * context on a deep model) are left to tui_why_finish, which the main loop calls once
 * the card is on screen. */
void tui_why_open(tui_app *a);
bool tui_why_pending(const tui_app *a);
void tui_why_finish(tui_app *a);
void tui_why_free(tui_app *a);

/* tui_ground.c: grounding of record REC (NULL when it has none), and the meter row. */
const grounding *tui_grounding(tui_app *a, size_t rec);
void tui_ground_draw(tui_app *a);

/* tui_break.c: /break; after each generated token, whether to pause. */
void tui_break_command(tui_app *a, const char *args);
void tui_break_check(tui_app *a, size_t rec);
void tui_break_continue(tui_app *a);

/* tui_heads.c: head roles (recomputed when the conversation has changed and no reply is
 * being written), the role filter, and a head's short role label. */
void tui_heads_update(tui_app *a);
const head_stats *tui_head_role(const tui_app *a, int layer, int head);
void tui_heads_command(tui_app *a, const char *args);
void tui_heads_cycle(tui_app *a);
const char *tui_role_label(head_role r);

/* tui_branch.c: choosing a token in the bars, forking, listing and switching branches. */
void tui_branch_choose(tui_app *a);          /* 'b': start picking in the bars */
bool tui_branch_choose_key(tui_app *a, bool is_key, wint_t ch);
/* Forks at the current record with token ID (-1: a new draw). */
void tui_branch_fork(tui_app *a, int32_t id);
void tui_branch_command(tui_app *a, const char *args);  /* /branch N|resample */
void tui_branch_list(tui_app *a);           /* the tree as a sheet */
int tui_branch_switch(tui_app *a, int index);
void tui_branches_reset(tui_app *a);         /* /clear, /load: no tree any more */
void tui_branches_free(tui_app *a);
/* The record where the active branch left its parent, or -1. */
long tui_branch_fork_record(const tui_app *a);

/* tui_probe.c: sample continuations from the current record, one per main-loop turn. */
void tui_probe_command(tui_app *a, const char *args);
void tui_probe_step(tui_app *a);
void tui_probe_cancel(tui_app *a);
void tui_probe_free(tui_app *a);

/* tui_compare.c: /compare OTHER.gguf */
void tui_compare_command(tui_app *a, const char *args);

#endif
