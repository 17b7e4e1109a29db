/* deltanet_check.h — what the DeltaNet tests of both engines share: the tiny hybrid model,
 * and the check that a DeltaNet head's captured effective weights reconstruct its
 * read-out.
 *
 * The check is independent of the engine's DeltaNet code: it takes only the residual
 * stream the engine hands out (engine_batch.hidden, evaluated token by token) and builds
 * each DeltaNet layer's q, k, v, beta and decay from it with ops.c's operations, runs the
 * plain recurrence (op_deltanet_step, one token at a time), and compares each head's
 * read-out o_t with sum_s w_ts v_s, the w_ts being the engine's attention rows of that
 * layer from an evaluation of the whole prompt with capture. It also checks the engine's
 * betas and decays (engine_batch.gates). */
#ifndef LLMSCOPE_DELTANET_CHECK_H
#define LLMSCOPE_DELTANET_CHECK_H

#include "deltanet.h"
#include "engine.h"
#include "model.h"
#include "ops.h"
#include "test.h"
#include "test_models.h"

#include <stdint.h>

#define DN_MODEL "qwen35-tiny-f16"

/* Loads ../shared/models/qwen35-tiny-f16.gguf into M, or marks the test skipped. */
static inline bool dn_open_model(model *m) {
    char path[512], err[512];
    if (!test_shared_path(path, sizeof path, "models/" DN_MODEL ".gguf")) {
        snprintf(test_skip_reason_, sizeof test_skip_reason_, "../shared/models/%s.gguf not found", DN_MODEL);
        test_skipped_ = 1;
        return false;
    }
    if (model_load(m, path, err, sizeof err)) {
        CHECKF(0, "model_load: %s", err);
        return false;
    }
    return true;
}

/* A prompt of T token ids spread over the vocabulary, with a repeated span. */
static inline void dn_prompt(const model *m, int32_t *tokens, int T) {
    for (int t = 0; t < T; t++) tokens[t] = (int32_t)((7919u * (unsigned)t + 11u) % (unsigned)m->hp.n_vocab);
    for (int t = T / 2; t < T && t - T / 2 < 12; t++) tokens[t] = tokens[t - T / 2 + 3];
}

/* Layer L's q (scaled), k, v, beta and g of every position from the residual stream at
 * its input, HIDDEN [T][n_layer + 1][n_embd], as deltanet.h describes the layer. */
typedef struct dn_ref {
    dn_shape s;
    float *q, *k, *v, *beta, *g; /* [T][key_dim], [T][key_dim], [T][value_dim], [T][n_v] x 2 */
} dn_ref;

static inline void dn_ref_free(dn_ref *r) {
    free(r->q), free(r->k), free(r->v), free(r->beta), free(r->g);
}

static inline bool dn_ref_build(const model *m, int l, const float *hidden, int T, dn_ref *r) {
    const model_hparams *hp = &m->hp;
    const layer_weights *lw = &m->layers[l];
    const int d = hp->n_embd;
    r->s = dn_shape_of(&m->desc[l]);
    const dn_shape *s = &r->s;
    float *xn = malloc((size_t)d * sizeof *xn), *pre = malloc((size_t)T * s->conv_dim * sizeof *pre);
    float *conv = malloc((size_t)s->conv_dim * sizeof *conv), *zero = calloc((size_t)s->conv_dim, sizeof *zero);
    float *taps = malloc((size_t)s->conv_dim * s->taps * sizeof *taps), pb[64], pa[64];
    r->q = malloc((size_t)T * s->key_dim * sizeof(float));
    r->k = malloc((size_t)T * s->key_dim * sizeof(float));
    r->v = malloc((size_t)T * s->value_dim * sizeof(float));
    r->beta = malloc((size_t)T * s->n_v * sizeof(float));
    r->g = malloc((size_t)T * s->n_v * sizeof(float));
    bool ok = xn && pre && conv && zero && taps && r->q && r->k && r->v && r->beta && r->g && s->n_v <= 64;
    for (int c = 0; ok && c < s->conv_dim; c++) weight_row(&lw->ssm_conv, c, taps + (size_t)c * s->taps);
    for (int t = 0; ok && t < T; t++) {
        op_rmsnorm(xn, hidden + ((size_t)t * (hp->n_layer + 1) + l) * d, lw->attn_norm, d, hp->norm_eps);
        op_matvec(&lw->ssm_qkv, xn, pre + (size_t)t * s->conv_dim);
        op_matvec(&lw->ssm_beta, xn, pb);
        op_matvec(&lw->ssm_alpha, xn, pa);
        op_deltanet_gates(pb, pa, lw->ssm_dt, lw->ssm_a, s->n_v, r->beta + (size_t)t * s->n_v, r->g + (size_t)t * s->n_v);
        const float *rows[16];
        for (int j = 0; j < s->taps; j++) {
            int p = t - (s->taps - 1) + j;
            rows[j] = p >= 0 ? pre + (size_t)p * s->conv_dim : zero;
        }
        op_conv_silu(conv, rows, taps, s->conv_dim, s->taps);
        for (int h = 0; h < s->n_k; h++) {
            float *q = r->q + (size_t)t * s->key_dim + (size_t)h * s->d_k, *k = r->k + (size_t)t * s->key_dim + (size_t)h * s->d_k;
            op_l2norm(q, conv + (size_t)h * s->d_k, s->d_k, hp->norm_eps);
            op_l2norm(k, conv + s->key_dim + (size_t)h * s->d_k, s->d_k, hp->norm_eps);
            for (int c = 0; c < s->d_k; c++) q[c] /= sqrtf((float)s->d_k);
        }
        memcpy(r->v + (size_t)t * s->value_dim, conv + 2 * s->key_dim, (size_t)s->value_dim * sizeof(float));
    }
    free(xn), free(pre), free(conv), free(zero), free(taps);
    return ok;
}

/* Runs TOKENS through E twice (the whole prompt with capture; token by token for the
 * residual stream) and checks every DeltaNet layer, head and position. Returns the worst
 * reconstruction error relative to the largest read-out of its layer. CUT_ROWS gets the
 * number of rows whose sweep stopped at the floor (ops.h, dn_below_floor): those that
 * start with exact zeros. The sums cover them too, so a stop that left a stale or wrong
 * weight behind fails the check. */
static inline double dn_check_reconstruction(engine *e, const int32_t *tokens, int T, double gate_tol, int *cut_rows) {
    const model *m = e->model;
    const model_hparams *hp = &m->hp;
    const size_t L = (size_t)hp->n_layer, H = (size_t)hp->n_head, D = (size_t)hp->n_embd;
    float *att = malloc(L * H * (size_t)T * T * sizeof *att), *gates = malloc((size_t)T * L * H * 2 * sizeof *gates);
    float *hidden = malloc((size_t)T * (L + 1) * D * sizeof *hidden);
    char err[512];
    double worst = 0;
    *cut_rows = 0;
    if (!att || !gates || !hidden) {
        CHECKF(0, "out of memory");
        goto done;
    }
    engine_batch b = {.tokens = tokens, .n_tokens = T, .pos = 0, .all_positions = true, .attention = att, .gates = gates};
    if (engine_eval(e, &b, err, sizeof err)) {
        CHECKF(0, "eval: %s", err);
        goto done;
    }
    for (int t = 0; t < T; t++) {
        engine_batch s = {.tokens = tokens + t, .n_tokens = 1, .pos = t, .hidden = hidden + (size_t)t * (L + 1) * D};
        if (engine_eval(e, &s, err, sizeof err)) {
            CHECKF(0, "eval at %d: %s", t, err);
            goto done;
        }
    }
    for (int l = 0; l < hp->n_layer; l++) {
        if (m->desc[l].mixer != MIXER_DELTANET) continue;
        dn_ref r;
        if (!dn_ref_build(m, l, hidden, T, &r)) {
            CHECKF(0, "out of memory");
            dn_ref_free(&r);
            break;
        }
        const dn_shape *s = &r.s;
        float *S = calloc((size_t)s->d_v * s->d_k, sizeof *S), *o = malloc((size_t)T * s->d_v * sizeof *o);
        double gate_err = 0;
        for (int h = 0; S && o && h < s->n_v; h++) {
            const int kh = h % s->n_k;
            memset(S, 0, (size_t)s->d_v * s->d_k * sizeof *S);
            double scale = 0, err_max = 0;
            for (int t = 0; t < T; t++) {
                const size_t at = (size_t)t * s->n_v + h;
                op_deltanet_step(S, r.q + (size_t)t * s->key_dim + (size_t)kh * s->d_k,
                                 r.k + (size_t)t * s->key_dim + (size_t)kh * s->d_k,
                                 r.v + (size_t)t * s->value_dim + (size_t)h * s->d_v, r.beta[at], r.g[at], s->d_k, s->d_v,
                                 o + (size_t)t * s->d_v);
                const float *w = att + (((size_t)l * H + h) * T + t) * T;
                for (int c = 0; c < s->d_v; c++) {
                    double sum = 0;
                    for (int j = 0; j <= t; j++) sum += (double)w[j] * r.v[(size_t)j * s->value_dim + (size_t)h * s->d_v + c];
                    scale = fmax(scale, fabs(o[(size_t)t * s->d_v + c]));
                    err_max = fmax(err_max, fabs(sum - o[(size_t)t * s->d_v + c]));
                }
                for (int j = t + 1; j < T; j++) CHECKF(w[j] == 0, "layer %d head %d: weight past the query", l, h);
                *cut_rows += t > 0 && w[0] == 0;
                const float *gt = gates + (((size_t)t * L + l) * H + h) * 2;
                gate_err = fmax(gate_err, fabs(gt[0] - r.beta[at]));
                gate_err = fmax(gate_err, fabs(gt[1] - expf(r.g[at])));
            }
            if (scale > 0) worst = fmax(worst, err_max / scale);
        }
        CHECKF(gate_err <= gate_tol, "layer %d: betas and decays differ from the layer's by %g", l, gate_err);
        free(S), free(o);
        dn_ref_free(&r);
    }
done:
    free(att), free(gates), free(hidden);
    return worst;
}

#endif
