"""export_gguf.py — the trained model and its tokenizer as a llmscope-loadable GGUF.

  /usr/bin/python3 train/export_gguf.py --config train/configs/smoke.json [--install]

Reads train/out/NAME/{model.pt, tokenizer.json}; writes train/out/NAME/<export.file>
and, with --install, copies it to assets/ (refusing files over 25 MB).

The file has the layout and keys of the Llama GGUF files llama.cpp writes (see
model.py for the tensor names): llama.* hyper-parameters, a "gpt2" (byte-level BPE)
tokenizer with the "gpt-2" pre-tokenizer, ChatML control tokens and chat template.
Norm weights stay f32; matrices are f32, f16 or q8_0 as the config says. The output head
is tied to token_embd, so there is no output.weight. A config with a "sampler" section
stores it as llmscope.sampler.* (temperature, top_k, top_p, min_p, repeat_penalty,
repeat_last_n): the defaults the terminal app and `-p` use for this model unless told
otherwise (ui/cli/cli_sampling.c).
"""

import argparse
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch  # noqa: E402

import bpe  # noqa: E402
import dialogue  # noqa: E402
import gguf_file as G  # noqa: E402
from config import TRAIN_DIR, load_config, out_dir  # noqa: E402

MAX_ASSET_BYTES = 25 * 1000 * 1000
TYPES = {"f32": (G.GGML_F32, 0), "f16": (G.GGML_F16, 1), "q8_0": (G.GGML_Q8_0, 7)}  # ggml type, file_type
TOKEN_NORMAL, TOKEN_CONTROL = 1, 3


def tensor_names(n_layers):
    """PyTorch parameter name -> GGUF tensor name."""
    names = {"tok_embeddings.weight": "token_embd.weight", "norm.weight": "output_norm.weight"}
    for i in range(n_layers):
        p, b = f"layers.{i}.", f"blk.{i}."
        names.update({
            p + "attn_norm.weight": b + "attn_norm.weight",
            p + "attn.wq.weight": b + "attn_q.weight",
            p + "attn.wk.weight": b + "attn_k.weight",
            p + "attn.wv.weight": b + "attn_v.weight",
            p + "attn.wo.weight": b + "attn_output.weight",
            p + "ffn_norm.weight": b + "ffn_norm.weight",
            p + "ffn.gate.weight": b + "ffn_gate.weight",
            p + "ffn.up.weight": b + "ffn_up.weight",
            p + "ffn.down.weight": b + "ffn_down.weight",
        })
    return names


SAMPLER_KEYS = {"temperature": G.T_FLOAT32, "top_k": G.T_UINT32, "top_p": G.T_FLOAT32, "min_p": G.T_FLOAT32,
                "repeat_penalty": G.T_FLOAT32, "repeat_last_n": G.T_INT32}


def export(checkpoint, tok, type_name, path, name, sampler=None):
    mc = checkpoint["model_config"]
    ggml_type, file_type = TYPES[type_name]
    w = G.GGUFWriter()
    w.add("general.architecture", G.T_STRING, "llama")
    w.add("general.name", G.T_STRING, name)
    w.add("general.description", G.T_STRING,
          "A small English dictionary assistant trained by llmscope on WordNet 3.0 "
          "(recipe: train/README.md)")
    w.add("general.license", G.T_STRING, "WordNet 3.0 license (assets/WORDNET-LICENSE)")
    w.add("general.file_type", G.T_UINT32, file_type)
    w.add("general.alignment", G.T_UINT32, G.ALIGNMENT)
    w.add("llama.vocab_size", G.T_UINT32, mc["vocab_size"])
    w.add("llama.context_length", G.T_UINT32, mc["context"])
    w.add("llama.embedding_length", G.T_UINT32, mc["dim"])
    w.add("llama.block_count", G.T_UINT32, mc["n_layers"])
    w.add("llama.feed_forward_length", G.T_UINT32, mc["ffn_dim"])
    w.add("llama.attention.head_count", G.T_UINT32, mc["n_heads"])
    w.add("llama.attention.head_count_kv", G.T_UINT32, mc["n_kv_heads"])
    w.add("llama.attention.layer_norm_rms_epsilon", G.T_FLOAT32, mc["norm_eps"])
    w.add("llama.rope.freq_base", G.T_FLOAT32, mc["rope_base"])
    w.add("llama.rope.dimension_count", G.T_UINT32, mc["dim"] // mc["n_heads"])

    w.add("tokenizer.ggml.model", G.T_STRING, "gpt2")
    w.add("tokenizer.ggml.pre", G.T_STRING, "gpt-2")
    w.add("tokenizer.ggml.tokens", G.T_ARRAY, tok.tokens, G.T_STRING)
    w.add("tokenizer.ggml.token_type", G.T_ARRAY,
          [TOKEN_CONTROL if t in tok.specials else TOKEN_NORMAL for t in tok.tokens], G.T_INT32)
    w.add("tokenizer.ggml.merges", G.T_ARRAY, [a + " " + b for a, b in tok.merges], G.T_STRING)
    w.add("tokenizer.ggml.bos_token_id", G.T_UINT32, tok.id_of[dialogue.IM_START])
    w.add("tokenizer.ggml.eos_token_id", G.T_UINT32, tok.id_of[dialogue.IM_END])
    w.add("tokenizer.ggml.unknown_token_id", G.T_UINT32, tok.id_of[dialogue.END_OF_TEXT])
    w.add("tokenizer.ggml.padding_token_id", G.T_UINT32, tok.id_of[dialogue.IM_END])
    w.add("tokenizer.ggml.add_bos_token", G.T_BOOL, False)
    w.add("tokenizer.ggml.add_eos_token", G.T_BOOL, False)
    w.add("tokenizer.chat_template", G.T_STRING, dialogue.CHAT_TEMPLATE)
    for key, value in sorted((sampler or {}).items()):
        if key not in SAMPLER_KEYS:
            raise SystemExit(f"export_gguf: unknown sampler setting '{key}' (known: {', '.join(SAMPLER_KEYS)})")
        kind = SAMPLER_KEYS[key]
        w.add("llmscope.sampler." + key, kind, float(value) if kind == G.T_FLOAT32 else int(value))

    names = tensor_names(mc["n_layers"])
    state = checkpoint["state_dict"]
    missing = set(names) - set(state)
    if missing:
        raise SystemExit(f"checkpoint lacks {sorted(missing)[:3]}")
    for pname, gname in names.items():
        a = state[pname].float().numpy()
        w.add_tensor(gname, a, G.GGML_F32 if a.ndim == 1 else ggml_type)
    w.write(path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", required=True)
    ap.add_argument("--type", choices=sorted(TYPES), help="override the configured storage type")
    ap.add_argument("--install", action="store_true", help="copy the file into assets/")
    args = ap.parse_args()
    cfg = load_config(args.config)
    d = out_dir(cfg)
    checkpoint = torch.load(os.path.join(d, "model.pt"), map_location="cpu")
    tok = bpe.Tokenizer.load(os.path.join(d, "tokenizer.json"))
    path = os.path.join(d, cfg["export"]["file"])
    name = "llmscope-dict" if cfg["name"] == "full" else f"llmscope-dict-{cfg['name']}"
    export(checkpoint, tok, args.type or cfg["export"]["type"], path, name, cfg.get("sampler"))
    size = os.path.getsize(path)
    print(f"export_gguf: {path} ({size / 1e6:.2f} MB, {args.type or cfg['export']['type']})")
    if args.install:
        if size > MAX_ASSET_BYTES:
            raise SystemExit(f"export_gguf: {size / 1e6:.1f} MB is over the 25 MB limit for assets/")
        dest = os.path.join(os.path.dirname(TRAIN_DIR), "assets", "llmscope-dict.gguf")
        shutil.copyfile(path, dest)
        print(f"export_gguf: installed {dest}")


if __name__ == "__main__":
    main()
