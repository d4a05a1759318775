"""Part ``resnet`` of wide-thin: ImageFolder data, step-indexed batches, resumable stages, end to end."""

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import DataLoader

from paperzoo.data.vision import ImageFolderDataset
from paperzoo.engine import RunContext, make_accelerator
from paperzoo.errors import DataError
from paperzoo.runner import run_recipe
from paperzoo.widethin import (
    ResNetSpec,
    WinStudent,
    block_outputs,
    build,
    depth_of,
    view_of,
    widen,
    widths_of,
)
from paperzoo.widethin.recipe import train_loop
from paperzoo.widethin.resnet import (
    AugmentedImages,
    StepBatches,
    cosine_lr,
    init_maps_lstsq,
    load_image_folders,
    recalibrate_bn,
    step_lr,
)

TINY = ["rn_block=basic", "rn_layers=1,1", "rn_widths=4,8", "rn_stem=cifar", "rn_image_size=16", "rn_batch=6",
        "rn_epochs=4", "rn_teacher_epochs=2", "rn_imitation_epochs=2", "rn_kd_epochs=1", "rn_workers=0",
        "rn_eval_batch=16", "rn_bn_batches=2", "rn_lstsq_batches=1"]


def _write_folder(root, classes=3, n_train=4, n_val=2):
    """ImageNet layout: root/{train,val}/<class>/<image>.png, 16x16 RGB, one colour per class plus noise."""
    rng = np.random.default_rng(0)
    for split, n in (("train", n_train), ("val", n_val)):
        for c in range(classes):
            d = root / split / f"n0{c}"
            d.mkdir(parents=True)
            for i in range(n):
                a = np.zeros((16, 16, 3)) + 60
                a[..., c % 3] = 200
                Image.fromarray(np.clip(a + rng.normal(0, 30, a.shape), 0, 255).astype(np.uint8)).save(d / f"{i}.png")
    return root


@pytest.fixture
def folder(tmp_path):
    return _write_folder(tmp_path / "imagenet")


def test_resnet_part_end_to_end(folder, tmp_path):
    out = tmp_path / "run"
    m = run_recipe("wide-thin", "full", out, data_dir=folder, sets=["parts=resnet", *TINY])
    for k in ("acc_win", "acc_scratch", "acc_kd", "acc_win_ci_low", "rn_acc_win", "rn_acc_scratch", "rn_acc_kd",
              "rn_acc_teacher", "rn_win_minus_scratch", "rn_acc_hybrid_stage2"):
        assert k in m and np.isfinite(m[k]), k
    assert 0 <= m["acc_win"] <= 100 and m["rn_classes"] == 3 and m["rn_student_steps"] == 8  # 4 epochs x 2 steps
    claims = {c["id"]: c for c in m["claims"]}
    assert claims["rn_merge_exact"]["holds"] is True and m["rn_merge_error_max"] < 1e-5
    assert claims["rn_win_above_resnet101"]["holds"] is None  # not ImageNet-1k: not evaluated
    assert isinstance(claims["rn_win_beats_scratch"]["holds"], bool)
    for st in ("teacher", "scratch", "kd", "imitate00", "imitate01", "finetune"):
        assert (out / "checkpoints" / f"rn-s0-{st}" / "state.json").is_file(), st
    assert (out / "resnet_win_seed0.safetensors").is_file()
    assert json.loads((out / "metrics.json").read_text())["rn_seeds"] == 1


def test_step_batches_are_a_pure_function_of_the_step():
    full = list(StepBatches(10, 4, 0, 7, salt=3))
    assert list(StepBatches(10, 4, 3, 7, salt=3)) == full[3:]
    assert [len(b) for b in full] == [4] * 7
    epoch0 = [i for b in full[:2] for _, i in b]  # 2 steps per epoch, no repeats inside an epoch
    assert len(set(epoch0)) == 8 and [t for t, _ in full[5]] == [5] * 4


def _stage(folder, out, resume=None, crash_at=None):
    """One SGD stage of a tiny ResNet over a prepared DataLoader, checkpointing every 2 steps."""
    acc = make_accelerator("cpu")
    ctx = RunContext(out=out, recipe_id="wide-thin", preset="full", seed=0, accelerator=acc, resume=resume)
    images = AugmentedImages(ImageFolderDataset(folder / "train", size=16), pad=2)
    torch.manual_seed(0)
    model = build(ResNetSpec(block="basic", layers=(1, 1), widths=(4, 8), stem="cifar", num_classes=3))
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4)
    model, opt = acc.prepare(model, opt)

    def data(start):
        return acc.prepare(DataLoader(images, batch_sampler=StepBatches(len(images), 4, start, 7, salt=1)))

    def loss_at(t, batch):
        if t == crash_at:
            raise KeyboardInterrupt  # the machine goes down mid-stage
        x, y = batch
        return F.cross_entropy(model(x), y)

    try:
        train_loop(ctx, "rn-s0-scratch", model, list(model.parameters()), 7, loss_at, 0.05, optimizer=opt,
                   lr_at=step_lr(7), data=data, replicated=True, checkpoint_every=2)
    finally:
        ctx.logger.close()
    return model


def test_resnet_stage_interrupted_and_resumed_gives_the_same_weights(folder, tmp_path):
    ref = _stage(folder, tmp_path / "a")
    with pytest.raises(KeyboardInterrupt):
        _stage(folder, tmp_path / "b", crash_at=5)
    resumed = _stage(folder, tmp_path / "c", resume=tmp_path / "b")
    for (n, p), q in zip(ref.state_dict().items(), resumed.state_dict().values()):  # BN buffers included
        assert torch.equal(p, q), n


def test_widen_resnet_keeps_blocks_and_multiplies_channels():
    spec = ResNetSpec(block="basic", layers=(1, 2), widths=(4, 8), stem="imagenet", num_classes=3)
    wide = widen(spec, 3)
    thin_m, wide_m = build(spec), build(wide)
    assert depth_of(wide) == 2 and [len(s) for s in wide_m.stages] == [len(s) for s in thin_m.stages] == [1, 2]
    assert list(widths_of(wide)) == [12, 24] and wide_m.stages[1][1].conv2.out_channels == 24


def test_merge_exact_basic_resnet_imagenet_stem():
    torch.manual_seed(0)
    spec = ResNetSpec(block="basic", layers=(1, 1, 1), widths=(4, 8, 8), stem="imagenet", num_classes=5)
    wide = build(widen(spec, 2)).double().eval()
    st = WinStudent(build(spec), list(widths_of(widen(spec, 2))), wide_head=wide.fc).double().eval()
    g = torch.Generator().manual_seed(1)
    for p in st.pairs:
        with torch.no_grad():
            p.up.weight.copy_(torch.randn(p.up.weight.shape, generator=g, dtype=torch.float64))
            p.down.weight.copy_(torch.randn(p.down.weight.shape, generator=g, dtype=torch.float64) * 0.3)
    x = torch.randn(2, 3, 32, 32, dtype=torch.float64)
    assert (st.merge().eval()(x) - st(x)).abs().max() < 1e-6


def test_schedules():
    s = step_lr(90)
    assert s(0) == pytest.approx(0.2) and s(10) == 1.0 and s(31) == pytest.approx(0.1) and s(85) == pytest.approx(1e-3)
    c = cosine_lr(10, offset=5)
    assert c(5) == 1.0 and c(15) == pytest.approx(0.0, abs=1e-12)


def test_bad_image_folders_are_one_line_data_errors(tmp_path):
    with pytest.raises(DataError, match="no val/ folder"):
        (tmp_path / "x/train/a").mkdir(parents=True)
        load_image_folders(tmp_path / "x", 16)
    root = _write_folder(tmp_path / "y", classes=2)
    (root / "val/extra").mkdir()
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(root / "val/extra/0.png")
    with pytest.raises(DataError, match="same class folders"):
        load_image_folders(root, 16)
    with pytest.raises(DataError, match="needs --data-dir"):
        run_recipe("wide-thin", "full", tmp_path / "r1", sets=["parts=resnet"])
    with pytest.raises(DataError, match="ImageNet-layout"):
        run_recipe("wide-thin", "quick", tmp_path / "r2", sets=["parts=resnet"])


def test_budget_without_fine_tuning_is_a_config_error(folder, tmp_path):
    from paperzoo.errors import ConfigError
    with pytest.raises(ConfigError, match="no fine-tuning"):
        run_recipe("wide-thin", "full", tmp_path / "r", data_dir=folder,
                   sets=["parts=resnet", *TINY, "rn_imitation_epochs=4"])


def test_recalibrate_bn_sets_running_stats_to_the_data_average():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4))
    net.eval()
    xs = [torch.randn(5, 3, 6, 6) * 3 + 1 for _ in range(3)]
    assert recalibrate_bn(net, net, [(x, None) for x in xs]) == 3
    feats = [net[0](x) for x in xs]
    mean = torch.stack([f.mean(dim=(0, 2, 3)) for f in feats]).mean(0)  # equal batch sizes: average of batch means
    assert torch.allclose(net[1].running_mean, mean, atol=1e-5)
    assert not net.training and net[1].momentum == 0.1


def test_lstsq_stage_start_lowers_imitation_error_and_keeps_pairs_inverse():
    torch.manual_seed(0)
    spec = ResNetSpec(block="basic", layers=(1, 1), widths=(4, 8), stem="cifar", num_classes=3)
    wv = view_of(build(widen(spec, 2)).eval())
    st = WinStudent(build(spec), list(widths_of(widen(spec, 2)))).eval()
    xs = [(torch.randn(8, 3, 8, 8), None) for _ in range(3)]

    def rel(k):
        with torch.no_grad():
            y = block_outputs(wv, xs[0][0], upto=k)[k]
            return float(((st(xs[0][0], stage=k) - y) ** 2).sum() / (y ** 2).sum())

    for k in range(2):
        before = rel(k)
        assert init_maps_lstsq(st, wv, k, xs) == 3
        assert rel(k) < 0.8 * before
    assert (st.pairs[0].matrix() - torch.eye(4, dtype=torch.float64)).abs().max() < 1e-5  # C_0 = pinv(A_0)
