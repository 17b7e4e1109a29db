"""model.py — the dictionary model: a small Llama in plain PyTorch.

The layout is exactly what llmscope's loader (model/model.c) expects of a "llama" GGUF,
so export is a renaming, not a conversion:

  token_embd            embedding, tied with the output head (no output.weight)
  blk.N.attn_norm       RMSNorm before attention
  blk.N.attn_q/k/v      projections; grouped-query attention (n_kv_heads <= n_heads)
  blk.N.attn_output
  blk.N.ffn_norm        RMSNorm before the MLP
  blk.N.ffn_gate/up/down  SwiGLU: down(silu(gate x) * up x)
  output_norm

RoPE rotates interleaved pairs (2i, 2i+1) of each head, the "NORM" rope of llama.cpp
(GGUF files store Llama's Q and K rows in this order), so Q and K need no permutation at
export. Works with torch 1.13 (no scaled_dot_product_attention) and 2.x.
"""

import math
from dataclasses import dataclass, asdict

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class ModelConfig:
    vocab_size: int = 4096
    dim: int = 512
    n_layers: int = 8
    n_heads: int = 8
    n_kv_heads: int = 4
    ffn_dim: int = 1408
    context: int = 512
    rope_base: float = 10000.0
    norm_eps: float = 1e-5

    @property
    def head_dim(self):
        return self.dim // self.n_heads

    def to_dict(self):
        return asdict(self)


class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        xf = x.float()
        xf = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)
        return (xf * self.weight.float()).type_as(x)


def rope_tables(head_dim, length, base, device=None):
    """cos and sin of position * base^(-2i/head_dim), shape [length, head_dim/2]."""
    inv_freq = base ** (-torch.arange(0, head_dim, 2, dtype=torch.float64, device=device) / head_dim)
    pos = torch.arange(length, dtype=torch.float64, device=device)
    angles = pos[:, None] * inv_freq[None, :]
    return torch.cos(angles).float(), torch.sin(angles).float()


def apply_rope(x, cos, sin):
    """x: [B, H, T, head_dim]; rotates the pairs (x[2i], x[2i+1]) by the angle of i."""
    b, h, t, d = x.shape
    xp = x.float().reshape(b, h, t, d // 2, 2)
    x0, x1 = xp[..., 0], xp[..., 1]
    c, s = cos[:t], sin[:t]
    out = torch.stack((x0 * c - x1 * s, x0 * s + x1 * c), dim=-1)
    return out.reshape(b, h, t, d).type_as(x)


def causal_attention_chunked(q, k, v, chunk):
    """Causal attention computed CHUNK queries at a time, each against only the keys up to
    its last position: on a CPU without a fused kernel (torch 1.13) the full T x T score
    matrix of long rows costs more than the matrix products, and half of it is masked
    anyway. Same result as the plain form up to float rounding (shorter sums)."""
    t, scale = q.shape[2], 1.0 / math.sqrt(q.shape[3])
    out = []
    for s in range(0, t, chunk):
        e = min(t, s + chunk)
        att = (q[:, :, s:e] @ k[:, :, :e].transpose(-2, -1)) * scale
        mask = torch.ones(e - s, e, dtype=torch.bool, device=q.device).triu(s + 1)
        out.append(att.masked_fill(mask, float("-inf")).softmax(-1) @ v[:, :, :e])
    return torch.cat(out, dim=2)


class Attention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.n_heads, self.n_kv_heads, self.head_dim = cfg.n_heads, cfg.n_kv_heads, cfg.head_dim
        self.wq = nn.Linear(cfg.dim, cfg.n_heads * cfg.head_dim, bias=False)
        self.wk = nn.Linear(cfg.dim, cfg.n_kv_heads * cfg.head_dim, bias=False)
        self.wv = nn.Linear(cfg.dim, cfg.n_kv_heads * cfg.head_dim, bias=False)
        self.wo = nn.Linear(cfg.n_heads * cfg.head_dim, cfg.dim, bias=False)
        self.chunk = 0  # see causal_attention_chunked; set by Llama.set_attention_chunk

    def forward(self, x, cos, sin):
        b, t, _ = x.shape
        q = self.wq(x).view(b, t, self.n_heads, self.head_dim).transpose(1, 2)
        k = self.wk(x).view(b, t, self.n_kv_heads, self.head_dim).transpose(1, 2)
        v = self.wv(x).view(b, t, self.n_kv_heads, self.head_dim).transpose(1, 2)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        # Query head h reads key/value head h // (n_heads / n_kv_heads), as llama.cpp does.
        group = self.n_heads // self.n_kv_heads
        if group > 1:
            k = k.repeat_interleave(group, dim=1)
            v = v.repeat_interleave(group, dim=1)
        if hasattr(F, "scaled_dot_product_attention"):
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        elif self.chunk and t > self.chunk:
            y = causal_attention_chunked(q, k, v, self.chunk)
        else:
            att = (q @ k.transpose(-2, -1)) / math.sqrt(self.head_dim)
            mask = torch.ones(t, t, dtype=torch.bool, device=x.device).triu(1)
            att = att.masked_fill(mask, float("-inf")).softmax(-1)
            y = att @ v
        return self.wo(y.transpose(1, 2).reshape(b, t, -1))


class FeedForward(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.gate = nn.Linear(cfg.dim, cfg.ffn_dim, bias=False)
        self.up = nn.Linear(cfg.dim, cfg.ffn_dim, bias=False)
        self.down = nn.Linear(cfg.ffn_dim, cfg.dim, bias=False)

    def forward(self, x):
        return self.down(F.silu(self.gate(x)) * self.up(x))


class Block(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.attn_norm = RMSNorm(cfg.dim, cfg.norm_eps)
        self.attn = Attention(cfg)
        self.ffn_norm = RMSNorm(cfg.dim, cfg.norm_eps)
        self.ffn = FeedForward(cfg)

    def forward(self, x, cos, sin):
        x = x + self.attn(self.attn_norm(x), cos, sin)
        return x + self.ffn(self.ffn_norm(x))


class Llama(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        assert cfg.dim % cfg.n_heads == 0 and cfg.n_heads % cfg.n_kv_heads == 0
        self.cfg = cfg
        self.tok_embeddings = nn.Embedding(cfg.vocab_size, cfg.dim)
        self.layers = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.norm = RMSNorm(cfg.dim, cfg.norm_eps)
        cos, sin = rope_tables(cfg.head_dim, cfg.context, cfg.rope_base)
        self.register_buffer("rope_cos", cos, persistent=False)
        self.register_buffer("rope_sin", sin, persistent=False)
        self.reset_parameters()

    def reset_parameters(self):
        # GPT-2 style: N(0, 0.02), and the projections that write into the residual
        # stream scaled down by sqrt(2 * layers) so its variance does not grow with depth.
        for name, p in self.named_parameters():
            if p.dim() < 2:
                continue
            std = 0.02
            if name.endswith("attn.wo.weight") or name.endswith("ffn.down.weight"):
                std /= math.sqrt(2 * self.cfg.n_layers)
            nn.init.normal_(p, mean=0.0, std=std)

    def set_attention_chunk(self, chunk):
        """Long rows on a CPU: attention CHUNK queries at a time (0: all at once)."""
        for layer in self.layers:
            layer.attn.chunk = chunk

    def hidden(self, tokens):
        """tokens: [B, T] int64 -> final normed hidden states [B, T, dim]."""
        x = self.tok_embeddings(tokens)
        for layer in self.layers:
            x = layer(x, self.rope_cos, self.rope_sin)
        return self.norm(x)

    def forward(self, tokens):
        """tokens: [B, T] int64 -> logits [B, T, vocab] (float32)."""
        return F.linear(self.hidden(tokens), self.tok_embeddings.weight).float()

    def loss(self, tokens, targets, learn, hidden_fn=None):
        """Mean cross-entropy over the positions where LEARN is true. Only those rows go
        through the output head: most positions are prompt text the model never learns.
        HIDDEN_FN: self.hidden, or a compiled version of it."""
        h = (hidden_fn or self.hidden)(tokens)[learn]
        logits = F.linear(h, self.tok_embeddings.weight).float()
        return F.cross_entropy(logits, targets[learn])

    def n_params(self):
        return sum(p.numel() for p in self.parameters())
