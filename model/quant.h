/* quant.h — ggml storage types: sizes, names and reference dequantisation.
 *
 * The block layouts are GGUF's (and ggml's) exactly: a tensor row of N elements is N/QK
 * blocks laid end to end. These functions are the plain C reference that the Vulkan
 * shaders are tested against. */
#ifndef LLMSCOPE_QUANT_H
#define LLMSCOPE_QUANT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

enum ggml_type {
    GGML_TYPE_F32 = 0, GGML_TYPE_F16 = 1, GGML_TYPE_Q4_0 = 2, GGML_TYPE_Q4_1 = 3,
    GGML_TYPE_Q5_0 = 6, GGML_TYPE_Q5_1 = 7, GGML_TYPE_Q8_0 = 8, GGML_TYPE_Q8_1 = 9,
    GGML_TYPE_Q2_K = 10, GGML_TYPE_Q3_K = 11, GGML_TYPE_Q4_K = 12, GGML_TYPE_Q5_K = 13,
    GGML_TYPE_Q6_K = 14, GGML_TYPE_Q8_K = 15, GGML_TYPE_IQ2_XXS = 16, GGML_TYPE_IQ2_XS = 17,
    GGML_TYPE_IQ3_XXS = 18, GGML_TYPE_IQ1_S = 19, GGML_TYPE_IQ4_NL = 20, GGML_TYPE_IQ3_S = 21,
    GGML_TYPE_IQ2_S = 22, GGML_TYPE_IQ4_XS = 23, GGML_TYPE_I8 = 24, GGML_TYPE_I16 = 25,
    GGML_TYPE_I32 = 26, GGML_TYPE_I64 = 27, GGML_TYPE_F64 = 28, GGML_TYPE_IQ1_M = 29,
    GGML_TYPE_BF16 = 30, GGML_TYPE_TQ1_0 = 34, GGML_TYPE_TQ2_0 = 35, GGML_TYPE_MXFP4 = 39,
    GGML_TYPE_COUNT_ = 40
};

/* Name of any ggml type id ("q4_K", "f16", ...; "type 99" style for unknown ids,
 * written into a static table of names, never a mutable buffer). */
const char *ggml_type_name(uint32_t type);
/* True for the types llmscope can compute with: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0,
 * Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS, MXFP4. */
bool ggml_type_supported(uint32_t type);
/* The names of the supported types, ", "-separated in type-id order, into BUF (as many
 * whole names as fit in CAP - 1 characters; terminated when CAP > 0): for messages, so
 * that they cannot drift from the table. Returns BUF. */
const char *ggml_supported_type_names(char *buf, size_t cap);
/* Elements per block and bytes per block; 0 for unknown types. Known-but-unsupported types
 * still report sizes so that files using them can be measured and named in errors. */
uint32_t ggml_block_elems(uint32_t type);
uint32_t ggml_block_bytes(uint32_t type);
/* Bytes for a row of N elements; false if N is not a multiple of the block size or the
 * type is unknown. */
bool ggml_row_bytes(uint32_t type, uint64_t n, uint64_t *out);

/* Dequantises N consecutive elements starting at element 0 of SRC (N must be a multiple of
 * the type's block size). Type must be supported. */
void dequantize_row(uint32_t type, const void *src, float *dst, int64_t n);

float fp16_to_f32(uint16_t h);
/* fp16_to_f32 for hot loops (one or two per block): the same bits for every input, without
 * a call or a loop, computed as fp16_to_f32_row does. */
static inline float fp16_to_f32_inline(uint16_t h) {
    uint32_t bits;
    if ((h & 0x7c00u) == 0) { /* zero or subnormal: the mantissa times 2^-24, exactly */
        float f = (float)(h & 0x3ffu) * 0x1p-24f;
        memcpy(&bits, &f, sizeof bits);
    } else if ((h & 0x7c00u) == 0x7c00u) { /* infinity or NaN */
        bits = 0x7f800000u | ((uint32_t)(h & 0x3ffu) << 13);
    } else { /* normal: rebias the exponent from 15 to 127 */
        bits = ((uint32_t)(h & 0x7fffu) << 13) + (112u << 23);
    }
    bits |= (uint32_t)(h & 0x8000u) << 16;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}
uint16_t f32_to_fp16(float f);    /* round to nearest even */
float bf16_to_f32(uint16_t h);
uint16_t f32_to_bf16(float f);    /* round to nearest even */
/* Whole rows, bit for bit the same as the functions above but written without branches so
 * that the compiler vectorises them: attention capture converts millions per second. */
void f32_to_fp16_row(const float *x, uint16_t *y, size_t n);
void fp16_to_f32_row(const uint16_t *x, float *y, size_t n);

/* Block layouts (packed, little-endian, as in the file). */
#define QK4_0 32
#define QK4_1 32
#define QK5_0 32
#define QK5_1 32
#define QK8_0 32
#define QK4_NL 32
#define QK_MXFP4 32
#define QK_K 256
#define K_SCALE_SIZE 12
typedef struct { uint16_t d; uint8_t qs[QK4_0 / 2]; } block_q4_0;                  /* 18 bytes */
typedef struct { uint16_t d, m; uint8_t qs[QK4_1 / 2]; } block_q4_1;                /* 20 bytes */
typedef struct { uint16_t d; uint8_t qh[4]; uint8_t qs[QK5_0 / 2]; } block_q5_0;    /* 22 bytes */
typedef struct { uint16_t d, m; uint8_t qh[4]; uint8_t qs[QK5_1 / 2]; } block_q5_1; /* 24 bytes */
typedef struct { uint16_t d; int8_t qs[QK8_0]; } block_q8_0;                        /* 34 bytes */
/* MXFP4 (OCP microscaling, gpt-oss's experts): a power-of-two scale E8M0 and 32 FP4 (E2M1)
 * values as nibbles, placed like Q4_0's. 17 bytes, so blocks start at any byte. */
typedef struct { uint8_t e; uint8_t qs[QK_MXFP4 / 2]; } block_mxfp4;                /* 17 bytes */
/* The sixteen E2M1 values doubled (0, 0.5, 1, 1.5, 2, 3, 4, 6 and their negatives, times
 * two, so they are integers); mxfp4_scale_half() halves the scale to make up for it. */
extern const int8_t MXFP4_VALUES[16];
/* 2^(e - 127) / 2 = 2^(e - 128) exactly, as a float: for e >= 2 the exponent field e - 1;
 * e = 0 and 1 give the subnormals 2^-128 and 2^-127 (mantissa bit 21 or 22). */
static inline float mxfp4_scale_half(uint8_t e) {
    uint32_t bits = e >= 2 ? (uint32_t)(e - 1) << 23 : 0x00200000u << e;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}
typedef struct { uint8_t scales[QK_K / 16]; uint8_t qs[QK_K / 4]; uint16_t d, dmin; } block_q2_K; /* 84 */
typedef struct { uint8_t hmask[QK_K / 8]; uint8_t qs[QK_K / 4]; uint8_t scales[K_SCALE_SIZE]; uint16_t d; } block_q3_K; /* 110 */
typedef struct { uint16_t d, dmin; uint8_t scales[K_SCALE_SIZE]; uint8_t qs[QK_K / 2]; } block_q4_K; /* 144 */
typedef struct { uint16_t d, dmin; uint8_t scales[K_SCALE_SIZE]; uint8_t qh[QK_K / 8]; uint8_t qs[QK_K / 2]; } block_q5_K; /* 176 */
typedef struct { uint8_t ql[QK_K / 2]; uint8_t qh[QK_K / 4]; int8_t scales[QK_K / 16]; uint16_t d; } block_q6_K; /* 210 */
/* IQ4_NL and IQ4_XS store 4-bit indices into IQ4_LEVELS, not the integers themselves. */
typedef struct { uint16_t d; uint8_t qs[QK4_NL / 2]; } block_iq4_nl;                /* 18 bytes */
typedef struct { uint16_t d, scales_h; uint8_t scales_l[QK_K / 64]; uint8_t qs[QK_K / 2]; } block_iq4_xs; /* 136 */

/* The sixteen levels of IQ4_NL and IQ4_XS, ascending: a weight is its (sub-)block's scale
 * times IQ4_LEVELS[index]. They are closer together near zero, where most weights lie, and
 * run from -127 to 113 (a quantiser maps the block's largest magnitude onto -127). A
 * constant of the format, not stored in files. */
extern const int8_t IQ4_LEVELS[16];

#endif
