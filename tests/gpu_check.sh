#!/usr/bin/env bash
# tests/gpu_check.sh — every number the project owes from a real GPU, in one call.
#
#   tests/gpu_check.sh pack [BUILD]   on the development machine (make gpu-check does it):
#                                     fills .gpu/ with what the GPU machine lacks
#   tests/gpu_check.sh run            on the GPU machine, from the repository root, with
#                                     .gpu carried: the Vulkan test binaries on the packed
#                                     shared models, `llmscope synth` of the benchmark
#                                     shapes, `llmscope bench` on each (capture on and off,
#                                     the inspection cost), then ONE table against the
#                                     targets. Within 8 minutes on an H100.
#
# The GPU machine (../shared/GPU.md): Ubuntu 24.04, x86-64, no Vulkan loader, no glslc, no
# network; the NVIDIA driver's manifest at /usr/local/nvidia/share/vulkan/icd.d/. Binaries
# built here run there unchanged (the SPIR-V is inside them); the shared libraries they
# load come along (all but glibc's own: Ubuntu's glibc is newer, the rest it may lack),
# and the Vulkan loader from Debian's libvulkan1 package. Everything that travels must fit
# the device tool's 64 MiB with the working tree: the shared models go in by priority
# (every architecture and storage type first) and .gpu/MANIFEST names any left out.
#
# Where no GPU is present (here), `run` says so and exits 1. Exit status of run: 0 all
# ran and every test passed (the targets are reported, met or not), 1 no GPU or a step
# could not run, 2 a test failed.
set -u
cd "$(dirname "$0")/.." || exit 1
pack_dir=${GPU_CHECK_PACK:-.gpu} # another folder: for tests/gpu_check.test.sh
budget_mib=62 # of the tool's 64: a margin for what changes between packing and the call

die() { echo "gpu-check: $*" >&2; exit 1; }

# ---- pack ---------------------------------------------------------------------------

# Shared models by priority: what each adds to the coverage (architecture, storage type).
MODELS="stories260K:llama,SentencePiece,real-weights
llama-k-tiny-q4_k_m:Q4_K+Q6_K
llama-k-tiny-q4_0:Q4_0
llama-k-tiny-q5_k_m:Q5_K+Q5_0
llama-k-tiny-q6_k:Q6_K
llama-k-tiny-q8_0:Q8_0
tinystories-656k-f32:F32,BPE-byte-fallback,real-weights
qwen3-tiny-f16:qwen3,q/k-norm,NEOX,F16
gpt2-tiny-f16:gpt2,LayerNorm,GELU,learned-positions
llama-k-tiny-bf16:BF16
llama-k-tiny-f16:F16
qwen2-tiny-f16:qwen2,q/k/v-bias
llama-gqa-tiny-f32:tied-embeddings,SmolLM2-BPE,ChatML
llama-k-tiny-f32:F32-llama-k"
VULKAN_TESTS="test_vulkan_sync test_vulkan_ops test_vulkan_forward test_vulkan_session"

size_of() { stat -c %s "$1" 2>/dev/null || echo 0; }

# Bytes of the working tree that travels besides .gpu (tracked and untracked-not-ignored).
tree_bytes() {
    { git ls-files -z; git ls-files -z --others --exclude-standard; } |
        xargs -0 -r stat -c %s 2>/dev/null | awk '{ s += $1 } END { print s + 0 }'
}

pack_libraries() { # BINARY...: every shared library but glibc's, as one archive
    local stage=$1
    shift
    mkdir -p "$stage/lib"
    ldd "$@" | awk '$3 ~ /^\// { print $3 }' | sort -u |
        grep -vE '/(libc|libm|libpthread|libdl|librt|libresolv|ld-linux[^/]*)\.so' |
        while read -r lib; do cp -L "$lib" "$stage/lib/"; done
    tar -C "$stage" -cJf "$pack_dir/lib.tar.xz" lib
}

pack_loader() { # the Vulkan loader: Debian's libvulkan1 .deb, else the installed library
    if (cd "$pack_dir" && timeout 60 apt-get download -q libvulkan1 >/dev/null 2>&1) && ls "$pack_dir"/libvulkan1_*.deb >/dev/null 2>&1; then
        echo "loader: $(basename "$pack_dir"/libvulkan1_*.deb) (apt-get download)"
        return 0
    fi
    local lib
    lib=$(dpkg -L libvulkan1 2>/dev/null | grep -m1 '/libvulkan\.so\.1\.' ||
          ldconfig -p | awk '/libvulkan\.so\.1 / { print $NF; exit }')
    [ -n "$lib" ] && [ -f "$lib" ] || return 1
    mkdir -p "$pack_dir/loader"
    cp -L "$lib" "$pack_dir/loader/libvulkan.so.1"
    echo "loader: $lib (installed copy of Debian's libvulkan1; apt-get download was not possible)"
}

pack() {
    local build=${1:-build} shared=${LLMSCOPE_SHARED:-../shared} t m
    for t in llmscope $(printf 'tests/%s ' $VULKAN_TESTS); do
        [ -x "$build/$t" ] || die "$build/$t is not built (make gpu-check builds it)"
    done
    grep -qx '/.gpu/' .gitignore 2>/dev/null || die ".gitignore must hold /.gpu/ (the pack must not travel as a source)"
    rm -rf "$pack_dir"
    mkdir -p "$pack_dir/bin" "$pack_dir/shared/models" "$pack_dir/shared/golden"
    local stage
    stage=$(mktemp -d)
    for t in llmscope $(printf 'tests/%s ' $VULKAN_TESTS); do
        strip -o "$pack_dir/bin/$(basename "$t")" "$build/$t" || cp "$build/$t" "$pack_dir/bin/"
    done
    pack_libraries "$stage" "$pack_dir"/bin/*
    rm -rf "$stage"
    {
        echo "packed $(date -u '+%Y-%m-%d %H:%M UTC') from $(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet 2>/dev/null || echo ' (with local changes)')"
        pack_loader || die "no Vulkan loader to pack: install libvulkan1"
        echo "libraries: $(tar -tJf "$pack_dir/lib.tar.xz" | grep -c '\.so') shared libraries in lib.tar.xz"
    } >"$pack_dir/MANIFEST"
    local used limit
    used=$(( $(tree_bytes) + $(du -sb "$pack_dir" | cut -f1) ))
    limit=$((budget_mib * 1024 * 1024))
    local packed=0 left=""
    if [ ! -d "$shared/models" ]; then
        echo "models: none ($shared/models not found)" >>"$pack_dir/MANIFEST"
    else
        while IFS=: read -r m why; do
            local f=$shared/models/$m.gguf g=$shared/golden/$m.golden.gguf
            [ -f "$f" ] || { left="$left $m(absent)"; continue; }
            local need=$(( $(size_of "$f") + $(size_of "$g") ))
            if [ $((used + need)) -gt "$limit" ]; then
                left="$left $m"
                continue
            fi
            cp "$f" "$pack_dir/shared/models/"
            [ -f "$g" ] && cp "$g" "$pack_dir/shared/golden/"
            used=$((used + need))
            packed=$((packed + 1))
            echo "model: $m ($why)" >>"$pack_dir/MANIFEST"
        done <<<"$MODELS"
        [ -n "$left" ] && echo "left out for the ${budget_mib} MiB the device tool carries:$left" >>"$pack_dir/MANIFEST"
    fi
    echo "total with the working tree: $((used / 1048576)) MiB of ${budget_mib}" >>"$pack_dir/MANIFEST"
    sed 's/^/  /' "$pack_dir/MANIFEST"
    echo "gpu-check: packed $pack_dir ($packed shared models). On the GPU machine (device tool run, carry [\".gpu\"]):"
    echo "  bash tests/gpu_check.sh run"
}

# ---- run ----------------------------------------------------------------------------

out=${OUT:-/tmp/llmscope-gpu-check}
work=${GPU_CHECK_WORK:-/tmp/llmscope-gpu} # unpacked libraries, synthesised models
t_start=$(date +%s)
log() { echo "[$(($(date +%s) - t_start))s] $*"; }

setup_environment() {
    [ -d "$pack_dir/bin" ] || die "no $pack_dir here: run 'make gpu-check' (or tests/gpu_check.sh pack) on the development machine and carry .gpu"
    mkdir -p "$work" "$out"
    rm -rf "$work/lib" "$work/vk"
    tar -C "$work" -xJf "$pack_dir/lib.tar.xz" 2>/dev/null ||
        python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' "$pack_dir/lib.tar.xz" "$work" ||
        die "cannot unpack $pack_dir/lib.tar.xz"
    local loader_dir=""
    if ls "$pack_dir"/libvulkan1_*.deb >/dev/null 2>&1; then
        dpkg-deb -x "$pack_dir"/libvulkan1_*.deb "$work/vk" || die "cannot unpack the Vulkan loader"
        loader_dir=$(dirname "$(find "$work/vk" -name 'libvulkan.so.1*' | head -1)")
    elif [ -f "$pack_dir/loader/libvulkan.so.1" ]; then
        loader_dir=$PWD/$pack_dir/loader
    fi
    # the system's own loader, where there is one, is as good
    export LD_LIBRARY_PATH=$work/lib${loader_dir:+:$loader_dir}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
    local manifest=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
    [ -z "${VK_DRIVER_FILES:-}" ] && [ -f "$manifest" ] && export VK_DRIVER_FILES=$manifest
    export LLMSCOPE_SHARED=$PWD/$pack_dir/shared
    bin=$PWD/$pack_dir/bin
}

# Is there a GPU among the Vulkan devices (not a CPU implementation such as lavapipe)?
require_gpu() {
    local devices
    devices=$("$bin/llmscope" devices 2>&1)
    echo "$devices" >"$out/devices.txt"
    if ! grep -E '^[0-9]+: ' <<<"$devices" | grep -v 'unusable' | grep -qE '\((discrete|integrated|virtual) GPU'; then
        echo "gpu-check: no GPU is present here, so nothing was measured."
        echo "  Vulkan devices: $(grep -E '^[0-9]+: |llmscope' <<<"$devices" | tr '\n' ';' | sed 's/;$//')"
        echo "  The pack in $pack_dir is ready: on a GPU machine run 'bash tests/gpu_check.sh run' with .gpu carried."
        exit 1
    fi
    log "devices: $(grep -E '^[0-9]+: ' <<<"$devices" | head -3 | tr '\n' ' ')"
}

# Runs the Vulkan test binaries; sets tests_pass / tests_fail / tests_skip.
run_tests() {
    tests_pass=0 tests_fail=0 tests_skip=0
    local t
    for t in $VULKAN_TESTS; do
        timeout 240 "$bin/$t" >"$out/$t.txt" 2>&1
        local rc=$? p f s
        p=$(grep -c '^PASS ' "$out/$t.txt"); f=$(grep -c '^FAIL ' "$out/$t.txt"); s=$(grep -c '^SKIP ' "$out/$t.txt")
        [ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && f=1 && echo "FAIL $t: exited with status $rc" >>"$out/$t.txt"
        tests_pass=$((tests_pass + p)) tests_fail=$((tests_fail + f)) tests_skip=$((tests_skip + s))
        log "$t: $p passed, $f failed, $s skipped"
        grep -E '^FAIL ' "$out/$t.txt" | head -5 | sed 's/^/    /'
    done
    models_tested=$(ls "$LLMSCOPE_SHARED/models" 2>/dev/null | grep -c '\.gguf$')
}

# SHAPE TYPE NAME: synthesises the benchmark model (skipped when it is there already)
synth() {
    local f=$work/models/$3.gguf
    mkdir -p "$work/models"
    [ -s "$f" ] && return 0
    timeout 300 "$bin/llmscope" synth --shape "$1" --type "$2" -o "$f" >"$out/synth-$3.txt" 2>&1
}

bench() { # NAME: llmscope bench, capture on and off, with the inspection cost
    timeout 240 "$bin/llmscope" bench -m "$work/models/$1.gguf" --backend vulkan >"$out/bench-$1.txt" 2>&1
}

# field NAME LINE-PATTERN N: the Nth number on the bench line matching the pattern
field() { grep -m1 -E "$2" "$out/bench-$1.txt" 2>/dev/null | grep -oE -- '-?[0-9]+(\.[0-9]+)?' | sed -n "${3}p"; }

run() {
    setup_environment
    require_gpu
    log "Vulkan tests on the packed shared models"
    run_tests
    local m
    for m in "smollm2-135m q8_0 135m" "llama-3.2-1b q4_k_m 1b" "llama-3-8b q4_k_m 8b"; do
        set -- $m
        log "synth $1 $2"
        synth "$1" "$2" "$3" || echo "    synth of $1 failed: $(tail -1 "$out/synth-$3.txt")"
        log "bench $1 $2"
        [ -s "$work/models/$3.gguf" ] && { bench "$3" || echo "    bench of $1 failed: $(tail -1 "$out/bench-$3.txt")"; }
    done
    table
}

# One row: WHAT TARGET MEASURED UNIT OK(1/0/-1 missing)
row() {
    local verdict
    case $5 in 1) verdict=met ;; 0) verdict=MISSED ;; *) verdict="not measured" ;; esac
    local measured=-
    [ -n "$3" ] && measured="$3${4:+ $4}"
    printf '| %-46s | %-14s | %-18s | %-12s |\n' "$1" "$2" "$measured" "$verdict"
}

# at_least VALUE TARGET -> 1/0/-1; at_most likewise
at_least() { [ -z "$1" ] && echo -1 && return; awk -v v="$1" -v t="$2" 'BEGIN { print (v >= t) ? 1 : 0 }'; }
at_most() { [ -z "$1" ] && echo -1 && return; awk -v v="$1" -v t="$2" 'BEGIN { print (v <= t) ? 1 : 0 }'; }
worst() { printf '%s\n' "$@" | grep -E '^-?[0-9]' | sort -g | tail -1; }

table() {
    local d135 d1b d8b p8b c135 c1b c8b i135 i1b i8b device
    d135=$(field 135m '^decode \(tokens/s\)' 1); d1b=$(field 1b '^decode \(tokens/s\)' 1); d8b=$(field 8b '^decode \(tokens/s\)' 1)
    p8b=$(field 8b '^prompt eval \(tokens/s\)' 1)
    c135=$(field 135m '^decode \(tokens/s\)' 3); c1b=$(field 1b '^decode \(tokens/s\)' 3); c8b=$(field 8b '^decode \(tokens/s\)' 3)
    i135=$(field 135m '^inspection' 4); i1b=$(field 1b '^inspection' 4); i8b=$(field 8b '^inspection' 4)
    local cap ins
    cap=$(worst "$c135" "$c1b" "$c8b"); ins=$(worst "$i135" "$i1b" "$i8b")
    device=$(grep -m1 -E '^device: ' "$out/bench-8b.txt" "$out/bench-1b.txt" "$out/bench-135m.txt" 2>/dev/null | head -1 | sed 's/^[^:]*:device: //')
    mkdir -p "$out"
    local tests_ok=0
    [ "$tests_fail" -eq 0 ] && [ "$tests_pass" -gt 0 ] && tests_ok=1
    {
        echo
        echo "gpu-check on ${device:-?} ($(($(date +%s) - t_start)) s; logs in $out)"
        printf '| %-46s | %-14s | %-18s | %-12s |\n' "what" "target" "measured" "verdict"
        printf '|%s|%s|%s|%s|\n' "------------------------------------------------" "----------------" "--------------------" "--------------"
        row "Vulkan tests, $models_tested shared models" "all pass" "$tests_pass passed, $tests_fail failed" "" "$tests_ok"
        row "SmolLM2-135M Q8_0 decode (capture on)" ">= 1500 tok/s" "$d135" "tok/s" "$(at_least "$d135" 1500)"
        row "Llama-3.2-1B Q4_K_M decode (capture on)" ">= 1000 tok/s" "$d1b" "tok/s" "$(at_least "$d1b" 1000)"
        row "Llama-3-8B Q4_K_M decode (capture on)" ">= 300 tok/s" "$d8b" "tok/s" "$(at_least "$d8b" 300)"
        row "Llama-3-8B Q4_K_M prompt (capture on)" ">= 3000 tok/s" "$p8b" "tok/s" "$(at_least "$p8b" 3000)"
        row "capture cost, decode (worst of the three)" "<= 10%" "$cap" "%" "$(at_most "$cap" 10)"
        row "everything on, session decode (worst of three)" "<= 15%" "$ins" "%" "$(at_most "$ins" 15)"
        echo "(decode and prompt: llmscope bench defaults, 512-token prompt, 128 decoded tokens, best of 3;"
        echo " capture cost: decode with attention capture on vs off; everything on: the bench's inspection line)"
    } | tee "$out/table.txt"
    [ "$tests_fail" -gt 0 ] && exit 2
    [ -z "$d135$d1b$d8b" ] && exit 1
    exit 0
}

# (sourced by tests/gpu_check.test.sh, which calls the functions itself)
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    case "${1:-}" in
    pack) shift; pack "$@" ;;
    run) run ;;
    *) echo "usage: tests/gpu_check.sh pack [BUILD] | run" >&2; exit 2 ;;
    esac
fi
