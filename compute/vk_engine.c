/* vk_engine.c — the GPU forward pass (see vk_engine.h), step for step the computation of
 * the CPU reference in model/forward_cpu.c.
 *
 * Everything the pass touches is created once in engine_vulkan_create: weights, the KV
 * cache (f32, one buffer per layer and K/V so that no binding exceeds the device limit),
 * activations for one micro-batch, and one descriptor set per (operation, buffers) use.
 * An eval then only records dispatches with push constants (token count, position,
 * offsets) between barriers, submits once per micro-batch and copies results out. */
#include "vk_engine.h"

#include "vk_ops.h"
#include "vk_runtime.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* Tokens per micro-batch (fewer when long contexts make the attention scratch large):
 * large enough that the tiled matrix kernel has many tiles of tokens in flight on a big
 * GPU (an 8B model's 4096-row projections are only 32 tiles of rows). */
#define MAX_UBATCH 512
/* Budget for the attention scores scratch and the attention capture buffer. */
#define SCRATCH_BUDGET (256ull << 20)
#define NO_PARAM UINT32_MAX
#define MAX_PROFILE_NAMES 32

/* A weight bound for one use: a descriptor set per part, binding the part and the
 * buffers the use reads and writes. */
typedef struct vk_use {
    const vk_weight *w;
    VkDescriptorSet *sets;
} vk_use;

typedef struct vk_layer {
    /* gate_up: the gate and up rows interleaved (gate 0, up 0, gate 1, ...) when the two
     * matrices share a type, else gate and up apart. wq and wk of NEOX-rope models are
     * stored with each rotated pair of rows side by side (see rope_pair_map). */
    vk_weight wq, wk, wv, wqkv, wo, gate, up, gate_up, down;
    vk_buffer k_cache, v_cache;  /* [n_ctx][kv_dim] */
    /* offsets of the layer's vectors in the params buffer (NO_PARAM: absent) */
    uint32_t attn_norm, attn_norm_b, ffn_norm, ffn_norm_b, bq, bk, bv, bqkv, bo, up_b, down_b,
        q_norm, k_norm;
    vk_use use_q, use_k, use_v, use_o, use_gate, use_up, use_gate_up, use_down;
    /* the decode path's uses read the residual stream x itself and normalise it on the fly */
    vk_use use_q_x, use_k_x, use_v_x, use_gate_up_x;
    VkDescriptorSet set_k_norm, set_rope_k, set_attention;
} vk_layer;

typedef struct profile_entry {
    const char *name;
    double ns;
    long count;
} profile_entry;

/* One micro-batch: tokens at positions p0 .. p0+n-1, and everything its recording
 * depends on (two equal ubatch values record the same commands, whatever the tokens:
 * they are read from the ids buffer when the commands run). Output rows (final norm,
 * logits, top-k) are tokens out_first .. out_first+n_out-1 of it; attention rows are
 * captured for the same tokens, row_len long. */
typedef struct ubatch {
    int p0, n;
    int out_first, n_out;
    int row_len;         /* the eval's last position + 1 */
    bool last;           /* the eval's last micro-batch: hidden states are taken here */
    bool logits, attention, hidden, stats; /* outputs wanted (hidden: in this micro-batch) */
    int top_k;
    int lens_k, lens_n_valid; /* the logit lens (last micro-batch only) */
    bool lens_full;
} ubatch;

typedef struct vk_engine {
    engine base; /* first: an engine* is a vk_engine* */
    vk_runtime rt;
    vk_kernels k;
    int ubatch;        /* tokens per submit */
    int cap_rows;      /* attention rows the capture buffer holds per layer and head */
    bool capture;
    int q_dim, kv_dim;

    /* The decode path (fewer tokens than the matrix kernel takes) fuses RMSNorm into the
     * next matrix product, rope into q and k, SwiGLU into gate/up: five steps per layer. */
    bool fuse;

    vk_weight token_embd, position_embd, output_own; /* output_own: untied output head */
    const vk_weight *output;
    uint32_t output_norm, output_norm_b;
    vk_layer *layers;

    vk_buffer params, rope_table, dummy, staging;
    vk_buffer x, xn, q, att, ffa, ffb, logits, scores, attn_part, topk_part, topk_out; /* device */
    vk_buffer ids;                                                          /* upload */
    vk_buffer logits_rb, capture_buf, hidden_rb, topk_rb;                   /* readback */
    /* the logit lens: the last token's residual stream [n_layer + 1][n_embd], the lens
     * top-k of the last logits row, the candidates' rows of the output head, their logits
     * per entry; for the full lens the normalised entries, their logits over the whole
     * vocabulary (lens_full_ok: that buffer fitted), top-1 and log-sum-exp, ranks */
    vk_buffer hid, lens_topk_part, lens_topk_out, lens_cand, lens_out;
    vk_buffer lens_xn, lens_logits, lens_stats_part, lens_stats, lens_ranks, lens_rb;
    bool lens_full_ok;
    vk_use use_lens_rows, use_lens_out;
    VkDescriptorSet set_lens_topk_partial, set_lens_topk_merge, set_lens, set_lens_norm,
        set_lens_stats_partial, set_lens_stats_merge, set_lens_rank;
    /* the lens of hidden states handed in (vk_lens): they arrive through lens_upload, and
     * the candidates are the top-k of the last entry's row of lens_logits */
    vk_buffer lens_upload;
    VkDescriptorSet set_lens_last_partial;

    VkDescriptorPool pool;
    vk_use use_embd, use_pos, use_out, use_out_x;
    VkDescriptorSet set_add_pos, set_norm, set_q_norm, set_rope_q, set_swiglu, set_swiglu_pairs, set_gelu,
        set_topk_partial, set_topk_merge, set_attn_merge;

    /* the next decode step, recorded while the GPU ran this one (see run_ubatch);
     * LLMSCOPE_VK_PRERECORD=0 turns this off */
    bool prerecord, next_ready;
    ubatch next;
    int next_slot;
    long prerecorded;  /* steps that ran from such a recording */

    bool profile;
    const char *marks[VK_MAX_TIMESTAMPS];
    profile_entry prof[MAX_PROFILE_NAMES];
    int n_prof;
    long prof_submits, prof_dispatches, prof_barriers; /* summed over profiled submits */
} vk_engine;

static int fail(char *err, size_t errlen, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

static int imin(int a, int b) { return a < b ? a : b; }

/* --- creation ---------------------------------------------------------------------- */

/* Host-side staging of the small f32 vectors (norm weights, biases) that all go into
 * one device buffer; kernels find each by its offset. */
typedef struct param_pack {
    float *data;
    size_t n, cap;
} param_pack;

static int pack_vector(param_pack *p, const float *v, int n, uint32_t *offset) {
    if (!v) {
        *offset = NO_PARAM;
        return 0;
    }
    if (p->n + (size_t)n > p->cap) {
        size_t cap = (p->cap ? p->cap * 2 : 4096) + (size_t)n;
        float *d = realloc(p->data, cap * sizeof *d);
        if (!d) return -1;
        p->data = d;
        p->cap = cap;
    }
    memcpy(p->data + p->n, v, (size_t)n * sizeof *v);
    *offset = (uint32_t)p->n;
    p->n += (size_t)n;
    return 0;
}

/* A use of W reading IN and writing OUT: a matrix product's (the weight part, in, out,
 * the params and the rope table) when PRODUCT, else an embedding lookup's (the weight
 * part, the ids, out). */
static int use_create(vk_engine *e, vk_use *u, const vk_weight *w, vk_buffer *in, vk_buffer *out,
                      bool product, char *err, size_t errlen) {
    u->w = w;
    u->sets = calloc((size_t)w->n_parts, sizeof *u->sets);
    if (!u->sets) return fail(err, errlen, "out of memory");
    vk_buffer *table = e->base.model->hp.rope == ROPE_NONE ? &e->dummy : &e->rope_table;
    for (int i = 0; i < w->n_parts; i++) {
        vk_buffer *bufs[5] = {&w->parts[i].buf, in, out, &e->params, table};
        if (vk_set_create(&e->rt, e->pool, product ? 5 : 3, bufs, &u->sets[i], err, errlen)) return -1;
    }
    return 0;
}

/* NEOX rope rotates dimension pairs (i, i + rope_dim/2) of each head; storing q and k
 * with dimension order 0, half, 1, half + 1, ... (the rest unchanged) makes every rotated
 * pair two neighbouring rows, as for the NORM layout, so one kernel path rotates both and
 * the decode path can rotate inside the q and k products. Attention only ever takes dot
 * products of q with k, which the same permutation of both leaves unchanged; biases and
 * the per-head norm gains of q and k are permuted alike. Returns the source dimension of
 * dimension D of a head. */
static int rope_pair_source(int d, int rope_dim) {
    int half = rope_dim / 2;
    return d >= rope_dim ? d : (d & 1) ? d / 2 + half : d / 2;
}

static bool permute_qk(const model_hparams *hp) { return hp->rope == ROPE_NEOX; }

/* Uploads a q or k matrix (N_HEADS heads), its rows permuted for NEOX models. */
static int upload_qk(vk_engine *e, const weight *w, int n_heads, vk_weight *out, char *err, size_t errlen) {
    const model_hparams *hp = &e->base.model->hp;
    if (!permute_qk(hp) || w->rows != (int64_t)n_heads * hp->head_dim)
        return vk_weight_upload(&e->rt, &e->staging, w, out, err, errlen);
    uint32_t rows = (uint32_t)w->rows, *map = malloc((size_t)rows * 2 * sizeof *map);
    if (!map) return fail(err, errlen, "out of memory");
    for (uint32_t r = 0; r < rows; r++) {
        uint32_t h = r / (uint32_t)hp->head_dim, d = r % (uint32_t)hp->head_dim;
        map[2 * r] = 0;
        map[2 * r + 1] = h * (uint32_t)hp->head_dim + (uint32_t)rope_pair_source((int)d, hp->rope_dim);
    }
    int rc = vk_weight_upload_rows(&e->rt, &e->staging, &w, 1, map, rows, out, err, errlen);
    free(map);
    return rc;
}

/* Packs vector V of N floats (heads of head_dim, or one head's gains), permuted like q
 * and k for NEOX models. */
static int pack_qk_vector(param_pack *p, const model_hparams *hp, const float *v, int n, uint32_t *offset) {
    if (!v || !permute_qk(hp)) return pack_vector(p, v, n, offset);
    float *t = malloc((size_t)n * sizeof *t);
    if (!t) return -1;
    for (int i = 0; i < n; i++)
        t[i] = v[(i / hp->head_dim) * hp->head_dim + rope_pair_source(i % hp->head_dim, hp->rope_dim)];
    int rc = pack_vector(p, t, n, offset);
    free(t);
    return rc;
}

static int set_create(vk_engine *e, VkDescriptorSet *set, char *err, size_t errlen, int n, ...) {
    vk_buffer *bufs[VK_MAX_BINDINGS];
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n; i++) bufs[i] = va_arg(ap, vk_buffer *);
    va_end(ap);
    return vk_set_create(&e->rt, e->pool, n, bufs, set, err, errlen);
}

static int upload_layer_weights(vk_engine *e, const layer_weights *lw, vk_layer *L, char *err,
                                size_t errlen) {
    const model_hparams *hp = &e->base.model->hp;
    if ((lw->wq.data && upload_qk(e, &lw->wq, hp->n_head, &L->wq, err, errlen)) ||
        (lw->wk.data && upload_qk(e, &lw->wk, hp->n_head_kv, &L->wk, err, errlen)))
        return -1;
    const weight *g = &lw->ffn_gate, *u = &lw->ffn_up;
    bool interleave = g->data && u->data && g->type == u->type && g->cols == u->cols &&
                      g->rows == u->rows && g->row_bytes == u->row_bytes && g->rows <= INT32_MAX / 2;
    if (interleave) {
        const weight *srcs[2] = {g, u};
        uint32_t rows = 2 * (uint32_t)g->rows, *map = malloc((size_t)rows * 2 * sizeof *map);
        if (!map) return fail(err, errlen, "out of memory");
        for (uint32_t r = 0; r < rows; r++) map[2 * r] = r & 1, map[2 * r + 1] = r / 2;
        int rc = vk_weight_upload_rows(&e->rt, &e->staging, srcs, 2, map, rows, &L->gate_up, err, errlen);
        free(map);
        if (rc) return -1;
    }
    struct { const weight *src; vk_weight *dst; } mats[] = {
        {&lw->wv, &L->wv}, {&lw->wqkv, &L->wqkv}, {&lw->wo, &L->wo}, {&lw->ffn_down, &L->down},
        {interleave ? NULL : g, &L->gate}, {interleave ? NULL : u, &L->up},
    };
    for (size_t i = 0; i < sizeof mats / sizeof mats[0]; i++)
        if (mats[i].src && mats[i].src->data &&
            vk_weight_upload(&e->rt, &e->staging, mats[i].src, mats[i].dst, err, errlen))
            return -1;
    return 0;
}

static int pack_layer_params(param_pack *p, const model_hparams *hp, const layer_weights *lw,
                             vk_layer *L) {
    int d = hp->n_embd, qd = hp->n_head * hp->head_dim, kvd = hp->n_head_kv * hp->head_dim;
    return pack_vector(p, lw->attn_norm, d, &L->attn_norm) ||
           pack_vector(p, lw->attn_norm_b, d, &L->attn_norm_b) ||
           pack_vector(p, lw->ffn_norm, d, &L->ffn_norm) ||
           pack_vector(p, lw->ffn_norm_b, d, &L->ffn_norm_b) ||
           pack_qk_vector(p, hp, lw->bq, qd, &L->bq) || pack_qk_vector(p, hp, lw->bk, kvd, &L->bk) ||
           pack_vector(p, lw->bv, kvd, &L->bv) || pack_vector(p, lw->bqkv, 3 * d, &L->bqkv) ||
           pack_vector(p, lw->bo, d, &L->bo) || pack_vector(p, lw->ffn_up_b, hp->n_ff, &L->up_b) ||
           pack_vector(p, lw->ffn_down_b, d, &L->down_b) ||
           pack_qk_vector(p, hp, lw->q_norm, hp->head_dim, &L->q_norm) ||
           pack_qk_vector(p, hp, lw->k_norm, hp->head_dim, &L->k_norm);
}

/* Descriptor sets the weights' uses need (each use binds every part of its weight). */
static int total_parts(const vk_engine *e, int n_layer) {
    int n = e->token_embd.n_parts + e->position_embd.n_parts + 4 * e->output->n_parts;
    for (int l = 0; l < n_layer; l++) {
        const vk_layer *L = &e->layers[l];
        n += 2 * (L->wq.n_parts + L->wk.n_parts + L->wv.n_parts + L->gate_up.n_parts) + 3 * L->wqkv.n_parts +
             L->wo.n_parts + L->gate.n_parts + L->up.n_parts + L->down.n_parts;
    }
    return n;
}

/* Sizes of the per-micro-batch buffers follow from the model, n_ctx and the device's
 * buffer limit; a context the device cannot hold is an error here, not at eval time. */
static int plan_sizes(vk_engine *e, char *err, size_t errlen) {
    const model_hparams *hp = &e->base.model->hp;
    const uint64_t limit = e->rt.max_range, n_ctx = (uint64_t)e->base.n_ctx;
    const uint64_t budget = limit < SCRATCH_BUDGET ? limit : SCRATCH_BUDGET;
    uint64_t per_token[] = {(uint64_t)hp->n_head * n_ctx * 4, (uint64_t)hp->n_vocab * 4,
                            (uint64_t)hp->n_ff * 4, (uint64_t)e->q_dim * 4};
    uint64_t ub = MAX_UBATCH;
    for (size_t i = 0; i < sizeof per_token / sizeof per_token[0]; i++)
        if (budget / per_token[i] < ub) ub = budget / per_token[i];
    if (ub < 1 || n_ctx * (uint64_t)e->kv_dim * 4 > limit)
        return fail(err, errlen, "context of %d tokens is too long for %s's buffer limit (%.0f MiB); "
                    "use a smaller context", e->base.n_ctx, e->rt.props.deviceName, limit / 1048576.0);
    e->ubatch = (int)ub;
    e->cap_rows = 0;
    if (e->capture) {
        uint64_t row = (uint64_t)hp->n_layer * hp->n_head * n_ctx * 4;
        if (row > limit)
            return fail(err, errlen, "attention capture for %d layers x %d heads x %d positions needs "
                        "%.0f MiB, over %s's buffer limit; use a smaller context or turn capture off",
                        hp->n_layer, hp->n_head, e->base.n_ctx, row / 1048576.0, e->rt.props.deviceName);
        e->cap_rows = (int)(budget / row < ub ? budget / row : ub);
        if (e->cap_rows < 1) e->cap_rows = 1;
    }
    return 0;
}

static int create_buffers(vk_engine *e, char *err, size_t errlen) {
    const model_hparams *hp = &e->base.model->hp;
    const VkDeviceSize ub = (VkDeviceSize)e->ubatch, f = sizeof(float), n_ctx = (VkDeviceSize)e->base.n_ctx;
    const VkDeviceSize n_chunks = vk_topk_chunks((uint32_t)hp->n_vocab);
    struct { vk_buffer *b; VkDeviceSize size; vk_mem_kind kind; const char *what; } list[] = {
        {&e->x, ub * hp->n_embd * f, VK_MEM_DEVICE, "activations"},
        {&e->xn, ub * hp->n_embd * f, VK_MEM_DEVICE, "activations"},
        {&e->q, ub * e->q_dim * f, VK_MEM_DEVICE, "queries"},
        {&e->att, ub * e->q_dim * f, VK_MEM_DEVICE, "attention output"},
        {&e->ffa, ub * hp->n_ff * f, VK_MEM_DEVICE, "MLP activations"},
        {&e->ffb, ub * 2 * hp->n_ff * f, VK_MEM_DEVICE, "MLP activations"}, /* interleaved gate, up */
        {&e->logits, ub * hp->n_vocab * f, VK_MEM_DEVICE, "logits"},
        {&e->scores, (VkDeviceSize)hp->n_head * ub * n_ctx * f, VK_MEM_DEVICE, "attention scores"},
        {&e->attn_part, vk_attention_part_floats(&e->k, (uint32_t)n_ctx, (uint32_t)hp->n_head, (uint32_t)hp->head_dim) * f,
         VK_MEM_DEVICE, "attention chunk records"},
        {&e->topk_part, ub * n_chunks * (3 + 2 * VK_TOPK_MAX) * f, VK_MEM_DEVICE, "top-k scratch"},
        {&e->topk_out, ub * (2 + 2 * VK_TOPK_MAX) * f, VK_MEM_DEVICE, "top-k results"},
        {&e->ids, ub * sizeof(int32_t), VK_MEM_UPLOAD, "token ids"},
        {&e->logits_rb, ub * hp->n_vocab * f, VK_MEM_READBACK, "logits readback"},
        {&e->hidden_rb, (VkDeviceSize)(hp->n_layer + 1) * hp->n_embd * f, VK_MEM_READBACK, "hidden states"},
        {&e->topk_rb, ub * (2 + 2 * VK_TOPK_MAX) * f, VK_MEM_READBACK, "top-k readback"},
        {&e->dummy, 16, VK_MEM_DEVICE, "placeholder"},
        {&e->capture_buf, e->capture ? (VkDeviceSize)hp->n_layer * hp->n_head * e->cap_rows * n_ctx * f : 16,
         VK_MEM_READBACK, "attention capture"},
    };
    for (size_t i = 0; i < sizeof list / sizeof list[0]; i++)
        if (vk_buffer_create(&e->rt, list[i].b, list[i].size, list[i].kind, list[i].what, err, errlen))
            return -1;
    const VkDeviceSize entries = (VkDeviceSize)hp->n_layer + 1, LK = ENGINE_LENS_MAX;
    struct { vk_buffer *b; VkDeviceSize size; vk_mem_kind kind; } lens[] = {
        {&e->hid, entries * hp->n_embd * f, VK_MEM_DEVICE},
        {&e->lens_topk_part, n_chunks * (3 + 2 * VK_TOPK_MAX) * f, VK_MEM_DEVICE},
        {&e->lens_topk_out, (2 + 2 * VK_TOPK_MAX) * f, VK_MEM_DEVICE},
        {&e->lens_cand, LK * hp->n_embd * f, VK_MEM_DEVICE},
        {&e->lens_out, entries * LK * f, VK_MEM_DEVICE},
        {&e->lens_xn, entries * hp->n_embd * f, VK_MEM_DEVICE},
        {&e->lens_stats_part, entries * n_chunks * 5 * f, VK_MEM_DEVICE},
        {&e->lens_stats, entries * 4 * f, VK_MEM_DEVICE},
        {&e->lens_ranks, entries * LK * f, VK_MEM_DEVICE},
        {&e->lens_rb, (2 + 2 * VK_TOPK_MAX + entries * (2 * LK + 4)) * f, VK_MEM_READBACK},
    };
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++)
        if (vk_buffer_create(&e->rt, lens[i].b, lens[i].size, lens[i].kind, "logit lens", err, errlen)) return -1;
    /* the full lens decodes every entry over the whole vocabulary; without room for that
     * (a small buffer limit) only the candidates' lens is offered */
    char ignored[256];
    e->lens_full_ok = vk_buffer_create(&e->rt, &e->lens_logits, entries * hp->n_vocab * f, VK_MEM_DEVICE,
                                       "logit lens", ignored, sizeof ignored) == 0;
    if (e->lens_full_ok &&
        vk_buffer_create(&e->rt, &e->lens_upload, entries * hp->n_embd * f, VK_MEM_UPLOAD, "logit lens", err, errlen))
        return -1;
    for (int l = 0; l < hp->n_layer; l++)
        if (vk_buffer_create(&e->rt, &e->layers[l].k_cache, n_ctx * e->kv_dim * f, VK_MEM_DEVICE, "KV cache", err, errlen) ||
            vk_buffer_create(&e->rt, &e->layers[l].v_cache, n_ctx * e->kv_dim * f, VK_MEM_DEVICE, "KV cache", err, errlen))
            return -1;
    return 0;
}

static int create_sets(vk_engine *e, char *err, size_t errlen) {
    const model_hparams *hp = &e->base.model->hp;
    vk_buffer *table = hp->rope == ROPE_NONE ? &e->dummy : &e->rope_table;
    if (vk_pool_create(&e->rt, (uint32_t)(32 + 8 * hp->n_layer + total_parts(e, hp->n_layer)), &e->pool, err, errlen) ||
        use_create(e, &e->use_embd, &e->token_embd, &e->ids, &e->x, false, err, errlen) ||
        use_create(e, &e->use_out, e->output, &e->xn, &e->logits, true, err, errlen) ||
        use_create(e, &e->use_out_x, e->output, &e->x, &e->logits, true, err, errlen) ||
        set_create(e, &e->set_norm, err, errlen, 3, &e->x, &e->params, &e->xn) ||
        set_create(e, &e->set_q_norm, err, errlen, 3, &e->q, &e->params, &e->q) ||
        set_create(e, &e->set_rope_q, err, errlen, 2, &e->q, table) ||
        set_create(e, &e->set_swiglu, err, errlen, 3, &e->ffa, &e->ffb, &e->ffa) ||
        set_create(e, &e->set_swiglu_pairs, err, errlen, 3, &e->ffb, &e->ffb, &e->ffa) ||
        set_create(e, &e->set_gelu, err, errlen, 2, &e->ffa, &e->ffa) ||
        set_create(e, &e->set_topk_partial, err, errlen, 2, &e->logits, &e->topk_part) ||
        set_create(e, &e->set_topk_merge, err, errlen, 2, &e->topk_part, &e->topk_out))
        return -1;
    vk_buffer *cap = e->capture ? &e->capture_buf : &e->dummy;
    if (set_create(e, &e->set_attn_merge, err, errlen, 4, &e->attn_part, &e->scores, &e->att, cap) ||
        set_create(e, &e->set_lens_topk_partial, err, errlen, 2, &e->logits, &e->lens_topk_part) ||
        set_create(e, &e->set_lens_topk_merge, err, errlen, 2, &e->lens_topk_part, &e->lens_topk_out) ||
        use_create(e, &e->use_lens_rows, e->output, &e->lens_topk_out, &e->lens_cand, false, err, errlen) ||
        set_create(e, &e->set_lens, err, errlen, 4, &e->hid, &e->lens_cand, &e->params, &e->lens_out))
        return -1;
    if (e->lens_full_ok &&
        (set_create(e, &e->set_lens_norm, err, errlen, 3, &e->hid, &e->params, &e->lens_xn) ||
         use_create(e, &e->use_lens_out, e->output, &e->lens_xn, &e->lens_logits, true, err, errlen) ||
         set_create(e, &e->set_lens_stats_partial, err, errlen, 2, &e->lens_logits, &e->lens_stats_part) ||
         set_create(e, &e->set_lens_stats_merge, err, errlen, 2, &e->lens_stats_part, &e->lens_stats) ||
         set_create(e, &e->set_lens_rank, err, errlen, 3, &e->lens_logits, &e->lens_topk_out, &e->lens_ranks) ||
         set_create(e, &e->set_lens_last_partial, err, errlen, 2, &e->lens_logits, &e->lens_topk_part)))
        return -1;
    if (e->position_embd.n_parts &&
        (use_create(e, &e->use_pos, &e->position_embd, &e->ids, &e->xn, false, err, errlen) ||
         set_create(e, &e->set_add_pos, err, errlen, 3, &e->x, &e->xn, &e->x)))
        return -1;
    for (int l = 0; l < hp->n_layer; l++) {
        vk_layer *L = &e->layers[l];
        bool fused = L->wqkv.n_parts > 0;
        const vk_weight *wq = fused ? &L->wqkv : &L->wq, *wk = fused ? &L->wqkv : &L->wk,
                        *wv = fused ? &L->wqkv : &L->wv;
        if (use_create(e, &L->use_q, wq, &e->xn, &e->q, true, err, errlen) ||
            use_create(e, &L->use_k, wk, &e->xn, &L->k_cache, true, err, errlen) ||
            use_create(e, &L->use_v, wv, &e->xn, &L->v_cache, true, err, errlen) ||
            use_create(e, &L->use_o, &L->wo, &e->att, &e->x, true, err, errlen) ||
            use_create(e, &L->use_down, &L->down, &e->ffa, &e->x, true, err, errlen) ||
            (L->up.n_parts && use_create(e, &L->use_up, &L->up, &e->xn, hp->gelu ? &e->ffa : &e->ffb, true, err, errlen)) ||
            (L->gate.n_parts && use_create(e, &L->use_gate, &L->gate, &e->xn, &e->ffa, true, err, errlen)) ||
            (L->gate_up.n_parts && use_create(e, &L->use_gate_up, &L->gate_up, &e->xn, &e->ffb, true, err, errlen)) ||
            set_create(e, &L->set_k_norm, err, errlen, 3, &L->k_cache, &e->params, &L->k_cache) ||
            set_create(e, &L->set_rope_k, err, errlen, 2, &L->k_cache, table) ||
            set_create(e, &L->set_attention, err, errlen, 7, &e->q, &L->k_cache, &L->v_cache, &e->att,
                       &e->scores, cap, &e->attn_part))
            return -1;
        if (e->fuse && (use_create(e, &L->use_q_x, wq, &e->x, &e->q, true, err, errlen) ||
                        use_create(e, &L->use_k_x, wk, &e->x, &L->k_cache, true, err, errlen) ||
                        use_create(e, &L->use_v_x, wv, &e->x, &L->v_cache, true, err, errlen) ||
                        (L->gate_up.n_parts &&
                         use_create(e, &L->use_gate_up_x, &L->gate_up, &e->x, &e->ffa, true, err, errlen))))
            return -1;
    }
    return 0;
}

static void vk_destroy(engine *base);
static int vk_eval(engine *base, const engine_batch *b, char *err, size_t errlen);
static int vk_lens(engine *base, const engine_lens_query *q, char *err, size_t errlen);
static const engine_ops VK_OPS = {vk_eval, vk_destroy, vk_lens};

engine *engine_vulkan_create(const model *m, int n_ctx, int device_index, bool capture,
                             char *err, size_t errlen) {
    const model_hparams *hp = &m->hp;
    if (n_ctx <= 0) {
        fail(err, errlen, "context size must be positive (got %d)", n_ctx);
        return NULL;
    }
    if (hp->head_dim > VK_MAX_HEAD_DIM || hp->head_dim % 2 || hp->rope_dim % 2 ||
        hp->n_head % hp->n_head_kv) {
        fail(err, errlen, "%s: head layout (head_dim %d, %d/%d heads) is not supported by the Vulkan "
             "backend", m->name, hp->head_dim, hp->n_head, hp->n_head_kv);
        return NULL;
    }
    vk_engine *e = calloc(1, sizeof *e);
    if (!e) {
        fail(err, errlen, "out of memory");
        return NULL;
    }
    e->base.ops = &VK_OPS;
    e->base.model = m;
    e->base.n_ctx = n_ctx;
    snprintf(e->base.backend, sizeof e->base.backend, "vulkan");
    e->capture = capture;
    e->q_dim = hp->n_head * hp->head_dim;
    e->kv_dim = hp->n_head_kv * hp->head_dim;
    /* LLMSCOPE_VK_FUSE=0 turns the decode fusions off (to measure what they save) */
    const char *fuse = getenv("LLMSCOPE_VK_FUSE");
    e->fuse = !hp->layer_norm && !(fuse && strcmp(fuse, "0") == 0);
    const char *prof = getenv("LLMSCOPE_VK_PROFILE"), *pre = getenv("LLMSCOPE_VK_PRERECORD");
    e->profile = prof && strcmp(prof, "1") == 0;
    e->prerecord = !(pre && strcmp(pre, "0") == 0);
    param_pack pack = {0};

    if (vk_runtime_init(&e->rt, device_index, err, errlen)) goto fail;
    snprintf(e->base.device_name, sizeof e->base.device_name, "%.127s", e->rt.props.deviceName);
    e->layers = calloc((size_t)hp->n_layer, sizeof *e->layers);
    if (!e->layers) {
        fail(err, errlen, "out of memory");
        goto fail;
    }
    if (plan_sizes(e, err, errlen) || vk_kernels_create(&e->rt, &e->k, err, errlen)) goto fail;

    VkDeviceSize staging = 64ull << 20;
    if (staging > e->rt.max_range) staging = e->rt.max_range;
    if (vk_buffer_create(&e->rt, &e->staging, staging, VK_MEM_UPLOAD, "upload staging", err, errlen) ||
        vk_weight_upload(&e->rt, &e->staging, &m->token_embd, &e->token_embd, err, errlen) ||
        (m->position_embd.data &&
         vk_weight_upload(&e->rt, &e->staging, &m->position_embd, &e->position_embd, err, errlen)))
        goto fail;
    if (hp->tied_output || m->output.data == m->token_embd.data) {
        e->output = &e->token_embd;
    } else {
        if (vk_weight_upload(&e->rt, &e->staging, &m->output, &e->output_own, err, errlen)) goto fail;
        e->output = &e->output_own;
    }
    for (int l = 0; l < hp->n_layer; l++)
        if (upload_layer_weights(e, &m->layers[l], &e->layers[l], err, errlen)) goto fail;

    /* the vectors, and the rope table, in one upload each */
    bool oom = pack_vector(&pack, m->output_norm, hp->n_embd, &e->output_norm) ||
               pack_vector(&pack, m->output_norm_b, hp->n_embd, &e->output_norm_b);
    for (int l = 0; l < hp->n_layer && !oom; l++)
        oom = pack_layer_params(&pack, hp, &m->layers[l], &e->layers[l]);
    if (oom) {
        fail(err, errlen, "out of memory");
        goto fail;
    }
    if (vk_buffer_create(&e->rt, &e->params, pack.n * sizeof(float), VK_MEM_DEVICE, "norm weights and biases", err, errlen) ||
        vk_upload(&e->rt, &e->staging, &e->params, 0, pack.data, pack.n * sizeof(float), err, errlen))
        goto fail;
    if (hp->rope != ROPE_NONE) {
        float *table = vk_rope_table(n_ctx, hp->rope_dim, hp->rope_base, hp->rope_freq_scale, m->rope_freqs);
        size_t bytes = (size_t)n_ctx * (size_t)hp->rope_dim * sizeof(float);
        int rc = !table ? fail(err, errlen, "out of memory")
                        : vk_buffer_create(&e->rt, &e->rope_table, bytes, VK_MEM_DEVICE, "rope table", err, errlen) ||
                              vk_upload(&e->rt, &e->staging, &e->rope_table, 0, table, bytes, err, errlen);
        free(table);
        if (rc) goto fail;
    }
    if (create_buffers(e, err, errlen) || create_sets(e, err, errlen)) goto fail;
    free(pack.data);
    return &e->base;

fail:
    free(pack.data);
    vk_destroy(&e->base);
    return NULL;
}

static void use_free(vk_use *u) { free(u->sets); }

static void vk_destroy(engine *base) {
    vk_engine *e = (vk_engine *)base;
    if (!e) return;
    if (e->profile) engine_vulkan_print_profile(base, stderr);
    vk_runtime *rt = &e->rt;
    if (rt->dev && !rt->hung) { /* after a hang nothing may be destroyed (vk_runtime_free) */
        rt->vk.DeviceWaitIdle(rt->dev);
        const model_hparams *hp = &base->model->hp;
        for (int l = 0; e->layers && l < hp->n_layer; l++) {
            vk_layer *L = &e->layers[l];
            vk_weight *ws[] = {&L->wq, &L->wk, &L->wv, &L->wqkv, &L->wo, &L->gate, &L->up, &L->gate_up, &L->down};
            for (size_t i = 0; i < sizeof ws / sizeof ws[0]; i++) vk_weight_free(rt, ws[i]);
            vk_buffer_destroy(rt, &L->k_cache);
            vk_buffer_destroy(rt, &L->v_cache);
        }
        vk_weight_free(rt, &e->token_embd);
        vk_weight_free(rt, &e->position_embd);
        vk_weight_free(rt, &e->output_own);
        vk_buffer *bufs[] = {&e->params, &e->rope_table, &e->dummy, &e->staging, &e->x, &e->xn,
                             &e->q, &e->att, &e->ffa, &e->ffb, &e->logits, &e->scores, &e->attn_part,
                             &e->topk_part, &e->topk_out, &e->ids, &e->logits_rb,
                             &e->capture_buf, &e->hidden_rb, &e->topk_rb, &e->hid, &e->lens_topk_part,
                             &e->lens_topk_out, &e->lens_cand, &e->lens_out, &e->lens_xn, &e->lens_logits,
                             &e->lens_stats_part, &e->lens_stats, &e->lens_ranks, &e->lens_rb,
                             &e->lens_upload};
        for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) vk_buffer_destroy(rt, bufs[i]);
        if (e->pool) rt->vk.DestroyDescriptorPool(rt->dev, e->pool, NULL);
        vk_kernels_destroy(rt, &e->k);
    }
    for (int l = 0; e->layers && l < base->model->hp.n_layer; l++) {
        vk_layer *L = &e->layers[l];
        vk_use *us[] = {&L->use_q, &L->use_k, &L->use_v, &L->use_o, &L->use_gate, &L->use_up, &L->use_gate_up,
                        &L->use_down, &L->use_q_x, &L->use_k_x, &L->use_v_x, &L->use_gate_up_x};
        for (size_t i = 0; i < sizeof us / sizeof us[0]; i++) use_free(us[i]);
    }
    use_free(&e->use_embd);
    use_free(&e->use_pos);
    use_free(&e->use_out);
    use_free(&e->use_out_x);
    use_free(&e->use_lens_rows);
    use_free(&e->use_lens_out);
    free(e->layers);
    vk_runtime_free(rt);
    free(e);
}

/* --- profiling --------------------------------------------------------------------- */

/* Marks the end of the work recorded since the previous mark as NAME's. */
static void mark(vk_engine *e, const char *name) {
    if (!e->profile) return;
    int i = vk_timestamp(&e->rt);
    if (i >= 0) e->marks[i] = name;
}

static void collect_profile(vk_engine *e) {
    uint32_t n = e->rt.n_timestamps;
    double ns[VK_MAX_TIMESTAMPS];
    if (!e->profile) return;
    e->prof_submits++;
    e->prof_dispatches += e->rt.n_dispatches;
    e->prof_barriers += e->rt.n_barriers;
    if (n < 2 || vk_read_timestamps(&e->rt, ns, n)) return;
    for (uint32_t i = 1; i < n; i++) {
        int j = 0;
        while (j < e->n_prof && strcmp(e->prof[j].name, e->marks[i]) != 0) j++;
        if (j == e->n_prof) {
            if (j == MAX_PROFILE_NAMES) continue;
            e->prof[e->n_prof++] = (profile_entry){e->marks[i], 0, 0};
        }
        e->prof[j].ns += ns[i] - ns[i - 1];
        e->prof[j].count++;
    }
}

void engine_vulkan_print_profile(const engine *base, FILE *out) {
    const vk_engine *e = (const vk_engine *)base;
    if (!e->profile || e->n_prof == 0) return;
    double total = 0;
    for (int i = 0; i < e->n_prof; i++) total += e->prof[i].ns;
    fprintf(out, "GPU time per step on %s (%.3f ms in all, %ld submits, per submit %.1f dispatches and "
            "%.1f barriers):\n", e->rt.props.deviceName, total / 1e6, e->prof_submits,
            (double)e->prof_dispatches / (double)(e->prof_submits ? e->prof_submits : 1),
            (double)e->prof_barriers / (double)(e->prof_submits ? e->prof_submits : 1));
    for (int i = 0; i < e->n_prof; i++)
        fprintf(out, "  %-18s %10.3f ms %6.1f%%  %7ld times %9.2f us each\n", e->prof[i].name, e->prof[i].ns / 1e6,
                100.0 * e->prof[i].ns / (total > 0 ? total : 1), e->prof[i].count,
                e->prof[i].ns / 1e3 / (double)(e->prof[i].count ? e->prof[i].count : 1));
}

void engine_vulkan_reset_profile(engine *base) {
    vk_engine *e = (vk_engine *)base;
    e->n_prof = 0;
    e->prof_submits = e->prof_dispatches = e->prof_barriers = 0;
}

long engine_vulkan_prerecorded_steps(const engine *base) {
    return ((const vk_engine *)base)->prerecorded;
}

int engine_vulkan_validation_errors(const engine *base) {
    return ((const vk_engine *)base)->rt.validation_errors;
}

long engine_vulkan_inserted_barriers(const engine *base) {
    return (long)((const vk_engine *)base)->rt.sync.n_inserted;
}

int engine_vulkan_list_devices(FILE *out, char *err, size_t errlen) {
    return vk_list_devices(out, err, errlen);
}

int engine_vulkan_auto_device_kind(char *name, size_t cap, char *err, size_t errlen) {
    vk_runtime *rt = calloc(1, sizeof *rt);
    if (!rt) return fail(err, errlen, "out of memory");
    int kind = -1;
    if (vk_runtime_init(rt, -1, err, errlen) == 0) {
        kind = rt->props.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU ? 1 : 0;
        if (name && cap) snprintf(name, cap, "%s", rt->props.deviceName);
    }
    vk_runtime_free(rt);
    free(rt);
    return kind;
}

/* --- the forward pass -------------------------------------------------------------- */

/* Records W x for rows ROW_BEGIN .. +ROW_COUNT of U's weight, one dispatch per part the
 * range touches; P carries the vector layout and flags, and its y_off / bias_off refer
 * to ROW_BEGIN (a GLU product writes one output per pair of rows). */
static void matvec(vk_engine *e, const vk_use *u, uint32_t row_begin, uint32_t row_count,
                   vk_matvec_push p) {
    const vk_weight *w = u->w;
    uint32_t row_end = row_begin + row_count;
    for (int i = 0; i < w->n_parts; i++) {
        const vk_weight_part *part = &w->parts[i];
        uint32_t lo = row_begin > part->row0 ? row_begin : part->row0;
        uint32_t hi = row_end < part->row0 + part->rows ? row_end : part->row0 + part->rows;
        if (lo >= hi) continue;
        vk_matvec_push q = p;
        q.cols = w->cols;
        q.row_bytes = w->row_bytes;
        q.row0 = lo - part->row0;
        q.rows = hi - lo;
        q.y_off = p.y_off + (p.flags & VK_MATVEC_GLU ? (lo - row_begin) / 2 : lo - row_begin);
        q.bias_off = p.bias_off + (lo - row_begin);
        q.row_base = lo - row_begin;
        vk_op_matrix(&e->rt, &e->k, w->type, u->sets[i], &q);
    }
}

/* A vector layout for matvec: N vectors of X_STRIDE floats in, Y_STRIDE out. */
static vk_matvec_push mv(uint32_t n, uint32_t x_off, uint32_t x_stride, uint32_t y_off,
                         uint32_t y_stride, uint32_t bias, bool accumulate) {
    return (vk_matvec_push){.n = n, .x_off = x_off, .x_stride = x_stride, .y_off = y_off,
                            .y_stride = y_stride, .bias_off = bias == NO_PARAM ? 0 : bias,
                            .flags = (bias != NO_PARAM ? VK_MATVEC_BIAS : 0u) |
                                     (accumulate ? VK_MATVEC_ACCUMULATE : 0u)};
}

/* P with the input RMS-normalised on the fly by gain G (the decode path). */
static vk_matvec_push with_norm(const vk_engine *e, vk_matvec_push p, uint32_t g) {
    p.flags |= VK_MATVEC_NORM;
    p.norm_off = g;
    p.eps = e->base.model->hp.norm_eps;
    return p;
}

/* P with its output rotated as q or k at positions P0.. (the decode path). */
static vk_matvec_push with_rope(const vk_engine *e, vk_matvec_push p, uint32_t p0) {
    const model_hparams *hp = &e->base.model->hp;
    p.flags |= VK_MATVEC_ROPE;
    p.pos0 = p0;
    p.head_dim = (uint32_t)hp->head_dim;
    p.rope_dim = (uint32_t)hp->rope_dim;
    return p;
}

static void get_rows(vk_engine *e, const vk_use *u, uint32_t n, uint32_t ids_off, uint32_t flags) {
    const vk_weight *w = u->w;
    for (int i = 0; i < w->n_parts; i++) {
        vk_get_rows_push p = {.cols = w->cols, .n = n, .row_bytes = w->row_bytes,
                              .part_row0 = w->parts[i].row0, .part_rows = w->parts[i].rows,
                              .y_off = 0, .y_stride = w->cols, .ids_off = ids_off, .flags = flags};
        vk_op_get_rows(&e->rt, &e->k, w->type, u->sets[i], &p);
    }
}

/* Normalises N vectors of n_embd starting at vector FIRST, x -> xn. */
static void norm(vk_engine *e, uint32_t first, uint32_t n, uint32_t g, uint32_t b) {
    const model_hparams *hp = &e->base.model->hp;
    uint32_t d = (uint32_t)hp->n_embd, off = first * d;
    if (hp->layer_norm) {
        vk_layernorm_push p = {n, d, off, d, off, d, g == NO_PARAM ? 0 : g, b == NO_PARAM ? 0 : b,
                               (g != NO_PARAM ? VK_NORM_SCALE : 0u) | (b != NO_PARAM ? VK_NORM_SHIFT : 0u),
                               hp->norm_eps};
        vk_op_layernorm(&e->rt, &e->k, e->set_norm, &p);
    } else {
        vk_rmsnorm_push p = {n, d, off, d, off, d, g == NO_PARAM ? 0 : g,
                             g != NO_PARAM ? VK_NORM_SCALE : 0u, hp->norm_eps};
        vk_op_rmsnorm(&e->rt, &e->k, e->set_norm, &p);
    }
}


/* q, k and v of the batch, k and v straight into the cache at p0; with NORMED the input
 * is x (normalised on the fly by attn_norm) and q, k come out rotated, else xn. */
static void record_qkv(vk_engine *e, vk_layer *L, uint32_t n, uint32_t p0, bool fused, bool rope_inside) {
    const model_hparams *hp = &e->base.model->hp;
    const uint32_t d = (uint32_t)hp->n_embd, qd = (uint32_t)e->q_dim, kvd = (uint32_t)e->kv_dim;
    const vk_use *uq = fused ? &L->use_q_x : &L->use_q, *uk = fused ? &L->use_k_x : &L->use_k,
                 *uv = fused ? &L->use_v_x : &L->use_v;
    uint32_t bq = L->bq, bk = L->bk, bv = L->bv, kr = 0, vr = 0;
    if (L->wqkv.n_parts) { /* gpt2: rows [q | k | v] of one matrix and one bias */
        bq = L->bqkv;
        bk = L->bqkv == NO_PARAM ? NO_PARAM : L->bqkv + qd;
        bv = L->bqkv == NO_PARAM ? NO_PARAM : L->bqkv + qd + kvd;
        kr = qd;
        vr = qd + kvd;
    }
    vk_matvec_push pq = mv(n, 0, d, 0, qd, bq, false), pk = mv(n, 0, d, p0 * kvd, kvd, bk, false),
                   pv = mv(n, 0, d, p0 * kvd, kvd, bv, false);
    if (fused) {
        pq = with_norm(e, pq, L->attn_norm), pk = with_norm(e, pk, L->attn_norm), pv = with_norm(e, pv, L->attn_norm);
        if (rope_inside) pq = with_rope(e, pq, p0), pk = with_rope(e, pk, p0);
    }
    matvec(e, uq, 0, qd, pq);
    matvec(e, uk, kr, kvd, pk);
    matvec(e, uv, vr, kvd, pv);
}

/* One layer. The decode path (e->fuse and a batch the matvec kernel takes) is five steps,
 * each ending in a barrier: q/k/v (with the attention norm and rope inside), attention,
 * o (+ residual), gate/up (with the MLP norm and SwiGLU inside), down (+ residual). The
 * general path adds the norms, rope and SwiGLU as steps of their own (LayerNorm, Qwen3's
 * q/k norms, GELU, and batches for the matrix kernel). */
static void record_layer(vk_engine *e, int l, const ubatch *u) {
    const model_hparams *hp = &e->base.model->hp;
    vk_layer *L = &e->layers[l];
    const uint32_t n = (uint32_t)u->n, p0 = (uint32_t)u->p0, d = (uint32_t)hp->n_embd;
    const uint32_t qd = (uint32_t)e->q_dim, kvd = (uint32_t)e->kv_dim, hd = (uint32_t)hp->head_dim;
    const uint32_t ff = (uint32_t)hp->n_ff;
    const bool fused = e->fuse && n < e->k.matmul_min;
    const bool qk_norm = L->q_norm != NO_PARAM;
    const bool rope_inside = fused && hp->rope != ROPE_NONE && !qk_norm; /* q/k norms come before rope */

    if (!fused) {
        norm(e, 0, n, L->attn_norm, L->attn_norm_b);
        vk_barrier(&e->rt);
        mark(e, "norm");
    }
    record_qkv(e, L, n, p0, fused, rope_inside);
    vk_barrier(&e->rt);
    mark(e, fused ? "qkv+norm+rope" : "qkv");

    if (qk_norm) { /* qwen3: RMSNorm of every head of q and k */
        vk_rmsnorm_push pq = {n * (uint32_t)hp->n_head, hd, 0, hd, 0, hd, L->q_norm, VK_NORM_SCALE, hp->norm_eps};
        vk_op_rmsnorm(&e->rt, &e->k, e->set_q_norm, &pq);
        vk_rmsnorm_push pk = {n * (uint32_t)hp->n_head_kv, hd, p0 * kvd, hd, p0 * kvd, hd,
                              L->k_norm == NO_PARAM ? 0 : L->k_norm,
                              L->k_norm == NO_PARAM ? 0u : VK_NORM_SCALE, hp->norm_eps};
        vk_op_rmsnorm(&e->rt, &e->k, L->set_k_norm, &pk);
        vk_barrier(&e->rt);
        mark(e, "qk norm");
    }
    if (hp->rope != ROPE_NONE && !rope_inside) {
        /* NEOX models' q and k rows are stored pair by pair (rope_pair_source): NORM layout */
        vk_rope_push pq = {n, (uint32_t)hp->n_head, hd, (uint32_t)hp->rope_dim, p0, 0, qd, 0};
        vk_op_rope(&e->rt, &e->k, e->set_rope_q, &pq);
        vk_rope_push pk = {n, (uint32_t)hp->n_head_kv, hd, (uint32_t)hp->rope_dim, p0, p0 * kvd, kvd, 0};
        vk_op_rope(&e->rt, &e->k, L->set_rope_k, &pk);
        vk_barrier(&e->rt);
        mark(e, "rope");
    }

    bool capture = u->attention && u->n_out > 0;
    const int row_len = u->row_len;
    vk_attention_push pa = {
        .pos = p0, .head_dim = hd, .group = (uint32_t)(hp->n_head / hp->n_head_kv),
        .q_stride = qd, .kv_stride = kvd, .out_stride = qd, .score_stride = (uint32_t)e->base.n_ctx,
        .cap_first = capture ? u->out_first : -1, .cap_rows = capture ? (uint32_t)u->n_out : 0,
        .cap_stride = (uint32_t)row_len,
        .cap_off = capture ? (uint32_t)l * (uint32_t)hp->n_head * (uint32_t)u->n_out * (uint32_t)row_len : 0,
        .scale = 1.0f / sqrtf((float)hd)};
    vk_op_attention(&e->rt, &e->k, L->set_attention, e->set_attn_merge, &pa, n, (uint32_t)hp->n_head);
    vk_barrier(&e->rt);
    mark(e, "attention");

    matvec(e, &L->use_o, 0, d, mv(n, 0, qd, 0, d, L->bo, true)); /* x += Wo att */
    vk_barrier(&e->rt);
    mark(e, "o");

    if (fused && L->gate_up.n_parts) { /* ffa = silu(gate) * up of the normalised x */
        vk_matvec_push pg = with_norm(e, mv(n, 0, d, 0, ff, NO_PARAM, false), L->ffn_norm);
        pg.flags |= VK_MATVEC_GLU;
        matvec(e, &L->use_gate_up_x, 0, 2 * ff, pg);
        vk_barrier(&e->rt);
        mark(e, "gate/up+norm+glu");
    } else {
        norm(e, 0, n, L->ffn_norm, L->ffn_norm_b);
        vk_barrier(&e->rt);
        mark(e, "norm");
        if (hp->gelu) {
            matvec(e, &L->use_up, 0, ff, mv(n, 0, d, 0, ff, L->up_b, false));
            vk_barrier(&e->rt);
            mark(e, "up");
            vk_gelu_push pg = {n * ff, 0, 0};
            vk_op_gelu(&e->rt, &e->k, e->set_gelu, &pg);
            vk_barrier(&e->rt);
            mark(e, "gelu");
        } else if (L->gate_up.n_parts) { /* interleaved gate/up rows into ffb, then SwiGLU */
            matvec(e, &L->use_gate_up, 0, 2 * ff, mv(n, 0, d, 0, 2 * ff, NO_PARAM, false));
            vk_barrier(&e->rt);
            mark(e, "gate/up");
            vk_swiglu_push ps = {n * ff, 0, 1, 0, 2};
            vk_op_swiglu(&e->rt, &e->k, e->set_swiglu_pairs, &ps);
            vk_barrier(&e->rt);
            mark(e, "swiglu");
        } else {
            matvec(e, &L->use_gate, 0, ff, mv(n, 0, d, 0, ff, NO_PARAM, false));
            matvec(e, &L->use_up, 0, ff, mv(n, 0, d, 0, ff, L->up_b, false));
            vk_barrier(&e->rt);
            mark(e, "gate/up");
            vk_swiglu_push ps = {n * ff, 0, 0, 0, 1};
            vk_op_swiglu(&e->rt, &e->k, e->set_swiglu, &ps);
            vk_barrier(&e->rt);
            mark(e, "swiglu");
        }
    }
    matvec(e, &L->use_down, 0, d, mv(n, 0, ff, 0, d, L->down_b, true)); /* x += Wdown h */
    vk_barrier(&e->rt);
    mark(e, "down");
}

/* Where the lens results sit in lens_rb (floats): the candidates' top-k record, their
 * logits per entry, the full lens's per-entry record (log-sum-exp, entropy, top id, top
 * logit), the ranks. */
#define LENS_RB_LOGITS (2 + 2 * VK_TOPK_MAX)
#define LENS_RB_STATS(E) (LENS_RB_LOGITS + (E) * ENGINE_LENS_MAX)
#define LENS_RB_RANKS(E) (LENS_RB_STATS(E) + (E) * 4)

/* The lens kernel's arguments for K candidates: the final norm's scale and shift, and
 * FLAGS on top (8: the last entry is normalised already). */
static vk_lens_push lens_push(const vk_engine *e, uint32_t k, uint32_t flags) {
    const model_hparams *hp = &e->base.model->hp;
    return (vk_lens_push){(uint32_t)hp->n_embd, k, e->output_norm == NO_PARAM ? 0 : e->output_norm,
                          e->output_norm_b == NO_PARAM ? 0 : e->output_norm_b,
                          (e->output_norm != NO_PARAM ? VK_NORM_SCALE : 0u) |
                              (e->output_norm_b != NO_PARAM ? VK_NORM_SHIFT : 0u) | (hp->layer_norm ? 4u : 0u) | flags,
                          hp->norm_eps};
}

/* The final norm of the first N lens entries, hid -> lens_xn (the full lens decodes them). */
static void lens_norm(vk_engine *e, uint32_t n) {
    const model_hparams *hp = &e->base.model->hp;
    const vk_lens_push a = lens_push(e, 0, 0);
    const uint32_t d = a.dim, nflags = a.flags & (VK_NORM_SCALE | VK_NORM_SHIFT);
    if (hp->layer_norm) {
        vk_layernorm_push p = {n, d, 0, d, 0, d, a.g_off, a.b_off, nflags, a.eps};
        vk_op_layernorm(&e->rt, &e->k, e->set_lens_norm, &p);
    } else {
        vk_rmsnorm_push p = {n, d, 0, d, 0, d, a.g_off, nflags & VK_NORM_SCALE, a.eps};
        vk_op_rmsnorm(&e->rt, &e->k, e->set_lens_norm, &p);
    }
}

/* The logit lens of the last output row (engine.h), after its logits: the candidates
 * (the lens top-k of that row), their rows of the output head dequantised once, the
 * lens kernel over every entry of the residual stream (kept in hid while the layers
 * ran); with lens_full the entries normalised and decoded over the whole vocabulary in
 * one batched product, then their top-1 and log-sum-exp, and the candidates' ranks. */
static void record_lens(vk_engine *e, const ubatch *u) {
    const model_hparams *hp = &e->base.model->hp;
    const uint32_t V = (uint32_t)hp->n_vocab, d = (uint32_t)hp->n_embd, K = (uint32_t)u->lens_k;
    const uint32_t E = (uint32_t)hp->n_layer + 1, nv = (uint32_t)u->lens_n_valid;
    const size_t f = sizeof(float);

    vk_op_topk_at(&e->rt, &e->k, e->set_lens_topk_partial, e->set_lens_topk_merge, nv, V,
                  (uint32_t)(u->n_out - 1) * V, 1, K);
    vk_barrier(&e->rt);
    get_rows(e, &e->use_lens_rows, K, 2, 0); /* the record's ids start at float 2 */
    vk_barrier(&e->rt);
    vk_lens_push lp = lens_push(e, K, 0);
    vk_op_lens(&e->rt, &e->k, e->set_lens, &lp, E);
    if (u->lens_full) {
        lens_norm(e, E);
        vk_fill(&e->rt, &e->lens_ranks, 0, (VkDeviceSize)E * K * f, 0);
        vk_barrier(&e->rt);
        matvec(e, &e->use_lens_out, 0, V, mv(E, 0, d, 0, V, NO_PARAM, false));
        vk_barrier(&e->rt);
        vk_op_topk_at(&e->rt, &e->k, e->set_lens_stats_partial, e->set_lens_stats_merge, nv, V, 0, E, 1);
        vk_lens_rank_push rp = {nv, V, K};
        vk_op_lens_rank(&e->rt, &e->k, e->set_lens_rank, &rp, E);
    }
    vk_barrier(&e->rt);
    vk_copy(&e->rt, &e->lens_topk_out, 0, &e->lens_rb, 0, (2 + 2 * (VkDeviceSize)K) * f);
    vk_copy(&e->rt, &e->lens_out, 0, &e->lens_rb, LENS_RB_LOGITS * f, (VkDeviceSize)E * K * f);
    if (u->lens_full) {
        vk_copy(&e->rt, &e->lens_stats, 0, &e->lens_rb, LENS_RB_STATS(E) * f, (VkDeviceSize)E * 4 * f);
        vk_copy(&e->rt, &e->lens_ranks, 0, &e->lens_rb, LENS_RB_RANKS(E) * f, (VkDeviceSize)E * K * f);
    }
    mark(e, "lens");
}

/* Records micro-batch U into command buffer SLOT, ready to launch. */
static int record_ubatch(vk_engine *e, const ubatch *u, int slot, char *err, size_t errlen) {
    const model_hparams *hp = &e->base.model->hp;
    const uint32_t n = (uint32_t)u->n, d = (uint32_t)hp->n_embd, V = (uint32_t)hp->n_vocab;
    const size_t f = sizeof(float);
    const bool hidden = u->hidden;
    const uint32_t K = (uint32_t)u->top_k;

    if (vk_begin_slot(&e->rt, slot, err, errlen)) return -1;
    mark(e, "start");

    get_rows(e, &e->use_embd, n, 0, 0);
    if (e->position_embd.n_parts) { /* gpt2: x = token embedding + position embedding */
        get_rows(e, &e->use_pos, n, (uint32_t)u->p0, VK_GET_ROWS_POSITIONS);
        vk_barrier(&e->rt);
        vk_binary_push pa = {n * d, 0, 0, 0};
        vk_op_add(&e->rt, &e->k, e->set_add_pos, &pa);
    }
    vk_barrier(&e->rt);
    mark(e, "embedding");
    if (hidden) vk_copy(&e->rt, &e->x, (n - 1) * d * f, &e->hidden_rb, 0, d * f);
    if (u->lens_k) vk_copy(&e->rt, &e->x, (n - 1) * d * f, &e->hid, 0, d * f);

    for (int l = 0; l < hp->n_layer; l++) {
        record_layer(e, l, u);
        if (hidden && l + 1 < hp->n_layer)
            vk_copy(&e->rt, &e->x, (n - 1) * d * f, &e->hidden_rb, (VkDeviceSize)(l + 1) * d * f, d * f);
        if (u->lens_k) vk_copy(&e->rt, &e->x, (n - 1) * d * f, &e->hid, (VkDeviceSize)(l + 1) * d * f, d * f);
    }

    if (u->n_out > 0) {
        const uint32_t first = (uint32_t)u->out_first, n_out = (uint32_t)u->n_out;
        /* the final norm inside the output head, unless the normalised state is wanted */
        if (e->fuse && n_out < e->k.matmul_min && !hidden && e->output_norm != NO_PARAM) {
            matvec(e, &e->use_out_x, 0, V, with_norm(e, mv(n_out, first * d, d, 0, V, NO_PARAM, false), e->output_norm));
        } else {
            norm(e, first, n_out, e->output_norm, e->output_norm_b);
            vk_barrier(&e->rt);
            mark(e, "norm");
            if (hidden)
                vk_copy(&e->rt, &e->xn, (n - 1) * d * f, &e->hidden_rb, (VkDeviceSize)hp->n_layer * d * f, d * f);
            matvec(e, &e->use_out, 0, V, mv(n_out, first * d, d, 0, V, NO_PARAM, false));
        }
        vk_barrier(&e->rt);
        mark(e, "output head");
        if (u->logits) vk_copy(&e->rt, &e->logits, 0, &e->logits_rb, 0, (VkDeviceSize)n_out * V * f);
        if (u->stats) {
            vk_op_topk(&e->rt, &e->k, e->set_topk_partial, e->set_topk_merge, V, V, n_out, K);
            vk_barrier(&e->rt);
            vk_copy(&e->rt, &e->topk_out, 0, &e->topk_rb, 0, (VkDeviceSize)n_out * (2 + 2 * K) * f);
            mark(e, "top-k");
        }
        if (u->lens_k) record_lens(e, u);
    }
    return vk_end(&e->rt, err, errlen);
}

static bool ubatch_equal(const ubatch *a, const ubatch *b) {
    return a->p0 == b->p0 && a->n == b->n && a->out_first == b->out_first && a->n_out == b->n_out &&
           a->row_len == b->row_len && a->last == b->last && a->logits == b->logits &&
           a->attention == b->attention && a->hidden == b->hidden && a->stats == b->stats &&
           a->top_k == b->top_k && a->lens_k == b->lens_k && a->lens_n_valid == b->lens_n_valid &&
           a->lens_full == b->lens_full;
}

/* Runs micro-batch U on TOKENS and copies its results into B. The commands come from the
 * recording made during the previous step when it guessed this one right (a decode step
 * one position further, asking for the same outputs), else are recorded now. While the
 * GPU runs, the next decode step is recorded: the CPU's recording time hides behind the
 * GPU's work, and a decode step costs one submit and one wait. */
static int run_ubatch(vk_engine *e, const engine_batch *b, const ubatch *u, const int32_t *tokens,
                      int out_base, int n_out_total, char *err, size_t errlen) {
    const model_hparams *hp = &e->base.model->hp;
    const uint32_t d = (uint32_t)hp->n_embd, V = (uint32_t)hp->n_vocab, K = (uint32_t)u->top_k;
    const size_t f = sizeof(float);
    const int row_len = u->row_len;

    int slot = 0;
    if (e->next_ready && ubatch_equal(&e->next, u)) {
        slot = e->next_slot;
        e->prerecorded++;
    } else if (record_ubatch(e, u, slot, err, errlen)) {
        e->next_ready = false;
        return -1;
    }
    e->next_ready = false;
    memcpy(e->ids.map, tokens, (size_t)u->n * sizeof(int32_t));
    if (vk_launch(&e->rt, slot, err, errlen)) return -1;
    if (u->n == 1 && u->last && !e->profile && e->prerecord && u->p0 + 1 < e->base.n_ctx) {
        e->next = *u;
        e->next.p0++;
        e->next.row_len++;
        e->next_slot = 1 - slot;
        char ignored[8];
        e->next_ready = record_ubatch(e, &e->next, e->next_slot, ignored, sizeof ignored) == 0;
    }
    if (vk_wait(&e->rt, err, errlen)) {
        e->next_ready = false;
        return -1;
    }
    collect_profile(e);

    /* results: the readback buffers are host-visible; make the GPU's writes visible */
    const int n_out = u->n_out;
    const bool hidden = u->hidden, stats = u->stats;
    if (b->logits && n_out > 0) {
        vk_buffer_invalidate(&e->rt, &e->logits_rb);
        memcpy(b->logits + (size_t)out_base * V, e->logits_rb.map, (size_t)n_out * V * f);
    }
    if (b->attention && n_out > 0) {
        vk_buffer_invalidate(&e->rt, &e->capture_buf);
        const float *src = e->capture_buf.map;
        size_t rows = (size_t)n_out * (size_t)row_len;
        for (int lh = 0; lh < hp->n_layer * hp->n_head; lh++)
            memcpy(b->attention + ((size_t)lh * n_out_total + out_base) * row_len, src + lh * rows, rows * f);
    }
    if (hidden) {
        vk_buffer_invalidate(&e->rt, &e->hidden_rb);
        memcpy(b->hidden, e->hidden_rb.map, (size_t)(hp->n_layer + 1) * d * f);
    }
    if (u->lens_k) {
        const int K = u->lens_k, E = hp->n_layer + 1;
        vk_buffer_invalidate(&e->rt, &e->lens_rb);
        const float *r = e->lens_rb.map;
        for (int j = 0; j < K && b->lens_ids; j++) memcpy(&b->lens_ids[j], &r[2 + j], sizeof(int32_t));
        for (int i = 0; i < E && b->lens_logits; i++)
            memcpy(b->lens_logits + (size_t)i * K, r + LENS_RB_LOGITS + (size_t)i * K, (size_t)K * f);
        for (int i = 0; i < E && u->lens_full; i++) {
            const float *st = r + LENS_RB_STATS(E) + (size_t)i * 4;
            if (b->lens_logsumexp) b->lens_logsumexp[i] = st[0];
            if (b->lens_top_ids) memcpy(&b->lens_top_ids[i], &st[2], sizeof(int32_t));
            if (b->lens_top_logits) b->lens_top_logits[i] = st[3];
            if (b->lens_ranks)
                for (int j = 0; j < K; j++) {
                    uint32_t rank;
                    memcpy(&rank, &r[LENS_RB_RANKS(E) + (size_t)i * K + j], sizeof rank);
                    b->lens_ranks[(size_t)i * K + j] = (int32_t)rank;
                }
        }
    }
    if (stats) {
        vk_buffer_invalidate(&e->rt, &e->topk_rb);
        const float *r = e->topk_rb.map;
        for (int i = 0; i < n_out; i++, r += 2 + 2 * K) {
            int o = out_base + i;
            if (b->logsumexp) b->logsumexp[o] = r[0];
            if (b->entropy) b->entropy[o] = r[1];
            for (uint32_t j = 0; j < K; j++) {
                if (b->top_ids) memcpy(&b->top_ids[(size_t)o * K + j], &r[2 + j], sizeof(int32_t));
                if (b->top_logits) b->top_logits[(size_t)o * K + j] = r[2 + K + j];
            }
        }
    }
    return 0;
}

static int vk_eval(engine *base, const engine_batch *b, char *err, size_t errlen) {
    vk_engine *e = (vk_engine *)base;
    const model_hparams *hp = &base->model->hp;
    if (!b->tokens || b->n_tokens <= 0 || b->pos < 0)
        return fail(err, errlen, "empty batch or negative position");
    if (b->pos > base->n_ctx - b->n_tokens)
        return fail(err, errlen, "context full: %d + %d tokens exceed the context of %d", b->pos,
                    b->n_tokens, base->n_ctx);
    for (int i = 0; i < b->n_tokens; i++)
        if (b->tokens[i] < 0 || b->tokens[i] >= hp->n_vocab)
            return fail(err, errlen, "token id %d out of range (vocabulary of %d)", (int)b->tokens[i],
                        hp->n_vocab);
    if (b->attention && !e->capture)
        return fail(err, errlen, "attention capture is off in this Vulkan engine");
    if (b->top_k < 0 || b->top_k > VK_TOPK_MAX)
        return fail(err, errlen, "top_k %d out of range (0..%d)", b->top_k, VK_TOPK_MAX);
    if (b->lens_k < 0 || b->lens_k > ENGINE_LENS_MAX || b->lens_n_valid < 0 || b->lens_n_valid > hp->n_vocab ||
        b->lens_k > (b->lens_n_valid > 0 ? b->lens_n_valid : hp->n_vocab))
        return fail(err, errlen, "logit lens of %d candidates among %d ids: out of range (1..%d candidates)",
                    b->lens_k, b->lens_n_valid, ENGINE_LENS_MAX);
    if (b->lens_k > 0 && b->lens_full && !e->lens_full_ok)
        return fail(err, errlen, "the full logit lens does not fit %s's buffer limit; ask for the "
                    "candidates' lens only", e->rt.props.deviceName);

    const int n = b->n_tokens, row_len = b->pos + n, n_out_total = b->all_positions ? n : 1;
    /* Capturing every position's attention is bounded by the capture buffer's rows. */
    const int step = b->attention && b->all_positions ? imin(e->ubatch, e->cap_rows) : e->ubatch;
    for (int start = 0; start < n; start += step) {
        ubatch u = {.p0 = b->pos + start, .n = imin(step, n - start), .row_len = row_len};
        u.last = start + u.n == n;
        if (b->all_positions) {
            u.out_first = 0;
            u.n_out = u.n;
        } else {
            u.out_first = u.n - 1;
            u.n_out = u.last ? 1 : 0;
        }
        u.logits = b->logits && u.n_out > 0;
        u.attention = b->attention && u.n_out > 0;
        u.hidden = b->hidden && u.last;
        u.stats = u.n_out > 0 && (b->top_k > 0 || b->logsumexp || b->entropy);
        u.top_k = u.stats && b->top_k > 0 ? b->top_k : 0;
        if (u.last && u.n_out > 0 && b->lens_k > 0) {
            u.lens_k = b->lens_k;
            u.lens_n_valid = b->lens_n_valid > 0 ? b->lens_n_valid : hp->n_vocab;
            u.lens_full = b->lens_full;
        }
        if (run_ubatch(e, b, &u, b->tokens + start, b->all_positions ? start : 0, n_out_total, err, errlen))
            return -1;
    }
    return 0;
}

/* --- the logit lens of given hidden states ----------------------------------------- */

/* engine_lens_query on the GPU, in one submit: the entries normalised (all but the last,
 * which a step record holds normalised already) and decoded over the whole vocabulary in
 * one batched product; per entry the top-1 and log-sum-exp; the candidates (the last
 * entry's top-k, then the extra id written after them into the top-k record, where the
 * record's first logit was: nothing here reads those logits) with their ranks, and their
 * logits from the lens kernel. The buffers are the eval path's lens buffers, which each
 * eval rewrites before use; the command buffer is the slot a pre-recorded decode step is
 * not waiting in. */
static int vk_lens(engine *base, const engine_lens_query *q, char *err, size_t errlen) {
    vk_engine *e = (vk_engine *)base;
    const model_hparams *hp = &base->model->hp;
    const uint32_t V = (uint32_t)hp->n_vocab, d = (uint32_t)hp->n_embd, E = (uint32_t)hp->n_layer + 1;
    const uint32_t nv = (uint32_t)(q->n_valid > 0 && q->n_valid <= hp->n_vocab ? q->n_valid : hp->n_vocab);
    const size_t f = sizeof(float);
    if (!e->lens_full_ok)
        return fail(err, errlen, "the logit lens does not fit %s's buffer limit", e->rt.props.deviceName);
    if (!q->hidden || q->k < 1 || q->k >= ENGINE_LENS_MAX || (uint32_t)q->k > nv || q->extra < -1 ||
        (q->extra >= 0 && (uint32_t)q->extra >= nv))
        return fail(err, errlen, "logit lens: %d candidates plus id %d among %u ids: out of range", q->k,
                    (int)q->extra, nv);
    const uint32_t K = (uint32_t)q->k, KC = K + (q->extra >= 0 ? 1u : 0u);

    const int slot = e->next_ready ? 1 - e->next_slot : 0;
    if (vk_begin_slot(&e->rt, slot, err, errlen)) return -1;
    memcpy(e->lens_upload.map, q->hidden, (size_t)E * d * f);
    vk_copy(&e->rt, &e->lens_upload, 0, &e->hid, 0, (VkDeviceSize)E * d * f);
    /* the last entry goes to lens_xn as it is, in the same step as the upload: after the
     * norm it would be a second write of lens_xn in the norm's step (a race) */
    vk_copy(&e->rt, &e->lens_upload, (VkDeviceSize)(E - 1) * d * f, &e->lens_xn, (VkDeviceSize)(E - 1) * d * f, d * f);
    vk_fill(&e->rt, &e->lens_ranks, 0, (VkDeviceSize)E * KC * f, 0);
    vk_barrier(&e->rt);
    if (E > 1) lens_norm(e, E - 1);
    vk_barrier(&e->rt);
    matvec(e, &e->use_lens_out, 0, V, mv(E, 0, d, 0, V, NO_PARAM, false));
    vk_barrier(&e->rt);
    vk_op_topk_at(&e->rt, &e->k, e->set_lens_stats_partial, e->set_lens_stats_merge, nv, V, 0, E, 1);
    vk_barrier(&e->rt);
    vk_op_topk_at(&e->rt, &e->k, e->set_lens_last_partial, e->set_lens_topk_merge, nv, V, (E - 1) * V, 1, K);
    vk_barrier(&e->rt);
    if (q->extra >= 0) {
        vk_fill(&e->rt, &e->lens_topk_out, (2 + (VkDeviceSize)K) * f, f, (uint32_t)q->extra);
        vk_barrier(&e->rt);
    }
    get_rows(e, &e->use_lens_rows, KC, 2, 0);
    vk_lens_rank_push rp = {nv, V, KC};
    vk_op_lens_rank(&e->rt, &e->k, e->set_lens_rank, &rp, E);
    vk_barrier(&e->rt);
    vk_lens_push lp = lens_push(e, KC, 8u);
    vk_op_lens(&e->rt, &e->k, e->set_lens, &lp, E);
    vk_barrier(&e->rt);
    vk_copy(&e->rt, &e->lens_topk_out, 0, &e->lens_rb, 0, (2 + (VkDeviceSize)KC) * f);
    vk_copy(&e->rt, &e->lens_out, 0, &e->lens_rb, LENS_RB_LOGITS * f, (VkDeviceSize)E * KC * f);
    vk_copy(&e->rt, &e->lens_stats, 0, &e->lens_rb, LENS_RB_STATS(E) * f, (VkDeviceSize)E * 4 * f);
    vk_copy(&e->rt, &e->lens_ranks, 0, &e->lens_rb, LENS_RB_RANKS(E) * f, (VkDeviceSize)E * KC * f);
    if (vk_end(&e->rt, err, errlen) || vk_launch(&e->rt, slot, err, errlen) || vk_wait(&e->rt, err, errlen))
        return -1;

    vk_buffer_invalidate(&e->rt, &e->lens_rb);
    const float *r = e->lens_rb.map;
    for (uint32_t j = 0; j < KC; j++) memcpy(&q->cand_ids[j], &r[2 + j], sizeof(int32_t));
    for (uint32_t i = 0; i < E; i++) {
        const float *st = r + LENS_RB_STATS(E) + (size_t)i * 4;
        q->logsumexp[i] = st[0];
        memcpy(&q->top_ids[i], &st[2], sizeof(int32_t));
        q->top_logits[i] = st[3];
        for (uint32_t j = 0; j < KC; j++) {
            uint32_t rank;
            memcpy(&rank, &r[LENS_RB_RANKS(E) + (size_t)i * KC + j], sizeof rank);
            q->ranks[(size_t)i * KC + j] = (int32_t)rank;
            q->cand_logits[(size_t)i * KC + j] = r[LENS_RB_LOGITS + (size_t)i * KC + j];
        }
    }
    return 0;
}
