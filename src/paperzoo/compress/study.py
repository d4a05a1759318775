"""The compression sweep of the study and its plots (Li et al. 2020, Sec. 5, Figs. 2b, 6-7).

For one trained model: one-shot global magnitude pruning over a sparsity grid; the paper's
iterative pruning (equal steps to 90 %, a short fine-tune after each, Sec. 5.1); post-training
k-bit quantization (Sec. 5.2); and pruned + quantized combinations, each point labelled with its
size (non-zeros x bits, `paperzoo.compress.metrics.model_size`) and validation loss.
`best_per_budget` picks, for each memory budget, the lowest-loss point that fits (Fig. 2b's
"best model at a given test-time budget").
"""

from __future__ import annotations

import copy
import math
from typing import Callable

import numpy as np
import torch
import torch.nn as nn
from torch.nn.utils import parametrize

from .metrics import model_size
from .prune import prune_, target_weights
from .quantize import quantize_weights_

__all__ = ["evaluate", "compression_sweep", "best_per_budget"]


@torch.no_grad()
def evaluate(model: nn.Module, batches) -> float:
    """Mean next-character cross-entropy (nats) over fixed batches, in eval mode."""
    was = model.training
    model.eval()
    tot = n = 0.0
    with parametrize.cached():  # masks / fake quantizers computed once, not per access
        for x, y in batches:
            _, loss = model(x, y)
            tot += float(loss) * y.numel()
            n += y.numel()
    model.train(was)
    return tot / n


def compression_sweep(model: nn.Module, batches, *, sparsities: tuple[float, ...], bits: tuple[int, ...],
                      iter_steps: int, iter_final: float, finetune: Callable[[nn.Module, int, int], None] | None,
                      ft_steps: int, combo_bits: tuple[int, ...], qat: Callable[[nn.Module, int], None] | None = None,
                      qat_bits: tuple[int, ...] = (), prune_embeddings: bool = False,
                      quant_embeddings: bool = True) -> list[dict]:
    """All compressed variants of ``model`` (left untouched): a list of point dicts

    ``{"method", "sparsity", "bits", "size_bits", "loss", "measured_sparsity"}``.

    Pruning targets every Linear / attention projection weight (``prune_embeddings=False``: the
    tied embedding/softmax matrix and LayerNorms stay dense); quantization also covers the
    embedding (``quant_embeddings``; the notes read the paper's quantization as covering "most
    layers including embeddings"). ``"dense-ft"`` points are the *unpruned* model fine-tuned for
    exactly the steps the iterative schedule has used at each level, so ``prune-iterative`` can be
    compared with a control that had the same extra training (an undertrained model otherwise
    improves during the fine-tunes and hides the damage done by pruning).
    """
    pts: list[dict] = []

    def add(m: nn.Module, method: str, s: float, b: int) -> None:
        rep = model_size(m)
        pts.append({"method": method, "sparsity": s, "bits": b, "size_bits": rep.bits,
                    "measured_sparsity": rep.sparsity, "loss": evaluate(m, batches)})

    add(model, "dense", 0.0, 32)
    for s in sparsities:  # one-shot global magnitude pruning (no fine-tune)
        if s > 0:
            m = copy.deepcopy(model)
            prune_(m, s, "global", include_embeddings=prune_embeddings)
            add(m, "prune-oneshot", s, 32)
    if not prune_embeddings and 0.6 in sparsities:  # reference: the same 60 % over every matrix incl. embeddings
        m = copy.deepcopy(model)
        prune_(m, 0.6, "global", include_embeddings=True)
        add(m, "prune-oneshot-all", 0.6, 32)
    for b in bits:  # post-training quantization
        m = copy.deepcopy(model)
        quantize_weights_(m, b, include_embeddings=quant_embeddings)
        add(m, "ptq", 0.0, b)
    for b in qat_bits if qat is not None else ():  # quantization-aware fine-tune (straight-through)
        m = copy.deepcopy(model)
        quantize_weights_(m, b, include_embeddings=quant_embeddings)
        qat(m, b)
        add(m, "qat", 0.0, b)
    # iterative pruning with fine-tuning between steps; at each level also quantize the pruned model
    m = copy.deepcopy(model)
    control = copy.deepcopy(model) if finetune is not None and ft_steps > 0 else None
    refs = target_weights(m, include_embeddings=prune_embeddings)
    for i in range(iter_steps):
        s = iter_final * (i + 1) / iter_steps
        prune_(m, s, "global", refs=refs)
        if control is not None:
            finetune(m, ft_steps, i)
            finetune(control, ft_steps, i)  # same steps and batches, no pruning
            add(control, "dense-ft", s, 32)
        add(m, "prune-iterative", s, 32)
        for b in combo_bits:
            mq = copy.deepcopy(m)
            quantize_weights_(mq, b, include_embeddings=quant_embeddings)
            add(mq, "prune+ptq", s, b)
    return pts


def best_per_budget(points: list[dict], budgets: list[float]) -> list[dict]:
    """For each budget (bits): the lowest-loss point with ``size_bits <= budget`` (or None)."""
    out = []
    for B in budgets:
        fit = [p for p in points if p["size_bits"] <= B]
        out.append({"budget_bits": B, "best": min(fit, key=lambda p: p["loss"]) if fit else None})
    return out


def geometric_budgets(points: list[dict], n: int) -> list[float]:
    lo = min(p["size_bits"] for p in points)
    hi = max(p["size_bits"] for p in points)
    return [float(v) for v in np.geomspace(lo * 1.0001, hi, n)]


def pareto(points: list[dict]) -> list[dict]:
    """The lower-left front of (size, loss)."""
    front, best = [], math.inf
    for p in sorted(points, key=lambda p: (p["size_bits"], p["loss"])):
        if p["loss"] < best:
            front.append(p)
            best = p["loss"]
    return front


# -- plots --------------------------------------------------------------------------------------

def plot_training(curves: dict[str, dict], steps_key: str = "steps"):
    """Fig. 2a / 3 analogue: val loss vs steps and vs wall-clock, mean over seeds."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 4))
    for name, c in curves.items():
        loss = np.asarray(c["loss"])  # (seeds, evals)
        mu, sd = loss.mean(0), loss.std(0)
        axes[0].plot(c["steps"], mu, marker=".", label=f"{name} ({c['params'] / 1e6:.2f} M)")
        axes[0].fill_between(c["steps"], mu - sd, mu + sd, alpha=0.2)
        axes[1].plot(np.asarray(c.get("cpu") or c["time"]).mean(0), mu, marker=".", label=name)
    axes[0].set(xlabel="gradient steps", ylabel="validation loss (nats/char)", title="loss vs steps (equal steps)")
    axes[1].set(xlabel="training time (process CPU s)", ylabel="validation loss (nats/char)",
                title="loss vs training time")
    for ax in axes:
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    return fig


def plot_robustness(results: dict[str, list[list[dict]]]):
    """Loss vs sparsity (one-shot; iterative + fine-tune with its dense control, dashed, plotted at the
    sparsity level whose fine-tune steps it matched) and loss vs bits, one colour per size (mean over seeds)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 4))
    for name, per_seed in results.items():
        col = axes[0]._get_lines.get_next_color()
        for method, ls, label in (("prune-iterative", "-", "iterative+FT"), ("prune-oneshot", ":", "one-shot"),
                                  ("dense-ft", "--", "dense, same FT")):
            xs, ys = _series(per_seed, method, "sparsity", include_dense=True)
            if len(xs) > 1:
                axes[0].plot(np.asarray(xs) * 100, ys, ls, marker="o", ms=3, color=col, label=f"{name} {label}")
        xs, ys = _series(per_seed, "ptq", "bits")
        axes[1].plot(xs, ys, marker="o", color=col, label=name)
    axes[0].set(xlabel="sparsity (%)", ylabel="validation loss", title="magnitude pruning")
    axes[1].set(xlabel="weight bits", ylabel="validation loss", title="k-bit quantization (PTQ)")
    axes[1].invert_xaxis()
    for ax in axes:
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    return fig


def _series(per_seed: list[list[dict]], method: str, key: str, include_dense: bool = False):
    vals: dict[float, list[float]] = {}
    for pts in per_seed:
        for p in pts:
            if p["method"] == method or (include_dense and p["method"] == "dense"):
                vals.setdefault(p[key], []).append(p["loss"])
    xs = sorted(vals)
    return xs, [float(np.mean(vals[x])) for x in xs]


def plot_size(points: dict[str, list[dict]]):
    """The "best of both worlds" figure: loss vs compressed size, every variant, one colour per size."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    markers = {"dense": "*", "prune-oneshot": "x", "prune-iterative": "o", "ptq": "s", "qat": "D", "prune+ptq": "^"}
    for name, pts in points.items():
        col = ax._get_lines.get_next_color()
        for method, mk in markers.items():
            sel = [p for p in pts if p["method"] == method]
            if sel:
                ax.scatter([p["size_bits"] / 8 / 1024 for p in sel], [p["loss"] for p in sel], marker=mk, color=col,
                           s=40 if method == "dense" else 18, alpha=0.8)
        front = pareto(pts)
        ax.plot([p["size_bits"] / 8 / 1024 for p in front], [p["loss"] for p in front], color=col, label=name)
    for method, mk in markers.items():
        ax.scatter([], [], marker=mk, color="gray", label=method)
    ax.set_xscale("log")
    ax.set(xlabel="compressed size (KiB = non-zeros x bits / 8)", ylabel="validation loss (nats/char)",
           title="loss vs compressed size (lines: Pareto front per model)")
    ax.legend(fontsize=7, ncol=2)
    ax.grid(alpha=0.3, which="both")
    return fig
