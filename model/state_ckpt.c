/* state_ckpt.c — recurrent-state checkpoints (see state_ckpt.h). */
#include "state_ckpt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ckpts_init(state_ckpts *c, int n_ctx) {
    memset(c, 0, sizeof *c);
    c->interval = CKPT_INTERVAL;
    c->budget = CKPT_BUDGET;
    const char *mib = getenv("LLMSCOPE_CHECKPOINT_MIB");
    if (mib && *mib) c->budget = (size_t)strtoul(mib, NULL, 10) << 20;
    c->n_ctx = n_ctx;
    c->tokens = calloc((size_t)n_ctx, sizeof *c->tokens);
    return c->tokens ? 0 : -1;
}

static void drop(state_ckpts *c, int i) {
    c->bytes -= c->list[i].bytes;
    free(c->list[i].data);
    memmove(c->list + i, c->list + i + 1, (size_t)(c->n - i - 1) * sizeof *c->list);
    c->n--;
}

void ckpts_free(state_ckpts *c) {
    while (c->n) drop(c, c->n - 1);
    free(c->list);
    free(c->tokens);
    memset(c, 0, sizeof *c);
}

void ckpts_advance(state_ckpts *c, const int32_t *tokens, int pos, int n) {
    memcpy(c->tokens + pos, tokens, (size_t)n * sizeof *tokens);
    c->state_pos = pos + n;
}

int ckpts_room(const state_ckpts *c, int pos) { return c->interval - pos % c->interval; }

int ckpts_rewind(state_ckpts *c, const ckpt_host *h, int pos, char *err, size_t errlen) {
    if (pos == c->state_pos) return 0;
    if (pos > c->state_pos) {
        snprintf(err, errlen, "eval: position %d is past the %d positions already evaluated", pos, c->state_pos);
        return -1;
    }
    while (c->n && c->list[c->n - 1].pos > pos) drop(c, c->n - 1);
    const state_ckpt *k = c->n ? &c->list[c->n - 1] : NULL;
    const int from = k ? k->pos : 0;
    if (h->load(h->ctx, from, k ? k->data : NULL, err, errlen)) return -1;
    c->state_pos = from;
    /* the tokens between are the ones already evaluated there: replaying them writes the
     * same keys and values over themselves and brings the state forward */
    return pos > from ? h->replay(h->ctx, c->tokens + from, from, pos - from, err, errlen) : 0;
}

/* Makes room for BYTES more: drops the oldest periodic checkpoints, then the oldest marked
 * ones. False when even that is not enough. */
static bool fit(state_ckpts *c, size_t bytes) {
    if (bytes > c->budget) return false;
    while (c->bytes + bytes > c->budget) {
        int victim = 0;
        for (int i = 0; i < c->n; i++)
            if (!c->list[i].marked) {
                victim = i;
                break;
            }
        drop(c, victim);
    }
    return true;
}

void ckpts_take(state_ckpts *c, const ckpt_host *h, bool marked) {
    const int pos = c->state_pos;
    if (pos == 0) return; /* the zero state needs no copy */
    for (int i = 0; i < c->n; i++)
        if (c->list[i].pos == pos) {
            c->list[i].marked |= marked;
            return;
        }
    size_t bytes = h->snapshot_bytes(h->ctx, pos);
    if (!fit(c, bytes)) return;
    if (c->n == c->cap) {
        int cap = c->cap ? 2 * c->cap : 16;
        state_ckpt *l = realloc(c->list, (size_t)cap * sizeof *l);
        if (!l) return;
        c->list = l;
        c->cap = cap;
    }
    void *data = malloc(bytes);
    if (!data) return;
    if (!h->save(h->ctx, pos, data)) {
        free(data);
        return;
    }
    /* checkpoints are taken at the live state, which is past every kept one */
    c->list[c->n++] = (state_ckpt){pos, marked, bytes, data};
    c->bytes += bytes;
}
