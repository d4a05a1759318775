"""Training and inference of the CNC CNN, and the saved classifier (safetensors + JSON).

Xin, Zhang, Shao, arXiv 1802.00539 (2018); official TF code https://github.com/AXinx/cnc_2017:
softmax cross-entropy, L2 5e-4 on the FC weights, momentum SGD (0.9), lr 0.01 decayed x0.95 per
epoch (staircase), batch 100, one epoch of 80 steps over 8,000 images.

Deviation: with hundreds instead of thousands of training images we run several epochs
(``epochs``) so that the number of SGD steps is comparable. The x0.95 staircase decay is applied
per ``decay_images`` (8,000 = the official epoch) images seen, not per (small) epoch of ours: a
decay per small epoch (40 epochs of 160 images) shrank lr to 0.13x and left the CNN under-fitted
(4-class training accuracy ~70-79 %), whereas in the official run lr stays 0.01 for all 80 steps.
The loop is plain PyTorch with the engine's Accelerate calls (prepare, backward, gather).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

from ..engine import atomic_write_json, load_weights, save_weights, unwrap
from ..errors import CheckpointError
from .image import CNCImageConfig
from .model import CNC, CNCConfig

__all__ = ["CNNTrainConfig", "staircase_lr", "train_cnc", "predict_cnc", "CNCClassifier"]


@dataclass
class CNNTrainConfig:
    """Args: epochs Defaults to 1 (official: 1 epoch of 80 steps); batch_size Defaults to 100;
    lr Defaults to 0.01; momentum Defaults to 0.9; lr_decay (staircase, per decay_images images
    seen) Defaults to 0.95; decay_images Defaults to 8000 (the official epoch: 8,000 images);
    fc_l2 (L2 on FC weights) Defaults to 5e-4; flip_augment (random mirror of images, not in the
    paper, against PCA's arbitrary sign) Defaults to False."""

    epochs: int = 1
    batch_size: int = 100
    lr: float = 0.01
    momentum: float = 0.9
    lr_decay: float = 0.95
    decay_images: int = 8000
    fc_l2: float = 5e-4
    flip_augment: bool = False


def train_cnc(images: np.ndarray, labels: np.ndarray, model: CNC, cfg: CNNTrainConfig, accelerator,
              seed: int = 0, log: Callable[..., None] | None = None) -> CNC:
    """Train ``model`` on ``images`` (B, C, S, S) float32 with integer ``labels``; returns the bare model."""
    g = torch.Generator().manual_seed(seed)
    ds = TensorDataset(torch.from_numpy(np.asarray(images, np.float32)), torch.from_numpy(np.asarray(labels, np.int64)))
    dl = DataLoader(ds, batch_size=min(cfg.batch_size, len(ds)), shuffle=True, generator=g, drop_last=False)
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum)
    model, opt, dl = accelerator.prepare(model, opt, dl)
    step = seen = 0
    lr = cfg.lr
    for epoch in range(cfg.epochs):
        model.train()
        for x, y in dl:
            lr = staircase_lr(cfg, seen)
            for group in opt.param_groups:
                group["lr"] = lr
            if cfg.flip_augment:
                fx = torch.rand(x.shape[0], generator=g) < 0.5
                fy = torch.rand(x.shape[0], generator=g) < 0.5
                x = torch.where(fx[:, None, None, None].to(x.device), x.flip(-1), x)
                x = torch.where(fy[:, None, None, None].to(x.device), x.flip(-2), x)
            loss = torch.nn.functional.cross_entropy(model(x), y)
            l2 = sum((w ** 2).sum() for w in unwrap(model).fc_weights()) / 2  # tf.nn.l2_loss
            accelerator.backward(loss + cfg.fc_l2 * l2)
            opt.step()
            opt.zero_grad()
            step += 1
            seen += x.shape[0]
        if log is not None:
            log(step, loss=float(loss.detach()), lr=lr, epoch=epoch)
    return unwrap(model)


def staircase_lr(cfg: CNNTrainConfig, images_seen: int) -> float:
    """Official ``exponential_decay(lr, step * batch, train_size, 0.95, staircase=True)``:
    ``lr * lr_decay ** floor(images_seen / decay_images)``."""
    return cfg.lr * cfg.lr_decay ** (images_seen // max(1, cfg.decay_images))


@torch.no_grad()
def predict_cnc(model: CNC, images: np.ndarray, accelerator=None, batch_size: int = 256) -> np.ndarray:
    """Softmax probabilities ``(B, classes)`` for images ``(B, C, S, S)``."""
    model.eval()
    dev = accelerator.device if accelerator is not None else next(model.parameters()).device
    out = []
    x_all = torch.from_numpy(np.asarray(images, np.float32))
    for s in range(0, len(x_all), batch_size):
        out.append(torch.softmax(model(x_all[s:s + batch_size].to(dev)), dim=1).cpu())
    return torch.cat(out).numpy() if out else np.zeros((0, model.cfg.num_classes), np.float32)


@dataclass
class CNCClassifier:
    """A trained CNC: image settings + CNN + class names. Saved as ``MODEL.safetensors`` + ``MODEL.json``."""

    image_cfg: CNCImageConfig
    model: CNC
    classes: list[str]
    info: dict[str, Any] = field(default_factory=dict)

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        stem = path.with_suffix("") if path.suffix in (".safetensors", ".json") else path
        save_weights(self.model, stem.with_suffix(".safetensors"))
        atomic_write_json(stem.with_suffix(".json"), {
            "format": "paperzoo-netclass/1", "classes": self.classes, "image": self.image_cfg.to_dict(),
            "cnn": self.model.cfg.to_dict(), "info": self.info})
        return stem

    @classmethod
    def load(cls, path: str | Path) -> "CNCClassifier":
        path = Path(path)
        stem = path.with_suffix("") if path.suffix in (".safetensors", ".json") else path
        meta_p = stem.with_suffix(".json")
        if not meta_p.is_file():
            raise CheckpointError(f"{meta_p} does not exist; pass the MODEL path given to `paperzoo netclass train --out`")
        try:
            meta = json.loads(meta_p.read_text(encoding="utf-8"))
            if meta.get("format") != "paperzoo-netclass/1":
                raise KeyError("format")
            icfg = CNCImageConfig(**{"embedder": "gensim", **meta["image"]}).validate()  # older files: gensim
            c = dict(meta["cnn"])
            c["filters"] = tuple(c["filters"])
            model = CNC(CNCConfig(**c))
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            raise CheckpointError(f"{meta_p} is not a paperzoo netclass model description ({e})") from None
        load_weights(model, stem.with_suffix(".safetensors"))
        model.eval()
        return cls(icfg, model, list(meta["classes"]), meta.get("info", {}))
