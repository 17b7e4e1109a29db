/* tui_branch.c — branching: at any token of a reply, continue with another candidate
 * (or a new draw) instead, keep every version, and switch between them.
 *
 * The session holds one conversation: the active branch. A fork rewinds the session to
 * the chosen token (session_rewind keeps everything before it, KV cache included), puts
 * the new token there and lets the reply go on. The branch being left is remembered as
 * its list of steps — every record's token, and for reply tokens the sampler's account —
 * plus the messages the user sent, which is all it takes to rebuild it exactly.
 *
 * Switching rebuilds the target from the first token where it and the session differ:
 * when that is a token of a reply (the usual case: two versions of one reply) the
 * session is rewound there and only the rest is replayed; otherwise the conversation is
 * replayed from the start, like /load. Replayed tokens that were sampled keep the
 * sampler's account (session_restore_next), so the bars look as they did.
 *
 * The branches form a tree: each knows its parent and the record where it left it. The
 * tree goes away with /clear and /load. */
#include "tui_app.h"

#include <stdio.h>
#include <string.h>

static bool is_reply_token(const step_record *r) {
    return r && r->segment == SEG_ASSISTANT && r->has_prediction && r->pos > 0;
}

/* ---- remembering a branch ---- */

static void forget_contents(tui_branch *b) {
    free(b->steps);
    for (size_t i = 0; i < b->n_turns; i++) free(b->turn_text[i]);
    free(b->turn_text);
    free(b->turn_first);
    b->steps = NULL;
    b->turn_text = NULL;
    b->turn_first = NULL;
    b->n_steps = b->n_turns = 0;
}

/* The session as it stands, into B. False when out of memory (B is then empty). */
static bool snapshot(tui_app *a, tui_branch *b) {
    forget_contents(b);
    size_t n = session_n_records(a->s);
    b->steps = malloc((n ? n : 1) * sizeof *b->steps);
    b->turn_text = calloc(a->n_turns ? a->n_turns : 1, sizeof *b->turn_text);
    b->turn_first = malloc((a->n_turns ? a->n_turns : 1) * sizeof *b->turn_first);
    if (!b->steps || !b->turn_text || !b->turn_first) {
        forget_contents(b);
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        const step_record *r = session_record(a->s, i);
        b->steps[i] = (tui_step){
            .token = r->token,
            .reply = r->segment == SEG_ASSISTANT,
            .generated = r->generated,
            .reply_end = r->segment == SEG_TEMPLATE && r->has_prediction && tokenizer_is_eog(a->tok, r->token),
            .sample = r->sample,
            .params = r->params,
        };
    }
    b->n_steps = n;
    for (size_t t = 0; t < a->n_turns; t++) {
        b->turn_text[t] = strdup(a->turns[t].text);
        if (!b->turn_text[t]) {
            b->n_turns = t;
            forget_contents(b);
            return false;
        }
        b->turn_first[t] = a->turns[t].first_record;
        b->n_turns = t + 1;
    }
    return true;
}

static int new_branch(tui_app *a) {
    tui_branches *B = &a->branches;
    if (B->n == B->cap) {
        int cap = B->cap ? B->cap * 2 : 8;
        tui_branch *l = realloc(B->list, (size_t)cap * sizeof *l);
        if (!l) return -1;
        B->list = l;
        int *o = realloc(B->order, (size_t)cap * sizeof *o);
        if (!o) return -1;
        B->order = o;
        B->cap = cap;
    }
    memset(&B->list[B->n], 0, sizeof B->list[B->n]);
    B->list[B->n].parent = -1;
    return B->n++;
}

void tui_branches_reset(tui_app *a) {
    tui_branches *B = &a->branches;
    for (int i = 0; i < B->n; i++) forget_contents(&B->list[i]);
    B->n = 0;
    B->active = 0;
}

void tui_branches_free(tui_app *a) {
    tui_branches_reset(a);
    free(a->branches.list);
    free(a->branches.order);
    memset(&a->branches, 0, sizeof a->branches);
}

long tui_branch_fork_record(const tui_app *a) {
    const tui_branches *B = &a->branches;
    if (B->n == 0 || B->list[B->active].parent < 0) return -1;
    return (long)B->list[B->active].fork;
}

/* Forgets the TUI's notes of messages whose records start after REC. */
static void drop_turns_after(tui_app *a, size_t rec) {
    while (a->n_turns > 0 && a->turns[a->n_turns - 1].first_record > rec) free(a->turns[--a->n_turns].text);
}

static void stop_everything(tui_app *a) {
    if (a->probe.running) tui_probe_cancel(a);
    if (a->gen.generating) session_stop_reply(a->s);
    a->gen.generating = a->gen.paused = false;
    a->grab = NULL;
}

bool tui_branch_can_fork(tui_app *a, const step_record *r) {
    if (is_reply_token(r)) return true;
    tui_message(a, true, "branching works on the model's own tokens: move the cursor onto a token of a reply");
    return false;
}

/* ---- forking ---- */

void tui_branch_fork(tui_app *a, int32_t id) {
    size_t idx;
    const step_record *r = tui_current_record(a, &idx);
    a->grab = NULL;
    if (!tui_branch_can_fork(a, r)) return;
    if (id >= 0 && id == r->token) {
        tui_message(a, true, "that token is the one already there: pick another, or resample");
        return;
    }
    if (id < 0 && session_sampling(a->s)->temperature <= 0) {
        tui_message(a, true, "a new draw at temperature 0 is the same token again, so it cannot differ: /temp T first, "
                             "or pick another candidate (/branch N)");
        return;
    }
    int32_t old = r->token;
    stop_everything(a);
    tui_branches *B = &a->branches;
    if (B->n == 0) { /* the conversation so far becomes the root of the tree */
        if (new_branch(a) < 0) {
            tui_message(a, true, "out of memory for branches");
            return;
        }
        B->active = 0;
    }
    if (!snapshot(a, &B->list[B->active])) {
        tui_message(a, true, "out of memory remembering the branch");
        return;
    }
    int nb = new_branch(a);
    char err[256];
    if (nb < 0 || session_rewind(a->s, idx, err, sizeof err) < 0) {
        if (nb >= 0) B->n--;
        tui_message(a, true, "%s", nb < 0 ? "out of memory for branches" : err);
        return;
    }
    tui_branch *b = &B->list[nb];
    b->parent = B->active;
    b->fork = idx;
    b->old_token = old;
    b->resampled = id < 0;
    B->active = nb;
    drop_turns_after(a, idx);
    tui_records_changed(a);

    const step_record *made = NULL;
    int rc = id >= 0 ? session_force_next(a->s, id, &made, err, sizeof err) : session_next(a->s, &made, err, sizeof err);
    const step_record *at = session_record(a->s, idx);
    b->new_token = at ? at->token : -1;
    a->cursor = idx;
    char was[64], now[64];
    tui_piece_text(a, old, was, sizeof was);
    tui_piece_text(a, b->new_token, now, sizeof now);
    if (rc < 0) {
        session_stop_reply(a->s);
        tui_message(a, true, "branch %d: %s", nb, err);
        return;
    }
    if (rc == 1) {
        tui_start_generating(a);
        /* the reply's length so far, so that "reply: N tokens" counts all of it */
        for (size_t i = idx + 1; i-- > 0;) {
            const step_record *q = session_record(a->s, i);
            if (q->segment != SEG_ASSISTANT || q->turn != at->turn) break;
            a->gen.reply_tokens++;
        }
    }
    tui_message(a, false, "branch %d: '%s' instead of '%s' at position %zu%s", nb, now, was, idx,
                rc == 1 ? "; the reply goes on from there" : "; that token ends the reply");
}

void tui_cmd_branch(tui_app *a, const char *name, const char *args) {
    (void)name;
    size_t idx;
    const step_record *r = tui_current_record(a, &idx);
    if (!*args) {
        tui_message(a, true, "/branch N continues with candidate N of the bars, /branch resample with a new draw");
        return;
    }
    if (strcmp(args, "resample") == 0 || strcmp(args, "r") == 0) {
        tui_branch_fork(a, -1);
        return;
    }
    char *end;
    long k = strtol(args, &end, 10);
    while (*end == ' ') end++;
    if (!r || !r->has_prediction || end == args || *end) {
        tui_message(a, true, "/branch takes a candidate's number in the bars (1 is the likeliest) or resample");
        return;
    }
    const sample_result *s = &r->sample;
    bool after = tui_probs_after(a) && r->generated;
    const token_prob *list = after ? s->top_after : s->top_before;
    int n = s->n_top;
    if (after)
        for (int i = 0; i < n; i++)
            if (list[i].prob <= 0) n = i;
    if (k < 1 || k > n) {
        tui_message(a, true, "/branch takes a number from 1 to %d (the candidates in the bars)", n);
        return;
    }
    tui_branch_fork(a, list[k - 1].id);
}

/* ---- switching ---- */

/* Replays the steps of branch Y from record FROM on, starting with its message T; OPEN:
 * the session has a reply open (after a rewind). Returns 0 or -1 with ERR. */
static int replay(tui_app *a, const tui_branch *y, size_t from, size_t t, bool open, char *err, size_t errlen) {
    char why[256];
    size_t i = from;
    while (i < y->n_steps || t < y->n_turns) {
        if (t < y->n_turns && (y->turn_first[t] <= i || i >= y->n_steps)) {
            if (open) session_stop_reply(a->s);
            size_t first = session_n_records(a->s);
            if (session_begin_reply(a->s, y->turn_text[t], why, sizeof why) != 0) {
                snprintf(err, errlen, "replaying message %zu: %s", t + 1, why);
                return -1;
            }
            tui_turns_push(a, y->turn_text[t], first);
            open = true;
            t++;
            i = session_n_records(a->s);
            continue;
        }
        const tui_step *st = &y->steps[i++];
        /* given tokens come from the messages; while a reply is open, every step up to the
         * next message is the reply's, its end-of-turn token included */
        if (!open || (!st->reply && !st->reply_end)) continue;
        const step_record *r;
        int rc = st->generated ? session_restore_next(a->s, st->token, &st->sample, &st->params, &r, why, sizeof why)
                               : session_force_next(a->s, st->token, &r, why, sizeof why);
        if (rc < 0) {
            snprintf(err, errlen, "replaying the token at position %zu: %s", i - 1, why);
            return -1;
        }
        if (rc == 0) open = false;
    }
    if (open) session_stop_reply(a->s);
    return 0;
}

int tui_branch_switch(tui_app *a, int index) {
    tui_branches *B = &a->branches;
    if (B->n == 0) {
        tui_message(a, true, "no branches yet: 'b' on a reply token (or /branch N) makes one");
        return -1;
    }
    if (index < 0 || index >= B->n) {
        tui_message(a, true, "there is no branch %d (0 to %d)", index, B->n - 1);
        return -1;
    }
    if (index == B->active) {
        tui_message(a, false, "already on branch %d", index);
        return 0;
    }
    stop_everything(a);
    if (!snapshot(a, &B->list[B->active])) {
        tui_message(a, true, "out of memory remembering the branch");
        return -1;
    }
    const tui_branch *y = &B->list[index];
    size_t n = session_n_records(a->s), d = 0;
    while (d < n && d < y->n_steps && session_record(a->s, d)->token == y->steps[d].token) d++;
    tui_message(a, false, "rebuilding branch %d...", index);
    tui_draw_now(a);
    const step_record *at = d < n ? session_record(a->s, d) : NULL;
    bool rewind = is_reply_token(at) && (d == y->n_steps || y->steps[d].reply || y->steps[d].reply_end);
    char err[300];
    size_t t = 0;
    int rc = 0;
    if (rewind) {
        rc = session_rewind(a->s, d, err, sizeof err);
        drop_turns_after(a, d);
        t = a->n_turns;
    }
    if (!rewind || rc < 0) { /* from the start, like /load */
        session_clear(a->s);
        while (a->n_turns) free(a->turns[--a->n_turns].text);
        d = 0;
        t = 0;
    }
    B->active = index;
    tui_records_changed(a);
    rc = replay(a, y, d, t, rewind && rc == 0, err, sizeof err);
    a->mode = MODE_INSPECT;
    a->cursor = d < session_n_records(a->s) ? d : session_n_records(a->s) ? session_n_records(a->s) - 1 : 0;
    if (rc < 0) {
        tui_message(a, true, "branch %d: %s", index, err);
        return -1;
    }
    /* the rebuilt conversation must be the remembered one, token for token */
    bool same = session_n_records(a->s) == y->n_steps;
    for (size_t i = 0; same && i < y->n_steps; i++) same = session_record(a->s, i)->token == y->steps[i].token;
    if (!same) {
        tui_message(a, true, "branch %d rebuilt, but its tokens came out different (a chat template that renders history anew?)",
                    index);
        return -1;
    }
    tui_message(a, false, "on branch %d (%zu tokens); it differs from the last one at position %zu", index,
                y->n_steps, d);
    return 0;
}

/* ---- the list ---- */

static void switch_to_item(tui_app *a, int item) { tui_branch_switch(a, a->branches.order[item]); }

static const tui_sheet_class tui_sheet_branches = {.name = "branches", .enter = switch_to_item};

static int depth_of(const tui_branches *B, int i) {
    int d = 0;
    while (B->list[i].parent >= 0 && d < B->n) i = B->list[i].parent, d++;
    return d;
}

/* Depth-first order from branch I: children in the order they were made. */
static void order_from(tui_branches *B, int i, int *n) {
    B->order[(*n)++] = i;
    for (int c = 0; c < B->n; c++)
        if (B->list[c].parent == i) order_from(B, c, n);
}

/* What the branch says from its fork on: the start of its text, on one line. */
static void preview(tui_app *a, int index, char *out, size_t cap) {
    const tui_branches *B = &a->branches;
    const tui_branch *b = &B->list[index];
    bool live = index == B->active;
    size_t n = live ? session_n_records(a->s) : b->n_steps, o = 0;
    for (size_t i = b->fork; i < n && o + 1 < cap; i++) {
        char piece[64];
        int32_t id = live ? session_record(a->s, i)->token : b->steps[i].token;
        if (live ? session_record(a->s, i)->segment == SEG_TEMPLATE : !b->steps[i].reply) {
            if (o && out[o - 1] != ' ') out[o++] = ' ';
            continue;
        }
        int len = tokenizer_piece(a->tok, id, piece, sizeof piece);
        for (int k = 0; k < len && k < (int)sizeof piece && o + 1 < cap; k++)
            out[o++] = piece[k] == '\n' || piece[k] == '\t' ? ' ' : piece[k];
    }
    out[o] = 0;
}

void tui_branch_list(tui_app *a) {
    tui_branches *B = &a->branches;
    if (B->n == 0) {
        tui_message(a, false, "no branches yet: 'b' on a reply token (or /branch N) makes one");
        return;
    }
    tui_sheet *sh = &a->sheet;
    tui_sheet_reset(sh, &tui_sheet_branches);
    snprintf(sh->title, sizeof sh->title, "Branches (%d)  * = the one shown", B->n);
    snprintf(sh->footer, sizeof sh->footer, "Up/Down pick  Enter switches  Esc closes  (/switch N does it directly)");
    int n = 0;
    for (int i = 0; i < B->n; i++)
        if (B->list[i].parent < 0) order_from(B, i, &n);
    for (int k = 0; k < n; k++) {
        int i = B->order[k];
        const tui_branch *b = &B->list[i];
        tui_sheet_line_begin(sh, k);
        bool active = i == B->active;
        tui_sheet_text(sh, active ? TC_CHOSEN : TC_NORMAL, "%s %2d ", active ? "*" : " ", i);
        int depth = depth_of(B, i);
        if (depth > 0) tui_sheet_text(sh, TC_DIM, "%*s%s ", 2 * (depth - 1), "", MB_CUR_MAX > 1 ? "\xe2\x94\x94" : "`");
        if (b->parent < 0) {
            tui_sheet_text(sh, TC_NORMAL, "the first version");
        } else {
            char was[64], now[64];
            tui_piece_text(a, b->old_token, was, sizeof was);
            tui_piece_text(a, b->new_token, now, sizeof now);
            tui_sheet_token(sh, TC_CHOSEN, now, 14);
            tui_sheet_text(sh, TC_DIM, b->resampled ? " (new draw) for " : " for ");
            tui_sheet_token(sh, TC_NORMAL, was, 14);
            tui_sheet_text(sh, TC_DIM, " @%zu", b->fork);
        }
        size_t len = active ? session_n_records(a->s) : b->n_steps;
        tui_sheet_col(sh, 44);
        tui_sheet_text(sh, TC_DIM, "%5zu tok  ", len);
        char text[256];
        preview(a, i, text, sizeof text);
        tui_sheet_text(sh, TC_NORMAL, "%s", text);
        if (active) sh->selected = k;
    }
    a->dirty = true;
}

void tui_cmd_branches(tui_app *a, const char *name, const char *args) {
    (void)name, (void)args;
    tui_branch_list(a);
}

void tui_cmd_switch(tui_app *a, const char *name, const char *args) {
    char *end;
    long k = strtol(args, &end, 10);
    while (*end == ' ') end++;
    (void)name;
    if (!*args || *end || k < 0 || k > 1 << 20) tui_message(a, true, "/switch takes a branch number (/branches lists them)");
    else tui_branch_switch(a, (int)k);
}
