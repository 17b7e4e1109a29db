"""check_tokenizer.py — does llmscope tokenize like the training tokenizer?

  /usr/bin/python3 train/check_tokenizer.py --config train/configs/smoke.json \
      [--llmscope ./llmscope] [--n 300]

Runs `llmscope tokenize --special --ids` on rendered training conversations, evaluation
questions and awkward texts (digits, punctuation runs, spaces, newlines, non-ASCII) and
compares the ids with bpe.py's (and, where the regex module is installed, bpe.py's
hand-written pre-tokenizer with the expression). Exits 1 on the first disagreement.
"""

import argparse
import os
import random
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bpe  # noqa: E402
import data  # noqa: E402
from config import TRAIN_DIR, load_config, out_dir  # noqa: E402

AWKWARD = [
    "What does apple mean?", "  two  spaces   and a tab\tthen\nnewline\n\n", "don't can't I'll we've",
    "numbers 12345 and 3.14159, 1,000,000", "café naïve jalapeño — “quotes” … ¿qué?", "日本語のテキスト",
    "emoji 🍎🍏 and ZWJ 👩‍💻", "trailing space ", " leading space", "<|im_start|>user\nhi<|im_end|>\n",
    "!!!???...;;;", "a-b_c/d\\e", "MiXeD CaSe WORDS", "x" * 300, "\r\nCRLF\r\n", "",
]


def llmscope_ids(binary, model, text):
    r = subprocess.run([binary, "tokenize", "-m", model, "--special", "--ids", text],
                       capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise SystemExit(f"llmscope tokenize failed: {r.stderr.strip()}")
    return [int(x) for x in r.stdout.split()]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", required=True)
    ap.add_argument("--llmscope", default=os.path.join(os.path.dirname(TRAIN_DIR), "llmscope"))
    ap.add_argument("--model", help="GGUF to read the vocabulary from (default: the exported one)")
    ap.add_argument("--n", type=int, default=300, help="training conversations to check")
    args = ap.parse_args()
    cfg = load_config(args.config)
    d = out_dir(cfg)
    model = args.model or os.path.join(d, cfg["export"]["file"])
    tok = bpe.Tokenizer.load(os.path.join(d, "tokenizer.json"))
    items = data.load_items(os.path.join(d, "data", "items.jsonl"))

    rng = random.Random(1)
    convs = data.epoch_conversations(items, cfg["seed"], 0, cfg["train"]["max_turns"],
                                                    cfg["data"].get("extra_wordings", False))
    texts = AWKWARD + [data.conversation_text(s, t) for s, t in rng.sample(convs, min(args.n, len(convs)))]
    renderer = data.Renderer(tok)
    for s, t in convs[:args.n]:
        # the renderer's piecewise encoding is what training sees: it must equal the whole
        text = data.conversation_text(s, t)
        if renderer.conversation(s, t)[0] != tok.encode(text):
            raise SystemExit(f"piecewise encoding differs from the whole text for:\n{text}")
    if bpe.GPT2_PATTERN is not None:
        # the hand-written pre-tokenizer (used where the regex module is missing) must
        # cut the same pieces as the expression
        for text in texts:
            for fragment in tok.special_re.split(text):
                by_hand, at = [], 0
                for start, end in bpe._gpt2_matches(fragment):
                    by_hand += ([fragment[at:start]] if start > at else []) + [fragment[start:end]]
                    at = end
                by_hand += [fragment[at:]] if at < len(fragment) else []
                if by_hand != bpe.pieces(fragment):
                    raise SystemExit(f"the fallback pre-tokenizer differs on {fragment!r}")
    for i, text in enumerate(texts):
        want = tok.encode(text, parse_special=True)
        got = llmscope_ids(args.llmscope, model, text)
        if got != want:
            print(f"MISMATCH on text {i}: {text!r}\n  python:   {want}\n  llmscope: {got}")
            sys.exit(1)
    print(f"check_tokenizer: {len(texts)} texts tokenized identically by llmscope and bpe.py")


if __name__ == "__main__":
    main()
