/* model_catalog.c — the built-in list of pullable models and the JSON catalog loader.
 *
 * About the built-in list: this machine has no network, so none of the repository or
 * file names below could be fetched from here. Each one was cross-checked against
 * several public projects that download it, and all of them are the official or widely
 * used community GGUF uploads, but they are UNVERIFIED until someone runs
 * `llmscope pull NAME` against the real Hugging Face. For the same reason no SHA-256 is
 * pinned: a wrong pin would make a model impossible to pull, so the hash comes from the
 * server (Hugging Face puts the sha256 of every LFS file in its X-Linked-Etag/ETag
 * headers; see pull.c). Sizes are approximate and only shown to the user.
 *
 * Quantisations were chosen for what model/quant.h can read: Q8_0 for the small models
 * (their widths are not multiples of 256, where llama.cpp's Q4_K_M falls back to types we
 * do not read), Q4_K_M (Q4_K + Q6_K) for the 1B+ ones whose widths are. */
#include "model_catalog.h"

#include <cjson/cJSON.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const catalog_entry BUILTIN[] = {
    /* unverified: HuggingFaceTB's own GGUF upload */
    {"smollm2-135m", "HuggingFaceTB/SmolLM2-135M-Instruct-GGUF",
     "smollm2-135m-instruct-q8_0.gguf", "", 145000000ull,
     "SmolLM2 135M Instruct, Q8_0 (Hugging Face, llama layout)"},
    /* unverified: HuggingFaceTB's own GGUF upload */
    {"smollm2-360m", "HuggingFaceTB/SmolLM2-360M-Instruct-GGUF",
     "smollm2-360m-instruct-q8_0.gguf", "", 386000000ull,
     "SmolLM2 360M Instruct, Q8_0 (Hugging Face, llama layout)"},
    /* unverified: Qwen's own GGUF upload */
    {"qwen2.5-0.5b", "Qwen/Qwen2.5-0.5B-Instruct-GGUF", "qwen2.5-0.5b-instruct-q8_0.gguf",
     "", 676000000ull, "Qwen2.5 0.5B Instruct, Q8_0 (Alibaba, qwen2 layout)"},
    /* unverified: Qwen's own GGUF upload */
    {"qwen2.5-1.5b", "Qwen/Qwen2.5-1.5B-Instruct-GGUF", "qwen2.5-1.5b-instruct-q4_k_m.gguf",
     "", 1117000000ull, "Qwen2.5 1.5B Instruct, Q4_K_M (Alibaba, qwen2 layout)"},
    /* unverified: bartowski's community upload (Meta's own repository is gated) */
    {"llama3.2-1b", "bartowski/Llama-3.2-1B-Instruct-GGUF", "Llama-3.2-1B-Instruct-Q4_K_M.gguf",
     "", 808000000ull, "Llama 3.2 1B Instruct, Q4_K_M (Meta, llama layout)"},
    /* unverified: TheBloke's community upload */
    {"tinyllama-1.1b", "TheBloke/TinyLlama-1.1B-Chat-v1.0-GGUF",
     "tinyllama-1.1b-chat-v1.0.Q4_K_M.gguf", "", 669000000ull,
     "TinyLlama 1.1B Chat v1.0, Q4_K_M (llama layout, Zephyr template)"},
    /* unverified: QuantFactory's community upload of openai-community/gpt2 */
    {"gpt2", "QuantFactory/gpt2-GGUF", "gpt2.Q8_0.gguf", "", 178000000ull,
     "GPT-2 124M, Q8_0 (OpenAI, gpt2 layout; completion only, no chat template)"},
};

/* A catalog file is a few KiB; anything near this size is a mistake, not a catalog. */
#define CATALOG_FILE_LIMIT (1u << 20)

static bool name_char(int c) { return isalnum(c) || c == '.' || c == '_' || c == '-'; }

bool catalog_name_ok(const char *name, const char **why) {
    const char *w = NULL;
    size_t n = strlen(name);
    if (n == 0 || n >= CATALOG_NAME_MAX) w = "must be 1 to 63 characters";
    else if (!isalnum((unsigned char)name[0])) w = "must start with a letter or digit";
    else
        for (size_t i = 0; i < n && !w; i++)
            if (!name_char((unsigned char)name[i])) w = "may only use letters, digits, '.', '_' and '-'";
    if (why) *why = w;
    return !w;
}

/* One path segment: name characters only, and not "." or ".." (which a server or a
 * URL normaliser would interpret). */
static bool segment_ok(const char *s, size_t n) {
    if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!name_char((unsigned char)s[i])) return false;
    return true;
}

bool catalog_repo_ok(const char *repo, const char **why) {
    const char *slash = strchr(repo, '/');
    const char *w = NULL;
    if (strlen(repo) >= CATALOG_REPO_MAX) w = "is too long";
    else if (!slash || strchr(slash + 1, '/')) w = "must look like owner/name";
    else if (!segment_ok(repo, (size_t)(slash - repo)) || !segment_ok(slash + 1, strlen(slash + 1)))
        w = "may only use letters, digits, '.', '_' and '-' around the '/'";
    if (why) *why = w;
    return !w;
}

bool catalog_file_ok(const char *file, const char **why) {
    size_t n = strlen(file);
    const char *w = NULL;
    if (n == 0 || n >= CATALOG_FILE_MAX) w = "must be 1 to 255 characters";
    else if (n < 5 || strcmp(file + n - 5, ".gguf") != 0) w = "must name a .gguf file";
    else {
        /* Subfolders are allowed (some repositories keep one folder per quantisation). */
        const char *s = file;
        while (!w) {
            const char *end = strchr(s, '/');
            size_t len = end ? (size_t)(end - s) : strlen(s);
            if (!segment_ok(s, len))
                w = "may only use letters, digits, '.', '_', '-' and '/' between path parts";
            if (!end) break;
            s = end + 1;
        }
    }
    if (why) *why = w;
    return !w;
}

bool catalog_sha256_ok(const char *hex) {
    if (strlen(hex) != 64) return false;
    for (int i = 0; i < 64; i++)
        if (!isxdigit((unsigned char)hex[i])) return false;
    return true;
}

void catalog_free(model_catalog *cat) {
    free(cat->entries);
    memset(cat, 0, sizeof *cat);
}

int catalog_load_builtin(model_catalog *cat, char *err, size_t errlen) {
    memset(cat, 0, sizeof *cat);
    cat->count = sizeof BUILTIN / sizeof BUILTIN[0];
    cat->entries = malloc(sizeof BUILTIN);
    if (!cat->entries) {
        snprintf(err, errlen, "out of memory loading the model catalog");
        cat->count = 0;
        return -1;
    }
    memcpy(cat->entries, BUILTIN, sizeof BUILTIN);
    snprintf(cat->source, sizeof cat->source, "built-in");
    return 0;
}

/* Reads all of PATH (at most CATALOG_FILE_LIMIT bytes) into a malloc'd buffer. */
static char *read_small_file(const char *path, size_t *len, char *err, size_t errlen) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot open model catalog %s: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = malloc(CATALOG_FILE_LIMIT + 1);
    size_t n = buf ? fread(buf, 1, CATALOG_FILE_LIMIT + 1, f) : 0;
    bool bad_read = ferror(f);
    fclose(f);
    if (!buf) {
        snprintf(err, errlen, "out of memory reading model catalog %s", path);
        return NULL;
    }
    if (bad_read || n > CATALOG_FILE_LIMIT) {
        snprintf(err, errlen, "model catalog %s: %s", path,
                 bad_read ? "read error" : "larger than 1 MiB, not a catalog");
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* Copies the string member KEY of OBJ into DST (capacity CAP). A missing member is ""
 * when OPTIONAL, an error otherwise. Text must be printable: it ends up on a terminal. */
static int get_text(const cJSON *obj, const char *key, bool optional, char *dst, size_t cap,
                    const char *where, char *err, size_t errlen) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    dst[0] = '\0';
    if (!v || cJSON_IsNull(v)) {
        if (optional) return 0;
        snprintf(err, errlen, "%s: missing \"%s\"", where, key);
        return -1;
    }
    if (!cJSON_IsString(v)) {
        snprintf(err, errlen, "%s: \"%s\" must be a string", where, key);
        return -1;
    }
    const char *s = v->valuestring;
    if (strlen(s) >= cap) {
        snprintf(err, errlen, "%s: \"%s\" is longer than %zu characters", where, key, cap - 1);
        return -1;
    }
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f) {
            snprintf(err, errlen, "%s: \"%s\" contains a control character", where, key);
            return -1;
        }
    memcpy(dst, s, strlen(s) + 1);
    return 0;
}

/* Fills E from the JSON object OBJ, checking every field. */
static int parse_entry(const cJSON *obj, catalog_entry *e, const char *where, char *err,
                       size_t errlen) {
    const char *why = NULL;
    memset(e, 0, sizeof *e);
    if (!cJSON_IsObject(obj)) {
        snprintf(err, errlen, "%s: must be an object", where);
        return -1;
    }
    if (get_text(obj, "name", false, e->name, sizeof e->name, where, err, errlen) ||
        get_text(obj, "repo", false, e->repo, sizeof e->repo, where, err, errlen) ||
        get_text(obj, "file", false, e->file, sizeof e->file, where, err, errlen) ||
        get_text(obj, "sha256", true, e->sha256, sizeof e->sha256, where, err, errlen) ||
        get_text(obj, "description", true, e->description, sizeof e->description, where, err,
                 errlen))
        return -1;
    if (!catalog_name_ok(e->name, &why)) {
        snprintf(err, errlen, "%s: name \"%s\" %s", where, e->name, why);
        return -1;
    }
    if (!catalog_repo_ok(e->repo, &why)) {
        snprintf(err, errlen, "%s (%s): repo \"%s\" %s", where, e->name, e->repo, why);
        return -1;
    }
    if (!catalog_file_ok(e->file, &why)) {
        snprintf(err, errlen, "%s (%s): file \"%s\" %s", where, e->name, e->file, why);
        return -1;
    }
    if (e->sha256[0]) {
        if (!catalog_sha256_ok(e->sha256)) {
            snprintf(err, errlen, "%s (%s): sha256 must be 64 hex digits", where, e->name);
            return -1;
        }
        for (char *p = e->sha256; *p; p++) *p = (char)tolower((unsigned char)*p);
    }
    const cJSON *size = cJSON_GetObjectItemCaseSensitive(obj, "size");
    if (size && !cJSON_IsNull(size)) {
        /* JSON numbers are doubles: exact up to 2^53 bytes, far beyond any model. */
        if (!cJSON_IsNumber(size) || size->valuedouble < 0 || size->valuedouble > 9.0e15) {
            snprintf(err, errlen, "%s (%s): size must be a number of bytes", where, e->name);
            return -1;
        }
        e->approx_bytes = (uint64_t)size->valuedouble;
    }
    return 0;
}

int catalog_load_json(model_catalog *cat, const char *path, char *err, size_t errlen) {
    memset(cat, 0, sizeof *cat);
    size_t len = 0;
    char *text = read_small_file(path, &len, err, errlen);
    if (!text) return -1;
    cJSON *root = cJSON_ParseWithLength(text, len);
    free(text);
    if (!root) {
        snprintf(err, errlen, "model catalog %s is not valid JSON", path);
        return -1;
    }
    /* {"models": [...]} as documented; a bare array is accepted too. */
    const cJSON *list = cJSON_IsArray(root) ? root : cJSON_GetObjectItemCaseSensitive(root, "models");
    int rc = -1;
    if (!cJSON_IsArray(list)) {
        snprintf(err, errlen, "model catalog %s: expected {\"models\": [...]}", path);
        goto done;
    }
    int n = cJSON_GetArraySize(list);
    if (n <= 0) {
        snprintf(err, errlen, "model catalog %s lists no models", path);
        goto done;
    }
    cat->entries = calloc((size_t)n, sizeof *cat->entries);
    if (!cat->entries) {
        snprintf(err, errlen, "out of memory loading model catalog %s", path);
        goto done;
    }
    for (int i = 0; i < n; i++) {
        char where[320];
        snprintf(where, sizeof where, "model catalog %s, entry %d", path, i + 1);
        catalog_entry *e = &cat->entries[i];
        if (parse_entry(cJSON_GetArrayItem(list, i), e, where, err, errlen)) goto done;
        /* Two entries with one name would share one file on disk. */
        for (int j = 0; j < i; j++)
            if (strcmp(cat->entries[j].name, e->name) == 0) {
                snprintf(err, errlen, "%s: name \"%s\" appears twice", where, e->name);
                goto done;
            }
        cat->count = (size_t)i + 1;
    }
    snprintf(cat->source, sizeof cat->source, "%s", path);
    rc = 0;
done:
    cJSON_Delete(root);
    if (rc) catalog_free(cat);
    return rc;
}

int catalog_load(model_catalog *cat, char *err, size_t errlen) {
    const char *path = getenv("LLMSCOPE_CATALOG");
    if (path && *path) return catalog_load_json(cat, path, err, errlen);
    return catalog_load_builtin(cat, err, errlen);
}

const catalog_entry *catalog_find(const model_catalog *cat, const char *name) {
    for (size_t i = 0; i < cat->count; i++)
        if (strcmp(cat->entries[i].name, name) == 0) return &cat->entries[i];
    return NULL;
}

void catalog_names(const model_catalog *cat, char *buf, size_t cap) {
    size_t used = 0;
    if (cap) buf[0] = '\0';
    for (size_t i = 0; i < cat->count && used < cap; i++) {
        int n = snprintf(buf + used, cap - used, "%s%s", i ? ", " : "", cat->entries[i].name);
        if (n < 0) break;
        used += (size_t)n;
    }
}
