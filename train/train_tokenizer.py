"""train_tokenizer.py — learns the model's byte-level BPE vocabulary from its own data.

  /usr/bin/python3 train/train_tokenizer.py --config train/configs/smoke.json

The corpus is the text of the first tokenizer.corpus_epochs training epochs (default 1;
every training answer and system prompt is in each, with its real frequency), split at
control tokens and cut by the "gpt-2" pre-tokenizer. Writes train/out/NAME/tokenizer.json.
"""

import argparse
import os
import re
import sys
import time
from collections import Counter

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bpe  # noqa: E402
import data  # noqa: E402
import dialogue  # noqa: E402
from config import load_config, out_dir  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", required=True)
    args = ap.parse_args()
    cfg = load_config(args.config)
    d = out_dir(cfg)
    items = data.load_items(os.path.join(d, "data", "items.jsonl"))

    t0 = time.time()
    special = re.compile("|".join(re.escape(s) for s in dialogue.SPECIAL_TOKENS))
    counts = Counter()
    for epoch in range(cfg["tokenizer"].get("corpus_epochs", 1)):
        for system, turns in data.epoch_conversations(items, cfg["seed"], epoch, cfg["train"]["max_turns"],
                                                    cfg["data"].get("extra_wordings", False)):
            text = data.conversation_text(system, turns)
            for fragment in special.split(text):
                counts.update(bpe.pieces(fragment))
    tokens, merges = bpe.train_bpe(counts, cfg["tokenizer"]["vocab_size"], dialogue.SPECIAL_TOKENS)
    tok = bpe.Tokenizer(tokens, merges, dialogue.SPECIAL_TOKENS)
    tok.save(os.path.join(d, "tokenizer.json"))
    print(f"train_tokenizer: {len(counts)} distinct pieces, {len(tokens)} tokens, {len(merges)} merges "
          f"in {time.time() - t0:.1f} s -> {os.path.join(d, 'tokenizer.json')}")


if __name__ == "__main__":
    main()
