"""CNC CNN training (paperzoo.netclass.train): the official staircase learning-rate decay."""

import numpy as np
from accelerate import Accelerator

from paperzoo.netclass.model import CNC, CNCConfig
from paperzoo.netclass.train import CNNTrainConfig, staircase_lr, train_cnc


def test_staircase_lr_decays_per_official_epoch_of_images():
    cfg = CNNTrainConfig(lr=0.01, lr_decay=0.5, decay_images=100)
    assert [staircase_lr(cfg, s) for s in (0, 99, 100, 250)] == [0.01, 0.01, 0.005, 0.0025]


def test_many_small_epochs_keep_the_official_lr():
    # bug fixed: x0.95 per *small* epoch shrank lr to 0.95**epochs; officially lr stays 0.01 over
    # the 8,000 images of the one epoch
    rng = np.random.default_rng(0)
    X, y = rng.random((8, 1, 16, 16)).astype(np.float32), np.array([0, 1] * 4)
    lrs = []
    train_cnc(X, y, CNC(CNCConfig(size=16)), CNNTrainConfig(epochs=30, batch_size=4), Accelerator(cpu=True),
              log=lambda step, **s: lrs.append(s["lr"]))
    assert len(lrs) == 30 and np.allclose(lrs, 0.01)
