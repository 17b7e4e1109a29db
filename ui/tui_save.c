/* tui_save.c — /save and /load: a conversation with its per-token records, as JSON Lines.
 *
 * Line 1 is a header ({"llmscope":"conversation","version":1, model, mode, sampling,
 * system prompt}). Then, in order, one {"type":"input"} line for every message the user
 * sent (what was typed, byte for byte) and one {"type":"token"} line for every record:
 * id, text, segment, turn, whether it was sampled, and the record's probabilities
 * (before and after the sampler, entropy, rank, blame, top candidates). Attention rows
 * are not written: they are large, and /load recomputes them.
 *
 * /load replays the file through the session: each input is sent again and each of the
 * model's tokens is forced in place of a fresh draw (session_force_next), so the KV
 * cache and the records are rebuilt exactly and the chat can go on from there. The whole
 * file is read and checked before the current conversation is touched. */
#include "tui_app.h"

#include <cjson/cJSON.h>
#include <errno.h>
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

int tui_save(tui_app *a, const char *path, char *err, size_t errlen) {
    FILE *f = fopen(path, "w");
    if (!f) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    cJSON *h = cJSON_CreateObject();
    cJSON_AddStringToObject(h, "llmscope", "conversation");
    cJSON_AddNumberToObject(h, "version", 1);
    add_text(h, "model", a->m->name ? a->m->name : "");
    cJSON_AddStringToObject(h, "arch", a->m->hp.arch_name);
    cJSON_AddBoolToObject(h, "chat", session_is_chat(a->s));
    const char *tmpl = session_template_name(a->s);
    if (tmpl) cJSON_AddStringToObject(h, "template", tmpl);
    cJSON_AddNumberToObject(h, "n_ctx", session_n_ctx(a->s));
    cJSON_AddItemToObject(h, "sampling", params_json(session_sampling(a->s)));
    char *sys = system_text(a);
    if (sys) add_text(h, "system", sys);
    free(sys);
    bool ok = write_line(f, h);

    size_t n = session_n_records(a->s), t = 0;
    for (size_t i = 0; i <= n && ok; i++) {
        for (; t < a->n_turns && a->turns[t].first_record <= i && ok; t++) {
            cJSON *in = cJSON_CreateObject();
            cJSON_AddStringToObject(in, "type", "input");
            add_text(in, "text", a->turns[t].text);
            ok = write_line(f, in);
        }
        if (i < n && ok) ok = write_line(f, record_json(a, session_record(a->s, i)));
    }
    if (fclose(f) != 0) ok = false;
    if (!ok) {
        snprintf(err, errlen, "writing %s failed: %s", path, errno ? strerror(errno) : "out of memory");
        return -1;
    }
    return 0;
}

/* ---- loading ---- */

typedef struct step {
    char *input; /* a message to send, or NULL: force token ID */
    int32_t id;
} step;

/* A saved conversation is small (one line per token); anything far bigger is not one. */
#define LOAD_MAX_LINE (16u << 20)

static void free_steps(step *st, size_t n) {
    for (size_t i = 0; i < n; i++) free(st[i].input);
    free(st);
}

/* Reads and checks the whole file into a list of steps. */
static int read_plan(tui_app *a, FILE *f, const char *path, step **out, size_t *n_out, char **system,
                     char *err, size_t errlen) {
    char *line = NULL;
    size_t cap = 0, n = 0, cap_steps = 0;
    step *st = NULL;
    ssize_t len;
    long lineno = 0;
    int rc = 0;
    int n_vocab = tokenizer_n_vocab(a->tok);
    *system = NULL;
    while ((len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        if ((size_t)len > LOAD_MAX_LINE) {
            snprintf(err, errlen, "%s:%ld: line too long for a saved conversation", path, lineno);
            rc = -1;
            break;
        }
        if (len == 0 || (len == 1 && line[0] == '\n')) continue;
        cJSON *o = cJSON_ParseWithLength(line, (size_t)len);
        if (!o || !cJSON_IsObject(o)) {
            snprintf(err, errlen, "%s:%ld: not a JSON object", path, lineno);
            cJSON_Delete(o);
            rc = -1;
            break;
        }
        if (lineno == 1) {
            const cJSON *kind = cJSON_GetObjectItemCaseSensitive(o, "llmscope");
            const cJSON *ver = cJSON_GetObjectItemCaseSensitive(o, "version");
            const cJSON *chat = cJSON_GetObjectItemCaseSensitive(o, "chat");
            const cJSON *sys = cJSON_GetObjectItemCaseSensitive(o, "system");
            if (!cJSON_IsString(kind) || strcmp(kind->valuestring, "conversation") != 0 || !cJSON_IsNumber(ver)) {
                snprintf(err, errlen, "%s: not an llmscope conversation (no header on line 1)", path);
                rc = -1;
            } else if (ver->valuedouble != 1) {
                snprintf(err, errlen, "%s: conversation format version %g is not supported (1 is)", path, ver->valuedouble);
                rc = -1;
            } else if (cJSON_IsBool(chat) && cJSON_IsTrue(chat) != session_is_chat(a->s)) {
                snprintf(err, errlen, "%s was saved in %s mode, but this model runs in %s mode", path,
                         cJSON_IsTrue(chat) ? "chat" : "completion", session_is_chat(a->s) ? "chat" : "completion");
                rc = -1;
            } else if (cJSON_IsString(sys)) {
                *system = strdup(sys->valuestring);
            }
            cJSON_Delete(o);
            if (rc) break;
            continue;
        }
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(o, "type");
        step s = {NULL, -1};
        bool use = false;
        if (cJSON_IsString(type) && strcmp(type->valuestring, "input") == 0) {
            const cJSON *text = cJSON_GetObjectItemCaseSensitive(o, "text");
            if (!cJSON_IsString(text)) {
                snprintf(err, errlen, "%s:%ld: input without text", path, lineno);
                rc = -1;
            } else {
                s.input = strdup(text->valuestring);
                use = s.input != NULL;
            }
        } else if (cJSON_IsString(type) && strcmp(type->valuestring, "token") == 0) {
            const cJSON *gen = cJSON_GetObjectItemCaseSensitive(o, "generated");
            const cJSON *seg = cJSON_GetObjectItemCaseSensitive(o, "segment");
            const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "id");
            /* the model's tokens: sampled, or replayed by an earlier /load */
            if (cJSON_IsTrue(gen) || (cJSON_IsString(seg) && strcmp(seg->valuestring, "assistant") == 0)) {
                if (!cJSON_IsNumber(id) || id->valuedouble < 0 || id->valuedouble >= n_vocab ||
                    id->valuedouble != (double)(int32_t)id->valuedouble) {
                    snprintf(err, errlen, "%s:%ld: token id is not in this model's vocabulary (0..%d)", path, lineno, n_vocab - 1);
                    rc = -1;
                } else {
                    s.id = (int32_t)id->valuedouble;
                    use = true;
                }
            }
            /* given tokens (template, the user's text) are rebuilt from the inputs */
        }
        cJSON_Delete(o);
        if (rc) break;
        if (!use) continue;
        if (n == cap_steps) {
            size_t nc = cap_steps ? cap_steps * 2 : 256;
            step *q = realloc(st, nc * sizeof *q);
            if (!q) {
                free(s.input);
                snprintf(err, errlen, "%s: out of memory", path);
                rc = -1;
                break;
            }
            st = q;
            cap_steps = nc;
        }
        st[n++] = s;
    }
    free(line);
    if (rc == 0 && lineno == 0) {
        snprintf(err, errlen, "%s is empty", path);
        rc = -1;
    }
    if (rc) {
        free_steps(st, n);
        free(*system);
        *system = NULL;
        return -1;
    }
    *out = st;
    *n_out = n;
    return 0;
}

int tui_load(tui_app *a, const char *path, char *err, size_t errlen) {
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    step *st = NULL;
    size_t n = 0;
    char *system = NULL;
    int rc = read_plan(a, f, path, &st, &n, &system, err, errlen);
    fclose(f);
    if (rc) return -1;

    if (system) session_set_system_prompt(a->s, system);
    free(system);
    tui_reset_conversation(a);
    bool open = false;
    size_t inputs = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        char why[256];
        if (st[i].input) {
            if (open) session_stop_reply(a->s);
            size_t first = session_n_records(a->s);
            if (session_begin_reply(a->s, st[i].input, why, sizeof why) != 0) {
                snprintf(err, errlen, "%s: replaying message %zu: %s", path, inputs + 1, why);
                rc = -1;
                break;
            }
            tui_turns_push(a, st[i].input, first);
            open = true;
            inputs++;
        } else {
            if (!open) continue; /* a reply without its message (edited file): nothing to attach it to */
            const step_record *r;
            int k = session_force_next(a->s, st[i].id, &r, why, sizeof why);
            if (k < 0) {
                snprintf(err, errlen, "%s: replaying a reply token: %s", path, why);
                rc = -1;
            } else if (k == 0) {
                open = false;
            }
        }
    }
    if (open) session_stop_reply(a->s);
    free_steps(st, n);
    a->epoch++;
    a->dirty = true;
    if (rc == 0) snprintf(err, errlen, "loaded %zu message%s from %s", inputs, inputs == 1 ? "" : "s", path);
    return rc;
}
