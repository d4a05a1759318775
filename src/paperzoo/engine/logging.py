"""Run logging: CSV + TensorBoard scalars, and progress bars. Rank 0 alone writes."""

from __future__ import annotations

import csv
import os
import sys
from pathlib import Path
from typing import Any, Iterable

from tqdm.auto import tqdm

__all__ = ["RunLogger", "progress"]


def progress(iterable: Iterable | None = None, *, desc: str = "", total: int | None = None,
             enabled: bool = True, leave: bool = False, **kw: Any) -> tqdm:
    """A tqdm bar; silent on non-main ranks or when ``PAPERZOO_NO_PROGRESS=1``."""
    disable = (not enabled) or os.environ.get("PAPERZOO_NO_PROGRESS") == "1"
    return tqdm(iterable, desc=desc, total=total, disable=disable, leave=leave, dynamic_ncols=True,
                file=sys.stderr, mininterval=1.0, **kw)


class RunLogger:
    """Scalars to ``DIR/log.csv`` (tag, step, value) and ``DIR/tensorboard/``."""

    def __init__(self, out: str | Path, enabled: bool = True, tensorboard: bool = True):
        self.enabled = enabled
        self.out = Path(out)
        self._csv = None
        self._writer = None
        self._tb = None
        if enabled:
            self.out.mkdir(parents=True, exist_ok=True)
            self._csv = open(self.out / "log.csv", "a", newline="", encoding="utf-8")
            self._writer = csv.writer(self._csv)
            if self._csv.tell() == 0:
                self._writer.writerow(["tag", "step", "value"])
            if tensorboard:
                try:
                    from torch.utils.tensorboard import SummaryWriter
                    self._tb = SummaryWriter(str(self.out / "tensorboard"))
                except Exception:  # tensorboard missing: CSV still has everything
                    self._tb = None

    def log(self, step: int, prefix: str = "", **scalars: float) -> None:
        if not self.enabled:
            return
        for k, v in scalars.items():
            tag = f"{prefix}/{k}" if prefix else k
            self._writer.writerow([tag, int(step), float(v)])
            if self._tb is not None:
                self._tb.add_scalar(tag, float(v), int(step))

    def close(self) -> None:
        if self._csv is not None:
            self._csv.close()
            self._csv = None
        if self._tb is not None:
            self._tb.close()
            self._tb = None
