/* render_font.h — an RGB canvas with a 5x7 bitmap font, written out as PNG: what the
 * PNG pictures of `llmscope render` are drawn on (render_png.c). */
#ifndef LLMSCOPE_RENDER_FONT_H
#define LLMSCOPE_RENDER_FONT_H

#include <stdbool.h>
#include <stdio.h>

#define FONT_W 5   /* a glyph's cells */
#define FONT_H 9   /* seven above the line, two below */
#define FONT_ADV 6 /* cells from one character to the next */
#define FONT_LINE 10
#define CANVAS_MAX_SIDE 16384

typedef struct rgb {
    unsigned char r, g, b;
} rgb;

typedef struct canvas {
    int w, h;
    unsigned char *px; /* w x h x RGB */
} canvas;

/* 0, or -1 when the size is out of range or memory runs out. */
int canvas_init(canvas *c, int w, int h, rgb bg);
void canvas_free(canvas *c);
/* Clipped to the canvas. */
void canvas_rect(canvas *c, int x, int y, int w, int h, rgb col);
void canvas_frame(canvas *c, int x, int y, int w, int h, rgb col);
/* UTF-8 text, at most MAX_CHARS characters, each FONT_ADV x SCALE pixels on: from
 * (X, Y) its top-left, or with UP from (X, Y) its bottom-left, reading upwards. Newlines
 * and tabs are drawn as arrows, characters the font lacks as a box. Returns the pixels
 * it advanced. */
int canvas_text(canvas *c, int x, int y, const char *s, int scale, rgb col, int max_chars, bool up);
/* Characters (code points) in S. */
int canvas_text_chars(const char *s);
int canvas_write_png(FILE *f, const canvas *c, char *err, size_t errlen);

#endif
