"""``paperzoo netclass``: classify one's own networks with CNC (Xin, Zhang, Shao, arXiv 1802.00539).

  paperzoo netclass train DIR --labels labels.csv --out MODEL   # MODEL.safetensors + MODEL.json
  paperzoo netclass predict MODEL GRAPH_FILE ...                # one line per graph: file, class, p
  paperzoo netclass image GRAPH_FILE --out img.png              # look at a network's CNC image

Graph files: edge lists (``u v [weight]``), CSV (``source,target[,weight]``) or GraphML.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

app = typer.Typer(no_args_is_help=True, help="CNC complex network classification (S9): train, predict, image.")


def _threads() -> None:
    import torch
    torch.set_num_threads(1)  # tiny CNN: more threads only spin


@app.command("train")
def train_cmd(
    directory: Path = typer.Argument(..., help="folder of graph files"),
    labels: Path = typer.Option(..., help="CSV 'file,label' naming the graphs of DIR to train on"),
    out: Path = typer.Option(..., help="model path; writes OUT.safetensors and OUT.json"),
    n_walks: int = typer.Option(10000, help="walks per graph (official 10000)"),
    walks_per_node: float = typer.Option(0.0, help="> 0: walks = this x nodes, replacing --n-walks "
                                         "(10 = official ratio at N=1000; keeps graphs of any size comparable)"),
    walk_length: int = typer.Option(10),
    dim: int = typer.Option(20, help="Word2Vec dimension"),
    skipgram: bool = typer.Option(False, help="skip-gram instead of CBOW (official: CBOW)"),
    embedder: str = typer.Option("auto", help="auto (default: cbow, or gensim with --skipgram), cbow "
                                 "(gensim's Word2Vec CBOW compiled with numba: the same vectors, faster), gensim or sppmi (faster option, less accurate; "
                                 "docs/netclass.md)"),
    size: int = typer.Option(48, help="image side"),
    epochs: int = typer.Option(40),
    batch_size: int = typer.Option(20),
    lr: float = typer.Option(0.01),
    flip_augment: bool = typer.Option(True, help="random image mirrors (PCA sign is arbitrary)"),
    directed: bool = typer.Option(False, help="read graphs as directed"),
    workers: int = typer.Option(2, help="processes for graph -> image"),
    seed: int = typer.Option(0),
) -> None:
    """Train a CNC classifier on the labelled graphs of DIR."""
    import numpy as np
    import torch

    from ..engine import make_accelerator
    from .data import featurise_many, load_graph_dir
    from .image import CNCImageConfig
    from .model import CNC, CNCConfig
    from .train import CNCClassifier, CNNTrainConfig, predict_cnc, train_cnc

    _threads()
    names, graphs, ys = load_graph_dir(directory, labels, directed=directed)
    classes = sorted(set(ys))
    icfg = CNCImageConfig(n_walks=n_walks, walks_per_node=walks_per_node, walk_length=walk_length, dim=dim,
                          sg=int(skipgram), size=size, embedder=embedder).validate()
    fs = featurise_many(graphs, icfg, workers=workers, stats=False, edges=False, seed=seed)
    X = np.stack([f.image for f in fs])
    y = np.array([classes.index(v) for v in ys])
    torch.manual_seed(seed)
    model = CNC(CNCConfig(in_chans=icfg.channels, size=size, num_classes=len(classes)))
    model = train_cnc(X, y, model, CNNTrainConfig(epochs=epochs, batch_size=batch_size, lr=lr, flip_augment=flip_augment),
                      make_accelerator("cpu"), seed=seed)
    train_acc = float((predict_cnc(model, X).argmax(1) == y).mean())
    stem = CNCClassifier(icfg, model, classes, {"n_train": len(y), "train_accuracy": train_acc}).save(out)
    typer.echo(f"trained on {len(y)} graphs ({', '.join(classes)}); training accuracy {100 * train_acc:.1f} %")
    typer.echo(f"wrote {stem}.safetensors and {stem}.json")


@app.command("predict")
def predict_cmd(
    model: Path = typer.Argument(..., help="MODEL path given to `train --out`"),
    graphs: List[Path] = typer.Argument(..., help="graph files"),
    directed: bool = typer.Option(False),
    seed: int = typer.Option(0),
) -> None:
    """Classify graph files: prints 'file<TAB>class<TAB>probability'."""
    from .data import read_graph
    from .image import cnc_image
    from .train import CNCClassifier, predict_cnc

    _threads()
    clf = CNCClassifier.load(model)
    for p in graphs:
        img = cnc_image(read_graph(p, directed=directed), clf.image_cfg, seed=seed)
        prob = predict_cnc(clf.model, img[None])[0]
        k = int(prob.argmax())
        typer.echo(f"{p}\t{clf.classes[k]}\t{prob[k]:.4f}")


@app.command("image")
def image_cmd(
    graph: Path = typer.Argument(..., help="graph file"),
    out: Path = typer.Option(Path("cnc_image.png"), help="PNG to write"),
    n_walks: int = typer.Option(10000),
    walks_per_node: float = typer.Option(0.0, help="> 0: walks = this x nodes, replacing --n-walks"),
    size: int = typer.Option(48),
    skipgram: bool = typer.Option(False),
    embedder: str = typer.Option("auto", help="auto (default: cbow, or gensim with --skipgram), cbow "
                                 "(gensim's CBOW compiled), gensim or sppmi (faster option)"),
    directed: bool = typer.Option(False),
    seed: int = typer.Option(0),
    model: Optional[Path] = typer.Option(None, help="use a trained model's image settings"),
) -> None:
    """Write a network's CNC image (walks -> Word2Vec -> PCA -> density histogram) as a PNG."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from ..errors import DataError
    from .data import read_graph
    from .image import CNCImageConfig, cnc_image
    from .train import CNCClassifier

    if out.suffix.lower() != ".png":
        raise DataError(f"--out {out}: write a .png file")
    icfg = (CNCClassifier.load(model).image_cfg if model else
            CNCImageConfig(n_walks=n_walks, walks_per_node=walks_per_node, size=size, sg=int(skipgram),
                           embedder=embedder).validate())
    g = read_graph(graph, directed=directed)
    img = cnc_image(g, icfg, seed=seed)
    fig, ax = plt.subplots(figsize=(4, 4))
    ax.imshow(np.log1p(img[0]), cmap="magma")
    ax.set_title(f"{graph.name}: {g.number_of_nodes()} nodes, {g.number_of_edges()} edges", fontsize=8)
    ax.axis("off")
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120, bbox_inches="tight")
    plt.close(fig)
    typer.echo(f"wrote {out}")
