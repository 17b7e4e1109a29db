/* tui_layout.c — where each pane goes for a given terminal size.
 *
 *   +-- meter -----------+ +-- attention --------------+
 *   | conversation       | | heads x keys, legend,     |
 *   |                    | | zoomed head               |
 *   |                    | +-- probabilities ----------+
 *   |--------------------| | top-k bars, entropy       |
 *   | > input            | |                           |
 *   +--------------------+-+---------------------------+
 *    status bar
 *
 * Below TUI_MIN_COLS x TUI_MIN_ROWS the right column would be too narrow to read, so
 * only the chat, the input line and the status bar are laid out. */
#include "tui_app.h"

static int clamp_int(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

void tui_layout_compute(tui_layout *l, int rows, int cols, int input_lines) {
    if (rows < 3) rows = 3;
    if (cols < 4) cols = 4;
    input_lines = clamp_int(input_lines, 1, TUI_INPUT_MAX_LINES);
    if (input_lines > rows - 3) input_lines = 1;

    l->full = rows >= TUI_MIN_ROWS && cols >= TUI_MIN_COLS;
    l->status = (tui_rect){rows - 1, 0, 1, cols};

    int left_w = cols;
    if (l->full) {
        /* The chat gets two fifths: enough for a sentence per line; the heatmap needs the
         * width more, since every column is one earlier token. */
        left_w = clamp_int(cols * 2 / 5, 36, 80);
        l->sep_x = left_w;
    } else {
        l->sep_x = -1;
    }
    /* left column: the grounding meter, chat, a rule, the input line(s); the meter
     * gives its row back on tiny screens */
    l->input = (tui_rect){rows - 1 - input_lines, 0, input_lines, left_w};
    int meter_h = rows - 2 - input_lines >= 6 ? 1 : 0;
    l->meter = (tui_rect){0, 0, meter_h, left_w};
    l->chat = (tui_rect){meter_h, 0, rows - 2 - input_lines - meter_h, left_w};

    if (l->full) {
        int right_x = left_w + 1, right_w = cols - right_x;
        int avail = rows - 1;
        int attn_h = avail * 3 / 5;
        l->attn = (tui_rect){0, right_x, attn_h, right_w};
        l->sep_y = attn_h;
        l->probs = (tui_rect){attn_h + 1, right_x, avail - attn_h - 1, right_w};
    } else {
        l->attn = l->probs = (tui_rect){0, 0, 0, 0};
        l->sep_y = -1;
    }
}
