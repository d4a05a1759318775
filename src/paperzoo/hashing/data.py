"""Training pairs without labels, and the evaluation split, on S8's GENERATED landmarks.

Paper: Do et al., "Binary Constrained Deep Hashing Network for Image Retrieval without Manual
Annotation", arXiv 1802.07437: similar / dissimilar pairs come automatically from 3D models
reconstructed from unlabelled images (confirmed by the abstract; the mining rule is not). The
reconstruction (S7 notes Sec. 2) takes S8's rule (Radenović et al., arXiv 1711.02512, Sec. 3.2):

  * **3D source**: s_ij = 1 when views i, j of the same 3D model share >= t_i of i's visible 3D
    points with scale change <= t_s (`paperzoo.retrieval.data.positive_pairs`, reused);
    s_ij = 0 for views of different 3D models, mined hard in code space, at most one per model
    (`paperzoo.retrieval.mining.mine_hard_negatives`, reused);
  * **augmentation source** (second source, no 3D needed): an image and a random crop / flip /
    brightness change of it are similar (`augment`); the copy shares its image's auxiliary code b.

`eval_split` builds held-out queries / database (test landmarks + scikit-image distractors) and
relevance from exact 3D co-visibility (`retrieval_gnd`: easy + hard relevant, junk ignored).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..retrieval.data import Landmarks, distractors, generate_landmarks, positive_pairs, retrieval_gnd
from .metrics import relevance_from_gnd

__all__ = ["augment", "EvalSplit", "eval_split", "train_pairs", "PAIR_SOURCES"]

PAIR_SOURCES = ("both", "3d", "aug")


def augment(x: torch.Tensor, generator: torch.Generator | None = None, min_scale: float = 0.7,
            brightness: float = 0.2) -> torch.Tensor:
    """Random resized crop (area scale^2, scale in [min_scale, 1]), horizontal flip and brightness, (B, 3, H, W)."""
    B = x.shape[0]
    u = torch.rand(B, 5, generator=generator)
    s = min_scale + (1 - min_scale) * u[:, 0]
    tx, ty = (1 - s) * (2 * u[:, 1] - 1), (1 - s) * (2 * u[:, 2] - 1)
    flip = torch.where(u[:, 3] < 0.5, -1.0, 1.0)
    theta = torch.zeros(B, 2, 3)
    theta[:, 0, 0], theta[:, 0, 2] = s * flip, tx
    theta[:, 1, 1], theta[:, 1, 2] = s, ty
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    out = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    return (out * (1 + brightness * (2 * u[:, 4] - 1)).view(B, 1, 1, 1)).clamp(0, 1)


def train_pairs(data: Landmarks, t_i: float = 0.2, t_s: float = 1.5, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(query, positive) index pairs from shared 3D points (S8's m2 rule)."""
    return positive_pairs(data, t_i, t_s, seed=seed)


@dataclass
class EvalSplit:
    """Held-out queries and database (GENERATED landmarks + real distractor crops)."""

    query_images: np.ndarray
    db_images: np.ndarray
    relevant: np.ndarray  # (n_q, n_db) bool
    junk: np.ndarray      # (n_q, n_db) bool: same landmark, barely co-visible -> ignored


def eval_split(n_landmarks: int, views: int, size: int, seed: int, first_landmark: int, queries_per_landmark: int,
               n_distractors: int) -> EvalSplit:
    te = generate_landmarks(n_landmarks, views, size, seed=seed, first_landmark=first_landmark)
    qmask = np.zeros(len(te), bool)
    for k in np.unique(te.landmark):
        qmask[np.flatnonzero(te.landmark == k)[:queries_per_landmark]] = True
    qs, dbl = te.subset(np.flatnonzero(qmask)), te.subset(np.flatnonzero(~qmask))
    dis = distractors(n_distractors, size, seed=seed) if n_distractors else np.zeros((0, 3, size, size), np.float32)
    db_images = np.concatenate([dbl.images, dis])
    db_landmark = np.concatenate([dbl.landmark, -np.ones(len(dis), np.int64)])
    db_points = dbl.points + [np.zeros(0, np.int64)] * len(dis)
    db_scale = np.concatenate([dbl.scale, np.zeros(len(dis))])
    gnd = retrieval_gnd(qs.points, qs.landmark, qs.scale, db_points, db_landmark, db_scale)
    rel, junk = relevance_from_gnd(gnd, len(db_images))
    return EvalSplit(qs.images, db_images, rel, junk)
