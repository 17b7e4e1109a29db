/* thinking.c — see thinking.h.
 *
 * One pass over the records, turn by turn, keeping the last bytes of the turn's text in
 * a small window so that a marker split over several tokens ("<", "think", ">") is still
 * seen; when one completes, every record holding part of it is marked. */
#include "thinking.h"

#include <limits.h>
#include <string.h>

static const char *const OPEN[] = {"<think>", "<|channel>thought", "<|channel|>analysis<|message|>"};
static const char *const CLOSE[] = {"</think>", "<channel|>", "<|end|>"};

#define WINDOW 64 /* bytes of the turn's text kept: more than the longest marker */
#define RECENT 64 /* records remembered, to mark every piece of a split marker */

typedef struct scan {
    char win[WINDOW];
    size_t len;            /* bytes in win */
    size_t end;            /* the turn's text so far, in bytes: win holds [end - len, end) */
    size_t rec[RECENT], start[RECENT];
    size_t n_recent;       /* ring of the last records and where their text starts */
    bool open;
} scan;

static void remember(scan *sc, size_t rec, size_t start) {
    sc->rec[sc->n_recent % RECENT] = rec;
    sc->start[sc->n_recent % RECENT] = start;
    sc->n_recent++;
}

static void append(scan *sc, const char *text, size_t n) {
    if (n >= WINDOW) {
        memcpy(sc->win, text + n - WINDOW, WINDOW);
        sc->len = WINDOW;
    } else {
        size_t keep = sc->len + n > WINDOW ? WINDOW - n : sc->len;
        memmove(sc->win, sc->win + sc->len - keep, keep);
        memcpy(sc->win + keep, text, n);
        sc->len = keep + n;
    }
    sc->end += n;
}

/* A marker of LIST that ends in the last N bytes of the window: its start in the turn's
 * text, or SIZE_MAX. The latest-ending one wins. */
static size_t find_marker(const scan *sc, size_t n, const char *const *list, size_t count, size_t *ends) {
    size_t best = SIZE_MAX, best_end = 0;
    for (size_t k = 0; k < count; k++) {
        size_t m = strlen(list[k]);
        for (size_t e = sc->len; e >= m && e + n > sc->len; e--) {
            if (memcmp(sc->win + e - m, list[k], m) != 0) continue;
            if (e > best_end) best_end = e, best = sc->end - sc->len + e - m;
            break;
        }
    }
    *ends = best_end;
    return best;
}

/* Marks the records that hold any byte from FROM on as markers. */
static void mark_pieces(const scan *sc, size_t from, uint8_t *out) {
    size_t first = sc->n_recent > RECENT ? sc->n_recent - RECENT : 0;
    for (size_t k = sc->n_recent; k-- > first;) {
        out[sc->rec[k % RECENT]] = THINK_MARKER;
        if (sc->start[k % RECENT] <= from) break;
    }
}

void think_marks(const inspect_view *v, uint8_t *out) {
    size_t n = inspect_n_records(v);
    scan sc = {0};
    int turn = INT_MIN;
    for (size_t i = 0; i < n; i++) {
        const step_record *r = inspect_record(v, i);
        out[i] = THINK_NONE;
        if (!r || (r->segment != SEG_TEMPLATE && r->segment != SEG_ASSISTANT) || r->turn != turn) {
            sc = (scan){0}; /* a new turn, or someone else's text: no block open */
            turn = r ? r->turn : INT_MIN;
            if (!r || (r->segment != SEG_TEMPLATE && r->segment != SEG_ASSISTANT)) continue;
        }
        bool was_open = sc.open;
        size_t len = r->text ? strlen(r->text) : 0;
        remember(&sc, i, sc.end);
        append(&sc, r->text ? r->text : "", len);
        size_t open_end, close_end;
        size_t open_at = find_marker(&sc, len, OPEN, sizeof OPEN / sizeof OPEN[0], &open_end);
        size_t close_at = find_marker(&sc, len, CLOSE, sizeof CLOSE / sizeof CLOSE[0], &close_end);
        if (open_at != SIZE_MAX && (close_at == SIZE_MAX || open_end > close_end)) {
            sc.open = true;
            mark_pieces(&sc, open_at, out);
        } else if (close_at != SIZE_MAX && (was_open || open_at != SIZE_MAX)) {
            sc.open = false;
            mark_pieces(&sc, close_at, out);
        } else if (was_open) {
            out[i] = THINK_TEXT;
        }
    }
}
