"""`RunContext`: what a recipe's ``run(cfg, ctx)`` gets.

It carries the run's directory, seed, data dir, resume dir and Accelerator, and collects
metrics, claims, plots, tables and notes, which `paperzoo.report` turns into
``metrics.json``, ``report.md`` and ``config.yaml``. A claim's ``holds`` must be computed
from measured numbers in the same run (never written by hand).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from accelerate import Accelerator

from ..errors import DataError
from .checkpoint import has_checkpoint
from .logging import RunLogger, progress

__all__ = ["RunContext", "Claim"]


@dataclass
class Claim:
    id: str
    text: str
    paper: Any
    ours: Any
    holds: bool | None

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "text": self.text, "paper": self.paper, "ours": self.ours, "holds": self.holds}


@dataclass
class RunContext:
    out: Path
    recipe_id: str
    preset: str
    seed: int
    accelerator: Accelerator
    data_dir: Path | None = None
    resume: Path | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    claims: list[Claim] = field(default_factory=list)
    figures: list[tuple[str, str]] = field(default_factory=list)
    tables: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    logger: RunLogger | None = None

    def __post_init__(self) -> None:
        self.out = Path(self.out)
        if self.logger is None:
            self.logger = RunLogger(self.out, enabled=self.is_main)

    # -- processes -------------------------------------------------------------------------
    @property
    def is_main(self) -> bool:
        return self.accelerator.is_main_process

    @property
    def device(self):
        return self.accelerator.device

    def print(self, *args: Any) -> None:
        self.accelerator.print(*args)

    def progress(self, iterable: Iterable | None = None, *, desc: str = "", total: int | None = None, **kw: Any):
        return progress(iterable, desc=f"{self.recipe_id}: {desc}" if desc else self.recipe_id,
                        total=total, enabled=self.is_main, **kw)

    def log(self, step: int, prefix: str = "", **scalars: float) -> None:
        self.logger.log(step, prefix, **scalars)

    # -- data and checkpoints --------------------------------------------------------------
    def require_data_dir(self, what: str) -> Path:
        """The ``--data-dir`` path, or a one-line `DataError` saying what must be there."""
        if self.data_dir is None:
            raise DataError(f"recipe {self.recipe_id} --preset {self.preset} needs --data-dir PATH with {what}")
        if not Path(self.data_dir).exists():
            raise DataError(f"--data-dir {self.data_dir} does not exist; it should hold {what}")
        return Path(self.data_dir)

    def checkpoint_dir(self, name: str) -> Path:
        """Where this run writes checkpoint ``name`` (``DIR/checkpoints/<name>``)."""
        return self.out / "checkpoints" / name

    def resume_from(self, name: str) -> Path | None:
        """The checkpoint ``name`` to resume from (``--resume DIR``), if it exists there."""
        if self.resume is None:
            return None
        for cand in (Path(self.resume) / "checkpoints" / name, Path(self.resume) / name):
            if has_checkpoint(cand):
                return cand
        return None

    # -- results ---------------------------------------------------------------------------
    def claim(self, id: str, text: str, *, paper: Any, ours: Any, holds: bool | None) -> Claim:
        if isinstance(ours, float) and not math.isfinite(ours):
            holds = False if holds is not None else None
        c = Claim(id, text, paper, ours, None if holds is None else bool(holds))
        self.claims.append(c)
        return c

    def savefig(self, fig: Any, name: str, caption: str = "") -> Path:
        """Save a matplotlib figure as ``DIR/<name>.png`` (rank 0) and list it in the report."""
        path = self.out / (name if name.endswith(".png") else f"{name}.png")
        if self.is_main:
            fig.savefig(path, dpi=120, bbox_inches="tight")
        import matplotlib.pyplot as plt
        plt.close(fig)
        self.figures.append((path.name, caption))
        return path

    def table(self, title: str, rows: list[dict[str, Any]], floatfmt: str = ".4g") -> None:
        """A Markdown table for the report from a list of dict rows."""
        if not rows:
            return
        cols = list(rows[0])
        def fmt(v: Any) -> str:
            if isinstance(v, float):
                return format(v, floatfmt)
            return str(v)
        lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
        lines += ["| " + " | ".join(fmt(r.get(c, "")) for c in cols) + " |" for r in rows]
        self.tables.append((title, "\n".join(lines)))

    def note(self, text: str) -> None:
        """A paragraph for the report: deviations from the paper, caveats, what the numbers mean."""
        self.notes.append(text)
