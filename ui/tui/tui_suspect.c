/* tui_suspect.c — looking for the bad token.
 *
 * Each finished reply gets a one-line summary in the conversation (tui_chat.c draws it):
 * its least likely token, its most uncertain one (highest entropy) and how many tokens
 * the grounding meter flags (low grounding with high entropy), or, when the model has a
 * detector, the detector's score of the whole reply and whether its running score
 * reached the threshold while the reply was written. `n` while inspecting (or
 * /lowest) moves the cursor to the least likely token of the reply it is in, then to the
 * next least likely, and so on; `N` (/lowest back) goes the other way. "Likely" is the
 * model's own probability of the token (the trace's "prob"), before the sampler. */
#include "tui_app.h"

#include <stdio.h>
#include <string.h>

static bool is_reply(const step_record *r, int turn) {
    return r && r->segment == SEG_ASSISTANT && r->has_prediction && r->turn == turn;
}

bool tui_reply_at(const tui_app *a, size_t rec, size_t *first, size_t *last) {
    size_t n = session_n_records(a->s), i = rec < n ? rec : n ? n - 1 : 0;
    if (n == 0) return false;
    while (i > 0 && session_record(a->s, i)->segment != SEG_ASSISTANT) i--;
    const step_record *r = session_record(a->s, i);
    if (!is_reply(r, r->turn)) return false;
    size_t f = i, l = i;
    while (f > 0 && is_reply(session_record(a->s, f - 1), r->turn)) f--;
    while (l + 1 < n && is_reply(session_record(a->s, l + 1), r->turn)) l++;
    *first = f;
    *last = l;
    return true;
}

bool tui_reply_summary(tui_app *a, size_t first, size_t last, char *out, size_t cap) {
    size_t low = first, unsure = first;
    int flagged = 0;
    for (size_t i = first; i <= last; i++) {
        const step_record *r = session_record(a->s, i);
        if (r->sample.prob_before < session_record(a->s, low)->sample.prob_before) low = i;
        if (r->sample.entropy_before > session_record(a->s, unsure)->sample.entropy_before) unsure = i;
        const grounding *g = tui_grounding(a, i);
        flagged += g && g->flagged;
    }
    const step_record *lr = session_record(a->s, low), *ur = session_record(a->s, unsure);
    char lt[96], ut[96], p[16];
    tui_visible_token(lr->text, lt, sizeof lt);
    tui_visible_token(ur->text, ut, sizeof ut);
    tui_pct(p, sizeof p, lr->sample.prob_before);
    /* with a detector: the reply's score, flagged when the running score reached the
     * threshold anywhere (a '!' in the meter), which is what the threshold is set for */
    char verdict[64];
    double score, peak = 0, s;
    if (tui_suspicion_at(a, last, &score)) {
        for (size_t i = first; i <= last; i++)
            if (tui_suspicion_at(a, i, &s) && s > peak) peak = s;
        snprintf(verdict, sizeof verdict, "suspicion %.2f%s", score,
                 peak >= a->opt->detector->threshold ? " (flagged)" : "");
    } else {
        snprintf(verdict, sizeof verdict, "%d flagged", flagged);
    }
    snprintf(out, cap, "least likely %s %s at %zu, most unsure %s %.2f nats at %zu, %s (n: go there)", lt, p, low, ut,
             (double)ur->sample.entropy_before, unsure, verdict);
    return true;
}

/* The reply's records by probability, least likely first (ties: earlier first). */
static size_t order_by_prob(const tui_app *a, size_t first, size_t last, size_t *out) {
    size_t n = 0;
    for (size_t i = first; i <= last; i++) {
        size_t j = n++;
        float p = session_record(a->s, i)->sample.prob_before;
        while (j > 0 && session_record(a->s, out[j - 1])->sample.prob_before > p) out[j] = out[j - 1], j--;
        out[j] = i;
    }
    return n;
}

/* Moves the cursor to the next least likely token of the reply it is in (DIR 1), or the
 * one before in that order (DIR -1). */
static void jump(tui_app *a, int dir) {
    size_t cur, first, last;
    if (!tui_current_record(a, &cur) || !tui_reply_at(a, cur, &first, &last)) {
        tui_message(a, true, "no reply yet: n goes to the least likely token of a reply");
        return;
    }
    size_t *order = malloc((last - first + 1) * sizeof *order);
    if (!order) return;
    size_t n = order_by_prob(a, first, last, order), k = n;
    /* the next one after where n last went; anywhere else, the least likely first */
    bool again = tui_on_cursor(a) && a->jumped_to == (long)cur;
    for (size_t i = 0; i < n && again; i++)
        if (order[i] == cur) k = i;
    size_t next = k == n ? 0 : dir > 0 ? (k + 1 < n ? k + 1 : k) : (k > 0 ? k - 1 : 0);
    size_t rec = order[next];
    free(order);
    tui_inspect_at(a, rec);
    a->jumped_to = (long)rec;
    const step_record *r = session_record(a->s, rec);
    char p[16], t[96];
    tui_pct(p, sizeof p, r->sample.prob_before);
    tui_visible_token(r->text, t, sizeof t);
    tui_message(a, false, "least likely no. %zu of this reply's %zu tokens: %s %s at %zu (n: the next, N: back)", next + 1,
                n, t, p, rec);
}

void tui_cmd_lowest(tui_app *a, const char *name, const char *args) {
    (void)name;
    jump(a, strcmp(args, "back") == 0 ? -1 : 1);
}
