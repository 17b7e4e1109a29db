/* render_font.c — a 5x7 bitmap font and an RGB canvas for the PNG pictures of
 * `llmscope render`: filled rectangles, text (across, or up the page for column
 * labels), and the PNG writer (libpng).
 *
 * The font is this project's own, drawn as the table below: each glyph is seven rows of
 * five cells, '#' inked, and two more for the letters that reach below the line (g j p
 * q y). It covers printable ASCII and the marks the screen uses for
 * tokens (middle dot for a space, the return arrow for a newline, the ellipsis); any
 * other character is drawn as a hollow box, one cell wide, so that labels still line up. */
#include "render_font.h"

#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

typedef struct glyph {
    int32_t cp;
    const char *rows; /* 7 (or 9) rows of 5, '/' between rows */
} glyph;

static const glyph GLYPHS[] = {
    {' ', "...../...../...../...../...../...../....."},
    {'!', "..#../..#../..#../..#../..#../...../..#.."},
    {'"', ".#.#./.#.#./...../...../...../...../....."},
    {'#', ".#.#./#####/.#.#./.#.#./.#.#./#####/.#.#."},
    {'$', "..#../.####/#.#../.###./..#.#/####./..#.."},
    {'%', "##.../##..#/...#./..#../.#.../#..##/...##"},
    {'&', ".##../#..#./#.#../.#.../#.#.#/#..#./.##.#"},
    {'\'', "..#../..#../...../...../...../...../....."},
    {'(', "...#./..#../.#.../.#.../.#.../..#../...#."},
    {')', ".#.../..#../...#./...#./...#./..#../.#..."},
    {'*', "...../..#../#.#.#/.###./#.#.#/..#../....."},
    {'+', "...../..#../..#../#####/..#../..#../....."},
    {',', "...../...../...../...../..##./..#../.#..."},
    {'-', "...../...../...../#####/...../...../....."},
    {'.', "...../...../...../...../...../.##../.##.."},
    {'/', "...../....#/...#./..#../.#.../#..../....."},
    {'0', ".###./#...#/#..##/#.#.#/##..#/#...#/.###."},
    {'1', "..#../.##../..#../..#../..#../..#../.###."},
    {'2', ".###./#...#/....#/...#./..#../.#.../#####"},
    {'3', "#####/...#./..#../...#./....#/#...#/.###."},
    {'4', "...#./..##./.#.#./#..#./#####/...#./...#."},
    {'5', "#####/#..../####./....#/....#/#...#/.###."},
    {'6', "..##./.#.../#..../####./#...#/#...#/.###."},
    {'7', "#####/....#/...#./..#../.#.../.#.../.#..."},
    {'8', ".###./#...#/#...#/.###./#...#/#...#/.###."},
    {'9', ".###./#...#/#...#/.####/....#/...#./.##.."},
    {':', "...../.##../.##../...../.##../.##../....."},
    {';', "...../.##../.##../...../.##../..#../.#..."},
    {'<', "...#./..#../.#.../#..../.#.../..#../...#."},
    {'=', "...../...../#####/...../#####/...../....."},
    {'>', ".#.../..#../...#./....#/...#./..#../.#..."},
    {'?', ".###./#...#/....#/...#./..#../...../..#.."},
    {'@', ".###./#...#/....#/.##.#/#.#.#/#.#.#/.###."},
    {'A', ".###./#...#/#...#/#####/#...#/#...#/#...#"},
    {'B', "####./#...#/#...#/####./#...#/#...#/####."},
    {'C', ".###./#...#/#..../#..../#..../#...#/.###."},
    {'D', "###../#..#./#...#/#...#/#...#/#..#./###.."},
    {'E', "#####/#..../#..../####./#..../#..../#####"},
    {'F', "#####/#..../#..../####./#..../#..../#...."},
    {'G', ".###./#...#/#..../#.###/#...#/#...#/.####"},
    {'H', "#...#/#...#/#...#/#####/#...#/#...#/#...#"},
    {'I', ".###./..#../..#../..#../..#../..#../.###."},
    {'J', "..###/...#./...#./...#./...#./#..#./.##.."},
    {'K', "#...#/#..#./#.#../##.../#.#../#..#./#...#"},
    {'L', "#..../#..../#..../#..../#..../#..../#####"},
    {'M', "#...#/##.##/#.#.#/#.#.#/#...#/#...#/#...#"},
    {'N', "#...#/#...#/##..#/#.#.#/#..##/#...#/#...#"},
    {'O', ".###./#...#/#...#/#...#/#...#/#...#/.###."},
    {'P', "####./#...#/#...#/####./#..../#..../#...."},
    {'Q', ".###./#...#/#...#/#...#/#.#.#/#..#./.##.#"},
    {'R', "####./#...#/#...#/####./#.#../#..#./#...#"},
    {'S', ".####/#..../#..../.###./....#/....#/####."},
    {'T', "#####/..#../..#../..#../..#../..#../..#.."},
    {'U', "#...#/#...#/#...#/#...#/#...#/#...#/.###."},
    {'V', "#...#/#...#/#...#/#...#/#...#/.#.#./..#.."},
    {'W', "#...#/#...#/#...#/#.#.#/#.#.#/#.#.#/.#.#."},
    {'X', "#...#/#...#/.#.#./..#../.#.#./#...#/#...#"},
    {'Y', "#...#/#...#/.#.#./..#../..#../..#../..#.."},
    {'Z', "#####/....#/...#./..#../.#.../#..../#####"},
    {'[', ".###./.#.../.#.../.#.../.#.../.#.../.###."},
    {'\\', "...../#..../.#.../..#../...#./....#/....."},
    {']', ".###./...#./...#./...#./...#./...#./.###."},
    {'^', "..#../.#.#./#...#/...../...../...../....."},
    {'_', "...../...../...../...../...../...../#####"},
    {'`', ".#.../..#../...../...../...../...../....."},
    {'a', "...../...../.###./....#/.####/#...#/.####"},
    {'b', "#..../#..../#.##./##..#/#...#/#...#/####."},
    {'c', "...../...../.###./#..../#..../#...#/.###."},
    {'d', "....#/....#/.##.#/#..##/#...#/#...#/.####"},
    {'e', "...../...../.###./#...#/#####/#..../.###."},
    {'f', "..##./.#..#/.#.../###../.#.../.#.../.#..."},
    {'g', "...../...../.####/#...#/#...#/#...#/.####/....#/.###."},
    {'h', "#..../#..../#.##./##..#/#...#/#...#/#...#"},
    {'i', "..#../...../.##../..#../..#../..#../.###."},
    {'j', "...#./...../..##./...#./...#./...#./...#./#..#./.##.."},
    {'k', "#..../#..../#..#./#.#../##.../#.#../#..#."},
    {'l', ".##../..#../..#../..#../..#../..#../.###."},
    {'m', "...../...../##.#./#.#.#/#.#.#/#...#/#...#"},
    {'n', "...../...../#.##./##..#/#...#/#...#/#...#"},
    {'o', "...../...../.###./#...#/#...#/#...#/.###."},
    {'p', "...../...../####./#...#/#...#/#...#/####./#..../#...."},
    {'q', "...../...../.####/#...#/#...#/#...#/.####/....#/....#"},
    {'r', "...../...../#.##./##..#/#..../#..../#...."},
    {'s', "...../...../.###./#..../.###./....#/####."},
    {'t', ".#.../.#.../###../.#.../.#.../.#..#/..##."},
    {'u', "...../...../#...#/#...#/#...#/#..##/.##.#"},
    {'v', "...../...../#...#/#...#/#...#/.#.#./..#.."},
    {'w', "...../...../#...#/#...#/#.#.#/#.#.#/.#.#."},
    {'x', "...../...../#...#/.#.#./..#../.#.#./#...#"},
    {'y', "...../...../#...#/#...#/#...#/#...#/.####/....#/.###."},
    {'z', "...../...../#####/...#./..#../.#.../#####"},
    {'{', "...#./..#../..#../.#.../..#../..#../...#."},
    {'|', "..#../..#../..#../..#../..#../..#../..#.."},
    {'}', ".#.../..#../..#../...#./..#../..#../.#..."},
    {'~', "...../...../.#.../#.#.#/...#./...../....."},
    {0x00B7, "...../...../...../..#../...../...../....."},
    {0x2026, "...../...../...../...../...../...../#.#.#"},
    {0x21B5, "....#/....#/..#.#/.#..#/#####/.#.../..#.."},
    {0x2192, "...../..#../...#./#####/...#./..#../....."},
};
static const char UNKNOWN[] = "#####/#...#/#...#/#...#/#...#/#...#/#####";

static const char *glyph_rows(int32_t cp) {
    for (size_t i = 0; i < sizeof GLYPHS / sizeof GLYPHS[0]; i++)
        if (GLYPHS[i].cp == cp) return GLYPHS[i].rows;
    return UNKNOWN;
}

/* ---- the canvas ---- */

int canvas_init(canvas *c, int w, int h, rgb bg) {
    memset(c, 0, sizeof *c);
    if (w <= 0 || h <= 0 || w > CANVAS_MAX_SIDE || h > CANVAS_MAX_SIDE) return -1;
    c->px = malloc((size_t)w * (size_t)h * 3);
    if (!c->px) return -1;
    c->w = w;
    c->h = h;
    canvas_rect(c, 0, 0, w, h, bg);
    return 0;
}

void canvas_free(canvas *c) {
    free(c->px);
    memset(c, 0, sizeof *c);
}

void canvas_rect(canvas *c, int x, int y, int w, int h, rgb col) {
    int x0 = x < 0 ? 0 : x, y0 = y < 0 ? 0 : y;
    int x1 = x + w > c->w ? c->w : x + w, y1 = y + h > c->h ? c->h : y + h;
    for (int yy = y0; yy < y1; yy++)
        for (int xx = x0; xx < x1; xx++) {
            unsigned char *p = c->px + ((size_t)yy * (size_t)c->w + (size_t)xx) * 3;
            p[0] = col.r, p[1] = col.g, p[2] = col.b;
        }
}

void canvas_frame(canvas *c, int x, int y, int w, int h, rgb col) {
    canvas_rect(c, x, y, w, 1, col);
    canvas_rect(c, x, y + h - 1, w, 1, col);
    canvas_rect(c, x, y, 1, h, col);
    canvas_rect(c, x + w - 1, y, 1, h, col);
}

/* One glyph with its top-left at (X, Y), or, when UP, with its bottom-left there and
 * turned a quarter to the left (the text reads from the bottom up). */
static void draw_glyph(canvas *c, int x, int y, int32_t cp, int scale, rgb col, bool up) {
    const char *rows = glyph_rows(cp);
    int n_rows = (int)(strlen(rows) + 1) / (FONT_W + 1);
    for (int gy = 0; gy < n_rows && gy < FONT_H; gy++)
        for (int gx = 0; gx < FONT_W; gx++) {
            if (rows[gy * (FONT_W + 1) + gx] != '#') continue;
            if (up) canvas_rect(c, x + gy * scale, y - (gx + 1) * scale, scale, scale, col);
            else canvas_rect(c, x + gx * scale, y + gy * scale, scale, scale, col);
        }
}

int canvas_text(canvas *c, int x, int y, const char *s, int scale, rgb col, int max_chars, bool up) {
    const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)s;
    utf8proc_ssize_t left = (utf8proc_ssize_t)strlen(s);
    int n = 0;
    while (left > 0 && n < max_chars) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate(p, left, &cp);
        if (k <= 0) k = 1, cp = 0xFFFD;
        /* whitespace that a label shows as a mark */
        if (cp == '\n') cp = 0x21B5;
        else if (cp == '\t') cp = 0x2192;
        int adv = n * FONT_ADV * scale;
        if (up) draw_glyph(c, x, y - adv, cp, scale, col, true);
        else draw_glyph(c, x + adv, y, cp, scale, col, false);
        p += k;
        left -= k;
        n++;
    }
    return n * FONT_ADV * scale;
}

int canvas_text_chars(const char *s) {
    int n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) n += (*p & 0xC0) != 0x80;
    return n;
}

/* ---- PNG ---- */

int canvas_write_png(FILE *f, const canvas *c, char *err, size_t errlen) {
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info) {
        png_destroy_write_struct(&png, &info);
        snprintf(err, errlen, "out of memory for the PNG writer");
        return -1;
    }
    if (setjmp(png_jmpbuf(png))) { /* libpng reports its errors by jumping here */
        png_destroy_write_struct(&png, &info);
        snprintf(err, errlen, "cannot write the PNG image");
        return -1;
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)c->w, (png_uint_32)c->h, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < c->h; y++) png_write_row(png, c->px + (size_t)y * (size_t)c->w * 3);
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    if (ferror(f)) {
        snprintf(err, errlen, "cannot write the PNG image");
        return -1;
    }
    return 0;
}
