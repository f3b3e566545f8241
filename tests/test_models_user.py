"""Issue 14: what users' models need (:mod:`seqsal.models.user`) — a static batch run on any number of
sequences, channels-last input, and architecture files the user names, with their errors."""
from __future__ import annotations

import json
import sys

import pytest
import torch
from safetensors.torch import save_file

from seqsal.errors import InputError
from seqsal.models import load_model
from seqsal.models.user import ChannelsLast, FixedBatch

ARCH = '''
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self, channels=3, input_length=12):
        super().__init__()
        self.input_length, self.task_names = input_length, ["a", "b"]
        self.conv = nn.Conv1d(4, channels, 3, padding=1)
        self.head = nn.Linear(channels, 2)

    def forward(self, x):
        return self.head(torch.relu(self.conv(x)).mean(dim=-1))


class Helper:
    pass
'''


def test_fixed_batch_cuts_and_pads():
    calls = []

    class Heads(torch.nn.Module):
        def forward(self, x):
            calls.append(x.shape[0])
            return {"a": x.sum(dim=(1, 2)), "b": (x[:, 0], x.mean(dim=1))}

    x = torch.randn(7, 4, 5)
    out = FixedBatch(Heads(), 3)(x)
    assert calls == [3, 3, 3]
    torch.testing.assert_close(out["a"], x.sum(dim=(1, 2)))
    torch.testing.assert_close(out["b"][1], x.mean(dim=1))


def test_channels_last_keeps_the_models_layer_names_and_gradients():
    inner = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Flatten(), torch.nn.Linear(30, 1))  # (N, L, 4)
    wrapped = ChannelsLast(inner)
    assert [name for name, _ in wrapped.named_modules()] == [name for name, _ in inner.named_modules()]
    assert len(list(wrapped.parameters())) == 4
    x = torch.randn(2, 4, 10, requires_grad=True)
    (gradient,) = torch.autograd.grad(wrapped(x).sum(), x)
    leaf = x.detach().transpose(1, 2).requires_grad_(True)
    (expected,) = torch.autograd.grad(inner(leaf).sum(), leaf)
    torch.testing.assert_close(gradient, expected.transpose(1, 2))


@pytest.fixture()
def weights(tmp_path):
    arch = tmp_path / "arch.py"
    arch.write_text(ARCH)
    namespace: dict = {}
    exec(compile(ARCH, "arch", "exec"), namespace)
    model = namespace["Net"](channels=3)
    save_file({key: value.contiguous() for key, value in model.state_dict().items()}, tmp_path / "w.safetensors")
    (tmp_path / "config.json").write_text(json.dumps({"channels": 3}))
    return arch, tmp_path / "w.safetensors", tmp_path / "config.json", model


def test_a_user_architecture_loads_and_is_recorded(weights):
    arch, path, config, model = weights
    loaded = load_model(path, architecture=f"{arch}:Net", config=config)
    assert loaded.source == "state_dict" and loaded.input_length == 12 and loaded.task_names == ["a", "b"]
    assert loaded.description["architecture"] == f"{arch.resolve()}:Net"
    assert len(loaded.description["architecture_sha256"]) == 64 and str(arch.parent) not in sys.path
    x = torch.rand(3, 4, 12)
    torch.testing.assert_close(loaded.module(x), model(x))


def test_user_architecture_errors_name_the_file_and_what_to_do(weights, tmp_path):
    arch, path, config, model = weights
    broken = tmp_path / "broken.py"
    broken.write_text("import torch\n\nclass Net(torch.nn.Module):\n    def __init__(self)\n        pass\n")
    raising = tmp_path / "raising.py"
    raising.write_text("import torch\nx = 1\n\nraise RuntimeError('no GPU here')\n")
    cases = [
        (f"{arch}", r'name the model class after the file: architecture=".*arch.py:ClassName" \(its nn.Module '
                    r"classes: Net\)"),
        (f"{arch}:Helper", r"not an nn.Module class: 'Helper' in the architecture file; its nn.Module classes: Net"),
        (f"{arch}:Nope", r"no class 'Nope' in the architecture file; its nn.Module classes: Net"),
        (f"{tmp_path}/missing.py:Net", r"missing.py: architecture file not found"),
        (f"{broken}:Net", r"broken.py:4: cannot import the architecture file \(SyntaxError"),
        (f"{raising}:Net", r"raising.py:4: cannot import the architecture file \(RuntimeError: no GPU here\)"),
    ]
    for architecture, message in cases:
        with pytest.raises(InputError, match=message):
            load_model(path, architecture=architecture, config=config)
    with pytest.raises(InputError, match=r"Net\(\*\*config\) failed \(TypeError"):
        load_model(path, architecture=f"{arch}:Net", config={"colour": 3})
    with pytest.raises(InputError, match=r"weights do not fit Net of arch.py with this config: conv.bias is \[3\] in "
                                         r"the file, the config makes it \[5\]"):
        load_model(path, architecture=f"{arch}:Net", config={"channels": 5})
    torch.jit.save(torch.jit.trace(model, torch.zeros(1, 4, 12)), tmp_path / "m.ts")
    with pytest.raises(InputError, match="TorchScript archive, which holds its own model.*drop architecture"):
        load_model(tmp_path / "m.ts", architecture=f"{arch}:Net")


def test_an_export_with_a_small_fixed_batch_is_loaded_with_a_hint_to_export_a_dynamic_one(tmp_path, caplog):
    """fresh11: a program exported with its default static batch (2) made DeepSHAP's shuffled null 130x slower than
    the same model with a dynamic batch, silently."""
    import logging
    import warnings

    model = torch.nn.Sequential(torch.nn.Conv1d(4, 3, 3, padding=1), torch.nn.Flatten(), torch.nn.Linear(36, 1)).eval()
    for name, dynamic in (("static.pt2", None), ("dynamic.pt2", ({0: torch.export.Dim("batch")},))):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.export.save(torch.export.export(model, (torch.zeros(2, 4, 12),), dynamic_shapes=dynamic),
                              str(tmp_path / name))
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="seqsal"):
            load_model(tmp_path / name)
        assert ("exported with a fixed batch of 2" in caplog.text) == (dynamic is None)


def test_a_long_list_of_keys_that_do_not_fit_says_how_many_more():
    """fresh25b: "the file has ['head.bias', 'head.weight', 'trunk.c1.bias'] instead" read as the whole list."""
    from seqsal.models.user import state_mismatch

    expected = {f"a{i}": (1,) for i in range(5)}
    given = {f"b{i}": (1,) for i in range(6)}
    assert state_mismatch(expected, given) == ("missing ['a0', 'a1', 'a2'] and 2 more, the file has "
                                               "['b0', 'b1', 'b2'] and 3 more instead")
    assert state_mismatch({}, {"b0": (1,)}) == "unexpected ['b0']"
