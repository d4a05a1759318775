"""``paperzoo snn``: train an ANN (optionally with TCL) and convert it to a spiking network.

Ho & Chang, "TCL: an ANN-to-SNN Conversion with Trainable Clipping Layers", DAC 2021,
arXiv 2008.04509.

    paperzoo snn train --model snn_mlp --data digits --tcl --out ann/
    paperzoo snn convert --checkpoint ann/ann.safetensors --model snn_mlp --method tcl \\
        --calib-data digits --timesteps 4,8,16,32 --out snn/

A checkpoint is a safetensors file; ``ann.json`` beside it (written by ``train``) gives the model's
constructor arguments, otherwise they are inferred from the data. Clip layers are detected from
the checkpoint's ``*.lam`` tensors.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from ..errors import CheckpointError, ConfigError

app = typer.Typer(no_args_is_help=True, help="ANN-to-SNN conversion with trainable clipping layers (TCL, S1).")


def _model_args(items: list[str] | None) -> dict:
    out = {}
    for it in items or []:
        if "=" not in it:
            raise ConfigError(f"--model-arg {it!r}: expected key=value, e.g. --model-arg width=16")
        k, v = it.split("=", 1)
        try:
            out[k.strip()] = json.loads(v)
        except json.JSONDecodeError:
            out[k.strip()] = v
    return out


@app.command("train")
def train_cmd(
    model: str = typer.Option("snn_mlp", help="registered model name (`paperzoo models`)"),
    data: str = typer.Option("digits", help="digits, a CIFAR folder or an image folder root/<class>/<img>"),
    out: Path = typer.Option(Path("runs/snn-ann"), help="output folder: ann.safetensors + ann.json"),
    tcl: bool = typer.Option(True, help="insert trainable clipping layers after every ReLU (Eq. 9)"),
    alpha: float = typer.Option(5e-3, help="L2 coefficient α on λ (Eq. 11)"),
    clip_init: float = typer.Option(2.0, help="initial λ"),
    per_channel: bool = typer.Option(False, help="one λ per channel"),
    epochs: int = typer.Option(30), batch_size: int = typer.Option(64), lr: float = typer.Option(3e-3),
    optimizer: str = typer.Option("adam", help="adam or sgd"), weight_decay: float = typer.Option(1e-4),
    image_size: int = typer.Option(224, help="image-folder data: resize to this size"),
    model_arg: Optional[list[str]] = typer.Option(None, help="extra constructor argument key=value (repeatable)"),
    seed: int = typer.Option(0),
) -> None:
    """Train an ANN (with TCL by default) and save it as safetensors + JSON."""
    import torch

    from ..engine import atomic_write_json, save_weights
    from ..registry import create_model
    from .data import dataset_info, load_dataset
    from .model import clip_layers, insert_clips
    from .recipe import ann_accuracy, model_kwargs, train_ann

    if epochs <= 0:
        raise ConfigError(f"--epochs must be >= 1, got {epochs}")
    info = dataset_info(data, image_size)
    tr, te = load_dataset(data, "train", image_size, seed), load_dataset(data, "test", image_size, seed)
    kw = {**model_kwargs(model, info, tuple(tr[0][0].shape)), **_model_args(model_arg)}
    torch.manual_seed(seed)
    net = create_model(model, **kw)
    if tcl:
        insert_clips(net, clip_init, alpha, per_channel)
    net = train_ann(net, tr, epochs=epochs, batch_size=batch_size, lr=lr, optimizer=optimizer,
                    weight_decay=weight_decay, seed=seed).eval()
    acc = ann_accuracy(net, te)
    save_weights(net, out / "ann.safetensors")
    atomic_write_json(out / "ann.json", {
        "format": "paperzoo-snn-ann/1", "model": model, "model_kwargs": kw, "data": data, "test_acc": acc,
        "clips": {"per_channel": per_channel, "alpha": alpha, "lambda": [c.lam.tolist() for _, c in clip_layers(net)]}
        if tcl else None})
    typer.echo(f"ANN test accuracy {acc:.2f} %; wrote {out}/ann.safetensors and ann.json")


@app.command("convert")
def convert_cmd(
    checkpoint: Path = typer.Option(..., help="the ANN's .safetensors file"),
    model: Optional[str] = typer.Option(None, help="registered model name (default: from ann.json beside it)"),
    method: str = typer.Option("tcl", help="tcl | max | p99.9 (or any pNN.N)"),
    calib_data: str = typer.Option("digits", help="calibration data: digits, a CIFAR folder or an image folder"),
    data: Optional[str] = typer.Option(None, help="evaluation data (default: the test split of --calib-data)"),
    timesteps: str = typer.Option("8,16,32,64,128,256", help="comma-separated T values, each >= 1"),
    calib_batches: int = typer.Option(10, help="calibration batches (max / percentile)"),
    batch_size: int = typer.Option(128), limit: int = typer.Option(0, help="evaluate at most N images (0: all)"),
    reset: str = typer.Option("subtract", help="subtract (the paper's) or zero"),
    image_size: int = typer.Option(224), model_arg: Optional[list[str]] = typer.Option(None),
    out: Optional[Path] = typer.Option(None, help="write snn.safetensors + snn.json here"),
    device: str = typer.Option("cpu", help="cpu or cuda"),
) -> None:
    """Convert an ANN checkpoint to an SNN and print its accuracy-latency table."""
    from safetensors import safe_open

    from ..engine import load_weights
    from ..registry import create_model
    from .convert import METHODS, _percentile, convert
    from .data import batches, calibration_batches, dataset_info, load_dataset
    from .model import insert_clips
    from .recipe import ann_accuracy, model_kwargs
    from .simulate import ann_macs, evaluate, parse_timesteps, save_snn

    ts = parse_timesteps(timesteps)
    if method not in METHODS:
        _percentile(method)
    if not checkpoint.is_file():
        raise CheckpointError(f"checkpoint {checkpoint} does not exist; pass the .safetensors file of a trained ANN")
    side = checkpoint.with_suffix(".json")
    saved = json.loads(side.read_text()) if side.is_file() else {}
    model = model or saved.get("model")
    if not model:
        raise ConfigError(f"--model is required ({side} with the model name is missing)")
    try:
        with safe_open(str(checkpoint), "pt") as f:
            lam_keys = {k: f.get_slice(k).get_shape() for k in f.keys() if k.endswith("lam")}
    except Exception as e:  # safetensors raises its own error types on a bad header
        raise CheckpointError(f"checkpoint {checkpoint} is not a safetensors file ({str(e)[:120]})") from None
    eval_spec = data or calib_data
    info = dataset_info(calib_data, image_size)
    calib_ds = load_dataset(calib_data, "train", image_size)
    kw = saved.get("model_kwargs") if saved.get("model") == model else None
    kw = {**(kw or model_kwargs(model, info, tuple(calib_ds[0][0].shape))), **_model_args(model_arg)}
    ann = create_model(model, **kw)
    if lam_keys:
        insert_clips(ann, per_channel=any(int(s[0]) > 1 for s in lam_keys.values()))
    load_weights(ann, checkpoint)
    ann.eval()
    test_ds = load_dataset(eval_spec, "test", image_size)
    calib = calibration_batches(calib_ds, batch_size, calib_batches) if method != "tcl" else None
    snn = convert(ann, method, calib=calib, reset=reset)
    acc_ann = ann_accuracy(ann, test_ds, batch_size, limit)
    r = evaluate(snn, batches(test_ds, batch_size, limit), ts, device=device)
    macs = ann_macs(ann, calib_ds[0][0].unsqueeze(0))
    typer.echo(f"{model} ({method}, reset by {reset}) on {r['n']} images; ANN accuracy {acc_ann:.2f} %, "
               f"{macs:.3g} MACs/image")
    typer.echo(f"{'T':>6} {'SNN acc %':>10} {'SOPs/img':>12} {'SOPs/MACs':>10}")
    for t, a, s in zip(r["timesteps"], r["acc"], r["sops"]):
        typer.echo(f"{t:>6} {a:>10.2f} {s:>12.4g} {s / macs:>10.3f}")
    if out is not None:
        save_snn(snn.cpu(), out, {"model": model, "model_kwargs": kw, "checkpoint": str(checkpoint),
                                  "clips": {"per_channel": any(int(s[0]) > 1 for s in lam_keys.values())}
                                  if lam_keys else None,
                                  "ann_acc": acc_ann, "ann_macs": macs, "results": r})
        typer.echo(f"wrote {out}/snn.safetensors and snn.json")
