"""Unstructured magnitude pruning with masks kept as buffers (Li et al. 2020, Sec. 4/5 "pruning").

Li, Wallace, Shen, Lin, Keutzer, Klein, Gonzalez, "Train Large, Then Compress: Rethinking Model
Size for Efficient Training and Inference of Transformers", ICML 2020, arXiv 2002.11794.
The paper prunes "iteratively ... model weights to zero" by magnitude (Han et al. 2015 style) and
compares models by their number of non-zero parameters. Here:

* `magnitude_masks` -- keep the ``round((1 - s) * N)`` largest-|w| entries, either over all target
  weights at once (``scope="global"``) or per tensor (``scope="layer"``). Ties are broken by index,
  so the sparsity is exact (tested by counting zeros).
* `prune_` -- one-shot: installs a `WeightMask` parametrization (``torch.nn.utils.parametrize``)
  on every target weight. The mask is a *buffer* (``<module>.parametrizations.<name>.0.mask``),
  so it is saved in the state dict and survives save/load; the forward sees ``w * mask`` and
  pruned entries get zero gradient, so fine-tuning never revives them.
* `iterative_prune` -- the paper's schedule: prune a little more, fine-tune, repeat.
* `fold_` -- export: write ``w * mask`` into the weight and drop the parametrizations.

Targets: the weights of every ``nn.Linear``, ``nn.Conv{1,2,3}d``, ``nn.ConvTranspose*``,
``nn.Embedding`` and ``nn.MultiheadAttention`` (``in_proj_weight``, ``q/k/v_proj_weight``;
``out_proj`` is an ``nn.Linear``). A parametrization is used rather than ``torch.nn.utils.prune``'s
forward pre-hook because ``nn.MultiheadAttention`` reads ``out_proj.weight`` without calling
``out_proj`` (so a hook never fires), and because a tied weight (a Transformer's embedding and
softmax) must keep one parameter and one mask: `target_weights` groups owners by parameter
identity and every owner gets the *same* mask module.

Deviation: no speed or memory is gained at run time (unstructured sparsity, dense kernels); like
the paper we report size as non-zeros x bits (`paperzoo.compress.metrics.model_size`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

import torch
import torch.nn as nn
from torch.nn.utils import parametrize

from ..errors import ConfigError

__all__ = [
    "TARGET_TYPES", "WeightRef", "target_weights", "WeightMask", "magnitude_masks", "prune_", "iterative_prune",
    "fold_", "masks_of", "sparsity_schedule"
]

TARGET_TYPES = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d,
                nn.ConvTranspose3d, nn.Embedding)
_MHA_NAMES = ("in_proj_weight", "q_proj_weight", "k_proj_weight", "v_proj_weight")


@dataclass
class WeightRef:
    """One compressible weight tensor and every (module, attribute) that uses it (tied weights)."""

    name: str  # qualified name of its first owner, e.g. "blocks.layers.0.linear1.weight"
    owners: list[tuple[nn.Module, str]]

    @property
    def tensor(self) -> torch.Tensor:
        """The weight as the forward sees it (with any mask/quantizer applied)."""
        m, n = self.owners[0]
        return getattr(m, n)

    @property
    def original(self) -> torch.Tensor:
        """The stored (latent) parameter, without parametrizations."""
        m, n = self.owners[0]
        if parametrize.is_parametrized(m, n):
            return m.parametrizations[n].original
        return getattr(m, n)


def target_weights(model: nn.Module, include_embeddings: bool = True) -> list[WeightRef]:
    """Every compressible weight of ``model``, one entry per distinct parameter (ties merged).

    ``include_embeddings=False`` leaves out every ``nn.Embedding`` matrix *and* any layer tied to
    one (a Transformer's softmax ``lm_head``), so a tied matrix is either compressed for all its
    owners or for none.
    """
    def _orig(m: nn.Module, n: str):
        return m.parametrizations[n].original if parametrize.is_parametrized(m, n) else getattr(m, n, None)

    skip = set() if include_embeddings else \
        {id(_orig(m, "weight")) for m in model.modules() if isinstance(m, nn.Embedding)}
    refs: dict[int, WeightRef] = {}
    for mname, m in model.named_modules():
        names: tuple[str, ...] = ()
        if isinstance(m, TARGET_TYPES) and (include_embeddings or not isinstance(m, nn.Embedding)):
            names = ("weight",)
        elif isinstance(m, nn.MultiheadAttention):
            names = tuple(n for n in _MHA_NAMES if getattr(m, n, None) is not None)
        for n in names:
            p = _orig(m, n)
            if p is None or id(p) in skip:
                continue
            key = id(p)
            if key not in refs:
                refs[key] = WeightRef(f"{mname}.{n}" if mname else n, [])
            refs[key].owners.append((m, n))
    return list(refs.values())


class WeightMask(nn.Module):
    """Parametrization ``w -> w * mask``; ``mask`` is a persistent buffer (bool stored as float 0/1)."""

    def __init__(self, mask: torch.Tensor):
        super().__init__()
        self.register_buffer("mask", mask.to(torch.float32))

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        return w * self.mask.to(w.dtype)


def _keep_topk(scores: torch.Tensor, keep: int) -> torch.Tensor:
    """Bool mask with exactly ``keep`` True entries at the largest ``scores`` (ties: lower index)."""
    flat = scores.reshape(-1)
    if keep >= flat.numel():
        return torch.ones_like(scores, dtype=torch.bool)
    if keep <= 0:
        return torch.zeros_like(scores, dtype=torch.bool)
    thr = flat.kthvalue(flat.numel() - keep).values  # the largest value that is dropped
    mask = flat > thr
    short = keep - int(mask.sum())
    if short > 0:  # ties at the threshold: keep the first ones by index
        mask[(flat == thr).nonzero().squeeze(1)[:short]] = True
    return mask.view_as(scores)


def magnitude_masks(weights: list[torch.Tensor], sparsity: float, scope: str = "global") -> list[torch.Tensor]:
    """Masks keeping the largest |w|: ``round((1 - sparsity) * N)`` entries, globally or per tensor.

    Already-zero entries have the smallest magnitude, so raising the sparsity never revives a
    pruned weight (the masks of an iterative schedule are nested).
    """
    if not 0.0 <= sparsity <= 1.0:
        raise ConfigError(f"sparsity must be in [0, 1], got {sparsity}")
    if scope == "layer":
        return [_keep_topk(w.detach().abs().float(), round((1 - sparsity) * w.numel())) for w in weights]
    if scope != "global":
        raise ConfigError(f"pruning scope must be 'global' or 'layer', got {scope!r}")
    flat = torch.cat([w.detach().abs().float().reshape(-1) for w in weights])
    keep = _keep_topk(flat, round((1 - sparsity) * flat.numel()))
    return [k.view_as(w) for k, w in zip(torch.split(keep, [w.numel() for w in weights]), weights)]


def parametrizations_of(model: nn.Module, kind: type) -> dict[str, nn.Module]:
    """``{weight name: parametrization}`` for every target weight carrying a parametrization of type ``kind``."""
    out = {}
    for ref in target_weights(model):
        m, n = ref.owners[0]
        if parametrize.is_parametrized(m, n):
            for p in m.parametrizations[n]:
                if isinstance(p, kind):
                    out[ref.name] = p
    return out


def masks_of(model: nn.Module) -> dict[str, torch.Tensor]:
    """``{weight name: bool mask}`` for every masked weight."""
    return {name: p.mask.bool() for name, p in parametrizations_of(model, WeightMask).items()}


def _set_mask(ref: WeightRef, mask: torch.Tensor) -> None:
    m0, n0 = ref.owners[0]
    if parametrize.is_parametrized(m0, n0):
        for p in m0.parametrizations[n0]:
            if isinstance(p, WeightMask):
                p.mask.copy_(mask.float())  # shared by every owner
                return
    wm = WeightMask(mask).to(ref.original.device)
    for m, n in ref.owners:  # one mask module shared by every owner of a tied weight
        parametrize.register_parametrization(m, n, wm, unsafe=True)  # shape kept


@torch.no_grad()
def prune_(model: nn.Module, sparsity: float, scope: str = "global", include_embeddings: bool = True,
           refs: list[WeightRef] | None = None) -> dict[str, float]:
    """One-shot magnitude pruning in place; returns ``{name: measured sparsity}`` (zeros counted).

    Args:
        sparsity: fraction of target weights set to zero (global) or of each tensor (layer).
        scope: ``"global"`` (one threshold over all targets, the paper's) or ``"layer"``.
        include_embeddings: prune embedding matrices too (the paper compresses "most layers
            including embeddings"). Defaults to True.
    """
    refs = refs if refs is not None else target_weights(model, include_embeddings)
    if not refs:
        raise ConfigError(f"{type(model).__name__} has no Linear/Conv/Embedding/attention weights to prune")
    masks = magnitude_masks([r.tensor.detach() for r in refs], sparsity, scope)
    for ref, mask in zip(refs, masks):
        _set_mask(ref, mask)
    out = {}
    with parametrize.cached():
        for ref in refs:
            w = ref.tensor
            out[ref.name] = float((w == 0).sum()) / w.numel()
    return out


def sparsity_schedule(final: float, steps: int) -> list[float]:
    """Equal increments to ``final`` (the paper's iterative pruning; e.g. 0.15, 0.30, ..., 0.90)."""
    if steps < 1:
        raise ConfigError(f"iterative pruning needs steps >= 1, got {steps}")
    return [final * (i + 1) / steps for i in range(steps)]


def iterative_prune(model: nn.Module, schedule: Iterable[float], finetune: Callable[[nn.Module, float], None] | None,
                    scope: str = "global", include_embeddings: bool = True,
                    on_level: Callable[[nn.Module, float], None] | None = None) -> None:
    """Prune to each sparsity of ``schedule`` in turn, calling ``finetune(model, s)`` after each.

    ``on_level(model, s)`` (e.g. an evaluation) runs after each fine-tune.
    """
    for s in schedule:
        prune_(model, s, scope, include_embeddings)
        if finetune is not None:
            finetune(model, s)
        if on_level is not None:
            on_level(model, s)


@torch.no_grad()
def fold_(model: nn.Module) -> nn.Module:
    """Export: bake every parametrization (masks, fake quantizers) into plain weights, in place.

    Tied weights stay tied (one parameter). Returns ``model``.
    """
    for ref in target_weights(model):
        m0, n0 = ref.owners[0]
        if not parametrize.is_parametrized(m0, n0):
            continue
        value = getattr(m0, n0).detach().clone()
        param = nn.Parameter(value, requires_grad=ref.original.requires_grad)
        for m, n in ref.owners:
            parametrize.remove_parametrizations(m, n, leave_parametrized=False)
            setattr(m, n, param)
    return model
