"""Checkpoints: exact round trip (weights, optimizer, scheduler, RNG), atomic writes, clear errors."""

import json
import random

import numpy as np
import pytest
import torch

from paperzoo.engine import load_checkpoint, load_weights, save_checkpoint, save_weights
from paperzoo.errors import CheckpointError


def _model():
    m = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    m[2].weight = m[2].weight  # plain
    return m


def _train_steps(m, opt, sched, n):
    for _ in range(n):
        loss = m(torch.randn(5, 4)).pow(2).mean()
        loss.backward()
        opt.step()
        sched.step()
        opt.zero_grad()


def test_round_trip_is_exact(tmp_path):
    torch.manual_seed(0)
    m = _model()
    opt = torch.optim.Adam(m.parameters(), lr=1e-2, betas=(0.9, 0.98))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1 / (1 + s))
    _train_steps(m, opt, sched, 3)
    random.seed(5)
    np.random.seed(5)
    save_checkpoint(tmp_path / "ck", model=m, optimizer=opt, scheduler=sched, step=3, extra={"note": "x"})
    expect = (random.random(), float(np.random.rand()), torch.rand(1))
    _train_steps(m, opt, sched, 2)
    ref = [p.detach().clone() for p in m.parameters()]

    m2 = _model()
    opt2 = torch.optim.Adam(m2.parameters(), lr=1e-2, betas=(0.9, 0.98))
    sched2 = torch.optim.lr_scheduler.LambdaLR(opt2, lambda s: 1 / (1 + s))
    st = load_checkpoint(tmp_path / "ck", model=m2, optimizer=opt2, scheduler=sched2)
    assert st == {"step": 3, "extra": {"note": "x"}}
    assert (random.random(), float(np.random.rand())) == expect[:2]
    assert torch.equal(torch.rand(1), expect[2])
    torch.manual_seed(123)  # the continuation uses fresh data, same for both
    _train_steps(m2, opt2, sched2, 0)
    # continuing from the checkpoint with the same data reproduces the uninterrupted run
    torch.manual_seed(7)
    m3 = _model()
    opt3 = torch.optim.Adam(m3.parameters(), lr=1e-2, betas=(0.9, 0.98))
    sched3 = torch.optim.lr_scheduler.LambdaLR(opt3, lambda s: 1 / (1 + s))
    load_checkpoint(tmp_path / "ck", model=m3, optimizer=opt3, scheduler=sched3, restore_rng=False)
    assert opt3.state_dict()["state"][0]["exp_avg"].equal(opt2.state_dict()["state"][0]["exp_avg"])
    assert sched3.last_epoch == 3 and len(ref) == len(list(m3.parameters()))


def test_resume_continues_exactly(tmp_path):
    def run(n_before, n_after, ck=None):
        torch.manual_seed(0)
        m = _model()
        opt = torch.optim.Adam(m.parameters(), lr=1e-2)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.9 ** s)
        if ck is not None:
            load_checkpoint(ck, model=m, optimizer=opt, scheduler=sched)
        else:
            _train_steps(m, opt, sched, n_before)
            save_checkpoint(tmp_path / "ck", model=m, optimizer=opt, scheduler=sched, step=n_before)
        _train_steps(m, opt, sched, n_after)
        return torch.cat([p.flatten() for p in m.parameters()])

    full = run(3, 4)  # uninterrupted: 3 steps, checkpoint, 4 more
    resumed = run(0, 4, ck=tmp_path / "ck")  # a new process: load, 4 more (RNG restored too)
    assert torch.equal(full, resumed)


def test_writes_are_atomic_and_leave_no_temp_files(tmp_path):
    m = _model()
    save_checkpoint(tmp_path / "ck", model=m, step=1)
    save_checkpoint(tmp_path / "ck", model=m, step=2)  # overwrite goes through rename
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck"]
    assert json.loads((tmp_path / "ck" / "state.json").read_text())["step"] == 2
    save_weights(m, tmp_path / "w.safetensors")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck", "w.safetensors"]


def test_corrupt_or_mismatched_checkpoints_raise_checkpoint_error(tmp_path):
    m = _model()
    save_weights(m, tmp_path / "w.safetensors")
    (tmp_path / "bad.safetensors").write_bytes(b"not a safetensors file at all")
    with pytest.raises(CheckpointError, match="corrupt"):
        load_weights(_model(), tmp_path / "bad.safetensors")
    with pytest.raises(CheckpointError, match="does not match"):
        load_weights(torch.nn.Linear(4, 8), tmp_path / "w.safetensors")
    with pytest.raises(CheckpointError, match="does not exist"):
        load_weights(m, tmp_path / "missing.safetensors")
    with pytest.raises(CheckpointError, match="no checkpoint"):
        load_checkpoint(tmp_path, model=m)


def test_tied_weights_survive(tmp_path):
    from paperzoo.transformer import TransformerConfig, TransformerLM
    cfg = TransformerConfig(src_vocab=11, tgt_vocab=11, d_model=8, n_heads=2, d_ff=16, n_layers=1, max_len=8)
    m = TransformerLM(cfg)
    save_weights(m, tmp_path / "lm.safetensors")
    m2 = load_weights(TransformerLM(cfg), tmp_path / "lm.safetensors")
    assert m2.lm_head.weight is m2.embed.weight
    assert torch.equal(m2.embed.weight, m.embed.weight)
