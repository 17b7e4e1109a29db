/* tui_app.h — state shared by the files of the terminal app (private to ui/tui*.c).
 *
 * The screen is a set of panes (tui_pane.h): each is a small object with its own state
 * and callbacks, listed once in tui_panes.def; the layout, drawing, keys and the mouse
 * walk that list. What is not a pane lives here: the session, the mode and the token
 * under the cursor, the line being typed, the messages, and the tools that act on the
 * conversation (generation, the why card, branches, probes, head roles, the overlay
 * sheet). Include this header first: it selects the wide-character curses API and
 * wcwidth() before any system header is read. */
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

#include "detector.h"
#include "inspect.h"
#include "session.h"
#include "tokenizer.h"
#include "tui.h"

typedef struct tui_app tui_app;

/* ---- geometry ---- */

typedef struct tui_rect {
    int y, x, h, w;
} tui_rect;

static inline bool tui_rect_has(tui_rect r, int y, int x) {
    return y >= r.y && y < r.y + r.h && x >= r.x && x < r.x + r.w;
}

/* Terminals smaller than this show the chat only, with a hint. */
#define TUI_MIN_COLS 80
#define TUI_MIN_ROWS 24

/* What the last layout decided beyond each pane's own rectangle (tui_panes.c). */
typedef struct tui_layout {
    bool full;       /* every pane, or the ones marked `always` only */
    int sep_x;       /* column of the vertical rule between the left and right panes, -1 */
    int content_h;   /* rows above the bottom panes (messages, status bar) */
} tui_layout;

#define TUI_INPUT_MAX_LINES 5

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
    TC_MARK,      /* a token another pane points at (the key a head attends to most) */
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
/* Bytes of S that fit in MAXW cells as tui_put_text draws them (a wrap point). */
size_t tui_text_fit(const char *s, int maxw);
/* Bytes of S for its first row in WIDTH cells: broken after the last space that fits,
 * or at the edge (at least one character); all of S when it fits. */
size_t tui_wrap_cut(const char *s, int width);
/* TEXT as the panes name a token in a sentence: spaces as '·', newlines as '↵'. */
void tui_visible_token(const char *text, char *out, size_t cap);
void tui_fill(int y, int x, int w, wchar_t wc, tui_style st);
void tui_printf(int y, int x, int maxw, tui_style st, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Decodes the UTF-8 character at S (LEN bytes available). Returns the bytes it takes
 * (>= 1) and sets *WC, U+FFFD for an invalid or cut-off sequence. */
int tui_utf8_decode(const char *s, size_t len, wchar_t *wc);
/* A character in the locale: UNICODE in a UTF-8 one, else ASCII. */
wchar_t tui_glyph(wchar_t unicode, wchar_t ascii);

#include "tui_pane.h"

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

/* ---- messages (tui_message.c): the latest on the bottom row, the recent ones kept ---- */

#define TUI_MSG_KEEP 64   /* messages /messages can show */
#define TUI_MSG_LEN 1024

typedef struct tui_msg {
    char text[TUI_MSG_LEN];
    bool error;
} tui_msg;

typedef struct tui_msgs {
    tui_msg ring[TUI_MSG_KEEP];
    int n;              /* messages ever written (the newest is ring[(n - 1) % KEEP]) */
    bool shown;         /* the newest is on screen (cleared when a line is sent) */
} tui_msgs;

void tui_message(tui_app *a, bool error, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The message on screen, or NULL. */
const tui_msg *tui_message_current(const tui_app *a);
void tui_message_clear(tui_app *a);
/* /messages: the recent ones, in full. */
void tui_messages_command(tui_app *a, const char *name, const char *args);

/* ---- overlays: the why card, the branch list, probe and compare results (tui_sheet.c) ----
 *
 * A sheet is a scrollable list of lines, each a row of styled segments at fixed columns,
 * drawn over the right-hand panes (over everything on a small screen). Some lines are
 * items that Up/Down select and Enter acts on (the branch list); a segment can name a
 * record, and a click on it moves the cursor there. What a kind of sheet does with keys
 * of its own is its class's. */

typedef struct tui_sheet_class {
    const char *name;
    /* Keys before the common ones (scrolling, Esc); NULL: none. True if used. */
    bool (*key)(tui_app *a, tui_key k);
    /* Enter on the selected item (sheets with items); NULL: Enter closes. */
    void (*enter)(tui_app *a, int item);
} tui_sheet_class;

/* A plain sheet: scrolls and closes (probe and compare results, /messages, /context). */
extern const tui_sheet_class tui_sheet_plain;

typedef struct tui_seg {
    int x;          /* column from the sheet's left edge */
    int w;          /* cells it may take (the next segment starts after) */
    uint8_t role;   /* tui_role */
    bool token;     /* token text: whitespace made visible */
    int32_t rec;    /* the record it names (a click goes there), -1 */
    char *text;
} tui_seg;

typedef struct tui_sheet_line {
    tui_seg *segs;
    int n_segs, cap_segs;
    int x;          /* the column after the last segment */
    int item;       /* index of the selectable item on this line, -1 for none */
} tui_sheet_line;

typedef struct tui_sheet {
    const tui_sheet_class *cls; /* NULL: no sheet open */
    char title[256];
    char footer[192];
    tui_sheet_line *lines;
    int n_lines, cap_lines;
    int scroll;
    int n_items, selected;
    size_t rec;     /* the why card: the record it explains */
    double compute_ms; /* the why card: how long inspect_why and laying it out took */
} tui_sheet;

void tui_sheet_reset(tui_sheet *sh, const tui_sheet_class *cls);
void tui_sheet_free(tui_sheet *sh);
bool tui_sheet_is(const tui_app *a, const tui_sheet_class *cls);
/* Starts a line (ITEM: its item index, or -1). */
void tui_sheet_line_begin(tui_sheet *sh, int item);
/* Adds text (printf) or a token's text (at most MAXW cells, 0: all) to the current line. */
void tui_sheet_text(tui_sheet *sh, tui_role role, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void tui_sheet_token(tui_sheet *sh, tui_role role, const char *text, int maxw);
/* The last segment added names record REC: a click on it moves the cursor there. */
void tui_sheet_link(tui_sheet *sh, size_t rec);
/* Moves the current line's next segment to column X (at least one space after the last). */
void tui_sheet_col(tui_sheet *sh, int x);
/* A line of its own: a section heading. */
void tui_sheet_heading(tui_sheet *sh, const char *text);
/* TEXT as lines of at most WIDTH cells, broken at spaces and at its newlines. */
void tui_sheet_wrapped(tui_sheet *sh, tui_role role, const char *text, int width);
/* Cells a sheet line has (to wrap text for it). */
int tui_sheet_width(const tui_app *a);
void tui_sheet_update(tui_app *a);
void tui_sheet_draw(const tui_app *a);
/* Handles a key / a mouse press while a sheet is open; false if the sheet did not use it. */
bool tui_sheet_key(tui_app *a, tui_key k);
bool tui_sheet_click(tui_app *a, int y, int x, mmask_t button);
void tui_sheet_close(tui_app *a);

/* ---- branches (tui_branch.c) ---- */

/* One record as a branch remembers it, enough to rebuild it through the session. */
typedef struct tui_step {
    int32_t token;
    bool reply;         /* a token of a reply (the model's), not prompt or template */
    bool generated;
    bool reply_end;     /* the token that ended a reply (end-of-turn), recorded as template */
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

/* ---- the why card (tui_why.c) ---- */

typedef struct tui_why {
    why_card card;      /* what the card shows (valid while valid) */
    bool valid;
    bool later_rollout, later_lens; /* parts computed once the card is on screen */
    unsigned epoch;
    bool timing;        /* report how long the card took once it is drawn */
} tui_why;

/* ---- head roles (tui_heads.c) ---- */

typedef struct tui_heads {
    head_stats *roles;  /* [n_layer][n_head] */
    bool valid;
    size_t n_records, from, to;
    unsigned epoch;
    int filter;         /* -1: every head; else a head_role */
} tui_heads;

/* ---- the reply being generated (tui.c, tui_break.c) ---- */

typedef enum {
    TUI_STOP_NONE,
    TUI_STOP_END,       /* the model ended it */
    TUI_STOP_LIMIT,     /* the reply length limit (-n) */
    TUI_STOP_FULL,      /* the context is full (completion mode) */
} tui_stop;

typedef struct tui_gen {
    bool generating;
    bool paused;        /* a breakpoint stopped the reply; it goes on with 'g' */
    char pause_why[96];
    double paused_at;   /* when (the pause does not count against tokens per second) */
    int reply_tokens;
    double reply_t0, tok_per_s;
    inspect_breakpoints breaks;
    long trace_next;    /* --trace: the position its next line continues from, -1: none yet */
    bool trace_failed;  /* said once */
} tui_gen;

/* ---- the detector's running score of a reply (tui_suspicion.c) ---- */

typedef struct tui_suspicion {
    bool ready;            /* the buffers below exist */
    unsigned epoch;        /* the records it was computed from */
    size_t first, next;    /* the reply tracked: its first record, the next one to add */
    det_accum acc;         /* the reply's records first..next-1 */
    float *score;          /* [cap] running score of every record computed (NAN: not yet),
                              kept until the records change, whichever reply it is in */
    size_t cap;
    float *lookback;       /* scratch for one record's lookback ratios */
    double *x;             /* features of the reply so far */
    bool *present;
} tui_suspicion;

/* ---- the application ---- */

typedef enum { MODE_TYPE, MODE_INSPECT } tui_mode;

/* A message the user sent, kept for /save: its text and the first record it made. */
typedef struct tui_turn {
    char *text;
    size_t first_record;
} tui_turn;

struct tui_app {
    const tui_options *opt;
    session *s;
    const tokenizer *tok;
    const model *m;
    tui_palette pal;
    char color_name[32];
    int rows, cols;

    tui_mode mode;
    bool quit, dirty, help;
    unsigned epoch;        /* bumped whenever records may have been replaced (/clear, /load,
                              a new message, a branch, turns dropped from the context): the
                              per-record cache and the layouts start over */
    size_t cursor;         /* inspected record (MODE_INSPECT) */
    bool hold_cursor;      /* typing began while inspecting (a /command about the token):
                              the panes stay on the cursor until the line is sent */
    int caret_y, caret_x;  /* where the terminal cursor goes (input line), -1: hidden */
    long jumped_to;        /* where n (least likely) last put the cursor, -1 */

    tui_pane panes[TUI_MAX_PANES];
    int n_panes;
    tui_pane *grab;        /* a pane that takes the keys first (the branch chooser) */
    tui_layout lay;
    tui_cache cache;

    tui_input input;
    tui_msgs msgs;
    tui_turn *turns;
    size_t n_turns, cap_turns;

    tui_gen gen;
    session_window window; /* what had left the context window when last looked */
    tui_sheet sheet;
    tui_why why;
    tui_heads heads;
    tui_branches branches;
    tui_probe probe;
    tui_suspicion susp;
    engine *spare;         /* a second engine of the same model (probes, /compare) */
};

/* tui.c */
const step_record *tui_current_record(const tui_app *a, size_t *index);
/* The panes follow the cursor (inspecting, or a command typed from there). */
bool tui_on_cursor(const tui_app *a);
/* Puts the inspect cursor on record REC. */
void tui_inspect_at(tui_app *a, size_t rec);
/* Sends the line being typed: a /command, or text for the model. */
void tui_submit_line(tui_app *a);
/* Starts a reply to TEXT (chat message or text to continue). */
void tui_submit_text(tui_app *a, const char *text);
/* Forgets the conversation (session and the TUI's own notes of it). */
void tui_reset_conversation(tui_app *a);
bool tui_turns_push(tui_app *a, const char *text, size_t first_record);
/* Records may have been replaced: lay out again, recompute what is cached per record. */
void tui_records_changed(tui_app *a);
/* Starts generating (the reply is open in the session). */
void tui_start_generating(tui_app *a);
void tui_stop_reply(tui_app *a);
/* The second engine of the session's model, created when first asked for (same backend
 * as the main one), or NULL with ERR. */
engine *tui_spare_engine(tui_app *a, char *err, size_t errlen);
/* An engine for another model M on the main engine's backend, or NULL with ERR. */
engine *tui_engine_for(tui_app *a, const model *m, int n_ctx, char *err, size_t errlen);
/* Draws the screen now (before a long computation, so that its message shows). */
void tui_draw_now(tui_app *a);
/* False when out of memory (nothing is left to free). */
bool tui_app_init(tui_app *a, const tui_options *opt);
void tui_app_free(tui_app *a);
double tui_now(void);
/* A quit signal (SIGTERM, SIGHUP, SIGINT from outside) arrived: long work inside a
 * command (/load) stops early, and the app quits once back in its loop. */
bool tui_quit_requested(void);

/* tui_keys.c: every key and mouse event, and the keys that are not a pane's. */
/* Keys we teach ncurses: the markers terminals put around pasted text once bracketed
 * paste mode (DEC private mode 2004) is on. */
#define KEY_PASTE_BEGIN (KEY_MAX + 1)
#define KEY_PASTE_END (KEY_MAX + 2)
#define TUI_CTRL(c) ((c) & 0x1f)
void tui_handle_key(tui_app *a, tui_key k);
void tui_enter_inspect(tui_app *a);
void tui_leave_inspect(tui_app *a);

/* tui_chat.c: the conversation pane's services to others. */
/* Moves the inspect cursor: DX tokens sideways or DY lines up/down. */
void tui_chat_move(tui_app *a, int dx, int dy);
void tui_chat_cursor_end(tui_app *a, bool first);
void tui_chat_scroll(tui_app *a, int lines);
/* " | colour: probability" for the status bar, or "". */
const char *tui_chat_tint_name(const tui_app *a);

/* tui_probs.c: the bars' view and the branch chooser in them. */
bool tui_probs_after(const tui_app *a);        /* the "after sampler" view is on */
void tui_probs_choose(tui_app *a);             /* 'b': start picking in the bars */

/* tui_attention.c */
int tui_attention_layer(const tui_app *a);
/* tui_router.c: true while the router pane stands in for the attention pane (models with
 * experts, x while inspecting); the why card's "Experts" section. */
bool tui_router_shown(const tui_app *a);
void tui_why_experts(tui_app *a, const why_card *w);
/* The key the selected head attends to most at the current record, -1 (the chat marks it). */
long tui_attention_mark(const tui_app *a);

/* tui_deltanet.c: a Gated DeltaNet layer in the attention pane (signed rows, a diverging
 * scale and its legend, a head's decay and beta per key) */
bool tui_layer_signed(const tui_app *a, int layer);
int tui_layer_heads(const tui_app *a, int layer);
void tui_deltanet_legend(const tui_app *a, int y, tui_rect R, float max);
/* Rows drawn (0 or 2) at Y: head HEAD of LAYER's decay and beta for each column's key. */
int tui_deltanet_strips(const tui_app *a, int layer, int head, int y, tui_rect R, const int *keys, int n_cols, int cw,
                        int lw);
/* the why card's line on how DeltaNet layers enter sources, rollout and grounding */
void tui_deltanet_why_note(tui_app *a);

/* Shared formatting (tui_probs.c). */
/* The text of token ID for display; bytes that are not UTF-8 on their own as \xNN. */
void tui_piece_text(const tui_app *a, int32_t id, char *out, size_t cap);
/* A probability as a percentage: "98.3%", "<0.1%". */
void tui_pct(char *buf, size_t cap, double p);
/* The text of the record at POS ("?" if there is none). */
const char *tui_record_text(const tui_app *a, int pos);
/* "N thing" / "N things". */
const char *tui_plural(int n, const char *one, const char *many);

/* tui_status.c */
void tui_help_draw(const tui_app *a);

/* tui_commands.c: LINE starts with '/'. */
void tui_command(tui_app *a, const char *line);
/* The commands' names, "/temp  /top-k  ...", for the help screen. */
void tui_command_names(char *out, size_t cap);
/* Every handler of the command table (tui_commands.def) has this shape. */
#define TUI_CMD_IDLE 1 /* waits until no reply is being written */
typedef void tui_command_fn(tui_app *a, const char *name, const char *args);
#define TUI_COMMAND(names, fn, flags, help) tui_command_fn fn;
#include "tui_commands.def"
#undef TUI_COMMAND

/* tui_context.c: after a step that may have dropped turns from the context window
 * (a new message, a reply's token), the app's notes follow and a message says so. */
void tui_window_check(tui_app *a);
void tui_window_reset(tui_app *a);

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
bool tui_why_shown(const tui_app *a);
/* The cursor moved: an open card explains the new token. */
void tui_why_follow(tui_app *a);

/* tui_suspect.c: the reply holding record REC (or the last before it): its records
 * [FIRST, LAST]; and its one-line summary (least likely token, most unsure, flagged). */
bool tui_reply_at(const tui_app *a, size_t rec, size_t *first, size_t *last);
bool tui_reply_summary(tui_app *a, size_t first, size_t last, char *out, size_t cap);

/* tui_ground.c: grounding of record REC (NULL when it has none). */
const grounding *tui_grounding(tui_app *a, size_t rec);

/* tui_suspicion.c: with a detector (a->opt->detector), the running score of reply token
 * REC: the detector's probability that the reply up to it is wrong. False without a
 * detector, or when REC is not a reply token. */
bool tui_suspicion_at(tui_app *a, size_t rec, double *out);
/* The same score with the features that raised it most (TOP: K entries), and how many of
 * the detector's features the records cannot give here (*N_MISSING). Returns how many
 * TOP holds, -1 without a detector. */
int tui_suspicion_explain(tui_app *a, size_t rec, double *score, det_contrib *top, int k, int *n_missing);
void tui_suspicion_free(tui_app *a);

/* tui_break.c: after each generated token, whether to pause. */
void tui_break_check(tui_app *a, size_t rec);
void tui_break_continue(tui_app *a);

/* tui_heads.c: head roles (recomputed when the conversation has changed and no reply is
 * being written), the role filter, and a head's role label, short or in words. */
void tui_heads_update(tui_app *a);
const head_stats *tui_head_role(const tui_app *a, int layer, int head);
void tui_heads_cycle(tui_app *a);
const char *tui_role_label(head_role r);
const char *tui_role_words(head_role r);
void tui_heads_free(tui_app *a);

/* tui_branch.c: forking, listing and switching branches. */
/* Whether R is a token of a reply (what a branch can replace); else says why. */
bool tui_branch_can_fork(tui_app *a, const step_record *r);
/* Forks at the current record with token ID (-1: a new draw). */
void tui_branch_fork(tui_app *a, int32_t id);
void tui_branch_list(tui_app *a);           /* the tree as a sheet */
int tui_branch_switch(tui_app *a, int index);
void tui_branches_reset(tui_app *a);         /* /clear, /load: no tree any more */
void tui_branches_free(tui_app *a);
/* The record where the active branch left its parent, or -1. */
long tui_branch_fork_record(const tui_app *a);

/* tui_probe.c: sample continuations from the current record, one per main-loop turn. */
void tui_probe_step(tui_app *a);
void tui_probe_cancel(tui_app *a);
void tui_probe_free(tui_app *a);

/* tui_think.c: folding thinking blocks (the conversation pane draws them). */
/* think_marks() of the N records, malloc'd; NULL when there is no thinking to fold. */
uint8_t *tui_think_marks(const tui_app *a, size_t n);
/* Reply tokens in the block that starts at record FROM. */
size_t tui_think_block_tokens(const tui_app *a, const uint8_t *marks, size_t n, size_t from);

#endif
