#!/usr/bin/env bash
# tests/gpu_check.test.sh BUILD — what can be checked of tests/gpu_check.sh without a GPU:
# the run step on a machine without one says so and fails (lavapipe is a CPU device), and
# the table reads llmscope bench's lines right (canned bench output with numbers chosen on
# both sides of every target). The packing itself is `make gpu-check` (61 MiB: not here).
set -u
build=${1:-build}
cd "$(dirname "$0")/.." || exit 2
. tests/script_lib.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ ! -x "$build/llmscope" ]; then fail gpu_check "$build/llmscope is not built"; exit 1; fi

# a pack of this build's binaries, with no libraries to add
mkdir -p "$tmp/pack/bin" "$tmp/pack/shared/models" "$tmp/empty/lib"
ln -s "$PWD/$build/llmscope" "$tmp/pack/bin/llmscope"
tar -C "$tmp/empty" -cJf "$tmp/pack/lib.tar.xz" lib
GPU_CHECK_PACK=$tmp/pack GPU_CHECK_WORK=$tmp/work OUT=$tmp/out bash tests/gpu_check.sh run >"$tmp/stdout" 2>&1
rc=$?
if [ "$rc" -eq 1 ] && grep -q 'no GPU is present here' "$tmp/stdout"; then
    pass gpu_check_without_gpu_says_so
elif grep -qE '\((discrete|integrated|virtual) GPU' "$tmp/out/devices.txt" 2>/dev/null; then
    skip gpu_check_without_gpu_says_so "this machine has a GPU"
else
    fail gpu_check_without_gpu_says_so "exit $rc: $(head -5 "$tmp/stdout")"
fi

# the table from canned bench lines (the format of ui/cli/bench_cmd.c)
mkdir -p "$tmp/bench"
canned() { # NAME PROMPT_ON PROMPT_OFF DECODE_ON DECODE_OFF INSPECT_ON INSPECT_OFF
    cat >"$tmp/bench/bench-$1.txt" <<TXT
llmscope bench: /tmp/m/$1.gguf — llama, 30 layers, 134.5M parameters, 145.0 MB file
device: NVIDIA H100 80GB HBM3 (vulkan)
prompt eval (tokens/s)         $2/s  $3/s   $(awk -v a="$2" -v b="$3" 'BEGIN { printf "%.1f", (b - a) / b * 100 }')%
decode (tokens/s)              $4/s  $5/s   $(awk -v a="$4" -v b="$5" 'BEGIN { printf "%.1f", (b - a) / b * 100 }')%
inspection (through a session, 128 tokens): everything on $6/s, capture off $7/s, cost $(awk -v a="$6" -v b="$7" 'BEGIN { printf "%.1f", (b - a) / b * 100 }')%
TXT
}
canned 135m 30000.0 31000.0 1600.0 1700.0 1500.0 1650.0 # decode met; capture 5.9%; inspection 9.1%
canned 1b 20000.0 21000.0 900.0 1000.0 850.0 1000.0     # decode missed; capture 10.0%; inspection 15.0%
canned 8b 2500.0 2600.0 310.0 330.0 280.0 330.0         # decode met, prompt missed; inspection 15.2%
(
    . tests/gpu_check.sh
    out=$tmp/bench tests_pass=40 tests_fail=0 models_tested=11
    table
) >"$tmp/table" 2>&1
rc=$?
verdict() { grep -F "$1" "$tmp/table" | awk -F'|' '{ gsub(/^ +| +$/, "", $5); print $5 }'; }
measured() { grep -F "$1" "$tmp/table" | awk -F'|' '{ gsub(/^ +| +$/, "", $4); print $4 }'; }
[ "$rc" -eq 0 ] &&
    [ "$(verdict 'SmolLM2-135M')" = met ] && [ "$(measured 'SmolLM2-135M')" = "1600.0 tok/s" ] &&
    [ "$(verdict 'Llama-3.2-1B')" = MISSED ] &&
    [ "$(verdict 'Llama-3-8B Q4_K_M decode')" = met ] &&
    [ "$(verdict 'Llama-3-8B Q4_K_M prompt')" = MISSED ] && [ "$(measured 'Llama-3-8B Q4_K_M prompt')" = "2500.0 tok/s" ] &&
    [ "$(measured 'capture cost')" = "10.0 %" ] && [ "$(verdict 'capture cost')" = met ] &&
    [ "$(measured 'everything on')" = "15.2 %" ] && [ "$(verdict 'everything on')" = MISSED ] &&
    [ "$(verdict 'Vulkan tests')" = met ]
check_rc=$?
if [ "$check_rc" -eq 0 ]; then pass gpu_check_table_reads_bench; else fail gpu_check_table_reads_bench "$(cat "$tmp/table")"; fi
exit $failed
