"""`paperzoo g2p` on ordinary and odd input: a result or a one-line error, never a traceback."""

import io
import json

import pytest

from paperzoo.cli import main


def _run(argv, capsys, monkeypatch, stdin=None):
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin if stdin is not None else ""))
    code = 0
    try:
        main(argv)
    except SystemExit as e:
        code = e.code or 0
    out, err = capsys.readouterr()
    return code, out, err


def test_words_on_the_command_line(tiny_model_dir, capsys, monkeypatch):
    code, out, _ = _run(["g2p", "--model", str(tiny_model_dir), "hello", "world"], capsys, monkeypatch)
    assert code == 0
    assert out.splitlines() == ["hello  HH AH L OW", "world  W ER L D"]


def test_help(capsys, monkeypatch):
    code, out, _ = _run(["g2p", "--help"], capsys, monkeypatch)
    assert code == 0 and "--no-lexicon" in out and "--format" in out


def test_file_tsv_and_stdin_json(tiny_model_dir, tmp_path, capsys, monkeypatch):
    f = tmp_path / "words.txt"
    f.write_text("cat\n\nzyxorbia\n")
    code, out, _ = _run(["g2p", "--model", str(tiny_model_dir), "--file", str(f), "--format", "tsv"], capsys,
                        monkeypatch)
    lines = out.splitlines()
    assert code == 0 and lines[0] == "cat\tK AE T" and lines[1].startswith("zyxorbia\t")
    code, out, _ = _run(["g2p", "--model", str(tiny_model_dir), "--format", "json", "--no-lexicon"], capsys,
                        monkeypatch, stdin="dog\n")
    rec = json.loads(out)
    assert code == 0 and rec[0]["word"] == "dog" and isinstance(rec[0]["phonemes"], list)


@pytest.mark.parametrize("words", [["O'BRIEN"], ["naïve"], ["ok", "42"], [" ".join(["ab"] * 3000)]])
def test_odd_words_give_a_result(tiny_model_dir, words, capsys, monkeypatch):
    code, out, err = _run(["g2p", "--model", str(tiny_model_dir), "--format", "tsv", "-f", "-"], capsys,
                          monkeypatch, stdin="\n".join(words))
    assert code == 0 and out.strip() and "Traceback" not in err


@pytest.mark.parametrize("stdin", ["", "\n", "1234 5678", "x" * 10_000])
def test_unusable_input_gives_one_line_error(tiny_model_dir, stdin, capsys, monkeypatch):
    code, out, err = _run(["g2p", "--model", str(tiny_model_dir), "-f", "-"], capsys, monkeypatch, stdin=stdin)
    assert code == 2 and err.startswith("error: ") and len(err.strip().splitlines()) == 1


def test_bad_options_are_one_line_errors(tmp_path, capsys, monkeypatch):
    code, _, err = _run(["g2p", "--format", "xml", "cat"], capsys, monkeypatch)
    assert code == 2 and "--format" in err and len(err.strip().splitlines()) == 1
    code, _, err = _run(["g2p", "--model", str(tmp_path), "cat"], capsys, monkeypatch)
    assert code == 2 and err.startswith("error: ") and len(err.strip().splitlines()) == 1
