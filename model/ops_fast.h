/* ops_fast.h — the matrix product of ops.h, the same results, faster; and attention
 * within float rounding of it, much faster.
 *
 * op_matmul (ops.c) is the readable reference: it dequantises a whole row into a buffer,
 * then takes dot products with it. fast_matmul_rows instead decodes one block of a row at
 * a time (32 or 256 weights, kept in cache) and uses it for every input vector of the batch
 * before moving on, so each weight is read from memory once per batch of up to
 * FAST_MAX_TOKENS vectors. The CPU engine multiplies with qdot.h, faster still but not
 * exact; it takes these products for types qdot.h has no decoder for, and the logit lens
 * (head.c) takes them to stay exact.
 *
 * The arithmetic is the reference's, in the same order: each weight is decoded with the
 * formula of quant.c and the products are summed into the same eight partial sums, so the
 * results are bit for bit those of op_matmul (tests/test_ops_fast.c checks every type).
 * Only the memory traffic and the instructions differ: SIMD, and on x86-64 a copy built
 * for AVX2 that converts f16 rows with F16C (whose one difference: a signalling NaN
 * weight comes out quiet). */
#ifndef LLMSCOPE_OPS_FAST_H
#define LLMSCOPE_OPS_FAST_H

#include "model.h"
#include "ops.h"

#include <stdint.h>

/* Input vectors whose products share one pass over a row; more are done in groups. */
#define FAST_MAX_TOKENS 64
/* Rows are computed this many at a time: a row range whose length is a multiple of it
 * wastes nothing. */
#define FAST_ROW_GROUP 4

/* Rows [ROW_BEGIN, ROW_END) of y = W x for N vectors: x is [n][w->cols], y is
 * [n][w->rows] (only the given rows of each output vector are written). Different row
 * ranges can be computed by different threads at the same time. */
void fast_matmul_rows(const weight *w, const float *x, float *y, int n, int64_t row_begin,
                      int64_t row_end);

/* The same, always with the code compiled for the baseline processor (fast_matmul_rows
 * may pick a copy compiled for a wider instruction set; tests check both). */
void fast_matmul_rows_portable(const weight *w, const float *x, float *y, int n,
                               int64_t row_begin, int64_t row_end);

/* op_attention_head (ops.h) within float rounding, not its bits: fused multiply-adds
 * where the processor has them, and the softmax's exponentials vectorised (ops_fast.c). */
void fast_attention_head(const float *q, const float *k, const float *v, const attn_span *a,
                         float *scores_out, float *out);

#endif
