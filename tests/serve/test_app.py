"""API tests: every endpoint, with oversized and malformed requests (4xx JSON errors, never 5xx)."""

from __future__ import annotations

import pytest

from paperzoo.serve import ServeConfig, create_app


def _err(r, status):
    assert r.status_code == status, r.text
    body = r.json()
    assert isinstance(body["error"], str) and body["error"]
    return body["error"]


def test_page_static_and_schema(client):
    r = client.get("/")
    assert r.status_code == 200 and "g2p-input" in r.text and "https://" not in r.text  # no CDN
    assert "default-src 'self'" in r.headers["content-security-policy"]
    assert client.get("/static/app.js").status_code == 200
    assert client.get("/static/style.css").status_code == 200
    schema = client.get("/openapi.json").json()
    assert "/api/g2p" in schema["paths"] and "/api/systems" in schema["paths"]
    assert client.get("/api/health").json() == {"status": "ok"}
    assert client.get("/docs").status_code == 404  # Swagger UI would need a CDN


def test_systems_lists_panels_and_limits(client):
    d = client.get("/api/systems").json()
    assert d["panels"]["g2p"]["available"] is True
    assert d["panels"]["chat"]["agents"] == ["task"]
    assert d["limits"]["max_words"] == 64 and d["device"] in ("cpu", "cuda")
    for name in ("retrieval", "netclass", "seg3d"):
        assert name not in d["panels"]  # not configured: absent


def test_g2p_dictionary_words_exact(client):
    r = client.post("/api/g2p", json={"words": ["hello", "World"]})
    assert r.status_code == 200
    res = r.json()["results"]
    assert res[0] == {"word": "hello", "phonemes": ["HH", "AH", "L", "OW"], "source": "lexicon", "error": None}
    assert res[1]["phonemes"] == ["W", "ER", "L", "D"]


def test_g2p_text_paste_and_per_word_errors(client):
    res = client.post("/api/g2p", json={"text": "hello, 123;  zyxorbiaq"}).json()["results"]
    assert [r["word"] for r in res] == ["hello", "123", "zyxorbiaq"]
    assert res[1]["phonemes"] is None and "no letters" in res[1]["error"]
    oov = res[2]  # a model answer when trained weights are shipped, else a clear per-word error
    assert (oov["source"] == "model" and oov["phonemes"]) or (oov["phonemes"] is None and "CMUdict" in oov["error"])


@pytest.mark.parametrize("body, status", [
    ({}, 422), ({"words": []}, 422), ({"words": "hello"}, 422), ({"words": [1, 2]}, 422),
    ({"words": ["a"], "text": "b"}, 422), ({"wrods": ["a"]}, 422), ({"text": " , ; "}, 422), ([1, 2], 422),
])
def test_g2p_bad_bodies(client, body, status):
    _err(client.post("/api/g2p", json=body), status)


def test_g2p_malformed_and_oversized(client):
    _err(client.post("/api/g2p", content=b'{"words": [', headers={"content-type": "application/json"}), 400)
    _err(client.post("/api/g2p", content=b"\xff\xfe\x00garbage", headers={"content-type": "application/json"}), 400)
    msg = _err(client.post("/api/g2p", json={"words": ["a"] * 65}), 422)
    assert "limit is 64" in msg
    big = {"text": "hello " * 20000}
    assert "limit" in _err(client.post("/api/g2p", json=big), 413)
    res = client.post("/api/g2p", json={"words": ["a" * 300]}).json()["results"]
    assert res[0]["phonemes"] is None and "limit" in res[0]["error"]


def test_g2p_model_path_is_batched_and_cached(fake_client):
    r = fake_client.post("/api/g2p", json={"words": ["abc", "abc", "well-done"]})
    assert r.json()["results"][0] == {"word": "abc", "phonemes": ["A", "B", "C"], "source": "model", "error": None}
    assert fake_client.fake_g2p.calls == 1
    fake_client.post("/api/g2p", json={"words": ["abc"]})
    assert fake_client.fake_g2p.calls == 1  # served from the cache
    _err(fake_client.post("/api/g2p", json={"words": ["a"] * 9}), 422)  # max_words=8


def test_chat_booking_dialogue(client):
    r = client.post("/api/chat/sessions", json={"agent": "task"})
    assert r.status_code == 200
    d = r.json()
    assert "movie" in d["reply"] and d["turns"] == 0
    sid = d["session_id"]
    r = client.post(f"/api/chat/sessions/{sid}/messages", json={"text": "Arrival"})
    assert r.json()["reply"] == "How many tickets for Arrival?"
    r = client.post(f"/api/chat/sessions/{sid}/messages", json={"text": "2"})
    assert r.json() == {"session_id": sid, "agent": "task", "reply": "Booked 2 tickets for Arrival.", "turns": 2}
    assert client.delete(f"/api/chat/sessions/{sid}").json() == {"deleted": True}
    _err(client.post(f"/api/chat/sessions/{sid}/messages", json={"text": "hi"}), 404)
    _err(client.delete(f"/api/chat/sessions/{sid}"), 404)


def test_chat_bad_requests(fake_client):
    _err(fake_client.post("/api/chat/sessions", json={"agent": "wizard"}), 422)
    _err(fake_client.post("/api/chat/sessions", content=b"{", headers={"content-type": "application/json"}), 400)
    sid = fake_client.post("/api/chat/sessions", json={"agent": "qa"}).json()["session_id"]
    url = f"/api/chat/sessions/{sid}/messages"
    assert "limit is 50" in _err(fake_client.post(url, json={"text": "x" * 51}), 422)
    _err(fake_client.post(url, json={"text": "   "}), 422)
    _err(fake_client.post(url, json={"txt": "hi"}), 422)
    _err(fake_client.post(url, json={"text": 5}), 422)
    _err(fake_client.post("/api/chat/sessions/nope/messages", json={"text": "hi"}), 404)
    # an agent that raises is a 500 JSON answer, and the server keeps serving
    assert "internal error" in _err(fake_client.post(url, json={"text": "boom"}), 500)
    assert fake_client.post(url, json={"text": "Up"}).status_code == 200


def test_chat_store_is_bounded(fake_client):
    ids = [fake_client.post("/api/chat/sessions", json={"agent": "task"}).json()["session_id"] for _ in range(4)]
    _err(fake_client.post(f"/api/chat/sessions/{ids[0]}/messages", json={"text": "hi"}), 404)  # evicted (max 3)
    assert fake_client.post(f"/api/chat/sessions/{ids[3]}/messages", json={"text": "hi"}).status_code == 200


def test_unknown_routes_and_methods(client):
    _err(client.get("/api/nothing"), 404)
    _err(client.get("/api/g2p"), 405)
    _err(client.post("/api/search/retrieval", content=b"x"), 404)  # panel not loaded: absent
    _err(client.post("/api/g2p", content=b"{}", headers={"content-length": "abc", "content-type": "application/json"}),
         400)


def test_timeout_gives_503():
    import time

    class SlowAgent:
        def reset(self):
            time.sleep(1.0)
            return "hi"

        def respond(self, text):
            return text

    app = create_app(ServeConfig(g2p=False, request_timeout_s=0.2), agents={"task": SlowAgent})
    from fastapi.testclient import TestClient
    c = TestClient(app, raise_server_exceptions=False)
    assert "longer than 0.2 s" in _err(c.post("/api/chat/sessions", json={"agent": "task"}), 503)
    assert c.get("/api/health").status_code == 200
    assert "g2p" not in c.get("/api/systems").json()["panels"]
