"""Random walks on a network, vectorised over all walkers (CNC step 1).

Xin, Zhang, Shao, "Complex network classification with convolutional neural network",
arXiv 1802.00539 (2018); Tsinghua Science and Technology 25(4), 2020. Official code:
https://github.com/AXinx/cnc_2017 (``network_dw.py``, ``randomWalk(g, 10000)``).

The official walk: 10,000 walks per graph, each starts at a uniformly chosen node and takes 10
uniform steps; the 10 visited nodes form a "sentence" (the start node is not recorded). We keep
that, but move every walker at once: one step is three numpy gathers on the graph's CSR arrays
(``indptr``, ``indices``), so 10,000 walks of length 10 take about a millisecond.

Weighted walks (the trade-network experiment): the next node is drawn with probability
proportional to the edge weight, by one ``searchsorted`` on the global cumulative weight array.

Deviation: walkers start only at nodes with at least one out-edge (the official code would crash
on an isolated start node); isolated nodes therefore never enter the embedding or the image. On
a directed graph a walker that reaches a node without out-edges stops there (its sentence is
shorter; the official weighted walk also stops on revisiting a node, which we do not).
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx
import numpy as np

from ..errors import DataError

__all__ = ["CSRGraph", "to_csr", "uniform_walks", "weighted_walks", "random_walks", "walks_to_sentences"]


@dataclass
class CSRGraph:
    """A graph as CSR arrays over nodes ``0..n-1``; ``nodes[i]`` is the original label of node i."""

    indptr: np.ndarray   # (n+1,) int64
    indices: np.ndarray  # (nnz,) int64, neighbours (out-neighbours when directed)
    weights: np.ndarray | None  # (nnz,) float64 positive, or None for an unweighted graph
    nodes: list
    directed: bool = False

    @property
    def n(self) -> int:
        return len(self.indptr) - 1

    @property
    def degree(self) -> np.ndarray:
        return np.diff(self.indptr)


def to_csr(g: nx.Graph, weight: str | None = None) -> CSRGraph:
    """CSR arrays of ``g``. ``weight``: edge attribute used as walk weight (None: unweighted).

    Self-loops are kept (a walker may stay). Non-positive or non-finite weights are a `DataError`.
    """
    nodes = list(g.nodes())
    if not nodes:
        raise DataError("the graph has no nodes; a CNC image needs a graph with at least one edge")
    A = nx.to_scipy_sparse_array(g, nodelist=nodes, weight=weight, format="csr", dtype=np.float64)
    A.sort_indices()
    w = None
    if weight is not None:
        w = np.asarray(A.data, dtype=np.float64)
        if not np.all(np.isfinite(w)) or np.any(w <= 0):
            raise DataError(f"edge attribute {weight!r} must be positive and finite for a weighted walk; "
                            "drop zero/negative edges or walk unweighted")
    return CSRGraph(np.asarray(A.indptr, np.int64), np.asarray(A.indices, np.int64), w, nodes, g.is_directed())


def _starts(csr: CSRGraph, n_walks: int, rng: np.random.Generator) -> np.ndarray:
    ok = np.flatnonzero(csr.degree > 0)
    if ok.size == 0:
        raise DataError("the graph has no edges; a CNC image needs a graph with at least one edge")
    return ok[rng.integers(0, ok.size, n_walks)]


def uniform_walks(csr: CSRGraph, n_walks: int = 10000, length: int = 10,
                  rng: np.random.Generator | int | None = None) -> np.ndarray:
    """``(n_walks, length)`` int64 array of visited nodes (start not recorded); -1 after a dead end.

    Each step picks a uniformly random out-neighbour: ``next = indices[indptr[cur] + floor(u * deg[cur])]``.
    Defaults to the official 10,000 walks of 10 steps.
    """
    rng = np.random.default_rng(rng)
    deg = csr.degree
    cur = _starts(csr, n_walks, rng)
    out = np.full((n_walks, length), -1, dtype=np.int64)
    alive = np.ones(n_walks, dtype=bool)
    for s in range(length):
        d = deg[cur]
        alive &= d > 0
        off = np.minimum((rng.random(n_walks) * d).astype(np.int64), np.maximum(d - 1, 0))
        nxt = csr.indices[np.minimum(csr.indptr[cur] + off, len(csr.indices) - 1)]
        cur = np.where(alive, nxt, cur)
        out[:, s] = np.where(alive, cur, -1)
    return out


def weighted_walks(csr: CSRGraph, n_walks: int = 10000, length: int = 10,
                   rng: np.random.Generator | int | None = None) -> np.ndarray:
    """Like `uniform_walks`, with ``P(next = j | cur = i) = w_ij / sum_k w_ik`` (trade-network walk)."""
    if csr.weights is None:
        return uniform_walks(csr, n_walks, length, rng)
    rng = np.random.default_rng(rng)
    deg = csr.degree
    cw = np.concatenate([[0.0], np.cumsum(csr.weights)])  # cw[k] = sum of weights before edge k
    cur = _starts(csr, n_walks, rng)
    out = np.full((n_walks, length), -1, dtype=np.int64)
    alive = np.ones(n_walks, dtype=bool)
    last = len(csr.indices) - 1
    for s in range(length):
        alive &= deg[cur] > 0
        lo, hi = csr.indptr[cur], csr.indptr[cur + 1]
        target = cw[lo] + rng.random(n_walks) * (cw[hi] - cw[lo])
        k = np.searchsorted(cw, target, side="right") - 1
        k = np.clip(k, lo, np.maximum(hi - 1, lo))  # guard float round-off at row ends
        nxt = csr.indices[np.minimum(k, last)]
        cur = np.where(alive, nxt, cur)
        out[:, s] = np.where(alive, cur, -1)
    return out


def random_walks(csr: CSRGraph, n_walks: int = 10000, length: int = 10,
                 rng: np.random.Generator | int | None = None, weighted: bool = True) -> np.ndarray:
    """Weighted walks when the graph carries weights and ``weighted``, else uniform walks."""
    if weighted and csr.weights is not None:
        return weighted_walks(csr, n_walks, length, rng)
    return uniform_walks(csr, n_walks, length, rng)


def walks_to_sentences(walks: np.ndarray) -> list[list[str]]:
    """Walks as Word2Vec sentences of node-index strings (``-1`` padding dropped)."""
    vocab = [str(i) for i in range(int(walks.max()) + 1)] if walks.size else []
    if walks.size and walks.min() >= 0:
        return [[vocab[j] for j in row] for row in walks.tolist()]
    return [[vocab[j] for j in row if j >= 0] for row in walks.tolist() if row[0] >= 0]
