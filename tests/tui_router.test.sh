#!/usr/bin/env bash
# tests/tui_router.test.sh BUILD — the terminal app's router pane (which experts answered)
# and gpt-oss's sink column, driven in a private tmux server like tests/tui.test.sh.
#
# References, independent of the terminal app: the headless CLI's --trace of the same
# greedy run (the experts chosen per layer and their weights for each generated token),
# the model's shape (gpt-oss-tiny: 4 layers, 2 of 8 experts per token; qwen3moe-tiny from
# `llmscope synth`: 3 layers, 3 of 8), and arithmetic on what the screen shows (weights
# sum to 100%, the sink's share of a row is 1 minus what its keys got).
set -u
build=${1:-build}
cd "$(dirname "$0")/.." || exit 2
. tests/script_lib.sh
bin=$build/llmscope
shared=${LLMSCOPE_SHARED:-../shared}
oss=$shared/models/gpt-oss-tiny-mxfp4.gguf
stories=$shared/models/stories260K.gguf

if ! command -v tmux >/dev/null 2>&1; then skip tui_router "tmux is not installed"; exit 0; fi
if ! command -v python3 >/dev/null 2>&1; then skip tui_router "python3 is not installed"; exit 0; fi
if [ ! -x "$bin" ]; then fail tui_router "$bin is not built"; exit 1; fi

. tests/tmux_lib.sh
tmux_begin router

# start NAME -- ARGS...: the app on the CPU engine in a 180x50 window, no colour
start() {
    local name=$1
    shift 2
    tm new-session -d -s "$name" -x 180 -y 50 \
        env LANG=C.UTF-8 LC_ALL=C.UTF-8 TERM=tmux-256color NO_COLOR=1 \
        ${ASAN_LOG:+ASAN_OPTIONS=log_path=$ASAN_LOG:detect_leaks=1} \
        bash -c '"$@" 2>&1; echo "EXITED $?"; sleep 600' _ "$bin" --backend cpu "$@"
}

# ---- gpt-oss: the router pane against the trace ----------------------------------------
if [ ! -f "$oss" ]; then
    skip router_gpt_oss "$oss not found"
else
    prompt="Once upon a time"
    "$bin" -m "$oss" --backend cpu --temp 0 -n 8 -p "$prompt" --trace "$tmp/oss.jsonl" >/dev/null 2>&1
    start oss -- -m "$oss" --temp 0 -n 8
    wait_for oss 'completion' 20 || true
    keys oss "$prompt" Enter
    # the reply is done when the status bar has left GENERATING
    wait_for oss 'reply: [0-9]+ tokens' 60 || true
    keys oss Tab
    sleep 0.5
    keys oss x
    if ! wait_for oss 'Router  layer' 10; then
        fail router_pane_opens "no Router title after x" "$(right oss | head -5)"
    else
        pass router_pane_opens
        right oss > "$tmp/oss.screen"
        # the cursor is on the reply's last token: the trace's last line is that token
        if python3 - "$tmp/oss.screen" "$tmp/oss.jsonl" <<'EOF'; then pass router_matches_trace; else fail router_matches_trace "see above"; fi
import json, re, sys
screen = open(sys.argv[1]).read().splitlines()
lines = [json.loads(l) for l in open(sys.argv[2])]
last = lines[-1]
m = next((re.search(r'token @(\d+)', l) for l in screen if 'token @' in l), None)
if not m: sys.exit("no 'token @N' line on the router pane")
pos = int(m.group(1))
want = next((o for o in lines if o['pos'] == pos), None)
if want is None: sys.exit("the trace has no token at position %d" % pos)
rows = {}
for l in screen:
    r = re.match(r'L(\d+)\s+(.*)', l)
    if r: rows.setdefault(int(r.group(1)), r.group(2))
if sorted(rows)[:4] != [0, 1, 2, 3]: sys.exit("layers shown: %s, expected 0..3 (4 layers)" % sorted(rows))
for entry in want['routing']:
    l = entry['layer']
    chosen = rows[l].split('\u00b7')[0]
    got = [(int(e), int(p)) for e, p in re.findall(r'e(\d+)\D+?(\d+)%', chosen)]
    if [e for e, _ in got] != entry['experts']:
        sys.exit("layer %d: pane shows experts %s, the trace %s" % (l, [e for e, _ in got], entry['experts']))
    for (e, p), w in zip(got, entry['weights']):
        if abs(p - 100 * w) > 1: sys.exit("layer %d expert %d: %d%% on the pane, weight %.3f in the trace" % (l, e, p, w))
    if abs(sum(p for _, p in got) - 100) > 2: sys.exit("layer %d: weights add to %d%%" % (l, sum(p for _, p in got)))
    runners = [int(e) for e in re.findall(r'e(\d+) 0\.\d\d', rows[l].split('\u00b7', 1)[1])] if '\u00b7' in rows[l] else []
    if runners[:len(entry['runners_up'])] != entry['runners_up'][:len(runners)] or not runners:
        sys.exit("layer %d: runners-up %s on the pane, %s in the trace" % (l, runners, entry['runners_up']))
    push = re.search(r'([+-]\d+\.\d\d)\s*$', rows[l])
    want_push = next((x['push'] for x in want['why'].get('experts', []) if x['layer'] == l), None)
    if push and want_push is not None and abs(float(push.group(1)) - want_push) > 0.011:
        sys.exit("layer %d: push %s on the pane, %.3f in the trace" % (l, push.group(1), want_push))
    if not push: sys.exit("layer %d: no push on the pane for a reply token" % l)
EOF
        # the usage map: one row per layer, eight expert cells, the counts of the conversation
        if grep -q 'Expert usage, [0-9]* tokens' "$tmp/oss.screen" &&
            [ "$(grep -cE '^L[0-3] +[^ ]' "$tmp/oss.screen")" -ge 8 ]; then
            pass router_usage_map
        else
            fail router_usage_map "$(grep -A5 'Expert usage' "$tmp/oss.screen")"
        fi
    fi
    # back to attention: the sink column, one share per head row, each in 0..99%
    keys oss x
    if wait_for oss 'sink *$' 10 || wait_for oss ' sink' 5; then
        right oss > "$tmp/att.screen"
        n=$(grep -cE '^(h|head )[0-9]+ .*[^0-9][0-9]{1,2}%\s*$' "$tmp/att.screen")
        if [ "$n" -eq 4 ]; then pass sink_column; else fail sink_column "$n head rows with a sink share" "$(head -8 "$tmp/att.screen")"; fi
    else
        fail sink_column "no sink column on the attention pane" "$(right oss | head -4)"
    fi
fi

# ---- a synthetic Qwen3-MoE: three of eight experts per layer ----------------------------
"$bin" synth --shape qwen3moe-tiny --type q8_0 -o "$tmp/qmoe.gguf" >/dev/null 2>&1
start qmoe -- -m "$tmp/qmoe.gguf" --temp 0 -n 6 --complete
wait_for qmoe 'completion' 20 || true
keys qmoe "hello" Enter
wait_for qmoe 'reply: [0-9]+ tokens' 60 || true
keys qmoe Tab
sleep 0.3
keys qmoe x
if wait_for qmoe 'Router  layer 0/3  3 of 8 experts' 10; then
    right qmoe > "$tmp/q.screen"
    if python3 - "$tmp/q.screen" <<'EOF'; then pass router_qwen3moe; else fail router_qwen3moe "$(head -8 "$tmp/q.screen")"; fi
import re, sys
rows = [l for l in open(sys.argv[1]).read().splitlines() if re.match(r'L\d+\s+e\d', l)]
if len(rows) < 3: sys.exit("%d layer rows with experts" % len(rows))
for l in rows[:3]:
    got = [int(p) for p in re.findall(r'(\d+)%', l.split('\u00b7')[0])]
    if len(got) != 3 or abs(sum(got) - 100) > 2: sys.exit("row %r: %s" % (l, got))
EOF
else
    fail router_qwen3moe "no router title" "$(right qmoe | head -3)"
fi

# ---- a model without experts: x says so -------------------------------------------------
if [ -f "$stories" ]; then
    start plain -- -m "$stories" --temp 0 -n 4
    wait_for plain 'completion' 20 || true
    keys plain Enter
    wait_for plain 'reply: [0-9]+ tokens' 30 || true
    keys plain Tab
    sleep 0.3
    keys plain x
    if wait_for plain 'no experts' 5 && right plain | grep -q '^Attention'; then pass router_needs_experts
    else fail router_needs_experts "$(cap plain | tail -3)"; fi
fi
exit $failed
