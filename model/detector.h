/* detector.h — "is this answer made up?", learnt from labelled answers.
 *
 * A detector is a logistic regression over signals llmscope already has for every token
 * (the model's probability of it, the entropy and varentropy of its distribution, the
 * margin over the runner-up, grounding, the per-head lookback ratios of Lookback Lens,
 * the logit lens's commit depth and per-layer probability), summarised over an answer
 * (mean, minimum, maximum). `llmscope calibrate` fits one from traced answers labelled
 * right or wrong and writes it beside the model as plain JSON; the terminal app, --trace
 * and /break suspicion then read its score: the probability that the answer so far is
 * wrong ("suspicion"), as calibrated on the answers it was trained on.
 *
 * The same numbers come from two places and must agree: a trace line (what calibrate
 * reads; cli_trace.c writes the fields) and a live session's records (det_token_of).
 * The features are laid out for one model shape (layers x heads): the scalar summaries
 * first, then the mean lookback ratio of every head, then the mean log-probability the
 * logit lens gives the chosen token at every entry (embeddings .. last layer). */
#ifndef LLMSCOPE_DETECTOR_H
#define LLMSCOPE_DETECTOR_H

#include "inspect.h"
#include "sampler.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One token's signals. NAN (or NULL) where absent. */
typedef struct det_token {
    float prob;            /* the model's probability of the token (before the sampler) */
    float entropy;         /* nats */
    float margin;          /* prob - the runner-up's */
    float varentropy;      /* det_varentropy */
    float grounding;       /* share of attention on what the user supplied (inspect.h) */
    bool flagged;          /* the grounding rule: share < 25% and entropy > 2 nats */
    const float *lookback; /* [n_layer][n_head] inspect_lookback */
    float commit;          /* logit lens commit depth / n_layer (1 when the token is not the
                              last layer's top: it never settled) */
    const float *lens_prob;/* [n_layer + 1] the lens's probability of the token per entry */
} det_token;

void det_token_clear(det_token *t); /* everything absent */

/* Variance of the surprisal -log p under the distribution (Kuhn et al.'s varentropy),
 * from what a record keeps: the top list and the entropy. The rest of the vocabulary is
 * taken as equally surprising, which makes it a lower bound, exact when the top list
 * holds the whole distribution. */
float det_varentropy(const sample_result *s);

/* Token signals of record REC of a live session, with what the why card would show:
 * grounding and lookback from its attention (LOOKBACK: n_layer * n_head floats of the
 * caller's), the lens from LENS (NULL: absent). False when REC is not a token with a
 * prediction. */
bool det_token_of(const inspect_view *v, size_t rec, const logit_lens *lens, float *lookback, float *lens_prob,
                  det_token *out);

/* The same from record R and its why card W (may be NULL), as the trace writes them
 * (LENS_PROB: n_layer + 1 floats of the caller's). */
void det_token_of_why(const step_record *r, const why_card *w, float *lens_prob, det_token *out);

/* ---- features ---- */

/* The per-token signals summarised over an answer: X(ID, name, what it is). */
#define DET_SIGNALS(X)                                               \
    X(PROB, "prob", "probability")                                   \
    X(LOGPROB, "logprob", "log-probability")                         \
    X(ENTROPY, "entropy", "entropy")                                 \
    X(MARGIN, "margin", "margin over the runner-up")                 \
    X(VARENTROPY, "varentropy", "varentropy")                        \
    X(GROUNDING, "grounding", "grounding")                           \
    X(LOOKBACK, "lookback", "lookback ratio (all heads)")            \
    X(COMMIT, "commit", "logit-lens commit depth")

typedef enum {
#define X(id, name, what) DET_SIG_##id,
    DET_SIGNALS(X)
#undef X
    DET_N_SIGNALS
} det_signal;

typedef enum { DET_MEAN, DET_MIN, DET_MAX } det_agg;

/* The scalar features: a signal and how it is summarised. */
#define DET_SCALARS(X)          \
    X(PROB, MEAN)               \
    X(PROB, MIN)                \
    X(LOGPROB, MEAN)            \
    X(LOGPROB, MIN)             \
    X(ENTROPY, MEAN)            \
    X(ENTROPY, MAX)             \
    X(MARGIN, MEAN)             \
    X(MARGIN, MIN)              \
    X(VARENTROPY, MEAN)         \
    X(VARENTROPY, MAX)          \
    X(GROUNDING, MEAN)          \
    X(GROUNDING, MIN)           \
    X(LOOKBACK, MEAN)           \
    X(LOOKBACK, MIN)            \
    X(COMMIT, MEAN)             \
    X(COMMIT, MAX)

enum {
#define X(sig, agg) DET_F_##agg##_##sig,
    DET_SCALARS(X)
#undef X
    DET_N_SCALARS
};

typedef struct det_shape {
    int n_layer, n_head;
} det_shape;

/* Features of a model of shape SH: the scalars, one per head, one per lens entry. */
int det_n_features(det_shape sh);
/* Feature I's name: "mean_prob", "lookback_l3h2", "lens_logprob_e4". */
void det_feature_name(det_shape sh, int i, char *buf, size_t cap);
/* Its index, or -1 when SH has no such feature. */
int det_feature_index(det_shape sh, const char *name);
/* A phrase for people: "minimum probability", "lookback ratio of layer 3 head 2". */
void det_feature_phrase(det_shape sh, int i, char *buf, size_t cap);

/* The summaries of an answer so far, token by token. */
typedef struct det_accum {
    det_shape sh;
    int n_tokens;
    double sum[DET_N_SIGNALS], min[DET_N_SIGNALS], max[DET_N_SIGNALS];
    int count[DET_N_SIGNALS];
    int flagged;           /* tokens the grounding rule flagged */
    double *head_sum;      /* [n_layer * n_head] */
    int head_count;
    double *lens_sum;      /* [n_layer + 1] */
    int lens_count;
} det_accum;

int det_accum_init(det_accum *a, det_shape sh); /* -1: out of memory */
void det_accum_reset(det_accum *a);
void det_accum_free(det_accum *a);
void det_accum_add(det_accum *a, const det_token *t);
/* The features (det_n_features values) and which are present (a signal that no token
 * of the answer had is absent). */
void det_accum_features(const det_accum *a, double *x, bool *present);

/* ---- statistics ---- */

/* Area under the ROC curve of SCORE for telling POSITIVE answers from the others (the
 * Mann-Whitney statistic, ties counted half). NAN when a class is empty. */
double det_auroc(const double *score, const uint8_t *positive, int n);

/* L2-regularised logistic regression by Newton's method: minimises the mean log-loss
 * of P(y = 1) = 1 / (1 + exp(-(w.x + b))) plus LAMBDA / 2 * |w|^2 (the bias is not
 * penalised). X: N rows of D features, row-major (standardise them first). Returns 0,
 * or -1 when out of memory. */
int det_logreg_fit(const double *x, const uint8_t *y, int n, int d, double lambda, double *w, double *b);
double det_logistic(double z);

/* ---- the detector file ---- */

typedef struct det_contrib {
    int feature;          /* index into the detector's features */
    double value;         /* the answer's value of it */
    double push;          /* its weight x its standardised value: what it adds to the logit */
} det_contrib;

typedef struct detector {
    det_shape sh;
    int n;                /* features used */
    int *index;           /* [n] index in the model's layout (det_feature_index) */
    double *mean, *scale, *weight;
    double bias;
    double threshold;     /* suspicion at or above it: flagged */
    double false_alarm;   /* the share of right training answers that reach the threshold */
    double auroc_test;    /* on answers it never saw (NAN if not measured) */
    int n_train;          /* answers it was fitted on */
    char model[128];      /* the model it was trained for (its file name) */
    char trained_on[256]; /* what the file says it learnt from */
} detector;

/* Where the detector of the model file MODEL_PATH lives: NAME.gguf -> NAME.detector.json. */
void detector_path_for(const char *model_path, char *out, size_t cap);
/* Reads PATH for a model of shape SH. Returns 0, 1 when there is no such file, or -1
 * with ERR (unreadable, not a detector, made for another shape). */
int detector_load(const char *path, det_shape sh, detector *d, char *err, size_t errlen);
void detector_free(detector *d);
/* Suspicion of the answer whose features are X (PRESENT), 0..1. Features the answer
 * lacks count as the training mean. TOP (may be NULL) gets the K features that raised
 * it most, largest push first; *N_TOP how many (those with a positive push). */
double detector_score(const detector *d, const double *x, const bool *present, det_contrib *top, int k, int *n_top);

#endif
