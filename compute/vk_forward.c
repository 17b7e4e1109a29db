/* vk_forward.c — recording the forward pass on the GPU, step for step the computation of
 * the CPU reference in model/forward_cpu.c, from the same description: each layer runs
 * its recipe (layer_desc: its heads, window, rope, scale, cap and whose keys it reads),
 * with the norms, activation, sandwich norms and output scale its model has.
 *
 * An eval records dispatches with push constants (token count, position, offsets)
 * between barriers into one command buffer per micro-batch; vk_engine.c submits it. */
#include "vk_deltanet.h"
#include "vk_engine_impl.h"

#include <math.h>
#include <string.h>

void vk_mark(vk_engine *e, const char *name) {
    if (!e->profile) return;
    int i = vk_timestamp(&e->rt);
    if (i >= 0) e->marks[i] = name;
}

void vk_step(vk_engine *e, const char *name) {
    vk_barrier(&e->rt);
    vk_mark(e, name);
}

static void step(vk_engine *e, const char *name) { vk_step(e, name); }

/* Records W x for rows ROW_BEGIN .. +ROW_COUNT of U's weight, one dispatch per part the
 * range touches; P carries the vector layout and flags, and its y_off / bias_off refer
 * to ROW_BEGIN (a GLU product writes one output per pair of rows). */
void vk_matvec(vk_engine *e, const vk_use *u, uint32_t row_begin, uint32_t row_count, vk_matvec_push p) {
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

vk_matvec_push vk_mv(uint32_t n, uint32_t x_off, uint32_t x_stride, uint32_t y_off, uint32_t y_stride,
                     uint32_t bias, bool accumulate) {
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

/* P with its output rotated as layer L's q or k at positions P0.. (the decode path). */
static vk_matvec_push with_rope(const vk_engine *e, int l, vk_matvec_push p, uint32_t p0) {
    const model *m = e->base.model;
    p.flags |= VK_MATVEC_ROPE;
    p.pos0 = p0;
    p.head_dim = e->layers[l].hd;
    p.rope_dim = (uint32_t)m->ropes[m->desc[l].rope].dim;
    return p;
}

void vk_get_rows(vk_engine *e, const vk_use *u, uint32_t n, uint32_t ids_off, uint32_t flags, float scale) {
    const vk_weight *w = u->w;
    for (int i = 0; i < w->n_parts; i++) {
        vk_get_rows_push p = {.cols = w->cols, .n = n, .row_bytes = w->row_bytes,
                              .part_row0 = w->parts[i].row0, .part_rows = w->parts[i].rows,
                              .y_off = 0, .y_stride = w->cols, .ids_off = ids_off,
                              .flags = flags | (scale != 1.0f ? VK_GET_ROWS_SCALE : 0u), .scale = scale};
        vk_op_get_rows(&e->rt, &e->k, w->type, u->sets[i], &p);
    }
}

/* The model's norm of N vectors of n_embd from vector FIRST with set SET's buffers
 * (x -> xn, or with ACCUMULATE an RMSNorm of xn added into x). */
static void norm_with(vk_engine *e, VkDescriptorSet set, uint32_t first, uint32_t n, uint32_t g, uint32_t b,
                      uint32_t flags) {
    const model_hparams *hp = &e->base.model->hp;
    uint32_t d = (uint32_t)hp->n_embd, off = first * d;
    uint32_t gb = (g != NO_PARAM ? VK_NORM_SCALE : 0u) | (b != NO_PARAM ? VK_NORM_SHIFT : 0u);
    if (hp->norm == NORM_LAYER) {
        vk_layernorm_push p = {n, d, off, d, off, d, g == NO_PARAM ? 0 : g, b == NO_PARAM ? 0 : b, gb, hp->norm_eps};
        vk_op_layernorm(&e->rt, &e->k, set, &p);
    } else {
        vk_rmsnorm_push p = {n, d, off, d, off, d, g == NO_PARAM ? 0 : g, (gb & VK_NORM_SCALE) | flags, hp->norm_eps};
        vk_op_rmsnorm(&e->rt, &e->k, set, &p);
    }
}

/* Normalises N vectors of n_embd starting at vector FIRST, x -> xn. */
static void norm(vk_engine *e, uint32_t first, uint32_t n, uint32_t g, uint32_t b) {
    norm_with(e, e->set_norm, first, n, g, b, 0);
}

/* RMSNorm of N_VEC head vectors of HD at OFF in SET's buffer, in place, with gain G. */
static void norm_heads(vk_engine *e, VkDescriptorSet set, uint32_t n_vec, uint32_t hd, uint32_t off, uint32_t g) {
    vk_rmsnorm_push p = {n_vec, hd, off, hd, off, hd, g == NO_PARAM ? 0 : g, g == NO_PARAM ? 0u : VK_NORM_SCALE,
                         e->base.model->hp.norm_eps};
    vk_op_rmsnorm(&e->rt, &e->k, set, &p);
}

/* x += the sublayer output: already there when the product accumulated into x; with a
 * sandwich norm G, the output waits in xn and its RMSNorm is added now. */
static void residual(vk_engine *e, uint32_t n, uint32_t g, const char *name) {
    if (g == NO_PARAM) return;
    norm_with(e, e->set_post_norm, 0, n, g, NO_PARAM, VK_NORM_ACCUMULATE);
    step(e, name);
}

void vk_head_softcap(vk_engine *e, VkDescriptorSet set, uint32_t n_values) {
    vk_softcap_push p = {n_values, 0, e->base.model->hp.final_softcap};
    vk_op_softcap(&e->rt, &e->k, set, &p);
}

/* --- attention ------------------------------------------------------------------------- */

/* q, k and v of layer L for the batch, k and v straight into the cache at p0 (a layer
 * that reads another's keys computes q alone); FUSED: the input is x, normalised on the
 * fly by attn_norm, and with ROPE_INSIDE q and k come out rotated; else the input is xn. */
static void record_qkv(vk_engine *e, int l, uint32_t n, uint32_t p0, bool fused, bool rope_inside) {
    const model *m = e->base.model;
    vk_layer *L = &e->layers[l];
    const uint32_t d = (uint32_t)m->hp.n_embd, qd = L->qd, kvd = L->kvd;
    const bool own_kv = m->desc[l].kv_layer == l;
    const vk_use *uq = fused ? &L->use_q_x : &L->use_q, *uk = fused ? &L->use_k_x : &L->use_k,
                 *uv = fused ? &L->use_v_x : &L->use_v;
    uint32_t bq = L->bq, bk = L->bk, bv = L->bv, kr = 0, vr = 0;
    if (L->wqkv.n_parts) { /* rows [q | k | v] of one matrix and one bias */
        bq = L->bqkv;
        bk = L->bqkv == NO_PARAM ? NO_PARAM : L->bqkv + qd;
        bv = L->bqkv == NO_PARAM ? NO_PARAM : L->bqkv + qd + kvd;
        kr = qd;
        vr = qd + kvd;
    }
    vk_matvec_push pq = vk_mv(n, 0, d, 0, qd, bq, false), pk = vk_mv(n, 0, d, p0 * kvd, kvd, bk, false),
                   pv = vk_mv(n, 0, d, p0 * kvd, kvd, bv, false);
    if (fused) {
        pq = with_norm(e, pq, L->attn_norm), pk = with_norm(e, pk, L->attn_norm), pv = with_norm(e, pv, L->attn_norm);
        if (rope_inside) pq = with_rope(e, l, pq, p0), pk = with_rope(e, l, pk, p0);
    }
    vk_matvec(e, uq, 0, qd, pq);
    if (!own_kv) return;
    vk_matvec(e, uk, kr, kvd, pk);
    vk_matvec(e, uv, vr, kvd, pv);
}

/* The steps between the projections and attention that did not fit inside them: the
 * per-head norms (before rope) and rope. */
static void record_qk_norms_and_rope(vk_engine *e, int l, uint32_t n, uint32_t p0, bool rope_inside) {
    const model *m = e->base.model;
    const layer_desc *ld = &m->desc[l];
    vk_layer *L = &e->layers[l];
    const uint32_t hd = L->hd, kvd = L->kvd, nh = (uint32_t)ld->n_head, nkv = (uint32_t)ld->n_head_kv;
    const bool own_kv = ld->kv_layer == l, v_norm = m->hp.arch->traits & AT_V_NORM;
    if (L->q_norm != NO_PARAM || (own_kv && v_norm)) {
        if (L->q_norm != NO_PARAM) norm_heads(e, L->set_q_norm, n * nh, hd, 0, L->q_norm);
        if (own_kv && L->k_norm != NO_PARAM) norm_heads(e, L->set_k_norm, n * nkv, hd, p0 * kvd, L->k_norm);
        if (own_kv && v_norm) norm_heads(e, L->set_v_norm, n * nkv, hd, p0 * kvd, NO_PARAM);
        step(e, "qk norm");
    }
    if (ld->rope < 0 || rope_inside) return;
    /* NEOX layers' q and k rows are stored pair by pair (vk_upload.c): the NORM layout */
    const uint32_t rd = (uint32_t)m->ropes[ld->rope].dim;
    vk_rope_push pq = {n, nh, hd, rd, p0, 0, L->qd, 0};
    vk_op_rope(&e->rt, &e->k, L->set_rope_q, &pq);
    if (own_kv) {
        vk_rope_push pk = {n, nkv, hd, rd, p0, p0 * kvd, kvd, 0};
        vk_op_rope(&e->rt, &e->k, L->set_rope_k, &pk);
    }
    step(e, "rope");
}

static void record_attention(vk_engine *e, int l, const ubatch *u) {
    const model *m = e->base.model;
    const layer_desc *ld = &m->desc[l];
    vk_layer *L = &e->layers[l];
    const uint32_t n = (uint32_t)u->n, p0 = (uint32_t)u->p0, n_head = (uint32_t)m->hp.n_head;
    const bool capture = u->attention && u->n_out > 0;
    const uint32_t row_len = (uint32_t)u->row_len;
    vk_attention_push pa = {
        .pos = p0, .head_dim = L->hd, .group = (uint32_t)(ld->n_head / ld->n_head_kv),
        .q_stride = L->qd, .kv_stride = L->kvd, .out_stride = L->qd, .score_stride = (uint32_t)e->base.n_ctx,
        .cap_first = capture ? u->out_first : -1, .cap_rows = capture ? (uint32_t)u->n_out : 0,
        .cap_stride = row_len, .cap_off = capture ? (uint32_t)l * n_head * (uint32_t)u->n_out * row_len : 0,
        .scale = ld->attn_scale, .window = (uint32_t)ld->window, .softcap = ld->attn_softcap,
        .temp = ld->attn_temp, .temp_floor = (uint32_t)ld->attn_temp_floor, .sink_off = L->sinks};
    /* the layer's own heads (the capture's layout keeps the widest layer's count) */
    vk_op_attention(&e->rt, &e->k, L->set_attention, e->set_attn_merge, &pa, n, (uint32_t)ld->n_head);
    step(e, "attention");
}

/* --- the feed-forward network ------------------------------------------------------------ */

static void record_ffn(vk_engine *e, int l, uint32_t n, bool fused) {
    const model *m = e->base.model;
    const model_hparams *hp = &m->hp;
    vk_layer *L = &e->layers[l];
    const uint32_t d = (uint32_t)hp->n_embd, ff = (uint32_t)m->desc[l].n_ff;
    const uint32_t gelu = hp->act == ACT_GELU_TANH;
    if (fused && L->gate_up.n_parts) { /* ffa = act(gate) * up of the normalised x */
        vk_matvec_push pg = with_norm(e, vk_mv(n, 0, d, 0, ff, NO_PARAM, false), L->ffn_norm);
        pg.flags |= VK_MATVEC_GLU | (gelu ? VK_MATVEC_GELU : 0u);
        vk_matvec(e, &L->use_gate_up_x, 0, 2 * ff, pg);
        step(e, "gate/up+norm+glu");
    } else {
        norm(e, 0, n, L->ffn_norm, L->ffn_norm_b);
        step(e, "norm");
        if (!hp->glu) {
            vk_matvec(e, &L->use_up, 0, ff, vk_mv(n, 0, d, 0, ff, L->up_b, false));
            step(e, "up");
            vk_gelu_push pg = {n * ff, 0, 0};
            vk_op_gelu(&e->rt, &e->k, e->set_gelu, &pg);
            step(e, "gelu");
        } else if (L->gate_up.n_parts) { /* interleaved gate/up rows into ffb, then the GLU */
            vk_matvec(e, &L->use_gate_up, 0, 2 * ff, vk_mv(n, 0, d, 0, 2 * ff, NO_PARAM, false));
            step(e, "gate/up");
            vk_glu_push ps = {n * ff, 0, 1, 0, 2, gelu};
            vk_op_glu(&e->rt, &e->k, e->set_glu_pairs, &ps);
            step(e, "glu");
        } else {
            vk_matvec(e, &L->use_gate, 0, ff, vk_mv(n, 0, d, 0, ff, NO_PARAM, false));
            vk_matvec(e, &L->use_up, 0, ff, vk_mv(n, 0, d, 0, ff, L->up_b, false));
            step(e, "gate/up");
            vk_glu_push ps = {n * ff, 0, 0, 0, 1, gelu};
            vk_op_glu(&e->rt, &e->k, e->set_glu, &ps);
            step(e, "glu");
        }
    }
    /* x += Wdown h, or into xn for the sandwich norm */
    const bool sandwich = L->post_ffw_norm != NO_PARAM;
    vk_matvec(e, &L->use_down, 0, d, vk_mv(n, 0, ff, 0, d, L->down_b, !sandwich));
    step(e, "down");
    residual(e, n, L->post_ffw_norm, "ffn post-norm");
}

/* --- per-layer inputs (Gemma 4) -------------------------------------------------------- */

/* Every layer's input for each token (model/forward_cpu.c, embed_per_layer): the token's
 * rows of the per-layer embedding times sqrt(width) / sqrt(2), plus the projection of x
 * normalised per layer (epsilon times n_embd; the gain carries the 1/sqrt(2)). */
static void record_per_layer_inputs(vk_engine *e, uint32_t n) {
    const model_hparams *hp = &e->base.model->hp;
    const uint32_t w = (uint32_t)hp->n_embd_per_layer, all = w * (uint32_t)hp->n_layer, d = (uint32_t)hp->n_embd;
    vk_get_rows(e, &e->use_ple_rows, n, 0, 0, sqrtf((float)w) / sqrtf(2.0f));
    vk_matvec(e, &e->use_ple_proj, 0, all, vk_mv(n, 0, d, 0, all, NO_PARAM, false));
    step(e, "per-layer rows+proj");
    vk_rmsnorm_push pn = {n * (uint32_t)hp->n_layer, w, 0, w, 0, w, e->per_layer_proj_norm, VK_NORM_SCALE,
                          hp->norm_eps * (float)hp->n_embd};
    vk_op_rmsnorm(&e->rt, &e->k, e->set_ple_norm, &pn);
    step(e, "per-layer norm");
    vk_binary_push pa = {n * all, 0, 0, 0};
    vk_op_add(&e->rt, &e->k, e->set_ple_add, &pa);
    step(e, "per-layer add");
}

/* Layer L's use of its per-layer input, then its output scale. */
static void record_layer_end(vk_engine *e, int l, uint32_t n) {
    const model_hparams *hp = &e->base.model->hp;
    vk_layer *L = &e->layers[l];
    const uint32_t w = (uint32_t)hp->n_embd_per_layer, d = (uint32_t)hp->n_embd;
    if (L->inp_gate.n_parts) {
        vk_matvec(e, &L->use_inp_gate, 0, w, vk_mv(n, 0, d, 0, w, NO_PARAM, false));
        step(e, "per-layer gate");
        vk_ple_gate_push pg = {n, w, w * (uint32_t)hp->n_layer, (uint32_t)l * w};
        vk_op_ple_gate(&e->rt, &e->k, e->set_ple_gate, &pg);
        step(e, "per-layer gelu");
        vk_matvec(e, &L->use_proj, 0, d, vk_mv(n, 0, w, 0, d, NO_PARAM, false));
        step(e, "per-layer proj");
        residual(e, n, L->post_norm, "per-layer post-norm");
    }
    if (L->out_scale != NO_PARAM) {
        vk_scale_push ps = {n * d, 0, L->out_scale};
        vk_op_scale(&e->rt, &e->k, e->set_scale, &ps);
        step(e, "output scale");
    }
}

/* A mixture of experts' feed-forward sublayer (vk_moe.c), after its input norm. */
static void record_moe_ffn(vk_engine *e, int l, const ubatch *u) {
    vk_layer *L = &e->layers[l];
    const uint32_t n = (uint32_t)u->n;
    norm(e, 0, n, L->ffn_norm, L->ffn_norm_b);
    step(e, "norm");
    vk_record_moe(e, l, u);
    residual(e, n, L->post_ffw_norm, "ffn post-norm");
}

/* The attention sublayer: norm, q/k/v, attention, o (+ residual). The decode path
 * (e->fuse and a batch the matvec kernel takes) fuses the norm and rope into the q/k/v
 * products; the general path makes the norms, rope and gates steps of their own
 * (LayerNorm, q/k norms, gated outputs, batches for the matrix kernel); sandwich norms
 * add a step after the output projection. Returns whether the decode path was taken. */
static bool record_attention_sublayer(vk_engine *e, int l, const ubatch *u) {
    const model *m = e->base.model;
    vk_layer *L = &e->layers[l];
    const uint32_t n = (uint32_t)u->n, p0 = (uint32_t)u->p0, d = (uint32_t)m->hp.n_embd;
    /* a gated layer's gate rows are a product of the normalised input, in xn */
    const bool fused = e->fuse && n < e->k.matmul_min && !m->desc[l].out_gate;
    /* q/k norms come before rope, and v's norm is a step of its own */
    const bool rope_inside = fused && m->desc[l].rope >= 0 && L->q_norm == NO_PARAM;

    if (!fused) {
        norm(e, 0, n, L->attn_norm, L->attn_norm_b);
        step(e, "norm");
    }
    record_qkv(e, l, n, p0, fused, rope_inside);
    if (m->desc[l].out_gate) vk_dn_record_q_gate(e, l, n);
    step(e, fused ? "qkv+norm+rope" : "qkv");
    record_qk_norms_and_rope(e, l, n, p0, rope_inside);
    record_attention(e, l, u);
    if (m->desc[l].out_gate) vk_dn_record_gate_mul(e, l, n);

    const bool sandwich = L->post_attn_norm != NO_PARAM; /* x += Wo att, or into xn */
    vk_matvec(e, &L->use_o, 0, d, vk_mv(n, 0, L->qd, 0, d, L->bo, !sandwich));
    step(e, "o");
    residual(e, n, L->post_attn_norm, "attn post-norm");
    return fused;
}

/* One layer: its mixer (attention, or a Gated DeltaNet layer: vk_deltanet.c, from the
 * normalised input), its feed-forward sublayer (dense, or experts), its end (per-layer
 * inputs, output scale). The decode path is five steps, each ending in a barrier:
 * q/k/v (with the attention norm and rope inside), attention, o (+ residual), gate/up
 * (with the MLP norm and the GLU inside), down (+ residual). */
static void record_layer(vk_engine *e, int l, const ubatch *u) {
    const model *m = e->base.model;
    vk_layer *L = &e->layers[l];
    const uint32_t n = (uint32_t)u->n;
    bool fused;
    if (m->desc[l].mixer == MIXER_DELTANET) {
        norm(e, 0, n, L->attn_norm, L->attn_norm_b);
        step(e, "norm");
        vk_dn_record_mixer(e, l, u);
        fused = e->fuse && n < e->k.matmul_min;
    } else {
        fused = record_attention_sublayer(e, l, u);
    }
    if (m->desc[l].ffn == FFN_MOE) record_moe_ffn(e, l, u);
    else record_ffn(e, l, n, fused);
    record_layer_end(e, l, n);
}

/* --- the whole pass ---------------------------------------------------------------------- */

/* The final norm inside the output head (the decode path), or apart (the normalised state
 * is wanted, or batches for the matrix kernel), then the cap and the top-k. */
static void record_head(vk_engine *e, const ubatch *u) {
    const model_hparams *hp = &e->base.model->hp;
    const uint32_t n = (uint32_t)u->n, d = (uint32_t)hp->n_embd, V = (uint32_t)hp->n_vocab, K = (uint32_t)u->top_k;
    const uint32_t first = (uint32_t)u->out_first, n_out = (uint32_t)u->n_out;
    const size_t f = sizeof(float);
    if (e->fuse && n_out < e->k.matmul_min && !u->hidden && e->output_norm != NO_PARAM) {
        vk_matvec(e, &e->use_out_x, 0, V, with_norm(e, vk_mv(n_out, first * d, d, 0, V, NO_PARAM, false), e->output_norm));
    } else {
        norm(e, first, n_out, e->output_norm, e->output_norm_b);
        step(e, "norm");
        if (u->hidden)
            vk_copy(&e->rt, &e->xn, (n - 1) * d * f, &e->hidden_rb, (VkDeviceSize)hp->n_layer * d * f, d * f);
        vk_matvec(e, &e->use_out, 0, V, vk_mv(n_out, first * d, d, 0, V, NO_PARAM, false));
    }
    step(e, "output head");
    if (hp->final_softcap > 0) {
        vk_head_softcap(e, e->set_softcap, n_out * V);
        step(e, "softcap");
    }
    if (u->logits) vk_copy(&e->rt, &e->logits, 0, &e->logits_rb, 0, (VkDeviceSize)n_out * V * f);
    if (u->stats) {
        vk_op_topk(&e->rt, &e->k, e->set_topk_partial, e->set_topk_merge, V, V, n_out, K);
        vk_barrier(&e->rt);
        vk_copy(&e->rt, &e->topk_out, 0, &e->topk_rb, 0, (VkDeviceSize)n_out * (2 + 2 * K) * f);
        vk_mark(e, "top-k");
    }
}

int vk_record_ubatch(vk_engine *e, const ubatch *u, int slot, char *err, size_t errlen) {
    const model_hparams *hp = &e->base.model->hp;
    const uint32_t n = (uint32_t)u->n, d = (uint32_t)hp->n_embd;
    const size_t f = sizeof(float);

    if (vk_begin_slot(&e->rt, slot, err, errlen)) return -1;
    vk_mark(e, "start");

    vk_get_rows(e, &e->use_embd, n, 0, 0, hp->embed_scale);
    if (e->position_embd.n_parts) { /* learned positions: x = token embedding + position embedding */
        vk_get_rows(e, &e->use_pos, n, (uint32_t)u->p0, VK_GET_ROWS_POSITIONS, 1.0f);
        vk_barrier(&e->rt);
        vk_binary_push pa = {n * d, 0, 0, 0};
        vk_op_add(&e->rt, &e->k, e->set_add_pos, &pa);
    }
    step(e, "embedding");
    if (e->per_layer_embd.n_parts) record_per_layer_inputs(e, n);
    if (u->hidden) vk_copy(&e->rt, &e->x, (n - 1) * d * f, &e->hidden_rb, 0, d * f);
    if (u->lens_k) vk_copy(&e->rt, &e->x, (n - 1) * d * f, &e->hid, 0, d * f);

    for (int l = 0; l < hp->n_layer; l++) {
        record_layer(e, l, u);
        if (u->hidden && l + 1 < hp->n_layer)
            vk_copy(&e->rt, &e->x, (n - 1) * d * f, &e->hidden_rb, (VkDeviceSize)(l + 1) * d * f, d * f);
        if (u->lens_k) vk_copy(&e->rt, &e->x, (n - 1) * d * f, &e->hid, (VkDeviceSize)(l + 1) * d * f, d * f);
    }

    if (u->moe_out) vk_record_moe_final(e, u);
    if (u->n_out > 0) {
        record_head(e, u);
        if (u->lens_k) vk_record_lens(e, u);
    }
    return vk_end(&e->rt, err, errlen);
}
