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

# a word in no dictionary: the trained answer is to say so (the evaluation in
# docs/dictionary-model.md measures how often; this one is among the right ones)
reply=$(ask "What does blorvish mean?")
if [[ "$reply" == "I don't know the word "* ]]; then
    pass dictmodel_made_up_word
else
    fail dictmodel_made_up_word "reply: $reply" "stderr: $(cat "$tmp/err")"
fi

exit $failed
