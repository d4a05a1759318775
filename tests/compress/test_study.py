"""The compression sweep: what is pruned/quantized, and the fine-tuned dense control."""

import torch

from paperzoo.compress import compress_lm, masks_of, quant_bits_of, target_weights
from paperzoo.compress.study import compression_sweep


def _lm():
    torch.manual_seed(0)
    return compress_lm(vocab=20, depth=1, width=16, seq_len=8)


def test_exclude_embeddings_leaves_out_the_tied_softmax_too():
    m = _lm()
    names = {r.name for r in target_weights(m, include_embeddings=False)}
    assert "embed.weight" not in names and "lm_head.weight" not in names
    assert any("linear1" in n for n in names) and any("in_proj_weight" in n for n in names)
    assert any("out_proj" in n for n in names)


def test_sweep_prunes_linears_only_quantizes_embedding_and_runs_the_control():
    m = _lm()
    x = torch.randint(0, 20, (4, 8))
    batches = [(x, x)]
    seen, calls = [], []

    def finetune(model, steps, level):
        calls.append((steps, level))
        seen.append(model)

    before = {k: v.clone() for k, v in m.state_dict().items()}
    pts = compression_sweep(m, batches, sparsities=(0.0, 0.5), bits=(4,), iter_steps=2, iter_final=0.6,
                            finetune=finetune, ft_steps=3, combo_bits=(4,))
    assert all(torch.equal(v, m.state_dict()[k]) for k, v in before.items())  # the trained model is untouched
    methods = [p["method"] for p in pts]
    assert methods.count("dense-ft") == 2 and methods.count("prune-iterative") == 2
    assert calls == [(3, 0), (3, 0), (3, 1), (3, 1)]  # pruned model and control get the same fine-tunes
    pruned, control = seen[-2], seen[-1]
    assert not masks_of(control)
    assert "embed.weight" not in masks_of(pruned) and masks_of(pruned)
    one = next(p for p in pts if p["method"] == "prune-oneshot")
    assert 0.0 < one["measured_sparsity"] < 0.5  # 50 % of the Linear weights = less of all matrices
    lin = target_weights(pruned, include_embeddings=False)
    z = sum(int((r.tensor == 0).sum()) for r in lin)
    n = sum(r.tensor.numel() for r in lin)
    assert z == n - round(0.4 * n)  # exact sparsity over the pruned tensors at the last level (0.6)
    assert quant_bits_of(m) == {}
