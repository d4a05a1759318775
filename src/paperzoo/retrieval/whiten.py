"""Whitening of global descriptors: learned from matching pairs (Lw) and PCA whitening (PCA-w).

Radenović, Tolias, Chum, "Fine-tuning CNN Image Retrieval with No Human Annotation", TPAMI 2019,
arXiv 1711.02512, Sec. 4 (learned whitening, after Mikolajczyk & Matas, ICCV 2007). The steps
follow cirtorch ``utils/whiten.py`` (``whitenlearn``, ``pcawhitenlearn``, ``whitenapply``,
``cholesky``; https://github.com/filipradenovic/cnnimageretrieval-pytorch) and MatConvNet
``whitenlearn.m``. Arrays are laid out D x N (one column per image) as the reference.

Lw, `whitenlearn(X, qidxs, pidxs)`:
  1. m = mean of the query descriptors X[:, qidxs];
  2. S = (Xq - Xp)(Xq - Xp)^T / #pairs, the covariance of matching-pair differences;
  3. P1 = inv(chol(S)) (alpha I added, alpha = 1e-10, 1e-9, ..., until S is positive definite);
  4. D = P1 (X - m)(X - m)^T P1^T over all descriptors X (the code uses all of them; a TF port
     describes this step as the non-matching covariance -- we follow the code);
  5. eigenvectors V of D, eigenvalues descending; P = V^T P1.
Apply (`whitenapply`): x <- P[:d] (x - m), then L2-normalise. `to_linear` exports (m, P) as an
``nn.Linear`` with W = P[:d], b = -P[:d] m (how the reference initialises its "-w" networks).

Deviation: eigen-decompositions use ``numpy.linalg.eigh`` (the matrices are symmetric) instead
of ``eig``; PCA-w floors eigenvalues at 1e-12 x the largest instead of dividing by zero.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn

from ..errors import DataError

__all__ = ["cholesky", "whitenlearn", "pcawhitenlearn", "whitenapply", "to_linear"]


def cholesky(S: np.ndarray) -> np.ndarray:
    """Lower Cholesky factor of S, adding alpha I (1e-10, x10 ...) until S is positive definite."""
    alpha = 0.0
    eye = np.eye(*S.shape)
    for _ in range(40):
        try:
            return np.linalg.cholesky(S + alpha * eye)
        except np.linalg.LinAlgError:
            alpha = 1e-10 if alpha == 0 else alpha * 10
    raise DataError("whitening: the pair-difference covariance is not positive definite even with a 1e29 ridge")


def whitenlearn(X: np.ndarray, qidxs, pidxs) -> tuple[np.ndarray, np.ndarray]:
    """Learned whitening (Lw) from matching pairs. X: (D, N); returns m (D, 1) and P (D, D)."""
    X = np.asarray(X, dtype=np.float64)
    qidxs, pidxs = np.asarray(qidxs), np.asarray(pidxs)
    if len(qidxs) == 0 or len(qidxs) != len(pidxs):
        raise DataError(f"whitening needs matching pairs: got {len(qidxs)} queries and {len(pidxs)} positives")
    m = X[:, qidxs].mean(axis=1, keepdims=True)            # step 1
    df = X[:, qidxs] - X[:, pidxs]
    S = df @ df.T / df.shape[1]                              # step 2
    P = np.linalg.inv(cholesky(S))                           # step 3
    df = P @ (X - m)
    D = df @ df.T                                            # step 4
    eigval, eigvec = np.linalg.eigh(D)                       # step 5
    order = eigval.argsort()[::-1]
    P = eigvec[:, order].T @ P
    return m, P


def pcawhitenlearn(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """PCA whitening: m = mean, C = Xc Xc^T / N (symmetrised), P = diag(lambda^-1/2) E^T."""
    X = np.asarray(X, dtype=np.float64)
    N = X.shape[1]
    m = X.mean(axis=1, keepdims=True)
    Xc = X - m
    C = Xc @ Xc.T
    C = (C + C.T) / (2 * N)
    eigval, eigvec = np.linalg.eigh(C)
    order = eigval.argsort()[::-1]
    eigval, eigvec = eigval[order], eigvec[:, order]
    eigval = np.maximum(eigval, 1e-12 * max(float(eigval[0]), 1e-30))
    P = np.diag(eigval ** -0.5) @ eigvec.T
    return m, P


def whitenapply(X: np.ndarray, m: np.ndarray, P: np.ndarray, dimensions: int | None = None) -> np.ndarray:
    """x <- P[:d] (x - m), L2-normalised per column (eps 1e-6). X: (D, N) -> (d, N)."""
    d = dimensions or P.shape[0]
    Y = P[:d, :] @ (np.asarray(X, dtype=np.float64) - m)
    return Y / (np.linalg.norm(Y, ord=2, axis=0, keepdims=True) + 1e-6)


def to_linear(m: np.ndarray, P: np.ndarray, dimensions: int | None = None) -> nn.Linear:
    """The whitening as ``nn.Linear(D, d)``: W = P[:d], b = -P[:d] m (follow it by L2 normalisation)."""
    d = dimensions or P.shape[0]
    W = P[:d, :]
    lin = nn.Linear(P.shape[1], d, bias=True)
    with torch.no_grad():
        lin.weight.copy_(torch.as_tensor(W, dtype=torch.float32))
        lin.bias.copy_(torch.as_tensor(-(W @ m).ravel(), dtype=torch.float32))
    return lin
