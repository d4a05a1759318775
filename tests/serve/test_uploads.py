"""Upload endpoints (image search, network classification, segmentation) with tiny models built here."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from PIL import Image

from paperzoo.errors import PaperzooError
from paperzoo.serve import ServeConfig, create_app


def _png(seed: int, size: int = 32) -> bytes:
    a = np.random.default_rng(seed).integers(0, 255, (size, size, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def retrieval_index(tmp_path_factory):
    from paperzoo.retrieval.extract import FileSource, describe, save_retrieval_model
    from paperzoo.retrieval.model import build_retrieval_net
    from paperzoo.retrieval.search import build_index, save_index

    d = tmp_path_factory.mktemp("retrieval")
    paths = []
    for i in range(5):
        p = d / f"img{i}.png"
        p.write_bytes(_png(i))
        paths.append(p)
    torch.manual_seed(0)
    net = build_retrieval_net("small", "gem", width=4).eval()
    model = save_retrieval_model(net, d / "model.safetensors", imsize=32)
    meta = {"arch": "small"}
    vecs = describe(net, FileSource(paths, 32, square=True))
    save_index(d / "index", build_index(vecs, "flat"), [str(p) for p in paths], model,
               {"imsize": 32, "multiscale": False, "model": meta})
    return d / "index"


@pytest.fixture(scope="module")
def netclass_model(tmp_path_factory):
    from paperzoo.netclass.image import CNCImageConfig
    from paperzoo.netclass.model import CNC, CNCConfig
    from paperzoo.netclass.train import CNCClassifier

    torch.manual_seed(0)
    stem = tmp_path_factory.mktemp("netclass") / "model"
    CNCClassifier(CNCImageConfig(n_walks=200, epochs=1, size=16), CNC(CNCConfig(size=16, num_classes=2)).eval(),
                  ["ba", "er"]).save(stem)
    return stem


@pytest.fixture(scope="module")
def upload_client(retrieval_index, netclass_model):
    app = create_app(ServeConfig(g2p=False, chat=False, retrieval_index=retrieval_index, netclass_model=netclass_model,
                                 max_upload_bytes=200_000, max_graph_edges=500))
    return TestClient(app, raise_server_exceptions=False)


def test_panels_listed(upload_client):
    p = upload_client.get("/api/systems").json()["panels"]
    assert p["retrieval"]["available"] and p["netclass"]["available"] and "seg3d" not in p


def test_image_search_finds_the_query_itself(upload_client):
    r = upload_client.post("/api/search/retrieval?k=3", content=_png(2), headers={"content-type": "image/png"})
    assert r.status_code == 200, r.text
    res = r.json()["results"]
    assert len(res) == 3 and res[0]["name"] == "img2.png" and res[0]["score"] == pytest.approx(1.0, abs=1e-3)
    img = upload_client.get(f"/api/search/retrieval/images/{res[0]['id']}")
    assert img.status_code == 200 and img.content.startswith(b"\x89PNG")


def test_image_search_bad_uploads(upload_client):
    url = "/api/search/retrieval"
    assert upload_client.post(url, content=b"").status_code == 422
    assert upload_client.post(url, content=b"GIF89a not really").status_code == 415
    assert "not a PNG" in upload_client.post(url, content=b"hello world").json()["error"]
    assert upload_client.post(url, content=b"\x89PNG" + b"0" * 300_000).status_code == 413
    assert upload_client.post(url + "?k=0", content=_png(1)).status_code == 422
    assert upload_client.post(url + "?k=abc", content=_png(1)).status_code == 422
    assert upload_client.get(f"{url}/images/99").status_code == 404
    assert upload_client.get(f"{url}/images/-1").status_code == 404
    r = upload_client.get(f"{url}/images/..%2f..%2fetc")
    assert r.status_code in (404, 422) and r.json()["error"]


def test_netclass_classifies_an_edge_list(upload_client):
    import networkx as nx

    g = nx.barabasi_albert_graph(60, 2, seed=0)
    text = "\n".join(f"{u} {v}" for u, v in g.edges()).encode()
    r = upload_client.post("/api/netclass", content=text)
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["nodes"] == 60 and d["edges"] == g.number_of_edges()
    assert sum(p["p"] for p in d["probabilities"]) == pytest.approx(1.0, abs=1e-4)
    assert d["predicted"] == d["probabilities"][0]["class"] and d["image"].startswith("data:image/png;base64,")


def test_netclass_bad_uploads(upload_client):
    url = "/api/netclass"
    assert upload_client.post(url, content=b"a b\n\x00\x01").status_code == 422
    assert "weight" in upload_client.post(url, content=b"a b notanumber\n").json()["error"]
    assert upload_client.post(url, content=b"\n\n# only comments\n").status_code == 422
    assert upload_client.post(url + "?format=xlsx", content=b"a b").status_code == 422
    assert upload_client.post(url + "?format=graphml", content=b"<graphml><broken").status_code == 422
    many = "\n".join(f"{i} {i + 1}" for i in range(600)).encode()
    assert "limit is 500" in upload_client.post(url, content=many).json()["error"]


def test_explicit_paths_must_load(tmp_path):
    with pytest.raises(PaperzooError):
        create_app(ServeConfig(g2p=False, chat=False, retrieval_index=tmp_path))
    with pytest.raises(PaperzooError):
        create_app(ServeConfig(g2p=False, chat=False, netclass_model=tmp_path / "none"))
    with pytest.raises(PaperzooError):
        create_app(ServeConfig(g2p=False, chat=False, seg3d_model=tmp_path))
