/* tui_pane.h — the panes of the screen: what a pane is, and the registry that holds them
 * (included by tui_app.h; private to ui/tui*.c).
 *
 * Modelled on htop's panels and meters: a pane is a small object with its own state and
 * a class of callbacks, and the screen is the list of panes in tui_panes.def. Every
 * frame the layout gives each pane of the list its rectangle (by area, in list order),
 * then every shown pane is updated (the only place a pane changes its state or the
 * app's) and drawn (paints its rectangle from that state and nothing else). Keys go to
 * the panes in list order until one takes it; a mouse press goes to the pane under it.
 *
 * Adding a pane takes its own file and one line in tui_panes.def:
 *
 *     typedef struct router_state { ... } router_state;
 *     static void router_update(tui_app *a, tui_pane *p) { router_state *st = p->st; ... }
 *     static void router_draw(const tui_app *a, const tui_pane *p) { ... p->r ... }
 *     static int router_rows(const tui_app *a, const tui_pane *p, int w, int avail) {
 *         return model_is_moe(a->m) ? 6 : 0;   // 0: not shown for this model
 *     }
 *     const tui_pane_class tui_pane_router = {
 *         .name = "router", .area = TUI_RIGHT, .rule_above = true,
 *         .state_size = sizeof(router_state), .rows = router_rows,
 *         .update = router_update, .draw = router_draw,
 *     };
 *
 * and TUI_PANE(router) placed in tui_panes.def where it goes top to bottom (between
 * attention and probs, say). Per-record results that are costly to compute go into the
 * shared cache: set .rec_size and ask tui_cache_slot() for a record's bytes; the cache
 * forgets everything when the records change (tui_records_changed). */
#ifndef LLMSCOPE_TUI_PANE_H
#define LLMSCOPE_TUI_PANE_H

/* One key: a KEY_* code (arrows, function keys) or a character. MODAL: a sheet is open
 * (or help), so only keys that act from anywhere (F2..F9) may be taken. */
typedef struct tui_key {
    bool is_key;
    wint_t ch;
    bool modal;
} tui_key;

static inline bool tui_key_is(tui_key k, wint_t ch) { return !k.is_key && k.ch == ch; }
static inline bool tui_key_code(tui_key k, int code) { return k.is_key && k.ch == (wint_t)code; }

typedef enum {
    TUI_LEFT,   /* the conversation column */
    TUI_RIGHT,  /* the inspection column (only on a terminal of TUI_MIN_COLS x TUI_MIN_ROWS) */
    TUI_BOTTOM  /* full-width rows at the bottom (messages, status bar) */
} tui_area;

#define TUI_FILL (-1) /* rows(): a share (weight) of what its area has left */
#define TUI_MAX_PANES 16

typedef struct tui_pane tui_pane;

typedef struct tui_pane_class {
    const char *name;
    tui_area area;
    int weight;            /* TUI_FILL panes: their share of the rows left in the area */
    bool rule_above;       /* a rule separates it from the pane above it */
    bool always;           /* shown on a small terminal too (left and bottom areas) */
    size_t state_size;     /* its own state: allocated zeroed, then init() */
    size_t rec_size;       /* its bytes per record in the shared cache (0: none) */
    /* Every callback may be NULL. */
    void (*init)(tui_app *a, tui_pane *p);
    void (*fini)(tui_app *a, tui_pane *p);
    /* Rows it wants given the area's WIDTH and height AVAIL: a count, TUI_FILL, or 0 to
     * be left out this frame. NULL: TUI_FILL. */
    int (*rows)(const tui_app *a, const tui_pane *p, int width, int avail);
    /* Before drawing: bring its state up to date (may change the app: scroll, clamp). */
    void (*update)(tui_app *a, tui_pane *p);
    /* Paints p->r from its state; changes nothing. */
    void (*draw)(const tui_app *a, const tui_pane *p);
    /* A key; true if it was used. */
    bool (*key)(tui_app *a, tui_pane *p, tui_key k);
    /* A mouse press at screen cell (Y, X) inside p->r; true if it was used. */
    bool (*click)(tui_app *a, tui_pane *p, int y, int x, mmask_t button);
} tui_pane_class;

struct tui_pane {
    const tui_pane_class *cls;
    tui_rect r;            /* where the last layout put it; h == 0: not shown */
    void *st;              /* cls->state_size bytes */
    int index;             /* place in the registry (its column of the cache) */
};

/* Every pane class, declared from the list. */
#define TUI_PANE(name) extern const tui_pane_class tui_pane_##name;
#include "tui_panes.def"
#undef TUI_PANE

/* ---- the registry (tui_panes.c) ---- */

/* Creates every pane of the list. False when out of memory. */
bool tui_panes_init(tui_app *a);
void tui_panes_free(tui_app *a);
/* The pane of class CLS (always there: every class of the list has one). */
tui_pane *tui_pane_of(const tui_app *a, const tui_pane_class *cls);
static inline bool tui_pane_shown(const tui_pane *p) { return p->r.h > 0 && p->r.w > 0; }
/* Lays every pane out for the terminal's size. */
void tui_panes_layout(tui_app *a);
/* Updates, then draws, every shown pane, and the rules between them. */
void tui_panes_update(tui_app *a);
void tui_panes_draw(const tui_app *a);
/* A key to every pane in list order; true once one used it. */
bool tui_panes_key(tui_app *a, tui_key k);
/* A mouse press to the pane under it. */
bool tui_panes_click(tui_app *a, int y, int x, mmask_t button);

/* ---- the shared per-record cache ----
 *
 * Each pane with rec_size > 0 has rec_size bytes per record, zeroed until first asked
 * for. Everything is forgotten when app->epoch changes (records replaced). */
typedef struct tui_cache_column {
    unsigned char *data;
    uint8_t *have;
    size_t cap;
} tui_cache_column;

typedef struct tui_cache {
    unsigned epoch;
    tui_cache_column col[TUI_MAX_PANES];
} tui_cache;

/* Pane P's bytes for record REC, or NULL (out of range, out of memory). *FRESH is set
 * when they were not asked for before since the records changed: the caller fills them. */
void *tui_cache_slot(tui_app *a, const tui_pane *p, size_t rec, bool *fresh);
void tui_cache_free(tui_cache *c);

#endif
