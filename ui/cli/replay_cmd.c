/* replay_cmd.c — `llmscope replay`: a traced transcript re-scored by another model
 * (model/replay.h does the reading and the comparing; this is the command around it). */
#include "replay_cmd.h"

#include "cli.h"
#include "tokenizer.h"

#include <cjson/cJSON.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- the command ---- */

static void usage(FILE *f) {
    fputs("usage: llmscope replay TRACE -m OTHER_MODEL [options]\n"
          "Re-scores the transcript of a --trace file with another model file (teacher-forced)\n"
          "and compares it with the model that wrote the trace, token by token: KL divergence,\n"
          "each model's probability of the token, top-1 agreement and the first divergence.\n"
          "  -m, --model FILE     the other model (same vocabulary)\n"
          "      --base FILE      the trace's model (default: the one named in the trace)\n"
          "      --all            compare at every position, not only the generated tokens\n"
          "      --json           one JSON object on standard output instead of the table\n"
          "      --backend B      cpu (default), vulkan or auto\n"
          "      --device N       Vulkan device index\n",
          f);
}

/* The token's text for the table: from the trace, else the tokenizer. */
static void token_text(const replay_trace *t, const struct tokenizer *tok, int pos, char *buf, size_t cap) {
    if (t->text[pos]) {
        snprintf(buf, cap, "%s", t->text[pos]);
        return;
    }
    int n = tokenizer_piece(tok, t->tokens[pos], buf, cap - 1);
    if (n < 0) n = 0;
    if ((size_t)n > cap - 1) n = (int)cap - 1;
    buf[n] = 0;
}

static void print_quoted(const char *s) {
    fputc('"', stdout);
    cli_print_escaped(stdout, s, strlen(s), '"');
    fputc('"', stdout);
}

static void print_table(const replay_trace *t, const replay_result *r, const cli_model *base, const cli_model *other) {
    char text[256];
    printf("base:  %s\nother: %s\n", base->path, other->path);
    printf("%6s  %-18s %9s %9s %10s  %s\n", "pos", "token", "p(base)", "p(other)", "KL (nats)", "top-1 base / other");
    for (int i = 0; i < r->n; i++) {
        const replay_token *k = &r->tok[i];
        token_text(t, base->tok, k->pos, text, sizeof text);
        printf("%6d  ", k->pos);
        print_quoted(text);
        int w = (int)strlen(text) + 2;
        printf("%*s %9.4f %9.4f %10.6f  ", w < 18 ? 18 - w : 0, "", exp(k->logp_base), exp(k->logp_other), k->kl);
        if (k->top_base == k->top_other) {
            printf("same\n");
            continue;
        }
        char a[128], b[128];
        int na = tokenizer_piece(base->tok, k->top_base, a, sizeof a - 1), nb = tokenizer_piece(base->tok, k->top_other, b, sizeof b - 1);
        a[na < 0 ? 0 : na > (int)sizeof a - 1 ? (int)sizeof a - 1 : na] = 0;
        b[nb < 0 ? 0 : nb > (int)sizeof b - 1 ? (int)sizeof b - 1 : nb] = 0;
        print_quoted(a);
        printf(" / ");
        print_quoted(b);
        printf("\n");
    }
    printf("%d tokens: mean KL %.6f nats, max %.6f at position %d; top-1 agreement %d/%d (%.1f%%)\n", r->n, r->mean_kl,
           r->max_kl, r->max_kl_pos, r->agree, r->n, r->n ? 100.0 * r->agree / r->n : 100.0);
    if (r->first_divergence < 0) {
        printf("no divergence: the two models' top-1 agree everywhere\n");
    } else {
        token_text(t, base->tok, r->first_divergence, text, sizeof text);
        printf("first divergence at position %d (", r->first_divergence);
        print_quoted(text);
        printf(")\n");
    }
}

static int print_json(const char *trace_path, const replay_trace *t, const replay_result *r, const cli_model *base,
                      const cli_model *other) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return -1;
    cJSON_AddStringToObject(o, "trace", trace_path);
    cJSON_AddStringToObject(o, "base", base->path);
    cJSON_AddStringToObject(o, "other", other->path);
    cJSON_AddNumberToObject(o, "n_tokens", r->n);
    cJSON_AddNumberToObject(o, "mean_kl", r->mean_kl);
    cJSON_AddNumberToObject(o, "max_kl", r->max_kl);
    cJSON_AddNumberToObject(o, "max_kl_pos", r->max_kl_pos);
    cJSON_AddNumberToObject(o, "top1_agree", r->agree);
    cJSON_AddNumberToObject(o, "top1_agreement", r->n ? (double)r->agree / r->n : 1.0);
    if (r->first_divergence >= 0) cJSON_AddNumberToObject(o, "first_divergence", r->first_divergence);
    else cJSON_AddNullToObject(o, "first_divergence");
    cJSON_AddNumberToObject(o, "trace_prob_error", r->trace_prob_err);
    cJSON *arr = cJSON_AddArrayToObject(o, "tokens");
    char text[256];
    for (int i = 0; arr && i < r->n; i++) {
        const replay_token *k = &r->tok[i];
        cJSON *e = cJSON_CreateObject();
        if (!e) break;
        token_text(t, base->tok, k->pos, text, sizeof text);
        bool changed;
        char *clean = cli_utf8_sanitize(text, strlen(text), &changed);
        cJSON_AddNumberToObject(e, "pos", k->pos);
        cJSON_AddNumberToObject(e, "id", k->id);
        cJSON_AddStringToObject(e, "text", clean ? clean : "");
        free(clean);
        cJSON_AddNumberToObject(e, "p_base", exp(k->logp_base));
        cJSON_AddNumberToObject(e, "p_other", exp(k->logp_other));
        cJSON_AddNumberToObject(e, "kl", k->kl);
        cJSON_AddNumberToObject(e, "top_base", k->top_base);
        cJSON_AddNumberToObject(e, "top_other", k->top_other);
        cJSON_AddItemToArray(arr, e);
    }
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!s) return -1;
    puts(s);
    free(s);
    return 0;
}

int replay_main(int argc, char **argv) {
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'}, {"base", required_argument, 0, 'B'},
        {"all", no_argument, 0, 'a'},         {"json", no_argument, 0, 'j'},
        {"backend", required_argument, 0, 'k'}, {"device", required_argument, 0, 'd'},
        {"help", no_argument, 0, 'h'},        {0, 0, 0, 0},
    };
    const char *other_arg = NULL, *base_arg = NULL;
    bool all = false, json = false;
    cli_backend backend = CLI_BACKEND_CPU;
    int device = -1;
    optind = 0;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":m:h", opts, NULL)) != -1) {
        switch (c) {
        case 'm': other_arg = optarg; break;
        case 'B': base_arg = optarg; break;
        case 'a': all = true; break;
        case 'j': json = true; break;
        case 'k':
            if (cli_parse_backend(optarg, &backend) < 0) return 2;
            break;
        case 'd':
            if (cli_parse_int("--device", optarg, 0, 1 << 16, &device) < 0) return 2;
            break;
        case 'h': usage(stdout); return 0;
        default:
            return cli_bad_option("replay", c, argv[optind - 1]);
        }
    }
    if (argc - optind != 1 || !other_arg) {
        cli_error("replay: usage: llmscope replay TRACE -m OTHER_MODEL (see llmscope replay --help)");
        return 2;
    }
    const char *trace_path = argv[optind];
    char err[1024];
    replay_trace t;
    if (replay_read_trace(trace_path, &t, err, sizeof err) < 0) {
        cli_error("%s", err);
        return 1;
    }
    cli_model base = {0}, other = {0};
    replay_result r = {0};
    int status = 1;
    if (cli_find_model(base_arg ? base_arg : t.model_path, base.path, sizeof base.path, err, sizeof err) < 0 ||
        cli_load_model(&base, err, sizeof err) < 0 ||
        cli_find_model(other_arg, other.path, sizeof other.path, err, sizeof err) < 0 ||
        cli_load_model(&other, err, sizeof err) < 0) {
        cli_error("%s", err);
        goto done;
    }
    if (t.n_vocab && t.n_vocab != base.m.hp.n_vocab) {
        cli_error("%s has %d output tokens but the trace was written with %d: not the trace's model", base.path,
                  base.m.hp.n_vocab, t.n_vocab);
        goto done;
    }
    /* The engines hold the whole transcript: no more than the models were trained on
     * (a trace can claim a million positions, which would run for hours). */
    int ctx = base.m.hp.n_ctx_train;
    if (other.m.hp.n_ctx_train > 0 && (ctx <= 0 || other.m.hp.n_ctx_train < ctx)) ctx = other.m.hp.n_ctx_train;
    if (ctx > 0 && t.n_tokens > ctx) {
        fprintf(stderr, "llmscope: note: the trace has %d positions but the models' context is %d: comparing the "
                        "first %d\n", t.n_tokens, ctx, ctx);
        replay_trace_truncate(&t, ctx);
    }
    if (!tokenizer_same_vocabulary(base.tok, other.tok, err, sizeof err) ||
        cli_create_engine(&base, backend, device, t.n_tokens, false, false, err, sizeof err) < 0 ||
        cli_create_engine(&other, backend, device, t.n_tokens, false, false, err, sizeof err) < 0 ||
        replay_compare(base.e, other.e, tokenizer_n_vocab(base.tok), &t, all, &r, err, sizeof err) < 0) {
        cli_error("%s", err);
        goto done;
    }
    if (r.trace_prob_err > 1e-3)
        fprintf(stderr, "llmscope: warning: %s gives the traced tokens probabilities up to %.4f away from the "
                        "trace's (a different model or backend wrote it?)\n",
                base.path, r.trace_prob_err);
    status = 0;
    if (json) {
        if (print_json(trace_path, &t, &r, &base, &other) < 0) {
            cli_error("out of memory");
            status = 1;
        }
    } else {
        print_table(&t, &r, &base, &other);
    }
    if (fflush(stdout) != 0) status = 1;
done:
    replay_result_free(&r);
    cli_model_free(&base);
    cli_model_free(&other);
    replay_trace_free(&t);
    return status;
}
