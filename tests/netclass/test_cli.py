"""CLI (paperzoo.netclass.cli): train -> predict -> image on tiny fixture graphs; clear errors.

The group's typer app is called directly (``paperzoo.cli.main`` would import every system's CLI);
`paperzoo.cli.main` turns the `PaperzooError`s checked here into ``error: ...`` and exit code 2.
"""

import networkx as nx
import pytest

from paperzoo.errors import PaperzooError
from paperzoo.netclass.cli import app


def main(argv):
    assert argv[0] == "netclass"
    app(args=argv[1:], prog_name="paperzoo netclass", standalone_mode=False)


@pytest.fixture()
def graph_dir(tmp_path):
    rows = ["file,label"]
    for i in range(6):
        nx.write_edgelist(nx.barabasi_albert_graph(40, 2, seed=i), tmp_path / f"ba{i}.edgelist", data=False)
        nx.write_edgelist(nx.watts_strogatz_graph(40, 4, 0.1, seed=i), tmp_path / f"ws{i}.edgelist", data=False)
        rows += [f"ba{i}.edgelist,BA", f"ws{i}.edgelist,WS"]
    (tmp_path / "labels.csv").write_text("\n".join(rows) + "\n")
    return tmp_path


def test_train_predict_image(graph_dir, capsys):
    model = graph_dir / "m" / "cnc"
    main(["netclass", "train", str(graph_dir), "--labels", str(graph_dir / "labels.csv"), "--out", str(model),
          "--n-walks", "200", "--size", "16", "--epochs", "2", "--workers", "1"])
    assert (model.with_suffix(".safetensors")).is_file() and (model.with_suffix(".json")).is_file()
    main(["netclass", "predict", str(model), str(graph_dir / "ba0.edgelist"), str(graph_dir / "ws1.edgelist")])
    lines = [ln.split("\t") for ln in capsys.readouterr().out.strip().splitlines() if "\t" in ln]
    assert len(lines) == 2 and all(ln[1] in ("BA", "WS") and 0.0 <= float(ln[2]) <= 1.0 for ln in lines)
    png = graph_dir / "img.png"
    main(["netclass", "image", str(graph_dir / "ba0.edgelist"), "--out", str(png), "--model", str(model)])
    assert png.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("argv,msg", [
    (["netclass", "predict", "nowhere/model", "x.txt"], "does not exist"),
    (["netclass", "image", "missing.edgelist", "--out", "x.png"], "does not exist"),
])
def test_user_mistakes_are_one_line_errors(argv, msg):
    with pytest.raises(PaperzooError, match=msg) as e:
        main(argv)
    assert "\n" not in str(e.value)


def test_image_of_edgeless_graph_is_a_clear_error(tmp_path):
    p = tmp_path / "lonely.txt"
    p.write_text("1\n2\n")
    with pytest.raises(PaperzooError, match="no edges"):
        main(["netclass", "image", str(p), "--out", str(tmp_path / "x.png")])


def test_image_with_sppmi_embedder_and_unknown_embedder(graph_dir):
    png = graph_dir / "sppmi.png"
    main(["netclass", "image", str(graph_dir / "ws0.edgelist"), "--out", str(png), "--n-walks", "200",
          "--size", "16", "--embedder", "sppmi"])
    assert png.read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(PaperzooError, match="embedder") as e:
        main(["netclass", "image", str(graph_dir / "ws0.edgelist"), "--out", str(png), "--embedder", "glove"])
    assert "\n" not in str(e.value)
