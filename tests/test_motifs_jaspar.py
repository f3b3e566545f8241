"""seqsal.motifs.jaspar: `--database jaspar` (pyjaspar's offline releases, converted to MEME once, cached) and
MEME databases of real size."""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from seqsal.cli import main
from seqsal.datasets import bundled_motifs, user_cache_dir
from seqsal.errors import InputError
from seqsal.io import write_npz
from seqsal.motifs import best_matches, compare_motifs, read_meme
from seqsal.motifs.jaspar import JasparQuery, counts_to_motif, jaspar_cache_path, jaspar_database, resolve_database
from motif_helpers import jaspar_motifs, planted_run

pytest.importorskip("pyjaspar", reason="the jaspar extra (a test dependency: pip install -e '.[test]')")

CHROMBPNET_MEME = Path(__file__).resolve().parents[2] / "shared" / "external-inputs" / "chrombpnet" / "motifs.meme.txt"
DEMO_MOTIFS = {"MA0140.2": "GATA1::TAL1", "MA0080.3": "Spi1", "MA0466.1": "CEBPB", "MA0099.3": "FOS::JUN",
               "MA0139.1": "CTCF", "MA0138.2": "REST"}  # planted in the demo (data/demo/README.md)
RELEASE = "JASPAR2024"


@pytest.fixture()
def cache(tmp_path, monkeypatch) -> Path:
    """A private user cache: XDG_CACHE_HOME in tmp_path (and no SEQSAL_CACHE_DIR)."""
    monkeypatch.delenv("SEQSAL_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    return tmp_path / "xdg" / "seqsal"


def test_counts_become_column_probabilities():
    motif = counts_to_motif("MA9999.1", "two words", {"A": [3, 0], "C": [1, 0], "G": [0, 0], "T": [0, 0]})
    np.testing.assert_allclose(motif.pwm, [[0.75, 0.25], [0.25, 0.25], [0, 0.25], [0, 0.25]])
    assert motif.nsites == 4 and motif.name == "two_words"


def test_release_is_converted_once_into_the_xdg_cache(cache, caplog):
    query = JasparQuery(release=RELEASE, all_versions=True)
    assert user_cache_dir() == cache
    path = jaspar_database(query)
    assert path == jaspar_cache_path(query, RELEASE) == cache / "jaspar" / f"{RELEASE}_CORE_vertebrates_all.meme"
    motifs = read_meme(path)
    ids = {motif.identifier for motif in motifs}
    assert len(motifs) > 1500 and set(DEMO_MOTIFS) <= ids and all(i.startswith("MA") for i in ids)
    assert all(np.allclose(motif.pwm.sum(axis=0), 1, atol=1e-5) for motif in motifs)
    # the bundled subset was copied from JASPAR's own files: the same matrices, to their 6 decimals
    release = {motif.identifier: motif for motif in motifs}
    for motif in read_meme(bundled_motifs()):
        if motif.identifier in release:
            np.testing.assert_allclose(release[motif.identifier].pwm, motif.pwm, atol=2e-6)
    stamp = path.stat().st_mtime_ns
    assert jaspar_database(query) == path and path.stat().st_mtime_ns == stamp  # read from the cache
    whole = path.read_bytes()
    path.write_bytes(whole[:20_000])  # fresh24b: a damaged cache was read as the user's file and refused
    caplog.set_level("WARNING", logger="seqsal")
    assert jaspar_database(query) == path and path.read_bytes() == whole  # converted again
    assert len([r for r in caplog.records if "cannot be read" in r.getMessage()]) == 1  # review25: said twice
    latest = read_meme(jaspar_database(JasparQuery(release=RELEASE)))
    assert len({m.identifier.split(".")[0] for m in latest}) == len(latest) < len(motifs)


def test_database_names_resolve(cache, tmp_path):
    assert resolve_database(None) == str(bundled_motifs())
    assert resolve_database("None") is None
    assert resolve_database(tmp_path / "mine.meme") == str(tmp_path / "mine.meme")
    path = resolve_database("jaspar", JasparQuery(release=RELEASE, tax_group="insects"), cache_dir=tmp_path / "c")
    assert Path(path).parent == tmp_path / "c" / "jaspar" and 100 < len(read_meme(path)) < 500


@pytest.mark.parametrize("query, words", [
    (JasparQuery(release="JASPAR1999"), "JASPAR release 'JASPAR1999' is not in pyjaspar"),
    (JasparQuery(tax_group="mammals"), "unknown JASPAR taxonomic group 'mammals'"),
    (JasparQuery(release=RELEASE, collection="NOSUCH"), "no JASPAR matrix in JASPAR2024 collection NOSUCH"),
])
def test_bad_queries_are_one_line_errors(cache, query, words):
    with pytest.raises(InputError, match=words):
        jaspar_database(query)
    assert not (cache / "jaspar").exists() or not any((cache / "jaspar").iterdir())


def test_missing_pyjaspar_says_how_to_install(cache, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyjaspar", None)
    with pytest.raises(InputError, match=r"needs pyjaspar.*pip install 'seqsal\[jaspar\]'"):
        resolve_database("jaspar", JasparQuery(release=RELEASE))


def test_demo_motifs_are_named_by_their_ids_among_all_vertebrate_core(cache):
    """The six planted PWMs, as the query, find themselves first among every version of every vertebrate CORE
    matrix (the benchmark of benchmarks/RESULTS.md runs the discovered motifs)."""
    known = read_meme(jaspar_database(JasparQuery(release=RELEASE, all_versions=True)))
    planted = [motif for motif in read_meme(bundled_motifs()) if motif.identifier in DEMO_MOTIFS]
    best = best_matches(compare_motifs(planted, known), 1)
    assert dict(zip(best["query"], best["target_id"])) == {i: i for i in DEMO_MOTIFS}
    assert (best["qvalue"] < 1e-3).all()


def test_cli_motifs_database_jaspar(tmp_path, cache):
    """`seqsal motifs --database jaspar --jaspar-release ... --jaspar-all-versions` on planted Spi1, CEBPB and
    REST instances names their factors among every version of every vertebrate CORE matrix."""
    one_hot, hyp, lengths, seqlets, _ = planted_run(jaspar_motifs())
    write_npz(tmp_path / "attributions.npz", {"one_hot": one_hot, "hypothetical": hyp, "length": lengths})
    (tmp_path / "run.json").write_text("{}")  # a finished run's folder holds its record
    pd.DataFrame({"index": np.arange(len(lengths)), "name": [f"r{i}" for i in range(len(lengths))], "chrom": "chr1",
                  "start": np.arange(len(lengths)) * 1000, "end": np.arange(len(lengths)) * 1000 + 200}).to_csv(
        tmp_path / "regions.tsv", sep="\t", index=False)
    seqlets.assign(name=[f"s{i}" for i in range(len(seqlets))]).to_csv(tmp_path / "seqlets.tsv", sep="\t", index=False)
    result = CliRunner().invoke(main, ["motifs", str(tmp_path), "--seqlets", str(tmp_path / "seqlets.tsv"),
                                       "--database", "jaspar", "--jaspar-release", RELEASE, "--jaspar-all-versions",
                                       "-q"])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(tmp_path / "motifs.tsv", sep="\t")
    names = sorted(table["match_name"].str.upper())  # the factors (CEBPB's discovered motif may name CEBPA)
    assert len(names) == 3 and names[0].startswith("CEBP") and names[1:] == ["REST", "SPI1"], names
    assert {i.split(".")[0] for i in table["match_id"]} >= {"MA0080", "MA0138"}  # Spi1, REST: any version
    assert (table["match_qvalue"] < 0.01).all()
    assert (cache / "jaspar" / f"{RELEASE}_CORE_vertebrates_all.meme").is_file()
    bad = CliRunner().invoke(main, ["motifs", str(tmp_path), "--seqlets", str(tmp_path / "seqlets.tsv"),
                                    "--database", "jaspar", "--jaspar-tax-group", "mammals"])
    assert bad.exit_code == 2 and "unknown JASPAR taxonomic group 'mammals'" in bad.output


@pytest.mark.skipif(not CHROMBPNET_MEME.is_file(), reason="shared/external-inputs/chrombpnet/motifs.meme.txt absent")
def test_a_real_size_meme_file_is_a_database(tmp_path):
    """ChromBPNet's motif file (2,193 motifs) reads as a --database FILE, and the planted PWMs find a motif of
    their factor in it."""
    started = time.perf_counter()
    known = read_meme(CHROMBPNET_MEME)
    assert len(known) == 2193
    planted = [motif for motif in read_meme(bundled_motifs()) if motif.identifier in DEMO_MOTIFS]
    best = best_matches(compare_motifs(planted, known), 1)
    assert time.perf_counter() - started < 60
    assert (best["qvalue"] < 0.05).all() and len(best) == 6
    named = dict(zip(best["query"], best["target_id"].str.upper()))  # e.g. SPI1_MOUSE.H11MO.0.A, GATA1+TAL1_MA0140.2
    assert all(named[i].startswith(factor.upper().replace("::", "+") + "_") for i, factor in DEMO_MOTIFS.items()), named
