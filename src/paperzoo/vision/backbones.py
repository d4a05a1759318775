"""Vision backbones written in-house (no torchvision on this platform): VGG, ResNet, a small CNN.

References:
  * Simonyan & Zisserman, "Very Deep Convolutional Networks for Large-Scale Image Recognition",
    ICLR 2015, arXiv 1409.1556 (VGG-16, configuration D).
  * He, Zhang, Ren, Sun, "Deep Residual Learning for Image Recognition", CVPR 2016,
    arXiv 1512.03385 (ImageNet ResNet-34/50/101, Table 1; CIFAR ResNet-20, Sec. 4.2).

Every ReLU is its own ``nn.ReLU`` module (never reused, never functional) so that tools can
find and replace activations by name (S1's TrainableClip, S1's SNN conversion). Every model
has ``forward_features(x) -> feature map (B, C, H, W)`` and ``forward_head(f) -> logits``
(timm's convention); retrieval (S8) and hashing (S7) pool ``forward_features`` themselves.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn as nn

from ..errors import ConfigError
from ..registry import register_model

__all__ = ["VGG", "ResNet", "BasicBlock", "Bottleneck", "SmallCNN", "VGG16_CFG"]

VGG16_CFG: list[int | str] = [64, 64, "P", 128, 128, "P", 256, 256, 256, "P", 512, 512, 512, "P", 512, 512, 512, "P"]


class VGG(nn.Module):
    """VGG with optional BatchNorm; ``pool="avg"`` gives the SNN-friendly variant (Rueckauer et al.).

    Args:
        cfg: channel list with ``"P"`` for 2x2 pooling. Defaults to VGG-16 (configuration D).
        num_classes: Defaults to 10. in_chans: Defaults to 3.
        batch_norm: Defaults to True. pool: ``"max"`` or ``"avg"``. Defaults to "max".
        classifier: ``"cifar"`` (one hidden FC of 512 on a 1x1 map) or ``"imagenet"`` (7x7 -> 4096 -> 4096).
        bias: conv/linear biases. Defaults to True. dropout: Defaults to 0.5.
    """

    def __init__(self, cfg: Sequence[int | str] = VGG16_CFG, num_classes: int = 10, in_chans: int = 3,
                 batch_norm: bool = True, pool: str = "max", classifier: str = "cifar", bias: bool = True,
                 dropout: float = 0.5):
        super().__init__()
        if pool not in ("max", "avg"):
            raise ConfigError(f"pool must be 'max' or 'avg', got {pool!r}")
        layers: list[nn.Module] = []
        c = in_chans
        for v in cfg:
            if v == "P":
                layers.append(nn.MaxPool2d(2) if pool == "max" else nn.AvgPool2d(2))
            else:
                layers.append(nn.Conv2d(c, int(v), 3, padding=1, bias=bias))
                if batch_norm:
                    layers.append(nn.BatchNorm2d(int(v)))
                layers.append(nn.ReLU())
                c = int(v)
        self.features = nn.Sequential(*layers)
        self.num_features = c
        if classifier == "cifar":
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(c, 512, bias=bias), nn.ReLU(), nn.Dropout(dropout),
                                            nn.Linear(512, num_classes, bias=bias))
        elif classifier == "imagenet":
            self.pool = nn.AdaptiveAvgPool2d(7)
            self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(c * 49, 4096, bias=bias), nn.ReLU(), nn.Dropout(dropout),
                                            nn.Linear(4096, 4096, bias=bias), nn.ReLU(), nn.Dropout(dropout),
                                            nn.Linear(4096, num_classes, bias=bias))
        else:
            raise ConfigError(f"classifier must be 'cifar' or 'imagenet', got {classifier!r}")
        _init_conv(self)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)

    def forward_head(self, f: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.pool(f))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


class BasicBlock(nn.Module):
    """3x3-3x3 residual block; projection shortcut (1x1 conv + BN) when shape changes (option B)."""

    expansion = 1

    def __init__(self, in_planes: int, planes: int, stride: int = 1, bias: bool = False):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=bias)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=bias)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = nn.Identity()
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Sequential(nn.Conv2d(in_planes, planes, 1, stride, bias=bias), nn.BatchNorm2d(planes))
        self.relu2 = nn.ReLU()  # after the addition

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu1(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu2(out + self.shortcut(x))


class Bottleneck(nn.Module):
    """1x1-3x3-1x1 bottleneck (stride on the 3x3, as in the common v1.5)."""

    expansion = 4

    def __init__(self, in_planes: int, planes: int, stride: int = 1, bias: bool = False):
        super().__init__()
        out = planes * self.expansion
        self.conv1 = nn.Conv2d(in_planes, planes, 1, bias=bias)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=bias)
        self.bn2 = nn.BatchNorm2d(planes)
        self.relu2 = nn.ReLU()
        self.conv3 = nn.Conv2d(planes, out, 1, bias=bias)
        self.bn3 = nn.BatchNorm2d(out)
        self.shortcut = nn.Identity()
        if stride != 1 or in_planes != out:
            self.shortcut = nn.Sequential(nn.Conv2d(in_planes, out, 1, stride, bias=bias), nn.BatchNorm2d(out))
        self.relu3 = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu1(self.bn1(self.conv1(x)))
        out = self.relu2(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu3(out + self.shortcut(x))


class ResNet(nn.Module):
    """ResNet with an ImageNet stem (7x7/2 + maxpool) or a CIFAR stem (3x3, no pooling).

    Args:
        block: ``"basic"`` or ``"bottleneck"``. layers: blocks per stage.
        widths: channels per stage (before expansion). Defaults to (64, 128, 256, 512).
        stem: ``"imagenet"`` or ``"cifar"``. num_classes: Defaults to 1000. in_chans: Defaults to 3.
        stem_pool: ``"max"`` or ``"avg"`` (an SNN needs avg). Defaults to "max".
    """

    def __init__(self, block: str = "basic", layers: Sequence[int] = (3, 4, 6, 3),
                 widths: Sequence[int] = (64, 128, 256, 512), stem: str = "imagenet", num_classes: int = 1000,
                 in_chans: int = 3, stem_pool: str = "max", bias: bool = False):
        super().__init__()
        B = {"basic": BasicBlock, "bottleneck": Bottleneck}.get(block)
        if B is None:
            raise ConfigError(f"block must be 'basic' or 'bottleneck', got {block!r}")
        if len(layers) != len(widths):
            raise ConfigError(f"layers {tuple(layers)} and widths {tuple(widths)} must have the same length")
        w0 = widths[0]
        if stem == "imagenet":
            pool = nn.MaxPool2d(3, 2, 1) if stem_pool == "max" else nn.AvgPool2d(3, 2, 1)
            self.stem = nn.Sequential(nn.Conv2d(in_chans, w0, 7, 2, 3, bias=bias), nn.BatchNorm2d(w0), nn.ReLU(), pool)
        elif stem == "cifar":
            self.stem = nn.Sequential(nn.Conv2d(in_chans, w0, 3, 1, 1, bias=bias), nn.BatchNorm2d(w0), nn.ReLU())
        else:
            raise ConfigError(f"stem must be 'imagenet' or 'cifar', got {stem!r}")
        stages, c = [], w0
        for i, (n, w) in enumerate(zip(layers, widths)):
            blocks = []
            for j in range(n):
                blocks.append(B(c, w, stride=2 if (j == 0 and i > 0) else 1, bias=bias))
                c = w * B.expansion
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.Sequential(*stages)
        self.num_features = c
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(c, num_classes)
        _init_conv(self)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.stages(self.stem(x))

    def forward_head(self, f: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.pool(f), 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


class SmallCNN(nn.Module):
    """A small conv net for quick presets (8x8 digits up to 64x64 renders): conv-BN-ReLU x 2 stages.

    Args:
        num_classes: Defaults to 10. in_chans: Defaults to 1. width: Defaults to 32.
        pool: ``"avg"`` (SNN-friendly) or ``"max"``. Defaults to "avg". batch_norm: Defaults to True.
    """

    def __init__(self, num_classes: int = 10, in_chans: int = 1, width: int = 32, pool: str = "avg",
                 batch_norm: bool = True, bias: bool = True):
        super().__init__()
        P = nn.AvgPool2d if pool == "avg" else nn.MaxPool2d
        def conv(ci, co):
            return [nn.Conv2d(ci, co, 3, padding=1, bias=bias)] + ([nn.BatchNorm2d(co)] if batch_norm else []) + [nn.ReLU()]
        self.features = nn.Sequential(*conv(in_chans, width), *conv(width, width), P(2),
                                      *conv(width, 2 * width), *conv(2 * width, 2 * width), P(2))
        self.num_features = 2 * width
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(2 * width, num_classes, bias=bias))
        _init_conv(self)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)

    def forward_head(self, f: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.pool(f))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


def _init_conv(m: nn.Module) -> None:
    for mod in m.modules():
        if isinstance(mod, nn.Conv2d):
            nn.init.kaiming_normal_(mod.weight, mode="fan_out", nonlinearity="relu")
            if mod.bias is not None:
                nn.init.zeros_(mod.bias)
        elif isinstance(mod, nn.BatchNorm2d):
            nn.init.ones_(mod.weight)
            nn.init.zeros_(mod.bias)


# -- registered variants (one argument dict each, timm style) --------------------------------
@register_model(example=(3, 32, 32), tiny={"cfg": [8, "P", 8, "P"], "classifier": "cifar", "num_classes": 5})
def vgg16(**kw) -> VGG:
    """VGG-16 for 224x224 ImageNet (Simonyan & Zisserman, configuration D)."""
    return VGG(**{"classifier": "imagenet", "num_classes": 1000, **kw})


@register_model(example=(3, 32, 32), tiny={"cfg": [8, "P", 16, "P"]})
def vgg16_cifar(**kw) -> VGG:
    """VGG-16 body with a CIFAR head (32x32 input)."""
    return VGG(**{"classifier": "cifar", "num_classes": 10, **kw})


@register_model(example=(3, 32, 32), tiny={"widths": (4, 8, 8), "layers": (1, 1, 1)})
def resnet20_cifar(**kw) -> ResNet:
    """ResNet-20 for CIFAR (He et al. Sec. 4.2: 3 stages of 3 blocks, 16/32/64 channels)."""
    return ResNet(**{"block": "basic", "layers": (3, 3, 3), "widths": (16, 32, 64), "stem": "cifar",
                     "num_classes": 10, **kw})


@register_model(example=(3, 64, 64), tiny={"widths": (4, 8, 8, 8), "layers": (1, 1, 1, 1), "num_classes": 7})
def resnet34(**kw) -> ResNet:
    return ResNet(**{"block": "basic", "layers": (3, 4, 6, 3), **kw})


@register_model(example=(3, 32, 32), tiny={"widths": (4, 8, 8, 8), "layers": (1, 1, 1, 1)})
def resnet34_cifar(**kw) -> ResNet:
    return ResNet(**{"block": "basic", "layers": (3, 4, 6, 3), "stem": "cifar", "num_classes": 10, **kw})


@register_model(example=(3, 64, 64), tiny={"widths": (4, 8, 8, 8), "layers": (1, 1, 1, 1), "num_classes": 7})
def resnet50(**kw) -> ResNet:
    return ResNet(**{"block": "bottleneck", "layers": (3, 4, 6, 3), **kw})


@register_model(example=(3, 64, 64), tiny={"widths": (4, 8, 8, 8), "layers": (1, 1, 2, 1), "num_classes": 7})
def resnet101(**kw) -> ResNet:
    return ResNet(**{"block": "bottleneck", "layers": (3, 4, 23, 3), **kw})


@register_model(example=(1, 8, 8), tiny={"width": 4})
def small_cnn(**kw) -> SmallCNN:
    return SmallCNN(**kw)
