import numpy as np

from paperzoo.retrieval.mining import mine_hard_negatives, random_negatives


def test_hard_negatives_rules_by_hand():
    q = np.array([[1.0, 0.0]])
    pool = np.array([[1.0, 0.0], [0.9, 0.1], [0.8, 0.2], [0.7, 0.3], [0.0, 1.0]])
    pool /= np.linalg.norm(pool, axis=1, keepdims=True)
    clusters = np.array([7, 3, 3, 4, 5])  # pool 0 is the query's own cluster
    neg = mine_hard_negatives(q, pool, np.array([7]), clusters, nnum=3, window=1)
    assert neg.tolist() == [[1, 3, 4]]  # nearest first, one per cluster, never cluster 7


def test_not_enough_clusters_marks_minus_one():
    neg = mine_hard_negatives(np.ones((1, 2)), np.ones((3, 2)), np.array([0]), np.array([0, 1, 1]), nnum=2)
    assert neg.tolist() == [[1, -1]] or neg.tolist() == [[2, -1]]


def test_random_negatives_rules():
    rng = np.random.default_rng(0)
    clusters = rng.integers(0, 10, 200)
    qc = rng.integers(0, 10, 20)
    neg = random_negatives(20, qc, clusters, 5, rng)
    for i in range(20):
        c = clusters[neg[i]]
        assert qc[i] not in c and len(set(c)) == 5
