"""``paperzoo snn train|convert``: the happy path and one-line errors (exit code 2)."""

import json

import pytest
import torch

from paperzoo.cli import main
from paperzoo.engine import save_weights
from paperzoo.registry import create_model
from paperzoo.snn.model import insert_clips


def _run(capsys, *args):
    with pytest.raises(SystemExit) as e:
        main(list(args))
    return e.value.code, capsys.readouterr()


@pytest.fixture
def ann_ckpt(tmp_path):
    torch.manual_seed(0)
    m = insert_clips(create_model("snn_mlp", hidden=(16,)), init=1.0)
    p = tmp_path / "ann.safetensors"
    save_weights(m, p)
    (tmp_path / "ann.json").write_text(json.dumps({"model": "snn_mlp", "model_kwargs": {"hidden": [16], "num_classes": 10}}))
    return p


def test_convert_prints_table_and_saves(ann_ckpt, tmp_path, capsys):
    try:
        main(["snn", "convert", "--checkpoint", str(ann_ckpt), "--method", "tcl", "--timesteps", "2,8",
              "--limit", "40", "--out", str(tmp_path / "snn")])
    except SystemExit as e:
        assert e.code in (0, None)
    out = capsys.readouterr().out
    assert "SNN acc" in out and "wrote" in out
    info = json.loads((tmp_path / "snn" / "snn.json").read_text())
    assert info["results"]["timesteps"] == [2, 8] and (tmp_path / "snn" / "snn.safetensors").is_file()


def test_unknown_model(ann_ckpt, capsys):
    code, cap = _run(capsys, "snn", "convert", "--checkpoint", str(ann_ckpt), "--model", "vgg_nosuch")
    assert code == 2 and "unknown model" in cap.err and "Traceback" not in cap.err


def test_mismatched_checkpoint(ann_ckpt, capsys):
    code, cap = _run(capsys, "snn", "convert", "--checkpoint", str(ann_ckpt), "--model", "small_cnn",
                     "--timesteps", "4")
    assert code == 2 and "does not match" in cap.err


@pytest.mark.parametrize("ts", ["0", "-4,8"])
def test_nonpositive_timesteps(ann_ckpt, capsys, ts):
    code, cap = _run(capsys, "snn", "convert", "--checkpoint", str(ann_ckpt), "--timesteps", ts)
    assert code == 2 and "positive" in cap.err


def test_missing_checkpoint_and_bad_method(tmp_path, ann_ckpt, capsys):
    code, cap = _run(capsys, "snn", "convert", "--checkpoint", str(tmp_path / "nope.safetensors"), "--model", "snn_mlp")
    assert code == 2 and "does not exist" in cap.err
    code, cap = _run(capsys, "snn", "convert", "--checkpoint", str(ann_ckpt), "--method", "median")
    assert code == 2 and "unknown method" in cap.err


def test_train_writes_checkpoint(tmp_path, capsys):
    try:
        main(["snn", "train", "--model", "snn_mlp", "--epochs", "1", "--model-arg", "hidden=[8]",
              "--out", str(tmp_path / "a")])
    except SystemExit as e:
        assert e.code in (0, None)
    info = json.loads((tmp_path / "a" / "ann.json").read_text())
    assert info["model"] == "snn_mlp" and info["clips"] is not None and 0 <= info["test_acc"] <= 100
