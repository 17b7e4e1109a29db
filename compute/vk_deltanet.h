/* vk_deltanet.h — Gated DeltaNet layers and gated attention on the GPU (Qwen3.5): the
 * kernels and their push constants (tested against ops.c in tests/test_vulkan_ops.c),
 * and the engine's part (vk_deltanet.c): the layers' weights, state and per-token keys,
 * the recording of a DeltaNet mixer step for step as model/deltanet.c computes it, the
 * recurrent state's checkpoints (state_ckpt.h) and the effective weights captured as the
 * layers' attention rows. Internal to compute/. */
#ifndef LLMSCOPE_VK_DELTANET_H
#define LLMSCOPE_VK_DELTANET_H

#include "engine.h"
#include "vk_runtime.h"

#include <stdbool.h>
#include <stdint.h>

/* The kernels, and their bindings in order. */
typedef struct vk_dn_kernels {
    vk_kernel conv;        /* inputs, state, params, out */
    vk_kernel prep;        /* conv rows, b/a projections, params, gates, keys */
    vk_kernel project;     /* conv rows, gates, state, ab, gram */
    vk_kernel solve;       /* conv rows, gates, state, ab, gram, out */
    vk_kernel fold;        /* state */
    vk_kernel weights;     /* conv rows, keys, gates, capture */
    vk_kernel gated_norm;  /* o, z, params */
    vk_kernel sigmoid_mul; /* x, gate */
} vk_dn_kernels;

/* The largest key head and convolution the kernels take (their shared arrays). */
#define VK_DN_MAX_DK 256
#define VK_DN_MAX_TAPS 16

int vk_dn_kernels_create(vk_runtime *rt, uint32_t wg, vk_dn_kernels *k, char *err, size_t errlen);
void vk_dn_kernels_destroy(vk_runtime *rt, vk_dn_kernels *k);

/* push constants, field for field as in the shaders */
typedef struct { uint32_t n, C, K, taps_off, mode; } vk_dn_conv_push;
typedef struct {
    uint32_t n, p0, n_k, d_k, n_v, conv_dim, dt_off, rate_off, flags;
    float eps, scale;
} vk_dn_prep_push;
/* a segment of N tokens inside one chunk, from position P0, row ROW0 of the conv rows */
typedef struct { uint32_t n, p0, n_k, d_k, n_v, d_v, conv_dim, conv_floats, row0; } vk_dn_seg_push;
typedef struct { uint32_t n_v, d_k, d_v, conv_floats; } vk_dn_fold_push;
typedef struct { uint32_t n_out, out_first, p0, n_k, d_k, n_v, conv_dim, cap_off, cap_stride; } vk_dn_weights_push;
typedef struct { uint32_t n_vec, dim, g_off; float eps; } vk_dn_norm_push;
typedef struct { uint32_t n; } vk_sigmoid_mul_push;

/* Mode 0: the convolution of p->n tokens; mode 1 (after a barrier): the state keeps the
 * last K - 1 inputs. */
void vk_op_dn_conv(vk_runtime *rt, const vk_dn_kernels *k, VkDescriptorSet set, const vk_dn_conv_push *p);
void vk_op_dn_prep(vk_runtime *rt, const vk_dn_kernels *k, VkDescriptorSet set, const vk_dn_prep_push *p);
/* The chunked form (op_deltanet_chunked) for tokens P0 .. P0+N-1 of a micro-batch whose
 * conv rows start at P0: per segment of the tokens inside one chunk, dn_project (each
 * token's products with the state and the chunk's keys), dn_solve (the forward
 * substitution, one invocation per row of S) and, at a chunk's end, dn_fold, with barriers
 * between. SHAPE gives the layer's sizes (its n, p0 and row0 are set here). The scratch
 * buffers PROJECT binds hold one chunk: ab [64][n_v][2][d_v], gram [64][n_v][64][2]. */
void vk_dn_record_recurrence(vk_runtime *rt, const vk_dn_kernels *k, VkDescriptorSet project, VkDescriptorSet solve,
                             VkDescriptorSet fold, const vk_dn_seg_push *shape, uint32_t p0, uint32_t n);
void vk_op_dn_weights(vk_runtime *rt, const vk_dn_kernels *k, VkDescriptorSet set, const vk_dn_weights_push *p);
void vk_op_dn_gated_norm(vk_runtime *rt, const vk_dn_kernels *k, VkDescriptorSet set, const vk_dn_norm_push *p);
void vk_op_sigmoid_mul(vk_runtime *rt, const vk_dn_kernels *k, VkDescriptorSet set, const vk_sigmoid_mul_push *p);

/* --- the engine's part (vk_engine_impl.h's vk_engine) ---------------------------------- */

struct vk_engine;
struct ubatch;

/* Why the GPU cannot run M's DeltaNet layers, or NULL. */
const char *vk_dn_unsupported(const model *m);
/* Everything the DeltaNet layers and gated attention layers need, after the engine's
 * own buffers and sets exist; nothing for a model without them. */
int vk_dn_create(struct vk_engine *e, char *err, size_t errlen);
void vk_dn_free(struct vk_engine *e);

/* Recording: a DeltaNet layer's mixer from xn (normalised) to its output added into x;
 * a gated layer's gate rows (with its q, k, v products); the gate applied to the
 * attention output. */
void vk_dn_record_mixer(struct vk_engine *e, int l, const struct ubatch *u);
void vk_dn_record_q_gate(struct vk_engine *e, int l, uint32_t n);
void vk_dn_record_gate_mul(struct vk_engine *e, int l, uint32_t n);

/* The recurrent state around an evaluation: rewind to POS before it, how many tokens may
 * run before the next periodic checkpoint, the state moved on after a micro-batch. */
int vk_dn_rewind(struct vk_engine *e, int pos, char *err, size_t errlen);
int vk_dn_room(const struct vk_engine *e, int pos);
void vk_dn_advance(struct vk_engine *e, const int32_t *tokens, int pos, int n);
/* engine_batch.gates of a micro-batch's output tokens (first output at OUT_BASE). */
void vk_dn_read_gates(struct vk_engine *e, const engine_batch *b, const struct ubatch *u, int out_base, int n_out_total);
void vk_dn_checkpoint(engine *base);
void vk_dn_state_memory(const engine *base, engine_state_memory *out);

#endif
