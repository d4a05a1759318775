"""Unsupervised hashing baselines on the same input descriptors: LSH, PCAH, ITQ, spectral hashing.

Written in-house (NumPy; scikit-learn's PCA), as the S7 notes ask (Sec. 4):
  * LSH: sign of a Gaussian random projection of the centred data (Charikar, STOC 2002).
  * PCAH: sign of the top-L principal components.
  * ITQ: Gong & Lazebnik, "Iterative Quantization: A Procrustean Approach to Learning Binary Codes",
    CVPR 2011 (``ITQ.m`` in https://github.com/dzungdoan6/uh-bdnn): V = PCA_L(X - mu); random
    orthogonal R; n_iter times B = sign(VR), SVD of B^T V = U S W^T, R = W U^T; codes sign(VR).
  * SH: Weiss, Torralba, Fergus, "Spectral Hashing", NIPS 2008 (``trainSH.m``/``compressSH.m``):
    PCA to L dims, box [mn, mx] per dim, single-dimension eigenfunction modes with omega = k pi / (mx - mn),
    the L modes of smallest omega^2 (largest eigenvalue); bit = sign(sin(pi/2 + omega (x - mn))).
Each is a ``fit(X)`` / ``encode(X) -> {-1, +1}`` object.
"""

from __future__ import annotations

import numpy as np
from sklearn.decomposition import PCA

from ..errors import ConfigError

__all__ = ["LSH", "PCAH", "ITQ", "SpectralHashing", "BASELINES", "make_baseline"]


def _sign(x: np.ndarray) -> np.ndarray:
    return np.where(x >= 0, 1, -1).astype(np.int8)


class _PCABase:
    def __init__(self, bits: int, seed: int = 0):
        self.bits, self.seed = int(bits), seed

    def _pca(self, X: np.ndarray) -> None:
        if self.bits > min(X.shape):
            raise ConfigError(f"{type(self).__name__} needs bits <= min(n, descriptor dim) = {min(X.shape)}, "
                              f"got {self.bits}")
        self.pca = PCA(self.bits, random_state=self.seed).fit(X)


class LSH(_PCABase):
    def fit(self, X: np.ndarray) -> "LSH":
        self.mean = X.mean(0)
        self.W = np.random.default_rng(self.seed).standard_normal((X.shape[1], self.bits))
        return self

    def encode(self, X: np.ndarray) -> np.ndarray:
        return _sign((X - self.mean) @ self.W)


class PCAH(_PCABase):
    def fit(self, X: np.ndarray) -> "PCAH":
        self._pca(X)
        return self

    def encode(self, X: np.ndarray) -> np.ndarray:
        return _sign(self.pca.transform(X))


class ITQ(_PCABase):
    def __init__(self, bits: int, seed: int = 0, n_iter: int = 50):
        super().__init__(bits, seed)
        self.n_iter = n_iter

    def fit(self, X: np.ndarray) -> "ITQ":
        self._pca(X)
        V = self.pca.transform(X)
        R = np.linalg.qr(np.random.default_rng(self.seed).standard_normal((self.bits, self.bits)))[0]
        for _ in range(self.n_iter):
            B = np.where(V @ R >= 0, 1.0, -1.0)
            U, _, Wt = np.linalg.svd(B.T @ V)  # B^T V = U S W^T
            R = (U @ Wt).T  # R = W U^T (orthogonal Procrustes)
        self.R = R
        return self

    def encode(self, X: np.ndarray) -> np.ndarray:
        return _sign(self.pca.transform(X) @ self.R)


class SpectralHashing(_PCABase):
    def fit(self, X: np.ndarray) -> "SpectralHashing":
        self._pca(X)
        V = self.pca.transform(X)
        self.mn, mx = V.min(0) - 1e-9, V.max(0) + 1e-9
        R = mx - self.mn
        max_mode = np.ceil((self.bits + 1) * R / R.max()).astype(int)
        modes = [(d, k) for d in range(self.bits) for k in range(1, max_mode[d] + 1)]
        omega2 = np.array([(k * np.pi / R[d]) ** 2 for d, k in modes])
        order = np.argsort(omega2, kind="stable")[:self.bits]
        self.dims = np.array([modes[i][0] for i in order])
        self.omega = np.array([modes[i][1] * np.pi / R[modes[i][0]] for i in order])
        return self

    def encode(self, X: np.ndarray) -> np.ndarray:
        V = self.pca.transform(X)
        return _sign(np.sin(np.pi / 2 + self.omega * (V[:, self.dims] - self.mn[self.dims])))


BASELINES = {"LSH": LSH, "PCAH": PCAH, "ITQ": ITQ, "SH": SpectralHashing}


def make_baseline(name: str, bits: int, seed: int = 0):
    if name not in BASELINES:
        raise ConfigError(f"baseline must be one of {', '.join(BASELINES)}, got {name!r}")
    return BASELINES[name](bits, seed)
