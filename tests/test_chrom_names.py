"""Chromosomes named by whole numbers (Ensembl's ``17``) and the N bases a model window reads past a chromosome end.

pandas reads a column of digits back as integers; a run folder's tables must keep such names text, or every
lookup keyed by the FASTA's names misses (a run then calls 0 tests, silently).
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import seqsal
from seqsal.tables import as_text, read_region_coordinates, read_tsv
from seqsal.peaks import PeakOptions
from seqsal.pipeline import AttributeOptions, run_attribute
from seqsal.regions import padded_bases
from tests.conftest import write_bed

DEMO = Path(__file__).resolve().parents[1] / "data" / "demo"
SPAN = 40_000  # bases of the demo's chr1 and chr2 kept


def _demo_regions(rename: dict[str, str]) -> list[str]:
    """The demo's regions on chr1 and chr2 inside the first ``SPAN`` bases, their chromosomes renamed."""
    lines = []
    for line in (DEMO / "regions.bed").read_text().splitlines():
        fields = line.split("\t")
        if fields[0] in rename and int(fields[2]) <= SPAN:
            lines.append("\t".join([rename[fields[0]], *fields[1:]]))
    return lines


def _demo_genome(path: Path, rename: dict[str, str]) -> Path:
    """The first ``SPAN`` bases of the demo's chr1 and chr2, named by ``rename``."""
    genome = seqsal.Genome(str(DEMO / "genome.fa"))
    with open(path, "w") as handle:
        for old, new in rename.items():
            sequence = genome.fetch(old, 0, SPAN)
            handle.write(f">{new}\n" + "".join(sequence[i:i + 60] + "\n" for i in range(0, SPAN, 60)))
    genome.close()
    return path


def _run(tmp_path: Path, rename: dict[str, str]) -> tuple[Path, dict]:
    folder = tmp_path / "_".join(rename.values())
    folder.mkdir()
    genome = _demo_genome(folder / "genome.fa", rename)
    bed = write_bed(folder / "regions.bed", _demo_regions(rename))
    record = run_attribute(str(genome), str(bed), str(DEMO / "model.safetensors"), str(folder / "out"),
                           AttributeOptions(), progress=False, peaks=PeakOptions(null="laplace"))
    return folder / "out", record


def test_whole_number_chromosomes_call_as_chr_names(tmp_path):
    """The same genome and regions named ``1``, ``2`` and ``chr1``, ``chr2``: the same tests, seqlets and elements.

    With the Laplace null (fitted to the tracks, which are the same): the shuffled null draws its sample and
    shuffles from a hash of each region's chromosome name, so it differs a little with the names, by design.
    """
    ucsc, ucsc_record = _run(tmp_path, {"chr1": "chr1", "chr2": "chr2"})
    ensembl, ensembl_record = _run(tmp_path, {"chr1": "1", "chr2": "2"})
    assert ucsc_record["n_regions"] == ensembl_record["n_regions"] >= 10
    ucsc_peaks, ensembl_peaks = ucsc_record["peaks"], ensembl_record["peaks"]
    assert ucsc_peaks["n_tests"] > 1000
    assert ensembl_peaks["n_tests"] == ucsc_peaks["n_tests"]
    assert ensembl_peaks["n_seqlets"] == ucsc_peaks["n_seqlets"] > 0
    assert ensembl_peaks["n_elements"] == ucsc_peaks["n_elements"]
    seqlets = read_tsv(ensembl / "seqlets.tsv")
    assert set(seqlets["chrom"]) <= {"1", "2"} and len(seqlets) == ucsc_peaks["n_seqlets"]
    same = read_tsv(ucsc / "seqlets.tsv")
    np.testing.assert_array_equal(seqlets["start"], same["start"])
    np.testing.assert_array_equal(seqlets["chrom"], same["chrom"].str.removeprefix("chr"))
    # re-calling the folder with chromosome sizes keyed by numbers: the same calls
    again = seqsal.call_peaks_from_run(ensembl, write=False, chrom_sizes={1: SPAN, 2: SPAN})
    assert again.info["n_tests"] == ucsc_peaks["n_tests"]


def test_tables_keep_whole_number_names_text(tmp_path):
    """regions.tsv read back: chromosome ``17`` and region name ``1`` stay text (and ``01`` stays ``01``)."""
    path = tmp_path / "regions.tsv"
    pd.DataFrame({"index": [0, 1], "name": ["1", "01"], "chrom": ["17", "17"], "start": [0, 500],
                  "end": [500, 1000]}).to_csv(path, sep="\t", index=False)
    coordinates = read_region_coordinates(path)
    assert list(coordinates["chrom"].cat.categories) == ["17"]
    assert list(coordinates["name"]) == ["1", "01"]
    table = read_tsv(path)
    assert list(table["chrom"]) == ["17", "17"] and list(table["name"]) == ["1", "01"]
    assert table["start"].dtype == np.int64


@pytest.mark.parametrize("values, expected", [
    (pd.Series([17, 1]), ["17", "1"]),
    (pd.Series([17.0, 1.0]), ["17", "1"]),  # pandas' integers in a column with a gap
    (pd.Series([17, 1]).astype("category"), ["17", "1"]),
    (pd.Series(["chr1", "X"]), ["chr1", "X"]),
])
def test_as_text(values, expected):
    assert list(as_text(values)) == expected


def test_notebook_regions_with_integer_chromosomes(tmp_path, tiny_model):
    """A DataFrame of an Ensembl BED read by pandas (``chrom`` int64) is attributed like its text form."""
    rng = np.random.default_rng(0)
    sequence = "".join(rng.choice(list("ACGT"), 1000))
    genome = tmp_path / "genome.fa"
    genome.write_text(">1\n" + sequence + "\n>2\n" + sequence[::-1] + "\n")
    _, model = tiny_model
    numbers = pd.DataFrame({"chrom": [1, 2], "start": [100, 300], "end": [300, 500]})
    assert numbers["chrom"].dtype == np.int64
    results = list(seqsal.iter_attributions(str(genome), numbers, model))
    texts = list(seqsal.iter_attributions(str(genome), numbers.astype({"chrom": str}), model))
    assert len(results) == 2
    for got, want in zip(results, texts):
        np.testing.assert_array_equal(got.one_hot, want.one_hot)
        np.testing.assert_allclose(got.hypothetical, want.hypothetical)


def test_padded_bases_count_the_model_window():
    """A 3-bp region at a chromosome's start, read in a 200-bp window: 98 bases before the start are N."""
    regions = pd.DataFrame({"chrom": ["a", "a", "a", "a"], "start": [0, 450, 100, -50], "end": [3, 550, 900, -10]})
    sizes = {"a": 500}
    assert list(padded_bases(regions, sizes)) == [0, 50, 400, 40]
    # window 200: [-98, 102) | [400, 600) | the 800-bp region itself | [-130, 70)
    assert list(padded_bases(regions, sizes, 200)) == [98, 100, 400, 130]


def test_run_reports_window_padding(tmp_path, small_genome, tiny_model, caplog):
    """regions.tsv's padded_bp counts the N bases the model read past a chromosome end, with one warning line."""
    genome, _ = small_genome
    model_path, _ = tiny_model
    bed = write_bed(tmp_path / "r.bed", ["chr1\t0\t3", "chr1\t2000\t2100", "chr2\t2950\t3000"])
    with caplog.at_level(logging.WARNING, logger="seqsal"):
        run_attribute(str(genome), str(bed), str(model_path), str(tmp_path / "out"), AttributeOptions(),
                      progress=False, peaks=False)
    table = read_tsv(tmp_path / "out" / "regions.tsv")
    # 200-bp window: chr1 [-98, 102) reads 98 N; chr2 (3,000 bp) [2875, 3075) reads 75 N
    assert list(table["padded_bp"]) == [98, 0, 75]
    lines = [record.getMessage() for record in caplog.records if "past a chromosome end" in record.getMessage()]
    assert lines == [f"{bed}: 2 regions run past a chromosome end (the region, or the model window around it); "
                     "173 bases outside are read as N (padded_bp in regions.tsv)"]
    assert json.loads((tmp_path / "out" / "run.json").read_text())["n_regions"] == 3


def test_audit_names_window_padding_outside_the_regions(tmp_path):
    """No N in the attributed bases, but model windows that read past a chromosome end: the audit says so."""
    from seqsal.audit import audit_run
    from tests.test_audit import OPTIONS, clean_arrays, make_run

    sequences, hyp = clean_arrays(np.random.default_rng(5))
    padded = np.zeros(len(sequences), int)
    padded[:3] = 100
    table = audit_run(make_run(tmp_path / "run", sequences, hyp, padded=padded), OPTIONS).set_index("check")
    evidence = table.loc["padding_and_N", "evidence"]
    assert evidence.startswith("no N or padded bases in the regions; the model's input of 3 regions ran 300 bp past")
    clean = audit_run(make_run(tmp_path / "clean", sequences, hyp), OPTIONS).set_index("check")
    assert clean.loc["padding_and_N", "evidence"] == "no N or padded bases in the regions"


def test_no_tests_is_named_not_nan(tmp_path, small_genome, tiny_model, caplog):
    """Chromosome sizes that name none of the regions' chromosomes leave no base to test: the warning says so
    (it used to read ``0 tests; smallest p-value nan``)."""
    genome, _ = small_genome
    model_path, _ = tiny_model
    bed = write_bed(tmp_path / "r.bed", ["chr1\t100\t300", "chr1\t1000\t1200", "chr2\t500\t700"])
    run_attribute(str(genome), str(bed), str(model_path), str(tmp_path / "out"), AttributeOptions(),
                  progress=False, peaks=False)
    # since session 30 (fresh30b) such sizes are refused up front, naming the chromosomes they miss
    with pytest.raises(seqsal.InputError, match=r"chrom_sizes does not name the run's chromosome\(s\) chr1, chr2"):
        seqsal.call_peaks_from_run(tmp_path / "out", write=False, chrom_sizes={"other": 10_000}, null="laplace")
    with caplog.at_level(logging.WARNING, logger="seqsal"):  # no valid base at all: the warning names the causes
        table = seqsal.call_peaks(np.zeros((3, 200), np.float32), valid=np.zeros(200, bool))
    assert table.attrs["peaks"]["n_tests"] == 0
    lines = [record.getMessage() for record in caplog.records if "no seqlet passed" in record.getMessage()]
    assert len(lines) == 1 and lines[0].startswith("no seqlet passed FDR 0.2: no tests (no valid bases?")
    assert "nan" not in lines[0]
