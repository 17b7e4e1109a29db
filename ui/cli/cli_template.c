/* cli_template.c — `llmscope template`: what a chat template writes for a conversation.
 *
 *   llmscope template (MODEL.gguf | FILE.jinja) --messages CONV.json [--bos TEXT]
 *       [--eos TEXT] [--var NAME=VALUE]... [--date "26 Jul 2024"] [--no-generation-prompt]
 *
 * prints the render byte for byte and nothing else, so it can be diffed against another
 * engine's. The template is the file's own, run by llmscope's interpreter (--template NAME
 * renders with a built-in family instead). A GGUF file's BOS and EOS token texts are the
 * defaults for bos_token and eos_token. A template error (a raise_exception, a syntax
 * error, a limit) is one line on standard error and exit status 1. */
#include "chat_template.h"
#include "cli.h"
#include "tokenizer.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#define INPUT_LIMIT ((size_t)64 << 20)
#define MAX_VARS 64

static void usage(FILE *f) {
    fputs("usage: llmscope template (MODEL.gguf | FILE.jinja) --messages CONV.json [options]\n"
          "  prints what the chat template writes for the conversation, byte for byte\n"
          "  --messages FILE          a JSON array of {\"role\": ..., \"content\": ...} (- : standard input)\n"
          "  --bos TEXT, --eos TEXT   bos_token and eos_token (default: the model's, or empty)\n"
          "  --var NAME=VALUE         another variable; VALUE is JSON when it parses as JSON\n"
          "                           (enable_thinking=false, tools='[...]'), else a string\n"
          "  --date DATE              the date strftime_now() gives, as \"26 Jul 2024\" or 2024-07-26\n"
          "  --no-generation-prompt   add_generation_prompt=false (default true)\n"
          "  --template NAME          render with a built-in family instead of the file's template\n",
          f);
}

/* All of PATH (or standard input for "-"), NUL-terminated. */
static char *read_all(const char *path, size_t *len, char *err, size_t errlen) {
    if (strcmp(path, "-") == 0) {
        char *s = cli_read_stdin(INPUT_LIMIT, err, errlen);
        if (s) *len = strlen(s);
        return s;
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - 1 - n, f);
        if (n < cap - 1 || ferror(f)) break;
        if (cap > INPUT_LIMIT) {
            snprintf(err, errlen, "%s is larger than %zu MiB", path, INPUT_LIMIT >> 20);
            free(buf);
            fclose(f);
            return NULL;
        }
        char *b = realloc(buf, cap * 2);
        if (!b) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = b;
        cap *= 2;
    }
    bool bad = ferror(f);
    fclose(f);
    if (!buf || bad) {
        snprintf(err, errlen, "%s: %s", path, buf ? "read error" : "out of memory");
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* The template text of MODEL (a GGUF file or a Jinja file), and a GGUF file's BOS/EOS
 * texts (malloc'd, NULL when none). */
static char *load_template(const char *path, char **bos, char **eos, char *err, size_t errlen) {
    char magic[4] = {0};
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    size_t got = fread(magic, 1, 4, f);
    fclose(f);
    if (got < 4 || memcmp(magic, "GGUF", 4) != 0) {
        size_t len;
        return read_all(path, &len, err, errlen);
    }
    gguf_file g = {0};
    if (gguf_open(&g, path, err, errlen) < 0) return NULL;
    gguf_str js;
    char *text = gguf_get_str(&g, "tokenizer.chat_template", &js) && js.len ? gguf_str_dup(js) : NULL;
    if (!text) {
        snprintf(err, errlen, "%s has no chat template (tokenizer.chat_template); --template NAME renders a built-in one", path);
    } else {
        char why[256];
        tokenizer *tok = tokenizer_load(&g, why, sizeof why);
        if (tok) {
            int32_t b = tokenizer_bos(tok), e = tokenizer_eos(tok);
            if (b >= 0 && tokenizer_token_text(tok, b)) *bos = strdup(tokenizer_token_text(tok, b));
            if (e >= 0 && tokenizer_token_text(tok, e)) *eos = strdup(tokenizer_token_text(tok, e));
            tokenizer_free(tok);
        }
    }
    gguf_close(&g);
    return text;
}

/* An error from a template as one line: its text may hold newlines and control bytes. */
static void print_error(const char *msg) {
    fputs("llmscope: template: ", stderr);
    cli_print_escaped(stderr, msg, strlen(msg), 0);
    fputc('\n', stderr);
}

int cli_template_main(int argc, char **argv) {
    enum { OPT_MESSAGES = 256, OPT_BOS, OPT_EOS, OPT_VAR, OPT_DATE, OPT_NO_GEN, OPT_TEMPLATE };
    static const struct option opts[] = {
        {"messages", required_argument, 0, OPT_MESSAGES}, {"bos", required_argument, 0, OPT_BOS},
        {"eos", required_argument, 0, OPT_EOS},           {"var", required_argument, 0, OPT_VAR},
        {"date", required_argument, 0, OPT_DATE},         {"no-generation-prompt", no_argument, 0, OPT_NO_GEN},
        {"template", required_argument, 0, OPT_TEMPLATE}, {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    const char *messages_path = NULL, *bos_arg = NULL, *eos_arg = NULL, *family = NULL;
    const char *vars[MAX_VARS];
    chat_render_options opt = {.add_generation_prompt = true, .vars = vars};
    optind = 0;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case OPT_MESSAGES: messages_path = optarg; break;
        case OPT_BOS: bos_arg = optarg; break;
        case OPT_EOS: eos_arg = optarg; break;
        case OPT_DATE: opt.date_string = optarg; break;
        case OPT_NO_GEN: opt.add_generation_prompt = false; break;
        case OPT_TEMPLATE: family = optarg; break;
        case OPT_VAR:
            if (opt.n_vars == MAX_VARS) {
                cli_error("template: at most %d --var", MAX_VARS);
                return 2;
            }
            if (!strchr(optarg, '=') || optarg[0] == '=') {
                cli_error("template: --var wants NAME=VALUE, not '%s'", optarg);
                return 2;
            }
            vars[opt.n_vars++] = optarg;
            break;
        case 'h': usage(stdout); return 0;
        default:
            return cli_bad_option("template", c, argv[optind - 1]);
        }
    }
    if (argc - optind != 1 || !messages_path) {
        cli_error("template: %s (llmscope template MODEL.gguf|FILE.jinja --messages CONV.json)",
                  argc - optind != 1 ? "give one template file" : "--messages is required");
        return 2;
    }

    char err[1024];
    char *bos = NULL, *eos = NULL, *messages = NULL;
    chat_template *t = NULL;
    size_t len = 0;
    int status = 1;
    char *jinja = load_template(argv[optind], &bos, &eos, err, sizeof err);
    if (!jinja && !family) goto fail;
    messages = read_all(messages_path, &len, err, sizeof err);
    if (!messages) goto fail;
    t = family ? chat_template_create_family(jinja, family, NULL, err, sizeof err)
               : chat_template_create_jinja(jinja, err, sizeof err);
    if (!t) goto fail;
    opt.bos_token = bos_arg ? bos_arg : bos ? bos : "";
    opt.eos_token = eos_arg ? eos_arg : eos ? eos : "";
    char *text = chat_template_render_json(t, messages, &opt, &len, err, sizeof err);
    if (!text) goto fail;
    fwrite(text, 1, len, stdout);
    free(text);
    status = fflush(stdout) == 0 ? 0 : 1;
    if (status) cli_error("template: cannot write the render: %s", strerror(errno));
    goto done;
fail:
    print_error(err);
done:
    chat_template_free(t);
    free(jinja);
    free(messages);
    free(bos);
    free(eos);
    return status;
}
