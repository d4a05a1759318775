"""Losses restricted to a candidate region.

Roth et al., arXiv 1704.06382 (2017), Sec. 2.3, Eq. 1: a weighted voxel-wise softmax
cross-entropy evaluated only inside the candidate region C (C1 = body, C2 = dilated stage-1
foreground); voxels outside carry label 255 and are ignored. Class weights
``lambda_i = (1 - N_i / N_C) / (K - 1)`` (they sum to 1), ``N_i`` voxels of class i in C.
The counts are taken over the candidate regions of the whole training set (`region_class_weights`; the
released code stores per-voxel weights next to each training volume), not per patch: a patch holding only
background would give lambda_background = 0, a zero weight sum and a NaN loss (0/0) that poisons the network
(batch 1, the paper's setting, meets such patches at once). Per-batch weights remain the fallback when no
weights are passed, with the 0/0 case returning 0.
Optionally MONAI's ``MaskedDiceLoss`` is added (``kind="wce+dice"``; not in the paper).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from monai.losses import MaskedDiceLoss

from ..errors import ConfigError

__all__ = ["IGNORE", "class_weights", "region_class_weights", "RegionLoss"]

IGNORE = 255  # the paper's "don't care" label outside the candidate region


def class_weights(target: torch.Tensor, n_classes: int) -> torch.Tensor:
    """lambda_i = (1 - N_i / N_C) / (K - 1) over voxels with target != IGNORE (Eq. 1)."""
    t = target[target != IGNORE]
    n_c = max(int(t.numel()), 1)
    counts = torch.bincount(t.long().flatten(), minlength=n_classes)[:n_classes].float()
    return (1.0 - counts / n_c) / (n_classes - 1)


def region_class_weights(targets: list[np.ndarray], n_classes: int) -> torch.Tensor:
    """Eq. 1's lambda_i with N_i, N_C counted over every volume's region (targets != IGNORE)."""
    counts = np.zeros(n_classes, np.int64)
    for t in targets:
        c = np.bincount(np.asarray(t).ravel(), minlength=256)
        counts += c[:n_classes]
    n_c = max(int(counts.sum()), 1)
    return torch.as_tensor((1.0 - counts / n_c) / (n_classes - 1), dtype=torch.float32)


class RegionLoss(nn.Module):
    """Weighted cross-entropy inside the region (Eq. 1), optionally + masked Dice (MONAI).

    ``forward(logits (B, K, ...), target (B, ...) with IGNORE outside the region, weight (K,) or None)``
    -> scalar: sum of lambda_t * CE over region voxels / sum of lambda_t (0 when that sum is 0).
    ``weight=None`` computes lambda on the batch.
    """

    def __init__(self, n_classes: int, kind: str = "wce") -> None:
        super().__init__()
        if kind not in ("wce", "wce+dice"):
            raise ConfigError(f"loss {kind!r} unknown; choose wce (the paper) or wce+dice")
        self.n_classes, self.kind = n_classes, kind
        self.dice = MaskedDiceLoss(include_background=False, to_onehot_y=True, softmax=True) if kind == "wce+dice" else None

    def forward(self, logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
        valid = target != IGNORE
        if not valid.any():
            return logits.sum() * 0.0  # an empty region contributes nothing (keeps the graph)
        w = class_weights(target, self.n_classes) if weight is None else weight
        w = w.to(logits.device, logits.dtype)
        y = torch.where(valid, target, torch.zeros_like(target)).long()
        ce = F.cross_entropy(logits, y, reduction="none")
        wv = w[y] * valid.to(logits.dtype)
        loss = (wv * ce).sum() / wv.sum().clamp_min(1e-12)  # 0, not 0/0, when every voxel has weight 0
        if self.dice is not None:
            loss = loss + self.dice(logits, y.unsqueeze(1), mask=valid.unsqueeze(1).to(logits.dtype))
        return loss
