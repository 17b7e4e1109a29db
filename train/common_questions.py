"""common_questions.py — one question set for comparing two configurations' models.

  /usr/bin/python3 train/common_questions.py --known smoke --made-up medium

Each configuration's evaluation asks about its own words, so two models are compared on
questions both can be asked fairly: the known-word questions of KNOWN's evaluation (its
words must be trained in both: `smoke`'s are the most frequent words of SemCor, which every
larger configuration includes) and the made-up-word questions of MADE_UP's evaluation (made
up after every word of both training pools: the made-up words are drawn from one seeded
stream, the larger pool holds the smaller one). Writes data/common.jsonl into both
configurations' output folders; `evaluate.py --questions common` asks them.

--more-made-up N adds N made-up words drawn from the same stream after MADE_UP's
evaluation words (so in no training pool either), asked the same way (intents in turn,
one held-out and one training wording each). An evaluation's 100 made-up words tell a
model that refuses 98% from one that refuses 99% only by chance; the shipped model
refuses nearly all of them, so the comparison needs more.
"""

import argparse
import json
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import prepare_data  # noqa: E402
from config import TRAIN_DIR, load_config, out_dir  # noqa: E402
from wordnet import WordNet  # noqa: E402


def read(cfg, name):
    with open(os.path.join(out_dir(cfg), "data", name)) as f:
        return [json.loads(line) for line in f] if name.endswith(".jsonl") else json.load(f)


def more_made_up(cfg, n, wordnet):
    """N made-up-word questions after CFG's whole stream (training pool and evaluation
    words), as prepare_data.py draws it."""
    d = cfg["data"]
    wn = WordNet(wordnet)
    rng = random.Random(cfg["seed"])  # prepare_data.py's stream: made-up words come first
    pool = d["n_fake_train"] + d["n_fake_eval"]
    words = prepare_data.made_up_words(wn, pool + n, rng, prepare_data.gloss_vocabulary(wn))
    lex = read(cfg, "lexicon.json")
    if set(words[:pool]) != set(lex["made_up_train"]) | set(lex["made_up_eval"]):
        raise SystemExit(f"common_questions: the made-up words drawn again differ from {cfg['name']}'s")
    return prepare_data.made_up_questions(words[pool:], random.Random(cfg["seed"] + 2))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--known", required=True, help="the configuration whose known-word questions are asked")
    ap.add_argument("--made-up", required=True, help="the one whose made-up-word questions are asked")
    ap.add_argument("--more-made-up", type=int, default=0, metavar="N", help="N more made-up words")
    ap.add_argument("--wordnet", default="/usr/share/wordnet")
    args = ap.parse_args()
    ck = load_config(os.path.join(TRAIN_DIR, "configs", args.known + ".json"))
    cm = load_config(os.path.join(TRAIN_DIR, "configs", args.made_up + ".json"))
    known = [q for q in read(ck, "eval.jsonl") if q["group"] == "known"]
    made_up = [q for q in read(cm, "eval.jsonl") if q["group"] == "made_up"]
    if args.more_made_up > prepare_data.EVAL_RESERVE:
        raise SystemExit(f"common_questions: at most {prepare_data.EVAL_RESERVE} more made-up words "
                         "(prepare_data.py keeps the look-alike words clear of that many)")
    if args.more_made_up > 0:
        made_up += more_made_up(cm, args.more_made_up, args.wordnet)
    # the checks that make the comparison fair
    lex_k, lex_m = read(ck, "lexicon.json"), read(cm, "lexicon.json")
    missing = {q["word"] for q in known} - set(lex_m["known"])
    trained = (set(lex_k["made_up_train"]) | set(lex_m["made_up_train"])
               | prepare_data.trained_lookalikes(os.path.join(out_dir(ck), "data"))
               | prepare_data.trained_lookalikes(os.path.join(out_dir(cm), "data")))
    seen = {q["word"] for q in made_up} & trained
    if len({q["word"] for q in made_up}) * 2 != len(made_up):
        raise SystemExit("common_questions: a made-up word is asked twice")
    if missing or seen:
        raise SystemExit(f"common_questions: not comparable: {len(missing)} known words untrained in "
                         f"{args.made_up}, {len(seen)} made-up words seen in training")
    for cfg in (ck, cm):
        path = os.path.join(out_dir(cfg), "data", "common.jsonl")
        with open(path, "w") as f:
            for q in known + made_up:
                f.write(json.dumps(q, sort_keys=True) + "\n")
        print(f"common_questions: {len(known)} known-word and {len(made_up)} made-up-word questions -> {path}")


if __name__ == "__main__":
    main()
