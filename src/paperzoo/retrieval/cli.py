"""``paperzoo retrieval``: index an image folder and search it (GeM descriptors + FAISS).

Radenović, Tolias, Chum, "Fine-tuning CNN Image Retrieval with No Human Annotation", arXiv 1711.02512.
    paperzoo retrieval index FOLDER --model runs/retrieval-quick/model.safetensors --out INDEX
    paperzoo retrieval search INDEX QUERY_IMAGE -k 10
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from ..errors import DataError

app = typer.Typer(no_args_is_help=True, help="S8 image retrieval: index a folder of images, search it by image.")


def _scales(multiscale: bool) -> tuple[float, ...]:
    return (1.0, 0.7071067811865476, 0.5) if multiscale else (1.0,)


@app.command("index")
def index_cmd(
    folder: Path = typer.Argument(..., help="folder of images (searched recursively)"),
    model: Path = typer.Option(..., "--model", help="model.safetensors written by `paperzoo run retrieval`"),
    out: Path = typer.Option(..., "--out", help="index directory to write"),
    imsize: Optional[int] = typer.Option(None, help="longer image side (default: the model's)"),
    multiscale: bool = typer.Option(False, help="describe at scales 1, 1/sqrt2, 1/2 (power mean)"),
    kind: str = typer.Option("auto", help="auto, flat, ivf or hnsw"),
) -> None:
    """Describe every image under FOLDER and write a FAISS index + manifest + model copy to OUT."""
    from .data import list_images
    from .extract import FileSource, describe, load_retrieval_model
    from .search import build_index, save_index

    net, meta = load_retrieval_model(model)
    paths = list_images(folder)
    size = imsize or int(meta.get("imsize", 362))
    # quick-preset models were trained on square images: resize to imsize x imsize
    src = FileSource(paths, size, square=meta.get("arch") == "small")
    vecs = describe(net, src, scales=_scales(multiscale))
    index = build_index(vecs, kind)
    save_index(out, index, [str(p.resolve()) for p in paths], model,
               {"imsize": size, "multiscale": multiscale, "index_type": type(index).__name__, "model": meta})
    typer.echo(f"indexed {len(paths)} images ({vecs.shape[1]}-d, {type(index).__name__}) -> {out}")


@app.command("search")
def search_cmd(
    index: Path = typer.Argument(..., help="index directory from `paperzoo retrieval index`"),
    query: Path = typer.Argument(..., help="query image"),
    k: int = typer.Option(10, "-k", help="number of results"),
    bbox: Optional[List[float]] = typer.Option(None, help="crop the query first: --bbox x1 --bbox y1 --bbox x2 --bbox y2"),
) -> None:
    """Print the k nearest indexed images to QUERY (rank, score, path)."""
    from .extract import FileSource, describe, load_retrieval_model
    from .search import load_index, search

    if k < 1:
        raise DataError(f"-k must be >= 1, got {k}")
    if not query.is_file():
        raise DataError(f"query image {query} does not exist")
    if bbox is not None and len(bbox) not in (0, 4):
        raise DataError("--bbox needs exactly 4 numbers: x1 y1 x2 y2")
    idx, manifest = load_index(index)
    net, meta = load_retrieval_model(index / "model.safetensors")
    src = FileSource([query], int(manifest.get("imsize", 362)), [bbox] if bbox else None,
                     square=meta.get("arch") == "small")
    q = describe(net, src, scales=_scales(bool(manifest.get("multiscale"))))
    if q.shape[1] != idx.d:
        raise DataError(f"model gives {q.shape[1]}-d descriptors but the index holds {idx.d}-d ones; rebuild it")
    scores, ids = search(idx, q, k)
    for r, (s, i) in enumerate(zip(scores[0], ids[0]), 1):
        if i >= 0:
            typer.echo(f"{r:>3}  {s:.4f}  {manifest['paths'][i]}")
