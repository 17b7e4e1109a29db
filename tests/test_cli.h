/* test_cli.h — running the headless command line (cli_run) inside a test binary, its
 * stream on stdout kept out of the test's PASS/FAIL lines. */
#ifndef LLMSCOPE_TEST_CLI_H
#define LLMSCOPE_TEST_CLI_H

#include "cli.h"

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

/* cli_run(O) with stdout sent to /dev/null for the run; its exit status. */
static inline int test_cli_run_quiet(const cli_options *o) {
    fflush(stdout);
    int saved = dup(STDOUT_FILENO), null = open("/dev/null", O_WRONLY);
    dup2(null, STDOUT_FILENO);
    int rc = cli_run(o);
    fflush(stdout);
    dup2(saved, STDOUT_FILENO);
    close(saved);
    close(null);
    return rc;
}

#endif
