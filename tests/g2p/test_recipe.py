"""The g2p recipe end to end on a tiny budget: metrics and claims are written, never faked."""

import pytest

from paperzoo.runner import run_recipe


@pytest.mark.slow
def test_quick_recipe_tiny(tmp_path):
    m = run_recipe("g2p", "quick", tmp_path, sets=["subset_words=200", "max_steps=6", "eval_every=3", "n_eval=20",
                                                  "n_valid=50", "test_words=30", "beam=2", "d_model=16",
                                                  "d_ff=32", "n_layers=1", "n_dec_layers=1"])
    ids = {c["id"]: c for c in m["claims"]}
    assert {"loss_falls", "per_improves", "wer_paper", "per_paper", "small"} <= set(ids)
    # only 30 test words were scored: the paper-level claims cannot hold on a partial test set
    assert ids["wer_paper"]["holds"] is False
    assert (tmp_path / "metrics.json").is_file() and (tmp_path / "report.md").is_file()
    if "test_wer" in m:
        assert 0 <= m["test_wer"] <= 100 and m["words_per_sec_greedy"] > 0 and m["params"] > 0
