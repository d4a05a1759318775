"""The wide-thin recipe: resumable stages and a tiny end-to-end run."""

import json

import pytest
import torch
import torch.nn.functional as F

from paperzoo.engine import RunContext, make_accelerator
from paperzoo.errors import ConfigError
from paperzoo.runner import run_recipe
from paperzoo.widethin import MLPConfig, WinStudent, build
from paperzoo.widethin.recipe import train_loop


def _stage(out, resume=None, crash_at=None):
    ctx = RunContext(out=out, recipe_id="wide-thin", preset="quick", seed=0, accelerator=make_accelerator("cpu"),
                     resume=resume)
    torch.manual_seed(0)
    st = WinStudent(build(MLPConfig(width=4, depth=3)), [8, 8, 8])
    target = torch.nn.Linear(64, 8)
    params = st.set_stage(1)

    def loss_at(t):
        if t == crash_at:
            raise KeyboardInterrupt  # the machine goes down mid-stage
        x = torch.rand(16, 64, generator=torch.Generator().manual_seed(t))
        return F.mse_loss(st(x, stage=1), target(x).detach())

    try:
        train_loop(ctx, "imitate01", st, params, 20, loss_at, 1e-2, checkpoint_every=5)
    finally:
        ctx.logger.close()
    return st


def test_interrupted_stage_resumes_to_the_same_weights(tmp_path):
    ref = _stage(tmp_path / "a")
    with pytest.raises(KeyboardInterrupt):
        _stage(tmp_path / "b", crash_at=13)
    assert (tmp_path / "b/checkpoints/imitate01/state.json").is_file()
    resumed = _stage(tmp_path / "c", resume=tmp_path / "b")
    for (n, p), (_, q) in zip(ref.state_dict().items(), resumed.state_dict().items()):
        assert torch.equal(p, q), n
    moved = _stage(tmp_path / "d", crash_at=None)  # same as ref: deterministic
    assert all(torch.equal(p, q) for p, q in zip(ref.state_dict().values(), moved.state_dict().values()))


def test_quick_mlp_tiny_end_to_end(tmp_path):
    m = run_recipe("wide-thin", "quick", tmp_path, sets=["parts=mlp", "seeds=2", "mlp_depth=3", "teacher_steps=20",
                                                        "student_steps=30", "imitation_steps=4", "eval_every=10"])
    for k in ("acc_win", "acc_scratch", "acc_kd", "acc_win_ci_low", "merge_error_max"):
        assert k in m
    assert m["merge_error_max"] < 1e-5  # relative: max |logit diff| / max |logit|
    assert {c["id"] for c in m["claims"]} >= {"win_beats_scratch", "win_beats_kd", "merge_exact"}
    assert (tmp_path / "mlp_accuracy_per_stage.png").is_file()
    assert json.loads((tmp_path / "metrics.json").read_text())["mlp_seeds"] == 2


@pytest.mark.slow
def test_quick_lm_tiny_end_to_end(tmp_path):
    m = run_recipe("wide-thin", "quick", tmp_path, sets=[
        "parts=lm", "lm_seeds=1", "lm_layers=2", "lm_teacher_steps=10", "lm_student_steps=20", "lm_imitation_steps=3",
        "lm_eval_batches=1"])
    assert m["bpc_win"] > 0 and m["bpc_scratch"] > 0 and m["lm_merge_error_max"] < 1e-4


def test_bad_config(tmp_path):
    with pytest.raises(ConfigError, match="parts"):
        run_recipe("wide-thin", "quick", tmp_path, sets=["parts=nope"])
    with pytest.raises(ConfigError, match="student_steps"):
        run_recipe("wide-thin", "quick", tmp_path, sets=["parts=mlp", "seeds=1", "mlp_depth=3", "teacher_steps=1",
                                                         "student_steps=5", "imitation_steps=4"])
