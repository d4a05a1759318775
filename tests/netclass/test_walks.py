"""Walks (paperzoo.netclass.walks): uniform transitions, weighted transitions, edge cases."""

import networkx as nx
import numpy as np
import pytest

from paperzoo.errors import DataError
from paperzoo.netclass.walks import to_csr, uniform_walks, walks_to_sentences, weighted_walks


def _transition_counts(walks: np.ndarray, n: int) -> np.ndarray:
    T = np.zeros((n, n))
    a, b = walks[:, :-1].ravel(), walks[:, 1:].ravel()
    ok = (a >= 0) & (b >= 0)
    np.add.at(T, (a[ok], b[ok]), 1)
    return T


def test_uniform_transitions_are_uniform_over_neighbours():
    g = nx.barabasi_albert_graph(40, 3, seed=1)
    csr = to_csr(g)
    W = uniform_walks(csr, 20000, 10, rng=0)
    assert W.shape == (20000, 10) and W.min() >= 0
    T = _transition_counts(W, csr.n)
    A = nx.to_numpy_array(g, nodelist=csr.nodes)
    assert np.all(T[A == 0] == 0)  # only along edges
    hub = int(np.argmax(T.sum(1)))
    row = T[hub][A[hub] > 0]
    # chi-square test of uniformity over the hub's neighbours
    from scipy.stats import chisquare
    assert chisquare(row).pvalue > 1e-3


def test_weighted_transitions_follow_weights():
    g = nx.Graph()
    g.add_edge(0, 1, weight=1.0)
    g.add_edge(0, 2, weight=3.0)
    g.add_edge(0, 3, weight=6.0)
    csr = to_csr(g, weight="weight")
    W = weighted_walks(csr, 30000, 4, rng=0)
    T = _transition_counts(W, 4)
    p = T[0, 1:] / T[0, 1:].sum()
    assert np.allclose(p, [0.1, 0.3, 0.6], atol=0.02)


def test_disconnected_graph_walks_stay_in_components():
    g = nx.disjoint_union(nx.cycle_graph(5), nx.path_graph(4))
    csr = to_csr(g)
    W = uniform_walks(csr, 500, 10, rng=0)
    comp_a = W < 5
    assert np.all(comp_a.all(1) | (~comp_a).all(1))


def test_isolated_nodes_are_never_visited():
    g = nx.path_graph(3)
    g.add_nodes_from([10, 11])
    csr = to_csr(g)
    W = uniform_walks(csr, 300, 5, rng=0)
    iso = [csr.nodes.index(10), csr.nodes.index(11)]
    assert not np.isin(W, iso).any()


def test_two_node_graph_alternates():
    W = uniform_walks(to_csr(nx.path_graph(2)), 10, 6, rng=0)
    assert np.all(W[:, 1:] != W[:, :-1])


def test_directed_dead_end_stops_walk():
    g = nx.DiGraph([(0, 1), (1, 2)])
    W = uniform_walks(to_csr(g), 50, 4, rng=0)
    assert (W == -1).any()
    assert all(s and s[0] in {"1", "2"} for s in walks_to_sentences(W))


@pytest.mark.parametrize("g", [nx.empty_graph(3), nx.Graph()])
def test_graph_without_edges_is_a_clear_error(g):
    with pytest.raises(DataError, match="no (edges|nodes)"):
        uniform_walks(to_csr(g), 10, 5, rng=0)


def test_bad_weights_are_a_clear_error():
    g = nx.Graph()
    g.add_edge(0, 1, weight=-1.0)
    with pytest.raises(DataError, match="positive"):
        to_csr(g, weight="weight")


def test_uniform_walk_visits_are_proportional_to_degree():
    # stationary distribution of a uniform walk on an undirected connected graph: deg / 2|E|
    g = nx.barabasi_albert_graph(30, 2, seed=0)
    csr = to_csr(g)
    W = uniform_walks(csr, 20000, 10, rng=1)
    freq = np.bincount(W[:, 5:].ravel(), minlength=csr.n) / W[:, 5:].size
    assert np.allclose(freq, csr.degree / csr.degree.sum(), atol=0.01)
    assert np.corrcoef(freq, csr.degree)[0, 1] > 0.99
