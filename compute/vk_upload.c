/* vk_upload.c — everything the Vulkan forward pass touches, made once when the engine is
 * created (see vk_engine_impl.h): the weights on the device (q and k rows arranged for
 * rope, gate and up rows interleaved), the small vectors in one params buffer, a rope
 * table per rope, the buffers for one micro-batch sized from the model and the device's
 * limits, and one descriptor set per (operation, buffers) use. */
#include "vk_engine_impl.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* --- the small vectors --------------------------------------------------------------- */

/* Host-side staging of the small f32 vectors (norm weights, biases) that all go into
 * one device buffer (param_pack); kernels find each by its offset. */
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

/* --- q and k rows for rope ------------------------------------------------------------ */

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

/* The rope layer L uses, when its q and k are stored permuted (NEOX), else NULL. */
static const rope_desc *permuted_rope(const vk_engine *e, int l) {
    const model *m = e->base.model;
    int r = m->desc[l].rope;
    return r >= 0 && m->ropes[r].kind == ROPE_NEOX ? &m->ropes[r] : NULL;
}

/* Uploads a matrix of layer L whose first ROTATED rows are heads of q or k (hd rows
 * each), those rows permuted for NEOX rope: wq, wk, or a fused [q | k | v] matrix. */
static int upload_qk(vk_engine *e, int l, const weight *w, uint32_t rotated, vk_weight *out, char *err,
                     size_t errlen) {
    const rope_desc *r = permuted_rope(e, l);
    const uint32_t hd = e->layers[l].hd;
    if (!r || rotated % hd || rotated > w->rows) return vk_weight_upload(&e->rt, &e->staging, w, out, err, errlen);
    uint32_t rows = (uint32_t)w->rows, *map = malloc((size_t)rows * 2 * sizeof *map);
    if (!map) return vk_fail(err, errlen, "out of memory");
    for (uint32_t i = 0; i < rows; i++) {
        map[2 * i] = 0;
        map[2 * i + 1] = i >= rotated ? i : i / hd * hd + (uint32_t)rope_pair_source((int)(i % hd), r->dim);
    }
    int rc = vk_weight_upload_rows(&e->rt, &e->staging, &w, 1, map, rows, out, err, errlen);
    free(map);
    return rc;
}

/* A gated layer's attn_q holds [q | gate] per head (Qwen3.5). It is stored as every
 * head's q rows (arranged for rope as upload_qk does) and then every head's gate rows, so
 * that q is the first q_dim rows as in any layer, and the gate the next q_dim. */
static int upload_q_gate(vk_engine *e, int l, const weight *w, vk_weight *out, char *err, size_t errlen) {
    const rope_desc *r = permuted_rope(e, l);
    const uint32_t hd = e->layers[l].hd, qd = e->layers[l].qd;
    if (w->rows != 2 * (int64_t)qd) return vk_fail(err, errlen, "tensor '%s': q and gate rows do not match", w->name);
    uint32_t *map = malloc((size_t)qd * 4 * sizeof *map);
    if (!map) return vk_fail(err, errlen, "out of memory");
    for (uint32_t i = 0; i < 2 * qd; i++) {
        const uint32_t gate = i >= qd, head = i % qd / hd, dim = i % hd;
        const uint32_t src_dim = gate || !r ? dim : (uint32_t)rope_pair_source((int)dim, r->dim);
        map[2 * i] = 0;
        map[2 * i + 1] = head * 2 * hd + gate * hd + src_dim;
    }
    int rc = vk_weight_upload_rows(&e->rt, &e->staging, &w, 1, map, 2 * qd, out, err, errlen);
    free(map);
    return rc;
}

/* Packs layer L's vector V of N floats whose first ROTATED are heads of q or k (biases,
 * or one head's norm gains), permuted like q and k. */
static int pack_qk_vector(param_pack *p, const vk_engine *e, int l, const float *v, int n, int rotated,
                          uint32_t *offset) {
    const rope_desc *r = permuted_rope(e, l);
    const int hd = (int)e->layers[l].hd;
    if (!v || !r) return pack_vector(p, v, n, offset);
    float *t = malloc((size_t)n * sizeof *t);
    if (!t) return -1;
    for (int i = 0; i < n; i++) t[i] = i >= rotated ? v[i] : v[(i / hd) * hd + rope_pair_source(i % hd, r->dim)];
    int rc = pack_vector(p, t, n, offset);
    free(t);
    return rc;
}

/* Uploads gate and up of one layer as one matrix with their rows interleaved (gate 0,
 * up 0, gate 1, ...) when they share a type and width, from two matrices or from one
 * that holds gate rows then up rows (AT_FUSED_UP); else apart. */
static int upload_gate_up(vk_engine *e, const layer_weights *lw, int n_ff, vk_layer *L, char *err, size_t errlen) {
    const weight *g = &lw->ffn_gate, *u = &lw->ffn_up;
    const bool fused = !g->data && u->rows == 2 * (int64_t)n_ff;
    const bool pair = fused || (g->data && u->data && g->type == u->type && g->cols == u->cols &&
                                g->rows == u->rows && g->row_bytes == u->row_bytes);
    if (!pair || n_ff > INT32_MAX / 2)
        return (g->data && vk_weight_upload(&e->rt, &e->staging, g, &L->gate, err, errlen)) ||
               (u->data && vk_weight_upload(&e->rt, &e->staging, u, &L->up, err, errlen));
    const weight *srcs[2] = {g, u};
    uint32_t rows = 2 * (uint32_t)n_ff, *map = malloc((size_t)rows * 2 * sizeof *map);
    if (!map) return vk_fail(err, errlen, "out of memory");
    for (uint32_t r = 0; r < rows; r++) {
        map[2 * r] = fused ? 0 : r & 1;
        map[2 * r + 1] = fused && (r & 1) ? (uint32_t)n_ff + r / 2 : r / 2;
    }
    int rc = vk_weight_upload_rows(&e->rt, &e->staging, fused ? &srcs[1] : srcs, fused ? 1 : 2, map, rows,
                                   &L->gate_up, err, errlen);
    free(map);
    return rc;
}

static int upload_layer_weights(vk_engine *e, int l, char *err, size_t errlen) {
    const model *m = e->base.model;
    const layer_weights *lw = &m->layers[l];
    vk_layer *L = &e->layers[l];
    if ((lw->wq.data && (m->desc[l].out_gate ? upload_q_gate(e, l, &lw->wq, &L->wq, err, errlen)
                                             : upload_qk(e, l, &lw->wq, L->qd, &L->wq, err, errlen))) ||
        (lw->wk.data && upload_qk(e, l, &lw->wk, L->kvd, &L->wk, err, errlen)) ||
        (lw->wqkv.data && upload_qk(e, l, &lw->wqkv, L->qd + L->kvd, &L->wqkv, err, errlen)) ||
        (m->hp.glu && m->desc[l].ffn == FFN_DENSE && upload_gate_up(e, lw, m->desc[l].n_ff, L, err, errlen)) ||
        (m->desc[l].ffn == FFN_MOE && vk_moe_upload(e, l, err, errlen)))
        return -1;
    struct { const weight *src; vk_weight *dst; } mats[] = {
        {&lw->wv, &L->wv}, {&lw->wo, &L->wo}, {&lw->ffn_down, &L->down}, {&lw->inp_gate, &L->inp_gate},
        {&lw->proj, &L->proj},
        {m->hp.glu ? NULL : &lw->ffn_up, &L->up},
    };
    for (size_t i = 0; i < sizeof mats / sizeof mats[0]; i++)
        if (mats[i].src && mats[i].src->data &&
            vk_weight_upload(&e->rt, &e->staging, mats[i].src, mats[i].dst, err, errlen))
            return -1;
    return 0;
}

static int pack_layer_params(param_pack *p, const vk_engine *e, int l) {
    const model *m = e->base.model;
    const layer_weights *lw = &m->layers[l];
    vk_layer *L = &e->layers[l];
    const int d = m->hp.n_embd, qd = (int)L->qd, kvd = (int)L->kvd, hd = (int)L->hd, ff = m->desc[l].n_ff;
    return pack_vector(p, lw->attn_norm, d, &L->attn_norm) || pack_vector(p, lw->attn_norm_b, d, &L->attn_norm_b) ||
           pack_vector(p, lw->ffn_norm, d, &L->ffn_norm) || pack_vector(p, lw->ffn_norm_b, d, &L->ffn_norm_b) ||
           pack_qk_vector(p, e, l, lw->bq, qd, qd, &L->bq) || pack_qk_vector(p, e, l, lw->bk, kvd, kvd, &L->bk) ||
           pack_vector(p, lw->bv, kvd, &L->bv) || pack_qk_vector(p, e, l, lw->bqkv, qd + 2 * kvd, qd + kvd, &L->bqkv) ||
           pack_vector(p, lw->bo, d, &L->bo) || pack_vector(p, lw->ffn_up_b, ff, &L->up_b) ||
           pack_vector(p, lw->ffn_down_b, d, &L->down_b) ||
           pack_qk_vector(p, e, l, lw->q_norm, hd, hd, &L->q_norm) || pack_qk_vector(p, e, l, lw->k_norm, hd, hd, &L->k_norm) ||
           pack_vector(p, lw->post_attn_norm, d, &L->post_attn_norm) ||
           pack_vector(p, lw->post_ffw_norm, d, &L->post_ffw_norm) || pack_vector(p, lw->out_scale, 1, &L->out_scale) ||
           pack_vector(p, lw->post_norm, d, &L->post_norm) || pack_vector(p, lw->attn_sinks, m->desc[l].n_head, &L->sinks) ||
           (m->desc[l].ffn == FFN_MOE && vk_moe_pack(e, l, p));
}

/* The per-layer inputs' norm gain (Gemma 4) times 1/sqrt(2): the sum of the normalised
 * projection and the embedding rows is halved in power that way, the rows' share by their
 * lookup's scale (vk_forward.c). */
static int pack_per_layer_norm(param_pack *p, const model *m, uint32_t *offset) {
    const int w = m->hp.n_embd_per_layer;
    if (!m->per_layer_proj_norm) return pack_vector(p, NULL, 0, offset);
    float *g = malloc((size_t)w * sizeof *g);
    if (!g) return -1;
    for (int i = 0; i < w; i++) g[i] = m->per_layer_proj_norm[i] / sqrtf(2.0f);
    int rc = pack_vector(p, g, w, offset);
    free(g);
    return rc;
}

/* One rope's (cos, sin) table for the engine's context. */
static int upload_rope(vk_engine *e, int r, char *err, size_t errlen) {
    const model *m = e->base.model;
    const int n_ctx = e->base.n_ctx;
    float *table = vk_rope_table(n_ctx, &m->ropes[r], rope_factors_for(&m->ropes[r], n_ctx));
    size_t bytes = (size_t)n_ctx * (size_t)m->ropes[r].dim * sizeof(float);
    int rc = !table ? vk_fail(err, errlen, "out of memory")
                    : vk_buffer_create(&e->rt, &e->rope_tables[r], bytes, VK_MEM_DEVICE, "rope table", err, errlen) ||
                          vk_upload(&e->rt, &e->staging, &e->rope_tables[r], 0, table, bytes, err, errlen);
    free(table);
    return rc;
}

int vk_engine_upload(vk_engine *e, char *err, size_t errlen) {
    const model *m = e->base.model;
    const model_hparams *hp = &m->hp;
    VkDeviceSize staging = 64ull << 20;
    if (staging > e->rt.max_range) staging = e->rt.max_range;
    if (vk_buffer_create(&e->rt, &e->staging, staging, VK_MEM_UPLOAD, "upload staging", err, errlen) ||
        vk_weight_upload(&e->rt, &e->staging, &m->token_embd, &e->token_embd, err, errlen) ||
        (m->position_embd.data && vk_weight_upload(&e->rt, &e->staging, &m->position_embd, &e->position_embd, err, errlen)))
        return -1;
    if (hp->tied_output || m->output.data == m->token_embd.data) {
        e->output = &e->token_embd;
    } else {
        if (vk_weight_upload(&e->rt, &e->staging, &m->output, &e->output_own, err, errlen)) return -1;
        e->output = &e->output_own;
    }
    for (int l = 0; l < hp->n_layer; l++)
        if (upload_layer_weights(e, l, err, errlen)) return -1;
    if (m->per_layer_embd.data &&
        (vk_weight_upload(&e->rt, &e->staging, &m->per_layer_embd, &e->per_layer_embd, err, errlen) ||
         vk_weight_upload(&e->rt, &e->staging, &m->per_layer_proj, &e->per_layer_proj, err, errlen)))
        return -1;
    /* the vectors in one upload */
    param_pack pack = {0};
    bool oom = pack_vector(&pack, m->output_norm, hp->n_embd, &e->output_norm) ||
               pack_vector(&pack, m->output_norm_b, hp->n_embd, &e->output_norm_b) ||
               pack_per_layer_norm(&pack, m, &e->per_layer_proj_norm);
    for (int l = 0; l < hp->n_layer && !oom; l++) oom = pack_layer_params(&pack, e, l);
    int rc = oom ? vk_fail(err, errlen, "out of memory")
                 : vk_buffer_create(&e->rt, &e->params, pack.n * sizeof(float), VK_MEM_DEVICE, "norm weights and biases",
                                    err, errlen) ||
                       vk_upload(&e->rt, &e->staging, &e->params, 0, pack.data, pack.n * sizeof(float), err, errlen);
    free(pack.data);
    for (int r = 0; r < m->n_ropes && !rc; r++) rc = upload_rope(e, r, err, errlen);
    return rc;
}

/* --- sizes and buffers ---------------------------------------------------------------- */

/* Sizes of the per-micro-batch buffers follow from the model, n_ctx and the device's
 * buffer limit; a context the device cannot hold is an error here, not at eval time. */
int vk_engine_plan(vk_engine *e, char *err, size_t errlen) {
    const model_hparams *hp = &e->base.model->hp;
    const uint64_t limit = e->rt.max_range, n_ctx = (uint64_t)e->base.n_ctx;
    const uint64_t budget = limit < SCRATCH_BUDGET ? limit : SCRATCH_BUDGET;
    uint64_t per_token[] = {(uint64_t)hp->n_head * n_ctx * 4, (uint64_t)hp->n_vocab * 4,
                            (uint64_t)hp->n_ff * 4 * 2, (uint64_t)e->max_qd * 4, vk_moe_token_bytes(e->base.model)};
    uint64_t ub = MAX_UBATCH;
    for (size_t i = 0; i < sizeof per_token / sizeof per_token[0]; i++)
        if (per_token[i] && budget / per_token[i] < ub) ub = budget / per_token[i];
    if (ub < 1 || n_ctx * (uint64_t)e->max_kvd * 4 > limit)
        return vk_fail(err, errlen, "context of %d tokens is too long for %s's buffer limit (%.0f MiB); "
                       "use a smaller context", e->base.n_ctx, e->rt.props.deviceName, limit / 1048576.0);
    e->ubatch = (int)ub;
    e->cap_rows = 0;
    if (e->capture) {
        uint64_t row = (uint64_t)hp->n_layer * hp->n_head * n_ctx * 4;
        if (row > limit)
            return vk_fail(err, errlen, "attention capture for %d layers x %d heads x %d positions needs "
                           "%.0f MiB, over %s's buffer limit; use a smaller context or turn capture off",
                           hp->n_layer, hp->n_head, e->base.n_ctx, row / 1048576.0, e->rt.props.deviceName);
        e->cap_rows = (int)(budget / row < ub ? budget / row : ub);
        if (e->cap_rows < 1) e->cap_rows = 1;
    }
    return 0;
}

int vk_engine_buffers(vk_engine *e, char *err, size_t errlen) {
    const model *m = e->base.model;
    const model_hparams *hp = &m->hp;
    const VkDeviceSize ub = (VkDeviceSize)e->ubatch, f = sizeof(float), n_ctx = (VkDeviceSize)e->base.n_ctx;
    const VkDeviceSize n_chunks = vk_topk_chunks((uint32_t)hp->n_vocab), ff = (VkDeviceSize)hp->n_ff;
    struct { vk_buffer *b; VkDeviceSize size; vk_mem_kind kind; const char *what; } list[] = {
        {&e->x, ub * hp->n_embd * f, VK_MEM_DEVICE, "activations"},
        {&e->xn, ub * hp->n_embd * f, VK_MEM_DEVICE, "activations"},
        {&e->q, ub * e->max_qd * f, VK_MEM_DEVICE, "queries"},
        {&e->att, ub * e->max_qd * f, VK_MEM_DEVICE, "attention output"},
        {&e->ffa, ub * ff * f, VK_MEM_DEVICE, "MLP activations"},
        {&e->ffb, ub * 2 * ff * f, VK_MEM_DEVICE, "MLP activations"}, /* interleaved gate, up */
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
        {&e->ple, ub * (VkDeviceSize)hp->n_embd_per_layer * hp->n_layer * f + 16, VK_MEM_DEVICE, "per-layer inputs"},
        {&e->ple_rows, ub * (VkDeviceSize)hp->n_embd_per_layer * hp->n_layer * f + 16, VK_MEM_DEVICE, "per-layer inputs"},
        {&e->ple_gate, ub * (VkDeviceSize)hp->n_embd_per_layer * f + 16, VK_MEM_DEVICE, "per-layer inputs"},
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
    for (int l = 0; l < hp->n_layer; l++) {
        const VkDeviceSize kvd = e->layers[l].kvd;
        /* reads an earlier layer's cache, or has none (DeltaNet) */
        if (m->desc[l].kv_layer != l || m->desc[l].mixer != MIXER_ATTENTION) continue;
        if (vk_buffer_create(&e->rt, &e->layers[l].k_cache, n_ctx * kvd * f, VK_MEM_DEVICE, "KV cache", err, errlen) ||
            vk_buffer_create(&e->rt, &e->layers[l].v_cache, n_ctx * kvd * f, VK_MEM_DEVICE, "KV cache", err, errlen))
            return -1;
    }
    return vk_moe_buffers(e, err, errlen);
}

/* --- descriptor sets ------------------------------------------------------------------ */

/* A use of W reading IN and writing OUT: a matrix product's (the weight part, in, out,
 * the params, the rope table TABLE and the routing ROUTE) when TABLE, else an embedding
 * lookup's (the weight part, the ids, out); its sets come from POOL. */
int vk_use_create_in(vk_engine *e, VkDescriptorPool pool, vk_use *u, const vk_weight *w, vk_buffer *in,
                     vk_buffer *out, vk_buffer *table, vk_buffer *route, char *err, size_t errlen) {
    u->w = w;
    u->sets = calloc((size_t)w->n_parts, sizeof *u->sets);
    if (!u->sets) return vk_fail(err, errlen, "out of memory");
    for (int i = 0; i < w->n_parts; i++) {
        vk_buffer *bufs[6] = {&w->parts[i].buf, in, out, &e->params, table, route ? route : &e->dummy};
        if (vk_set_create(&e->rt, pool, table ? 6 : 3, bufs, &u->sets[i], err, errlen)) return -1;
    }
    return 0;
}

int vk_use_create(vk_engine *e, vk_use *u, const vk_weight *w, vk_buffer *in, vk_buffer *out, vk_buffer *table,
                  vk_buffer *route, char *err, size_t errlen) {
    return vk_use_create_in(e, e->pool, u, w, in, out, table, route, err, errlen);
}

static int use_create(vk_engine *e, vk_use *u, const vk_weight *w, vk_buffer *in, vk_buffer *out, vk_buffer *table,
                      char *err, size_t errlen) {
    return vk_use_create(e, u, w, in, out, table, NULL, err, errlen);
}

static int set_create(vk_engine *e, VkDescriptorSet *set, char *err, size_t errlen, int n, ...) {
    vk_buffer *bufs[VK_MAX_BINDINGS];
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n; i++) bufs[i] = va_arg(ap, vk_buffer *);
    va_end(ap);
    return vk_set_create(&e->rt, e->pool, n, bufs, set, err, errlen);
}

int vk_pack_vector(param_pack *p, const float *v, int n, uint32_t *offset) { return pack_vector(p, v, n, offset); }

/* Descriptor sets the weights' uses need (each use binds every part of its weight). */
static int total_parts(const vk_engine *e, int n_layer) {
    int n = e->token_embd.n_parts + e->position_embd.n_parts + 4 * e->output->n_parts + e->per_layer_embd.n_parts +
            e->per_layer_proj.n_parts;
    for (int l = 0; l < n_layer; l++) {
        const vk_layer *L = &e->layers[l];
        n += 2 * (L->wq.n_parts + L->wk.n_parts + L->wv.n_parts + L->gate_up.n_parts) + 3 * L->wqkv.n_parts +
             L->wo.n_parts + L->gate.n_parts + L->up.n_parts + L->down.n_parts + L->inp_gate.n_parts + L->proj.n_parts;
    }
    return n;
}

/* The sets of layer L. Its k and v (and attention) use the cache of the layer whose keys
 * it reads; the output projections write x directly (adding into the residual), or xn for
 * a sandwich norm to add afterwards. */
/* Layer L's feed-forward sets (a dense one, or its experts'), and its per-layer input's
 * (gemma4): the same whatever its mixer (TABLE: the layer's rope table or a dummy). */
static int ffn_sets(vk_engine *e, int l, vk_buffer *table, char *err, size_t errlen) {
    const model *m = e->base.model;
    vk_layer *L = &e->layers[l];
    vk_buffer *down_out = L->post_ffw_norm != NO_PARAM ? &e->xn : &e->x;
    if (m->desc[l].ffn == FFN_MOE && vk_moe_sets(e, l, err, errlen)) return -1;
    if (L->inp_gate.n_parts && (use_create(e, &L->use_inp_gate, &L->inp_gate, &e->x, &e->ple_gate, table, err, errlen) ||
                                use_create(e, &L->use_proj, &L->proj, &e->ple_gate, &e->xn, table, err, errlen)))
        return -1;
    return (L->down.n_parts && use_create(e, &L->use_down, &L->down, &e->ffa, down_out, table, err, errlen)) ||
           (L->up.n_parts && use_create(e, &L->use_up, &L->up, &e->xn, m->hp.glu ? &e->ffb : &e->ffa, table, err, errlen)) ||
           (L->gate.n_parts && use_create(e, &L->use_gate, &L->gate, &e->xn, &e->ffa, table, err, errlen)) ||
           (L->gate_up.n_parts && use_create(e, &L->use_gate_up, &L->gate_up, &e->xn, &e->ffb, table, err, errlen)) ||
           (e->fuse && L->gate_up.n_parts &&
            use_create(e, &L->use_gate_up_x, &L->gate_up, &e->x, &e->ffa, table, err, errlen));
}

static int layer_sets(vk_engine *e, int l, vk_buffer *cap, char *err, size_t errlen) {
    const model *m = e->base.model;
    vk_layer *L = &e->layers[l], *S = &e->layers[m->desc[l].kv_layer];
    const int r = m->desc[l].rope;
    vk_buffer *table = r >= 0 ? &e->rope_tables[r] : &e->dummy;
    if (ffn_sets(e, l, table, err, errlen)) return -1;
    if (m->desc[l].mixer == MIXER_DELTANET) return 0; /* its mixer's sets: vk_deltanet.c */
    const bool fused = L->wqkv.n_parts > 0, own_kv = L == S;
    const vk_weight *wq = fused ? &L->wqkv : &L->wq, *wk = fused ? &L->wqkv : &L->wk, *wv = fused ? &L->wqkv : &L->wv;
    vk_buffer *o_out = L->post_attn_norm != NO_PARAM ? &e->xn : &e->x;
    if (use_create(e, &L->use_q, wq, &e->xn, &e->q, table, err, errlen) ||
        use_create(e, &L->use_o, &L->wo, &e->att, o_out, table, err, errlen) ||
        set_create(e, &L->set_q_norm, err, errlen, 3, &e->q, &e->params, &e->q) ||
        set_create(e, &L->set_rope_q, err, errlen, 2, &e->q, table) ||
        set_create(e, &L->set_attention, err, errlen, 8, &e->q, &S->k_cache, &S->v_cache, &e->att, &e->scores, cap,
                   &e->attn_part, &e->params))
        return -1;
    if (own_kv && (use_create(e, &L->use_k, wk, &e->xn, &L->k_cache, table, err, errlen) ||
                   use_create(e, &L->use_v, wv, &e->xn, &L->v_cache, table, err, errlen) ||
                   set_create(e, &L->set_k_norm, err, errlen, 3, &L->k_cache, &e->params, &L->k_cache) ||
                   set_create(e, &L->set_v_norm, err, errlen, 3, &L->v_cache, &e->params, &L->v_cache) ||
                   set_create(e, &L->set_rope_k, err, errlen, 2, &L->k_cache, table)))
        return -1;
    if (!e->fuse) return 0;
    return use_create(e, &L->use_q_x, wq, &e->x, &e->q, table, err, errlen) ||
           (own_kv && (use_create(e, &L->use_k_x, wk, &e->x, &L->k_cache, table, err, errlen) ||
                       use_create(e, &L->use_v_x, wv, &e->x, &L->v_cache, table, err, errlen)));
}

int vk_engine_sets(vk_engine *e, char *err, size_t errlen) {
    const model_hparams *hp = &e->base.model->hp;
    vk_buffer *cap = e->capture ? &e->capture_buf : &e->dummy;
    if (vk_pool_create(&e->rt, (uint32_t)(40 + 12 * hp->n_layer + total_parts(e, hp->n_layer)) + vk_moe_sets_needed(e),
                       &e->pool, err, errlen) ||
        use_create(e, &e->use_embd, &e->token_embd, &e->ids, &e->x, NULL, err, errlen) ||
        use_create(e, &e->use_out, e->output, &e->xn, &e->logits, &e->dummy, err, errlen) ||
        use_create(e, &e->use_out_x, e->output, &e->x, &e->logits, &e->dummy, err, errlen) ||
        set_create(e, &e->set_norm, err, errlen, 3, &e->x, &e->params, &e->xn) ||
        set_create(e, &e->set_post_norm, err, errlen, 3, &e->xn, &e->params, &e->x) ||
        set_create(e, &e->set_glu, err, errlen, 3, &e->ffa, &e->ffb, &e->ffa) ||
        set_create(e, &e->set_glu_pairs, err, errlen, 3, &e->ffb, &e->ffb, &e->ffa) ||
        set_create(e, &e->set_gelu, err, errlen, 2, &e->ffa, &e->ffa) ||
        set_create(e, &e->set_softcap, err, errlen, 1, &e->logits) ||
        set_create(e, &e->set_topk_partial, err, errlen, 2, &e->logits, &e->topk_part) ||
        set_create(e, &e->set_topk_merge, err, errlen, 2, &e->topk_part, &e->topk_out) ||
        set_create(e, &e->set_attn_merge, err, errlen, 5, &e->attn_part, &e->scores, &e->att, cap, &e->params) ||
        set_create(e, &e->set_lens_topk_partial, err, errlen, 2, &e->logits, &e->lens_topk_part) ||
        set_create(e, &e->set_lens_topk_merge, err, errlen, 2, &e->lens_topk_part, &e->lens_topk_out) ||
        use_create(e, &e->use_lens_rows, e->output, &e->lens_topk_out, &e->lens_cand, NULL, err, errlen) ||
        set_create(e, &e->set_lens, err, errlen, 4, &e->hid, &e->lens_cand, &e->params, &e->lens_out))
        return -1;
    if (e->lens_full_ok &&
        (set_create(e, &e->set_lens_norm, err, errlen, 3, &e->hid, &e->params, &e->lens_xn) ||
         use_create(e, &e->use_lens_out, e->output, &e->lens_xn, &e->lens_logits, &e->dummy, err, errlen) ||
         set_create(e, &e->set_lens_softcap, err, errlen, 1, &e->lens_logits) ||
         set_create(e, &e->set_lens_stats_partial, err, errlen, 2, &e->lens_logits, &e->lens_stats_part) ||
         set_create(e, &e->set_lens_stats_merge, err, errlen, 2, &e->lens_stats_part, &e->lens_stats) ||
         set_create(e, &e->set_lens_rank, err, errlen, 3, &e->lens_logits, &e->lens_topk_out, &e->lens_ranks) ||
         set_create(e, &e->set_lens_last_partial, err, errlen, 2, &e->lens_logits, &e->lens_topk_part)))
        return -1;
    if (e->position_embd.n_parts &&
        (use_create(e, &e->use_pos, &e->position_embd, &e->ids, &e->xn, NULL, err, errlen) ||
         set_create(e, &e->set_add_pos, err, errlen, 3, &e->x, &e->xn, &e->x)))
        return -1;
    if (e->per_layer_embd.n_parts &&
        (use_create(e, &e->use_ple_rows, &e->per_layer_embd, &e->ids, &e->ple_rows, NULL, err, errlen) ||
         use_create(e, &e->use_ple_proj, &e->per_layer_proj, &e->x, &e->ple, &e->dummy, err, errlen) ||
         set_create(e, &e->set_ple_norm, err, errlen, 3, &e->ple, &e->params, &e->ple) ||
         set_create(e, &e->set_ple_add, err, errlen, 3, &e->ple, &e->ple_rows, &e->ple) ||
         set_create(e, &e->set_ple_gate, err, errlen, 2, &e->ple_gate, &e->ple)))
        return -1;
    if (set_create(e, &e->set_scale, err, errlen, 2, &e->x, &e->params)) return -1;
    for (int l = 0; l < hp->n_layer; l++)
        if (layer_sets(e, l, cap, err, errlen)) return -1;
    return 0;
}

static void use_free(vk_use *u) {
    free(u->sets);
    u->sets = NULL;
}

void vk_engine_free_device(vk_engine *e) {
    vk_runtime *rt = &e->rt;
    const model_hparams *hp = &e->base.model->hp;
    const bool live = rt->dev && !rt->hung; /* after a hang nothing may be destroyed (vk_runtime_free) */
    if (live) rt->vk.DeviceWaitIdle(rt->dev);
    for (int l = 0; e->layers && l < hp->n_layer; l++) {
        vk_layer *L = &e->layers[l];
        if (live) {
            vk_weight *ws[] = {&L->wq, &L->wk, &L->wv, &L->wqkv, &L->wo, &L->gate, &L->up, &L->gate_up, &L->down,
                               &L->inp_gate, &L->proj};
            for (size_t i = 0; i < sizeof ws / sizeof ws[0]; i++) vk_weight_free(rt, ws[i]);
            vk_buffer_destroy(rt, &L->k_cache);
            vk_buffer_destroy(rt, &L->v_cache);
        }
        vk_use *us[] = {&L->use_q, &L->use_k, &L->use_v, &L->use_o, &L->use_gate, &L->use_up, &L->use_gate_up,
                        &L->use_down, &L->use_q_x, &L->use_k_x, &L->use_v_x, &L->use_gate_up_x, &L->use_inp_gate,
                        &L->use_proj};
        for (size_t i = 0; i < sizeof us / sizeof us[0]; i++) use_free(us[i]);
    }
    vk_use *us[] = {&e->use_embd,      &e->use_pos,       &e->use_out,      &e->use_out_x,
                    &e->use_lens_rows, &e->use_lens_out,  &e->use_ple_rows, &e->use_ple_proj};
    for (size_t i = 0; i < sizeof us / sizeof us[0]; i++) use_free(us[i]);
    vk_moe_free(e, live);
    if (!live) return;
    vk_weight_free(rt, &e->token_embd);
    vk_weight_free(rt, &e->position_embd);
    vk_weight_free(rt, &e->output_own);
    vk_weight_free(rt, &e->per_layer_embd);
    vk_weight_free(rt, &e->per_layer_proj);
    vk_buffer *bufs[] = {&e->params, &e->rope_tables[0], &e->rope_tables[1], &e->dummy, &e->staging, &e->x, &e->xn,
                         &e->q, &e->att, &e->ffa, &e->ffb, &e->logits, &e->scores, &e->attn_part,
                         &e->topk_part, &e->topk_out, &e->ids, &e->logits_rb,
                         &e->capture_buf, &e->hidden_rb, &e->topk_rb, &e->hid, &e->lens_topk_part,
                         &e->lens_topk_out, &e->lens_cand, &e->lens_out, &e->lens_xn, &e->lens_logits,
                         &e->lens_stats_part, &e->lens_stats, &e->lens_ranks, &e->lens_rb, &e->lens_upload,
                         &e->ple, &e->ple_rows, &e->ple_gate};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) vk_buffer_destroy(rt, bufs[i]);
    if (e->pool) rt->vk.DestroyDescriptorPool(rt->dev, e->pool, NULL);
    vk_kernels_destroy(rt, &e->k);
}
