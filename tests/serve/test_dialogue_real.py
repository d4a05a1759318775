"""The chat panel with the real `paperzoo.dialogue` agents (runs only when that package offers load_agent)."""

import pytest
from fastapi.testclient import TestClient

from paperzoo.serve import ServeConfig, create_app


def test_real_task_agent_booking_dialogue():
    dialogue = pytest.importorskip("paperzoo.dialogue")
    if not hasattr(dialogue, "load_agent"):
        pytest.skip("paperzoo.dialogue has no load_agent yet")
    app = create_app(ServeConfig(g2p=False))
    panel = app.state.panels["chat"]
    assert panel["available"], panel.get("reason")
    c = TestClient(app, raise_server_exceptions=False)
    kind = "task" if "task" in panel["agents"] else panel["agents"][0]
    d = c.post("/api/chat/sessions", json={"agent": kind}).json()
    sid = d["session_id"]
    for text in ("I want two tickets for a movie tonight", "in Seattle", "thanks"):
        r = c.post(f"/api/chat/sessions/{sid}/messages", json={"text": text})
        assert r.status_code == 200, r.text
        assert isinstance(r.json()["reply"], str) and r.json()["reply"]
