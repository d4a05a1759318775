"""The preln recipe's training loop: exact resume, and 2-process torchrun == 1 process."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from paperzoo.config import build_config
from paperzoo.engine import RunContext, make_accelerator
from paperzoo.registry import get_recipe
from paperzoo.transformer.warmup import train_lm

TINY = ["lm_d_model=16", "lm_layers=2", "lm_heads=2", "lm_seq_len=16", "lm_batch=8", "lm_steps=8",
        "lm_eval_every=4", "lm_eval_batches=2", "lm_seeds=1", "lm_lr=1e-3", "lm_warmup=4"]


def _cfg(extra=()):
    spec = get_recipe("preln")
    return build_config(spec.config, spec.presets, "quick", [*TINY, *extra])


def _ctx(out, resume=None):
    return RunContext(out=Path(out), recipe_id="preln", preset="quick", seed=0, accelerator=make_accelerator("cpu"),
                      resume=resume)


def _flat(model):
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])


@pytest.mark.parametrize("arm", ["postln_warmup", "preln_nowarmup"])
def test_interrupted_run_resumes_to_the_same_weights(tmp_path, arm):
    full = train_lm(_cfg(), _ctx(tmp_path / "a"), arm, seed=3)
    cfg = _cfg(["checkpoint_every=3"])
    part = train_lm(cfg, _ctx(tmp_path / "b"), arm, seed=3, stop_at=5)  # "killed" after step 5 (last ckpt: step 3)
    assert part["step"] == 5
    resumed = train_lm(cfg, _ctx(tmp_path / "c", resume=tmp_path / "b"), arm, seed=3)
    assert resumed["step"] == 8
    assert torch.equal(_flat(full["model"]), _flat(resumed["model"]))
    assert [c[0] for c in resumed["curve"]] == [4, 8]
    assert resumed["curve"][-1][1] == pytest.approx(full["curve"][-1][1], abs=0)


def _run_cli(args, **kw):
    env = {**os.environ, "PAPERZOO_NO_PROGRESS": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.run(args, capture_output=True, text=True, env=env, timeout=240, **kw)


def test_two_process_torchrun_matches_one_process(tmp_path):
    sets = []
    for s in [*TINY, "parts=warmup", "lm_arms=postln_warmup"]:
        sets += ["--set", s]
    sets += ["--device", "cpu"]  # MULTI_CPU (gloo), also on a machine with one GPU
    one = _run_cli([sys.executable, "-m", "paperzoo", "run", "preln", "--out", str(tmp_path / "p1"), *sets])
    assert one.returncode == 0, one.stderr[-2000:]
    two = _run_cli([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                    "-m", "paperzoo", "run", "preln", "--out", str(tmp_path / "p2"), *sets])
    # the ranks' own errors, not only torchrun's closing traceback
    assert two.returncode == 0, "\n".join(ln for ln in two.stderr.splitlines() if "rror" in ln)[-3000:]
    m2 = json.loads((tmp_path / "p2" / "metrics.json").read_text())
    assert m2["_meta"]["processes"] == 2
    assert m2["ddp_max_weight_diff_across_ranks"] == 0.0  # both ranks end with identical weights
    w1 = load_file(str(tmp_path / "p1" / "checkpoints" / "postln_warmup_seed0" / "model.safetensors"))
    w2 = load_file(str(tmp_path / "p2" / "checkpoints" / "postln_warmup_seed0" / "model.safetensors"))
    assert w1.keys() == w2.keys()
    # Same global batch: same result up to float summation order. Adam normalises each update, so a
    # parameter whose gradient is ~0 can move by up to ~lr on rounding noise alone; bound the worst
    # element by lr and require the typical element to agree to 1e-6, and the losses to 1e-4.
    diffs = torch.cat([(w1[k] - w2[k]).abs().reshape(-1) for k in w1])
    assert diffs.max() <= 1e-3
    assert diffs.median() <= 1e-6
    m1 = json.loads((tmp_path / "p1" / "metrics.json").read_text())
    assert abs(m1["val_loss_postln_warmup"] - m2["val_loss_postln_warmup"]) <= 1e-4
