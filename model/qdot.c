/* qdot.c — which instruction set runs qdot.h's products, and the parts that do not
 * depend on it (see qdot.h; the kernels are in qdot_plain.c, qdot_avx2.c and
 * qdot_avx512.c, one binary for every x86-64 processor). */
#include "qdot.h"
#include "qdot_blocks.h"
#include "qdot_impl.h"

#include <stdlib.h>
#include <string.h>

static const char *const ISA_NAMES[QDOT_ISA_COUNT] = {"plain", "avx2", "avx512", "amx"};

const char *qdot_isa_name(qdot_isa isa) {
    return isa >= 0 && isa < QDOT_ISA_COUNT ? ISA_NAMES[isa] : "unknown";
}

bool qdot_isa_available(qdot_isa isa) {
    switch (isa) {
    case QDOT_PLAIN: return true;
#ifdef QDOT_HAVE_X86
    case QDOT_AVX2:
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
               __builtin_cpu_supports("f16c");
    case QDOT_AVX512:
        return qdot_isa_available(QDOT_AVX2) && __builtin_cpu_supports("avx512f") &&
               __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
               __builtin_cpu_supports("avx512vnni");
    case QDOT_AMX:
        return qdot_amx_ops.amx_ready && qdot_isa_available(QDOT_AVX512) &&
               __builtin_cpu_supports("amx-tile") && __builtin_cpu_supports("amx-int8") &&
               qdot_amx_ops.amx_ready();
#endif
    default: return false;
    }
}

qdot_isa qdot_best_isa(const char *want) {
    qdot_isa best = QDOT_PLAIN;
    for (int i = 0; i < QDOT_ISA_COUNT; i++)
        if (qdot_isa_available((qdot_isa)i)) best = (qdot_isa)i;
    for (int i = 0; want && i < QDOT_ISA_COUNT; i++)
        if (strcmp(want, ISA_NAMES[i]) == 0 && i <= (int)best) return (qdot_isa)i;
    return best;
}

static const qdot_isa_ops *ops(qdot_isa isa) {
#ifdef QDOT_HAVE_X86
    if (isa == QDOT_AMX) return &qdot_amx_ops;
    if (isa == QDOT_AVX512) return &qdot_avx512_ops;
    if (isa == QDOT_AVX2) return &qdot_avx2_ops;
#endif
    (void)isa;
    return &qdot_plain_ops;
}

static bool is_float(uint32_t type) {
    return type == GGML_TYPE_F32 || type == GGML_TYPE_F16 || type == GGML_TYPE_BF16;
}

bool qdot_needs_acts(uint32_t type) {
#define QDOT_IS(t, btype, block, sub, has_min, dec) if (type == t) return true;
    QDOT_TYPES(QDOT_IS)
#undef QDOT_IS
    return false;
}

bool qdot_supports(uint32_t type) { return is_float(type) || qdot_needs_acts(type); }

size_t qdot_acts_bytes(int n, int64_t cols) {
    const size_t per = (size_t)n * (size_t)(cols / 32);
    return qdot_round64((size_t)n * (size_t)cols) + 3 * qdot_round64(per * sizeof(float)) +
           2 * qdot_round64(2 * per * sizeof(float)) + 64;
}

void qdot_acts_init(qdot_acts *a, void *mem, int n, int64_t cols) {
    const size_t per = (size_t)n * (size_t)(cols / 32);
    uint8_t *p = mem;
    a->n = n;
    a->cols = cols;
    a->q = (int8_t *)p;
    p += qdot_round64((size_t)n * (size_t)cols);
    a->d = (float *)(void *)p;
    p += qdot_round64(per * sizeof(float));
    a->sum32 = (float *)(void *)p;
    p += qdot_round64(per * sizeof(float));
    a->bias32 = (int32_t *)(void *)p; /* same size as a float */
    p += qdot_round64(per * sizeof(float));
    a->sum16 = (float *)(void *)p;
    p += qdot_round64(2 * per * sizeof(float));
    a->bias16 = (int32_t *)(void *)p;
}

void qdot_quantize(qdot_isa isa, const float *x, const qdot_acts *a) { ops(isa)->quantize(x, a); }

size_t qdot_scratch_bytes(int64_t cols) { return qdot_scratch_size(cols); }

void qdot_rows(qdot_isa isa, const weight *w, const float *x, const qdot_acts *xa, float *y,
               int n, int64_t row_begin, int64_t row_end, void *scratch) {
    if (row_begin >= row_end || n <= 0) return;
    if (is_float(w->type))
        ops(isa)->rows_float(w, x, y, n, row_begin, row_end);
    else
        ops(isa)->rows_quant(w, xa, y, n, row_begin, row_end, scratch);
}

