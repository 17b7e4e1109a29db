/* cli_generate.c — the main command: load the model, then either the terminal app or
 * one headless reply streamed to standard output (with an optional trace file). */
#include "cli.h"
#include "detector.h"
#include "inspect.h"
#include "term_text.h"
#include "tokenizer.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define STDIN_LIMIT ((size_t)16 << 20)
#define HEADLESS_DEFAULT_TOKENS 256

/* Ctrl-C during a headless reply ends the reply cleanly (the trace is complete). */
static volatile sig_atomic_t interrupted;

static void on_sigint(int sig) {
    (void)sig;
    interrupted = 1;
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static bool model_has_template(const model *m) {
    gguf_str s;
    return gguf_get_str(&m->file, "tokenizer.chat_template", &s) && s.len > 0;
}

/* Writes record R (the last of S) to the trace with its why card. */
static int trace_record(cli_trace *trace, session *s, const cli_model *cm, const cli_options *o,
                        const step_record *r, bool eog) {
    return cli_trace_record(trace, s, &cm->m, cm->tok, r, eog, o->trace_lens);
}

/* The model's text on stdout: as it is into a file or a pipe, but on a terminal with
 * control characters shown, not obeyed (a vocabulary can hold escape sequences). */
static void write_text(const char *text, size_t n, bool to_terminal) {
    if (!to_terminal) {
        fwrite(text, 1, n, stdout);
        return;
    }
    char shown[4 * 1024 + 1];
    for (size_t at = 0; at < n;) {
        size_t piece = n - at < 512 ? n - at : 512; /* <= 6 bytes out per byte in */
        while (piece < n - at && piece > 0 && ((unsigned char)text[at + piece] & 0xC0) == 0x80) piece--;
        size_t len = term_escape(text + at, piece, 0, TERM_KEEP_LAYOUT, shown, sizeof shown);
        fwrite(shown, 1, len < sizeof shown ? len : sizeof shown - 1, stdout);
        at += piece ? piece : n - at;
    }
}

/* The model's detector (detector.h): --detector FILE, or MODEL.detector.json beside the
 * model when there is one; "none" turns it off. A file that is there but cannot be used
 * is an error when asked for, a warning when found beside the model. */
static int load_detector(const cli_model *cm, const cli_options *o, detector *d, bool *have, char *det_path_used,
                         size_t cap) {
    *have = false;
    if (o->detector_path && strcmp(o->detector_path, "none") == 0) return 0;
    if (o->detector_path) snprintf(det_path_used, cap, "%s", o->detector_path);
    else detector_path_for(cm->path, det_path_used, cap);
    det_shape sh = {cm->m.hp.n_layer, cm->m.hp.n_head};
    char err[512];
    int rc = detector_load(det_path_used, sh, d, err, sizeof err);
    if (rc == 0) {
        *have = true;
        return 0;
    }
    if (o->detector_path) {
        cli_error("%s", err);
        return -1;
    }
    if (rc < 0) fprintf(stderr, "llmscope: warning: %s; going on without it\n", err);
    return 0;
}

/* Streams the reply to PROMPT. Returns the exit status. */
static int run_headless(session *s, const cli_model *cm, const cli_options *o, const char *prompt,
                        cli_trace *trace) {
    char err[512];
    double t0 = now_seconds();
    if (session_begin_reply(s, prompt, err, sizeof err) < 0) {
        cli_error("%s", err);
        return 1;
    }
    if (trace && cli_trace_set_context(trace, s, cm->path) < 0) { /* for llmscope replay */
        cli_error("out of memory");
        return 1;
    }
    size_t n_prompt = session_n_records(s);
    double t1 = now_seconds();

    struct sigaction sa = {0}, old;
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old);

    /* SentencePiece writes a space before the first word of a text; with nothing before
     * the reply it is an artefact, not part of it. */
    bool strip_space = !session_is_chat(s) && !*prompt && tokenizer_get_kind(cm->tok) == TOKENIZER_SPM;
    utf8_stream us = {0};
    const bool to_terminal = isatty(STDOUT_FILENO);
    char out[1024];
    bool printed = false, ends_newline = false;
    int n_gen = 0, status = 0, rc;
    const step_record *r;
    while ((rc = session_next(s, &r, err, sizeof err)) == 1) {
        n_gen++;
        const char *text = r->text;
        size_t len = strlen(text);
        if (strip_space && !printed && len && text[0] == ' ') {
            text++;
            len--;
        }
        while (len) { /* room for held-back bytes, and for U+FFFD (3 bytes) per bad byte */
            size_t chunk = len < (sizeof out - 4) / 3 ? len : (sizeof out - 4) / 3;
            size_t n = utf8_stream_push(&us, text, chunk, out, sizeof out);
            if (n) {
                write_text(out, n, to_terminal);
                ends_newline = out[n - 1] == '\n';
            }
            text += chunk;
            len -= chunk;
        }
        printed = true;
        fflush(stdout);
        if (trace && trace_record(trace, s, cm, o, r, false) < 0) {
            status = 1;
            break;
        }
        if (interrupted) {
            session_stop_reply(s);
            break;
        }
    }
    sigaction(SIGINT, &old, NULL);
    if (rc < 0) {
        cli_error("%s", err);
        status = 1;
    }
    /* the end-of-generation token is recorded but not returned: trace it too */
    size_t n_rec = session_n_records(s);
    const step_record *last = n_rec ? session_record(s, n_rec - 1) : NULL;
    if (rc == 0 && trace && last && last->generated && tokenizer_is_eog(cm->tok, last->token) &&
        trace_record(trace, s, cm, o, last, true) < 0)
        status = 1;
    size_t n = utf8_stream_finish(&us, out, sizeof out);
    if (n) {
        fwrite(out, 1, n, stdout);
        ends_newline = out[n - 1] == '\n';
    }
    if (printed && !ends_newline) fputc('\n', stdout);
    fflush(stdout);

    if (o->verbose) {
        double t2 = now_seconds();
        fprintf(stderr, "llmscope: prompt %zu tokens in %.2f s, reply %d tokens in %.2f s (%.1f tokens/s)%s\n",
                n_prompt, t1 - t0, n_gen, t2 - t1, n_gen / (t2 - t1 > 0 ? t2 - t1 : 1),
                n_rec >= (size_t)session_n_ctx(s) ? "; the context is full" : "");
        if (session_attention_dropped(s))
            fprintf(stderr, "llmscope: attention kept for the latest tokens only (%zu records dropped theirs)\n",
                    session_attention_dropped(s));
    }
    if (interrupted) status = 130;
    return status;
}

int cli_run(const cli_options *o) {
    char err[1024];
    const char *prompt = o->prompt;
    char *stdin_text = NULL;
    bool interactive = !prompt && isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
    if (!prompt && !interactive) {
        stdin_text = cli_read_stdin(STDIN_LIMIT, err, sizeof err);
        if (!stdin_text) {
            cli_error("%s", err);
            return 1;
        }
        size_t n = strlen(stdin_text); /* like $(...), drop the final newline */
        if (n && stdin_text[n - 1] == '\n') stdin_text[--n] = 0;
        prompt = stdin_text;
    }
    size_t bad;
    if (prompt && !utf8_valid(prompt, strlen(prompt), &bad)) {
        cli_error("the prompt is not valid UTF-8 (byte %zu)", bad);
        free(stdin_text);
        return 1;
    }
    if (o->system_prompt && !utf8_valid(o->system_prompt, strlen(o->system_prompt), &bad)) {
        cli_error("the system prompt is not valid UTF-8 (byte %zu)", bad);
        free(stdin_text);
        return 1;
    }

    cli_model cm = {0};
    detector det = {0};
    bool have_det = false;
    char det_path_used[4200] = "";
    cli_trace *trace = NULL;
    session *s = NULL;
    int status = 1;
    if (cli_find_model(o->model, cm.path, sizeof cm.path, err, sizeof err) < 0 ||
        cli_load_model(&cm, err, sizeof err) < 0) {
        cli_error("%s", err);
        goto done;
    }
    bool chat = o->mode == CLI_MODE_CHAT || (o->mode == CLI_MODE_AUTO && model_has_template(&cm.m));
    int n_ctx = o->n_ctx ? o->n_ctx : cli_default_ctx(&cm.m);
    if (cli_create_engine(&cm, o->backend, o->device, n_ctx, o->capture, o->verbose, err, sizeof err) < 0) {
        cli_error("%s", err);
        goto done;
    }
    /* positions the model never saw in training: rope extrapolates, and the output
     * degrades; said on every backend */
    char ctx_warning[160] = "";
    if (cm.m.hp.n_ctx_train > 0 && n_ctx > cm.m.hp.n_ctx_train)
        snprintf(ctx_warning, sizeof ctx_warning,
                 "a context of %d tokens is longer than the %d the model was trained on: past that its output may degrade",
                 n_ctx, cm.m.hp.n_ctx_train);
    if (ctx_warning[0] && !interactive) fprintf(stderr, "llmscope: warning: %s\n", ctx_warning);
    sampler_params sampling = o->sampling; /* the model's own defaults where none were given */
    int from_model = cli_model_sampling(&cm.m, &sampling, o->sampling_given, true);
    if (load_detector(&cm, o, &det, &have_det, det_path_used, sizeof det_path_used) < 0) goto done;
    if (o->n_prompts > 1 && !chat) {
        cli_error("several -p make a conversation, which needs a chat model (or --chat)");
        goto done;
    }
    session_config cfg = {
        .sampling = sampling,
        .n_ctx = n_ctx,
        .chat = chat,
        .template_name = o->template_name,
        .system_prompt = o->system_prompt,
        .capture_attention = o->capture,
        .max_reply_tokens = o->n_predict >= 0 ? o->n_predict : interactive ? 0 : HEADLESS_DEFAULT_TOKENS,
    };
    s = session_create(&cm.m, cm.tok, cm.e, &cfg, err, sizeof err);
    if (!s) {
        cli_error("%s", err);
        goto done;
    }
    if (session_template_warning(s)) fprintf(stderr, "llmscope: warning: %s\n", session_template_warning(s));
    if (o->verbose) {
        fprintf(stderr, "llmscope: %s (%s), %s\n", term_clean(cm.m.name, err, sizeof err), cm.m.hp.arch_name,
                chat ? session_template_name(s) : "completion");
        if (from_model)
            fprintf(stderr, "llmscope: %d sampler setting%s from the model file: temperature %g, top-k %d, top-p %g, "
                            "min-p %g, repeat penalty %g\n",
                    from_model, from_model == 1 ? "" : "s", (double)sampling.temperature, sampling.top_k,
                    (double)sampling.top_p, (double)sampling.min_p, (double)sampling.repeat_penalty);
        if (have_det) fprintf(stderr, "llmscope: detector of wrong answers: %s\n", det_path_used);
    }

    if (o->trace_path && !(trace = cli_trace_open(o->trace_path, err, sizeof err))) {
        cli_error("%s", err);
        goto done;
    }
    if (trace && have_det && cli_trace_set_detector(trace, &det) < 0) {
        cli_error("out of memory");
        goto done;
    }
    if (interactive) {
        tui_options to;
        tui_options_default(&to);
        to.session = s;
        to.tokenizer = cm.tok;
        to.engine = cm.e;
        to.model_path = cm.path;
        to.color = o->color;
        to.no_mouse = o->no_mouse;
        to.device = o->device; /* the second engine (probes, /compare) on the same device */
        to.warning = ctx_warning[0] ? ctx_warning : NULL;
        to.trace = trace;
        to.trace_lens = o->trace_lens;
        to.detector = have_det ? &det : NULL;
        status = tui_run(&to);
    } else {
        /* one reply, or the questions of one conversation in turn */
        status = run_headless(s, &cm, o, prompt, trace);
        for (int i = 1; i < o->n_prompts && status == 0; i++) status = run_headless(s, &cm, o, o->prompts[i], trace);
    }
    if (cli_trace_close(trace, err, sizeof err) < 0) {
        cli_error("%s", err);
        status = 1;
    }
    trace = NULL;
done:
    cli_trace_close(trace, err, sizeof err);
    detector_free(&det);
    session_free(s);
    cli_model_free(&cm);
    free(stdin_text);
    return status;
}
