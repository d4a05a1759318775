import json

import pytest

from paperzoo.runner import run_recipe


@pytest.mark.slow  # ~10-60 s depending on load: the pieces have their own fast tests
def test_quick_recipe_tiny_end_to_end(tmp_path):
    sets = ["train_landmarks=4", "train_views=5", "test_landmarks=3", "test_views=4", "test_queries=1",
            "n_distractors=4", "epochs=1", "qsize=8", "poolsize=20", "nnum=2", "seeds=2", "ablations=false",
            "width=4", "imsize=16", "t_s=10"]
    m = run_recipe("retrieval", "quick", tmp_path, sets=sets)
    ids = {c["id"] for c in m["claims"]}
    assert {"evaluator", "lw_vs_pcaw", "finetune"} <= ids
    assert next(c for c in m["claims"] if c["id"] == "evaluator")["holds"] is True
    assert 0 <= m["map_medium_gem_hard"] <= 100
    assert (tmp_path / "model.safetensors").is_file() and (tmp_path / "query_topk.png").is_file()
    assert json.loads((tmp_path / "model.json").read_text())["whiten_dim"] == 16
