/* test_qdot.c — the CPU engine's matrix products (model/qdot.h) against the reference
 * op_matmul (model/ops.c), on every instruction set this processor runs.
 *
 * For quantised weights the products round the activations to 8 bits (blocks of 32, one
 * scale d each), so they do not give op_matmul's bits. What they must give, output by
 * output:
 *   exact    within float rounding of the exact (double) product of the decoded weights
 *            with the rounded activations d * q: this holds whatever the rounding and
 *            catches any mistake in decoding, interleaving, scales or offsets;
 *   bound    within  A + F  of op_matmul, where A = sum_i |w_i| * d_b(i) / 2 is all the
 *            activation rounding can move a sum (each |x_i - d q_i| <= d / 2), and F
 *            bounds the float rounding of the two sums, (cols + 64) * 2^-23 times the sum
 *            of the magnitudes of their terms. This is the bound qdot.h promises, checked
 *            against the judge itself;
 *   bits     the same bits whichever rows a call covers (as threads split them) and
 *            whether a token is multiplied alone or within a batch (decoding or a prompt).
 * The rounding itself is checked too: the scale is the block's largest magnitude / 127 and
 * every value is within d / 2 of d * q. Float weights (F32, F16, BF16) keep f32
 * activations: only the float rounding bound F applies.
 *
 * Checked on random blocks of every type (rows that are not a whole number of tiles, row
 * lengths of one block and of odd numbers of blocks, more tokens than one pass takes) and
 * on the matrices of the llama-k-tiny files in ../shared, written by llama.cpp. */
#include "model.h"
#include "ops.h"
#include "qdot.h"
#include "quant.h"
#include "random_blocks.h"
#include "test.h"

#include <stdint.h>

static void *alloc64(size_t n) { return aligned_alloc(64, (n + 63) & ~(size_t)63); }

/* Activations for a test: mostly in [-1, 1], every fifth block scaled by 40 and every
 * seventh by 1/1000, so that block scales differ widely. */
static void random_acts(float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        const int64_t b = i / 32;
        const float scale = b % 5 == 2 ? 40.0f : b % 7 == 4 ? 1e-3f : 1.0f;
        x[i] = rnd_float(-1, 1) * scale;
    }
}

static bool is_quantised(uint32_t type) { return qdot_needs_acts(type); }

/* The rounding of N tokens of COLS values: scales and errors (see the top). */
static void check_rounding(const char *what, const float *x, const qdot_acts *a) {
    int bad = 0;
    for (int t = 0; t < a->n; t++)
        for (int64_t b = 0; b < a->cols / 32; b++) {
            const float *xb = x + (int64_t)t * a->cols + 32 * b;
            const int8_t *qb = a->q + (int64_t)t * a->cols + 32 * b;
            const float d = a->d[b * a->n + t]; /* token-minor */
            float amax = 0;
            int32_t sum = 0;
            for (int i = 0; i < 32; i++) {
                amax = fabsf(xb[i]) > amax ? fabsf(xb[i]) : amax;
                sum += qb[i];
                if (fabs((double)xb[i] - (double)d * qb[i]) > 0.5 * d * (1 + 1e-4)) bad++;
                if (qb[i] < -127) bad++;
            }
            if (d != amax / 127.0f) bad++;
            if (a->bias32[b * a->n + t] != -128 * sum) bad++;
            if (a->sum32[b * a->n + t] != d * (float)sum) bad++;
        }
    CHECKF(bad == 0, "%s: %d activations rounded wrongly", what, bad);
}

/* y = W x for N tokens on instruction set ISA against op_matmul's WANT (see the top). */
static void compare_isa(const char *what, qdot_isa isa, const weight *w, const float *x, int n,
                        const float *want) {
    const int64_t rows = w->rows, cols = w->cols;
    const bool quant = is_quantised(w->type);
    void *am = alloc64(qdot_acts_bytes(n, cols)), *one_m = alloc64(qdot_acts_bytes(1, cols));
    void *scratch = alloc64(qdot_scratch_bytes(cols));
    float *got = malloc((size_t)(n * rows) * sizeof *got), *one = malloc((size_t)rows * sizeof *one);
    float *row = malloc((size_t)cols * sizeof *row);
    if (!am || !one_m || !scratch || !got || !one || !row) {
        CHECKF(0, "out of memory");
        goto done;
    }
    qdot_acts a, a1;
    if (quant) {
        qdot_acts_init(&a, am, n, cols);
        qdot_quantize(isa, x, &a);
        check_rounding(what, x, &a);
    }
    /* two calls, as two threads would take the rows: the later tiles first */
    const float sentinel = -12345.5f;
    for (int64_t i = 0; i < n * rows; i++) got[i] = sentinel;
    const int64_t split = rows > QDOT_ROWS ? QDOT_ROWS : 0;
    qdot_rows(isa, w, x, quant ? &a : NULL, got, n, split, rows, scratch);
    int untouched = 1;
    for (int t = 0; t < n; t++)
        for (int64_t r = 0; r < split; r++) untouched &= got[t * rows + r] == sentinel;
    CHECKF(untouched, "%s (%s): rows outside the range were written", what, qdot_isa_name(isa));
    qdot_rows(isa, w, x, quant ? &a : NULL, got, n, 0, split, scratch);

    /* the last token alone, as decoding would multiply it: the same bits */
    const float *x_last = x + (int64_t)(n - 1) * cols;
    if (quant) {
        qdot_acts_init(&a1, one_m, 1, cols);
        qdot_quantize(isa, x_last, &a1);
    }
    qdot_rows(isa, w, x_last, quant ? &a1 : NULL, one, 1, 0, rows, scratch);
    CHECKF(memcmp(one, got + (int64_t)(n - 1) * rows, (size_t)rows * sizeof *one) == 0,
           "%s (%s): a token alone gives other bits than within %d tokens", what,
           qdot_isa_name(isa), n);

    double worst_exact = 0, worst_bound = 0;
    for (int64_t r = 0; r < rows; r++) {
        weight_row(w, r, row);
        for (int t = 0; t < n; t++) {
            const float *xt = x + (int64_t)t * cols;
            double exact_q = 0, mag_q = 0, act = 0, mag = 0;
            for (int64_t c = 0; c < cols; c++) {
                double xq = xt[c], half = 0;
                if (quant) {
                    const double d = a.d[c / 32 * n + t];
                    xq = d * a.q[(int64_t)t * cols + c];
                    half = d / 2;
                }
                exact_q += (double)row[c] * xq;
                mag_q += fabs((double)row[c] * xq);
                act += fabs((double)row[c]) * half;
                mag += fabs((double)row[c] * xt[c]);
            }
            const double u = (double)(cols + 64) * 0x1p-23, y = got[t * rows + r];
            const double e1 = fabs(y - exact_q) / (u * mag_q + 1e-30);
            const double e2 = fabs(y - want[t * rows + r]) / (act * (1 + 1e-3) + u * (mag + mag_q) + 1e-30);
            if (e1 > worst_exact) worst_exact = e1;
            if (e2 > worst_bound) worst_bound = e2;
        }
    }
    CHECKF(worst_exact <= 1, "%s (%s): %g times the float rounding from the exact product of "
           "the rounded activations", what, qdot_isa_name(isa), worst_exact);
    CHECKF(worst_bound <= 1, "%s (%s): %g times the bound from op_matmul", what,
           qdot_isa_name(isa), worst_bound);
    if (getenv("LLMSCOPE_TEST_VERBOSE"))
        fprintf(stderr, "  %s (%s, %d tokens): %.3g of the rounding bound, %.3g of the bound\n",
                what, qdot_isa_name(isa), n, worst_exact, worst_bound);
done:
    free(am);
    free(one_m);
    free(scratch);
    free(got);
    free(one);
    free(row);
}

static int isas_checked;

static void compare(const char *what, const weight *w, int n) {
    float *x = malloc((size_t)(n * w->cols) * sizeof *x);
    float *want = malloc((size_t)(n * w->rows) * sizeof *want);
    if (!x || !want) {
        CHECKF(0, "out of memory");
    } else {
        random_acts(x, n * w->cols);
        op_matmul(w, x, want, n);
        for (int i = 0; i < QDOT_ISA_COUNT; i++)
            if (qdot_isa_available((qdot_isa)i)) {
                compare_isa(what, (qdot_isa)i, w, x, n, want);
                isas_checked |= 1 << i;
            }
    }
    free(x);
    free(want);
}

static void compare_random(const char *what, const weight *w, int k) {
    static const int n_tokens[] = {1, 3, 19};
    (void)k;
    CHECKF(qdot_supports(w->type), "%s has no qdot kernel", ggml_type_name(w->type));
    for (int v = 0; v < 3; v++) compare(what, w, n_tokens[v]);
}

/* 37 rows: two tiles and a part. */
static void every_type_random_blocks(void) {
    for_each_random_matrix(37, compare_random);
    CHECKF(isas_checked & 1, "the plain C kernels were not checked");
}

static void compare_real(const char *what, const weight *w, int i) { compare(what, w, i % 2 ? 1 : 5); }

/* Every matrix of the llama-k-tiny files: real blocks in every type llama.cpp writes. */
static void shared_llama_k_tiny(void) { for_each_llama_k_tiny_matrix(compare_real); }

/* What the engine relies on to pick an instruction set. */
static void instruction_sets(void) {
    CHECK(qdot_isa_available(QDOT_PLAIN));
    const qdot_isa best = qdot_best_isa(NULL);
    CHECK(qdot_isa_available(best));
    for (int i = best + 1; i < QDOT_ISA_COUNT; i++) CHECK(!qdot_isa_available((qdot_isa)i));
    CHECK(qdot_best_isa("plain") == QDOT_PLAIN);
    CHECK(qdot_best_isa("no-such-isa") == best);
    CHECK(qdot_best_isa(qdot_isa_name(QDOT_AMX)) == best); /* never wider than the machine */
    CHECK(strcmp(qdot_isa_name(QDOT_AVX512), "avx512") == 0);
    CHECK(!qdot_supports(GGML_TYPE_IQ2_XXS) && !qdot_needs_acts(GGML_TYPE_F16));
}

int main(void) {
    RUN(instruction_sets);
    RUN(every_type_random_blocks);
    RUN(shared_llama_k_tiny);
    return test_exit_code();
}
