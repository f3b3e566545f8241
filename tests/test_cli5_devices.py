"""``--device`` values torch cannot parse (``gpu``, ``""``, ``xla``) are one line and exit 2 on every command that
takes ``--device`` (``attribute``, ``train``), parsed at the one place devices are read (:mod:`seqsal.devices`);
the case of a device name does not matter (fresh4's finding 5)."""
from __future__ import annotations

import pytest
import torch
from click.testing import CliRunner

from seqsal.cli import main
from seqsal.devices import DEVICE_CHOICES, parse_device, select_device
from seqsal.errors import InputError
from tests.conftest import write_bed

BAD = ["gpu", "", "  ", "xla", "cuda:-1", "cuda:1.5", "cuda:01", "mps:1", "cpu:2", "cpu,cuda", "meta"]


@pytest.mark.parametrize("text", BAD)
def test_a_device_torch_cannot_parse_or_seqsal_cannot_use_is_an_input_error(text):
    with pytest.raises(InputError, match=f"give {DEVICE_CHOICES}"):
        select_device(text)


@pytest.mark.parametrize(("text", "device"), [("cpu", "cpu"), ("CPU", "cpu"), (" Cpu ", "cpu"), ("cuda", "cuda"),
                                              ("CUDA:1", "cuda:1"), ("cuda:10", "cuda:10"), ("MPS", "mps")])
def test_device_names_are_read_in_any_case(text, device):
    assert parse_device(text) == torch.device(device)
    assert parse_device("AUTO") is None and parse_device("auto") is None


def test_upper_case_cpu_runs_on_the_cpu_and_auto_picks_one():
    assert select_device("CPU") == torch.device("cpu")
    assert select_device("auto").type in ("cpu", "cuda", "mps")
    assert select_device(torch.device("cpu")) == torch.device("cpu")


def test_a_cuda_index_past_the_gpus_there_is_refused(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert select_device("cuda:1") == torch.device("cuda:1")
    with pytest.raises(InputError, match=r'device="cuda:2" was asked for but this machine has 2 CUDA GPUs'):
        select_device("cuda:2")


def _one_error_line(result, flag_value: str) -> None:
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"seqsal: error: --device {flag_value}"), result.output
    assert "Traceback" not in result.output and "RuntimeError" not in result.output
    assert lines[0].endswith(f"give {DEVICE_CHOICES}") or "(a GPU is cuda" in lines[0]


@pytest.mark.parametrize(("value", "shown"), [("gpu", "gpu"), ("", "''"), ("xla", "xla")])
def test_attribute_with_a_bad_device_is_one_line(small_genome, tiny_model, tmp_path, value, shown):
    genome, _ = small_genome
    bed = write_bed(tmp_path / "r.bed", ["chr1\t200\t400\tr1\t0\t+"])
    result = CliRunner().invoke(main, ["attribute", str(genome), str(bed), "--model", str(tiny_model[0]), "-o",
                                       str(tmp_path / "out"), "-q", "--no-peaks", "--device", value])
    _one_error_line(result, shown)


def test_train_with_a_bad_device_is_one_line(small_genome, tmp_path):
    genome, _ = small_genome
    labels = tmp_path / "labels.tsv"
    labels.write_text("chrom\tstart\tend\tactivity\n" + "".join(f"chr1\t{s}\t{s + 64}\t{s % 3}\n"
                                                               for s in range(100, 2000, 100)))
    result = CliRunner().invoke(main, ["train", str(genome), str(labels), "-o", str(tmp_path / "m.safetensors"),
                                       "--window", "64", "--epochs", "1", "--valid-chroms", "chr2", "--test-chroms",
                                       "chr2", "-q", "--device", "gpu"])
    _one_error_line(result, "gpu")


def test_an_unavailable_cuda_device_is_named_as_given():
    """`--device cuda:0` on a machine without CUDA said "--device cuda was asked for"; it names cuda:0 now."""
    import pytest
    import torch

    from seqsal.devices import select_device
    from seqsal.errors import InputError

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(InputError, match="cuda:0\"? was asked for but no CUDA GPU is available"):
        select_device("cuda:0")
