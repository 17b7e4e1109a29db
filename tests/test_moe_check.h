/* test_moe_check.h — what the mixture-of-experts tests of both engines share: a synthetic
 * Qwen3-MoE file (`llmscope synth`), and the check that an engine's captured routing is a
 * plain recomputation from the layer's input.
 *
 * The recomputation: a layer's MoE input is the residual stream after its attention,
 * which is the layer's output minus what its experts added (engine_batch.hidden holds the
 * outputs, engine_batch.moe_out what the experts added and, last, the stream before the
 * final norm). Normalised with the layer's ffn_norm, multiplied by the router (plus its
 * bias), routed by op_moe_route: the chosen ids, their weights and the ranking must be
 * the captured ones. The subtraction rounds (about an ulp of the stream), so weights and
 * probabilities are compared within 1e-4, and the ids exactly except where two logits are
 * within 1e-4 of each other (a near tie either order may break). */
#ifndef LLMSCOPE_TEST_MOE_CHECK_H
#define LLMSCOPE_TEST_MOE_CHECK_H

#include "engine.h"
#include "head.h"
#include "moe.h"
#include "ops.h"
#include "synth.h"
#include "test.h"

#include <unistd.h>

#define MAX_MOE_TEST_K 64

/* Writes a synthetic qwen3moe-tiny file of TYPE into PATH (a mkstemp template). */
static inline bool moe_synth_file(char *path, const char *type) {
    int fd = mkstemp(path);
    if (fd < 0) {
        CHECKF(0, "mkstemp failed");
        return false;
    }
    close(fd);
    char err[512];
    if (synth_write("qwen3moe-tiny", type, path, 11, NULL, NULL, err, sizeof err)) {
        CHECKF(0, "synth_write: %s", err);
        unlink(path);
        return false;
    }
    return true;
}

/* The captures of one output row for the checks below. */
typedef struct moe_capture {
    const float *hidden;      /* [n_layer + 1][n_embd] */
    const float *moe_out;     /* [n_layer + 1][n_embd] */
    const int32_t *ranked;    /* [n_layer][R] for this row (stride R * n_out between layers) */
    const float *probs, *weights;
    int layer_stride_r, layer_stride_k; /* R * n_out, K * n_out */
} moe_capture;

/* Checks layer L's captured routing in C against a recomputation; WHAT names the case.
 * Returns the number of ids that differ where no near tie excuses them. */
static inline int moe_check_layer(const model *m, const moe_capture *c, int l, const char *what) {
    const model_hparams *hp = &m->hp;
    const moe_hparams *moe = &hp->moe;
    const int d = hp->n_embd, E = moe->n_expert, K = moe->n_used, R = moe_rank_n(moe);
    const layer_weights *lw = &m->layers[l];
    float *x = malloc((size_t)d * sizeof *x), *logits = malloc((size_t)E * sizeof *logits);
    float *probs = malloc((size_t)E * sizeof *probs), w[MAX_MOE_TEST_K];
    int32_t ids[MAX_MOE_TEST_K], ranked[MAX_MOE_TEST_K + MOE_RUNNERS_UP];
    int bad = 0;
    const float *out = l + 1 < hp->n_layer ? c->hidden + (size_t)(l + 1) * d : c->moe_out + (size_t)hp->n_layer * d;
    for (int i = 0; i < d; i++) x[i] = out[i] - c->moe_out[(size_t)l * d + i];
    model_norm(hp, x, x, lw->ffn_norm, lw->ffn_norm_b, d);
    op_matvec(&lw->router, x, logits);
    if (lw->router_b) op_add(logits, logits, lw->router_b, E);
    op_moe_route(logits, E, K, moe->routing, moe->norm, ids, w, probs);
    op_top_k(logits, E, R, ranked);
    const int32_t *got = c->ranked + (size_t)l * c->layer_stride_r;
    const float *got_p = c->probs + (size_t)l * c->layer_stride_r, *got_w = c->weights + (size_t)l * c->layer_stride_k;
    for (int j = 0; j < R; j++) {
        if (got[j] != ranked[j]) {
            /* a near tie between the two: either order is right */
            bool tie = got[j] >= 0 && got[j] < E && fabsf(logits[got[j]] - logits[ranked[j]]) < 1e-4f;
            if (!tie) {
                CHECKF(0, "%s layer %d: rank %d is expert %d, recomputed %d (logits %g, %g)", what, l, j, got[j],
                       ranked[j], got[j] >= 0 && got[j] < E ? logits[got[j]] : NAN, logits[ranked[j]]);
                bad++;
            }
            continue;
        }
        CHECKF(fabsf(got_p[j] - probs[ranked[j]]) <= 1e-4f, "%s layer %d: probability of expert %d %g, recomputed %g",
               what, l, got[j], got_p[j], probs[ranked[j]]);
        if (j < K)
            CHECKF(fabsf(got_w[j] - w[j]) <= 1e-4f, "%s layer %d: weight of expert %d %g, recomputed %g", what, l, got[j],
                   got_w[j], w[j]);
    }
    free(x), free(logits), free(probs);
    return bad;
}

/* Decodes TOKENS (N of them) on E one at a time from position 0 with the captures on, and
 * checks every layer's routing at every step against the recomputation; the weights of
 * renormalised routings must sum to 1. RANKED (may be NULL) gets each step's ranking
 * [n_layer][R], step t at t * n_layer * R. Returns the differences no near tie excuses. */
static inline int moe_check_decoding(const model *m, engine *e, const int32_t *tokens, int n, const char *what,
                                     int32_t *ranked) {
    const model_hparams *hp = &m->hp;
    const int L = hp->n_layer, d = hp->n_embd, K = hp->moe.n_used, R = moe_rank_n(&hp->moe);
    float *hidden = malloc((size_t)(L + 1) * d * sizeof *hidden), *moe_out = malloc((size_t)(L + 1) * d * sizeof *moe_out);
    float *probs = malloc((size_t)L * R * sizeof *probs), *weights = malloc((size_t)L * K * sizeof *weights);
    int32_t *step = malloc((size_t)L * R * sizeof *step);
    char err[512], label[96];
    int bad = 0;
    for (int t = 0; hidden && moe_out && probs && weights && step && t < n; t++) {
        engine_batch b = {.tokens = tokens + t, .n_tokens = 1, .pos = t, .hidden = hidden, .moe_out = moe_out,
                          .route_ids = step, .route_probs = probs, .route_weights = weights};
        if (engine_eval(e, &b, err, sizeof err)) {
            CHECKF(0, "%s: %s", what, err);
            break;
        }
        const moe_capture c = {hidden, moe_out, step, probs, weights, R, K};
        snprintf(label, sizeof label, "%s (%s) position %d", what, e->backend, t);
        for (int l = 0; l < L; l++) bad += moe_check_layer(m, &c, l, label);
        float sum = 0;
        for (int j = 0; j < K; j++) sum += weights[j];
        if (hp->moe.norm || hp->moe.routing == ROUTE_TOPK_SOFTMAX)
            CHECKF(fabsf(sum - 1) < 1e-5f, "%s: layer 0's weights sum to %g", label, sum);
        if (ranked) memcpy(ranked + (size_t)t * L * R, step, (size_t)L * R * sizeof *step);
    }
    free(hidden), free(moe_out), free(probs), free(weights), free(step);
    return bad;
}

#endif
