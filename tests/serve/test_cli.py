import pytest

from paperzoo.cli import main


def test_serve_rejects_bad_options(capsys, tmp_path):
    with pytest.raises(SystemExit) as e:
        main(["serve", "--port", "0"])
    assert e.value.code == 2 and "--port must be" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["serve", "--retrieval-index", str(tmp_path)])
    assert e.value.code == 2 and "not an index directory" in capsys.readouterr().err


def test_serve_help_lists_options(capsys):
    try:
        main(["serve", "--help"])
    except SystemExit as e:
        assert e.code == 0
    out = capsys.readouterr().out
    for opt in ("--host", "--port", "--retrieval-index", "--hash-index", "--netclass-model", "--seg3d-model",
                "--workers", "--access-log"):
        assert opt in out
