/* vk_moe.c — a mixture of experts' layers on the GPU, step for step model/moe.c.
 *
 * Every expert stays resident; per token only the chosen ones are read. A layer is:
 *   router     the logits of every expert (and of the shared expert's gate), one matvec
 *   route      moe_route.comp: the ranking, the chosen ids and weights, into the routing
 *              buffer, which never leaves the GPU
 *   experts    one matvec per (token, slot) in matvec.glsl's EXPERTS mode: it reads the
 *              chosen id and only that expert's rows of the stacked matrices (gate and up
 *              interleaved, with the GLU inside; then down)
 *   shared     the shared expert, an ordinary gated FFN, beside the experts
 *   combine    moe_combine.comp: the weighted sum in the router's order, into x
 * and the routing and the layer's output are copied out for the views when asked.
 *
 * The expert matrices are uploaded whole, each in one buffer binding (every expert's
 * rows must be reachable from one dispatch); a model whose expert tensor exceeds the
 * device's binding limit is refused at creation. */
#include "vk_engine_impl.h"
#include "moe.h"

#include <stdlib.h>
#include <string.h>

static bool has_experts(const model *m) { return m->hp.moe.n_expert > 0; }

static uint32_t n_logits(const model *m, int l) {
    return (uint32_t)m->hp.moe.n_expert + (m->layers[l].shexp_gate ? 1u : 0u);
}

const char *vk_moe_unsupported(const model *m) {
    if (!has_experts(m)) return NULL;
    if (m->hp.moe.n_expert > VK_MOE_MAX_EXPERTS) return "more than 1024 experts per layer";
    if (moe_rank_n(&m->hp.moe) > VK_MOE_MAX_RANK) return "more than 64 chosen experts per token";
    for (int l = 0; l < m->hp.n_layer; l++) {
        const layer_weights *lw = &m->layers[l];
        if (m->desc[l].ffn == FFN_MOE && (lw->gate_exps.type != lw->up_exps.type ||
                                          lw->gate_exps.row_bytes != lw->up_exps.row_bytes))
            return "expert gate and up matrices of different types";
    }
    return NULL;
}

/* Bytes per token of the micro-batch buffers: logits, routing, the experts' hidden
 * activations and outputs (one row per slot), the shared expert's and the layer's output. */
uint64_t vk_moe_token_bytes(const model *m) {
    if (!has_experts(m)) return 0;
    const moe_hparams *moe = &m->hp.moe;
    const uint64_t k = (uint64_t)moe->n_used, d = (uint64_t)m->hp.n_embd;
    return 4 * ((uint64_t)moe->n_expert + 1 + 2 * k + 2 * (uint64_t)moe_rank_n(moe) + 1 +
                k * (uint64_t)moe->n_ff_exp + k * d + 2 * d);
}

/* --- weights and biases ---------------------------------------------------------------- */

/* The router as f32 rows, with the shared expert's gate as one more row. */
static int upload_router(vk_engine *e, int l, char *err, size_t errlen) {
    const model *m = e->base.model;
    const layer_weights *lw = &m->layers[l];
    const uint32_t rows = n_logits(m, l), d = (uint32_t)m->hp.n_embd;
    float *data = malloc((size_t)rows * d * sizeof *data);
    if (!data) return vk_fail(err, errlen, "out of memory");
    for (int64_t r = 0; r < lw->router.rows; r++) weight_row(&lw->router, r, data + (size_t)r * d);
    if (lw->shexp_gate) memcpy(data + (size_t)(rows - 1) * d, lw->shexp_gate, (size_t)d * sizeof *data);
    weight w = {lw->router.name, GGML_TYPE_F32, d, rows, data, (uint64_t)d * sizeof *data};
    int rc = vk_weight_upload(&e->rt, &e->staging, &w, &e->layers[l].moe.router, err, errlen);
    free(data);
    return rc;
}

/* Gate and up rows interleaved (gate 0, up 0, gate 1, ...), BLOCK rows of each per expert
 * (the whole matrices for the shared expert: BLOCK = its rows). */
static int upload_interleaved(vk_engine *e, const weight *gate, const weight *up, uint32_t block, vk_weight *out,
                              char *err, size_t errlen) {
    const weight *srcs[2] = {gate, up};
    const uint32_t rows = 2 * (uint32_t)gate->rows;
    uint32_t *map = malloc((size_t)rows * 2 * sizeof *map);
    if (!map) return vk_fail(err, errlen, "out of memory");
    for (uint32_t r = 0; r < rows; r++) {
        const uint32_t expert = r / (2 * block), i = (r % (2 * block)) / 2;
        map[2 * r] = r & 1;
        map[2 * r + 1] = expert * block + i;
    }
    int rc = vk_weight_upload_rows(&e->rt, &e->staging, srcs, 2, map, rows, out, err, errlen);
    free(map);
    return rc;
}

int vk_moe_upload(vk_engine *e, int l, char *err, size_t errlen) {
    const model *m = e->base.model;
    const layer_weights *lw = &m->layers[l];
    vk_moe_layer *M = &e->layers[l].moe;
    const uint32_t ff = (uint32_t)m->hp.moe.n_ff_exp;
    if (upload_router(e, l, err, errlen) || upload_interleaved(e, &lw->gate_exps, &lw->up_exps, ff, &M->gate_up, err, errlen) ||
        vk_weight_upload(&e->rt, &e->staging, &lw->down_exps, &M->down, err, errlen))
        return -1;
    if (M->gate_up.n_parts > 1 || M->down.n_parts > 1)
        return vk_fail(err, errlen, "%s: the expert matrices of layer %d exceed %s's buffer limit (one binding)",
                       m->name, l, e->rt.props.deviceName);
    if (lw->shexp_gate &&
        (upload_interleaved(e, &lw->gate_shexp, &lw->up_shexp, (uint32_t)lw->gate_shexp.rows, &M->sh_gate_up, err,
                            errlen) ||
         vk_weight_upload(&e->rt, &e->staging, &lw->down_shexp, &M->sh_down, err, errlen)))
        return -1;
    return 0;
}

/* The experts' gate and up biases interleaved like their rows. */
static int pack_gate_up_bias(const model *m, const layer_weights *lw, param_pack *p, uint32_t *offset) {
    *offset = NO_PARAM;
    if (!lw->gate_exps_b || !lw->up_exps_b) return 0;
    const size_t ff = (size_t)m->hp.moe.n_ff_exp, n = (size_t)m->hp.moe.n_expert * ff;
    float *v = malloc(2 * n * sizeof *v);
    if (!v) return -1;
    for (size_t i = 0; i < n; i++) v[2 * i] = lw->gate_exps_b[i], v[2 * i + 1] = lw->up_exps_b[i];
    int rc = vk_pack_vector(p, v, (int)(2 * n), offset);
    free(v);
    return rc;
}

int vk_moe_pack(const vk_engine *e, int l, param_pack *p) {
    const model *m = e->base.model;
    const layer_weights *lw = &m->layers[l];
    vk_moe_layer *M = &e->layers[l].moe;
    const int n_expert = m->hp.moe.n_expert, n = (int)n_logits(m, l);
    M->router_b = NO_PARAM;
    if (lw->router_b) { /* the shared gate's row has no bias */
        float *b = calloc((size_t)n, sizeof *b);
        if (!b) return -1;
        memcpy(b, lw->router_b, (size_t)n_expert * sizeof *b);
        int rc = vk_pack_vector(p, b, n, &M->router_b);
        free(b);
        if (rc) return -1;
    }
    return pack_gate_up_bias(m, lw, p, &M->gate_up_b) ||
           vk_pack_vector(p, lw->down_exps_b, n_expert * m->hp.n_embd, &M->down_b);
}

/* --- buffers and sets -------------------------------------------------------------------- */

int vk_moe_buffers(vk_engine *e, char *err, size_t errlen) {
    const model *m = e->base.model;
    if (!has_experts(m)) return 0;
    const moe_hparams *moe = &m->hp.moe;
    vk_moe *M = &e->moe;
    const VkDeviceSize ub = (VkDeviceSize)e->ubatch, f = sizeof(float), d = (VkDeviceSize)m->hp.n_embd;
    M->n_used = (uint32_t)moe->n_used;
    M->n_rank = (uint32_t)moe_rank_n(moe);
    M->n_logits = (uint32_t)moe->n_expert + 1; /* room for a shared gate */
    const uint32_t k = M->n_used, r = M->n_rank, u = (uint32_t)e->ubatch;
    M->ids_off = 0;
    M->w_off = u * k;
    M->rank_off = 2 * u * k;
    M->prob_off = 2 * u * k + u * r;
    M->gate_off = 2 * u * k + 2 * u * r;
    struct { vk_buffer *b; VkDeviceSize size; vk_mem_kind kind; } list[] = {
        {&M->logits, ub * M->n_logits * f, VK_MEM_DEVICE},
        {&M->route, (VkDeviceSize)(M->gate_off + u) * 4, VK_MEM_DEVICE},
        {&M->h, ub * k * (VkDeviceSize)moe->n_ff_exp * f, VK_MEM_DEVICE},
        {&M->y, ub * k * d * f, VK_MEM_DEVICE},
        {&M->shared, ub * d * f, VK_MEM_DEVICE},
        {&M->out, ub * d * f, VK_MEM_DEVICE},
        {&M->route_rb, (VkDeviceSize)m->hp.n_layer * ub * (2 * r + k) * f, VK_MEM_READBACK},
        {&M->out_rb, (VkDeviceSize)(m->hp.n_layer + 1) * d * f, VK_MEM_READBACK},
    };
    for (size_t i = 0; i < sizeof list / sizeof list[0]; i++)
        if (vk_buffer_create(&e->rt, list[i].b, list[i].size, list[i].kind, "mixture of experts", err, errlen)) return -1;
    return 0;
}

uint32_t vk_moe_sets_needed(const vk_engine *e) {
    const model *m = e->base.model;
    uint32_t n = 0;
    for (int l = 0; l < m->hp.n_layer; l++) {
        const vk_moe_layer *M = &e->layers[l].moe;
        if (m->desc[l].ffn == FFN_MOE)
            n += (uint32_t)(M->router.n_parts + M->gate_up.n_parts + M->down.n_parts + M->sh_gate_up.n_parts +
                            M->sh_down.n_parts) + 2;
    }
    return n;
}

static int set_of(vk_engine *e, VkDescriptorSet *set, int n, vk_buffer *a, vk_buffer *b, vk_buffer *c, vk_buffer *d,
                  vk_buffer *f, char *err, size_t errlen) {
    vk_buffer *bufs[5] = {a, b, c, d, f};
    return vk_set_create(&e->rt, e->pool, n, bufs, set, err, errlen);
}

int vk_moe_sets(vk_engine *e, int l, char *err, size_t errlen) {
    vk_layer *L = &e->layers[l];
    vk_moe_layer *M = &L->moe;
    vk_moe *S = &e->moe;
    vk_buffer *dst = L->post_ffw_norm != NO_PARAM ? &e->xn : &e->x;
    return vk_use_create(e, &M->use_router, &M->router, &e->xn, &S->logits, &e->dummy, NULL, err, errlen) ||
           vk_use_create(e, &M->use_gate_up, &M->gate_up, &e->xn, &S->h, &e->dummy, &S->route, err, errlen) ||
           vk_use_create(e, &M->use_down, &M->down, &S->h, &S->y, &e->dummy, &S->route, err, errlen) ||
           (M->sh_gate_up.n_parts &&
            (vk_use_create(e, &M->use_sh_gate_up, &M->sh_gate_up, &e->xn, &e->ffa, &e->dummy, NULL, err, errlen) ||
             vk_use_create(e, &M->use_sh_down, &M->sh_down, &e->ffa, &S->shared, &e->dummy, NULL, err, errlen))) ||
           set_of(e, &M->set_route, 2, &S->logits, &S->route, NULL, NULL, NULL, err, errlen) ||
           set_of(e, &M->set_combine, 5, &S->route, &S->y, &S->shared, dst, &S->out, err, errlen);
}

void vk_moe_free(vk_engine *e, bool live) {
    const model *m = e->base.model;
    for (int l = 0; e->layers && l < m->hp.n_layer; l++) {
        vk_moe_layer *M = &e->layers[l].moe;
        vk_use *us[] = {&M->use_router, &M->use_gate_up, &M->use_down, &M->use_sh_gate_up, &M->use_sh_down};
        for (size_t i = 0; i < sizeof us / sizeof us[0]; i++) {
            free(us[i]->sets);
            us[i]->sets = NULL;
        }
        if (!live) continue;
        vk_weight *ws[] = {&M->router, &M->gate_up, &M->down, &M->sh_gate_up, &M->sh_down};
        for (size_t i = 0; i < sizeof ws / sizeof ws[0]; i++) vk_weight_free(&e->rt, ws[i]);
    }
    if (!live) return;
    vk_moe *S = &e->moe;
    vk_buffer *bufs[] = {&S->logits, &S->route, &S->h, &S->y, &S->shared, &S->out, &S->route_rb, &S->out_rb};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) vk_buffer_destroy(&e->rt, bufs[i]);
}

/* --- recording ----------------------------------------------------------------------------- */

/* The GLU flags of the model's activation. */
static uint32_t glu_flags(const model_hparams *hp) {
    return VK_MATVEC_GLU | (hp->act == ACT_GELU_TANH ? VK_MATVEC_GELU : 0u) | (hp->act == ACT_SWIGLU_OAI ? VK_MATVEC_OAI : 0u);
}

/* An expert product: N tokens x K slots, each vector reading its expert's ROWS rows. */
static vk_matvec_push expert_push(const vk_engine *e, vk_matvec_push p, uint32_t rows, bool x_per_slot) {
    p.flags |= VK_MATVEC_EXPERTS;
    p.ids_off = e->moe.ids_off;
    p.n_slots = e->moe.n_used;
    p.expert_rows = rows;
    p.x_per_slot = x_per_slot;
    return p;
}

/* The routing of U's output rows and layer L's output at the last token, into the
 * readbacks. */
static void capture(vk_engine *e, int l, const ubatch *u) {
    vk_moe *S = &e->moe;
    const VkDeviceSize f = 4, ub = (VkDeviceSize)e->ubatch, r = S->n_rank, k = S->n_used;
    const VkDeviceSize d = (VkDeviceSize)e->base.model->hp.n_embd, first = (VkDeviceSize)u->out_first,
                       n_out = (VkDeviceSize)u->n_out;
    const VkDeviceSize layer = (VkDeviceSize)l * ub * (2 * r + k) * f;
    if (u->routing && n_out > 0) {
        vk_copy(&e->rt, &S->route, (S->rank_off + first * r) * f, &S->route_rb, layer, n_out * r * f);
        vk_copy(&e->rt, &S->route, (S->prob_off + first * r) * f, &S->route_rb, layer + ub * r * f, n_out * r * f);
        vk_copy(&e->rt, &S->route, (S->w_off + first * k) * f, &S->route_rb, layer + 2 * ub * r * f, n_out * k * f);
    }
    if (u->moe_out) vk_copy(&e->rt, &S->out, (VkDeviceSize)(u->n - 1) * d * f, &S->out_rb, (VkDeviceSize)l * d * f, d * f);
}

void vk_record_moe(vk_engine *e, int l, const ubatch *u) {
    const model *m = e->base.model;
    const model_hparams *hp = &m->hp;
    vk_layer *L = &e->layers[l];
    vk_moe_layer *M = &L->moe;
    vk_moe *S = &e->moe;
    const uint32_t n = (uint32_t)u->n, d = (uint32_t)hp->n_embd, ff = (uint32_t)hp->moe.n_ff_exp, k = S->n_used;
    const uint32_t nl = n_logits(m, l);

    vk_matvec(e, &M->use_router, 0, nl, vk_mv(n, 0, d, 0, nl, M->router_b, false));
    vk_step(e, "router");
    vk_moe_route_push pr = {(uint32_t)hp->moe.n_expert, nl, k, S->n_rank,
                            hp->moe.routing == ROUTE_TOPK_SOFTMAX ? 1u : 0u, hp->moe.norm, nl > (uint32_t)hp->moe.n_expert,
                            S->ids_off, S->w_off, S->rank_off, S->prob_off, S->gate_off};
    vk_op_moe_route(&e->rt, &e->k, M->set_route, &pr, n);
    vk_step(e, "route");

    vk_matvec_push pg = expert_push(e, vk_mv(n * k, 0, d, 0, ff, M->gate_up_b, false), 2 * ff, false);
    pg.flags |= glu_flags(hp);
    vk_matvec(e, &M->use_gate_up, 0, 2 * ff, pg);
    const uint32_t sff = (uint32_t)M->sh_gate_up.rows / 2;
    if (M->sh_gate_up.n_parts) {
        vk_matvec_push ps = vk_mv(n, 0, d, 0, sff, NO_PARAM, false);
        ps.flags |= glu_flags(hp);
        vk_matvec(e, &M->use_sh_gate_up, 0, 2 * sff, ps);
    }
    vk_step(e, "experts gate/up");
    vk_matvec(e, &M->use_down, 0, d, expert_push(e, vk_mv(n * k, 0, ff, 0, d, M->down_b, false), d, true));
    if (M->sh_down.n_parts) vk_matvec(e, &M->use_sh_down, 0, d, vk_mv(n, 0, sff, 0, d, NO_PARAM, false));
    vk_step(e, "experts down");
    vk_moe_combine_push pc = {n, d, k, S->w_off, S->gate_off, M->sh_gate_up.n_parts > 0, L->post_ffw_norm == NO_PARAM};
    vk_op_moe_combine(&e->rt, &e->k, M->set_combine, &pc);
    vk_step(e, "experts combine");
    capture(e, l, u);
}

void vk_record_moe_final(vk_engine *e, const ubatch *u) {
    const VkDeviceSize d = (VkDeviceSize)e->base.model->hp.n_embd, f = sizeof(float);
    vk_copy(&e->rt, &e->x, (VkDeviceSize)(u->n - 1) * d * f, &e->moe.out_rb,
            (VkDeviceSize)e->base.model->hp.n_layer * d * f, d * f);
}

void vk_read_moe(vk_engine *e, const engine_batch *b, const ubatch *u, int out_base, int n_out_total) {
    const model *m = e->base.model;
    vk_moe *S = &e->moe;
    const size_t r = S->n_rank, k = S->n_used, ub = (size_t)e->ubatch;
    if (u->routing) {
        vk_buffer_invalidate(&e->rt, &S->route_rb);
        for (int l = 0; l < m->hp.n_layer; l++) {
            if (m->desc[l].ffn != FFN_MOE) continue;
            const float *base = (const float *)S->route_rb.map + (size_t)l * ub * (2 * r + k);
            for (int i = 0; i < u->n_out; i++) {
                const size_t row = (size_t)l * (size_t)n_out_total + (size_t)(out_base + i);
                if (b->route_ids) memcpy(b->route_ids + row * r, base + (size_t)i * r, r * sizeof(int32_t));
                if (b->route_probs) memcpy(b->route_probs + row * r, base + ub * r + (size_t)i * r, r * sizeof(float));
                if (b->route_weights) memcpy(b->route_weights + row * k, base + 2 * ub * r + (size_t)i * k, k * sizeof(float));
            }
        }
    }
    if (u->moe_out) {
        const size_t d = (size_t)m->hp.n_embd;
        vk_buffer_invalidate(&e->rt, &S->out_rb);
        const float *src = S->out_rb.map;
        for (int l = 0; l <= m->hp.n_layer; l++) {
            const bool zero = l < m->hp.n_layer && m->desc[l].ffn != FFN_MOE;
            if (zero) memset(b->moe_out + (size_t)l * d, 0, d * sizeof(float));
            else memcpy(b->moe_out + (size_t)l * d, src + (size_t)l * d, d * sizeof(float));
        }
    }
}
