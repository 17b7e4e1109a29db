/* vk_engine_impl.h — the Vulkan engine's state, shared by its parts:
 *   vk_engine.c   creation, evaluation (micro-batches, submits, results), profiling
 *   vk_upload.c   planning sizes, weights and vectors onto the device, buffers, sets
 *   vk_forward.c  recording the forward pass from the model's description
 *   vk_lens.c     the logit lens (during an eval, and of hidden states handed in)
 * Internal to compute/. */
#ifndef LLMSCOPE_VK_ENGINE_IMPL_H
#define LLMSCOPE_VK_ENGINE_IMPL_H

#include "vk_engine.h"
#include "vk_ops.h"
#include "vk_runtime.h"

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

/* A mixture-of-experts layer's device copies (vk_moe.c): the router (n_expert rows, then
 * the shared expert's gate as one more row when there is one), every expert's gate and up
 * rows interleaved expert by expert (gate 0, up 0, gate 1, ...: the GLU pair mode), the
 * experts' down rows, the shared expert; their biases' offsets in params. */
typedef struct vk_moe_layer {
    vk_weight router, gate_up, down, sh_gate_up, sh_down;
    uint32_t router_b, gate_up_b, down_b;
    vk_use use_router, use_gate_up, use_down, use_sh_gate_up, use_sh_down;
    VkDescriptorSet set_route, set_combine;
} vk_moe_layer;

typedef struct vk_layer {
    /* this layer's shape (from its layer_desc) */
    uint32_t hd, qd, kvd;        /* head_dim, n_head * head_dim, n_head_kv * head_dim */
    /* gate_up: the gate and up rows interleaved (gate 0, up 0, gate 1, ...) when the two
     * share a type (or are one matrix), else gate and up apart. wq and wk of NEOX-rope
     * layers are stored with each rotated pair of rows side by side (rope_pair_source). */
    vk_weight wq, wk, wv, wqkv, wo, gate, up, gate_up, down;
    vk_weight inp_gate, proj;    /* per-layer inputs (Gemma 4) */
    vk_buffer k_cache, v_cache;  /* [n_ctx][kvd]; unused by a layer that reads another's */
    /* offsets of the layer's vectors in the params buffer (NO_PARAM: absent) */
    uint32_t attn_norm, attn_norm_b, ffn_norm, ffn_norm_b, bq, bk, bv, bqkv, bo, up_b, down_b,
        q_norm, k_norm, post_attn_norm, post_ffw_norm, out_scale, post_norm;
    uint32_t sinks;              /* gpt-oss: the heads' attention-sink logits */
    vk_use use_q, use_k, use_v, use_o, use_gate, use_up, use_gate_up, use_down;
    /* the decode path's uses read the residual stream x itself and normalise it on the fly */
    vk_use use_q_x, use_k_x, use_v_x, use_gate_up_x;
    vk_use use_inp_gate, use_proj; /* x -> ple_gate, ple_gate -> xn */
    VkDescriptorSet set_q_norm, set_k_norm, set_v_norm, set_rope_q, set_rope_k, set_attention;
    vk_moe_layer moe;            /* a mixture of experts' layer (FFN_MOE) */
} vk_layer;

/* What every MoE layer shares on the device (vk_moe.c): the router's logits, the routing
 * (ROUTE, uints: the chosen ids, their weights, the ranking, its probabilities and the
 * shared expert's gate, each region sized for a whole micro-batch at the offsets below),
 * the experts' hidden activations and outputs (one row per token and slot), the shared
 * expert's output, each token's MoE output; and the readbacks of the routing per layer
 * and output row (ranked ids, probabilities, weights) and of the MoE outputs at the last
 * token (engine_batch.moe_out). */
typedef struct vk_moe {
    uint32_t n_logits, n_rank, n_used;
    uint32_t ids_off, w_off, rank_off, prob_off, gate_off;
    vk_buffer logits, route, h, y, shared, out;
    vk_buffer route_rb, out_rb;
} vk_moe;

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
    bool routing, moe_out; /* mixture-of-experts captures (the output rows; the last token) */
} ubatch;

typedef struct vk_engine {
    engine base; /* first: an engine* is a vk_engine* */
    vk_runtime rt;
    vk_kernels k;
    int ubatch;        /* tokens per submit */
    int cap_rows;      /* attention rows the capture buffer holds per layer and head */
    bool capture;
    uint32_t max_qd, max_kvd; /* the widest layer's q and kv rows */

    /* The decode path (fewer tokens than the matrix kernel takes) fuses RMSNorm into the
     * next matrix product, rope into q and k, the GLU into gate/up: five steps per layer
     * (seven with sandwich norms). */
    bool fuse;

    vk_weight token_embd, position_embd, output_own; /* output_own: untied output head */
    /* per-layer inputs (Gemma 4): each token's inputs of every layer in ple [ub][n_layer *
     * width], built from rows of per_layer_embd (via ple_rows) and a projection of x */
    vk_weight per_layer_embd, per_layer_proj;
    uint32_t per_layer_proj_norm;
    vk_buffer ple, ple_rows, ple_gate;
    vk_use use_ple_rows, use_ple_proj;
    VkDescriptorSet set_ple_norm, set_ple_add, set_ple_gate, set_scale;
    const vk_weight *output;
    uint32_t output_norm, output_norm_b;
    vk_layer *layers;

    vk_buffer params, dummy, staging;
    vk_buffer rope_tables[MODEL_MAX_ROPES]; /* (cos, sin) per position and pair, per rope */
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
        set_lens_stats_partial, set_lens_stats_merge, set_lens_rank, set_lens_softcap;
    /* the lens of hidden states handed in (vk_lens): they arrive through lens_upload, and
     * the candidates are the top-k of the last entry's row of lens_logits */
    vk_buffer lens_upload;
    VkDescriptorSet set_lens_last_partial;

    VkDescriptorPool pool;
    vk_use use_embd, use_pos, use_out, use_out_x;
    VkDescriptorSet set_add_pos, set_norm, set_post_norm, set_glu, set_glu_pairs, set_gelu, set_softcap,
        set_topk_partial, set_topk_merge, set_attn_merge;

    /* the next decode step, recorded while the GPU ran this one (see run_ubatch);
     * vk_engine_options.no_prerecord turns this off */
    bool prerecord, next_ready;
    ubatch next;
    int next_slot;
    long prerecorded;  /* steps that ran from such a recording */

    /* Gated DeltaNet and gated attention layers (vk_deltanet.c); NULL without them */
    struct vk_dn *dn;

    bool profile;
    const char *marks[VK_MAX_TIMESTAMPS];
    profile_entry prof[MAX_PROFILE_NAMES];
    int n_prof;
    long prof_submits, prof_dispatches, prof_barriers; /* summed over profiled submits */

    vk_moe moe;        /* models with experts */
} vk_engine;

int vk_fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* vk_upload.c */
/* The small f32 vectors (norm weights, biases) on their way into the params buffer. */
typedef struct param_pack {
    float *data;
    size_t n, cap;
} param_pack;
/* Appends V (N floats; NULL: absent) and sets *OFFSET (NO_PARAM when absent); -1 when out
 * of memory. */
int vk_pack_vector(param_pack *p, const float *v, int n, uint32_t *offset);
/* A use of W reading IN, writing OUT: a matrix product's (the params, the rope TABLE and
 * the routing ROUTE bound too; NULL: placeholders) or, with TABLE NULL, a lookup's. */
int vk_use_create(vk_engine *e, vk_use *u, const vk_weight *w, vk_buffer *in, vk_buffer *out, vk_buffer *table,
                  vk_buffer *route, char *err, size_t errlen);
/* The same, its sets from POOL (an operation family's own pool) instead of the engine's. */
int vk_use_create_in(vk_engine *e, VkDescriptorPool pool, vk_use *u, const vk_weight *w, vk_buffer *in,
                     vk_buffer *out, vk_buffer *table, vk_buffer *route, char *err, size_t errlen);

int vk_engine_upload(vk_engine *e, char *err, size_t errlen); /* weights, vectors, ropes */
int vk_engine_plan(vk_engine *e, char *err, size_t errlen);   /* micro-batch and capture sizes */
int vk_engine_buffers(vk_engine *e, char *err, size_t errlen);
int vk_engine_sets(vk_engine *e, char *err, size_t errlen);
void vk_engine_free_device(vk_engine *e); /* everything the four above made */

/* vk_forward.c */
/* Marks the end of the work recorded since the previous mark as NAME's (profiling). */
void vk_mark(vk_engine *e, const char *name);
/* A barrier ending a step of the pass, named for the profile. */
void vk_step(vk_engine *e, const char *name);
/* Records micro-batch U into command buffer SLOT, ready to launch. */
int vk_record_ubatch(vk_engine *e, const ubatch *u, int slot, char *err, size_t errlen);
/* W x for rows ROW_BEGIN .. +ROW_COUNT of U's weight (one dispatch per part). */
void vk_matvec(vk_engine *e, const vk_use *u, uint32_t row_begin, uint32_t row_count, vk_matvec_push p);
/* A vector layout for vk_matvec: N vectors of X_STRIDE floats in, Y_STRIDE out. */
vk_matvec_push vk_mv(uint32_t n, uint32_t x_off, uint32_t x_stride, uint32_t y_off, uint32_t y_stride,
                     uint32_t bias, bool accumulate);
/* Rows ids[ids_off ..] of U's weight for N tokens (embedding lookups, lens candidates). */
void vk_get_rows(vk_engine *e, const vk_use *u, uint32_t n, uint32_t ids_off, uint32_t flags, float scale);
/* The final soft-cap of N rows of V logits from row 0 of the buffer SET binds. */
void vk_head_softcap(vk_engine *e, VkDescriptorSet set, uint32_t n_values);

/* vk_moe.c: a mixture of experts' layers (FFN_MOE) */
/* What of the experts the Vulkan engine cannot hold, as one line, or NULL. */
const char *vk_moe_unsupported(const model *m);
/* Floats per token of the micro-batch buffers (for vk_engine_plan). */
uint64_t vk_moe_token_bytes(const model *m);
int vk_moe_upload(vk_engine *e, int l, char *err, size_t errlen);
int vk_moe_pack(const vk_engine *e, int l, param_pack *p);
int vk_moe_buffers(vk_engine *e, char *err, size_t errlen);
uint32_t vk_moe_sets_needed(const vk_engine *e);
int vk_moe_sets(vk_engine *e, int l, char *err, size_t errlen);
void vk_moe_free(vk_engine *e, bool live);
/* Layer L's mixture of experts for micro-batch U, from x (after its attention) back into
 * x, the routing and outputs captured as U asks. */
void vk_record_moe(vk_engine *e, int l, const ubatch *u);
/* The last token's residual stream before the final norm, for moe_out. */
void vk_record_moe_final(vk_engine *e, const ubatch *u);
/* Copies the captures of U out of the readbacks into B (OUT_BASE: U's first output row
 * among the eval's N_OUT_TOTAL). */
void vk_read_moe(vk_engine *e, const engine_batch *b, const ubatch *u, int out_base, int n_out_total);

/* vk_lens.c */
/* The logit lens of the last output row (engine.h), recorded after its logits. */
void vk_record_lens(vk_engine *e, const ubatch *u);
/* Copies the lens results of the last eval out of lens_rb into B. */
void vk_read_lens(vk_engine *e, const engine_batch *b, const ubatch *u);
int vk_lens(engine *base, const engine_lens_query *q, char *err, size_t errlen);

#endif
