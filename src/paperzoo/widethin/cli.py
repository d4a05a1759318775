"""``paperzoo widethin``: widen a thin spec, and merge/inspect WIN students.

Zhou et al., "Go Wide, Then Narrow: Efficient Training of Deep Thin Networks", ICML 2020,
arXiv 2007.00811. The full pipeline is ``paperzoo run wide-thin``; these commands expose its parts.
"""

from __future__ import annotations

import typer

from ..errors import ConfigError

app = typer.Typer(no_args_is_help=True, help="WIN (S2): train deep thin networks by layerwise imitation of a wide twin.")


def _spec(kind: str, depth: int, width: int, vocab: int, heads: int):
    from ..transformer import TransformerConfig
    from .model import BertSpec, MLPConfig, ResNetSpec
    if kind == "mlp":
        return MLPConfig(width=width, depth=depth)
    if kind == "resnet50":
        return ResNetSpec()
    if kind == "transformer":
        return TransformerConfig(src_vocab=vocab, tgt_vocab=vocab, d_model=width, n_heads=heads, d_ff=2 * width,
                                 n_layers=depth, dropout=0.0)
    if kind == "bert":
        return BertSpec(d_model=width, n_heads=heads, d_ff=4 * width, n_layers=depth)
    raise ConfigError(f"--kind must be mlp, resnet50, transformer or bert, got {kind!r}")


@app.command("widen")
def widen_cmd(kind: str = typer.Option("mlp", help="mlp, resnet50, transformer or bert"),
              depth: int = typer.Option(16, help="blocks (MLP) / layers (Transformer, BERT)"),
              width: int = typer.Option(12, help="units (MLP) / d_model (Transformer, BERT)"),
              factor: float = typer.Option(8.0, help="width multiplier of the wide twin"),
              vocab: int = typer.Option(100, help="Transformer vocabulary"),
              heads: int = typer.Option(2, help="Transformer / BERT heads")) -> None:
    """Print the thin spec and its wide twin (same depth, widths x factor) with parameter counts."""
    from .model import build, depth_of, widen, widths_of
    thin = _spec(kind, depth, width, vocab, heads)
    wide = widen(thin, factor)
    for name, s in (("thin", thin), ("wide", wide)):
        n = sum(p.numel() for p in build(s).parameters())
        ws = list(widths_of(s))
        typer.echo(f"{name}: {type(s).__name__} depth {depth_of(s)}, block widths {ws if len(set(ws)) > 1 else ws[0]}, "
                   f"{n:,} parameters")


@app.command("check-merge")
def check_merge_cmd(depth: int = typer.Option(16), width: int = typer.Option(12), factor: float = typer.Option(8.0),
                    seed: int = typer.Option(0)) -> None:
    """Build S-bar (thin MLP + random linear pairs), merge it, and print the max |logit difference|."""
    import torch

    from .imitation import WinStudent
    from .model import MLPConfig, build, widen, widths_of
    if depth < 1 or width < 1 or factor < 1:
        raise ConfigError("need depth >= 1, width >= 1, factor >= 1")
    torch.manual_seed(seed)
    spec = MLPConfig(width=width, depth=depth)
    st = WinStudent(build(spec), list(widths_of(widen(spec, factor))))
    for p in st.pairs:
        torch.nn.init.normal_(p.up.weight, std=width ** -0.5)
        torch.nn.init.normal_(p.down.weight, std=(width * factor) ** -0.5)
    x = torch.rand(256, spec.in_dim)
    merged = st.merge()
    for dt, name in ((torch.float32, "float32"), (torch.float64, "float64")):
        with torch.no_grad():
            err = (merged.to(dt)(x.to(dt)) - st.to(dt)(x.to(dt))).abs().max().item()
        typer.echo(f"{name}: max |S-bar(x) - merged(x)| = {err:.2e}")
    n_thin = sum(p.numel() for p in build(spec).parameters())
    n_merged = sum(p.numel() for p in merged.parameters())
    typer.echo(f"parameters: thin {n_thin:,}, merged {n_merged:,} (identical architecture: {n_thin == n_merged})")
