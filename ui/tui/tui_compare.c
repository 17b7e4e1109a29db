/* tui_compare.c — "/compare OTHER.gguf": would another model have said the same?
 *
 * The conversation's tokens are re-scored teacher-forced by both this model (on the
 * second engine, so the session's cache is untouched) and the other one, exactly as
 * `llmscope replay` does (replay_compare in ui/cli/replay_cmd.c): for every token of a reply,
 * the KL divergence between the two next-token distributions that chose it, each model's
 * probability of it, and their top-1 tokens. The sheet gives the summary (mean and
 * largest KL, top-1 agreement, the first position where the top-1s differ) and the
 * per-token table. The other model must use the same vocabulary (same id, same text).
 *
 * Loading the other model and scoring is one blocking step; the status line says so
 * before it starts. */
#include "tui_app.h"

#include "cli.h"
#include "replay_cmd.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static void show(tui_app *a, const char *other_path, const replay_result *res, bool all) {
    tui_sheet *sh = &a->sheet;
    tui_sheet_reset(sh, &tui_sheet_plain);
    const char *base = strrchr(other_path, '/');
    base = base ? base + 1 : other_path;
    snprintf(sh->title, sizeof sh->title, "Compare with %.160s: %d %s re-scored", base, res->n,
             all ? "positions" : "reply tokens");
    snprintf(sh->footer, sizeof sh->footer, "Up/Down PgUp/PgDn scroll  Esc closes");
    tui_sheet_line_begin(sh, -1);
    tui_sheet_text(sh, TC_NORMAL, "mean KL(this model || %s) %.4f nats", base, res->mean_kl);
    if (res->max_kl_pos >= 0) {
        tui_sheet_text(sh, TC_NORMAL, "   largest %.4f at position %d ", res->max_kl, res->max_kl_pos);
        tui_sheet_token(sh, TC_CHOSEN, tui_record_text(a, res->max_kl_pos), 16);
    }
    tui_sheet_line_begin(sh, -1);
    tui_sheet_text(sh, res->agree == res->n ? TC_INFO : TC_NORMAL, "top-1 agreement %d of %d (%.0f%%)", res->agree, res->n,
                   res->n ? 100.0 * res->agree / res->n : 100.0);
    if (res->first_divergence >= 0) {
        tui_sheet_text(sh, TC_ERROR, "   first divergence at position %d ", res->first_divergence);
        tui_sheet_token(sh, TC_CHOSEN, tui_record_text(a, res->first_divergence), 16);
    } else {
        tui_sheet_text(sh, TC_NORMAL, "   no divergence: the same top token everywhere");
    }
    if (res->trace_prob_err > 1e-3) {
        tui_sheet_line_begin(sh, -1);
        tui_sheet_text(sh, TC_ERROR, "note: re-scored, this model's probabilities differ from the recorded ones by up to %.4f",
                       res->trace_prob_err);
    }
    tui_sheet_heading(sh, "  pos  token              KL       p here   p other   top here        top other");
    for (int i = 0; i < res->n; i++) {
        const replay_token *t = &res->tok[i];
        char p1[16], p2[16];
        bool differ = t->top_base != t->top_other;
        tui_sheet_line_begin(sh, -1);
        tui_sheet_text(sh, differ ? TC_ERROR : TC_DIM, "%5d  ", t->pos);
        tui_sheet_token(sh, TC_NORMAL, tui_record_text(a, t->pos), 16);
        tui_sheet_col(sh, 25);
        tui_sheet_text(sh, TC_NORMAL, "%8.4f", t->kl);
        tui_sheet_col(sh, 36);
        tui_pct(p1, sizeof p1, exp(t->logp_base));
        tui_pct(p2, sizeof p2, exp(t->logp_other));
        tui_sheet_text(sh, TC_NORMAL, "%7s", p1);
        tui_sheet_col(sh, 46);
        tui_sheet_text(sh, TC_NORMAL, "%7s", p2);
        char top[64];
        tui_sheet_col(sh, 56);
        tui_piece_text(a, t->top_base, top, sizeof top);
        tui_sheet_token(sh, TC_NORMAL, top, 14);
        tui_sheet_col(sh, 72);
        tui_piece_text(a, t->top_other, top, sizeof top);
        tui_sheet_token(sh, differ ? TC_ERROR : TC_NORMAL, top, 14);
    }
    a->dirty = true;
}

void tui_cmd_compare(tui_app *a, const char *name, const char *args) {
    (void)name;
    if (!*args) {
        tui_message(a, true, "/compare OTHER.gguf re-scores this conversation with another model");
        return;
    }
    size_t n = session_n_records(a->s);
    if (n < 2) {
        tui_message(a, true, "nothing to compare yet: the conversation needs at least two tokens");
        return;
    }
    if (a->gen.generating) {
        tui_message(a, true, "/compare waits until the reply is over (Ctrl-C stops it)");
        return;
    }
    tui_message(a, false, "comparing with %s...", args);
    tui_draw_now(a);
    double t0 = tui_now();
    char err[1024];
    cli_model other = {0};
    replay_trace t = {0};
    replay_result res = {0};
    engine *base = NULL;
    bool ok = cli_find_model(args, other.path, sizeof other.path, err, sizeof err) == 0 &&
              cli_load_model(&other, err, sizeof err) == 0 && tokenizer_same_vocabulary(a->tok, other.tok, err, sizeof err) &&
              (base = tui_spare_engine(a, err, sizeof err)) != NULL &&
              (other.e = tui_engine_for(a, &other.m, (int)n, err, sizeof err)) != NULL;
    bool all = false;
    if (ok) {
        t.n_tokens = (int)n;
        t.tokens = malloc(n * sizeof *t.tokens);
        t.traced = calloc(n, sizeof *t.traced);
        t.trace_prob = malloc(n * sizeof *t.trace_prob);
        ok = t.tokens && t.traced && t.trace_prob;
        if (!ok) snprintf(err, sizeof err, "out of memory");
    }
    if (ok) {
        /* the reply tokens are compared, with the probability the session recorded for
         * each as a check that this model re-scores them the same way */
        bool any = false;
        for (size_t i = 0; i < n; i++) {
            const step_record *r = session_record(a->s, i);
            t.tokens[i] = r->token;
            t.traced[i] = r->segment == SEG_ASSISTANT && r->has_prediction;
            t.trace_prob[i] = t.traced[i] ? r->sample.prob_before : NAN;
            any |= t.traced[i];
        }
        all = !any; /* no reply yet: compare every position of the prompt */
        ok = replay_compare(base, other.e, tokenizer_n_vocab(a->tok), &t, all, &res, err, sizeof err) == 0;
    }
    if (ok) {
        show(a, other.path, &res, all);
        tui_message(a, false, "compared %d tokens with %s in %.2f s", res.n, args, tui_now() - t0);
    } else {
        tui_message(a, true, "/compare: %s", err);
    }
    replay_result_free(&res);
    free(t.tokens);
    free(t.traced);
    free(t.trace_prob);
    cli_model_free(&other);
}
