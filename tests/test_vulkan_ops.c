/* test_vulkan_ops.c — every shader against the plain C function of the same name
 * (model/ops.h, model/quant.c), on random inputs and on real tensors of every storage
 * type from ../shared/models/llama-k-tiny-*.gguf.
 *
 * Tolerances: the shaders compute the same f32 expressions as the C reference, but sum
 * in another order (and a GPU compiler may fuse a*b+c): a sum of n products is compared
 * within 1e-5 of the sum of their magnitudes, element-wise operations within a few ulp.
 * When no Vulkan device exists every test SKIPs. Any validation-layer error fails. */
#include "deltanet.h"
#include "model.h"
#include "ops.h"
#include "quant.h"
#include "test.h"
#include "test_vulkan.h"
#include "vk_deltanet.h"
#include "vk_ops.h"
#include "vk_runtime.h"

#include <stdint.h>

/* One runtime for the whole binary (tests only): created by the first test, NULL when
 * this machine has no Vulkan device. */
typedef struct gpu {
    vk_runtime rt;
    vk_kernels k;
    vk_dn_kernels dk;
    vk_buffer staging;
    VkDescriptorPool pool;
} gpu;
static gpu *G;
static char gpu_error[512];
static unsigned long long rng_state = 0x9e3779b97f4a7c15ull;

static float frand(void) { /* uniform in [-1, 1) */
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((rng_state >> 40) / (double)(1ull << 24)) * 2.0f - 1.0f;
}

static void fill(float *x, size_t n, float scale) {
    for (size_t i = 0; i < n; i++) x[i] = frand() * scale;
}

static bool gpu_ready(void) {
    if (!G && !gpu_error[0]) {
        G = calloc(1, sizeof *G);
        char err[512];
        vk_engine_options vo = vk_options_from_env(-1, false);
        if (vk_runtime_init(&G->rt, -1, &vo.rt, err, sizeof err) || vk_kernels_create(&G->rt, &G->k, &vo.tuning, err, sizeof err) ||
            vk_dn_kernels_create(&G->rt, G->k.wg, &G->dk, err, sizeof err) ||
            vk_buffer_create(&G->rt, &G->staging, 1 << 20, VK_MEM_UPLOAD, "staging", err, sizeof err) ||
            vk_pool_create(&G->rt, 256, &G->pool, err, sizeof err)) {
            snprintf(gpu_error, sizeof gpu_error, "no Vulkan device: %.480s", err);
            vk_runtime_free(&G->rt);
            free(G);
            G = NULL;
        }
    }
    if (!G) {
        snprintf(test_skip_reason_, sizeof test_skip_reason_, "%s", gpu_error);
        test_skipped_ = 1;
    }
    return G != NULL;
}

/* A host-visible buffer of N floats holding DATA (or zeros). */
static vk_buffer *buf(const void *data, size_t bytes) {
    vk_buffer *b = calloc(1, sizeof *b);
    char err[512];
    if (vk_buffer_create(&G->rt, b, bytes, VK_MEM_UPLOAD, "test buffer", err, sizeof err)) {
        CHECKF(0, "%s", err);
        free(b);
        return NULL;
    }
    if (data) memcpy(b->map, data, bytes);
    else memset(b->map, 0, bytes);
    return b;
}

static void buf_free(vk_buffer *b) {
    if (b) vk_buffer_destroy(&G->rt, b);
    free(b);
}

static VkDescriptorSet set_of8(int n, vk_buffer *a, vk_buffer *b, vk_buffer *c, vk_buffer *d,
                               vk_buffer *e, vk_buffer *f, vk_buffer *g, vk_buffer *h) {
    vk_buffer *bufs[8] = {a, b, c, d, e, f, g, h};
    VkDescriptorSet s = VK_NULL_HANDLE;
    char err[512];
    CHECKF(vk_set_create(&G->rt, G->pool, n, bufs, &s, err, sizeof err) == 0, "%s", err);
    return s;
}
#define set_of7(n, a, b, c, d, e, f, g) set_of8(n, a, b, c, d, e, f, g, NULL)
#define set_of(n, a, b, c, d, e, f) set_of7(n, a, b, c, d, e, f, NULL)

/* Starts recording (with a fresh descriptor pool: each check allocates its few sets). */
static bool begin(void) {
    char err[512];
    G->rt.vk.DestroyDescriptorPool(G->rt.dev, G->pool, NULL);
    bool ok = vk_pool_create(&G->rt, 256, &G->pool, err, sizeof err) == 0 &&
              vk_begin(&G->rt, err, sizeof err) == 0;
    CHECKF(ok, "%s", err);
    return ok;
}

/* Submits and waits; false (and a failure) on an error or any validation error. */
static bool submit(void) {
    char err[512];
    bool ok = vk_submit(&G->rt, err, sizeof err) == 0;
    CHECKF(ok, "%s", err);
    CHECKF(G->rt.validation_errors == 0, "Vulkan validation errors: %d (first: %s)",
           G->rt.validation_errors, G->rt.first_validation_error);
    return ok && G->rt.validation_errors == 0;
}

static double max_err(const float *got, const float *want, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - want[i]);
        if (d > m || d != d) m = d != d ? INFINITY : d;
    }
    return m;
}

/* ---- matrix-vector products on real tensors ---------------------------------------- */

/* The tiled matrix-matrix kernel with tile shape T instead of the device's choice, in a
 * copy of the kernel table (NULL when T is not valid here). */
typedef struct matmul_variant {
    vk_kernels k;
    vk_kernel kernel;
} matmul_variant;

/* Checks y = W x on the GPU for N vectors against op_matmul, each output within 1e-5 of
 * sum |w_i x_i| (computed here from the reference dequantisation), by the matvec kernel,
 * or by the matmul kernel (of the device's tile shape, or of VARIANT's when given). */
static void check_product(const weight *w, int n, bool matmul, const matmul_variant *variant) {
    const int64_t rows = w->rows, cols = w->cols;
    float *x = malloc((size_t)(n * cols) * sizeof *x), *want = malloc((size_t)(n * rows) * sizeof *want);
    float *row = malloc((size_t)cols * sizeof *row), *mag = malloc((size_t)(n * rows) * sizeof *mag);
    fill(x, (size_t)(n * cols), 1.0f);
    op_matmul(w, x, want, n);
    for (int64_t r = 0; r < rows; r++) {
        weight_row(w, r, row);
        for (int t = 0; t < n; t++) {
            double s = 0;
            for (int64_t c = 0; c < cols; c++) s += fabs((double)row[c] * x[t * cols + c]);
            mag[t * rows + r] = (float)s;
        }
    }
    vk_weight vw;
    char err[512];
    if (vk_weight_upload(&G->rt, &G->staging, w, &vw, err, sizeof err)) {
        CHECKF(0, "%s", err);
    } else {
        vk_buffer *bx = buf(x, (size_t)(n * cols) * 4), *by = buf(NULL, (size_t)(n * rows) * 4);
        float zero = 0;
        vk_buffer *bp = buf(&zero, 4);
        if (bx && by && bp && begin()) {
            for (int i = 0; i < vw.n_parts; i++) {
                VkDescriptorSet s = set_of(6, &vw.parts[i].buf, bx, by, bp, bp, bp); /* no rope table, no routing: any buffer */
                vk_matvec_push p = {.cols = (uint32_t)cols, .rows = vw.parts[i].rows, .row0 = 0,
                                    .n = (uint32_t)n, .x_off = 0, .x_stride = (uint32_t)cols,
                                    .y_off = vw.parts[i].row0, .y_stride = (uint32_t)rows,
                                    .row_bytes = vw.row_bytes};
                if (!matmul) vk_op_matvec(&G->rt, &G->k, vw.type, s, &p);
                else vk_op_matmul(&G->rt, variant ? &variant->k : &G->k, vw.type, s, &p);
            }
            memset(by->map, 0x7f, by->size); /* unwritten outputs would show */
            if (submit()) {
                const float *got = by->map;
                int bad = 0;
                for (int64_t i = 0; i < n * rows && bad < 5; i++)
                    if (!(fabs((double)got[i] - want[i]) <= 1e-5 * mag[i] + 1e-30)) {
                        CHECKF(0, "%s (%s) n=%d %s: y[%lld] = %.9g, expected %.9g (scale %g)", w->name,
                               ggml_type_name(w->type), n, matmul ? "matmul" : "matvec", (long long)i,
                               got[i], want[i], mag[i]);
                        bad++;
                    }
            }
        }
        buf_free(bx), buf_free(by), buf_free(bp);
        vk_weight_free(&G->rt, &vw);
    }
    free(x), free(want), free(row), free(mag);
}

/* Embedding lookup: GPU rows against weight_row (the reference dequantisation). */
static void check_get_rows(const weight *w) {
    const int n = 5;
    const int64_t cols = w->cols;
    int32_t ids[5] = {0, (int32_t)(w->rows - 1), (int32_t)(w->rows / 2), 3, (int32_t)(w->rows / 3)};
    float *want = malloc((size_t)cols * sizeof *want);
    vk_weight vw;
    char err[512];
    if (vk_weight_upload(&G->rt, &G->staging, w, &vw, err, sizeof err)) {
        CHECKF(0, "%s", err);
        free(want);
        return;
    }
    vk_buffer *bi = buf(ids, sizeof ids), *by = buf(NULL, (size_t)(n * cols) * 4);
    if (bi && by && begin()) {
        for (int i = 0; i < vw.n_parts; i++) {
            VkDescriptorSet s = set_of(3, &vw.parts[i].buf, bi, by, NULL, NULL, NULL);
            vk_get_rows_push p = {.cols = (uint32_t)cols, .n = n, .row_bytes = vw.row_bytes,
                                  .part_row0 = vw.parts[i].row0, .part_rows = vw.parts[i].rows,
                                  .y_stride = (uint32_t)cols};
            vk_op_get_rows(&G->rt, &G->k, vw.type, s, &p);
        }
        if (submit())
            for (int t = 0; t < n; t++) {
                weight_row(w, ids[t], want);
                double scale = 0;
                for (int64_t c = 0; c < cols; c++) scale = fabs(want[c]) > scale ? fabs(want[c]) : scale;
                double e = max_err((const float *)by->map + t * cols, want, (size_t)cols);
                /* exact but for a possible fused multiply-add in d*q - m */
                CHECKF(e <= 1e-6 * scale, "%s (%s) row %d: error %g (row scale %g)", w->name,
                       ggml_type_name(w->type), ids[t], e, scale);
            }
    }
    buf_free(bi), buf_free(by);
    vk_weight_free(&G->rt, &vw);
    free(want);
}

/* For each storage type: the first two matrices of that type found in the llama-k-tiny
 * files (q4_k_m and q5_k_m mix in q6_K and q5_K tensors). */
static void test_matvec_real_tensors(void) {
    if (!gpu_ready()) return;
    static const char *files[] = {"f32", "f16", "bf16", "q8_0", "q4_0", "q4_k_m", "q5_k_m", "q6_k", "iq4_nl", "iq4_xs"};
    static const uint32_t types[] = {GGML_TYPE_F32, GGML_TYPE_F16, GGML_TYPE_BF16, GGML_TYPE_Q8_0,
                                     GGML_TYPE_Q4_0, GGML_TYPE_Q4_K, GGML_TYPE_Q5_K, GGML_TYPE_Q6_K,
                                     GGML_TYPE_IQ4_NL, GGML_TYPE_IQ4_XS};
    enum { N_TYPES = sizeof types / sizeof types[0] };
    int seen[N_TYPES] = {0};
    bool any = false;
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        char rel[128], path[512], err[512];
        snprintf(rel, sizeof rel, "models/llama-k-tiny-%s.gguf", files[f]);
        if (!test_shared_path(path, sizeof path, rel)) continue;
        model m;
        if (model_load(&m, path, err, sizeof err)) {
            CHECKF(0, "%s", err);
            continue;
        }
        any = true;
        const weight *ws[] = {&m.layers[0].wq, &m.layers[0].wk, &m.layers[0].wv, &m.layers[0].wo,
                              &m.layers[0].ffn_gate, &m.layers[0].ffn_up, &m.layers[0].ffn_down,
                              &m.layers[1].ffn_down, &m.layers[1].wv, &m.output, &m.token_embd};
        for (size_t i = 0; i < sizeof ws / sizeof ws[0]; i++)
            for (size_t t = 0; t < N_TYPES; t++)
                if (ws[i]->data && ws[i]->type == types[t] && seen[t] < 2) {
                    seen[t]++;
                    check_product(ws[i], 1, false, NULL);
                    check_product(ws[i], 11, false, NULL); /* one full block of 8 and a partial one */
                    check_product(ws[i], 70, true, NULL);  /* a full tile of tokens and a partial one */
                    check_get_rows(ws[i]);
                }
        model_free(&m);
    }
    if (!any) SKIP("../shared/models/llama-k-tiny-*.gguf not found");
    for (size_t t = 0; t < N_TYPES; t++) CHECKF(seen[t] > 0, "no %s tensor was tested", ggml_type_name(types[t]));
}

/* The types no llama-k-tiny file holds: Q4_1, Q5_0, Q5_1 (what llama.cpp writes for rows
 * that K-quants cannot take), Q2_K and Q3_K; IQ4_NL and IQ4_XS, whose files hold only
 * the quants llama.cpp's quantizer chose; and MXFP4 (gpt-oss's experts: 17-byte blocks, so
 * rows of an odd number of blocks start at every byte offset mod 4). Random blocks, so
 * every quant bit pattern occurs (every IQ4_XS sub-block scale too), with fp16 scales (and
 * offsets or mins) of both signs at their places in the block. Q5_0's 22-, IQ4_NL's 18-
 * and Q3_K's 110-byte blocks make every other row (of an odd number of blocks), and every
 * other block, start at a byte offset of 2 mod 4; 37 rows give partial row groups. Each
 * product within the tolerance above against op_matmul, each looked-up row against
 * weight_row. */
static void test_matvec_other_types(void) {
    if (!gpu_ready()) return;
    static const struct { uint32_t type; int n_halves; uint32_t halves[2]; int64_t widths[2]; } cases[] = {
        {GGML_TYPE_Q4_1, 2, {0, 2}, {544, 896}},  {GGML_TYPE_Q5_0, 1, {0}, {544, 896}},
        {GGML_TYPE_Q5_1, 2, {0, 2}, {544, 896}},  {GGML_TYPE_Q2_K, 2, {80, 82}, {768, 2048}},
        {GGML_TYPE_Q3_K, 1, {108}, {768, 2048}},  {GGML_TYPE_IQ4_NL, 1, {0}, {544, 896}},
        {GGML_TYPE_IQ4_XS, 1, {0}, {768, 2048}}, {GGML_TYPE_MXFP4, 0, {0}, {544, 2880}}};
    for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++)
        for (size_t c = 0; c < 2; c++) {
            const int64_t rows = 37, cols = cases[t].widths[c];
            uint64_t rb = 0;
            CHECK(ggml_row_bytes(cases[t].type, (uint64_t)cols, &rb));
            const uint32_t bb = ggml_block_bytes(cases[t].type);
            uint8_t *data = malloc((size_t)(rb * rows));
            for (size_t i = 0; i < rb * rows; i++) data[i] = (uint8_t)(frand() * 128 + 128);
            for (size_t b = 0; b < rb * rows / bb; b++)
                for (int k = 0; k < cases[t].n_halves; k++) {
                    uint16_t h = f32_to_fp16(frand() * (k ? 0.5f : 0.05f));
                    memcpy(data + b * bb + cases[t].halves[k], &h, 2);
                }
            if (cases[t].type == GGML_TYPE_MXFP4) /* E8M0 scales 2^-10 .. 2^1 */
                for (size_t b = 0; b < rb * rows / bb; b++) data[b * bb] = (uint8_t)(117 + (int)(frand() * 6 + 6));
            char name[32];
            snprintf(name, sizeof name, "random %lld", (long long)cols);
            weight w = {.name = name, .type = cases[t].type, .cols = cols, .rows = rows, .data = data, .row_bytes = rb};
            check_product(&w, 1, false, NULL);
            check_product(&w, 11, false, NULL);
            check_product(&w, 70, true, NULL);
            check_get_rows(&w);
            free(data);
        }
}

/* Bias, accumulation and a row sub-range on a random f32 matrix. */
static void test_matvec_bias_accumulate(void) {
    if (!gpu_ready()) return;
    enum { R = 40, C = 64, N = 3, R0 = 8, RN = 24 };
    static float wdata[R * C], x[N * C], bias[R], y0[N * R], want[N * R];
    fill(wdata, R * C, 1), fill(x, N * C, 1), fill(bias, R, 1), fill(y0, N * R, 1);
    weight w = {.name = "random", .type = GGML_TYPE_F32, .cols = C, .rows = R, .data = wdata, .row_bytes = C * 4};
    op_matmul(&w, x, want, N);
    vk_weight vw;
    char err[512];
    if (vk_weight_upload(&G->rt, &G->staging, &w, &vw, err, sizeof err)) {
        CHECKF(0, "%s", err);
        return;
    }
    vk_buffer *bx = buf(x, sizeof x), *by = buf(y0, sizeof y0), *bp = buf(bias, sizeof bias);
    for (int matmul = 0; matmul < 2 && bx && by && bp && begin(); matmul++) {
        memcpy(by->map, y0, sizeof y0);
        VkDescriptorSet s = set_of(6, &vw.parts[0].buf, bx, by, bp, bp, bp);
        /* rows R0 .. R0+RN-1 only: y[t][r] += W[r] x[t] + bias[r] */
        vk_matvec_push p = {.cols = C, .rows = RN, .row0 = R0, .n = N, .x_stride = C, .y_off = R0,
                            .y_stride = R, .row_bytes = C * 4, .bias_off = R0,
                            .flags = VK_MATVEC_BIAS | VK_MATVEC_ACCUMULATE};
        if (matmul) vk_op_matmul(&G->rt, &G->k, GGML_TYPE_F32, s, &p);
        else vk_op_matvec(&G->rt, &G->k, GGML_TYPE_F32, s, &p);
        if (submit()) {
            const float *got = by->map;
            for (int t = 0; t < N; t++)
                for (int r = 0; r < R; r++) {
                    float expect = r >= R0 && r < R0 + RN ? y0[t * R + r] + (want[t * R + r] + bias[r]) : y0[t * R + r];
                    CHECKF(fabs(got[t * R + r] - expect) <= 1e-5 * (1 + fabs(expect)), "%s: y[%d][%d] = %g, expected %g",
                           matmul ? "matmul" : "matvec", t, r, got[t * R + r], expect);
                }
        }
    }
    buf_free(bx), buf_free(by), buf_free(bp);
    vk_weight_free(&G->rt, &vw);
}

/* Float rows whose length is not a multiple of the 8-element unit (stories260K's MLP is
 * 172 wide): the shaders' tail path, for f32, f16 and bf16. */
static void test_matvec_partial_unit(void) {
    if (!gpu_ready()) return;
    enum { R = 10, C = 172 };
    static float f32[R * C];
    static uint16_t h16[R * C], b16[R * C];
    fill(f32, R * C, 1);
    for (int i = 0; i < R * C; i++) h16[i] = f32_to_fp16(f32[i]), b16[i] = f32_to_bf16(f32[i]);
    weight ws[3] = {{.name = "f32 172", .type = GGML_TYPE_F32, .cols = C, .rows = R, .data = f32, .row_bytes = C * 4},
                    {.name = "f16 172", .type = GGML_TYPE_F16, .cols = C, .rows = R, .data = h16, .row_bytes = C * 2},
                    {.name = "bf16 172", .type = GGML_TYPE_BF16, .cols = C, .rows = R, .data = b16, .row_bytes = C * 2}};
    for (int i = 0; i < 3; i++) {
        check_product(&ws[i], 1, false, NULL);
        check_product(&ws[i], 9, false, NULL);
        check_product(&ws[i], 21, true, NULL); /* partial unit, partial column, row and token tiles */
        check_get_rows(&ws[i]);
    }
}

/* The decode path's fused products (matvec.glsl flags NORM, ROPE, GLU) on a real tensor
 * of type W->type against the unfused reference: op_rmsnorm, then op_matmul (+ bias), then
 * op_rope (NORM pairs) or op_swiglu of the interleaved rows. N vectors at positions
 * 300.. (one block of 8 and a partial one when N > 8). */
static void check_fused(const weight *w, int n, uint32_t flags) {
    const bool glu = flags & VK_MATVEC_GLU, rope = flags & VK_MATVEC_ROPE;
    const int64_t cols = w->cols, rows = glu ? 2 * w->rows : w->rows, out_rows = glu ? w->rows : w->rows;
    const int HD = 64, RD = 48, P0 = 300, CTX = 320;
    const rope_desc rd = {.kind = ROPE_NORM, .dim = RD, .base = 10000.0f, .freq_scale = 1, .attn_factor = 1};
    char err[512];
    float *x = malloc((size_t)(n * cols) * 4), *xn = malloc((size_t)(n * cols) * 4), *g = malloc((size_t)cols * 4);
    float *pre = malloc((size_t)(n * rows) * 4), *want = malloc((size_t)(n * out_rows) * 4);
    float *mag = malloc((size_t)(n * rows) * 4), *row = malloc((size_t)cols * 4), *params = malloc((size_t)(cols + rows) * 4);
    fill(x, (size_t)(n * cols), 2), fill(g, (size_t)cols, 1), fill(params + cols, (size_t)rows, 1);
    memcpy(params, g, (size_t)cols * 4);
    if (flags & VK_MATVEC_NORM)
        for (int t = 0; t < n; t++) op_rmsnorm(xn + t * cols, x + t * cols, g, (int)cols, 1e-5f);
    else
        memcpy(xn, x, (size_t)(n * cols) * 4);
    /* the matrix the kernel sees: W, or for GLU W's rows interleaved with those of W
     * reversed (a stand-in "up" matrix of the same type) */
    uint32_t *map = malloc((size_t)rows * 2 * sizeof *map);
    for (int64_t r = 0; r < rows; r++) {
        map[2 * r] = 0;
        map[2 * r + 1] = (uint32_t)(glu ? (r & 1 ? w->rows - 1 - r / 2 : r / 2) : r);
    }
    for (int64_t r = 0; r < rows; r++) {
        weight_row(w, map[2 * r + 1], row);
        for (int t = 0; t < n; t++) {
            double s = 0, m = 0;
            for (int64_t c = 0; c < cols; c++) s += (double)row[c] * xn[t * cols + c], m += fabs((double)row[c] * xn[t * cols + c]);
            pre[t * rows + r] = (float)s + (glu ? 0.0f : params[cols + r]);
            mag[t * rows + r] = (float)m;
        }
    }
    for (int t = 0; t < n; t++) {
        if (glu) {
            for (int64_t r = 0; r < out_rows; r++) {
                float a = pre[t * rows + 2 * r], b = pre[t * rows + 2 * r + 1];
                (flags & VK_MATVEC_GELU ? op_geglu : op_swiglu)(&want[t * out_rows + r], &a, &b, 1);
            }
        } else {
            memcpy(want + t * out_rows, pre + t * rows, (size_t)rows * 4);
            if (rope) op_rope(want + t * out_rows, (int)(rows / HD), HD, &rd, NULL, P0 + t);
        }
    }
    vk_weight vw;
    if (vk_weight_upload_rows(&G->rt, &G->staging, &w, 1, map, (uint32_t)rows, &vw, err, sizeof err)) {
        CHECKF(0, "%s", err);
    } else {
        float *table = vk_rope_table(CTX, &rd, NULL);
        vk_buffer *bx = buf(x, (size_t)(n * cols) * 4), *by = buf(NULL, (size_t)(n * out_rows) * 4);
        vk_buffer *bp = buf(params, (size_t)(cols + rows) * 4), *bt = buf(table, (size_t)CTX * RD * 4);
        free(table);
        if (bx && by && bp && bt && begin()) {
            for (int i = 0; i < vw.n_parts; i++) {
                VkDescriptorSet s = set_of(6, &vw.parts[i].buf, bx, by, bp, bt, bp);
                vk_matvec_push p = {.cols = (uint32_t)cols, .rows = vw.parts[i].rows, .n = (uint32_t)n,
                                    .x_stride = (uint32_t)cols, .y_off = glu ? vw.parts[i].row0 / 2 : vw.parts[i].row0,
                                    .y_stride = (uint32_t)out_rows, .row_bytes = vw.row_bytes,
                                    .bias_off = (uint32_t)cols + vw.parts[i].row0,
                                    .flags = flags | (glu ? 0u : VK_MATVEC_BIAS), .norm_off = 0, .eps = 1e-5f,
                                    .pos0 = P0, .head_dim = HD, .rope_dim = RD, .row_base = vw.parts[i].row0};
                vk_op_matvec(&G->rt, &G->k, vw.type, s, &p);
            }
            memset(by->map, 0x7f, by->size);
            if (submit()) {
                const float *got = by->map;
                int bad = 0;
                for (int t = 0; t < n; t++)
                    for (int64_t r = 0; r < out_rows && bad < 5; r++) {
                        double tol;
                        if (glu) {
                            double a = pre[t * rows + 2 * r], b = pre[t * rows + 2 * r + 1];
                            tol = 1e-5 * (1.1 * fabs(b) * mag[t * rows + 2 * r] + fabs(a) * mag[t * rows + 2 * r + 1]);
                        } else {
                            int64_t pr = r ^ 1; /* rope mixes each row with its pair */
                            tol = 1e-5 * (mag[t * rows + r] + (rope ? mag[t * rows + pr] : 0.0f));
                        }
                        double e = fabs((double)got[t * out_rows + r] - want[t * out_rows + r]);
                        if (!(e <= tol + 1e-30)) {
                            CHECKF(0, "%s (%s) flags %u n=%d: y[%d][%lld] = %.9g, expected %.9g (tol %g)", w->name,
                                   ggml_type_name(w->type), flags, n, t, (long long)r, got[t * out_rows + r],
                                   want[t * out_rows + r], tol);
                            bad++;
                        }
                    }
            }
        }
        buf_free(bx), buf_free(by), buf_free(bp), buf_free(bt);
        vk_weight_free(&G->rt, &vw);
    }
    free(x), free(xn), free(g), free(pre), free(want), free(mag), free(row), free(params), free(map);
}

static void test_matvec_fused(void) {
    if (!gpu_ready()) return;
    char path[512], err[512];
    enum { R = 64, C = 172 };
    static float f32[R * C];
    fill(f32, R * C, 1);
    weight odd = {.name = "f32 64x172", .type = GGML_TYPE_F32, .cols = C, .rows = R, .data = f32, .row_bytes = C * 4};
    const uint32_t N = VK_MATVEC_NORM, RO = VK_MATVEC_ROPE, GL = VK_MATVEC_GLU;
    const uint32_t modes[] = {N, N | RO, N | GL, RO, GL, N | GL | VK_MATVEC_GELU};
    for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++) {
        check_fused(&odd, 1, modes[m]);
        check_fused(&odd, 11, modes[m]);
    }
    static const char *files[] = {"q8_0", "q4_k_m", "q4_0"};
    int tested = 0;
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        char rel[128];
        snprintf(rel, sizeof rel, "models/llama-k-tiny-%s.gguf", files[f]);
        model md;
        if (!test_shared_path(path, sizeof path, rel) || model_load(&md, path, err, sizeof err)) continue;
        for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++) {
            check_fused(&md.layers[0].wq, 1, modes[m]);
            check_fused(&md.layers[1].ffn_gate, 3, modes[m]);
        }
        check_fused(&md.layers[0].ffn_down, 1, N); /* Q6_K in the q4_k_m file */
        tested++;
        model_free(&md);
    }
    if (!tested) SKIP("../shared/models/llama-k-tiny-*.gguf not found (the f32 checks ran)");
}

/* Every tile shape the host may choose on some device (and an odd one), built here with
 * this device's limits, on real tensors of two block layouts and a float one with a
 * partial unit: shapes other than this device's own are tested too. */
static void test_matmul_tile_shapes(void) {
    if (!gpu_ready()) return;
    static const vk_matmul_tiles shapes[] = {
        {128, 128, 32, 8, 8}, {128, 64, 32, 8, 8}, {64, 64, 32, 8, 8}, {64, 32, 32, 8, 4},
        {32, 32, 16, 4, 4}, {32, 64, 64, 4, 8}, {16, 16, 8, 2, 2},
    };
    char path[512], err[512];
    model m;
    bool have = test_shared_path(path, sizeof path, "models/llama-k-tiny-q4_k_m.gguf") &&
                model_load(&m, path, err, sizeof err) == 0;
    enum { R = 37, C = 172 };
    static float f32[R * C];
    fill(f32, R * C, 1);
    weight odd = {.name = "f32 37x172", .type = GGML_TYPE_F32, .cols = C, .rows = R, .data = f32, .row_bytes = C * 4};
    int built = 0;
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        const vk_matmul_tiles *t = &shapes[i];
        uint32_t wg = (t->bm / t->tm) * (t->bn / t->tn);
        if (wg > G->rt.props.limits.maxComputeWorkGroupInvocations || wg < G->rt.subgroup_size ||
            (t->bk * (t->bm + t->bn + 2) + 64) * 4 > G->rt.props.limits.maxComputeSharedMemorySize)
            continue;
        const weight *ws[3] = {&odd, have ? &m.layers[0].ffn_down : NULL, have ? &m.layers[1].wv : NULL};
        for (int j = 0; j < 3; j++) {
            if (!ws[j]) continue;
            matmul_variant *v = calloc(1, sizeof *v);
            v->k = G->k;
            v->k.tiles = *t;
            const char *names[] = {[GGML_TYPE_F32] = "matmul_f32", [GGML_TYPE_Q4_K] = "matmul_q4_k",
                                   [GGML_TYPE_Q6_K] = "matmul_q6_k"};
            uint32_t type = ws[j]->type;
            const uint32_t spec[5] = {t->bm, t->bn, t->bk, t->tm, t->tn};
            if (type >= sizeof names / sizeof names[0] || !names[type]) {
                CHECKF(0, "unexpected type %s", ggml_type_name(type));
            } else if (vk_kernel_create(&G->rt, &v->kernel, names[type], 6, wg, spec, 5, err, sizeof err)) {
                CHECKF(0, "tiles %ux%ux%u/%ux%u: %s", t->bm, t->bn, t->bk, t->tm, t->tn, err);
            } else {
                v->k.matmul[type] = v->kernel;
                check_product(ws[j], 67, true, v);
                built++;
                vk_kernel_destroy(&G->rt, &v->kernel);
            }
            free(v);
        }
    }
    if (have) model_free(&m);
    CHECKF(built >= 6, "only %d tile shapes could be built", built);
}

/* ---- normalisation, rope, element-wise ------------------------------------------------ */

static void test_rmsnorm(void) {
    if (!gpu_ready()) return;
    enum { N = 5, D = 200 }; /* D not a multiple of the workgroup size */
    static float x[N * D], g[D], want[N * D];
    fill(x, N * D, 3), fill(g, D, 1);
    vk_buffer *bx = buf(x, sizeof x), *bp = buf(g, sizeof g), *by = buf(NULL, sizeof x);
    for (int with_g = 0; with_g < 2 && bx && bp && by; with_g++) {
        for (int i = 0; i < N; i++) op_rmsnorm(want + i * D, x + i * D, with_g ? g : NULL, D, 1e-5f);
        if (!begin()) break;
        vk_rmsnorm_push p = {N, D, 0, D, 0, D, 0, with_g ? VK_NORM_SCALE : 0u, 1e-5f};
        vk_op_rmsnorm(&G->rt, &G->k, set_of(3, bx, bp, by, NULL, NULL, NULL), &p);
        if (submit()) {
            double e = max_err(by->map, want, N * D);
            CHECKF(e <= 1e-5, "rmsnorm (scale %d): error %g", with_g, e);
        }
    }
    /* ACCUMULATE: a sandwich norm's output added into the residual stream y */
    static float y0[N * D];
    fill(y0, N * D, 2);
    if (bx && bp && by && begin()) {
        memcpy(by->map, y0, sizeof y0);
        for (int i = 0; i < N; i++) {
            op_rmsnorm(want + i * D, x + i * D, g, D, 1e-5f);
            op_add(want + i * D, want + i * D, y0 + i * D, D);
        }
        vk_rmsnorm_push p = {N, D, 0, D, 0, D, 0, VK_NORM_SCALE | VK_NORM_ACCUMULATE, 1e-5f};
        vk_op_rmsnorm(&G->rt, &G->k, set_of(3, bx, bp, by, NULL, NULL, NULL), &p);
        if (submit()) {
            double e = max_err(by->map, want, N * D);
            CHECKF(e <= 1e-5, "rmsnorm accumulating: error %g", e);
        }
    }
    buf_free(bx), buf_free(bp), buf_free(by);
}

/* Gemma 4's per-layer steps: the gate (GELU of the gate times the token's slice of every
 * layer's inputs, op_geglu per token) and the output scale by a stored scalar. */
static void test_per_layer_ops(void) {
    if (!gpu_ready()) return;
    enum { T = 3, W = 24, L = 5, LAYER = 2 };
    static float g[T * W], inp[T * W * L], want[T * W], params[4] = {0, 0, 1.25f, 0};
    fill(g, T * W, 3), fill(inp, T * W * L, 2);
    for (int t = 0; t < T; t++) op_geglu(want + t * W, g + t * W, inp + t * W * L + LAYER * W, W);
    vk_buffer *bg = buf(g, sizeof g), *bi = buf(inp, sizeof inp), *bp = buf(params, sizeof params);
    if (bg && bi && bp && begin()) {
        vk_ple_gate_push p = {T, W, W * L, LAYER * W};
        vk_op_ple_gate(&G->rt, &G->k, set_of(2, bg, bi, NULL, NULL, NULL, NULL), &p);
        if (submit()) {
            double e = max_err(bg->map, want, T * W);
            CHECKF(e <= 1e-5, "per-layer gate: error %g", e);
        }
    }
    if (bg && bp && begin()) {
        for (int i = 0; i < T * W; i++) want[i] = ((const float *)bg->map)[i] * 1.25f;
        vk_scale_push ps = {T * W, 0, 2};
        vk_op_scale(&G->rt, &G->k, set_of(2, bg, bp, NULL, NULL, NULL, NULL), &ps);
        if (submit()) CHECKF(max_err(bg->map, want, T * W) == 0, "scale by params[2]: not exact");
    }
    buf_free(bg), buf_free(bi), buf_free(bp);
}

static void test_layernorm(void) {
    if (!gpu_ready()) return;
    enum { N = 4, D = 96 };
    static float x[N * D], gb[2 * D], want[N * D];
    fill(x, N * D, 2), fill(gb, 2 * D, 1);
    for (int i = 0; i < N * D; i++) x[i] += 0.5f; /* a non-zero mean */
    for (int i = 0; i < N; i++) op_layernorm(want + i * D, x + i * D, gb, gb + D, D, 1e-5f);
    vk_buffer *bx = buf(x, sizeof x), *bp = buf(gb, sizeof gb), *by = buf(NULL, sizeof x);
    if (bx && bp && by && begin()) {
        vk_layernorm_push p = {N, D, 0, D, 0, D, 0, D, VK_NORM_SCALE | VK_NORM_SHIFT, 1e-5f};
        vk_op_layernorm(&G->rt, &G->k, set_of(3, bx, bp, by, NULL, NULL, NULL), &p);
        if (submit()) {
            double e = max_err(by->map, want, N * D);
            CHECKF(e <= 1e-5, "layernorm: error %g", e);
        }
    }
    buf_free(bx), buf_free(bp), buf_free(by);
}

static void test_rope(void) {
    if (!gpu_ready()) return;
    enum { T = 3, H = 4, HD = 32, RD = 24, P0 = 300, CTX = 512 }; /* partial rotation */
    static float x[T * H * HD], want[T * H * HD], factors[RD / 2];
    for (int i = 0; i < RD / 2; i++) factors[i] = 1.0f + (float)i / 3.0f;
    for (int kind = 0; kind < 2; kind++) {
        /* linear scaling, frequency factors and a magnitude (LongRoPE's attn_factor) */
        const rope_desc rd = {.kind = kind ? ROPE_NEOX : ROPE_NORM, .dim = RD, .base = 10000.0f, .freq_scale = 0.5f,
                              .attn_factor = 1.25f};
        fill(x, T * H * HD, 1);
        memcpy(want, x, sizeof x);
        for (int t = 0; t < T; t++) op_rope(want + t * H * HD, H, HD, &rd, factors, P0 + t);
        float *table = vk_rope_table(CTX, &rd, factors);
        vk_buffer *bx = buf(x, sizeof x), *bt = buf(table, (size_t)CTX * RD * 4);
        free(table);
        if (bx && bt && begin()) {
            vk_rope_push p = {T, H, HD, RD, P0, 0, H * HD, (uint32_t)kind};
            vk_op_rope(&G->rt, &G->k, set_of(2, bx, bt, NULL, NULL, NULL, NULL), &p);
            if (submit()) {
                double e = max_err(bx->map, want, T * H * HD);
                CHECKF(e <= 1e-6, "rope %s: error %g", kind ? "neox" : "norm", e);
            }
        }
        buf_free(bx), buf_free(bt);
    }
}

static void test_elementwise(void) {
    if (!gpu_ready()) return;
    enum { N = 1000 };
    static float a[N], b[N], want[N];
    fill(a, N, 8), fill(b, N, 8);
    a[0] = 30, a[1] = -30, a[2] = 100, a[3] = -100; /* saturated tanh and exp */
    vk_buffer *ba = buf(a, sizeof a), *bb = buf(b, sizeof b), *by = buf(NULL, sizeof a);
    if (!ba || !bb || !by) goto out;
    for (int op = 0; op < 6; op++) {
        if (!begin()) break;
        vk_binary_push p = {N, 0, 0, 0};
        vk_gelu_push pg = {N, 0, 0};
        vk_glu_push ps = {N, 0, 0, 0, 1, 0}, pge = {N, 0, 0, 0, 1, 1};
        const char *names[] = {"swiglu", "add", "gelu", "swiglu (interleaved)", "geglu", "softcap"};
        const char *name = names[op];
        if (op == 0) op_swiglu(want, a, b, N), vk_op_glu(&G->rt, &G->k, set_of(3, ba, bb, by, NULL, NULL, NULL), &ps);
        if (op == 3) { /* gate i = a[2i], up i = a[2i + 1] */
            float g[N / 2], u[N / 2];
            for (int i = 0; i < N / 2; i++) g[i] = a[2 * i], u[i] = a[2 * i + 1];
            op_swiglu(want, g, u, N / 2);
            vk_glu_push pi = {N / 2, 0, 1, 0, 2, 0};
            vk_op_glu(&G->rt, &G->k, set_of(3, ba, ba, by, NULL, NULL, NULL), &pi);
        }
        if (op == 1) op_add(want, a, b, N), vk_op_add(&G->rt, &G->k, set_of(3, ba, bb, by, NULL, NULL, NULL), &p);
        if (op == 2) op_gelu(want, a, N), vk_op_gelu(&G->rt, &G->k, set_of(2, ba, by, NULL, NULL, NULL, NULL), &pg);
        if (op == 4) op_geglu(want, a, b, N), vk_op_glu(&G->rt, &G->k, set_of(3, ba, bb, by, NULL, NULL, NULL), &pge);
        if (op == 5) { /* in place on a copy: the cap of the model's logits */
            memcpy(want, a, sizeof a);
            op_softcap(want, N, 7.5f);
            memcpy(by->map, a, sizeof a);
            vk_softcap_push pc = {N, 0, 7.5f};
            vk_op_softcap(&G->rt, &G->k, set_of(1, by, NULL, NULL, NULL, NULL, NULL), &pc);
        }
        if (!submit()) break;
        const float *got = by->map;
        for (int i = 0; i < (op == 3 ? N / 2 : N); i++) {
            /* GELU's 1 + tanh(u) cancels for negative inputs: both sides then err by about
             * an ulp of the input (times the up value), not of the tiny result */
            double scale = op == 4 ? fabs(a[i] * b[i]) : op == 2 ? fabs(a[i]) : fabs(want[i]);
            CHECKF(fabs(got[i] - want[i]) <= 1e-6 * (1 + scale), "%s(%g, %g) = %g, expected %g", name, a[i], b[i],
                   got[i], want[i]);
        }
    }
out:
    buf_free(ba), buf_free(bb), buf_free(by);
}

/* ---- attention -------------------------------------------------------------------- */

/* Attention of T query tokens at positions POS.. over a cache of POS + T keys, 4 query
 * heads sharing 2 kv heads of HEAD_DIM, keys split into chunks of CHUNK (when the batch
 * is small enough to split), against op_attention_head; probabilities captured into
 * layer 2 of a 3-layer capture buffer, with zeros past each query. Scores are sharp
 * enough that the rows are far from uniform. */
static void check_attention(int T, int POS, int HD, uint32_t chunk, int window, float softcap, bool sinks) {
    enum { H = 4, HKV = 2 };
    /* gpt-oss's sinks: one logit per head, as params at offset 3 (heads 0..3); the sharp
     * scores below are of the order of 10, so these take visible shares of some rows */
    const float params[3 + H] = {9, 9, 9, 2.0f, -1.0f, 6.0f, 30.0f};
    const int NKV = POS + T, CTX = NKV + 5, QD = H * HD, KVD = HKV * HD;
    float *q = malloc((size_t)T * QD * 4), *k = malloc((size_t)CTX * KVD * 4), *v = malloc((size_t)CTX * KVD * 4);
    float *want_out = malloc((size_t)T * QD * 4), *want_p = malloc((size_t)T * H * NKV * 4), *scores = malloc((size_t)NKV * 4);
    fill(q, (size_t)T * QD, 1.5f), fill(k, (size_t)CTX * KVD, 1.5f), fill(v, (size_t)CTX * KVD, 1);
    const float scale = 1.0f / sqrtf((float)HD);
    for (int t = 0; t < T; t++)
        for (int h = 0; h < H; h++) {
            const int n_kv = POS + t + 1;
            const attn_span span = {window && n_kv > window ? n_kv - window : 0, n_kv, HD, KVD, scale, softcap, sinks,
                                    params[3 + h]};
            op_attention_head(q + t * QD + h * HD, k + (h / 2) * HD, v + (h / 2) * HD, &span, scores,
                              want_out + t * QD + h * HD);
            for (int j = 0; j < NKV; j++) want_p[(h * T + t) * NKV + j] = j <= POS + t ? scores[j] : 0;
        }
    vk_kernels kk = G->k;
    kk.attn_chunk = chunk;
    uint32_t c, n_chunks;
    vk_attention_split(&kk, (uint32_t)POS, (uint32_t)T, &c, &n_chunks);
    vk_buffer *bq = buf(q, (size_t)T * QD * 4), *bk = buf(k, (size_t)CTX * KVD * 4), *bv = buf(v, (size_t)CTX * KVD * 4);
    vk_buffer *bo = buf(NULL, (size_t)T * QD * 4), *bs = buf(NULL, (size_t)H * T * CTX * 4);
    vk_buffer *bc = buf(NULL, (size_t)3 * H * T * NKV * 4); /* layer 2 of 3 is written */
    vk_buffer *bp = buf(NULL, vk_attention_part_floats(&kk, (uint32_t)CTX, H, (uint32_t)HD) * 4);
    vk_buffer *bpar = buf(params, sizeof params);
    if (bq && bk && bv && bo && bs && bc && bp && bpar && begin()) {
        vk_attention_push p = {.pos = (uint32_t)POS, .head_dim = (uint32_t)HD, .group = H / HKV, .q_stride = (uint32_t)QD,
                               .kv_stride = (uint32_t)KVD, .out_stride = (uint32_t)QD, .score_stride = (uint32_t)CTX,
                               .cap_first = 0, .cap_rows = (uint32_t)T, .cap_stride = (uint32_t)NKV,
                               .cap_off = (uint32_t)(2 * H * T * NKV), .scale = scale, .window = (uint32_t)window,
                               .softcap = softcap, .sink_off = sinks ? 3u : ~0u};
        memset(bc->map, 0x7f, bc->size); /* so that unwritten zeros would show */
        memset(bo->map, 0x7f, bo->size);
        vk_op_attention(&G->rt, &kk, set_of8(8, bq, bk, bv, bo, bs, bc, bp, bpar), set_of(5, bp, bs, bo, bc, bpar, NULL),
                        &p, (uint32_t)T, H);
        if (submit()) {
            double eo = max_err(bo->map, want_out, (size_t)T * QD);
            double ep = max_err((const float *)bc->map + 2 * H * T * NKV, want_p, (size_t)H * T * NKV);
            CHECKF(eo <= 1e-5, "attention output (T %d, pos %d, head_dim %d, %u chunks of %u, window %d, cap %g, sinks %d): "
                   "error %g", T, POS, HD, n_chunks, c, window, softcap, sinks, eo);
            CHECKF(ep <= 1e-6, "attention probabilities (T %d, pos %d, head_dim %d, %u chunks of %u, window %d, cap %g, "
                   "sinks %d): error %g", T, POS, HD, n_chunks, c, window, softcap, sinks, ep);
        }
    }
    buf_free(bq), buf_free(bk), buf_free(bv), buf_free(bo), buf_free(bs), buf_free(bc), buf_free(bp), buf_free(bpar);
    free(q), free(k), free(v), free(want_out), free(want_p), free(scores);
}

static void test_attention(void) {
    if (!gpu_ready()) return;
    check_attention(4, 3, 32, 1024, 0, 0, false);   /* one pass */
    check_attention(4, 37, 32, 16, 0, 0, false);    /* split: 3 chunks, the early tokens' last one partial */
    check_attention(1, 200, 64, 7, 0, 0, false);    /* decode, 29 chunks; head_dim as wide as the workgroup */
    check_attention(3, 60, 128, 1, 0, 0, false);    /* a chunk per key */
    check_attention(1, 600, 16, 1, 0, 0, false);    /* more keys than chunks allowed: the chunk grows */
    check_attention(12, 50, 32, 8, 0, 0, false);    /* too many tokens to split: one pass */
    /* sliding windows (Gemma, gpt-oss): in one pass, split with whole chunks before the
     * window skipped, a window starting inside a chunk; soft-capped scores (Gemma 2) */
    check_attention(12, 50, 32, 1024, 16, 0, false);
    check_attention(4, 37, 32, 16, 16, 0, false);
    check_attention(1, 200, 64, 7, 23, 0, false);
    check_attention(4, 37, 32, 16, 0, 2.0f, false);
    check_attention(3, 60, 64, 8, 16, 2.0f, false);
    check_attention(2, 40, 512, 1024, 0, 0, false); /* Gemma 4's global head_dim */
    /* attention sinks (gpt-oss): one pass, split (the merge adds the sink), with windows */
    check_attention(4, 3, 64, 1024, 0, 0, true);
    check_attention(4, 37, 64, 16, 0, 0, true);
    check_attention(1, 200, 64, 7, 16, 0, true);
    check_attention(12, 50, 64, 1024, 16, 0, true);
    uint32_t c, n;
    vk_kernels kk = G->k;
    kk.attn_chunk = 16;
    vk_attention_split(&kk, 37, 4, &c, &n);
    CHECKF(c == 16 && n == 3, "split of 41 keys by 16: %u chunks of %u", n, c);
    vk_attention_split(&kk, 5000, 1, &c, &n);
    CHECKF(n <= VK_ATTN_MAX_CHUNKS && c * n >= 5001, "split of 5001 keys: %u chunks of %u", n, c);
    vk_attention_split(&kk, 100, 9, &c, &n);
    CHECKF(n == 1, "a batch of 9 tokens is not split (%u chunks)", n);
}

/* ---- vocabulary reduction ------------------------------------------------------------ */

/* ---- mixtures of experts ---------------------------------------------------------------- */

/* moe_route.comp against op_moe_route and op_top_k: T tokens of E router logits (plus a
 * shared expert's gate logit after them when SHARED), K chosen, the ranking of R. More
 * experts than the workgroup has invocations, and equal logits (the lower id first). */
static void check_moe_route(int T, int E, int K, int R, moe_routing routing, bool norm, bool shared) {
    const int NL = E + (shared ? 1 : 0);
    float *logits = malloc((size_t)T * NL * sizeof *logits), *probs = malloc((size_t)E * sizeof *probs);
    for (int i = 0; i < T * NL; i++) logits[i] = 3 * frand();
    for (int t = 0; t < T; t++) logits[(size_t)t * NL + 5] = logits[(size_t)t * NL + 9]; /* a tie */
    const uint32_t ids_off = 0, w_off = (uint32_t)(T * K), rank_off = 2u * (uint32_t)(T * K),
                   prob_off = rank_off + (uint32_t)(T * R), gate_off = prob_off + (uint32_t)(T * R);
    vk_buffer *bl = buf(logits, (size_t)T * NL * 4), *br = buf(NULL, ((size_t)gate_off + T) * 4);
    if (bl && br && begin()) {
        vk_moe_route_push p = {(uint32_t)E, (uint32_t)NL, (uint32_t)K, (uint32_t)R, routing == ROUTE_TOPK_SOFTMAX,
                               norm, shared, ids_off, w_off, rank_off, prob_off, gate_off};
        vk_op_moe_route(&G->rt, &G->k, set_of(2, bl, br, NULL, NULL, NULL, NULL), &p, (uint32_t)T);
        if (submit()) {
            const uint32_t *got = br->map;
            for (int t = 0; t < T; t++) {
                int32_t ids[64], ranked[68];
                float w[64];
                op_moe_route(logits + (size_t)t * NL, E, K, routing, norm, ids, w, probs);
                op_top_k(logits + (size_t)t * NL, E, R, ranked);
                for (int j = 0; j < R; j++) {
                    float gp;
                    memcpy(&gp, &got[prob_off + t * R + j], 4);
                    CHECKF((int32_t)got[rank_off + t * R + j] == ranked[j] && fabsf(gp - probs[ranked[j]]) <= 1e-6f,
                           "E %d token %d rank %d: expert %u (p %g), expected %d (p %g)", E, t, j,
                           got[rank_off + t * R + j], gp, ranked[j], probs[ranked[j]]);
                }
                for (int j = 0; j < K; j++) {
                    float gw;
                    memcpy(&gw, &got[w_off + t * K + j], 4);
                    CHECKF((int32_t)got[ids_off + t * K + j] == ids[j] && fabsf(gw - w[j]) <= 1e-6f,
                           "E %d token %d slot %d: expert %u weight %g, expected %d weight %g", E, t, j,
                           got[ids_off + t * K + j], gw, ids[j], w[j]);
                }
                if (shared) {
                    float g, want = 1.0f / (1.0f + expf(-logits[(size_t)t * NL + E]));
                    memcpy(&g, &got[gate_off + t], 4);
                    CHECKF(fabsf(g - want) <= 1e-6f, "token %d: shared gate %g, expected %g", t, g, want);
                }
            }
        }
    }
    buf_free(bl), buf_free(br);
    free(logits), free(probs);
}

/* moe_combine.comp: the weighted sum of T tokens' K expert outputs in the router's order
 * (model/moe.c's additions), plus a gated shared expert, into x (accumulating) and out. */
static void test_moe_combine(void) {
    if (!gpu_ready()) return;
    enum { T = 3, K = 4, D = 70 };
    static float y[T * K * D], sh[T * D], x0[T * D], want_o[T * D];
    fill(y, T * K * D, 1), fill(sh, T * D, 1), fill(x0, T * D, 1);
    uint32_t route[2 * T * K + T]; /* weights at T * K, gates at 2 * T * K */
    float w[T * K], gate[T];
    for (int i = 0; i < T * K; i++) w[i] = 0.5f + 0.5f * frand(), memcpy(&route[T * K + i], &w[i], 4);
    for (int t = 0; t < T; t++) gate[t] = 0.5f + 0.4f * frand(), memcpy(&route[2 * T * K + t], &gate[t], 4);
    for (int t = 0; t < T; t++)
        for (int i = 0; i < D; i++) {
            float o = w[t * K] * y[(t * K) * D + i];
            for (int j = 1; j < K; j++) o += w[t * K + j] * y[(t * K + j) * D + i];
            want_o[t * D + i] = o + gate[t] * sh[t * D + i];
        }
    vk_buffer *br = buf(route, sizeof route), *by = buf(y, sizeof y), *bs = buf(sh, sizeof sh), *bx = buf(x0, sizeof x0),
              *bo = buf(NULL, sizeof x0);
    if (br && by && bs && bx && bo && begin()) {
        vk_moe_combine_push p = {T, D, K, T * K, 2 * T * K, 1, 1};
        vk_op_moe_combine(&G->rt, &G->k, set_of(5, br, by, bs, bx, bo, NULL), &p);
        if (submit()) {
            const float *o = bo->map, *x = bx->map;
            for (int i = 0; i < T * D; i++) {
                CHECKF(fabsf(o[i] - want_o[i]) <= 1e-6f * (1 + fabsf(want_o[i])), "out[%d] = %g, expected %g", i, o[i],
                       want_o[i]);
                CHECKF(fabsf(x[i] - (x0[i] + want_o[i])) <= 1e-5f * (1 + fabsf(x0[i])), "x[%d] = %g, expected %g", i,
                       x[i], x0[i] + want_o[i]);
            }
        }
    }
    buf_free(br), buf_free(by), buf_free(bs), buf_free(bx), buf_free(bo);
}

static void test_moe_route(void) {
    if (!gpu_ready()) return;
    check_moe_route(3, 8, 2, 6, ROUTE_TOPK_SOFTMAX, false, false); /* gpt-oss-tiny */
    check_moe_route(5, 130, 8, 12, ROUTE_SOFTMAX, true, false);    /* wider than the workgroup */
    check_moe_route(2, 256, 8, 12, ROUTE_SOFTMAX, true, true);     /* Qwen3.5-MoE: a shared gate */
    check_moe_route(2, 16, 4, 8, ROUTE_SOFTMAX, false, false);     /* weights not renormalised */
    check_moe_route(1, 1024, 60, 64, ROUTE_SOFTMAX, true, false);  /* the limits */
}

static void test_topk(void) {
    if (!gpu_ready()) return;
    enum { V = 5000, ROWS = 3, K = 40 }; /* 5 chunks, the last one partial */
    static float logits[ROWS * V];
    fill(logits, ROWS * V, 10);
    for (int i = 0; i < 60; i++) logits[V + 100 * i] = 11.0f; /* row 1: a 60-way tie at the top */
    logits[2 * V + 4999] = 50.0f;                            /* row 2: the best in the last chunk */
    uint32_t chunks = vk_topk_chunks(V);
    vk_buffer *bl = buf(logits, sizeof logits), *bp = buf(NULL, (size_t)ROWS * chunks * (3 + 2 * K) * 4);
    vk_buffer *bo = buf(NULL, (size_t)ROWS * (2 + 2 * K) * 4);
    if (bl && bp && bo && begin()) {
        vk_op_topk(&G->rt, &G->k, set_of(2, bl, bp, NULL, NULL, NULL, NULL), set_of(2, bp, bo, NULL, NULL, NULL, NULL),
                   V, V, ROWS, K);
        if (submit())
            for (int r = 0; r < ROWS; r++) {
                const float *x = logits + r * V, *o = (const float *)bo->map + r * (2 + 2 * K);
                /* reference: selection sort, ties to the lower id; lse and entropy in double */
                bool taken[V] = {0};
                for (int j = 0; j < K; j++) {
                    int best = -1;
                    for (int i = 0; i < V; i++)
                        if (!taken[i] && (best < 0 || x[i] > x[best])) best = i;
                    taken[best] = true;
                    int32_t id;
                    memcpy(&id, &o[2 + j], 4);
                    CHECKF(id == best && o[2 + K + j] == x[best], "row %d top-%d: id %d (%g), expected %d (%g)", r,
                           j, (int)id, o[2 + K + j], best, x[best]);
                }
                double m = x[0], s = 0, u = 0;
                for (int i = 1; i < V; i++) m = x[i] > m ? x[i] : m;
                for (int i = 0; i < V; i++) s += exp(x[i] - m), u += exp(x[i] - m) * (x[i] - m);
                double lse = m + log(s), h = log(s) - u / s;
                CHECKF(fabs(o[0] - lse) <= 1e-5 * fabs(lse) + 1e-5, "row %d log-sum-exp %g, expected %g", r, o[0], lse);
                CHECKF(fabs(o[1] - h) <= 1e-4 * (1 + h), "row %d entropy %g, expected %g", r, o[1], h);
            }
    }
    buf_free(bl), buf_free(bp), buf_free(bo);
}

/* ---- Gated DeltaNet ------------------------------------------------------------------- */

/* A DeltaNet layer's kernels in the engine's order (convolution, the state keeping its
 * inputs with the norms and gates, the chunked recurrence, the effective weights and the
 * gated norm), over 150 tokens in batches of 40 and 110 (the second crossing chunk
 * boundaries, with more tokens than one chunk), against the C reference of each step
 * (ops.h) run the same way: after each batch the convolution's output, the gates, the
 * read-out and its gated norm, every token's effective weights and the state itself. */
enum { DNK = 2, DKK = 128, DNV = 4, DVV = 128, DTAPS = 4, DT = 150 }; /* Qwen3.5's heads */
enum { DKEY = DNK * DKK, DVAL = DNV * DVV, DCONV = 2 * DKEY + DVAL };

typedef struct dn_ref_state {
    float pre[DT][DCONV];            /* every input row so far */
    float keys[DT][DKEY], beta[DT][DNV], g[DT][DNV], decay[DT][DNV];
    float state[(DTAPS - 1) * DCONV + DNV * DVV * DKK + DN_CHUNK * DNV * (DKK + DVV + 1)];
} dn_ref_state;

/* The reference of one batch [P0, P0 + N): CONV [n][DCONV] after the norms, O [n][DVAL]
 * gated, W [DNV][n][P0 + N] the weights. */
static void dn_reference(dn_ref_state *r, const float *params, const float *ba, const float *z, int p0, int n,
                         float *conv, float *o, float *w) {
    const float *taps = params, *dt = params + DCONV * DTAPS, *rate = dt + DNV, *gain = rate + DNV;
    float zero[DCONV] = {0}, x[DKK], scratch[3 * DN_CHUNK];
    for (int i = 0; i < n; i++) {
        const int pos = p0 + i;
        const float *rows[DTAPS];
        for (int j = 0; j < DTAPS; j++) rows[j] = pos - (DTAPS - 1) + j >= 0 ? r->pre[pos - (DTAPS - 1) + j] : zero;
        float *c = conv + (size_t)i * DCONV;
        op_conv_silu(c, rows, taps, DCONV, DTAPS);
        for (int h = 0; h < 2 * DNK; h++) op_l2norm(c + h * DKK, c + h * DKK, DKK, 1e-6f);
        for (int k = 0; k < DKEY; k++) c[k] /= sqrtf(DKK);
        memcpy(r->keys[pos], c + DKEY, sizeof r->keys[pos]);
        op_deltanet_gates(ba + (size_t)i * 2 * DNV, ba + (size_t)i * 2 * DNV + DNV, dt, rate, DNV, r->beta[pos], r->g[pos]);
        for (int h = 0; h < DNV; h++) r->decay[pos][h] = expf(r->g[pos][h]);
    }
    const dn_shape sh = {.n_v = DNV, .n_k = DNK, .d_k = DKK, .d_v = DVV, .taps = DTAPS, .key_dim = DKEY,
                         .value_dim = DVAL, .conv_dim = DCONV, .conv_floats = (DTAPS - 1) * DCONV,
                         .S_floats = DNV * DVV * DKK, .record_floats = DNV * (DKK + DVV + 1)};
    for (int h = 0; h < DNV; h++) {
        dn_head_state st = dn_head_of(&sh, r->state, h);
        const int kh = h % DNK;
        op_deltanet_chunked(&st, p0, n, conv + kh * DKK, conv + DKEY + kh * DKK, DCONV, conv + 2 * DKEY + h * DVV, DCONV,
                            r->beta[p0] + h, r->g[p0] + h, DNV, o + h * DVV, DVAL, scratch);
        for (int i = 0; i < n; i++)
            op_deltanet_weights(conv + (size_t)i * DCONV + kh * DKK, r->keys[0] + kh * DKK, DKEY, r->beta[0] + h, r->decay[0] + h,
                                DNV, p0 + i, DKK, w + ((size_t)h * n + i) * (p0 + n), x);
    }
    for (int i = 0; i < n; i++)
        for (int h = 0; h < DNV; h++)
            op_gated_rmsnorm(o + (size_t)i * DVAL + h * DVV, o + (size_t)i * DVAL + h * DVV, gain,
                             z + (size_t)i * DVAL + h * DVV, DVV, 1e-6f);
    for (int r0 = 0; r0 < DTAPS - 1; r0++) /* the convolution's rows for the next batch */
        memcpy(r->state + r0 * DCONV, p0 + n - (DTAPS - 1) + r0 >= 0 ? r->pre[p0 + n - (DTAPS - 1) + r0] : zero,
               sizeof zero);
}

static void test_deltanet_kernels(void) {
    if (!gpu_ready()) return;
    static dn_ref_state ref;
    memset(&ref, 0, sizeof ref);
    enum { NP = DCONV * DTAPS + 2 * DNV + DVV };
    float params[NP];
    fill(params, NP, 1.0f);
    for (int h = 0; h < DNV; h++) params[DCONV * DTAPS + DNV + h] = -0.2f - 0.3f * (float)h; /* rates < 0 */
    static float ba[DT * 2 * DNV], z[DT * DVAL], conv[DT * DCONV], o[DT * DVAL], w[DNV * DT * DT];
    fill(ref.pre[0], (size_t)DT * DCONV, 2.0f);
    fill(ba, sizeof ba / sizeof *ba, 3.0f);
    fill(z, sizeof z / sizeof *z, 2.0f);
    vk_buffer *bp = buf(params, sizeof params), *bpre = buf(NULL, sizeof ref.pre), *bstate = buf(NULL, sizeof ref.state);
    vk_buffer *bconv = buf(NULL, sizeof conv), *bba = buf(NULL, sizeof ba), *bz = buf(NULL, sizeof z);
    vk_buffer *bgates = buf(NULL, (size_t)DT * DNV * 2 * sizeof(float)), *bkeys = buf(NULL, sizeof ref.keys);
    vk_buffer *bo = buf(NULL, sizeof o), *bcap = buf(NULL, sizeof w);
    vk_buffer *bab = buf(NULL, (size_t)DN_CHUNK * DNV * 2 * DVV * sizeof(float));
    vk_buffer *bgram = buf(NULL, (size_t)DN_CHUNK * DNV * DN_CHUNK * 2 * sizeof(float));
    const int batches[][2] = {{0, 40}, {40, 110}};
    for (int bi = 0; bi < 2 && bp && bpre && bstate && bconv && bba && bz && bgates && bkeys && bo && bcap && bab && bgram;
         bi++) {
        const int p0 = batches[bi][0], n = batches[bi][1], row_len = p0 + n;
        memcpy(bpre->map, ref.pre[p0], (size_t)n * DCONV * sizeof(float));
        memcpy(bba->map, ba + p0 * 2 * DNV, (size_t)n * 2 * DNV * sizeof(float));
        memcpy(bz->map, z + p0 * DVAL, (size_t)n * DVAL * sizeof(float));
        if (!begin()) break;
        VkDescriptorSet s_conv = set_of(4, bpre, bstate, bp, bconv, NULL, NULL);
        VkDescriptorSet s_prep = set_of(5, bconv, bba, bp, bgates, bkeys, NULL);
        VkDescriptorSet s_project = set_of(5, bconv, bgates, bstate, bab, bgram, NULL);
        VkDescriptorSet s_solve = set_of(6, bconv, bgates, bstate, bab, bgram, bo);
        VkDescriptorSet s_fold = set_of(1, bstate, NULL, NULL, NULL, NULL, NULL);
        VkDescriptorSet s_w = set_of(4, bconv, bkeys, bgates, bcap, NULL, NULL);
        VkDescriptorSet s_norm = set_of(3, bo, bz, bp, NULL, NULL, NULL);
        vk_dn_conv_push pc = {(uint32_t)n, DCONV, DTAPS, 0, 0};
        vk_op_dn_conv(&G->rt, &G->dk, s_conv, &pc);
        vk_barrier(&G->rt);
        pc.mode = 1;
        vk_op_dn_conv(&G->rt, &G->dk, s_conv, &pc);
        vk_dn_prep_push pp = {(uint32_t)n, (uint32_t)p0, DNK, DKK, DNV, DCONV, DCONV * DTAPS, DCONV * DTAPS + DNV, 1, 1e-6f,
                              1.0f / sqrtf(DKK)};
        vk_op_dn_prep(&G->rt, &G->dk, s_prep, &pp);
        vk_barrier(&G->rt);
        vk_dn_seg_push shape = {0, 0, DNK, DKK, DNV, DVV, DCONV, (DTAPS - 1) * DCONV, 0};
        vk_dn_record_recurrence(&G->rt, &G->dk, s_project, s_solve, s_fold, &shape, (uint32_t)p0, (uint32_t)n);
        vk_dn_weights_push pw = {(uint32_t)n, 0, (uint32_t)p0, DNK, DKK, DNV, DCONV, 0, (uint32_t)row_len};
        vk_op_dn_weights(&G->rt, &G->dk, s_w, &pw);
        vk_dn_norm_push pn = {(uint32_t)n * DNV, DVV, DCONV * DTAPS + 2 * DNV, 1e-6f};
        vk_op_dn_gated_norm(&G->rt, &G->dk, s_norm, &pn);
        if (!submit()) break;
        memset(w, 0, sizeof w);
        dn_reference(&ref, params, ba + p0 * 2 * DNV, z + p0 * DVAL, p0, n, conv, o, w);
        const float *gates = bgates->map;
        double e_conv = max_err(bconv->map, conv, (size_t)n * DCONV), e_o = max_err(bo->map, o, (size_t)n * DVAL);
        double e_w = max_err(bcap->map, w, (size_t)DNV * n * row_len), e_state = max_err(bstate->map, ref.state, sizeof ref.state / sizeof(float));
        double e_gates = 0;
        for (int i = p0; i < p0 + n; i++)
            for (int h = 0; h < DNV; h++)
                e_gates = fmax(e_gates, fmax(fabs(gates[(i * DNV + h) * 2] - ref.beta[i][h]), fabs(gates[(i * DNV + h) * 2 + 1] - ref.g[i][h])));
        CHECKF(e_conv <= 1e-5, "batch %d: convolution and norms differ by %g", bi, e_conv);
        CHECKF(e_gates <= 1e-5, "batch %d: gates differ by %g", bi, e_gates);
        CHECKF(e_o <= 1e-4, "batch %d: gated read-outs differ by %g", bi, e_o);
        CHECKF(e_w <= 1e-5, "batch %d: effective weights differ by %g", bi, e_w);
        CHECKF(e_state <= 1e-4, "batch %d: the state differs by %g", bi, e_state);
    }
    buf_free(bp), buf_free(bpre), buf_free(bstate), buf_free(bconv), buf_free(bba), buf_free(bz);
    buf_free(bgates), buf_free(bkeys), buf_free(bo), buf_free(bcap), buf_free(bab), buf_free(bgram);
}

/* Gated attention's output gate. */
static void test_sigmoid_mul(void) {
    if (!gpu_ready()) return;
    enum { N = 1000 };
    static float x[N], g[N], want[N];
    fill(x, N, 4), fill(g, N, 20);
    memcpy(want, x, sizeof x);
    op_sigmoid_mul(want, g, N);
    vk_buffer *bx = buf(x, sizeof x), *bg = buf(g, sizeof g);
    if (bx && bg && begin()) {
        vk_sigmoid_mul_push p = {N};
        vk_op_sigmoid_mul(&G->rt, &G->dk, set_of(2, bx, bg, NULL, NULL, NULL, NULL), &p);
        if (submit()) CHECKF(max_err(bx->map, want, N) <= 1e-6, "x sigmoid(gate) differs by %g", max_err(bx->map, want, N));
    }
    buf_free(bx), buf_free(bg);
}

int main(void) {
    RUN(test_matvec_real_tensors);
    RUN(test_matvec_other_types);
    RUN(test_matvec_bias_accumulate);
    RUN(test_matvec_partial_unit);
    RUN(test_matmul_tile_shapes);
    RUN(test_matvec_fused);
    RUN(test_rmsnorm);
    RUN(test_per_layer_ops);
    RUN(test_layernorm);
    RUN(test_rope);
    RUN(test_elementwise);
    RUN(test_attention);
    RUN(test_topk);
    RUN(test_moe_route);
    RUN(test_moe_combine);
    RUN(test_deltanet_kernels);
    RUN(test_sigmoid_mul);
    if (G) {
        G->rt.vk.DestroyDescriptorPool(G->rt.dev, G->pool, NULL);
        vk_buffer_destroy(&G->rt, &G->staging);
        vk_kernels_destroy(&G->rt, &G->k);
        vk_dn_kernels_destroy(&G->rt, &G->dk);
        vk_runtime_free(&G->rt);
        free(G);
    }
    return test_exit_code();
}
