/* vk_ops.h — the forward pass's GPU operations: their kernels, push constants and how
 * each is dispatched, plus weights on the device.
 *
 * One function per operation records it into the runtime's command buffer; the caller
 * supplies a descriptor set with the kernel's buffers (in the order listed below) and
 * the push constants, which mirror the shader's block field for field. The engine
 * (vk_engine.c) and the shader tests (tests/test_vulkan_ops.c) use exactly these. */
#ifndef LLMSCOPE_VK_OPS_H
#define LLMSCOPE_VK_OPS_H

#include "model.h"
#include "quant.h"
#include "vk_runtime.h"

/* Tokens per matvec workgroup (each weight unit is dequantised once for all of them). */
#define VK_MATVEC_TOKENS 8
/* Logits per workgroup in the first pass of the vocabulary reduction. */
#define VK_TOPK_CHUNK 1024
/* The most top-k entries the GPU reduction returns per row. */
#define VK_TOPK_MAX 64
/* The largest head_dim the attention kernel's shared memory holds. */
#define VK_MAX_HEAD_DIM 512
/* Split-key attention: batches of at most this many tokens split their keys into chunks
 * (decode has too few (token, head) pairs to fill a GPU), at most this many chunks. */
#define VK_ATTN_SPLIT_MAX_TOKENS 8
#define VK_ATTN_MAX_CHUNKS 256

/* Tile shape of the matrix-matrix kernel (specialization constants 1..5 of matmul.glsl):
 * a workgroup of (bm/tm) * (bn/tn) invocations computes bm rows x bn tokens, bk columns
 * per step, each invocation tm x tn outputs. */
typedef struct vk_matmul_tiles {
    uint32_t bm, bn, bk, tm, tn;
} vk_matmul_tiles;

typedef struct vk_kernels {
    uint32_t wg;                            /* workgroup size */
    uint32_t matvec_rows;                   /* matrix rows per matvec workgroup */
    vk_kernel matvec[GGML_TYPE_COUNT_];     /* W, x, y, params, rope table, routing */
    vk_kernel matmul[GGML_TYPE_COUNT_];     /* the same buffers (the table unused) */
    vk_matmul_tiles tiles;
    uint32_t matmul_min;                    /* batches of this many tokens or more use matmul */
    vk_kernel get_rows[GGML_TYPE_COUNT_];   /* W, ids, y */
    vk_kernel rmsnorm, layernorm;           /* x, params, y */
    vk_kernel rope;                         /* x, cos/sin table */
    vk_kernel attention;                    /* q, k, v, out, scores, capture, partials, params */
    vk_kernel attention_merge;              /* partials, scores, out, capture, params */
    uint32_t attn_chunk;                    /* keys per chunk when attention splits */
    vk_kernel glu, add;                     /* a, b, y */
    vk_kernel softcap;                      /* x */
    vk_kernel ple_gate;                     /* gate, per-layer inputs */
    vk_kernel scale;                        /* x, params */
    vk_kernel gelu;                         /* x, y */
    vk_kernel topk_partial;                 /* logits, records */
    vk_kernel topk_merge;                   /* records, out */
    vk_kernel lens;                         /* entries, candidate rows, params, out */
    vk_kernel lens_rank;                    /* logits, top-k record, ranks */
    vk_kernel moe_route;                    /* router logits, routing */
    vk_kernel moe_combine;                  /* routing, expert outputs, shared expert's, x, out */
} vk_kernels;

/* Tuning of the kernels for a device; all zero is the device's own choice (vk_ops.c). The
 * program sets these from LLMSCOPE_VK_* (ui/vk_options.c) to tune a new GPU, and the tests
 * to run lavapipe with the sizes GPUs get. An invalid value is ignored. */
typedef struct vk_tuning {
    uint32_t wg;              /* workgroup size of every kernel but matmul (a multiple of the subgroup) */
    uint32_t matvec_rows;     /* matrix rows per matvec workgroup */
    vk_matmul_tiles tiles;    /* the matmul kernel's tile shape */
    uint32_t matmul_min;      /* batches of this many tokens or more use matmul */
    uint32_t attn_chunk;      /* keys per chunk when attention splits */
} vk_tuning;

/* TUNING may be NULL (the device's choice). */
int vk_kernels_create(vk_runtime *rt, vk_kernels *k, const vk_tuning *tuning, char *err, size_t errlen);
void vk_kernels_destroy(vk_runtime *rt, vk_kernels *k);

/* Elements per unit of work in the matvec/get_rows kernels (0: the type has no GPU
 * kernel). Quantized rows are whole units; float rows may end in a partial one. */
uint32_t vk_type_unit(uint32_t type);

/* --- weights ----------------------------------------------------------------------- */

/* A matrix on the device, split by rows into parts that each fit one buffer binding. */
typedef struct vk_weight_part {
    vk_buffer buf;
    uint32_t row0, rows;                    /* rows row0 .. row0+rows-1 of the matrix */
} vk_weight_part;

typedef struct vk_weight {
    uint32_t type, cols, rows, row_bytes;
    int n_parts;
    vk_weight_part *parts;
} vk_weight;

/* Uploads W through STAGING. ERR names the tensor when its type or shape is unsupported.
 * Parts always hold an even number of rows (the pair modes of matvec.glsl need both rows
 * of a pair in one part). */
int vk_weight_upload(vk_runtime *rt, vk_buffer *staging, const weight *w, vk_weight *out,
                     char *err, size_t errlen);
/* Uploads a matrix of ROWS rows assembled from the rows of N_SRC matrices of one type and
 * width: row i of the result is row MAP[2i + 1] of SRCS[MAP[2i]]. Used to interleave gate
 * and up rows, and to store NEOX-rotated q and k rows with their pairs side by side. */
int vk_weight_upload_rows(vk_runtime *rt, vk_buffer *staging, const weight *const *srcs, int n_src,
                          const uint32_t *map, uint32_t rows, vk_weight *out, char *err, size_t errlen);
void vk_weight_free(vk_runtime *rt, vk_weight *w);

/* (cos, sin) of rope R with divisors FACTORS for every position < N_CTX and pair <
 * r->dim/2, as op_rope computes them (rope_cos_sin). Returns a malloc'ed array of
 * n_ctx * r->dim floats, or NULL when out of memory. */
float *vk_rope_table(int n_ctx, const rope_desc *r, const float *factors);

/* --- push constants (std430 scalars, field for field as in the shaders) ------------- */
/* matvec.glsl's flags; the matmul kernel takes BIAS and ACCUMULATE only. */
enum { VK_MATVEC_BIAS = 1, VK_MATVEC_ACCUMULATE = 2, VK_MATVEC_NORM = 4, VK_MATVEC_ROPE = 8, VK_MATVEC_GLU = 16,
       VK_MATVEC_GELU = 32, VK_MATVEC_EXPERTS = 64, VK_MATVEC_OAI = 128 };
#define VK_MATVEC_FUSED (VK_MATVEC_NORM | VK_MATVEC_ROPE | VK_MATVEC_GLU | VK_MATVEC_EXPERTS)
typedef struct {
    uint32_t cols, rows, row0, n, x_off, x_stride, y_off, y_stride, row_bytes, bias_off, flags;
    uint32_t norm_off;  /* NORM: the gain's offset in params */
    float eps;          /* NORM */
    uint32_t pos0, head_dim, rope_dim, row_base; /* ROPE: position of vector 0, head layout,
                                                    index of row 0 in the output vector */
    /* EXPERTS (matvec.glsl): n vectors, one per (token, slot) of n_slots, each reading the
     * rows of expert route[ids_off + v] (expert_rows rows per expert), its input row the
     * token's, or its own with x_per_slot */
    uint32_t ids_off, n_slots, expert_rows, x_per_slot;
} vk_matvec_push;
enum { VK_GET_ROWS_POSITIONS = 1, VK_GET_ROWS_SCALE = 2 };
typedef struct {
    uint32_t cols, n, row_bytes, part_row0, part_rows, y_off, y_stride, ids_off, flags;
    float scale;
} vk_get_rows_push;
/* norms: scale by the gain, shift by the bias (LayerNorm), add into y (RMSNorm) */
enum { VK_NORM_SCALE = 1, VK_NORM_SHIFT = 2, VK_NORM_ACCUMULATE = 4 };
typedef struct { uint32_t n, dim, x_off, x_stride, y_off, y_stride, g_off, flags; float eps; } vk_rmsnorm_push;
typedef struct { uint32_t n, dim, x_off, x_stride, y_off, y_stride, g_off, b_off, flags; float eps; } vk_layernorm_push;
typedef struct { uint32_t n_tokens, n_heads, head_dim, rope_dim, pos0, x_off, x_stride, neox; } vk_rope_push;
typedef struct {
    uint32_t pos, head_dim, group, q_stride, kv_stride, out_stride, score_stride;
    int32_t cap_first;
    uint32_t cap_rows, cap_stride, cap_off;
    float scale;
    uint32_t chunk, n_chunks; /* set by vk_op_attention */
    uint32_t window;          /* keys per query, itself included; 0 = all */
    float softcap;            /* 0 = none */
    float temp;               /* attention temperature (layer_desc.attn_temp), 0 = none */
    uint32_t temp_floor;
    uint32_t sink_off;        /* the heads' sink logits in params (gpt-oss); ~0u = none */
} vk_attention_push;
typedef struct { uint32_t n, a_off, b_off, y_off; } vk_binary_push; /* add */
/* glu: act(gate i) * up i, gate i at g_off + i * in_stride, up i at u_off + i * in_stride
 * (stride 2: the interleaved rows of a fused gate/up matrix); act GELU when gelu, else silu */
typedef struct { uint32_t n, g_off, u_off, y_off, in_stride, gelu; } vk_glu_push;
typedef struct { uint32_t n, off; float cap; } vk_softcap_push;
typedef struct { uint32_t n_tokens, width, all, layer_off; } vk_ple_gate_push;
typedef struct { uint32_t n, off, s_off; } vk_scale_push;
typedef struct { uint32_t n, x_off, y_off; } vk_gelu_push;
typedef struct { uint32_t n_vocab, row_stride, k, n_chunks, row_off; } vk_topk_partial_push;
/* lens: flags 1 scale, 2 shift, 4 LayerNorm (else RMSNorm), 8 last entry taken as it is,
 * 16 soft-cap the logits by CAP */
typedef struct { uint32_t dim, k, g_off, b_off, flags; float eps, cap; } vk_lens_push;
typedef struct { uint32_t n_valid, row_stride, k; } vk_lens_rank_push;
typedef struct { uint32_t k, n_chunks; } vk_topk_merge_push;
/* moe_route.comp: routing 0 = ROUTE_SOFTMAX, 1 = ROUTE_TOPK_SOFTMAX; offsets in uints of
 * the routing buffer */
typedef struct {
    uint32_t n_expert, n_logits, k, n_rank, routing, norm, shared_gate;
    uint32_t ids_off, w_off, rank_off, prob_off, gate_off;
} vk_moe_route_push;
typedef struct { uint32_t n, dim, k, w_off, gate_off, shared_gate, accumulate; } vk_moe_combine_push;
/* The most experts and ranked experts moe_route.comp handles. */
#define VK_MOE_MAX_EXPERTS 1024
#define VK_MOE_MAX_RANK 68

/* --- recording -------------------------------------------------------------------- */
/* Rows P->row0 .. +P->rows of weight part TYPE, for P->n vectors. */
void vk_op_matvec(vk_runtime *rt, const vk_kernels *k, uint32_t type, VkDescriptorSet set,
                  const vk_matvec_push *p);
/* The same product by the tiled matrix-matrix kernel (same buffers, push constants and
 * flags): for micro-batches of k->matmul_min tokens or more. */
void vk_op_matmul(vk_runtime *rt, const vk_kernels *k, uint32_t type, VkDescriptorSet set,
                  const vk_matvec_push *p);
/* Whichever of the two suits P->n tokens (matvec whenever P asks for a fusion). */
void vk_op_matrix(vk_runtime *rt, const vk_kernels *k, uint32_t type, VkDescriptorSet set,
                  const vk_matvec_push *p);
void vk_op_get_rows(vk_runtime *rt, const vk_kernels *k, uint32_t type, VkDescriptorSet set,
                    const vk_get_rows_push *p);
void vk_op_rmsnorm(vk_runtime *rt, const vk_kernels *k, VkDescriptorSet set, const vk_rmsnorm_push *p);
void vk_op_layernorm(vk_runtime *rt, const vk_kernels *k, VkDescriptorSet set, const vk_layernorm_push *p);
void vk_op_rope(vk_runtime *rt, const vk_kernels *k, VkDescriptorSet set, const vk_rope_push *p);
/* N_TOKENS query tokens x N_HEAD heads; the scores scratch holds n_head * n_tokens rows
 * of p->score_stride floats. Short rows are one pass; the keys of long rows in small
 * batches are split into chunks (vk_attention_split) whose records (vk_attention_part_
 * floats) a second pass merges, with a barrier between the two. SET binds the first
 * pass's buffers, MERGE_SET the second's. */
void vk_op_attention(vk_runtime *rt, const vk_kernels *k, VkDescriptorSet set, VkDescriptorSet merge_set,
                     const vk_attention_push *p, uint32_t n_tokens, uint32_t n_head);
/* How vk_op_attention splits the keys of a batch: keys per chunk and chunks (1: one pass). */
void vk_attention_split(const vk_kernels *k, uint32_t pos, uint32_t n_tokens, uint32_t *chunk,
                        uint32_t *n_chunks);
/* Floats of the chunk records for contexts of N_CTX positions. */
size_t vk_attention_part_floats(const vk_kernels *k, uint32_t n_ctx, uint32_t n_head, uint32_t head_dim);
void vk_op_glu(vk_runtime *rt, const vk_kernels *k, VkDescriptorSet set, const vk_glu_push *p);
void vk_op_softcap(vk_runtime *rt, const vk_kernels *k, VkDescriptorSet set, const vk_softcap_push *p);
void vk_op_ple_gate(vk_runtime *rt, const vk_kernels *k, VkDescriptorSet set, const vk_ple_gate_push *p);
void vk_op_scale(vk_runtime *rt, const vk_kernels *k, VkDescriptorSet set, const vk_scale_push *p);
void vk_op_add(vk_runtime *rt, const vk_kernels *k, VkDescriptorSet set, const vk_binary_push *p);
void vk_op_gelu(vk_runtime *rt, const vk_kernels *k, VkDescriptorSet set, const vk_gelu_push *p);
/* Both passes of the vocabulary reduction over N_ROWS rows, with a barrier between them.
 * Records are n_rows * n_chunks * (3 + 2k) floats; the output per row is
 * [log-sum-exp, entropy, k ids (int32 bits), k logits]. */
uint32_t vk_topk_chunks(uint32_t n_vocab);
void vk_op_topk(vk_runtime *rt, const vk_kernels *k, VkDescriptorSet partial_set,
                VkDescriptorSet merge_set, uint32_t n_vocab, uint32_t row_stride,
                uint32_t n_rows, uint32_t top_k);
/* The same from the row starting at float ROW_OFF of the logits, over the first N_VOCAB
 * entries of each row. */
void vk_op_topk_at(vk_runtime *rt, const vk_kernels *k, VkDescriptorSet partial_set,
                   VkDescriptorSet merge_set, uint32_t n_vocab, uint32_t row_stride, uint32_t row_off,
                   uint32_t n_rows, uint32_t top_k);
/* The logit lens of N_ENTRIES residual-stream entries for P->k candidates (lens.comp). */
void vk_op_lens(vk_runtime *rt, const vk_kernels *k, VkDescriptorSet set, const vk_lens_push *p,
                uint32_t n_entries);
/* Ranks of the candidates among the first P->n_valid logits of N_ENTRIES rows
 * (lens_rank.comp); the ranks buffer must be zeroed first. */
void vk_op_lens_rank(vk_runtime *rt, const vk_kernels *k, VkDescriptorSet set, const vk_lens_rank_push *p,
                     uint32_t n_entries);
/* A mixture of experts' router for N_TOKENS tokens (moe_route.comp, op_moe_route). */
void vk_op_moe_route(vk_runtime *rt, const vk_kernels *k, VkDescriptorSet set, const vk_moe_route_push *p,
                     uint32_t n_tokens);
/* The weighted sum of the chosen experts' outputs (moe_combine.comp). */
void vk_op_moe_combine(vk_runtime *rt, const vk_kernels *k, VkDescriptorSet set, const vk_moe_combine_push *p);

#endif
