"""What `seqsal motifs` (and `seqsal evaluate --truth`) take from the user: a seqlet table must be of the run
folder's regions, a motif database is read and checked whole before discovery (``database=`` as the CLI's
``--database``), a truth BED must overlap the regions, and a best match with a large q-value does not name a motif."""
import bz2
import gzip
import lzma

import numpy as np
import pandas as pd
import pytest

from seqsal.errors import InputError
from seqsal.evaluate_inputs import check_truth, sites_overlapping
from seqsal.motifs import read_meme, read_seqlet_table
from seqsal.motifs.export import MOTIF_TABLE_COLUMNS, match_label
from seqsal.motifs.seqlets import seqlet_region_mismatch

GOOD_MEME = ("MEME version 4\n\nALPHABET= ACGT\n\nMOTIF m1 X\nletter-probability matrix: alength= 4 w= 2\n"
             "0.1 0.2 0.3 0.4\n0.5 0.5 0 0\n")


def _regions(n: int = 4) -> pd.DataFrame:
    return pd.DataFrame({"index": np.arange(n), "name": [f"r{i}" for i in range(n)], "chrom": ["chr1", "chr1", "chr2", "chr2"][:n],
                         "start": [100, 1000, 100, 5000][:n], "end": [300, 1200, 300, 5200][:n]})


def _calls(regions: pd.DataFrame, rows: list[int], offsets: list[tuple[int, int]]) -> pd.DataFrame:
    """Seqlet rows named the way seqsal.peaks writes them: genome start = the region's start + offset."""
    at = regions.iloc[rows]
    return pd.DataFrame({"name": [f"s{k}" for k in range(len(rows))], "region_index": rows,
                         "region_name": at["name"].to_numpy(), "chrom": at["chrom"].to_numpy(),
                         "start": at["start"].to_numpy() + [a for a, _ in offsets],
                         "end": at["start"].to_numpy() + [b for _, b in offsets],
                         "offset_start": [a for a, _ in offsets], "offset_end": [b for _, b in offsets],
                         "sign": "+", "score": 1.0})


def test_a_seqlet_table_of_the_same_regions_in_another_order_is_refused_at_its_first_bad_line(tmp_path):
    regions = _regions()
    own = _calls(regions, [0, 1, 3], [(10, 20), (5, 15), (50, 60)])
    assert seqlet_region_mismatch(own, regions) is None
    # another run: the same regions, in another order; its calls name their region by the other run's index
    other_order = regions.iloc[[0, 2, 1, 3]].reset_index(drop=True)
    foreign = _calls(other_order, [0, 1, 3], [(10, 20), (5, 15), (50, 60)])
    row, what = seqlet_region_mismatch(foreign, regions)
    assert row == 1 and "region_index 1 of regions.tsv is r1 (chr1:1000-1200" in what and "region_name r2" in what
    path = tmp_path / "other.tsv"
    foreign.to_csv(path, sep="\t", index=False)
    with pytest.raises(InputError, match=r"other.tsv:3: region_index 1 .*from another run"):
        read_seqlet_table(path, regions, np.array([200, 200, 200, 200]))
    assert len(read_seqlet_table(path)) == 3  # without the folder's regions, only the table itself is checked
    # a table with only the required columns: the index and offsets against the rows' lengths
    bare = own[["region_index", "offset_start", "offset_end"]]
    assert seqlet_region_mismatch(bare, regions, np.array([200, 200, 200, 200])) is None
    assert seqlet_region_mismatch(bare, regions, np.array([200, 10, 200, 200]))[0] == 1  # offset_end 15 > 10
    assert "not a row of regions.tsv" in seqlet_region_mismatch(bare.assign(region_index=[0, 1, 4]), regions)[1]


def test_read_meme_refuses_nan_inf_and_other_alphabets_with_the_line(tmp_path):
    cases = {"0.1 0.2 nan 0.7": ":7: motif m1: a matrix row holds nan or inf",
             "0.1 0.2 inf 0.7": ":7: motif m1: a matrix row holds nan or inf",
             "-0.1 0.4 0.3 0.4": ":7: motif m1: a matrix row has a negative entry"}
    for row, message in cases.items():
        path = tmp_path / "bad.meme"
        path.write_text(GOOD_MEME.replace("0.1 0.2 0.3 0.4", row))
        with pytest.raises(InputError, match=message):
            read_meme(path)
    path.write_text(GOOD_MEME.replace("ALPHABET= ACGT", "ALPHABET= ACDEFGHIKLMNPQRSTVWY"))
    with pytest.raises(InputError, match=r"bad.meme:3: alphabet ACDEFGHIKLMNPQRSTVWY is not DNA"):
        read_meme(path)
    path.write_text(GOOD_MEME.replace("alength= 4", "alength= 20"))
    with pytest.raises(InputError, match=r"bad.meme:6: motif m1: alength= 20, not 4"):
        read_meme(path)
    path.write_text(GOOD_MEME.replace("ALPHABET= ACGT", "ALPHABET= ACGU"))  # RNA: read as DNA
    assert read_meme(path)[0].pwm.shape == (4, 2)


def test_read_meme_reads_compressed_files_and_names_what_it_cannot_read(tmp_path):
    plain = tmp_path / "m.meme"
    plain.write_text(GOOD_MEME)
    for opener, suffix in ((gzip.open, ".gz"), (bz2.open, ".bz2"), (lzma.open, ".xz")):
        packed = tmp_path / f"m.meme{suffix}"
        with opener(packed, "wt") as handle:
            handle.write(GOOD_MEME)
        np.testing.assert_array_equal(read_meme(packed)[0].pwm, read_meme(plain)[0].pwm)
    zstd = tmp_path / "m.meme.zst"
    zstd.write_bytes(b"\x28\xb5\x2f\xfd" + bytes(20))
    with pytest.raises(InputError, match="compressed with zstd; decompress it first"):
        read_meme(zstd)
    binary = tmp_path / "m.bin"
    binary.write_bytes(bytes(range(128, 256)))
    with pytest.raises(InputError, match="not a text file"):
        read_meme(binary)
    empty = tmp_path / "empty.meme"
    empty.write_text("\n")
    with pytest.raises(InputError, match="empty.meme: the motif file is empty"):
        read_meme(empty)
    with pytest.raises(InputError, match="the motif file is empty"):
        read_meme("/dev/null")


@pytest.fixture
def small_folder(tmp_path):
    from seqsal.io import write_npz

    rng = np.random.default_rng(0)
    one_hot = np.eye(4, dtype=np.float32)[rng.integers(0, 4, (4, 200))].transpose(0, 2, 1).copy()
    write_npz(tmp_path / "attributions.npz", {"one_hot": one_hot, "hypothetical": one_hot * 0.1,
                                              "length": np.full(4, 200)})
    _regions().to_csv(tmp_path / "regions.tsv", sep="\t", index=False)
    (tmp_path / "run.json").write_text("{}")  # a finished run's folder holds its record
    return tmp_path


class _Discovered(Exception):
    """Raised in place of discovery: whatever is checked before it has passed."""


def test_run_motifs_resolves_database_as_the_cli_and_checks_it_before_discovery(small_folder, monkeypatch):
    import seqsal.motifs.run as run

    def discovery(*args, **kwargs):
        raise _Discovered

    monkeypatch.setattr(run, "discover_motifs", discovery)
    monkeypatch.setattr(run, "discovery_seqlets", lambda *a, **k: _calls(_regions(), [0], [(10, 20)]))
    bad = small_folder / "bad.meme"
    bad.write_text(GOOD_MEME.replace("0.1 0.2 0.3 0.4", "0.1 0.2 nan 0.7"))
    with pytest.raises(InputError, match="bad.meme:7: motif m1: a matrix row holds nan"):
        run.run_motifs(small_folder, database=bad, progress=False)
    read = []
    monkeypatch.setattr(run, "read_meme", lambda path: read.append(str(path)) or [])
    for database in (None, "none", "NONE"):
        with pytest.raises(_Discovered):
            run.run_motifs(small_folder, database=database, progress=False)
    assert read == [run.BUNDLED_DATABASE]  # the API's default is the CLI's: the bundled subset; "none": no matching
    asked = []
    monkeypatch.setattr("seqsal.motifs.jaspar.jaspar_database", lambda query, cache_dir=None: asked.append(query) or "j.meme")
    with pytest.raises(_Discovered):
        run.run_motifs(small_folder, database="jaspar", jaspar=run.JasparQuery(tax_group="plants"), progress=False)
    assert asked[0].tax_group == "plants" and read[-1] == "j.meme"
    with pytest.raises(InputError) as error:
        run.run_motifs(small_folder, seqlet_fdr=0, progress=False)
    assert str(error.value).startswith("seqlet_fdr must be in (0, 1]")
    assert error.value.cli_message().startswith("--seqlet-fdr must be in (0, 1]")


def test_run_motifs_refuses_a_seqlet_table_of_another_run_before_discovery(small_folder, monkeypatch):
    import seqsal.motifs.run as run

    monkeypatch.setattr(run, "discover_motifs", lambda *a, **k: (_ for _ in ()).throw(_Discovered()))
    regions = _regions()
    _calls(regions.iloc[[1, 0, 2, 3]].reset_index(drop=True), [0, 2], [(10, 20), (30, 40)]).to_csv(
        small_folder / "other.tsv", sep="\t", index=False)
    with pytest.raises(InputError, match=r"other.tsv:2: region_index 0 of regions.tsv is r0 .*region_name r1"):
        run.run_motifs(small_folder, seqlets_path=small_folder / "other.tsv", database="none", progress=False)
    _calls(regions, [0, 2], [(10, 20), (30, 40)]).to_csv(small_folder / "mine.tsv", sep="\t", index=False)
    with pytest.raises(_Discovered):
        run.run_motifs(small_folder, seqlets_path=small_folder / "mine.tsv", database="none", progress=False)


def test_truth_sites_must_overlap_the_regions():
    regions = pd.DataFrame({"chrom": ["chr1", "chr1", "chr2"], "start": [100, 1000, 500], "end": [300, 1200, 700]})
    sites = pd.DataFrame({"chrom": ["chr1", "chr1", "chr1", "chr2", "2", "chr1"],
                          "start": [290, 300, 50, 650, 600, 1199], "end": [310, 320, 101, 660, 610, 1300]})
    assert sites_overlapping(sites, regions).tolist() == [True, False, True, True, False, True]
    check_truth(sites, regions, 3, True, "t.bed")
    nowhere = sites.assign(chrom=sites["chrom"].str.replace("chr", ""))
    with pytest.raises(InputError, match=r"t.bed: 0 of 6 truth sites overlap the run's 3 regions .*chromosome names"):
        check_truth(nowhere, regions, 3, False, "t.bed")
    with pytest.raises(InputError, match=r"4 of 6 truth sites overlap the run's regions, but none the 2 regions "
                                         r"evaluated; .*max_regions"):
        check_truth(sites, regions, 2, False, "t.bed")


def test_a_best_match_with_a_large_q_does_not_name_the_motif():
    assert MOTIF_TABLE_COLUMNS.index("match_qvalue") == MOTIF_TABLE_COLUMNS.index("match_name") + 1
    assert match_label("FOS::JUN", 1.6e-6) == "FOS::JUN (q 1.6e-06)"
    assert match_label("FOXI1", 0.98) == "no database match at q < 0.05 (closest FOXI1, q 0.98)"
    assert match_label("FOXI1", 0.05).startswith("no database match")
    assert match_label(float("nan"), float("nan")) == ""


def test_check_seqlets_run_refuses_given_seqlets_of_other_regions(small_folder, monkeypatch):
    import seqsal.seqlet_check as check

    monkeypatch.setattr(check, "run_inputs", lambda *a, **k: (_ for _ in ()).throw(_Discovered()))
    regions = _regions()
    foreign = _calls(regions.iloc[[1, 0, 2, 3]].reset_index(drop=True), [2, 0], [(10, 20), (30, 40)])
    with pytest.raises(InputError, match=r"seqlets row 1: region_index 0 of regions.tsv is r0 .*another run"):
        check.check_seqlets_run(small_folder, seqlets=foreign.assign(qvalue=0.01), write=False)
    with pytest.raises(_Discovered):  # the folder's own calls pass on to the model
        check.check_seqlets_run(small_folder, seqlets=_calls(regions, [2, 0], [(10, 20), (30, 40)]).assign(qvalue=0.01),
                                write=False)


def test_a_seqlet_table_that_is_empty_or_says_no_sign_is_one_line(tmp_path):
    """An empty --seqlets file was a pandas traceback; a table with neither sign nor score was read as all +
    (the repressor's motif then lost without a word). Both are refused, naming the file."""
    from seqsal.errors import InputError
    from seqsal.motifs.seqlets import read_seqlet_table

    empty = tmp_path / "empty.tsv"
    empty.write_text("")
    with pytest.raises(InputError, match="empty file"):
        read_seqlet_table(empty)
    bare = tmp_path / "bare.tsv"
    bare.write_text("region_index\toffset_start\toffset_end\n0\t10\t20\n")
    with pytest.raises(InputError, match="no sign column and no score"):
        read_seqlet_table(bare)
    scored = tmp_path / "scored.tsv"
    scored.write_text("region_index\toffset_start\toffset_end\tscore\n0\t10\t20\t-1.5\n")
    assert list(read_seqlet_table(scored)["sign"]) == ["-"]


def test_jaspar_options_without_database_jaspar_are_refused(tmp_path):
    """fresh6: `--jaspar-tax-group plants` without --database jaspar matched against the bundled subset, silently."""
    from click.testing import CliRunner

    from seqsal.cli import main

    result = CliRunner().invoke(main, ["motifs", str(tmp_path), "-q", "--jaspar-tax-group", "plants"])
    assert result.exit_code == 2
    assert result.output.strip() == ("seqsal: error: --jaspar-tax-group applies to --database jaspar only, and "
                                     "--database is the bundled subset; add --database jaspar, or leave it out")


def test_max_seqlets_below_min_seqlets_is_refused(tmp_path):
    """fresh6: `--max-seqlets 10` (below --min-seqlets 20) clustered 10 seqlets per sign and gave 0 motifs, silently."""
    from click.testing import CliRunner

    from motif_helpers import toy_run_folder, word_tracks
    from seqsal.cli import main

    folder = toy_run_folder(tmp_path / "run", "TGACGTCA", 0.5,
                            lambda oh, rng: word_tracks(oh, rng, [("TGACGTCA", 0.5)]), 20, 200, 0)
    result = CliRunner().invoke(main, ["motifs", str(folder), "-q", "--max-seqlets", "10"])
    assert result.exit_code == 2
    assert result.output.strip() == ("seqsal: error: --max-seqlets 10 is below --min-seqlets 20: no cluster could "
                                     "hold enough seqlets to be a motif; raise it")


def test_run_motifs_given_a_dataframe_for_seqlets_path_says_to_give_a_path(tmp_path):
    """fresh6: run_motifs(out, seqlets_path=<DataFrame>) raised pandas' 'truth value of a DataFrame is ambiguous'."""
    from seqsal.motifs import run_motifs

    with pytest.raises(InputError, match=r"^seqlets_path is the path of a seqlet table, not a DataFrame; write"):
        run_motifs(tmp_path, seqlets_path=pd.DataFrame({"region_index": [0]}))


def test_a_database_of_few_motifs_is_warned_about_before_discovery(small_folder, monkeypatch, caplog):
    """Match p-values take their null from the database's columns: with a handful of motifs they are off by orders of
    magnitude (measured in seqsal.motifs.match.SMALL_DATABASE), so such a database is warned about, a collection
    of 10 or more is not."""
    import logging

    import seqsal.motifs.run as run

    monkeypatch.setattr(run, "discover_motifs", lambda *a, **k: (_ for _ in ()).throw(_Discovered()))
    monkeypatch.setattr(run, "discovery_seqlets", lambda *a, **k: _calls(_regions(), [0], [(10, 20)]))
    for n, warned in ((1, True), (9, True), (10, False)):
        database = small_folder / f"db{n}.meme"
        database.write_text(GOOD_MEME.split("MOTIF")[0] + "".join(
            "MOTIF" + GOOD_MEME.split("MOTIF")[1].replace("m1", f"m{k}") for k in range(n)))
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="seqsal"), pytest.raises(_Discovered):
            run.run_motifs(small_folder, database=database, progress=False)
        lines = [r.getMessage() for r in caplog.records if "holds" in r.getMessage()]
        assert lines == ([f"{database} holds {n} motif{'s' if n > 1 else ''}: a match's p-value takes its null from "
                          "the database's own columns, which so few make poor (p- and q-values off by orders of "
                          "magnitude, either way); rank the matches, or match against a full collection (--database "
                          "jaspar, or a large MEME file)"] if warned else [])


@pytest.mark.parametrize("text, words", [
    ("region_index\toffset_start\toffset_end\tsign\n0\t10\t20\t+\t\n", "one more field than the header"),
    ("region_index,offset_start,offset_end,sign\n0,10,20,+\n", "comma-separated"),
])
def test_a_seqlet_table_with_a_trailing_tab_or_commas_is_said_for_what_it_is(tmp_path, text, words):
    """fresh25b: a trailing tab on each row (awk) shifted the columns ("offset_end '+' is not a whole number"); a
    comma-separated table was "missing columns" without a word on the separator."""
    from seqsal.errors import InputError
    from seqsal.motifs.seqlets import read_seqlet_table

    (tmp_path / "s.tsv").write_text(text)
    with pytest.raises(InputError, match=words):
        read_seqlet_table(tmp_path / "s.tsv")


def test_a_seqlet_table_of_a_header_only_is_warned_about_by_motifs_only(small_folder, caplog, monkeypatch):
    """fresh25b: 0 motifs and exit 0, unsaid. fresh31: the reader said "no motif can be found" to check-seqlets
    too, which reads the same table: the motifs run says it."""
    import seqsal.motifs.run as run
    from seqsal.motifs.seqlets import read_seqlet_table

    (small_folder / "s.tsv").write_text("region_index\toffset_start\toffset_end\tsign\n")
    with caplog.at_level("WARNING", logger="seqsal"):
        assert read_seqlet_table(small_folder / "s.tsv").empty
    assert "holds no seqlets" not in caplog.text
    monkeypatch.setattr(run, "discover_motifs", lambda *a, **k: (_ for _ in ()).throw(_Discovered()))
    with caplog.at_level("WARNING", logger="seqsal"), pytest.raises(_Discovered):
        run.run_motifs(small_folder, seqlets_path=small_folder / "s.tsv", database="none", progress=False)
    assert "holds no seqlets (a header only): no motif can be found" in caplog.text
