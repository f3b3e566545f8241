"""DeepLIFT/DeepSHAP (:mod:`seqsal.methods.deeplift`) against analytic models, summation-to-delta, the max-pool
rule and tangermeme."""
import warnings

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from seqsal.attribution import Target, input_gradient
from seqsal.errors import InputError
from seqsal.methods import completeness, deep_lift_shap, integrated_gradients, make_baselines
from seqsal.methods.deeplift import _MaxPoolRule
from seqsal.methods.deeplift_rules import Paired
from helpers import frozen, random_one_hot
from method_fixtures import build_basset, build_bpnet, reference_delta

basset = pytest.fixture(scope="module", name="basset")(build_basset)
bpnet = pytest.fixture(scope="module", name="bpnet")(build_bpnet)

@pytest.mark.parametrize("which,target", [("basset", Target()), ("bpnet", Target(output=1)),
                                          ("bpnet", Target(output=0, reduction="sum")),
                                          ("bpnet", Target(output=0, reduction="bpnet"))])
def test_deepshap_sums_to_delta_with_max_pooling(which, target, request):
    model = request.getfixturevalue(which)
    x = random_one_hot(3, 203, n_run=(100, 110))
    refs = make_baselines(x, "shuffle", 8, seed=3)
    hypothetical, prediction = deep_lift_shap(model, x, target, references=refs)
    total = (hypothetical * x).sum(dim=(1, 2))
    delta = reference_delta(model, x, refs, target)
    assert torch.allclose(total, delta, atol=1e-5, rtol=0), (total - delta).abs().max()
    assert torch.allclose(prediction, target.select(model(x)).float(), atol=1e-6)
    # each reference on its own sums to its own delta as well
    single = deep_lift_shap(model, x, target, references=refs[:, :1])[0]
    assert torch.allclose((single * x).sum(dim=(1, 2)), reference_delta(model, x, refs[:, :1], target), atol=1e-5)


def test_deepshap_rescale_rule_analytic():
    """y = sum(w2 * relu(W1 x + b)) over one position: multiplier of x = W1^T (w2 * secant of the ReLU)."""
    torch.manual_seed(2)
    model = frozen(nn.Sequential(nn.Conv1d(4, 6, 1), nn.ReLU(), nn.Flatten(), nn.Linear(6, 1)))
    x, ref = random_one_hot(1, 1, seed=4), random_one_hot(1, 1, seed=9)
    conv, linear = model[0], model[3]
    z = conv(x)[0, :, 0]
    z_ref = conv(ref)[0, :, 0]
    secant = torch.where((z - z_ref).abs() > 1e-6, (torch.relu(z) - torch.relu(z_ref)) / (z - z_ref), (z > 0).float())
    multiplier = conv.weight[:, :, 0].T @ (linear.weight[0] * secant)  # (4,)
    expected = multiplier - (ref[0, :, 0] * multiplier).sum()
    hypothetical, _ = deep_lift_shap(model, x, references=ref[:, None])
    assert torch.allclose(hypothetical[0, :, 0], expected, atol=1e-6)


def test_deepshap_names_unsupported_layer():
    model = frozen(nn.Sequential(nn.Conv1d(4, 4, 3, padding=1), nn.Softmax(dim=1), nn.Flatten(), nn.Linear(40, 1)))
    with pytest.raises(InputError, match=r"softmax in layer '1 \(Softmax\)'"):
        deep_lift_shap(model, random_one_hot(1, 10), references=2)

    class Gate(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Conv1d(4, 2, 3), nn.Conv1d(4, 2, 3)

        def forward(self, x):
            return (self.a(x) * self.b(x)).sum(dim=(1, 2))

    with pytest.raises(InputError, match="product of two tensors"):
        deep_lift_shap(frozen(Gate()), random_one_hot(1, 10), references=2)


def test_deepshap_matches_tangermeme(basset, bpnet):
    import tangermeme.deep_lift_shap as tangermeme  # a test dependency: the reference implementation

    class Counts(nn.Module):
        """BPNet's counts head with its ReLUs as modules: tangermeme hooks modules only, and would treat the
        functional torch.relu of seqsal's BPNet as linear (seqsal intercepts functional calls too)."""

        def __init__(self, model):
            super().__init__()
            self.model = model
            self.relus = nn.ModuleList(nn.ReLU() for _ in range(len(model.dilated) + 1))

        def forward(self, x):
            m = self.model
            h = self.relus[0](m.first(x))
            for conv, relu in zip(m.dilated, self.relus[1:]):
                h = h + relu(conv(h))
            return m.counts_head(h[:, :, m.trimming:h.shape[-1] - m.trimming].mean(dim=-1))

    x = random_one_hot(3, 203, seed=5)
    refs = make_baselines(x, "shuffle", 10, seed=0)
    assert torch.allclose(Counts(bpnet)(x), bpnet(x)[1])
    for model, target, peer in ((basset, Target(), basset), (bpnet, Target(output=1), Counts(bpnet))):
        ours, _ = deep_lift_shap(model, x, target, references=refs)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs = tangermeme.deep_lift_shap(peer, x, references=refs, hypothetical=True, device="cpu",
                                               batch_size=64, verbose=False)
        relative = (ours - theirs).abs().max() / theirs.abs().max()
        assert relative < 1e-4, relative


def test_bpnet_profile_target_is_complete_with_the_sequences_softmax_weights(bpnet):
    """The bpnet reduction is explained as l_x(z) = sum(w_x * (z - mean z)) with w_x the softmax at x: DeepSHAP sums
    to l_x(x) - l_x(ref) exactly and IG to quadrature error; with each reference's own softmax (tangermeme, shap)
    the same attributions miss the delta."""
    target = Target(output=0, reduction="bpnet")
    x = random_one_hot(3, 203, seed=8)
    refs = make_baselines(x, "shuffle", 6, seed=2)
    hypothetical, prediction = deep_lift_shap(bpnet, x, target, references=refs)
    total = (hypothetical * x).sum(dim=(1, 2))
    assert torch.allclose(total, reference_delta(bpnet, x, refs, target), atol=1e-5)
    with torch.no_grad():
        own = target.select(bpnet(refs.reshape(-1, *x.shape[1:]))).reshape(3, 6).mean(1)
    assert (total - (prediction - own)).abs().max() > 1e-3  # the gap the fixed weights remove
    hypothetical, _ = integrated_gradients(bpnet, x, target, steps=64, baseline="shuffle", references=refs)
    gap = completeness(bpnet, x, hypothetical, refs, target)
    assert (gap.abs() / reference_delta(bpnet, x, refs, target).abs().clamp_min(0.05)).max() < 0.02, gap
    # the gradient at x itself is unchanged: saliency's gradient equals IG's integrand at the end of the path
    gradient, _ = input_gradient(bpnet, x, target)
    fixed, _ = input_gradient(bpnet, x, target, target.profile_weights(bpnet(x)))
    assert torch.allclose(gradient, fixed, atol=1e-6)


@pytest.mark.parametrize("kernel", [2, 4])
def test_disjoint_max_pool_rule_equals_general_rule(kernel):
    """The pooled-size backward of non-overlapping max pooling gives the general rule's values, with ties and
    zero changes (ReLU outputs, rounded) at the argmax of either input."""
    gen = torch.Generator().manual_seed(kernel)
    x = torch.relu(torch.randn(6, 5, 40, generator=gen)).round()
    x_ref = torch.relu(torch.randn(6, 5, 40, generator=gen)).round()
    x_ref[:, :, :8] = x[:, :, :8]  # whole windows with no change
    pool = (lambda t: F.max_pool1d_with_indices(t, kernel, kernel, return_indices=True))
    y_ref, index_ref = pool(x_ref)
    grad = torch.randn(6, 5, 40 // kernel, generator=gen)
    results = []
    for disjoint in (False, True):
        leaf = x.clone().requires_grad_(True)
        _MaxPoolRule.apply(leaf, Paired(x_ref, y_ref, index_ref), pool, disjoint).backward(grad)
        results.append(leaf.grad)
    torch.testing.assert_close(results[1], results[0], rtol=0, atol=1e-6)
    assert (results[0] != 0).any()


@pytest.mark.parametrize("which,target", [("basset", Target()), ("bpnet", Target(output=0, reduction="bpnet"))])
def test_shared_pass_gives_the_pairs_multipliers_whatever_the_reference_groups(which, target, request):
    """One sequence pass serves all references: grouped reference passes (all at once, one at a time, uneven
    groups) pair each backward pass with its own reference, as running every pair on its own does."""
    from seqsal.methods.deeplift import deeplift_multipliers, shared_multipliers

    model = request.getfixturevalue(which)
    x = random_one_hot(3, 203, seed=11)
    refs = make_baselines(x, "shuffle", 5, seed=4)
    pairs = deeplift_multipliers(model, x[:, None].expand(3, 5, 4, 203).reshape(15, 4, 203),
                                 refs.reshape(15, 4, 203), target)
    for group in (None, 1, 2, 5):
        multipliers, prediction, reference = shared_multipliers(model, x, refs, target, group=group)
        torch.testing.assert_close(multipliers, pairs[0].reshape(3, 5, 4, 203), rtol=0, atol=1e-6)
        torch.testing.assert_close(reference, pairs[2].reshape(3, 5), rtol=0, atol=1e-6)
        torch.testing.assert_close(prediction, pairs[1].reshape(3, 5)[:, 0], rtol=0, atol=1e-6)


@pytest.mark.parametrize("method", ["deepshap", "ig"])
def test_a_uniform_baseline_keeps_n_bases_so_contributions_still_sum_to_delta(basset, method):
    """fresh11: with ``baseline="uniform"`` an N column (all 0 in x) was 0.25 in the baseline, so part of
    f(x) - f(baseline) sat on bases whose contribution (hypothetical x one-hot) is 0 by construction."""
    x = random_one_hot(2, 203, seed=4, n_run=(60, 100))
    baselines = make_baselines(x, "uniform")
    assert (baselines[:, 0, :, 60:100] == 0).all() and (baselines[:, 0, :, :60] == 0.25).all()
    if method == "deepshap":
        hypothetical = deep_lift_shap(basset, x, Target(), references=baselines)[0]
        tolerance = 1e-5
    else:
        hypothetical = integrated_gradients(basset, x, steps=64, baseline="uniform")[0]
        tolerance = 0.02 * reference_delta(basset, x, baselines, Target()).abs().clamp_min(0.05).max()
    gap = completeness(basset, x, hypothetical, baselines)
    assert gap.abs().max() < tolerance, gap
