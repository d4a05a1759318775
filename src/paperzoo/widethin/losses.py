"""Losses and metrics of WIN (Zhou et al. 2020, arXiv 2007.00811).

* `ImitationLoss`: mean-squared error between ``A_k h_k`` and the wide block-k output (Sec. 3;
  the ImageNet reproduction uses MSE at every stage).
* `LogitDistillation`: Hinton et al. (2015, arXiv 1503.02531) knowledge distillation,
  ``alpha * T^2 * KL(softmax(z_t / T) || softmax(z_s / T)) + (1 - alpha) * CE(z_s, y)``; the paper's
  optional logit distillation during fine-tuning, and our "logit KD only" baseline.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["ImitationLoss", "LogitDistillation", "accuracy", "bits_per_char"]


class ImitationLoss(nn.Module):
    """``mean((A_k h_k - y_k)^2)`` over all elements."""

    def forward(self, imitation: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.mse_loss(imitation, target)


class LogitDistillation(nn.Module):
    """Hinton KD on logits (any leading shape; classes on the last axis).

    Args:
        temperature: T. Defaults to 2.0. alpha: weight of the KD term. Defaults to 0.5.
    """

    def __init__(self, temperature: float = 2.0, alpha: float = 0.5):
        super().__init__()
        self.temperature, self.alpha = temperature, alpha

    def forward(self, student: torch.Tensor, teacher: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        T = self.temperature
        s = student.reshape(-1, student.size(-1))
        t = teacher.reshape(-1, teacher.size(-1)).detach()
        kd = F.kl_div(F.log_softmax(s / T, -1), F.log_softmax(t / T, -1), log_target=True,
                      reduction="batchmean") * T * T
        if self.alpha >= 1:
            return kd
        return self.alpha * kd + (1 - self.alpha) * F.cross_entropy(s, targets.reshape(-1))


def accuracy(logits: torch.Tensor, targets: torch.Tensor) -> float:
    return float((logits.argmax(-1) == targets).float().mean())


def bits_per_char(nats: float) -> float:
    """Cross-entropy in nats per character -> bits per character."""
    return nats / math.log(2)
