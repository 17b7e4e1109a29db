"""prepare_data.py — WordNet 3.0 -> question/answer items for training and evaluation.

  /usr/bin/python3 train/prepare_data.py --config train/configs/smoke.json

Writes into train/out/NAME/data/:
  items.jsonl     one training item per line: {"intent", "word", "answer", "weight",
                  "made_up"}; the question is worded anew every epoch (data.py) from the
                  training wordings of dialogue.py; weight: times per epoch (a fraction
                  is a chance)
  eval.jsonl      evaluation questions: trained words and made-up words, each asked with
                  a held-out wording and with a training wording, plus what the dictionary
                  accepts as a right answer
  lexicon.json    the known words and the made-up words (for the README and checks)
and, when the configuration asks for look-alike words (data.n_lookalike_train):
  lookalike_items.jsonl  made-up words that look like known ones, as training items for
                  the fine-tuning stage only (train.py --finetune)
  lookalike.jsonl held-out look-alike words, asked as eval.jsonl asks made-up words

Everything is a pure function of the WordNet files and the config's seed: sets are
sorted before any random choice, and one random.Random(seed) drives every choice (the
look-alike words have a stream of their own, so the files above do not depend on them).
"""

import argparse
import json
import os
import random
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dialogue  # noqa: E402
from config import load_config, out_dir  # noqa: E402
from wordnet import WordNet  # noqa: E402

# A lemma the model is asked about: letters, with inner spaces, hyphens, apostrophes or
# periods ("ice cream", "well-known", "o'clock", "a.m."), at most 40 characters.
LEMMA_OK = re.compile(r"^[a-z][a-z' .-]{0,38}[a-z.]$")


def clean_definition(d):
    d = d.strip().rstrip(".").strip()
    return re.sub(r"\s+", " ", d)


def word_entry(wn, w):
    """Everything the training answers and the evaluation need to know about W."""
    pos = wn.main_pos(w)
    first = wn.senses[w][pos][0]
    syns, ants, hypers, examples = wn.synonyms(w), wn.antonyms(w), wn.hypernyms(w), wn.examples(w)
    return {
        "word": w,
        "pos": pos,
        "definition": clean_definition(wn.synsets[first].definition),
        "all_definitions": [clean_definition(d) for _, d in wn.definitions(w)],
        "synonyms": syns,
        "antonyms": ants,
        "hypernyms": hypers,
        "examples": examples,
        "has_noun": "n" in wn.senses[w],
    }


def answers_for(e):
    """The trained answer of each intent for one word entry."""
    w = e["word"]
    return {
        "meaning": dialogue.answer_meaning(w, e["pos"], e["definition"]),
        "synonym": dialogue.answer_synonym(w, e["synonyms"][0] if e["synonyms"] else None),
        "opposite": dialogue.answer_opposite(w, e["antonyms"][0] if e["antonyms"] else None),
        "sentence": dialogue.answer_sentence(w, e["examples"][0] if e["examples"] else None),
        "kind": dialogue.answer_kind(w, e["hypernyms"][0] if e["hypernyms"] else None, e["pos"]),
    }


def choose_words(wn, cfg):
    candidates = sorted(w for w in wn.senses if LEMMA_OK.match(w))
    if cfg["words"] == "all":
        return candidates
    # "common": the most frequent single words by SemCor count (ties alphabetical), plus
    # the config's must-have words.
    singles = [w for w in candidates if w.isalpha() and len(w) >= cfg.get("min_length", 3)]
    singles.sort(key=lambda w: (-wn.tag_count[w], w))
    chosen = set(singles[:cfg["n_words"]])
    for w in cfg.get("include", []):
        if w not in wn.senses:
            raise SystemExit(f"include: '{w}' is not a WordNet lemma")
        chosen.add(w)
    return sorted(chosen)


# ---- made-up words -------------------------------------------------------------------
# Pronounceable strings built from English-like syllables, kept only if neither they nor
# an obvious stem of them is a WordNet lemma, an irregular form or a word used anywhere in
# WordNet's glosses: "blorvish" yes, "runner" or "cats" no.

ONSETS = ["b", "bl", "br", "c", "cl", "cr", "d", "dr", "f", "fl", "fr", "g", "gl", "gr", "h", "j",
          "k", "l", "m", "n", "p", "pl", "pr", "qu", "r", "s", "sc", "sk", "sl", "sm", "sn", "sp",
          "st", "str", "sw", "t", "th", "tr", "tw", "v", "w", "z", "ch", "sh", ""]
VOWELS = ["a", "e", "i", "o", "u", "ai", "ea", "ee", "oo", "ou", "oa", "y"]
CODAS = ["", "", "", "n", "m", "r", "l", "s", "t", "p", "k", "ck", "nd", "nt", "rk", "rt", "sh",
         "st", "lt", "mp", "ng", "x", "ff", "ll", "rn"]
SUFFIXES = ["", "", "", "ish", "ous", "er", "ing", "ly", "ent", "ism", "ate", "ery", "ize", "al"]
STEM_ENDINGS = ["s", "es", "ed", "d", "ing", "er", "ers", "ly", "ish", "ous", "ness", "ism", "al",
                "ate", "ery", "ize", "ent", "y"]


def gloss_vocabulary(wn):
    words = set()
    for ss in wn.synsets.values():
        for text in [ss.definition] + ss.examples:
            words.update(t.lower() for t in re.findall(r"[A-Za-z]+", text))
    return words


def is_fresh(word, wn, gloss_words):
    if wn.is_known_form(word) or word in gloss_words:
        return False
    for end in STEM_ENDINGS:
        if word.endswith(end) and len(word) - len(end) >= 3:
            stem = word[:-len(end)]
            if wn.is_known_form(stem) or stem in gloss_words or wn.is_known_form(stem + "e"):
                return False
    return True


def made_up_words(wn, n, rng, gloss_words):
    out, seen = [], set()
    while len(out) < n:
        syllables = rng.choice([1, 2, 2, 2, 3])
        w = "".join(rng.choice(ONSETS) + rng.choice(VOWELS) + rng.choice(CODAS)
                    for _ in range(syllables)) + rng.choice(SUFFIXES)
        if not (4 <= len(w) <= 12) or w in seen or not re.match(r"^[a-z]+$", w):
            continue
        seen.add(w)
        if is_fresh(w, wn, gloss_words):
            out.append(w)
    return out


# ---- look-alike words -------------------------------------------------------------------
# The made-up words a trained model still answers as if it knew them look like a word it
# knows: "greatcair" (great), "gasmon" (gas), "parnent" (parent), "thapply" (apply). Those
# of the stream above rarely do, so the fine-tuning stage is also shown words made from
# the known ones: a syllable added at either end, one letter changed, added, dropped or
# two swapped, or the start of one known word joined to the end of another. They pass
# the same freshness test and never coincide with a made-up word any evaluation asks.

EVAL_RESERVE = 2000  # made-up words after the evaluation's, for common_questions --more-made-up


def syllable(rng):
    return rng.choice(ONSETS) + rng.choice(VOWELS) + rng.choice(CODAS)


def edit_letter(w, rng):
    """W with one letter changed (a vowel for a vowel, a consonant for a consonant),
    added, dropped, or two neighbours swapped."""
    vowels, consonants = "aeiou", "bcdfghklmnprstvwz"
    i, op = rng.randrange(len(w)), rng.random()
    if op < 0.4:
        return w[:i] + rng.choice(vowels if w[i] in vowels else consonants) + w[i + 1:]
    if op < 0.7:
        return w[:i] + rng.choice(vowels + consonants) + w[i:]
    if op < 0.85:
        return w[:i] + w[i + 1:]
    return w[:i] + w[i + 1:i + 2] + w[i] + w[i + 2:] if i + 1 < len(w) else w


def lookalike_words(wn, known, n, rng, gloss_words, exclude):
    """N look-alike words made from the KNOWN ones."""
    base = sorted(w for w in known if re.match(r"^[a-z]{3,}$", w))
    out, seen = [], set(exclude)
    while len(out) < n:
        w, kind = rng.choice(base), rng.random()
        if kind < 0.3:
            v = w + syllable(rng)
        elif kind < 0.45:
            v = syllable(rng) + w
        elif kind < 0.85:
            v = edit_letter(w, rng)
        else:
            u = rng.choice(base)
            v = w[:rng.randint(2, len(w) - 1)] + u[rng.randint(1, len(u) - 2):]
        if 4 <= len(v) <= 12 and v not in seen and re.match(r"^[a-z]+$", v) and is_fresh(v, wn, gloss_words):
            seen.add(v)
            out.append(v)
    return out


def trained_lookalikes(d):
    """The look-alike words of data folder D's lookalike_items.jsonl (none without it):
    every check that a question's made-up word was never trained reads them here."""
    path = os.path.join(d, "lookalike_items.jsonl")
    if not os.path.exists(path):
        return set()
    with open(path) as f:
        return {json.loads(line)["word"] for line in f}


def write_lookalikes(wn, cfg, words, gloss_words, d):
    """The fine-tuning stage's look-alike items and their held-out questions."""
    dcfg = cfg["data"]
    n_train, n_eval = dcfg["n_lookalike_train"], dcfg.get("n_lookalike_eval", 0)
    pool = dcfg["n_fake_train"] + dcfg["n_fake_eval"]
    # drawn again as common_questions.py draws them: the whole stream from the seed
    taken = made_up_words(wn, pool + EVAL_RESERVE, random.Random(cfg["seed"]), gloss_words)
    rng = random.Random(cfg["seed"] + 3)
    looks = lookalike_words(wn, words, n_train + n_eval, rng, gloss_words, taken)
    train, held_out = sorted(looks[:n_train]), sorted(looks[n_train:])
    with open(os.path.join(d, "lookalike_items.jsonl"), "w") as f:
        for i, w in enumerate(train):
            # weight: none here; the fine-tuning stage gives them its lookalike_weight
            it = {"intent": dialogue.INTENTS[i % len(dialogue.INTENTS)], "word": w,
                  "answer": dialogue.answer_unknown(w), "weight": 0.0, "made_up": True, "lookalike": True}
            f.write(json.dumps(it, sort_keys=True) + "\n")
    with open(os.path.join(d, "lookalike.jsonl"), "w") as f:
        for q in made_up_questions(held_out, rng):
            f.write(json.dumps(q, sort_keys=True) + "\n")
    print(f"prepare_data: {len(train)}+{len(held_out)} look-alike words -> {d}")


# ---- evaluation set ------------------------------------------------------------------

def eval_questions(entries, fakes, cfg, rng):
    """Questions about N_EVAL_KNOWN trained words (one intent each, cycling through the
    intents) and every held-out made-up word, each worded once with a held-out wording
    and once with a training wording."""
    out = []
    known = rng.sample(entries, min(cfg["n_eval_known"], len(entries)))
    for i, e in enumerate(known):
        intent = dialogue.INTENTS[i % len(dialogue.INTENTS)]
        answers = answers_for(e)
        for split in ("heldout", "train"):
            wording = rng.choice(dialogue.WORDINGS[intent][1 if split == "heldout" else 0])
            out.append({"group": "known", "wordings": split, "intent": intent, "word": e["word"],
                        "question": wording.format(w=e["word"]), "reference": answers[intent],
                        "entry": e})
    return out + made_up_questions(fakes, rng)


def made_up_questions(fakes, rng):
    """Every made-up word asked once with a held-out and once with a training wording,
    intents in turn (common_questions.py asks more the same way)."""
    out = []
    for i, w in enumerate(fakes):
        intent = dialogue.INTENTS[i % len(dialogue.INTENTS)]
        for split in ("heldout", "train"):
            wording = rng.choice(dialogue.WORDINGS[intent][1 if split == "heldout" else 0])
            out.append({"group": "made_up", "wordings": split, "intent": intent, "word": w,
                        "question": wording.format(w=w), "reference": dialogue.answer_unknown(w),
                        "entry": None})
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", required=True)
    ap.add_argument("--wordnet", default="/usr/share/wordnet")
    args = ap.parse_args()
    cfg = load_config(args.config)
    dcfg = cfg["data"]
    rng = random.Random(cfg["seed"])

    for intent in dialogue.INTENTS:  # a held-out wording seen in training would not be held out
        seen = set(dialogue.training_wordings(intent, True)) & set(dialogue.WORDINGS[intent][1])
        if seen:
            raise SystemExit(f"prepare_data: held-out wordings also used in training: {sorted(seen)}")
    wn = WordNet(args.wordnet)
    words = choose_words(wn, dcfg)
    entries = [word_entry(wn, w) for w in words]
    gloss_words = gloss_vocabulary(wn)
    fakes = made_up_words(wn, dcfg["n_fake_train"] + dcfg["n_fake_eval"], rng, gloss_words)
    fake_train, fake_eval = sorted(fakes[:dcfg["n_fake_train"]]), sorted(fakes[dcfg["n_fake_train"]:])

    # Training items. Words common in SemCor get their definition asked more often: they
    # are the ones people ask about, and the ones a small model should get right.
    items = []
    boost = dcfg.get("common_boost", {"min_count": 1 << 30, "meaning_repeats": 1})
    for e in entries:
        common = wn.tag_count[e["word"]] >= boost["min_count"]
        for intent, answer in answers_for(e).items():
            weight = dcfg["repeats"].get(intent, 1)
            if intent == "meaning" and common:
                weight = max(weight, boost["meaning_repeats"])
            items.append({"intent": intent, "word": e["word"], "answer": answer, "weight": weight,
                          "made_up": False})
    # Made-up words: a large pool, each asked with one intent (rotating) and a small
    # weight, so every epoch meets mostly new ones (see data.py).
    for i, w in enumerate(fake_train):
        intent = dialogue.INTENTS[i % len(dialogue.INTENTS)]
        items.append({"intent": intent, "word": w, "answer": dialogue.answer_unknown(w),
                      "weight": dcfg["fake_weight"], "made_up": True})

    evals = eval_questions(entries, fake_eval, dcfg, rng)

    d = os.path.join(out_dir(cfg), "data")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "items.jsonl"), "w") as f:
        for it in items:
            f.write(json.dumps(it, sort_keys=True) + "\n")
    with open(os.path.join(d, "eval.jsonl"), "w") as f:
        for q in evals:
            f.write(json.dumps(q, sort_keys=True) + "\n")
    with open(os.path.join(d, "lexicon.json"), "w") as f:
        json.dump({"known": words, "made_up_train": fake_train, "made_up_eval": fake_eval}, f,
                  indent=0, sort_keys=True)
    if dcfg.get("n_lookalike_train", 0) > 0:
        write_lookalikes(wn, cfg, words, gloss_words, d)
    n_weighted = sum(it["weight"] for it in items)
    print(f"prepare_data: {len(words)} words, {len(fake_train)}+{len(fake_eval)} made-up words, "
          f"{len(items)} items ({n_weighted:.0f} per epoch with repeats), {len(evals)} eval questions "
          f"-> {d}")


if __name__ == "__main__":
    main()
