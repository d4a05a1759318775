"""Checkpoints that lose nothing and never unpickle.

A checkpoint is a directory::

    model.safetensors       weights (shared/tied tensors handled by safetensors.torch.save_model)
    optimizer.safetensors   every tensor of optimizer.state_dict()["state"], keyed "state.<idx>.<name>"
    rng.safetensors         torch CPU (and CUDA) generator states
    state.json              step, optimizer param_groups and scalar state, scheduler state,
                            Python/NumPy RNG states, and the caller's ``extra`` dict

Everything is written into a temporary sibling directory and renamed into place, so a crash
leaves either the old checkpoint or the new one, never half of one. Loading reads only
safetensors and JSON, so a checkpoint from a stranger cannot execute code.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from safetensors.torch import load_model as _st_load_model
from safetensors.torch import save_model as _st_save_model

from ..errors import CheckpointError

__all__ = [
    "atomic_write_text", "atomic_write_json", "save_weights", "load_weights",
    "save_checkpoint", "load_checkpoint", "has_checkpoint", "unwrap",
]


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The bare module under DDP/compile wrappers."""
    while hasattr(model, "module"):
        model = model.module
    return getattr(model, "_orig_mod", model)


def atomic_write_text(path: str | Path, text: str) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_json(path: str | Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n")


def _json_default(o: Any) -> Any:
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, torch.Tensor) and o.numel() == 1:
        return o.item()
    if isinstance(o, (tuple, set)):
        return list(o)
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"{type(o).__name__} is not JSON-serialisable")


def save_weights(model: torch.nn.Module, path: str | Path, metadata: dict[str, str] | None = None) -> None:
    """Weights of ``model`` to a safetensors file, atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        _st_save_model(unwrap(model), tmp, metadata=metadata)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_weights(model: torch.nn.Module, path: str | Path, strict: bool = True) -> torch.nn.Module:
    """Load safetensors weights into ``model``; a missing, corrupt or mismatched file is a `CheckpointError`."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist; pass the .safetensors file a run wrote")
    try:
        missing, unexpected = _st_load_model(unwrap(model), str(path), strict=False)
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"checkpoint {path} is corrupt or not a safetensors file ({_first_line(e)})") from None
    except RuntimeError as e:  # shape mismatch
        raise CheckpointError(f"checkpoint {path} does not match the model: {_first_line(e)}") from None
    if strict and (missing or unexpected):
        raise CheckpointError(
            f"checkpoint {path} does not match the model: missing {sorted(missing)[:3]}, "
            f"unexpected {sorted(unexpected)[:3]}; build the model with the config it was trained with")
    return model


def _first_line(e: BaseException) -> str:
    s = str(e).strip().splitlines()
    return s[0][:200] if s else type(e).__name__


def _split_optimizer_state(sd: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for idx, st in sd["state"].items():
        for k, v in st.items():
            if isinstance(v, torch.Tensor):
                tensors[f"state.{idx}.{k}"] = v.detach().cpu().contiguous()
            else:
                scalars.setdefault(str(idx), {})[k] = v
    return tensors, {"param_groups": sd["param_groups"], "scalars": scalars}


def _join_optimizer_state(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    for key, v in tensors.items():
        _, idx, name = key.split(".", 2)
        state.setdefault(int(idx), {})[name] = v
    for idx, d in meta.get("scalars", {}).items():
        state.setdefault(int(idx), {}).update(d)
    groups = meta["param_groups"]
    for g in groups:
        if "betas" in g and isinstance(g["betas"], list):
            g["betas"] = tuple(g["betas"])
    return {"state": state, "param_groups": groups}


def _rng_state() -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    tensors = {"torch_cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"torch_cuda_{i}"] = s
    np_state = np.random.get_state()
    py_state = random.getstate()
    return tensors, {
        "numpy": [np_state[0], np_state[1].tolist(), int(np_state[2]), int(np_state[3]), float(np_state[4])],
        "python": [py_state[0], list(py_state[1]), py_state[2]],
    }


def _set_rng_state(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    torch.set_rng_state(tensors["torch_cpu"])
    if torch.cuda.is_available():
        cuda = [tensors[k] for k in sorted(tensors) if k.startswith("torch_cuda_")]
        if cuda:
            torch.cuda.set_rng_state_all(cuda)
    n = meta["numpy"]
    np.random.set_state((n[0], np.asarray(n[1], dtype=np.uint32), n[2], n[3], n[4]))
    p = meta["python"]
    random.setstate((p[0], tuple(p[1]), p[2]))


def save_checkpoint(directory: str | Path, *, model: torch.nn.Module, optimizer: torch.optim.Optimizer | None = None,
                    scheduler: Any = None, step: int = 0, extra: dict[str, Any] | None = None) -> Path:
    """Write a checkpoint directory atomically (temp dir + rename). Returns its path."""
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=directory.parent, prefix=f".{directory.name}.tmp-"))
    try:
        _st_save_model(unwrap(model), str(tmp / "model.safetensors"))
        state: dict[str, Any] = {"format": "paperzoo-checkpoint/1", "step": int(step), "extra": extra or {}}
        if optimizer is not None:
            tensors, meta = _split_optimizer_state(optimizer.state_dict())
            save_file(tensors, str(tmp / "optimizer.safetensors"))
            state["optimizer"] = meta
        if scheduler is not None:
            state["scheduler"] = scheduler.state_dict()  # LambdaLR stores its functions as None
        rng_t, rng_meta = _rng_state()
        save_file(rng_t, str(tmp / "rng.safetensors"))
        state["rng"] = rng_meta
        with open(tmp / "state.json", "w", encoding="utf-8") as f:
            json.dump(state, f, default=_json_default)
            f.flush()
            os.fsync(f.fileno())
        old = None
        if directory.exists():
            old = directory.with_name(f".{directory.name}.old-{os.getpid()}")
            os.replace(directory, old)
        os.replace(tmp, directory)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return directory


def has_checkpoint(directory: str | Path | None) -> bool:
    return directory is not None and (Path(directory) / "state.json").is_file()


def load_checkpoint(directory: str | Path, *, model: torch.nn.Module, optimizer: torch.optim.Optimizer | None = None,
                    scheduler: Any = None, restore_rng: bool = True) -> dict[str, Any]:
    """Restore what `save_checkpoint` wrote; returns ``{"step": int, "extra": dict}``."""
    directory = Path(directory)
    if not has_checkpoint(directory):
        raise CheckpointError(f"no checkpoint in {directory} (state.json missing); pass a directory a run wrote")
    try:
        state = json.loads((directory / "state.json").read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"checkpoint {directory}/state.json is corrupt ({_first_line(e)})") from None
    load_weights(model, directory / "model.safetensors")
    try:
        if optimizer is not None and "optimizer" in state:
            tensors = load_file(str(directory / "optimizer.safetensors"))
            optimizer.load_state_dict(_join_optimizer_state(tensors, state["optimizer"]))
        if scheduler is not None and "scheduler" in state:
            scheduler.load_state_dict(state["scheduler"])
        if restore_rng and "rng" in state:
            _set_rng_state(load_file(str(directory / "rng.safetensors")), state["rng"])
    except (SafetensorError, OSError, KeyError, ValueError) as e:
        raise CheckpointError(f"checkpoint {directory} is corrupt or incomplete ({_first_line(e)})") from None
    return {"step": int(state.get("step", 0)), "extra": state.get("extra", {})}
