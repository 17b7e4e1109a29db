"""evaluate.py — how often the dictionary model is right, and whether its confidence shows it.

  /usr/bin/python3 train/evaluate.py --config train/configs/smoke.json \
      [--model FILE.gguf] [--llmscope ./llmscope] [--engine llmscope|torch] [--jobs N] \
      [--settings eval|app] [--conversation] [--questions eval|calib] [--keep-traces DIR]

--settings app asks with what the terminal app would use (the model file's sampler
defaults, else llmscope's: temperature 0.8 ...), a seed per question; --conversation asks
every held-out question as one of the questions 5-10 of a conversation of 10 (the first
four are other questions of the set, answered and not scored); --keep-traces keeps every
trace with labels.jsonl and labels-heldout.jsonl for `llmscope calibrate` (right =
near-exact; a wrong answer's first wrong token is where it leaves the reference sentence;
the word is the group). Results: train/out/NAME/eval[-app][-conversation].json.

Questions (train/out/NAME/data/eval.jsonl, written by prepare_data.py):
  known    a sample of the words the model was trained on, one intent each (meaning,
           synonym, opposite, sentence, kind, in turn);
  made_up  invented words that are in no part of WordNet and were never seen in training;
           the right answer is to say it does not know the word.
Each question is asked twice: with a wording held out from training (the headline
numbers) and with a training wording (for comparison).

Answers come from llmscope itself: `llmscope -m MODEL --backend cpu -p QUESTION --temp 0
--repeat-penalty 1 --trace FILE`, one process per question, with the model's own chat
template and default system prompt. The trace gives, for every generated token (the
end-of-turn token included), the probability the model gave it ("prob") and the entropy
of the distribution it was drawn from ("entropy"). --engine torch computes the same with
PyTorch from the same GGUF (a fallback where llmscope is not built; the numbers agree).

Scoring (after normalising: lower case, spaces collapsed, quotes and a final period
dropped):
  exact       the answer is the trained reference sentence.
  near-exact  the answer has a trained form, names the asked word, and its content is
              right by the dictionary: any sense's definition (or within a difflib ratio
              of 0.9 of one), any WordNet synonym / antonym / hypernym of the word, any
              example sentence of it; a "no synonym/opposite/example/not a thing" answer
              only when WordNet indeed has none; for made-up words, "I don't know the
              word ..." (counted right even when the echoed word is garbled; the verdicts
              list those apart).
Confidence separates right from wrong answers as well as the AUROC says (0.5: not at all,
1: perfectly), for three per-answer scores: mean token probability, minimum token
probability, and minus the mean entropy. Right = near-exact.

Writes train/out/NAME/eval.json (numbers, command, model checksum) and
eval_answers.jsonl (every question, answer, score and confidence).
"""

import argparse
import difflib
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dialogue  # noqa: E402
from config import TRAIN_DIR, load_config, out_dir  # noqa: E402

NEAR_RATIO = 0.9


def norm(s):
    s = re.sub(r"\s+", " ", s.strip().lower())
    s = s.strip('"').rstrip(".").strip().strip('"')
    return s


def close_to_any(text, options):
    t = norm(text)
    for o in options:
        o = norm(o)
        if t == o or difflib.SequenceMatcher(None, t, o).ratio() >= NEAR_RATIO:
            return True
    return False


def score(q, answer):
    """(exact, near_exact, verdict) for one answer."""
    exact = norm(answer) == norm(q["reference"])
    kind, groups = dialogue.parse_answer(answer)
    word = norm(q["word"])
    if kind is None:
        return exact, False, "malformed"
    said_word = norm(groups[0]) if kind != "sentence" else word
    if q["group"] == "made_up":
        # saying it does not know is the right answer, even if the echoed word is garbled
        if kind == "unknown":
            return exact, True, "refused" if said_word == word else "refused, word garbled"
        return exact, False, "hallucinated"
    e = q["entry"]
    if kind == "unknown":
        return exact, False, "refused a known word"
    if said_word != word:
        return exact, False, "wrong word"
    intent = q["intent"]
    ok = {
        "meaning": kind == "meaning" and close_to_any(groups[-1], e["all_definitions"]),
        "synonym": (kind == "synonym" and norm(groups[-1]) in {norm(s) for s in e["synonyms"]})
        or (kind == "no_synonym" and not e["synonyms"]),
        "opposite": (kind == "opposite" and norm(groups[-1]) in {norm(s) for s in e["antonyms"]})
        or (kind == "no_opposite" and not e["antonyms"]),
        "sentence": (kind == "sentence" and close_to_any(groups[0], e["examples"]))
        or (kind == "no_sentence" and not e["examples"]),
        "kind": (kind == "kind" and norm(groups[-1]) in {norm(h) for h in e["hypernyms"]})
        or (kind == "no_kind" and not e["hypernyms"]),
    }[intent]
    if ok:
        return exact, True, "right"
    return exact, False, "wrong intent" if not kind.endswith(intent) else "wrong content"


# ---- running the model --------------------------------------------------------------

# Sampler settings: "eval" decodes greedily without a repetition penalty (the model's
# best answer); "app" passes nothing, so llmscope uses what the terminal app would: the
# model file's own defaults (llmscope.sampler.*) where it has them, else llmscope's
# (temperature 0.8, top-k 40, top-p 0.95, min-p 0.05, repetition penalty 1.1), with a
# seed per question so that the numbers can be reproduced.
SETTINGS = {"eval": ["--temp", "0", "--repeat-penalty", "1"], "app": []}


def ask_llmscope(binary, model, questions, max_tokens, settings="eval", seed=42, trace=None, lens=False):
    """Asks QUESTIONS (one, or the questions of one conversation) in one llmscope run.
    Returns [(answer, [(prob, entropy), ...]), ...], one per question, from the trace."""
    with tempfile.TemporaryDirectory() as tmp:
        path = trace or os.path.join(tmp, "trace.jsonl")
        cmd = [binary, "-m", model, "--backend", "cpu", "-n", str(max_tokens), "--trace", path,
               "--seed", str(seed), "--detector", "none"] + SETTINGS[settings]
        for q in questions:
            cmd += ["-p", q]
        if lens:
            cmd.append("--trace-lens")
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        if r.returncode != 0:
            raise RuntimeError(f"llmscope failed on {questions!r}: {r.stderr.strip()}")
        with open(path) as f:
            steps = [json.loads(line) for line in f]
    # one reply per turn, in order; the end-of-turn token counts for confidence, not text
    replies = []
    for st in steps:
        if not replies or replies[-1][0] != st["turn"]:
            replies.append((st["turn"], [], []))
        if not st["eog"]:
            replies[-1][1].append(st["text"])
        replies[-1][2].append((st["prob"], st["entropy"]))
    out = [("".join(texts).strip(), conf) for _, texts, conf in replies]
    while len(out) < len(questions):  # a reply of no tokens at all
        out.append(("", []))
    return out


def token_texts(trace, turn_index):
    """The token texts of the TURN_INDEX-th reply of a trace file (the end-of-turn too)."""
    texts, turn, k = [], None, -1
    with open(trace) as f:
        for line in f:
            st = json.loads(line)
            if st["turn"] != turn:
                turn, k = st["turn"], k + 1
            if k == turn_index:
                texts.append(st["text"] if not st["eog"] else "")
    return texts


def first_wrong_token(texts, reference):
    """Index of the token where the answer first departs from the reference sentence (the
    one holding the first character that differs), for a wrong answer's label."""
    got = "".join(texts)
    n = 0
    while n < min(len(got), len(reference)) and got[n] == reference[n]:
        n += 1
    at = 0
    for i, t in enumerate(texts):
        if at + len(t) > n:
            return i
        at += len(t)
    return max(0, len(texts) - 1)


class TorchEngine:
    """The same questions answered by PyTorch with the weights of the same GGUF."""

    def __init__(self, gguf):
        import from_gguf
        self.model, self.tok, _ = from_gguf.load(gguf)

    def ask(self, question, max_tokens):
        import infer
        text, steps = infer.reply(self.model, self.tok, [{"role": "user", "content": question}], max_tokens)
        return [(text.strip(), [(p, h) for _, p, h in steps])]


# ---- statistics ----------------------------------------------------------------------

def auroc(scores, labels):
    """Area under the ROC curve of SCORES for telling LABELS True from False (the
    Mann-Whitney statistic, ties counted half). None when one class is empty."""
    pos = sum(labels)
    neg = len(labels) - pos
    if pos == 0 or neg == 0:
        return None
    order = sorted(range(len(scores)), key=lambda i: scores[i])
    ranks = [0.0] * len(scores)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and scores[order[j + 1]] == scores[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    rank_sum = sum(r for r, l in zip(ranks, labels) if l)
    return (rank_sum - pos * (pos + 1) / 2) / (pos * neg)


def confidence(steps):
    probs = [p for p, _ in steps]
    ents = [h for _, h in steps]
    if not steps:
        return {"mean_prob": 0.0, "min_prob": 0.0, "neg_mean_entropy": -99.0}
    return {"mean_prob": sum(probs) / len(probs), "min_prob": min(probs),
            "neg_mean_entropy": -sum(ents) / len(ents)}


def summarize(rows):
    out = {}
    for wordings in ("heldout", "train", "conversation"):
        part = [r for r in rows if r["wordings"] == wordings]
        if not part:
            continue
        s = {}
        for group in ("known", "made_up"):
            g = [r for r in part if r["group"] == group]
            if g:
                s[group] = {"n": len(g),
                            "exact": sum(r["exact"] for r in g) / len(g),
                            "near_exact": sum(r["near_exact"] for r in g) / len(g)}
                verdicts = {}
                for r in g:
                    verdicts[r["verdict"]] = verdicts.get(r["verdict"], 0) + 1
                s[group]["verdicts"] = dict(sorted(verdicts.items()))
        known = [r for r in part if r["group"] == "known"]
        s["known_by_intent"] = {
            i: {"n": len([r for r in known if r["intent"] == i]),
                "near_exact": (sum(r["near_exact"] for r in known if r["intent"] == i)
                               / max(1, len([r for r in known if r["intent"] == i])))}
            for i in dialogue.INTENTS}
        s["auroc"] = {}
        for subset_name, subset in (("all", part), ("known", known)):
            labels = [r["near_exact"] for r in subset]
            s["auroc"][subset_name] = {
                m: auroc([r["confidence"][m] for r in subset], labels)
                for m in ("mean_prob", "min_prob", "neg_mean_entropy")}
            s["auroc"][subset_name]["n_right"] = sum(labels)
            s["auroc"][subset_name]["n_wrong"] = len(labels) - sum(labels)
        out[wordings] = s
    return out


def fmt(x):
    return "n/a" if x is None else f"{x:.3f}"


def print_summary(summary):
    for wordings, s in summary.items():
        print(f"\n== {wordings} wordings ==")
        for group in ("known", "made_up"):
            if group in s:
                g = s[group]
                print(f"  {group:8s} n={g['n']:4d}  exact {g['exact']:.3f}  near-exact {g['near_exact']:.3f}  "
                      f"{g['verdicts']}")
        print("  known, near-exact by intent: " + ", ".join(
            f"{i} {v['near_exact']:.2f} (n={v['n']})" for i, v in s["known_by_intent"].items()))
        for subset, a in s["auroc"].items():
            print(f"  AUROC right-vs-wrong ({subset}: {a['n_right']} right, {a['n_wrong']} wrong): "
                  f"mean prob {fmt(a['mean_prob'])}, min prob {fmt(a['min_prob'])}, "
                  f"-mean entropy {fmt(a['neg_mean_entropy'])}")


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


CONVERSATION = 10  # questions per conversation in --conversation
WARM_UP = 4        # of which the first ones are not scored


def conversations(questions):
    """--conversation: every held-out question asked as one of the questions 5-10 of a
    conversation of 10; questions 1-4 are other questions of the set (their training
    wordings), answered by the model too, and not scored."""
    scored = [q for q in questions if q["wordings"] == "heldout"]
    fillers = [q for q in questions if q["wordings"] == "train"]
    per = CONVERSATION - WARM_UP
    convs = []
    for c in range(0, len(scored), per):
        warm = [fillers[(c // per * WARM_UP + k) % len(fillers)] for k in range(WARM_UP)]
        convs.append((warm, scored[c:c + per]))
    return convs


def write_labels(rows, trace_dir):
    """labels.jsonl for `llmscope calibrate` (every answer) and labels-heldout.jsonl (the
    held-out wordings, the conversations' scored questions): right = near-exact; a wrong
    answer's first wrong token is where it leaves the reference sentence; the group is
    the word, so that both wordings of a word fall on one side of a split."""
    files = {"labels.jsonl": lambda r: True, "labels-heldout.jsonl": lambda r: r["wordings"] != "train"}
    for name, keep in files.items():
        with open(os.path.join(trace_dir, name), "w") as f:
            for r in rows:
                if "trace" not in r or not keep(r):
                    continue
                lab = {"trace": r["trace"], "answer": r["answer_index"], "label": "right" if r["near_exact"] else "wrong",
                       "group": r["word"], "wordings": r["wordings"], "group_kind": r["group"]}
                if not r["near_exact"]:
                    texts = token_texts(os.path.join(trace_dir, r["trace"]), r["answer_index"])
                    lab["first_wrong"] = first_wrong_token(texts, r["reference"])
                f.write(json.dumps(lab) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", required=True)
    ap.add_argument("--model", help="GGUF file (default: the exported one in train/out/NAME)")
    ap.add_argument("--llmscope", default=os.path.join(os.path.dirname(TRAIN_DIR), "llmscope"))
    ap.add_argument("--engine", choices=["llmscope", "torch"], default="llmscope")
    ap.add_argument("--jobs", type=int, default=1, help="questions answered in parallel (llmscope)")
    ap.add_argument("--limit", type=int, help="only the first N questions (a quick look)")
    ap.add_argument("--max-tokens", type=int, default=96)
    ap.add_argument("--questions", default="eval", help="data/NAME.jsonl: eval (default) or calib")
    ap.add_argument("--settings", choices=sorted(SETTINGS), default="eval",
                    help="eval: greedy, no repetition penalty; app: what the terminal app uses")
    ap.add_argument("--conversation", action="store_true",
                    help="the held-out questions as questions 5-10 of conversations of 10")
    ap.add_argument("--keep-traces", metavar="DIR", help="keep every trace there, with labels for llmscope calibrate")
    ap.add_argument("--trace-lens", action="store_true", help="the logit lens in the kept traces")
    ap.add_argument("--out", help="result name (default: QUESTIONS, with -app and -conversation as chosen)")
    args = ap.parse_args()
    cfg = load_config(args.config)
    d = out_dir(cfg)
    model = args.model or os.path.join(d, cfg["export"]["file"])
    with open(os.path.join(d, "data", args.questions + ".jsonl")) as f:
        questions = [json.loads(line) for line in f]
    if args.limit:
        questions = questions[:args.limit]
    name = args.out or (args.questions + ("-app" if args.settings == "app" else "")
                        + ("-conversation" if args.conversation else ""))
    if args.keep_traces:
        os.makedirs(args.keep_traces, exist_ok=True)

    # jobs: (questions asked in one run, the indexes of those that are scored)
    if args.conversation:
        jobs = [([q["question"] for q in warm + scored], warm + scored, list(range(WARM_UP, WARM_UP + len(scored))))
                for warm, scored in conversations(questions)]
    else:
        jobs = [([q["question"]], [q], [0]) for q in questions]

    t0 = time.time()
    if args.engine == "llmscope":
        def ask(item):
            k, (texts, _, _) = item
            trace = os.path.join(args.keep_traces, f"q{k:04d}.jsonl") if args.keep_traces else None
            return ask_llmscope(args.llmscope, model, texts, args.max_tokens, args.settings, seed=k + 1,
                                trace=trace, lens=args.trace_lens)
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            answers = list(pool.map(ask, enumerate(jobs)))
    else:
        if args.conversation or args.settings != "eval":
            raise SystemExit("evaluate: --engine torch answers single questions greedily only")
        engine = TorchEngine(model)
        answers = [engine.ask(texts[0], args.max_tokens) for texts, _, _ in jobs]

    rows = []
    for k, ((_, qs, scored), replies) in enumerate(zip(jobs, answers)):
        for i in scored:
            q, (answer, steps) = qs[i], replies[i]
            exact, near, verdict = score(q, answer)
            row = {"group": q["group"], "wordings": "conversation" if args.conversation else q["wordings"],
                   "intent": q["intent"], "word": q["word"], "question": q["question"], "answer": answer,
                   "reference": q["reference"], "exact": exact, "near_exact": near, "verdict": verdict,
                   "n_tokens": len(steps), "confidence": confidence(steps)}
            if args.conversation:
                row["position"] = i + 1
            if args.keep_traces:
                row["trace"], row["answer_index"] = f"q{k:04d}.jsonl", i
            rows.append(row)
    summary = summarize(rows)
    print_summary(summary)
    if args.keep_traces:
        write_labels(rows, args.keep_traces)

    result = {
        "config": cfg["name"],
        "command": " ".join(["/usr/bin/python3", "train/evaluate.py"] + sys.argv[1:]),
        "engine": args.engine,
        "settings": args.settings,
        "model": os.path.relpath(model, os.path.dirname(TRAIN_DIR)),
        "model_sha256": sha256(model),
        "questions": len(rows),
        "seconds": round(time.time() - t0, 1),
        "summary": summary,
    }
    with open(os.path.join(d, name + ".json"), "w") as f:
        json.dump(result, f, indent=1)
    with open(os.path.join(d, name + "_answers.jsonl"), "w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
    print(f"\nevaluate: {len(rows)} answers in {result['seconds']} s -> {os.path.join(d, name + '.json')}")


if __name__ == "__main__":
    main()
