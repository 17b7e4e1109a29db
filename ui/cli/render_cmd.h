/* render_cmd.h — `llmscope render TRACE`: pictures of a traced transcript.
 *
 *   transcript   every token on a coloured ground: white where the model gave it high
 *                probability, red where it was a surprise (SVG, where hovering shows the
 *                numbers, or PNG)
 *   heatmap      attention of one head, of a layer's heads averaged, or of the whole model
 *                (query rows, key columns), with the tokens on both axes, a title and a
 *                colour scale, as SVG or PNG (render_png.c)
 *
 * The transcript is re-run teacher-forced through the trace's model (replay_cmd.h's
 * "context"), so the pictures show that model's view of every token, prompt included. */
#ifndef LLMSCOPE_RENDER_CMD_H
#define LLMSCOPE_RENDER_CMD_H

#include "engine.h"
#include "render_font.h"

#include <stdint.h>
#include <stdio.h>

/* argv[0] is "render". Returns the process exit status (0, 1 failure, 2 usage). */
int render_main(int argc, char **argv);

/* What a heatmap shows: one head (layer >= 0, head >= 0), a layer's heads averaged
 * (head < 0), or every layer and head averaged (layer < 0). */
typedef struct heatmap_spec {
    int layer, head;
} heatmap_spec;

/* Parses "L:H", "L" (the layer's mean) or "mean". False on anything else. */
bool render_parse_heatmap(const char *text, heatmap_spec *out);

/* Runs TOKENS (T of them) through E teacher-forced. PROB (T, may be NULL) gets each
 * token's probability under the model at the position before it (NAN at 0; ids from
 * N_VALID on are masked). ATT (T x T, may be NULL) gets the attention picked by SPEC,
 * row q = query q over keys 0..q (0 beyond). Returns 0, or -1 with ERR. */
int render_score(engine *e, const int32_t *tokens, int T, int n_valid, float *prob, const heatmap_spec *spec,
                 float *att, char *err, size_t errlen);

/* Writers. LABELS (T strings, may be NULL) name the tokens on the axes. */
int render_heatmap_svg(FILE *f, const float *att, int T, const char *const *labels, const char *title);
int render_heatmap_png(FILE *f, const float *att, int T, const char *const *labels, const char *title, char *err,
                       size_t errlen);
/* GENERATED (T, may be NULL) marks tokens the model produced. */
int render_transcript_svg(FILE *f, const char *const *texts, const float *prob, const bool *generated, int T,
                          const char *title);
int render_transcript_png(FILE *f, const char *const *texts, const float *prob, const bool *generated, int T,
                          const char *title, char *err, size_t errlen);

/* Where each of T tokens goes in a transcript WRAP columns wide, each WIDTH(text)
 * columns: a line breaks before a token that would overflow it and after one that ends
 * with a newline. Fills LINE, COL and COLS (its width) per token; returns the lines. */
int render_lay_out(const char *const *texts, int T, int wrap, int (*width)(const char *), int *line, int *col,
                   int *cols);

/* The colours both formats use: attention weight V in [0, 1] (white to dark blue, over
 * its square root), and a token's probability P (white when certain, red when a surprise,
 * on a log scale down to 0.001). */
rgb render_attention_colour(float v);
rgb render_confidence_colour(float p);

#endif
