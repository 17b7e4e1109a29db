"""config.py — reading a recipe configuration (train/configs/NAME.json).

A configuration names everything that decides the model file: the seed, which words,
the tokenizer size, the model shape, the training schedule and the export type. Outputs
go to train/out/NAME/ (ignored by git) unless LLMSCOPE_TRAIN_OUT names another root.
"""

import json
import os

TRAIN_DIR = os.path.dirname(os.path.abspath(__file__))


def load_config(path):
    with open(path) as f:
        cfg = json.load(f)
    for key in ("name", "seed", "data", "tokenizer", "model", "train", "export"):
        if key not in cfg:
            raise SystemExit(f"{path}: missing '{key}'")
    return cfg


def out_dir(cfg):
    root = os.environ.get("LLMSCOPE_TRAIN_OUT", os.path.join(TRAIN_DIR, "out"))
    return os.path.join(root, cfg["name"])
