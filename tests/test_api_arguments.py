"""``seqsal.attribute``'s arguments as a notebook passes them: what :func:`seqsal.load_model` returns (its module
runs, with the file's task names and input length), and a task index given as an ``int`` or numpy integer (the
same as its string form); any other type of target is one :class:`InputError`."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import seqsal
from seqsal.errors import InputError
from seqsal.methods.inputs import as_target
from seqsal.attribution import Target
from helpers import random_one_hot

LENGTH = 101
TASKS = ["alpha", "beta", "gamma"]


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    """A 3-task basset saved with task names and read back."""
    torch.manual_seed(0)
    model = seqsal.BassetCNN(input_length=LENGTH, n_tasks=3, channels=(8, 8, 8), kernel_sizes=(7, 5, 3),
                             pool_sizes=(2, 2, 2), hidden=16).eval()
    model.task_names = TASKS
    path = tmp_path_factory.mktemp("model") / "three.safetensors"
    seqsal.save_model(model, path)
    return seqsal.load_model(path)


X = random_one_hot(3, LENGTH, seed=1)


@pytest.mark.parametrize("method", ["grad_x_input", "deepshap"])
def test_a_loaded_model_gives_the_maps_of_its_module(loaded, method):
    """Was: ``TypeError: 'LoadedModel' object is not callable``."""
    ours = seqsal.attribute(loaded, X, method=method, target="beta")
    torch.testing.assert_close(ours, seqsal.attribute(loaded.module, X, method=method, target=1), rtol=0, atol=0)
    assert float(ours.abs().sum()) > 0


def test_a_loaded_model_names_its_tasks_and_its_length(loaded):
    with pytest.raises(InputError, match=r"task 'delta' is not one of the model's tasks: alpha, beta, gamma"):
        seqsal.attribute(loaded, X, target="delta")
    with pytest.raises(InputError, match=r"^x has length 100 but the model file declares windows of 101 bases; "
                                         r"pass sequences of length 101$"):
        seqsal.attribute(loaded, X[:, :, :100])


@pytest.mark.parametrize("index", [2, np.int64(2), np.int32(2), np.uint8(2)], ids=repr)
def test_an_integer_target_is_its_string(loaded, index):
    """Was: ``AttributeError: 'int' object has no attribute 'resolve'``."""
    ours = seqsal.attribute(loaded.module, X, target=index)
    torch.testing.assert_close(ours, seqsal.attribute(loaded.module, X, target="2"), rtol=0, atol=0)
    assert not torch.equal(ours, seqsal.attribute(loaded.module, X, target=0))
    assert as_target(index) == Target.parse("2") == Target(task=2)
    assert as_target(-1) == Target.parse("-1")


@pytest.mark.parametrize("target", [2.0, True, np.bool_(True), [2], (0, 1), torch.tensor(2), {"task": 2}],
                         ids=repr)
def test_other_types_of_target_are_one_input_error(loaded, target):
    with pytest.raises(InputError, match=r"^target is a \w+ \(.*\); pass a task index \(an int\), its name or a "
                                         r"target string"):
        seqsal.attribute(loaded, X, target=target)


def test_a_target_and_none_pass_through():
    target = Target(output=1, task=0)
    assert as_target(target) is target
    assert as_target(None) == Target() == as_target("")


def test_a_negative_seed_is_refused_by_the_cli_and_the_api(tmp_path):
    """fresh12: --seed -1 ran the attribution, then failed in numpy with a traceback (motifs, check-seqlets)."""
    from click.testing import CliRunner

    from seqsal.cli import main
    from seqsal.datasets import demo

    paths = demo()
    for command in (["attribute", str(paths.genome), str(paths.regions), "--model", str(paths.model)],
                    ["motifs", str(tmp_path)], ["train", str(paths.genome), str(paths.regions)]):
        result = CliRunner().invoke(main, [*command, "-o" if command[0] != "motifs" else "--seed", *(
            [str(tmp_path / "o"), "--seed"] if command[0] != "motifs" else []), "-1"])
        assert result.exit_code == 2 and "'--seed': -1 is not in the range 0<=x<=4294967295" in result.output
    with pytest.raises(InputError, match=r"seed -1: give a seed in \[0, 2\^32\)"):
        list(seqsal.iter_attributions(paths.genome, paths.regions, paths.model, seed=-1))


def test_a_float64_model_a_zero_batch_and_a_string_are_one_clear_error_and_the_model_stays_where_it_was():
    """fresh11: a float64 model failed with 'check the sequence length' (the dtype was the problem); batch_size=0 a
    ValueError from range(); a string x a TypeError from torch. The caller's module keeps its device and dtype."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv1d(4, 8, 5, padding=2), torch.nn.Flatten(), torch.nn.Linear(800, 1))
    x = random_one_hot(3, 100, seed=1)
    with pytest.raises(InputError, match=r"parameters are float64; .* call model.float\(\) first"):
        seqsal.attribute(model.double().eval(), x.double(), method="saliency")
    model.float()
    with pytest.raises(InputError, match="batch_size 0: give a whole number >= 1"):
        seqsal.attribute(model, x, method="saliency", batch_size=0)
    with pytest.raises(InputError, match="x is a string"):
        seqsal.attribute(model, "ACGT" * 25, method="saliency")
    before = [p.detach().clone() for p in model.parameters()]
    assert seqsal.attribute(model, x, method="saliency", device="cpu").shape == (3, 4, 100)
    assert all(p.device.type == "cpu" and p.dtype == torch.float32 and torch.equal(p, b)
               for p, b in zip(model.parameters(), before))


def test_the_api_leaves_the_callers_random_stream_alone(tmp_path):
    """fresh11: run_attribute and iter_attributions called torch.manual_seed(run seed) and left it so: after them a
    notebook's torch.rand gave the same numbers whatever the notebook's own seed."""
    from seqsal.datasets import demo

    paths = demo()
    regions = tmp_path / "r.bed"
    regions.write_text("".join(line + "\n" for line in paths.regions.read_text().splitlines()[1:6]))
    for seed in (1, 2):
        torch.manual_seed(seed)
        expected = torch.rand(3)
        torch.manual_seed(seed)
        seqsal.run_attribute(str(paths.genome), str(regions), str(paths.model), str(tmp_path / f"o{seed}"),
                             progress=False)
        list(seqsal.iter_attributions(paths.genome, str(regions), paths.model))
        assert torch.equal(torch.rand(3), expected)


def test_a_channels_last_module_is_told_how_to_be_explained():
    """fresh11: a (N, L, 4) module given to attribute was told to check its sequence length."""

    class ChannelsLastNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv1d(4, 3, 5, padding=2)

        def forward(self, x):  # x: (N, L, 4)
            return self.conv(x.transpose(1, 2)).mean(dim=(1, 2))[:, None]

    model, x = ChannelsLastNet().eval(), random_one_hot(2, 50, seed=3)
    with pytest.raises(InputError, match=r"channels last, \(N, L, 4\); wrap it, seqsal.models.user.ChannelsLast"):
        seqsal.attribute(model, x, method="saliency")
    from seqsal.models.user import ChannelsLast

    assert seqsal.attribute(ChannelsLast(model), x, method="saliency").shape == (2, 4, 50)


def test_the_pipeline_takes_an_int_target_and_leaves_the_callers_options_alone(tmp_path, loaded):
    """fresh16: ``iter_attributions(..., target=1)`` and ``AttributeOptions(target=2)`` failed with an
    AttributeError traceback (the pipeline split the target as text); overrides were also written into the
    caller's ``AttributeOptions``."""
    genome = tmp_path / "g.fa"
    rng = np.random.default_rng(0)
    genome.write_text(">chr1\n" + "".join(rng.choice(list("ACGT"), 400)) + "\n")
    bed = tmp_path / "r.bed"
    bed.write_text("chr1\t50\t151\ta\nchr1\t200\t301\tb\n")
    by_name = [r.projected for r in seqsal.iter_attributions(str(genome), str(bed), loaded, target="task=beta")]
    options = seqsal.AttributeOptions(batch_size=4)
    for target in (1, np.int64(1)):
        maps = [r.projected for r in seqsal.iter_attributions(str(genome), str(bed), loaded, options, target=target)]
        assert all(np.array_equal(a, b) for a, b in zip(maps, by_name))
    assert options.target is None and options.batch_size == 4
    with pytest.raises(InputError, match=r"target \[1\]: give a task index"):
        list(seqsal.iter_attributions(str(genome), str(bed), loaded, target=[1]))


def test_notebook_calls_get_one_line_errors_not_python_tracebacks(tmp_path):
    """apidoc: an unknown method parameter, an unknown config key, call_peaks(null=...), a chromosome the FASTA
    lacks and a fetch with start > end were TypeError/KeyError tracebacks (or, for the fetch, '' returned)."""
    import numpy as np
    import torch

    import seqsal
    from seqsal.errors import InputError
    from seqsal.genome import Genome
    from seqsal.models.architectures import build_model

    model = torch.nn.Sequential(torch.nn.Conv1d(4, 2, 5), torch.nn.Flatten(), torch.nn.Linear(52, 1)).eval()
    x = torch.nn.functional.one_hot(torch.randint(0, 4, (2, 30)), 4).permute(0, 2, 1).float()
    with pytest.raises(InputError, match="ig takes no parameter 'stepz'; its parameters: steps"):
        seqsal.attribute(model, x, method="ig", stepz=8)
    with pytest.raises(InputError, match="grad_x_input takes no parameter 'foo'; its parameters: none"):
        seqsal.attribute(model, x, foo=1)
    with pytest.raises(InputError, match="the basset config has no key 'foo'; its keys: input_length"):
        build_model("basset", {"foo": 1})
    with pytest.raises(InputError, match="takes no null="):
        seqsal.call_peaks(np.zeros((2, 100), np.float32), null="shuffle")
    fasta = tmp_path / "g.fa"
    fasta.write_text(">chr1\n" + "ACGT" * 25 + "\n")
    genome = Genome(str(fasta))
    with pytest.raises(InputError, match="chromosome 'chrX' is not in the FASTA \\(it has 1: chr1\\)"):
        genome.fetch("chrX", 0, 10)
    with pytest.raises(InputError, match="chr1:10-5: start > end"):
        genome.fetch("chr1", 10, 5)
    assert genome.fetch("chr1", -2, 3) == "NNACG" and genome.fetch("chr1", 4, 4) == ""


def test_run_attribute_names_an_object_given_for_a_path(tmp_path):
    import pandas as pd
    import torch

    from seqsal.errors import InputError
    from seqsal.pipeline import run_attribute

    regions = pd.DataFrame({"chrom": ["chr1"], "start": [0], "end": [10]})
    with pytest.raises(InputError, match="regions_path is a DataFrame, not a path .*seqsal.iter_attributions"):
        run_attribute("g.fa", regions, "m.pt", str(tmp_path / "out"))
    with pytest.raises(InputError, match="model_path is a Linear, not a path"):
        run_attribute("g.fa", "r.bed", torch.nn.Linear(2, 1), str(tmp_path / "out"))
    assert not (tmp_path / "out").exists()


# Each public method called by itself (seqsal.integrated_gradients(model, x, target=...), as a notebook does) takes
# what seqsal.attribute takes. Was: numpy x -> AttributeError ('numpy.ndarray' object has no attribute 'device'),
# target=1 -> AttributeError ('int' object has no attribute 'select'), a LoadedModel -> "not callable".
DIRECT = {"integrated_gradients": {"steps": 4}, "deep_lift_shap": {"references": 2}, "smoothgrad": {"samples": 2},
          "gradcam": {}, "ism": {}, "ism_deltas": {}}


@pytest.mark.parametrize("name", sorted(DIRECT))
def test_each_method_called_directly_takes_numpy_a_task_index_or_name_and_a_loaded_model(loaded, name):
    method = getattr(seqsal, name)
    params = DIRECT[name]
    expected = method(loaded.module, X, Target(task=1), **params)
    for model, x, target in ((loaded.module, X.numpy(), 1), (loaded, X, "beta"), (loaded, X.numpy(), np.int64(1)),
                             (loaded.module, X, "task=1")):
        ours = method(model, x, target=target, **params)
        for got, want in zip(ours, expected):
            torch.testing.assert_close(got, want, rtol=0, atol=0)
    assert not torch.equal(method(loaded.module, X, 0, **params)[0], expected[0]) or name == "gradcam"


@pytest.mark.parametrize("name", sorted(DIRECT))
@pytest.mark.parametrize("x, target, message", [
    (X, 1.5, r"^target is a float \(1\.5\); pass a task index"),
    (X, "delta", r"task 'delta' is not one of the model's tasks: alpha, beta, gamma"),
    ("ACGT", None, r"^x is a string; give one-hot"),
    (X[0], None, r"^x has shape \(4, 101\): one sequence without its batch axis; pass x\[None\]"),
    (X.transpose(1, 2), None, r"^x has shape \(3, 101, 4\), \(N, L, 4\); pass x\.transpose\(1, 2\)"),
    (X[:, :, :100], None, r"^x has length 100 but the model file declares windows of 101 bases"),
], ids=["float-target", "unknown-task", "string-x", "no-batch-axis", "channels-last", "wrong-length"])
def test_each_method_called_directly_refuses_bad_input_with_one_input_error(loaded, name, x, target, message):
    with pytest.raises(InputError, match=message):
        getattr(seqsal, name)(loaded, x, target, **DIRECT[name])


def test_completeness_takes_the_same_arguments(loaded):
    baselines = seqsal.make_baselines(X, references=2, baseline="shuffle", seed=0)
    hypothetical, _ = seqsal.integrated_gradients(loaded, X, "beta", steps=4, references=baselines,
                                                  check=None)  # a coarse path: the gap is what is measured
    gap = seqsal.completeness(loaded, X.numpy(), hypothetical, baselines, target="beta")
    torch.testing.assert_close(gap, seqsal.completeness(loaded.module, X, hypothetical, baselines, Target(task=1)))
    with pytest.raises(InputError, match=r"^model is a str; pass a torch nn.Module"):
        seqsal.completeness("model.pt", X, hypothetical, baselines)
