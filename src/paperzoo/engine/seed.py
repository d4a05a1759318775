"""Seeding and determinism."""

from __future__ import annotations

import os
import random

import numpy as np
import torch


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch (CPU and CUDA); returns a torch Generator seeded the same."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    return torch.Generator().manual_seed(seed)


def set_deterministic(on: bool = True) -> None:
    """Ask torch for deterministic kernels (warn-only where none exists)."""
    torch.use_deterministic_algorithms(on, warn_only=True)
    if torch.cuda.is_available():
        torch.backends.cudnn.benchmark = not on
        torch.backends.cudnn.deterministic = on
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
