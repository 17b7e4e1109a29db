/* random_blocks.h — the matrices the tests of the fast matrix products (test_ops_fast.c,
 * test_qdot.c) multiply: random ones of every storage type (random quant bytes, block
 * scales that are mostly ordinary with every few blocks an awkward one: zero, negative
 * zero, subnormal; deterministic, one xorshift generator per test binary), and the real
 * ones of the llama-k-tiny files in ../shared. */
#ifndef LLMSCOPE_TEST_RANDOM_BLOCKS_H
#define LLMSCOPE_TEST_RANDOM_BLOCKS_H

#include "model.h"
#include "quant.h"
#include "test.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint32_t rnd(void) { /* xorshift64* */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * 0x2545F4914F6CDD1Dull) >> 32);
}

static float rnd_float(float lo, float hi) { return lo + (hi - lo) * (float)(rnd() >> 8) / 16777216.0f; }

/* A block scale: mostly ordinary values, and every few blocks one of the awkward ones. */
static uint16_t rnd_scale(int i) {
    static const uint16_t special[] = {0x0000, 0x8000, 0x0001, 0x03ff, 0x8200};
    if (i % 7 == 3) return special[(i / 7) % 5];
    float v = rnd_float(1e-3f, 5e-2f);
    return f32_to_fp16(rnd() & 1 ? -v : v);
}

/* ROWS x COLS random weights of TYPE: random quant bytes, scales from rnd_scale. */
static void *random_matrix(uint32_t type, int64_t rows, int64_t cols, uint64_t *row_bytes) {
    if (!ggml_row_bytes(type, (uint64_t)cols, row_bytes)) return NULL;
    const size_t size = (size_t)(*row_bytes * (uint64_t)rows);
    uint8_t *p = malloc(size + 8);
    if (!p) return NULL;
    for (size_t i = 0; i < size; i++) p[i] = (uint8_t)rnd();
    const int64_t n_el = rows * cols;
    switch (type) {
    case GGML_TYPE_F32:
        for (int64_t i = 0; i < n_el; i++) {
            float v = rnd_float(-2, 2);
            memcpy(p + 4 * i, &v, 4);
        }
        break;
    case GGML_TYPE_F16:
        for (int64_t i = 0; i < n_el; i++) { /* every 50th a subnormal half */
            uint16_t h = i % 50 == 7 ? (uint16_t)(rnd() & 0x83ff) : f32_to_fp16(rnd_float(-2, 2));
            memcpy(p + 2 * i, &h, 2);
        }
        break;
    case GGML_TYPE_BF16:
        for (int64_t i = 0; i < n_el; i++) {
            uint16_t h = f32_to_bf16(rnd_float(-2, 2));
            memcpy(p + 2 * i, &h, 2);
        }
        break;
    case GGML_TYPE_Q8_0: case GGML_TYPE_Q4_0: case GGML_TYPE_Q5_0: case GGML_TYPE_IQ4_NL:
    case GGML_TYPE_IQ4_XS: { /* d is the first two bytes of each block */
        const uint32_t bb = ggml_block_bytes(type);
        for (size_t b = 0; b < size / bb; b++) {
            uint16_t d = rnd_scale((int)b);
            memcpy(p + b * bb, &d, 2);
        }
        break;
    }
    case GGML_TYPE_Q4_K: case GGML_TYPE_Q5_K: case GGML_TYPE_Q4_1: case GGML_TYPE_Q5_1: {
        /* d and dmin (the offset m of Q4_1/Q5_1) lead the block */
        const uint32_t bb = ggml_block_bytes(type);
        for (size_t b = 0; b < size / bb; b++) {
            uint16_t d = rnd_scale((int)b), dmin = rnd_scale((int)b + 1);
            memcpy(p + b * bb, &d, 2);
            memcpy(p + b * bb + 2, &dmin, 2);
        }
        break;
    }
    case GGML_TYPE_MXFP4: { /* the scale byte leads: keep it to 2^-16 .. 2^4 */
        const uint32_t bb = ggml_block_bytes(type);
        for (size_t b = 0; b < size / bb; b++) p[b * bb] = (uint8_t)(112 + rnd() % 21);
        break;
    }
    case GGML_TYPE_Q2_K: { /* d and dmin are the last four bytes */
        for (size_t b = 0; b < size / sizeof(block_q2_K); b++) {
            uint16_t d = rnd_scale((int)b), dmin = rnd_scale((int)b + 1);
            memcpy(p + b * sizeof(block_q2_K) + offsetof(block_q2_K, d), &d, 2);
            memcpy(p + b * sizeof(block_q2_K) + offsetof(block_q2_K, dmin), &dmin, 2);
        }
        break;
    }
    case GGML_TYPE_Q3_K: { /* d is the last two bytes */
        for (size_t b = 0; b < size / sizeof(block_q3_K); b++) {
            uint16_t d = rnd_scale((int)b);
            memcpy(p + b * sizeof(block_q3_K) + offsetof(block_q3_K, d), &d, 2);
        }
        break;
    }
    case GGML_TYPE_Q6_K: { /* d is the last two bytes */
        for (size_t b = 0; b < size / sizeof(block_q6_K); b++) {
            uint16_t d = rnd_scale((int)b);
            memcpy(p + b * sizeof(block_q6_K) + offsetof(block_q6_K, d), &d, 2);
        }
        break;
    }
    default: break;
    }
    return p;
}

/* The shapes the product tests multiply: per type, three row lengths. */
static const struct random_case {
    uint32_t type;
    int64_t cols[3];
} RANDOM_CASES[] = {
    {GGML_TYPE_F32, {172, 64, 2501}},   /* 172: stories260K's n_ff, not a multiple of 8 */
    {GGML_TYPE_F16, {172, 200, 2500}},  /* 2500: longer than the reference's pieces */
    {GGML_TYPE_BF16, {172, 64, 2100}},
    {GGML_TYPE_Q8_0, {32, 576, 2304}},  /* 32: one block; 576 = 2 * 256 + 64 */
    {GGML_TYPE_Q4_0, {32, 576, 2304}},
    {GGML_TYPE_Q4_1, {32, 576, 2304}},
    {GGML_TYPE_Q5_0, {32, 544, 2336}},  /* 544: 17 blocks of 22 bytes, rows at odd pairs */
    {GGML_TYPE_Q5_1, {32, 896, 2304}},  /* 896: Qwen2.5-0.5B's width */
    {GGML_TYPE_MXFP4, {32, 544, 2880}}, /* 17-byte blocks: rows start at any byte;
                                             2880: gpt-oss-20b's width */
    {GGML_TYPE_Q2_K, {256, 768, 2304}},
    {GGML_TYPE_Q3_K, {256, 768, 2304}},
    {GGML_TYPE_Q4_K, {256, 768, 2304}},
    {GGML_TYPE_Q5_K, {256, 768, 2304}},
    {GGML_TYPE_Q6_K, {256, 768, 2304}},
    {GGML_TYPE_IQ4_NL, {32, 544, 2336}}, /* 18-byte blocks, as Q4_0's */
    {GGML_TYPE_IQ4_XS, {256, 768, 2304}},
};

/* FN(WHAT, W, K) for a random ROWS x cols matrix of every case and each of its lengths
 * (K: which of the three), WHAT naming it ("q4_K/768"). */
static void for_each_random_matrix(int64_t rows, void (*fn)(const char *what, const weight *w, int k)) {
    for (size_t c = 0; c < sizeof RANDOM_CASES / sizeof RANDOM_CASES[0]; c++) {
        for (int k = 0; k < 3; k++) {
            const uint32_t type = RANDOM_CASES[c].type;
            const int64_t cols = RANDOM_CASES[c].cols[k];
            uint64_t rb;
            void *data = random_matrix(type, rows, cols, &rb);
            if (!data) {
                CHECKF(0, "cannot build a %s matrix of %lld columns", ggml_type_name(type), (long long)cols);
                continue;
            }
            const weight w = {"random", type, cols, rows, data, rb};
            char what[64];
            snprintf(what, sizeof what, "%s/%lld", ggml_type_name(type), (long long)cols);
            fn(what, &w, k);
            free(data);
        }
    }
}

/* FN(WHAT, W, I) for the last layer's matrices and the output head (I: which, 0..7) of each
 * llama-k-tiny file in ../shared, whose blocks llama.cpp's own quantizer wrote, in every
 * type it writes. Returns false, the test marked skipped, without ../shared. */
static bool for_each_llama_k_tiny_matrix(void (*fn)(const char *what, const weight *w, int i)) {
    static const char *files[] = {"f32", "f16", "bf16", "q8_0", "q4_0", "q4_k_m", "q5_k_m", "q6_k", "iq4_nl", "iq4_xs"};
    char path[512], rel[128], err[512];
    snprintf(rel, sizeof rel, "models/llama-k-tiny-%s.gguf", files[0]);
    if (!test_shared_path(path, sizeof path, rel)) {
        snprintf(test_skip_reason_, sizeof test_skip_reason_, "../shared/%s not found", rel);
        test_skipped_ = 1;
        return false;
    }
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        snprintf(rel, sizeof rel, "models/llama-k-tiny-%s.gguf", files[f]);
        model m;
        if (!test_shared_path(path, sizeof path, rel) || model_load(&m, path, err, sizeof err)) {
            CHECKF(0, "../shared/%s: cannot load", rel);
            continue;
        }
        /* one layer's matrices and the output head cover every type in the file */
        const layer_weights *lw = &m.layers[m.hp.n_layer - 1];
        const weight *ws[] = {&lw->wq, &lw->wk, &lw->wv, &lw->wo, &lw->ffn_gate, &lw->ffn_up,
                              &lw->ffn_down, &m.output};
        for (size_t i = 0; i < sizeof ws / sizeof ws[0]; i++) {
            char what[128];
            snprintf(what, sizeof what, "%s %s (%s)", files[f], ws[i]->name, ggml_type_name(ws[i]->type));
            fn(what, ws[i], (int)i);
        }
        model_free(&m);
    }
    return true;
}

#endif
