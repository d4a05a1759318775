"""Part ``bert`` of wide-thin: byte text folder, BERT masking, the encoder under WIN, end to end."""

import pytest
import torch

from paperzoo.errors import DataError
from paperzoo.runner import run_recipe
from paperzoo.widethin import BertSpec, MaskedLMEncoder, WinStudent, build, depth_of, widen, widths_of
from paperzoo.widethin.bert import MASK_ID, load_text_folder, mask_tokens

TINY = ["parts=bert", "bert_layers=2", "bert_d_model=16", "bert_heads=2", "bert_seq_len=16", "bert_batch=4",
        "bert_teacher_steps=6", "bert_student_steps=8", "bert_imitation_steps=2", "bert_eval_batches=1",
        "bert_dropout=0.0", "bert_val_frac=0.1"]


@pytest.fixture
def text_dir(tmp_path):
    d = tmp_path / "text"
    (d / "more").mkdir(parents=True)
    (d / "a.txt").write_text("The wide network teaches the thin one, layer by layer. " * 12, encoding="utf-8")
    (d / "more/b.txt").write_text("Große Netze lehren schmale Netze Schicht für Schicht. " * 6, encoding="utf-8")
    (d / "ignored.md").write_text("not read", encoding="utf-8")
    return d


def test_bert_part_end_to_end(text_dir, tmp_path):
    m = run_recipe("wide-thin", "full", tmp_path / "run", data_dir=text_dir, sets=TINY)
    for k in ("mlm_loss_win", "mlm_loss_scratch", "mlm_loss_teacher", "mlm_acc_win", "mlm_acc_scratch", "mlm_loss_gain"):
        assert k in m and m[k] == m[k], k
    assert 0 < m["mlm_loss_win"] < 10 and 0 <= m["mlm_acc_win"] <= 100
    claims = {c["id"]: c for c in m["claims"]}
    assert claims["bert_merge_exact"]["holds"] is True
    assert isinstance(claims["bert_win_beats_scratch"]["holds"], bool)
    for st in ("teacher", "scratch", "imitate00", "imitate01", "finetune"):
        assert (tmp_path / "run/checkpoints" / f"bert-s0-{st}" / "state.json").is_file(), st


def test_load_text_folder_reads_txt_bytes_recursively(text_dir):
    train, held, n = load_text_folder(text_dir, 0.1, 16)
    raw = (text_dir / "a.txt").read_bytes() + b"\n" + (text_dir / "more/b.txt").read_bytes()
    assert n == 2 and bytes(torch.cat([train, held]).to(torch.uint8).tolist()) == raw
    assert int(torch.cat([train, held]).max()) < 256  # bytes; 256 is [MASK]


def test_mask_tokens_follows_bert():
    x = torch.randint(0, 256, (64, 128), generator=torch.Generator().manual_seed(0))
    inp, tgt = mask_tokens(x, 0.15, torch.Generator().manual_seed(1))
    picked = tgt != -100
    assert abs(picked.float().mean().item() - 0.15) < 0.01
    assert torch.equal(tgt[picked], x[picked]) and torch.equal(inp[~picked], x[~picked])
    masked = (inp[picked] == MASK_ID).float().mean().item()
    assert 0.75 < masked < 0.85


def test_widen_bert_and_merge_exact():
    spec = BertSpec(d_model=16, n_heads=2, d_ff=64, n_layers=3, max_len=16, dropout=0.0)
    wide = widen(spec, 2)
    assert isinstance(wide, BertSpec) and depth_of(wide) == 3 and (wide.d_model, wide.d_ff) == (32, 128)
    torch.manual_seed(0)
    st = WinStudent(build(spec), list(widths_of(wide))).double()
    assert isinstance(st.thin, MaskedLMEncoder)
    for p in st.pairs:
        with torch.no_grad():
            p.log_scale.fill_(0.4)
    x = torch.randint(0, 257, (2, 16))
    assert st(x, stage=2).shape == (2, 16, 32)
    assert (st.merge()(x)[0] - st(x)).abs().max() < 1e-6


def test_bad_text_dirs(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no .txt files"):
        run_recipe("wide-thin", "full", tmp_path / "r", data_dir=tmp_path / "empty", sets=["parts=bert"])
    (tmp_path / "empty/short.txt").write_text("too short")
    with pytest.raises(DataError, match="too few"):
        load_text_folder(tmp_path / "empty", 0.05, 128)
