/* cli_trace.c — the --trace file: one JSON object per generated token (JSON Lines).
 *
 * Fields (docs/llmscope.1, TRACE FORMAT, is the reference):
 *   pos, turn, id, text, [bytes], eog,
 *   prob, entropy, rank, margin, greedy_id        the model's own distribution
 *   prob_sampled, entropy_sampled, candidates     the distribution the token was drawn from
 *   blame                                         the sampler stage that changed the winner
 *   top_before, top_after                         [{id, text, logit, prob}] likeliest first
 *   sampler                                       the settings in force
 *   varentropy                                    variance of the surprisal (det_varentropy)
 *   why                                           the why card's attention sources, rollout,
 *                                                 grounding, lookback ratios per head, logit lens
 *                                                 and experts' pushes, where captured
 *   routing                                       per layer the experts chosen, their weights
 *                                                 and the runners-up (models with experts)
 *   suspicion                                     the model's detector's score of the reply
 *                                                 so far, when it has one (detector.h)
 * Token text is written as valid UTF-8 (a token holding part of a character gets U+FFFD
 * and its exact bytes in "bytes", as hex). */
#include "atomic_file.h"
#include "cli.h"
#include "detector.h"
#include "inspect.h"
#include "replay.h"
#include "routing.h"
#include "tokenizer.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct cli_trace {
    atomic_file out;  /* a temporary file, renamed over the trace when it is complete */
    FILE *f;
    char *path;
    int write_errno; /* first write error, 0 if none */
    cJSON *context;  /* for the next line (cli_trace_set_context) */
    /* the detector's running score of the reply being traced (cli_trace_set_detector) */
    const detector *det;
    det_accum acc;
    int acc_turn;
    float *lens_prob;
};

int cli_trace_set_detector(cli_trace *t, const detector *d) {
    t->det = d;
    t->acc_turn = -1;
    if (!d) return 0;
    t->lens_prob = malloc(((size_t)d->sh.n_layer + 1) * sizeof *t->lens_prob);
    return t->lens_prob && det_accum_init(&t->acc, d->sh) == 0 ? 0 : -1;
}

/* The detector's score of the reply up to record R (with its why card W, may be NULL). */
static double running_suspicion(cli_trace *t, const step_record *r, const why_card *w) {
    if (r->turn != t->acc_turn) {
        det_accum_reset(&t->acc);
        t->acc_turn = r->turn;
    }
    det_token tok;
    det_token_of_why(r, w, t->lens_prob, &tok);
    det_accum_add(&t->acc, &tok);
    int nf = det_n_features(t->det->sh);
    double *x = malloc((size_t)nf * sizeof *x);
    bool *present = malloc((size_t)nf * sizeof *present);
    double score = NAN;
    if (x && present) {
        det_accum_features(&t->acc, x, present);
        score = detector_score(t->det, x, present, NULL, 0, NULL);
    }
    free(x);
    free(present);
    return score;
}

cli_trace *cli_trace_open(const char *path, char *err, size_t errlen) {
    cli_trace *t = calloc(1, sizeof *t);
    if (!t || !(t->path = strdup(path))) {
        free(t);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    char why[600];
    if (atomic_file_open(&t->out, path, why, sizeof why) < 0) {
        snprintf(err, errlen, "the trace file: %s", why);
        free(t->path);
        free(t);
        return NULL;
    }
    t->f = t->out.f;
    return t;
}

/* Floats are written with the precision they have (about 7 digits), not as the long
 * doubles they would print as. */
static double short_float(float x) {
    char buf[32];
    snprintf(buf, sizeof buf, "%.7g", (double)x);
    return strtod(buf, NULL);
}

/* Adds "text" (and "bytes" when the text had to be repaired) for LEN bytes of S. */
static void add_text(cJSON *obj, const char *s, size_t len) {
    bool changed;
    char *clean = cli_utf8_sanitize(s, len, &changed);
    cJSON_AddStringToObject(obj, "text", clean ? clean : "");
    free(clean);
    if (changed) {
        char *hex = malloc(2 * len + 1);
        if (!hex) return;
        for (size_t i = 0; i < len; i++) snprintf(hex + 2 * i, 3, "%02x", (unsigned char)s[i]);
        hex[2 * len] = 0;
        cJSON_AddStringToObject(obj, "bytes", hex);
        free(hex);
    }
}

static void add_token_text(cJSON *obj, const tokenizer *tok, int32_t id) {
    char buf[256];
    int n = tokenizer_piece(tok, id, buf, sizeof buf);
    if (n < 0) n = 0;
    if ((size_t)n > sizeof buf) n = sizeof buf; /* a 256-byte token is plenty for a trace */
    add_text(obj, buf, (size_t)n);
}

static cJSON *token_list(const token_prob *list, int n, const tokenizer *tok) {
    cJSON *arr = cJSON_CreateArray();
    for (int i = 0; arr && i < n; i++) {
        cJSON *o = cJSON_CreateObject();
        if (!o) break;
        cJSON_AddNumberToObject(o, "id", list[i].id);
        add_token_text(o, tok, list[i].id);
        cJSON_AddNumberToObject(o, "logit", short_float(list[i].logit));
        cJSON_AddNumberToObject(o, "prob", short_float(list[i].prob));
        cJSON_AddItemToArray(arr, o);
    }
    return arr;
}

static cJSON *sampler_object(const sampler_params *p) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddNumberToObject(o, "temperature", short_float(p->temperature));
    cJSON_AddNumberToObject(o, "top_k", p->top_k);
    cJSON_AddNumberToObject(o, "top_p", short_float(p->top_p));
    cJSON_AddNumberToObject(o, "min_p", short_float(p->min_p));
    cJSON_AddNumberToObject(o, "repeat_penalty", short_float(p->repeat_penalty));
    cJSON_AddNumberToObject(o, "repeat_last_n", p->repeat_last_n);
    cJSON_AddNumberToObject(o, "seed", (double)p->seed); /* exact up to 2^53 */
    return o;
}

/* Sources as [{pos, text, weight}]: the earlier tokens of S a step drew on. */
static cJSON *source_list(const inspect_source *src, int n, const session *s) {
    cJSON *arr = cJSON_CreateArray();
    for (int i = 0; arr && i < n; i++) {
        cJSON *o = cJSON_CreateObject();
        if (!o) break;
        const step_record *at = session_record(s, (size_t)src[i].pos);
        cJSON_AddNumberToObject(o, "pos", src[i].pos);
        if (at) add_text(o, at->text, strlen(at->text));
        cJSON_AddNumberToObject(o, "weight", short_float(src[i].weight));
        cJSON_AddItemToArray(arr, o);
    }
    return arr;
}

#define TRACE_SOURCES 5

static cJSON *float_array(const float *v, int n) {
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; a && i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber(short_float(v[i])));
    return a;
}

/* The record's mixture-of-experts routing, one entry per layer with experts. */
static cJSON *routing_array(const record_routing *r) {
    cJSON *a = cJSON_CreateArray();
    int ids[256];
    float probs[256], w[256];
    if (r->n_rank > 256) return a;
    for (int l = 0; a && l < r->n_layer; l++) {
        if (!routing_layer_has_experts(r, l)) continue;
        cJSON *x = cJSON_CreateObject();
        if (!x) break;
        for (int j = 0; j < r->n_rank; j++) {
            ids[j] = routing_id(r, l, j);
            probs[j] = routing_prob(r, l, j);
            if (j < r->n_used) w[j] = routing_weight(r, l, j);
        }
        cJSON_AddNumberToObject(x, "layer", l);
        cJSON_AddItemToObject(x, "experts", cJSON_CreateIntArray(ids, r->n_used));
        cJSON_AddItemToObject(x, "weights", float_array(w, r->n_used));
        cJSON_AddItemToObject(x, "probs", float_array(probs, r->n_used));
        cJSON_AddItemToObject(x, "runners_up", cJSON_CreateIntArray(ids + r->n_used, r->n_rank - r->n_used));
        cJSON_AddItemToObject(x, "runner_probs", float_array(probs + r->n_used, r->n_rank - r->n_used));
        cJSON_AddItemToArray(a, x);
    }
    return a;
}

/* The why card's experts: how much each layer's experts pushed the token's logit. */
static cJSON *expert_push_array(const why_card *w) {
    cJSON *a = cJSON_CreateArray();
    for (int l = 0; a && l < w->n_layer; l++) {
        if (isnan(w->expert_push[l])) continue;
        cJSON *x = cJSON_CreateObject();
        if (!x) break;
        cJSON_AddNumberToObject(x, "layer", l);
        cJSON_AddNumberToObject(x, "push", short_float(w->expert_push[l]));
        cJSON_AddItemToArray(a, x);
    }
    return a;
}

/* The why card's parts beyond the sampler's (which the line already has). */
static cJSON *why_object(const why_card *w, const session *s, const tokenizer *tok) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    if (w->has_attention) {
        cJSON_AddItemToObject(o, "sources", source_list(w->overall, w->n_overall < TRACE_SOURCES ? w->n_overall
                                                                                                   : TRACE_SOURCES, s));
        if (w->has_rollout)
            cJSON_AddItemToObject(o, "rollout", source_list(w->rollout, w->n_rollout < TRACE_SOURCES ? w->n_rollout
                                                                                                       : TRACE_SOURCES, s));
    }
    if (w->ground.valid) {
        cJSON *g = cJSON_AddObjectToObject(o, "grounding");
        if (g) {
            cJSON_AddNumberToObject(g, "share", short_float(w->ground.share));
            cJSON_AddNumberToObject(g, "context", short_float(w->ground.context));
            cJSON_AddNumberToObject(g, "own", short_float(w->ground.own));
            cJSON_AddNumberToObject(g, "template", short_float(w->ground.tmpl));
            cJSON_AddBoolToObject(g, "flagged", w->ground.flagged);
        }
    }
    if (w->lookback) { /* [layer][head], four decimals: plenty for a ratio, and short */
        cJSON *lb = cJSON_AddArrayToObject(o, "lookback");
        for (int l = 0; lb && l < w->n_layer; l++) {
            cJSON *heads = cJSON_CreateArray();
            for (int h = 0; heads && h < w->n_head; h++)
                cJSON_AddItemToArray(heads, cJSON_CreateNumber(round(1e4 * w->lookback[l * w->n_head + h]) / 1e4));
            cJSON_AddItemToArray(lb, heads);
        }
    }
    if (w->has_lens) {
        const logit_lens *L = &w->lens;
        cJSON *l = cJSON_AddObjectToObject(o, "lens");
        cJSON *layers = l ? cJSON_AddArrayToObject(l, "entries") : NULL;
        if (l) {
            cJSON_AddNumberToObject(l, "commit_depth", L->commit_depth);
            cJSON_AddNumberToObject(l, "top_commit_depth", L->top_commit_depth);
        }
        for (int i = 0; layers && i < L->n_entries; i++) {
            const lens_layer *e = &L->entry[i];
            cJSON *x = cJSON_CreateObject();
            if (!x) break;
            cJSON_AddNumberToObject(x, "top_id", e->top_id);
            add_token_text(x, tok, e->top_id);
            cJSON_AddNumberToObject(x, "top_prob", short_float(e->top_prob));
            cJSON_AddNumberToObject(x, "rank", e->chosen_rank + 1); /* 1: the top, as on screen */
            cJSON_AddNumberToObject(x, "prob", short_float(e->chosen_prob));
            cJSON_AddItemToArray(layers, x);
        }
    }
    if (w->expert_push) cJSON_AddItemToObject(o, "experts", expert_push_array(w));
    return o;
}

int cli_trace_write(cli_trace *t, const session *sess, const step_record *r, const tokenizer *tok, bool eog,
                    const why_card *why) {
    const sample_result *s = &r->sample;
    cJSON *o = cJSON_CreateObject();
    if (!o) return -1;
    cJSON_AddNumberToObject(o, "pos", r->pos);
    cJSON_AddNumberToObject(o, "turn", r->turn);
    cJSON_AddNumberToObject(o, "id", r->token);
    add_text(o, r->text, strlen(r->text));
    cJSON_AddBoolToObject(o, "eog", eog);
    cJSON_AddNumberToObject(o, "prob", short_float(s->prob_before));
    cJSON_AddNumberToObject(o, "entropy", short_float(s->entropy_before));
    cJSON_AddNumberToObject(o, "varentropy", short_float(det_varentropy(s)));
    cJSON_AddNumberToObject(o, "rank", s->rank_before + 1); /* 1: the likeliest, as on screen */
    cJSON_AddNumberToObject(o, "margin", short_float(s->margin));
    cJSON_AddNumberToObject(o, "greedy_id", s->greedy_id);
    cJSON_AddNumberToObject(o, "prob_sampled", short_float(s->prob_after));
    cJSON_AddNumberToObject(o, "entropy_sampled", short_float(s->entropy_after));
    cJSON_AddNumberToObject(o, "candidates", s->n_candidates_after);
    cJSON_AddStringToObject(o, "blame", sampler_stage_name(s->blame));
    int n_after = s->n_candidates_after < s->n_top ? s->n_candidates_after : s->n_top;
    cJSON_AddItemToObject(o, "top_before", token_list(s->top_before, s->n_top, tok));
    cJSON_AddItemToObject(o, "top_after", token_list(s->top_after, n_after, tok));
    cJSON_AddItemToObject(o, "sampler", sampler_object(&r->params));
    if (why) cJSON_AddItemToObject(o, "why", why_object(why, sess, tok));
    if (r->routing) cJSON_AddItemToObject(o, "routing", routing_array(r->routing));
    if (t->det && r->has_prediction) {
        double score = running_suspicion(t, r, why);
        if (isfinite(score)) cJSON_AddNumberToObject(o, "suspicion", round(1e4 * score) / 1e4);
    }
    if (t->context) {
        cJSON_AddItemToObject(o, "context", t->context);
        t->context = NULL;
    }

    char *line = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!line) return -1;
    /* whole lines reach the file as they are made: a trace can be read while the
     * terminal app is still writing it */
    if ((fputs(line, t->f) < 0 || fputc('\n', t->f) == EOF || fflush(t->f) != 0) && !t->write_errno)
        t->write_errno = errno ? errno : EIO;
    free(line);
    return t->write_errno ? -1 : 0;
}

int cli_trace_set_context(cli_trace *t, const session *s, const char *model_path) {
    return cli_trace_set_context_at(t, s, model_path, session_n_records(s));
}

int cli_trace_set_context_at(cli_trace *t, const session *s, const char *model_path, size_t n) {
    cJSON_Delete(t->context);
    t->context = replay_context_json(s, model_path);
    if (!t->context) return -1;
    cJSON *toks = cJSON_GetObjectItemCaseSensitive(t->context, "tokens");
    for (int k = cJSON_GetArraySize(toks); toks && k > (int)n; k--) cJSON_DeleteItemFromArray(toks, k - 1);
    /* a chat that outgrew its context: what left the window, and when */
    session_window w;
    session_window_info(s, &w);
    if (w.shifts) {
        cJSON *win = cJSON_AddObjectToObject(t->context, "window");
        if (!win) return -1;
        cJSON_AddNumberToObject(win, "shifts", w.shifts);
        cJSON_AddNumberToObject(win, "dropped_turns", w.dropped_turns);
        cJSON_AddNumberToObject(win, "dropped_tokens", w.dropped_tokens);
    }
    return 0;
}

/* Work above which the trace leaves the rollout out (layers x keys^2 / 2 values read):
 * about 10 ms of one core per token, as in the terminal app's why card. */
#define TRACE_ROLLOUT_WORK 2e7

int cli_trace_record(cli_trace *t, session *s, const model *m, const tokenizer *tok, const step_record *r, bool eog,
                     bool lens_on_cpu) {
    size_t idx = (size_t)r->pos;
    why_card w;
    bool have = false;
    if (r->has_prediction && (r->attention || r->hidden)) {
        inspect_view v;
        inspect_view_session(&v, s);
        why_options wo;
        why_options_default(&wo);
        wo.n_valid_vocab = tokenizer_n_vocab(tok);
        wo.lens_engine = session_lens_engine(s);
        wo.m = wo.lens_engine || lens_on_cpu ? m : NULL;
        wo.push_model = m;
        wo.rollout = (double)m->hp.n_layer * r->n_keys * r->n_keys / 2 <= TRACE_ROLLOUT_WORK;
        char err[256];
        have = inspect_why(&v, idx, &wo, &w, err, sizeof err) == 0;
        if (!have) fprintf(stderr, "llmscope: warning: why card of position %d left out of the trace: %s\n", r->pos, err);
    }
    int rc = cli_trace_write(t, s, r, tok, eog, have ? &w : NULL);
    if (have) why_card_free(&w);
    return rc;
}

int cli_trace_close(cli_trace *t, char *err, size_t errlen) {
    if (!t) return 0;
    cJSON_Delete(t->context);
    det_accum_free(&t->acc);
    free(t->lens_prob);
    int rc = 0;
    char why[600];
    if (t->write_errno) {
        atomic_file_abort(&t->out);
        snprintf(err, errlen, "cannot write the trace file %s: %s%s", t->path, strerror(t->write_errno),
                 t->write_errno == ENOSPC ? " (the disk is full)" : "");
        rc = -1;
    } else if (atomic_file_commit(&t->out, why, sizeof why) < 0) {
        snprintf(err, errlen, "the trace file: %s", why);
        rc = -1;
    }
    free(t->path);
    free(t);
    return rc;
}
