import numpy as np
import pytest
import torch

from paperzoo.retrieval.whiten import cholesky, pcawhitenlearn, to_linear, whitenapply, whitenlearn


def _data(D=6, N=200, seed=0):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((D, D))
    X = A @ rng.standard_normal((D, N)) + 3.0
    q = np.arange(0, N, 2)
    p = q + 1
    X[:, p] = X[:, q] + 0.1 * rng.standard_normal((D, len(q)))  # matching pairs are close
    return X, q, p


def test_lw_whitens_pair_differences_and_decorrelates():
    X, q, p = _data()
    m, P = whitenlearn(X, q, p)
    df = P @ (X[:, q] - X[:, p])
    assert np.allclose(df @ df.T / len(q), np.eye(6), atol=1e-6)      # pair covariance -> identity
    Y = P @ (X - m)
    C = Y @ Y.T
    assert np.allclose(C - np.diag(np.diag(C)), 0, atol=1e-6)            # rotated: diagonal
    assert np.all(np.diff(np.diag(C)) <= 1e-9)                           # variances descending
    assert np.allclose(m[:, 0], X[:, q].mean(1))                         # centred on the query mean


def test_pcaw_identity_covariance():
    X, _, _ = _data()
    m, P = pcawhitenlearn(X)
    Y = P @ (X - m)
    assert np.allclose(Y @ Y.T / X.shape[1], np.eye(6), atol=1e-6)


def test_cholesky_adds_ridge_for_singular():
    S = np.ones((3, 3))
    L = cholesky(S)
    assert np.allclose(L @ L.T, S, atol=1e-3)


@pytest.mark.parametrize("dims", [None, 3])
def test_linear_export_matches_whitenapply(dims):
    X, q, p = _data()
    m, P = whitenlearn(X, q, p)
    ref = whitenapply(X, m, P, dims)
    lin = to_linear(m, P, dims)
    y = lin(torch.tensor(X.T, dtype=torch.float32)).double()
    y = y / (y.norm(dim=1, keepdim=True) + 1e-6)
    assert y.shape[1] == (dims or 6)
    assert np.allclose(y.detach().numpy(), ref.T, atol=1e-4)
