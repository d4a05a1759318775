"""Shared image loaders (paperzoo.data.vision) on fixture files written in the real formats."""

import os
import pickle

import numpy as np
import pytest
import torch

from paperzoo.data.vision import (
    ImageFolderDataset,
    load_cifar,
    load_digits,
    load_svhn,
    random_crop_flip,
    read_image,
)
from paperzoo.errors import DataError


def _cifar_batch(path, n, seed, label_key=b"labels", classes=10):
    rng = np.random.default_rng(seed)
    d = {b"batch_label": b"fixture", label_key: rng.integers(0, classes, n).tolist(),
         b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8), b"filenames": [b"x.png"] * n}
    with open(path, "wb") as f:
        pickle.dump(d, f, protocol=2)
    return d


def test_cifar10_pickles(tmp_path):
    root = tmp_path / "cifar-10-batches-py"
    root.mkdir()
    batches = [_cifar_batch(root / f"data_batch_{i}", 4, i) for i in range(1, 6)]
    test = _cifar_batch(root / "test_batch", 3, 9)
    tr = load_cifar(tmp_path, "train")
    te = load_cifar(tmp_path, "test")
    assert len(tr) == 20 and len(te) == 3
    x, y = tr[5]
    assert x.shape == (3, 32, 32) and x.dtype == torch.float32 and 0 <= x.min() and x.max() <= 1
    # row layout: 1024 red, 1024 green, 1024 blue values of a 32x32 image
    raw = batches[1][b"data"][1]
    assert torch.allclose(x[1, 0, :4], torch.tensor(raw[1024:1028], dtype=torch.float32) / 255)
    assert int(y) == batches[1][b"labels"][1]
    assert te.labels.tolist() == test[b"labels"]


def test_cifar100_fine_labels(tmp_path):
    root = tmp_path / "cifar-100-python"
    root.mkdir()
    d = _cifar_batch(root / "train", 5, 0, b"fine_labels", 100)
    _cifar_batch(root / "test", 2, 1, b"fine_labels", 100)
    ds = load_cifar(tmp_path, "train", num_classes=100)
    assert ds.labels.tolist() == d[b"fine_labels"]


def test_cifar_missing_and_malicious(tmp_path):
    with pytest.raises(DataError, match="download CIFAR-10"):
        load_cifar(tmp_path, "train")
    root = tmp_path / "cifar-10-batches-py"
    root.mkdir()

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    with open(root / "test_batch", "wb") as f:
        pickle.dump({b"data": Evil()}, f)
    with pytest.raises(DataError, match="not a CIFAR"):
        load_cifar(tmp_path, "test")


def test_image_folder(tmp_path):
    from PIL import Image
    for c, color in (("cat", (255, 0, 0)), ("dog", (0, 0, 255))):
        (tmp_path / c).mkdir()
        for i in range(2):
            Image.new("RGB", (10, 6), color).save(tmp_path / c / f"{i}.png")
    (tmp_path / "dog" / "notes.txt").write_text("not an image")
    ds = ImageFolderDataset(tmp_path, size=8)
    assert ds.classes == ["cat", "dog"] and len(ds) == 4
    x, y = ds[3]
    assert x.shape == (3, 8, 8) and int(y) == 1 and x[2].mean() > 0.99 and x[0].mean() < 0.01
    with pytest.raises(DataError):
        ImageFolderDataset(tmp_path / "missing")
    (tmp_path / "cat" / "bad.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(DataError, match="cannot read"):
        read_image(tmp_path / "cat" / "bad.jpg")


def test_svhn_mat(tmp_path):
    from scipy.io import savemat
    X = np.random.default_rng(0).integers(0, 256, (32, 32, 3, 4), dtype=np.uint8)
    savemat(tmp_path / "test_32x32.mat", {"X": X, "y": np.array([[10], [1], [2], [10]], dtype=np.uint8)})
    ds = load_svhn(tmp_path, "test")
    assert len(ds) == 4 and ds.labels.tolist() == [0, 1, 2, 0]
    x, _ = ds[0]
    assert torch.allclose(x[:, 3, 5], torch.tensor(X[3, 5, :, 0], dtype=torch.float32) / 255)


def test_digits_split_and_augment():
    tr, te = load_digits("train"), load_digits("test")
    assert len(tr) + len(te) == 1797 and tr[0][0].shape == (1, 8, 8)
    assert float(tr.images.max()) == 1.0
    f = random_crop_flip(2, True, torch.Generator().manual_seed(0))
    assert f(torch.rand(3, 8, 8)).shape == (3, 8, 8)
