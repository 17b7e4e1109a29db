/* deltanet.h — Gated DeltaNet layers (Qwen3.5's linear attention): what both engines
 * share about them, and the CPU engine's mixer.
 *
 * A Gated DeltaNet layer replaces softmax attention by a recurrence with a fixed-size
 * state per value head, a d_v x d_k matrix S that maps keys to values. For each token:
 *   - one matrix (ssm_qkv) projects the normalised input to q and k (one vector per key
 *     head) and v (one per value head); a causal depthwise convolution over the last
 *     conv_kernel tokens (ssm_conv, one set of taps per row), then SiLU, mixes each of
 *     these rows with the same rows of the tokens before;
 *   - q and k of each key head are L2-normalised, q scaled by 1/sqrt(d_k); a key head
 *     serves several value heads, tiled (value head h reads key head h % n_key_heads);
 *   - beta = sigmoid(ssm_beta x) says how strongly the token writes, and the decay
 *     e^g, g = softplus(ssm_alpha x + ssm_dt) * ssm_a (ssm_a < 0), how much of the state
 *     survives it, per value head;
 *   - the delta rule: S <- e^g S (I - beta k k^T) + beta v k^T (the state's value for k
 *     moves towards v), and the head reads out o = S q;
 *   - o is RMS-normalised per head with the gain ssm_norm and multiplied by silu(z),
 *     z = ssm_z x, and ssm_out projects all heads back to the residual stream.
 * The state is the convolution's last conv_kernel - 1 input rows and S. Prompts run in
 * the chunked form (ops.h, op_deltanet_chunked), with chunks aligned to absolute
 * positions: the live state is S at the last multiple of DN_CHUNK plus that chunk's
 * tokens so far, and every token's result is the same however the tokens were batched.
 *
 * What a head looks at: its read-out at token t is a weighted sum of the values of every
 * token so far, o_t = sum_s w_ts v_s, with w_ts following from the keys, betas and decays
 * of tokens s..t (op_deltanet_weights). Capturing attention, the engines give these as
 * the layer's attention rows: signed, not summing to 1. To compute them the engines keep
 * every token's normalised keys, betas and decays, like a key cache.
 *
 * Layout of one layer's live state (floats), shared by the CPU and Vulkan engines:
 *   conv  [conv_kernel - 1][conv_dim]   input rows of the last positions, oldest first
 *   S     [n_v][d_v][d_k]
 *   tail  [DN_CHUNK] records of [n_v][d_k] keys, [n_v][d_v] values u, [n_v] log-decay
 * A snapshot at position p is the first dn_snapshot_floats(p) of them (the tail holds
 * p % DN_CHUNK records). */
#ifndef LLMSCOPE_DELTANET_H
#define LLMSCOPE_DELTANET_H

#include "engine.h"
#include "model.h"
#include "ops.h"
#include "workers.h"

#include <stddef.h>

typedef struct dn_shape {
    int n_v, n_k, d_k, d_v, taps;
    int key_dim, value_dim, conv_dim; /* n_k d_k, n_v d_v, 2 key_dim + value_dim */
    size_t conv_floats, S_floats, record_floats;
} dn_shape;

dn_shape dn_shape_of(const layer_desc *d);
/* Floats of a layer's live state, and of a snapshot of it at position POS. */
size_t dn_state_floats(const dn_shape *s);
size_t dn_snapshot_floats(const dn_shape *s, int pos);
/* Value head H's chunk state inside a layer's live state STATE. */
dn_head_state dn_head_of(const dn_shape *s, float *state, int h);

/* "gated DeltaNet: 4 value heads of 128 over 2 key heads of 128, conv 4, ff 128" (info). */
void deltanet_describe(const layer_desc *d, char *buf, size_t cap);

/* ---- the CPU engine's mixer ---- */

/* What the mixer asks of the engine that runs it: its matrix products and its threads. */
typedef struct dn_host {
    void *ctx;
    void (*matmul)(void *ctx, const weight *w, const float *x, float *y, int n);
    void (*run)(void *ctx, int n_tasks, workers_task_fn fn, void *arg, double work);
    int n_threads;
} dn_host;

typedef struct dn_cpu dn_cpu;

/* The DeltaNet layers of M for a context of N_CTX positions and micro-batches of up to
 * MAX_TOKENS; NULL when M has none or out of memory (*OOM tells which). */
dn_cpu *dn_cpu_create(const model *m, int n_ctx, int max_tokens, bool *oom);
void dn_cpu_free(dn_cpu *d);
/* Layer L's mixer for tokens START .. START+N-1 of batch B (positions B->pos + START ..):
 * XB [n][n_embd], the normalised input, becomes the mixer's output. Writes B's attention
 * rows (the effective weights) and gates for the tokens B wants them of. */
void dn_cpu_layer(dn_cpu *d, const dn_host *h, int l, float *xb, const engine_batch *b, int start, int n);
/* The state at position 0 (nothing seen). */
void dn_cpu_reset(dn_cpu *d);
/* Bytes of a snapshot of every layer's state at position POS; copies it out and in. */
size_t dn_cpu_snapshot_bytes(const dn_cpu *d, int pos);
void dn_cpu_save(const dn_cpu *d, int pos, void *dst);
void dn_cpu_load(dn_cpu *d, int pos, const void *src);
/* Bytes held: the live states and the per-token keys, betas and decays. */
void dn_cpu_memory(const dn_cpu *d, size_t *state, size_t *keys);

/* op_deltanet_weights (ops.h), the same bits, vectorised (deltanet_fast.c). X: d_k floats. */
void fast_deltanet_weights(const float *q, const float *k, size_t k_stride, const float *beta, const float *decays,
                           size_t gb_stride, int t, int d_k, float *w, float *x);
/* M (at most DN_SWEEP_QUERIES) of them at once, query Q[j] of token T[j] into W[j], each
 * with the same bits: the sweeps share each token's key and overlap their latencies.
 * X: M * d_k floats. */
#define DN_SWEEP_QUERIES 4
void fast_deltanet_weights_many(int m, const float *const *q, const float *k, size_t k_stride, const float *beta,
                                const float *decays, size_t gb_stride, const int *t, int d_k, float *const *w,
                                float *x);

/* op_deltanet_chunked (ops.h), the same bits, vectorised and with an AVX2 copy
 * (deltanet_fast.c): what the CPU engine runs. */
void fast_deltanet_chunked(const dn_head_state *st, int pos, int n, const float *q, const float *k, size_t qk_stride,
                           const float *v, size_t v_stride, const float *beta, const float *g, size_t gb_stride,
                           float *out, size_t out_stride, float *scratch);

#endif
