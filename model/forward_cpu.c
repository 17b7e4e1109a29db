/* forward_cpu.c — the CPU engine: a plain transformer forward pass built from the ops in
 * ops.h, the yardstick every other backend is checked against.
 *
 * One eval() runs a batch of tokens through every layer, a few tokens at a time (a
 * "micro-batch"), so that each block of weights is read from memory once per micro-batch
 * rather than once per token, while scratch memory stays bounded however long the prompt.
 * Keys and values go to an f32 cache of n_ctx positions per layer.
 *
 * The two expensive steps are shared out over a pool of threads the engine owns
 * (workers.h): matrix products by ranges of output rows, attention by (head, token).
 * Each row and each attention row is computed whole by one thread, with arithmetic that
 * does not depend on which thread or how many, so every thread count gives the same bits.
 * Matrix products come from qdot.h: for quantised weights the input of a product is
 * rounded to 8 bits once (per micro-batch, before the threads start) and multiplied in
 * integers, which moves each output by at most what that rounding can (qdot.h bounds it);
 * types qdot.h has no decoder for use ops_fast.c's exact products. Attention comes from
 * ops_fast.c, with op_attention_head's bits. The "reference" option runs ops.c's
 * op_matmul and op_attention_head themselves, on one thread: the judge of the others. */
#include "engine.h"
#include "ops.h"
#include "ops_fast.h"
#include "qdot.h"
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
    int q_dim, kv_dim;    /* n_head * head_dim, n_head_kv * head_dim */
    int n_filled;         /* positions 0 .. n_filled-1 hold valid keys and values */
    bool reference;       /* ops.c's op_matmul and op_attention_head instead of ops_fast.c */
    qdot_isa isa;         /* the instruction set of the matrix products */
    workers *pool;
    void *acts;           /* a product's input rounded for qdot_rows (qdot_acts_bytes) */
    void *prod_scratch;   /* [n_threads][prod_scratch_bytes] for qdot_rows */
    size_t prod_scratch_bytes;
    int64_t max_cols;     /* the widest input of any product */
    float *k_cache, *v_cache; /* [n_layer][n_ctx][kv_dim] */
    /* scratch for one micro-batch of up to MICRO_BATCH tokens */
    float *x;             /* [MB][n_embd] residual stream */
    float *xb;            /* [MB][n_embd] normalised input / sublayer output */
    float *q, *k, *v;     /* [MB][q_dim], [MB][kv_dim] x2 */
    float *qkv;           /* [MB][3 * n_embd], gpt2's fused projection */
    float *att;           /* [MB][q_dim] attention output, all heads */
    float *ff_a, *ff_b;   /* [MB][n_ff] */
    float *scores;        /* [n_threads][n_ctx] one attention row per thread */
} cpu_engine;

/* N rounded up to a multiple of 64 bytes, as aligned_alloc wants. */
static size_t qdot_round_up(size_t n) { return (n + 63) & ~(size_t)63; }

static void cpu_destroy(engine *base) {
    cpu_engine *e = (cpu_engine *)base;
    float *bufs[] = {e->k_cache, e->v_cache, e->x, e->xb, e->q, e->k, e->v,
                     e->qkv, e->att, e->ff_a, e->ff_b, e->scores};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) free(bufs[i]);
    free(e->acts);
    free(e->prod_scratch);
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

static void matmul(cpu_engine *e, const weight *w, const float *x, float *y, int n) {
    multiply(e, x, n, &(product){w, y, 0, 0}, 1);
}

/* The normalisation before attention, before the MLP and at the end: LayerNorm with a
 * shift for gpt2, RMSNorm otherwise. */
static void norm(const model_hparams *hp, float *out, const float *x, const float *g,
                 const float *b) {
    if (hp->layer_norm)
        op_layernorm(out, x, g, b, hp->n_embd, hp->norm_eps);
    else
        op_rmsnorm(out, x, g, hp->n_embd, hp->norm_eps);
}

static void add_bias(float *y, const float *bias, int n_tokens, int dim) {
    if (!bias) return;
    for (int t = 0; t < n_tokens; t++) op_add(y + (size_t)t * dim, y + (size_t)t * dim, bias, dim);
}

/* Q, K and V for N tokens of the micro-batch from the normalised input e->xb. */
static void project_qkv(cpu_engine *e, const layer_weights *lw, int n) {
    const model_hparams *hp = &e->base.model->hp;
    if (lw->wqkv.data) {
        /* gpt2: one matrix produces [q | k | v] for each token */
        const int d = hp->n_embd;
        matmul(e, &lw->wqkv, e->xb, e->qkv, n);
        add_bias(e->qkv, lw->bqkv, n, 3 * d);
        for (int t = 0; t < n; t++) {
            const float *src = e->qkv + (size_t)t * 3 * d;
            memcpy(e->q + (size_t)t * e->q_dim, src, (size_t)d * sizeof(float));
            memcpy(e->k + (size_t)t * e->kv_dim, src + d, (size_t)d * sizeof(float));
            memcpy(e->v + (size_t)t * e->kv_dim, src + 2 * d, (size_t)d * sizeof(float));
        }
        return;
    }
    const product qkv[3] = {{&lw->wq, e->q, 0, 0}, {&lw->wk, e->k, 0, 0}, {&lw->wv, e->v, 0, 0}};
    multiply(e, e->xb, n, qkv, 3);
    add_bias(e->q, lw->bq, n, e->q_dim);
    add_bias(e->k, lw->bk, n, e->kv_dim);
    add_bias(e->v, lw->bv, n, e->kv_dim);
}

/* ---- attention ----------------------------------------------------------------------- */

/* The micro-batch's queries (tokens [start, start+n) of batch B) over layer LAYER's cache.
 * Task h * n + t is query head h of token t, so a thread taking consecutive tasks stays
 * on one head's keys and values. */
typedef struct attention_job {
    cpu_engine *e;
    const engine_batch *b;
    int layer, start, n;
} attention_job;

static void attention_task(void *arg, int task, int thread) {
    const attention_job *job = arg;
    cpu_engine *e = job->e;
    const engine_batch *b = job->b;
    const model_hparams *hp = &e->base.model->hp;
    const int hd = hp->head_dim, n_ctx = e->base.n_ctx;
    const int h = task / job->n, t = task % job->n;
    const int kvh = h / (hp->n_head / hp->n_head_kv); /* query heads share kv heads */
    const int n_kv = b->pos + job->start + t + 1; /* causal: the token itself and the past */
    const size_t layer_off = (size_t)job->layer * n_ctx * e->kv_dim + (size_t)kvh * hd;
    float *scores = e->scores + (size_t)thread * n_ctx;
    (e->reference ? op_attention_head : fast_attention_head)(
        e->q + (size_t)t * e->q_dim + h * hd, e->k_cache + layer_off, e->v_cache + layer_off,
        n_kv, hd, e->kv_dim, 1.0f / sqrtf((float)hd), scores, e->att + (size_t)t * e->q_dim + h * hd);

    /* where this token's attention rows go, if the caller wants them */
    const int bt = job->start + t; /* index within the batch */
    const int out = b->all_positions ? bt : (bt == b->n_tokens - 1 ? 0 : -1);
    if (b->attention && out >= 0) {
        const int row_len = b->pos + b->n_tokens, n_out = b->all_positions ? b->n_tokens : 1;
        float *dst = b->attention + (((size_t)job->layer * hp->n_head + h) * n_out + out) * row_len;
        memcpy(dst, scores, (size_t)n_kv * sizeof(float));
        memset(dst + n_kv, 0, (size_t)(row_len - n_kv) * sizeof(float));
    }
}

static void attention(cpu_engine *e, const engine_batch *b, int layer, int start, int n) {
    const model_hparams *hp = &e->base.model->hp;
    attention_job job = {e, b, layer, start, n};
    /* two multiply-adds per key and value element */
    const double keys = (double)n * (b->pos + start) + (double)n * (n + 1) / 2;
    run_job(e, hp->n_head * n, attention_task, &job, 2.0 * keys * hp->n_head * hp->head_dim);
}

/* ---- the forward pass ------------------------------------------------------------------ */

/* Runs tokens [start, start+n) of batch B (at positions B->pos + start ...). */
static void forward_micro_batch(cpu_engine *e, const engine_batch *b, int start, int n) {
    const model *m = e->base.model;
    const model_hparams *hp = &m->hp;
    const int d = hp->n_embd, hd = hp->head_dim, n_ctx = e->base.n_ctx;
    const int p0 = b->pos + start;
    /* index within this micro-batch of the batch's last token, or -1 if not in it */
    const int last = start + n == b->n_tokens ? n - 1 : -1;

    /* Embedding (plus the learned position for gpt2). */
    for (int t = 0; t < n; t++) {
        float *x = e->x + (size_t)t * d;
        weight_row(&m->token_embd, b->tokens[start + t], x);
        if (m->position_embd.data) {
            weight_row(&m->position_embd, p0 + t, e->xb);
            op_add(x, x, e->xb, d);
        }
    }
    const size_t row_bytes = (size_t)d * sizeof(float);
    if (b->hidden && last >= 0) memcpy(b->hidden, e->x + (size_t)last * d, row_bytes);

    for (int l = 0; l < hp->n_layer; l++) {
        const layer_weights *lw = &m->layers[l];
        float *k_cache = e->k_cache + (size_t)l * n_ctx * e->kv_dim;
        float *v_cache = e->v_cache + (size_t)l * n_ctx * e->kv_dim;

        /* --- attention --- */
        for (int t = 0; t < n; t++)
            norm(hp, e->xb + (size_t)t * d, e->x + (size_t)t * d, lw->attn_norm,
                 lw->attn_norm_b);
        project_qkv(e, lw, n);
        for (int t = 0; t < n; t++) {
            float *q = e->q + (size_t)t * e->q_dim, *k = e->k + (size_t)t * e->kv_dim;
            if (lw->q_norm) /* qwen3 normalises each head's query and key before rope */
                for (int h = 0; h < hp->n_head; h++)
                    op_rmsnorm(q + h * hd, q + h * hd, lw->q_norm, hd, hp->norm_eps);
            if (lw->k_norm)
                for (int h = 0; h < hp->n_head_kv; h++)
                    op_rmsnorm(k + h * hd, k + h * hd, lw->k_norm, hd, hp->norm_eps);
            op_rope(q, hp->n_head, hd, hp->rope_dim, p0 + t, hp->rope_base, hp->rope_freq_scale,
                    hp->rope, m->rope_freqs);
            op_rope(k, hp->n_head_kv, hd, hp->rope_dim, p0 + t, hp->rope_base,
                    hp->rope_freq_scale, hp->rope, m->rope_freqs);
            memcpy(k_cache + (size_t)(p0 + t) * e->kv_dim, k, (size_t)e->kv_dim * sizeof(float));
            memcpy(v_cache + (size_t)(p0 + t) * e->kv_dim, e->v + (size_t)t * e->kv_dim,
                   (size_t)e->kv_dim * sizeof(float));
        }
        attention(e, b, l, start, n);
        matmul(e, &lw->wo, e->att, e->xb, n);
        add_bias(e->xb, lw->bo, n, d);
        op_add(e->x, e->x, e->xb, n * d);

        /* --- MLP --- */
        for (int t = 0; t < n; t++)
            norm(hp, e->xb + (size_t)t * d, e->x + (size_t)t * d, lw->ffn_norm, lw->ffn_norm_b);
        if (hp->gelu) {
            matmul(e, &lw->ffn_up, e->xb, e->ff_a, n);
            add_bias(e->ff_a, lw->ffn_up_b, n, hp->n_ff);
            op_gelu(e->ff_a, e->ff_a, n * hp->n_ff);
        } else {
            const product up_gate[2] = {{&lw->ffn_up, e->ff_a, 0, 0}, {&lw->ffn_gate, e->ff_b, 0, 0}};
            multiply(e, e->xb, n, up_gate, 2);
            op_swiglu(e->ff_a, e->ff_b, e->ff_a, n * hp->n_ff);
        }
        matmul(e, &lw->ffn_down, e->ff_a, e->xb, n);
        add_bias(e->xb, lw->ffn_down_b, n, d);
        op_add(e->x, e->x, e->xb, n * d);

        /* Hugging Face's hidden_states: entry l+1 is this layer's output, except the last
         * entry, which is taken after the final norm below. */
        if (b->hidden && last >= 0 && l + 1 < hp->n_layer)
            memcpy(b->hidden + (size_t)(l + 1) * d, e->x + (size_t)last * d, row_bytes);
    }

    /* Final norm and the output head, for the positions the caller asked about. */
    for (int t = 0; t < n; t++)
        norm(hp, e->xb + (size_t)t * d, e->x + (size_t)t * d, m->output_norm, m->output_norm_b);
    if (b->hidden && last >= 0)
        memcpy(b->hidden + (size_t)hp->n_layer * d, e->xb + (size_t)last * d, row_bytes);
    if (b->logits) {
        if (b->all_positions)
            matmul(e, &m->output, e->xb, b->logits + (size_t)start * hp->n_vocab, n);
        else if (last >= 0)
            matmul(e, &m->output, e->xb + (size_t)last * d, b->logits, 1);
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
    for (int start = 0; start < b->n_tokens; start += MICRO_BATCH) {
        int n = b->n_tokens - start < MICRO_BATCH ? b->n_tokens - start : MICRO_BATCH;
        forward_micro_batch(e, b, start, n);
    }
    e->n_filled = b->pos + b->n_tokens;
    return 0;
}

static const engine_ops CPU_OPS = {cpu_eval, cpu_destroy, NULL};

engine *engine_cpu_create(const model *m, int n_ctx, char *err, size_t errlen) {
    return engine_cpu_create_opts(m, n_ctx, NULL, err, errlen);
}

engine *engine_cpu_create_opts(const model *m, int n_ctx, const cpu_engine_options *opt,
                               char *err, size_t errlen) {
    const model_hparams *hp = &m->hp;
    const cpu_engine_options defaults = {0, false};
    if (!opt) opt = &defaults;
    if (n_ctx < 1) {
        snprintf(err, errlen, "context size %d must be positive", n_ctx);
        return NULL;
    }
    /* gpt2 has one learned position vector per position and nothing beyond them. */
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
    if (n_threads == 0 && !(n_threads = workers_default_count(err, errlen))) return NULL;

    cpu_engine *e = calloc(1, sizeof *e);
    if (!e) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    e->base.ops = &CPU_OPS;
    e->base.model = m;
    e->base.n_ctx = n_ctx;
    snprintf(e->base.backend, sizeof e->base.backend, "cpu");
    if (opt->reference)
        snprintf(e->base.device_name, sizeof e->base.device_name, "CPU (reference)");
    else
        snprintf(e->base.device_name, sizeof e->base.device_name, "CPU, %d thread%s, %s",
                 n_threads, n_threads == 1 ? "" : "s", qdot_isa_name(qdot_best_isa()));
    e->reference = opt->reference;
    e->isa = qdot_best_isa();
    e->q_dim = hp->n_head * hp->head_dim;
    e->kv_dim = hp->n_head_kv * hp->head_dim;

    e->pool = workers_create(n_threads);
    if (!e->pool) {
        snprintf(err, errlen, "cannot start %d threads for the CPU engine", n_threads);
        cpu_destroy(&e->base);
        return NULL;
    }
    const size_t mb = MICRO_BATCH, cache = (size_t)hp->n_layer * (size_t)n_ctx;
    e->k_cache = calloc(cache, (size_t)e->kv_dim * sizeof(float));
    e->v_cache = calloc(cache, (size_t)e->kv_dim * sizeof(float));
    e->x = calloc(mb * hp->n_embd, sizeof(float));
    e->xb = calloc(mb * hp->n_embd, sizeof(float));
    e->q = calloc(mb * e->q_dim, sizeof(float));
    e->k = calloc(mb * e->kv_dim, sizeof(float));
    e->v = calloc(mb * e->kv_dim, sizeof(float));
    e->qkv = calloc(mb * 3 * hp->n_embd, sizeof(float));
    e->att = calloc(mb * e->q_dim, sizeof(float));
    e->ff_a = calloc(mb * hp->n_ff, sizeof(float));
    e->ff_b = calloc(mb * hp->n_ff, sizeof(float));
    e->scores = calloc((size_t)n_threads * (size_t)n_ctx, sizeof(float));
    /* products' inputs: the residual stream, all heads' attention output, the MLP's */
    e->max_cols = hp->n_embd > e->q_dim ? hp->n_embd : e->q_dim;
    if (hp->n_ff > e->max_cols) e->max_cols = hp->n_ff;
    const size_t acts_bytes = qdot_round_up(qdot_acts_bytes(MICRO_BATCH, e->max_cols));
    e->prod_scratch_bytes = qdot_round_up(qdot_scratch_bytes(e->max_cols));
    e->acts = aligned_alloc(64, acts_bytes);
    e->prod_scratch = aligned_alloc(64, (size_t)n_threads * e->prod_scratch_bytes);
    if (!e->k_cache || !e->v_cache || !e->x || !e->xb || !e->q || !e->k || !e->v || !e->qkv ||
        !e->att || !e->ff_a || !e->ff_b || !e->scores || !e->acts || !e->prod_scratch) {
        snprintf(err, errlen, "out of memory for a %d-token context (KV cache %.1f MiB)", n_ctx,
                 2.0 * cache * e->kv_dim * sizeof(float) / (1024.0 * 1024.0));
        cpu_destroy(&e->base);
        return NULL;
    }
    return &e->base;
}
