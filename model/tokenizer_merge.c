/* tokenizer_merge.c — the pair-merging loop of SentencePiece and BPE (see merge_run in
 * tokenizer_impl.h).
 *
 * The symbols form a doubly linked chain over the text; candidate pairs wait in a binary
 * min-heap. Merging never re-scans the text: it queues only the two new pairs the merged
 * symbol forms with its neighbours, and entries made stale by earlier merges are noticed
 * when they come out (a side already merged away, or the pair's length changed). */
#include "tokenizer_impl.h"
#include "unicode.h"

#include <stdlib.h>

static bool bigram_less(const merge_bigram *a, const merge_bigram *b) {
    return a->key < b->key || (a->key == b->key && a->left < b->left);
}

static bool heap_push(merge_work *w, merge_bigram b) {
    if (w->n_heap == w->cap_heap) {
        size_t cap = w->cap_heap ? w->cap_heap * 2 : 64;
        merge_bigram *h = realloc(w->heap, cap * sizeof *h);
        if (!h) return false;
        w->heap = h;
        w->cap_heap = cap;
    }
    size_t i = w->n_heap++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!bigram_less(&b, &w->heap[parent])) break;
        w->heap[i] = w->heap[parent];
        i = parent;
    }
    w->heap[i] = b;
    return true;
}

static merge_bigram heap_pop(merge_work *w) {
    merge_bigram top = w->heap[0], last = w->heap[--w->n_heap];
    size_t i = 0, n = w->n_heap;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && bigram_less(&w->heap[c + 1], &w->heap[c])) c++;
        if (!bigram_less(&w->heap[c], &last)) break;
        w->heap[i] = w->heap[c];
        i = c;
    }
    if (n > 0) w->heap[i] = last;
    return top;
}

static bool queue_pair(const tokenizer *t, const char *text, merge_key_fn pair_key,
                       merge_work *w, int32_t left, int32_t right) {
    if (left < 0 || right < 0) return true;
    const merge_symbol *l = &w->sym[left], *r = &w->sym[right];
    double key;
    if (!pair_key(t, text, l, r, &key)) return true;
    return heap_push(w, (merge_bigram){key, left, right, l->len + r->len});
}

bool merge_run(const tokenizer *t, const char *text, size_t len, merge_key_fn pair_key,
               merge_work *w) {
    w->n_sym = 0;
    w->n_heap = 0;
    if (w->cap_sym < len || !w->sym) {
        size_t cap = len > 16 ? len : 16;
        merge_symbol *s = realloc(w->sym, cap * sizeof *s);
        if (!s) return false;
        w->sym = s;
        w->cap_sym = cap;
    }
    for (size_t off = 0; off < len;) {
        size_t n = utf8_seq_len((unsigned char)text[off]);
        if (n > len - off) n = len - off;
        int32_t i = (int32_t)w->n_sym++;
        off += n;
        w->sym[i] = (merge_symbol){(uint32_t)(off - n), (uint32_t)n, i - 1,
                                   off == len ? -1 : i + 1};
    }
    for (size_t i = 1; i < w->n_sym; i++)
        if (!queue_pair(t, text, pair_key, w, (int32_t)i - 1, (int32_t)i)) return false;

    while (w->n_heap > 0) {
        merge_bigram b = heap_pop(w);
        merge_symbol *l = &w->sym[b.left], *r = &w->sym[b.right];
        if (l->len == 0 || r->len == 0 || l->len + r->len != b.len) continue;
        l->len += r->len;
        r->len = 0;
        l->next = r->next;
        if (r->next >= 0) w->sym[r->next].prev = b.left;
        if (!queue_pair(t, text, pair_key, w, l->prev, b.left) ||
            !queue_pair(t, text, pair_key, w, b.left, l->next))
            return false;
    }
    return true;
}

void merge_work_free(merge_work *w) {
    free(w->sym);
    free(w->heap);
}
