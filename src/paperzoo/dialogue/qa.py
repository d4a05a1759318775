"""QA agents over the movie KB (survey Ch. 3): neural KB-QA and a KB-InfoBot-style interactive agent.

* KB-QA (Sec. 3.2-3.3: entity linking + relation matching): the topic entity (a movie, optionally
  a theater / date) is linked by longest string match against KB values; the relation (which
  column is asked for) is classified by a small neural bag-of-words encoder trained on generated
  questions; the answer is the KB lookup. Accuracy is measured on held-out generated questions.
* KB-InfoBot (Dhingra et al. 2017, arXiv 1609.00777): the agent keeps a posterior over KB rows and
  asks for the slot whose answer most reduces the entropy of the target value until one row is
  left. Deviation: a hard (filtered) posterior with an entropy-based slot choice instead of the
  paper's soft lookup trained end-to-end with RL.
Generated questions, not a real QA data set.
"""

from __future__ import annotations

import math
import random
from collections import Counter

import torch
import torch.nn as nn
import torch.nn.functional as F

from .language import tokenize
from .world import MovieWorld

__all__ = ["RELATIONS", "make_questions", "KBQA", "InfoBot"]

RELATIONS = ("theater", "city", "date", "starttime", "price")
_Q = {"theater": ["where is {m} playing", "which theater shows {m}", "what cinema has {m}", "where can i see {m}"],
      "city": ["which city is {m} in", "in what city can i watch {m}", "what town shows {m}"],
      "date": ["what day is {m} on", "when is {m} showing", "which date can i see {m}"],
      "starttime": ["what time does {m} start", "when does {m} begin", "what is the showtime of {m}"],
      "price": ["how much is {m}", "what does a ticket for {m} cost", "what is the price of {m}"]}


def make_questions(world: MovieWorld, n: int, seed: int = 0, movies: list[str] | None = None):
    """(question, relation, movie, answer-set) tuples about ``movies`` (default: all), generated."""
    rng = random.Random(seed)
    rows = [x for x in world.kb if movies is None or x["moviename"] in movies]
    out = []
    for _ in range(n):
        r = rng.choice(RELATIONS)
        row = rng.choice(rows)
        tmpl = rng.choice(_Q[r])
        answers = {x[r] for x in world.kb if x["moviename"] == row["moviename"]}
        out.append((tmpl.format(m=row["moviename"]), r, row["moviename"], answers))
    return out


class _RelationEncoder(nn.Module):
    """Bag of words (mean of word embeddings, as a dense counts x matrix product) -> relation logits."""

    def __init__(self, vocab: int, dim: int = 32):
        super().__init__()
        self.emb = nn.Linear(vocab, dim, bias=False)
        self.out = nn.Linear(dim, len(RELATIONS))

    def forward(self, bow: torch.Tensor) -> torch.Tensor:
        return self.out(torch.tanh(self.emb(bow)))


class KBQA:
    """Entity linking by string match + neural relation matching + KB lookup."""

    def __init__(self, world: MovieWorld):
        self.world = world
        self.vocab: dict[str, int] = {"<unk>": 0}
        self.model = _RelationEncoder(1)

    def _enc(self, qs: list[str]) -> torch.Tensor:
        bow = torch.zeros(len(qs), len(self.vocab))
        for i, q in enumerate(qs):
            ids = [self.vocab.get(t, 0) for t in tokenize(q)] or [0]
            for j in ids:
                bow[i, j] += 1.0 / len(ids)
        return bow

    def fit(self, questions, epochs: int = 30, seed: int = 0) -> None:
        torch.manual_seed(seed)
        for q, *_ in questions:
            for t in tokenize(q):
                self.vocab.setdefault(t, len(self.vocab))
        self.model = _RelationEncoder(len(self.vocab))
        opt = torch.optim.Adam(self.model.parameters(), lr=1e-2)
        bow = self._enc([q for q, *_ in questions])
        y = torch.tensor([RELATIONS.index(r) for _, r, *_ in questions])
        for _ in range(epochs):
            loss = F.cross_entropy(self.model(bow), y)
            opt.zero_grad()
            loss.backward()
            opt.step()

    def link_entity(self, question: str) -> str | None:
        q = " ".join(tokenize(question))
        hits = [m for m in self.world.values["moviename"] if m in q or m.removeprefix("the ") in q]
        return max(hits, key=len) if hits else None

    @torch.no_grad()
    def answer(self, question: str) -> tuple[str | None, str, set[str]]:
        """(movie, relation, answers); an empty answer set when no movie is recognised."""
        movie = self.link_entity(question)
        if len(self.vocab) > 1:
            rel = RELATIONS[int(self.model(self._enc([question])).argmax())]
        else:  # untrained: keyword overlap with each relation's question words (the baseline)
            toks = set(tokenize(question))
            rel = max(RELATIONS, key=lambda r: sum(len(toks & set(tokenize(t.replace("{m}", "")))) for t in _Q[r]))
        if movie is None:
            return None, rel, set()
        return movie, rel, {x[rel] for x in self.world.kb if x["moviename"] == movie}

    def accuracy(self, questions) -> float:
        ok = 0
        for q, r, m, ans in questions:
            pm, pr, pa = self.answer(q)
            ok += pm == m and pr == r and pa == ans
        return ok / max(len(questions), 1)


class InfoBot:
    """Interactive KB lookup: ask the most informative slot until one row (or one answer) is left."""

    ASKABLE = ("moviename", "city", "date", "theater", "starttime")

    def __init__(self, world: MovieWorld):
        self.world = world

    def next_slot(self, rows: list[int], known: dict[str, str], exclude: str | None = None) -> str | None:
        """The slot whose values split the remaining rows most evenly (largest entropy)."""
        best, h_best = None, 0.0
        for s in self.ASKABLE:
            if s in known or s == exclude:
                continue
            c = Counter(self.world.kb[i][s] for i in rows)
            h = -sum(n / len(rows) * math.log(n / len(rows)) for n in c.values())
            if h > h_best + 1e-9:
                best, h_best = s, h
        return best
