/* cli_info.c — `llmscope info MODEL`: what a GGUF file holds and whether llmscope can
 * run it.
 *
 * Everything that can be read from the file is printed even when the model cannot be
 * loaded (an unsupported architecture or tensor type), followed by the reason; the exit
 * status then says 1. */
#include "chat_template.h"
#include "cli.h"
#include "term_text.h"
#include "quant.h"
#include "tokenizer.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static void print_size(uint64_t bytes) {
    if (bytes >= (1ull << 30)) printf("%.2f GiB", (double)bytes / (1ull << 30));
    else if (bytes >= (1ull << 20)) printf("%.1f MiB", (double)bytes / (1ull << 20));
    else printf("%.1f KiB", (double)bytes / 1024.0);
}

static void print_count(uint64_t n) {
    if (n >= 1000000000ull) printf("%.2fB", (double)n / 1e9);
    else if (n >= 1000000ull) printf("%.1fM", (double)n / 1e6);
    else if (n >= 1000ull) printf("%.1fK", (double)n / 1e3);
    else printf("%llu", (unsigned long long)n);
}

/* Tensor element counts by storage type, and the parameter total. */
static void print_tensors(const gguf_file *f) {
    enum { MAX_TYPES = 64 };
    uint64_t count[MAX_TYPES] = {0}, elems[MAX_TYPES] = {0}, total = 0;
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        const gguf_tensor *t = &f->tensors[i];
        uint64_t n = 1;
        for (uint32_t d = 0; d < t->n_dims; d++) n *= t->ne[d];
        total += n;
        if (t->type < MAX_TYPES) {
            count[t->type]++;
            elems[t->type] += n;
        }
    }
    printf("parameters:    ");
    print_count(total);
    printf(" (%llu)\n", (unsigned long long)total);
    printf("tensor types: %s", f->n_tensors ? "" : " none");
    for (int ty = 0; ty < MAX_TYPES; ty++) {
        if (!count[ty]) continue;
        printf(" %s x%llu (", ggml_type_name((uint32_t)ty), (unsigned long long)count[ty]);
        print_count(elems[ty]);
        printf(")");
    }
    printf("\n");
}

static void print_hparams(const model *m) {
    const model_hparams *hp = &m->hp;
    char clean[512];
    printf("name:          %s\n", term_clean(m->name, clean, sizeof clean));
    printf("architecture:  %s\n", term_clean(hp->arch_name, clean, sizeof clean));
    printf("layers:        %d\n", hp->n_layer);
    printf("embedding:     %d\n", hp->n_embd);
    printf("heads:         %d (kv heads %d, head dim %d)\n", hp->n_head, hp->n_head_kv, hp->head_dim);
    printf("feed-forward:  %d (%s)\n", hp->n_ff, hp->gelu ? "GELU" : "SwiGLU");
    printf("context:       %d\n", hp->n_ctx_train);
    printf("vocabulary:    %d\n", hp->n_vocab);
    static const char *const rope_names[] = {"none (learned positions)", "normal", "neox"};
    printf("positions:     rope %s", rope_names[hp->rope]);
    if (hp->rope != ROPE_NONE) printf(", base %g, %d dims", (double)hp->rope_base, hp->rope_dim);
    if (hp->rope_freq_scale != 1.0f) printf(", linear scale %g", (double)hp->rope_freq_scale);
    if (m->rope_freqs) printf(", Llama 3 frequency factors");
    printf("\n");
    printf("norm:          %s, eps %g%s\n", hp->layer_norm ? "LayerNorm" : "RMSNorm", (double)hp->norm_eps,
           hp->tied_output ? "; output tied to the embedding" : "");
}

static void print_token(const tokenizer *tok, const char *label, int32_t id) {
    if (id < 0) return;
    const char *text = tokenizer_token_text(tok, id);
    printf(" %s ", label);
    cli_print_escaped(stdout, text ? text : "?", text ? strlen(text) : 1, 0);
    printf(" (%d)", id);
}

static void print_tokenizer(const tokenizer *tok) {
    static const char *const kinds[] = {"SentencePiece (llama)", "byte-level BPE (gpt2)", "WordPiece (bert)"};
    char pre[256];
    printf("tokenizer:     %s, pre-tokenizer %s, %d tokens\n", kinds[tokenizer_get_kind(tok)],
           term_clean(tokenizer_pre_name(tok), pre, sizeof pre), tokenizer_n_vocab(tok));
    printf("special:      ");
    print_token(tok, "bos", tokenizer_bos(tok));
    print_token(tok, "eos", tokenizer_eos(tok));
    printf("%s\n", tokenizer_adds_bos(tok) ? "; adds bos" : "");
    printf("end of reply: ");
    int shown = 0, n_eog = 0, n_control = 0;
    for (int32_t id = 0; id < tokenizer_n_vocab(tok); id++) {
        n_control += tokenizer_is_control(tok, id);
        if (!tokenizer_is_eog(tok, id)) continue;
        if (shown++ < 8) {
            const char *text = tokenizer_token_text(tok, id);
            putchar(' ');
            cli_print_escaped(stdout, text ? text : "?", text ? strlen(text) : 1, 0);
        }
        n_eog++;
    }
    if (n_eog > shown) printf(" ... (%d in all)", n_eog);
    printf("%s; %d control tokens\n", n_eog ? "" : " none", n_control);
}

static void print_template(const gguf_file *f) {
    gguf_str js;
    if (!gguf_get_str(f, "tokenizer.chat_template", &js) || js.len == 0) {
        printf("chat template: none (completion only)\n");
        return;
    }
    char *jinja = gguf_str_dup(js);
    if (!jinja) return;
    const char *warning = NULL;
    char err[256];
    chat_template *t = chat_template_create(jinja, NULL, &warning, err, sizeof err);
    printf("chat template: %s%s\n", t ? chat_template_name(t) : "?", warning ? " (not recognised; rendered as ChatML)" : "");
    chat_template_free(t);
    /* the first lines of the raw template, so the user can see what it is */
    const char *p = jinja;
    for (int line = 0; line < 4 && *p; line++) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        printf("  | ");
        cli_print_escaped(stdout, p, len > 100 ? 100 : len, 0);
        printf("%s\n", len > 100 ? " ..." : "");
        if (!nl) break;
        p = nl + 1;
    }
    free(jinja);
}

int cli_info_main(int argc, char **argv) {
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const char *model_arg = NULL;
    optind = 0;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":m:h", opts, NULL)) != -1) {
        if (c == 'm') {
            model_arg = optarg;
        } else if (c == 'h') {
            cli_usage(stdout);
            return 0;
        } else {
            cli_error("info: %s %s (see llmscope --help)", c == ':' ? "missing value for" : "unknown option",
                      argv[optind - 1]);
            return 2;
        }
    }
    if (argc - optind > 1 || (model_arg && argc - optind == 1)) {
        cli_error("info takes one MODEL");
        return 2;
    }
    if (optind < argc) model_arg = argv[optind];

    char path[4096], err[1024];
    if (cli_find_model(model_arg, path, sizeof path, err, sizeof err) < 0) {
        cli_error("%s", err);
        return 1;
    }
    gguf_file f;
    if (gguf_open(&f, path, err, sizeof err) < 0) {
        cli_error("%s", err);
        return 1;
    }
    printf("file:          %s (", path);
    print_size(f.size);
    printf(", GGUF v%u, %llu tensors, %llu metadata keys)\n", f.version, (unsigned long long)f.n_tensors,
           (unsigned long long)f.n_kv);

    bool loadable = true;
    model m;
    char load_err[1024];
    if (model_load(&m, path, load_err, sizeof load_err) == 0) {
        print_hparams(&m);
        model_free(&m);
    } else {
        gguf_str arch;
        printf("architecture:  ");
        if (gguf_get_str(&f, "general.architecture", &arch)) cli_print_escaped(stdout, arch.ptr, (size_t)arch.len, 0);
        else printf("(none)");
        printf("\n");
        loadable = false;
    }
    print_tensors(&f);
    tokenizer *tok = tokenizer_load(&f, err, sizeof err);
    if (tok) {
        print_tokenizer(tok);
        tokenizer_free(tok);
    } else {
        printf("tokenizer:     cannot be read: %s\n", err);
    }
    print_template(&f);
    gguf_close(&f);
    fflush(stdout);
    if (!loadable || !tok) {
        cli_error("%s", !loadable ? load_err : err);
        return 1;
    }
    return 0;
}
