"""Embedded text corpora for character/byte-level language models (no download).

* ``pydoc``: CPython's ``pydoc_data.topics.topics`` (the help-topic texts, ~465K characters).
* ``stdlib``: the standard library's own ``.py`` source files, as text (several MB).

`CharCorpus` maps characters to ids (a fixed vocabulary built from the training split) and
serves random (B, T+1) windows from a contiguous 90/5/5 train/val/test split.
"""

from __future__ import annotations

import sysconfig
from dataclasses import dataclass
from pathlib import Path

import torch

from ..errors import DataError

__all__ = ["load_text", "CharCorpus"]


def load_text(name: str = "pydoc", max_chars: int | None = None) -> str:
    """Text of an embedded corpus: ``pydoc`` or ``stdlib``; or a path to a UTF-8 text file."""
    if name == "pydoc":
        from pydoc_data.topics import topics
        text = "\n\n".join(topics[k] for k in sorted(topics))
    elif name == "stdlib":
        root = Path(sysconfig.get_paths()["stdlib"])
        parts, n = [], 0
        for p in sorted(root.glob("*.py")):
            t = p.read_text(encoding="utf-8", errors="replace")
            parts.append(t)
            n += len(t)
            if max_chars and n >= max_chars:
                break
        text = "\n".join(parts)
    else:
        p = Path(name)
        if not p.is_file():
            raise DataError(f"text corpus {name!r} is neither 'pydoc', 'stdlib' nor a readable file")
        text = p.read_text(encoding="utf-8", errors="replace")
    return text[:max_chars] if max_chars else text


@dataclass
class CharCorpus:
    """Character-level corpus with train/val/test id tensors."""

    train: torch.Tensor
    val: torch.Tensor
    test: torch.Tensor
    itos: list[str]

    @classmethod
    def build(cls, text: str, val_frac: float = 0.05, test_frac: float = 0.05) -> "CharCorpus":
        n = len(text)
        n_val, n_test = int(n * val_frac), int(n * test_frac)
        tr_text = text[: n - n_val - n_test]
        itos = ["\0"] + sorted(set(tr_text))  # id 0: any character unseen in training
        stoi = {c: i for i, c in enumerate(itos)}
        ids = torch.tensor([stoi.get(c, 0) for c in text], dtype=torch.long)
        a, b = n - n_val - n_test, n - n_test
        return cls(ids[:a], ids[a:b], ids[b:], itos)

    @property
    def vocab_size(self) -> int:
        return len(self.itos)

    def batch(self, split: str, batch_size: int, seq_len: int, generator: torch.Generator | None = None):
        """Random windows: ``(x, y)`` each (B, T), y = x shifted by one."""
        data = {"train": self.train, "val": self.val, "test": self.test}[split]
        if len(data) <= seq_len + 1:
            raise DataError(f"{split} split has {len(data)} characters, fewer than seq_len+1={seq_len + 1}")
        ix = torch.randint(0, len(data) - seq_len - 1, (batch_size,), generator=generator)
        win = torch.stack([data[i: i + seq_len + 1] for i in ix.tolist()])
        return win[:, :-1], win[:, 1:]
