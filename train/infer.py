"""infer.py — greedy chat replies from the PyTorch model (for checks and the fallback
evaluation; llmscope itself is the reference runtime)."""

import math

import torch

import dialogue


@torch.no_grad()
def reply(model, tok, messages, max_tokens=96):
    """Greedy reply to MESSAGES (rendered with the default system turn when none).
    Returns (text, [(id, probability, entropy) per generated token, end token included])."""
    model.eval()
    prompt = dialogue.render_chatml(messages, add_generation_prompt=True)
    ids = tok.encode(prompt, parse_special=True)
    # user text is encoded without special parsing in llmscope; the prompts used here
    # contain no control-token text, so the two agree
    end = tok.id_of[dialogue.IM_END]
    device = next(model.parameters()).device
    out, steps = [], []
    for _ in range(max_tokens):
        x = torch.tensor([ids[-model.cfg.context:]], dtype=torch.long, device=device)
        logits = model(x)[0, -1].float()
        p = logits.softmax(-1)
        nxt = int(p.argmax())
        ent = float(-(p * p.clamp_min(1e-30).log()).sum())
        steps.append((nxt, float(p[nxt]), ent))
        if nxt == end:
            break
        ids.append(nxt)
        out.append(nxt)
    return tok.decode(out), steps


def mean(xs):
    return sum(xs) / len(xs) if xs else math.nan
