/* vk_sync.h — the barrier discipline of the runtime: which buffers each recorded command
 * reads and writes, and a barrier wherever a command would race an earlier one.
 *
 * The engine records its work in steps that end in vk_barrier (several dispatches with no
 * barrier between them run concurrently on a GPU). A copy, a fill or a dispatch placed in
 * the middle of a step is safe only if it does not read what another command of the step
 * writes, nor write what another reads or writes. Lavapipe runs commands one after the
 * other, so a race there passes every test and gives wrong answers on a real GPU; the
 * Khronos layer's synchronization validation finds such races, but only where a test
 * exercises them. So the runtime keeps the bookkeeping itself: since the last barrier, the
 * ranges read and written (a dispatch's whole buffers from its descriptor set and the
 * kernel's SPIR-V, where a binding decorated NonWritable is read only; a copy reads its
 * source range and writes its destination range; a fill writes its range), and before
 * recording a command that would race one of them, it records a barrier first:
 *   read after write, write after read: always;
 *   write after write: when a copy or fill is involved. Two kernels of one step may
 *   write one buffer: that is how the engine writes a matrix split into parts, each part
 *   its own rows (the kernel's push constants say which, which the tracker cannot see).
 * Per buffer for dispatches, as the validation layer sees whole-buffer descriptors, so a
 * correct step costs nothing and a missing barrier costs one barrier. */
#ifndef LLMSCOPE_VK_SYNC_H
#define LLMSCOPE_VK_SYNC_H

#define VK_NO_PROTOTYPES
#include <vulkan/vulkan.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Distinct buffers one step may touch before the tracker gives up and asks for a barrier
 * (a decode step touches about ten). */
#define VK_SYNC_MAX_TRACKED 64
#define VK_SYNC_MAX_BINDINGS 8

/* The buffers a descriptor set binds, by binding. */
typedef struct vk_set_buffers {
    VkDescriptorSet set;
    int n;
    VkBuffer bufs[VK_SYNC_MAX_BINDINGS];
} vk_set_buffers;

/* A range of a buffer one command touches; [0, VK_WHOLE_SIZE) for a dispatch's bindings. */
typedef struct vk_range {
    VkBuffer buf;
    VkDeviceSize lo, hi;
    bool transfer;             /* a copy or fill (for the write-after-write rule) */
} vk_range;

typedef struct vk_sync {
    /* descriptor set -> its buffers: an open-addressing table (capacity a power of two) */
    vk_set_buffers *sets;
    size_t sets_cap, sets_used;
    /* accesses since the last barrier */
    vk_range read[VK_SYNC_MAX_TRACKED], written[VK_SYNC_MAX_TRACKED];
    int n_read, n_written;
    bool overflow;             /* more ranges than tracked: the next command gets a barrier */
    uint32_t n_inserted;       /* barriers the tracker recorded (since the runtime started) */
} vk_sync;

/* Reads the storage-buffer bindings of descriptor set 0 of a SPIR-V module: bit b of
 * *USED is set when the module declares binding b, bit b of *WRITTEN when it may write it
 * (its block is not decorated NonWritable, i.e. not `readonly` in GLSL). Bindings 0..31.
 * Returns false for a malformed module (then every binding counts as written). */
bool vk_spirv_buffer_access(const uint32_t *code, size_t words, uint32_t *used, uint32_t *written);

/* Remembers that SET binds BUFS[0..n-1] (vk_set_create calls it). False when out of memory;
 * a set the tracker does not know makes the next step boundary a barrier. */
bool vk_sync_add_set(vk_sync *s, VkDescriptorSet set, int n, const VkBuffer *bufs);
void vk_sync_free(vk_sync *s);

/* One command's accesses. */
typedef struct vk_access {
    int n_read, n_written;
    vk_range read[VK_SYNC_MAX_BINDINGS], written[VK_SYNC_MAX_BINDINGS];
    bool unknown;              /* a set the tracker has not seen: assume the worst */
} vk_access;

/* A copy of BYTES from SRC at SRC_OFF to DST at DST_OFF; a fill (SRC NULL) of DST. */
void vk_sync_transfer_access(VkBuffer src, VkDeviceSize src_off, VkBuffer dst, VkDeviceSize dst_off,
                             VkDeviceSize bytes, vk_access *out);
/* The accesses of a dispatch of a kernel with binding masks USED / WRITTEN through SET. */
void vk_sync_dispatch_access(const vk_sync *s, VkDescriptorSet set, uint32_t used, uint32_t written,
                             vk_access *out);
/* True when A conflicts with what was recorded since the last barrier (the caller then
 * records a barrier and calls vk_sync_reset before vk_sync_note). */
bool vk_sync_conflicts(const vk_sync *s, const vk_access *a);
/* Adds A to the accesses since the last barrier. */
void vk_sync_note(vk_sync *s, const vk_access *a);
/* A barrier was recorded, or a new command buffer begun: nothing is pending. */
void vk_sync_reset(vk_sync *s);

#endif
