/* forward_cpu.c — the CPU engine: a plain transformer forward pass built from the ops in
 * ops.h, the yardstick every other backend is checked against.
 *
 * The pass follows the model's description (arch.h): each layer runs its recipe (norms,
 * attention over its window with its rope and scale, the feed-forward network with the
 * model's activation, the sandwich norms, per-layer inputs and output scale where the
 * architecture has them), and the end of the pass is head.c's, which the logit lens
 * shares. Nothing here asks which architecture it runs.
 *
 * One eval() runs a batch of tokens through every layer, a few tokens at a time (a
 * "micro-batch"), so that each block of weights is read from memory once per micro-batch
 * rather than once per token, while scratch memory stays bounded however long the prompt.
 * Keys and values go to an f32 cache of n_ctx positions per layer that computes its own
 * (layers that share keys read an earlier layer's cache).
 *
 * The two expensive steps are shared out over a pool of threads the engine owns
 * (workers.h): matrix products by ranges of output rows, attention by (head, token).
 * Each row and each attention row is computed whole by one thread, with arithmetic that
 * does not depend on which thread or how many, so every thread count gives the same bits.
 * Matrix products come from qdot.h: for quantised weights the input of a product is
 * rounded to 8 bits once (per micro-batch, before the threads start) and multiplied in
 * integers, which moves each output by at most what that rounding can (qdot.h bounds it);
 * types qdot.h has no decoder for use ops_fast.c's exact products. Attention comes from
 * ops_fast.c, within float rounding of op_attention_head. The "reference" option runs
 * ops.c's op_matmul and op_attention_head themselves, on one thread: the judge of the
 * others. */
#include "deltanet.h"
#include "engine.h"
#include "head.h"
#include "moe.h"
#include "ops.h"
#include "ops_fast.h"
#include "qdot.h"
#include "state_ckpt.h"
#include "workers.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Tokens per micro-batch: as many as one pass of the products serves. */
#define MICRO_BATCH QDOT_BATCH

/* Waking the pool costs microseconds, about as long as this many multiply-adds: a step
 * with less work than two of these runs on the calling thread, and no task is smaller. */
#define MIN_TASK_WORK (1 << 16)
/* A product is cut into this many tasks per thread (when it is big enough), so that a
 * thread slowed by other programs on the machine leaves its share to the others. */
#define TASKS_PER_THREAD 4

typedef struct cpu_engine {
    engine base;          /* first, so an engine* is a cpu_engine* */
    int n_filled;         /* positions 0 .. n_filled-1 hold valid keys and values */
    bool reference;       /* ops.c's op_matmul and op_attention_head instead of ops_fast.c */
    qdot_isa isa;         /* the instruction set of the matrix products */
    workers *pool;
    void *acts;           /* a product's input rounded for qdot_rows (qdot_acts_bytes) */
    void *prod_scratch;   /* [n_threads][prod_scratch_bytes] for qdot_rows */
    size_t prod_scratch_bytes;
    int64_t max_cols;     /* the widest input of any product */
    float **k_cache, **v_cache; /* [n_layer] -> [n_ctx][kv_dim of the layer]; NULL for a
                                   layer that reads another's (layer_desc.kv_layer) */
    const float *rope_factors[MODEL_MAX_ROPES]; /* each rope's divisors at this n_ctx */
    /* scratch for one micro-batch of up to MICRO_BATCH tokens, sized for the widest layer */
    float *x;             /* [MB][n_embd] residual stream */
    float *xb;            /* [MB][n_embd] normalised input / sublayer output */
    float *q, *k, *v;     /* [MB][q_dim], [MB][kv_dim] x2 */
    float *qkv;           /* [MB][q_dim + 2 kv_dim], a fused projection */
    float *att;           /* [MB][q_dim] attention output, all heads */
    float *ff_a, *ff_b;   /* [MB][2 n_ff] (a fused gate/up product fills twice n_ff) */
    float *ple;           /* [MB][n_layer * n_embd_per_layer] each layer's per-layer input */
    float *ple_row;       /* [n_layer * n_embd_per_layer] one token's row of per_layer_token_embd */
    float *scores;        /* [n_threads][n_ctx] one attention row per thread */
    moe_scratch *moe;     /* the mixture of experts' scratch (models with experts) */
    uint64_t weight_bytes; /* bytes of weights the products have read (bench) */
    float *q_gate;        /* [MB][2 q_dim] a gated layer's q and gate rows; then its gate */
    /* Gated DeltaNet layers (deltanet.h): their state, and its checkpoints for rewinding
     * (state_ckpt.h); NULL and unused without such layers */
    dn_cpu *dn;
    dn_host dn_host;
    state_ckpts ckpts;
    ckpt_host ckpt_host;
} cpu_engine;

/* N rounded up to a multiple of 64 bytes, as aligned_alloc wants. */
static size_t qdot_round_up(size_t n) { return (n + 63) & ~(size_t)63; }

static void cpu_destroy(engine *base) {
    cpu_engine *e = (cpu_engine *)base;
    for (int l = 0; l < base->model->hp.n_layer; l++) {
        if (base->model->desc[l].kv_layer != l) continue; /* another layer's cache */
        if (e->k_cache) free(e->k_cache[l]);
        if (e->v_cache) free(e->v_cache[l]);
    }
    float *bufs[] = {e->x, e->xb, e->q, e->k, e->v, e->qkv, e->att, e->ff_a, e->ff_b, e->ple, e->ple_row, e->scores,
                     e->q_gate};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) free(bufs[i]);
    free(e->acts);
    free(e->prod_scratch);
    free(e->k_cache);
    free(e->v_cache);
    moe_scratch_free(e->moe);
    dn_cpu_free(e->dn);
    ckpts_free(&e->ckpts);
    workers_destroy(e->pool);
    free(e);
}

/* Runs a job's N_TASKS tasks on the pool, or right here when the job is too small
 * (WORK multiply-adds in all) to be worth waking the other threads for. */
static void run_job(cpu_engine *e, int n_tasks, workers_task_fn fn, void *arg, double work) {
    if (work < 2.0 * MIN_TASK_WORK) {
        for (int t = 0; t < n_tasks; t++) fn(arg, t, 0);
        return;
    }
    workers_run(e->pool, n_tasks, fn, arg);
}

/* ---- matrix products ----------------------------------------------------------------- */

/* y = W x for the micro-batch; a job holds up to three products of the same input
 * (Q, K and V; gate and up), so that they share one rounding of the input and one wake-up
 * of the pool. */
typedef struct product {
    const weight *w;
    float *y;
    int64_t rows_per_task;
    int first_task;       /* tasks first_task .. of the job are this product's */
} product;

typedef struct matmul_job {
    cpu_engine *e;
    const float *x;       /* [n][cols] */
    const qdot_acts *xa;  /* x rounded, when a product needs it */
    int n;
    int n_products;
    product p[3];
} matmul_job;

static void matmul_task(void *arg, int task, int thread) {
    const matmul_job *job = arg;
    int k = job->n_products - 1;
    while (task < job->p[k].first_task) k--;
    const product *p = &job->p[k];
    const int64_t r0 = (int64_t)(task - p->first_task) * p->rows_per_task;
    const int64_t r1 = r0 + p->rows_per_task < p->w->rows ? r0 + p->rows_per_task : p->w->rows;
    if (qdot_supports(p->w->type))
        qdot_rows(job->e->isa, p->w, job->x, job->xa, p->y, job->n, r0, r1,
                  (char *)job->e->prod_scratch + (size_t)thread * job->e->prod_scratch_bytes);
    else
        fast_matmul_rows(p->w, job->x, p->y, job->n, r0, r1);
}

/* For each of the N_PRODUCTS pairs (W, Y): Y = W X for N vectors (x [n][cols], y [n][rows]). */
static void multiply(cpu_engine *e, const float *x, int n, const product *products,
                     int n_products) {
    for (int k = 0; k < n_products; k++) e->weight_bytes += (uint64_t)products[k].w->rows * products[k].w->row_bytes;
    if (e->reference) {
        for (int k = 0; k < n_products; k++) op_matmul(products[k].w, x, products[k].y, n);
        return;
    }
    qdot_acts xa;
    matmul_job job = {e, x, NULL, n, n_products, {{0}}};
    const int64_t max_tasks = (int64_t)workers_count(e->pool) * TASKS_PER_THREAD;
    int n_tasks = 0;
    double work = 0;
    for (int k = 0; k < n_products; k++) {
        product *p = &job.p[k];
        *p = products[k];
        if (!job.xa && qdot_needs_acts(p->w->type)) { /* all products share one input */
            qdot_acts_init(&xa, e->acts, n, p->w->cols);
            qdot_quantize(e->isa, x, &xa);
            job.xa = &xa;
        }
        const int64_t rows = p->w->rows;
        const double macs = (double)rows * (double)p->w->cols * n;
        int64_t tasks = max_tasks;
        if (macs / MIN_TASK_WORK < (double)tasks) tasks = (int64_t)(macs / MIN_TASK_WORK);
        if (tasks > rows) tasks = rows;
        if (tasks < 1) tasks = 1;
        /* rows per task: rounded up to whole tiles (qdot.h) or groups (ops_fast.h) */
        const int64_t group = qdot_supports(p->w->type) ? QDOT_ROWS : FAST_ROW_GROUP;
        const int64_t groups = (rows + group - 1) / group;
        p->rows_per_task = (groups + tasks - 1) / tasks * group;
        p->first_task = n_tasks;
        n_tasks += (int)((rows + p->rows_per_task - 1) / p->rows_per_task);
        work += macs;
    }
    run_job(e, n_tasks, matmul_task, &job, work);
}

/* The products' memory: room for one input rounded (the widest a product takes: every
 * matrix's row length, from the file) and each thread's tile scratch. */
static bool products_alloc(cpu_engine *e, int n_threads) {
    const gguf_file *f = &e->base.model->file;
    e->max_cols = QDOT_ACT_BLOCK;
    for (uint64_t i = 0; i < f->n_tensors; i++)
        if ((int64_t)f->tensors[i].ne[0] > e->max_cols) e->max_cols = (int64_t)f->tensors[i].ne[0];
    e->prod_scratch_bytes = qdot_round_up(qdot_scratch_bytes(e->max_cols));
    e->acts = aligned_alloc(64, qdot_round_up(qdot_acts_bytes(MICRO_BATCH, e->max_cols)));
    e->prod_scratch = aligned_alloc(64, (size_t)n_threads * e->prod_scratch_bytes);
    return e->acts && e->prod_scratch;
}

static void matmul(cpu_engine *e, const weight *w, const float *x, float *y, int n) {
    multiply(e, x, n, &(product){w, y, 0, 0}, 1);
}

static void add_bias(float *y, const float *bias, int n_tokens, int dim) {
    if (!bias) return;
    for (int t = 0; t < n_tokens; t++) op_add(y + (size_t)t * dim, y + (size_t)t * dim, bias, dim);
}

/* The model's norm of N vectors of DIM with gain G and shift B, X -> OUT (may alias). */
static void norm_rows(const model_hparams *hp, float *out, const float *x, const float *g, const float *b, int n,
                      int dim) {
    for (int t = 0; t < n; t++) model_norm(hp, out + (size_t)t * dim, x + (size_t)t * dim, g, b, dim);
}

/* RMSNorm of each of N_HEADS heads of N vectors (STRIDE apart), with gain G (NULL: none). */
static void norm_heads(float *x, const float *g, int n, int stride, int n_heads, int head_dim, float eps) {
    for (int t = 0; t < n; t++)
        for (int h = 0; h < n_heads; h++) {
            float *v = x + (size_t)t * stride + (size_t)h * head_dim;
            op_rmsnorm(v, v, g, head_dim, eps);
        }
}

/* x += the sublayer output in xb, normalised first when the layer has a sandwich norm. */
static void residual_add(cpu_engine *e, const float *post_norm, int n) {
    const model_hparams *hp = &e->base.model->hp;
    const int d = hp->n_embd;
    if (post_norm) norm_rows(hp, e->xb, e->xb, post_norm, NULL, n, d);
    op_add(e->x, e->x, e->xb, n * d);
}

/* ---- embeddings ------------------------------------------------------------------------ */

/* The input of the first layer: token rows (times the embedding scale), plus learned
 * positions where the model has them. */
static void embed(cpu_engine *e, const engine_batch *b, int start, int n) {
    const model *m = e->base.model;
    const model_hparams *hp = &m->hp;
    const int d = hp->n_embd, p0 = b->pos + start;
    for (int t = 0; t < n; t++) {
        float *x = e->x + (size_t)t * d;
        weight_row(&m->token_embd, b->tokens[start + t], x);
        if (hp->embed_scale != 1.0f)
            for (int i = 0; i < d; i++) x[i] *= hp->embed_scale;
        if (m->position_embd.data) {
            weight_row(&m->position_embd, p0 + t, e->xb);
            op_add(x, x, e->xb, d);
        }
    }
}

/* Per-layer inputs (Gemma 4): for each token and layer, the token's row of the per-layer
 * embedding (times sqrt(width)) plus a projection of its scaled token embedding, the
 * projection normalised per layer (as if first scaled by 1/sqrt(n_embd), which an epsilon
 * n_embd times larger does exactly), the sum times 1/sqrt(2). */
static void embed_per_layer(cpu_engine *e, const engine_batch *b, int start, int n) {
    const model *m = e->base.model;
    const model_hparams *hp = &m->hp;
    const int w = hp->n_embd_per_layer, all = w * hp->n_layer;
    const float row_scale = sqrtf((float)w), mix = 1.0f / sqrtf(2.0f);
    matmul(e, &m->per_layer_proj, e->x, e->ple, n);
    for (int t = 0; t < n; t++) {
        float *p = e->ple + (size_t)t * all;
        weight_row(&m->per_layer_embd, b->tokens[start + t], e->ple_row);
        for (int l = 0; l < hp->n_layer; l++)
            op_rmsnorm(p + (size_t)l * w, p + (size_t)l * w, m->per_layer_proj_norm, w, hp->norm_eps * (float)hp->n_embd);
        for (int i = 0; i < all; i++) p[i] = (p[i] + e->ple_row[i] * row_scale) * mix;
    }
}

/* Layer L's use of its per-layer input: gelu(inp_gate x) times the input, projected back
 * to n_embd, normalised, added to x. */
static void per_layer_input(cpu_engine *e, int l, int n) {
    const model *m = e->base.model;
    const model_hparams *hp = &m->hp;
    const layer_weights *lw = &m->layers[l];
    const int w = hp->n_embd_per_layer, all = w * hp->n_layer;
    matmul(e, &lw->inp_gate, e->x, e->ff_a, n);
    for (int t = 0; t < n; t++)
        op_geglu(e->ff_a + (size_t)t * w, e->ff_a + (size_t)t * w, e->ple + (size_t)t * all + (size_t)l * w, w);
    matmul(e, &lw->proj, e->ff_a, e->xb, n);
    residual_add(e, lw->post_norm, n);
}

/* ---- attention ----------------------------------------------------------------------- */

/* A gated layer's q rows hold [q | gate] per head (Qwen3.5): q into e->q, and the gate
 * rows, packed, to the front of e->q_gate for after the attention. */
static void split_q_gate(cpu_engine *e, const layer_desc *ld, int n) {
    const int hd = ld->head_dim, qd = ld->n_head * hd;
    for (int t = 0; t < n; t++)
        for (int h = 0; h < ld->n_head; h++)
            memcpy(e->q + (size_t)t * qd + (size_t)h * hd, e->q_gate + ((size_t)t * ld->n_head + h) * 2 * hd,
                   (size_t)hd * sizeof(float));
    for (int t = 0; t < n; t++)
        for (int h = 0; h < ld->n_head; h++)
            memmove(e->q_gate + (size_t)t * qd + (size_t)h * hd, e->q_gate + ((size_t)t * ld->n_head + h) * 2 * hd + hd,
                    (size_t)hd * sizeof(float));
}

/* Q, K and V of layer L for N tokens of the micro-batch from the normalised input e->xb,
 * each [n][dim] in e->q, e->k, e->v. A layer that reads another's keys computes only q. */
static void project_qkv(cpu_engine *e, int l, int n) {
    const model *m = e->base.model;
    const layer_weights *lw = &m->layers[l];
    const layer_desc *ld = &m->desc[l];
    const int qd = ld->n_head * ld->head_dim, kvd = ld->n_head_kv * ld->head_dim;
    if (lw->wqkv.data) { /* one matrix produces [q | k | v] for each token */
        const int all = qd + 2 * kvd;
        matmul(e, &lw->wqkv, e->xb, e->qkv, n);
        add_bias(e->qkv, lw->bqkv, n, all);
        for (int t = 0; t < n; t++) {
            const float *src = e->qkv + (size_t)t * all;
            memcpy(e->q + (size_t)t * qd, src, (size_t)qd * sizeof(float));
            memcpy(e->k + (size_t)t * kvd, src + qd, (size_t)kvd * sizeof(float));
            memcpy(e->v + (size_t)t * kvd, src + qd + kvd, (size_t)kvd * sizeof(float));
        }
        return;
    }
    if (ld->kv_layer != l) {
        matmul(e, &lw->wq, e->xb, e->q, n);
        add_bias(e->q, lw->bq, n, qd);
        return;
    }
    const product qkv[3] = {{&lw->wq, ld->out_gate ? e->q_gate : e->q, 0, 0}, {&lw->wk, e->k, 0, 0},
                            {&lw->wv, e->v, 0, 0}};
    multiply(e, e->xb, n, qkv, 3);
    if (ld->out_gate) split_q_gate(e, ld, n);
    add_bias(e->q, lw->bq, n, qd);
    add_bias(e->k, lw->bk, n, kvd);
    add_bias(e->v, lw->bv, n, kvd);
}

/* The per-head norms and rope of q (and of k and v when the layer computes its own),
 * then k and v into the cache at positions P0 ... */
static void prepare_qkv(cpu_engine *e, int l, int n, int p0) {
    const model *m = e->base.model;
    const model_hparams *hp = &m->hp;
    const layer_weights *lw = &m->layers[l];
    const layer_desc *ld = &m->desc[l];
    const int hd = ld->head_dim, qd = ld->n_head * hd, kvd = ld->n_head_kv * hd;
    const bool own_kv = ld->kv_layer == l;
    if (lw->q_norm) norm_heads(e->q, lw->q_norm, n, qd, ld->n_head, hd, hp->norm_eps);
    if (own_kv && lw->k_norm) norm_heads(e->k, lw->k_norm, n, kvd, ld->n_head_kv, hd, hp->norm_eps);
    if (own_kv && (hp->arch->traits & AT_V_NORM)) norm_heads(e->v, NULL, n, kvd, ld->n_head_kv, hd, hp->norm_eps);
    if (ld->rope >= 0) {
        const rope_desc *r = &m->ropes[ld->rope];
        const float *f = e->rope_factors[ld->rope];
        for (int t = 0; t < n; t++) {
            op_rope(e->q + (size_t)t * qd, ld->n_head, hd, r, f, p0 + t);
            if (own_kv) op_rope(e->k + (size_t)t * kvd, ld->n_head_kv, hd, r, f, p0 + t);
        }
    }
    if (!own_kv) return;
    const size_t row = (size_t)kvd * sizeof(float);
    memcpy(e->k_cache[l] + (size_t)p0 * kvd, e->k, (size_t)n * row);
    memcpy(e->v_cache[l] + (size_t)p0 * kvd, e->v, (size_t)n * row);
}

/* The micro-batch's queries (tokens [start, start+n) of batch B) over layer LAYER's keys.
 * Task h * n + t is query head h of token t, so a thread taking consecutive tasks stays
 * on one head's keys and values. */
typedef struct attention_job {
    cpu_engine *e;
    const engine_batch *b;
    int layer, start, n;
} attention_job;

/* The query scale's factor at position POS (layer_desc.attn_temp), in float as llama.cpp
 * computes it. */
static float attn_temperature(const layer_desc *ld, int pos) {
    if (ld->attn_temp == 0) return 1.0f;
    return logf(floorf((float)(pos + 1) / (float)ld->attn_temp_floor) + 1.0f) * ld->attn_temp + 1.0f;
}

static void attention_task(void *arg, int task, int thread) {
    const attention_job *job = arg;
    cpu_engine *e = job->e;
    const engine_batch *b = job->b;
    const model *m = e->base.model;
    const layer_desc *ld = &m->desc[job->layer];
    const int hd = ld->head_dim, qd = ld->n_head * hd, kvd = ld->n_head_kv * hd, n_ctx = e->base.n_ctx;
    const int h = task / job->n, t = task % job->n;
    const int kvh = h / (ld->n_head / ld->n_head_kv); /* query heads share kv heads */
    const int n_kv = b->pos + job->start + t + 1;   /* causal: the token itself and the past */
    attn_span span = {.first = ld->window && n_kv > ld->window ? n_kv - ld->window : 0,
                      .n_kv = n_kv, .head_dim = hd, .kv_stride = kvd,
                      .scale = ld->attn_scale * attn_temperature(ld, n_kv - 1), .softcap = ld->attn_softcap};
    const float *sinks = m->layers[job->layer].attn_sinks;
    span.has_sink = sinks != NULL;
    span.sink = sinks ? sinks[h] : 0.0f;
    const size_t head_off = (size_t)kvh * hd;
    float *scores = e->scores + (size_t)thread * n_ctx;
    (e->reference ? op_attention_head : fast_attention_head)(
        e->q + (size_t)t * qd + h * hd, e->k_cache[ld->kv_layer] + head_off, e->v_cache[ld->kv_layer] + head_off,
        &span, scores, e->att + (size_t)t * qd + h * hd);

    /* where this token's attention rows go, if the caller wants them */
    const int bt = job->start + t; /* index within the batch */
    const int out = engine_batch_output(b, bt);
    if (b->attention && out >= 0) {
        const int row_len = b->pos + b->n_tokens, n_out = b->all_positions ? b->n_tokens : 1;
        float *dst = b->attention + (((size_t)job->layer * m->hp.n_head + h) * n_out + out) * row_len;
        memcpy(dst, scores, (size_t)n_kv * sizeof(float));
        memset(dst + n_kv, 0, (size_t)(row_len - n_kv) * sizeof(float));
    }
}

/* Layer L's attention sublayer for the micro-batch: e->xb (normalised input) -> e->xb
 * (its output, before any post-norm). */
static void zero_absent_heads(const cpu_engine *e, const engine_batch *b, int l, int start, int n);

static void attention(cpu_engine *e, const engine_batch *b, int l, int start, int n) {
    const layer_desc *ld = &e->base.model->desc[l];
    zero_absent_heads(e, b, l, start, n);
    const layer_weights *lw = &e->base.model->layers[l];
    project_qkv(e, l, n);
    prepare_qkv(e, l, n, b->pos + start);
    attention_job job = {e, b, l, start, n};
    /* two multiply-adds per key and value element */
    const double keys = (double)n * (b->pos + start) + (double)n * (n + 1) / 2;
    run_job(e, ld->n_head * n, attention_task, &job, 2.0 * keys * ld->n_head * ld->head_dim);
    if (ld->out_gate) op_sigmoid_mul(e->att, e->q_gate, n * ld->n_head * ld->head_dim);
    matmul(e, &lw->wo, e->att, e->xb, n);
    add_bias(e->xb, lw->bo, n, e->base.model->hp.n_embd);
}

/* The capture rows of the heads layer L does not have (fewer than the widest layer's), for
 * the micro-batch's output tokens: zero, as engine.h promises. */
static void zero_absent_heads(const cpu_engine *e, const engine_batch *b, int l, int start, int n) {
    const model_hparams *hp = &e->base.model->hp;
    const int nh = e->base.model->desc[l].n_head;
    if (!b->attention || nh == hp->n_head) return;
    const int row_len = b->pos + b->n_tokens, n_out = b->all_positions ? b->n_tokens : 1;
    for (int t = 0; t < n; t++) {
        const int out = engine_batch_output(b, start + t);
        for (int h = nh; out >= 0 && h < hp->n_head; h++)
            memset(b->attention + (((size_t)l * hp->n_head + h) * n_out + out) * row_len, 0, (size_t)row_len * sizeof(float));
    }
}

/* ---- the feed-forward network ---------------------------------------------------------- */

/* The engine's products for moe.c (up to three of one input share a wake-up). */
static void moe_multiply(void *ctx, const float *x, int n, const moe_product *p, int n_products) {
    product ps[3];
    for (int k = 0; k < n_products; k++) ps[k] = (product){p[k].w, p[k].y, 0, 0};
    multiply(ctx, x, n, ps, n_products);
}

/* Layer L's mixture of experts for tokens [start, start+n) of batch B: e->xb (normalised
 * input) -> e->xb, and the routing of the tokens B wants outputs for. */
static void mixture_of_experts(cpu_engine *e, const engine_batch *b, int l, int start, int n) {
    const model *m = e->base.model;
    const moe_hparams *moe = &m->hp.moe;
    const moe_multiplier mul = {moe_multiply, e};
    moe_forward(m, l, e->xb, n, e->xb, &mul, e->moe);
    const int R = moe_rank_n(moe), K = moe->n_used;
    const int n_out = b->all_positions ? b->n_tokens : 1;
    for (int t = 0; t < n; t++) {
        const int bt = start + t, out = b->all_positions ? bt : (bt == b->n_tokens - 1 ? 0 : -1);
        if (out < 0) continue;
        const moe_token_route r = moe_route_of(e->moe, t);
        const size_t row = (size_t)l * n_out + out;
        if (b->route_ids) memcpy(b->route_ids + row * R, r.ranked, (size_t)R * sizeof(int32_t));
        if (b->route_probs) memcpy(b->route_probs + row * R, r.probs, (size_t)R * sizeof(float));
        if (b->route_weights) memcpy(b->route_weights + row * K, r.weights, (size_t)K * sizeof(float));
    }
}

/* e->xb (normalised input) -> e->xb: act(gate) * up, or act(up) without a gate, then down. */
static void feed_forward(cpu_engine *e, int l, int n) {
    const model *m = e->base.model;
    const model_hparams *hp = &m->hp;
    const layer_weights *lw = &m->layers[l];
    const int ff = m->desc[l].n_ff;
    if (!hp->glu) {
        matmul(e, &lw->ffn_up, e->xb, e->ff_a, n);
        add_bias(e->ff_a, lw->ffn_up_b, n, ff);
        op_gelu(e->ff_a, e->ff_a, n * ff);
    } else {
        const float *gate = e->ff_b, *up = e->ff_a;
        if (!lw->ffn_gate.data) { /* one matrix: [gate | up] rows per token */
            matmul(e, &lw->ffn_up, e->xb, e->ff_b, n);
            for (int t = 0; t < n; t++)
                memcpy(e->ff_a + (size_t)t * ff, e->ff_b + (size_t)t * 2 * ff, (size_t)ff * sizeof(float));
            for (int t = 0; t < n; t++)
                memmove(e->ff_b + (size_t)t * ff, e->ff_b + ((size_t)t * 2 + 1) * ff, (size_t)ff * sizeof(float));
            gate = e->ff_a, up = e->ff_b;
        } else {
            const product up_gate[2] = {{&lw->ffn_up, e->ff_a, 0, 0}, {&lw->ffn_gate, e->ff_b, 0, 0}};
            multiply(e, e->xb, n, up_gate, 2);
        }
        (hp->act == ACT_SILU ? op_swiglu : op_geglu)(e->ff_a, gate, up, n * ff);
    }
    matmul(e, &lw->ffn_down, e->ff_a, e->xb, n);
    add_bias(e->xb, lw->ffn_down_b, n, hp->n_embd);
}

/* ---- the forward pass ------------------------------------------------------------------ */

/* Runs tokens [start, start+n) of batch B (at positions B->pos + start ...). */
static void forward_micro_batch(cpu_engine *e, const engine_batch *b, int start, int n) {
    const model *m = e->base.model;
    const model_hparams *hp = &m->hp;
    const int d = hp->n_embd;
    /* index within this micro-batch of the batch's last token, or -1 if not in it */
    const int last = start + n == b->n_tokens ? n - 1 : -1;
    const size_t row_bytes = (size_t)d * sizeof(float);

    embed(e, b, start, n);
    if (m->per_layer_embd.data) embed_per_layer(e, b, start, n);
    if (b->hidden && last >= 0) memcpy(b->hidden, e->x + (size_t)last * d, row_bytes);

    for (int l = 0; l < hp->n_layer; l++) {
        const layer_weights *lw = &m->layers[l];
        norm_rows(hp, e->xb, e->x, lw->attn_norm, lw->attn_norm_b, n, d);
        if (m->desc[l].mixer == MIXER_DELTANET) dn_cpu_layer(e->dn, &e->dn_host, l, e->xb, b, start, n);
        else attention(e, b, l, start, n);
        residual_add(e, lw->post_attn_norm, n);

        norm_rows(hp, e->xb, e->x, lw->ffn_norm, lw->ffn_norm_b, n, d);
        if (m->desc[l].ffn == FFN_MOE) mixture_of_experts(e, b, l, start, n);
        else feed_forward(e, l, n);
        if (b->moe_out && last >= 0)
            for (int i = 0; i < d; i++) /* a dense layer's row stays 0 */
                b->moe_out[(size_t)l * d + i] = m->desc[l].ffn == FFN_MOE ? e->xb[(size_t)last * d + i] : 0.0f;
        residual_add(e, lw->post_ffw_norm, n);
        if (lw->inp_gate.data) per_layer_input(e, l, n);
        if (lw->out_scale)
            for (int i = 0; i < n * d; i++) e->x[i] *= lw->out_scale[0];

        /* Hugging Face's hidden_states: entry l+1 is this layer's output, except the last
         * entry, which is taken after the final norm below. */
        if (b->hidden && last >= 0 && l + 1 < hp->n_layer)
            memcpy(b->hidden + (size_t)(l + 1) * d, e->x + (size_t)last * d, row_bytes);
    }

    if (b->moe_out && last >= 0) memcpy(b->moe_out + (size_t)hp->n_layer * d, e->x + (size_t)last * d, row_bytes);
    /* The final norm and the output head (head.c's), for the positions the caller asked about. */
    for (int t = 0; t < n; t++) head_norm(m, e->xb + (size_t)t * d, e->x + (size_t)t * d);
    if (b->hidden && last >= 0) memcpy(b->hidden + (size_t)hp->n_layer * d, e->xb + (size_t)last * d, row_bytes);
    if (b->logits) {
        const int V = hp->n_vocab;
        if (b->all_positions) {
            float *out = b->logits + (size_t)start * V;
            matmul(e, &m->output, e->xb, out, n);
            head_softcap(m, out, (int64_t)n * V);
        } else if (last >= 0) {
            matmul(e, &m->output, e->xb + (size_t)last * d, b->logits, 1);
            head_softcap(m, b->logits, V);
        }
    }
}

static int cpu_eval(engine *base, const engine_batch *b, char *err, size_t errlen) {
    cpu_engine *e = (cpu_engine *)base;
    const model_hparams *hp = &base->model->hp;
    if (!b->tokens || b->n_tokens < 1) {
        snprintf(err, errlen, "eval: empty batch");
        return -1;
    }
    if (b->pos < 0 || b->pos > e->n_filled) {
        snprintf(err, errlen, "eval: position %d is past the %d positions already evaluated",
                 b->pos, e->n_filled);
        return -1;
    }
    if (b->n_tokens > base->n_ctx - b->pos) {
        snprintf(err, errlen, "context full: %d tokens at position %d exceed the %d-token context",
                 b->n_tokens, b->pos, base->n_ctx);
        return -1;
    }
    for (int i = 0; i < b->n_tokens; i++) {
        if (b->tokens[i] < 0 || b->tokens[i] >= hp->n_vocab) {
            snprintf(err, errlen, "eval: token id %d is outside the vocabulary (0..%d)",
                     (int)b->tokens[i], hp->n_vocab - 1);
            return -1;
        }
    }
    if (e->dn && ckpts_rewind(&e->ckpts, &e->ckpt_host, b->pos, err, errlen)) return -1;
    if (b->gates)
        memset(b->gates, 0, (size_t)(b->all_positions ? b->n_tokens : 1) * hp->n_layer * hp->n_head * 2 * sizeof(float));
    for (int start = 0; start < b->n_tokens;) {
        int n = b->n_tokens - start < MICRO_BATCH ? b->n_tokens - start : MICRO_BATCH;
        if (e->dn && n > ckpts_room(&e->ckpts, b->pos + start)) n = ckpts_room(&e->ckpts, b->pos + start);
        forward_micro_batch(e, b, start, n);
        if (e->dn) { /* the recurrent state moved on: periodic checkpoints on the way */
            ckpts_advance(&e->ckpts, b->tokens + start, b->pos + start, n);
            if (ckpts_room(&e->ckpts, b->pos + start + n) == e->ckpts.interval) ckpts_take(&e->ckpts, &e->ckpt_host, false);
        }
        start += n;
    }
    e->n_filled = b->pos + b->n_tokens;
    return 0;
}

/* ---- the recurrent state (DeltaNet layers) ------------------------------------------------ */

static void dn_matmul(void *ctx, const weight *w, const float *x, float *y, int n) { matmul(ctx, w, x, y, n); }

static void dn_run(void *ctx, int n_tasks, workers_task_fn fn, void *arg, double work) {
    run_job(ctx, n_tasks, fn, arg, work);
}

static size_t ckpt_bytes(void *ctx, int pos) { return dn_cpu_snapshot_bytes(((cpu_engine *)ctx)->dn, pos); }
static bool ckpt_save(void *ctx, int pos, void *dst) {
    dn_cpu_save(((cpu_engine *)ctx)->dn, pos, dst);
    return true;
}

static int ckpt_load(void *ctx, int pos, const void *src, char *err, size_t errlen) {
    cpu_engine *e = ctx;
    if (src) dn_cpu_load(e->dn, pos, src);
    else dn_cpu_reset(e->dn);
    return 0;
}

/* Evaluates tokens again for the state alone (no outputs); their keys and values are the
 * ones already in the cache. */
static int ckpt_replay(void *ctx, const int32_t *tokens, int pos, int n, char *err, size_t errlen) {
    engine_batch rb = {.tokens = tokens, .n_tokens = n, .pos = pos};
    return cpu_eval(ctx, &rb, err, errlen);
}

static void cpu_checkpoint(engine *base) {
    cpu_engine *e = (cpu_engine *)base;
    if (e->dn) ckpts_take(&e->ckpts, &e->ckpt_host, true);
}

static void cpu_state_memory(const engine *base, engine_state_memory *out) {
    const cpu_engine *e = (const cpu_engine *)base;
    dn_cpu_memory(e->dn, &out->state, &out->keys);
    out->checkpoints = e->ckpts.bytes;
    out->n_checkpoints = e->ckpts.n;
}

/* The DeltaNet layers' state and its checkpoints, when the model has such layers. */
static bool cpu_alloc_recurrent(cpu_engine *e, int n_threads) {
    bool oom;
    e->dn = dn_cpu_create(e->base.model, e->base.n_ctx, MICRO_BATCH, &oom);
    if (!e->dn) return !oom;
    e->dn_host = (dn_host){e, dn_matmul, dn_run, n_threads};
    e->ckpt_host = (ckpt_host){e, ckpt_bytes, ckpt_save, ckpt_load, ckpt_replay};
    return ckpts_init(&e->ckpts, e->base.n_ctx) == 0;
}

static const engine_ops CPU_OPS = {cpu_eval, cpu_destroy, NULL, cpu_checkpoint, cpu_state_memory};

uint64_t engine_cpu_weight_bytes(const engine *e) {
    return e->ops == &CPU_OPS ? ((const cpu_engine *)e)->weight_bytes : 0;
}

engine *engine_cpu_create(const model *m, int n_ctx, char *err, size_t errlen) {
    return engine_cpu_create_opts(m, n_ctx, NULL, err, errlen);
}

/* The KV cache (for layers with their own keys) and the scratch, sized for the widest
 * layer. Returns false when out of memory. */
static bool cpu_alloc(cpu_engine *e, int n_threads) {
    const model *m = e->base.model;
    const model_hparams *hp = &m->hp;
    const size_t mb = MICRO_BATCH, n_ctx = (size_t)e->base.n_ctx;
    size_t q_dim = 0, kv_dim = 0;
    e->k_cache = calloc((size_t)hp->n_layer, sizeof *e->k_cache);
    e->v_cache = calloc((size_t)hp->n_layer, sizeof *e->v_cache);
    if (!e->k_cache || !e->v_cache) return false;
    for (int l = 0; l < hp->n_layer; l++) {
        const layer_desc *ld = &m->desc[l];
        const size_t qd = (size_t)ld->n_head * ld->head_dim, kvd = (size_t)ld->n_head_kv * ld->head_dim;
        if (qd > q_dim) q_dim = qd;
        if (kvd > kv_dim) kv_dim = kvd;
        if (ld->kv_layer != l) continue;
        e->k_cache[l] = calloc(n_ctx * kvd, sizeof(float));
        e->v_cache[l] = calloc(n_ctx * kvd, sizeof(float));
        if (!e->k_cache[l] || !e->v_cache[l]) return false;
    }
    for (int l = 0; l < hp->n_layer; l++) { /* shared layers read their source's cache */
        e->k_cache[l] = e->k_cache[m->desc[l].kv_layer];
        e->v_cache[l] = e->v_cache[m->desc[l].kv_layer];
    }
    e->x = calloc(mb * hp->n_embd, sizeof(float));
    e->xb = calloc(mb * hp->n_embd, sizeof(float));
    e->q = calloc(mb * q_dim, sizeof(float));
    e->k = calloc(mb * kv_dim, sizeof(float));
    e->v = calloc(mb * kv_dim, sizeof(float));
    e->qkv = calloc(mb * (q_dim + 2 * kv_dim), sizeof(float));
    e->att = calloc(mb * q_dim, sizeof(float));
    e->ff_a = calloc(mb * 2 * (size_t)hp->n_ff, sizeof(float));
    e->ff_b = calloc(mb * 2 * (size_t)hp->n_ff, sizeof(float));
    if (hp->n_embd_per_layer) { /* ff_a also holds the per-layer gate */
        const size_t all = (size_t)hp->n_embd_per_layer * hp->n_layer;
        free(e->ff_a);
        e->ff_a = calloc(mb * (2 * (size_t)hp->n_ff > all ? 2 * (size_t)hp->n_ff : all), sizeof(float));
        e->ple = calloc(mb * all, sizeof(float));
        e->ple_row = calloc(all, sizeof(float));
        if (!e->ple || !e->ple_row) return false;
    }
    e->scores = calloc((size_t)n_threads * n_ctx, sizeof(float));
    e->q_gate = calloc(mb * 2 * q_dim, sizeof(float));
    if (hp->moe.n_expert && !(e->moe = moe_scratch_create(m, MICRO_BATCH))) return false;
    return e->x && e->xb && e->q && e->k && e->v && e->qkv && e->att && e->ff_a && e->ff_b && e->scores && e->q_gate &&
           cpu_alloc_recurrent(e, n_threads);
}

/* Bytes of KV cache a context of N_CTX positions takes (for the out-of-memory message). */
static double kv_cache_bytes(const model *m, int n_ctx) {
    double bytes = 0;
    for (int l = 0; l < m->hp.n_layer; l++)
        if (m->desc[l].kv_layer == l) bytes += 2.0 * n_ctx * m->desc[l].n_head_kv * m->desc[l].head_dim * sizeof(float);
    return bytes;
}

engine *engine_cpu_create_opts(const model *m, int n_ctx, const cpu_engine_options *opt,
                               char *err, size_t errlen) {
    const cpu_engine_options defaults = {0};
    if (!opt) opt = &defaults;
    if (n_ctx < 1) {
        snprintf(err, errlen, "context size %d must be positive", n_ctx);
        return NULL;
    }
    /* learned positions: one vector per position and nothing beyond them */
    if (m->position_embd.data && n_ctx > m->position_embd.rows) {
        snprintf(err, errlen, "context size %d exceeds the model's %lld learned positions",
                 n_ctx, (long long)m->position_embd.rows);
        return NULL;
    }
    int n_threads = opt->reference ? 1 : opt->n_threads;
    if (n_threads < 0 || n_threads > WORKERS_MAX) {
        snprintf(err, errlen, "thread count %d is not between 1 and %d", n_threads, WORKERS_MAX);
        return NULL;
    }
    if (n_threads == 0) n_threads = workers_default_count();

    cpu_engine *e = calloc(1, sizeof *e);
    if (!e) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    e->base.ops = &CPU_OPS;
    e->base.model = m;
    e->isa = qdot_best_isa(opt->isa);
    e->base.n_ctx = n_ctx;
    snprintf(e->base.backend, sizeof e->base.backend, "cpu");
    if (opt->reference)
        snprintf(e->base.device_name, sizeof e->base.device_name, "CPU (reference)");
    else
        snprintf(e->base.device_name, sizeof e->base.device_name, "CPU, %d thread%s, %s",
                 n_threads, n_threads == 1 ? "" : "s", qdot_isa_name(e->isa));
    e->reference = opt->reference;
    for (int r = 0; r < m->n_ropes; r++) e->rope_factors[r] = rope_factors_for(&m->ropes[r], n_ctx);

    e->pool = workers_create(n_threads);
    if (!e->pool) {
        snprintf(err, errlen, "cannot start %d threads for the CPU engine", n_threads);
        cpu_destroy(&e->base);
        return NULL;
    }
    if (!cpu_alloc(e, n_threads) || !products_alloc(e, n_threads)) {
        snprintf(err, errlen, "out of memory for a %d-token context (KV cache %.1f MiB)", n_ctx,
                 kv_cache_bytes(m, n_ctx) / (1024.0 * 1024.0));
        cpu_destroy(&e->base);
        return NULL;
    }
    return &e->base;
}
