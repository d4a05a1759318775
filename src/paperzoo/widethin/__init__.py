"""S2 WIN: Zhou et al., "Go Wide, Then Narrow: Efficient Training of Deep Thin Networks", ICML 2020,
arXiv 2007.00811.

`model` widens a thin spec (MLP, ResNet, Transformer LM) into its wide twin; `imitation` holds
S-bar (the thin net with linear pairs), the layerwise imitation stages and the exact merge;
`losses` the imitation and distillation losses; `recipe` the ``wide-thin`` recipe (parts: `lm`, `resnet`, `bert` studies in their own modules).
"""

from .imitation import BlockView, LinearPair, WinStudent, block_outputs, init_stage_lstsq, view_of
from .losses import ImitationLoss, LogitDistillation, accuracy, bits_per_char
from .model import (
    BertSpec,
    DeepMLP,
    MaskedLMEncoder,
    MLPBlock,
    MLPConfig,
    ResNetSpec,
    build,
    depth_of,
    widen,
    widths_of,
)

__all__ = [
    "MLPConfig", "MLPBlock", "DeepMLP", "ResNetSpec", "BertSpec", "MaskedLMEncoder", "widen", "build", "depth_of", "widths_of",
    "BlockView", "view_of", "LinearPair", "WinStudent", "block_outputs", "init_stage_lstsq",
    "ImitationLoss", "LogitDistillation", "accuracy", "bits_per_char",
]
