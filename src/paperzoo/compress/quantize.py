"""k-bit weight quantization: post-training, quantization-aware (straight-through), int8 dynamic.

Li et al., "Train Large, Then Compress", ICML 2020, arXiv 2002.11794, Sec. 5: uniform symmetric
k-bit quantization of the weights of "most layers including embeddings" with activations kept
in full precision (Q-BERT style), compared by compressed size = parameters x bits.

* `quantize_symmetric` / `dequantize` -- per output channel (dim 0; per row of an embedding),
  ``scale_c = max_i |w_ci| / (2^{k-1} - 1)``, ``q = clamp(round(w / scale), -(2^{k-1}-1), 2^{k-1}-1)``
  (the restricted symmetric range, so 2 bits is ternary {-1, 0, 1}). Hence
  ``|w - scale * q| <= scale / 2`` element-wise, and zeros (pruned weights) stay exactly zero.
* `FakeQuant` -- parametrization ``w -> w + (Q(w) - w).detach()``: the forward sees the quantized
  weight, the backward is the straight-through estimator (Bengio et al. 2013) onto the latent
  fp32 weight. `quantize_weights_(model, bits)` installs it on every target weight (PTQ: just
  evaluate; QAT: keep training); `paperzoo.compress.prune.fold_` bakes it in for export.
* `DynamicInt8Linear` / `dynamic_int8` -- *real* int8 CPU inference for ``nn.Linear``: weights
  stored int8 per channel, activations quantized per batch at run time.

  Which path (checked on torch 2.13 + torchao 0.18): PyTorch deprecates the ``torch.ao.quantization``
  flow (``quantize_dynamic``) and points to torchao's ``quantize_(m, Int8DynamicActivationInt8WeightConfig())``.
  On a CPU in eager mode that path runs through ``torch._int_mm`` and was >50x *slower* than fp32
  on our AVX2 machine (torchao's own page warns it targets GPU + ``torch.compile``), and
  ``torch._weight_int8pack_mm`` was slower too. So ``backend="fbgemm"`` (the default on x86)
  calls the supported ATen kernels ``torch.ops.quantized.linear_prepack`` /
  ``linear_dynamic`` (FBGEMM; QNNPACK on ARM) directly -- the kernels the old flow wraps --
  without the deprecated Python flow; ``backend="torchao"`` uses torchao when it is installed.
  ``nn.MultiheadAttention`` cannot be dynamically quantized in place (it reads ``in_proj_weight``
  and ``out_proj.weight`` directly, pytorch #32590), so `DynamicInt8MultiheadAttention` replaces it
  for inference: int8 input/output projections around ``F.scaled_dot_product_attention``
  (``attention=False`` keeps MHA in fp32, so only the FFN and output layers run in int8).
"""

from __future__ import annotations

import warnings

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.modules.linear import NonDynamicallyQuantizableLinear  # MHA.out_proj: read directly by MHA
from torch.nn.utils import parametrize

from ..errors import ConfigError
from .prune import WeightRef, parametrizations_of, target_weights

__all__ = [
    "BITS", "quantize_symmetric", "dequantize", "fake_quantize", "FakeQuant", "quantize_weights_",
    "DynamicInt8Linear", "DynamicInt8MultiheadAttention", "dynamic_int8", "quant_bits_of",
]

BITS = (8, 6, 4, 3, 2)


def _qmax(bits: int) -> int:
    if not 2 <= int(bits) <= 16:
        raise ConfigError(f"bits must be an integer in 2..16, got {bits}")
    return 2 ** (int(bits) - 1) - 1


def quantize_symmetric(w: torch.Tensor, bits: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric per-output-channel quantization: returns ``(q, scale)``.

    ``q`` has ``w``'s shape and integer values in ``[-(2^{k-1}-1), 2^{k-1}-1]`` (int8 for k <= 8,
    else int16); ``scale`` has shape ``(C, 1, ..., 1)`` for ``C = w.shape[0]``.
    """
    qmax = _qmax(bits)
    wf = w.detach().float() if not w.requires_grad else w.float()
    amax = wf.abs().reshape(wf.shape[0], -1).amax(dim=1) if wf.dim() > 1 else wf.abs().amax().reshape(1)
    scale = torch.where(amax > 0, amax / qmax, torch.ones_like(amax))
    scale = scale.reshape(-1, *([1] * (wf.dim() - 1))) if wf.dim() > 1 else scale
    q = torch.clamp(torch.round(wf / scale), -qmax, qmax)
    return q.to(torch.int8 if bits <= 8 else torch.int16), scale


def dequantize(q: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return q.float() * scale


def fake_quantize(w: torch.Tensor, bits: int) -> torch.Tensor:
    """``Q(w)`` in the forward, identity gradient in the backward (straight-through estimator)."""
    q, scale = quantize_symmetric(w.detach(), bits)
    wq = dequantize(q, scale).to(w.dtype)
    return w + (wq - w).detach()


class FakeQuant(nn.Module):
    """Parametrization ``w -> fake_quantize(w, bits)``; ``bits`` is a buffer so it is saved with the model."""

    def __init__(self, bits: int):
        super().__init__()
        _qmax(bits)
        self.register_buffer("bits", torch.tensor(int(bits)))

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        return fake_quantize(w, int(self.bits))


def quantize_weights_(model: nn.Module, bits: int, include_embeddings: bool = True,
                      refs: list[WeightRef] | None = None) -> nn.Module:
    """Install (or re-set) k-bit `FakeQuant` on every target weight, in place (PTQ; train on for QAT).

    Applied after a pruning mask, it quantizes the masked weight (zeros stay zero).
    """
    _qmax(bits)
    for ref in refs if refs is not None else target_weights(model, include_embeddings):
        m0, n0 = ref.owners[0]
        existing = [p for p in m0.parametrizations[n0] if isinstance(p, FakeQuant)] \
            if parametrize.is_parametrized(m0, n0) else []
        if existing:
            existing[0].bits.fill_(int(bits))
            continue
        fq = FakeQuant(bits).to(ref.original.device)
        for m, n in ref.owners:  # tied weights share one quantizer
            parametrize.register_parametrization(m, n, fq, unsafe=True)  # shape kept
    return model


def quant_bits_of(model: nn.Module) -> dict[str, int]:
    """``{weight name: bits}`` for every fake-quantized weight."""
    return {name: int(p.bits) for name, p in parametrizations_of(model, FakeQuant).items()}


# -- real int8 inference -----------------------------------------------------------------------

def _engine() -> str:
    engines = torch.backends.quantized.supported_engines
    for e in ("fbgemm", "qnnpack"):
        if e in engines:
            return e
    raise ConfigError(f"this PyTorch build has no int8 CPU engine (supported: {engines}); "
                      "use backend='torchao' or fake quantization")


class DynamicInt8Linear(nn.Module):
    """``nn.Linear`` with int8 per-channel weights and dynamically quantized activations (CPU).

    ``weight_int8`` (int8, (out, in)) and ``weight_scale`` (fp32, (out,)) are buffers, so the
    module saves to safetensors; the FBGEMM/QNNPACK packed weight is rebuilt on load.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.register_buffer("weight_int8", torch.zeros(out_features, in_features, dtype=torch.int8))
        self.register_buffer("weight_scale", torch.ones(out_features))
        self.bias = nn.Parameter(torch.zeros(out_features), requires_grad=False) if bias else None
        self._packed = None

    @classmethod
    def from_linear(cls, lin: nn.Linear) -> "DynamicInt8Linear":
        m = cls(lin.in_features, lin.out_features, lin.bias is not None)
        q, scale = quantize_symmetric(lin.weight.detach(), 8)
        m.weight_int8.copy_(q)
        m.weight_scale.copy_(scale.reshape(-1))
        if lin.bias is not None:
            m.bias.data.copy_(lin.bias.detach())
        return m

    def _load_from_state_dict(self, *args, **kwargs):
        self._packed = None
        return super()._load_from_state_dict(*args, **kwargs)

    def _pack(self):
        engine = _engine()
        torch.backends.quantized.engine = engine
        with warnings.catch_warnings():  # quantized-tensor constructors warn about the old flow
            warnings.simplefilter("ignore")
            qw = torch._make_per_channel_quantized_tensor(
                self.weight_int8.cpu(), self.weight_scale.double().cpu(),
                torch.zeros(self.out_features, dtype=torch.long), 0)
            bias = self.bias.detach().float().cpu() if self.bias is not None else None
            self._packed = torch.ops.quantized.linear_prepack(qw, bias)
        return self._packed

    def dequantized_weight(self) -> torch.Tensor:
        return self.weight_int8.float() * self.weight_scale[:, None]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        packed = self._packed if self._packed is not None else self._pack()
        shape = x.shape
        y = torch.ops.quantized.linear_dynamic(x.reshape(-1, shape[-1]).float().contiguous(), packed, True)
        return y.reshape(*shape[:-1], self.out_features).to(x.dtype)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, int8 per-channel"


class DynamicInt8MultiheadAttention(nn.Module):
    """Inference-only drop-in for ``nn.MultiheadAttention`` with int8 dynamic projections.

    The fused q/k/v projection and ``out_proj`` are `DynamicInt8Linear`; attention itself is
    ``F.scaled_dot_product_attention`` in fp32. Supports what the shared Transformer uses:
    ``batch_first`` or not, bool or float ``attn_mask`` (PyTorch's convention: True = masked),
    ``key_padding_mask``, ``is_causal``; ``need_weights`` must be False. For cross-attention
    (query is not key/value) the fused projection is applied to each input and sliced (correct,
    3x the projection work). No dropout (call ``model.eval()`` first).
    """

    def __init__(self, embed_dim: int, num_heads: int, bias: bool = True, batch_first: bool = False):
        super().__init__()
        self.embed_dim, self.num_heads, self.batch_first = embed_dim, num_heads, batch_first
        self.in_proj = DynamicInt8Linear(embed_dim, 3 * embed_dim, bias)
        self.out_proj = DynamicInt8Linear(embed_dim, embed_dim, bias)

    @staticmethod
    def supports(mha: nn.MultiheadAttention) -> bool:
        return (mha._qkv_same_embed_dim and mha.in_proj_weight is not None and mha.bias_k is None
                and not mha.add_zero_attn and not parametrize.is_parametrized(mha)
                and not parametrize.is_parametrized(mha.out_proj))

    @classmethod
    def from_mha(cls, mha: nn.MultiheadAttention) -> "DynamicInt8MultiheadAttention":
        if not cls.supports(mha):
            raise ConfigError("this nn.MultiheadAttention (separate q/k/v weights, bias_k/v, add_zero_attn or "
                              "unfolded masks) is not supported; fold_(model) first or use attention=False")
        m = cls(mha.embed_dim, mha.num_heads, mha.in_proj_bias is not None, mha.batch_first)
        lin = nn.Linear(mha.embed_dim, 3 * mha.embed_dim, bias=mha.in_proj_bias is not None)
        lin.weight.data.copy_(mha.in_proj_weight.detach())
        if mha.in_proj_bias is not None:
            lin.bias.data.copy_(mha.in_proj_bias.detach())
        m.in_proj = DynamicInt8Linear.from_linear(lin)
        m.out_proj = DynamicInt8Linear.from_linear(mha.out_proj)
        return m

    def forward(self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                key_padding_mask: torch.Tensor | None = None, need_weights: bool = False,
                attn_mask: torch.Tensor | None = None, average_attn_weights: bool = True,
                is_causal: bool = False) -> tuple[torch.Tensor, None]:
        if need_weights:
            raise ConfigError("DynamicInt8MultiheadAttention does not return attention weights (need_weights=False)")
        if not self.batch_first:
            query, key, value = (t.transpose(0, 1) for t in (query, key, value))
        B, T, E = query.shape
        S, H = key.shape[1], self.num_heads
        if query is key and key is value:
            q, k, v = self.in_proj(query).chunk(3, dim=-1)
        else:
            q = self.in_proj(query)[..., :E]
            k = self.in_proj(key)[..., E:2 * E]
            v = self.in_proj(value)[..., 2 * E:]
        q, k, v = (t.reshape(B, -1, H, E // H).transpose(1, 2) for t in (q, k, v))
        mask = None
        if attn_mask is not None:  # PyTorch MHA: True = masked; SDPA: True = attend, float = additive
            mask = attn_mask.logical_not() if attn_mask.dtype == torch.bool else attn_mask.to(q.dtype)
            mask = mask.view(B, H, T, S) if mask.dim() == 3 else mask
        if key_padding_mask is not None:
            kpm = key_padding_mask.view(B, 1, 1, S)
            kpm = kpm.logical_not() if kpm.dtype == torch.bool else kpm.to(q.dtype)
            if mask is None:
                mask = kpm
            elif mask.dtype == torch.bool and kpm.dtype == torch.bool:
                mask = mask & kpm
            else:
                def additive(t: torch.Tensor) -> torch.Tensor:
                    return t if t.dtype != torch.bool else torch.zeros(t.shape, dtype=q.dtype).masked_fill(
                        ~t, float("-inf"))
                mask = additive(mask) + additive(kpm)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=is_causal and mask is None)
        y = self.out_proj(y.transpose(1, 2).reshape(B, T, E))
        return (y if self.batch_first else y.transpose(0, 1)), None


def dynamic_int8(model: nn.Module, backend: str = "fbgemm", attention: bool = True) -> nn.Module:
    """Replace every plain ``nn.Linear`` (and, with ``attention``, every ``nn.MultiheadAttention``) with int8
    dynamic versions, in place.

    ``backend``: ``"fbgemm"`` (`DynamicInt8Linear`, FBGEMM/QNNPACK kernels; fast on CPU) or
    ``"torchao"`` (``torchao.quantization.quantize_`` with ``Int8DynamicActivationInt8WeightConfig``,
    meant for GPU + ``torch.compile``). Fold masks/fake quantizers first (`fold_`).
    """
    if backend == "torchao":
        try:
            from torchao.quantization import Int8DynamicActivationInt8WeightConfig, quantize_
        except ImportError:
            raise ConfigError("backend='torchao' needs torchao: pip install torchao (without upgrading torch)") \
                from None
        quantize_(model, Int8DynamicActivationInt8WeightConfig(),
                  filter_fn=lambda m, fqn: type(m) is nn.Linear)
        return model
    if backend != "fbgemm":
        raise ConfigError(f"unknown int8 backend {backend!r}; choose fbgemm or torchao")
    _engine()
    for name, child in list(model.named_children()):
        if isinstance(child, nn.Linear) and not isinstance(child, NonDynamicallyQuantizableLinear):
            if parametrize.is_parametrized(child):
                raise ConfigError(f"{name} still has masks/fake quantizers; call fold_(model) before dynamic_int8")
            setattr(model, name, DynamicInt8Linear.from_linear(child))
        elif isinstance(child, nn.MultiheadAttention):
            if attention and DynamicInt8MultiheadAttention.supports(child):
                setattr(model, name, DynamicInt8MultiheadAttention.from_mha(child))
        else:
            dynamic_int8(child, backend, attention)
    return model
