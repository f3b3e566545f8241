"""Grad-CAM (:mod:`seqsal.methods.gradcam`) on an analytic model, and its default layer on Basset and BPNet checked
against Grad-CAM computed by hand with autograd."""
import pytest
import torch
from torch import nn

from seqsal.attribution import Target
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


@pytest.fixture(scope="module")
def bpnet():
    from method_fixtures import build_bpnet

    return build_bpnet()


def _by_hand(model, x, target, module):
    """Grad-CAM on ``module``'s output, by autograd: relu(Σ_k mean_p(dy/dA_k) A_k), upsampled and repeated."""
    captured = {}
    handle = module.register_forward_hook(lambda _m, _i, out: captured.__setitem__("a", out))
    leaf = x.clone().requires_grad_(True)
    prediction = target.select(model(leaf)).float()
    handle.remove()
    (gradient,) = torch.autograd.grad(prediction.sum(), captured["a"])
    cam = torch.relu((gradient.mean(-1, keepdim=True) * captured["a"]).sum(1, keepdim=True)).detach()
    return torch.nn.functional.interpolate(cam, size=x.shape[-1], mode="linear", align_corners=False)[:, 0]


def test_gradcam_default_layer_is_the_rectified_output_of_the_last_convolution_block():
    """Basset: the ReLU of the last block (not its Conv1d, before batch norm and ReLU); also through torch.export."""
    from method_fixtures import build_basset

    model = build_basset()
    x = random_one_hot(3, 203, seed=3)
    relu = model.features[-2]
    assert isinstance(relu, nn.ReLU) and isinstance(model.features[-4], nn.Conv1d)
    cam, _ = gradcam(model, x)
    assert torch.allclose(cam[:, 0], _by_hand(model, x, Target(), relu), atol=1e-6)
    on_conv = _by_hand(model, x, Target(), model.features[-4])  # the old default
    assert (cam[:, 0] - on_conv).abs().max() > 0.1 * cam.abs().max()
    exported = torch.export.export(model, (x,), dynamic_shapes=({0: torch.export.Dim("batch")},)).module()
    assert torch.allclose(gradcam(exported, x)[0], cam, atol=1e-6)


def test_gradcam_on_bpnet_counts_uses_the_last_dilated_block(bpnet):
    """BPNet's last Conv1d in module order is the profile head, which the counts target does not use (it crashed
    with a RuntimeError); the default is the ReLU of the last dilated convolution (a functional torch.relu)."""
    x = random_one_hot(2, 203, seed=5)
    target = Target(output=1)
    cam, prediction = gradcam(bpnet, x, target)
    captured = {}

    class Hook(torch.overrides.TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            if func is torch.relu:
                captured.setdefault("all", []).append(out)
            return out

    leaf = x.clone().requires_grad_(True)
    with Hook():
        counts = bpnet(leaf)[1][:, 0]
    last = captured["all"][-1]
    (gradient,) = torch.autograd.grad(counts.sum(), last)
    expected = torch.relu((gradient.mean(-1, keepdim=True) * last).sum(1)).detach()
    assert torch.allclose(cam[:, 0], expected, atol=1e-6)
    assert torch.allclose(prediction, counts.detach())


def test_gradcam_layer_that_the_target_does_not_use_lists_the_valid_layers(bpnet):
    x = random_one_hot(2, 60, seed=1)
    message = "--layer 'profile_head' is not a module whose feature maps (N, C, L) the target depends on; " \
              "valid layers: first, dilated.0, dilated.1, dilated.2"
    with pytest.raises(InputError) as caught:
        gradcam(bpnet, x, Target(output=1), layer="profile_head")
    assert caught.value.cli_message() == message and str(caught.value) == message[2:]  # --layer / API: layer
    cam, _ = gradcam(bpnet, x, Target(output=1), layer="dilated.2")  # a valid one, named
    assert torch.allclose(cam[:, 0], _by_hand(bpnet, x, Target(output=1), bpnet.dilated[2]), atol=1e-6)


@pytest.mark.parametrize("kind", ["basset", "inplace"])
def test_the_default_layer_is_logged_by_name_once(kind, caplog):
    """byom: `--method gradcam` without --layer said nowhere which layer it had picked. The name logged is the layer
    that --layer takes for the same maps."""
    import logging

    import seqsal

    torch.manual_seed(0)
    model = frozen(seqsal.BassetCNN(input_length=40, channels=(4, 4), kernel_sizes=(5, 3), pool_sizes=(2, 2),
                                    hidden=8) if kind == "basset" else
                   nn.Sequential(nn.Conv1d(4, 3, 5), nn.ReLU(inplace=True), nn.Flatten(), nn.Linear(3 * 36, 1)))
    x = random_one_hot(2, 40, seed=1)
    caplog.set_level(logging.INFO, logger="seqsal")
    cam, _ = gradcam(model, x)
    gradcam(model, x)
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("gradcam: default layer")]
    assert len(lines) == 1, lines
    name = lines[0].split()[3].rstrip(":")
    assert name == ("1" if kind == "inplace" else name)
    torch.testing.assert_close(gradcam(model, x, layer=name)[0], cam)


def test_a_run_records_the_layer_gradcam_picked(small_genome, tiny_model, tmp_path):
    """fresh24: `seqsal attribute --method gradcam` without --layer recorded the layer nowhere; run.json's
    parameters name it, and a --layer the run was given is not overwritten by another key."""
    import json

    from seqsal.pipeline import AttributeOptions, run_attribute

    bed = tmp_path / "r.bed"
    bed.write_text("chr1\t100\t300\ta\nchr2\t0\t200\tb\n")
    for name, params in (("default", {}), ("named", {"layer": "features.1"})):
        record = run_attribute(str(small_genome[0]), str(bed), str(tiny_model[0]), str(tmp_path / name),
                               AttributeOptions(method="gradcam", method_params=params), progress=False, peaks=False)
        assert json.loads((tmp_path / name / "run.json").read_text())["parameters"] == record["parameters"]
        if params:
            assert "gradcam_layer" not in record["parameters"]
        else:
            layer = record["parameters"]["gradcam_layer"]
            model = tiny_model[1].eval()
            x = torch.nn.functional.one_hot(torch.randint(0, 4, (2, 200)), 4).transpose(1, 2).float()
            torch.testing.assert_close(gradcam(model, x, layer=layer), gradcam(model, x))


class _Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(8, 8, 3, padding=1)

    def forward(self, h):
        return torch.relu(self.conv(h))


class _SigmoidNet(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.c1, self.block, self.lin = nn.Conv1d(4, 8, 5, padding=2), _Block(), nn.Linear(8, 1)

    def forward(self, x):
        return torch.sigmoid(self.lin(self.block(torch.relu(self.c1(x))).mean(-1)))


def test_a_user_block_of_a_sigmoid_model_is_a_layer_when_its_logit_is_explained():
    """review27: the sigmoid's logit rewrite (a trace) inlined the user's Block, so layer='block' was refused for
    transform=logit (it worked for transform=none and before the rewrite); checked against Grad-CAM by hand."""
    model = _SigmoidNet().eval()
    x = torch.eye(4)[torch.randint(0, 4, (2, 64), generator=torch.Generator().manual_seed(1))].transpose(1, 2)
    cam, prediction = gradcam(model, x, "task=0,transform=logit", layer="block")
    features = {}
    handle = model.block.register_forward_hook(lambda module, args, out: features.__setitem__("a", out))
    try:
        p = model(x)[:, 0]
        (gradient,) = torch.autograd.grad(torch.logit(p.double()).sum().float(), features["a"])
    finally:
        handle.remove()
    by_hand = torch.relu((gradient.mean(-1, keepdim=True) * features["a"]).sum(1))  # (N, 64): the layer keeps L
    assert torch.allclose(cam[:, 0].double(), by_hand.detach().double(), rtol=1e-4, atol=1e-7)
    assert torch.allclose(prediction.double(), torch.logit(p.double()).detach(), atol=1e-5)


def test_a_confident_sigmoid_model_s_logit_is_explained():
    """review27b: run on the model as written, Grad-CAM refused a sigmoid saturated in float32 (logit ~28: "the model
    gave 1"); it runs on the logit rewrite again, and only a named layer the rewrite inlined reads the written model."""
    model = _SigmoidNet().eval()
    with torch.no_grad():
        model.lin.weight.mul_(10.0)
        model.lin.bias.fill_(30.0)
    x = torch.eye(4)[torch.randint(0, 4, (2, 64), generator=torch.Generator().manual_seed(1))].transpose(1, 2)
    cam, prediction = gradcam(model, x, "task=0,transform=logit")
    with torch.no_grad():
        logit = model.lin(model.block(torch.relu(model.c1(x))).mean(-1))[:, 0]
    assert bool((logit > 20).all()) and torch.allclose(prediction, logit, rtol=1e-5)
    assert cam.abs().sum() > 0


class BinnedTracks(nn.Module):
    """Basenji-like: a conv tower, then a 1x1 head under a softplus, as (N, bins, tracks)."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(3)
        self.conv, self.act, self.head = nn.Conv1d(4, 16, 9, padding=4), nn.ReLU(), nn.Conv1d(16, 5, 1)

    def forward(self, x):
        h = nn.functional.max_pool1d(self.act(self.conv(x)), 8)
        return nn.functional.softplus(self.head(h)).transpose(1, 2)


def test_the_default_layer_is_not_the_output_head_s_activation():
    """fresh28: the head's softplus was the default layer; the target reads one of its channels, so the "map" was
    the predicted track upsampled (its ratio to it exactly 1 everywhere)."""
    model, x = frozen(BinnedTracks()), random_one_hot(2, 128, seed=3)
    target = Target.parse("task=2,axis=-1")
    cam, _ = gradcam(model, x, target)
    by_name, _ = gradcam(model, x, target, layer="act")
    assert torch.allclose(cam, by_name)
    track = nn.functional.interpolate(model(x)[:, :, 2:3].transpose(1, 2), size=128, mode="linear",
                                      align_corners=False)[:, 0]
    ratio = cam[:, 0] / track
    assert float(ratio.std() / ratio.mean()) > 0.2  # not the prediction itself (old code: a constant ratio)


class Gated(nn.Module):
    """conv -> ReLU -> 1x1 conv -> ReLU (the default layer), then a gate per channel (no activation function): the
    target weighs channel 0 of the last ReLU always, channel 1 only where it exceeds ``threshold``."""

    def __init__(self, threshold: float):
        super().__init__()
        torch.manual_seed(0)
        self.conv1, self.act1 = nn.Conv1d(4, 4, 5, padding=2), nn.ReLU()
        self.conv2, self.act2 = nn.Conv1d(4, 3, 1), nn.ReLU()
        self.register_buffer("bias", torch.tensor([1.0, -threshold, -1e6]).view(1, 3, 1))

    def forward(self, x):
        z = self.act2(self.conv2(self.act1(self.conv1(x)))) + self.bias
        return torch.where(z > 0, z, torch.zeros_like(z)).sum(dim=(1, 2)).unsqueeze(1)


def test_the_default_layer_stays_the_same_for_every_batch_of_a_model():
    """review28b: the default layer skips an activation whose gradient reaches one channel only (an output head's),
    judged per batch: on a thresholded model a batch with few active channels took another layer, and one run mixed
    two layers' maps. Every batch of a model gets one layer."""
    x = random_one_hot(16, 64, seed=5)
    peaks = Gated(0.0).eval()
    with torch.no_grad():
        level = peaks.act2(peaks.conv2(peaks.act1(peaks.conv1(x))))[:, 1].amax(dim=1)
    order = torch.argsort(level)
    low, high = x[order[:1]], x[order[-1:]]
    threshold = float((level[order[0]] + level[order[-1]]) / 2)
    model = frozen(Gated(threshold))
    # the gate shuts channel 1 in `low`: act2's gradient reaches channel 0 only there (the old rule took act1)
    cams = {name: (gradcam(model, high, layer=name)[0], gradcam(model, low, layer=name)[0])
            for name in ("act1", "act2")}
    assert not torch.allclose(cams["act1"][1], cams["act2"][1])
    on_high, on_low = gradcam(model, high)[0], gradcam(model, low)[0]
    assert any(torch.allclose(on_high, a) and torch.allclose(on_low, b) for a, b in cams.values())


class ChannelsLastHead(nn.Module):
    """A Basenji-like head in channels-last layout: the trunk's (N, 24, L') transposed, a Linear to 5 tracks and a
    softplus on (N, L', 5)."""

    def __init__(self):
        super().__init__()
        self.conv, self.act, self.head = nn.Conv1d(4, 24, 9, padding=4), nn.ReLU(), nn.Linear(24, 5)

    def forward(self, x):
        h = nn.functional.max_pool1d(self.act(self.conv(x)), 8)
        return nn.functional.softplus(self.head(h.transpose(1, 2)))


def test_a_channels_last_head_is_not_the_default_layer():
    """Session 28 left open: a head's softplus on (N, L', tracks) was read as a feature map of L' channels over
    `tracks` positions (its positions counted as channels), and was the default layer. Only activations whose
    channels are a convolution's count."""
    model, x = frozen(ChannelsLastHead()), random_one_hot(3, 128, seed=4)
    target = Target.parse("task=2,axis=-1")
    cam, _ = gradcam(model, x, target)
    assert torch.allclose(cam, gradcam(model, x, target, layer="act")[0])


class TwoHeads(nn.Module):
    """Output 0 sums every channel of ``act2``; output 1 reads its channel 0 only (for it, ``act2`` is a head)."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(1)
        self.conv1, self.act1 = nn.Conv1d(4, 8, 5, padding=2), nn.ReLU()
        self.conv2, self.act2 = nn.Conv1d(8, 3, 3, padding=1), nn.Softplus()

    def forward(self, x):
        a = self.act2(self.conv2(self.act1(self.conv1(x))))
        return torch.stack([a.sum(dim=(1, 2)), a[:, 0].sum(1)], 1)


def test_the_default_layer_is_judged_per_target_and_not_by_the_order_of_the_batches():
    """review29b: the pick kept from a model's first batch carried over to another target of the same model (task 1
    got task 0's layer, the output head: its map was the prediction), and a run's layer depended on which batch
    came first. Judged once per model, target and length on random sequences."""
    x = random_one_hot(8, 64, seed=3)
    model = frozen(TwoHeads())
    assert torch.allclose(gradcam(model, x, 0)[0], gradcam(model, x, 0, layer="act2")[0])
    assert torch.allclose(gradcam(model, x, 1)[0], gradcam(model, x, 1, layer="act1")[0])
    windows = random_one_hot(16, 64, seed=5)
    with torch.no_grad():
        probe = Gated(0.0).eval()
        level = probe.act2(probe.conv2(probe.act1(probe.conv1(windows))))[:, 1].amax(dim=1)
    order = torch.argsort(level)
    low, high = windows[order[:1]], windows[order[-1:]]
    threshold = float((level[order[0]] + level[order[-1]]) / 2)
    low_first, high_first = frozen(Gated(threshold)), frozen(Gated(threshold))
    gradcam(low_first, low)
    gradcam(high_first, high)
    for batch in (low, high):
        assert torch.allclose(gradcam(low_first, batch)[0], gradcam(high_first, batch)[0])


class NormedGelu(nn.Module):
    """A functional activation after a normalisation after the convolution: gelu(norm(conv(x)))."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv, self.norm, self.head = nn.Conv1d(4, 6, 5, padding=2), nn.GroupNorm(1, 6), nn.Linear(6, 1)

    def forward(self, x):
        return self.head(nn.functional.gelu(self.norm(self.conv(x))).mean(-1))


def test_a_functional_activation_is_named_after_its_convolution_not_as_its_input():
    """fresh30: gelu(ln2(conv2(h))) was recorded as ``gelu(conv2)``, as if the GELU read the convolution."""
    from seqsal.methods.gradcam import picked_layer

    model = frozen(NormedGelu())
    gradcam(model, random_one_hot(2, 60, seed=1), Target())
    assert picked_layer(model) == "gelu after conv, a function in forward (not a module)"
