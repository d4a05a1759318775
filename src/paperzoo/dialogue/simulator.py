"""Agenda-based user simulator with an NLU error model, and TC-Bot's reward.

Survey Sec. 4.2 (user simulation): a rule-based simulator "first generates a user goal ... then
responds to the system according to an agenda" (Schatzmann et al. 2007). This one follows TC-Bot's
``usersims/usersim_rule.py`` (https://github.com/MiuLab/TC-Bot; Li et al. 2016, arXiv 1612.05688):

* first turn: inform moviename (plus a few other constraints) and ask the first request slot;
* system ``request(s)``: inform s from the goal, or ``s=dontcare`` when the goal has no constraint;
* system ``inform(s=v)``: a request slot is marked answered; a value that contradicts a constraint
  is corrected; then the agenda pops: the next open request, else an untold constraint, else thanks;
* system ``inform(taskcomplete)`` (a booked ticket): failure when there is no ticket or it violates
  a constraint; success when it fits and every request slot has been answered (else the user keeps
  asking); more than ``max_turn`` turns (user + system utterances) is a failure.

Error model (TC-Bot's ``--slot_err_prob``, ``--intent_err_prob`` and ``--slot_err_mode``): the act the
agent receives is corrupted: each informed slot, with ``slot_err_prob``, has its value replaced by
a random value (mode 0) or is dropped (mode 3); ``"mix"`` picks one of the two; with
``intent_err_prob`` the intent is replaced by a random one.

Reward (TC-Bot ``dialog_manager.reward_function``): -1 per turn, +2*max_turn on success,
-max_turn on failure.
"""

from __future__ import annotations

import copy

import numpy as np

from .acts import DONTCARE, NO_MATCH, DialogueAct
from .world import MovieWorld, UserGoal

__all__ = ["FAILED", "SUCCESS", "NO_OUTCOME", "UserSimulator", "ErrorModel", "reward"]

FAILED, NO_OUTCOME, SUCCESS = -1, 0, 1


def reward(status: int, max_turn: int) -> float:
    """TC-Bot's per-turn reward: -1 each turn, +2*max_turn on success, -max_turn on failure."""
    if status == SUCCESS:
        return 2.0 * max_turn - 1.0
    if status == FAILED:
        return -float(max_turn) - 1.0
    return -1.0


class ErrorModel:
    """Corrupts user acts as a noisy NLU would (TC-Bot's error model; see the module docstring)."""

    def __init__(self, world: MovieWorld, slot_err_prob: float = 0.05, intent_err_prob: float = 0.05,
                 slot_err_mode: str = "mix", seed: int = 0):
        self.values, self.ps, self.pi, self.mode = world.values, slot_err_prob, intent_err_prob, slot_err_mode
        self.rng = np.random.default_rng(seed)

    def __call__(self, act: DialogueAct) -> DialogueAct:
        act = copy.deepcopy(act)
        if self.pi and self.rng.random() < self.pi:
            act.intent = str(self.rng.choice(["inform", "request", "thanks", "deny"]))
        for s in list(act.inform_slots):
            if s in self.values and self.rng.random() < self.ps:
                mode = self.mode if self.mode != "mix" else ("value" if self.rng.random() < 0.5 else "drop")
                if mode in ("value", "0"):
                    act.inform_slots[s] = str(self.rng.choice(self.values[s]))
                else:
                    del act.inform_slots[s]
        return act


class UserSimulator:
    """Agenda-based simulated user for the movie-ticket task (see the module docstring)."""

    def __init__(self, world: MovieWorld, max_turn: int = 40, seed: int = 0, p_first_extra: float = 0.3):
        self.world, self.max_turn, self.p_first_extra = world, max_turn, p_first_extra
        self.rng = np.random.default_rng(seed)

    def reset(self, goal: UserGoal) -> DialogueAct:
        """Start a dialogue with ``goal``; returns the user's first act."""
        self.goal = goal
        self.turn = 1
        self.told: set[str] = set()
        self.open_requests = list(goal.request_slots)
        self.ticket: dict[str, str] | None = None
        self.status = NO_OUTCOME
        self.done = False
        inform = {"moviename": goal.inform_slots["moviename"]}
        for s, v in goal.inform_slots.items():
            if s != "moviename" and self.rng.random() < self.p_first_extra:
                inform[s] = v
        self.told |= set(inform)
        if self.open_requests:
            return DialogueAct("request", inform, [self.open_requests[0]])
        return DialogueAct("inform", inform)

    # --- agenda ---------------------------------------------------------------------------------
    def _next_agenda_act(self) -> DialogueAct:
        if self.open_requests:
            return DialogueAct("request", {}, [self.open_requests[0]])
        rest = [s for s in self.goal.inform_slots if s not in self.told]
        if rest:
            self.told.add(rest[0])
            return DialogueAct("inform", {rest[0]: self.goal.inform_slots[rest[0]]})
        return DialogueAct("thanks")

    def _end(self, status: int) -> DialogueAct:
        self.status, self.done = status, True
        return DialogueAct("closing" if status == FAILED else "thanks", {}, [])

    def _ticket_fits(self, ticket: dict[str, str]) -> bool:
        return all(ticket.get(s) == v for s, v in self.goal.inform_slots.items() if v != DONTCARE)

    def step(self, sys_act: DialogueAct) -> DialogueAct:
        """Respond to one system act. Sets ``self.done`` / ``self.status`` when the dialogue ends."""
        self.turn += 2
        if self.turn > self.max_turn:
            return self._end(FAILED)
        g = self.goal.inform_slots
        if sys_act.intent == "closing":
            return self._end(SUCCESS if (self.ticket is not None and not self.open_requests) else FAILED)
        if sys_act.intent == "request":
            informs = {}
            for s in sys_act.request_slots:
                informs[s] = g.get(s, DONTCARE)
                self.told.add(s)
            return DialogueAct("inform", informs)
        if sys_act.intent == "inform":
            if "taskcomplete" in sys_act.inform_slots:
                if sys_act.inform_slots["taskcomplete"] == NO_MATCH:
                    return self._end(FAILED)
                ticket = {k: v for k, v in sys_act.inform_slots.items() if k != "taskcomplete"}
                if not self._ticket_fits(ticket):
                    return self._end(FAILED)
                self.ticket = ticket
                return self._end(SUCCESS) if not self.open_requests else self._next_agenda_act()
            for s, v in sys_act.inform_slots.items():
                if s in g and g[s] != v and v != NO_MATCH:
                    self.told.add(s)
                    return DialogueAct("deny" if s not in sys_act.request_slots else "inform", {s: g[s]})
                if s in self.open_requests:
                    self.open_requests.remove(s)
            if self.ticket is not None and not self.open_requests:
                return self._end(SUCCESS)
            return self._next_agenda_act()
        # greeting / anything else: follow the agenda
        return self._next_agenda_act()
