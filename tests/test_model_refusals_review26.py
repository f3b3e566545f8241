"""review26: models a lab writes that seqsal cannot explain as they are get one line naming why (a forward of two
inputs; DeepSHAP on a model that writes in place into a tensor its backward pass needs), not Python's or
autograd's traceback, nor another cause."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import seqsal
from seqsal.attribution import Target
from seqsal.errors import InputError
from seqsal.model_checks import check_model_input
from seqsal.models import LoadedModel


def _x(n: int = 2, length: int = 60) -> torch.Tensor:
    rng = np.random.default_rng(0)
    return torch.from_numpy(np.eye(4, dtype=np.float32)[rng.integers(0, 4, (n, length))]).transpose(1, 2)


class TwoInputs(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(5, 4, 5)

    def forward(self, x, track):
        return self.conv(torch.cat([x, track], dim=1)).mean(dim=(1, 2))


class InPlace(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.c1, self.c2, self.head = nn.Conv1d(4, 8, 5, padding=2), nn.Conv1d(8, 8, 5, padding=2), nn.Linear(8, 1)

    def forward(self, x):
        h = torch.relu(self.c1(x))
        h += nn.functional.gelu(self.c2(h))
        return self.head(h.mean(dim=2))[:, 0]


def test_a_forward_of_two_inputs_is_named_as_such():
    with pytest.raises(InputError, match=r"forward takes more than the one-hot sequence \(.*'track'\)"):
        seqsal.attribute(TwoInputs(), _x())
    with pytest.raises(InputError, match=r"forward takes more than the one-hot sequence"):
        check_model_input(LoadedModel(TwoInputs().eval(), None, None, "test"), None, 60, Target(), "cpu")


def test_deepshap_refuses_a_model_that_writes_in_place_into_what_its_backward_needs():
    with pytest.raises(InputError, match=r"changes a tensor in place after a layer has used it .*ism"):
        seqsal.attribute(InPlace(), _x(), method="deepshap")
    seqsal.attribute(InPlace(), _x(), method="ism")  # the method the message names


def test_deepshap_names_a_maximum_over_two_dimensions_and_takes_it_one_at_a_time():
    class Max(nn.Module):
        def __init__(self, together: bool):
            super().__init__()
            torch.manual_seed(0)
            self.conv, self.together = nn.Conv1d(4, 8, 5), together

        def forward(self, x):
            h = torch.relu(self.conv(x))
            return h.amax(dim=(1, 2)) if self.together else h.amax(dim=2).amax(dim=1)

    with pytest.raises(InputError, match=r"over 2 dimensions at once; take it one dimension at a time"):
        seqsal.attribute(Max(True), _x(), method="deepshap")
    x = _x()
    refs = seqsal.make_baselines(x, "shuffle", 3, seed=0)
    hyp, prediction = seqsal.deep_lift_shap(Max(False), x, references=refs)
    model = Max(False).eval()
    with torch.no_grad():
        delta = model(x) - model(refs.flatten(0, 1)).reshape(2, 3).mean(dim=1)
    torch.testing.assert_close((hyp * x).sum(dim=(1, 2)), delta, rtol=0, atol=1e-5)


def test_a_model_ending_in_squeeze_is_explained_on_batches_of_one():
    """fresh27b: ``.squeeze()`` at the end of forward makes a batch of one a 0-d output; ISM's reference run and the
    gradient check's probe (batches of one) raised IndexError. The maps equal those of the unsqueezed model."""
    class Squeezed(nn.Module):
        def __init__(self, squeeze: bool):
            super().__init__()
            torch.manual_seed(0)
            self.conv, self.head, self.squeeze = nn.Conv1d(4, 8, 9), nn.Linear(8, 1), squeeze

        def forward(self, x):
            out = self.head(torch.relu(self.conv(x)).amax(-1))
            return out.squeeze() if self.squeeze else out

    x = _x(3, 80)
    for method in ("ism", "saliency", "grad_x_input"):
        assert torch.allclose(seqsal.attribute(Squeezed(True), x, method=method),
                              seqsal.attribute(Squeezed(False), x, method=method), atol=1e-6), method
