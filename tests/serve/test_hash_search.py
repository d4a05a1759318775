"""The image-search panel over a binary hash index built with the hashing CLI (fixture `hash_index` in conftest)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from paperzoo.cli import main
from paperzoo.serve import ServeConfig, create_app


def png(seed: int, size: int = 32) -> bytes:
    """The same random images as conftest's `hash_index` (seed i = img{i}.png)."""
    a = np.random.default_rng(seed).integers(0, 255, (size, size, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def hash_client(hash_index):
    app = create_app(ServeConfig(g2p=False, chat=False, hash_index=hash_index, max_upload_bytes=100_000))
    return TestClient(app, raise_server_exceptions=False)


def test_hash_panel_listed(hash_client):
    p = hash_client.get("/api/systems").json()["panels"]
    assert p["hash"]["available"] and "retrieval" not in p
    assert "/api/search/hash" in hash_client.get("/openapi.json").json()["paths"]


def test_hash_search_finds_the_query_at_distance_zero(hash_client, hash_index):
    r = hash_client.post("/api/search/hash?k=4", content=png(3), headers={"content-type": "image/png"})
    assert r.status_code == 200, r.text
    res = r.json()["results"]
    assert [x["rank"] for x in res] == [1, 2, 3, 4] and all(x["bits"] == 16 for x in res)
    assert res[0]["distance"] == 0 and "img3.png" in [x["name"] for x in res if x["distance"] == 0]
    assert res[-1]["distance"] > 0  # the codes differ between images
    assert [x["distance"] for x in res] == sorted(x["distance"] for x in res)
    assert all(0 <= x["distance"] <= 16 for x in res)
    img = hash_client.get(f"/api/search/hash/images/{res[0]['id']}")
    assert img.status_code == 200 and img.content.startswith(b"\x89PNG")


def test_hash_search_agrees_with_thecli(hash_client, hash_index, tmp_path, capsys):
    q = tmp_path / "q.png"
    q.write_bytes(png(5))
    capsys.readouterr()
    main(["hash", "search", str(hash_index), str(q), "-k", "6"])
    rows = [line.split() for line in capsys.readouterr().out.strip().splitlines()]
    web = hash_client.post("/api/search/hash?k=6", content=q.read_bytes()).json()["results"]
    assert [int(c[1]) for c in rows] == [x["distance"] for x in web]  # same codes, same Hamming distances


def test_hash_search_bad_requests(hash_client):
    url = "/api/search/hash"
    assert hash_client.post(url, content=b"").status_code == 422
    assert "not a PNG" in hash_client.post(url, content=b"hello").json()["error"]
    assert hash_client.post(url, content=b"\x89PNG\r\n\x1a\n" + b"x" * 50).status_code == 415  # truncated PNG
    assert hash_client.post(url, content=b"\x89PNG" + b"0" * 150_000).status_code == 413
    for q in ("?k=0", "?k=101", "?k=abc"):
        assert hash_client.post(url + q, content=png(1)).status_code == 422
    assert hash_client.get(f"{url}/images/6").status_code == 404
    assert hash_client.get(f"{url}/images/x").status_code == 422
    r = hash_client.get(f"{url}/images/..%2f..%2fetc")
    assert r.status_code in (404, 422) and r.json()["error"]
    assert hash_client.post(url + "?k=100", content=png(2)).status_code == 200  # k above the index size: all 6
    assert len(hash_client.post(url + "?k=100", content=png(2)).json()["results"]) == 6


def test_serve_rejects_a_bad_hash_index(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(["serve", "--hash-index", str(tmp_path)])
    assert e.value.code == 2 and "not a hash index directory" in capsys.readouterr().err


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(magic=st.sampled_from([b"", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF89a", b"BM"]), raw=st.binary(max_size=200),
       k=st.one_of(st.integers(-5, 200), st.text(max_size=4)))
def test_fuzz_hash_search_uploads(hash_client, magic, raw, k):
    r = hash_client.post("/api/search/hash", params={"k": k}, content=magic + raw)
    assert r.status_code < 500, r.text
    assert "results" in r.json() if r.status_code == 200 else r.json()["error"]
