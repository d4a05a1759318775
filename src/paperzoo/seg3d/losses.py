"""Losses restricted to a candidate region.

Roth et al., arXiv 1704.06382 (2017), Sec. 2.3, Eq. 1: a weighted voxel-wise softmax
cross-entropy evaluated only inside the candidate region C (C1 = body, C2 = dilated stage-1
foreground); voxels outside carry label 255 and are ignored. Class weights
``lambda_i = (1 - N_i / N_C) / (K - 1)`` (they sum to 1), ``N_i`` voxels of class i in C.
Optionally MONAI's ``MaskedDiceLoss`` is added (``kind="wce+dice"``; not in the paper).
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from monai.losses import MaskedDiceLoss

from ..errors import ConfigError

__all__ = ["IGNORE", "class_weights", "RegionLoss"]

IGNORE = 255  # the paper's "don't care" label outside the candidate region


def class_weights(target: torch.Tensor, n_classes: int) -> torch.Tensor:
    """lambda_i = (1 - N_i / N_C) / (K - 1) over voxels with target != IGNORE (Eq. 1)."""
    t = target[target != IGNORE]
    n_c = max(int(t.numel()), 1)
    counts = torch.bincount(t.long().flatten(), minlength=n_classes)[:n_classes].float()
    return (1.0 - counts / n_c) / (n_classes - 1)


class RegionLoss(nn.Module):
    """Weighted cross-entropy inside the region (Eq. 1), optionally + masked Dice (MONAI).

    ``forward(logits (B, K, ...), target (B, ...) with IGNORE outside the region)`` -> scalar.
    """

    def __init__(self, n_classes: int, kind: str = "wce") -> None:
        super().__init__()
        if kind not in ("wce", "wce+dice"):
            raise ConfigError(f"loss {kind!r} unknown; choose wce (the paper) or wce+dice")
        self.n_classes, self.kind = n_classes, kind
        self.dice = MaskedDiceLoss(include_background=False, to_onehot_y=True, softmax=True) if kind == "wce+dice" else None

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if not (target != IGNORE).any():
            return logits.sum() * 0.0  # an empty region contributes nothing (keeps the graph)
        w = class_weights(target, self.n_classes).to(logits.device, logits.dtype)
        loss = F.cross_entropy(logits, target.long(), weight=w, ignore_index=IGNORE)
        if self.dice is not None:
            mask = (target != IGNORE).unsqueeze(1).to(logits.dtype)
            y = torch.where(target == IGNORE, torch.zeros_like(target), target).unsqueeze(1)
            loss = loss + self.dice(logits, y, mask=mask)
        return loss
