/* test_thinking.c — finding a reply's thinking block in the records (model/thinking.h),
 * and grounding counting it as the model's own output.
 *
 * Records are written out by hand: their texts, segments and turns are what the session
 * makes of a Qwen3.5 prompt ("...<|im_start|>assistant\n<think>\n" as template text, then
 * the reply), of a vocabulary that spells "<think>" in pieces, of Gemma 4's and gpt-oss's
 * channel markers, and of a user who types a marker. */
#include "inspect.h"
#include "test.h"
#include "thinking.h"

typedef struct rec_spec {
    const char *text;
    segment_kind seg;
    int turn;
    think_mark want;
} rec_spec;

#define T SEG_TEMPLATE
#define A SEG_ASSISTANT
#define U SEG_USER

static void check_marks(const char *label, const rec_spec *spec, size_t n) {
    step_record recs[32];
    uint8_t out[32];
    memset(recs, 0, sizeof recs);
    for (size_t i = 0; i < n; i++) {
        recs[i].pos = (int)i;
        recs[i].text = (char *)spec[i].text;
        recs[i].segment = spec[i].seg;
        recs[i].turn = spec[i].turn;
        recs[i].generated = spec[i].seg == A;
    }
    inspect_view v;
    inspect_view_records(&v, recs, n, 1, 1, 1);
    think_marks(&v, out);
    for (size_t i = 0; i < n; i++)
        CHECKF(out[i] == spec[i].want, "%s: record %zu \"%s\" marked %d, expected %d", label, i, spec[i].text, out[i],
               spec[i].want);
}

#define CHECK_MARKS(label, ...)                                                     \
    do {                                                                            \
        static const rec_spec SPEC[] = {__VA_ARGS__};                               \
        check_marks(label, SPEC, sizeof SPEC / sizeof SPEC[0]);                     \
    } while (0)

static void blocks_are_found(void) {
    /* Qwen3.5: the template opens the block; the model closes it */
    CHECK_MARKS("qwen3.5", {"<|im_start|>", T, 0, THINK_NONE}, {"user", T, 0, THINK_NONE}, {"\n", T, 0, THINK_NONE},
                {"hi", U, 0, THINK_NONE}, {"<|im_end|>", T, 0, THINK_NONE}, {"<|im_start|>", T, 1, THINK_NONE},
                {"assistant", T, 1, THINK_NONE}, {"\n", T, 1, THINK_NONE}, {"<think>", T, 1, THINK_MARKER},
                {"\n", T, 1, THINK_TEXT}, {"Let", A, 1, THINK_TEXT}, {" me", A, 1, THINK_TEXT},
                {"</think>", A, 1, THINK_MARKER}, {"\n\n", A, 1, THINK_NONE}, {"Hello", A, 1, THINK_NONE});
    /* a vocabulary without the marker as one token */
    CHECK_MARKS("split", {"<", A, 1, THINK_MARKER}, {"think", A, 1, THINK_MARKER}, {">", A, 1, THINK_MARKER},
                {"hmm", A, 1, THINK_TEXT}, {"</", A, 1, THINK_MARKER}, {"think", A, 1, THINK_MARKER},
                {">", A, 1, THINK_MARKER}, {"ok", A, 1, THINK_NONE});
    /* Gemma 4 */
    CHECK_MARKS("gemma4", {"<|channel>", A, 1, THINK_MARKER}, {"thought", A, 1, THINK_MARKER},
                {"\n", A, 1, THINK_TEXT}, {"x", A, 1, THINK_TEXT}, {"<channel|>", A, 1, THINK_MARKER},
                {"y", A, 1, THINK_NONE});
    /* gpt-oss: analysis, then the final channel */
    CHECK_MARKS("gpt-oss", {"<|channel|>", A, 1, THINK_MARKER}, {"analysis", A, 1, THINK_MARKER},
                {"<|message|>", A, 1, THINK_MARKER}, {"plan", A, 1, THINK_TEXT}, {"<|end|>", A, 1, THINK_MARKER},
                {"<|start|>", A, 1, THINK_NONE}, {"assistant", A, 1, THINK_NONE}, {"<|channel|>", A, 1, THINK_NONE},
                {"final", A, 1, THINK_NONE}, {"<|message|>", A, 1, THINK_NONE}, {"y", A, 1, THINK_NONE});
    /* a block never closed runs to the end of its turn, and no further */
    CHECK_MARKS("open", {"<think>", A, 1, THINK_MARKER}, {"a", A, 1, THINK_TEXT}, {"b", A, 1, THINK_TEXT},
                {"<|im_start|>", T, 2, THINK_NONE}, {"more", U, 2, THINK_NONE});
    /* a user's "<think>" opens nothing, and a lone closing marker closes nothing */
    CHECK_MARKS("typed", {"<think>", U, 0, THINK_NONE}, {"x", U, 0, THINK_NONE}, {"</think>", A, 1, THINK_NONE},
                {"y", A, 1, THINK_NONE});
}

/* Thinking tokens are reply tokens: attention on them is the model's own output. */
static void thinking_is_own_output(void) {
    /* template, user text, template, "<think>", thinking, "</think>", answer */
    const segment_kind seg[] = {SEG_TEMPLATE, SEG_USER, SEG_TEMPLATE, SEG_ASSISTANT, SEG_ASSISTANT, SEG_ASSISTANT,
                                SEG_ASSISTANT};
    const float row[] = {0.1f, 0.2f, 0.0f, 0.0f, 0.6f, 0.0f, 0.1f};
    grounding g;
    inspect_grounding_of_row(row, seg, 7, 1.0f, NULL, &g);
    CHECK(g.valid);
    CHECK_NEAR(g.own, 0.7, 1e-6);
    CHECK_NEAR(g.context, 0.2, 1e-6);
    CHECK_NEAR(g.share, 0.2 / 0.9, 1e-6);
}

int main(void) {
    RUN(blocks_are_found);
    RUN(thinking_is_own_output);
    return test_exit_code();
}
