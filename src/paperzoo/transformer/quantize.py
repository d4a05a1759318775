"""Dynamic int8 quantisation of a :class:`~paperzoo.transformer.model.Seq2SeqTransformer` for CPU decoding.

Every matrix product of decoding runs in int8 (PyTorch's dynamic quantisation: weights quantised once
(per tensor); activations quantised per call from their range; int32 accumulation, fbgemm/oneDNN
kernels): the FFN's two linears (the first with its ReLU fused in), and each attention's
query/key/value and output projections. The embeddings, the tied output layer (small: vocabulary x
d_model), LayerNorm, softmax and the attention products themselves stay float32.

``nn.MultiheadAttention`` keeps its float packed in-projection (its own ``forward`` reads the raw
parameters), so the int8 projections are attached beside it as ``attn.int8_proj`` (a ``ModuleDict`` with
``qkv``, ``q``, ``kv`` and ``out``); :mod:`paperzoo.transformer.decode` uses them when present, for the
encoder and for every cached decoder step (greedy and beam search). Teacher-forced ``model(src, tgt)``
of a quantised copy is int8 in the FFN only.

Not in the paper: this is a deployment option (``G2P.load(int8=True)``). Its accuracy is measured, never
assumed: ``tests/g2p/test_int8.py`` and the g2p recipe score it on the g014b2b test words.
"""

from __future__ import annotations

import copy
import warnings

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError

__all__ = ["quantize_int8", "is_int8"]


def _int8(linear: nn.Linear) -> nn.Module:
    from torch.ao.nn.quantized.dynamic import Linear as DynamicLinear
    from torch.ao.quantization import default_dynamic_qconfig

    linear.qconfig = default_dynamic_qconfig  # per tensor: as fast or faster than per channel here, same WER
    return DynamicLinear.from_float(linear)


def _int8_relu(linear: nn.Linear) -> nn.Module:
    """int8 ``relu(linear(x))`` in one kernel: the ReLU is applied to the int32 accumulator's output as it is
    written, which saves a pass over the (tokens, d_ff) activations (~2x faster than linear + ReLU on the
    encoder's FFN input; same numbers)."""
    from torch.ao.nn.intrinsic import LinearReLU
    from torch.ao.nn.intrinsic.quantized.dynamic import LinearReLU as DynamicLinearReLU
    from torch.ao.quantization import default_dynamic_qconfig

    fused = LinearReLU(linear, nn.ReLU())
    fused.qconfig = linear.qconfig = default_dynamic_qconfig
    return DynamicLinearReLU.from_float(fused)


def _linear(weight: torch.Tensor, bias: torch.Tensor) -> nn.Linear:
    lin = nn.Linear(weight.size(1), weight.size(0))
    lin.weight.data.copy_(weight.detach())
    lin.bias.data.copy_(bias.detach())
    return lin


def quantize_int8(model: nn.Module) -> nn.Module:
    """An int8 copy of ``model`` for CPU inference (``model`` itself is unchanged)."""
    from .model import TransformerBlock

    if not set(torch.backends.quantized.supported_engines) - {"none"}:
        raise ConfigError("this PyTorch build has no int8 kernels (fbgemm, x86, onednn or qnnpack); drop --int8")
    q = copy.deepcopy(model).eval()
    with warnings.catch_warnings():  # torch.ao's eager quantisation is marked for a move to torchao
        warnings.simplefilter("ignore")
        for block in [m for m in q.modules() if isinstance(m, TransformerBlock)]:  # listed first: the loop adds modules
            if block.activation is F.relu:  # fold the ReLU into the first FFN linear
                block.linear1, block.activation = _int8_relu(block.linear1), nn.Identity()
            else:
                block.linear1 = _int8(block.linear1)
            block.linear2 = _int8(block.linear2)
            for attn in (block.self_attn, block.multihead_attn):
                if attn is None:
                    continue
                d, w, b = attn.embed_dim, attn.in_proj_weight, attn.in_proj_bias
                attn.int8_proj = nn.ModuleDict({
                    "qkv": _int8(_linear(w, b)), "q": _int8(_linear(w[:d], b[:d])),
                    "kv": _int8(_linear(w[d:], b[d:])),
                    "out": _int8(_linear(attn.out_proj.weight, attn.out_proj.bias))})
    q.int8 = True
    return q


def is_int8(model: nn.Module) -> bool:
    return bool(getattr(model, "int8", False))
