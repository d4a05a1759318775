import random

import numpy as np

from paperzoo.dialogue.policy import (
    DQNAgent,
    WorldModel,
    plan_dialogue,
    rule_basics,
    rule_expert,
    run_dialogue,
)
from paperzoo.dialogue.simulator import SUCCESS, ErrorModel, UserSimulator
from paperzoo.dialogue.tracker import StateTracker
from paperzoo.dialogue.world import make_world


def test_rule_expert_solves_noise_free_goals_and_basics_fails_requests():
    w = make_world(0, n_rows=150, n_goals=60)
    sim, tr = UserSimulator(w, seed=0), StateTracker(w)
    expert = [run_dialogue(rule_expert, g, sim, tr) for g in w.test_goals]
    assert all(r.status == SUCCESS for r in expert)
    basics = [run_dialogue(rule_basics, g, sim, tr).status for g in w.test_goals if g.request_slots]
    assert basics and all(s != SUCCESS for s in basics)
    r = expert[0]
    assert abs(r.reward - (sum(t[2] for t in r.transitions))) < 1e-9 and r.transitions[-1][4]


def test_dqn_and_world_model_train_steps():
    w = make_world(0, n_rows=100, n_goals=20)
    sim, tr, em = UserSimulator(w, seed=0), StateTracker(w), ErrorModel(w, seed=0)
    agent, model, rng = DQNAgent(seed=0), WorldModel(seed=0), random.Random(0)
    for g in w.train_goals:
        r = run_dialogue(rule_basics, g, sim, tr, em, rng=rng)
        agent.remember(r.transitions)
        model.remember(r.transitions)
    before = [p.detach().clone() for p in agent.q.parameters()]
    assert np.isfinite(agent.update(5)) and np.isfinite(model.fit(3, batch_size=16))
    assert any(not (a == b.detach()).all() for a, b in zip(before, agent.q.parameters()))
    s = tr.vector()
    q = agent.q(__import__("torch").from_numpy(s)[None]).argmax().item()
    assert agent(s) == q  # numpy acting path == torch network
    plan = plan_dialogue(agent, model, w.train_goals[0], sim, tr, 0.1, rng)
    assert plan and plan[-1][4] and len(plan) <= sim.max_turn
