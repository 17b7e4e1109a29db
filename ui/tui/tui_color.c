/* tui_color.c — colour pairs, the heatmap ramp and the probability tint.
 *
 * Four levels, chosen once at start-up: direct RGB (a terminfo entry with 2^24 colours),
 * the xterm 256-colour palette (RGB ramps mapped to the nearest entry), the 8 ANSI
 * colours, or none. Without colour every piece of information is still on screen as a
 * character or an attribute: heat as shade blocks ' ░▒▓█' (ASCII " .:-=+*#%@" when the
 * locale is not UTF-8), the chosen token as bold, uncertain tokens underlined. */
#include "tui_app.h"

#include <langinfo.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct rgb {
    unsigned char r, g, b;
} rgb;

#define NO_RGB ((rgb){1, 2, 3}) /* marker: the terminal's default colour */

static bool is_default(rgb c) { return c.r == 1 && c.g == 2 && c.b == 3; }

typedef struct role_colors {
    rgb fg, bg;           /* for 256 and direct colour */
    short fg8, bg8;       /* ANSI colours, -1 = default */
    attr_t attr;          /* added in every colour mode */
    attr_t attr_mono;     /* used instead of colour when there is none */
} role_colors;

static const role_colors ROLE_COLORS[TC__COUNT] = {
    [TC_NORMAL] = {NO_RGB, NO_RGB, -1, -1, A_NORMAL, A_NORMAL},
    [TC_FRAME] = {{88, 96, 110}, NO_RGB, COLOR_BLUE, -1, A_NORMAL, A_NORMAL},
    [TC_TITLE] = {{150, 190, 230}, NO_RGB, COLOR_CYAN, -1, A_BOLD, A_BOLD},
    [TC_USER] = {{120, 180, 255}, NO_RGB, COLOR_CYAN, -1, A_NORMAL, A_BOLD},
    [TC_ASSISTANT] = {NO_RGB, NO_RGB, -1, -1, A_NORMAL, A_NORMAL},
    [TC_SYSTEM] = {{215, 175, 95}, NO_RGB, COLOR_YELLOW, -1, A_NORMAL, A_DIM},
    [TC_TEMPLATE] = {{110, 110, 120}, NO_RGB, COLOR_MAGENTA, -1, A_NORMAL, A_DIM},
    [TC_LABEL] = {{150, 190, 230}, NO_RGB, COLOR_CYAN, -1, A_BOLD, A_BOLD | A_UNDERLINE},
    [TC_DIM] = {{128, 128, 128}, NO_RGB, COLOR_BLUE, -1, A_NORMAL, A_DIM},
    [TC_STATUS] = {{20, 20, 20}, {175, 185, 200}, COLOR_BLACK, COLOR_WHITE, A_NORMAL, A_REVERSE},
    [TC_CURSOR] = {{0, 0, 0}, {255, 215, 95}, COLOR_BLACK, COLOR_YELLOW, A_NORMAL, A_REVERSE},
    [TC_CHOSEN] = {{255, 190, 60}, NO_RGB, COLOR_YELLOW, -1, A_BOLD, A_BOLD},
    [TC_BAR] = {{90, 140, 200}, NO_RGB, COLOR_BLUE, -1, A_NORMAL, A_NORMAL},
    [TC_BAR_CHOSEN] = {{255, 190, 60}, NO_RGB, COLOR_YELLOW, -1, A_BOLD, A_BOLD},
    [TC_ERROR] = {{255, 95, 95}, NO_RGB, COLOR_RED, -1, A_BOLD, A_BOLD},
    [TC_INFO] = {{135, 215, 135}, NO_RGB, COLOR_GREEN, -1, A_NORMAL, A_NORMAL},
    [TC_SELECTED] = {{0, 0, 0}, {150, 190, 230}, COLOR_BLACK, COLOR_CYAN, A_NORMAL, A_REVERSE},
    [TC_MARK] = {{255, 215, 95}, NO_RGB, COLOR_YELLOW, -1, A_UNDERLINE, A_UNDERLINE | A_BOLD},
};

/* The heatmap ramp: dark blue (no attention) through purple and orange to pale yellow
 * (all of it). Anchors are interpolated to TUI_HEAT_LEVELS steps. */
static const rgb HEAT_ANCHORS[] = {
    {22, 26, 50},   {46, 32, 100},  {96, 34, 128},  {150, 42, 120}, {200, 62, 90},
    {236, 106, 56}, {250, 166, 42}, {252, 224, 100}, {255, 250, 205},
};
/* The tint of chat text: red (unlikely / uncertain) through yellow to green. */
static const rgb TINT_ANCHORS[] = {{235, 80, 80}, {240, 160, 70}, {220, 210, 90}, {120, 205, 120}};

/* The negative half of the diverging ramp (signed values: a DeltaNet layer's effective
 * weights): from the heat ramp's dark end through teal to pale cyan, so that negative
 * cells are cool where positive ones are warm. */
static const rgb COOL_ANCHORS[] = {{22, 26, 50}, {24, 62, 100}, {28, 110, 140}, {60, 170, 190}, {190, 245, 250}};

enum { PAIR_ROLE_BASE = 1, PAIR_HEAT_BASE = 32, PAIR_TINT_BASE = PAIR_HEAT_BASE + TUI_HEAT_LEVELS,
       PAIR_COOL_BASE = PAIR_TINT_BASE + TUI_TINT_LEVELS };

static rgb ramp(const rgb *anchors, int n, int i, int levels) {
    float t = levels > 1 ? (float)i / (float)(levels - 1) * (float)(n - 1) : 0;
    int a = (int)t;
    if (a >= n - 1) return anchors[n - 1];
    float f = t - (float)a;
    rgb c = {(unsigned char)(anchors[a].r + f * (anchors[a + 1].r - anchors[a].r) + 0.5f),
             (unsigned char)(anchors[a].g + f * (anchors[a + 1].g - anchors[a].g) + 0.5f),
             (unsigned char)(anchors[a].b + f * (anchors[a + 1].b - anchors[a].b) + 0.5f)};
    return c;
}

static int dist2(int r, int g, int b, int r2, int g2, int b2) {
    return (r - r2) * (r - r2) + (g - g2) * (g - g2) + (b - b2) * (b - b2);
}

/* Nearest entry of the xterm 256-colour palette: the 6x6x6 cube (16..231) or the
 * 24-step grey ramp (232..255), whichever is closer. */
static const int XTERM_STEPS[6] = {0, 95, 135, 175, 215, 255};

static int nearest_xterm256(rgb c) {
    const int *steps = XTERM_STEPS;
    int idx[3], v[3] = {c.r, c.g, c.b};
    for (int k = 0; k < 3; k++) {
        int best = 0;
        for (int s = 1; s < 6; s++)
            if (abs(steps[s] - v[k]) < abs(steps[best] - v[k])) best = s;
        idx[k] = best;
    }
    int cube = 16 + 36 * idx[0] + 6 * idx[1] + idx[2];
    int dc = dist2(c.r, c.g, c.b, steps[idx[0]], steps[idx[1]], steps[idx[2]]);
    int grey = (c.r + c.g + c.b) / 3;
    int gi = grey < 8 ? 0 : grey > 238 ? 23 : (grey - 8 + 5) / 10;
    int gv = 8 + 10 * gi;
    int dg = dist2(c.r, c.g, c.b, gv, gv, gv);
    return dg < dc ? 232 + gi : cube;
}

/* The RGB of xterm palette entry I (16..255: the 6x6x6 cube, then 24 greys). */
static int xterm256_as_rgb(int i) {
    if (i >= 232) {
        int g = 8 + 10 * (i - 232);
        return (g << 16) | (g << 8) | g;
    }
    i -= 16;
    return (XTERM_STEPS[i / 36] << 16) | (XTERM_STEPS[i / 6 % 6] << 8) | XTERM_STEPS[i % 6];
}

static int terminal_color(const tui_palette *p, rgb c, short ansi, bool defaults) {
    if (is_default(c) || (p->colors == 8 && ansi < 0)) {
        if (defaults) return -1;
        return p->colors == 8 ? COLOR_WHITE : (is_default(c) ? COLOR_WHITE : nearest_xterm256(c));
    }
    if (p->colors == 8) return ansi;
    if (p->colors > 256) return (c.r << 16) | (c.g << 8) | c.b;
    /* 256 colours asked for on a direct-colour terminal: the palette's colour, as RGB */
    return p->direct ? xterm256_as_rgb(nearest_xterm256(c)) : nearest_xterm256(c);
}

void tui_palette_init(tui_palette *p, tui_color_mode mode, char *name, size_t cap) {
    memset(p, 0, sizeof *p);
    const char *codeset = nl_langinfo(CODESET);
    p->utf8 = codeset && strcmp(codeset, "UTF-8") == 0;

    int want = 0;
    switch (mode) {
    case TUI_COLOR_NONE: want = 0; break;
    case TUI_COLOR_8: want = 8; break;
    case TUI_COLOR_256: want = 256; break;
    case TUI_COLOR_TRUE: want = 1 << 24; break;
    case TUI_COLOR_AUTO: {
        /* https://no-color.org: present and not empty means no colour. */
        const char *nc = getenv("NO_COLOR");
        const char *ct = getenv("COLORTERM");
        if (nc && *nc) want = 0;
        else if (ct && (strcmp(ct, "truecolor") == 0 || strcmp(ct, "24bit") == 0)) want = 1 << 24;
        else want = 256;
        break;
    }
    }
    /* COLORS is known only once start_color() has run */
    if (want && (!has_colors() || start_color() != OK)) want = 0;
    int have = want ? COLORS : 0;
    /* The best the terminal can show up to what was asked for: true colour needs a
     * direct-colour terminfo entry, otherwise the nearest of 256 (or 8). */
    if (want > 256 && have >= (1 << 24)) p->colors = 1 << 24;
    else if (want >= 256 && have >= 256) p->colors = 256;
    else if (want >= 8 && have >= 8) p->colors = 8;
    else p->colors = 0;
    if (mode == TUI_COLOR_TRUE) p->can_rgb = p->colors > 256;
    p->direct = have >= (1 << 24);

    if (!p->colors) {
        snprintf(name, cap, "no colour");
        return;
    }
    bool defaults = use_default_colors() == OK;
    for (int r = 1; r < TC__COUNT; r++) {
        const role_colors *rc = &ROLE_COLORS[r];
        init_extended_pair(PAIR_ROLE_BASE + r - 1, terminal_color(p, rc->fg, rc->fg8, defaults),
                           terminal_color(p, rc->bg, rc->bg8, defaults));
    }
    int n_heat = (int)(sizeof HEAT_ANCHORS / sizeof HEAT_ANCHORS[0]);
    int n_tint = (int)(sizeof TINT_ANCHORS / sizeof TINT_ANCHORS[0]);
    if (p->colors >= 256) {
        for (int i = 0; i < TUI_HEAT_LEVELS; i++) {
            rgb bg = ramp(HEAT_ANCHORS, n_heat, i, TUI_HEAT_LEVELS);
            int fg = i < TUI_HEAT_LEVELS / 2 ? COLOR_WHITE : COLOR_BLACK;
            init_extended_pair(PAIR_HEAT_BASE + i, fg, terminal_color(p, bg, -1, defaults));
        }
        for (int i = 0; i < TUI_TINT_LEVELS; i++) {
            rgb fg = ramp(TINT_ANCHORS, n_tint, i, TUI_TINT_LEVELS);
            init_extended_pair(PAIR_TINT_BASE + i, terminal_color(p, fg, -1, defaults),
                               defaults ? -1 : COLOR_BLACK);
        }
        int n_cool = (int)(sizeof COOL_ANCHORS / sizeof COOL_ANCHORS[0]);
        for (int i = 0; i < TUI_HEAT_LEVELS; i++) {
            rgb bg = ramp(COOL_ANCHORS, n_cool, i, TUI_HEAT_LEVELS);
            int fg = i < TUI_HEAT_LEVELS / 2 ? COLOR_WHITE : COLOR_BLACK;
            init_extended_pair(PAIR_COOL_BASE + i, fg, terminal_color(p, bg, -1, defaults));
        }
    } else {
        /* 8 colours: the heat ramp is shade characters in blue, cyan, yellow, white. */
        static const short heat8[4] = {COLOR_BLUE, COLOR_CYAN, COLOR_YELLOW, COLOR_WHITE};
        for (int i = 0; i < 4; i++) init_extended_pair(PAIR_HEAT_BASE + i, heat8[i], defaults ? -1 : COLOR_BLACK);
        static const short tint8[3] = {COLOR_RED, COLOR_YELLOW, COLOR_GREEN};
        for (int i = 0; i < 3; i++) init_extended_pair(PAIR_TINT_BASE + i, tint8[i], defaults ? -1 : COLOR_BLACK);
        static const short cool8[2] = {COLOR_GREEN, COLOR_MAGENTA};
        for (int i = 0; i < 2; i++) init_extended_pair(PAIR_COOL_BASE + i, cool8[i], defaults ? -1 : COLOR_BLACK);
    }
    snprintf(name, cap, "%s", p->colors > 256 ? "true colour" : p->colors == 256 ? "256 colours" : "8 colours");
}

tui_style tui_role_style(const tui_palette *p, tui_role r) {
    if (r <= TC_NORMAL || r >= TC__COUNT) return (tui_style){A_NORMAL, 0};
    const role_colors *rc = &ROLE_COLORS[r];
    if (!p->colors) return (tui_style){rc->attr_mono, 0};
    return (tui_style){rc->attr, (short)(PAIR_ROLE_BASE + r - 1)};
}

static float clamp01(float v) { return v < 0 ? 0 : v > 1 ? 1 : v; }

void tui_heat_cell(const tui_palette *p, float v, wchar_t *ch, tui_style *st) {
    v = clamp01(v);
    if (p->colors >= 256) {
        *ch = L' ';
        int level = (int)(v * (TUI_HEAT_LEVELS - 1) + 0.5f);
        *st = (tui_style){A_NORMAL, (short)(PAIR_HEAT_BASE + level)};
        return;
    }
    if (!p->utf8) {
        static const char ascii[] = " .:-=+*#%@";
        int level = (int)(v * 9 + 0.5f);
        *ch = (wchar_t)ascii[level];
        *st = (tui_style){level >= 8 ? A_BOLD : A_NORMAL, 0};
        if (p->colors == 8) st->pair = (short)(PAIR_HEAT_BASE + level * 3 / 9);
        return;
    }
    static const wchar_t shades[5] = {L' ', L'░', L'▒', L'▓', L'█'};
    if (p->colors == 8) {
        /* 8 steps: shade density within each of 4 colours */
        static const wchar_t sh8[8] = {L' ', L'░', L'▒', L'▒', L'▓', L'▓', L'█', L'█'};
        int level = (int)(v * 7 + 0.5f);
        *ch = sh8[level];
        *st = (tui_style){level >= 6 ? A_BOLD : A_NORMAL, (short)(PAIR_HEAT_BASE + level / 2)};
        return;
    }
    int level = (int)(v * 4 + 0.5f);
    *ch = shades[level];
    *st = (tui_style){A_NORMAL, 0};
}

void tui_diverging_cell(const tui_palette *p, float v, wchar_t *ch, tui_style *st) {
    if (!(v < 0)) { /* zero and positive: the heat ramp */
        tui_heat_cell(p, v, ch, st);
        return;
    }
    float m = clamp01(-v);
    if (p->colors >= 256) {
        *ch = L' ';
        *st = (tui_style){A_NORMAL, (short)(PAIR_COOL_BASE + (int)(m * (TUI_HEAT_LEVELS - 1) + 0.5f))};
        return;
    }
    /* without a colour per level the sign is in the glyph: dots and rings for negative */
    static const char ascii[] = " ,;!&";
    static const wchar_t rings[5] = {L' ', 0x2218, 0x25CB, 0x25CE, 0x25CF}; /* ∘ ○ ◎ ● (· marks no value) */
    int level = (int)(m * 4 + 0.5f);
    *ch = p->utf8 ? rings[level] : (wchar_t)ascii[level];
    *st = (tui_style){level >= 3 ? A_BOLD : A_NORMAL, p->colors == 8 ? (short)(PAIR_COOL_BASE + (level >= 3)) : 0};
}

tui_style tui_tint_style(const tui_palette *p, float v) {
    v = clamp01(v);
    if (p->colors >= 256) return (tui_style){A_NORMAL, (short)(PAIR_TINT_BASE + (int)(v * (TUI_TINT_LEVELS - 1) + 0.5f))};
    if (p->colors == 8) return (tui_style){A_NORMAL, (short)(PAIR_TINT_BASE + (v < 0.25f ? 0 : v < 0.6f ? 1 : 2))};
    /* no colour: the less certain, the louder */
    if (v < 0.25f) return (tui_style){A_UNDERLINE | A_BOLD, 0};
    if (v < 0.6f) return (tui_style){A_UNDERLINE, 0};
    return (tui_style){A_NORMAL, 0};
}
