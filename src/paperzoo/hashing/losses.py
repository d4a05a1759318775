"""The pairwise binary constrained loss and its B-step.

Paper: Do, Le Tan, Pham, Hoang, Le, Cheung, Reid, "Binary Constrained Deep Hashing Network for Image
Retrieval without Manual Annotation", arXiv 1802.07437 (WACV 2019, unverified). The abstract confirms
a *pairwise binary constrained loss* that encodes "the distances between pairs of hash codes and the
binary quantization error", trained by an "efficient parameter learning algorithm". Its exact form is
NOT confirmed (no public code). What is implemented here is the **documented reconstruction**
(``docs/hashing.md``; /shared/papers/S7-hashing.md Sec. 2, consistent with the group's UH-BDNN,
Do, Doan, Cheung, ECCV 2016, https://github.com/dzungdoan6/uh-bdnn):

    l_ij = s_ij/2 ||h_i - h_j||^2 + (1 - s_ij)/2 max(0, m - ||h_i - h_j||)^2
           + lambda/2 (||h_i - b_i||^2 + ||h_j - b_j||^2),      b in {-1, +1}^L,

optimised by alternation: a **B-step** (h fixed; minimising over b gives b_i = sign(h_i), `b_step`;
or, with the similar pairs' distance term also on b, UH-BDNN-style cyclic coordinate descent,
`b_step_pairwise`) and a **W-step** (b fixed; SGD/Adam on the network). For +-1 codes ||b_i - b_j||^2 = 4 d_H, so the
margin is set by a Hamming radius: m^2 = 4 * margin_frac * L (margin_frac = 0.5: half the bits).

Switchable alternatives (``distance`` / ``quantisation`` arguments):
  * distance ``"contrastive"`` (the reconstruction, above) or ``"inner"``: (h_i.h_j / L - (2 s_ij - 1))^2,
    the inner-product (KSH-style) pairwise fit;
  * quantisation against stored auxiliary codes b (``b`` given: the alternating reconstruction),
    against sign(h) of the same forward pass (``b=None``: per-batch B-step), or lambda = 0 (none:
    relax, then sign at test time -- the paper's ablation).

Optional UH-BDNN code-statistics terms (off by default; ``independence`` = lambda_3, ``balance`` = lambda_4 of
UH-BDNN's objective, estimated on the relaxed codes H (m, L) of the images in a W-step batch):
lambda_3/2 ||H^T H / m - I||^2 (bits uncorrelated, unit power) and lambda_4/2 ||H^T 1 / m||^2 (each bit
balanced); `code_statistics_term`. Whether the paper keeps them is not confirmed.

Deviation (scale only): the loss is averaged over pairs and divided by L so that lambda and the
learning rate mean the same at every code length.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn

from ..errors import ConfigError

__all__ = ["PairwiseBinaryConstrainedLoss", "b_step", "b_step_pairwise", "b_objective", "margin_for", "DISTANCES",
           "B_UPDATES"]

DISTANCES = ("contrastive", "inner")
B_UPDATES = ("sign", "pairwise")


def b_step(h: torch.Tensor) -> torch.Tensor:
    """B-step: argmin_{b in {-1,1}^L} ||h - b||^2 = sign(h), with sign(0) = +1 (a tie; either is optimal)."""
    return torch.where(h >= 0, torch.ones_like(h), -torch.ones_like(h))


def b_objective(B: torch.Tensor, H: torch.Tensor, pos_i, pos_j, lam: float) -> float:
    """J(B) = sum_{(i,j) similar} 1/2 ||b_i - b_j||^2 + lambda/2 sum_i ||h_i - b_i||^2 (the B-step's objective)."""
    pi, pj = torch.as_tensor(pos_i, dtype=torch.long), torch.as_tensor(pos_j, dtype=torch.long)
    return float(0.5 * (B[pi] - B[pj]).pow(2).sum() + 0.5 * lam * (H - B).pow(2).sum())


@torch.no_grad()
def b_step_pairwise(H: torch.Tensor, pos_i, pos_j, lam: float, sweeps: int = 3,
                    B0: torch.Tensor | None = None) -> torch.Tensor:
    """Discrete B-step with the similarity term on b (UH-BDNN-style cyclic coordinate descent).

    Minimises `b_objective` over B in {-1, 1}^{n x L} with H fixed (the per-pair loss with the distance
    term moved onto b for similar pairs; the dissimilar hinge couples bits and stays in the W-step).
    The objective is a sum over bits, and for one image i and bit k it is
    -b_ik (sum_{j ~ i} b_jk + lambda h_ik) + const, so the exact coordinate update is
    b_i = sign(sum_{j ~ i} b_j + lambda h_i) (ties: sign(h_i), then +1), applied image by image
    (Gauss-Seidel) for ``sweeps`` passes from B0 (default sign(H)); J never increases. Without pairs it
    is `b_step`. Each (i, j) pair counts once per occurrence, in both directions.
    """
    n = H.shape[0]
    B = (b_step(H) if B0 is None else B0).clone()
    pi = torch.as_tensor(pos_i, dtype=torch.long)
    pj = torch.as_tensor(pos_j, dtype=torch.long)
    keep = pi != pj
    src, dst = torch.cat([pi[keep], pj[keep]]), torch.cat([pj[keep], pi[keep]])
    order = torch.argsort(src, stable=True)
    src, dst = src[order], dst[order]
    ptr = torch.zeros(n + 1, dtype=torch.long)
    ptr[1:] = torch.cumsum(torch.bincount(src, minlength=n), 0)
    lh = lam * H
    tie = b_step(H)
    has = torch.nonzero(ptr[1:] > ptr[:-1]).flatten().tolist()
    for _ in range(sweeps):
        changed = False
        for i in has:
            f = B[dst[ptr[i]:ptr[i + 1]]].sum(0) + lh[i]
            new = torch.where(f > 0, 1.0, torch.where(f < 0, -1.0, tie[i])).to(B.dtype)
            if not changed and not torch.equal(new, B[i]):
                changed = True
            B[i] = new
        if not changed:
            break
    return B


def margin_for(bits: int, margin_frac: float = 0.5) -> float:
    """m with m^2 = 4 * margin_frac * L: a Hamming radius of margin_frac * L bits between dissimilar codes."""
    return math.sqrt(4.0 * margin_frac * bits)


class PairwiseBinaryConstrainedLoss(nn.Module):
    """Pairwise binary constrained loss (documented reconstruction; see the module docstring).

    Args:
        bits: code length L.
        lam: weight lambda of the binary quantisation term. Defaults to 0.1 (not confirmed by the paper).
        margin_frac: dissimilar pairs are pushed to >= margin_frac * L Hamming bits. Defaults to 0.5.
        distance: ``"contrastive"`` (the reconstruction) or ``"inner"``. Defaults to "contrastive".
    """

    def __init__(self, bits: int, lam: float = 0.1, margin_frac: float = 0.5, distance: str = "contrastive"):
        super().__init__()
        if distance not in DISTANCES:
            raise ConfigError(f"distance must be one of {', '.join(DISTANCES)}, got {distance!r}")
        if lam < 0:
            raise ConfigError(f"lambda must be >= 0, got {lam}")
        self.bits, self.lam, self.distance = int(bits), float(lam), distance
        self.margin = margin_for(bits, margin_frac)

    def pair_term(self, hi: torch.Tensor, hj: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        """Per-pair distance term (P,) for relaxed codes hi, hj (P, L) and similarity s (P,) in {0, 1}."""
        s = s.to(hi.dtype)
        if self.distance == "contrastive":
            d2 = (hi - hj).pow(2).sum(1)
            d = (d2 + 1e-12).sqrt()
            return 0.5 * s * d2 + 0.5 * (1 - s) * (self.margin - d).clamp(min=0).pow(2)
        return ((hi * hj).sum(1) / self.bits - (2 * s - 1)).pow(2) * self.bits

    def quantisation_term(self, h: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
        """lambda/2 ||h - b||^2 per row; b None: against sign(h) (per-batch B-step)."""
        b = b_step(h.detach()) if b is None else b
        return 0.5 * self.lam * (h - b).pow(2).sum(1)

    def code_statistics_term(self, h: torch.Tensor, independence: float, balance: float) -> torch.Tensor:
        """UH-BDNN's independence and balance terms on a batch of relaxed codes h (m, L), divided by L.

        independence/2 ||h^T h / m - I||_F^2 + balance/2 ||h^T 1 / m||^2 (batch estimates; the means over the
        batch stand for UH-BDNN's means over the training set)."""
        m = h.shape[0]
        eye = torch.eye(h.shape[1], dtype=h.dtype, device=h.device)
        t = h.new_zeros(())
        if independence:
            t = t + 0.5 * independence * (h.T @ h / m - eye).pow(2).sum()
        if balance:
            t = t + 0.5 * balance * h.mean(0).pow(2).sum()
        return t / self.bits

    def forward(self, hi: torch.Tensor, hj: torch.Tensor, s: torch.Tensor, bi: torch.Tensor | None = None,
                bj: torch.Tensor | None = None) -> torch.Tensor:
        """Mean over the P pairs of l_ij / L. hi, hj (P, L) relaxed codes; bi, bj (P, L) in {-1, 1} or None."""
        loss = self.pair_term(hi, hj, s)
        if self.lam > 0:
            loss = loss + self.quantisation_term(hi, bi) + self.quantisation_term(hj, bj)
        return loss.mean() / self.bits
