/* qdot_impl.h — what qdot.c shares with the files of each instruction set: the table of
 * their functions, and (with QDOT_DRIVER defined) the parts every copy compiles for its
 * own processor: the activation quantiser, the type table and the decoding of a tile.
 *
 * A file for an instruction set (qdot_plain.c, qdot_avx2.c, qdot_avx512.c) defines
 *   static void interleave(const int8_t *stage, int64_t cols, int8_t *tq);
 *       stage [QDOT_ROWS][cols] decoded quants, row by row -> tq [cols / 4][QDOT_ROWS][4],
 *       its kernel's layout (four consecutive weights of each row of the tile together);
 *   static void tile_kernel(const qtile *t, const qdot_acts *xa, int t0, int nt, float *y,
 *                           int64_t y_stride, int real);
 *       tokens t0 .. t0+nt-1 times the tile's rows, the first REAL of which are written;
 * and may define QUANTIZE_BLOCK (its own quantize_block, same results) and
 * QDOT_FUSED_TILES (with fused_tile: types whose tiles it decodes in one go); then it
 * includes this file with QDOT_DRIVER defined, and fills a qdot_isa_ops with
 * quantize_acts, rows_quant (or its own, on rows_quant_by) and its own rows_float. */
#ifndef LLMSCOPE_QDOT_IMPL_H
#define LLMSCOPE_QDOT_IMPL_H

#include "qdot.h"
#include "qdot_blocks.h"

_Static_assert(QDOT_SC_STRIDE == QDOT_ROWS, "decoders write scales in the tile's layout");

typedef struct qdot_isa_ops {
    void (*quantize)(const float *x, const qdot_acts *a);
    /* qdot_rows for a type of QDOT_TYPES: returns false if the type has no decoder */
    bool (*rows_quant)(const weight *w, const qdot_acts *xa, float *y, int n, int64_t r0,
                       int64_t r1, void *scratch);
    /* qdot_rows for F32, F16 and BF16 weights */
    void (*rows_float)(const weight *w, const float *x, float *y, int n, int64_t r0, int64_t r1);
    /* the AMX table's only: whether this process may use the tiles (it asks the
     * operating system); NULL elsewhere, and when the build has no AMX kernel */
    bool (*amx_ready)(void);
} qdot_isa_ops;

extern const qdot_isa_ops qdot_plain_ops;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define QDOT_HAVE_X86 1
extern const qdot_isa_ops qdot_avx2_ops, qdot_avx512_ops, qdot_amx_ops;
#endif

/* A decoded tile of QDOT_ROWS rows. */
typedef struct qtile {
    const int8_t *q;      /* [cols / 4][QDOT_ROWS][4] (interleave's layout) */
    const float *sc, *mn; /* [cols / sub][QDOT_ROWS] scales and offsets (mn: has_min only) */
    int64_t cols;
    int sub;              /* 16 or 32 */
    bool has_min;
} qtile;

/* Scratch memory for one caller of rows_quant, carved from qdot_scratch_bytes. */
typedef struct qdot_scratch {
    int8_t *tq, *stage_q;   /* the tile, and its rows as decoded ([QDOT_ROWS][cols]) */
    float *tsc, *tmn;       /* [cols / sub][QDOT_ROWS] */
} qdot_scratch;

static inline size_t qdot_round64(size_t n) { return (n + 63) & ~(size_t)63; }

static inline qdot_scratch qdot_scratch_carve(void *mem, int64_t cols) {
    uint8_t *p = mem;
    qdot_scratch s;
    s.tq = (int8_t *)p;
    p += qdot_round64((size_t)cols * QDOT_ROWS);
    s.tsc = (float *)(void *)p; /* at most one scale per 16 weights */
    p += qdot_round64((size_t)cols * sizeof(float));
    s.tmn = (float *)(void *)p;
    p += qdot_round64((size_t)cols * sizeof(float));
    s.stage_q = (int8_t *)p;
    return s;
}

static inline size_t qdot_scratch_size(int64_t cols) {
    return 2 * qdot_round64((size_t)cols * QDOT_ROWS) + 2 * qdot_round64((size_t)cols * sizeof(float));
}

#endif

/* ---- the parts each instruction set's file compiles for itself ------------------------ */
#if defined(QDOT_DRIVER) && !defined(LLMSCOPE_QDOT_DRIVER_DONE)
#define LLMSCOPE_QDOT_DRIVER_DONE

/* The instruction set's own parts (see the top of this file). */
static void interleave(const int8_t *stage, int64_t cols, int8_t *tq);
static void tile_kernel(const qtile *t, const qdot_acts *xa, int t0, int nt, float *y,
                        int64_t y_stride, int real);
/* Optional (QDOT_FUSED_TILES defined): a whole tile of a type decoded straight into the
 * kernel's layout, or NULL for decode_tile's way. */
typedef void (*fused_tile_fn)(const weight *w, int64_t r0, int real, const qdot_scratch *s, bool ahead);
#ifdef QDOT_FUSED_TILES
static fused_tile_fn fused_tile(uint32_t type);
#else
static inline fused_tile_fn fused_tile(uint32_t type) {
    (void)type;
    return NULL;
}
#endif

/* Columns [C0, COLS) of the QDOT_ROWS rows of STAGE (COLS apart) into the tile TQ, four
 * bytes at a time, each group XORed with FLIP (0x80808080: the quants plus 128). */
QDOT_INLINE void spread_columns(const int8_t *stage, int64_t cols, int64_t c0, int8_t *tq, uint32_t flip) {
    for (int64_t c = c0; c < cols; c += 4)
        for (int r = 0; r < QDOT_ROWS; r++) {
            uint32_t v;
            memcpy(&v, stage + r * cols + c, 4);
            v ^= flip;
            memcpy(tq + (c / 4 * QDOT_ROWS + r) * 4, &v, 4);
        }
}

/* ---- activations ----------------------------------------------------------------------- */

/* Round to nearest, ties to even, for |v| < 2^22: adding 1.5 * 2^23 leaves no fraction
 * bits, and the processor rounds the sum (plain IEEE arithmetic, the same on every copy). */
QDOT_INLINE float round_even(float v) { return (v + 0x1.8p23f) - 0x1.8p23f; }

/* One block of 32 activations: the largest magnitude maps to +-127. A non-finite block
 * gets a non-finite scale (so the products come out non-finite, as the reference's do)
 * and quants that stay in range. An instruction set's file may define QUANTIZE_BLOCK as
 * its own version of this, which must give the same results. */
#ifndef QUANTIZE_BLOCK
#define QUANTIZE_BLOCK quantize_block
QDOT_INLINE void quantize_block(const float *x, int8_t *q, float *d_out, int32_t sums[2]) {
    float amax = 0.0f;
    for (int i = 0; i < 32; i++) {
        const float a = x[i] < 0 ? -x[i] : x[i];
        amax = a > amax ? a : amax;
    }
    for (int i = 0; i < 32; i++) /* NaN never wins a comparison: make the scale NaN */
        if (x[i] != x[i]) amax = x[i];
    const float id = amax > 0.0f ? 127.0f / amax : 0.0f;
    int32_t s[2] = {0, 0};
    for (int i = 0; i < 32; i++) {
        float v = round_even(x[i] * id);
        v = v >= -127.0f ? v : -127.0f; /* also NaN */
        v = v <= 127.0f ? v : 127.0f;
        q[i] = (int8_t)v;
        s[i / 16] += (int8_t)v;
    }
    *d_out = amax / 127.0f;
    sums[0] = s[0];
    sums[1] = s[1];
}
#endif

static void quantize_acts(const float *x, const qdot_acts *a) {
    const int64_t cols = a->cols, nb = cols / 32, n = a->n;
    for (int64_t t = 0; t < n; t++) {
        for (int64_t b = 0; b < nb; b++) {
            int32_t s[2];
            float d;
            QUANTIZE_BLOCK(x + t * cols + 32 * b, a->q + t * cols + 32 * b, &d, s);
            a->d[b * n + t] = d;
            a->sum32[b * n + t] = d * (float)(s[0] + s[1]);
            a->bias32[b * n + t] = -128 * (s[0] + s[1]);
            for (int h = 0; h < 2; h++) {
                a->sum16[(2 * b + h) * n + t] = d * (float)s[h];
                a->bias16[(2 * b + h) * n + t] = -128 * s[h];
            }
        }
    }
}

/* ---- decoding a tile ------------------------------------------------------------------- */

/* Blocks [B0, B0 + NB) of one row into q, sc and mn (QDOT_SC_STRIDE apart), one decoder
 * per type. */
typedef void (*decode_run_fn)(const uint8_t *row, int64_t b0, int nb, int8_t *q, float *sc,
                              float *mn);

typedef struct qtype {
    uint32_t type;
    int block, sub;
    bool has_min;
    decode_run_fn decode;
} qtype;

#define QDOT_RUN(type, btype, block, sub, has_min, dec)                                        \
    static void run_##dec(const uint8_t *row, int64_t b0, int nb, int8_t *q, float *sc,        \
                          float *mn) {                                                         \
        const btype *b = (const btype *)(const void *)row + b0;                                \
        for (int i = 0; i < nb; i++)                                                           \
            dec(b + i, q + i * (block), sc + i * ((block) / (sub)) * QDOT_SC_STRIDE,           \
                mn + i * ((block) / (sub)) * QDOT_SC_STRIDE);                                  \
    }
QDOT_TYPES(QDOT_RUN)
#undef QDOT_RUN

#define QDOT_ENTRY(type, btype, block, sub, has_min, dec) {type, block, sub, has_min, run_##dec},
static const qtype QTYPES[] = {QDOT_TYPES(QDOT_ENTRY)};
#undef QDOT_ENTRY

static const qtype *find_qtype(uint32_t type) {
    for (size_t i = 0; i < sizeof QTYPES / sizeof QTYPES[0]; i++)
        if (QTYPES[i].type == type) return &QTYPES[i];
    return NULL;
}

/* Asks for LEN bytes at P to be brought into the second-level cache. */
QDOT_INLINE void prefetch(const uint8_t *p, uint64_t len) {
#if defined(__GNUC__) || defined(__clang__)
    for (uint64_t off = 0; off < len; off += 64) __builtin_prefetch(p + off, 0, 2);
#else
    (void)p, (void)len;
#endif
}

QDOT_INLINE void prefetch_row(const weight *w, int64_t r) {
    prefetch((const uint8_t *)w->data + (uint64_t)r * w->row_bytes, w->row_bytes);
}

/* Rows R0 .. R0+REAL-1 of W into the tile (rows past REAL repeat the last real one; their
 * results are never stored). Each row is decoded whole, in order: the tile's rows are one
 * stretch of memory, read front to back; then the stage is spread into the kernel's
 * layout. Decoding a few tokens (AHEAD) is a stream through the weights at memory speed,
 * and the processor's prefetcher stops guessing while the tile is spread out and
 * multiplied, so each row then also asks for the same row of the next tile (which may be
 * past the rows asked for, or past the matrix: a prefetch never faults). With many tokens
 * rows_quant_by asks for the next tile while it multiplies this one instead. */
static void decode_tile(const qtype *ty, const weight *w, int64_t r0, int real,
                        const qdot_scratch *s, qtile *t, bool ahead) {
    const int64_t cols = w->cols;
    *t = (qtile){s->tq, s->tsc, s->tmn, cols, ty->sub, ty->has_min};
    const fused_tile_fn fused = fused_tile(ty->type);
    if (fused) {
        fused(w, r0, real, s, ahead);
        return;
    }
    for (int r = 0; r < QDOT_ROWS; r++) {
        const uint8_t *row = (const uint8_t *)w->data +
                             (uint64_t)(r0 + (r < real ? r : real - 1)) * w->row_bytes;
        if (ahead) prefetch_row(w, r0 + QDOT_ROWS + r);
        ty->decode(row, 0, (int)(cols / ty->block), s->stage_q + r * cols, s->tsc + r, s->tmn + r);
    }
    interleave(s->stage_q, cols, s->tq);
}

/* Tokens are taken this many at a time by tile_kernel (each has its accumulators). */
#ifndef QDOT_TOKENS
#define QDOT_TOKENS 8
#endif

/* Up to this many tokens, decode_tile asks for the next tile ahead of time. */
#define QDOT_PREFETCH_TOKENS 4

typedef void (*tile_kernel_fn)(const qtile *t, const qdot_acts *xa, int t0, int nt, float *y,
                               int64_t y_stride, int real);

/* Rows [R0, R1) for N tokens: each tile decoded once, then KERNEL for TOKENS tokens at a
 * time. With many tokens, the next tile's rows are asked for a few before each call, so
 * that they arrive while this tile is multiplied. */
static void rows_quant_by(const qtype *ty, tile_kernel_fn kernel, int tokens, const weight *w,
                          const qdot_acts *xa, float *y, int n, int64_t r0, int64_t r1,
                          void *scratch) {
    const qdot_scratch s = qdot_scratch_carve(scratch, w->cols);
    const bool ahead = n <= QDOT_PREFETCH_TOKENS;
    const int calls = (n + tokens - 1) / tokens;
    for (int64_t tile = r0; tile < r1; tile += QDOT_ROWS) {
        const int real = r1 - tile < QDOT_ROWS ? (int)(r1 - tile) : QDOT_ROWS;
        qtile t;
        decode_tile(ty, w, tile, real, &s, &t, ahead);
        int asked = 0; /* rows of the next tile asked for */
        for (int c = 0; c < calls; c++) {
            const int t0 = c * tokens, nt = n - t0 < tokens ? n - t0 : tokens;
            for (; !ahead && asked < (c + 1) * QDOT_ROWS / calls; asked++) prefetch_row(w, tile + QDOT_ROWS + asked);
            kernel(&t, xa, t0, nt, y + (int64_t)t0 * w->rows + tile, w->rows, real);
        }
    }
}

static bool rows_quant(const weight *w, const qdot_acts *xa, float *y, int n, int64_t r0,
                       int64_t r1, void *scratch) {
    const qtype *ty = find_qtype(w->type);
    if (!ty) return false;
    rows_quant_by(ty, tile_kernel, QDOT_TOKENS, w, xa, y, n, r0, r1, scratch);
    return true;
}

#endif /* QDOT_DRIVER */
