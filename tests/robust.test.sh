#!/usr/bin/env bash
# tests/robust.test.sh BUILD — nothing lost, nothing frozen (issue 16's adversarial
# findings), driven as a user meets them: the terminal app in a private tmux server, the
# command-line tools on hostile input.
#   save_on_failing_disk_keeps_old_file   /save past a file-size limit (prlimit on the
#                                         running app: writes fail with EFBIG, as a full
#                                         disk's fail with ENOSPC) leaves the old file
#   load_failing_in_replay_keeps_conversation   a context overflow found while replaying
#   load_bad_utf8_keeps_conversation      a message that is not UTF-8, found before
#   load_other_vocabulary_refused         the save header's vocabulary fingerprint
#   load_dev_zero_is_bounded              /load /dev/zero: an error in seconds, memory flat
#   crash_restores_keypad_mode            SIGSEGV: the handler turns keypad mode off
#   replay_dev_zero_is_bounded, render_dev_zero_is_bounded
#   replay_capped_at_context              a trace longer than the models' context
# One PASS/FAIL/SKIP line each, like the C tests.
set -u
build=${1:-build}
cd "$(dirname "$0")/.." || exit 2
bin=$build/llmscope
shared=${LLMSCOPE_SHARED:-../shared}
. tests/script_lib.sh

story=$shared/models/stories260K.gguf
other=$shared/models/llama-k-tiny-f32.gguf # completion mode too, another vocabulary
if [ ! -x "$bin" ]; then fail robust "$bin is not built"; exit 1; fi
if [ ! -f "$story" ] || [ ! -f "$other" ]; then skip robust "$shared/models not found (shared test data)"; exit 0; fi
for tool in tmux python3 prlimit; do
    if ! command -v "$tool" >/dev/null 2>&1; then skip robust "$tool is not installed"; exit 0; fi
done

. tests/tmux_lib.sh
tmux_begin robust
export HOME=$tmp/home XDG_DATA_HOME=$tmp/data
unset LLMSCOPE_MODEL

# start NAME ARGS...: the app on the CPU engine in a 160x40 window; the process id goes to
# $tmp/NAME.pid (exec keeps it), and the pane stays after the app ends.
start() {
    local name=$1
    shift
    tm new-session -d -s "$name" -x 160 -y 40 \
        env LANG=C.UTF-8 LC_ALL=C.UTF-8 TERM=tmux-256color NO_COLOR=1 \
        bash -c 'echo $$ > "$0"; exec "$@"' "$tmp/$name.pid" "$bin" --backend cpu "$@"
    tm set-option -t "$name" remain-on-exit on >/dev/null
}
pid_of() { cat "$tmp/$1.pid"; }
# the records of a saved conversation (id, probability, rank, sampled), one line
ids() {
    python3 -c 'import json,sys; print([(o.get("id"), o.get("prob"), o.get("rank"), o.get("generated"), o.get("prob_after"))
        for o in map(json.loads, open(sys.argv[1], encoding="utf-8", errors="replace"))][1:])' "$1"
}
check() { if [ "$2" -eq 0 ]; then pass "$1"; else fail "$1" "${@:3}"; fi; } # NAME STATUS [WHY...]
rss_mb() { awk '/^VmRSS/ { print int($2 / 1024) }' "/proc/$1/status" 2>/dev/null || echo 0; }

# ---- the app: a conversation to lose ----
S=app
start $S -m "$story" --temp 0 -n 20
if ! wait_for $S 'TYPE \|' 20; then
    fail robust_app_starts "the interface did not come up: $(cap $S | tail -3)"
    exit 1
fi
keys $S "Once upon a time" Enter
wait_for $S 'reply: 20 tokens' 30
keys $S "/save $tmp/conv.jsonl" Enter
if ! wait_for $S 'saved [0-9]+ tokens' 10; then
    fail robust_first_save "no save: $(cap $S | tail -3)"
    exit 1
fi
cp "$tmp/conv.jsonl" "$tmp/conv.before"

# /save on a disk that fails part-way: the old file stays whole, no temporary file left
keys $S "and then" Enter
wait_for $S 'reply: 20 tokens' 30
prlimit --pid "$(pid_of $S)" --fsize=1024: # the soft limit: it can be raised again
keys $S "/save $tmp/conv.jsonl" Enter
wait_for $S 'cannot write .*conv.jsonl' 10
shown=$?
left=$(find "$tmp" -maxdepth 1 -name 'conv.jsonl.*' | wc -l)
if [ "$shown" -eq 0 ] && cmp -s "$tmp/conv.jsonl" "$tmp/conv.before" && [ "$left" -eq 0 ]; then
    pass save_on_failing_disk_keeps_old_file
else
    fail save_on_failing_disk_keeps_old_file "message shown: $shown; file unchanged: $(cmp -s "$tmp/conv.jsonl" "$tmp/conv.before" && echo yes || echo no); temporary files left: $left" "$(cap $S | tail -3)"
fi
prlimit --pid "$(pid_of $S)" --fsize=unlimited:
keys $S "/save $tmp/two.jsonl" Enter
wait_for $S 'saved [0-9]+ tokens' 10
before=$(ids "$tmp/two.jsonl")

# /load of a file that only the replay can find wrong: 3000 reply tokens, past the context
python3 - "$tmp/conv.before" "$tmp/overflow.jsonl" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
out = [lines[0], {"type": "input", "text": "Once"}]
out += [{"type": "token", "id": 5, "segment": "assistant", "generated": True}] * 3000
with open(sys.argv[2], "w", encoding="utf-8") as f:
    for o in out: f.write(json.dumps(o) + "\n")
PY
keys $S "/load $tmp/overflow.jsonl" Enter
wait_for $S 'conversation kept|could not be rebuilt|loaded' 60
screen=$(cap $S)
keys $S "/save $tmp/after.jsonl" Enter
wait_for $S 'saved [0-9]+ tokens.*after' 10
[[ $screen == *"not loaded, your conversation kept"* ]] && [ "$(ids "$tmp/after.jsonl")" = "$before" ]
check load_failing_in_replay_keeps_conversation $? "$(grep -E 'load|context' <<<"$screen" | tail -2)"

# a message that is not UTF-8 (raw bytes inside a JSON string): refused before anything
python3 - "$tmp/conv.before" "$tmp/badutf8.jsonl" <<'PY'
import sys
lines = open(sys.argv[1], "rb").read().split(b"\n")
with open(sys.argv[2], "wb") as f:
    f.write(lines[0] + b"\n" + b'{"type": "input", "text": "caf\xe9 \xff"}\n' + b"\n".join(lines[1:]))
PY
keys $S "/load $tmp/badutf8.jsonl" Enter
wait_for $S 'badutf8.jsonl:2: a message that is not' 10
shown=$?
keys $S "/save $tmp/after2.jsonl" Enter
wait_for $S 'saved [0-9]+ tokens.*after2' 10
[ "$shown" -eq 0 ] && [ "$(ids "$tmp/after2.jsonl")" = "$before" ]
check load_bad_utf8_keeps_conversation $? "$(cap $S | tail -3)"

# /load /dev/zero: one endless line; an error within seconds, the app's memory flat
rss0=$(rss_mb "$(pid_of $S)")
keys $S "/load /dev/zero" Enter
wait_for $S 'longer than 16 MiB' 15
shown=$?
rss1=$(rss_mb "$(pid_of $S)")
keys $S "/save $tmp/after3.jsonl" Enter
wait_for $S 'saved [0-9]+ tokens.*after3' 10
[ "$shown" -eq 0 ] && [ "$rss1" -lt $((rss0 + 200)) ] && [ "$(ids "$tmp/after3.jsonl")" = "$before" ]
check load_dev_zero_is_bounded $? "message shown: $shown, memory $rss0 -> $rss1 MB" "$(cap $S | tail -3)"

# a crash: the handler restores the terminal, keypad mode included
flags() { tm display-message -p -t "$1" '#{keypad_cursor_flag}#{keypad_flag}'; }
on=$(flags $S)
kill -SEGV "$(pid_of $S)"
i=0
while [ "$(tm display-message -p -t $S '#{pane_dead}')" != 1 ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
off=$(flags $S)
[ "$on" != 00 ] && [ "$off" = 00 ]
check crash_restores_keypad_mode $? "keypad flags while running: $on, after the crash: $off (0 = off)"
tm kill-session -t $S

# ---- a conversation saved with another model's vocabulary ----
start voc -m "$other" --temp 0
if wait_for voc 'TYPE \|' 20; then
    keys voc "/load $tmp/conv.before" Enter
    wait_for voc 'saved with another vocabulary' 10
    check load_other_vocabulary_refused $? "$(cap voc | tail -3)"
else
    fail load_other_vocabulary_refused "the interface did not come up"
fi
tm kill-session -t voc

# ---- the command-line readers on /dev/zero: an error within seconds, bounded memory ----
bounded() { # NAME WANT ARGS...: fails within 20 s with WANT, under a 1 GiB address space
    local name=$1 want=$2
    shift 2
    local t0 rc
    t0=$(date +%s)
    timeout 20 prlimit --as=1073741824 "$bin" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
    rc=$?
    [ "$rc" -eq 1 ] && grep -q -- "$want" "$tmp/err" && [ $(($(date +%s) - t0)) -lt 20 ]
    check "$name" $? "exit $rc: $(head -c 300 "$tmp/err")"
}
bounded replay_dev_zero_is_bounded "longer than 32 MiB" replay /dev/zero -m "$story"
bounded render_dev_zero_is_bounded "longer than 32 MiB" render /dev/zero -o "$tmp/x.svg"

# ---- replay sizes its engines by the models' context, not by the trace ----
python3 - "$tmp/long.jsonl" "$story" <<'PY'
import json, sys
ctx = {"model": sys.argv[2], "n_vocab": 512, "tokens": [1] + [(i * 37) % 500 + 5 for i in range(2999)]}
with open(sys.argv[1], "w") as f:
    f.write(json.dumps({"pos": 3000, "id": 7, "text": "x", "context": ctx}) + "\n")
    f.write(json.dumps({"pos": 3001, "id": 8, "text": "y"}) + "\n")
PY
timeout 120 "$bin" replay "$tmp/long.jsonl" -m "$story" --all --json >"$tmp/out" 2>"$tmp/err"
rc=$?
n=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["n_tokens"])' "$tmp/out" 2>/dev/null)
[ "$rc" -eq 0 ] && grep -q "the trace has 3002 positions but the models' context is 2048" "$tmp/err" && [ "$n" = 2047 ]
check replay_capped_at_context $? "exit $rc, compared $n positions: $(head -c 300 "$tmp/err")"
exit $failed
