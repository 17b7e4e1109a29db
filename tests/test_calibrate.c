/* test_calibrate.c — `llmscope calibrate` and the detector it writes.
 *
 *   statistics     AUROC on hand-made cases; the logistic fit meets its optimality
 *                  condition (the penalised gradient vanishes); varentropy of a
 *                  distribution the top list holds whole, by hand
 *   planted        synthetic traces (conversations of three answers) where wrong answers
 *                  have lower token probabilities and one head looks back less: the
 *                  detector finds it on answers it never saw (AUROC > 0.9), and the file
 *                  it writes loads and scores like the fit
 *   shuffled       the same traces with labels that ignore the signal: AUROC about 0.5
 *   bad inputs     no labels, one class only, mismatched traces, a missing answer, a
 *                  bad label: one clear line each
 *   live = trace   the shipped dictionary model's trace, read back, gives the features a
 *                  live session computes for the same reply (and the trace's suspicion)
 * CPU only: it also runs under ASan/UBSan. */
#include "calibrate.h"
#include "cli.h"
#include "test_cli.h"
#include "detector.h"
#include "test.h"
#include "tokenizer.h"

#include <fcntl.h>
#include <unistd.h>

/* ---- a seeded generator (the data must not depend on the C library) ---- */

static uint64_t rng_state;
static double uniform(void) {
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(rng_state >> 11) * 0x1p-53;
}

static char tmp_dir[64];

static void make_dir(void) {
    snprintf(tmp_dir, sizeof tmp_dir, "/tmp/llmscope-cal-XXXXXX");
    CHECK(mkdtemp(tmp_dir) != NULL);
}

static void remove_dir(void) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_dir);
    CHECK(system(cmd) == 0);
}

static void path_in(char *out, size_t cap, const char *name) { snprintf(out, cap, "%s/%s", tmp_dir, name); }

/* ---- statistics ---- */

static void auroc_by_hand(void) {
    double s[] = {0.1, 0.2, 0.3, 0.4};
    uint8_t up[] = {0, 0, 1, 1}, down[] = {1, 1, 0, 0}, one[] = {1, 1, 1, 1};
    CHECK_NEAR(det_auroc(s, up, 4), 1.0, 1e-12);
    CHECK_NEAR(det_auroc(s, down, 4), 0.0, 1e-12);
    CHECK(isnan(det_auroc(s, one, 4)));
    double tied[] = {0.5, 0.5, 0.5, 0.5};
    CHECK_NEAR(det_auroc(tied, up, 4), 0.5, 1e-12);
    /* 3 positives, 2 negatives: pairs (p > n) = 4 of 6, one tie counted half */
    double m[] = {0.9, 0.4, 0.6, 0.4, 0.1};
    uint8_t y[] = {1, 1, 1, 0, 0};
    CHECK_NEAR(det_auroc(m, y, 5), (2 + 2 + 1.5) / 6.0, 1e-12);
}

static void logreg_is_optimal(void) {
    enum { N = 300, D = 3 };
    static double x[N * D];
    static uint8_t y[N];
    rng_state = 11;
    for (int i = 0; i < N; i++) {
        for (int j = 0; j < D; j++) x[i * D + j] = uniform() * 2 - 1;
        double z = 2 * x[i * D] - x[i * D + 1] + 0.3;
        y[i] = uniform() < 1 / (1 + exp(-z));
    }
    double w[D], b, lambda = 0.01;
    CHECK(det_logreg_fit(x, y, N, D, lambda, w, &b) == 0);
    /* mean (p - y) x + lambda w = 0 for the weights, mean (p - y) = 0 for the bias */
    double g[D + 1] = {0};
    for (int i = 0; i < N; i++) {
        double z = b;
        for (int j = 0; j < D; j++) z += w[j] * x[i * D + j];
        double r = 1 / (1 + exp(-z)) - y[i];
        for (int j = 0; j < D; j++) g[j] += r * x[i * D + j] / N;
        g[D] += r / N;
    }
    for (int j = 0; j < D; j++) CHECK_NEAR(g[j] + lambda * w[j], 0, 1e-8);
    CHECK_NEAR(g[D], 0, 1e-8);
    CHECK(w[0] > 1 && w[1] < -0.3 && fabs(w[2]) < 0.5); /* the planted directions */
}

static void varentropy_by_hand(void) {
    sample_result s;
    memset(&s, 0, sizeof s);
    double p[] = {0.5, 0.25, 0.25}, h = 0, m2 = 0;
    for (int i = 0; i < 3; i++) {
        s.top_before[i].prob = (float)p[i];
        h -= p[i] * log(p[i]);
        m2 += p[i] * log(p[i]) * log(p[i]);
    }
    s.n_top = 3;
    s.entropy_before = (float)h;
    CHECK_NEAR(det_varentropy(&s), m2 - h * h, 1e-6); /* (ln 2)^2 / 4 */
    CHECK_NEAR(det_varentropy(&s), log(2) * log(2) / 4, 1e-6);
    /* one certain token: no variance */
    memset(&s, 0, sizeof s);
    s.top_before[0].prob = 1;
    s.n_top = 1;
    CHECK_NEAR(det_varentropy(&s), 0, 1e-9);
}

/* ---- synthetic traces ---- */

#define ANSWERS_PER_TRACE 3
#define N_TRACES 160

/* One token line: WRONG answers have lower probabilities and head (1, 0) looks back less. */
static void write_token(FILE *f, int pos, int turn, bool wrong, bool planted, bool context, const char *model) {
    bool signal = planted && wrong;
    double prob = signal ? 0.15 + 0.6 * uniform() : 0.45 + 0.55 * uniform();
    double entropy = 3 * uniform(), share = uniform();
    fprintf(f, "{\"pos\":%d,\"turn\":%d,\"id\":5,\"text\":\"x\",\"prob\":%.6f,\"entropy\":%.6f,\"margin\":%.6f,"
               "\"varentropy\":%.6f,\"why\":{\"grounding\":{\"share\":%.4f,\"flagged\":%s},\"lookback\":[",
            pos, turn, prob, entropy, prob - 0.1 * uniform(), uniform(), share,
            share < 0.25 && entropy > 2 ? "true" : "false");
    for (int l = 0; l < 2; l++)
        for (int h = 0; h < 2; h++) {
            double r = l == 1 && h == 0 ? (signal ? 0.3 : 0.6) + 0.3 * uniform() : uniform();
            fprintf(f, "%s%.4f%s", h ? "" : "[", r, h ? (l ? "]" : "],") : ",");
        }
    fprintf(f, "]}");
    if (context) fprintf(f, ",\"context\":{\"model\":\"%s\",\"n_vocab\":10,\"tokens\":[]}", model);
    fprintf(f, "}\n");
}

/* N_TRACES traces of ANSWERS_PER_TRACE answers and a labels file. The wrong answers are
 * every third; with SHUFFLE the labels are drawn independently of them. */
static void write_set(const char *labels_name, bool planted, bool shuffle) {
    char path[256], name[64];
    path_in(path, sizeof path, labels_name);
    FILE *lab = fopen(path, "w");
    CHECK(lab != NULL);
    for (int t = 0; lab && t < N_TRACES; t++) {
        snprintf(name, sizeof name, "t%03d.jsonl", t);
        path_in(path, sizeof path, name);
        FILE *f = fopen(path, "w");
        CHECK(f != NULL);
        int pos = 20;
        for (int a = 0; f && a < ANSWERS_PER_TRACE; a++) {
            bool wrong = (t * ANSWERS_PER_TRACE + a) % 3 == 0;
            int n = 4 + (int)(8 * uniform());
            for (int k = 0; k < n; k++) write_token(f, pos++, 2 * a + 2, wrong, planted, k == 0, "/m/synthetic.gguf");
            pos += 6; /* the next question */
            bool label = shuffle ? uniform() < 1.0 / 3 : wrong;
            fprintf(lab, "{\"trace\":\"%s\",\"answer\":%d,\"label\":\"%s\",\"group\":\"g%d\"}\n", name, a,
                    label ? "wrong" : "right", t);
        }
        if (f) fclose(f);
    }
    if (lab) fclose(lab);
}

static int run_calibrate(const char *labels_name, calibrate_report *rep, char *err, size_t errlen) {
    char labels[256], out[256];
    path_in(labels, sizeof labels, labels_name);
    path_in(out, sizeof out, "detector.json");
    calibrate_options o;
    calibrate_options_default(&o);
    o.labels = labels;
    o.out = out;
    return calibrate_run(&o, "test", rep, err, errlen);
}

static void planted_signal_is_found(void) {
    make_dir();
    rng_state = 2024;
    write_set("labels.jsonl", true, false);
    calibrate_report rep;
    char err[1024];
    int rc = run_calibrate("labels.jsonl", &rep, err, sizeof err);
    CHECKF(rc == 0, "%s", err);
    CHECK(rep.n_train + rep.n_test == N_TRACES * ANSWERS_PER_TRACE);
    CHECK(rep.n_test > 80 && rep.test_wrong > 20);
    CHECKF(rep.auroc_test > 0.9, "detector AUROC %.3f on the test answers", rep.auroc_test);
    CHECKF(rep.single_test[DET_F_MEAN_PROB] > 0.8, "mean prob alone %.3f", rep.single_test[DET_F_MEAN_PROB]);
    CHECKF(fabs(rep.single_test[DET_F_MEAN_ENTROPY] - 0.5) < 0.2, "entropy carries nothing: %.3f",
           rep.single_test[DET_F_MEAN_ENTROPY]);
    CHECK(rep.threshold > 0 && rep.threshold <= 1);
    CHECKF(rep.test_false_alarm < 0.25, "false alarms %.3f for a 10%% target", rep.test_false_alarm);
    /* the grounding rule flags tokens at random here (share and entropy carry nothing), so
     * at its own false-alarm rate it catches about as many wrong answers as right ones,
     * and the running score, at no more false alarms, catches far more */
    CHECKF(rep.rule_false_alarm > 0.2 && fabs(rep.rule_detection - rep.rule_false_alarm) < 0.2,
           "rule: %.3f detection, %.3f false alarms", rep.rule_detection, rep.rule_false_alarm);
    CHECKF(rep.equal_false_alarm <= rep.rule_false_alarm + 1e-12 && rep.equal_false_alarm > rep.rule_false_alarm - 0.05,
           "false alarms %.3f at the rule's %.3f", rep.equal_false_alarm, rep.rule_false_alarm);
    CHECKF(rep.equal_detection > rep.rule_detection + 0.3, "at equal false alarms %.3f against the rule's %.3f",
           rep.equal_detection, rep.rule_detection);

    /* the file loads for the model's shape, and scores a wrong-looking answer higher */
    detector d;
    det_shape sh = {2, 2};
    char out[256];
    path_in(out, sizeof out, "detector.json");
    CHECKF(detector_load(out, sh, &d, err, sizeof err) == 0, "%s", err);
    CHECK(d.n == rep.n_used);
    CHECK_NEAR(d.threshold, rep.threshold, 1e-12); /* JSON keeps 17 digits; cJSON's reader may miss the last bit */
    CHECK(strcmp(d.model, "synthetic.gguf") == 0);
    int nf = det_n_features(sh);
    double *x = calloc((size_t)nf, sizeof *x);
    bool *present = calloc((size_t)nf, sizeof *present);
    det_accum acc;
    CHECK(det_accum_init(&acc, sh) == 0);
    float look_low[4] = {0.5f, 0.5f, 0.35f, 0.5f}, look_high[4] = {0.5f, 0.5f, 0.75f, 0.5f};
    double score[2];
    for (int k = 0; k < 2 && x && present; k++) {
        det_accum_reset(&acc);
        for (int i = 0; i < 6; i++) {
            det_token t;
            det_token_clear(&t);
            t.prob = k ? 0.9f : 0.3f;
            t.entropy = 1.5f;
            t.margin = t.prob - 0.05f;
            t.varentropy = 0.5f;
            t.grounding = 0.5f;
            t.lookback = k ? look_high : look_low;
            det_accum_add(&acc, &t);
        }
        det_accum_features(&acc, x, present);
        det_contrib top[3];
        int n_top;
        score[k] = detector_score(&d, x, present, top, 3, &n_top);
        if (k == 0) CHECK(n_top >= 1 && top[0].push > 0);
    }
    CHECKF(score[0] > 0.7 && score[1] < 0.3, "suspicion %.3f (wrong-looking) and %.3f (right-looking)", score[0],
           score[1]);
    /* another shape cannot use its per-head features */
    detector other;
    det_shape big = {4, 4};
    int lrc = detector_load(out, big, &other, err, sizeof err);
    CHECKF(lrc == -1 && strstr(err, "2 layers x 2 heads"), "rc %d: %s", lrc, err);
    path_in(out, sizeof out, "none.detector.json");
    CHECK(detector_load(out, sh, &other, err, sizeof err) == 1);
    det_accum_free(&acc);
    detector_free(&d);
    free(x);
    free(present);
    remove_dir();
}

static void shuffled_labels_give_chance(void) {
    make_dir();
    rng_state = 99;
    write_set("labels.jsonl", true, true);
    calibrate_report rep;
    char err[1024];
    int rc = run_calibrate("labels.jsonl", &rep, err, sizeof err);
    CHECKF(rc == 0, "%s", err);
    /* about 150 test answers: chance gives 0.5 with a spread of about 0.05 */
    CHECKF(fabs(rep.auroc_test - 0.5) < 0.15, "detector AUROC %.3f with labels that ignore the signal",
           rep.auroc_test);
    remove_dir();
}

/* ---- bad inputs ---- */

static void write_text(const char *name, const char *text) {
    char path[256];
    path_in(path, sizeof path, name);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

/* calibrate on LABELS_TEXT fails with one line that contains WANT. */
static void expect_error(const char *labels_text, const char *want) {
    write_text("bad.jsonl", labels_text);
    calibrate_report rep;
    char err[1024] = "";
    int rc = run_calibrate("bad.jsonl", &rep, err, sizeof err);
    CHECKF(rc == -1 && strstr(err, want) && !strchr(err, '\n'), "expected an error with '%s', got rc %d: %s", want,
           rc, err);
}

static void bad_inputs_say_why(void) {
    make_dir();
    rng_state = 5;
    write_set("labels.jsonl", true, false);
    expect_error("", "no labelled answers");
    expect_error("\n\n", "no labelled answers");
    char many[8192] = "";
    for (int t = 0; t < 20; t++)
        snprintf(many + strlen(many), sizeof many - strlen(many),
                 "{\"trace\":\"t%03d.jsonl\",\"answer\":1,\"label\":\"right\"}\n", t);
    expect_error(many, "all 20 answers are labelled right");
    expect_error("{\"trace\":\"t000.jsonl\",\"answer\":3,\"label\":\"right\"}\n", "there is no answer 3");
    expect_error("{\"trace\":\"t000.jsonl\",\"label\":\"maybe\"}\n", "\"label\" must be \"right\" or \"wrong\"");
    expect_error("{\"trace\":\"missing.jsonl\",\"label\":\"wrong\"}\n", "cannot read the trace");
    expect_error("{\"trace\":\"t000.jsonl\",\"label\":\"right\",\"first_wrong\":1}\n", "wrong answer only");
    expect_error("not json\n", "not a JSON object");
    /* a trace of another model, and one with another number of heads */
    char path[256];
    path_in(path, sizeof path, "other.jsonl");
    FILE *f = fopen(path, "w");
    if (f) {
        write_token(f, 3, 2, false, false, true, "/m/another.gguf");
        fclose(f);
    }
    expect_error("{\"trace\":\"t000.jsonl\",\"label\":\"right\"}\n{\"trace\":\"other.jsonl\",\"label\":\"wrong\"}\n",
                 "mismatched traces");
    write_text("heads.jsonl", "{\"pos\":1,\"turn\":2,\"prob\":0.5,\"entropy\":1,\"why\":{\"lookback\":[[0.5,0.5,0.5]]},"
                              "\"context\":{\"model\":\"/m/synthetic.gguf\",\"tokens\":[]}}\n");
    expect_error("{\"trace\":\"t000.jsonl\",\"label\":\"right\"}\n{\"trace\":\"heads.jsonl\",\"label\":\"wrong\"}\n",
                 "mismatched traces");
    write_text("broken.jsonl", "{\"pos\":1,\"turn\":2,\"prob\":7,\"entropy\":1}\n");
    expect_error("{\"trace\":\"broken.jsonl\",\"label\":\"wrong\"}\n", "\"prob\" (0 to 1)");
    /* too few of one class to learn from */
    expect_error("{\"trace\":\"t000.jsonl\",\"answer\":0,\"label\":\"wrong\",\"split\":\"train\"}\n"
                 "{\"trace\":\"t000.jsonl\",\"answer\":1,\"label\":\"right\",\"split\":\"train\"}\n",
                 "at least 4 of each");
    /* a detector that cannot be written: one line (atomic_file's tests: the old file stays) */
    char labels[256], out[256], err[1024] = "";
    path_in(labels, sizeof labels, "labels.jsonl");
    path_in(out, sizeof out, "no-such-folder/detector.json");
    calibrate_options o;
    calibrate_options_default(&o);
    o.labels = labels;
    o.out = out;
    calibrate_report rep;
    int rc = calibrate_run(&o, "test", &rep, err, sizeof err);
    CHECKF(rc == -1 && strstr(err, "cannot write") && !strchr(err, '\n'), "rc %d: %s", rc, err);
    remove_dir();
}

/* ---- the trace and a live session agree ---- */

/* The shipped model answers one question, traced by the real command with a detector. */
static int trace_reply(const char *model, const char *question, const char *trace, const char *detector_path) {
    cli_options o;
    cli_options_default(&o);
    o.model = model;
    o.prompt = question;
    o.backend = CLI_BACKEND_CPU;
    o.sampling.temperature = 0;
    o.trace_path = trace;
    o.trace_lens = true;
    o.detector_path = detector_path;
    return test_cli_run_quiet(&o);
}

static void live_features_equal_the_trace(void) {
    const char *model_path = "assets/llmscope-dict.gguf";
    if (access(model_path, R_OK) != 0) SKIP("%s is not here", model_path);
    make_dir();
    char trace[256], labels[256], det_path[256], err[1024];
    path_in(trace, sizeof trace, "reply.jsonl");
    path_in(det_path, sizeof det_path, "dict.detector.json");
    /* a detector over every scalar feature, the lookback ratios and the lens */
    cli_model cm = {0};
    snprintf(cm.path, sizeof cm.path, "%s", model_path);
    CHECKF(cli_load_model(&cm, err, sizeof err) == 0, "%s", err);
    det_shape sh = {cm.m.hp.n_layer, cm.m.hp.n_head};
    int nf = det_n_features(sh);
    FILE *f = fopen(det_path, "w");
    CHECK(f != NULL);
    if (f) {
        char name[64];
        fprintf(f, "{\"format\":\"llmscope-detector\",\"version\":1,\"n_layer\":%d,\"n_head\":%d,\"features\":[",
                sh.n_layer, sh.n_head);
        for (int i = 0; i < nf; i++) det_feature_name(sh, i, name, sizeof name), fprintf(f, "%s\"%s\"", i ? "," : "", name);
        fprintf(f, "],\"mean\":[");
        for (int i = 0; i < nf; i++) fprintf(f, "%s0.1", i ? "," : "");
        fprintf(f, "],\"scale\":[");
        for (int i = 0; i < nf; i++) fprintf(f, "%s2", i ? "," : "");
        fprintf(f, "],\"weights\":[");
        for (int i = 0; i < nf; i++) fprintf(f, "%s%.3f", i ? "," : "", 0.05 * ((i % 7) - 3));
        fprintf(f, "],\"bias\":-0.2,\"threshold\":0.5,\"false_alarm_rate\":0.1}\n");
        fclose(f);
    }
    CHECK(trace_reply(model_path, "What does apple mean?", trace, det_path) == 0);

    /* the trace, read as calibrate reads it */
    path_in(labels, sizeof labels, "one.jsonl");
    f = fopen(labels, "w");
    if (f) fprintf(f, "{\"trace\":\"reply.jsonl\",\"label\":\"right\"}\n"), fclose(f);
    cal_set set = {0};
    CHECKF(cal_read(labels, 0, 0, false, &set, err, sizeof err) == 0, "%s", err);
    CHECK(set.n == 1 && set.sh.n_layer == sh.n_layer && set.sh.n_head == sh.n_head);

    /* the same reply in a live session, features from the records */
    CHECKF(cli_create_engine(&cm, CLI_BACKEND_CPU, -1, cli_default_ctx(&cm.m), true, false, err, sizeof err) == 0, "%s", err);
    session_config cfg = {.chat = true, .capture_attention = true, .max_reply_tokens = 256};
    sampler_params_default(&cfg.sampling);
    cfg.sampling.temperature = 0;
    session *s = session_create(&cm.m, cm.tok, cm.e, &cfg, err, sizeof err);
    CHECK(s != NULL);
    det_accum acc;
    CHECK(det_accum_init(&acc, sh) == 0);
    float *lookback = malloc((size_t)sh.n_layer * sh.n_head * sizeof *lookback);
    float *lens_prob = malloc(((size_t)sh.n_layer + 1) * sizeof *lens_prob);
    double *x = malloc((size_t)nf * sizeof *x);
    bool *present = malloc((size_t)nf * sizeof *present);
    if (s && session_begin_reply(s, "What does apple mean?", err, sizeof err) == 0) {
        const step_record *r;
        while (session_next(s, &r, err, sizeof err) == 1) {}
        inspect_view v;
        inspect_view_session(&v, s);
        size_t n = session_n_records(s), first = n;
        while (first > 0 && session_record(s, first - 1)->generated) first--;
        for (size_t i = first; i < n; i++) {
            logit_lens lens;
            const step_record *ri = session_record(s, i);
            float *hidden = malloc((size_t)(sh.n_layer + 1) * cm.m.hp.n_embd * sizeof *hidden);
            bool have_lens = hidden && inspect_record_hidden(ri, sh.n_layer, cm.m.hp.n_embd, hidden) &&
                             inspect_logit_lens(&cm.m, hidden, tokenizer_n_vocab(cm.tok), ri->token, &lens, err,
                                                sizeof err) == 0;
            det_token t;
            CHECK(det_token_of(&v, i, have_lens ? &lens : NULL, lookback, lens_prob, &t));
            det_accum_add(&acc, &t);
            if (have_lens) logit_lens_free(&lens);
            free(hidden);
        }
        det_accum_features(&acc, x, present);
        CHECK(acc.n_tokens == set.a[0].n_tokens);
        char name[64];
        for (int i = 0; i < nf && set.n == 1; i++) {
            det_feature_name(sh, i, name, sizeof name);
            CHECKF(present[i] == set.a[0].present[i], "%s present live %d, in the trace %d", name, present[i],
                   set.a[0].present[i]);
            /* the trace rounds lookback ratios to 4 decimals and floats to 7 digits */
            CHECKF(fabs(x[i] - set.a[0].x[i]) <= 2e-4 * (1 + fabs(x[i])), "%s: live %.7g, trace %.7g", name, x[i],
                   set.a[0].x[i]);
        }
        /* the trace's last "suspicion" is the detector's score of the whole reply */
        detector d;
        CHECKF(detector_load(det_path, sh, &d, err, sizeof err) == 0, "%s", err);
        double live = detector_score(&d, x, present, NULL, 0, NULL), traced = -1;
        FILE *tf = fopen(trace, "r");
        char line[1 << 16];
        while (tf && fgets(line, sizeof line, tf)) {
            const char *at = strstr(line, "\"suspicion\":");
            if (at) traced = atof(at + strlen("\"suspicion\":"));
        }
        if (tf) fclose(tf);
        CHECKF(fabs(live - traced) < 1e-3, "suspicion live %.5f, in the trace %.5f", live, traced);
        detector_free(&d);
    }
    det_accum_free(&acc);
    free(lookback);
    free(lens_prob);
    free(x);
    free(present);
    cal_set_free(&set);
    session_free(s);
    cli_model_free(&cm);
    remove_dir();
}

int main(void) {
    RUN(auroc_by_hand);
    RUN(logreg_is_optimal);
    RUN(varentropy_by_hand);
    RUN(planted_signal_is_found);
    RUN(shuffled_labels_give_chance);
    RUN(bad_inputs_say_why);
    RUN(live_features_equal_the_trace);
    return test_exit_code();
}
