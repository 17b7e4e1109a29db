"""compare_models.py — does a new dictionary model beat the shipped one? The table of docs/dictionary-model.md.

  /usr/bin/python3 train/compare_models.py train/results/smoke.common train/out/medium/common
  /usr/bin/python3 train/compare_models.py --made-up-only OLD.lookalike NEW.lookalike

Each argument is a prefix P of two evaluate.py results on the same common questions
(common_questions.py) at the app's settings: P-app.json (evaluate.py --questions common
--settings app, written as common-app.json) and P-app-conversation.json (the same with
--conversation). Prints the near-exact rate of each row, old then new, as a Markdown table,
and exits 0 only when the new model is better on every row, the rule for shipping it
(issue 15: "better than today's on each row"); 1 otherwise.

The rows: held-out wordings (known words, made-up words), the held-out questions asked as
questions 5-10 of a conversation (known, made-up), training wordings (known, made-up).
--made-up-only keeps the made-up rows, for question sets with no known words (the
look-alike words of prepare_data.py, evaluate.py --questions lookalike).
"""

import json
import sys

ROWS = [  # (label, file suffix, part of the summary, group)
    ("held-out wordings, known words", "-app.json", "heldout", "known"),
    ("held-out wordings, made-up words", "-app.json", "heldout", "made_up"),
    ("questions 5-10 of a conversation, known words", "-app-conversation.json", "conversation", "known"),
    ("questions 5-10 of a conversation, made-up words", "-app-conversation.json", "conversation", "made_up"),
    ("training wordings, known words", "-app.json", "train", "known"),
    ("training wordings, made-up words", "-app.json", "train", "made_up"),
]


def rates(prefix, rows):
    """The near-exact rate of every row, and the model file each result was measured on."""
    out, models = [], set()
    for _, suffix, part, group in rows:
        with open(prefix + suffix) as f:
            result = json.load(f)
        if result.get("settings") != "app":
            raise SystemExit(f"compare_models: {prefix + suffix} was not measured at the app's settings")
        models.add(result.get("model_sha256", "?")[:12])
        out.append(result["summary"][part][group]["near_exact"])
    return out, models


def main():
    args = sys.argv[1:]
    rows = ROWS
    if args[:1] == ["--made-up-only"]:
        args, rows = args[1:], [r for r in ROWS if r[3] == "made_up"]
    if len(args) != 2:
        raise SystemExit(__doc__.split("\n\n")[1].strip())
    old, old_models = rates(args[0], rows)
    new, new_models = rates(args[1], rows)
    print(f"| questions | old ({', '.join(sorted(old_models))}) | new ({', '.join(sorted(new_models))}) |")
    print("|---|---|---|")
    better = worse = 0
    for (label, *_), a, b in zip(rows, old, new):
        better, worse = better + (b > a), worse + (b < a)
        print(f"| {label} | {a:.3f} | {b:.3f} ({'better' if b > a else 'worse' if b < a else 'equal'}) |")
    ships = better == len(rows)
    print(f"\nbetter on {better}, equal on {len(rows) - better - worse}, worse on {worse} of {len(rows)} rows: "
          + ("not better on every row" if not ships else "ship it" if rows is ROWS else "better on every row"))
    return 0 if ships else 1


if __name__ == "__main__":
    sys.exit(main())
