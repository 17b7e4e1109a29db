/* test_unimplemented.h — skipping, by name, the shared files of families still to come.
 *
 * ../shared holds files of architectures and types llmscope has not built yet
 * (../shared/README-2026.md). A test that meets one skips with a message naming what is
 * missing ("gemma2 not implemented yet"), never silently, and never for a file whose
 * architecture and types the program claims to load: model_file_unimplemented decides. */
#ifndef LLMSCOPE_TEST_UNIMPLEMENTED_H
#define LLMSCOPE_TEST_UNIMPLEMENTED_H

#include "test.h"
#include "model.h"

/* True (and the current test marked skipped) when PATH is such a file. */
static inline bool test_skip_unimplemented(const char *path) {
    gguf_file f;
    char err[512], what[160];
    if (gguf_open(&f, path, err, sizeof err)) return false; /* model_load will say why */
    const char *gap = model_file_unimplemented(&f, what, sizeof what);
    if (gap) {
        snprintf(test_skip_reason_, sizeof test_skip_reason_, "%s", gap);
        test_skipped_ = 1;
    }
    gguf_close(&f);
    return gap != NULL;
}

#endif
