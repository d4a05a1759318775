"""``paperzoo serve``: start the web app (FastAPI + uvicorn) on loopback by default.

    paperzoo serve                                   # G2P + chat (when available) on http://127.0.0.1:8000
    paperzoo serve --retrieval-index runs/idx --netclass-model runs/nc/model --seg3d-model runs/seg3d-quick/model
    paperzoo serve --hash-index runs/hidx            # image search over `paperzoo hash index ... --out runs/hidx`
    paperzoo serve --workers 2                       # one process per core (each loads the models)
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Optional

import typer

app = typer.Typer(no_args_is_help=False, invoke_without_command=True,
                  help="Web app for the interactive systems: G2P, chat, image search, network classes, CT segmentation.")


@app.callback(invoke_without_command=True)
def serve(
    host: str = typer.Option("127.0.0.1", help="address to listen on (loopback by default)"),
    port: int = typer.Option(8000, help="TCP port"),
    retrieval_index: Optional[Path] = typer.Option(None, help="index directory from `paperzoo retrieval index`"),
    hash_index: Optional[Path] = typer.Option(None, help="index directory from `paperzoo hash index`"),
    netclass_model: Optional[Path] = typer.Option(None, help="MODEL path from `paperzoo netclass train --out`"),
    seg3d_model: Optional[Path] = typer.Option(None, help="model directory from `paperzoo seg3d train`"),
    g2p_model: Optional[Path] = typer.Option(None, help="a trained G2P folder (default: the shipped model)"),
    device: str = typer.Option("auto", help="auto (CUDA when present), cpu or cuda"),
    timeout: float = typer.Option(30.0, help="per-request compute limit in seconds"),
    max_words: int = typer.Option(64, help="words per G2P request"),
    workers: int = typer.Option(1, help="server processes (each loads the models; about one per free core)"),
    access_log: bool = typer.Option(False, help="log every request (off: logging costs throughput)"),
) -> None:
    """Load the models once, then serve the page (/) and the JSON API (/api/..., schema at /openapi.json)."""
    import uvicorn

    from ..errors import ConfigError
    from .app import CONFIG_ENV, create_app
    from .config import ServeConfig

    if not 0 < port < 65536:
        raise ConfigError(f"--port must be 1..65535, got {port}")
    if timeout <= 0 or max_words < 1:
        raise ConfigError("--timeout must be > 0 and --max-words >= 1")
    if not 1 <= workers <= 64:
        raise ConfigError(f"--workers must be 1..64, got {workers}")
    cfg = ServeConfig(host=host, port=port, retrieval_index=retrieval_index, hash_index=hash_index,
                      netclass_model=netclass_model, seg3d_model=seg3d_model, g2p_model=g2p_model, device=device,
                      request_timeout_s=timeout, max_words=max_words)
    web = create_app(cfg)  # loads everything once here: a bad path fails now, with a one-line error
    for name, p in web.state.panels.items():
        typer.echo(f"  {name:<10} " + ("ready" if p["available"] else f"absent: {p['reason']}"))
    typer.echo(f"serving on http://{host}:{port}/ with {workers} process(es) (API schema: /openapi.json; Ctrl-C stops)")
    opts = dict(host=host, port=port, log_level="warning", access_log=access_log, timeout_graceful_shutdown=5)
    if workers == 1:
        uvicorn.run(web, **opts)
        return
    # several processes: uvicorn starts each from an import string; they read the config from the environment
    del web
    os.environ[CONFIG_ENV] = json.dumps(cfg.to_json())
    uvicorn.run("paperzoo.serve.app:app_from_env", factory=True, workers=workers, **opts)
