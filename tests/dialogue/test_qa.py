from paperzoo.dialogue.qa import KBQA, RELATIONS, InfoBot, make_questions
from paperzoo.dialogue.world import make_world


def test_kbqa_learns_relations_on_held_out_movies():
    w = make_world(0, n_rows=100, n_goals=10)
    movies = w.values["moviename"]
    kb = KBQA(w)
    kb.fit(make_questions(w, 200, seed=0, movies=movies[:12]), epochs=40)
    test = make_questions(w, 60, seed=1, movies=movies[12:])
    assert kb.accuracy(test) > 0.8
    movie, rel, ans = kb.answer(f"what time does {movies[13]} start")
    assert movie == movies[13] and rel == "starttime" and ans
    assert kb.answer("hello there")[2] == set() and set(RELATIONS) >= {rel}


def test_infobot_asks_informative_slots_until_one_row():
    w = make_world(0, n_rows=100, n_goals=10)
    bot, row, known = InfoBot(w), w.kb[5], {}
    for _ in range(6):
        rows = w.query(known)
        if len(rows) == 1:
            break
        s = bot.next_slot(rows, known)
        assert s not in known
        known[s] = row[s]
    assert len(w.query(known)) >= 1 and all(w.kb[i]["moviename"] == row["moviename"] for i in w.query(known))
