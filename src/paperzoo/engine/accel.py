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
from accelerate.state import AcceleratorState
from accelerate.utils import DataLoaderConfiguration, DistributedType

from ..errors import ConfigError

__all__ = ["make_accelerator", "reduce_mean", "device_name", "wait_for_everyone"]


def make_accelerator(device: str = "auto", mixed_precision: str = "no") -> Accelerator:
    """``device`` in {auto, cpu, cuda}; ``auto`` picks CUDA when present.

    ``split_batches=True`` keeps the batch size a recipe sets the *global* batch, so a
    2-process run sees the same batches (split in halves) as a 1-process run.
    """
    if device not in ("auto", "cpu", "cuda"):
        raise ConfigError(f"--device must be auto, cpu or cuda, got {device!r}")
    cpu = device == "cpu" or (device == "auto" and not torch.cuda.is_available())
    if cpu:
        mixed_precision = "no"
    local_rank, gpus = int(os.environ.get("LOCAL_RANK", "0")), torch.cuda.device_count()
    if not cpu and gpus == 0:
        raise ConfigError("--device cuda, but PyTorch sees no GPU (torch.cuda.is_available() is False): "
                          "pass --device auto or --device cpu")
    if not cpu and local_rank >= gpus:  # Accelerate would place this process on a GPU that does not exist
        raise ConfigError(f"this process has LOCAL_RANK {local_rank} but the machine has {gpus} GPU(s): launch at "
                          f"most {gpus} process(es) per node (--nproc_per_node {max(gpus, 1)}), or pass --device cpu")
    _forget_other_device(cpu, mixed_precision)
    return Accelerator(cpu=cpu, mixed_precision=mixed_precision,
                       dataloader_config=DataLoaderConfiguration(split_batches=True))


def _forget_other_device(cpu: bool, mixed_precision: str) -> None:
    """Accelerate keeps one device and precision per process, shared by every ``Accelerator``: a second one
    asking for CPU after CUDA raises, and one asking for CUDA after CPU silently stays on the CPU. One process
    may rightly ask for both (a notebook or a test session running several recipes on a GPU machine, some
    pinned to the CPU), so a single-process state built for another device or precision is dropped first.
    Under torchrun / ``accelerate launch`` (several processes) the state holds the process group: left alone."""
    state = AcceleratorState._shared_state
    if state.get("device") is None or state.get("num_processes", 1) > 1:
        return
    if (state["device"].type == "cpu") != cpu or state.get("_mixed_precision", "no") != mixed_precision:
        AcceleratorState._reset_state(reset_partial_state=True)


def wait_for_everyone(accelerator: Accelerator) -> None:
    """``accelerator.wait_for_everyone()``, except on MULTI_CPU: there Accelerate's barrier passes
    ``device_ids=[local rank]``, which PyTorch resolves to ``cuda:<local rank>`` on any machine with a GPU, so
    a gloo run of more processes than GPUs dies with "invalid device ordinal" (seen on a 1-GPU machine with
    ``torchrun --nproc_per_node 2 ... --device cpu``). gloo's barrier needs no device."""
    if accelerator.distributed_type == DistributedType.MULTI_CPU:
        torch.distributed.barrier()
    else:
        accelerator.wait_for_everyone()


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
