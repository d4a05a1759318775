"""The ``seg3d`` recipe end to end on a tiny generated setting (paperzoo.seg3d.recipe)."""

import json

from paperzoo.runner import run_recipe


def test_recipe_tiny_end_to_end(tmp_path):
    sets = ["phantom_size=32", "n_train=2", "n_test=1", "channels=4,8", "roi=8,8,8", "stage1_steps=3",
            "stage2_steps=3", "batch=1", "seeds=1", "radii=0,1,3"]
    m = run_recipe("seg3d", "quick", tmp_path, sets=sets)
    ids = {c["id"] for c in m["claims"]}
    assert {"region", "small_gain", "large_same", "stage2_over_stage1", "tile_skipping"} <= ids
    assert all(isinstance(c["holds"], bool) for c in m["claims"])
    assert 0 < m["region_fraction_r3"] <= 1 and 0 <= m["dice_stage2_liver"] <= 1
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["time_cascade_s_per_volume"] > 0
    assert (tmp_path / "overlay.png").is_file() and (tmp_path / "dice_and_region.png").is_file()
    assert (tmp_path / "checkpoints" / "cascade" / "stage2.safetensors").is_file()
