"""The shared Transformer: one block with ``norm="post"|"pre"``, encoder, decoder, seq2seq, LM.

References:
  * Vaswani et al., "Attention Is All You Need", NeurIPS 2017, arXiv 1706.03762 (the Post-LN block).
  * Xiong et al., "On Layer Normalization in the Transformer Architecture", ICML 2020,
    arXiv 2002.04745 (S5): Post-LN  x' = LN(x + Attn(x)),  x'' = LN(x' + FFN(x'))   (Sec. 3, Fig. 1a)
                               Pre-LN   x' = x + Attn(LN(x)), x'' = x' + FFN(LN(x'))  (Fig. 1b)
    and a *final* LayerNorm after a Pre-LN stack (its absence is a known NaN source:
    PaddleNLP #571, NeMo #2197). A Post-LN stack gets no extra final LN (nn.Transformer applies
    one twice, pytorch #50086).

Submodules keep PyTorch's names (``self_attn``, ``multihead_attn``, ``linear1``, ``linear2``,
``norm1..3``) so a block loads an ``nn.TransformerEncoderLayer``/``DecoderLayer`` state dict key
for key; ``tests/transformer/test_model.py`` checks equality to 1e-6. Attention itself is
PyTorch's ``nn.MultiheadAttention`` (batch_first). This module is what S2, S3, S4 and S6 build on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..errors import ConfigError
from ..registry import register_model

__all__ = [
    "TransformerBlock", "TransformerStack", "SinusoidalPositions", "TransformerConfig", "Seq2SeqTransformer",
    "TransformerLM", "causal_mask", "init_transformer",
]

Norm = Literal["post", "pre"]


def causal_mask(n: int, device: torch.device | None = None) -> torch.Tensor:
    """(n, n) bool mask, True where attention is *not* allowed (PyTorch's convention)."""
    return torch.triu(torch.ones(n, n, dtype=torch.bool, device=device), diagonal=1)


class TransformerBlock(nn.Module):
    """One Transformer layer: self-attention, optional cross-attention, FFN; Post-LN or Pre-LN.

    Args:
        d_model: width. n_heads: attention heads. d_ff: FFN hidden width.
        dropout: dropout on attention weights and sub-layer outputs. Defaults to 0.1.
        norm: ``"post"`` (Vaswani) or ``"pre"`` (Xiong et al. Fig. 1b). Defaults to "post".
        cross_attention: add encoder-decoder attention (a decoder layer). Defaults to False.
        activation: ``"relu"`` (FFN(h)=ReLU(hW1+b1)W2+b2, the paper's) or ``"gelu"``.
    """

    def __init__(self, d_model: int, n_heads: int, d_ff: int, dropout: float = 0.1, norm: Norm = "post",
                 cross_attention: bool = False, activation: str = "relu", layer_norm_eps: float = 1e-5):
        super().__init__()
        if norm not in ("post", "pre"):
            raise ConfigError(f"norm must be 'post' or 'pre', got {norm!r}")
        if d_model % n_heads:
            raise ConfigError(f"d_model={d_model} must be divisible by n_heads={n_heads}")
        self.norm_first = norm == "pre"
        self.self_attn = nn.MultiheadAttention(d_model, n_heads, dropout=dropout, batch_first=True)
        self.multihead_attn = (nn.MultiheadAttention(d_model, n_heads, dropout=dropout, batch_first=True)
                               if cross_attention else None)
        self.linear1 = nn.Linear(d_model, d_ff)
        self.linear2 = nn.Linear(d_ff, d_model)
        self.norm1 = nn.LayerNorm(d_model, eps=layer_norm_eps)
        self.norm2 = nn.LayerNorm(d_model, eps=layer_norm_eps)
        self.norm3 = nn.LayerNorm(d_model, eps=layer_norm_eps) if cross_attention else None
        self.dropout = nn.Dropout(dropout)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)
        self.dropout3 = nn.Dropout(dropout) if cross_attention else None
        self.activation = {"relu": F.relu, "gelu": F.gelu}[activation]

    def _sa(self, x, attn_mask, key_padding_mask, is_causal=False):
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                           need_weights=False, is_causal=is_causal and attn_mask is not None)[0]
        return self.dropout1(x)

    def _ca(self, x, memory, memory_key_padding_mask):
        x = self.multihead_attn(x, memory, memory, key_padding_mask=memory_key_padding_mask, need_weights=False)[0]
        return self.dropout3(x)

    def _ff(self, x):
        h = self.activation(self.linear1(x))
        if not self.training:  # dropout is the identity: skip the calls (step-by-step decoding runs this per token)
            return self.linear2(h)
        return self.dropout2(self.linear2(self.dropout(h)))

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor | None = None,
                key_padding_mask: torch.Tensor | None = None, memory: torch.Tensor | None = None,
                memory_key_padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        """x: (B, T, d). Masks follow PyTorch: True = masked. Returns (B, T, d)."""
        if self.multihead_attn is None:  # encoder layer: norm1 attn, norm2 FFN (PyTorch's numbering)
            if self.norm_first:
                x = x + self._sa(self.norm1(x), attn_mask, key_padding_mask)
                x = x + self._ff(self.norm2(x))
            else:
                x = self.norm1(x + self._sa(x, attn_mask, key_padding_mask))
                x = self.norm2(x + self._ff(x))
            return x
        # decoder layer: norm1 self-attn, norm2 cross-attn, norm3 FFN (as nn.TransformerDecoderLayer)
        if self.norm_first:
            x = x + self._sa(self.norm1(x), attn_mask, key_padding_mask)
            x = x + self._ca(self.norm2(x), memory, memory_key_padding_mask)
            x = x + self._ff(self.norm3(x))
        else:
            x = self.norm1(x + self._sa(x, attn_mask, key_padding_mask))
            x = self.norm2(x + self._ca(x, memory, memory_key_padding_mask))
            x = self.norm3(x + self._ff(x))
        return x

    @property
    def ffn_weights(self) -> tuple[nn.Parameter, nn.Parameter]:
        """(W1, W2) of the FFN, the matrices Xiong et al. probe (Fig. 3)."""
        return self.linear1.weight, self.linear2.weight


class TransformerStack(nn.Module):
    """N blocks; a Pre-LN stack ends with the final LayerNorm (``final_norm``), a Post-LN one does not."""

    def __init__(self, n_layers: int, d_model: int, n_heads: int, d_ff: int, dropout: float = 0.1,
                 norm: Norm = "post", cross_attention: bool = False, activation: str = "relu"):
        super().__init__()
        self.layers = nn.ModuleList(
            TransformerBlock(d_model, n_heads, d_ff, dropout, norm, cross_attention, activation) for _ in range(n_layers))
        self.final_norm = nn.LayerNorm(d_model) if norm == "pre" else nn.Identity()

    def forward(self, x, attn_mask=None, key_padding_mask=None, memory=None, memory_key_padding_mask=None):
        for layer in self.layers:
            x = layer(x, attn_mask, key_padding_mask, memory, memory_key_padding_mask)
        return self.final_norm(x)


class SinusoidalPositions(nn.Module):
    """PE(pos, 2i) = sin(pos / 10000^{2i/d}), PE(pos, 2i+1) = cos(...) (Vaswani et al. Sec. 3.5)."""

    def __init__(self, d_model: int, max_len: int = 4096):
        super().__init__()
        pos = torch.arange(max_len).unsqueeze(1)
        div = torch.exp(torch.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))
        pe = torch.zeros(max_len, d_model)
        pe[:, 0::2] = torch.sin(pos * div)
        pe[:, 1::2] = torch.cos(pos * div[: d_model // 2])
        self.register_buffer("pe", pe, persistent=False)

    def forward(self, x: torch.Tensor, offset: int = 0) -> torch.Tensor:
        return x + self.pe[offset: offset + x.size(1)]


class LearnedPositions(nn.Module):
    def __init__(self, d_model: int, max_len: int = 1024):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(max_len, d_model))
        nn.init.normal_(self.weight, std=0.02)

    def forward(self, x: torch.Tensor, offset: int = 0) -> torch.Tensor:
        return x + self.weight[offset: offset + x.size(1)]


def init_transformer(module: nn.Module, scheme: str = "xavier_normal") -> None:
    """Initialise every matrix explicitly (a bare nn.Linear keeps Kaiming-uniform).

    ``xavier_normal``: N(0, 2/(n_in+n_out)) with zero biases and LN gamma=1, beta=0, the
    setting of Xiong et al.'s analysis (Sec. 3.2). ``xavier_uniform`` is nn.Transformer's;
    ``normal`` is GPT-2's N(0, 0.02).
    """
    for name, p in module.named_parameters():
        if p.dim() >= 2:
            if scheme == "xavier_normal":
                nn.init.xavier_normal_(p)
            elif scheme == "xavier_uniform":
                nn.init.xavier_uniform_(p)
            elif scheme == "normal":
                nn.init.normal_(p, std=0.02)
            else:
                raise ConfigError(f"unknown init {scheme!r}; choose xavier_normal, xavier_uniform or normal")
        elif name.endswith("bias"):
            nn.init.zeros_(p)
    for m in module.modules():
        if isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


@dataclass
class TransformerConfig:
    """Defaults: the IWSLT14 model of Xiong et al. Sec. 3 (fairseq transformer_iwslt_de_en)."""

    src_vocab: int = 10000
    tgt_vocab: int = 10000
    d_model: int = 512
    n_heads: int = 4
    d_ff: int = 1024
    n_layers: int = 6  # encoder layers (or the LM's layers)
    n_dec_layers: int = 6
    dropout: float = 0.1
    norm: str = "post"
    positions: str = "sinusoidal"  # or "learned"
    max_len: int = 1024
    tie_embeddings: bool = True  # output softmax over W^emb (Xiong et al. Sec. 3.1)
    init: str = "xavier_normal"
    pad_id: int = 0
    activation: str = "relu"
    scale_embeddings: bool = True  # x * sqrt(d) before positions (Vaswani et al. Sec. 3.4)


def _positions(cfg: TransformerConfig) -> nn.Module:
    if cfg.positions == "sinusoidal":
        return SinusoidalPositions(cfg.d_model, cfg.max_len)
    if cfg.positions == "learned":
        return LearnedPositions(cfg.d_model, cfg.max_len)
    raise ConfigError(f"positions must be 'sinusoidal' or 'learned', got {cfg.positions!r}")


class Seq2SeqTransformer(nn.Module):
    """Encoder-decoder Transformer (token in, token logits out)."""

    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        self.cfg = cfg
        self.src_embed = nn.Embedding(cfg.src_vocab, cfg.d_model, padding_idx=cfg.pad_id)
        self.tgt_embed = nn.Embedding(cfg.tgt_vocab, cfg.d_model, padding_idx=cfg.pad_id)
        self.pos = _positions(cfg)
        self.drop = nn.Dropout(cfg.dropout)
        self.encoder = TransformerStack(cfg.n_layers, cfg.d_model, cfg.n_heads, cfg.d_ff, cfg.dropout, cfg.norm,
                                        activation=cfg.activation)
        self.decoder = TransformerStack(cfg.n_dec_layers, cfg.d_model, cfg.n_heads, cfg.d_ff, cfg.dropout, cfg.norm,
                                        cross_attention=True, activation=cfg.activation)
        self.lm_head = nn.Linear(cfg.d_model, cfg.tgt_vocab, bias=False)
        init_transformer(self, cfg.init)
        if cfg.tie_embeddings:
            self.lm_head.weight = self.tgt_embed.weight

    def _embed(self, emb: nn.Embedding, tokens: torch.Tensor, offset: int = 0) -> torch.Tensor:
        x = emb(tokens)
        if self.cfg.scale_embeddings:
            x = x * math.sqrt(self.cfg.d_model)
        return self.drop(self.pos(x, offset))

    def encode(self, src: torch.Tensor, src_pad: torch.Tensor | None = None) -> torch.Tensor:
        """src: (B, S) ids -> memory (B, S, d). ``src_pad`` defaults to ``src == pad_id``."""
        if src_pad is None:
            src_pad = src == self.cfg.pad_id
        return self.encoder(self._embed(self.src_embed, src), key_padding_mask=src_pad)

    def decode(self, tgt_in: torch.Tensor, memory: torch.Tensor, src_pad: torch.Tensor | None = None,
               tgt_pad: torch.Tensor | None = None) -> torch.Tensor:
        """tgt_in: (B, T) ids (BOS-shifted) -> logits (B, T, V)."""
        T = tgt_in.size(1)
        h = self.decoder(self._embed(self.tgt_embed, tgt_in), attn_mask=causal_mask(T, tgt_in.device),
                         key_padding_mask=tgt_pad, memory=memory, memory_key_padding_mask=src_pad)
        return self.lm_head(h)

    def forward(self, src: torch.Tensor, tgt_in: torch.Tensor, targets: torch.Tensor | None = None,
                label_smoothing: float = 0.0):
        """Returns ``(logits (B, T, V), loss or None)``; ``targets`` use ``pad_id`` as ignore index."""
        src_pad = src == self.cfg.pad_id
        logits = self.decode(tgt_in, self.encode(src, src_pad), src_pad)
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1),
                                   ignore_index=self.cfg.pad_id, label_smoothing=label_smoothing)
        return logits, loss


class TransformerLM(nn.Module):
    """Decoder-only (causal) language model: a stack of self-attention blocks, tied softmax."""

    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.src_vocab, cfg.d_model)
        self.pos = _positions(cfg)
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = TransformerStack(cfg.n_layers, cfg.d_model, cfg.n_heads, cfg.d_ff, cfg.dropout, cfg.norm,
                                       activation=cfg.activation)
        self.lm_head = nn.Linear(cfg.d_model, cfg.src_vocab, bias=False)
        init_transformer(self, cfg.init)
        if cfg.tie_embeddings:
            self.lm_head.weight = self.embed.weight

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None):
        """idx: (B, T) -> ``(logits (B, T, V), mean cross-entropy in nats or None)``."""
        T = idx.size(1)
        x = self.embed(idx)
        if self.cfg.scale_embeddings:
            x = x * math.sqrt(self.cfg.d_model)
        h = self.blocks(self.drop(self.pos(x)), attn_mask=causal_mask(T, idx.device))
        logits = self.lm_head(h)
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1))
        return logits, loss


def _seq2seq_example(m: "Seq2SeqTransformer"):
    g = torch.Generator().manual_seed(0)
    src = torch.randint(1, m.cfg.src_vocab, (2, 7), generator=g)
    tgt = torch.randint(1, m.cfg.tgt_vocab, (2, 5), generator=g)
    return src, tgt, tgt


def _lm_example(m: "TransformerLM"):
    x = torch.randint(0, m.cfg.src_vocab, (2, 9), generator=torch.Generator().manual_seed(0))
    return x, x


_TINY = dict(src_vocab=17, tgt_vocab=17, d_model=16, n_heads=2, d_ff=32, n_layers=2, n_dec_layers=2, max_len=32)


@register_model(example=_seq2seq_example, tiny=_TINY)
def transformer_iwslt(**kw) -> Seq2SeqTransformer:
    """The IWSLT14 De-En model of Xiong et al. Sec. 3: 6+6 layers, d 512, FFN 1024, 4 heads."""
    return Seq2SeqTransformer(TransformerConfig(**kw))


@register_model(example=_lm_example, tiny=_TINY)
def transformer_lm_tiny(**kw) -> TransformerLM:
    """A small character LM (the S5 warm-up study's model)."""
    base = dict(src_vocab=128, tgt_vocab=128, d_model=64, n_heads=4, d_ff=128, n_layers=4, dropout=0.0, max_len=256)
    base.update(kw)
    return TransformerLM(TransformerConfig(**base))
