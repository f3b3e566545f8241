"""A run folder never mixes runs: --resume of a finished run checks its inputs (genome by content), and
--resume with --force is refused."""
from __future__ import annotations

import shutil

from click.testing import CliRunner

from seqsal.cli import main


def _attribute(genome, bed, model, out, *extra):
    return CliRunner().invoke(main, ["attribute", str(genome), str(bed), "--model", str(model), "-o", str(out), "-q",
                                     "--no-peaks", *extra])


def test_resume_of_a_finished_run_refuses_changed_inputs(tmp_path, small_genome, tiny_model):
    genome, _ = small_genome
    model, _ = tiny_model
    bed = tmp_path / "r.bed"
    bed.write_text("chr1\t100\t300\ta\nchr1\t1500\t1700\tb\n")
    out = tmp_path / "run"
    assert _attribute(genome, bed, model, out).exit_code == 0
    again = _attribute(genome, bed, model, out, "--resume")
    assert again.exit_code == 0 and "complete already" not in again.output  # -q: nothing to say, nothing redone
    other = tmp_path / "other.bed"
    other.write_text("chr1\t100\t300\ta\n")
    result = _attribute(genome, other, model, out, "--resume")
    assert result.exit_code == 2 and "finished with other inputs" in result.output
    result = _attribute(genome, bed, model, out, "--resume", "--method", "saliency")
    assert result.exit_code == 2 and "finished with other inputs" in result.output
    # the same path, other content: a genome edited in place is another input
    edited = tmp_path / "edited"
    edited.mkdir()
    copy = edited / "genome.fa"
    shutil.copy(genome, copy)
    out2 = tmp_path / "run2"
    assert _attribute(copy, bed, model, out2).exit_code == 0
    text = copy.read_text().splitlines()
    text[1] = text[1][::-1]
    copy.write_text("\n".join(text) + "\n")
    result = _attribute(copy, bed, model, out2, "--resume")
    assert result.exit_code == 2 and "finished with other inputs" in result.output


def test_resume_and_force_together_are_refused(tmp_path, small_genome, tiny_model):
    genome, _ = small_genome
    model, _ = tiny_model
    bed = tmp_path / "r.bed"
    bed.write_text("chr1\t100\t300\ta\n")
    result = _attribute(genome, bed, model, tmp_path / "run", "--resume", "--force")
    assert result.exit_code == 2 and "--resume and --force" in result.output
    assert not (tmp_path / "run").exists()
