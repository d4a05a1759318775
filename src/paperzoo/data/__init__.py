"""Shared data contracts: image-classification loaders and small transforms.

Every loader returns an `ImageDataset` (uint8/float images as a tensor + int64 labels) or a
lazily-read folder dataset; bad paths raise a one-line `DataError` naming the expected layout.
"""

from .text import CharCorpus, load_text
from .vision import (
    ImageFolderDataset,
    TensorImageDataset,
    load_cifar,
    load_digits,
    load_svhn,
    random_crop_flip,
)

__all__ = ["CharCorpus", "load_text", "TensorImageDataset", "ImageFolderDataset", "load_digits", "load_cifar", "load_svhn", "random_crop_flip"]
