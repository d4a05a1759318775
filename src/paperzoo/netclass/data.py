"""Data for CNC: the paper's generated tasks, loaders for one's own networks, parallel featurisation.

Xin, Zhang, Shao, arXiv 1802.00539 (2018), Sec. 4; official code https://github.com/AXinx/cnc_2017.
Generated tasks (networkx generators, labelled as generated data):
  * ``ba_ws``: BA ``barabasi_albert_graph(N, 4)`` vs WS ``watts_strogatz_graph(N, 8, 0.1)`` (N = 1000).
  * ``ws_p``: WS p = 0.1 vs p = 0.8 (k = 8).
  * density robustness: BA(m = i) vs WS(k = 2i), i = 1..16 (same mean degree 2i).
  * ``four``: not in the paper, a harder 4-class task at matched mean degree 8: ER (G(n, m) with
    4N edges), BA m = 4, WS k = 8 with p ~ U(0.1, 0.5), Holme-Kim ``powerlaw_cluster_graph(N, 4, q)``
    with q ~ U(0.2, 0.8); trained at N = 300 and tested at N = 300 and N = 1000.
Loaders: edge lists (``.edgelist .edges .txt .tsv``: ``u v [weight]``, ``#`` comments), CSV
(``source,target[,weight]``, header optional) and GraphML; a labels CSV (``file,label``). Never pickle.
"""

from __future__ import annotations

import csv
import os
import zlib
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import networkx as nx
import numpy as np

from ..errors import DataError
from .image import CNCImageConfig, cnc_images

__all__ = ["GraphSpec", "make_graph", "task_specs", "TASK_CLASSES", "read_graph", "read_labels",
           "load_graph_dir", "graph_stats", "STAT_NAMES", "Featurised", "featurise", "featurise_many",
           "GRAPH_SUFFIXES"]

GRAPH_SUFFIXES = (".edgelist", ".edges", ".txt", ".tsv", ".csv", ".graphml")

TASK_CLASSES = {
    "ba_ws": ["BA", "WS"],
    "ws_p": ["WS p=0.1", "WS p=0.8"],
    "four": ["ER", "BA", "WS", "HK"],
}


@dataclass(frozen=True)
class GraphSpec:
    """A generated graph: model kind, size, parameters, seed, class label."""

    kind: str  # ba | ws | er | hk
    n: int
    params: tuple
    seed: int
    label: int


def make_graph(spec: GraphSpec) -> nx.Graph:
    """Build the networkx graph a `GraphSpec` names."""
    n, s = spec.n, spec.seed
    if spec.kind == "ba":
        return nx.barabasi_albert_graph(n, spec.params[0], seed=s)
    if spec.kind == "ws":
        k, p = spec.params
        return nx.watts_strogatz_graph(n, k, p, seed=s)
    if spec.kind == "er":
        return nx.gnm_random_graph(n, int(round(n * spec.params[0] / 2)), seed=s)
    if spec.kind == "hk":
        m, q = spec.params
        return nx.powerlaw_cluster_graph(n, m, q, seed=s)
    raise DataError(f"unknown graph kind {spec.kind!r}; use ba, ws, er or hk")


def task_specs(task: str, n_per_class: int, n_nodes: int, seed: int, m: int = 4) -> list[GraphSpec]:
    """Graph specs for a task, ``n_per_class`` per class, seeds derived from ``seed``.

    ``task``: ``ba_ws`` (BA m vs WS k=2m, p=0.1; m=4 is the paper's main task), ``ws_p`` or ``four``.
    """
    rng = np.random.default_rng([seed, n_nodes, m, zlib.crc32(task.encode())])
    seeds = rng.integers(0, 2**31 - 1, size=(len(TASK_CLASSES.get(task, [0, 0])), n_per_class))
    out: list[GraphSpec] = []
    for i in range(n_per_class):
        if task == "ba_ws":
            out += [GraphSpec("ba", n_nodes, (m,), int(seeds[0, i]), 0),
                    GraphSpec("ws", n_nodes, (2 * m, 0.1), int(seeds[1, i]), 1)]
        elif task == "ws_p":
            out += [GraphSpec("ws", n_nodes, (8, 0.1), int(seeds[0, i]), 0),
                    GraphSpec("ws", n_nodes, (8, 0.8), int(seeds[1, i]), 1)]
        elif task == "four":
            out += [GraphSpec("er", n_nodes, (8,), int(seeds[0, i]), 0),
                    GraphSpec("ba", n_nodes, (4,), int(seeds[1, i]), 1),
                    GraphSpec("ws", n_nodes, (8, float(rng.uniform(0.1, 0.5))), int(seeds[2, i]), 2),
                    GraphSpec("hk", n_nodes, (4, float(rng.uniform(0.2, 0.8))), int(seeds[3, i]), 3)]
        else:
            raise DataError(f"unknown task {task!r}; choose from {', '.join(TASK_CLASSES)}")
    return out


# ---------------------------------------------------------------------------------------------
# Loaders
# ---------------------------------------------------------------------------------------------
def _num(tok: str, path: Path, line: int) -> float:
    try:
        return float(tok)
    except ValueError:
        raise DataError(f"{path}:{line}: weight {tok!r} is not a number; use 'u v [weight]'") from None


def read_graph(path: str | Path, directed: bool = False) -> nx.Graph:
    """Read one network: edge list / CSV / GraphML by suffix. Node ids are kept as strings."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"graph file {path} does not exist")
    suf = path.suffix.lower()
    if suf not in GRAPH_SUFFIXES:
        raise DataError(f"{path}: unsupported graph format {suf!r}; use one of {', '.join(GRAPH_SUFFIXES)}")
    if suf == ".graphml":
        try:
            g = nx.read_graphml(path)
        except Exception as e:  # malformed XML, bad keys
            raise DataError(f"{path}: not a readable GraphML file ({str(e).splitlines()[0][:120]})") from None
        if not directed and g.is_directed():
            g = g.to_undirected()
        return nx.Graph(g) if not g.is_directed() else nx.DiGraph(g)
    g: nx.Graph = nx.DiGraph() if directed else nx.Graph()
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise DataError(f"{path}: not a UTF-8 text file; an edge list has lines 'u v [weight]'") from None
    rows: Iterable[list[str]]
    if suf == ".csv":
        rows = list(csv.reader(text.splitlines()))
        if rows and rows[0] and rows[0][0].strip().lower() in ("source", "src", "from", "u", "node1", "i"):
            rows = [[""]] + rows[1:]  # header: keep line numbers
    else:
        rows = [ln.split("#", 1)[0].split() for ln in text.splitlines()]
    for i, r in enumerate(rows, 1):
        r = [t.strip() for t in r if t.strip() != ""]
        if not r:
            continue
        if len(r) == 1:
            g.add_node(r[0])  # a lone node id: an isolated node
        elif len(r) == 2:
            g.add_edge(r[0], r[1])
        else:
            g.add_edge(r[0], r[1], weight=_num(r[2], path, i))
    if g.number_of_nodes() == 0:
        raise DataError(f"{path}: no edges found; an edge list has lines 'u v [weight]'")
    return g


def read_labels(path: str | Path) -> dict[str, str]:
    """``file,label`` CSV (header optional) -> {file name: label}."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"labels file {path} does not exist; write a CSV with lines 'file,label'")
    rows = [r for r in csv.reader(path.read_text(encoding="utf-8").splitlines()) if any(t.strip() for t in r)]
    if rows and [t.strip().lower() for t in rows[0][:2]] in (["file", "label"], ["graph", "label"], ["name", "label"]):
        rows = rows[1:]
    out: dict[str, str] = {}
    for i, r in enumerate(rows, 1):
        if len(r) < 2:
            raise DataError(f"{path}: row {i} {r!r} needs two columns 'file,label'")
        out[r[0].strip()] = r[1].strip()
    if len(set(out.values())) < 2:
        raise DataError(f"{path}: need at least two different labels to train a classifier, got {sorted(set(out.values()))}")
    return out


def load_graph_dir(directory: str | Path, labels: str | Path, directed: bool = False
                   ) -> tuple[list[str], list[nx.Graph], list[str]]:
    """Graphs of ``directory`` named in the labels file: (names, graphs, labels)."""
    d = Path(directory)
    if not d.is_dir():
        raise DataError(f"graph directory {d} does not exist")
    lab = read_labels(labels)
    names, graphs, ys = [], [], []
    for name, y in lab.items():
        p = d / name
        if not p.is_file():
            raise DataError(f"{p} is listed in {labels} but does not exist; fix the labels file or add the graph")
        names.append(name)
        graphs.append(read_graph(p, directed=directed))
        ys.append(y)
    return names, graphs, ys


# ---------------------------------------------------------------------------------------------
# Handcrafted statistics (baseline features)
# ---------------------------------------------------------------------------------------------
STAT_NAMES = ["mean_degree", "degree_cv", "degree_skew", "max_over_mean_degree", "avg_clustering",
              "transitivity", "assortativity", "mean_path_length", "diameter_est", "giant_fraction"]


def graph_stats(g: nx.Graph, n_sources: int = 16, seed: int = 0) -> np.ndarray:
    """Degree moments, clustering, transitivity, assortativity, path lengths (BFS from
    ``n_sources`` random nodes in the giant component), giant-component fraction."""
    from scipy.sparse.csgraph import connected_components, shortest_path

    ug = g.to_undirected() if g.is_directed() else g
    A = nx.to_scipy_sparse_array(ug, weight=None, format="csr", dtype=np.float64)
    A.setdiag(0)
    A.eliminate_zeros()
    A.data[:] = 1.0
    d = np.asarray(A.sum(1)).ravel()
    n = len(d)
    md = d.mean() if n else 0.0
    sd = d.std()
    skew = float(((d - md) ** 3).mean() / sd ** 3) if sd > 0 else 0.0
    tri = np.asarray((A @ A).multiply(A).sum(1)).ravel() / 2.0  # triangles at each node
    pairs = d * (d - 1) / 2.0
    clust = np.where(pairs > 0, tri / np.maximum(pairs, 1), 0.0)
    trans = float(tri.sum() / pairs.sum()) if pairs.sum() > 0 else 0.0  # 3 x triangles / connected triples
    r, c = A.nonzero()
    du, dv = d[r], d[c]
    assort = float(np.corrcoef(du, dv)[0, 1]) if len(r) > 1 and du.std() > 0 and dv.std() > 0 else 0.0
    _, comp = connected_components(A, directed=False)
    giant = np.flatnonzero(comp == np.bincount(comp).argmax())
    rng = np.random.default_rng(seed)
    src = rng.choice(giant, size=min(n_sources, len(giant)), replace=False)
    D = shortest_path(A, unweighted=True, indices=src)
    fin = D[np.isfinite(D) & (D > 0)]
    mpl = float(fin.mean()) if fin.size else 0.0
    diam = float(fin.max()) if fin.size else 0.0
    return np.array([md, sd / md if md > 0 else 0.0, skew, d.max() / md if md > 0 else 0.0, clust.mean(), trans,
                     0.0 if not np.isfinite(assort) else assort, mpl, diam, len(giant) / max(n, 1)])


# ---------------------------------------------------------------------------------------------
# Parallel featurisation: graph -> CNC image (+ stats, + edges for WL/GIN)
# ---------------------------------------------------------------------------------------------
@dataclass
class Featurised:
    image: np.ndarray  # (C, S, S)
    stats: np.ndarray | None
    edges: np.ndarray | None  # (E, 2) int, nodes 0..n-1
    n: int
    label: int
    alt: np.ndarray | None = None  # the same embedding rendered with a variant image config


def featurise(item: GraphSpec | nx.Graph, cfg: CNCImageConfig, seed: int = 0, stats: bool = True,
              edges: bool = True, label: int = -1, alt_cfg: CNCImageConfig | None = None) -> Featurised:
    """One graph (or spec) -> its CNC image, handcrafted stats and 0..n-1 edge array; with
    ``alt_cfg`` also the same embedding rendered as a variant image (``Featurised.alt``)."""
    if isinstance(item, GraphSpec):
        g, seed, label = make_graph(item), item.seed, item.label
    else:
        g = item
    imgs = cnc_images(g, [cfg] + ([alt_cfg] if alt_cfg is not None else []), seed=seed)
    st = graph_stats(g, seed=seed) if stats else None
    e = None
    if edges:
        h = nx.convert_node_labels_to_integers(g)
        e = np.array(list(h.edges()), dtype=np.int64).reshape(-1, 2)
    return Featurised(imgs[0], st, e, g.number_of_nodes(), label, imgs[1] if alt_cfg is not None else None)


def _init_worker() -> None:
    try:
        from threadpoolctl import threadpool_limits
        threadpool_limits(1)
    except ImportError:  # pragma: no cover
        pass


def _featurise_star(a: tuple) -> Featurised:
    return featurise(*a)


def featurise_many(items: Sequence[GraphSpec | nx.Graph], cfg: CNCImageConfig, workers: int = 2,
                   stats: bool = True, edges: bool = True, seed: int = 0,
                   progress: Callable[[Iterable, Any], Iterable] | None = None, desc: str = "",
                   alt_cfg: CNCImageConfig | None = None) -> list[Featurised]:
    """`featurise` over many graphs, in ``workers`` processes (fork) when > 1. Order is kept."""
    args = [(it, cfg, seed + i, stats, edges, -1, alt_cfg) for i, it in enumerate(items)]
    wrap = progress or (lambda it, **kw: it)
    if cfg.embedder == "cbow":  # compile (or load from numba's cache) once here, before the workers fork
        from .cbow import warm_up

        warm_up()
    if workers <= 1 or len(args) < 4:
        _init_worker()
        return [featurise(*a) for a in wrap(args, desc=desc, total=len(args))]
    import multiprocessing as mp

    ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else mp.get_context("spawn")
    with ProcessPoolExecutor(max_workers=min(workers, os.cpu_count() or 1), mp_context=ctx,
                             initializer=_init_worker) as ex:
        return list(wrap(ex.map(_featurise_star, args, chunksize=max(1, len(args) // (8 * workers))),
                         desc=desc, total=len(args)))
