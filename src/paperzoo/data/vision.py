"""Image-classification data: digits (embedded), CIFAR-10/100 (python pickle), SVHN (.mat), ImageFolder.

Formats (what the user's ``--data-dir`` must hold):
  * CIFAR-10: ``cifar-10-batches-py/data_batch_{1..5}``, ``test_batch`` — pickled dicts with
    ``b"data"`` (N, 3072) uint8 (R, G, B planes of 32x32) and ``b"labels"``
    (https://www.cs.toronto.edu/~kriz/cifar.html). CIFAR-100: ``cifar-100-python/{train,test}``
    with ``b"fine_labels"``. Read with a restricted unpickler that admits only NumPy's array
    reconstruction, never arbitrary classes.
  * SVHN (format 2): ``train_32x32.mat``, ``test_32x32.mat`` (``extra_32x32.mat``): ``X`` (32, 32, 3, N)
    uint8 and ``y`` (N, 1) with label 10 meaning digit 0 (http://ufldl.stanford.edu/housenumbers/).
  * ImageFolder: ``root/<class>/<image>`` (jpg/png/...), classes sorted by name, as torchvision.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from ..errors import DataError

__all__ = ["TensorImageDataset", "ImageFolderDataset", "load_digits", "load_cifar", "load_svhn",
           "random_crop_flip", "IMAGE_EXTENSIONS", "read_image", "NumpyOnlyUnpickler"]

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".pgm", ".tif", ".tiff", ".webp")


class TensorImageDataset(Dataset):
    """Images (N, C, H, W) float in [0, 1] (or uint8) + labels (N,), with an optional transform."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, transform: Callable | None = None,
                 classes: Sequence[str] | None = None):
        if len(images) != len(labels):
            raise DataError(f"{len(images)} images but {len(labels)} labels")
        self.images, self.labels, self.transform = images, labels.long(), transform
        self.classes = list(classes) if classes is not None else sorted({int(c) for c in labels.tolist()})

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        x = self.images[i]
        if x.dtype == torch.uint8:
            x = x.float() / 255.0
        if self.transform is not None:
            x = self.transform(x)
        return x, self.labels[i]


def load_digits(split: str = "train", test_fraction: float = 0.3, seed: int = 0, size: int = 8) -> TensorImageDataset:
    """scikit-learn's 1,797 8x8 handwritten digits (embedded, real), scaled to [0, 1].

    A fixed stratified split (``seed``) gives train/test; ``size`` > 8 upsamples bilinearly.
    """
    from sklearn.datasets import load_digits as _ld
    from sklearn.model_selection import train_test_split

    d = _ld()
    X = torch.tensor(d.images, dtype=torch.float32).unsqueeze(1) / 16.0
    y = torch.tensor(d.target)
    idx = np.arange(len(y))
    tr, te = train_test_split(idx, test_size=test_fraction, random_state=seed, stratify=d.target)
    sel = {"train": tr, "test": te, "all": idx}.get(split)
    if sel is None:
        raise DataError(f"split must be train, test or all, got {split!r}")
    X, y = X[sel], y[sel]
    if size != 8:
        X = torch.nn.functional.interpolate(X, size=(size, size), mode="bilinear", align_corners=False)
    return TensorImageDataset(X, y, classes=[str(i) for i in range(10)])


class NumpyOnlyUnpickler(pickle.Unpickler):
    """Admits only NumPy array reconstruction and dtypes (what CIFAR's pickles need); subclasses widen ``_ALLOWED``."""

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"), ("_codecs", "encode"),
    }

    def find_class(self, module: str, name: str):
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a data file")


def _read_cifar_batch(path: Path) -> dict:
    try:
        with open(path, "rb") as f:
            return NumpyOnlyUnpickler(io.BytesIO(f.read()), encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError) as e:
        raise DataError(f"{path} is not a CIFAR python batch ({e})") from None


def load_cifar(root: str | Path, split: str = "train", num_classes: int = 10) -> TensorImageDataset:
    """CIFAR-10/100 from the official python-pickle files under ``root`` (uint8 images)."""
    root = Path(root)
    if num_classes == 10:
        d = root / "cifar-10-batches-py" if (root / "cifar-10-batches-py").is_dir() else root
        files = [d / f"data_batch_{i}" for i in range(1, 6)] if split == "train" else [d / "test_batch"]
        key = b"labels"
    elif num_classes == 100:
        d = root / "cifar-100-python" if (root / "cifar-100-python").is_dir() else root
        files = [d / ("train" if split == "train" else "test")]
        key = b"fine_labels"
    else:
        raise DataError(f"num_classes must be 10 or 100 for CIFAR, got {num_classes}")
    missing = [f.name for f in files if not f.is_file()]
    if missing:
        raise DataError(f"{d} lacks {', '.join(missing)}: download CIFAR-{num_classes} (python version) and "
                        f"extract it into --data-dir")
    xs, ys = [], []
    for f in files:
        b = _read_cifar_batch(f)
        xs.append(np.asarray(b[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
        ys.append(np.asarray(b[key], dtype=np.int64))
    return TensorImageDataset(torch.from_numpy(np.concatenate(xs)), torch.from_numpy(np.concatenate(ys)))


def load_svhn(root: str | Path, split: str = "train") -> TensorImageDataset:
    """SVHN format 2 (``{split}_32x32.mat``); label 10 is mapped to digit 0."""
    from scipy.io import loadmat

    path = Path(root) / f"{split}_32x32.mat"
    if not path.is_file():
        raise DataError(f"{path} not found: download SVHN format 2 ({split}_32x32.mat) into --data-dir")
    try:
        m = loadmat(str(path))
    except Exception as e:  # scipy raises several types on a bad file
        raise DataError(f"{path} is not a readable .mat file ({e})") from None
    X = np.transpose(m["X"], (3, 2, 0, 1)).astype(np.uint8)
    y = m["y"].reshape(-1).astype(np.int64) % 10
    return TensorImageDataset(torch.from_numpy(np.ascontiguousarray(X)), torch.from_numpy(y))


def read_image(path: str | Path, size: int | tuple[int, int] | None = None, mode: str = "RGB") -> torch.Tensor:
    """An image file as a float tensor (C, H, W) in [0, 1]; unreadable files raise `DataError`."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im = im.convert(mode)
            if size is not None:
                im = im.resize((size, size) if isinstance(size, int) else size[::-1], Image.BILINEAR)
            a = np.asarray(im, dtype=np.uint8)
    except (UnidentifiedImageError, OSError) as e:
        raise DataError(f"cannot read image {path}: {e}") from None
    t = torch.from_numpy(a.copy()).float() / 255.0
    return t.unsqueeze(0) if t.dim() == 2 else t.permute(2, 0, 1)


class ImageFolderDataset(Dataset):
    """``root/<class>/<image>``, classes sorted by name (torchvision's ImageFolder layout)."""

    def __init__(self, root: str | Path, size: int = 224, transform: Callable | None = None):
        root = Path(root)
        if not root.is_dir():
            raise DataError(f"image folder {root} does not exist")
        self.classes = sorted(p.name for p in root.iterdir() if p.is_dir())
        if not self.classes:
            raise DataError(f"{root} has no class sub-folders; expected root/<class>/<image>.jpg")
        self.samples = [(p, i) for i, c in enumerate(self.classes) for p in sorted((root / c).rglob("*"))
                        if p.suffix.lower() in IMAGE_EXTENSIONS]
        if not self.samples:
            raise DataError(f"{root} has class folders but no images ({', '.join(IMAGE_EXTENSIONS)})")
        self.size, self.transform = size, transform

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int):
        p, y = self.samples[i]
        x = read_image(p, self.size)
        if self.transform is not None:
            x = self.transform(x)
        return x, torch.tensor(y)


def random_crop_flip(pad: int = 4, flip: bool = True, generator: torch.Generator | None = None) -> Callable:
    """The standard CIFAR augmentation: zero-pad by ``pad``, random crop back, random horizontal flip."""

    def f(x: torch.Tensor) -> torch.Tensor:
        C, H, W = x.shape
        xp = torch.nn.functional.pad(x, (pad, pad, pad, pad))
        i, j = torch.randint(0, 2 * pad + 1, (2,), generator=generator).tolist()
        x = xp[:, i:i + H, j:j + W]
        if flip and torch.rand((), generator=generator) < 0.5:
            x = x.flip(-1)
        return x

    return f
