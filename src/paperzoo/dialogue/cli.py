"""``paperzoo chat``: talk to the S6 agents in the terminal (Gao, Galley & Li 2019, arXiv 1809.08267).

    paperzoo chat --agent task                      # movie-ticket booking (rule policy, keyword NLU)
    paperzoo chat --agent qa                        # questions over the movie KB
    paperzoo chat --agent chat --model-dir out/models   # the trained persona seq2seq chatbot
    echo "hi" | paperzoo chat --agent chat          # reads lines from stdin until EOF
    paperzoo chat train --out models/               # train DQN, NLU, KB-QA and chatbot (quick preset)

Type ``/reset`` to start over and ``/quit`` (or EOF) to leave.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from ..errors import ConfigError

app = typer.Typer(no_args_is_help=False, invoke_without_command=True, add_completion=False,
                  help="Talk to the S6 dialogue agents: task (ticket booking), qa (KB questions), chat (persona chatbot).")


@app.callback(invoke_without_command=True)
def main(ctx: typer.Context,
         agent: str = typer.Option("task", "--agent", "-a", help="task | qa | chat"),
         model_dir: Optional[Path] = typer.Option(None, "--model-dir", "-m",
                                                  help="folder with trained models (<run out>/models)")) -> None:
    """Start a REPL with the chosen agent (one utterance per line)."""
    if ctx.invoked_subcommand is not None:
        return
    from .agents import load_agent

    bot = load_agent(agent, model_dir)
    interactive = sys.stdin.isatty()
    typer.echo(f"{agent}> {bot.reset()}")
    while True:
        if interactive:
            typer.echo("you> ", nl=False)
        line = sys.stdin.readline()
        if not line:
            break
        text = line.rstrip("\n")
        if text.strip() in ("/quit", "/exit"):
            break
        if text.strip() == "/reset":
            typer.echo(f"{agent}> {bot.reset()}")
            continue
        typer.echo(f"{agent}> {bot.respond(text)}")


@app.command()
def train(out: Path = typer.Option(Path("dialogue-models"), "--out", help="where to write the models"),
          preset: str = typer.Option("quick", help="quick | full"),
          seed: int = typer.Option(0, help="base seed")) -> None:
    """Train the agents (recipe ``dialogue`` with one seed) and save them as safetensors + JSON."""
    if preset not in ("quick", "full"):
        raise ConfigError(f"unknown preset {preset!r}; use quick or full")
    from ..runner import run_recipe

    run_recipe("dialogue", preset=preset, out=out, seed=seed, sets=["n_seeds=1"])
    typer.echo(f"models written to {out / 'models'}; try: paperzoo chat --agent task --model-dir {out / 'models'}")
