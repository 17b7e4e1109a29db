#!/bin/sh
# run.sh — the whole recipe for one configuration: data, tokenizer, training, export,
# the checks against llmscope, and the evaluation.
#
#   train/run.sh smoke            # CPU, ~45 min on one core
#   train/run.sh medium           # CPU, ~4 h on 2 cores (see train/README.md)
#   train/run.sh full             # the GPU machine, see train/README.md
#
# Environment: PYTHON (default /usr/bin/python3), LLMSCOPE (default ./llmscope, built by
# `make`), INSTALL=1 to copy the model into assets/, EVAL_JOBS (parallel questions),
# TRAIN_ARGS (extra arguments for train.py, e.g. "--steps 100").
set -eu
cd "$(dirname "$0")/.."
name=${1:?usage: train/run.sh smoke|full}
cfg=train/configs/$name.json
py=${PYTHON:-/usr/bin/python3}
llmscope=${LLMSCOPE:-./llmscope}
# one BLAS thread per process unless told otherwise: the thread count is part of what
# makes a CPU run reproducible (train.py sets torch's own from the config)
export OPENBLAS_NUM_THREADS="${OPENBLAS_NUM_THREADS:-1}"

step() { echo "== $*"; }
out=${LLMSCOPE_TRAIN_OUT:-train/out}/$name
# the model shipped now, kept before anything (INSTALL=1 among them) replaces it: the new
# model is compared with it
mkdir -p "$out" && cp assets/llmscope-dict.gguf "$out/shipped.gguf"

step "data";      $py train/prepare_data.py --config "$cfg"
step "tokenizer"; $py train/train_tokenizer.py --config "$cfg"
step "train"
# shellcheck disable=SC2086 # TRAIN_ARGS is a list of arguments ("--resume --max-minutes 60")
$py train/train.py --config "$cfg" ${TRAIN_ARGS:-}
# a configuration with a fine-tuning stage (train.finetune) runs it on the trained weights
if $py -c 'import json, sys; sys.exit("finetune" not in json.load(open(sys.argv[1]))["train"])' "$cfg"; then
    step "fine-tune"
    # shellcheck disable=SC2086 # as above: "--steps N" shortens this stage too
    $py train/train.py --config "$cfg" --finetune ${TRAIN_ARGS:-}
fi
step "export"
if [ "${INSTALL:-0}" = 1 ]; then install=--install; else install=; fi
# shellcheck disable=SC2086 # empty or one word
$py train/export_gguf.py --config "$cfg" $install
if [ -x "$llmscope" ]; then
    step "check tokenizer"; $py train/check_tokenizer.py --config "$cfg" --llmscope "$llmscope"
    step "check export";    $py train/check_export.py --config "$cfg" --llmscope "$llmscope"
    if [ "$name" != smoke ]; then
        # the shipping decision first: the shipped model and the new one on common questions
        # (smoke's known words, which every larger configuration includes, and 2000 made-up
        # words: with 500, the shipped models' made-up rows differed by chance), each at its
        # own app settings
        step "compare with the shipped model"
        $py train/prepare_data.py --config train/configs/smoke.json >/dev/null
        $py train/common_questions.py --known smoke --made-up "$name" --more-made-up 1900
        for conv in "" --conversation; do
            # shellcheck disable=SC2086
            $py train/evaluate.py --config "$cfg" --llmscope "$llmscope" --questions common --settings app \
                $conv --jobs "${EVAL_JOBS:-1}" >/dev/null
            # shellcheck disable=SC2086
            $py train/evaluate.py --config "$cfg" --llmscope "$llmscope" --questions common --settings app \
                $conv --jobs "${EVAL_JOBS:-1}" --model "$out/shipped.gguf" \
                --out "shipped-common-app${conv:+-conversation}" >/dev/null
        done
        $py train/compare_models.py "$out/shipped-common" "$out/common" || true
        # made-up words that look like known ones (held out from the fine-tuning stage's)
        if [ -f "$out/data/lookalike.jsonl" ]; then
            step "compare on look-alike words"
            for conv in "" --conversation; do
                for m in new shipped; do
                    if [ $m = new ]; then model="$out/llmscope-dict.gguf"; else model="$out/shipped.gguf"; fi
                    # shellcheck disable=SC2086
                    $py train/evaluate.py --config "$cfg" --llmscope "$llmscope" --questions lookalike \
                        --settings app $conv --jobs "${EVAL_JOBS:-1}" --model "$model" \
                        --out "$m-lookalike-app${conv:+-conversation}" >/dev/null
                done
            done
            $py train/compare_models.py --made-up-only "$out/shipped-lookalike" "$out/new-lookalike" || true
        fi
    fi
    # at the app's settings (the file's own sampler defaults), alone and in conversations
    step "evaluate (app)";  $py train/evaluate.py --config "$cfg" --llmscope "$llmscope" --settings app --jobs "${EVAL_JOBS:-1}"
    step "evaluate (conversations)"
    $py train/evaluate.py --config "$cfg" --llmscope "$llmscope" --settings app --conversation --jobs "${EVAL_JOBS:-1}"
    # the greedy evaluation (eval.json, the numbers of docs/dictionary-model.md) is the
    # detector's test set: detector.sh runs it once, keeping its traces
    step "detector and evaluation"
    EVAL_JOBS="${EVAL_JOBS:-1}" LLMSCOPE="$llmscope" train/detector.sh "$name" "$out/llmscope-dict.gguf"
    if [ "${INSTALL:-0}" = 1 ]; then cp "$out/llmscope-dict.detector.json" assets/; fi
else
    echo "run.sh: $llmscope not built (make), so the checks and the evaluation use PyTorch only"
    step "evaluate";        $py train/evaluate.py --config "$cfg" --engine torch
fi
sha256sum "$out/"*.gguf
