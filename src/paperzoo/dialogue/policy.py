"""Dialogue policies: TC-Bot's rule baseline, DQN and Deep Dyna-Q (survey Sec. 4.4).

* ``rule_basics``: TC-Bot's ``RequestBasicsDialogueAgent`` (https://github.com/MiuLab/TC-Bot,
  ``deep_dialog/agents/agent_baselines.py``): request the basic slots in a fixed order, book, close.
  It never answers the user's requests. ``rule_expert`` additionally answers open requests first.
* DQN (Mnih et al. 2015; survey Sec. 2.3 and 4.4.1; TC-Bot ``agent_dqn.py``): an MLP with one
  hidden layer (80 units), gamma 0.9, experience replay, a target network copied every epoch,
  epsilon-greedy exploration, warm start by filling the replay pool with rule-policy dialogues.
* Deep Dyna-Q (Peng et al. 2018, arXiv 1801.06176, Sec. 2): a world model M(s, a, G) -> (user
  act, reward, termination) learned from real dialogues by supervised learning; each real
  dialogue is followed by K planning dialogues with M as the simulated user; Q is trained on both.

Deviation: rewards are divided by ``max_turn`` inside the Q-update (same optimal policy, better
scaled regression); Huber loss and Adam instead of TC-Bot's RMSprop on squared error; the world
model predicts the user's slot *names* and fills values from the sampled goal.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .acts import DONTCARE, INFORM_SLOTS, INTENTS, REQUEST_SLOTS, SLOTS, SYS_ACTIONS, DialogueAct
from .simulator import FAILED, NO_OUTCOME, SUCCESS, ErrorModel, UserSimulator, reward
from .tracker import StateTracker, state_dim
from .world import UserGoal

__all__ = ["rule_basics", "rule_expert", "QNetwork", "DQNAgent", "WorldModel", "run_dialogue", "plan_dialogue",
           "DialogueResult", "goal_features", "BOOK", "action_index"]

BASICS = ("moviename", "starttime", "city", "date", "theater", "numberofpeople")


def action_index(intent: str, slot: str | None = None) -> int:
    for i, a in enumerate(SYS_ACTIONS):
        if a.intent == intent and (slot is None and not a.inform_slots and not a.request_slots
                                   or slot in a.request_slots or slot in a.inform_slots):
            return i
    raise KeyError((intent, slot))


BOOK = action_index("inform", "taskcomplete")
CLOSING = action_index("closing")


def rule_basics(state: np.ndarray, tracker: StateTracker) -> int:
    """TC-Bot's request-basics rule agent."""
    for s in BASICS:
        if s not in tracker.current_slots:
            return action_index("request", s)
    return BOOK if tracker.booked is None else CLOSING


def rule_expert(state: np.ndarray, tracker: StateTracker) -> int:
    """Answers the user's open requests, then as ``rule_basics``."""
    if tracker.open_requests:
        return action_index("inform", tracker.open_requests[0])
    return rule_basics(state, tracker)


@dataclass
class DialogueResult:
    status: int
    turns: int
    reward: float
    transitions: list  # (s, a, r, s', done, aux) with aux = (goal features, user act) for the world model
    transcript: list[tuple[str, str]]


def goal_features(goal: UserGoal) -> np.ndarray:
    return np.array([s in goal.inform_slots for s in INFORM_SLOTS] + [s in goal.request_slots for s in REQUEST_SLOTS],
                    dtype=np.float32)


def run_dialogue(policy, goal: UserGoal, sim: UserSimulator, tracker: StateTracker,
                 error_model: ErrorModel | None = None, nl=None, epsilon: float = 0.0,
                 rng: random.Random | None = None, record: bool = False) -> DialogueResult:
    """One dialogue between ``policy(state, tracker) -> action`` and the simulated user.

    ``nl`` (an object with ``user_text(act)``, ``parse(text)`` and ``system_text(act)``) puts natural
    language in the loop: the user's act is rendered by the NLG and read back by the NLU.
    """
    rng = rng or random.Random(0)
    tracker.reset()
    user = sim.reset(goal)
    transcript: list[tuple[str, str]] = []
    gf = goal_features(goal)

    def observe(act: DialogueAct) -> None:
        seen = error_model(act) if error_model is not None else act
        if nl is not None:
            text = nl.user_text(seen)
            seen = nl.parse(text)
            if record:
                transcript.append(("user", text))
        elif record:
            transcript.append(("user", str(seen)))
        tracker.update_user(seen)

    observe(user)
    transitions, total = [], 0.0
    s = tracker.vector()
    while True:
        a = rng.randrange(len(SYS_ACTIONS)) if epsilon and rng.random() < epsilon else policy(s, tracker)
        sys_act = tracker.update_agent(a)
        if record:
            transcript.append(("agent", nl.system_text(sys_act) if nl is not None else str(sys_act)))
        user = sim.step(sys_act)
        status = sim.status if sim.done else NO_OUTCOME
        r = reward(status, sim.max_turn)
        total += r
        if not sim.done:
            observe(user)
        s2 = tracker.vector()
        transitions.append((s, a, r, s2, sim.done, (gf, user, status)))
        s = s2
        if sim.done:
            if record:
                transcript.append(("user", str(user) if nl is None else nl.user_text(user)))
            return DialogueResult(sim.status, sim.turn, total, transitions, transcript)


class QNetwork(nn.Module):
    """Q(s, .) : one hidden layer (TC-Bot: 80 units)."""

    def __init__(self, state_dim: int, n_actions: int, hidden: int = 80):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(state_dim, hidden), nn.ReLU(), nn.Linear(hidden, n_actions))

    def forward(self, s: torch.Tensor) -> torch.Tensor:
        return self.net(s)


class DQNAgent:
    """DQN with experience replay and a target network (Mnih et al. 2015; TC-Bot ``agent_dqn.py``)."""

    def __init__(self, max_turn: int = 40, hidden: int = 80, gamma: float = 0.9, lr: float = 1e-3,
                 replay_size: int = 5000, batch_size: int = 16, seed: int = 0):
        torch.manual_seed(seed)
        self.max_turn, self.gamma, self.batch_size = max_turn, gamma, batch_size
        self.q = QNetwork(state_dim(max_turn), len(SYS_ACTIONS), hidden)
        self.target = QNetwork(state_dim(max_turn), len(SYS_ACTIONS), hidden)
        self.target.load_state_dict(self.q.state_dict())
        self.lr, self.opt = lr, None  # the optimizer is built on first update: loading for acting stays cheap
        self.replay: deque = deque(maxlen=replay_size)
        self.rng = random.Random(seed)
        self._np: list | None = None

    def __call__(self, s: np.ndarray, tracker: StateTracker | None = None) -> int:
        """Greedy action; a numpy copy of the weights makes acting cheap (refreshed after updates)."""
        if self._np is None:
            self._np = [p.detach().numpy().copy() for p in self.q.parameters()]
        w1, b1, w2, b2 = self._np
        return int(np.argmax(np.maximum(w1 @ s + b1, 0) @ w2.T + b2))

    def remember(self, transitions, pool: deque | None = None) -> None:
        (self.replay if pool is None else pool).extend(t[:5] for t in transitions)

    def update(self, n_batches: int, pools: list[deque] | None = None) -> float:
        """``n_batches`` minibatch Q-learning steps: y = r + gamma max_a' Q_target(s', a') (1 - done)."""
        pools = [p for p in (pools or [self.replay]) if len(p)]
        if not pools or sum(len(p) for p in pools) < self.batch_size:
            return float("nan")
        if self.opt is None:
            self.opt = torch.optim.Adam(self.q.parameters(), lr=self.lr)
        losses = []
        for _ in range(n_batches):
            batch = []
            for _ in range(self.batch_size):
                p = pools[self.rng.randrange(len(pools))]
                batch.append(p[self.rng.randrange(len(p))])
            s, a, r, s2, d = zip(*batch)
            s, s2 = torch.from_numpy(np.stack(s)), torch.from_numpy(np.stack(s2))
            a = torch.tensor(a)
            r = torch.tensor(r, dtype=torch.float32) / self.max_turn
            d = torch.tensor(d, dtype=torch.float32)
            with torch.no_grad():
                y = r + self.gamma * self.target(s2).max(1).values * (1 - d)
            q = self.q(s).gather(1, a[:, None])[:, 0]
            loss = F.smooth_l1_loss(q, y)
            self.opt.zero_grad()
            loss.backward()
            self.opt.step()
            losses.append(float(loss.detach()))
        self._np = None
        return float(np.mean(losses))

    def sync_target(self) -> None:
        self.target.load_state_dict(self.q.state_dict())


class WorldModel(nn.Module):
    """Deep Dyna-Q's world model M(s, a, G): user intent, user slot names, termination, success
    (Peng et al. 2018, Sec. 2.3: a shared hidden layer with separate heads)."""

    def __init__(self, max_turn: int = 40, hidden: int = 80, lr: float = 1e-3, seed: int = 0):
        super().__init__()
        torch.manual_seed(seed)
        d_in = state_dim(max_turn) + len(SYS_ACTIONS) + len(INFORM_SLOTS) + len(REQUEST_SLOTS)
        self.body = nn.Sequential(nn.Linear(d_in, hidden), nn.Tanh())
        self.intent = nn.Linear(hidden, len(INTENTS))
        self.slots = nn.Linear(hidden, 2 * len(SLOTS))  # inform bits, request bits
        self.term = nn.Linear(hidden, 2)  # terminal, success
        self.opt = torch.optim.Adam(self.parameters(), lr=lr)
        self.data: deque = deque(maxlen=20000)
        self._np: list | None = None
        self.rng = random.Random(seed)

    def _x(self, s, a, gf) -> torch.Tensor:
        onehot = np.zeros((len(s), len(SYS_ACTIONS)), dtype=np.float32)
        onehot[np.arange(len(s)), a] = 1
        return torch.from_numpy(np.concatenate([np.stack(s), onehot, np.stack(gf)], 1))

    def forward(self, x: torch.Tensor):
        h = self.body(x)
        return self.intent(h), self.slots(h), self.term(h)

    def remember(self, transitions) -> None:
        for s, a, _, _, done, (gf, user, status) in transitions:
            inf = [s_ in user.inform_slots for s_ in SLOTS] + [s_ in user.request_slots for s_ in SLOTS]
            intent = INTENTS.index(user.intent) if user.intent in INTENTS else 0
            self.data.append((s, a, gf, intent, np.array(inf, dtype=np.float32),
                              np.array([float(done), float(status == SUCCESS)], dtype=np.float32)))

    def fit(self, n_batches: int, batch_size: int = 64) -> float:
        if len(self.data) < batch_size:
            return float("nan")
        losses = []
        for _ in range(n_batches):
            b = [self.data[self.rng.randrange(len(self.data))] for _ in range(batch_size)]
            s, a, gf, it, sl, tm = zip(*b)
            li, ls, lt = self(self._x(s, a, gf))
            tm = torch.from_numpy(np.stack(tm))
            loss = (F.cross_entropy(li, torch.tensor(it)) + F.binary_cross_entropy_with_logits(ls, torch.from_numpy(np.stack(sl)))
                    + F.binary_cross_entropy_with_logits(lt[:, 0], tm[:, 0])
                    + (F.binary_cross_entropy_with_logits(lt[:, 1], tm[:, 1], reduction="none") * tm[:, 0]).mean())
            self.opt.zero_grad()
            loss.backward()
            self.opt.step()
            losses.append(float(loss.detach()))
        self._np = None
        return float(np.mean(losses))

    def predict(self, s: np.ndarray, a: int, gf: np.ndarray, goal: UserGoal) -> tuple[DialogueAct, bool, bool]:
        """The simulated user's response to action ``a`` (numpy forward with cached weights)."""
        if self._np is None:
            self._np = [p.detach().numpy().copy() for p in (self.body[0].weight, self.body[0].bias, self.intent.weight,
                                                             self.intent.bias, self.slots.weight, self.slots.bias,
                                                             self.term.weight, self.term.bias)]
        w, b, wi, bi, ws, bs, wt, bt = self._np
        x = np.concatenate([s, np.eye(len(SYS_ACTIONS), dtype=np.float32)[a], gf])
        h = np.tanh(w @ x + b)
        intent = INTENTS[int(np.argmax(wi @ h + bi))]
        bits = (ws @ h + bs) > 0
        lt = wt @ h + bt
        inform = {s_: goal.inform_slots.get(s_, DONTCARE) for i, s_ in enumerate(SLOTS)
                  if bits[i] and s_ in INFORM_SLOTS}
        req = [s_ for i, s_ in enumerate(SLOTS) if bits[len(SLOTS) + i] and s_ in REQUEST_SLOTS]
        return DialogueAct(intent, inform, req), bool(lt[0] > 0), bool(lt[1] > 0)


def plan_dialogue(agent: DQNAgent, model: WorldModel, goal: UserGoal, sim: UserSimulator, tracker: StateTracker,
                  epsilon: float, rng: random.Random) -> list:
    """One planning dialogue with the world model as the user (DDQ Sec. 2.2); returns transitions."""
    tracker.reset()
    tracker.update_user(sim.reset(goal))  # the goal's first turn
    gf = goal_features(goal)
    s, out, turn = tracker.vector(), [], 1
    while True:
        a = rng.randrange(len(SYS_ACTIONS)) if rng.random() < epsilon else agent(s)
        tracker.update_agent(a)
        user, term, succ = model.predict(s, a, gf, goal)
        turn += 2
        if turn > sim.max_turn:
            term, succ = True, False
        status = (SUCCESS if succ else FAILED) if term else NO_OUTCOME
        if not term:
            tracker.update_user(user)
        s2 = tracker.vector()
        out.append((s, a, reward(status, sim.max_turn), s2, term))
        s = s2
        if term:
            return out
