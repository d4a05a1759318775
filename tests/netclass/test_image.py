"""CNC image (paperzoo.netclass.image): histogram normalisation, PCA, end-to-end image, edge cases."""

import networkx as nx
import numpy as np
import pytest

from paperzoo.errors import ConfigError, DataError
from paperzoo.netclass.image import CNCImageConfig, cnc_image, density_histogram, n_walks_for, project_2d

TINY = CNCImageConfig(n_walks=200, size=16)


@pytest.mark.parametrize("normalise,total", [("density", 1.0), ("uniform", 48 * 48), ("none", 100)])
def test_histogram_normalisation(normalise, total):
    pts = np.random.default_rng(0).normal(size=(100, 2))
    img = density_histogram(pts, 48, normalise)
    assert img.shape == (48, 48) and img.dtype == np.float32
    assert np.isclose(img.sum(), total, rtol=1e-5)
    assert img.min() >= 0


def test_histogram_extremes_and_orientation():
    img = density_histogram(np.array([[0.0, 0.0], [1.0, 1.0]]), 4, "none")
    assert img[3, 0] == 1 and img[0, 3] == 1  # y up: (0,0) bottom-left, max in the last bin


def test_histogram_flat_axis_and_bad_shape():
    img = density_histogram(np.zeros((5, 2)), 8, "none")
    assert img[8 - 1 - 4, 4] == 5
    with pytest.raises(DataError):
        density_histogram(np.zeros((0, 2)), 8)


def test_project_2d_canonical_sign():
    X = np.random.default_rng(0).exponential(size=(50, 5))
    P = project_2d(X, 2, canonical_sign=True)
    assert P.shape == (50, 2) and ((P ** 3).sum(0) >= 0).all()
    assert np.allclose(np.abs(P), np.abs(project_2d(-X, 2, canonical_sign=True)), atol=1e-8)


def test_cnc_image_end_to_end_and_timings():
    t = {}
    img = cnc_image(nx.barabasi_albert_graph(60, 2, seed=0), TINY, seed=0, timings=t)
    assert img.shape == (1, 16, 16) and np.isclose(img.sum(), 256)
    assert set(t) == {"walks", "embedding", "image"}


def test_cnc_image_multichannel_and_skipgram():
    cfg = CNCImageConfig(n_walks=200, size=16, channels=2, sg=1)
    img = cnc_image(nx.watts_strogatz_graph(60, 4, 0.1, seed=0), cfg)
    assert img.shape == (2, 16, 16)


def test_edge_cases_two_nodes_isolated_disconnected():
    assert cnc_image(nx.path_graph(2), TINY).sum() > 0  # 2 nodes: a clear (two-point) image
    g = nx.disjoint_union(nx.cycle_graph(10), nx.complete_graph(5))
    g.add_node(99)  # isolated: left out of the image
    img = cnc_image(g, CNCImageConfig(n_walks=200, size=16, normalise="none"))
    assert img.sum() == 15
    with pytest.raises(DataError, match="no edges"):
        cnc_image(nx.empty_graph(4), TINY)


def test_bad_config_is_a_clear_error():
    with pytest.raises(ConfigError):
        CNCImageConfig(normalise="max").validate()


def test_walks_per_node_scales_walks_with_graph_size():
    # fixed n_walks (official) vs walks_per_node: a 3x larger graph gets 3x the walks, so every
    # node is visited about as often (a fixed count under-trains Word2Vec on larger graphs)
    deg = np.array([1, 2, 0, 3])
    assert n_walks_for(deg, CNCImageConfig(n_walks=77)) == 77
    assert n_walks_for(deg, CNCImageConfig(walks_per_node=10)) == 30  # isolated node not counted
    cfg = CNCImageConfig(walks_per_node=10)
    small, big = nx.cycle_graph(50), nx.cycle_graph(150)
    from paperzoo.netclass.walks import to_csr
    assert n_walks_for(to_csr(big).degree, cfg) == 3 * n_walks_for(to_csr(small).degree, cfg)
    assert cnc_image(small, CNCImageConfig(walks_per_node=2, size=16, normalise="none")).sum() == 50
    with pytest.raises(ConfigError):
        CNCImageConfig(walks_per_node=-1).validate()


def test_fixed_extent_keeps_scale_and_clips_to_edge_bins():
    pts = np.array([[0.0, 0.0], [0.5, 0.5], [10.0, -10.0]])
    img = density_histogram(pts, 4, "none", extent=1.0)
    assert img.sum() == 3
    assert img[4 - 1 - 2, 2] == 1  # (0, 0) at the centre of the window
    assert img[4 - 1 - 0, 3] == 1  # far outside: the bottom-right edge bin
    # minmax (official) loses the scale: a cloud and the same cloud x3 give the same image;
    # the fixed window does not
    cloud = np.random.default_rng(0).normal(size=(200, 2))
    assert np.array_equal(density_histogram(cloud, 16), density_histogram(3 * cloud, 16))
    assert not np.array_equal(density_histogram(cloud, 16, extent=4.0), density_histogram(3 * cloud, 16, extent=4.0))
    # uniform normalisation: duplicating every node (a "larger" graph of the same shape) gives the same image
    assert np.allclose(density_histogram(cloud, 16, extent=4.0), density_histogram(np.tile(cloud, (3, 1)), 16, extent=4.0))
    with pytest.raises(ConfigError):
        CNCImageConfig(extent="fixed", fixed_extent=0.0).validate()
    with pytest.raises(ConfigError):
        CNCImageConfig(extent="range").validate()


def test_cnc_images_shares_one_embedding():
    from paperzoo.netclass.image import cnc_images
    g = nx.barabasi_albert_graph(60, 2, seed=0)
    var = CNCImageConfig(n_walks=200, size=16, extent="fixed", channels=2)
    a, b = cnc_images(g, [TINY, var], seed=3)
    assert np.array_equal(a, cnc_image(g, TINY, seed=3))
    assert a.shape == (1, 16, 16) and b.shape == (2, 16, 16) and np.isclose(b[0].sum(), 256)
