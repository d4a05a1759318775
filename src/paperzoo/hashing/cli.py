"""``paperzoo hash``: binary-code image index (deep hash network + FAISS binary index).

Do et al., "Binary Constrained Deep Hashing Network for Image Retrieval without Manual Annotation",
arXiv 1802.07437.
    paperzoo hash index FOLDER --bits 64 --out INDEX [--model runs/hashing-quick/model.safetensors]
    paperzoo hash search INDEX IMAGE -k 10 [--ef 144]
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import typer

from ..errors import DataError

app = typer.Typer(no_args_is_help=True, help="S7 deep hashing: index a folder as binary codes, search by image.")

DEFAULT_MODEL = Path("runs/hashing-quick/model.safetensors")


def _encode(model, paths: Sequence[Path], imsize: int, bits: int, batch: int = 64):
    import numpy as np
    import torch

    from ..engine.logging import progress
    from ..retrieval.data import load_image
    from ..retrieval.extract import IMAGENET_MEAN, IMAGENET_STD
    from .metrics import pack_codes

    out = []
    for s in progress(range(0, len(paths), batch), desc="hashing images", enabled=len(paths) > batch):
        x = torch.stack([load_image(p, imsize, square=True) for p in paths[s:s + batch]])
        out.append(model.codes((x - IMAGENET_MEAN) / IMAGENET_STD, bits).numpy())
    return pack_codes(np.concatenate(out))


@app.command("index")
def index_cmd(
    folder: Path = typer.Argument(..., help="folder of images (searched recursively)"),
    bits: int = typer.Option(64, "--bits", help="code length (a multiple of 8 the model has a hash layer for)"),
    out: Path = typer.Option(..., "--out", help="index directory to write"),
    model: Path = typer.Option(DEFAULT_MODEL, "--model", help="model.safetensors written by `paperzoo run hashing`"),
    kind: str = typer.Option("flat", help="flat (exact), hnsw, ivf or multihash"),
) -> None:
    """Hash every image under FOLDER and write a FAISS binary index + manifest + model copy to OUT."""
    from ..retrieval.data import list_images
    from .index import build_binary_index, save_binary_index
    from .model import check_bits, load_hash_model

    check_bits(bits)
    paths = list_images(folder)
    net, meta = load_hash_model(model)
    if bits not in net.bits:
        raise DataError(f"model {model} has hash layers for {list(net.bits)} bits, not {bits}; pick one of those")
    codes = _encode(net, paths, int(meta.get("imsize", 32)), bits)
    index = build_binary_index(codes, kind)
    save_binary_index(out, index, [str(p.resolve()) for p in paths], model,
                      {"imsize": int(meta.get("imsize", 32)), "index_type": type(index).__name__, "model": meta})
    typer.echo(f"indexed {len(paths)} images as {bits}-bit codes ({type(index).__name__}) -> {out}")


@app.command("search")
def search_cmd(
    index: Path = typer.Argument(..., help="index directory from `paperzoo hash index`"),
    query: Path = typer.Argument(..., help="query image"),
    k: int = typer.Option(10, "-k", help="number of results"),
    ef: int = typer.Option(0, "--ef", help="HNSW indices: efSearch, the search beam (more = higher recall, slower); "
                                           "0 keeps the index's own (64 unless built otherwise)"),
) -> None:
    """Print the k nearest indexed images to QUERY in Hamming distance (rank, distance, path)."""
    from .index import load_binary_index, search_binary
    from .model import load_hash_model

    if k < 1:
        raise DataError(f"-k must be >= 1, got {k}")
    if not query.is_file():
        raise DataError(f"query image {query} does not exist")
    idx, manifest = load_binary_index(index)
    if ef:
        if not hasattr(idx, "hnsw"):
            raise DataError(f"--ef applies to HNSW indices; {index} is a {type(idx).__name__} "
                            f"(rebuild with `paperzoo hash index ... --kind hnsw`, or drop --ef)")
        if ef < k:
            raise DataError(f"--ef must be >= -k ({k}), got {ef}")
        idx.hnsw.efSearch = ef
    net, _ = load_hash_model(index / "model.safetensors")
    q = _encode(net, [query], int(manifest.get("imsize", 32)), int(manifest["bits"]))
    dist, ids = search_binary(idx, q, k)
    for r, (d, i) in enumerate(zip(dist[0], ids[0]), 1):
        if i >= 0:
            typer.echo(f"{r:>3}  {int(d):>3}  {manifest['paths'][i]}")
