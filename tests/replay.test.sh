#!/usr/bin/env bash
# tests/replay.test.sh BUILD — `llmscope replay` and `llmscope render` driven as a user
# would: a trace written by the headless command, replayed against its own model (KL
# exactly 0) and another, and drawn (SVG transcript and heatmap, PNG heatmap), each
# picture checked against the trace and against what attention is (rows that sum to 1).
# One PASS/FAIL/SKIP line per test; skips without ../shared.
set -u
build=${1:-build}
cd "$(dirname "$0")/.." || exit 2
bin=$build/llmscope
shared=${LLMSCOPE_SHARED:-../shared}
models=$shared/models
. tests/script_lib.sh
run() { timeout 300 "$bin" "$@"; }

if [ ! -x "$bin" ]; then
    fail replay_binary "$bin is not built (make BUILD=$build)"
    exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
unset LLMSCOPE_MODEL
export HOME=$tmp/home XDG_DATA_HOME=$tmp/data

# expect_error NAME STATUS WANT_TEXT ARGS...: that exit status and one stderr line with WANT_TEXT
expect_error() {
    local name=$1 status=$2 want=$3; shift 3
    run "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
    local rc=$? lines
    lines=$(wc -l <"$tmp/err")
    if [ "$rc" -eq "$status" ] && [ "$lines" -eq 1 ] && grep -qF -- "$want" "$tmp/err" && [ ! -s "$tmp/out" ]; then
        pass "$name"
    else
        fail "$name" "exit $rc (wanted $status), $lines stderr lines, wanted one containing '$want':" \
            "$(head -3 "$tmp/err")"
    fi
}

expect_error replay_needs_a_model 2 "usage" replay "$tmp/none.jsonl"
expect_error replay_missing_trace 1 "cannot read the trace" replay "$tmp/none.jsonl" -m x.gguf
expect_error render_bad_heatmap 2 "--heatmap expects" render "$tmp/none.jsonl" --heatmap 1:x

story=$models/stories260K.gguf
ktiny=$models/llama-k-tiny-f32.gguf
all="replay_self_json replay_self_table replay_other_vocabulary render_transcript render_heatmap_svg \
render_heatmap_png render_heatmap_out_of_range render_png_transcript_refused"
if [ ! -f "$story" ] || [ ! -f "$ktiny" ]; then
    for t in $all; do skip "$t" "../shared/models not found"; done
    exit $failed
fi

trace=$tmp/story.jsonl
if ! run -m "$story" --backend cpu -p "Once upon a time" -n 30 --temp 0.9 --seed 5 --trace "$trace" >/dev/null 2>"$tmp/err"; then
    for t in $all; do fail "$t" "could not write the trace: $(cat "$tmp/err")"; done
    exit 1
fi

# against itself: every KL exactly 0, every top-1 the same, the trace's probabilities back
if run replay "$trace" -m "$story" --json >"$tmp/self.json" 2>"$tmp/err" && python3 - "$tmp/self.json" "$trace" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
rows = [json.loads(l) for l in open(sys.argv[2])]
assert r["n_tokens"] == len(rows) == 30, (r["n_tokens"], len(rows))
assert r["mean_kl"] == 0 and r["max_kl"] == 0 and r["top1_agreement"] == 1, r
assert r["first_divergence"] is None
for t, row in zip(r["tokens"], rows):
    assert t["kl"] == 0 and t["top_base"] == t["top_other"], t
    assert t["pos"] == row["pos"] and t["id"] == row["id"], (t, row)
    assert abs(t["p_base"] - row["prob"]) < 1e-6 and t["p_base"] == t["p_other"], (t, row)
PY
then pass replay_self_json; else fail replay_self_json "$(head -3 "$tmp/err")"; fi

if run replay "$trace" -m "$story" >"$tmp/table" 2>"$tmp/err" && grep -q "mean KL 0.000000 nats" "$tmp/table" &&
    grep -q "no divergence" "$tmp/table" && grep -q "top-1 agreement 30/30" "$tmp/table"; then
    pass replay_self_table
else
    fail replay_self_table "$(tail -3 "$tmp/table")" "$(head -3 "$tmp/err")"
fi

expect_error replay_other_vocabulary 1 "different vocabularies" replay "$trace" -m "$ktiny"

# the transcript: one token group per position, traced tokens underlined, the trace's
# probability in each traced token's tooltip
if run render "$trace" -o "$tmp/t.svg" 2>"$tmp/err" && python3 - "$tmp/t.svg" "$trace" <<'PY'
import json, re, sys, xml.etree.ElementTree as ET
ns = "{http://www.w3.org/2000/svg}"
root = ET.parse(sys.argv[1]).getroot()
rows = [json.loads(l) for l in open(sys.argv[2])]
ctx = rows[0]["context"]["tokens"]
groups = [g for g in root.iter(ns + "g") if "token" in g.get("class", "")]
assert len(groups) == len(ctx) + len(rows), (len(groups), len(ctx), len(rows))
gen = [g for g in groups if "generated" in g.get("class")]
assert len(gen) == len(rows)
for g, row in zip(gen, rows):
    title = g.find(ns + "title").text
    assert title.startswith(f"position {row['pos']}:"), title
    p = float(re.search(r"p = ([0-9.]+)", title).group(1))
    assert abs(p - row["prob"]) < 2e-6, (p, row["prob"])
PY
then pass render_transcript; else fail render_transcript "$(head -3 "$tmp/err")"; fi

# a heatmap of one head: the lower triangle only, every row a distribution over its keys
if run render "$trace" --heatmap 2:3 -o "$tmp/h.svg" 2>"$tmp/err" && python3 - "$tmp/h.svg" "$trace" <<'PY'
import json, re, sys, xml.etree.ElementTree as ET
from collections import defaultdict
ns = "{http://www.w3.org/2000/svg}"
root = ET.parse(sys.argv[1]).getroot()
rows = [json.loads(l) for l in open(sys.argv[2])]
T = len(rows[0]["context"]["tokens"]) + len(rows)
sums, cells = defaultdict(float), 0
for t in root.iter(ns + "title"):
    m = re.match(r"query (\d+), key (\d+): ([0-9.]+)", t.text)
    if m:
        q, k, v = int(m[1]), int(m[2]), float(m[3])
        assert k <= q < T
        sums[q] += v
        cells += 1
assert cells == T * (T + 1) // 2, (cells, T)
assert all(abs(s - 1) < 1e-4 for s in sums.values()), sums
PY
then pass render_heatmap_svg; else fail render_heatmap_svg "$(head -3 "$tmp/err")"; fi

if run render "$trace" --heatmap mean -o "$tmp/h.png" 2>"$tmp/err" && python3 - "$tmp/h.png" "$trace" <<'PY'
import json, struct, sys, zlib
data = open(sys.argv[1], "rb").read()
rows = [json.loads(l) for l in open(sys.argv[2])]
T = len(rows[0]["context"]["tokens"]) + len(rows)
assert data[:8] == b"\x89PNG\r\n\x1a\n"
w, h, depth, ctype = struct.unpack(">IIBB", data[16:26])
side = T * max(1, 1024 // T)
assert (w, h, depth, ctype) == (side, side, 8, 2), (w, h, depth, ctype, side)
PY
then pass render_heatmap_png; else fail render_heatmap_png "$(head -3 "$tmp/err")"; fi

expect_error render_heatmap_out_of_range 1 "no heatmap" render "$trace" --heatmap 9:0 -o "$tmp/x.svg"
expect_error render_png_transcript_refused 2 "SVG only" render "$trace" -o "$tmp/x.png"

exit $failed
