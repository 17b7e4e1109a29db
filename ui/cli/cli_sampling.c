/* cli_sampling.c — default sampler settings a model file carries.
 *
 * A model may say how it is best sampled: llmscope.sampler.temperature, .top_k, .top_p,
 * .min_p, .repeat_penalty and .repeat_last_n in its GGUF metadata (the shipped
 * dictionary model stores greedy decoding without a repetition penalty: it answers
 * from a dictionary, and must repeat the word it is asked about). They replace
 * llmscope's own defaults, never a setting given on the command line. The values come
 * from a file, so each is checked against the range its option accepts; one out of range
 * is skipped with a warning. */
#include "cli.h"

#include <math.h>
#include <stdio.h>

typedef struct sampler_key {
    const char *key;
    unsigned given; /* the option's bit in cli_options.sampling_given */
    bool integer;
    double lo, hi;
} sampler_key;

static const sampler_key KEYS[] = {
    {"llmscope.sampler.temperature", CLI_GIVEN_TEMP, false, 0, 100},
    {"llmscope.sampler.top_k", CLI_GIVEN_TOP_K, true, 0, 1 << 30},
    {"llmscope.sampler.top_p", CLI_GIVEN_TOP_P, false, 0, 1},
    {"llmscope.sampler.min_p", CLI_GIVEN_MIN_P, false, 0, 1},
    {"llmscope.sampler.repeat_penalty", CLI_GIVEN_REPEAT_PENALTY, false, 1e-3, 100},
    {"llmscope.sampler.repeat_last_n", CLI_GIVEN_REPEAT_LAST_N, true, -1, 1 << 30},
};

static void set_value(sampler_params *sp, unsigned which, double v) {
    switch (which) {
    case CLI_GIVEN_TEMP: sp->temperature = (float)v; break;
    case CLI_GIVEN_TOP_K: sp->top_k = (int)v; break;
    case CLI_GIVEN_TOP_P: sp->top_p = (float)v; break;
    case CLI_GIVEN_MIN_P: sp->min_p = (float)v; break;
    case CLI_GIVEN_REPEAT_PENALTY: sp->repeat_penalty = (float)v; break;
    case CLI_GIVEN_REPEAT_LAST_N: sp->repeat_last_n = (int)v; break;
    }
}

int cli_model_sampling(const model *m, sampler_params *sp, unsigned given, bool warn) {
    int applied = 0;
    for (size_t i = 0; i < sizeof KEYS / sizeof KEYS[0]; i++) {
        const sampler_key *k = &KEYS[i];
        double v;
        int64_t iv;
        float fv;
        if (k->integer ? !gguf_get_i64(&m->file, k->key, &iv) : !gguf_get_f32(&m->file, k->key, &fv)) continue;
        v = k->integer ? (double)iv : (double)fv;
        if (!(v >= k->lo && v <= k->hi)) {
            if (warn) fprintf(stderr, "llmscope: warning: the model's %s is out of range (%g); not used\n", k->key, v);
            continue;
        }
        if (given & k->given) continue;
        set_value(sp, k->given, v);
        applied++;
    }
    return applied;
}
