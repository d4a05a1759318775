"""`python -m paperzoo.g2p.train`: a warm restart must keep the validation split of the run it continues."""

import pytest
import torch

from paperzoo.errors import ConfigError
from paperzoo.g2p.api import WEIGHTS_DIR
from paperzoo.g2p.train import check_same_split, main

SHIPPED = {"train_settings": {"seed": 0}, "valid": {"words": 3000}}


def test_same_split_passes_and_snapshots_without_settings_pass():
    check_same_split(SHIPPED, 0, 3000, "w")
    check_same_split({"history": []}, 5, 10, "run/final")  # a run's own final folder records no split


@pytest.mark.parametrize("seed,n_valid,fix", [(1, 3000, "--seed 0"), (0, 2000, "--n-valid 3000")])
def test_other_split_is_refused(seed, n_valid, fix):
    with pytest.raises(ConfigError, match=fix):
        check_same_split(SHIPPED, seed, n_valid, "w")


def test_cli_refuses_other_seed_with_one_line_and_exit_2(tmp_path, capsys):
    out = tmp_path / "run"
    with pytest.raises(SystemExit) as e:
        main(["--init", str(WEIGHTS_DIR), "--out", str(out), "--seed", "7"])
    assert e.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "--seed 0" in err and "\n" not in err
    assert not out.exists()  # nothing written before the check


def _tiny_run(tmp_path, name: str, order_seed: int, init: str = "w", seed: int = 0, digest: str | None = None):
    """A two-step run of the tiny model; returns (run folder, its weights)."""
    import json

    from paperzoo.g2p.model import build_model, save_g2p
    from paperzoo.g2p.train import TrainSettings, train_g2p

    from .conftest import TINY

    lex = {w: [list(p)] for w, p in [("CAT", ["K", "AE", "T"]), ("DOG", ["D", "AO", "G"]), ("BAT", ["B", "AE", "T"]),
                                      ("TOP", ["T", "AA", "P"]), ("POT", ["P", "AA", "T"]), ("GOD", ["G", "AA", "D"])]}
    torch.manual_seed(0)
    model = build_model(TINY)
    s = TrainSettings(lr=1e-2, warmup=1, max_steps=4, batch_tokens=8, eval_every=100, order_seed=order_seed,
                      seed=seed)
    train_g2p(model, lex, {"CAT": [["K", "AE", "T"]]}, s)
    run = tmp_path / name
    save_g2p(model, run / "final", TINY)
    (run / "run.json").write_text(json.dumps({"settings": {"seed": seed}, "model": TINY.__dict__, "init": init,
                                              "init_sha256": digest, "n_valid_words": 1}))
    return run, {k: v.clone() for k, v in model.state_dict().items()}


def test_order_seed_changes_batch_order_but_not_the_split(tmp_path):
    _, a = _tiny_run(tmp_path, "a", order_seed=-1)
    _, same = _tiny_run(tmp_path, "b", order_seed=0)  # -1 means "the split seed"
    _, other = _tiny_run(tmp_path, "c", order_seed=1)
    assert all((a[k] == same[k]).all() for k in a)
    assert any(not (a[k] == other[k]).all() for k in a)


def test_soup_averages_runs_from_the_same_start_only(tmp_path, capsys):
    from safetensors.torch import load_file

    from paperzoo.g2p.ship import main as ship_main
    from paperzoo.g2p.ship import soup_runs
    from paperzoo.g2p.train import average_snapshots

    from .conftest import TINY

    r1, w1 = _tiny_run(tmp_path, "r1", order_seed=-1)
    r2, w2 = _tiny_run(tmp_path, "r2", order_seed=1)
    assert soup_runs(r1, [str(r2)]) == [r1, r2]
    soup = average_snapshots([r / "final" / "model.safetensors" for r in (r1, r2)], TINY).state_dict()
    stored = load_file(str(r1 / "final" / "model.safetensors"))
    for k in stored:  # the element-wise mean of the two runs' weights
        assert torch.allclose(soup[k], (w1[k] + w2[k]) / 2)
    r3, _ = _tiny_run(tmp_path, "r3", order_seed=1, init="elsewhere")
    with pytest.raises(ConfigError, match="starting weights"):
        soup_runs(r1, [str(r3)])
    r4, _ = _tiny_run(tmp_path, "r4", order_seed=1, seed=3)
    with pytest.raises(ConfigError, match="--seed"):
        soup_runs(r1, [str(r4)])
    r5, _ = _tiny_run(tmp_path, "r5", order_seed=1, digest="ab")  # same --init path, other contents
    r6, _ = _tiny_run(tmp_path, "r6", order_seed=2, digest="cd")
    with pytest.raises(ConfigError, match="starting weights"):
        soup_runs(r5, [str(r6)])
    assert soup_runs(r1, [str(r5)]) == [r1, r5]  # a run without a digest (older format) is compared by path
    r7, _ = _tiny_run(tmp_path, "r7", order_seed=2, init="copy/of/w", digest="ab")  # same contents, other path
    assert soup_runs(r5, [str(r7)]) == [r5, r7]
    import json

    r8, _ = _tiny_run(tmp_path, "r8", order_seed=3)
    info = json.loads((r8 / "run.json").read_text())
    info["model"]["dropout"] = 0.2  # --restart-dropout: regularisation, not architecture
    (r8 / "run.json").write_text(json.dumps(info))
    assert soup_runs(r1, [str(r8)]) == [r1, r8]
    info["model"]["d_ff"] = 2 * info["model"]["d_ff"]
    (r8 / "run.json").write_text(json.dumps(info))
    with pytest.raises(ConfigError, match="architecture"):
        soup_runs(r1, [str(r8)])
    with pytest.raises(SystemExit) as e:  # the CLI: one line, exit 2, before any evaluation
        ship_main(["--run", str(r1), "--out", str(tmp_path / "out"), "--soup", str(r3)])
    assert e.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: --soup") and "\n" not in err
    with pytest.raises(SystemExit) as e:  # not a training run folder
        ship_main(["--run", str(tmp_path / "nowhere"), "--out", str(tmp_path / "out")])
    assert e.value.code == 2 and "has no run.json" in capsys.readouterr().err


def test_run_json_records_the_starting_weights_digest(tiny_model_dir):
    import hashlib

    from paperzoo.g2p.train import init_digest

    assert init_digest("") is None
    assert init_digest(str(tiny_model_dir)) == hashlib.sha256((tiny_model_dir / "model.safetensors").read_bytes()
                                                              ).hexdigest()


def test_restart_dropout_sets_every_dropout_and_the_config(tiny_model_dir):
    from paperzoo.g2p.model import load_g2p
    from paperzoo.g2p.train import set_dropout

    model, cfg, _ = load_g2p(tiny_model_dir)
    new = set_dropout(model, cfg, 0.25)
    assert new.dropout == 0.25 and cfg.dropout == 0.0
    rates = [m.p if isinstance(m, torch.nn.Dropout) else m.dropout for m in model.modules()
             if isinstance(m, (torch.nn.Dropout, torch.nn.MultiheadAttention))]
    assert rates and all(r == 0.25 for r in rates)
    with pytest.raises(ConfigError, match="restart-dropout"):
        set_dropout(model, cfg, 1.5)


@pytest.mark.parametrize("flag,value", [("--restart-dropout", "0.2"), ("--widen-ff", "600")])
def test_warm_restart_options_without_init_are_one_line_exit_2(tmp_path, capsys, flag, value):
    with pytest.raises(SystemExit) as e:
        main(["--out", str(tmp_path / "run"), flag, value])
    assert e.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {flag} needs --init") and "\n" not in err
    assert not (tmp_path / "run").exists()


def test_widen_ff_keeps_the_function_and_reloads(tiny_model_dir, tmp_path):
    from paperzoo.g2p.model import count_params, load_g2p, save_g2p
    from paperzoo.g2p.train import widen_ff

    model, cfg, _ = load_g2p(tiny_model_dir)
    model.eval()
    torch.manual_seed(1)
    src, tgt = torch.randint(4, 20, (3, 6)), torch.randint(4, 20, (3, 5))
    before, n_before = model(src, tgt), count_params(model)
    wide = widen_ff(model, cfg, cfg.d_ff + 8)
    assert wide.d_ff == cfg.d_ff + 8
    n_blocks = cfg.n_layers + cfg.n_dec_layers  # each block gains 8 rows + biases in linear1, 8 columns in linear2
    assert count_params(model) - n_before == n_blocks * 8 * (2 * cfg.d_model + 1)
    torch.testing.assert_close(model(src, tgt), before, rtol=0, atol=0)  # the new units start silent
    save_g2p(model, tmp_path / "w", wide)
    again, cfg2, _ = load_g2p(tmp_path / "w")
    again.eval()
    assert cfg2.d_ff == wide.d_ff
    torch.testing.assert_close(again(src, tgt), before, rtol=0, atol=0)
    with pytest.raises(ConfigError, match="only widens"):
        widen_ff(model, wide, cfg.d_ff)
