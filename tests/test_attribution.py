"""The gradient layer (:mod:`seqsal.attribution`): input gradients against finite differences, targets of
multi-output models and their errors."""
import numpy as np
import pytest
import torch
from torch import nn

import seqsal
from seqsal.attribution import Target, input_gradient
from seqsal.encode import one_hot_encode
from seqsal.errors import InputError
from seqsal.methods import hypothetical_attributions


def random_one_hot(n, length, seed=0):
    rng = np.random.default_rng(seed)
    return torch.from_numpy(np.stack([one_hot_encode("".join(rng.choice(list("ACGT"), length))) for _ in range(n)]))


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
    with pytest.raises(InputError, match="not one of the model.s tasks"):
        Target.parse("liver").resolve(["open", "enhancer"])
    assert Target.parse("enhancer").resolve(["open", "enhancer"]).task == 1


def test_a_model_autograd_cannot_differentiate_is_refused_in_one_line():
    """anymodel: a model of token indices (argmax into an embedding) and one with in-place activations gave
    autograd's RuntimeError traceback from every gradient method."""
    import pytest
    import torch.nn.functional as F
    from torch import nn

    import seqsal
    from seqsal.errors import InputError

    class Tokens(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed, self.dense = nn.Embedding(4, 3), nn.Linear(3, 1)

        def forward(self, x):
            return self.dense(self.embed(x.argmax(1)).mean(1))

    class InPlace(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv1d(4, 3, 5)

        def forward(self, x):
            h = self.conv(x)
            h.relu_()
            h += 0.1
            return h.tanh_().mean(dim=(1, 2))

    torch.manual_seed(0)
    x = F.one_hot(torch.randint(0, 4, (2, 30)), 4).permute(0, 2, 1).float()
    for method in ("grad_x_input", "saliency", "ig", "smoothgrad"):
        with pytest.raises(InputError, match="does not depend on the one-hot input through operations autograd"):
            seqsal.attribute(Tokens().eval(), x, method=method)
        with pytest.raises(InputError, match="changes in place a tensor the gradient needs"):
            seqsal.attribute(InPlace().eval(), x, method=method)
