"""The generated movie-ticket world: a knowledge base of showings and user goals (generated, seeded).

Shaped like TC-Bot's ``movie_kb.1k.p`` and ``user_goals_first_turn_template.part.movie.v1.p``
(https://github.com/MiuLab/TC-Bot; Li et al. 2016, arXiv 1612.05688): each KB row is a showing
(moviename, theater, city, date, starttime, price); a user goal has inform (constraint) slots,
always including moviename and numberofpeople, and request slots among theater/date/starttime/price.
Every goal is drawn from a KB row, so it is satisfiable. Goals are split into train and held-out
test sets (Deviation: TC-Bot evaluates on its training goals).
All names here are generated, not real data.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .acts import DONTCARE, INFORM_SLOTS, REQUEST_SLOTS

__all__ = ["UserGoal", "MovieWorld", "make_world"]

_ADJ = ["silent", "crimson", "last", "hidden", "electric", "frozen", "golden", "wild", "lost", "broken", "secret",
        "midnight", "iron", "paper", "lucky", "velvet", "distant", "burning", "quiet", "final"]
_NOUN = ["river", "empire", "garden", "horizon", "signal", "harbor", "kingdom", "echo", "mirror", "voyage", "orchard",
         "summit", "station", "lantern", "island", "canyon", "circus", "forest", "planet", "tide"]
_CITIES = ["seattle", "portland", "boston", "denver", "austin", "chicago", "atlanta", "miami"]
_THEATRE_WORDS = ["regal", "amc", "cinemark", "majestic", "grand", "starlight", "odeon", "paramount", "rialto", "roxy"]
_DATES = ["today", "tomorrow", "friday", "saturday", "sunday", "monday"]
_TIMES = ["1:30pm", "3:45pm", "5:00pm", "6:30pm", "7:15pm", "8:00pm", "9:30pm", "10:45pm"]
_PRICES = ["$9", "$11", "$12", "$14", "$16"]


@dataclass
class UserGoal:
    """TC-Bot's goal: ``inform_slots`` (constraints) and ``request_slots`` (things to find out)."""

    inform_slots: dict[str, str]
    request_slots: list[str] = field(default_factory=list)


@dataclass
class MovieWorld:
    kb: list[dict[str, str]]
    values: dict[str, list[str]]  # slot -> possible values (for the error model, NLU, NLG)
    train_goals: list[UserGoal]
    test_goals: list[UserGoal]

    def query(self, constraints: dict[str, str]) -> list[int]:
        """Rows matching all constraints (``dontcare`` and numberofpeople ignored)."""
        c = {k: v for k, v in constraints.items() if v != DONTCARE and k != "numberofpeople" and k in self.kb[0]}
        return [i for i, row in enumerate(self.kb) if all(row[k] == v for k, v in c.items())]


def make_world(seed: int = 0, n_movies: int = 24, n_theaters: int = 12, n_rows: int = 400, n_goals: int = 400,
               test_fraction: float = 0.25, p_constraint: float = 0.5, p_request: float = 0.35) -> MovieWorld:
    """Generate a KB of ``n_rows`` showings and ``n_goals`` goals (seeded). Defaults give a KB the
    size of TC-Bot's 1k KB scaled down; goal statistics follow TC-Bot's (about 4 inform slots, about
    1 request slot)."""
    rng = np.random.default_rng(seed)
    titles: list[str] = []
    while len(titles) < n_movies:
        t = f"the {rng.choice(_ADJ)} {rng.choice(_NOUN)}"
        if t not in titles:
            titles.append(t)
    cities = list(_CITIES)
    theaters = []
    for i in range(n_theaters):
        name = f"{_THEATRE_WORDS[i % len(_THEATRE_WORDS)]} {rng.choice(['cinema', 'theater', 'plaza', 'square'])}"
        while name in [t for t, _ in theaters]:
            name = name + " " + str(len(theaters))
        theaters.append((name, cities[i % len(cities)]))
    kb, seen = [], set()
    while len(kb) < n_rows:
        th, city = theaters[rng.integers(len(theaters))]
        row = {"moviename": titles[rng.integers(n_movies)], "theater": th, "city": city,
               "date": _DATES[rng.integers(len(_DATES))], "starttime": _TIMES[rng.integers(len(_TIMES))]}
        key = tuple(row.values())
        if key in seen:
            continue
        seen.add(key)
        row["price"] = _PRICES[rng.integers(len(_PRICES))]
        kb.append(row)
    values = {"moviename": titles, "theater": [t for t, _ in theaters], "city": cities, "date": list(_DATES),
              "starttime": list(_TIMES), "price": list(_PRICES), "numberofpeople": [str(i) for i in range(1, 7)]}
    goals = []
    for _ in range(n_goals):
        row = kb[rng.integers(len(kb))]
        inform = {"moviename": row["moviename"], "numberofpeople": str(int(rng.integers(1, 7)))}
        for s in ("city", "date", "starttime", "theater"):
            if rng.random() < p_constraint:
                inform[s] = row[s]
        req = [s for s in REQUEST_SLOTS if s not in inform and rng.random() < p_request][:2]
        goals.append(UserGoal({k: inform[k] for k in INFORM_SLOTS if k in inform}, req))
    perm = rng.permutation(n_goals)
    n_test = int(round(test_fraction * n_goals))
    test = [goals[i] for i in perm[:n_test]]
    train = [goals[i] for i in perm[n_test:]]
    return MovieWorld(kb, values, train, test)
