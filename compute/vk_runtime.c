/* vk_runtime.c — Vulkan loader, device, memory, pipelines and submission (see vk_runtime.h). */
#include "vk_runtime.h"
#include "error_msg.h"

#include "spirv_blobs.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_FENCE_TIMEOUT_S 120

const char *vk_result_name(VkResult r) {
    switch (r) {
    case VK_SUCCESS: return "success";
    case VK_TIMEOUT: return "timeout";
    case VK_ERROR_OUT_OF_HOST_MEMORY: return "out of host memory";
    case VK_ERROR_OUT_OF_DEVICE_MEMORY: return "out of device memory";
    case VK_ERROR_INITIALIZATION_FAILED: return "initialization failed";
    case VK_ERROR_DEVICE_LOST: return "device lost";
    case VK_ERROR_MEMORY_MAP_FAILED: return "memory map failed";
    case VK_ERROR_LAYER_NOT_PRESENT: return "layer not present";
    case VK_ERROR_EXTENSION_NOT_PRESENT: return "extension not present";
    case VK_ERROR_FEATURE_NOT_PRESENT: return "feature not present";
    case VK_ERROR_INCOMPATIBLE_DRIVER: return "incompatible driver";
    case VK_ERROR_TOO_MANY_OBJECTS: return "too many objects";
    case VK_ERROR_FRAGMENTED_POOL: return "fragmented pool";
    case VK_ERROR_OUT_OF_POOL_MEMORY: return "out of pool memory";
    default: return "error";
    }
}

/* --- loader ------------------------------------------------------------------------ */

static int load_loader(vk_fns *f, char *err, size_t errlen) {
    memset(f, 0, sizeof *f);
    f->lib = dlopen("libvulkan.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!f->lib) f->lib = dlopen("libvulkan.so", RTLD_NOW | RTLD_LOCAL);
    if (!f->lib)
        return err_fail(err, errlen, "no Vulkan loader (libvulkan.so.1 not found): install libvulkan1 "
                        "and a Vulkan driver, or use the CPU backend");
    /* dlsym returns void*; converting through memcpy avoids the object-to-function
     * pointer cast that ISO C leaves undefined. */
    void *sym = dlsym(f->lib, "vkGetInstanceProcAddr");
    if (!sym) {
        dlclose(f->lib);
        f->lib = NULL;
        return err_fail(err, errlen, "the Vulkan loader has no vkGetInstanceProcAddr");
    }
    memcpy(&f->GetInstanceProcAddr, &sym, sizeof sym);
    f->CreateInstance = (PFN_vkCreateInstance)f->GetInstanceProcAddr(NULL, "vkCreateInstance");
    f->EnumerateInstanceLayerProperties = (PFN_vkEnumerateInstanceLayerProperties)
        f->GetInstanceProcAddr(NULL, "vkEnumerateInstanceLayerProperties");
    f->EnumerateInstanceExtensionProperties = (PFN_vkEnumerateInstanceExtensionProperties)
        f->GetInstanceProcAddr(NULL, "vkEnumerateInstanceExtensionProperties");
    if (!f->CreateInstance || !f->EnumerateInstanceLayerProperties ||
        !f->EnumerateInstanceExtensionProperties)
        return err_fail(err, errlen, "the Vulkan loader is missing core entry points");
    return 0;
}

static int load_instance_fns(vk_fns *f, VkInstance inst, char *err, size_t errlen) {
#define LOAD(name)                                                                      \
    f->name = (PFN_vk##name)f->GetInstanceProcAddr(inst, "vk" #name);                   \
    if (!f->name) return err_fail(err, errlen, "Vulkan entry point vk" #name " missing");
    VK_INSTANCE_FNS(LOAD)
#undef LOAD
    f->CreateDebugUtilsMessengerEXT = (PFN_vkCreateDebugUtilsMessengerEXT)
        f->GetInstanceProcAddr(inst, "vkCreateDebugUtilsMessengerEXT");
    f->DestroyDebugUtilsMessengerEXT = (PFN_vkDestroyDebugUtilsMessengerEXT)
        f->GetInstanceProcAddr(inst, "vkDestroyDebugUtilsMessengerEXT");
    return 0;
}

static int load_device_fns(vk_fns *f, VkDevice dev, char *err, size_t errlen) {
#define LOAD(name)                                                                      \
    f->name = (PFN_vk##name)f->GetDeviceProcAddr(dev, "vk" #name);                      \
    if (!f->name) return err_fail(err, errlen, "Vulkan entry point vk" #name " missing");
    VK_DEVICE_FNS(LOAD)
#undef LOAD
    return 0;
}

static bool has_layer(const vk_fns *f, const char *name) {
    uint32_t n = 0;
    if (f->EnumerateInstanceLayerProperties(&n, NULL) != VK_SUCCESS || n == 0) return false;
    VkLayerProperties *p = calloc(n, sizeof *p);
    bool found = false;
    if (p && f->EnumerateInstanceLayerProperties(&n, p) == VK_SUCCESS)
        for (uint32_t i = 0; i < n && !found; i++) found = strcmp(p[i].layerName, name) == 0;
    free(p);
    return found;
}

static bool has_instance_ext(const vk_fns *f, const char *name) {
    uint32_t n = 0;
    if (f->EnumerateInstanceExtensionProperties(NULL, &n, NULL) != VK_SUCCESS || n == 0) return false;
    VkExtensionProperties *p = calloc(n, sizeof *p);
    bool found = false;
    if (p && f->EnumerateInstanceExtensionProperties(NULL, &n, p) == VK_SUCCESS)
        for (uint32_t i = 0; i < n && !found; i++) found = strcmp(p[i].extensionName, name) == 0;
    free(p);
    return found;
}

#define VALIDATION_LAYER "VK_LAYER_KHRONOS_validation"

static VKAPI_ATTR VkBool32 VKAPI_CALL on_validation_message(
    VkDebugUtilsMessageSeverityFlagBitsEXT severity, VkDebugUtilsMessageTypeFlagsEXT types,
    const VkDebugUtilsMessengerCallbackDataEXT *data, void *user) {
    (void)types;
    vk_runtime *rt = user;
    if (severity & VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT) {
        if (rt->validation_errors++ == 0)
            snprintf(rt->first_validation_error, sizeof rt->first_validation_error, "%s",
                     data->pMessage ? data->pMessage : "?");
        fprintf(stderr, "vulkan validation error: %s\n", data->pMessage ? data->pMessage : "?");
    } else if (severity & VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT) {
        fprintf(stderr, "vulkan validation warning: %s\n", data->pMessage ? data->pMessage : "?");
    }
    return VK_FALSE;
}

/* RT may be NULL (device listing): then no messenger is installed. */
static int create_instance(vk_fns *f, VkInstance *inst, vk_runtime *rt, const vk_runtime_options *opt, char *err,
                           size_t errlen) {
    bool validation = rt && opt && (opt->count_errors || opt->load_layer);
    const char *layers[1], *exts[1];
    uint32_t n_layers = 0, n_exts = 0;
    if (validation && opt->load_layer) {
        if (!has_layer(f, VALIDATION_LAYER))
            return err_fail(err, errlen, "the Vulkan validation layer was asked for, but %s is not installed "
                            "(package vulkan-validationlayers)", VALIDATION_LAYER);
        layers[n_layers++] = VALIDATION_LAYER;
    }
    bool debug_utils = validation && has_instance_ext(f, VK_EXT_DEBUG_UTILS_EXTENSION_NAME);
    if (debug_utils) exts[n_exts++] = VK_EXT_DEBUG_UTILS_EXTENSION_NAME;

    VkApplicationInfo app = {
        .sType = VK_STRUCTURE_TYPE_APPLICATION_INFO,
        .pApplicationName = "llmscope",
        .apiVersion = VK_API_VERSION_1_2,
    };
    VkInstanceCreateInfo ci = {
        .sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO,
        .pApplicationInfo = &app,
        .enabledLayerCount = n_layers,
        .ppEnabledLayerNames = layers,
        .enabledExtensionCount = n_exts,
        .ppEnabledExtensionNames = exts,
    };
    VkResult r = f->CreateInstance(&ci, NULL, inst);
    if (r == VK_ERROR_INCOMPATIBLE_DRIVER) /* what the loader says when it finds no driver */
        return err_fail(err, errlen, "no Vulkan driver found (install your GPU's Vulkan driver, or "
                        "mesa-vulkan-drivers for the CPU one)");
    if (r != VK_SUCCESS)
        return err_fail(err, errlen, "cannot create a Vulkan instance: %s", vk_result_name(r));
    if (load_instance_fns(f, *inst, err, errlen)) return -1;
    if (debug_utils && f->CreateDebugUtilsMessengerEXT) {
        VkDebugUtilsMessengerCreateInfoEXT mi = {
            .sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT,
            .messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT |
                               VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT,
            .messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT |
                           VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                           VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT,
            .pfnUserCallback = on_validation_message,
            .pUserData = rt,
        };
        r = f->CreateDebugUtilsMessengerEXT(*inst, &mi, NULL, &rt->messenger);
        if (r != VK_SUCCESS)
            return err_fail(err, errlen, "cannot install the validation messenger: %s", vk_result_name(r));
    }
    return 0;
}

/* --- devices ----------------------------------------------------------------------- */

typedef struct device_facts {
    VkPhysicalDeviceProperties props;
    VkPhysicalDeviceSubgroupProperties subgroup;
    VkPhysicalDeviceMaintenance3Properties maint3;
    VkPhysicalDeviceDriverProperties driver;
    VkDeviceSize local_bytes;  /* sum of device-local heaps */
    int compute_family;        /* -1: none */
    uint32_t timestamp_bits;
    const char *unusable;      /* why llmscope cannot use it, or NULL */
} device_facts;

static void read_facts(const vk_fns *f, VkPhysicalDevice pd, device_facts *d) {
    memset(d, 0, sizeof *d);
    f->GetPhysicalDeviceProperties(pd, &d->props);
    d->subgroup.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES;
    d->maint3.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_3_PROPERTIES;
    d->driver.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES;
    d->subgroup.pNext = &d->maint3;
    /* Driver properties are core only from Vulkan 1.2; older devices are unusable anyway. */
    if (d->props.apiVersion >= VK_API_VERSION_1_2) d->maint3.pNext = &d->driver;
    VkPhysicalDeviceProperties2 p2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2,
                                      .pNext = &d->subgroup};
    f->GetPhysicalDeviceProperties2(pd, &p2);
    if (!d->driver.driverName[0]) snprintf(d->driver.driverName, sizeof d->driver.driverName, "unknown");

    VkPhysicalDeviceMemoryProperties mem;
    f->GetPhysicalDeviceMemoryProperties(pd, &mem);
    for (uint32_t i = 0; i < mem.memoryHeapCount; i++)
        if (mem.memoryHeaps[i].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT)
            d->local_bytes += mem.memoryHeaps[i].size;

    uint32_t nq = 0;
    f->GetPhysicalDeviceQueueFamilyProperties(pd, &nq, NULL);
    VkQueueFamilyProperties q[16];
    if (nq > 16) nq = 16;
    f->GetPhysicalDeviceQueueFamilyProperties(pd, &nq, q);
    d->compute_family = -1;
    /* Prefer a compute-only family (it runs beside graphics work on discrete GPUs). */
    for (int pass = 0; pass < 2 && d->compute_family < 0; pass++)
        for (uint32_t i = 0; i < nq; i++) {
            bool compute = q[i].queueFlags & VK_QUEUE_COMPUTE_BIT;
            bool graphics = q[i].queueFlags & VK_QUEUE_GRAPHICS_BIT;
            if (compute && (pass == 1 || !graphics)) {
                d->compute_family = (int)i;
                d->timestamp_bits = q[i].timestampValidBits;
                break;
            }
        }

    const VkSubgroupFeatureFlags need = VK_SUBGROUP_FEATURE_BASIC_BIT | VK_SUBGROUP_FEATURE_ARITHMETIC_BIT;
    if (d->props.apiVersion < VK_API_VERSION_1_2) d->unusable = "needs Vulkan 1.2";
    else if (d->compute_family < 0) d->unusable = "no compute queue";
    else if (!(d->subgroup.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT) ||
             (d->subgroup.supportedOperations & need) != need)
        d->unusable = "no subgroup arithmetic in compute shaders";
    else if (d->subgroup.subgroupSize < 4 || d->subgroup.subgroupSize > 128)
        d->unusable = "unsupported subgroup size";
    else if (d->props.limits.maxComputeWorkGroupInvocations < 256 ||
             d->props.limits.maxComputeSharedMemorySize < 16384)
        d->unusable = "compute limits too small";
}

static const char *type_name(VkPhysicalDeviceType t) {
    switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return "discrete GPU";
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return "integrated GPU";
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return "virtual GPU";
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return "CPU";
    default: return "other";
    }
}

/* Lower is preferred: discrete, integrated, virtual, CPU, other. */
static int type_rank(VkPhysicalDeviceType t) {
    switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return 0;
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return 1;
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return 2;
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return 3;
    default: return 4;
    }
}

static int enumerate(const vk_fns *f, VkInstance inst, VkPhysicalDevice **out, char *err, size_t errlen) {
    uint32_t n = 0;
    VkResult r = f->EnumeratePhysicalDevices(inst, &n, NULL);
    if (r != VK_SUCCESS) return err_fail(err, errlen, "cannot list Vulkan devices: %s", vk_result_name(r));
    if (n == 0) return err_fail(err, errlen, "no Vulkan device found (install a driver, e.g. mesa-vulkan-drivers)");
    *out = calloc(n, sizeof **out);
    if (!*out) return err_fail(err, errlen, "out of memory");
    r = f->EnumeratePhysicalDevices(inst, &n, *out);
    if (r != VK_SUCCESS && r != VK_INCOMPLETE) {
        free(*out);
        return err_fail(err, errlen, "cannot list Vulkan devices: %s", vk_result_name(r));
    }
    return (int)n;
}

int vk_list_devices(FILE *out, char *err, size_t errlen) {
    vk_fns f;
    VkInstance inst = VK_NULL_HANDLE;
    VkPhysicalDevice *pds = NULL;
    int n = -1;
    if (load_loader(&f, err, errlen)) return -1;
    if (create_instance(&f, &inst, NULL, NULL, err, errlen)) goto done;
    n = enumerate(&f, inst, &pds, err, errlen);
    for (int i = 0; i < n; i++) {
        device_facts d;
        read_facts(&f, pds[i], &d);
        uint32_t v = d.props.apiVersion;
        fprintf(out, "%d: %s (%s, driver %s, Vulkan %u.%u, %.1f GiB device memory)%s%s\n", i,
                d.props.deviceName, type_name(d.props.deviceType), d.driver.driverName,
                VK_API_VERSION_MAJOR(v), VK_API_VERSION_MINOR(v),
                (double)d.local_bytes / (1024.0 * 1024 * 1024), d.unusable ? " unusable: " : "",
                d.unusable ? d.unusable : "");
    }
done:
    free(pds);
    if (inst) f.DestroyInstance(inst, NULL);
    if (f.lib) dlclose(f.lib);
    return n;
}

/* --- pipeline cache ---------------------------------------------------------------- */

/* The cache file in the options' folder, per device model so that a machine with two
 * GPUs keeps both caches. */
static void cache_file_path(vk_runtime *rt, const char *dir) {
    if (!dir || !*dir) { rt->cache_path[0] = 0; return; }
    snprintf(rt->cache_path, sizeof rt->cache_path, "%s/vulkan-pipelines-%04x-%04x.bin", dir,
             rt->props.vendorID, rt->props.deviceID);
}

/* Returns the file's bytes if its header names this very device and driver build
 * (a stale or foreign cache is ignored rather than handed to the driver). */
static void *read_cache(vk_runtime *rt, size_t *size) {
    *size = 0;
    if (!rt->cache_path[0]) return NULL;
    FILE *fp = fopen(rt->cache_path, "rb");
    if (!fp) return NULL;
    void *buf = NULL;
    if (fseek(fp, 0, SEEK_END) == 0) {
        long n = ftell(fp);
        if (n >= 32 && n < (64l << 20) && fseek(fp, 0, SEEK_SET) == 0 && (buf = malloc((size_t)n)) &&
            fread(buf, 1, (size_t)n, fp) == (size_t)n)
            *size = (size_t)n;
    }
    fclose(fp);
    const uint8_t *h = buf;
    uint32_t hdr[4];
    if (*size) memcpy(hdr, h, sizeof hdr);
    if (!*size || hdr[0] < 32 || hdr[1] != VK_PIPELINE_CACHE_HEADER_VERSION_ONE ||
        hdr[2] != rt->props.vendorID || hdr[3] != rt->props.deviceID ||
        memcmp(h + 16, rt->props.pipelineCacheUUID, VK_UUID_SIZE) != 0) {
        free(buf);
        *size = 0;
        return NULL;
    }
    return buf;
}

static void mkdir_parents(const char *path) {
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            mkdir(tmp, 0755);
            *p = '/';
        }
}

/* Best effort: a cache that cannot be written only costs start-up time next run. */
static void save_cache(vk_runtime *rt) {
    if (!rt->pipeline_cache || !rt->cache_path[0]) return;
    size_t n = 0;
    if (rt->vk.GetPipelineCacheData(rt->dev, rt->pipeline_cache, &n, NULL) != VK_SUCCESS || !n) return;
    void *buf = malloc(n);
    if (!buf) return;
    if (rt->vk.GetPipelineCacheData(rt->dev, rt->pipeline_cache, &n, buf) == VK_SUCCESS) {
        char tmp[540];
        snprintf(tmp, sizeof tmp, "%s.%ld.tmp", rt->cache_path, (long)getpid());
        mkdir_parents(tmp);
        FILE *fp = fopen(tmp, "wb");
        if (fp) {
            bool ok = fwrite(buf, 1, n, fp) == n;
            ok = fclose(fp) == 0 && ok;
            /* rename() is atomic: a concurrent reader sees the old or the new file. */
            if (!ok || rename(tmp, rt->cache_path) != 0) remove(tmp);
        }
    }
    free(buf);
}

/* --- runtime ----------------------------------------------------------------------- */

static int pick_device(vk_runtime *rt, int device_index, char *err, size_t errlen,
                       device_facts *chosen) {
    VkPhysicalDevice *pds = NULL;
    int n = enumerate(&rt->vk, rt->instance, &pds, err, errlen);
    if (n < 0) return -1;
    int best = -1, best_rank = 99;
    device_facts d;
    if (device_index >= 0) {
        if (device_index >= n) {
            free(pds);
            return err_fail(err, errlen, "no Vulkan device %d (there %s %d; see --list-devices)",
                            device_index, n == 1 ? "is" : "are", n);
        }
        read_facts(&rt->vk, pds[device_index], &d);
        if (d.unusable) {
            free(pds);
            return err_fail(err, errlen, "Vulkan device %d (%s) is unusable: %s", device_index,
                            d.props.deviceName, d.unusable);
        }
        best = device_index;
    } else {
        const char *why = NULL;
        for (int i = 0; i < n; i++) {
            read_facts(&rt->vk, pds[i], &d);
            if (d.unusable) { why = d.unusable; continue; }
            int rank = type_rank(d.props.deviceType);
            if (rank < best_rank) { best = i; best_rank = rank; }
        }
        if (best < 0) {
            free(pds);
            return err_fail(err, errlen, "no usable Vulkan device (%s)", why ? why : "none found");
        }
    }
    read_facts(&rt->vk, pds[best], chosen);
    rt->phys = pds[best];
    free(pds);
    return 0;
}

int vk_runtime_init(vk_runtime *rt, int device_index, const vk_runtime_options *opt, char *err, size_t errlen) {
    static const vk_runtime_options defaults = {0};
    if (!opt) opt = &defaults;
    memset(rt, 0, sizeof *rt);
    if (load_loader(&rt->vk, err, errlen)) return -1;
    if (create_instance(&rt->vk, &rt->instance, rt, opt, err, errlen)) return -1;
    device_facts d;
    if (pick_device(rt, device_index, err, errlen, &d)) return -1;

    rt->props = d.props;
    rt->vk.GetPhysicalDeviceMemoryProperties(rt->phys, &rt->mem);
    snprintf(rt->driver_name, sizeof rt->driver_name, "%.63s", d.driver.driverName);
    rt->subgroup_size = d.subgroup.subgroupSize;
    rt->max_range = d.props.limits.maxStorageBufferRange;
    rt->max_alloc = d.maint3.maxMemoryAllocationSize ? d.maint3.maxMemoryAllocationSize : rt->max_range;
    rt->queue_family = (uint32_t)d.compute_family;
    /* Tests shrink the buffer limit to exercise the code that splits large weights. */
    if (opt->max_buffer >= 65536 && opt->max_buffer < rt->max_range) rt->max_range = opt->max_buffer;
    rt->fence_timeout_ns = (uint64_t)(opt->timeout_s ? opt->timeout_s : DEFAULT_FENCE_TIMEOUT_S) * 1000000000ull;

    float prio = 1.0f;
    VkDeviceQueueCreateInfo qi = {.sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
                                  .queueFamilyIndex = rt->queue_family, .queueCount = 1,
                                  .pQueuePriorities = &prio};
    VkDeviceCreateInfo di = {.sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO,
                             .queueCreateInfoCount = 1, .pQueueCreateInfos = &qi};
    VkResult r = rt->vk.CreateDevice(rt->phys, &di, NULL, &rt->dev);
    if (r != VK_SUCCESS)
        return err_fail(err, errlen, "cannot open %s: %s", rt->props.deviceName, vk_result_name(r));
    if (load_device_fns(&rt->vk, rt->dev, err, errlen)) return -1;
    rt->vk.GetDeviceQueue(rt->dev, rt->queue_family, 0, &rt->queue);

    VkCommandPoolCreateInfo pi = {.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
                                  .flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT,
                                  .queueFamilyIndex = rt->queue_family};
    VkFenceCreateInfo fi = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    if ((r = rt->vk.CreateCommandPool(rt->dev, &pi, NULL, &rt->cmd_pool)) != VK_SUCCESS ||
        (r = rt->vk.AllocateCommandBuffers(rt->dev, &(VkCommandBufferAllocateInfo){
             .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO, .commandPool = rt->cmd_pool,
             .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY, .commandBufferCount = 2}, rt->cmds)) != VK_SUCCESS ||
        (r = rt->vk.CreateFence(rt->dev, &fi, NULL, &rt->fence)) != VK_SUCCESS)
        return err_fail(err, errlen, "cannot create Vulkan command objects: %s", vk_result_name(r));

    cache_file_path(rt, opt->cache_dir);
    size_t cache_size;
    void *cache_data = read_cache(rt, &cache_size);
    VkPipelineCacheCreateInfo ci = {.sType = VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO,
                                    .initialDataSize = cache_size, .pInitialData = cache_data};
    r = rt->vk.CreatePipelineCache(rt->dev, &ci, NULL, &rt->pipeline_cache);
    if (r != VK_SUCCESS && cache_data) { /* a cache the driver dislikes: start empty */
        ci.initialDataSize = 0;
        ci.pInitialData = NULL;
        r = rt->vk.CreatePipelineCache(rt->dev, &ci, NULL, &rt->pipeline_cache);
    }
    free(cache_data);
    if (r != VK_SUCCESS) return err_fail(err, errlen, "cannot create a pipeline cache: %s", vk_result_name(r));

    /* One descriptor-set layout per binding count: every kernel binds storage buffers
     * 0..n-1 and takes the same push-constant block. */
    VkDescriptorSetLayoutBinding b[VK_MAX_BINDINGS];
    for (int i = 0; i < VK_MAX_BINDINGS; i++)
        b[i] = (VkDescriptorSetLayoutBinding){.binding = (uint32_t)i,
                                              .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                                              .descriptorCount = 1,
                                              .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT};
    VkPushConstantRange pc = {.stageFlags = VK_SHADER_STAGE_COMPUTE_BIT, .size = VK_PUSH_BYTES};
    for (int n = 1; n <= VK_MAX_BINDINGS; n++) {
        VkDescriptorSetLayoutCreateInfo li = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO,
                                              .bindingCount = (uint32_t)n, .pBindings = b};
        if ((r = rt->vk.CreateDescriptorSetLayout(rt->dev, &li, NULL, &rt->set_layout[n])) != VK_SUCCESS)
            return err_fail(err, errlen, "cannot create a descriptor set layout: %s", vk_result_name(r));
        VkPipelineLayoutCreateInfo pli = {.sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO,
                                          .setLayoutCount = 1, .pSetLayouts = &rt->set_layout[n],
                                          .pushConstantRangeCount = 1, .pPushConstantRanges = &pc};
        if ((r = rt->vk.CreatePipelineLayout(rt->dev, &pli, NULL, &rt->pipe_layout[n])) != VK_SUCCESS)
            return err_fail(err, errlen, "cannot create a pipeline layout: %s", vk_result_name(r));
    }

    if (d.timestamp_bits > 0 && d.props.limits.timestampPeriod > 0) {
        VkQueryPoolCreateInfo qpi = {.sType = VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO,
                                     .queryType = VK_QUERY_TYPE_TIMESTAMP,
                                     .queryCount = VK_MAX_TIMESTAMPS};
        if (rt->vk.CreateQueryPool(rt->dev, &qpi, NULL, &rt->timestamps) != VK_SUCCESS)
            rt->timestamps = VK_NULL_HANDLE; /* timing is optional */
        rt->timestamp_ns = d.props.limits.timestampPeriod;
    }
    return 0;
}

void vk_runtime_free(vk_runtime *rt) {
    if (!rt) return;
    /* After a hang (fence timeout) the queue may still be busy: vkDeviceWaitIdle could
     * block forever and destroying busy objects is undefined, so everything is left to
     * process exit. After a clean run or a reported device loss, tear down. */
    if (rt->hung) return;
    if (rt->dev) {
        rt->vk.DeviceWaitIdle(rt->dev);
        if (!rt->lost) save_cache(rt);
        if (rt->timestamps) rt->vk.DestroyQueryPool(rt->dev, rt->timestamps, NULL);
        for (int n = 1; n <= VK_MAX_BINDINGS; n++) {
            if (rt->pipe_layout[n]) rt->vk.DestroyPipelineLayout(rt->dev, rt->pipe_layout[n], NULL);
            if (rt->set_layout[n]) rt->vk.DestroyDescriptorSetLayout(rt->dev, rt->set_layout[n], NULL);
        }
        if (rt->pipeline_cache) rt->vk.DestroyPipelineCache(rt->dev, rt->pipeline_cache, NULL);
        if (rt->fence) rt->vk.DestroyFence(rt->dev, rt->fence, NULL);
        if (rt->cmd_pool) rt->vk.DestroyCommandPool(rt->dev, rt->cmd_pool, NULL);
        rt->vk.DestroyDevice(rt->dev, NULL);
    }
    vk_sync_free(&rt->sync);
    if (rt->messenger && rt->vk.DestroyDebugUtilsMessengerEXT)
        rt->vk.DestroyDebugUtilsMessengerEXT(rt->instance, rt->messenger, NULL);
    if (rt->instance) rt->vk.DestroyInstance(rt->instance, NULL);
    if (rt->vk.lib) dlclose(rt->vk.lib);
    rt->dev = VK_NULL_HANDLE;
    rt->instance = VK_NULL_HANDLE;
    rt->vk.lib = NULL;
}

/* --- memory ------------------------------------------------------------------------ */

static int find_memory_type(const vk_runtime *rt, uint32_t allowed, VkMemoryPropertyFlags want) {
    for (uint32_t i = 0; i < rt->mem.memoryTypeCount; i++)
        if ((allowed & (1u << i)) && (rt->mem.memoryTypes[i].propertyFlags & want) == want) return (int)i;
    return -1;
}

int vk_buffer_create(vk_runtime *rt, vk_buffer *b, VkDeviceSize size, vk_mem_kind kind,
                     const char *what, char *err, size_t errlen) {
    memset(b, 0, sizeof *b);
    if (size == 0) size = 16;
    size = (size + 15) & ~(VkDeviceSize)15;
    if (size > rt->max_range || size > rt->max_alloc)
        return err_fail(err, errlen, "%s needs %.1f MiB, more than %s allows in one buffer (%.1f MiB)",
                        what, size / 1048576.0, rt->props.deviceName,
                        (rt->max_range < rt->max_alloc ? rt->max_range : rt->max_alloc) / 1048576.0);
    VkBufferCreateInfo bi = {.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO, .size = size,
                             .usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT |
                                      VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT,
                             .sharingMode = VK_SHARING_MODE_EXCLUSIVE};
    VkResult r = rt->vk.CreateBuffer(rt->dev, &bi, NULL, &b->buf);
    if (r != VK_SUCCESS) return err_fail(err, errlen, "cannot create %s: %s", what, vk_result_name(r));
    b->size = size;
    VkMemoryRequirements req;
    rt->vk.GetBufferMemoryRequirements(rt->dev, b->buf, &req);

    const VkMemoryPropertyFlags HV = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT,
                                HC = VK_MEMORY_PROPERTY_HOST_COHERENT_BIT,
                                CACHED = VK_MEMORY_PROPERTY_HOST_CACHED_BIT,
                                DL = VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT;
    int type = -1;
    if (kind == VK_MEM_DEVICE) {
        type = find_memory_type(rt, req.memoryTypeBits, DL);
        if (type < 0) type = find_memory_type(rt, req.memoryTypeBits, 0);
    } else if (kind == VK_MEM_UPLOAD) {
        type = find_memory_type(rt, req.memoryTypeBits, HV | HC);
    } else {
        type = find_memory_type(rt, req.memoryTypeBits, HV | CACHED);
        if (type < 0) type = find_memory_type(rt, req.memoryTypeBits, HV | HC);
    }
    if (type < 0) {
        vk_buffer_destroy(rt, b);
        return err_fail(err, errlen, "no suitable memory type for %s on %s", what, rt->props.deviceName);
    }
    VkMemoryAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO,
                               .allocationSize = req.size, .memoryTypeIndex = (uint32_t)type};
    r = rt->vk.AllocateMemory(rt->dev, &ai, NULL, &b->mem);
    if (r != VK_SUCCESS) {
        vk_buffer_destroy(rt, b);
        return err_fail(err, errlen, "cannot allocate %.1f MiB for %s on %s: %s", size / 1048576.0, what,
                        rt->props.deviceName, vk_result_name(r));
    }
    if ((r = rt->vk.BindBufferMemory(rt->dev, b->buf, b->mem, 0)) != VK_SUCCESS) {
        vk_buffer_destroy(rt, b);
        return err_fail(err, errlen, "cannot bind memory for %s: %s", what, vk_result_name(r));
    }
    b->coherent = rt->mem.memoryTypes[type].propertyFlags & HC;
    if (kind != VK_MEM_DEVICE) {
        if ((r = rt->vk.MapMemory(rt->dev, b->mem, 0, VK_WHOLE_SIZE, 0, &b->map)) != VK_SUCCESS) {
            vk_buffer_destroy(rt, b);
            return err_fail(err, errlen, "cannot map %s: %s", what, vk_result_name(r));
        }
    }
    return 0;
}

void vk_buffer_destroy(vk_runtime *rt, vk_buffer *b) {
    if (!b || !rt->dev) return;
    if (b->map) rt->vk.UnmapMemory(rt->dev, b->mem);
    if (b->buf) rt->vk.DestroyBuffer(rt->dev, b->buf, NULL);
    if (b->mem) rt->vk.FreeMemory(rt->dev, b->mem, NULL);
    memset(b, 0, sizeof *b);
}

void vk_buffer_invalidate(vk_runtime *rt, vk_buffer *b) {
    if (b->coherent || !b->map) return;
    VkMappedMemoryRange range = {.sType = VK_STRUCTURE_TYPE_MAPPED_MEMORY_RANGE, .memory = b->mem,
                                 .offset = 0, .size = VK_WHOLE_SIZE};
    rt->vk.InvalidateMappedMemoryRanges(rt->dev, 1, &range);
}

int vk_upload(vk_runtime *rt, vk_buffer *staging, vk_buffer *dst, VkDeviceSize offset,
              const void *src, size_t n, char *err, size_t errlen) {
    const uint8_t *p = src;
    while (n > 0) {
        size_t chunk = n < staging->size ? n : (size_t)staging->size;
        memcpy(staging->map, p, chunk);
        if (vk_begin(rt, err, errlen)) return -1;
        vk_copy(rt, staging, 0, dst, offset, chunk);
        if (vk_submit(rt, err, errlen)) return -1;
        p += chunk;
        offset += chunk;
        n -= chunk;
    }
    return 0;
}

/* --- kernels ----------------------------------------------------------------------- */

int vk_kernel_create(vk_runtime *rt, vk_kernel *k, const char *name, int n_bindings,
                     uint32_t wg_size, const uint32_t *extra, int n_extra,
                     char *err, size_t errlen) {
    const spirv_blob *blob = NULL;
    for (const spirv_blob *s = SPIRV_BLOBS; s->name; s++)
        if (strcmp(s->name, name) == 0) blob = s;
    if (!blob) {
        memset(k, 0, sizeof *k);
        return err_fail(err, errlen, "internal error: no embedded shader '%s'", name);
    }
    return vk_kernel_create_spirv(rt, k, blob->name, (const uint32_t *)(const void *)blob->data,
                                  (size_t)(blob->end - blob->data) / 4, n_bindings, wg_size, extra, n_extra,
                                  err, errlen);
}

int vk_kernel_create_spirv(vk_runtime *rt, vk_kernel *k, const char *name, const uint32_t *code,
                           size_t words, int n_bindings, uint32_t wg_size, const uint32_t *extra,
                           int n_extra, char *err, size_t errlen) {
    memset(k, 0, sizeof *k);
    if (n_bindings < 1 || n_bindings > VK_MAX_BINDINGS || n_extra > 7)
        return err_fail(err, errlen, "internal error: bad kernel layout for '%s'", name);
    /* a module the reader cannot follow counts as writing every binding: safe, only slower */
    vk_spirv_buffer_access(code, words, &k->used, &k->written);

    VkShaderModuleCreateInfo mi = {.sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO,
                                   .codeSize = words * 4, .pCode = code};
    VkShaderModule mod;
    VkResult r = rt->vk.CreateShaderModule(rt->dev, &mi, NULL, &mod);
    if (r != VK_SUCCESS) return err_fail(err, errlen, "cannot load shader '%s': %s", name, vk_result_name(r));

    uint32_t values[8] = {wg_size};
    VkSpecializationMapEntry entries[8];
    for (int i = 0; i <= n_extra; i++) {
        if (i > 0) values[i] = extra[i - 1];
        entries[i] = (VkSpecializationMapEntry){.constantID = (uint32_t)i,
                                                .offset = (uint32_t)(i * sizeof(uint32_t)),
                                                .size = sizeof(uint32_t)};
    }
    VkSpecializationInfo si = {.mapEntryCount = (uint32_t)n_extra + 1, .pMapEntries = entries,
                               .dataSize = (size_t)(n_extra + 1) * sizeof(uint32_t), .pData = values};
    VkComputePipelineCreateInfo pi = {
        .sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
        .stage = {.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
                  .stage = VK_SHADER_STAGE_COMPUTE_BIT, .module = mod, .pName = "main",
                  .pSpecializationInfo = &si},
        .layout = rt->pipe_layout[n_bindings],
    };
    r = rt->vk.CreateComputePipelines(rt->dev, rt->pipeline_cache, 1, &pi, NULL, &k->pipeline);
    rt->vk.DestroyShaderModule(rt->dev, mod, NULL);
    if (r != VK_SUCCESS) return err_fail(err, errlen, "cannot build kernel '%s': %s", name, vk_result_name(r));
    k->name = name;
    k->layout = rt->pipe_layout[n_bindings];
    k->n_bindings = n_bindings;
    k->wg_size = wg_size;
    return 0;
}

void vk_kernel_destroy(vk_runtime *rt, vk_kernel *k) {
    if (k && k->pipeline && rt->dev) rt->vk.DestroyPipeline(rt->dev, k->pipeline, NULL);
    if (k) memset(k, 0, sizeof *k);
}

int vk_pool_create(vk_runtime *rt, uint32_t max_sets, VkDescriptorPool *out, char *err, size_t errlen) {
    VkDescriptorPoolSize ps = {.type = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                               .descriptorCount = max_sets * VK_MAX_BINDINGS};
    VkDescriptorPoolCreateInfo pi = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
                                     .maxSets = max_sets, .poolSizeCount = 1, .pPoolSizes = &ps};
    VkResult r = rt->vk.CreateDescriptorPool(rt->dev, &pi, NULL, out);
    return r == VK_SUCCESS ? 0 : err_fail(err, errlen, "cannot create a descriptor pool: %s", vk_result_name(r));
}

int vk_set_create(vk_runtime *rt, VkDescriptorPool pool, int n, vk_buffer *const *bufs,
                  VkDescriptorSet *out, char *err, size_t errlen) {
    if (n < 1 || n > VK_MAX_BINDINGS) return err_fail(err, errlen, "internal error: a set of %d buffers", n);
    VkDescriptorSetAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
                                      .descriptorPool = pool, .descriptorSetCount = 1,
                                      .pSetLayouts = &rt->set_layout[n]};
    VkResult r = rt->vk.AllocateDescriptorSets(rt->dev, &ai, out);
    if (r != VK_SUCCESS) return err_fail(err, errlen, "cannot allocate a descriptor set: %s", vk_result_name(r));
    VkDescriptorBufferInfo info[VK_MAX_BINDINGS];
    VkWriteDescriptorSet w[VK_MAX_BINDINGS];
    for (int i = 0; i < n; i++) {
        info[i] = (VkDescriptorBufferInfo){.buffer = bufs[i]->buf, .offset = 0, .range = VK_WHOLE_SIZE};
        w[i] = (VkWriteDescriptorSet){.sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET, .dstSet = *out,
                                      .dstBinding = (uint32_t)i, .descriptorCount = 1,
                                      .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                                      .pBufferInfo = &info[i]};
    }
    rt->vk.UpdateDescriptorSets(rt->dev, (uint32_t)n, w, 0, NULL);
    VkBuffer handles[VK_MAX_BINDINGS];
    for (int i = 0; i < n; i++) handles[i] = bufs[i]->buf;
    /* out of memory here only costs barriers: an unknown set is treated as touching all */
    vk_sync_add_set(&rt->sync, *out, n, handles);
    return 0;
}

/* --- recording --------------------------------------------------------------------- */

int vk_begin_slot(vk_runtime *rt, int slot, char *err, size_t errlen) {
    if (rt->lost) return err_fail(err, errlen, "the Vulkan device was lost earlier; restart llmscope");
    rt->cmd = rt->cmds[slot & 1];
    rt->bound_pipeline = VK_NULL_HANDLE;
    rt->bound_set = VK_NULL_HANDLE;
    rt->n_dispatches = rt->n_barriers = 0;
    /* the previous submission was waited for (one at a time): nothing of it is pending */
    vk_sync_reset(&rt->sync);
    rt->vk.ResetCommandBuffer(rt->cmd, 0);
    VkCommandBufferBeginInfo bi = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
                                   .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT};
    VkResult r = rt->vk.BeginCommandBuffer(rt->cmd, &bi);
    if (r != VK_SUCCESS) return err_fail(err, errlen, "cannot record GPU commands: %s", vk_result_name(r));
    if (rt->timestamps) rt->vk.CmdResetQueryPool(rt->cmd, rt->timestamps, 0, VK_MAX_TIMESTAMPS);
    rt->n_timestamps = 0;
    return 0;
}

int vk_begin(vk_runtime *rt, char *err, size_t errlen) { return vk_begin_slot(rt, 0, err, errlen); }

/* Records a barrier first when A would race what the step recorded so far. */
static void order_after_step(vk_runtime *rt, const vk_access *a) {
    if (vk_sync_conflicts(&rt->sync, a)) {
        vk_barrier(rt);
        rt->sync.n_inserted++;
    }
    vk_sync_note(&rt->sync, a);
}

void vk_dispatch(vk_runtime *rt, const vk_kernel *k, VkDescriptorSet set, const void *push,
                 size_t push_bytes, uint32_t gx, uint32_t gy, uint32_t gz) {
    vk_access a;
    vk_sync_dispatch_access(&rt->sync, set, k->used, k->written, &a);
    order_after_step(rt, &a);
    /* a decode step binds the same pipeline or set several times in a row (q, k, v) */
    if (k->pipeline != rt->bound_pipeline) {
        rt->vk.CmdBindPipeline(rt->cmd, VK_PIPELINE_BIND_POINT_COMPUTE, k->pipeline);
        rt->bound_pipeline = k->pipeline;
    }
    if (set != rt->bound_set) {
        rt->vk.CmdBindDescriptorSets(rt->cmd, VK_PIPELINE_BIND_POINT_COMPUTE, k->layout, 0, 1, &set, 0, NULL);
        rt->bound_set = set;
    }
    if (push_bytes)
        rt->vk.CmdPushConstants(rt->cmd, k->layout, VK_SHADER_STAGE_COMPUTE_BIT, 0,
                                (uint32_t)((push_bytes + 3) & ~(size_t)3), push);
    rt->vk.CmdDispatch(rt->cmd, gx, gy, gz);
    rt->n_dispatches++;
}

void vk_barrier(vk_runtime *rt) {
    VkMemoryBarrier mb = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
                          .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
                          .dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT |
                                           VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT};
    VkPipelineStageFlags stages = VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT;
    rt->vk.CmdPipelineBarrier(rt->cmd, stages, stages, 0, 1, &mb, 0, NULL, 0, NULL);
    rt->n_barriers++;
    vk_sync_reset(&rt->sync);
}

void vk_copy(vk_runtime *rt, vk_buffer *src, VkDeviceSize src_off, vk_buffer *dst,
             VkDeviceSize dst_off, VkDeviceSize bytes) {
    vk_access a;
    vk_sync_transfer_access(src->buf, src_off, dst->buf, dst_off, bytes, &a);
    order_after_step(rt, &a);
    VkBufferCopy region = {.srcOffset = src_off, .dstOffset = dst_off, .size = bytes};
    rt->vk.CmdCopyBuffer(rt->cmd, src->buf, dst->buf, 1, &region);
}

void vk_fill(vk_runtime *rt, vk_buffer *dst, VkDeviceSize offset, VkDeviceSize bytes, uint32_t value) {
    vk_access a;
    vk_sync_transfer_access(VK_NULL_HANDLE, 0, dst->buf, offset, bytes, &a);
    order_after_step(rt, &a);
    rt->vk.CmdFillBuffer(rt->cmd, dst->buf, offset, bytes, value);
}

int vk_timestamp(vk_runtime *rt) {
    if (!rt->timestamps || rt->n_timestamps >= VK_MAX_TIMESTAMPS) return -1;
    rt->vk.CmdWriteTimestamp(rt->cmd, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, rt->timestamps,
                             rt->n_timestamps);
    return (int)rt->n_timestamps++;
}

int vk_end(vk_runtime *rt, char *err, size_t errlen) {
    /* Make every write of this submission available to the host before the fence. */
    VkMemoryBarrier mb = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
                          .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
                          .dstAccessMask = VK_ACCESS_HOST_READ_BIT};
    rt->vk.CmdPipelineBarrier(rt->cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
                              VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &mb, 0, NULL, 0, NULL);
    VkResult r = rt->vk.EndCommandBuffer(rt->cmd);
    return r == VK_SUCCESS ? 0 : err_fail(err, errlen, "cannot record GPU commands: %s", vk_result_name(r));
}

int vk_launch(vk_runtime *rt, int slot, char *err, size_t errlen) {
    if (rt->lost) return err_fail(err, errlen, "the Vulkan device was lost earlier; restart llmscope");
    rt->vk.ResetFences(rt->dev, 1, &rt->fence);
    VkSubmitInfo si = {.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO, .commandBufferCount = 1,
                       .pCommandBuffers = &rt->cmds[slot & 1]};
    VkResult r = rt->vk.QueueSubmit(rt->queue, 1, &si, rt->fence);
    if (r == VK_SUCCESS) {
        rt->in_flight = true;
        return 0;
    }
    if (r == VK_ERROR_DEVICE_LOST) rt->lost = true;
    return err_fail(err, errlen, "%s: GPU work failed: %s", rt->props.deviceName, vk_result_name(r));
}

int vk_wait(vk_runtime *rt, char *err, size_t errlen) {
    if (!rt->in_flight) return 0;
    VkResult r = rt->vk.WaitForFences(rt->dev, 1, &rt->fence, VK_TRUE, rt->fence_timeout_ns);
    if (r == VK_SUCCESS) {
        rt->in_flight = false;
        return 0;
    }
    if (r == VK_TIMEOUT) {
        rt->lost = rt->hung = true;
        return err_fail(err, errlen, "%s did not finish within %llu s (GPU hung? raise LLMSCOPE_VK_TIMEOUT)",
                        rt->props.deviceName, (unsigned long long)(rt->fence_timeout_ns / 1000000000ull));
    }
    rt->in_flight = false;
    if (r == VK_ERROR_DEVICE_LOST) rt->lost = true;
    return err_fail(err, errlen, "%s: GPU work failed: %s", rt->props.deviceName, vk_result_name(r));
}

int vk_submit(vk_runtime *rt, char *err, size_t errlen) {
    if (vk_end(rt, err, errlen)) return -1;
    if (vk_launch(rt, rt->cmd == rt->cmds[1], err, errlen)) return -1;
    return vk_wait(rt, err, errlen);
}

int vk_read_timestamps(vk_runtime *rt, double *ns, uint32_t n) {
    if (!rt->timestamps || n == 0 || n > rt->n_timestamps) return -1;
    uint64_t ticks[VK_MAX_TIMESTAMPS];
    VkResult r = rt->vk.GetQueryPoolResults(rt->dev, rt->timestamps, 0, n, sizeof ticks, ticks,
                                            sizeof ticks[0], VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT);
    if (r != VK_SUCCESS) return -1;
    for (uint32_t i = 0; i < n; i++) ns[i] = (double)ticks[i] * rt->timestamp_ns;
    return 0;
}

void vk_fold_groups(uint32_t count, uint32_t *gx, uint32_t *gz) {
    const uint32_t max_x = 65535;
    if (count <= max_x) {
        *gx = count ? count : 1;
        *gz = 1;
    } else {
        *gz = (count + max_x - 1) / max_x;
        *gx = (count + *gz - 1) / *gz;
    }
}
