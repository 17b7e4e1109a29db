/* tui_suspicion.c — the detector's running score of the reply being looked at.
 *
 * When the model has a detector (`llmscope calibrate` wrote MODEL.detector.json), every
 * reply token gets the score of the reply up to and with it: the detector's probability
 * that the answer so far is wrong. The grounding meter shows it instead of grounding,
 * `/break suspicion S` pauses a reply when it reaches S, and the why card lists the
 * features that raised it. Without a detector all of this falls back to the grounding
 * rule (grounding below 25% with entropy above 2 nats).
 *
 * A reply's scores are computed token by token as they are asked for, from the session's
 * records (det_token_of: the signals the trace writes), and kept per record until the
 * records change: the summaries under old replies, drawn again with every new token, cost
 * nothing once computed. The running sums are kept for one reply, the one last extended
 * (the reply being written, as a rule). The logit lens is not computed here (one pass over the output head per layer
 * and token): a detector that uses lens features gets their training mean instead, and
 * the why card says so. */
#include "tui_app.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static bool tracker_ready(tui_app *a) {
    tui_suspicion *t = &a->susp;
    const detector *d = a->opt->detector;
    if (t->ready) return true;
    int nf = det_n_features(d->sh);
    t->lookback = malloc(((size_t)d->sh.n_layer * (size_t)d->sh.n_head + 1) * sizeof *t->lookback);
    t->x = malloc((size_t)nf * sizeof *t->x);
    t->present = malloc((size_t)nf * sizeof *t->present);
    if (!t->lookback || !t->x || !t->present || det_accum_init(&t->acc, d->sh) < 0) {
        tui_suspicion_free(a);
        return false;
    }
    t->ready = true;
    t->epoch = a->epoch - 1; /* nothing tracked yet */
    return true;
}

/* Adds record REC to ACC and returns the score of the reply so far (into the tracker's
 * buffers). */
static double add_record(tui_app *a, det_accum *acc, size_t rec) {
    tui_suspicion *t = &a->susp;
    inspect_view v;
    inspect_view_session(&v, a->s);
    det_token tok;
    if (det_token_of(&v, rec, NULL, t->lookback, NULL, &tok)) det_accum_add(acc, &tok);
    det_accum_features(acc, t->x, t->present);
    return detector_score(a->opt->detector, t->x, t->present, NULL, 0, NULL);
}

/* Room for the scores of records 0..REC; new entries NAN (not computed). */
static bool reserve(tui_suspicion *t, size_t rec) {
    if (rec < t->cap) return true;
    size_t cap = (rec + 1) * 2;
    float *s = realloc(t->score, cap * sizeof *s);
    if (!s) return false;
    for (size_t i = t->cap; i < cap; i++) s[i] = NAN;
    t->score = s;
    t->cap = cap;
    return true;
}

bool tui_suspicion_at(tui_app *a, size_t rec, double *out) {
    size_t first, last;
    if (!a->opt->detector || !tracker_ready(a)) return false;
    tui_suspicion *t = &a->susp;
    if (t->epoch != a->epoch) { /* records replaced: forget every score */
        for (size_t i = 0; i < t->cap; i++) t->score[i] = NAN;
        t->epoch = a->epoch;
        t->next = t->first = 0;
        det_accum_reset(&t->acc);
    }
    if (rec < t->cap && !isnan(t->score[rec])) {
        *out = t->score[rec];
        return true;
    }
    if (!tui_reply_at(a, rec, &first, &last) || rec < first || rec > last || !reserve(t, rec)) return false;
    if (t->first != first || t->next > rec || t->next < first) { /* another reply: start it over */
        det_accum_reset(&t->acc);
        t->first = t->next = first;
    }
    for (; t->next <= rec; t->next++) t->score[t->next] = (float)add_record(a, &t->acc, t->next);
    *out = t->score[rec];
    return true;
}

int tui_suspicion_explain(tui_app *a, size_t rec, double *score, det_contrib *top, int k, int *n_missing) {
    size_t first, last;
    const detector *d = a->opt->detector;
    if (!d || !tui_reply_at(a, rec, &first, &last) || rec < first || rec > last || !tracker_ready(a)) return -1;
    det_accum acc;
    if (det_accum_init(&acc, d->sh) < 0) return -1;
    for (size_t i = first; i <= rec; i++) add_record(a, &acc, i);
    det_accum_free(&acc);
    int n_top = 0;
    *score = detector_score(d, a->susp.x, a->susp.present, top, k, &n_top);
    *n_missing = 0;
    for (int i = 0; i < d->n; i++) *n_missing += !a->susp.present[d->index[i]];
    return n_top;
}

void tui_suspicion_free(tui_app *a) {
    tui_suspicion *t = &a->susp;
    det_accum_free(&t->acc);
    free(t->score);
    free(t->lookback);
    free(t->x);
    free(t->present);
    memset(t, 0, sizeof *t);
}
