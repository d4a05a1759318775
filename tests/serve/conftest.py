"""Fixtures for the web-app tests: the real G2P service (CMUdict answers are exact), fake agents."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from paperzoo.serve import ServeConfig, create_app


class BookingAgent:
    """A tiny fake booking agent (the `paperzoo.dialogue` Agent interface: reset, respond)."""

    def __init__(self):
        self.movie = None

    def reset(self) -> str:
        self.movie = None
        return "Hello! Which movie would you like to see?"

    def respond(self, text: str) -> str:
        if "boom" in text:
            raise RuntimeError("agent failure")
        if self.movie is None:
            self.movie = text.strip()[:40]
            return f"How many tickets for {self.movie}?"
        return f"Booked {text.strip()[:10]} tickets for {self.movie}."


class FakeG2P:
    """A model-only G2P: one phone per letter (tests the model path and the cache, not phonetics)."""

    lexicon: dict = {}

    def __init__(self):
        self.calls = 0

    def predict(self, words):
        from paperzoo.g2p import G2P
        self.calls += 1
        return [list(G2P.clean(w).replace("'", "")) for w in words]


@pytest.fixture(scope="session")
def real_app():
    return create_app(ServeConfig(chat=False), agents={"task": BookingAgent})


@pytest.fixture(scope="session")
def client(real_app):
    return TestClient(real_app, raise_server_exceptions=False)


@pytest.fixture
def fake_client():
    g = FakeG2P()
    app = create_app(ServeConfig(max_words=8, max_text_chars=50, max_sessions=3), g2p=g,
                     agents={"task": BookingAgent, "qa": BookingAgent})
    c = TestClient(app, raise_server_exceptions=False)
    c.fake_g2p = g
    return c


@pytest.fixture
def booking_agent():
    return BookingAgent
