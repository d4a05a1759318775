"""Small statistics for reports: effects over seeds with spread (means, t-intervals, paired intervals)."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from scipy import stats as _st

__all__ = ["mean_std", "t_interval", "paired_interval", "spearman", "fmt_ci"]


def mean_std(x: Sequence[float]) -> tuple[float, float]:
    a = np.asarray(x, dtype=float)
    return float(a.mean()), float(a.std(ddof=1)) if a.size > 1 else 0.0


def t_interval(x: Sequence[float], level: float = 0.95) -> tuple[float, float, float]:
    """(mean, low, high) Student-t interval of the mean."""
    a = np.asarray(x, dtype=float)
    m = float(a.mean())
    if a.size < 2:
        return m, m, m
    h = float(_st.t.ppf(0.5 + level / 2, a.size - 1) * a.std(ddof=1) / math.sqrt(a.size))
    return m, m - h, m + h


def paired_interval(x: Sequence[float], y: Sequence[float], level: float = 0.95) -> tuple[float, float, float]:
    """Interval of the mean paired difference x - y (same seeds)."""
    return t_interval(np.asarray(x, float) - np.asarray(y, float), level)


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    return float(_st.spearmanr(x, y).statistic)


def fmt_ci(x: Sequence[float], scale: float = 1.0, digits: int = 2) -> str:
    m, lo, hi = t_interval(np.asarray(x, float) * scale)
    return f"{m:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"
