/* chat_template.h — rendering a conversation the way the model was trained to see it.
 *
 * GGUF files carry a Jinja template (tokenizer.chat_template). llmscope runs that template
 * itself (jinja.h, the subset chat templates use), so what the model reads is what Hugging
 * Face's apply_chat_template would write, byte for byte. Nine common template families
 * are also written out in C: they render files that carry no template (or one the
 * interpreter cannot run), and any of them can be chosen by name (--template). */
#ifndef LLMSCOPE_CHAT_TEMPLATE_H
#define LLMSCOPE_CHAT_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>

typedef struct chat_message {
    const char *role;    /* "system", "user", "assistant" */
    const char *content;
} chat_message;

typedef struct chat_template chat_template;

/* enable_thinking, which reasoning models' templates read: not passed at all (the
 * template's own default), true or false. */
typedef enum { CHAT_THINK_DEFAULT = 0, CHAT_THINK_ON, CHAT_THINK_OFF } chat_thinking;

/* Options that templates read besides the messages. */
typedef struct chat_render_options {
    bool add_generation_prompt;
    const char *bos_token;   /* "" if none */
    const char *eos_token;
    const char *date_string; /* for templates that print today's date (e.g. "26 Jul 2024",
                                or "2024-07-26"): what strftime_now() formats; NULL: today */
    chat_thinking enable_thinking;
    const char *tools_json;  /* the template's `tools` as JSON; NULL: none (None) */
    const char *const *vars; /* more variables, "NAME=VALUE" (VALUE read as JSON when it is
                                JSON, else as a string); the families ignore them */
    size_t n_vars;
} chat_render_options;

/* Picks the renderer for the Jinja text JINJA (may be NULL: no template). NAME, if not
 * NULL, chooses a family ("chatml", "llama3", "llama2", "mistral", "gemma", "phi3",
 * "deepseek", "zephyr", ...). Otherwise JINJA itself is run (chat_template_name() is then
 * "jinja"); when the interpreter cannot parse it, or there is none, the family is
 * detected from the text (ChatML when unrecognised) and *WARNING says so (else *WARNING
 * = NULL; the warning lives as long as the template). Returns NULL with ERR filled only
 * for an unknown NAME. */
chat_template *chat_template_create(const char *jinja, const char *name, const char **warning,
                                    char *err, size_t errlen);
/* Only the hand-written families: NAME, or the family detected from JINJA (ChatML with a
 * warning when unrecognised). */
chat_template *chat_template_create_family(const char *jinja, const char *name, const char **warning,
                                           char *err, size_t errlen);
/* Only the interpreter: NULL with ERR ("line N: ...") when JINJA cannot be parsed. */
chat_template *chat_template_create_jinja(const char *jinja, char *err, size_t errlen);
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
/* Renders MESSAGES_JSON, a JSON array of message objects (the interpreter sees them as
 * they are: tool calls, content parts; the families read "role" and "content" strings).
 * Returns the text (malloc'd; *LEN its length, which counts any NUL byte a template
 * wrote) or NULL with ERR. */
char *chat_template_render_json(const chat_template *t, const char *messages_json,
                                const chat_render_options *opt, size_t *len, char *err, size_t errlen);
/* Names of every family, NULL-terminated (for --help and errors). */
const char *const *chat_template_families(void);

#endif
