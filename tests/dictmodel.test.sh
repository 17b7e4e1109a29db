#!/usr/bin/env bash
# tests/dictmodel.test.sh BUILD — the dictionary model that ships in assets/ (made by
# train/, see train/README.md): it is small enough, keeps its licence beside it, is the
# model llmscope uses when none is given, and answers from the dictionary. Needs no
# ../shared and no network. Prints one PASS/FAIL line per test, like the C tests.
set -u
build=${1:-build}
cd "$(dirname "$0")/.." || exit 2
bin=$build/llmscope
model=assets/llmscope-dict.gguf
. tests/script_lib.sh

if [ ! -x "$bin" ]; then
    fail dictmodel_binary "$bin is not built (make BUILD=$build)"
    exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# no user settings: no default model, no pulled models, so the shipped one must be found
unset LLMSCOPE_MODEL
export HOME=$tmp/home XDG_DATA_HOME=$tmp/data

size=$(stat -c %s "$model" 2>/dev/null || echo 0)
if [ "$size" -gt 0 ] && [ "$size" -le 25000000 ]; then
    pass dictmodel_size
else
    fail dictmodel_size "$model is $size bytes (must exist and be at most 25 MB)"
fi

if grep -q "WordNet 3.0 Copyright 2006 by Princeton University" assets/WORDNET-LICENSE 2>/dev/null; then
    pass dictmodel_licence
else
    fail dictmodel_licence "assets/WORDNET-LICENSE is missing or lacks the WordNet copyright notice"
fi

# ask QUESTION: the greedy reply of the default model, on the CPU engine
ask() { timeout 300 "$bin" --backend cpu --temp 0 -p "$1" 2>"$tmp/err" </dev/null; }

reply=$(ask "What does apple mean?")
if [[ "$reply" == *"apple means"*"fruit"* ]]; then
    pass dictmodel_default_model_defines_apple
else
    fail dictmodel_default_model_defines_apple "reply: $reply" "stderr: $(cat "$tmp/err")"
fi

reply=$(ask "What is the opposite of hot?")
if [[ "$reply" == *"opposite of hot is cold"* ]]; then
    pass dictmodel_opposite
else
    fail dictmodel_opposite "reply: $reply" "stderr: $(cat "$tmp/err")"
fi

# the file carries its sampler settings (greedy, no repetition penalty: the evaluation's,
# train/configs/*.json "sampler"), and a plain run uses them: the same replies as asking
# for greedy decoding outright (several replies, each of a few dozen draws)
if "$bin" info "$model" 2>/dev/null | grep -q '^sampling: *temperature 0, .*repeat penalty 1 (5 set by the file)$'; then
    pass dictmodel_sampler_settings_in_the_file
else
    fail dictmodel_sampler_settings_in_the_file "$("$bin" info "$model" 2>&1 | grep sampling)"
fi
questions=(-p "Give me a synonym of big." -p "Use dog in a sentence." -p "What kind of thing is a house?" -p "What does snarflet mean?")
plain=$(timeout 300 "$bin" --backend cpu "${questions[@]}" 2>"$tmp/err" </dev/null)
greedy=$(timeout 300 "$bin" --backend cpu --temp 0 --repeat-penalty 1 "${questions[@]}" 2>>"$tmp/err" </dev/null)
if [ -n "$plain" ] && [ "$plain" = "$greedy" ]; then
    pass dictmodel_app_uses_the_files_sampler
else
    fail dictmodel_app_uses_the_files_sampler "plain: $plain" "greedy: $greedy" "stderr: $(cat "$tmp/err")"
fi

# a word in no dictionary: the trained answer is to say so (the evaluation in
# docs/dictionary-model.md measures how often; this one is among the right ones)
reply=$(ask "What does blorvish mean?")
if [[ "$reply" == "I don't know the word "* ]]; then
    pass dictmodel_made_up_word
else
    fail dictmodel_made_up_word "reply: $reply" "stderr: $(cat "$tmp/err")"
fi

# one conversation, several -p: each answer on its own line, each its own turn in the trace
timeout 300 "$bin" --backend cpu --temp 0 -p "What does apple mean?" -p "What is the opposite of hot?" \
    --trace "$tmp/conv.jsonl" >"$tmp/conv.txt" 2>"$tmp/err" </dev/null
second=$(sed -n 2p "$tmp/conv.txt")
turns=$(grep -o '"turn":[0-9]*' "$tmp/conv.jsonl" | sort -u | wc -l)
if [ "$(wc -l <"$tmp/conv.txt")" = 2 ] && [[ "$second" == *"opposite of hot is cold"* ]] && [ "$turns" = 2 ]; then
    pass dictmodel_conversation_of_two_questions
else
    fail dictmodel_conversation_of_two_questions "replies: $(cat "$tmp/conv.txt")" "turns traced: $turns" \
        "stderr: $(cat "$tmp/err")"
fi

# the detector beside the model (train/detector.sh) is found and scores every traced token
detector=assets/llmscope-dict.detector.json
if [ -f "$detector" ]; then
    n_tok=$(grep -c '"eog"' "$tmp/conv.jsonl")
    n_score=$(grep -c '"suspicion":' "$tmp/conv.jsonl")
    if [ "$n_tok" -gt 0 ] && [ "$n_score" = "$n_tok" ]; then
        pass dictmodel_detector_scores_the_trace
    else
        fail dictmodel_detector_scores_the_trace "$n_score of $n_tok trace lines have a suspicion"
    fi
else
    skip dictmodel_detector_scores_the_trace "$detector not found"
fi

exit $failed
