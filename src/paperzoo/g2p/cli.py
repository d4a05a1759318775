"""``paperzoo g2p``: English words to ARPAbet with the shipped S4 Transformer (Yolchuyeva et al. 2019,
arXiv 2004.06338).

    paperzoo g2p hello world
    paperzoo g2p --file words.txt --format tsv
    echo "hello world" | paperzoo g2p --format json
    paperzoo g2p --no-lexicon zyxorbia          # the model even for dictionary words
    paperzoo g2p --evaluate                     # WER/PER of the model on g014b2b test
    paperzoo g2p --export-onnx g2p.onnx         # ONNX export, checked against PyTorch

The group takes words directly (its callback runs without a sub-command).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import List, Optional

import typer

from ..errors import ConfigError, DataError

app = typer.Typer(no_args_is_help=False, invoke_without_command=True, add_completion=False,
                  help="Grapheme-to-phoneme: English words to stress-free ARPAbet (S4 Transformer + CMUdict).")


def _read_words(words: list[str], file: Path | None) -> list[str]:
    text: list[str] = list(words)
    if file is not None:
        if str(file) == "-":
            text.append(sys.stdin.read())
        elif not file.is_file():
            raise DataError(f"{file}: no such file; pass a text file with words separated by spaces or newlines")
        else:
            try:
                text.append(file.read_text(encoding="utf-8"))
            except UnicodeDecodeError:
                raise DataError(f"{file}: not UTF-8 text; save it as UTF-8") from None
    elif not words and not sys.stdin.isatty():
        text.append(sys.stdin.read())
    return [w for t in text for w in t.split()]


@app.callback(invoke_without_command=True)
def main(
    ctx: typer.Context,
    words: Optional[List[str]] = typer.Argument(None, help="words to pronounce (or use --file / stdin)"),
    file: Optional[Path] = typer.Option(None, "--file", "-f", help="text file of words ('-' for stdin)"),
    format: str = typer.Option("text", "--format", help="text, tsv or json"),
    no_lexicon: bool = typer.Option(False, "--no-lexicon", help="use the model for every word (skip CMUdict)"),
    beam: int = typer.Option(4, help="beam width (1 = greedy)"),
    model: Optional[Path] = typer.Option(None, help="folder with model.safetensors + config.json (default: shipped)"),
    evaluate: bool = typer.Option(False, "--evaluate", help="score the model on g014b2b test (WER/PER)"),
    export_onnx: Optional[Path] = typer.Option(None, "--export-onnx", help="write the model as ONNX to this path"),
    int8: bool = typer.Option(False, "--int8", help="int8-quantised matrix products (faster on CPU; its test "
                                                    "WER/PER are in the g2p recipe's report)"),
) -> None:
    """Print the pronunciation of each word: `paperzoo g2p hello world`."""
    if ctx.invoked_subcommand is not None:
        return
    if format not in ("text", "tsv", "json"):
        raise ConfigError(f"--format {format!r} is not known; choose text, tsv or json")
    if beam < 1:
        raise ConfigError(f"--beam must be >= 1, got {beam}")
    from .api import G2P

    if export_onnx is not None:
        if int8:
            raise ConfigError("--int8 does not apply to --export-onnx (the ONNX file is the float model); drop --int8")
        from .onnx_export import export_onnx as _export
        g = G2P.load(model)
        err = _export(g.model, export_onnx)
        typer.echo(f"wrote {export_onnx} (max |onnx - torch| logit difference {err:.2e})")
        return
    if evaluate:
        g = G2P.load(model, beam=beam, int8=int8)
        m = g.evaluate(beam=beam)
        typer.echo(f"g014b2b test ({m['words']} words, beam {beam}{', int8' if int8 else ''}): WER {100 * m['wer']:.2f} %  "
                   f"PER {100 * m['per']:.2f} %  ({m['words_per_sec']:.0f} words/s)")
        return
    items = _read_words(words or [], file)
    if not items:
        if words is None and file is None and sys.stdin.isatty():
            typer.echo(ctx.get_help())
            return
        raise DataError("no words given; pass words, --file words.txt, or pipe text on stdin")
    good, bad = [], []
    for w in items:
        try:
            G2P.clean(w)
            good.append(w)
        except DataError as e:
            bad.append((w, str(e)))
    if bad and not good:
        raise DataError(bad[0][1] + (f" (and {len(bad) - 1} more unpronounceable words)" if len(bad) > 1 else ""))
    g = G2P.load(model, use_lexicon=not no_lexicon, beam=beam, int8=int8)
    prons = g.predict(good) if good else []
    res = dict(zip(good, prons))
    if format == "json":
        typer.echo(json.dumps([{"word": w, "phonemes": res.get(w), **({"error": e} if (e := dict(bad).get(w)) else {})}
                               for w in items], ensure_ascii=False))
    else:
        sep = "\t" if format == "tsv" else "  "
        for w in items:
            if w in res:
                typer.echo(f"{w}{sep}{' '.join(res[w])}")
    for _, e in bad:
        typer.echo(f"warning: skipped {e}", err=True)
