/* bench_moe.c — `llmscope bench` on a mixture of experts: the weight bytes one decoded
 * token touches on the CPU, against the dense equivalent (every expert of every layer).
 *
 * Two measurements of the same thing:
 *   read     the CPU engine's own count of the bytes its matrix products read
 *            (engine_cpu_weight_bytes): the chosen experts' rows, the attention, the
 *            routers and the output head;
 *   touched  the expert matrices' pages the process actually had mapped after each step,
 *            from /proc/self/pagemap: before a step the expert ranges are unmapped
 *            (madvise MADV_DONTNEED: the file stays in the page cache, the next touch maps
 *            the page again), after it the present pages are counted. The kernel maps a
 *            few neighbouring cached pages with each fault (fault-around, 64 KiB by
 *            default), so this counts a little more than was read.
 * The Vulkan engine keeps every expert resident on the device; its kernels read the
 * chosen ones (compute/vk_moe.c), which this CPU measurement does not cover. */
#include "bench_moe.h"
#include "engine.h"
#include "moe.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

typedef struct range {
    uintptr_t start, end; /* page-aligned */
} range;

/* The page-aligned ranges of every expert matrix of M (at most CAP). */
static int expert_ranges(const model *m, range *out, int cap) {
    const uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    int n = 0;
    for (int l = 0; l < m->hp.n_layer; l++) {
        const weight *ws[] = {&m->layers[l].gate_exps, &m->layers[l].up_exps, &m->layers[l].down_exps};
        for (int i = 0; i < 3 && n < cap; i++) {
            if (!ws[i]->data) continue;
            uintptr_t a = (uintptr_t)ws[i]->data, b = a + (uintptr_t)(ws[i]->rows * (int64_t)ws[i]->row_bytes);
            /* whole pages inside the matrix only: neighbours may be other tensors */
            out[n++] = (range){(a + page - 1) / page * page, b / page * page};
        }
    }
    return n;
}

/* Bytes of RANGES mapped into this process now (pagemap's present bit), or -1. */
static double present_bytes(int fd, const range *r, int n) {
    const uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uint64_t entries[4096], present = 0;
    for (int i = 0; i < n; i++)
        for (uintptr_t p = r[i].start; p < r[i].end;) {
            size_t k = (r[i].end - p) / page;
            if (k > 4096) k = 4096;
            if (pread(fd, entries, k * 8, (off_t)(p / page * 8)) != (ssize_t)(k * 8)) return -1;
            for (size_t j = 0; j < k; j++) present += entries[j] >> 63;
            p += k * page;
        }
    return (double)present * (double)page;
}

static void unmap_ranges(const range *r, int n) {
    for (int i = 0; i < n; i++)
        if (r[i].end > r[i].start) madvise((void *)r[i].start, r[i].end - r[i].start, MADV_DONTNEED);
}

int bench_moe(const model *m, const int32_t *tokens, int n_decode, char *err, size_t errlen) {
    const model_hparams *hp = &m->hp;
    if (!hp->moe.n_expert) return 0;
    if (n_decode > 32) n_decode = 32;
    uint64_t experts = 0, dense = 0;
    for (int l = 0; l < hp->n_layer; l++) {
        const layer_weights *lw = &m->layers[l];
        const weight *ex[] = {&lw->gate_exps, &lw->up_exps, &lw->down_exps, &lw->gate_shexp, &lw->up_shexp,
                              &lw->down_shexp, &lw->wq, &lw->wk, &lw->wv, &lw->wqkv, &lw->wo, &lw->router};
        for (int i = 0; i < 12; i++)
            if (ex[i]->data) *(i < 3 ? &experts : &dense) += (uint64_t)ex[i]->rows * ex[i]->row_bytes;
    }
    dense += (uint64_t)m->output.rows * m->output.row_bytes;
    engine *e = engine_cpu_create(m, n_decode + 1, err, errlen);
    if (!e) return -1;
    range ranges[3 * 1024];
    const int n_ranges = expert_ranges(m, ranges, 3 * 1024);
    int fd = open("/proc/self/pagemap", O_RDONLY);
    float *logits = malloc((size_t)hp->n_vocab * sizeof *logits);
    double touched = 0;
    int rc = logits ? 0 : -1, measured = 0;
    int32_t tok = tokens[0];
    uint64_t before = engine_cpu_weight_bytes(e);
    for (int i = 0; rc == 0 && i < n_decode; i++) {
        if (fd >= 0) unmap_ranges(ranges, n_ranges);
        engine_batch b = {.tokens = &tok, .n_tokens = 1, .pos = i, .logits = logits};
        rc = engine_eval(e, &b, err, errlen);
        double t = fd >= 0 && rc == 0 ? present_bytes(fd, ranges, n_ranges) : -1;
        if (t >= 0) touched += t, measured++;
        tok = 0;
        for (int v = 1; v < hp->n_vocab; v++)
            if (logits[v] > logits[tok]) tok = v;
    }
    const double read = (double)(engine_cpu_weight_bytes(e) - before) / n_decode, all = (double)(experts + dense);
    if (rc == 0) {
        printf("\nmixture of experts, CPU decode of %d tokens (%d of %d experts per layer):\n", n_decode, hp->moe.n_used,
               hp->moe.n_expert);
        printf("  weights read per token     %10.1f MB  (%.1f%% of the dense equivalent, %.1f MB: every expert)\n",
               read / 1e6, 100.0 * read / all, all / 1e6);
        if (measured)
            printf("  expert pages touched       %10.1f MB  per token (pagemap; of %.1f MB of experts, %.1f%%)\n",
                   touched / measured / 1e6, (double)experts / 1e6, 100.0 * touched / measured / (double)experts);
        else
            printf("  expert pages touched       (no /proc/self/pagemap here)\n");
    }
    if (fd >= 0) close(fd);
    free(logits);
    engine_destroy(e);
    return rc;
}
