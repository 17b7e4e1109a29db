/* state_ckpt.h — checkpoints of a recurrent state, so that an engine with recurrent
 * layers (Gated DeltaNet, deltanet.h) keeps the promise of engine.h: evaluating at an
 * earlier position simply overwrites.
 *
 * A KV cache is rewound by writing over it; a recurrent state folds every token into a
 * fixed-size summary that cannot be unfolded. So an engine keeps copies of its state at
 * some positions (every `interval` positions, and wherever its user marks one: a turn's
 * start, a probe's fork), the token it evaluated at every position, and rewinds to a
 * position by loading the nearest copy at or before it and evaluating the tokens between
 * again. The engines' results do not depend on how tokens are batched (the chunked form
 * aligns its chunks to positions), so a rewound state is the state a fresh evaluation of
 * the same tokens reaches. Copies past a memory budget are dropped, oldest periodic ones
 * first; position 0 needs none (the state is then zero). */
#ifndef LLMSCOPE_STATE_CKPT_H
#define LLMSCOPE_STATE_CKPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct state_ckpt {
    int pos;          /* the state after tokens 0 .. pos-1 */
    bool marked;      /* asked for by the engine's user, not periodic */
    size_t bytes;
    void *data;
} state_ckpt;

typedef struct state_ckpts {
    state_ckpt *list; /* by position */
    int n, cap;
    size_t bytes, budget;
    int interval;     /* a periodic checkpoint at every multiple of it */
    int32_t *tokens;  /* [n_ctx]: the token evaluated at each position */
    int n_ctx;
    int state_pos;    /* the live state holds tokens 0 .. state_pos-1 */
} state_ckpts;

/* Periodic checkpoints every this many positions (a multiple of DN_CHUNK), and the
 * default budget (LLMSCOPE_CHECKPOINT_MIB overrides it). */
#define CKPT_INTERVAL 256
#define CKPT_BUDGET (256u << 20)

/* Returns 0, or -1 when out of memory. */
int ckpts_init(state_ckpts *c, int n_ctx);
void ckpts_free(state_ckpts *c);

/* What an engine lends the checkpoints: its state, and its evaluation without outputs. */
typedef struct ckpt_host {
    void *ctx;
    size_t (*snapshot_bytes)(void *ctx, int pos);
    bool (*save)(void *ctx, int pos, void *dst); /* false: nothing copied (device lost) */
    /* SRC == NULL: the state at position 0 */
    int (*load)(void *ctx, int pos, const void *src, char *err, size_t errlen);
    int (*replay)(void *ctx, const int32_t *tokens, int pos, int n, char *err, size_t errlen);
} ckpt_host;

/* Brings the live state to position POS (<= state_pos) before tokens are evaluated there:
 * forgets the checkpoints past POS (their history is being rewritten), loads the nearest
 * one at or before it and replays the tokens between. Returns 0, or -1 with ERR. */
int ckpts_rewind(state_ckpts *c, const ckpt_host *h, int pos, char *err, size_t errlen);
/* Records the N tokens evaluated at positions POS .. (the live state now follows them). */
void ckpts_advance(state_ckpts *c, const int32_t *tokens, int pos, int n);
/* Keeps a copy of the live state at state_pos, marked or periodic (no-op if one is
 * there). Out of memory or over the budget it keeps nothing: rewinds just replay more. */
void ckpts_take(state_ckpts *c, const ckpt_host *h, bool marked);
/* How many tokens an evaluation from POS may run before the next periodic checkpoint. */
int ckpts_room(const state_ckpts *c, int pos);

#endif
