"""Training throughput of Pyramidal RoR-3 vs the same PyramidNet without RoR shortcuts (one run, side by side).

Zhang et al. 2017 (arXiv 1710.00307) add root- and middle-level shortcuts (1x1 conv + BN projections)
to PyramidNet; this measures what they cost in training images/s. Both models get identical body
weights and drop-path settings, so the difference is the RoR shortcuts alone. Timing alternates
A/B rounds and reports medians, which damps drift on a shared machine.

    .venv/bin/python benchmarks/bench_pyramidal.py                       # 110-layer alpha=48, 32x32
    .venv/bin/python benchmarks/bench_pyramidal.py --depth 164 --alpha 270 --bottleneck --device cuda
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from paperzoo.pyramidal.model import PyramidalRoR


def step_fn(model, opt, x, y, device, amp):
    def step():
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return step


def time_steps(step, n: int, device) -> float:
    """Seconds for ``n`` steps: wall-clock on CUDA; on CPU this process's CPU time, which other jobs
    on a shared machine inflate far less than wall-clock (compare with ``--threads 1``)."""
    if device.type == "cuda":
        torch.cuda.synchronize()
        t = time.perf_counter()
    else:
        t = time.process_time()
    for _ in range(n):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
        return time.perf_counter() - t
    return time.process_time() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--depth", type=int, default=110)
    ap.add_argument("--alpha", type=float, default=48)
    ap.add_argument("--bottleneck", action="store_true")
    ap.add_argument("--image-size", type=int, default=32)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--steps", type=int, default=1, help="timed steps per round")
    ap.add_argument("--rounds", type=int, default=11)
    ap.add_argument("--drop-path", type=float, default=0.0, help="same drop-path rate for both models")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    device = torch.device("cuda" if a.device == "auto" and torch.cuda.is_available() else
                          ("cpu" if a.device == "auto" else a.device))
    cuda = device.type == "cuda"
    torch.manual_seed(0)
    body = dict(depth=a.depth, alpha=a.alpha, bottleneck=a.bottleneck, drop_path_rate=a.drop_path)
    pn = PyramidalRoR(**body)
    ror = PyramidalRoR(**body, root_shortcut=True, stage_shortcut=True)
    ror.load_state_dict(pn.state_dict(), strict=False)
    x = torch.randn(a.batch_size, 3, a.image_size, a.image_size, device=device)
    y = torch.randint(0, 10, (a.batch_size,), device=device)
    if cuda:
        x = x.contiguous(memory_format=torch.channels_last)
    steps = {}
    for name, m in (("PyramidNet", pn), ("Pyramidal RoR-3", ror)):
        m = m.to(device).train()
        if cuda:
            m = m.to(memory_format=torch.channels_last)
        opt = torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-4)
        steps[name] = step_fn(m, opt, x, y, device, amp=cuda)
        time_steps(steps[name], 1, device)  # warm-up
        steps[name + " params"] = sum(p.numel() for p in m.parameters())
    times: dict[str, list[float]] = {"PyramidNet": [], "Pyramidal RoR-3": []}
    for _ in range(a.rounds):
        for name in times:
            times[name].append(time_steps(steps[name], a.steps, device))
    kind = "bottleneck" if a.bottleneck else "basic"
    print(f"device: {torch.cuda.get_device_name(device) if cuda else f'cpu, {torch.get_num_threads()} threads'}; "
          f"depth {a.depth}, alpha {a.alpha:g}, {kind}, {a.image_size}x{a.image_size}, batch {a.batch_size}, "
          f"{a.rounds} rounds x {a.steps} steps (median; {'wall' if cuda else 'process CPU'} time)")
    ips = {}
    for name, ts in times.items():
        ips[name] = a.batch_size * a.steps / statistics.median(ts)
        print(f"  {name:<16} {steps[name + ' params'] / 1e6:7.3f} M params  {ips[name]:9.1f} train images/s")
    ratio = ips["Pyramidal RoR-3"] / ips["PyramidNet"]
    print(f"  throughput ratio RoR/PyramidNet = {ratio:.3f}; RoR overhead = {100 * (1 / ratio - 1):+.1f} % "
          f"time per image (target <= 5 %)")


if __name__ == "__main__":
    main()
