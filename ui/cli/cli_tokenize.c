/* cli_tokenize.c — `llmscope tokenize`: each token of a text, with its id.
 *
 * Only the vocabulary is read, so this also works on vocabulary-only GGUF files. */
#include "cli.h"
#include "tokenizer.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int cli_tokenize_main(int argc, char **argv) {
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'}, {"special", no_argument, 0, 's'},
        {"bos", no_argument, 0, 'b'},         {"ids", no_argument, 0, 'i'},
        {"help", no_argument, 0, 'h'},        {0, 0, 0, 0},
    };
    const char *model_arg = NULL;
    bool special = false, bos = false, ids_only = false;
    optind = 0;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":m:h", opts, NULL)) != -1) {
        switch (c) {
        case 'm': model_arg = optarg; break;
        case 's': special = true; break;
        case 'b': bos = true; break;
        case 'i': ids_only = true; break;
        case 'h': cli_usage(stdout); return 0;
        default:
            return cli_bad_option("tokenize", c, argv[optind - 1]);
        }
    }
    if (argc - optind > 1) {
        cli_error("tokenize takes one TEXT (quote it), not %d arguments", argc - optind);
        return 2;
    }

    char err[1024];
    char *stdin_text = NULL;
    const char *text = optind < argc ? argv[optind] : NULL;
    if (!text) {
        if (isatty(STDIN_FILENO)) {
            cli_error("tokenize: no TEXT given (llmscope tokenize -m MODEL \"some text\")");
            return 2;
        }
        if (!(stdin_text = cli_read_stdin((size_t)16 << 20, err, sizeof err))) {
            cli_error("%s", err);
            return 1;
        }
        text = stdin_text;
    }

    char path[4096];
    gguf_file f = {0};
    tokenizer *tok = NULL;
    int32_t *ids = NULL;
    int status = 1;
    if (cli_find_model(model_arg, path, sizeof path, err, sizeof err) < 0 ||
        gguf_open(&f, path, err, sizeof err) < 0) {
        cli_error("%s", err);
        goto done;
    }
    if (!(tok = tokenizer_load(&f, err, sizeof err))) {
        cli_error("%s: %s", path, err);
        goto done;
    }
    int n = tokenizer_encode(tok, text, strlen(text), bos, special, &ids, err, sizeof err);
    if (n < 0) {
        cli_error("%s", err);
        goto done;
    }
    for (int i = 0; i < n; i++) {
        if (ids_only) {
            printf(i ? " %d" : "%d", ids[i]);
            continue;
        }
        char buf[256];
        int len = tokenizer_piece(tok, ids[i], buf, sizeof buf);
        if (len < 0) len = 0;
        if ((size_t)len > sizeof buf) len = sizeof buf;
        printf("%7d  '", ids[i]);
        cli_print_escaped(stdout, buf, (size_t)len, '\'');
        fputs("'\n", stdout);
    }
    if (ids_only) putchar('\n');
    status = 0;
done:
    free(ids);
    if (tok) tokenizer_free(tok);
    gguf_close(&f);
    free(stdin_text);
    return status;
}
