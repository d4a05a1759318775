"""Data (paperzoo.netclass.data): generators, loaders on fixtures in the real formats, stats."""

import networkx as nx
import numpy as np
import pytest

from paperzoo.errors import DataError
from paperzoo.netclass.data import (
    STAT_NAMES,
    featurise_many,
    graph_stats,
    load_graph_dir,
    read_graph,
    read_labels,
    task_specs,
)
from paperzoo.netclass.image import CNCImageConfig


def test_task_specs_balanced_and_deterministic():
    a = task_specs("four", 3, 50, seed=1)
    assert [s.label for s in a[:4]] == [0, 1, 2, 3] and len(a) == 12
    assert a == task_specs("four", 3, 50, seed=1) and a != task_specs("four", 3, 50, seed=2)
    with pytest.raises(DataError):
        task_specs("nope", 1, 10, 0)


def test_read_edgelist_csv_graphml(tmp_path):
    (tmp_path / "a.edgelist").write_text("# comment\n0 1\n1 2 2.5\n7\n", encoding="utf-8")
    g = read_graph(tmp_path / "a.edgelist")
    assert g.number_of_nodes() == 4 and g["1"]["2"]["weight"] == 2.5  # '7' is an isolated node
    (tmp_path / "b.csv").write_text("source,target,weight\na,b,1\nb,c,3\n", encoding="utf-8")
    assert read_graph(tmp_path / "b.csv").number_of_edges() == 2
    nx.write_graphml(nx.cycle_graph(5), tmp_path / "c.graphml")
    assert read_graph(tmp_path / "c.graphml").number_of_edges() == 5
    assert read_graph(tmp_path / "b.csv", directed=True).is_directed()


@pytest.mark.parametrize("name,text,msg", [("x.pkl", "", "unsupported"), ("x.txt", "", "no edges"),
                                           ("x.txt", "0 1 heavy\n", "not a number"),
                                           ("x.graphml", "<graphml", "GraphML")])
def test_bad_graph_files(tmp_path, name, text, msg):
    (tmp_path / name).write_text(text, encoding="utf-8")
    with pytest.raises(DataError, match=msg):
        read_graph(tmp_path / name)
    with pytest.raises(DataError, match="does not exist"):
        read_graph(tmp_path / "missing.txt")


def test_labels_and_graph_dir(tmp_path):
    for i in range(4):
        nx.write_edgelist(nx.path_graph(4 + i), tmp_path / f"g{i}.edgelist", data=False)
    (tmp_path / "labels.csv").write_text("file,label\ng0.edgelist,a\ng1.edgelist,b\ng2.edgelist,a\ng3.edgelist,b\n")
    names, graphs, ys = load_graph_dir(tmp_path, tmp_path / "labels.csv")
    assert names[1] == "g1.edgelist" and ys == ["a", "b", "a", "b"] and graphs[3].number_of_nodes() == 7
    (tmp_path / "one.csv").write_text("g0.edgelist,a\n")
    with pytest.raises(DataError, match="two different labels"):
        read_labels(tmp_path / "one.csv")
    (tmp_path / "bad.csv").write_text("g0.edgelist,a\nnope.txt,b\n")
    with pytest.raises(DataError, match="does not exist"):
        load_graph_dir(tmp_path, tmp_path / "bad.csv")


def test_graph_stats_separate_ba_from_ws():
    s_ba = graph_stats(nx.barabasi_albert_graph(200, 4, seed=0))
    s_ws = graph_stats(nx.watts_strogatz_graph(200, 8, 0.1, seed=0))
    assert len(s_ba) == len(STAT_NAMES)
    c = STAT_NAMES.index("avg_clustering")
    assert np.isclose(s_ws[c], nx.average_clustering(nx.watts_strogatz_graph(200, 8, 0.1, seed=0)))
    assert s_ws[c] > 3 * s_ba[c]


def test_graph_stats_disconnected_with_isolated():
    g = nx.disjoint_union(nx.cycle_graph(6), nx.path_graph(2))
    g.add_node(100)
    s = graph_stats(g)
    assert np.all(np.isfinite(s)) and np.isclose(s[STAT_NAMES.index("giant_fraction")], 6 / 9)


def test_featurise_many_parallel_matches_serial():
    specs = task_specs("ba_ws", 2, 40, seed=0)
    cfg = CNCImageConfig(n_walks=100, size=8)
    a = featurise_many(specs, cfg, workers=1)
    b = featurise_many(specs, cfg, workers=2)
    assert [f.label for f in a] == [0, 1, 0, 1]
    assert all(np.array_equal(x.image, y.image) for x, y in zip(a, b))
    assert a[0].edges.shape[1] == 2 and a[0].stats is not None


def test_featurise_small_and_odd_graphs_give_a_clear_result():
    from paperzoo.netclass.data import featurise
    cfg = CNCImageConfig(n_walks=50, size=8, normalise="none")
    two = featurise(nx.path_graph(2), cfg, alt_cfg=CNCImageConfig(n_walks=50, size=8, extent="fixed"))
    assert two.image.sum() == 2 and two.alt.shape == (1, 8, 8) and two.n == 2 and np.isfinite(two.stats).all()
    g = nx.disjoint_union(nx.cycle_graph(6), nx.path_graph(3))
    g.add_node(100)  # isolated: in the statistics and the edge list's node count, not in the image
    f = featurise(g, cfg)
    assert f.image.sum() == 9 and f.n == 10 and f.edges.shape == (8, 2) and np.isfinite(f.stats).all()
