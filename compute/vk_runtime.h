/* vk_runtime.h — the Vulkan plumbing under the GPU engine: loader, device, memory,
 * pipelines, command recording, timing.
 *
 * The Vulkan loader is opened at run time (dlopen), not linked: llmscope must start and
 * run on the CPU on machines that have no libvulkan at all, and report "no Vulkan loader"
 * as one line when the GPU is asked for. Every entry point therefore goes through the
 * function table in vk_runtime (rt->vk.CreateBuffer(...)), loaded per runtime.
 *
 * Everything here is vendor-neutral: no extension is required beyond Vulkan 1.2 core
 * with subgroup arithmetic in compute shaders; shaders read weights as 32-bit words so
 * that no 8/16-bit storage feature is needed. */
#ifndef LLMSCOPE_VK_RUNTIME_H
#define LLMSCOPE_VK_RUNTIME_H

#define VK_NO_PROTOTYPES
#include <vulkan/vulkan.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Entry points used by llmscope, loaded from the loader / instance / device. */
#define VK_INSTANCE_FNS(X)                                                               \
    X(DestroyInstance) X(EnumeratePhysicalDevices) X(GetPhysicalDeviceProperties)         \
    X(GetPhysicalDeviceProperties2) X(GetPhysicalDeviceFeatures2)                         \
    X(GetPhysicalDeviceMemoryProperties) X(GetPhysicalDeviceQueueFamilyProperties)        \
    X(CreateDevice) X(GetDeviceProcAddr)
#define VK_DEVICE_FNS(X)                                                                 \
    X(DestroyDevice) X(GetDeviceQueue) X(CreateBuffer) X(DestroyBuffer)                   \
    X(GetBufferMemoryRequirements) X(AllocateMemory) X(FreeMemory) X(BindBufferMemory)    \
    X(MapMemory) X(UnmapMemory) X(InvalidateMappedMemoryRanges) X(CreateShaderModule)     \
    X(DestroyShaderModule) X(CreatePipelineCache) X(GetPipelineCacheData)                 \
    X(DestroyPipelineCache) X(CreateComputePipelines) X(DestroyPipeline)                  \
    X(CreateDescriptorSetLayout) X(DestroyDescriptorSetLayout) X(CreatePipelineLayout)    \
    X(DestroyPipelineLayout) X(CreateDescriptorPool) X(DestroyDescriptorPool)             \
    X(AllocateDescriptorSets) X(UpdateDescriptorSets) X(CreateCommandPool)                \
    X(DestroyCommandPool) X(AllocateCommandBuffers) X(BeginCommandBuffer)                 \
    X(EndCommandBuffer) X(ResetCommandBuffer) X(CmdBindPipeline) X(CmdBindDescriptorSets) \
    X(CmdPushConstants) X(CmdDispatch) X(CmdPipelineBarrier) X(CmdCopyBuffer)             \
    X(CmdFillBuffer) X(CmdWriteTimestamp) X(CmdResetQueryPool) X(CreateQueryPool)         \
    X(DestroyQueryPool) X(GetQueryPoolResults) X(CreateFence) X(DestroyFence)             \
    X(ResetFences) X(WaitForFences) X(QueueSubmit) X(DeviceWaitIdle)

typedef struct vk_fns {
    void *lib; /* dlopen handle of the loader */
    PFN_vkGetInstanceProcAddr GetInstanceProcAddr;
    PFN_vkCreateInstance CreateInstance;
    PFN_vkEnumerateInstanceLayerProperties EnumerateInstanceLayerProperties;
    PFN_vkEnumerateInstanceExtensionProperties EnumerateInstanceExtensionProperties;
    PFN_vkCreateDebugUtilsMessengerEXT CreateDebugUtilsMessengerEXT;
    PFN_vkDestroyDebugUtilsMessengerEXT DestroyDebugUtilsMessengerEXT;
#define VK_FN_FIELD(name) PFN_vk##name name;
    VK_INSTANCE_FNS(VK_FN_FIELD)
    VK_DEVICE_FNS(VK_FN_FIELD)
#undef VK_FN_FIELD
} vk_fns;

/* The most storage buffers one kernel binds, and the push-constant block every kernel
 * may use (128 bytes is the minimum every Vulkan device guarantees). */
#define VK_MAX_BINDINGS 8
#define VK_PUSH_BYTES 128
#define VK_MAX_TIMESTAMPS 1024

typedef struct vk_runtime {
    vk_fns vk;
    VkInstance instance;
    VkDebugUtilsMessengerEXT messenger;
    int validation_errors;       /* counted by the messenger when the layer is on */
    char first_validation_error[256];

    VkPhysicalDevice phys;
    VkPhysicalDeviceProperties props;
    VkPhysicalDeviceMemoryProperties mem;
    char driver_name[64];
    uint32_t subgroup_size;
    VkDeviceSize max_range;      /* largest storage-buffer binding (LLMSCOPE_VK_MAX_BUFFER
                                    lowers it, for tests) */
    VkDeviceSize max_alloc;      /* largest single allocation */

    VkDevice dev;
    uint32_t queue_family;
    VkQueue queue;
    VkCommandPool cmd_pool;
    /* Two command buffers, so that one can be recorded while the other executes (the
     * engine records the next decode step during the current one); CMD is the one being
     * recorded, BOUND what was last bound in it (repeated binds are skipped). */
    VkCommandBuffer cmds[2];
    VkCommandBuffer cmd;
    VkPipeline bound_pipeline;
    VkDescriptorSet bound_set;
    VkFence fence;
    bool in_flight;              /* submitted and not yet waited for */
    bool lost;                   /* device lost or hung: every later call fails fast */
    bool hung;                   /* a submit outlived its timeout: the GPU may still be busy */
    uint64_t fence_timeout_ns;

    VkPipelineCache pipeline_cache;
    char cache_path[512];        /* "" when no cache directory could be found */
    VkDescriptorSetLayout set_layout[VK_MAX_BINDINGS + 1]; /* index: binding count */
    VkPipelineLayout pipe_layout[VK_MAX_BINDINGS + 1];

    uint32_t n_dispatches, n_barriers; /* recorded in the current command buffer */

    VkQueryPool timestamps;      /* VK_NULL_HANDLE when the queue cannot time */
    uint32_t n_timestamps;       /* written in the current command buffer */
    double timestamp_ns;         /* nanoseconds per tick */
} vk_runtime;

/* Prints one line per Vulkan device (index, name, type, driver, API version, memory)
 * to OUT. Returns the number of devices, or -1 with ERR filled (no loader, no driver). */
int vk_list_devices(FILE *out, char *err, size_t errlen);

/* Opens the loader, creates the instance (with a validation-error counter when
 * VK_INSTANCE_LAYERS names the Khronos validation layer or LLMSCOPE_VK_VALIDATION=1),
 * picks a device (DEVICE_INDEX >= 0, else discrete, integrated, virtual, then CPU) and
 * creates the queue, command buffer, fence, pipeline cache and layouts.
 * RT must stay at one address until vk_runtime_free (the messenger points at it).
 * Returns 0, or -1 with ERR filled; vk_runtime_free is safe after a failure. */
int vk_runtime_init(vk_runtime *rt, int device_index, char *err, size_t errlen);
/* Waits for the device, saves the pipeline cache, destroys everything. */
void vk_runtime_free(vk_runtime *rt);

/* --- memory ---------------------------------------------------------------------- */
typedef enum {
    VK_MEM_DEVICE,   /* device-local: weights, activations, KV cache */
    VK_MEM_UPLOAD,   /* host-visible, written by the CPU: staging, token ids */
    VK_MEM_READBACK  /* host-visible, cached when possible: results the CPU reads */
} vk_mem_kind;

typedef struct vk_buffer {
    VkBuffer buf;
    VkDeviceMemory mem;
    VkDeviceSize size;
    void *map;                   /* host-visible kinds only */
    bool coherent;
} vk_buffer;

/* SIZE > max_range or max_alloc is an error: callers split (see vk_engine.c). */
int vk_buffer_create(vk_runtime *rt, vk_buffer *b, VkDeviceSize size, vk_mem_kind kind,
                     const char *what, char *err, size_t errlen);
void vk_buffer_destroy(vk_runtime *rt, vk_buffer *b);
/* Makes GPU writes to a READBACK buffer visible to the CPU (after vk_submit). */
void vk_buffer_invalidate(vk_runtime *rt, vk_buffer *b);
/* Copies N bytes from host memory into DST at OFFSET through STAGING (an UPLOAD buffer),
 * in as many submits as the staging size requires. Not while recording. */
int vk_upload(vk_runtime *rt, vk_buffer *staging, vk_buffer *dst, VkDeviceSize offset,
              const void *src, size_t n, char *err, size_t errlen);

/* --- kernels --------------------------------------------------------------------- */
typedef struct vk_kernel {
    const char *name;
    VkPipeline pipeline;
    VkPipelineLayout layout;
    int n_bindings;
    uint32_t wg_size;            /* local_size_x, specialization constant 0 */
} vk_kernel;

/* Builds the pipeline for the embedded shader NAME (shaders/NAME.comp, or a wrapper the
 * Makefile generated from shaders/types.def) with
 * N_BINDINGS storage buffers at bindings 0..n-1 and specialization constants
 * 0 = WG_SIZE, 1.. = EXTRA[0..n_extra-1]. */
int vk_kernel_create(vk_runtime *rt, vk_kernel *k, const char *name, int n_bindings,
                     uint32_t wg_size, const uint32_t *extra, int n_extra,
                     char *err, size_t errlen);
void vk_kernel_destroy(vk_runtime *rt, vk_kernel *k);

/* A descriptor set binding whole buffers BUFS[0..n-1] in order, allocated from POOL. */
int vk_set_create(vk_runtime *rt, VkDescriptorPool pool, int n, vk_buffer *const *bufs,
                  VkDescriptorSet *out, char *err, size_t errlen);
int vk_pool_create(vk_runtime *rt, uint32_t max_sets, VkDescriptorPool *out, char *err,
                   size_t errlen);

/* --- recording: begin, dispatch/copy/barrier..., submit (one submit, one wait) ------ */
/* Starts recording into command buffer 0 (vk_begin_slot: SLOT 0 or 1, which must not be
 * executing). */
int vk_begin(vk_runtime *rt, char *err, size_t errlen);
int vk_begin_slot(vk_runtime *rt, int slot, char *err, size_t errlen);
void vk_dispatch(vk_runtime *rt, const vk_kernel *k, VkDescriptorSet set, const void *push,
                 size_t push_bytes, uint32_t gx, uint32_t gy, uint32_t gz);
/* Orders everything recorded before (shader and transfer writes) before everything
 * recorded after: one global memory barrier. */
void vk_barrier(vk_runtime *rt);
void vk_copy(vk_runtime *rt, vk_buffer *src, VkDeviceSize src_off, vk_buffer *dst,
             VkDeviceSize dst_off, VkDeviceSize bytes);
/* Fills BYTES (a multiple of 4) of DST from OFFSET with the 32-bit VALUE. */
void vk_fill(vk_runtime *rt, vk_buffer *dst, VkDeviceSize offset, VkDeviceSize bytes, uint32_t value);
/* Records a timestamp; returns its index or -1 when timing is unavailable or full. */
int vk_timestamp(vk_runtime *rt);
/* Ends, submits and waits (bounded by fence_timeout_ns). Device loss, a hang or an
 * error marks the runtime lost and fills ERR. */
int vk_submit(vk_runtime *rt, char *err, size_t errlen);
/* The same in steps: vk_end closes the recording (with the barrier that makes its writes
 * visible to the host), vk_launch submits command buffer SLOT (recorded and ended) and
 * returns at once, vk_wait waits for it. One submission at a time. */
int vk_end(vk_runtime *rt, char *err, size_t errlen);
int vk_launch(vk_runtime *rt, int slot, char *err, size_t errlen);
int vk_wait(vk_runtime *rt, char *err, size_t errlen);
/* After vk_submit: ticks of timestamps [0, n) converted to nanoseconds in NS. */
int vk_read_timestamps(vk_runtime *rt, double *ns, uint32_t n);

/* Dispatch grid for COUNT workgroups along x, folded into z when COUNT exceeds the
 * 65535 every device guarantees (shaders rebuild the index as x + z * num_x). */
void vk_fold_groups(uint32_t count, uint32_t *gx, uint32_t *gz);

const char *vk_result_name(VkResult r);

#endif
