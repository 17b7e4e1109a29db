#!/usr/bin/env bash
# tests/tui.test.sh BUILD — drives the terminal app ($BUILD/llmscope) in a private tmux
# server: keys go in with send-keys, the screen comes back with capture-pane. Prints one
# PASS/FAIL/SKIP line per check, like the C tests.
#
# What is checked against what is known independently of the TUI: the greedy story
# stories260K writes from BOS (shared/README.md), each model's layer and head counts
# (5 layers, 8 query / 4 kv heads; 2 layers, 4 / 2), the attention row length of a
# record (its position), the tokens a greedy run picks; display widths of Korean and
# emoji are checked with Python's unicodedata, not with our own wcwidth.
# With ASAN_LOG=PREFIX (for a sanitizer build) each run writes its reports to PREFIX.PID.
set -u
build=${1:-build}
cd "$(dirname "$0")/.." || exit 2
bin=$build/llmscope
shared=${LLMSCOPE_SHARED:-../shared}

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1${2:+: $2}"; }
skip() { echo "SKIP $1: $2"; }
check() { # NAME CONDITION-STATUS [WHY]
    if [ "$2" -eq 0 ]; then pass "$1"; else fail "$1" "${3:-}"; fi
}

if ! command -v tmux >/dev/null 2>&1; then skip tui "tmux is not installed"; exit 0; fi
if [ ! -d "$shared/models" ]; then skip tui "$shared/models not found (shared test data)"; exit 0; fi
if ! command -v python3 >/dev/null 2>&1; then skip tui "python3 is not installed"; exit 0; fi
if [ ! -x "$bin" ]; then fail tui "$bin is not built"; exit 1; fi
stories=$shared/models/stories260K.gguf
gqa=$shared/models/llama-gqa-tiny-f32.gguf
for f in "$stories" "$gqa"; do
    if [ ! -f "$f" ]; then skip tui "$f not found"; exit 0; fi
done

sock=llmscope-tui-test-$$
tmp=$(mktemp -d)
tm() { tmux -u -L "$sock" -f /dev/null "$@"; }
cleanup() {
    tm kill-server >/dev/null 2>&1
    rm -f "${TMUX_TMPDIR:-/tmp}/tmux-$(id -u)/$sock" # the server leaves its socket behind
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP # the EXIT trap then cleans up
# a session that lives as long as the test, so the server never exits between windows
tm new-session -d -s keeper sleep 3600
# SGR sequences that set a colour (30-38, 40-48, 90-97, 100-107); 39/49 only reset
colour_re=$'\e\\[([0-9;]*;)?(3[0-8]|4[0-8]|9[0-7]|10[0-7])(;[0-9;]*)?m'

# start NAME COLS ROWS [VAR=VALUE...] -- ARGS...: the binary in a new window (on the CPU
# engine: fast and the same everywhere); when it exits the pane shows "EXITED <status>"
# (and stays, so the screen can be read).
start() {
    local name=$1 w=$2 h=$3
    shift 3
    local envs=()
    while [ "$1" != "--" ]; do envs+=("$1"); shift; done
    shift
    tm new-session -d -s "$name" -x "$w" -y "$h" \
        env LANG=C.UTF-8 LC_ALL=C.UTF-8 TERM=tmux-256color ${ASAN_LOG:+ASAN_OPTIONS=log_path=$ASAN_LOG:detect_leaks=1} "${envs[@]}" \
        bash -c '"$@" 2>&1; echo "EXITED $?"; sleep 600' _ "$bin" --backend cpu "$@"
}
keys() { local name=$1; shift; tm send-keys -t "$name" "$@"; }
cap() { tm capture-pane -p -t "$1"; }
# the panes: left of the vertical rule is the chat, right of it attention/probabilities
chat_text() { cap "$1" | awk -F'│' 'NF > 1 { print $1 }' | sed 's/ *$//' | tr '\n' ' ' | tr -s ' '; }
right() { cap "$1" | awk -F'│' 'NF > 1 { print $2 }'; }
heat_rows() { right "$1" | grep -E '^h[0-9]+ '; }
zoom_rows() { right "$1" | sed -n '/zoomed/,/^├/p' | sed '1d'; }
title() { right "$1" | grep -m1 '^Attention'; }
chosen() { right "$1" | grep -m1 '▶'; }
# wait_for NAME REGEX [SECONDS]: until the screen matches
wait_for() {
    local name=$1 re=$2 t=${3:-20} i=0
    while [ "$i" -lt $((t * 5)) ]; do
        cap "$name" | grep -qE -- "$re" && return 0
        sleep 0.2
        i=$((i + 1))
    done
    return 1
}
# wait_gone NAME REGEX [SECONDS]: until the screen no longer matches
wait_gone() {
    local name=$1 re=$2 t=${3:-10} i=0
    while [ "$i" -lt $((t * 5)) ]; do
        cap "$name" | grep -qE -- "$re" || return 0
        sleep 0.2
        i=$((i + 1))
    done
    return 1
}
# wait_until SECONDS COMMAND...: until the command succeeds
wait_until() {
    local t=$1 i=0
    shift
    while [ "$i" -lt $((t * 5)) ]; do
        "$@" && return 0
        sleep 0.2
        i=$((i + 1))
    done
    return 1
}
# click NAME ROW COL (0-based): an X10 mouse press and release, as xterm sends them
click() {
    local b x y
    x=$(printf "\\$(printf '%03o' $(($3 + 33)))")
    y=$(printf "\\$(printf '%03o' $(($2 + 33)))")
    keys "$1" -l $'\e[M '"$x$y"
    keys "$1" -l $'\e[M#'"$x$y"
}

# ---- completion mode: stories260K, greedy from BOS ----
S=story
start $S 200 50 NO_COLOR=1 -- -m "$stories" --temp 0 -n 30
if ! wait_for $S 'TYPE \|' 20; then
    fail tui_starts "the interface did not come up"; cap $S | sed 's/^/    /'; exit 1
fi
pass tui_starts
keys $S Enter # an empty line in completion mode: continue from BOS
wait_for $S 'reply: 30 tokens' 30
text=$(chat_text $S)
case $text in
*"Once upon a time, there was a little girl named Lily"*) pass completion_greedy_story ;;
*) fail completion_greedy_story "chat shows: $text" ;;
esac
# BOS + 30 generated tokens; the last record is at position 30, so its row has 30 keys
cap $S | grep -q 'ctx 31/' ; check completion_context_count $? "status: $(cap $S | tail -1)"

t=$(title $S)
[[ $t == *"layer 0/5"* && $t == *"8 heads x 30 keys"* ]]; check attention_title_stories "$?" "$t"
labels=$(heat_rows $S | awk '{ print $1, $2 }' | tr '\n' ',')
[ "$labels" = "h0 kv0,h1 kv0,h2 kv1,h3 kv1,h4 kv2,h5 kv2,h6 kv3,h7 kv3," ]
check attention_rows_are_query_heads_with_kv_groups $? "$labels"
ncols=$(right $S | grep -m1 '^keys' | awk '{ print NF - 1 }')
[ "$ncols" = 30 ]; check attention_one_column_per_key $? "label columns: $ncols"
heat_rows $S | grep -q '[░▒▓█]'; check no_colour_heatmap_uses_shades $?
! tm capture-pane -e -p -t $S | grep -qE "$colour_re"; check no_colour_sends_no_colour_codes $?

# layer and head change the picture
before=$(heat_rows $S)
keys $S F3
wait_for $S 'Attention  layer 1/5' 5
after=$(heat_rows $S)
[ -n "$after" ] && [ "$before" != "$after" ]; check layer_change_changes_heatmap $?
zb=$(zoom_rows $S)
keys $S F5
wait_for $S 'head 1/8' 5
za=$(zoom_rows $S)
[ -n "$za" ] && [ "$zb" != "$za" ]; check head_change_changes_zoom $?
keys $S Tab
wait_for $S 'INSPECT' 5
keys $S ']' '='
wait_for $S 'layer 2/5  head 2/8 \(kv 1\)' 5; check inspect_keys_change_layer_and_head $?

# the cursor over an earlier token shows that step: the first story token " Once" was the
# greedy pick (rank 1) and saw one key (BOS); " upon" saw two
keys $S Home
wait_for $S '8 heads x 1 keys' 5
c=$(chosen $S)
[[ $c == *"·Once"* ]] && right $S | grep -q 'rank 1$'; check cursor_first_token_shows_its_step $? "chosen: $c"
keys $S Right
wait_for $S '8 heads x 2 keys' 5
c=$(chosen $S)
[[ $c == *"·upon"* ]]; check cursor_next_token_shows_its_step $? "chosen: $c"
# a click on "Lily" in the chat selects one of its tokens
pos=$(cap $S | awk -F'│' '{ i = index($1, "Lily"); if (i) { print NR - 1, i - 1; exit } }')
if [ -n "$pos" ]; then
    click $S $pos
    lily_chosen() { c=$(chosen $S); [[ $c == *"·L"* ]]; } # "Lily" is " L" "ily" in this vocabulary
    wait_until 5 lily_chosen; check mouse_click_selects_token $? "chosen: $c"
else
    fail mouse_click_selects_token "Lily not found on screen"
fi
keys $S Escape

# small terminal: chat only, with a hint; back to full size: every pane again
tm resize-window -t $S -x 60 -y 20
wait_for $S 'panes need 80x24' 5 && ! cap $S | grep -q 'Attention' && [[ $(cap $S | tr -d '\n') == *"Once upon"* ]]
check resize_small_shows_chat_only $?
tm resize-window -t $S -x 200 -y 50
wait_for $S 'Attention  layer' 5 && wait_for $S 'Next token' 2; check resize_back_shows_panes $?
keys $S F2
wait_for $S 'layer 1/5' 5; check keys_work_after_resize $?

# scale, sink and sampler views
heat_lin=$(heat_rows $S)
keys $S F6
wait_for $S ' log( |$)' 5 && [ "$(heat_rows $S)" != "$heat_lin" ]; check log_scale_changes_heatmap $?
keys $S F6 F7
wait_for $S 'keys \(sink hidden\)' 5 && ! right $S | grep -q '^keys +<s'; check sink_can_be_hidden $?
keys $S F7
bars() { right $S | sed -n '/^Next token/,$p' | grep -cE '[0-9.]+%$'; }
nb=$(bars)
keys $S F8 # greedy (--temp 0): after the sampler, all the probability is on the chosen token
after_is_one() { [ "$(bars)" = 1 ] && chosen $S | grep -q '100.0%$'; }
wait_until 5 after_is_one && [ "$nb" -gt 1 ]; check after_sampler_view_of_greedy_pick $? "bars before: $nb"
keys $S F8

# /save writes the conversation as JSON Lines with every record
keys $S "/save $tmp/story.jsonl" Enter
wait_for $S 'saved 31 tokens' 5; check save_reports $?
python3 - "$tmp/story.jsonl" <<'EOF'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
head, toks = lines[0], [l for l in lines[1:] if l.get("type") == "token"]
assert head["llmscope"] == "conversation" and head["version"] == 1 and head["chat"] is False, head
assert len(toks) == 31, len(toks)
gen = [t for t in toks if t["generated"]]
assert len(gen) == 30, len(gen)
assert "".join(t["text"] for t in gen).startswith(" Once upon a time, there was a little girl named Lily"), gen[:5]
assert all(t["top"] and t["top"][0]["id"] == t["id"] and "prob_after" in t for t in gen)  # greedy: the top token
EOF
check save_writes_json_lines $?

# commands: a good value shows in the status bar, a bad one is refused with a message
keys $S "/temp 0.5" Enter
wait_for $S '\| T0.5 k40' 5; check command_sets_temperature $?
keys $S "/top-k lots" Enter
wait_for $S 'top-k takes a whole number' 5; check command_rejects_bad_value $?
keys $S F1
wait_for $S 'llmscope help' 5 && keys $S x && wait_gone $S 'llmscope help' 5; check help_opens_and_closes $?

# Ctrl-D quits and gives the terminal back (the alternate screen is gone)
keys $S C-d
wait_for $S '^EXITED 0' 10 && ! cap $S | grep -q 'Attention'; check quit_restores_terminal $?
tm kill-session -t $S

# ---- chat mode: llama-gqa-tiny with its ChatML template ----
C=chat
start $C 160 40 -- -m "$gqa" --temp 0 -n 12
wait_for $C 'TYPE \|' 20
keys $C -l "Hello 안녕하세요 😀 there"
keys $C Enter
wait_for $C 'reply: 12 tokens' 30; check chat_reply_finishes $?
text=$(chat_text $C)
[[ $text == *"You Hello 안녕하세요 😀 there"* && $text == *"Assistant"* ]]; check chat_shows_turns $? "$text"
t=$(title $C)
[[ $t == *"layer 0/2"* && $t == *"4 heads x"* ]]; check attention_title_gqa $? "$t"
labels=$(heat_rows $C | awk '{ print $1, $2 }' | tr '\n' ',')
[ "$labels" = "h0 kv0,h1 kv0,h2 kv1,h3 kv1," ]; check attention_rows_gqa $? "$labels"
tm capture-pane -e -p -t $C | grep -q $'\e\\[[0-9;]*48;5;'; check colour_heatmap_uses_256_colours $?
# wide characters: every row's rule sits at the same display column (widths by Python)
cap $C | python3 -c '
import sys, unicodedata
def width(s): return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in s)
cols = {width(l.split("\u2502")[0]) for l in sys.stdin.read().splitlines() if "\u2502" in l}
sys.exit(0 if len(cols) == 1 else 1)'
check wide_characters_keep_alignment $?

# a multi-line paste does not send; Enter then does
tm set-buffer -b p "first line"$'\n'"second line"
ctx_now() { cap "$1" | grep -o 'ctx [0-9]*' | awk '{ print $2 }'; }
n0=$(ctx_now $C)
tm paste-buffer -p -b p -t $C
wait_for $C '^  second line' 5 && cap $C | grep -q '^> first line' && sleep 0.5 && [ "$(ctx_now $C)" = "$n0" ]
check multiline_paste_stays_in_input $? # in the input, not sent: the context did not grow
keys $C Enter
sent_as_one_message() { cap $C | awk -F'│' '{print $1}' | grep -A1 '^first line' | grep -q '^second line'; }
wait_until 30 sent_as_one_message && wait_for $C 'reply: 12 tokens' 30
check multiline_paste_sends_on_enter $?
tm kill-session -t $C

# ---- a long reply streams, and Ctrl-C stops it without quitting ----
L=long
start $L 120 36 -- -m "$gqa" --temp 0 --ctx 4096
wait_for $L 'TYPE \|' 20
keys $L "Tell me a story" Enter
ok=1
if wait_for $L 'GENERATING' 20; then
    n1=$(ctx_now $L)
    sleep 1
    n2=$(ctx_now $L)
    cap $L | grep -q GENERATING && [ "$n2" -gt "$n1" ] && ok=0
fi
check reply_streams_while_generating $ok "ctx ${n1:-?} -> ${n2:-?}"
keys $L C-c
wait_for $L 'stopped after [0-9]+ tokens' 5 && ! cap $L | grep -q 'EXITED'; check ctrl_c_stops_reply_not_app $?
# SIGTERM also restores the terminal
pid=$(pgrep -P "$(tm display -p -t $L '#{pane_pid}')" -x llmscope | head -1)
if [ -n "$pid" ]; then
    kill -TERM "$pid"
    wait_for $L '^EXITED 1' 10 && ! cap $L | grep -q 'Attention'; check sigterm_restores_terminal $?
else
    fail sigterm_restores_terminal "llmscope process not found"
fi
tm kill-session -t $L

# ---- /load replays a saved conversation; saving it again and loading that works too ----
start load 200 50 -- -m "$stories" --temp 0.9 -n 30
wait_for load 'TYPE \|' 20
keys load "/load $tmp/story.jsonl" Enter
wait_for load 'loaded 1 message' 20 && [[ $(chat_text load) == *"Once upon a time, there was a little girl named Lily"* ]] &&
    cap load | grep -q 'ctx 31/'
check load_replays_conversation $?
keys load "/save $tmp/again.jsonl" Enter
wait_for load 'saved 31 tokens' 5
keys load "/clear" Enter
wait_for load 'conversation cleared' 5
keys load "/load $tmp/again.jsonl" Enter
wait_for load 'loaded 1 message' 20 && [[ $(chat_text load) == *"Once upon a time, there was a little girl named Lily"* ]] &&
    cap load | grep -q 'ctx 31/'
check load_of_a_loaded_conversation $?
printf '{"llmscope":"conversation","version":1}\n{"type":"input","text":"x"}\n{"type":"token","id":99999999,"generated":true}\n' > "$tmp/badid.jsonl"
keys load "/load $tmp/badid.jsonl" Enter
wait_for load 'badid.jsonl:3: token id is not in' 5 && [[ $(chat_text load) == *"girl named Lily"* ]]
check load_rejects_bad_file_and_keeps_conversation $?
tm kill-session -t load

# ---- errors before the screen starts: one clear line, non-zero status ----
one_error() { # NAME ARGS...: the pane shows one "llmscope:" line then EXITED 1
    local name=$1; shift
    start "$name" 250 20 -- "$@" # wide: a long message must not wrap
    wait_for "$name" '^EXITED' 20
    local out
    out=$(cap "$name" | grep -v '^$')
    [ "$(echo "$out" | grep -c '^llmscope: ')" = 1 ] && [ "$(echo "$out" | wc -l)" = 2 ] &&
        echo "$out" | grep -q '^EXITED [1-9]'
    local rc=$?
    tm kill-session -t "$name"
    return $rc
}
one_error bad -m "$tmp/no-such-model.gguf"; check bad_model_path_one_line $?
printf 'this is not a model\n' > "$tmp/text.gguf"
one_error text -m "$tmp/text.gguf"; check unsupported_file_one_line $?
head -c 100000 "$stories" > "$tmp/truncated.gguf"
one_error trunc -m "$tmp/truncated.gguf"; check truncated_file_one_line $?

# ---- terminals without colour, or without cursor addressing ----
start mono 120 36 TERM=xterm-mono -- -m "$stories" --temp 0 -n 20
wait_for mono 'TYPE \|' 20
keys mono Enter
wait_for mono 'reply: 20 tokens' 30
heat_rows mono | grep -q '[░▒▓█]' && ! tm capture-pane -e -p -t mono | grep -qE "$colour_re"
check mono_terminal_uses_shades $?
tm kill-session -t mono
start eight 120 36 -- -m "$stories" --temp 0 -n 20 --color 8
wait_for eight 'TYPE \|' 20
keys eight Enter
wait_for eight 'reply: 20 tokens' 30
e=$(tm capture-pane -e -p -t eight)
heat_rows eight | grep -q '[░▒▓█]' && echo "$e" | grep -qE "$colour_re" && ! echo "$e" | grep -qE $'\e\\[[0-9;]*[34]8;5;'
check eight_colours_use_shades_in_ansi_colours $?
tm kill-session -t eight
start dumb 100 20 TERM=dumb -- -m "$stories"
wait_for dumb '^EXITED 1' 20 && cap dumb | grep -q "^llmscope: .*cannot move the cursor"
check dumb_terminal_refused_clearly $?
exit 0
