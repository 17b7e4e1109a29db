/* test_vulkan_sync.c — the runtime's barrier discipline (compute/vk_sync.h): copies,
 * fills and dispatches that would race a command recorded earlier in the same step get a
 * barrier first, and commands that touch different buffers get none.
 *
 * The expected binding masks are read off the shaders' GLSL (`readonly` / `writeonly` /
 * neither), not computed by the code under test. The races are checked three ways: the
 * barrier counter, the results (a copy must see the dispatch's output), and — when
 * tests/run.sh turns on the Khronos layer's synchronization validation — the layer's
 * verdict (any hazard is a validation error, and every check here fails on one).
 * Before the tracker existed, each "gets a barrier" case was a hazard the layer reported.
 *
 * Also: the device's subgroup size and the kernels' specialisation values, which
 * tests/run.sh checks when it runs the Vulkan tests again at another subgroup size
 * (LLMSCOPE_TEST_SUBGROUP) or with the values a GPU would get (LLMSCOPE_VK_WG, ...). */
#include "spirv_blobs.h"
#include "test.h"
#include "test_vulkan.h"
#include "vk_ops.h"
#include "vk_runtime.h"

#include <stdint.h>

typedef struct gpu {
    vk_runtime rt;
    vk_kernels k;
    VkDescriptorPool pool;
} gpu;
static gpu *G;
static char gpu_error[512];

static bool gpu_ready(void) {
    if (!G && !gpu_error[0]) {
        G = calloc(1, sizeof *G);
        char err[512];
        vk_engine_options vo = vk_options_from_env(-1, false);
        if (vk_runtime_init(&G->rt, -1, &vo.rt, err, sizeof err) || vk_kernels_create(&G->rt, &G->k, &vo.tuning, err, sizeof err) ||
            vk_pool_create(&G->rt, 64, &G->pool, err, sizeof err)) {
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

/* ---- reading binding masks from SPIR-V ---------------------------------------------- */

static const spirv_blob *blob(const char *name) {
    for (const spirv_blob *b = SPIRV_BLOBS; b->name; b++)
        if (strcmp(b->name, name) == 0) return b;
    return NULL;
}

static void test_binding_masks_of_embedded_shaders(void) {
    /* from the layout(binding = N) declarations of each shader */
    static const struct { const char *name; uint32_t used, written; } want[] = {
        {"add", 0x7, 0x4},            /* a, b readonly; y writeonly */
        {"rope", 0x3, 0x1},           /* x read-write; table readonly */
        {"topk_merge", 0x3, 0x3},     /* records (read-write), out writeonly */
        {"attention", 0xff, 0x78},    /* q, k, v, params readonly; out, scores, capture, parts written */
        {"attention_merge", 0x1f, 0xc}, /* parts, scores, params readonly; out, capture written */
        {"lens_rank", 0x7, 0x4},
        {"matvec_q8_0", 0x3f, 0x4},   /* W, x, params, table, route readonly; y read-write */
        {"matmul_q4_k", 0xf, 0x4},    /* the table is not declared */
        {"get_rows_f16", 0x7, 0x4},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const spirv_blob *b = blob(want[i].name);
        CHECKF(b, "no embedded shader %s", want[i].name);
        if (!b) continue;
        uint32_t used, written;
        bool ok = vk_spirv_buffer_access((const uint32_t *)(const void *)b->data, (size_t)(b->end - b->data) / 4,
                                         &used, &written);
        CHECKF(ok && used == want[i].used && written == want[i].written,
               "%s: used %#x written %#x, expected %#x %#x", want[i].name, used, written, want[i].used,
               want[i].written);
    }
    /* a module the reader cannot follow counts as writing everything */
    uint32_t junk[8] = {0x07230203u, 0x00010300u, 0, 100, 0, 0xffff0001u, 0, 0}, used, written;
    CHECK(!vk_spirv_buffer_access(junk, 8, &used, &written) && written == 0xffffffffu);
    CHECK(!vk_spirv_buffer_access(junk, 3, &used, &written) && written == 0xffffffffu);
}

/* ---- races between commands of one step ------------------------------------------- */

#define N 256

typedef struct bufs {
    vk_buffer a, b, y, z;
} bufs;

static bool make(vk_buffer *v, const float *data) {
    char err[512];
    bool ok = vk_buffer_create(&G->rt, v, N * sizeof(float), VK_MEM_UPLOAD, "test buffer", err, sizeof err) == 0;
    CHECKF(ok, "%s", err);
    if (ok && data) memcpy(v->map, data, N * sizeof(float));
    else if (ok) memset(v->map, 0, N * sizeof(float));
    return ok;
}

static bool setup(bufs *t, float *a, float *b) {
    for (int i = 0; i < N; i++) a[i] = (float)i, b[i] = 1000.0f + (float)(2 * i);
    memset(t, 0, sizeof *t);
    return make(&t->a, a) && make(&t->b, b) && make(&t->y, NULL) && make(&t->z, NULL);
}

static void teardown(bufs *t) {
    vk_buffer_destroy(&G->rt, &t->a);
    vk_buffer_destroy(&G->rt, &t->b);
    vk_buffer_destroy(&G->rt, &t->y);
    vk_buffer_destroy(&G->rt, &t->z);
}

static VkDescriptorSet add_set(vk_buffer *a, vk_buffer *b, vk_buffer *y) {
    char err[512];
    VkDescriptorSet s = VK_NULL_HANDLE;
    CHECKF(vk_set_create(&G->rt, G->pool, 3, (vk_buffer *[]){a, b, y}, &s, err, sizeof err) == 0, "%s", err);
    return s;
}

static void add(VkDescriptorSet s) {
    vk_binary_push p = {N, 0, 0, 0};
    vk_op_add(&G->rt, &G->k, s, &p);
}

static bool begin(void) {
    char err[512];
    bool ok = vk_begin(&G->rt, err, sizeof err) == 0;
    CHECKF(ok, "%s", err);
    return ok;
}

/* Submits; checks the barriers recorded (BARRIERS: all, INSERTED: by the tracker) and that
 * the validation layer, when on, saw no hazard. */
static bool submit(uint32_t barriers, uint32_t inserted, uint32_t inserted_before) {
    static int errors_before; /* the layer's count is for the whole run: check what is new */
    char err[512];
    uint32_t recorded = G->rt.n_barriers;
    bool ok = vk_submit(&G->rt, err, sizeof err) == 0;
    CHECKF(ok, "%s", err);
    CHECKF(recorded == barriers, "%u barriers recorded, expected %u", recorded, barriers);
    CHECKF(G->rt.sync.n_inserted - inserted_before == inserted, "%u barriers inserted, expected %u",
           G->rt.sync.n_inserted - inserted_before, inserted);
    CHECKF(G->rt.validation_errors == errors_before, "%d Vulkan validation errors (the first of the run: %s)",
           G->rt.validation_errors - errors_before, G->rt.first_validation_error);
    errors_before = G->rt.validation_errors;
    return ok;
}

static int mismatches(const vk_buffer *v, const float *want) {
    const float *got = v->map;
    int bad = 0;
    for (int i = 0; i < N; i++) bad += got[i] != want[i];
    return bad;
}

/* y = a + b, then a copy of y: the copy must wait for the dispatch (read after write). */
static void test_copy_of_a_dispatch_result_waits_for_it(void) {
    if (!gpu_ready()) return;
    float a[N], b[N], sum[N];
    bufs t;
    if (setup(&t, a, b) && begin()) {
        uint32_t before = G->rt.sync.n_inserted;
        add(add_set(&t.a, &t.b, &t.y));
        vk_copy(&G->rt, &t.y, 0, &t.z, 0, N * sizeof(float));
        if (submit(1, 1, before)) {
            for (int i = 0; i < N; i++) sum[i] = a[i] + b[i];
            CHECKF(mismatches(&t.z, sum) == 0, "the copy did not see the sum");
        }
    }
    teardown(&t);
}

/* a copy into a, then a dispatch reading a (read after write). */
static void test_dispatch_reading_a_copy_waits_for_it(void) {
    if (!gpu_ready()) return;
    float a[N], b[N], want[N];
    bufs t;
    if (setup(&t, a, b) && begin()) {
        uint32_t before = G->rt.sync.n_inserted;
        vk_copy(&G->rt, &t.b, 0, &t.a, 0, N * sizeof(float)); /* a = b */
        add(add_set(&t.a, &t.b, &t.y));                     /* y = 2b */
        if (submit(1, 1, before)) {
            for (int i = 0; i < N; i++) want[i] = b[i] + b[i];
            CHECKF(mismatches(&t.y, want) == 0, "the dispatch read a before the copy wrote it");
        }
    }
    teardown(&t);
}

/* a dispatch reading a, then a fill of a (write after read): the fill must wait. */
static void test_fill_of_an_input_waits_for_its_reader(void) {
    if (!gpu_ready()) return;
    float a[N], b[N], sum[N], zero[N] = {0};
    bufs t;
    if (setup(&t, a, b) && begin()) {
        uint32_t before = G->rt.sync.n_inserted;
        add(add_set(&t.a, &t.b, &t.y));
        vk_fill(&G->rt, &t.a, 0, N * sizeof(float), 0);
        if (submit(1, 1, before)) {
            for (int i = 0; i < N; i++) sum[i] = a[i] + b[i];
            CHECKF(mismatches(&t.y, sum) == 0, "the dispatch saw the fill");
            CHECKF(mismatches(&t.a, zero) == 0, "the fill did not happen");
        }
    }
    teardown(&t);
}

/* A dispatch writing y, then a fill of y (write after write): the fill must come last. */
static void test_fill_after_a_writer_waits_for_it(void) {
    if (!gpu_ready()) return;
    float a[N], b[N], zero[N] = {0};
    bufs t;
    if (setup(&t, a, b) && begin()) {
        uint32_t before = G->rt.sync.n_inserted;
        add(add_set(&t.a, &t.b, &t.y));
        vk_fill(&G->rt, &t.y, 0, N * sizeof(float), 0);
        if (submit(1, 1, before)) CHECKF(mismatches(&t.y, zero) == 0, "the fill did not come after the dispatch");
    }
    teardown(&t);
}

/* Copies into one buffer: disjoint ranges share a step, an overlapping one waits. */
static void test_copies_race_only_where_their_ranges_meet(void) {
    if (!gpu_ready()) return;
    float a[N], b[N], want[N];
    bufs t;
    const VkDeviceSize half = N / 2 * sizeof(float);
    if (setup(&t, a, b) && begin()) {
        uint32_t before = G->rt.sync.n_inserted;
        vk_copy(&G->rt, &t.a, 0, &t.z, 0, half);       /* z[0, N/2) = a[0, N/2) */
        vk_copy(&G->rt, &t.b, half, &t.z, half, half); /* z[N/2, N) = b[N/2, N): no barrier */
        if (submit(0, 0, before)) {
            for (int i = 0; i < N; i++) want[i] = i < N / 2 ? a[i] : b[i];
            CHECK(mismatches(&t.z, want) == 0);
        }
        if (begin()) {
            before = G->rt.sync.n_inserted;
            vk_copy(&G->rt, &t.a, 0, &t.y, 0, half);
            vk_copy(&G->rt, &t.b, 0, &t.y, sizeof(float), sizeof(float)); /* y[1] again: a barrier */
            vk_copy(&G->rt, &t.y, 0, &t.z, 0, 2 * sizeof(float));         /* reads y[0, 2): another */
            if (submit(2, 2, before)) CHECK(((float *)t.z.map)[0] == a[0] && ((float *)t.z.map)[1] == b[0]);
        }
    }
    teardown(&t);
}

/* Two kernels of one step may write one buffer: the engine's matrix parts each write
 * their own rows. The tracker leaves that to the engine (compute/vk_sync.h). */
static void test_two_kernels_writing_one_buffer_share_a_step(void) {
    if (!gpu_ready()) return;
    float a[N], b[N], want[N];
    bufs t;
    if (setup(&t, a, b) && begin()) {
        uint32_t before = G->rt.sync.n_inserted;
        vk_binary_push lo = {N / 2, 0, 0, 0}, hi = {N / 2, N / 2, N / 2, N / 2};
        VkDescriptorSet s = add_set(&t.a, &t.b, &t.y);
        vk_op_add(&G->rt, &G->k, s, &lo); /* y[0, N/2) */
        vk_op_add(&G->rt, &G->k, s, &hi); /* y[N/2, N) */
        if (submit(0, 0, before)) {
            for (int i = 0; i < N; i++) want[i] = a[i] + b[i];
            CHECK(mismatches(&t.y, want) == 0);
        }
    }
    teardown(&t);
}

/* Work on different buffers shares a step: no barrier at all. */
static void test_independent_commands_get_no_barrier(void) {
    if (!gpu_ready()) return;
    float a[N], b[N], sum[N];
    bufs t;
    vk_buffer c = {0};
    if (setup(&t, a, b) && make(&c, a) && begin()) {
        uint32_t before = G->rt.sync.n_inserted;
        add(add_set(&t.a, &t.b, &t.y));                     /* reads a, b; writes y */
        add(add_set(&t.a, &t.b, &t.z));                     /* reads a, b; writes z */
        vk_copy(&G->rt, &t.a, 0, &c, 0, N * sizeof(float)); /* reads a; writes c */
        if (submit(0, 0, before)) {
            for (int i = 0; i < N; i++) sum[i] = a[i] + b[i];
            CHECK(mismatches(&t.y, sum) == 0 && mismatches(&t.z, sum) == 0 && mismatches(&c, a) == 0);
        }
        /* and an explicit barrier leaves nothing pending: the same copy after it adds none */
        if (begin()) {
            before = G->rt.sync.n_inserted;
            add(add_set(&t.a, &t.b, &t.y));
            vk_barrier(&G->rt);
            vk_copy(&G->rt, &t.y, 0, &c, 0, N * sizeof(float));
            if (submit(1, 0, before)) CHECK(mismatches(&c, sum) == 0);
        }
    }
    vk_buffer_destroy(&G->rt, &c);
    teardown(&t);
}

/* The layer's synchronization validation really is on when tests/run.sh says so: a race
 * recorded behind the tracker's back (the raw copy command) must be reported. */
static void test_validation_layer_reports_a_race(void) {
    const char *on = getenv("LLMSCOPE_TEST_SYNCVAL");
    if (!on || strcmp(on, "1") != 0) SKIP("synchronization validation is off (tests/run.sh turns it on)");
    if (!gpu_ready()) return;
    float a[N], b[N];
    bufs t;
    if (setup(&t, a, b) && begin()) {
        int before = G->rt.validation_errors;
        add(add_set(&t.a, &t.b, &t.y));
        VkBufferCopy region = {0, 0, N * sizeof(float)};
        G->rt.vk.CmdCopyBuffer(G->rt.cmd, t.y.buf, t.z.buf, 1, &region);
        char err[512];
        CHECKF(vk_submit(&G->rt, err, sizeof err) == 0, "%s", err);
        CHECKF(G->rt.validation_errors > before, "a copy racing a dispatch was not reported");
        CHECKF(strstr(G->rt.first_validation_error, "SYNC-HAZARD"), "the first error is not a hazard: %s",
               G->rt.first_validation_error);
    }
    teardown(&t);
}

/* ---- the device's subgroup size and the kernels' specialisation ------------------- */

/* The run's environment names the value it means to test: check that it took effect. */
static void check_env(const char *name, uint32_t got) {
    const char *want = getenv(name);
    if (want && *want) CHECKF(got == (uint32_t)atoi(want), "%s=%s, but the value in use is %u", name, want, got);
}

static void test_subgroup_size_and_specialisation(void) {
    if (!gpu_ready()) return;
    const vk_kernels *k = &G->k;
    printf("device %s: subgroup size %u, shared memory %u bytes; kernels: workgroup %u, matvec rows %u, "
           "matmul tiles %ux%ux%u (%ux%u each), attention chunk %u\n",
           G->rt.props.deviceName, G->rt.subgroup_size, G->rt.props.limits.maxComputeSharedMemorySize, k->wg,
           k->matvec_rows, k->tiles.bm, k->tiles.bn, k->tiles.bk, k->tiles.tm, k->tiles.tn, k->attn_chunk);
    /* lavapipe's subgroup size follows LP_NATIVE_VECTOR_WIDTH (128 bits: 4 lanes) */
    if (strstr(G->rt.props.deviceName, "llvmpipe")) check_env("LLMSCOPE_TEST_SUBGROUP", G->rt.subgroup_size);
    check_env("LLMSCOPE_VK_WG", k->wg);
    check_env("LLMSCOPE_VK_MATVEC_ROWS", k->matvec_rows);
    check_env("LLMSCOPE_VK_ATTN_CHUNK", k->attn_chunk);
    const char *tiles = getenv("LLMSCOPE_VK_MATMUL");
    if (tiles && *tiles) {
        char got[64];
        snprintf(got, sizeof got, "%u,%u,%u,%u,%u", k->tiles.bm, k->tiles.bn, k->tiles.bk, k->tiles.tm, k->tiles.tn);
        CHECKF(strcmp(got, tiles) == 0, "LLMSCOPE_VK_MATMUL=%s, but the tiles in use are %s", tiles, got);
    }
    CHECKF(k->wg % G->rt.subgroup_size == 0, "workgroup %u is not whole subgroups of %u", k->wg, G->rt.subgroup_size);
}

int main(void) {
    RUN(test_binding_masks_of_embedded_shaders);
    RUN(test_copy_of_a_dispatch_result_waits_for_it);
    RUN(test_dispatch_reading_a_copy_waits_for_it);
    RUN(test_fill_of_an_input_waits_for_its_reader);
    RUN(test_fill_after_a_writer_waits_for_it);
    RUN(test_copies_race_only_where_their_ranges_meet);
    RUN(test_two_kernels_writing_one_buffer_share_a_step);
    RUN(test_independent_commands_get_no_barrier);
    RUN(test_subgroup_size_and_specialisation);
    RUN(test_validation_layer_reports_a_race); /* last: it leaves a validation error behind */
    if (G) {
        G->rt.vk.DestroyDescriptorPool(G->rt.dev, G->pool, NULL);
        vk_kernels_destroy(&G->rt, &G->k);
        vk_runtime_free(&G->rt);
        free(G);
    }
    return test_exit_code();
}
