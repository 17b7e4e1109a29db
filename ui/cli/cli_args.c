/* cli_args.c — the main command's options and the help text.
 *
 * getopt_long does the parsing; this file says what each option means, checks its
 * value's range and prints the help. The help lists every command and flag (the man page,
 * docs/llmscope.1, says the same at more length; tests/cli.test.sh checks both). */
#include "cli.h"
#include "chat_template.h"

#include <getopt.h>
#include <limits.h>
#include <string.h>

void cli_options_default(cli_options *o) {
    memset(o, 0, sizeof *o);
    o->n_predict = -1;
    o->mode = CLI_MODE_AUTO;
    sampler_params_default(&o->sampling);
    o->backend = CLI_BACKEND_AUTO;
    o->device = -1;
    o->capture = true;
    o->color = TUI_COLOR_AUTO;
}

void cli_usage(FILE *f) {
    fputs("Usage: llmscope [-m MODEL] [OPTIONS]            chat in the terminal app\n"
          "       llmscope [-m MODEL] -p TEXT [OPTIONS]    stream the reply to standard output\n"
          "       llmscope tokenize [-m MODEL] [--special] [--bos] [--ids] TEXT\n"
          "       llmscope info [MODEL]                    architecture, sizes, types, tokenizer, template\n"
          "       llmscope template MODEL|FILE.jinja --messages CONV.json [--bos T] [--eos T]\n"
          "                [--var NAME=VALUE]... [--date DATE] [--no-generation-prompt]\n"
          "                                               what the chat template writes, byte for byte\n"
          "       llmscope devices                         the Vulkan devices\n"
          "       llmscope pull NAME | llmscope list       download a known model | list them\n"
          "       llmscope bench [-m MODEL] ...            prompt and decode speed (bench --help)\n"
          "       llmscope synth ...                       write a random-weight model (synth --help)\n"
          "       llmscope replay TRACE -m OTHER           re-score a trace with another model (replay --help)\n"
          "       llmscope render TRACE [--heatmap L:H]    draw a trace: SVG/PNG pictures (render --help)\n"
          "       llmscope calibrate LABELS [--test L2]    a detector of wrong answers from labelled traces\n"
          "                                               (calibrate --help)\n"
          "\n"
          "See why each token was chosen: attention per head and the next-token probabilities.\n"
          "\n"
          "Model:\n"
          "  -m, --model FILE|NAME   a GGUF file, or the name of a model fetched with 'llmscope pull'\n"
          "                          (default: $LLMSCOPE_MODEL, then the shipped dictionary model,\n"
          "                          then a pulled smollm2-135m)\n"
          "      --ctx N             context length in tokens (default: the model's, at most 4096)\n"
          "      --backend B         cpu, vulkan or auto (default auto: vulkan on a GPU, else cpu)\n"
          "      --device N          Vulkan device index, see 'llmscope devices' (default: the best)\n"
          "      --no-capture        do not record attention (less memory; no heatmaps)\n"
          "      --threads N         threads of the CPU engine (default: $LLMSCOPE_THREADS, else\n"
          "                          the physical cores)\n"
          "\n"
          "Prompt:\n"
          "  -p, --prompt TEXT       answer (chat) or continue (completion) TEXT and exit; without\n"
          "                          -p and without a terminal, the prompt is read from standard input;\n"
          "                          -p again (chat): the next question of the same conversation, each\n"
          "                          answer on its own line\n"
          "  -n, --n-predict N       stop after N tokens (default 256 with -p; 0: until the model stops)\n"
          "      --chat              render the prompt through the model's chat template\n"
          "                          (the default when the model has one)\n"
          "      --complete          continue the text as it is (the default without a template)\n"
          "      --system TEXT       system prompt (chat)\n"
          "      --template NAME     a built-in chat template family instead of the model's own template\n"
          "                          (which llmscope runs as written):\n"
          "                         ",
          f);
    for (const char *const *fam = chat_template_families(); *fam; fam++) fprintf(f, " %s", *fam);
    fputs("\n"
          "\n"
          "Sampling (applied in this order; a model file may carry its own defaults, llmscope.sampler.*,\n"
          "which replace the ones below but never an option given here):\n"
          "      --repeat-penalty R  divide positive, multiply negative logits of recent tokens by R\n"
          "                          (default 1.1; 1: off)\n"
          "      --repeat-last-n N   how many recent tokens the penalty looks at (default 64; -1: all)\n"
          "      --temp T            temperature (default 0.8; 0: greedy, always the likeliest token)\n"
          "      --top-k K           keep the K likeliest tokens (default 40; 0: off)\n"
          "      --top-p P           keep the smallest set whose probability reaches P (default 0.95; 1: off)\n"
          "      --min-p P           drop tokens less likely than P times the likeliest (default 0.05; 0: off)\n"
          "      --seed S            random seed; the same seed gives the same tokens (default 42)\n"
          "\n"
          "Output:\n"
          "      --trace FILE        write one JSON object per generated token (JSON Lines): id, text,\n"
          "                          probability, entropy, rank, alternatives before and after sampling,\n"
          "                          sampler settings, and the why card's attention sources, grounding and\n"
          "                          logit lens (the lens: on the GPU; on the CPU with --trace-lens);\n"
          "                          in the terminal app, every reply of the conversation\n"
          "      --trace-lens        the logit lens in the trace on the CPU too (a pass over the output\n"
          "                          head per layer and token: slow with a large vocabulary)\n"
          "      --detector FILE     the detector of wrong answers that 'llmscope calibrate' wrote (default:\n"
          "                          MODEL.detector.json beside the model, if there; none: off): its score\n"
          "                          goes into the trace and the terminal app\n"
          "  -v, --verbose           backend, model and timing on standard error\n"
          "\n"
          "Terminal app:\n"
          "      --color MODE        auto, none, 8, 256 or true (default auto; NO_COLOR is honoured)\n"
          "      --no-mouse          leave the mouse to the terminal (text selection)\n"
          "\n"
          "  -h, --help              this help\n"
          "      --version           the version\n"
          "\n"
          "tokenize prints each token's id and text: --special recognises control tokens such as\n"
          "<|im_start|> written in TEXT, --bos adds the BOS token, --ids prints only the ids.\n"
          "\n"
          "Environment: LLMSCOPE_MODEL (the model when -m is not given), LLMSCOPE_THREADS (the CPU\n"
          "engine's threads), LLMSCOPE_CPU_ISA (plain, avx2, avx512 or amx: a narrower instruction\n"
          "set for the CPU engine than the processor's best), NO_COLOR.\n"
          "Exit status: 0 success, 1 failure (one line on standard error), 2 usage error.\n",
          f);
}

enum {
    OPT_CHAT = 256, OPT_COMPLETE, OPT_TEMP, OPT_TOP_K, OPT_TOP_P, OPT_MIN_P, OPT_REPEAT_PENALTY,
    OPT_REPEAT_LAST_N, OPT_SEED, OPT_SYSTEM, OPT_TEMPLATE, OPT_TRACE, OPT_TRACE_LENS, OPT_DETECTOR, OPT_BACKEND, OPT_DEVICE,
    OPT_CTX, OPT_NO_CAPTURE, OPT_COLOR, OPT_NO_MOUSE, OPT_VERSION, OPT_THREADS
};

static const struct option LONG_OPTIONS[] = {
    {"model", required_argument, 0, 'm'},
    {"prompt", required_argument, 0, 'p'},
    {"n-predict", required_argument, 0, 'n'},
    {"chat", no_argument, 0, OPT_CHAT},
    {"complete", no_argument, 0, OPT_COMPLETE},
    {"temp", required_argument, 0, OPT_TEMP},
    {"top-k", required_argument, 0, OPT_TOP_K},
    {"top-p", required_argument, 0, OPT_TOP_P},
    {"min-p", required_argument, 0, OPT_MIN_P},
    {"repeat-penalty", required_argument, 0, OPT_REPEAT_PENALTY},
    {"repeat-last-n", required_argument, 0, OPT_REPEAT_LAST_N},
    {"seed", required_argument, 0, OPT_SEED},
    {"system", required_argument, 0, OPT_SYSTEM},
    {"template", required_argument, 0, OPT_TEMPLATE},
    {"trace", required_argument, 0, OPT_TRACE},
    {"trace-lens", no_argument, 0, OPT_TRACE_LENS},
    {"detector", required_argument, 0, OPT_DETECTOR},
    {"backend", required_argument, 0, OPT_BACKEND},
    {"device", required_argument, 0, OPT_DEVICE},
    {"ctx", required_argument, 0, OPT_CTX},
    {"no-capture", no_argument, 0, OPT_NO_CAPTURE},
    {"threads", required_argument, 0, OPT_THREADS},
    {"color", required_argument, 0, OPT_COLOR},
    {"no-mouse", no_argument, 0, OPT_NO_MOUSE},
    {"verbose", no_argument, 0, 'v'},
    {"help", no_argument, 0, 'h'},
    {"version", no_argument, 0, OPT_VERSION},
    {0, 0, 0, 0},
};

/* One option and its value; -1 when the value is bad (the message is printed). */
static int apply_option(cli_options *o, int c, const char *arg) {
    sampler_params *sp = &o->sampling;
    static const struct {
        int opt;
        unsigned bit;
    } given[] = {{OPT_TEMP, CLI_GIVEN_TEMP},           {OPT_TOP_K, CLI_GIVEN_TOP_K},
                 {OPT_TOP_P, CLI_GIVEN_TOP_P},         {OPT_MIN_P, CLI_GIVEN_MIN_P},
                 {OPT_REPEAT_PENALTY, CLI_GIVEN_REPEAT_PENALTY}, {OPT_REPEAT_LAST_N, CLI_GIVEN_REPEAT_LAST_N}};
    for (size_t i = 0; i < sizeof given / sizeof given[0]; i++)
        if (c == given[i].opt) o->sampling_given |= given[i].bit;
    switch (c) {
    case 'm': o->model = arg; return 0;
    case 'p':
        if (o->n_prompts == CLI_MAX_PROMPTS) {
            cli_error("at most %d -p (questions of one conversation)", CLI_MAX_PROMPTS);
            return -1;
        }
        if (!o->prompt) o->prompt = arg;
        o->prompts[o->n_prompts++] = arg;
        return 0;
    case 'n': return cli_parse_int("-n", arg, 0, INT_MAX, &o->n_predict);
    case OPT_CHAT: o->mode = CLI_MODE_CHAT; return 0;
    case OPT_COMPLETE: o->mode = CLI_MODE_COMPLETE; return 0;
    case OPT_TEMP: return cli_parse_float("--temp", arg, 0, 100, &sp->temperature);
    case OPT_TOP_K: return cli_parse_int("--top-k", arg, 0, INT_MAX, &sp->top_k);
    case OPT_TOP_P: return cli_parse_float("--top-p", arg, 0, 1, &sp->top_p);
    case OPT_MIN_P: return cli_parse_float("--min-p", arg, 0, 1, &sp->min_p);
    case OPT_REPEAT_PENALTY:
        if (cli_parse_float("--repeat-penalty", arg, 0, 100, &sp->repeat_penalty) < 0) return -1;
        if (sp->repeat_penalty <= 0) {
            cli_error("--repeat-penalty must be above 0 (1 turns it off), not '%s'", arg);
            return -1;
        }
        return 0;
    case OPT_REPEAT_LAST_N: return cli_parse_int("--repeat-last-n", arg, -1, INT_MAX, &sp->repeat_last_n);
    case OPT_SEED: return cli_parse_u64("--seed", arg, &sp->seed);
    case OPT_SYSTEM: o->system_prompt = arg; return 0;
    case OPT_TEMPLATE: o->template_name = arg; return 0;
    case OPT_TRACE: o->trace_path = arg; return 0;
    case OPT_TRACE_LENS: o->trace_lens = true; return 0;
    case OPT_DETECTOR: o->detector_path = arg; return 0;
    case OPT_BACKEND: return cli_parse_backend(arg, &o->backend);
    case OPT_DEVICE: return cli_parse_int("--device", arg, 0, 1024, &o->device);
    case OPT_CTX: return cli_parse_int("--ctx", arg, 2, 1 << 20, &o->n_ctx);
    case OPT_NO_CAPTURE: o->capture = false; return 0;
    case OPT_THREADS: return cli_set_threads(arg);
    case OPT_COLOR: {
        static const char *const names[] = {"auto", "none", "8", "256", "true"};
        static const tui_color_mode modes[] = {TUI_COLOR_AUTO, TUI_COLOR_NONE, TUI_COLOR_8,
                                               TUI_COLOR_256, TUI_COLOR_TRUE};
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
            if (strcmp(arg, names[i]) == 0) {
                o->color = modes[i];
                return 0;
            }
        cli_error("--color is auto, none, 8, 256 or true, not '%s'", arg);
        return -1;
    }
    case OPT_NO_MOUSE: o->no_mouse = true; return 0;
    case 'v': o->verbose = true; return 0;
    }
    return -1;
}

int cli_parse(int argc, char **argv, cli_options *o) {
    optind = 0; /* glibc: a full restart, also after another command parsed */
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":m:p:n:vh", LONG_OPTIONS, NULL)) != -1) {
        if (c == 'h') {
            cli_usage(stdout);
            return 1;
        }
        if (c == OPT_VERSION) {
            printf("llmscope %s\n", LLMSCOPE_VERSION);
            return 1;
        }
        if (c == '?' || c == ':') {
            const char *what = c == '?' ? "unknown option" : "missing value for";
            if (optopt > 0 && optopt < 128) cli_error("%s -%c (see llmscope --help)", what, optopt);
            else cli_error("%s %s (see llmscope --help)", what, argv[optind - 1]);
            return 2;
        }
        if (apply_option(o, c, optarg) < 0) return 2;
    }
    if (optind < argc) {
        cli_error("unexpected argument '%s' (the prompt goes after -p; see llmscope --help)", argv[optind]);
        return 2;
    }
    if (o->device >= 0 && o->backend == CLI_BACKEND_CPU) {
        cli_error("--device chooses a Vulkan device; it cannot go with --backend cpu");
        return 2;
    }
    return 0;
}
