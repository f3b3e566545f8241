"""`seqsal relocate`: a run folder whose genome, regions and model moved is pointed at them again, each checked to
hold what the run read; the commands that reopen the inputs refuse with one line naming `seqsal relocate` until then."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from seqsal.cli import main
from seqsal.relocate import relocate_run
from seqsal.run_genome import sample_rows
from seqsal.errors import InputError

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "data" / "demo"


def _invoke(*args: str):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def moved_run(tmp_path_factory):
    """The demo's first 60 regions attributed from copies of its inputs in ``in/``; ``reference`` is a copy of the
    run folder with ``seqsal motifs`` run while the inputs were in place; then ``in/`` is renamed ``moved/``."""
    base = tmp_path_factory.mktemp("relocate")
    inputs = base / "in"
    inputs.mkdir()
    shutil.copyfile(DEMO / "genome.fa", inputs / "genome.fa")
    shutil.copyfile(DEMO / "model.safetensors", inputs / "model.safetensors")
    lines = (DEMO / "regions.bed").read_text().splitlines(keepends=True)
    (inputs / "regions.bed").write_text("".join(lines[:60]))
    result = _invoke("attribute", inputs / "genome.fa", inputs / "regions.bed", "--model",
                     inputs / "model.safetensors", "-o", base / "run", "-q")
    assert result.exit_code == 0, result.output
    shutil.copytree(base / "run", base / "reference")
    result = _invoke("motifs", base / "reference", "-q", "--min-seqlets", "5")
    assert result.exit_code == 0, result.output
    inputs.rename(base / "moved")
    return base


def test_commands_that_reopen_moved_inputs_refuse_with_one_line_naming_relocate(moved_run):
    """Before: `seqsal motifs` warned and wrote motifs untested against the null (the genome it redraws the null's
    sequence from was gone), `check-seqlets` got the loader's "file not found"."""
    run = moved_run / "run"
    for command in (["motifs", run, "-q", "--min-seqlets", "5"], ["check-seqlets", run, "-q", "--max-seqlets", "3"],
                    ["evaluate", run, "-q", "--methods", "saliency", "--max-regions", "2", "--no-sanity"]):
        result = _invoke(*command)
        assert result.exit_code == 2, (command, result.output)
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("seqsal: error: ") and "seqsal relocate" in lines[0], lines
    assert not (run / "motifs.tsv").exists()


def test_relocated_run_gives_the_same_motifs_and_resumes_with_the_new_paths(moved_run):
    run, moved = moved_run / "run", moved_run / "moved"
    result = _invoke("relocate", run, "--genome", moved / "genome.fa", "--regions", moved / "regions.bed",
                     "--model", moved / "model.safetensors")
    assert result.exit_code == 0, result.output
    record = json.loads((run / "run.json").read_text())
    assert record["genome"] == str(moved / "genome.fa") and record["regions"] == str(moved / "regions.bed")
    assert record["model"]["path"] == str(moved / "model.safetensors")
    assert [(c["field"], c["from"]) for c in record["relocated"]] == [
        ("genome", str(moved_run / "in" / "genome.fa")), ("regions", str(moved_run / "in" / "regions.bed")),
        ("model", str(moved_run / "in" / "model.safetensors"))]
    before = (run / "run.json").read_bytes()  # the same paths again: nothing moved, nothing logged as a move
    assert relocate_run(run, genome=str(moved / "genome.fa"), model=str(moved / "model.safetensors")) == {}
    assert (run / "run.json").read_bytes() == before
    result = _invoke("motifs", run, "-q", "--min-seqlets", "5")
    assert result.exit_code == 0, result.output
    for name in ("motifs.tsv", "motifs.meme", "motif_instances.tsv"):  # the support test ran, as in place
        assert (run / name).read_bytes() == (moved_run / "reference" / name).read_bytes(), name
    assert _invoke("check-seqlets", run, "-q", "--max-seqlets", "3").exit_code == 0
    before = (run / "attributions.npz").stat().st_mtime_ns
    result = _invoke("attribute", moved / "genome.fa", moved / "regions.bed", "--model", moved / "model.safetensors",
                     "-o", run, "--resume")
    assert result.exit_code == 0, result.output
    assert "nothing to resume" in result.output or "already" in result.output, result.output
    assert (run / "attributions.npz").stat().st_mtime_ns == before


def _edited_copy(source: Path, target: Path, row: int, column: int) -> None:
    """``source`` FASTA with the base at ``column`` of sequence line ``row`` changed; 80 bases per line instead of
    the demo's 60 (another file, the same sequence, but for that base)."""
    names, sequences = [], []
    for line in source.read_text().splitlines():
        if line.startswith(">"):
            names.append(line)
            sequences.append([])
        else:
            sequences[-1].append(line.strip())
    joined = ["".join(parts) for parts in sequences]
    if row >= 0:
        chars = list(joined[0])
        chars[column] = "A" if chars[column].upper() != "A" else "C"
        joined[0] = "".join(chars)
    target.write_text("".join(f"{name}\n" + "\n".join(seq[i:i + 80] for i in range(0, len(seq), 80)) + "\n"
                              for name, seq in zip(names, joined)))


def test_relocate_checks_the_bases_not_the_bytes(moved_run, tmp_path):
    """A re-wrapped copy of the same sequence is the run's genome; one base changed inside the first region (always
    in the sample) is not, and the message names that region; run.json is left as it was."""
    run = moved_run / "run"
    first = next(line.split("\t") for line in (run / "regions.tsv").read_text().splitlines()[1:])
    header = (run / "regions.tsv").read_text().splitlines()[0].split("\t")
    chrom, start = first[header.index("chrom")], int(first[header.index("start")])
    assert chrom == "chr1"
    _edited_copy(moved_run / "moved" / "genome.fa", tmp_path / "rewrapped.fa", -1, 0)
    _edited_copy(moved_run / "moved" / "genome.fa", tmp_path / "edited.fa", 0, start + 10)
    before = (run / "run.json").read_bytes()
    with pytest.raises(InputError, match=f"chr1:{start}-") as error:
        relocate_run(run, genome=str(tmp_path / "edited.fa"))
    assert "not the genome of this run" in str(error.value)
    assert (run / "run.json").read_bytes() == before
    changes = relocate_run(run, genome=str(tmp_path / "rewrapped.fa"))
    assert changes["genome"]["to"] == str(tmp_path / "rewrapped.fa")


def test_relocate_refuses_other_regions_and_another_model(moved_run, tmp_path):
    run, moved = moved_run / "run", moved_run / "moved"
    lines = (moved / "regions.bed").read_text().splitlines(keepends=True)
    fields = lines[3].split("\t")
    fields[1], fields[2] = str(int(fields[1]) + 1), str(int(fields[2]) + 1)
    (tmp_path / "shifted.bed").write_text("".join(lines[:3] + ["\t".join(fields)] + lines[4:]))
    (tmp_path / "fewer.bed").write_text("".join(lines[:-1]))
    fields = lines[3].split("\t")
    fields[5] = "-" if fields[5] != "-" else "+"  # the other strand: the reverse complement was not attributed
    (tmp_path / "flipped.bed").write_text("".join(lines[:3] + ["\t".join(fields)] + lines[4:]))
    with pytest.raises(InputError, match=r"flipped\.bed:4: not the regions of this run \(chr1 "):
        relocate_run(run, regions=str(tmp_path / "flipped.bed"))
    with pytest.raises(InputError, match=r"shifted\.bed:4: not the regions of this run \(chr1 "):
        relocate_run(run, regions=str(tmp_path / "shifted.bed"))
    with pytest.raises(InputError, match="58 regions, the run has 59"):
        relocate_run(run, regions=str(tmp_path / "fewer.bed"))
    other = tmp_path / "model.safetensors"
    other.write_bytes((moved / "model.safetensors").read_bytes() + b" ")
    with pytest.raises(InputError, match="not the model file this run attributed with"):
        relocate_run(run, model=str(other))
    with pytest.raises(InputError, match="nothing to relocate"):
        relocate_run(run)
    result = _invoke("relocate", run, "--genome", tmp_path / "absent.fa")
    assert result.exit_code == 2 and "no such file" in result.output


def test_sample_rows_spreads_over_the_run_with_both_ends():
    assert sample_rows(5, 64).tolist() == [0, 1, 2, 3, 4]
    rows = sample_rows(1000, 64)
    assert rows[0] == 0 and rows[-1] == 999 and len(rows) == 64 and np.all(np.diff(rows) > 0)


def test_a_genome_replaced_at_its_path_is_refused_by_every_command_that_reads_it(moved_run, tmp_path):
    """The same path, other bases (a symlink pointed at another build): check-seqlets said the model "does not
    confirm" the calls, motifs and evaluate ran on the wrong sequence, all without a word. The model was checked
    by its SHA-256; the genome now by a sample of the run's bases."""
    run = tmp_path / "run"
    shutil.copytree(moved_run / "run", run, ignore=shutil.ignore_patterns("motif*", "seqlet_check*"))
    record = json.loads((run / "run.json").read_text())
    first = (run / "regions.tsv").read_text().splitlines()[1].split("\t")
    header = (run / "regions.tsv").read_text().splitlines()[0].split("\t")
    start = int(first[header.index("start")])
    _edited_copy(Path(record["genome"]) if Path(record["genome"]).exists() else moved_run / "moved" / "genome.fa",
                 tmp_path / "genome.fa", 0, start + 20)
    record["genome"] = str(tmp_path / "genome.fa")
    record["model"]["path"] = str(moved_run / "moved" / "model.safetensors")
    record["regions"] = str(moved_run / "moved" / "regions.bed")
    (run / "run.json").write_text(json.dumps(record))
    for command in (["motifs", run, "-q", "--min-seqlets", "5"], ["check-seqlets", run, "-q", "--max-seqlets", "3"],
                    ["evaluate", run, "-q", "--methods", "saliency", "--max-regions", "2", "--no-sanity"]):
        result = _invoke(*command)
        assert result.exit_code == 2, (command, result.output)
        assert result.output.strip() == (
            f"seqsal: error: {tmp_path / 'genome.fa'}: not the genome this run was made from any more (chr1:{start}-"
            f"{int(first[header.index('end')])} ({first[header.index('name')]}) differs from the bases the run "
            "attributed): the file was replaced or edited since; point the run at the original with `seqsal relocate "
            "RUN_FOLDER --genome ORIGINAL`, or rerun `seqsal attribute`"), result.output
    assert not (run / "motifs.tsv").exists() and not (run / "seqlet_check.tsv").exists()


def test_a_regions_file_edited_in_place_is_refused_by_evaluate_and_check_seqlets(tmp_path):
    """auditbreak: both re-read the BED named in run.json and scored the windows it now gave (a region shifted
    40 bp in place: every check-seqlets p-value moved, exit 0); they now compare it with regions.tsv."""
    inputs = tmp_path / "in"
    inputs.mkdir()
    lines = (DEMO / "regions.bed").read_text().splitlines(keepends=True)
    (inputs / "regions.bed").write_text("".join(lines[:12]))
    result = _invoke("attribute", DEMO / "genome.fa", inputs / "regions.bed", "--model", DEMO / "model.safetensors",
                     "-o", tmp_path / "run", "-q", "--fdr", "0.5")  # seqlets for check-seqlets to check
    assert result.exit_code == 0, result.output
    fields = lines[10].split("\t")
    fields[1], fields[2] = str(int(fields[1]) + 40), str(int(fields[2]) + 40)
    (inputs / "regions.bed").write_text("".join(lines[:10] + ["\t".join(fields)] + lines[11:12]))
    for command in (["evaluate", tmp_path / "run", "-q", "--methods", "saliency", "--max-regions", "2", "--no-sanity"],
                    ["check-seqlets", tmp_path / "run", "-q", "--max-seqlets", "3"]):
        result = _invoke(*command)
        lines_out = result.output.strip().splitlines()
        assert result.exit_code == 2 and len(lines_out) == 1, (command, result.output)
        assert f"{inputs / 'regions.bed'}:11: no longer the run's regions (chr1 " in lines_out[0], lines_out
