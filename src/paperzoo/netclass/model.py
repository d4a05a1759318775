"""Models for complex network classification: the CNC image CNN and a small GIN baseline.

CNC: Xin, Zhang, Shao, "Complex network classification with convolutional neural network",
arXiv 1802.00539 (2018); Tsinghua Sci. Technol. 25(4):447-457, 2020. Official code:
https://github.com/AXinx/cnc_2017 (TensorFlow CNN for the synthetic experiments, PyTorch CNN for
the trade networks).

GIN (baseline): Xu, Hu, Leskovec, Jegelka, "How Powerful are Graph Neural Networks?", ICLR 2019,
arXiv 1810.00826 (Eq. 4.1); written in plain PyTorch on a block-diagonal sparse adjacency, with
one-hot degree input features (PyTorch Geometric's ``OneHotDegree``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn as nn

from ..errors import ConfigError
from ..registry import register_model

__all__ = ["CNCConfig", "CNC", "GIN", "GINConfig", "cnc_cnn", "cnc_cnn_trade", "netclass_gin", "batch_graphs"]


@dataclass
class CNCConfig:
    """The CNC CNN. Defaults = the synthetic-experiment network of the official code.

    Args:
        in_chans: image channels. Defaults to 1.
        size: image side. Defaults to 48.
        num_classes: Defaults to 2.
        filters: channels of the two 5x5 conv layers. Defaults to (3, 5) (TF code; trade: (15, 30)).
        hidden: width of the hidden FC layer. Defaults to 50 (trade: 300).
        padding: "same" (TF code) or "valid" (trade PyTorch code). Defaults to "same".
        dropout: before the last FC. Defaults to 0.5 (trade: 0).
    """

    in_chans: int = 1
    size: int = 48
    num_classes: int = 2
    filters: tuple[int, int] = (3, 5)
    hidden: int = 50
    padding: str = "same"
    dropout: float = 0.5

    def to_dict(self) -> dict:
        d = asdict(self)
        d["filters"] = list(self.filters)
        return d


class CNC(nn.Module):
    """conv5x5 -> ReLU -> maxpool2 -> conv5x5 -> ReLU -> maxpool2 -> FC -> ReLU -> dropout -> FC.

    Synthetic setting (official TF code): 48x48x1 -> 3 filters (SAME) -> 24x24x3 -> 5 filters ->
    12x12x5 = 720 -> 50 -> classes. Trade setting (official PyTorch): valid convs 15 and 30
    filters -> 9x9x30 = 2430 -> 300 -> classes. ``forward(x)`` returns logits ``(B, classes)``.
    """

    def __init__(self, cfg: CNCConfig | None = None):
        super().__init__()
        cfg = cfg or CNCConfig()
        if cfg.padding not in ("same", "valid"):
            raise ConfigError(f"padding must be 'same' or 'valid', got {cfg.padding!r}")
        self.cfg = cfg
        p = 2 if cfg.padding == "same" else 0
        f1, f2 = cfg.filters
        self.conv1 = nn.Conv2d(cfg.in_chans, f1, 5, padding=p)
        self.act1 = nn.ReLU()
        self.pool1 = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(f1, f2, 5, padding=p)
        self.act2 = nn.ReLU()
        self.pool2 = nn.MaxPool2d(2)
        s = cfg.size
        for _ in range(2):
            s = (s - (0 if p else 4)) // 2
        if s < 1:
            raise ConfigError(f"image size {cfg.size} is too small for two 5x5 conv + pool stages")
        self.num_features = f2 * s * s
        self.fc1 = nn.Linear(self.num_features, cfg.hidden)
        self.act3 = nn.ReLU()
        self.drop = nn.Dropout(cfg.dropout)
        self.fc2 = nn.Linear(cfg.hidden, cfg.num_classes)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool1(self.act1(self.conv1(x)))  # (B, f1, S/2, S/2)
        return self.pool2(self.act2(self.conv2(x)))  # (B, f2, S/4, S/4)

    def forward_head(self, f: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.drop(self.act3(self.fc1(f.flatten(1)))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

    def fc_weights(self) -> list[torch.Tensor]:
        """The FC weight matrices (the official code puts L2 5e-4 on these only)."""
        return [self.fc1.weight, self.fc2.weight]


@register_model(example=(1, 48, 48), tiny={"size": 48})
def cnc_cnn(num_classes: int = 2, in_chans: int = 1, size: int = 48, **kw) -> CNC:
    """CNC CNN of the synthetic experiments (official TF code): filters (3, 5), FC 50, dropout 0.5."""
    return CNC(CNCConfig(in_chans=in_chans, size=size, num_classes=num_classes, **kw))


@register_model(example=(1, 48, 48), tiny={"size": 48})
def cnc_cnn_trade(num_classes: int = 2, in_chans: int = 1, size: int = 48, **kw) -> CNC:
    """CNC CNN of the trade-network experiment (official PyTorch code): valid convs (15, 30), FC 300."""
    kw = {"filters": (15, 30), "hidden": 300, "padding": "valid", "dropout": 0.0, **kw}
    return CNC(CNCConfig(in_chans=in_chans, size=size, num_classes=num_classes, **kw))


# ---------------------------------------------------------------------------------------------
# GIN baseline
# ---------------------------------------------------------------------------------------------
@dataclass
class GINConfig:
    """Args: max_degree (one-hot degree features, larger degrees share the last slot) Defaults to 32;
    hidden Defaults to 32; layers Defaults to 3; num_classes Defaults to 2; dropout Defaults to 0.2."""

    max_degree: int = 32
    hidden: int = 32
    layers: int = 3
    num_classes: int = 2
    dropout: float = 0.2


class GIN(nn.Module):
    """GIN-0 (Eq. 4.1, eps = 0): ``h' = MLP(h + sum_{u in N(v)} h_u)``; readout = mean over nodes of
    every layer's output, concatenated (Sec. 4.2), then a linear classifier.

    Deviation: mean instead of sum readout, so the readout does not scale with the graph's size
    (the size-generalisation split tests on graphs 3x larger than in training).
    """

    def __init__(self, cfg: GINConfig | None = None):
        super().__init__()
        cfg = cfg or GINConfig()
        self.cfg = cfg
        d_in = cfg.max_degree + 1
        self.mlps = nn.ModuleList()
        for i in range(cfg.layers):
            self.mlps.append(nn.Sequential(nn.Linear(d_in if i == 0 else cfg.hidden, cfg.hidden),
                                           nn.BatchNorm1d(cfg.hidden), nn.ReLU(),
                                           nn.Linear(cfg.hidden, cfg.hidden), nn.ReLU()))
        self.drop = nn.Dropout(cfg.dropout)
        self.head = nn.Linear(d_in + cfg.layers * cfg.hidden, cfg.num_classes)

    def forward(self, x: torch.Tensor, adj: torch.Tensor, pool: torch.Tensor) -> torch.Tensor:
        """x (n_total, max_degree+1) node features, adj sparse (n_total, n_total), pool sparse
        (n_graphs, n_total) mean-pooling matrix. Returns logits (n_graphs, classes)."""
        h = x
        reads = [torch.sparse.mm(pool, h)]
        for mlp in self.mlps:
            h = mlp(h + torch.sparse.mm(adj, h))
            reads.append(torch.sparse.mm(pool, h))
        return self.head(self.drop(torch.cat(reads, dim=1)))


def _gin_example(m: GIN) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Two small graphs (a triangle with a tail, a 3-path) as a block-diagonal batch."""
    e1 = np.array([[0, 1], [1, 2], [2, 0], [2, 3]])
    e2 = np.array([[0, 1], [1, 2]])
    return batch_graphs([e1, e2], [4, 3], m.cfg.max_degree)


@register_model(example=_gin_example, tiny={"hidden": 8, "layers": 2, "max_degree": 4})
def netclass_gin(num_classes: int = 2, **kw) -> GIN:
    """Small GIN baseline with one-hot degree features (3 layers, width 32)."""
    return GIN(GINConfig(num_classes=num_classes, **kw))


def batch_graphs(edge_lists: list[np.ndarray], sizes: list[int], max_degree: int = 32
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Block-diagonal batch of undirected graphs: (one-hot degree x, sparse adj, sparse mean-pool)."""
    offs = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    n = int(offs[-1])
    rows, cols = [], []
    for e, o in zip(edge_lists, offs[:-1]):
        if len(e):
            e = np.asarray(e, dtype=np.int64) + o
            rows += [e[:, 0], e[:, 1]]
            cols += [e[:, 1], e[:, 0]]
    r = np.concatenate(rows) if rows else np.zeros(0, np.int64)
    c = np.concatenate(cols) if cols else np.zeros(0, np.int64)
    adj = torch.sparse_coo_tensor(torch.from_numpy(np.stack([r, c])), torch.ones(len(r)), (n, n),
                                  check_invariants=False).coalesce()
    deg = np.bincount(r, minlength=n)
    x = torch.zeros(n, max_degree + 1)
    x[torch.arange(n), torch.from_numpy(np.minimum(deg, max_degree))] = 1.0
    gid = np.repeat(np.arange(len(sizes)), sizes)
    w = 1.0 / np.maximum(np.asarray(sizes, dtype=np.float64), 1)[gid]
    pool = torch.sparse_coo_tensor(torch.from_numpy(np.stack([gid, np.arange(n)])), torch.from_numpy(w).float(),
                                   (len(sizes), n), check_invariants=False).coalesce()
    return x, adj, pool
