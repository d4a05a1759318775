"""The two-stage cascade: configuration, preprocessing, inference, save/load.

Roth et al., "Hierarchical 3D fully convolutional networks for multi-organ segmentation",
arXiv 1704.06382 (2017); "An application of cascaded 3D fully convolutional networks for medical
image segmentation", CMIG 66 (2018), arXiv 1803.05431. Reference code (Caffe):
https://github.com/holgerroth/3Dunet_abdomen_cascade.

Stage 1 (Sec. 2.1): the CT subsampled x2 per axis, window [-500, 500] HU -> [0, 1], zero mean
inside the body mask C1; the network runs on C1's tiles, outside C1 is background.
Stage 2 (Sec. 2.4): C2 = stage-1 foreground dilated by r, AND the body (foreground = argmax label > 0,
the paper; or, with ``region_threshold`` tau > 0, stage-1 ``1 - p_background >= tau`` — an opt-in recall
dial, Deviation); window [-2000, 3000] HU ->
[-1, 1]; the network runs **only on tiles touching C2** and predictions outside C2 are background.
Both stages run at half resolution by default (the paper: full resolution "would have
drastically reduced the field of view"); ``stage2_factor=1`` gives a full-resolution stage 2.
A cascade without stage 2 is the single-stage baseline (the whole body mask is the region).

A saved model is a directory: ``model.json`` (this config) + ``stage1.safetensors``
(+ ``stage2.safetensors``); nothing is unpickled.
"""

from __future__ import annotations

import json
import time
import warnings
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import torch

from ..engine import atomic_write_json, load_weights, save_weights
from ..errors import CheckpointError, ConfigError
from .data import downsample, upsample_labels, window
from .model import build_unet
from .region import body_mask, candidate_region, region_sliding_window, stage1_foreground

__all__ = ["CascadeConfig", "Cascade", "preprocess", "EmptyRegionWarning"]

FORMAT = "paperzoo-seg3d-cascade/1"


class EmptyRegionWarning(UserWarning):
    """Stage 1 found no foreground: stage 2 has nothing to look at and the mask is empty."""


@dataclass
class CascadeConfig:
    """What a cascade needs at inference (saved as ``model.json``). Defaults = the paper (Sec. 2)."""

    n_classes: int = 8
    class_names: tuple[str, ...] = ()
    channels: tuple[int, ...] = (64, 128, 256, 512)
    num_res_units: int = 2
    stage1_factor: int = 2  # subsampling of stage 1 (Sec. 2.1)
    stage2_factor: int = 2  # 2: the paper; 1: full-resolution stage 2 (option)
    stage1_window: tuple[float, float] = (-500.0, 500.0)  # -> [0, 1], zero mean in C1
    stage2_window: tuple[float, float] = (-2000.0, 3000.0)  # -> [-1, 1]
    body_threshold: float = -500.0  # C1 threshold = window minimum
    radius: int = 3  # dilation of the stage-1 foreground (Sec. 2.4 text; the code uses 5)
    region_threshold: float = 0.0  # 0: foreground = argmax > 0 (paper); tau > 0: 1 - p_background >= tau
    roi: tuple[int, int, int] = (44, 44, 28)  # output tile (the paper's 44x44x28)
    stage1_overlap: float = 0.0  # non-overlapping tiles (Sec. 2.4)
    stage2_overlap: float = 0.0  # 0.0 or e.g. 0.5 for the "overlapping" variant
    blend: str = "gaussian"  # MONAI blending weights: gaussian or constant
    two_stage: bool = True

    def __post_init__(self) -> None:
        self.class_names = tuple(self.class_names)
        self.channels, self.roi = tuple(self.channels), tuple(self.roi)
        self.stage1_window, self.stage2_window = tuple(self.stage1_window), tuple(self.stage2_window)
        if self.stage1_factor % self.stage2_factor:
            raise ConfigError(f"stage1_factor={self.stage1_factor} must be a multiple of stage2_factor="
                              f"{self.stage2_factor} (stage-1 masks are upsampled onto the stage-2 grid)")
        self.region_threshold = float(self.region_threshold)
        if not 0.0 <= self.region_threshold < 1.0:
            raise ConfigError(f"region_threshold={self.region_threshold}: choose 0 (the paper's argmax foreground) "
                              "or a stage-1 foreground probability in (0, 1)")
        if self.blend not in ("gaussian", "constant"):
            raise ConfigError(f"blend={self.blend!r}: choose gaussian or constant")


def preprocess(hu: np.ndarray, stage: int, cfg: CascadeConfig, mask: np.ndarray | None = None) -> np.ndarray:
    """Window a stage's input (Sec. 2.2); stage 1 is zero-meaned inside ``mask``."""
    if stage == 1:
        x = window(hu, *cfg.stage1_window, out=(0.0, 1.0))
        if mask is not None and mask.any():
            x = x - x[mask].mean()
        return x
    return window(hu, *cfg.stage2_window, out=(-1.0, 1.0))


class Cascade(torch.nn.Module):
    """``stage1`` (+ ``stage2``) MONAI U-Nets and the logic that chains them.

    ``predict(hu)`` -> ``(labels uint8 of hu's shape, info dict)`` with per-stage times, region
    fraction, tiles run/total and warnings.
    """

    def __init__(self, cfg: CascadeConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.stage1 = build_unet(cfg.n_classes, cfg.channels, num_res_units=cfg.num_res_units)
        self.stage2 = build_unet(cfg.n_classes, cfg.channels, num_res_units=cfg.num_res_units) if cfg.two_stage else None

    # -- regions --------------------------------------------------------------------------
    def stage2_region(self, stage1_labels: np.ndarray, body2: np.ndarray,
                      stage1_fg_prob: np.ndarray | None = None) -> np.ndarray:
        """C2 on the stage-2 grid from stage-1 labels (and, for ``region_threshold`` > 0, stage-1 foreground
        probabilities ``1 - p_background``) on the stage-1 grid (Sec. 2.4)."""
        seed = stage1_foreground(stage1_labels, stage1_fg_prob, self.cfg.region_threshold)
        fg = upsample_labels(seed.astype(np.uint8), self.cfg.stage1_factor // self.cfg.stage2_factor,
                             body2.shape).astype(bool)
        return candidate_region(fg, self.cfg.radius, body2)

    # -- inference ------------------------------------------------------------------------
    @torch.no_grad()
    def run_stage(self, net: torch.nn.Module, x: np.ndarray, region: np.ndarray | None, overlap: float,
                  batch_size: int = 4, return_fg_prob: bool = False):
        """Labels of one stage over the tiles touching ``region`` (``None``: every tile); outside -> 0.

        ``return_fg_prob=True`` also returns the blended foreground probability ``1 - p_background``
        (float32, 0 outside ``region``) as a third element.
        """
        net.eval()
        dev = next(net.parameters()).device
        img = torch.as_tensor(x, device=dev)[None]
        probs, tiles = region_sliding_window(img, region, self.cfg.roi, net, self.cfg.n_classes, overlap=overlap,
                                             mode=self.cfg.blend, batch_size=batch_size)
        lab = probs.argmax(0).to(torch.uint8).cpu().numpy()
        if region is not None:
            lab[~region] = 0
        if not return_fg_prob:
            return lab, tiles
        fg = (1.0 - probs[0]).clamp(0.0, 1.0).float().cpu().numpy()
        if region is not None:
            fg[~region] = 0.0
        return lab, tiles, fg

    def predict(self, hu: np.ndarray, *, skip_tiles: bool = True, return_stage1: bool = False,
                return_stage1_prob: bool = False):
        """Segment a CT volume (HU, (x, y, z)). ``skip_tiles=False`` runs every tile (for comparison).

        Returns ``(labels, info)``, + stage-1 labels on ``hu``'s grid if ``return_stage1``, + stage-1
        foreground probability ``1 - p_background`` on stage 1's grid if ``return_stage1_prob``.
        """
        cfg, info = self.cfg, {"warnings": []}
        t0 = time.perf_counter()
        x1 = downsample(hu, cfg.stage1_factor)
        body1 = body_mask(x1, cfg.body_threshold)
        lab1, tiles1, fg1 = self.run_stage(self.stage1, preprocess(x1, 1, cfg, body1),
                                           body1 if skip_tiles else None, cfg.stage1_overlap, return_fg_prob=True)
        lab1[~body1] = 0
        fg1[~body1] = 0.0

        def ret(labels: np.ndarray):
            return (labels, info) + ((stage1_full,) if return_stage1 else ()) + ((fg1,) if return_stage1_prob else ())
        info.update(time_stage1_s=time.perf_counter() - t0, stage1_tiles_run=tiles1["tiles_run"],
                    stage1_tiles_total=tiles1["tiles_total"], body_fraction=float(body1.mean()))
        stage1_full = upsample_labels(lab1, cfg.stage1_factor, hu.shape)
        if self.stage2 is None:
            return ret(stage1_full)
        t1 = time.perf_counter()
        x2 = downsample(hu, cfg.stage2_factor)
        body2 = body_mask(x2, cfg.body_threshold) if cfg.stage2_factor != cfg.stage1_factor else body1
        c2 = self.stage2_region(lab1, body2, fg1)
        info["region_fraction"] = float(c2.mean())
        if not c2.any():
            msg = "stage 1 found no foreground: the candidate region is empty, so the mask is empty"
            warnings.warn(msg, EmptyRegionWarning, stacklevel=2)
            info["warnings"].append(msg)
            info.update(time_stage2_s=time.perf_counter() - t1, stage2_tiles_run=0, stage2_tiles_total=0)
            empty = np.zeros(hu.shape, np.uint8)
            return ret(empty)
        lab2, tiles2 = self.run_stage(self.stage2, preprocess(x2, 2, cfg), c2 if skip_tiles else None,
                                      cfg.stage2_overlap)
        lab2[~c2] = 0
        info.update(time_stage2_s=time.perf_counter() - t1, stage2_tiles_run=tiles2["tiles_run"],
                    stage2_tiles_total=tiles2["tiles_total"])
        out = upsample_labels(lab2, cfg.stage2_factor, hu.shape)
        return ret(out)

    # -- save / load ----------------------------------------------------------------------
    def save(self, directory: str | Path, extra: dict | None = None) -> Path:
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        save_weights(self.stage1, d / "stage1.safetensors")
        if self.stage2 is not None:
            save_weights(self.stage2, d / "stage2.safetensors")
        atomic_write_json(d / "model.json", {"format": FORMAT, "config": asdict(self.cfg), "extra": extra or {}})
        return d

    @classmethod
    def load(cls, directory: str | Path, device: str | torch.device = "cpu") -> "Cascade":
        d = Path(directory)
        meta_path = d / "model.json"
        if not meta_path.is_file():
            raise CheckpointError(f"{d} has no model.json; pass a directory written by `paperzoo seg3d train`")
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise CheckpointError(f"{meta_path} is corrupt ({e})") from None
        if meta.get("format") != FORMAT:
            raise CheckpointError(f"{meta_path} has format {meta.get('format')!r}, expected {FORMAT!r}")
        known = {f.name for f in fields(CascadeConfig)}
        cfg = CascadeConfig(**{k: v for k, v in meta["config"].items() if k in known})
        model = cls(cfg)
        load_weights(model.stage1, d / "stage1.safetensors")
        if model.stage2 is not None:
            load_weights(model.stage2, d / "stage2.safetensors")
        return model.to(device).eval()
