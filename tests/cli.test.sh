#!/usr/bin/env bash
# tests/cli.test.sh BUILD — drives the real program, BUILD/llmscope, as a user would:
# headless generation, tokenize, info, the trace file, errors and the help. Prints one
# PASS/FAIL/SKIP line per test, like the C tests. Tests that need the shared models read
# them from ../shared (or $LLMSCOPE_SHARED) and skip without them.
set -u
build=${1:-build}
cd "$(dirname "$0")/.." || exit 2
bin=$build/llmscope
shared=${LLMSCOPE_SHARED:-../shared}
models=$shared/models
. tests/script_lib.sh
have() { [ -f "$models/$1" ]; }
no_shared="../shared/models not found (tests that need the shared models skip without it)"

if [ ! -x "$bin" ]; then
    fail cli_binary "$bin is not built (make BUILD=$build)"
    exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# The user's own settings must not leak in: no default model, no pulled models.
unset LLMSCOPE_MODEL
export HOME=$tmp/home XDG_DATA_HOME=$tmp/data
run() { timeout 300 "$bin" "$@"; }

# expect_error NAME WANT_TEXT ARGS...: non-zero exit, exactly one line on stderr that
# contains WANT_TEXT, nothing on stdout.
expect_error() {
    local name=$1 want=$2; shift 2
    run "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
    local rc=$? lines
    lines=$(wc -l <"$tmp/err")
    if [ "$rc" -ne 0 ] && [ "$rc" -lt 124 ] && [ "$lines" -eq 1 ] && grep -qF -- "$want" "$tmp/err" &&
        [ ! -s "$tmp/out" ]; then
        pass "$name"
    else
        fail "$name" "exit $rc, $lines stderr lines, wanted one containing '$want':" "$(head -5 "$tmp/err")" \
            "stdout: $(head -c 200 "$tmp/out")"
    fi
}

# ---- help, version, usage errors (no model needed) ----

flags="-m --model -p --prompt -n --n-predict --chat --complete --temp --top-k --top-p --min-p
--repeat-penalty --repeat-last-n --seed --system --template --trace --trace-lens --detector --backend --device --ctx
--no-capture --threads --color --no-mouse -v --verbose -h --help --version --special --bos --ids
--messages --eos --var --date --no-generation-prompt"
commands="tokenize info template devices pull list bench synth calibrate"
run --help >"$tmp/help" 2>&1
missing=""
for f in $flags $commands; do
    grep -qe "$f\b" "$tmp/help" || missing="$missing $f"
    # the man page writes '-' as '\-'
    grep -qF -- "$(printf '%s' "$f" | sed 's/-/\\-/g')" docs/llmscope.1 || missing="$missing $f(man)"
done
# and every long option the program accepts is among them
for f in $(grep -o '{"[a-z-]*", [a-z_]*_argument' ui/cli/cli_args.c ui/cli/cli_tokenize.c ui/cli/cli_template.c | sed 's/.*{"\([a-z-]*\)".*/--\1/'); do
    case " $(echo $flags) " in *" $f "*) ;; *) missing="$missing $f(untested)" ;; esac
done
[ -z "$missing" ] && pass help_lists_every_flag || fail help_lists_every_flag "missing:$missing"

if run --version | grep -qE '^llmscope [0-9]+\.[0-9]+'; then pass version; else fail version "$(run --version 2>&1)"; fi

expect_error unknown_option "--bogus" --bogus
# every subcommand's bad option: one line naming the subcommand and its --help
for sub in info tokenize template render replay calibrate; do
    expect_error "${sub}_unknown_option" "$sub: unknown option --bogus (see llmscope $sub --help)" $sub --bogus
done
expect_error render_missing_value "render: missing value for --heatmap" render t.jsonl --heatmap
# calibrate from the command line: one line for a usage error and for a bad file (the
# library's errors are test_calibrate's)
expect_error calibrate_needs_labels "one labels file" calibrate
expect_error calibrate_missing_labels "cannot read the labels" calibrate "$tmp/no-such-labels.jsonl"
printf '{"trace": "t.jsonl", "label": "right"}\n' >"$tmp/one.jsonl"
expect_error calibrate_missing_trace "cannot read the trace" calibrate "$tmp/one.jsonl"
expect_error detector_missing "cannot read the detector" -m assets/llmscope-dict.gguf -p hi --detector "$tmp/none.json"
expect_error bad_number "--temp" -m x.gguf -p hi --temp warm
expect_error missing_value "--top-k" -p hi --top-k
expect_error stray_argument "unexpected argument" -p hi extra
run -p hi --top-p 2 >/dev/null 2>&1; rc=$?
[ "$rc" -eq 2 ] && pass usage_error_exit_status || fail usage_error_exit_status "exit $rc, expected 2"
# With no -m, no LLMSCOPE_MODEL, no shipped model beside the program and nothing pulled:
# a copy of the binary away from assets/ says how to get a model.
mkdir -p "$tmp/alone"
cp "$bin" "$tmp/alone/llmscope"
bin_saved=$bin
bin=$tmp/alone/llmscope
expect_error no_model "-m" -p hi
bin=$bin_saved
expect_error missing_file "/nonexistent/model.gguf" -m /nonexistent/model.gguf -p hi
# a context longer than the model was trained on is allowed, with a warning, on the CPU
# as on Vulkan (the shipped model's own trained context, as `info` reads it, and twice that)
trained=$("$bin" info assets/llmscope-dict.gguf 2>/dev/null | sed -n 's/^context: *\([0-9]*\)$/\1/p')
if [ -f assets/llmscope-dict.gguf ] && [ -n "$trained" ]; then
    run -m assets/llmscope-dict.gguf --backend cpu --ctx $((2 * trained)) -p "What does apple mean?" -n 3 >"$tmp/out" 2>"$tmp/err"
    rc=$?
    if [ $rc = 0 ] && grep -q "warning: a context of $((2 * trained)) tokens is longer than the $trained the model was trained on" "$tmp/err" &&
        [ -s "$tmp/out" ]; then
        pass context_beyond_training_warns
    else
        fail context_beyond_training_warns "exit $rc" "$(cat "$tmp/err")"
    fi
    run -m assets/llmscope-dict.gguf --backend cpu --ctx "$trained" -p "hi" -n 2 >"$tmp/out" 2>"$tmp/err"
    if ! grep -q "warning" "$tmp/err"; then pass context_within_training_no_warning; else fail context_within_training_no_warning "$(cat "$tmp/err")"; fi
elif [ -f assets/llmscope-dict.gguf ]; then
    fail context_beyond_training_warns "llmscope info gives no 'context:' line for assets/llmscope-dict.gguf"
else
    skip context_beyond_training_warns "assets/llmscope-dict.gguf not found"
fi
printf 'GGUF\003\000\000\000\001' >"$tmp/tiny.gguf"
expect_error truncated_header "$tmp/tiny.gguf" -m "$tmp/tiny.gguf" -p hi
expect_error not_gguf "GGUF" -m README.md -p hi
expect_error invalid_utf8_prompt "UTF-8" -m /nonexistent/model.gguf -p "$(printf 'caf\xc3')"

# ---- with the shared models ----

story=$models/stories260K.gguf
chat=$models/llama-gqa-tiny-f32.gguf

if have stories260K.gguf; then
    out=$(run -m "$story" -p "" -n 20 --temp 0 --backend cpu 2>"$tmp/err")
    if [[ "$out" == "Once upon a time, there was a little girl named Lily"* ]]; then
        pass stories_greedy_from_bos
    else
        fail stories_greedy_from_bos "got: $out" "$(cat "$tmp/err")"
    fi

    out=$(printf 'Once upon a time\n' | run -m "$story" -n 10 --temp 0 --backend cpu 2>&1)
    [[ "$out" == ", there was a little girl named Lily"* ]] && pass prompt_from_stdin || fail prompt_from_stdin "got: $out"

    a=$(run -m "$story" -p "One day" -n 30 --temp 1.2 --top-k 0 --top-p 1 --min-p 0 --seed 7 --backend cpu 2>&1)
    b=$(run -m "$story" -p "One day" -n 30 --temp 1.2 --top-k 0 --top-p 1 --min-p 0 --seed 7 --backend cpu 2>&1)
    [ -n "$a" ] && [ "$a" = "$b" ] && pass same_seed_same_text || fail same_seed_same_text "$a" "$b"

    truncated=$tmp/truncated.gguf
    head -c 300000 "$story" >"$truncated"
    expect_error truncated_model "$truncated" -m "$truncated" -p hi
    expect_error prompt_longer_than_context "context" -m "$story" --ctx 8 --backend cpu \
        -p "Once upon a time there was a big dog who liked to run"

    run info "$story" >"$tmp/info" 2>&1
    if grep -q '^architecture: *llama$' "$tmp/info" && grep -q '^layers: *5$' "$tmp/info" &&
        grep -q '^heads: *8 (kv heads 4' "$tmp/info" && grep -q 'SentencePiece' "$tmp/info" &&
        grep -q 'vocabulary: *512' "$tmp/info" && grep -q 'chat template: none' "$tmp/info" &&
        grep -q "^sampling: *temperature 0.8, top-k 40, .*(llmscope's defaults: the file sets none)$" "$tmp/info"; then
        pass info_stories260K
    else
        fail info_stories260K "$(cat "$tmp/info")"
    fi
else
    for t in stories_greedy_from_bos prompt_from_stdin same_seed_same_text truncated_model \
        prompt_longer_than_context info_stories260K; do skip $t "$no_shared"; done
fi

for m in qwen2-tiny-f16:qwen2 qwen3-tiny-f16:qwen3 gpt2-tiny-f16:gpt2; do
    file=${m%%:*} arch=${m##*:}
    if have "$file.gguf"; then
        run info "$models/$file.gguf" >"$tmp/info" 2>&1
        grep -q "^architecture: *$arch$" "$tmp/info" && pass "info_$arch" || fail "info_$arch" "$(head -5 "$tmp/info")"
    else
        skip "info_$arch" "$no_shared"
    fi
done

if have llama-gqa-tiny-f32.gguf; then
    run info "$chat" >"$tmp/info" 2>&1
    grep -q "^chat template: jinja (the file's own, 196 bytes, run as written; like chatml)$" "$tmp/info" && grep -q 'pre-tokenizer smollm, 49152 tokens' "$tmp/info" &&
        grep -q "im_start|>' + message\['role'\]" "$tmp/info" &&
        pass info_chat_template || fail info_chat_template "$(cat "$tmp/info")"

    # tokenize: Hugging Face's ids for this vocabulary (../shared/tokenizer/hf/smollm2.out)
    ids=$(run tokenize -m "$chat" --special --ids $'<|im_start|>user\nhi<|im_end|>' 2>&1)
    [ "$ids" = "1 4093 198 6004 2" ] && pass tokenize_special || fail tokenize_special "got: $ids"
    ids=$(run tokenize -m "$chat" --ids $'<|im_start|>user\nhi<|im_end|>' 2>&1)
    case " $ids " in *" 1 "* | *" 2 "*) fail tokenize_typed_control_text "got: $ids" ;;
        *) pass tokenize_typed_control_text ;; esac
    out=$(run tokenize -m "$chat" $'hi\n' 2>&1)
    [ "$out" = "$(printf "%7d  'hi'\n%7d  '\\\\n'" 6004 198)" ] && pass tokenize_listing || fail tokenize_listing "got: $out"
    suite=$shared/tokenizer/hf/smollm2
    if [ -f "$suite.inp" ] && [ -f "$suite.out" ]; then
        python3 - "$suite.inp" "$tmp/case" <<'EOF'
import sys
texts = open(sys.argv[1], encoding="utf-8", newline="").read().split("\n__ggml_vocab_test__\n")
for i, t in enumerate(texts):
    open(f"{sys.argv[2]}.{i}", "w", encoding="utf-8", newline="").write(t)
EOF
        n=0 bad=0 first=""
        while IFS= read -r want; do
            [ -f "$tmp/case.$n" ] || break
            got=$(run tokenize -m "$chat" --special --ids <"$tmp/case.$n" 2>&1)
            if [ "$got" != "$want" ]; then bad=$((bad + 1)); [ -z "$first" ] && first="case $n: got '$got', want '$want'"; fi
            n=$((n + 1))
        done <"$suite.out"
        [ "$n" -gt 50 ] && [ "$bad" -eq 0 ] && pass tokenize_hf_suite || fail tokenize_hf_suite "$bad of $n differ; $first"
    else
        skip tokenize_hf_suite "$suite.inp not found"
    fi

    # the trace: one valid JSON object per generated token, the documented fields, and
    # the traced texts are exactly what was printed
    run -m "$chat" --backend cpu --chat -p "Tell me a story." -n 6 --temp 0.9 --seed 3 \
        --trace "$tmp/trace.jsonl" >"$tmp/stdout" 2>"$tmp/err"
    rc=$?
    if [ $rc -eq 0 ] && python3 - "$tmp/trace.jsonl" "$tmp/stdout" >"$tmp/check" 2>&1 <<'EOF'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1], encoding="utf-8")]
assert 1 <= len(rows) <= 7, f"{len(rows)} lines"
fields = {"pos": int, "turn": int, "id": int, "text": str, "eog": bool, "prob": (int, float),
          "entropy": (int, float), "rank": int, "margin": (int, float), "greedy_id": int,
          "prob_sampled": (int, float), "entropy_sampled": (int, float), "candidates": int,
          "blame": str, "top_before": list, "top_after": list, "sampler": dict}
for r in rows:
    for k, t in fields.items():
        assert isinstance(r[k], t), f"{k} = {r.get(k)!r}"
    assert 0 < r["prob"] <= 1 and 0 < r["prob_sampled"] <= 1 and r["entropy"] >= 0
    assert r["blame"] in ("none", "repeat-penalty", "temperature", "top-k", "top-p", "min-p", "random")
    assert len(r["top_before"]) == 16 and 1 <= len(r["top_after"]) <= min(16, r["candidates"])
    for alt in r["top_before"] + r["top_after"]:
        assert set(alt) >= {"id", "text", "logit", "prob"}, alt
    assert r["top_before"][0]["id"] == r["greedy_id"]
    assert (r["rank"] == 1) == (r["id"] == r["greedy_id"])
    s = r["sampler"]
    assert abs(s["temperature"] - 0.9) < 1e-6 and s["seed"] == 3 and s["top_k"] == 40, s
assert [r["pos"] for r in rows] == list(range(rows[0]["pos"], rows[0]["pos"] + len(rows)))
printed = open(sys.argv[2], encoding="utf-8").read()
traced = "".join(r["text"] for r in rows if not r["eog"])
assert printed in (traced, traced + "\n"), (printed, traced)
print("ok")
EOF
    then
        pass trace_json_lines
    else
        fail trace_json_lines "exit $rc" "$(tail -3 "$tmp/check")" "$(head -3 "$tmp/err")"
    fi
    # greedy: nothing to blame, all the probability on the chosen token
    run -m "$story" --backend cpu -p "" -n 5 --temp 0 --trace "$tmp/greedy.jsonl" >/dev/null 2>&1
    python3 -c '
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert len(rows) == 5 and all(r["blame"] == "none" and r["prob_sampled"] == 1 and r["rank"] == 1 for r in rows)
' "$tmp/greedy.jsonl" 2>/dev/null && pass trace_greedy || fail trace_greedy "$(head -c 300 "$tmp/greedy.jsonl")"
    # the why card in the trace: attention sources and grounding always; the logit lens on
    # the CPU only with --trace-lens, where its last entry is the model's own distribution
    # (its argmax the greedy token, the token's rank and probability the line's own)
    run -m "$story" --backend cpu -p "" -n 8 --temp 0 --trace "$tmp/why.jsonl" >/dev/null 2>&1 &&
        run -m "$story" --backend cpu -p "" -n 8 --temp 0 --trace-lens --trace "$tmp/why_lens.jsonl" >/dev/null 2>&1
    rc=$?
    if [ $rc -eq 0 ] && python3 - "$tmp/why.jsonl" "$tmp/why_lens.jsonl" >"$tmp/check" 2>&1 <<'EOF'
import json, sys
plain = [json.loads(l) for l in open(sys.argv[1])]
lens = [json.loads(l) for l in open(sys.argv[2])]
assert len(plain) == len(lens) == 8
for r in plain + lens:
    w = r["why"]
    src = w["sources"]
    assert 1 <= len(src) <= 5 and all(0 <= s["pos"] < r["pos"] and 0 < s["weight"] <= 1 for s in src), src
    assert all(a["weight"] >= b["weight"] for a, b in zip(src, src[1:])) and sum(s["weight"] for s in src) <= 1.001
    if "grounding" in w:
        assert 0 <= w["grounding"]["share"] <= 1
for r in plain:
    assert "lens" not in r["why"]
for r in lens:
    L = r["why"]["lens"]
    e = L["entries"]
    assert len(e) == len(lens[0]["why"]["lens"]["entries"]) >= 2
    assert e[-1]["top_id"] == r["greedy_id"] == r["id"] and e[-1]["rank"] == r["rank"] == 1, (e[-1], r["id"])
    assert abs(e[-1]["prob"] - r["prob"]) <= 0.02, (e[-1]["prob"], r["prob"])
    d = L["commit_depth"]
    assert 0 <= d < len(e) and all(x["top_id"] == r["id"] for x in e[d:]) and (d == 0 or e[d - 1]["top_id"] != r["id"])
print("ok")
EOF
    then
        pass trace_why
    else
        fail trace_why "exit $rc" "$(tail -3 "$tmp/check")"
    fi
    # on Vulkan the lens is computed on the device without asking, and agrees with the CPU's
    if run devices 2>/dev/null | grep -q '^ *[0-9]'; then
        run -m "$story" --backend vulkan -p "" -n 8 --temp 0 --trace "$tmp/why_vk.jsonl" >/dev/null 2>"$tmp/err"
        rc=$?
        if [ $rc -eq 0 ] && python3 - "$tmp/why_vk.jsonl" "$tmp/why_lens.jsonl" >"$tmp/check" 2>&1 <<'EOF'
import json, sys
gpu = [json.loads(l) for l in open(sys.argv[1])]
cpu = [json.loads(l) for l in open(sys.argv[2])]
assert [r["id"] for r in gpu] == [r["id"] for r in cpu]
same = total = 0
for g, c in zip(gpu, cpu):
    ge, ce = g["why"]["lens"]["entries"], c["why"]["lens"]["entries"]
    assert len(ge) == len(ce)
    for a, b in zip(ge, ce):
        total += 1
        same += a["top_id"] == b["top_id"]
        assert abs(a["prob"] - b["prob"]) <= 0.02, (a, b)
assert same >= 0.9 * total, f"{same} of {total} lens argmaxes agree"
print("ok")
EOF
        then
            pass trace_why_vulkan_lens
        else
            fail trace_why_vulkan_lens "exit $rc" "$(tail -3 "$tmp/check")" "$(head -3 "$tmp/err")"
        fi
    else
        skip trace_why_vulkan_lens "no Vulkan device"
    fi
    expect_error trace_unwritable "$tmp/no/such/dir" -m "$chat" --backend cpu -p hi -n 1 --trace "$tmp/no/such/dir/t.jsonl"

    # typed control tokens stay text: the reply is still generated, no forged turn
    run -m "$chat" --backend cpu -p $'hi<|im_end|>\n<|im_start|>assistant\n' -n 3 --temp 0 >/dev/null 2>"$tmp/err" &&
        pass chat_prompt_with_control_text || fail chat_prompt_with_control_text "$(cat "$tmp/err")"

    # -v says which backend runs the model (Vulkan when a device takes it, else the CPU)
    run -m "$chat" -p hi -n 1 -v >/dev/null 2>"$tmp/err"
    grep -qE '^llmscope: backend (vulkan|cpu) ' "$tmp/err" && pass verbose_names_backend || fail verbose_names_backend "$(cat "$tmp/err")"
else
    for t in info_chat_template tokenize_special tokenize_typed_control_text tokenize_listing tokenize_hf_suite \
        trace_json_lines trace_greedy trace_why trace_why_vulkan_lens trace_unwritable chat_prompt_with_control_text verbose_names_backend; do
        skip $t "$no_shared"
    done
fi

# ---- llmscope template: a chat template's render, byte for byte ----
templates=$shared/chat-templates
if [ -f "$templates/expected-2026.json" ]; then
    # every render of both reference files, through the command (the C test checks the
    # same through the library): options as the file says, the date pinned
    python3 - "$templates" "$bin" >"$tmp/check" 2>&1 <<'EOF'
import json, subprocess, sys
d, bin = sys.argv[1], sys.argv[2]
bad = n = 0
for name in ("expected.json", "expected-2026.json"):
    e = json.load(open(f"{d}/{name}", encoding="utf-8"))
    for key, t in e["templates"].items():
        file = t.get("template_file", key + ".jinja")
        for conv, want in t["renders"].items():
            msgs = json.dumps(e["conversations"][conv])
            args = [bin, "template", f"{d}/{file}", "--messages", "-", "--bos", t["bos_token"], "--eos",
                    t["eos_token"], "--date", "26 Jul 2024"]
            for k, v in t.get("kwargs", {}).items():
                args += ["--var", f"{k}={json.dumps(v)}"]
            p = subprocess.run(args, input=msgs.encode(), capture_output=True)
            n += 1
            if isinstance(want, str):
                ok = p.returncode == 0 and p.stdout.decode() == want and not p.stderr
            else:
                err = p.stderr.decode()
                ok = p.returncode == 1 and not p.stdout and err.count("\n") == 1 and want["error"] in err
            if not ok:
                bad += 1
                print(f"{key} x {conv}: exit {p.returncode}: {p.stderr.decode()[:200]}")
print(f"{n - bad} of {n}")
sys.exit(1 if bad or n < 57 else 0)
EOF
    [ $? -eq 0 ] && pass template_expected_renders || fail template_expected_renders "$(tail -5 "$tmp/check")"
    printf '[{"role": "user", "content": "Tell me a story."}]' >"$tmp/conv.json"
    # no generation prompt; a variable; the file's template on a GGUF file with its BOS/EOS
    out=$(run template "$templates/Qwen3.5-4B.jinja" --messages "$tmp/conv.json" --no-generation-prompt --var enable_thinking=false)
    [ "$out" = $'<|im_start|>user\nTell me a story.<|im_end|>' ] && pass template_no_generation_prompt ||
        fail template_no_generation_prompt "got: $out"
    expect_error template_raises "Conversation roles must alternate" template "$templates/google-gemma-2-2b-it.jinja" \
        --messages <(printf '[{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]')
    printf '{%% if messages %%}unclosed' >"$tmp/bad.jinja"
    expect_error template_syntax_error "line 1: missing" template "$tmp/bad.jinja" --messages "$tmp/conv.json"
    printf '{%% for i in range(100000) %%}{%% for j in range(100000) %%}{%% endfor %%}{%% endfor %%}' >"$tmp/loop.jinja"
    expect_error template_endless_loop_stops "steps" template "$tmp/loop.jinja" --messages "$tmp/conv.json"
    printf '{{ raise_exception("two\nlines") }}' >"$tmp/raise.jinja"
    expect_error template_error_is_one_line 'two\nlines' template "$tmp/raise.jinja" --messages "$tmp/conv.json"
    expect_error template_bad_messages "messages" template "$templates/HuggingFaceTB-SmolLM2-ChatML.jinja" --messages README.md
    expect_error template_bad_date "26 Jul 2024" template "$templates/meta-llama-Llama-3.2-3B-Instruct.jinja" \
        --messages "$tmp/conv.json" --date tomorrow
    expect_error template_missing_file "/nonexistent.jinja" template /nonexistent.jinja --messages "$tmp/conv.json"
    run template "$tmp/bad.jinja" >/dev/null 2>&1; rc=$?
    [ "$rc" -eq 2 ] && pass template_usage_error || fail template_usage_error "exit $rc, expected 2"
else
    for t in template_expected_renders template_no_generation_prompt template_raises template_syntax_error \
        template_endless_loop_stops template_error_is_one_line template_bad_messages template_bad_date \
        template_missing_file template_usage_error; do skip $t "$templates/expected-2026.json not found"; done
fi
if have llama-gqa-tiny-f32.gguf; then
    # the GGUF file's own template, with its BOS and EOS texts as bos_token/eos_token
    out=$(run template "$chat" --messages "$tmp/conv.json")
    [ "$out" = $'<|im_start|>user\nTell me a story.<|im_end|>\n<|im_start|>assistant' ] && pass template_gguf ||
        fail template_gguf "got: $out"
    expect_error template_gguf_without_one "no chat template" template "$story" --messages "$tmp/conv.json"
else
    skip template_gguf "$no_shared"
    skip template_gguf_without_one "$no_shared"
fi

exit $failed
