"""Hard-negative mining for training tuples (q, p, n_1..n_N), re-done every epoch.

Radenović, Tolias, Chum, "Fine-tuning CNN Image Retrieval with No Human Annotation", TPAMI 2019,
arXiv 1711.02512, Sec. 3.2 ("hard negatives"), as cirtorch ``datasets/traindataset.py``
(``TuplesDataset.create_epoch_tuples``; https://github.com/filipradenovic/cnnimageretrieval-pytorch)
and MatConvNet ``hard_neg_remine.m``:
  1. draw a random pool of images; 2. describe the queries and the pool with the current network;
  3. rank the pool by descriptor similarity to each query; 4. walk the ranking nearest first and
  keep an image only if its cluster (3D model) differs from the query's and from the clusters
  already kept -- at most one negative per 3D model -- until N negatives.
`random_negatives` is the ablation: a random order instead of the similarity ranking (same rules).

Deviation (speed only, same result): scores are ranked with ``torch.topk`` over a candidate window
of ``window * N`` nearest images, widened to the full sort only for queries whose window runs out.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["mine_hard_negatives", "random_negatives", "walk_ranking"]


def walk_ranking(order: np.ndarray, query_cluster: int, pool_clusters: np.ndarray, nnum: int) -> list[int]:
    """Pool positions from ``order`` (nearest first): not the query's cluster, one per cluster, <= nnum."""
    out: list[int] = []
    used = {int(query_cluster)}
    for j in order:
        c = int(pool_clusters[j])
        if c in used:
            continue
        used.add(c)
        out.append(int(j))
        if len(out) == nnum:
            break
    return out


def mine_hard_negatives(qvecs: torch.Tensor | np.ndarray, poolvecs: torch.Tensor | np.ndarray,
                        q_clusters: np.ndarray, pool_clusters: np.ndarray, nnum: int = 5,
                        window: int = 8) -> np.ndarray:
    """Hardest negatives: (n_q, nnum) positions into the pool (-1 where fewer than nnum clusters exist).

    qvecs (n_q, D) and poolvecs (n_pool, D) are L2-normalised descriptors (rows).
    """
    q = torch.as_tensor(np.asarray(qvecs) if not isinstance(qvecs, torch.Tensor) else qvecs).float()
    pvec = torch.as_tensor(np.asarray(poolvecs) if not isinstance(poolvecs, torch.Tensor) else poolvecs).float()
    pool_clusters = np.asarray(pool_clusters)
    q_clusters = np.asarray(q_clusters)
    K = min(len(pvec), max(nnum * window, nnum + 1))
    out = np.full((len(q), nnum), -1, dtype=np.int64)
    with torch.no_grad():
        for s in range(0, len(q), 4096):  # blocks keep the score matrix small
            scores = q[s:s + 4096] @ pvec.T  # (b, n_pool)
            top = scores.topk(K, dim=1).indices.numpy()
            for r in range(top.shape[0]):
                i = s + r
                neg = walk_ranking(top[r], q_clusters[i], pool_clusters, nnum)
                if len(neg) < nnum and K < len(pvec):  # window exhausted: walk the full ranking
                    full = torch.argsort(scores[r], descending=True).numpy()
                    neg = walk_ranking(full, q_clusters[i], pool_clusters, nnum)
                out[i, :len(neg)] = neg
    return out


def random_negatives(n_queries: int, q_clusters: np.ndarray, pool_clusters: np.ndarray, nnum: int = 5,
                     rng: np.random.Generator | None = None) -> np.ndarray:
    """Random negatives under the same rules (other cluster, one per cluster): the ablation of Sec. 3.2."""
    rng = rng or np.random.default_rng()
    out = np.full((n_queries, nnum), -1, dtype=np.int64)
    for i in range(n_queries):
        neg = walk_ranking(rng.permutation(len(pool_clusters)), q_clusters[i], pool_clusters, nnum)
        out[i, :len(neg)] = neg
    return out
