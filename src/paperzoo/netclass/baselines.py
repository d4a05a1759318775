"""Baselines run beside CNC on the same graphs (not in the paper; the notes ask for them because
the paper's BA-vs-WS task is separable by one scalar, the clustering coefficient).

  * handcrafted statistics (`paperzoo.netclass.data.graph_stats`) + standardised logistic regression;
  * Weisfeiler-Lehman subtree kernel SVM: Shervashidze et al., "Weisfeiler-Lehman Graph Kernels",
    JMLR 12, 2011, via GraKeL (https://github.com/ysig/GraKeL) with node degree as the label;
  * GIN (`paperzoo.netclass.model.GIN`, Xu et al., ICLR 2019, arXiv 1810.00826) with one-hot degrees.
Each ``fit_predict_*`` takes train/test `Featurised` lists and returns test predictions.
"""

from __future__ import annotations

import numpy as np
import torch

from .data import Featurised
from .model import GIN, GINConfig, batch_graphs

__all__ = ["fit_predict_stats", "fit_predict_wl", "fit_predict_gin"]


def fit_predict_stats(train: list[Featurised], test: list[Featurised], seed: int = 0) -> np.ndarray:
    """Handcrafted graph statistics + logistic regression (standardised features, C = 1)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X = np.array([f.stats for f in train])
    y = np.array([f.label for f in train])
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, random_state=seed))
    clf.fit(X, y)
    return clf.predict(np.array([f.stats for f in test]))


def _grakel_graphs(fs: list[Featurised]) -> list:
    from grakel import Graph

    out = []
    for f in fs:
        e = f.edges
        deg = np.bincount(e.ravel(), minlength=f.n) if len(e) else np.zeros(f.n, np.int64)
        edges = {(int(a), int(b)): 1 for a, b in e} | {(int(b), int(a)): 1 for a, b in e}
        for v in range(f.n):  # isolated nodes: a self-entry keeps them in the graph
            if deg[v] == 0:
                edges[(v, v)] = 1
        out.append(Graph(edges, node_labels={v: int(deg[v]) for v in range(f.n)}))
    return out


def fit_predict_wl(train: list[Featurised], test: list[Featurised], n_iter: int = 3, C: float = 1.0,
                   seed: int = 0) -> np.ndarray:
    """WL subtree kernel (``n_iter`` refinements, degree labels, normalised) + SVM on the Gram matrix."""
    from grakel.kernels import VertexHistogram, WeisfeilerLehman
    from sklearn.svm import SVC

    wl = WeisfeilerLehman(n_iter=n_iter, base_graph_kernel=VertexHistogram, normalize=True)
    K_train = wl.fit_transform(_grakel_graphs(train))
    K_test = wl.transform(_grakel_graphs(test))
    svm = SVC(kernel="precomputed", C=C, random_state=seed)
    svm.fit(K_train, np.array([f.label for f in train]))
    return svm.predict(K_test)


def fit_predict_gin(train: list[Featurised], test: list[Featurised], num_classes: int, epochs: int = 40,
                    batch_size: int = 32, lr: float = 1e-2, seed: int = 0, cfg: GINConfig | None = None
                    ) -> np.ndarray:
    """Train the small GIN with Adam (lr 1e-2, as the GIN paper) and predict the test graphs."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    cfg = cfg or GINConfig(num_classes=num_classes)
    model = GIN(cfg)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=max(1, epochs // 2), gamma=0.5)
    y = torch.tensor([f.label for f in train])
    for _ in range(epochs):
        model.train()
        perm = rng.permutation(len(train))
        for s in range(0, len(perm), batch_size):
            idx = perm[s:s + batch_size]
            if len(idx) < 2:  # BatchNorm needs > 1 node row; a 1-graph batch is skipped
                continue
            x, adj, pool = batch_graphs([train[i].edges for i in idx], [train[i].n for i in idx], cfg.max_degree)
            loss = torch.nn.functional.cross_entropy(model(x, adj, pool), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        sched.step()
    model.eval()
    preds = []
    with torch.no_grad():
        for s in range(0, len(test), 64):
            chunk = test[s:s + 64]
            x, adj, pool = batch_graphs([f.edges for f in chunk], [f.n for f in chunk], cfg.max_degree)
            preds.append(model(x, adj, pool).argmax(1).numpy())
    return np.concatenate(preds) if preds else np.zeros(0, np.int64)
