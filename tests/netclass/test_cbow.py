"""Compiled CBOW (paperzoo.netclass.cbow): equal to gensim's Word2Vec, deterministic, wired in."""

import networkx as nx
import numpy as np
import pytest
from gensim.models import Word2Vec

from paperzoo.errors import ConfigError, DataError
from paperzoo.netclass.cbow import cbow_embed, cbow_vocab
from paperzoo.netclass.data import featurise_many, task_specs
from paperzoo.netclass.image import CNCImageConfig, cnc_image, embed_walks
from paperzoo.netclass.recipe import NetclassConfig, image_cfg
from paperzoo.netclass.walks import to_csr, uniform_walks, walks_to_sentences


def _gensim(W, n, seed, **kw):
    counts = np.bincount(W[W >= 0].ravel(), minlength=n)
    sentences = walks_to_sentences(W)
    m = Word2Vec(min_count=1, workers=1, seed=seed, **kw)
    m.build_vocab_from_freq({str(i): int(c) for i, c in enumerate(counts) if c > 0})
    m.train(sentences, total_examples=len(sentences), epochs=m.epochs)
    return m


@pytest.mark.parametrize("kw", [dict(vector_size=8, window=5, negative=5, epochs=3),
                                dict(vector_size=6, window=3, negative=2, epochs=2, cbow_mean=0, sample=0,
                                     alpha=0.05)])
def test_cbow_equals_gensim_word2vec(kw):
    # 1,300 walks of 10 = 13,000 words: two jobs per epoch (gensim's 10,000-word batches, alpha per job)
    csr = to_csr(nx.barabasi_albert_graph(80, 3, seed=0))
    W = uniform_walks(csr, 1300, 10, rng=0)
    W[:7, 6:] = -1  # dead-end padding: shorter sentences
    m = _gensim(W, csr.n, 5, **kw)
    ids, X = cbow_embed(W, csr.n, dim=kw["vector_size"], window=kw["window"], negative=kw["negative"],
                        epochs=kw["epochs"], alpha=kw.get("alpha", 0.025), sample=kw.get("sample", 1e-3),
                        cbow_mean=bool(kw.get("cbow_mean", 1)), seed=5)
    assert ids.tolist() == [int(k) for k in m.wv.index_to_key]
    G = m.wv.vectors.astype(np.float64)
    assert np.linalg.norm(G) > 1.0  # trained (the initial vectors are within +-1/dim)
    # the same algorithm and random streams: equal up to float rounding (dot-product order, FMA)
    assert np.linalg.norm(X - G) / np.linalg.norm(G) < 1e-3


def test_vocab_tables_equal_gensim():
    counts = np.array([0, 5, 50, 5, 400, 1, 0, 7])
    m = Word2Vec(vector_size=4, min_count=1, seed=0)
    m.build_vocab_from_freq({str(i): int(c) for i, c in enumerate(counts) if c > 0})
    keys, sample_int, cum_table = cbow_vocab(counts)
    assert keys.tolist() == [int(k) for k in m.wv.index_to_key]  # ties: the later node first, as gensim
    assert np.array_equal(sample_int, m.wv.expandos["sample_int"]) and sample_int[0] < 2**32 - 1
    assert np.array_equal(cum_table, m.cum_table) and cum_table[-1] == 2**31 - 1


def _community_scores(ids, X, k=5):
    X = X - X.mean(0)  # centred, as PCA sees them
    Xn = X / np.linalg.norm(X, axis=1, keepdims=True)
    S = Xn @ Xn.T
    a = ids < 40
    within = (S[np.ix_(a, a)].mean() + S[np.ix_(~a, ~a)].mean()) / 2
    np.fill_diagonal(S, -np.inf)
    knn = np.argsort(-S, axis=1)[:, :k]
    return within, S[np.ix_(a, ~a)].mean(), (a[knn] == a[:, None]).mean(), knn


def test_cbow_deterministic_and_separates_communities_as_gensim():
    # two dense communities joined by one edge: nodes of a community end up close, the communities apart
    g = nx.disjoint_union(nx.random_regular_graph(6, 40, seed=0), nx.random_regular_graph(6, 40, seed=1))
    g.add_edge(0, 40)
    csr = to_csr(g)
    W = uniform_walks(csr, 800, 10, rng=0)
    ids, X = cbow_embed(W, csr.n, dim=8, seed=1)
    assert np.array_equal(X, cbow_embed(W, csr.n, dim=8, seed=1)[1])
    assert not np.array_equal(X, cbow_embed(W, csr.n, dim=8, seed=2)[1])
    within, between, knn_same, knn = _community_scores(ids, X)
    assert within > between + 0.5 and knn_same > 0.95  # 5 nearest neighbours (cosine) in the own community
    gids, G = embed_walks(W, csr.n, CNCImageConfig(dim=8), seed=1)  # gensim, same walks and seed
    g_within, g_between, g_knn_same, g_knn = _community_scores(gids, G)
    assert abs(within - g_within) < 0.05 and abs(between - g_between) < 0.05 and knn_same >= g_knn_same - 0.02
    overlap = np.mean([len(set(r) & set(q)) / 5 for r, q in zip(knn, g_knn)])
    assert overlap > 0.8  # the same nearest-neighbour structure


def test_cbow_errors_and_wiring():
    with pytest.raises(ConfigError):
        cbow_embed(np.array([[0, 1]]), 2, dim=0)
    with pytest.raises(ConfigError):
        cbow_embed(np.array([[0, 1]]), 2, batch_words=20000)
    with pytest.raises(DataError):
        cbow_embed(np.full((3, 4), -1), 5)
    with pytest.raises(ConfigError, match="skip-gram"):
        CNCImageConfig(embedder="cbow", sg=1).validate()
    assert image_cfg(NetclassConfig(embedder="cbow")).embedder == "cbow"
    csr = to_csr(nx.watts_strogatz_graph(60, 4, 0.1, seed=0))
    W = uniform_walks(csr, 300, 10, rng=0)
    cfg = CNCImageConfig(n_walks=300, embedder="cbow")
    ids, X = embed_walks(W, csr.n, cfg, seed=3)
    assert X.shape == (ids.size, 20) and X.dtype == np.float64
    img = cnc_image(nx.watts_strogatz_graph(80, 4, 0.1, seed=0), CNCImageConfig(walks_per_node=5, size=16,
                                                                                 embedder="cbow"))
    assert img.shape == (1, 16, 16) and np.isclose(img.sum(), 256)


def test_cbow_in_worker_processes_matches_serial():
    # featurise_many compiles the kernels before forking; the workers give the serial images
    specs = task_specs("ba_ws", 2, 40, seed=0)
    cfg = CNCImageConfig(n_walks=100, size=8, embedder="cbow")
    a = featurise_many(specs, cfg, workers=1, stats=False, edges=False)
    b = featurise_many(specs, cfg, workers=2, stats=False, edges=False)
    assert all(np.array_equal(x.image, y.image) and x.image.sum() > 0 for x, y in zip(a, b))
