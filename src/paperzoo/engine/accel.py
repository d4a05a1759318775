"""HF Accelerate glue: one `Accelerator` per process; the recipe keeps its own loop.

The engine is these calls (Accelerate's examples): ``accelerator.prepare(...)``,
``accelerator.backward(loss)``, ``accelerator.gather_for_metrics(x)`` / `reduce_mean`, and
rank-0-only writes (``ctx.is_main``). The same recipe runs single-process on CPU or CUDA and
multi-process under ``torchrun --nproc_per_node N -m paperzoo run ...`` or ``accelerate launch``.
"""

from __future__ import annotations

import os

import torch
from accelerate import Accelerator
from accelerate.utils import DataLoaderConfiguration

__all__ = ["make_accelerator", "reduce_mean", "device_name"]


def make_accelerator(device: str = "auto", mixed_precision: str = "no") -> Accelerator:
    """``device`` in {auto, cpu, cuda}; ``auto`` picks CUDA when present.

    ``split_batches=True`` keeps the batch size a recipe sets the *global* batch, so a
    2-process run sees the same batches (split in halves) as a 1-process run.
    """
    cpu = device == "cpu" or (device == "auto" and not torch.cuda.is_available())
    if cpu:
        mixed_precision = "no"
    return Accelerator(cpu=cpu, mixed_precision=mixed_precision,
                       dataloader_config=DataLoaderConfiguration(split_batches=True))


def reduce_mean(accelerator: Accelerator, value: float | torch.Tensor) -> float:
    """Mean of a scalar over ranks (a no-op in one process)."""
    t = torch.as_tensor(value, dtype=torch.float64, device=accelerator.device).reshape(1)
    if accelerator.num_processes > 1:
        t = accelerator.reduce(t, reduction="mean")
    return float(t.item())


def device_name(accelerator: Accelerator) -> str:
    d = accelerator.device
    if d.type == "cuda":
        return torch.cuda.get_device_name(d)
    return f"cpu ({os.cpu_count()} cores, {torch.get_num_threads()} threads) x {accelerator.num_processes} process(es)"
