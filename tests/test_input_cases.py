"""Issue 15: genomes, interval files and model files people have, through the real command line.

Each case spoils or varies one input of the small job of ``tests/test_reliability.py``.
A refused input exits 2 with one line ``seqsal: error: <file>:<line>: <what>; <what
to do>`` and leaves the output folder untouched; an accepted one exits 0 with the
right result (mostly: byte-identical to the same job on the plain inputs). Nothing
is ever written next to the genome. ``CASES`` is also run by
``benchmarks/bad_inputs.py`` for the table in ``benchmarks/RESULTS.md``.
"""
from __future__ import annotations

import bz2
import gzip
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pandas as pd
import pytest
import torch

import seqsal
from tests.test_genome import samtools_fai, write_bgzf
from tests.test_reliability import Job, _interrupted_run, invoke, make_job, snapshot

COMPARED = ("attributions.npz", "attributions.bw", "regions.tsv")


@dataclass
class Case:
    """One input: how to make it (``args(job) -> argv``), its kind (issue 15 item), what the run must do.

    ``exit_code`` 2: refused, the one line holds ``expect``. ``exit_code`` 0:
    accepted; the output is ``expect`` exactly ('' for nothing), and ``check(job)``
    asserts the result.
    """

    id: str
    kind: str
    what: str
    args: Callable[[Job], list[str]]
    expect: str
    exit_code: int = 2
    check: Callable[[Job], None] | None = None
    before: Callable[[Job], None] | None = None


# ---------------------------------------------------------------------------------------- inputs
def _file(job: Job, name: str, data: bytes | str) -> Path:
    path = job.root / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    return path


def _genome(job: Job, change: Callable[[bytes], bytes], name: str = "variant.fa") -> Path:
    return _file(job, name, change(job.genome.read_bytes()))


def _with_letter(job: Job, chrom: str, position: int, letter: bytes, name: str = "variant.fa") -> Path:
    """The job's genome (70 bases a line) with one character replaced."""
    data = bytearray(job.genome.read_bytes())
    start = data.index(f">{chrom}\n".encode()) + len(chrom) + 2
    data[start + position // 70 * 71 + position % 70] = letter[0]
    return _file(job, name, bytes(data))


def _fai(job: Job, genome: Path) -> Path:
    """A .fai as samtools faidx writes it, beside ``genome``."""
    path = Path(str(genome) + ".fai")
    path.write_text(samtools_fai(genome))
    return path


def _header_space_with_fai(job: Job) -> Path:
    genome = _genome(job, lambda data: data.replace(b">chr", b"> chr"))
    _fai(job, genome)
    return genome


def _stale_fai(job: Job) -> Path:
    genome = _genome(job, lambda data: data)
    index = _fai(job, genome)
    index.write_text(index.read_text().replace("\t3000\t", "\t2930\t"))
    return genome


def _bgzip(job: Job, name: str = "variant.fa.gz") -> Path:
    return write_bgzf(job.root / name, job.genome.read_bytes(), block=1000)


def _bgzip_with_virtual_offsets(job: Job) -> Path:
    """bgzip with the .fai an older pyfaidx wrote: BGZF virtual offsets (gReLU's test.fa.bgz.fai)."""
    from Bio import bgzf

    genome = _bgzip(job)
    with open(genome, "rb") as handle:
        blocks = [(start, data_start) for start, _, data_start, _ in bgzf.BgzfBlocks(handle)]
    lines = []
    for line in samtools_fai(job.genome).splitlines():
        name, rlen, offset, lenc, lenb = line.split("\t")
        cstart, ustart = [block for block in blocks if block[1] <= int(offset)][-1]
        lines.append(f"{name}\t{rlen}\t{cstart << 16 | (int(offset) - ustart)}\t{lenc}\t{lenb}\n")
    Path(str(genome) + ".fai").write_text("".join(lines))
    return genome


def _without_newline(data: bytes, k: int) -> bytes:
    """``data`` with its ``k``-th newline (from 1) removed: two lines become one."""
    at = -1
    for _ in range(k):
        at = data.index(b"\n", at + 1)
    return data[:at] + data[at + 1:]


def _bed(job: Job, text: str | bytes, name: str = "variant.bed") -> Path:
    return _file(job, name, text)


def _one_task_model(job: Job) -> Path:
    torch.manual_seed(0)
    model = seqsal.BassetCNN(input_length=200, n_tasks=1, channels=(8, 8), kernel_sizes=(7, 5), pool_sizes=(4, 4),
                             hidden=16).eval()
    seqsal.save_model(model, job.root / "one_task.safetensors")
    return job.root / "one_task.safetensors"


# ---------------------------------------------------------------------------------------- checks
def _same_as(genome: Callable[[Job], Path] | None = None, bed: Callable[[Job], Path] | None = None,
             extra: tuple = ("--no-peaks",)) -> Callable[[Job], None]:
    """The run's files equal those of the same options on ``genome``/``bed`` (default: the job's own)."""

    def check(job: Job) -> None:
        reference = job.root / "reference"
        args = job.args(genome=genome(job) if genome else None, bed=bed(job) if bed else None, extra=extra)
        result = invoke(args[:-len(extra) - 3] + ["-o", str(reference), "-q", *extra])
        assert result.exit_code == 0, result.output
        for name in COMPARED:
            assert (job.out / name).read_bytes() == (reference / name).read_bytes(), name

    return check


def _table(job: Job) -> pd.DataFrame:
    return pd.read_csv(job.out / "regions.tsv", sep="\t")


def _regions_are(**columns) -> Callable[[Job], None]:
    def check(job: Job) -> None:
        table = _table(job)
        for column, values in columns.items():
            assert list(table[column]) == values, (column, list(table[column]))

    return check


NO_PEAKS = ("--no-peaks",)
_UNKNOWN_IN_CONTEXT = "chr1\t100\t150\tr1\t0\t+\n"  # its 200-bp window is chr1:25-225


def _clean_genome_with_n(job: Job) -> Path:
    return _with_letter(job, "chr1", 200, b"N", "with_n.fa")


CASES: list[Case] = [
    # FASTA layout (item 1)
    Case("fasta_trailing_blank_lines", "1 FASTA layout", "FASTA: ends in two blank lines",
         lambda j: j.args(genome=_genome(j, lambda d: d + b"\n\n"), extra=NO_PEAKS), "", 0, _same_as()),
    Case("fasta_blank_between_records", "1 FASTA layout", "FASTA: blank lines between records",
         lambda j: j.args(genome=_genome(j, lambda d: d.replace(b">chr2", b"\n\n>chr2")), extra=NO_PEAKS), "", 0,
         _same_as()),
    Case("fasta_crlf", "1 FASTA layout", "FASTA: Windows line endings",
         lambda j: j.args(genome=_genome(j, lambda d: d.replace(b"\n", b"\r\n")), extra=NO_PEAKS), "", 0, _same_as()),
    Case("fasta_blank_inside", "1 FASTA layout", "FASTA: a blank line inside a sequence",
         lambda j: j.args(genome=_genome(j, lambda d: d.replace(b"\n", b"\n\n", 3).replace(b"\n\n", b"\n", 2))),
         "variant.fa:4: cannot index FASTA: sequence 'chr1' has a blank line (line 4)"),
    Case("fasta_long_line", "1 FASTA layout", "FASTA: a line longer than the ones before it",
         lambda j: j.args(genome=_genome(j, lambda d: _without_newline(d, 3))),
         "variant.fa:3: cannot index FASTA: line 3 of sequence 'chr1' holds 140 bases, more than the 70"),
    Case("fasta_mixed_line_endings", "1 FASTA layout", "FASTA: \\r\\n after \\n lines",
         lambda j: j.args(genome=_genome(j, lambda d: d[:200] + d[200:].replace(b"\n", b"\r\n", 2))),
         "variant.fa:4: cannot index FASTA: line 4 of sequence 'chr1' ends differently"),
    Case("fasta_text_before_header", "1 FASTA layout", "FASTA: text before the first header",
         lambda j: j.args(genome=_genome(j, lambda d: b"ACGT\n" + d)),
         "variant.fa:1: cannot index FASTA: line 1 comes before the first '>' header line"),
    Case("fasta_header_without_name", "1 FASTA layout", "FASTA: a '>' line without a name",
         lambda j: j.args(genome=_genome(j, lambda d: d.replace(b">chr2", b">"))), "names no sequence"),
    Case("fasta_cr_only", "1 FASTA layout", "FASTA: old Mac line endings (\\r only)",
         lambda j: j.args(genome=_genome(j, lambda d: d.replace(b"\n", b"\r"))), "carriage return (old Mac"),
    Case("fasta_not_text", "1 FASTA layout", "FASTA: NUL bytes in a sequence line",
         lambda j: j.args(genome=_genome(j, lambda d: d.replace(b"\n", b"\nAC\x00\x00" + b"A" * 66 + b"\n", 1))),
         "variant.fa:2: cannot index FASTA: line 2 holds a byte that is not text (0x00 at column 3)"),
    # byte-order marks and encodings (item 5)
    Case("fasta_utf8_bom", "5 BOM", "FASTA: UTF-8 byte-order mark",
         lambda j: j.args(genome=_genome(j, lambda d: b"\xef\xbb\xbf" + d), extra=NO_PEAKS), "", 0, _same_as()),
    Case("fasta_utf16", "5 BOM", "FASTA: UTF-16 text",
         lambda j: j.args(genome=_genome(j, lambda d: d.decode().encode("utf-16"))), "variant.fa: the FASTA is UTF-16"),
    Case("bed_utf8_bom", "5 BOM", "BED: UTF-8 byte-order mark",
         lambda j: j.args(bed=_bed(j, b"\xef\xbb\xbf" + j.bed.read_bytes()), extra=NO_PEAKS), "", 0, _same_as()),
    Case("bed_bom_inside", "5 BOM", "BED: a byte-order mark on line 2 (files concatenated)",
         lambda j: j.args(bed=_bed(j, "chr1\t100\t300\n\ufeffchr2\t500\t700\n")),
         "variant.bed:2: chromosome '\\ufeffchr2' is not in the FASTA (the name holds a byte-order mark"),
    Case("bed_utf16", "5 BOM", "BED: UTF-16 text",
         lambda j: j.args(bed=_bed(j, j.bed.read_text().encode("utf-16"))), "variant.bed: the file is UTF-16 text"),
    # the .fai (item 3)
    Case("fai_header_space", "3 .fai", "FASTA '> chr1' headers with their correct .fai (used as it is)",
         lambda j: j.args(genome=_header_space_with_fai(j), extra=NO_PEAKS), "", 0, _same_as()),
    Case("fai_stale", "3 .fai", "FASTA with a stale .fai (reported, not rewritten)",
         lambda j: j.args(genome=_stale_fai(j), extra=NO_PEAKS),
         "does not match", 0, _same_as()),
    # compression (item 2)
    Case("fasta_bgzip", "2 compression", "FASTA: bgzip, no .fai or .gzi",
         lambda j: j.args(genome=_bgzip(j), extra=NO_PEAKS), "", 0, _same_as()),
    Case("fasta_bgzip_named_fa", "2 compression", "FASTA: bgzip named .fa",
         lambda j: j.args(genome=_bgzip(j, "variant.fa"), extra=NO_PEAKS), "", 0, _same_as()),
    Case("fasta_bgzip_pyfaidx_fai", "2 compression", "FASTA: bgzip with an older pyfaidx's .fai (virtual offsets)",
         lambda j: j.args(genome=_bgzip_with_virtual_offsets(j), extra=NO_PEAKS), "", 0, _same_as()),
    Case("fasta_gzip", "2 compression", "FASTA: plain gzip",
         lambda j: j.args(genome=_file(j, "variant.fa.gz", gzip.compress(j.genome.read_bytes()))),
         "variant.fa.gz: the FASTA is compressed with plain gzip, which cannot be read at random positions; convert "
         "it once to bgzip: zcat"),
    Case("fasta_bzip2", "2 compression", "FASTA: bzip2",
         lambda j: j.args(genome=_file(j, "variant.fa.bz2", bz2.compress(j.genome.read_bytes()))),
         "compressed with bzip2; decompress it (bunzip2 -k"),
    Case("fasta_bgzip_truncated", "2 compression", "FASTA: truncated bgzip",
         lambda j: j.args(genome=_file(j, "variant.fa.gz", _bgzip(j).read_bytes()[:-700])),
         "variant.fa.gz: the bgzip file is truncated or corrupt"),
    # characters that are not IUPAC codes (item 6)
    Case("unknown_outside_windows", "6 unknown bases", "FASTA: 'Z' that no model window reaches",
         lambda j: j.args(genome=_with_letter(j, "chr1", 1500, b"Z"), extra=NO_PEAKS), "", 0, _same_as()),
    Case("unknown_in_context", "6 unknown bases", "FASTA: 'Z' in a window's context, not in the region",
         lambda j: j.args(genome=_with_letter(j, "chr1", 200, b"Z"), bed=_bed(j, _UNKNOWN_IN_CONTEXT)),
         "variant.fa:4: character 'Z' at chr1:200 (0-based) is not an IUPAC DNA code (A C G T N R Y S W K M B D H V U, "
         "any case); fix the FASTA, or pass --unknown-bases n to read such characters as N"),
    Case("unknown_as_n", "6 unknown bases", "FASTA: that 'Z' with --unknown-bases n (read as N, one line)",
         lambda j: j.args(genome=_with_letter(j, "chr1", 200, b"Z"), bed=_bed(j, _UNKNOWN_IN_CONTEXT),
                          extra=("--no-peaks", "--unknown-bases", "n")),
         "variant.fa: read 1 character that is not an IUPAC DNA code as N (e.g. 'Z' at chr1:200, 0-based; "
         "--unknown-bases n)", 0,
         _same_as(genome=_clean_genome_with_n, bed=lambda j: _bed(j, _UNKNOWN_IN_CONTEXT, "context.bed"),
                  extra=("--no-peaks", "--unknown-bases", "n"))),
    Case("unknown_policy_keeps_bytes", "6 unknown bases", "FASTA: a non-text byte with --unknown-bases n",
         lambda j: j.args(genome=_indexed_then_spoiled(j), extra=("--unknown-bases", "n")),
         "chr1:150 (0-based) holds a byte that is not text (0xff"),
    # BED formats (item 4)
    Case("bed10_placeholders", "4 BED format", "BED10 with '-' placeholders (tangermeme): not minus strand",
         lambda j: j.args(bed=_bed(j, "chr1\t100\t300\t-\t-\t-\t-\t-\t-\t100\nchr2\t500\t700\t-\t-\t-\t-\t-\t-\t0\n"),
                          extra=NO_PEAKS), "", 0,
         _regions_are(strand=[".", "."], name=["chr1:100-300", "chr2:500-700"])),
    Case("bed10_placeholders_summit", "4 BED format", "BED10 placeholders, --width re-centres on column 10",
         lambda j: j.args(bed=_bed(j, "chr1\t100\t300\t-\t-\t-\t-\t-\t-\t150\n"), extra=(*NO_PEAKS, "--width", "200")),
         "", 0, _regions_are(start=[150], end=[350], strand=["."])),
    Case("bed12_width", "4 BED format", "BED12 gene with 2 exons, --width re-centres on its middle (not column 10)",
         lambda j: j.args(bed=_bed(j, "chr1\t100\t900\tg\t0\t-\t100\t900\t0\t2\t100,100,\t0,700,\n"),
                          extra=(*NO_PEAKS, "--width", "200")),
         "variant.bed: 1 region is BED12 with several blocks (exons): each is attributed over its whole span", 0,
         _regions_are(start=[400], end=[600], strand=["-"], name=["g"])),
    Case("bed12_blocks_overrun", "4 BED format", "BED12 whose last block ends past the region",
         lambda j: j.args(bed=_bed(j, "chr1\t100\t900\tg\t0\t-\t100\t900\t0\t2\t100,100,\t0,750,\n")),
         "variant.bed:1: BED12 blocks (columns 10-12) do not tile the region"),
    Case("bed12_not_blocks", "4 BED format", "12 columns whose 10-12 are not blocks",
         lambda j: j.args(bed=_bed(j, "chr1\t100\t900\tg\t0\t-\t1\t2\t3\t4\t5\t6\n")),
         "variant.bed:1: a 12-column line is BED12, but columns 10-12 ('4', '5', '6') are not blockCount"),
    Case("gapped_peak", "4 BED format", "gappedPeak (15 columns): blocks, no summit",
         lambda j: j.args(bed=_bed(j, "chr1\t100\t900\tg\t0\t.\t100\t900\t0\t2\t100,100\t0,700\t1\t-1\t-1\n"),
                          extra=(*NO_PEAKS, "--width", "200")),
         "variant.bed: 1 region is BED12 with several blocks (exons)", 0, _regions_are(start=[400])),
    Case("narrowpeak_extra_columns", "4 BED format", "narrowPeak + 1 column: column 10 is the summit",
         lambda j: j.args(bed=_bed(j, "chr1\t100\t900\tp\t0\t.\t1\t-1\t-1\t50\textra\n"),
                          extra=(*NO_PEAKS, "--width", "200")),
         "", 0, _regions_are(start=[50], end=[250])),
    # regions past a chromosome end (item 7)
    Case("bed_past_end", "7 padding", "BED: a region 100 bp past the end of chr2 (one summary line)",
         lambda j: j.args(bed=_bed(j, "chr1\t100\t300\nchr2\t1900\t2100\n"), extra=NO_PEAKS),
         "variant.bed: 1 region runs past a chromosome end (the region, or the model window around it); 100 bases "
         "outside are read as N (padded_bp in regions.tsv)", 0, _regions_are(padded_bp=[0, 100], status=["ok", "ok"])),
    # text files as --model (item 9)
    Case("model_is_fasta", "9 model file", "--model given the FASTA",
         lambda j: j.args(model=j.genome), "genome.fa: this is a text file, not a model: it looks like a FASTA file"),
    Case("model_is_bed", "9 model file", "--model given the BED",
         lambda j: j.args(model=j.bed), "regions.bed: this is a text file, not a model: it looks like a tab-separated"),
    Case("model_is_meme", "9 model file", "--model given a MEME file",
         lambda j: j.args(model=_file(j, "motifs.meme", "MEME version 4\n\nALPHABET= ACGT\n")),
         "it looks like a MEME motif file"),
    Case("model_is_json", "9 model file", "--model given the architecture config",
         lambda j: j.args(model=_file(j, "config.json", '{"n_tasks": 2}')),
         "it looks like JSON (an architecture config goes to --model-config)"),
    Case("model_empty", "9 model file", "--model given an empty file",
         lambda j: j.args(model=_file(j, "empty.pt", b"")), "empty.pt: the model file is empty; pass a model file"),
    # messages
    Case("out_interrupted", "messages", "output folder holds an interrupted run", lambda j: j.args(),
         "holds an interrupted run; pass --resume to finish it or --force to start over",
         before=lambda j: _interrupted_run(j)),
    Case("target_one_task", "messages", "--target 3 of a 1-task model (no '1 tasks')",
         lambda j: j.args(model=_one_task_model(j), extra=["--target", "3"]),
         "--target task 3 is out of range: the model has 1 task (0..0)"),
]


def _indexed_then_spoiled(job: Job) -> Path:
    """The job's genome with a .fai, then a byte 0xff written at chr1:150 (the index still fits the file)."""
    import os

    index = _fai(job, _genome(job, lambda data: data))
    path = _with_letter(job, "chr1", 150, b"\xff")
    os.utime(index)
    return path


def run_case(case: Case, job: Job):
    """Run one case: (result, output folder before, after, files beside the inputs before, after)."""
    if case.before is not None:
        case.before(job)
    args = case.args(job)
    before, beside = snapshot(job.out), {p.name for p in job.root.iterdir()}
    result = invoke(args)
    return result, before, snapshot(job.out), beside, {p.name for p in job.root.iterdir()}


def outcome(case: Case, job: Job) -> tuple[bool, str, int]:
    """Run ``case`` and judge it: (as required, its output lines joined, exit code). Raises nothing."""
    result, before, after, beside, beside_after = run_case(case, job)
    lines = [line for line in result.output.splitlines() if line.strip()]
    text = " / ".join(lines)
    nothing_beside = beside_after - beside <= {"out"}
    if case.exit_code == 2:
        ok = (result.exit_code == 2 and len(lines) == 1 and lines[0].startswith("seqsal: error: ")
              and case.expect in lines[0] and before == after and nothing_beside)
        return ok, text, result.exit_code
    ok = result.exit_code == 0 and nothing_beside and (
        (not lines and not case.expect) or (len(lines) == 1 and case.expect in lines[0] and case.expect != ""))
    if ok and case.check is not None:
        try:
            case.check(job)
        except AssertionError as error:
            return False, f"{text} (check failed: {error})", result.exit_code
    return ok, text, result.exit_code


@pytest.fixture()
def job(tmp_path) -> Job:
    return make_job(tmp_path / "job")


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_input_case(case, job):
    ok, text, code = outcome(case, job)
    assert "Traceback" not in text
    assert ok, f"exit {code}: {text}"
