"""check_export.py — does llmscope run the exported GGUF like PyTorch runs the checkpoint?

  /usr/bin/python3 train/check_export.py --config train/configs/smoke.json [--llmscope ./llmscope]

For a few questions, llmscope (CPU engine, greedy, no repetition penalty) answers with a
--trace file; the trace holds, for every generated token, its position and the 16 largest
logits. PyTorch then scores the same token sequence and the two must agree: same prompt
length (template + tokenizer), same top-16 ids, logits within a tolerance (f32 export:
1e-3 relative to the largest logit; f16/q8_0 exports are rounded, so the bound is looser
and only the greedy choice must agree). Exits 1 on disagreement.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch  # noqa: E402

import bpe  # noqa: E402
import dialogue  # noqa: E402
from config import TRAIN_DIR, load_config, out_dir  # noqa: E402
from model import Llama, ModelConfig  # noqa: E402

QUESTIONS = ["What does apple mean?", "Give me a synonym of big.", "What is the opposite of hot?",
             "Use dog in a sentence.", "What kind of thing is a house?", "What does blorvish mean?",
             "Hello"]
TOLERANCE = {"f32": 1e-3, "f16": 2e-2, "q8_0": 5e-2}  # times the largest |logit|


def run_llmscope(binary, model, question, n_predict):
    with tempfile.TemporaryDirectory() as tmp:
        trace = os.path.join(tmp, "trace.jsonl")
        r = subprocess.run([binary, "-m", model, "--backend", "cpu", "-p", question, "--temp", "0",
                            "--repeat-penalty", "1", "-n", str(n_predict), "--trace", trace],
                           capture_output=True, text=True, timeout=300)
        if r.returncode != 0:
            raise SystemExit(f"llmscope failed on {question!r}: {r.stderr.strip()}")
        with open(trace) as f:
            return r.stdout, [json.loads(line) for line in f]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", required=True)
    ap.add_argument("--llmscope", default=os.path.join(os.path.dirname(TRAIN_DIR), "llmscope"))
    ap.add_argument("--model", help="the GGUF to check (default: the exported one)")
    ap.add_argument("--n-predict", type=int, default=48)
    args = ap.parse_args()
    cfg = load_config(args.config)
    d = out_dir(cfg)
    gguf = args.model or os.path.join(d, cfg["export"]["file"])
    tok = bpe.Tokenizer.load(os.path.join(d, "tokenizer.json"))
    ck = torch.load(os.path.join(d, "model.pt"), map_location="cpu")
    model = Llama(ModelConfig(**ck["model_config"]))
    model.load_state_dict(ck["state_dict"])
    model.eval()
    tol = TOLERANCE[cfg["export"]["type"]]

    worst = 0.0
    for q in QUESTIONS:
        text, steps = run_llmscope(args.llmscope, gguf, q, args.n_predict)
        prompt = tok.encode(dialogue.render_chatml([{"role": "user", "content": q}], True))
        if steps[0]["pos"] != len(prompt):
            raise SystemExit(f"{q!r}: llmscope's prompt has {steps[0]['pos']} tokens, the training "
                             f"template {len(prompt)}: the chat template or tokenizer differs")
        seq = prompt + [s["id"] for s in steps]
        with torch.no_grad():
            logits = model(torch.tensor([seq[:-1]]))[0]
        for s in steps:
            ref = logits[s["pos"] - 1]
            scale = float(ref.abs().max())
            top_ids = [t["id"] for t in s["top_before"]]
            ref_top = ref.topk(len(top_ids))
            diff = max(abs(t["logit"] - float(ref[t["id"]])) for t in s["top_before"]) / scale
            worst = max(worst, diff)
            if diff > tol:
                raise SystemExit(f"{q!r} at position {s['pos']}: logits differ by {diff:.2e} x max|logit| "
                                 f"(tolerance {tol:g})")
            if top_ids[0] != int(ref_top.indices[0]) and cfg["export"]["type"] == "f32":
                raise SystemExit(f"{q!r} at position {s['pos']}: greedy token {top_ids[0]} vs "
                                 f"PyTorch {int(ref_top.indices[0])}")
        print(f"  {q!r} -> {text.strip()!r}")
    print(f"check_export: {len(QUESTIONS)} answers, every generated position's top-16 logits agree "
          f"(worst difference {worst:.1e} x max|logit|, tolerance {tol:g})")


if __name__ == "__main__":
    main()
