/* calibrate_cmd.c — `llmscope calibrate LABELS`: fits a detector to labelled answers,
 * tests it on answers it never saw, and writes it beside the model (calibrate.h).
 *
 * The steps: split the answers (by group), keep the features every training answer has
 * and that vary, standardise them, choose the L2 strength by 5-fold cross-validation
 * (folds by group too), fit on the whole training side, take the threshold for the
 * false-alarm rate from the cross-validated running scores of the right answers (the
 * highest score of the reply so far, token by token, as the app's meter shows), then score the
 * test side. Each scalar feature alone is tested as well, its direction taken from the
 * training side, and so is the grounding rule the app used before (an answer is flagged
 * when any token has grounding below 25% and entropy above 2 nats), so that the table
 * says whether the detector beats them. */
#include "calibrate.h"

#include "atomic_file.h"
#include "cli.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FOLDS 5
#define MIN_PER_CLASS 4 /* right and wrong answers each, on the training side */
static const double LAMBDAS[] = {1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0};
#define N_LAMBDAS ((int)(sizeof LAMBDAS / sizeof LAMBDAS[0]))

void calibrate_options_default(calibrate_options *o) {
    memset(o, 0, sizeof *o);
    o->false_alarm = 0.1;
    o->holdout = 0.3;
    o->seed = 1;
}

/* ---- which answers, which features ---- */

static uint64_t mix(uint64_t x) { /* splitmix64's finaliser */
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static double unit(uint64_t group, uint64_t seed) { return (double)(mix(group ^ mix(seed)) >> 11) * 0x1p-53; }

/* Does NAME match one of the comma-separated patterns in LIST (a trailing '*': a prefix)? */
static bool matches(const char *list, const char *name) {
    for (const char *p = list; *p;) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n && p[n - 1] == '*' ? strncmp(name, p, n - 1) == 0 : strlen(name) == n && strncmp(name, p, n) == 0)
            return true;
        p += n + (end != NULL);
    }
    return false;
}

/* The features to fit: chosen by the options, present in every training answer, and not
 * constant there. Returns how many went into USE. */
static int choose_features(const cal_set *set, const int *train, int n_train, const calibrate_options *o, int *use) {
    int n = 0;
    char name[64];
    for (int f = 0; f < set->n_features; f++) {
        det_feature_name(set->sh, f, name, sizeof name);
        if ((o->features && !matches(o->features, name)) || (o->exclude && matches(o->exclude, name))) continue;
        bool all = true;
        double lo = INFINITY, hi = -INFINITY;
        for (int i = 0; i < n_train && all; i++) {
            const cal_answer *a = &set->a[train[i]];
            all = a->present[f];
            if (a->x[f] < lo) lo = a->x[f];
            if (a->x[f] > hi) hi = a->x[f];
        }
        if (all && hi - lo > 1e-9 * (fabs(hi) + fabs(lo) + 1e-30)) use[n++] = f;
    }
    return n;
}

/* ---- fitting ---- */

typedef struct model_fit {
    int d;
    const int *use;
    double *mean, *scale, *w, b;
} model_fit;

/* One feature vector standardised with M's mean and scale (absent: the mean). */
static void standardise_one(const model_fit *m, const double *src, const bool *have, double *x) {
    for (int j = 0; j < m->d; j++) {
        int f = m->use[j];
        x[j] = have[f] ? (src[f] - m->mean[j]) / m->scale[j] : 0;
    }
}

static double score_one(const model_fit *m, const double *src, const bool *have, double *scratch) {
    standardise_one(m, src, have, scratch);
    double z = m->b;
    for (int j = 0; j < m->d; j++) z += m->w[j] * scratch[j];
    return det_logistic(z);
}

/* Rows ROWS standardised with M's mean and scale. */
static void standardise(const cal_set *set, const int *rows, int n, const model_fit *m, double *x) {
    for (int i = 0; i < n; i++)
        standardise_one(m, set->a[rows[i]].x, set->a[rows[i]].present, x + (size_t)i * m->d);
}

static void moments(const cal_set *set, const int *rows, int n, model_fit *m) {
    for (int j = 0; j < m->d; j++) {
        double s = 0, ss = 0;
        for (int i = 0; i < n; i++) s += set->a[rows[i]].x[m->use[j]];
        double mean = s / n;
        for (int i = 0; i < n; i++) {
            double v = set->a[rows[i]].x[m->use[j]] - mean;
            ss += v * v;
        }
        m->mean[j] = mean;
        m->scale[j] = sqrt(ss / n) > 1e-12 ? sqrt(ss / n) : 1;
    }
}

/* Fits M on ROWS with LAMBDA. */
static int fit_rows(const cal_set *set, const int *rows, int n, double lambda, model_fit *m) {
    moments(set, rows, n, m);
    double *x = malloc((size_t)n * (size_t)m->d * sizeof *x);
    uint8_t *y = malloc((size_t)n);
    int rc = -1;
    if (x && y) {
        standardise(set, rows, n, m, x);
        for (int i = 0; i < n; i++) y[i] = set->a[rows[i]].wrong;
        rc = det_logreg_fit(x, y, n, m->d, lambda, m->w, &m->b);
    }
    free(x);
    free(y);
    return rc;
}

/* M's scores of ROWS. */
static int score_rows(const cal_set *set, const int *rows, int n, const model_fit *m, double *out) {
    double *x = malloc(((size_t)n * (size_t)m->d + 1) * sizeof *x);
    if (!x) return -1;
    standardise(set, rows, n, m, x);
    for (int i = 0; i < n; i++) {
        double z = m->b;
        for (int j = 0; j < m->d; j++) z += m->w[j] * x[(size_t)i * m->d + j];
        out[i] = det_logistic(z);
    }
    free(x);
    return 0;
}

static bool model_alloc(model_fit *m, int d, const int *use) {
    m->d = d;
    m->use = use;
    m->mean = malloc(((size_t)d + 1) * sizeof *m->mean);
    m->scale = malloc(((size_t)d + 1) * sizeof *m->scale);
    m->w = malloc(((size_t)d + 1) * sizeof *m->w);
    return m->mean && m->scale && m->w;
}

static void model_release(model_fit *m) {
    free(m->mean);
    free(m->scale);
    free(m->w);
}

/* The highest running score of reply A over its first UPTO tokens (all with UPTO < 0):
 * what the app's meter reaches while the reply is written. The whole reply's score when
 * its prefixes were not kept. */
static double running_max(const cal_set *set, const model_fit *m, const cal_answer *a, int upto, double *scratch) {
    size_t nf = (size_t)set->n_features;
    if (a->n_run == 0) return score_one(m, a->x, a->present, scratch);
    int n = upto < 0 || upto > a->n_run ? a->n_run : upto;
    double best = 0;
    for (int k = 0; k < n; k++) {
        double s = score_one(m, a->run_x + (size_t)k * nf, a->run_present + (size_t)k * nf, scratch);
        if (s > best) best = s;
    }
    return best;
}

/* Cross-validated scores of the training rows with LAMBDA, folds by group: of the whole
 * row (OOF) and, for whole replies, the highest running score (OOF_RUN). */
static int cross_validate(const cal_set *set, const int *train, int n, const int *use, int d, double lambda,
                          uint64_t seed, double *oof, double *oof_run) {
    int *in = malloc((size_t)n * sizeof *in), *out = malloc((size_t)n * sizeof *out);
    double *s = malloc((size_t)n * sizeof *s), *scratch = malloc(((size_t)d + 1) * sizeof *scratch);
    model_fit m = {0};
    int rc = in && out && s && scratch && model_alloc(&m, d, use) ? 0 : -1;
    for (int k = 0; rc == 0 && k < FOLDS; k++) {
        int ni = 0, no = 0;
        for (int i = 0; i < n; i++) {
            int fold = (int)(unit(set->a[train[i]].group, seed + 7919) * FOLDS);
            if (fold == k) out[no++] = train[i];
            else in[ni++] = train[i];
        }
        if (no == 0) continue;
        rc = fit_rows(set, in, ni, lambda, &m);
        if (rc == 0) rc = score_rows(set, out, no, &m, s);
        for (int i = 0, o = 0; rc == 0 && i < n; i++)
            if (o < no && train[i] == out[o]) {
                const cal_answer *a = &set->a[train[i]];
                oof_run[i] = a->prefix ? s[o] : running_max(set, &m, a, -1, scratch);
                oof[i] = s[o++];
            }
    }
    model_release(&m);
    free(in);
    free(out);
    free(s);
    free(scratch);
    return rc;
}

/* ---- measuring ---- */

static double auroc_rows(const cal_set *set, const int *rows, int n, const double *score) {
    uint8_t *y = malloc((size_t)n + 1);
    if (!y) return NAN;
    for (int i = 0; i < n; i++) y[i] = set->a[rows[i]].wrong;
    double v = det_auroc(score, y, n);
    free(y);
    return v;
}

static int desc(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x < y) - (x > y);
}

/* The lowest threshold that at most FA of the right answers (scores S of ROWS) reach. */
static double threshold_for(const cal_set *set, const int *rows, int n, const double *s, double fa) {
    double *right = malloc(((size_t)n + 1) * sizeof *right);
    if (!right) return 1;
    int nr = 0;
    for (int i = 0; i < n; i++)
        if (!set->a[rows[i]].wrong) right[nr++] = s[i];
    qsort(right, (size_t)nr, sizeof *right, desc);
    int k = (int)floor(fa * nr + 1e-9); /* right answers allowed at or above it */
    double t = k < nr ? nextafter(right[k], 2.0) : 0.0;
    free(right);
    return t < 1 ? t : 1;
}

/* Shares of wrong answers (detection) and right ones (false alarms) with S >= T. */
static void rates(const cal_set *set, const int *rows, int n, const double *s, double t, double *det, double *fa) {
    int w = 0, r = 0, wf = 0, rf = 0;
    for (int i = 0; i < n; i++) {
        bool hit = s[i] >= t;
        if (set->a[rows[i]].wrong) w++, wf += hit;
        else r++, rf += hit;
    }
    *det = w ? (double)wf / w : NAN;
    *fa = r ? (double)rf / r : NAN;
}

/* Each scalar feature alone, its direction chosen on the training side. */
static void single_signals(const cal_set *set, const int *train, int n_train, const int *test, int n_test,
                           double *out) {
    double *s = malloc(((size_t)(n_train > n_test ? n_train : n_test) + 1) * sizeof *s);
    for (int f = 0; f < DET_N_SCALARS; f++) {
        out[f] = NAN;
        bool all = s != NULL && n_test > 0;
        for (int i = 0; i < n_train && all; i++) all = set->a[train[i]].present[f];
        for (int i = 0; i < n_test && all; i++) all = set->a[test[i]].present[f];
        if (!all) continue;
        for (int i = 0; i < n_train; i++) s[i] = set->a[train[i]].x[f];
        double sign = auroc_rows(set, train, n_train, s) >= 0.5 ? 1 : -1;
        for (int i = 0; i < n_test; i++) s[i] = sign * set->a[test[i]].x[f];
        out[f] = auroc_rows(set, test, n_test, s);
    }
    free(s);
}

/* ---- the detector file ---- */

static cJSON *number_array(const double *v, int n) {
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; a && i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber(v[i]));
    return a;
}

static void add_number(cJSON *o, const char *key, double v) {
    if (isfinite(v)) cJSON_AddNumberToObject(o, key, v);
    else cJSON_AddNullToObject(o, key);
}

static cJSON *detector_json(const cal_set *set, const model_fit *m, const calibrate_options *o,
                            const calibrate_report *r, const char *command) {
    cJSON *j = cJSON_CreateObject();
    if (!j) return NULL;
    const char *slash = strrchr(set->model, '/');
    char text[512], name[64];
    cJSON_AddStringToObject(j, "format", "llmscope-detector");
    cJSON_AddNumberToObject(j, "version", 1);
    cJSON_AddStringToObject(j, "model", slash ? slash + 1 : set->model);
    cJSON_AddNumberToObject(j, "n_layer", set->sh.n_layer);
    cJSON_AddNumberToObject(j, "n_head", set->sh.n_head);
    snprintf(text, sizeof text, "%d labelled answers (%d wrong) from %s", r->n_train, r->train_wrong, o->labels);
    cJSON_AddStringToObject(j, "trained_on", text);
    cJSON_AddNumberToObject(j, "n_train", r->n_train);
    cJSON *names = cJSON_AddArrayToObject(j, "features");
    for (int i = 0; names && i < m->d; i++) {
        det_feature_name(set->sh, m->use[i], name, sizeof name);
        cJSON_AddItemToArray(names, cJSON_CreateString(name));
    }
    cJSON_AddItemToObject(j, "mean", number_array(m->mean, m->d));
    cJSON_AddItemToObject(j, "scale", number_array(m->scale, m->d));
    cJSON_AddItemToObject(j, "weights", number_array(m->w, m->d));
    cJSON_AddNumberToObject(j, "bias", m->b);
    cJSON_AddNumberToObject(j, "lambda", r->lambda);
    cJSON_AddNumberToObject(j, "false_alarm_rate", o->false_alarm);
    cJSON_AddNumberToObject(j, "threshold", r->threshold);
    cJSON *au = cJSON_AddObjectToObject(j, "auroc");
    if (au) {
        add_number(au, "detector_cv", r->auroc_cv);
        add_number(au, "detector_test", r->auroc_test);
        add_number(au, "rule_test", r->rule_test);
        cJSON *single = cJSON_AddObjectToObject(au, "single_test");
        for (int f = 0; single && f < DET_N_SCALARS; f++) {
            det_feature_name(set->sh, f, name, sizeof name);
            add_number(single, name, r->single_test[f]);
        }
    }
    cJSON *t = cJSON_AddObjectToObject(j, "test");
    if (t) {
        cJSON_AddNumberToObject(t, "answers", r->n_test);
        cJSON_AddNumberToObject(t, "wrong", r->test_wrong);
        add_number(t, "detection", r->test_detection);
        add_number(t, "false_alarm", r->test_false_alarm);
        add_number(t, "detection_by_first_wrong_token", r->early_detection);
        add_number(t, "rule_detection", r->rule_detection);
        add_number(t, "rule_false_alarm", r->rule_false_alarm);
        add_number(t, "detection_at_rule_false_alarm", r->equal_detection);
        add_number(t, "false_alarm_at_rule_false_alarm", r->equal_false_alarm);
    }
    cJSON_AddStringToObject(j, "command", command ? command : "");
    return j;
}

/* TEXT to PATH, never half written (atomic_file.h). */
static int write_atomic(const char *path, const char *text, char *err, size_t errlen) {
    atomic_file af;
    if (atomic_file_open(&af, path, err, errlen) < 0) return -1;
    size_t n = strlen(text);
    errno = 0; /* fwrite need not set it: then the reason is EIO, not an earlier call's */
    if (fwrite(text, 1, n, af.f) != n) {
        atomic_file_abort(&af);
        return snprintf(err, errlen, "cannot write the detector %s: %s", path, strerror(errno ? errno : EIO)), -1;
    }
    return atomic_file_commit(&af, err, errlen);
}

/* ---- the run ---- */

/* The sides: whole training replies (TRAIN), what is fitted on (FIT: those and their
 * parts), whole test replies (TEST). Parts go where their reply goes. */
typedef struct sides {
    int *train, *fit, *test;
    int n_train, n_fit, n_test;
} sides;

static void split_rows(const cal_set *set, const calibrate_options *o, sides *sd) {
    sd->n_train = sd->n_fit = sd->n_test = 0;
    for (int i = 0; i < set->n; i++) {
        const cal_answer *a = &set->a[i];
        bool t = a->split >= 0 ? a->split == 1 : !o->test_labels && unit(a->group, o->seed) < o->holdout;
        if (!t) sd->fit[sd->n_fit++] = i;
        if (a->prefix) continue;
        if (t) sd->test[sd->n_test++] = i;
        else sd->train[sd->n_train++] = i;
    }
}

static int count_wrong(const cal_set *set, const int *rows, int n) {
    int w = 0;
    for (int i = 0; i < n; i++) w += set->a[rows[i]].wrong;
    return w;
}

static int check_classes(const cal_set *set, const calibrate_options *o, int n_train, int train_wrong, char *err,
                         size_t errlen) {
    int wrong = 0, n = 0;
    for (int i = 0; i < set->n; i++)
        if (!set->a[i].prefix) wrong += set->a[i].wrong, n++;
    if (wrong == 0 || wrong == n)
        return snprintf(err, errlen, "%s: all %d answers are labelled %s: a detector learns from right and wrong "
                                     "answers, so label some of each", o->labels, n, wrong ? "wrong" : "right"),
               -1;
    if (train_wrong < MIN_PER_CLASS || n_train - train_wrong < MIN_PER_CLASS)
        return snprintf(err, errlen, "%s: the training side has %d right and %d wrong answers; at least %d of each are "
                                     "needed (label more answers, or lower --holdout)", o->labels, n_train - train_wrong,
                        train_wrong, MIN_PER_CLASS),
               -1;
    return 0;
}

/* The running score (the reply so far, token by token, as the app computes it) of the
 * test replies: the shares of wrong and right ones it flags while they are written
 * (detection, false alarms), the same at the grounding rule's false-alarm rate (run
 * report_rule first), and of the wrong ones with a labelled first wrong token, the share
 * flagged by then (where a breakpoint would stop them). */
static void running_metrics(const cal_set *set, const int *test, int n_test, const model_fit *m,
                            calibrate_report *rep) {
    int n_early = 0, early = 0;
    rep->early_detection = rep->test_detection = rep->test_false_alarm = NAN;
    rep->equal_detection = rep->equal_false_alarm = NAN;
    double *scratch = malloc(((size_t)m->d + 1) * sizeof *scratch), *run = calloc((size_t)n_test + 1, sizeof *run);
    if (scratch && run) {
        for (int i = 0; i < n_test; i++) {
            const cal_answer *a = &set->a[test[i]];
            run[i] = running_max(set, m, a, -1, scratch);
            if (!a->wrong || a->first_wrong < 0 || a->n_run == 0) continue;
            n_early++;
            early += running_max(set, m, a, a->first_wrong + 1, scratch) >= rep->threshold;
        }
        rates(set, test, n_test, run, rep->threshold, &rep->test_detection, &rep->test_false_alarm);
        /* the same alarm at the grounding rule's false-alarm rate, the threshold taken on
         * the test replies themselves: a point of the running score's ROC curve, to compare
         * the two alarms at equal cost (not a threshold the detector could ship with) */
        if (isfinite(rep->rule_false_alarm)) {
            double t = threshold_for(set, test, n_test, run, rep->rule_false_alarm);
            rates(set, test, n_test, run, t, &rep->equal_detection, &rep->equal_false_alarm);
        }
    }
    free(scratch);
    free(run);
    rep->n_early = n_early;
    if (n_early) rep->early_detection = (double)early / n_early;
}

static void report_rule(const cal_set *set, const int *test, int n_test, calibrate_report *rep) {
    double *s = malloc(((size_t)n_test + 1) * sizeof *s);
    rep->rule_test = rep->rule_detection = rep->rule_false_alarm = NAN;
    if (!s) return;
    for (int i = 0; i < n_test; i++) s[i] = set->a[test[i]].flagged > 0;
    rep->rule_test = auroc_rows(set, test, n_test, s);
    rates(set, test, n_test, s, 0.5, &rep->rule_detection, &rep->rule_false_alarm);
    free(s);
}

/* Chooses lambda by cross-validation (fitted on the FIT rows, judged on the whole
 * training replies); fills M (fitted on every FIT row), the cross-validated AUROC and the
 * threshold. */
static int fit_detector(const cal_set *set, const sides *sd, int d, const int *use, const calibrate_options *o,
                        model_fit *m, calibrate_report *rep) {
    size_t nf = (size_t)sd->n_fit + 1, nt = (size_t)sd->n_train + 1;
    double *oof = malloc(nf * sizeof *oof), *oof_run = malloc(nf * sizeof *oof_run);
    double *whole = malloc(nt * sizeof *whole), *run = malloc(nt * sizeof *run), *best = malloc(nt * sizeof *best);
    int rc = oof && oof_run && whole && run && best ? 0 : -1;
    rep->auroc_cv = -1;
    for (int k = 0; rc == 0 && k < N_LAMBDAS; k++) {
        rc = cross_validate(set, sd->fit, sd->n_fit, use, d, LAMBDAS[k], o->seed, oof, oof_run);
        for (int i = 0, j = 0; rc == 0 && i < sd->n_fit; i++) /* TRAIN is FIT without the parts, in order */
            if (j < sd->n_train && sd->fit[i] == sd->train[j]) whole[j] = oof[i], run[j++] = oof_run[i];
        double a = rc == 0 ? auroc_rows(set, sd->train, sd->n_train, whole) : NAN;
        if (isfinite(a) && a >= rep->auroc_cv - 1e-12) { /* ties: the stronger penalty */
            rep->auroc_cv = a;
            rep->lambda = LAMBDAS[k];
            memcpy(best, run, (size_t)sd->n_train * sizeof *run);
        }
    }
    if (rc == 0 && rep->auroc_cv < 0) rep->auroc_cv = NAN, rep->lambda = 0.1;
    if (rc == 0) rc = fit_rows(set, sd->fit, sd->n_fit, rep->lambda, m);
    /* the threshold is for the running score: at most the false-alarm rate of the right
     * training replies reach it at any token while they are written */
    if (rc == 0) rep->threshold = threshold_for(set, sd->train, sd->n_train, best, o->false_alarm);
    free(oof);
    free(oof_run);
    free(whole);
    free(run);
    free(best);
    return rc;
}

static int run_fit(const cal_set *set, const calibrate_options *o, const char *command, calibrate_report *rep,
                   char *err, size_t errlen) {
    size_t cap = (size_t)set->n + 1;
    sides sd = {malloc(cap * sizeof(int)), malloc(cap * sizeof(int)), malloc(cap * sizeof(int)), 0, 0, 0};
    int *use = malloc(((size_t)set->n_features + 1) * sizeof *use);
    double *s = malloc(cap * sizeof *s);
    model_fit m = {0};
    int rc = -1;
    if (!sd.train || !sd.fit || !sd.test || !use || !s) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    split_rows(set, o, &sd);
    const int *train = sd.train, *test = sd.test;
    int n_train = sd.n_train, n_test = sd.n_test;
    rep->n_train = n_train;
    rep->n_test = n_test;
    rep->train_wrong = count_wrong(set, train, n_train);
    rep->test_wrong = count_wrong(set, test, n_test);
    if (check_classes(set, o, n_train, rep->train_wrong, err, errlen) < 0) goto done;
    int d = choose_features(set, sd.fit, sd.n_fit, o, use);
    if (d == 0) {
        snprintf(err, errlen, "%s: no feature is in every training answer and varies (check --features)", o->labels);
        goto done;
    }
    rep->n_used = d;
    if (!model_alloc(&m, d, use) || fit_detector(set, &sd, d, use, o, &m, rep) < 0) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    rep->auroc_test = NAN;
    if (n_test > 0 && score_rows(set, test, n_test, &m, s) == 0) rep->auroc_test = auroc_rows(set, test, n_test, s);
    report_rule(set, test, n_test, rep);
    running_metrics(set, test, n_test, &m, rep);
    single_signals(set, train, n_train, test, n_test, rep->single_test);
    cJSON *j = detector_json(set, &m, o, rep, command);
    char *text = j ? cJSON_Print(j) : NULL;
    cJSON_Delete(j);
    if (!text) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    rc = write_atomic(rep->out, text, err, errlen);
    free(text);
done:
    model_release(&m);
    free(sd.train);
    free(sd.fit);
    free(sd.test);
    free(use);
    free(s);
    return rc;
}

int calibrate_run(const calibrate_options *o, const char *command, calibrate_report *rep, char *err,
                  size_t errlen) {
    memset(rep, 0, sizeof *rep);
    cal_set set = {0};
    /* every prefix of every reply: the running score's threshold (training replies) and
     * its metrics (test replies) */
    int rc = cal_read(o->labels, o->test_labels ? 0 : -1, o->prefixes, true, &set, err, errlen);
    if (rc == 0 && o->test_labels) rc = cal_read(o->test_labels, 1, 0, true, &set, err, errlen);
    if (rc == 0) {
        if (o->out) snprintf(rep->out, sizeof rep->out, "%s", o->out);
        else if (set.model[0]) detector_path_for(set.model, rep->out, sizeof rep->out);
        else rc = (snprintf(err, errlen, "the traces do not name their model (no \"context\"): say where the "
                                         "detector goes with -o FILE"),
                   -1);
    }
    if (rc == 0) rc = run_fit(&set, o, command, rep, err, errlen);
    cal_set_free(&set);
    return rc;
}

/* ---- the command ---- */

static void print_report(const calibrate_options *o, const calibrate_report *r, det_shape sh) {
    char name[64];
    printf("answers: %d for training (%d wrong), %d for testing (%d wrong)\n", r->n_train, r->train_wrong, r->n_test,
           r->test_wrong);
    printf("detector: %d features, L2 %.3g; AUROC %.3f cross-validated, %.3f on the test answers\n", r->n_used,
           r->lambda, r->auroc_cv, r->auroc_test);
    printf("threshold %.3f for the running score, %.0f%% false alarms on the training answers: while the test answers "
           "are written it flags %.0f%% of the wrong ones and %.0f%% of the right ones\n",
           r->threshold, 100 * o->false_alarm, 100 * r->test_detection, 100 * r->test_false_alarm);
    if (r->n_early)
        printf("of the %d wrong test answers whose first wrong token is labelled, %.0f%% are flagged by then\n",
               r->n_early, 100 * r->early_detection);
    printf("grounding rule (< 25%% and > 2 nats on any token): AUROC %.3f, catches %.0f%% with %.0f%% false alarms\n",
           r->rule_test, 100 * r->rule_detection, 100 * r->rule_false_alarm);
    if (isfinite(r->equal_detection))
        printf("at the rule's false-alarm rate (threshold from the test answers, for comparison only) the running "
               "score flags %.0f%% of the wrong ones and %.0f%% of the right ones\n",
               100 * r->equal_detection, 100 * r->equal_false_alarm);
    printf("single signals, AUROC on the test answers (direction from the training answers):\n");
    for (int f = 0; f < DET_N_SCALARS; f++) {
        if (!isfinite(r->single_test[f])) continue;
        det_feature_name(sh, f, name, sizeof name);
        printf("  %-16s %.3f\n", name, r->single_test[f]);
    }
    printf("wrote %s\n", r->out);
}

static void usage(FILE *f) {
    fputs("Usage: llmscope calibrate LABELS [-o DETECTOR] [--test LABELS2] [--false-alarm F] [--holdout H]\n"
          "                          [--seed S] [--features LIST] [--exclude LIST] [--prefixes P] [--quiet]\n"
          "Fits a detector of wrong answers to traced answers labelled right or wrong, tests it on\n"
          "answers it never saw, and writes it as JSON beside the model (MODEL.detector.json), where\n"
          "the terminal app and --trace find it. LABELS: JSON Lines, one answer per line:\n"
          "  {\"trace\": FILE, \"answer\": N, \"label\": \"right\"|\"wrong\", \"first_wrong\": K, \"group\": G,\n"
          "   \"split\": \"train\"|\"test\"}   (answer, first_wrong, group, split optional)\n"
          "  -o FILE            where the detector goes (default: beside the model the traces name)\n"
          "  --test LABELS2     test on these answers; LABELS are then all for training\n"
          "  --false-alarm F    share of right answers allowed to reach the threshold (default 0.1)\n"
          "  --holdout H        share of answers (groups) kept for testing (default 0.3)\n"
          "  --seed S           the split's seed (default 1)\n"
          "  --features LIST    only these features (comma-separated; a trailing * matches a prefix)\n"
          "  --exclude LIST     leave these out (same form)\n"
          "  --prefixes P       fit on parts of replies too, cut every 1/P of their tokens and after\n"
          "                     the first wrong token: the running score learns \"wrong so far?\"\n"
          "                     (default 0: whole replies only)\n"
          "  --quiet            no table\n",
          f);
}

static char *command_line(int argc, char **argv) {
    size_t n = 16;
    for (int i = 0; i < argc; i++) n += strlen(argv[i]) + 1;
    char *s = malloc(n);
    if (!s) return NULL;
    strcpy(s, "llmscope");
    for (int i = 0; i < argc; i++) {
        strcat(s, " ");
        strcat(s, argv[i]);
    }
    return s;
}

int calibrate_main(int argc, char **argv) {
    enum { O_TEST = 256, O_FA, O_HOLDOUT, O_SEED, O_FEATURES, O_EXCLUDE, O_QUIET, O_PREFIXES };
    static const struct option opts[] = {
        {"test", required_argument, 0, O_TEST},       {"false-alarm", required_argument, 0, O_FA},
        {"holdout", required_argument, 0, O_HOLDOUT}, {"seed", required_argument, 0, O_SEED},
        {"features", required_argument, 0, O_FEATURES}, {"exclude", required_argument, 0, O_EXCLUDE},
        {"quiet", no_argument, 0, O_QUIET},           {"help", no_argument, 0, 'h'},
        {"prefixes", required_argument, 0, O_PREFIXES},
        {0, 0, 0, 0},
    };
    calibrate_options o;
    calibrate_options_default(&o);
    float v;
    optind = 0;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'o': o.out = optarg; break;
        case O_TEST: o.test_labels = optarg; break;
        case O_FA:
            if (cli_parse_float("--false-alarm", optarg, 0, 1, &v) < 0) return 2;
            o.false_alarm = v;
            break;
        case O_HOLDOUT:
            if (cli_parse_float("--holdout", optarg, 0, 0.9f, &v) < 0) return 2;
            o.holdout = v;
            break;
        case O_SEED:
            if (cli_parse_u64("--seed", optarg, &o.seed) < 0) return 2;
            break;
        case O_FEATURES: o.features = optarg; break;
        case O_EXCLUDE: o.exclude = optarg; break;
        case O_QUIET: o.quiet = true; break;
        case O_PREFIXES:
            if (cli_parse_int("--prefixes", optarg, 0, 64, &o.prefixes) < 0) return 2;
            break;
        case 'h': usage(stdout); return 0;
        default:
            return cli_bad_option("calibrate", c, argv[optind - 1]);
        }
    }
    if (optind != argc - 1) {
        cli_error("calibrate takes one labels file (see llmscope calibrate --help)");
        return 2;
    }
    o.labels = argv[optind];
    char err[1024], *cmd = command_line(argc, argv);
    calibrate_report rep;
    int rc = calibrate_run(&o, cmd, &rep, err, sizeof err);
    free(cmd);
    if (rc < 0) {
        cli_error("%s", err);
        return 1;
    }
    if (!o.quiet) {
        det_shape sh = {0, 0};
        print_report(&o, &rep, sh);
    }
    return 0;
}
