"""Persona-conditioned seq2seq chatbot with beam search and MMI reranking (survey Ch. 5).

* Seq2seq (Sec. 5.1; Vinyals & Le 2015) with the shared :class:`paperzoo.transformer.model.Seq2SeqTransformer`
  and the shared batched beam search (:mod:`paperzoo.transformer.decode`).
* Persona (Li et al. 2016, "A Persona-Based Neural Conversation Model", arXiv 1603.06155): the
  speaker's persona facts are prepended to the source (PersonaChat style, Zhang et al. 2018).
  Deviation: persona as source text rather than a learned speaker embedding.
* MMI (Li et al. 2016, arXiv 1510.03055, Eq. 4, MMI-antiLM): N-best reranking by
  ``log p(y|x) - lambda * log p(y)``, where ``p(y)`` is the same model given an empty persona and
  message (a language-model estimate).
* Metrics: perplexity, distinct-1/2 (Li et al. 2016: distinct n-grams / all n-grams), persona
  consistency (the share of replies to persona questions that state the speaker's own fact).
* Loaders: DailyDialog ``dialogues_text.txt`` (turns split by ``__eou__``) and PersonaChat
  ``*_self_original.txt`` (numbered lines; ``your persona:`` lines, then ``utterance\\treply\\t\\tcands``).
Embedded training data is GENERATED (templated persona chat), not a real corpus.
"""

from __future__ import annotations

import math
import random
from pathlib import Path

import torch
import torch.nn.functional as F

from ..errors import DataError
from ..transformer.decode import beam_search
from ..transformer.model import Seq2SeqTransformer, TransformerConfig
from .language import tokenize

__all__ = ["PERSONA_FACTS", "make_persona_chat", "Vocab", "Chatbot", "distinct_n", "read_dailydialog",
           "read_personachat"]

PERSONA_FACTS = {  # topic -> (question variants, facts)
    "pet": (["do you have pets", "any pets", "do you have a pet"],
            ["i have a dog", "i have two cats", "i have a parrot", "i have a rabbit"]),
    "job": (["what do you do", "what is your job", "where do you work"],
            ["i am a nurse", "i am a teacher", "i work as a chef", "i am a pilot"]),
    "hobby": (["what do you like to do", "any hobbies", "what do you do for fun"],
              ["i love hiking", "i play the guitar", "i paint on weekends", "i like to swim"]),
    "food": (["what is your favorite food", "what do you like to eat", "favorite meal"],
             ["i love pizza", "i eat sushi a lot", "i like tacos", "i am vegan"]),
}
_SMALLTALK = [("hi", ["hello ! how are you ?", "hi there !", "hey , nice to meet you"]),
              ("how are you", ["i am good , thanks", "great , and you ?", "doing well"]),
              ("bye", ["goodbye !", "see you later", "bye , take care"]),
              ("that is cool", ["thanks !", "yes i think so too", "what about you ?"])]


def make_persona_chat(n: int, seed: int = 0) -> list[tuple[list[str], str, str]]:
    """Generated (persona facts, message, reply) triples. Replies to persona questions state the fact."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        persona = [rng.choice(facts) for _, facts in PERSONA_FACTS.values()]
        if rng.random() < 0.7:
            topic = rng.randrange(len(PERSONA_FACTS))
            qs, _ = list(PERSONA_FACTS.values())[topic]
            reply = persona[topic] + rng.choice(["", " .", " , what about you ?", " !"])
            out.append((persona, rng.choice(qs), reply.strip()))
        else:
            m, rs = rng.choice(_SMALLTALK)
            out.append((persona, m, rng.choice(rs)))
    return out


class Vocab:
    PAD, BOS, EOS, SEP, UNK = 0, 1, 2, 3, 4

    def __init__(self, words: list[str]):
        self.itos = ["<pad>", "<s>", "</s>", "<sep>", "<unk>"] + sorted(set(words))
        self.stoi = {w: i for i, w in enumerate(self.itos)}

    def encode(self, text: str) -> list[int]:
        return [self.stoi.get(t, self.UNK) for t in tokenize(text)]

    def decode(self, ids: list[int]) -> str:
        return " ".join(self.itos[i] for i in ids if i > self.UNK)


class Chatbot:
    """Persona seq2seq: source = persona facts <sep> message; target = reply."""

    def __init__(self, vocab: Vocab, d_model: int = 64, layers: int = 2, heads: int = 4, seed: int = 0):
        torch.manual_seed(seed)
        self.vocab = vocab
        self.cfg = TransformerConfig(src_vocab=len(vocab.itos), tgt_vocab=len(vocab.itos), d_model=d_model, n_heads=heads,
                                     d_ff=2 * d_model, n_layers=layers, n_dec_layers=layers, dropout=0.1, norm="pre",
                                     max_len=128)
        self.model = Seq2SeqTransformer(self.cfg)

    def source(self, persona: list[str], message: str) -> list[int]:
        ids: list[int] = []
        for f in persona:
            ids += self.vocab.encode(f) + [Vocab.SEP]
        return (ids + self.vocab.encode(message)[:40])[-120:] or [Vocab.SEP]

    def _pad(self, rows: list[list[int]]) -> torch.Tensor:
        T = max(len(r) for r in rows)
        return torch.tensor([r + [Vocab.PAD] * (T - len(r)) for r in rows])

    def _batch(self, data):
        src = self._pad([self.source(p, m) for p, m, _ in data])
        tgt = [self.vocab.encode(r)[:30] for _, _, r in data]
        return src, self._pad([[Vocab.BOS] + t for t in tgt]), self._pad([t + [Vocab.EOS] for t in tgt])

    def fit(self, data, steps: int, batch: int = 32, lr: float = 2e-3, seed: int = 0) -> list[float]:
        rng = random.Random(seed)
        opt = torch.optim.Adam(self.model.parameters(), lr=lr, betas=(0.9, 0.98))
        self.model.train()
        losses = []
        for _ in range(steps):
            src, tin, tout = self._batch(rng.sample(data, min(batch, len(data))))
            _, loss = self.model(src, tin, tout)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
        self.model.eval()
        return losses

    @torch.no_grad()
    def perplexity(self, data) -> float:
        self.model.eval()
        src, tin, tout = self._batch(data)
        logits, _ = self.model(src, tin)
        nll = F.cross_entropy(logits.reshape(-1, logits.size(-1)), tout.reshape(-1), ignore_index=0, reduction="sum")
        return math.exp(float(nll) / int((tout != 0).sum()))

    @torch.no_grad()
    def _logprob(self, srcs: list[list[int]], ys: list[list[int]]) -> torch.Tensor:
        src = self._pad(srcs)
        tin = self._pad([[Vocab.BOS] + y for y in ys])
        tout = self._pad([y + [Vocab.EOS] for y in ys])
        logits, _ = self.model(src, tin)
        lp = -F.cross_entropy(logits.transpose(1, 2), tout, ignore_index=0, reduction="none")
        return lp.sum(1)

    @torch.no_grad()
    def reply(self, pairs: list[tuple[list[str], str]], beam: int = 8, mmi: float = 0.0, nbest: int = 8) -> list[str]:
        """Beam search (shared decoder); with ``mmi > 0`` the N-best list is reranked by MMI-antiLM."""
        self.model.eval()
        srcs = [self.source(p, m) for p, m in pairs]
        hyps = beam_search(self.model, self._pad(srcs), bos=Vocab.BOS, eos=Vocab.EOS, max_len=24, beam=beam,
                           nbest=nbest, pad=Vocab.PAD)
        out = []
        for src, hs in zip(srcs, hyps):
            cands = [h.tokens for h in hs if h.tokens] or [[Vocab.UNK]]
            if mmi > 0 and len(cands) > 1:
                lp = self._logprob([src] * len(cands), cands)
                lm = self._logprob([[Vocab.SEP]] * len(cands), cands)
                best = int((lp - mmi * lm).argmax())
            else:
                best = 0
            out.append(self.vocab.decode(cands[best]) or "...")
        return out


def distinct_n(texts: list[str], n: int) -> float:
    """Distinct-n: unique n-grams / total n-grams over all replies (Li et al. 2016a)."""
    grams = [tuple(t.split()[i:i + n]) for t in texts for i in range(len(t.split()) - n + 1)]
    return len(set(grams)) / max(len(grams), 1)


def read_dailydialog(path: str | Path) -> list[list[str]]:
    """DailyDialog ``dialogues_text.txt``: one dialogue per line, turns separated by ``__eou__``."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{p}: no such file; pass DailyDialog's dialogues_text.txt")
    out = []
    for line in p.read_text(encoding="utf-8").splitlines():
        turns = [t.strip() for t in line.split("__eou__") if t.strip()]
        if turns:
            out.append(turns)
    return out


def read_personachat(path: str | Path) -> list[tuple[list[str], list[tuple[str, str]]]]:
    """PersonaChat ``*_self_original.txt``: per dialogue, (persona facts, [(message, reply), ...])."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{p}: no such file; pass a PersonaChat file such as train_self_original.txt")
    dialogues: list[tuple[list[str], list[tuple[str, str]]]] = []
    for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        num, _, rest = line.partition(" ")
        if not num.isdigit():
            raise DataError(f"{p}:{n}: expected a line number first (PersonaChat text format)")
        if num == "1" or not dialogues:
            dialogues.append(([], []))
        if rest.startswith("your persona:"):
            dialogues[-1][0].append(rest[len("your persona:"):].strip())
        else:
            parts = rest.split("\t")
            if len(parts) < 2:
                raise DataError(f"{p}:{n}: expected 'message<TAB>reply' (PersonaChat text format)")
            dialogues[-1][1].append((parts[0], parts[1]))
    return dialogues
