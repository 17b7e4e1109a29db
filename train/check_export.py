"""check_export.py — does llmscope run the exported GGUF as PyTorch runs the model?

  /usr/bin/python3 train/check_export.py --config train/configs/smoke.json [--llmscope ./llmscope]

Two checks:
 1. The file: its tensors, read back and dequantised, against the training checkpoint
    (train/out/NAME/model.pt, when present): exact for f32, within rounding for f16/q8_0.
 2. The runtime: for a few questions llmscope (CPU engine, greedy, no repetition penalty)
    answers with a --trace file, which holds for every generated token its position and
    the 16 largest logits. PyTorch, with the weights read from the same GGUF, scores the
    same token sequence; the prompt lengths must be equal (chat template and tokenizer),
    the logits must agree within 1e-3 of the largest |logit| and the greedy token must be
    the same. A wrong rope layout, head grouping or tensor orientation fails this.
Exits 1 on disagreement.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch  # noqa: E402

import dialogue  # noqa: E402
import from_gguf  # noqa: E402
import gguf_file as G  # noqa: E402
from config import TRAIN_DIR, load_config, out_dir  # noqa: E402
from export_gguf import tensor_names  # noqa: E402

QUESTIONS = ["What does apple mean?", "Give me a synonym of big.", "What is the opposite of hot?",
             "Use dog in a sentence.", "What kind of thing is a house?", "What does blorvish mean?",
             "Hello"]
TOLERANCE = 1e-3  # times the largest |logit|
ROUNDING = {0: 0.0, 1: 1e-3, 8: 1e-2}  # ggml type -> allowed |difference| / max|weight|


def check_file(gguf, checkpoint_path):
    if not os.path.exists(checkpoint_path):
        print("  (no checkpoint here: the file's tensors are not compared with it)")
        return
    state = torch.load(checkpoint_path, map_location="cpu")["state_dict"]
    _, tensors = G.read_gguf(gguf)
    n_layers = 1 + max(int(k.split(".")[1]) for k in state if k.startswith("layers."))
    worst = 0.0
    for pname, gname in tensor_names(n_layers).items():
        dims, gtype, raw = tensors[gname]
        a = G.tensor_array(dims, gtype, raw)
        ref = state[pname].float().numpy()
        if a.shape != ref.shape:
            raise SystemExit(f"{gname}: shape {a.shape} in the file, {ref.shape} in the checkpoint")
        rel = float(abs(a - ref).max() / max(1e-12, abs(ref).max()))
        worst = max(worst, rel)
        if rel > ROUNDING[gtype]:
            raise SystemExit(f"{gname}: differs from the checkpoint by {rel:.2e} x max|w|")
    print(f"  file: every tensor matches the checkpoint (worst {worst:.1e} x max|w|)")


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
    check_file(gguf, os.path.join(d, "model.pt"))
    model, tok, _ = from_gguf.load(gguf)
    tol = TOLERANCE

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
            if top_ids[0] != int(ref_top.indices[0]) and float(ref_top.values[0] - ref_top.values[1]) > tol * scale:
                raise SystemExit(f"{q!r} at position {s['pos']}: greedy token {top_ids[0]} vs "
                                 f"PyTorch {int(ref_top.indices[0])}")
        print(f"  {q!r} -> {text.strip()!r}")
    print(f"check_export: {len(QUESTIONS)} answers, every generated position's top-16 logits agree "
          f"(worst difference {worst:.1e} x max|logit|, tolerance {tol:g})")


if __name__ == "__main__":
    main()
