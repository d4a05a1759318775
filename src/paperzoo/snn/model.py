"""Trainable clipping layers (TCL) and the small models of the quick preset.

Ho & Chang, "TCL: an ANN-to-SNN Conversion with Trainable Clipping Layers", DAC 2021,
arXiv 2008.04509. A clipping layer with a trainable bound λ follows every ReLU (Sec. 3.2, Eq. 9);
λ is learned with the ANN, with an L2 penalty on it (Eq. 11), and becomes the layer's
normalisation factor at conversion time (`paperzoo.snn.convert`).

The exact form of Eqs. 9-11 is a reconstruction (PACT-style, Choi et al. 2018, arXiv 1805.06085):

    y = min(ReLU(x), λ)                                    (Eq. 9)
    dy/dx = 1[0 < x < λ] ;  dy/dλ = 1[x >= λ]               (Eq. 10, summed over the layer)
    λ <- λ - η (dL/dλ + α λ)                                (Eq. 11)

Deviation: Eq. 11's "+ α λ" is the gradient of (α/2)·λ²; `TrainableClip.penalty` returns
(α/2)·Σλ² so that autograd gives exactly Eq. 11's update (the issue writes α·λ², i.e. a factor 2
in α). Option (not in the paper): one λ per channel (``per_channel=True``).
"""

from __future__ import annotations

from typing import Iterator

import torch
import torch.nn as nn

from ..registry import register_model

__all__ = ["TrainableClip", "insert_clips", "clip_layers", "clip_penalty", "has_clips", "snn_mlp"]


class TrainableClip(nn.Module):
    """``y = min(ReLU(x), λ)`` with a trainable bound λ (Eq. 9); replaces an ``nn.ReLU``.

    Args:
        init: initial λ. Defaults to 4.0 (not given in the paper; PACT uses 10, QCFS 8 — our
            inputs are in [0, 1] so activations are O(1)).
        alpha: L2 coefficient α of Eq. 11. Defaults to 5e-4 (not given in the paper).
        per_channel: one λ per channel (dim 1) instead of one per layer. Defaults to False.
        channels: number of channels when ``per_channel``.
    """

    def __init__(self, init: float = 4.0, alpha: float = 5e-4, per_channel: bool = False, channels: int = 1):
        super().__init__()
        if init <= 0:
            raise ValueError(f"the initial clip bound must be > 0, got {init}")
        n = channels if per_channel else 1
        self.lam = nn.Parameter(torch.full((n,), float(init)))
        self.alpha = float(alpha)
        self.per_channel = bool(per_channel)

    def bound(self, ndim: int) -> torch.Tensor:
        """λ shaped to broadcast over an input of ``ndim`` dims (channels on dim 1)."""
        return self.lam.view(1, -1, *([1] * (ndim - 2))) if self.per_channel else self.lam

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # min(relu(x), λ) written so that autograd gives Eq. 10: dy/dλ = 1 where x >= λ
        lam = self.bound(x.dim())
        return torch.minimum(torch.relu(x), lam)

    def penalty(self) -> torch.Tensor:
        """(α/2)·Σλ²: its gradient α·λ is Eq. 11's weight-decay term."""
        return 0.5 * self.alpha * (self.lam ** 2).sum()

    def extra_repr(self) -> str:
        return f"lam={self.lam.detach().cpu().numpy().round(3).tolist() if self.lam.numel() <= 4 else '...'}, " \
               f"alpha={self.alpha}, per_channel={self.per_channel}"


def _channels_after(model: nn.Module, relu_name: str) -> int:
    """Channel count feeding a ReLU, from the nearest preceding conv/linear/BN in module order."""
    last = None
    for name, m in model.named_modules():
        if name == relu_name:
            break
        if isinstance(m, (nn.Conv2d, nn.Linear, nn.BatchNorm2d, nn.BatchNorm1d)):
            last = m
    if isinstance(last, nn.Conv2d):
        return last.out_channels
    if isinstance(last, nn.Linear):
        return last.out_features
    if isinstance(last, (nn.BatchNorm2d, nn.BatchNorm1d)):
        return last.num_features
    return 1


def insert_clips(model: nn.Module, init: float = 4.0, alpha: float = 5e-4, per_channel: bool = False) -> nn.Module:
    """Replace every ``nn.ReLU`` module of ``model`` (in place) by a `TrainableClip` (ReLU + clip).

    Works for any model whose activations are ``nn.ReLU`` modules, e.g. every backbone in
    `paperzoo.vision`. Returns the model. Per-channel bounds take the channel count from the
    preceding conv/linear/BN in module order (true for VGG, ResNet blocks and SmallCNN).
    """
    targets = [n for n, m in model.named_modules() if isinstance(m, nn.ReLU)]
    for name in targets:
        ch = _channels_after(model, name) if per_channel else 1
        parent_name, _, attr = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, attr, TrainableClip(init, alpha, per_channel, ch))
    return model


def clip_layers(model: nn.Module) -> Iterator[tuple[str, TrainableClip]]:
    for n, m in model.named_modules():
        if isinstance(m, TrainableClip):
            yield n, m


def has_clips(model: nn.Module) -> bool:
    return any(True for _ in clip_layers(model))


def clip_penalty(model: nn.Module) -> torch.Tensor:
    """Σ over clip layers of (α/2)·λ² (Eq. 11's L2 term), to add to the task loss."""
    terms = [m.penalty() for _, m in clip_layers(model)]
    if not terms:
        return torch.zeros(())
    return torch.stack(terms).sum()


class MLP(nn.Module):
    """A ReLU multilayer perceptron on flattened images (the notes' 64-128-128-10 prototype)."""

    def __init__(self, in_features: int = 64, hidden: tuple[int, ...] = (128, 128), num_classes: int = 10,
                 batch_norm: bool = False):
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        c = in_features
        for h in hidden:
            layers += [nn.Linear(c, h)] + ([nn.BatchNorm1d(h)] if batch_norm else []) + [nn.ReLU()]
            c = h
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(c, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


@register_model(example=(64,), tiny={"hidden": (8, 8)})
def snn_mlp(**kw) -> MLP:
    """MLP 64-128-128-10 for 8x8 digits (S1 notes, Sec. 6 prototype)."""
    return MLP(**kw)
