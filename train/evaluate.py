"""evaluate.py — how often the dictionary model is right, and whether its confidence shows it.

  /usr/bin/python3 train/evaluate.py --config train/configs/smoke.json \
      [--model FILE.gguf] [--llmscope ./llmscope] [--engine llmscope|torch] [--jobs N]

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

def ask_llmscope(binary, model, question, max_tokens):
    with tempfile.TemporaryDirectory() as tmp:
        trace = os.path.join(tmp, "trace.jsonl")
        r = subprocess.run([binary, "-m", model, "--backend", "cpu", "-p", question, "--temp", "0",
                            "--repeat-penalty", "1", "-n", str(max_tokens), "--trace", trace],
                           capture_output=True, text=True, timeout=600)
        if r.returncode != 0:
            raise RuntimeError(f"llmscope failed on {question!r}: {r.stderr.strip()}")
        with open(trace) as f:
            steps = [json.loads(line) for line in f]
    return r.stdout.strip(), [(s["prob"], s["entropy"]) for s in steps]


class TorchEngine:
    """The same questions answered by PyTorch with the weights of the same GGUF."""

    def __init__(self, gguf):
        import from_gguf
        self.model, self.tok, _ = from_gguf.load(gguf)

    def ask(self, question, max_tokens):
        import infer
        text, steps = infer.reply(self.model, self.tok, [{"role": "user", "content": question}], max_tokens)
        return text.strip(), [(p, h) for _, p, h in steps]


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
    for wordings in ("heldout", "train"):
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


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", required=True)
    ap.add_argument("--model", help="GGUF file (default: the exported one in train/out/NAME)")
    ap.add_argument("--llmscope", default=os.path.join(os.path.dirname(TRAIN_DIR), "llmscope"))
    ap.add_argument("--engine", choices=["llmscope", "torch"], default="llmscope")
    ap.add_argument("--jobs", type=int, default=1, help="questions answered in parallel (llmscope)")
    ap.add_argument("--limit", type=int, help="only the first N questions (a quick look)")
    ap.add_argument("--max-tokens", type=int, default=96)
    args = ap.parse_args()
    cfg = load_config(args.config)
    d = out_dir(cfg)
    model = args.model or os.path.join(d, cfg["export"]["file"])
    with open(os.path.join(d, "data", "eval.jsonl")) as f:
        questions = [json.loads(line) for line in f]
    if args.limit:
        questions = questions[:args.limit]

    t0 = time.time()
    if args.engine == "llmscope":
        def ask(q):
            return ask_llmscope(args.llmscope, model, q["question"], args.max_tokens)
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            answers = list(pool.map(ask, questions))
    else:
        engine = TorchEngine(model)
        answers = [engine.ask(q["question"], args.max_tokens) for q in questions]

    rows = []
    for q, (answer, steps) in zip(questions, answers):
        exact, near, verdict = score(q, answer)
        rows.append({"group": q["group"], "wordings": q["wordings"], "intent": q["intent"],
                     "word": q["word"], "question": q["question"], "answer": answer,
                     "reference": q["reference"], "exact": exact, "near_exact": near,
                     "verdict": verdict, "n_tokens": len(steps), "confidence": confidence(steps)})
    summary = summarize(rows)
    print_summary(summary)

    result = {
        "config": cfg["name"],
        "command": " ".join(["/usr/bin/python3", "train/evaluate.py"] + sys.argv[1:]),
        "engine": args.engine,
        "model": os.path.relpath(model, os.path.dirname(TRAIN_DIR)),
        "model_sha256": sha256(model),
        "questions": len(rows),
        "seconds": round(time.time() - t0, 1),
        "summary": summary,
    }
    with open(os.path.join(d, "eval.json"), "w") as f:
        json.dump(result, f, indent=1)
    with open(os.path.join(d, "eval_answers.jsonl"), "w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
    print(f"\nevaluate: {len(rows)} questions in {result['seconds']} s -> {os.path.join(d, 'eval.json')}")


if __name__ == "__main__":
    main()
