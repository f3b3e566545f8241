"""SmoothGrad (:mod:`seqsal.methods.smoothgrad`) and the saliency gradient it averages, against finite differences."""
import torch
from torch import nn

from seqsal.attribution import Target, input_gradient
from seqsal.methods import smoothgrad
from helpers import frozen, random_one_hot

def test_saliency_and_smoothgrad_against_finite_differences():
    torch.manual_seed(3)
    model = frozen(nn.Sequential(nn.Conv1d(4, 5, 3, padding=1), nn.Tanh(), nn.Flatten(), nn.Linear(5 * 9, 1)))
    model = model.double()
    x = random_one_hot(1, 9, seed=2).double()
    gradient, _ = input_gradient(model, x, Target())
    eps = 1e-6
    numeric = torch.zeros_like(x)
    for c in range(4):
        for p in range(9):
            step = torch.zeros_like(x)
            step[0, c, p] = eps
            numeric[0, c, p] = (model(x + step) - model(x - step))[0, 0] / (2 * eps)
    assert torch.allclose(gradient, numeric, atol=1e-7)
    # SmoothGrad with no noise is the gradient; with noise it is the mean gradient over the noisy copies
    assert torch.allclose(smoothgrad(model, x, samples=3, noise=0.0)[0], gradient, atol=1e-12)
    smooth, _ = smoothgrad(model, x, samples=4, noise=0.2, seed=5)
    assert not torch.allclose(smooth, gradient, atol=1e-4)
    linear = frozen(nn.Sequential(nn.Flatten(), nn.Linear(4 * 9, 1)))
    assert torch.allclose(smoothgrad(linear, x.float(), samples=5, noise=0.5)[0],
                          linear[1].weight.reshape(1, 4, 9), atol=1e-6)


def test_a_noise_that_overflows_the_noisy_copies_is_refused():
    """auditbreak: ``--noise 1e308`` overflowed float32 to inf inputs, the model's outputs were NaN, and evaluate
    scored the (finite, meaningless) gradients as a normal result; now one line."""
    import pytest

    from seqsal.errors import InputError

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv1d(4, 3, 5), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(48, 1))
    x = torch.nn.functional.one_hot(torch.randint(0, 4, (2, 20)), 4).float().transpose(1, 2)
    with pytest.raises(InputError, match="noise 1e\\+308 overflows the noisy copies"):
        smoothgrad(model, x, samples=3, noise=1e308)
    assert torch.isfinite(smoothgrad(model, x, samples=3, noise=1.0)[0]).all()
