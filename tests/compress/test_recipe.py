"""The `large-compress` recipe end to end on a tiny grid: metrics, claims and plots are written."""

import json

import pytest

from paperzoo.errors import ConfigError
from paperzoo.runner import run_recipe

TINY = ["sizes=L1-H16,L1-H32", "lrs=0.003,0.002", "steps=6", "eval_every=3", "seeds=1", "eval_windows=8", "seq_len=16",
        "batch_size=4", "iter_steps=2", "prune_ft_steps=1", "sparsities=0.6", "bits=8,4", "combo_bits=4",
        "max_chars=40000", "budgets=4", "qat_bits=2", "qat_steps=1"]


def test_quick_recipe_tiny(tmp_path):
    m = run_recipe("large-compress", "quick", tmp_path, sets=TINY)
    saved = json.loads((tmp_path / "metrics.json").read_text())
    ids = {c["id"] for c in saved["claims"]}
    assert {"large_fewer_steps", "large_wallclock", "robust_sparsity60_oneshot", "robust_sparsity60_iterative",
            "robust_bits4_ptq", "best_of_both"} <= ids
    assert all(isinstance(c["holds"], bool) for c in saved["claims"])
    for n in ("L1-H16", "L1-H32"):
        assert m[f"final_val_loss_{n}"] > 0
        assert "loss_increase_bits4_ptq_" + n in m
        assert m[f"train_cpu_s_{n}"] > 0
    assert m["param_span"] > 1
    for png in ("loss_vs_steps_and_time", "loss_vs_sparsity_and_bits", "loss_vs_compressed_size"):
        assert (tmp_path / f"{png}.png").is_file()


def test_per_size_learning_rates_must_match_sizes(tmp_path):
    with pytest.raises(ConfigError, match="one per size"):
        run_recipe("large-compress", "quick", tmp_path, sets=[*TINY, "lrs=0.001"])
