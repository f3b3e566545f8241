"""Attribution methods against independent references: analytic models, finite differences, completeness,
summation-to-delta, naive vs fast ISM, and tangermeme where it is installed."""
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import seqsal
from seqsal.attribution import Target, input_gradient
from seqsal.errors import InputError
from seqsal.methods import (
    completeness,
    deep_lift_shap,
    gradcam,
    integrated_gradients,
    ism,
    ism_deltas,
    make_baselines,
    smoothgrad,
)
from helpers import frozen, random_one_hot


@pytest.fixture(scope="module")
def basset():
    torch.manual_seed(0)
    model = seqsal.BassetCNN(input_length=203, channels=(8, 8, 8), kernel_sizes=(7, 5, 3), pool_sizes=(4, 2, 3),
                             hidden=16)
    # non-trivial batch norm statistics
    for module in model.modules():
        if isinstance(module, nn.BatchNorm1d):
            module.running_mean.uniform_(-0.2, 0.2)
            module.running_var.uniform_(0.5, 1.5)
    return frozen(model)


@pytest.fixture(scope="module")
def bpnet():
    torch.manual_seed(1)
    return frozen(seqsal.BPNet(n_filters=8, n_layers=3, first_kernel=7, profile_kernel=9, trimming=5))


def reference_delta(model, x, refs, target):
    """f(x) - mean f(references); a bpnet target evaluates the references with x's softmax weights."""
    n, r = refs.shape[:2]
    with torch.no_grad():
        output = model(x)
        fx = target.select(output).float()
        weights = target.profile_weights(output)
        weights = None if weights is None else weights.repeat_interleave(r, dim=0)
        fr = target.select(model(refs.reshape(n * r, *x.shape[1:])), weights).float().reshape(n, r).mean(1)
    return fx - fr


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


def test_integrated_gradients_completeness_and_linear_exactness(basset):
    x = random_one_hot(2, 203, seed=6)
    for baseline in ("zero", "uniform", "shuffle"):
        hypothetical, _ = integrated_gradients(basset, x, steps=64, baseline=baseline, references=3, seed=1)
        gap = completeness(basset, x, hypothetical, make_baselines(x, baseline, 3, seed=1))
        delta = reference_delta(basset, x, make_baselines(x, baseline, 3, seed=1), Target())
        assert (gap.abs() / delta.abs().clamp_min(0.05)).max() < 0.02, (baseline, gap)
    # a linear model: IG is exactly (x - b) * w for any number of steps
    torch.manual_seed(0)
    linear = frozen(nn.Sequential(nn.Flatten(), nn.Linear(4 * 7, 1)))
    x = random_one_hot(2, 7)
    hypothetical, _ = integrated_gradients(linear, x, steps=3, baseline="uniform")
    w = linear[1].weight.reshape(4, 7)
    expected = w - (0.25 * w).sum(dim=0, keepdim=True)
    assert torch.allclose(hypothetical, expected.expand(2, 4, 7), atol=1e-6)


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


@pytest.mark.parametrize("which,target", [("basset", Target()), ("bpnet", Target(output=1)),
                                          ("bpnet", Target(output=0, reduction="sum"))])
def test_fast_ism_equals_naive(which, target, request):
    model = request.getfixturevalue(which)
    x = random_one_hot(2, 203, seed=7, n_run=(50, 53))
    naive, prediction = ism_deltas(model, x, target, fast=False, mutant_batch=300)
    fast, prediction_fast = ism_deltas(model, x, target, fast=True, mutant_batch=97)
    assert torch.allclose(naive, fast, atol=1e-5), (naive - fast).abs().max()
    assert torch.allclose(prediction, prediction_fast, atol=1e-5)
    # brute force at a few substitutions
    with torch.no_grad():
        for position, base in ((0, 2), (101, 0), (202, 3), (51, 1)):
            mutant = x[:1].clone()
            mutant[0, :, position] = 0
            mutant[0, base, position] = 1
            expected = target.select(model(mutant))[0] - prediction[0]
            if x[0, base, position] == 1:
                expected = torch.tensor(0.0)
            assert torch.isclose(naive[0, base, position], expected, atol=1e-5)
    centred, _ = ism(model, x, target)
    assert torch.allclose(centred, naive - naive.mean(dim=1, keepdim=True), atol=1e-5)


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


def test_methods_through_the_public_api(basset):
    x = random_one_hot(3, 203, seed=9)
    for method, params in (("deepshap", {"references": 4}), ("ig", {"steps": 8}), ("smoothgrad", {"samples": 4}),
                           ("ism", {}), ("gradcam", {})):
        projected = seqsal.attribute(basset, x, method=method, batch_size=2, device="cpu", **params)
        assert projected.shape == x.shape and torch.isfinite(projected).all()
    # deepshap is not gradient-corrected: the projected map still sums to f(x) - mean f(refs)
    projected = seqsal.attribute(basset, x, method="deepshap", batch_size=2, device="cpu", references=4, seed=2)
    delta = reference_delta(basset, x, make_baselines(x, "shuffle", 4, seed=2), Target())
    assert torch.allclose(projected.sum(dim=(1, 2)), delta, atol=1e-5)


def test_cli_method_options(small_genome, tiny_model, tmp_path):
    from click.testing import CliRunner

    from seqsal.cli import main
    from tests.conftest import write_bed

    genome, _ = small_genome
    model_path, model = tiny_model
    bed = write_bed(tmp_path / "regions.bed", ["chr1\t100\t300\ta\t0\t+", "chr1\t1000\t1200\tb\t0\t-"])
    out = tmp_path / "out"
    args = ["attribute", str(genome), str(bed), "-m", str(model_path), "-o", str(out), "-q", "--device", "cpu",
            "--method", "ig", "--steps", "4", "--baseline", "uniform", "--seed", "3"]
    extra = ["--no-peaks"] if "--no-peaks" in CliRunner().invoke(main, ["attribute", "--help"]).output else []
    result = CliRunner().invoke(main, args + extra)
    assert result.exit_code == 0, result.output
    import json

    record = json.loads((out / "run.json").read_text())
    assert record["parameters"]["method_params"] == {"steps": 4, "baseline": "uniform", "seed": 3}
    stored = np.load(out / "attributions.npz")
    x = torch.from_numpy(stored["one_hot"][:1])
    expected, _ = integrated_gradients(model, x, Target(), steps=4, baseline="uniform")
    assert np.allclose(stored["hypothetical"][0], expected[0].numpy(), atol=1e-5)
    wrong = CliRunner().invoke(main, args[:-6] + ["--method", "deepshap", "--steps", "5", "--force"])
    assert wrong.exit_code == 2 and "--steps does not apply to --method deepshap" in wrong.output


@pytest.mark.parametrize("kernel", [2, 4])
def test_disjoint_max_pool_rule_equals_general_rule(kernel):
    """The pooled-size backward of non-overlapping max pooling gives the general rule's values, with ties and
    zero changes (ReLU outputs, rounded) at the argmax of either input."""
    from seqsal.methods import _MaxPoolRule

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
        _MaxPoolRule.apply(leaf, x_ref, y_ref, index_ref, pool, disjoint).backward(grad)
        results.append(leaf.grad)
    torch.testing.assert_close(results[1], results[0], rtol=0, atol=1e-6)
    assert (results[0] != 0).any()


def test_make_baselines_row_does_not_depend_on_batch():
    gen = torch.Generator().manual_seed(4)
    x = F.one_hot(torch.randint(0, 4, (5, 120), generator=gen), 4).permute(0, 2, 1).float()
    whole = make_baselines(x, "shuffle", 6, seed=9)
    alone = torch.cat([make_baselines(x[i:i + 1], "shuffle", 6, seed=9) for i in range(5)])
    torch.testing.assert_close(whole, alone, rtol=0, atol=0)
    assert len({tuple(r.argmax(0).tolist()) for r in whole[0]}) == 6


@pytest.mark.parametrize("rc", [False, True])
def test_completeness_error_per_region_in_regions_tsv(small_genome, tiny_model, tmp_path, rc):
    """ig and deepshap runs write Σ attributions - (f(x) - mean f(baselines)) per region, equal to an
    independent computation from the stored maps; gradient methods get no such column."""
    import json

    import pandas as pd

    from seqsal.encode import reverse_complement_one_hot
    from seqsal.pipeline import AttributeOptions, run_attribute
    from tests.conftest import write_bed

    genome, _ = small_genome
    model_path, model = tiny_model
    bed = write_bed(tmp_path / "regions.bed", ["chr1\t100\t300\ta\t0\t+", "chr1\t1000\t1200\tb\t0\t-",
                                               "chr2\t200\t700\tc\t0\t+"])  # c: tiled into 3 windows
    tables = {}
    for method, params in (("ig", {"steps": 2, "baseline": "uniform"}), ("deepshap", {"references": 5}),
                           ("saliency", {})):
        out = tmp_path / method
        run_attribute(str(genome), str(bed), str(model_path), str(out), AttributeOptions(
            method=method, device="cpu", rc=rc, method_params=params), progress=False, peaks=False)
        tables[method] = pd.read_csv(out / "regions.tsv", sep="\t")
        record = json.loads((out / "run.json").read_text())
        assert ("completeness" in record) == (method != "saliency")
    assert "completeness_error" not in tables["saliency"]
    assert tables["deepshap"]["completeness_error"].abs().max() < 1e-4
    ig = tables["ig"]["completeness_error"]
    assert ig.notna().all() and ig.abs().max() > 1e-3  # 2 quadrature nodes: visibly incomplete
    # independent: region a is exactly one model window on the + strand
    stored = np.load(tmp_path / "ig" / "attributions.npz")
    x = torch.from_numpy(stored["one_hot"][:1, :, :200])
    hyp = torch.from_numpy(stored["hypothetical"][:1, :, :200])
    with torch.no_grad():
        fx = model(x)[:, 0]
        fb = model(torch.full_like(x, 0.25))[:, 0]
        if rc:
            fx = 0.5 * (fx + model(reverse_complement_one_hot(x))[:, 0])
    expected = float((hyp * x).sum() - (fx - fb))
    assert ig[0] == pytest.approx(expected, rel=2e-3, abs=1e-6)
