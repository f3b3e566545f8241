import numpy as np
import pytest
import torch
from torch import nn

import seqsal
from seqsal.attribution import Target, correct_gradient, hypothetical_attributions, input_gradient
from seqsal.encode import one_hot_encode, reverse_complement_one_hot
from seqsal.errors import InputError


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


def test_gradient_equals_central_finite_difference_float64():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv1d(4, 6, 5, padding=2), nn.Softplus(), nn.Conv1d(6, 2, 3), nn.Flatten(),
                          nn.LazyLinear(3)).double()
    x = random_one_hot(2, 30).double()
    model(x)
    target = Target(task=1)
    gradient, _ = input_gradient(model, x, target)
    eps = 1e-6
    numeric = torch.zeros_like(x)
    for i in range(4):
        for j in range(30):
            plus, minus = x.clone(), x.clone()
            plus[:, i, j] += eps
            minus[:, i, j] -= eps
            with torch.no_grad():
                numeric[:, i, j] = (target.select(model(plus)) - target.select(model(minus))) / (2 * eps)
    torch.testing.assert_close(gradient, numeric, rtol=1e-6, atol=1e-8)


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


def test_bpnet_targets_profile_and_counts():
    model = seqsal.BPNet(n_filters=8, n_layers=2, n_tasks=2, trimming=10).eval()
    x = random_one_hot(2, 120)
    profile, counts = model(x)
    assert profile.shape == (2, 2, 100) and counts.shape == (2, 2)
    for text in ("output=0,task=1,reduce=bpnet", "output=0,reduce=sum", "output=1,task=1"):
        hyp, prediction = hypothetical_attributions(model, x, "saliency", Target.parse(text))
        assert hyp.shape == x.shape and prediction.shape == (2,)
    _, prediction = hypothetical_attributions(model, x, "saliency", Target.parse("output=1,task=1"))
    torch.testing.assert_close(prediction, counts[:, 1].detach())


def test_target_errors_are_clear():
    model = seqsal.BPNet(n_filters=4, n_layers=1, n_tasks=2).eval()
    x = random_one_hot(1, 50)
    with pytest.raises(InputError, match="2 outputs"):
        hypothetical_attributions(model, x, "saliency", Target.parse("output=5"))
    with pytest.raises(InputError, match="2 tasks"):
        hypothetical_attributions(model, x, "saliency", Target.parse("output=1,task=7"))
    with pytest.raises(InputError, match="not a task"):
        Target.parse("liver").resolve(["open", "enhancer"])
    assert Target.parse("enhancer").resolve(["open", "enhancer"]).task == 1
    with pytest.raises(InputError, match="unknown attribution method"):
        hypothetical_attributions(model, x, "nope", Target())


def test_bf16_autocast_close_to_fp32():
    model = seqsal.BassetCNN(input_length=100, channels=(8,), kernel_sizes=(5,), pool_sizes=(4,), hidden=8).eval()
    x = random_one_hot(4, 100)
    full = seqsal.attribute(model, x)
    half = seqsal.attribute(model, x, precision="bf16")
    assert half.dtype == torch.float32
    assert torch.corrcoef(torch.stack([full.flatten(), half.flatten()]))[0, 1] > 0.98
