"""The ``seg3d`` recipe end to end on a tiny generated setting (paperzoo.seg3d.recipe)."""

import json

from paperzoo.runner import run_recipe


def test_recipe_tiny_end_to_end(tmp_path):
    sets = ["phantom_size=32", "n_train=2", "n_test=1", "channels=4,8", "roi=8,8,8", "stage1_steps=3",
            "stage2_steps=3", "batch=1", "seeds=1", "radii=0,1,3", "n_val=1", "select_region_threshold=true"]
    m = run_recipe("seg3d", "quick", tmp_path, sets=sets)
    ids = {c["id"] for c in m["claims"]}
    assert {"region", "small_gain", "large_same", "stage2_over_stage1", "tile_skipping"} <= ids
    assert all(isinstance(c["holds"], bool) for c in m["claims"])
    assert 0 < m["region_fraction_r3"] <= 1 and 0 <= m["dice_stage2_liver"] <= 1
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["time_cascade_s_per_volume"] > 0
    assert (tmp_path / "overlay.png").is_file() and (tmp_path / "dice_and_region.png").is_file()
    assert (tmp_path / "checkpoints" / "cascade" / "stage2.safetensors").is_file()
    for tau in ("0", "0.1", "0.2", "0.3"):  # the tau sweep at the configured radius, on test and held-out volumes
        assert 0 <= m[f"region_fraction_t{tau}"] <= 1 and 0 <= m[f"val_region_min_recall_t{tau}"] <= 1
    tau = json.loads((tmp_path / "checkpoints" / "cascade" / "model.json").read_text())["config"]["region_threshold"]
    assert tau in (0.0, 0.1, 0.2, 0.3) and m["region_threshold"] == tau  # selected on held-out volumes, saved


def test_select_region_threshold_rule():
    import numpy as np

    from paperzoo.seg3d.evaluate import select_region_threshold

    frac = np.array([0.10, 0.20, 0.15, 0.12])
    rec = np.array([[np.nan, 0.98, 1.0], [np.nan, 1.0, 1.0], [np.nan, 0.995, 1.0], [np.nan, 0.985, 1.0]])
    assert select_region_threshold(frac, rec, (0.0, 0.1, 0.2, 0.3)) == 0.2  # smallest region with >= 99 %
    assert select_region_threshold(frac, rec[:, [0, 1, 1]] - 0.1, (0.0, 0.1, 0.2, 0.3)) == 0.1  # none: best recall


def test_equal_training_steps_and_single_stage_resolution():
    from paperzoo.seg3d.phantom import ORGANS, make_phantoms
    from paperzoo.seg3d.recipe import Seg3dConfig, fit_cascade, fit_single_stage

    cases = make_phantoms(1, (32, 32, 32), "A", 0)
    base = dict(channels=(4, 8), num_res_units=0, roi=(8, 8, 8), stage1_steps=2, stage2_steps=3, batch=1,
                optimizer="adam", lr=1e-3, rotate_deg=0.0)
    steps = {"cascade": [], "single": []}
    cascade = fit_cascade(Seg3dConfig(**base), cases, len(ORGANS), ORGANS, seed=0,
                          log=lambda s, p, v: steps["cascade"].append(p))
    assert steps["cascade"] == ["stage1"] * 2 + ["stage2"] * 3 and cascade.cfg.stage1_factor == 2
    for single_factor, expect in ((0, 2), (1, 1)):  # 0 = stage 1's resolution (the paper's one-network setting)
        steps["single"].clear()
        single = fit_single_stage(Seg3dConfig(**base, single_factor=single_factor, stage2_factor=2), cases,
                                  len(ORGANS), ORGANS, seed=0, log=lambda s, p, v: steps["single"].append(p))
        assert len(steps["single"]) == 5  # the same number of optimisation steps as the cascade
        assert single.stage2 is None and single.cfg.stage1_factor == expect
