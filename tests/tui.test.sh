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

. tests/tmux_lib.sh
tmux_begin tui
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
# the panes: left of the vertical rule is the chat, right of it attention/probabilities
chat_text() { cap "$1" | awk -F'│' 'NF > 1 { print $1 }' | sed 's/ *$//' | tr '\n' ' ' | tr -s ' '; }
# heatmap rows, their labels as short as the narrowest screen has them ("head 5  kv 2
# previous" where there is room for words, "h5 kv2 prev" otherwise): "h5 kv2 previous"
heat_rows() { right "$1" | grep -E '^(h[0-9]+ |head [0-9]+  )' | sed -E 's/^head ([0-9]+)  kv ([0-9]+)  /h\1 kv\2 /; s/^head ([0-9]+)  kv ([0-9]+)/h\1 kv\2/'; }
zoom_rows() { right "$1" | sed -n '/zoomed/,/^├/p' | sed '1d'; }
title() { right "$1" | grep -m1 '^Attention'; }
chosen() { right "$1" | grep -m1 '▶'; }
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
right $S | grep -q '^head 0  kv 0 ' && right $S | grep -qE '^head 0 looks most at .+ \(position [0-9]+, marked in the chat\): [0-9]+%'
check attention_labels_in_words_where_there_is_room $?
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
wait_for $S '\| temperature 0.5, top-k 40' 5; check command_sets_temperature $?
keys $S "/top-k lots" Enter
wait_for $S 'top-k takes a whole number' 5; check command_rejects_bad_value $?
keys $S F1
wait_for $S 'llmscope help' 5 && keys $S x && wait_gone $S 'llmscope help' 5; check help_opens_and_closes $?

# Ctrl-D quits and gives the terminal back (the alternate screen is gone)
keys $S C-d
wait_for $S '^EXITED 0' 10 && ! cap $S | grep -q 'Attention'; check quit_restores_terminal $?
tm kill-session -t $S

# completion mode cannot drop anything: a reply that fills the context stops and says so
start full 120 30 NO_COLOR=1 -- -m "$stories" --temp 0 -n 100 --ctx 40
wait_for full 'TYPE \|' 20
keys full Enter
wait_for full 'it stops here because the context is full \(40 tokens\)' 20 && cap full | grep -q 'ctx 40/40'
check completion_says_the_context_is_full $?
tm kill-session -t full

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
# bracketed paste is on while the app runs: a paste ending in a newline is not sent either
tm set-buffer -b p2 "third line"$'\n'"fourth line"$'\n'
n0=$(ctx_now $C)
tm paste-buffer -p -b p2 -t $C
wait_for $C '^  fourth line' 5 && sleep 0.5 && cap $C | grep -q '^> third line' && [ "$(ctx_now $C)" = "$n0" ] &&
    ! cap $C | grep -q GENERATING
check paste_with_trailing_newline_is_not_sent $? "ctx $n0 -> $(ctx_now $C)"
keys $C C-c
# /system without a text shows the system prompt instead of removing it
keys $C "/system" Enter
wait_for $C 'no system prompt of yours' 5; check system_without_text_shows_it $?
keys $C "/system Answer in French." Enter
wait_for $C 'system prompt set' 5
keys $C "/system" Enter
wait_for $C 'system prompt: Answer in French\.' 5; check system_shows_the_one_set $?
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
# true colour: a direct-colour terminfo entry (Debian's ncurses-term has xterm-direct) and
# COLORTERM=truecolor make the heatmap use 24-bit colours between the palette's steps
if infocmp xterm-direct >/dev/null 2>&1; then
    start truecol 120 36 TERM=xterm-direct COLORTERM=truecolor -- -m "$stories" --temp 0 -n 20 --color true
    wait_for truecol 'TYPE \|' 20
    keys truecol Enter
    wait_for truecol 'reply: 20 tokens' 30
    e=$(tm capture-pane -e -p -t truecol)
    # 24-bit backgrounds that no 256-colour palette entry has: on a direct-colour terminal
    # the 256-colour mode also writes 48;2;r;g;b, but only with the palette's values
    echo "$e" | python3 -c '
import re, sys
cube = {0, 95, 135, 175, 215, 255}
grey = {8 + 10 * i for i in range(24)}
basic = {0, 128, 192, 255}
def palette(c):
    return set(c) <= cube or set(c) <= basic or (c[0] == c[1] == c[2] and c[0] in grey)
rgb = {tuple(map(int, m)) for m in re.findall(r"48;2;(\d+);(\d+);(\d+)", sys.stdin.read())}
sys.exit(0 if sum(not palette(c) for c in rgb) >= 3 else 1)'
    check true_colour_heatmap_uses_rgb $?
    tm kill-session -t truecol
else
    skip true_colour_heatmap_uses_rgb "no xterm-direct terminfo entry (Debian package ncurses-term)"
fi
start dumb 100 20 TERM=dumb -- -m "$stories"
wait_for dumb '^EXITED 1' 20 && cap dumb | grep -q "^llmscope: .*cannot move the cursor"
check dumb_terminal_refused_clearly $?
# ---- why this token? the why card, branches, breakpoints, head roles, grounding ----
# What the headless CLI's --trace says about the same runs is the reference: it reaches the
# session through another path (no TUI), and each line has the token's probability,
# entropy, rank, margin, greedy choice and blame.
"$bin" -m "$stories" --backend cpu --temp 0 -n 30 -p "" --trace "$tmp/greedy.jsonl" >/dev/null 2>&1
"$bin" -m "$stories" --backend cpu --temp 1 -n 30 -p "" --trace "$tmp/t1.jsonl" >/dev/null 2>&1
sheet() { right "$1"; } # an open sheet covers the right-hand panes
W=why
start $W 200 60 NO_COLOR=1 -- -m "$stories" --temp 0 -n 30
wait_for $W 'TYPE \|' 20
keys $W Enter
wait_for $W 'reply: 30 tokens' 30
keys $W Tab
wait_for $W 'INSPECT' 5
keys $W Home Right
wait_for $W '8 heads x 2 keys' 5
keys $W w
wait_for $W 'Why ·upon\?  position 2, sampled' 5; check why_card_opens_on_the_cursor_token $?
sheet $W > "$tmp/card.txt"
python3 - "$tmp/card.txt" "$tmp/greedy.jsonl" <<'EOF'
import json, re, sys
card = open(sys.argv[1], encoding="utf-8").read()
t = [json.loads(l) for l in open(sys.argv[2], encoding="utf-8")][1]  # position 2, " upon"
vis = lambda s: s.replace(" ", "\u00b7").replace("\n", "\u21b5")
def pct(p): return "%.1f%%" % (100 * p) if p >= 0.001 else "<0.1%"
def need(what, cond):
    if not cond: sys.exit("card lacks %s" % what)
# the choice, against the trace: rank, probability, margin to the runner-up, entropy
need("choice", "chosen %s  rank %d  p %s" % (vis(t["text"]), t["rank"], pct(t["prob"])) in card)
runner = [c for c in t["top_before"] if c["id"] != t["id"]][0]
m = 100 * t["margin"]  # in words, as rounded: never "-0.0 points"
said = "tied with" if abs(m) < 0.05 else "%.1f points ahead of" % m if m > 0 else "%.1f points behind" % -m
need("margin", "margin %s the runner-up %s %s" % (said, vis(runner["text"]), pct(runner["prob"])) in card)
need("entropy", "entropy %.2f nats before the sampler, %.2f after" % (t["entropy"], t["entropy_sampled"]) in card)
# the top candidates before the sampler, in order, and the one left after it (greedy)
for i, c in enumerate(t["top_before"][:10]):
    need("candidate %d" % (i + 1), re.search(r"^ *%d %s +%s" % (i + 1, re.escape(vis(c["text"])), re.escape(pct(c["prob"]))), card, re.M))
need("after the sampler", re.search(r"^ *1 ·upon +98\.3% +1 ·upon +100\.0%", card, re.M))
need("blame", "the model's top choice: greedy decoding picks the same token" in card)
# grounding: the only context is BOS (template), so nothing the user supplied was looked at
need("grounding", "0% on what was supplied" in card)
# sources: position 2 sees keys 0 and 1 only, and the shares of each line add up to 1
for label in ["all layers", "rollout"] + ["layer %d" % l for l in range(5)]:
    line = re.search(r"^%s +(.*)$" % label, card, re.M)
    need("sources of " + label, line)
    src = re.findall(r"@(\d+) (\d+)%", line.group(1))
    need("keys of " + label, {int(k) for k, _ in src} <= {0, 1} and abs(sum(int(w) for _, w in src) - 100) <= 2)
# the logit lens: one row per layer plus the embedding; its last entry is the model's own
# distribution, so its top token and probability are the trace's
need("lens rows", all(re.search(r"^[* ] %s " % re.escape(l), card, re.M) for l in ["embedding"] + ["layer %d" % i for i in range(4)]))
need("lens output row", re.search(r"^\* layer 4 \(out\) +·upon +%s +1 +%s" % (re.escape(pct(t["prob"])), re.escape(pct(t["prob"]))), card, re.M))
need("commit depth", re.search(r"^commit depth \d: ", card, re.M))
EOF
check why_card_shows_choice_candidates_sampler_grounding_sources_lens $?
# moving the cursor explains the next token
keys $W Right
wait_for $W 'Why ·a\?  position 3' 5; check why_card_follows_the_cursor $?
keys $W Escape
wait_gone $W 'Why ·a\?' 5; check why_card_closes $?

# on the Vulkan engine the card's logit lens is computed on the GPU (engine_ops.lens):
# the same rows, the output row the trace's distribution, the same commit depth
if "$bin" devices 2>/dev/null | grep -q '^ *[0-9]'; then
    WV=whyvk
    start $WV 200 60 NO_COLOR=1 -- -m "$stories" --temp 0 -n 30 --backend vulkan
    wait_for $WV 'TYPE \|' 30
    keys $WV Enter
    wait_for $WV 'reply: 30 tokens' 60
    keys $WV Tab
    wait_for $WV 'INSPECT' 5
    keys $WV Home Right
    wait_for $WV '8 heads x 2 keys' 5
    keys $WV w
    wait_for $WV 'Why ·upon\?  position 2, sampled' 10
    sheet $WV > "$tmp/card_vk.txt"
    python3 - "$tmp/card_vk.txt" "$tmp/card.txt" "$tmp/greedy.jsonl" <<'EOF'
import json, re, sys
gpu, cpu = open(sys.argv[1], encoding="utf-8").read(), open(sys.argv[2], encoding="utf-8").read()
t = [json.loads(l) for l in open(sys.argv[3], encoding="utf-8")][1]
def pct(p): return "%.1f%%" % (100 * p) if p >= 0.001 else "<0.1%"
if "computing" in gpu: sys.exit("the lens was deferred on the GPU")
if not all(re.search(r"^[* ] %s " % re.escape(l), gpu, re.M) for l in ["embedding"] + ["layer %d" % i for i in range(4)]):
    sys.exit("lens rows missing")
if not re.search(r"^\* layer 4 \(out\) +·upon +%s +1 +%s" % (re.escape(pct(t["prob"])), re.escape(pct(t["prob"]))), gpu, re.M):
    sys.exit("lens output row differs from the trace")
depth = lambda card: re.search(r"^commit depth .*$", card, re.M).group(0)
if depth(gpu) != depth(cpu): sys.exit("commit depth: GPU %r, CPU %r" % (depth(gpu), depth(cpu)))
EOF
    check why_card_lens_on_the_gpu $?
    tm kill-session -t $WV 2>/dev/null
else
    skip why_card_lens_on_the_gpu "no Vulkan device"
fi


# the grounding meter: one cell per reply token. With nothing supplied (BOS only) every
# token's grounding is 0% (the lowest bar), except the first one's: it could only look at
# BOS, which is template text, so it has none (a dot).
meter=$(cap $W | head -1 | awk -F'│' '{ print $1 }')
python3 -c '
import sys
m = sys.argv[1]
cells = [c for c in m[len("grounding "):] if c in "\u00b7\u2581\u2582\u2583\u2584\u2585\u2586\u2587\u2588!"]
sys.exit(0 if m.startswith("grounding ") and m.rstrip().endswith(" 0%") and len(cells) == 30 and cells[0] == "\u00b7"
         and all(c in "\u2581!" for c in cells[1:]) else 1)' "$meter"
check grounding_sparkline_one_cell_per_token $? "$meter"

# looking for the bad token: the reply's summary line names its least likely and most
# unsure tokens (the trace's), and n walks the cursor from the least likely token up
read -r lo1 lo2 lo_text lo_p hi_pos hi_h < <(python3 -c '
import json, sys
t = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")][:-0 or None]
t = [x for x in t if not x["eog"]]
by_p = sorted(t, key=lambda x: (x["prob"], x["pos"]))
hi = max(t, key=lambda x: (x["entropy"], -x["pos"]))
pct = lambda p: "%.1f%%" % (100 * p) if p >= 0.001 else "<0.1%"
print(by_p[0]["pos"], by_p[1]["pos"], by_p[0]["text"].replace(" ", "\u00b7"), pct(by_p[0]["prob"]), hi["pos"], "%.2f" % hi["entropy"])' "$tmp/greedy.jsonl")
[[ $(chat_text $W) == *"least likely $lo_text $lo_p at $lo1, most unsure"*"$hi_h nats at $hi_pos"* ]]
check reply_summary_names_the_least_likely_token $? "want $lo_text $lo_p at $lo1, $hi_h at $hi_pos: $(chat_text $W | grep -o 'least likely.*')"
keys $W Escape Tab n
wait_for $W "cursor at $lo1 " 5; first=$?
keys $W n
wait_for $W "cursor at $lo2 " 5 && [ $first = 0 ]; check lowest_key_walks_the_least_likely_tokens $? "want $lo1 then $lo2: $(cap $W | tail -1)"
# a click on an attention source in the why card inspects that token
keys $W Home Right w
wait_for $W 'Why ·upon\?  position 2' 5
at=$(cap $W | awk -F'│' '$2 ~ /^all layers/ { print NR - 1, length($1) + 1 + 12; exit }')
if [ -n "$at" ]; then
    click $W $at
    wait_for $W 'Why .*\?  position [01],' 5 && wait_for $W 'cursor at [01] ' 5; check why_card_source_click_moves_the_cursor $?
else
    fail why_card_source_click_moves_the_cursor "no 'all layers' line on screen"
fi
keys $W Escape Escape
wait_gone $W 'Why ' 5 && wait_for $W '^ TYPE \|' 5

# head roles label every row of the heatmap; a filter shows the heads of one role only
roles=$(heat_rows $W | awk '{ print $3 }')
role=$(echo "$roles" | grep -v '^unclear$' | head -1)
echo "$roles" | grep -qvE '^(previous|induction|sink|broad|unclear)$'; all_labelled=$?
[ "$(echo "$roles" | wc -l)" = 8 ] && [ $all_labelled = 1 ] && [ -n "$role" ]; check head_roles_label_heatmap_rows $? "$(echo $roles)"
n_role=$(echo "$roles" | grep -c "^$role\$")
keys $W Escape "/heads $role" Enter
filtered() { [ "$(heat_rows $W | wc -l)" = "$n_role" ] && ! heat_rows $W | awk '{ print $3 }' | grep -qv "^$role\$"; }
wait_until 5 filtered && title $W | grep -q "role $role: $n_role"; check head_role_filter_shows_one_role $? "$role x$n_role: $(title $W)"
keys $W "/heads all" Enter
wait_until 5 eval '[ "$(heat_rows $W | wc -l)" = 8 ]'; check head_role_filter_off $?

# fork and probe from " upon": 8 continuations, counted by how many share each
keys $W Tab
wait_for $W 'INSPECT' 5
keys $W Home Right p
wait_for $W 'Probe: 8 continuations from position 2' 20
sum=$(sheet $W | grep -oE '^ *[0-9]+x ' | tr -dc '0-9\n' | paste -sd+ | bc)
sheet $W | grep -qE '^[0-9] distinct of 8' && [ "$sum" = 8 ]; check probe_samples_eight_continuations $? "sum $sum"
keys $W Escape

# a branch at " upon" with the runner-up " there" (the chooser starts on it): what follows
# must be the greedy continuation of BOS " Once" " there", which the headless CLI computes
# on its own from the text "Once there" (the same two tokens: checked with tokenize)
keys $W b
wait_for $W 'branch: Up/Down' 5
keys $W Enter
wait_for $W 'reply: 30 tokens' 20 && ! cap $W | grep -q GENERATING; branched=$?
keys $W "/save $tmp/branch.jsonl" Enter
wait_for $W 'saved 31 tokens' 5
"$bin" tokenize -m "$stories" --ids "Once there" > "$tmp/ids.txt" 2>&1
"$bin" -m "$stories" --backend cpu --temp 0 -n 28 -p "Once there" --trace "$tmp/branch_cli.jsonl" >/dev/null 2>&1
python3 - "$tmp/branch.jsonl" "$tmp/branch_cli.jsonl" "$tmp/ids.txt" "$tmp/greedy.jsonl" <<'EOF'
import json, sys
toks = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")][1:]
reply = [t["id"] for t in toks if t.get("segment") == "assistant"]
cli = [json.loads(l)["id"] for l in open(sys.argv[2], encoding="utf-8")]
prompt = [int(x) for x in open(sys.argv[3]).read().split()]
greedy = [json.loads(l) for l in open(sys.argv[4], encoding="utf-8")]
runner_up = greedy[1]["top_before"][1]["id"]  # " there" after " Once"
assert prompt == [greedy[0]["id"], runner_up], (prompt, runner_up)
assert reply[:2] == prompt, reply[:2]
assert reply[2:] == cli, (reply[2:], cli)
EOF
[ $branched = 0 ]; check branch_continues_with_the_chosen_alternative $?
[[ $(chat_text $W) == *"Once there"* ]] && title $W >/dev/null && cap $W | grep -q '| branch 1 of 2'; check branch_shown_in_chat_and_status $?
keys $W "/branches" Enter
wait_for $W 'Branches \(2\)' 5 && sheet $W | grep -q '^   0 the first version' && sheet $W | grep -q '^\*  1 └ ·there for ·upon @2'
check branch_list_shows_the_tree $?
keys $W Up Enter
wait_for $W 'on branch 0 \(31 tokens\)' 10 && [[ $(chat_text $W) == *"Once upon a time, there was a little girl named Lily"* ]]
check branch_switch_back_to_the_first $?
keys $W "/switch 1" Enter
wait_for $W 'on branch 1 \(31 tokens\)' 10
keys $W "/save $tmp/branch_again.jsonl" Enter
wait_for $W 'saved 31 tokens' 5
python3 -c '
import json, sys
ids = lambda p: [json.loads(l).get("id") for l in open(p, encoding="utf-8")][1:]
sys.exit(0 if ids(sys.argv[1]) == ids(sys.argv[2]) else 1)' "$tmp/branch.jsonl" "$tmp/branch_again.jsonl"
check branch_switch_rebuilds_it_exactly $?
tm kill-session -t $W

# the why card names the sampler's doing: at temperature 1 the first token that is not the
# greedy one, with the stage the trace blames
read -r bpos btext bgreedy bblame < <(python3 -c '
import json, sys
for l in open(sys.argv[1], encoding="utf-8"):
    t = json.loads(l)
    if t["greedy_id"] != t["id"]:
        g = [c for c in t["top_before"] if c["id"] == t["greedy_id"]][0]
        print(t["pos"], t["text"].replace(" ", "·"), g["text"].replace(" ", "·"), t["blame"]); break' "$tmp/t1.jsonl")
start blame 200 60 NO_COLOR=1 -- -m "$stories" --temp 1 -n 30
wait_for blame 'TYPE \|' 20
keys blame Enter
wait_for blame 'reply: 30 tokens' 30
keys blame Tab Home
for ((i = 1; i < ${bpos:-1}; i++)); do keys blame Right; done
keys blame w
wait_for blame "Why $btext\\?  position $bpos, sampled" 5 && sheet blame | grep -q "greedy decoding would have chosen $bgreedy" &&
    sheet blame | grep -q "the winner changed at: $bblame"
check why_card_names_sampler_blame $? "position $bpos $btext, greedy $bgreedy, $bblame"
# a command typed while inspecting is about the token under the cursor, not the newest one
keys blame Escape
wait_gone blame "Why $btext\\?" 5
keys blame "/why" Enter
wait_for blame "Why $btext\\?  position $bpos, sampled" 5; check typed_command_acts_on_the_cursor $?
tm kill-session -t blame

# breakpoints: generation pauses at the tokens whose entropy (from the trace) is above 1.5
read -r p1 h1 p2 h2 p3 h3 < <(python3 -c '
import json, sys
hot = [(t["pos"], t["entropy"]) for t in map(json.loads, open(sys.argv[1], encoding="utf-8")) if t["entropy"] > 1.5]
print(" ".join("%d %.2f" % h for h in hot[:3]))' "$tmp/greedy.jsonl")
start brk 200 50 NO_COLOR=1 -- -m "$stories" --temp 0 -n 30
wait_for brk 'TYPE \|' 20
keys brk "/break entropy 1.5" Enter
wait_for brk 'breakpoints: entropy above 1.50 nats' 5
keys brk Enter
wait_for brk "PAUSED \\(entropy $h1 > 1.50 nats" 20 && cap brk | grep -q "ctx $((p1 + 1))/" && sleep 0.5 && cap brk | grep -q "ctx $((p1 + 1))/"
check breakpoint_pauses_generation $? "$(cap brk | tail -1)"
keys brk g
wait_for brk "PAUSED \\(entropy $h2 > 1.50 nats" 20 && cap brk | grep -q "ctx $((p2 + 1))/"; check breakpoint_continues_to_the_next $?
# the pause puts the cursor on the token (inspecting); Enter there goes on too
inspecting=1; cap brk | grep -q '^. inspecting tokens' && inspecting=0
keys brk Enter
wait_for brk "PAUSED \\(entropy $h3 > 1.50 nats" 20 && cap brk | grep -q "ctx $((p3 + 1))/" && [ $inspecting = 0 ]
check breakpoint_enter_while_inspecting_continues $?
keys brk "/break off" Enter
wait_for brk 'breakpoints off' 5
keys brk Enter # an empty line goes on after a pause
wait_for brk 'reply: 30 tokens' 20 && cap brk | grep -q 'ctx 31/'; check breakpoint_off_finishes_the_reply $?
# grounding: a reply to a supplied text pauses when it looks at it less than asked
keys brk "/clear" Enter
wait_for brk 'conversation cleared' 5
keys brk "/break grounding 0.99" Enter
wait_for brk 'grounding below 99%' 5
keys brk "Once upon a time" Enter
wait_for brk 'PAUSED \(grounding [0-9]+% < 99%' 20; check breakpoint_on_grounding $? "$(cap brk | tail -1)"
tm kill-session -t brk

# the why card of a token deep in a 2,000-token context opens on that token, and the
# status line reports how long it took (the time is printed here for the log; speed is
# asserted by no test: `llmscope bench` measures the why card)
start long2k 200 50 NO_COLOR=1 -- -m "$stories" --temp 0 -n 2000 --ctx 2048
wait_for long2k 'TYPE \|' 20
keys long2k Enter
wait_for long2k 'reply: 2000 tokens' 120
keys long2k Tab End w
wait_for long2k 'why card: [0-9.]+ ms' 10
ms=$(cap long2k | grep -oE 'why card: [0-9.]+ ms' | grep -oE '[0-9.]+')
echo "    why card at position 2000: ${ms:-?} ms"
cap long2k | grep -q 'Why .*position 2000, sampled' && [ -n "$ms" ]
check why_card_opens_at_2000_tokens $? "${ms:-?} ms"
tm kill-session -t long2k

# ---- a model's own chat template, run by the interpreter: Qwen3.5 and Gemma 4 ----
# The shared test files carry no chat template, so each real template from
# shared/chat-templates is put into a copy (tests/gguf_set_template.py): Gemma 4's into the
# shared gemma4 file itself; Qwen3.5's into llama-gqa-tiny until the qwen35 family loads.
# What /prompt shows is checked against `llmscope template` on the saved conversation.
q35t=$shared/chat-templates/Qwen3.5-4B.jinja
g4t=$shared/chat-templates/google-gemma-4-31B-it.jinja
g4m=$shared/models/gemma4-tiny-f16.gguf
if [ -f "$q35t" ] && [ -f "$g4t" ] && [ -f "$g4m" ] &&
    python3 tests/gguf_set_template.py "$gqa" "$tmp/qwen35.gguf" "$q35t" &&
    python3 tests/gguf_set_template.py "$g4m" "$tmp/gemma4.gguf" "$g4t"; then
    chat_col() { cap "$1" | awk -F'│' 'NF > 1 { print $1 }'; }
    # after_reply NAME CTX: the reply begun after the context held CTX tokens is over
    after_reply() { ! cap "$1" | grep -q GENERATING && [ "$(ctx_now "$1")" != "$2" ]; }
    Q=qwen35
    start $Q 160 40 NO_COLOR=1 -- -m "$tmp/qwen35.gguf" --temp 0 -n 12
    wait_for $Q 'TYPE \|' 20
    cap $Q | tail -1 | grep -q '| jinja *$'; check qwen35_template_run_by_interpreter $? "$(cap $Q | tail -1)"
    keys $Q "hi" Enter
    wait_for $Q 'reply: 12 tokens' 30; check qwen35_template_chat_replies $?
    # its generation prompt opens <think>: the whole reply is thinking, folded to one line
    folded() { chat_col $Q | grep -q 'thinking, 12 tokens (Tab z shows it)'; }
    folded; check thinking_block_folded $? "$(chat_col $Q | head -8)"
    keys $Q Tab End
    wait_for $Q 'INSPECT' 5
    keys_folded=$(title $Q)
    keys $Q z
    wait_for $Q 'thinking shown' 5 && ! folded && keys $Q End && sleep 0.3 &&
        [ "$(title $Q)" != "$keys_folded" ]
    check thinking_block_unfolds $? "$(title $Q) / folded: $keys_folded"
    keys $Q z
    wait_for $Q 'thinking folded' 5 && folded; check thinking_block_folds_again $?
    keys $Q Escape "/save $tmp/q35.jsonl" Enter
    wait_for $Q 'saved [0-9]+ tokens' 5
    keys $Q "/prompt" Enter
    wait_for $Q 'Prompt: the conversation as the jinja template writes it' 5
    s=$(sheet $Q)
    python3 - "$tmp/q35.jsonl" > "$tmp/q35-messages.json" <<'EOF'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
reply = "".join(l["text"] for l in lines if l.get("type") == "token" and l.get("generated") and l["segment"] == "assistant")
inputs = [l["text"] for l in lines if l.get("type") == "input"]
print(json.dumps([{"role": "user", "content": inputs[0]}, {"role": "assistant", "content": reply}]))
EOF
    want=$("$bin" template "$tmp/qwen35.gguf" --messages "$tmp/q35-messages.json" --no-generation-prompt | wc -c)
    [[ $s == *"($want bytes)"* && $s == *"<|im_start|>user↵"* && $s == *"<|im_start|>assistant↵"* && $s == *"<think>↵"* ]]
    check prompt_sheet_is_the_render $? "want $want bytes; $(echo "$s" | head -3)"
    keys $Q Escape "/think off" Enter
    wait_for $Q 'thinking off' 5
    n0=$(ctx_now $Q)
    keys $Q "again" Enter
    # enable_thinking=false: the template closes the think block itself, nothing to fold
    reply_shown() { chat_col $Q | awk '/^again/ { u = 1 } u && /^Assistant/ { a = 1; next } a && /[^ ]/ { t = 1 } END { exit !t }'; }
    wait_until 30 after_reply $Q "$n0" && ! chat_col $Q | grep -q 'thinking, ' && reply_shown
    check think_off_reaches_qwen35_template $? "$(chat_col $Q | head -12)"
    tm kill-session -t $Q

    G=gemma4
    start $G 160 40 NO_COLOR=1 -- -m "$tmp/gemma4.gguf" --temp 0 -n 12
    wait_for $G 'TYPE \|' 20
    keys $G "hi" Enter
    wait_for $G 'reply: 12 tokens' 30 && chat_col $G | grep -q '^Assistant'; check gemma4_template_chat_replies $?
    keys $G "/prompt" Enter
    wait_for $G 'Prompt: the conversation' 5
    s=$(sheet $G)
    [[ $s == *"<|turn>user↵"* && $s == *"<|turn>model↵"* && $s != *"<|think|>"* ]]; check gemma4_prompt_sheet $? "$s"
    keys $G Escape "/think on" Enter
    wait_for $G 'thinking on' 5
    n0=$(ctx_now $G)
    keys $G "again" Enter
    wait_until 30 after_reply $G "$n0"
    keys $G "/prompt" Enter
    wait_for $G 'Prompt: the conversation.*thinking on' 5 && sheet $G | grep -q '<|turn>system↵' &&
        sheet $G | grep -q '^<|think|>↵'
    check think_on_reaches_gemma4_template $? "$(sheet $G | head -5)"
    tm kill-session -t $G
else
    skip qwen35_and_gemma4_templates "shared chat templates not found, or the test model could not be written"
fi

# The 2026 families: each file chats (completion mode for the ones without a template),
# and a sliding-window layer draws the keys its window left out as such: the title names
# the layer's kind, a key outside the window is a × (not zero attention), the legend says
# so. Gemma 4's last layers read earlier layers' keys: the title says whose.
for fam in gemma2-tiny-f16 gemma3-tiny-f16 gemma4-tiny-f16 phi3-tiny-f16 llama-k-tiny-iq4_xs; do
    f=$shared/models/$fam.gguf
    if [ ! -f "$f" ]; then skip "family_$fam" "$f not found"; continue; fi
    start fam 160 48 NO_COLOR=1 -- -m "$f" --temp 0 -n 12 --color none
    wait_for fam 'TYPE \|' 20
    keys fam "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen" Enter
    wait_for fam 'reply: 1[0-9] tokens|TYPE \|.*ctx [4-9][0-9]' 60 && wait_gone fam 'GENERATING' 30
    keys fam Tab
    ok=0
    case $fam in
    gemma2*) wait_for fam 'layer 0/46 sliding 16' 5 && right fam | grep -q '×' && cap fam | grep -q '× outside the window' || ok=1 ;;
    gemma3*) wait_for fam 'layer 0/8 sliding 16' 5 && right fam | grep -q '×' || ok=1
             keys fam ']' ']' ']' ']' ']'
             wait_for fam 'layer 5/8 global' 5 || ok=1 ;;
    gemma4*) keys fam ']' ']' ']'
             wait_for fam "layer 3/5 sliding 16 reads layer 1's keys" 5 || ok=1 ;;
    *) wait_for fam 'Attention  layer 0/' 5 && ! cap fam | grep -q 'outside the window' || ok=1 ;;
    esac
    check "family_$fam" $ok "$(title fam)"
    tm kill-session -t fam
done

# /compare re-scores the conversation with another model like `llmscope replay` does on the
# CLI's trace of the same run; against the model itself the divergence is exactly zero
ktiny=$shared/models/llama-k-tiny-f32.gguf
kq4=$shared/models/llama-k-tiny-q4_0.gguf
if [ -f "$ktiny" ] && [ -f "$kq4" ]; then
    "$bin" -m "$ktiny" --backend cpu --temp 0 -n 20 -p "Once upon a time" --trace "$tmp/k.jsonl" >/dev/null 2>&1
    rep=$("$bin" replay "$tmp/k.jsonl" -m "$kq4" | tail -2)
    start cmp 200 50 NO_COLOR=1 -- -m "$ktiny" --temp 0 -n 20
    wait_for cmp 'TYPE \|' 20
    keys cmp "Once upon a time" Enter
    wait_for cmp 'reply: 20 tokens' 20
    keys cmp "/compare $kq4" Enter
    wait_for cmp 'Compare with llama-k-tiny-q4_0.gguf: 20 reply tokens' 20
    kl=$(sheet cmp | grep -oE 'mean KL\([^)]*\) [0-9.]+' | awk '{ print $NF }')
    agree=$(sheet cmp | grep -oE 'top-1 agreement [0-9]+ of [0-9]+' | awk '{ print $3 "/" $5 }')
    div=$(sheet cmp | grep -oE 'first divergence at position [0-9]+' | awk '{ print $NF }')
    rkl=$(echo "$rep" | grep -oE 'mean KL [0-9.]+' | awk '{ print $3 }')
    ragree=$(echo "$rep" | grep -oE 'agreement [0-9]+/[0-9]+' | awk '{ print $2 }')
    rdiv=$(echo "$rep" | grep -oE 'first divergence at position [0-9]+' | awk '{ print $NF }')
    [ -n "$kl" ] && [ -n "$rkl" ] && awk -v a="$kl" -v b="$rkl" 'BEGIN { exit !(a - b < 1e-4 && b - a < 1e-4 && a > 0) }' &&
        [ "$agree" = "$ragree" ] && [ "$div" = "$rdiv" ]
    check compare_matches_replay $? "TUI KL $kl agree $agree div $div; replay KL $rkl agree $ragree div $rdiv"
    keys cmp Escape "/compare $ktiny" Enter
    wait_for cmp 'Compare with llama-k-tiny-f32.gguf' 20 && sheet cmp | grep -q 'mean KL(this model || llama-k-tiny-f32.gguf) 0.0000 nats' &&
        sheet cmp | grep -q 'top-1 agreement 20 of 20 (100%)   no divergence'
    check compare_with_itself_is_zero $?
    keys cmp Escape "/compare $tmp/text.gguf" Enter
    wait_for cmp '/compare: ' 10 && ! cap cmp | grep -q EXITED; check compare_bad_file_one_line $?
    tm kill-session -t cmp
else
    skip compare_matches_replay "llama-k-tiny models not found"
fi

# ---- the shipped model (assets/): a conversation as a person has it ----
dict=assets/llmscope-dict.gguf
if [ -f "$dict" ]; then
    D=dict
    start $D 200 50 NO_COLOR=1 -- -m "$dict" --temp 0
    wait_for $D 'TYPE \|' 20
    # a reply that ends with the end-of-turn token; then a branch in it, typed in one
    # burst (b, a digit, Enter): the chooser has its choices before the next frame
    keys $D "What does apple mean?" Enter
    wait_for $D 'reply: [0-9]+ tokens' 20
    keys $D "/save $tmp/d0.jsonl" Enter
    wait_for $D 'saved [0-9]+ tokens' 5
    keys $D Tab End Left Left
    wait_for $D 'INSPECT' 5
    keys $D b 2 Enter
    wait_for $D '\| branch 1 of 2' 10 && wait_for $D 'reply: [0-9]+ tokens' 20
    burst=$?
    keys $D "/save $tmp/d1.jsonl" Enter
    wait_for $D 'saved [0-9]+ tokens' 5
    python3 - "$tmp" <<'EOF2'
import json, sys
d = sys.argv[1]
toks = lambda n: [t for t in (json.loads(l) for l in open("%s/%s.jsonl" % (d, n), encoding="utf-8")) if t.get("type") == "token"]
a, b = toks("d0"), toks("d1")
fork = next(i for i in range(min(len(a), len(b))) if a[i]["id"] != b[i]["id"])
assert b[fork]["id"] == a[fork]["top"][1]["id"], (fork, b[fork], a[fork]["top"][:2])  # the second bar
EOF2
    [ $? = 0 ] && [ $burst = 0 ]; check branch_keys_typed_in_one_burst $? "$(cap $D | tail -2 | tr '\n' ' ')"
    # back and forth: each branch comes back token for token, its end-of-turn included
    keys $D "/switch 0" Enter
    wait_for $D 'on branch 0 \(' 10 && ! cap $D | grep -q 'came out different'; sw0=$?
    keys $D "/save $tmp/d0b.jsonl" Enter
    wait_for $D 'saved [0-9]+ tokens' 5
    keys $D "/switch 1" Enter
    wait_for $D 'on branch 1 \(' 10 && ! cap $D | grep -q 'came out different'; sw1=$?
    keys $D "/save $tmp/d1b.jsonl" Enter
    wait_for $D 'saved [0-9]+ tokens' 5
    python3 - "$tmp" <<'EOF2'
import json, sys
d = sys.argv[1]
toks = lambda n: [json.loads(l) for l in open("%s/%s.jsonl" % (d, n), encoding="utf-8")][1:]
ids = lambda n: [t.get("id") for t in toks(n)]
assert ids("d0") == ids("d0b"), "branch 0 came back different"
assert ids("d1") == ids("d1b"), "branch 1 came back different"
assert ids("d0") != ids("d1")
last = toks("d0")[-1]
assert last["type"] == "token" and last["id"] == 2 and last["generated"], last  # <|im_end|>, the model's
EOF2
    [ $? = 0 ] && [ $sw0 = 0 ] && [ $sw1 = 0 ]; check branch_switch_back_and_forth_is_exact $?
    # at temperature 0 a new draw cannot differ: said, and no branch is made
    keys $D Tab End Left Left
    keys $D "/branch resample" Enter
    wait_for $D 'temperature 0 is the same token again' 5 && cap $D | grep -q '| branch 1 of 2'
    check branch_resample_at_temperature_0_refused $?
    tm kill-session -t $D
    # thirty questions in a 512-token context (set here: the model may have a longer one):
    # the oldest turns leave, the chat goes on; --trace writes every reply token, and a new
    # context (with what left) after a shift
    start $D 200 50 NO_COLOR=1 -- -m "$dict" --temp 0 --ctx 512 --trace "$tmp/dict.jsonl"
    wait_for $D 'TYPE \|' 20
    words="apple dog house tree river car book stone cloud bread chair music water light city horse green table paper
           glass fire snow money friend garden window ocean mountain doctor school"
    n_ok=0
    for w in $words; do
        keys $D "What does $w mean?" Enter
        if wait_for $D "What does $w mean\\?" 10 && wait_for $D 'reply: [0-9]+ tokens' 20; then n_ok=$((n_ok + 1)); fi
    done
    ctx=$(ctx_now $D)
    [ "$n_ok" = 30 ] && [ "$ctx" -le 512 ] && cap $D | grep -q 'What does school mean?' && ! cap $D | grep -q EXITED
    check thirty_questions_keep_going $? "$n_ok answered, ctx $ctx"
    marked=1 # the chat keeps the dropped turns, dimmed, above a rule: scroll up to it
    for i in $(seq 1 12); do
        cap $D | grep -q 'the model no longer sees the text above' && marked=0 && break
        keys $D PPage
        sleep 0.2
    done
    keys $D "/messages" Enter
    wait_for $D 'Messages: the last' 5 && right $D | grep -q 'was full: the oldest' ; said=$?
    keys $D Escape "/context" Enter
    wait_for $D 'Context window: [0-9]+ of 512 tokens' 5 && right $D | grep -qE 'Left the window \([0-9]+ turns'
    [ $? = 0 ] && [ $marked = 0 ] && [ $said = 0 ]; check dropped_turns_said_and_shown $? "marked $marked said $said"
    keys $D Escape
    # the trace is written to a temporary file and renamed over dict.jsonl on the way out
    # (a file a user keeps is never left half-written): quit, then read it
    keys $D C-d
    wait_for $D '^EXITED 0' 10
    python3 - "$tmp/dict.jsonl" <<'EOF2'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
wins = [l["context"]["window"] for l in lines if "window" in l.get("context", {})]
assert wins and wins[-1]["dropped_turns"] >= 1 and wins[-1]["shifts"] >= 1, wins[-1:]
assert sum(l["eog"] for l in lines) == 30, "one end-of-turn per answer"
EOF2
    traced=$?
    rep=$("$bin" replay "$tmp/dict.jsonl" -m "$dict" 2>&1 | tail -2)
    [ $traced = 0 ] && echo "$rep" | grep -q 'mean KL 0.000000 nats' && ! echo "$rep" | grep -q 'differ from the recorded'
    check trace_says_turns_were_dropped $? "$rep"
    tm kill-session -t $D
    start $D 200 50 NO_COLOR=1 -- -m "$dict" --temp 0
    wait_for $D 'TYPE \|' 20
    # a message longer than the left column is shown whole across the terminal
    long="$tmp/$(printf 'a%.0s' $(seq 1 110)).jsonl"
    keys $D "/load $long" Enter
    msg="cannot open $long: No such file or directory"
    wait_for $D 'cannot open' 5 && cap $D | grep -qF -- "$msg"; check long_message_shown_whole $? "${#msg} characters"
    tm kill-session -t $D
    # a narrow terminal wraps it, and /messages shows it in full
    start dictn 90 30 NO_COLOR=1 -- -m "$dict" --temp 0
    wait_for dictn 'TYPE \|' 20
    keys dictn "/load $long" Enter
    wait_for dictn 'cannot open' 5
    keys dictn "/messages" Enter
    wait_for dictn 'Messages: the last' 5 && cap dictn | tr -d '\n' | tr -d ' ' | grep -qF -- "$(echo "$msg" | tr -d ' ')"
    check messages_shows_them_in_full $?
    tm kill-session -t dictn
    # a detector of wrong answers (llmscope calibrate's file; here one written by hand):
    # the meter shows its score, /break suspicion pauses on it, the why card explains it
    cat >"$tmp/d.detector.json" <<'EOF2'
{"format": "llmscope-detector", "version": 1, "model": "llmscope-dict.gguf", "n_layer": 0, "n_head": 0,
 "features": ["min_prob", "mean_entropy"], "mean": [0.5, 1.0], "scale": [0.2, 0.5], "weights": [-1.5, 1.0],
 "bias": 0.0, "threshold": 0.6, "false_alarm_rate": 0.1, "trained_on": "a hand-written test detector"}
EOF2
    start dd 200 50 NO_COLOR=1 -- -m "$dict" --temp 0 --detector "$tmp/d.detector.json"
    wait_for dd 'TYPE \|' 20
    keys dd "/break suspicion 0" Enter
    wait_for dd 'breakpoints: suspicion 0.00 or more' 5
    keys dd "What does apple mean?" Enter
    wait_for dd 'PAUSED \(suspicion [0-9.]+ >= 0.00' 20 && chat_text dd | grep -q '^suspicion '
    check detector_breakpoint_and_meter $? "$(cap dd | tail -1)"
    keys dd w
    wait_for dd 'Suspicion: is the answer so far wrong\?' 5 && right dd | grep -q 'trained on a hand-written test detector' &&
        right dd | grep -qE '^(raised by|[0-9.]+  the detector)'
    check detector_why_card $? "$(right dd | grep -A3 Suspicion | head -4)"
    tm kill-session -t dd
    start dn 200 50 NO_COLOR=1 -- -m "$dict" --temp 0 --detector none
    wait_for dn 'TYPE \|' 20
    keys dn "/break suspicion 0.5" Enter
    wait_for dn 'this model has no detector' 5 && chat_text dn | grep -q '^grounding '
    check no_detector_keeps_the_grounding_rule $? "$(cap dn | tail -2 | head -1)"
    tm kill-session -t dn
else
    skip tui_shipped_model "$dict not found"
fi

# ---- a Qwen3.5 hybrid: Gated DeltaNet layers beside gated attention layers ----
# The tiny file (shared/README-2026.md): 8 layers, 3 and 7 attention (2 query heads, 1 kv
# head), the others DeltaNet (4 value heads over 2 key heads, value head h reading key
# head h % 2); completion mode, as it has no chat template.
hybrid=$shared/models/qwen35-tiny-f16.gguf
if [ -f "$hybrid" ]; then
    start hyb 200 50 NO_COLOR=1 -- -m "$hybrid" --temp 0 -n 12
    wait_for hyb 'TYPE \|' 20
    keys hyb "Once upon a time" Enter
    wait_for hyb 'reply: 12 tokens' 30; check hybrid_replies $? "$(cap hyb | tail -3)"
    t=$(right hyb | grep -m1 '^DeltaNet')
    [[ $t == *"layer 0/8  head 0/4 (kv 0)  4 heads x"* ]]; check hybrid_deltanet_title $? "$t"
    labels=$(heat_rows hyb | awk '{ print $1, $2 }' | tr '\n' ',')
    [ "$labels" = "h0 kv0,h1 kv1,h2 kv0,h3 kv1," ]; check hybrid_deltanet_heads_tile_key_heads $? "$labels"
    right hyb | grep -qE '^decay +.*[░▒▓█]' && right hyb | grep -qE '^beta +.*[░▒▓█]'
    check hybrid_decay_and_beta_strips $?
    right hyb | grep -qE '^-[0-9.e-]+ [●◎○∘ ]+░▒▓█ [0-9.e-]+ +signed weights'; check hybrid_diverging_legend $? "$(right hyb | grep signed)"
    keys hyb F3 F3 F3
    wait_for hyb 'Attention  layer 3/8  head 0/2 \(kv 0\)  2 heads x' 5; check hybrid_attention_layer_has_its_own_heads $?
    # two heads' rows, no strips, the probabilities' legend, not the signed one (waited
    # for: the title can be on the screen a moment before the rest of the frame)
    softmax_layer_shown() {
        [ "$(heat_rows hyb | wc -l)" = 2 ] && ! right hyb | grep -q '^decay' &&
            right hyb | grep -qE ' linear( |$)' && ! right hyb | grep -q 'signed weights'
    }
    wait_until 5 softmax_layer_shown; check hybrid_attention_layer_is_softmax $? "$(right hyb | head -6)"
    keys hyb F3
    wait_for hyb 'DeltaNet  layer 4/8' 5; check hybrid_next_layer_is_deltanet $?
    keys hyb Tab
    wait_for hyb 'INSPECT' 5
    keys hyb w
    wait_for hyb 'Gated DeltaNet: their signed weights count as attention mass' 10; check hybrid_why_card_says_how $?
    keys hyb Escape Tab "/compare $hybrid" Enter
    wait_for hyb 'mean KL\(this model \|\| qwen35-tiny-f16.gguf\) 0.0000 nats' 30 && sheet hyb | grep -q 'no divergence'
    check hybrid_compare_with_itself_is_zero $?
    tm kill-session -t hyb
else
    skip hybrid_replies "$hybrid not found"
fi
exit 0
