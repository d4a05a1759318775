"""Benchmark for paperzoo.compress (S3, Li et al. 2020, arXiv 2002.11794).

1. CPU inference throughput, fp32 vs int8 dynamic (`dynamic_int8`, FBGEMM kernels), in one run, with
   the ratio and the change in validation loss on held-out pydoc text, for two models:
   (a) the study's largest quick model (L3-H128), *trained* -- from ``--study-checkpoint`` (a
       ``large-compress`` run's ``checkpoints/L3-H128-seed0/model.safetensors``) or, without it, trained
       here for ``--train-steps`` with the quick preset's recipe -- so its loss change is meaningful;
   (b) a ~25 M-parameter LM (L8-H512, the largest we time; random init unless ``--checkpoint``), whose
       matmuls are big enough for int8 to pay off; its loss change on random weights is printed but only
       says the int8 path is numerically sane.
   Optionally torchao's ``quantize_`` (``--torchao``; slow on CPU eager).
2. Time to compress the 25 M model: global magnitude pruning to 90 %, 4-bit fake quantization, size
   accounting and folding (target: < 5 s).

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
from paperzoo.compress.model import parse_size
from paperzoo.compress.study import evaluate
from paperzoo.engine import load_weights


def throughput(model, x, reps: int) -> tuple[float, float]:
    """Tokens per second of a forward pass, best of ``reps`` after a warm-up: (wall-clock, process CPU time).

    On a machine shared with other jobs the wall-clock figure measures them too; with one torch
    thread, tokens per CPU-second is the contention-free figure.
    """
    best = best_cpu = float("inf")
    with torch.inference_mode():
        model(x)
        for _ in range(reps):
            t, c = time.perf_counter(), time.process_time()
            model(x)
            best = min(best, time.perf_counter() - t)
            best_cpu = min(best_cpu, time.process_time() - c)
    return x.numel() / best, x.numel() / max(best_cpu, 1e-9)


def compare_int8(name: str, model, val, reps: int) -> tuple[float, float]:
    """fp32 vs int8-dynamic throughput and validation loss of one model, printed side by side."""
    x = val[0][0]
    loss32 = evaluate(model, val)
    tp32 = throughput(model, x, reps)
    q = dynamic_int8(copy.deepcopy(model))
    loss8 = evaluate(q, val)
    tp8 = throughput(q, x, reps)
    print(f"[{name}] input {tuple(x.shape)}, threads {torch.get_num_threads()}")
    print(f"  fp32          : {tp32[0]:9.0f} tokens/s wall, {tp32[1]:9.0f} tokens/CPU-s  loss {loss32:.4f}")
    print(f"  int8 (fbgemm) : {tp8[0]:9.0f} tokens/s wall, {tp8[1]:9.0f} tokens/CPU-s  loss {loss8:.4f}  "
          f"(change {loss8 - loss32:+.4f} nats)")
    print(f"  ratio int8/fp32: {tp8[0] / tp32[0]:.2f}x wall, {tp8[1] / tp32[1]:.2f}x CPU time (target >= 1.5x)")
    return tp32


def study_model(a, corpus):
    """The quick grid's largest model (L3-H128), trained (checkpoint or a short run of the quick recipe)."""
    from types import SimpleNamespace

    from paperzoo.compress.recipe import _train
    from paperzoo.registry import get_recipe

    preset = get_recipe("large-compress").presets["quick"]
    seq = preset["seq_len"]
    depth, width = parse_size(preset["sizes"][-1])
    torch.manual_seed(0)
    m = compress_lm(vocab=corpus.vocab_size, depth=depth, width=width, seq_len=seq)
    if a.study_checkpoint:
        load_weights(m, a.study_checkpoint)
        how = f"loaded {a.study_checkpoint}"
    else:
        cfg = SimpleNamespace(batch_size=preset["batch_size"], seq_len=seq, weight_decay=0.01, clip=1.0)
        t = time.perf_counter()
        _train(m, corpus, cfg, 0, a.train_steps, preset["lrs"][-1], preset["warmup"], None, a.train_steps)
        how = f"trained here: {a.train_steps} steps of the quick recipe in {time.perf_counter() - t:.0f} s"
    return m.eval(), f"L{depth}-H{width} ({param_count(m) / 1e6:.2f} M params; {how})", seq


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
    ap.add_argument("--study-checkpoint", default=None, help="trained L3-H128 from a large-compress quick run")
    ap.add_argument("--train-steps", type=int, default=300, help="train the study model this long if no checkpoint")
    ap.add_argument("--skip-study", action="store_true", help="only the 25 M model")
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
    c0 = time.process_time()
    t0 = time.perf_counter()
    prune_(m, 0.9, "global")
    t1 = time.perf_counter()
    quantize_weights_(m, 4)
    t2 = time.perf_counter()
    rep = model_size(m)
    t3 = time.perf_counter()
    fold_(m)
    t4 = time.perf_counter()
    c4 = time.process_time()
    print(f"compress: prune 90% global {t1 - t0:.2f} s, 4-bit quantize {t2 - t1:.2f} s, size {t3 - t2:.2f} s, "
          f"fold {t4 - t3:.2f} s; total {t4 - t0:.2f} s wall, {c4 - c0:.2f} CPU s (target < 5 s); "
          f"{rep.bits / 8 / 2**20:.2f} MiB vs {rep.dense_fp32_bits / 8 / 2**20:.1f} MiB fp32 ({rep.ratio:.0f}x)")

    # -- 1. fp32 vs int8 dynamic --------------------------------------------------------------
    if not a.skip_study:
        sm, desc, seq = study_model(a, corpus)
        print(f"study's largest model {desc}")
        compare_int8("study L3-H128, trained", sm, fixed_batches(corpus, "val", 64, seq, batch_size=64), a.reps)
    tp32 = compare_int8(f"L{a.depth}-H{a.width}, {'trained' if a.checkpoint else 'random init'}", model, val, a.reps)
    if a.torchao:
        try:
            tq = dynamic_int8(copy.deepcopy(model), backend="torchao")
            tpa = throughput(tq, x, 1)
            print(f"int8 (torchao): {tpa[0]:9.0f} tokens/s  ratio {tpa[0] / tp32[0]:.2f}x wall")
        except Exception as e:  # noqa: BLE001 - a peer that fails is reported, not fatal
            print(f"torchao: unavailable ({type(e).__name__}: {str(e)[:100]})")


if __name__ == "__main__":
    main()
