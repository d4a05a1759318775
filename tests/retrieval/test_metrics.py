import numpy as np
import pytest

from paperzoo.retrieval.metrics import (
    compute_ap,
    compute_map,
    compute_map_revisited,
    rank_by_similarity,
    revisited_gnd,
    shift_junk,
)


def test_reference_ap_value():
    assert compute_ap([0, 2, 5], 3) == pytest.approx(0.677778, abs=1e-6)


def test_reference_map_values():
    ranks = np.array([[4, 2, 0, 1, 3], [0, 2, 4, 1, 3], [0, 1, 2, 3, 4]]).T  # (db, nq)
    gnd = [{"ok": [0, 1], "junk": [2]}, {"ok": [0, 4], "junk": []}, {"ok": [], "junk": []}]
    mAP, aps, pr, prs = compute_map(ranks, gnd, [1, 2, 5])
    assert mAP == pytest.approx(0.604167, abs=1e-6)
    assert aps[:2] == pytest.approx([0.416667, 0.791667], abs=1e-6)
    assert np.isnan(aps[2])
    assert pr == pytest.approx([0.5, 0.5, 0.666667], abs=1e-6)


def test_junk_shift_reference():
    assert shift_junk(np.array([0, 2, 6, 10, 20]), np.array([1, 8, 9, 30])).tolist() == [0, 1, 5, 7, 17]


def test_hand_case_junk_is_ignored():
    # one query; db 0..4 ranked 3, 1, 4, 0, 2; positives {1, 0}; junk {3, 4}
    ranks = np.array([[3, 1, 4, 0, 2]]).T
    mAP, aps, _, _ = compute_map(ranks, [{"ok": [1, 0], "junk": [3, 4]}])
    # after removing junk: 1 at rank 0, 0 at rank 1 -> perfect AP
    assert mAP == pytest.approx(1.0)
    # without junk: positives at ranks 1 and 3: ((0/1 + 1/2)/2 + (1/3 + 2/4)/2) / 2
    m2, _, _, _ = compute_map(ranks, [{"ok": [1, 0]}])
    assert m2 == pytest.approx(((0 + 0.5) / 2 + (1 / 3 + 0.5) / 2) / 2)


def test_revisited_setups():
    g = [{"easy": [0], "hard": [1], "junk": [2]}]
    e, m, h = (revisited_gnd(g, s)[0] for s in ("easy", "medium", "hard"))
    assert sorted(e["ok"]) == [0] and sorted(e["junk"]) == [1, 2]
    assert sorted(m["ok"]) == [0, 1] and sorted(m["junk"]) == [2]
    assert sorted(h["ok"]) == [1] and sorted(h["junk"]) == [0, 2]
    # ranking: hard 1, negative 3, easy 0, junk 2
    ranks = np.array([[1, 3, 0, 2]]).T
    r = compute_map_revisited(ranks, g)
    assert r["hard"] == pytest.approx(1.0)                                  # easy and junk ignored
    assert r["easy"] == pytest.approx((0 / 1 + 1 / 2) / 2)                  # hard ignored: 0 moves to rank 1
    assert r["medium"] == pytest.approx(((1 + 1) / 2 + (1 / 2 + 2 / 3) / 2) / 2)


def test_rank_by_similarity_descending():
    db = np.eye(3)
    q = np.array([[0.1, 0.9, 0.5]])
    assert rank_by_similarity(db, q)[:, 0].tolist() == [1, 2, 0]
