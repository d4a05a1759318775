import json

import pytest

from paperzoo.errors import ConfigError
from paperzoo.runner import run_recipe


def test_bad_config_rejected(tmp_path):
    with pytest.raises(ConfigError, match="multiple of 8"):
        run_recipe("hashing", "quick", tmp_path / "r", sets=["bits=12,16"])
    with pytest.raises(ConfigError, match="independence and balance"):
        run_recipe("hashing", "quick", tmp_path / "r2", sets=["independence=-1"])


@pytest.mark.slow
def test_tiny_quick_run_writes_claims(tmp_path):
    out = tmp_path / "run"
    run_recipe("hashing", "quick", out, sets=["seeds=2", "epochs=1", "train_landmarks=6", "train_views=6",
                                              "test_landmarks=3", "test_views=6", "n_distractors=10", "qsize=16",
                                              "bits=16,32"])
    m = json.loads((out / "metrics.json").read_text())
    ids = {c["id"] for c in m["claims"]}
    assert {"beats_itq_16", "beats_itq_32", "quantisation_term"} <= ids
    assert 0 <= m["map_bcdh_16"] <= 100 and (out / "map_vs_bits.png").is_file() and (out / "model.safetensors").is_file()
    # the paper-protocol row: ITQ on the untrained descriptors, with BCDH's paired gain over it
    assert 0 <= m["map_itq_untrained_16"] <= 100
    assert m["gain_vs_itq_untrained_16"] == pytest.approx(m["map_bcdh_16"] - m["map_itq_untrained_16"], abs=1e-2)
    report = (out / "report.md").read_text()
    assert "ITQ untrained" in report
    # the notes' sizes are this run's: 3 landmarks x 3 queries, 1 epoch of 16 tuples in batches of 8
    assert m["n_queries"] == 9 and m["max_w_steps_per_run"] == 2 and m["descriptor_dim"] > 0
    if any(not c["holds"] for c in m["claims"] if c["id"].startswith("beats_itq")):
        assert f"{m['n_queries']} queries x {int(m['n_database'])} database images and at most 2 W-steps" in report
        # headroom: the un-hashed descriptors' Euclidean mAP minus ITQ's, from this run's own metrics
        assert f"reach {m['phi_map']:.1f} mAP, above ITQ's codes by {m['phi_map'] - m['map_itq_16']:+.1f} mAP at 16 bits" \
            in report
