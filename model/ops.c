/* ops.c — the reference operations of the forward pass (see ops.h).
 *
 * Written to be read: each function is the textbook formula with f32 arithmetic. These are
 * the yardstick: tests check the CPU engine's fast matrix products (ops_fast.c) and the
 * Vulkan shaders against them. The one concession to speed is the order of the sums in a
 * dot product (eight partial sums, see dot_add), which the fast paths share. */
#include "ops.h"
#include "quant.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

/* Rows are dequantised in pieces of this many elements, so no row length ever needs a
 * heap buffer. It is a multiple of every block size (32 and 256) and of the eight partial
 * sums below, so the pieces do not change the result. */
#define ROW_CHUNK 2048

/* Adds a[i] * b[i] into eight partial sums, element i into sum i % 8 (a tail of fewer
 * than eight goes into sum 0), so the compiler can keep several multiply-adds in flight
 * and use SIMD instead of waiting on one running total. Every dot product of the forward
 * pass uses this order; ops_fast.c follows it too, to give the same bits. */
static void dot_add(float acc[8], const float *a, const float *b, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) acc[j] += a[i + j] * b[i + j];
    for (; i < n; i++) acc[0] += a[i] * b[i];
}

static float dot_sum(const float acc[8]) {
    return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

static float dot(const float *a, const float *b, int64_t n) {
    float acc[8] = {0};
    dot_add(acc, a, b, n);
    return dot_sum(acc);
}

/* Row R of W times X: the row is dequantised one piece at a time and the partial sums
 * carry on from piece to piece, as if the whole row had been dequantised at once. */
static float row_dot(const weight *w, int64_t r, const float *x) {
    const uint8_t *row = (const uint8_t *)w->data + (uint64_t)r * w->row_bytes;
    /* f32 rows can be used in place when the mapping leaves them float-aligned. */
    if (w->type == GGML_TYPE_F32 && (uintptr_t)row % sizeof(float) == 0)
        return dot((const float *)(const void *)row, x, w->cols);
    const uint64_t block_elems = ggml_block_elems(w->type), block_bytes = ggml_block_bytes(w->type);
    float acc[8] = {0}, buf[ROW_CHUNK];
    for (int64_t c0 = 0; c0 < w->cols; c0 += ROW_CHUNK) {
        int64_t len = w->cols - c0 < ROW_CHUNK ? w->cols - c0 : ROW_CHUNK;
        dequantize_row(w->type, row + (uint64_t)c0 / block_elems * block_bytes, buf, len);
        dot_add(acc, buf, x + c0, len);
    }
    return dot_sum(acc);
}

/* The plain way: every output is its own dot product (a row used by N vectors is
 * dequantised N times; ops_fast.c is the version that avoids that). */
void op_matmul(const weight *w, const float *x, float *y, int n) {
    for (int64_t r = 0; r < w->rows; r++)
        for (int j = 0; j < n; j++)
            y[(int64_t)j * w->rows + r] = row_dot(w, r, x + (int64_t)j * w->cols);
}

void op_matvec(const weight *w, const float *x, float *y) { op_matmul(w, x, y, 1); }

void op_rmsnorm(float *out, const float *x, const float *g, int n, float eps) {
    float ss = 0.0f;
    for (int i = 0; i < n; i++) ss += x[i] * x[i];
    float scale = 1.0f / sqrtf(ss / (float)n + eps);
    for (int i = 0; i < n; i++) out[i] = x[i] * scale * (g ? g[i] : 1.0f);
}

void op_layernorm(float *out, const float *x, const float *g, const float *b, int n, float eps) {
    float mean = 0.0f, var = 0.0f;
    for (int i = 0; i < n; i++) mean += x[i];
    mean /= (float)n;
    for (int i = 0; i < n; i++) var += (x[i] - mean) * (x[i] - mean);
    var /= (float)n;
    float scale = 1.0f / sqrtf(var + eps);
    for (int i = 0; i < n; i++)
        out[i] = (x[i] - mean) * scale * (g ? g[i] : 1.0f) + (b ? b[i] : 0.0f);
}

/* Pair i (0 <= i < dim/2) turns by the angle rope_cos_sin gives (arch.c). NORM pairs
 * neighbours (2i, 2i+1); NEOX pairs the two halves of the rotated part (i, i + dim/2). */
void op_rope(float *vec, int n_heads, int head_dim, const rope_desc *r, const float *factors, int pos) {
    if (r->kind == ROPE_NONE) return;
    const int half = r->dim / 2;
    for (int i = 0; i < half; i++) {
        float c, s;
        rope_cos_sin(r, factors, pos, i, &c, &s);
        int a = r->kind == ROPE_NORM ? 2 * i : i;
        int b = r->kind == ROPE_NORM ? 2 * i + 1 : i + half;
        for (int h = 0; h < n_heads; h++) {
            float *v = vec + (int64_t)h * head_dim;
            float x0 = v[a], x1 = v[b];
            v[a] = x0 * c - x1 * s;
            v[b] = x0 * s + x1 * c;
        }
    }
}

void op_softmax(float *x, int n) {
    float max = x[0];
    for (int i = 1; i < n; i++)
        if (x[i] > max) max = x[i];
    float sum = 0.0f;
    for (int i = 0; i < n; i++) {
        x[i] = expf(x[i] - max);
        sum += x[i];
    }
    for (int i = 0; i < n; i++) x[i] /= sum;
}

void op_softmax_sink(float *x, int n, float sink) {
    float max = sink;
    for (int i = 0; i < n; i++)
        if (x[i] > max) max = x[i];
    float sum = 0.0f;
    for (int i = 0; i < n; i++) {
        x[i] = expf(x[i] - max);
        sum += x[i];
    }
    sum += expf(sink - max);
    for (int i = 0; i < n; i++) x[i] /= sum;
}

void op_attention_scores(const float *q, const float *k, const attn_span *a, float *scores) {
    for (int t = a->first; t < a->n_kv; t++)
        scores[t] = dot(q, k + (int64_t)t * a->kv_stride, a->head_dim) * a->scale;
    if (a->softcap > 0) op_softcap(scores + a->first, a->n_kv - a->first, a->softcap);
}

void op_attention_head(const float *q, const float *k, const float *v, const attn_span *a,
                       float *scores_out, float *out) {
    for (int t = 0; t < a->first; t++) scores_out[t] = 0.0f;
    op_attention_scores(q, k, a, scores_out);
    if (a->has_sink) op_softmax_sink(scores_out + a->first, a->n_kv - a->first, a->sink);
    else op_softmax(scores_out + a->first, a->n_kv - a->first);
    for (int i = 0; i < a->head_dim; i++) out[i] = 0.0f;
    for (int t = a->first; t < a->n_kv; t++) {
        const float *vt = v + (int64_t)t * a->kv_stride;
        float p = scores_out[t];
        for (int i = 0; i < a->head_dim; i++) out[i] += p * vt[i];
    }
}

void op_swiglu(float *out, const float *gate, const float *up, int n) {
    for (int i = 0; i < n; i++) {
        float g = gate[i];
        out[i] = g / (1.0f + expf(-g)) * up[i];
    }
}

void op_swiglu_oai(float *out, const float *gate, const float *up, int n) {
    for (int i = 0; i < n; i++) {
        float g = fminf(gate[i], SWIGLU_OAI_LIMIT), u = fmaxf(fminf(up[i], SWIGLU_OAI_LIMIT), -SWIGLU_OAI_LIMIT);
        out[i] = g / (1.0f + expf(-SWIGLU_OAI_ALPHA * g)) * (u + 1.0f);
    }
}

/* K passes, each taking the largest value not yet taken (K is small). */
void op_top_k(const float *v, int n, int k, int32_t *ids) {
    for (int j = 0; j < k; j++) {
        int best = -1;
        for (int i = 0; i < n; i++) {
            bool taken = false;
            for (int p = 0; p < j && !taken; p++) taken = ids[p] == i;
            if (!taken && (best < 0 || v[i] > v[best])) best = i;
        }
        ids[j] = best;
    }
}

void op_moe_route(const float *logits, int n_expert, int k, moe_routing routing, bool norm, int32_t *ids,
                  float *weights, float *probs) {
    float max = logits[0], sum = 0.0f;
    for (int i = 1; i < n_expert; i++)
        if (logits[i] > max) max = logits[i];
    for (int i = 0; i < n_expert; i++) sum += expf(logits[i] - max);
    /* the softmax over every expert picks the same experts as the logits (it is monotone) */
    op_top_k(logits, n_expert, k, ids);
    if (probs)
        for (int i = 0; i < n_expert; i++) probs[i] = expf(logits[i] - max) / sum;
    if (routing == ROUTE_TOPK_SOFTMAX) {
        for (int j = 0; j < k; j++) weights[j] = logits[ids[j]];
        op_softmax(weights, k);
        return;
    }
    float chosen = 0.0f;
    for (int j = 0; j < k; j++) {
        weights[j] = expf(logits[ids[j]] - max) / sum;
        chosen += weights[j];
    }
    if (norm)
        for (int j = 0; j < k; j++) weights[j] /= chosen;
}

static float gelu(float v) {
    const float sqrt_2_over_pi = 0.7978845608028654f;
    return 0.5f * v * (1.0f + tanhf(sqrt_2_over_pi * (v + 0.044715f * v * v * v)));
}

void op_gelu(float *out, const float *x, int n) {
    for (int i = 0; i < n; i++) out[i] = gelu(x[i]);
}

void op_geglu(float *out, const float *gate, const float *up, int n) {
    for (int i = 0; i < n; i++) out[i] = gelu(gate[i]) * up[i];
}

void op_softcap(float *x, int n, float cap) {
    for (int i = 0; i < n; i++) x[i] = cap * tanhf(x[i] / cap);
}

void op_add(float *out, const float *a, const float *b, int n) {
    for (int i = 0; i < n; i++) out[i] = a[i] + b[i];
}

/* ---- Gated DeltaNet and gated attention ---------------------------------------------- */

static float sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }

void op_l2norm(float *out, const float *x, int n, float eps) {
    float ss = dot(x, x, n);
    float norm = sqrtf(ss);
    float scale = 1.0f / (norm > eps ? norm : eps);
    for (int i = 0; i < n; i++) out[i] = x[i] * scale;
}

void op_sigmoid_mul(float *x, const float *gate, int n) {
    for (int i = 0; i < n; i++) x[i] *= sigmoid(gate[i]);
}

void op_gated_rmsnorm(float *out, const float *x, const float *g, const float *z, int n, float eps) {
    op_rmsnorm(out, x, g, n, eps);
    for (int i = 0; i < n; i++) out[i] *= z[i] * sigmoid(z[i]);
}

void op_conv_silu(float *out, const float *const *rows, const float *w, int channels, int taps) {
    for (int c = 0; c < channels; c++) {
        float acc = 0.0f;
        for (int j = 0; j < taps; j++) acc += w[(size_t)c * taps + j] * rows[j][c];
        out[c] = acc * sigmoid(acc);
    }
}

/* log(1 + e^x), which is x itself to float precision past 20 (ggml's threshold) */
static float softplus(float x) { return x > 20.0f ? x : log1pf(expf(x)); }

void op_deltanet_gates(const float *b, const float *a, const float *dt_bias, const float *rate, int n_heads,
                       float *beta, float *g) {
    for (int h = 0; h < n_heads; h++) {
        beta[h] = sigmoid(b[h]);
        g[h] = softplus(a[h] + dt_bias[h]) * rate[h];
    }
}

void op_deltanet_step(float *S, const float *q, const float *k, const float *v, float beta, float g, int d_k,
                      int d_v, float *out) {
    const float decay = expf(g);
    for (int r = 0; r < d_v; r++) {
        float *row = S + (size_t)r * d_k;
        /* forget, then write beta (v - S k) along k: the row's value for k moves to v */
        for (int c = 0; c < d_k; c++) row[c] *= decay;
        float delta = beta * (v[r] - dot(row, k, d_k));
        for (int c = 0; c < d_k; c++) row[c] += delta * k[c];
        out[r] = dot(row, q, d_k);
    }
}

/* The chunked form's body (deltanet_chunked.h), with this file's dot(). */
#define DN_DOT dot
#define DN_INLINE static
#include "deltanet_chunked.h"

void op_deltanet_chunked(const dn_head_state *st, int pos, int n, const float *q, const float *k, size_t qk_stride,
                         const float *v, size_t v_stride, const float *beta, const float *g, size_t gb_stride,
                         float *out, size_t out_stride, float *scratch) {
    dn_chunked(st, pos, n, q, k, qk_stride, v, v_stride, beta, g, gb_stride, out, out_stride, scratch);
}

void op_deltanet_weights(const float *q, const float *k, size_t k_stride, const float *beta, const float *decays,
                         size_t gb_stride, int t, int d_k, float *w, float *x) {
    memcpy(x, q, (size_t)d_k * sizeof *x);
    for (int s = t; s >= 0; s--) {
        const float *ks = k + (size_t)s * k_stride;
        const float ws = beta[(size_t)s * gb_stride] * dot(ks, x, d_k), decay = decays[(size_t)s * gb_stride];
        w[s] = ws;
        for (int c = 0; c < d_k; c++) x[c] = decay * (x[c] - ws * ks[c]);
        if (dn_below_floor(x, d_k)) { /* the rest is below the floor: ops.h */
            memset(w, 0, (size_t)s * sizeof *w);
            return;
        }
    }
}
