/* tui_probe.c — fork and probe: how settled was the model at this token?
 *
 * "/probe [N] [LEN]" (or 'p' while inspecting) samples N continuations (default 8) of
 * up to LEN tokens (default 24) from the point where the token under the cursor was
 * chosen — each one draws that token afresh, then goes on — and shows how much they
 * disagree: how many different continuations, how many share the most common one, and
 * the token where they split (inspect_probe_summary). A model that knows the answer
 * says the same thing eight times; one that is making it up does not.
 *
 * The continuations run on a second engine of the same model (inspect_probe_run), so the
 * conversation's cache is untouched. One continuation is sampled per turn of the main
 * loop, so keys (Ctrl-C cancels) are read between them. Sampling uses the session's
 * settings with seeds seed, seed+1, ...; at temperature 0 every draw would be the same,
 * so a greedy session is probed at temperature 1. */
#include "tui_app.h"

#include <stdio.h>
#include <string.h>

#define PROBE_DEFAULT_N 8
#define PROBE_DEFAULT_LEN 24
#define PROBE_MAX_LEN 512

void tui_probe_free(tui_app *a) {
    tui_probe *p = &a->probe;
    for (int i = 0; i < TUI_PROBE_MAX; i++) {
        free(p->seqs[i]);
        p->seqs[i] = NULL;
        p->lens[i] = 0;
    }
    free(p->prefix);
    p->prefix = NULL;
    p->running = false;
}

void tui_probe_cancel(tui_app *a) {
    if (!a->probe.running) return;
    tui_message(a, false, "probe stopped after %d of %d continuations", a->probe.done, a->probe.n);
    tui_probe_free(a);
}

void tui_cmd_probe(tui_app *a, const char *name, const char *args) {
    (void)name;
    long n = PROBE_DEFAULT_N, len = PROBE_DEFAULT_LEN;
    char *end;
    if (*args) {
        n = strtol(args, &end, 10);
        while (*end == ' ') end++;
        if (*end) {
            const char *rest = end;
            len = strtol(rest, &end, 10);
            while (*end == ' ') end++;
            if (end == rest || *end) n = -1;
        }
    }
    if (n < 2 || n > TUI_PROBE_MAX || len < 1 || len > PROBE_MAX_LEN) {
        tui_message(a, true, "/probe [N] [LEN]: N continuations from 2 to %d (default %d) of up to LEN tokens, 1 to %d (default %d)",
                    TUI_PROBE_MAX, PROBE_DEFAULT_N, PROBE_MAX_LEN, PROBE_DEFAULT_LEN);
        return;
    }
    size_t idx;
    const step_record *r = tui_current_record(a, &idx);
    if (!r || !r->has_prediction || idx == 0) {
        tui_message(a, true, "nothing to probe: move the cursor onto a token that the model predicted");
        return;
    }
    char err[256];
    engine *e = tui_spare_engine(a, err, sizeof err);
    if (!e) {
        tui_message(a, true, "probe: %s", err);
        return;
    }
    if ((long)idx + len > e->n_ctx) len = e->n_ctx - (long)idx;
    if (len < 1) {
        tui_message(a, true, "probe: no room left in the context after position %zu", idx);
        return;
    }
    tui_probe_free(a);
    tui_probe *p = &a->probe;
    p->prefix = malloc(idx * sizeof *p->prefix);
    if (!p->prefix) {
        tui_message(a, true, "out of memory for the probe");
        return;
    }
    for (size_t i = 0; i < idx; i++) p->prefix[i] = session_record(a->s, i)->token;
    p->n_prefix = (int)idx;
    p->rec = idx;
    p->n = (int)n;
    p->done = 0;
    p->max_tokens = (int)len;
    p->params = *session_sampling(a->s);
    if (p->params.temperature <= 0) p->params.temperature = 1.0f;
    p->running = true;
    p->t0 = tui_now();
    tui_message(a, false, "probing position %zu: 0 of %d continuations (Ctrl-C stops)", idx, p->n);
}

/* Appends the text of tokens SEQ[FROM..TO) to the sheet's current line. */
static void add_text(tui_app *a, const int32_t *seq, int from, int to, tui_role role) {
    char buf[1024];
    size_t o = 0;
    for (int i = from; i < to && o + 1 < sizeof buf; i++) {
        char piece[128];
        int n = tokenizer_piece(a->tok, seq[i], piece, sizeof piece);
        for (int k = 0; k < n && k < (int)sizeof piece && o + 1 < sizeof buf; k++) buf[o++] = piece[k];
    }
    buf[o] = 0;
    /* bytes of a character cut at the end would show as U+FFFD: fine for a preview */
    if (o) tui_sheet_text(&a->sheet, role, "%s", buf);
}

static void show_result(tui_app *a) {
    tui_probe *p = &a->probe;
    probe_summary ps;
    inspect_probe_summary((const int32_t *const *)p->seqs, p->lens, p->n, &ps);
    tui_sheet *sh = &a->sheet;
    tui_sheet_reset(sh, &tui_sheet_plain);
    const step_record *r = session_record(a->s, p->rec);
    char tok[64] = "?";
    if (r) tui_piece_text(a, r->token, tok, sizeof tok);
    snprintf(sh->title, sizeof sh->title, "Probe: %d continuations from position %zu (where '%s' was chosen)", p->n,
             p->rec, tok);
    snprintf(sh->footer, sizeof sh->footer, "Up/Down scroll  Esc closes  (/probe N LEN for more or longer ones)");
    tui_sheet_line_begin(sh, -1);
    tui_sheet_text(sh, TC_DIM, "T %.2g  top-k %d  top-p %.3g  min-p %.3g  seeds %llu..%llu, up to %d tokens, %.2f s",
                   (double)p->params.temperature, p->params.top_k, (double)p->params.top_p, (double)p->params.min_p,
                   (unsigned long long)p->params.seed, (unsigned long long)p->params.seed + (unsigned long long)p->n - 1,
                   p->max_tokens, tui_now() - p->t0);
    tui_sheet_line_begin(sh, -1);
    tui_sheet_text(sh, ps.n_distinct == 1 ? TC_INFO : ps.agreement < 0.5f ? TC_ERROR : TC_NORMAL,
                   "%d distinct of %d; the most common one %d times (%.0f%% agreement)", ps.n_distinct, ps.n, ps.majority,
                   100.0 * ps.agreement);
    tui_sheet_line_begin(sh, -1);
    if (ps.split < 0) {
        tui_sheet_text(sh, TC_NORMAL, "all the same: the model is settled here");
    } else {
        tui_sheet_text(sh, TC_NORMAL, "they split at token %d of the continuation (position %zu), into %d different tokens",
                       ps.split + 1, p->rec + (size_t)ps.split, ps.n_at_split);
        if (ps.split == 0) tui_sheet_text(sh, TC_DIM, ": at this very token");
    }

    tui_sheet_heading(sh, "Continuations (shared start dim; from the split on bright), most common first");
    /* distinct sequences, each once, by how many share it */
    bool *shown = calloc((size_t)p->n, sizeof *shown);
    if (!shown) return;
    for (int round = 0; round < p->n; round++) {
        int best = -1, best_count = 0;
        for (int i = 0; i < p->n; i++) {
            if (shown[i]) continue;
            int count = 0;
            for (int j = 0; j < p->n; j++)
                count += p->lens[i] == p->lens[j] && memcmp(p->seqs[i], p->seqs[j], (size_t)p->lens[i] * sizeof(int32_t)) == 0;
            if (count > best_count) best = i, best_count = count;
        }
        if (best < 0) break;
        for (int j = 0; j < p->n; j++)
            if (p->lens[best] == p->lens[j] && memcmp(p->seqs[best], p->seqs[j], (size_t)p->lens[j] * sizeof(int32_t)) == 0)
                shown[j] = true;
        tui_sheet_line_begin(sh, -1);
        tui_sheet_text(sh, TC_DIM, "%2dx  ", best_count);
        int split = ps.split < 0 ? p->lens[best] : ps.split < p->lens[best] ? ps.split : p->lens[best];
        add_text(a, p->seqs[best], 0, split, TC_DIM);
        add_text(a, p->seqs[best], split, p->lens[best], TC_CHOSEN);
    }
    free(shown);
    /* what the conversation itself says from there, for comparison */
    size_t n_rec = session_n_records(a->s);
    int32_t said[PROBE_MAX_LEN];
    int n_said = 0;
    for (size_t i = p->rec; i < n_rec && n_said < p->max_tokens; i++) {
        const step_record *ri = session_record(a->s, i);
        if (ri->segment != SEG_ASSISTANT) break;
        said[n_said++] = ri->token;
    }
    if (n_said) {
        tui_sheet_line_begin(sh, -1);
        tui_sheet_line_begin(sh, -1);
        tui_sheet_text(sh, TC_DIM, "the reply:  ");
        add_text(a, said, 0, n_said, TC_NORMAL);
    }
    a->dirty = true;
}

void tui_probe_step(tui_app *a) {
    tui_probe *p = &a->probe;
    if (!p->running) return;
    char err[256];
    engine *e = tui_spare_engine(a, err, sizeof err);
    sampler_params sp = p->params;
    sp.seed = p->params.seed + (uint64_t)p->done;
    if (!e || inspect_probe_run(e, a->tok, p->prefix, p->n_prefix, &sp, 1, p->max_tokens, &p->seqs[p->done],
                                &p->lens[p->done], err, sizeof err) < 0) {
        tui_message(a, true, "probe: %s", err);
        tui_probe_free(a);
        return;
    }
    p->done++;
    a->dirty = true;
    if (p->done < p->n) {
        tui_message(a, false, "probing position %zu: %d of %d continuations (Ctrl-C stops)", p->rec, p->done, p->n);
        return;
    }
    show_result(a);
    tui_message(a, false, "probe done: %d continuations from position %zu", p->n, p->rec);
    tui_probe_free(a);
}
