/* model_catalog.h — the models `llmscope pull` knows how to fetch.
 *
 * An entry maps a short name the user types ("smollm2-135m") to one GGUF file in a
 * Hugging Face repository. The built-in list lives in model_catalog.c; the environment
 * variable LLMSCOPE_CATALOG names a JSON file that replaces it (tests use this to point
 * at small local files; a user can use it to add their own models):
 *
 *   {"models": [{"name": "tiny", "repo": "owner/repo", "file": "tiny.gguf",
 *                "sha256": "<64 hex, optional>", "size": 12345 (optional, bytes),
 *                "description": "optional text"}]}
 *
 * The catalog is untrusted input: a name becomes a file name in the user's data
 * directory and repo/file become parts of a URL, so every field is checked for its shape
 * before anyone uses it. */
#ifndef LLMSCOPE_MODEL_CATALOG_H
#define LLMSCOPE_MODEL_CATALOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CATALOG_NAME_MAX 64
#define CATALOG_REPO_MAX 128
#define CATALOG_FILE_MAX 256
#define CATALOG_DESC_MAX 128

typedef struct catalog_entry {
    char name[CATALOG_NAME_MAX];        /* [A-Za-z0-9._-], starts with a letter or digit */
    char repo[CATALOG_REPO_MAX];        /* "owner/name" on Hugging Face */
    char file[CATALOG_FILE_MAX];        /* path of the .gguf inside the repository */
    char sha256[65];                    /* pinned lowercase hex, or "" when not pinned */
    uint64_t approx_bytes;              /* for display only; 0 = unknown */
    char description[CATALOG_DESC_MAX];
} catalog_entry;

typedef struct model_catalog {
    catalog_entry *entries;             /* malloc'd; catalog_free releases it */
    size_t count;
    char source[256];                   /* "built-in" or the JSON file's path */
} model_catalog;

/* Loads the catalog: the JSON file named by $LLMSCOPE_CATALOG when set, else the
 * built-in list. Returns 0, or -1 with one line in ERR (and *CAT empty). */
int catalog_load(model_catalog *cat, char *err, size_t errlen);
/* Loads the built-in list only. */
int catalog_load_builtin(model_catalog *cat, char *err, size_t errlen);
/* Loads a JSON catalog file (format above). */
int catalog_load_json(model_catalog *cat, const char *path, char *err, size_t errlen);
void catalog_free(model_catalog *cat);

/* The entry called NAME (exact match), or NULL. */
const catalog_entry *catalog_find(const model_catalog *cat, const char *name);
/* Writes "a, b, c" (every name, in catalog order) into BUF, truncated to CAP. */
void catalog_names(const model_catalog *cat, char *buf, size_t cap);

/* Shape checks, shared by the JSON loader and the tests of the built-in list. Each
 * returns true when the value is acceptable; on false, WHY (if not NULL) says what is
 * wrong in a few words. */
bool catalog_name_ok(const char *name, const char **why);
bool catalog_repo_ok(const char *repo, const char **why);
bool catalog_file_ok(const char *file, const char **why);
bool catalog_sha256_ok(const char *hex); /* 64 hex digits (either case) */

#endif
