"""Deep thin networks and their wide twins (WIN's stage 1, "wide learning").

Zhou, Ye, Chen, Meng, Tan, Song, Le, Liu, Schuurmans, "Go Wide, Then Narrow: Efficient Training
of Deep Thin Networks", ICML 2020, arXiv 2007.00811 (https://arxiv.org/abs/2007.00811).

The method needs a *block-structured* network: a stem, ``L`` blocks, a head. Its wide twin keeps
the depth ``L`` and multiplies every block's width by a factor (abstract: "we sufficiently widen
the deep thin network"). `widen` does this for three spec types:

* `MLPConfig` -> `DeepMLP`: ``depth`` blocks ``Linear -> ReLU`` of ``width`` units, a linear head,
  no normalisation, no residuals (the hard-to-train student of our quick preset).
* `ResNetSpec` -> ``paperzoo.vision.ResNet``: every stage's ``widths`` entry is scaled.
* ``paperzoo.transformer.TransformerConfig`` -> ``TransformerLM``: ``d_model`` and ``d_ff``
  scaled, heads kept (head width grows), layers kept.
* `BertSpec` (a ``TransformerConfig``) -> `MaskedLMEncoder`: a BERT-style bidirectional encoder
  (Devlin et al. 2019, arXiv 1810.04805: learned positions, Post-LN, GELU, masked-LM head tied
  to the embedding) built from the shared ``paperzoo.transformer.TransformerStack``; widened as above.

Deviation: the ImageNet reproduction widens only the 3x3 convolutions of a ResNet-50 (4x) so that
stage outputs keep their width; we widen whole stages through ``widths`` (the shared ResNet's
argument) and bridge the widths with the imitation maps, which the general method allows.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..errors import ConfigError
from ..registry import register_model
from ..transformer import TransformerConfig, TransformerLM
from ..vision import ResNet

__all__ = ["MLPConfig", "MLPBlock", "DeepMLP", "ResNetSpec", "BertSpec", "MaskedLMEncoder", "Spec", "widen", "build", "depth_of", "widths_of"]


class MLPBlock(nn.Module):
    """One block of a plain deep MLP: ``h' = ReLU(W h + b)`` (its ReLU is its own module)."""

    def __init__(self, d_in: int, d_out: int, activation: str = "relu"):
        super().__init__()
        self.linear = nn.Linear(d_in, d_out)
        acts = {"relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU}
        if activation not in acts:
            raise ConfigError(f"activation must be one of {sorted(acts)}, got {activation!r}")
        self.act = acts[activation]()

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.act(self.linear(h))


@dataclass
class MLPConfig:
    """A deep plain MLP. Defaults: 16 blocks of 12 units on 8x8 digits (our quick student).

    Args:
        in_dim: input features. Defaults to 64. width: units per block. Defaults to 12.
        depth: number of blocks (hidden layers). Defaults to 16. num_classes: Defaults to 10.
        activation: ``relu``/``tanh``/``gelu``. Defaults to "relu".
        init: ``he`` (Kaiming normal, fan-in, zero bias) or ``torch`` (nn.Linear's default). Defaults to "he".
    """

    in_dim: int = 64
    width: int = 12
    depth: int = 16
    num_classes: int = 10
    activation: str = "relu"
    init: str = "he"


class DeepMLP(nn.Module):
    """``depth`` x `MLPBlock` then a linear head; ``forward_features``/``forward_head`` as timm."""

    def __init__(self, cfg: MLPConfig):
        super().__init__()
        if cfg.depth < 1 or cfg.width < 1:
            raise ConfigError(f"MLP needs depth >= 1 and width >= 1, got depth={cfg.depth} width={cfg.width}")
        self.cfg = cfg
        dims = [cfg.in_dim] + [cfg.width] * cfg.depth
        self.blocks = nn.ModuleList(MLPBlock(a, b, cfg.activation) for a, b in zip(dims[:-1], dims[1:]))
        self.head = nn.Linear(cfg.width, cfg.num_classes)
        if cfg.init == "he":
            for m in self.modules():
                if isinstance(m, nn.Linear):
                    nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                    nn.init.zeros_(m.bias)
        elif cfg.init != "torch":
            raise ConfigError(f"init must be 'he' or 'torch', got {cfg.init!r}")

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        h = x.flatten(1)  # (B, in_dim)
        for b in self.blocks:
            h = b(h)
        return h

    def forward_head(self, h: torch.Tensor) -> torch.Tensor:
        return self.head(h)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, ...) flattened to (B, in_dim) -> logits (B, num_classes)."""
        return self.forward_head(self.forward_features(x))


@dataclass
class ResNetSpec:
    """Arguments of ``paperzoo.vision.ResNet``; defaults = ResNet-50 (He et al. Table 1)."""

    block: str = "bottleneck"
    layers: tuple[int, ...] = (3, 4, 6, 3)
    widths: tuple[int, ...] = (64, 128, 256, 512)
    stem: str = "imagenet"
    num_classes: int = 1000
    in_chans: int = 3


@dataclass
class BertSpec(TransformerConfig):
    """A BERT-style encoder (Devlin et al. 2019): bidirectional, Post-LN, GELU, learned positions.

    Defaults: BERT_BASE's shape (12 x 768, 12 heads, FFN 3072) on a byte vocabulary (256 bytes +
    ``[MASK]`` = 256), 128 positions. ``src_vocab`` is the vocabulary; ``tgt_vocab`` is unused.
    """

    src_vocab: int = 257
    tgt_vocab: int = 257
    d_model: int = 768
    n_heads: int = 12
    d_ff: int = 3072
    n_layers: int = 12
    dropout: float = 0.1
    norm: str = "post"
    positions: str = "learned"
    max_len: int = 128
    activation: str = "gelu"
    init: str = "normal"  # BERT's N(0, 0.02)
    scale_embeddings: bool = False


class MaskedLMEncoder(TransformerLM):
    """``TransformerLM``'s embedding, positions, `TransformerStack` and tied head, run bidirectionally
    (no causal mask) with a masked-LM loss: the same attribute names, so WIN sees it the same way.

    Deviation: BERT's MLM head has a dense + GELU + LayerNorm transform and a bias before the tied
    decoder; ours is the tied decoder alone (as our LM's), and there is no next-sentence objective or
    token-type embedding (RoBERTa drops NSP too).
    """

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None):
        """idx: (B, T) ids -> ``(logits (B, T, V), masked-LM loss in nats or None)``; targets use -100
        for positions that are not predicted (PyTorch's ignore index)."""
        x = self.embed(idx)
        if self.cfg.scale_embeddings:
            x = x * math.sqrt(self.cfg.d_model)
        logits = self.lm_head(self.blocks(self.drop(self.pos(x))))
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1), ignore_index=-100)
        return logits, loss


Spec = Union[MLPConfig, ResNetSpec, TransformerConfig]


def widen(spec: Spec, factor: float) -> Spec:
    """The wide twin of a thin spec: same depth, every block's width x ``factor`` (WIN stage 1).

    Widths are rounded to integers; a Transformer keeps its head count, so ``d_model`` is rounded
    to a multiple of it.
    """
    if not factor >= 1:
        raise ConfigError(f"widen factor must be >= 1 (the teacher is the wide one), got {factor}")
    if isinstance(spec, MLPConfig):
        return dataclasses.replace(spec, width=max(1, round(spec.width * factor)))
    if isinstance(spec, ResNetSpec):
        return dataclasses.replace(spec, widths=tuple(max(1, round(w * factor)) for w in spec.widths))
    if isinstance(spec, TransformerConfig):
        h = spec.n_heads
        d = max(h, round(spec.d_model * factor / h) * h)
        return dataclasses.replace(spec, d_model=d, d_ff=max(1, round(spec.d_ff * factor)))
    raise ConfigError(f"widen() takes an MLPConfig, ResNetSpec or TransformerConfig, got {type(spec).__name__}")


def build(spec: Spec) -> nn.Module:
    """The network a spec describes."""
    if isinstance(spec, MLPConfig):
        return DeepMLP(spec)
    if isinstance(spec, ResNetSpec):
        return ResNet(block=spec.block, layers=spec.layers, widths=spec.widths, stem=spec.stem,
                      num_classes=spec.num_classes, in_chans=spec.in_chans)
    if isinstance(spec, BertSpec):
        return MaskedLMEncoder(spec)
    if isinstance(spec, TransformerConfig):
        return TransformerLM(spec)
    raise ConfigError(f"build() takes an MLPConfig, ResNetSpec or TransformerConfig, got {type(spec).__name__}")


def depth_of(spec: Spec) -> int:
    """Number of imitation blocks: MLP blocks, ResNet stages, Transformer layers."""
    if isinstance(spec, MLPConfig):
        return spec.depth
    if isinstance(spec, ResNetSpec):
        return len(spec.layers)
    if isinstance(spec, TransformerConfig):
        return spec.n_layers
    raise ConfigError(f"unknown spec type {type(spec).__name__}")


def widths_of(spec: Spec) -> Sequence[int]:
    """Output width of each imitation block (channels for a ResNet stage)."""
    if isinstance(spec, MLPConfig):
        return [spec.width] * spec.depth
    if isinstance(spec, ResNetSpec):
        exp = 4 if spec.block == "bottleneck" else 1
        return [w * exp for w in spec.widths]
    if isinstance(spec, TransformerConfig):
        return [spec.d_model] * spec.n_layers
    raise ConfigError(f"unknown spec type {type(spec).__name__}")


# -- registered variants ------------------------------------------------------------------------
@register_model(example=(64,), tiny={"depth": 3})
def widethin_mlp16x12(**kw) -> DeepMLP:
    """The quick preset's deep thin student: 16 blocks x 12 units, digits input (64 -> 10)."""
    return DeepMLP(MLPConfig(**kw))


@register_model(example=(64,), tiny={"depth": 3, "width": 8})
def widethin_mlp16x96(**kw) -> DeepMLP:
    """Its wide twin (x8): 16 blocks x 96 units."""
    return DeepMLP(MLPConfig(**{"width": 96, **kw}))
