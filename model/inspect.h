/* inspect.h — "why this token?": computations over step records and engine outputs.
 *
 * Everything here is a pure function of data the session already holds (step records:
 * the sampler's result, f16 attention rows, f16 hidden states) or of engine outputs, so
 * that the TUI (why card, grounding sparkline, head-role labels, breakpoints), the trace
 * writer, `llmscope replay` and the tests all get the same numbers. Nothing here touches
 * an engine's KV cache.
 *
 * Positions. Record p (the token at position p) holds the attention row of query p-1
 * over keys 0..p-1 (session.h). So "the step that chose record p" looks at keys
 * 0..p-1, and the full attention matrix of one layer is spread over records 1..p: the row
 * of query j is in record j+1.
 *
 * The pieces:
 *   attention sources   mean over heads of one layer (or of all layers) of the row that
 *                       chose a token, and attention rollout through the layers;
 *   grounding           the share of that attention on user-supplied context (system,
 *                       user, plain text) against the model's own output (replies);
 *   head roles          previous-token, induction/copy, first-token (sink), broad;
 *   logit lens          the residual stream of every layer decoded through the final
 *                       norm and the output head; commit depth;
 *   why card            all of the above for one record, plus the sampler's account;
 *   probes              disagreement among N continuations sampled from one point;
 *   breakpoints         when to pause generation;
 *   distributions       KL divergence and top-1 of two logit vectors (replay). */
#ifndef LLMSCOPE_INSPECT_H
#define LLMSCOPE_INSPECT_H

#include "model.h"
#include "sampler.h"
#include "session.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- where the records come from ---- */

/* Records from a live session, or from a plain array (tests, saved transcripts). In an
 * array, recs[i].pos must be i. */
typedef struct inspect_view {
    const session *s;
    const step_record *recs;
    size_t n;
    int n_layer, n_head, n_embd;
    /* each layer's recipe (its own head count, and whether its rows are a Gated DeltaNet's
     * signed effective weights), or NULL: every layer softmax attention with n_head heads.
     * Set from the session's model; set it on a records view when the model is known. */
    const layer_desc *desc;
} inspect_view;

void inspect_view_session(inspect_view *v, const session *s);
void inspect_view_records(inspect_view *v, const step_record *recs, size_t n, int n_layer, int n_head,
                          int n_embd);
size_t inspect_n_records(const inspect_view *v);
const step_record *inspect_record(const inspect_view *v, size_t i);

/* ---- attention sources ----
 *
 * Gated DeltaNet layers (deltanet.h) have no attention probabilities: their rows are the
 * effective weights w_ts of each head's read-out, signed and not summing to 1. Sources,
 * rollout, grounding and head roles take such a row as attention mass: |w_ts| normalised
 * to sum 1 over the keys (how much of the read-out's weight each earlier token carries,
 * whichever its sign); the session's head-averaged rows are made that way too. */

typedef struct inspect_source {
    int pos;      /* an earlier token */
    float weight; /* attention (or rollout) mass on it */
} inspect_source;

/* The attention row that chose record REC, averaged over heads: of layer LAYER, or of
 * every layer when LAYER < 0. OUT gets r->n_keys (= REC) values summing to 1. False when
 * the record holds no attention (position 0, capture off, dropped under the budget). */
bool inspect_mean_attention(const inspect_view *v, size_t rec, int layer, float *out);

/* Attention rollout (Abnar & Zuidema, 2020) for the step that chose record REC: with
 * each layer's head-averaged attention mixed with the residual connection,
 * A'_l = (A_l + I) / 2, the product A'_{L-1} ... A'_0 traced back from the query
 * (position REC-1) gives how much each earlier token contributes through all the layers.
 * OUT gets REC values summing to 1. It needs the rows of every earlier query (records
 * 1..REC); where a record has lost its attention, its mass stays on that token (as if
 * A_l = I) and the mass that would have moved is added to *UNRESOLVED (may be NULL), so
 * a caller can say how complete the picture is. False when REC itself has no attention. */
bool inspect_rollout(const inspect_view *v, size_t rec, float *out, double *unresolved);

/* The K largest entries of W (N values) by descending weight, ties to the earlier
 * position. Returns how many were written (min(K, N)). */
int inspect_top_sources(const float *w, int n, int k, inspect_source *out);

/* ---- grounding ---- */

typedef struct grounding_params {
    float low_share;    /* grounding below this ... */
    float high_entropy; /* ... with entropy (nats) above this is flagged */
} grounding_params;

void grounding_params_default(grounding_params *p); /* 0.25, 2.0 nats */

typedef struct grounding {
    bool valid;        /* attention was there and some of it fell outside template text */
    float share;       /* context / (context + own): 1 = all on what the user supplied */
    float context;     /* mass on system, user and plain-text tokens */
    float own;         /* mass on the model's replies (earlier ones and this one so far) */
    float tmpl;        /* mass on template text (BOS, role markers): left out of share */
    float entropy;     /* the model's entropy at this step (record's sample) */
    bool flagged;      /* share < low_share and entropy > high_entropy */
} grounding;

/* Grounding of the step that chose record REC: its attention averaged over every layer
 * and head, split by the segment of each key. Attention sinks and role markers are
 * template text, which is why they count in neither side. */
bool inspect_grounding(const inspect_view *v, size_t rec, const grounding_params *p, grounding *out);
/* The same from an attention row already averaged (N keys), the segment of each key and
 * the step's entropy. */
void inspect_grounding_of_row(const float *row, const segment_kind *segments, int n, float entropy,
                              const grounding_params *p, grounding *out);

/* ---- lookback ratios ---- */

/* Lookback ratio of every head (Chuang et al., 2024, "Lookback Lens") for the step that
 * chose record REC: the head's mean attention per key on the context (every key before
 * the reply REC belongs to, template text left out) over that plus its mean attention
 * per key on the reply so far. 1: it reads only what it was given; 0: only its own
 * words. Means per key, not sums, so a long reply does not outweigh a short prompt by
 * its length alone. At the reply's first token (no reply keys yet) the ratio is 1.
 * DeltaNet heads count by mass (|w| normalised, as above); a head a hybrid's layer does
 * not have is 0.5. OUT: [n_layer][n_head]. False when the record holds no per-head
 * attention. */
bool inspect_lookback(const inspect_view *v, size_t rec, float *out);

/* ---- head roles ---- */

typedef enum {
    HEAD_UNCLEAR = 0, /* none of the patterns below dominates */
    HEAD_PREVIOUS,    /* attends to the token just before the query */
    HEAD_INDUCTION,   /* attends to what followed an earlier occurrence of the query's
                         token (the "copy what came next last time" circuit) */
    HEAD_SINK,        /* parks its attention on the first token */
    HEAD_BROAD        /* spreads attention evenly over the context */
} head_role;

const char *head_role_name(head_role r); /* "prev", "induction", "sink", "broad", "-" */

typedef struct head_stats {
    head_role role;
    float previous;   /* mean attention on key q-1 (queries q >= 2) */
    float sink;       /* mean attention on key 0 (queries q >= 2) */
    float induction;  /* mean attention on keys j+1 with token[j] == token[q], j < q, over
                         queries that have such a j (0 when none do) */
    float breadth;    /* mean entropy of the row / log(number of keys), 0..1 */
    int n_queries, n_induction_queries;
} head_stats;

/* Thresholds of the classification: a head takes the role among previous, sink and
 * induction with the largest score at or above its threshold; failing that, broad when
 * breadth is at least INSPECT_BROAD_MIN; else unclear. */
#define INSPECT_PREVIOUS_MIN 0.4f
#define INSPECT_SINK_MIN 0.4f
#define INSPECT_INDUCTION_MIN 0.3f
#define INSPECT_INDUCTION_MIN_QUERIES 2
#define INSPECT_BROAD_MIN 0.7f

/* Classifies every head from the rows that chose records FROM .. TO-1 (records without
 * attention are skipped). OUT: [n_layer][n_head]. Returns the number of queries used. */
int inspect_head_roles(const inspect_view *v, size_t from, size_t to, head_stats *out);

/* ---- logit lens ----
 *
 * Entry i of the hidden states (engine.h: [n_layer + 1][n_embd], 0 = embeddings,
 * i = output of layer i, n_layer = after the final norm) decoded as if it were the last
 * layer's: logits_i = W_out . norm(h_i) for i < n_layer, W_out . h_n_layer for the last
 * entry (already normalised), so the last entry IS the model's own distribution.
 *
 * Specification for a GPU version (the CPU functions below are its reference): for one
 * token, given the n_layer + 1 hidden vectors and a list of candidate ids (the final
 * entry's top INSPECT_LENS_K plus the chosen token), produce for every entry a
 * lens_layer: the logits of the candidates, the log-sum-exp over the valid vocabulary,
 * the argmax (id and logit, ties to the lower id) and the chosen token's rank (how many
 * valid ids rank above it: a higher logit, or an equal one with a lower id). That is one
 * norm per entry, one matrix-vector product per entry, and reductions (max, sum of exp,
 * count above); only n_layer + 1 small records come back. inspect_lens_entry below is the
 * reference for one entry. A natural engine entry point would be
 *   int (*lens)(engine *e, const float *hidden, int n_valid, int32_t chosen,
 *               const int32_t *cand, int n_cand, lens_layer *out);   -- out: [n_layer + 1]
 * taking the hidden states the engine already holds for the last evaluated token. */

#define INSPECT_LENS_K 8

typedef struct lens_layer {
    int32_t top_id;          /* argmax at this entry */
    float top_logit, top_prob;
    int chosen_rank;         /* 0 = the chosen token is on top here */
    float chosen_logit, chosen_prob;
    float logsumexp;         /* over the valid vocabulary */
    float cand_logit[INSPECT_LENS_K + 1]; /* logits of logit_lens.cand_ids */
} lens_layer;

typedef struct logit_lens {
    int n_entries;           /* n_layer + 1 */
    int32_t chosen;
    int n_cand;              /* entries of cand_ids: the final top tokens, then the chosen
                                token if it is not among them */
    int32_t cand_ids[INSPECT_LENS_K + 1];
    lens_layer *entry;       /* [n_entries] */
    int commit_depth;        /* first entry from which the chosen token is the argmax of
                                every later entry; -1 when it is not the final argmax */
    int top_commit_depth;    /* the same for the final argmax */
} logit_lens;

/* Computes the lens of one token on the CPU over the full vocabulary. HIDDEN: [n_layer
 * + 1][n_embd] floats. N_VALID: ids 0..N_VALID-1 are tokens (the rest of the output rows
 * are masked, as the session does); 0 means all. Returns 0, or -1 with ERR (bad id, out
 * of memory). Free with logit_lens_free. */
int inspect_logit_lens(const model *m, const float *hidden, int n_valid, int32_t chosen, logit_lens *out,
                       char *err, size_t errlen);
void logit_lens_free(logit_lens *l);
/* The same lens computed by engine E on its device when it offers one (engine_has_lens:
 * the Vulkan engine, one batched pass over the output head and reductions on the GPU, so
 * only a few numbers per layer come back), else on the CPU as above. The two agree up to
 * the GPU's summation order: logits within float rounding, so an id can trade places
 * with another whose logit is within that rounding. */
int inspect_logit_lens_on(engine *e, const model *m, const float *hidden, int n_valid, int32_t chosen,
                          logit_lens *out, char *err, size_t errlen);
/* The logits the lens reads at entry I of HIDDEN (OUT: n_vocab), no masking. */
void inspect_lens_logits(const model *m, const float *hidden, int i, float *out);
/* One entry of the lens, the unit a GPU version computes and is tested against: entry I
 * of HIDDEN decoded, then OUT filled for CHOSEN and the N_CAND candidates CAND (their
 * logits into out->cand_logit) over the first N_VALID ids. SCRATCH: n_vocab floats. */
void inspect_lens_entry(const model *m, const float *hidden, int i, int n_valid, int32_t chosen,
                        const int32_t *cand, int n_cand, float *scratch, lens_layer *out);
/* First index from which TOP_IDS[i] == ID for every later i (N entries); -1 if
 * TOP_IDS[N-1] != ID. */
int inspect_commit_depth(const int32_t *top_ids, int n, int32_t id);
/* Record R's hidden states as floats ([n_layer + 1][n_embd]); false if it holds none. */
bool inspect_record_hidden(const step_record *r, int n_layer, int n_embd, float *out);

/* ---- the why card ---- */

#define INSPECT_MAX_SOURCES 16

typedef struct why_options {
    int n_sources;              /* sources kept per list (<= INSPECT_MAX_SOURCES; 0: 8) */
    const model *m;             /* for the logit lens; NULL skips it */
    engine *lens_engine;        /* computes the lens on its device (inspect_logit_lens_on);
                                   NULL: on the CPU */
    int n_valid_vocab;          /* as for inspect_logit_lens */
    bool rollout;               /* compute the rollout (costs O(layers * heads * pos^2)) */
    grounding_params grounding;
    const model *push_model;    /* for the experts' pushes, which cost next to nothing
                                   (a dot product per layer); NULL: m */
} why_options;

void why_options_default(why_options *o); /* 8 sources, rollout on, default grounding */

typedef struct why_card {
    size_t rec;
    int pos;
    int32_t token;
    bool generated;

    /* the distribution and the sampler (copied from the record) */
    sample_result sample;       /* top-k before and after, rank, probability, entropy */
    bool greedy_differs;        /* greedy decoding would have chosen sample.greedy_id */
    sampler_stage blame;        /* the stage that changed the winner (STAGE_NONE if none) */
    bool greedy_survived;       /* the greedy token kept a probability after the filters */
    float greedy_prob_after;    /* its probability in the sampled distribution */

    /* attention: top sources per layer, over all layers, and through the layers */
    bool has_attention;
    int n_layer, n_sources;
    inspect_source *layer_sources;             /* [n_layer][n_sources] */
    int *layer_n;                              /* [n_layer] entries filled */
    inspect_source overall[INSPECT_MAX_SOURCES];
    int n_overall;
    bool has_rollout;
    inspect_source rollout[INSPECT_MAX_SOURCES];
    int n_rollout;
    double rollout_unresolved;

    grounding ground;
    float *lookback;            /* [n_layer][n_head] inspect_lookback, NULL without attention */
    int n_head;

    bool has_lens;              /* the record held hidden states and a model was given */
    logit_lens lens;

    /* experts (models with experts, inspect_moe.c): the record's routing (a copy; per
     * layer the chosen experts, their weights and the runners-up) and, where the record
     * kept the experts' outputs (reply tokens) and a model was given, how much each
     * layer's experts pushed the token's logit directly (head_contribution; NaN in layers
     * without experts) */
    struct record_routing *routing;
    float *expert_push;         /* [n_layer], or NULL */
} why_card;

/* Everything the why card shows for record REC. Returns 0, or -1 with ERR (no such
 * record, out of memory). Parts whose data the record lacks are marked absent. */
int inspect_why(const inspect_view *v, size_t rec, const why_options *o, why_card *out, char *err,
                size_t errlen);
void why_card_free(why_card *w);
/* The why card's "experts" for record R (inspect_why calls it): copies R's routing and,
 * with M and R's experts' outputs, computes the pushes. Returns 0, or -1 out of memory. */
int inspect_experts(const model *m, const step_record *r, int n_layer, int n_embd, why_card *out);
/* How much each layer's experts pushed record R's token's logit, into PUSH [n_layer] (NaN
 * in layers without experts); false when R kept no experts' outputs (or out of memory). */
bool inspect_expert_pushes(const model *m, const step_record *r, float *push);

/* ---- fork and probe ---- */

typedef struct probe_summary {
    int n;               /* continuations */
    int n_distinct;      /* different sequences among them */
    int majority;        /* how many share the most common sequence */
    int majority_index;  /* one continuation with that sequence */
    int split;           /* first index where not all continuations agree; -1 if all are
                            identical (a shorter one that is a prefix of the others ends
                            where it stops, so the split is its length) */
    int n_at_split;      /* distinct tokens at the split (an ended sequence counts as one) */
    float agreement;     /* majority / n */
} probe_summary;

/* Summarises N continuations SEQS[i] of LENS[i] tokens. */
void inspect_probe_summary(const int32_t *const *seqs, const int *lens, int n, probe_summary *out);

struct tokenizer;

/* Samples N continuations of PREFIX (N_PREFIX tokens) on engine E, each up to MAX_TOKENS
 * long and ending early after an end-of-generation token of TOK (which may be NULL; its
 * vocabulary size also masks the output rows that are not tokens). Continuation i uses
 * SP with seed SP->seed + i, the penalty looking back into the prefix as in the session.
 * E's cache is overwritten from position 0, so give it an engine of its own, not the
 * session's, with n_ctx >= N_PREFIX + MAX_TOKENS; the prefix is evaluated once and each
 * continuation rewinds to its end. SEQS[i] (malloc'd: free each) and LENS[i] receive the
 * continuations. Returns 0, or -1 with ERR (nothing to free then). */
int inspect_probe_run(engine *e, const struct tokenizer *tok, const int32_t *prefix, int n_prefix,
                      const sampler_params *sp, int n, int max_tokens, int32_t **seqs, int *lens, char *err,
                      size_t errlen);

/* ---- breakpoints ---- */

typedef struct inspect_breakpoints {
    bool on_entropy;
    float entropy_above;   /* nats */
    bool on_grounding;
    float grounding_below;
    bool on_suspicion;     /* a detector's score (detector.h), which the caller checks: */
    float suspicion_above; /* inspect_should_break does not know the detector */
} inspect_breakpoints;

/* Should generation pause after record R? WHY (may be NULL) gets a short reason. A
 * grounding breakpoint needs valid grounding (G may be NULL: never). */
bool inspect_should_break(const inspect_breakpoints *b, const step_record *r, const grounding *g, char *why,
                          size_t whylen);

/* ---- comparing two distributions (replay) ---- */

typedef struct dist_compare {
    double kl;           /* KL(P || Q) in nats over the full vocabulary */
    int32_t top_p, top_q;/* argmax of each (ties to the lower id) */
    double logp_id, logq_id; /* log-probability of ID under each (if ID >= 0) */
} dist_compare;

/* Compares softmax(P) with softmax(Q), N logits each (-INFINITY: impossible token).
 * Exactly 0 when P and Q are the same numbers. ID: a token whose probabilities are
 * wanted, or -1. */
void inspect_compare(const float *p, const float *q, int n, int32_t id, dist_compare *out);

#endif
