"""G2PService (lexicon / LRU cache / model parts) and the Coalescer that batches concurrent model work."""

from __future__ import annotations

import asyncio
import json

import pytest

from paperzoo.serve.app import CONFIG_ENV, app_from_env
from paperzoo.serve.config import ServeConfig
from paperzoo.serve.systems import Coalescer, G2PService


class LexG2P:
    """A G2P with a two-word lexicon; the 'model' spells letters and counts its calls."""

    lexicon = {"HELLO": [["HH", "AH", "L", "OW"]], "WORLD": [["W", "ER", "L", "D"]]}

    def __init__(self):
        self.calls: list[list[str]] = []

    def predict(self, words):
        self.calls.append(list(words))
        return [list(w) for w in words]


def test_lexicon_and_cache_answer_without_the_model():
    g = LexG2P()
    svc = G2PService(g, cache_size=2)
    results, missing = svc.plan(["Hello", "world", "hello-abc", "12"])
    assert results[0]["phonemes"] == ["HH", "AH", "L", "OW"] and results[0]["source"] == "lexicon"
    assert results[1]["phonemes"] == ["W", "ER", "L", "D"]
    assert "no letters" in results[3]["error"] and results[3]["phonemes"] is None
    assert missing == {2: ["HELLO", "ABC"]} and g.calls == []  # only the unknown part goes to the model
    svc.finish(results, missing)
    assert g.calls == [["ABC"]] and results[2]["phonemes"] == ["HH", "AH", "L", "OW", "A", "B", "C"]
    assert results[2]["source"] == "model"
    results, missing = svc.plan(["abc"])
    assert not missing and results[0]["phonemes"] == ["A", "B", "C"]  # from the cache
    svc.predict_parts(["XY", "ZQ"])  # cache bound 2: ABC (least recently used) is dropped
    assert svc.plan(["abc"])[1] == {0: ["ABC"]} and svc.stats()["cached"] == 2
    assert svc.stats()["model_calls"] == 2 and svc.stats()["model_words"] == 3


def test_lexicon_off_when_the_g2p_says_so():
    g = LexG2P()
    g.use_lexicon = False
    assert G2PService(g).plan(["hello"])[1] == {0: ["HELLO"]}


def test_coalescer_batches_concurrent_requests():
    batches = []

    async def scenario():
        release = asyncio.Event()

        async def run(keys):
            batches.append(list(keys))
            await release.wait()  # the model call runs until the test lets it finish
            return {k: k.lower() for k in keys}

        c = Coalescer(run)
        first = asyncio.ensure_future(c.get(["A"]))
        while not batches:  # A's batch is running; the next two requests queue up together
            await asyncio.sleep(0)
        rest = asyncio.ensure_future(asyncio.gather(c.get(["B", "C"]), c.get(["C", "D", "A"])))
        for _ in range(5):
            await asyncio.sleep(0)
        release.set()
        return await first, await rest

    first, rest = asyncio.run(scenario())
    assert first == {"A": "a"} and rest == [{"B": "b", "C": "c"}, {"C": "c", "D": "d", "A": "a"}]
    assert batches == [["A"], ["B", "C", "D"]]


def test_coalescer_errors_reach_every_waiter_and_it_recovers():
    fail = [True]

    async def run(keys):
        await asyncio.sleep(0.01)
        if fail[0]:
            raise ValueError("model broke")
        return {k: 1 for k in keys}

    async def scenario():
        c = Coalescer(run)
        res = await asyncio.gather(c.get(["A"]), c.get(["A", "B"]), return_exceptions=True)
        fail[0] = False
        return res, await c.get(["A", "B"])

    res, ok = asyncio.run(scenario())
    assert all(isinstance(r, ValueError) for r in res) and ok == {"A": 1, "B": 1}


def test_coalescer_waiter_that_gives_up_does_not_cancel_others():
    async def scenario():
        release = asyncio.Event()

        async def run(keys):
            await release.wait()
            return {k: 2 for k in keys}

        c = Coalescer(run)
        impatient = asyncio.ensure_future(c.get(["A"]))
        patient = asyncio.ensure_future(c.get(["A"]))
        for _ in range(5):
            await asyncio.sleep(0)
        impatient.cancel()
        await asyncio.sleep(0)
        release.set()
        return await patient

    assert asyncio.run(scenario()) == {"A": 2}


def test_config_json_round_trip_and_worker_factory(tmp_path, monkeypatch):
    cfg = ServeConfig(port=9000, hash_index=tmp_path, max_words=7)
    d = json.loads(json.dumps(cfg.to_json()))
    assert ServeConfig.from_json(d) == cfg
    monkeypatch.setenv(CONFIG_ENV, json.dumps(ServeConfig(g2p=False, chat=False, max_words=3).to_json()))
    app = app_from_env()
    assert app.state.config.max_words == 3 and app.state.panels == {}


def test_serve_rejects_bad_workers(capsys):
    from paperzoo.cli import main

    with pytest.raises(SystemExit) as e:
        main(["serve", "--workers", "0"])
    assert e.value.code == 2 and "--workers" in capsys.readouterr().err
