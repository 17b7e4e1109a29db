/* qdot.h — the CPU engine's matrix products: quantised weights times activations rounded
 * to 8 bits, and float weights times float activations with fused multiply-adds.
 *
 * ops.c's op_matmul is the judge; this is the fast path, and it does not give op_matmul's
 * bits. For a quantised weight type, the activations of each product are rounded once to
 * blocks of 32 signed 8-bit values with one float scale per block (qdot_quantize), and
 * each output is then a sum of integer dot products of whole sub-blocks, scaled in float:
 *
 *     y = sum over sub-blocks j of  (sc_j * dx_b) * sum_i(q_i * xq_i)  +  mn_j * (dx_b * sum_i xq_i)
 *
 * where the weight is w_i = sc_j * q_i + mn_j (quant.c's dequantisation, rewritten with
 * one scale and one offset per sub-block of 16 or 32) and x_i ~ dx_b * xq_i. Against the
 * exact product the one new error is the activation rounding, |x_i - dx_b * xq_i| <=
 * dx_b / 2, so |y - y_exact| <= sum over blocks b of (dx_b / 2) * sum_{i in b} |w_i|, plus
 * float rounding (tests/test_ops_fast.c checks that bound against op_matmul). It is the
 * rounding llama.cpp applies too (its "vec_dot_type"), with blocks of 32 for every type.
 *
 * Every output is computed with the same operations in the same order whatever the row
 * range, the number of tokens and the thread that runs it, so thread counts, micro-batch
 * sizes and batch or one-token decoding give the same bits. Different instruction sets
 * (plain C, AVX2, AVX-512) differ in their float rounding, and the engine uses one.
 *
 * How a product runs: a tile of QDOT_ROWS rows is decoded once (each block into signed
 * 8-bit quants and per-sub-block scales, then interleaved four bytes at a time so that one
 * vector holds four consecutive weights of every row of the tile) and then multiplied
 * with every token's quantised activations, a few tokens at a time, each vector lane
 * accumulating one row: prompt evaluation is a blocked matrix-matrix product, and
 * decoding the same code with one token. */
#ifndef LLMSCOPE_QDOT_H
#define LLMSCOPE_QDOT_H

#include "model.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The instruction sets with their own kernels; the engine asks qdot_best_isa. AMX is
 * AVX-512 whose prompts (16 tokens at a time) go through the tile multiplier; it gives
 * AVX-512's bits. */
typedef enum qdot_isa { QDOT_PLAIN, QDOT_AVX2, QDOT_AVX512, QDOT_AMX, QDOT_ISA_COUNT } qdot_isa;

/* Rows per tile: a row range handed to qdot_rows must start at a multiple of it. */
#define QDOT_ROWS 16
/* Tokens whose products are worth taking together (each tile is decoded once for all of
 * them, and read from memory once): the CPU engine's micro-batch. llama.cpp's is 512. */
#define QDOT_BATCH 128
/* Activations are rounded in blocks of this many values (one float scale each). */
#define QDOT_ACT_BLOCK 32

const char *qdot_isa_name(qdot_isa isa);
/* True when this processor runs ISA (and this build has it). */
bool qdot_isa_available(qdot_isa isa);
/* The widest available; WANT ("plain", "avx2", "avx512", "amx"; NULL: no limit) may ask
 * for a narrower one (for measurements and tests); an unknown or unavailable name is
 * ignored. */
qdot_isa qdot_best_isa(const char *want);

/* True for the weight types qdot_rows multiplies: F32, F16, BF16 and every quantised type
 * with a block decoder (qdot_blocks.h). Others go to ops_fast.c. */
bool qdot_supports(uint32_t type);
/* True when TYPE's products use quantised activations (qdot_quantize first). */
bool qdot_needs_acts(uint32_t type);

/* Activations of N tokens of COLS values (a multiple of QDOT_ACT_BLOCK), rounded. The
 * numbers per block are stored token-minor, block j of token t at [j * n + t]: the
 * kernels take a block of several tokens at once. */
typedef struct qdot_acts {
    int n;
    int64_t cols;
    int8_t *q;          /* [n][cols] */
    float *d;           /* [cols / 32][n] the scale of each block */
    float *sum16;       /* [cols / 16][n] d * (sum of 16 quants): what offsets multiply */
    float *sum32;       /* [cols / 32][n] the same per 32 */
    int32_t *bias16;    /* [cols / 16][n] -128 * (sum of 16 quants), see qdot_avx512.c */
    int32_t *bias32;    /* [cols / 32][n] */
} qdot_acts;

/* Bytes of memory qdot_acts_init needs for N tokens of COLS values. */
size_t qdot_acts_bytes(int n, int64_t cols);
/* Points A's arrays into MEM (qdot_acts_bytes(n, cols) bytes, 64-byte aligned). */
void qdot_acts_init(qdot_acts *a, void *mem, int n, int64_t cols);
/* Rounds X ([a->n][a->cols]) into A. */
void qdot_quantize(qdot_isa isa, const float *x, const qdot_acts *a);

/* Bytes of per-thread scratch memory qdot_rows needs for rows of up to COLS values. */
size_t qdot_scratch_bytes(int64_t cols);

/* Rows [ROW_BEGIN, ROW_END) of y = W x for N tokens: y is [n][w->rows] and only the given
 * rows of each are written. X is [n][w->cols] in f32 (read for float weights) and XA the
 * same rounded by qdot_quantize (read for quantised weights; NULL otherwise). SCRATCH:
 * qdot_scratch_bytes(w->cols) bytes, 64-byte aligned, one per concurrent caller.
 * ROW_BEGIN must be a multiple of QDOT_ROWS. */
void qdot_rows(qdot_isa isa, const weight *w, const float *x, const qdot_acts *xa, float *y,
               int n, int64_t row_begin, int64_t row_end, void *scratch);

#endif
