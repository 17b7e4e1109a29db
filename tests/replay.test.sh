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
render_heatmap_png render_transcript_png render_heatmap_out_of_range render_bad_extension"
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
ids = rows[0]["context"]["tokens"] + [r["id"] for r in rows]
text = {r["pos"]: r["text"].replace(" ", "\u00b7") for r in rows}
for t in root.iter(ns + "title"):
    m = re.match(r'query (\d+) "(.*)", key (\d+) "(.*)": ([0-9.]+)$', t.text)
    if m:
        q, k, v = int(m[1]), int(m[3]), float(m[5])
        assert k <= q < T
        # the tooltip names both tokens (the traced ones checked against the trace)
        assert q not in text or m[2] == text[q], (m[2], text[q])
        assert k not in text or m[4] == text[k], (m[4], text[k])
        sums[q] += v
        cells += 1
assert cells == T * (T + 1) // 2, (cells, T)
assert all(abs(s - 1) < 1e-4 for s in sums.values()), sums
title = next(root.iter(ns + "text")).text
assert "layer 2, head 3, positions 0-%d" % (T - 1) in title, title
PY
then pass render_heatmap_svg; else fail render_heatmap_svg "$(head -3 "$tmp/err")"; fi

# PNG pictures, decoded here (zlib, the five row filters) rather than by the code under
# test: the heatmap's cells where its grey frame says the map is, each position's label
# left of its row and above its column, the title and the colour scale; the transcript
# at its width, with text in the title and token rows
cat > "$tmp/png.py" <<'PY'
import struct, zlib
def read_png(path):
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, w = 8, b"", None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
            assert (depth, ctype) == (8, 2), (depth, ctype)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw, stride = zlib.decompress(idat), w * 3
    rows, prev = [], bytearray(stride)
    for y in range(h):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - 3] if i >= 3 else 0
            b, c = prev[i], prev[i - 3] if i >= 3 else 0
            if f == 1: line[i] = (line[i] + a) & 255
            elif f == 2: line[i] = (line[i] + b) & 255
            elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(line)
        prev = line
    return w, h, lambda x, y: tuple(rows[y][3 * x:3 * x + 3])
def inked(px, x0, y0, x1, y1):  # any dark (text) pixel in the box
    return any(sum(px(x, y)) < 200 for y in range(max(y0, 0), y1) for x in range(max(x0, 0), x1))
PY
if run render "$trace" --heatmap 1:2 -o "$tmp/h.png" 2>"$tmp/err" && python3 - "$tmp/h.png" "$trace" "$tmp/png.py" <<'PY'
import json, sys
exec(open(sys.argv[3]).read())
w, h, px = read_png(sys.argv[1])
rows = [json.loads(l) for l in open(sys.argv[2])]
T = len(rows[0]["context"]["tokens"]) + len(rows)
s = min(32, max(1, 1024 // T))
grey = (153, 153, 153)
# the frame: the grey rectangle around the map, one pixel outside it
x0 = next(x for x in range(w) if all(px(x, y) == grey for y in range(h // 2 - 2, h // 2 + 2)))
y0 = next(y for y in range(h) if all(px(x, y) == grey for x in range(x0 + 1, x0 + 1 + T * s)))
mx, my = x0 + 1, y0 + 1
assert px(mx + T * s, my) == grey and px(mx, my + T * s) == grey, "the frame is not T x s wide"
assert w >= mx + T * s and h > my + T * s + 16, (w, h)
# the map: the upper triangle light grey, every diagonal cell coloured (a token attends
# to itself somewhat in a real head, and the first row is all on the first key)
assert all(px(mx + k * s + s // 2, my + q * s + s // 2) == (238, 238, 238) for q in range(T) for k in range(q + 1, T))
assert px(mx + s // 2, my + s // 2) != (255, 255, 255)
# labels: every labelled row has ink to its left, every labelled column above the map
every = (10 + s - 1) // s
for i in range(0, T, every):
    assert inked(px, 0, my + i * s, mx - 2, my + i * s + s), "row label %d" % i
    assert inked(px, mx + i * s, 40, mx + i * s + s, my - 2), "column label %d" % i
assert inked(px, 0, 0, w, 28), "title"
scale = [px(x, my + T * s + 14) for x in range(w)]
assert (8, 48, 107) in scale and any(c[0] > 240 and c[2] > 240 and c[1] > 240 for c in scale), "colour scale"
PY
then pass render_heatmap_png; else fail render_heatmap_png "$(head -3 "$tmp/err")"; fi

if run render "$trace" -o "$tmp/t.png" 2>"$tmp/err" && python3 - "$tmp/t.png" "$tmp/png.py" <<'PY'
import sys
exec(open(sys.argv[2]).read())
w, h, px = read_png(sys.argv[1])
assert w == 2 * 8 + 96 * 12, w
assert inked(px, 0, 0, w, 28), "title"
assert inked(px, 0, 30, w, 60), "the first line of tokens"
# confidence colours: some token grounds are tinted red
assert any(px(x, 40)[0] > px(x, 40)[2] + 30 for x in range(w)), "no tinted token"
PY
then pass render_transcript_png; else fail render_transcript_png "$(head -3 "$tmp/err")"; fi

expect_error render_heatmap_out_of_range 1 "no heatmap" render "$trace" --heatmap 9:0 -o "$tmp/x.svg"
expect_error render_bad_extension 2 "must be .svg or .png" render "$trace" -o "$tmp/x.jpg"

exit $failed
