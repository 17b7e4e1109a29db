/* vk_engine.c — the GPU forward pass (see vk_engine.h): creation, evaluation and
 * profiling. The parts: vk_upload.c makes everything the pass touches, vk_forward.c
 * records it from the model's description, vk_lens.c the logit lens
 * (vk_engine_impl.h).
 *
 * Everything the pass touches is created once in engine_vulkan_create: weights, the KV
 * cache (f32, one buffer per layer and K/V so that no binding exceeds the device limit),
 * activations for one micro-batch, and one descriptor set per (operation, buffers) use.
 * An eval then only records dispatches with push constants (token count, position,
 * offsets) between barriers, submits once per micro-batch and copies results out. */
#include "vk_deltanet.h"
#include "vk_engine_impl.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

int vk_fail(char *err, size_t errlen, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

static int imin(int a, int b) { return a < b ? a : b; }

/* --- creation ---------------------------------------------------------------------- */

static void vk_destroy(engine *base);
static int vk_eval(engine *base, const engine_batch *b, char *err, size_t errlen);
static const engine_ops VK_OPS = {vk_eval, vk_destroy, vk_lens, vk_dn_checkpoint, vk_dn_state_memory};

const char *engine_vulkan_unsupported(const model *m) {
    if (vk_dn_unsupported(m)) return vk_dn_unsupported(m);
    for (int l = 0; l < m->hp.n_layer; l++) {
        if (m->desc[l].head_dim > VK_MAX_HEAD_DIM || m->desc[l].head_dim % 2) return "this head layout";
    }
    return vk_moe_unsupported(m);
}

/* Each layer's shape from its description, and the widest. */
static void layer_shapes(vk_engine *e) {
    const model *m = e->base.model;
    for (int l = 0; l < m->hp.n_layer; l++) {
        const layer_desc *ld = &m->desc[l];
        vk_layer *L = &e->layers[l];
        L->hd = (uint32_t)ld->head_dim;
        L->qd = (uint32_t)(ld->n_head * ld->head_dim);
        L->kvd = (uint32_t)(ld->n_head_kv * ld->head_dim);
        if (L->qd > e->max_qd) e->max_qd = L->qd;
        if (L->kvd > e->max_kvd) e->max_kvd = L->kvd;
    }
}

engine *engine_vulkan_create(const model *m, int n_ctx, int device_index, bool capture, char *err,
                             size_t errlen) {
    vk_engine_options o = {.device_index = device_index, .pick_device = device_index < 0, .capture = capture};
    return engine_vulkan_create_opts(m, n_ctx, &o, err, errlen);
}

engine *engine_vulkan_create_opts(const model *m, int n_ctx, const vk_engine_options *opt, char *err,
                                  size_t errlen) {
    static const vk_engine_options defaults = {.pick_device = true};
    if (!opt) opt = &defaults;
    const model_hparams *hp = &m->hp;
    if (n_ctx <= 0) {
        vk_fail(err, errlen, "context size must be positive (got %d)", n_ctx);
        return NULL;
    }
    const char *gap = engine_vulkan_unsupported(m);
    if (gap) {
        vk_fail(err, errlen, "%s: %s is not supported by the Vulkan backend yet (use --backend cpu)", m->name, gap);
        return NULL;
    }
    vk_engine *e = calloc(1, sizeof *e);
    if (!e) {
        vk_fail(err, errlen, "out of memory");
        return NULL;
    }
    e->base.ops = &VK_OPS;
    e->base.model = m;
    e->base.n_ctx = n_ctx;
    snprintf(e->base.backend, sizeof e->base.backend, "vulkan");
    e->capture = opt->capture;
    e->fuse = hp->norm == NORM_RMS && !opt->no_fuse;
    e->profile = opt->profile;
    e->prerecord = !opt->no_prerecord;

    e->layers = calloc((size_t)hp->n_layer, sizeof *e->layers);
    if (!e->layers) {
        vk_fail(err, errlen, "out of memory");
        vk_destroy(&e->base);
        return NULL;
    }
    layer_shapes(e);
    if (vk_runtime_init(&e->rt, opt->pick_device ? -1 : opt->device_index, &opt->rt, err, errlen)) goto fail;
    snprintf(e->base.device_name, sizeof e->base.device_name, "%.127s", e->rt.props.deviceName);
    if (vk_engine_plan(e, err, errlen) || vk_kernels_create(&e->rt, &e->k, &opt->tuning, err, errlen) ||
        vk_engine_upload(e, err, errlen) || vk_engine_buffers(e, err, errlen) || vk_engine_sets(e, err, errlen) ||
        vk_dn_create(e, err, errlen))
        goto fail;
    return &e->base;

fail:
    vk_destroy(&e->base);
    return NULL;
}

static void vk_destroy(engine *base) {
    vk_engine *e = (vk_engine *)base;
    if (!e) return;
    if (e->profile) engine_vulkan_print_profile(base, stderr);
    vk_dn_free(e);
    vk_engine_free_device(e);
    free(e->layers);
    vk_runtime_free(&e->rt);
    free(e);
}

/* --- profiling --------------------------------------------------------------------- */

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
    if (!rt) return vk_fail(err, errlen, "out of memory");
    int kind = -1;
    if (vk_runtime_init(rt, -1, NULL, err, errlen) == 0) {
        kind = rt->props.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU ? 1 : 0;
        if (name && cap) snprintf(name, cap, "%s", rt->props.deviceName);
    }
    vk_runtime_free(rt);
    free(rt);
    return kind;
}

/* --- the forward pass -------------------------------------------------------------- */

/* --- evaluation -------------------------------------------------------------------- */

static bool ubatch_equal(const ubatch *a, const ubatch *b) {
    return a->p0 == b->p0 && a->n == b->n && a->out_first == b->out_first && a->n_out == b->n_out &&
           a->row_len == b->row_len && a->last == b->last && a->logits == b->logits &&
           a->attention == b->attention && a->hidden == b->hidden && a->stats == b->stats &&
           a->top_k == b->top_k && a->lens_k == b->lens_k && a->lens_n_valid == b->lens_n_valid &&
           a->lens_full == b->lens_full && a->routing == b->routing && a->moe_out == b->moe_out;
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
    } else if (vk_record_ubatch(e, u, slot, err, errlen)) {
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
        e->next_ready = vk_record_ubatch(e, &e->next, e->next_slot, ignored, sizeof ignored) == 0;
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
        for (int lh = 0; lh < hp->n_layer * hp->n_head; lh++) {
            float *dst = b->attention + ((size_t)lh * n_out_total + out_base) * row_len;
            if (lh % hp->n_head < e->base.model->desc[lh / hp->n_head].n_head) memcpy(dst, src + lh * rows, rows * f);
            else memset(dst, 0, rows * f); /* a head this layer does not have */
        }
    }
    if (b->gates && n_out > 0 && e->dn) vk_dn_read_gates(e, b, u, out_base, n_out_total);
    if (hidden) {
        vk_buffer_invalidate(&e->rt, &e->hidden_rb);
        memcpy(b->hidden, e->hidden_rb.map, (size_t)(hp->n_layer + 1) * d * f);
    }
    if (u->lens_k) vk_read_lens(e, b, u);
    if (u->routing || u->moe_out) vk_read_moe(e, b, u, out_base, n_out_total);
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
        return vk_fail(err, errlen, "empty batch or negative position");
    if (b->pos > base->n_ctx - b->n_tokens)
        return vk_fail(err, errlen, "context full: %d + %d tokens exceed the context of %d", b->pos,
                    b->n_tokens, base->n_ctx);
    for (int i = 0; i < b->n_tokens; i++)
        if (b->tokens[i] < 0 || b->tokens[i] >= hp->n_vocab)
            return vk_fail(err, errlen, "token id %d out of range (vocabulary of %d)", (int)b->tokens[i],
                        hp->n_vocab);
    if (b->attention && !e->capture)
        return vk_fail(err, errlen, "attention capture is off in this Vulkan engine");
    if (b->top_k < 0 || b->top_k > VK_TOPK_MAX)
        return vk_fail(err, errlen, "top_k %d out of range (0..%d)", b->top_k, VK_TOPK_MAX);
    if (b->lens_k < 0 || b->lens_k > ENGINE_LENS_MAX || b->lens_n_valid < 0 || b->lens_n_valid > hp->n_vocab ||
        b->lens_k > (b->lens_n_valid > 0 ? b->lens_n_valid : hp->n_vocab))
        return vk_fail(err, errlen, "logit lens of %d candidates among %d ids: out of range (1..%d candidates)",
                    b->lens_k, b->lens_n_valid, ENGINE_LENS_MAX);
    if (b->lens_k > 0 && b->lens_full && !e->lens_full_ok)
        return vk_fail(err, errlen, "the full logit lens does not fit %s's buffer limit; ask for the "
                    "candidates' lens only", e->rt.props.deviceName);

    const int n = b->n_tokens, row_len = b->pos + n, n_out_total = b->all_positions ? n : 1;
    if (e->dn && vk_dn_rewind(e, b->pos, err, errlen)) return -1;
    if (b->gates) memset(b->gates, 0, (size_t)n_out_total * hp->n_layer * hp->n_head * 2 * sizeof(float));
    /* Capturing every position's attention is bounded by the capture buffer's rows. */
    const int step = b->attention && b->all_positions ? imin(e->ubatch, e->cap_rows) : e->ubatch;
    for (int start = 0; start < n;) {
        ubatch u = {.p0 = b->pos + start, .n = imin(step, n - start), .row_len = row_len};
        if (e->dn) u.n = imin(u.n, vk_dn_room(e, u.p0)); /* the state's periodic checkpoints */
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
        const bool experts = hp->moe.n_expert > 0;
        u.routing = experts && u.n_out > 0 && (b->route_ids || b->route_probs || b->route_weights);
        u.moe_out = experts && u.last && b->moe_out;
        if (u.last && u.n_out > 0 && b->lens_k > 0) {
            u.lens_k = b->lens_k;
            u.lens_n_valid = b->lens_n_valid > 0 ? b->lens_n_valid : hp->n_vocab;
            u.lens_full = b->lens_full;
        }
        if (run_ubatch(e, b, &u, b->tokens + start, b->all_positions ? start : 0, n_out_total, err, errlen))
            return -1;
        if (e->dn) vk_dn_advance(e, b->tokens + start, u.p0, u.n);
        start += u.n;
    }
    return 0;
}

