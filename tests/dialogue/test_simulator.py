import pytest

from paperzoo.dialogue.acts import DONTCARE, NO_MATCH, DialogueAct
from paperzoo.dialogue.simulator import FAILED, NO_OUTCOME, SUCCESS, ErrorModel, UserSimulator, reward
from paperzoo.dialogue.world import UserGoal, make_world


@pytest.fixture(scope="module")
def world():
    return make_world(0, n_rows=120, n_goals=40)


def _goal(world, requests=("price",)):
    row = world.kb[0]
    return UserGoal({"moviename": row["moviename"], "city": row["city"], "numberofpeople": "2"}, list(requests)), row


def test_reward_tc_bot():
    assert reward(SUCCESS, 40) == 79 and reward(FAILED, 40) == -41 and reward(NO_OUTCOME, 40) == -1


def test_world_goals_are_satisfiable_and_split(world):
    assert len(world.train_goals) == 30 and len(world.test_goals) == 10
    for g in world.train_goals + world.test_goals:
        assert "moviename" in g.inform_slots and "numberofpeople" in g.inform_slots
        assert world.query(g.inform_slots)
    assert make_world(0, n_rows=120, n_goals=40).kb == world.kb  # seeded


def test_agenda_first_turn_and_requests(world):
    goal, row = _goal(world)
    sim = UserSimulator(world, seed=0, p_first_extra=0.0)
    first = sim.reset(goal)
    assert first.intent == "request" and first.inform_slots == {"moviename": row["moviename"]}
    assert first.request_slots == ["price"]
    # system asks a constrained slot -> user informs it; an unconstrained slot -> dontcare
    assert sim.step(DialogueAct("request", {}, ["city"])).inform_slots == {"city": row["city"]}
    assert sim.step(DialogueAct("request", {}, ["date"])).inform_slots == {"date": DONTCARE}
    # answering the request pops the agenda: the untold constraint numberofpeople comes next
    nxt = sim.step(DialogueAct("inform", {"price": "$9"}))
    assert nxt.intent == "inform" and nxt.inform_slots == {"numberofpeople": "2"}
    assert sim.open_requests == []


def test_ticket_success_and_violation(world):
    goal, row = _goal(world, requests=())
    sim = UserSimulator(world, seed=0)
    sim.reset(goal)
    ticket = dict(row, numberofpeople="2", taskcomplete="ticket")
    sim.step(DialogueAct("inform", ticket))
    assert sim.done and sim.status == SUCCESS
    sim.reset(goal)
    sim.step(DialogueAct("inform", dict(ticket, city="nowhere")))
    assert sim.done and sim.status == FAILED
    sim.reset(goal)
    sim.step(DialogueAct("inform", {"taskcomplete": NO_MATCH}))
    assert sim.status == FAILED


def test_ticket_with_open_request_keeps_asking(world):
    goal, row = _goal(world)
    sim = UserSimulator(world, seed=0)
    sim.reset(goal)
    r = sim.step(DialogueAct("inform", dict(row, numberofpeople="2", taskcomplete="ticket")))
    assert not sim.done and r.request_slots == ["price"]
    sim.step(DialogueAct("inform", {"price": row["price"]}))
    assert sim.done and sim.status == SUCCESS


def test_turn_limit_fails(world):
    goal, _ = _goal(world)
    sim = UserSimulator(world, max_turn=6, seed=0)
    sim.reset(goal)
    for _ in range(3):
        sim.step(DialogueAct("greeting"))
    assert sim.done and sim.status == FAILED


def test_error_model_corrupts_at_the_given_rate(world):
    act = DialogueAct("inform", {"city": "seattle"})
    em = ErrorModel(world, slot_err_prob=1.0, intent_err_prob=0.0, slot_err_mode="drop")
    assert em(act).inform_slots == {} and act.inform_slots == {"city": "seattle"}
    clean = ErrorModel(world, 0.0, 0.0)
    assert clean(act).inform_slots == act.inform_slots and clean(act).intent == "inform"
    noisy = ErrorModel(world, 0.5, 0.0, slot_err_mode="value", seed=1)
    changed = sum(noisy(DialogueAct("inform", {"date": "today"})).inform_slots["date"] != "today" for _ in range(400))
    assert 100 < changed < 260  # ~0.5 * 5/6 of values differ
