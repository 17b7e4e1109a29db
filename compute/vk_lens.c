/* vk_lens.c — the logit lens on the GPU (inspect.h, "logit lens"; engine.h): every entry
 * of the residual stream decoded through the model's own final norm, output head and
 * logit cap, the same as the forward pass's end (vk_forward.c), reduced on the GPU so
 * that only a few numbers per entry come back. */
#include "vk_engine_impl.h"

#include <string.h>

/* Where the lens results sit in lens_rb (floats): the candidates' top-k record, their
 * logits per entry, the full lens's per-entry record (log-sum-exp, entropy, top id, top
 * logit), the ranks. */
#define LENS_RB_LOGITS (2 + 2 * VK_TOPK_MAX)
#define LENS_RB_STATS(E) (LENS_RB_LOGITS + (E) * ENGINE_LENS_MAX)
#define LENS_RB_RANKS(E) (LENS_RB_STATS(E) + (E) * 4)

/* The lens kernel's arguments for K candidates: the final norm's scale and shift, the
 * model's logit cap, and FLAGS on top (8: the last entry is normalised already). */
static vk_lens_push lens_push(const vk_engine *e, uint32_t k, uint32_t flags) {
    const model_hparams *hp = &e->base.model->hp;
    return (vk_lens_push){(uint32_t)hp->n_embd, k, e->output_norm == NO_PARAM ? 0 : e->output_norm,
                          e->output_norm_b == NO_PARAM ? 0 : e->output_norm_b,
                          (e->output_norm != NO_PARAM ? VK_NORM_SCALE : 0u) |
                              (e->output_norm_b != NO_PARAM ? VK_NORM_SHIFT : 0u) |
                              (hp->norm == NORM_LAYER ? 4u : 0u) | (hp->final_softcap > 0 ? 16u : 0u) | flags,
                          hp->norm_eps, hp->final_softcap};
}

/* The final norm of the first N lens entries, hid -> lens_xn (the full lens decodes them). */
static void lens_norm(vk_engine *e, uint32_t n) {
    const model_hparams *hp = &e->base.model->hp;
    const vk_lens_push a = lens_push(e, 0, 0);
    const uint32_t d = a.dim, nflags = a.flags & (VK_NORM_SCALE | VK_NORM_SHIFT);
    if (hp->norm == NORM_LAYER) {
        vk_layernorm_push p = {n, d, 0, d, 0, d, a.g_off, a.b_off, nflags, a.eps};
        vk_op_layernorm(&e->rt, &e->k, e->set_lens_norm, &p);
    } else {
        vk_rmsnorm_push p = {n, d, 0, d, 0, d, a.g_off, nflags & VK_NORM_SCALE, a.eps};
        vk_op_rmsnorm(&e->rt, &e->k, e->set_lens_norm, &p);
    }
}

/* Every normalised entry (lens_xn) through the output head and the cap, into lens_logits. */
static void lens_logits(vk_engine *e, uint32_t n_entries) {
    const model_hparams *hp = &e->base.model->hp;
    const uint32_t V = (uint32_t)hp->n_vocab, d = (uint32_t)hp->n_embd;
    vk_matvec(e, &e->use_lens_out, 0, V, vk_mv(n_entries, 0, d, 0, V, NO_PARAM, false));
    if (hp->final_softcap > 0) {
        vk_barrier(&e->rt);
        vk_head_softcap(e, e->set_lens_softcap, n_entries * V);
    }
}

/* The logit lens of the last output row (engine.h), after its logits: the candidates
 * (the lens top-k of that row), their rows of the output head dequantised once, the
 * lens kernel over every entry of the residual stream (kept in hid while the layers
 * ran); with lens_full the entries normalised and decoded over the whole vocabulary in
 * one batched product, then their top-1 and log-sum-exp, and the candidates' ranks. */
void vk_record_lens(vk_engine *e, const ubatch *u) {
    const model_hparams *hp = &e->base.model->hp;
    const uint32_t V = (uint32_t)hp->n_vocab, K = (uint32_t)u->lens_k;
    const uint32_t E = (uint32_t)hp->n_layer + 1, nv = (uint32_t)u->lens_n_valid;
    const size_t f = sizeof(float);

    vk_op_topk_at(&e->rt, &e->k, e->set_lens_topk_partial, e->set_lens_topk_merge, nv, V,
                  (uint32_t)(u->n_out - 1) * V, 1, K);
    vk_barrier(&e->rt);
    vk_get_rows(e, &e->use_lens_rows, K, 2, 0, 1.0f); /* the record's ids start at float 2 */
    vk_barrier(&e->rt);
    vk_lens_push lp = lens_push(e, K, 0);
    vk_op_lens(&e->rt, &e->k, e->set_lens, &lp, E);
    if (u->lens_full) {
        lens_norm(e, E);
        vk_fill(&e->rt, &e->lens_ranks, 0, (VkDeviceSize)E * K * f, 0);
        vk_barrier(&e->rt);
        lens_logits(e, E);
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
    vk_mark(e, "lens");
}

void vk_read_lens(vk_engine *e, const engine_batch *b, const ubatch *u) {
    const int K = u->lens_k, E = e->base.model->hp.n_layer + 1;
    vk_buffer_invalidate(&e->rt, &e->lens_rb);
    const float *r = e->lens_rb.map;
    for (int j = 0; j < K && b->lens_ids; j++) memcpy(&b->lens_ids[j], &r[2 + j], sizeof(int32_t));
    for (int i = 0; i < E && b->lens_logits; i++)
        memcpy(b->lens_logits + (size_t)i * K, r + LENS_RB_LOGITS + (size_t)i * K, (size_t)K * sizeof(float));
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

/* engine_lens_query on the GPU, in one submit: the entries normalised (all but the last,
 * which a step record holds normalised already) and decoded over the whole vocabulary in
 * one batched product; per entry the top-1 and log-sum-exp; the candidates (the last
 * entry's top-k, then the extra id written after them into the top-k record, where the
 * record's first logit was: nothing here reads those logits) with their ranks, and their
 * logits from the lens kernel. The buffers are the eval path's lens buffers, which each
 * eval rewrites before use; the command buffer is the slot a pre-recorded decode step is
 * not waiting in. */
int vk_lens(engine *base, const engine_lens_query *q, char *err, size_t errlen) {
    vk_engine *e = (vk_engine *)base;
    const model_hparams *hp = &base->model->hp;
    const uint32_t V = (uint32_t)hp->n_vocab, d = (uint32_t)hp->n_embd, E = (uint32_t)hp->n_layer + 1;
    const uint32_t nv = (uint32_t)(q->n_valid > 0 && q->n_valid <= hp->n_vocab ? q->n_valid : hp->n_vocab);
    const size_t f = sizeof(float);
    if (!e->lens_full_ok)
        return vk_fail(err, errlen, "the logit lens does not fit %s's buffer limit", e->rt.props.deviceName);
    if (!q->hidden || q->k < 1 || q->k >= ENGINE_LENS_MAX || (uint32_t)q->k > nv || q->extra < -1 ||
        (q->extra >= 0 && (uint32_t)q->extra >= nv))
        return vk_fail(err, errlen, "logit lens: %d candidates plus id %d among %u ids: out of range", q->k,
                    (int)q->extra, nv);
    const uint32_t K = (uint32_t)q->k, KC = K + (q->extra >= 0 ? 1u : 0u);

    const int slot = e->next_ready ? 1 - e->next_slot : 0;
    if (vk_begin_slot(&e->rt, slot, err, errlen)) return -1;
    memcpy(e->lens_upload.map, q->hidden, (size_t)E * d * f);
    vk_copy(&e->rt, &e->lens_upload, 0, &e->hid, 0, (VkDeviceSize)E * d * f);
    vk_fill(&e->rt, &e->lens_ranks, 0, (VkDeviceSize)E * KC * f, 0);
    vk_barrier(&e->rt);
    if (E > 1) lens_norm(e, E - 1);
    vk_copy(&e->rt, &e->hid, (VkDeviceSize)(E - 1) * d * f, &e->lens_xn, (VkDeviceSize)(E - 1) * d * f, d * f);
    vk_barrier(&e->rt);
    lens_logits(e, E);
    vk_barrier(&e->rt);
    vk_op_topk_at(&e->rt, &e->k, e->set_lens_stats_partial, e->set_lens_stats_merge, nv, V, 0, E, 1);
    vk_barrier(&e->rt);
    vk_op_topk_at(&e->rt, &e->k, e->set_lens_last_partial, e->set_lens_topk_merge, nv, V, (E - 1) * V, 1, K);
    vk_barrier(&e->rt);
    if (q->extra >= 0) {
        vk_fill(&e->rt, &e->lens_topk_out, (2 + (VkDeviceSize)K) * f, f, (uint32_t)q->extra);
        vk_barrier(&e->rt);
    }
    vk_get_rows(e, &e->use_lens_rows, KC, 2, 0, 1.0f);
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
