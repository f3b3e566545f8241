"""Issue 16 follow-ups: the Fourier prior on positive windows only (Tseng et al. 2020), and the RC-consistency term on
maps centred per position over the batch (a sequence-independent, mirror-symmetric positional profile no longer
satisfies it for free)."""
from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from torch import nn

import seqsal.train as train_module
from seqsal.cli import main
from seqsal.encode import reverse_complement_one_hot
from seqsal.errors import InputError
from seqsal.models import build_model
from seqsal.train import train_step
from seqsal.train_options import TrainOptions, check_options
from seqsal.train_priors import (centred_pair, fourier_penalty, fourier_prior_term, input_gradients,
                                 positive_thresholds, positive_windows, rc_consistency)
from tests.test_train import _options as _train_options
from tests.test_train import world  # noqa: F401  (a pytest fixture: three chromosomes with a planted motif)

TINY = {"channels": [8, 8], "kernel_sizes": [5, 3], "pool_sizes": [2, 2], "hidden": 8, "dropout": 0.1}


def _one_hot(n: int, length: int, seed: int = 0) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    x = np.zeros((n, 4, length), dtype=np.float32)
    x[np.arange(n)[:, None], rng.integers(0, 4, (n, length)), np.arange(length)[None, :]] = 1
    return torch.as_tensor(x)


# ---- which windows are positives ---------------------------------------------------------------------------------

def test_positive_thresholds_classification_regression_and_all_windows():
    labels = np.array([[0.0, 5.0], [1.0, 1.0], [2.0, 3.0], [3.0, 7.0], [10.0, 2.0]])
    assert positive_thresholds(labels, "regression", 0.5).tolist() == [2.0, 3.0]  # the median of each task
    assert positive_thresholds(labels, "regression", 0.75).tolist() == pytest.approx(np.quantile(labels, 0.75, 0))
    assert positive_thresholds(np.array([[0.0], [1.0], [1.0]]), "classification", 0.5).tolist() == [0.5]
    assert positive_thresholds(labels, "regression", None).tolist() == [-np.inf, -np.inf]
    with pytest.raises(ValueError, match="quantile"):
        positive_thresholds(labels, "regression", 1.0)


def test_positive_windows_is_strictly_above_in_any_task():
    labels = torch.tensor([[2.0, 3.0], [2.1, 0.0], [0.0, 3.5], [1.0, 1.0]])
    assert positive_windows(labels, torch.tensor([2.0, 3.0])).tolist() == [False, True, True, False]
    classes = torch.tensor([[0.0], [1.0], [1.0], [0.0]])
    assert positive_windows(classes, torch.tensor([0.5])).tolist() == [False, True, True, False]


def test_train_options_refuse_a_quantile_outside_0_1():
    check_options(TrainOptions(fourier_positives=None))
    with pytest.raises(InputError, match="fourier_positives"):
        check_options(TrainOptions(fourier_positives=1.0))


# ---- the Fourier term ---------------------------------------------------------------------------------------------

def test_fourier_term_is_the_mean_penalty_of_the_positive_windows_only():
    rng = np.random.default_rng(2)
    noise = rng.normal(size=(3, 4, 100))  # high-frequency tracks
    bump = np.exp(-0.5 * ((np.arange(100) - 50) / 12.0) ** 2)[None, None].repeat(4, 1).repeat(3, 0)  # smooth
    attr = torch.as_tensor(np.concatenate([noise, bump]), dtype=torch.float32)
    positives = torch.tensor([False, False, False, True, True, True])
    got = float(fourier_prior_term(attr, positives))
    assert got == pytest.approx(float(fourier_penalty(attr[3:])), abs=1e-7)
    assert got < float(fourier_penalty(attr)) - 0.05  # the noisy negatives do not count


def test_fourier_term_is_zero_without_positives_and_has_no_gradient():
    attr = torch.randn(4, 4, 60, requires_grad=True)
    value = fourier_prior_term(attr, torch.zeros(4, dtype=torch.bool))
    assert float(value) == 0.0 and not value.requires_grad
    value = fourier_prior_term(attr, torch.tensor([True, False, False, False]))
    (gradient,) = torch.autograd.grad(value, attr)
    assert float(gradient[1:].abs().sum()) == 0.0 and float(gradient[0].abs().sum()) > 0


def _step(options: TrainOptions, thresholds: np.ndarray | None, labels: np.ndarray) -> dict:
    """One train_step of a fixed tiny Basset on a fixed batch; the weights after it and the terms."""
    torch.manual_seed(0)
    model = build_model("basset", {**TINY, "input_length": 64, "n_tasks": 1, "task_names": ["a"]})
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    batch = {"x": _one_hot(8, 64, seed=5).numpy(), "y": labels.astype(np.float32)}
    torch.manual_seed(1)
    model.train()
    terms = train_step(model, optimiser, batch, options, np.random.default_rng(0), torch.device("cpu"), None, 2.0,
                       thresholds=thresholds)
    return {"state": copy.deepcopy(model.state_dict()), "terms": terms}


def test_a_batch_without_positives_gets_no_fourier_term_and_one_with_positives_does():
    labels = np.arange(8, dtype=np.float32)[:, None] / 8
    plain = _step(TrainOptions(), None, labels)
    none = _step(TrainOptions(fourier_prior=5.0), np.array([10.0], np.float32), labels)  # no label above 10
    some = _step(TrainOptions(fourier_prior=5.0), np.array([0.5], np.float32), labels)  # labels 5/8, 6/8, 7/8
    assert none["terms"]["fourier"] == 0.0 and some["terms"]["fourier"] > 0.0
    assert all(torch.allclose(none["state"][k], plain["state"][k], atol=1e-7) for k in plain["state"])
    assert any(not torch.allclose(some["state"][k], plain["state"][k], atol=1e-6) for k in plain["state"])


def test_train_model_passes_the_training_labels_quantile_to_each_step(world, tmp_path, monkeypatch):
    """The thresholds come from the training split's labels (not the batch's)."""
    seen: list = []
    real = train_module.train_step

    def spy(*args, **kwargs):
        seen.append(kwargs.get("thresholds"))
        return real(*args, **kwargs)

    monkeypatch.setattr(train_module, "train_step", spy)
    labels = train_module.read_labels(world / "labels.tsv", tasks=["activity"])
    options = _train_options(epochs=1, fourier_prior=1.0, fourier_positives=0.8)
    train_module.train_model(world / "genome.fa", labels, tmp_path / "m.safetensors", options, quiet=True)
    train = labels.values[labels.regions["chrom"].to_numpy() == "chrA"]
    assert seen and all(t.tolist() == pytest.approx(np.quantile(train, 0.8, axis=0).tolist()) for t in seen)


def test_cli_passes_fourier_positives_and_refuses_a_quantile_of_1(tmp_path, monkeypatch):
    captured: dict = {}
    real = train_module.train_model

    def fake(genome, table, output, options, **kwargs):
        captured["options"] = options
        return {"best_epoch": 1, "best_score": 0.0}

    monkeypatch.setattr(train_module, "train_model", fake)
    import seqsal.train_data as train_data
    monkeypatch.setattr(train_data, "read_labels", lambda *a, **k: None)
    args = ["train", "g.fa", "l.tsv", "-o", str(tmp_path / "m.safetensors"), "--valid-chroms", "chrB", "--quiet",
            "--fourier-prior", "0.3"]
    result = CliRunner().invoke(main, [*args, "--fourier-positives", "0.9"])
    assert result.exit_code == 0, result.output
    assert captured["options"].fourier_positives == 0.9 and captured["options"].fourier_prior == 0.3
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0 and captured["options"].fourier_positives == 0.5
    monkeypatch.setattr(train_module, "train_model", real)  # it checks the options first: one line, exit 2
    result = CliRunner().invoke(main, [*args, "--fourier-positives", "1"])
    assert result.exit_code == 2 and "give a quantile in [0, 1)" in result.output


# ---- RC consistency on centred maps -------------------------------------------------------------------------------

class _ProfilePlusBases(nn.Module):
    """``f(x) = scale * sum_l c(l) sum_b x_bl + sum_l sum_b w_b x_bl``: the first part's map is the positional profile
    ``c`` whatever the sequence; the second is a per-base score with ``w_A != w_T`` (not RC-consistent)."""

    def __init__(self, profile: torch.Tensor, scale: float, w: tuple[float, ...] = (1.0, 0.0, 0.0, -0.5)):
        super().__init__()
        self.profile, self.scale, self.w = profile, scale, torch.tensor(w)
        self.bias = nn.Parameter(torch.zeros(1))  # something for an optimiser to step

    def forward(self, x):
        positional = (x.sum(dim=1) * self.profile).sum(dim=1)
        return (self.scale * positional + (x * self.w[None, :, None]).sum(dim=(1, 2)))[:, None] + self.bias


def _rc(model: nn.Module, x: torch.Tensor, centre: bool = True) -> float:
    _, gradients = input_gradients(model, x)
    return float(rc_consistency(model, x, gradients * x, centre=centre).detach())


def test_a_mirror_symmetric_positional_profile_does_not_lower_the_centred_term():
    length = 40
    symmetric = torch.exp(-0.5 * ((torch.arange(length) - (length - 1) / 2) / 6.0) ** 2)
    x = _one_hot(32, length, seed=3)
    small, large = _ProfilePlusBases(symmetric, 0.0), _ProfilePlusBases(symmetric, 50.0)
    assert _rc(small, x, centre=False) > 0.5 and _rc(large, x, centre=False) < 0.01  # the loophole, uncentred
    assert _rc(small, x) > 0.5 and _rc(large, x) == pytest.approx(_rc(small, x), rel=1e-4)
    profile_only = _ProfilePlusBases(symmetric, 1.0, w=(0.0, 0.0, 0.0, 0.0))
    assert _rc(profile_only, x) < 1e-10  # consistent by construction: nothing to penalise


def test_an_asymmetric_positional_profile_is_still_an_inconsistency():
    """A sequence-independent profile that is not mirror-symmetric differs from its mapped-back self: pooled
    centring keeps ``(c - c_reversed) / 2``; centring each map by its own mean would hide it."""
    ramp = torch.linspace(-1.0, 1.0, 40)
    assert _rc(_ProfilePlusBases(ramp, 1.0, w=(0.0, 0.0, 0.0, 0.0)), _one_hot(16, 40)) > 1.0


def test_centred_rc_term_equals_an_independent_computation():
    torch.manual_seed(4)
    conv, dense = nn.Conv1d(4, 5, 7, padding=3), nn.Linear(5 * 30, 1)

    def model(x):
        return dense(torch.relu(conv(x)).flatten(1))

    x = _one_hot(10, 30, seed=9)
    x_rc = reverse_complement_one_hot(x)
    _, g = input_gradients(model, x, create_graph=False)
    _, g_rc = input_gradients(model, x_rc, create_graph=False)
    a = (g * x).sum(dim=1).detach().numpy().astype(np.float64)
    b = (g_rc * x_rc).sum(dim=1).detach().numpy()[:, ::-1].astype(np.float64)
    mean = (a.mean(axis=0) + b.mean(axis=0)) / 2
    a, b = a - mean, b - mean
    expected = np.mean(((a - b) ** 2).sum(1) / ((a ** 2).sum(1) + (b ** 2).sum(1)))
    assert _rc(model, x) == pytest.approx(expected, rel=1e-4)
    ca, cb = centred_pair(torch.ones(3, 5), torch.ones(3, 5))
    assert float(ca.abs().sum() + cb.abs().sum()) == 0.0


def test_train_step_uses_the_centred_rc_term_by_default():
    """``TrainOptions.consistency_centre`` (default True) reaches :func:`rc_consistency`; its own default is centred."""
    length = 40
    symmetric = torch.exp(-0.5 * ((torch.arange(length) - (length - 1) / 2) / 6.0) ** 2)
    x = _one_hot(32, length, seed=3)
    model = _ProfilePlusBases(symmetric, 50.0)
    _, gradients = input_gradients(model, x)
    assert float(rc_consistency(model, x, gradients * x).detach()) == pytest.approx(_rc(model, x), rel=1e-6)
    values = {}
    for centre in (True, False):
        options = TrainOptions(consistency="rc", consistency_weight=1.0, consistency_centre=centre, rc_augment=False)
        batch = {"x": x.numpy(), "y": np.zeros((32, 1), np.float32)}
        values[centre] = train_step(model, torch.optim.SGD(model.parameters(), lr=0.0), batch, options,
                                    np.random.default_rng(0), torch.device("cpu"), None, 1.0)["consistency"]
    assert TrainOptions().consistency_centre is True
    assert values[True] == pytest.approx(_rc(model, x), rel=1e-4) and values[True] > 0.5 and values[False] < 0.01
