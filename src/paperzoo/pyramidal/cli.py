"""``paperzoo pyramidal``: inspect Pyramidal RoR / PyramidNet configurations (Zhang et al. 2017, arXiv 1710.00307).

* ``paperzoo pyramidal list`` -- the registered configurations with their parameter counts.
* ``paperzoo pyramidal summary CONFIG`` -- parameters (by part) and FLOPs of one configuration.

Training is ``paperzoo run pyramidal-ror --preset full --data-dir DIR [--set dataset=cifar100]``.
"""

from __future__ import annotations

import typer

__all__ = ["app", "summarize", "config_names"]

app = typer.Typer(no_args_is_help=True, help="Pyramidal RoR (S11): PyramidNet + RoR shortcuts + drop-path.")


def summarize(name: str, image_size: int = 32, num_classes: int = 10, in_chans: int = 3) -> dict:
    """Parameter counts (total, RoR projections) and forward FLOPs/MACs for one 1-image batch.

    FLOPs are counted by ``torch.utils.flop_counter.FlopCounterMode`` (convolutions and matmuls;
    1 multiply-add = 2 FLOPs), so BN/ReLU/pooling/adds are not included.
    """
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from ..errors import ConfigError, UnknownNameError
    from ..registry import create_model, near

    names = config_names()
    if name not in names:
        raise UnknownNameError(f"unknown model {name!r}{near(name, names)}; `paperzoo pyramidal list` shows them")
    if image_size < 4 or num_classes < 1 or in_chans < 1:
        raise ConfigError("--image-size must be >= 4 and --num-classes/--in-chans >= 1")
    m = create_model(name, num_classes=num_classes, in_chans=in_chans).eval()
    total = sum(p.numel() for p in m.parameters())
    proj = sum(p.numel() for n, p in m.named_parameters() if n.startswith(("root.", "stage_shortcuts.")))
    fc = FlopCounterMode(display=False)
    with torch.no_grad(), fc:
        m(torch.zeros(1, in_chans, image_size, image_size))
    flops = fc.get_total_flops()
    out = {"name": name, "params": total, "ror_projection_params": proj, "flops": flops, "macs": flops // 2,
           "image_size": image_size}
    if hasattr(m, "depth"):
        out.update(depth=m.depth, alpha=m.alpha, block="bottleneck" if m.bottleneck else "basic",
                   root_shortcut=m.root is not None, stage_shortcut=m.stage_shortcuts is not None,
                   drop_path_last=max((b.drop_path.p for st in m.stages for b in st), default=0.0))
    return out


def config_names() -> list[str]:
    """The registered PyramidNet / Pyramidal RoR configuration names."""
    from . import model as _model

    return sorted(n for n in dir(_model) if n.startswith(("pyramidnet", "pyramidal_ror")) and callable(getattr(_model, n)))


@app.command("summary")
def summary_cmd(
    config: str = typer.Argument(..., help="a registered configuration, e.g. pyramidal_ror110_a48"),
    image_size: int = typer.Option(32, help="input height = width"),
    num_classes: int = typer.Option(10, help="10 (CIFAR-10, SVHN) or 100 (CIFAR-100)"),
    in_chans: int = typer.Option(3),
) -> None:
    """Print parameters and FLOPs of CONFIG."""
    s = summarize(config, image_size, num_classes, in_chans)
    typer.echo(f"{s['name']}")
    for k in ("depth", "alpha", "block", "root_shortcut", "stage_shortcut", "drop_path_last"):
        if k in s:
            typer.echo(f"  {k:<22} {s[k]}")
    typer.echo(f"  {'params':<22} {s['params']:,} ({s['params'] / 1e6:.2f} M)")
    typer.echo(f"  {'RoR projection params':<22} {s['ror_projection_params']:,} "
               f"({100 * s['ror_projection_params'] / s['params']:.2f} %)")
    typer.echo(f"  {'FLOPs / image':<22} {s['flops'] / 1e9:.3f} G ({s['macs'] / 1e9:.3f} G multiply-adds) "
               f"at {s['image_size']}x{s['image_size']}")


@app.command("list")
def list_cmd() -> None:
    """Registered PyramidNet / Pyramidal RoR configurations and their parameter counts."""
    import torch

    from ..registry import create_model
    from . import model as _model

    for n in config_names():
        with torch.no_grad():
            p = sum(t.numel() for t in create_model(n).parameters())
        typer.echo(f"{n:<36} {p / 1e6:6.2f} M  {getattr(_model, n).__doc__.splitlines()[0]}")
