import numpy as np
import pytest

from paperzoo.hashing.metrics import (
    average_precision,
    hamming_distances,
    hamming_map,
    hamming_rank,
    pack_codes,
    pr_curve,
    precision_within_radius,
    unpack_codes,
)


def test_hamming_distances_and_packing():
    q = np.array([[1, 1, -1, -1, 1, 1, 1, 1]])
    db = np.array([[1, 1, -1, -1, 1, 1, 1, 1], [-1, 1, -1, -1, 1, 1, 1, -1], [-1] * 8])
    assert hamming_distances(q, db).tolist() == [[0, 2, 6]]
    assert (unpack_codes(pack_codes(db), 8) == db).all()


def test_ties_are_broken_by_database_index_deterministically():
    # every database item ties at distance 0: the order must be 0, 1, 2, 3 every time
    q = np.ones((1, 8), int)
    db = np.ones((4, 8), int)
    assert hamming_rank(hamming_distances(q, db)).tolist() == [[0, 1, 2, 3]]
    rel = np.array([[False, False, True, True]])
    m1, _ = hamming_map(q, db, rel)
    m2, _ = hamming_map(q, db, rel)
    # hits at positions 3 and 4: AP = (1/3 + 2/4) / 2
    assert m1 == m2 == pytest.approx((1 / 3 + 2 / 4) / 2)


def test_average_precision_and_junk_and_empty_queries():
    assert average_precision([1, 0, 1]) == pytest.approx((1 + 2 / 3) / 2)
    q = np.array([[1] * 8, [-1] * 8])
    db = np.array([[1] * 8, [1] * 7 + [-1], [-1] * 8])
    rel = np.array([[False, True, False], [False, False, False]])  # second query: nothing relevant -> skipped
    junk = np.array([[True, False, False], [False, False, False]])
    m, aps = hamming_map(q, db, rel, junk)
    assert m == pytest.approx(1.0) and np.isnan(aps[1])  # junk item 0 removed -> relevant item first


def test_precision_within_radius_and_pr_curve():
    q = np.array([[1] * 8])
    db = np.array([[1] * 8, [1] * 6 + [-1, -1], [-1] * 8])
    rel = np.array([[True, False, True]])
    assert precision_within_radius(q, db, rel, radius=2) == pytest.approx(0.5)
    assert precision_within_radius(-q, db[:2], rel[:, :2], radius=2) == 0.0  # nothing retrieved -> 0
    prec, rec = pr_curve(q, db, rel)
    assert len(prec) == 9 and rec[-1] == pytest.approx(1.0) and rec[0] == pytest.approx(0.5)
