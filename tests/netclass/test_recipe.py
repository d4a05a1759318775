"""Recipe ``netclass`` end to end on a tiny configuration (every method, claims computed)."""

import json

from paperzoo.runner import run_recipe


def test_recipe_tiny(tmp_path):
    sets = ["seeds=1", "tasks=ba_ws,robust", "n_nodes=40", "train_per_class=4", "test_per_class=3", "robust_m=2,4",
            "robust_per_class=2", "n_walks=100", "size=16", "epochs=2", "gin_epochs=1", "workers=1"]
    m = run_recipe("netclass", "quick", tmp_path, sets=sets, device="cpu")
    assert 0.0 <= m["ba_ws_test_acc_CNC"] <= 1.0 and "ba_ws_test_acc_GIN" in m and "robust_acc_m4" in m
    ids = {c["id"] for c in m["claims"]}
    assert {"ba_ws_error", "robust_density"} <= ids
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert all(isinstance(c["holds"], bool) for c in saved["claims"])
    assert (tmp_path / "cnc_images.png").is_file() and (tmp_path / "report.md").is_file()
    # the report's cost line comes from this run's own measurement, not a constant
    assert f"This run turned {int(m['graphs_featurised'])} graphs into images" in (tmp_path / "report.md").read_text()


def test_recipe_tiny_four_class_reports_the_variant_beside_the_paper_image(tmp_path):
    sets = ["seeds=1", "tasks=four", "four_n_train=40", "four_n_test_large=60", "four_train_per_class=3",
            "four_test_per_class=2", "n_walks=100", "size=16", "epochs=2", "baselines=stats", "workers=1"]
    m = run_recipe("netclass", "quick", tmp_path, sets=sets, device="cpu")
    assert "four_same_size_acc_CNC" in m and "four_larger_acc_CNC-fixed" in m
    claims = {c["id"]: c for c in m["claims"]}
    assert "variant CNC-fixed" in claims["four_size_gen"]["ours"]  # the variant is named, the claim is CNC's
    assert claims["four_acc"]["holds"] == (m["four_same_size_acc_CNC"] >= 0.95)
