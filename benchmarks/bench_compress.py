"""Benchmark for paperzoo.compress (S3, Li et al. 2020, arXiv 2002.11794).

1. CPU inference throughput of a ~25 M-parameter Transformer LM (L8-H512, the largest model we
   benchmark): fp32 vs int8 dynamic (`dynamic_int8`, FBGEMM kernels) in one run, with the ratio and
   the change in loss on held-out pydoc text; optionally torchao's ``quantize_`` (``--torchao``;
   slow on CPU eager). ``--checkpoint`` uses trained weights (e.g. a `large-compress` run's
   ``checkpoints/<size>-seed0/model.safetensors`` with ``--depth/--width``).
2. Time to compress that model: global magnitude pruning to 90 %, 4-bit fake quantization,
   size accounting and folding (target: < 5 s).

Run: ``.venv/bin/python benchmarks/bench_compress.py [--threads 2]``.
"""

from __future__ import annotations

import argparse
import copy
import time

import torch

from paperzoo.compress import (
    compress_lm,
    dynamic_int8,
    fold_,
    model_size,
    param_count,
    prune_,
    quantize_weights_,
)
from paperzoo.compress.data import fixed_batches, load_corpus
from paperzoo.compress.study import evaluate
from paperzoo.engine import load_weights


def throughput(model, x, reps: int) -> float:
    """Tokens per second of a forward pass (best of ``reps`` after a warm-up)."""
    best = float("inf")
    with torch.inference_mode():
        model(x)
        for _ in range(reps):
            t = time.perf_counter()
            model(x)
            best = min(best, time.perf_counter() - t)
    return x.numel() / best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--depth", type=int, default=8)
    ap.add_argument("--width", type=int, default=512)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    ap.add_argument("--checkpoint", default=None)
    ap.add_argument("--torchao", action="store_true", help="also time torchao's int8 dynamic config")
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    corpus = load_corpus("pydoc")
    torch.manual_seed(0)
    model = compress_lm(vocab=corpus.vocab_size, depth=a.depth, width=a.width, seq_len=a.seq).eval()
    if a.checkpoint:
        load_weights(model, a.checkpoint)
    val = fixed_batches(corpus, "val", 32, a.seq, batch_size=a.batch)
    x = val[0][0]
    print(f"model L{a.depth}-H{a.width}: {param_count(model) / 1e6:.1f} M params, input {tuple(x.shape)}, "
          f"threads {torch.get_num_threads()}, {'trained' if a.checkpoint else 'untrained (random init)'}")

    # -- 2. compression time ----------------------------------------------------------------
    m = copy.deepcopy(model)
    t0 = time.perf_counter()
    prune_(m, 0.9, "global")
    t1 = time.perf_counter()
    quantize_weights_(m, 4)
    t2 = time.perf_counter()
    rep = model_size(m)
    t3 = time.perf_counter()
    fold_(m)
    t4 = time.perf_counter()
    print(f"compress: prune 90% global {t1 - t0:.2f} s, 4-bit quantize {t2 - t1:.2f} s, size {t3 - t2:.2f} s, "
          f"fold {t4 - t3:.2f} s; total {t4 - t0:.2f} s (target < 5 s); "
          f"{rep.bits / 8 / 2**20:.2f} MiB vs {rep.dense_fp32_bits / 8 / 2**20:.1f} MiB fp32 ({rep.ratio:.0f}x)")

    # -- 1. fp32 vs int8 dynamic --------------------------------------------------------------
    loss32 = evaluate(model, val)
    tp32 = throughput(model, x, a.reps)
    q = dynamic_int8(copy.deepcopy(model))
    loss8 = evaluate(q, val)
    tp8 = throughput(q, x, a.reps)
    print(f"fp32          : {tp32:9.0f} tokens/s  loss {loss32:.4f}")
    print(f"int8 (fbgemm) : {tp8:9.0f} tokens/s  loss {loss8:.4f}  (change {loss8 - loss32:+.4f} nats)")
    print(f"ratio int8/fp32: {tp8 / tp32:.2f}x (target >= 1.5x)")
    if a.torchao:
        try:
            tq = dynamic_int8(copy.deepcopy(model), backend="torchao")
            tpa = throughput(tq, x, 1)
            print(f"int8 (torchao): {tpa:9.0f} tokens/s  ratio {tpa / tp32:.2f}x")
        except Exception as e:  # noqa: BLE001 - a peer that fails is reported, not fatal
            print(f"torchao: unavailable ({type(e).__name__}: {str(e)[:100]})")


if __name__ == "__main__":
    main()
