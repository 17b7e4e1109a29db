/* vk_deltanet.c — Gated DeltaNet layers and gated attention in the Vulkan engine (see
 * vk_deltanet.h; the layer and its state's layout: model/deltanet.h).
 *
 * A DeltaNet layer's mixer is six steps, each ending in a barrier: the four projections of
 * the normalised input (q/k/v into the convolution, z, beta's and the decay's), the
 * convolution, the state keeping its last inputs together with the norms of q and k and
 * the gates, the chunked recurrence (one workgroup per value head), the gated norm (and,
 * capturing, the effective weights), and the output projection added into the residual
 * stream. The state lives on the device in the CPU engine's layout; checkpoints of it go
 * to host memory (state_ckpt.h). Betas and decays of every position are kept in
 * host-visible memory, so engine_batch.gates is read straight from them. */
#include "vk_deltanet.h"

#include "deltanet.h"
#include "state_ckpt.h"
#include "vk_engine_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* --- kernels ------------------------------------------------------------------------- */

int vk_dn_kernels_create(vk_runtime *rt, uint32_t wg, vk_dn_kernels *k, char *err, size_t errlen) {
    memset(k, 0, sizeof *k);
    return vk_kernel_create(rt, &k->conv, "dn_conv", 4, wg, NULL, 0, err, errlen) ||
           vk_kernel_create(rt, &k->prep, "dn_prep", 5, wg, NULL, 0, err, errlen) ||
           vk_kernel_create(rt, &k->project, "dn_project", 5, wg, NULL, 0, err, errlen) ||
           vk_kernel_create(rt, &k->solve, "dn_solve", 6, wg, NULL, 0, err, errlen) ||
           vk_kernel_create(rt, &k->fold, "dn_fold", 1, wg, NULL, 0, err, errlen) ||
           vk_kernel_create(rt, &k->weights, "dn_weights", 4, wg, NULL, 0, err, errlen) ||
           vk_kernel_create(rt, &k->gated_norm, "dn_gated_norm", 3, wg, NULL, 0, err, errlen) ||
           vk_kernel_create(rt, &k->sigmoid_mul, "sigmoid_mul", 2, wg, NULL, 0, err, errlen);
}

void vk_dn_kernels_destroy(vk_runtime *rt, vk_dn_kernels *k) {
    vk_kernel *all[] = {&k->conv, &k->prep, &k->project, &k->solve, &k->fold, &k->weights, &k->gated_norm,
                        &k->sigmoid_mul};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) vk_kernel_destroy(rt, all[i]);
}

static uint32_t div_up(uint32_t a, uint32_t b) { return (a + b - 1) / b; }

static void dispatch(vk_runtime *rt, const vk_kernel *k, VkDescriptorSet set, const void *push, size_t bytes,
                     uint32_t groups) {
    uint32_t gx, gz;
    vk_fold_groups(groups, &gx, &gz);
    vk_dispatch(rt, k, set, push, bytes, gx, 1, gz);
}

void vk_op_dn_conv(vk_runtime *rt, const vk_dn_kernels *k, VkDescriptorSet set, const vk_dn_conv_push *p) {
    uint32_t threads = p->mode ? p->C : p->n * p->C;
    dispatch(rt, &k->conv, set, p, sizeof *p, div_up(threads, k->conv.wg_size));
}

void vk_op_dn_prep(vk_runtime *rt, const vk_dn_kernels *k, VkDescriptorSet set, const vk_dn_prep_push *p) {
    dispatch(rt, &k->prep, set, p, sizeof *p, p->n);
}

void vk_dn_record_recurrence(vk_runtime *rt, const vk_dn_kernels *k, VkDescriptorSet project, VkDescriptorSet solve,
                             VkDescriptorSet fold, const vk_dn_seg_push *shape, uint32_t p0, uint32_t n) {
    for (uint32_t done = 0; done < n;) {
        vk_dn_seg_push p = *shape;
        p.p0 = p0 + done;
        p.row0 = done;
        p.n = DN_CHUNK - p.p0 % DN_CHUNK < n - done ? DN_CHUNK - p.p0 % DN_CHUNK : n - done;
        dispatch(rt, &k->project, project, &p, sizeof p, p.n_v * p.n);
        vk_barrier(rt);
        dispatch(rt, &k->solve, solve, &p, sizeof p, div_up(p.n_v * p.d_v, k->solve.wg_size));
        vk_barrier(rt);
        if ((p.p0 + p.n) % DN_CHUNK == 0) {
            vk_dn_fold_push f = {p.n_v, p.d_k, p.d_v, p.conv_floats};
            dispatch(rt, &k->fold, fold, &f, sizeof f, div_up(p.n_v * p.d_v * p.d_k, k->fold.wg_size));
            vk_barrier(rt);
        }
        done += p.n;
    }
}

void vk_op_dn_weights(vk_runtime *rt, const vk_dn_kernels *k, VkDescriptorSet set, const vk_dn_weights_push *p) {
    dispatch(rt, &k->weights, set, p, sizeof *p, p->n_v * p->n_out);
}

void vk_op_dn_gated_norm(vk_runtime *rt, const vk_dn_kernels *k, VkDescriptorSet set, const vk_dn_norm_push *p) {
    dispatch(rt, &k->gated_norm, set, p, sizeof *p, p->n_vec);
}

void vk_op_sigmoid_mul(vk_runtime *rt, const vk_dn_kernels *k, VkDescriptorSet set, const vk_sigmoid_mul_push *p) {
    dispatch(rt, &k->sigmoid_mul, set, p, sizeof *p, div_up(p->n, k->sigmoid_mul.wg_size));
}

/* --- the engine's state -------------------------------------------------------------- */

typedef struct vk_dn_layer {
    int l;
    dn_shape sh;
    vk_weight qkv, z, beta, alpha, out;
    uint32_t taps_off, dt_off, rate_off, norm_off; /* in vk_dn.params */
    vk_buffer state;   /* model/deltanet.h's layout */
    vk_buffer gates;   /* [n_ctx][n_v][2] beta, g: host-visible */
    vk_buffer keys;    /* [n_ctx][key_dim] normalised keys (capture only) */
    vk_use use_qkv, use_z, use_beta, use_alpha, use_out;
    VkDescriptorSet set_conv, set_prep, set_project, set_solve, set_fold, set_weights, set_norm;
} vk_dn_layer;

typedef struct vk_dn {
    vk_dn_kernels k;
    VkDescriptorPool pool;
    vk_buffer params;
    vk_buffer pre, conv, z, ba, o;  /* one micro-batch, the widest layer */
    vk_buffer ab, gram;             /* the chunked form's products, one chunk */
    vk_buffer q_gate;               /* gated attention: [ub][q_dim] gate rows */
    vk_buffer state_rb;             /* a snapshot of every layer's state, on its way out */
    int *index;                     /* [n_layer]: DeltaNet layer of a model layer, or -1 */
    vk_dn_layer *layers;
    int n;
    vk_use *use_q_gate;             /* [n_layer]: gated attention layers' gate rows */
    VkDescriptorSet *set_gate_mul;  /* [n_layer] */
    state_ckpts ckpts;
    ckpt_host host;
} vk_dn;

const char *vk_dn_unsupported(const model *m) {
    for (int l = 0; l < m->hp.n_layer; l++) {
        const layer_desc *d = &m->desc[l];
        if (d->mixer != MIXER_DELTANET) continue;
        if (d->head_dim > VK_DN_MAX_DK || d->conv_kernel > VK_DN_MAX_TAPS) return "this DeltaNet layout";
    }
    return NULL;
}

/* A use of W reading IN and writing OUT, its sets from the DeltaNet pool. */
static int use_make(vk_engine *e, vk_dn *dn, vk_use *u, const vk_weight *w, vk_buffer *in, vk_buffer *out, char *err,
                    size_t errlen) {
    return vk_use_create_in(e, dn->pool, u, w, in, out, &e->dummy, NULL, err, errlen);
}

static int set_make(vk_engine *e, vk_dn *dn, VkDescriptorSet *s, int n, vk_buffer *a, vk_buffer *b, vk_buffer *c,
                    vk_buffer *d, vk_buffer *f, char *err, size_t errlen) {
    vk_buffer *bufs[5] = {a, b, c, d, f};
    return vk_set_create(&e->rt, dn->pool, n, bufs, s, err, errlen);
}

/* Appends N floats to the host copy of the params buffer; *OFF gets their offset. */
static int pack(float **data, size_t *n_data, const float *v, size_t n, uint32_t *off) {
    float *d = realloc(*data, (*n_data + n) * sizeof *d);
    if (!d) return -1;
    memcpy(d + *n_data, v, n * sizeof *v);
    *off = (uint32_t)*n_data;
    *data = d;
    *n_data += n;
    return 0;
}

static int pack_layer(const model *m, vk_dn_layer *L, float **data, size_t *n_data) {
    const layer_weights *lw = &m->layers[L->l];
    const dn_shape *s = &L->sh;
    float *taps = malloc((size_t)s->conv_dim * s->taps * sizeof *taps);
    if (!taps) return -1;
    for (int c = 0; c < s->conv_dim; c++) weight_row(&lw->ssm_conv, c, taps + (size_t)c * s->taps);
    int rc = pack(data, n_data, taps, (size_t)s->conv_dim * s->taps, &L->taps_off) ||
             pack(data, n_data, lw->ssm_dt, (size_t)s->n_v, &L->dt_off) ||
             pack(data, n_data, lw->ssm_a, (size_t)s->n_v, &L->rate_off) ||
             pack(data, n_data, lw->ssm_norm, (size_t)s->d_v, &L->norm_off);
    free(taps);
    return rc;
}

/* The layer's weights and buffers; returns the descriptor sets its uses will need. */
static int layer_upload(vk_engine *e, vk_dn_layer *L, int *n_sets, char *err, size_t errlen) {
    const layer_weights *lw = &e->base.model->layers[L->l];
    const dn_shape *s = &L->sh;
    const VkDeviceSize f = sizeof(float), n_ctx = (VkDeviceSize)e->base.n_ctx;
    struct { const weight *w; vk_weight *out; } mats[] = {
        {&lw->ssm_qkv, &L->qkv}, {&lw->ssm_z, &L->z}, {&lw->ssm_beta, &L->beta}, {&lw->ssm_alpha, &L->alpha},
        {&lw->ssm_out, &L->out}};
    for (size_t i = 0; i < sizeof mats / sizeof mats[0]; i++) {
        if (vk_weight_upload(&e->rt, &e->staging, mats[i].w, mats[i].out, err, errlen)) return -1;
        *n_sets += mats[i].out->n_parts;
    }
    *n_sets += 7;
    return vk_buffer_create(&e->rt, &L->state, dn_state_floats(s) * f, VK_MEM_DEVICE, "DeltaNet state", err, errlen) ||
           vk_buffer_create(&e->rt, &L->gates, n_ctx * s->n_v * 2 * f, VK_MEM_READBACK, "DeltaNet gates", err, errlen) ||
           (e->capture &&
            vk_buffer_create(&e->rt, &L->keys, n_ctx * s->key_dim * f, VK_MEM_DEVICE, "DeltaNet keys", err, errlen));
}

static int layer_sets(vk_engine *e, vk_dn *dn, vk_dn_layer *L, char *err, size_t errlen) {
    vk_buffer *keys = e->capture ? &L->keys : &e->dummy;
    if (use_make(e, dn, &L->use_qkv, &L->qkv, &e->xn, &dn->pre, err, errlen) ||
        use_make(e, dn, &L->use_z, &L->z, &e->xn, &dn->z, err, errlen) ||
        use_make(e, dn, &L->use_beta, &L->beta, &e->xn, &dn->ba, err, errlen) ||
        use_make(e, dn, &L->use_alpha, &L->alpha, &e->xn, &dn->ba, err, errlen) ||
        use_make(e, dn, &L->use_out, &L->out, &dn->o, &e->x, err, errlen) ||
        set_make(e, dn, &L->set_conv, 4, &dn->pre, &L->state, &dn->params, &dn->conv, NULL, err, errlen) ||
        set_make(e, dn, &L->set_prep, 5, &dn->conv, &dn->ba, &dn->params, &L->gates, keys, err, errlen) ||
        set_make(e, dn, &L->set_project, 5, &dn->conv, &L->gates, &L->state, &dn->ab, &dn->gram, err, errlen) ||
        vk_set_create(&e->rt, dn->pool, 6, (vk_buffer *[]){&dn->conv, &L->gates, &L->state, &dn->ab, &dn->gram, &dn->o},
                      &L->set_solve, err, errlen) ||
        set_make(e, dn, &L->set_fold, 1, &L->state, NULL, NULL, NULL, NULL, err, errlen) ||
        set_make(e, dn, &L->set_weights, 4, &dn->conv, keys, &L->gates, e->capture ? &e->capture_buf : &e->dummy, NULL,
                 err, errlen) ||
        set_make(e, dn, &L->set_norm, 3, &dn->o, &dn->z, &dn->params, NULL, NULL, err, errlen))
        return -1;
    return 0;
}

/* --- the recurrent state's checkpoints ------------------------------------------------ */

static size_t snapshot_bytes(void *ctx, int pos) {
    const vk_dn *dn = ((vk_engine *)ctx)->dn;
    size_t n = 0;
    for (int i = 0; i < dn->n; i++) n += dn_snapshot_floats(&dn->layers[i].sh, pos);
    return n * sizeof(float);
}

/* Recording anything else may reuse the command buffer of a prerecorded decode step. */
static void forget_prerecorded(vk_engine *e) { e->next_ready = false; }

static bool save(void *ctx, int pos, void *dst) {
    vk_engine *e = ctx;
    vk_dn *dn = e->dn;
    char err[256];
    forget_prerecorded(e);
    if (vk_begin(&e->rt, err, sizeof err)) return false;
    VkDeviceSize off = 0;
    for (int i = 0; i < dn->n; i++) {
        VkDeviceSize bytes = dn_snapshot_floats(&dn->layers[i].sh, pos) * sizeof(float);
        vk_copy(&e->rt, &dn->layers[i].state, 0, &dn->state_rb, off, bytes);
        off += bytes;
    }
    /* a lost device keeps no checkpoint; the next eval reports the loss */
    if (vk_submit(&e->rt, err, sizeof err)) return false;
    vk_buffer_invalidate(&e->rt, &dn->state_rb);
    memcpy(dst, dn->state_rb.map, (size_t)off);
    return true;
}

static int load(void *ctx, int pos, const void *src, char *err, size_t errlen) {
    vk_engine *e = ctx;
    vk_dn *dn = e->dn;
    forget_prerecorded(e);
    if (!src) { /* position 0: the convolution's rows and S are zero, the tail is empty */
        if (vk_begin(&e->rt, err, errlen)) return -1;
        for (int i = 0; i < dn->n; i++)
            vk_fill(&e->rt, &dn->layers[i].state, 0, (dn->layers[i].sh.conv_floats + dn->layers[i].sh.S_floats) * sizeof(float), 0);
        return vk_submit(&e->rt, err, errlen);
    }
    const char *p = src;
    for (int i = 0; i < dn->n; i++) {
        size_t bytes = dn_snapshot_floats(&dn->layers[i].sh, pos) * sizeof(float);
        if (vk_upload(&e->rt, &e->staging, &dn->layers[i].state, 0, p, bytes, err, errlen)) return -1;
        p += bytes;
    }
    return 0;
}

static int replay(void *ctx, const int32_t *tokens, int pos, int n, char *err, size_t errlen) {
    vk_engine *e = ctx;
    engine_batch b = {.tokens = tokens, .n_tokens = n, .pos = pos};
    return engine_eval(&e->base, &b, err, errlen);
}

int vk_dn_rewind(vk_engine *e, int pos, char *err, size_t errlen) {
    vk_dn *dn = e->dn;
    return dn->n ? ckpts_rewind(&dn->ckpts, &dn->host, pos, err, errlen) : 0;
}

int vk_dn_room(const vk_engine *e, int pos) {
    return e->dn->n ? ckpts_room(&e->dn->ckpts, pos) : INT32_MAX;
}

void vk_dn_advance(vk_engine *e, const int32_t *tokens, int pos, int n) {
    vk_dn *dn = e->dn;
    if (!dn->n) return;
    ckpts_advance(&dn->ckpts, tokens, pos, n);
    if (ckpts_room(&dn->ckpts, pos + n) == dn->ckpts.interval) ckpts_take(&dn->ckpts, &dn->host, false);
}

void vk_dn_checkpoint(engine *base) {
    vk_engine *e = (vk_engine *)base;
    if (e->dn && e->dn->n) ckpts_take(&e->dn->ckpts, &e->dn->host, true);
}

void vk_dn_state_memory(const engine *base, engine_state_memory *out) {
    const vk_engine *e = (const vk_engine *)base;
    const vk_dn *dn = e->dn;
    for (int i = 0; dn && i < dn->n; i++) {
        const dn_shape *s = &dn->layers[i].sh;
        out->state += dn_state_floats(s) * sizeof(float);
        out->keys += (size_t)e->base.n_ctx * (size_t)((e->capture ? s->key_dim : 0) + 2 * s->n_v) * sizeof(float);
    }
    if (dn) {
        out->checkpoints = dn->ckpts.bytes;
        out->n_checkpoints = dn->ckpts.n;
    }
}

void vk_dn_read_gates(vk_engine *e, const engine_batch *b, const ubatch *u, int out_base, int n_out_total) {
    const model_hparams *hp = &e->base.model->hp;
    vk_dn *dn = e->dn;
    for (int i = 0; dn && i < dn->n; i++) {
        vk_dn_layer *L = &dn->layers[i];
        vk_buffer_invalidate(&e->rt, &L->gates);
        const float *g = L->gates.map;
        for (int o = 0; o < u->n_out; o++) {
            const size_t pos = (size_t)(u->p0 + u->out_first + o), row = (size_t)(out_base + o);
            if ((int)row >= n_out_total) break;
            float *dst = b->gates + (row * hp->n_layer + L->l) * hp->n_head * 2;
            for (int h = 0; h < L->sh.n_v; h++) {
                dst[2 * h] = g[(pos * L->sh.n_v + h) * 2];
                dst[2 * h + 1] = expf(g[(pos * L->sh.n_v + h) * 2 + 1]);
            }
        }
    }
}

/* --- creation ------------------------------------------------------------------------- */

/* Gated attention layers: their gate rows' product and the gate's descriptor set. */
static int gated_make(vk_engine *e, vk_dn *dn, char *err, size_t errlen) {
    const model *m = e->base.model;
    for (int l = 0; l < m->hp.n_layer; l++) {
        if (!m->desc[l].out_gate) continue;
        if (use_make(e, dn, &dn->use_q_gate[l], &e->layers[l].wq, &e->xn, &dn->q_gate, err, errlen) ||
            set_make(e, dn, &dn->set_gate_mul[l], 2, &e->att, &dn->q_gate, NULL, NULL, NULL, err, errlen))
            return -1;
    }
    return 0;
}

/* The params and the buffers one micro-batch uses, sized for the widest layer (SIZES:
 * conv rows, values, value heads, value head size, floats of every layer's state). */
static int scratch_make(vk_engine *e, vk_dn *dn, const float *params, size_t n_params, const size_t sizes[5],
                        char *err, size_t errlen) {
    const VkDeviceSize ub = (VkDeviceSize)e->ubatch, f = sizeof(float);
    const VkDeviceSize conv = sizes[0], value = sizes[1], heads = sizes[2], d_v = sizes[3], snapshot = sizes[4];
    struct { vk_buffer *b; VkDeviceSize floats; vk_mem_kind kind; const char *what; } list[] = {
        {&dn->params, n_params ? n_params : 1, VK_MEM_DEVICE, "DeltaNet params"},
        {&dn->pre, ub * conv, VK_MEM_DEVICE, "DeltaNet inputs"},
        {&dn->conv, ub * conv, VK_MEM_DEVICE, "DeltaNet inputs"},
        {&dn->z, ub * value, VK_MEM_DEVICE, "DeltaNet gate"},
        {&dn->ba, ub * 2 * heads, VK_MEM_DEVICE, "DeltaNet gates"},
        {&dn->o, ub * value, VK_MEM_DEVICE, "DeltaNet read-out"},
        {&dn->ab, DN_CHUNK * heads * 2 * d_v, VK_MEM_DEVICE, "DeltaNet chunk"},
        {&dn->gram, DN_CHUNK * heads * DN_CHUNK * 2, VK_MEM_DEVICE, "DeltaNet chunk"},
        {&dn->q_gate, ub * e->max_qd, VK_MEM_DEVICE, "attention gate"},
        {&dn->state_rb, snapshot ? snapshot : 1, VK_MEM_READBACK, "DeltaNet checkpoints"},
    };
    for (size_t i = 0; i < sizeof list / sizeof list[0]; i++)
        if (vk_buffer_create(&e->rt, list[i].b, list[i].floats * f, list[i].kind, list[i].what, err, errlen)) return -1;
    return n_params ? vk_upload(&e->rt, &e->staging, &dn->params, 0, params, n_params * f, err, errlen) : 0;
}

int vk_dn_create(vk_engine *e, char *err, size_t errlen) {
    const model *m = e->base.model;
    const model_hparams *hp = &m->hp;
    vk_dn *dn = e->dn = calloc(1, sizeof *dn);
    if (!dn) return vk_fail(err, errlen, "out of memory");
    bool any_gate = false;
    for (int l = 0; l < hp->n_layer; l++) any_gate |= m->desc[l].out_gate;
    if (hp->n_deltanet == 0 && !any_gate) {
        free(dn);
        e->dn = NULL;
        return 0;
    }
    dn->index = malloc((size_t)hp->n_layer * sizeof *dn->index);
    dn->layers = calloc((size_t)(hp->n_deltanet ? hp->n_deltanet : 1), sizeof *dn->layers);
    dn->use_q_gate = calloc((size_t)hp->n_layer, sizeof *dn->use_q_gate);
    dn->set_gate_mul = calloc((size_t)hp->n_layer, sizeof *dn->set_gate_mul);
    if (!dn->index || !dn->layers || !dn->use_q_gate || !dn->set_gate_mul) return vk_fail(err, errlen, "out of memory");
    size_t conv = 1, value = 1, heads = 1, dk_v = 1, snapshot = 0, n_params = 0;
    float *params = NULL;
    for (int l = 0; l < hp->n_layer; l++) {
        dn->index[l] = -1;
        if (m->desc[l].mixer != MIXER_DELTANET) continue;
        vk_dn_layer *L = &dn->layers[dn->n];
        dn->index[l] = dn->n++;
        L->l = l;
        L->sh = dn_shape_of(&m->desc[l]);
        if ((size_t)L->sh.conv_dim > conv) conv = (size_t)L->sh.conv_dim;
        if ((size_t)L->sh.value_dim > value) value = (size_t)L->sh.value_dim;
        if ((size_t)L->sh.n_v > heads) heads = (size_t)L->sh.n_v;
        if ((size_t)L->sh.d_v > dk_v) dk_v = (size_t)L->sh.d_v;
        snapshot += dn_state_floats(&L->sh);
        if (pack_layer(m, L, &params, &n_params)) {
            free(params);
            return vk_fail(err, errlen, "out of memory");
        }
    }
    int n_sets = 0;
    for (int l = 0; l < hp->n_layer; l++) n_sets += m->desc[l].out_gate ? e->layers[l].wq.n_parts + 1 : 0;
    const size_t sizes[5] = {conv, value, heads, dk_v, snapshot};
    int rc = vk_dn_kernels_create(&e->rt, e->k.wg, &dn->k, err, errlen) ||
             scratch_make(e, dn, params, n_params, sizes, err, errlen);
    free(params);
    for (int i = 0; rc == 0 && i < dn->n; i++) rc = layer_upload(e, &dn->layers[i], &n_sets, err, errlen);
    if (rc == 0) rc = vk_pool_create(&e->rt, (uint32_t)n_sets, &dn->pool, err, errlen);
    for (int i = 0; rc == 0 && i < dn->n; i++) rc = layer_sets(e, dn, &dn->layers[i], err, errlen);
    if (rc == 0) rc = gated_make(e, dn, err, errlen);
    if (rc == 0 && dn->n) {
        if (ckpts_init(&dn->ckpts, e->base.n_ctx)) return vk_fail(err, errlen, "out of memory");
        dn->host = (ckpt_host){e, snapshot_bytes, save, load, replay};
        /* device memory starts undefined: the state at position 0 is zero */
        rc = load(e, 0, NULL, err, errlen);
    }
    return rc;
}

void vk_dn_free(vk_engine *e) {
    vk_dn *dn = e->dn;
    if (!dn) return;
    vk_runtime *rt = &e->rt;
    const bool live = rt->dev && !rt->hung;
    if (live) rt->vk.DeviceWaitIdle(rt->dev);
    for (int i = 0; i < dn->n; i++) {
        vk_dn_layer *L = &dn->layers[i];
        vk_use *us[] = {&L->use_qkv, &L->use_z, &L->use_beta, &L->use_alpha, &L->use_out};
        for (size_t j = 0; j < sizeof us / sizeof us[0]; j++) free(us[j]->sets);
        if (!live) continue;
        vk_weight *ws[] = {&L->qkv, &L->z, &L->beta, &L->alpha, &L->out};
        for (size_t j = 0; j < sizeof ws / sizeof ws[0]; j++) vk_weight_free(rt, ws[j]);
        vk_buffer_destroy(rt, &L->state);
        vk_buffer_destroy(rt, &L->gates);
        vk_buffer_destroy(rt, &L->keys);
    }
    for (int l = 0; dn->use_q_gate && l < e->base.model->hp.n_layer; l++) free(dn->use_q_gate[l].sets);
    if (live) {
        vk_buffer *bufs[] = {&dn->params, &dn->pre, &dn->conv, &dn->z, &dn->ba, &dn->o, &dn->ab, &dn->gram, &dn->q_gate,
                             &dn->state_rb};
        for (size_t j = 0; j < sizeof bufs / sizeof bufs[0]; j++) vk_buffer_destroy(rt, bufs[j]);
        if (dn->pool) rt->vk.DestroyDescriptorPool(rt->dev, dn->pool, NULL);
        vk_dn_kernels_destroy(rt, &dn->k);
    }
    ckpts_free(&dn->ckpts);
    free(dn->index);
    free(dn->layers);
    free(dn->use_q_gate);
    free(dn->set_gate_mul);
    free(dn);
    e->dn = NULL;
}

/* --- recording ---------------------------------------------------------------------- */

static void step(vk_engine *e, const char *name) {
    vk_barrier(&e->rt);
    vk_mark(e, name);
}

void vk_dn_record_mixer(vk_engine *e, int l, const ubatch *u) {
    vk_dn *dn = e->dn;
    vk_dn_layer *L = &dn->layers[dn->index[l]];
    const dn_shape *s = &L->sh;
    const model_hparams *hp = &e->base.model->hp;
    const uint32_t n = (uint32_t)u->n, p0 = (uint32_t)u->p0, d = (uint32_t)hp->n_embd;
    const uint32_t C = (uint32_t)s->conv_dim, V = (uint32_t)s->value_dim, nv = (uint32_t)s->n_v;
    vk_matvec(e, &L->use_qkv, 0, C, vk_mv(n, 0, d, 0, C, NO_PARAM, false));
    vk_matvec(e, &L->use_z, 0, V, vk_mv(n, 0, d, 0, V, NO_PARAM, false));
    vk_matvec(e, &L->use_beta, 0, nv, vk_mv(n, 0, d, 0, 2 * nv, NO_PARAM, false));
    vk_matvec(e, &L->use_alpha, 0, nv, vk_mv(n, 0, d, nv, 2 * nv, NO_PARAM, false));
    step(e, "deltanet qkv/z/beta/alpha");

    vk_dn_conv_push pc = {n, C, (uint32_t)s->taps, L->taps_off, 0};
    vk_op_dn_conv(&e->rt, &dn->k, L->set_conv, &pc);
    step(e, "deltanet conv");
    pc.mode = 1;
    vk_op_dn_conv(&e->rt, &dn->k, L->set_conv, &pc);
    vk_dn_prep_push pp = {n, p0, (uint32_t)s->n_k, (uint32_t)s->d_k, nv, C, L->dt_off, L->rate_off,
                          e->capture ? 1u : 0u, hp->norm_eps, 1.0f / sqrtf((float)s->d_k)};
    vk_op_dn_prep(&e->rt, &dn->k, L->set_prep, &pp);
    step(e, "deltanet norms+gates");

    vk_dn_seg_push shape = {0, 0, (uint32_t)s->n_k, (uint32_t)s->d_k, nv, (uint32_t)s->d_v, C, (uint32_t)s->conv_floats, 0};
    vk_dn_record_recurrence(&e->rt, &dn->k, L->set_project, L->set_solve, L->set_fold, &shape, p0, n);
    vk_mark(e, "deltanet recurrence");

    if (u->attention && u->n_out > 0) {
        vk_dn_weights_push pw = {(uint32_t)u->n_out, (uint32_t)u->out_first, p0, (uint32_t)s->n_k, (uint32_t)s->d_k, nv, C,
                                 (uint32_t)l * (uint32_t)hp->n_head * (uint32_t)u->n_out * (uint32_t)u->row_len,
                                 (uint32_t)u->row_len};
        vk_op_dn_weights(&e->rt, &dn->k, L->set_weights, &pw);
    }
    vk_dn_norm_push pn = {n * nv, (uint32_t)s->d_v, L->norm_off, hp->norm_eps};
    vk_op_dn_gated_norm(&e->rt, &dn->k, L->set_norm, &pn);
    step(e, u->attention ? "deltanet norm+weights" : "deltanet norm");

    vk_matvec(e, &L->use_out, 0, d, vk_mv(n, 0, V, 0, d, NO_PARAM, true));
    step(e, "deltanet out");
}

void vk_dn_record_q_gate(vk_engine *e, int l, uint32_t n) {
    const uint32_t qd = e->layers[l].qd, d = (uint32_t)e->base.model->hp.n_embd;
    vk_matvec(e, &e->dn->use_q_gate[l], qd, qd, vk_mv(n, 0, d, 0, qd, NO_PARAM, false));
}

void vk_dn_record_gate_mul(vk_engine *e, int l, uint32_t n) {
    vk_sigmoid_mul_push p = {n * e->layers[l].qd};
    vk_op_sigmoid_mul(&e->rt, &e->dn->k, e->dn->set_gate_mul[l], &p);
    step(e, "attention gate");
}
