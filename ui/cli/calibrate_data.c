/* calibrate_data.c — labelled answers: the labels file and the traces it names, read into
 * one feature vector per answer (calibrate.h has the label format).
 *
 * Both files come from outside: lines are read up to a fixed length, counts are capped,
 * every number is checked for range, and the first problem is reported as one line
 * naming the file and line. A trace is read once however many labels name it. The
 * signals of a trace token are the fields cli_trace.c writes: prob, entropy, margin,
 * varentropy, why.grounding, why.lookback, why.lens. */
#include "calibrate.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LABEL_LINE_MAX ((size_t)64 << 10)
#define TRACE_LINE_MAX ((size_t)32 << 20)
#define MAX_LABELS (1 << 20)
#define MAX_TRACE_TOKENS (1 << 20)
#define MAX_SHAPE 4096 /* layers, heads */

/* ---- bounded lines ---- */

/* Reads one line (without its newline) into *BUF. Returns 1, 0 at the end, -1 when it is
 * longer than MAX. */
static int read_line(FILE *f, char **buf, size_t *cap, size_t max, size_t *len) {
    size_t n = 0;
    int c;
    while ((c = getc(f)) != EOF && c != '\n') {
        if (n >= max) return -1;
        if (n + 1 >= *cap) {
            size_t nc = *cap ? *cap * 2 : 4096;
            char *nb = realloc(*buf, nc);
            if (!nb) return -1;
            *buf = nb;
            *cap = nc;
        }
        (*buf)[n++] = (char)c;
    }
    if (c == EOF && n == 0) return 0;
    if (n && (*buf)[n - 1] == '\r') n--;
    if (!*buf && !(*buf = malloc(*cap = 16))) return -1;
    (*buf)[n] = 0;
    *len = n;
    return 1;
}

/* ---- one trace ---- */

typedef struct trace_tok {
    int turn;
    det_token s;       /* lookback and lens_prob point into the arrays below */
    float *lookback;   /* owned */
    float *lens;       /* owned */
} trace_tok;

typedef struct trace_file {
    char path[4096];
    trace_tok *t;
    int n, cap;
    int *start;        /* [n_answers + 1] token index where each answer starts */
    int n_answers;
    det_shape sh;      /* from the lookback ratios and the lens; 0 x 0 if it has neither */
    char model[4096];  /* the model its context names, "" if none */
} trace_file;

static void trace_free(trace_file *tf) {
    for (int i = 0; i < tf->n; i++) {
        free(tf->t[i].lookback);
        free(tf->t[i].lens);
    }
    free(tf->t);
    free(tf->start);
    tf->t = NULL;
    tf->start = NULL;
    tf->n = tf->cap = tf->n_answers = 0;
}

static bool number_in(const cJSON *v, double lo, double hi, float *out) {
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= lo && v->valuedouble <= hi)) return false;
    *out = (float)v->valuedouble;
    return true;
}

/* why.lookback: [layer][head] ratios in 0..1. */
static int read_lookback(const cJSON *lb, trace_tok *t, det_shape *sh, char *why, size_t whylen) {
    int layers = cJSON_GetArraySize(lb), heads = layers ? cJSON_GetArraySize(cJSON_GetArrayItem(lb, 0)) : 0;
    if (layers < 1 || layers > MAX_SHAPE || heads < 1 || heads > MAX_SHAPE)
        return snprintf(why, whylen, "\"lookback\" must be a list of layers, each a list of heads"), -1;
    if (sh->n_head && (sh->n_layer != layers || sh->n_head != heads))
        return snprintf(why, whylen, "lookback ratios of %d layers x %d heads after lines with %d x %d", layers, heads,
                        sh->n_layer, sh->n_head),
               -1;
    t->lookback = malloc((size_t)layers * (size_t)heads * sizeof *t->lookback);
    if (!t->lookback) return snprintf(why, whylen, "out of memory"), -1;
    int i = 0;
    const cJSON *layer, *v;
    cJSON_ArrayForEach(layer, lb) {
        if (!cJSON_IsArray(layer) || cJSON_GetArraySize(layer) != heads)
            return snprintf(why, whylen, "every layer of \"lookback\" needs %d heads", heads), -1;
        cJSON_ArrayForEach(v, layer) if (!number_in(v, 0, 1, &t->lookback[i++]))
            return snprintf(why, whylen, "a lookback ratio must be a number from 0 to 1"), -1;
    }
    sh->n_layer = layers;
    sh->n_head = heads;
    t->s.lookback = t->lookback;
    return 0;
}

/* why.lens: {commit_depth, entries: [{prob}]} with one entry per layer and the embeddings. */
static int read_lens(const cJSON *lens, trace_tok *t, det_shape *sh, char *why, size_t whylen) {
    const cJSON *entries = cJSON_GetObjectItemCaseSensitive(lens, "entries"), *e;
    float depth;
    int n = cJSON_GetArraySize(entries);
    if (!cJSON_IsArray(entries) || n < 2 || n > MAX_SHAPE + 1 ||
        !number_in(cJSON_GetObjectItemCaseSensitive(lens, "commit_depth"), -1, n - 1, &depth) || depth != floorf(depth))
        return snprintf(why, whylen, "\"lens\" needs \"entries\" (2 or more) and a whole \"commit_depth\""), -1;
    if (sh->n_layer && sh->n_layer != n - 1)
        return snprintf(why, whylen, "a logit lens of %d entries where the model has %d layers", n, sh->n_layer), -1;
    t->lens = malloc((size_t)n * sizeof *t->lens);
    if (!t->lens) return snprintf(why, whylen, "out of memory"), -1;
    int i = 0;
    cJSON_ArrayForEach(e, entries) if (!number_in(cJSON_GetObjectItemCaseSensitive(e, "prob"), 0, 1, &t->lens[i++]))
        return snprintf(why, whylen, "every lens entry needs \"prob\" from 0 to 1"), -1;
    sh->n_layer = n - 1;
    t->s.lens_prob = t->lens;
    t->s.commit = depth < 0 ? 1.0f : depth / (float)(n - 1);
    return 0;
}

static int read_why(const cJSON *why_o, trace_tok *t, det_shape *sh, char *why, size_t whylen) {
    const cJSON *g = cJSON_GetObjectItemCaseSensitive(why_o, "grounding");
    const cJSON *lb = cJSON_GetObjectItemCaseSensitive(why_o, "lookback");
    const cJSON *lens = cJSON_GetObjectItemCaseSensitive(why_o, "lens");
    if (g) {
        if (!number_in(cJSON_GetObjectItemCaseSensitive(g, "share"), 0, 1, &t->s.grounding))
            return snprintf(why, whylen, "\"grounding\" needs a \"share\" from 0 to 1"), -1;
        t->s.flagged = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(g, "flagged"));
    }
    if (lb && read_lookback(lb, t, sh, why, whylen) < 0) return -1;
    if (lens && read_lens(lens, t, sh, why, whylen) < 0) return -1;
    return 0;
}

static int read_token(const cJSON *o, trace_file *tf, char *why, size_t whylen) {
    const cJSON *ctx = cJSON_GetObjectItemCaseSensitive(o, "context");
    const cJSON *model = ctx ? cJSON_GetObjectItemCaseSensitive(ctx, "model") : NULL;
    if (cJSON_IsString(model)) {
        if (tf->model[0] && strcmp(tf->model, model->valuestring) != 0)
            return snprintf(why, whylen, "the context names another model than the lines before"), -1;
        snprintf(tf->model, sizeof tf->model, "%s", model->valuestring);
    }
    if (tf->n >= MAX_TRACE_TOKENS) return snprintf(why, whylen, "more than %d tokens", MAX_TRACE_TOKENS), -1;
    if (tf->n == tf->cap) {
        int c = tf->cap ? tf->cap * 2 : 256;
        trace_tok *nt = realloc(tf->t, (size_t)c * sizeof *nt);
        if (!nt) return snprintf(why, whylen, "out of memory"), -1;
        tf->t = nt;
        tf->cap = c;
    }
    trace_tok *t = &tf->t[tf->n];
    memset(t, 0, sizeof *t);
    det_token_clear(&t->s);
    tf->n++; /* from here on freed with the trace, whatever happens */
    const cJSON *turn = cJSON_GetObjectItemCaseSensitive(o, "turn");
    float f;
    if (!cJSON_IsNumber(turn) || turn->valuedouble != floor(turn->valuedouble) || turn->valuedouble < 0 ||
        turn->valuedouble > 1e9)
        return snprintf(why, whylen, "a token line needs \"turn\" (a whole number)"), -1;
    t->turn = (int)turn->valuedouble;
    if (!number_in(cJSON_GetObjectItemCaseSensitive(o, "prob"), 0, 1, &t->s.prob) ||
        !number_in(cJSON_GetObjectItemCaseSensitive(o, "entropy"), 0, 1e6, &t->s.entropy))
        return snprintf(why, whylen, "a token line needs \"prob\" (0 to 1) and \"entropy\" (0 or more)"), -1;
    if (number_in(cJSON_GetObjectItemCaseSensitive(o, "margin"), -1, 1, &f)) t->s.margin = f;
    if (number_in(cJSON_GetObjectItemCaseSensitive(o, "varentropy"), 0, 1e9, &f)) t->s.varentropy = f;
    const cJSON *why_o = cJSON_GetObjectItemCaseSensitive(o, "why");
    return why_o ? read_why(why_o, t, &tf->sh, why, whylen) : 0;
}

/* Splits the tokens into answers: a new one wherever "turn" changes. */
static int find_answers(trace_file *tf) {
    tf->start = malloc(((size_t)tf->n + 1) * sizeof *tf->start);
    if (!tf->start) return -1;
    for (int i = 0; i < tf->n; i++)
        if (i == 0 || tf->t[i].turn != tf->t[i - 1].turn) tf->start[tf->n_answers++] = i;
    tf->start[tf->n_answers] = tf->n;
    return 0;
}

static int read_trace(const char *path, trace_file *tf, char *err, size_t errlen) {
    memset(tf, 0, sizeof *tf);
    snprintf(tf->path, sizeof tf->path, "%s", path);
    FILE *f = fopen(path, "r");
    if (!f) return snprintf(err, errlen, "cannot read the trace %s: %s", path, strerror(errno)), -1;
    char *line = NULL, why[192] = "";
    size_t cap = 0, len;
    int lineno = 0, rc = 0, got;
    while (rc == 0 && (got = read_line(f, &line, &cap, TRACE_LINE_MAX, &len)) != 0) {
        lineno++;
        if (got < 0) {
            rc = -1;
            snprintf(why, sizeof why, "a line longer than %zu bytes (or out of memory)", TRACE_LINE_MAX);
        } else if (len) {
            cJSON *o = cJSON_ParseWithLength(line, len);
            rc = cJSON_IsObject(o) ? read_token(o, tf, why, sizeof why) : (snprintf(why, sizeof why, "not a JSON object"), -1);
            cJSON_Delete(o);
        }
        if (rc < 0) snprintf(err, errlen, "%s:%d: %s", path, lineno, why);
    }
    free(line);
    fclose(f);
    if (rc == 0 && tf->n == 0) rc = (snprintf(err, errlen, "%s: no traced tokens (is it a --trace file?)", path), -1);
    if (rc == 0 && find_answers(tf) < 0) rc = (snprintf(err, errlen, "out of memory"), -1);
    if (rc < 0) trace_free(tf);
    return rc;
}

/* ---- labels ---- */

typedef struct label {
    char trace[4096];
    int answer, first_wrong; /* -1: not given */
    uint8_t wrong;
    int8_t split;
    uint64_t group;
    int lineno;
} label;

static uint64_t hash_text(const char *s, uint64_t h) {
    for (h ^= 0xcbf29ce484222325ull; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    return h;
}

/* TRACE relative to the labels file's folder, unless absolute. */
static void resolve(const char *labels_path, const char *trace, char *out, size_t cap) {
    const char *slash = strrchr(labels_path, '/');
    if (trace[0] == '/' || !slash) snprintf(out, cap, "%s", trace);
    else snprintf(out, cap, "%.*s/%s", (int)(slash - labels_path), labels_path, trace);
}

static int parse_label(const cJSON *o, const char *path, label *l, char *why, size_t whylen) {
    const cJSON *trace = cJSON_GetObjectItemCaseSensitive(o, "trace");
    const cJSON *answer = cJSON_GetObjectItemCaseSensitive(o, "answer");
    const cJSON *lab = cJSON_GetObjectItemCaseSensitive(o, "label");
    const cJSON *first = cJSON_GetObjectItemCaseSensitive(o, "first_wrong");
    const cJSON *group = cJSON_GetObjectItemCaseSensitive(o, "group");
    const cJSON *split = cJSON_GetObjectItemCaseSensitive(o, "split");
    if (!cJSON_IsString(trace) || !trace->valuestring[0] || strlen(trace->valuestring) >= 2048)
        return snprintf(why, whylen, "\"trace\" must name a trace file"), -1;
    resolve(path, trace->valuestring, l->trace, sizeof l->trace);
    float v = 0;
    if (answer && (!number_in(answer, 0, MAX_TRACE_TOKENS, &v) || v != floorf(v)))
        return snprintf(why, whylen, "\"answer\" must be a whole number from 0 (the first reply of the trace)"), -1;
    l->answer = (int)v;
    if (!cJSON_IsString(lab) || (strcmp(lab->valuestring, "right") != 0 && strcmp(lab->valuestring, "wrong") != 0))
        return snprintf(why, whylen, "\"label\" must be \"right\" or \"wrong\""), -1;
    l->wrong = strcmp(lab->valuestring, "wrong") == 0;
    l->first_wrong = -1;
    if (first) {
        if (!l->wrong) return snprintf(why, whylen, "\"first_wrong\" goes with a wrong answer only"), -1;
        if (!number_in(first, 0, MAX_TRACE_TOKENS, &v) || v != floorf(v))
            return snprintf(why, whylen, "\"first_wrong\" must be a token index from 0"), -1;
        l->first_wrong = (int)v;
    }
    char key[4200];
    snprintf(key, sizeof key, "%s#%d", l->trace, l->answer);
    l->group = hash_text(cJSON_IsString(group) ? group->valuestring : key, 0);
    l->split = -1;
    if (split) {
        if (!cJSON_IsString(split) || (strcmp(split->valuestring, "train") != 0 && strcmp(split->valuestring, "test") != 0))
            return snprintf(why, whylen, "\"split\" must be \"train\" or \"test\""), -1;
        l->split = strcmp(split->valuestring, "test") == 0;
    }
    return 0;
}

static int read_labels(const char *path, label **out, int *n_out, char *err, size_t errlen) {
    FILE *f = fopen(path, "r");
    if (!f) return snprintf(err, errlen, "cannot read the labels %s: %s", path, strerror(errno)), -1;
    label *ls = NULL;
    int n = 0, cap = 0, lineno = 0, rc = 0, got;
    char *line = NULL, why[160];
    size_t lcap = 0, len;
    while (rc == 0 && (got = read_line(f, &line, &lcap, LABEL_LINE_MAX, &len)) != 0) {
        lineno++;
        if (got < 0) {
            rc = -1;
            snprintf(why, sizeof why, "a line longer than %zu bytes", LABEL_LINE_MAX);
        } else if (len == 0) {
            continue;
        } else if (n >= MAX_LABELS) {
            rc = -1;
            snprintf(why, sizeof why, "more than %d labels", MAX_LABELS);
        } else if (n == cap && !(ls = realloc(ls, (size_t)(cap = cap ? cap * 2 : 256) * sizeof *ls))) {
            rc = -1;
            snprintf(why, sizeof why, "out of memory");
        } else {
            cJSON *o = cJSON_ParseWithLength(line, len);
            ls[n].lineno = lineno;
            rc = cJSON_IsObject(o) ? parse_label(o, path, &ls[n], why, sizeof why)
                                   : (snprintf(why, sizeof why, "not a JSON object"), -1);
            cJSON_Delete(o);
            n++;
        }
        if (rc < 0) snprintf(err, errlen, "%s:%d: %s", path, lineno, why);
    }
    free(line);
    fclose(f);
    if (rc == 0 && n == 0)
        rc = (snprintf(err, errlen, "%s: no labelled answers (one JSON object per line: {\"trace\": FILE, "
                                    "\"answer\": N, \"label\": \"right\" or \"wrong\"})", path),
              -1);
    if (rc < 0) {
        free(ls);
        return -1;
    }
    *out = ls;
    *n_out = n;
    return 0;
}

/* ---- answers ---- */

static const char *base_name(const char *p) {
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

/* The traces must be of one model: the same file name in their context, and lookback
 * ratios and lens of one shape. */
static int check_trace(cal_set *set, const trace_file *tf, const label *l, const char *path, char *err,
                       size_t errlen) {
    if (tf->model[0] && set->model[0] && strcmp(base_name(tf->model), base_name(set->model)) != 0)
        return snprintf(err, errlen, "%s:%d: mismatched traces: %s comes from %s, the earlier ones from %s (a detector is "
                                     "for one model)", path, l->lineno, tf->path, base_name(tf->model),
                        base_name(set->model)),
               -1;
    bool shaped = tf->sh.n_layer > 0;
    if (shaped && set->have_shape && (tf->sh.n_layer != set->sh.n_layer || tf->sh.n_head != set->sh.n_head))
        return snprintf(err, errlen, "%s:%d: mismatched traces: %s has %d layers x %d heads, the earlier ones %d x %d",
                        path, l->lineno, tf->path, tf->sh.n_layer, tf->sh.n_head, set->sh.n_layer, set->sh.n_head),
               -1;
    if (shaped && !set->have_shape && set->n > 0)
        return snprintf(err, errlen, "%s:%d: mismatched traces: %s has attention or lens data, the earlier ones none",
                        path, l->lineno, tf->path),
               -1;
    if (!set->model[0] && tf->model[0]) snprintf(set->model, sizeof set->model, "%s", tf->model);
    if (shaped && !set->have_shape) {
        set->sh = tf->sh;
        set->have_shape = true;
    }
    set->n_features = det_n_features(set->sh);
    return 0;
}

/* Features of tokens FROM..TO-1 of TF into X / PRESENT. */
static int features_of(const cal_set *set, const trace_file *tf, int from, int to, double *x, bool *present) {
    det_accum acc;
    if (det_accum_init(&acc, set->sh) < 0) return -1;
    for (int i = from; i < to; i++) {
        det_token t = tf->t[i].s;
        if (set->sh.n_head == 0) t.lookback = NULL; /* a shape with no heads: lens only */
        det_accum_add(&acc, &t);
    }
    det_accum_features(&acc, x, present);
    det_accum_free(&acc);
    return 0;
}

#define MAX_RUN 512 /* tokens of a reply whose running features are kept */

/* The features after each of the first N tokens from FROM into A's run arrays. */
static int running_features(const cal_set *set, const trace_file *tf, int from, int n, cal_answer *a) {
    size_t nf = (size_t)set->n_features;
    a->run_x = malloc((size_t)n * nf * sizeof *a->run_x);
    a->run_present = malloc((size_t)n * nf * sizeof *a->run_present);
    det_accum acc;
    if (!a->run_x || !a->run_present || det_accum_init(&acc, set->sh) < 0) return -1;
    for (int i = 0; i < n; i++) {
        det_token t = tf->t[from + i].s;
        if (set->sh.n_head == 0) t.lookback = NULL;
        det_accum_add(&acc, &t);
        det_accum_features(&acc, a->run_x + (size_t)i * nf, a->run_present + (size_t)i * nf);
    }
    det_accum_free(&acc);
    a->n_run = n;
    return 0;
}

/* A new entry of SET: tokens FROM..TO-1 of TF (RUNNING: with the features after each). */
static cal_answer *new_entry(cal_set *set, const trace_file *tf, int from, int to, bool running) {
    if (set->n == set->cap) {
        int c = set->cap ? set->cap * 2 : 256;
        cal_answer *na = realloc(set->a, (size_t)c * sizeof *na);
        if (!na) return NULL;
        set->a = na;
        set->cap = c;
    }
    cal_answer *a = &set->a[set->n];
    memset(a, 0, sizeof *a);
    size_t nf = (size_t)set->n_features;
    a->x = malloc(nf * sizeof *a->x);
    a->present = malloc(nf * sizeof *a->present);
    a->first_wrong = -1;
    set->n++; /* freed with the set from here on */
    if (!a->x || !a->present || features_of(set, tf, from, to, a->x, a->present) < 0 ||
        (running && running_features(set, tf, from, to - from < MAX_RUN ? to - from : MAX_RUN, a) < 0))
        return NULL;
    a->n_tokens = to - from;
    for (int i = from; i < to; i++) a->flagged += tf->t[i].s.flagged;
    return a;
}

/* The parts of a reply of N tokens (cal_read's PREFIXES): how many tokens each has. */
static int part_lengths(int n, int prefixes, int first_wrong, int *out) {
    int k = 0;
    for (int j = 1; j < prefixes; j++) {
        int len = (n * j + prefixes - 1) / prefixes;
        if (len >= 1 && len < n && (k == 0 || out[k - 1] != len)) out[k++] = len;
    }
    if (first_wrong >= 0 && first_wrong + 1 < n) {
        bool have = false;
        for (int i = 0; i < k; i++) have |= out[i] == first_wrong + 1;
        if (!have) out[k++] = first_wrong + 1;
    }
    return k;
}

#define MAX_PREFIXES 64

static int add_answer(cal_set *set, const trace_file *tf, const label *l, const char *path, int split, int prefixes,
                      bool running, char *err, size_t errlen) {
    if (l->answer >= tf->n_answers)
        return snprintf(err, errlen, "%s:%d: %s has %d answer%s, there is no answer %d (they count from 0)", path,
                        l->lineno, tf->path, tf->n_answers, tf->n_answers == 1 ? "" : "s", l->answer),
               -1;
    int from = tf->start[l->answer], to = tf->start[l->answer + 1];
    if (l->first_wrong >= to - from)
        return snprintf(err, errlen, "%s:%d: first_wrong %d is past the end of answer %d (%d tokens)", path, l->lineno,
                        l->first_wrong, l->answer, to - from),
               -1;
    cal_answer *a = new_entry(set, tf, from, to, running);
    if (!a) return snprintf(err, errlen, "out of memory"), -1;
    a->first_wrong = l->first_wrong;
    a->wrong = l->wrong;
    a->split = split >= 0 ? (int8_t)split : l->split;
    a->group = l->group;
    int8_t side = a->split; /* A moves when the array grows below */
    if (prefixes <= 0 || (l->wrong && l->first_wrong < 0)) return 0;
    int len[MAX_PREFIXES + 1];
    int n_parts = part_lengths(to - from, prefixes < MAX_PREFIXES ? prefixes : MAX_PREFIXES, l->first_wrong, len);
    for (int i = 0; i < n_parts; i++) {
        cal_answer *p = new_entry(set, tf, from, from + len[i], false);
        if (!p) return snprintf(err, errlen, "out of memory"), -1;
        p->prefix = true;
        p->wrong = l->wrong && len[i] > l->first_wrong;
        p->split = side;
        p->group = l->group;
    }
    return 0;
}

static int by_trace(const void *a, const void *b) {
    const label *x = a, *y = b;
    int c = strcmp(x->trace, y->trace);
    return c ? c : (x->lineno > y->lineno) - (x->lineno < y->lineno);
}

int cal_read(const char *path, int split, int prefixes, bool running, cal_set *set, char *err, size_t errlen) {
    label *ls;
    int n;
    if (read_labels(path, &ls, &n, err, errlen) < 0) return -1;
    /* trace by trace: each is read once and let go before the next */
    qsort(ls, (size_t)n, sizeof *ls, by_trace);
    trace_file *tf = malloc(sizeof *tf);
    int rc = tf ? 0 : (snprintf(err, errlen, "out of memory"), -1);
    for (int i = 0; rc == 0 && i < n;) {
        rc = read_trace(ls[i].trace, tf, err, errlen);
        if (rc < 0) {
            /* name the label that pointed at it */
            char inner[512];
            snprintf(inner, sizeof inner, "%s", err);
            snprintf(err, errlen, "%s:%d: %s", path, ls[i].lineno, inner);
            break;
        }
        rc = check_trace(set, tf, &ls[i], path, err, errlen);
        int j = i;
        for (; rc == 0 && j < n && strcmp(ls[j].trace, ls[i].trace) == 0; j++)
            rc = add_answer(set, tf, &ls[j], path, split, prefixes, running, err, errlen);
        trace_free(tf);
        i = j;
    }
    free(tf);
    free(ls);
    return rc;
}

void cal_set_free(cal_set *set) {
    for (int i = 0; i < set->n; i++) {
        cal_answer *a = &set->a[i];
        free(a->run_x);
        free(a->run_present);
        free(a->x);
        free(a->present);
    }
    free(set->a);
    memset(set, 0, sizeof *set);
}
