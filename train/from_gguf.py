"""from_gguf.py — the PyTorch model and tokenizer back from an exported GGUF file.

The checks and the PyTorch fallback of the evaluation use the file itself, so they need
nothing but the GGUF (not the training checkpoint) and compare llmscope with PyTorch on
exactly the same, possibly quantised, weights.
"""

import torch

import bpe
import gguf_file as G
from export_gguf import tensor_names
from model import Llama, ModelConfig


def load(path):
    """Returns (model in eval mode, Tokenizer, metadata dict)."""
    meta, tensors = G.read_gguf(path)
    if meta.get("general.architecture") != "llama":
        raise SystemExit(f"{path}: not a llama GGUF")
    tokens = meta["tokenizer.ggml.tokens"]
    types = meta["tokenizer.ggml.token_type"]
    specials = [t for t, ty in zip(tokens, types) if ty == 3]
    tok = bpe.Tokenizer(tokens, [tuple(m.split(" ")) for m in meta["tokenizer.ggml.merges"]], specials)
    n_heads = meta["llama.attention.head_count"]
    cfg = ModelConfig(vocab_size=len(tokens), dim=meta["llama.embedding_length"],
                      n_layers=meta["llama.block_count"], n_heads=n_heads,
                      n_kv_heads=meta.get("llama.attention.head_count_kv", n_heads),
                      ffn_dim=meta["llama.feed_forward_length"],
                      context=meta["llama.context_length"],
                      rope_base=meta.get("llama.rope.freq_base", 10000.0),
                      norm_eps=meta["llama.attention.layer_norm_rms_epsilon"])
    model = Llama(cfg)
    state = {p: torch.from_numpy(G.tensor_array(*tensors[g]).copy())
             for p, g in tensor_names(cfg.n_layers).items()}
    model.load_state_dict(state)
    model.eval()
    return model, tok, meta
