/* tui_draw.c — putting text on the screen at the width it really takes.
 *
 * Token texts are UTF-8 bytes that may hold control characters, invalid sequences or
 * wide characters (Korean, emoji take two cells). Everything the TUI prints goes through
 * here, so every pane clips the same way: a wide character that would straddle a pane's
 * edge is left out rather than spilling into the next pane. */
#include "tui_app.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

int tui_utf8_decode(const char *s, size_t len, wchar_t *wc) {
    utf8proc_int32_t cp;
    utf8proc_ssize_t n = utf8proc_iterate((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)len, &cp);
    if (n <= 0 || cp < 0) {
        *wc = 0xFFFD;
        return 1;
    }
    *wc = (wchar_t)cp;
    return (int)n;
}

/* Multi-byte locale? In the C locale only ASCII can be shown. */
static bool wide_locale(void) { return MB_CUR_MAX > 1; }

/* What to draw for WC: control characters become visible symbols; with TOKEN, so does
 * whitespace (a token's leading space is part of what the model chose). */
static wchar_t visible(wchar_t wc, bool token) {
    bool wide = wide_locale();
    if (token) {
        if (wc == L' ') return wide ? 0x00B7 : L'_';  /* middle dot */
        if (wc == L'\n') return wide ? 0x21B5 : L'/'; /* downwards arrow with corner */
        if (wc == L'\t') return wide ? 0x2192 : L'>'; /* rightwards arrow */
    } else if (wc == L'\t') {
        return L' ';
    } else if (wc == L'\n') {
        return wide ? 0x21B5 : L'/';
    }
    if (wc < 0x20) return wide ? (wchar_t)(0x2400 + wc) : L'?'; /* control pictures */
    if (wc == 0x7F || (wc >= 0x80 && wc < 0xA0)) return wide ? 0x2421 : L'?';
    if (!wide && wc > 0x7E) return L'?';
    return wc;
}

int tui_wcwidth(wchar_t wc) {
    int w = wcwidth(wc);
    return w < 0 ? 1 : w;
}

void tui_put_wch(int y, int x, wchar_t wc, tui_style st) {
    wchar_t s[2] = {wc, 0};
    cchar_t cc;
    setcchar(&cc, s, st.attr, st.pair, NULL);
    mvadd_wch(y, x, &cc);
}

static int put_utf8(int y, int x, int maxw, const char *s, tui_style st, bool token) {
    if (!s || maxw <= 0) return 0;
    size_t len = strlen(s);
    int used = 0;
    for (size_t i = 0; i < len;) {
        wchar_t wc;
        int n = tui_utf8_decode(s + i, len - i, &wc);
        if (token && wc == 0xFFFD && n == 1) {
            /* one byte of a character split across tokens: show which byte */
            char hex[8];
            snprintf(hex, sizeof hex, "\\x%02X", (unsigned char)s[i]);
            if (used + 4 > maxw) break;
            for (int k = 0; k < 4; k++)
                if (y >= 0) tui_put_wch(y, x + used + k, (wchar_t)hex[k], st);
            used += 4;
            i++;
            continue;
        }
        i += (size_t)n;
        wc = visible(wc, token);
        int w = wcwidth(wc);
        if (w < 0) {
            wc = wide_locale() ? 0xFFFD : L'?';
            w = 1;
        }
        if (w == 0) continue; /* combining marks: shown only as part of their base */
        if (used + w > maxw) break;
        if (y >= 0) tui_put_wch(y, x + used, wc, st);
        used += w;
    }
    return used;
}

int tui_put_text(int y, int x, int maxw, const char *s, tui_style st) {
    return put_utf8(y, x, maxw, s, st, false);
}

int tui_put_token(int y, int x, int maxw, const char *s, tui_style st) {
    return put_utf8(y, x, maxw, s, st, true);
}

size_t tui_text_fit(const char *s, int maxw) {
    size_t len = strlen(s), i = 0;
    int used = 0;
    while (i < len) {
        wchar_t wc;
        int n = tui_utf8_decode(s + i, len - i, &wc);
        int w = tui_wcwidth(visible(wc, false));
        if (used + w > maxw) break;
        used += w;
        i += (size_t)n;
    }
    return i;
}

wchar_t tui_glyph(wchar_t unicode, wchar_t ascii) { return wide_locale() ? unicode : ascii; }

int tui_token_width(const char *s) { return put_utf8(-1, 0, 1 << 20, s, (tui_style){0, 0}, true); }

int tui_text_width(const char *s) { return put_utf8(-1, 0, 1 << 20, s, (tui_style){0, 0}, false); }

void tui_fill(int y, int x, int w, wchar_t wc, tui_style st) {
    for (int i = 0; i < w; i++) tui_put_wch(y, x + i, wc, st);
}

void tui_printf(int y, int x, int maxw, tui_style st, const char *fmt, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    tui_put_text(y, x, maxw, buf, st);
}

void tui_visible_token(const char *text, char *out, size_t cap) {
    size_t o = 0;
    for (const char *p = text; *p && o + 4 < cap; p++) {
        if (*p == ' ') memcpy(out + o, "\xc2\xb7", 2), o += 2;
        else if (*p == '\n') memcpy(out + o, "\xe2\x86\xb5", 3), o += 3;
        else out[o++] = *p;
    }
    out[o] = 0;
}

size_t tui_wrap_cut(const char *s, int width) {
    size_t len = strlen(s), fit = tui_text_fit(s, width > 0 ? width : 1), cut = fit;
    if (fit >= len) return len;
    while (cut > 0 && s[cut - 1] != ' ') cut--;
    return cut ? cut : fit ? fit : 1;
}
