/* cli_info.c — `llmscope info MODEL`: what a GGUF file holds and whether llmscope can
 * run it.
 *
 * Everything that can be read from the file is printed even when the model cannot be
 * loaded (an unsupported architecture or tensor type), followed by the reason; the exit
 * status then says 1. */
#include "chat_template.h"
#include "cli.h"
#include "deltanet.h"
#include "state_ckpt.h"
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
    char buf[32];
    cli_format_count(n, buf, sizeof buf);
    fputs(buf, stdout);
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

static void print_rope(const rope_desc *r, int index) {
    static const char *const kinds[] = {"none", "normal", "neox"};
    printf("rope %d:        %s, base %g, %d dims", index, kinds[r->kind], (double)r->base, r->dim);
    if (r->freq_scale != 1.0f)
        printf(r->ext_factor != 0.0f ? ", YaRN factor %g (trained at %d)" : ", linear scale %g",
               r->ext_factor != 0.0f ? 1.0 / (double)r->freq_scale : (double)r->freq_scale, r->orig_ctx);
    if (r->factors_long) printf(", LongRoPE factors (long beyond %d positions)", r->orig_ctx);
    else if (r->factors) printf(", frequency factors");
    if (r->attn_factor != 1.0f) printf(", magnitude %g", (double)r->attn_factor);
    printf("\n");
}

/* A layer's feed-forward part in words: ", ff 128" or ", 2 of 8 experts of ff 64 + shared
 * ff 128"; returns the length written. */
static int describe_ffn(const model *m, const layer_desc *d, char *buf, size_t cap) {
    if (d->ffn != FFN_MOE) return snprintf(buf, cap, ", ff %d", d->n_ff);
    const moe_hparams *moe = &m->hp.moe;
    int n = snprintf(buf, cap, ", %d of %d experts of ff %d", moe->n_used, moe->n_expert, moe->n_ff_exp);
    if (d->n_ff) n += snprintf(buf + n, cap - (size_t)n, " + shared ff %d", d->n_ff);
    return n;
}

/* One layer's kind in words: "global" or "sliding 4096", its rope, whose keys it reads. */
static void layer_kind(const model *m, int l, char *buf, size_t cap) {
    const layer_desc *d = &m->desc[l];
    if (d->mixer == MIXER_DELTANET) {
        deltanet_describe(d, buf, cap);
        char *ff = strstr(buf, ", ff ");
        if (ff && d->ffn == FFN_MOE) describe_ffn(m, d, ff, cap - (size_t)(ff - buf));
        return;
    }
    int n = d->window ? snprintf(buf, cap, "sliding %d", d->window) : snprintf(buf, cap, "global");
    if (d->rope < 0 && m->n_ropes) n += snprintf(buf + n, cap - (size_t)n, ", no rope");
    else if (m->n_ropes > 1) n += snprintf(buf + n, cap - (size_t)n, ", rope %d", d->rope);
    if (d->kv_layer != l) n += snprintf(buf + n, cap - (size_t)n, ", keys of layer %d", d->kv_layer);
    n += snprintf(buf + n, cap - (size_t)n, ", head dim %d", d->head_dim);
    /* the "heads:" line gives the widest layer's; say this layer's where it differs (hybrids) */
    if (d->n_head != m->hp.n_head || d->n_head_kv != m->hp.n_head_kv)
        n += snprintf(buf + n, cap - (size_t)n, ", %d heads (kv %d)", d->n_head, d->n_head_kv);
    n += describe_ffn(m, d, buf + n, cap - (size_t)n);
    if (d->out_gate) snprintf(buf + n, cap - (size_t)n, ", gated output");
}

/* The layers grouped by kind: "0-4,6 sliding 16, rope 1, head dim 256, ff 128". */
static void print_layer_kinds(const model *m) {
    const int n = m->hp.n_layer;
    char kind[160], other[160];
    bool *done = calloc((size_t)n, sizeof *done);
    if (!done) return;
    for (int l = 0; l < n; l++) {
        if (done[l]) continue;
        layer_kind(m, l, kind, sizeof kind);
        printf("layer kinds:  ");
        int printed = 0;
        for (int j = l; j < n; j++) {
            layer_kind(m, j, other, sizeof other);
            if (done[j] || strcmp(kind, other) != 0) continue;
            int end = j;
            while (end + 1 < n && !done[end + 1] && (layer_kind(m, end + 1, other, sizeof other), !strcmp(kind, other)))
                end++;
            for (int i = j; i <= end; i++) done[i] = true;
            printf("%s%d", printed++ ? "," : " ", j);
            if (end > j) printf("-%d", end);
            j = end;
        }
        printf(" %s\n", kind);
    }
    free(done);
}

/* Multi-token-prediction blocks, and what the DeltaNet layers' recurrent state takes
 * beside the KV cache: the state itself, each position's keys, betas and decays (for the
 * effective weights), and the checkpoints an engine keeps to rewind (state_ckpt.h). */
static void print_recurrent(const model *m) {
    const model_hparams *hp = &m->hp;
    if (hp->n_layer_nextn)
        printf("mtp blocks:    %d after the last layer (multi-token prediction: not loaded, not run)\n", hp->n_layer_nextn);
    if (!hp->n_deltanet) return;
    size_t state = 0, per_pos = 0, ckpt = 0;
    for (int l = 0; l < hp->n_layer; l++) {
        if (m->desc[l].mixer != MIXER_DELTANET) continue;
        dn_shape s = dn_shape_of(&m->desc[l]);
        state += dn_state_floats(&s) * sizeof(float);
        ckpt += dn_snapshot_floats(&s, 0) * sizeof(float);
        per_pos += (size_t)(s.key_dim + 3 * s.n_v) * sizeof(float); /* as the CPU engine keeps them */
    }
    printf("recurrent:     %d DeltaNet layers: state %.1f MiB, keys %.1f KiB per position, checkpoints of "
           "%.1f to %.1f MiB (every %d positions and at turn starts, %u MiB at most)\n",
           hp->n_deltanet, state / 1048576.0, per_pos / 1024.0, ckpt / 1048576.0, state / 1048576.0, CKPT_INTERVAL,
           CKPT_BUDGET >> 20);
}

/* The sampler settings a plain run starts from: the file's own (llmscope.sampler.*) where
 * it has them, llmscope's defaults for the rest. */
static void print_sampling(const model *m) {
    sampler_params sp;
    sampler_params_default(&sp);
    int from_file = cli_model_sampling(m, &sp, 0, false);
    printf("sampling:      temperature %.2g, top-k %d, top-p %.2g, min-p %.2g, repeat penalty %.2g", (double)sp.temperature,
           sp.top_k, (double)sp.top_p, (double)sp.min_p, (double)sp.repeat_penalty);
    if (from_file) printf(" (%d set by the file)\n", from_file);
    else printf(" (llmscope's defaults: the file sets none)\n");
}

static void print_hparams(const model *m) {
    const model_hparams *hp = &m->hp;
    static const char *const acts[] = {"SiLU", "GELU", "clamped SwiGLU"};
    char clean[512];
    printf("name:          %s\n", term_clean(m->name, clean, sizeof clean));
    printf("architecture:  %s\n", term_clean(hp->arch_name, clean, sizeof clean));
    printf("layers:        %d\n", hp->n_layer);
    printf("embedding:     %d", hp->n_embd);
    if (hp->embed_scale != 1.0f) printf(" (scaled by %g)", (double)hp->embed_scale);
    if (hp->n_embd_per_layer) printf(", per-layer inputs of %d", hp->n_embd_per_layer);
    printf("\n");
    bool uniform = true; /* hybrids: each layer kind's own heads are on its line below */
    for (int l = 0; l < hp->n_layer; l++)
        uniform = uniform && m->desc[l].n_head == hp->n_head && m->desc[l].n_head_kv == hp->n_head_kv;
    if (uniform) printf("heads:         %d (kv heads %d, head dim %d)\n", hp->n_head, hp->n_head_kv, hp->head_dim);
    else printf("heads:         up to %d per layer (kv heads up to %d; see the layer kinds)\n", hp->n_head, hp->n_head_kv);
    if (hp->moe.n_expert)
        printf("experts:       %d, %d per token (%s), ff %d, %s\n", hp->moe.n_expert, hp->moe.n_used,
               hp->moe.routing == ROUTE_SOFTMAX ? (hp->moe.norm ? "softmax, top-k renormalised" : "softmax, top-k")
                                                : "top-k logits, softmax over them",
               hp->moe.n_ff_exp, acts[hp->act]);
    else
        printf("feed-forward:  %d (%s%s)\n", hp->n_ff, acts[hp->act], hp->glu ? " gated" : "");
    printf("context:       %d\n", hp->n_ctx_train);
    printf("vocabulary:    %d\n", hp->n_vocab);
    if (!m->n_ropes) printf("positions:     %s\n", m->position_embd.data ? "learned" : "none");
    for (int r = 0; r < m->n_ropes; r++) print_rope(&m->ropes[r], r);
    print_layer_kinds(m);
    printf("norm:          %s, eps %g%s%s\n", hp->norm == NORM_LAYER ? "LayerNorm" : "RMSNorm", (double)hp->norm_eps,
           hp->arch->traits & AT_SANDWICH ? ", sandwich norms" : "",
           hp->tied_output ? "; output tied to the embedding" : "");
    if (hp->final_softcap > 0) printf("logit cap:     %g\n", (double)hp->final_softcap);
    if (m->desc[0].attn_softcap > 0) printf("score cap:     %g\n", (double)m->desc[0].attn_softcap);
    if (m->desc[0].attn_temp > 0)
        printf("temperature:   %g past every %d positions\n", (double)m->desc[0].attn_temp, m->desc[0].attn_temp_floor);
    print_recurrent(m);
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
    const char *warning = NULL, *family_warning = NULL;
    char err[256];
    chat_template *t = chat_template_create(jinja, NULL, &warning, err, sizeof err);
    chat_template *family = chat_template_create_family(jinja, NULL, &family_warning, err, sizeof err);
    if (t && !warning) /* run by the interpreter, as it is */
        printf("chat template: jinja (the file's own, %zu bytes, run as written; like %s)\n", js.len,
               family && !family_warning ? chat_template_name(family) : "no built-in family");
    else
        printf("chat template: %s (%s)\n", t ? chat_template_name(t) : "?", warning ? warning : err);
    chat_template_free(family);
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
            return cli_bad_option("info", c, argv[optind - 1]);
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
        print_sampling(&m);
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
