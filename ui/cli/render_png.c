/* render_png.c — the PNG pictures of `llmscope render`, for a report: an attention
 * heatmap with its title, the tokens on both axes and a colour scale, and the transcript
 * coloured by the probability the model gave each token. Same colours and layout rules as
 * the SVG ones (render_cmd.c); drawn on a canvas with the bitmap font (render_font.c).
 *
 * A heatmap of T tokens gets cells of 1024 / T pixels (at most MAX_CELL). Each axis label
 * is "position token" (whitespace shown as marks, at most LABEL_CHARS characters); where
 * the cells are smaller than a line of text only every k-th token is labelled, so labels
 * never overlap. The map has a grey frame; the key labels run up the page above it. */
#include "render_cmd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CELL 32
#define LABEL_CHARS 16
#define PAD 8
#define TITLE_SCALE 2

static const rgb WHITE = {255, 255, 255}, INK = {34, 34, 34}, GREY = {153, 153, 153}, UPPER = {238, 238, 238};

/* "12 ·Lily": a token's position and text, whitespace as marks (malloc'd). */
static char *axis_label(int pos, const char *text) {
    size_t n = strlen(text);
    char *out = malloc(n * 3 + 16);
    if (!out) return NULL;
    size_t o = (size_t)sprintf(out, "%d ", pos);
    for (size_t i = 0; i < n; i++) {
        if (text[i] == ' ') memcpy(out + o, "\xc2\xb7", 2), o += 2;
        else out[o++] = text[i];
    }
    out[o] = 0;
    return out;
}

/* A horizontal colour scale at (X, Y): WIDTH pixels from weight 0 to 1, its ends named. */
static void attention_scale(canvas *c, int x, int y, int width) {
    const char *caption = "attention weight (colour by its square root):";
    int cx = x + canvas_text(c, x, y + 3, caption, 1, INK, 64, false) + PAD;
    canvas_text(c, cx, y + 3, "0", 1, INK, 1, false);
    cx += FONT_ADV + 4;
    for (int i = 0; i < width; i++) canvas_rect(c, cx + i, y, 1, 14, render_attention_colour((float)i / (float)(width - 1)));
    canvas_frame(c, cx - 1, y - 1, width + 2, 16, GREY);
    canvas_text(c, cx + width + 4, y + 3, "1", 1, INK, 1, false);
}

int render_heatmap_png(FILE *f, const float *att, int T, const char *const *labels, const char *title, char *err,
                       size_t errlen) {
    int s = 1024 / T;
    if (s < 1) s = 1;
    if (s > MAX_CELL) s = MAX_CELL;
    const int every = (FONT_LINE + s - 1) / s; /* label every k-th token */
    const int side = T * s, label_px = LABEL_CHARS * FONT_ADV;
    const int title_h = FONT_LINE * TITLE_SCALE + PAD, scale_h = 16 + 2 * PAD;
    const int map_x = PAD + label_px + PAD, map_y = PAD + title_h + label_px + PAD;
    int title_w = canvas_text_chars(title) * FONT_ADV * TITLE_SCALE;
    int w = map_x + side + PAD, need = 2 * PAD + title_w;
    if (w < need) w = need;
    if (w < 2 * PAD + 420) w = 2 * PAD + 420; /* room for the scale */
    canvas c;
    if (canvas_init(&c, w, map_y + side + scale_h, WHITE) < 0) {
        snprintf(err, errlen, "no memory for a %d-pixel picture", w);
        return -1;
    }
    canvas_text(&c, PAD, PAD, title, TITLE_SCALE, INK, 512, false);
    for (int q = 0; q < T; q++) /* the cells: a query row holds keys up to itself */
        for (int k = 0; k < T; k++)
            canvas_rect(&c, map_x + k * s, map_y + q * s, s, s, k <= q ? render_attention_colour(att[(size_t)q * T + k]) : UPPER);
    canvas_frame(&c, map_x - 1, map_y - 1, side + 2, side + 2, GREY);
    int rc = 0;
    for (int i = 0; i < T && rc == 0; i += every) {
        char *label = axis_label(i, labels && labels[i] ? labels[i] : "");
        if (!label) {
            rc = -1;
            break;
        }
        int n = canvas_text_chars(label);
        if (n > LABEL_CHARS) n = LABEL_CHARS;
        int mid = s / 2 - 7 / 2; /* the glyphs' body is 7 rows */
        /* queries on the left, right-aligned; keys above, reading up from the map */
        canvas_text(&c, map_x - PAD - n * FONT_ADV, map_y + i * s + mid, label, 1, INK, LABEL_CHARS, false);
        canvas_text(&c, map_x + i * s + mid, map_y - PAD, label, 1, INK, LABEL_CHARS, true);
        free(label);
    }
    attention_scale(&c, PAD, map_y + side + PAD, 256);
    if (rc == 0) rc = canvas_write_png(f, &c, err, errlen);
    else snprintf(err, errlen, "out of memory");
    canvas_free(&c);
    return rc;
}

/* ---- the transcript ---- */

#define WRAP_CHARS 96
#define TEXT_SCALE 2
#define LINE_PX 24

/* The legend: the colour of p = 1, 0.1, 0.01, 0.001, and the underline's meaning. */
static void confidence_legend(canvas *c, int x, int y) {
    x += canvas_text(c, x, y + 4, "probability of the token:", 1, INK, 64, false) + PAD;
    static const float marks[4] = {1.0f, 0.1f, 0.01f, 0.001f};
    static const char *const names[4] = {"1", "0.1", "0.01", "0.001"};
    for (int i = 0; i < 4; i++) {
        canvas_rect(c, x, y, 24, 16, render_confidence_colour(marks[i]));
        canvas_frame(c, x, y, 24, 16, GREY);
        x += 30 + canvas_text(c, x + 30, y + 4, names[i], 1, INK, 8, false) + PAD;
    }
    canvas_text(c, x + PAD, y + 4, "underlined: generated", 1, INK, 32, false);
}

int render_transcript_png(FILE *f, const char *const *texts, const float *prob, const bool *generated, int T,
                          const char *title, char *err, size_t errlen) {
    int *line = malloc((size_t)(T ? T : 1) * sizeof *line), *col = malloc((size_t)(T ? T : 1) * sizeof *col);
    int *cols = malloc((size_t)(T ? T : 1) * sizeof *cols);
    if (!line || !col || !cols) {
        free(line);
        free(col);
        free(cols);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    const int cw = FONT_ADV * TEXT_SCALE, top = PAD + FONT_LINE * TITLE_SCALE + PAD;
    int lines = render_lay_out(texts, T, WRAP_CHARS, canvas_text_chars, line, col, cols);
    int w = 2 * PAD + WRAP_CHARS * cw, h = top + lines * LINE_PX + 16 + 3 * PAD;
    canvas c;
    int rc = canvas_init(&c, w, h, WHITE);
    if (rc == 0) {
        canvas_text(&c, PAD, PAD, title, TITLE_SCALE, INK, 160, false);
        for (int i = 0; i < T; i++) {
            int x = PAD + col[i] * cw, y = top + line[i] * LINE_PX, n = cols[i];
            bool known = prob && prob[i] == prob[i]; /* not NaN: the first token has none */
            canvas_rect(&c, x, y, n * cw, LINE_PX - 4, known ? render_confidence_colour(prob[i]) : (rgb){245, 245, 245});
            bool gen = generated && generated[i];
            if (gen) canvas_rect(&c, x, y + LINE_PX - 6, n * cw, 2, INK);
            canvas_text(&c, x, y + 3, texts[i], TEXT_SCALE, gen ? INK : (rgb){85, 85, 85}, n, false);
        }
        confidence_legend(&c, PAD, top + lines * LINE_PX + PAD);
        rc = canvas_write_png(f, &c, err, errlen);
    } else {
        snprintf(err, errlen, "no memory for a transcript of %d lines", lines);
    }
    canvas_free(&c);
    free(line);
    free(col);
    free(cols);
    return rc;
}
