"""train.py — trains the dictionary model from the prepared items and tokenizer.

  /usr/bin/python3 train/train.py --config train/configs/smoke.json     (CPU)
  python3 train/train.py --config train/configs/full.json               (GPU machine)

Reads train/out/NAME/{data/items.jsonl, tokenizer.json}; writes train/out/NAME/model.pt
(weights and model shape) and train/out/NAME/train.log.

Reproducibility: the seed fixes the initial weights, every epoch's wording, shuffling and
packing (data.py) and the order of rows; on the CPU the same thread count gives the same
file bit for bit. On a GPU, bf16 autocast and cuBLAS/flash-attention reductions are not
bit-reproducible, so two runs agree in their answers, not in every bit.
Epochs are built in worker processes while the model trains on the previous one.

Long runs can be cut into pieces (the GPU machine runs commands of at most 10 minutes):
--max-minutes M pauses after M minutes, saving train/out/NAME/resume.pt (weights,
optimizer state, step, position in the data stream), and exits with status 3;
--resume continues from it. The pieces together train exactly as one run would.

--finetune then runs the configuration's short last stage, if it has one (train.finetune,
below), on the main stage's weights; run.sh does it.
"""

import argparse
import json
import math
import multiprocessing
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy as np  # noqa: E402
import torch  # noqa: E402

import bpe  # noqa: E402
import data  # noqa: E402
import infer  # noqa: E402
from config import load_config, out_dir  # noqa: E402
from model import Llama, ModelConfig  # noqa: E402

# ---- epochs, built in worker processes ----------------------------------------------

_worker = {}  # per worker process: the items, the renderer and its encoding cache


def _worker_init(items_paths, tokenizer_path):
    _worker["items"] = [it for path in items_paths for it in data.load_items(path)]
    _worker["renderer"] = data.Renderer(bpe.Tokenizer.load(tokenizer_path))


def build_epoch(seed, epoch, max_turns, seq_len, extra_wordings, reweigh):
    convs = data.epoch_conversations(_worker["items"], seed, epoch, max_turns, extra_wordings, reweigh)
    tokens, learn = data.pack_epoch(_worker["renderer"], convs, seq_len)
    # rows in a seeded order, so batches mix conversations from the whole epoch
    order = np.random.default_rng(seed * 7919 + epoch).permutation(len(tokens))
    return tokens[order], learn[order]


class EpochStream:
    """Yields (tokens, learn) batches, epoch after epoch, with PREFETCH epochs being built
    ahead in worker processes."""

    def __init__(self, d, cfg, batch_size, prefetch, seed=None, reweigh=None, more_items=()):
        t = cfg["train"]
        self.args = (cfg["seed"] if seed is None else seed, t["max_turns"], t["seq_len"],
                     cfg["data"].get("extra_wordings", False), reweigh)
        self.batch_size = batch_size
        # spawn, not fork: the parent may already hold a CUDA context
        self.pool = ProcessPoolExecutor(max_workers=prefetch, initializer=_worker_init,
                                        mp_context=multiprocessing.get_context("spawn"),
                                        initargs=([os.path.join(d, "data", name)
                                                   for name in ("items.jsonl",) + tuple(more_items)],
                                                  os.path.join(d, "tokenizer.json")))
        self.prefetch = prefetch
        self.futures = {}
        self.epoch = -1
        self.rows = None
        self.at = 0

    def _ask(self, e):
        if e not in self.futures:
            self.futures[e] = self.pool.submit(build_epoch, self.args[0], e, *self.args[1:])

    def seek(self, epoch, at):
        """Continue from row AT of EPOCH (as saved by a paused run)."""
        self.epoch = epoch
        for e in range(epoch, epoch + self.prefetch + 1):
            self._ask(e)
        self.rows = self.futures.pop(epoch).result()
        self.at = at

    def next_batch(self):
        if self.rows is None or self.at + self.batch_size > len(self.rows[0]):
            self.epoch += 1
            for e in range(self.epoch, self.epoch + self.prefetch + 1):
                self._ask(e)
            self.rows = self.futures.pop(self.epoch).result()
            self.at = 0
        tokens, learn = self.rows
        sl = slice(self.at, self.at + self.batch_size)
        self.at += self.batch_size
        return tokens[sl], learn[sl]

    def close(self):
        self.pool.shutdown(wait=False, cancel_futures=True)


# ---- training --------------------------------------------------------------------------

def lr_at(step, t):
    if step < t["warmup_steps"]:
        return t["lr"] * (step + 1) / t["warmup_steps"]
    progress = (step - t["warmup_steps"]) / max(1, t["steps"] - t["warmup_steps"])
    return t["min_lr"] + 0.5 * (t["lr"] - t["min_lr"]) * (1 + math.cos(math.pi * min(1.0, progress)))


def make_optimizer(model, t, device):
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": t["weight_decay"]},
              {"params": no_decay, "weight_decay": 0.0}]
    kwargs = {"lr": t["lr"], "betas": tuple(t["betas"]), "eps": 1e-8}
    if device.type == "cuda":
        try:
            return torch.optim.AdamW(groups, fused=True, **kwargs)
        except (TypeError, RuntimeError):
            pass
    return torch.optim.AdamW(groups, **kwargs)


def autocast_for(device):
    return (torch.autocast(device_type="cuda", dtype=torch.bfloat16) if device.type == "cuda"
            else torch.autocast(device_type="cpu", enabled=False))


def train_step(model, opt, batch, lr, t, device, autocast, hidden_fn):
    """One optimizer step at learning rate LR on BATCH (rows, learn); returns the loss
    (on the device, not synchronised) and the number of tokens."""
    for g in opt.param_groups:
        g["lr"] = lr
    rows, learn = batch
    rows = torch.from_numpy(rows.astype(np.int64)).to(device, non_blocking=True)
    learn = torch.from_numpy(learn[:, 1:].astype(bool)).to(device, non_blocking=True)
    with autocast:
        loss = model.loss(rows[:, :-1], rows[:, 1:], learn, hidden_fn)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), t["grad_clip"])
    opt.step()
    return loss.detach(), rows.shape[0] * (rows.shape[1] - 1)


def save_model(model, mcfg, cfg, d, **extra):
    """model.pt: the shape, the weights on the CPU, the configuration, and EXTRA (steps,
    and the fine-tuning stage's settings when it made them)."""
    torch.save({"model_config": mcfg.to_dict(),
                "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
                "config": cfg, **extra}, os.path.join(d, "model.pt"))


def sample_replies(model, tok, log):
    for q in ["What does apple mean?", "Give me a synonym of big.", "What is the opposite of hot?",
              "Use dog in a sentence.", "What kind of thing is an apple?", "What does blorvish mean?"]:
        text, _ = infer.reply(model, tok, [{"role": "user", "content": q}])
        log(f"  Q: {q}\n  A: {text}")


# ---- the fine-tuning stage ----------------------------------------------------------------
# A configuration may end with a short second stage ("train": {"finetune": {...}}): the
# trained weights, a fresh optimizer, its own warm-up and cosine schedule, and its own
# epochs (a stream seeded apart from the main one) in which made-up words are asked more
# often (made_up_weight replaces data.fake_weight) and so are the everyday words of
# data.include, the ones people try first (include_weight multiplies their weight); with
# lookalike_weight, made-up words that look like known ones (prepare_data.py) too. It
# reads the main stage's weights from model-base.pt (moving model.pt there the first
# time), so rerunning it starts again from the same weights, and writes model.pt.

def base_weights(d):
    path, base = os.path.join(d, "model.pt"), os.path.join(d, "model-base.pt")
    if os.path.exists(path):
        state = torch.load(path, map_location="cpu")
        if "finetune" not in state:
            os.replace(path, base)
            return state
    if not os.path.exists(base):
        raise SystemExit(f"train: --finetune needs {path} from the main stage (train.py without --finetune)")
    return torch.load(base, map_location="cpu")


def finetune(cfg, d, device, log, steps=None):
    """STEPS (--steps) shortens this stage as it shortens the main one, for a quick look."""
    ft = dict(cfg["train"])
    ft.update(cfg["train"]["finetune"])
    if steps is not None:
        ft["steps"] = steps
    state = base_weights(d)
    if state["steps"] != cfg["train"]["steps"]:
        log(f"finetune: the main stage ran {state['steps']} of the configured {cfg['train']['steps']} steps")
    torch.manual_seed(cfg["seed"] + 1)
    mcfg = ModelConfig(**state["model_config"])
    model = Llama(mcfg).to(device)
    model.load_state_dict(state["state_dict"])
    model.set_attention_chunk(ft.get("attention_chunk", 0))
    opt = make_optimizer(model, ft, device)
    looks = ("lookalike_items.jsonl",) if ft.get("lookalike_weight", 0) > 0 else ()
    for name in looks:
        if not os.path.exists(os.path.join(d, "data", name)):
            raise SystemExit(f"train: train.finetune.lookalike_weight needs data/{name} (data.n_lookalike_train)")
    stream = EpochStream(d, cfg, ft["batch_size"], prefetch=ft.get("prefetch_epochs", 1),
                         seed=cfg["seed"] + 1, more_items=looks,
                         reweigh={"made_up_weight": ft["made_up_weight"], "include_weight": ft["include_weight"],
                                  "lookalike_weight": ft.get("lookalike_weight", 0),
                                  "include": set(cfg["data"].get("include", []))})
    stream._ask(0)
    log(f"finetune: {ft['steps']} steps from the main stage's {state['steps']}, lr {ft['lr']:.1e} -> "
        f"{ft['min_lr']:.1e}, made-up words' weight {ft['made_up_weight']}, included words' x{ft['include_weight']}"
        + (f", look-alike words' weight {ft['lookalike_weight']}" if looks else ""))
    t_start, loss_sum, loss_n, autocast = time.time(), 0.0, 0, autocast_for(device)
    model.train()
    for step in range(ft["steps"]):
        loss, _ = train_step(model, opt, stream.next_batch(), lr_at(step, ft), ft, device, autocast,
                             model.hidden)
        loss_sum, loss_n = loss_sum + float(loss), loss_n + 1
        if (step + 1) % ft.get("log_every", 50) == 0 or step + 1 == ft["steps"]:
            log(f"finetune {step + 1:5d}/{ft['steps']}  loss {loss_sum / loss_n:.4f}  lr {lr_at(step, ft):.2e}  "
                f"{(time.time() - t_start) / 60:.1f} min")
            loss_sum, loss_n = 0.0, 0
    stream.close()
    model.eval()
    save_model(model, mcfg, cfg, d, steps=state["steps"], finetune=cfg["train"]["finetune"])
    sample_replies(model, bpe.Tokenizer.load(os.path.join(d, "tokenizer.json")), log)
    log(f"finetune: wrote {os.path.join(d, 'model.pt')} in {(time.time() - t_start) / 60:.1f} min")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", required=True)
    ap.add_argument("--steps", type=int, help="override the configured number of steps (of either stage)")
    ap.add_argument("--device", default="auto", help="auto, cpu or cuda")
    ap.add_argument("--benchmark", type=int, metavar="N",
                    help="time N steps, print the throughput and the projected run time, save nothing")
    ap.add_argument("--max-minutes", type=float,
                    help="pause after this many minutes (saves resume.pt, exits with status 3)")
    ap.add_argument("--pause-after-steps", type=int, help="pause after this many steps (tests)")
    ap.add_argument("--resume", action="store_true", help="continue a paused run from resume.pt")
    ap.add_argument("--finetune", action="store_true",
                    help="run the configuration's fine-tuning stage on the main stage's weights")
    args = ap.parse_args()
    cfg = load_config(args.config)
    t = dict(cfg["train"])
    if args.steps is not None:
        t["steps"] = args.steps
    if args.finetune and "finetune" not in t:
        raise SystemExit(f"train: {args.config} has no fine-tuning stage (train.finetune)")
    d = out_dir(cfg)
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available()
                          else ("cpu" if args.device == "auto" else args.device))
    if device.type == "cpu":
        torch.set_num_threads(t.get("threads", 1))
    else:
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True

    resume_path = os.path.join(d, "resume.pt")
    log_file = None if args.benchmark else open(os.path.join(d, "train.log"),
                                                "a" if args.resume or args.finetune else "w")

    def log(msg):
        print(msg, flush=True)
        if log_file:
            log_file.write(msg + "\n")
            log_file.flush()

    if args.finetune:
        return finetune(cfg, d, device, log, args.steps)
    tok = bpe.Tokenizer.load(os.path.join(d, "tokenizer.json"))
    torch.manual_seed(cfg["seed"])
    mcfg = ModelConfig(vocab_size=len(tok.tokens), **cfg["model"])
    model = Llama(mcfg).to(device)
    model.set_attention_chunk(t.get("attention_chunk", 0))
    opt = make_optimizer(model, t, device)
    # Only the transformer body is compiled (its shapes are fixed); the loss picks the
    # answer positions with a data-dependent mask, which stays eager.
    hidden_fn = model.hidden
    if device.type == "cuda" and t.get("compile") and hasattr(torch, "compile"):
        hidden_fn = torch.compile(model.hidden)
    log(f"train: {cfg['name']} on {device}, torch {torch.__version__}, {model.n_params():,} parameters, "
        f"{json.dumps(mcfg.to_dict())}")
    log(f"train: {t['steps']} steps of {t['batch_size']} x {t['seq_len']} tokens")

    stream = EpochStream(d, cfg, t["batch_size"], prefetch=t.get("prefetch_epochs", 1))
    start_step, elapsed_before, tokens_before = 0, 0.0, 0
    if args.resume:
        state = torch.load(resume_path, map_location=device)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        start_step, elapsed_before, tokens_before = state["step"], state["elapsed"], state["tokens"]
        stream.seek(state["epoch"], state["at"])
        log(f"train: resumed at step {start_step} (epoch {state['epoch']}, row {state['at']}), "
            f"{elapsed_before / 60:.1f} min so far")
    else:
        stream._ask(0)
        for stale in ("resume.pt", "model-base.pt"):  # a fresh run: an older pause or base is stale
            if os.path.exists(os.path.join(d, stale)) and not args.benchmark:
                os.remove(os.path.join(d, stale))
    autocast = autocast_for(device)
    n_steps = args.benchmark or t["steps"]
    t_start, tokens_seen, loss_sum, loss_n = time.time(), tokens_before, torch.zeros((), device=device), 0
    warm_steps, t_warm = min(10, n_steps // 2), None  # the benchmark times steps after these
    model.train()
    step = start_step
    for step in range(start_step, n_steps):
        if step == warm_steps:
            if device.type == "cuda":
                torch.cuda.synchronize()
            t_warm = time.time()
        lr = lr_at(step, t)
        loss, n_tokens = train_step(model, opt, stream.next_batch(), lr, t, device, autocast, hidden_fn)
        tokens_seen += n_tokens
        loss_sum += loss.float()  # stays on the device: no sync every step
        loss_n += 1
        if (step + 1) % t.get("log_every", 50) == 0 or step + 1 == n_steps:
            now = time.time()
            log(f"step {step + 1:6d}/{n_steps}  epoch {stream.epoch}  loss {float(loss_sum) / loss_n:.4f}  "
                f"lr {lr:.2e}  {(tokens_seen - tokens_before) / (now - t_start):,.0f} tok/s  "
                f"{(elapsed_before + now - t_start) / 60:.1f} min")
            loss_sum, loss_n = torch.zeros((), device=device), 0
        pause = ((args.max_minutes and time.time() - t_start > 60 * args.max_minutes) or
                 (args.pause_after_steps and step + 1 - start_step >= args.pause_after_steps))
        if pause and step + 1 < n_steps and not args.benchmark:
            elapsed = elapsed_before + time.time() - t_start
            torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "step": step + 1,
                        "epoch": stream.epoch, "at": stream.at, "elapsed": elapsed,
                        "tokens": tokens_seen}, resume_path)
            log(f"train: paused after step {step + 1} ({elapsed / 60:.1f} min so far); "
                f"continue with --resume")
            stream.close()
            sys.exit(3)
    elapsed = elapsed_before + time.time() - t_start
    stream.close()
    if args.benchmark:
        # steady state: after compilation and the first epoch's preparation
        if device.type == "cuda":
            torch.cuda.synchronize()
        timed = n_steps - warm_steps
        per_step = (time.time() - t_warm) / timed
        tokens_per_step = t["batch_size"] * t["seq_len"]
        print(f"benchmark: {per_step * 1000:.0f} ms/step, {tokens_per_step / per_step:,.0f} tok/s after "
              f"{warm_steps} warm-up steps ({t_warm - t_start:.0f} s); {t['steps']} steps would take "
              f"{(t_warm - t_start + t['steps'] * per_step) / 60:.1f} min")
        return
    log(f"train: {step + 1} steps, {tokens_seen:,} tokens, {stream.epoch + 1} epochs in {elapsed / 60:.1f} min")
    model.eval()
    save_model(model, mcfg, cfg, d, steps=step + 1)
    if os.path.exists(resume_path):
        os.remove(resume_path)
    sample_replies(model, tok, log)
    log(f"train: wrote {os.path.join(d, 'model.pt')}")


if __name__ == "__main__":
    main()
