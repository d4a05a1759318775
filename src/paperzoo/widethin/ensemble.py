"""`SeedEnsemble`: S independent copies of one network trained in lockstep (``torch.func.vmap``).

Not part of the paper: an engineering device so that the quick preset can train >= 10 seeds of a
16-layer MLP on 2 CPU cores (one vmapped step costs about what 2 plain steps cost, instead of 10).
Each member keeps its own parameters, batches and optimiser state (Adam is element-wise), so
the result per seed is that of an ordinary run. The stacked parameters live in a
``ParameterList`` so `paperzoo.engine.save_checkpoint` stores them like any model.
"""

from __future__ import annotations

import copy

import torch
import torch.nn as nn
from torch.func import functional_call, stack_module_state, vmap

__all__ = ["SeedEnsemble"]


class SeedEnsemble(nn.Module):
    """Stack ``members`` (same architecture, no buffers); ``forward(x, ...)`` maps x: (S, B, ...) -> (S, B, ...)."""

    def __init__(self, members: list[nn.Module]):
        super().__init__()
        if any(len(list(m.buffers())) for m in members):
            raise ValueError("SeedEnsemble supports parameter-only modules (no BatchNorm buffers)")
        params, _ = stack_module_state(members)
        self.names = list(params)
        self.params = nn.ParameterList(nn.Parameter(params[n].detach().clone()) for n in self.names)
        base = copy.deepcopy(members[0]).to("meta")
        object.__setattr__(self, "_base", base)  # not a submodule: its meta tensors are never saved
        self.size = len(members)

    def _dict(self) -> dict[str, torch.Tensor]:
        return dict(zip(self.names, self.params))

    def forward(self, x: torch.Tensor, *args, **kwargs) -> torch.Tensor:
        base = self._base

        def one(p, xi, *a):
            return functional_call(base, p, (xi,) + a, kwargs)

        return vmap(one)(self._dict(), x, *args)

    def indices(self, names: list[str]) -> list[int]:
        pos = {n: i for i, n in enumerate(self.names)}
        return [pos[n] for n in names]

    def select(self, names: list[str]) -> list[nn.Parameter]:
        """Mark the parameters called ``names`` (member naming) trainable, the rest frozen; return them."""
        keep = set(self.indices(names))
        for i, p in enumerate(self.params):
            p.requires_grad_(i in keep)
        return [self.params[i] for i in sorted(keep)]

    @torch.no_grad()
    def member(self, i: int, template: nn.Module) -> nn.Module:
        """Member i as an ordinary module (a copy of ``template`` with member i's parameters)."""
        m = copy.deepcopy(template)
        sd = {n: p[i].detach().clone() for n, p in zip(self.names, self.params)}
        m.load_state_dict(sd, strict=False)
        return m

    @torch.no_grad()
    def load_member(self, i: int, module: nn.Module) -> None:
        """Write ``module``'s parameters into member i."""
        named = dict(module.named_parameters())
        for n, p in zip(self.names, self.params):
            p[i].copy_(named[n].detach())
