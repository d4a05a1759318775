"""Models (paperzoo.netclass.model): CNC CNN shapes (both official variants), GIN batching."""

import networkx as nx
import numpy as np
import pytest
import torch

from paperzoo.errors import ConfigError
from paperzoo.netclass.model import CNC, CNCConfig, batch_graphs
from paperzoo.registry import create_model


@pytest.mark.parametrize("name,feat", [("cnc_cnn", 720), ("cnc_cnn_trade", 2430)])
def test_cnc_shapes_match_official(name, feat):
    m = create_model(name, num_classes=3)
    assert m.num_features == feat
    x = torch.rand(4, 1, 48, 48, requires_grad=True)
    out = m(x)
    assert out.shape == (4, 3)
    out.sum().backward()
    assert torch.isfinite(x.grad).all()


def test_cnc_too_small_image():
    with pytest.raises(ConfigError):
        CNC(CNCConfig(size=8, padding="valid"))


def test_gin_batch_and_forward():
    gs = [nx.path_graph(3), nx.star_graph(4), nx.empty_graph(2)]
    edges = [np.array(list(g.edges()), dtype=np.int64).reshape(-1, 2) for g in gs]
    x, adj, pool = batch_graphs(edges, [g.number_of_nodes() for g in gs], max_degree=3)
    assert x.shape == (3 + 5 + 2, 4) and torch.allclose(x.sum(1), torch.ones(10))
    assert x[3, 3] == 1  # the star's hub (degree 4) is capped at max_degree
    assert torch.allclose(torch.sparse.sum(pool, 1).to_dense(), torch.ones(3))
    m = create_model("netclass_gin", num_classes=2, max_degree=3)
    m.eval()
    assert m(x, adj, pool).shape == (3, 2)
