/* test_vulkan.h — the Vulkan engine as the program makes it, for the tests: its options
 * from the environment (ui/vk_options.c), so that tests/run.sh can turn on the validation
 * layer and force the kernel shapes GPUs get (LLMSCOPE_VK_*) for every Vulkan test. */
#ifndef LLMSCOPE_TEST_VULKAN_H
#define LLMSCOPE_TEST_VULKAN_H

#include "vk_engine.h"
#include "engine_options.h"

static inline engine *test_vulkan_create(const model *m, int n_ctx, int device, bool capture, char *err,
                                         size_t errlen) {
    vk_engine_options o = vk_options_from_env(device, capture);
    return engine_vulkan_create_opts(m, n_ctx, &o, err, errlen);
}

#endif
