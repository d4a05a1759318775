"""Paired timing rounds, shared by the benchmark scripts (run as ``python benchmarks/bench_x.py``, so this
module is importable as ``paired``).

Each round runs every compared function once, back to back; a speed-up is the median over rounds of the
within-round ratio. Two runs seconds apart see the same machine, which this shared VM's minute-to-minute
speed drift (up to ~30 %) would otherwise make different.
"""

from __future__ import annotations

import statistics
import time
from typing import Callable, Hashable


def paired_rounds(fns: dict[Hashable, Callable], rounds: int) -> tuple[dict, dict[Hashable, list[float]],
                                                                       dict[Hashable, list[float]]]:
    """Run every function once per round, in order, for ``rounds`` rounds (at least one).

    Returns ({name: output of its first run}, {name: [process CPU time per round]}, {name: [wall time per
    round]}). Use wall time when a function runs on several threads (their CPU times add up)."""
    out: dict = {}
    cpu: dict[Hashable, list[float]] = {name: [] for name in fns}
    wall: dict[Hashable, list[float]] = {name: [] for name in fns}
    for _ in range(max(1, rounds)):
        for name, fn in fns.items():
            t, tw = time.process_time(), time.perf_counter()
            o = fn()
            cpu[name].append(time.process_time() - t)
            wall[name].append(time.perf_counter() - tw)
            out.setdefault(name, o)
    return out, cpu, wall


def paired_ratio(slow: list[float], fast: list[float]) -> tuple[float, float, float]:
    """(median, min, max) over rounds of slow[i] / fast[i], the two times measured in the same round."""
    r = [s / f for s, f in zip(slow, fast)]
    return statistics.median(r), min(r), max(r)


def ratio_line(slow: list[float], fast: list[float]) -> str:
    """'median Nx (range A-B), best/best Cx' for times measured in the same rounds."""
    med, lo, hi = paired_ratio(slow, fast)
    return f"median {med:.1f}x (range {lo:.1f}-{hi:.1f}), best/best {min(slow) / min(fast):.1f}x"
