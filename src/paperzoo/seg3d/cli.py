"""``paperzoo seg3d``: train a cascade on NIfTI data, segment a volume, draw an overlay, make phantoms.

    paperzoo seg3d phantom OUT_DIR --n 8                 # a GENERATED Decathlon-style dataset
    paperzoo seg3d train --data-dir DIR --out MODEL_DIR  # imagesTr/ + labelsTr/ (+ dataset.json)
    paperzoo seg3d predict MODEL_DIR in.nii.gz --out mask.nii.gz [--overlay look.png]
    paperzoo seg3d overlay in.nii.gz mask.nii.gz --out look.png
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Optional

import typer

from ..errors import ConfigError

app = typer.Typer(no_args_is_help=True, add_completion=False,
                  help="Cascaded 3D FCN multi-organ CT segmentation (Roth et al. 2017) on MONAI.")


def _tuple(text: str, what: str, n: int | None = None) -> tuple[int, ...]:
    try:
        v = tuple(int(p) for p in text.replace("x", ",").split(",") if p.strip())
    except ValueError:
        raise ConfigError(f"--{what} {text!r}: expected integers like 32,32,32") from None
    if not v or (n is not None and len(v) != n):
        raise ConfigError(f"--{what} {text!r}: expected {n or 'some'} integers like 32,32,32")
    return v


@app.command()
def train(
    data_dir: Path = typer.Option(..., help="Decathlon-style folder: imagesTr/, labelsTr/ (+ dataset.json)"),
    out: Path = typer.Option(Path("seg3d-model"), help="model directory to write (model.json + safetensors)"),
    stage1_steps: int = typer.Option(2000, help="stage-1 training steps (the paper: 200k)"),
    stage2_steps: int = typer.Option(2000, help="stage-2 fine-tuning steps (the paper: 115k)"),
    channels: str = typer.Option("16,32,64,128", help="U-Net widths per level (the paper: 64,128,256,512)"),
    roi: str = typer.Option("48,48,32", help="patch / tile size, multiples of 2^(levels-1)"),
    full_res_stage2: bool = typer.Option(False, help="stage 2 at full resolution (the paper: both at half)"),
    radius: int = typer.Option(3, help="dilation of the stage-1 foreground (Sec. 2.4)"),
    batch: int = typer.Option(2),
    lr: float = typer.Option(1e-3, help="Adam learning rate (stage 2 uses a third of it)"),
    seed: int = typer.Option(0),
    device: str = typer.Option("auto", help="auto, cpu or cuda"),
) -> None:
    """Train a two-stage cascade on NIfTI image/label pairs and save it."""
    import torch

    from ..engine.logging import progress
    from .data import find_pairs, load_pair
    from .recipe import Seg3dConfig, fit_cascade

    pairs, names = find_pairs(data_dir)
    cases = []
    for img, lab in progress(pairs, desc="seg3d: loading"):
        hu, y, spacing = load_pair(img, lab)
        cases.append((hu, y))
    k = 1 + max(int(y.max()) for _, y in cases)
    names = tuple(names) if names and len(names) >= k else tuple(f"class{i}" for i in range(k))
    ch = _tuple(channels, "channels")
    cfg = Seg3dConfig(channels=ch, num_res_units=1, roi=_tuple(roi, "roi", 3), stage2_factor=1 if full_res_stage2 else 2,
                      radius=radius, stage1_steps=stage1_steps, stage2_steps=stage2_steps, batch=batch,
                      optimizer="adam", lr=lr, finetune_lr=lr / 3, lr_step=10**9, finetune_lr_step=10**9,
                      stage2_window=(-500.0, 500.0))
    if any(r % 2 ** (len(ch) - 1) for r in cfg.roi):
        raise ConfigError(f"--roi {roi}: each size must be a multiple of {2 ** (len(ch) - 1)} for {len(ch)} levels")
    dev = "cuda" if device == "auto" and torch.cuda.is_available() else ("cpu" if device == "auto" else device)
    model = fit_cascade(cfg, cases, len(names), names, seed, lambda it, d: progress(it, desc=f"seg3d: {d}"), None, dev)
    model.save(out, extra={"data_dir": str(data_dir), "cases": len(cases), "spacing": list(spacing)})
    typer.echo(f"wrote {out}/model.json, stage1.safetensors, stage2.safetensors ({len(names)} classes: {', '.join(names)})")


@app.command()
def predict(
    model: Path = typer.Argument(..., help="a model directory written by `seg3d train` or the recipe"),
    image: Path = typer.Argument(..., help="CT volume (.nii / .nii.gz, Hounsfield units)"),
    out: Path = typer.Option(..., help="output label map (.nii.gz); keeps the input's affine and header"),
    overlay: Optional[Path] = typer.Option(None, help="also write a PNG of orthogonal slices with the overlay"),
    dense: bool = typer.Option(False, help="run every stage-2 tile (no tile skipping; for comparison)"),
    region_threshold: Optional[float] = typer.Option(
        None, help="C2 seed: 0 = stage-1 argmax foreground (paper); tau in (0, 1) = 1 - p_background >= tau "
                   "(lower tau: larger region, higher recall). Default: the model's saved value"),
    radius: Optional[int] = typer.Option(None, help="dilation of the stage-1 foreground; default: the model's"),
    device: str = typer.Option("cpu", help="cpu or cuda"),
) -> None:
    """Segment one CT volume with a saved cascade."""
    import numpy as np

    from .cascade import Cascade
    from .data import load_nifti, save_like
    from .viz import save_overlay_png

    net = Cascade.load(model, device=device)
    if region_threshold is not None:
        if not 0.0 <= region_threshold < 1.0:
            raise ConfigError(f"--region-threshold {region_threshold}: choose 0 or a probability in (0, 1)")
        net.cfg.region_threshold = float(region_threshold)
    if radius is not None:
        if radius < 0:
            raise ConfigError(f"--radius {radius}: choose a dilation >= 0")
        net.cfg.radius = int(radius)
    hu, img = load_nifti(image)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        labels, info = net.predict(hu, skip_tiles=not dense)
    for w in caught:
        typer.echo(f"warning: {w.message}", err=True)
    save_like(labels, img, out)
    if overlay is not None:
        save_overlay_png(hu, labels, overlay, class_names=net.cfg.class_names)
    counts = np.bincount(labels.ravel(), minlength=net.cfg.n_classes)
    summary = {k: (round(v, 3) if isinstance(v, float) else v) for k, v in info.items() if k != "warnings"}
    typer.echo(f"wrote {out}: " + ", ".join(f"{n or i}={int(c)}" for i, (n, c) in
                                            enumerate(zip(net.cfg.class_names or [""] * len(counts), counts)) if i))
    typer.echo(json.dumps(summary))


@app.command("overlay")
def overlay_cmd(
    image: Path = typer.Argument(..., help="CT volume (.nii/.nii.gz)"),
    labels: Path = typer.Argument(..., help="label map on the same grid"),
    out: Path = typer.Option(Path("overlay.png"), help="PNG to write"),
) -> None:
    """A PNG of orthogonal slices (axial, coronal, sagittal) with the label overlay."""
    from .data import load_pair
    from .viz import save_overlay_png

    hu, y, _ = load_pair(image, labels)
    save_overlay_png(hu, y, out)
    typer.echo(f"wrote {out}")


@app.command()
def phantom(
    out: Path = typer.Argument(..., help="folder to write imagesTr/, labelsTr/, dataset.json"),
    n: int = typer.Option(8, help="number of volumes"),
    size: int = typer.Option(96, help="voxels per axis"),
    setting: str = typer.Option("A", help="A (training hospital) or B (another hospital)"),
    seed: int = typer.Option(0),
) -> None:
    """Write GENERATED phantom CTs (HU) with labels as a Decathlon-style dataset."""
    from .data import write_decathlon
    from .phantom import ORGANS, SETTINGS, make_phantoms

    if setting not in SETTINGS:
        raise ConfigError(f"--setting {setting!r}: choose one of {', '.join(SETTINGS)}")
    if size < 16:
        raise ConfigError(f"--size {size}: use at least 16 voxels per axis")
    write_decathlon(out, make_phantoms(n, (size,) * 3, setting, seed), ORGANS, prefix=f"phantom{setting}")
    typer.echo(f"wrote {n} generated phantom volumes (setting {setting}, {size}^3) to {out}")
