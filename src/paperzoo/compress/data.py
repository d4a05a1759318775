"""Text for the study: the embedded corpora (``pydoc``, ``stdlib``) or the user's plain text.

The paper pre-trains on BERT's data (Wikipedia + BookCorpus, Sec. 3); for ``--preset full`` the
user points ``--data-dir`` at a directory of UTF-8 ``.txt`` files (or one file), read in sorted
order and joined. Everything is character-level via the shared `paperzoo.data.text.CharCorpus`.
"""

from __future__ import annotations

from pathlib import Path

import torch

from ..data.text import CharCorpus, load_text
from ..errors import DataError

__all__ = ["load_corpus", "fixed_batches"]


def load_corpus(name: str, data_dir: Path | None = None, max_chars: int | None = None) -> CharCorpus:
    """``name`` = ``pydoc`` | ``stdlib`` | ``dir`` (every ``*.txt`` under ``data_dir``) | a file path."""
    if name == "dir":
        if data_dir is None:
            raise DataError("corpus=dir needs --data-dir with UTF-8 .txt files")
        d = Path(data_dir)
        files = [d] if d.is_file() else sorted(d.rglob("*.txt"))
        if not files:
            raise DataError(f"--data-dir {d} has no .txt files; put the pre-training text there as UTF-8 .txt")
        parts, n = [], 0
        for f in files:
            parts.append(f.read_text(encoding="utf-8", errors="replace"))
            n += len(parts[-1])
            if max_chars and n >= max_chars:
                break
        text = "\n".join(parts)
        text = text[:max_chars] if max_chars else text
    else:
        text = load_text(name, max_chars)
    if len(text) < 10_000:
        raise DataError(f"corpus {name!r} has only {len(text)} characters; the study needs at least 10,000")
    return CharCorpus.build(text)


def fixed_batches(corpus: CharCorpus, split: str, n_windows: int, seq_len: int, seed: int = 1234,
                  batch_size: int = 32) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """A fixed evaluation set: ``n_windows`` random windows (same for every model and compression)."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for i in range(0, n_windows, batch_size):
        out.append(corpus.batch(split, min(batch_size, n_windows - i), seq_len, generator=g))
    return out
