"""The S4 model: a character-to-phoneme encoder-decoder Transformer.

Yolchuyeva, Németh, Gyires-Tóth, "Transformer based Grapheme-to-Phoneme Conversion", Interspeech 2019,
arXiv 2004.06338, Sec. 3: letters in, phonemes out, encoder and decoder of N layers each (written
N x N; the best CMUDict model is 4 x 4), multi-head attention, sinusoidal positions, Post-LN blocks.
Built from the shared :class:`paperzoo.transformer.Seq2SeqTransformer` (not copied).

Unconfirmed (S4 notes Sec. 2: the paper's widths are not verified): d_model 128, 4 heads, FFN 512,
which gives about 1.8 M parameters for 4 x 4 (the paper reports "1-2 M").
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import torch

from ..engine import atomic_write_json, load_weights, save_weights
from ..errors import CheckpointError
from ..registry import register_model
from ..transformer.model import Seq2SeqTransformer, TransformerConfig
from .data import GRAPHEMES, PAD, PHONEMES, Vocab


@dataclass
class G2PModelConfig:
    """Architecture of the G2P Transformer (Sec. 3; widths unconfirmed, see the module docstring)."""

    d_model: int = 128
    n_heads: int = 4
    d_ff: int = 512
    n_layers: int = 4  # encoder layers
    n_dec_layers: int = 4
    dropout: float = 0.1
    norm: str = "post"
    max_len: int = 64


def make_vocabs() -> tuple[Vocab, Vocab]:
    return Vocab(GRAPHEMES), Vocab(PHONEMES)


def build_model(cfg: G2PModelConfig) -> Seq2SeqTransformer:
    src_v, tgt_v = make_vocabs()
    return Seq2SeqTransformer(TransformerConfig(
        src_vocab=len(src_v), tgt_vocab=len(tgt_v), d_model=cfg.d_model, n_heads=cfg.n_heads, d_ff=cfg.d_ff,
        n_layers=cfg.n_layers, n_dec_layers=cfg.n_dec_layers, dropout=cfg.dropout, norm=cfg.norm,
        max_len=cfg.max_len, tie_embeddings=True, init="xavier_uniform", pad_id=PAD))


def count_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())


def _g2p_example(m: Seq2SeqTransformer):
    src = torch.randint(1, m.cfg.src_vocab, (2, 6), generator=torch.Generator().manual_seed(0))
    tgt = torch.randint(1, m.cfg.tgt_vocab, (2, 5), generator=torch.Generator().manual_seed(1))
    return src, tgt, tgt


@register_model(example=_g2p_example, tiny={"d_model": 16, "n_heads": 2, "d_ff": 32, "n_layers": 1, "n_dec_layers": 1})
def g2p_transformer(**kw) -> Seq2SeqTransformer:
    """S4's 4 x 4 G2P Transformer (d 128, 4 heads, FFN 512; widths unconfirmed)."""
    return build_model(G2PModelConfig(**kw))


def save_g2p(model: torch.nn.Module, directory: str | Path, cfg: G2PModelConfig, extra: dict | None = None) -> None:
    """Write ``model.safetensors`` + ``config.json`` (architecture, vocabularies, ``extra`` info)."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    src_v, tgt_v = make_vocabs()
    save_weights(model, d / "model.safetensors")
    atomic_write_json(d / "config.json", {"model": asdict(cfg), "graphemes": src_v.itos, "phonemes": tgt_v.itos,
                                          **(extra or {})})


def load_g2p(directory: str | Path) -> tuple[Seq2SeqTransformer, G2PModelConfig, dict]:
    """Load a model written by :func:`save_g2p` (safetensors + JSON only, never pickle)."""
    d = Path(directory)
    if not (d / "config.json").is_file() or not (d / "model.safetensors").is_file():
        raise CheckpointError(f"{d}: no config.json + model.safetensors; train one with `paperzoo run g2p` "
                              f"or pass the folder of a trained model")
    meta = json.loads((d / "config.json").read_text())
    known = {f.name for f in fields(G2PModelConfig)}
    cfg = G2PModelConfig(**{k: v for k, v in meta["model"].items() if k in known})
    src_v, tgt_v = make_vocabs()
    if meta.get("graphemes") != src_v.itos or meta.get("phonemes") != tgt_v.itos:
        raise CheckpointError(f"{d}: vocabulary differs from this version's; retrain the model")
    model = build_model(cfg)
    load_weights(model, d / "model.safetensors")
    model.eval()
    return model, cfg, meta
