/* tui_save.c — /save and /load: a conversation with its per-token records, as JSON Lines.
 *
 * Line 1 is a header ({"llmscope":"conversation","version":1, model, the vocabulary's
 * fingerprint, mode, sampling, system prompt}). Then, in order, one {"type":"input"} line
 * for every message the user sent (what was typed, byte for byte) and one
 * {"type":"token"} line for every record: id, text, segment, turn, whether it was
 * sampled, and the record's probabilities (before and after the sampler, entropy, rank,
 * blame, top candidates). Attention rows are not written: they are large, and /load
 * recomputes them.
 *
 * /save writes a temporary file beside the target and renames it over it once it is
 * complete and on disk (model/atomic_file.h): a full disk or a crash leaves the old file.
 *
 * /load replays the file through the session: each input is sent again and each of the
 * model's tokens is forced in place of a fresh draw (session_force_next), so the KV
 * cache and the records are rebuilt exactly and the chat can go on from there. The file
 * is untrusted: it is read with hard limits (model/line_reader.h: /dev/zero is one
 * endless line) and checked whole — header, vocabulary fingerprint, every line, every
 * message's UTF-8 — before the current conversation is touched. What only the replay can
 * find (a context that overflows, an engine error) or an interruption (a quit signal)
 * puts the conversation that was there back: it is snapshotted the same way first and
 * replayed with the sampler's accounts of its tokens, branches kept. */
#include "tui_app.h"

#include "atomic_file.h"
#include "line_reader.h"
#include "term_text.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static const char *segment_name(segment_kind k) {
    switch (k) {
    case SEG_TEMPLATE: return "template";
    case SEG_SYSTEM: return "system";
    case SEG_USER: return "user";
    case SEG_ASSISTANT: return "assistant";
    case SEG_PLAIN: return "plain";
    }
    return "?";
}

/* JSON strings must be UTF-8: a token holding part of a character gets U+FFFD in "text"
 * and its exact bytes in "bytes" (hex). */
static void add_text(cJSON *o, const char *key, const char *text) {
    size_t n = strlen(text), bad;
    if (utf8_valid(text, n, &bad)) {
        cJSON_AddStringToObject(o, key, text);
        return;
    }
    char *clean = malloc(n * 3 + 1), *hex = malloc(n * 2 + 1);
    if (clean && hex) {
        size_t o2 = 0;
        for (size_t i = 0; i < n;) {
            wchar_t wc;
            int len = tui_utf8_decode(text + i, n - i, &wc);
            if (wc == 0xFFFD) memcpy(clean + o2, "\xEF\xBF\xBD", 3), o2 += 3;
            else memcpy(clean + o2, text + i, (size_t)len), o2 += (size_t)len;
            i += (size_t)len;
        }
        clean[o2] = 0;
        for (size_t i = 0; i < n; i++) snprintf(hex + 2 * i, 3, "%02x", (unsigned char)text[i]);
        cJSON_AddStringToObject(o, key, clean);
        cJSON_AddStringToObject(o, "bytes", hex);
    }
    free(clean);
    free(hex);
}

static cJSON *candidates(const tui_app *a, const token_prob *list, int n, bool skip_zero) {
    cJSON *arr = cJSON_CreateArray();
    for (int i = 0; i < n && arr; i++) {
        if (skip_zero && list[i].prob <= 0) break;
        cJSON *c = cJSON_CreateObject();
        cJSON_AddNumberToObject(c, "id", list[i].id);
        char piece[256];
        int len = tokenizer_piece(a->tok, list[i].id, piece, sizeof piece - 1);
        if (len < 0) len = 0;
        if ((size_t)len > sizeof piece - 1) len = (int)sizeof piece - 1;
        piece[len] = 0;
        add_text(c, "text", piece);
        cJSON_AddNumberToObject(c, "prob", list[i].prob);
        cJSON_AddNumberToObject(c, "logit", list[i].logit);
        cJSON_AddItemToArray(arr, c);
    }
    return arr;
}

static cJSON *params_json(const sampler_params *p) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "temperature", p->temperature);
    cJSON_AddNumberToObject(o, "top_k", p->top_k);
    cJSON_AddNumberToObject(o, "top_p", p->top_p);
    cJSON_AddNumberToObject(o, "min_p", p->min_p);
    cJSON_AddNumberToObject(o, "repeat_penalty", p->repeat_penalty);
    cJSON_AddNumberToObject(o, "repeat_last_n", p->repeat_last_n);
    cJSON_AddNumberToObject(o, "seed", (double)p->seed);
    return o;
}

static cJSON *record_json(const tui_app *a, const step_record *r) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "token");
    cJSON_AddNumberToObject(o, "pos", r->pos);
    cJSON_AddNumberToObject(o, "id", r->token);
    add_text(o, "text", r->text ? r->text : "");
    cJSON_AddStringToObject(o, "segment", segment_name(r->segment));
    cJSON_AddNumberToObject(o, "turn", r->turn);
    cJSON_AddBoolToObject(o, "generated", r->generated);
    if (!r->has_prediction) return o;
    const sample_result *s = &r->sample;
    int n = s->n_top < SAMPLER_TOP_N ? s->n_top : SAMPLER_TOP_N;
    cJSON_AddNumberToObject(o, "prob", s->prob_before);
    cJSON_AddNumberToObject(o, "entropy", s->entropy_before);
    cJSON_AddNumberToObject(o, "rank", s->rank_before);
    cJSON_AddItemToObject(o, "top", candidates(a, s->top_before, n, false));
    if (r->generated) {
        cJSON_AddNumberToObject(o, "prob_after", s->prob_after);
        cJSON_AddNumberToObject(o, "entropy_after", s->entropy_after);
        cJSON_AddNumberToObject(o, "margin", s->margin);
        cJSON_AddNumberToObject(o, "greedy_id", s->greedy_id);
        cJSON_AddStringToObject(o, "blame", sampler_stage_name(s->blame));
        cJSON_AddNumberToObject(o, "candidates_after", s->n_candidates_after);
        cJSON_AddItemToObject(o, "top_after", candidates(a, s->top_after, n, true));
        cJSON_AddItemToObject(o, "sampling", params_json(&r->params));
    }
    return o;
}

static bool write_line(FILE *f, cJSON *o) {
    char *s = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (!s) return false;
    bool ok = fputs(s, f) >= 0 && fputc('\n', f) != EOF;
    free(s);
    return ok;
}

/* The system prompt as the session holds it: the text of its system records. */
static char *system_text(const tui_app *a) {
    size_t n = session_n_records(a->s), len = 0;
    for (size_t i = 0; i < n; i++) {
        const step_record *r = session_record(a->s, i);
        if (r->segment == SEG_SYSTEM && r->text) len += strlen(r->text);
    }
    if (len == 0) return NULL;
    char *s = malloc(len + 1);
    if (!s) return NULL;
    s[0] = 0;
    for (size_t i = 0, o = 0; i < n; i++) {
        const step_record *r = session_record(a->s, i);
        if (r->segment == SEG_SYSTEM && r->text) {
            size_t k = strlen(r->text);
            memcpy(s + o, r->text, k + 1);
            o += k;
        }
    }
    return s;
}

/* The vocabulary's fingerprint as the header writes it. */
static void vocab_hash_text(const tui_app *a, char *buf, size_t cap) {
    snprintf(buf, cap, "fnv1a64:%016" PRIx64, tokenizer_vocabulary_hash(a->tok));
}

int tui_save(tui_app *a, const char *path, char *err, size_t errlen) {
    atomic_file out;
    if (atomic_file_open(&out, path, err, errlen) < 0) return -1;
    cJSON *h = cJSON_CreateObject();
    cJSON_AddStringToObject(h, "llmscope", "conversation");
    cJSON_AddNumberToObject(h, "version", 1);
    add_text(h, "model", a->m->name ? a->m->name : "");
    cJSON_AddStringToObject(h, "arch", a->m->hp.arch_name);
    char hash[32];
    vocab_hash_text(a, hash, sizeof hash);
    cJSON_AddStringToObject(h, "vocab_hash", hash);
    cJSON_AddNumberToObject(h, "n_vocab", tokenizer_n_vocab(a->tok));
    cJSON_AddBoolToObject(h, "chat", session_is_chat(a->s));
    const char *tmpl = session_template_name(a->s);
    if (tmpl) cJSON_AddStringToObject(h, "template", tmpl);
    cJSON_AddNumberToObject(h, "n_ctx", session_n_ctx(a->s));
    cJSON_AddItemToObject(h, "sampling", params_json(session_sampling(a->s)));
    char *sys = system_text(a);
    if (sys) add_text(h, "system", sys);
    free(sys);
    bool ok = write_line(out.f, h);

    size_t n = session_n_records(a->s), t = 0;
    for (size_t i = 0; i <= n && ok; i++) {
        for (; t < a->n_turns && a->turns[t].first_record <= i && ok; t++) {
            cJSON *in = cJSON_CreateObject();
            cJSON_AddStringToObject(in, "type", "input");
            add_text(in, "text", a->turns[t].text);
            ok = write_line(out.f, in);
        }
        if (i < n && ok) ok = write_line(out.f, record_json(a, session_record(a->s, i)));
    }
    if (!ok && !ferror(out.f)) { /* not a write: out of memory building a line */
        atomic_file_abort(&out);
        snprintf(err, errlen, "cannot save %s: out of memory (the file there is unchanged)", path);
        return -1;
    }
    /* a failed write shows here: reported, the temporary file removed */
    return atomic_file_commit(&out, err, errlen);
}

/* ---- loading ---- */

/* One step of a replay: a message to send, or one of the model's tokens. */
typedef struct step {
    char *input;          /* the message, or NULL: token ID */
    int32_t id;
    bool restore;         /* sampled: put back with the sampler's account below */
    sample_result sample;
    sampler_params params;
} step;

/* A conversation to rebuild: read from a file, or a snapshot of the session. */
typedef struct plan {
    step *st;
    size_t n, cap;
    char *system;         /* its system prompt, or NULL */
} plan;

static void plan_free(plan *p) {
    for (size_t i = 0; i < p->n; i++) free(p->st[i].input);
    free(p->st);
    free(p->system);
    memset(p, 0, sizeof *p);
}

/* Appends S (taking its input string); false when out of memory (S's string freed). */
static bool plan_push(plan *p, step s) {
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 256;
        step *q = realloc(p->st, cap * sizeof *q);
        if (!q) {
            free(s.input);
            return false;
        }
        p->st = q;
        p->cap = cap;
    }
    p->st[p->n++] = s;
    return true;
}

/* A saved conversation is small: one line per token of the context and per message. A
 * line longer than this, a file larger than the context could explain, or more lines is
 * not one (and /dev/zero is one endless line). */
#define LOAD_MAX_LINE ((size_t)16 << 20)
static uint64_t load_max_bytes(int n_ctx) { return ((uint64_t)64 << 20) + (uint64_t)n_ctx * (64u << 10); }
static long load_max_lines(int n_ctx) { return 4L * n_ctx + 1024; }

static bool quit_requested(void *unused) {
    (void)unused;
    return tui_quit_requested();
}

/* Checks the header (line 1). */
static int read_header(tui_app *a, const cJSON *o, const char *path, plan *p, char *err, size_t errlen) {
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(o, "llmscope");
    const cJSON *ver = cJSON_GetObjectItemCaseSensitive(o, "version");
    const cJSON *chat = cJSON_GetObjectItemCaseSensitive(o, "chat");
    const cJSON *sys = cJSON_GetObjectItemCaseSensitive(o, "system");
    const cJSON *hash = cJSON_GetObjectItemCaseSensitive(o, "vocab_hash");
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(o, "model");
    const cJSON *n_vocab = cJSON_GetObjectItemCaseSensitive(o, "n_vocab");
    char ours[32];
    vocab_hash_text(a, ours, sizeof ours);
    if (!cJSON_IsString(kind) || strcmp(kind->valuestring, "conversation") != 0 || !cJSON_IsNumber(ver)) {
        snprintf(err, errlen, "%s: not an llmscope conversation (no header on line 1)", path);
    } else if (ver->valuedouble != 1) {
        snprintf(err, errlen, "%s: conversation format version %g is not supported (1 is)", path, ver->valuedouble);
    } else if (cJSON_IsString(hash) && strcmp(hash->valuestring, ours) != 0) {
        /* the name is the file's: made safe for the screen, and short */
        char name[64] = "another model";
        if (cJSON_IsString(model) && *model->valuestring) term_clean(model->valuestring, name, sizeof name);
        char vocab[64] = "";
        if (cJSON_IsNumber(n_vocab))
            snprintf(vocab, sizeof vocab, ", %.0f tokens; this one has %d", n_vocab->valuedouble, tokenizer_n_vocab(a->tok));
        snprintf(err, errlen, "%s: saved with another vocabulary (model %s%s): load it with that model", path, name,
                 vocab);
    } else if (cJSON_IsBool(chat) && cJSON_IsTrue(chat) != session_is_chat(a->s)) {
        snprintf(err, errlen, "%s was saved in %s mode, but this model runs in %s mode", path,
                 cJSON_IsTrue(chat) ? "chat" : "completion", session_is_chat(a->s) ? "chat" : "completion");
    } else if (cJSON_IsString(sys) && !utf8_valid(sys->valuestring, strlen(sys->valuestring), NULL)) {
        snprintf(err, errlen, "%s: the system prompt is not valid UTF-8", path);
    } else {
        if (cJSON_IsString(sys) && *sys->valuestring && !(p->system = strdup(sys->valuestring))) {
            snprintf(err, errlen, "%s: out of memory", path);
            return -1;
        }
        return 0;
    }
    return -1;
}

/* One line after the header: a step to take, none (*USE false), or -1 with WHY. */
static int read_step(const cJSON *o, int n_vocab, step *s, bool *use, char *why, size_t whylen) {
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(o, "type");
    *s = (step){.input = NULL, .id = -1};
    *use = false;
    if (cJSON_IsString(type) && strcmp(type->valuestring, "input") == 0) {
        const cJSON *text = cJSON_GetObjectItemCaseSensitive(o, "text");
        if (!cJSON_IsString(text)) return snprintf(why, whylen, "input without text"), -1;
        /* checked now: found only while replaying, it would cost the conversation */
        if (!utf8_valid(text->valuestring, strlen(text->valuestring), NULL))
            return snprintf(why, whylen, "a message that is not valid UTF-8"), -1;
        if (!(s->input = strdup(text->valuestring))) return snprintf(why, whylen, "out of memory"), -1;
        *use = true;
    } else if (cJSON_IsString(type) && strcmp(type->valuestring, "token") == 0) {
        const cJSON *gen = cJSON_GetObjectItemCaseSensitive(o, "generated");
        const cJSON *seg = cJSON_GetObjectItemCaseSensitive(o, "segment");
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "id");
        /* the model's tokens: sampled, or replayed by an earlier /load; given tokens
         * (template, the user's text) are rebuilt from the inputs */
        if (cJSON_IsTrue(gen) || (cJSON_IsString(seg) && strcmp(seg->valuestring, "assistant") == 0)) {
            if (!cJSON_IsNumber(id) || id->valuedouble < 0 || id->valuedouble >= n_vocab ||
                id->valuedouble != (double)(int32_t)id->valuedouble)
                return snprintf(why, whylen, "token id is not in this model's vocabulary (0..%d)", n_vocab - 1), -1;
            s->id = (int32_t)id->valuedouble;
            *use = true;
        }
    }
    return 0;
}

/* Reads and checks the whole file into P. */
static int read_plan(tui_app *a, FILE *f, const char *path, plan *p, char *err, size_t errlen) {
    const int n_ctx = session_n_ctx(a->s), n_vocab = tokenizer_n_vocab(a->tok);
    line_reader lr;
    line_reader_init(&lr, f, LOAD_MAX_LINE, load_max_bytes(n_ctx));
    lr.cancel = quit_requested;
    size_t len;
    line_status st;
    int rc = 0;
    char why[256];
    while (rc == 0 && (st = line_reader_next(&lr, &len)) == LINE_OK) {
        if (lr.lineno > load_max_lines(n_ctx)) {
            snprintf(err, errlen, "%s: more than %ld lines: not a conversation of this context (%d tokens)", path,
                     load_max_lines(n_ctx), n_ctx);
            rc = -1;
            break;
        }
        if (len == 0) continue;
        cJSON *o = cJSON_ParseWithLength(lr.buf, len);
        if (!cJSON_IsObject(o)) {
            snprintf(err, errlen, "%s:%ld: not a JSON object", path, lr.lineno);
            rc = -1;
        } else if (lr.lineno == 1) {
            rc = read_header(a, o, path, p, err, errlen);
        } else {
            step s;
            bool use;
            if (read_step(o, n_vocab, &s, &use, why, sizeof why) < 0) {
                snprintf(err, errlen, "%s:%ld: %s", path, lr.lineno, why);
                rc = -1;
            } else if (use && !plan_push(p, s)) {
                snprintf(err, errlen, "%s: out of memory", path);
                rc = -1;
            }
        }
        cJSON_Delete(o);
    }
    if (rc == 0 && st != LINE_END) {
        line_reader_describe(&lr, st, why, sizeof why);
        snprintf(err, errlen, "%s: %s", path, why);
        rc = -1;
    }
    if (rc == 0 && lr.lineno == 0) {
        snprintf(err, errlen, "%s is empty", path);
        rc = -1;
    }
    line_reader_free(&lr);
    return rc;
}

/* The conversation in the session as a plan: its messages and the model's tokens, the
 * sampled ones with the sampler's account. False when out of memory. */
static bool snapshot(tui_app *a, plan *p) {
    memset(p, 0, sizeof *p);
    size_t n = session_n_records(a->s), t = 0;
    char *sys = system_text(a);
    p->system = sys;
    for (size_t i = 0; i <= n; i++) {
        for (; t < a->n_turns && a->turns[t].first_record <= i; t++) {
            char *text = strdup(a->turns[t].text);
            if (!text || !plan_push(p, (step){.input = text, .id = -1})) return false;
        }
        const step_record *r = i < n ? session_record(a->s, i) : NULL;
        if (r && (r->generated || r->segment == SEG_ASSISTANT) &&
            !plan_push(p, (step){.id = r->token, .restore = r->generated, .sample = r->sample, .params = r->params}))
            return false;
    }
    return true;
}

/* Replays P into the (cleared) session. INPUTS counts the messages sent. */
static int replay(tui_app *a, const plan *p, const char *path, size_t *inputs, char *err, size_t errlen) {
    bool open = false;
    *inputs = 0;
    int rc = 0;
    for (size_t i = 0; i < p->n && rc == 0; i++) {
        char why[256];
        const step *s = &p->st[i];
        if (tui_quit_requested()) {
            snprintf(err, errlen, "%s: loading was interrupted", path);
            rc = -1;
        } else if (s->input) {
            if (open) session_stop_reply(a->s);
            size_t first = session_n_records(a->s);
            if (session_begin_reply(a->s, s->input, why, sizeof why) != 0) {
                snprintf(err, errlen, "%s: replaying message %zu: %s", path, *inputs + 1, why);
                rc = -1;
            } else if (!tui_turns_push(a, s->input, first)) {
                snprintf(err, errlen, "%s: out of memory", path);
                rc = -1;
            } else {
                open = true;
                (*inputs)++;
            }
        } else if (open) { /* a reply without its message (an edited file): nothing to attach it to */
            const step_record *r;
            int k = s->restore ? session_restore_next(a->s, s->id, &s->sample, &s->params, &r, why, sizeof why)
                               : session_force_next(a->s, s->id, &r, why, sizeof why);
            if (k < 0) {
                snprintf(err, errlen, "%s: replaying a reply token: %s", path, why);
                rc = -1;
            } else if (k == 0) {
                open = false;
            }
        }
    }
    if (open) session_stop_reply(a->s);
    return rc;
}

/* Clears the conversation and rebuilds P with SYSTEM as its system prompt. */
static int rebuild(tui_app *a, const plan *p, const char *path, size_t *inputs, char *err, size_t errlen) {
    session_set_system_prompt(a->s, p->system);
    tui_reset_conversation(a);
    return replay(a, p, path, inputs, err, errlen);
}

int tui_load(tui_app *a, const char *path, char *err, size_t errlen) {
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    plan want = {0}, had = {0};
    int rc = read_plan(a, f, path, &want, err, errlen);
    fclose(f);
    if (rc == 0 && !snapshot(a, &had)) {
        snprintf(err, errlen, "%s: out of memory", path);
        rc = -1;
    }
    if (rc) { /* nothing touched */
        plan_free(&want);
        plan_free(&had);
        return -1;
    }
    const char *pending = session_system_prompt(a->s);
    char *pending_copy = pending ? strdup(pending) : NULL;
    /* the branch tree belongs to the conversation there: set aside, back if it comes back */
    tui_branches branches = a->branches;
    memset(&a->branches, 0, sizeof a->branches);
    tui_message(a, false, "loading %zu steps from %s ...", want.n, path);
    tui_draw_now(a);
    size_t inputs = 0;
    rc = rebuild(a, &want, path, &inputs, err, errlen);
    if (rc == 0) {
        tui_branches fresh = a->branches;
        a->branches = branches;
        tui_branches_free(a);
        a->branches = fresh;
        snprintf(err, errlen, "loaded %zu message%s from %s", inputs, inputs == 1 ? "" : "s", path);
    } else if (!tui_quit_requested()) {
        /* the outcome first: a long message is cut at the screen's edge */
        char failed[512], why[256];
        size_t had_inputs;
        snprintf(failed, sizeof failed, "%s", err);
        int back = rebuild(a, &had, path, &had_inputs, why, sizeof why);
        if (back == 0) {
            tui_branches_free(a);
            a->branches = branches;
            snprintf(err, errlen, "not loaded, your conversation kept: %s", failed);
        } else {
            a->branches = branches;
            tui_branches_free(a);
            snprintf(err, errlen, "not loaded, and the conversation before could not be rebuilt (%s): %s", why, failed);
        }
        session_set_system_prompt(a->s, pending_copy);
    } else {
        a->branches = branches;
        tui_branches_free(a);
    }
    free(pending_copy);
    plan_free(&want);
    plan_free(&had);
    a->epoch++;
    a->dirty = true;
    return rc;
}
