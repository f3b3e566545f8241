"""Issue 7: bad input fails early and cleanly; hostile files are refused; names cannot escape the output folder.

Every bad-input case goes through the real command line (click's runner): exit
code 2, exactly one line ``seqsal: error: ...`` naming what is wrong, no
traceback, and no output file created or overwritten. ``CASES`` is also run
by ``benchmarks/bad_inputs.py`` to produce the table in ``benchmarks/RESULTS.md``.
"""
from __future__ import annotations

import contextlib
import gzip
import os
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import pytest
import torch
from click.testing import CliRunner
from torch import nn

import seqsal
from seqsal.cli import main
from seqsal.simulate import random_sequence
from tests.run_arrays import dense_arrays


# --------------------------------------------------------------------------------------------- fixtures
@dataclass
class Job:
    """A small valid job; each bad-input case spoils one part of it."""

    root: Path
    genome: Path
    bed: Path
    model: Path
    sequences: dict

    @property
    def out(self) -> Path:
        return self.root / "out"

    def args(self, genome=None, bed=None, model=None, extra=()) -> list[str]:
        return ["attribute", str(genome or self.genome), str(bed or self.bed), "--model", str(model or self.model),
                "-o", str(self.out), "-q", *map(str, extra)]


def write_fasta(path: Path, records: list[tuple[str, str]], width: int = 70) -> Path:
    with open(path, "w") as handle:
        for name, sequence in records:
            handle.write(f">{name}\n")
            for i in range(0, len(sequence), width):
                handle.write(sequence[i:i + width] + "\n")
    return path


def make_job(root: Path) -> Job:
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    sequences = {"chr1": random_sequence(3000, rng).tobytes().decode(),
                 "chr2": random_sequence(2000, rng).tobytes().decode()}
    genome = write_fasta(root / "genome.fa", list(sequences.items()))
    bed = root / "regions.bed"
    bed.write_text("chr1\t100\t300\tr1\t0\t+\nchr2\t500\t700\tr2\t0\t-\n")
    torch.manual_seed(0)
    model = seqsal.BassetCNN(input_length=200, n_tasks=2, channels=(8, 8), kernel_sizes=(7, 5), pool_sizes=(4, 4),
                             hidden=16, task_names=["open", "enhancer"]).eval()
    seqsal.save_model(model, root / "model.safetensors")
    return Job(root, genome, bed, root / "model.safetensors", sequences)


@pytest.fixture()
def job(tmp_path) -> Job:
    return make_job(tmp_path / "job")


def invoke(args: list[str]):
    return CliRunner().invoke(main, args, catch_exceptions=False)


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (relative path -> bytes)."""
    if not folder.exists():
        return {}
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# ------------------------------------------------------------------------------------ spoiled inputs
def _bed(job: Job, text: str | bytes, name: str = "bad.bed") -> Path:
    path = job.root / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def _gzip_truncated(job: Job) -> Path:
    data = gzip.compress(("chr1\t100\t300\n" * 2000).encode())
    return _bed(job, data[: len(data) // 2], "bad.bed.gz")


def _fasta(job: Job, records, name="bad.fa") -> Path:
    return write_fasta(job.root / name, records)


def _fasta_bytes(job: Job, data: bytes) -> Path:
    path = job.root / "bad.fa"
    path.write_bytes(data)
    return path


def _indexed_then_corrupted(job: Job) -> Path:
    """A FASTA whose valid, newer .fai predates a byte that is not text (same length: the index still fits)."""
    from tests.test_genome import samtools_fai

    path = _fasta_bytes(job, job.genome.read_bytes())
    Path(str(path) + ".fai").write_text(samtools_fai(path))  # samtools faidx
    data = bytearray(path.read_bytes())
    data[data.index(b"\n", 10) + 41] = 0xFF  # chr1:110, inside region r1 (chr1:100-300)
    path.write_bytes(bytes(data))
    os.utime(str(path) + ".fai")
    return path


class _Evil:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _pickle_model(job: Job) -> Path:
    path = job.root / "evil.pt"
    path.write_bytes(pickle.dumps({"weights": _Evil(job.root / "pwned")}))
    return path


def _truncated_model(job: Job) -> Path:
    data = job.model.read_bytes()
    path = job.root / "cut.safetensors"
    path.write_bytes(data[: len(data) // 3])
    return path


def _oversized_config_model(job: Job) -> Path:
    """The job's model file with its metadata rewritten to ask for 100,000-channel convolutions (~300 GB)."""
    import json

    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    with safe_open(str(job.model), framework="pt") as handle:
        meta = json.loads(handle.metadata()["seqsal"])
    meta["config"]["channels"] = [100_000, 100_000]
    path = job.root / "oversized.safetensors"
    save_file(load_file(str(job.model)), str(path), metadata={"seqsal": json.dumps(meta)})
    return path


class _EightChannels(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(8, 4, 5)

    def forward(self, x):
        return self.conv(x).mean(dim=(1, 2))


class _NaN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(4, 2, 5)

    def forward(self, x):
        return self.conv(x).mean(dim=2) * float("nan")


def _torchscript(job: Job, module: nn.Module, example: torch.Tensor, name: str) -> Path:
    path = job.root / name
    torch.jit.save(torch.jit.trace(module.eval(), example), str(path))
    return path


def _basset_without_metadata(job: Job) -> Path:
    model = seqsal.BassetCNN(input_length=200, n_tasks=2, channels=(8, 8), kernel_sizes=(7, 5), pool_sizes=(4, 4),
                             hidden=16).eval()
    return _torchscript(job, model, torch.zeros(1, 4, 200), "plain.ts")


def _previous_run(job: Job) -> None:
    assert invoke(job.args()).exit_code == 0


@dataclass
class Case:
    """One bad input: how to make it (``args(job) -> argv``) and a fragment the error message must hold."""

    id: str
    what: str
    args: Callable[[Job], list[str]]
    expect: str
    before: Callable[[Job], None] | None = None


CASES: list[Case] = [
    # BED
    Case("bed_empty", "BED: empty file", lambda j: j.args(bed=_bed(j, "")), "no regions found"),
    Case("bed_header_only", "BED: only track/comment lines",
         lambda j: j.args(bed=_bed(j, "track name=x\n# nothing\n")), "no regions found"),
    Case("bed_columns", "BED: 2 columns", lambda j: j.args(bed=_bed(j, "chr1\t100\t300\nchr1\t100\n")),
         "bad.bed:2: found 2 column(s)"),
    Case("bed_not_integer", "BED: start not an integer", lambda j: j.args(bed=_bed(j, "chr1\t1e2\t300\n")),
         "bad.bed:1: start (column 2) is '1e2', not an integer"),
    Case("bed_negative", "BED: negative start", lambda j: j.args(bed=_bed(j, "chr1\t-5\t300\n")),
         "bad.bed:1: start is negative"),
    Case("bed_start_ge_end", "BED: start >= end", lambda j: j.args(bed=_bed(j, "chr1\t1\t9\nchr1\t300\t300\n")),
         "bad.bed:2: start (300) >= end (300)"),
    Case("bed_chrom_absent", "BED: chromosome not in the FASTA", lambda j: j.args(bed=_bed(j, "chrX\t1\t300\n")),
         "bad.bed:1: chromosome 'chrX' is not in the FASTA"),
    Case("bed_chr_prefix", "BED: '1' where the FASTA says 'chr1'", lambda j: j.args(bed=_bed(j, "1\t1\t300\n")),
         "the FASTA names it 'chr1'"),
    Case("bed_beyond_chrom", "BED: region starts past the chromosome end",
         lambda j: j.args(bed=_bed(j, "chr2\t5000\t5200\n")), "bad.bed:1: region starts at 5000, beyond the end"),
    Case("bed_strand", "BED: strand '*'", lambda j: j.args(bed=_bed(j, "chr1\t1\t300\tx\t0\t*\n")),
         "bad.bed:1: strand (column 6) is '*'"),
    Case("bed_gzip_truncated", "BED: truncated gzip", lambda j: j.args(bed=_gzip_truncated(j)),
         "bad.bed.gz: gzip file is truncated or corrupt"),
    Case("narrowpeak_summit", "narrowPeak: summit outside its region",
         lambda j: j.args(bed=_bed(j, "chr1\t100\t300\tp\t0\t.\t1\t1\t1\t250\n")),
         "bad.bed:1: narrowPeak summit offset 250 falls outside its region of length 200"),
    Case("bed_binary", "BED: a binary file", lambda j: j.args(bed=_bed(j, bytes(range(256)) * 4)),
         "bad.bed: the file holds binary data, not tab-separated text"),
    Case("bed_missing", "BED: missing file", lambda j: j.args(bed=j.root / "nope.bed"), "regions file not found"),
    # FASTA
    Case("fasta_missing", "FASTA: missing file", lambda j: j.args(genome=j.root / "nope.fa"), "FASTA file not found"),
    Case("fasta_empty", "FASTA: empty file", lambda j: j.args(genome=_fasta_bytes(j, b"")), "bad.fa: "),
    Case("fasta_duplicate", "FASTA: duplicate sequence names",
         lambda j: j.args(genome=_fasta(j, [("chr1", j.sequences["chr1"]), ("chr1", j.sequences["chr2"])])),
         "duplicate sequence name"),
    Case("fasta_line_lengths", "FASTA: unequal line lengths",
         lambda j: j.args(genome=_fasta_bytes(j, b">chr1\nACGTACGT\nACG\nACGTACGT\n")), "cannot index FASTA"),
    Case("fasta_non_iupac", "FASTA: 'X' inside a region",
         lambda j: j.args(genome=_fasta(j, [("chr1", j.sequences["chr1"][:150] + "X" + j.sequences["chr1"][151:]),
                                            ("chr2", j.sequences["chr2"])])),
         "'X' at chr1:150 (0-based) is not an IUPAC"),
    Case("fasta_non_ascii", "FASTA: a non-ASCII byte inside a sequence",
         lambda j: j.args(genome=_fasta_bytes(j, j.genome.read_bytes().replace(b"\n", b"\n\xff", 1)[:-200] + b"\n")),
         "bad.fa"),
    Case("fasta_non_ascii_indexed", "FASTA: a byte that is not text, behind an index that still fits",
         lambda j: j.args(genome=_indexed_then_corrupted(j)), "holds a byte that is not text"),
    # model
    Case("model_missing", "model: missing file", lambda j: j.args(model=j.root / "nope.safetensors"),
         "model file not found"),
    Case("model_truncated", "model: truncated safetensors", lambda j: j.args(model=_truncated_model(j)),
         "cannot load model"),
    Case("model_not_a_model", "model: a text file", lambda j: j.args(model=_bed(j, "hello\n", "model.pt")),
         "model.pt: "),
    Case("model_pickle", "model: malicious pickle (would `touch` a file)", lambda j: j.args(model=_pickle_model(j)),
         "refusing to unpickle"),
    Case("model_oversized_config", "model: metadata config asks for a ~300 GB model (weights: a few kB)",
         lambda j: j.args(model=_oversized_config_model(j)), "do not fit architecture 'basset'"),
    Case("model_channels", "model: first layer takes 8 channels",
         lambda j: j.args(model=_torchscript(j, _EightChannels(), torch.zeros(1, 8, 200), "eight.ts")),
         "takes 8 input channels"),
    Case("model_length", "model: traced at 200 bp, run with --window 300",
         lambda j: j.args(model=_basset_without_metadata(j), extra=["--window", "300"]),
         "(N, 4, 300)"),
    Case("model_window_conflict", "model declares 200 bp, --window 300",
         lambda j: j.args(extra=["--window", "300"]), "declares (200)"),
    Case("model_nan", "model returns NaN (--on-error stop)",
         lambda j: j.args(model=_torchscript(j, _NaN(), torch.zeros(1, 4, 200), "nan.ts"), extra=["--window", "200"]),
         "NaN/Inf for region r1"),
    # options
    Case("target_range", "--target 5 of a 2-task model", lambda j: j.args(extra=["--target", "5"]), "2 tasks"),
    Case("target_name", "--target unknown task name", lambda j: j.args(extra=["--target", "promoter"]),
         "is not one of the model's tasks: open, enhancer"),
    Case("stride_gt_window", "--stride 300 > window 200", lambda j: j.args(extra=["--stride", "300"]),
         "--stride (300) is larger than the window (200)"),
    Case("stride_zero", "--stride 0", lambda j: j.args(extra=["--stride", "0"]), "--stride"),
    Case("window_zero", "--window 0", lambda j: j.args(model=_basset_without_metadata(j), extra=["--window", "0"]),
         "--window"),
    Case("width_negative", "--width -10", lambda j: j.args(extra=["--width", "-10"]), "--width"),
    Case("batch_zero", "--batch-size 0", lambda j: j.args(extra=["--batch-size", "0"]), "--batch-size"),
    Case("method_unknown", "--method nonsense", lambda j: j.args(extra=["--method", "nonsense"]), "unknown --method"),
    Case("fp16_on_cpu", "--precision fp16 on the CPU", lambda j: j.args(extra=["--precision", "fp16", "--device", "cpu"]),
         "fp16 needs a GPU"),
    Case("out_exists", "output folder holds a finished run", lambda j: j.args(), "holds a finished run; pass --force",
         before=_previous_run),
    Case("resume_other_params", "--resume with other parameters",
         lambda j: j.args(extra=["--resume", "--method", "saliency"]), "other inputs or parameters (changed since: --method)",
         before=lambda j: _interrupted_run(j)),
    Case("out_is_file", "-o names a file", lambda j: j.args()[:-3] + ["-o", str(_bed(j, "x", "afile")), "-q"],
         "afile"),
]


@contextlib.contextmanager
def dying_checkpoint(error: type[BaseException]):
    """Within the block, ``seqsal attribute`` raises ``error`` right after writing each checkpoint (a kill)."""
    import seqsal.pipeline as pipeline

    original = pipeline.write_checkpoint

    def checkpoint_then_die(*args, **kwargs):
        original(*args, **kwargs)
        raise error

    pipeline.write_checkpoint = checkpoint_then_die
    try:
        yield
    finally:
        pipeline.write_checkpoint = original


def _interrupted_run(job: Job) -> None:
    """A folder as a killed run leaves it: a checkpoint in .partial and no final files."""
    from seqsal.pipeline import AttributeOptions, run_attribute

    class Stop(Exception):
        pass

    with dying_checkpoint(Stop), pytest.raises(Stop):
        run_attribute(str(job.genome), str(job.bed), str(job.model), str(job.out),
                      AttributeOptions(chunk_size=1), progress=False)
    assert (job.out / ".partial" / "progress.json").exists()


def run_case(case: Case, job: Job):
    """Run one case; returns (result, output folder before, after)."""
    if case.before is not None:
        case.before(job)
    args = case.args(job)
    before = snapshot(job.out)
    result = invoke(args)
    return result, before, snapshot(job.out)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input_is_one_clean_line_and_exit_2(case, job):
    result, before, after = run_case(case, job)
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 2, result.output
    assert len(lines) == 1, result.output
    assert lines[0].startswith("seqsal: error: "), lines[0]
    assert case.expect in lines[0], lines[0]
    assert "Traceback" not in result.output
    assert after == before, "an output file was created or changed"
    if case.id == "model_pickle":
        assert not (job.root / "pwned").exists()


# ------------------------------------------------------------------------------ accepted odd inputs
def test_windows_line_endings_and_trailing_tabs_are_accepted(job):
    assert invoke(job.args()).exit_code == 0
    reference = snapshot(job.out)
    crlf = _bed(job, "track name=x\r\nchr1\t100\t300\tr1\t0\t+\t\r\nchr2\t500\t700\tr2\t0\t-\t\t\r\n", "crlf.bed")
    other = job.root / "other"
    result = invoke(job.args(bed=crlf)[:-3] + ["-o", str(other), "-q"])
    assert result.exit_code == 0, result.output
    for name in ("attributions.npz", "attributions.bw", "regions.tsv"):
        assert (other / name).read_bytes() == reference[name]


@pytest.mark.parametrize("fai", ["stale", "garbage", "empty"])
def test_stale_or_broken_fai_is_not_used_and_left_as_it_is(job, fai):
    """Issue 15: seqsal never writes beside the genome; a .fai that does not fit is reported, not rewritten."""
    from tests.test_genome import samtools_fai

    assert invoke(job.args()).exit_code == 0
    reference = snapshot(job.out)
    index = Path(str(job.genome) + ".fai")
    good = samtools_fai(job.genome)  # what samtools faidx writes
    if fai == "stale":  # as if the FASTA was edited and the index copied over later (newer mtime, old offsets)
        index.write_text(good.replace("\t3000\t6\t", "\t2930\t6\t").replace("\t2000\t3", "\t2000\t2"))
    else:
        index.write_text("not an index\n" if fai == "garbage" else "")
    spoiled = index.read_text()
    result = invoke(job.args(extra=["--force"]))
    assert result.exit_code == 0, result.output
    assert "does not match" in result.output and index.read_text() == spoiled
    after = snapshot(job.out)
    for name in ("attributions.npz", "attributions.bw", "regions.tsv"):
        assert after[name] == reference[name]


def test_index_check_sees_changed_fasta(job):
    from seqsal.genome import Genome, index_matches_fasta

    with Genome(job.genome) as genome:
        index = dict(genome.index)
        assert index_matches_fasta(str(job.genome), index)
    shorter = {"chr1": job.sequences["chr1"][:2900], "chr2": job.sequences["chr2"]}
    write_fasta(job.genome, list(shorter.items()))
    assert not index_matches_fasta(str(job.genome), index)
    with Genome(job.genome) as genome:
        assert genome.chrom_sizes == {"chr1": 2900, "chr2": 2000}


@pytest.mark.parametrize("n_value", ["0", "0.25"])
def test_all_n_region_is_zeros_and_flagged(job, n_value):
    chr2 = job.sequences["chr2"][:500] + "N" * 200 + job.sequences["chr2"][700:]
    genome = write_fasta(job.root / "n.fa", [("chr1", job.sequences["chr1"]), ("chr2", chr2)])
    result = invoke(job.args(genome=genome, extra=["--n-value", n_value]))
    assert result.exit_code == 0, result.output
    table = pd.read_csv(job.out / "regions.tsv", sep="\t")
    assert list(table["status"]) == ["ok", "all_N"] and table.loc[1, "frac_N"] == 1.0
    assert table.loc[1, "attribution_sum"] == 0
    data = dense_arrays(job.out / "attributions.npz")
    assert not data["hypothetical"][1].any() and (data["one_hot"][1] == float(n_value)).all()
    assert data["hypothetical"][0].any()


def test_nan_model_skip_names_and_flags_regions(job):
    model = _torchscript(job, _NaN(), torch.zeros(1, 4, 200), "nan.ts")
    result = invoke(job.args(model=model, extra=["--window", "200", "--on-error", "skip"]))
    assert result.exit_code == 0, result.output
    table = pd.read_csv(job.out / "regions.tsv", sep="\t")
    assert list(table["status"]) == ["nonfinite", "nonfinite"]
    assert not dense_arrays(job.out / "attributions.npz")["hypothetical"].any()
    # one line per region in the run and one in its null, not one per shuffled copy (a fresh user saw 8 repeats)
    lines = [line for line in result.output.splitlines() if "NaN/Inf from the model" in line]
    assert len(lines) == 2 * len(table), lines


def test_nan_stop_keeps_an_earlier_run_untouched(job):
    assert invoke(job.args()).exit_code == 0
    before = snapshot(job.out)
    model = _torchscript(job, _NaN(), torch.zeros(1, 4, 200), "nan.ts")
    result = invoke(job.args(model=model, extra=["--window", "200", "--force"]))
    assert result.exit_code == 2 and "NaN/Inf for region r1" in result.output
    after = snapshot(job.out)
    assert {k: v for k, v in after.items() if k != "run.json"} == {k: v for k, v in before.items() if k != "run.json"}


# ------------------------------------------------------------------------------------- path safety
def test_names_cannot_write_outside_the_output_folder(tmp_path):
    """Region and chromosome names that look like paths end up as text in regions.tsv, never as paths."""
    job = make_job(tmp_path / "job")
    hostile_chrom = "../../escaped_chrom"
    genome = write_fasta(job.root / "hostile.fa", [(hostile_chrom, job.sequences["chr1"]),
                                                    ("chr2", job.sequences["chr2"])])
    bed = _bed(job, "".join(f"{hostile_chrom}\t{100 + 10 * i}\t{300 + 10 * i}\t{name}\t0\t+\n" for i, name in enumerate(
        ["../../escaped_region", "/tmp/escaped_absolute", "..", "a/../../b", "~/escaped_home", "$(touch pwned)"])))
    before = {p for p in tmp_path.rglob("*")}
    result = invoke(job.args(genome=genome, bed=bed))
    assert result.exit_code == 0, result.output
    created = {p for p in tmp_path.rglob("*")} - before
    outside = [p for p in created if job.out not in p.parents and p != job.out
               and p != Path(str(genome) + ".fai")]
    assert outside == []
    assert {"attributions.bw", "attributions.npz", "regions.tsv", "run.json"} <= {p.name for p in job.out.iterdir()}
    assert not any(Path(p).exists() for p in ("/tmp/escaped_absolute", os.path.expanduser("~/escaped_home")))
    table = pd.read_csv(job.out / "regions.tsv", sep="\t")
    assert table.loc[0, "name"] == "../../escaped_region" and table.loc[0, "chrom"] == hostile_chrom


def test_malicious_pickle_through_the_real_command_line(job):
    """Not through click's runner: the installed entry point prints one line (no torch warning) and runs nothing."""
    import subprocess
    import sys

    marker = job.root / "pwned"
    completed = subprocess.run([sys.executable, "-m", "seqsal.cli", *job.args(model=_pickle_model(job))],
                               capture_output=True, text=True, timeout=120)
    assert completed.returncode == 2
    lines = [line for line in completed.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("seqsal: error: ") and "refusing to unpickle" in lines[0], lines
    assert completed.stdout == "" and not marker.exists() and not job.out.exists()


def test_resume_removes_every_stale_temporary_of_the_run_and_nothing_else(tmp_path):
    """A run killed while writing its null left null.npz.tmp-<pid> in the finished folder after --resume (a fresh
    user's kill -9 during the null step): every file the run writes is cleaned, a user's own files are not."""
    from seqsal.run_checkpoint import prepare_output

    out = tmp_path / "out"
    (out / ".partial").mkdir(parents=True)
    ours = ["null.npz.tmp-28819", "seqlets.tsv.tmp-7", "elements.bed.tmp-7", "attributions.npz.tmp-3"]
    theirs = ["notes.txt.tmp-1", "null.npz.bak"]
    for name in ours + theirs:
        (out / name).write_text("x")
    assert prepare_output(out, "digest", resume=True, force=False) == 0
    assert sorted(p.name for p in out.iterdir() if p.is_file()) == sorted(theirs)
