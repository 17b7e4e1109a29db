/* test_model_sampling.c — sampler defaults a model file carries (llmscope.sampler.*,
 * ui/cli/cli_sampling.c): they replace llmscope's own defaults, never an option given on
 * the command line, and a value out of its option's range is not used. */
#include "cli.h"
#include "gguf_builder.h"
#include "test.h"

/* A GGUF with the sampler keys only (cli_model_sampling reads nothing else). */
static void build(gbuf *b) {
    gb_header(b, 3, 0, 6);
    gb_kv_f32(b, "llmscope.sampler.temperature", 0.0f);
    gb_kv_u32(b, "llmscope.sampler.top_k", 7);
    gb_kv_f32(b, "llmscope.sampler.top_p", 0.5f);
    gb_kv_f32(b, "llmscope.sampler.min_p", 2.0f); /* out of 0..1: skipped */
    gb_kv_f32(b, "llmscope.sampler.repeat_penalty", 1.0f);
    gb_kv_head(b, "llmscope.sampler.repeat_last_n", GB_I32);
    gb_u32(b, (uint32_t)-1); /* -1: every token */
}

static void model_defaults_apply(void) {
    gbuf b = {0};
    build(&b);
    model m;
    memset(&m, 0, sizeof m);
    char err[256];
    CHECKF(gguf_open_memory(&m.file, b.p, b.len, "sampler.gguf", err, sizeof err) == 0, "%s", err);
    sampler_params sp;
    sampler_params_default(&sp);
    float min_p = sp.min_p;
    fflush(stderr);
    CHECK(cli_model_sampling(&m, &sp, 0, false) == 5);
    CHECK(sp.temperature == 0.0f && sp.top_k == 7 && sp.top_p == 0.5f && sp.repeat_penalty == 1.0f);
    CHECK(sp.repeat_last_n == -1);
    CHECK(sp.min_p == min_p);

    /* given on the command line: kept */
    sampler_params_default(&sp);
    sp.temperature = 0.7f;
    CHECK(cli_model_sampling(&m, &sp, CLI_GIVEN_TEMP, false) == 4);
    CHECK(sp.temperature == 0.7f && sp.top_k == 7);
    gguf_close(&m.file);
    gb_free(&b);
}

static void options_record_what_was_given(void) {
    cli_options o;
    cli_options_default(&o);
    char *argv[] = {"llmscope", "--temp", "0.3", "-p", "a", "-p", "b", "--top-k", "5", NULL};
    CHECK(cli_parse(9, argv, &o) == 0);
    CHECK(o.sampling_given == (CLI_GIVEN_TEMP | CLI_GIVEN_TOP_K));
    CHECK(o.n_prompts == 2 && strcmp(o.prompt, "a") == 0 && strcmp(o.prompts[1], "b") == 0);
}

int main(void) {
    RUN(model_defaults_apply);
    RUN(options_record_what_was_given);
    return test_exit_code();
}
