/* main.c — llmscope's entry point: a subcommand (tokenize, info, template, devices, pull,
 * list, bench, synth, replay, render, calibrate) or the main command (the terminal app, or a headless reply with -p). */
#include "bench_cmd.h"
#include "calibrate.h"
#include "cli.h"
#include "pull.h"
#include "render_cmd.h"
#include "replay_cmd.h"
#include "synth_cmd.h"

#include <locale.h>
#include <string.h>

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv);
} command;

static const command COMMANDS[] = {
    {"tokenize", cli_tokenize_main},
    {"info", cli_info_main},
    {"template", cli_template_main},
    {"devices", cli_devices_main},
    {"pull", pull_main},
    {"list", list_main},
    {"bench", bench_main},
    {"synth", synth_main},
    {"replay", replay_main},
    {"render", render_main},
    {"calibrate", calibrate_main},
};

int main(int argc, char **argv) {
    setlocale(LC_ALL, ""); /* ncurses needs the locale for UTF-8 */
    if (argc >= 2) {
        for (size_t i = 0; i < sizeof COMMANDS / sizeof COMMANDS[0]; i++)
            if (strcmp(argv[1], COMMANDS[i].name) == 0) return COMMANDS[i].run(argc - 1, argv + 1);
        if (strcmp(argv[1], "help") == 0) {
            cli_usage(stdout);
            return 0;
        }
    }
    cli_options o;
    cli_options_default(&o);
    int rc = cli_parse(argc, argv, &o);
    if (rc == 1) return 0;
    if (rc != 0) return rc;
    return cli_run(&o);
}
