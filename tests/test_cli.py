"""CLI: user mistakes give one line on stderr and exit code 2; list/run/reproduce work."""

import json
import os
import subprocess
import sys

import pytest
import torch

from paperzoo.engine import save_checkpoint

TINY = ["--set", "parts=warmup", "--set", "lm_arms=postln_warmup", "--set", "lm_d_model=16", "--set", "lm_layers=1",
        "--set", "lm_steps=2", "--set", "lm_seeds=1", "--set", "lm_eval_every=1", "--set", "lm_eval_batches=1",
        "--set", "lm_batch=4", "--set", "lm_seq_len=8"]


def pz(*args, **kw):
    env = {**os.environ, "PAPERZOO_NO_PROGRESS": "1"}
    return subprocess.run([sys.executable, "-m", "paperzoo", *args], capture_output=True, text=True, env=env,
                          timeout=300, **kw)


def one_line_error(r, *needles):
    assert r.returncode == 2, (r.returncode, r.stderr[-1500:])
    lines = [ln for ln in r.stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr[-1500:]
    for n in needles:
        assert n in lines[0], lines[0]
    assert "Traceback" not in r.stderr


def test_list_shows_every_system():
    r = pz("list")
    assert r.returncode == 0
    for sid in ["snn-tcl", "wide-thin", "large-compress", "g2p", "preln", "dialogue", "hashing", "retrieval",
                "netclass", "seg3d", "pyramidal-ror"]:
        assert sid in r.stdout


def test_unknown_recipe():
    one_line_error(pz("run", "prelm"), "unknown recipe 'prelm'", "preln")


def test_bad_set(tmp_path):
    one_line_error(pz("run", "preln", "--out", str(tmp_path), "--set", "lm_stepz=3"), "lm_stepz", "lm_steps")
    one_line_error(pz("run", "preln", "--out", str(tmp_path), "--set", "lm_steps=many"), "expected an integer")
    one_line_error(pz("run", "preln", "--out", str(tmp_path), "--set", "nonsense"), "key=value")


def test_missing_or_bad_data_dir(tmp_path):
    one_line_error(pz("run", "preln", "--out", str(tmp_path), "--data-dir", str(tmp_path / "nope")), "does not exist")
    from paperzoo.cli import main
    from paperzoo.registry import get_recipe
    spec = get_recipe("preln")
    old = spec.needs_data_dir
    spec.needs_data_dir = ("quick",)
    try:
        with pytest.raises(SystemExit) as e:
            main(["run", "preln", "--out", str(tmp_path / "x")])
        assert e.value.code == 2
    finally:
        spec.needs_data_dir = old


def test_corrupt_checkpoint_on_resume(tmp_path):
    from paperzoo.transformer import TransformerConfig, TransformerLM
    ck = tmp_path / "old" / "checkpoints" / "postln_warmup_seed0"
    save_checkpoint(ck, model=TransformerLM(TransformerConfig(src_vocab=5, d_model=8, n_heads=2, d_ff=8, n_layers=1)))
    (ck / "model.safetensors").write_bytes(b"\x00garbage")
    one_line_error(pz("run", "preln", "--out", str(tmp_path / "new"), "--resume", str(tmp_path / "old"), *TINY),
                   "corrupt")


def test_run_writes_the_contract_files(tmp_path):
    r = pz("run", "preln", "--out", str(tmp_path / "r"), "--set", "probe_seeds=2", "--set", "probe_depths=2,3",
           "--set", "probe_layers=2", "--set", "probe_d_model=16", "--set", "probe_batches=1", "--set", "probe_len=4",
           "--set", "probe_vocab=20", "--set", "probe_batch=2", "--set", "parts=probe,warmup", *TINY[4:])
    assert r.returncode == 0, r.stderr[-2000:]
    d = tmp_path / "r"
    m = json.loads((d / "metrics.json").read_text())
    assert {"postln_gradnorm_layer_spearman", "preln_gradnorm_maxmin_ratio", "claims", "_meta"} <= m.keys()
    assert all(set(c) == {"id", "text", "paper", "ours", "holds"} for c in m["claims"])
    for f in ["report.md", "config.yaml", "log.csv", "gradnorm_probe.png"]:
        assert (d / f).is_file(), f
    assert (d / "tensorboard").is_dir()
    assert torch.isfinite(torch.tensor(m["postln_gradnorm_maxmin_ratio"]))


def test_reproduce_writes_index_and_resumes(tmp_path):
    out = tmp_path / "rep"
    # a finished run is not run again: seed it with a fake-but-complete metrics.json and check it is reused
    (out / "preln").mkdir(parents=True)
    (out / "preln" / "metrics.json").write_text(json.dumps({
        "x": 1.0, "claims": [{"id": "c", "text": "t", "paper": 1, "ours": 2, "holds": True}],
        "_meta": {"preset": "quick", "status": "done"}}))
    r = pz("reproduce", "preln", "--out", str(out))
    assert r.returncode == 0, r.stderr[-2000:]
    assert "already done" in r.stdout
    html = (out / "index.html").read_text()
    assert "S5 preln" in html and "holds" in html
    assert (out / "index.md").is_file()
    one_line_error(pz("reproduce", "prelm", "--out", str(out)), "unknown recipe")
