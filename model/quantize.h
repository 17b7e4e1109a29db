/* quantize.h — f32 -> storage types, for writing synthetic models (`llmscope synth`).
 *
 * Simple round-to-nearest quantisers: per block, the scale that maps the block's range
 * onto the integer grid. They produce valid GGUF blocks with the errors one expects of
 * each type; they do not search for optimal scales the way llama.cpp's quantizer does. */
#ifndef LLMSCOPE_QUANTIZE_H
#define LLMSCOPE_QUANTIZE_H

#include <stdbool.h>
#include <stdint.h>

/* True for the types quantize_row can write: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1,
 * Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS. */
bool quantize_supported(uint32_t type);
/* Quantises N floats (a multiple of the type's block size) into DST. */
void quantize_row(uint32_t type, const float *src, void *dst, int64_t n);

#endif
