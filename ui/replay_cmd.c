/* replay_cmd.c — `llmscope replay`: a traced transcript re-scored by another model.
 *
 * Both models read the same tokens (teacher forcing: the transcript, not what either
 * would have generated), in chunks with every position's logits, and each traced token
 * is compared where it was chosen. The same file against itself gives KL exactly 0: the
 * engines are deterministic and inspect_compare's terms vanish when the logits are the
 * same numbers. */
#include "replay_cmd.h"

#include "cli.h"
#include "inspect.h"
#include "tokenizer.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TRACE_TOKENS (1 << 20)
/* logits of one chunk of positions, per model */
#define CHUNK_BYTES ((size_t)64 << 20)

/* ---- the trace's context ---- */

cJSON *replay_context_json(const session *s, const char *model_path) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    char abs[PATH_MAX];
    const char *path = model_path && realpath(model_path, abs) ? abs : model_path ? model_path : "";
    cJSON_AddStringToObject(o, "model", path);
    cJSON_AddNumberToObject(o, "n_vocab", session_model(s)->hp.n_vocab);
    cJSON *arr = cJSON_AddArrayToObject(o, "tokens");
    size_t n = session_n_records(s);
    for (size_t i = 0; arr && i < n; i++) {
        cJSON *v = cJSON_CreateNumber(session_record(s, i)->token);
        if (!v) break;
        cJSON_AddItemToArray(arr, v);
    }
    if (!arr || (size_t)cJSON_GetArraySize(arr) != n) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/* ---- reading a trace ---- */

void replay_trace_free(replay_trace *t) {
    if (t->text)
        for (int i = 0; i < t->n_tokens; i++) free(t->text[i]);
    free(t->model_path);
    free(t->tokens);
    free(t->traced);
    free(t->trace_prob);
    free(t->text);
    memset(t, 0, sizeof *t);
}

/* An integer field in range, or false. */
static bool get_int(const cJSON *o, const char *key, double lo, double hi, int *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < lo || v->valuedouble > hi)
        return false;
    *out = (int)v->valuedouble;
    return true;
}

/* Makes room for N positions. */
static int trace_reserve(replay_trace *t, int n, int *cap) {
    if (n <= *cap) return 0;
    int c = *cap ? *cap : 256;
    while (c < n) c *= 2;
    int32_t *tok = realloc(t->tokens, (size_t)c * sizeof *tok);
    if (tok) t->tokens = tok;
    bool *tr = realloc(t->traced, (size_t)c * sizeof *tr);
    if (tr) t->traced = tr;
    float *pr = realloc(t->trace_prob, (size_t)c * sizeof *pr);
    if (pr) t->trace_prob = pr;
    char **tx = realloc(t->text, (size_t)c * sizeof *tx);
    if (tx) t->text = tx;
    if (!tok || !tr || !pr || !tx) return -1;
    *cap = c;
    return 0;
}

/* Truncates to the N positions of a context and fills them in from it. */
static int read_context(replay_trace *t, const cJSON *ctx, int *cap, char *why, size_t whylen) {
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(ctx, "model");
    const cJSON *toks = cJSON_GetObjectItemCaseSensitive(ctx, "tokens");
    if (!cJSON_IsObject(ctx) || !cJSON_IsString(model) || !cJSON_IsArray(toks)) {
        snprintf(why, whylen, "\"context\" needs \"model\" (a string) and \"tokens\" (an array)");
        return -1;
    }
    int n = cJSON_GetArraySize(toks);
    if (n > MAX_TRACE_TOKENS) {
        snprintf(why, whylen, "the context has %d tokens (at most %d)", n, MAX_TRACE_TOKENS);
        return -1;
    }
    for (int i = 0; i < t->n_tokens; i++) free(t->text[i]);
    t->n_tokens = 0;
    if (trace_reserve(t, n, cap) < 0) {
        snprintf(why, whylen, "out of memory");
        return -1;
    }
    int i = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, toks) {
        if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < 0 ||
            v->valuedouble > INT32_MAX) {
            snprintf(why, whylen, "context token %d is not a token id", i);
            return -1;
        }
        t->tokens[i] = (int32_t)v->valuedouble;
        t->traced[i] = false;
        t->trace_prob[i] = NAN;
        t->text[i] = NULL;
        i++;
    }
    t->n_tokens = n;
    free(t->model_path);
    t->model_path = strdup(model->valuestring);
    t->n_vocab = 0;
    get_int(ctx, "n_vocab", 1, INT32_MAX, &t->n_vocab);
    if (!t->model_path) {
        snprintf(why, whylen, "out of memory");
        return -1;
    }
    return 0;
}

/* One trace line: a context (optional) and a token at the next position. */
static int read_line(replay_trace *t, const cJSON *o, int *cap, char *why, size_t whylen) {
    const cJSON *ctx = cJSON_GetObjectItemCaseSensitive(o, "context");
    if (ctx && read_context(t, ctx, cap, why, whylen) < 0) return -1;
    if (!t->model_path) {
        snprintf(why, whylen, "no \"context\" before the first token (the trace must come from "
                              "llmscope --trace, which records what preceded the reply)");
        return -1;
    }
    int pos, id;
    if (!get_int(o, "pos", 0, MAX_TRACE_TOKENS - 1, &pos) || !get_int(o, "id", 0, INT32_MAX, &id)) {
        snprintf(why, whylen, "a token line needs \"pos\" and \"id\" (whole numbers)");
        return -1;
    }
    if (pos != t->n_tokens) {
        snprintf(why, whylen, "token at position %d does not follow the previous one (expected %d)", pos,
                 t->n_tokens);
        return -1;
    }
    if (trace_reserve(t, pos + 1, cap) < 0) {
        snprintf(why, whylen, "out of memory");
        return -1;
    }
    const cJSON *prob = cJSON_GetObjectItemCaseSensitive(o, "prob");
    const cJSON *text = cJSON_GetObjectItemCaseSensitive(o, "text");
    t->tokens[pos] = id;
    t->traced[pos] = true;
    t->trace_prob[pos] = cJSON_IsNumber(prob) ? (float)prob->valuedouble : NAN;
    t->text[pos] = cJSON_IsString(text) ? strdup(text->valuestring) : NULL;
    t->n_tokens++;
    return 0;
}

int replay_read_trace(const char *path, replay_trace *t, char *err, size_t errlen) {
    memset(t, 0, sizeof *t);
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "cannot read the trace %s: %s", path, strerror(errno));
        return -1;
    }
    char *line = NULL, why[256] = "";
    size_t linecap = 0;
    ssize_t len;
    int cap = 0, lineno = 0, n_lines = 0, rc = 0;
    while (rc == 0 && (len = getline(&line, &linecap, f)) >= 0) {
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
        if (len == 0) continue;
        cJSON *o = cJSON_ParseWithLength(line, (size_t)len);
        if (!cJSON_IsObject(o)) {
            snprintf(why, sizeof why, "not a JSON object");
            rc = -1;
        } else {
            rc = read_line(t, o, &cap, why, sizeof why);
            n_lines++;
        }
        cJSON_Delete(o);
        if (rc < 0) snprintf(err, errlen, "%s:%d: %s", path, lineno, why);
    }
    if (rc == 0 && ferror(f)) rc = (snprintf(err, errlen, "cannot read the trace %s: %s", path, strerror(errno)), -1);
    if (rc == 0 && n_lines == 0) rc = (snprintf(err, errlen, "%s: no traced tokens", path), -1);
    free(line);
    fclose(f);
    if (rc < 0) replay_trace_free(t);
    return rc;
}

/* ---- comparing ---- */

void replay_result_free(replay_result *r) {
    free(r->tok);
    memset(r, 0, sizeof *r);
}

int replay_compare(engine *base, engine *other, int n_valid, const replay_trace *t, bool all,
                   replay_result *out, char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    out->max_kl_pos = out->first_divergence = -1;
    const int V = base->model->hp.n_vocab, T = t->n_tokens;
    if (other->model->hp.n_vocab != V) {
        snprintf(err, errlen, "the models have different vocabularies (%d and %d tokens)", V,
                 other->model->hp.n_vocab);
        return -1;
    }
    if (n_valid <= 0 || n_valid > V) n_valid = V;
    if (T < 2) {
        snprintf(err, errlen, "the transcript has %d token%s: nothing to compare", T, T == 1 ? "" : "s");
        return -1;
    }
    for (int i = 0; i < T; i++)
        if (t->tokens[i] < 0 || t->tokens[i] >= n_valid) {
            snprintf(err, errlen, "token %d at position %d is not in the model's vocabulary (%d tokens)",
                     (int)t->tokens[i], i, n_valid);
            return -1;
        }
    int n_scored = 0;
    for (int p = 1; p < T; p++) n_scored += all || t->traced[p];
    out->tok = calloc((size_t)(n_scored ? n_scored : 1), sizeof *out->tok);
    int chunk = (int)(CHUNK_BYTES / ((size_t)V * sizeof(float)));
    if (chunk < 1) chunk = 1;
    if (chunk > T - 1) chunk = T - 1;
    float *lb = malloc((size_t)chunk * (size_t)V * sizeof *lb), *lo = malloc((size_t)chunk * (size_t)V * sizeof *lo);
    if (!out->tok || !lb || !lo) {
        free(lb);
        free(lo);
        replay_result_free(out);
        snprintf(err, errlen, "out of memory for %d positions of %d logits", chunk, V);
        return -1;
    }
    double sum_kl = 0;
    int rc = 0;
    /* the output at position q predicts the token at q+1: positions 0 .. T-2 */
    for (int a = 0; a < T - 1 && rc == 0; a += chunk) {
        int n = T - 1 - a < chunk ? T - 1 - a : chunk;
        engine_batch bb = {.tokens = t->tokens + a, .n_tokens = n, .pos = a, .all_positions = true, .logits = lb};
        engine_batch bo = bb;
        bo.logits = lo;
        if (engine_eval(base, &bb, err, errlen) < 0 || engine_eval(other, &bo, err, errlen) < 0) {
            rc = -1;
            break;
        }
        for (int j = 0; j < n; j++) {
            int p = a + j + 1;
            if (!all && !t->traced[p]) continue;
            float *pb = lb + (size_t)j * V, *po = lo + (size_t)j * V;
            for (int v = n_valid; v < V; v++) pb[v] = po[v] = -INFINITY; /* not tokens */
            dist_compare c;
            inspect_compare(pb, po, V, t->tokens[p], &c);
            replay_token *rt = &out->tok[out->n++];
            *rt = (replay_token){p, t->tokens[p], c.kl, c.logp_id, c.logq_id, c.top_p, c.top_q};
            sum_kl += c.kl;
            if (out->max_kl_pos < 0 || c.kl > out->max_kl) {
                out->max_kl = c.kl;
                out->max_kl_pos = p;
            }
            if (c.top_p == c.top_q) out->agree++;
            else if (out->first_divergence < 0) out->first_divergence = p;
            if (!isnan(t->trace_prob[p])) {
                double d = fabs(exp(c.logp_id) - (double)t->trace_prob[p]);
                if (d > out->trace_prob_err) out->trace_prob_err = d;
            }
        }
    }
    free(lb);
    free(lo);
    if (rc < 0) {
        replay_result_free(out);
        return -1;
    }
    out->mean_kl = out->n ? sum_kl / out->n : 0;
    return 0;
}

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
            cli_error("replay: %s %s (see llmscope replay --help)", c == ':' ? "missing value for" : "unknown option",
                      argv[optind - 1]);
            return 2;
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
