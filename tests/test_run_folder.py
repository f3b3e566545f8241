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


def _snapshot(folder):
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_folder_without_a_run_keeps_the_users_files(tmp_path, small_genome, tiny_model):
    """`attribute -o .` into a folder of one's own: its `motifs.meme` (a JASPAR download) and `logos/` were pruned
    as "an older seqsal's" unrecorded groups, and `seqlets.bed` silently by --no-peaks, exit 0. Now refused, nothing
    touched, unless --force; files of other names stay either way."""
    genome, _ = small_genome
    model, _ = tiny_model
    bed = tmp_path / "r.bed"
    bed.write_text("chr1\t100\t300\ta\n")
    out = tmp_path / "mine"
    (out / "logos").mkdir(parents=True)
    (out / "logos" / "fig1.png").write_text("mine")
    (out / "motifs.meme").write_text("MEME version 4\n")
    (out / "seqlets.bed").write_text("chr1\t1\t10\tmine\n")
    (out / "notes.txt").write_text("mine")
    before = _snapshot(out)
    result = _attribute(genome, bed, model, out)
    assert result.exit_code == 2, result.output
    assert result.output.strip().splitlines() == [
        f"seqsal: error: {out}: the output folder holds no seqsal run (no run.json) but files a run writes or "
        "replaces: logos/, motifs.meme, seqlets.bed; give another -o (a new or empty folder), or --force to replace "
        "them"]
    assert _snapshot(out) == before
    from seqsal.errors import InputError
    from seqsal.shards import merge_runs
    import pytest

    with pytest.raises(InputError, match="files a merge writes or replaces: logos/, motifs.meme, seqlets.bed"):
        merge_runs([str(tmp_path / "shard")], str(out))
    assert _snapshot(out) == before
    (out / "logos" / "fig1.png").unlink()
    (out / "logos").rmdir()
    for name in ("motifs.meme", "seqlets.bed"):
        (out / name).unlink()
    assert _attribute(genome, bed, model, out).exit_code == 0  # only files of other names: a run, beside them
    assert (out / "notes.txt").read_text() == "mine"
    other = tmp_path / "forced"
    other.mkdir()
    (other / "motifs.meme").write_text("MEME version 4\n")
    result = _attribute(genome, bed, model, other, "--force")
    assert result.exit_code == 0 and not (other / "motifs.meme").exists()


def test_a_forced_rerun_refused_on_its_first_batch_keeps_the_earlier_run(tmp_path, small_genome, tiny_model):
    """fresh16: `--force --method deepshap` on a TorchScript model is refused when the first batch runs, after the
    earlier run's run.json (and motifs, report, ...) had been deleted: the folder then held no run at all."""
    import torch

    genome, _ = small_genome
    _, module = tiny_model
    model = tmp_path / "model.pt"
    torch.jit.trace(module, torch.zeros(1, 4, 200)).save(str(model))
    bed = tmp_path / "r.bed"
    bed.write_text("chr1\t100\t300\ta\nchr1\t1500\t1700\tb\n")
    out = tmp_path / "run"
    assert _attribute(genome, bed, model, out).exit_code == 0
    (out / "motifs.meme").write_text("MEME version 4\n")  # a derived file of the earlier run
    before = _snapshot(out)
    result = _attribute(genome, bed, model, out, "--force", "--method", "deepshap")
    assert result.exit_code == 2 and "nn.Module" in result.output, result.output
    assert _snapshot(out) == before
    assert _attribute(genome, bed, model, out, "--resume").exit_code == 0  # still the finished run
    # a forced rerun that works replaces it (the earlier run's derived files go with it)
    result = _attribute(genome, bed, model, out, "--force", "--method", "saliency")
    assert result.exit_code == 0, result.output
    assert not (out / "motifs.meme").exists()
    assert '"method": "saliency"' in (out / "run.json").read_text()
