"""Devices and precision (:mod:`seqsal.devices`)."""
import pytest
import torch
from torch import nn

from seqsal.devices import autocast_dtype_for, on_device, select_device
from seqsal.errors import InputError


def test_device_and_precision_choices():
    assert select_device("cpu").type == "cpu"
    assert select_device(None).type in ("cpu", "cuda", "mps")
    if not torch.cuda.is_available():
        with pytest.raises(InputError, match="no CUDA"):
            select_device("cuda")
    assert autocast_dtype_for("fp32", torch.device("cpu")) is None
    assert autocast_dtype_for("bf16", torch.device("cpu")) == torch.bfloat16
    with pytest.raises(InputError, match='precision="fp16" needs a GPU'):
        autocast_dtype_for("fp16", torch.device("cpu"))


def test_on_device():
    cpu = torch.device("cpu")
    assert on_device(nn.Linear(3, 1), cpu)
    assert not on_device(nn.ReLU(), cpu)  # nothing to check: a module with no tensors is moved anyway
    assert not on_device(nn.Linear(3, 1).to(torch.float64).to("meta"), cpu)
