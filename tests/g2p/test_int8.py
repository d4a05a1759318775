"""The int8 option (``G2P.load(int8=True)``, ``paperzoo g2p --int8``) on real words: its accuracy is measured
against the float model on g014b2b test words, greedy and beam."""

import io

import pytest

from paperzoo.cli import main
from paperzoo.g2p import G2P
from paperzoo.g2p.data import load_split
from paperzoo.g2p.metrics import wer_per


@pytest.fixture(scope="module")
def words_refs():
    refs = load_split()[1]
    # 1,200 words spread over the alphabet: int8 activation scales are per batch, so a few words flip with the batch's
    # make-up; on 300 words that alone moved WER by 2.3 points (7 words), on 1,200 it averages out (full test: 0.05)
    words = sorted(refs)[::10]
    return words, {w: refs[w] for w in words}


@pytest.mark.parametrize("beam", [1, 4])
def test_int8_predicts_like_float(words_refs, beam):
    words, refs = words_refs
    f32 = G2P.load(use_lexicon=False).predict_model(words, beam=beam)
    i8 = G2P.load(use_lexicon=False, int8=True).predict_model(words, beam=beam)
    same = sum(a == b for a, b in zip(f32, i8)) / len(words)
    w32, w8 = wer_per(dict(zip(words, f32)), refs)["wer"], wer_per(dict(zip(words, i8)), refs)["wer"]
    assert same >= 0.95, f"only {same:.1%} of int8 hypotheses equal the float ones"
    assert abs(w8 - w32) <= 0.01


def test_cli_int8(capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    try:
        main(["g2p", "--int8", "--no-lexicon", "--beam", "1", "phoneme"])
    except SystemExit as e:
        assert not e.code
    out = capsys.readouterr().out.split()
    assert out[0] == "phoneme" and "F" in out[1:] and "M" in out[1:]


def test_cli_int8_with_onnx_export_is_one_line_exit_2(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    with pytest.raises(SystemExit) as e:
        main(["g2p", "--int8", "--export-onnx", str(tmp_path / "m.onnx")])
    assert e.value.code == 2
    err = capsys.readouterr().err.strip()
    assert "--int8 does not apply to --export-onnx" in err and "\n" not in err
    assert not (tmp_path / "m.onnx").exists()
