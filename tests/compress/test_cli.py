"""`paperzoo compress size|prune|quantize` on a safetensors checkpoint; one-line errors for mistakes."""

import pytest
import torch
from safetensors import safe_open

from paperzoo.cli import main
from paperzoo.compress import compress_lm, count_zeros
from paperzoo.compress.cli import load_compressed
from paperzoo.engine import save_weights

ARGS = ["--model", "compress_lm", "--arg", "vocab=30", "--arg", "depth=1", "--arg", "width=32"]


@pytest.fixture()
def ckpt(tmp_path):
    torch.manual_seed(0)
    p = tmp_path / "m.safetensors"
    save_weights(compress_lm(vocab=30, depth=1, width=32), p)
    return p


def test_prune_quantize_size(ckpt, tmp_path, capsys):
    pruned = tmp_path / "p.safetensors"
    main(["compress", "prune", str(ckpt), *ARGS, "--sparsity", "0.75", "--out", str(pruned)])
    assert "sparsity 0.7500" in capsys.readouterr().out
    m = load_compressed(compress_lm(vocab=30, depth=1, width=32), pruned)
    z, n = count_zeros(m)
    assert z == n - round(0.25 * n)
    q = tmp_path / "q.safetensors"
    main(["compress", "quantize", str(pruned), *ARGS, "--bits", "3", "--packed", "--out", str(q)])
    with safe_open(str(q), "pt") as f:
        codes = f.get_tensor("blocks.layers.0.linear1.weight.q")
    assert codes.dtype == torch.int8 and codes.abs().max() <= 3
    main(["compress", "size", str(pruned), *ARGS, "--bits", "4"])
    assert "nonzeros" in capsys.readouterr().out


def test_masks_kept_then_reloaded(ckpt, tmp_path):
    out = tmp_path / "masked.safetensors"
    main(["compress", "prune", str(ckpt), *ARGS, "--sparsity", "0.5", "--keep-masks", "--out", str(out)])
    m = load_compressed(compress_lm(vocab=30, depth=1, width=32), out)
    assert hasattr(m.blocks.layers[0].linear1, "parametrizations")


@pytest.mark.parametrize("argv", [
    ["compress", "size", "missing.safetensors", *ARGS],
    ["compress", "size", "CKPT", "--model", "compress_lm", "--arg", "vocab=31", "--arg", "depth=1", "--arg", "width=32"],
    ["compress", "size", "CKPT", "--model", "no_such_model"],
    ["compress", "prune", "CKPT", *ARGS, "--sparsity", "2", "--out", "x.safetensors"],
])
def test_user_mistakes_are_one_line_errors(argv, ckpt, capsys):
    argv = [str(ckpt) if a == "CKPT" else a for a in argv]
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and len(err.splitlines()) == 1


def test_linear_only_masks_reload_without_embedding_mask(tmp_path):
    """A checkpoint pruned without the embedding (the study's setting) reloads mask for mask."""
    from paperzoo.compress import masks_of, prune_, quantize_weights_

    torch.manual_seed(0)
    m = compress_lm(vocab=30, depth=1, width=32)
    prune_(m, 0.6, include_embeddings=False)
    quantize_weights_(m, 4)  # the embedding gets a quantizer only, Linears mask then quantizer
    p = tmp_path / "lin.safetensors"
    save_weights(m, p)
    back = load_compressed(compress_lm(vocab=30, depth=1, width=32), p)
    assert set(masks_of(back)) == set(masks_of(m)) and "embed.weight" not in masks_of(back)
    assert count_zeros(back) == count_zeros(m)
    x = torch.randint(0, 30, (2, 8))
    assert torch.allclose(back(x)[0], m(x)[0])
