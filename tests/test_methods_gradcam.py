"""Grad-CAM (:mod:`seqsal.methods.gradcam`) on an analytic model."""
import pytest
import torch
from torch import nn

from seqsal.errors import InputError
from seqsal.methods import gradcam
from helpers import frozen, random_one_hot

def test_gradcam_analytic():
    """f = Σ_p w_p A_p with A a 1-channel 1x1 convolution: Grad-CAM = relu(mean(w) * A)."""
    torch.manual_seed(4)
    model = frozen(nn.Sequential(nn.Conv1d(4, 1, 1), nn.Flatten(), nn.Linear(12, 1)))
    x = random_one_hot(2, 12, seed=8)
    cam, _ = gradcam(model, x)
    activation = model[0](x)[:, 0]
    expected = torch.relu(model[2].weight.mean() * activation)
    assert torch.allclose(cam[:, 0], expected, atol=1e-6)
    assert torch.equal(cam[:, 0], cam[:, 3])
    with pytest.raises(InputError, match="not a module"):
        gradcam(model, x, layer="nope")
