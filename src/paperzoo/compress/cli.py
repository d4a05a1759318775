"""``paperzoo compress``: prune, quantize and measure a safetensors checkpoint of any registered model.

Examples::

    paperzoo compress size  model.safetensors --model compress_lm --arg vocab=104 --arg depth=4 --arg width=128
    paperzoo compress prune model.safetensors --model compress_lm --arg vocab=104 --sparsity 0.6 --out p.safetensors
    paperzoo compress quantize p.safetensors --model compress_lm --arg vocab=104 --bits 4 --packed --out q.safetensors

Checkpoints are read and written with safetensors only (no pickle). ``prune`` writes the folded
weights (zeros in place) unless ``--keep-masks``; a checkpoint with masks/quantizers is recognised
on load (its ``parametrizations`` keys) and rebuilt before loading.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import torch
import typer

from ..engine import load_weights, save_weights
from ..errors import CheckpointError, ConfigError
from ..registry import create_model
from .metrics import model_size
from .prune import fold_, prune_, target_weights
from .quantize import quantize_symmetric, quantize_weights_

app = typer.Typer(no_args_is_help=True, help="Compress a checkpoint: magnitude pruning, k-bit quantization, size "
                  "(Li et al. 2020, 'Train Large, Then Compress').")


def _value(text: str):
    t = text.strip()
    if t.lower() in ("true", "false"):
        return t.lower() == "true"
    for cast in (int, float):
        try:
            return cast(t)
        except ValueError:
            pass
    return t


def _build(model: str, args: list[str] | None):
    kw = {}
    for a in args or []:
        if "=" not in a:
            raise ConfigError(f"--arg {a!r}: expected key=value, e.g. --arg width=128")
        k, v = a.split("=", 1)
        kw[k.strip()] = _value(v)
    try:
        return create_model(model, **kw)
    except TypeError as e:
        raise ConfigError(f"model {model!r} does not accept these --arg values ({e})") from None


def load_compressed(m: torch.nn.Module, path: Path) -> torch.nn.Module:
    """Load a checkpoint that may hold pruning masks / fake quantizers (rebuilt from its keys)."""
    from safetensors import SafetensorError, safe_open

    if not Path(path).is_file():
        raise CheckpointError(f"checkpoint {path} does not exist; pass a .safetensors file")
    try:
        with safe_open(str(path), "pt") as f:
            keys = list(f.keys())
    except (SafetensorError, OSError) as e:
        raise CheckpointError(f"{path} is not a safetensors file ({str(e).splitlines()[0][:120]})") from None
    for ref in target_weights(m):  # rebuild exactly the parametrizations the checkpoint has, in its order
        mname, n = ref.name.rsplit(".", 1) if "." in ref.name else ("", ref.name)
        prefix = f"{mname}.parametrizations.{n}." if mname else f"parametrizations.{n}."
        kinds = sorted((int(k[len(prefix):].split(".")[0]), k.rsplit(".", 1)[1]) for k in keys
                       if k.startswith(prefix) and k.rsplit(".", 1)[1] in ("mask", "bits"))
        for _, kind in kinds:
            if kind == "mask":
                prune_(m, 0.0, refs=[ref])
            else:
                quantize_weights_(m, 8, refs=[ref])
    return load_weights(m, path)


def _print_size(m: torch.nn.Module, bits: int | None = None) -> None:
    r = model_size(m, bits)
    typer.echo(f"params {r.params:,}  compressible {r.compressible:,}  nonzeros {r.nonzeros:,}  "
               f"sparsity {r.sparsity:.4f}  size {r.bits / 8 / 1024:.1f} KiB (non-zeros x bits)  "
               f"compression {r.ratio:.2f}x vs fp32")


@app.command("size")
def size_cmd(checkpoint: Path, model: str = typer.Option(..., help="registered model name (`paperzoo models`)"),
             arg: Optional[List[str]] = typer.Option(None, help="model argument key=value (repeatable)"),
             bits: Optional[int] = typer.Option(None, help="count weights at this many bits")) -> None:
    """Parameters, measured sparsity (zeros counted) and size = non-zeros x bits."""
    m = load_compressed(_build(model, arg), checkpoint)
    _print_size(m, bits)


@app.command("prune")
def prune_cmd(checkpoint: Path, out: Path = typer.Option(..., help="output .safetensors"),
              model: str = typer.Option(..., help="registered model name"),
              arg: Optional[List[str]] = typer.Option(None, help="model argument key=value (repeatable)"),
              sparsity: float = typer.Option(0.5, help="fraction of weights set to zero"),
              scope: str = typer.Option("global", help="global (one threshold) or layer (per tensor)"),
              embeddings: bool = typer.Option(True, help="prune embedding matrices too"),
              keep_masks: bool = typer.Option(False, help="save the mask buffers (for fine-tuning) instead of folding")
              ) -> None:
    """One-shot magnitude pruning (Sec. 5.1); prints the measured sparsity."""
    m = load_compressed(_build(model, arg), checkpoint)
    prune_(m, sparsity, scope, embeddings)
    if not keep_masks:
        fold_(m)
    save_weights(m, out, metadata={"paperzoo.compress": json.dumps({"sparsity": sparsity, "scope": scope})})
    _print_size(m)
    typer.echo(f"wrote {out}")


@app.command("quantize")
def quantize_cmd(checkpoint: Path, out: Path = typer.Option(..., help="output .safetensors"),
                 model: str = typer.Option(..., help="registered model name"),
                 arg: Optional[List[str]] = typer.Option(None, help="model argument key=value (repeatable)"),
                 bits: int = typer.Option(8, help="weight bits: 8, 6, 4, 3 or 2"),
                 packed: bool = typer.Option(False, help="store int8 codes + per-channel scales instead of "
                                                         "dequantized fp32 weights")) -> None:
    """Symmetric per-channel k-bit weight quantization (PTQ, Sec. 5.2)."""
    m = load_compressed(_build(model, arg), checkpoint)
    quantize_weights_(m, bits)
    _print_size(m)
    fold_(m)
    if not packed:
        save_weights(m, out, metadata={"paperzoo.compress": json.dumps({"bits": bits})})
    else:
        from safetensors.torch import save_file
        tensors, done = {}, set()
        for ref in target_weights(m):
            q, scale = quantize_symmetric(ref.tensor.detach(), bits)
            tensors[f"{ref.name}.q"] = q.contiguous()
            tensors[f"{ref.name}.scale"] = scale.reshape(-1).contiguous()
            done.add(id(ref.original))
        for name, p in m.named_parameters():
            if id(p) not in done:
                tensors[name] = p.detach().contiguous()
        for name, b in m.named_buffers():
            tensors.setdefault(name, b.detach().contiguous())
        out.parent.mkdir(parents=True, exist_ok=True)
        save_file(tensors, str(out), metadata={"paperzoo.compress": json.dumps({"bits": bits, "packed": True})})
    typer.echo(f"wrote {out}")
