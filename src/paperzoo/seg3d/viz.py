"""Figures: orthogonal slices with label overlays, and the region coverage/recall curve."""

from __future__ import annotations

import numpy as np

__all__ = ["overlay_figure", "save_overlay_png"]

_COLORS = np.array([[0, 0, 0], [230, 25, 75], [60, 180, 75], [255, 225, 25], [0, 130, 200], [245, 130, 48],
                    [145, 30, 180], [70, 240, 240], [240, 50, 230], [210, 245, 60]], float) / 255


def _rgb(img2d: np.ndarray, lab2d: np.ndarray | None, win: tuple[float, float], alpha: float) -> np.ndarray:
    g = (np.clip(img2d, *win) - win[0]) / (win[1] - win[0])
    rgb = np.repeat(g[..., None], 3, -1)
    if lab2d is not None:
        m = lab2d > 0
        col = _COLORS[lab2d % len(_COLORS)]
        rgb[m] = (1 - alpha) * rgb[m] + alpha * col[m]
    return rgb


def overlay_figure(image: np.ndarray, masks: dict[str, np.ndarray | None], *, center: tuple[int, int, int] | None = None,
                   window: tuple[float, float] = (-200.0, 300.0), alpha: float = 0.5,
                   region: np.ndarray | None = None, class_names: tuple[str, ...] = ()):
    """A figure: one row per entry of ``masks`` (None = image only), columns axial / coronal / sagittal.

    ``center`` defaults to the centroid of the first mask's foreground; ``region`` (e.g. C2) is drawn as a contour.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    if center is None:
        first = next((m for m in masks.values() if m is not None and m.any()), None)
        center = tuple(int(c) for c in (np.argwhere(first > 0).mean(0) if first is not None else np.array(image.shape) // 2))
    cx, cy, cz = center
    views = [("axial z=%d" % cz, lambda v: v[:, :, cz].T), ("coronal y=%d" % cy, lambda v: v[:, cy, :].T),
             ("sagittal x=%d" % cx, lambda v: v[cx, :, :].T)]
    fig, axes = plt.subplots(len(masks), 3, figsize=(10, 3.3 * len(masks)), squeeze=False)
    for r, (name, lab) in enumerate(masks.items()):
        for c, (vname, take) in enumerate(views):
            ax = axes[r, c]
            ax.imshow(_rgb(take(image), None if lab is None else take(lab).astype(int), window, alpha),
                      origin="lower" if c else "upper", interpolation="nearest")
            if region is not None and lab is not None:
                ax.contour(take(region).astype(float), levels=[0.5], colors="white", linewidths=0.6,
                           origin="lower" if c else "upper")
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(vname)
            if c == 0:
                ax.set_ylabel(name)
    if class_names:
        handles = [Patch(color=_COLORS[i % len(_COLORS)], label=n) for i, n in enumerate(class_names) if i > 0]
        fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 6), frameon=False)
    fig.tight_layout(rect=(0, 0.04 if class_names else 0, 1, 1))
    return fig


def save_overlay_png(image: np.ndarray, labels: np.ndarray, path, class_names: tuple[str, ...] = (),
                     window: tuple[float, float] = (-200.0, 300.0)) -> None:
    """Orthogonal slices of ``image`` with and without the ``labels`` overlay, as a PNG."""
    import matplotlib.pyplot as plt

    fig = overlay_figure(image, {"image": None, "prediction": labels}, window=window, class_names=class_names,
                         center=tuple(int(c) for c in (np.argwhere(labels > 0).mean(0) if labels.any()
                                                        else np.array(image.shape) // 2)))
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
