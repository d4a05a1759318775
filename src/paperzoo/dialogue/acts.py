"""Dialogue acts, the movie-ticket ontology and the one ``Agent`` interface (Gao, Galley & Li,
"Neural Approaches to Conversational AI", 2019, arXiv 1809.08267, Sec. 4.1: a dialogue act is an
intent with slot-value pairs, e.g. ``request(theater; moviename=Avatar)``).

The ontology is a reduced TC-Bot one (https://github.com/MiuLab/TC-Bot, ``deep_dialog/dialog_config.py``).
Deviation: 7 intents and 7 slots instead of TC-Bot's 11 acts and 29 slots (the generated KB has
fewer columns); the system action set (request / inform per slot, book, closing) follows TC-Bot's
construction "fixed acts + inform x slots + request x slots" (Sec. 4.4 of the survey).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

__all__ = ["INTENTS", "SLOTS", "INFORM_SLOTS", "REQUEST_SLOTS", "SYS_ACTIONS", "DialogueAct", "Agent",
           "DONTCARE", "NO_MATCH"]

# user/system intents (TC-Bot names)
INTENTS = ("greeting", "inform", "request", "confirm_answer", "deny", "thanks", "closing")
# slots of the generated KB (+ numberofpeople, which only the user knows)
SLOTS = ("moviename", "theater", "city", "date", "starttime", "numberofpeople", "price")
INFORM_SLOTS = ("moviename", "theater", "city", "date", "starttime", "numberofpeople")  # user constraints
REQUEST_SLOTS = ("theater", "date", "starttime", "price")  # what a user may ask for
DONTCARE = "dontcare"
NO_MATCH = "no match available"
UNK = "UNK"


@dataclass
class DialogueAct:
    """``intent(slot=value, ...; request slots)``; ``inform_slots`` map slot -> value, ``request_slots``
    list slots asked for (their value is unknown: TC-Bot's ``UNK``)."""

    intent: str
    inform_slots: dict[str, str] = field(default_factory=dict)
    request_slots: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        parts = [f"{k}={v}" for k, v in self.inform_slots.items()] + list(self.request_slots)
        return f"{self.intent}({', '.join(parts)})"


def _system_actions() -> list[DialogueAct]:
    acts = [DialogueAct("greeting"), DialogueAct("closing"),
            DialogueAct("inform", {"taskcomplete": "PLACEHOLDER"})]  # book a ticket (TC-Bot's taskcomplete)
    acts += [DialogueAct("request", request_slots=[s]) for s in INFORM_SLOTS]
    acts += [DialogueAct("inform", {s: "PLACEHOLDER"}) for s in REQUEST_SLOTS]
    return acts


SYS_ACTIONS: list[DialogueAct] = _system_actions()  # 2 fixed + book + 6 requests + 4 informs = 13


@runtime_checkable
class Agent(Protocol):
    """What every agent (task, QA, chat) offers, and what ``paperzoo chat`` and ``paperzoo serve`` call."""

    def reset(self) -> str:
        """Start a new conversation; returns the agent's opening line."""

    def respond(self, text: str) -> str:
        """The agent's reply to one user utterance (any string, never raises for odd input)."""
