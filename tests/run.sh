#!/usr/bin/env bash
# tests/run.sh BUILD [SANBUILD:test1 test2 ...] — runs every test binary in BUILD/tests,
# then the listed ones from the sanitizer build, then every tests/*.test.sh script, and
# ends with one line: "N passed, N failed, N skipped".
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
# (Debian's vulkan-validationlayers, in packages.txt): every Vulkan test fails on any
# validation error (engine_vulkan_validation_errors). Not for the scripts: the terminal
# app would print the layer's warnings over its screen.
validation=
for d in /usr/share/vulkan/explicit_layer.d /etc/vulkan/explicit_layer.d; do
    [ -f "$d/VkLayer_khronos_validation.json" ] && validation=1
done
[ -n "$validation" ] && echo "Vulkan validation layer on for the test binaries"
for t in "$build"/tests/test_*; do
    [ -x "$t" ] || continue
    if [ -n "$validation" ]; then
        LLMSCOPE_VK_VALIDATION=1 run_one "$(basename "$t")" "$t"
    else
        run_one "$(basename "$t")" "$t"
    fi
done
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
