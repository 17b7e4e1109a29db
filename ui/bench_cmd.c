/* bench_cmd.c — `llmscope bench -m MODEL`.
 *
 * Measures what a user feels: prompt evaluation (512 tokens in one eval call) and decode
 * (128 tokens, one eval each, the next token chosen from the engine's output), each with
 * capture on (every head's attention row, plus the distribution summary the interface
 * shows) and off. Token ids are seeded random ids, so any model file works, synthetic or
 * real. Timings are wall-clock around eval calls after a warm-up; the per-kernel split
 * comes from a separate, profiled run (GPU timestamps cost a little), so the headline
 * numbers are unprofiled. */
#include "bench_cmd.h"
#include "cli.h"
#include "quant.h"
#include "vk_engine.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct bench_opts {
    const char *model;
    cli_backend backend;
    int device, n_prompt, n_decode, repeat;
} bench_opts;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void usage(FILE *f) {
    fprintf(f, "usage: llmscope bench -m MODEL [--backend vulkan|cpu] [--device N]\n"
               "                      [--prompt N (512)] [--decode N (128)] [--repeat N (3)]\n"
               "  prints prompt-evaluation and decode tokens/s with attention capture on and off,\n"
               "  and (Vulkan) the GPU time per kernel from timestamp queries\n");
}

/* Buffers for one eval's outputs, sized for the largest request of the run. */
typedef struct outputs {
    float *logits, *attention, *top_logits, *lse, *entropy;
    int32_t *top_ids;
} outputs;

static void outputs_free(outputs *o) {
    free(o->logits); free(o->attention); free(o->top_logits); free(o->lse); free(o->entropy); free(o->top_ids);
}

enum { TOP_K = 16 };

/* One eval with the outputs capture on/off asks for. For the CPU reference (which has no
 * GPU-side reduction) the logits are always read, since the next token comes from them. */
static int run_eval(engine *e, const int32_t *tokens, int n, int pos, bool capture, outputs *o,
                    char *err, size_t errlen) {
    bool gpu = strcmp(e->backend, "vulkan") == 0;
    engine_batch b = {.tokens = tokens, .n_tokens = n, .pos = pos, .all_positions = false};
    b.logits = gpu ? NULL : o->logits;
    b.top_k = TOP_K;
    b.top_ids = o->top_ids;
    b.top_logits = o->top_logits;
    b.logsumexp = o->lse;
    b.entropy = o->entropy;
    if (capture) {
        b.attention = o->attention;
        b.all_positions = n > 1; /* a prompt's capture covers every position */
    }
    return engine_eval(e, &b, err, errlen);
}

static int32_t next_token(const engine *e, const outputs *o, int n_vocab) {
    if (strcmp(e->backend, "vulkan") == 0) return o->top_ids[0];
    int32_t best = 0;
    for (int i = 1; i < n_vocab; i++)
        if (o->logits[i] > o->logits[best]) best = i;
    return best;
}

/* Returns tokens/s of the best of REPEAT runs, or a negative value on error. */
static double bench_prompt(engine *e, const int32_t *tokens, int n, bool capture, int repeat,
                           outputs *o, char *err, size_t errlen) {
    double best = 0;
    if (run_eval(e, tokens, n < 16 ? n : 16, 0, capture, o, err, errlen)) return -1; /* warm-up */
    for (int r = 0; r < repeat; r++) {
        double t0 = now_s();
        if (run_eval(e, tokens, n, 0, capture, o, err, errlen)) return -1;
        double tps = n / (now_s() - t0);
        if (tps > best) best = tps;
    }
    return best;
}

static double bench_decode(engine *e, int32_t first, int n, bool capture, int repeat, outputs *o,
                           int n_vocab, char *err, size_t errlen) {
    double best = 0;
    int32_t tok = first;
    if (run_eval(e, &tok, 1, 0, capture, o, err, errlen)) return -1; /* warm-up */
    for (int r = 0; r < repeat; r++) {
        tok = first;
        double t0 = now_s();
        for (int i = 0; i < n; i++) {
            if (run_eval(e, &tok, 1, i, capture, o, err, errlen)) return -1;
            tok = next_token(e, o, n_vocab);
        }
        double tps = n / (now_s() - t0);
        if (tps > best) best = tps;
    }
    return best;
}

static int parse_int(const char *flag, const char *v, int lo, int hi, int *out) {
    char *end;
    long x = strtol(v, &end, 10);
    if (!*v || *end || x < lo || x > hi) {
        fprintf(stderr, "llmscope bench: %s wants a number from %d to %d, got '%s'\n", flag, lo, hi, v);
        return -1;
    }
    *out = (int)x;
    return 0;
}

int bench_main(int argc, char **argv) {
    bench_opts bo = {NULL, CLI_BACKEND_AUTO, -1, 512, 128, 3};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { usage(stdout); return 0; }
        if (!v) { fprintf(stderr, "llmscope bench: %s needs a value\n", a); return 2; }
        if (!strcmp(a, "-m") || !strcmp(a, "--model")) bo.model = v;
        else if (!strcmp(a, "--backend")) {
            if (!strcmp(v, "cpu")) bo.backend = CLI_BACKEND_CPU;
            else if (!strcmp(v, "vulkan")) bo.backend = CLI_BACKEND_VULKAN;
            else { fprintf(stderr, "llmscope bench: --backend is cpu or vulkan, not '%s'\n", v); return 2; }
        } else if (!strcmp(a, "--device")) { if (parse_int(a, v, 0, 64, &bo.device)) return 2; }
        else if (!strcmp(a, "--prompt")) { if (parse_int(a, v, 1, 65536, &bo.n_prompt)) return 2; }
        else if (!strcmp(a, "--decode")) { if (parse_int(a, v, 1, 65536, &bo.n_decode)) return 2; }
        else if (!strcmp(a, "--repeat")) { if (parse_int(a, v, 1, 100, &bo.repeat)) return 2; }
        else { fprintf(stderr, "llmscope bench: unknown option '%s'\n", a); usage(stderr); return 2; }
        i++;
    }
    char err[1024];
    cli_model cm;
    memset(&cm, 0, sizeof cm);
    if (cli_find_model(bo.model, cm.path, sizeof cm.path, err, sizeof err) ||
        cli_load_model(&cm, err, sizeof err)) {
        fprintf(stderr, "llmscope bench: %s\n", err);
        cli_model_free(&cm);
        return 1;
    }
    const model_hparams *hp = &cm.m.hp;
    int n_ctx = bo.n_prompt > bo.n_decode ? bo.n_prompt : bo.n_decode;
    if (n_ctx > hp->n_ctx_train) {
        fprintf(stderr, "llmscope bench: the model's context is %d tokens; use --prompt/--decode within it\n", hp->n_ctx_train);
        cli_model_free(&cm);
        return 1;
    }
    int32_t *tokens = malloc((size_t)bo.n_prompt * sizeof *tokens);
    outputs o = {0};
    size_t att = (size_t)hp->n_layer * hp->n_head * (size_t)n_ctx;
    o.attention = malloc(att * (size_t)bo.n_prompt * sizeof(float));
    o.logits = malloc((size_t)hp->n_vocab * sizeof(float));
    o.top_ids = malloc((size_t)bo.n_prompt * TOP_K * sizeof(int32_t));
    o.top_logits = malloc((size_t)bo.n_prompt * TOP_K * sizeof(float));
    o.lse = malloc((size_t)bo.n_prompt * sizeof(float));
    o.entropy = malloc((size_t)bo.n_prompt * sizeof(float));
    if (!tokens || !o.attention || !o.logits || !o.top_ids || !o.top_logits || !o.lse || !o.entropy) {
        fprintf(stderr, "llmscope bench: out of memory for %d-token capture buffers\n", bo.n_prompt);
        free(tokens); outputs_free(&o); cli_model_free(&cm);
        return 1;
    }
    uint64_t rng = 0x853c49e6748fea9bULL;
    for (int i = 0; i < bo.n_prompt; i++) {
        rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
        tokens[i] = (int32_t)((rng >> 33) % (uint64_t)hp->n_vocab);
    }

    /* Count storage types for the header line. */
    uint64_t params = 0;
    for (uint64_t i = 0; i < cm.m.file.n_tensors; i++) {
        const gguf_tensor *t = &cm.m.file.tensors[i];
        params += t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3];
    }
    double results[2][2]; /* [prompt|decode][capture off|on] */
    int rc = 0;
    for (int capture = 1; capture >= 0 && rc == 0; capture--) {
        if (cli_create_engine(&cm, bo.backend, bo.device, n_ctx, capture, false, err, sizeof err)) { rc = 1; break; }
        if (capture)
            printf("llmscope bench: %s — %s, %d layers, %.0fM parameters, %.1f MB file\n"
                   "device: %s (%s)\n",
                   cm.path, hp->arch_name, hp->n_layer, (double)params / 1e6, (double)cm.m.file.size / 1e6,
                   cm.e->device_name, cm.e->backend);
        results[0][capture] = bench_prompt(cm.e, tokens, bo.n_prompt, capture, bo.repeat, &o, err, sizeof err);
        results[1][capture] = results[0][capture] < 0 ? -1 :
            bench_decode(cm.e, tokens[0], bo.n_decode, capture, bo.repeat, &o, hp->n_vocab, err, sizeof err);
        if (results[0][capture] < 0 || results[1][capture] < 0) rc = 1;
        engine_destroy(cm.e);
        cm.e = NULL;
    }
    if (rc == 0) {
        printf("%-28s %12s %12s %10s\n", "", "capture on", "capture off", "cost");
        printf("%-28s %10.1f/s %10.1f/s %9.1f%%\n", "prompt eval (tokens/s)", results[0][1], results[0][0],
               100.0 * (1.0 - results[0][1] / results[0][0]));
        printf("%-28s %10.1f/s %10.1f/s %9.1f%%\n", "decode (tokens/s)", results[1][1], results[1][0],
               100.0 * (1.0 - results[1][1] / results[1][0]));
        printf("(prompt: %d tokens in one eval; decode: %d tokens from an empty context; best of %d)\n",
               bo.n_prompt, bo.n_decode, bo.repeat);
    }
    /* Per-kernel split: one more engine with GPU timestamps on, capture on. */
    if (rc == 0) {
        setenv("LLMSCOPE_VK_PROFILE", "1", 1);
        if (cli_create_engine(&cm, bo.backend, bo.device, n_ctx, true, false, err, sizeof err) == 0) {
            if (strcmp(cm.e->backend, "vulkan") == 0) {
                if (bench_decode(cm.e, tokens[0], bo.n_decode, true, 1, &o, hp->n_vocab, err, sizeof err) >= 0) {
                    printf("\nGPU time per kernel, decode of %d tokens with capture on:\n", bo.n_decode);
                    engine_vulkan_print_profile(cm.e, stdout);
                }
            }
            engine_destroy(cm.e);
            cm.e = NULL;
        }
        unsetenv("LLMSCOPE_VK_PROFILE");
    }
    if (rc) fprintf(stderr, "llmscope bench: %s\n", err);
    free(tokens);
    outputs_free(&o);
    cli_model_free(&cm);
    return rc;
}
