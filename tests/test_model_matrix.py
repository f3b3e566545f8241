"""Issue 14: the model zoo — model formats x input layouts x output kinds x attribution methods.

Every cell gives either the right attributions, checked against an independent computation on the original Python
model in float64 (autograd by hand; integrated gradients by hand on the same Gauss-Legendre nodes and summation to
delta within 1e-5; DeepSHAP's summation to delta within 1e-5; naive ISM by hand; Grad-CAM by hand), or one line
``seqsal: error: ...`` and exit 2. The whole matrix runs through the API as ``seqsal attribute`` runs a model (the
file loaded with its layout, the target checked and its task axis made explicit by ``check_model_input``); a subset
of cells, and every kind of refusal, runs through the command line.

Formats: a seqsal ``.safetensors`` of a built-in architecture, a built-in state_dict with ``--architecture`` and
``--model-config``, TorchScript, ``torch.export`` with a dynamic and with a static batch, and a user architecture
file (``--architecture arch.py:Zoo``). Layouts: models written for ``(N, 4, L)`` and for ``(N, L, 4)``. Output kinds:
a scalar, several tasks, a profile, a tuple, a dict of heads and an ``(N, bins, tracks)`` output.
"""
from __future__ import annotations

import copy
import importlib.util
import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from click.testing import CliRunner

import seqsal
from seqsal.attribution import Target
from seqsal.cli import main
from seqsal.errors import InputError
from seqsal.methods import sequence_rng
from seqsal.models import load_model
from seqsal.model_checks import check_model_input
from tests.run_arrays import dense_arrays

LENGTH = 16  # bases per window
N = 2  # sequences per cell
ARCH = '''
"""A tiny model of each output kind, written for (N, 4, L) or for channels-last (N, L, 4) input."""
import torch
import torch.nn.functional as F
from torch import nn


class Zoo(nn.Module):
    def __init__(self, kind="scalar", layout="ncl", input_length=16, channels=6):
        super().__init__()
        self.kind, self.layout, self.input_length = kind, layout, input_length
        self.conv1 = nn.Conv1d(4, channels, 5, padding=2)
        self.conv2 = nn.Conv1d(channels, channels, 3, padding=1)
        self.act = nn.SiLU()  # signed feature maps: Grad-CAM's weighted sum changes sign along the sequence
        self.head = nn.Linear(channels, 5)
        self.profile = nn.Conv1d(channels, 3, 3, padding=1)

    def forward(self, x):
        if self.layout == "nlc":
            x = x.transpose(1, 2)
        h = self.act(self.conv2(F.softplus(self.conv1(x))))
        tasks = self.head(h.mean(dim=-1))
        if self.kind == "scalar":
            return tasks[:, 0]
        if self.kind == "multitask":
            return tasks
        if self.kind == "profile":
            return self.profile(h)
        if self.kind == "tuple":
            return self.profile(h), tasks[:, :3]
        if self.kind == "dict":
            return {"human": tasks[:, :3], "mouse": tasks[:, 3:]}
        return F.avg_pool1d(self.profile(h), 4).transpose(1, 2)  # (N, bins, tracks)
'''
KINDS = ("scalar", "multitask", "profile", "tuple", "dict", "bins_tracks")
# what each cell explains, as --target says it
TARGETS = {"scalar": "", "multitask": "task=2", "profile": "task=1,axis=1,reduce=bpnet", "tuple": "output=1,task=1",
           "dict": "output=mouse,task=1", "bins_tracks": "task=2,axis=-1"}
BUILTIN_KINDS = {"multitask": "basset", "tuple": "bpnet"}  # the output kinds of the built-in architectures
FORMATS = ("builtin_safetensors", "builtin_state_dict", "torchscript", "export_dynamic", "export_static", "user_file")
LAYOUTS = ("ncl", "nlc")
METHODS = ("saliency", "grad_x_input", "smoothgrad", "ig", "deepshap", "ism", "gradcam")
PARAMS = {"smoothgrad": {"samples": 3, "noise": 0.2, "seed": 5}, "ig": {"steps": 32, "baseline": "zero"},
          "deepshap": {"baseline": "zero"}}
# Grad-CAM's layer: the rectified output of the last convolution block (its default)
LAYERS = {"zoo": "act", "basset": "features.2", "bpnet": None}
STATIC_BATCH = 64  # > the sequences of a cell: padded (several batches: tests/test_models_user.py)


def _cells() -> list[tuple[str, str, str, str]]:
    cells = []
    for fmt in FORMATS:
        kinds = tuple(BUILTIN_KINDS) if fmt.startswith("builtin") else KINDS
        cells += [(fmt, kind, layout, method) for kind in kinds for layout in LAYOUTS for method in METHODS]
    return cells


# ----------------------------------------------------------------------------------------- the models
def _zoo_class(folder: Path):
    path = folder / "arch.py"
    if not path.exists():
        path.write_text(ARCH)
    spec = importlib.util.spec_from_file_location("seqsal_matrix_zoo", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.Zoo


def _scaled(model: torch.nn.Module, seed: int) -> torch.nn.Module:
    """Random weights, tripled so that every nonlinearity works off its linear range."""
    torch.manual_seed(seed)
    for module in model.modules():
        if hasattr(module, "reset_parameters"):
            module.reset_parameters()
        if isinstance(module, (torch.nn.Conv1d, torch.nn.Linear)):
            with torch.no_grad():
                module.weight.mul_(3.0)
    return model.eval()


@dataclass
class Spec:
    """One model file: how to load it, and the original Python model (the truth) it came from."""

    path: Path
    truth: torch.nn.Module  # takes the layout the model was written for
    layout: str
    family: str  # zoo, basset or bpnet
    architecture: str | None = None
    config: str | None = None

    def load(self):
        return load_model(self.path, architecture=self.architecture, config=self.config, layout=self.layout)

    def cli(self) -> list[str]:
        args = ["--model", str(self.path), "--layout", self.layout]
        if self.architecture:
            args += ["--architecture", self.architecture]
        if self.config:
            args += ["--model-config", str(self.config)]
        return args


class Zoo:
    """Builds each model file once (on first use) in one folder for the whole module."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.zoo_class = _zoo_class(folder)
        self.specs: dict[tuple[str, str, str], Spec] = {}
        self.loaded: dict[tuple[str, str, str], object] = {}

    def spec(self, fmt: str, kind: str, layout: str) -> Spec:
        key = (fmt, kind, layout)
        if key not in self.specs:
            self.specs[key] = self._build(fmt, kind, layout)
        return self.specs[key]

    def load(self, fmt: str, kind: str, layout: str):
        """The loaded model and its target, checked as ``seqsal attribute`` checks them (once per model)."""
        key = (fmt, kind, layout)
        if key not in self.loaded:
            loaded = self.spec(*key).load()
            target = Target.parse(TARGETS[kind]).resolve(loaded.task_names)
            self.loaded[key] = loaded, check_model_input(loaded, loaded.input_length, LENGTH, target, "cpu", layout)[0]
        return self.loaded[key]

    def _build(self, fmt: str, kind: str, layout: str) -> Spec:
        stem = self.folder / f"{fmt}_{kind}_{layout}"
        seed = FORMATS.index(fmt) * 100 + KINDS.index(kind) * 10 + LAYOUTS.index(layout)
        if fmt.startswith("builtin"):
            family = BUILTIN_KINDS[kind]
            model = _scaled(seqsal.BassetCNN(input_length=LENGTH, n_tasks=3, channels=(4,), kernel_sizes=(5,),
                                             pool_sizes=(2,), hidden=4) if family == "basset" else
                            seqsal.BPNet(n_filters=4, n_layers=1, n_tasks=2, first_kernel=5, profile_kernel=3), seed)
            if fmt == "builtin_safetensors":
                seqsal.save_model(model, f"{stem}.safetensors")
                return Spec(Path(f"{stem}.safetensors"), model, layout, family)
            torch.save(model.state_dict(), f"{stem}.pt")
            Path(f"{stem}.json").write_text(json.dumps(model.config))
            return Spec(Path(f"{stem}.pt"), model, layout, family, family, f"{stem}.json")
        model = _scaled(self.zoo_class(kind=kind, layout=layout), seed)
        example = torch.zeros(2, 4, LENGTH) if layout == "ncl" else torch.zeros(2, LENGTH, 4)
        if fmt == "torchscript":
            torch.jit.save(torch.jit.trace(model, example, strict=False), f"{stem}.ts")
            return Spec(Path(f"{stem}.ts"), model, layout, "zoo")
        if fmt == "export_dynamic":
            program = torch.export.export(model, (example,), dynamic_shapes=({0: torch.export.Dim("batch")},))
            torch.export.save(program, f"{stem}.pt2")
            return Spec(Path(f"{stem}.pt2"), model, layout, "zoo")
        if fmt == "export_static":
            program = torch.export.export(model, (example[:1].expand(STATIC_BATCH, -1, -1).contiguous(),))
            torch.export.save(program, f"{stem}.pt2")
            return Spec(Path(f"{stem}.pt2"), model, layout, "zoo")
        from safetensors.torch import save_file

        save_file({key: value.contiguous() for key, value in model.state_dict().items()}, f"{stem}.safetensors")
        Path(f"{stem}.json").write_text(json.dumps({"kind": kind, "layout": layout, "input_length": LENGTH}))
        return Spec(Path(f"{stem}.safetensors"), model, layout, "zoo", f"{self.folder / 'arch.py'}:Zoo",
                    f"{stem}.json")


@pytest.fixture(scope="module")
def zoo(tmp_path_factory) -> Zoo:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: threads only contend on a busy machine
    yield Zoo(tmp_path_factory.mktemp("zoo"))
    torch.set_num_threads(threads)


def one_hot(n: int = N, length: int = LENGTH, seed: int = 0) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    x = np.zeros((n, 4, length), np.float32)
    x[np.arange(n)[:, None], rng.integers(0, 4, (n, length)), np.arange(length)[None]] = 1
    return torch.from_numpy(x)


# ------------------------------------------------------------------------- the independent computations
class Truth:
    """The original Python model in float64, taking seqsal's ``(N, 4, L)``, and the target computed by hand."""

    def __init__(self, spec: Spec, kind: str):
        self.model = copy.deepcopy(spec.truth).double().eval()
        self.layout, self.kind = spec.layout, kind

    def output(self, x: torch.Tensor):
        x = x.double()
        return self.model(x.transpose(1, 2) if self.layout == "nlc" else x)

    def target(self, output, weights: torch.Tensor | None = None) -> torch.Tensor:
        """The scalar per sequence of TARGETS[kind], written out for each output kind."""
        if self.kind == "scalar":
            return output
        if self.kind == "multitask":
            return output[:, 2]
        if self.kind == "tuple":
            return output[1][:, 1]
        if self.kind == "dict":
            return output["mouse"][:, 1]
        if self.kind == "bins_tracks":
            return output[:, :, 2].sum(dim=1)
        z = output[:, 1]  # profile, BPNet's softmax-weighted reduction
        centred = z - z.mean(dim=1, keepdim=True)
        weights = torch.softmax(centred, dim=1).detach() if weights is None else weights
        return (centred * weights).sum(dim=1)

    def weights(self, x: torch.Tensor) -> torch.Tensor | None:
        """The bpnet reduction's softmax weights at ``x`` (held fixed along a path or at references)."""
        if self.kind != "profile":
            return None
        with torch.no_grad():
            z = self.output(x)[:, 1]
            return torch.softmax(z - z.mean(dim=1, keepdim=True), dim=1)

    def value(self, x: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
        with torch.no_grad():
            return self.target(self.output(x), weights)

    def gradient(self, x: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
        leaf = x.double().requires_grad_(True)
        (gradient,) = torch.autograd.grad(self.target(self.output(leaf), weights).sum(), leaf)
        return gradient

    def saliency(self, x, **_):
        gradient = self.gradient(x)
        return gradient - gradient.mean(dim=1, keepdim=True)

    def smoothgrad(self, x, samples, noise, seed):
        noisy = [row + noise * torch.from_numpy(sequence_rng(row, seed).standard_normal((samples, 4, x.shape[2]),
                                                                                         dtype=np.float32))
                 for row in x]
        gradient = torch.stack([self.gradient(batch).mean(dim=0) for batch in noisy])
        return gradient - gradient.mean(dim=1, keepdim=True)

    def ig(self, x, steps, **_):
        nodes, weights = np.polynomial.legendre.leggauss(steps)
        alphas = torch.from_numpy((nodes + 1) / 2)[:, None, None, None]
        fixed = self.weights(x)
        points = (alphas * x.double()).reshape(-1, *x.shape[1:])  # (steps * N, 4, L), step-major
        gradients = self.gradient(points, None if fixed is None else fixed.repeat(steps, 1))
        # zero baseline: the hypothetical contribution is the path-averaged gradient
        return (torch.from_numpy(weights / 2)[:, None, None, None] * gradients.reshape(steps, *x.shape)).sum(dim=0)

    def ism(self, x, **_):
        n, _, length = x.shape
        mutants = x.double()[:, None, None].repeat(1, 4, length, 1, 1)  # (N, base, position, 4, L)
        positions = torch.arange(length)
        mutants[:, :, positions, :, positions] = 0
        for base in range(4):
            mutants[:, base, positions, base, positions] = 1
        values = self.value(mutants.reshape(-1, 4, length)).reshape(n, 4, length)
        deltas = values - self.value(x)[:, None, None]
        deltas[x.bool()] = 0
        return deltas - deltas.mean(dim=1, keepdim=True)

    def _bpnet(self, x):
        """BPNet's forward written out, keeping the ReLU of its last dilated convolution."""
        model = self.model
        h = torch.relu(model.first(x.double()))
        for conv in model.dilated:
            rectified = torch.relu(conv(h))
            h = h + rectified
        profile = model.profile_head(h)
        return (profile, model.counts_head(h.mean(dim=-1))), rectified

    def gradcam(self, x, layer):
        """Grad-CAM of ``layer``'s output (BPNet: the ReLU of its last dilated convolution)."""
        captured = {}
        handle = None if layer is None else dict(self.model.named_modules())[layer].register_forward_hook(
            lambda _m, _i, out: captured.__setitem__("a", out))
        try:
            leaf = x.double().requires_grad_(True)
            if layer is None:
                output, captured["a"] = self._bpnet(leaf)
            else:
                output = self.output(leaf)
            activation = captured["a"]
            (gradient,) = torch.autograd.grad(self.target(output).sum(), activation)
        finally:
            if handle is not None:
                handle.remove()
        cam = torch.relu((gradient.mean(dim=-1, keepdim=True) * activation).sum(dim=1, keepdim=True)).detach()
        return F.interpolate(cam, size=x.shape[2], mode="linear", align_corners=False).expand(-1, 4, -1)


def check_cell(truth: Truth, method: str, x: torch.Tensor, hypothetical: torch.Tensor, params: dict,
               layer: str, smooth: bool) -> None:
    """Assert that ``hypothetical`` ``(N, 4, L)`` is ``method``'s right answer for ``truth`` on ``x``.

    ``smooth``: the model is smooth (softplus, SiLU), so that integrated gradients' quadrature is exact to 1e-5 and
    its attributions sum to the delta that closely (the built-ins' ReLU and max pooling leave a quadrature
    error: there the same quadrature by hand is the check).
    """
    hypothetical = hypothetical.double()
    if method == "deepshap" or (method == "ig" and smooth):  # zero baseline: the map sums to f(x) - f(0)
        fixed = truth.weights(x)
        delta = truth.value(x, fixed) - truth.value(torch.zeros_like(x), fixed)
        summed = (hypothetical * x).sum(dim=(1, 2))
        assert torch.allclose(summed, delta, rtol=0, atol=1e-5), f"sums {summed.tolist()} != deltas {delta.tolist()}"
        assert (delta.abs() > 1e-4).all()  # a delta to explain
        if method == "deepshap":
            return
    by_hand = {"saliency": truth.saliency, "grad_x_input": truth.saliency, "smoothgrad": truth.smoothgrad,
               "ig": truth.ig, "ism": truth.ism, "gradcam": lambda x, **_: truth.gradcam(x, layer)}
    expected = by_hand[method](x, **params)
    assert expected.abs().max() > 1e-4  # something to compare
    torch.testing.assert_close(hypothetical, expected, rtol=1e-4, atol=1e-5)


# --------------------------------------------------------------------------------------- the refusals
REFUSED = {  # (format, method or None for every method, layout or None for both) -> what the one line says
    ("torchscript", "deepshap", None): r"deepshap.*TorchScript.*method ig or ism",
    ("torchscript", "gradcam", None): r"gradcam .*TorchScript",
    # a static batch: Grad-CAM feeds the program exactly its batch of rows a call (seqsal.models.user.static_batch),
    # so its feature maps are the sequences' own and the maps are checked like every other format's
    ("builtin_safetensors", None, "nlc"): r"but runs on one-hot DNA channels first, \(N, 4, L\); drop --layout nlc",
    ("builtin_state_dict", None, "nlc"): r"but runs on one-hot DNA channels first, \(N, 4, L\); drop --layout nlc",
}
# DeepSHAP on torch.export graphs: the right result, or a one-line refusal that names the operation (issue 14's
# DeepLIFT allow-list is another engineer's work in progress)
MAY_REFUSE = {("export_dynamic", "deepshap"): r"deepshap", ("export_static", "deepshap"): r"deepshap"}


def refusal(fmt: str, layout: str, method: str) -> str | None:
    for (f, m, lay), pattern in REFUSED.items():
        if f == fmt and m in (None, method) and lay in (None, layout):
            return pattern
    return None


def run_cell(zoo: Zoo, fmt: str, kind: str, layout: str, method: str, x: torch.Tensor):
    """Attribute ``x`` as ``seqsal attribute`` does: load, check the model and resolve the target, attribute."""
    spec, (loaded, target) = zoo.spec(fmt, kind, layout), zoo.load(fmt, kind, layout)
    params = dict(PARAMS.get(method, {}))
    return seqsal.attribute(loaded.module, x, method=method, target=target, hypothetical=True, device="cpu",
                            **params), params


@pytest.mark.parametrize("fmt,kind,layout,method", _cells(), ids=["-".join(cell) for cell in _cells()])
def test_cell(zoo, fmt, kind, layout, method):
    x = one_hot(seed=FORMATS.index(fmt) + 7 * KINDS.index(kind))
    expected_refusal = refusal(fmt, layout, method)
    try:
        hypothetical, params = run_cell(zoo, fmt, kind, layout, method, x)
    except InputError as error:
        pattern = expected_refusal or MAY_REFUSE.get((fmt, method))
        assert pattern is not None, f"refused a cell that must work: {error}"
        assert "\n" not in str(error)
        assert re.search(pattern, str(error)), str(error)
        return
    assert expected_refusal is None, f"ran a cell that must be refused ({expected_refusal})"
    spec = zoo.spec(fmt, kind, layout)
    check_cell(Truth(spec, kind), method, x, hypothetical, params, LAYERS[spec.family], spec.family == "zoo")


def test_the_matrix_covers_every_format_layout_kind_and_method():
    cells = _cells()
    assert {cell[0] for cell in cells} == set(FORMATS) and {cell[2] for cell in cells} == set(LAYOUTS)
    assert {cell[1] for cell in cells} == set(KINDS) and {cell[3] for cell in cells} == set(METHODS)
    assert len(METHODS) == len(seqsal.methods.METHODS)


# ---------------------------------------------------------------------------------- the command line
@pytest.fixture(scope="module")
def job(zoo) -> tuple[Path, Path]:
    return matrix_job(zoo.folder)


def _method_options(method: str) -> list[str]:
    return [item for key, value in PARAMS.get(method, {}).items() for item in (f"--{key}", str(value))]


def attribute_cli(zoo, job, out: Path, fmt: str, kind: str, layout: str, method: str, target: str | None = None,
                  cli_layout: str | None = None):
    spec = zoo.spec(fmt, kind, layout)
    args = ["attribute", str(job[0]), str(job[1]), *spec.cli(), "-o", str(out), "--method", method, "--no-peaks",
            "-q", "--device", "cpu", *_method_options(method)]
    if cli_layout is not None:
        args[args.index("--layout") + 1] = cli_layout
    target = TARGETS[kind] if target is None else target
    if target:
        args += ["--target", target]
    return CliRunner().invoke(main, args)


CLI_CELLS = [("builtin_safetensors", "multitask", "ncl", "deepshap"), ("builtin_state_dict", "tuple", "ncl", "ig"),
             ("torchscript", "dict", "nlc", "grad_x_input"), ("export_dynamic", "bins_tracks", "nlc", "ism"),
             ("export_static", "profile", "ncl", "smoothgrad"), ("user_file", "tuple", "nlc", "deepshap"),
             ("user_file", "scalar", "ncl", "gradcam"), ("export_static", "multitask", "nlc", "gradcam")]


@pytest.mark.parametrize("fmt,kind,layout,method", CLI_CELLS, ids=["-".join(cell) for cell in CLI_CELLS])
def test_cli_cell(zoo, job, tmp_path, fmt, kind, layout, method):
    """The whole command: both strands (the minus region attributed on its reverse complement and mapped back)."""
    result = attribute_cli(zoo, job, tmp_path / "out", fmt, kind, layout, method)
    assert result.exit_code == 0 and result.output == "", result.output
    arrays = dense_arrays(tmp_path / "out" / "attributions.npz")
    spec = zoo.spec(fmt, kind, layout)
    x_plus, hypothetical = torch.from_numpy(arrays["one_hot"]), torch.from_numpy(arrays["hypothetical"])
    x = torch.stack([x_plus[0], x_plus[1].flip(0, 1)])  # what the model saw: the minus region reverse-complemented
    seen = torch.stack([hypothetical[0], hypothetical[1].flip(0, 1)])
    params = dict(PARAMS.get(method, {}))
    check_cell(Truth(spec, kind), method, x, seen, params, LAYERS[spec.family], spec.family == "zoo")
    record = json.loads((tmp_path / "out" / "run.json").read_text())
    assert record["parameters"]["layout"] == layout and record["model"]["format"] == spec.load().source


@dataclass
class Refusal:
    """A model input that ``seqsal attribute`` must refuse: one line matching ``line``, exit 2, no run folder.

    ``cell`` names the model (format, output kind, layout it was written for) and the method; ``target`` and
    ``cli_layout`` replace the cell's ``--target`` and ``--layout`` when given. Also run by
    ``benchmarks/bad_inputs.py`` for the table in ``benchmarks/RESULTS.md``.
    """

    id: str
    what: str
    cell: tuple[str, str, str, str]
    line: str
    target: str | None = None
    cli_layout: str | None = None


REFUSALS = [
    Refusal("deepshap_torchscript", "deepshap on a TorchScript model", ("torchscript", "scalar", "ncl", "deepshap"),
            r"deepshap needs a Python nn.Module .*; use --method ig or ism$"),
    Refusal("gradcam_torchscript", "gradcam on a TorchScript model of channels-last input",
            ("torchscript", "dict", "nlc", "gradcam"), r"gradcam .*TorchScript"),
    Refusal("builtin_as_nlc", "--layout nlc for a built-in model (it takes (N, 4, L))",
            ("builtin_safetensors", "multitask", "nlc", "saliency"),
            r"the model fails on \(N, 16, 4\) \(.*\) but runs on one-hot DNA channels first, \(N, 4, L\); drop "
            r"--layout nlc \(the default is --layout ncl; API: layout='ncl'\)$"),
    Refusal("torchscript_nlc_as_ncl", "a TorchScript model of (N, L, 4) input without --layout nlc",
            ("torchscript", "scalar", "nlc", "saliency"),
            r"the model fails on \(N, 4, 16\) \(.*\) but runs on one-hot DNA channels last, \(N, L, 4\); pass "
            r"--layout nlc \(API: layout='nlc', .*ChannelsLast\(model\)\)$", cli_layout="ncl"),
    Refusal("export_nlc_as_ncl", "a .pt2 exported for (N, L, 4) without --layout nlc (read as length 4 before)",
            ("export_static", "scalar", "nlc", "saliency"),
            r"\.pt2: the exported model takes input of shape \(64, 16, 4\): one-hot DNA channels last, \(N, L, 4\); "
            r"pass --layout nlc \(API: layout='nlc', .*\)$", cli_layout="ncl"),
    Refusal("export_ncl_as_nlc", "a .pt2 exported for (N, 4, L) with --layout nlc",
            ("export_dynamic", "multitask", "ncl", "saliency"),
            r"\.pt2: the exported model takes input of shape \(N, 4, 16\): one-hot DNA channels first, \(N, 4, L\); "
            r"drop --layout nlc \(the default is --layout ncl; API: layout='ncl'\)$", cli_layout="nlc"),
    Refusal("dict_unnamed", "a dict of heads, --target 1 (no output named)", ("user_file", "dict", "ncl", "saliency"),
            r"the model returns a dict of 2 outputs \(human, mouse\); name the one to explain with --target "
            r"output=<key>, e\.g\. --target output=human$", target="1"),
    Refusal("dict_unknown_key", "a dict of heads, --target output=rat", ("user_file", "dict", "ncl", "saliency"),
            r"--target output=rat is not an output of the model; its outputs: human, mouse$", target="output=rat"),
    Refusal("axis_ambiguous", "(N, bins, tracks) of a fixed-length .pt2, --target 2 (no axis)",
            ("export_static", "bins_tracks", "ncl", "saliency"),
            r"--target: the output to explain has shape \(N, 4, 3\) for inputs of 16 bases, and the model does not "
            r"run on inputs twice as long, so its task axis cannot be told from its position axis; add the task axis "
            r"to --target: --target task=2,axis=1 for \(N, tasks, positions\) as BPNet's profile, --target "
            r"task=2,axis=-1 for \(N, positions, tasks\) as Enformer's bins x tracks$", target="2"),
    Refusal("axis_task_out_of_range", "(N, bins, tracks), --target task=3,axis=-1 of 3 tracks",
            ("user_file", "bins_tracks", "ncl", "saliency"),
            r"--target task 3 is out of range: the model has 3 tasks on axis 2 of its output \(N, 4, 3\) \(0\.\.2\)$",
            target="task=3,axis=-1"),
    Refusal("axis_not_integer", "--target task=1,axis=x", ("user_file", "multitask", "ncl", "saliency"),
            r"--target axis must be an integer \(the task axis of the output, e\.g\. axis=-1\) or none \(a profile "
            r"\(N, positions\) without one\), got 'x'$",
            target="task=1,axis=x"),
]


def matrix_job(folder: Path) -> tuple[Path, Path]:
    """A 200-bp genome and two regions of one window each, on the + and the - strand."""
    sequence = "".join(np.random.default_rng(3).choice(list("ACGT"), 200))
    genome = folder / "genome.fa"
    genome.write_text(">chr1\n" + "\n".join(sequence[i:i + 60] for i in range(0, 200, 60)) + "\n")
    bed = folder / "regions.bed"
    bed.write_text(f"chr1\t20\t{20 + LENGTH}\tplus\t0\t+\nchr1\t100\t{100 + LENGTH}\tminus\t0\t-\n")
    return genome, bed


def refusal_outcome(case: Refusal, zoo: Zoo, job: tuple[Path, Path], out: Path) -> tuple[bool, str, int]:
    """Run ``case`` through the command line: (as required, its output lines joined, exit code)."""
    result = attribute_cli(zoo, job, out, *case.cell, target=case.target, cli_layout=case.cli_layout)
    lines = result.output.splitlines()
    ok = (result.exit_code == 2 and len(lines) == 1 and lines[0].startswith("seqsal: error: ")
          and re.search(case.line, lines[0]) is not None and not (out / "run.json").exists())
    return ok, " / ".join(lines), result.exit_code


@pytest.mark.parametrize("case", REFUSALS, ids=[case.id for case in REFUSALS])
def test_cli_refusal(zoo, job, tmp_path, case):
    ok, text, code = refusal_outcome(case, zoo, job, tmp_path / "out")
    assert ok, f"exit {code}: {text}"


@pytest.mark.parametrize("kind,target,axis", [("bins_tracks", "2", 2), ("profile", "task=1,reduce=bpnet", 1)])
def test_task_axis_found_with_certainty(zoo, job, tmp_path, kind, target, axis):
    """A model that takes any length: the task axis is the one whose size does not grow with the input."""
    result = attribute_cli(zoo, job, tmp_path / "out", "user_file", kind, "ncl", "saliency", target=target)
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "out" / "run.json").read_text())["target"]["axis"] == axis
    arrays = dense_arrays(tmp_path / "out" / "attributions.npz")
    x = torch.from_numpy(arrays["one_hot"][:1])
    check_cell(Truth(zoo.spec("user_file", kind, "ncl"), kind), "saliency", x,
               torch.from_numpy(arrays["hypothetical"][:1]), {}, "act", True)
