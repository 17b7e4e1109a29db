/* test_synth.c — the quantisers are the inverse of the reference dequantisers, and
 * `synth` writes files our reader accepts with the published shapes. */
#include "test.h"
#include "gguf.h"
#include "model.h"
#include "quant.h"
#include "quantize.h"
#include "synth.h"

#include <unistd.h>

static uint64_t rng = 88172645463325252ULL;
static float uniform(void) {
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return (float)(rng >> 40) / (float)(1 << 24) * 2.0f - 1.0f;
}

/* Round-trip error bound per type, relative to the largest |x| of the row: half a
 * quantisation step of each format (plus the fp16 rounding of its scales). Q4_K's
 * effective step is (range of a 32-block)/15 quantised through 6-bit scales, so it gets
 * the loosest bound. A wrong bit layout produces errors of the order of the values
 * themselves (~1), far above every bound. */
static void roundtrip(uint32_t type, double bound) {
    enum { N = 4096 };
    static float x[N], y[N];
    static uint8_t q[N * 4];
    for (int i = 0; i < N; i++) x[i] = uniform();
    quantize_row(type, x, q, N);
    dequantize_row(type, q, y, N);
    double worst = 0;
    for (int i = 0; i < N; i++) worst = fmax(worst, fabs((double)x[i] - y[i]));
    CHECKF(worst <= bound, "%s: max round-trip error %g > bound %g", ggml_type_name(type), worst, bound);
}

static void test_quantize_roundtrip(void) {
    roundtrip(GGML_TYPE_F32, 0);
    roundtrip(GGML_TYPE_F16, 1.0 / 2048);      /* 11-bit mantissa, |x| < 1 */
    roundtrip(GGML_TYPE_BF16, 1.0 / 256);      /* 8-bit mantissa */
    roundtrip(GGML_TYPE_Q8_0, 1.0 / 127 * 0.6); /* half step = max/254, plus scale rounding */
    roundtrip(GGML_TYPE_Q4_0, 1.0 / 8 * 1.05);  /* grid -8..7 scaled to the largest |x|: the far side loses up to a step, max/8 */
    roundtrip(GGML_TYPE_Q5_0, 1.0 / 16 * 1.05); /* Q4_0's scheme on the grid -16..15: up to a step, max/16 */
    roundtrip(GGML_TYPE_Q4_1, 2.0 / 30 * 1.1);  /* half step = range/30 (range <= 2), plus fp16 rounding of d and m */
    roundtrip(GGML_TYPE_Q5_1, 2.0 / 62 * 1.1);  /* half step = range/62 */
    roundtrip(GGML_TYPE_Q3_K, 1.0 / 4 * 1.1);   /* Q4_0's scheme per 16 on the grid -4..3, 6-bit sub-scales */
    roundtrip(GGML_TYPE_Q2_K, 2.0 / 6 * 1.2);   /* half step = range/6, 4-bit sub-scales and mins */
    roundtrip(GGML_TYPE_Q6_K, 1.0 / 31 * 0.75); /* half step = max/62, 8-bit sub-scales */
    roundtrip(GGML_TYPE_Q4_K, 2.0 / 15 * 0.75); /* half step = range/30, 6-bit sub-scales */
    roundtrip(GGML_TYPE_Q5_K, 2.0 / 31 * 0.75); /* half step = range/62, 6-bit sub-scales */
    /* IQ4: the extreme maps onto the level -127 of d = max/127; the widest gap between
     * levels is 24 (half: 12) and values of the other sign beyond the top level 113 lose
     * up to 14 units of d: 14/127 of the max, plus fp16 rounding of d. IQ4_XS writes each
     * sub-block's d as a multiple k in -32..31 of the super-block's largest d / 32:
     * rounding moves it by half a multiple, and a sub-block whose extreme has the other
     * sign and the same size wants k = 32 and gets 31, a whole multiple: up to 127/32
     * units of the largest d more, 1/32 of the max (measured 0.130). */
    roundtrip(GGML_TYPE_IQ4_NL, 14.0 / 127 * 1.01);
    roundtrip(GGML_TYPE_IQ4_XS, 14.0 / 127 * 1.01 + 1.0 / 32);
}

/* Writes SHAPE as TYPE into the temporary file PATH (a mkstemp template, which the caller
 * removes) and opens it into *F; false after a CHECK. */
static bool synth_temp(const char *shape, const char *type, uint64_t seed, char *path, gguf_file *f) {
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd < 0) return false;
    close(fd);
    char err[512];
    int rc = synth_write(shape, type, path, seed, NULL, NULL, err, sizeof err);
    CHECKF(rc == 0, "synth_write: %s", err);
    if (rc == 0 && gguf_open(f, path, err, sizeof err) == 0) return true;
    CHECKF(rc != 0, "reading the synthetic file back: %s", err);
    return false;
}

static void test_synth_file(void) {
    char path[] = "/tmp/llmscope-synth-XXXXXX", err[512];
    gguf_file f;
    if (synth_temp("smollm2-135m", "q4_k_m", 7, path, &f)) {
        uint32_t n = 0;
        CHECK(gguf_get_u32(&f, "llama.embedding_length", &n) && n == 576);
        CHECK(gguf_get_u32(&f, "llama.block_count", &n) && n == 30);
        CHECK(gguf_get_u32(&f, "llama.attention.head_count_kv", &n) && n == 3);
        const gguf_tensor *t = gguf_find_tensor(&f, "blk.29.ffn_down.weight");
        CHECK(t && t->ne[0] == 1536 && t->ne[1] == 576);
        t = gguf_find_tensor(&f, "token_embd.weight");
        CHECK(t && t->ne[0] == 576 && t->ne[1] == 49152 && t->type == GGML_TYPE_Q8_0); /* 576 % 256 != 0 */
        t = gguf_find_tensor(&f, "blk.10.ffn_down.weight"); /* 1536 columns: a K-quant fits */
        CHECK(t && t->type == GGML_TYPE_Q4_K);
        t = gguf_find_tensor(&f, "blk.0.ffn_down.weight");  /* first eighth: more bits */
        CHECK(t && t->type == GGML_TYPE_Q6_K);
        /* 576 columns, as llama.cpp does: Q5_0 for Q4_K, Q8_0 for Q6_K */
        t = gguf_find_tensor(&f, "blk.10.attn_q.weight");
        CHECK(t && t->ne[0] == 576 && t->type == GGML_TYPE_Q5_0);
        t = gguf_find_tensor(&f, "blk.10.ffn_up.weight");
        CHECK(t && t->ne[0] == 576 && t->type == GGML_TYPE_Q5_0);
        t = gguf_find_tensor(&f, "blk.0.attn_v.weight");    /* first eighth: Q6_K wanted */
        CHECK(t && t->ne[0] == 576 && t->type == GGML_TYPE_Q8_0);
        CHECK(f.n_tensors == 1 + 1 + 30 * 9);
        const gguf_kv *toks = gguf_get_arr(&f, "tokenizer.ggml.tokens", GGUF_VT_STRING);
        CHECK(toks && toks->arr_len == 49152);
        gguf_close(&f);
    }
    remove(path);
    CHECK(synth_write("no-such-shape", "q8_0", path, 1, NULL, NULL, err, sizeof err) == -1 &&
          strstr(err, "no-such-shape"));
    CHECK(synth_write("smollm2-135m", "q3_k", path, 1, NULL, NULL, err, sizeof err) == -1 &&
          strstr(err, "q3_k"));
}

/* iq4_xs as llama.cpp mixes it without an importance matrix, and its fallbacks for rows
 * that are not a multiple of 256 (SmolLM2's 576): IQ4_NL for IQ4_XS, Q8_0 for the Q6_K
 * output head (tied: the embedding); Q5_K for ffn_down in the first eighth of the layers
 * (attn_v stays: 9 query heads over 3 KV heads share fewer than 4). The file loads. */
static void test_synth_iq4_xs_mix(void) {
    char path[] = "/tmp/llmscope-synth-XXXXXX", err[512];
    gguf_file f;
    if (synth_temp("smollm2-135m", "iq4_xs", 3, path, &f)) {
        static const struct { const char *name; uint32_t type; } want[] = {
            {"token_embd.weight", GGML_TYPE_Q8_0},        {"blk.10.attn_q.weight", GGML_TYPE_IQ4_NL},
            {"blk.10.attn_v.weight", GGML_TYPE_IQ4_NL},   {"blk.10.ffn_up.weight", GGML_TYPE_IQ4_NL},
            {"blk.10.ffn_down.weight", GGML_TYPE_IQ4_XS}, {"blk.2.ffn_down.weight", GGML_TYPE_Q5_K},
            {"blk.3.ffn_down.weight", GGML_TYPE_IQ4_XS}};
        for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
            const gguf_tensor *t = gguf_find_tensor(&f, want[i].name);
            CHECKF(t && t->type == want[i].type, "%s: %s, expected %s", want[i].name,
                   t ? ggml_type_name(t->type) : "missing", ggml_type_name(want[i].type));
        }
        uint32_t ft = 0;
        CHECK(gguf_get_u32(&f, "general.file_type", &ft) && ft == 30); /* LLAMA_FTYPE_MOSTLY_IQ4_XS */
        gguf_close(&f);
        model m;
        int rc = model_load(&m, path, err, sizeof err);
        CHECKF(rc == 0, "model_load: %s", err);
        if (rc == 0) model_free(&m);
    }
    remove(path);
}

int main(void) {
    RUN(test_quantize_roundtrip);
    RUN(test_synth_file);
    RUN(test_synth_iq4_xs_mix);
    return test_exit_code();
}
