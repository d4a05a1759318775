"""Image-retrieval network: CNN features -> GeM/MAC/SPoC pooling -> L2 -> [whitening] -> L2.

Paper: Radenović, Tolias, Chum, "Fine-tuning CNN Image Retrieval with No Human Annotation",
IEEE TPAMI 41(7), 2019, arXiv 1711.02512 (predecessor: ECCV 2016, arXiv 1604.02426).
Reference code: https://github.com/filipradenovic/cnnimageretrieval-pytorch (``cirtorch``:
``layers/functional.py``, ``layers/pooling.py``, ``networks/imageretrievalnet.py``) and the
MatConvNet original https://github.com/filipradenovic/cnnimageretrieval (``cnn_gem.m``, ``cnn_vecms.m``).

Pieces:
  * `GeM` (Sec. 3.1, Eq. 1-2): f_k = (mean_{x in X_k} x^p)^(1/p), one shared trainable p
    initialised to 3; activations clamped to >= 1e-6 as cirtorch; p clamped to >= 1 as
    MatConvNet (p = 1 is SPoC, p -> inf is MAC).
  * `MAC` (max pooling) and `SPoC` (average pooling), the paper's baselines.
  * `ImageRetrievalNet`: the convolutional part only, ending in a ReLU (VGG16 ``features[:-1]``,
    ResNet ``children()[:-2]``; here each backbone's ``forward_features``), pooling, L2, then an
    optional whitening ``nn.Linear`` (Lw/PCA-w exported by `paperzoo.retrieval.whiten`) and L2.
  * `extract_ms` (Sec. 3.4, cirtorch ``extract_ms``): multi-scale description over scales
    (1, 1/sqrt 2, 1/2), combined by the power mean with exponent = the learned GeM p (1 with a
    whitening layer or other pooling), then L2.
  * `param_groups`: the optimiser groups of the reference training script: p gets lr x 10 and
    no weight decay.

Descriptors here are laid out (N, D) (one row per image); the reference uses D x N.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..errors import ConfigError
from ..registry import create_model, register_model
from ..vision.backbones import VGG

__all__ = ["GeM", "MAC", "SPoC", "L2N", "make_pool", "ImageRetrievalNet", "extract_ms", "param_groups",
           "POOLS", "BACKBONES"]

POOLS = ("gem", "mac", "spoc")


class GeM(nn.Module):
    """Generalized-mean pooling (Eq. 1), trainable p (Sec. 3.1).

    Args:
        p: initial exponent. Defaults to 3 (cirtorch ``GeM(p=3)``).
        eps: activations are clamped to >= eps before the power. Defaults to 1e-6.
        p_min: p is clamped to >= p_min in forward (MatConvNet ``cnn_gem.m``). Defaults to 1.
    """

    def __init__(self, p: float = 3.0, eps: float = 1e-6, p_min: float = 1.0):
        super().__init__()
        self.p = nn.Parameter(torch.ones(1) * p)
        self.eps, self.p_min = eps, p_min

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, H, W) -> (B, C)
        p = self.p.clamp(min=self.p_min)
        return F.avg_pool2d(x.clamp(min=self.eps).pow(p), (x.size(-2), x.size(-1))).pow(1.0 / p).flatten(1)

    def extra_repr(self) -> str:
        return f"p={float(self.p.detach()):.4f}, eps={self.eps}"


class MAC(nn.Module):
    """Maximum activations of convolutions: f_k = max_{x in X_k} x (the p -> inf limit of GeM)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.max_pool2d(x, (x.size(-2), x.size(-1))).flatten(1)


class SPoC(nn.Module):
    """Sum-pooled convolutional features: average pooling (GeM with p = 1)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(x, (x.size(-2), x.size(-1))).flatten(1)


class L2N(nn.Module):
    """L2 normalisation along the descriptor dimension (cirtorch ``l2n``, eps 1e-6)."""

    def __init__(self, eps: float = 1e-6):
        super().__init__()
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x / (x.norm(p=2, dim=1, keepdim=True) + self.eps)


def make_pool(name: str, p: float = 3.0) -> nn.Module:
    if name == "gem":
        return GeM(p=p)
    if name == "mac":
        return MAC()
    if name == "spoc":
        return SPoC()
    raise ConfigError(f"pool must be one of {', '.join(POOLS)}, got {name!r}")


class ImageRetrievalNet(nn.Module):
    """features -> pool -> L2 -> [whiten Linear(D, d) -> L2]  (cirtorch ``ImageRetrievalNet``).

    Args:
        features: a module mapping (B, 3, H, W) to a non-negative map (B, D, h, w).
        dim: D, the channel count of ``features``' output.
        pool: ``"gem"``, ``"mac"`` or ``"spoc"``. Defaults to "gem".
        p: GeM's initial p. Defaults to 3.
        whiten_dim: output size of a whitening layer, or None for no layer. Defaults to None.
        meta: free-form strings saved with the weights (architecture name etc.).
    """

    def __init__(self, features: nn.Module, dim: int, pool: str = "gem", p: float = 3.0,
                 whiten_dim: int | None = None, meta: dict | None = None):
        super().__init__()
        self.features = features
        self.pool = make_pool(pool, p)
        self.norm = L2N()
        self.whiten = nn.Linear(dim, whiten_dim, bias=True) if whiten_dim else None
        self.dim = dim
        self.meta = dict(meta or {}, pool=pool)

    @property
    def out_dim(self) -> int:
        return self.whiten.out_features if self.whiten is not None else self.dim

    def pooled(self, x: torch.Tensor) -> torch.Tensor:
        """L2-normalised pooled descriptor before whitening, (B, D)."""
        return self.norm(self.pool(self.features(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Returns L2-normalised descriptors (B, out_dim)."""
        v = self.pooled(x)
        if self.whiten is not None:
            v = self.norm(self.whiten(v))
        return v

    def set_whitening(self, layer: nn.Linear | None) -> None:
        """Attach (or remove) an exported whitening layer (`whiten.to_linear`), on the net's device."""
        self.whiten = None if layer is None else layer.to(next(self.features.parameters()).device)


def extract_ms(net: ImageRetrievalNet, x: torch.Tensor,
               scales: Sequence[float] = (1.0, 1 / math.sqrt(2), 0.5), msp: float | None = None) -> torch.Tensor:
    """Multi-scale descriptors (Sec. 3.4; cirtorch ``extract_ms``), (B, out_dim).

    Each scale's image is resized bilinearly, described and L2-normalised; the descriptors are
    combined by the power mean v = (mean_s v_s^msp)^(1/msp) and L2-normalised again. ``msp``
    defaults to the learned GeM p when the net has GeM pooling and no whitening layer, else 1
    (as ``extract_vectors(..., msp)`` in the reference).
    """
    if msp is None:
        msp = float(net.pool.p.clamp(min=1).item()) if isinstance(net.pool, GeM) and net.whiten is None else 1.0
    acc = None
    H, W = x.shape[-2:]
    for s in scales:
        xs = x if s == 1 else F.interpolate(x, size=(max(1, round(H * s)), max(1, round(W * s))),
                                            mode="bilinear", align_corners=False)
        v = net(xs)
        # descriptors can be negative after whitening; the power mean then uses msp = 1
        v = v.clamp(min=0).pow(msp) if msp != 1 else v
        acc = v if acc is None else acc + v
    v = acc / len(scales)
    if msp != 1:
        v = v.pow(1.0 / msp)
    return net.norm(v)


def param_groups(net: ImageRetrievalNet, lr: float, weight_decay: float) -> list[dict]:
    """Optimiser groups as cirtorch ``train.py``: features (lr, wd); GeM p (lr x 10, no wd); whitening (lr, wd)."""
    groups = [{"params": list(net.features.parameters()), "lr": lr, "weight_decay": weight_decay}]
    if isinstance(net.pool, GeM):
        groups.append({"params": [net.pool.p], "lr": lr * 10, "weight_decay": 0.0})
    if net.whiten is not None:
        groups.append({"params": list(net.whiten.parameters()), "lr": lr, "weight_decay": weight_decay})
    return groups


# -- backbones ---------------------------------------------------------------------------------
class _Features(nn.Module):
    """Wraps a paperzoo.vision backbone as its convolutional part (``forward_features``)."""

    def __init__(self, backbone: nn.Module, drop_last_pool: bool = False):
        super().__init__()
        self.backbone = backbone
        if drop_last_pool and isinstance(backbone, VGG) and isinstance(backbone.features[-1], nn.MaxPool2d):
            # VGG16 features[:-1]: up to relu5_3, as the reference
            backbone.features = backbone.features[:-1]
        # the classifier head is unused for retrieval
        for name in ("classifier", "fc"):
            if hasattr(backbone, name):
                setattr(backbone, name, nn.Identity())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.backbone.forward_features(x)


# channel config of the quick small CNN (VGG-style, ends in a ReLU): 32 px -> 8x8 x 64
SMALL_CFG: list[int | str] = [16, "P", 32, "P", 64, 64]

BACKBONES = ("small", "vgg16", "resnet50", "resnet101")


def build_backbone(arch: str, width: int = 16) -> tuple[nn.Module, int]:
    """(features module, D) for ``arch`` in `BACKBONES`."""
    if arch == "small":
        cfg = [width if v == 16 else 2 * width if v == 32 else 4 * width if v == 64 else v for v in SMALL_CFG]
        m = VGG(cfg=cfg, in_chans=3, batch_norm=True, classifier="cifar", num_classes=1)
        return _Features(m), int(cfg[-1])
    if arch == "vgg16":
        m = create_model("vgg16", classifier="cifar")  # the head is dropped; skip the 100M-weight FC
        return _Features(m, drop_last_pool=True), 512
    if arch in ("resnet50", "resnet101"):
        m = create_model(arch)
        return _Features(m), 2048
    raise ConfigError(f"arch must be one of {', '.join(BACKBONES)}, got {arch!r}")


def build_retrieval_net(arch: str = "resnet101", pool: str = "gem", p: float = 3.0, whiten_dim: int | None = None,
                        width: int = 16) -> ImageRetrievalNet:
    features, dim = build_backbone(arch, width)
    return ImageRetrievalNet(features, dim, pool=pool, p=p, whiten_dim=whiten_dim,
                             meta={"arch": arch, "width": str(width)})


@register_model(example=(3, 32, 32), tiny={"width": 4})
def retrieval_small_gem(**kw) -> ImageRetrievalNet:
    """Small VGG-style CNN + GeM for the quick preset (32-64 px)."""
    return build_retrieval_net(**{"arch": "small", "pool": "gem", **kw})


@register_model(example=(3, 32, 32))
def retrieval_vgg16_gem(**kw) -> ImageRetrievalNet:
    """VGG16 (to relu5_3, D = 512) + GeM (the paper's VGG16-GeM)."""
    return build_retrieval_net(**{"arch": "vgg16", "pool": "gem", **kw})


@register_model(example=(3, 32, 32))
def retrieval_resnet50_gem(**kw) -> ImageRetrievalNet:
    return build_retrieval_net(**{"arch": "resnet50", "pool": "gem", **kw})


@register_model(example=(3, 32, 32))
def retrieval_resnet101_gem(**kw) -> ImageRetrievalNet:
    """ResNet101 (D = 2048) + GeM (the paper's best model, rSfM120k-tl-resnet101-gem)."""
    return build_retrieval_net(**{"arch": "resnet101", "pool": "gem", **kw})
