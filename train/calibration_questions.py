"""calibration_questions.py — questions for fitting a detector of wrong answers
(`llmscope calibrate`), kept apart from the evaluation.

  /usr/bin/python3 train/calibration_questions.py --config train/configs/smoke.json

Writes train/out/NAME/data/calib.jsonl in eval.jsonl's form: trained words that the
evaluation does not ask about (one intent each, in turn) and made-up words that are in
neither the training pool nor the evaluation, each asked with a held-out wording and a
training wording. A detector fitted on the answers to these and tested on the
evaluation's never sees an evaluation question, word or made-up word.
"""

import argparse
import json
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import prepare_data as P  # noqa: E402
from config import load_config, out_dir  # noqa: E402
from wordnet import WordNet  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", required=True)
    ap.add_argument("--wordnet", default="/usr/share/wordnet")
    ap.add_argument("--n-known", type=int, default=400, help="trained words (at most those the evaluation leaves)")
    ap.add_argument("--n-made-up", type=int, default=150)
    args = ap.parse_args()
    cfg = load_config(args.config)
    d = os.path.join(out_dir(cfg), "data")
    with open(os.path.join(d, "eval.jsonl")) as f:
        evals = [json.loads(line) for line in f]
    with open(os.path.join(d, "lexicon.json")) as f:
        lexicon = json.load(f)
    asked = {q["word"] for q in evals}
    rng = random.Random(cfg["seed"] * 31 + 7)

    wn = WordNet(args.wordnet)
    known = [w for w in lexicon["known"] if w not in asked]
    known = rng.sample(known, min(args.n_known, len(known)))
    entries = [P.word_entry(wn, w) for w in known]
    taken = set(lexicon["made_up_train"]) | set(lexicon["made_up_eval"])
    # nor a look-alike word of the fine-tuning stage (drawn from another stream: it would
    # coincide only by chance, and the count drawn stays as it was, so does this file)
    looks = P.trained_lookalikes(d)
    fakes = [w for w in P.made_up_words(wn, args.n_made_up + len(taken), rng, P.gloss_vocabulary(wn))
             if w not in taken and w not in looks][:args.n_made_up]
    cal = dict(cfg["data"], n_eval_known=len(entries))
    questions = P.eval_questions(entries, fakes, cal, rng)
    with open(os.path.join(d, "calib.jsonl"), "w") as f:
        for q in questions:
            f.write(json.dumps(q, sort_keys=True) + "\n")
    print(f"calibration_questions: {len(entries)} known and {len(fakes)} made-up words, {len(questions)} questions "
          f"-> {os.path.join(d, 'calib.jsonl')}")


if __name__ == "__main__":
    main()
