"""WER and PER exactly as the G2P field scores CMUDict (S4 notes Sec. 2; Phonetisaurus
``test/check-nbest-wer.py``, DeepPhonemizer ``dp/training/evaluation.py``;
Yolchuyeva et al. 2019, arXiv 2004.06338, Sec. 4):

* a word is correct when the hypothesis equals **any** of its reference pronunciations;
  WER = wrong words / scored words;
* per word, PER uses the reference with the smallest edit distance to the hypothesis;
  corpus PER = sum of those distances / sum of those references' lengths.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

__all__ = ["edit_distance", "score_word", "wer_per"]


def edit_distance(a: Sequence[str], b: Sequence[str]) -> int:
    """Levenshtein distance (unit cost substitution / insertion / deletion) between symbol sequences."""
    if len(a) < len(b):
        a, b = b, a
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        cur = [i]
        for j, y in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y)))
        prev = cur
    return prev[-1]


def score_word(hyp: Sequence[str], refs: Sequence[Sequence[str]]) -> tuple[bool, int, int]:
    """(correct, edits, reference length) for one word: the closest reference (ties: the shorter one)."""
    if not refs:
        raise ValueError("a word needs at least one reference pronunciation")
    hyp = list(hyp)
    best = min(((edit_distance(hyp, r), len(r)) for r in refs), key=lambda t: (t[0], t[1]))
    correct = any(hyp == list(r) for r in refs)
    return correct, best[0], best[1]


def wer_per(hyps: Mapping[str, Sequence[str]], refs: Mapping[str, Sequence[Sequence[str]]]) -> dict[str, float]:
    """Corpus WER and PER (fractions) of ``hyps`` (word -> phonemes) against ``refs`` (word -> [prons]).

    Every word of ``refs`` is scored; a word missing from ``hyps`` counts as an empty prediction.
    """
    if not refs:
        raise ValueError("no reference words to score")
    wrong = edits = length = 0
    for word, rs in refs.items():
        ok, e, n = score_word(hyps.get(word, []), rs)
        wrong += not ok
        edits += e
        length += n
    return {"wer": wrong / len(refs), "per": edits / max(length, 1), "words": len(refs)}
