/* cli_load.c — finding the model file, loading it with its tokenizer, and choosing the
 * backend. */
#include "cli.h"
#include "model_catalog.h"
#include "pull.h"
#include "tokenizer.h"
#include "vk_engine.h"
#include "engine_options.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_CONTEXT 4096

static bool is_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* A path that exists wins; otherwise a name may be a pulled model. A missing path is
 * returned as it is, so that opening it gives the usual "No such file" error. */
static void resolve(const char *arg, char *path, size_t cap) {
    if (is_file(arg) || pull_installed_path(arg, path, cap) != 0) snprintf(path, cap, "%s", arg);
}

/* The model that ships with llmscope (assets/, trained by train/): found beside the
 * program in a source tree (build/llmscope -> assets/) or where `make install` puts it
 * (PREFIX/bin/llmscope -> PREFIX/share/llmscope/). */
#define SHIPPED_MODEL "llmscope-dict.gguf"

static int find_shipped_model(char *path, size_t cap) {
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return -1;
    exe[n] = 0;
    const char *dir = dirname(exe);
    static const char *const places[] = {"%s/../assets/%s", "%s/assets/%s", "%s/../share/llmscope/%s"};
    for (size_t i = 0; i < sizeof places / sizeof *places; i++) {
        if (snprintf(path, cap, places[i], dir, SHIPPED_MODEL) < (int)cap && is_file(path)) return 0;
    }
    return -1;
}

int cli_find_model(const char *arg, char *path, size_t cap, char *err, size_t errlen) {
    if (arg && *arg) {
        resolve(arg, path, cap);
        return 0;
    }
    const char *env = getenv("LLMSCOPE_MODEL");
    if (env && *env) {
        resolve(env, path, cap);
        return 0;
    }
    if (find_shipped_model(path, cap) == 0) return 0;
    /* else the first model of the built-in catalog, once pulled */
    model_catalog cat;
    char cat_err[256], name[CATALOG_NAME_MAX] = "NAME";
    if (catalog_load_builtin(&cat, cat_err, sizeof cat_err) == 0 && cat.count > 0) {
        snprintf(name, sizeof name, "%s", cat.entries[0].name);
        int found = pull_installed_path(name, path, cap);
        catalog_free(&cat);
        if (found == 0) return 0;
    }
    snprintf(err, errlen,
             "no model given: use -m FILE.gguf, set LLMSCOPE_MODEL, or download one with "
             "'llmscope pull %s' ('llmscope list' shows the others)", name);
    return -1;
}

int cli_load_model(cli_model *cm, char *err, size_t errlen) {
    if (model_load(&cm->m, cm->path, err, errlen) < 0) return -1;
    cm->have_model = true;
    char terr[512];
    cm->tok = tokenizer_load(&cm->m.file, terr, sizeof terr);
    if (!cm->tok) {
        snprintf(err, errlen, "%s: %s", cm->path, terr);
        return -1;
    }
    return 0;
}

int cli_default_ctx(const model *m) {
    int n = m->hp.n_ctx_train;
    return n > 0 && n < DEFAULT_CONTEXT ? n : DEFAULT_CONTEXT;
}

int cli_create_engine(cli_model *cm, cli_backend backend, int device, int n_ctx, bool capture,
                      bool verbose, char *err, size_t errlen) {
    if (backend == CLI_BACKEND_AUTO && device < 0) {
        /* A Vulkan device that is really the CPU (lavapipe) runs these small kernels far
         * slower than the plain C engine does: automatic choice then takes the CPU engine.
         * --backend vulkan still runs on it (that is how CI tests the shaders). */
        char name[256];
        if (engine_vulkan_auto_device_kind(name, sizeof name, err, errlen) == 1) {
            if (verbose) fprintf(stderr, "llmscope: the only Vulkan device is %s, a CPU; using the CPU engine (--backend vulkan forces it)\n", name);
            backend = CLI_BACKEND_CPU;
        }
    }
    if (backend != CLI_BACKEND_CPU) {
        {
            vk_engine_options vo = vk_options_from_env(device, capture);
            cm->e = engine_vulkan_create_opts(&cm->m, n_ctx, &vo, err, errlen);
        }
        if (!cm->e && (backend == CLI_BACKEND_VULKAN || device >= 0)) return -1;
        /* AUTO: no usable device (or the model does not fit it); the CPU can still run it */
        if (!cm->e && verbose) fprintf(stderr, "llmscope: Vulkan unavailable (%s); using the CPU\n", err);
    }
    if (!cm->e) {
        cpu_engine_options co;
        if (cpu_options_from_env(&co, err, errlen) < 0) return -1;
        cm->e = engine_cpu_create_opts(&cm->m, n_ctx, &co, err, errlen);
    }
    if (!cm->e) return -1;
    if (verbose)
        fprintf(stderr, "llmscope: backend %s (%s), context %d\n", cm->e->backend, cm->e->device_name, n_ctx);
    return 0;
}

void cli_model_free(cli_model *cm) {
    engine_destroy(cm->e);
    cm->e = NULL;
    if (cm->tok) tokenizer_free(cm->tok);
    cm->tok = NULL;
    if (cm->have_model) model_free(&cm->m);
    cm->have_model = false;
}
