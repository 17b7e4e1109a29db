/* tui_heads.c — what each attention head does: previous-token, induction/copy,
 * first-token sink, broad, or none of these (inspect_head_roles decides).
 *
 * Roles are a property of the heads, measured over the conversation's recent queries,
 * not of one token; they are computed when the conversation has changed and no reply is
 * streaming (while one streams the labels stay as they were, so the heatmap does not
 * flicker and no time is taken from generation). The window is as many recent queries as
 * fit a fixed amount of work (queries x heads x keys), at least 16 and at most 256, so
 * that a 32-layer model deep into a long context still answers in a blink.
 *
 * The heatmap labels its rows with the role, and a filter shows only heads of one role:
 * 'r' while inspecting cycles through them, /heads ROLE picks one. */
#include "tui_app.h"

#include <stdio.h>
#include <string.h>

#define ROLE_WORK 10000000.0 /* attention values read per update, at most (~50 ms) */
#define ROLE_MIN_QUERIES 16
#define ROLE_MAX_QUERIES 256

const char *tui_role_label(head_role r) {
    switch (r) {
    case HEAD_PREVIOUS: return "prev";
    case HEAD_INDUCTION: return "induct";
    case HEAD_SINK: return "sink";
    case HEAD_BROAD: return "broad";
    case HEAD_UNCLEAR: break;
    }
    return "-";
}

const char *tui_role_words(head_role r) {
    switch (r) {
    case HEAD_PREVIOUS: return "previous";
    case HEAD_INDUCTION: return "induction";
    case HEAD_SINK: return "sink";
    case HEAD_BROAD: return "broad";
    case HEAD_UNCLEAR: break;
    }
    return "unclear";
}

void tui_heads_update(tui_app *a) {
    size_t n = session_n_records(a->s);
    bool same_conversation = a->heads.valid && a->heads.epoch == a->epoch;
    if (same_conversation && (a->heads.n_records == n || a->gen.generating)) return;
    const model_hparams *hp = &a->m->hp;
    size_t n_heads = (size_t)hp->n_layer * (size_t)hp->n_head;
    if (!a->heads.roles) {
        a->heads.roles = calloc(n_heads, sizeof *a->heads.roles);
        if (!a->heads.roles) return;
    }
    double per_query = (double)n_heads * (double)(n > 0 ? n : 1);
    size_t q = (size_t)(ROLE_WORK / per_query);
    if (q < ROLE_MIN_QUERIES) q = ROLE_MIN_QUERIES;
    if (q > ROLE_MAX_QUERIES) q = ROLE_MAX_QUERIES;
    inspect_view v;
    inspect_view_session(&v, a->s);
    a->heads.from = n > q ? n - q : 0;
    a->heads.to = n;
    inspect_head_roles(&v, a->heads.from, a->heads.to, a->heads.roles);
    a->heads.valid = true;
    a->heads.epoch = a->epoch;
    a->heads.n_records = n;
}

const head_stats *tui_head_role(const tui_app *a, int layer, int head) {
    const model_hparams *hp = &a->m->hp;
    if (!a->heads.valid || layer < 0 || layer >= hp->n_layer || head < 0 || head >= hp->n_head) return NULL;
    const head_stats *s = &a->heads.roles[(size_t)layer * (size_t)hp->n_head + (size_t)head];
    return s->n_queries > 0 ? s : NULL;
}

static const head_role CYCLE[] = {HEAD_PREVIOUS, HEAD_INDUCTION, HEAD_SINK, HEAD_BROAD, HEAD_UNCLEAR};
#define N_CYCLE (int)(sizeof CYCLE / sizeof CYCLE[0])

static void say_filter(tui_app *a) {
    if (a->heads.filter < 0) {
        tui_message(a, false, "showing every head");
        return;
    }
    /* how many heads of this role the selected layer has */
    int count = 0;
    for (int h = 0; h < tui_layer_heads(a, tui_attention_layer(a)); h++) {
        const head_stats *s = tui_head_role(a, tui_attention_layer(a), h);
        if (s && (int)s->role == a->heads.filter) count++;
    }
    tui_message(a, false, "showing %s heads only (%d in layer %d); /heads all or r to change",
                a->heads.filter == HEAD_UNCLEAR ? "unclassified" : head_role_name((head_role)a->heads.filter), count,
                tui_attention_layer(a));
}

void tui_heads_cycle(tui_app *a) {
    int i = 0;
    if (a->heads.filter >= 0)
        while (i < N_CYCLE && (int)CYCLE[i] != a->heads.filter) i++;
    else
        i = -1;
    i++;
    a->heads.filter = i < N_CYCLE ? (int)CYCLE[i] : -1;
    say_filter(a);
}

void tui_cmd_heads(tui_app *a, const char *name, const char *args) {
    (void)name;
    static const struct {
        const char *name;
        int role;
    } NAMES[] = {
        {"all", -1},           {"prev", HEAD_PREVIOUS}, {"previous", HEAD_PREVIOUS}, {"induction", HEAD_INDUCTION},
        {"induct", HEAD_INDUCTION}, {"copy", HEAD_INDUCTION}, {"sink", HEAD_SINK}, {"broad", HEAD_BROAD},
        {"unclear", HEAD_UNCLEAR}, {"none", HEAD_UNCLEAR}, {"-", HEAD_UNCLEAR},
    };
    if (!*args) {
        say_filter(a);
        return;
    }
    for (size_t i = 0; i < sizeof NAMES / sizeof NAMES[0]; i++)
        if (strcmp(args, NAMES[i].name) == 0) {
            a->heads.filter = NAMES[i].role;
            say_filter(a);
            return;
        }
    tui_message(a, true, "/heads takes all, prev, induction, sink, broad or unclear");
}

void tui_heads_free(tui_app *a) {
    free(a->heads.roles);
    a->heads.roles = NULL;
    a->heads.valid = false;
}
