/* vk_sync.c — per-buffer hazard tracking between barriers (see vk_sync.h). */
#include "vk_sync.h"

#include <stdlib.h>
#include <string.h>

/* --- SPIR-V: which bindings a module may write ------------------------------------- */

/* The few SPIR-V opcodes, decorations and storage classes this needs (SPIR-V spec,
 * sections 3.20, 3.32). */
enum {
    OP_TYPE_STRUCT = 30, OP_TYPE_POINTER = 32, OP_VARIABLE = 59, OP_DECORATE = 71, OP_MEMBER_DECORATE = 72,
    DEC_NON_WRITABLE = 24, DEC_BINDING = 33, DEC_DESCRIPTOR_SET = 34,
    SC_UNIFORM = 2, SC_STORAGE_BUFFER = 12,
};

typedef struct id_facts {
    int32_t binding;          /* -1: none */
    uint32_t set;
    bool non_writable;        /* on the variable itself */
    uint32_t pointee;         /* OpTypePointer: the type pointed to */
    uint32_t var_type;        /* OpVariable: its pointer type; 0 if not a buffer variable */
    uint32_t members, members_non_writable; /* OpTypeStruct */
} id_facts;

/* Walks the instructions once, filling FACTS (BOUND entries). False when malformed. */
static bool read_ids(const uint32_t *code, size_t words, id_facts *facts, uint32_t bound) {
    for (size_t i = 5; i < words;) {
        uint32_t n = code[i] >> 16, op = code[i] & 0xffff;
        if (n == 0 || i + n > words) return false;
        const uint32_t *a = code + i + 1;
        uint32_t na = n - 1;
        if (op == OP_DECORATE && na >= 2 && a[0] < bound) {
            if (a[1] == DEC_BINDING && na >= 3) facts[a[0]].binding = (int32_t)a[2];
            else if (a[1] == DEC_DESCRIPTOR_SET && na >= 3) facts[a[0]].set = a[2];
            else if (a[1] == DEC_NON_WRITABLE) facts[a[0]].non_writable = true;
        } else if (op == OP_MEMBER_DECORATE && na >= 3 && a[0] < bound && a[2] == DEC_NON_WRITABLE) {
            facts[a[0]].members_non_writable++;
        } else if (op == OP_TYPE_STRUCT && na >= 1 && a[0] < bound) {
            facts[a[0]].members = na - 1;
        } else if (op == OP_TYPE_POINTER && na >= 3 && a[0] < bound) {
            facts[a[0]].pointee = a[2];
        } else if (op == OP_VARIABLE && na >= 3 && a[1] < bound &&
                   (a[2] == SC_STORAGE_BUFFER || a[2] == SC_UNIFORM)) {
            facts[a[1]].var_type = a[0];
        }
        i += n;
    }
    return true;
}

bool vk_spirv_buffer_access(const uint32_t *code, size_t words, uint32_t *used, uint32_t *written) {
    *used = *written = 0xffffffffu;
    if (words < 5 || code[0] != 0x07230203u || code[3] == 0 || code[3] > (1u << 22)) return false;
    uint32_t bound = code[3];
    id_facts *facts = calloc(bound, sizeof *facts);
    if (!facts) return false;
    for (uint32_t i = 0; i < bound; i++) facts[i].binding = -1;
    bool ok = read_ids(code, words, facts, bound);
    uint32_t u = 0, w = 0;
    for (uint32_t id = 0; ok && id < bound; id++) {
        const id_facts *v = &facts[id];
        if (!v->var_type || v->binding < 0 || v->binding > 31 || v->set != 0) continue;
        uint32_t block = v->var_type < bound ? facts[v->var_type].pointee : 0;
        bool members_ro = block < bound && facts[block].members > 0 &&
                          facts[block].members_non_writable >= facts[block].members;
        u |= 1u << v->binding;
        if (!v->non_writable && !members_ro) w |= 1u << v->binding;
    }
    free(facts);
    if (!ok) return false;
    *used = u;
    *written = w;
    return true;
}

/* --- descriptor sets ----------------------------------------------------------------- */

static size_t set_slot(VkDescriptorSet set, size_t cap) {
    uint64_t h = 0;
    memcpy(&h, &set, sizeof set < sizeof h ? sizeof set : sizeof h);
    h *= 0x9E3779B97F4A7C15ull;
    return (size_t)(h >> 20) & (cap - 1);
}

static vk_set_buffers *find_slot(vk_set_buffers *sets, size_t cap, VkDescriptorSet set) {
    size_t i = set_slot(set, cap);
    while (sets[i].set != VK_NULL_HANDLE && sets[i].set != set) i = (i + 1) & (cap - 1);
    return &sets[i];
}

static bool grow(vk_sync *s) {
    size_t cap = s->sets_cap ? s->sets_cap * 2 : 256;
    vk_set_buffers *t = calloc(cap, sizeof *t);
    if (!t) return false;
    for (size_t i = 0; i < s->sets_cap; i++)
        if (s->sets[i].set != VK_NULL_HANDLE) *find_slot(t, cap, s->sets[i].set) = s->sets[i];
    free(s->sets);
    s->sets = t;
    s->sets_cap = cap;
    return true;
}

bool vk_sync_add_set(vk_sync *s, VkDescriptorSet set, int n, const VkBuffer *bufs) {
    if (set == VK_NULL_HANDLE || n < 0 || n > VK_SYNC_MAX_BINDINGS) return false;
    if ((s->sets_used + 1) * 2 > s->sets_cap && !grow(s)) return false;
    /* A handle the driver hands out again (its pool was destroyed) replaces the old entry. */
    vk_set_buffers *e = find_slot(s->sets, s->sets_cap, set);
    if (e->set == VK_NULL_HANDLE) s->sets_used++;
    e->set = set;
    e->n = n;
    memcpy(e->bufs, bufs, (size_t)n * sizeof *bufs);
    return true;
}

void vk_sync_free(vk_sync *s) {
    free(s->sets);
    memset(s, 0, sizeof *s);
}

/* --- accesses ------------------------------------------------------------------------ */

static const VkDeviceSize WHOLE = ~(VkDeviceSize)0;

void vk_sync_dispatch_access(const vk_sync *s, VkDescriptorSet set, uint32_t used, uint32_t written,
                             vk_access *out) {
    memset(out, 0, sizeof *out);
    const vk_set_buffers *e = s->sets_cap ? find_slot(s->sets, s->sets_cap, set) : NULL;
    if (!e || e->set != set) {
        out->unknown = true;
        return;
    }
    for (int b = 0; b < e->n; b++) {
        if (!(used >> b & 1)) continue;
        vk_range r = {e->bufs[b], 0, WHOLE, false};
        if (written >> b & 1) out->written[out->n_written++] = r;
        else out->read[out->n_read++] = r;
    }
}

void vk_sync_transfer_access(VkBuffer src, VkDeviceSize src_off, VkBuffer dst, VkDeviceSize dst_off,
                             VkDeviceSize bytes, vk_access *out) {
    memset(out, 0, sizeof *out);
    VkDeviceSize n = bytes == VK_WHOLE_SIZE ? WHOLE - (src_off > dst_off ? src_off : dst_off) : bytes;
    if (src != VK_NULL_HANDLE) out->read[out->n_read++] = (vk_range){src, src_off, src_off + n, true};
    out->written[out->n_written++] = (vk_range){dst, dst_off, dst_off + n, true};
}

static bool overlap(const vk_range *a, const vk_range *b) {
    return a->buf == b->buf && a->lo < b->hi && b->lo < a->hi;
}

static bool overlaps_any(const vk_range *list, int n, const vk_range *r, bool transfers_only) {
    for (int i = 0; i < n; i++)
        if (overlap(&list[i], r) && (!transfers_only || list[i].transfer || r->transfer)) return true;
    return false;
}

bool vk_sync_conflicts(const vk_sync *s, const vk_access *a) {
    if (s->n_read == 0 && s->n_written == 0 && !s->overflow) return false;
    if (a->unknown || s->overflow) return true;
    for (int i = 0; i < a->n_written; i++) /* write after read; write after write (transfers) */
        if (overlaps_any(s->read, s->n_read, &a->written[i], false) ||
            overlaps_any(s->written, s->n_written, &a->written[i], true))
            return true;
    for (int i = 0; i < a->n_read; i++) /* read after write */
        if (overlaps_any(s->written, s->n_written, &a->read[i], false)) return true;
    return false;
}

static void add(vk_range *list, int *n, bool *overflow, const vk_range *r) {
    for (int i = 0; i < *n; i++)
        if (list[i].buf == r->buf && list[i].lo == r->lo && list[i].hi == r->hi && list[i].transfer == r->transfer)
            return;
    if (*n == VK_SYNC_MAX_TRACKED) *overflow = true;
    else list[(*n)++] = *r;
}

void vk_sync_note(vk_sync *s, const vk_access *a) {
    if (a->unknown) s->overflow = true;
    for (int i = 0; i < a->n_read; i++) add(s->read, &s->n_read, &s->overflow, &a->read[i]);
    for (int i = 0; i < a->n_written; i++) add(s->written, &s->n_written, &s->overflow, &a->written[i]);
}

void vk_sync_reset(vk_sync *s) {
    s->n_read = s->n_written = 0;
    s->overflow = false;
}
