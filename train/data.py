"""data.py — training conversations: wording, rendering, tokenizing and packing.

An epoch is a pure function of (items, seed, epoch number): every item is asked once per
unit of weight (a fractional weight is a chance: made-up words come from a large pool, a
different handful each epoch, so the model learns to repeat a word it does not know
rather than to memorise a list) with a training wording drawn for this epoch; items are
shuffled and grouped into ChatML conversations of 1..max_turns questions after a system
prompt, and the token stream is cut into fixed-length rows. The loss covers the assistant's answers
and their <|im_end|> only: the model learns to answer, not to ask.
"""

import json
import random

import numpy as np

import dialogue


def load_items(path):
    with open(path) as f:
        return [json.loads(line) for line in f]


def vary_question(wording, word, known, rng):
    """A training wording of WORD, with the small variations people type. Only KNOWN words
    are capitalised: the answer names the word in lower case, which the model can learn
    for words it knows but not for a made-up word it must repeat."""
    if known and rng.random() < 0.06:
        word = word[:1].upper() + word[1:]
    q = wording.format(w=word)
    r = rng.random()
    if r < 0.06:
        q = q.lower()
    elif r < 0.12 and q[-1] in ".?":
        q = q[:-1]
    if rng.random() < 0.15:
        before, after = rng.choice(dialogue.WRAPPERS)
        if before.endswith(", "):  # "Please, what does ..."
            q = q[:1].lower() + q[1:]
        q = before + q + after
    return q


def item_weight(it, reweigh):
    """The item's weight, or the fine-tuning stage's: REWEIGH (or None) holds
    made_up_weight, replacing the made-up words' weight, lookalike_weight, that of the
    look-alike words (prepare_data.py; only that stage loads them), and include_weight,
    multiplying that of the everyday words the configuration includes (data.include)."""
    if reweigh is None:
        return it["weight"]
    if it.get("lookalike"):
        return reweigh["lookalike_weight"]
    if it.get("made_up"):
        return reweigh["made_up_weight"]
    return it["weight"] * (reweigh["include_weight"] if it["word"] in reweigh["include"] else 1)


def epoch_conversations(items, seed, epoch, max_turns, extra_wordings=False, reweigh=None):
    """Returns [(system, [(question, answer), ...]), ...] for one epoch."""
    rng = random.Random(seed * 1009 + epoch)
    expanded = []
    for it in items:
        weight = item_weight(it, reweigh)
        n = int(weight)
        if rng.random() < weight - n:
            n += 1
        expanded += [it] * n
    rng.shuffle(expanded)
    convs, i = [], 0
    while i < len(expanded):
        k = rng.randint(1, max_turns)
        turns = []
        if rng.random() < 0.03:
            questions, answer = rng.choice(dialogue.SMALL_TALK)
            turns.append((rng.choice(questions), answer))
        for it in expanded[i:i + k]:
            wording = rng.choice(dialogue.training_wordings(it["intent"], extra_wordings))
            turns.append((vary_question(wording, it["word"], not it.get("made_up"), rng), it["answer"]))
        i += k
        system = dialogue.DEFAULT_SYSTEM if rng.random() < 0.8 else rng.choice(dialogue.OTHER_SYSTEMS)
        convs.append((system, turns))
    return convs


def conversation_text(system, turns):
    msgs = [{"role": "system", "content": system}]
    for q, a in turns:
        msgs += [{"role": "user", "content": q}, {"role": "assistant", "content": a}]
    return dialogue.render_chatml(msgs, add_generation_prompt=False)


class Renderer:
    """Tokenizes conversations piece by piece (with a cache), marking answer tokens.

    Concatenating separately encoded pieces equals encoding the whole rendered text
    because every piece border is a pre-tokenizer border: a control token, or the "\\n"
    after a role name, which GPT-2's expression always leaves as a piece of its own when a
    non-space follows. check_tokenizer.py verifies this against llmscope itself."""

    def __init__(self, tok):
        self.tok = tok
        self.im_start = tok.id_of[dialogue.IM_START]
        self.im_end = tok.id_of[dialogue.IM_END]
        self.newline = tok.encode("\n")
        self.cache = {}

    def enc(self, text):
        ids = self.cache.get(text)
        if ids is None:
            ids = self.tok.encode(text, parse_special=False)
            self.cache[text] = ids
        return ids

    def conversation(self, system, turns):
        ids, mask = [], []

        def add(part, learn):
            ids.extend(part)
            mask.extend([learn] * len(part))

        add([self.im_start] + self.enc("system\n" + system) + [self.im_end] + self.newline, 0)
        for q, a in turns:
            add([self.im_start] + self.enc("user\n" + q) + [self.im_end] + self.newline, 0)
            add([self.im_start] + self.enc("assistant\n"), 0)
            add(self.enc(a) + [self.im_end], 1)
            add(self.newline, 0)
        return ids, mask


def pack_epoch(renderer, convs, seq_len):
    """Token stream of the epoch cut into rows of seq_len + 1 (inputs and shifted targets
    overlap by one). Returns (tokens [N, seq_len+1] int32, learn [N, seq_len+1] uint8)."""
    ids, mask = [], []
    for system, turns in convs:
        a, b = renderer.conversation(system, turns)
        ids += a
        mask += b
    n = (len(ids) - 1) // seq_len
    idx = np.arange(n)[:, None] * seq_len + np.arange(seq_len + 1)[None, :]
    return np.asarray(ids, dtype=np.int32)[idx], np.asarray(mask, dtype=np.uint8)[idx]
