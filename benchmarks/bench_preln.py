"""Training-step time of the shared Transformer: Post-LN vs Pre-LN, and our block vs PyTorch's.

    .venv/bin/python benchmarks/bench_preln.py [--d 256] [--layers 6] [--batch 32] [--seq 128]

Prints steps/s for each and the ratio. Our block wraps nn.MultiheadAttention like PyTorch's own
layer, so the ratio vs nn.TransformerEncoderLayer should be close to 1.
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn as nn

from paperzoo.transformer import TransformerStack, causal_mask


def steps_per_s(model: nn.Module, x: torch.Tensor, mask: torch.Tensor, n: int, torch_ref: bool = False) -> float:
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    def step():
        y = model(x, mask=mask, is_causal=True) if torch_ref else model(x, attn_mask=mask)
        y.pow(2).mean().backward()
        opt.step()
        opt.zero_grad()
    for _ in range(3):
        step()
    t = time.perf_counter()
    for _ in range(n):
        step()
    return n / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--d", type=int, default=256)
    ap.add_argument("--layers", type=int, default=6)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--steps", type=int, default=10)
    a = ap.parse_args()
    x = torch.randn(a.batch, a.seq, a.d)
    mask = causal_mask(a.seq)
    res = {}
    for norm in ("post", "pre"):
        ours = TransformerStack(a.layers, a.d, 4, 2 * a.d, dropout=0.0, norm=norm)
        layer = nn.TransformerEncoderLayer(a.d, 4, 2 * a.d, dropout=0.0, batch_first=True, norm_first=norm == "pre")
        ref = nn.TransformerEncoder(layer, a.layers, norm=nn.LayerNorm(a.d) if norm == "pre" else None,
                                    enable_nested_tensor=False)
        res[norm] = (steps_per_s(ours, x, mask, a.steps), steps_per_s(ref, x, mask, a.steps, torch_ref=True))
    print(f"device cpu, {torch.get_num_threads()} threads; d={a.d} layers={a.layers} batch={a.batch} seq={a.seq}")
    for norm, (o, r) in res.items():
        print(f"{norm}-LN  paperzoo {o:7.2f} steps/s   torch.nn {r:7.2f} steps/s   ratio {o / r:.2f}x")
    print(f"Pre-LN / Post-LN step-time ratio (paperzoo): {res['post'][0] / res['pre'][0]:.2f}")


if __name__ == "__main__":
    main()
