"""``paperzoo pyramidal summary`` / ``list`` and their one-line errors."""

from __future__ import annotations

import pytest

from paperzoo.cli import main
from paperzoo.pyramidal.cli import summarize


def test_summary_counts_params_and_flops(capsys):
    s = summarize("pyramidal_ror110_a48", image_size=8)
    assert s["params"] == 1_779_266 and 0 < s["ror_projection_params"] < 0.005 * s["params"]
    assert s["flops"] == 2 * s["macs"] > 0
    # FLOPs scale with the image area (convolutions dominate): 16x16 has 4x the 8x8 count, FC aside
    s16 = summarize("pyramidal_ror110_a48", image_size=16)
    assert 3.9 < s16["flops"] / s["flops"] <= 4.0
    main(["pyramidal", "summary", "pyramidnet110_a48", "--image-size", "8"])
    out = capsys.readouterr().out
    assert "params" in out and "FLOPs" in out and "1,772,706" in out


def test_summary_unknown_name_is_one_line_error(capsys):
    with pytest.raises(SystemExit) as e:
        main(["pyramidal", "summary", "pyramidnet110_a47"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: unknown model") and "pyramidnet110_a48" in err and "Traceback" not in err
