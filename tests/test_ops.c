/* test_ops.c — the reference ops of model/ops.h on small inputs worked out by hand.
 *
 * Expected values come from the formulas evaluated independently (by hand or with a
 * calculator to 7 digits), never from this code's own output. */
#include "model.h"
#include "ops.h"
#include "quant.h"
#include "test.h"

#include <stdint.h>

#define TOL 1e-6

static weight make_weight(uint32_t type, const void *data, int64_t rows, int64_t cols) {
    weight w = {"test", type, cols, rows, data, 0};
    uint64_t rb = 0;
    ggml_row_bytes(type, (uint64_t)cols, &rb);
    w.row_bytes = rb;
    return w;
}

/* ---- matrix products ---- */

static void matvec_f32(void) {
    const float W[2 * 3] = {1, 2, 3,
                            -1, 0.5f, 4};
    const float x[3] = {2, -1, 0.25f};
    float y[2];
    weight w = make_weight(GGML_TYPE_F32, W, 2, 3);
    op_matvec(&w, x, y);
    CHECK_NEAR(y[0], 2 - 2 + 0.75, TOL);
    CHECK_NEAR(y[1], -2 - 0.5 + 1, TOL);
}

static void matmul_equals_matvecs(void) {
    const float W[2 * 3] = {1, 2, 3, -1, 0.5f, 4};
    const float x[2 * 3] = {2, -1, 0.25f, /* second vector */ 1, 1, 1};
    float y[2 * 2];
    weight w = make_weight(GGML_TYPE_F32, W, 2, 3);
    op_matmul(&w, x, y, 2);
    CHECK_NEAR(y[0], 0.75, TOL);  /* vector 0, row 0 */
    CHECK_NEAR(y[1], -1.5, TOL);  /* vector 0, row 1 */
    CHECK_NEAR(y[2], 6, TOL);     /* vector 1, row 0 */
    CHECK_NEAR(y[3], 3.5, TOL);   /* vector 1, row 1 */
}

/* q8_0: one block per row, value = d * q. Row 0: d = 0.5, q = j - 16, x = 1 -> 0.5 * -16.
 * Row 1: d = 0.25, q = 1, x[j] = j -> 0.25 * (0 + 1 + ... + 31) = 124. */
static void matvec_q8_0(void) {
    block_q8_0 blocks[2];
    blocks[0].d = 0x3800; /* fp16 0.5 */
    blocks[1].d = 0x3400; /* fp16 0.25 */
    for (int j = 0; j < 32; j++) {
        blocks[0].qs[j] = (int8_t)(j - 16);
        blocks[1].qs[j] = 1;
    }
    float x0[32], x1[32], y[2];
    for (int j = 0; j < 32; j++) {
        x0[j] = 1;
        x1[j] = (float)j;
    }
    weight w = make_weight(GGML_TYPE_Q8_0, blocks, 2, 32);
    op_matvec(&w, x0, y);
    CHECK_NEAR(y[0], -8, TOL);
    op_matvec(&w, x1, y);
    CHECK_NEAR(y[1], 124, TOL);
}

/* A row longer than the dequantisation chunk must still be summed whole:
 * 5000 f16 ones dotted with x[i] = 1 + (i % 3) -> 5000 + (0+1+2)*1666 + (0+1) = 9999. */
static void matvec_long_f16_row(void) {
    enum { N = 5000 };
    static uint16_t W[N];
    static float x[N];
    for (int i = 0; i < N; i++) {
        W[i] = 0x3C00; /* fp16 1.0 */
        x[i] = (float)(1 + i % 3);
    }
    float y;
    weight w = make_weight(GGML_TYPE_F16, W, 1, N);
    op_matvec(&w, x, &y);
    CHECK_NEAR(y, 9999, 1e-3);
}

/* ---- normalisation ---- */

/* rms([1,2,3,4]) = sqrt(30/4) = 2.7386128 */
static void rmsnorm_known_vector(void) {
    const float x[4] = {1, 2, 3, 4};
    const float g[4] = {1, 1, 2, 0.5f};
    float out[4];
    op_rmsnorm(out, x, NULL, 4, 0.0f);
    CHECK_NEAR(out[0], 0.3651484, TOL);
    CHECK_NEAR(out[1], 0.7302967, TOL);
    CHECK_NEAR(out[2], 1.0954451, TOL);
    CHECK_NEAR(out[3], 1.4605935, TOL);
    op_rmsnorm(out, x, g, 4, 0.0f);
    CHECK_NEAR(out[2], 2 * 1.0954451, TOL);
    CHECK_NEAR(out[3], 0.5 * 1.4605935, TOL);
    /* eps keeps a zero vector finite: 0 / sqrt(0 + 1) = 0 */
    float z[2] = {0, 0};
    op_rmsnorm(z, z, NULL, 2, 1.0f);
    CHECK(z[0] == 0 && z[1] == 0);
    /* in place, with eps: [3,4] -> mean square 12.5, + 0.5 = 13 */
    float v[2] = {3, 4};
    op_rmsnorm(v, v, NULL, 2, 0.5f);
    CHECK_NEAR(v[0], 3 / sqrt(13.0), TOL);
    CHECK_NEAR(v[1], 4 / sqrt(13.0), TOL);
}

/* mean 2.5, variance 1.25: (x - 2.5) / sqrt(1.25 + 1e-5) */
static void layernorm_known_vector(void) {
    const float x[4] = {1, 2, 3, 4};
    const float g[4] = {2, 2, 2, 2}, b[4] = {1, 0, 0, -1};
    float out[4];
    op_layernorm(out, x, NULL, NULL, 4, 1e-5f);
    CHECK_NEAR(out[0], -1.3416354, TOL);
    CHECK_NEAR(out[1], -0.4472118, TOL);
    CHECK_NEAR(out[2], 0.4472118, TOL);
    CHECK_NEAR(out[3], 1.3416354, TOL);
    op_layernorm(out, x, g, b, 4, 1e-5f);
    CHECK_NEAR(out[0], 2 * -1.3416354 + 1, 2 * TOL);
    CHECK_NEAR(out[3], 2 * 1.3416354 - 1, 2 * TOL);
}

/* ---- softmax ---- */

static void softmax_known_values(void) {
    float x[3] = {1, 2, 3};
    op_softmax(x, 3);
    CHECK_NEAR(x[0], 0.0900306, TOL);
    CHECK_NEAR(x[1], 0.2447285, TOL);
    CHECK_NEAR(x[2], 0.6652410, TOL);
    /* large inputs must not overflow: only differences matter */
    float big[3] = {1001, 1002, 1003};
    op_softmax(big, 3);
    CHECK_NEAR(big[2], 0.6652410, TOL);
    float one[1] = {-5};
    op_softmax(one, 1);
    CHECK_NEAR(one[0], 1, 0);
    float neg[2] = {-1e30f, 0};
    op_softmax(neg, 2);
    CHECK_NEAR(neg[0], 0, TOL);
    CHECK_NEAR(neg[1], 1, TOL);
}

/* ---- rope ---- */

/* head_dim 4, base 10000, position 1: pair 0 turns by 1 rad, pair 1 by 10000^(-1/2) = 0.01.
 * NORM pairs (0,1) and (2,3); NEOX pairs (0,2) and (1,3). */
static void rope_norm_vs_neox(void) {
    float v[4] = {1, 0, 0, 0};
    op_rope(v, 1, 4, &(rope_desc){.kind = ROPE_NORM, .dim = 4, .base = 10000.0f, .freq_scale = 1.0f, .attn_factor = 1}, NULL, 1);
    CHECK_NEAR(v[0], 0.5403023, TOL);   /* cos 1 */
    CHECK_NEAR(v[1], 0.8414710, TOL);   /* sin 1 */
    CHECK_NEAR(v[2], 0, TOL);
    CHECK_NEAR(v[3], 0, TOL);

    float u[4] = {1, 0, 0, 0};
    op_rope(u, 1, 4, &(rope_desc){.kind = ROPE_NEOX, .dim = 4, .base = 10000.0f, .freq_scale = 1.0f, .attn_factor = 1}, NULL, 1);
    CHECK_NEAR(u[0], 0.5403023, TOL);
    CHECK_NEAR(u[1], 0, TOL);
    CHECK_NEAR(u[2], 0.8414710, TOL);   /* the partner is half a head away */
    CHECK_NEAR(u[3], 0, TOL);

    /* the slow pair: unit vector on dim 2 (NORM: first of pair 1) turns by 0.01 rad */
    float s[4] = {0, 0, 1, 0};
    op_rope(s, 1, 4, &(rope_desc){.kind = ROPE_NORM, .dim = 4, .base = 10000.0f, .freq_scale = 1.0f, .attn_factor = 1}, NULL, 1);
    CHECK_NEAR(s[2], 0.9999500, TOL);
    CHECK_NEAR(s[3], 0.0099998, TOL);
    float n[4] = {0, 1, 0, 0};          /* NEOX: dim 1 pairs with dim 3 */
    op_rope(n, 1, 4, &(rope_desc){.kind = ROPE_NEOX, .dim = 4, .base = 10000.0f, .freq_scale = 1.0f, .attn_factor = 1}, NULL, 1);
    CHECK_NEAR(n[1], 0.9999500, TOL);
    CHECK_NEAR(n[3], 0.0099998, TOL);

    /* position 0 is the identity; ROPE_NONE never rotates */
    float z[4] = {1, 2, 3, 4};
    op_rope(z, 1, 4, &(rope_desc){.kind = ROPE_NEOX, .dim = 4, .base = 10000.0f, .freq_scale = 1.0f, .attn_factor = 1}, NULL, 0);
    CHECK(z[0] == 1 && z[1] == 2 && z[2] == 3 && z[3] == 4);
    op_rope(z, 1, 4, &(rope_desc){.kind = ROPE_NONE, .dim = 4, .base = 10000.0f, .freq_scale = 1.0f, .attn_factor = 1}, NULL, 7);
    CHECK(z[0] == 1 && z[1] == 2 && z[2] == 3 && z[3] == 4);
}

/* rope_dim < head_dim leaves the tail alone; every head turns; freq_scale multiplies the
 * position; freq_factors divide each pair's frequency (Llama 3). */
static void rope_partial_scaled_factors(void) {
    /* two heads of 4, rope_dim 2: only dims 0,1 of each head turn, at frequency 1 */
    float v[8] = {1, 0, 5, 6, 1, 0, 7, 8};
    op_rope(v, 2, 4, &(rope_desc){.kind = ROPE_NEOX, .dim = 2, .base = 10000.0f, .freq_scale = 0.5f, .attn_factor = 1}, NULL, 2); /* angle 2 * 0.5 = 1 */
    CHECK_NEAR(v[0], 0.5403023, TOL);
    CHECK_NEAR(v[1], 0.8414710, TOL);
    CHECK(v[2] == 5 && v[3] == 6);
    CHECK_NEAR(v[4], 0.5403023, TOL);
    CHECK_NEAR(v[5], 0.8414710, TOL);
    CHECK(v[6] == 7 && v[7] == 8);

    /* factors {1, 4}: pair 1 turns by 0.01 / 4 = 0.0025 */
    const float factors[2] = {1, 4};
    float u[4] = {0, 0, 1, 0};
    op_rope(u, 1, 4, &(rope_desc){.kind = ROPE_NORM, .dim = 4, .base = 10000.0f, .freq_scale = 1.0f, .attn_factor = 1}, factors, 1);
    CHECK_NEAR(u[2], 0.9999969, TOL);
    CHECK_NEAR(u[3], 0.0025000, TOL);
}

/* llama.cpp's converter permutes Q/K rows so that NORM on the permuted vector equals NEOX
 * (Hugging Face's rotate_half) on the original: dim i <-> 2i, dim i + d/2 <-> 2i + 1. */
static void rope_norm_is_permuted_neox(void) {
    enum { D = 8 };
    float a[D], b[D];
    for (int i = 0; i < D; i++) a[i] = (float)(i * 0.37 - 1.1);
    for (int i = 0; i < D / 2; i++) {
        b[2 * i] = a[i];
        b[2 * i + 1] = a[i + D / 2];
    }
    op_rope(a, 1, D, &(rope_desc){.kind = ROPE_NEOX, .dim = D, .base = 10000.0f, .freq_scale = 1.0f, .attn_factor = 1}, NULL, 5);
    op_rope(b, 1, D, &(rope_desc){.kind = ROPE_NORM, .dim = D, .base = 10000.0f, .freq_scale = 1.0f, .attn_factor = 1}, NULL, 5);
    for (int i = 0; i < D / 2; i++) {
        CHECK_NEAR(b[2 * i], a[i], TOL);
        CHECK_NEAR(b[2 * i + 1], a[i + D / 2], TOL);
    }
}

/* ---- activations ---- */

static void gelu_known_points(void) {
    /* tanh form: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) */
    const float x[6] = {0, 1, -1, 2, 3, -3};
    const double want[6] = {0, 0.8411920, -0.1588080, 1.9545977, 2.9963626, -0.0036374};
    float y[6];
    op_gelu(y, x, 6);
    for (int i = 0; i < 6; i++) CHECK_NEAR(y[i], want[i], TOL);
}

static void swiglu_known_points(void) {
    /* silu(g) * u with silu(g) = g / (1 + e^-g) */
    const float g[3] = {1, 0, -2}, u[3] = {2, 5, 1};
    float y[3];
    op_swiglu(y, g, u, 3);
    CHECK_NEAR(y[0], 2 * 0.7310586, TOL);
    CHECK_NEAR(y[1], 0, TOL);
    CHECK_NEAR(y[2], -2 * 0.1192029, TOL);
    float a[2] = {1, 2};
    op_add(a, a, u, 2);
    CHECK(a[0] == 3 && a[1] == 7);
}

/* ---- attention ---- */

/* q = [1, 0] against keys [0,0], [1,0], [2,0] (scale 1) -> scores 0, 1, 2 -> softmax
 * 0.0900306, 0.2447285, 0.6652410; values [1,0], [0,1], [1,1] -> out = [p0 + p2, p1 + p2].
 * Keys and values sit 4 floats apart, as in a cache holding two kv heads; the other
 * head's slots hold garbage that must not be read. */
static void attention_three_keys(void) {
    const float q[2] = {1, 0};
    const float k[3 * 4] = {0, 0, 99, 99, 1, 0, 99, 99, 2, 0, 99, 99};
    const float v[3 * 4] = {1, 0, 99, 99, 0, 1, 99, 99, 1, 1, 99, 99};
    float scores[3], out[2];
    op_attention_head(q, k, v, &(attn_span){0, 3, 2, 4, 1.0f, 0, false, 0}, scores, out);
    CHECK_NEAR(scores[0], 0.0900306, TOL);
    CHECK_NEAR(scores[1], 0.2447285, TOL);
    CHECK_NEAR(scores[2], 0.6652410, TOL);
    CHECK_NEAR(out[0], 0.0900306 + 0.6652410, TOL);
    CHECK_NEAR(out[1], 0.2447285 + 0.6652410, TOL);

    /* scale 1/sqrt(2) with q = [sqrt 2, 0] gives the same scores; a causal prefix of one
     * key attends to it fully */
    const float q2[2] = {1.41421356f, 0};
    op_attention_head(q2, k, v, &(attn_span){0, 3, 2, 4, 0.70710678f, 0, false, 0}, scores, out);
    CHECK_NEAR(scores[2], 0.6652410, TOL);
    op_attention_head(q, k, v, &(attn_span){0, 1, 2, 4, 1.0f, 0, false, 0}, scores, out);
    CHECK_NEAR(scores[0], 1, TOL);
    CHECK_NEAR(out[0], 1, TOL);
    CHECK_NEAR(out[1], 0, TOL);
}

/* A sliding window of 2 over three keys leaves key 0 out: scores 1, 2 -> softmax
 * 0.2689414, 0.7310586, key 0's probability written as 0; out = [p2, p1 + p2]. A cap of
 * 1 turns scores 0, 1, 2 into tanh(0), tanh(1), tanh(2) = 0, 0.7615942, 0.9640276 before
 * the softmax: 0.1734929, 0.3715676, 0.4549395 (computed apart, in double precision). */
static void attention_window_and_softcap(void) {
    const float q[2] = {1, 0};
    const float k[3 * 2] = {0, 0, 1, 0, 2, 0};
    const float v[3 * 2] = {1, 0, 0, 1, 1, 1};
    float scores[3], out[2];
    op_attention_head(q, k, v, &(attn_span){1, 3, 2, 2, 1.0f, 0, false, 0}, scores, out);
    CHECK(scores[0] == 0);
    CHECK_NEAR(scores[1], 0.2689414, TOL);
    CHECK_NEAR(scores[2], 0.7310586, TOL);
    CHECK_NEAR(out[0], 0.7310586, TOL);
    CHECK_NEAR(out[1], 1.0, TOL);
    op_attention_head(q, k, v, &(attn_span){0, 3, 2, 2, 1.0f, 1.0f, false, 0}, scores, out);
    CHECK_NEAR(scores[0], 0.1734929, TOL);
    CHECK_NEAR(scores[1], 0.3715676, TOL);
    CHECK_NEAR(scores[2], 0.4549395, TOL);
}

/* GeGLU: gelu(g) * u with the tanh GELU of gelu_known_points; the soft-cap 30 * tanh(x/30)
 * at known points (tanh(1) = 0.7615942, tanh(2) = 0.9640276). */
static void geglu_and_softcap_known_points(void) {
    const float g[2] = {1, -1}, u[2] = {2, 3};
    float y[2];
    op_geglu(y, g, u, 2);
    CHECK_NEAR(y[0], 2 * 0.8411920, TOL);
    CHECK_NEAR(y[1], 3 * -0.1588080, TOL);
    float x[3] = {0, 30, -60};
    op_softcap(x, 3, 30);
    CHECK_NEAR(x[0], 0, TOL);
    CHECK_NEAR(x[1], 30 * 0.7615942, 1e-4);
    CHECK_NEAR(x[2], -30 * 0.9640276, 1e-4);
}

/* LongRoPE's magnitude (attn_factor) multiplies cos and sin: with sqrt(2), a unit vector
 * at position 1 of a one-pair rope comes out with length sqrt(2). */
static void rope_magnitude(void) {
    float v[2] = {1, 0};
    rope_desc r = {.kind = ROPE_NORM, .dim = 2, .base = 10000.0f, .freq_scale = 1, .attn_factor = 1.41421356f};
    op_rope(v, 1, 2, &r, NULL, 1);
    CHECK_NEAR(v[0], 1.41421356 * 0.5403023, TOL);
    CHECK_NEAR(v[1], 1.41421356 * 0.8414710, TOL);
}

/* ---- gpt-oss and the mixtures of experts ---- */

/* A sink logit of 1 beside scores 0, 1, 2 joins the denominator only: e^0, e^1, e^2 over
 * e^0 + e^1 + e^2 + e^1 = 0.0723295, 0.1966119, 0.5344466 (computed apart), which sum to
 * 0.8033881; the sink's share is the rest. The output weighs the values by those. */
static void attention_with_sink(void) {
    const float q[2] = {1, 0};
    const float k[3 * 2] = {0, 0, 1, 0, 2, 0};
    const float v[3 * 2] = {1, 0, 0, 1, 1, 1};
    float scores[3], out[2];
    op_attention_head(q, k, v, &(attn_span){0, 3, 2, 2, 1.0f, 0, true, 1.0f}, scores, out);
    CHECK_NEAR(scores[0], 0.0723295, TOL);
    CHECK_NEAR(scores[1], 0.1966119, TOL);
    CHECK_NEAR(scores[2], 0.5344466, TOL);
    CHECK_NEAR(scores[0] + scores[1] + scores[2], 0.8033881, TOL);
    CHECK_NEAR(out[0], 0.0723295 + 0.5344466, TOL);
    CHECK_NEAR(out[1], 0.1966119 + 0.5344466, TOL);
    /* a sink far below the scores changes nothing; far above, it takes the whole row */
    op_attention_head(q, k, v, &(attn_span){0, 3, 2, 2, 1.0f, 0, true, -100.0f}, scores, out);
    CHECK_NEAR(scores[2], 0.6652410, TOL);
    op_attention_head(q, k, v, &(attn_span){0, 3, 2, 2, 1.0f, 0, true, 100.0f}, scores, out);
    CHECK(scores[0] + scores[1] + scores[2] < 1e-30);
}

/* gpt-oss's clamped SwiGLU, g * sigmoid(1.702 g) * (u + 1) with g <= 7 and |u| <= 7:
 * (1, 2) -> 3 sigmoid(1.702) = 2.5373873; (8, -9) clamps to (7, -7) -> -42 sigmoid(11.914)
 * = -41.9997188; (-2, 0.5) -> -3 sigmoid(-3.404) = -0.0965121 (computed apart). */
static void swiglu_oai_known_points(void) {
    const float g[3] = {1, 8, -2}, u[3] = {2, -9, 0.5f};
    float y[3];
    op_swiglu_oai(y, g, u, 3);
    CHECK_NEAR(y[0], 2.5373873, TOL);
    CHECK_NEAR(y[1], -41.9997188, 1e-5);
    CHECK_NEAR(y[2], -0.0965121, TOL);
}

/* Router logits 1, 3, 2, 0.5 have the softmax 0.0853689, 0.6307955, 0.2320567, 0.0517789.
 * Top 2: experts 1 and 2. Qwen's routing weighs them by those probabilities (renormalised:
 * e^3 / (e^3 + e^2) = 0.7310586 and 0.2689414); gpt-oss's by a softmax of their two
 * logits, which is the same pair. Equal logits: the lower id first. */
static void moe_routing_known_values(void) {
    const float logits[4] = {1, 3, 2, 0.5f};
    int32_t ids[2];
    float w[2], probs[4];
    op_moe_route(logits, 4, 2, ROUTE_SOFTMAX, false, ids, w, probs);
    CHECK(ids[0] == 1 && ids[1] == 2);
    CHECK_NEAR(w[0], 0.6307955, TOL);
    CHECK_NEAR(w[1], 0.2320567, TOL);
    CHECK_NEAR(probs[0], 0.0853689, TOL);
    CHECK_NEAR(probs[3], 0.0517789, TOL);
    op_moe_route(logits, 4, 2, ROUTE_SOFTMAX, true, ids, w, NULL);
    CHECK_NEAR(w[0], 0.7310586, TOL);
    CHECK_NEAR(w[1], 0.2689414, TOL);
    op_moe_route(logits, 4, 2, ROUTE_TOPK_SOFTMAX, false, ids, w, probs);
    CHECK(ids[0] == 1 && ids[1] == 2);
    CHECK_NEAR(w[0], 0.7310586, TOL);
    CHECK_NEAR(w[1], 0.2689414, TOL);
    CHECK_NEAR(probs[1], 0.6307955, TOL);
    const float ties[3] = {2, 2, 1};
    int32_t r[3];
    op_top_k(ties, 3, 3, r);
    CHECK(r[0] == 0 && r[1] == 1 && r[2] == 2);
}

/* YaRN as gpt-oss configures it (64 dims, base 150000, factor 32, trained at 4096,
 * beta_fast 32, beta_slow 1): the correction range is pairs 8 (floor of 8.09) to 18 (ceil
 * of 17.40); pairs below turn unscaled, pairs above turn 32 times slower, pairs between
 * blend linearly (pair 12: 60% unscaled), and cos and sin grow by 1 + 0.1 ln 32. Expected
 * values worked out apart, in double precision:
 *   pair 0, position 5:     ( 0.3819720, -1.2912621)
 *   pair 12, position 100:  ( 1.0285519,  0.8691039)
 *   pair 31, position 1000: ( 1.3465735,  0.0004071) */
static void rope_yarn_regimes(void) {
    const rope_desc r = {.kind = ROPE_NEOX, .dim = 64, .base = 150000.0f, .freq_scale = 1.0f / 32, .orig_ctx = 4096,
                         .attn_factor = 1, .ext_factor = 1, .beta_fast = 32, .beta_slow = 1};
    static const struct { int pair, pos; double c, s; } cases[] = {
        {0, 5, 0.3819720, -1.2912621}, {12, 100, 1.0285519, 0.8691039}, {31, 1000, 1.3465735, 0.0004071}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        float c, sn;
        rope_cos_sin(&r, NULL, cases[i].pos, cases[i].pair, &c, &sn);
        CHECK_NEAR(c, cases[i].c, 2e-6);
        CHECK_NEAR(sn, cases[i].s, 2e-6);
    }
}

/* ---- Gated DeltaNet ---- */

static void deltanet_small_ops(void) {
    float v[2] = {3, 4}, out[3];
    op_l2norm(out, v, 2, 1e-6f);
    CHECK_NEAR(out[0], 0.6, TOL);
    CHECK_NEAR(out[1], 0.8, TOL);
    float tiny[1] = {1e-7f}; /* below eps: divided by eps, not by its own length */
    op_l2norm(out, tiny, 1, 1e-6f);
    CHECK_NEAR(out[0], 0.1, TOL);

    float x[2] = {2, 2}, gate[2] = {0, logf(3)};
    op_sigmoid_mul(x, gate, 2);
    CHECK_NEAR(x[0], 1, TOL);
    CHECK_NEAR(x[1], 1.5, TOL);

    /* rms of (1, -1) is 1; silu(1) = 0.7310586, silu(-1) = -0.2689414 */
    const float xn[2] = {1, -1}, g[2] = {2, 1}, z[2] = {1, -1};
    op_gated_rmsnorm(out, xn, g, z, 2, 0);
    CHECK_NEAR(out[0], 1.4621172, 1e-6);
    CHECK_NEAR(out[1], 0.2689414, 1e-6);

    /* channel 0: 0.5*1 + 1*0 - 1*1 = -0.5, silu = -0.5 * sigmoid(-0.5) = -0.1887703;
     * channel 1: 1*0 + 0.25*2 + 0.5*1 = 1, silu = 0.7310586 */
    const float r0[2] = {1, 0}, r1[2] = {0, 2}, r2[2] = {1, 1}, taps[6] = {0.5f, 1, -1, 1, 0.25f, 0.5f};
    const float *rows[3] = {r0, r1, r2};
    op_conv_silu(out, rows, taps, 2, 3);
    CHECK_NEAR(out[0], -0.1887703, 1e-6);
    CHECK_NEAR(out[1], 0.7310586, 1e-6);

    /* head 0: softplus(ln(e - 1)) = 1, times -0.5; head 1: softplus(30) = 30 (ggml's
     * threshold), times -0.1 */
    const float b[2] = {0, -1}, a[2] = {0, 29}, dt[2] = {logf(expf(1) - 1), 1}, rate[2] = {-0.5f, -0.1f};
    float beta[2], lg[2];
    op_deltanet_gates(b, a, dt, rate, 2, beta, lg);
    CHECK_NEAR(beta[0], 0.5, TOL);
    CHECK_NEAR(beta[1], 0.2689414, 1e-6);
    CHECK_NEAR(lg[0], -0.5, 1e-6);
    CHECK_NEAR(lg[1], -3, 1e-5);
}

/* Two tokens by hand, d_k = d_v = 2, both decays 0.5 (g = ln 0.5):
 *   token 1: S = 0.5 * 0 + 0.5 (2, 3)^T (1, 0) = [[1, 0], [1.5, 0]]; S (1, 1) = (1, 1.5)
 *   token 2: 0.5 S = [[0.5, 0], [0.75, 0]], (0.5 S) k = (0.3, 0.45), delta = 1 * ((1, -1) -
 *            (0.3, 0.45)) = (0.7, -1.45), S = [[0.92, 0.56], [-0.12, -1.16]];
 *            S (0, 2) = (1.12, -2.32)
 * and the weights of token 2's read-out: w_2 = 1 * k2.q = 1.6; x = 0.5 (q - 1.6 k2) =
 * (-0.48, 0.36); w_1 = 0.5 * k1.x = -0.24, so 1.6 (1, -1) - 0.24 (2, 3) = (1.12, -2.32). */
static void deltanet_two_tokens_by_hand(void) {
    float S[4] = {0}, out[2];
    const float q1[2] = {1, 1}, k1[2] = {1, 0}, v1[2] = {2, 3}, q2[2] = {0, 2}, k2[2] = {0.6f, 0.8f}, v2[2] = {1, -1};
    const float g = logf(0.5f);
    op_deltanet_step(S, q1, k1, v1, 0.5f, g, 2, 2, out);
    CHECK_NEAR(out[0], 1, TOL);
    CHECK_NEAR(out[1], 1.5, TOL);
    op_deltanet_step(S, q2, k2, v2, 1.0f, g, 2, 2, out);
    CHECK_NEAR(S[0], 0.92, 1e-6);
    CHECK_NEAR(S[1], 0.56, 1e-6);
    CHECK_NEAR(S[2], -0.12, 1e-6);
    CHECK_NEAR(S[3], -1.16, 1e-6);
    CHECK_NEAR(out[0], 1.12, 1e-6);
    CHECK_NEAR(out[1], -2.32, 1e-6);

    const float keys[4] = {1, 0, 0.6f, 0.8f}, betas[2] = {0.5f, 1}, decays[2] = {0.5f, 0.5f};
    float w[2], x[2];
    op_deltanet_weights(q2, keys, 2, betas, decays, 1, 1, 2, w, x);
    CHECK_NEAR(w[1], 1.6, 1e-6);
    CHECK_NEAR(w[0], -0.24, 1e-6);
}

/* Random but fixed inputs for the chunked form: unit keys, scaled queries, betas in
 * (0, 1), decays in (0.1, 1). */
enum { DN_T = 150, DN_DK = 8, DN_DV = 6 };
typedef struct dn_inputs {
    float q[DN_T][DN_DK], k[DN_T][DN_DK], v[DN_T][DN_DV], beta[DN_T], g[DN_T];
} dn_inputs;

static float lcg(uint32_t *s) {
    *s = *s * 1664525u + 1013904223u;
    return (float)(*s >> 8) / (float)(1u << 24);
}

static void dn_fill(dn_inputs *in) {
    uint32_t seed = 12345;
    for (int t = 0; t < DN_T; t++) {
        for (int c = 0; c < DN_DK; c++) in->q[t][c] = lcg(&seed) - 0.5f, in->k[t][c] = lcg(&seed) - 0.5f;
        for (int c = 0; c < DN_DV; c++) in->v[t][c] = 4 * lcg(&seed) - 2;
        op_l2norm(in->k[t], in->k[t], DN_DK, 1e-6f);
        op_l2norm(in->q[t], in->q[t], DN_DK, 1e-6f);
        for (int c = 0; c < DN_DK; c++) in->q[t][c] /= sqrtf(DN_DK);
        in->beta[t] = 0.05f + 0.9f * lcg(&seed);
        in->g[t] = logf(0.1f + 0.9f * lcg(&seed));
    }
}

typedef struct dn_chunk_state {
    float S[DN_DV * DN_DK], k[DN_CHUNK][DN_DK], u[DN_CHUNK][DN_DV], lc[DN_CHUNK];
} dn_chunk_state;

/* The chunked form over the inputs in batches of the sizes in SPLITS (0-terminated). */
static void dn_run_chunked(const dn_inputs *in, const int *splits, dn_chunk_state *cs, float out[DN_T][DN_DV]) {
    memset(cs, 0, sizeof *cs);
    dn_head_state st = {cs->S, cs->k[0], cs->u[0], cs->lc, DN_DK, DN_DV, 1, DN_DK, DN_DV};
    float scratch[3 * DN_CHUNK];
    int pos = 0;
    for (int i = 0; splits[i] && pos < DN_T; i++) {
        int n = splits[i] < DN_T - pos ? splits[i] : DN_T - pos;
        op_deltanet_chunked(&st, pos, n, in->q[pos], in->k[pos], DN_DK, in->v[pos], DN_DV, in->beta + pos, in->g + pos,
                            1, out[pos], DN_DV, scratch);
        pos += n;
    }
}

/* The chunked form gives the recurrence's outputs and, at a chunk boundary, its state;
 * and the same bits however the tokens are batched. */
static void deltanet_chunked_is_the_recurrence(void) {
    static dn_inputs in;
    dn_fill(&in);
    static float want[DN_T][DN_DV], got[DN_T][DN_DV], other[DN_T][DN_DV];
    float S[DN_DV * DN_DK] = {0}, S_at_128[DN_DV * DN_DK];
    for (int t = 0; t < DN_T; t++) {
        op_deltanet_step(S, in.q[t], in.k[t], in.v[t], in.beta[t], in.g[t], DN_DK, DN_DV, want[t]);
        if (t == 2 * DN_CHUNK - 1) memcpy(S_at_128, S, sizeof S);
    }
    static dn_chunk_state cs, cs2;
    const int whole[] = {DN_T, 0};
    dn_run_chunked(&in, whole, &cs, got);
    double worst = 0;
    for (int t = 0; t < DN_T; t++)
        for (int c = 0; c < DN_DV; c++) worst = fmax(worst, fabs(got[t][c] - want[t][c]));
    CHECKF(worst < 1e-5, "chunked outputs differ from the recurrence by %g", worst);
    /* the state folded at 128 is S after token 127; after 150 it holds 22 tokens' records */
    const int to_128[] = {2 * DN_CHUNK, 0};
    dn_run_chunked(&in, to_128, &cs2, other);
    worst = 0;
    for (int i = 0; i < DN_DV * DN_DK; i++) worst = fmax(worst, fabs(cs2.S[i] - S_at_128[i]));
    CHECKF(worst < 1e-5, "the state at a chunk boundary differs from the recurrence's by %g", worst);

    int ones[DN_T + 1];
    for (int t = 0; t < DN_T; t++) ones[t] = 1;
    ones[DN_T] = 0;
    const int *batchings[] = {ones, (const int[]){37, 100, 13, 0}, (const int[]){63, 2, 85, 0}};
    for (size_t b = 0; b < sizeof batchings / sizeof batchings[0]; b++) {
        dn_run_chunked(&in, batchings[b], &cs2, other);
        CHECKF(memcmp(other, got, sizeof got) == 0 && memcmp(&cs2, &cs, sizeof cs) == 0,
               "batching %zu changes the bits of the chunked form", b);
    }
}

/* The sweep stops once its vector is below 2^-63 (ops.h): with strong decays (0.5 a
 * token) a row of 300 keys ends in exact zeros, and every weight differs from the
 * sweep run to the end by less than 2^-63 sqrt(d_k). */
static void deltanet_weights_floor(void) {
    enum { T = 300, DK = 64 };
    static float k[T][DK], beta[T], decay[T], got[T], x[DK];
    double full[T], xd[DK];
    uint32_t r = 11;
    for (int t = 0; t < T; t++) {
        for (int c = 0; c < DK; c++) r = r * 1664525u + 1013904223u, k[t][c] = (float)(r >> 8) / (1 << 24) - 0.5f;
        op_l2norm(k[t], k[t], DK, 1e-6f);
        beta[t] = 0.7f;
        decay[t] = 0.5f;
    }
    op_deltanet_weights(k[T - 1], k[0], DK, beta, decay, 1, T - 1, DK, got, x);
    for (int c = 0; c < DK; c++) xd[c] = k[T - 1][c];
    for (int s = T - 1; s >= 0; s--) { /* the same sweep in doubles, to the end */
        double d = 0;
        for (int c = 0; c < DK; c++) d += (double)k[s][c] * xd[c];
        full[s] = beta[s] * d;
        for (int c = 0; c < DK; c++) xd[c] = decay[s] * (xd[c] - full[s] * k[s][c]);
    }
    int zeros = 0;
    double worst_tail = 0;
    for (int s = 0; s < T; s++) {
        zeros += got[s] == 0;
        if (got[s] == 0) worst_tail = fmax(worst_tail, fabs(full[s]));
        else CHECK_NEAR(got[s], full[s], 1e-5 + 1e-4 * fabs(full[s]));
    }
    CHECKF(zeros > 100, "only %d weights cut at the floor", zeros);
    CHECKF(worst_tail < ldexp(1.0, -63) * sqrt(DK), "a cut weight was %g", worst_tail);
}

/* The effective weights reconstruct every read-out of the recurrence: sum_s w_ts v_s. */
static void deltanet_weights_reconstruct(void) {
    static dn_inputs in;
    dn_fill(&in);
    float S[DN_DV * DN_DK] = {0}, want[DN_DV], w[DN_T], x[DN_DK], decay[DN_T];
    for (int t = 0; t < DN_T; t++) decay[t] = expf(in.g[t]);
    double worst = 0;
    for (int t = 0; t < DN_T; t++) {
        op_deltanet_step(S, in.q[t], in.k[t], in.v[t], in.beta[t], in.g[t], DN_DK, DN_DV, want);
        op_deltanet_weights(in.q[t], in.k[0], DN_DK, in.beta, decay, 1, t, DN_DK, w, x);
        for (int c = 0; c < DN_DV; c++) {
            double sum = 0;
            for (int s = 0; s <= t; s++) sum += (double)w[s] * in.v[s][c];
            worst = fmax(worst, fabs(sum - want[c]));
        }
    }
    CHECKF(worst < 1e-5, "sum of w v differs from the read-out by %g", worst);
}

/* YaRN (rope_cos_sin): dim 8, base 10000, factor 4 (freq_scale 0.25), original context 16,
 * beta 32 / 1: the correction dims are pairs 0 .. 1, so pair 0 keeps its extrapolated angle
 * (position 5 radians) and pairs 1.. the interpolated one (a quarter), all with magnitude
 * 1 + 0.1 ln 4 = 1.1386294. Expected values computed apart from the YaRN formula. */
static void rope_yarn(void) {
    const rope_desc r = {.kind = ROPE_NEOX, .dim = 8, .base = 10000.0f, .freq_scale = 0.25f, .orig_ctx = 16,
                         .attn_factor = 1, .ext_factor = 1, .beta_fast = 32, .beta_slow = 1};
    const double want[4][2] = {{0.3229861, -1.0918594}, {1.1297455, 0.1419583}, {1.1385405, 0.0142325},
                               {1.1386285, 0.0014233}};
    for (int i = 0; i < 4; i++) {
        float c, s;
        rope_cos_sin(&r, NULL, 5, i, &c, &s);
        CHECK_NEAR(c, want[i][0], TOL);
        CHECK_NEAR(s, want[i][1], TOL);
    }
}

int main(void) {
    RUN(matvec_f32);
    RUN(matmul_equals_matvecs);
    RUN(matvec_q8_0);
    RUN(matvec_long_f16_row);
    RUN(rmsnorm_known_vector);
    RUN(layernorm_known_vector);
    RUN(softmax_known_values);
    RUN(rope_norm_vs_neox);
    RUN(rope_partial_scaled_factors);
    RUN(rope_norm_is_permuted_neox);
    RUN(gelu_known_points);
    RUN(swiglu_known_points);
    RUN(attention_three_keys);
    RUN(attention_window_and_softcap);
    RUN(geglu_and_softcap_known_points);
    RUN(rope_magnitude);
    RUN(attention_with_sink);
    RUN(swiglu_oai_known_points);
    RUN(moe_routing_known_values);
    RUN(rope_yarn_regimes);
    RUN(deltanet_small_ops);
    RUN(deltanet_two_tokens_by_hand);
    RUN(deltanet_chunked_is_the_recurrence);
    RUN(deltanet_weights_reconstruct);
    RUN(deltanet_weights_floor);
    RUN(rope_yarn);
    return test_exit_code();
}
