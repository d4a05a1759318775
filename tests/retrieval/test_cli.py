import numpy as np
import pytest
from PIL import Image

from paperzoo.cli import main
from paperzoo.retrieval.extract import load_retrieval_model, save_retrieval_model
from paperzoo.retrieval.model import build_retrieval_net
from paperzoo.retrieval.search import build_index, search


def test_index_and_search_roundtrip(tmp_path, capsys):
    net = build_retrieval_net("small", "gem", width=4)
    model = save_retrieval_model(net, tmp_path / "m.safetensors", imsize=16)
    net2, meta = load_retrieval_model(model)
    assert meta["arch"] == "small" and meta["dim"] == 16
    rng = np.random.default_rng(0)
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(5):
        Image.fromarray(rng.integers(0, 255, (20, 24, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    main(["retrieval", "index", str(folder), "--model", str(model), "--out", str(tmp_path / "idx")])
    main(["retrieval", "search", str(tmp_path / "idx"), str(folder / "3.png"), "-k", "3"])
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-3].split()[-1].endswith("3.png")  # the query itself is the best match


@pytest.mark.parametrize("args", [
    ["retrieval", "search", "/nonexistent-index", "/nonexistent.png"],
    ["retrieval", "index", "/nonexistent-folder", "--model", "/x.safetensors", "--out", "/tmp/x"],
])
def test_bad_input_one_line_error(args, capsys):
    with pytest.raises(SystemExit) as e:
        main(args)
    assert e.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and len(err.splitlines()) == 1


@pytest.mark.parametrize("kind", ["flat", "hnsw", "ivf"])
def test_index_types_find_exact_match(kind):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((400, 8)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    _, ids = search(build_index(x, kind), x[:5], k=1)
    assert (ids[:, 0] == np.arange(5)).mean() >= 0.8
