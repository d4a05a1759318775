"""Data for S1 (Ho & Chang, arXiv 2008.04509, Sec. 4: ImageNet and CIFAR-10).

Thin wrappers over the shared loaders in `paperzoo.data.vision`: a dataset *spec* names the
data, so the recipe and ``paperzoo snn convert --calib-data SPEC`` accept the same strings:

* ``digits`` — scikit-learn's embedded 8x8 digits (1 channel, 10 classes);
* a folder holding ``cifar-10-batches-py/`` (or the batch files) — CIFAR-10 python pickles;
* a folder holding ``cifar-100-python/`` — CIFAR-100;
* a folder ``root/<class>/<image>`` (or with ``train/`` and ``val/`` sub-trees) — ImageNet-style
  ImageFolder, resized to ``image_size``.

Images are float in [0, 1] and enter the SNN as a constant analog current (no per-channel mean
/ std normalisation, so the first layer's input scale λ_0 is 1).
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import torch
from torch.utils.data import DataLoader, Dataset, Subset

from ..data.vision import ImageFolderDataset, TensorImageDataset, load_cifar, load_digits
from ..errors import DataError

__all__ = ["load_dataset", "dataset_info", "batches", "calibration_batches"]


def _kind(spec: str) -> tuple[str, Path | None]:
    if spec.lower() == "digits":
        return "digits", None
    p = Path(spec)
    if not p.exists():
        raise DataError(f"data {spec!r} not found: give 'digits', a CIFAR folder (cifar-10-batches-py) or an "
                        f"image folder root/<class>/<image>")
    if (p / "cifar-10-batches-py").is_dir() or (p / "data_batch_1").is_file() or (p / "test_batch").is_file():
        return "cifar10", p
    if (p / "cifar-100-python").is_dir() or ((p / "train").is_file() and (p / "meta").is_file()):
        return "cifar100", p
    if p.is_dir():
        return "imagefolder", p
    raise DataError(f"data {spec!r} is a file; give 'digits' or a folder (CIFAR batches or root/<class>/<image>)")


def dataset_info(spec: str, image_size: int = 224) -> dict:
    """``{"kind", "in_chans", "num_classes"}`` for a spec (reads only what it must)."""
    kind, p = _kind(spec)
    if kind == "digits":
        return {"kind": kind, "in_chans": 1, "num_classes": 10}
    if kind in ("cifar10", "cifar100"):
        return {"kind": kind, "in_chans": 3, "num_classes": 10 if kind == "cifar10" else 100}
    root = p / "train" if (p / "train").is_dir() else p
    return {"kind": kind, "in_chans": 3, "num_classes": len([d for d in root.iterdir() if d.is_dir()])}


def load_dataset(spec: str, split: str = "train", image_size: int = 224, seed: int = 0) -> Dataset:
    """The ``split`` ("train" or "test") of the data named by ``spec``."""
    if split not in ("train", "test"):
        raise DataError(f"split must be train or test, got {split!r}")
    kind, p = _kind(spec)
    if kind == "digits":
        return load_digits(split, seed=seed)
    if kind == "cifar10":
        return load_cifar(p, split, 10)
    if kind == "cifar100":
        return load_cifar(p, split, 100)
    sub = {"train": ("train",), "test": ("val", "test", "validation")}[split]
    for s in sub:
        if (p / s).is_dir():
            return ImageFolderDataset(p / s, size=image_size)
    return ImageFolderDataset(p, size=image_size)  # a single tree serves both splits


def batches(ds: Dataset, batch_size: int, limit: int = 0, shuffle: bool = False,
            generator: torch.Generator | None = None) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """(x, y) batches; a `TensorImageDataset` without transform is sliced directly (fast path)."""
    n = len(ds) if limit <= 0 else min(limit, len(ds))
    if isinstance(ds, TensorImageDataset) and ds.transform is None:
        idx = torch.randperm(len(ds), generator=generator)[:n] if shuffle else torch.arange(n)
        for i in range(0, n, batch_size):
            j = idx[i:i + batch_size]
            x = ds.images[j]
            yield (x.float() / 255.0 if x.dtype == torch.uint8 else x), ds.labels[j]
        return
    idx = torch.randperm(len(ds), generator=generator)[:n].tolist() if shuffle else list(range(n))
    yield from DataLoader(Subset(ds, idx), batch_size=batch_size, shuffle=False, num_workers=0)


def calibration_batches(ds: Dataset, batch_size: int, n_batches: int, seed: int = 0) -> list[torch.Tensor]:
    """Input tensors of ``n_batches`` random batches for max / percentile calibration."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for x, _ in batches(ds, batch_size, limit=batch_size * n_batches, shuffle=True, generator=g):
        out.append(x)
    if not out:
        raise DataError("calibration data is empty")
    return out
