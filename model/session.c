/* session.c — a conversation as token records, kept in step with the engine's KV cache.
 *
 * The session holds three lists that always agree: the conversation messages, the
 * tokens, and one step_record per token. Each user turn re-renders the whole
 * conversation through the chat template, keeps the longest run of existing tokens whose
 * text still matches the new rendering, and tokenizes and evaluates only the rest. This
 * is how a template that renders history differently (trimmed replies, stripped
 * reasoning, a closing token the reply never produced) stays correct without special
 * cases: the cache is rewound to where the texts part.
 *
 * Positions and predictions: the engine's output at position q (logits and each head's
 * attention row over keys 0..q) is the prediction of the token at q+1, so it belongs to
 * record q+1. The output of the last evaluated position is kept aside ("pending") until
 * the next token exists: sampled by session_next, or given by the next prompt.
 *
 * A chat longer than the context goes on the way chat apps do: the oldest turns leave
 * the window, the system prompt stays, and what is left is evaluated again at its new
 * positions (fit_window, the one place that decides; see "the context window"). */
#include "session.h"
#include "error_msg.h"

#include "chat_template.h"
#include "moe.h"
#include "quant.h"
#include "routing.h"
#include "tokenizer.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_CONTEXT 4096
#define DEFAULT_ATTENTION_BUDGET ((size_t)512 << 20)
/* Logits and attention of one engine call: long prompts are evaluated in chunks that fit. */
#define BATCH_BUDGET ((size_t)64 << 20)

typedef struct message {
    const char *role; /* "system", "user", "assistant" (static strings) */
    char *content;
    size_t len;
} message;

/* A byte range of a prompt text and how to tokenize it. */
typedef struct span {
    size_t start, end;
    bool special;        /* template text: control tokens are recognised */
    segment_kind segment;
    int turn;
} span;

typedef struct prompt {
    char *text;
    size_t len;
    span *spans;         /* in order, covering the text */
    size_t n_spans;
} prompt;

struct session {
    const model *m;
    const tokenizer *tok;
    engine *e;
    int n_vocab;          /* logits per position (the model's output rows) */
    int n_tok_vocab;      /* ids the tokenizer knows; logits beyond are masked */
    int n_layer, n_head, n_ctx;
    bool chat, capture, spm;
    int max_reply;
    size_t att_budget;

    chat_template *tmpl;
    const char *tmpl_warning;
    chat_thinking thinking;  /* enable_thinking for the template */
    const char *bos_text, *eos_text; /* owned by the tokenizer; NULL if none */
    char *system_next;    /* system prompt installed by the next clear */

    sampler smp;

    message *msgs;
    size_t n_msgs, cap_msgs;

    int32_t *tokens;      /* n_ctx */
    step_record *recs;    /* n_ctx, allocated once so record pointers stay valid */
    size_t *text_len;     /* n_ctx: byte length of recs[i].text (it may hold a NUL) */
    int n;                /* records */
    int n_eval;           /* positions 0 .. n_eval-1 are in the engine's cache */

    int pred_pos;         /* the position whose output pred_* holds, -1 if none */
    float *pred_logits;   /* n_vocab */
    float *pred_att;      /* [n_layer][n_head][pred_pos + 1] */
    float *pred_hidden;   /* [n_layer + 1][n_embd] residual stream at pred_pos (capturing) */

    bool in_reply;
    int reply_turn, reply_count;
    session_stop stop;    /* why the last reply ended */
    int stale_from;       /* records from here on await a description (a context shift
                             moved them to new positions); INT_MAX: none */

    message *dropped;     /* messages that left the window, oldest first (context shifts) */
    size_t n_dropped, cap_dropped;
    session_window win;

    size_t att_bytes, att_dropped;
    int att_oldest;       /* records before this one hold no attention */

    float *batch_logits, *batch_att, *batch_gates;
    size_t batch_logits_cap, batch_att_cap, batch_gates_cap;
    bool gates;           /* capturing, and the model has DeltaNet layers */

    /* The engine's own summary of each output row (engine_batch top_ids .. entropy), which
     * the Vulkan engine computes on the GPU: with it, describing a prediction needs no
     * pass over the vocabulary (sampler.h, logit_summary). Asked for only when no output
     * row is masked (n_tok_vocab == n_vocab); a row whose log-sum-exp stays NaN has none
     * (the CPU engine leaves these arrays alone). */
    bool want_summary;
    int32_t *batch_top_ids;
    float *batch_top_logits, *batch_lse, *batch_entropy;
    size_t batch_sum_cap;     /* rows */
    int32_t pred_top_ids[SAMPLER_TOP_N];
    float pred_top_logits[SAMPLER_TOP_N];
    logit_summary pred_sum;   /* of pred_logits; n_top = 0: none */
    size_t n_summarized;      /* descriptions made from a summary */

    /* A mixture of experts' routing (capturing, models with experts): each eval's rows
     * (engine_batch.route_*), and the pending prediction's, with its experts' outputs. */
    bool want_routing;
    int32_t *batch_route_ids;
    float *batch_route_probs, *batch_route_weights;
    size_t batch_route_cap;   /* rows of all layers */
    record_routing *pred_routing;
    float *pred_moe;          /* [n_layer + 1][n_embd] */
};

/* ---- messages ---- */

static int push_message(session *s, const char *role, const char *text, size_t len) {
    if (s->n_msgs == s->cap_msgs) {
        size_t cap = s->cap_msgs ? 2 * s->cap_msgs : 8;
        message *m = realloc(s->msgs, cap * sizeof *m);
        if (!m) return -1;
        s->msgs = m;
        s->cap_msgs = cap;
    }
    char *c = malloc(len + 1);
    if (!c) return -1;
    memcpy(c, text, len);
    c[len] = 0;
    s->msgs[s->n_msgs++] = (message){role, c, len};
    return 0;
}

static void pop_message(session *s) {
    free(s->msgs[--s->n_msgs].content);
}

static int append_to_message(message *m, const char *text, size_t len) {
    char *c = realloc(m->content, m->len + len + 1);
    if (!c) return -1;
    memcpy(c + m->len, text, len);
    m->len += len;
    c[m->len] = 0;
    m->content = c;
    return 0;
}

/* ---- records ---- */

/* The token's text, malloc'd and NUL-terminated; *LEN gets its length. */
static char *piece_dup(const tokenizer *t, int32_t id, size_t *len) {
    char small[64];
    int n = tokenizer_piece(t, id, small, sizeof small);
    if (n < 0) n = 0;
    char *out = malloc((size_t)n + 1);
    if (!out) return NULL;
    if ((size_t)n <= sizeof small) memcpy(out, small, (size_t)n);
    else tokenizer_piece(t, id, out, (size_t)n);
    out[n] = 0;
    *len = (size_t)n;
    return out;
}

static size_t record_att_bytes(const session *s, const step_record *r) {
    size_t rows = (size_t)s->n_layer * ((size_t)s->n_head + (r->attention_mean ? 1 : 0));
    return rows * (size_t)r->n_keys * sizeof(uint16_t);
}

static size_t record_hidden_bytes(const session *s) {
    return (size_t)(s->n_layer + 1) * (size_t)s->m->hp.n_embd * sizeof(uint16_t);
}

static void drop_attention(session *s, step_record *r) {
    if (r->hidden) {
        s->att_bytes -= record_hidden_bytes(s);
        free(r->hidden);
        r->hidden = NULL;
    }
    if (r->moe_out) {
        s->att_bytes -= record_hidden_bytes(s);
        free(r->moe_out);
        r->moe_out = NULL;
    }
    if (!r->attention) return;
    s->att_bytes -= record_att_bytes(s, r);
    free(r->attention);
    free(r->attention_mean);
    r->attention = NULL;
    r->attention_mean = NULL;
}

/* Forgets records K.. (their tokens leave the cache too). */
static void truncate_records(session *s, int k) {
    for (int i = k; i < s->n; i++) {
        drop_attention(s, &s->recs[i]);
        routing_free(s->recs[i].routing);
        free(s->recs[i].gates);
        free(s->recs[i].text);
        memset(&s->recs[i], 0, sizeof s->recs[i]);
    }
    if (k < s->n) s->n = k;
    if (s->n_eval > k) s->n_eval = k;
    if (s->pred_pos >= k) s->pred_pos = -1;
    if (s->att_oldest > k) s->att_oldest = k;
    if (s->stale_from >= k) s->stale_from = INT_MAX;
}

static int add_record(session *s, int32_t id, segment_kind seg, int turn, bool generated) {
    step_record *r = &s->recs[s->n];
    memset(r, 0, sizeof *r);
    r->pos = s->n;
    r->token = id;
    r->segment = seg;
    r->turn = turn;
    r->generated = generated;
    r->params = s->smp.p;
    r->text = piece_dup(s->tok, id, &s->text_len[s->n]);
    if (!r->text) return -1;
    s->tokens[s->n++] = id;
    return 0;
}

/* ACC[k] += X[k], eight at a time so that the compiler vectorises it. */
static void add_rows(float *restrict acc, const float *restrict x, size_t n) {
    size_t k = 0;
    for (; k + 8 <= n; k += 8)
        for (int j = 0; j < 8; j++) acc[k + (size_t)j] += x[k + (size_t)j];
    for (; k < n; k++) acc[k] += x[k];
}

/* MEAN = layer L's N-key rows (head h at LAYER + h * HEAD_STRIDE) averaged over its own
 * heads. A DeltaNet layer's effective weights are signed and do not sum to 1, so each
 * head enters as attention mass, |w| normalised to sum 1 (ROW: scratch); a head whose
 * weights are all zero adds nothing. */
static void layer_mean_row(const session *s, int l, const float *layer, size_t head_stride, size_t n, float *mean,
                           float *row) {
    const layer_desc *d = &s->m->desc[l];
    const int nh = d->n_head;
    memset(mean, 0, n * sizeof *mean);
    for (int h = 0; h < nh; h++) {
        const float *src = layer + (size_t)h * head_stride;
        if (d->mixer != MIXER_DELTANET) {
            add_rows(mean, src, n);
            continue;
        }
        double total = 0;
        for (size_t k = 0; k < n; k++) total += fabsf(src[k]);
        if (total <= 0) continue;
        const float scale = (float)(1.0 / total);
        for (size_t k = 0; k < n; k++) row[k] = fabsf(src[k]) * scale;
        add_rows(mean, row, n);
    }
    for (size_t k = 0; k < n; k++) mean[k] *= 1.0f / (float)nh;
}

/* Stores one attention row per layer and head for R (keys 0 .. r->pos-1) as f16.
 * SRC + (layer * n_head + head) * HEAD_STRIDE is the row of that head. When the stored
 * rows exceed the budget, the oldest records give theirs up. */
static void keep_attention(session *s, step_record *r, const float *src, size_t head_stride) {
    r->n_keys = r->pos;
    if (!s->capture || !src || r->n_keys == 0) return;
    size_t n = (size_t)r->n_keys, rows = (size_t)s->n_layer * (size_t)s->n_head;
    r->attention = malloc(rows * n * sizeof *r->attention);
    if (!r->attention) return; /* out of memory: this record simply has none */
    for (size_t h = 0; h < rows; h++) f32_to_fp16_row(src + h * head_stride, r->attention + h * n, n);
    /* each layer's rows averaged over its heads, from the f32 rows */
    float *mean = malloc(2 * n * sizeof *mean);
    r->attention_mean = mean ? malloc((size_t)s->n_layer * n * sizeof *r->attention_mean) : NULL;
    for (int l = 0; r->attention_mean && l < s->n_layer; l++) {
        layer_mean_row(s, l, src + (size_t)l * (size_t)s->n_head * head_stride, head_stride, n, mean, mean + n);
        f32_to_fp16_row(mean, r->attention_mean + (size_t)l * n, n);
    }
    free(mean);
    s->att_bytes += record_att_bytes(s, r);
    while (s->att_bytes > s->att_budget && s->att_oldest < r->pos) {
        step_record *old = &s->recs[s->att_oldest++];
        if (old->attention) {
            drop_attention(s, old);
            s->att_dropped++;
        }
    }
}

/* A copy of SRC ([n_layer + 1][n_embd] floats) in f16 (clamped to its range: past it, its
 * largest value rather than infinity), counted in the attention budget; NULL when out of
 * memory (the record then simply has none). */
static uint16_t *keep_states(session *s, float *src) {
    size_t n = record_hidden_bytes(s) / sizeof(uint16_t);
    uint16_t *out = malloc(n * sizeof *out);
    if (!out) return NULL;
    for (size_t i = 0; i < n; i++) {
        float x = src[i];
        src[i] = x > 65504.0f ? 65504.0f : x < -65504.0f ? -65504.0f : x;
    }
    f32_to_fp16_row(src, out, n);
    s->att_bytes += n * sizeof *out;
    return out;
}

/* Keeps the hidden states of the pending prediction with reply record R, for the logit
 * lens, under the attention budget (which keep_attention enforces next). */
static void keep_hidden(session *s, step_record *r) {
    if (s->pred_hidden) r->hidden = keep_states(s, s->pred_hidden);
}

/* The experts' outputs of the pending prediction with reply record R (the why card's
 * "experts"), like the hidden states. */
static void keep_moe_out(session *s, step_record *r) {
    if (s->pred_moe) r->moe_out = keep_states(s, s->pred_moe);
}

/* Room for the routing of N output rows of every layer. */
static int grow_routing(session *s, size_t n) {
    const size_t rows = n * (size_t)s->n_layer, R = (size_t)moe_rank_n(&s->m->hp.moe), K = (size_t)s->m->hp.moe.n_used;
    if (rows <= s->batch_route_cap) return 0;
    int32_t *ids = realloc(s->batch_route_ids, rows * R * sizeof *ids);
    if (ids) s->batch_route_ids = ids;
    float *p = realloc(s->batch_route_probs, rows * R * sizeof *p);
    if (p) s->batch_route_probs = p;
    float *w = realloc(s->batch_route_weights, rows * K * sizeof *w);
    if (w) s->batch_route_weights = w;
    if (!ids || !p || !w) return -1;
    s->batch_route_cap = rows;
    return 0;
}

/* Row J of the last eval's routing (N rows), as a record's. */
static record_routing *batch_routing(const session *s, int n, int j) {
    if (!s->want_routing) return NULL;
    return routing_from_batch(s->m, s->batch_route_ids, s->batch_route_probs, s->batch_route_weights, n, j);
}

/* The token's DeltaNet gates (engine_batch.gates, N values) as f16 in its record. */
static void keep_gates(step_record *r, const float *src, size_t n) {
    if (!r->gates) r->gates = malloc(n * sizeof *r->gates);
    if (r->gates) f32_to_fp16_row(src, r->gates, n); /* out of memory: the record has none */
}

/* Tokens the tokenizer cannot turn into text must never be chosen. */
static void mask_logits(const session *s, float *logits) {
    for (int i = s->n_tok_vocab; i < s->n_vocab; i++) logits[i] = -INFINITY;
}

/* Record R was given (prompt), not sampled: describe how likely the model found it. */
static void predict_given(session *s, step_record *r, float *logits, const logit_summary *sum, const float *att,
                          size_t head_stride) {
    mask_logits(s, logits);
    sampler_describe_with(logits, s->n_vocab, sum, r->token, &r->sample);
    s->n_summarized += sum != NULL;
    r->has_prediction = true;
    keep_attention(s, r, att, head_stride);
}

/* ---- evaluation ---- */

static size_t batch_bytes(const session *s, int pos, int n) {
    size_t per_token = (size_t)s->n_vocab;
    if (s->capture) per_token += (size_t)s->n_layer * (size_t)s->n_head * (size_t)(pos + n);
    return per_token * (size_t)n * sizeof(float);
}

static int grow(float **buf, size_t *cap, size_t n) {
    if (n <= *cap) return 0;
    float *b = realloc(*buf, n * sizeof *b);
    if (!b) return -1;
    *buf = b;
    *cap = n;
    return 0;
}

/* Room for N rows of summaries. */
static int grow_summaries(session *s, size_t n) {
    if (n <= s->batch_sum_cap) return 0;
    int32_t *ids = realloc(s->batch_top_ids, n * SAMPLER_TOP_N * sizeof *ids);
    if (ids) s->batch_top_ids = ids;
    float *tl = realloc(s->batch_top_logits, n * SAMPLER_TOP_N * sizeof *tl);
    if (tl) s->batch_top_logits = tl;
    float *lse = realloc(s->batch_lse, n * sizeof *lse);
    if (lse) s->batch_lse = lse;
    float *ent = realloc(s->batch_entropy, n * sizeof *ent);
    if (ent) s->batch_entropy = ent;
    if (!ids || !tl || !lse || !ent) return -1;
    s->batch_sum_cap = n;
    return 0;
}

/* Row J's summary from the last eval, or false when the engine gave none. */
static bool batch_summary(const session *s, int j, logit_summary *out) {
    if (!s->want_summary || !isfinite(s->batch_lse[j])) return false;
    *out = (logit_summary){.n_top = SAMPLER_TOP_N,
                           .top_ids = s->batch_top_ids + (size_t)j * SAMPLER_TOP_N,
                           .top_logits = s->batch_top_logits + (size_t)j * SAMPLER_TOP_N,
                           .logsumexp = s->batch_lse[j],
                           .entropy = s->batch_entropy[j]};
    return true;
}

/* Evaluates the tokens at positions START .. END-1. The output at each position q
 * predicts record q+1: records FIRST_NEW .. END-1 get their prediction from it, and the
 * output of END-1 becomes the pending prediction. */
static int eval_positions(session *s, int start, int end, int first_new, char *err, size_t errlen) {
    size_t rows = (size_t)s->n_layer * (size_t)s->n_head;
    for (int a = start; a < end;) {
        int n = end - a;
        while (n > 1 && batch_bytes(s, a, n) > BATCH_BUDGET) n = (n + 1) / 2;
        size_t stride = (size_t)(a + n); /* attention row length in this batch */
        if (grow(&s->batch_logits, &s->batch_logits_cap, (size_t)n * (size_t)s->n_vocab) < 0 ||
            (s->capture && grow(&s->batch_att, &s->batch_att_cap, rows * (size_t)n * stride) < 0) ||
            (s->want_summary && grow_summaries(s, (size_t)n) < 0) ||
            (s->want_routing && grow_routing(s, (size_t)n) < 0) ||
            (s->gates && grow(&s->batch_gates, &s->batch_gates_cap, (size_t)n * rows * 2) < 0))
            return err_fail(err, errlen, "out of memory evaluating %d tokens", n);
        if (s->want_summary)
            for (int j = 0; j < n; j++) s->batch_lse[j] = NAN; /* stays NaN: no summary */
        engine_batch b = {
            .tokens = s->tokens + a,
            .n_tokens = n,
            .pos = a,
            .all_positions = true,
            .logits = s->batch_logits,
            .attention = s->capture ? s->batch_att : NULL,
            .hidden = s->pred_hidden, /* the last token's, which becomes pred_pos */
            .gates = s->gates ? s->batch_gates : NULL,
        };
        if (s->want_routing) {
            b.route_ids = s->batch_route_ids;
            b.route_probs = s->batch_route_probs;
            b.route_weights = s->batch_route_weights;
            b.moe_out = s->pred_moe;
        }
        if (s->want_summary) {
            b.top_k = SAMPLER_TOP_N;
            b.top_ids = s->batch_top_ids;
            b.top_logits = s->batch_top_logits;
            b.logsumexp = s->batch_lse;
            b.entropy = s->batch_entropy;
        }
        if (engine_eval(s->e, &b, err, errlen) < 0) return -1;
        s->n_eval = a + n;
        if (s->gates)
            for (int j = 0; j < n; j++) keep_gates(&s->recs[a + j], s->batch_gates + (size_t)j * rows * 2, rows * 2);
        for (int j = 0; j < n; j++) {
            int q = a + j;
            float *logits = s->batch_logits + (size_t)j * (size_t)s->n_vocab;
            const float *att = s->capture ? s->batch_att + (size_t)j * stride : NULL;
            size_t head_stride = (size_t)n * stride;
            logit_summary sum;
            bool has_sum = batch_summary(s, j, &sum);
            if (q + 1 < end) {
                if (q + 1 >= first_new) {
                    predict_given(s, &s->recs[q + 1], logits, has_sum ? &sum : NULL, att, head_stride);
                    routing_free(s->recs[q + 1].routing);
                    s->recs[q + 1].routing = batch_routing(s, n, j);
                }
            } else {
                routing_free(s->pred_routing);
                s->pred_routing = batch_routing(s, n, j);
                memcpy(s->pred_logits, logits, (size_t)s->n_vocab * sizeof *logits);
                mask_logits(s, s->pred_logits);
                s->pred_sum.n_top = 0;
                if (has_sum) {
                    memcpy(s->pred_top_ids, sum.top_ids, sizeof s->pred_top_ids);
                    memcpy(s->pred_top_logits, sum.top_logits, sizeof s->pred_top_logits);
                    s->pred_sum = (logit_summary){.n_top = SAMPLER_TOP_N, .top_ids = s->pred_top_ids,
                                                  .top_logits = s->pred_top_logits, .logsumexp = sum.logsumexp,
                                                  .entropy = sum.entropy};
                }
                if (s->capture)
                    for (size_t h = 0; h < rows; h++)
                        memcpy(s->pred_att + h * (size_t)(q + 1), att + h * head_stride,
                               (size_t)(q + 1) * sizeof *att);
                s->pred_pos = q;
            }
        }
        a += n;
    }
    return 0;
}

/* ---- prompts ---- */

static void prompt_free(prompt *p) {
    free(p->text);
    free(p->spans);
    memset(p, 0, sizeof *p);
}

static segment_kind role_segment(const char *role) {
    if (strcmp(role, "system") == 0) return SEG_SYSTEM;
    if (strcmp(role, "assistant") == 0) return SEG_ASSISTANT;
    return SEG_USER;
}

static int push_span(prompt *p, size_t *cap, span sp) {
    if (sp.start == sp.end) return 0;
    if (p->n_spans == *cap) {
        size_t c = *cap ? 2 * *cap : 16;
        span *a = realloc(p->spans, c * sizeof *a);
        if (!a) return -1;
        p->spans = a;
        *cap = c;
    }
    p->spans[p->n_spans++] = sp;
    return 0;
}

/* Where each message's rendering ends in BODY: the conversation up to and including
 * message i, rendered without the generation prompt, is a prefix of the whole for every
 * template family llmscope knows. Where it is not (or the template refuses the shorter
 * conversation), ends[i] = 0: unknown. */
static void message_ends(const session *s, const chat_message *cm, const chat_render_options *full,
                         const char *body, size_t body_len, size_t *ends) {
    chat_render_options opt = *full;
    opt.add_generation_prompt = false;
    char err[8];
    for (size_t i = 0; i < s->n_msgs; i++) {
        ends[i] = 0;
        char *r = chat_template_render(s->tmpl, cm, i + 1, &opt, err, sizeof err);
        if (!r) continue;
        size_t n = strlen(r);
        if (n <= body_len && memcmp(r, body, n) == 0) ends[i] = n;
        free(r);
    }
}

/* Template text [A, B): each byte belongs to the first message whose rendering ends after
 * it, or to the reply when none does. */
static int push_template(prompt *p, size_t *cap, size_t a, size_t b, const size_t *ends, size_t n_msgs) {
    while (a < b) {
        size_t turn = 0;
        while (turn < n_msgs && ends[turn] <= a) turn++;
        size_t end = turn < n_msgs && ends[turn] < b ? ends[turn] : b;
        if (push_span(p, cap, (span){a, end, true, SEG_TEMPLATE, (int)turn}) < 0) return -1;
        a = end;
    }
    return 0;
}

/* The options every rendering of this conversation uses. */
static chat_render_options render_options(const session *s, bool generation_prompt) {
    return (chat_render_options){
        .add_generation_prompt = generation_prompt,
        .bos_token = s->bos_text ? s->bos_text : "",
        .eos_token = s->eos_text ? s->eos_text : "",
        .enable_thinking = s->thinking,
    };
}

/* The session's messages as the template takes them; malloc'd (one slot at least). */
static chat_message *chat_messages(const session *s) {
    chat_message *cm = malloc((s->n_msgs ? s->n_msgs : 1) * sizeof *cm);
    for (size_t i = 0; cm && i < s->n_msgs; i++) cm[i] = (chat_message){s->msgs[i].role, s->msgs[i].content};
    return cm;
}

/* The whole conversation rendered through the template with the generation prompt,
 * split into template text and message content, each labelled with its turn (the
 * generation prompt introduces the reply, turn n_msgs). When the vocabulary wants a BOS
 * token and the template does not write one, the BOS text is put in front, where
 * special-token parsing turns it into the token. */
static int render_chat(session *s, prompt *p, char *err, size_t errlen) {
    memset(p, 0, sizeof *p);
    size_t n_msgs = s->n_msgs;
    chat_message *cm = chat_messages(s);
    size_t *ends = malloc((n_msgs ? n_msgs : 1) * sizeof *ends);
    if (!cm || !ends) {
        free(cm);
        free(ends);
        return err_fail(err, errlen, "out of memory");
    }
    chat_render_options opt = render_options(s, true);
    chat_span *cs = NULL;
    size_t n_cs = 0;
    char *body = chat_template_render_spans(s->tmpl, cm, n_msgs, &opt, &cs, &n_cs, err, errlen);
    size_t body_len = body ? strlen(body) : 0;
    if (body) message_ends(s, cm, &opt, body, body_len, ends);
    free(cm);
    if (!body) {
        free(ends);
        return -1;
    }

    size_t pre = 0;
    if (s->bos_text && tokenizer_adds_bos(s->tok) && strncmp(body, s->bos_text, strlen(s->bos_text)) != 0)
        pre = strlen(s->bos_text);
    p->len = pre + body_len;
    p->text = malloc(p->len + 1);
    int rc = p->text ? 0 : err_fail(err, errlen, "out of memory");
    if (rc == 0) {
        memcpy(p->text, s->bos_text ? s->bos_text : "", pre);
        memcpy(p->text + pre, body, body_len + 1);
        for (size_t i = 0; i < n_msgs; i++)
            if (ends[i]) ends[i] += pre;
    }
    free(body);

    size_t cap = 0, at = 0;
    for (size_t i = 0; i < n_cs && rc == 0; i++) {
        size_t start = pre + cs[i].start, end = start + cs[i].len;
        if (start < at || end > p->len || cs[i].message >= n_msgs) {
            rc = err_fail(err, errlen, "chat template %s returned an invalid message range",
                          chat_template_name(s->tmpl));
            break;
        }
        int turn = (int)cs[i].message;
        if (push_template(p, &cap, at, start, ends, n_msgs) < 0 ||
            push_span(p, &cap, (span){start, end, false, role_segment(s->msgs[turn].role), turn}) < 0)
            rc = err_fail(err, errlen, "out of memory");
        at = end;
    }
    if (rc == 0 && push_template(p, &cap, at, p->len, ends, n_msgs) < 0) rc = err_fail(err, errlen, "out of memory");
    free(cs);
    free(ends);
    if (rc != 0) prompt_free(p);
    return rc;
}

/* How many bytes of TEXT (AVAIL long) the token of record I stands for, or -1 if the
 * text says something else. SentencePiece puts a space in front of text that starts
 * the prompt or follows a control token; that space is in the piece but not the text. */
static long match_piece(const session *s, int i, const char *piece, size_t plen, int32_t prev,
                        const char *text, size_t avail) {
    if (plen <= avail && memcmp(piece, text, plen) == 0) return (long)plen;
    bool after_control = i == 0 || tokenizer_is_control(s->tok, prev);
    if (s->spm && after_control && plen > 0 && piece[0] == ' ' && plen - 1 <= avail &&
        memcmp(piece + 1, text, plen - 1) == 0)
        return (long)plen - 1;
    return -1;
}

/* The number of leading records whose text the new prompt still begins with; *FROM gets
 * the byte where the rest of the prompt starts. */
static int kept_records(const session *s, const prompt *p, size_t *from) {
    size_t off = 0;
    int k = 0;
    for (; k < s->n; k++) {
        long used = match_piece(s, k, s->recs[k].text, s->text_len[k], k ? s->tokens[k - 1] : -1,
                                p->text + off, p->len - off);
        if (used < 0) break;
        off += (size_t)used;
    }
    *from = off;
    return k;
}

static bool same_tokens(const int32_t *a, int na, const int32_t *b, int nb) {
    return na == nb && (na == 0 || memcmp(a, b, (size_t)na * sizeof *a) == 0);
}

/* Does special-token parsing change how this text is tokenized? Only if it contains the
 * text of a control token. */
static int has_special_text(const session *s, const char *text, size_t len, bool *out, char *err,
                            size_t errlen) {
    int32_t *on = NULL, *off = NULL;
    int n_on = tokenizer_encode(s->tok, text, len, false, true, &on, err, errlen);
    int n_off = n_on < 0 ? -1 : tokenizer_encode(s->tok, text, len, false, false, &off, err, errlen);
    if (n_on >= 0 && n_off >= 0) *out = !same_tokens(on, n_on, off, n_off);
    free(on);
    free(off);
    return n_on < 0 || n_off < 0 ? -1 : 0;
}

static int append_tokens(int32_t **all, int *n_all, const int32_t *t, int n) {
    int32_t *a = realloc(*all, (size_t)(*n_all + n + 1) * sizeof *a);
    if (!a) return -1;
    if (n) memcpy(a + *n_all, t, (size_t)n * sizeof *t);
    *all = a;
    *n_all += n;
    return 0;
}

/* Tokenizes P from byte FROM on. Template text is tokenized with special-token parsing,
 * message content without, so a typed "<|im_end|>" stays text. When no content in range
 * contains control-token text the two are the same thing, and the rest is tokenized in
 * one piece, exactly as a tokenizer given the whole prompt would (SentencePiece's space
 * prefix, merges across span borders). Otherwise each span is tokenized on its own. */
static int tokenize_prompt(const session *s, const prompt *p, size_t from, bool add_bos,
                           int32_t **out, char *err, size_t errlen) {
    bool any_special = false, content_special = false;
    for (size_t i = 0; i < p->n_spans; i++) {
        const span *sp = &p->spans[i];
        if (sp->end <= from) continue;
        size_t a = sp->start > from ? sp->start : from;
        if (sp->special) {
            any_special = true;
        } else if (!content_special) {
            if (has_special_text(s, p->text + a, sp->end - a, &content_special, err, errlen) < 0) return -1;
        }
    }
    if (!content_special)
        return tokenizer_encode(s->tok, p->text + from, p->len - from, add_bos, any_special, out, err, errlen);

    int32_t *all = NULL;
    int n_all = 0;
    for (size_t i = 0; i < p->n_spans; i++) {
        const span *sp = &p->spans[i];
        if (sp->end <= from) continue;
        size_t a = sp->start > from ? sp->start : from;
        int32_t *t = NULL;
        int n = tokenizer_encode(s->tok, p->text + a, sp->end - a, add_bos && n_all == 0, sp->special,
                                 &t, err, errlen);
        if (n < 0 || append_tokens(&all, &n_all, t, n) < 0) {
            if (n >= 0) err_fail(err, errlen, "out of memory");
            free(t);
            free(all);
            return -1;
        }
        free(t);
    }
    *out = all;
    return n_all;
}

/* Appends records for TOKS, labelling each with the span its text comes from: walk the
 * text along the token pieces from byte FROM. A control token whose text is not in the
 * prompt (a BOS the tokenizer added) is template. */
static int add_prompt_records(session *s, const prompt *p, size_t from, const int32_t *toks, int n) {
    size_t at = from, si = 0;
    for (int j = 0; j < n; j++) {
        while (si + 1 < p->n_spans && at >= p->spans[si].end) si++;
        const span *sp = &p->spans[si];
        int pos = s->n;
        if (add_record(s, toks[j], sp->segment, sp->turn, false) < 0) return -1;
        long used = match_piece(s, pos, s->recs[pos].text, s->text_len[pos], pos ? s->tokens[pos - 1] : -1,
                                p->text + at, p->len - at);
        if (used < 0 && tokenizer_is_control(s->tok, toks[j])) {
            s->recs[pos].segment = SEG_TEMPLATE;
            used = 0;
        } else if (used < 0) { /* a piece that is not literally in the text (U+FFFD...) */
            used = (long)s->text_len[pos];
            if ((size_t)used > p->len - at) used = (long)(p->len - at);
        }
        at += (size_t)used;
    }
    return 0;
}

/* Evaluates records K.. (the ones after the first K, which the cache holds; and from an
 * earlier one when a context shift moved records up), starting one position early when
 * the prediction of the first of them is not at hand (after a rewind). */
static int evaluate_from(session *s, int k, char *err, size_t errlen) {
    if (s->stale_from < k) k = s->stale_from; /* records moved up by a context shift */
    s->stale_from = INT_MAX;
    int start = s->n_eval < k ? s->n_eval : k;
    if (s->pred_pos != k - 1 && start > k - 1) start = k - 1;
    if (start == k && k > 0 && k < s->n) {
        step_record *r = &s->recs[k];
        predict_given(s, r, s->pred_logits, s->pred_sum.n_top ? &s->pred_sum : NULL, s->pred_att, (size_t)k);
        routing_free(r->routing);
        r->routing = routing_copy(s->pred_routing);
    }
    if (start < s->n && eval_positions(s, start, s->n, k, err, errlen) < 0) {
        if (s->n_eval > start) s->n_eval = start;
        s->pred_pos = -1;
        return -1;
    }
    return 0;
}

/* ---- the context window ----
 *
 * When a conversation no longer fits, the oldest turns (a user message and the reply to
 * it) are dropped from the front, after the system prompt if there is one; the messages
 * are kept aside (session_dropped) so that a view can still show them. The tokens of the
 * turns that stay are kept as they were (not tokenized again from their text, which can
 * merge differently from how a reply was generated) and move up to fill the gap; from
 * there on every record is evaluated again at its new position and described by that
 * pass (the model's view, as for a replayed reply: the sampler's account of an earlier
 * draw belonged to another context). That is one long evaluation per shift, so a shift
 * frees a quarter of the context rather than just enough for the next token. */

static void forget_dropped(session *s) {
    for (size_t i = 0; i < s->n_dropped; i++) free(s->dropped[i].content);
    s->n_dropped = 0;
    memset(&s->win, 0, sizeof s->win);
}

/* Free room a new message wants for its reply before the oldest turns are dropped. */
static int reply_room(const session *s) { return s->n_ctx / 8 < 64 ? s->n_ctx / 8 + 1 : 64; }

static bool is_role(const message *m, const char *role) { return strcmp(m->role, role) == 0; }

/* Removes the records of messages [A, B) and moves the later ones up, their turns
 * renumbered; from the gap on they wait to be evaluated again (stale_from). */
static int drop_records(session *s, size_t a, size_t b) {
    int d0 = 0, d1;
    while (d0 < s->n && s->recs[d0].turn < (int)a) d0++;
    d1 = d0;
    while (d1 < s->n && s->recs[d1].turn < (int)b) d1++;
    int n_move = s->n - d1;
    step_record *moved = malloc((size_t)(n_move ? n_move : 1) * sizeof *moved);
    if (!moved) return -1;
    memcpy(moved, s->recs + d1, (size_t)n_move * sizeof *moved);
    truncate_records(s, d0);
    int rc = 0;
    for (int i = 0; i < n_move && rc == 0; i++)
        rc = add_record(s, moved[i].token, moved[i].segment, moved[i].turn - (int)(b - a), false);
    free(moved);
    if (d0 < s->stale_from) s->stale_from = d0;
    s->win.dropped_tokens += d1 - d0;
    return rc;
}

/* The first message that may be dropped: the oldest after a system prompt. */
static size_t first_droppable(const session *s) { return s->n_msgs && is_role(&s->msgs[0], "system") ? 1 : 0; }

/* Moves the oldest turn, messages [first droppable, next user message), to the dropped
 * list, with its records; KEEP_FROM: the first message that must stay (the caller knows
 * one can go). 0, or -1 when out of memory. */
static int drop_oldest_turn(session *s, size_t keep_from) {
    size_t a = first_droppable(s), b = a + 1;
    while (b < keep_from && !is_role(&s->msgs[b], "user")) b++;
    size_t n = b - a;
    if (s->n_dropped + n > s->cap_dropped) {
        size_t cap = s->cap_dropped ? s->cap_dropped : 16;
        while (cap < s->n_dropped + n) cap *= 2;
        message *d = realloc(s->dropped, cap * sizeof *d);
        if (!d) return -1;
        s->dropped = d;
        s->cap_dropped = cap;
    }
    if (drop_records(s, a, b) < 0) return -1;
    memcpy(s->dropped + s->n_dropped, s->msgs + a, n * sizeof *s->msgs);
    s->n_dropped += n;
    memmove(s->msgs + a, s->msgs + b, (s->n_msgs - b) * sizeof *s->msgs);
    s->n_msgs -= n;
    s->win.dropped_turns++;
    return 0;
}

/* Tokens of the smallest window: the system prompt and the last message alone, or -1. */
static int smallest_window(session *s, char *err, size_t errlen) {
    size_t a = first_droppable(s), n_msgs = s->n_msgs;
    message keep[2] = {s->msgs[0], s->msgs[n_msgs - 1]}, *all = s->msgs;
    s->msgs = a ? keep : keep + 1;
    s->n_msgs = a + 1;
    prompt p;
    int32_t *toks = NULL;
    int n = render_chat(s, &p, err, errlen);
    if (n == 0) {
        n = tokenize_prompt(s, &p, 0, false, &toks, err, errlen);
        free(toks);
        prompt_free(&p);
    }
    s->msgs = all;
    s->n_msgs = n_msgs;
    return n;
}

/* Renders the conversation (its last message a user's) into P and tokenizes what the
 * records do not already hold: *K records are kept, the rest of the prompt from byte
 * *FROM is *TOKS; returns their count. When those and N_REPLY tokens of a reply leave
 * less than ROOM free, the oldest turns are dropped until a quarter of the context is
 * free or none is left to drop (the caller then sees whether it fits at all). This is
 * the one place that decides what the window holds. Returns -1 with ERR on failure. */
static int fit_window(session *s, int n_reply, int room, prompt *p, int *k, size_t *from, int32_t **toks,
                      char *err, size_t errlen) {
    bool dropped = false;
    for (;;) {
        if (render_chat(s, p, err, errlen) < 0) return -1;
        *k = kept_records(s, p, from);
        int m = tokenize_prompt(s, p, *from, false, toks, err, errlen);
        if (m < 0) {
            prompt_free(p);
            return -1;
        }
        size_t keep_from = s->n_msgs - 1; /* the user's message stays */
        bool fits = *k + m + n_reply + room <= s->n_ctx;
        if (!fits && !dropped && first_droppable(s) < keep_from) {
            /* dropping helps only if the message and the reply fit without the others */
            int least = smallest_window(s, err, errlen);
            if (least < 0) {
                free(*toks);
                prompt_free(p);
                return -1;
            }
            if (least + n_reply >= s->n_ctx) fits = true; /* no: the caller says it is too long */
        }
        if (fits || first_droppable(s) >= keep_from) {
            if (dropped) s->win.shifts++;
            return m;
        }
        prompt_free(p);
        free(*toks);
        *toks = NULL;
        if (drop_oldest_turn(s, keep_from) < 0) return err_fail(err, errlen, "out of memory");
        dropped = true;
        room = s->n_ctx / 4;
    }
}

/* The reply being written has reached the end of the context: drop the oldest turns and
 * evaluate the window again with the reply so far at its end. Returns 1 when there is
 * room again, 0 when no turn can go (the reply ends), -1 with ERR. */
static int shift_mid_reply(session *s, char *err, size_t errlen) {
    if (!s->chat || s->reply_turn != (int)s->n_msgs - 1) return 0;
    int r0 = s->n;
    while (r0 > 0 && s->recs[r0 - 1].segment == SEG_ASSISTANT && s->recs[r0 - 1].turn == s->reply_turn) r0--;
    int n_reply = s->n - r0;
    int32_t *ids = malloc((size_t)(n_reply ? n_reply : 1) * sizeof *ids);
    if (!ids) return err_fail(err, errlen, "out of memory");
    memcpy(ids, s->tokens + r0, (size_t)n_reply * sizeof *ids);
    message reply = s->msgs[--s->n_msgs]; /* set aside while the window is rendered */
    int shifts = s->win.shifts;
    prompt p;
    size_t from = 0;
    int k = 0;
    int32_t *toks = NULL;
    int m = fit_window(s, n_reply, 1, &p, &k, &from, &toks, err, errlen);
    int rc = m < 0 ? -1 : s->win.shifts == shifts || k + m + n_reply >= s->n_ctx ? 0 : 1;
    if (rc == 1) { /* the prompt as rendered, then the reply's tokens as they were */
        truncate_records(s, k);
        if (add_prompt_records(s, &p, from, toks, m) < 0) rc = err_fail(err, errlen, "out of memory");
        for (int i = 0; rc == 1 && i < n_reply; i++)
            if (add_record(s, ids[i], SEG_ASSISTANT, (int)s->n_msgs, false) < 0)
                rc = err_fail(err, errlen, "out of memory");
    }
    s->msgs[s->n_msgs++] = reply;
    s->reply_turn = (int)s->n_msgs - 1;
    if (rc == 1 && evaluate_from(s, k, err, errlen) < 0) rc = -1;
    if (m >= 0) {
        free(toks);
        prompt_free(&p);
    }
    free(ids);
    return rc;
}

/* ---- the public interface ---- */

session *session_create(const model *m, const struct tokenizer *tok, engine *e,
                        const session_config *cfg, char *err, size_t errlen) {
    if (!m || !tok || !e || !cfg) {
        err_fail(err, errlen, "session: model, tokenizer, engine and configuration are required");
        return NULL;
    }
    session *s = calloc(1, sizeof *s);
    if (!s) {
        err_fail(err, errlen, "out of memory");
        return NULL;
    }
    s->m = m;
    s->tok = tok;
    s->e = e;
    s->n_vocab = m->hp.n_vocab;
    s->n_tok_vocab = tokenizer_n_vocab(tok);
    s->want_summary = s->n_tok_vocab >= s->n_vocab && s->n_vocab >= SAMPLER_TOP_N;
    s->n_layer = m->hp.n_layer;
    s->n_head = m->hp.n_head;
    s->chat = cfg->chat;
    s->capture = cfg->capture_attention;
    s->gates = s->capture && m->hp.n_deltanet > 0;
    s->spm = tokenizer_get_kind(tok) == TOKENIZER_SPM;
    s->max_reply = cfg->max_reply_tokens;
    s->att_budget = cfg->attention_budget_bytes ? cfg->attention_budget_bytes : DEFAULT_ATTENTION_BUDGET;
    s->pred_pos = -1;
    s->stale_from = INT_MAX;
    int n_ctx = cfg->n_ctx > 0 ? cfg->n_ctx : m->hp.n_ctx_train;
    if (cfg->n_ctx <= 0 && (n_ctx <= 0 || n_ctx > DEFAULT_CONTEXT)) n_ctx = DEFAULT_CONTEXT;
    s->n_ctx = n_ctx < e->n_ctx ? n_ctx : e->n_ctx;

    int32_t bos = tokenizer_bos(tok), eos = tokenizer_eos(tok);
    s->bos_text = bos >= 0 ? tokenizer_token_text(tok, bos) : NULL;
    s->eos_text = eos >= 0 ? tokenizer_token_text(tok, eos) : NULL;

    size_t bad;
    if (s->n_ctx < 2) {
        err_fail(err, errlen, "context of %d tokens is too small", s->n_ctx);
    } else if (s->n_tok_vocab > s->n_vocab) {
        err_fail(err, errlen, "the tokenizer has %d tokens but the model's output only %d", s->n_tok_vocab,
                 s->n_vocab);
    } else if (cfg->system_prompt && !utf8_valid(cfg->system_prompt, strlen(cfg->system_prompt), &bad)) {
        err_fail(err, errlen, "the system prompt is not valid UTF-8 (byte %zu)", bad);
    } else if (sampler_init(&s->smp, &cfg->sampling, s->n_vocab) < 0) {
        err_fail(err, errlen, "out of memory");
    } else {
        size_t rows = (size_t)s->n_layer * (size_t)s->n_head;
        s->tokens = calloc((size_t)s->n_ctx, sizeof *s->tokens);
        s->recs = calloc((size_t)s->n_ctx, sizeof *s->recs);
        s->text_len = calloc((size_t)s->n_ctx, sizeof *s->text_len);
        s->pred_logits = calloc((size_t)s->n_vocab, sizeof *s->pred_logits);
        if (s->capture) s->pred_att = calloc(rows * (size_t)s->n_ctx, sizeof *s->pred_att);
        if (s->capture) s->pred_hidden = calloc(record_hidden_bytes(s) / sizeof(uint16_t), sizeof(float));
        s->want_routing = s->capture && m->hp.moe.n_expert > 0;
        if (s->want_routing) s->pred_moe = calloc(record_hidden_bytes(s) / sizeof(uint16_t), sizeof(float));
        if (!s->tokens || !s->recs || !s->text_len || !s->pred_logits ||
            (s->capture && (!s->pred_att || !s->pred_hidden)) || (s->want_routing && !s->pred_moe)) {
            err_fail(err, errlen, "out of memory for a context of %d tokens", s->n_ctx);
        } else if (!s->chat) {
            return s;
        } else {
            gguf_str jinja;
            char *jinja_text = gguf_get_str(&m->file, "tokenizer.chat_template", &jinja) ? gguf_str_dup(jinja) : NULL;
            s->tmpl = chat_template_create(jinja_text, cfg->template_name, &s->tmpl_warning, err, errlen);
            free(jinja_text);
            if (s->tmpl) {
                s->thinking = cfg->enable_thinking;
                if (cfg->system_prompt && *cfg->system_prompt) s->system_next = strdup(cfg->system_prompt);
                session_clear(s);
                return s;
            }
        }
    }
    session_free(s);
    return NULL;
}

void session_free(session *s) {
    if (!s) return;
    if (s->recs) truncate_records(s, 0);
    while (s->n_msgs) pop_message(s);
    free(s->msgs);
    forget_dropped(s);
    free(s->dropped);
    free(s->tokens);
    free(s->recs);
    free(s->text_len);
    free(s->pred_logits);
    free(s->pred_att);
    free(s->pred_hidden);
    free(s->pred_moe);
    routing_free(s->pred_routing);
    free(s->batch_route_ids);
    free(s->batch_route_probs);
    free(s->batch_route_weights);
    free(s->batch_logits);
    free(s->batch_att);
    free(s->batch_gates);
    free(s->batch_top_ids);
    free(s->batch_top_logits);
    free(s->batch_lse);
    free(s->batch_entropy);
    free(s->system_next);
    sampler_free(&s->smp);
    chat_template_free(s->tmpl);
    free(s);
}

int session_begin_reply(session *s, const char *user_text, char *err, size_t errlen) {
    if (!user_text) user_text = "";
    size_t len = strlen(user_text), bad;
    if (!utf8_valid(user_text, len, &bad)) return err_fail(err, errlen, "the text is not valid UTF-8 (byte %zu)", bad);
    s->in_reply = false;
    if (push_message(s, "user", user_text, len) < 0) return err_fail(err, errlen, "out of memory");

    /* the prompt, how much of the cache it keeps, and the tokens of the rest (a chat
     * that no longer fits drops its oldest turns here) */
    prompt p;
    size_t from = 0;
    int k = s->n, m;
    int32_t *toks = NULL;
    if (s->chat) {
        m = fit_window(s, 0, reply_room(s), &p, &k, &from, &toks, err, errlen);
        if (m < 0) {
            pop_message(s);
            return -1;
        }
    } else {
        p = (prompt){.text = strdup(user_text), .len = len, .spans = malloc(sizeof(span)), .n_spans = 1};
        if (!p.text || !p.spans) {
            prompt_free(&p);
            pop_message(s);
            return err_fail(err, errlen, "out of memory");
        }
        p.spans[0] = (span){0, len, false, SEG_PLAIN, (int)s->n_msgs - 1};
        m = tokenize_prompt(s, &p, from, k == 0, &toks, err, errlen);
    }
    int rc = m < 0 ? -1 : 0;
    if (rc == 0 && k + m == 0)
        rc = err_fail(err, errlen, "the prompt is empty and the model has no BOS token to start from");
    else if (rc == 0 && k + m >= s->n_ctx)
        rc = k == 0 ? err_fail(err, errlen, "the prompt is %d tokens but the context holds %d (use a larger context)",
                               m, s->n_ctx)
           : s->chat ? err_fail(err, errlen,
                                "the message needs %d tokens with the system prompt but the context holds %d "
                                "(shorten it, or use a larger context)", k + m, s->n_ctx)
                     : err_fail(err, errlen, "the text needs %d tokens but the context holds %d "
                                             "(clear it or use a larger context)", k + m, s->n_ctx);
    if (rc < 0) {
        free(toks);
        prompt_free(&p);
        pop_message(s);
        return -1;
    }

    truncate_records(s, k);
    rc = add_prompt_records(s, &p, from, toks, m);
    free(toks);
    prompt_free(&p);
    if (rc < 0) {
        truncate_records(s, k);
        pop_message(s);
        return err_fail(err, errlen, "out of memory");
    }

    /* Evaluate everything not yet in the cache. */
    if (evaluate_from(s, k, err, errlen) < 0) {
        truncate_records(s, k);
        pop_message(s);
        return -1;
    }
    /* a turn boundary: rewinds into the reply (branches) start from here (state_ckpt.h) */
    engine_checkpoint(s->e);
    if (push_message(s, "assistant", "", 0) < 0) return err_fail(err, errlen, "out of memory");
    s->reply_turn = (int)s->n_msgs - 1;
    s->reply_count = 0;
    s->in_reply = true;
    s->stop = SESSION_STOP_NONE;
    return 0;
}

/* One more token of the reply: sampled (FORCED < 0) or given (FORCED, e.g. replaying a
 * saved conversation; its record then holds the model's view of it, like a prompt
 * token, unless KEPT brings the sampler's account from when it was drawn). Returns as
 * session_next does. */
static int reply_step(session *s, int32_t forced, const sample_result *kept, const sampler_params *kept_params,
                      const step_record **out, char *err, size_t errlen) {
    /* The previous token is evaluated now rather than when it was made, so that a
     * viewer can show it a forward pass earlier. */
    if (s->pred_pos != s->n - 1 && eval_positions(s, s->n_eval, s->n, s->n, err, errlen) < 0) {
        s->in_reply = false;
        return -1;
    }
    int pos = s->n;
    sample_result res;
    int32_t id = forced;
    const logit_summary *sum = s->pred_sum.n_top ? &s->pred_sum : NULL;
    s->n_summarized += sum != NULL && !kept;
    if (forced < 0) id = sampler_sample_with(&s->smp, s->pred_logits, sum, s->tokens, s->n, &res);
    else if (kept) res = *kept;
    else sampler_describe_with(s->pred_logits, s->n_vocab, sum, id, &res);
    if (add_record(s, id, SEG_ASSISTANT, s->reply_turn, forced < 0 || kept) < 0) {
        s->in_reply = false;
        return err_fail(err, errlen, "out of memory");
    }
    step_record *r = &s->recs[pos];
    r->sample = res;
    if (kept && kept_params) r->params = *kept_params;
    r->has_prediction = true;
    r->routing = routing_copy(s->pred_routing);
    keep_hidden(s, r);
    keep_moe_out(s, r);
    keep_attention(s, r, s->pred_att, (size_t)pos);
    s->reply_count++;
    if (tokenizer_is_eog(s->tok, id)) {
        /* The end-of-turn token is control text like the template's own (<|im_end|>):
         * it keeps its record (why did the reply stop here?) but is not reply text. */
        r->segment = SEG_TEMPLATE;
        s->in_reply = false;
        s->stop = SESSION_STOP_END;
        return 0;
    }
    if (append_to_message(&s->msgs[s->reply_turn], r->text, s->text_len[pos]) < 0) {
        s->in_reply = false;
        return err_fail(err, errlen, "out of memory");
    }
    if (out) *out = r;
    return 1;
}

int session_next(session *s, const step_record **out, char *err, size_t errlen) {
    if (out) *out = NULL;
    if (!s->in_reply) return 0;
    if (s->max_reply > 0 && s->reply_count >= s->max_reply) {
        s->in_reply = false;
        s->stop = SESSION_STOP_LIMIT;
        return 0;
    }
    if (s->n >= s->n_ctx) { /* a chat makes room by dropping its oldest turns */
        int rc = shift_mid_reply(s, err, errlen);
        if (rc <= 0) {
            s->in_reply = false;
            s->stop = rc < 0 ? SESSION_STOP_NONE : SESSION_STOP_FULL;
            return rc;
        }
    }
    return reply_step(s, -1, NULL, NULL, out, err, errlen);
}

int session_force_next(session *s, int32_t id, const step_record **out, char *err, size_t errlen) {
    if (out) *out = NULL;
    if (!s->in_reply) return err_fail(err, errlen, "no reply is open");
    if (id < 0 || id >= s->n_tok_vocab)
        return err_fail(err, errlen, "token %d is not in the vocabulary (%d tokens)", id, s->n_tok_vocab);
    if (s->n >= s->n_ctx) return err_fail(err, errlen, "the context is full (%d tokens)", s->n_ctx);
    return reply_step(s, id, NULL, NULL, out, err, errlen);
}

int session_restore_next(session *s, int32_t id, const sample_result *res, const sampler_params *params,
                         const step_record **out, char *err, size_t errlen) {
    if (out) *out = NULL;
    if (!s->in_reply) return err_fail(err, errlen, "no reply is open");
    if (id < 0 || id >= s->n_tok_vocab)
        return err_fail(err, errlen, "token %d is not in the vocabulary (%d tokens)", id, s->n_tok_vocab);
    if (s->n >= s->n_ctx) return err_fail(err, errlen, "the context is full (%d tokens)", s->n_ctx);
    if (!res || res->id != id) return err_fail(err, errlen, "the sampler's account is of another token");
    return reply_step(s, id, res, params, out, err, errlen);
}

int session_rewind(session *s, size_t rec, char *err, size_t errlen) {
    const step_record *r = rec > 0 && rec < (size_t)s->n ? &s->recs[rec] : NULL;
    int turn = r ? r->turn : -1;
    if (!r || r->segment != SEG_ASSISTANT || !r->has_prediction || turn < 0 || (size_t)turn >= s->n_msgs ||
        strcmp(s->msgs[turn].role, "assistant") != 0)
        return err_fail(err, errlen, "position %zu is not a token of a reply", rec);
    /* The reply's text up to REC is what its earlier tokens say, exactly as reply_step
     * appended it. */
    size_t len = 0;
    int count = 0;
    for (size_t i = 0; i < rec; i++)
        if (s->recs[i].segment == SEG_ASSISTANT && s->recs[i].turn == turn) len += s->text_len[i], count++;
    char *text = malloc(len + 1);
    if (!text) return err_fail(err, errlen, "out of memory");
    size_t o = 0;
    for (size_t i = 0; i < rec; i++)
        if (s->recs[i].segment == SEG_ASSISTANT && s->recs[i].turn == turn) {
            memcpy(text + o, s->recs[i].text, s->text_len[i]);
            o += s->text_len[i];
        }
    text[len] = 0;
    while (s->n_msgs > (size_t)turn + 1) pop_message(s);
    free(s->msgs[turn].content);
    s->msgs[turn].content = text;
    s->msgs[turn].len = len;

    truncate_records(s, (int)rec);
    /* REC's prediction is the output at REC-1: kept when it is at hand, else reply_step
     * evaluates that position again (overwriting the cache with the same token). */
    if (s->pred_pos != (int)rec - 1) {
        s->pred_pos = -1;
        if (s->n_eval > (int)rec - 1) s->n_eval = (int)rec - 1;
    }
    s->in_reply = true;
    s->reply_turn = turn;
    s->reply_count = count;
    return 0;
}

void session_stop_reply(session *s) {
    /* The reply stays as it is; the next turn's rendering closes it as the template
     * requires (an <|im_end|> the model never produced, say), and those tokens are
     * evaluated with the next prompt. */
    if (s->in_reply) s->stop = SESSION_STOP_USER;
    s->in_reply = false;
}

size_t session_n_records(const session *s) { return (size_t)s->n; }

const step_record *session_record(const session *s, size_t i) {
    return i < (size_t)s->n ? &s->recs[i] : NULL;
}

bool session_attention_row(const session *s, const step_record *r, int layer, int head, float *out) {
    if (!r || !r->attention || layer < 0 || layer >= s->n_layer || head < 0 || head >= s->n_head) return false;
    const uint16_t *row = r->attention + ((size_t)layer * (size_t)s->n_head + (size_t)head) * (size_t)r->n_keys;
    for (int k = 0; k < r->n_keys; k++) out[k] = fp16_to_f32(row[k]);
    return true;
}

void session_set_sampling(session *s, const sampler_params *p) { sampler_set_params(&s->smp, p); }

const sampler_params *session_sampling(const session *s) { return &s->smp.p; }

void session_set_system_prompt(session *s, const char *text) {
    free(s->system_next);
    s->system_next = text && *text ? strdup(text) : NULL;
}

const char *session_system_prompt(const session *s) { return s->system_next; }

void session_clear(session *s) {
    truncate_records(s, 0);
    while (s->n_msgs) pop_message(s);
    forget_dropped(s);
    s->in_reply = false;
    s->pred_pos = -1;
    s->att_oldest = 0;
    if (s->chat && s->system_next) push_message(s, "system", s->system_next, strlen(s->system_next));
}

const char *session_template_name(const session *s) {
    return s->tmpl ? chat_template_name(s->tmpl) : "completion";
}

const char *session_template_warning(const session *s) { return s->tmpl_warning; }

void session_set_thinking(session *s, chat_thinking mode) { s->thinking = mode; }

size_t session_n_messages(const session *s) { return s->n_msgs; }

const char *session_message_role(const session *s, size_t i) { return i < s->n_msgs ? s->msgs[i].role : NULL; }

chat_thinking session_thinking(const session *s) { return s->thinking; }

char *session_render_conversation(const session *s, chat_span **spans, size_t *n_spans, char *err,
                                  size_t errlen) {
    if (spans) *spans = NULL;
    if (n_spans) *n_spans = 0;
    if (!s->chat || !s->tmpl) {
        err_fail(err, errlen, "completion mode has no chat template");
        return NULL;
    }
    chat_message *cm = chat_messages(s);
    if (!cm) {
        err_fail(err, errlen, "out of memory");
        return NULL;
    }
    bool replied = s->n_msgs > 0 && strcmp(s->msgs[s->n_msgs - 1].role, "assistant") == 0;
    chat_render_options opt = render_options(s, !replied);
    char *text = chat_template_render_spans(s->tmpl, cm, s->n_msgs, &opt, spans, n_spans, err, errlen);
    free(cm);
    return text;
}

bool session_is_chat(const session *s) { return s->chat; }

int session_n_ctx(const session *s) { return s->n_ctx; }

const model *session_model(const session *s) { return s->m; }

engine *session_lens_engine(const session *s) { return engine_has_lens(s->e) ? s->e : NULL; }

size_t session_summarized(const session *s) { return s->n_summarized; }

size_t session_attention_dropped(const session *s) { return s->att_dropped; }

session_stop session_stop_reason(const session *s) { return s->stop; }

void session_window_info(const session *s, session_window *out) { *out = s->win; }

size_t session_n_dropped(const session *s) { return s->n_dropped; }

const char *session_dropped(const session *s, size_t i, const char **role) {
    if (i >= s->n_dropped) return NULL;
    if (role) *role = s->dropped[i].role;
    return s->dropped[i].content;
}
