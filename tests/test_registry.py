"""Every registered model builds tiny, runs forward and backward with a finite loss (timm's test_models)."""

import pytest
import torch

from paperzoo import UnknownNameError, create_model, list_models
from paperzoo.registry import model_meta


def _run(name: str):
    meta = model_meta(name)
    m = create_model(name, **meta["tiny"])
    ex = meta["example"]
    args = ex(m) if callable(ex) else (torch.randn(2, *ex),)
    m.train()
    out = m(*args)
    out = out[0] if isinstance(out, (tuple, list)) and not isinstance(out, torch.Tensor) else out
    if isinstance(out, dict):
        out = next(v for v in out.values() if isinstance(v, torch.Tensor) and v.is_floating_point())
    assert torch.isfinite(out).all()
    loss = out.float().pow(2).mean()
    loss.backward()
    grads = [p.grad for p in m.parameters() if p.requires_grad]
    assert any(g is not None and g.abs().sum() > 0 for g in grads)


@pytest.mark.parametrize("name", list_models())
def test_every_registered_model_runs(name):
    if model_meta(name)["example"] is None:
        pytest.skip(f"{name} registers no example input")
    _run(name)


def test_unknown_model_names_near_matches():
    with pytest.raises(UnknownNameError, match="resnet50"):
        create_model("resnet5O")
