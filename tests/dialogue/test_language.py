import random

from paperzoo.dialogue.acts import DialogueAct
from paperzoo.dialogue.agents import KeywordNLU
from paperzoo.dialogue.language import NLU, TemplateNLG, tokenize
from paperzoo.dialogue.world import make_world


def test_nlg_tags_align_with_tokens():
    w = make_world(0, n_rows=50, n_goals=10)
    nlg = TemplateNLG(0)
    act = DialogueAct("inform", {"moviename": w.values["moviename"][0], "starttime": "7:15pm", "city": "dontcare"})
    toks, tags = nlg.user_parts(act)
    assert len(toks) == len(tags)
    tagged = {t[2:] for t in tags if t != "O"}
    assert tagged == {"moviename", "starttime", "city"}
    assert "7:15pm" in toks and tokenize("At 7:15pm, $12!") == ["at", "7:15pm", ",", "$12", "!"]
    assert "booked" in nlg.system_text(DialogueAct("inform", dict(w.kb[0], taskcomplete="ticket")))


def test_neural_nlu_learns_a_tiny_set():
    w = make_world(0, n_rows=50, n_goals=10)
    rng = random.Random(0)
    movies = w.values["moviename"][:3]

    def make_act():
        if rng.random() < 0.5:
            return DialogueAct("inform", {"moviename": rng.choice(movies)})
        return DialogueAct("thanks")

    nlu = NLU(w, emb=16, hidden=16)
    acc_intent, acc_tag = nlu.fit(400, 8, seed=0, make_act=make_act)
    assert acc_intent > 0.9 and acc_tag > 0.8
    act = nlu.parse(f"i want {movies[0]}")
    assert act.intent == "inform" and act.inform_slots.get("moviename") == movies[0]
    for odd in ("", "x" * 5000, "日本語 ñ", "\x00"):
        assert isinstance(nlu.parse(odd), DialogueAct)


def test_keyword_nlu():
    w = make_world(0, n_rows=50, n_goals=10)
    m = w.values["moviename"][0]
    act = KeywordNLU(w).parse(f"{m} tomorrow for 3 people, what time does it start?")
    assert act.inform_slots["moviename"] == m and act.inform_slots["date"] == "tomorrow"
    assert act.inform_slots["numberofpeople"] == "3" and act.request_slots == ["starttime"]
    assert KeywordNLU(w).parse("bye").intent == "closing"
