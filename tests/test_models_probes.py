"""Determinism probes (:mod:`seqsal.models.probes`): models left in training mode are refused with the reason."""
from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn

import seqsal
from seqsal.errors import InputError
from seqsal.models import load_model
from seqsal.models.probes import check_deterministic, output_leaves, probe_windows

ADVICE = "export or trace the model in eval mode (call model.eval() before torch.export.export or torch.jit.trace)"


def _basset(dropout: float = 0.3) -> nn.Module:
    torch.manual_seed(0)
    return seqsal.BassetCNN(input_length=100, channels=(8, 8), kernel_sizes=(7, 5), pool_sizes=(4, 4), hidden=16,
                            dropout=dropout)


def _export(model: nn.Module, path) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.export.export(model, (torch.zeros(4, 4, 100),),
                                      dynamic_shapes=({0: torch.export.Dim("batch")},))
    torch.export.save(program, str(path))
    return str(path)


def test_eval_mode_models_pass(tmp_path):
    model = _basset().eval()
    check_deterministic(model, 100)
    check_deterministic(load_model(_export(model, tmp_path / "m.pt2")).module, 100)
    check_deterministic(seqsal.BPNet(n_filters=4, n_layers=2).eval(), 64)
    scripted = tmp_path / "s.pt"
    torch.jit.save(torch.jit.script(_basset().train()), str(scripted))  # scripted: load_model's eval() applies
    check_deterministic(load_model(scripted).module, 100)


def test_export_in_training_mode_with_dropout_is_refused(tmp_path):
    path = _export(_basset().train(), tmp_path / "train.pt2")
    with pytest.raises(InputError, match=r"the model gives different outputs for the same input \(") as caught:
        check_deterministic(load_model(path).module, 100, path=path)
    assert str(caught.value).startswith(f"{path}: ")
    assert str(caught.value).endswith("dropout or another random layer is active (a model exported or traced in "
                                      f"training mode); {ADVICE}")


def test_export_in_training_mode_with_batch_norm_only_is_refused(tmp_path):
    """No randomness, but batch statistics: a window's output depends on the rest of its batch and its padding."""
    path = _export(_basset(dropout=0.0).train(), tmp_path / "bn.pt2")
    model = load_model(path).module
    with pytest.raises(InputError, match=r"the model's output for a window depends on the other windows of its batch "
                                         r"\(alone: .*; among 2 other windows: .*; padded with 2 zero windows: .*\): "
                                         r"batch norm in training mode \(batch statistics\); export or trace"):
        check_deterministic(model, 100)


def test_torchscript_traced_in_training_mode_is_refused(tmp_path):
    path = tmp_path / "traced.pt"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.jit.save(torch.jit.trace(_basset().train(), torch.zeros(4, 4, 100), check_trace=False), str(path))
    loaded = load_model(path)  # load_model calls eval(): a traced graph keeps its training-mode dropout anyway
    with pytest.raises(InputError, match="dropout or another random layer is active"):
        check_deterministic(loaded.module, 100)


def test_a_model_that_fails_on_a_batch_of_one_is_refused():
    """Training-mode batch norm after flattening cannot normalise a batch of one."""
    model = nn.Sequential(nn.Conv1d(4, 2, 5), nn.Flatten(), nn.BatchNorm1d(2 * 16), nn.Linear(32, 1)).train()
    with pytest.raises(InputError, match=r"fails on a batch of one window \(Expected more than 1 value per channel"):
        check_deterministic(model, 20)


def test_probe_helpers():
    x = probe_windows(3, 50, seed=2)
    assert x.shape == (3, 4, 50) and torch.equal(x.sum(1), torch.ones(3, 50))
    assert torch.equal(x, probe_windows(3, 50, seed=2))
    a, b = torch.zeros(2), torch.ones(2, 3)
    assert [t.shape for t in output_leaves({"h": a, "m": (b, [a])})] == [a.shape, b.shape, a.shape]


@pytest.mark.parametrize("kind", ["dropout", "batch statistics"])
def test_the_tensor_api_refuses_what_the_pipeline_refuses(kind):
    """fresh11: seqsal.attribute explained a model traced in training mode (each call returned other maps, 0.95 of
    their scale apart) or one computing batch statistics in forward, where run_attribute refused them."""

    class BatchStatistics(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv, self.dense = nn.Conv1d(4, 8, 7, padding=3), nn.Linear(800, 1)

        def forward(self, x):
            h = self.conv(x)
            return self.dense((h - h.mean(0)).flatten(1))  # each window minus the batch mean

    torch.manual_seed(0)
    if kind == "dropout":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = torch.jit.trace(_basset(0.5).train(), torch.zeros(2, 4, 100), check_trace=False)
    else:
        model = BatchStatistics().eval()
    x = probe_windows(6, 100)
    for method in ("saliency", "ism"):
        with pytest.raises(InputError, match="different outputs for the same input|depends on the other windows"):
            seqsal.attribute(model, x, method=method)
    assert seqsal.attribute(_basset(0.5).eval(), x, method="saliency").shape == (6, 4, 100)  # eval mode: fine


class _LargeBatchStatistics(nn.Module):
    """Centred on the batch mean only in batches of 5 or more (the anymodel helper's BigBatch): the probe batches of
    1 and 3 windows saw nothing, and every map came out 0."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(4, 4, 5, padding=2)

    def forward(self, x):
        y = self.conv(x).mean(dim=(1, 2))
        return y - y.mean() if x.shape[0] >= 5 else y


class _WritesItsInput(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(4, 1, 5)

    def forward(self, x):
        x.mul_(2)
        return self.conv(x).mean(dim=(1, 2))


def test_a_batch_dependence_that_shows_only_in_large_batches_is_refused_at_the_runs_batch_size():
    model = _LargeBatchStatistics().eval()
    check_deterministic(model, 30)  # batches of 1 and 3 only: not seen
    check_deterministic(model, 30, batch_size=4)
    with pytest.raises(InputError, match=r"among 2 other windows: .*; among 15 other windows: .*batch statistics"):
        check_deterministic(model, 30, batch_size=64)
    x = probe_windows(6, 30, seed=1)
    with pytest.raises(InputError, match="among 5 other windows"):
        seqsal.attribute(model, x)  # the tensor API probes at its batches' size (6 windows)



def test_the_large_probe_batch_holds_at_most_probe_bases():
    """long23: 16 windows of a 2-Mb region fed whole took 5 GB in the probe, before any attribution."""
    from seqsal.models.probes import PROBE_BASES

    class Batches(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv, self.seen = nn.Conv1d(4, 1, 1), []

        def forward(self, x):
            self.seen.append(x.shape[0])
            return self.conv(x).mean(dim=(1, 2))

    for length, largest in ((PROBE_BASES // 5, 5), (PROBE_BASES // 3, 3), (30, 16)):
        model = Batches().eval()
        check_deterministic(model, length, batch_size=64)
        assert max(model.seen) == largest, (length, model.seen)

def test_a_model_that_writes_into_its_input_is_named_for_that_not_for_dropout():
    with pytest.raises(InputError, match="the model writes into its input tensor") as caught:
        check_deterministic(_WritesItsInput().eval(), 30)
    assert "dropout" not in str(caught.value)


def test_a_float64_model_is_told_its_number_type_not_its_input_length(tmp_path):
    """anymodel: a model of float64 parameters was told to give --window with its input length."""
    from seqsal.model_checks import check_model_input
    from seqsal.models.files import LoadedModel
    from seqsal.attribution import Target

    model = nn.Sequential(nn.Conv1d(4, 2, 5), nn.Flatten(), nn.Linear(2 * 26, 1)).double().eval()
    with pytest.raises(InputError, match="parameters are float64; seqsal runs models in float32"):
        check_model_input(LoadedModel(model, None, None, "test"), None, 30, Target(), "cpu")
    with pytest.raises(InputError, match="parameters are float64; seqsal runs models in float32"):
        seqsal.attribute(model, probe_windows(2, 30, seed=0))
    seqsal.attribute(model.float(), probe_windows(2, 30, seed=0))  # converted: explained


def test_a_model_of_token_indices_is_named_for_its_embedding_not_its_channels():
    """anymodel: nn.Embedding(4, 8) then a conv of 8 channels was told its first layer takes 8 input channels."""
    from seqsal.attribution import Target
    from seqsal.model_checks import check_model_input
    from seqsal.models.files import LoadedModel

    class Tokens(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed, self.conv = nn.Embedding(4, 8), nn.Conv1d(8, 1, 5)

        def forward(self, tokens):
            return self.conv(self.embed(tokens).transpose(1, 2)).mean(dim=(1, 2))

    with pytest.raises(InputError, match="holds an embedding \\(nn.Embedding\\): it takes token indices") as caught:
        check_model_input(LoadedModel(Tokens().eval(), None, None, "test"), None, 30, Target(), "cpu")
    assert "8 input channels" not in str(caught.value)


_RANDOM_IN_EVAL = '''
import torch
import torch.nn.functional as F
from torch import nn


class Net(nn.Module):
    def __init__(self, noise="dropout"):
        super().__init__()
        self.noise, self.conv, self.head = noise, nn.Conv1d(4, 4, 5, padding=2), nn.Linear(4, 1)

    def forward(self, x):
        h = self.conv(x)
        h = F.dropout(h, 0.5, training=True) if self.noise == "dropout" else h + torch.randn_like(h)
        return self.head(h.mean(dim=-1))
'''


@pytest.mark.parametrize("noise", ["dropout", "randn"])
def test_a_python_module_random_in_eval_mode_is_told_to_fix_its_forward_not_to_export_in_eval_mode(tmp_path, noise):
    """byom: an architecture file whose forward calls F.dropout(training=True) (or adds torch.randn noise) was told
    to "export or trace the model in eval mode": seqsal had already called .eval() on it."""
    from seqsal.model_checks import check_model_determinism

    (tmp_path / "arch.py").write_text(_RANDOM_IN_EVAL)
    (tmp_path / "config.json").write_text(f'{{"noise": "{noise}"}}')
    weights = tmp_path / "weights.pt"
    torch.save({"conv.weight": torch.randn(4, 4, 5), "conv.bias": torch.zeros(4), "head.weight": torch.randn(1, 4),
                "head.bias": torch.zeros(1)}, str(weights))
    loaded = load_model(weights, architecture=f"{tmp_path / 'arch.py'}:Net", config=str(tmp_path / "config.json"))
    assert loaded.source == "state_dict"
    with pytest.raises(InputError, match=r"the model gives different outputs for the same input \(") as caught:
        check_model_determinism(loaded, 30, "cpu")
    message = str(caught.value)
    assert "forward draws random numbers even in eval mode (F.dropout(training=True), torch.randn, ...)" in message
    assert "make it deterministic in eval mode" in message
    assert "torch.jit.trace" not in message and "exported or traced" not in message
    assert message.startswith(f"{weights}: ")  # named without the caller passing the path
    with pytest.raises(InputError, match="forward draws random numbers even in eval mode"):
        seqsal.attribute(loaded.module, probe_windows(2, 30))  # the tensor API: told from the module's type


def _nlc_weights(tmp_path) -> tuple[str, str]:
    """A state_dict of a model of channels-last input (N, L, 4) of 16 bases, and its architecture file."""
    (tmp_path / "nlc.py").write_text("from torch import nn\n\n\nclass Net(nn.Module):\n    def __init__(self):\n"
                                     "        super().__init__()\n        self.dense = nn.Linear(4, 1)\n\n"
                                     "    def forward(self, x):\n        return self.dense(x).sum(dim=(1, 2))\n")
    weights = tmp_path / "nlc.pt"
    torch.save({"dense.weight": torch.randn(1, 4), "dense.bias": torch.zeros(1)}, str(weights))
    return str(weights), f"{tmp_path / 'nlc.py'}:Net"


def test_model_input_refusals_name_the_model_file(tmp_path):
    """byom: "the model fails on (N, 4, L) ... pass --layout nlc" and "fails on an input of shape" said no file,
    where the other model errors name it."""
    from seqsal.attribution import Target
    from seqsal.model_checks import check_model_input

    weights, architecture = _nlc_weights(tmp_path)
    with pytest.raises(InputError, match=r"the model fails on \(N, 4, 30\) .* but runs on") as caught:
        check_model_input(load_model(weights, architecture=architecture), None, 30, Target(), "cpu")
    assert str(caught.value).startswith(f"{weights}: ")
    path = tmp_path / "fixed.pt"
    torch.jit.save(torch.jit.script(nn.Sequential(nn.Conv1d(4, 2, 5), nn.Flatten(), nn.Linear(2 * 96, 1))), str(path))
    with pytest.raises(InputError, match=r"the model fails on an input of shape \(N, 4, 60\)") as caught:
        check_model_input(load_model(path), 60, 60, Target(), "cpu")
    assert str(caught.value).startswith(f"{path}: ")


@pytest.mark.parametrize("method", ["gradcam", "deepshap"])
def test_method_refusals_of_torchscript_name_the_model_file(tmp_path, method):
    from seqsal.methods import hypothetical_attributions

    path = tmp_path / "scripted.pt"
    torch.jit.save(torch.jit.script(nn.Sequential(nn.Conv1d(4, 2, 5), nn.ReLU(), nn.Flatten(), nn.Linear(52, 1))),
                   str(path))
    with pytest.raises(InputError, match=f"{method} needs a Python nn.Module") as caught:
        hypothetical_attributions(load_model(path).module, probe_windows(2, 30), method)
    assert str(caught.value).startswith(f"{path}: ")
