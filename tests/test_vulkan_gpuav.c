/* test_vulkan_gpuav.c — proof that GPU-assisted validation is really on when tests/run.sh
 * says so: a test-only kernel (tests/shaders/out_of_bounds.comp) writes past the end of
 * its buffer, and the Khronos layer must report it; the same kernel within the buffer
 * must not be reported.
 *
 * tests/run.sh runs this binary (and a few others) with VK_LAYER_SETTINGS_PATH pointing at
 * tests/vk_gpuav and LLMSCOPE_TEST_GPUAV=1. Without that it SKIPs: the layer's ordinary
 * checks cannot see inside a shader. The layer (1.3.239) checks against the buffer's size,
 * so the buffer is bound at the start of a memory allocation four times as large: the
 * writes past its end land in memory the test owns, whatever the driver does. */
#include "spirv_blobs.h"
#include "test.h"
#include "test_vulkan.h"
#include "vk_runtime.h"

#include <stdint.h>

extern const spirv_blob TEST_SPIRV_BLOBS[];

#define BUFFER_FLOATS 64
#define MEMORY_BYTES (4 * BUFFER_FLOATS * sizeof(float))

typedef struct push { uint32_t count, shift; } push;

static const spirv_blob *test_blob(const char *name) {
    for (const spirv_blob *b = TEST_SPIRV_BLOBS; b->name; b++)
        if (strcmp(b->name, name) == 0) return b;
    return NULL;
}

/* B: a buffer of BUFFER_FLOATS floats at the start of MEMORY_BYTES of host-visible memory. */
static bool small_buffer_in_large_memory(vk_runtime *rt, vk_buffer *b) {
    VkBufferCreateInfo bi = {.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO, .size = BUFFER_FLOATS * sizeof(float),
                             .usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT, .sharingMode = VK_SHARING_MODE_EXCLUSIVE};
    if (rt->vk.CreateBuffer(rt->dev, &bi, NULL, &b->buf) != VK_SUCCESS) return false;
    b->size = bi.size;
    VkMemoryRequirements req;
    rt->vk.GetBufferMemoryRequirements(rt->dev, b->buf, &req);
    int type = -1;
    const VkMemoryPropertyFlags want = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
    for (uint32_t i = 0; i < rt->mem.memoryTypeCount && type < 0; i++)
        if ((req.memoryTypeBits >> i & 1) && (rt->mem.memoryTypes[i].propertyFlags & want) == want) type = (int)i;
    VkMemoryAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO,
                               .allocationSize = req.size > MEMORY_BYTES ? req.size : MEMORY_BYTES,
                               .memoryTypeIndex = (uint32_t)type};
    return type >= 0 && rt->vk.AllocateMemory(rt->dev, &ai, NULL, &b->mem) == VK_SUCCESS &&
           rt->vk.BindBufferMemory(rt->dev, b->buf, b->mem, 0) == VK_SUCCESS;
}

/* Runs the kernel with SHIFT; returns the validation errors it caused (-1 on failure). */
static int run_kernel(vk_runtime *rt, vk_kernel *k, VkDescriptorSet set, uint32_t shift) {
    char err[512];
    int before = rt->validation_errors;
    push p = {32, shift};
    if (vk_begin(rt, err, sizeof err)) return -1;
    vk_dispatch(rt, k, set, &p, sizeof p, 1, 1, 1);
    if (vk_submit(rt, err, sizeof err)) {
        CHECKF(0, "%s", err);
        return -1;
    }
    return rt->validation_errors - before;
}

static void test_out_of_bounds_write_is_caught(void) {
    const char *on = getenv("LLMSCOPE_TEST_GPUAV");
    if (!on || strcmp(on, "1") != 0)
        SKIP("GPU-assisted validation is off (tests/run.sh runs this test with it on)");
    const spirv_blob *blob = test_blob("out_of_bounds");
    CHECK(blob != NULL);
    if (!blob) return;
    vk_runtime *rt = calloc(1, sizeof *rt);
    char err[512];
    vk_engine_options vo = vk_options_from_env(-1, false);
    if (vk_runtime_init(rt, -1, &vo.rt, err, sizeof err)) {
        vk_runtime_free(rt);
        free(rt);
        SKIP("no Vulkan device: %.400s", err);
    }
    CHECKF(rt->messenger != VK_NULL_HANDLE, "the validation layer is not on (LLMSCOPE_VK_VALIDATION=1?)");
    vk_kernel k = {0};
    vk_buffer b = {0};
    VkDescriptorPool pool = VK_NULL_HANDLE;
    VkDescriptorSet set;
    bool ready = vk_kernel_create_spirv(rt, &k, blob->name, (const uint32_t *)(const void *)blob->data,
                                        (size_t)(blob->end - blob->data) / 4, 1, 32, NULL, 0, err, sizeof err) == 0 &&
                 small_buffer_in_large_memory(rt, &b) && vk_pool_create(rt, 4, &pool, err, sizeof err) == 0 &&
                 vk_set_create(rt, pool, 1, (vk_buffer *[]){&b}, &set, err, sizeof err) == 0;
    CHECKF(ready, "set-up: %s", err);
    if (ready) {
        /* 32 writes from y[0]: inside the buffer's 64 floats */
        int inside = run_kernel(rt, &k, set, 0);
        CHECKF(inside == 0, "writes inside the buffer gave %d validation errors (first: %s)", inside,
               rt->first_validation_error);
        /* 32 writes from y[48]: 16 of them past the buffer's end */
        int outside = run_kernel(rt, &k, set, 48);
        CHECKF(outside > 0, "GPU-assisted validation did not report writes past the buffer's end");
        CHECKF(strstr(rt->first_validation_error, "bounds") || strstr(rt->first_validation_error, "OOB") ||
                   strstr(rt->first_validation_error, "out of range"),
               "the first validation error is not about the out-of-bounds write: %s", rt->first_validation_error);
    }
    if (pool) rt->vk.DestroyDescriptorPool(rt->dev, pool, NULL);
    vk_buffer_destroy(rt, &b);
    vk_kernel_destroy(rt, &k);
    vk_runtime_free(rt);
    free(rt);
}

int main(void) {
    RUN(test_out_of_bounds_write_is_caught);
    return test_exit_code();
}
