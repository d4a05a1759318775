"""The snn-tcl recipe end to end on a tiny config (digits, 2 seeds, 1 epoch)."""

import json

import pytest

from paperzoo.runner import run_recipe


@pytest.mark.slow  # ~18 s CPU (runner, TensorBoard logger, plots): run with -m slow
def test_recipe_tiny(tmp_path):
    sets = ["mlp_hidden=16", "epochs=1", "seeds=2", "timesteps=4,8,256", "test_limit=60", "calib_batches=1",
            "reset_zero_ablation=false"]
    m = run_recipe("snn-tcl", "quick", tmp_path, sets=sets)
    for k in ("ann_acc_plain", "ann_acc_tcl", "snn_acc_tcl_T4", "snn_acc_max_T8", "snn_acc_p999_T256",
              "snn_acc_tclmax_T4", "snn_sops_tcl_T8", "ann_macs"):
        assert k in m and 0 <= m[k] < 1e9
    ids = {c["id"] for c in m["claims"]}
    assert {"tcl_T8_near_ann", "tcl_vs_max_T4", "tcl_vs_p999_T4", "tcl_T256_matches_ann"} <= ids
    assert all(isinstance(c["holds"], bool) for c in m["claims"])
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["snn_acc_tcl_T4"] == m["snn_acc_tcl_T4"]
    assert (tmp_path / "accuracy_latency.png").is_file()
