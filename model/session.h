/* session.h — a conversation with a model, as a list of step records.
 *
 * The session owns the token sequence in the engine's KV cache and one step_record per
 * position. A record for the token at position p describes the forward pass that
 * predicted it (the pass at position p-1): the model's distribution (and, for generated
 * tokens, the sampler's), and the attention row of query p-1 over keys 0..p-1.
 * Views (TUI panes, trace files, the CLI) read records only, never engine buffers. */
#ifndef LLMSCOPE_SESSION_H
#define LLMSCOPE_SESSION_H

#include "chat_template.h"
#include "engine.h"
#include "model.h"
#include "sampler.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tokenizer;

typedef enum {
    SEG_TEMPLATE = 0, /* chat-template control text (<|im_start|>, role names, BOS) */
    SEG_SYSTEM,
    SEG_USER,
    SEG_ASSISTANT,    /* earlier replies and the reply being generated */
    SEG_PLAIN         /* completion mode: the user's text to continue */
} segment_kind;

typedef struct step_record {
    int pos;
    int32_t token;
    char *text;          /* the token's bytes as they appear in the text (NUL-terminated;
                            may hold part of a multi-byte character) */
    segment_kind segment;
    int turn;            /* index of the conversation message this token belongs to */
    bool generated;      /* sampled (true) or given (prompt, template) */
    bool has_prediction; /* false for position 0: nothing predicted it */
    sample_result sample;/* generated: full; given: the "before" half (sampler_describe) */
    sampler_params params; /* sampler settings in force (generated tokens) */
    int n_keys;          /* attention row length (= pos) */
    uint16_t *attention; /* f16 [n_layer][n_head][n_keys], NULL when not captured; a layer
                            with fewer heads than n_head has zero rows for the rest, and a
                            Gated DeltaNet layer's rows are its heads' effective weights
                            (deltanet.h: signed, not summing to 1) */
    uint16_t *attention_mean; /* f16 [n_layer][n_keys]: each layer's rows averaged over its
                            heads (what rollout, grounding and "all heads" views read), with
                            attention; a DeltaNet layer's as attention mass: each head's
                            |w| normalised to sum 1, then averaged */
    uint16_t *gates;     /* f16 [n_layer][n_head][2]: this token's beta and decay in each
                            DeltaNet head (0 elsewhere); NULL until the token is evaluated,
                            without DeltaNet layers, or when not captured */
    uint16_t *hidden;    /* f16 [n_layer + 1][n_embd]: the residual stream (engine_batch.hidden)
                            at the position that predicted this token, for the logit lens;
                            reply tokens only, NULL when not captured. Kept and dropped
                            together with the attention, under the same budget */
    struct record_routing *routing; /* mixture of experts: which experts the pass that
                            predicted this token ran, per layer (routing.h); NULL when the
                            model has none or capture is off. Every record keeps its own */
    uint16_t *moe_out;   /* f16 [n_layer + 1][n_embd]: what each layer's experts added at
                            that position, then the last layer's output before the final
                            norm (engine_batch.moe_out): the why card's "experts". Reply
                            tokens only, kept and dropped with hidden */
} step_record;

typedef struct session_config {
    sampler_params sampling;
    int n_ctx;               /* 0: min(model context, 4096) */
    bool chat;               /* chat template (true) or plain completion */
    const char *template_name; /* NULL: the model's own template (run by the interpreter,
                                  or the family it looks like); else a family name */
    const char *system_prompt; /* NULL: none */
    chat_thinking enable_thinking; /* what reasoning templates get; 0: their default */
    bool capture_attention;
    int max_reply_tokens;    /* 0: until end-of-generation or the context is full */
    size_t attention_budget_bytes; /* attention kept for the records, f16; 0: 512 MiB. Past
                                      it the oldest records give theirs up (attention = NULL) */
} session_config;

typedef struct session session;

/* Why the last reply ended. */
typedef enum {
    SESSION_STOP_NONE,  /* still going, or an error */
    SESSION_STOP_END,   /* the model's end-of-generation token */
    SESSION_STOP_LIMIT, /* max_reply_tokens */
    SESSION_STOP_FULL,  /* the context is full and nothing could leave it (completion mode,
                           or a chat whose last message and reply fill it alone) */
    SESSION_STOP_USER   /* session_stop_reply */
} session_stop;

/* What left a chat's context window since the last clear: when a message or a reply
 * does not fit, the oldest turns (a user message with its reply) are dropped, the system
 * prompt stays, and the rest is evaluated again at its new positions. */
typedef struct session_window {
    int shifts;          /* times turns were dropped */
    int dropped_turns;   /* user messages dropped, with their replies */
    int dropped_tokens;  /* tokens the window shrank by */
} session_window;

session *session_create(const model *m, const struct tokenizer *tok, engine *e,
                        const session_config *cfg, char *err, size_t errlen);
void session_free(session *s);

/* Adds the user's text (chat: a user message, rendered through the template with the
 * generation prompt; completion: text to continue) and evaluates it. User text is
 * tokenized with special-token parsing off. When a chat would leave too little room for
 * its reply, the oldest turns are dropped first (session_window_info). Returns 0 or -1
 * (ERR filled: invalid UTF-8, a message longer than the context, engine failure). */
int session_begin_reply(session *s, const char *user_text, char *err, size_t errlen);
/* Generates the next token of the reply. Returns 1 and sets *OUT when a token was made,
 * 0 when the reply has ended (end-of-generation token, max tokens, context full:
 * session_stop_reason says which), -1 on error. A chat reply that reaches the end of
 * the context drops the oldest turns and goes on (session_window_info counts them);
 * records before the reply are then replaced (positions start over in the new window). An end-of-generation token is recorded (the last record, generated) but
 * not returned: 0 comes back and *OUT is NULL. */
int session_next(session *s, const step_record **out, char *err, size_t errlen);
/* Ends the current reply early (Ctrl-C): closes the turn as the template requires. */
void session_stop_reply(session *s);
/* Like session_next, but the reply's next token is ID instead of a sampled one: used to
 * rebuild a saved conversation (the TUI's /load). Its record holds the model's view of
 * ID (the "before" half, as for given tokens) and generated = false. Returns 1 when the
 * token was added, 0 when ID ends the reply (an end-of-generation token; the turn is
 * closed as session_next would), -1 with ERR filled (no reply open, ID out of range,
 * context full, engine failure). */
int session_force_next(session *s, int32_t id, const step_record **out, char *err, size_t errlen);

/* Branching. Rewinds the conversation to just before record REC, a token of a reply
 * (segment SEG_ASSISTANT, sampled or forced), and reopens that reply: the next
 * session_next or session_force_next makes the token at position REC again, from the same
 * prediction. Records from REC on and any later messages are forgotten, and the KV cache
 * is rewound with them (the position before REC is evaluated again if need be). Returns
 * 0, or -1 with ERR filled (REC is not a reply token). */
int session_rewind(session *s, size_t rec, char *err, size_t errlen);
/* Like session_force_next, but the record keeps RES and PARAMS as the sampler's account
 * of it and counts as sampled (generated = true): for rebuilding a branch whose tokens
 * were drawn earlier, without losing what the sampler said about them. */
int session_restore_next(session *s, int32_t id, const sample_result *res, const sampler_params *params,
                         const step_record **out, char *err, size_t errlen);

size_t session_n_records(const session *s);
const step_record *session_record(const session *s, size_t i);
/* Decodes one head's attention row of record R into OUT (R->n_keys floats); false if
 * the record holds no attention. */
bool session_attention_row(const session *s, const step_record *r, int layer, int head, float *out);

void session_set_sampling(session *s, const sampler_params *p);
const sampler_params *session_sampling(const session *s);
void session_set_system_prompt(session *s, const char *text); /* applies from the next clear */
/* The system prompt the next clear installs (the one set last), or NULL. */
const char *session_system_prompt(const session *s);
void session_clear(session *s);
const char *session_template_name(const session *s);
/* The conversation's messages: how many, and the role of message I ("system", "user",
 * "assistant"; NULL past the end). */
size_t session_n_messages(const session *s);
const char *session_message_role(const session *s, size_t i);
/* enable_thinking for templates that read it, from the next message on (the whole
 * conversation is rendered again then: a template may change earlier turns for it). */
void session_set_thinking(session *s, chat_thinking mode);
chat_thinking session_thinking(const session *s);
/* The conversation so far as the chat template writes it: every message as it stands
 * (the reply being written included), with the generation prompt only when no reply has
 * begun yet. Returns malloc'd text and, if SPANS is not NULL, the spans of message text
 * (chat_template_render_spans), or NULL with ERR (a template's error; completion mode). */
char *session_render_conversation(const session *s, chat_span **spans, size_t *n_spans, char *err,
                                  size_t errlen);
bool session_is_chat(const session *s);
int session_n_ctx(const session *s);
const model *session_model(const session *s);
/* The session's engine when it computes the logit lens on its device (engine_has_lens),
 * for why_options.lens_engine; NULL otherwise. The lens leaves the KV cache alone, so it
 * may be asked for between any two steps. */
engine *session_lens_engine(const session *s);
/* How many predictions were described from the engine's own summary of the row (the
 * Vulkan engine's on-GPU top-k, log-sum-exp and entropy) rather than by a pass over the
 * vocabulary on the CPU (sampler.h, logit_summary). */
size_t session_summarized(const session *s);
/* The chat template's warning (an unrecognised template rendered as ChatML), or NULL. */
const char *session_template_warning(const session *s);
/* How many records gave up their attention to stay within attention_budget_bytes. */
size_t session_attention_dropped(const session *s);

session_stop session_stop_reason(const session *s);
void session_window_info(const session *s, session_window *out);
/* The messages dropped from the window, oldest first: text, and *ROLE ("user",
 * "assistant"); NULL past the end. */
size_t session_n_dropped(const session *s);
const char *session_dropped(const session *s, size_t i, const char **role);

#endif
