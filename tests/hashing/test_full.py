import json
import pickle

import numpy as np
import pytest
from PIL import Image

from paperzoo.errors import DataError
from paperzoo.hashing.full import discover_full
from paperzoo.runner import run_recipe

TINY = ["arch=small", "width=4", "imsize=16", "epochs=1", "qsize=8", "batch_size=4", "nnum=2", "bits=8,16"]
COLOURS = [(200, 30, 30), (30, 200, 30), (30, 30, 200)]


def _img(rng, c: int) -> Image.Image:
    a = np.clip(np.array(COLOURS[c])[None, None] + rng.normal(0, 25, (16, 16, 3)), 0, 255).astype(np.uint8)
    return Image.fromarray(a)


@pytest.fixture()
def folders(tmp_path):
    """DIR/database/<class>/*.png (3 classes x 4) + DIR/query/<class>/*.png (3 x 1)."""
    rng = np.random.default_rng(0)
    root = tmp_path / "data"
    for sub, n in (("database", 4), ("query", 1)):
        for c in range(3):
            d = root / sub / f"class{c}"
            d.mkdir(parents=True)
            for i in range(n):
                _img(rng, c).save(d / f"{i}.png")
    return root


@pytest.fixture()
def revisited(tmp_path):
    """DIR/test/rtiny/gnd_rtiny.pkl + jpg/ in the revisited format (easy/hard/junk, bbx)."""
    rng = np.random.default_rng(1)
    d = tmp_path / "rev" / "test" / "rtiny"
    (d / "jpg").mkdir(parents=True)
    imlist = [f"db{i}" for i in range(9)]
    for i, n in enumerate(imlist):
        _img(rng, i % 3).save(d / "jpg" / f"{n}.jpg", format="JPEG")
    qimlist = [f"q{c}" for c in range(3)]
    for c, n in enumerate(qimlist):
        _img(rng, c).save(d / "jpg" / f"{n}.jpg", format="JPEG")
    gnd = [{"bbx": [0.0, 0.0, 14.0, 14.0], "easy": [c], "hard": [c + 3], "junk": [c + 6]} for c in range(3)]
    with open(d / "gnd_rtiny.pkl", "wb") as f:
        pickle.dump({"imlist": imlist, "qimlist": qimlist, "gnd": gnd}, f)
    return tmp_path / "rev"


def test_discover_class_folders(folders):
    (s,) = discover_full(folders)
    assert s.name == "folders" and len(s.queries) == 3 and len(s.database) == 12 and len(s.train) == 12
    assert s.relevant.sum(1).tolist() == [4, 4, 4] and not s.junk.any()
    assert s.relevant[0, :4].all() and not s.relevant[0, 4:].any()  # same class = relevant


def test_discover_revisited_medium_protocol(revisited):
    (s,) = discover_full(revisited)
    assert s.name == "rtiny" and s.gnd is not None and s.qbbx[0] == pytest.approx([0, 0, 14, 14])
    assert np.flatnonzero(s.relevant[1]).tolist() == [1, 4] and np.flatnonzero(s.junk[1]).tolist() == [7]


def test_full_preset_class_folders_end_to_end(folders, tmp_path):
    out = tmp_path / "run"
    run_recipe("hashing", "full", out, data_dir=folders, sets=TINY)
    m = json.loads((out / "metrics.json").read_text())
    assert 0 <= m["folders_map_bcdh_8"] <= 100 and 0 <= m["folders_map_itq_8"] <= 100
    assert 0 <= m["folders_p_r2_bcdh_16"] <= 100 and "folders_map_lsh_16" in m
    assert "folders_beats_itq_8" in {c["id"] for c in m["claims"]}
    assert (out / "folders_pr_curves.png").is_file() and (out / "model_folders.safetensors").is_file()
    assert "AUGMENTATION" in (out / "report.md").read_text()


def test_full_preset_revisited_end_to_end(revisited, tmp_path):
    out = tmp_path / "run"
    run_recipe("hashing", "full", out, data_dir=revisited, sets=TINY + ["bits=8"])
    m = json.loads((out / "metrics.json").read_text())
    assert 0 <= m["rtiny_map_bcdh_8"] <= 100 and 0 <= m["rtiny_phi_map_s8_medium"] <= 100



def test_full_needs_data_dir(tmp_path, capsys, one_line_error):
    err = one_line_error(["run", "hashing", "--preset", "full", "--out", str(tmp_path / "r")], capsys)
    assert "--data-dir" in err


def test_full_empty_data_dir(tmp_path, capsys, one_line_error):
    (tmp_path / "empty").mkdir()
    err = one_line_error(["run", "hashing", "--preset", "full", "--data-dir", str(tmp_path / "empty"),
                           "--out", str(tmp_path / "r")], capsys)
    assert "no evaluation data" in err


def test_full_empty_class_folder(tmp_path):
    (tmp_path / "d" / "database" / "a").mkdir(parents=True)
    (tmp_path / "d" / "query" / "a").mkdir(parents=True)
    with pytest.raises(DataError, match="no images"):
        discover_full(tmp_path / "d")


def test_full_missing_revisited_image(revisited):
    (revisited / "test" / "rtiny" / "jpg" / "db3.jpg").unlink()
    with pytest.raises(DataError, match="missing"):
        discover_full(revisited)
