/* fast_copy.h — what the plain-C fast paths (ops_fast.c, deltanet_fast.c) share.
 *
 * On x86-64 their hot functions are compiled twice, for the baseline processor (SSE2) and
 * for AVX2 (a target("avx2") copy), and the processor picks one when it runs: the same C
 * and the same operations in the same order (ISO C mode fuses no multiply-adds), eight
 * floats per instruction instead of four. Helpers called from both copies must be
 * inlined into each (INLINE), so that they are compiled for its processor too. */
#ifndef LLMSCOPE_FAST_COPY_H
#define LLMSCOPE_FAST_COPY_H

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define HAVE_AVX2_COPY 1
#endif

#if defined(__GNUC__) || defined(__clang__)
#define INLINE static inline __attribute__((always_inline))
#else
#define INLINE static inline
#endif

#define LANES 8 /* partial sums per dot product, as ops.c's dot() */

#endif
