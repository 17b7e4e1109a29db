/* chat_template.h — rendering a conversation the way the model was trained to see it.
 *
 * GGUF files carry a Jinja template (tokenizer.chat_template). Rather than interpret
 * Jinja, llmscope recognises the common template families from the template text and
 * renders each with C code that reproduces Hugging Face's output byte for byte. */
#ifndef LLMSCOPE_CHAT_TEMPLATE_H
#define LLMSCOPE_CHAT_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>

typedef struct chat_message {
    const char *role;    /* "system", "user", "assistant" */
    const char *content;
} chat_message;

typedef struct chat_template chat_template;

/* Options that templates read besides the messages. */
typedef struct chat_render_options {
    bool add_generation_prompt;
    const char *bos_token;   /* "" if none */
    const char *eos_token;
    const char *date_string; /* for templates that print today's date (e.g. "26 Jul 2024");
                                NULL: today's date */
} chat_render_options;

/* Picks the renderer for the Jinja text JINJA (may be NULL: no template). NAME, if not
 * NULL, overrides detection with a family name ("chatml", "llama3", "llama2", "mistral",
 * "gemma", "phi3", "deepseek", "zephyr", ...). Returns NULL with ERR filled only for an
 * unknown NAME; an unrecognised JINJA falls back to ChatML and sets *WARNING to a
 * message to show the user (else *WARNING = NULL). */
chat_template *chat_template_create(const char *jinja, const char *name, const char **warning,
                                    char *err, size_t errlen);
void chat_template_free(chat_template *t);
const char *chat_template_name(const chat_template *t);
/* Renders N messages. Returns a malloc'd NUL-terminated string, or NULL with ERR filled
 * when the template refuses the conversation (e.g. Gemma and a system message). */
char *chat_template_render(const chat_template *t, const chat_message *msgs, size_t n,
                           const chat_render_options *opt, char *err, size_t errlen);
/* A byte range of a rendered prompt that holds the content of message MESSAGE (possibly
 * trimmed or JSON-quoted) rather than template text (control tokens, role names). Tokenize these
 * with special-token parsing off, so a typed "<|im_end|>" cannot forge a turn, and use
 * MESSAGE to tell which turn (and role) each token belongs to. */
typedef struct chat_span {
    size_t start, len;
    size_t message;
} chat_span;

/* chat_template_render(), plus the spans of message text in order (malloc'd, caller
 * frees; *SPANS = NULL when there are none). */
char *chat_template_render_spans(const chat_template *t, const chat_message *msgs, size_t n,
                                 const chat_render_options *opt, chat_span **spans,
                                 size_t *n_spans, char *err, size_t errlen);
/* Names of every family, NULL-terminated (for --help and errors). */
const char *const *chat_template_families(void);

#endif
