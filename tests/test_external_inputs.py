"""Issue 15: every file of other projects' test folders (``shared/external-inputs/``) through ``seqsal``.

tangermeme's, gReLU's, pyfaidx's and chrombpnet's own test genomes, interval files
and motif databases (see that folder's README.md). Each either runs with the right
result (the attributed bases are the FASTA's, re-centring follows the format) or is
refused with one line and exit 2; nothing is ever written into that folder (it is a
shared, read-only reference, like a cluster's genome folder).

The folder is found beside the repository (``<repo>/../shared/external-inputs``, or
beside any folder above it, or ``$SEQSAL_EXTERNAL_INPUTS``); the files are never
copied into the repository. The tests skip only when it is absent.
"""
from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from click.testing import CliRunner

import seqsal
from seqsal.cli import main
from seqsal.encode import one_hot_decode
from tests.run_arrays import dense_arrays


def _find_inputs() -> Path | None:
    if os.environ.get("SEQSAL_EXTERNAL_INPUTS"):
        return Path(os.environ["SEQSAL_EXTERNAL_INPUTS"])
    for folder in Path(__file__).resolve().parents[1:]:
        if (folder / "shared" / "external-inputs").is_dir():
            return folder / "shared" / "external-inputs"
    return None


INPUTS = _find_inputs()
pytestmark = pytest.mark.skipif(INPUTS is None or not INPUTS.is_dir(),
                                reason="shared/external-inputs/ (peers' test files) is not beside this checkout")


def _tree(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(folder.rglob("*"))}


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    """A tiny Basset-style model with a 50-bp window (the peers' sequences are 3 bp to 40 kb)."""
    torch.manual_seed(0)
    net = seqsal.BassetCNN(input_length=50, n_tasks=1, channels=(4, 4), kernel_sizes=(5, 3), pool_sizes=(2, 2),
                           hidden=8).eval()
    path = tmp_path_factory.mktemp("model") / "tiny.safetensors"
    seqsal.save_model(net, path)
    return path


@pytest.fixture(autouse=True)
def untouched():
    """No test writes into the shared folder (an index, a .gzi, a temporary file)."""
    before = _tree(INPUTS)
    yield
    assert _tree(INPUTS) == before


def read_fasta(path: Path) -> dict[str, str]:
    """An independent reader: records split on '>' lines, name = first word, blank lines dropped."""
    opener = gzip.open if path.read_bytes()[:2] == b"\x1f\x8b" else open
    with opener(path, "rt") as handle:
        text = handle.read()
    records: dict[str, list[str]] = {}
    name = None
    for line in text.splitlines():
        if line.startswith(">"):
            name = line[1:].split()[0]
            records[name] = []
        elif line.strip():
            records[name].append(line.strip())
    return {key: "".join(value) for key, value in records.items()}


def attribute(genome: Path, bed: Path, model: Path, out: Path, *extra: str):
    """``seqsal attribute`` through click's runner: (exit code, non-blank output lines)."""
    result = CliRunner().invoke(main, ["attribute", str(genome), str(bed), "--model", str(model), "-o", str(out),
                                       "-q", "--no-peaks", *extra], catch_exceptions=False)
    return result.exit_code, [line for line in result.output.splitlines() if line.strip()]


def assert_bases_are_the_fastas(out: Path, fasta: Path) -> pd.DataFrame:
    """Each region's one-hot row decodes to the FASTA's bases there (N outside the sequence)."""
    sequences = read_fasta(fasta)
    table = pd.read_csv(out / "regions.tsv", sep="\t", dtype={"chrom": str})
    one_hot = dense_arrays(out / "attributions.npz")["one_hot"]
    for i, row in enumerate(table.itertuples()):
        sequence = sequences[row.chrom]
        expected = "".join(sequence[p].upper() if 0 <= p < len(sequence) else "N" for p in range(row.start, row.end))
        expected = "".join(base if base in "ACGT" else "N" for base in expected)
        assert one_hot_decode(one_hot[i][:, :row.end - row.start]) == expected, row
    assert (table["status"].isin(["ok", "all_N"])).all()
    return table


def padding_line(bed: Path, regions: int, bases: int, beyond: str = "") -> str:
    """The one line on regions whose model input (the region, or its 50-bp window) runs past a chromosome end;
    ``beyond``: what it adds on the regions that end past their chromosome themselves."""
    return (f"seqsal: {bed}: {regions} region{'s run' if regions > 1 else ' runs'} past a chromosome end (the region, "
            f"or the model window around it); {bases} bases outside are read as N (padded_bp in regions.tsv)"
            + beyond)


def one_line_refusal(code: int, lines: list[str], *fragments: str) -> None:
    assert code == 2 and len(lines) == 1 and lines[0].startswith("seqsal: error: "), lines
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


# ------------------------------------------------------------------------------------------- tangermeme
@pytest.mark.parametrize("bed, padded", [("tangermeme/test.bed", (1, 5)), ("tangermeme/test2.bed", (1, 10))])
def test_tangermeme_genome_with_its_fai_and_beds(model, tmp_path, bed, padded):
    """'> chr1' headers, blank lines between records, its .fai used as it is (no warning about it, nothing
    rewritten); a 20-bp region near a chromosome's start, read in the 50-bp window, reads N there (one line)."""
    code, lines = attribute(INPUTS / "tangermeme/test.fa", INPUTS / bed, model, tmp_path / "out")
    assert code == 0 and lines == [padding_line(INPUTS / bed, *padded)]
    table = assert_bases_are_the_fastas(tmp_path / "out", INPUTS / "tangermeme/test.fa")
    assert len(table) == len((INPUTS / bed).read_text().split("\n"))  # no final newline


def test_tangermeme_bed10_placeholders_are_not_minus_strands(model, tmp_path):
    code, lines = attribute(INPUTS / "tangermeme/test.fa", INPUTS / "tangermeme/test2.bed10", model, tmp_path / "out",
                            "--width", "10")
    assert code == 0 and lines == [padding_line(INPUTS / "tangermeme/test2.bed10", 2, 9)]  # 10-bp in 50-bp windows
    table = assert_bases_are_the_fastas(tmp_path / "out", INPUTS / "tangermeme/test.fa")
    bed10 = pd.read_csv(INPUTS / "tangermeme/test2.bed10", sep="\t", header=None)
    assert list(table["strand"]) == ["."] * len(bed10)
    assert list(table["start"]) == list(bed10[1] + bed10[9] - 5)  # re-centred on column 10, the summit offset


def test_tangermeme_z_stops_only_windows_that_reach_it(model, tmp_path):
    """The 'Z' at chr5:25: a chr5 region whose 50-bp window reaches it stops (one line, what to do); with
    --unknown-bases n it is read as N with one warning line; the derived genome (Z -> N) gives the same bytes."""
    bed = tmp_path / "chr5.bed"
    bed.write_text("chr5\t30\t50\nchr5\t100\t120\n")  # windows chr5:15-65 (holds position 25) and 85-135
    code, lines = attribute(INPUTS / "tangermeme/test.fa", bed, model, tmp_path / "stop")
    one_line_refusal(code, lines, "test.fa:", "character 'Z' at chr5:25 (0-based) is not an IUPAC DNA code",
                     "--unknown-bases n")
    code, lines = attribute(INPUTS / "tangermeme/test.fa", bed, model, tmp_path / "n", "--unknown-bases", "n")
    assert code == 0 and len(lines) == 1 and "read 1 character that is not an IUPAC DNA code as N" in lines[0]
    code, lines = attribute(INPUTS / "derived/tm_test_noZ.fa", bed, model, tmp_path / "noZ")
    assert code == 0 and lines == []
    for name in ("attributions.npz", "regions.tsv"):
        assert (tmp_path / "n" / name).read_bytes() == (tmp_path / "noZ" / name).read_bytes()
    later = tmp_path / "later.bed"
    later.write_text("chr5\t100\t120\n")
    assert attribute(INPUTS / "tangermeme/test.fa", later, model, tmp_path / "later") == (0, [])


@pytest.mark.parametrize("genome", ["tangermeme/test_int_chroms.fa", "derived/tm_int_noZ.fa"])
def test_integer_chromosome_names(model, tmp_path, genome):
    code, lines = attribute(INPUTS / genome, INPUTS / "tangermeme/test_int.bed", model, tmp_path / "out")
    assert code == 0 and lines == [padding_line(INPUTS / "tangermeme/test_int.bed", 1, 5)]
    assert list(assert_bases_are_the_fastas(tmp_path / "out", INPUTS / genome)["chrom"].unique()) == ["1", "2"]


# ----------------------------------------------------------------------------------------------- gReLU
def test_grelu_genomes_plain_and_bgzip_with_their_fai(model, tmp_path):
    """test.fa (3-bp records) and its bgzip copy whose .fai holds BGZF virtual offsets: the same bytes out."""
    bed = tmp_path / "seqs.bed"
    bed.write_text("seq1\t0\t3\nseq2\t0\t3\n")
    padding = padding_line(bed, 2, 94)  # 3-bp records: each 50-bp window reads 47 N
    assert attribute(INPUTS / "grelu/test.fa", bed, model, tmp_path / "plain") == (0, [padding])
    assert attribute(INPUTS / "grelu/test.fa.bgz", bed, model, tmp_path / "bgz") == (0, [padding])
    assert_bases_are_the_fastas(tmp_path / "plain", INPUTS / "grelu/test.fa")
    for name in ("attributions.npz", "attributions.bw", "regions.tsv"):
        assert (tmp_path / "plain" / name).read_bytes() == (tmp_path / "bgz" / name).read_bytes()


def test_grelu_plain_gzip_is_refused_with_the_conversion(model, tmp_path):
    bed = tmp_path / "seqs.bed"
    bed.write_text("seq1\t0\t3\n")
    code, lines = attribute(INPUTS / "grelu/test.fa.gz", bed, model, tmp_path / "out")
    one_line_refusal(code, lines, "test.fa.gz: the FASTA is compressed with plain gzip",
                     f"zcat {INPUTS / 'grelu/test.fa.gz'} | bgzip > {INPUTS / 'grelu/test.fa.bgz'}")


def test_grelu_bed_names_chromosomes_its_genomes_lack(model, tmp_path):
    code, lines = attribute(INPUTS / "grelu/test_genome.fa", INPUTS / "grelu/test.bed", model, tmp_path / "out")
    one_line_refusal(code, lines, "test.bed:1: chromosome 'chr1' is not in the FASTA")


def test_grelu_test_genome(model, tmp_path):
    bed = tmp_path / "r.bed"
    bed.write_text("chr10\t0\t100\t.\t0\t-\nchr21\t1950\t2040\n")  # the second runs 40 bp past chr21's end
    code, lines = attribute(INPUTS / "grelu/test_genome.fa", bed, model, tmp_path / "out")
    assert code == 0 and lines == [padding_line(bed, 1, 40, "; 1 of them ends past its chromosome itself (first: "
                                                "line 2, end 2,040 > chr21 2,000 bp): is this BED for this genome build?")]
    assert list(assert_bases_are_the_fastas(tmp_path / "out", INPUTS / "grelu/test_genome.fa")["padded_bp"]) == [0, 40]


# --------------------------------------------------------------------------------------------- pyfaidx
def test_pyfaidx_gene_bed12_is_re_centred_on_its_middle(model, tmp_path):
    """DOC2B, chr17:6010-31420, 6 exons: --width 500 gives its middle, not column 10 (6 blocks) + 6010."""
    code, lines = attribute(INPUTS / "pyfaidx/chr17.hg19.part.fa", INPUTS / "pyfaidx/gene.bed12", model,
                            tmp_path / "out", "--width", "500")
    assert code == 0 and len(lines) == 1 and "1 region is BED12 with several blocks (exons)" in lines[0]
    table = assert_bases_are_the_fastas(tmp_path / "out", INPUTS / "pyfaidx/chr17.hg19.part.fa")
    assert table.loc[0, ["name", "start", "end", "strand"]].tolist() == ["uc010vpx.1", 18465, 18965, "-"]


def test_pyfaidx_malformed_bed(model, tmp_path):
    code, lines = attribute(INPUTS / "pyfaidx/chr17.hg19.part.fa", INPUTS / "pyfaidx/malformed.bed", model,
                            tmp_path / "out")
    one_line_refusal(code, lines, "malformed.bed:1: found 2 column(s), a BED line needs at least 3")


def test_pyfaidx_issue_83_and_genbank_names(model, tmp_path):
    """A description in a header and a blank line between records; regions.bed names sequences it lacks."""
    bed = tmp_path / "r.bed"
    bed.write_text("MT\t0\t119\nGL000207.1\t10\t60\n")
    assert attribute(INPUTS / "pyfaidx/issue_83.fasta", bed, model, tmp_path / "out") == (0, [])
    assert_bases_are_the_fastas(tmp_path / "out", INPUTS / "pyfaidx/issue_83.fasta")
    code, lines = attribute(INPUTS / "pyfaidx/issue_83.fasta", INPUTS / "pyfaidx/regions.bed", model, tmp_path / "gi")
    one_line_refusal(code, lines, "regions.bed:1: chromosome 'gi|563317589|dbj|AB821309.1|' is not in the FASTA")


def test_ensembl_integer_names_narrowpeak_summits(model, tmp_path):
    code, lines = attribute(INPUTS / "derived/ens17.fa", INPUTS / "derived/ens17_tile500.narrowPeak", model,
                            tmp_path / "out", "--width", "100")
    assert code == 0 and lines == []
    table = assert_bases_are_the_fastas(tmp_path / "out", INPUTS / "derived/ens17.fa")
    peaks = pd.read_csv(INPUTS / "derived/ens17_tile500.narrowPeak", sep="\t", header=None)
    assert list(table["start"]) == list(peaks[1] + peaks[9] - 50)


# ------------------------------------------------------------------------------------------ chrombpnet
def test_chrombpnet_example_sequences_and_motif_databases(model, tmp_path):
    """Two 2,114-bp sequences; then `seqsal motifs` reads each peer database whole (2,193 motifs for
    chrombpnet's)."""
    bed = tmp_path / "r.bed"
    bed.write_text("seq1\t0\t2114\nseq2\t57\t1000\n")
    assert attribute(INPUTS / "chrombpnet/example.fa", bed, model, tmp_path / "out") == (0, [])
    assert_bases_are_the_fastas(tmp_path / "out", INPUTS / "chrombpnet/example.fa")
    for database, count in (("tangermeme/test.meme", "12"), ("tangermeme/test2.meme", "4"), ("grelu/test.meme", "2"),
                            ("chrombpnet/motifs.meme.txt", "2,193")):
        result = CliRunner().invoke(main, ["motifs", str(tmp_path / "out"), "--database", str(INPUTS / database)],
                                    catch_exceptions=False)
        assert result.exit_code == 0, result.output
        assert f"against {count} known motifs of {INPUTS / database}" in result.output


def test_every_input_file_is_used_by_a_test():
    """A file added to the shared folder without a test here fails this."""
    source = Path(__file__).read_text()
    files = [str(p.relative_to(INPUTS)) for p in INPUTS.rglob("*") if p.is_file() and p.name != "README.md"]
    beside = {".fai"}  # an index is used through its FASTA: named by the FASTA's test
    missing = [f for f in files if f not in source and not (Path(f).suffix in beside and f[:-4] in source)]
    assert missing == []
