"""The shared engine: Accelerate glue, seeding, schedules, checkpoints, logging, run context.

A recipe's loop stays visible (STYLE.md rule 8); it calls these few pieces.
"""

from .accel import device_name, make_accelerator, reduce_mean, wait_for_everyone
from .checkpoint import (
    atomic_write_json,
    atomic_write_text,
    has_checkpoint,
    load_checkpoint,
    load_weights,
    save_checkpoint,
    save_weights,
    unwrap,
)
from .context import Claim, RunContext
from .logging import RunLogger, progress
from .schedules import clip_grad_norm, make_scheduler, warmup_cosine, warmup_inverse_sqrt, warmup_linear
from .seed import seed_everything, set_deterministic

__all__ = [
    "make_accelerator", "reduce_mean", "device_name", "wait_for_everyone",
    "atomic_write_json", "atomic_write_text", "save_weights", "load_weights",
    "save_checkpoint", "load_checkpoint", "has_checkpoint", "unwrap",
    "RunContext", "Claim", "RunLogger", "progress",
    "make_scheduler", "warmup_inverse_sqrt", "warmup_cosine", "warmup_linear", "clip_grad_norm",
    "seed_everything", "set_deterministic",
]
