"""End-to-end tiny run of the ``pyramidal-ror`` recipe (metrics, claims, plot, checkpoints, resume)."""

from __future__ import annotations

import json

import pytest

from paperzoo.errors import ConfigError
from paperzoo.pyramidal.recipe import PyramidalRoRConfig, build_arm
from paperzoo.runner import run_recipe

TINY = ["seeds=1", "epochs=1", "depth=8", "alpha=4", "grad_probe_depth=8", "grad_probe_seeds=2", "batch_size=256"]


def test_quick_tiny_run_and_resume(tmp_path):
    out = tmp_path / "run"
    m = run_recipe("pyramidal-ror", "quick", out, device="cpu", sets=TINY)
    for k in ("err_pyramidal_ror", "err_pyramidnet", "err_resnet", "params_pyramidal_ror", "params_pyramidnet",
              "params_resnet", "grad_attenuation_ratio_ror_over_pyramidnet"):
        assert k in m, k
    assert 0 <= m["err_pyramidal_ror"] <= 100
    ids = {c["id"] for c in m["claims"]}
    assert {"ror_le_pyramidnet", "ror_le_resnet", "ror_params_cheap", "ror_grad_stem"} <= ids
    assert all(isinstance(c["holds"], bool) for c in m["claims"])
    assert (out / "test_error.png").is_file() and (out / "report.md").is_file()
    assert json.loads((out / "metrics.json").read_text())["claims"]
    assert (out / "checkpoints" / "digits-pyramidal_ror-seed0" / "model.safetensors").is_file()
    # resume: a 2-epoch run continues from the 1-epoch checkpoints
    out2 = tmp_path / "run2"
    sets = [s for s in TINY if not s.startswith("epochs")] + ["epochs=2", "arms=pyramidnet", "grad_probe_depth=0"]
    m2 = run_recipe("pyramidal-ror", "quick", out2, device="cpu", sets=sets, resume=out)
    assert "err_pyramidnet" in m2
    log = (out2 / "log.csv").read_text().splitlines()
    assert not any(",1," in line for line in log[1:]) and any(",2," in line for line in log[1:])


def test_resnet_arm_matches_params_and_bad_arm():
    cfg = PyramidalRoRConfig(depth=20, alpha=16, bottleneck=False)
    pn = sum(p.numel() for p in build_arm("pyramidnet", cfg, 10, 1).parameters())
    rn = sum(p.numel() for p in build_arm("resnet", cfg, 10, 1).parameters())
    assert abs(rn - pn) / pn < 0.15
    with pytest.raises(ConfigError, match="arm"):
        build_arm("densenet", cfg, 10, 1)
    with pytest.raises(ConfigError, match="arm"):
        run_recipe("pyramidal-ror", "quick", None, device="cpu", sets=["arms=densenet"])
