/* bench_moe.h — `llmscope bench` on a mixture of experts: weight bytes per decoded token
 * on the CPU, read and touched, against the dense equivalent (bench_moe.c). */
#ifndef LLMSCOPE_BENCH_MOE_H
#define LLMSCOPE_BENCH_MOE_H

#include "model.h"

#include <stdint.h>
#include <stdio.h>

/* Prints the measurement for model M (nothing for a model without experts), decoding
 * from TOKENS[0] for up to N_DECODE (<= 32) tokens. Returns 0, or -1 with ERR filled. */
int bench_moe(const model *m, const int32_t *tokens, int n_decode, char *err, size_t errlen);

#endif
