import gzip

import numpy as np
import pytest

from seqsal.errors import InputError
from seqsal.regions import read_regions, resize_regions, tile_starts, validate_regions
from tests.conftest import write_bed

SIZES = {"chr1": 5000, "chr2": 3000}


def test_bed3_bed6_narrowpeak_with_headers(tmp_path):
    path = write_bed(tmp_path / "r.bed", [
        "track name=x", "browser position chr1:1-100", "# comment", "",
        "chr1\t10\t20",
        "chr1\t100\t200\tpeakA\t0\t-",
        "chr2\t300\t500\tpeakB\t5\t+\t1.0\t2.0\t3.0\t50",
        "chr2\t0\t10\t.\t0\t.\t\t\r",
    ])
    regions = read_regions(path)
    assert list(regions["name"]) == ["chr1:10-20", "peakA", "peakB", "chr2:0-10"]
    assert list(regions["strand"]) == [".", "-", "+", "."]
    assert list(regions["summit"]) == [-1, -1, 350, -1]
    assert list(regions["line"]) == [5, 6, 7, 8]


def test_gzipped(tmp_path):
    path = tmp_path / "r.bed.gz"
    with gzip.open(path, "wt") as handle:
        handle.write("chr1\t1\t5\n")
    assert len(read_regions(path)) == 1


def test_truncated_gzip(tmp_path):
    path = tmp_path / "r.bed.gz"
    data = gzip.compress(b"chr1\t1\t5\n" * 1000)
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="truncated"):
        read_regions(path)


@pytest.mark.parametrize("line, message", [
    ("chr1\tten\t20", "not an integer"),
    ("chr1\t-5\t20", "negative"),
    ("chr1\t20\t20", "start \\(20\\) >= end"),
    ("chr1\t10", "at least 3"),
    ("chr1\t10\t20\tn\t0\t*", "strand"),
    ("chr1\t10\t20\tn\t0\t+\t0\t0\t0\t99", "summit"),
    ("chr1\t10\t99999999999999999999", "64 bits"),
])
def test_bad_lines_name_file_and_line(tmp_path, line, message):
    path = write_bed(tmp_path / "bad.bed", ["chr1\t1\t2", line])
    with pytest.raises(InputError, match=message) as info:
        read_regions(path)
    assert str(info.value).startswith(f"{path}:2:")


def test_empty_file(tmp_path):
    with pytest.raises(InputError, match="no regions"):
        read_regions(write_bed(tmp_path / "e.bed", ["# nothing"]))


def test_unknown_chromosome_hint(tmp_path):
    regions = read_regions(write_bed(tmp_path / "r.bed", ["1\t1\t5"]))
    with pytest.raises(InputError, match="different 'chr' naming"):
        validate_regions(regions, SIZES, "r.bed")
    regions = read_regions(write_bed(tmp_path / "r.bed", ["chrZ\t1\t5"]))
    with pytest.raises(InputError, match="not in the FASTA"):
        validate_regions(regions, SIZES, "r.bed")


def test_first_bad_region_is_named_by_its_line(tmp_path):
    regions = read_regions(write_bed(tmp_path / "r.bed", ["# header", "chr1\t1\t5", "chr2\t9000\t9100",
                                                          "chrZ\t1\t5"]))
    with pytest.raises(InputError, match="beyond the end of chr2") as info:
        validate_regions(regions, SIZES, "r.bed")
    assert str(info.value).startswith("r.bed:3:")


def test_columns_share_one_string_per_chromosome_and_strand(tmp_path):
    regions = read_regions(write_bed(tmp_path / "r.bed", [f"chr1\t{i}\t{i + 5}\tn{i}\t0\t-" for i in range(5)]))
    assert len({id(value) for value in regions["chrom"].to_numpy(dtype=object)}) == 1
    assert len({id(value) for value in regions["strand"].to_numpy(dtype=object)}) == 1
    assert list(regions["name"]) == [f"n{i}" for i in range(5)]
    assert [str(regions[c].dtype) for c in ("start", "end", "summit", "line")] == ["int64"] * 4


def test_padding_reported(tmp_path):
    regions = read_regions(write_bed(tmp_path / "r.bed", ["chr2\t2900\t3100", "chr1\t0\t10"]))
    assert list(validate_regions(regions, SIZES)["padded_bp"]) == [100, 0]


def test_resize_on_summit_or_midpoint(tmp_path):
    regions = read_regions(write_bed(tmp_path / "r.bed", [
        "chr1\t100\t200", "chr1\t100\t300\tp\t0\t+\t0\t0\t0\t10", "chr1\t0\t10"]))
    resized = resize_regions(regions, 50)
    assert list(resized["start"]) == [125, 85, -20]
    assert list(resized["end"] - resized["start"]) == [50, 50, 50]
    assert list(validate_regions(resized, SIZES)["padded_bp"]) == [0, 0, 20]


def test_tile_starts_cover_everything():
    starts = tile_starts(1000, 300, 200)
    assert list(starts) == [0, 200, 400, 600, 700]
    assert list(tile_starts(100, 300, 100)) == [0]
    with pytest.raises(InputError, match="stride"):
        tile_starts(1000, 300, 400)
    covered = np.zeros(1000, bool)
    for s in starts:
        covered[s:s + 300] = True
    assert covered.all()
