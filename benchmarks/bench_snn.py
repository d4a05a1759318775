"""Benchmark: paperzoo.snn vs SpikingJelly 2.0 ann2snn (multi-step), same network, same T.

Both convert the same ANN with max-norm from the same single calibration batch (SpikingJelly's
VoltageHook keeps a momentum average over batches; one batch makes it the plain max), fold BN,
use IF neurons with threshold 1 and soft reset, and run T steps on a constant input. Prints
img·step/s of each, the ratio, and how often the two SNNs predict the same class.

    .venv/bin/python benchmarks/bench_snn.py [--T 32] [--batch 128] [--repeats 3]

If SpikingJelly is missing or cannot convert/run a model, the row says so and shows ours alone.
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn as nn

from paperzoo.registry import create_model
from paperzoo.snn import convert


def _bn_stats(m: nn.Module, x: torch.Tensor) -> nn.Module:
    m.train()
    with torch.no_grad():
        for _ in range(3):
            m(x)
    return m.eval()


def _time(fn, repeats: int) -> float:
    fn()  # warm-up
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def spikingjelly_snn(ann: nn.Module, calib: torch.Tensor):
    from spikingjelly.activation_based import functional
    from spikingjelly.activation_based.ann2snn import Converter, RateCodingRecipe

    snn = Converter(recipe=RateCodingRecipe(dataloader=[calib], mode="max")).convert(ann)
    functional.set_step_mode(snn, "m")
    return snn, functional


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--T", type=int, default=32)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    torch.manual_seed(0)
    cases = [("small_cnn", dict(width=32, in_chans=1), (1, 8, 8)),
             ("snn_mlp", dict(hidden=(128, 128, 128, 128)), (1, 8, 8)),
             ("vgg16_cifar", dict(pool="avg", cfg=[32, 32, "P", 64, 64, "P", 128, "P"]), (3, 32, 32)),
             ("resnet20_cifar", dict(), (3, 32, 32))]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, T={args.T}, batch={args.batch}")
    print(f"{'model':<16} {'ours img*step/s':>16} {'SJ img*step/s':>14} {'ratio':>7} {'same pred':>10}  note")
    for name, kw, shape in cases:
        ann = create_model(name, **kw)
        calib = torch.rand(args.batch, *shape)
        x = torch.rand(args.batch, *shape)
        _bn_stats(ann, calib)
        ours = convert(ann, "max", calib=[calib])
        t_ours = _time(lambda: ours.simulate(x, [args.T]), args.repeats)  # noqa: B023
        pred_ours = ours.simulate(x, [args.T])["potential"][-1].argmax(-1)
        rate_ours = args.batch * args.T / t_ours
        try:
            import copy
            sj, functional = spikingjelly_snn(copy.deepcopy(ann), calib)

            def run_sj(sj=sj, functional=functional, x=x):
                functional.reset_net(sj)
                with torch.no_grad():
                    return sj(x.unsqueeze(0).repeat(args.T, *([1] * x.dim())))  # (T, B, C)

            t_sj = _time(run_sj, args.repeats)
            pred_sj = run_sj().mean(0).argmax(-1)
            same = float((pred_sj == pred_ours).float().mean()) * 100
            rate_sj = args.batch * args.T / t_sj
            print(f"{name:<16} {rate_ours:>16.0f} {rate_sj:>14.0f} {rate_ours / rate_sj:>6.2f}x {same:>9.1f}%")
        except Exception as e:  # SpikingJelly missing, or fails on this model
            msg = str(e).strip().splitlines()[0][:90] if str(e).strip() else type(e).__name__
            print(f"{name:<16} {rate_ours:>16.0f} {'-':>14} {'-':>7} {'-':>10}  SpikingJelly failed: {msg}")


if __name__ == "__main__":
    main()
