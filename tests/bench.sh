#!/usr/bin/env bash
# tests/bench.sh BINARY — `make bench`: llmscope bench on the shared models (if ../shared
# is there) and on synthetic models of real shapes (written once into $BENCH_DIR).
# BENCH_SHAPES picks the synthetic ones, e.g. "smollm2-135m:q8_0 llama-3.2-1b:q4_k_m".
set -u
bin=${1:-build/llmscope}
cd "$(dirname "$0")/.." || exit 2
shared=${LLMSCOPE_SHARED:-../shared}
dir=${BENCH_DIR:-${TMPDIR:-/tmp}/llmscope-bench}
mkdir -p "$dir"
status=0
if [ -d "$shared/models" ]; then
    for m in "$shared"/models/stories260K.gguf "$shared"/models/llama-k-tiny-q4_k_m.gguf; do
        [ -f "$m" ] && { "$bin" bench -m "$m" --prompt 256 --decode 64 || status=1; echo; }
    done
fi
for spec in ${BENCH_SHAPES:-smollm2-135m:q8_0}; do
    shape=${spec%%:*}; type=${spec#*:}
    f="$dir/$shape-$type.gguf"
    [ -f "$f" ] || "$bin" synth --shape "$shape" --type "$type" -o "$f" || { status=1; continue; }
    "$bin" bench -m "$f" || status=1
    echo
done
exit $status
