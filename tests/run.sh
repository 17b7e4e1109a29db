#!/usr/bin/env bash
# tests/run.sh BUILD [SANBUILD:test1 test2 ...] — runs every test binary in BUILD/tests,
# the Vulkan ones again under other settings (subgroups of 4, GPU specialisation values,
# GPU-assisted validation), then the listed ones from the sanitizer build, then every
# tests/*.test.sh script, and ends with one line: "N passed, N failed, N skipped".
# Each test prints PASS/FAIL/SKIP lines; a binary that crashes or exits non-zero without
# printing FAIL counts as one failure, so a crash can never pass silently.
set -u
build=${1:-build}; shift || true
cd "$(dirname "$0")/.." || exit 2
pass=0 fail=0 skip=0
log=$(mktemp); trap 'rm -f "$log"' EXIT

run_one() { # label command...
    local label=$1; shift
    timeout "${LLMSCOPE_TEST_TIMEOUT:-1800}" "$@" >"$log" 2>&1
    local rc=$?
    local p f s
    p=$(grep -c '^PASS ' "$log"); f=$(grep -c '^FAIL ' "$log"); s=$(grep -c '^SKIP ' "$log")
    sed -E "s#^(PASS|FAIL|SKIP) #\1 $label: #" "$log" | grep -E '^(PASS|FAIL|SKIP) ' || true
    if [ "$f" -gt 0 ] || [ "$rc" -ne 0 ]; then
        grep -vE '^(PASS|SKIP) ' "$log" | sed 's/^/    /' | tail -n 60
    fi
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "FAIL $label: exited with status $rc"; f=1
    fi
    pass=$((pass + p)); fail=$((fail + f)); skip=$((skip + s))
}

# The test binaries run with the Khronos validation layer on wherever it is installed
# (Debian's vulkan-validationlayers, in packages.txt), with synchronization validation
# (tests/vk_sync/vk_layer_settings.txt): every Vulkan test fails on any validation error
# (engine_vulkan_validation_errors), a race between GPU commands included, and
# test_vulkan_sync proves the hazard check is live. Not for the scripts: the terminal app
# would print the layer's warnings over its screen.
validation=
for d in /usr/share/vulkan/explicit_layer.d /etc/vulkan/explicit_layer.d; do
    [ -f "$d/VkLayer_khronos_validation.json" ] && validation=1
done
vk_env=()
if [ -n "$validation" ]; then
    echo "Vulkan validation layer on for the test binaries (synchronization validation included)"
    vk_env=(LLMSCOPE_VK_VALIDATION=1 VK_LAYER_SETTINGS_PATH="$PWD/tests/vk_sync" LLMSCOPE_TEST_SYNCVAL=1)
fi
# lavapipe's subgroup size follows its vector width: 256 bits give 8 lanes, 128 give 4.
# The main run pins 8; the Vulkan tests run again at 4 below (GPUs have 32 or 64: the
# kernels must not depend on it; docs/vulkan-performance.md, "Subgroups and shared memory").
for t in "$build"/tests/test_*; do
    [ -x "$t" ] || continue
    run_one "$(basename "$t")" env "${vk_env[@]}" LP_NATIVE_VECTOR_WIDTH=256 LLMSCOPE_TEST_SUBGROUP=8 "$t"
done

# vk_pass LABEL "VAR=VALUE ..." BINARY[:MODEL] ...: Vulkan test binaries again under other
# settings (MODEL limits test_vulkan_forward to one shared model: LLMSCOPE_TEST_MODEL).
vk_pass() {
    local label=$1 settings=$2 spec bin model
    shift 2
    for spec in "$@"; do
        bin=${spec%%:*}; model=
        [ "$spec" != "$bin" ] && model=${spec#*:}
        [ -x "$build/tests/$bin" ] || continue
        # shellcheck disable=SC2086 # SETTINGS is a list of VAR=VALUE words
        run_one "$label/$bin${model:+:$model}" env "${vk_env[@]}" $settings ${model:+LLMSCOPE_TEST_MODEL=$model} \
            "$build/tests/$bin"
    done
}
vulkan_tests="test_vulkan_sync test_vulkan_ops test_vulkan_forward test_vulkan_session test_vulkan_moe test_vulkan_deltanet
              test_requant_forward test_inspect"
# subgroups of 4, every Vulkan test
vk_pass subgroup4 "LP_NATIVE_VECTOR_WIDTH=128 LLMSCOPE_TEST_SUBGROUP=4" $vulkan_tests
# the specialisation values GPUs get, forced on lavapipe: NVIDIA's workgroup of 128 with
# one matvec row per subgroup and its matmul tiles and attention chunk; AMD's workgroup of
# 256 (here 64 subgroups of 4: the most the reductions hold) with short attention chunks
nvidia="LLMSCOPE_VK_WG=128 LLMSCOPE_VK_MATVEC_ROWS=16 LLMSCOPE_VK_MATMUL=128,64,32,8,8 LLMSCOPE_VK_ATTN_CHUNK=1024"
amd="LP_NATIVE_VECTOR_WIDTH=128 LLMSCOPE_VK_WG=256 LLMSCOPE_VK_MATVEC_ROWS=64 LLMSCOPE_VK_ATTN_CHUNK=32"
shape_tests="test_vulkan_sync test_vulkan_ops test_vulkan_forward:stories260K test_vulkan_forward:qwen3-tiny-f16
             test_vulkan_forward:gpt2-tiny-f16 test_vulkan_session test_vulkan_deltanet"
vk_pass gpu-shapes-nvidia "$nvidia" $shape_tests
vk_pass gpu-shapes-amd "$amd" $shape_tests
# GPU-assisted validation (slow: a small set): every kernel's SPIR-V instrumented with
# bounds checks (an instrumentation failure is itself an error), test_vulkan_gpuav proving
# it catches an out-of-bounds write
if [ -n "$validation" ]; then
    gpuav="VK_LAYER_SETTINGS_PATH=$PWD/tests/vk_gpuav LLMSCOPE_TEST_SYNCVAL=0 LLMSCOPE_TEST_GPUAV=1
           VK_LAYER_GPUAV_VALIDATE_INSTRUMENTED_SHADERS=1"
    vk_pass gpu-assisted "$gpuav" test_vulkan_gpuav test_vulkan_ops test_vulkan_forward:stories260K
fi
for arg in "$@"; do
    sb=${arg%%:*}; list=${arg#*:}
    for name in $list; do
        [ -x "$sb/tests/$name" ] || continue
        ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
            run_one "sanitized/$name" "$sb/tests/$name"
    done
done
for s in tests/*.test.sh; do
    [ -f "$s" ] || continue
    run_one "$(basename "$s" .test.sh)" bash "$s" "$build"
done
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
