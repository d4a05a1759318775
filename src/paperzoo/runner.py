"""`run_recipe` (``paperzoo run``) and `reproduce` (``paperzoo reproduce``)."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

from .config import build_config, config_to_dict
from .engine import RunContext, device_name, make_accelerator, seed_everything, wait_for_everyone
from .errors import DataError
from .registry import SYSTEMS, UnknownNameError, get_recipe
from .report import read_metrics, write_index, write_run

__all__ = ["run_recipe", "reproduce"]


def run_recipe(id: str, preset: str = "quick", out: str | Path | None = None, *, seed: int = 0,
               data_dir: str | Path | None = None, sets: list[str] | tuple[str, ...] = (),
               resume: str | Path | None = None, device: str = "auto") -> dict:
    """Run one recipe and write its directory; returns the metrics dict."""
    spec = get_recipe(id)
    cfg = build_config(spec.config, spec.presets, preset, sets)
    if data_dir is not None and not Path(data_dir).exists():
        raise DataError(f"--data-dir {data_dir} does not exist")
    if preset in spec.needs_data_dir and data_dir is None:
        raise DataError(f"recipe {id} --preset {preset} needs --data-dir PATH (the paper's data; see `paperzoo list` "
                        f"and docs); use --preset quick for the embedded data")
    if resume is not None and not Path(resume).is_dir():
        raise DataError(f"--resume {resume} is not a directory; pass the --out directory of an earlier run")
    out = Path(out or f"runs/{id}-{preset}")
    accelerator = make_accelerator(device)
    if accelerator.is_main_process:
        out.mkdir(parents=True, exist_ok=True)
        (out / "metrics.json").unlink(missing_ok=True)  # a rerun is unfinished until it writes this again
    wait_for_everyone(accelerator)
    seed_everything(seed)
    ctx = RunContext(out=out, recipe_id=id, preset=preset, seed=seed, accelerator=accelerator,
                     data_dir=Path(data_dir) if data_dir else None, resume=Path(resume) if resume else None)
    t0 = time.perf_counter()
    try:
        spec.fn(cfg, ctx)
    finally:
        ctx.logger.close()
    meta = {"recipe": id, "paper": SYSTEMS[id].paper_id, "preset": preset, "seed": seed,
            "wall_time_s": round(time.perf_counter() - t0, 2), "device": device_name(accelerator),
            "processes": accelerator.num_processes, "status": "done",
            "command": "paperzoo " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[1:] else f"run {id}"}
    ctx.metrics.setdefault("wall_time_s", meta["wall_time_s"])
    write_run(ctx, config_to_dict(cfg), meta)
    wait_for_everyone(accelerator)
    return {**ctx.metrics, "claims": [c.as_dict() for c in ctx.claims], "_meta": meta}


def reproduce(ids: list[str] | None, preset: str, out: str | Path, *, seed: int = 0,
              rerun: bool = False) -> list[dict]:
    """Run several recipes, each in its own process, writing ``index.md``/``index.html`` after each.

    A recipe whose ``DIR/<id>/metrics.json`` already exists for this preset is not run again
    (an interrupted reproduce resumes where it stopped) unless ``rerun``.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    ids = list(ids) if ids else list(SYSTEMS)
    for i in ids:
        if i not in SYSTEMS:
            get_recipe(i)  # raises the one-line unknown-name error
    rows: list[dict] = []
    for i in ids:
        try:
            get_recipe(i)
            rows.append({"id": i, "status": "pending"})
        except UnknownNameError:
            rows.append({"id": i, "status": "not implemented"})
    write_index(out, rows, preset)
    todo = [r for r in rows if r["status"] == "pending"]
    for n, r in enumerate(todo, 1):
        d = out / r["id"]
        m = read_metrics(d)
        if m and not rerun and m.get("_meta", {}).get("preset") == preset and m.get("_meta", {}).get("status") == "done":
            print(f"[{n}/{len(todo)}] {r['id']}: already done in {d}, skipping (--rerun to run again)", flush=True)
            r.update(status="done", metrics=m)
            continue
        print(f"[{n}/{len(todo)}] {r['id']}: running preset {preset} -> {d}", flush=True)
        t0 = time.perf_counter()
        cmd = [sys.executable, "-m", "paperzoo", "run", r["id"], "--preset", preset, "--out", str(d),
               "--seed", str(seed)]
        proc = subprocess.run(cmd, env=os.environ.copy(), stderr=subprocess.PIPE, text=True)
        m = read_metrics(d)
        if proc.returncode == 0 and m:
            r.update(status="done", metrics=m)
            print(f"[{n}/{len(todo)}] {r['id']}: done in {time.perf_counter() - t0:.0f} s", flush=True)
        else:
            err = (proc.stderr or "").strip().splitlines()
            r.update(status="failed", error=(err[-1] if err else f"exit code {proc.returncode}")[:300])
            (d).mkdir(parents=True, exist_ok=True)
            (d / "stderr.txt").write_text(proc.stderr or "", encoding="utf-8")
            print(f"[{n}/{len(todo)}] {r['id']}: FAILED ({r['error']}); log in {d / 'stderr.txt'}", flush=True)
        write_index(out, rows, preset)
    write_index(out, rows, preset)
    print(f"index: {out / 'index.html'}", flush=True)
    return rows

