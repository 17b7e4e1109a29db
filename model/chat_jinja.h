/* chat_jinja.h — a model's own chat template run by the Jinja interpreter, with the
 * variables Hugging Face's apply_chat_template passes (private to chat_template.c). */
#ifndef LLMSCOPE_CHAT_JINJA_H
#define LLMSCOPE_CHAT_JINJA_H

#include "chat_template.h"
#include "jinja.h"

#include <time.h>

/* Renders the conversation: N messages MSGS (each message's content tagged with its
 * index, so the spans say which bytes are whose text), or, when MSGS is NULL, the JSON
 * array MESSAGES_JSON as it is (tool calls, content parts: whatever the template reads).
 * Variables: messages, bos_token, eos_token, add_generation_prompt, tools (OPT's JSON, or
 * none), documents (none), enable_thinking (only when OPT sets it), each of OPT's
 * NAME=VALUE pairs; strftime_now() prints OPT's date, or today. Returns the text
 * (malloc'd; *LEN its length when LEN is not NULL) and the spans, or NULL with ERR. */
char *chat_jinja_render(const jinja_template *t, const chat_message *msgs, size_t n, const char *messages_json,
                        const chat_render_options *opt, size_t *len, chat_span **spans, size_t *n_spans,
                        char *err, size_t errlen);

/* "26 Jul 2024" (or "2024-07-26") as a calendar date; false if it is neither. */
bool chat_parse_date(const char *s, struct tm *out);

#endif
