"""bpe.py — the model's own byte-level BPE vocabulary: training and encoding.

The tokenizer is GPT-2's scheme, so that llmscope's C tokenizer (model/tokenizer_bpe.c
with tokenizer.ggml.pre = "gpt-2") reads it from the GGUF file and encodes exactly as
this file does:

  1. special tokens (<|im_start|> ...) written in the text split it into fragments and
     become their own ids (only where special parsing is on: rendered templates);
  2. each fragment is cut into pieces by GPT-2's expression below;
  3. each piece's UTF-8 bytes are written as printable characters (GPT-2's byte-to-
     unicode table: printable ASCII and Latin-1 stand for themselves, the rest move to
     U+0100...), and adjacent symbols are merged by rank, lowest first.

Vocabulary: ids 0-2 the control tokens, 3-258 the 256 bytes, then the merged tokens in
the order their first merge was learned.
Training is the classic algorithm: count the pieces of the corpus, repeatedly merge the
most frequent adjacent pair (ties: the pair whose strings sort first), so the result is
a pure function of the corpus.
"""

import heapq
import json
import re
import unicodedata
from collections import defaultdict

try:  # Debian python3-regex / pip regex: Unicode classes exactly as PCRE2 has them
    import regex
    GPT2_PATTERN = regex.compile(
        r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)""")
except ImportError:
    GPT2_PATTERN = None


def bytes_to_unicode():
    """GPT-2's reversible map from the 256 byte values to printable characters."""
    keep = (list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
            + list(range(ord("®"), ord("ÿ") + 1)))
    table, extra = {}, 0
    for b in range(256):
        if b in keep:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


BYTE_TO_CHAR = bytes_to_unicode()
CHAR_TO_BYTE = {c: b for b, c in BYTE_TO_CHAR.items()}


def _is_letter(c):
    return unicodedata.category(c)[0] == "L"


def _is_number(c):
    return unicodedata.category(c)[0] == "N"


def _gpt2_matches(text):
    """The matches of GPT-2's expression, found by hand: for machines without the regex
    module. Alternatives are tried in the expression's order at each position, as a
    backtracking engine does. Same result as the expression on all ASCII text (all of the
    training data); on other text \\s may differ in a few control characters."""
    n, i = len(text), 0
    while i < n:
        c = text[i]
        if c == "'":
            for suffix in ("s", "t", "re", "ve", "m", "ll", "d"):
                if text.startswith(suffix, i + 1):
                    yield i, i + 1 + len(suffix)
                    i += 1 + len(suffix)
                    break
            else:
                suffix = None
            if suffix:
                continue
        j = i + 1 if c == " " and i + 1 < n else i
        matched = False
        for test in (_is_letter, _is_number,
                     lambda ch: not (ch.isspace() or _is_letter(ch) or _is_number(ch))):
            k = j
            while k < n and test(text[k]):
                k += 1
            if k > j:
                yield i, k
                i, matched = k, True
                break
        if matched:
            continue
        if c.isspace():  # \s+(?!\S): a whitespace run, leaving its last one to what follows
            k = i
            while k < n and text[k].isspace():
                k += 1
            if k == n:
                yield i, k
                i = k
                continue
            if k - 1 > i:
                yield i, k - 1
                i = k - 1
                continue
        i += 1  # no match here: the character joins the stretch between matches


def _matches(text):
    if GPT2_PATTERN is not None:
        return ((m.start(), m.end()) for m in GPT2_PATTERN.finditer(text))
    return _gpt2_matches(text)


def pieces(text):
    """Splits TEXT (no special tokens in it) the way the "gpt-2" pre-tokenizer does: every
    match of the expression, and every stretch between matches, is a piece."""
    out, at = [], 0
    for start, end in _matches(text):
        if start > at:
            out.append(text[at:start])
        if end > start:
            out.append(text[start:end])
        at = end
    if at < len(text):
        out.append(text[at:])
    return out


def to_symbols(piece):
    return "".join(BYTE_TO_CHAR[b] for b in piece.encode("utf-8"))


def train_bpe(piece_counts, vocab_size, specials):
    """PIECE_COUNTS: {piece text: count}. Returns (tokens, merges) with
    len(tokens) == vocab_size (or fewer if the corpus runs out of pairs)."""
    base = [BYTE_TO_CHAR[b] for b in range(256)]
    n_new = vocab_size - len(specials) - len(base)
    new_tokens, known = [], set(base)
    # words as lists of symbols, with their counts; sorted so the run is deterministic
    words = [list(to_symbols(p)) for p in sorted(piece_counts)]
    counts = [piece_counts[p] for p in sorted(piece_counts)]
    pair_count = defaultdict(int)
    where = defaultdict(set)  # pair -> indices of words that contain it
    for i, (w, c) in enumerate(zip(words, counts)):
        for a, b in zip(w, w[1:]):
            pair_count[(a, b)] += c
            where[(a, b)].add(i)
    heap = [(-c, a, b) for (a, b), c in pair_count.items()]
    heapq.heapify(heap)
    merges = []
    while len(new_tokens) < n_new and heap:
        neg, a, b = heapq.heappop(heap)
        if pair_count.get((a, b), 0) != -neg or -neg <= 0:
            continue  # stale entry
        merges.append((a, b))
        ab = a + b
        # two merge paths can spell the same string ("a"+"bc", "ab"+"c"): one token
        if ab not in known:
            known.add(ab)
            new_tokens.append(ab)
        touched = defaultdict(int)
        for i in sorted(where.pop((a, b), ())):
            w, c = words[i], counts[i]
            # remove the old pairs of this word, merge, add the new pairs
            for x, y in zip(w, w[1:]):
                pair_count[(x, y)] -= c
                touched[(x, y)] += 0
            j, nw = 0, []
            while j < len(w):
                if j + 1 < len(w) and w[j] == a and w[j + 1] == b:
                    nw.append(ab)
                    j += 2
                else:
                    nw.append(w[j])
                    j += 1
            words[i] = nw
            for x, y in zip(nw, nw[1:]):
                pair_count[(x, y)] += c
                where[(x, y)].add(i)
                touched[(x, y)] += 0
        pair_count.pop((a, b), None)
        for p in touched:
            if p == (a, b):
                continue
            c = pair_count.get(p, 0)
            if c > 0:
                heapq.heappush(heap, (-c, p[0], p[1]))
            else:
                pair_count.pop(p, None)
                where.pop(p, None)
    tokens = list(specials) + base + new_tokens
    return tokens, merges


class Tokenizer:
    def __init__(self, tokens, merges, specials):
        self.tokens = tokens
        self.merges = merges
        self.specials = list(specials)
        self.id_of = {t: i for i, t in enumerate(tokens)}
        self.rank = {pair: r for r, pair in enumerate(merges)}
        self.special_re = re.compile("|".join(re.escape(s) for s in self.specials))
        self.cache = {}

    @classmethod
    def load(cls, path):
        with open(path) as f:
            d = json.load(f)
        return cls(d["tokens"], [tuple(m.split(" ")) for m in d["merges"]], d["specials"])

    def save(self, path):
        with open(path, "w") as f:
            json.dump({"specials": self.specials, "tokens": self.tokens,
                       "merges": [a + " " + b for a, b in self.merges]}, f, ensure_ascii=False)

    def _encode_piece(self, piece):
        ids = self.cache.get(piece)
        if ids is not None:
            return ids
        syms = list(to_symbols(piece))
        while len(syms) > 1:
            best = None  # the lowest-ranked merge among adjacent pairs
            for i in range(len(syms) - 1):
                r = self.rank.get((syms[i], syms[i + 1]))
                if r is not None and (best is None or r < best):
                    best = r
            if best is None:
                break
            a, b = self.merges[best]
            out, i = [], 0
            while i < len(syms):
                if i + 1 < len(syms) and syms[i] == a and syms[i + 1] == b:
                    out.append(a + b)
                    i += 2
                else:
                    out.append(syms[i])
                    i += 1
            syms = out
        ids = [self.id_of[s] for s in syms]
        self.cache[piece] = ids
        return ids

    def encode(self, text, parse_special=True):
        ids, at = [], 0
        if parse_special:
            for m in self.special_re.finditer(text):
                for p in pieces(text[at:m.start()]):
                    ids += self._encode_piece(p)
                ids.append(self.id_of[m.group()])
                at = m.end()
        for p in pieces(text[at:]):
            ids += self._encode_piece(p)
        return ids

    def decode(self, ids):
        out = bytearray()
        for i in ids:
            t = self.tokens[i]
            if t in self.specials:
                out += t.encode("utf-8")
            else:
                out += bytes(CHAR_TO_BYTE[c] for c in t)
        return out.decode("utf-8", errors="replace")
