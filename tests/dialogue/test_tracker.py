import numpy as np

from paperzoo.dialogue.acts import NO_MATCH, DialogueAct
from paperzoo.dialogue.policy import BOOK, action_index, rule_basics, rule_expert
from paperzoo.dialogue.tracker import StateTracker, state_dim
from paperzoo.dialogue.world import make_world


def test_tracker_on_a_scripted_dialogue():
    w = make_world(0, n_rows=120, n_goals=20)
    row = w.kb[3]
    tr = StateTracker(w, max_turn=40)
    tr.update_user(DialogueAct("request", {"moviename": row["moviename"]}, ["price"]))
    assert tr.current_slots == {"moviename": row["moviename"]} and tr.open_requests == ["price"]
    assert all(w.kb[i]["moviename"] == row["moviename"] for i in tr.matches)
    assert rule_expert(tr.vector(), tr) == action_index("inform", "price")
    assert rule_basics(tr.vector(), tr) == action_index("request", "starttime")
    act = tr.update_agent(action_index("inform", "price"))
    assert act.inform_slots["price"] == w.kb[tr.matches[0]]["price"] and tr.open_requests == []
    for s in ("city", "date", "starttime", "theater"):
        tr.update_user(DialogueAct("inform", {s: row[s]}))
    tr.update_user(DialogueAct("inform", {"numberofpeople": "3"}))
    assert len(tr.matches) == 1 and w.kb[tr.matches[0]] == row
    ticket = tr.update_agent(BOOK)
    assert ticket.inform_slots["numberofpeople"] == "3" and ticket.inform_slots["theater"] == row["theater"]
    assert tr.booked is not None
    v = tr.vector()
    assert v.shape == (state_dim(40),) and v.dtype == np.float32 and set(np.unique(v)) <= {0.0, 1.0}


def test_no_match_ticket():
    w = make_world(0, n_rows=60, n_goals=10)
    tr = StateTracker(w)
    tr.update_user(DialogueAct("inform", {"moviename": "no such film"}))
    assert tr.matches == [] and tr.update_agent(BOOK).inform_slots["taskcomplete"] == NO_MATCH
