"""wordnet.py — reads the WordNet 3.0 database files (Debian: /usr/share/wordnet).

Only what the dictionary model needs: for every lemma, its senses in WordNet's order
(most frequent first) per part of speech, and for every synset its words, definition,
example sentences, hypernyms and antonyms. The file format is WordNet's wndb(5):

  data.POS   one synset per line:
             offset lex_filenum ss_type w_cnt (word lex_id)*w_cnt p_cnt
             (pointer_symbol synset_offset pos source/target)*p_cnt [frames] | gloss
  index.POS  one lemma per line:
             lemma pos synset_cnt p_cnt (ptr_symbol)*p_cnt sense_cnt tagsense_cnt
             (synset_offset)*synset_cnt        -- offsets in sense-frequency order
  cntlist.rev  sense_key sense_number tag_cnt  -- how often each sense was seen in the
             SemCor corpus; summed per lemma it ranks words by how common they are.

Counts in data lines are hexadecimal (w_cnt) or decimal (p_cnt); the licence header at
the top of every file is a block of lines that start with two spaces.
"""

import os
import re
from collections import defaultdict

POS_NAMES = {"n": "noun", "v": "verb", "a": "adjective", "r": "adverb"}
POS_FILES = {"n": "noun", "v": "verb", "a": "adj", "r": "adv"}
# In sense keys (cntlist.rev) the part of speech is a number; 5 is an adjective satellite.
SENSE_KEY_POS = {"1": "n", "2": "v", "3": "a", "4": "r", "5": "a"}

# Adjective words may carry a syntactic marker: "galore(ip)", "asleep(p)", "elect(a)".
_ADJ_MARKER = re.compile(r"\((a|p|ip)\)$")
_QUOTED = re.compile(r'"([^"]*)"')


class Synset:
    __slots__ = ("pos", "offset", "words", "definition", "examples", "hypernyms",
                 "antonyms")

    def __init__(self, pos, offset):
        self.pos = pos            # "n", "v", "a" or "r" (satellites are stored as "a")
        self.offset = offset
        self.words = []           # lemmas as written, spaces instead of underscores
        self.definition = ""
        self.examples = []
        self.hypernyms = []       # synset keys (pos, offset): "@" and instance "@i"
        self.antonyms = []        # (source word index or -1, target synset key, target word index)


def clean_lemma(word):
    return _ADJ_MARKER.sub("", word).replace("_", " ")


def split_gloss(gloss):
    """A gloss is 'definition; "example one"; "example two"'. Returns (definition,
    [examples]). Definitions may themselves contain semicolons; examples are the quoted
    parts. Text after the first example that is not quoted (rare) is dropped."""
    gloss = gloss.strip()
    first_quote = gloss.find('"')
    definition = gloss if first_quote < 0 else gloss[:first_quote]
    definition = definition.strip().rstrip(";").strip()
    examples = [e.strip() for e in _QUOTED.findall(gloss) if e.strip()]
    return definition, examples


def _data_lines(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.startswith("  "):  # licence header
                continue
            yield line.rstrip("\n")


def _parse_data_line(line, file_pos):
    head, _, gloss = line.partition(" | ")
    fields = head.split()
    offset = int(fields[0])
    ss = Synset(file_pos, offset)
    w_cnt = int(fields[3], 16)
    i = 4
    for _ in range(w_cnt):
        ss.words.append(clean_lemma(fields[i]))
        i += 2  # word, lex_id
    p_cnt = int(fields[i])
    i += 1
    for _ in range(p_cnt):
        symbol, target, target_pos, source_target = fields[i:i + 4]
        i += 4
        target_pos = "a" if target_pos == "s" else target_pos
        key = (target_pos, int(target))
        if symbol in ("@", "@i"):
            ss.hypernyms.append(key)
        elif symbol == "!":
            src = int(source_target[:2], 16) - 1
            tgt = int(source_target[2:], 16) - 1
            ss.antonyms.append((src, key, tgt))
    ss.definition, ss.examples = split_gloss(gloss)
    return ss


class WordNet:
    def __init__(self, root="/usr/share/wordnet"):
        self.root = root
        self.synsets = {}                       # (pos, offset) -> Synset
        self.senses = defaultdict(dict)         # lemma -> pos -> [synset keys]
        self.tag_count = defaultdict(int)       # lemma -> SemCor count over all senses
        self.tag_count_pos = defaultdict(int)   # (lemma, pos) -> SemCor count
        self.inflections = set()                # irregular forms from the *.exc lists
        for pos, name in POS_FILES.items():
            for line in _data_lines(os.path.join(root, "data." + name)):
                ss = _parse_data_line(line, pos)
                self.synsets[(pos, ss.offset)] = ss
            for line in _data_lines(os.path.join(root, "index." + name)):
                fields = line.split()
                lemma = fields[0].replace("_", " ")
                synset_cnt = int(fields[2])
                offsets = fields[len(fields) - synset_cnt:]
                self.senses[lemma][pos] = [(pos, int(o)) for o in offsets]
            exc = os.path.join(root, name + ".exc")
            if os.path.exists(exc):
                with open(exc, encoding="utf-8", errors="replace") as f:
                    for line in f:
                        parts = line.split()
                        if parts:
                            self.inflections.add(parts[0].replace("_", " "))
        with open(os.path.join(root, "cntlist.rev"), encoding="utf-8") as f:
            for line in f:
                key, _, count = line.split()
                lemma, _, rest = key.partition("%")
                lemma = lemma.replace("_", " ")
                pos = SENSE_KEY_POS.get(rest[:1])
                if pos:
                    self.tag_count[lemma] += int(count)
                    self.tag_count_pos[(lemma, pos)] += int(count)

    # ---- questions about one lemma ---------------------------------------------------

    def main_pos(self, lemma):
        """The part of speech a bare question about LEMMA most likely means: the one with
        the most tagged occurrences, ties (and untagged words) in the order n, v, a, r."""
        order = [p for p in "nvar" if p in self.senses[lemma]]
        return max(order, key=lambda p: (self.tag_count_pos[(lemma, p)], -order.index(p)))

    def ordered_senses(self, lemma):
        """Every synset of LEMMA: the main part of speech first, then the others, each in
        WordNet's frequency order."""
        main = self.main_pos(lemma)
        out = list(self.senses[lemma][main])
        for p in "nvar":
            if p != main and p in self.senses[lemma]:
                out += self.senses[lemma][p]
        return out

    def synonyms(self, lemma):
        """Other lemmas sharing a synset with LEMMA, in sense order, without repeats."""
        out, seen = [], {lemma}
        for key in self.ordered_senses(lemma):
            for w in self.synsets[key].words:
                if w.lower() not in seen:
                    seen.add(w.lower())
                    out.append(w)
        return out

    def antonyms(self, lemma):
        """Direct antonyms of LEMMA (WordNet's '!' pointers from one of its words)."""
        out = []
        for key in self.ordered_senses(lemma):
            ss = self.synsets[key]
            for src, target, tgt in ss.antonyms:
                if src >= 0 and (src >= len(ss.words) or ss.words[src].lower() != lemma):
                    continue
                words = self.synsets[target].words
                w = words[tgt] if 0 <= tgt < len(words) else words[0]
                if w not in out:
                    out.append(w)
        return out

    def hypernyms(self, lemma):
        """For each noun sense, in order: the first lemma of each of its hypernyms."""
        out = []
        for key in self.senses[lemma].get("n", []):
            for h in self.synsets[key].hypernyms:
                w = self.synsets[h].words[0]
                if w not in out:
                    out.append(w)
        return out

    def examples(self, lemma):
        """Example sentences of LEMMA's senses that actually contain the word (or a
        regular inflection of it), in sense order."""
        pattern = re.compile(r"\b" + re.escape(lemma) + r"(s|es|d|ed|ing)?\b", re.IGNORECASE)
        out = []
        for key in self.ordered_senses(lemma):
            for e in self.synsets[key].examples:
                if pattern.search(e) and e not in out:
                    out.append(e)
        return out

    def definitions(self, lemma):
        """(pos, definition) of every sense, in ordered_senses order."""
        return [(key[0], self.synsets[key].definition) for key in self.ordered_senses(lemma)]

    def is_known_form(self, word):
        """True if WORD is a WordNet lemma or a listed irregular form, in any case."""
        w = word.lower()
        return w in self.senses or w in self.inflections
