/* synth.h — random-weight GGUF files with the exact shapes of real models.
 *
 * Weights cannot be downloaded on every machine, but speed depends only on shapes and
 * storage types: `llmscope synth` writes a model that loads and runs like the real one
 * (same tensors, types and metadata, a byte-level vocabulary of the right size and a
 * ChatML template), filled with seeded random numbers. */
#ifndef LLMSCOPE_SYNTH_H
#define LLMSCOPE_SYNTH_H

#include <stddef.h>
#include <stdint.h>

/* Shape names, NULL-terminated: smollm2-135m, qwen2.5-0.5b, llama-3.2-1b, llama-3-8b, ... */
const char *const *synth_shapes(void);
/* Type names, NULL-terminated: f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, q4_k_m. */
const char *const *synth_types(void);

/* Writes PATH. PROGRESS (may be NULL) is called after each tensor with done/total bytes.
 * Returns 0, or -1 with ERR filled (unknown shape or type, I/O error). */
int synth_write(const char *shape, const char *type, const char *path, uint64_t seed,
                void (*progress)(uint64_t done, uint64_t total, void *ctx), void *ctx,
                char *err, size_t errlen);

#endif
