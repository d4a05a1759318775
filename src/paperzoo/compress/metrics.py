"""Size and sparsity accounting (Li et al. 2020, Sec. 5: models compared by non-zeros x bits).

`model_size` counts every distinct parameter once (a tied embedding/softmax is one matrix):
compressible weights (see `paperzoo.compress.prune.target_weights`) cost ``nonzeros x bits``
plus 32 bits per channel scale when quantized; all other parameters (biases, LayerNorms) cost
32 bits each. Zeros are *counted* on the weights the forward sees, so a reported sparsity is a
measurement, not the requested value. Deviation: like the paper we ignore the index overhead of
storing a sparse matrix; `csr_bits` gives that exact cost for reference.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
from torch.nn.utils import parametrize

from .prune import target_weights
from .quantize import quant_bits_of

__all__ = ["SizeReport", "model_size", "count_zeros", "sparsity", "csr_bits", "param_count"]


@dataclass
class SizeReport:
    params: int  # distinct parameters
    compressible: int  # parameters in target weights
    nonzeros: int  # non-zero entries of the target weights
    bits: float  # total size in bits
    dense_fp32_bits: int  # size of the uncompressed fp32 model

    @property
    def megabytes(self) -> float:
        return self.bits / 8 / 2**20

    @property
    def sparsity(self) -> float:
        return 1.0 - self.nonzeros / max(1, self.compressible)

    @property
    def ratio(self) -> float:
        """Compression ratio vs fp32 dense."""
        return self.dense_fp32_bits / max(1.0, self.bits)


def param_count(model: nn.Module) -> int:
    """Distinct parameters (tied ones once; parametrized weights counted by their original)."""
    return sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())


@torch.no_grad()
def count_zeros(model: nn.Module) -> tuple[int, int]:
    """``(zeros, total)`` over the target weights as the forward sees them."""
    z = n = 0
    with parametrize.cached():
        for ref in target_weights(model):
            w = ref.tensor
            z += int((w == 0).sum())
            n += w.numel()
    return z, n


def sparsity(model: nn.Module) -> float:
    z, n = count_zeros(model)
    return z / max(1, n)


@torch.no_grad()
def model_size(model: nn.Module, bits: int | None = None, scale_bits: int = 32) -> SizeReport:
    """Size as non-zeros x bits. ``bits`` overrides the per-weight bits (default: the model's
    fake-quantizers, else 32)."""
    qbits = quant_bits_of(model)
    refs = target_weights(model)
    target_ids = {id(r.original) for r in refs}
    total = 0.0
    nnz = comp = 0
    with parametrize.cached():
        weights = [ref.tensor for ref in refs]
    for ref, w in zip(refs, weights):
        b = bits if bits is not None else qbits.get(ref.name, 32)
        k = int((w != 0).sum())
        nnz += k
        comp += w.numel()
        total += k * b + (w.shape[0] * scale_bits if b < 32 else 0)
    others = 0
    for m in model.modules():
        for name, p in m.named_parameters(recurse=False):
            if id(p) not in target_ids and not (name == "original" and isinstance(m, parametrize.ParametrizationList)):
                target_ids.add(id(p))
                others += p.numel()
    total += others * 32
    return SizeReport(params=comp + others, compressible=comp, nonzeros=nnz, bits=total,
                      dense_fp32_bits=(comp + others) * 32)


@torch.no_grad()
def csr_bits(w: torch.Tensor, value_bits: int = 32, index_bits: int = 32) -> int:
    """Exact cost of storing a 2-D view of ``w`` in CSR: values + column indices + row pointers."""
    w2 = w.reshape(w.shape[0], -1)
    nnz = int((w2 != 0).sum())
    return nnz * (value_bits + index_bits) + (w2.shape[0] + 1) * index_bits
