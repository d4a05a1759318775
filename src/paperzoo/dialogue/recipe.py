"""Recipe ``dialogue`` (S6): Gao, Galley & Li, "Neural Approaches to Conversational AI", 2019,
arXiv 1809.08267 — the survey's three agent types on a generated movie-ticket world.

1. Task-oriented (Ch. 4, TC-Bot case study): rule baseline vs DQN vs Deep Dyna-Q against the agenda
   simulator with NLU noise; learning curves (success vs simulated-user dialogues) and held-out-goal
   success, turns, reward; the same policies with natural language in the loop (template NLG ->
   neural NLU). TC-Bot's numbers (act level: 0.909 success / 13.6 turns; NL level: 0.68) are on
   its real KB and its training goals; ours are on a generated world and held-out goals.
2. QA (Ch. 3): neural KB-QA accuracy on questions about held-out movies (vs a keyword baseline) and
   a KB-InfoBot-style agent's success and number of questions.
3. Chatbot (Ch. 5): persona seq2seq perplexity, distinct-1/2 with and without MMI, persona consistency.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np
import torch

from ..registry import register_recipe
from ..stats import mean_std
from .acts import DONTCARE, INFORM_SLOTS, REQUEST_SLOTS, DialogueAct
from .agents import save_models
from .chatbot import PERSONA_FACTS, Chatbot, Vocab, distinct_n, make_persona_chat
from .language import NLU, NaturalLanguageLoop
from .policy import DQNAgent, WorldModel, plan_dialogue, rule_basics, rule_expert, run_dialogue
from .qa import KBQA, InfoBot, make_questions
from .simulator import SUCCESS, ErrorModel, UserSimulator
from .tracker import StateTracker
from .world import make_world


@dataclass
class DialogueConfig:
    """Defaults follow TC-Bot (README / run command) where it has a setting."""

    parts: str = "task,qa,chat"
    n_seeds: int = 3
    max_turn: int = 40
    slot_err_prob: float = 0.05
    intent_err_prob: float = 0.05
    n_goals: int = 400
    warm_start: int = 120  # rule-policy dialogues filling the replay pool (TC-Bot: 120)
    epochs: int = 500
    dialogues_per_epoch: int = 10  # real simulated-user dialogues per epoch
    ddq_dialogues_per_epoch: int = 5
    planning_k: int = 4  # DDQ planning dialogues per real dialogue (Peng et al. 2018: K=5 best)
    updates_per_epoch: int = 20
    batch_size: int = 16
    replay_size: int = 1000
    hidden: int = 80
    gamma: float = 0.9
    epsilon_start: float = 0.3
    epsilon_end: float = 0.05
    eval_every: int = 3  # epochs
    n_eval: int = 100
    nlu_examples: int = 3000
    nlu_epochs: int = 3
    qa_questions: int = 1000
    chat_examples: int = 3000
    chat_steps: int = 3000
    chat_d_model: int = 64
    mmi_lambda: float = 0.5
    n_chat_eval: int = 100
    save_models: bool = True


def _make_user_act(world, rng):
    it = rng.choice(["inform", "inform", "inform", "request", "deny", "thanks", "closing", "greeting"])
    inf = {}
    if it in ("inform", "request", "deny"):
        for s in rng.sample(INFORM_SLOTS, rng.randint(0 if it == "request" else 1, 3)):
            inf[s] = DONTCARE if rng.random() < 0.1 else rng.choice(world.values[s])
    return DialogueAct(it, inf, rng.sample(REQUEST_SLOTS, 1) if it == "request" else [])


def _evaluate(policy, goals, world, cfg, seed, nl=None):
    sim, tr = UserSimulator(world, cfg.max_turn, seed=seed), StateTracker(world, cfg.max_turn)
    em = ErrorModel(world, cfg.slot_err_prob, cfg.intent_err_prob, seed=seed)
    res = [run_dialogue(policy, g, sim, tr, em, nl=nl) for g in goals]
    return (float(np.mean([r.status == SUCCESS for r in res])), float(np.mean([r.turns for r in res])),
            float(np.mean([r.reward for r in res])))


def _train_rl(world, cfg, seed, ddq: bool, ctx):
    """DQN (ddq=False) or Deep Dyna-Q (ddq=True); returns (agent, curve [(n_real_dialogues, success)])."""
    rng = random.Random(seed)
    sim, tr = UserSimulator(world, cfg.max_turn, seed=seed), StateTracker(world, cfg.max_turn)
    em = ErrorModel(world, cfg.slot_err_prob, cfg.intent_err_prob, seed=seed)
    agent = DQNAgent(cfg.max_turn, cfg.hidden, cfg.gamma, replay_size=cfg.replay_size, batch_size=cfg.batch_size,
                     seed=seed)
    model = WorldModel(cfg.max_turn, cfg.hidden, seed=seed) if ddq else None
    planned: list = [] if not ddq else __import__("collections").deque(maxlen=cfg.replay_size * cfg.planning_k)
    for _ in range(cfg.warm_start):  # TC-Bot's warm start with the rule agent
        r = run_dialogue(rule_basics, rng.choice(world.train_goals), sim, tr, em, rng=rng)
        agent.remember(r.transitions)
        if model is not None:
            model.remember(r.transitions)
    if model is not None:
        model.fit(10 * cfg.updates_per_epoch)
    eval_goals = world.test_goals[:cfg.n_eval]
    curve, n_real = [(0, _evaluate(agent, eval_goals, world, cfg, seed + 999)[0])], 0
    per_epoch = cfg.ddq_dialogues_per_epoch if ddq else cfg.dialogues_per_epoch
    name = "ddq" if ddq else "dqn"
    for epoch in range(cfg.epochs):
        eps = max(cfg.epsilon_end, cfg.epsilon_start * (1 - epoch / max(cfg.epochs / 2, 1)))
        for _ in range(per_epoch):  # direct RL on real (simulated-user) experience
            r = run_dialogue(agent, rng.choice(world.train_goals), sim, tr, em, epsilon=eps, rng=rng)
            agent.remember(r.transitions)
            n_real += 1
            if model is not None:
                model.remember(r.transitions)
        if model is not None:  # world-model learning, then planning (DDQ Sec. 2.2-2.3)
            model.fit(cfg.updates_per_epoch)
            for _ in range(per_epoch * cfg.planning_k):
                agent.remember(plan_dialogue(agent, model, rng.choice(world.train_goals), sim, tr, eps, rng),
                               planned)
        loss = agent.update(cfg.updates_per_epoch, [agent.replay, planned] if ddq else None)
        agent.sync_target()
        if (epoch + 1) % cfg.eval_every == 0:
            s, t, rw = _evaluate(agent, eval_goals, world, cfg, seed + 999)
            curve.append((n_real, s))
            ctx.log(n_real, f"{name}/seed{seed}", success=s, turns=t, reward=rw, loss=loss)
    return agent, curve


def _first_reach(curve, level):
    return next((n for n, s in curve if s >= level), float("nan"))


def _task(cfg, ctx, world):
    import matplotlib.pyplot as plt

    seeds = [ctx.seed + i for i in range(cfg.n_seeds)]
    rows, curves, finals, reach = [], {"dqn": [], "ddq": []}, {k: [] for k in ("rule_basics", "rule_expert", "dqn", "ddq", "dqn_nl", "rule_expert_nl")}, {"dqn": [], "ddq": []}
    rng = random.Random(ctx.seed)
    torch.manual_seed(ctx.seed)
    nlu = NLU(world)
    acc_intent, acc_tag = nlu.fit(cfg.nlu_examples, cfg.nlu_epochs, seed=ctx.seed, make_act=lambda: _make_user_act(world, rng))
    ctx.metrics.update(nlu_intent_acc=acc_intent, nlu_tag_acc=acc_tag)
    nl = NaturalLanguageLoop(nlu, seed=ctx.seed)
    agents = {}
    for seed in ctx.progress(seeds, desc="task-oriented: DQN and DDQ per seed"):
        finals["rule_basics"].append(_evaluate(rule_basics, world.test_goals, world, cfg, seed))
        finals["rule_expert"].append(_evaluate(rule_expert, world.test_goals, world, cfg, seed))
        for kind in ("dqn", "ddq"):
            agent, curve = _train_rl(world, cfg, seed, kind == "ddq", ctx)
            agents.setdefault(kind, agent)
            curves[kind].append(curve)
            finals[kind].append(_evaluate(agent, world.test_goals, world, cfg, seed))
            reach[kind].append(_first_reach(curve, 0.70))
            if kind == "dqn":
                finals["dqn_nl"].append(_evaluate(agent, world.test_goals, world, cfg, seed, nl=nl))
        finals["rule_expert_nl"].append(_evaluate(rule_expert, world.test_goals, world, cfg, seed, nl=nl))
    for k, v in finals.items():
        a = np.array(v)
        for j, m in enumerate(("success", "turns", "reward")):
            mu, sd = mean_std(a[:, j])
            ctx.metrics[f"{k}_{m}"], ctx.metrics[f"{k}_{m}_std"] = mu, sd
        rows.append({"agent": k, "success": f"{a[:, 0].mean():.3f} ± {a[:, 0].std(ddof=1) if len(a) > 1 else 0:.3f}",
                     "turns": float(a[:, 1].mean()), "reward": float(a[:, 2].mean())})
    ctx.table(f"Held-out goals ({len(world.test_goals)}), {cfg.n_seeds} seeds, NLU-noise error model "
              f"(slot {cfg.slot_err_prob}, intent {cfg.intent_err_prob}); *_nl: NLG -> neural NLU in the loop", rows)
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for kind, c in (("dqn", "C0"), ("ddq", "C1")):
        for i, cur in enumerate(curves[kind]):
            x, y = zip(*cur)
            ax.plot(x, y, color=c, alpha=0.8, label=kind.upper() if i == 0 else None)
    for k, c in (("rule_basics", "gray"), ("rule_expert", "k")):
        ax.axhline(ctx.metrics[f"{k}_success"], color=c, ls="--", label=k)
    ax.set_xlabel("simulated-user training dialogues (after warm start)")
    ax.set_ylabel("held-out success rate")
    ax.legend()
    ctx.savefig(fig, "task_learning_curves", "Success vs dialogues, DQN and Deep Dyna-Q (one line per seed)")
    m = ctx.metrics
    ctx.claim("dqn_success", "DQN on held-out goals: success >= 0.85 with <= 16 turns (act level, noisy NLU)",
              paper="TC-Bot act level 0.909 / 13.6 turns (training goals)",
              ours=f"{m['dqn_success']:.3f} ± {m['dqn_success_std']:.3f} / {m['dqn_turns']:.1f} turns",
              holds=m["dqn_success"] >= 0.85 and m["dqn_turns"] <= 16)
    ctx.claim("nl_success", "DQN with natural language in the loop (template NLG + neural NLU): success >= 0.70",
              paper="TC-Bot NL level 0.68 (last 50 epochs), best 0.83", ours=f"{m['dqn_nl_success']:.3f} ± {m['dqn_nl_success_std']:.3f}",
              holds=m["dqn_nl_success"] >= 0.70)
    rq, rd = float(np.nanmean(reach["dqn"])) if not all(np.isnan(reach["dqn"])) else float("nan"), \
        float(np.nanmean(reach["ddq"])) if not all(np.isnan(reach["ddq"])) else float("nan")
    m["dqn_dialogues_to_070"], m["ddq_dialogues_to_070"] = rq, rd
    ctx.claim("ddq_efficiency", "Deep Dyna-Q reaches 0.70 success with <= half the real dialogues DQN needs",
              paper="DDQ(K=5) needs far fewer real dialogues than DQN (Peng et al. 2018, Fig. 2)",
              ours=f"DDQ {rd:.0f} vs DQN {rq:.0f} dialogues (mean first eval >= 0.70; per seed DDQ {reach['ddq']}, DQN {reach['dqn']})",
              holds=bool(np.isfinite(rd) and np.isfinite(rq) and rd <= 0.5 * rq))
    ctx.note("Caveats: the dialogues-to-0.70 means skip seeds that never reached 0.70 within the run (see the per-seed "
             "lists); the DDQ world model is trained only on the real dialogues of that run, so early planning "
             "dialogues can mislead the Q-network (Peng et al. 2018 discuss this; D3Q is their fix). The rule_expert "
             "policy loses much more than DQN with natural language in the loop: it relies on the tracked open "
             "requests, which the NLU's request detection misses for some paraphrases, while DQN also uses the "
             "user-intent features; this gap is not yet analysed.")
    ctx.claim("dqn_vs_rule", "DQN beats TC-Bot's request-basics rule baseline on held-out success",
              paper="rule baseline below DQN (TC-Bot)", ours=f"DQN {m['dqn_success']:.3f} vs rule {m['rule_basics_success']:.3f}",
              holds=m["dqn_success"] > m["rule_basics_success"])
    # sample dialogues
    for label, pol, use_nl in (("DQN, act level", agents["dqn"], None), ("DQN, natural language", agents["dqn"], nl)):
        sim, tr = UserSimulator(world, cfg.max_turn, seed=1), StateTracker(world, cfg.max_turn)
        r = run_dialogue(pol, world.test_goals[0], sim, tr, ErrorModel(world, cfg.slot_err_prob, cfg.intent_err_prob, seed=1),
                         nl=use_nl, record=True)
        ctx.note(f"Sample dialogue ({label}, held-out goal {world.test_goals[0].inform_slots}, requests "
                 f"{world.test_goals[0].request_slots}; outcome {'success' if r.status == SUCCESS else 'failure'}):\n\n"
                 + "\n".join(f"    {who}: {text}" for who, text in r.transcript))
    return agents, nlu


def _qa(cfg, ctx, world):
    movies = world.values["moviename"]
    train_m, test_m = movies[: len(movies) * 2 // 3], movies[len(movies) * 2 // 3:]
    accs, base = [], []
    for i in range(cfg.n_seeds):
        q_train = make_questions(world, cfg.qa_questions, seed=ctx.seed + i, movies=train_m)
        q_test = make_questions(world, cfg.qa_questions // 4, seed=ctx.seed + 100 + i, movies=test_m)
        kbqa = KBQA(world)
        base.append(kbqa.accuracy(q_test))
        torch.manual_seed(ctx.seed + i)
        kbqa.fit(q_train, epochs=60, seed=ctx.seed + i)
        accs.append(kbqa.accuracy(q_test))
    ctx.metrics["kbqa_acc"], ctx.metrics["kbqa_acc_std"] = mean_std(accs)
    ctx.metrics["kbqa_keyword_acc"] = float(np.mean(base))
    # KB-InfoBot: the user wants one column of the row behind a held-out goal and answers slot questions from it
    bot, ok, asks = InfoBot(world), 0, []
    rng = random.Random(ctx.seed)
    for g in world.test_goals:
        row = world.kb[world.query({k: v for k, v in g.inform_slots.items() if k != "numberofpeople"})[0]]
        target = rng.choice(["price", "starttime", "theater"])
        known, n = {}, 0
        while True:
            rows = world.query(known)
            if len({world.kb[i][target] for i in rows}) == 1:
                ok += world.kb[rows[0]][target] == row[target]
                break
            s = bot.next_slot(rows, known, exclude=target)
            if s is None:
                break
            known[s], n = row[s], n + 1
        asks.append(n)
    ctx.metrics["infobot_success"], ctx.metrics["infobot_questions"] = ok / len(world.test_goals), float(np.mean(asks))
    ctx.table("QA agents (generated questions over the generated KB)", [
        {"agent": "KB-QA neural (held-out movies)", "accuracy": f"{ctx.metrics['kbqa_acc']:.3f} ± {ctx.metrics['kbqa_acc_std']:.3f}"},
        {"agent": "KB-QA keyword baseline", "accuracy": f"{ctx.metrics['kbqa_keyword_acc']:.3f}"},
        {"agent": f"KB-InfoBot (avg {ctx.metrics['infobot_questions']:.2f} questions)",
         "accuracy": f"{ctx.metrics['infobot_success']:.3f}"}])
    return kbqa


def _chat(cfg, ctx):
    rows, bots = [], []
    for i in ctx.progress(range(cfg.n_seeds), desc="chatbot seeds"):
        train = make_persona_chat(cfg.chat_examples, seed=ctx.seed + i)
        test = make_persona_chat(cfg.n_chat_eval, seed=ctx.seed + 1000 + i)
        vocab = Vocab([t for p, m, r in train for x in p + [m, r] for t in x.split()])
        bot = Chatbot(vocab, d_model=cfg.chat_d_model, seed=ctx.seed + i)
        losses = bot.fit(train, cfg.chat_steps, seed=ctx.seed + i)
        bots.append(bot)
        pairs = [(p, m) for p, m, _ in test]
        plain, mmi = bot.reply(pairs), bot.reply(pairs, mmi=cfg.mmi_lambda)
        facts = [f for _, fs in PERSONA_FACTS.values() for f in fs]
        probes = [(j, p) for j, (p, m, r) in enumerate(test) if any(r.startswith(f) for f in facts)]
        consistent = np.mean([any(plain[j].startswith(f) for f in p) for j, p in probes]) if probes else float("nan")
        rows.append({"seed": ctx.seed + i, "train_loss": losses[-1], "ppl": bot.perplexity(test),
                     "distinct1": distinct_n(plain, 1), "distinct2": distinct_n(plain, 2),
                     "distinct1_mmi": distinct_n(mmi, 1), "distinct2_mmi": distinct_n(mmi, 2),
                     "persona_consistency": float(consistent)})
    for k in ("ppl", "distinct1", "distinct2", "distinct1_mmi", "distinct2_mmi", "persona_consistency"):
        ctx.metrics[f"chat_{k}"], ctx.metrics[f"chat_{k}_std"] = mean_std([r[k] for r in rows])
    ctx.table("Persona chatbot (GENERATED persona chat), beam 8; MMI-antiLM reranking of the 8-best", rows)
    m = ctx.metrics
    ctx.claim("mmi_diversity", "MMI reranking raises distinct-2 over plain beam search",
              paper="MMI-antiLM raises distinct-1/2 (Li et al. 2016a, Table 4)",
              ours=f"{m['chat_distinct2_mmi']:.3f} vs {m['chat_distinct2']:.3f}", holds=m["chat_distinct2_mmi"] > m["chat_distinct2"])
    samples = bots[0].reply([(make_persona_chat(1, 7)[0][0], q) for q in ("do you have pets", "what do you do", "hi")],
                            mmi=cfg.mmi_lambda)
    ctx.note("Chatbot samples (MMI): " + " | ".join(samples))
    return bots[0]


@register_recipe("dialogue", config=DialogueConfig, presets={
    "quick": {"epochs": 30, "warm_start": 100, "updates_per_epoch": 40, "n_eval": 100, "nlu_examples": 2500, "nlu_epochs": 3,
              "chat_examples": 2000, "chat_steps": 200, "n_chat_eval": 60, "qa_questions": 600},
    "full": {"n_seeds": 5, "n_goals": 1000, "epochs": 500},
}, needs_data_dir=())
def run(cfg: DialogueConfig, ctx) -> None:
    torch.set_num_threads(1)  # tiny models: threads only add overhead
    parts = {p.strip() for p in cfg.parts.split(",")}
    world = make_world(ctx.seed, n_goals=cfg.n_goals)
    ctx.note(f"World: GENERATED movie-ticket KB ({len(world.kb)} showings, {len(world.values['moviename'])} movies), "
             f"{len(world.train_goals)} training goals and {len(world.test_goals)} held-out goals. Numbers are "
             "analogues on a generated world, not comparisons with TC-Bot's published figures. "
             "Deviation: rewards scaled by 1/max_turn inside the Q-update; Huber loss + Adam.")
    agents, nlu, kbqa, bot = {}, None, None, None
    if "task" in parts:
        agents, nlu = _task(cfg, ctx, world)
    if "qa" in parts:
        kbqa = _qa(cfg, ctx, world)
    if "chat" in parts:
        bot = _chat(cfg, ctx)
    if cfg.save_models and ctx.is_main:
        d = ctx.out / "models"
        save_models(d, dqn=agents.get("dqn"), nlu=nlu, chatbot=bot, kbqa=kbqa)
        ctx.note(f"Trained agents saved to {d}: `paperzoo chat --agent task --model-dir {d}`.")
