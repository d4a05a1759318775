"""Hamming-ranking evaluation with an explicit tie policy.

Hashing papers (e.g. Gong & Lazebnik, ITQ, CVPR 2011; the S7 paper, arXiv 1802.07437) rank the
database by Hamming distance to the query. At <= 32 bits many distances tie, and ``np.argsort``
(quicksort) orders ties arbitrarily -- DeepHash-pytorch's ``utils/tools.py`` does so and also divides
by queries with no relevant item. Here:

  * **tie policy**: a stable sort on (Hamming distance, database index) -- ties go to the lower
    database index, so results are deterministic and reproducible;
  * **mAP**: non-interpolated AP over the full ranking (mean of precision at each relevant item,
    1-based positions), ``junk`` items removed from the ranking first (as the Oxford protocol);
    queries without relevant items are left out of the mean;
  * **precision within Hamming radius r** (r = 2 by default): relevant / retrieved among items at
    distance <= r; a query that retrieves nothing scores 0 (the convention of Weiss et al. / Liu et al.);
  * **PR curve**: precision and recall per radius 0..L, averaged over queries (precision over the
    queries that retrieve something).

Codes are {-1, +1} (n, L) arrays, or packed uint8 (n, L/8) via `pack_codes`.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

__all__ = ["pack_codes", "unpack_codes", "hamming_distances", "hamming_rank", "average_precision", "hamming_map",
           "precision_within_radius", "pr_curve", "relevance_from_gnd"]


def pack_codes(b: np.ndarray) -> np.ndarray:
    """{-1, +1} (or {0, 1}) codes (n, L) -> packed uint8 (n, L/8), bit order as ``np.packbits`` (FAISS layout)."""
    return np.packbits(np.asarray(b) > 0, axis=1)


def unpack_codes(packed: np.ndarray, bits: int) -> np.ndarray:
    """Packed uint8 codes -> {-1, +1} int8 (n, bits)."""
    return (np.unpackbits(np.asarray(packed, dtype=np.uint8), axis=1)[:, :bits].astype(np.int8) * 2 - 1)


def hamming_distances(q: np.ndarray, db: np.ndarray) -> np.ndarray:
    """(n_q, n_db) int32 Hamming distances between {-1, +1} codes: d = (L - q . db) / 2."""
    q = np.asarray(q, dtype=np.int32)
    db = np.asarray(db, dtype=np.int32)
    return ((q.shape[1] - q @ db.T) // 2).astype(np.int32)


def hamming_rank(dist: np.ndarray) -> np.ndarray:
    """(n_q, n_db) database indices by ascending distance; ties by ascending index (stable sort)."""
    return np.argsort(dist, axis=1, kind="stable")


def average_precision(rel_sorted: np.ndarray) -> float:
    """Non-interpolated AP of a 0/1 relevance vector in ranked order (NaN without relevant items)."""
    rel_sorted = np.asarray(rel_sorted, dtype=bool)
    n = int(rel_sorted.sum())
    if n == 0:
        return float("nan")
    pos = np.flatnonzero(rel_sorted) + 1  # 1-based positions of the hits
    return float(np.mean(np.arange(1, n + 1) / pos))


def relevance_from_gnd(gnd: Sequence[dict], n_db: int, ok_keys: Sequence[str] = ("easy", "hard"),
                       junk_keys: Sequence[str] = ("junk",)) -> tuple[np.ndarray, np.ndarray]:
    """(relevant, junk) boolean (n_q, n_db) matrices from per-query index lists (S8's `retrieval_gnd`)."""
    rel = np.zeros((len(gnd), n_db), bool)
    junk = np.zeros((len(gnd), n_db), bool)
    for i, g in enumerate(gnd):
        for k in ok_keys:
            rel[i, np.asarray(g.get(k, []), dtype=np.int64)] = True
        for k in junk_keys:
            junk[i, np.asarray(g.get(k, []), dtype=np.int64)] = True
    return rel, junk


def hamming_map(q: np.ndarray, db: np.ndarray, relevant: np.ndarray, junk: np.ndarray | None = None) -> tuple[float, np.ndarray]:
    """(mAP, per-query AP) of Hamming ranking (stable tie policy; junk removed; empty queries skipped)."""
    ranks = hamming_rank(hamming_distances(q, db))
    aps = np.empty(len(ranks))
    for i, r in enumerate(ranks):
        keep = r if junk is None else r[~junk[i, r]]
        aps[i] = average_precision(relevant[i, keep])
    valid = ~np.isnan(aps)
    return (float(aps[valid].mean()) if valid.any() else float("nan")), aps


def precision_within_radius(q: np.ndarray, db: np.ndarray, relevant: np.ndarray, junk: np.ndarray | None = None,
                            radius: int = 2) -> float:
    """Mean over queries of relevant / retrieved within Hamming distance <= radius (0 if nothing retrieved)."""
    d = hamming_distances(q, db)
    hit = d <= radius
    if junk is not None:
        hit &= ~junk
    n = hit.sum(1)
    p = np.where(n > 0, (hit & relevant).sum(1) / np.maximum(n, 1), 0.0)
    return float(p.mean())


def pr_curve(q: np.ndarray, db: np.ndarray, relevant: np.ndarray, junk: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(precision, recall) arrays of length L + 1: retrieving everything within radius r = 0..L."""
    d = hamming_distances(q, db)
    L = np.asarray(q).shape[1]
    valid = np.ones_like(d, bool) if junk is None else ~junk
    has = relevant.sum(1) > 0
    prec, rec = np.zeros(L + 1), np.zeros(L + 1)
    for r in range(L + 1):
        hit = (d <= r) & valid
        n = hit.sum(1)
        tp = (hit & relevant).sum(1)
        ok = (n > 0) & has
        prec[r] = float((tp[ok] / n[ok]).mean()) if ok.any() else 1.0
        rec[r] = float((tp[has] / relevant[has].sum(1)).mean()) if has.any() else 0.0
    return prec, rec
