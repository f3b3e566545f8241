"""The dispatcher (:mod:`seqsal.methods.dispatch`): ``seqsal.attribute`` and ``hypothetical_attributions`` —
projection defaults, gradient correction, strand averaging, eval mode, autocast, every method end to end."""
import numpy as np
import pytest
import torch
from torch import nn

import seqsal
from seqsal.attribution import Target, correct_gradient
from seqsal.encode import one_hot_encode, reverse_complement_one_hot
from seqsal.errors import InputError
from seqsal.methods import hypothetical_attributions, make_baselines
from helpers import random_one_hot as helpers_one_hot
from method_fixtures import build_basset, reference_delta

basset = pytest.fixture(scope="module", name="basset")(build_basset)


def random_one_hot(n, length, seed=0):
    rng = np.random.default_rng(seed)
    return torch.from_numpy(np.stack([one_hot_encode("".join(rng.choice(list("ACGT"), length))) for _ in range(n)]))


class Linear(nn.Module):
    def __init__(self, length, seed=0):
        super().__init__()
        torch.manual_seed(seed)
        self.weight = nn.Parameter(torch.randn(4, length))

    def forward(self, x):
        return (x * self.weight).sum(dim=(1, 2))[:, None]


def test_linear_model_grad_x_input_is_weights_times_input():
    model = Linear(50)
    x = random_one_hot(3, 50)
    attr = seqsal.attribute(model, x, method="grad_x_input", correct=False)
    torch.testing.assert_close(attr, model.weight.detach()[None] * x, rtol=0, atol=0)
    saliency = seqsal.attribute(model, x, method="saliency", correct=False)
    torch.testing.assert_close(saliency, model.weight.detach().expand(3, 4, 50), rtol=0, atol=0)


def test_corrected_gradient_sums_to_zero_per_position():
    model = Linear(40)
    x = random_one_hot(2, 40)
    corrected = seqsal.attribute(model, x, method="saliency", correct=True)
    torch.testing.assert_close(corrected.sum(dim=1), torch.zeros(2, 40), atol=1e-6, rtol=0)
    torch.testing.assert_close(corrected, correct_gradient(model.weight.detach().expand(2, 4, 40)))


class RCSymmetric(nn.Module):
    """f(x) = g(x) + g(rc(x)) for a small CNN g: exactly reverse-complement symmetric."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(3)
        self.g = nn.Sequential(nn.Conv1d(4, 5, 7), nn.ReLU(), nn.AdaptiveMaxPool1d(1), nn.Flatten(), nn.Linear(5, 1))

    def forward(self, x):
        return self.g(x) + self.g(reverse_complement_one_hot(x))


def test_rc_averaging_on_symmetric_model_equals_plain():
    model = RCSymmetric()
    x = random_one_hot(4, 60, seed=2)
    plain = seqsal.attribute(model, x, rc=False)
    averaged = seqsal.attribute(model, x, rc=True)
    torch.testing.assert_close(plain, averaged, atol=1e-6, rtol=1e-5)


def test_parameters_never_accumulate_gradients():
    model = seqsal.BassetCNN(input_length=100, channels=(4,), kernel_sizes=(5,), pool_sizes=(4,), hidden=8)
    x = random_one_hot(3, 100)
    seqsal.attribute(model, x)
    assert all(p.grad is None for p in model.parameters())
    assert model.training  # mode restored


def test_unknown_method_is_named():
    model = seqsal.BPNet(n_filters=4, n_layers=1, n_tasks=2).eval()
    x = random_one_hot(1, 50)
    with pytest.raises(InputError, match="unknown attribution method"):
        hypothetical_attributions(model, x, "nope", Target())


def test_bf16_autocast_close_to_fp32():
    model = seqsal.BassetCNN(input_length=100, channels=(8,), kernel_sizes=(5,), pool_sizes=(4,), hidden=8).eval()
    x = random_one_hot(4, 100)
    full = seqsal.attribute(model, x)
    half = seqsal.attribute(model, x, precision="bf16")
    assert half.dtype == torch.float32
    assert torch.corrcoef(torch.stack([full.flatten(), half.flatten()]))[0, 1] > 0.98


def test_methods_through_the_public_api(basset):
    x = helpers_one_hot(3, 203, seed=9)
    for method, params in (("deepshap", {"references": 4}), ("ig", {"steps": 8}), ("smoothgrad", {"samples": 4}),
                           ("ism", {}), ("gradcam", {})):
        projected = seqsal.attribute(basset, x, method=method, batch_size=2, device="cpu", **params)
        assert projected.shape == x.shape and torch.isfinite(projected).all()
    # deepshap is not gradient-corrected: the projected map still sums to f(x) - mean f(refs)
    projected = seqsal.attribute(basset, x, method="deepshap", batch_size=2, device="cpu", references=4, seed=2)
    delta = reference_delta(basset, x, make_baselines(x, "shuffle", 4, seed=2), Target())
    assert torch.allclose(projected.sum(dim=(1, 2)), delta, atol=1e-5)


def test_ig_through_the_api_checks_completeness_as_the_cli_does():
    """review26: a model whose forward detaches its normaliser (its gradient is not its derivative): IG through
    seqsal.attribute summed to the opposite sign of f(x) - f(0), with no word; the CLI refused it."""
    import seqsal
    from seqsal.methods import IncompleteAttribution

    class Detached(torch.nn.Module):
        def __init__(self):
            super().__init__()
            torch.manual_seed(0)
            self.conv = torch.nn.Conv1d(4, 8, 5)

        def forward(self, x):
            h = torch.relu(self.conv(x)) + 0.1
            return (h / h.mean(dim=(1, 2), keepdim=True).detach()).pow(2).mean(dim=(1, 2))

    x = torch.from_numpy(np.eye(4, dtype=np.float32)[np.random.default_rng(0).integers(0, 4, (3, 60))]).transpose(1, 2)
    with pytest.raises(IncompleteAttribution, match="method ism"):
        seqsal.attribute(Detached(), x, method="ig")
    seqsal.attribute(Detached(), x, method="ig", check=None)  # asked not to check: the numbers, as before


@pytest.mark.parametrize("method", ["integrated_gradients", "ism", "smoothgrad", "deep_lift_shap"])
def test_the_method_functions_run_a_model_in_eval_mode_and_leave_its_state_alone(method):
    """review26: a model left in training mode (dropout, batch norm) gave random maps through the method functions,
    and each call moved its batch norm's running statistics; seqsal.attribute ran it in eval mode."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv1d(4, 8, 5), nn.BatchNorm1d(8), nn.ReLU(), nn.Dropout(0.5), nn.Flatten(),
                          nn.Linear(8 * 56, 1)).train()
    x = random_one_hot(3, 60)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    kwargs = {"noise": 0.1, "seed": 0} if method == "smoothgrad" else {}
    first = getattr(seqsal, method)(model, x, **kwargs)[0]
    second = getattr(seqsal, method)(model, x, **kwargs)[0]
    assert torch.equal(first, second) and model.training
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


@pytest.mark.parametrize("rc", [False, True])
def test_given_references_are_taken_per_batch_and_mirrored_with_rc(basset, rc):
    """review26: seqsal.attribute with references (N, R, 4, L) refused N above batch_size ("must have shape
    (64, R, 4, 60)") and any rc=True run ("(6, R, 4, 60)" for 3 sequences)."""
    x = random_one_hot(5, basset.input_length, seed=3)
    refs = make_baselines(x, "shuffle", 2, seed=1)
    whole = seqsal.attribute(basset, x, method="deepshap", references=refs, rc=rc, batch_size=5)
    split = seqsal.attribute(basset, x, method="deepshap", references=refs, rc=rc, batch_size=2)
    torch.testing.assert_close(split, whole, rtol=0, atol=1e-6)
    if rc:  # the reverse strand against the mirrored baselines: the strand average of two exact DeepSHAP maps
        one = seqsal.attribute(basset, x, method="deepshap", references=refs, rc=False, hypothetical=True)
        other = seqsal.attribute(basset, reverse_complement_one_hot(x), method="deepshap",
                                 references=reverse_complement_one_hot(refs), rc=False, hypothetical=True)
        torch.testing.assert_close(seqsal.attribute(basset, x, method="deepshap", references=refs, rc=True,
                                                    hypothetical=True),
                                   0.5 * (one + reverse_complement_one_hot(other)), rtol=0, atol=1e-6)
