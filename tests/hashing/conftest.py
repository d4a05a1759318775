import pytest

from paperzoo.cli import main


@pytest.fixture
def one_line_error():
    """Run the CLI on ``args``; assert exit code 2 and a single ``error:`` line on stderr; return it."""

    def run(args, capsys) -> str:
        with pytest.raises(SystemExit) as e:
            main(args)
        assert e.value.code == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error:") and len(err.splitlines()) == 1
        return err

    return run
