"""`make_accelerator`: one process may switch device; a rank without a GPU gets a clear error."""

import pytest
import torch
from accelerate.state import AcceleratorState, PartialState

from paperzoo.engine.accel import make_accelerator
from paperzoo.errors import ConfigError


def test_cpu_accelerator_after_a_cuda_one_in_the_same_process():
    make_accelerator("cpu")
    # what a CUDA run leaves in Accelerate's per-process state (`paperzoo reproduce` on a GPU machine, then a
    # CPU-pinned step); Accelerate itself raises "AcceleratorState has already been initialized" here
    for state in (PartialState._shared_state, AcceleratorState._shared_state):
        state["device"] = torch.device("cuda", 0)
    acc = make_accelerator("cpu")
    assert acc.device.type == "cpu" and AcceleratorState._shared_state["device"].type == "cpu"


def test_more_ranks_than_gpus_is_a_one_line_error(monkeypatch):
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(ConfigError, match=r"LOCAL_RANK 1 but the machine has 1 GPU.*--nproc_per_node 1.*--device cpu"):
        make_accelerator("cuda")
    assert make_accelerator("cpu").device.type == "cpu"  # the fix the message names


def test_cuda_without_a_gpu_is_a_one_line_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    with pytest.raises(ConfigError, match="PyTorch sees no GPU.*--device cpu"):
        make_accelerator("cuda")
    with pytest.raises(ConfigError, match="--device must be auto, cpu or cuda, got 'gpu'"):
        make_accelerator("gpu")  # not mistaken for cuda
