"""Dialogue state tracker and the state vector the policies read (survey Sec. 4.3, 4.4).

A rule tracker in the style of TC-Bot's ``state_tracker.py`` (https://github.com/MiuLab/TC-Bot):
it accumulates the user's constraints (``current_slots``), the user's open requests, what the
agent has informed, the last user and agent acts, the turn count and the number of KB rows that
match the constraints; it fills the agent's abstract actions with values from a KB query
(``inform(theater)`` -> the first matching row's theater; ``inform(taskcomplete)`` -> a ticket).

State vector (Deviation: a compact version of TC-Bot's ``2|acts| + 7|slots| + 3 + max_turn``
features): one-hots of the user intent and last agent action, bitmasks of the user's informed and
requested slots this turn, known constraints, open requests, informed request slots, a booked
flag, a bucketed KB match count and a one-hot turn index.
"""

from __future__ import annotations

import numpy as np

from .acts import INFORM_SLOTS, INTENTS, NO_MATCH, REQUEST_SLOTS, SLOTS, SYS_ACTIONS, DialogueAct
from .world import MovieWorld

__all__ = ["StateTracker", "state_dim"]

_MATCH_BUCKETS = (0, 1, 3, 10)  # counts <=0, <=1, <=3, <=10, >10


def state_dim(max_turn: int) -> int:
    return (len(INTENTS) + 2 * len(SLOTS) + len(SYS_ACTIONS) + len(INFORM_SLOTS) + 2 * len(REQUEST_SLOTS) + 1
            + len(_MATCH_BUCKETS) + 1 + max_turn // 2 + 1)


class StateTracker:
    """Tracks the dialogue state from (possibly noisy) user acts and the agent's own acts."""

    def __init__(self, world: MovieWorld, max_turn: int = 40):
        self.world, self.max_turn = world, max_turn
        self.reset()

    def reset(self) -> None:
        self.current_slots: dict[str, str] = {}
        self.open_requests: list[str] = []
        self.informed: dict[str, str] = {}
        self.user_act: DialogueAct | None = None
        self.agent_action: int | None = None
        self.booked: dict[str, str] | None = None
        self.turn = 0
        self.matches = list(range(len(self.world.kb)))

    def update_user(self, act: DialogueAct) -> None:
        """Fold a user act into the state (TC-Bot ``update(user_action=...)``)."""
        self.user_act = act
        self.turn += 1
        for s, v in act.inform_slots.items():
            if s in INFORM_SLOTS:
                self.current_slots[s] = v
        for s in act.request_slots:
            if s in REQUEST_SLOTS and s not in self.open_requests:
                self.open_requests.append(s)
        self.matches = self.world.query(self.current_slots)

    def fill(self, action: int) -> DialogueAct:
        """Turn an abstract system action (index into ``SYS_ACTIONS``) into a concrete act from the KB."""
        tmpl = SYS_ACTIONS[action]
        act = DialogueAct(tmpl.intent, {}, list(tmpl.request_slots))
        row = self.world.kb[self.matches[0]] if self.matches else None
        if "taskcomplete" in tmpl.inform_slots:
            if row is None:
                act.inform_slots["taskcomplete"] = NO_MATCH
            else:
                act.inform_slots.update(row)
                act.inform_slots["taskcomplete"] = "ticket"
                if "numberofpeople" in self.current_slots:
                    act.inform_slots["numberofpeople"] = self.current_slots["numberofpeople"]
        else:
            for s in tmpl.inform_slots:
                act.inform_slots[s] = row[s] if row is not None else NO_MATCH
        return act

    def update_agent(self, action: int) -> DialogueAct:
        """Record the agent's action; returns the filled act sent to the user."""
        act = self.fill(action)
        self.agent_action = action
        self.turn += 1
        if "taskcomplete" in act.inform_slots and act.inform_slots["taskcomplete"] != NO_MATCH:
            self.booked = dict(act.inform_slots)
        for s, v in act.inform_slots.items():
            if s in REQUEST_SLOTS:
                self.informed[s] = v
                if s in self.open_requests:
                    self.open_requests.remove(s)
        return act

    def vector(self) -> np.ndarray:
        """The state vector (length ``state_dim(max_turn)``)."""
        v = np.zeros(state_dim(self.max_turn), dtype=np.float32)
        o = 0
        if self.user_act is not None:
            if self.user_act.intent in INTENTS:
                v[o + INTENTS.index(self.user_act.intent)] = 1
            o += len(INTENTS)
            for s in self.user_act.inform_slots:
                if s in SLOTS:
                    v[o + SLOTS.index(s)] = 1
            o += len(SLOTS)
            for s in self.user_act.request_slots:
                if s in SLOTS:
                    v[o + SLOTS.index(s)] = 1
            o += len(SLOTS)
        else:
            o += len(INTENTS) + 2 * len(SLOTS)
        if self.agent_action is not None:
            v[o + self.agent_action] = 1
        o += len(SYS_ACTIONS)
        for i, s in enumerate(INFORM_SLOTS):
            v[o + i] = s in self.current_slots
        o += len(INFORM_SLOTS)
        for i, s in enumerate(REQUEST_SLOTS):
            v[o + i] = s in self.open_requests
            v[o + len(REQUEST_SLOTS) + i] = s in self.informed
        o += 2 * len(REQUEST_SLOTS)
        v[o] = self.booked is not None
        o += 1
        n = len(self.matches)
        v[o + sum(n > b for b in _MATCH_BUCKETS)] = 1
        o += len(_MATCH_BUCKETS) + 1
        v[o + min(self.turn // 2, self.max_turn // 2)] = 1
        return v
