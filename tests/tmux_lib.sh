# tests/tmux_lib.sh — the private tmux server the terminal tests drive the app in
# (tui.test.sh, tui_router.test.sh, robust.test.sh), sourced after tests/script_lib.sh.
#
# tmux_begin NAME makes a scratch folder $tmp and a server of its own ($sock, so a test
# never touches a user's tmux), with one session that lives as long as the test so the
# server never exits between windows; on exit, interrupted or not, the server, its socket
# (which the server leaves behind) and $tmp go.
tm() { tmux -u -L "$sock" -f /dev/null "$@"; }
tmux_cleanup() {
    tm kill-server >/dev/null 2>&1
    rm -f "${TMUX_TMPDIR:-/tmp}/tmux-$(id -u)/$sock"
    rm -rf "$tmp"
}
tmux_begin() {
    sock=llmscope-$1-test-$$
    tmp=$(mktemp -d)
    trap tmux_cleanup EXIT
    trap 'exit 1' INT TERM HUP # the EXIT trap then cleans up
    tm new-session -d -s keeper sleep 3600
}

keys() { local name=$1; shift; tm send-keys -t "$name" "$@"; }
cap() { tm capture-pane -p -t "$1"; }
# the right pane: what stands right of the vertical rule (attention, probabilities, ...)
right() { cap "$1" | awk -F'│' 'NF > 1 { print $2 }'; }
# wait_for NAME REGEX [SECONDS]: until the screen matches (default 20 s)
wait_for() {
    local name=$1 re=$2 t=${3:-20} i=0
    while [ "$i" -lt $((t * 5)) ]; do
        cap "$name" | grep -qE -- "$re" && return 0
        sleep 0.2
        i=$((i + 1))
    done
    return 1
}
# wait_gone NAME REGEX [SECONDS]: until the screen no longer matches (default 10 s)
wait_gone() {
    local name=$1 re=$2 t=${3:-10} i=0
    while [ "$i" -lt $((t * 5)) ]; do
        cap "$name" | grep -qE -- "$re" || return 0
        sleep 0.2
        i=$((i + 1))
    done
    return 1
}
