"""seqsal train refuses what would hand back a wrong model: divergence, a report over the model, a resume on other
data, two writers of one model; a trained BPNet names its trained output and window; a model file is read by its
content, whatever its suffix."""
from __future__ import annotations

import gzip
import logging
import shutil
import threading

import numpy as np
import pytest
import torch

import seqsal
from seqsal.errors import InputError
from seqsal.train import train_model
from seqsal.train_data import read_labels
from tests.test_train import _options, world  # noqa: F401 (the module-scoped world fixture)


@pytest.mark.parametrize("extra", [{"learning_rate": 1e9}, {"fourier_prior": 1e38, "prior_every": 1}])
def test_a_diverging_run_writes_no_model(world, tmp_path, extra):  # noqa: F811
    """The old loop logged `loss nan`, exited 0 and saved the untrained starting weights."""
    model = tmp_path / "m.safetensors"
    with pytest.raises(InputError, match="diverged at epoch 1|finite validation score"):
        train_model(world / "genome.fa", read_labels(world / "labels.tsv", tasks=["activity"]), model,
                    _options(**extra), quiet=True)
    assert not model.exists()


@pytest.mark.parametrize("name", ["learning_rate", "fourier_prior", "mask_weight", "consistency_weight"])
@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_non_finite_rates_and_weights_are_refused(world, tmp_path, name, value):  # noqa: F811
    with pytest.raises(InputError, match="finite number"):
        train_model(world / "genome.fa", world / "labels.tsv", tmp_path / "m.safetensors", _options(**{name: value}),
                    quiet=True)


@pytest.mark.parametrize("report, message", [("m.safetensors", "would overwrite the model file"),
                                             ("m.safetensors.ckpt", "would overwrite the model's checkpoint"),
                                             ("r.json", "an .html name")])
def test_a_report_path_never_overwrites_the_model_or_itself(world, tmp_path, report, message):  # noqa: F811
    with pytest.raises(InputError, match=message):
        train_model(world / "genome.fa", world / "labels.tsv", tmp_path / "m.safetensors", _options(epochs=1),
                    quiet=True, report=tmp_path / report)
    assert not (tmp_path / "m.safetensors").exists()


def test_lengths_longer_than_the_window_and_chromosomes_not_in_a_list_are_refused(world, tmp_path):  # noqa: F811
    for extra, name in (({"consistency": "shift", "consistency_weight": 1.0, "consistency_shift": 64},
                         "consistency_shift=64"), ({"max_shift": 80}, "max_shift=80"),
                        ({"random_cutout": 0.5, "cutout_span": (10, 70)}, "cutout_span=70"),
                        ({"fourier_prior": 1.0, "fourier_freq_limit": 32}, "fourier_freq_limit=32 counts all 32"),
                        ({"valid_chroms": "chrB"}, r"valid_chroms='chrB': give a list"),
                        ({"test_chroms": [1]}, r"test_chroms=\[1\]: give a list"),
                        ({"fourier_freq_limit": 0}, "fourier_freq_limit=0")):
        with pytest.raises(InputError, match=name):
            train_model(world / "genome.fa", world / "labels.tsv", tmp_path / "m.safetensors", _options(**extra),
                        quiet=True)


def test_resume_refuses_another_genome_or_edited_labels_and_names_them(world, tmp_path, caplog):  # noqa: F811
    labels_path = tmp_path / "labels.tsv"
    shutil.copy(world / "labels.tsv", labels_path)
    other = tmp_path / "other.fa"
    other.write_text((world / "genome.fa").read_text().replace("ACGTA", "ACGTC", 3))

    def kill(epoch: int, batch: int) -> None:
        if epoch == 2:
            raise KeyboardInterrupt

    model = tmp_path / "m.safetensors"
    with pytest.raises(KeyboardInterrupt):
        train_model(world / "genome.fa", labels_path, model, _options(), quiet=True, on_batch=kill)
    with pytest.raises(InputError, match="changed since: the genome file's contents"):
        train_model(other, labels_path, model, _options(), quiet=True, resume=True)
    labels_path.write_text(labels_path.read_text().replace("\t1\n", "\t0\n", 1))
    with pytest.raises(InputError, match="changed since: the labels' regions or values.*force"):
        train_model(world / "genome.fa", labels_path, model, _options(), quiet=True, resume=True)
    with pytest.raises(InputError, match=r"changed since: .*learning.rate"):
        train_model(world / "genome.fa", labels_path, model, _options(learning_rate=0.1), quiet=True, resume=True)
    # the same labels gzipped with CRLF line ends are the same data: the run resumes (it was refused by bytes)
    gzipped = tmp_path / "labels.tsv.gz"
    gzipped.write_bytes(gzip.compress((world / "labels.tsv").read_text().replace("\n", "\r\n").encode()))
    with caplog.at_level(logging.INFO, logger="seqsal"):
        train_model(world / "genome.fa", gzipped, model, _options(), quiet=True, resume=True)
    assert "after epoch 1" in caplog.text and model.exists()


def test_a_second_writer_of_one_model_is_refused_while_the_first_runs(world, tmp_path):  # noqa: F811
    model = tmp_path / "m.safetensors"
    started, release, errors = threading.Event(), threading.Event(), []

    def hold(epoch: int, batch: int) -> None:
        started.set()
        release.wait(30)

    def first() -> None:
        try:
            train_model(world / "genome.fa", world / "labels.tsv", model, _options(epochs=1), quiet=True,
                        on_batch=hold)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    thread = threading.Thread(target=first)
    thread.start()
    assert started.wait(60)
    import subprocess
    import sys
    code = (f"from seqsal.train import train_model; from tests.test_train import _options; "
            f"train_model({str(world / 'genome.fa')!r}, {str(world / 'labels.tsv')!r}, {str(model)!r}, "
            f"_options(epochs=1), quiet=True, force=True)")
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=str(
        __import__("pathlib").Path(__file__).resolve().parents[1]))
    from seqsal.train_outputs import report_paths

    report = report_paths(str(model), None)[0]  # trainbreak: another model's run wrote its report over this one's
    code = (f"from seqsal.train import train_model; from tests.test_train import _options; "
            f"train_model({str(world / 'genome.fa')!r}, {str(world / 'labels.tsv')!r}, {str(tmp_path / 'n.st')!r}, "
            f"_options(epochs=1), quiet=True, report={report!r})")
    third = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=str(
        __import__("pathlib").Path(__file__).resolve().parents[1]))
    release.set()
    thread.join(120)
    assert other.returncode != 0 and "is writing this file" in other.stderr, other.stderr[-400:]
    assert third.returncode != 0 and "is writing this file" in third.stderr, third.stderr[-400:]
    assert not (tmp_path / "n.st").exists()
    assert not errors and model.exists()


def test_a_trained_bpnet_names_its_counts_head_and_window_for_attribute(world, tmp_path):  # noqa: F811
    """seqsal train fits a BPNet's counts head on 64-bp windows; attribute then explains that head over such
    windows by default (the old file named neither: the untrained profile head was explained, regions whole)."""
    model = tmp_path / "bp.safetensors"
    config = {"n_filters": 8, "n_layers": 2, "first_kernel": 7, "profile_kernel": 7}
    train_model(world / "genome.fa", read_labels(world / "labels.tsv", tasks=["activity"]), model,
                _options(architecture="bpnet", model_config=config, epochs=1), quiet=True)
    loaded = seqsal.load_model(model)
    assert loaded.default_target == "output=1" and loaded.input_length == 64
    assert loaded.target_text(None) == "output=1" and loaded.target_text("output=0") == "output=0"
    # fresh24b: a task alone (index or name) is the counts head's, not the untrained profile head's
    for given in ("0", "activity", "task=activity,transform=none"):
        assert loaded.target_text(given) == f"output=1,{given}"
    assert seqsal.Target.parse(loaded.target_text("activity")).resolve(loaded.task_names) == seqsal.Target(output=1,
                                                                                                           task=0)
    renamed = tmp_path / "bp.pt"  # safetensors bytes under another suffix: read by content, never unpickled
    shutil.copy(model, renamed)
    again = seqsal.load_model(renamed)
    cut = tmp_path / "cut.pt"  # the same, truncated: refused as truncated, not as a pickle
    cut.write_bytes(model.read_bytes()[:1000])
    with pytest.raises(InputError, match="truncated"):
        seqsal.load_model(cut)
    x = torch.from_numpy(np.eye(4, dtype=np.float32)[np.arange(64) % 4].T[None].copy())
    assert torch.equal(again.module(x)[1], loaded.module(x)[1])


def test_an_output_folder_that_cannot_be_written_is_refused_before_any_work(world, tmp_path):  # noqa: F811
    (tmp_path / "afile").write_text("not a folder")
    with pytest.raises(InputError, match="cannot write into"):
        train_model(world / "genome.fa", world / "labels.tsv", tmp_path / "afile" / "m.safetensors",
                    _options(epochs=1), quiet=True)
    with pytest.raises(InputError, match="max_shift=80"):  # refused after the lock: no empty folders left
        train_model(world / "genome.fa", world / "labels.tsv", tmp_path / "new" / "sub" / "m.safetensors",
                    _options(max_shift=80), quiet=True)
    assert not (tmp_path / "new").exists()
    train_model(world / "genome.fa", world / "labels.tsv", tmp_path / "new" / "m.safetensors", _options(epochs=1),
                quiet=True)
    assert sorted(p.name for p in (tmp_path / "new").iterdir()) == [
        "m.safetensors", "m.safetensors.ckpt", "m.train_report.html", "m.train_report.json"]


def test_precision_is_checked_and_records_what_ran(world, tmp_path):  # noqa: F811
    """fresh8: --precision bf16 on the CPU ran in fp32 but the report recorded bf16; fp8 was accepted."""
    with pytest.raises(InputError, match="unknown precision 'fp8'"):
        train_model(world / "genome.fa", world / "labels.tsv", tmp_path / "a.safetensors", _options(precision="fp8"),
                    quiet=True)
    summary = train_model(world / "genome.fa", world / "labels.tsv", tmp_path / "b.safetensors",
                          _options(precision="bf16", epochs=1, device="cpu"), quiet=True)
    assert summary["precision"] == "fp32"


def test_fp32_training_steps_and_validation_run_in_the_precision_context(world, tmp_path, monkeypatch):  # noqa: F811
    """review32: `--precision fp32` on a GPU trained under TF32 (cuDNN's default) and recorded fp32: each step and
    each validation pass now runs in seqsal.devices.precision_context (full float32 on a GPU)."""
    from helpers import record_precision

    from seqsal import train
    seen = record_precision(monkeypatch, train)
    train_model(world / "genome.fa", world / "labels.tsv", tmp_path / "c.safetensors",
                _options(precision="fp32", epochs=1, device="cpu"), quiet=True)
    assert len(seen) >= 3 and set(seen) == {("cpu", None)}  # steps, the validation pass, the held-out metrics


def test_force_never_overwrites_the_runs_own_inputs(world, tmp_path):  # noqa: F811
    """fresh10: `--force --report labels.bed` turned the labels into the HTML report, `-o genome.fa --force` the
    genome into the model, both exit 0."""
    genome, labels = tmp_path / "genome.fa", tmp_path / "labels.tsv"
    shutil.copy(world / "genome.fa", genome)
    shutil.copy(world / "labels.tsv", labels)
    before = genome.read_bytes(), labels.read_bytes()
    for output, report in ((tmp_path / "m.safetensors", labels), (genome, None)):
        with pytest.raises(InputError, match="would overwrite an input of the run"):
            train_model(genome, labels, output, _options(epochs=1), quiet=True, report=report, force=True)
    assert (genome.read_bytes(), labels.read_bytes()) == before


def test_tasks_named_twice_or_a_coordinate_and_a_zero_mask_weight_are_refused(world, tmp_path):  # noqa: F811
    """fresh10: --tasks a,a trained two tasks of one name (--target a then picked one); --tasks chrom said the
    column held text; --mask-prior X 0 said it needed a weight."""
    for tasks in (["activity", "activity"], ["chrom"]):
        with pytest.raises(InputError, match="name each task column once"):
            read_labels(world / "labels.tsv", tasks=tasks)
    with pytest.raises(InputError, match="0 turns it off"):
        train_model(world / "genome.fa", world / "labels.tsv", tmp_path / "m.safetensors",
                    _options(mask_prior=str(world / "labels.tsv"), mask_weight=0.0), quiet=True)


def test_resume_without_a_checkpoint_does_not_overwrite_a_finished_model(tmp_path):
    """``--resume`` with no checkpoint to continue used to start over and overwrite the model and report there
    (another run's, without ``--force``: trainbreak); with a checkpoint it continues; nothing there: it starts."""
    from seqsal.train_outputs import check_train_outputs

    output, report, checkpoint = (str(tmp_path / name) for name in ("m.safetensors", "m.html", "m.safetensors.ckpt"))
    check_train_outputs(output, (report,), checkpoint, force=False, resume=True)  # nothing there: starts
    (tmp_path / "m.safetensors").write_bytes(b"a finished model")
    with pytest.raises(InputError, match=r"exists already and (--)?resume finds no checkpoint \(m.safetensors.ckpt\)"):
        check_train_outputs(output, (report,), checkpoint, force=False, resume=True)
    check_train_outputs(output, (report,), checkpoint, force=True, resume=False)
    (tmp_path / "m.safetensors.ckpt").write_bytes(b"an interrupted run")
    check_train_outputs(output, (report,), checkpoint, force=False, resume=True)


@pytest.mark.parametrize("max_shift, shift", [(3, 0), (3, 5), (5, 5), (10, 5), (0, 4)])
def test_shift_consistency_keeps_the_shift_augmentation(max_shift, shift):
    """The shift augmentation spans +-max_shift with or without ``--consistency shift``, whose partner lies
    ``shift`` further (trainbreak: with max_shift 3 and the consistency shift 5 every window was centred)."""
    from seqsal.train import TrainData, flank_of, make_batch

    options = _options(max_shift=max_shift, rc_augment=False,
                       **({"consistency": "shift", "consistency_weight": 1.0, "consistency_shift": shift} if shift
                          else {}))
    window, flank = 20, flank_of(options)
    assert flank == max_shift + shift
    x = np.broadcast_to(np.arange(window + 2 * flank, dtype=np.int8), (400, 4, window + 2 * flank)).copy()
    batch = make_batch(TrainData(x, np.zeros((400, 1), np.float32)), np.arange(400), options, window,
                       np.random.default_rng(0))
    moved = batch["x"][:, 0, 0].astype(int) - flank
    assert sorted(set(moved.tolist())) == list(range(-max_shift, max_shift + 1))
    if shift:
        assert np.array_equal(batch["x_shifted"][:, 0, 0].astype(int) - flank, moved + shift)


def test_rc_consistency_skips_a_batch_of_one_window():
    """Centred on one window, the map and the mapped-back map are opposite: a constant distance of 2 with no
    gradient (trainbreak); the term is left out for such a batch and its epoch mean is that of the others."""
    from seqsal.train import train_step
    from seqsal.train_priors import centred_pair

    a, b = torch.randn(1, 30), torch.randn(1, 30)
    centred = centred_pair(a, b)
    assert torch.allclose(centred[0], -centred[1])
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv1d(4, 3, 5), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.LazyLinear(1))
    model(torch.zeros(2, 4, 20))
    options = _options(consistency="rc", consistency_weight=1.0)
    rng = np.random.default_rng(0)
    x = np.eye(4, dtype=np.float32)[rng.integers(0, 4, (3, 20))].transpose(0, 2, 1).copy()
    optimiser = torch.optim.SGD(model.parameters(), lr=0.0)
    for n, present in ((1, False), (3, True)):
        batch = {"x": x[:n], "y": np.zeros((n, 1), np.float32)}
        values = train_step(model, optimiser, batch, options, rng, torch.device("cpu"), None)
        assert ("consistency" in values) == present
