"""Losses on tuples (q, p, n_1..n_N): contrastive (Sec. 3.3, Eq. 3) and triplet.

Radenović, Tolias, Chum, "Fine-tuning CNN Image Retrieval with No Human Annotation", TPAMI 2019,
arXiv 1711.02512. Conventions follow cirtorch ``layers/functional.py`` (contrastive_loss,
triplet_loss; https://github.com/filipradenovic/cnnimageretrieval-pytorch): a tuple is a block of
descriptors with labels [-1 (query), 1 (positive), 0 (negative) ...]; the per-pair terms are
**summed**, not averaged; the distance is ||q - x + 1e-6||_2.
"""

from __future__ import annotations

import torch
import torch.nn as nn

__all__ = ["ContrastiveLoss", "TripletLoss", "tuple_labels"]


def tuple_labels(nnum: int) -> torch.Tensor:
    """Labels of one tuple of 2 + nnum images: [-1, 1, 0 x nnum]."""
    return torch.tensor([-1, 1] + [0] * nnum)


def _split(x: torch.Tensor, label: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """x (B*S, D) with labels (B*S,) -> queries repeated per pair (P, D), others (P, D), their labels (P,)."""
    label = label.to(x.device)
    nq = int((label == -1).sum())
    S = x.size(0) // nq  # tuple size 2 + N
    q = x[label == -1].repeat_interleave(S - 1, dim=0)
    others = x[label != -1]
    return q, others, label[label != -1].to(x.dtype)


class ContrastiveLoss(nn.Module):
    """y = 1/2 l D^2 + 1/2 (1 - l) max(0, m - D)^2, summed over the pairs (Eq. 3).

    Args:
        margin: m. Defaults to 0.85 (the reference's ResNet101 training command; VGG 0.75, AlexNet 0.7).
        eps: added inside the distance as cirtorch. Defaults to 1e-6.
    """

    def __init__(self, margin: float = 0.85, eps: float = 1e-6):
        super().__init__()
        self.margin, self.eps = margin, eps

    def forward(self, x: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        """x: (B*(2+N), D) descriptors of B tuples laid out tuple after tuple; label: matching labels."""
        q, o, lbl = _split(x, label)
        dist = (q - o + self.eps).norm(dim=1)
        y = 0.5 * lbl * dist.pow(2) + 0.5 * (1 - lbl) * (self.margin - dist).clamp(min=0).pow(2)
        return y.sum()


class TripletLoss(nn.Module):
    """sum_n max(0, ||a - p||^2 - ||a - n||^2 + margin) (cirtorch ``triplet_loss``). margin defaults to 0.1."""

    def __init__(self, margin: float = 0.1):
        super().__init__()
        self.margin = margin

    def forward(self, x: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        label = label.to(x.device)
        nq = int((label == -1).sum())
        S = x.size(0) // nq
        t = x.view(nq, S, -1)  # (B, 2+N, D)
        a, p, n = t[:, 0:1], t[:, 1:2], t[:, 2:]
        dp = (a - p).pow(2).sum(-1)  # (B, 1)
        dn = (a - n).pow(2).sum(-1)  # (B, N)
        return (dp - dn + self.margin).clamp(min=0).sum()
