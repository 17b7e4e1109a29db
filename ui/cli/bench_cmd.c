/* bench_cmd.c — `llmscope bench -m MODEL`.
 *
 * Measures what a user feels: prompt evaluation (512 tokens in one eval call) and decode
 * (128 tokens, one eval each, the next token chosen from the engine's output), each with
 * capture on (every head's attention row, plus the distribution summary the interface
 * shows) and off. Token ids are seeded random ids, so any model file works, synthetic or
 * real. Timings are wall-clock around eval calls after a warm-up; the per-kernel split
 * comes from a separate, profiled run (GPU timestamps cost a little), so the headline
 * numbers are unprofiled.
 *
 * The cost of capture is a difference of a few percent between runs on a machine that
 * other programs may be using: measured separately, a burst of their work in one run
 * reads as a cost (or a negative one). So capture on and off run on one engine in pairs,
 * back to back, the order flipped from pair to pair, and the cost printed is the median
 * of the pairs' costs with their range beside it: a wide range says the machine was busy.
 *
 * A second part measures the inspection features as the terminal app uses them, through
 * a session: decode with everything on (attention rows and hidden states kept in the step
 * records, grounding computed and breakpoints checked every token) against capture off,
 * and, at the end of a 2,000-token context, how long the why card takes and how long the
 * terminal app takes to draw its heatmap and a whole frame. With a mixture of experts,
 * the weight bytes one decoded token reads and touches on the CPU (bench_moe.c). */
#include "bench_cmd.h"

#include "bench_moe.h"
#include "cli.h"
#include "inspect.h"
#include "tokenizer.h"
#include "tui.h"
#include "quant.h"
#include "term_text.h"
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
    int why_context; /* 0: skip the why-card measurement */
    int context;     /* decode starts after this many tokens of context */
} bench_opts;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void usage(FILE *f) {
    fprintf(f, "usage: llmscope bench -m MODEL [--backend vulkan|cpu] [--device N]\n"
               "                      [--prompt N (512)] [--decode N (128)] [--repeat N (3)]\n"
               "                      [--why-context N (2000; 0 skips)] [--context N (0)]\n"
               "                      [--threads N (the CPU engine's; default $LLMSCOPE_THREADS or the cores)]\n"
               "  prints prompt-evaluation and decode tokens/s with attention capture on and off,\n"
               "  (Vulkan) the GPU time per kernel from timestamp queries, and the cost of the\n"
               "  inspection features: decode through a session with everything on vs capture off,\n"
               "  and the time to build the why card of a token deep in a long context;\n"
               "  --context: decode after N tokens of context (long-context attention)\n");
}

/* Buffers for one eval's outputs, sized for the largest request of the run. */
typedef struct outputs {
    float *logits, *attention, *top_logits, *lse, *entropy;
    int32_t *top_ids;
    bool lens;                      /* also ask for the logit lens (Vulkan: on the GPU) */
    int32_t lens_ids[INSPECT_LENS_K];
    float *lens_logits;             /* [n_layer + 1][INSPECT_LENS_K] */
} outputs;

static void outputs_free(outputs *o) {
    free(o->logits); free(o->attention); free(o->top_logits); free(o->lse); free(o->entropy); free(o->top_ids);
    free(o->lens_logits);
}

enum { TOP_K = 16, MAX_REPEAT = 100 };

/* One eval with the outputs capture on/off asks for. In decode the CPU reference (which
 * has no GPU-side reduction) returns the logits, since the next token comes from them. */
static int run_eval(engine *e, const int32_t *tokens, int n, int pos, bool capture, outputs *o,
                    char *err, size_t errlen) {
    bool gpu = strcmp(e->backend, "vulkan") == 0;
    engine_batch b = {.tokens = tokens, .n_tokens = n, .pos = pos, .all_positions = false};
    b.logits = gpu || n > 1 ? NULL : o->logits; /* a prompt's next token is not needed */
    b.top_k = TOP_K;
    b.top_ids = o->top_ids;
    b.top_logits = o->top_logits;
    b.logsumexp = o->lse;
    b.entropy = o->entropy;
    if (capture) {
        b.attention = o->attention;
        b.all_positions = n > 1; /* a prompt's capture covers every position */
    }
    if (o->lens && n == 1) { /* the candidates' lens, as the why card would use it each step */
        b.lens_k = INSPECT_LENS_K;
        b.lens_ids = o->lens_ids;
        b.lens_logits = o->lens_logits;
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

/* Tokens/s of one prompt evaluation of N tokens at position 0, or -1 on error. */
static double prompt_once(engine *e, const int32_t *tokens, int n, bool capture, outputs *o,
                          char *err, size_t errlen) {
    double t0 = now_s();
    if (run_eval(e, tokens, n, 0, capture, o, err, errlen)) return -1;
    return n / (now_s() - t0);
}

/* Tokens/s of N decoding steps from position CONTEXT (whose context the caller has
 * evaluated), each step's token the previous step's choice, or -1 on error. */
static double decode_once(engine *e, int32_t first, int context, int n, bool capture, outputs *o,
                          int n_vocab, char *err, size_t errlen) {
    int32_t tok = first;
    double t0 = now_s();
    for (int i = 0; i < n; i++) {
        if (run_eval(e, &tok, 1, context + i, capture, o, err, errlen)) return -1;
        tok = next_token(e, o, n_vocab);
    }
    return n / (now_s() - t0);
}

/* Evaluates CONTEXT tokens of TOKENS (untimed) and one warm-up step after them. */
static int decode_setup(engine *e, const int32_t *tokens, int context, bool capture, outputs *o,
                        char *err, size_t errlen) {
    int32_t tok = tokens[0];
    if (context > 0 && run_eval(e, tokens, context, 0, false, o, err, errlen)) return -1;
    return run_eval(e, &tok, 1, context, capture, o, err, errlen);
}

/* Best of REPEAT decodes (the profiled and the logit-lens runs), or -1 on error. */
static double bench_decode(engine *e, const int32_t *tokens, int context, int n, bool capture, int repeat,
                           outputs *o, int n_vocab, char *err, size_t errlen) {
    double best = 0;
    if (decode_setup(e, tokens, context, capture, o, err, errlen)) return -1;
    if (strcmp(e->backend, "vulkan") == 0) engine_vulkan_reset_profile(e); /* the timed steps only */
    for (int r = 0; r < repeat; r++) {
        const double tps = decode_once(e, tokens[0], context, n, capture, o, n_vocab, err, errlen);
        if (tps < 0) return -1;
        if (tps > best) best = tps;
    }
    return best;
}

/* Speeds with capture off [0] and on [1], measured in pairs run back to back (the order
 * flipped from pair to pair), so that a machine busy with other work slows both alike. */
typedef struct paired {
    double best[2];
    double cost[MAX_REPEAT];  /* 1 - on / off of each pair */
    int n;
} paired;

static void paired_add(paired *p, double off, double on) {
    if (off > p->best[0]) p->best[0] = off;
    if (on > p->best[1]) p->best[1] = on;
    p->cost[p->n++] = 1.0 - on / off;
}

static int cmp_double(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* "best on, best off, cost: median of the pairs and their range" */
static void paired_print(const char *what, paired *p) {
    double sorted[MAX_REPEAT];
    memcpy(sorted, p->cost, (size_t)p->n * sizeof *sorted);
    qsort(sorted, (size_t)p->n, sizeof *sorted, cmp_double);
    const double median = p->n % 2 ? sorted[p->n / 2] : (sorted[p->n / 2 - 1] + sorted[p->n / 2]) / 2;
    printf("%-28s %10.1f/s %10.1f/s %9.1f%%  (%.1f%% .. %.1f%%)\n", what, p->best[1], p->best[0],
           100.0 * median, 100.0 * sorted[0], 100.0 * sorted[p->n - 1]);
}

/* Prompt and decode speeds, capture on and off interleaved (see paired). */
static int bench_speeds(engine *e, const int32_t *tokens, const bench_opts *bo, outputs *o,
                        int n_vocab, paired *prompt, paired *decode, char *err, size_t errlen) {
    memset(prompt, 0, sizeof *prompt);
    memset(decode, 0, sizeof *decode);
    /* warm-up: a short prompt, and the decode's context */
    if (run_eval(e, tokens, bo->n_prompt < 16 ? bo->n_prompt : 16, 0, true, o, err, errlen)) return -1;
    for (int r = 0; r < bo->repeat; r++) {
        double tps[2];
        for (int k = 0; k < 2; k++) {
            const int capture = (r + k) % 2;
            if ((tps[capture] = prompt_once(e, tokens, bo->n_prompt, capture, o, err, errlen)) < 0) return -1;
        }
        paired_add(prompt, tps[0], tps[1]);
    }
    if (decode_setup(e, tokens, bo->context, true, o, err, errlen)) return -1;
    for (int r = 0; r < bo->repeat; r++) {
        double tps[2];
        for (int k = 0; k < 2; k++) {
            const int capture = (r + k) % 2;
            tps[capture] = decode_once(e, tokens[0], bo->context, bo->n_decode, capture, o, n_vocab, err, errlen);
            if (tps[capture] < 0) return -1;
        }
        paired_add(decode, tps[0], tps[1]);
    }
    return 0;
}

/* Tokens/s of N greedy tokens through a session after a short prompt. With EVERYTHING,
 * also what the app does per token: grounding and breakpoint checks. */
static double session_decode(cli_model *cm, bool everything, int n, char *err, size_t errlen) {
    session_config cfg = {.n_ctx = cm->e->n_ctx, .chat = false, .capture_attention = everything};
    sampler_params_default(&cfg.sampling);
    cfg.sampling.temperature = 0;
    session *s = session_create(&cm->m, cm->tok, cm->e, &cfg, err, errlen);
    if (!s) return -1;
    double tps = -1;
    if (session_begin_reply(s, "Once upon a time", err, errlen) == 0) {
        inspect_view v;
        inspect_view_session(&v, s);
        grounding_params gp;
        grounding_params_default(&gp);
        inspect_breakpoints b = {.on_entropy = true, .entropy_above = 2.5f, .on_grounding = true, .grounding_below = 0.2f};
        const step_record *r;
        int made = 0;
        double t0 = now_s();
        for (; made < n; made++) {
            int rc = session_next(s, &r, err, errlen);
            if (rc < 0) { made = -1; break; }
            if (rc == 0) { /* the model ended its reply: carry on with a fresh one */
                if (session_begin_reply(s, " And then", err, errlen) < 0) { made = -1; break; }
                continue;
            }
            if (everything) {
                grounding g;
                inspect_grounding(&v, (size_t)r->pos, &gp, &g);
                (void)inspect_should_break(&b, r, &g, NULL, 0);
            }
        }
        if (made > 0) tps = made / (now_s() - t0);
    }
    session_free(s);
    return tps;
}

/* Once a session holds about N_CONTEXT records (a long prompt of repeated text, then
 * generated tokens): milliseconds to build the why card of the last generated token, and
 * to draw the terminal app's heatmap and a whole frame for it (best of 3 each). */
static double long_context(cli_model *cm, int n_context, double *heatmap_ms, double *frame_ms, char *err,
                           size_t errlen) {
    session_config cfg = {.n_ctx = cm->e->n_ctx, .chat = false, .capture_attention = true};
    sampler_params_default(&cfg.sampling);
    cfg.sampling.temperature = 0;
    session *s = session_create(&cm->m, cm->tok, cm->e, &cfg, err, errlen);
    if (!s) return -1;
    double ms = -1;
    /* A prompt of about n_context - 64 tokens: grow text until it tokenizes that long. */
    size_t cap = 1 << 20, len = 0;
    char *text = malloc(cap);
    const char *para = "Once upon a time, there was a little girl named Lily who liked to play in the park. ";
    int32_t *ids = NULL;
    int n_ids = 0;
    while (text && len + strlen(para) + 1 < cap) {
        memcpy(text + len, para, strlen(para) + 1);
        len += strlen(para);
        free(ids);
        ids = NULL;
        n_ids = tokenizer_encode(cm->tok, text, len, false, false, &ids, err, errlen);
        if (n_ids < 0 || n_ids >= n_context - 64) break;
    }
    free(ids);
    if (text && n_ids > 0 && session_begin_reply(s, text, err, errlen) == 0) {
        const step_record *r;
        int rc = 1;
        while ((int)session_n_records(s) < n_context && rc >= 0) {
            rc = session_next(s, &r, err, errlen);
            if (rc == 0) rc = session_begin_reply(s, " And", err, errlen) == 0 ? 1 : -1;
        }
        size_t rec = session_n_records(s) - 1;
        while (rec > 0 && !session_record(s, rec)->generated) rec--;
        inspect_view v;
        inspect_view_session(&v, s);
        why_options o;
        why_options_default(&o);
        o.m = &cm->m;
        o.lens_engine = session_lens_engine(s); /* Vulkan: the lens on the GPU */
        for (int rep = 0; rc >= 0 && rep < 3; rep++) {
            why_card w;
            double t0 = now_s();
            if (inspect_why(&v, rec, &o, &w, err, errlen) < 0) { ms = -1; break; }
            double t = (now_s() - t0) * 1e3;
            why_card_free(&w);
            if (ms < 0 || t < ms) ms = t;
        }
        if (ms >= 0 && tui_bench_draw(s, cm->tok, 50, 200, 3, heatmap_ms, frame_ms, err, errlen) < 0)
            *heatmap_ms = *frame_ms = -1;
    }
    free(text);
    session_free(s);
    return ms;
}

/* What a model with recurrent (DeltaNet) layers holds beside the KV cache after the runs. */
static void print_state_memory(const engine *e) {
    engine_state_memory m;
    engine_get_state_memory(e, &m);
    if (!m.state) return;
    printf("recurrent state: %.1f MiB live, %.1f MiB of per-position keys, %d checkpoints of it (%.1f MiB)\n",
           m.state / 1048576.0, m.keys / 1048576.0, m.n_checkpoints, m.checkpoints / 1048576.0);
}

int bench_main(int argc, char **argv) {
    bench_opts bo = {NULL, CLI_BACKEND_AUTO, -1, 512, 128, 3, 2000, 0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { usage(stdout); return 0; }
        if (!v) { fprintf(stderr, "llmscope bench: %s needs a value\n", a); return 2; }
        if (!strcmp(a, "-m") || !strcmp(a, "--model")) bo.model = v;
        else if (!strcmp(a, "--backend")) { if (cli_parse_backend(v, &bo.backend)) return 2; }
        else if (!strcmp(a, "--device")) { if (cli_parse_int(a, v, 0, 1024, &bo.device)) return 2; }
        else if (!strcmp(a, "--prompt")) { if (cli_parse_int(a, v, 1, 65536, &bo.n_prompt)) return 2; }
        else if (!strcmp(a, "--decode")) { if (cli_parse_int(a, v, 1, 65536, &bo.n_decode)) return 2; }
        else if (!strcmp(a, "--repeat")) { if (cli_parse_int(a, v, 1, MAX_REPEAT, &bo.repeat)) return 2; }
        else if (!strcmp(a, "--why-context")) { if (cli_parse_int(a, v, 0, 1 << 20, &bo.why_context)) return 2; }
        else if (!strcmp(a, "--context")) { if (cli_parse_int(a, v, 0, 1 << 20, &bo.context)) return 2; }
        else if (!strcmp(a, "--threads")) { if (cli_set_threads(v)) return 2; }
        else { fprintf(stderr, "llmscope bench: unknown option '%s'\n", a); usage(stderr); return 2; }
        i++;
    }
    char err[1024], shown[2048];
    cli_model cm;
    memset(&cm, 0, sizeof cm);
    if (cli_find_model(bo.model, cm.path, sizeof cm.path, err, sizeof err) ||
        cli_load_model(&cm, err, sizeof err)) {
        fprintf(stderr, "llmscope bench: %s\n", term_clean(err, shown, sizeof shown));
        cli_model_free(&cm);
        return 1;
    }
    const model_hparams *hp = &cm.m.hp;
    int n_ctx = bo.n_prompt > bo.context + bo.n_decode ? bo.n_prompt : bo.context + bo.n_decode;
    int n_tokens = bo.n_prompt > bo.context ? bo.n_prompt : bo.context; /* prompt, and the decode's context */
    if (n_ctx > hp->n_ctx_train) {
        fprintf(stderr, "llmscope bench: the model's context is %d tokens; use --prompt/--decode/--context within it\n", hp->n_ctx_train);
        cli_model_free(&cm);
        return 1;
    }
    int32_t *tokens = malloc((size_t)n_tokens * sizeof *tokens);
    outputs o = {0};
    size_t att = (size_t)hp->n_layer * hp->n_head * (size_t)n_ctx;
    o.attention = malloc(att * (size_t)bo.n_prompt * sizeof(float));
    o.logits = malloc((size_t)hp->n_vocab * sizeof(float));
    o.top_ids = malloc((size_t)bo.n_prompt * TOP_K * sizeof(int32_t));
    o.top_logits = malloc((size_t)bo.n_prompt * TOP_K * sizeof(float));
    o.lse = malloc((size_t)bo.n_prompt * sizeof(float));
    o.entropy = malloc((size_t)bo.n_prompt * sizeof(float));
    o.lens_logits = malloc((size_t)(hp->n_layer + 1) * INSPECT_LENS_K * sizeof(float));
    if (!tokens || !o.attention || !o.logits || !o.top_ids || !o.top_logits || !o.lse || !o.entropy || !o.lens_logits) {
        fprintf(stderr, "llmscope bench: out of memory for %d-token capture buffers\n", bo.n_prompt);
        free(tokens); outputs_free(&o); cli_model_free(&cm);
        return 1;
    }
    uint64_t rng = 0x853c49e6748fea9bULL;
    for (int i = 0; i < n_tokens; i++) {
        rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
        tokens[i] = (int32_t)((rng >> 33) % (uint64_t)hp->n_vocab);
    }

    /* Count storage types for the header line. */
    uint64_t params = 0;
    for (uint64_t i = 0; i < cm.m.file.n_tensors; i++) {
        const gguf_tensor *t = &cm.m.file.tensors[i];
        params += t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3];
    }
    paired prompt, decode;
    double lens_tps = -1;  /* decode with capture and the GPU logit lens */
    int rc = 0;
    /* One engine for both: capture on at creation only reserves the memory for it. */
    if (cli_create_engine(&cm, bo.backend, bo.device, n_ctx, true, false, err, sizeof err)) rc = 1;
    if (rc == 0) {
        char count[32];
        cli_format_count(params, count, sizeof count);
        printf("llmscope bench: %s — %s, %d layers, %s parameters, %.1f MB file\n"
               "device: %s (%s)\n",
               cm.path, hp->arch_name, hp->n_layer, count, (double)cm.m.file.size / 1e6,
               cm.e->device_name, cm.e->backend);
        if (bench_speeds(cm.e, tokens, &bo, &o, hp->n_vocab, &prompt, &decode, err, sizeof err)) rc = 1;
        if (rc == 0) print_state_memory(cm.e);
        if (rc == 0 && strcmp(cm.e->backend, "vulkan") == 0) {
            o.lens = true;
            lens_tps = bench_decode(cm.e, tokens, bo.context, bo.n_decode, true, bo.repeat, &o, hp->n_vocab, err, sizeof err);
            o.lens = false;
            if (lens_tps < 0) rc = 1;
        }
        engine_destroy(cm.e);
        cm.e = NULL;
    }
    if (rc == 0) {
        printf("%-28s %12s %12s %10s  %s\n", "", "capture on", "capture off", "cost", "(range)");
        paired_print("prompt eval (tokens/s)", &prompt);
        paired_print("decode (tokens/s)", &decode);
        if (lens_tps > 0)
            printf("%-28s %10.1f/s %12s %9.1f%%\n", "decode + logit lens (GPU)", lens_tps, "",
                   100.0 * (1.0 - lens_tps / decode.best[0]));
        printf("(prompt: %d tokens in one eval; decode: %d tokens after a context of %d; best of %d;\n"
               " capture on and off alternate run by run, cost: the median of %d pairs and their range)\n",
               bo.n_prompt, bo.n_decode, bo.context, bo.repeat, bo.repeat);
    }
    /* Per-kernel split: one more engine with GPU timestamps on, capture on. */
    if (rc == 0) {
        setenv("LLMSCOPE_VK_PROFILE", "1", 1);
        if (cli_create_engine(&cm, bo.backend, bo.device, n_ctx, true, false, err, sizeof err) == 0) {
            if (strcmp(cm.e->backend, "vulkan") == 0) {
                if (prompt_once(cm.e, tokens, bo.n_prompt < 16 ? bo.n_prompt : 16, true, &o, err, sizeof err) >= 0 &&
                    prompt_once(cm.e, tokens, bo.n_prompt, true, &o, err, sizeof err) >= 0) {
                    printf("\nGPU time per step, prompt evaluation of %d tokens with capture on (and a warm-up):\n",
                           bo.n_prompt);
                    engine_vulkan_print_profile(cm.e, stdout);
                }
                if (bench_decode(cm.e, tokens, bo.context, bo.n_decode, true, 1, &o, hp->n_vocab, err, sizeof err) >= 0) {
                    printf("\nGPU time per step, decode of %d tokens with capture on:\n", bo.n_decode);
                    engine_vulkan_print_profile(cm.e, stdout);
                }
            }
            engine_destroy(cm.e);
            cm.e = NULL;
        }
        unsetenv("LLMSCOPE_VK_PROFILE");
    }
    /* A mixture of experts: the weight bytes a decoded token touches on the CPU. */
    if (rc == 0 && bench_moe(&cm.m, tokens, bo.n_decode, err, sizeof err) < 0) rc = 1;
    /* Inspection features, through a session as the app uses them. */
    if (rc == 0) {
        int ctx = bo.why_context > bo.n_decode + 64 ? bo.why_context : bo.n_decode + 64;
        if (ctx > hp->n_ctx_train) ctx = hp->n_ctx_train;
        double why = -1, heatmap = -1, frame = -1;
        paired sessions = {{0, 0}, {0}, 0};
        bool ok = true;
        if (cli_create_engine(&cm, bo.backend, bo.device, ctx, true, false, err, sizeof err) == 0) {
            for (int r = 0; ok && r < bo.repeat; r++) { /* in pairs, as bench_speeds */
                double tps[2];
                for (int k = 0; k < 2; k++) {
                    const int everything = (r + k) % 2;
                    tps[everything] = session_decode(&cm, everything, bo.n_decode, err, sizeof err);
                    ok &= tps[everything] > 0;
                }
                if (ok) paired_add(&sessions, tps[0], tps[1]);
            }
            if (bo.why_context > 0) {
                if (bo.why_context <= hp->n_ctx_train)
                    why = long_context(&cm, bo.why_context, &heatmap, &frame, err, sizeof err);
                else fprintf(stderr, "llmscope bench: why card skipped: the model's context is %d tokens\n", hp->n_ctx_train);
            }
            engine_destroy(cm.e);
            cm.e = NULL;
        }
        if (ok && sessions.n > 0) {
            printf("\ninspection, through a session (%d tokens; everything on: attention rows and hidden\n"
                   "states kept, grounding and breakpoints checked every token):\n", bo.n_decode);
            paired_print("decode (tokens/s)", &sessions);
        } else
            fprintf(stderr, "llmscope bench: session decode failed: %s\n", err);
        if (why >= 0) printf("why card of a token at position ~%d: %.1f ms (best of 3)\n", bo.why_context, why);
        if (heatmap >= 0)
            printf("terminal app at that token, 200x50: attention pane %.2f ms, whole frame %.2f ms (best of 3)\n",
                   heatmap, frame);
    }
    if (rc) fprintf(stderr, "llmscope bench: %s\n", term_clean(err, shown, sizeof shown));
    free(tokens);
    outputs_free(&o);
    cli_model_free(&cm);
    return rc;
}
