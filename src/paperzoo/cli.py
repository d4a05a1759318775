"""The ``paperzoo`` command line (typer).

Core commands: ``list``, ``models``, ``run``, ``reproduce``. Each system may add its own
sub-command group in ``paperzoo/<pkg>/cli.py`` as a ``typer.Typer`` named ``app``; the table
``SUBCOMMANDS`` below mounts them (``paperzoo g2p ...``, ``paperzoo snn convert ...``).
Every `PaperzooError` becomes ``error: <one line>`` on stderr and exit code 2.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import List, Optional

import typer

from .errors import PaperzooError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="paperzoo: eleven deep-learning papers, one library. `paperzoo list` to start.")

# (command name, module with a typer `app`) -- mounted when the module exists.
SUBCOMMANDS: list[tuple[str, str]] = [
    ("snn", "paperzoo.snn.cli"),
    ("widethin", "paperzoo.widethin.cli"),
    ("compress", "paperzoo.compress.cli"),
    ("g2p", "paperzoo.g2p.cli"),
    ("chat", "paperzoo.dialogue.cli"),
    ("hash", "paperzoo.hashing.cli"),
    ("retrieval", "paperzoo.retrieval.cli"),
    ("netclass", "paperzoo.netclass.cli"),
    ("seg3d", "paperzoo.seg3d.cli"),
    ("pyramidal", "paperzoo.pyramidal.cli"),
    ("serve", "paperzoo.serve.cli"),
]


@app.command("list")
def list_cmd() -> None:
    """Recipes (one per paper) with their paper and status."""
    from .registry import list_recipes
    for s, ok in list_recipes():
        status = "ready" if ok else "not yet implemented"
        typer.echo(f"{s.paper_id:<4} {s.id:<15} {status:<20} {s.title} ({s.year})")


@app.command("models")
def models_cmd(pattern: str = typer.Argument("*", help="glob, e.g. 'resnet*'")) -> None:
    """Registered model names (for `create_model`)."""
    from .registry import list_models
    for n in list_models(pattern):
        typer.echo(n)


@app.command("run")
def run_cmd(
    id: str = typer.Argument(..., help="recipe id, e.g. preln (see `paperzoo list`)"),
    preset: str = typer.Option("quick", help="quick (embedded data, CPU minutes) or full (paper's setting)"),
    out: Optional[Path] = typer.Option(None, help="output directory (default runs/ID-PRESET)"),
    seed: int = typer.Option(0, help="base seed"),
    data_dir: Optional[Path] = typer.Option(None, help="the paper's data, for --preset full"),
    set_: Optional[List[str]] = typer.Option(None, "--set", help="override a config field: key=value (repeatable)"),
    resume: Optional[Path] = typer.Option(None, help="an earlier run's --out directory to continue from"),
    device: str = typer.Option("auto", help="auto, cpu or cuda"),
) -> None:
    """Run one recipe: writes DIR/metrics.json, report.md, config.yaml, plots, logs, checkpoints."""
    from .runner import run_recipe
    m = run_recipe(id, preset, out, seed=seed, data_dir=data_dir, sets=set_ or [], resume=resume, device=device)
    meta = m["_meta"]
    if meta.get("processes", 1) == 1 or _is_rank0():
        for c in m["claims"]:
            mark = {True: "holds", False: "DOES NOT HOLD", None: "not evaluated"}[c["holds"]]
            typer.echo(f"  [{mark}] {c['text']}: paper {c['paper']}, ours {c['ours']}")
        typer.echo(f"wrote {out or f'runs/{id}-{preset}'}/report.md ({meta['wall_time_s']:.0f} s)")


def _is_rank0() -> bool:
    import os
    return os.environ.get("RANK", "0") == "0"


@app.command("reproduce")
def reproduce_cmd(
    ids: Optional[List[str]] = typer.Argument(None, help="recipe ids (default: all)"),
    preset: str = typer.Option("quick", help="quick or full"),
    out: Path = typer.Option(Path("runs/reproduce-quick"), help="output directory"),
    seed: int = typer.Option(0),
    rerun: bool = typer.Option(False, help="run again even where results exist"),
) -> None:
    """Run several recipes and write DIR/index.md and DIR/index.html (a table of all claims)."""
    from .runner import reproduce
    reproduce(ids, preset, out, seed=seed, rerun=rerun)


def _mount_subcommands(only: str | None = None) -> None:
    """Mount system sub-commands; with ``only``, just that one (importing MONAI etc. costs seconds)."""
    for name, mod in SUBCOMMANDS:
        if only is not None and name != only:
            continue
        try:
            m = importlib.import_module(mod)
        except ModuleNotFoundError as e:
            if (e.name or "").startswith(mod.rsplit(".", 1)[0]):
                continue  # that system has no CLI yet
            raise
        sub = getattr(m, "app", None)
        if isinstance(sub, typer.Typer):
            app.add_typer(sub, name=name)
        elif callable(sub):
            app.command(name, context_settings={"allow_extra_args": True, "ignore_unknown_options": True})(sub)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: one-line errors with exit code 2 for user mistakes."""
    argv = sys.argv[1:] if argv is None else argv
    names = {n for n, _ in SUBCOMMANDS}
    if argv and argv[0] in names:
        _mount_subcommands(only=argv[0])
    elif not argv or argv[0] not in {"list", "models", "run", "reproduce"}:
        _mount_subcommands()
    try:
        app(args=argv, prog_name="paperzoo", standalone_mode=False)
    except PaperzooError as e:
        typer.echo(f"error: {e}", err=True)
        sys.exit(e.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        typer.echo("aborted", err=True)
        sys.exit(130)
    except Exception as e:  # click usage errors
        import click
        if isinstance(e, click.exceptions.ClickException):
            typer.echo(f"error: {e.format_message()}", err=True)
            sys.exit(2)
        if isinstance(e, click.exceptions.Exit):
            sys.exit(e.exit_code)
        raise
