/* detector.c — token signals, their summaries over an answer, logistic regression,
 * AUROC, and the detector file. See detector.h for what each is. */
#include "detector.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* the smallest probability a log is taken of: a token the model gave "0" */
#define DET_PROB_FLOOR 1e-10
/* a detector file is a few numbers per feature */
#define DET_FILE_MAX ((long)16 << 20)

void det_token_clear(det_token *t) {
    memset(t, 0, sizeof *t);
    t->prob = t->entropy = t->margin = t->varentropy = t->grounding = t->commit = NAN;
}

float det_varentropy(const sample_result *s) {
    double h = s->entropy_before, top_mass = 0, top_h = 0, top_sq = 0;
    for (int i = 0; i < s->n_top; i++) {
        double p = s->top_before[i].prob;
        if (!(p > 0)) continue;
        double sur = -log(p);
        top_mass += p;
        top_h += p * sur;
        top_sq += p * sur * sur;
    }
    double rest = 1 - top_mass, rest_h = h - top_h, v = top_sq - h * h;
    /* the rest of the mass, all at the surprisal that gives it its share of the entropy */
    if (rest > 1e-9 && rest_h > 0) v += rest_h * rest_h / rest;
    return v > 0 && isfinite(v) ? (float)v : 0.0f;
}

bool det_token_of(const inspect_view *v, size_t rec, const logit_lens *lens, float *lookback, float *lens_prob,
                  det_token *out) {
    det_token_clear(out);
    const step_record *r = inspect_record(v, rec);
    if (!r || !r->has_prediction) return false;
    const sample_result *s = &r->sample;
    out->prob = s->prob_before;
    out->entropy = s->entropy_before;
    out->margin = s->margin;
    out->varentropy = det_varentropy(s);
    grounding_params gp;
    grounding_params_default(&gp);
    grounding g;
    if (inspect_grounding(v, rec, &gp, &g)) {
        out->grounding = g.share;
        out->flagged = g.flagged;
    }
    if (lookback && inspect_lookback(v, rec, lookback)) out->lookback = lookback;
    if (lens && lens->n_entries == v->n_layer + 1 && lens_prob) {
        for (int i = 0; i < lens->n_entries; i++) lens_prob[i] = lens->entry[i].chosen_prob;
        out->lens_prob = lens_prob;
        out->commit = lens->commit_depth < 0 ? 1.0f : (float)lens->commit_depth / (float)v->n_layer;
    }
    return true;
}

void det_token_of_why(const step_record *r, const why_card *w, float *lens_prob, det_token *out) {
    det_token_clear(out);
    const sample_result *s = &r->sample;
    out->prob = s->prob_before;
    out->entropy = s->entropy_before;
    out->margin = s->margin;
    out->varentropy = det_varentropy(s);
    if (!w) return;
    if (w->ground.valid) {
        out->grounding = w->ground.share;
        out->flagged = w->ground.flagged;
    }
    out->lookback = w->lookback;
    if (w->has_lens && lens_prob && w->lens.n_entries == w->n_layer + 1) {
        for (int i = 0; i < w->lens.n_entries; i++) lens_prob[i] = w->lens.entry[i].chosen_prob;
        out->lens_prob = lens_prob;
        out->commit = w->lens.commit_depth < 0 ? 1.0f : (float)w->lens.commit_depth / (float)w->n_layer;
    }
}

/* ---- features ---- */

static const char *const SIGNAL_NAME[] = {
#define X(id, name, what) name,
    DET_SIGNALS(X)
#undef X
};
static const char *const SIGNAL_WHAT[] = {
#define X(id, name, what) what,
    DET_SIGNALS(X)
#undef X
};
static const struct {
    det_signal sig;
    det_agg agg;
} SCALAR[] = {
#define X(sig, agg) {DET_SIG_##sig, DET_##agg},
    DET_SCALARS(X)
#undef X
};
static const char *const AGG_NAME[] = {"mean", "min", "max"};
static const char *const AGG_WHAT[] = {"mean", "minimum", "maximum"};

/* lens entries: the embeddings and every layer's output (none when the shape is unknown) */
static int lens_entries(det_shape sh) { return sh.n_layer > 0 ? sh.n_layer + 1 : 0; }

int det_n_features(det_shape sh) { return DET_N_SCALARS + sh.n_layer * sh.n_head + lens_entries(sh); }

void det_feature_name(det_shape sh, int i, char *buf, size_t cap) {
    int heads = sh.n_layer * sh.n_head;
    if (i < DET_N_SCALARS) snprintf(buf, cap, "%s_%s", AGG_NAME[SCALAR[i].agg], SIGNAL_NAME[SCALAR[i].sig]);
    else if (i < DET_N_SCALARS + heads)
        snprintf(buf, cap, "lookback_l%dh%d", (i - DET_N_SCALARS) / sh.n_head, (i - DET_N_SCALARS) % sh.n_head);
    else snprintf(buf, cap, "lens_logprob_e%d", i - DET_N_SCALARS - heads);
}

int det_feature_index(det_shape sh, const char *name) {
    char buf[64];
    for (int i = 0, n = det_n_features(sh); i < n; i++) {
        det_feature_name(sh, i, buf, sizeof buf);
        if (strcmp(buf, name) == 0) return i;
    }
    return -1;
}

void det_feature_phrase(det_shape sh, int i, char *buf, size_t cap) {
    int heads = sh.n_layer * sh.n_head;
    if (i < DET_N_SCALARS) snprintf(buf, cap, "%s %s", AGG_WHAT[SCALAR[i].agg], SIGNAL_WHAT[SCALAR[i].sig]);
    else if (i < DET_N_SCALARS + heads)
        snprintf(buf, cap, "lookback ratio of layer %d head %d", (i - DET_N_SCALARS) / sh.n_head,
                 (i - DET_N_SCALARS) % sh.n_head);
    else if (i - DET_N_SCALARS - heads == 0) snprintf(buf, cap, "logit lens log-probability at the embeddings");
    else snprintf(buf, cap, "logit lens log-probability after layer %d", i - DET_N_SCALARS - heads - 1);
}

int det_accum_init(det_accum *a, det_shape sh) {
    memset(a, 0, sizeof *a);
    a->sh = sh;
    a->head_sum = calloc((size_t)sh.n_layer * (size_t)sh.n_head + 1, sizeof *a->head_sum);
    a->lens_sum = calloc((size_t)sh.n_layer + 1, sizeof *a->lens_sum);
    if (!a->head_sum || !a->lens_sum) {
        det_accum_free(a);
        return -1;
    }
    det_accum_reset(a);
    return 0;
}

void det_accum_reset(det_accum *a) {
    a->n_tokens = a->flagged = a->head_count = a->lens_count = 0;
    for (int s = 0; s < DET_N_SIGNALS; s++) {
        a->sum[s] = 0;
        a->min[s] = INFINITY;
        a->max[s] = -INFINITY;
        a->count[s] = 0;
    }
    if (a->head_sum) memset(a->head_sum, 0, (size_t)a->sh.n_layer * (size_t)a->sh.n_head * sizeof *a->head_sum);
    if (a->lens_sum) memset(a->lens_sum, 0, ((size_t)a->sh.n_layer + 1) * sizeof *a->lens_sum);
}

void det_accum_free(det_accum *a) {
    free(a->head_sum);
    free(a->lens_sum);
    a->head_sum = a->lens_sum = NULL;
}

static void add_signal(det_accum *a, det_signal s, double v) {
    if (!isfinite(v)) return;
    a->sum[s] += v;
    if (v < a->min[s]) a->min[s] = v;
    if (v > a->max[s]) a->max[s] = v;
    a->count[s]++;
}

static double log_prob(double p) { return log(p > DET_PROB_FLOOR ? p : DET_PROB_FLOOR); }

void det_accum_add(det_accum *a, const det_token *t) {
    a->n_tokens++;
    add_signal(a, DET_SIG_PROB, t->prob);
    add_signal(a, DET_SIG_LOGPROB, isfinite(t->prob) ? log_prob(t->prob) : NAN);
    add_signal(a, DET_SIG_ENTROPY, t->entropy);
    add_signal(a, DET_SIG_MARGIN, t->margin);
    add_signal(a, DET_SIG_VARENTROPY, t->varentropy);
    add_signal(a, DET_SIG_GROUNDING, t->grounding);
    add_signal(a, DET_SIG_COMMIT, t->commit);
    a->flagged += t->flagged;
    int heads = a->sh.n_layer * a->sh.n_head;
    if (t->lookback && heads > 0) {
        double all = 0;
        for (int i = 0; i < heads; i++) {
            a->head_sum[i] += t->lookback[i];
            all += t->lookback[i];
        }
        a->head_count++;
        add_signal(a, DET_SIG_LOOKBACK, all / heads);
    }
    if (t->lens_prob && a->sh.n_layer > 0) {
        for (int i = 0; i <= a->sh.n_layer; i++) a->lens_sum[i] += log_prob(t->lens_prob[i]);
        a->lens_count++;
    }
}

void det_accum_features(const det_accum *a, double *x, bool *present) {
    for (int i = 0; i < DET_N_SCALARS; i++) {
        det_signal s = SCALAR[i].sig;
        present[i] = a->count[s] > 0;
        x[i] = !present[i] ? 0 : SCALAR[i].agg == DET_MEAN ? a->sum[s] / a->count[s]
                             : SCALAR[i].agg == DET_MIN  ? a->min[s]
                                                         : a->max[s];
    }
    int heads = a->sh.n_layer * a->sh.n_head, at = DET_N_SCALARS;
    for (int i = 0; i < heads; i++, at++) {
        present[at] = a->head_count > 0;
        x[at] = a->head_count ? a->head_sum[i] / a->head_count : 0;
    }
    for (int i = 0; i < lens_entries(a->sh); i++, at++) {
        present[at] = a->lens_count > 0;
        x[at] = a->lens_count ? a->lens_sum[i] / a->lens_count : 0;
    }
}

/* ---- statistics ---- */

typedef struct scored {
    double s;
    uint8_t pos;
} scored;

static int by_score(const void *a, const void *b) {
    double x = ((const scored *)a)->s, y = ((const scored *)b)->s;
    return (x > y) - (x < y);
}

double det_auroc(const double *score, const uint8_t *positive, int n) {
    scored *v = malloc((size_t)(n > 0 ? n : 1) * sizeof *v);
    if (!v) return NAN;
    double n_pos = 0, n_neg = 0;
    for (int i = 0; i < n; i++) {
        v[i].s = isfinite(score[i]) ? score[i] : score[i] > 0 ? 1e300 : -1e300;
        v[i].pos = positive[i] != 0;
        n_pos += v[i].pos;
    }
    n_neg = n - n_pos;
    if (n_pos == 0 || n_neg == 0) {
        free(v);
        return NAN;
    }
    qsort(v, (size_t)n, sizeof *v, by_score);
    /* the positives' rank sum, a tie group sharing its mean rank */
    double rank_sum = 0;
    for (int i = 0; i < n;) {
        int j = i;
        while (j + 1 < n && v[j + 1].s == v[i].s) j++;
        double rank = (i + j) / 2.0 + 1;
        for (int k = i; k <= j; k++)
            if (v[k].pos) rank_sum += rank;
        i = j + 1;
    }
    free(v);
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg);
}

double det_logistic(double z) { return z >= 0 ? 1 / (1 + exp(-z)) : exp(z) / (1 + exp(z)); }

/* Solves A x = B in place for a symmetric positive definite A (N x N, row-major) by
 * Cholesky; false when A is not positive definite (cannot happen with lambda > 0). */
static bool solve_spd(double *a, double *b, int n) {
    for (int j = 0; j < n; j++) {
        double d = a[(size_t)j * n + j];
        for (int k = 0; k < j; k++) d -= a[(size_t)j * n + k] * a[(size_t)j * n + k];
        if (!(d > 0)) return false;
        d = sqrt(d);
        a[(size_t)j * n + j] = d;
        for (int i = j + 1; i < n; i++) {
            double s = a[(size_t)i * n + j];
            for (int k = 0; k < j; k++) s -= a[(size_t)i * n + k] * a[(size_t)j * n + k];
            a[(size_t)i * n + j] = s / d;
        }
    }
    for (int i = 0; i < n; i++) { /* L y = b */
        double s = b[i];
        for (int k = 0; k < i; k++) s -= a[(size_t)i * n + k] * b[k];
        b[i] = s / a[(size_t)i * n + i];
    }
    for (int i = n - 1; i >= 0; i--) { /* L^T x = y */
        double s = b[i];
        for (int k = i + 1; k < n; k++) s -= a[(size_t)k * n + i] * b[k];
        b[i] = s / a[(size_t)i * n + i];
    }
    return true;
}

#define NEWTON_STEPS 50

int det_logreg_fit(const double *x, const uint8_t *y, int n, int d, double lambda, double *w, double *b) {
    const int m = d + 1; /* the weights, then the bias */
    double *h = malloc((size_t)m * (size_t)m * sizeof *h), *g = malloc((size_t)m * sizeof *g);
    if (!h || !g) {
        free(h);
        free(g);
        return -1;
    }
    memset(w, 0, (size_t)d * sizeof *w);
    *b = 0;
    if (lambda < 1e-9) lambda = 1e-9; /* keeps the Hessian positive definite */
    for (int step = 0; step < NEWTON_STEPS; step++) {
        memset(h, 0, (size_t)m * (size_t)m * sizeof *h);
        memset(g, 0, (size_t)m * sizeof *g);
        for (int i = 0; i < n; i++) {
            const double *xi = x + (size_t)i * (size_t)d;
            double z = *b;
            for (int j = 0; j < d; j++) z += w[j] * xi[j];
            double p = det_logistic(z), r = p - (y[i] != 0), q = p * (1 - p);
            for (int j = 0; j < d; j++) {
                g[j] += r * xi[j];
                double qx = q * xi[j];
                for (int k = 0; k <= j; k++) h[(size_t)j * m + k] += qx * xi[k];
                h[(size_t)d * m + j] += qx;
            }
            g[d] += r;
            h[(size_t)d * m + d] += q;
        }
        for (int j = 0; j < m; j++) {
            g[j] /= n;
            for (int k = 0; k <= j; k++) h[(size_t)j * m + k] /= n;
        }
        for (int j = 0; j < d; j++) {
            g[j] += lambda * w[j];
            h[(size_t)j * m + j] += lambda;
        }
        h[(size_t)d * m + d] += 1e-9;
        for (int j = 0; j < m; j++) /* the upper triangle from the lower one */
            for (int k = 0; k < j; k++) h[(size_t)k * m + j] = h[(size_t)j * m + k];
        if (!solve_spd(h, g, m)) break;
        double change = 0;
        for (int j = 0; j < d; j++) {
            w[j] -= g[j];
            change += fabs(g[j]);
        }
        *b -= g[d];
        change += fabs(g[d]);
        if (change < 1e-9 * m) break;
    }
    free(h);
    free(g);
    return 0;
}

/* ---- the detector file ---- */

void detector_path_for(const char *model_path, char *out, size_t cap) {
    size_t n = strlen(model_path);
    if (n >= 5 && strcmp(model_path + n - 5, ".gguf") == 0) n -= 5;
    snprintf(out, cap, "%.*s.detector.json", (int)n, model_path);
}

void detector_free(detector *d) {
    free(d->index);
    free(d->mean);
    free(d->scale);
    free(d->weight);
    memset(d, 0, sizeof *d);
}

static char *read_small_file(const char *path, int *missing, char *err, size_t errlen) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        *missing = errno == ENOENT;
        snprintf(err, errlen, "cannot read the detector %s: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = NULL;
    long n = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    if (n < 0 || n > DET_FILE_MAX || fseek(f, 0, SEEK_SET) != 0) {
        snprintf(err, errlen, "the detector %s is not a readable file of at most %ld bytes", path, DET_FILE_MAX);
    } else if (!(buf = malloc((size_t)n + 1))) {
        snprintf(err, errlen, "out of memory");
    } else if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
        snprintf(err, errlen, "cannot read the detector %s", path);
        free(buf);
        buf = NULL;
    } else {
        buf[n] = 0;
    }
    fclose(f);
    return buf;
}

/* A number array of length N, every entry finite. */
static bool get_numbers(const cJSON *o, const char *key, int n, double *out) {
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(o, key), *v;
    if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) != n) return false;
    int i = 0;
    cJSON_ArrayForEach(v, arr) {
        if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) return false;
        out[i++] = v->valuedouble;
    }
    return true;
}

static bool get_number(const cJSON *o, const char *key, double lo, double hi, double *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= lo && v->valuedouble <= hi)) return false;
    *out = v->valuedouble;
    return true;
}

static void copy_string(const cJSON *o, const char *key, char *out, size_t cap) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    snprintf(out, cap, "%s", cJSON_IsString(v) ? v->valuestring : "");
    for (char *c = out; *c; c++) /* shown in the terminal: no control characters */
        if ((unsigned char)*c < 0x20 || *c == 0x7f) *c = ' ';
}

static int parse_detector(const cJSON *o, det_shape sh, detector *d, char *why, size_t whylen) {
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(o, "format");
    const cJSON *names = cJSON_GetObjectItemCaseSensitive(o, "features");
    double layers, heads, version;
    if (!cJSON_IsString(fmt) || strcmp(fmt->valuestring, "llmscope-detector") != 0 ||
        !get_number(o, "version", 1, 1, &version))
        return snprintf(why, whylen, "not an llmscope detector (version 1)"), -1;
    if (!get_number(o, "n_layer", 0, 1 << 16, &layers) || !get_number(o, "n_head", 0, 1 << 16, &heads))
        return snprintf(why, whylen, "\"n_layer\" and \"n_head\" are needed"), -1;
    int n = cJSON_IsArray(names) ? cJSON_GetArraySize(names) : -1;
    if (n < 1 || n > det_n_features(sh)) return snprintf(why, whylen, "\"features\" must list 1 to %d names", det_n_features(sh)), -1;
    d->sh = sh;
    d->n = n;
    d->index = malloc((size_t)n * sizeof *d->index);
    d->mean = malloc((size_t)n * sizeof *d->mean);
    d->scale = malloc((size_t)n * sizeof *d->scale);
    d->weight = malloc((size_t)n * sizeof *d->weight);
    if (!d->index || !d->mean || !d->scale || !d->weight) return snprintf(why, whylen, "out of memory"), -1;
    int i = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, names) {
        d->index[i] = cJSON_IsString(v) ? det_feature_index(sh, v->valuestring) : -1;
        if (d->index[i] < 0) return snprintf(why, whylen, "feature %d is not one llmscope knows for this model", i), -1;
        /* per-head and per-layer features name heads and layers of one model shape */
        if (d->index[i] >= DET_N_SCALARS && ((int)layers != sh.n_layer || (int)heads != sh.n_head))
            return snprintf(why, whylen, "made for a model of %d layers x %d heads, not %d x %d", (int)layers, (int)heads,
                            sh.n_layer, sh.n_head),
                   -1;
        i++;
    }
    if (!get_numbers(o, "mean", n, d->mean) || !get_numbers(o, "scale", n, d->scale) ||
        !get_numbers(o, "weights", n, d->weight))
        return snprintf(why, whylen, "\"mean\", \"scale\" and \"weights\" need %d finite numbers each", n), -1;
    for (i = 0; i < n; i++)
        if (!(d->scale[i] > 0)) return snprintf(why, whylen, "\"scale\" must be above 0"), -1;
    double n_train = 0;
    if (!get_number(o, "bias", -1e6, 1e6, &d->bias) || !get_number(o, "threshold", 0, 1, &d->threshold) ||
        !get_number(o, "false_alarm_rate", 0, 1, &d->false_alarm))
        return snprintf(why, whylen, "\"bias\", \"threshold\" (0..1) and \"false_alarm_rate\" (0..1) are needed"), -1;
    d->auroc_test = NAN;
    const cJSON *auroc = cJSON_GetObjectItemCaseSensitive(o, "auroc");
    get_number(auroc, "detector_test", 0, 1, &d->auroc_test);
    if (get_number(o, "n_train", 0, 1e9, &n_train)) d->n_train = (int)n_train;
    copy_string(o, "model", d->model, sizeof d->model);
    copy_string(o, "trained_on", d->trained_on, sizeof d->trained_on);
    return 0;
}

int detector_load(const char *path, det_shape sh, detector *d, char *err, size_t errlen) {
    memset(d, 0, sizeof *d);
    int missing = 0;
    char *text = read_small_file(path, &missing, err, errlen);
    if (!text) return missing ? 1 : -1;
    cJSON *o = cJSON_Parse(text);
    free(text);
    char why[160];
    int rc = cJSON_IsObject(o) ? parse_detector(o, sh, d, why, sizeof why)
                               : (snprintf(why, sizeof why, "not JSON"), -1);
    cJSON_Delete(o);
    if (rc < 0) {
        snprintf(err, errlen, "the detector %s: %s", path, why);
        detector_free(d);
    }
    return rc;
}

double detector_score(const detector *d, const double *x, const bool *present, det_contrib *top, int k, int *n_top) {
    double z = d->bias;
    int filled = 0;
    for (int i = 0; i < d->n; i++) {
        int f = d->index[i];
        double push = present[f] ? d->weight[i] * (x[f] - d->mean[i]) / d->scale[i] : 0;
        z += push;
        if (!top || push <= 0) continue;
        /* insertion into the K largest pushes */
        int j = filled < k ? filled++ : k;
        if (j == k && (k == 0 || push <= top[k - 1].push)) continue;
        if (j == k) j = k - 1;
        while (j > 0 && top[j - 1].push < push) {
            top[j] = top[j - 1];
            j--;
        }
        top[j] = (det_contrib){i, x[f], push};
    }
    if (n_top) *n_top = filled;
    return det_logistic(z);
}
