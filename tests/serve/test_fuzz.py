"""Hypothesis fuzz of the G2P and chat endpoints: any body gets a JSON answer and never a 5xx."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=30),
                           lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c, max_size=4),
                           max_leaves=12)
words = st.text(st.characters(codec="utf-8"), max_size=60)
g2p_bodies = st.one_of(
    st.fixed_dictionaries({"words": st.lists(words, max_size=70)}),
    st.fixed_dictionaries({"text": st.text(max_size=400)}),
    st.dictionaries(st.sampled_from(["words", "text", "x"]), json_values, max_size=3),
    json_values,
)
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _check(r):
    assert r.status_code < 500, r.text
    body = r.json()
    assert isinstance(body, dict)
    if r.status_code >= 400:
        assert isinstance(body["error"], str)


@SETTINGS
@given(body=g2p_bodies)
def test_fuzz_g2p_json(client, body):
    r = client.post("/api/g2p", json=body)
    _check(r)
    if r.status_code == 200:
        for res in r.json()["results"]:
            assert (res["phonemes"] is None) != (res["error"] is None)


@SETTINGS
@given(raw=st.binary(max_size=300))
def test_fuzz_g2p_raw_bytes(client, raw):
    _check(client.post("/api/g2p", content=raw, headers={"content-type": "application/json"}))


@SETTINGS
@given(texts=st.lists(st.one_of(st.text(max_size=80), json_values), min_size=1, max_size=4),
       agent=st.one_of(st.sampled_from(["task", "qa", ""]), st.text(max_size=10)))
def test_fuzz_chat(client, texts, agent):
    r = client.post("/api/chat/sessions", json={"agent": agent})
    _check(r)
    sid = r.json().get("session_id", "missing") if r.status_code == 200 else "missing"
    for t in texts:
        _check(client.post(f"/api/chat/sessions/{sid}/messages", json={"text": t}))
    _check(client.post(f"/api/chat/sessions/{sid}/messages", content=json.dumps(texts).encode()[:200],
                       headers={"content-type": "application/json"}))
