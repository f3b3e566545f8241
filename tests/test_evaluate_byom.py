"""A user's own models through ``seqsal evaluate`` and ``seqsal report``: TorchScript (no sanity check or receptive
field, no deepshap), a model file replaced after the run, and the target ``run.json`` records."""
from __future__ import annotations

import json
import shutil
import sys

import pandas as pd
import pytest
import torch
from click.testing import CliRunner
from torch import nn

import seqsal
from seqsal.cli import main
from seqsal.errors import InputError
from seqsal.run_windows import run_inputs
from seqsal.evaluate_inputs import DEFAULT_METHODS, methods_named, unavailable_checks
from seqsal.models import LoadedModel
from seqsal.model_checks import check_model_input
from seqsal.pipeline import AttributeOptions, _target_record, run_attribute
from seqsal.provenance import read_record, write_record
from seqsal.report import build_report
from seqsal.report_tables import target_text
from tests.conftest import write_bed

ARCH = '''
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self, channels=4):
        super().__init__()
        self.conv = nn.Conv1d(4, channels, 5, padding=2)
        self.head = nn.Linear(channels, 3)

    def forward(self, x):
        return torch.softmax(self.head(torch.relu(self.conv(x)).mean(dim=-1)), dim=-1)
'''


def _basset(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return seqsal.BassetCNN(input_length=200, n_tasks=2, channels=(8, 8), kernel_sizes=(7, 5), pool_sizes=(4, 4),
                            hidden=16).eval()


def _attribute(genome, tmp_path, model_path, out="out", **extra):
    bed = write_bed(tmp_path / "regions.bed", [f"chr1\t{s}\t{s + 200}\tr{s}\t0\t+" for s in range(200, 1800, 400)])
    run_attribute(str(genome), str(bed), str(model_path), str(tmp_path / out),
                  AttributeOptions(window=200, device="cpu"), progress=False, peaks=False, **extra)
    return tmp_path / out


@pytest.fixture()
def script_run(small_genome, tmp_path):
    """A run folder attributed with a TorchScript model (a traced Basset-style CNN)."""
    genome, _ = small_genome
    path = tmp_path / "model.pt"
    torch.jit.save(torch.jit.trace(_basset(0), torch.zeros(2, 4, 200)), str(path))
    return _attribute(genome, tmp_path, path)


def test_evaluate_of_a_torchscript_model_writes_no_headerless_table_and_says_what_it_skipped(script_run):
    """Issue BYOM-1/3: the default methods skip deepshap (one log line); no sanity table and no receptive field
    file (it was written as a lone newline), with one log line saying why and what to do."""
    result = CliRunner().invoke(main, ["evaluate", str(script_run), "--max-regions", "2", "--steps", "4"])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(script_run / "evaluation.tsv", sep="\t")
    assert table["method"].tolist() == ["random", *[m for m in DEFAULT_METHODS if m != "deepshap"]]
    for name in script_run.glob("evaluation*.tsv"):  # a table is never written without its header
        assert name.read_text().strip(), f"{name.name} has no header"
    assert not (script_run / "evaluation_erf.tsv").exists() and not (script_run / "evaluation_sanity.tsv").exists()
    messages = result.output.splitlines()
    checks = [m for m in messages if "no sanity check and no effective receptive field" in m]
    assert len(checks) == 1 and "TorchScript" in checks[0] and "--architecture" in checks[0]
    assert sum("skipped deepshap" in m and "TorchScript" in m for m in messages) == 1
    skipped = read_record(script_run, "evaluation")["skipped"]
    assert set(skipped) == {"sanity", "receptive_field", "methods"} and set(skipped["methods"]) == {"deepshap"}


def test_report_says_which_evaluation_checks_a_torchscript_model_skipped(script_run):
    assert CliRunner().invoke(main, ["evaluate", str(script_run), "--methods", "saliency", "-q",
                                     "--max-regions", "2"]).exit_code == 0
    text = build_report(script_run, top=1)
    section = text[text.index("<h2>Evaluation</h2>"):]
    assert "No sanity check and no effective receptive field: a TorchScript model" in section
    # an evaluation folder of an older seqsal: a receptive field file holding only a newline, no record of skips
    (script_run / "evaluation_erf.tsv").write_text("\n")
    write_record(script_run, "evaluation")  # as the older seqsal recorded it: no "skipped"
    text = build_report(script_run, top=1)  # was pandas.errors.EmptyDataError
    assert "<h3>Methods</h3>" in text and "<h3>Effective receptive field</h3>" not in text
    assert "No sanity check and no effective receptive field: a TorchScript model" in text


def test_named_methods_the_model_cannot_take_are_refused(script_run):
    result = CliRunner().invoke(main, ["evaluate", str(script_run), "--methods", "saliency,deepshap", "-q",
                                       "--max-regions", "2"])
    assert result.exit_code == 2 and "deepshap needs a Python nn.Module" in result.output
    assert methods_named(None, None) == (list(DEFAULT_METHODS), False)
    assert methods_named(["ig", "ism"], None) == (["ig", "ism"], True)
    assert methods_named(list(DEFAULT_METHODS), True)[1] is True


def test_checks_a_model_cannot_take():
    assert unavailable_checks("state_dict", True, True) == {}
    assert set(unavailable_checks("export", False, False)) == {"sanity", "receptive_field"}
    assert "torch.export" in unavailable_checks("export", False, False)["sanity"]
    assert set(unavailable_checks("torchscript", False, False, sanity=False)) == {"receptive_field"}
    assert unavailable_checks("state_dict", True, False) == {
        "receptive_field": "the model has no Conv1d module whose output can be hooked"}


def test_a_model_file_replaced_after_the_run_is_refused(small_genome, tmp_path):
    """Issue BYOM-2: evaluate (and every check that reloads the run's model) scored whatever file now sits at the
    recorded path."""
    genome, _ = small_genome
    path = tmp_path / "model.safetensors"
    seqsal.save_model(_basset(0), path)
    out = _attribute(genome, tmp_path, path)
    recorded = json.loads((out / "run.json").read_text())["model"]["sha256"]
    run_inputs(out, 2, None)  # the same file: fine
    seqsal.save_model(_basset(1), path)
    with pytest.raises(InputError) as caught:
        run_inputs(out, 2, None)
    now = seqsal.models.files.file_sha256(path)
    assert str(caught.value) == (f"{path}: the model file changed since this run (sha256 recorded {recorded[:8]}..., "
                                 f"now {now[:8]}...); rerun seqsal attribute, or restore the original (a copy of it "
                                 "elsewhere: `seqsal relocate RUN_FOLDER --model PATH`)")
    result = CliRunner().invoke(main, ["evaluate", str(out), "--methods", "saliency", "-q"])
    assert result.exit_code == 2 and result.output.strip().splitlines() == [f"seqsal: error: {caught.value}"]
    # a run folder of an older seqsal, which recorded no hash: a warning, not a refusal
    record = json.loads((out / "run.json").read_text())
    del record["model"]["sha256"]
    (out / "run.json").write_text(json.dumps(record))
    result = CliRunner().invoke(main, ["evaluate", str(out), "--methods", "saliency", "--max-regions", "2"])
    assert result.exit_code == 0 and "recorded no sha256 of its model file" in result.output


def test_an_architecture_file_edited_after_the_run_is_refused(small_genome, tmp_path):
    genome, _ = small_genome
    arch = tmp_path / "arch.py"
    arch.write_text(ARCH)
    namespace: dict = {}
    exec(compile(ARCH, "arch", "exec"), namespace)
    torch.save(namespace["Net"]().state_dict(), tmp_path / "w.pt")
    out = _attribute(genome, tmp_path, tmp_path / "w.pt", architecture=f"{arch}:Net")
    assert len(json.loads((out / "run.json").read_text())["model"]["architecture_sha256"]) == 64
    run_inputs(out, 1, None)
    arch.write_text(ARCH.replace("padding=2", "padding=2, bias=False"))
    with pytest.raises(InputError, match=r"arch.py: the architecture file changed since this run \(sha256 recorded "):
        run_inputs(out, 1, None)


def test_run_json_records_the_resolved_task_and_whether_a_profile_was_reduced(small_genome, tmp_path):
    """Issue BYOM-4: a (N, 3) class output was reported as 'a profile output reduced by sum', and the task as null."""
    genome, _ = small_genome
    path = tmp_path / "model.safetensors"
    seqsal.save_model(_basset(0), path)
    target = json.loads((_attribute(genome, tmp_path, path) / "run.json").read_text())["target"]
    assert target["task"] == 0 and target["profile"] is False
    assert "reduced" not in target_text(target)

    class Profile(nn.Module):  # (N, 2 tasks, L) -> a profile per task
        def forward(self, x):
            return torch.stack([x[:, 0], x[:, 1]], dim=1)

    loaded = LoadedModel(module=Profile(), input_length=None, task_names=None, source="state_dict", sha256="",
                         description={})
    recorded = _target_record(*check_model_input(loaded, None, 50, seqsal.Target(axis=1), "cpu"))
    assert recorded["profile"] is True and recorded["task"] == 0
    assert "a profile output reduced by sum" in target_text(recorded)


HELPER_ARCH = '''
import torch
from torch import nn

import lab_layers


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(4, 4, 5, padding=2)
        self.head = nn.Linear(4, 1)

    def forward(self, x):
        return self.head(torch.relu(self.conv(x)).mean(dim=-1)) * lab_layers.SCALE
'''


def test_a_module_the_architecture_file_imports_is_recorded_and_checked(small_genome, tmp_path):
    """fresh24: a lab's arch.py importing its own lab_layers.py; lab_layers.py edited between a killed run and its
    --resume gave a folder whose first regions came from one model and the rest from another (predictions x10), and
    `seqsal evaluate` explained the edited model. The module is now recorded with the architecture file and
    checked like it."""
    from tests.test_reliability import dying_checkpoint

    genome, _ = small_genome
    (tmp_path / "arch.py").write_text(HELPER_ARCH)
    (tmp_path / "lab_layers.py").write_text("SCALE = 1.0\n")
    sys.path.insert(0, str(tmp_path))
    try:
        import lab_layers  # noqa: F401 - imported by the arch file
        namespace: dict = {}
        exec(compile(HELPER_ARCH, "arch", "exec"), namespace)
        torch.save(namespace["Net"]().state_dict(), tmp_path / "w.pt")
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("lab_layers", None)
    architecture = f"{tmp_path / 'arch.py'}:Net"
    out = _attribute(genome, tmp_path, tmp_path / "w.pt", architecture=architecture)
    record = json.loads((out / "run.json").read_text())["model"]
    assert list(record["architecture_imports"]) == ["lab_layers.py"]
    run_inputs(out, 1, None)
    (tmp_path / "lab_layers.py").write_text("SCALE = 10.0\n")
    with pytest.raises(InputError, match=r"lab_layers.py: the module the architecture file imports changed since "
                                         r"this run .* `seqsal relocate RUN_FOLDER --architecture PATH`"):
        run_inputs(out, 1, None)

    class Stop(Exception):
        pass

    (tmp_path / "lab_layers.py").write_text("SCALE = 1.0\n")
    sys.modules.pop("lab_layers", None)
    bed, killed = tmp_path / "regions.bed", tmp_path / "killed"
    options = AttributeOptions(window=200, device="cpu", chunk_size=1)
    with dying_checkpoint(Stop), pytest.raises(Stop):
        run_attribute(str(genome), str(bed), str(tmp_path / "w.pt"), str(killed), options, architecture=architecture,
                      progress=False, peaks=False)
    (tmp_path / "lab_layers.py").write_text("SCALE = 10.0\n")
    sys.modules.pop("lab_layers", None)
    with pytest.raises(InputError, match=r"changed since: lab_layers.py \(imported by the architecture file\)"):
        run_attribute(str(genome), str(bed), str(tmp_path / "w.pt"), str(killed), options, architecture=architecture,
                      progress=False, peaks=False, resume=True)
    # review25: `relocate --architecture` to a folder without the module it imports was accepted, and every reader
    # then refused the run, advising the relocation just made; now the module must be there, and the same bytes
    from seqsal.relocate import relocate_run

    (tmp_path / "lab_layers.py").write_text("SCALE = 1.0\n")
    moved = tmp_path / "moved"
    moved.mkdir()
    shutil.copy(tmp_path / "arch.py", moved / "arch.py")
    with pytest.raises(InputError, match="imports lab_layers.py, which is not beside it"):
        relocate_run(out, architecture=str(moved / "arch.py"))
    (moved / "lab_layers.py").write_text("SCALE = 10.0\n")
    with pytest.raises(InputError, match="not the module the architecture file imports"):
        relocate_run(out, architecture=str(moved / "arch.py"))
    shutil.copy(tmp_path / "lab_layers.py", moved / "lab_layers.py")
    assert relocate_run(out, architecture=str(moved / "arch.py"))["architecture"]["to"] == f"{moved / 'arch.py'}:Net"
    run_inputs(out, 1, None)


NORMED = '''
import torch
from torch import nn


class Normed(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(4, 6, 5, padding=2)
        self.norm = nn.LayerNorm(6)
        self.head = nn.Linear(6, 1)

    def forward(self, x):
        h = torch.relu(self.conv(x)).mean(dim=-1)
        return self.head(self.norm(h))
'''


def test_a_named_method_that_cannot_take_the_model_s_layers_is_refused_before_any_work(small_genome, tmp_path,
                                                                                       monkeypatch):
    """fresh30: `--methods grad_x_input,ig,ism,deepshap` on a model with a LayerNorm ran the three for 8 minutes,
    then refused deepshap (its rules have none for LayerNorm). Now deepshap is tried on one window first."""
    import seqsal.evaluate as evaluate_module

    genome, _ = small_genome
    arch = tmp_path / "normed.py"
    arch.write_text(NORMED)
    namespace: dict = {}
    exec(compile(NORMED, "normed", "exec"), namespace)
    torch.manual_seed(0)
    torch.save(namespace["Normed"]().state_dict(), tmp_path / "w.pt")
    out = _attribute(genome, tmp_path, tmp_path / "w.pt", architecture=f"{arch}:Normed")
    called = []
    real = evaluate_module.projected_scores
    monkeypatch.setattr(evaluate_module, "projected_scores", lambda *a, **k: called.append(a[2]) or real(*a, **k))
    with pytest.raises(InputError, match="deepshap cannot handle"):
        seqsal.evaluate_run(str(out), methods=["grad_x_input", "ism", "deepshap"], max_regions=2, progress=False)
    assert called == []  # nothing computed before the refusal
    assert not (out / "evaluation.tsv").exists()
    # unnamed (the default list), deepshap is skipped with a line and the others run
    table = seqsal.evaluate_run(str(out), methods=None, max_regions=2, progress=False, sanity=False,
                                method_params={"ig": {"steps": 4}})
    assert "deepshap" not in set(table["method"]) and "grad_x_input" in set(table["method"])


@pytest.mark.parametrize("bad", [-1, 0, 2.5, True])
def test_a_max_regions_that_is_not_a_count_is_refused(bad):
    """fresh30b: -1, 2.5 and 0 ended in numpy's ValueError/TypeError deep in the sampling."""
    with pytest.raises(InputError, match="max_regions must be a whole number >= 1"):
        seqsal.evaluate_run("no-such-folder", max_regions=bad)
