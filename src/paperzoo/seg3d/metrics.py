"""Per-organ evaluation with MONAI: Dice (``DiceMetric``) and average symmetric surface distance.

Roth et al., arXiv 1704.06382 (2017), Tables 1-2 report Dice per organ; we add MONAI's average
symmetric surface distance (mm, with the voxel spacing) as the boundary measure.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from monai.metrics import DiceMetric, compute_average_surface_distance
from monai.networks.utils import one_hot

__all__ = ["organ_metrics"]


def organ_metrics(pred: np.ndarray, label: np.ndarray, n_classes: int,
                  spacing: tuple[float, ...] = (1.0, 1.0, 1.0), surface: bool = True) -> dict[str, float]:
    """``{"dice_k": ..., "asd_k": ...}`` for classes k = 1..K-1 (NaN where the class is absent in ``label``).

    A class missing from ``pred`` but present in ``label`` scores Dice 0 and ASD NaN.
    """
    p = one_hot(torch.as_tensor(pred.astype(np.int64))[None, None], n_classes)
    y = one_hot(torch.as_tensor(label.astype(np.int64))[None, None], n_classes)
    dice = DiceMetric(include_background=False, reduction="none", ignore_empty=True)(p, y)[0]
    out: dict[str, float] = {}
    for k in range(1, n_classes):
        out[f"dice_{k}"] = float(dice[k - 1])
        has_p, has_y = bool(p[0, k].any()), bool(y[0, k].any())
        if surface and has_p and has_y:
            with warnings.catch_warnings():  # MONAI 1.5+ deprecation notice inside get_mask_edges
                warnings.simplefilter("ignore", FutureWarning)
                asd = compute_average_surface_distance(p[:, k: k + 1], y[:, k: k + 1], include_background=True,
                                                       symmetric=True, spacing=list(spacing))
            out[f"asd_{k}"] = float(asd.flatten()[0])
        else:
            out[f"asd_{k}"] = float("nan")
    return out
