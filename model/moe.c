/* moe.c — a mixture-of-experts feed-forward layer on the CPU (see moe.h). */
#include "moe.h"
#include "ops.h"
#include "quant.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct moe_scratch {
    int max_tokens, n_expert, n_used, n_rank, n_embd, n_ff_exp, n_ff_shared;
    float *logits;     /* [mb][n_expert] router logits */
    float *all_probs;  /* [mb][n_expert] their softmax */
    int32_t *ids;      /* [mb][n_used] the chosen experts */
    float *weights;    /* [mb][n_used] */
    int32_t *ranked;   /* [mb][n_rank] */
    float *probs;      /* [mb][n_rank] */
    int *members;      /* [mb] tokens (t * n_used + slot) routed to the expert at hand */
    float *xg;         /* [mb][n_embd] their inputs, gathered */
    float *gate, *up;  /* [mb][max(n_ff_exp, n_ff_shared)] */
    float *down;       /* [mb][n_embd] */
    float *expert_out; /* [mb][n_used][n_embd] each chosen expert's output, by slot */
    float *shared_out; /* [mb][n_embd] the shared expert's, gated */
};

weight moe_expert(const weight *w, int n_expert, int e) {
    weight v = *w;
    v.rows = w->rows / n_expert;
    v.data = (const uint8_t *)w->data + (uint64_t)e * (uint64_t)v.rows * w->row_bytes;
    return v;
}

moe_scratch *moe_scratch_create(const model *m, int max_tokens) {
    const moe_hparams *moe = &m->hp.moe;
    if (!moe->n_expert) return NULL;
    moe_scratch *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    const size_t mb = (size_t)max_tokens, d = (size_t)m->hp.n_embd;
    *s = (moe_scratch){.max_tokens = max_tokens, .n_expert = moe->n_expert, .n_used = moe->n_used,
                       .n_rank = moe_rank_n(moe), .n_embd = m->hp.n_embd, .n_ff_exp = moe->n_ff_exp,
                       .n_ff_shared = m->hp.n_ff};
    const size_t ff = (size_t)(s->n_ff_exp > s->n_ff_shared ? s->n_ff_exp : s->n_ff_shared);
    s->logits = malloc(mb * (size_t)s->n_expert * sizeof(float));
    s->all_probs = malloc(mb * (size_t)s->n_expert * sizeof(float));
    s->ids = malloc(mb * (size_t)s->n_used * sizeof(int32_t));
    s->weights = malloc(mb * (size_t)s->n_used * sizeof(float));
    s->ranked = malloc(mb * (size_t)s->n_rank * sizeof(int32_t));
    s->probs = malloc(mb * (size_t)s->n_rank * sizeof(float));
    s->members = malloc(mb * sizeof(int));
    s->xg = malloc(mb * d * sizeof(float));
    s->gate = malloc(mb * ff * sizeof(float));
    s->up = malloc(mb * ff * sizeof(float));
    s->down = malloc(mb * d * sizeof(float));
    s->expert_out = malloc(mb * (size_t)s->n_used * d * sizeof(float));
    s->shared_out = malloc(mb * d * sizeof(float));
    if (!s->logits || !s->all_probs || !s->ids || !s->weights || !s->ranked || !s->probs || !s->members || !s->xg ||
        !s->gate || !s->up || !s->down || !s->expert_out || !s->shared_out) {
        moe_scratch_free(s);
        return NULL;
    }
    return s;
}

void moe_scratch_free(moe_scratch *s) {
    if (!s) return;
    void *bufs[] = {s->logits, s->all_probs, s->ids, s->weights, s->ranked, s->probs, s->members,
                    s->xg, s->gate, s->up, s->down, s->expert_out, s->shared_out};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) free(bufs[i]);
    free(s);
}

moe_token_route moe_route_of(const moe_scratch *s, int t) {
    return (moe_token_route){s->ranked + (size_t)t * s->n_rank, s->probs + (size_t)t * s->n_rank,
                             s->weights + (size_t)t * s->n_used};
}

static void add_bias_rows(float *y, const float *bias, int n, int dim) {
    if (!bias) return;
    for (int t = 0; t < n; t++) op_add(y + (size_t)t * dim, y + (size_t)t * dim, bias, dim);
}

/* The model's gated activation of N values: act(gate) * up -> gate. */
static void activate(const model_hparams *hp, float *gate, const float *up, int n) {
    switch (hp->act) {
    case ACT_SWIGLU_OAI: op_swiglu_oai(gate, gate, up, n); break;
    case ACT_GELU_TANH: op_geglu(gate, gate, up, n); break;
    case ACT_SILU: op_swiglu(gate, gate, up, n); break;
    }
}

/* The router's logits, choice and ranking for N tokens. */
static void route(const model *m, const layer_weights *lw, const float *xn, int n, const moe_multiplier *mul,
                  moe_scratch *s) {
    const moe_hparams *moe = &m->hp.moe;
    const moe_product p = {&lw->router, s->logits};
    mul->multiply(mul->ctx, xn, n, &p, 1);
    add_bias_rows(s->logits, lw->router_b, n, s->n_expert);
    for (int t = 0; t < n; t++) {
        const float *logits = s->logits + (size_t)t * s->n_expert;
        float *all = s->all_probs + (size_t)t * s->n_expert;
        int32_t *ranked = s->ranked + (size_t)t * s->n_rank;
        op_moe_route(logits, s->n_expert, s->n_used, moe->routing, moe->norm, s->ids + (size_t)t * s->n_used,
                     s->weights + (size_t)t * s->n_used, all);
        op_top_k(logits, s->n_expert, s->n_rank, ranked);
        for (int j = 0; j < s->n_rank; j++) s->probs[(size_t)t * s->n_rank + j] = all[ranked[j]];
    }
}

/* Expert E of layer LW for the tokens routed to it (s->members, COUNT of them): their
 * outputs into expert_out, at each token's slot. */
static void run_expert(const model *m, const layer_weights *lw, int e, const float *xn, int count,
                       const moe_multiplier *mul, moe_scratch *s) {
    const int d = s->n_embd, ff = s->n_ff_exp;
    for (int i = 0; i < count; i++)
        memcpy(s->xg + (size_t)i * d, xn + (size_t)(s->members[i] / s->n_used) * d, (size_t)d * sizeof(float));
    const weight gate = moe_expert(&lw->gate_exps, s->n_expert, e), up = moe_expert(&lw->up_exps, s->n_expert, e),
                 down = moe_expert(&lw->down_exps, s->n_expert, e);
    const moe_product gate_up[2] = {{&gate, s->gate}, {&up, s->up}};
    mul->multiply(mul->ctx, s->xg, count, gate_up, 2);
    add_bias_rows(s->gate, lw->gate_exps_b ? lw->gate_exps_b + (size_t)e * ff : NULL, count, ff);
    add_bias_rows(s->up, lw->up_exps_b ? lw->up_exps_b + (size_t)e * ff : NULL, count, ff);
    activate(&m->hp, s->gate, s->up, count * ff);
    const moe_product p_down = {&down, s->down};
    mul->multiply(mul->ctx, s->gate, count, &p_down, 1);
    add_bias_rows(s->down, lw->down_exps_b ? lw->down_exps_b + (size_t)e * d : NULL, count, d);
    for (int i = 0; i < count; i++)
        memcpy(s->expert_out + (size_t)s->members[i] * d, s->down + (size_t)i * d, (size_t)d * sizeof(float));
}

/* The shared expert, scaled per token by sigmoid(shexp_gate . x), into shared_out. */
static void run_shared(const model *m, const layer_weights *lw, const float *xn, int n, const moe_multiplier *mul,
                       moe_scratch *s) {
    const int d = s->n_embd, ff = s->n_ff_shared;
    const moe_product gate_up[2] = {{&lw->gate_shexp, s->gate}, {&lw->up_shexp, s->up}};
    mul->multiply(mul->ctx, xn, n, gate_up, 2);
    activate(&m->hp, s->gate, s->up, n * ff);
    const moe_product p_down = {&lw->down_shexp, s->shared_out};
    mul->multiply(mul->ctx, s->gate, n, &p_down, 1);
    const weight g = {"shared expert gate", GGML_TYPE_F32, d, 1, lw->shexp_gate, (uint64_t)d * sizeof(float)};
    for (int t = 0; t < n; t++) {
        float logit;
        op_matvec(&g, xn + (size_t)t * d, &logit);
        const float scale = 1.0f / (1.0f + expf(-logit));
        for (int i = 0; i < d; i++) s->shared_out[(size_t)t * d + i] *= scale;
    }
}

void moe_forward(const model *m, int l, const float *xn, int n, float *out, const moe_multiplier *mul,
                 moe_scratch *s) {
    const layer_weights *lw = &m->layers[l];
    const int d = s->n_embd, k = s->n_used;
    route(m, lw, xn, n, mul, s);
    /* each expert once, for every token that chose it */
    for (int e = 0; e < s->n_expert; e++) {
        int count = 0;
        for (int i = 0; i < n * k; i++)
            if (s->ids[i] == e) s->members[count++] = i;
        if (count) run_expert(m, lw, e, xn, count, mul, s);
    }
    if (lw->shexp_gate) run_shared(m, lw, xn, n, mul, s);
    /* the weighted sum in the router's order (then the shared expert): the same additions
     * whatever the grouping above */
    for (int t = 0; t < n; t++) {
        float *o = out + (size_t)t * d;
        const float *w = s->weights + (size_t)t * k, *y = s->expert_out + (size_t)t * k * d;
        for (int i = 0; i < d; i++) o[i] = w[0] * y[i];
        for (int j = 1; j < k; j++)
            for (int i = 0; i < d; i++) o[i] += w[j] * y[(size_t)j * d + i];
        if (lw->shexp_gate) op_add(o, o, s->shared_out + (size_t)t * d, d);
    }
}
