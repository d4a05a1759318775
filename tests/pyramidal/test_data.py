"""Loader tests on fixture files in the real formats: SVHN .mat (scipy), CIFAR-10/100 python pickles."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import scipy.io
import torch

from paperzoo.data import load_cifar, load_svhn
from paperzoo.errors import DataError
from paperzoo.pyramidal.data import build_datasets, channel_stats


def write_svhn(root, split: str, n: int, rng) -> tuple[np.ndarray, np.ndarray]:
    X = rng.integers(0, 256, (32, 32, 3, n), dtype=np.uint8)  # H x W x C x N
    y = rng.integers(1, 11, (n, 1)).astype(np.uint8)           # 10 means digit 0
    scipy.io.savemat(root / f"{split}_32x32.mat", {"X": X, "y": y})
    return X, y


def write_cifar100(root, n_train: int, n_test: int, rng) -> dict:
    d = root / "cifar-100-python"
    d.mkdir()
    out = {}
    for name, n in (("train", n_train), ("test", n_test)):
        b = {b"filenames": [f"{i}.png".encode() for i in range(n)], b"batch_label": name.encode(),
             b"fine_labels": rng.integers(0, 100, n).tolist(), b"coarse_labels": rng.integers(0, 20, n).tolist(),
             b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8)}
        with open(d / name, "wb") as f:
            pickle.dump(b, f, protocol=2)
        out[name] = b
    with open(d / "meta", "wb") as f:
        pickle.dump({b"fine_label_names": [b"c%d" % i for i in range(100)],
                     b"coarse_label_names": [b"s%d" % i for i in range(20)]}, f)
    return out


def write_cifar10(root, n: int, rng) -> None:
    d = root / "cifar-10-batches-py"
    d.mkdir()
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        b = {b"labels": rng.integers(0, 10, n).tolist(), b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
             b"batch_label": name.encode(), b"filenames": [b"x.png"] * n}
        with open(d / name, "wb") as f:
            pickle.dump(b, f)


def test_svhn_mat(tmp_path):
    rng = np.random.default_rng(0)
    X, y = write_svhn(tmp_path, "train", 6, rng)
    ds = load_svhn(tmp_path, "train")
    assert ds.images.shape == (6, 3, 32, 32) and ds.images.dtype == torch.uint8
    assert torch.equal(ds.images[2], torch.from_numpy(X[:, :, :, 2]).permute(2, 0, 1))
    assert ds.labels.tolist() == [int(v) % 10 for v in y[:, 0]]
    assert 0 <= ds.labels.min() and ds.labels.max() <= 9


def test_cifar100_pickles(tmp_path):
    rng = np.random.default_rng(1)
    b = write_cifar100(tmp_path, 5, 3, rng)
    tr, te = load_cifar(tmp_path, "train", 100), load_cifar(tmp_path, "test", 100)
    assert tr.images.shape == (5, 3, 32, 32) and len(te) == 3
    assert tr.labels.tolist() == b["train"][b"fine_labels"]
    # planar R, G, B rows of 1024 values each
    assert torch.equal(tr.images[0, 1].flatten(), torch.from_numpy(b["train"][b"data"][0, 1024:2048]))


def test_build_datasets_cifar_svhn(tmp_path):
    rng = np.random.default_rng(2)
    write_cifar10(tmp_path, 4, rng)
    c = build_datasets("cifar10", tmp_path)
    assert (c.num_classes, c.in_chans, c.image_size, len(c.train), len(c.test)) == (10, 3, 32, 20, 4)
    x, y = c.train[0]
    assert x.shape == (3, 32, 32) and x.dtype == torch.float32 and 0 <= int(y) < 10
    write_cifar100(tmp_path, 8, 2, rng)
    assert build_datasets("cifar100", tmp_path).num_classes == 100
    write_svhn(tmp_path, "train", 5, rng)
    write_svhn(tmp_path, "test", 3, rng)
    write_svhn(tmp_path, "extra", 4, rng)
    s = build_datasets("svhn", tmp_path, svhn_extra=True)
    assert len(s.train) == 9 and len(s.test) == 3
    # test images: normalised with the training set's channel statistics, no augmentation
    mean, std = channel_stats(load_svhn(tmp_path, "train").images)
    raw = load_svhn(tmp_path, "test").images[0].float() / 255
    torch.testing.assert_close(s.test[0][0], (raw - mean[:, None, None]) / std[:, None, None])


def test_digits_and_errors(tmp_path):
    d = build_datasets("digits")
    assert d.in_chans == 1 and d.image_size == 8 and len(d.train) + len(d.test) == 1797
    with pytest.raises(DataError, match="data-dir"):
        build_datasets("cifar10")
    with pytest.raises(DataError, match="unknown dataset"):
        build_datasets("mnist")
    with pytest.raises(DataError, match="train_32x32.mat"):
        build_datasets("svhn", tmp_path)
    (tmp_path / "train_32x32.mat").write_bytes(b"not a mat file")
    with pytest.raises(DataError):
        load_svhn(tmp_path, "train")
