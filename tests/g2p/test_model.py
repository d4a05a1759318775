"""The S4 model: size of the paper's 4 x 4 configuration, save/load round trip, ONNX export."""

import pytest
import torch

from paperzoo.errors import CheckpointError
from paperzoo.g2p.data import pad_batch
from paperzoo.g2p.model import G2PModelConfig, build_model, count_params, load_g2p, make_vocabs
from paperzoo.registry import create_model


def test_paper_config_is_under_two_million_parameters():
    n = count_params(create_model("g2p_transformer"))
    assert 1_000_000 < n <= 2_000_000


def test_forward_shapes_and_label_smoothed_loss():
    m = build_model(G2PModelConfig(d_model=16, n_heads=2, d_ff=32, n_layers=1, n_dec_layers=1))
    src_v, tgt_v = make_vocabs()
    src = pad_batch([src_v.encode(list("CAT")), src_v.encode(list("HELLO"))])
    tgt = pad_batch([tgt_v.encode(["K", "AE", "T"]), tgt_v.encode(["HH", "AH", "L", "OW"])], bos=True)
    logits, loss = m(src, tgt[:, :-1], tgt[:, 1:], label_smoothing=0.1)
    assert logits.shape == (2, tgt.size(1) - 1, len(tgt_v)) and torch.isfinite(loss)


def test_save_load_roundtrip(tiny_model_dir):
    m, cfg, meta = load_g2p(tiny_model_dir)
    assert cfg.d_model == 16 and meta["phonemes"][4:6] == ["AA", "AE"]
    m2, _, _ = load_g2p(tiny_model_dir)
    for a, b in zip(m.state_dict().values(), m2.state_dict().values()):
        assert torch.equal(a, b)


def test_missing_model_is_a_checkpoint_error(tmp_path):
    with pytest.raises(CheckpointError, match="config.json"):
        load_g2p(tmp_path)


@pytest.mark.slow
def test_onnx_export_matches_pytorch(tiny_model_dir, tmp_path):
    pytest.importorskip("onnxruntime")
    from paperzoo.g2p.onnx_export import export_onnx

    m, _, _ = load_g2p(tiny_model_dir)
    err = export_onnx(m, tmp_path / "g2p.onnx")
    assert err < 1e-4 and (tmp_path / "g2p.onnx").stat().st_size > 0
