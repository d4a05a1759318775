"""The study's model grid: causal Transformer LMs of several depths x widths (Li et al. 2020, Sec. 3).

The paper trains RoBERTa-style models over depth {3, 6, 12, 18, 24} x hidden size
{256, 512, 768, 1024, 1536} (Figs. 2-4). We reuse the shared `paperzoo.transformer.TransformerLM`
(Pre-LN, tied softmax, GELU, learned positions as in RoBERTa) and name a size ``L<depth>-H<width>``.
Deviation: a causal character LM instead of a masked LM (no downstream MNLI fine-tuning), so the
whole study fits a CPU; heads = width / 64 (at least 2), FFN = 4 x width as in BERT/RoBERTa.
"""

from __future__ import annotations

import torch

from ..errors import ConfigError
from ..registry import register_model
from ..transformer import TransformerConfig, TransformerLM

__all__ = ["lm_config", "parse_size", "compress_lm"]


def parse_size(spec: str) -> tuple[int, int]:
    """``"L4-H128"`` -> ``(4, 128)``."""
    try:
        l, h = spec.strip().upper().split("-")
        depth, width = int(l.lstrip("L")), int(h.lstrip("H"))
    except ValueError:
        raise ConfigError(f"model size {spec!r} is not of the form L<depth>-H<width>, e.g. L4-H128") from None
    if depth < 1 or width < 8:
        raise ConfigError(f"model size {spec!r}: need depth >= 1 and width >= 8")
    return depth, width


def lm_config(vocab: int, depth: int, width: int, seq_len: int = 256, dropout: float = 0.0,
              head_dim: int = 64) -> TransformerConfig:
    """A RoBERTa-shaped LM config: heads = width / head_dim (>= 2), FFN 4 x width, Pre-LN."""
    heads = max(2, width // head_dim)
    while width % heads:
        heads -= 1
    return TransformerConfig(src_vocab=vocab, tgt_vocab=vocab, d_model=width, n_heads=heads, d_ff=4 * width,
                             n_layers=depth, dropout=dropout, norm="pre", positions="learned", max_len=seq_len,
                             tie_embeddings=True, init="normal", activation="gelu", scale_embeddings=False)


def _lm_example(m: TransformerLM):
    x = torch.randint(0, m.cfg.src_vocab, (2, 9), generator=torch.Generator().manual_seed(0))
    return x, x


@register_model(example=_lm_example, tiny={"vocab": 17, "depth": 1, "width": 16, "seq_len": 16})
def compress_lm(vocab: int = 128, depth: int = 4, width: int = 128, seq_len: int = 256, dropout: float = 0.0,
                **kw) -> TransformerLM:
    """A study LM (default ``L4-H128`` on a 128-symbol character vocabulary)."""
    cfg = lm_config(vocab, depth, width, seq_len, dropout)
    for k, v in kw.items():
        if not hasattr(cfg, k):
            raise ConfigError(f"unknown TransformerConfig field {k!r}")
        setattr(cfg, k, v)
    return TransformerLM(cfg)
