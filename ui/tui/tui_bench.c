/* tui_bench.c — timing the screen for `llmscope bench`: the attention heatmap and a whole
 * frame, drawn for a long conversation into a terminal that writes to /dev/null. Speed is
 * measured here rather than asserted in a test (the issue asks for under 16 ms at 2,000
 * tokens of context). */
#include "tui.h"
#include "tui_app.h"

#include <stdio.h>
#include <time.h>

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

int tui_bench_draw(session *s, const struct tokenizer *tok, int rows, int cols, int reps,
                   double *heatmap_ms, double *frame_ms, char *err, size_t errlen) {
    FILE *out = fopen("/dev/null", "w"), *in = fopen("/dev/null", "r");
    SCREEN *screen = out && in ? newterm("xterm-256color", out, in) : NULL;
    if (!screen) {
        snprintf(err, errlen, "cannot open an off-screen terminal (xterm-256color) for the drawing benchmark");
        if (out) fclose(out);
        if (in) fclose(in);
        return -1;
    }
    resize_term(rows, cols);
    tui_options opt;
    tui_options_default(&opt);
    opt.session = s;
    opt.tokenizer = tok;
    opt.color = TUI_COLOR_256;
    tui_app app;
    if (!tui_app_init(&app, &opt)) {
        snprintf(err, errlen, "out of memory for the drawing benchmark");
        endwin();
        delscreen(screen);
        fclose(out);
        fclose(in);
        return -1;
    }
    *heatmap_ms = *frame_ms = -1;
    for (int r = 0; r < reps; r++) {
        double t0 = now_ms();
        tui_draw_now(&app); /* everything, and ncurses writing it out */
        double t1 = now_ms();
        tui_pane *att = tui_pane_of(&app, &tui_pane_attention); /* the heatmap and the zoomed head again, alone */
        att->cls->update(&app, att);
        att->cls->draw(&app, att);
        double t2 = now_ms();
        if (*frame_ms < 0 || t1 - t0 < *frame_ms) *frame_ms = t1 - t0;
        if (*heatmap_ms < 0 || t2 - t1 < *heatmap_ms) *heatmap_ms = t2 - t1;
    }
    tui_app_free(&app);
    endwin();
    delscreen(screen);
    fclose(out);
    fclose(in);
    return 0;
}
