/* replay.c — a traced transcript read back, and two models compared on it (replay.h).
 *
 * Both models read the same tokens (teacher forcing: the transcript, not what either
 * would have generated), in chunks with every position's logits, and each traced token
 * is compared where it was chosen. The same file against itself gives KL exactly 0: the
 * engines are deterministic and inspect_compare's terms vanish when the logits are the
 * same numbers. */
#include "replay.h"

#include "inspect.h"
#include "line_reader.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* logits of one chunk of positions, per model */
#define CHUNK_BYTES ((size_t)64 << 20)

/* ---- the trace's context ---- */

cJSON *replay_context_json(const session *s, const char *model_path) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    char abs[PATH_MAX];
    const char *path = model_path && realpath(model_path, abs) ? abs : model_path ? model_path : "";
    cJSON_AddStringToObject(o, "model", path);
    cJSON_AddNumberToObject(o, "n_vocab", session_model(s)->hp.n_vocab);
    cJSON *arr = cJSON_AddArrayToObject(o, "tokens");
    size_t n = session_n_records(s);
    for (size_t i = 0; arr && i < n; i++) {
        cJSON *v = cJSON_CreateNumber(session_record(s, i)->token);
        if (!v) break;
        cJSON_AddItemToArray(arr, v);
    }
    if (!arr || (size_t)cJSON_GetArraySize(arr) != n) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/* ---- reading a trace ---- */

void replay_trace_free(replay_trace *t) {
    if (t->text)
        for (int i = 0; i < t->n_tokens; i++) free(t->text[i]);
    free(t->model_path);
    free(t->tokens);
    free(t->traced);
    free(t->trace_prob);
    free(t->text);
    memset(t, 0, sizeof *t);
}

/* An integer field in range, or false. */
static bool get_int(const cJSON *o, const char *key, double lo, double hi, int *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < lo || v->valuedouble > hi)
        return false;
    *out = (int)v->valuedouble;
    return true;
}

/* Makes room for N positions. */
static int trace_reserve(replay_trace *t, int n, int *cap) {
    if (n <= *cap) return 0;
    int c = *cap ? *cap : 256;
    while (c < n) c *= 2;
    int32_t *tok = realloc(t->tokens, (size_t)c * sizeof *tok);
    if (tok) t->tokens = tok;
    bool *tr = realloc(t->traced, (size_t)c * sizeof *tr);
    if (tr) t->traced = tr;
    float *pr = realloc(t->trace_prob, (size_t)c * sizeof *pr);
    if (pr) t->trace_prob = pr;
    char **tx = realloc(t->text, (size_t)c * sizeof *tx);
    if (tx) t->text = tx;
    if (!tok || !tr || !pr || !tx) return -1;
    *cap = c;
    return 0;
}

/* Truncates to the N positions of a context and fills them in from it. */
static int read_context(replay_trace *t, const cJSON *ctx, int *cap, char *why, size_t whylen) {
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(ctx, "model");
    const cJSON *toks = cJSON_GetObjectItemCaseSensitive(ctx, "tokens");
    if (!cJSON_IsObject(ctx) || !cJSON_IsString(model) || !cJSON_IsArray(toks)) {
        snprintf(why, whylen, "\"context\" needs \"model\" (a string) and \"tokens\" (an array)");
        return -1;
    }
    int n = cJSON_GetArraySize(toks);
    if (n > REPLAY_MAX_TOKENS) {
        snprintf(why, whylen, "the context has %d tokens (at most %d)", n, REPLAY_MAX_TOKENS);
        return -1;
    }
    for (int i = 0; i < t->n_tokens; i++) free(t->text[i]);
    t->n_tokens = 0;
    if (trace_reserve(t, n, cap) < 0) {
        snprintf(why, whylen, "out of memory");
        return -1;
    }
    int i = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, toks) {
        if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < 0 ||
            v->valuedouble > INT32_MAX) {
            snprintf(why, whylen, "context token %d is not a token id", i);
            return -1;
        }
        t->tokens[i] = (int32_t)v->valuedouble;
        t->traced[i] = false;
        t->trace_prob[i] = NAN;
        t->text[i] = NULL;
        i++;
    }
    t->n_tokens = n;
    free(t->model_path);
    t->model_path = strdup(model->valuestring);
    t->n_vocab = 0;
    get_int(ctx, "n_vocab", 1, INT32_MAX, &t->n_vocab);
    if (!t->model_path) {
        snprintf(why, whylen, "out of memory");
        return -1;
    }
    return 0;
}

/* One trace line: a context (optional) and a token at the next position. */
static int read_line(replay_trace *t, const cJSON *o, int *cap, char *why, size_t whylen) {
    const cJSON *ctx = cJSON_GetObjectItemCaseSensitive(o, "context");
    if (ctx && read_context(t, ctx, cap, why, whylen) < 0) return -1;
    if (!t->model_path) {
        snprintf(why, whylen, "no \"context\" before the first token (the trace must come from "
                              "llmscope --trace, which records what preceded the reply)");
        return -1;
    }
    int pos, id;
    if (!get_int(o, "pos", 0, REPLAY_MAX_TOKENS - 1, &pos) || !get_int(o, "id", 0, INT32_MAX, &id)) {
        snprintf(why, whylen, "a token line needs \"pos\" and \"id\" (whole numbers)");
        return -1;
    }
    if (pos != t->n_tokens) {
        snprintf(why, whylen, "token at position %d does not follow the previous one (expected %d)", pos,
                 t->n_tokens);
        return -1;
    }
    if (trace_reserve(t, pos + 1, cap) < 0) {
        snprintf(why, whylen, "out of memory");
        return -1;
    }
    const cJSON *prob = cJSON_GetObjectItemCaseSensitive(o, "prob");
    const cJSON *text = cJSON_GetObjectItemCaseSensitive(o, "text");
    t->tokens[pos] = id;
    t->traced[pos] = true;
    t->trace_prob[pos] = cJSON_IsNumber(prob) ? (float)prob->valuedouble : NAN;
    t->text[pos] = cJSON_IsString(text) ? strdup(text->valuestring) : NULL;
    t->n_tokens++;
    return 0;
}

int replay_read_trace(const char *path, replay_trace *t, char *err, size_t errlen) {
    memset(t, 0, sizeof *t);
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "cannot read the trace %s: %s", path, strerror(errno));
        return -1;
    }
    int rc = replay_read_trace_from(f, path, NULL, NULL, t, err, errlen);
    fclose(f);
    return rc;
}

int replay_read_trace_from(FILE *f, const char *path, bool (*cancel)(void *), void *cancel_ctx, replay_trace *t,
                           char *err, size_t errlen) {
    memset(t, 0, sizeof *t);
    line_reader lr;
    line_reader_init(&lr, f, REPLAY_MAX_LINE, REPLAY_MAX_FILE);
    lr.cancel = cancel;
    lr.cancel_ctx = cancel_ctx;
    char why[256] = "";
    size_t len;
    line_status st;
    int cap = 0, n_lines = 0, rc = 0;
    while (rc == 0 && (st = line_reader_next(&lr, &len)) == LINE_OK) {
        if (len == 0) continue;
        cJSON *o = cJSON_ParseWithLength(lr.buf, len);
        if (!cJSON_IsObject(o)) {
            snprintf(why, sizeof why, "not a JSON object");
            rc = -1;
        } else {
            rc = read_line(t, o, &cap, why, sizeof why);
            n_lines++;
        }
        cJSON_Delete(o);
        if (rc < 0) snprintf(err, errlen, "%s:%ld: %s", path, lr.lineno, why);
    }
    if (rc == 0 && st != LINE_END) {
        line_reader_describe(&lr, st, why, sizeof why);
        rc = (snprintf(err, errlen, "cannot read the trace %s: %s", path, why), -1);
    }
    if (rc == 0 && n_lines == 0) rc = (snprintf(err, errlen, "%s: no traced tokens", path), -1);
    line_reader_free(&lr);
    if (rc < 0) replay_trace_free(t);
    return rc;
}

void replay_trace_truncate(replay_trace *t, int n) {
    if (n < 0 || n >= t->n_tokens) return;
    for (int i = n; i < t->n_tokens; i++) {
        free(t->text[i]);
        t->text[i] = NULL;
    }
    t->n_tokens = n;
}

/* ---- comparing ---- */

void replay_result_free(replay_result *r) {
    free(r->tok);
    memset(r, 0, sizeof *r);
}

int replay_compare(engine *base, engine *other, int n_valid, const replay_trace *t, bool all,
                   replay_result *out, char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    out->max_kl_pos = out->first_divergence = -1;
    const int V = base->model->hp.n_vocab, T = t->n_tokens;
    if (other->model->hp.n_vocab != V) {
        snprintf(err, errlen, "the models have different vocabularies (%d and %d tokens)", V,
                 other->model->hp.n_vocab);
        return -1;
    }
    if (n_valid <= 0 || n_valid > V) n_valid = V;
    if (T < 2) {
        snprintf(err, errlen, "the transcript has %d token%s: nothing to compare", T, T == 1 ? "" : "s");
        return -1;
    }
    for (int i = 0; i < T; i++)
        if (t->tokens[i] < 0 || t->tokens[i] >= n_valid) {
            snprintf(err, errlen, "token %d at position %d is not in the model's vocabulary (%d tokens)",
                     (int)t->tokens[i], i, n_valid);
            return -1;
        }
    int n_scored = 0;
    for (int p = 1; p < T; p++) n_scored += all || t->traced[p];
    out->tok = calloc((size_t)(n_scored ? n_scored : 1), sizeof *out->tok);
    int chunk = (int)(CHUNK_BYTES / ((size_t)V * sizeof(float)));
    if (chunk < 1) chunk = 1;
    if (chunk > T - 1) chunk = T - 1;
    float *lb = malloc((size_t)chunk * (size_t)V * sizeof *lb), *lo = malloc((size_t)chunk * (size_t)V * sizeof *lo);
    if (!out->tok || !lb || !lo) {
        free(lb);
        free(lo);
        replay_result_free(out);
        snprintf(err, errlen, "out of memory for %d positions of %d logits", chunk, V);
        return -1;
    }
    double sum_kl = 0;
    int rc = 0;
    /* the output at position q predicts the token at q+1: positions 0 .. T-2 */
    for (int a = 0; a < T - 1 && rc == 0; a += chunk) {
        int n = T - 1 - a < chunk ? T - 1 - a : chunk;
        engine_batch bb = {.tokens = t->tokens + a, .n_tokens = n, .pos = a, .all_positions = true, .logits = lb};
        engine_batch bo = bb;
        bo.logits = lo;
        if (engine_eval(base, &bb, err, errlen) < 0 || engine_eval(other, &bo, err, errlen) < 0) {
            rc = -1;
            break;
        }
        for (int j = 0; j < n; j++) {
            int p = a + j + 1;
            if (!all && !t->traced[p]) continue;
            float *pb = lb + (size_t)j * V, *po = lo + (size_t)j * V;
            for (int v = n_valid; v < V; v++) pb[v] = po[v] = -INFINITY; /* not tokens */
            dist_compare c;
            inspect_compare(pb, po, V, t->tokens[p], &c);
            replay_token *rt = &out->tok[out->n++];
            *rt = (replay_token){p, t->tokens[p], c.kl, c.logp_id, c.logq_id, c.top_p, c.top_q};
            sum_kl += c.kl;
            if (out->max_kl_pos < 0 || c.kl > out->max_kl) {
                out->max_kl = c.kl;
                out->max_kl_pos = p;
            }
            if (c.top_p == c.top_q) out->agree++;
            else if (out->first_divergence < 0) out->first_divergence = p;
            if (!isnan(t->trace_prob[p])) {
                double d = fabs(exp(c.logp_id) - (double)t->trace_prob[p]);
                if (d > out->trace_prob_err) out->trace_prob_err = d;
            }
        }
    }
    free(lb);
    free(lo);
    if (rc < 0) {
        replay_result_free(out);
        return -1;
    }
    out->mean_kl = out->n ? sum_kl / out->n : 0;
    return 0;
}

