"""Image sources, descriptor extraction and model files for retrieval (used by the recipe and the CLI).

Radenović, Tolias, Chum, arXiv 1711.02512; extraction follows cirtorch ``networks/imageretrievalnet.py``
(``extract_vectors``, ``extract_ss``, ``extract_ms``; https://github.com/filipradenovic/cnnimageretrieval-pytorch)
without its hard-coded ``.cuda()``: descriptors are computed on the network's device.
A model file is ``NAME.safetensors`` (weights) + ``NAME.json`` (architecture, pooling, whitening size,
image size) -- never a pickle.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from ..engine import atomic_write_json, load_weights, save_weights
from ..errors import CheckpointError
from .data import load_image
from .model import ImageRetrievalNet, build_retrieval_net, extract_ms

__all__ = ["ArraySource", "FileSource", "describe", "save_retrieval_model", "load_retrieval_model",
           "IMAGENET_MEAN", "IMAGENET_STD"]

IMAGENET_MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
IMAGENET_STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


class ArraySource:
    """Images held in memory, (N, 3, S, S) floats in [0, 1]; all the same size (batched)."""

    fixed = True

    def __init__(self, images: np.ndarray | torch.Tensor):
        self.images = torch.as_tensor(np.asarray(images, dtype=np.float32))

    def __len__(self) -> int:
        return len(self.images)

    def get(self, idxs: Sequence[int]) -> torch.Tensor:
        return self.images[torch.as_tensor(np.asarray(idxs, dtype=np.int64))]


class FileSource:
    """Image files read on demand: longer side capped at ``imsize`` (never upscaled), optional bboxes."""

    fixed = False

    def __init__(self, paths: Sequence[str | Path], imsize: int, bbxs: Sequence | None = None, square: bool = False):
        self.paths, self.imsize, self.bbxs, self.square = list(paths), imsize, bbxs, square

    def __len__(self) -> int:
        return len(self.paths)

    def get(self, idxs: Sequence[int]) -> list[torch.Tensor]:
        return [load_image(self.paths[i], self.imsize, None if self.bbxs is None else self.bbxs[i], self.square)
                for i in idxs]


def _normalise(x: torch.Tensor) -> torch.Tensor:
    return (x - IMAGENET_MEAN.to(x.device)) / IMAGENET_STD.to(x.device)


@torch.no_grad()
def describe(net: ImageRetrievalNet, source, idxs: Sequence[int] | None = None, batch: int = 256,
             scales: Sequence[float] = (1.0,), device: torch.device | str | None = None) -> np.ndarray:
    """L2-normalised descriptors (n, D) of ``source`` images (eval mode; multi-scale if len(scales) > 1),
    computed on ``device`` (default: where the net's weights are)."""
    device = next(net.parameters()).device if device is None else device
    was = net.training
    net.eval()
    idxs = list(range(len(source))) if idxs is None else list(idxs)
    out = []
    step = batch if source.fixed else 1
    for s in range(0, len(idxs), step):
        x = source.get(idxs[s:s + step])
        x = x if isinstance(x, torch.Tensor) else x[0].unsqueeze(0)
        x = _normalise(x.to(device))
        v = net(x) if len(scales) == 1 and scales[0] == 1 else extract_ms(net, x, scales)
        out.append(v.cpu())
    net.train(was)
    return torch.cat(out).numpy() if out else np.zeros((0, net.out_dim), np.float32)


def save_retrieval_model(net: ImageRetrievalNet, path: str | Path, imsize: int, extra: dict | None = None) -> Path:
    """Write ``path`` (.safetensors) and its ``.json`` manifest atomically."""
    path = Path(path).with_suffix(".safetensors")
    meta = {"format": "paperzoo.retrieval/1", "arch": net.meta.get("arch"), "width": int(net.meta.get("width", 16)),
            "pool": net.meta.get("pool"), "whiten_dim": net.whiten.out_features if net.whiten is not None else None,
            "dim": net.out_dim, "imsize": int(imsize), **(extra or {})}
    save_weights(net, path)
    atomic_write_json(path.with_suffix(".json"), meta)
    return path


def load_retrieval_model(path: str | Path) -> tuple[ImageRetrievalNet, dict]:
    """(net, manifest) from ``NAME.safetensors`` + ``NAME.json``; problems are `CheckpointError`s."""
    path = Path(path)
    if path.suffix != ".safetensors":
        path = path.with_suffix(".safetensors")
    man_path = path.with_suffix(".json")
    if not path.is_file() or not man_path.is_file():
        raise CheckpointError(f"model {path} (with {man_path.name}) not found; pass the model.safetensors a "
                              f"`paperzoo run retrieval` wrote")
    try:
        meta = json.loads(man_path.read_text())
        net = build_retrieval_net(meta["arch"], meta["pool"], whiten_dim=meta.get("whiten_dim"),
                                  width=int(meta.get("width", 16)))
    except (ValueError, KeyError, TypeError) as e:
        raise CheckpointError(f"{man_path} is not a retrieval model manifest ({e})") from None
    load_weights(net, path)
    net.eval()
    return net, meta
