/* synth_cmd.c — command line of `llmscope synth` (the generator is model/synth.c). */
#include "synth_cmd.h"
#include "synth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *out) {
    fprintf(out, "usage: llmscope synth --shape SHAPE --type TYPE -o FILE [--seed N]\n"
                 "  writes a GGUF file with random weights and the exact shape of a real model\n"
                 "  SHAPE:");
    for (size_t i = 0; synth_shape_name(i); i++) fprintf(out, " %s", synth_shape_name(i));
    fprintf(out, "\n  TYPE: ");
    for (const char *const *t = synth_types(); *t; t++) fprintf(out, " %s", *t);
    fprintf(out, "\n");
}

static void show_progress(uint64_t done, uint64_t total, void *ctx) {
    (void)ctx;
    fprintf(stderr, "\rsynth: %5.1f%% of %.1f MB", total ? 100.0 * (double)done / (double)total : 100.0,
            (double)total / 1e6);
    if (done == total) fputc('\n', stderr);
}

int synth_main(int argc, char **argv) {
    const char *shape = NULL, *type = NULL, *out = NULL;
    unsigned long long seed = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { usage(stdout); return 0; }
        if (!v) { fprintf(stderr, "llmscope synth: %s needs a value\n", a); return 2; }
        if (!strcmp(a, "--shape")) shape = v;
        else if (!strcmp(a, "--type")) type = v;
        else if (!strcmp(a, "-o") || !strcmp(a, "--output")) out = v;
        else if (!strcmp(a, "--seed")) {
            char *end;
            seed = strtoull(v, &end, 10);
            if (*end || !*v) { fprintf(stderr, "llmscope synth: --seed wants a number, got '%s'\n", v); return 2; }
        } else { fprintf(stderr, "llmscope synth: unknown option '%s'\n", a); usage(stderr); return 2; }
        i++;
    }
    if (!shape || !type || !out) { usage(stderr); return 2; }
    char err[512];
    if (synth_write(shape, type, out, seed, isatty(2) ? show_progress : NULL, NULL, err, sizeof err)) {
        fprintf(stderr, "llmscope synth: %s\n", err);
        return 1;
    }
    fprintf(stderr, "llmscope synth: wrote %s (%s, %s, seed %llu)\n", out, shape, type, seed);
    return 0;
}
