/* model_loader.h — what model.c (tensors) and model_meta.c (metadata) share while a file
 * is being loaded. Internal to the loader. */
#ifndef LLMSCOPE_MODEL_LOADER_H
#define LLMSCOPE_MODEL_LOADER_H

#include "model.h"

#include <stdbool.h>
#include <stddef.h>

/* Limits far above any real model, low enough that every size derived from them fits in
 * an int and every product of two of them fits comfortably in 64 bits. */
#define MAX_EMBD     (1 << 17)
#define MAX_FF       (1 << 20)
#define MAX_LAYER    1024
#define MAX_HEAD     1024
#define MAX_HEAD_DIM 1024
#define MAX_VOCAB    (1 << 23)
#define MAX_CTX      (1 << 24)
#define MAX_EXPERT   4096
#define MAX_EXPERT_USED 64

typedef struct loader {
    model *m;
    const gguf_file *f;
    char *err;
    size_t errlen;
} loader;

/* Fills ERR with "FILE: message" and returns -1. */
int loader_fail(loader *L, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Copies S into BUF for a message: at most CAP-1 bytes, control characters replaced. */
const char *loader_printable(gguf_str s, char *buf, size_t cap);

/* model_meta.c: the architecture, hyper-parameters, layer recipes and ropes. */
int loader_read_arch(loader *L);
int loader_read_meta(loader *L);

#endif
