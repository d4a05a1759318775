"""Figures for the retrieval report: mAP per ablation, training loss, a query -> top-k grid."""

from __future__ import annotations

import numpy as np

__all__ = ["plot_ablation", "plot_losses", "plot_grid"]


def plot_ablation(res: dict[str, list[dict]]):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(res)
    fig, ax = plt.subplots(figsize=(max(8, 1.1 * len(names)), 4.5))
    x = np.arange(len(names))
    for j, (s, col) in enumerate((("easy", "tab:green"), ("medium", "tab:blue"), ("hard", "tab:red"))):
        vals = [[100 * r[s] for r in res[n]] for n in names]
        ax.bar(x + (j - 1) * 0.27, [np.mean(v) for v in vals], 0.27, color=col, alpha=0.7, label=s.capitalize())
        for i, v in enumerate(vals):
            ax.scatter(np.full(len(v), x[i] + (j - 1) * 0.27), v, s=8, color="k", zorder=3)
    ax.set_xticks(x, names, rotation=30, ha="right")
    ax.set(ylabel="mAP (%)", title="Held-out generated landmarks, revisited protocol")
    ax.legend()
    ax.grid(axis="y", alpha=0.3)
    return fig


def plot_losses(curves: dict[str, list[list[float]]]):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for k, runs in curves.items():
        a = np.array(runs)
        ax.plot(np.arange(1, a.shape[1] + 1), a.mean(0), marker="o", label=k)
    ax.set(xlabel="epoch", ylabel="loss per tuple", title="Contrastive loss (re-mined tuples each epoch)")
    ax.legend()
    return fig


def plot_grid(q_images: np.ndarray, db_images: np.ndarray, ranks: np.ndarray, gnd: list[dict], k: int = 6,
              n_queries: int = 8):
    """Rows: a query then its top-k database images, framed by their label (easy/hard/junk/wrong)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    nq = min(n_queries, len(q_images))
    pick = np.linspace(0, len(q_images) - 1, nq).astype(int)
    fig, axes = plt.subplots(nq, k + 1, figsize=(1.3 * (k + 1), 1.35 * nq))
    axes = np.atleast_2d(axes)
    for r, qi in enumerate(pick):
        axes[r, 0].imshow(q_images[qi].transpose(1, 2, 0))
        axes[r, 0].set_title("query", fontsize=7)
        g = gnd[qi]
        for c in range(k):
            j = ranks[c, qi]
            col = ("tab:green" if j in g["easy"] else "tab:blue" if j in g["hard"] else
                   "0.6" if j in g["junk"] else "tab:red")
            ax = axes[r, c + 1]
            ax.imshow(db_images[j].transpose(1, 2, 0))
            for sp in ax.spines.values():
                sp.set_edgecolor(col)
                sp.set_linewidth(3)
        for ax in axes[r]:
            ax.set_xticks([])
            ax.set_yticks([])
    fig.suptitle("GENERATED landmarks: query -> top-k (green easy, blue hard, grey junk, red wrong)", fontsize=8)
    fig.tight_layout()
    return fig
