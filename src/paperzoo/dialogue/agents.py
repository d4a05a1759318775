"""Text-in, text-out agents on the one :class:`~paperzoo.dialogue.acts.Agent` interface, and ``load_agent``.

* :class:`TaskAgent` — the survey's modular pipeline (Sec. 4.1, Fig. 4.1): NLU -> state tracker ->
  policy -> NLG over the generated movie-ticket world.
* :class:`QAAgent` — KB-QA over the same KB, falling back to KB-InfoBot-style questions.
* :class:`ChatAgent` — the persona seq2seq chatbot (trained weights) or, without them, a retrieval
  fallback over the generated persona-chat data.

Without trained files every agent works at once: the task agent uses the rule policy and a
keyword NLU, the QA agent trains its tiny relation classifier in well under a second. With
``model_dir`` (written by ``paperzoo run dialogue`` under ``<out>/models`` or ``paperzoo chat train``)
the DQN policy, neural NLU and the chatbot are loaded from safetensors + JSON.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from ..engine import load_weights, save_weights
from ..errors import CheckpointError, ConfigError
from .acts import DONTCARE, INFORM_SLOTS, DialogueAct
from .chatbot import PERSONA_FACTS, Chatbot, Vocab, make_persona_chat
from .language import _ASK, NLU, TemplateNLG, tokenize
from .policy import BOOK, DQNAgent, rule_expert
from .qa import KBQA, InfoBot, _RelationEncoder
from .tracker import StateTracker
from .world import MovieWorld, make_world

__all__ = ["KeywordNLU", "TaskAgent", "QAAgent", "ChatAgent", "load_agent", "save_models", "MAX_INPUT_CHARS"]

MAX_INPUT_CHARS = 500
_BYE = {"bye", "goodbye", "quit", "exit"}
_THANKS = {"thanks", "thank", "thx"}


def _clean(text: object) -> str:
    return str(text if text is not None else "").replace("\x00", " ")[:MAX_INPUT_CHARS].strip()


class KeywordNLU:
    """A rule NLU (string match of KB values and request words): the fallback without trained weights."""

    def __init__(self, world: MovieWorld):
        self.world = world

    def parse(self, text: str) -> DialogueAct:
        toks = tokenize(text)
        q = " " + " ".join(toks) + " "
        if set(toks) & _BYE:
            return DialogueAct("closing")
        inform: dict[str, str] = {}
        for s in INFORM_SLOTS:
            for v in sorted(self.world.values.get(s, []), key=len, reverse=True):
                if f" {v} " in q or (s == "moviename" and f" {v.removeprefix('the ')} " in q):
                    inform[s] = v
                    break
        for t in toks:
            if t.isdigit() and 0 < int(t) < 20 and "numberofpeople" not in inform:
                inform["numberofpeople"] = t
        if " any " in q and not inform:
            inform = {s: DONTCARE for s in ("theater", "city", "date", "starttime")}
        req = [s for s, ws in _ASK.items() if any(" " + " ".join(tokenize(w)) + " " in q for w in ws)]
        if not inform and not req and set(toks) & _THANKS:
            return DialogueAct("thanks")
        return DialogueAct("request" if req else "inform", inform, req)


class TaskAgent:
    """Movie-ticket booking agent (NLU -> tracker -> policy -> template NLG)."""

    def __init__(self, world: MovieWorld | None = None, policy=None, nlu=None, max_turn: int = 40):
        self.world = world or make_world(0)
        self.policy = policy or rule_expert
        self.nlu = nlu or KeywordNLU(self.world)
        self.nlg = TemplateNLG(0)
        self.tracker = StateTracker(self.world, max_turn)

    def reset(self) -> str:
        self.tracker.reset()
        return "Hello! I can book movie tickets. Which movie would you like to see?"

    def respond(self, text: str) -> str:
        text = _clean(text)
        if not text:
            return "Sorry, I did not catch that. Which movie would you like to see?"
        act = self.nlu.parse(text)
        if act.intent == "closing":
            self.reset()
            return "Goodbye! (Say anything to start a new booking.)"
        if act.intent == "thanks" and self.tracker.booked is not None:
            return "You're welcome. Enjoy the movie!"
        if not act.inform_slots and not act.request_slots and self.tracker.turn == 0:
            return ("I can book movie tickets. Tell me a movie, e.g. '" + self.world.values["moviename"][0]
                    + " tomorrow for 2 people'.")
        self.tracker.update_user(act)
        if self.tracker.turn >= self.tracker.max_turn - 1:
            self.reset()
            return "This is taking too long; let's start over. Which movie would you like to see?"
        a = self.policy(self.tracker.vector(), self.tracker)
        # a single matching showing and a party size: book it now (the tracker knows it is the only one)
        if (a != BOOK and len(self.tracker.matches) == 1 and "numberofpeople" in self.tracker.current_slots
                and self.tracker.booked is None and not self.tracker.open_requests):
            a = BOOK
        return self.nlg.system_text(self.tracker.update_agent(a))


class QAAgent:
    """KB-QA (entity + relation matching) with a KB-InfoBot fallback that asks for narrowing slots."""

    def __init__(self, world: MovieWorld | None = None, kbqa: KBQA | None = None):
        self.world = world or make_world(0)
        self.kbqa, self.infobot, self.nlu = kbqa or KBQA(self.world), InfoBot(self.world), KeywordNLU(self.world)
        self.reset()

    def reset(self) -> str:
        self.known: dict[str, str] = {}
        self.relation: str | None = None
        self.asked: str | None = None
        return "Ask me about movies: where, when, what time or how much. I will ask if I need more."

    def respond(self, text: str) -> str:
        text = _clean(text)
        if not text:
            return "Please ask a question, e.g. 'what time does " + self.world.values["moviename"][0] + " start'."
        act = self.nlu.parse(text)
        if act.intent == "closing":
            self.reset()
            return "Goodbye!"
        movie, rel, _ = self.kbqa.answer(text)
        if self.asked is None or act.request_slots or movie is not None:
            self.relation = rel if any(t in tokenize(text) for t in ("where", "when", "what", "which", "how"))\
                else self.relation or rel
        self.known.update({s: v for s, v in act.inform_slots.items() if s != "numberofpeople" and v != DONTCARE})
        rows = self.world.query(self.known)
        if not rows:
            self.known = {}
            return "I found no showing with all of that. Let's start again: which movie?"
        rel = self.relation or "starttime"
        answers = sorted({self.world.kb[i][rel] for i in rows})
        if len(answers) <= 6 or len(rows) <= 3:
            desc = ", ".join(f"{self.known[s]}" for s in self.known) or "that"
            self.asked = None
            return f"The {rel} for {desc}: {', '.join(answers)}."
        slot = self.infobot.next_slot(rows, self.known, exclude=rel)
        if slot is None:
            return f"The {rel} options are: {', '.join(answers[:8])}."
        self.asked = slot
        return f"There are {len(rows)} showings. Which {slot} would you like?"


class ChatAgent:
    """Persona chatbot: the trained seq2seq (beam + MMI) if given, else nearest-neighbour retrieval."""

    def __init__(self, bot: Chatbot | None = None, persona: list[str] | None = None, mmi: float = 0.5, seed: int = 0):
        self.bot, self.mmi = bot, mmi
        rng = random.Random(seed)
        self.persona = persona or [rng.choice(f) for _, f in PERSONA_FACTS.values()]
        self.data = make_persona_chat(400, seed=seed)
        self.reset()

    def reset(self) -> str:
        return "Hi! Let's chat. (Ask me about my pets, job, hobbies or food.)"

    def respond(self, text: str) -> str:
        text = _clean(text)
        if not text or not tokenize(text):
            return "Sorry, could you say that again?"
        if self.bot is not None:
            return self.bot.reply([(self.persona, text)], mmi=self.mmi)[0]
        q = set(tokenize(text))
        best = max(self.data, key=lambda d: len(q & set(tokenize(d[1]))) / (1 + len(set(tokenize(d[1])))))
        reply = best[2]
        for topic, (_, facts) in zip(PERSONA_FACTS, PERSONA_FACTS.values()):  # say our own fact, not theirs
            for f in facts:
                if reply.startswith(f):
                    reply = reply.replace(f, self.persona[list(PERSONA_FACTS).index(topic)], 1)
        return reply


def save_models(model_dir: str | Path, *, dqn: DQNAgent | None = None, nlu: NLU | None = None,
                chatbot: Chatbot | None = None, kbqa: KBQA | None = None) -> None:
    """Write trained parts as safetensors + JSON under ``model_dir``."""
    d = Path(model_dir)
    d.mkdir(parents=True, exist_ok=True)
    if dqn is not None:
        save_weights(dqn.q, d / "dqn.safetensors")
        (d / "dqn.json").write_text(json.dumps({"max_turn": dqn.max_turn, "hidden": dqn.q.net[0].out_features}))
    if nlu is not None:
        save_weights(nlu.model, d / "nlu.safetensors")
        (d / "nlu.json").write_text(json.dumps({"vocab": nlu.vocab, "emb": nlu.emb, "hidden": nlu.hidden}))
    if kbqa is not None:
        save_weights(kbqa.model, d / "kbqa.safetensors")
        (d / "kbqa.json").write_text(json.dumps({"vocab": kbqa.vocab}))
    if chatbot is not None:
        save_weights(chatbot.model, d / "chatbot.safetensors")
        (d / "chatbot.json").write_text(json.dumps({"vocab": chatbot.vocab.itos[5:], "d_model": chatbot.cfg.d_model,
                                                    "layers": chatbot.cfg.n_layers, "heads": chatbot.cfg.n_heads}))


def _json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise CheckpointError(f"{path}: unreadable ({e}); re-run `paperzoo chat train` to rewrite it") from None


def load_agent(kind: str, model_dir: str | Path | None = None):
    """Build an agent: ``kind`` in {"task", "qa", "chat"}; trained parts are read from ``model_dir``
    when present there, else the rule / template / retrieval fallbacks are used. Cheap (< 1 s)."""
    if kind not in ("task", "qa", "chat"):
        raise ConfigError(f"unknown agent {kind!r}; use one of: task, qa, chat")
    d = Path(model_dir) if model_dir else None
    if d is not None and not d.is_dir():
        raise CheckpointError(f"{d}: no such directory; pass the models/ folder written by `paperzoo chat train`")
    world = make_world(0)
    if kind == "task":
        policy, nlu = None, None
        if d is not None and (d / "dqn.safetensors").is_file():
            meta = _json(d / "dqn.json")
            policy = DQNAgent(max_turn=meta["max_turn"], hidden=meta["hidden"])
            load_weights(policy.q, d / "dqn.safetensors")
        if d is not None and (d / "nlu.safetensors").is_file():
            meta = _json(d / "nlu.json")
            nlu = NLU(world, meta["vocab"], meta["emb"], meta["hidden"])
            nlu._index = {w: i for i, w in enumerate(nlu.vocab)}
            load_weights(nlu.model, d / "nlu.safetensors")
            nlu.model.eval()
        return TaskAgent(world, policy, nlu)
    if kind == "qa":
        kbqa = KBQA(world)
        if d is not None and (d / "kbqa.safetensors").is_file():
            kbqa.vocab = _json(d / "kbqa.json")["vocab"]
            kbqa.model = _RelationEncoder(len(kbqa.vocab))
            load_weights(kbqa.model, d / "kbqa.safetensors")
        return QAAgent(world, kbqa)
    bot = None
    if d is not None and (d / "chatbot.safetensors").is_file():
        meta = _json(d / "chatbot.json")
        bot = Chatbot(Vocab(meta["vocab"]), meta["d_model"], meta["layers"], meta["heads"])
        load_weights(bot.model, d / "chatbot.safetensors")
        bot.model.eval()
    return ChatAgent(bot)
