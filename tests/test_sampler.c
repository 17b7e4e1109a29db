/* test_sampler.c — the sampler on hand-built logits whose answers are known in closed
 * form (probabilities written as logs, so the expected values are the numbers typed). */
#include "model/sampler.h"
#include "test.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

/* Parameters that switch every stage off: a plain softmax at temperature 1. */
static sampler_params plain(void) {
    sampler_params p;
    sampler_params_default(&p);
    p.temperature = 1.0f;
    p.top_k = 0;
    p.top_p = 1.0f;
    p.min_p = 0.0f;
    p.repeat_penalty = 1.0f;
    return p;
}

/* Logits log(p_i): softmax gives back p_i exactly (up to rounding). */
static void logs_of(const double *probs, int n, float *out) {
    for (int i = 0; i < n; i++) out[i] = (float)log(probs[i]);
}

static void defaults_are_documented(void) {
    sampler_params p;
    sampler_params_default(&p);
    CHECK_NEAR(p.temperature, 0.8, 1e-7);
    CHECK(p.top_k == 40);
    CHECK_NEAR(p.top_p, 0.95, 1e-7);
    CHECK_NEAR(p.min_p, 0.05, 1e-7);
    CHECK_NEAR(p.repeat_penalty, 1.1, 1e-7);
    CHECK(p.repeat_last_n == 64);
    CHECK(p.seed == 42);
    CHECK(strcmp(sampler_stage_name(STAGE_REPEAT_PENALTY), "repeat-penalty") == 0);
    CHECK(strcmp(sampler_stage_name(STAGE_NONE), "none") == 0);
}

static void greedy_picks_argmax(void) {
    float logits[5] = {0.5f, 2.0f, -1.0f, 1.9f, 0.0f};
    sampler_params p = plain();
    p.temperature = 0.0f;
    sampler s;
    CHECK(sampler_init(&s, &p, 5) == 0);
    sample_result r;
    int32_t id = sampler_sample(&s, logits, NULL, 0, &r);
    CHECK(id == 1);
    CHECK(r.id == 1 && r.greedy_id == 1 && r.rank_before == 0);
    CHECK(r.blame == STAGE_NONE);
    CHECK_NEAR(r.prob_after, 1.0, 0);
    CHECK_NEAR(r.entropy_after, 0.0, 0);
    CHECK(r.n_candidates_after == 1);
    CHECK(r.n_top == 5);
    /* the raw list is sorted: 1 (2.0), 3 (1.9), 0 (0.5), 4 (0.0), 2 (-1.0) */
    int want[5] = {1, 3, 0, 4, 2};
    for (int i = 0; i < 5; i++) CHECKF(r.top_before[i].id == want[i], "top_before[%d] = %d", i, r.top_before[i].id);
    /* softmax by hand: e^2 / (e^.5 + e^2 + e^-1 + e^1.9 + 1) = 7.389056 / 18.25735 */
    CHECK_NEAR(r.prob_before, 7.389056 / (1.648721 + 7.389056 + 0.367879 + 6.685894 + 1.0), 1e-5);
    CHECK_NEAR(r.top_after[0].prob, 1.0, 0);
    CHECK_NEAR(r.top_after[1].prob, 0.0, 0);
    sampler_free(&s);
}

/* The leader 3.0 is divided by 1.1 (2.727) and falls below 2.9. */
static void penalty_demotes_leader(void) {
    float logits[3] = {3.0f, 2.9f, 0.0f};
    int32_t hist[2] = {0, 0}; /* twice, but penalised once */
    sampler_params p = plain();
    p.temperature = 0.0f;
    p.repeat_penalty = 1.1f;
    sampler s;
    CHECK(sampler_init(&s, &p, 3) == 0);
    sample_result r;
    CHECK(sampler_sample(&s, logits, hist, 2, &r) == 1);
    CHECK(r.greedy_id == 0);
    CHECK(r.blame == STAGE_REPEAT_PENALTY);
    CHECK(r.rank_before == 1);
    CHECK(r.top_after[0].id == 1 && r.top_after[1].id == 0);
    CHECK_NEAR(r.top_after[1].logit, 3.0 / 1.1, 1e-5);
    /* a penalty of 1.05 applied once leaves 2.857 < 2.9 as well; applied twice (2.721)
     * would too, so check the value instead */
    p.repeat_penalty = 1.02f; /* 3/1.02 = 2.941 > 2.9: the leader survives */
    sampler_set_params(&s, &p);
    CHECK(sampler_sample(&s, logits, hist, 2, &r) == 0);
    CHECK(r.blame == STAGE_NONE);
    CHECK_NEAR(r.top_after[0].logit, 3.0 / 1.02, 1e-5); /* once, not 3/1.02^2 */
    sampler_free(&s);
}

/* llama.cpp multiplies negative logits: -1.0 * 1.1 = -1.1 < -1.05. Dividing instead
 * (-0.909) would keep token 0 on top. */
static void penalty_multiplies_negative_logits(void) {
    float logits[2] = {-1.0f, -1.05f};
    int32_t hist[1] = {0};
    sampler_params p = plain();
    p.temperature = 0.0f;
    p.repeat_penalty = 1.1f;
    sampler s;
    CHECK(sampler_init(&s, &p, 2) == 0);
    sample_result r;
    CHECK(sampler_sample(&s, logits, hist, 1, &r) == 1);
    CHECK(r.blame == STAGE_REPEAT_PENALTY);
    CHECK_NEAR(r.top_after[1].logit, -1.1, 1e-6);
    sampler_free(&s);
}

/* Only the last repeat_last_n tokens count; ids outside the vocabulary are ignored. */
static void penalty_window(void) {
    float logits[3] = {3.0f, 2.9f, 2.8f};
    int32_t hist[4] = {0, 7, -3, 2}; /* 0 is outside a window of 3 */
    sampler_params p = plain();
    p.temperature = 0.0f;
    p.repeat_penalty = 1.5f;
    p.repeat_last_n = 3;
    sampler s;
    CHECK(sampler_init(&s, &p, 3) == 0);
    sample_result r;
    CHECK(sampler_sample(&s, logits, hist, 4, &r) == 0);
    CHECK(r.blame == STAGE_NONE);
    p.repeat_last_n = 4; /* now 0 is inside */
    sampler_set_params(&s, &p);
    CHECK(sampler_sample(&s, logits, hist, 4, &r) == 1);
    p.repeat_last_n = 0; /* off */
    sampler_set_params(&s, &p);
    CHECK(sampler_sample(&s, logits, hist, 4, &r) == 0);
    sampler_free(&s);
}

/* Pseudo-random logits for the property tests (fixed LCG, independent of the sampler). */
static void fill_logits(float *x, int n, uint32_t seed) {
    for (int i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        x[i] = (float)((seed >> 8) % 10000) / 1000.0f - 5.0f;
    }
}

static void top_k_one_is_greedy(void) {
    enum { N = 300 };
    float logits[N];
    sampler_params p = plain();
    p.temperature = 1.7f;
    p.top_k = 1;
    p.top_p = 0.5f;
    sampler s;
    CHECK(sampler_init(&s, &p, N) == 0);
    for (uint32_t t = 0; t < 50; t++) {
        fill_logits(logits, N, t + 1);
        int best = 0;
        for (int i = 1; i < N; i++)
            if (logits[i] > logits[best]) best = i;
        sample_result r;
        CHECKF(sampler_sample(&s, logits, NULL, 0, &r) == best, "trial %u", t);
        CHECK(r.n_candidates_after == 1);
        CHECK_NEAR(r.prob_after, 1.0, 1e-6);
        CHECK(r.blame == STAGE_NONE);
    }
    sampler_free(&s);
}

static void same_seed_same_sequence(void) {
    enum { N = 50, STEPS = 200 };
    float logits[N];
    fill_logits(logits, N, 99);
    for (int i = 0; i < N; i++) logits[i] *= 0.2f; /* flat enough that draws vary */
    sampler_params p = plain();
    p.seed = 1234;
    sampler a, b, c;
    p.top_k = 20;
    CHECK(sampler_init(&a, &p, N) == 0);
    CHECK(sampler_init(&b, &p, N) == 0);
    p.seed = 1235;
    CHECK(sampler_init(&c, &p, N) == 0);
    int same_ab = 1, diff_ac = 0, distinct = 0;
    int seen[N] = {0};
    for (int i = 0; i < STEPS; i++) {
        int32_t x = sampler_sample(&a, logits, NULL, 0, NULL);
        int32_t y = sampler_sample(&b, logits, NULL, 0, NULL);
        int32_t z = sampler_sample(&c, logits, NULL, 0, NULL);
        same_ab &= x == y;
        diff_ac += x != z;
        if (!seen[x]++) distinct++;
    }
    CHECK(same_ab);
    CHECKF(diff_ac > STEPS / 2, "another seed differs in only %d of %d draws", diff_ac, STEPS);
    CHECKF(distinct > 10, "only %d distinct tokens in %d draws", distinct, STEPS);
    sampler_free(&a);
    sampler_free(&b);
    sampler_free(&c);
}

/* Changing parameters keeps the random stream; changing the seed restarts it. */
static void set_params_and_seed(void) {
    enum { N = 20 };
    float logits[N] = {0};
    sampler_params p = plain();
    sampler a, fresh;
    CHECK(sampler_init(&a, &p, N) == 0);
    int32_t first[8], cont[8], again[8];
    for (int i = 0; i < 8; i++) first[i] = sampler_sample(&a, logits, NULL, 0, NULL);
    p.top_k = 0; /* same seed: the stream goes on */
    sampler_set_params(&a, &p);
    for (int i = 0; i < 8; i++) cont[i] = sampler_sample(&a, logits, NULL, 0, NULL);
    CHECK(memcmp(first, cont, sizeof first) != 0);
    p.seed = 7;
    sampler_set_params(&a, &p);
    CHECK(sampler_init(&fresh, &p, N) == 0);
    for (int i = 0; i < 8; i++) {
        again[i] = sampler_sample(&a, logits, NULL, 0, NULL);
        CHECK(again[i] == sampler_sample(&fresh, logits, NULL, 0, NULL));
    }
    sampler_free(&a);
    sampler_free(&fresh);
}

static void entropy_of_uniform_is_ln_n(void) {
    enum { N = 1000 };
    static float logits[N];
    for (int i = 0; i < N; i++) logits[i] = 3.25f;
    sampler_params p = plain();
    sampler s;
    CHECK(sampler_init(&s, &p, N) == 0);
    sample_result r;
    sampler_sample(&s, logits, NULL, 0, &r);
    CHECK_NEAR(r.entropy_before, log(1000.0), 1e-4);
    CHECK_NEAR(r.entropy_after, log(1000.0), 1e-4);
    CHECK_NEAR(r.prob_before, 0.001, 1e-7);
    CHECK(r.n_candidates_after == N);
    CHECK(r.n_top == SAMPLER_TOP_N);
    /* ties rank by id */
    CHECK(r.top_before[0].id == 0 && r.top_before[15].id == 15);
    /* top-k 10 of a uniform distribution: ln 10 */
    p.top_k = 10;
    sampler_set_params(&s, &p);
    sampler_sample(&s, logits, NULL, 0, &r);
    CHECK_NEAR(r.entropy_after, log(10.0), 1e-5);
    CHECK(r.id >= 0 && r.id < 10);
    CHECK_NEAR(r.prob_after, 0.1, 1e-6);
    sampler_free(&s);
}

/* probabilities 0.5 0.3 0.15 0.05: top-p keeps the smallest head reaching p. */
static void top_p_smallest_set(void) {
    double probs[4] = {0.15, 0.5, 0.05, 0.3}; /* shuffled: ids 1, 3, 0, 2 by rank */
    float logits[4];
    logs_of(probs, 4, logits);
    sampler_params p = plain();
    sampler s;
    CHECK(sampler_init(&s, &p, 4) == 0);
    struct { float p; int keep; } cases[] = {
        {0.4f, 1}, {0.5f, 1}, {0.7f, 2}, {0.8f, 2}, {0.85f, 3}, {0.95f, 3}, {0.99f, 4}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        p.top_p = cases[c].p;
        sampler_set_params(&s, &p);
        sample_result r;
        sampler_sample(&s, logits, NULL, 0, &r);
        CHECKF(r.n_candidates_after == cases[c].keep, "top_p %.2f kept %d, expected %d",
               cases[c].p, r.n_candidates_after, cases[c].keep);
        CHECK(r.rank_before < cases[c].keep);
    }
    /* p = 0.8: 0.5 and 0.3 renormalised to 0.625 and 0.375 */
    p.top_p = 0.8f;
    sampler_set_params(&s, &p);
    sample_result r;
    sampler_sample(&s, logits, NULL, 0, &r);
    CHECK(r.top_after[0].id == 1 && r.top_after[1].id == 3 && r.top_after[2].id == 0);
    CHECK_NEAR(r.top_after[0].prob, 0.625, 1e-6);
    CHECK_NEAR(r.top_after[1].prob, 0.375, 1e-6);
    CHECK_NEAR(r.top_after[2].prob, 0.0, 0);
    CHECK_NEAR(r.entropy_after, -(0.625 * log(0.625) + 0.375 * log(0.375)), 1e-6);
    CHECK_NEAR(r.entropy_before, -(0.5 * log(0.5) + 0.3 * log(0.3) + 0.15 * log(0.15) + 0.05 * log(0.05)), 1e-6);
    sampler_free(&s);
}

/* top-p after top-k measures p within the top-k set: top-2 gives 0.625/0.375, so
 * p = 0.6 keeps just the leader although 0.5 < 0.6 in the raw distribution. */
static void top_k_then_top_p(void) {
    double probs[4] = {0.5, 0.3, 0.15, 0.05};
    float logits[4];
    logs_of(probs, 4, logits);
    sampler_params p = plain();
    p.top_k = 2;
    sampler s;
    CHECK(sampler_init(&s, &p, 4) == 0);
    sample_result r;
    sampler_sample(&s, logits, NULL, 0, &r);
    CHECK(r.n_candidates_after == 2);
    CHECK_NEAR(r.top_after[0].prob, 0.625, 1e-6);
    p.top_p = 0.6f;
    sampler_set_params(&s, &p);
    sampler_sample(&s, logits, NULL, 0, &r);
    CHECK(r.n_candidates_after == 1);
    CHECK(r.id == 0);
    sampler_free(&s);
}

/* min-p 0.25 of a 0.5 leader: threshold 0.125 keeps 0.5, 0.3, 0.15. */
static void min_p_threshold(void) {
    double probs[4] = {0.5, 0.3, 0.15, 0.05};
    float logits[4];
    logs_of(probs, 4, logits);
    sampler_params p = plain();
    p.min_p = 0.25f;
    sampler s;
    CHECK(sampler_init(&s, &p, 4) == 0);
    sample_result r;
    sampler_sample(&s, logits, NULL, 0, &r);
    CHECK(r.n_candidates_after == 3);
    CHECK_NEAR(r.top_after[2].prob, 0.15 / 0.95, 1e-6);
    CHECK_NEAR(r.top_after[3].prob, 0.0, 0);
    p.min_p = 0.7f; /* 0.35: only the leader */
    sampler_set_params(&s, &p);
    sampler_sample(&s, logits, NULL, 0, &r);
    CHECK(r.n_candidates_after == 1 && r.id == 0);
    sampler_free(&s);
}

/* softmax([1, 0] / 2) = 1 / (1 + e^-0.5) = 0.6224593 */
static void temperature_scales_logits(void) {
    float logits[2] = {1.0f, 0.0f};
    sampler_params p = plain();
    p.temperature = 2.0f;
    sampler s;
    CHECK(sampler_init(&s, &p, 2) == 0);
    sample_result r;
    int32_t id = sampler_sample(&s, logits, NULL, 0, &r);
    CHECK_NEAR(r.top_after[0].prob, 0.6224593, 1e-6);
    CHECK_NEAR(r.top_after[0].logit, 0.5, 1e-7);
    CHECK_NEAR(r.prob_after, id == 0 ? 0.6224593 : 0.3775407, 1e-6);
    CHECK_NEAR(r.prob_before, id == 0 ? 0.7310586 : 0.2689414, 1e-6);
    sampler_free(&s);
}

/* Frequencies of 40000 draws match the probabilities: the draw itself is right. */
static void draws_follow_distribution(void) {
    double probs[5] = {0.4, 0.1, 0.25, 0.05, 0.2};
    float logits[5];
    logs_of(probs, 5, logits);
    sampler_params p = plain();
    sampler s;
    CHECK(sampler_init(&s, &p, 5) == 0);
    int count[5] = {0};
    enum { DRAWS = 40000 };
    for (int i = 0; i < DRAWS; i++) count[sampler_sample(&s, logits, NULL, 0, NULL)]++;
    for (int i = 0; i < 5; i++) /* 5 standard deviations at most ~0.0123 */
        CHECKF(fabs(count[i] / (double)DRAWS - probs[i]) < 0.0125, "token %d: %.4f vs %.2f", i,
               count[i] / (double)DRAWS, probs[i]);
    sampler_free(&s);
}

/* Logits [2, 0]: at T = 1 the leader has 0.8808, at T = 3 0.6608. A draw that leaves the
 * leader at T = 3 is the temperature's doing when the same draw at T = 1 would have kept
 * it (probability 0.8808 - 0.6608 = 0.2200), the random draw's otherwise (0.1192). */
static void blame_temperature_and_random(void) {
    float logits[2] = {2.0f, 0.0f};
    sampler_params p = plain();
    p.temperature = 3.0f;
    sampler s;
    CHECK(sampler_init(&s, &p, 2) == 0);
    int n_none = 0, n_temp = 0, n_rand = 0, bad = 0;
    enum { DRAWS = 20000 };
    for (int i = 0; i < DRAWS; i++) {
        sample_result r;
        int32_t id = sampler_sample(&s, logits, NULL, 0, &r);
        if (id == 0) { n_none += r.blame == STAGE_NONE; bad += r.blame != STAGE_NONE; }
        else if (r.blame == STAGE_TEMPERATURE) n_temp++;
        else if (r.blame == STAGE_RANDOM) n_rand++;
        else bad++;
        if (id == 1) CHECK(r.margin < 0 && r.rank_before == 1);
    }
    CHECK(bad == 0);
    CHECKF(fabs(n_temp / (double)DRAWS - 0.2200) < 0.015, "temperature blamed %.4f", n_temp / (double)DRAWS);
    CHECKF(fabs(n_rand / (double)DRAWS - 0.1192) < 0.012, "random blamed %.4f", n_rand / (double)DRAWS);
    /* at T = 1 there is no temperature to blame */
    p.temperature = 1.0f;
    sampler_set_params(&s, &p);
    for (int i = 0; i < 2000; i++) {
        sample_result r;
        if (sampler_sample(&s, logits, NULL, 0, &r) == 1) CHECK(r.blame == STAGE_RANDOM);
    }
    sampler_free(&s);
}

/* rank, probability and margin of a given token: e, e^3, e^2 -> 0.09003, 0.66524, 0.24473 */
static void describe_given_token(void) {
    float logits[3] = {1.0f, 3.0f, 2.0f};
    sample_result r;
    sampler_describe(logits, 3, 2, &r);
    CHECK(r.id == 2 && r.greedy_id == 1 && r.rank_before == 1);
    CHECK_NEAR(r.prob_before, 0.2447285, 1e-6);
    CHECK_NEAR(r.margin, 0.2447285 - 0.6652410, 1e-6);
    CHECK(r.n_top == 3 && r.top_before[2].id == 0);
    CHECK_NEAR(r.top_before[2].prob, 0.0900306, 1e-6);
    sampler_describe(logits, 3, 1, &r);
    CHECK(r.rank_before == 0);
    CHECK_NEAR(r.margin, 0.6652410 - 0.2447285, 1e-6);
    sampler_describe(logits, 3, 9, &r); /* not a token: no crash, no probability */
    CHECK(r.rank_before == -1 && r.prob_before == 0.0f);
}

/* A NaN or infinite logit from a broken model must not be chosen or spread NaN. */
static void hostile_logits(void) {
    float logits[4] = {NAN, 1.0f, -INFINITY, 0.5f};
    sampler_params p = plain();
    sampler s;
    CHECK(sampler_init(&s, &p, 4) == 0);
    for (int i = 0; i < 100; i++) {
        sample_result r;
        int32_t id = sampler_sample(&s, logits, NULL, 0, &r);
        CHECK(id == 1 || id == 3);
        CHECK(!isnan(r.entropy_before) && !isnan(r.entropy_after) && !isnan(r.prob_after));
    }
    float inf[4] = {INFINITY, 0.0f, INFINITY, -1.0f};
    sample_result r;
    int32_t id = sampler_sample(&s, inf, NULL, 0, &r);
    CHECK(id == 0 || id == 2);
    CHECK(!isnan(r.prob_before));
    sampler_free(&s);
    CHECK(sampler_init(&s, &p, 0) == -1);
}

/* A flat distribution over 2,000 tokens with top-p 0.5 keeps hundreds of them: the
 * filters walk far down the ranking. The kept count and the order of the kept list are
 * checked against a plain sort of the same logits (ties to the lower id). */
static int by_logit_desc(const void *a, const void *b) {
    const float *x = a, *y = b; /* pairs (logit, id) */
    if (x[0] != y[0]) return x[0] > y[0] ? -1 : 1;
    return x[1] < y[1] ? -1 : x[1] > y[1];
}

static void long_walk_down_the_ranking(void) {
    enum { N = 2000 };
    static float logits[N], pairs[N][2];
    uint32_t seed = 7;
    for (int i = 0; i < N; i++) { /* [-1, 1) in steps of 0.0005: many ties */
        seed = seed * 1664525u + 1013904223u;
        logits[i] = (float)((seed >> 8) % 4000) / 2000.0f - 1.0f;
        pairs[i][0] = logits[i];
        pairs[i][1] = (float)i;
    }
    qsort(pairs, N, sizeof pairs[0], by_logit_desc);
    double z = 0;
    for (int i = 0; i < N; i++) z += exp((double)pairs[i][0] - pairs[0][0]);
    int keep = 0;
    for (double cum = 0; keep < N && cum < 0.5 * z * (1 - 1e-6); keep++) cum += exp((double)pairs[keep][0] - pairs[0][0]);
    CHECKF(keep > 200, "the reference keeps %d tokens: not a long walk", keep);
    sampler_params p = plain();
    p.top_p = 0.5f;
    sampler s;
    CHECK(sampler_init(&s, &p, N) == 0);
    for (int t = 0; t < 20; t++) {
        sample_result r;
        int32_t id = sampler_sample(&s, logits, NULL, 0, &r);
        CHECKF(r.n_candidates_after == keep, "kept %d, reference %d", r.n_candidates_after, keep);
        int rank = 0;
        while (rank < N && (int32_t)pairs[rank][1] != id) rank++;
        CHECKF(rank < keep, "drew id %d at rank %d, outside the %d kept", (int)id, rank, keep);
        for (int i = 0; i < r.n_top; i++)
            CHECKF(r.top_after[i].id == (int32_t)pairs[i][1], "top_after[%d] = %d, reference %d", i,
                   (int)r.top_after[i].id, (int)pairs[i][1]);
    }
    sampler_free(&s);
}

/* A summary of the row made here from a plain sort (what the GPU reduction returns) gives
 * the same description and the same draws as a pass over the row; an unusable one (too
 * short, a NaN) is ignored. */
static void summary_stands_in_for_the_row(void) {
    enum { N = 500 };
    static float logits[N], pairs[N][2];
    fill_logits(logits, N, 99);
    for (int i = 0; i < N; i++) pairs[i][0] = logits[i], pairs[i][1] = (float)i;
    qsort(pairs, N, sizeof pairs[0], by_logit_desc);
    int32_t ids[32];
    float vals[32];
    for (int j = 0; j < 32; j++) ids[j] = (int32_t)pairs[j][1], vals[j] = pairs[j][0];
    double m = pairs[0][0], z = 0, ez = 0;
    for (int i = 0; i < N; i++) {
        double d = logits[i] - m, e = exp(d);
        z += e;
        ez += e * d;
    }
    logit_summary sum = {.n_top = 32, .top_ids = ids, .top_logits = vals, .logsumexp = (float)(m + log(z)),
                         .entropy = (float)(log(z) - ez / z)};
    const int ranks[] = {0, 1, 5, 31, 32, 300, N - 1};
    for (size_t k = 0; k < sizeof ranks / sizeof ranks[0]; k++) {
        int32_t id = (int32_t)pairs[ranks[k]][1];
        sample_result a, b;
        sampler_describe(logits, N, id, &a);
        sampler_describe_with(logits, N, &sum, id, &b);
        CHECKF(a.rank_before == ranks[k] && b.rank_before == ranks[k], "rank %d: %d / %d", ranks[k], a.rank_before,
               b.rank_before);
        CHECK(a.greedy_id == b.greedy_id && a.n_top == b.n_top);
        CHECK_NEAR(b.prob_before, a.prob_before, 1e-6 * a.prob_before + 1e-12);
        CHECK_NEAR(b.entropy_before, a.entropy_before, 1e-5);
        CHECK_NEAR(b.margin, a.margin, 1e-6);
        for (int j = 0; j < a.n_top; j++)
            CHECK(a.top_before[j].id == b.top_before[j].id && a.top_before[j].logit == b.top_before[j].logit &&
                  fabs(a.top_before[j].prob - b.top_before[j].prob) <= 1e-6);
    }
    sampler_params p;
    sampler_params_default(&p); /* temperature, top-k, top-p, min-p and the penalty */
    sampler s1, s2;
    CHECK(sampler_init(&s1, &p, N) == 0 && sampler_init(&s2, &p, N) == 0);
    int32_t hist[24];
    for (int t = 0; t < 24; t++) {
        sample_result a, b;
        int32_t x = sampler_sample(&s1, logits, hist, t, &a);
        int32_t y = sampler_sample_with(&s2, logits, &sum, hist, t, &b);
        CHECKF(x == y && a.n_candidates_after == b.n_candidates_after && a.blame == b.blame &&
                   a.prob_after == b.prob_after && a.rank_before == b.rank_before,
               "draw %d: %d vs %d", t, (int)x, (int)y);
        hist[t] = x;
    }
    sampler_free(&s1);
    sampler_free(&s2);
    /* unusable summaries: the row is read instead */
    sample_result a, b;
    sampler_describe(logits, N, ids[3], &a);
    logit_summary bad = sum;
    bad.logsumexp = NAN;
    sampler_describe_with(logits, N, &bad, ids[3], &b);
    CHECK(b.prob_before == a.prob_before && b.entropy_before == a.entropy_before);
    bad = sum;
    bad.n_top = 4;
    sampler_describe_with(logits, N, &bad, ids[3], &b);
    CHECK(b.prob_before == a.prob_before && b.entropy_before == a.entropy_before);
}

int main(void) {
    RUN(defaults_are_documented);
    RUN(greedy_picks_argmax);
    RUN(penalty_demotes_leader);
    RUN(penalty_multiplies_negative_logits);
    RUN(penalty_window);
    RUN(top_k_one_is_greedy);
    RUN(same_seed_same_sequence);
    RUN(set_params_and_seed);
    RUN(entropy_of_uniform_is_ln_n);
    RUN(top_p_smallest_set);
    RUN(top_k_then_top_p);
    RUN(min_p_threshold);
    RUN(temperature_scales_logits);
    RUN(draws_follow_distribution);
    RUN(blame_temperature_and_random);
    RUN(describe_given_token);
    RUN(hostile_logits);
    RUN(long_walk_down_the_ranking);
    RUN(summary_stands_in_for_the_row);
    return test_exit_code();
}
