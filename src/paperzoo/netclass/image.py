"""A network as an image: walks -> Word2Vec -> PCA to 2-D -> node-density histogram (CNC, Sec. 3).

Xin, Zhang, Shao, "Complex network classification with convolutional neural network",
arXiv 1802.00539 (2018). Official code https://github.com/AXinx/cnc_2017:
``word_2_vec(corp, 20)`` = ``gensim.models.Word2Vec(walks, min_count=1, size=20)`` with gensim 3
defaults (CBOW, window 5, negative sampling 5, 5 epochs); ``PCA(n_components=2)``;
``img_max(lowdim, 48)`` = a 48x48 grid over each axis' [min, max], one count per node.

Deviations (each an option here):
  * the official rasteriser has off-by-one quirks (strict ``>``, last bin filled only at the
    maximum); we use equal bins over [min, max] with the maximum in the last bin, y up.
  * the official image holds raw counts (which grow with N); ``normalise="uniform"`` (default
    here) divides by the node count and multiplies by size^2, so the image's mean is 1 whatever
    the graph's size; ``"density"`` makes it sum to 1; ``"none"`` keeps raw counts (official).
  * ``walks_per_node`` (> 0): the number of walks is ``walks_per_node`` x (nodes with an edge)
    instead of a fixed ``n_walks``. The official code's 10,000 walks at N = 1,000 are 10 walks
    (100 recorded visits) per node; with a fixed count a smaller graph gets more visits per node
    and a larger one fewer, and Word2Vec (5 epochs) is then under-trained on the larger graphs,
    whose images look like noise (measured: with 1,000 walks at N = 300, ~33 visits per node, BA
    and WS images are hard to tell apart; with 10 walks per node they separate). Off (0) by
    default (official fixed count).
  * ``canonical_sign``: PCA's sign is arbitrary, so the same graph can give mirrored images; when
    on, each component is flipped to have positive skewness. Off by default (official).
  * ``channels > 1`` (optional multi-channel variant, not in the paper): channel c is the
    density over principal components (2c+1, 2c+2).
  * ``extent="fixed"`` (a variant, not in the paper; default ``"minmax"`` = official): the grid
    spans the fixed window [-fixed_extent, fixed_extent] of the (centred) PCA coordinates for every
    graph, points outside fall in the edge bins. The official per-image stretch to [min, max]
    discards the embedding's absolute scale and depends on the graph's extreme nodes, whose
    spread grows with N (measured on the 4-class task: range/sd 6 at N=300, 8-10 at N=900).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import networkx as nx
import numpy as np

from ..errors import ConfigError, DataError
from .walks import random_walks, to_csr, walks_to_sentences

__all__ = ["CNCImageConfig", "n_walks_for", "embed_walks", "project_2d", "density_histogram", "cnc_image",
           "cnc_images"]


@dataclass
class CNCImageConfig:
    """How a graph becomes an image. Defaults = the official code (walks, Word2Vec, PCA, 48x48).

    Args:
        n_walks: walks per graph. Defaults to 10000 (official ``randomWalk(g, 10000)``).
        walks_per_node: when > 0, walks per graph = walks_per_node x (nodes with an edge), replacing
            n_walks (10 = the official ratio at N = 1000). Defaults to 0 (fixed n_walks, official).
        walk_length: nodes recorded per walk. Defaults to 10.
        dim: Word2Vec dimension. Defaults to 20 (official ``word_2_vec(corp, 20)``).
        sg: 0 = CBOW (official, gensim default), 1 = skip-gram (DeepWalk). Defaults to 0.
        window, negative, epochs: Word2Vec settings. Defaults to 5, 5, 5 (gensim 3 defaults).
        alpha: Word2Vec's initial learning rate (decays linearly to 1e-4). Defaults to 0.025 (gensim default).
        size: image side. Defaults to 48.
        channels: PCA pairs rendered as channels. Defaults to 1 (paper).
        normalise: "uniform" (mean 1), "density" (sum 1) or "none" (raw counts, official). Defaults to "uniform".
        canonical_sign: flip PCs to positive skewness. Defaults to False (official).
        extent: "minmax" (each image over its own [min, max], official ``img_max``) or "fixed"
            (the window [-fixed_extent, fixed_extent] for every graph; variant). Defaults to "minmax".
        fixed_extent: half-width of the fixed window in PCA units. Defaults to 3.0.
        weighted: weighted walks when the graph has a ``weight`` attribute. Defaults to True.
        workers: gensim threads per graph. Defaults to 1 (graphs run in parallel instead).
        embedder: "gensim" (Word2Vec, official), "cbow" (gensim's CBOW algorithm and random streams
            compiled with numba, `cbow.cbow_embed`: the same vectors up to float rounding, faster;
            CBOW only, so sg must be 0) or "sppmi" (an option, not the paper: the
            walks' positive PMI matrix factorised by SVD, `sppmi.sppmi_embed`; several times faster
            but measured less accurate; uses dim and window, ignores sg, negative, epochs and alpha).
            Defaults to "auto": "cbow" (the official Word2Vec CBOW computation, 2.4-2.7x faster than
            calling gensim, docs/netclass.md; ``tests/netclass/test_cbow.py`` checks it against gensim), or "gensim" when ``sg=1``.
    """

    n_walks: int = 10000
    walks_per_node: float = 0.0
    walk_length: int = 10
    dim: int = 20
    sg: int = 0
    window: int = 5
    negative: int = 5
    epochs: int = 5
    alpha: float = 0.025
    size: int = 48
    channels: int = 1
    normalise: str = "uniform"
    canonical_sign: bool = False
    extent: str = "minmax"
    fixed_extent: float = 3.0
    weighted: bool = True
    workers: int = 1
    embedder: str = "auto"

    def __post_init__(self) -> None:
        self.embedder = resolve_embedder(self.embedder, self.sg)

    def validate(self) -> "CNCImageConfig":
        if self.normalise not in ("uniform", "density", "none"):
            raise ConfigError(f"normalise must be uniform, density or none, got {self.normalise!r}")
        if self.extent not in ("minmax", "fixed") or not self.fixed_extent > 0:
            raise ConfigError(f"extent must be minmax or fixed (with fixed_extent > 0), got {self.extent!r}, "
                              f"{self.fixed_extent}")
        if self.embedder not in ("gensim", "cbow", "sppmi"):
            raise ConfigError(f"embedder must be gensim (Word2Vec, official), cbow (compiled gensim CBOW) or sppmi, "
                              f"got {self.embedder!r}")
        if self.sg not in (0, 1):
            raise ConfigError(f"sg must be 0 (CBOW) or 1 (skip-gram), got {self.sg}")
        if self.embedder == "cbow" and self.sg:
            raise ConfigError("embedder cbow is CBOW only; use embedder=gensim (or auto) for skip-gram (sg=1)")
        if self.walks_per_node < 0:
            raise ConfigError(f"walks_per_node must be >= 0 (0 = fixed n_walks), got {self.walks_per_node}")
        if self.size < 4 or self.n_walks < 1 or self.walk_length < 2 or self.dim < 2 * self.channels:
            raise ConfigError("need size >= 4, n_walks >= 1, walk_length >= 2 and dim >= 2 * channels")
        return self

    def to_dict(self) -> dict:
        return asdict(self)


def resolve_embedder(embedder: str, sg: int) -> str:
    """``"auto"`` -> ``"cbow"`` (gensim's CBOW compiled), or ``"gensim"`` for skip-gram (cbow is CBOW only)."""
    if embedder == "auto":
        return "gensim" if sg == 1 else "cbow"
    return embedder


def embed_walks(walks: np.ndarray, n_nodes: int, cfg: CNCImageConfig, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Word2Vec (gensim 4 API) over the walks, its compiled CBOW equivalent (`cbow.cbow_embed`) when
    ``cfg.embedder="cbow"``, or the SPPMI factorisation (`sppmi.sppmi_embed`) when
    ``cfg.embedder="sppmi"``. Returns (node ids that occur, their ``(k, dim)`` vectors).

    Cost: gensim's CBOW runs at ~1 microsecond of CPU per word and epoch at dim 20, so this stage is
    ~95 % of a CNC image (benchmarks/bench_netclass.py). Python's cyclic garbage collector is paused
    while the ~3,000 sentence lists are alive: otherwise they survive into the oldest generation and
    trigger full collections (~100 ms each over the ~230,000 objects of a process with torch and
    gensim loaded, about one per 20 graphs: 9-16 ms per graph measured at N=300). The result is
    unchanged (the lists hold no cycles). Measured and not adopted (no gain or a changed
    computation): gensim's batch routine called in this thread, ``corpus_file`` input, integer
    tokens, ``workers=2`` threads (more CPU per graph), ``batch_words > 10000`` (gensim then trains
    only the first 10,000 words of a batch), a vectorised mini-batch CBOW in torch (slower at dim 20).
    """
    if cfg.embedder == "sppmi":
        from .sppmi import sppmi_embed

        return sppmi_embed(walks, n_nodes, cfg.dim, cfg.window, seed=int(seed))
    if cfg.embedder == "cbow":
        from .cbow import cbow_embed

        return cbow_embed(walks, n_nodes, dim=cfg.dim, window=cfg.window, negative=cfg.negative, epochs=cfg.epochs,
                          alpha=cfg.alpha, seed=int(seed))
    import gc

    from gensim.models import Word2Vec

    counts = np.bincount(walks[walks >= 0].ravel(), minlength=n_nodes)
    gc_on = gc.isenabled()
    gc.disable()  # the sentence lists are freed by reference counting; see the docstring
    try:
        sentences = walks_to_sentences(walks)
        m = Word2Vec(vector_size=cfg.dim, min_count=1, sg=cfg.sg, window=cfg.window, negative=cfg.negative,
                     epochs=cfg.epochs, alpha=cfg.alpha, workers=cfg.workers, seed=int(seed) % (2**31))
        m.build_vocab_from_freq({str(i): int(c) for i, c in enumerate(counts) if c > 0})
        m.train(sentences, total_examples=len(sentences), epochs=cfg.epochs)
        ids = np.array([int(k) for k in m.wv.index_to_key], dtype=np.int64)
        return ids, np.asarray(m.wv.vectors, dtype=np.float64)
    finally:
        if gc_on:
            gc.enable()


def project_2d(X: np.ndarray, n_components: int = 2, canonical_sign: bool = False) -> np.ndarray:
    """PCA of the node vectors to ``n_components`` (centred SVD, as sklearn's PCA). Missing
    components (fewer nodes than components) are zero."""
    Xc = X - X.mean(0, keepdims=True)
    _, _, vt = np.linalg.svd(Xc, full_matrices=False)
    P = np.zeros((X.shape[0], n_components))
    k = min(n_components, vt.shape[0])
    P[:, :k] = Xc @ vt[:k].T
    if canonical_sign:
        skew = (P ** 3).sum(0)
        P *= np.where(skew < 0, -1.0, 1.0)
    return P


def density_histogram(points: np.ndarray, size: int = 48, normalise: str = "uniform",
                      extent: float | None = None) -> np.ndarray:
    """``(size, size)`` float32 node-density image of 2-D ``points`` stretched to their own range
    (``extent=None``, official) or over the fixed window ``[-extent, extent]`` (edge bins collect
    the points outside).

    Row 0 is the top (largest y), as the official ``new_mat[i][size-1-j]``. A flat axis (all
    points equal) puts every point in the middle bin.
    """
    P = np.asarray(points, dtype=np.float64)
    if P.ndim != 2 or P.shape[1] != 2 or P.shape[0] == 0:
        raise DataError(f"density_histogram needs an (n, 2) array of points with n >= 1, got shape {P.shape}")
    bins = []
    for a in range(2):
        if extent is not None:
            if not extent > 0:
                raise ConfigError(f"extent must be > 0, got {extent}")
            bins.append(np.clip(np.floor((P[:, a] + extent) / (2 * extent) * size), 0, size - 1).astype(np.int64))
            continue
        lo, hi = P[:, a].min(), P[:, a].max()
        if hi - lo <= 1e-12 * max(1.0, abs(hi)):
            b = np.full(len(P), size // 2, dtype=np.int64)
        else:
            b = np.minimum(((P[:, a] - lo) / (hi - lo) * size).astype(np.int64), size - 1)
        bins.append(b)
    img = np.zeros((size, size), dtype=np.float64)
    np.add.at(img, (size - 1 - bins[1], bins[0]), 1.0)
    if normalise == "density":
        img /= len(P)
    elif normalise == "uniform":
        img *= size * size / len(P)
    elif normalise != "none":
        raise ConfigError(f"normalise must be uniform, density or none, got {normalise!r}")
    return img.astype(np.float32)


def cnc_image(g: nx.Graph, cfg: CNCImageConfig | None = None, seed: int = 0,
              timings: dict | None = None) -> np.ndarray:
    """The CNC image of graph ``g``: ``(channels, size, size)`` float32.

    ``timings`` (optional dict) accumulates seconds per stage: walks, embedding, image.
    """
    return cnc_images(g, [cfg or CNCImageConfig()], seed, timings)[0]


def cnc_images(g: nx.Graph, cfgs: list[CNCImageConfig], seed: int = 0, timings: dict | None = None) -> list[np.ndarray]:
    """CNC images of ``g`` for several configs that share the walk and Word2Vec settings of
    ``cfgs[0]`` (one embedding, several renderings: e.g. the official image and the fixed-extent
    variant). Each config's channels, size, normalise, extent and canonical_sign are used."""
    import time

    cfg = cfgs[0].validate()
    t0 = time.perf_counter()
    csr = to_csr(g, weight="weight" if cfg.weighted and _has_weights(g) else None)
    rng = np.random.default_rng(seed)
    walks = random_walks(csr, n_walks_for(csr.degree, cfg), cfg.walk_length, rng, weighted=cfg.weighted)
    t1 = time.perf_counter()
    _, X = embed_walks(walks, csr.n, cfg, seed)
    t2 = time.perf_counter()
    imgs = []
    for c in cfgs:
        c.validate()
        P = project_2d(X, 2 * c.channels, c.canonical_sign)
        ext = c.fixed_extent if c.extent == "fixed" else None
        imgs.append(np.stack([density_histogram(P[:, 2 * k:2 * k + 2], c.size, c.normalise, ext)
                              for k in range(c.channels)]))
    if timings is not None:
        t3 = time.perf_counter()
        for k, v in (("walks", t1 - t0), ("embedding", t2 - t1), ("image", t3 - t2)):
            timings[k] = timings.get(k, 0.0) + v
    return imgs


def n_walks_for(degree: np.ndarray, cfg: CNCImageConfig) -> int:
    """Walks for a graph with out-degrees ``degree``: ``cfg.n_walks``, or ``walks_per_node`` x the
    nodes a walk can start from when ``walks_per_node > 0`` (at least 1)."""
    if cfg.walks_per_node > 0:
        return max(1, int(round(cfg.walks_per_node * int(np.count_nonzero(degree)))))
    return cfg.n_walks


def _has_weights(g: nx.Graph) -> bool:
    return g.number_of_edges() > 0 and all("weight" in d for _, _, d in g.edges(data=True))
