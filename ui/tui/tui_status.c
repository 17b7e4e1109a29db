/* tui_status.c — the status bar and the help screen. */
#include "tui_app.h"

#include <stdio.h>
#include <string.h>

static void status_draw(const tui_app *a, const tui_pane *p) {
    tui_rect R = p->r;
    tui_style st = tui_role_style(&a->pal, TC_STATUS);
    tui_fill(R.y, R.x, R.w, L' ', st);
    const sampler_params *sp = session_sampling(a->s);
    const engine *e = a->opt->engine;
    const tui_gen *g = &a->gen;
    char speed[32] = "";
    if (g->generating || g->tok_per_s > 0) snprintf(speed, sizeof speed, "%.1f tok/s", g->tok_per_s);
    char device[160] = "";
    if (e) snprintf(device, sizeof device, "%s%s%s", e->backend, e->device_name[0] ? ": " : "", e->device_name);
    const char *tmpl = session_is_chat(a->s) ? session_template_name(a->s) : "completion";
    /* most useful first: a narrow terminal cuts from the right */
    char line[1024], small[64] = "", mode[128], extra[160] = "";
    if (!a->lay.full) snprintf(small, sizeof small, " %dx%d: panes need %dx%d |", a->cols, a->rows, TUI_MIN_COLS, TUI_MIN_ROWS);
    if (g->paused) snprintf(mode, sizeof mode, "PAUSED (%s; g goes on)", g->pause_why);
    else if (a->probe.running) snprintf(mode, sizeof mode, "PROBING %d/%d", a->probe.done, a->probe.n);
    else snprintf(mode, sizeof mode, "%s", a->mode == MODE_INSPECT ? "INSPECT" : g->generating ? "GENERATING" : "TYPE");
    /* what the inspection tools are set to: branch, breakpoints, head filter */
    size_t o = 0;
    if (a->branches.n > 0)
        o += (size_t)snprintf(extra + o, sizeof extra - o, " | branch %d of %d", a->branches.active, a->branches.n);
    if ((g->breaks.on_entropy || g->breaks.on_grounding || g->breaks.on_suspicion) && o < sizeof extra) {
        o += (size_t)snprintf(extra + o, sizeof extra - o, " | break");
        if (g->breaks.on_entropy && o < sizeof extra)
            o += (size_t)snprintf(extra + o, sizeof extra - o, " H>%.2g", (double)g->breaks.entropy_above);
        if (g->breaks.on_grounding && o < sizeof extra)
            o += (size_t)snprintf(extra + o, sizeof extra - o, " G<%.0f%%", 100.0 * g->breaks.grounding_below);
        if (g->breaks.on_suspicion && o < sizeof extra)
            o += (size_t)snprintf(extra + o, sizeof extra - o, " S>=%.2g", (double)g->breaks.suspicion_above);
    }
    if (a->heads.filter >= 0 && o < sizeof extra)
        snprintf(extra + o, sizeof extra - o, " | heads: %s", tui_role_words((head_role)a->heads.filter));
    /* the sampler in words where the line has room for them, else in letters */
    char words[256], letters[96], where[48] = "";
    snprintf(words, sizeof words, "temperature %.2g, top-k %d, top-p %.2g, min-p %.2g, penalty %.2g, seed %llu",
             (double)sp->temperature, sp->top_k, (double)sp->top_p, (double)sp->min_p, (double)sp->repeat_penalty,
             (unsigned long long)sp->seed);
    snprintf(letters, sizeof letters, "T%.2g k%d p%.2g m%.2g r%.2g s%llu", (double)sp->temperature, sp->top_k,
             (double)sp->top_p, (double)sp->min_p, (double)sp->repeat_penalty, (unsigned long long)sp->seed);
    size_t cur;
    if (tui_on_cursor(a) && tui_current_record(a, &cur)) snprintf(where, sizeof where, ", cursor at %zu", cur);
    for (int form = 0; form < 2; form++) {
        snprintf(line, sizeof line, "%s %s | %s | ctx %zu/%d%s | %s%s%s | %s | %s%s%s", small, mode,
                 a->m->name ? a->m->name : "model", session_n_records(a->s), session_n_ctx(a->s), where, device,
                 device[0] && speed[0] ? " " : "", speed, form == 0 ? words : letters, tmpl ? tmpl : "?",
                 tui_chat_tint_name(a), extra);
        if (tui_text_width(line) <= R.w) break;
    }
    tui_put_text(R.y, R.x, R.w, line, st);
}

const tui_pane_class tui_pane_status = {
    .name = "status",
    .area = TUI_BOTTOM,
    .always = true,
    .draw = status_draw,
};

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
    "  g            go on after a breakpoint (or Enter)",
    "  n / N        the reply's least likely token, then the next / back",
    "  , .          name another key in the attention pane's key line",
    "  x            mixtures of experts: the router pane (which experts answered) / attention",
    "Anywhere: F2/F3 layer  F4/F5 head  F6 scale  F7 sink  F8 before/after  F9 colour",
    "Commands (/help says what each does)",
};

#define HELP_W 80
#define HELP_CMD_ROWS 4

void tui_help_draw(const tui_app *a) {
    int n_fixed = (int)(sizeof HELP / sizeof HELP[0]);
    /* the commands, from the table, wrapped into a few rows */
    char names[1024], rows[HELP_CMD_ROWS][HELP_W];
    tui_command_names(names, sizeof names);
    int n_cmd = 0;
    for (const char *p = names; *p && n_cmd < HELP_CMD_ROWS; n_cmd++) {
        size_t len = strlen(p), cut = len;
        if (len > HELP_W - 6) {
            cut = HELP_W - 6;
            while (cut > 0 && p[cut] != ' ') cut--;
        }
        snprintf(rows[n_cmd], sizeof rows[n_cmd], "  %.*s", (int)cut, p);
        p += cut;
        while (*p == ' ') p++;
    }
    int n = n_fixed + n_cmd + 2, w = HELP_W;
    for (int i = 0; i < n_fixed; i++)
        if ((int)strlen(HELP[i]) + 4 > w) w = (int)strlen(HELP[i]) + 4;
    int h = n + 2;
    if (w > a->cols) w = a->cols;
    if (h > a->rows - 1) h = a->rows - 1;
    int y0 = (a->rows - 1 - h) / 2, x0 = (a->cols - w) / 2;
    tui_style norm = tui_role_style(&a->pal, TC_NORMAL), title = tui_role_style(&a->pal, TC_TITLE),
              frame = tui_role_style(&a->pal, TC_FRAME);
    for (int y = 0; y < h; y++) tui_fill(y0 + y, x0, w, L' ', norm);
    tui_fill(y0, x0, w, tui_glyph(0x2500, L'-'), frame);
    tui_fill(y0 + h - 1, x0, w, tui_glyph(0x2500, L'-'), frame);
    char head[512];
    snprintf(head, sizeof head, " llmscope help  %s ", a->opt->model_path ? a->opt->model_path : "");
    tui_put_text(y0, x0 + 2, w - 4, head, title);
    for (int i = 0; i < n && i < h - 2; i++) {
        const char *line = i < n_fixed ? HELP[i] : i < n_fixed + n_cmd ? rows[i - n_fixed]
                           : i == n - 1 ? "Press any key to close." : "";
        bool heading = i < n_fixed && line[0] != ' ';
        tui_put_text(y0 + 1 + i, x0 + 2, w - 4, line, heading ? title : norm);
    }
}
