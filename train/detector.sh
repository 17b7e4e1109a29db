#!/bin/sh
# detector.sh — the dictionary model's detector of wrong answers, and its numbers.
#
#   train/detector.sh smoke|medium|full [MODEL.gguf]
#
# 1. calibration questions: trained words and made-up words the evaluation never asks
#    about (calibration_questions.py), answered by llmscope with their traces kept and
#    labelled right or wrong by the dictionary (evaluate.py --keep-traces);
# 2. the evaluation's questions, answered and labelled the same way;
# 3. llmscope calibrate: fitted on the calibration answers, tested on the evaluation's
#    held-out wordings (known and made-up words), which it never saw. The logit-lens
#    features are left out: the terminal app does not compute the lens for every token
#    (measured: they add nothing here, docs/dictionary-model.md).
#    It is fitted on parts of replies too, cut every 1/16 of their tokens (--prefixes 16):
#    the app scores the reply so far from its first token, and a detector fitted on whole
#    replies only can score a one-token reply at 1.0, which drove the threshold to 1.000
#    for models that hesitate between answering and refusing (docs/dictionary-model.md).
# Writes MODEL.detector.json beside the model (default: the one in assets/) and
# train/results/NAME.detector.txt (the report). Greedy decoding, as the evaluation.
set -eu
cd "$(dirname "$0")/.."
name=${1:?usage: train/detector.sh smoke|medium|full [MODEL.gguf]}
model=${2:-assets/llmscope-dict.gguf}
cfg=train/configs/$name.json
py=${PYTHON:-/usr/bin/python3}
llmscope=${LLMSCOPE:-./llmscope}
out=${LLMSCOPE_TRAIN_OUT:-train/out}/$name
jobs=${EVAL_JOBS:-1}  # questions answered in parallel

$py train/calibration_questions.py --config "$cfg"
$py train/evaluate.py --config "$cfg" --model "$model" --llmscope "$llmscope" --questions calib \
    --jobs "$jobs" --keep-traces "$out/calib_traces" >/dev/null
$py train/evaluate.py --config "$cfg" --model "$model" --llmscope "$llmscope" \
    --jobs "$jobs" --keep-traces "$out/eval_traces" >/dev/null
detector=${model%.gguf}.detector.json
"$llmscope" calibrate "$out/calib_traces/labels.jsonl" --test "$out/eval_traces/labels-heldout.jsonl" \
    --exclude 'lens_*,mean_commit,max_commit' --prefixes 16 -o "$detector" | tee "train/results/$name.detector.txt"
