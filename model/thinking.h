/* thinking.h — where a reasoning model's thinking is, in a conversation's records.
 *
 * Reasoning models write their thinking between markers before the answer: <think> ...
 * </think> (Qwen3, Qwen3.5, DeepSeek-R1, SmolLM3), <|channel>thought ... <channel|>
 * (Gemma 4), <|channel|>analysis<|message|> ... <|end|> (gpt-oss). The opening marker
 * may be the model's own token or the end of the template's generation prompt (Qwen3.5
 * opens the block for it), so both template text and reply text are read; a marker may
 * be split over several tokens.
 *
 * The thinking tokens a model writes are reply tokens like any other (SEG_ASSISTANT):
 * grounding (inspect.h) counts attention on them as the model's own output, not as
 * context the user supplied. This file only finds them, for display (folding). */
#ifndef LLMSCOPE_THINKING_H
#define LLMSCOPE_THINKING_H

#include "inspect.h"

#include <stddef.h>
#include <stdint.h>

typedef enum {
    THINK_NONE = 0,
    THINK_TEXT,   /* reasoning text inside a block */
    THINK_MARKER  /* a record that (partly) spells a block's opening or closing marker */
} think_mark;

/* Marks each record of V (OUT: inspect_n_records(V) entries) with a think_mark. Only
 * template text and replies are read: a user who types "<think>" opens nothing. A block
 * ends at its closing marker or where the turn ends; one left open runs to the last
 * record (a reply still thinking). */
void think_marks(const inspect_view *v, uint8_t *out);

#endif
