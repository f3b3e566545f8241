import gzip
import logging

import numpy as np
import pytest

from seqsal.errors import InputError
from seqsal.regions import padding_summary, read_regions, resize_regions, tile_starts, validate_regions
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


# ----------------------------------------------------------------------------- issue 15: formats by content
def test_bed10_with_dash_placeholders_is_unstranded_and_keeps_its_summit(tmp_path, caplog):
    """tangermeme's BED10: columns 4-9 are '-' placeholders; column 6 '-' is no strand, column 10 a summit."""
    path = write_bed(tmp_path / "r.bed10", ["chr1\t40\t60\t-\t-\t-\t-\t-\t-\t0",
                                            "chr1\t120\t140\t-\t-\t-\t-\t-\t-\t12"])
    with caplog.at_level(logging.INFO, logger="seqsal"):
        regions = read_regions(path)
    assert list(regions["strand"]) == [".", "."]
    assert list(regions["name"]) == ["chr1:40-60", "chr1:120-140"]
    assert list(regions["summit"]) == [40, 132]
    assert "column 6 of 2 lines is a '-' placeholder" in caplog.text and "not as the minus strand" in caplog.text
    assert not [r for r in caplog.records if r.levelname == "WARNING"]  # a BED10 of placeholders: said as info


def test_a_named_line_whose_score_and_strand_are_dashes_is_warned_about(tmp_path, caplog):
    """fresh25: a BED6 with '-' scores, `chr1 40 60 geneA - -`, lost its minus strand with only an info line
    (hidden by -q) that said the other columns were placeholders too."""
    path = write_bed(tmp_path / "r.bed", ["chr1\t40\t60\tgeneA\t-\t-", "chr1\t80\t90\tgeneB\t-\t+"])
    with caplog.at_level(logging.INFO, logger="seqsal"):
        regions = read_regions(path)
    assert list(regions["strand"]) == [".", "+"]
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warned) == 1 and "1 line has a name: for minus-strand regions give a score" in warned[0]


def test_minus_strand_by_format_stays_minus(tmp_path):
    """A narrowPeak or BED6 whose score is a number: column 6 is the strand, '-' is the minus strand."""
    regions = read_regions(write_bed(tmp_path / "r.bed", ["chr1\t40\t60\tp\t0\t-\t1\t-1\t-1\t5",
                                                          "chr1\t40\t60\t-\t.\t-"]))
    assert list(regions["strand"]) == ["-", "-"] and list(regions["name"]) == ["p", "-"]


def test_bed12_is_the_whole_span_never_a_column_10_summit(tmp_path, caplog):
    """pyfaidx's gene.bed12 (DOC2B, minus strand, 6 exons): --width re-centres on the span's middle."""
    line = ("chr17\t6010\t31420\tuc010vpx.1\t0\t-\t6012\t31270\t0\t6\t158,127,110,75,80,523,\t"
            "0,5195,5861,7910,16317,24887,")
    with caplog.at_level(logging.WARNING, logger="seqsal"):
        regions = read_regions(write_bed(tmp_path / "gene.bed12", [
            line, "chr17\t100\t200\tone\t0\t+\t100\t200\t0\t1\t100\t0"]))
    assert list(regions["summit"]) == [-1, -1] and list(regions["strand"]) == ["-", "+"]
    resized = resize_regions(regions, 500)
    assert list(resized["start"]) == [(6010 + 31420) // 2 - 250, 150 - 250]
    assert len(caplog.records) == 1 and "1 region is BED12 with several blocks" in caplog.text


@pytest.mark.parametrize("blocks, message", [
    ("2\t10,10\t0,95", "do not tile the region"),     # the last block ends at 105, not at 100
    ("2\t10,10\t5,90", "do not tile the region"),     # the first block does not start at 0
    ("2\t60,60\t0,40", "do not tile the region"),     # overlapping blocks
    ("6\t10,10\t0,90", "are not blockCount"),         # 6 blocks announced, 2 given
    ("x\ty\tz", "are not blockCount"),
])
def test_bad_bed12_blocks_are_refused_with_their_line(tmp_path, blocks, message):
    path = write_bed(tmp_path / "bad.bed", ["chr1\t1\t2", f"chr1\t100\t200\tg\t0\t+\t100\t200\t0\t{blocks}"])
    with pytest.raises(InputError, match=message) as info:
        read_regions(path)
    assert str(info.value).startswith(f"{path}:2:")


def test_gapped_peak_and_narrowpeak_with_extra_columns(tmp_path):
    regions = read_regions(write_bed(tmp_path / "r.bed", [
        "chr1\t100\t200\tg\t0\t.\t100\t200\t0\t2\t10,10,\t0,90,\t1.5\t-1\t-1",  # gappedPeak: blocks, no summit
        "chr1\t100\t200\tp\t0\t.\t1.5\t-1\t-1\t30\textra",                      # narrowPeak + 1: summit 130
        "chr1\t100\t200\tp\t0\t.\t1.5\t-1\t-1\t40\ta\tb\tc",                     # narrowPeak + 3: summit 140
    ]))
    assert list(regions["summit"]) == [-1, 130, 140]


def test_utf8_byte_order_mark_is_dropped(tmp_path):
    """Issue 15 item 5: a BED saved with a BOM gave "chromosome '\\ufeffchr1' is not in the FASTA"."""
    path = tmp_path / "bom.bed"
    path.write_bytes("\ufeffchr1\t10\t20\nchr2\t5\t9\n".encode())
    assert list(read_regions(path)["chrom"]) == ["chr1", "chr2"]
    gz = tmp_path / "bom.bed.gz"
    gz.write_bytes(gzip.compress("\ufeffchr1\t10\t20\n".encode()))
    assert list(read_regions(gz)["chrom"]) == ["chr1"]


def test_byte_order_mark_inside_and_utf16_are_named(tmp_path):
    path = tmp_path / "cat.bed"
    path.write_bytes("chr1\t10\t20\n\ufeffchr2\t5\t9\n".encode())  # two files with BOMs concatenated
    with pytest.raises(InputError, match="byte-order mark"):
        validate_regions(read_regions(path), SIZES, str(path))
    utf16 = tmp_path / "utf16.bed"
    utf16.write_bytes("chr1\t10\t20\n".encode("utf-16"))
    with pytest.raises(InputError, match="UTF-16"):
        read_regions(utf16)


def test_padding_summary_counts_regions_and_bases(tmp_path):
    regions = validate_regions(read_regions(write_bed(tmp_path / "r.bed", [
        "chr2\t2900\t3100", "chr1\t0\t10", "chr1\t4990\t5001"])), SIZES)
    assert padding_summary(regions, "r.bed") == (
        "r.bed: 2 regions run past a chromosome end (the region, or the model window around it); 101 bases outside "
        "are read as N (padded_bp in regions.tsv)")
    assert padding_summary(regions.iloc[[1]], "r.bed") is None
    assert padding_summary(regions.iloc[[2]], "r.bed").startswith(
        "r.bed: 1 region runs past a chromosome end (the region, or the model window around it); 1 base ")
    # a region ending past its chromosome itself (not only its window) is named: a BED of another build?
    assert padding_summary(regions, "r.bed", SIZES).endswith(
        "; 2 of them end past their chromosomes themselves (first: line 1, end 3,100 > chr2 3,000 bp): is this BED "
        "for this genome build?")
    assert padding_summary(regions.iloc[[2]].drop(columns="line"), "r.bed", SIZES).endswith(
        "(first: chr1:4990-5001, end 5,001 > chr1 5,000 bp): is this BED for this genome build?")
    assert padding_summary(regions.assign(end=regions["start"] + 1, padded_bp=[0, 5, 0]), "r.bed",
                           SIZES).endswith("(padded_bp in regions.tsv)")  # a window past the end only
    # fresh26b: regions re-centred by --width end past the chromosome: the BED is not to blame
    assert padding_summary(regions, "r.bed", SIZES, width=800).endswith(
        "; 2 of them end past their chromosomes once re-centred to --width 800 (first: line 1, end 3,100 > chr2 "
        "3,000 bp)")


@pytest.mark.parametrize("kind", ["binary", "bzip2", "gzip_in_gzip"])
def test_a_bed_that_is_not_text_is_named_for_what_it_is(tmp_path, kind):
    """fresh9: these gave `start (column 2) is ':+\\x00\\x00...', not an integer`."""
    import bz2
    import gzip

    text = b"chr1\t10\t20\n"
    path = tmp_path / "r.bed"
    path.write_bytes({"binary": b"\x00\x01\x02chr1\t\x00", "bzip2": bz2.compress(text),
                      "gzip_in_gzip": gzip.compress(gzip.compress(text))}[kind])
    message = {"binary": "binary data", "bzip2": r"bzip2-compressed, not text; decompress it \(bunzip2",
               "gzip_in_gzip": "gzip inside gzip"}[kind]
    with pytest.raises(InputError, match=message):
        read_regions(str(path))


def test_repeated_regions_are_warned_about_with_their_first_line(tmp_path, caplog):
    """fresh16: 10 repeated lines of 80 changed the calls at FDR 0.2 without a word."""
    import logging

    from seqsal.regions import prepare_regions

    bed = tmp_path / "r.bed"
    bed.write_text("chr1\t100\t300\ta\nchr1\t400\t600\tb\nchr1\t100\t300\tc\nchr1\t400\t600\td\tx\t-\n")
    with caplog.at_level(logging.WARNING, logger="seqsal"):
        table = prepare_regions(str(bed), {"chr1": 1000}, None)
    assert len(table) == 4
    assert "1 region repeats an earlier one" in caplog.text and "first: chr1:100-300, line 3" in caplog.text


@pytest.mark.parametrize("column, value, message", [
    ("strand", "minus", "row 1 \\(index 'b'\\): strand is 'minus'; use"),
    ("strand", -1, "strand is -1; use '\\+', '-' or '\\.' \\(Ensembl's 1 / -1"),
    ("end", 900, "row 1 \\(index 'b'\\): start \\(1000\\) >= end \\(900\\)"),
    ("end", 1000, "start \\(1000\\) >= end \\(1000\\)"),
    ("start", -5, "start is negative \\(-5\\)"),
    ("start", 1000.7, "start is 1000.7, not a whole number"),
    ("start", "10o0", "start is '10o0', not a whole number"),
    ("start", float("nan"), "start is nan, not a whole number"),
    ("summit", 50, "summit 50 lies outside its region \\[1000, 1100\\); summit is an absolute"),
    ("summit", 5000, "summit 5000 lies outside"),
])
def test_a_notebook_table_is_checked_as_a_bed_files_lines_are(column, value, message):
    """apidoc: a DataFrame of regions took strand 'minus' (or Ensembl's -1) as unstranded, attributed an empty
    region for start >= end, truncated 1000.7 to 1000, and moved a region to a summit outside it, all silently;
    read_regions refuses each of these in a file."""
    import pandas as pd

    from seqsal.regions import prepare_regions

    sizes = {"chr1": 10_000}
    table = pd.DataFrame({"chrom": ["chr1", "chr1"], "start": [200, 1000], "end": [300, 1100],
                          "strand": ["+", "-"], "summit": [-1, 1050]}, index=["a", "b"])
    fine = prepare_regions(table, sizes, 100)
    assert list(fine["strand"]) == ["+", "-"] and list(fine["start"]) == [200, 1000]
    table[column] = table[column].astype(object)
    table.loc["b", column] = value
    with pytest.raises(InputError, match=message):
        prepare_regions(table, sizes, None)


def test_a_notebook_table_may_leave_strand_and_summit_missing_and_resize_without_summits():
    import pandas as pd

    from seqsal.regions import prepare_regions

    table = pd.DataFrame({"chrom": [1, 1], "start": [200.0, 1000.0], "end": [300, 1100],
                          "strand": ["+", None], "summit": [float("nan"), 1010]})
    out = prepare_regions(table, {"1": 10_000}, 20)
    assert list(out["chrom"]) == ["1", "1"] and list(out["strand"]) == ["+", "."]
    assert list(out["start"]) == [240, 1000] and list(out["end"]) == [260, 1020]  # midpoint 250; summit 1010
    plain = resize_regions(pd.DataFrame({"chrom": ["1"], "start": [0], "end": [100]}), 10)  # no summit column
    assert (int(plain["start"][0]), int(plain["end"][0])) == (45, 55)


def test_a_notebook_table_with_a_categorical_chrom_or_a_bool_start():
    """verify22: a categorical chrom made the default names a TypeError; start=True was read as 1."""
    import pandas as pd

    from seqsal.regions import prepare_regions

    table = pd.DataFrame({"chrom": pd.Categorical(["chr1"]), "start": [10], "end": [20]})
    assert prepare_regions(table, {"chr1": 100}, None)["name"].tolist() == ["chr1:10-20"]
    with pytest.raises(InputError, match="row 0 \\(index 0\\): start is True, not a position"):
        prepare_regions(pd.DataFrame({"chrom": ["chr1"], "start": [True], "end": [20]}), {"chr1": 100}, None)
    with pytest.raises(InputError, match="start is 1000.7, not a whole number"):
        prepare_regions(pd.DataFrame({"chrom": ["chr1"], "start": [1000.7], "end": [2000]}), {"chr1": 9000}, None)


@pytest.mark.parametrize("header", ["chrom\tstart\tend", "chr\tstart\tend\tname"])
def test_a_header_line_is_named_as_one(tmp_path, header):
    """byom: a first line `chrom start end` was told "start (column 2) is 'start', not an integer"."""
    path = write_bed(tmp_path / "h1.bed", ["# a comment", header, "chr1\t1\t5"])
    with pytest.raises(InputError) as info:
        read_regions(path)
    assert str(info.value) == (f"{path}:2: the first line looks like a column header, not a region (start (column 2) "
                               "is 'start' and end (column 3) is 'end', not a number); remove the line or start it "
                               "with '#'")
    path = write_bed(tmp_path / "h2.bed", ["chr1\t1\t5", header])  # not the first line: a bad line
    with pytest.raises(InputError, match=r":2: start \(column 2\) is 'start', not an integer"):
        read_regions(path)
