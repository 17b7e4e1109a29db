/* replay.h — a traced transcript read back, and two models compared on it: what
 * `llmscope replay`, `llmscope render` and the app's /compare share.
 *
 * A trace (JSON Lines, docs/llmscope.1) holds one object per generated token. Replay also
 * needs what came before the reply and which model wrote it: the first token line of a
 * reply carries a "context" object, {"model": PATH, "n_vocab": N, "tokens": [ids of
 * every position before it]}, which the trace writer gets from replay_context_json().
 *
 * For every generated token at position p, both models' distributions at position p-1
 * (the ones that chose it) are compared over the full vocabulary: KL(P_base || P_other),
 * each model's probability of the token, and their top-1 tokens.
 *
 * A trace is untrusted input: it is read with hard limits (model/line_reader.h) on the
 * line, the file and the number of positions. */
#ifndef LLMSCOPE_REPLAY_H
#define LLMSCOPE_REPLAY_H

#include "engine.h"
#include "session.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* The most positions a trace may describe, and the longest line and file read. */
#define REPLAY_MAX_TOKENS (1 << 20)
#define REPLAY_MAX_LINE ((size_t)32 << 20)
#define REPLAY_MAX_FILE ((uint64_t)1 << 30)

struct cJSON;

/* The "context" object for the first traced token of a reply: the model file (made
 * absolute when possible) and the session's tokens so far. NULL when out of memory. */
struct cJSON *replay_context_json(const session *s, const char *model_path);

/* A transcript read back from a trace file. */
typedef struct replay_trace {
    char *model_path;      /* from the context; NULL if none */
    int n_vocab;           /* the context's n_vocab (0 if absent) */
    int32_t *tokens;       /* every position, context then traced tokens */
    int n_tokens;
    bool *traced;          /* [n_tokens] the position has a line in the trace */
    float *trace_prob;     /* [n_tokens] its "prob" (NAN where absent) */
    char **text;           /* [n_tokens] its "text" (NULL where absent) */
} replay_trace;

/* Reads PATH. Returns 0, or -1 with ERR naming the file and line. */
int replay_read_trace(const char *path, replay_trace *t, char *err, size_t errlen);
/* The same from an open file; CANCEL (may be NULL) is asked now and then whether to stop. */
int replay_read_trace_from(FILE *f, const char *path, bool (*cancel)(void *), void *cancel_ctx, replay_trace *t,
                           char *err, size_t errlen);
void replay_trace_free(replay_trace *t);

typedef struct replay_token {
    int pos;
    int32_t id;
    double kl;                   /* KL(P_base || P_other), nats */
    double logp_base, logp_other;/* log-probability of the token under each */
    int32_t top_base, top_other; /* each model's likeliest token */
} replay_token;

typedef struct replay_result {
    int n;                       /* tokens compared */
    replay_token *tok;
    double mean_kl, max_kl;
    int max_kl_pos;              /* -1 if n == 0 */
    int agree;                   /* tokens where the top-1s agree */
    int first_divergence;        /* position of the first disagreement, -1 if none */
    double trace_prob_err;       /* largest |p_base - the trace's prob|: does the base
                                    model reproduce the trace? (0 when nothing to check) */
} replay_result;

/* Runs T's tokens through BASE and OTHER (engines of two models with the same
 * vocabulary; N_VALID ids are tokens, the rest masked) and compares them at every traced
 * position (every position from 1 with ALL). Returns 0, or -1 with ERR. */
int replay_compare(engine *base, engine *other, int n_valid, const replay_trace *t, bool all,
                   replay_result *out, char *err, size_t errlen);
void replay_result_free(replay_result *r);

/* Keeps the first N positions of T (a transcript longer than a model's context). */
void replay_trace_truncate(replay_trace *t, int n);

#endif
