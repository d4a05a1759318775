import numpy as np
import pytest
from PIL import Image

from paperzoo.cli import main
from paperzoo.hashing.model import build_hash_net, save_hash_model


@pytest.fixture()
def setup(tmp_path):
    model = save_hash_model(build_hash_net(width=4, bits=(16, 64)), tmp_path / "m.safetensors", imsize=16)
    folder = tmp_path / "imgs"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(6):
        Image.fromarray(rng.integers(0, 255, (20, 24, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    return tmp_path, model, folder


def test_index_and_search(setup, capsys):
    tmp, model, folder = setup
    main(["hash", "index", str(folder), "--bits", "64", "--out", str(tmp / "idx"), "--model", str(model)])
    main(["hash", "search", str(tmp / "idx"), str(folder / "4.png"), "-k", "3"])
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 4
    # the query itself is at distance 0 (other images may tie; ties go to the lower index)
    assert any(ln.split()[-1].endswith("4.png") and ln.split()[1] == "0" for ln in lines[1:])


def test_hnsw_search_ef(setup, capsys, one_line_error):
    tmp, model, folder = setup
    main(["hash", "index", str(folder), "--bits", "16", "--out", str(tmp / "h"), "--model", str(model), "--kind", "hnsw"])
    main(["hash", "search", str(tmp / "h"), str(folder / "2.png"), "-k", "6", "--ef", "32"])
    rows = [ln.split() for ln in capsys.readouterr().out.strip().splitlines()[1:]]
    assert len(rows) == 6 and sorted(r[-1] for r in rows) == sorted(str(p.resolve()) for p in folder.iterdir())
    assert [int(r[1]) for r in rows] == sorted(int(r[1]) for r in rows)  # ranked by Hamming distance
    assert "must be >=" in one_line_error(["hash", "search", str(tmp / "h"), str(folder / "2.png"), "-k", "6",
                                           "--ef", "3"], capsys)
    main(["hash", "index", str(folder), "--bits", "16", "--out", str(tmp / "f"), "--model", str(model)])
    assert "HNSW" in one_line_error(["hash", "search", str(tmp / "f"), str(folder / "2.png"), "--ef", "32"], capsys)


def test_bits_not_multiple_of_8(setup, capsys, one_line_error):
    tmp, model, folder = setup
    err = one_line_error(["hash", "index", str(folder), "--bits", "12", "--out", str(tmp / "x"), "--model", str(model)],
                          capsys)
    assert "multiple of 8" in err


def test_empty_folder(setup, capsys, one_line_error):
    tmp, model, _ = setup
    (tmp / "empty").mkdir()
    err = one_line_error(["hash", "index", str(tmp / "empty"), "--out", str(tmp / "x"), "--model", str(model)], capsys)
    assert "no images" in err


def test_unreadable_image(setup, capsys, one_line_error):
    tmp, model, folder = setup
    (folder / "broken.jpg").write_bytes(b"not an image")
    err = one_line_error(["hash", "index", str(folder), "--out", str(tmp / "x"), "--model", str(model)], capsys)
    assert "broken.jpg" in err
    bad_q = tmp / "q.png"
    bad_q.write_bytes(b"\x89PNG garbage")
    one_line_error(["hash", "search", str(tmp / "missing-idx"), str(bad_q)], capsys)


def test_bits_not_in_model(setup, capsys, one_line_error):
    tmp, model, folder = setup
    one_line_error(["hash", "index", str(folder), "--bits", "32", "--out", str(tmp / "x"), "--model", str(model)], capsys)
