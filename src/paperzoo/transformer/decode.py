"""Batched greedy and beam-search decoding for any encoder-decoder with ``encode`` / ``decode``.

Works on :class:`paperzoo.transformer.model.Seq2SeqTransformer` (and anything with the same two
methods: ``encode(src, src_pad) -> memory`` and ``decode(tgt_in, memory, src_pad) -> logits``).
Shared by S4 (G2P) and S6 (dialogue).

* Greedy: argmax at each step, all sequences of the batch in parallel.
* Beam search (Sutskever et al. 2014; Wu et al. 2016, arXiv 1609.08144, Sec. 7): B x K hypotheses
  are advanced together; a hypothesis ending in EOS is scored with the length-normalised
  log-probability ``log P(y|x) / |y|^alpha`` (``alpha=1``: mean log-probability per token, counting
  EOS; ``alpha=0``: raw sum). As in fairseq (https://github.com/facebookresearch/fairseq,
  ``sequence_generator.py``), the 2K best expansions are taken per item, EOS expansions among the top
  K are finished, the best K non-EOS expansions go on, and an item stops once it has K finished
  hypotheses (or at ``max_len``, when alive beams are finished as they are).

Incremental decoding: for a :class:`Seq2SeqTransformer` (Post-LN or Pre-LN blocks) each step feeds only
the newest token and keeps, per decoder layer, the projected self-attention keys and values of all
earlier positions (so a causal mask is not needed) and the cross-attention keys and values of the
encoder memory, projected once per batch (once per item in beam search: the first step runs on one row
per item, whose state is then copied to its K beams; beams never need the memory's keys/values
reordered). The FFN, queries and attention run on one position: the newest token's query, key and value
come from one packed projection; keys/values are written into buffers preallocated for ``max_len``
positions; the one-query attention is a few elementwise ops (:func:`_attend_one`). Any other model with
``encode``/``decode`` is decoded by re-running ``decode`` on the whole prefix. Both give the same result
(``use_cache=False`` forces the second; ``tests/transformer/test_decode.py`` checks they agree). Greedy
decoding drops rows that have emitted EOS from the active batch (``drop_finished``) instead of decoding
every row to the batch's longest output; ``tests/g2p/test_fast_decoding.py`` checks the shipped G2P
model's hypotheses on real words are unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .quantize import is_int8

__all__ = ["Hypothesis", "greedy_decode", "beam_search"]


@dataclass
class Hypothesis:
    tokens: list[int]  # without BOS and EOS
    score: float  # length-normalised log-probability (what the beam ranks by)
    logprob: float  # raw sum of token log-probabilities (EOS included when finished)


def _src_pad(model, src: torch.Tensor, src_pad: torch.Tensor | None) -> torch.Tensor:
    if src_pad is not None:
        return src_pad
    pad_id = getattr(getattr(model, "cfg", None), "pad_id", 0)
    return src == pad_id


def _encode(model, src: torch.Tensor, src_pad: torch.Tensor) -> torch.Tensor:
    """``model.encode``; a :class:`Seq2SeqTransformer` in eval mode (or its int8 copy) is encoded block by block
    by :func:`_encode_blocks` (same arithmetic, faster attention on CPU)."""
    from .model import Seq2SeqTransformer

    if is_int8(model) or (isinstance(model, Seq2SeqTransformer) and _can_cache(model)):
        return _encode_blocks(model, src, src_pad)
    return model.encode(src, src_pad)


def _proj(attn, part: str, x: torch.Tensor) -> torch.Tensor:
    """``attn``'s query (``q``), key+value (``kv``) or packed (``qkv``) in-projection, or its out-projection
    (``out``): slices of ``nn.MultiheadAttention``'s packed weights, or their int8 copies in a quantised model
    (:func:`paperzoo.transformer.quantize.quantize_int8`)."""
    q8 = getattr(attn, "int8_proj", None)
    if q8 is not None:
        return q8[part](x)
    if part == "out":
        return attn.out_proj(x)
    d = attn.embed_dim
    rows = {"q": slice(0, d), "kv": slice(d, None), "qkv": slice(None)}[part]
    return F.linear(x, attn.in_proj_weight[rows], attn.in_proj_bias[rows])


def _pad_mask(pad: torch.Tensor, dtype: torch.dtype) -> torch.Tensor | None:
    """Additive (N, 1, 1, S) mask, -inf on padded source positions; None when nothing is padded."""
    if not bool(pad.any()):
        return None
    return torch.zeros(pad.shape, dtype=dtype, device=pad.device).masked_fill(pad, float("-inf"))[:, None, None, :]


def _attend_many(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Scaled dot-product attention of (N, heads, S, d_head) tensors as two batched matrix products, ``mask``
    additive (N, 1, 1, S) or None. Why not ``F.scaled_dot_product_attention``: at G2P's sizes (hundreds of
    words x 4 heads, ~10 letters) its CPU kernel is as fast on one thread and ~2x slower on two (measured,
    torch 2.13); the products here parallelise over the batch."""
    N, H, S, dh = q.shape
    q, k, v = q.reshape(N * H, S, dh), k.reshape(N * H, -1, dh), v.reshape(N * H, -1, dh)
    if mask is None:
        s = torch.bmm(q, k.transpose(1, 2)).mul_(dh ** -0.5)
    else:
        s = torch.baddbmm(mask.expand(N, H, 1, -1).reshape(N * H, 1, -1), q, k.transpose(1, 2), alpha=dh ** -0.5)
    return torch.bmm(torch.softmax(s, -1), v).view(N, H, S, dh)


def _encode_blocks(model, src: torch.Tensor, src_pad: torch.Tensor) -> torch.Tensor:
    """The encoder of a Seq2SeqTransformer (float or quantised) in eval mode, block by block with ``_proj`` and
    :func:`_attend_many` (same arithmetic as ``TransformerBlock.forward`` in eval mode)."""
    x = model._embed(model.src_embed, src)
    mask = _pad_mask(src_pad, x.dtype)
    for layer in model.encoder.layers:
        sa, n = layer.self_attn, layer.self_attn.num_heads
        h = layer.norm1(x) if layer.norm_first else x
        q, k, v = _heads(_proj(sa, "qkv", h), 3 * n).split(n, 1)
        a = _proj(sa, "out", _attend_many(q, k, v, mask).transpose(1, 2).flatten(2))
        if layer.norm_first:
            x = x + a
            x = x + layer._ff(layer.norm2(x))
        else:
            x = layer.norm1(x + a)
            x = layer.norm2(x + layer._ff(x))
    return model.encoder.final_norm(x)


def _can_cache(model) -> bool:
    from .model import TransformerBlock

    layers = getattr(getattr(model, "decoder", None), "layers", None)
    return (hasattr(model, "_embed") and hasattr(model, "tgt_embed") and layers is not None
            and all(isinstance(layer, TransformerBlock) and layer.multihead_attn is not None
                    and all(a._qkv_same_embed_dim and a.in_proj_bias is not None
                            for a in (layer.self_attn, layer.multihead_attn)) for layer in layers)
            and not model.training)


def _heads(x: torch.Tensor, n: int) -> torch.Tensor:
    """(N, T, d) -> (N, heads, T, d / heads)."""
    return x.unflatten(-1, (n, -1)).transpose(1, 2)


class _LayerCache:
    """One decoder layer's state: projected self-attention keys/values of all earlier positions, and the
    cross-attention keys/values of the (fixed) encoder memory, projected once instead of at every step.

    Keys and values are kept head-interleaved, (N, T, d_model) as the projections return them (no head
    transpose; see :func:`_attend_one`). The self-attention ones live in buffers preallocated for ``max_len``
    positions (written in place at each step, no ``torch.cat``); ``t`` positions are filled."""

    def __init__(self, layer, memory: torch.Tensor, mem_pad: torch.Tensor, max_len: int):
        attn = layer.multihead_attn
        self.mk, self.mv = (x.contiguous() for x in _proj(attn, "kv", memory).chunk(2, -1))
        self.mmask = _pad_mask(mem_pad, memory.dtype)
        if self.mmask is not None:
            self.mmask = self.mmask[:, 0, 0, :, None]  # (N, S, 1): one additive mask for every head
        shape = (memory.size(0), max_len, layer.self_attn.embed_dim)
        self.k = memory.new_empty(shape)
        self.v = memory.new_empty(shape)
        self.t = 0

    def append(self, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Store the newest position's (N, 1, d_model) key/value; return all keys/values so far."""
        t = self.t
        self.k[:, t: t + 1] = k
        self.v[:, t: t + 1] = v
        self.t = t + 1
        return self.k[:, : t + 1], self.v[:, : t + 1]

    def reorder(self, rows: torch.Tensor, memory: bool = True) -> None:
        """Keep (and reorder, or drop) batch rows: beam reordering and dropping finished greedy rows.
        ``memory=False``: the rows only move among rows with the same encoder memory (the beams of one item),
        so the cross-attention keys/values stay as they are."""
        if memory:
            self.mk, self.mv = self.mk.index_select(0, rows), self.mv.index_select(0, rows)
            if self.mmask is not None:
                self.mmask = self.mmask.index_select(0, rows)
        t = self.t
        if rows.numel() == self.k.size(0):  # beam: same size, copy only the filled positions
            self.k[:, :t] = self.k[:, :t].index_select(0, rows)
            self.v[:, :t] = self.v[:, :t].index_select(0, rows)
        else:
            self.k, self.v = self.k.index_select(0, rows), self.v.index_select(0, rows)


def _attend_one(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, heads: int,
                mask: torch.Tensor | None = None) -> torch.Tensor:
    """Scaled dot-product attention of ONE query position per row: ``q`` (N, 1, d), ``k``/``v`` (N, T, d) with
    the heads interleaved along d (as the projections return them), ``mask`` additive (N, T, 1) or None.
    Returns (N, 1, d), heads interleaved, the same numbers as ``F.scaled_dot_product_attention`` on the
    (N, heads, ., d / heads) views.

    Why not SDPA: with one query, PyTorch's CPU kernel pays a fixed cost per (row, head) pair; a few
    elementwise products and sums over (N, T, d) are 2-3x faster at the G2P batch sizes (measured on
    2 cores, torch 2.13), and they need no head transposes."""
    N, T, d = k.shape
    s = (q * (d // heads) ** -0.5 * k).unflatten(-1, (heads, -1)).sum(-1)  # (N, T, heads)
    if mask is not None:
        s = s + mask
    p = torch.softmax(s, dim=1)
    return (p.unsqueeze(-1) * v.unflatten(-1, (heads, -1))).sum(1).view(N, 1, d)


def _attend(attn, q_in: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    return _proj(attn, "out", _attend_one(_proj(attn, "q", q_in), k, v, attn.num_heads, mask))


def _cached_step(model, tok: torch.Tensor, t: int, caches: list[_LayerCache]) -> torch.Tensor:
    """Logits (N, V) for the token ``tok`` (N,) at position ``t``; extends each layer's cache in place.

    Same arithmetic as the layer's forward pass on the whole prefix (``nn.MultiheadAttention``'s packed
    in-projection, scaled dot-product attention, out-projection), one position at a time: the newest
    position's query, key and value come from one packed projection, and it attends to all cached
    positions (no causal mask is needed)."""
    x = model._embed(model.tgt_embed, tok[:, None], offset=t)
    for layer, c in zip(model.decoder.layers, caches):
        sa = layer.self_attn
        h = layer.norm1(x) if layer.norm_first else x
        q, k, v = _proj(sa, "qkv", h).chunk(3, -1)
        k, v = c.append(k, v)
        a = _proj(sa, "out", _attend_one(q, k, v, sa.num_heads))
        if layer.norm_first:
            x = x + a
            x = x + _attend(layer.multihead_attn, layer.norm2(x), c.mk, c.mv, c.mmask)
            x = x + layer._ff(layer.norm3(x))
        else:
            x = layer.norm1(x + a)
            x = layer.norm2(x + _attend(layer.multihead_attn, x, c.mk, c.mv, c.mmask))
            x = layer.norm3(x + layer._ff(x))
    return model.lm_head(model.decoder.final_norm(x))[:, 0]


class _Stepper:
    """Next-token logits for the current prefixes ``ys`` (N, t+1): cached when possible, else full decode."""

    def __init__(self, model, memory, mem_pad, use_cache: bool, max_len: int):
        self.model, self.memory, self.mem_pad = model, memory, mem_pad
        self.cache = ([_LayerCache(layer, memory, mem_pad, max_len) for layer in model.decoder.layers]
                      if use_cache and _can_cache(model) else None)

    def __call__(self, ys: torch.Tensor) -> torch.Tensor:
        if self.cache is None:
            return self.model.decode(ys, self.memory, self.mem_pad)[:, -1]
        return _cached_step(self.model, ys[:, -1], ys.size(1) - 1, self.cache)

    def reorder(self, rows: torch.Tensor, memory: bool = True) -> None:
        """Keep (and reorder) batch rows ``rows`` of the state (``memory``: see :meth:`_LayerCache.reorder`)."""
        if self.cache is not None:
            for c in self.cache:
                c.reorder(rows, memory)
        else:
            self.memory, self.mem_pad = self.memory.index_select(0, rows), self.mem_pad.index_select(0, rows)


def _normalise(logprob: torch.Tensor | float, length: int, alpha: float):
    return logprob / (max(length, 1) ** alpha)


@torch.inference_mode()
def greedy_decode(model, src: torch.Tensor, *, bos: int, eos: int, max_len: int, pad: int = 0,
                  src_pad: torch.Tensor | None = None, alpha: float = 1.0, use_cache: bool = True,
                  drop_finished: float = 0.125) -> list[Hypothesis]:
    """Greedy decoding of a batch ``src`` (B, S). Returns one :class:`Hypothesis` per row.

    Rows are independent, so a row that has emitted EOS is dropped from the active batch (its decoder
    state with it) once at least ``drop_finished`` of the active rows have finished (the copy is then
    worth it; ``drop_finished=0`` drops at every EOS, ``> 1`` never, i.e. every row is decoded to the
    batch's longest output). Each row's hypothesis is the same either way."""
    src_pad = _src_pad(model, src, src_pad)
    memory = _encode(model, src, src_pad)
    B, dev = src.size(0), src.device
    out = torch.full((B, max_len), pad, dtype=torch.long, device=dev)  # emitted tokens (EOS included)
    lengths = torch.zeros(B, dtype=torch.long, device=dev)
    logprob = torch.zeros(B, device=dev)
    rows = torch.arange(B, device=dev)  # original row of each active row
    done = torch.zeros(B, dtype=torch.bool, device=dev)  # per active row
    ys = torch.full((B, 1), bos, dtype=torch.long, device=dev)  # active rows' prefixes
    step = _Stepper(model, memory, src_pad, use_cache, max_len)
    for t in range(max_len):
        logp = F.log_softmax(step(ys).float(), dim=-1)
        lp, nxt = logp.max(-1)
        live = ~done
        logprob[rows] += torch.where(live, lp, torch.zeros_like(lp))
        lengths[rows] += live.long()
        nxt = torch.where(live, nxt, torch.full_like(nxt, pad))
        out[rows, t] = nxt
        ys = torch.cat([ys, nxt[:, None]], 1)
        done |= nxt == eos
        n_done = int(done.sum())
        if n_done == done.numel():
            break
        if n_done and n_done >= drop_finished * done.numel():
            keep = live.logical_and_(nxt != eos).nonzero().squeeze(1)
            rows, done, ys = rows[keep], done[keep], ys.index_select(0, keep)
            step.reorder(keep)
    hyps = []
    for b, row in enumerate(out.tolist()):
        toks = row[: row.index(eos)] if eos in row else [t for t in row if t != pad]
        lp = float(logprob[b])
        hyps.append(Hypothesis(toks, float(_normalise(lp, int(lengths[b]), alpha)), lp))
    return hyps


@torch.inference_mode()
def beam_search(model, src: torch.Tensor, *, bos: int, eos: int, max_len: int, beam: int = 4, pad: int = 0,
                alpha: float = 1.0, src_pad: torch.Tensor | None = None, nbest: int = 1, use_cache: bool = True,
                drop_finished: float = 0.125) -> list[list[Hypothesis]]:
    """Batched beam search. Returns, per row of ``src``, the ``nbest`` hypotheses best first.

    Scores are length-normalised (``alpha``, see the module docstring). ``beam=1`` gives the greedy
    result. Items with K finished hypotheses leave the active batch (with their K beams' decoder state)
    once at least ``drop_finished`` of the active items are done, as in greedy decoding.
    """
    K = beam
    src_pad = _src_pad(model, src, src_pad)
    B, dev = src.size(0), src.device
    memory = _encode(model, src, src_pad)
    ys = torch.full((B * K, 1), bos, dtype=torch.long, device=dev)
    scores = torch.full((B, K), float("-inf"), device=dev)
    scores[:, 0] = 0.0  # only the first beam is alive at t=0 (all beams are identical)
    finished: list[list[Hypothesis]] = [[] for _ in range(B)]
    item_done = torch.zeros(B, dtype=torch.bool, device=dev)
    items = list(range(B))  # original item of each active item
    step = _Stepper(model, memory, src_pad, use_cache, max_len)  # one row per item until the first step is done
    for t in range(max_len):
        B = len(items)
        if t == 0:  # the K beams are identical: decode one row per item, then give each item K copies of its state
            logp = F.log_softmax(step(ys[::K]).float(), dim=-1).repeat_interleave(K, 0)
            if K > 1:
                step.reorder(torch.arange(B, device=dev).repeat_interleave(K))
        else:
            logp = F.log_softmax(step(ys).float(), dim=-1)  # (B*K, V)
        V = logp.size(-1)
        cand = (scores.view(B * K, 1) + logp).view(B, K * V)
        cand[item_done] = float("-inf")
        top_scores, top_idx = cand.topk(min(2 * K, K * V), dim=1)  # (B, 2K)
        top_beam, top_tok = top_idx // V, top_idx % V
        is_eos = (top_tok == eos) & torch.isfinite(top_scores)
        # finish EOS expansions among the top K ranks
        fin = is_eos.clone()
        fin[:, K:] = False
        for b, r in fin.nonzero().tolist():
            if len(finished[items[b]]) >= K:
                continue
            row = ys[b * K + int(top_beam[b, r])].tolist()[1:]
            lp = float(top_scores[b, r])
            finished[items[b]].append(Hypothesis(row, float(_normalise(lp, t + 1, alpha)), lp))
        # continue with the K best non-EOS expansions
        rank = torch.arange(top_scores.size(1), device=dev).expand_as(top_scores)
        key = torch.where(is_eos | ~torch.isfinite(top_scores), rank + 10 * K, rank)
        keep = key.topk(K, dim=1, largest=False).indices  # (B, K)
        new_scores = top_scores.gather(1, keep)
        new_scores = torch.where(key.gather(1, keep) >= 10 * K, torch.full_like(new_scores, float("-inf")),
                                 new_scores)
        src_rows = (torch.arange(B, device=dev)[:, None] * K + top_beam.gather(1, keep)).view(-1)
        ys = torch.cat([ys[src_rows], top_tok.gather(1, keep).view(-1, 1)], 1)
        step.reorder(src_rows, memory=False)  # beams move within their item: same encoder memory
        scores = new_scores
        item_done |= torch.tensor([len(finished[i]) >= K for i in items], device=dev)
        scores[item_done] = float("-inf")
        n_done = int(item_done.sum())
        if n_done == B:
            break
        if n_done and n_done >= drop_finished * B:
            keep = (~item_done).nonzero().squeeze(1)
            rows = (keep[:, None] * K + torch.arange(K, device=dev)).view(-1)
            items = [items[i] for i in keep.tolist()]
            ys, scores, item_done = ys.index_select(0, rows), scores.index_select(0, keep), item_done[keep]
            step.reorder(rows)
    # items that ran out of length: finish their alive beams as they are
    active = {i: a for a, i in enumerate(items)}
    for b in range(len(finished)):
        if len(finished[b]) < K:
            a = active[b]
            for k in range(K):
                s = float(scores[a, k])
                if s != float("-inf"):
                    row = [x for x in ys[a * K + k].tolist()[1:] if x != pad]
                    finished[b].append(Hypothesis(row, float(_normalise(s, len(row), alpha)), s))
        finished[b].sort(key=lambda h: h.score, reverse=True)
        finished[b] = finished[b][:nbest] or [Hypothesis([], float("-inf"), float("-inf"))]
    return finished
