"""A fast, optional CNC embedder: the walks' (shifted) positive PMI matrix, factorised by SVD.

CNC (Xin, Zhang, Shao, "Complex network classification with convolutional neural network",
arXiv 1802.00539, 2018, Sec. 3; https://github.com/AXinx/cnc_2017) embeds the random walks with
gensim's Word2Vec (CBOW, dim 20, window 5, 5 negatives, 5 epochs), ~95 % of the pipeline's time
(~1 microsecond of CPU per word and epoch). Word2Vec with negative sampling implicitly factorises
the shifted pointwise mutual information of word-context pairs, ``PMI(w, c) - log k``
(Levy & Goldberg, "Neural Word Embedding as Implicit Matrix Factorization", NeurIPS 2014); on
random walks this is DeepWalk's matrix (Qiu et al., "Network Embedding as Matrix Factorization:
Unifying DeepWalk, LINE, PTE, and node2vec", WSDM 2018, arXiv 1710.02971). Here that matrix is
built from the same walks and factorised directly:

  * co-occurrence counts within ``window`` steps inside each walk, a pair at distance ``d``
    weighted ``(window - d + 1) / window`` (word2vec's random window shrink in expectation),
    counted both ways;
  * ``max(0, log(#(w,c) D / (#w #c^0.75)) - log negative)``, the context counts smoothed with
    exponent 0.75 as the negative-sampling distribution (Levy, Goldberg, Dagan, "Improving
    Distributional Similarity with Lessons Learned from Word Embeddings", TACL 2015);
  * the top ``dim`` singular vectors scaled by the singular values to the power ``eig_power``
    (``U S^p``, Levy et al. 2015), by ARPACK (``scipy svds``).

Defaults ``negative=1`` (no shift: PPMI) and ``eig_power=0.25`` were chosen among 11 variants
(shift 1/2/5, p 0/0.25/0.5/1, row normalisation) by a cheap proxy, logistic regression on the
image pixels of 60 BA/WS and 60 WS-p graphs (generator seeds 5 and 7, not the recipe's); the
SPPMI of Word2Vec's own setting (shift log 5, p 0.5) gave much poorer images.

Deviation: this is not Word2Vec: no SGD, no epochs or learning rate, no frequent-word
down-sampling, and it is the skip-gram objective's matrix rather than CBOW's. It is an option
(``CNCImageConfig(embedder="sppmi")``) and NOT a substitute: on the recipe's quick tasks (3 seeds)
its CNC accuracy was lower than gensim's (docs/netclass.md, Benchmark). gensim stays the default.
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError, DataError

__all__ = ["sppmi_embed", "cooccurrence"]


def cooccurrence(sent: np.ndarray, k: int, window: int) -> np.ndarray:
    """``(k, k)`` symmetric weighted co-occurrence counts of the walks ``sent`` (ids ``0..k-1``,
    ``-1`` = padding); a pair ``d`` steps apart counts ``(window - d + 1) / window``."""
    C = np.zeros(k * k)
    for d in range(1, min(window, sent.shape[1] - 1) + 1):
        a, b = sent[:, :-d], sent[:, d:]
        ok = (a >= 0) & (b >= 0)
        C += np.bincount(a[ok] * k + b[ok], minlength=k * k) * ((window - d + 1) / window)
    C = C.reshape(k, k)
    return C + C.T


def sppmi_embed(walks: np.ndarray, n_nodes: int, dim: int = 20, window: int = 5, negative: float = 1.0,
                eig_power: float = 0.25, ns_exponent: float = 0.75, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Embedding of the walks (``(n_walks, length)`` node ids, ``-1`` padding) as ``U_dim sqrt(S_dim)``
    of their SPPMI matrix. Returns (node ids that occur, their ``(k, dim)`` float64 vectors), as
    `image.embed_walks`; columns past the matrix's rank are zero."""
    if dim < 1 or window < 1 or not negative >= 1:
        raise ConfigError(f"sppmi needs dim, window and negative >= 1, got {dim}, {window}, {negative}")
    W = np.asarray(walks, dtype=np.int64)
    valid = W >= 0
    counts = np.bincount(W[valid], minlength=n_nodes)
    ids = np.flatnonzero(counts)
    if ids.size == 0:
        raise DataError("no walks to embed; a CNC image needs a graph with at least one edge")
    k = ids.size
    remap = np.full(n_nodes, -1, dtype=np.int64)
    remap[ids] = np.arange(k)
    C = cooccurrence(np.where(valid, remap[np.where(valid, W, 0)], -1), k, window)
    X = np.zeros((k, dim))
    tot = C.sum()
    if tot <= 0:  # walks of one node each: no pairs, every node at the origin
        return ids, X
    pw = C.sum(1) / tot
    pc = C.sum(0) ** ns_exponent
    pc /= pc.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        M = np.log(C / tot) - np.log(np.outer(pw, pc)) - np.log(negative)
    M = np.where(np.isfinite(M), np.maximum(M, 0.0), 0.0)
    if not M.any():  # no pair above the shift log(negative) (tiny or dense graphs): all at the origin
        return ids, X
    r = min(dim, k - 1)
    if k > 4 * dim:
        from scipy.sparse.linalg import svds

        U, s, _ = svds(M, k=r, v0=np.random.default_rng(seed).random(k))
        order = np.argsort(-s)
        U, s = U[:, order], s[order]
    else:
        U, s, _ = np.linalg.svd(M)
    r = min(r, s.size) if k > 1 else 0
    X[:, :r] = U[:, :r] * s[:r] ** eig_power
    return ids, X
