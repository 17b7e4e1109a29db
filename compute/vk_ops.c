/* vk_ops.c — kernels, device weights and op recording (see vk_ops.h). */
#include "vk_ops.h"
#include "error_msg.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* The storage types with a GPU kernel: shaders/types.def, which the Makefile also reads to
 * generate each type's matvec_, matmul_ and get_rows_ shaders. */
#define GPU_TYPE(T, UNIT) {GGML_TYPE_##T, #T, UNIT},
static const struct { uint32_t type; const char *name; uint32_t unit; } GPU_TYPES[] = {
#include "shaders/types.def"
};
#undef GPU_TYPE
#define N_GPU_TYPES (sizeof GPU_TYPES / sizeof GPU_TYPES[0])

uint32_t vk_type_unit(uint32_t type) {
    for (size_t i = 0; i < N_GPU_TYPES; i++)
        if (GPU_TYPES[i].type == type) return GPU_TYPES[i].unit;
    return 0;
}

/* "KERNEL_t": the name the Makefile gives KERNEL's shader for GPU_TYPES[I] (the type's
 * name in lower case). */
static const char *typed_kernel(char *buf, size_t cap, const char *kernel, size_t i) {
    snprintf(buf, cap, "%s_%s", kernel, GPU_TYPES[i].name);
    for (char *c = buf; *c; c++) *c = (char)tolower((unsigned char)*c);
    return buf;
}

/* Shared memory the matmul kernel needs for tiles T (its two padded tiles, plus the
 * reduction scratch every kernel declares in common.glsl). */
static uint32_t matmul_shared_bytes(const vk_matmul_tiles *t) {
    return (t->bk * (t->bm + 1) + t->bk * (t->bn + 1)) * 4 + 64 * 4;
}

static bool matmul_tiles_ok(const vk_runtime *rt, const vk_matmul_tiles *t) {
    if (!t->bm || !t->bn || !t->bk || !t->tm || !t->tn || t->bm % t->tm || t->bn % t->tn ||
        t->bk % 8 || t->tm * t->tn > 128 || t->bm > 256 || t->bn > 256 || t->bk > 128)
        return false;
    uint32_t wg = (t->bm / t->tm) * (t->bn / t->tn);
    return wg >= rt->subgroup_size && wg <= 256 && wg <= rt->props.limits.maxComputeWorkGroupInvocations &&
           wg <= rt->props.limits.maxComputeWorkGroupSize[0] &&
           matmul_shared_bytes(t) <= rt->props.limits.maxComputeSharedMemorySize;
}

/* Tiles for this device: large ones (8 x 8 outputs per invocation) where the workgroup
 * of four subgroups allows, else smaller; the tuning's own shape when it is valid. */
static vk_matmul_tiles pick_matmul_tiles(const vk_runtime *rt, uint32_t wg, const vk_matmul_tiles *want) {
    const vk_matmul_tiles choices[] = {
        wg >= 256 ? (vk_matmul_tiles){128, 128, 32, 8, 8} : wg >= 128 ? (vk_matmul_tiles){128, 64, 32, 8, 8}
                                                                      : (vk_matmul_tiles){64, 64, 32, 8, 8},
        {64, 64, 32, 8, 8}, {64, 32, 32, 8, 4}, {32, 32, 16, 4, 4},
    };
    if (want->bm && matmul_tiles_ok(rt, want)) return *want;
    for (size_t i = 0; i < sizeof choices / sizeof choices[0]; i++)
        if (matmul_tiles_ok(rt, &choices[i])) return choices[i];
    return choices[sizeof choices / sizeof choices[0] - 1];
}

/* A tuning value when it lies in [LO, HI], else FALLBACK. */
static uint32_t tuned(uint32_t want, uint32_t lo, uint32_t hi, uint32_t fallback) {
    return want >= lo && want <= hi ? want : fallback;
}

/* The workgroup size of every kernel but matmul. The kernels assume (docs/vulkan-
 * performance.md, "Subgroups and shared memory"): a multiple of the subgroup size, so
 * every subgroup is full (the matvec and lens lanes stride by gl_SubgroupSize); at most
 * 256 invocations, with subgroups of at least 4, so the per-subgroup partials fit the 64
 * of common.glsl and the 256 of attention.comp's out_part. */
static uint32_t pick_workgroup(const vk_runtime *rt, uint32_t want) {
    const uint32_t sg = rt->subgroup_size;
    uint32_t limit = rt->props.limits.maxComputeWorkGroupSize[0];
    if (limit > 256) limit = 256;
    /* Four subgroups per workgroup keeps the two-level reductions short on every vendor:
     * 64 invocations on lavapipe (subgroup 8) and Intel, 128 on NVIDIA, 256 on AMD. */
    uint32_t wg = sg * 4;
    wg = wg < 64 ? 64 : wg;
    while (wg > limit && wg > sg) wg /= 2;
    /* another size (the tests on lavapipe of the sizes GPUs get) */
    want = tuned(want, sg, limit, 0);
    if (want && want % sg == 0) wg = want;
    return wg;
}

int vk_kernels_create(vk_runtime *rt, vk_kernels *k, const vk_tuning *tuning, char *err, size_t errlen) {
    static const vk_tuning defaults = {0};
    if (!tuning) tuning = &defaults;
    memset(k, 0, sizeof *k);
    k->wg = pick_workgroup(rt, tuning->wg);
    if (k->wg % rt->subgroup_size || k->wg / rt->subgroup_size > 64)
        return err_fail(err, errlen, "%s: subgroups of %u do not fit a workgroup of %u", rt->props.deviceName,
                        rt->subgroup_size, k->wg);
    /* One row per subgroup on GPUs, which want many workgroups in flight; a CPU device
     * (lavapipe) runs workgroups one after another per core and pays a fixed cost for
     * each, so there every subgroup takes eight rows. The tuning may say otherwise (the
     * kernel is correct for any count: its subgroups take the rows in turn). */
    k->matvec_rows = k->wg / rt->subgroup_size;
    if (rt->props.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU) k->matvec_rows *= 8;
    k->matvec_rows = tuned(tuning->matvec_rows, 1, 256, k->matvec_rows);
    /* matvec: tokens per workgroup, and rows per workgroup = one per expected subgroup */
    const uint32_t mv_spec[2] = {VK_MATVEC_TOKENS, k->matvec_rows};
    const uint32_t chunk = VK_TOPK_CHUNK;
    /* matmul: the tile shape, and from how many tokens it beats the matvec kernel (which
     * reads the weights once per 8 tokens) */
    k->tiles = pick_matmul_tiles(rt, k->wg, &tuning->tiles);
    const uint32_t mm_spec[5] = {k->tiles.bm, k->tiles.bn, k->tiles.bk, k->tiles.tm, k->tiles.tn};
    const uint32_t mm_wg = (k->tiles.bm / k->tiles.tm) * (k->tiles.bn / k->tiles.tn);
    k->matmul_min = tuned(tuning->matmul_min, 1, UINT32_MAX, 16);
    /* Attention splits rows longer than this into chunks: on a GPU only long contexts,
     * where one workgroup per (token, head) leaves most of the chip idle and the merge
     * pass (one more dispatch and barrier per layer) pays for itself; on a CPU device
     * shorter ones, so that the tests exercise the split path. */
    k->attn_chunk = tuned(tuning->attn_chunk, 1, UINT32_MAX, rt->props.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU ? 128 : 1024);
    char name[64];
    for (size_t i = 0; i < N_GPU_TYPES; i++) {
        uint32_t t = GPU_TYPES[i].type;
        if (vk_kernel_create(rt, &k->matvec[t], typed_kernel(name, sizeof name, "matvec", i), 6, k->wg,
                             mv_spec, 2, err, errlen) ||
            vk_kernel_create(rt, &k->matmul[t], typed_kernel(name, sizeof name, "matmul", i), 6, mm_wg,
                             mm_spec, 5, err, errlen) ||
            vk_kernel_create(rt, &k->get_rows[t], typed_kernel(name, sizeof name, "get_rows", i), 3, k->wg,
                             NULL, 0, err, errlen))
            return -1;
    }
    if (vk_kernel_create(rt, &k->rmsnorm, "rmsnorm", 3, k->wg, NULL, 0, err, errlen) ||
        vk_kernel_create(rt, &k->layernorm, "layernorm", 3, k->wg, NULL, 0, err, errlen) ||
        vk_kernel_create(rt, &k->rope, "rope", 2, k->wg, NULL, 0, err, errlen) ||
        vk_kernel_create(rt, &k->attention, "attention", 8, k->wg, NULL, 0, err, errlen) ||
        vk_kernel_create(rt, &k->attention_merge, "attention_merge", 5, k->wg, NULL, 0, err, errlen) ||
        vk_kernel_create(rt, &k->glu, "glu", 3, k->wg, NULL, 0, err, errlen) ||
        vk_kernel_create(rt, &k->softcap, "softcap", 1, k->wg, NULL, 0, err, errlen) ||
        vk_kernel_create(rt, &k->ple_gate, "ple_gate", 2, k->wg, NULL, 0, err, errlen) ||
        vk_kernel_create(rt, &k->scale, "scale", 2, k->wg, NULL, 0, err, errlen) ||
        vk_kernel_create(rt, &k->add, "add", 3, k->wg, NULL, 0, err, errlen) ||
        vk_kernel_create(rt, &k->gelu, "gelu", 2, k->wg, NULL, 0, err, errlen) ||
        vk_kernel_create(rt, &k->topk_partial, "topk_partial", 2, k->wg, &chunk, 1, err, errlen) ||
        vk_kernel_create(rt, &k->topk_merge, "topk_merge", 2, k->wg, NULL, 0, err, errlen) ||
        vk_kernel_create(rt, &k->lens, "lens", 4, k->wg, NULL, 0, err, errlen) ||
        vk_kernel_create(rt, &k->lens_rank, "lens_rank", 3, k->wg, &chunk, 1, err, errlen) ||
        vk_kernel_create(rt, &k->moe_route, "moe_route", 2, k->wg, NULL, 0, err, errlen) ||
        vk_kernel_create(rt, &k->moe_combine, "moe_combine", 5, k->wg, NULL, 0, err, errlen))
        return -1;
    return 0;
}

void vk_kernels_destroy(vk_runtime *rt, vk_kernels *k) {
    for (int t = 0; t < GGML_TYPE_COUNT_; t++) {
        vk_kernel_destroy(rt, &k->matvec[t]);
        vk_kernel_destroy(rt, &k->matmul[t]);
        vk_kernel_destroy(rt, &k->get_rows[t]);
    }
    vk_kernel *others[] = {&k->rmsnorm, &k->layernorm, &k->rope, &k->attention, &k->attention_merge, &k->glu, &k->softcap, &k->ple_gate, &k->scale,
                           &k->add, &k->gelu, &k->topk_partial, &k->topk_merge, &k->lens, &k->lens_rank,
                           &k->moe_route, &k->moe_combine};
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) vk_kernel_destroy(rt, others[i]);
}

/* --- weights ----------------------------------------------------------------------- */

int vk_weight_upload(vk_runtime *rt, vk_buffer *staging, const weight *w, vk_weight *out,
                     char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    uint32_t unit = vk_type_unit(w->type);
    if (!unit)
        return err_fail(err, errlen, "tensor '%s': type %s has no Vulkan kernel", w->name,
                        ggml_type_name(w->type));
    /* Quantized rows are whole blocks (a multiple of the unit); float rows may end in a
     * partial unit, but 16-bit rows must start on a 4-byte boundary (an even length). */
    bool is_float = w->type == GGML_TYPE_F32 || w->type == GGML_TYPE_F16 || w->type == GGML_TYPE_BF16;
    if (w->cols <= 0 || w->rows <= 0 || (is_float ? w->row_bytes % 4 != 0 : w->cols % unit != 0) ||
        w->cols > UINT32_MAX || w->rows > INT32_MAX || w->row_bytes > UINT32_MAX)
        return err_fail(err, errlen, "tensor '%s': shape %lld x %lld (%s) is not supported by the Vulkan "
                        "backend", w->name, (long long)w->rows, (long long)w->cols, ggml_type_name(w->type));
    /* A part is as many whole rows as one buffer binding (and allocation) may hold;
     * byte offsets inside a part stay below 4 GiB so the shaders' 32-bit math holds. */
    VkDeviceSize limit = rt->max_range < rt->max_alloc ? rt->max_range : rt->max_alloc;
    if (limit > 0xffff0000ull) limit = 0xffff0000ull;
    uint64_t rows_per_part = limit / w->row_bytes & ~(uint64_t)1; /* even: see vk_ops.h */
    if (rows_per_part == 0)
        return err_fail(err, errlen, "tensor '%s': one row (%llu bytes) exceeds the device's buffer limit",
                        w->name, (unsigned long long)w->row_bytes);
    out->type = w->type;
    out->cols = (uint32_t)w->cols;
    out->rows = (uint32_t)w->rows;
    out->row_bytes = (uint32_t)w->row_bytes;
    out->n_parts = (int)((w->rows + rows_per_part - 1) / rows_per_part);
    out->parts = calloc((size_t)out->n_parts, sizeof *out->parts);
    if (!out->parts) return err_fail(err, errlen, "out of memory");
    for (int i = 0; i < out->n_parts; i++) {
        vk_weight_part *p = &out->parts[i];
        p->row0 = (uint32_t)(i * rows_per_part);
        p->rows = (uint32_t)((w->rows - p->row0) < (int64_t)rows_per_part ? w->rows - p->row0 : (int64_t)rows_per_part);
        size_t bytes = (size_t)p->rows * w->row_bytes;
        if (vk_buffer_create(rt, &p->buf, bytes, VK_MEM_DEVICE, w->name, err, errlen) ||
            vk_upload(rt, staging, &p->buf, 0, (const uint8_t *)w->data + (size_t)p->row0 * w->row_bytes,
                      bytes, err, errlen)) {
            vk_weight_free(rt, out);
            return -1;
        }
    }
    return 0;
}

int vk_weight_upload_rows(vk_runtime *rt, vk_buffer *staging, const weight *const *srcs, int n_src,
                          const uint32_t *map, uint32_t rows, vk_weight *out, char *err, size_t errlen) {
    const weight *w0 = srcs[0];
    for (int i = 1; i < n_src; i++)
        if (srcs[i]->type != w0->type || srcs[i]->cols != w0->cols || srcs[i]->row_bytes != w0->row_bytes)
            return err_fail(err, errlen, "tensors '%s' and '%s' differ in type or width", w0->name, srcs[i]->name);
    for (uint32_t r = 0; r < rows; r++)
        if (map[2 * r] >= (uint32_t)n_src || map[2 * r + 1] >= (uint64_t)srcs[map[2 * r]]->rows)
            return err_fail(err, errlen, "internal error: row map of '%s' out of range", w0->name);
    /* a host copy of the assembled matrix, uploaded as one tensor */
    size_t bytes = (size_t)rows * w0->row_bytes;
    uint8_t *data = malloc(bytes ? bytes : 1);
    if (!data) return err_fail(err, errlen, "out of memory assembling '%s'", w0->name);
    for (uint32_t r = 0; r < rows; r++)
        memcpy(data + (size_t)r * w0->row_bytes,
               (const uint8_t *)srcs[map[2 * r]]->data + (size_t)map[2 * r + 1] * w0->row_bytes, w0->row_bytes);
    weight w = *w0;
    w.rows = rows;
    w.data = data;
    int rc = vk_weight_upload(rt, staging, &w, out, err, errlen);
    free(data);
    return rc;
}

void vk_weight_free(vk_runtime *rt, vk_weight *w) {
    for (int i = 0; w->parts && i < w->n_parts; i++) vk_buffer_destroy(rt, &w->parts[i].buf);
    free(w->parts);
    memset(w, 0, sizeof *w);
}

float *vk_rope_table(int n_ctx, const rope_desc *r, const float *factors) {
    const int half = r->dim / 2;
    float *t = malloc((size_t)n_ctx * (size_t)(half > 0 ? half : 1) * 2 * sizeof *t);
    if (!t) return NULL;
    for (int i = 0; i < half; i++)
        for (int pos = 0; pos < n_ctx; pos++) /* the bits op_rope uses */
            rope_cos_sin(r, factors, pos, i, &t[((size_t)pos * half + i) * 2], &t[((size_t)pos * half + i) * 2 + 1]);
    return t;
}

/* --- recording --------------------------------------------------------------------- */

static uint32_t div_up(uint32_t a, uint32_t b) { return (a + b - 1) / b; }

/* COUNT workgroups, folded over x and z. */
static void dispatch_folded(vk_runtime *rt, const vk_kernel *k, VkDescriptorSet set,
                            const void *push, size_t bytes, uint32_t count, uint32_t gy) {
    uint32_t gx, gz;
    vk_fold_groups(count, &gx, &gz);
    vk_dispatch(rt, k, set, push, bytes, gx, gy, gz);
}

void vk_op_matvec(vk_runtime *rt, const vk_kernels *k, uint32_t type, VkDescriptorSet set,
                  const vk_matvec_push *p) {
    uint32_t items = p->flags & (VK_MATVEC_ROPE | VK_MATVEC_GLU) ? p->rows / 2 : p->rows;
    dispatch_folded(rt, &k->matvec[type], set, p, sizeof *p, div_up(items, k->matvec_rows),
                    p->flags & VK_MATVEC_EXPERTS ? p->n : div_up(p->n, VK_MATVEC_TOKENS));
}

void vk_op_matmul(vk_runtime *rt, const vk_kernels *k, uint32_t type, VkDescriptorSet set,
                  const vk_matvec_push *p) {
    dispatch_folded(rt, &k->matmul[type], set, p, sizeof *p, div_up(p->rows, k->tiles.bm),
                    div_up(p->n, k->tiles.bn));
}

void vk_op_matrix(vk_runtime *rt, const vk_kernels *k, uint32_t type, VkDescriptorSet set,
                  const vk_matvec_push *p) {
    if (p->n >= k->matmul_min && !(p->flags & VK_MATVEC_FUSED)) vk_op_matmul(rt, k, type, set, p);
    else vk_op_matvec(rt, k, type, set, p);
}

void vk_op_get_rows(vk_runtime *rt, const vk_kernels *k, uint32_t type, VkDescriptorSet set,
                    const vk_get_rows_push *p) {
    vk_dispatch(rt, &k->get_rows[type], set, p, sizeof *p, p->n, 1, 1);
}

void vk_op_rmsnorm(vk_runtime *rt, const vk_kernels *k, VkDescriptorSet set, const vk_rmsnorm_push *p) {
    dispatch_folded(rt, &k->rmsnorm, set, p, sizeof *p, p->n, 1);
}

void vk_op_layernorm(vk_runtime *rt, const vk_kernels *k, VkDescriptorSet set, const vk_layernorm_push *p) {
    dispatch_folded(rt, &k->layernorm, set, p, sizeof *p, p->n, 1);
}

void vk_op_rope(vk_runtime *rt, const vk_kernels *k, VkDescriptorSet set, const vk_rope_push *p) {
    uint32_t threads = p->n_tokens * p->n_heads * (p->rope_dim / 2);
    dispatch_folded(rt, &k->rope, set, p, sizeof *p, div_up(threads, k->wg), 1);
}

void vk_attention_split(const vk_kernels *k, uint32_t pos, uint32_t n_tokens, uint32_t *chunk,
                        uint32_t *n_chunks) {
    uint32_t n_kv = pos + n_tokens; /* the last token's keys: the longest row */
    if (n_tokens > VK_ATTN_SPLIT_MAX_TOKENS || n_kv <= k->attn_chunk) {
        *chunk = n_kv;
        *n_chunks = 1;
        return;
    }
    uint32_t c = k->attn_chunk;
    if (div_up(n_kv, c) > VK_ATTN_MAX_CHUNKS) c = div_up(n_kv, VK_ATTN_MAX_CHUNKS);
    *chunk = c;
    *n_chunks = div_up(n_kv, c);
}

size_t vk_attention_part_floats(const vk_kernels *k, uint32_t n_ctx, uint32_t n_head, uint32_t head_dim) {
    uint32_t chunks = div_up(n_ctx, k->attn_chunk);
    if (chunks > VK_ATTN_MAX_CHUNKS) chunks = VK_ATTN_MAX_CHUNKS;
    return (size_t)VK_ATTN_SPLIT_MAX_TOKENS * n_head * chunks * (2 + head_dim);
}

void vk_op_attention(vk_runtime *rt, const vk_kernels *k, VkDescriptorSet set, VkDescriptorSet merge_set,
                     const vk_attention_push *p, uint32_t n_tokens, uint32_t n_head) {
    vk_attention_push q = *p;
    vk_attention_split(k, p->pos, n_tokens, &q.chunk, &q.n_chunks);
    vk_dispatch(rt, &k->attention, set, &q, sizeof q, q.n_chunks, n_head, n_tokens);
    if (q.n_chunks > 1) {
        vk_barrier(rt);
        vk_dispatch(rt, &k->attention_merge, merge_set, &q, sizeof q, n_head, n_tokens, 1);
    }
}

void vk_op_glu(vk_runtime *rt, const vk_kernels *k, VkDescriptorSet set, const vk_glu_push *p) {
    dispatch_folded(rt, &k->glu, set, p, sizeof *p, div_up(p->n, k->wg), 1);
}

void vk_op_softcap(vk_runtime *rt, const vk_kernels *k, VkDescriptorSet set, const vk_softcap_push *p) {
    dispatch_folded(rt, &k->softcap, set, p, sizeof *p, div_up(p->n, k->wg), 1);
}

void vk_op_ple_gate(vk_runtime *rt, const vk_kernels *k, VkDescriptorSet set, const vk_ple_gate_push *p) {
    dispatch_folded(rt, &k->ple_gate, set, p, sizeof *p, div_up(p->n_tokens * p->width, k->wg), 1);
}

void vk_op_scale(vk_runtime *rt, const vk_kernels *k, VkDescriptorSet set, const vk_scale_push *p) {
    dispatch_folded(rt, &k->scale, set, p, sizeof *p, div_up(p->n, k->wg), 1);
}

void vk_op_add(vk_runtime *rt, const vk_kernels *k, VkDescriptorSet set, const vk_binary_push *p) {
    dispatch_folded(rt, &k->add, set, p, sizeof *p, div_up(p->n, k->wg), 1);
}

void vk_op_gelu(vk_runtime *rt, const vk_kernels *k, VkDescriptorSet set, const vk_gelu_push *p) {
    dispatch_folded(rt, &k->gelu, set, p, sizeof *p, div_up(p->n, k->wg), 1);
}

uint32_t vk_topk_chunks(uint32_t n_vocab) { return div_up(n_vocab, VK_TOPK_CHUNK); }

void vk_op_topk(vk_runtime *rt, const vk_kernels *k, VkDescriptorSet partial_set,
                VkDescriptorSet merge_set, uint32_t n_vocab, uint32_t row_stride,
                uint32_t n_rows, uint32_t top_k) {
    vk_op_topk_at(rt, k, partial_set, merge_set, n_vocab, row_stride, 0, n_rows, top_k);
}

void vk_op_topk_at(vk_runtime *rt, const vk_kernels *k, VkDescriptorSet partial_set,
                   VkDescriptorSet merge_set, uint32_t n_vocab, uint32_t row_stride, uint32_t row_off,
                   uint32_t n_rows, uint32_t top_k) {
    uint32_t n_chunks = vk_topk_chunks(n_vocab);
    vk_topk_partial_push pp = {n_vocab, row_stride, top_k, n_chunks, row_off};
    vk_dispatch(rt, &k->topk_partial, partial_set, &pp, sizeof pp, n_chunks, n_rows, 1);
    vk_barrier(rt);
    vk_topk_merge_push mp = {top_k, n_chunks};
    vk_dispatch(rt, &k->topk_merge, merge_set, &mp, sizeof mp, n_rows, 1, 1);
}

void vk_op_lens(vk_runtime *rt, const vk_kernels *k, VkDescriptorSet set, const vk_lens_push *p,
                uint32_t n_entries) {
    vk_dispatch(rt, &k->lens, set, p, sizeof *p, n_entries, 1, 1);
}

void vk_op_lens_rank(vk_runtime *rt, const vk_kernels *k, VkDescriptorSet set, const vk_lens_rank_push *p,
                     uint32_t n_entries) {
    vk_dispatch(rt, &k->lens_rank, set, p, sizeof *p, div_up(p->n_valid, VK_TOPK_CHUNK), n_entries, 1);
}

void vk_op_moe_route(vk_runtime *rt, const vk_kernels *k, VkDescriptorSet set, const vk_moe_route_push *p,
                     uint32_t n_tokens) {
    dispatch_folded(rt, &k->moe_route, set, p, sizeof *p, n_tokens, 1);
}

void vk_op_moe_combine(vk_runtime *rt, const vk_kernels *k, VkDescriptorSet set, const vk_moe_combine_push *p) {
    dispatch_folded(rt, &k->moe_combine, set, p, sizeof *p, div_up(p->n * p->dim, k->wg), 1);
}
