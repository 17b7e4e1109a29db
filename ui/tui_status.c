/* tui_status.c — the frame between panes, the status bar, messages and the help screen. */
#include "tui_app.h"

#include <stdio.h>
#include <string.h>

static wchar_t glyph(wchar_t unicode, wchar_t ascii) { return MB_CUR_MAX > 1 ? unicode : ascii; }

void tui_frame_draw(tui_app *a) {
    const tui_layout *l = &a->lay;
    tui_style frame = tui_role_style(&a->pal, TC_FRAME);
    int rule_y = l->input.y - 1;
    if (l->full) {
        for (int y = 0; y < l->status.y; y++) tui_put_wch(y, l->sep_x, glyph(0x2502, L'|'), frame);
        tui_fill(l->sep_y, l->sep_x + 1, l->probs.w, glyph(0x2500, L'-'), frame);
        tui_put_wch(l->sep_y, l->sep_x, glyph(0x251C, L'+'), frame);
    }
    if (rule_y >= 0) {
        tui_fill(rule_y, 0, l->chat.w, glyph(0x2500, L'-'), frame);
        if (l->full) tui_put_wch(rule_y, l->sep_x, glyph(0x2524, L'+'), frame);
    }
    /* the rule above the input carries messages, or the hint of the small layout */
    if (rule_y < 0) return;
    if (a->msg[0]) {
        tui_style st = tui_role_style(&a->pal, a->msg_error ? TC_ERROR : TC_INFO);
        tui_put_text(rule_y, 1, l->chat.w - 2, a->msg, st);
    } else if (!l->full) {
        char hint[96];
        snprintf(hint, sizeof hint, " enlarge to %dx%d for attention and probabilities ", TUI_MIN_COLS, TUI_MIN_ROWS);
        tui_put_text(rule_y, 1, l->chat.w - 2, hint, tui_role_style(&a->pal, TC_DIM));
    }
}

void tui_status_draw(tui_app *a) {
    tui_rect R = a->lay.status;
    tui_style st = tui_role_style(&a->pal, TC_STATUS);
    tui_fill(R.y, R.x, R.w, L' ', st);
    const sampler_params *sp = session_sampling(a->s);
    const engine *e = a->opt->engine;
    char speed[32] = "";
    if (a->generating || a->tok_per_s > 0) snprintf(speed, sizeof speed, "%.1f tok/s", a->tok_per_s);
    char device[160] = "";
    if (e) snprintf(device, sizeof device, "%s%s%s", e->backend, e->device_name[0] ? ": " : "", e->device_name);
    const char *tmpl = session_is_chat(a->s) ? session_template_name(a->s) : "completion";
    /* most useful first: a narrow terminal cuts from the right */
    char line[1024], small[64] = "", mode[128], extra[160] = "";
    if (!a->lay.full) snprintf(small, sizeof small, " %dx%d: panes need %dx%d |", a->cols, a->rows, TUI_MIN_COLS, TUI_MIN_ROWS);
    if (a->paused) snprintf(mode, sizeof mode, "PAUSED (%s; g goes on)", a->pause_why);
    else if (a->probe.running) snprintf(mode, sizeof mode, "PROBING %d/%d", a->probe.done, a->probe.n);
    else snprintf(mode, sizeof mode, "%s", a->mode == MODE_INSPECT ? "INSPECT" : a->generating ? "GENERATING" : "TYPE");
    /* what the inspection tools are set to: branch, breakpoints, head filter */
    size_t o = 0;
    if (a->branches.n > 0)
        o += (size_t)snprintf(extra + o, sizeof extra - o, " | branch %d of %d", a->branches.active, a->branches.n);
    if ((a->breaks.on_entropy || a->breaks.on_grounding) && o < sizeof extra) {
        o += (size_t)snprintf(extra + o, sizeof extra - o, " | break");
        if (a->breaks.on_entropy && o < sizeof extra)
            o += (size_t)snprintf(extra + o, sizeof extra - o, " H>%.2g", (double)a->breaks.entropy_above);
        if (a->breaks.on_grounding && o < sizeof extra)
            o += (size_t)snprintf(extra + o, sizeof extra - o, " G<%.0f%%", 100.0 * a->breaks.grounding_below);
    }
    if (a->role_filter >= 0 && o < sizeof extra)
        snprintf(extra + o, sizeof extra - o, " | heads: %s", tui_role_label((head_role)a->role_filter));
    snprintf(line, sizeof line, "%s %s | %s | ctx %zu/%d | %s%s%s | T%.2g k%d p%.2g m%.2g r%.2g s%llu | %s%s%s",
             small, mode, a->m->name ? a->m->name : "model", session_n_records(a->s), session_n_ctx(a->s), device,
             device[0] && speed[0] ? " " : "", speed, (double)sp->temperature, sp->top_k, (double)sp->top_p,
             (double)sp->min_p, (double)sp->repeat_penalty, (unsigned long long)sp->seed, tmpl ? tmpl : "?",
             a->tint == TINT_PROB ? " | colour: probability" : a->tint == TINT_ENTROPY ? " | colour: entropy" : "", extra);
    tui_put_text(R.y, R.x, R.w, line, st);
}

static const char *const HELP[] = {
    "Typing",
    "  Enter        send             Ctrl-J        new line (pastes keep theirs)",
    "  Up/Down      history          PgUp/PgDn     scroll the conversation",
    "  Ctrl-C       stop the reply   Ctrl-D        quit (on an empty line)",
    "  Tab          inspect tokens   F1            this help",
    "Inspecting (Tab; Esc or Tab to type again)",
    "  arrows       move over tokens Home/End      first / last token",
    "  [ ]          layer            - =           head",
    "  l            linear/log scale s             hide/show the sink (first) token",
    "  a            before/after sampler           c  colour text: off/probability/entropy",
    "  t            show chat-template text        mouse: click a token or a head row",
    "  z            show / fold thinking blocks    (a reply's <think> ... </think>)",
    "Why this token? (inspecting)",
    "  w            why card of the token          r  show heads of one role (cycle)",
    "  b            branch: pick another candidate in the bars (Enter), or r to resample",
    "  B            list branches, Enter switches  p  probe: 8 continuations from here",
    "  g            go on after a breakpoint (or Enter on an empty line)",
    "  x            mixtures of experts: the router pane (which experts answered) / attention",
    "Anywhere: F2/F3 layer  F4/F5 head  F6 scale  F7 sink  F8 before/after  F9 colour",
    "Commands",
    "  /temp T  /top-k K  /top-p P  /min-p P  /repeat-penalty R [LAST_N]  /seed S",
    "  /system TEXT  /clear  /save FILE  /load FILE  /help  /quit",
    "  /why  /break entropy H | grounding G | off  /continue  /heads ROLE|all",
    "  /branch N|resample  /branches  /switch N  /probe [N] [LEN]  /compare OTHER.gguf",
    "  /prompt (what the model reads)  /think on|off|default (enable_thinking)",
    "",
    "Press any key to close.",
};

void tui_help_draw(tui_app *a) {
    int n = (int)(sizeof HELP / sizeof HELP[0]);
    int w = 0;
    for (int i = 0; i < n; i++) {
        int len = (int)strlen(HELP[i]);
        if (len > w) w = len;
    }
    w += 4;
    int h = n + 2;
    if (w > a->cols) w = a->cols;
    if (h > a->rows - 1) h = a->rows - 1;
    int y0 = (a->rows - 1 - h) / 2, x0 = (a->cols - w) / 2;
    tui_style norm = tui_role_style(&a->pal, TC_NORMAL), title = tui_role_style(&a->pal, TC_TITLE),
              frame = tui_role_style(&a->pal, TC_FRAME);
    for (int y = 0; y < h; y++) tui_fill(y0 + y, x0, w, L' ', norm);
    tui_fill(y0, x0, w, glyph(0x2500, L'-'), frame);
    tui_fill(y0 + h - 1, x0, w, glyph(0x2500, L'-'), frame);
    char head[512];
    snprintf(head, sizeof head, " llmscope help  %s ", a->opt->model_path ? a->opt->model_path : "");
    tui_put_text(y0, x0 + 2, w - 4, head, title);
    for (int i = 0; i < n && i < h - 2; i++) {
        bool heading = HELP[i][0] != ' ' && HELP[i][0] != 0 && strncmp(HELP[i], "Press", 5) != 0;
        tui_put_text(y0 + 1 + i, x0 + 2, w - 4, HELP[i], heading ? title : norm);
    }
}
