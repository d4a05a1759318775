"""Benchmark of CNC (S9, Xin, Zhang, Shao, arXiv 1802.00539): end-to-end graphs/s at N=300.

End to end = graph generation + random walks + Word2Vec embedding + PCA/histogram image + CNN
inference, the graphs split over ``--workers`` processes (the quick preset's setting: 2). Printed:
  * the share of each stage (one process, CPU seconds per graph),
  * graphs/s for ``--walks-per-node`` settings (default 10 = the quick preset, 3,000 walks at N=300,
    and 5) and for the official fixed 10,000 walks, against the issue's goal of 20,
  * the peer side by side: the official code's walk (a Python loop with ``random.choice`` per step,
    https://github.com/AXinx/cnc_2017 ``network_dw.py``) against our vectorised walk; ratio.

The bottleneck is gensim's CBOW (~1 microsecond CPU per word and epoch at dim 20; ~95 % of the
time). Measured and rejected: calling gensim's batch routine without its worker threads (no gain
at N=300); 5 walks per node (2x faster, but BA vs WS fell to 79 %, and to 98.3 % with alpha 0.05).

Run: ``.venv/bin/python benchmarks/bench_netclass.py [--graphs 40] [--workers 2]``. Wall times on a
shared machine are inflated by other processes; CPU seconds are printed beside them.
"""

from __future__ import annotations

import argparse
import os
import random
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import networkx as nx  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from paperzoo.netclass.data import featurise_many, make_graph, task_specs  # noqa: E402
from paperzoo.netclass.image import (  # noqa: E402
    CNCImageConfig,
    cnc_image,
    density_histogram,
    embed_walks,
    n_walks_for,
    project_2d,
)
from paperzoo.netclass.model import cnc_cnn  # noqa: E402
from paperzoo.netclass.walks import to_csr, uniform_walks  # noqa: E402
from paperzoo.registry import get_recipe  # noqa: E402

QUICK_WPN = float(get_recipe("netclass").presets["quick"]["walks_per_node"])  # the quick preset's walk count


def official_walks(g: nx.Graph, n_walks: int, length: int = 10) -> list[list[str]]:
    """The official code's walk: per walk a random start, then ``random.choice`` of a neighbour per step."""
    nodes = list(g.nodes())
    out = []
    for _ in range(n_walks):
        cur = random.choice(nodes)
        walk = []
        for _ in range(length):
            cur = random.choice(list(g.neighbors(cur)))
            walk.append(str(cur))
        out.append(walk)
    return out


def stage_shares(graphs: list[nx.Graph], cfg: CNCImageConfig, model: torch.nn.Module) -> dict[str, float]:
    """CPU seconds per graph of each stage in this process (gensim's threads included)."""
    cnc_image(graphs[0], cfg)  # warm-up: imports gensim
    t = dict.fromkeys(("walks", "embedding", "image", "cnn"), 0.0)
    for i, g in enumerate(graphs):
        c0 = time.process_time()
        csr = to_csr(g)
        W = uniform_walks(csr, n_walks_for(csr.degree, cfg), cfg.walk_length, rng=i)
        c1 = time.process_time()
        _, X = embed_walks(W, csr.n, cfg, seed=i)
        c2 = time.process_time()
        img = density_histogram(project_2d(X, 2), cfg.size, cfg.normalise)[None, None]
        c3 = time.process_time()
        with torch.no_grad():
            model(torch.from_numpy(img))
        c4 = time.process_time()
        for k, v in zip(t, (c1 - c0, c2 - c1, c3 - c2, c4 - c3)):
            t[k] += v
    return {k: v / len(graphs) for k, v in t.items()}


def end_to_end(specs, cfg: CNCImageConfig, model: torch.nn.Module, workers: int) -> tuple[float, float]:
    w0, c0 = time.perf_counter(), time.process_time() + _children_cpu()
    fs = featurise_many(specs, cfg, workers=workers, stats=False, edges=False)
    with torch.no_grad():
        model(torch.from_numpy(np.stack([f.image for f in fs])))
    wall = time.perf_counter() - w0
    cpu = time.process_time() + _children_cpu() - c0
    return len(specs) / wall, cpu / len(specs)


def _children_cpu() -> float:
    t = os.times()
    return t.children_user + t.children_system


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--graphs", type=int, default=40)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--walks-per-node", type=float, nargs="+", default=[QUICK_WPN, 5.0])
    a = ap.parse_args()
    torch.set_num_threads(1)
    model = cnc_cnn().eval()
    specs = task_specs("ba_ws", a.graphs // 2, a.n, seed=0)
    graphs = [make_graph(s) for s in specs[:8]]
    print(f"CNC end to end at N={a.n}, {a.graphs} graphs (BA/WS), {a.workers} worker processes, "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    settings = [(CNCImageConfig(walks_per_node=wpn), f"{wpn:g} walks per node"
                 + (" = quick preset" if wpn == QUICK_WPN else "")) for wpn in a.walks_per_node]
    settings.append((CNCImageConfig(n_walks=10000), "official fixed 10,000 per graph"))
    for cfg, label in settings:
        few = cfg.walks_per_node == 0
        sh = stage_shares(graphs[:4] if few else graphs, cfg, model)
        tot = sum(sh.values())
        shares = ", ".join(f"{k} {1e3 * v:.1f} ms ({100 * v / tot:.0f} %)" for k, v in sh.items())
        gps, cpu = end_to_end(specs[:max(4, a.graphs // 4)] if few else specs, cfg, model, a.workers)
        n_w = n_walks_for(np.ones(a.n), cfg)
        print(f"  {n_w:>5} walks ({label}): {gps:6.1f} graphs/s wall, {cpu * 1e3:.0f} ms CPU per graph "
              f"-> {a.workers / cpu:.1f} graphs/s on {a.workers} idle cores (goal 20: "
              f"{'met' if a.workers / cpu >= 20 else 'not met'}); stages (CPU per graph): {shares}")
    g = graphs[0]
    random.seed(0)
    t0 = time.perf_counter()
    official_walks(g, 10000)
    t_off = time.perf_counter() - t0
    t0 = time.perf_counter()
    csr = to_csr(g)
    uniform_walks(csr, 10000, 10, rng=0)
    t_ours = time.perf_counter() - t0
    print(f"  walks, 10,000 x 10 at N={a.n}: official Python loop {1e3 * t_off:.1f} ms, ours (vectorised CSR, "
          f"incl. CSR build) {1e3 * t_ours:.1f} ms, ratio {t_off / t_ours:.0f}x")


if __name__ == "__main__":
    main()
