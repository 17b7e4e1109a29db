/* gguf_writer.h — writing GGUF (version 3) files: metadata, a tensor table, tensor data.
 *
 * Used by `llmscope synth` to write random-weight models with the exact shapes of real
 * ones. Data is streamed: declare every key and tensor, write the header, then hand over
 * each tensor's bytes in declaration order, so an 8B model never sits in memory whole. */
#ifndef LLMSCOPE_GGUF_WRITER_H
#define LLMSCOPE_GGUF_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct gguf_writer gguf_writer;

gguf_writer *gguf_writer_create(void);
void gguf_writer_free(gguf_writer *w);

void gguf_writer_add_str(gguf_writer *w, const char *key, const char *value);
void gguf_writer_add_u32(gguf_writer *w, const char *key, uint32_t value);
void gguf_writer_add_f32(gguf_writer *w, const char *key, float value);
void gguf_writer_add_bool(gguf_writer *w, const char *key, bool value);
/* Arrays are copied. */
void gguf_writer_add_str_array(gguf_writer *w, const char *key, const char *const *values, size_t n);
void gguf_writer_add_f32_array(gguf_writer *w, const char *key, const float *values, size_t n);
void gguf_writer_add_i32_array(gguf_writer *w, const char *key, const int32_t *values, size_t n);
void gguf_writer_add_bool_array(gguf_writer *w, const char *key, const bool *values, size_t n);

/* Declares a tensor (ne[0] innermost). Returns its index, or -1 if the type/shape is invalid. */
int gguf_writer_add_tensor(gguf_writer *w, const char *name, uint32_t type, int n_dims,
                           const uint64_t *ne);
uint64_t gguf_writer_tensor_bytes(const gguf_writer *w, int index);

/* Writes magic, metadata and the tensor table, padded to the alignment (32). */
int gguf_writer_write_header(gguf_writer *w, FILE *out);
/* Writes the data of tensor INDEX (which must be the next one in order), padded. */
int gguf_writer_write_tensor(gguf_writer *w, FILE *out, int index, const void *data);
/* True if an allocation failed at any point (then nothing should be written). */
bool gguf_writer_failed(const gguf_writer *w);

#endif
