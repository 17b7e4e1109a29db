/* deltanet.c — Gated DeltaNet layers on the CPU (see deltanet.h for the layer and the
 * layout of its state). The operations are ops.c's; this file holds the state, the
 * per-token keys kept for the effective weights, and the order of the steps. */
#include "deltanet.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

dn_shape dn_shape_of(const layer_desc *d) {
    dn_shape s = {.n_v = d->n_head, .n_k = d->n_head_kv, .d_k = d->head_dim, .d_v = d->head_dim_v,
                  .taps = d->conv_kernel};
    s.key_dim = s.n_k * s.d_k;
    s.value_dim = s.n_v * s.d_v;
    s.conv_dim = 2 * s.key_dim + s.value_dim;
    s.conv_floats = (size_t)(s.taps - 1) * (size_t)s.conv_dim;
    s.S_floats = (size_t)s.n_v * (size_t)s.d_v * (size_t)s.d_k;
    s.record_floats = (size_t)s.n_v * (size_t)(s.d_k + s.d_v + 1);
    return s;
}

size_t dn_state_floats(const dn_shape *s) { return s->conv_floats + s->S_floats + DN_CHUNK * s->record_floats; }

size_t dn_snapshot_floats(const dn_shape *s, int pos) {
    return s->conv_floats + s->S_floats + (size_t)(pos % DN_CHUNK) * s->record_floats;
}

dn_head_state dn_head_of(const dn_shape *s, float *state, int h) {
    float *tail = state + s->conv_floats + s->S_floats;
    const size_t keys = (size_t)s->n_v * s->d_k, values = (size_t)s->n_v * s->d_v;
    return (dn_head_state){.S = state + s->conv_floats + (size_t)h * s->d_v * s->d_k,
                           .k = tail + (size_t)h * s->d_k,
                           .u = tail + keys + (size_t)h * s->d_v,
                           .lc = tail + keys + values + h,
                           .stride_k = s->record_floats, .stride_u = s->record_floats,
                           .stride_lc = s->record_floats, .d_k = s->d_k, .d_v = s->d_v};
}

void deltanet_describe(const layer_desc *d, char *buf, size_t cap) {
    snprintf(buf, cap, "gated DeltaNet: %d value heads of %d over %d key heads of %d, conv %d, ff %d", d->n_head,
             d->head_dim_v, d->n_head_kv, d->head_dim, d->conv_kernel, d->n_ff);
}

/* ---- the CPU mixer ---- */

typedef struct dn_layer {
    int l;
    dn_shape sh;
    float *conv_w;  /* [conv_dim][taps] */
    float *state;   /* deltanet.h's layout */
    float *keys;    /* [n_ctx][key_dim] each token's normalised keys */
    float *beta, *g;/* [n_ctx][n_v] each token's beta and log-decay */
    float *decay;   /* [n_ctx][n_v] e^g, for the effective weights */
} dn_layer;

struct dn_cpu {
    const model *m;
    int n_ctx, max_tokens;
    int *index;              /* [n_layer]: the DeltaNet layer of a model layer, or -1 */
    dn_layer *layers;
    int n;
    /* scratch for one micro-batch, sized for the widest layer */
    float *pre;              /* [MB][conv_dim] projections into the convolution */
    float *conv;             /* [MB][conv_dim] after it: q | k | v */
    float *z, *o;            /* [MB][value_dim] */
    float *pb, *pa;          /* [MB][n_v] beta's and the decay's projections */
    float *work;             /* per thread: 3 DN_CHUNK + d_k floats */
    int n_work;
};

static void layer_free(dn_layer *L) {
    free(L->conv_w);
    free(L->state);
    free(L->keys);
    free(L->beta);
    free(L->g);
    free(L->decay);
}

void dn_cpu_free(dn_cpu *d) {
    if (!d) return;
    for (int i = 0; i < d->n; i++) layer_free(&d->layers[i]);
    float *bufs[] = {d->pre, d->conv, d->z, d->o, d->pb, d->pa, d->work};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) free(bufs[i]);
    free(d->layers);
    free(d->index);
    free(d);
}

static bool layer_alloc(dn_layer *L, const model *m, int l, int n_ctx) {
    L->l = l;
    L->sh = dn_shape_of(&m->desc[l]);
    const dn_shape *s = &L->sh;
    const size_t ctx = (size_t)n_ctx;
    L->conv_w = malloc((size_t)s->conv_dim * s->taps * sizeof *L->conv_w);
    L->state = calloc(dn_state_floats(s), sizeof *L->state);
    L->keys = calloc(ctx * s->key_dim, sizeof *L->keys);
    L->beta = calloc(ctx * s->n_v, sizeof *L->beta);
    L->g = calloc(ctx * s->n_v, sizeof *L->g);
    L->decay = calloc(ctx * s->n_v, sizeof *L->decay);
    if (!L->conv_w || !L->state || !L->keys || !L->beta || !L->g || !L->decay) return false;
    /* the taps, whatever their storage type, as floats */
    const weight *w = &m->layers[l].ssm_conv;
    for (int c = 0; c < s->conv_dim; c++) weight_row(w, c, L->conv_w + (size_t)c * s->taps);
    return true;
}

dn_cpu *dn_cpu_create(const model *m, int n_ctx, int max_tokens, bool *oom) {
    *oom = false;
    if (m->hp.n_deltanet == 0) return NULL;
    dn_cpu *d = calloc(1, sizeof *d);
    if (!d) goto fail;
    d->m = m;
    d->n_ctx = n_ctx;
    d->max_tokens = max_tokens;
    d->index = malloc((size_t)m->hp.n_layer * sizeof *d->index);
    d->layers = calloc((size_t)m->hp.n_deltanet, sizeof *d->layers);
    if (!d->index || !d->layers) goto fail;
    size_t conv = 0, value = 0, heads = 0, d_k = 0;
    for (int l = 0; l < m->hp.n_layer; l++) {
        d->index[l] = -1;
        if (m->desc[l].mixer != MIXER_DELTANET) continue;
        dn_layer *L = &d->layers[d->n];
        d->index[l] = d->n++;
        if (!layer_alloc(L, m, l, n_ctx)) goto fail;
        if ((size_t)L->sh.conv_dim > conv) conv = (size_t)L->sh.conv_dim;
        if ((size_t)L->sh.value_dim > value) value = (size_t)L->sh.value_dim;
        if ((size_t)L->sh.n_v > heads) heads = (size_t)L->sh.n_v;
        if ((size_t)L->sh.d_k > d_k) d_k = (size_t)L->sh.d_k;
    }
    const size_t mb = (size_t)max_tokens;
    d->n_work = (int)(3 * DN_CHUNK + DN_SWEEP_QUERIES * d_k);
    d->pre = malloc(mb * conv * sizeof(float));
    d->conv = malloc(mb * conv * sizeof(float));
    d->z = malloc(mb * value * sizeof(float));
    d->o = malloc(mb * value * sizeof(float));
    d->pb = malloc(mb * heads * sizeof(float));
    d->pa = malloc(mb * heads * sizeof(float));
    d->work = malloc((size_t)WORKERS_MAX * (size_t)d->n_work * sizeof(float));
    if (d->pre && d->conv && d->z && d->o && d->pb && d->pa && d->work) return d;
fail:
    dn_cpu_free(d);
    *oom = true;
    return NULL;
}

void dn_cpu_reset(dn_cpu *d) {
    for (int i = 0; i < d->n; i++) {
        dn_layer *L = &d->layers[i];
        memset(L->state, 0, (L->sh.conv_floats + L->sh.S_floats) * sizeof *L->state);
    }
}

size_t dn_cpu_snapshot_bytes(const dn_cpu *d, int pos) {
    size_t n = 0;
    for (int i = 0; i < d->n; i++) n += dn_snapshot_floats(&d->layers[i].sh, pos);
    return n * sizeof(float);
}

void dn_cpu_save(const dn_cpu *d, int pos, void *dst) {
    char *p = dst;
    for (int i = 0; i < d->n; i++) {
        size_t bytes = dn_snapshot_floats(&d->layers[i].sh, pos) * sizeof(float);
        memcpy(p, d->layers[i].state, bytes);
        p += bytes;
    }
}

void dn_cpu_load(dn_cpu *d, int pos, const void *src) {
    const char *p = src;
    for (int i = 0; i < d->n; i++) {
        size_t bytes = dn_snapshot_floats(&d->layers[i].sh, pos) * sizeof(float);
        memcpy(d->layers[i].state, p, bytes);
        p += bytes;
    }
}

void dn_cpu_memory(const dn_cpu *d, size_t *state, size_t *keys) {
    *state = *keys = 0;
    for (int i = 0; d && i < d->n; i++) {
        const dn_shape *s = &d->layers[i].sh;
        *state += dn_state_floats(s) * sizeof(float);
        *keys += (size_t)d->n_ctx * (size_t)(s->key_dim + 3 * s->n_v) * sizeof(float);
    }
}

/* ---- one layer ---- */

/* The convolution (with SiLU) of the micro-batch's N rows of PRE into CONV, reading the
 * rows before it from the state, then the state keeps the last taps - 1 input rows. */
static void convolve(dn_layer *L, const float *pre, float *conv, int n) {
    const dn_shape *s = &L->sh;
    const int K = s->taps, C = s->conv_dim;
    float *tail = L->state; /* [K - 1][C]: positions p0 - K + 1 .. p0 - 1 */
    const float *rows[16];
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < K; j++) {
            int q = i - (K - 1) + j; /* relative to the micro-batch's first token */
            rows[j] = q >= 0 ? pre + (size_t)q * C : tail + (size_t)(K - 1 + q) * C;
        }
        op_conv_silu(conv + (size_t)i * C, rows, L->conv_w, C, K);
    }
    /* row r of the new tail is position p0 + n - (K - 1) + r; an old row sits at index
     * n + r >= r, so moving them up in place is safe */
    for (int r = 0; r < K - 1; r++) {
        int q = n - (K - 1) + r;
        const float *src = q >= 0 ? pre + (size_t)q * C : tail + (size_t)(K - 1 + q) * C;
        if (src != tail + (size_t)r * C) memcpy(tail + (size_t)r * C, src, (size_t)C * sizeof(float));
    }
}

/* Normalises each token's q and k heads, scales q, computes the gates, and keeps the keys
 * and gates of positions P0 .. for the effective weights. */
static void prepare(dn_cpu *d, dn_layer *L, int l, int n, int p0) {
    const dn_shape *s = &L->sh;
    const layer_weights *lw = &d->m->layers[l];
    const float eps = d->m->hp.norm_eps, scale = 1.0f / sqrtf((float)s->d_k);
    for (int i = 0; i < n; i++) {
        float *row = d->conv + (size_t)i * s->conv_dim;
        for (int h = 0; h < 2 * s->n_k; h++) op_l2norm(row + (size_t)h * s->d_k, row + (size_t)h * s->d_k, s->d_k, eps);
        for (int c = 0; c < s->key_dim; c++) row[c] *= scale;
        const size_t at = (size_t)(p0 + i);
        memcpy(L->keys + at * s->key_dim, row + s->key_dim, (size_t)s->key_dim * sizeof(float));
        op_deltanet_gates(d->pb + (size_t)i * s->n_v, d->pa + (size_t)i * s->n_v, lw->ssm_dt, lw->ssm_a, s->n_v,
                          L->beta + at * s->n_v, L->g + at * s->n_v);
        for (int h = 0; h < s->n_v; h++) L->decay[at * s->n_v + h] = expf(L->g[at * s->n_v + h]);
    }
}

typedef struct head_job {
    dn_cpu *d;
    dn_layer *L;
    const engine_batch *b;
    int start, n, p0;
} head_job;

/* Task h: value head h through the micro-batch's tokens, in order. */
static void recur_task(void *arg, int h, int thread) {
    const head_job *job = arg;
    dn_layer *L = job->L;
    const dn_shape *s = &L->sh;
    const int kh = h % s->n_k;
    dn_head_state st = dn_head_of(s, L->state, h);
    const float *row = job->d->conv;
    const size_t at = (size_t)job->p0;
    fast_deltanet_chunked(&st, job->p0, job->n, row + (size_t)kh * s->d_k, row + s->key_dim + (size_t)kh * s->d_k,
                          (size_t)s->conv_dim, row + 2 * s->key_dim + (size_t)h * s->d_v, (size_t)s->conv_dim,
                          L->beta + at * s->n_v + h, L->g + at * s->n_v + h, (size_t)s->n_v,
                          job->d->o + (size_t)h * s->d_v, (size_t)s->value_dim,
                          job->d->work + (size_t)thread * job->d->n_work);
}


/* Task h * groups + g: the effective weights of value head h at the tokens of group g
 * (DN_SWEEP_QUERIES consecutive ones) that B wants them of, swept together. */
static int weight_groups(const head_job *job) { return (job->n + DN_SWEEP_QUERIES - 1) / DN_SWEEP_QUERIES; }

static void weights_task(void *arg, int task, int thread) {
    const head_job *job = arg;
    const engine_batch *b = job->b;
    const dn_layer *L = job->L;
    const dn_shape *s = &L->sh;
    const int groups = weight_groups(job), h = task / groups, t0 = task % groups * DN_SWEEP_QUERIES;
    const int row_len = b->pos + b->n_tokens, n_out = b->all_positions ? b->n_tokens : 1;
    const int n_head = job->d->m->hp.n_head, kh = h % s->n_k;
    const float *q[DN_SWEEP_QUERIES];
    float *dst[DN_SWEEP_QUERIES];
    int pos[DN_SWEEP_QUERIES], m = 0;
    for (int t = t0; t < job->n && t < t0 + DN_SWEEP_QUERIES; t++) {
        const int out = engine_batch_output(b, job->start + t);
        if (out < 0) continue;
        pos[m] = job->p0 + t;
        q[m] = job->d->conv + (size_t)t * s->conv_dim + (size_t)kh * s->d_k;
        dst[m] = b->attention + (((size_t)L->l * n_head + h) * n_out + out) * row_len;
        memset(dst[m] + pos[m] + 1, 0, (size_t)(row_len - pos[m] - 1) * sizeof(float));
        m++;
    }
    if (m == 0) return;
    fast_deltanet_weights_many(m, q, L->keys + (size_t)kh * s->d_k, (size_t)s->key_dim, L->beta + h, L->decay + h,
                               (size_t)s->n_v, pos, s->d_k, dst,
                               job->d->work + (size_t)thread * job->d->n_work + 3 * DN_CHUNK);
}

/* Each output token's beta and decay per head into B's gates. */
static void write_gates(const head_job *job) {
    const engine_batch *b = job->b;
    const dn_layer *L = job->L;
    const model_hparams *hp = &job->d->m->hp;
    for (int t = 0; t < job->n; t++) {
        const int out = engine_batch_output(b, job->start + t);
        if (out < 0) continue;
        const size_t at = (size_t)(job->p0 + t) * L->sh.n_v;
        float *dst = b->gates + ((size_t)out * hp->n_layer + L->l) * hp->n_head * 2;
        for (int h = 0; h < L->sh.n_v; h++) {
            dst[2 * h] = L->beta[at + h];
            dst[2 * h + 1] = L->decay[at + h];
        }
    }
}

void dn_cpu_layer(dn_cpu *d, const dn_host *host, int l, float *xb, const engine_batch *b, int start, int n) {
    dn_layer *L = &d->layers[d->index[l]];
    const dn_shape *s = &L->sh;
    const layer_weights *lw = &d->m->layers[l];
    const int p0 = b->pos + start;
    host->matmul(host->ctx, &lw->ssm_qkv, xb, d->pre, n);
    host->matmul(host->ctx, &lw->ssm_z, xb, d->z, n);
    host->matmul(host->ctx, &lw->ssm_beta, xb, d->pb, n);
    host->matmul(host->ctx, &lw->ssm_alpha, xb, d->pa, n);
    convolve(L, d->pre, d->conv, n);
    prepare(d, L, l, n, p0);

    head_job job = {d, L, b, start, n, p0};
    const double per_token = 3.0 * s->d_v * s->d_k + (double)DN_CHUNK * (s->d_k + s->d_v);
    host->run(host->ctx, s->n_v, recur_task, &job, per_token * n * s->n_v);
    if (b->attention)
        host->run(host->ctx, s->n_v * weight_groups(&job), weights_task, &job,
                  2.0 * s->d_k * (double)(p0 + n) * n * s->n_v);
    if (b->gates) write_gates(&job);

    /* the gated norm of each head, then back to the residual stream */
    for (int t = 0; t < n; t++)
        for (int h = 0; h < s->n_v; h++) {
            float *o = d->o + (size_t)t * s->value_dim + (size_t)h * s->d_v;
            op_gated_rmsnorm(o, o, lw->ssm_norm, d->z + (size_t)t * s->value_dim + (size_t)h * s->d_v, s->d_v,
                             d->m->hp.norm_eps);
        }
    host->matmul(host->ctx, &lw->ssm_out, d->o, xb, n);
}
