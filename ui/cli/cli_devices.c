/* cli_devices.c — `llmscope devices`: the Vulkan devices and their indices (--device). */
#include "cli.h"
#include "vk_engine.h"

#include <string.h>

int cli_devices_main(int argc, char **argv) {
    if (argc > 1 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        cli_usage(stdout);
        return 0;
    }
    if (argc > 1) {
        cli_error("devices takes no arguments");
        return 2;
    }
    char err[512];
    int n = engine_vulkan_list_devices(stdout, err, sizeof err);
    if (n < 0) {
        cli_error("%s (the cpu backend still works: --backend cpu)", err);
        return 1;
    }
    if (n == 0) {
        cli_error("no Vulkan device found (the cpu backend still works: --backend cpu)");
        return 1;
    }
    return 0;
}
