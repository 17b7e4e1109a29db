/* tui_think.c — reasoning models in the terminal app.
 *
 * /think on|off|default sets enable_thinking, the variable reasoning templates read
 * (Qwen3: an empty think block when off; Gemma 4: a <|think|> system line when on); it
 * applies from the next message, which renders the whole conversation again.
 *
 * A reply's thinking block (model/thinking.h finds it) is folded in the conversation to
 * one line that says how many tokens it holds; 'z' while inspecting shows every block
 * (dimmed) or folds them again (the conversation pane's key, tui_chat.c). Folding changes only what is drawn: the tokens stay in
 * the context, the attention panes and the grounding meter, where they count as the
 * model's own output. */
#include "tui_app.h"

#include "thinking.h"

#include <stdlib.h>
#include <string.h>

uint8_t *tui_think_marks(const tui_app *a, size_t n) {
    if (n == 0 || !session_is_chat(a->s)) return NULL;
    uint8_t *marks = malloc(n);
    if (!marks) return NULL;
    inspect_view v;
    inspect_view_session(&v, a->s);
    think_marks(&v, marks);
    for (size_t i = 0; i < n; i++)
        if (marks[i]) return marks;
    free(marks);
    return NULL;
}

size_t tui_think_block_tokens(const tui_app *a, const uint8_t *marks, size_t n, size_t from) {
    const step_record *first = session_record(a->s, from);
    size_t tokens = 0;
    for (size_t i = from; i < n && marks[i]; i++) {
        const step_record *r = session_record(a->s, i);
        if (!r || !first || r->turn != first->turn) break;
        tokens += r->segment == SEG_ASSISTANT;
    }
    return tokens;
}

void tui_cmd_think(tui_app *a, const char *name, const char *args) {
    (void)name;
    static const char *const NAMES[] = {"the template's default", "on", "off"};
    if (!session_is_chat(a->s)) {
        tui_message(a, true, "/think needs a chat template (this model runs in completion mode)");
        return;
    }
    chat_thinking mode;
    if (!*args) {
        tui_message(a, false, "thinking: %s (/think on, /think off, /think default)", NAMES[session_thinking(a->s)]);
        return;
    }
    if (strcmp(args, "on") == 0) mode = CHAT_THINK_ON;
    else if (strcmp(args, "off") == 0) mode = CHAT_THINK_OFF;
    else if (strcmp(args, "default") == 0) mode = CHAT_THINK_DEFAULT;
    else {
        tui_message(a, true, "/think takes on, off or default (enable_thinking for the chat template)");
        return;
    }
    session_set_thinking(a->s, mode);
    tui_message(a, false, "thinking %s: enable_thinking %s from the next message (/prompt shows the render)",
                NAMES[mode], mode == CHAT_THINK_DEFAULT ? "is not passed" : mode == CHAT_THINK_ON ? "is true" : "is false");
}
