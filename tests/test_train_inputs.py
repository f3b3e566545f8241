"""seqsal train's label and mask readers on the inputs a new user gives them: gzipped files read as the plain ones,
labels, masks and bigWigs that do not fit the genome refused with the file and line, TSV headers and rows that are
not what the reader expects refused with one line that says what to do."""
from __future__ import annotations

import bz2
import gzip

import numpy as np
import pyBigWig
import pytest
from click.testing import CliRunner

from seqsal import train, train_data
from seqsal.cli import main
from seqsal.errors import InputError
from seqsal.genome import Genome
from seqsal.train import load_splits
from seqsal.train_options import TrainOptions
from tests.conftest import write_bed

SIZES = {"chr1": 1000, "chr2": 600}
TSV_HEADER = "chrom\tstart\tend\tactivity\tbound"
TSV_ROWS = ["chr1\t100\t300\t0.5\t0", "chr1\t400\t600\t2.5\t1", "chr2\t50\t250\t-1.25\t0", "chr2\t300\t500\t3\t1"]


@pytest.fixture()
def genome(tmp_path):
    """A FASTA of chr1 (1,000 bp) and chr2 (600 bp) of random bases."""
    rng = np.random.default_rng(3)
    path = tmp_path / "genome.fa"
    path.write_text("".join(f">{c}\n" + "".join(np.array(list("ACGT"))[rng.integers(0, 4, n)]) + "\n"
                            for c, n in SIZES.items()))
    return path


def _gzip(path, lines):
    with gzip.open(path, "wt") as handle:
        handle.write("".join(line + "\n" for line in lines))
    return path


def _message(error: pytest.ExceptionInfo) -> str:
    return error.value.cli_message()


# ---- 1. gzipped labels read exactly as the plain ones ---------------------------------------------------------------

NARROWPEAK = ["chr1\t100\t300\tp1\t0\t.\t3.5\t-1\t-1\t100", "chr1\t400\t600\tp2\t0\t.\t0.25\t-1\t-1\t100",
              "chr2\t50\t250\tp3\t0\t.\t7\t-1\t-1\t100"]
BED5 = ["chr1\t100\t300\tr1\t1.5", "chr1\t400\t600\tr2\t-2", "chr2\t50\t250\tr3\t4"]


@pytest.mark.parametrize("name, lines, values", [
    ("labels.narrowPeak", NARROWPEAK, [[3.5], [0.25], [7.0]]),
    ("labels.bed", ["track name=x"] + BED5, [[1.5], [-2.0], [4.0]]),
    ("labels.tsv", ["# made by hand", TSV_HEADER] + TSV_ROWS, [[0.5, 0], [2.5, 1], [-1.25, 0], [3, 1]]),
])
def test_gzipped_labels_read_as_the_plain_file(tmp_path, name, lines, values):
    plain = train_data.read_labels(write_bed(tmp_path / name, lines))
    packed = train_data.read_labels(_gzip(tmp_path / (name + ".gz"), lines))
    assert packed.values.tolist() == plain.values.tolist() == values
    assert packed.tasks == plain.tasks and packed.kind == plain.kind and packed.columns == plain.columns
    assert packed.regions.to_dict("list") == plain.regions.to_dict("list")


def test_bzip2_labels_and_masks_are_refused_with_what_to_do(tmp_path):
    path = tmp_path / "labels.tsv.bz2"
    path.write_bytes(bz2.compress(("\n".join([TSV_HEADER] + TSV_ROWS) + "\n").encode()))
    with pytest.raises(InputError, match=r"labels.tsv.bz2: the file is bzip2-compressed, not text; decompress it \(bunzip2"):
        train_data.read_labels(path)
    with pytest.raises(InputError, match=r"labels.tsv.bz2: the file is bzip2-compressed"):
        train_data.read_mask_spec(str(path))


# ---- 2. label regions off the genome ---------------------------------------------------------------------------------

@pytest.mark.parametrize("row, message", [
    ("chr1\t2500\t2700\t1\t1", r"labels.tsv:4: region starts at 2500, beyond the end of chr1 \(1000 bp\)"),
    ("chr1\t900\t1100\t1\t1", r"labels.tsv:4: region ends at 1100, past the end of chr1 \(1000 bp\)"),
    ("chrQ\t10\t20\t1\t1", r"labels.tsv:4: chromosome 'chrQ' is not in the FASTA"),
    ("1\t10\t20\t1\t1", r"labels.tsv:4: chromosome '1' is not in the FASTA \(the FASTA names it 'chr1'"),
])
def test_label_regions_off_the_genome_are_refused_with_the_line(tmp_path, genome, row, message):
    path = write_bed(tmp_path / "labels.tsv", [TSV_HEADER] + TSV_ROWS[:2] + [row] + TSV_ROWS[2:])
    labels = train_data.read_labels(path)
    with Genome(genome) as opened:
        sizes = opened.chrom_sizes
    with pytest.raises(InputError, match=message):
        train_data.check_labels_on_genome(labels, sizes)


def test_labels_that_fit_the_genome_pass_the_check(tmp_path):
    bed = write_bed(tmp_path / "labels.bed", ["chr1\t0\t1000\tr\t1", "chr2\t590\t600\tr\t2"])  # ends on the last base
    train_data.check_labels_on_genome(train_data.read_labels(bed), SIZES)
    with pytest.raises(InputError, match=r"labels.bed:2: region ends at 600, past the end of chr2 \(599 bp\)"):
        train_data.check_labels_on_genome(train_data.read_labels(bed), {"chr1": 1000, "chr2": 599})


# ---- 3. mask BEDs off the genome -------------------------------------------------------------------------------------

@pytest.mark.parametrize("row, message", [
    ("chrQ\t10\t20", r"chromosome 'chrQ' is not in the FASTA"),
    ("chr1\t2500\t2600", r"region starts at 2500, beyond the end of chr1 \(1000 bp\)"),
    ("chr1\t950\t1100", r"region ends at 1100, past the end of chr1 \(1000 bp\)"),
])
@pytest.mark.parametrize("which", ["exclude", "include"])
def test_mask_intervals_off_the_genome_are_refused_with_the_line(tmp_path, row, message, which):
    good = write_bed(tmp_path / "good.bed", ["chr1\t100\t200", "chr2\t0\t600"])
    bad = write_bed(tmp_path / f"{which}.bed", ["chr2\t10\t20", row])
    spec = f"{bad},{good}" if which == "exclude" else f"{good},{bad}"
    exclude, include = train_data.read_mask_spec(spec)  # without the genome: read only
    assert len(exclude) == len(include) == 2
    with pytest.raises(InputError, match=rf"{which}.bed:2: {message}"):
        train_data.read_mask_spec(spec, SIZES)
    exclude, include = train_data.read_mask_spec(f",{good}", SIZES)
    assert exclude is None and include["end"].tolist() == [200, 600]


# ---- 4. bigWig labels that do not fit the genome or the regions ------------------------------------------------------

def _bigwig(path, sizes):
    handle = pyBigWig.open(str(path), "w")
    handle.addHeader(list(sizes.items()))
    for chrom, size in sizes.items():
        handle.addEntries(chrom, [0], values=[1.0], span=size)
    handle.close()
    return path


def test_a_bigwig_without_a_chromosome_of_the_regions_is_refused(tmp_path):
    regions = write_bed(tmp_path / "regions.bed", ["chr1\t100\t300", "chr2\t50\t250"])
    bigwig = _bigwig(tmp_path / "nochr2.bw", {"chr1": 1000})
    with pytest.raises(InputError, match=r"regions.bed:2: chromosome 'chr2' is not in the bigWig .*nochr2.bw"):
        train_data.read_labels(bigwig, regions=regions)


def test_a_bigwig_of_other_chromosome_sizes_is_refused_with_both_sizes(tmp_path):
    regions = write_bed(tmp_path / "regions.bed", ["chr1\t100\t300", "chr2\t50\t250"])
    same = train_data.read_labels(_bigwig(tmp_path / "same.bw", SIZES), regions=regions)
    train_data.check_labels_on_genome(same, {**SIZES, "chr3": 50})
    assert same.values.ravel().tolist() == [1.0, 1.0]
    bigger = train_data.read_labels(_bigwig(tmp_path / "bigger.bw", {"chr1": 1500, "chr2": 600}), regions=regions)
    with pytest.raises(InputError, match=r"bigger.bw: the bigWig's chr1 is 1500 bp, the genome's chr1 1000 bp"):
        train_data.check_labels_on_genome(bigger, SIZES)


def test_a_bigwig_s_regions_are_checked_and_named_as_the_regions_file(tmp_path):
    regions = write_bed(tmp_path / "regions.bed", ["chr1\t100\t300", "chr2\t500\t700"])
    labels = train_data.read_labels(_bigwig(tmp_path / "signal.bw", SIZES), regions=regions)
    with pytest.raises(InputError, match=r"regions.bed:2: region ends at 700, past the end of chr2 \(600 bp\)"):
        train_data.check_labels_on_genome(labels, SIZES)


def test_a_bed12_without_a_value_column_and_a_label_beyond_float32_are_refused(tmp_path):
    """trainbreak: a BED12 was read as a narrowPeak and trained on its column 7 (thickStart: train MSE 3.2e8); a
    label of 1e39 became inf in float32 and was reported as "training diverged"."""
    line = "chr1\t100\t300\tg\t0\t+\t120\t280\t0\t2\t50,50,\t0,150,"
    bed12 = write_bed(tmp_path / "genes.bed", [line])
    with pytest.raises(InputError, match=r"genes.bed:1: a BED12 line .* value_column N"):
        train_data.read_labels(bed12)
    assert train_data.read_labels(bed12, value_column=5).values.ravel().tolist() == [0.0]
    big = write_bed(tmp_path / "big.tsv", [TSV_HEADER, "chr1\t100\t300\t1e39\t0"])
    with pytest.raises(InputError, match=r"big.tsv:2: column 4 is '1e39', beyond the float32 range"):
        train_data.read_labels(big)


def test_a_bigwig_is_known_by_any_case_of_its_suffix_or_by_its_content(tmp_path):
    """trainbreak: a real bigWig named sig.BW was read as text ("holds binary data, not tab-separated text")."""
    regions = write_bed(tmp_path / "regions.bed", ["chr1\t100\t300", "chr2\t50\t250"])
    for name in ("sig.BW", "sig.BigWig", "signal.dat"):
        labels = train_data.read_labels(_bigwig(tmp_path / name, SIZES), regions=regions)
        assert labels.values.ravel().tolist() == [1.0, 1.0], name


def test_classification_labels_other_than_0_and_1_are_named_by_their_line(tmp_path, genome):
    """trainbreak: the message named the file but no line."""
    labels = train_data.read_labels(write_bed(tmp_path / "labels.tsv", [TSV_HEADER] + TSV_ROWS), tasks=["bound"])
    load_splits(str(genome), labels, TrainOptions(window=64, valid_chroms=["chr2"], task="classification"), 64)
    labels = train_data.read_labels(write_bed(tmp_path / "labels.tsv", [TSV_HEADER] + TSV_ROWS), tasks=["activity"])
    with pytest.raises(InputError, match=r'labels.tsv:2: task="classification" needs labels of 0 or 1, got 0.5 '
                                         r"\(activity\)"):
        load_splits(str(genome), labels, TrainOptions(window=64, valid_chroms=["chr2"], task="classification"), 64)


# ---- 5. and 6. TSV headers and rows ----------------------------------------------------------------------------------

@pytest.mark.parametrize("header, rows, message", [
    ("chrom\tstart\tend\tactivity\tactivity", TSV_ROWS,
     r"labels.tsv:1: the header names the column 'activity' twice \(columns 4 and 5\)"),
    ("chrom\tstart\tend\tactivity\tStart", TSV_ROWS, r"labels.tsv:1: the header names the column 'Start' twice"),
    ("chr\tstart\tend\tactivity\tbound", TSV_ROWS,
     r"labels.tsv:1: .*no column named 'chrom'.*rename 'chr' to 'chrom'"),
    ("chrom start end activity bound", [r.replace("\t", " ") for r in TSV_ROWS],
     r"labels.tsv:1: the header is separated by spaces; a labels TSV is tab-separated"),
    ("chromosome\tfrom\tto\tactivity", TSV_ROWS,
     r"labels.tsv:1: the first line is neither a BED line \(columns 2 and 3, 'from' and 'to', are not "
     r"coordinates\) nor a labels TSV header"),
    (TSV_HEADER, TSV_ROWS[:2] + ["chr2\t50\t250\t-1.25\t0\t7"] + TSV_ROWS[3:],
     r"labels.tsv:4: the row has 6 tab-separated columns, the header \(line 1\) 5"),
    (TSV_HEADER, TSV_ROWS[:2] + ["chr2\t50\t250\t-1.25"] + TSV_ROWS[3:],
     r"labels.tsv:4: the row has 4 tab-separated columns, the header \(line 1\) 5"),
    (TSV_HEADER, TSV_ROWS[:2] + ["chr2 50 250 -1.25 0"] + TSV_ROWS[3:],
     r"labels.tsv:4: the row has 1 tab-separated column, the header \(line 1\) 5"),
    (TSV_HEADER, TSV_ROWS[:2] + ["", "chr2\t50\t250\tx\t0"] + TSV_ROWS[3:], r"labels.tsv:5: column 4 is 'x'"),
])
def test_tsv_header_and_row_problems_name_the_line_and_what_to_do(tmp_path, header, rows, message):
    with pytest.raises(InputError, match=message):
        train_data.read_labels(write_bed(tmp_path / "labels.tsv", [header] + rows))


def test_tsv_rows_keep_their_line_numbers_across_blank_and_comment_lines(tmp_path):
    path = write_bed(tmp_path / "labels.tsv", [TSV_HEADER, TSV_ROWS[0], "", "# a comment", TSV_ROWS[1] + "\t"])
    labels = train_data.read_labels(path)
    assert labels.regions["line"].tolist() == [2, 5] and labels.values.tolist() == [[0.5, 0], [2.5, 1]]


def test_cli_duplicate_header_and_gzipped_header_problems_are_one_line(tmp_path, genome):
    for name, header in (("dup.tsv", "chrom\tstart\tend\tactivity\tactivity"), ("chr.tsv.gz", "chr\tstart\tend\ta\tb")):
        path = tmp_path / name
        (_gzip if name.endswith(".gz") else write_bed)(path, [header] + TSV_ROWS)
        result = CliRunner().invoke(main, ["train", str(genome), str(path), "-o", str(tmp_path / "m.safetensors"),
                                           "--valid-chroms", "chr2", "--quiet"])
        lines = [line for line in result.output.splitlines() if line.strip()]
        assert result.exit_code == 2 and len(lines) == 1, result.output
        assert lines[0].startswith(f"seqsal: error: {path}:1: the header"), result.output


# ---- 2.-4. end to end: train's data loading checks the labels and masks against the genome ---------------------------


@pytest.mark.parametrize("what", ["labels", "mask"])
def test_load_splits_refuses_labels_and_masks_off_the_genome(tmp_path, genome, what):
    rows = TSV_ROWS + (["chr1\t900\t1100\t1\t1"] if what == "labels" else [])
    labels = train_data.read_labels(write_bed(tmp_path / "labels.tsv", [TSV_HEADER] + rows), tasks=["activity"])
    mask = write_bed(tmp_path / "exclude.bed", ["chr1\t0\t10", "chrQ\t0\t10"])
    options = TrainOptions(window=64, valid_chroms=["chr2"], mask_prior=str(mask) if what == "mask" else None)
    with pytest.raises(InputError, match=r"labels.tsv:6: region ends at 1100" if what == "labels" else
                       r"exclude.bed:2: chromosome 'chrQ'"):
        load_splits(str(genome), labels, options, 64)


def test_a_mask_that_touches_no_training_window_is_warned_and_one_file_as_both_parts_refused(tmp_path, genome,
                                                                                             caplog):
    """trainbreak: a mask on the validation chromosome only gave a term of 0 every epoch without a word; the same
    file as exclude and include was accepted."""
    import logging

    labels = train_data.read_labels(write_bed(tmp_path / "labels.tsv", [TSV_HEADER] + TSV_ROWS), tasks=["activity"])
    mask = write_bed(tmp_path / "exclude.bed", ["chr2\t60\t80"])  # on the validation chromosome only
    with caplog.at_level(logging.WARNING, logger="seqsal"):
        load_splits(str(genome), labels, TrainOptions(window=64, valid_chroms=["chr2"], mask_prior=str(mask),
                                                      mask_weight=1.0), 64)
    assert [r.getMessage() for r in caplog.records] == [
        f"--mask-prior {mask} touches no training window: its term does nothing (are its intervals on the "
        "validation or test chromosomes, or between the labelled regions?)"]
    caplog.clear()
    on_train = write_bed(tmp_path / "on_train.bed", ["chr1\t150\t170"])
    with caplog.at_level(logging.WARNING, logger="seqsal"):
        splits = load_splits(str(genome), labels, TrainOptions(window=64, valid_chroms=["chr2"],
                                                               mask_prior=str(on_train), mask_weight=1.0), 64)
    assert not caplog.records and splits["train"].exclude.any()
    with pytest.raises(InputError, match="one file as both the bases that must not matter and those that should"):
        train_data.read_mask_spec(f"{mask},{mask}")


def test_a_checkpoint_names_its_masks_by_content_not_path(tmp_path):
    """trainbreak: a mask edited at its path between the kill and --resume was accepted, the same mask by another
    path refused."""
    from seqsal.train_checkpoint import run_record

    labels = train_data.read_labels(write_bed(tmp_path / "labels.tsv", [TSV_HEADER] + TSV_ROWS), tasks=["activity"])
    mask = write_bed(tmp_path / "exclude.bed", ["chr1\t150\t170"])
    (tmp_path / "sub").mkdir()
    copy = write_bed(tmp_path / "sub" / "same.bed", ["chr1\t150\t170"])

    def record(path):
        return run_record(TrainOptions(mask_prior=str(path), mask_weight=1.0), labels, str(tmp_path / "g.fa"))

    before = record(mask)
    assert record(copy) == before
    write_bed(mask, ["chr1\t150\t171"])
    assert record(mask) != before


def test_label_options_that_do_not_apply_to_the_file_are_refused(tmp_path):
    """trainbreak: --value-column and --regions were ignored with TSV labels, --tasks with a bigWig; and
    --consistency with a weight of 0 was accepted (the mask prior's 0 is refused)."""
    from seqsal.train_options import check_options

    tsv = write_bed(tmp_path / "labels.tsv", [TSV_HEADER] + TSV_ROWS)
    bed = write_bed(tmp_path / "labels.bed", BED5)
    regions = write_bed(tmp_path / "regions.bed", ["chr1\t100\t300"])
    bigwig = _bigwig(tmp_path / "signal.bw", SIZES)
    for path, extra, message in ((tsv, {"value_column": 4}, "--value-column does not apply to a TSV of labels"),
                                 (tsv, {"regions": regions}, "--regions does not apply to a TSV of labels"),
                                 (bed, {"tasks": ["a"]}, "--tasks does not apply to a BED of labels"),
                                 (bigwig, {"tasks": ["a"], "regions": regions}, "--tasks does not apply to a bigWig")):
        with pytest.raises(InputError, match=message):
            train_data.read_labels(path, **extra)
    assert train_data.read_labels(bed, value_column=5).values.ravel().tolist() == [1.5, -2, 4]
    with pytest.raises(InputError, match="consistency needs a weight > 0"):
        check_options(TrainOptions(consistency="rc", consistency_weight=0.0))


def test_windows_past_a_chromosome_end_are_warned_about(tmp_path, genome, caplog):
    """trainbreak: a window longer than its chromosome was read as N without a word."""
    import logging

    labels = train_data.read_labels(write_bed(tmp_path / "labels.tsv", [TSV_HEADER] + TSV_ROWS), tasks=["activity"])
    with caplog.at_level(logging.WARNING, logger="seqsal"):
        load_splits(str(genome), labels, TrainOptions(window=64, valid_chroms=["chr2"]), 64)
    assert not caplog.records
    with caplog.at_level(logging.WARNING, logger="seqsal"):
        load_splits(str(genome), labels, TrainOptions(window=900, valid_chroms=["chr2"], max_shift=0), 900)
    assert [r.getMessage() for r in caplog.records] == [
        "3 of 4 labelled windows run past their chromosome (window 900 bp, 0 more each side for shifts): those bases "
        "are read as N (zeros)"]  # chr1:400-600 centred fits in its 1,000 bp


def test_a_bed_of_labels_says_which_column_is_the_value(tmp_path, caplog):
    """fresh24b: a TSV of labels without its header line was read as a BED, its column 5 the one task, silently."""
    caplog.set_level("INFO", logger="seqsal")
    for name, lines, words in (("a.narrowPeak", NARROWPEAK, "column 7 (narrowPeak's signalValue)"),
                               ("b.bed", BED5, "column 5 (BED's score)")):
        caplog.clear()
        train_data.log_label_source(train_data.read_labels(write_bed(tmp_path / name, lines)))
        assert f"is read as a BED, one task 'value' from {words}" in caplog.text and "header line" in caplog.text
    caplog.clear()
    train_data.log_label_source(train_data.read_labels(write_bed(tmp_path / "c.bed", NARROWPEAK), value_column=8))
    assert "from column 8;" in caplog.text


def test_minus_strand_labels_are_trained_on_the_reverse_complement_as_attribute_reads_them(tmp_path):
    """fresh31: the strand column of BED (and TSV) labels was dropped, so a - region was trained on the + strand
    while `seqsal attribute` explains it on the reverse complement."""
    from seqsal.encode import reverse_complement_one_hot

    rng = np.random.default_rng(4)
    fasta = tmp_path / "g.fa"
    fasta.write_text("".join(f">{c}\n{''.join(rng.choice(list('ACGT'), 400))}\n" for c in ("chr1", "chr2")))
    bed = tmp_path / "l.bed"
    bed.write_text("chr1\t100\t164\ta\t1\t+\nchr1\t100\t164\tb\t2\t-\nchr2\t10\t74\tc\t3\t.\nchr2\t20\t84\td\t4\t-\n")
    tsv = tmp_path / "l.tsv"
    tsv.write_text("chrom\tstart\tend\tstrand\tv\nchr1\t100\t164\t+\t1\nchr1\t100\t164\t-\t2\n"
                   "chr2\t10\t74\t.\t3\nchr2\t20\t84\t-\t4\n")
    options = TrainOptions(window=64, valid_chroms=["chr2"], max_shift=0)
    for path in (bed, tsv):
        labels = train_data.read_labels(str(path))
        assert labels.regions["strand"].tolist() == ["+", "-", ".", "-"]
        x = load_splits(str(fasta), labels, options, 64)["train"].x.astype(np.float32)
        assert np.array_equal(x[1], reverse_complement_one_hot(x[0]))
    (tmp_path / "bad.tsv").write_text("chrom\tstart\tend\tstrand\tv\nchr1\t100\t164\tminus\t1\n")
    with pytest.raises(InputError, match=r"bad.tsv:2: strand 'minus' is not"):
        train_data.read_labels(str(tmp_path / "bad.tsv"))


def test_a_region_shorter_than_the_window_is_trained_on_the_window_attribute_reads():
    """fresh31: an odd-length region in an even window was trained one base left of where attribute reads it."""
    import pandas as pd

    from seqsal.regions import fetch_span

    for start, end, window in ((101, 400, 300), (100, 400, 300), (10, 11, 300), (5, 6, 301), (0, 64, 64)):
        got = train_data.window_starts(pd.DataFrame({"start": [start], "end": [end]}), window)[0]
        assert got == fetch_span(start, end, window)[0]
    longer = train_data.window_starts(pd.DataFrame({"start": [0, 0], "end": [500, 501]}), 300)
    assert longer.tolist() == [100, 100]  # a longer region: the window centred on its midpoint (start + end) // 2


def test_a_character_that_is_not_iupac_stops_training_unless_read_as_n(tmp_path, caplog):
    """fresh31: train read it as N without a word until the end, then named --unknown-bases, which train lacked."""
    rng = np.random.default_rng(5)
    seqs = {c: list(rng.choice(list("ACGT"), 400)) for c in ("chr1", "chr2")}
    seqs["chr1"][120] = "Z"
    fasta = tmp_path / "g.fa"
    fasta.write_text("".join(f">{c}\n{''.join(s)}\n" for c, s in seqs.items()))
    labels = tmp_path / "l.tsv"
    labels.write_text("chrom\tstart\tend\tv\nchr1\t100\t164\t1\nchr1\t200\t264\t2\nchr2\t10\t74\t3\n"
                      "chr2\t100\t164\t5\n")
    table = train_data.read_labels(str(labels))
    with pytest.raises(InputError, match="not an IUPAC"):
        load_splits(str(fasta), table, TrainOptions(window=64, valid_chroms=["chr2"]), 64)
    with caplog.at_level("WARNING", logger="seqsal"):
        x = load_splits(str(fasta), table, TrainOptions(window=64, valid_chroms=["chr2"], unknown_bases="n"), 64)
    assert x["train"].x[0].sum() == 64 + 2 * 3 - 1  # the Z read as N: one all-zero column
    assert "not an IUPAC DNA code as N" in caplog.text
    result = CliRunner().invoke(main, ["train", str(fasta), str(labels), "-o", str(tmp_path / "m.safetensors"),
                                       "--valid-chroms", "chr2", "--unknown-bases", "maybe"])
    assert result.exit_code == 2 and "--unknown-bases" in result.output


def test_labels_are_checked_on_the_genome_before_the_split_and_a_window_longer_than_every_chromosome_is_refused(
        tmp_path, genome):
    """fresh31: labels named 1/2 on a chr1/chr2 genome were first told that --valid-chroms chr2 holds no labelled
    region (the naming came out only after the user "fixed" that); a window longer than every chromosome trained a
    whole epoch of N and then blamed the validation score."""
    labels = tmp_path / "l.tsv"
    labels.write_text(TSV_HEADER + "\n" + "\n".join(row.replace("chr", "", 1) for row in TSV_ROWS) + "\n")
    table = train_data.read_labels(str(labels), tasks=["activity"])
    with pytest.raises(InputError, match=r"chromosome '1' is not in the FASTA"):
        load_splits(str(genome), table, TrainOptions(window=64, valid_chroms=["chr2"]), 64)
    labels.write_text(TSV_HEADER + "\n" + "\n".join(TSV_ROWS) + "\n")
    table = train_data.read_labels(str(labels), tasks=["activity"])
    with pytest.raises(InputError, match=r"window.5000 is longer than every chromosome \(the longest, chr1, is 1000"):
        load_splits(str(genome), table, TrainOptions(window=5000, valid_chroms=["chr2"]), 5000)


# review31 (session 31): strands in training
def _g_genome(tmp_path):
    # all A, but chr1:200-210 and chr2:200-210 are G (+ strand): read as C on the - strand
    seq = ["A"] * 1000
    seq[200:210] = ["G"] * 10
    fasta = tmp_path / "g.fa"
    fasta.write_text("".join(f">{c}\n{''.join(seq)}\n" for c in ("chr1", "chr2")))
    return fasta


@pytest.mark.parametrize("max_shift,rc", [(0, False), (5, False), (5, True)])
def test_mask_prior_masks_follow_x_on_minus_strand_windows(tmp_path, max_shift, rc):
    """review31: the M- mask of a - strand window is flipped with it, through shifts and RC augmentation."""
    fasta = _g_genome(tmp_path)
    (tmp_path / "ex.bed").write_text("chr1\t200\t210\nchr2\t200\t210\n")
    bed = tmp_path / "l.bed"
    bed.write_text("".join(f"{c}\t{s}\t{s + 41}\tr\t{v}\t{st}\n" for c in ("chr1", "chr2")
                           for s, v, st in ((170, 1, "-"), (175, 2, "+"), (165, 3, "-"), (180, 4, "-"))))
    options = TrainOptions(window=64, valid_chroms=["chr2"], max_shift=max_shift, rc_augment=rc,
                           mask_prior=str(tmp_path / "ex.bed"), mask_weight=1.0)
    data = load_splits(str(fasta), train_data.read_labels(str(bed)), options, 64)["train"]
    for seed in range(5):
        batch = train.make_batch(data, np.arange(len(data.x)), options, 64, np.random.default_rng(seed))
        x, mask = batch["x"], batch["exclude"]
        g_or_c = (x[:, 1] + x[:, 2]) > 0  # the masked stretch, on whichever strand
        assert g_or_c.any()
        assert np.array_equal(mask, g_or_c)


def test_labels_built_without_a_strand_column_still_train(tmp_path):
    """The documented Labels of before session 31 (chrom, start, end, line) gave KeyError: 'strand'."""
    fasta = _g_genome(tmp_path)
    rng = np.random.default_rng(0)
    import pandas as pd

    regions = pd.DataFrame({"chrom": ["chr1"] * 10 + ["chr2"] * 10, "start": np.tile(np.arange(10) * 80 + 50, 2),
                            "line": 0})
    regions["end"] = regions["start"] + 64
    labels = train_data.Labels(regions[["chrom", "start", "end", "line"]],
                               rng.normal(size=(20, 1)).astype(np.float32), ["y"], "")
    train.train_model(str(fasta), labels, str(tmp_path / "m.safetensors"),
                TrainOptions(valid_chroms=["chr2"], window=64, epochs=1), quiet=True, force=True)


def test_a_checkpoint_names_strands_and_moved_windows_only_where_they_apply(tmp_path):
    """review31: a checkpoint of seqsal before strands were read must not resume on - regions now read on the
    reverse complement, nor on windows moved by a base; every other one resumes (the record as before), and a
    changed --unknown-bases does not stop a resume (an old run read such characters as N)."""
    import pandas as pd

    from seqsal.train_checkpoint import run_record

    def record(strands, sizes, window=64, **options):
        regions = pd.DataFrame({"chrom": "chr1", "start": 100, "end": [100 + n for n in sizes],
                                "strand": strands, "line": range(1, len(sizes) + 1)})
        labels = train_data.Labels(regions, np.zeros((len(sizes), 1), np.float32), ["y"], "")
        return run_record(TrainOptions(window=window, **options), labels, str(tmp_path / "g.fa"))

    (tmp_path / "g.fa").write_text(">chr1\nACGT\n")
    plain = record(["+", "."], [64, 40])
    assert "minus_strand" not in plain and "window_placement" not in plain and "unknown_bases" not in plain
    assert record(["+", "."], [64, 40], unknown_bases="n") == plain
    assert "minus_strand" in record(["+", "-"], [64, 40])
    assert record(["+", "."], [64, 41])["window_placement"] == "attribute"  # odd size, even window: one base off
    assert "window_placement" not in record(["+", "."], [64, 41], window=65)  # odd window: the same start
    import json

    import torch

    from seqsal.train_checkpoint import load_checkpoint

    torch.save({"digest": json.dumps(plain)}, tmp_path / "old.ckpt")  # written before: no strand, no placement
    with pytest.raises(InputError, match=r"changed since: the regions on the - strand \(now read on the reverse"):
        load_checkpoint(str(tmp_path / "old.ckpt"), record(["+", "-"], [64, 40]))
    old = {key: value for key, value in record(["+", "."], [64, 41]).items() if key != "window_placement"}
    torch.save({"digest": json.dumps(old)}, tmp_path / "moved.ckpt")
    with pytest.raises(InputError, match=r"changed since: where a window is placed around a region shorter"):
        load_checkpoint(str(tmp_path / "moved.ckpt"), record(["+", "."], [64, 41]))
    assert load_checkpoint(str(tmp_path / "old.ckpt"), record(["+", "."], [64, 40], unknown_bases="n"))
