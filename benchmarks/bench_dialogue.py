"""Benchmark: simulated dialogues per minute (S6 dialogue; goal >= 2,000/min at the act level on 2 cores).

Runs side by side on the same held-out goals: the agenda simulator with the rule policy, with a
DQN policy acting through our numpy fast path, and with the same DQN acting through a plain
per-turn PyTorch forward (the naive peer; TC-Bot itself is Python 2 and cannot run here), plus the
natural-language loop (template NLG -> keyword NLU). Usage: .venv/bin/python benchmarks/bench_dialogue.py [MODELS_DIR]  (a trained DQN gives realistic lengths)
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch

from paperzoo.dialogue.agents import KeywordNLU
from paperzoo.dialogue.language import TemplateNLG
from paperzoo.dialogue.policy import DQNAgent, rule_expert, run_dialogue
from paperzoo.dialogue.simulator import ErrorModel, UserSimulator
from paperzoo.dialogue.tracker import StateTracker
from paperzoo.dialogue.world import make_world
from paperzoo.engine import load_weights


class _KeywordLoop:
    def __init__(self, world):
        self.nlg, self.nlu = TemplateNLG(0), KeywordNLU(world)

    def user_text(self, act):
        return self.nlg.user_text(act)

    def parse(self, text):
        return self.nlu.parse(text)

    def system_text(self, act):
        return self.nlg.system_text(act)


def rate(policy, world, n: int, nl=None) -> tuple[float, float]:
    sim, tr, em = UserSimulator(world, seed=0), StateTracker(world), ErrorModel(world, seed=0)
    goals = (world.test_goals * (n // len(world.test_goals) + 1))[:n]
    t = time.perf_counter()
    turns = sum(run_dialogue(policy, g, sim, tr, em, nl=nl).turns for g in goals)
    dt = time.perf_counter() - t
    return 60 * n / dt, turns / n


def main() -> None:
    torch.set_num_threads(1)
    world = make_world(0)
    dqn = DQNAgent(seed=0)
    if len(sys.argv) > 1:  # a trained policy: <run out>/models from `paperzoo run dialogue`
        load_weights(dqn.q, Path(sys.argv[1]) / "dqn.safetensors")
        dqn._np = None

    @torch.no_grad()
    def torch_dqn(s, tracker=None):
        return int(dqn.q(torch.from_numpy(s)[None]).argmax())

    rows = [("rule policy, act level", rate(rule_expert, world, 600)),
            ("DQN, act level (numpy acting)", rate(dqn, world, 600)),
            ("DQN, act level (torch forward, naive peer)", rate(torch_dqn, world, 300)),
            ("rule policy, NLG + keyword NLU", rate(rule_expert, world, 300, _KeywordLoop(world)))]
    print(f"{'setting':48s} {'dialogues/min':>14s} {'turns/dialogue':>15s} {'vs goal 2000':>13s}")
    for name, (r, t) in rows:
        print(f"{name:48s} {r:14.0f} {t:15.1f} {r / 2000:12.1f}x")
    note = "trained DQN" if len(sys.argv) > 1 else "untrained DQN: its dialogues run to max_turn"
    print(f"numpy vs torch acting speed-up: {rows[1][1][0] / rows[2][1][0]:.2f}x ({note})")


if __name__ == "__main__":
    main()
