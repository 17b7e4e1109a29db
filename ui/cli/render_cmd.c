/* render_cmd.c — `llmscope render TRACE`: the transcript coloured by confidence, and
 * attention heatmaps, as SVG (hand-written XML: rectangles and text) or PNG (libpng).
 *
 * The trace says which tokens were read and generated and by which model (model/replay.h);
 * the pictures come from running those tokens through that model again, teacher-forced,
 * with every position's logits and attention. */
#include "render_cmd.h"

#include "cli.h"
#include "atomic_file.h"
#include "replay.h"
#include "tokenizer.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <utf8proc.h>

#define SCORE_BUDGET ((size_t)64 << 20) /* logits and attention of one engine call */
#define MAX_RENDER_TOKENS 8192          /* a T x T float matrix: 256 MiB at most */
#define SVG_MAX_CELLS 256               /* larger heatmaps are averaged into blocks */

/* ---- what to draw ---- */

bool render_parse_heatmap(const char *text, heatmap_spec *out) {
    if (strcmp(text, "mean") == 0) {
        *out = (heatmap_spec){-1, -1};
        return true;
    }
    char *end;
    errno = 0;
    long l = strtol(text, &end, 10);
    if (errno || end == text || l < 0 || l > 1 << 16) return false;
    if (*end == 0) {
        *out = (heatmap_spec){(int)l, -1};
        return true;
    }
    if (*end != ':') return false;
    const char *h_text = end + 1;
    long h = strtol(h_text, &end, 10);
    if (errno || end == h_text || *end || h < 0 || h > 1 << 16) return false;
    *out = (heatmap_spec){(int)l, (int)h};
    return true;
}

/* ---- scoring ---- */

int render_score(engine *e, const int32_t *tokens, int T, int n_valid, float *prob, const heatmap_spec *spec,
                 float *att, char *err, size_t errlen) {
    const model_hparams *hp = &e->model->hp;
    const int L = hp->n_layer, H = hp->n_head, V = hp->n_vocab;
    if (n_valid <= 0 || n_valid > V) n_valid = V;
    if (att && (!spec || spec->layer >= L || spec->head >= H)) {
        snprintf(err, errlen, "the model has %d layers of %d heads: no heatmap %d:%d", L, H, spec ? spec->layer : -1,
                 spec ? spec->head : -1);
        return -1;
    }
    if (prob) prob[0] = NAN;
    if (att) memset(att, 0, (size_t)T * (size_t)T * sizeof *att);
    /* heads averaged into the picture */
    int l0 = 0, l1 = L, h0 = 0, h1 = H;
    if (att && spec->layer >= 0) l0 = spec->layer, l1 = spec->layer + 1;
    if (att && spec->head >= 0) h0 = spec->head, h1 = spec->head + 1;

    float *logits = NULL, *abuf = NULL;
    int rc = 0;
    for (int a = 0; a < T && rc == 0;) {
        int n = T - a;
        for (;;) {
            size_t need = (prob ? (size_t)n * V : 0) + (att ? (size_t)L * H * n * (size_t)(a + n) : 0);
            if (n == 1 || need * sizeof(float) <= SCORE_BUDGET) break;
            n = (n + 1) / 2;
        }
        const int row_len = a + n;
        free(logits);
        free(abuf);
        logits = prob ? malloc((size_t)n * V * sizeof *logits) : NULL;
        abuf = att ? malloc((size_t)L * H * n * (size_t)row_len * sizeof *abuf) : NULL;
        if ((prob && !logits) || (att && !abuf)) {
            snprintf(err, errlen, "out of memory scoring %d tokens", n);
            rc = -1;
            break;
        }
        engine_batch b = {.tokens = tokens + a, .n_tokens = n, .pos = a, .all_positions = true, .logits = logits,
                          .attention = abuf};
        if (engine_eval(e, &b, err, errlen) < 0) {
            rc = -1;
            break;
        }
        for (int j = 0; j < n; j++) {
            const int q = a + j;
            if (prob && q + 1 < T) {
                const float *x = logits + (size_t)j * V;
                double mx = -INFINITY, z = 0;
                for (int v = 0; v < n_valid; v++)
                    if (x[v] > mx) mx = x[v];
                for (int v = 0; v < n_valid; v++) z += exp((double)x[v] - mx);
                prob[q + 1] = (float)(exp((double)x[tokens[q + 1]] - mx) / z);
            }
            if (att) {
                float *dst = att + (size_t)q * T;
                for (int l = l0; l < l1; l++) {
                    /* each layer's own heads; a DeltaNet head's signed weights as attention
                     * mass, |w| normalised (inspect.h) */
                    const int hl1 = h1 < e->model->desc[l].n_head ? h1 : e->model->desc[l].n_head;
                    const bool mass = e->model->desc[l].mixer == MIXER_DELTANET;
                    for (int h = h0; h < hl1; h++) {
                        const float *src = abuf + (((size_t)l * H + h) * n + j) * (size_t)row_len;
                        double total = 0;
                        for (int k = 0; mass && k <= q; k++) total += fabsf(src[k]);
                        const float w = 1.0f / (float)((l1 - l0) * (hl1 - h0)) / (mass && total > 0 ? (float)total : 1.0f);
                        for (int k = 0; k <= q; k++) dst[k] += w * (mass ? fabsf(src[k]) : src[k]);
                    }
                }
            }
        }
        a += n;
    }
    free(logits);
    free(abuf);
    return rc;
}

/* ---- colours ---- */

static rgb mix(rgb a, rgb b, double t) {
    if (!(t > 0)) t = 0;
    if (t > 1) t = 1;
    return (rgb){(unsigned char)lround(a.r + (b.r - a.r) * t), (unsigned char)lround(a.g + (b.g - a.g) * t),
                 (unsigned char)lround(a.b + (b.b - a.b) * t)};
}

/* Attention: white to dark blue over the square root of the weight, so that the many
 * small weights of a broad head are still visible next to a sharp one. */
rgb render_attention_colour(float v) {
    static const rgb stops[5] = {{255, 255, 255}, {198, 219, 239}, {107, 174, 214}, {33, 113, 181}, {8, 48, 107}};
    double t = v > 0 ? sqrt(v > 1 ? 1.0 : (double)v) : 0;
    int i = t >= 1 ? 3 : (int)(t * 4);
    return mix(stops[i], stops[i + 1], t * 4 - i);
}

/* Confidence: white for a certain token, red for a surprising one, on a log scale
 * (p = 1 white, 0.1 a third of the way, 0.001 and below full red). */
rgb render_confidence_colour(float p) {
    double s = p > 0 ? -log10((double)p) / 3.0 : 1.0;
    return mix((rgb){255, 255, 255}, (rgb){227, 74, 51}, s);
}

/* ---- SVG text ---- */

/* Writes S (valid UTF-8) as XML character data: markup characters escaped, control
 * characters shown as \xNN (XML 1.0 cannot hold them), newlines and tabs as arrows. */
static void xml_text(FILE *f, const char *s) {
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\n': fputs("\xe2\x86\xb5", f); break; /* ↵ */
        case '\t': fputs("\xe2\x86\x92", f); break; /* → */
        default:
            if (*p < 0x20 || *p == 0x7f) fprintf(f, "\\x%02x", *p);
            else fputc(*p, f);
        }
    }
}

/* Display columns of S as xml_text shows it (wide characters count 2). */
static int text_columns(const char *s) {
    int cols = 0;
    const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)s;
    utf8proc_ssize_t left = (utf8proc_ssize_t)strlen(s);
    while (left > 0) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t n = utf8proc_iterate(p, left, &cp);
        if (n <= 0) break;
        if (cp < 0x20 && cp != '\n' && cp != '\t') cols += 4;
        else cols += cp == '\n' || cp == '\t' ? 1 : utf8proc_charwidth(cp) > 1 ? 2 : 1;
        p += n;
        left -= n;
    }
    return cols;
}

/* ---- heatmaps ---- */

/* Average of the picture's block (qi, ki) of B x B cells, over the entries that exist
 * (keys up to the query). */
static float block_mean(const float *att, int T, int b, int qi, int ki) {
    double s = 0;
    int n = 0;
    for (int q = qi * b; q < (qi + 1) * b && q < T; q++)
        for (int k = ki * b; k < (ki + 1) * b && k <= q; k++) {
            s += att[(size_t)q * T + k];
            n++;
        }
    return n ? (float)(s / n) : 0.0f;
}

/* A token in a tooltip: its text in quotes, whitespace as marks. */
static void token_name(FILE *f, const char *text) {
    if (!text) return;
    fputc('"', f);
    for (const char *p = text; *p; p++) {
        if (*p == ' ') fputs("\xc2\xb7", f);
        else {
            char one[2] = {*p, 0};
            xml_text(f, one);
        }
    }
    fputc('"', f);
}

/* The colour scale under a heatmap: weight 0 to 1 in 64 steps, its ends named. */
static void svg_attention_scale(FILE *f, int x, int y) {
    fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"12\">attention weight (colour by its square root): 0</text>\n", x,
            y + 12);
    for (int i = 0; i < 64; i++) {
        rgb c = render_attention_colour((float)i / 63.0f);
        fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"3\" height=\"16\" fill=\"#%02x%02x%02x\"/>", x + 300 + 3 * i, y,
                c.r, c.g, c.b);
    }
    fprintf(f, "\n<text x=\"%d\" y=\"%d\" font-size=\"12\">1</text>\n", x + 300 + 3 * 64 + 6, y + 12);
}

int render_heatmap_svg(FILE *f, const float *att, int T, const char *const *labels, const char *title) {
    const int b = (T + SVG_MAX_CELLS - 1) / SVG_MAX_CELLS, n = (T + b - 1) / b;
    int px = 800 / n;
    if (px < 2) px = 2;
    if (px > 24) px = 24;
    const bool named = labels && b == 1 && px >= 10;
    const int margin = named ? 110 : 20, top = margin + 24;
    int W = margin + n * px + 20, Hh = top + n * px + 60;
    if (W < margin + 460) W = margin + 460; /* room for the colour scale */
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
               "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
               "font-family=\"monospace\" font-size=\"10\">\n",
            W, Hh, W, Hh);
    fprintf(f, "<rect width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n<text x=\"%d\" y=\"16\" font-size=\"13\">", W, Hh,
            margin);
    xml_text(f, title);
    if (b > 1) fprintf(f, " (blocks of %d x %d tokens averaged)", b, b);
    fputs("</text>\n", f);
    if (named) {
        for (int i = 0; i < n; i++) {
            fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">", margin - 4, top + i * px + px - 3);
            xml_text(f, labels[i]);
            fprintf(f, "</text>\n<text transform=\"translate(%d,%d) rotate(-90)\">", margin + i * px + px - 3, top - 4);
            xml_text(f, labels[i]);
            fputs("</text>\n", f);
        }
    }
    /* the cells: a query row holds keys up to itself */
    for (int qi = 0; qi < n; qi++) {
        for (int ki = 0; ki <= qi; ki++) {
            float v = block_mean(att, T, b, qi, ki);
            rgb c = render_attention_colour(v);
            fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"#%02x%02x%02x\"", margin + ki * px,
                    top + qi * px, px, px, c.r, c.g, c.b);
            if (b == 1 && n <= 128) { /* hovering names both tokens */
                fprintf(f, "><title>query %d ", qi);
                token_name(f, labels ? labels[qi] : NULL);
                fprintf(f, ", key %d ", ki);
                token_name(f, labels ? labels[ki] : NULL);
                fprintf(f, ": %.6f</title></rect>\n", (double)v);
            } else {
                fputs("/>\n", f);
            }
        }
    }
    fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#999999\"/>\n", margin,
            top, n * px, n * px);
    svg_attention_scale(f, margin, top + n * px + 16);
    fputs("</svg>\n", f);
    return ferror(f) ? -1 : 0;
}

/* ---- the transcript ---- */

int render_lay_out(const char *const *texts, int T, int wrap, int (*width)(const char *), int *line, int *col,
                   int *cols) {
    int ln = 0, c = 0;
    for (int i = 0; i < T; i++) {
        int w = width(texts[i]);
        if (w < 1) w = 1;
        if (c > 0 && c + w > wrap) ln++, c = 0;
        line[i] = ln, col[i] = c, cols[i] = w;
        c += w;
        size_t len = strlen(texts[i]);
        if (len && texts[i][len - 1] == '\n') ln++, c = 0;
    }
    return ln + 1;
}

#define WRAP_COLS 96
#define CHAR_W 8.4
#define LINE_H 22
#define MARGIN 16

int render_transcript_svg(FILE *f, const char *const *texts, const float *prob, const bool *generated, int T,
                          const char *title) {
    /* lay the tokens out first: a line breaks before a token that would overflow it and
     * after a token that ends with a newline */
    int *line = malloc((size_t)T * sizeof *line), *col = malloc((size_t)T * sizeof *col);
    int *cols = malloc((size_t)T * sizeof *cols);
    if (!line || !col || !cols) {
        free(line);
        free(col);
        free(cols);
        return -1;
    }
    int ln = render_lay_out(texts, T, WRAP_COLS, text_columns, line, col, cols) - 1;
    const int W = (int)(2 * MARGIN + WRAP_COLS * CHAR_W), top = MARGIN + 28;
    const int Hh = top + (ln + 1) * LINE_H + 60;
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
               "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
               "font-family=\"monospace\" font-size=\"14\">\n"
               "<rect width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n<text x=\"%d\" y=\"%d\" font-size=\"13\">",
            W, Hh, W, Hh, W, Hh, MARGIN, MARGIN + 8);
    xml_text(f, title);
    fputs("</text>\n", f);
    for (int i = 0; i < T; i++) {
        double x = MARGIN + col[i] * CHAR_W, y = top + line[i] * LINE_H;
        bool known = prob && !isnan(prob[i]);
        rgb g = known ? render_confidence_colour(prob[i]) : (rgb){245, 245, 245};
        bool gen = generated && generated[i];
        fprintf(f, "<g class=\"token%s\"><title>position %d: \"", gen ? " generated" : "", i);
        xml_text(f, texts[i]);
        fputs("\"", f);
        if (known) fprintf(f, ", p = %.6f", (double)prob[i]);
        fprintf(f, "</title><rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%d\" fill=\"#%02x%02x%02x\"/>", x, y,
                cols[i] * CHAR_W, LINE_H - 4, g.r, g.g, g.b);
        if (gen) fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"2\" fill=\"#333333\"/>", x,
                         y + LINE_H - 5, cols[i] * CHAR_W);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" xml:space=\"preserve\"%s>", x, y + 14, gen ? "" : " fill=\"#555555\"");
        xml_text(f, texts[i]);
        fputs("</text></g>\n", f);
    }
    /* the legend: the colour of p = 1, 0.1, 0.01, 0.001 */
    int ly = top + (ln + 1) * LINE_H + 16;
    fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"12\">probability of the token:</text>\n", MARGIN, ly + 14);
    static const float marks[4] = {1.0f, 0.1f, 0.01f, 0.001f};
    for (int i = 0; i < 4; i++) {
        rgb g = render_confidence_colour(marks[i]);
        int x = MARGIN + 200 + i * 90;
        fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"24\" height=\"16\" fill=\"#%02x%02x%02x\" stroke=\"#999999\"/>"
                   "<text x=\"%d\" y=\"%d\" font-size=\"12\">%g</text>\n",
                x, ly + 2, g.r, g.g, g.b, x + 30, ly + 14, (double)marks[i]);
    }
    fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"12\">underlined: generated</text>\n</svg>\n", MARGIN + 560, ly + 14);
    free(line);
    free(col);
    free(cols);
    return ferror(f) ? -1 : 0;
}

/* ---- the command ---- */

static void usage(FILE *f) {
    fputs("usage: llmscope render TRACE [options]\n"
          "Draws a --trace file's transcript, re-run through its model: the tokens coloured by\n"
          "the probability the model gave them, or an attention heatmap.\n"
          "  -o, --output FILE    the picture: .svg or .png\n"
          "                       (default: TRACE's name with .transcript.svg or .heatmap-*.svg)\n"
          "      --heatmap WHICH  LAYER:HEAD, LAYER (its heads averaged) or mean (every head)\n"
          "      --base FILE      the model (default: the one named in the trace)\n"
          "      --backend B      cpu (default), vulkan or auto\n"
          "      --device N       Vulkan device index\n",
          f);
}

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcasecmp(s + n - k, suffix) == 0;
}

/* TRACE without .jsonl/.json, then SUFFIX. */
static void default_output(const char *trace, const char *suffix, char *out, size_t cap) {
    size_t n = strlen(trace);
    if (ends_with(trace, ".jsonl")) n -= 6;
    else if (ends_with(trace, ".json")) n -= 5;
    snprintf(out, cap, "%.*s%s", (int)n, trace, suffix);
}

/* Each token's text for the picture (valid UTF-8, malloc'd): its piece, or for a control
 * token without one, its name. */
static char *display_text(const struct tokenizer *tok, int32_t id) {
    char buf[256];
    int n = tokenizer_piece(tok, id, buf, sizeof buf);
    if (n < 0) n = 0;
    if ((size_t)n > sizeof buf) n = (int)sizeof buf;
    if (n == 0) {
        const char *name = tokenizer_token_text(tok, id);
        return strdup(name ? name : "");
    }
    bool changed;
    return cli_utf8_sanitize(buf, (size_t)n, &changed);
}

int render_main(int argc, char **argv) {
    static const struct option opts[] = {
        {"output", required_argument, 0, 'o'},  {"heatmap", required_argument, 0, 'H'},
        {"base", required_argument, 0, 'B'},    {"backend", required_argument, 0, 'k'},
        {"device", required_argument, 0, 'd'},  {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    const char *out_arg = NULL, *base_arg = NULL;
    heatmap_spec spec = {0};
    bool heatmap = false;
    cli_backend backend = CLI_BACKEND_CPU;
    int device = -1;
    optind = 0;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'o': out_arg = optarg; break;
        case 'H':
            if (!render_parse_heatmap(optarg, &spec)) {
                cli_error("render: --heatmap expects LAYER:HEAD, LAYER or mean, not '%s'", optarg);
                return 2;
            }
            heatmap = true;
            break;
        case 'B': base_arg = optarg; break;
        case 'k':
            if (cli_parse_backend(optarg, &backend) < 0) return 2;
            break;
        case 'd':
            if (cli_parse_int("--device", optarg, 0, 1 << 16, &device) < 0) return 2;
            break;
        case 'h': usage(stdout); return 0;
        default:
            return cli_bad_option("render", c, argv[optind - 1]);
        }
    }
    if (argc - optind != 1) {
        cli_error("render: usage: llmscope render TRACE [-o FILE] [--heatmap LAYER:HEAD] (see llmscope render --help)");
        return 2;
    }
    const char *trace_path = argv[optind];
    char out_path[4096];
    if (out_arg) {
        snprintf(out_path, sizeof out_path, "%s", out_arg);
    } else if (heatmap) {
        char suffix[64];
        if (spec.layer < 0) snprintf(suffix, sizeof suffix, ".heatmap-mean.svg");
        else if (spec.head < 0) snprintf(suffix, sizeof suffix, ".heatmap-L%d.svg", spec.layer);
        else snprintf(suffix, sizeof suffix, ".heatmap-L%dH%d.svg", spec.layer, spec.head);
        default_output(trace_path, suffix, out_path, sizeof out_path);
    } else {
        default_output(trace_path, ".transcript.svg", out_path, sizeof out_path);
    }
    bool png = ends_with(out_path, ".png");
    if (!png && !ends_with(out_path, ".svg")) {
        cli_error("render: %s: the picture must be .svg or .png", out_path);
        return 2;
    }

    char err[1024] = "";
    replay_trace t;
    if (replay_read_trace(trace_path, &t, err, sizeof err) < 0) {
        cli_error("%s", err);
        return 1;
    }
    int status = 1, T = t.n_tokens;
    cli_model cm = {0};
    float *prob = NULL, *att = NULL;
    char **texts = NULL;
    FILE *f = NULL;
    atomic_file out = {0};
    if (T > MAX_RENDER_TOKENS) {
        cli_error("%s: %d tokens; render draws at most %d", trace_path, T, MAX_RENDER_TOKENS);
        goto done;
    }
    if (cli_find_model(base_arg ? base_arg : t.model_path, cm.path, sizeof cm.path, err, sizeof err) < 0 ||
        cli_load_model(&cm, err, sizeof err) < 0 ||
        cli_create_engine(&cm, backend, device, T, heatmap, false, err, sizeof err) < 0) {
        cli_error("%s", err);
        goto done;
    }
    texts = calloc((size_t)T, sizeof *texts);
    prob = heatmap ? NULL : malloc((size_t)T * sizeof *prob);
    att = heatmap ? malloc((size_t)T * (size_t)T * sizeof *att) : NULL;
    if (!texts || (!heatmap && !prob) || (heatmap && !att)) {
        cli_error("out of memory for %d tokens", T);
        goto done;
    }
    for (int i = 0; i < T; i++)
        if (!(texts[i] = display_text(cm.tok, t.tokens[i]))) {
            cli_error("out of memory");
            goto done;
        }
    if (render_score(cm.e, t.tokens, T, tokenizer_n_vocab(cm.tok), prob, &spec, att, err, sizeof err) < 0) {
        cli_error("%s", err);
        goto done;
    }
    /* a temporary file renamed over the picture: an old one survives a failed write */
    if (atomic_file_open(&out, out_path, err, sizeof err) < 0) {
        cli_error("%s", err);
        goto done;
    }
    f = out.f;
    char title[512];
    int rc;
    if (heatmap) {
        char which[64];
        if (spec.layer < 0) snprintf(which, sizeof which, "every head averaged");
        else if (spec.head < 0) snprintf(which, sizeof which, "layer %d, heads averaged", spec.layer);
        else snprintf(which, sizeof which, "layer %d, head %d", spec.layer, spec.head);
        snprintf(title, sizeof title, "%s: attention, %s, positions 0-%d", cm.m.name, which, T - 1);
        rc = png ? render_heatmap_png(f, att, T, (const char *const *)texts, title, err, sizeof err)
                 : render_heatmap_svg(f, att, T, (const char *const *)texts, title);
    } else {
        snprintf(title, sizeof title, "%s: %d tokens, coloured by the probability the model gave each", cm.m.name, T);
        rc = png ? render_transcript_png(f, (const char *const *)texts, prob, t.traced, T, title, err, sizeof err)
                 : render_transcript_svg(f, (const char *const *)texts, prob, t.traced, T, title);
    }
    f = NULL;
    if (rc < 0) {
        atomic_file_abort(&out);
        cli_error("cannot write %s%s%s", out_path, png && *err ? ": " : "", png ? err : "");
        goto done;
    }
    if (atomic_file_commit(&out, err, sizeof err) < 0) {
        cli_error("%s", err);
        goto done;
    }
    fprintf(stderr, "llmscope: wrote %s\n", out_path);
    status = 0;
done:
    if (out.f) atomic_file_abort(&out);
    if (texts)
        for (int i = 0; i < T; i++) free(texts[i]);
    free(texts);
    free(prob);
    free(att);
    cli_model_free(&cm);
    replay_trace_free(&t);
    return status;
}
