"""Region-restricted patch sampling for training a cascade stage (the loop is in `recipe.train_stage`).

Roth et al., arXiv 1704.06382 (2017), Sec. 2.3: sub-volumes at random positions inside the
candidate region (C1 for stage 1, C2 for stage 2), loss only inside the region (voxels outside
are label 255), rotations of +-5 degrees per axis, SGD momentum 0.99 with a step schedule
(gamma 0.1; lr 0.01 from scratch, 0.001 when fine-tuning stage 2 from stage 1).
Deviation: no B-spline elastic deformation (the phantoms are already warped per case); Adam is
offered (``optimizer="adam"``) for the short CPU runs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..errors import ConfigError
from .losses import IGNORE

__all__ = ["StageData", "TrainSettings", "make_stage_data", "sample_batch"]


@dataclass
class StageData:
    """Preprocessed inputs, targets (IGNORE outside the region) and the voxels patches are centred on."""

    inputs: list[np.ndarray]
    targets: list[np.ndarray]
    centres: list[np.ndarray]  # (n, 3) voxel indices inside the region


@dataclass
class TrainSettings:
    steps: int
    patch: tuple[int, int, int]
    batch: int = 1
    lr: float = 0.01
    optimizer: str = "sgd"
    momentum: float = 0.99
    lr_step: int = 20000
    gamma: float = 0.1
    loss: str = "wce"
    rotate_deg: float = 5.0
    n_classes: int = 8


def make_stage_data(inputs: list[np.ndarray], labels: list[np.ndarray], regions: list[np.ndarray],
                    patch: tuple[int, int, int], max_centres: int = 200_000, seed: int = 0) -> StageData:
    """Pad volumes up to ``patch``, set labels outside the region to IGNORE, list patch centres in the region."""
    rng = np.random.default_rng(seed)
    xs, ts, cs = [], [], []
    for x, y, r in zip(inputs, labels, regions):
        if x.shape != y.shape or x.shape != r.shape:
            raise ConfigError(f"input {x.shape}, label {y.shape} and region {r.shape} shapes differ")
        pad = [(0, max(0, p - s)) for s, p in zip(x.shape, patch)]
        t = np.where(r, y, IGNORE).astype(np.uint8)
        xs.append(np.pad(x, pad, constant_values=float(x.min())))
        ts.append(np.pad(t, pad, constant_values=IGNORE))
        c = np.argwhere(r)
        if len(c) == 0:
            continue
        cs.append(c[rng.choice(len(c), min(len(c), max_centres), replace=False)] if len(c) > max_centres else c)
    if not cs:
        raise ConfigError("every training region is empty: nothing to learn from")
    keep = [i for i, r in enumerate(regions) if r.any()]
    return StageData([xs[i] for i in keep], [ts[i] for i in keep], cs)


def _patch(x: np.ndarray, t: np.ndarray, centre: np.ndarray, patch: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    start = [int(np.clip(c - p // 2, 0, s - p)) for c, p, s in zip(centre, patch, x.shape)]
    sl = tuple(slice(a, a + p) for a, p in zip(start, patch))
    return x[sl], t[sl]


def _rotate(x: torch.Tensor, t: torch.Tensor, deg: float, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Random rotation of up to ``deg`` degrees about each axis (bilinear image, nearest labels; Sec. 2.3)."""
    a = (torch.rand(3, generator=gen) * 2 - 1) * np.deg2rad(deg)
    c, s = torch.cos(a), torch.sin(a)
    rx = torch.tensor([[1, 0, 0], [0, c[0], -s[0]], [0, s[0], c[0]]])
    ry = torch.tensor([[c[1], 0, s[1]], [0, 1, 0], [-s[1], 0, c[1]]])
    rz = torch.tensor([[c[2], -s[2], 0], [s[2], c[2], 0], [0, 0, 1]])
    theta = torch.cat([rx @ ry @ rz, torch.zeros(3, 1)], 1)[None].expand(x.shape[0], 3, 4).to(x)
    grid = torch.nn.functional.affine_grid(theta, list(x.shape), align_corners=False)
    xr = torch.nn.functional.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    tr = torch.nn.functional.grid_sample(t[:, None].float(), grid, mode="nearest", padding_mode="zeros",
                                         align_corners=False)
    # voxels rotated in from outside the patch become IGNORE (grid_sample pads with 0 = background)
    inside = torch.nn.functional.grid_sample(torch.ones_like(t[:, None], dtype=x.dtype), grid, mode="nearest",
                                             padding_mode="zeros", align_corners=False)
    tr = torch.where(inside > 0.5, tr, torch.full_like(tr, IGNORE))
    return xr, tr[:, 0].to(t.dtype)


def sample_batch(data: StageData, s: TrainSettings, rng: np.random.Generator,
                 gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``(x (B, 1, *patch), target (B, *patch))``: patches centred on random region voxels, randomly rotated."""
    xs, ts = [], []
    for _ in range(s.batch):
        v = int(rng.integers(len(data.inputs)))
        c = data.centres[v][int(rng.integers(len(data.centres[v])))]
        x, t = _patch(data.inputs[v], data.targets[v], c, s.patch)
        xs.append(x)
        ts.append(t)
    x = torch.as_tensor(np.stack(xs))[:, None]
    t = torch.as_tensor(np.stack(ts))
    if s.rotate_deg > 0:
        x, t = _rotate(x, t, s.rotate_deg, gen)
    return x, t
