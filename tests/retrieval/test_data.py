import pickle

import numpy as np
import pytest

from paperzoo.errors import DataError
from paperzoo.retrieval.data import (
    covisibility,
    distractors,
    generate_landmarks,
    list_images,
    load_gnd,
    load_image,
    load_sfm120k,
    load_sfm120k_whiten,
    positive_pairs,
    retrieval_gnd,
    sfm120k_path,
)


@pytest.fixture(scope="module")
def lm():
    return generate_landmarks(3, 5, size=16, seed=1)


def test_generated_landmarks_shapes_and_points(lm):
    assert lm.images.shape == (15, 3, 16, 16) and lm.images.dtype == np.float32
    assert 0 <= lm.images.min() and lm.images.max() <= 1
    assert lm.landmark.tolist() == [0] * 5 + [1] * 5 + [2] * 5
    for i, pts in enumerate(lm.points):
        assert len(pts) >= 8 and np.all(pts // 100_000 == lm.landmark[i])  # points belong to the view's landmark


def test_generation_is_deterministic_and_landmark_local():
    a = generate_landmarks(2, 2, size=16, seed=3)
    b = generate_landmarks(1, 2, size=16, seed=3, first_landmark=1)
    assert np.array_equal(a.images[2:], b.images)


def test_covisibility_and_positive_pairs(lm):
    assert covisibility(np.array([1, 2, 3, 4]), np.array([3, 4, 5])) == 0.5
    q, p = positive_pairs(lm, t_i=0.2, t_s=10.0)
    assert len(q) > 0
    for a, b in zip(q, p):
        assert a != b and lm.landmark[a] == lm.landmark[b]
        assert covisibility(lm.points[a], lm.points[b]) >= 0.2


def test_gnd_from_shared_points():
    qp = [np.array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])]
    dbp = [np.arange(1, 11), np.array([1, 2, 50]), np.array([100]), np.array([1])]
    g = retrieval_gnd(qp, np.array([0]), np.array([1.0]), dbp, np.array([0, 0, 0, 1]), np.ones(4))[0]
    assert g["easy"].tolist() == [0] and g["hard"].tolist() == [1] and g["junk"].tolist() == [2]


def test_distractors_from_skimage():
    d = distractors(4, size=16, seed=0)
    assert d.shape == (4, 3, 16, 16) and d.std() > 0


def _dump(path, obj):
    with open(path, "wb") as f:
        pickle.dump(obj, f)


def test_load_revisited_gnd(tmp_path):
    cfg = {"imlist": ["a", "b", "c"], "qimlist": ["q1"],
           "gnd": [{"bbx": [1.0, 2.0, 30.0, 40.0], "easy": np.array([0]), "hard": [2], "junk": []}]}
    _dump(tmp_path / "gnd_roxford5k.pkl", cfg)
    g = load_gnd(tmp_path / "gnd_roxford5k.pkl")
    assert g["imlist"] == ["a", "b", "c"] and g["gnd"][0]["easy"].tolist() == [0]
    assert g["gnd"][0]["bbx"].tolist() == [1, 2, 30, 40]


def test_old_oxford_gnd(tmp_path):
    _dump(tmp_path / "gnd_oxford5k.pkl", {"imlist": ["a"], "qimlist": ["a"], "gnd": [{"ok": [0], "junk": []}]})
    assert load_gnd(tmp_path / "gnd_oxford5k.pkl")["gnd"][0]["ok"].tolist() == [0]


class Evil:
    def __reduce__(self):
        return (print, ("pwned",))


def test_restricted_unpickler_refuses_objects(tmp_path):
    _dump(tmp_path / "bad.pkl", {"imlist": [], "qimlist": [], "gnd": [Evil()]})
    with pytest.raises(DataError, match="refusing"):
        load_gnd(tmp_path / "bad.pkl")


def test_sfm120k_tuples(tmp_path):
    db = {"train": {"cids": ["0123456789abcdef", "fedcba9876543210"], "cluster": [0, 1], "qidxs": [0], "pidxs": [1]},
          "val": {"cids": [], "cluster": [], "qidxs": [], "pidxs": []}}
    _dump(tmp_path / "retrieval-SfM-120k.pkl", db)
    d = load_sfm120k(tmp_path / "retrieval-SfM-120k.pkl", "train")
    assert d["cluster"].tolist() == [0, 1] and d["pidxs"].tolist() == [1]
    assert sfm120k_path("ims", "0123456789abcdef").as_posix() == "ims/ef/cd/ab/0123456789abcdef"
    _dump(tmp_path / "w.pkl", {"cids": ["x"], "qidxs": [0], "pidxs": [0]})
    assert load_sfm120k_whiten(tmp_path / "w.pkl")["cids"] == ["x"]
    db["train"]["pidxs"] = [5]
    _dump(tmp_path / "broken.pkl", db)
    with pytest.raises(DataError, match="past"):
        load_sfm120k(tmp_path / "broken.pkl")


def test_image_folder_and_load_image(tmp_path):
    from PIL import Image
    (tmp_path / "sub").mkdir()
    Image.fromarray(np.zeros((40, 80, 3), np.uint8)).save(tmp_path / "sub" / "a.png")
    (tmp_path / "notes.txt").write_text("x")
    files = list_images(tmp_path)
    assert [f.name for f in files] == ["a.png"]
    x = load_image(files[0], imsize=20)
    assert x.shape == (3, 10, 20)
    assert load_image(files[0], imsize=200).shape == (3, 40, 80)  # never upscaled
    assert load_image(files[0], bbx=[0, 0, 10, 20]).shape == (3, 20, 10)
    with pytest.raises(DataError):
        list_images(tmp_path / "missing")
    with pytest.raises(DataError):
        load_image(tmp_path / "notes.txt")
