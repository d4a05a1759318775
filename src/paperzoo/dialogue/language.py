"""Natural language in the loop: template NLG (with paraphrase variation) and a small neural NLU.

* NLG (survey Sec. 4.5): template-based, as TC-Bot's ``nlg/`` templates; several paraphrases per
  act type, chosen at random, render user acts (to train and test the NLU) and system acts.
* NLU (survey Sec. 4.3; the joint intent + slot tagging of Hakkani-Tür et al. 2016): a
  bidirectional GRU over word embeddings; the final states classify the intent and each token gets
  a BIO slot tag (``B-theater``, ``I-theater``, ``O``). Tagged spans are mapped to the nearest KB
  value (exact, else longest common word overlap). Trained on generated utterances.
Deviation: TC-Bot uses an LSTM NLU and template/LSTM NLG; both are trained here on generated text.
"""

from __future__ import annotations

import random
import re

import torch
import torch.nn as nn
import torch.nn.functional as F

from .acts import DONTCARE, INTENTS, NO_MATCH, SLOTS, DialogueAct
from .world import MovieWorld

__all__ = ["TemplateNLG", "NLUModel", "NLU", "tokenize", "NaturalLanguageLoop"]

_PHRASE = {  # how a user mentions a slot value; {v} is the value
    "moviename": ["{v}", "the movie {v}", "a film called {v}", "{v} please"],
    "theater": ["at {v}", "the {v}", "{v} theater"],
    "city": ["in {v}", "{v}", "around {v}"],
    "date": ["{v}", "on {v}", "for {v}"],
    "starttime": ["at {v}", "around {v}", "the {v} show"],
    "numberofpeople": ["{v} tickets", "for {v} people", "{v} seats"],
    "price": ["{v}"],
}
_DONTCARE = {"moviename": "any movie", "theater": "any theater is fine", "city": "any city", "date": "any day",
             "starttime": "any time works", "numberofpeople": "any number", "price": "any price"}
_ASK = {"theater": ["which theater", "where is it playing", "what theater"],
        "date": ["what day", "which date", "when is it"],
        "starttime": ["what time", "when does it start", "which showtime"],
        "price": ["how much is it", "what is the price", "how much are tickets"]}
_OPEN = {"inform": ["i want {x}", "i would like {x}", "{x}", "looking for {x}", "can i get {x}"],
         "request": ["{x}", "{x} ?", "tell me {x}"],
         "deny": ["no , {x}", "that is wrong , {x}", "not that , {x}"],
         "thanks": ["thanks", "thank you", "great thanks", "perfect , thank you"],
         "closing": ["bye", "goodbye", "no thanks bye"],
         "greeting": ["hello", "hi", "hi there"],
         "confirm_answer": ["yes", "yes please", "correct"]}
_SYS = {"greeting": "Hello! What movie would you like to see?",
        "closing": "Thank you, goodbye.",
        "request": {"moviename": "Which movie would you like to see?", "theater": "Which theater do you prefer?",
                    "city": "Which city are you in?", "date": "What day would you like to go?",
                    "starttime": "What time would you like?", "numberofpeople": "How many tickets do you need?"}}


def tokenize(text: str) -> list[str]:
    return re.findall(r"\$?\d+(?::\d+)?(?:am|pm)?|[a-z]+|[^\sa-z0-9]", text.lower())


class TemplateNLG:
    """Acts -> text. ``user_text`` paraphrases at random (seeded); ``system_text`` is deterministic."""

    def __init__(self, seed: int = 0):
        self.rng = random.Random(seed)

    def user_parts(self, act: DialogueAct) -> tuple[list[str], list[str]]:
        """Tokens and BIO tags for a user act (the NLU's training data)."""
        toks, tags = [], []

        def add(text: str, slot: str | None = None, value: str | None = None) -> None:
            for piece in re.split(r"(\{v\})", text):
                if piece == "{v}" and value is not None:
                    vt = tokenize(value)
                    toks.extend(vt)
                    tags.extend([f"B-{slot}"] + [f"I-{slot}"] * (len(vt) - 1))
                else:
                    t = tokenize(piece)
                    toks.extend(t)
                    if slot is not None and value is None and t:  # a dontcare phrase is tagged as the slot
                        tags.extend([f"B-{slot}"] + [f"I-{slot}"] * (len(t) - 1))
                    else:
                        tags.extend(["O"] * len(t))

        opener = self.rng.choice(_OPEN.get(act.intent, ["{x}"]))
        head, _, tail = opener.partition("{x}")
        add(head)
        items = list(act.inform_slots.items())
        self.rng.shuffle(items)
        for i, (s, v) in enumerate(items):
            if i:
                add(self.rng.choice([" ", " and ", " , "]))
            if v == DONTCARE:
                add(_DONTCARE.get(s, "anything"), s)
            elif s in _PHRASE:
                add(self.rng.choice(_PHRASE[s]), s, v)
        for s in act.request_slots:
            add(" , " + self.rng.choice(_ASK.get(s, [s])))
        add(tail)
        return toks, tags

    def user_text(self, act: DialogueAct) -> str:
        return " ".join(self.user_parts(act)[0]) or "..."

    def system_text(self, act: DialogueAct) -> str:
        if act.intent == "request" and act.request_slots:
            return _SYS["request"].get(act.request_slots[0], f"What {act.request_slots[0]}?")
        if act.intent == "inform":
            if "taskcomplete" in act.inform_slots:
                if act.inform_slots["taskcomplete"] == NO_MATCH:
                    return "Sorry, I found no showing that matches."
                t = act.inform_slots
                return (f"Great, I booked {t.get('numberofpeople', 'your')} tickets for {t['moviename']} at "
                        f"{t['theater']} in {t['city']}, {t['date']} at {t['starttime']}.")
            return " ".join(f"The {s} is {v}." if v != NO_MATCH else f"I have no {s} for that."
                            for s, v in act.inform_slots.items())
        return _SYS.get(act.intent, "Okay.") if isinstance(_SYS.get(act.intent), str) else "Okay."


class NLUModel(nn.Module):
    """Joint intent classification and BIO slot tagging with a BiGRU."""

    def __init__(self, vocab: int, n_intents: int, n_tags: int, emb: int = 48, hidden: int = 64):
        super().__init__()
        self.emb = nn.Embedding(vocab, emb, padding_idx=0)
        self.rnn = nn.GRU(emb, hidden, batch_first=True, bidirectional=True)
        self.intent = nn.Linear(2 * hidden, n_intents)
        self.tag = nn.Linear(2 * hidden, n_tags)

    def forward(self, x: torch.Tensor):
        """x (B, T) ids -> intent logits (B, I), tag logits (B, T, K)."""
        h, last = self.rnn(self.emb(x))  # h (B, T, 2H), last (2, B, H)
        return self.intent(torch.cat([last[0], last[1]], -1)), self.tag(h)


class NLU:
    """Vocabulary + :class:`NLUModel` + value normalisation against the KB."""

    def __init__(self, world: MovieWorld, vocab: list[str] | None = None, emb: int = 48, hidden: int = 64):
        self.world = world
        self.tags = ["O"] + [f"{p}-{s}" for s in SLOTS for p in "BI"]
        self.vocab = vocab or ["<pad>", "<unk>"]
        self.emb, self.hidden = emb, hidden
        self.model = NLUModel(max(len(self.vocab), 2), len(INTENTS), len(self.tags), emb, hidden)

    def _ids(self, toks: list[str]) -> list[int]:
        idx = self._index
        return [idx.get(t, 1) for t in toks] or [1]

    def fit(self, n_examples: int, epochs: int, seed: int = 0, make_act=None) -> float:
        """Train on ``n_examples`` generated user utterances; returns held-out (intent, slot F1-ish) accuracy."""
        nlg = TemplateNLG(seed)
        data = [(a.intent, *nlg.user_parts(a)) for a in (make_act() for _ in range(n_examples))]
        words = sorted({t for _, toks, _ in data for t in toks} | {t for vs in self.world.values.values()
                                                                 for v in vs for t in tokenize(v)})
        self.vocab = ["<pad>", "<unk>"] + words
        self._index = {w: i for i, w in enumerate(self.vocab)}
        torch.manual_seed(seed)
        self.model = NLUModel(len(self.vocab), len(INTENTS), len(self.tags), self.emb, self.hidden)
        opt = torch.optim.Adam(self.model.parameters(), lr=3e-3)
        split = int(0.9 * len(data))
        train, test = data[:split], data[split:]
        rng = random.Random(seed)
        for _ in range(epochs):
            rng.shuffle(train)
            for i in range(0, len(train), 64):
                x, it, tg = self._batch(train[i:i + 64])
                li, lt = self.model(x)
                loss = F.cross_entropy(li, it) + F.cross_entropy(lt.reshape(-1, lt.size(-1)), tg.reshape(-1),
                                                                 ignore_index=-1)
                opt.zero_grad()
                loss.backward()
                opt.step()
        self.model.eval()
        x, it, tg = self._batch(test)
        with torch.no_grad():
            li, lt = self.model(x)
        mask = tg >= 0
        return float((li.argmax(-1) == it).float().mean()), float((lt.argmax(-1) == tg)[mask].float().mean())

    def _batch(self, rows):
        T = max(len(r[1]) for r in rows)
        x = torch.zeros(len(rows), T, dtype=torch.long)
        tg = torch.full((len(rows), T), -1, dtype=torch.long)
        for i, (_, toks, tags) in enumerate(rows):
            ids = self._ids(toks)
            x[i, :len(ids)] = torch.tensor(ids)
            tg[i, :len(tags)] = torch.tensor([self.tags.index(t) for t in tags])
        return x, torch.tensor([INTENTS.index(r[0]) for r in rows]), tg

    def _normalise(self, slot: str, words: list[str]) -> str | None:
        text = " ".join(words)
        if text in _DONTCARE.values() or text.startswith("any"):
            return DONTCARE
        cands = self.world.values.get(slot, [])
        if text in cands:
            return text
        best, score = None, 0
        for c in cands:
            o = len(set(tokenize(c)) & set(words))
            if o > score:
                best, score = c, o
        return best

    @torch.no_grad()
    def parse(self, text: str) -> DialogueAct:
        """Text -> user act. Any string is accepted (empty or unknown text gives an ``inform`` with no slots)."""
        toks = tokenize(text)[:64]
        if not toks or not hasattr(self, "_index"):
            return DialogueAct("inform")
        li, lt = self.model(torch.tensor([self._ids(toks)]))
        intent = INTENTS[int(li.argmax())]
        tags = [self.tags[i] for i in lt[0].argmax(-1).tolist()]
        spans: list[tuple[str, list[str]]] = []
        for t, g in zip(toks, tags):
            if g.startswith("B-") or (g.startswith("I-") and (not spans or spans[-1][0] != g[2:])):
                spans.append((g[2:], [t]))
            elif g.startswith("I-"):
                spans[-1][1].append(t)
        inform = {}
        for s, words in spans:
            v = self._normalise(s, words)
            if v is not None:
                inform[s] = v
        requests = [s for s, ws in _ASK.items() if any(" ".join(tokenize(w)) in " ".join(toks) for w in ws)]
        return DialogueAct(intent, inform, requests)


class NaturalLanguageLoop:
    """NLG -> text -> NLU, for ``run_dialogue(nl=...)``."""

    def __init__(self, nlu: NLU, seed: int = 0):
        self.nlu, self.nlg = nlu, TemplateNLG(seed)

    def user_text(self, act: DialogueAct) -> str:
        return self.nlg.user_text(act)

    def parse(self, text: str) -> DialogueAct:
        return self.nlu.parse(text)

    def system_text(self, act: DialogueAct) -> str:
        return self.nlg.system_text(act)
