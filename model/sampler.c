/* sampler.c — logits in, one token out, plus the record of why.
 *
 * The pipeline (sampler.h): repetition penalty, temperature, top-k, top-p, min-p, then a
 * random draw. Two observations keep it cheap on a 150k-token vocabulary:
 *
 *  - Temperature never reorders tokens, so one ranking of the penalised logits serves
 *    every later stage. The ranking is a max-heap that is extracted lazily: only as many
 *    tokens as the filters and the draw actually look at are ever sorted.
 *  - The draw is an inverse-CDF walk down that ranking with one uniform number U, which
 *    makes "what would the same draw have picked without temperature?" a cheap question
 *    (used for the blame, below).
 *
 * Blame: the "winner" is the token greedy decoding would pick at each stage. Only the
 * penalty can change it (temperature keeps the order, and the filters always keep the
 * leading token), so a different choice is blamed on the penalty when it demoted the raw
 * leader; otherwise on the draw — on TEMPERATURE when the same U over the distribution
 * filtered at temperature 1 would have landed on the leader, else on RANDOM. */
#include "sampler.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void sampler_params_default(sampler_params *p) {
    p->temperature = 0.8f;
    p->top_k = 40;
    p->top_p = 0.95f;
    p->min_p = 0.05f;
    p->repeat_penalty = 1.1f;
    p->repeat_last_n = 64;
    p->seed = 42;
}

const char *sampler_stage_name(sampler_stage s) {
    switch (s) {
    case STAGE_NONE: return "none";
    case STAGE_REPEAT_PENALTY: return "repeat-penalty";
    case STAGE_TEMPERATURE: return "temperature";
    case STAGE_TOP_K: return "top-k";
    case STAGE_TOP_P: return "top-p";
    case STAGE_MIN_P: return "min-p";
    case STAGE_RANDOM: return "random";
    }
    return "?";
}

/* Logits come from an engine that read an untrusted file: a NaN or an infinity must not
 * poison the softmax. NaN counts as "impossible"; everything is clamped to a range whose
 * differences still fit a double. */
static float clean_logit(float x) {
    if (isnan(x)) return -1e30f;
    if (x > 1e30f) return 1e30f;
    if (x < -1e30f) return -1e30f;
    return x;
}

/* ---- random numbers: splitmix64 to spread the seed, xorshift64* for the stream ---- */

static uint64_t seed_state(uint64_t seed) {
    uint64_t z = seed + 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return z ? z : 0x2545F4914F6CDD1Dull; /* xorshift must never hold 0 */
}

static double next_uniform(uint64_t *state) {
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return (double)((x * 0x2545F4914F6CDD1Dull) >> 11) * (1.0 / 9007199254740992.0); /* [0,1) */
}

/* ---- the raw distribution ("before") ---- */

/* Token a ranks above token b: higher logit, ties broken by the lower id so that every
 * ranking in this file is the same total order. */
static int ranks_above(double va, int32_t a, double vb, int32_t b) {
    return va > vb || (va == vb && a < b);
}

/* Fills the "before" half of OUT from the raw logits; OUT->id must already be set. */
static void describe_raw(const float *logits, int n, sample_result *out) {
    int32_t id = out->id;
    double m = clean_logit(logits[0]);
    int32_t best = 0;
    for (int i = 1; i < n; i++) {
        double v = clean_logit(logits[i]);
        if (ranks_above(v, i, m, best)) {
            m = v;
            best = i;
        }
    }
    /* softmax and entropy in one pass: H = log Z - sum(e_i * (x_i - m)) / Z */
    double z = 0, ez = 0;
    for (int i = 0; i < n; i++) {
        double d = clean_logit(logits[i]) - m;
        double e = exp(d);
        z += e;
        ez += e * d;
    }
    out->greedy_id = best;
    out->entropy_before = (float)(log(z) - ez / z);

    /* rank of ID, the best token other than ID, and the top list by insertion */
    int valid = id >= 0 && id < n;
    double vid = valid ? clean_logit(logits[id]) : -INFINITY;
    int rank = 0;
    double other = -INFINITY;
    int n_top = 0;
    int cap = n < SAMPLER_TOP_N ? n : SAMPLER_TOP_N;
    for (int i = 0; i < n; i++) {
        double v = clean_logit(logits[i]);
        if (valid && i != id) {
            if (ranks_above(v, i, vid, id)) rank++;
            if (v > other) other = v;
        }
        if (n_top < cap || ranks_above(v, i, out->top_before[n_top - 1].logit,
                                       out->top_before[n_top - 1].id)) {
            int j = n_top < cap ? n_top++ : n_top - 1;
            while (j > 0 && ranks_above(v, i, out->top_before[j - 1].logit, out->top_before[j - 1].id)) {
                out->top_before[j] = out->top_before[j - 1];
                j--;
            }
            out->top_before[j].id = i;
            out->top_before[j].logit = (float)v;
        }
    }
    for (int j = 0; j < n_top; j++)
        out->top_before[j].prob = (float)(exp((double)out->top_before[j].logit - m) / z);
    out->n_top = n_top;
    out->rank_before = valid ? rank : -1;
    out->prob_before = valid ? (float)(exp(vid - m) / z) : 0.0f;
    out->margin = valid ? (float)((exp(vid - m) - exp(other - m)) / z) : 0.0f;
}

/* True when SUM can stand in for a pass over the N logits. */
static int summary_usable(const logit_summary *sum, int n) {
    int need = n < SAMPLER_TOP_N ? n : SAMPLER_TOP_N;
    if (!sum || sum->n_top < need || !isfinite(sum->logsumexp) || !isfinite(sum->entropy)) return 0;
    for (int j = 0; j < need; j++)
        if (sum->top_ids[j] < 0 || sum->top_ids[j] >= n || !isfinite(sum->top_logits[j])) return 0;
    return 1;
}

/* describe_raw from a summary (summary_usable): the same fields, without the exp pass. */
static void describe_summary(const float *logits, int n, const logit_summary *sum, sample_result *out) {
    int32_t id = out->id;
    double lse = sum->logsumexp;
    int n_top = n < SAMPLER_TOP_N ? n : SAMPLER_TOP_N;
    for (int j = 0; j < n_top; j++) {
        out->top_before[j].id = sum->top_ids[j];
        out->top_before[j].logit = sum->top_logits[j];
        out->top_before[j].prob = (float)exp((double)sum->top_logits[j] - lse);
    }
    out->n_top = n_top;
    out->greedy_id = sum->top_ids[0];
    out->entropy_before = sum->entropy;
    if (id < 0 || id >= n) {
        out->rank_before = -1;
        out->prob_before = out->margin = 0.0f;
        return;
    }
    double vid = clean_logit(logits[id]);
    int rank = -1;
    for (int j = 0; j < sum->n_top && rank < 0; j++)
        if (sum->top_ids[j] == id) rank = j;
    if (rank < 0) { /* outside the list: count the tokens ranking above it */
        rank = 0;
        for (int i = 0; i < n; i++) rank += i != id && ranks_above(clean_logit(logits[i]), i, vid, id);
    }
    /* the best other token: the list's first, or its second when ID leads */
    double other = sum->top_ids[0] != id ? sum->top_logits[0] : n_top > 1 ? sum->top_logits[1] : -INFINITY;
    out->rank_before = rank;
    out->prob_before = (float)exp(vid - lse);
    out->margin = (float)(exp(vid - lse) - exp(other - lse));
}

void sampler_describe_with(const float *logits, int n_vocab, const logit_summary *sum, int32_t id,
                           sample_result *out) {
    memset(out, 0, sizeof *out);
    out->id = id;
    if (n_vocab <= 0) return;
    if (summary_usable(sum, n_vocab)) describe_summary(logits, n_vocab, sum, out);
    else describe_raw(logits, n_vocab, out);
}

void sampler_describe(const float *logits, int n_vocab, int32_t id, sample_result *out) {
    sampler_describe_with(logits, n_vocab, NULL, id, out);
}

/* ---- the ranking of the penalised logits, sorted lazily ---- */

/* The best RANK_HEAD tokens are found in one pass over the vocabulary (a short sorted
 * list that most tokens fail to enter at the first comparison); the filters and the draw
 * rarely look further (top-k is 40 by default). Only a walk past them builds the heap
 * over the whole vocabulary, which costs several times more on a 150k vocabulary. */
#define RANK_HEAD 64

typedef struct ranking {
    const float *val; /* penalised logits, n */
    int32_t head[RANK_HEAD]; /* the best n_head tokens, best first */
    int n_head;
    int32_t *heap;    /* heap in [0, n_heap); the i-th best extracted token at [n-1-i] */
    int n, n_heap;
    int heap_built;
} ranking;

static void sift_down(ranking *r, int i) {
    int32_t *h = r->heap;
    for (;;) {
        int best = i, l = 2 * i + 1, rt = l + 1;
        if (l < r->n_heap && ranks_above(r->val[h[l]], h[l], r->val[h[best]], h[best])) best = l;
        if (rt < r->n_heap && ranks_above(r->val[h[rt]], h[rt], r->val[h[best]], h[best])) best = rt;
        if (best == i) return;
        int32_t t = h[i];
        h[i] = h[best];
        h[best] = t;
        i = best;
    }
}

static void ranking_init(ranking *r, const float *val, int32_t *buf, int n) {
    r->val = val;
    r->heap = buf;
    r->n = r->n_heap = n;
    r->heap_built = 0;
    int cap = n < RANK_HEAD ? n : RANK_HEAD, k = 0;
    int32_t *h = r->head;
    for (int i = 0; i < n; i++) {
        float v = val[i];
        if (k == cap && !ranks_above(v, i, val[h[k - 1]], h[k - 1])) continue;
        int j = k < cap ? k++ : k - 1;
        while (j > 0 && ranks_above(v, i, val[h[j - 1]], h[j - 1])) {
            h[j] = h[j - 1];
            j--;
        }
        h[j] = i;
    }
    r->n_head = k;
}

/* The id of the I-th best token (0 = best), sorting more of the heap only if needed. */
static int32_t ranking_at(ranking *r, int i) {
    if (i < r->n_head) return r->head[i];
    if (!r->heap_built) {
        for (int j = 0; j < r->n; j++) r->heap[j] = j;
        for (int j = r->n / 2 - 1; j >= 0; j--) sift_down(r, j);
        r->heap_built = 1;
    }
    while (r->n - r->n_heap <= i) {
        int32_t top = r->heap[0];
        r->heap[0] = r->heap[--r->n_heap];
        r->heap[r->n_heap] = top;
        sift_down(r, 0);
    }
    return r->heap[r->n - 1 - i];
}

/* ---- the filtered distribution at one temperature ---- */

/* The distribution actually sampled: the N_KEEP best tokens of the ranking, weighted
 * exp((x - x_best) / T) and normalised by Z. */
typedef struct kept {
    int n_keep;
    double temp, best, z;
} kept;

static double kept_weight(const ranking *r, const kept *k, int32_t id) {
    return exp((r->val[id] - k->best) / k->temp);
}

/* Sum of the weights of the I best tokens; the whole vocabulary is summed in id order
 * without sorting anything. */
static double prefix_weight(ranking *r, const kept *k, int count) {
    double z = 0;
    if (count == r->n) {
        for (int i = 0; i < r->n; i++) z += kept_weight(r, k, i);
    } else {
        for (int i = 0; i < count; i++) z += kept_weight(r, k, ranking_at(r, i));
    }
    return z;
}

static kept apply_filters(ranking *r, const sampler_params *p, double temp) {
    kept k = {.temp = temp, .best = r->val[ranking_at(r, 0)]};
    int n = r->n;
    int keep = p->top_k > 0 && p->top_k < n ? p->top_k : n;
    double z = prefix_weight(r, &k, keep);
    if (p->top_p < 1.0f) {
        /* top-p: the smallest head of the ranking whose probability reaches p (with a
         * rounding slack so that 0.5 + 0.3 "reaches" 0.8); it always keeps one token. */
        double target = (double)p->top_p * z * (1.0 - 1e-6), cum = 0;
        int i = 0;
        while (i < keep) {
            cum += kept_weight(r, &k, ranking_at(r, i));
            i++;
            if (cum >= target) break;
        }
        keep = i;
    }
    if (p->min_p > 0.0f) {
        /* min-p: drop tokens less probable than min_p times the best one. The ratio does
         * not depend on the normalisation, so the weights can be compared directly. */
        int i = 1;
        while (i < keep && kept_weight(r, &k, ranking_at(r, i)) >= p->min_p) i++;
        keep = i;
    }
    k.n_keep = keep;
    k.z = keep == n ? z : prefix_weight(r, &k, keep);
    return k;
}

/* Inverse-CDF draw: walks the ranking until the running sum passes U * Z. */
static int32_t draw(ranking *r, const kept *k, double u) {
    double target = u * k->z, cum = 0;
    for (int i = 0; i < k->n_keep; i++) {
        int32_t id = ranking_at(r, i);
        cum += kept_weight(r, k, id);
        if (cum > target) return id;
    }
    return ranking_at(r, k->n_keep - 1); /* U * Z rounded up to the total */
}

static double kept_entropy(ranking *r, const kept *k) {
    double s = 0;
    if (k->n_keep == r->n) {
        for (int i = 0; i < r->n; i++) {
            double d = (r->val[i] - k->best) / k->temp;
            s += exp(d) * d;
        }
    } else {
        for (int i = 0; i < k->n_keep; i++) {
            double d = (r->val[ranking_at(r, i)] - k->best) / k->temp;
            s += exp(d) * d;
        }
    }
    return log(k->z) - s / k->z;
}

/* ---- the sampler ---- */

int sampler_init(sampler *s, const sampler_params *p, int n_vocab) {
    memset(s, 0, sizeof *s);
    if (n_vocab <= 0) return -1;
    s->work = malloc((size_t)n_vocab * sizeof *s->work);
    s->order = malloc((size_t)n_vocab * sizeof *s->order);
    if (!s->work || !s->order) {
        sampler_free(s);
        return -1;
    }
    s->n_vocab = n_vocab;
    s->p = *p;
    s->rng = seed_state(p->seed);
    return 0;
}

void sampler_free(sampler *s) {
    free(s->work);
    free(s->order);
    s->work = NULL;
    s->order = NULL;
}

void sampler_set_params(sampler *s, const sampler_params *p) {
    if (p->seed != s->p.seed) s->rng = seed_state(p->seed);
    s->p = *p;
}

/* Repetition penalty with llama.cpp's semantics: each distinct token among the last
 * repeat_last_n (negative: all) of HISTORY has a positive logit divided by the penalty
 * and a negative one multiplied by it. A token is penalised once however often it
 * appears: it is skipped when its value already differs from the raw logit (the only
 * value the penalty leaves unchanged is 0, where applying it twice is harmless). */
static void apply_penalty(sampler *s, const float *logits, const int32_t *history, int n_history) {
    float pen = s->p.repeat_penalty;
    if (pen == 1.0f || pen <= 0.0f || s->p.repeat_last_n == 0 || !history) return;
    int first = s->p.repeat_last_n < 0 || s->p.repeat_last_n >= n_history
                    ? 0 : n_history - s->p.repeat_last_n;
    for (int i = first; i < n_history; i++) {
        int32_t t = history[i];
        if (t < 0 || t >= s->n_vocab || s->work[t] != clean_logit(logits[t])) continue;
        s->work[t] = s->work[t] > 0 ? s->work[t] / pen : s->work[t] * pen;
    }
}

int32_t sampler_sample(sampler *s, const float *logits, const int32_t *history, int n_history,
                       sample_result *out) {
    return sampler_sample_with(s, logits, NULL, history, n_history, out);
}

int32_t sampler_sample_with(sampler *s, const float *logits, const logit_summary *sum, const int32_t *history,
                            int n_history, sample_result *out) {
    sample_result local;
    sample_result *res = out ? out : &local;
    int n = s->n_vocab;

    for (int i = 0; i < n; i++) s->work[i] = clean_logit(logits[i]);
    apply_penalty(s, logits, history, n_history);

    ranking r;
    ranking_init(&r, s->work, s->order, n);
    int32_t leader = ranking_at(&r, 0); /* the winner after the penalty */
    int greedy = !(s->p.temperature > 0.0f);
    sampler_stage blame_draw = STAGE_RANDOM;
    kept k;
    int32_t id;
    if (greedy) {
        k = (kept){.n_keep = 1, .temp = 1.0, .best = s->work[leader], .z = 1.0};
        id = leader;
    } else {
        k = apply_filters(&r, &s->p, s->p.temperature);
        double u = next_uniform(&s->rng);
        id = draw(&r, &k, u);
        if (id != leader && s->p.temperature != 1.0f) {
            kept at_one = apply_filters(&r, &s->p, 1.0);
            if (draw(&r, &at_one, u) == leader) blame_draw = STAGE_TEMPERATURE;
        }
    }

    memset(res, 0, sizeof *res);
    res->id = id;
    if (summary_usable(sum, n)) describe_summary(logits, n, sum, res);
    else describe_raw(logits, n, res);
    res->n_candidates_after = k.n_keep;
    res->prob_after = greedy ? 1.0f : (float)(kept_weight(&r, &k, id) / k.z);
    res->entropy_after = greedy ? 0.0f : (float)kept_entropy(&r, &k);
    for (int i = 0; i < res->n_top; i++) {
        int32_t t = ranking_at(&r, i);
        res->top_after[i].id = t;
        res->top_after[i].logit = (float)(s->work[t] / k.temp);
        res->top_after[i].prob = i >= k.n_keep ? 0.0f
                                 : greedy ? 1.0f
                                          : (float)(kept_weight(&r, &k, t) / k.z);
    }
    if (id == res->greedy_id) res->blame = STAGE_NONE;
    else if (leader != res->greedy_id) res->blame = STAGE_REPEAT_PENALTY;
    else res->blame = blame_draw;
    return id;
}
