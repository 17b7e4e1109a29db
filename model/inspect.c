/* inspect.c — "why this token?": attention sources, rollout, grounding, head roles, the
 * logit lens, the why card, probe summaries, breakpoints and distribution comparison.
 * See inspect.h for what each computes; the comments here say how. */
#include "inspect.h"
#include "routing.h"
#include "head.h"

#include "ops.h"
#include "ops_fast.h"
#include "quant.h"
#include "tokenizer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- views ---- */

void inspect_view_session(inspect_view *v, const session *s) {
    const model *m = session_model(s);
    memset(v, 0, sizeof *v);
    v->s = s;
    v->n_layer = m->hp.n_layer;
    v->n_head = m->hp.n_head;
    v->n_embd = m->hp.n_embd;
    v->desc = m->desc;
}

void inspect_view_records(inspect_view *v, const step_record *recs, size_t n, int n_layer, int n_head,
                          int n_embd) {
    memset(v, 0, sizeof *v);
    v->recs = recs;
    v->n = n;
    v->n_layer = n_layer;
    v->n_head = n_head;
    v->n_embd = n_embd;
}

size_t inspect_n_records(const inspect_view *v) { return v->s ? session_n_records(v->s) : v->n; }

const step_record *inspect_record(const inspect_view *v, size_t i) {
    if (v->s) return session_record(v->s, i);
    return i < v->n ? &v->recs[i] : NULL;
}

/* ---- f16 rows ---- */

/* f16 to f32 for attention probabilities (finite, not negative), eight at a time and
 * without branches so that the loops vectorise: a normal half is its bits shifted into an
 * f32's place with the exponent rebiased from 15 to 127; a subnormal one is its mantissa
 * times 2^-24. Both are computed and the right one picked with a mask. */
#define LANES 8

static inline void decode8(const uint16_t *h, float *out) {
    uint32_t normal[LANES], sub[LANES];
    float small[LANES];
    for (int i = 0; i < LANES; i++) small[i] = (float)(int32_t)(h[i] & 0x3ffu) * 0x1p-24f;
    memcpy(sub, small, sizeof sub);
    for (int i = 0; i < LANES; i++) {
        uint32_t m = (h[i] & 0x7c00u) ? ~0u : 0u;
        normal[i] = (((((uint32_t)h[i] & 0x7fffu) << 13) + (112u << 23)) & m) | (sub[i] & ~m);
    }
    memcpy(out, normal, sizeof normal);
}

/* ACC[k] += W * row[k] for N f16 values. */
static void add_row(float *restrict acc, const uint16_t *restrict row, int n, float w) {
    int k = 0;
    for (; k + LANES <= n; k += LANES) {
        float f[LANES];
        decode8(row + k, f);
        for (int i = 0; i < LANES; i++) acc[k + i] += w * f[i];
    }
    for (; k < n; k++) acc[k] += w * fp16_to_f32(row[k]);
}

/* The f16 row of query head (LAYER, HEAD) in record R. */
static const uint16_t *head_row(const inspect_view *v, const step_record *r, int layer, int head) {
    return r->attention + ((size_t)layer * (size_t)v->n_head + (size_t)head) * (size_t)r->n_keys;
}

static bool has_row(const step_record *r) { return r && r->attention && r->n_keys > 0; }

static int layer_heads(const inspect_view *v, int layer) { return v->desc ? v->desc[layer].n_head : v->n_head; }

/* Head (LAYER, HEAD)'s row of R as attention mass into OUT (r->n_keys floats): the
 * probabilities, or a DeltaNet head's |w| normalised to sum 1 (all zero when w is). */
static void head_mass(const inspect_view *v, const step_record *r, int layer, int head, float *out) {
    const int n = r->n_keys;
    fp16_to_f32_row(head_row(v, r, layer, head), out, (size_t)n);
    if (!v->desc || v->desc[layer].mixer != MIXER_DELTANET) return;
    double total = 0;
    for (int k = 0; k < n; k++) total += fabsf(out[k]);
    const float scale = total > 0 ? (float)(1.0 / total) : 0.0f;
    for (int k = 0; k < n; k++) out[k] = fabsf(out[k]) * scale;
}

/* ACC += W * (layer LAYER of R averaged over its heads): from the session's averaged rows
 * when it kept them, else from every head's mass. */
static void add_layer_mean(const inspect_view *v, const step_record *r, int layer, float w, float *acc) {
    if (r->attention_mean) {
        add_row(acc, r->attention_mean + (size_t)layer * (size_t)r->n_keys, r->n_keys, w);
        return;
    }
    const int nh = layer_heads(v, layer);
    float *row = malloc((size_t)r->n_keys * sizeof *row);
    for (int h = 0; row && h < nh; h++) {
        head_mass(v, r, layer, h, row);
        for (int k = 0; k < r->n_keys; k++) acc[k] += w / (float)nh * row[k];
    }
    free(row);
}

/* ---- attention sources ---- */

bool inspect_mean_attention(const inspect_view *v, size_t rec, int layer, float *out) {
    const step_record *r = inspect_record(v, rec);
    if (!has_row(r) || layer >= v->n_layer) return false;
    int l0 = layer < 0 ? 0 : layer, l1 = layer < 0 ? v->n_layer : layer + 1;
    memset(out, 0, (size_t)r->n_keys * sizeof *out);
    for (int l = l0; l < l1; l++) add_layer_mean(v, r, l, 1.0f / (float)(l1 - l0), out);
    return true;
}

/* Rollout, traced from the top: V starts as the query's one-hot vector; going down
 * through layer l, mass V[j] on token j moves half to token j itself (the residual) and
 * half along the head-averaged attention row of query j at layer l (record j+1). Only
 * tokens holding mass are expanded. The cost is one pass over the averaged rows of every
 * layer: layers x pos^2 / 2 values (about 10 ms for 5 layers at 2,000 tokens). */
bool inspect_rollout(const inspect_view *v, size_t rec, float *out, double *unresolved) {
    const step_record *r = inspect_record(v, rec);
    if (unresolved) *unresolved = 0;
    if (!has_row(r)) return false;
    const int n = r->n_keys, q = n - 1;
    float *cur = out, *next = malloc((size_t)n * sizeof *next);
    if (!next) return false;
    memset(cur, 0, (size_t)n * sizeof *cur);
    cur[q] = 1.0f;
    double lost = 0;
    for (int l = v->n_layer - 1; l >= 0; l--) {
        memset(next, 0, (size_t)n * sizeof *next);
        for (int j = q; j >= 0; j--) {
            float m = cur[j];
            if (m == 0.0f) continue;
            const step_record *rj = inspect_record(v, (size_t)j + 1);
            if (!has_row(rj) || rj->n_keys != j + 1) {
                next[j] += m; /* the row is gone: the mass stays where it is */
                lost += 0.5 * m;
                continue;
            }
            next[j] += 0.5f * m;
            add_layer_mean(v, rj, l, 0.5f * m, next);
        }
        float *t = cur;
        cur = next;
        next = t;
    }
    /* After an odd number of layers the result sits in the scratch buffer. */
    if (cur != out) {
        memcpy(out, cur, (size_t)n * sizeof *out);
        free(cur);
    } else {
        free(next);
    }
    if (unresolved) *unresolved = lost;
    return true;
}

int inspect_top_sources(const float *w, int n, int k, inspect_source *out) {
    int filled = 0;
    if (k > n) k = n;
    for (int i = 0; i < n && k > 0; i++) {
        if (filled == k && !(w[i] > out[k - 1].weight)) continue;
        int j = filled < k ? filled++ : k - 1;
        while (j > 0 && w[i] > out[j - 1].weight) {
            out[j] = out[j - 1];
            j--;
        }
        out[j] = (inspect_source){i, w[i]};
    }
    return filled;
}

/* ---- grounding ---- */

void grounding_params_default(grounding_params *p) {
    p->low_share = 0.25f;
    p->high_entropy = 2.0f;
}

void inspect_grounding_of_row(const float *row, const segment_kind *segments, int n, float entropy,
                              const grounding_params *p, grounding *out) {
    memset(out, 0, sizeof *out);
    double ctx = 0, own = 0, tmpl = 0;
    for (int k = 0; k < n; k++) {
        switch (segments[k]) {
        case SEG_SYSTEM:
        case SEG_USER:
        case SEG_PLAIN: ctx += row[k]; break;
        case SEG_ASSISTANT: own += row[k]; break;
        case SEG_TEMPLATE: tmpl += row[k]; break;
        }
    }
    out->context = (float)ctx;
    out->own = (float)own;
    out->tmpl = (float)tmpl;
    out->entropy = entropy;
    out->valid = ctx + own > 0;
    out->share = out->valid ? (float)(ctx / (ctx + own)) : 0.0f;
    out->flagged = out->valid && p && out->share < p->low_share && entropy > p->high_entropy;
}

bool inspect_grounding(const inspect_view *v, size_t rec, const grounding_params *p, grounding *out) {
    memset(out, 0, sizeof *out);
    const step_record *r = inspect_record(v, rec);
    if (!has_row(r)) return false;
    int n = r->n_keys;
    float *row = malloc((size_t)n * sizeof *row);
    segment_kind *seg = malloc((size_t)n * sizeof *seg);
    bool ok = row && seg && inspect_mean_attention(v, rec, -1, row);
    if (ok) {
        for (int k = 0; k < n; k++) {
            const step_record *rk = inspect_record(v, (size_t)k);
            seg[k] = rk ? rk->segment : SEG_TEMPLATE;
        }
        inspect_grounding_of_row(row, seg, n, r->sample.entropy_before, p, out);
    }
    free(row);
    free(seg);
    return ok && out->valid;
}

/* ---- lookback ratios ---- */

bool inspect_lookback(const inspect_view *v, size_t rec, float *out) {
    const step_record *r = inspect_record(v, rec);
    if (!has_row(r)) return false;
    const int n = r->n_keys;
    /* the reply so far: the keys just before the query that are this turn's reply */
    int start = n;
    for (const step_record *k; start > 0; start--) {
        k = inspect_record(v, (size_t)start - 1);
        if (!k || k->segment != SEG_ASSISTANT || k->turn != r->turn) break;
    }
    bool *in_ctx = malloc((size_t)start + 1);
    float *row = malloc((size_t)n * sizeof *row);
    if (!in_ctx || !row) {
        free(in_ctx);
        free(row);
        return false;
    }
    int n_ctx = 0;
    for (int k = 0; k < start; k++) n_ctx += in_ctx[k] = inspect_record(v, (size_t)k)->segment != SEG_TEMPLATE;
    const int n_new = n - start;
    for (int l = 0; l < v->n_layer; l++)
        for (int h = 0; h < v->n_head; h++) {
            double ctx = 0, own = 0;
            if (h < layer_heads(v, l)) { /* a hybrid's narrower layer: no head, no evidence (0.5) */
                head_mass(v, r, l, h, row);
                for (int k = 0; k < start; k++)
                    if (in_ctx[k]) ctx += row[k];
                for (int k = start; k < n; k++) own += row[k];
            }
            double a = n_ctx ? ctx / n_ctx : 0, b = n_new ? own / n_new : 0;
            out[(size_t)l * (size_t)v->n_head + (size_t)h] = n_new == 0 ? 1.0f : a + b > 0 ? (float)(a / (a + b)) : 0.5f;
        }
    free(in_ctx);
    free(row);
    return true;
}

/* ---- head roles ---- */

const char *head_role_name(head_role r) {
    switch (r) {
    case HEAD_PREVIOUS: return "prev";
    case HEAD_INDUCTION: return "induction";
    case HEAD_SINK: return "sink";
    case HEAD_BROAD: return "broad";
    case HEAD_UNCLEAR: break;
    }
    return "-";
}

static head_role classify(const head_stats *s) {
    head_role role = HEAD_UNCLEAR;
    float best = 0;
    if (s->previous >= INSPECT_PREVIOUS_MIN && s->previous > best) {
        role = HEAD_PREVIOUS;
        best = s->previous;
    }
    if (s->sink >= INSPECT_SINK_MIN && s->sink > best) {
        role = HEAD_SINK;
        best = s->sink;
    }
    if (s->n_induction_queries >= INSPECT_INDUCTION_MIN_QUERIES && s->induction >= INSPECT_INDUCTION_MIN &&
        s->induction > best)
        role = HEAD_INDUCTION;
    if (role == HEAD_UNCLEAR && s->n_queries > 0 && s->breadth >= INSPECT_BROAD_MIN) role = HEAD_BROAD;
    return role;
}

int inspect_head_roles(const inspect_view *v, size_t from, size_t to, head_stats *out) {
    const size_t n_heads = (size_t)v->n_layer * (size_t)v->n_head;
    memset(out, 0, n_heads * sizeof *out);
    size_t n_rec = inspect_n_records(v);
    if (to > n_rec) to = n_rec;
    /* Sums over queries, in double: thousands of queries of small numbers. */
    double *prev = calloc(n_heads, sizeof *prev), *sink = calloc(n_heads, sizeof *sink);
    double *ind = calloc(n_heads, sizeof *ind), *broad = calloc(n_heads, sizeof *broad);
    int *targets = malloc((to > 0 ? to : 1) * sizeof *targets);
    float *row = malloc((to > 0 ? to : 1) * sizeof *row);
    int n_queries = 0, n_ind = 0;
    if (!prev || !sink || !ind || !broad || !targets || !row) goto done;

    /* A query q needs at least three keys, so that "previous" (q-1) and "first" (0) are
     * different tokens. */
    for (size_t i = from < 3 ? 3 : from; i < to; i++) {
        const step_record *r = inspect_record(v, i);
        if (!has_row(r) || r->n_keys != (int)i) continue;
        const int q = (int)i - 1, n = r->n_keys;
        /* induction targets: keys j+1 where token j is the query's token */
        int32_t tq = inspect_record(v, (size_t)q)->token;
        int n_t = 0;
        for (int j = 0; j < q; j++)
            if (inspect_record(v, (size_t)j)->token == tq) targets[n_t++] = j + 1;
        n_queries++;
        if (n_t) n_ind++;
        const double log_n = log((double)n);
        for (int l = 0; l < v->n_layer; l++) {
            for (int h = 0; h < layer_heads(v, l); h++) {
                size_t at = (size_t)l * (size_t)v->n_head + (size_t)h;
                head_mass(v, r, l, h, row);
                prev[at] += row[q - 1];
                sink[at] += row[0];
                double hsum = 0;
                for (int k = 0; k < n; k++)
                    if (row[k] > 0) hsum -= row[k] * log((double)row[k]);
                broad[at] += hsum / log_n;
                double t = 0;
                for (int j = 0; j < n_t; j++) t += row[targets[j]];
                ind[at] += t;
            }
        }
    }
    for (size_t at = 0; at < n_heads; at++) {
        head_stats *s = &out[at];
        s->n_queries = n_queries;
        s->n_induction_queries = n_ind;
        if (n_queries) {
            s->previous = (float)(prev[at] / n_queries);
            s->sink = (float)(sink[at] / n_queries);
            s->breadth = (float)(broad[at] / n_queries);
        }
        if (n_ind) s->induction = (float)(ind[at] / n_ind);
        s->role = classify(s);
    }
done:
    free(prev);
    free(sink);
    free(ind);
    free(broad);
    free(targets);
    free(row);
    return n_queries;
}

/* ---- logit lens ---- */

void inspect_lens_logits(const model *m, const float *hidden, int i, float *out) {
    const model_hparams *hp = &m->hp;
    const float *h = hidden + (size_t)i * (size_t)hp->n_embd;
    if (i >= hp->n_layer) { /* the last entry is already normalised */
        head_logits(m, h, out);
        return;
    }
    float small[1024];
    float *x = hp->n_embd <= 1024 ? small : malloc((size_t)hp->n_embd * sizeof *x);
    if (!x) { /* out of memory: nothing sensible to decode */
        for (int v = 0; v < hp->n_vocab; v++) out[v] = -INFINITY;
        return;
    }
    head_norm(m, x, h);
    head_logits(m, x, out);
    if (x != small) free(x);
}

int inspect_commit_depth(const int32_t *top_ids, int n, int32_t id) {
    if (n <= 0 || top_ids[n - 1] != id) return -1;
    int d = n - 1;
    while (d > 0 && top_ids[d - 1] == id) d--;
    return d;
}

bool inspect_record_hidden(const step_record *r, int n_layer, int n_embd, float *out) {
    if (!r || !r->hidden) return false;
    size_t n = (size_t)(n_layer + 1) * (size_t)n_embd;
    for (size_t i = 0; i < n; i++) out[i] = fp16_to_f32(r->hidden[i]);
    return true;
}

/* Logits from an untrusted file: NaN counts as impossible, like -inf. */
static double clean(float x) { return isnan(x) ? -INFINITY : (double)x; }

/* a ranks above b: a higher logit, or the same one and a lower id (the sampler's order) */
static bool ranks_above(double va, int32_t a, double vb, int32_t b) { return va > vb || (va == vb && a < b); }

/* Everything lens_layer holds except the candidates' logits, for one logit vector. */
static void describe_entry(const float *logits, int n, int32_t chosen, lens_layer *e) {
    int32_t top = 0;
    double best = clean(logits[0]);
    for (int v = 1; v < n; v++)
        if (ranks_above(clean(logits[v]), v, best, top)) {
            best = clean(logits[v]);
            top = v;
        }
    double vc = clean(logits[chosen]), z = 0;
    int rank = 0;
    for (int v = 0; v < n; v++) {
        double x = clean(logits[v]);
        z += exp(x - best);
        if (v != chosen && ranks_above(x, v, vc, chosen)) rank++;
    }
    double lse = best + log(z);
    e->top_id = top;
    e->top_logit = (float)best;
    e->top_prob = (float)exp(best - lse);
    e->chosen_rank = rank;
    e->chosen_logit = (float)vc;
    e->chosen_prob = (float)exp(vc - lse);
    e->logsumexp = (float)lse;
}

void inspect_lens_entry(const model *m, const float *hidden, int i, int n_valid, int32_t chosen,
                        const int32_t *cand, int n_cand, float *scratch, lens_layer *out) {
    if (n_valid <= 0 || n_valid > m->hp.n_vocab) n_valid = m->hp.n_vocab;
    inspect_lens_logits(m, hidden, i, scratch);
    describe_entry(scratch, n_valid, chosen, out);
    for (int j = 0; j < n_cand && j < INSPECT_LENS_K + 1; j++) out->cand_logit[j] = scratch[cand[j]];
}

/* The lens's valid ids (*N_VALID: 0 or out of range means all), and CHOSEN among them. */
static int lens_valid_ids(const model *m, int *n_valid, int32_t chosen, char *err, size_t errlen) {
    if (*n_valid <= 0 || *n_valid > m->hp.n_vocab) *n_valid = m->hp.n_vocab;
    if (chosen < 0 || chosen >= *n_valid) {
        snprintf(err, errlen, "logit lens: token %d is outside the vocabulary (%d tokens)", (int)chosen, *n_valid);
        return -1;
    }
    return 0;
}

int inspect_logit_lens(const model *m, const float *hidden, int n_valid, int32_t chosen, logit_lens *out,
                       char *err, size_t errlen) {
    const model_hparams *hp = &m->hp;
    memset(out, 0, sizeof *out);
    if (lens_valid_ids(m, &n_valid, chosen, err, errlen) < 0) return -1;
    const int n_entries = hp->n_layer + 1;
    float *logits = malloc((size_t)hp->n_vocab * sizeof *logits);
    out->entry = calloc((size_t)n_entries, sizeof *out->entry);
    if (!logits || !out->entry) {
        free(logits);
        logit_lens_free(out);
        snprintf(err, errlen, "out of memory for the logit lens");
        return -1;
    }
    out->n_entries = n_entries;
    out->chosen = chosen;
    int32_t *tops = malloc((size_t)n_entries * sizeof *tops);
    if (!tops) {
        free(logits);
        logit_lens_free(out);
        snprintf(err, errlen, "out of memory for the logit lens");
        return -1;
    }
    /* The last entry first: its top tokens are the candidates followed down the layers. */
    inspect_lens_logits(m, hidden, n_entries - 1, logits);
    inspect_source best[INSPECT_LENS_K];
    float *cl = malloc((size_t)n_valid * sizeof *cl); /* ranked by logit, NaN as -inf */
    int k = 0;
    if (cl) {
        for (int v = 0; v < n_valid; v++) cl[v] = (float)clean(logits[v]);
        k = inspect_top_sources(cl, n_valid, INSPECT_LENS_K, best); /* ties keep id order */
        free(cl);
    }
    for (int j = 0; j < k; j++) out->cand_ids[out->n_cand++] = best[j].pos;
    bool have = false;
    for (int j = 0; j < out->n_cand; j++) have |= out->cand_ids[j] == chosen;
    if (!have) out->cand_ids[out->n_cand++] = chosen;
    for (int i = 0; i < n_entries; i++) {
        inspect_lens_entry(m, hidden, i, n_valid, chosen, out->cand_ids, out->n_cand, logits, &out->entry[i]);
        tops[i] = out->entry[i].top_id;
    }
    out->commit_depth = inspect_commit_depth(tops, n_entries, chosen);
    out->top_commit_depth = inspect_commit_depth(tops, n_entries, tops[n_entries - 1]);
    free(tops);
    free(logits);
    return 0;
}

int inspect_logit_lens_on(engine *e, const model *m, const float *hidden, int n_valid, int32_t chosen,
                          logit_lens *out, char *err, size_t errlen) {
    if (!engine_has_lens(e)) return inspect_logit_lens(m, hidden, n_valid, chosen, out, err, errlen);
    const model_hparams *hp = &m->hp;
    memset(out, 0, sizeof *out);
    if (lens_valid_ids(m, &n_valid, chosen, err, errlen) < 0) return -1;
    const int n_entries = hp->n_layer + 1, k = n_valid < INSPECT_LENS_K ? n_valid : INSPECT_LENS_K, kc = k + 1;
    int32_t cand[INSPECT_LENS_K + 1];
    float *cand_logits = malloc((size_t)n_entries * kc * sizeof *cand_logits);
    int32_t *ranks = malloc((size_t)n_entries * kc * sizeof *ranks);
    int32_t *top_ids = malloc((size_t)n_entries * sizeof *top_ids);
    float *top_logits = malloc((size_t)n_entries * sizeof *top_logits);
    float *lse = malloc((size_t)n_entries * sizeof *lse);
    out->entry = calloc((size_t)n_entries, sizeof *out->entry);
    int rc = -1;
    if (!cand_logits || !ranks || !top_ids || !top_logits || !lse || !out->entry) {
        snprintf(err, errlen, "out of memory for the logit lens");
        goto done;
    }
    engine_lens_query q = {.hidden = hidden, .n_valid = n_valid, .k = k, .extra = chosen, .cand_ids = cand,
                           .cand_logits = cand_logits, .ranks = ranks, .top_ids = top_ids,
                           .top_logits = top_logits, .logsumexp = lse};
    if (engine_lens(e, &q, err, errlen) < 0) goto done;
    /* the chosen token was asked for as an extra candidate; if it is among the top ones
     * already, the extra is dropped, as inspect_logit_lens does */
    int jc = k;
    for (int j = 0; j < k; j++)
        if (cand[j] == chosen) {
            jc = j;
            break;
        }
    out->n_entries = n_entries;
    out->chosen = chosen;
    out->n_cand = jc < k ? k : kc;
    memcpy(out->cand_ids, cand, (size_t)out->n_cand * sizeof *cand);
    for (int i = 0; i < n_entries; i++) {
        const float *cl = cand_logits + (size_t)i * kc;
        lens_layer *en = &out->entry[i];
        en->top_id = top_ids[i];
        en->top_logit = top_logits[i];
        en->top_prob = (float)exp((double)top_logits[i] - lse[i]);
        en->chosen_rank = ranks[(size_t)i * kc + jc];
        en->chosen_logit = cl[jc];
        en->chosen_prob = (float)exp((double)cl[jc] - lse[i]);
        en->logsumexp = lse[i];
        for (int j = 0; j < out->n_cand; j++) en->cand_logit[j] = cl[j];
    }
    out->commit_depth = inspect_commit_depth(top_ids, n_entries, chosen);
    out->top_commit_depth = inspect_commit_depth(top_ids, n_entries, top_ids[n_entries - 1]);
    rc = 0;
done:
    if (rc < 0) logit_lens_free(out);
    free(cand_logits);
    free(ranks);
    free(top_ids);
    free(top_logits);
    free(lse);
    return rc;
}

void logit_lens_free(logit_lens *l) {
    free(l->entry);
    l->entry = NULL;
    l->n_entries = 0;
}

/* ---- the why card ---- */

void why_options_default(why_options *o) {
    memset(o, 0, sizeof *o);
    o->n_sources = 8;
    o->rollout = true;
    grounding_params_default(&o->grounding);
}

int inspect_why(const inspect_view *v, size_t rec, const why_options *o, why_card *out, char *err,
                size_t errlen) {
    memset(out, 0, sizeof *out);
    const step_record *r = inspect_record(v, rec);
    if (!r) {
        snprintf(err, errlen, "no token at position %zu", rec);
        return -1;
    }
    why_options def;
    if (!o) {
        why_options_default(&def);
        o = &def;
    }
    int k = o->n_sources > 0 ? o->n_sources : 8;
    if (k > INSPECT_MAX_SOURCES) k = INSPECT_MAX_SOURCES;

    out->rec = rec;
    out->pos = r->pos;
    out->token = r->token;
    out->generated = r->generated;
    out->sample = r->sample;
    out->n_layer = v->n_layer;
    out->n_sources = k;
    const sample_result *s = &r->sample;
    out->greedy_differs = r->has_prediction && s->greedy_id != r->token;
    out->blame = r->generated ? s->blame : STAGE_NONE;
    if (r->generated) {
        int n_after = s->n_candidates_after < s->n_top ? s->n_candidates_after : s->n_top;
        for (int i = 0; i < n_after; i++)
            if (s->top_after[i].id == s->greedy_id && s->top_after[i].prob > 0) {
                out->greedy_survived = true;
                out->greedy_prob_after = s->top_after[i].prob;
            }
    }

    if (has_row(r)) {
        int n = r->n_keys;
        float *row = malloc((size_t)n * sizeof *row);
        out->layer_sources = malloc((size_t)v->n_layer * (size_t)k * sizeof *out->layer_sources);
        out->layer_n = calloc((size_t)v->n_layer, sizeof *out->layer_n);
        if (!row || !out->layer_sources || !out->layer_n) {
            free(row);
            why_card_free(out);
            snprintf(err, errlen, "out of memory for the why card");
            return -1;
        }
        out->has_attention = true;
        for (int l = 0; l < v->n_layer; l++) {
            inspect_mean_attention(v, rec, l, row);
            out->layer_n[l] = inspect_top_sources(row, n, k, out->layer_sources + (size_t)l * (size_t)k);
        }
        inspect_mean_attention(v, rec, -1, row);
        out->n_overall = inspect_top_sources(row, n, k, out->overall);
        segment_kind *seg = malloc((size_t)n * sizeof *seg);
        if (seg) {
            for (int i = 0; i < n; i++) seg[i] = inspect_record(v, (size_t)i)->segment;
            inspect_grounding_of_row(row, seg, n, s->entropy_before, &o->grounding, &out->ground);
            free(seg);
        }
        out->n_head = v->n_head;
        out->lookback = malloc((size_t)v->n_layer * (size_t)v->n_head * sizeof *out->lookback);
        if (out->lookback && !inspect_lookback(v, rec, out->lookback)) {
            free(out->lookback);
            out->lookback = NULL;
        }
        if (o->rollout && inspect_rollout(v, rec, row, &out->rollout_unresolved)) {
            out->has_rollout = true;
            out->n_rollout = inspect_top_sources(row, n, k, out->rollout);
        }
        free(row);
    }

    if (o->m && r->hidden && o->m->hp.n_layer == v->n_layer && o->m->hp.n_embd == v->n_embd) {
        size_t n = (size_t)(v->n_layer + 1) * (size_t)v->n_embd;
        float *hidden = malloc(n * sizeof *hidden);
        if (!hidden) {
            why_card_free(out);
            snprintf(err, errlen, "out of memory for the why card");
            return -1;
        }
        inspect_record_hidden(r, v->n_layer, v->n_embd, hidden);
        int rc = inspect_logit_lens_on(o->lens_engine, o->m, hidden, o->n_valid_vocab, r->token, &out->lens, err,
                                       errlen);
        free(hidden);
        if (rc < 0) {
            why_card_free(out);
            return -1;
        }
        out->has_lens = true;
    }
    if (inspect_experts(o->push_model ? o->push_model : o->m, r, v->n_layer, v->n_embd, out) < 0) {
        why_card_free(out);
        snprintf(err, errlen, "out of memory for the why card");
        return -1;
    }
    return 0;
}

void why_card_free(why_card *w) {
    free(w->layer_sources);
    free(w->layer_n);
    free(w->lookback);
    logit_lens_free(&w->lens);
    routing_free(w->routing);
    free(w->expert_push);
    w->routing = NULL;
    w->expert_push = NULL;
    w->layer_sources = NULL;
    w->layer_n = NULL;
    w->lookback = NULL;
    w->has_attention = w->has_lens = false;
}

/* ---- fork and probe ---- */

static bool same_seq(const int32_t *a, int na, const int32_t *b, int nb) {
    return na == nb && (na == 0 || memcmp(a, b, (size_t)na * sizeof *a) == 0);
}

void inspect_probe_summary(const int32_t *const *seqs, const int *lens, int n, probe_summary *out) {
    memset(out, 0, sizeof *out);
    out->n = n;
    out->split = -1;
    if (n <= 0) return;
    /* distinct sequences and the largest group: n is a handful, so pairwise is fine */
    for (int i = 0; i < n; i++) {
        bool first = true;
        int count = 0;
        for (int j = 0; j < n; j++) {
            if (!same_seq(seqs[i], lens[i], seqs[j], lens[j])) continue;
            if (j < i) first = false;
            count++;
        }
        if (first) out->n_distinct++;
        if (count > out->majority) {
            out->majority = count;
            out->majority_index = i;
        }
    }
    out->agreement = (float)out->majority / (float)n;
    if (out->n_distinct == 1) return;

    /* the split: the first index where the continuations do not all say the same
     * (ended counts as a value of its own, -1) */
    int longest = 0;
    for (int i = 0; i < n; i++)
        if (lens[i] > longest) longest = lens[i];
    for (int t = 0; t <= longest; t++) {
        int32_t seen[64];
        int n_seen = 0;
        for (int i = 0; i < n; i++) {
            int32_t tok = t < lens[i] ? seqs[i][t] : -1;
            bool known = false;
            for (int j = 0; j < n_seen; j++) known |= seen[j] == tok;
            if (!known && n_seen < 64) seen[n_seen++] = tok;
        }
        if (n_seen > 1) {
            out->split = t;
            out->n_at_split = n_seen;
            return;
        }
    }
}

int inspect_probe_run(engine *e, const struct tokenizer *tok, const int32_t *prefix, int n_prefix,
                      const sampler_params *sp, int n, int max_tokens, int32_t **seqs, int *lens, char *err,
                      size_t errlen) {
    const int V = e->model->hp.n_vocab;
    int n_valid = tok ? tokenizer_n_vocab(tok) : V;
    if (n_valid <= 0 || n_valid > V) n_valid = V;
    if (n_prefix < 1 || n < 1 || max_tokens < 1 || n_prefix > e->n_ctx - max_tokens) {
        snprintf(err, errlen, "probe: %d continuations of %d tokens after %d need a context of %d (have %d)", n,
                 max_tokens, n_prefix, n_prefix + max_tokens, e->n_ctx);
        return -1;
    }
    for (int i = 0; i < n; i++) seqs[i] = NULL, lens[i] = 0;
    float *fork = malloc((size_t)V * sizeof *fork), *logits = malloc((size_t)V * sizeof *logits);
    int32_t *hist = malloc((size_t)(n_prefix + max_tokens) * sizeof *hist);
    int rc = 0;
    if (!fork || !logits || !hist) {
        snprintf(err, errlen, "out of memory for the probe");
        rc = -1;
    }
    /* the distribution at the fork, once */
    engine_batch b = {.tokens = prefix, .n_tokens = n_prefix, .pos = 0, .logits = fork};
    if (rc == 0) rc = engine_eval(e, &b, err, errlen);
    if (rc == 0) {
        engine_checkpoint(e); /* each continuation rewinds here (recurrent layers) */
        for (int v = n_valid; v < V; v++) fork[v] = -INFINITY;
        memcpy(hist, prefix, (size_t)n_prefix * sizeof *hist);
    }
    for (int i = 0; i < n && rc == 0; i++) {
        sampler_params p = *sp;
        p.seed = sp->seed + (uint64_t)i;
        sampler smp;
        seqs[i] = malloc((size_t)max_tokens * sizeof *seqs[i]);
        if (!seqs[i] || sampler_init(&smp, &p, V) < 0) {
            snprintf(err, errlen, "out of memory for the probe");
            rc = -1;
            break;
        }
        const float *cur = fork;
        for (int t = 0; t < max_tokens; t++) {
            int32_t id = sampler_sample(&smp, cur, hist, n_prefix + t, NULL);
            seqs[i][t] = hist[n_prefix + t] = id;
            lens[i] = t + 1;
            if ((tok && tokenizer_is_eog(tok, id)) || t + 1 == max_tokens) break;
            /* rewinding is writing: position n_prefix + t belongs to this branch now */
            engine_batch step = {.tokens = &seqs[i][t], .n_tokens = 1, .pos = n_prefix + t, .logits = logits};
            if ((rc = engine_eval(e, &step, err, errlen)) < 0) break;
            for (int v = n_valid; v < V; v++) logits[v] = -INFINITY;
            cur = logits;
        }
        sampler_free(&smp);
    }
    free(fork);
    free(logits);
    free(hist);
    if (rc < 0)
        for (int i = 0; i < n; i++) {
            free(seqs[i]);
            seqs[i] = NULL;
            lens[i] = 0;
        }
    return rc;
}

/* ---- breakpoints ---- */

bool inspect_should_break(const inspect_breakpoints *b, const step_record *r, const grounding *g, char *why,
                          size_t whylen) {
    if (!b || !r || !r->has_prediction) return false;
    float h = r->sample.entropy_before;
    if (b->on_entropy && h > b->entropy_above) {
        if (why) snprintf(why, whylen, "entropy %.2f > %.2f nats", (double)h, (double)b->entropy_above);
        return true;
    }
    if (b->on_grounding && g && g->valid && g->share < b->grounding_below) {
        if (why) snprintf(why, whylen, "grounding %.0f%% < %.0f%%", 100.0 * g->share, 100.0 * b->grounding_below);
        return true;
    }
    return false;
}

/* ---- comparing distributions ---- */

static double log_sum_exp(const float *x, int n, int32_t *argmax) {
    double best = clean(x[0]);
    int32_t top = 0;
    for (int i = 1; i < n; i++)
        if (ranks_above(clean(x[i]), i, best, top)) {
            best = clean(x[i]);
            top = i;
        }
    *argmax = top;
    if (best == -INFINITY) return -INFINITY;
    double z = 0;
    for (int i = 0; i < n; i++) z += exp(clean(x[i]) - best);
    return best + log(z);
}

void inspect_compare(const float *p, const float *q, int n, int32_t id, dist_compare *out) {
    memset(out, 0, sizeof *out);
    double lp = log_sum_exp(p, n, &out->top_p), lq = log_sum_exp(q, n, &out->top_q);
    /* sum p_i (log p_i - log q_i); a term is exactly 0 where the two logits are equal */
    double kl = 0;
    for (int i = 0; i < n; i++) {
        double a = clean(p[i]) - lp;
        if (a == -INFINITY) continue; /* p_i = 0 contributes nothing */
        double b = clean(q[i]) - lq;
        kl += exp(a) * (a - b);
    }
    out->kl = kl > 0 ? kl : 0; /* rounding can leave a tiny negative sum */
    if (id >= 0 && id < n) {
        out->logp_id = clean(p[id]) - lp;
        out->logq_id = clean(q[id]) - lq;
    }
}
