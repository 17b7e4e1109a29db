/* calibrate.h — `llmscope calibrate`: a detector (model/detector.h) fitted to traced
 * answers that a person (or a script that can check them) labelled right or wrong.
 *
 * Labels are JSON Lines, one labelled answer per line:
 *
 *   {"trace": "q17.jsonl", "answer": 0, "label": "wrong", "first_wrong": 6,
 *    "group": "apple", "split": "test"}
 *
 *   trace        a file written by `llmscope --trace` (relative to the labels file)
 *   answer       which reply of that trace, 0 for the first (default 0): a trace of a
 *                conversation holds one reply per question
 *   label        "right" or "wrong"
 *   first_wrong  optional, for a wrong answer: the index (in the reply's traced tokens,
 *                from 0) of the first token that made it wrong. The detector is tested
 *                on whole replies; this also says how many wrong test replies its running
 *                score (the reply so far, token by token, as the app computes it) has
 *                flagged by the time that token is written, where a breakpoint would stop
 *                them, against how many right ones it flags anywhere (--prefixes fits on
 *                parts of replies too).
 *   group        optional: answers of one group land on the same side of the split (the
 *                same word asked twice, the replies of one conversation)
 *   split        optional "train" or "test": the split chosen by hand
 *
 * Without "split" and without --test, a seeded hash of the group (or of trace and
 * answer) sends about --holdout of the answers to the test side. The detector never
 * sees the test answers: the regularisation is chosen by 5-fold cross-validation on the
 * training side, and the threshold for the false-alarm rate is taken from the
 * cross-validated running scores of the right training answers (the highest score of the
 * reply so far, token by token, as the app's meter shows it): the share of right replies
 * the app flags while they are written is the rate asked for. */
#ifndef LLMSCOPE_CALIBRATE_H
#define LLMSCOPE_CALIBRATE_H

#include "detector.h"

#include <stdbool.h>
#include <stdint.h>

/* ---- the labelled answers (calibrate_data.c) ---- */

typedef struct cal_answer {
    double *x;           /* the whole reply's features */
    bool *present;
    int first_wrong;     /* the label's, -1 if none */
    int n_run;           /* prefixes kept below (0: none) */
    double *run_x;       /* [n_run][n_features]: the reply after each of its first n_run
                            tokens, for the running score's metrics (test replies) */
    bool *run_present;
    uint8_t wrong;
    bool prefix;         /* a part of a reply (cal_read's PREFIXES), not a whole one */
    int8_t split;        /* 0 train, 1 test, -1 by hash */
    uint64_t group;      /* hash of the group */
    int n_tokens;
    int flagged;         /* tokens the grounding rule flagged */
} cal_answer;

typedef struct cal_set {
    det_shape sh;
    int n_features;      /* det_n_features(sh) */
    cal_answer *a;
    int n, cap;
    char model[4096];    /* the traces' model file (from their "context"), "" if unknown */
    bool have_shape;
} cal_set;

/* Reads the labels at PATH and the traces they name into SET (which may already hold
 * answers: a second file adds to it). SPLIT: -1 as the labels say, 0 or 1 forces every
 * answer of this file to that side. RUNNING keeps the features of the reply after each
 * token (cal_answer.run_x) for the running score's metrics. PREFIXES > 0 also adds parts
 * of replies, cut after
 * 1/PREFIXES, 2/PREFIXES ... of their tokens and just after the first wrong token: a
 * part of a right reply is right, a part of a wrong one is wrong once it holds the first
 * wrong token (wrong replies without one give no parts). Fitted on, they teach the
 * detector what its running score is, "is the reply so far wrong?". Returns 0, or -1
 * with one line in ERR. */
int cal_read(const char *path, int split, int prefixes, bool running, cal_set *set, char *err, size_t errlen);
void cal_set_free(cal_set *set);

/* ---- fitting and testing (calibrate_cmd.c) ---- */

typedef struct calibrate_options {
    const char *labels;
    const char *test_labels;   /* NULL: split LABELS */
    const char *out;           /* NULL: beside the model the traces name */
    const char *features;      /* comma-separated names, a trailing '*' matches a prefix; NULL: all */
    const char *exclude;       /* the same, taken out */
    double false_alarm;        /* share of right answers allowed over the threshold */
    double holdout;            /* share of groups on the test side */
    uint64_t seed;
    int prefixes;              /* fit on parts of replies too (cal_read); 0: whole replies only */
    bool quiet;                /* no table on stdout */
} calibrate_options;

void calibrate_options_default(calibrate_options *o);

typedef struct calibrate_report {
    int n_train, n_test, train_wrong, test_wrong;
    int n_used;                /* features in the detector */
    double lambda;
    double auroc_cv;           /* cross-validated, training side */
    double auroc_test;         /* on the test side (NAN without one) */
    double threshold;          /* for the running score (the reply so far, token by token) */
    double test_detection, test_false_alarm; /* test replies flagged while written */
    double early_detection;    /* wrong test answers with a first_wrong, flagged by then */
    int n_early;

    double single_test[DET_N_SCALARS]; /* each scalar feature alone (NAN: absent) */
    double rule_test, rule_detection, rule_false_alarm;
    /* the running score at the rule's false-alarm rate on the test replies (its threshold
     * chosen there): the two alarms compared at equal cost */
    double equal_detection, equal_false_alarm;
    char out[4096];            /* where the detector was written */
} calibrate_report;

/* Everything but the command line: reads, fits, tests, writes the detector. Returns 0,
 * or -1 with one line in ERR. */
int calibrate_run(const calibrate_options *o, const char *command, calibrate_report *rep, char *err,
                  size_t errlen);

/* argv[0] is "calibrate". Returns the exit status. */
int calibrate_main(int argc, char **argv);

#endif
