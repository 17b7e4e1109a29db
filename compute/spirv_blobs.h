/* spirv_blobs.h — SPIR-V modules embedded at build time (see the Makefile: every
 * shaders/NAME.comp becomes an entry named NAME, and so does every per-type wrapper it
 * generates from shaders/types.def, such as matvec_q4_k). The table ends with a NULL
 * name. */
#ifndef LLMSCOPE_SPIRV_BLOBS_H
#define LLMSCOPE_SPIRV_BLOBS_H

typedef struct spirv_blob {
    const char *name;
    const unsigned char *data, *end;
} spirv_blob;

extern const spirv_blob SPIRV_BLOBS[];

#endif
