"""SPPMI embedder (paperzoo.netclass.sppmi): co-occurrence weights, shapes, structure, wiring."""

import gc

import networkx as nx
import numpy as np
import pytest

from paperzoo.errors import ConfigError, DataError
from paperzoo.netclass.image import CNCImageConfig, cnc_image, embed_walks
from paperzoo.netclass.recipe import NetclassConfig, image_cfg
from paperzoo.netclass.sppmi import cooccurrence, sppmi_embed
from paperzoo.netclass.walks import to_csr, uniform_walks


def test_cooccurrence_window_weights_and_padding():
    # one walk 0 1 2 (then padding): pairs at distance 1 weigh 1, at distance 2 weigh (2-2+1)/2 = 0.5
    C = cooccurrence(np.array([[0, 1, 2, -1]]), 3, window=2)
    assert np.allclose(C, C.T)
    assert C[0, 1] == 1 and C[1, 2] == 1 and C[0, 2] == 0.5 and C[0, 0] == 0


def test_sppmi_shapes_ids_and_determinism():
    csr = to_csr(nx.barabasi_albert_graph(120, 3, seed=0))
    W = uniform_walks(csr, 1200, 10, rng=0)
    W[:5, 7:] = -1  # dead-end padding is ignored
    ids, X = sppmi_embed(W, csr.n, dim=8, seed=1)
    assert ids.tolist() == sorted(set(W[W >= 0].tolist())) and X.shape == (ids.size, 8)
    assert np.isfinite(X).all() and np.abs(X).sum() > 0
    assert np.array_equal(X, sppmi_embed(W, csr.n, dim=8, seed=1)[1])


def test_sppmi_separates_components():
    # two rings joined by nothing: walks never cross, so the two groups' vectors are far apart
    g = nx.disjoint_union(nx.cycle_graph(30), nx.cycle_graph(30))
    csr = to_csr(g)
    ids, X = sppmi_embed(uniform_walks(csr, 1200, 10, rng=0), csr.n, dim=4)
    Xn = X / np.linalg.norm(X, axis=1, keepdims=True)
    S = Xn @ Xn.T
    pos = {v: i for i, v in enumerate(ids)}
    ring = [S[pos[v], pos[(v + 1) % 30]] for v in range(30)]  # neighbours on the first ring
    assert np.mean(ring) > 0.8 and np.mean(ring) > S[np.ix_(ids < 30, ids >= 30)].mean() + 0.5


def test_sppmi_tiny_graphs_and_errors():
    ids, X = sppmi_embed(np.array([[1, 0, 1, 0]]), 2, dim=20)
    assert ids.tolist() == [0, 1] and X.shape == (2, 20)
    # a clique's pairs have PMI log(60/29) < log 5: nothing above that shift, every node at the origin
    csr = to_csr(nx.complete_graph(30))
    W = uniform_walks(csr, 300, 10, rng=0)
    assert np.abs(sppmi_embed(W, csr.n, negative=5)[1]).sum() == 0
    assert np.abs(sppmi_embed(W, csr.n)[1]).sum() > 0  # default: no shift (PPMI)
    with pytest.raises(DataError):
        sppmi_embed(np.full((3, 4), -1), 5)
    with pytest.raises(ConfigError):
        sppmi_embed(np.array([[0, 1]]), 2, dim=0)


def test_image_config_and_recipe_wiring():
    with pytest.raises(ConfigError, match="embedder"):
        CNCImageConfig(embedder="glove").validate()
    assert image_cfg(NetclassConfig(embedder="sppmi")).embedder == "sppmi"
    assert NetclassConfig().embedder == "auto" and CNCImageConfig().embedder == "cbow"
    assert CNCImageConfig(sg=1).embedder == "gensim"  # skip-gram runs on gensim
    img = cnc_image(nx.watts_strogatz_graph(80, 4, 0.1, seed=0), CNCImageConfig(walks_per_node=5, size=16,
                                                                                 embedder="sppmi"))
    assert img.shape == (1, 16, 16) and np.isclose(img.sum(), 256)


@pytest.mark.parametrize("enabled", [True, False])
def test_gensim_embedding_restores_gc_state_and_is_deterministic(enabled):
    csr = to_csr(nx.barabasi_albert_graph(50, 2, seed=0))
    W = uniform_walks(csr, 200, 10, rng=0)
    cfg = CNCImageConfig(n_walks=200)
    was = gc.isenabled()
    try:
        gc.enable() if enabled else gc.disable()
        a = embed_walks(W, csr.n, cfg, seed=3)
        assert gc.isenabled() == enabled
        b = embed_walks(W, csr.n, cfg, seed=3)
    finally:
        gc.enable() if was else gc.disable()
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
