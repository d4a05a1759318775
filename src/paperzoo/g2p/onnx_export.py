"""ONNX export of the S4 G2P Transformer (teacher-forced ``(src, tgt_in) -> logits``), checked against PyTorch.

A runtime decodes with it exactly as :mod:`paperzoo.transformer.decode` does: feed the BOS-prefixed
output so far, take the last position's logits. Batch and both lengths are dynamic axes.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from pathlib import Path

import numpy as np
import torch

from ..errors import ConfigError
from .data import pad_batch
from .model import make_vocabs


class _Logits(torch.nn.Module):
    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, src: torch.Tensor, tgt_in: torch.Tensor) -> torch.Tensor:
        return self.model(src, tgt_in)[0]


def _example() -> tuple[torch.Tensor, torch.Tensor]:
    src_v, tgt_v = make_vocabs()
    src = pad_batch([src_v.encode(list(w)) for w in ("HELLO", "PHONEMES", "A")])
    tgt = pad_batch([tgt_v.encode(p) for p in (["HH", "AH", "L"], ["F", "OW", "N", "IY", "M", "Z"], ["AH"])],
                    bos=True, eos=False)
    return src, tgt


def export_onnx(model: torch.nn.Module, path: str | Path, opset: int = 18, atol: float = 1e-4) -> float:
    """Write ``model`` to ``path`` and return the max |ONNX - PyTorch| logit difference (raises if > atol)."""
    import onnxruntime as ort

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model = model.eval()
    wrapper = _Logits(model).eval()
    src, tgt = _example()
    fast = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)  # the fused MHA kernel has no ONNX translation
    dims = torch.export.Dim("batch"), torch.export.Dim("src_len"), torch.export.Dim("tgt_len")
    try:
        with torch.no_grad(), warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            torch.onnx.export(wrapper, (src, tgt), str(path), input_names=["src", "tgt_in"], output_names=["logits"],
                              dynamic_shapes=({0: dims[0], 1: dims[1]}, {0: dims[0], 1: dims[2]}),
                              opset_version=opset, dynamo=True)
    finally:
        torch.backends.mha.set_fastpath_enabled(fast)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    err = 0.0
    for s, t in ((src, tgt), (src[:1, :3], tgt[:1, :2])):
        with torch.no_grad():
            ref = wrapper(s, t).numpy()
        got = sess.run(["logits"], {"src": s.numpy(), "tgt_in": t.numpy()})[0]
        err = max(err, float(np.abs(got - ref).max()))
    if err > atol:
        raise ConfigError(f"ONNX export differs from PyTorch by {err:.2e} (> {atol}); try another --opset")
    return err
