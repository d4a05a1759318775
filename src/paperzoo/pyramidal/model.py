"""Pyramidal RoR: a PyramidNet body with RoR's multilevel shortcuts and drop-path.

Paper: Ke Zhang, Liru Guo, Ce Gao, Zhenbing Zhao, "Pyramidal RoR for Image Classification",
Cluster Computing 2017 (DOI 10.1007/s10586-017-1443-x), arXiv 1710.00307. It joins
  * RoR -- Zhang et al., "Residual Networks of Residual Networks: Multilevel Residual Networks",
    IEEE TCSVT 2017, arXiv 1608.02908 (root-, middle- and final-level shortcuts, "RoR-3"), and
  * PyramidNet -- Han, Kim, Kim, "Deep Pyramidal Residual Networks", CVPR 2017, arXiv 1610.02915
    (additive widening, zero-padded identity shortcuts, BN-Conv-BN-ReLU-Conv-BN units).

Reference code credited: the official PyramidNet PyTorch code
https://github.com/dyhan0920/PyramidNet-PyTorch (``PyramidNet.py``: channel arithmetic, block layout,
He-normal init) and the chainer RoR port https://github.com/nutszebra/residual_networks_of_residual_networks
(root/middle projections, linear drop schedule). No official Pyramidal RoR code is known.

Deviation: the official PyramidNet shortcut allocates ``torch.cuda.FloatTensor`` every forward; here
the extra channels are added with ``F.pad`` on the input's own device and dtype (runs on CPU, CUDA,
channels_last, AMP).

Unverified items (the paper's text was not available to us; see docs/pyramidal.md):
  * the residual-block variant the paper keeps (``block_style``; default PyramidNet's),
  * the exact form of the root/middle shortcuts (1x1 conv + BN projections here; zero-pad option),
  * whether the last block's final-level shortcut is removed (``last_block_shortcut``),
  * the drop-path probability (linear decay of the survival probability to 0.5, as RoR+SD).
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..errors import ConfigError
from ..registry import register_model

__all__ = ["DropPath", "drop_path", "PyramidalBlock", "LevelShortcut", "PyramidalRoR", "pyramid_widths",
           "drop_path_rates", "BLOCK_STYLES"]

BLOCK_STYLES = ("pyramid", "preact", "pyramid_relu")


def drop_path(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """Per-sample drop-path (stochastic depth, Huang et al. 2016, arXiv 1603.09382, Sec. 3).

    Each sample's residual branch is zeroed with probability ``p`` and kept ones are scaled by
    ``1/(1-p)`` (timm's ``drop_path(scale_by_keep=True)``), so no rescaling is needed at test time.
    Identity when ``p == 0`` or not ``training``.
    """
    if p <= 0.0 or not training:
        return x
    keep = 1.0 - p
    mask = x.new_empty((x.shape[0],) + (1,) * (x.dim() - 1)).bernoulli_(keep)
    return x * mask.div_(keep)


class DropPath(nn.Module):
    """`drop_path` as a module (active only in ``train()`` mode)."""

    def __init__(self, p: float = 0.0):
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ConfigError(f"drop-path probability must be in [0, 1), got {p}")
        self.p = float(p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return drop_path(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p:.4f}"


def zero_pad_shortcut(x: torch.Tensor, out_channels: int, stride: int) -> torch.Tensor:
    """PyramidNet's parameter-free shortcut (Han et al., Sec. 3.2, Fig. 5b): AvgPool2d(2,2) at stride 2,
    then zero channels appended up to ``out_channels`` -- on ``x``'s device and dtype."""
    if stride != 1:
        x = F.avg_pool2d(x, stride, stride, ceil_mode=True)
    extra = out_channels - x.shape[1]
    if extra > 0:
        x = F.pad(x, (0, 0, 0, 0, 0, extra))  # (W_l, W_r, H_t, H_b, C_front, C_back)
    return x


class PyramidalBlock(nn.Module):
    """One pyramidal residual unit (final-level shortcut in RoR's terms).

    ``block_style`` (the paper compares block variants and keeps the best; which one is unverified):
      * ``"pyramid"``: PyramidNet's unit (Han et al., Sec. 3.3, Fig. 6d): basic BN-Conv3-BN-ReLU-Conv3-BN,
        bottleneck BN-Conv1-BN-ReLU-Conv3-BN-ReLU-Conv1-BN; no ReLU at entry or after the addition.
      * ``"preact"``: pre-activation (He et al. 2016b): BN-ReLU-Conv ... BN-ReLU-Conv.
      * ``"pyramid_relu"``: ``"pyramid"`` followed by a ReLU at the end of the residual branch.
    The output has ``planes * expansion`` channels (expansion 4 for bottleneck).
    """

    def __init__(self, in_channels: int, planes: int, stride: int = 1, bottleneck: bool = False,
                 block_style: str = "pyramid", drop_path: float = 0.0, shortcut: bool = True):
        super().__init__()
        if block_style not in BLOCK_STYLES:
            raise ConfigError(f"block_style must be one of {', '.join(BLOCK_STYLES)}, got {block_style!r}")
        self.out_channels = planes * (4 if bottleneck else 1)
        self.stride, self.shortcut = stride, shortcut
        pre = block_style == "preact"
        if bottleneck:
            convs = [nn.Conv2d(in_channels, planes, 1, bias=False),
                     nn.Conv2d(planes, planes, 3, stride, 1, bias=False),
                     nn.Conv2d(planes, self.out_channels, 1, bias=False)]
        else:
            convs = [nn.Conv2d(in_channels, planes, 3, stride, 1, bias=False),
                     nn.Conv2d(planes, planes, 3, 1, 1, bias=False)]
        layers: list[nn.Module] = []
        c = in_channels
        for i, conv in enumerate(convs):
            # PyramidNet: BN before every conv, ReLU before every conv but the first; pre-act: BN-ReLU always.
            layers.append(nn.BatchNorm2d(c))
            if pre or i > 0:
                layers.append(nn.ReLU())
            layers.append(conv)
            c = conv.out_channels
        if not pre:
            layers.append(nn.BatchNorm2d(c))
        if block_style == "pyramid_relu":
            layers.append(nn.ReLU())
        self.residual = nn.Sequential(*layers)
        self.drop_path = DropPath(drop_path)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.drop_path(self.residual(x))
        if not self.shortcut:
            return out
        return out + zero_pad_shortcut(x, self.out_channels, self.stride)


class LevelShortcut(nn.Module):
    """A root- or middle-level RoR shortcut (RoR, Sec. 3, Fig. 2) across a change of channels/resolution.

    ``kind="projection"``: AvgPool2d(stride) then 1x1 conv + BN (RoR's type-B projection; the pooling
    replaces RoR's strided 1x1 conv so no input pixel is skipped, as in PyramidNet's own shortcut;
    ``pool=False`` gives the strided 1x1 conv). ``kind="zeropad"``: PyramidNet's parameter-free
    pool + zero-pad shortcut. Deviation/unverified: the paper's exact form is not confirmed.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int, kind: str = "projection",
                 pool: bool = True):
        super().__init__()
        if kind not in ("projection", "zeropad"):
            raise ConfigError(f"RoR shortcut kind must be 'projection' or 'zeropad', got {kind!r}")
        self.kind, self.out_channels, self.stride = kind, out_channels, stride
        if kind == "projection":
            pool_stride = stride if pool else 1
            self.pool = nn.AvgPool2d(stride, stride, ceil_mode=True) if pool and stride > 1 else nn.Identity()
            self.conv = nn.Conv2d(in_channels, out_channels, 1, stride // pool_stride, bias=False)
            self.bn = nn.BatchNorm2d(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.kind == "zeropad":
            return zero_pad_shortcut(x, self.out_channels, self.stride)
        return self.bn(self.conv(self.pool(x)))


def pyramid_widths(depth: int, alpha: float, bottleneck: bool, base: int = 16) -> list[list[int]]:
    """Per-stage lists of block widths (before the bottleneck's x4): PyramidNet Eq. 2 (additive widening).

    ``n = (depth-2)/6`` (basic) or ``(depth-2)/9`` (bottleneck) blocks per stage; block k (1-based over
    all 3n blocks) has ``round(base + k*alpha/(3n))`` channels, as the official code computes it.
    """
    per = 9 if bottleneck else 6
    if depth < per + 2 or (depth - 2) % per:
        kind = "bottleneck" if bottleneck else "basic"
        raise ConfigError(f"depth {depth} does not fit a {kind} PyramidNet: need depth = {per}n + 2 "
                          f"(e.g. {per * 3 + 2}, {per * 18 + 2})")
    n = (depth - 2) // per
    add = alpha / (3 * n)
    dim, out = float(base), []
    for _ in range(3):
        stage = []
        for _ in range(n):
            dim += add
            stage.append(int(round(dim)))
        out.append(stage)
    return out


def drop_path_rates(num_blocks: int, rate: float, schedule: str = "linear") -> list[float]:
    """Drop probability per block: ``"linear"`` decays survival from 1 to ``1-rate`` over depth
    (Huang et al. Eq. 4: p_l = 1 - l/L (1 - p_L), as the RoR+SD setting), ``"uniform"`` uses ``rate``."""
    if schedule == "linear":
        return [rate * (i + 1) / num_blocks for i in range(num_blocks)]
    if schedule == "uniform":
        return [rate] * num_blocks
    raise ConfigError(f"drop_path_schedule must be 'linear' or 'uniform', got {schedule!r}")


class PyramidalRoR(nn.Module):
    """PyramidNet (``root_shortcut=stage_shortcut=False``, i.e. RoR-1) up to Pyramidal RoR-3.

    Layout (CIFAR/SVHN, 32x32): stem Conv3x3(16)-BN; 3 stages of n pyramidal blocks (stride 1, 2, 2);
    BN-ReLU, global average pool, FC (Han et al., Sec. 3 and Table 1). RoR (Zhang et al., Sec. 3):
    the root-level shortcut adds a projection of the stem output to the last stage's output, each
    middle-level (stage) shortcut a projection of the stage input to that stage's output; the final
    level is the blocks' own zero-padded identity shortcuts.

    Args:
        depth: Defaults to 110. alpha: total widening. Defaults to 48. bottleneck: Defaults to False.
        num_classes: Defaults to 10. in_chans: Defaults to 3. base_width: stem channels. Defaults to 16.
        block_style: ``pyramid`` | ``preact`` | ``pyramid_relu``. Defaults to "pyramid".
        root_shortcut / stage_shortcut / block_shortcut: switch each RoR level. Defaults to False, False, True.
        last_block_shortcut: keep the last block's own shortcut. Defaults to True.
        shortcut_kind: ``projection`` | ``zeropad`` for root/stage shortcuts. Defaults to "projection".
        drop_path_rate: drop probability of the last block. Defaults to 0.0.
        drop_path_schedule: ``linear`` | ``uniform``. Defaults to "linear".
    """

    def __init__(self, depth: int = 110, alpha: float = 48, bottleneck: bool = False, num_classes: int = 10,
                 in_chans: int = 3, base_width: int = 16, block_style: str = "pyramid",
                 root_shortcut: bool = False, stage_shortcut: bool = False, block_shortcut: bool = True,
                 last_block_shortcut: bool = True, shortcut_kind: str = "projection", shortcut_pool: bool = True,
                 drop_path_rate: float = 0.0, drop_path_schedule: str = "linear"):
        super().__init__()
        if drop_path_rate > 0 and not block_shortcut:
            raise ConfigError("drop_path_rate > 0 needs block_shortcut=True (a dropped branch with no shortcut "
                              "zeroes the signal)")
        widths = pyramid_widths(depth, alpha, bottleneck, base_width)
        self.depth, self.alpha, self.bottleneck = depth, alpha, bottleneck
        self.root_shortcut, self.stage_shortcut = root_shortcut, stage_shortcut
        expansion = 4 if bottleneck else 1
        n_blocks = sum(len(s) for s in widths)
        rates = iter(drop_path_rates(n_blocks, drop_path_rate, drop_path_schedule))
        self.stem = nn.Sequential(nn.Conv2d(in_chans, base_width, 3, 1, 1, bias=False), nn.BatchNorm2d(base_width))
        c = base_width
        stages, level = [], []
        for s, ws in enumerate(widths):
            stride = 1 if s == 0 else 2
            blocks, c_in = [], c
            for j, w in enumerate(ws):
                last = s == len(widths) - 1 and j == len(ws) - 1
                blocks.append(PyramidalBlock(c, w, stride if j == 0 else 1, bottleneck, block_style, next(rates),
                                             shortcut=block_shortcut and (last_block_shortcut or not last)))
                c = w * expansion
            stages.append(nn.Sequential(*blocks))
            level.append(LevelShortcut(c_in, c, stride, shortcut_kind, shortcut_pool) if stage_shortcut else None)
        self.stages = nn.ModuleList(stages)
        self.stage_shortcuts = nn.ModuleList([m for m in level if m is not None]) if stage_shortcut else None
        self.root = LevelShortcut(base_width, c, 4, shortcut_kind, shortcut_pool) if root_shortcut else None
        self.num_features = c
        self.norm = nn.BatchNorm2d(c)
        self.act = nn.ReLU()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(c, num_classes)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Official PyramidNet init: conv N(0, sqrt(2/(k*k*out))), BN gamma 1 beta 0, FC bias 0."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.zeros_(m.bias)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        root_in = x
        for s, stage in enumerate(self.stages):
            stage_in = x
            x = stage(x)
            if self.stage_shortcuts is not None:
                x = x + self.stage_shortcuts[s](stage_in)  # middle-level shortcut
        if self.root is not None:
            x = x + self.root(root_in)  # root-level shortcut
        return self.act(self.norm(x))

    def forward_head(self, f: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.pool(f), 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` (B, C, H, W) -> logits (B, num_classes)."""
        return self.forward_head(self.forward_features(x))


# -- registered variants: PyramidNet table (Han et al. Table 4 / official README) and Pyramidal RoR-3 ----
_PYRAMIDNET_TABLE: Sequence[tuple[int, int, bool]] = (
    (110, 48, False), (110, 84, False), (110, 270, False),
    (164, 48, True), (164, 270, True), (200, 240, True), (272, 200, True),
)
RoR3 = dict(root_shortcut=True, stage_shortcut=True, drop_path_rate=0.5)


def _pyramidnet(depth: int, alpha: int, bottleneck: bool, /, **kw) -> PyramidalRoR:
    return PyramidalRoR(**{"depth": depth, "alpha": alpha, "bottleneck": bottleneck, **kw})


def _pyramidal_ror(depth: int, alpha: int, bottleneck: bool, /, **kw) -> PyramidalRoR:
    return PyramidalRoR(**{"depth": depth, "alpha": alpha, "bottleneck": bottleneck, **RoR3, **kw})


@register_model(example=(3, 32, 32), tiny={"depth": 8, "alpha": 8})
def pyramidnet110_a48(**kw) -> PyramidalRoR:
    """PyramidNet-110, alpha=48, basic: 1.7M params, 4.62 / 23.31 % (C-10 / C-100)."""
    return _pyramidnet(110, 48, False, **kw)


@register_model(example=(3, 32, 32), tiny={"depth": 8, "alpha": 8})
def pyramidnet110_a84(**kw) -> PyramidalRoR:
    """PyramidNet-110, alpha=84, basic: 3.8M params, 4.27 / 20.21 %."""
    return _pyramidnet(110, 84, False, **kw)


@register_model(example=(3, 32, 32), tiny={"depth": 8, "alpha": 8})
def pyramidnet110_a270(**kw) -> PyramidalRoR:
    """PyramidNet-110, alpha=270, basic: 28.3M params, 3.73 / 18.25 %."""
    return _pyramidnet(110, 270, False, **kw)


@register_model(example=(3, 32, 32), tiny={"depth": 11, "alpha": 8})
def pyramidnet164_a48_bottleneck(**kw) -> PyramidalRoR:
    """PyramidNet-164, alpha=48, bottleneck: 1.7M params, 4.21 / 19.52 %."""
    return _pyramidnet(164, 48, True, **kw)


@register_model(example=(3, 32, 32), tiny={"depth": 11, "alpha": 8})
def pyramidnet164_a270_bottleneck(**kw) -> PyramidalRoR:
    """PyramidNet-164, alpha=270, bottleneck: 27.0M params, 3.48 / 17.01 %."""
    return _pyramidnet(164, 270, True, **kw)


@register_model(example=(3, 32, 32), tiny={"depth": 11, "alpha": 8})
def pyramidnet200_a240_bottleneck(**kw) -> PyramidalRoR:
    """PyramidNet-200, alpha=240, bottleneck: 26.6M params, 3.44 / 16.51 %."""
    return _pyramidnet(200, 240, True, **kw)


@register_model(example=(3, 32, 32), tiny={"depth": 11, "alpha": 8})
def pyramidnet236_a220_bottleneck(**kw) -> PyramidalRoR:
    """PyramidNet-236, alpha=220, bottleneck: 26.8M params, 3.40 / 16.37 %."""
    return _pyramidnet(236, 220, True, **kw)


@register_model(example=(3, 32, 32), tiny={"depth": 11, "alpha": 8})
def pyramidnet272_a200_bottleneck(**kw) -> PyramidalRoR:
    """PyramidNet-272, alpha=200, bottleneck: 26.0M params, 3.31 / 16.35 %."""
    return _pyramidnet(272, 200, True, **kw)


@register_model(example=(3, 32, 32), tiny={"depth": 8, "alpha": 8})
def pyramidal_ror110_a48(**kw) -> PyramidalRoR:
    """Pyramidal RoR-3 on PyramidNet-110 alpha=48 (basic), drop-path to 0.5."""
    return _pyramidal_ror(110, 48, False, **kw)


@register_model(example=(3, 32, 32), tiny={"depth": 8, "alpha": 8})
def pyramidal_ror110_a84(**kw) -> PyramidalRoR:
    """Pyramidal RoR-3 on PyramidNet-110 alpha=84 (basic), drop-path to 0.5."""
    return _pyramidal_ror(110, 84, False, **kw)


@register_model(example=(3, 32, 32), tiny={"depth": 8, "alpha": 8})
def pyramidal_ror110_a270(**kw) -> PyramidalRoR:
    """Pyramidal RoR-3 on PyramidNet-110 alpha=270 (basic), drop-path to 0.5."""
    return _pyramidal_ror(110, 270, False, **kw)


@register_model(example=(3, 32, 32), tiny={"depth": 11, "alpha": 8})
def pyramidal_ror164_a270_bottleneck(**kw) -> PyramidalRoR:
    """Pyramidal RoR-3 on PyramidNet-164 alpha=270 (bottleneck), drop-path to 0.5 (headline-size, unverified)."""
    return _pyramidal_ror(164, 270, True, **kw)


@register_model(example=(3, 32, 32), tiny={"depth": 11, "alpha": 8})
def pyramidal_ror200_a240_bottleneck(**kw) -> PyramidalRoR:
    """Pyramidal RoR-3 on PyramidNet-200 alpha=240 (bottleneck), drop-path to 0.5."""
    return _pyramidal_ror(200, 240, True, **kw)


@register_model(example=(3, 32, 32), tiny={"depth": 11, "alpha": 8})
def pyramidal_ror236_a220_bottleneck(**kw) -> PyramidalRoR:
    """Pyramidal RoR-3 on PyramidNet-236 alpha=220 (bottleneck), drop-path to 0.5."""
    return _pyramidal_ror(236, 220, True, **kw)


@register_model(example=(3, 32, 32), tiny={"depth": 11, "alpha": 8})
def pyramidal_ror272_a200_bottleneck(**kw) -> PyramidalRoR:
    """Pyramidal RoR-3 on PyramidNet-272 alpha=200 (bottleneck), drop-path to 0.5."""
    return _pyramidal_ror(272, 200, True, **kw)
