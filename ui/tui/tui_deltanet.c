/* tui_deltanet.c — what the attention pane draws differently for a Gated DeltaNet layer
 * (model/deltanet.h): its rows are the heads' effective weights w_ts, the weight of each
 * earlier token's value in the head's read-out, signed and not summing to 1. They are
 * drawn on a diverging scale (warm positive, cool negative, scaled to the largest |w| on
 * screen) with a legend saying so, and under the heads two strips show, for each key
 * token, the selected head's decay (how much of the state survived that token) and beta
 * (how strongly the token wrote into it). A layer with fewer heads than the widest one
 * (Qwen3.5's attention layers) shows only its own. */
#include "quant.h"
#include "tui_app.h"

#include <stdlib.h>

bool tui_layer_signed(const tui_app *a, int layer) {
    return layer >= 0 && layer < a->m->hp.n_layer && a->m->desc[layer].mixer == MIXER_DELTANET;
}

int tui_layer_heads(const tui_app *a, int layer) {
    return layer >= 0 && layer < a->m->hp.n_layer ? a->m->desc[layer].n_head : a->m->hp.n_head;
}

void tui_deltanet_legend(const tui_app *a, int y, tui_rect R, float max) {
    tui_style dim = tui_role_style(&a->pal, TC_DIM);
    int x = R.x;
    char buf[64];
    snprintf(buf, sizeof buf, "%.2g ", -(double)max);
    x += tui_put_text(y, x, R.w, buf, dim);
    for (int i = 4; i >= -4 && x + 1 < R.x + R.w; i--) {
        wchar_t ch;
        tui_style st;
        tui_diverging_cell(&a->pal, (float)i / -4.0f, &ch, &st);
        tui_put_wch(y, x++, ch, st);
    }
    snprintf(buf, sizeof buf, " %.2g  signed weights w(t,s): sum w v = read-out", (double)max);
    tui_put_text(y, x, R.x + R.w - x, buf, dim);
}

/* Head H of LAYER's beta and decay at the token of record K, from its gates; false if
 * unknown. */
static bool gates_of(const tui_app *a, int layer, size_t k, int h, float *beta, float *decay) {
    const step_record *r = session_record(a->s, k);
    if (!r || !r->gates) return false;
    const uint16_t *g = r->gates + ((size_t)layer * (size_t)a->m->hp.n_head + (size_t)h) * 2;
    *beta = fp16_to_f32(g[0]);
    *decay = fp16_to_f32(g[1]);
    return true;
}

int tui_deltanet_strips(const tui_app *a, int layer, int head, int y, tui_rect R, const int *keys, int n_cols, int cw,
                        int lw) {
    if (!tui_layer_signed(a, layer) || y + 2 > R.y + R.h) return 0;
    tui_style dim = tui_role_style(&a->pal, TC_DIM);
    static const char *const names[2] = {"decay", "beta"};
    for (int row = 0; row < 2; row++) {
        tui_printf(y + row, R.x, lw - 1, dim, "%-*s", lw - 1, names[row]);
        for (int c = 0; c < n_cols; c++) {
            int x = R.x + lw + c * cw;
            float beta, decay;
            if (keys[c] < 0) continue;
            if (!gates_of(a, layer, (size_t)keys[c], head, &beta, &decay)) {
                tui_put_wch(y + row, x + (cw - 1) / 2, MB_CUR_MAX > 1 ? 0x00B7 : L'.', dim);
                continue;
            }
            wchar_t ch;
            tui_style st;
            tui_heat_cell(&a->pal, row == 0 ? decay : beta, &ch, &st);
            tui_fill(y + row, x, cw - 1, ch, st);
        }
    }
    return 2;
}

void tui_deltanet_why_note(tui_app *a) {
    const model_hparams *hp = &a->m->hp;
    if (!hp->n_deltanet) return;
    tui_sheet_line_begin(&a->sheet, -1);
    tui_sheet_text(&a->sheet, TC_DIM,
                   "%d of %d layers are Gated DeltaNet: their signed weights count as attention mass, |w| normalised "
                   "to sum 1 per head (sources, rollout, grounding, head roles)",
                   hp->n_deltanet, hp->n_layer);
}
