/* test.h — the project's tiny test harness.
 *
 * A test binary is a list of RUN(fn) calls. Each prints exactly one line, "PASS name",
 * "FAIL name" or "SKIP name: reason", which tests/run.sh counts. CHECK failures print the
 * file, line and a message to stderr and mark the current test failed (it keeps going so
 * one run shows every broken expectation). Tests run from the repository root. */
#ifndef LLMSCOPE_TEST_H
#define LLMSCOPE_TEST_H

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int test_failed_, test_skipped_, test_any_failed_;
static char test_skip_reason_[512];

#define CHECK(cond) CHECKF(cond, "%s", #cond)
#define CHECKF(cond, ...)                                                            \
    do {                                                                              \
        if (!(cond)) {                                                                \
            fprintf(stderr, "  %s:%d: ", __FILE__, __LINE__);                         \
            fprintf(stderr, __VA_ARGS__);                                             \
            fputc('\n', stderr);                                                      \
            test_failed_ = 1;                                                         \
        }                                                                             \
    } while (0)
#define CHECK_NEAR(a, b, tol)                                                         \
    CHECKF(fabs((double)(a) - (double)(b)) <= (tol), "%s = %g, expected %s = %g (tol %g)", \
           #a, (double)(a), #b, (double)(b), (double)(tol))
#define SKIP(...)                                                                     \
    do {                                                                              \
        snprintf(test_skip_reason_, sizeof test_skip_reason_, __VA_ARGS__);           \
        test_skipped_ = 1;                                                            \
        return;                                                                       \
    } while (0)
#define RUN(fn) test_run_(#fn, fn)

/* A test that crashes prints "FAIL name: crashed (signal N)" before the process dies, so
 * that tests/run.sh names it (a loop over models names each one: test_run_'s NAME). The
 * handler then puts back the one it replaced (a sanitizer's, which reports the fault, or
 * the default) and returns: a fault happens again, now reported there; abort() raises
 * again by itself. Only write(2) and sigaction(2) here: both async-signal-safe. */
static const char *test_current_;
static struct sigaction test_old_actions_[NSIG];

static void test_crashed_(int sig) {
    static const char fail[] = "FAIL ", crashed[] = ": crashed (signal ";
    char num[4] = {(char)('0' + sig / 10 % 10), (char)('0' + sig % 10), ')', '\n'};
    ssize_t w = write(STDOUT_FILENO, fail, sizeof fail - 1);
    if (test_current_) w = write(STDOUT_FILENO, test_current_, strlen(test_current_));
    w = write(STDOUT_FILENO, crashed, sizeof crashed - 1);
    w = write(STDOUT_FILENO, num + (sig < 10), sizeof num - (sig < 10));
    (void)w;
    sigaction(sig, &test_old_actions_[sig], NULL);
}

static void test_catch_crashes_(void) {
    static const int sigs[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = test_crashed_;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        struct sigaction old;
        if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler != test_crashed_) {
            test_old_actions_[sigs[i]] = old;
            sigaction(sigs[i], &sa, NULL);
        }
    }
}

static void test_run_(const char *name, void (*fn)(void)) {
    test_failed_ = test_skipped_ = 0;
    fflush(stdout);
    test_current_ = name;
    test_catch_crashes_();
    fn();
    test_current_ = NULL;
    if (test_failed_) {
        printf("FAIL %s\n", name);
        test_any_failed_ = 1;
    } else if (test_skipped_) {
        printf("SKIP %s: %s\n", name, test_skip_reason_);
    } else {
        printf("PASS %s\n", name);
    }
    fflush(stdout);
}

static inline int test_exit_code(void) { return test_any_failed_ ? 1 : 0; }

/* ../shared (or $LLMSCOPE_SHARED): the test models, goldens and tokenizer suites.
 * Returns NULL when absent; tests then SKIP with a message. */
static inline const char *test_shared_dir(void) {
    const char *d = getenv("LLMSCOPE_SHARED");
    if (!d || !*d) d = "../shared";
    struct stat st;
    return stat(d, &st) == 0 && S_ISDIR(st.st_mode) ? d : NULL;
}

/* Joins shared dir and a relative path into BUF; NULL if shared is absent or the file
 * does not exist. */
static inline const char *test_shared_path(char *buf, size_t cap, const char *rel) {
    const char *d = test_shared_dir();
    if (!d) return NULL;
    snprintf(buf, cap, "%s/%s", d, rel);
    struct stat st;
    return stat(buf, &st) == 0 ? buf : NULL;
}

#define REQUIRE_SHARED(buf, rel)                                                      \
    do {                                                                              \
        if (!test_shared_path(buf, sizeof buf, rel))                                  \
            SKIP("../shared/%s not found (tests that need the shared models skip "    \
                 "without it)", rel);                                                 \
    } while (0)

#endif
