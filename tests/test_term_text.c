/* test_term_text.c — model/term_text.h: nothing from outside reaches the terminal as a
 * control sequence. The expected strings are written out by hand from the rules in the
 * header (C0 and DEL as \xNN, C1 as \u00NN, bytes that are not UTF-8 as \xNN). */
#include "cli.h"
#include "term_text.h"
#include "test.h"

static const char *esc(const char *s, char quote, unsigned flags) {
    static char buf[1024];
    term_escape(s, strlen(s), quote, flags, buf, sizeof buf);
    return buf;
}

#define CHECK_ESC(in, quote, flags, want)                                                      \
    do {                                                                                       \
        const char *got_ = esc(in, quote, flags);                                              \
        CHECKF(strcmp(got_, want) == 0, "escaping gave \"%s\", expected \"%s\"", got_, want); \
    } while (0)

static void test_c0_controls_and_del(void) {
    CHECK_ESC("a\x1b[2Jb", 0, 0, "a\\x1b[2Jb");
    CHECK_ESC("title\x1b]0;x\x07", 0, 0, "title\\x1b]0;x\\x07");
    CHECK_ESC("x\x7fy", 0, 0, "x\\x7fy");
    CHECK_ESC("l1\nl2\tt\rr", 0, 0, "l1\\nl2\\tt\\rr");
    CHECK_ESC("l1\nl2\tt\rr", 0, TERM_KEEP_LAYOUT, "l1\nl2\tt\\rr");
}

static void test_c1_controls(void) {
    CHECK_ESC("\xc2\x9b" "31m", 0, 0, "\\u009b31m");     /* U+009B CSI, as UTF-8 */
    CHECK_ESC("\xc2\x85", 0, 0, "\\u0085");              /* NEL */
    CHECK_ESC("\xc2\x80\xc2\x9f", 0, 0, "\\u0080\\u009f"); /* both ends of the range */
    CHECK_ESC("\x9b" "31m", 0, 0, "\\x9b31m");           /* a lone 8-bit CSI: not UTF-8 */
    CHECK_ESC("\xc2\xa0", 0, 0, "\xc2\xa0");             /* U+00A0 is printable: kept */
}

static void test_text_passes_unchanged(void) {
    CHECK_ESC("caf\xc3\xa9 \xed\x95\x9c \xf0\x9f\x98\x80", 0, 0, "caf\xc3\xa9 \xed\x95\x9c \xf0\x9f\x98\x80");
    CHECK_ESC("back\\slash", 0, 0, "back\\slash");
    CHECK_ESC("back\\slash", 0, TERM_ESCAPE_BACKSLASH, "back\\\\slash");
    CHECK_ESC("it's", '\'', 0, "it\\'s");
    CHECK_ESC("\xe2\x82", 0, 0, "\\xe2\\x82"); /* a character cut short */
}

static void test_short_buffers_cut_at_a_whole_escape(void) {
    char buf[8];
    size_t need = term_escape("ab\x1b" "cdef", 7, 0, 0, buf, sizeof buf);
    CHECK(need == 10); /* ab \x1b cdef */
    CHECKF(strcmp(buf, "ab\\x1bc") == 0, "got \"%s\"", buf);
    term_escape("ab\x1b" "cdef", 7, 0, 0, buf, 6); /* no room for the whole escape */
    CHECKF(strcmp(buf, "ab") == 0, "got \"%s\"", buf);
    need = term_escape("abc", 3, 0, 0, buf, 0);
    CHECK(need == 3);
    char clean[16];
    CHECK(strcmp(term_clean("a\x1b" "b", clean, sizeof clean), "a\\x1bb") == 0);
    CHECK(strcmp(term_clean(NULL, clean, sizeof clean), "") == 0);
}

/* cli_print_escaped (tokens, metadata, replay tables) and cli_error go through it too. */
static void test_cli_printers(void) {
    FILE *f = tmpfile();
    CHECK(f != NULL);
    if (!f) return;
    const char tok[] = "\xc2\x9b" "2J\x1b[m\\";
    cli_print_escaped(f, tok, sizeof tok - 1, '"');
    rewind(f);
    char got[128] = "";
    size_t n = fread(got, 1, sizeof got - 1, f);
    got[n] = 0;
    fclose(f);
    CHECKF(strcmp(got, "\\u009b2J\\x1b[m\\\\") == 0, "cli_print_escaped gave \"%s\"", got);
}

int main(void) {
    RUN(test_c0_controls_and_del);
    RUN(test_c1_controls);
    RUN(test_text_passes_unchanged);
    RUN(test_short_buffers_cut_at_a_whole_escape);
    RUN(test_cli_printers);
    return test_exit_code();
}
