/* cli.h — the command line: options, model loading, and the headless commands
 * (generate, tokenize, info, devices) with the JSON Lines trace writer.
 *
 * Every command prints errors as one line on stderr ("llmscope: ...") and returns the
 * process exit status: 0 success, 1 failure, 2 usage error. */
#ifndef LLMSCOPE_CLI_H
#define LLMSCOPE_CLI_H

#include "engine.h"
#include "model.h"
#include "sampler.h"
#include "session.h"
#include "tui.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define LLMSCOPE_VERSION "0.1.0"

typedef enum { CLI_MODE_AUTO, CLI_MODE_CHAT, CLI_MODE_COMPLETE } cli_mode;
typedef enum { CLI_BACKEND_AUTO, CLI_BACKEND_CPU, CLI_BACKEND_VULKAN } cli_backend;

/* Sampler options given on the command line, which a model's own defaults never replace. */
enum {
    CLI_GIVEN_TEMP = 1u << 0,
    CLI_GIVEN_TOP_K = 1u << 1,
    CLI_GIVEN_TOP_P = 1u << 2,
    CLI_GIVEN_MIN_P = 1u << 3,
    CLI_GIVEN_REPEAT_PENALTY = 1u << 4,
    CLI_GIVEN_REPEAT_LAST_N = 1u << 5,
};

/* -p given several times: the questions of one conversation, answered in turn */
#define CLI_MAX_PROMPTS 64

/* The main command: chat in the terminal, or answer -p TEXT on stdout. */
typedef struct cli_options {
    const char *model;         /* -m: a file, or a pulled model's name; NULL: look it up */
    const char *prompt;        /* -p; NULL: the terminal app, or standard input */
    int n_predict;             /* -n; -1: not given; 0: until the model stops */
    cli_mode mode;
    sampler_params sampling;
    const char *system_prompt;
    const char *template_name;
    const char *trace_path;
    bool trace_lens;           /* --trace-lens: the logit lens in the trace even on the CPU */
    const char *detector_path; /* --detector: NULL beside the model (if there), "none": off */
    unsigned sampling_given;   /* CLI_GIVEN_*: sampler options given on the command line */
    const char *prompts[CLI_MAX_PROMPTS]; /* every -p, in order: a conversation (chat) */
    int n_prompts;
    cli_backend backend;
    int device;                /* Vulkan device index, -1: choose */
    int n_ctx;                 /* 0: the model's, at most 4096 */
    bool capture;              /* record attention (--no-capture turns it off) */
    bool verbose;
    tui_color_mode color;
    bool no_mouse;
} cli_options;

void cli_options_default(cli_options *o);
/* Parses the main command's ARGV. Returns 0 to go on, 1 when --help or --version was
 * printed (exit 0), or 2 after printing a usage error. */
int cli_parse(int argc, char **argv, cli_options *o);
void cli_usage(FILE *f);

/* The main command (interactive or headless). */
int cli_run(const cli_options *o);
/* Subcommands; ARGV[0] is the subcommand's name. */
int cli_tokenize_main(int argc, char **argv);
int cli_info_main(int argc, char **argv);
int cli_template_main(int argc, char **argv); /* cli_template.c */
int cli_devices_main(int argc, char **argv);

/* The sampler settings model M's file recommends (llmscope.sampler.*, cli_sampling.c)
 * into SP, except those in GIVEN. WARN: say so on stderr when a value is out of range.
 * Returns how many were applied. */
int cli_model_sampling(const model *m, sampler_params *sp, unsigned given, bool warn);

/* ---- finding and loading a model (cli_load.c) ---- */

struct tokenizer;

typedef struct cli_model {
    char path[4096];
    model m;
    bool have_model;
    struct tokenizer *tok;
    engine *e;
} cli_model;

/* Resolves ARG (-m: a path, or the name of a pulled model), else $LLMSCOPE_MODEL, else
 * the default model if it has been pulled. Returns 0, or -1 with ERR telling the user
 * how to get a model. */
int cli_find_model(const char *arg, char *path, size_t cap, char *err, size_t errlen);
/* Loads the model and its tokenizer from CM->path. */
int cli_load_model(cli_model *cm, char *err, size_t errlen);
/* Creates the engine; AUTO picks Vulkan when a device is found, else the CPU. VERBOSE
 * says which on stderr. */
int cli_create_engine(cli_model *cm, cli_backend backend, int device, int n_ctx, bool capture,
                      bool verbose, char *err, size_t errlen);
void cli_model_free(cli_model *cm);
/* The context length used when none is asked for: the model's, at most 4096. */
int cli_default_ctx(const model *m);

/* ---- the trace file (cli_trace.c): one JSON object per generated token ---- */

typedef struct cli_trace cli_trace;

cli_trace *cli_trace_open(const char *path, char *err, size_t errlen);
struct why_card;
/* Writes record R of session S (a generated token; EOG: it ended the reply), with the
 * parts of its why card WHY holds (may be NULL: none). */
int cli_trace_write(cli_trace *t, const session *s, const step_record *r, const struct tokenizer *tok, bool eog,
                    const struct why_card *why);
/* Attaches a "context" object to the next token written: the model file and every token
 * before it (replay_context_json), which `llmscope replay` needs. -1 when out of memory. */
int cli_trace_set_context(cli_trace *t, const session *s, const char *model_path);
/* The same with the first N records of S (the next token written is record N); a chat
 * whose oldest turns left the context window also gets "window": {shifts, dropped_turns,
 * dropped_tokens}. */
int cli_trace_set_context_at(cli_trace *t, const session *s, const char *model_path, size_t n);
/* Writes record R of S with its why card (attention sources, rollout where cheap enough,
 * grounding, the logit lens where the engine computes it, or on the CPU with
 * LENS_ON_CPU). */
struct model;
int cli_trace_record(cli_trace *t, session *s, const struct model *m, const struct tokenizer *tok,
                     const step_record *r, bool eog, bool lens_on_cpu);
/* From now on every token line gets "suspicion": D's score of the reply so far (D is
 * borrowed; NULL: none). -1 when out of memory. */
struct detector;
int cli_trace_set_detector(cli_trace *t, const struct detector *d);
/* Closes the file; -1 with ERR filled if anything failed to reach it. */
int cli_trace_close(cli_trace *t, char *err, size_t errlen);

/* ---- small shared helpers (cli_util.c) ---- */

/* Prints "llmscope: MESSAGE" and a newline on stderr, control characters in MESSAGE shown
 * escaped (it often holds names from files). */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Number arguments of option OPT; on a bad value print one line and return -1. */
int cli_parse_int(const char *opt, const char *text, long lo, long hi, int *out);
int cli_parse_float(const char *opt, const char *text, double lo, double hi, float *out);
int cli_parse_u64(const char *opt, const char *text, uint64_t *out);
/* --threads N: the CPU engine's thread count, passed on as $LLMSCOPE_THREADS (which
 * cpu_options_from_env reads), 1 to WORKERS_MAX. */
int cli_set_threads(const char *text);
/* A subcommand's getopt_long reported C (':' a missing value, else an unknown option) for
 * ARG: one line naming CMD and its --help; returns 2, the exit status for bad usage. */
int cli_bad_option(const char *cmd, int c, const char *arg);
/* --backend's value: cpu, vulkan or auto. */
int cli_parse_backend(const char *text, cli_backend *out);
/* Writes LEN bytes of S with newlines, tabs, backslashes, control characters (C1 too),
 * invalid UTF-8 and QUOTE (0: none) escaped (\n, \t, \\, \xNN, \u0085, \'), so that
 * every token is visible on one line (model/term_text.h decides). */
/* A count for people: "752.4M", "1.00B", "3.5K", "12" (parameters, elements). */
void cli_format_count(uint64_t n, char *buf, size_t cap);
void cli_print_escaped(FILE *f, const char *s, size_t len, char quote);
/* S as valid UTF-8 (invalid bytes become U+FFFD), malloc'd; *CHANGED says whether any
 * byte had to be replaced. */
char *cli_utf8_sanitize(const char *s, size_t len, bool *changed);
/* Reads all of standard input (at most LIMIT bytes) as a NUL-terminated string. */
char *cli_read_stdin(size_t limit, char *err, size_t errlen);

#endif
