"""Datasets of the Pyramidal RoR paper (Zhang et al. 2017, arXiv 1710.00307, Sec. 4) on the shared loaders.

CIFAR-10/100 (python pickles) and SVHN (format-2 ``.mat``) are read by `paperzoo.data.vision`; this
module adds the papers' preprocessing: per-channel normalisation with training-set statistics and
the standard augmentation -- pad-4 random crop + horizontal flip for CIFAR (PyramidNet, Han et al.
Sec. 4.1), pad-4 random crop without flip for SVHN (digits are not mirror-symmetric). Deviation: RoR
trains SVHN on ``train`` + ``extra`` without augmentation; ``svhn_extra`` keeps the extra split
selectable and the crop is kept (set ``augment=False`` for RoR's setting). ``digits`` is
scikit-learn's 8x8 handwritten digits (embedded) for the quick preset, crop with pad 1, no flip.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from torch.utils.data import ConcatDataset, Dataset

from ..data import load_cifar, load_digits, load_svhn, random_crop_flip
from ..errors import DataError

__all__ = ["DATASETS", "DataBundle", "Normalize", "Compose", "channel_stats", "build_datasets"]

DATASETS = ("digits", "cifar10", "cifar100", "svhn")


class Normalize:
    """Per-channel ``(x - mean) / std`` on a (C, H, W) float tensor."""

    def __init__(self, mean: torch.Tensor, std: torch.Tensor):
        self.mean = mean.reshape(-1, 1, 1).float()
        self.std = std.reshape(-1, 1, 1).float().clamp_min(1e-6)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


class Compose:
    """Apply transforms in order (MONAI/torchvision style)."""

    def __init__(self, *fns: Callable[[torch.Tensor], torch.Tensor]):
        self.fns = [f for f in fns if f is not None]

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        for f in self.fns:
            x = f(x)
        return x


def channel_stats(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and std of (N, C, H, W) images in [0, 1] (uint8 is scaled by 1/255)."""
    x = images.float() / 255.0 if images.dtype == torch.uint8 else images.float()
    x = x.transpose(0, 1).reshape(x.shape[1], -1)
    return x.mean(1), x.std(1)


@dataclass
class DataBundle:
    train: Dataset
    test: Dataset
    num_classes: int
    in_chans: int
    image_size: int


def build_datasets(name: str, data_dir: str | Path | None = None, *, augment: bool = True, seed: int = 0,
                   svhn_extra: bool = False, digits_size: int = 8) -> DataBundle:
    """Train/test datasets with the paper's preprocessing; bad names or paths raise `DataError`."""
    if name not in DATASETS:
        raise DataError(f"unknown dataset {name!r}; choose from {', '.join(DATASETS)}")
    if name == "digits":
        tr, te = load_digits("train", seed=seed, size=digits_size), load_digits("test", seed=seed, size=digits_size)
        pad, flip, classes = 1, False, 10
    else:
        if data_dir is None:
            raise DataError(f"dataset {name} needs --data-dir with its files (see docs/pyramidal.md)")
        if name == "svhn":
            tr, te = load_svhn(data_dir, "train"), load_svhn(data_dir, "test")
            pad, flip, classes = 4, False, 10
        else:
            classes = 10 if name == "cifar10" else 100
            tr, te = load_cifar(data_dir, "train", classes), load_cifar(data_dir, "test", classes)
            pad, flip = 4, True
    mean, std = channel_stats(tr.images)
    norm = Normalize(mean, std)
    tr.transform = Compose(random_crop_flip(pad, flip) if augment else None, norm)
    te.transform = norm
    train: Dataset = tr
    if name == "svhn" and svhn_extra:
        ex = load_svhn(data_dir, "extra")
        ex.transform = tr.transform
        train = ConcatDataset([tr, ex])
    C, H = tr.images.shape[1], tr.images.shape[2]
    return DataBundle(train, te, classes, C, H)

