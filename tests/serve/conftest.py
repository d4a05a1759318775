"""Fixtures for the web-app tests: the real G2P service (CMUdict answers are exact), fake agents, a tiny hash index."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from PIL import Image

from paperzoo.cli import main
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


def cli(args: list[str]) -> None:
    try:
        main(args)
    except SystemExit as e:
        assert e.code in (0, None), f"paperzoo {' '.join(args)} exited with {e.code}"


def png(seed: int, size: int = 32) -> bytes:
    a = np.random.default_rng(seed).integers(0, 255, (size, size, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture(scope="session")
def hash_index(tmp_path_factory):
    """A 6-image 16-bit index written by `paperzoo hash index` with a tiny untrained hash network."""
    from paperzoo.hashing import build_hash_net, save_hash_model

    d = tmp_path_factory.mktemp("hash")
    (d / "images").mkdir()
    for i in range(6):
        (d / "images" / f"img{i}.png").write_bytes(png(i))
    from paperzoo.retrieval.data import load_image
    from paperzoo.retrieval.extract import IMAGENET_MEAN, IMAGENET_STD

    torch.manual_seed(0)
    net = build_hash_net("small", bits=(16,), width=4).eval()
    x = torch.stack([load_image(d / "images" / f"img{i}.png", 32, square=True) for i in range(6)])
    net.init_hash_layers(net.descriptor((x - IMAGENET_MEAN) / IMAGENET_STD), "centre")  # spread the codes
    model = save_hash_model(net, d / "model.safetensors", imsize=32)
    cli(["hash", "index", str(d / "images"), "--bits", "16", "--out", str(d / "index"), "--model", str(model)])
    return d / "index"
