"""seqsal attribute --shard i/N and seqsal merge: the merged folder is the single run, byte for byte."""
from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from seqsal.errors import InputError
from seqsal.peaks import NULL_FILE
from seqsal.pipeline import AttributeOptions, run_attribute
from seqsal.io import RegionArray
from seqsal.shards import merge_runs, parse_shard, ragged_member, shard_bounds

from tests.conftest import write_bed


def test_parse_shard_and_bounds():
    assert parse_shard("2/4") == (2, 4)
    for bad in ("0/4", "5/4", "2", "a/b", "1/0"):
        with pytest.raises(InputError, match="--shard"):
            parse_shard(bad)
    blocks = [shard_bounds(10, i, 3) for i in (1, 2, 3)]
    assert blocks == [(0, 3), (3, 6), (6, 10)]
    for index in (1, 2, 3):  # fresh26b: shards 2/5 to 5/5 of 4 regions ran, which no merge could ever join
        with pytest.raises(InputError, match="use at most 2 shards"):
            shard_bounds(2, index, 3)


def test_ragged_member_joins_shards_end_to_end_in_bounded_pieces():
    """The merged member is the shards' regions end to end (a dense shard of an older seqsal cut to its lengths),
    served in pieces of at most the block size."""
    a = np.arange(2 * 4 * 3, dtype=np.float32).reshape(2, 4, 3)  # dense, lengths 3 and 2 (right-padded)
    a[1, :, 2] = 0
    b = np.ones((4, 9), dtype=np.float32)  # ragged: regions of 4 and 5
    sources = [RegionArray(a, np.array([3, 2])), RegionArray(b, np.array([4, 5]), np.array([0, 4, 9]))]
    shape, dtype, pieces, order = ragged_member(sources)
    assert shape == (4, 14) and dtype == np.float32 and order == "F"
    pieces = list(pieces)
    joined = np.concatenate(pieces, axis=-1)
    np.testing.assert_array_equal(joined, np.concatenate([a[0], a[1, :, :2], b], axis=-1))
    import seqsal.shards as shards

    old = shards.BLOCK_BYTES
    try:
        shards.BLOCK_BYTES = 4 * 4 * 2  # two bases of 4 float32 channels
        assert all(piece.shape[-1] <= 3 for piece in ragged_member(sources)[2])
    finally:
        shards.BLOCK_BYTES = old


@pytest.fixture()
def job(small_genome, tiny_model, tmp_path):
    genome, _ = small_genome
    model, _ = tiny_model
    # unequal lengths (shards get different max lengths), both strands, one past the end of chr2
    bed = write_bed(tmp_path / "regions.bed", [
        "chr1\t100\t400\tr1\t0\t+", "chr1\t300\t900\tr2\t0\t-", "chr2\t50\t250\tr3\t0\t.",
        "chr1\t2000\t2300\tr4\t0\t+", "chr2\t2900\t3100\tr5\t0\t-", "chr1\t4000\t4150\tr6\t0\t+",
        "chr1\t4100\t4600\tr7\t0\t+",
    ])
    return str(genome), str(bed), str(model), tmp_path


def _run(job, out, shard=None):
    genome, bed, model, tmp_path = job
    return run_attribute(genome, bed, model, str(tmp_path / out), AttributeOptions(batch_size=4), progress=False,
                         shard=shard)


def test_merged_shards_equal_single_run(job):
    tmp_path = job[3]
    _run(job, "single")
    for i in (1, 2, 3):
        record = _run(job, f"s{i}", (i, 3))
        assert record["shard"]["count"] == 3 and record["n_regions"] == record["shard"]["stop"] - record["shard"]["first"]
    record = merge_runs([tmp_path / "s3", tmp_path / "s1", tmp_path / "s2"], tmp_path / "merged")
    assert record["n_regions"] == 7 and [s["index"] for s in record["shards"]] == [1, 2, 3]
    assert "shard" not in record
    for name in ("attributions.npz", "regions.tsv", "attributions.bw"):
        assert (tmp_path / "merged" / name).read_bytes() == (tmp_path / "single" / name).read_bytes(), name
    single = json.loads((tmp_path / "single" / "run.json").read_text())
    assert record["max_length"] == single["max_length"] and record["parameters"] == {
        **single["parameters"], "batch_size": record["parameters"]["batch_size"]}


def test_merge_refuses_incomplete_or_mixed_shards(job):
    tmp_path = job[3]
    _run(job, "s1", (1, 2))
    with pytest.raises(InputError, match="missing shard"):
        merge_runs([tmp_path / "s1"], tmp_path / "merged")
    _run(job, "t2", (2, 3))
    with pytest.raises(InputError, match="count"):
        merge_runs([tmp_path / "s1", tmp_path / "t2"], tmp_path / "merged")
    with pytest.raises(InputError, match="given twice"):
        merge_runs([tmp_path / "s1", tmp_path / "s1"], tmp_path / "merged")
    _run(job, "single")
    with pytest.raises(InputError, match="records no shard"):
        merge_runs([tmp_path / "single"], tmp_path / "merged")
    with pytest.raises(InputError, match="no run.json"):
        merge_runs([tmp_path / "nothing"], tmp_path / "merged")
    assert not (tmp_path / "merged" / "run.json").exists()


def test_merge_compares_the_genome_and_regions_by_their_contents(job):
    """fresh26b: shard 2 run after the regions file was regenerated at the same path (a line dropped, one added)
    was merged without a word (a region lost, a deleted one kept); copies of the same files at other paths (each
    node's own) were refused."""
    import shutil

    genome, bed, model, tmp_path = job
    _run(job, "s1", (1, 2))
    lines = open(bed).read().splitlines()
    shutil.copyfile(bed, tmp_path / "kept.bed")
    open(bed, "w").write("\n".join(lines[:1] + lines[2:] + ["chr1\t4700\t4800\tr8\t0\t+"]) + "\n")
    _run(job, "s2", (2, 2))
    with pytest.raises(InputError, match="differs from .* in the contents of its regions file"):
        merge_runs([tmp_path / "s1", tmp_path / "s2"], tmp_path / "merged")
    assert not (tmp_path / "merged").exists()
    copies = tmp_path / "node2"
    copies.mkdir()
    shutil.copyfile(tmp_path / "kept.bed", copies / "regions.bed")
    shutil.copyfile(genome, copies / "genome.fa")
    run_attribute(str(copies / "genome.fa"), str(copies / "regions.bed"), model, str(tmp_path / "c2"),
                  AttributeOptions(batch_size=4), progress=False, shard=(2, 2))
    shutil.copyfile(tmp_path / "kept.bed", bed)
    _run(job, "single")
    record = merge_runs([tmp_path / "s1", tmp_path / "c2"], tmp_path / "merged")
    assert record["regions"] == bed and record["inputs_sha256"]["regions"] == json.loads(
        (tmp_path / "single" / "run.json").read_text())["inputs_sha256"]["regions"]
    for name in ("attributions.npz", "regions.tsv", "attributions.bw"):
        assert (tmp_path / "merged" / name).read_bytes() == (tmp_path / "single" / name).read_bytes(), name


def test_merge_refuses_a_shard_whose_regions_table_was_edited(job):
    """review27: a region of shard 2 moved by hand in its regions.tsv was merged, its track written at the moved
    place, and the edited table's digest recorded as the merged run's own."""
    tmp_path = job[3]
    _run(job, "s1", (1, 2))
    _run(job, "s2", (2, 2))
    table = tmp_path / "s2" / "regions.tsv"
    lines = table.read_text().splitlines()
    header, fields = lines[0].split("\t"), lines[1].split("\t")
    for column in ("start", "end"):
        fields[header.index(column)] = str(int(fields[header.index(column)]) + 50)
    table.write_text("\n".join([lines[0], "\t".join(fields), *lines[2:]]) + "\n")
    with pytest.raises(InputError, match="regions.tsv is not the table this run wrote"):
        merge_runs([tmp_path / "s1", tmp_path / "s2"], tmp_path / "merged")
    assert not (tmp_path / "merged").exists()


def test_merge_of_an_older_shard_compares_paths_and_says_so(job):
    """review27: a shard whose run.json predates inputs_sha256 beside a newer one was said to differ in its files'
    contents (a digest compared with a path); both are now compared by path, and merge."""
    tmp_path = job[3]
    _run(job, "s1", (1, 2))
    _run(job, "s2", (2, 2))
    _run(job, "single")
    path = tmp_path / "s1" / "run.json"
    record = json.loads(path.read_text())
    del record["inputs_sha256"]
    path.write_text(json.dumps(record, indent=2) + "\n")
    merge_runs([tmp_path / "s1", tmp_path / "s2"], tmp_path / "merged")
    for name in ("attributions.npz", "regions.tsv", "attributions.bw"):
        assert (tmp_path / "merged" / name).read_bytes() == (tmp_path / "single" / name).read_bytes(), name
    record["regions"] = str(tmp_path / "elsewhere.bed")
    path.write_text(json.dumps(record, indent=2) + "\n")
    with pytest.raises(InputError, match=r"in its regions file \(path\)"):
        merge_runs([tmp_path / "s1", tmp_path / "s2"], tmp_path / "merged2")


def test_merged_completeness_summary_is_the_whole_jobs(job):
    """For reference methods run.json summarises completeness over all regions; merged = single, not shard 1's."""
    genome, bed, model, tmp_path = job
    options = AttributeOptions(batch_size=4, method="deepshap", method_params={"references": 3})

    def run(out, shard=None):
        return run_attribute(genome, bed, model, str(tmp_path / out), options, progress=False, shard=shard,
                             peaks=False)

    single = run("single_deepshap")
    shards = [run(f"deepshap{i}", (i, 2)) for i in (1, 2)]
    merged = merge_runs([tmp_path / f"deepshap{i}" for i in (1, 2)], tmp_path / "merged_deepshap")
    assert merged["completeness"] == single["completeness"]
    assert merged["completeness"]["regions"] == 7 and shards[0]["completeness"]["regions"] < 7
    assert single["completeness"]["max_abs_error"] < 1e-4 < single["completeness"]["median_abs_delta"]


def test_a_shard_draws_its_null_sample_but_calls_nothing(job):
    """A shard's calls would be thrown away (the job is called after the merge): it writes null.npz only."""
    tmp_path = job[3]
    record = _run(job, "shard_peaks", (1, 2))
    folder = tmp_path / "shard_peaks"
    assert (folder / "null.npz").exists()
    assert not any((folder / name).exists() for name in ("seqlets.bed", "elements.bed", "seqlets.tsv",
                                                         "elements.tsv"))
    assert record["peaks"]["calls"].startswith("not made in a shard") and record["peaks"]["outputs"] == ["null.npz"]
    assert record["peaks"]["null_sample"]["n_regions"] >= 0


def test_calling_or_motifs_on_one_shard_is_refused_and_a_read_only_call_warns(job, caplog):
    """call-peaks or motifs on a shard's folder see its block of regions only, and rewriting the shard made a
    workflow redo its merge and every step after it (fresh30: a warning, then the shard's run.json rewritten):
    refused, naming the block and merge; the API's read-only call warns."""
    from seqsal.motifs import run_motifs
    from seqsal.peaks import call_peaks_from_run
    from seqsal.provenance import check_not_shard

    tmp_path = job[3]
    _run(job, "shard_two", (2, 2))
    _run(job, "whole")
    shard = tmp_path / "shard_two"
    before = {p.name: p.read_bytes() for p in shard.iterdir() if p.is_file()}
    with pytest.raises(InputError, match=r"shard 2 of 2 \(regions 4-7 of 7\): `seqsal call-peaks` would see this "
                                         r"block of regions only.*seqsal merge"):
        call_peaks_from_run(shard, null="laplace")
    with pytest.raises(InputError, match="`seqsal motifs` on the merged folder"):
        run_motifs(shard, database="none", progress=False)
    assert {p.name: p.read_bytes() for p in shard.iterdir() if p.is_file()} == before  # nothing rewritten
    with caplog.at_level(logging.WARNING, logger="seqsal"):
        call_peaks_from_run(shard, null="laplace", write=False)
    assert "is shard 2 of 2 (regions 4-7 of 7): `seqsal call-peaks` sees this block" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="seqsal"):
        call_peaks_from_run(tmp_path / "whole", null="laplace")
    assert "shard" not in caplog.text and not check_not_shard(tmp_path / "whole", "motifs")


def test_merge_force_over_a_run_with_a_null_removes_that_null_when_the_shards_have_none(job):
    """fresh7: `merge --force` of --no-peaks shards over a merged run with a shuffled null kept its null.npz, and
    call-peaks then called the new method's tracks against the old method's null."""
    genome, bed, model, tmp_path = job
    for i in (1, 2):
        _run(job, f"s{i}", (i, 2))
    merge_runs([tmp_path / "s1", tmp_path / "s2"], tmp_path / "merged")
    assert (tmp_path / "merged" / NULL_FILE).exists()
    for i in (1, 2):
        run_attribute(genome, bed, model, str(tmp_path / f"n{i}"), AttributeOptions(batch_size=4), progress=False,
                      shard=(i, 2), peaks=False)
    merge_runs([tmp_path / "n1", tmp_path / "n2"], tmp_path / "merged", force=True)
    assert not (tmp_path / "merged" / NULL_FILE).exists()


def test_a_merge_of_shards_with_different_nulls_is_refused_before_anything_is_written(job):
    """fresh20: shards drawn with different nulls (one without, or other copies) were refused only after
    attributions.npz, regions.tsv and attributions.bw were written: the half-merged folder was then called with
    the Laplace null, and a --force merge over an earlier run left its run.json beside the new arrays."""
    from seqsal.peaks import PeakOptions

    genome, bed, model, tmp_path = job
    _run(job, "s1", (1, 2))
    run_attribute(genome, bed, model, str(tmp_path / "laplace2"), AttributeOptions(batch_size=4), progress=False,
                  shard=(2, 2), peaks=PeakOptions(null="laplace"))
    run_attribute(genome, bed, model, str(tmp_path / "more2"), AttributeOptions(batch_size=4), progress=False,
                  shard=(2, 2), peaks=PeakOptions(min_null_bases=5_000))
    for second, match in (("laplace2", "others not"), ("more2", "different copies")):
        with pytest.raises(InputError, match=match):
            merge_runs([tmp_path / "s1", tmp_path / second], tmp_path / "merged")
        assert not (tmp_path / "merged").exists()
    _run(job, "s2", (2, 2))
    merge_runs([tmp_path / "s1", tmp_path / "s2"], tmp_path / "earlier")
    before = {path.name: path.read_bytes() for path in (tmp_path / "earlier").iterdir() if path.is_file()}
    with pytest.raises(InputError, match="different copies"):
        merge_runs([tmp_path / "s1", tmp_path / "more2"], tmp_path / "earlier", force=True)
    assert {path.name: path.read_bytes() for path in (tmp_path / "earlier").iterdir() if path.is_file()} == before
    # review25: a shard written before long regions were cut into pieces (no piece_bases member) beside one of
    # today: the merge mixed whole regions with pieces, without a word
    import shutil
    import zipfile

    shutil.copytree(tmp_path / "s2", tmp_path / "old2")
    with zipfile.ZipFile(tmp_path / "s2" / "null.npz") as source, \
            zipfile.ZipFile(tmp_path / "old2" / "null.npz", "w") as target:
        for item in source.infolist():
            if item.filename != "piece_bases.npy":
                target.writestr(item, source.read(item.filename))
    with pytest.raises(InputError, match="cut long regions differently"):
        merge_runs([tmp_path / "s1", tmp_path / "old2"], tmp_path / "mixed")
    assert not (tmp_path / "mixed").exists()


def test_merge_force_over_a_finished_run_removes_what_described_it(job):
    """fresh9: `merge --force` over a folder with calls, motifs and a report kept them all (old bytes, seqlets on
    regions the new run does not have) and `seqsal report` then failed with an IndexError."""
    from seqsal.peaks import call_peaks_from_run
    from seqsal.provenance import GROUPS, present

    _, _, _, tmp_path = job
    _run(job, "whole")
    call_peaks_from_run(tmp_path / "whole")
    (tmp_path / "whole" / "report.html").write_text("<html>an earlier report</html>")
    (tmp_path / "whole" / "provenance").mkdir(exist_ok=True)
    assert present(tmp_path / "whole", "calls") and present(tmp_path / "whole", "report")
    for i in (1, 2):
        _run(job, f"p{i}", (i, 2))
    merge_runs([tmp_path / "p1", tmp_path / "p2"], tmp_path / "whole", force=True)
    assert not any(present(tmp_path / "whole", name) for name in GROUPS)
    assert (tmp_path / "whole" / "run.json").exists() and (tmp_path / "whole" / "attributions.npz").exists()


def test_merge_into_one_of_its_shards_is_refused(job):
    """fresh10: `merge s1 s2 -o s1 --force` replaced shard 1 with the merged run (the shards could not be merged
    again)."""
    _, _, _, tmp_path = job
    for i in (1, 2):
        _run(job, f"q{i}", (i, 2))
    before = (tmp_path / "q1" / "attributions.npz").read_bytes()
    with pytest.raises(InputError, match="one of the shards"):
        merge_runs([tmp_path / "q1", tmp_path / "q2"], tmp_path / "q1", force=True)
    assert (tmp_path / "q1" / "attributions.npz").read_bytes() == before
