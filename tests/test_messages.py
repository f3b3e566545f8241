"""Issue 15, messages a newcomer trips on: plurals, NaN in a logo, the hint for a folder that holds a run."""
from __future__ import annotations

import numpy as np
import pytest

from seqsal.errors import InputError
from seqsal.text import plural


def test_plural():
    assert [plural(n, "region") for n in (0, 1, 2, 12345)] == ["0 regions", "1 region", "2 regions", "12,345 regions"]
    assert plural(1, "match", "matches") == "1 match" and plural(3, "match", "matches") == "3 matches"


@pytest.mark.parametrize("engine", ["fast", "logomaker"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_draw_logo_refuses_nan_and_inf_in_one_line(engine, bad):
    """matplotlib said "Axis limits cannot be NaN or Inf"; logomaker suggested an allow_nan that exists nowhere."""
    from matplotlib.figure import Figure

    from seqsal.plot import draw_logo

    matrix = np.zeros((4, 8))
    matrix[1, 2] = 0.5
    matrix[2, 5] = bad
    matrix[0, 7] = bad
    ax = Figure().add_subplot()
    with pytest.raises(InputError) as info:
        draw_logo(ax, matrix, engine=engine)
    assert str(info.value) == ("the logo matrix holds NaN or Inf in 2 columns (first: column 5, 0-based); a logo "
                               "needs finite heights: replace them first, e.g. np.nan_to_num(matrix)")
    assert "allow_nan" not in str(info.value)
    draw_logo(ax, np.nan_to_num(matrix, posinf=0, neginf=0), engine=engine)  # the advice works


def test_counts_in_log_lines_agree_with_their_nouns(tmp_path):
    """'1 regions attributed', '1 tasks': one region and a one-task model through the command line."""
    from click.testing import CliRunner

    from seqsal.cli import main
    from tests.test_reliability import make_job

    job = make_job(tmp_path / "job")
    bed = job.root / "one.bed"
    bed.write_text("chr1\t100\t300\n")
    args = [arg for arg in job.args(bed=bed, extra=["--no-peaks"]) if arg != "-q"]  # info lines on
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "seqsal: 1 region attributed in" in result.output and "1 regions" not in result.output
    result = CliRunner().invoke(main, job.args(bed=bed, extra=["--target", "7", "--force"]))
    assert result.exit_code == 2 and "the model has 2 tasks (0..1)" in result.output


def test_folder_with_a_run_names_the_flag_that_fits(tmp_path):
    """A finished run is not 'finished' by --resume: only an interrupted one is."""
    from seqsal.run_checkpoint import prepare_output

    out = tmp_path / "out"
    (out / ".partial").mkdir(parents=True)
    with pytest.raises(InputError, match="holds an interrupted run; pass resume to finish it or force"):
        prepare_output(out, "digest", resume=False, force=False)
    (out / ".partial").rmdir()
    (out / "run.json").write_text("{}")
    with pytest.raises(InputError) as info:
        prepare_output(out, "digest", resume=False, force=False)
    assert "holds a finished run; pass force to overwrite it" in str(info.value) and "resume" not in str(info.value)


def test_an_interrupt_names_resume_only_for_a_command_that_has_it_and_permission_errors_are_one_line(
        monkeypatch, tmp_path):
    import seqsal.peaks
    import seqsal.pipeline
    from click.testing import CliRunner

    from seqsal.cli import main

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(tmp_path / "seqlets.bed.tmp-1"))

    monkeypatch.setattr(seqsal.peaks, "call_peaks_from_run", interrupted)
    result = CliRunner().invoke(main, ["call-peaks", str(tmp_path)])
    assert result.exit_code == 130 and "--resume" not in result.output and "interrupted" in result.output
    monkeypatch.setattr(seqsal.pipeline, "run_attribute", interrupted)
    (tmp_path / "g.fa").write_text(">c\nACGT\n")
    (tmp_path / "r.bed").write_text("c\t0\t4\n")
    result = CliRunner().invoke(main, ["attribute", str(tmp_path / "g.fa"), str(tmp_path / "r.bed"), "--model",
                                       str(tmp_path / "m.pt"), "-o", str(tmp_path / "out")])
    assert result.exit_code == 130 and "rerun with --resume" in result.output, result.output
    assert "in place of --force" not in result.output
    result = CliRunner().invoke(main, ["attribute", str(tmp_path / "g.fa"), str(tmp_path / "r.bed"), "--model",
                                       str(tmp_path / "m.pt"), "-o", str(tmp_path / "out"), "--force"])
    assert result.exit_code == 130 and "rerun with --resume in place of --force" in result.output, result.output
    import seqsal.train

    monkeypatch.setattr(seqsal.train, "train_model", interrupted)  # fresh24b: before any checkpoint, no --resume
    (tmp_path / "l.bed").write_text("c\t0\t4\tx\t1\n")
    train = ["train", str(tmp_path / "g.fa"), str(tmp_path / "l.bed"), "-o", str(tmp_path / "m.safetensors"),
             "--valid-chroms", "c"]
    result = CliRunner().invoke(main, train)
    assert result.exit_code == 130 and "--resume" not in result.output and "rerun the command" in result.output
    (tmp_path / "m.safetensors.ckpt").write_bytes(b"")
    assert "rerun with --resume" in CliRunner().invoke(main, train).output
    monkeypatch.setattr(seqsal.peaks, "call_peaks_from_run", denied)
    result = CliRunner().invoke(main, ["call-peaks", str(tmp_path)])
    assert result.exit_code == 2 and "permission denied" in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_commands_on_a_run_in_place_refuse_a_run_that_has_not_finished(tmp_path):
    """A run interrupted after its arrays were written (in the shuffled-null phase: attributions.npz and
    regions.tsv there, .partial still holding the checkpoint, no run.json) is refused by every command that
    derives files from it, with one line naming --resume; they used to write motifs "not tested against the null"
    that a later --resume kept. Finished, the same folder is accepted."""
    from click.testing import CliRunner

    from seqsal.cli import main
    from tests.test_reliability import make_job

    job = make_job(tmp_path / "job")
    result = CliRunner().invoke(main, job.args())
    assert result.exit_code == 0, result.output
    record = (job.out / "run.json").read_text()
    (job.out / "run.json").unlink()
    (job.out / ".partial").mkdir()
    out = str(job.out)
    for args in (["motifs", out, "--database", "none"], ["call-peaks", out], ["logos", out], ["report", out],
                 ["audit", out], ["evaluate", out], ["check-seqlets", out],
                 ["export-modisco", out, "-o", str(tmp_path / "modisco")]):
        result = CliRunner().invoke(main, [*args, "-q"])
        assert result.exit_code == 2, (args, result.output)
        assert "has not finished" in result.output and "--resume" in result.output, (args, result.output)
        assert len(result.output.strip().splitlines()) == 1, (args, result.output)
    assert not (job.out / "motifs.tsv").exists() and not (tmp_path / "modisco").exists()
    (job.out / ".partial").rmdir()
    (job.out / "run.json").write_text(record)
    result = CliRunner().invoke(main, ["call-peaks", out, "-q"])
    assert result.exit_code == 0, result.output


def test_attribute_force_with_another_method_removes_what_described_the_earlier_run(tmp_path):
    """saliency and grad_x_input store the same arrays (the corrected gradient), so the attribution key matched and
    `attribute --force --method saliency` kept the grad_x_input run's report and motifs. Now a rerun with other
    inputs or options removes every derived group but its own calls (logged); a rerun with the same inputs and
    another batch size removes only the report (it shows the run's record)."""
    from click.testing import CliRunner

    from seqsal.cli import main
    from tests.test_reliability import make_job

    job = make_job(tmp_path / "job")
    out = str(job.out)

    def derive() -> None:
        for args in (["motifs", out, "--database", "none"], ["report", out]):
            result = CliRunner().invoke(main, [*args, "-q"])
            assert result.exit_code == 0, (args, result.output)
        assert (job.out / "report.html").exists() and (job.out / "motifs.tsv").exists()

    assert CliRunner().invoke(main, job.args()).exit_code == 0
    derive()
    result = CliRunner().invoke(main, [a for a in job.args(extra=["--force", "--batch-size", "3"]) if a != "-q"])
    assert result.exit_code == 0, result.output
    assert not (job.out / "report.html").exists() and (job.out / "motifs.tsv").exists()
    assert "removed report.html: it showed the earlier run's record" in result.output
    derive()
    result = CliRunner().invoke(main, [a for a in job.args(extra=["--force", "--method", "saliency"]) if a != "-q"])
    assert result.exit_code == 0, result.output
    assert not (job.out / "report.html").exists() and not (job.out / "motifs.tsv").exists()
    assert "described the earlier run in this folder" in result.output
    assert (job.out / "seqlets.tsv").exists() and (job.out / "run.json").exists()
    # a forced run with another method, interrupted after its first checkpoint: the earlier run's files go at once
    from tests.test_reliability import dying_checkpoint
    assert CliRunner().invoke(main, job.args(extra=["--force"])).exit_code == 0
    derive()
    with dying_checkpoint(KeyboardInterrupt):
        CliRunner().invoke(main, job.args(extra=["--force", "--method", "saliency", "--chunk-size", "1"]))
    assert (job.out / ".partial").exists() and not (job.out / "run.json").exists()
    assert not (job.out / "report.html").exists() and not (job.out / "motifs.tsv").exists()


def test_a_region_too_short_for_a_model_without_an_input_length_is_one_line(tmp_path):
    """A TorchScript model that declares no input length gets each region whole; a 3-bp region made its
    convolution fail with a torch traceback (exit 1) and left .partial behind, so that a plain rerun was refused.
    Now one line names the region and --window, exit 2, and nothing of the run is left."""
    import torch
    from click.testing import CliRunner

    from seqsal.cli import main
    from tests.test_reliability import make_job

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv1d(4, 3, 7)
            self.pool = torch.nn.MaxPool1d(4)

        def forward(self, x):
            return self.pool(torch.relu(self.conv(x))).mean(dim=(1, 2))

    job = make_job(tmp_path / "job")
    model = tmp_path / "net.pt"
    torch.jit.script(Net().eval()).save(str(model))
    bed = tmp_path / "short.bed"
    bed.write_text("chr1\t100\t300\tlong\nchr1\t500\t503\ttiny\n")
    result = CliRunner().invoke(main, job.args(bed=bed, model=model))
    assert result.exit_code == 2, result.output
    assert "the model failed on region tiny (line 2 of the regions" in result.output and "--window" in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert not (job.out / ".partial").exists()
