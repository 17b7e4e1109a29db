/* pull.h — `llmscope pull NAME` (download a known model) and `llmscope list`.
 *
 * Pulled models live in $XDG_DATA_HOME/llmscope/models (default
 * ~/.local/share/llmscope/models) as NAME.gguf; a download in progress is NAME.part,
 * which the next `pull NAME` resumes with an HTTP Range request. A file is installed
 * only after its SHA-256 matched (the catalog's pinned hash, else the one Hugging Face
 * sends) and it opened as a GGUF.
 *
 * Environment: LLMSCOPE_HF_ENDPOINT replaces https://huggingface.co (a mirror, or a
 * local server in tests); LLMSCOPE_CATALOG names a JSON catalog that replaces the
 * built-in one (see model_catalog.h). */
#ifndef LLMSCOPE_PULL_H
#define LLMSCOPE_PULL_H

#include <stddef.h>

/* Subcommand entry points for ui/cli/main.c: argv[0] is "pull" / "list". They print to
 * stdout/stderr and return the process exit status (0 ok, 1 failed, 2 usage error). */
int pull_main(int argc, char **argv);
int list_main(int argc, char **argv);

/* The folder pulled models go to (not created here). Returns 0, or -1 with ERR filled
 * when neither XDG_DATA_HOME nor HOME gives an absolute path. */
int pull_models_dir(char *buf, size_t cap, char *err, size_t errlen);

/* When a model called NAME has been pulled, writes its path into BUF and returns 0;
 * otherwise returns -1. Lets `-m NAME` find a pulled model. */
int pull_installed_path(const char *name, char *buf, size_t cap);

#endif
