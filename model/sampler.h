/* sampler.h — turning logits into a token, and recording why.
 *
 * Every transform (repetition penalty, temperature, top-k, top-p, min-p) is applied in that
 * order; the result keeps the distribution before and after, so the interface can show
 * both and say which stage changed the winner ("sampler blame"). Deterministic for a
 * given seed: the state is a counter-free xorshift generator owned by the sampler. */
#ifndef LLMSCOPE_SAMPLER_H
#define LLMSCOPE_SAMPLER_H

#include <stdbool.h>
#include <stdint.h>

#define SAMPLER_TOP_N 16 /* alternatives kept per token, before and after */

typedef struct sampler_params {
    float temperature;    /* 0 = greedy */
    int top_k;            /* 0 = off */
    float top_p;          /* 1 = off */
    float min_p;          /* 0 = off */
    float repeat_penalty; /* 1 = off */
    int repeat_last_n;    /* how many recent tokens the penalty looks at */
    uint64_t seed;
} sampler_params;

void sampler_params_default(sampler_params *p); /* temp 0.8, top_k 40, top_p 0.95, min_p 0.05, penalty 1.1 over 64, seed 42 */

typedef struct token_prob {
    int32_t id;
    float logit;
    float prob;
} token_prob;

typedef enum {
    STAGE_NONE = 0,       /* the model's own top token was chosen */
    STAGE_REPEAT_PENALTY,
    STAGE_TEMPERATURE,    /* only via random draw: temperature never reorders */
    STAGE_TOP_K,
    STAGE_TOP_P,
    STAGE_MIN_P,
    STAGE_RANDOM          /* the filters kept the winner; the random draw chose another */
} sampler_stage;

const char *sampler_stage_name(sampler_stage s);

typedef struct sample_result {
    int32_t id;
    int32_t greedy_id;         /* argmax of the raw logits */
    int rank_before;           /* rank of id in the raw distribution, 0 = top */
    float prob_before;         /* softmax(raw logits)[id] */
    float prob_after;          /* probability of id in the distribution actually sampled */
    float entropy_before;      /* nats */
    float entropy_after;
    float margin;              /* prob_before(id) - prob_before(best other token) */
    sampler_stage blame;       /* first stage that changed the winner (STAGE_NONE if none) */
    int n_candidates_after;    /* tokens left with non-zero probability */
    int n_top;                 /* entries filled in top_before (and top_after, padded) */
    token_prob top_before[SAMPLER_TOP_N];
    token_prob top_after[SAMPLER_TOP_N]; /* prob = 0 entries past n_candidates_after */
} sample_result;

typedef struct sampler {
    sampler_params p;
    uint64_t rng;
    int n_vocab;
    float *work;     /* n_vocab */
    int32_t *order;  /* n_vocab */
} sampler;

int sampler_init(sampler *s, const sampler_params *p, int n_vocab);
void sampler_free(sampler *s);
/* Changes parameters; the random stream restarts only if the seed changed. */
void sampler_set_params(sampler *s, const sampler_params *p);
/* Picks a token from LOGITS (n_vocab). HISTORY: the tokens so far (for the penalty).
 * Fills OUT (may be NULL) and returns the chosen id. */
int32_t sampler_sample(sampler *s, const float *logits, const int32_t *history, int n_history,
                       sample_result *out);
/* Fills the "before" half of OUT for a token that was given rather than sampled
 * (prompt tokens, teacher-forced replay): its probability, rank, entropy and top list. */
void sampler_describe(const float *logits, int n_vocab, int32_t id, sample_result *out);

/* What an engine may already know about a row of logits: the Vulkan engine reduces the
 * vocabulary on the GPU (engine_batch's top_ids, top_logits, logsumexp, entropy). With it
 * the "before" half needs no pass over the whole vocabulary (which costs about a
 * millisecond per token on a 150k vocabulary, as much as a GPU decode step of a small
 * model): the list, the log-sum-exp and the entropy come from the summary; only the rank
 * of a token outside the list needs a pass (compares, no exp). The numbers agree with
 * the plain functions up to the engine's float rounding; the token drawn is the same. */
typedef struct logit_summary {
    int n_top;                 /* entries below, best first, ties to the lower id */
    const int32_t *top_ids;
    const float *top_logits;   /* the very values of LOGITS at those ids */
    float logsumexp, entropy;  /* over the whole row, entropy in nats */
} logit_summary;

/* As sampler_sample and sampler_describe, using SUM where it is usable (it may be NULL,
 * or unusable: too short a list, or not finite numbers, then the row is read). */
int32_t sampler_sample_with(sampler *s, const float *logits, const logit_summary *sum, const int32_t *history,
                            int n_history, sample_result *out);
void sampler_describe_with(const float *logits, int n_vocab, const logit_summary *sum, int32_t id,
                           sample_result *out);

#endif
