/* tui_why.c — the why card: everything llmscope knows about why one token was chosen.
 *
 * inspect_why() computes it from the token's step record (model/inspect.h); this file
 * only lays it out, in the order a person asks: what was chosen and how sure was the
 * model, what else it could have said (top candidates before and after the sampler),
 * whether the sampler overruled the model, how much of its attention was on what the
 * user supplied, which earlier tokens it drew on (per layer, over all layers, and through
 * the layers by rollout), and at which depth the answer formed (logit lens).
 *
 * The card is computed when opened and again whenever the cursor moves while it is
 * open; the time it took is in its title (tui.c adds the drawing time to the status
 * line), so "under 50 ms at 2,000 tokens" can be read off the screen. Two parts can cost
 * more than that on a large model: the logit lens (every layer through the output head:
 * layers x vocabulary x width on the CPU) and the rollout of a long context (layers x
 * keys^2). Past a fixed amount of work they say "computing..." and follow a frame later
 * (tui_why_finish), so the card itself always opens at once. On the Vulkan engine the
 * lens is computed on the GPU (session_lens_engine) and is always done at once. */
#include "tui_app.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define SRC_SHOWN 6   /* sources per attention line */
#define CAND_SHOWN 10 /* rows of the candidate table */
#define LENS_CANDS 6  /* columns of the candidates-by-layer table */

static double lens_work(const tui_app *a);
static const tui_sheet_class tui_sheet_why;



static void add_piece(tui_app *a, int32_t id, tui_role role, int maxw) {
    char text[160];
    tui_piece_text(a, id, text, sizeof text);
    tui_sheet_token(&a->sheet, role, text, maxw);
}

/* ---- what was chosen ---- */

static void section_choice(tui_app *a, const why_card *w) {
    tui_sheet *sh = &a->sheet;
    const sample_result *s = &w->sample;
    char p1[16], p2[16];
    tui_sheet_line_begin(sh, -1);
    tui_sheet_text(sh, TC_DIM, "chosen ");
    add_piece(a, w->token, TC_CHOSEN, 24);
    tui_pct(p1, sizeof p1, s->prob_before);
    tui_sheet_text(sh, TC_NORMAL, "  rank %d  p %s", s->rank_before + 1, p1);
    if (w->generated) {
        tui_pct(p2, sizeof p2, s->prob_after);
        tui_sheet_text(sh, TC_NORMAL, "  (after the sampler %s)", p2);
    }
    /* the runner-up: the best candidate that is not the chosen token */
    int runner = -1;
    for (int i = 0; i < s->n_top && runner < 0; i++)
        if (s->top_before[i].id != w->token) runner = i;
    if (runner >= 0) {
        /* in percentage points, as they round: "-0.0" would say nothing */
        double points = (double)s->margin * 100;
        tui_sheet_line_begin(sh, -1);
        tui_sheet_text(sh, TC_DIM, "margin ");
        if (fabs(points) < 0.05) tui_sheet_text(sh, TC_NORMAL, "tied with");
        else if (points > 0) tui_sheet_text(sh, TC_NORMAL, "%.1f points ahead of", points);
        else tui_sheet_text(sh, TC_ERROR, "%.1f points behind", -points);
        tui_sheet_text(sh, TC_DIM, " the runner-up ");
        add_piece(a, s->top_before[runner].id, TC_NORMAL, 20);
        tui_pct(p1, sizeof p1, s->top_before[runner].prob);
        tui_sheet_text(sh, TC_NORMAL, " %s", p1);
    }
    tui_sheet_line_begin(sh, -1);
    tui_sheet_text(sh, TC_DIM, "entropy ");
    if (w->generated)
        tui_sheet_text(sh, TC_NORMAL, "%.2f nats before the sampler, %.2f after; %d candidate%s left",
                       (double)s->entropy_before, (double)s->entropy_after, s->n_candidates_after,
                       s->n_candidates_after == 1 ? "" : "s");
    else
        tui_sheet_text(sh, TC_NORMAL, "%.2f nats", (double)s->entropy_before);
}

static void section_candidates(tui_app *a, const why_card *w) {
    tui_sheet *sh = &a->sheet;
    const sample_result *s = &w->sample;
    tui_sheet_heading(sh, w->generated ? "Top candidates: before the sampler | after it" : "Top candidates (the model's view)");
    int n = s->n_top < CAND_SHOWN ? s->n_top : CAND_SHOWN;
    int right = 34;
    for (int i = 0; i < n; i++) {
        char p[16];
        tui_sheet_line_begin(sh, -1);
        const token_prob *b = &s->top_before[i];
        tui_role role = b->id == w->token ? TC_CHOSEN : TC_NORMAL;
        tui_sheet_text(sh, TC_DIM, "%2d ", i + 1);
        add_piece(a, b->id, role, 18);
        tui_sheet_col(sh, 22);
        tui_pct(p, sizeof p, b->prob);
        tui_sheet_text(sh, role, "%7s", p);
        if (!w->generated || i >= s->n_candidates_after || s->top_after[i].prob <= 0) continue;
        const token_prob *af = &s->top_after[i];
        role = af->id == w->token ? TC_CHOSEN : TC_NORMAL;
        tui_sheet_col(sh, right);
        tui_sheet_text(sh, TC_DIM, "%2d ", i + 1);
        add_piece(a, af->id, role, 18);
        tui_sheet_col(sh, right + 22);
        tui_pct(p, sizeof p, af->prob);
        tui_sheet_text(sh, role, "%7s", p);
    }
    if (s->rank_before >= n) {
        char p[16];
        tui_pct(p, sizeof p, s->prob_before);
        tui_sheet_line_begin(sh, -1);
        tui_sheet_text(sh, TC_DIM, "   ... the chosen token ranked %d (%s)", s->rank_before + 1, p);
    }
}

static void section_sampler(tui_app *a, const why_card *w, const step_record *r) {
    tui_sheet *sh = &a->sheet;
    const sample_result *s = &w->sample;
    tui_sheet_heading(sh, "Sampler");
    tui_sheet_line_begin(sh, -1);
    if (!w->generated) {
        tui_sheet_text(sh, TC_NORMAL, r->segment == SEG_ASSISTANT
                                          ? "given, not sampled (a chosen branch token or a replayed reply)"
                                          : "given, not sampled: part of the prompt or the chat template");
        if (w->greedy_differs) {
            tui_sheet_line_begin(sh, -1);
            tui_sheet_text(sh, TC_DIM, "the model's own top choice here was ");
            add_piece(a, s->greedy_id, TC_NORMAL, 20);
        }
        return;
    }
    if (!w->greedy_differs) {
        tui_sheet_text(sh, TC_NORMAL, "the model's top choice: greedy decoding picks the same token");
    } else {
        char p[16];
        tui_pct(p, sizeof p, s->top_before[0].id == s->greedy_id ? s->top_before[0].prob : 0);
        tui_sheet_text(sh, TC_ERROR, "greedy decoding would have chosen ");
        add_piece(a, s->greedy_id, TC_CHOSEN, 20);
        tui_sheet_text(sh, TC_NORMAL, " (%s)", p);
        tui_sheet_line_begin(sh, -1);
        tui_sheet_text(sh, TC_DIM, "the winner changed at: ");
        tui_sheet_text(sh, TC_NORMAL, "%s", sampler_stage_name(w->blame));
        tui_sheet_line_begin(sh, -1);
        if (w->greedy_survived) {
            tui_pct(p, sizeof p, w->greedy_prob_after);
            tui_sheet_text(sh, TC_DIM, "the greedy token kept %s after the filters; the random draw chose otherwise", p);
        } else {
            tui_sheet_text(sh, TC_DIM, "the greedy token did not survive the filters");
        }
    }
    const sampler_params *p = &r->params;
    tui_sheet_line_begin(sh, -1);
    tui_sheet_text(sh, TC_DIM, "settings: temperature %.2g  top-k %d  top-p %.3g  min-p %.3g  penalty %.3g over %d  seed %llu",
                   (double)p->temperature, p->top_k, (double)p->top_p, (double)p->min_p, (double)p->repeat_penalty,
                   p->repeat_last_n, (unsigned long long)p->seed);
}

static void section_grounding(tui_app *a, const why_card *w) {
    tui_sheet *sh = &a->sheet;
    const grounding *g = &w->ground;
    tui_sheet_heading(sh, "Grounding (attention over all layers and heads)");
    tui_sheet_line_begin(sh, -1);
    if (!w->has_attention) {
        tui_sheet_text(sh, TC_DIM, "no attention kept for this token");
        return;
    }
    if (!g->valid) {
        tui_sheet_text(sh, TC_DIM, "all of the attention was on template text (%.0f%%)", 100.0 * g->tmpl);
        return;
    }
    tui_sheet_text(sh, g->flagged ? TC_ERROR : TC_NORMAL, "%.0f%% on what was supplied", 100.0 * g->share);
    tui_sheet_text(sh, TC_DIM, "  (context %.2f, the model's own output %.2f; template text %.2f left out)",
                   (double)g->context, (double)g->own, (double)g->tmpl);
    if (g->flagged) {
        grounding_params gp;
        grounding_params_default(&gp);
        tui_sheet_line_begin(sh, -1);
        tui_sheet_text(sh, TC_ERROR, "low grounding with high entropy (below %.0f%%, above %.1f nats): check this token",
                       100.0 * gp.low_share, (double)gp.high_entropy);
    }
}

#define PUSH_SHOWN 4 /* features named under the suspicion */

/* The detector's score of the reply up to this token and what raised it; without a
 * detector the grounding rule's verdict (the section above) is all there is, and the
 * section is left out. */
static void section_suspicion(tui_app *a, const why_card *w) {
    tui_sheet *sh = &a->sheet;
    const detector *d = a->opt->detector;
    if (!d) return;
    tui_sheet_heading(sh, "Suspicion: is the answer so far wrong?");
    tui_sheet_line_begin(sh, -1);
    det_contrib top[PUSH_SHOWN];
    double score;
    int missing, n = tui_suspicion_explain(a, w->rec, &score, top, PUSH_SHOWN, &missing);
    if (n < 0) {
        tui_sheet_text(sh, TC_DIM, "not a reply token: the detector scores replies");
        return;
    }
    bool flagged = score >= d->threshold;
    tui_sheet_text(sh, flagged ? TC_ERROR : TC_NORMAL, "%.2f", score);
    tui_sheet_text(sh, TC_DIM, "  the detector's probability that the reply up to here is wrong; it flags from %.2f",
                   d->threshold);
    tui_sheet_line_begin(sh, -1);
    tui_sheet_text(sh, TC_DIM, "(%.0f%% false alarms on its training answers", 100 * d->false_alarm);
    if (isfinite(d->auroc_test)) tui_sheet_text(sh, TC_DIM, ", AUROC %.2f on answers it never saw", d->auroc_test);
    tui_sheet_text(sh, TC_DIM, ")");
    if (d->trained_on[0]) {
        tui_sheet_line_begin(sh, -1);
        tui_sheet_text(sh, TC_DIM, "trained on %s", d->trained_on);
    }
    for (int i = 0; i < n; i++) {
        char what[96];
        det_feature_phrase(d->sh, d->index[top[i].feature], what, sizeof what);
        tui_sheet_line_begin(sh, -1);
        tui_sheet_text(sh, TC_DIM, i ? "          " : "raised by ");
        tui_sheet_text(sh, TC_NORMAL, "%s %.3g", what, top[i].value);
        tui_sheet_text(sh, TC_DIM, "  (+%.2f to the log-odds)", top[i].push);
    }
    if (missing) {
        tui_sheet_line_begin(sh, -1);
        tui_sheet_text(sh, TC_DIM, "%d of its %d features are not available here (no attention kept, or the logit "
                                   "lens): counted at their training mean", missing, d->n);
    }
}

static void source_line(tui_app *a, const char *label, const inspect_source *src, int n) {
    tui_sheet *sh = &a->sheet;
    tui_sheet_line_begin(sh, -1);
    tui_sheet_text(sh, TC_DIM, "%s", label);
    tui_sheet_col(sh, 12);
    for (int i = 0; i < n && i < SRC_SHOWN; i++) {
        tui_sheet_token(sh, i == 0 ? TC_CHOSEN : TC_NORMAL, tui_record_text(a, src[i].pos), 12);
        tui_sheet_link(sh, (size_t)src[i].pos);
        tui_sheet_text(sh, TC_DIM, "@%d", src[i].pos);
        tui_sheet_text(sh, TC_NORMAL, " %.0f%%  ", 100.0 * src[i].weight);
    }
}

static void section_sources(tui_app *a, const why_card *w) {
    tui_sheet *sh = &a->sheet;
    tui_sheet_heading(sh, "Attention sources: the earlier tokens this step drew on (mean over heads)");
    if (!w->has_attention) {
        tui_sheet_line_begin(sh, -1);
        tui_sheet_text(sh, TC_DIM, w->pos == 0 ? "the first token: nothing came before it"
                                               : "no attention kept for this token (--no-capture, or older than the memory budget)");
        return;
    }
    tui_deltanet_why_note(a);
    source_line(a, "all layers", w->overall, w->n_overall);
    if (a->why.later_rollout) {
        tui_sheet_line_begin(sh, -1);
        tui_sheet_text(sh, TC_DIM, "rollout");
        tui_sheet_col(sh, 12);
        tui_sheet_text(sh, TC_DIM, "computing...");
    } else if (w->has_rollout) {
        source_line(a, "rollout", w->rollout, w->n_rollout);
        if (w->rollout_unresolved > 0.005) {
            tui_sheet_line_begin(sh, -1);
            tui_sheet_col(sh, 12);
            tui_sheet_text(sh, TC_DIM, "(%.0f%% of the mass passed through tokens whose attention is no longer kept)",
                           100.0 * w->rollout_unresolved);
        }
    }
    for (int l = 0; l < w->n_layer; l++) {
        char label[24];
        snprintf(label, sizeof label, "layer %d", l);
        source_line(a, label, w->layer_sources + (size_t)l * (size_t)w->n_sources, w->layer_n[l]);
    }
}

static void entry_label(const why_card *w, int i, char *buf, size_t cap) {
    if (i == 0) snprintf(buf, cap, "embedding");
    else if (i == w->lens.n_entries - 1) snprintf(buf, cap, "layer %d (out)", i - 1);
    else snprintf(buf, cap, "layer %d", i - 1);
}

static void section_lens(tui_app *a, const why_card *w) {
    tui_sheet *sh = &a->sheet;
    tui_sheet_heading(sh, "Logit lens: each layer's residual stream decoded through the final norm and output head");
    if (a->why.later_lens) {
        tui_sheet_line_begin(sh, -1);
        tui_sheet_text(sh, TC_DIM, "computing (every layer through the output head: %.0fM multiply-adds)...",
                       lens_work(a) / 1e6);
        return;
    }
    if (!w->has_lens) {
        tui_sheet_line_begin(sh, -1);
        tui_sheet_text(sh, TC_DIM, "no hidden states for this token (kept for reply tokens while attention is captured)");
        return;
    }
    const logit_lens *L = &w->lens;
    tui_sheet_line_begin(sh, -1);
    tui_sheet_text(sh, TC_DIM, "after");
    tui_sheet_col(sh, 16);
    tui_sheet_text(sh, TC_DIM, "top token");
    tui_sheet_col(sh, 34);
    tui_sheet_text(sh, TC_DIM, "p");
    tui_sheet_col(sh, 44);
    tui_sheet_text(sh, TC_DIM, "chosen: rank");
    tui_sheet_col(sh, 58);
    tui_sheet_text(sh, TC_DIM, "p");
    for (int i = 0; i < L->n_entries; i++) {
        const lens_layer *e = &L->entry[i];
        char label[32], p[16];
        entry_label(w, i, label, sizeof label);
        tui_sheet_line_begin(sh, -1);
        bool committed = L->commit_depth >= 0 && i >= L->commit_depth;
        tui_sheet_text(sh, committed ? TC_CHOSEN : TC_NORMAL, "%s%s", committed ? "* " : "  ", label);
        tui_sheet_col(sh, 16);
        add_piece(a, e->top_id, e->top_id == w->token ? TC_CHOSEN : TC_NORMAL, 16);
        tui_sheet_col(sh, 34);
        tui_pct(p, sizeof p, e->top_prob);
        tui_sheet_text(sh, TC_NORMAL, "%s", p);
        tui_sheet_col(sh, 44);
        tui_sheet_text(sh, e->chosen_rank == 0 ? TC_CHOSEN : TC_NORMAL, "%d", e->chosen_rank + 1);
        tui_sheet_col(sh, 58);
        tui_pct(p, sizeof p, e->chosen_prob);
        tui_sheet_text(sh, TC_NORMAL, "%s", p);
    }
    tui_sheet_line_begin(sh, -1);
    if (L->commit_depth >= 0) {
        char label[32];
        entry_label(w, L->commit_depth, label, sizeof label);
        tui_sheet_text(sh, TC_NORMAL, "commit depth %d: from the %s on (*) the chosen token stays on top", L->commit_depth,
                       label);
    } else {
        tui_sheet_text(sh, TC_NORMAL, "commit depth: none; the chosen token is not the model's top choice");
        if (L->top_commit_depth >= 0) {
            char label[32];
            entry_label(w, L->top_commit_depth, label, sizeof label);
            tui_sheet_line_begin(sh, -1);
            tui_sheet_text(sh, TC_DIM, "(the top token commits from the %s on)", label);
        }
    }

    /* the final candidates followed down the layers */
    int nc = L->n_cand < LENS_CANDS ? L->n_cand : LENS_CANDS;
    tui_sheet_line_begin(sh, -1);
    tui_sheet_line_begin(sh, -1);
    tui_sheet_text(sh, TC_DIM, "p by layer");
    for (int j = 0; j < nc; j++) {
        tui_sheet_col(sh, 16 + j * 10);
        add_piece(a, L->cand_ids[j], L->cand_ids[j] == w->token ? TC_CHOSEN : TC_NORMAL, 9);
    }
    for (int i = 0; i < L->n_entries; i++) {
        const lens_layer *e = &L->entry[i];
        char label[32];
        entry_label(w, i, label, sizeof label);
        tui_sheet_line_begin(sh, -1);
        tui_sheet_text(sh, TC_DIM, "  %s", label);
        for (int j = 0; j < nc; j++) {
            char p[16];
            tui_pct(p, sizeof p, (float)exp((double)e->cand_logit[j] - (double)e->logsumexp));
            tui_sheet_col(sh, 16 + j * 10);
            tui_sheet_text(sh, TC_NORMAL, "%s", p);
        }
    }
}

/* Work (multiply-adds, values read) above which a part waits until the card is shown:
 * about 10 ms of one core. */
#define WHY_INLINE_WORK 2e7

static double lens_work(const tui_app *a) {
    const model_hparams *hp = &a->m->hp;
    return (double)(hp->n_layer + 1) * (double)hp->n_vocab * (double)hp->n_embd;
}

/* Rollout reads each layer's averaged row of every earlier query: layers x keys^2 / 2. */
static double rollout_work(const tui_app *a, const step_record *r) {
    return (double)a->m->hp.n_layer * (double)r->n_keys * (double)r->n_keys / 2;
}

/* The sheet from a->why, for record R. */
static void build(tui_app *a, const step_record *r, double ms) {
    const why_card *w = &a->why.card;
    tui_sheet *sh = &a->sheet;
    int scroll = sh->cls == &tui_sheet_why && sh->rec == w->rec ? sh->scroll : 0;
    tui_sheet_reset(sh, &tui_sheet_why);
    sh->rec = w->rec;
    sh->scroll = scroll;
    if (!r->has_prediction) {
        tui_sheet_line_begin(sh, -1);
        tui_sheet_text(sh, TC_DIM, "the first token: nothing predicted it");
    } else {
        section_choice(a, w);
        section_candidates(a, w);
        section_sampler(a, w, r);
        section_grounding(a, w);
        section_suspicion(a, w);
        section_sources(a, w);
        section_lens(a, w);
        tui_why_experts(a, w);
    }
    char tok[64];
    tui_piece_text(a, r->token, tok, sizeof tok);
    /* the title names the token the way the chat does: visible spaces */
    char shown[96];
    tui_visible_token(tok, shown, sizeof shown);
    snprintf(sh->title, sizeof sh->title, "Why %s?  position %d, %s  (computed in %.1f ms)", shown, r->pos,
             r->generated ? "sampled" : r->segment == SEG_ASSISTANT ? "given" : "prompt", ms);
    snprintf(sh->footer, sizeof sh->footer, "<- -> another token  Up/Down PgUp/PgDn scroll  Esc or w closes");
    a->dirty = true;
}

void tui_why_free(tui_app *a) {
    if (a->why.valid) why_card_free(&a->why.card);
    a->why.valid = a->why.later_rollout = a->why.later_lens = false;
}

void tui_why_open(tui_app *a) {
    size_t idx;
    const step_record *r = tui_current_record(a, &idx);
    if (!r) {
        tui_message(a, true, "no tokens yet: nothing to explain");
        return;
    }
    double t0 = tui_now();
    tui_why_free(a);
    inspect_view v;
    inspect_view_session(&v, a->s);
    why_options o;
    why_options_default(&o);
    o.n_valid_vocab = tokenizer_n_vocab(a->tok);
    o.rollout = rollout_work(a, r) <= WHY_INLINE_WORK;
    /* on a GPU the lens is one batched pass there: always quick enough to wait for */
    o.lens_engine = session_lens_engine(a->s);
    o.m = o.lens_engine || lens_work(a) <= WHY_INLINE_WORK ? a->m : NULL;
    o.push_model = a->m;
    char err[256];
    if (inspect_why(&v, idx, &o, &a->why.card, err, sizeof err) < 0) {
        tui_message(a, true, "why card: %s", err);
        return;
    }
    a->why.valid = true;
    a->why.epoch = a->epoch;
    a->why.later_rollout = !o.rollout && a->why.card.has_attention;
    a->why.later_lens = !o.m && r->hidden != NULL;
    build(a, r, 0);
    double ms = (tui_now() - t0) * 1000;
    build(a, r, ms); /* again, to put the time in the title: laying out is cheap */
    a->sheet.compute_ms = ms;
    a->why.timing = true;
}

bool tui_why_pending(const tui_app *a) {
    return a->why.valid && (a->why.later_rollout || a->why.later_lens) && a->sheet.cls == &tui_sheet_why;
}

void tui_why_finish(tui_app *a) {
    if (!tui_why_pending(a)) return;
    why_card *w = &a->why.card;
    const step_record *r = session_record(a->s, w->rec);
    if (a->why.epoch != a->epoch || !r) { /* the conversation changed under the card */
        a->why.later_rollout = a->why.later_lens = false;
        return;
    }
    double t0 = tui_now();
    inspect_view v;
    inspect_view_session(&v, a->s);
    if (a->why.later_rollout) {
        float *row = malloc((size_t)r->n_keys * sizeof *row);
        if (row && inspect_rollout(&v, w->rec, row, &w->rollout_unresolved)) {
            w->has_rollout = true;
            w->n_rollout = inspect_top_sources(row, r->n_keys, w->n_sources, w->rollout);
        }
        free(row);
    }
    if (a->why.later_lens) {
        const model_hparams *hp = &a->m->hp;
        float *hidden = malloc((size_t)(hp->n_layer + 1) * (size_t)hp->n_embd * sizeof *hidden);
        char err[256];
        if (hidden && inspect_record_hidden(r, hp->n_layer, hp->n_embd, hidden) &&
            inspect_logit_lens_on(session_lens_engine(a->s), a->m, hidden, tokenizer_n_vocab(a->tok), r->token,
                                  &w->lens, err, sizeof err) == 0)
            w->has_lens = true;
        free(hidden);
    }
    a->why.later_rollout = a->why.later_lens = false;
    double ms = (tui_now() - t0) * 1000;
    build(a, r, a->sheet.compute_ms + ms);
    tui_message(a, false, "why card: rollout and logit lens followed in %.1f ms", ms);
}

/* The card follows the cursor: moving it explains the next token. */
static bool why_key(tui_app *a, tui_key k) {
    int dx = 0;
    if (tui_key_code(k, KEY_LEFT) || tui_key_is(k, L'h')) dx = -1;
    else if (tui_key_code(k, KEY_RIGHT) || tui_key_is(k, L'l')) dx = 1;
    else if (tui_key_is(k, L'w')) {
        tui_sheet_close(a);
        return true;
    }
    if (dx == 0) return false;
    if (a->mode != MODE_INSPECT) {
        a->mode = MODE_INSPECT;
        a->cursor = a->sheet.rec;
    }
    tui_chat_move(a, dx, 0);
    int scroll = a->sheet.scroll;
    tui_why_open(a);
    a->sheet.scroll = scroll;
    return true;
}

static const tui_sheet_class tui_sheet_why = {.name = "why", .key = why_key};

void tui_cmd_why(tui_app *a, const char *name, const char *args) {
    (void)name, (void)args;
    tui_why_open(a);
}

bool tui_why_shown(const tui_app *a) { return a->sheet.cls == &tui_sheet_why; }

void tui_why_follow(tui_app *a) {
    if (tui_why_shown(a)) tui_why_open(a);
}
