/* test_replay.c — `llmscope replay`: traces written by the real headless command, read
 * back and re-scored.
 *
 *   self        stories260K's trace against stories260K: KL exactly 0 at every token,
 *               full top-1 agreement, and the trace's own probabilities reproduced;
 *   family      a llama-k-tiny-f32 trace against the same weights stored in fewer bits:
 *               the mean KL grows as bits drop (F32 = 0 < Q8_0 < Q6_K < Q4_K_M);
 *   errors      different vocabularies, and broken trace files, each one clear line. */
#include "cli.h"
#include "test_cli.h"
#include "engine.h"
#include "model.h"
#include "replay.h"
#include "test.h"
#include "tokenizer.h"

#include <fcntl.h>
#include <unistd.h>

/* Writes a trace of a headless reply with the real command (its text goes to /dev/null). */
static int write_trace(const char *model_path, const char *prompt, int n, float temp, const char *trace) {
    cli_options o;
    cli_options_default(&o);
    o.model = model_path;
    o.prompt = prompt;
    o.n_predict = n;
    o.backend = CLI_BACKEND_CPU;
    o.sampling.temperature = temp;
    o.sampling.seed = 7;
    o.trace_path = trace;
    o.mode = CLI_MODE_COMPLETE;
    return test_cli_run_quiet(&o);
}

/* Loads a model and its CPU engine for N_CTX positions. */
static int open_model(cli_model *cm, const char *path, int n_ctx, char *err, size_t errlen) {
    memset(cm, 0, sizeof *cm);
    snprintf(cm->path, sizeof cm->path, "%s", path);
    if (cli_load_model(cm, err, errlen) < 0) return -1;
    return cli_create_engine(cm, CLI_BACKEND_CPU, -1, n_ctx, false, false, err, errlen);
}

static void self_replay_is_exactly_zero(void) {
    char path[512], err[512], trace[] = "/tmp/llmscope-replay-XXXXXX";
    REQUIRE_SHARED(path, "models/stories260K.gguf");
    int fd = mkstemp(trace);
    CHECK(fd >= 0);
    close(fd);
    CHECK(write_trace(path, "Once upon a time", 40, 0.9f, trace) == 0);
    replay_trace t;
    if (replay_read_trace(trace, &t, err, sizeof err) < 0) {
        CHECKF(0, "%s", err);
        unlink(trace);
        return;
    }
    /* the context: BOS and the prompt, the model file, then 40 traced tokens */
    CHECK(t.model_path && strstr(t.model_path, "stories260K.gguf"));
    CHECK(t.n_vocab == 512);
    int first = 0;
    while (first < t.n_tokens && !t.traced[first]) first++;
    CHECK(first >= 2 && t.tokens[0] == 1); /* <s> */
    CHECK(t.n_tokens - first == 40 || (t.n_tokens - first < 40 && t.n_tokens > first));
    cli_model a, b;
    CHECK(open_model(&a, path, t.n_tokens, err, sizeof err) == 0);
    CHECK(open_model(&b, path, t.n_tokens, err, sizeof err) == 0);
    replay_result r;
    CHECK(replay_compare(a.e, b.e, tokenizer_n_vocab(a.tok), &t, false, &r, err, sizeof err) == 0);
    CHECK(r.n == t.n_tokens - first);
    for (int i = 0; i < r.n; i++) {
        CHECKF(r.tok[i].kl == 0.0, "position %d: KL %g", r.tok[i].pos, r.tok[i].kl);
        CHECK(r.tok[i].logp_base == r.tok[i].logp_other);
        CHECK(r.tok[i].top_base == r.tok[i].top_other);
    }
    CHECK(r.mean_kl == 0.0 && r.max_kl == 0.0);
    CHECK(r.agree == r.n && r.first_divergence == -1);
    /* the trace's probabilities (7 digits) are the base model's */
    CHECKF(r.trace_prob_err <= 1e-6, "trace probabilities reproduced within %g", r.trace_prob_err);
    replay_result_free(&r);
    /* --all: every position from 1, the prompt's too; still exactly 0 */
    CHECK(replay_compare(a.e, b.e, tokenizer_n_vocab(a.tok), &t, true, &r, err, sizeof err) == 0);
    CHECK(r.n == t.n_tokens - 1 && r.max_kl == 0.0 && r.agree == r.n);
    replay_result_free(&r);
    cli_model_free(&a);
    cli_model_free(&b);
    replay_trace_free(&t);
    unlink(trace);
}

static void kl_grows_as_bits_drop(void) {
    /* One transcript of llama-k-tiny-f32 (greedy, 48 tokens) scored by the same weights
     * in f32, q8_0, q6_k and q4_k_m. Quantisation error grows as bits drop (test_quant
     * measures the weights: q8_0 < q6_k < q4_k), and with it the distance between the
     * distributions; f32 against itself is exactly 0. */
    static const char *types[] = {"f32", "q8_0", "q6_k", "q4_k_m"};
    char base[512], err[512], trace[] = "/tmp/llmscope-replay-XXXXXX";
    REQUIRE_SHARED(base, "models/llama-k-tiny-f32.gguf");
    int fd = mkstemp(trace);
    CHECK(fd >= 0);
    close(fd);
    CHECK(write_trace(base, "Once upon a time there was a little dog", 48, 0, trace) == 0);
    replay_trace t;
    if (replay_read_trace(trace, &t, err, sizeof err) < 0) {
        CHECKF(0, "%s", err);
        unlink(trace);
        return;
    }
    cli_model a;
    CHECK(open_model(&a, base, t.n_tokens, err, sizeof err) == 0);
    double kl[4];
    for (int i = 0; i < 4; i++) {
        char rel[128], path[512];
        snprintf(rel, sizeof rel, "models/llama-k-tiny-%s.gguf", types[i]);
        if (!test_shared_path(path, sizeof path, rel)) {
            CHECKF(0, "../shared/%s missing", rel);
            kl[i] = NAN;
            continue;
        }
        cli_model b;
        replay_result r;
        CHECK(open_model(&b, path, t.n_tokens, err, sizeof err) == 0);
        CHECK(replay_compare(a.e, b.e, tokenizer_n_vocab(a.tok), &t, false, &r, err, sizeof err) == 0);
        kl[i] = r.mean_kl;
        if (getenv("LLMSCOPE_TEST_VERBOSE"))
            fprintf(stderr, "  %-6s mean KL %.6f, max %.6f, top-1 agreement %d/%d, first divergence %d\n", types[i],
                    r.mean_kl, r.max_kl, r.agree, r.n, r.first_divergence);
        if (i == 0) CHECK(r.max_kl == 0.0 && r.agree == r.n && r.first_divergence == -1);
        CHECK(r.n >= 40);
        replay_result_free(&r);
        cli_model_free(&b);
    }
    CHECK(kl[0] == 0.0);
    for (int i = 1; i < 4; i++) CHECKF(kl[i] > kl[i - 1], "%s KL %g <= %s KL %g", types[i], kl[i], types[i - 1], kl[i - 1]);
    cli_model_free(&a);
    replay_trace_free(&t);
    unlink(trace);
}

static void different_vocabularies_refused(void) {
    char p1[512], p2[512], err[512];
    REQUIRE_SHARED(p1, "models/stories260K.gguf");
    REQUIRE_SHARED(p2, "models/llama-k-tiny-f32.gguf");
    cli_model a, b;
    CHECK(open_model(&a, p1, 8, err, sizeof err) == 0);
    CHECK(open_model(&b, p2, 8, err, sizeof err) == 0);
    int32_t toks[3] = {1, 5, 6};
    bool traced[3] = {false, true, true};
    float prob[3] = {NAN, NAN, NAN};
    char *text[3] = {0};
    replay_trace t = {.tokens = toks, .n_tokens = 3, .traced = traced, .trace_prob = prob, .text = text};
    replay_result r;
    CHECK(replay_compare(a.e, b.e, 512, &t, false, &r, err, sizeof err) < 0);
    CHECK(strstr(err, "different vocabularies") != NULL);
    /* a token the vocabulary does not have */
    toks[2] = 600;
    CHECK(replay_compare(a.e, a.e, 512, &t, false, &r, err, sizeof err) < 0);
    CHECK(strstr(err, "not in the model's vocabulary") != NULL);
    cli_model_free(&a);
    cli_model_free(&b);
}

/* Writes TEXT to a temporary trace and returns replay_read_trace's result. */
static int read_text(const char *text, char *err, size_t errlen) {
    char path[] = "/tmp/llmscope-replay-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) return -2;
    if (write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
        close(fd);
        return -2;
    }
    close(fd);
    replay_trace t;
    int rc = replay_read_trace(path, &t, err, errlen);
    if (rc == 0) replay_trace_free(&t);
    unlink(path);
    return rc;
}

static void broken_traces(void) {
    char err[512];
    const char *ctx = "{\"pos\":2,\"id\":7,\"context\":{\"model\":\"m.gguf\",\"tokens\":[1,5]}}\n";
    CHECK(read_text(ctx, err, sizeof err) == 0);
    CHECK(read_text("", err, sizeof err) == -1 && strstr(err, "no traced tokens"));
    CHECK(read_text("{\"pos\":2,\"id\":7}\n", err, sizeof err) == -1 && strstr(err, ":1: no \"context\""));
    CHECK(read_text("not json\n", err, sizeof err) == -1 && strstr(err, ":1: not a JSON object"));
    char two[512];
    snprintf(two, sizeof two, "%s{\"pos\":4,\"id\":7}\n", ctx);
    CHECK(read_text(two, err, sizeof err) == -1 && strstr(err, ":2: token at position 4 does not follow"));
    snprintf(two, sizeof two, "%s{\"pos\":3,\"id\":-7}\n", ctx);
    CHECK(read_text(two, err, sizeof err) == -1 && strstr(err, ":2: a token line needs"));
    CHECK(read_text("{\"pos\":2,\"id\":7,\"context\":{\"model\":\"m\",\"tokens\":[1,\"x\"]}}\n", err, sizeof err) == -1 &&
          strstr(err, "context token 1 is not a token id"));
    CHECK(read_text("{\"pos\":0,\"id\":7,\"context\":{\"model\":3,\"tokens\":[]}}\n", err, sizeof err) == -1 &&
          strstr(err, "\"context\" needs"));
    replay_trace t;
    CHECK(replay_read_trace("/no/such/trace.jsonl", &t, err, sizeof err) < 0 && strstr(err, "cannot read the trace"));
}

int main(void) {
    RUN(self_replay_is_exactly_zero);
    RUN(kl_grows_as_bits_drop);
    RUN(different_vocabularies_refused);
    RUN(broken_traces);
    return test_exit_code();
}
