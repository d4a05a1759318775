"""Learning-rate schedules as multipliers for ``torch.optim.lr_scheduler.LambdaLR``.

``warmup_inverse_sqrt`` is the schedule Xiong et al. (2020, Sec. 3.1) study:
lr(t) = t / T_warmup * lr_max for t <= T_warmup, then lr_max * sqrt(T_warmup / t).
With ``warmup=0`` it is the constant schedule (no warm-up) the paper uses for Pre-LN.
"""

from __future__ import annotations

import math

import torch
from torch.optim.lr_scheduler import LambdaLR

__all__ = ["warmup_inverse_sqrt", "warmup_cosine", "warmup_linear", "make_scheduler", "clip_grad_norm"]


def warmup_inverse_sqrt(warmup: int, decay: bool = True):
    def f(step: int) -> float:
        t = step + 1
        if warmup > 0 and t <= warmup:
            return t / warmup
        if not decay or warmup <= 0:
            return 1.0
        return math.sqrt(warmup / t)
    return f


def warmup_cosine(warmup: int, total: int, min_ratio: float = 0.0):
    def f(step: int) -> float:
        t = step + 1
        if warmup > 0 and t <= warmup:
            return t / warmup
        p = min(1.0, (t - warmup) / max(1, total - warmup))
        return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * p))
    return f


def warmup_linear(warmup: int, total: int):
    def f(step: int) -> float:
        t = step + 1
        if warmup > 0 and t <= warmup:
            return t / warmup
        return max(0.0, (total - t) / max(1, total - warmup))
    return f


def make_scheduler(optimizer: torch.optim.Optimizer, name: str, *, warmup: int = 0, total: int = 1,
                   decay: bool = True) -> LambdaLR:
    """``name`` in {constant, inverse_sqrt, cosine, linear}."""
    fns = {
        "constant": lambda: warmup_inverse_sqrt(warmup, decay=False),
        "inverse_sqrt": lambda: warmup_inverse_sqrt(warmup, decay=decay),
        "cosine": lambda: warmup_cosine(warmup, total),
        "linear": lambda: warmup_linear(warmup, total),
    }
    if name not in fns:
        from ..errors import ConfigError
        raise ConfigError(f"unknown schedule {name!r}; choose from {', '.join(fns)}")
    return LambdaLR(optimizer, fns[name]())


def clip_grad_norm(parameters, max_norm: float | None) -> float:
    """Clip when ``max_norm`` is set; returns the total norm before clipping (0.0 when off)."""
    if not max_norm:
        return 0.0
    return float(torch.nn.utils.clip_grad_norm_(parameters, max_norm))
