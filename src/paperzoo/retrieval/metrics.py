"""Retrieval evaluation: Oxford/Paris mAP with junk images and the revisited Easy/Medium/Hard protocol.

Radenović, Tolias, Chum, "Fine-tuning CNN Image Retrieval with No Human Annotation", TPAMI 2019,
arXiv 1711.02512 (Sec. 5, Oxford5k/Paris6k protocol), and Radenović, Iscen, Tolias, Avrithis, Chum,
"Revisiting Oxford and Paris: Large-Scale Image Retrieval Benchmarking", CVPR 2018, arXiv 1803.11285
(revisited protocol). Computed exactly as cirtorch ``utils/evaluate.py`` / revisitop ``evaluate.py``
(https://github.com/filipradenovic/cnnimageretrieval-pytorch, https://github.com/filipradenovic/revisitop):

  * AP is the trapezoid rule of the Oxford code: for the j-th positive (0-based) at 0-based rank
    r, ap += (j / r + (j + 1) / (r + 1)) / 2 / nres, with precision 1 at r = 0;
  * junk images are ignored by shifting each positive's rank down by the number of junk images
    ranked before it; queries without positives give NaN and are left out of the mean;
  * mP@k uses kq = min(max(pos), k) (1-based positions);
  * revisited setups: Easy: ok = easy, junk = junk + hard; Medium: ok = easy + hard,
    junk = junk; Hard: ok = hard, junk = junk + easy.

`ranks` is (n_db, n_queries), column i the database indices sorted by descending similarity to
query i (the reference's layout). Deviation: ``np.in1d`` (gone from NumPy 2.4) is ``np.isin``.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

__all__ = ["compute_ap", "shift_junk", "compute_map", "revisited_gnd", "compute_map_revisited", "rank_by_similarity",
           "SETUPS"]

SETUPS = ("easy", "medium", "hard")


def compute_ap(ranks: Sequence[int], nres: int) -> float:
    """Trapezoid AP of positives at sorted 0-based ``ranks`` (junk removed) with ``nres`` positives in all."""
    ap = 0.0
    recall_step = 1.0 / nres
    for j, rank in enumerate(ranks):
        precision_0 = 1.0 if rank == 0 else float(j) / rank
        precision_1 = float(j + 1) / (rank + 1)
        ap += (precision_0 + precision_1) * recall_step / 2.0
    return ap


def shift_junk(pos: np.ndarray, junk: np.ndarray) -> np.ndarray:
    """Sorted positive positions minus the number of (sorted) junk positions before each."""
    pos = np.asarray(pos, dtype=np.int64)
    if len(junk) == 0:
        return pos.copy()
    return pos - np.searchsorted(np.sort(np.asarray(junk)), pos, side="left")


def compute_map(ranks: np.ndarray, gnd: Sequence[dict], kappas: Sequence[int] = ()) -> tuple[float, np.ndarray,
                                                                                           np.ndarray, np.ndarray]:
    """mAP, per-query APs (NaN without positives), mean mP@kappas, per-query mP@kappas (cirtorch ``compute_map``).

    gnd[i] holds ``ok`` (positive database indices) and optionally ``junk``.
    """
    ranks = np.asarray(ranks)
    nq = len(gnd)
    aps = np.zeros(nq)
    pr = np.zeros(len(kappas))
    prs = np.zeros((nq, len(kappas)))
    nempty = 0
    total = 0.0
    for i in range(nq):
        qgnd = np.asarray(gnd[i]["ok"], dtype=np.int64)
        if qgnd.shape[0] == 0:
            aps[i] = float("nan")
            prs[i, :] = float("nan")
            nempty += 1
            continue
        qgndj = np.asarray(gnd[i].get("junk", []), dtype=np.int64)
        pos = np.arange(ranks.shape[0])[np.isin(ranks[:, i], qgnd)]
        junk = np.arange(ranks.shape[0])[np.isin(ranks[:, i], qgndj)]
        pos = shift_junk(pos, junk)
        ap = compute_ap(pos, len(qgnd))
        total += ap
        aps[i] = ap
        pos = pos + 1  # 1-based
        for j, k in enumerate(kappas):
            kq = min(max(pos), k)
            prs[i, j] = (pos <= kq).sum() / kq
        pr = pr + prs[i, :]
    denom = max(nq - nempty, 1)
    return (total / denom if nq > nempty else float("nan")), aps, pr / denom, prs


def revisited_gnd(gnd: Sequence[dict], setup: str) -> list[dict]:
    """The ok/junk lists of one revisited setup from per-query ``easy``/``hard``/``junk`` lists."""
    out = []
    for g in gnd:
        e, h, j = (np.asarray(g.get(k, []), dtype=np.int64) for k in ("easy", "hard", "junk"))
        if setup == "easy":
            out.append({"ok": e, "junk": np.concatenate([j, h])})
        elif setup == "medium":
            out.append({"ok": np.concatenate([e, h]), "junk": j})
        elif setup == "hard":
            out.append({"ok": h, "junk": np.concatenate([j, e])})
        else:
            raise ValueError(f"setup must be one of {SETUPS}, got {setup!r}")
    return out


def compute_map_revisited(ranks: np.ndarray, gnd: Sequence[dict], kappas: Sequence[int] = (1, 5, 10)) -> dict:
    """Revisited protocol: {'easy': mAP, 'medium': ..., 'hard': ..., 'mp_<setup>': [mP@k], 'aps_<setup>': per-query}."""
    res: dict = {}
    for s in SETUPS:
        mAP, aps, mpr, _ = compute_map(ranks, revisited_gnd(gnd, s), kappas)
        res[s], res[f"aps_{s}"], res[f"mp_{s}"] = mAP, aps, mpr
    return res


def rank_by_similarity(db: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Ranks (n_db, n_q) by descending inner product of row descriptors db (n_db, D) and queries (n_q, D)."""
    scores = np.asarray(db) @ np.asarray(queries).T  # (n_db, n_q)
    return np.argsort(-scores, axis=0, kind="stable")
