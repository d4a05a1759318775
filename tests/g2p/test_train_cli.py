"""`python -m paperzoo.g2p.train`: a warm restart must keep the validation split of the run it continues."""

import pytest

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
