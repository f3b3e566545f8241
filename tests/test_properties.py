"""Property tests (issue 7): random BED lines and random FASTA/sequences through parsing and encoding give a
clean result or :class:`InputError`, never another exception."""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seqsal.encode import one_hot_encode, reverse_complement
from seqsal.errors import InputError
from seqsal.genome import Genome
from seqsal.regions import read_regions, resize_regions, tile_starts, validate_regions

SIZES = {"chr1": 5000, "chr2": 3000}
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_number = st.one_of(st.integers(-10, 10_000).map(str), st.sampled_from(["", "1e3", "0x10", " 5", "٣", "-0", "+7"]))
_field = st.one_of(st.sampled_from(["chr1", "chr2", "1", "chrUn", ".", "+", "-", "*", "", "\r"]), _number,
                   st.text(max_size=6))
_line = st.one_of(
    st.lists(_field, min_size=0, max_size=11).map("\t".join),  # BED-shaped
    st.text(max_size=40),                                        # anything
)


@SETTINGS
@given(lines=st.lists(_line, max_size=8), width=st.integers(-5, 700), gz=st.booleans())
def test_random_bed_lines_parse_cleanly_or_raise_input_error(lines, width, gz):
    data = "\n".join(lines).encode("utf-8", errors="surrogatepass")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / ("r.bed.gz" if gz else "r.bed")
        if gz:
            import gzip

            data = gzip.compress(data)[: None if len(lines) % 2 else max(1, len(data) // 2)]
        path.write_bytes(data)
        try:
            table = read_regions(path)
            assert len(table) > 0 and (table["start"] >= 0).all() and (table["start"] < table["end"]).all()
            table = validate_regions(table, SIZES, str(path))
            assert (table["padded_bp"] >= 0).all()
            resized = resize_regions(table, width)
            assert ((resized["end"] - resized["start"]) == width).all()
        except InputError as error:
            assert "\n" not in str(error) and str(error)


_fasta_text = st.text(alphabet=st.sampled_from(list("ACGTNacgtnRYKM>\n \r\t-X*é0") + ["\x00"]), max_size=300)


@SETTINGS
@given(text=_fasta_text, starts=st.lists(st.integers(-50, 400), min_size=1, max_size=4),
       length=st.integers(1, 120), n_value=st.sampled_from([0.0, 0.25]))
def test_random_fasta_fetch_and_encode_cleanly_or_raise_input_error(text, starts, length, n_value):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "g.fa"
        path.write_bytes(text.encode("utf-8"))
        try:
            genome = Genome(path)
        except InputError as error:
            assert "\n" not in str(error)
            return
        with genome:
            for chrom in list(genome.chrom_sizes)[:3]:
                for start in starts:
                    if start >= genome.chrom_sizes[chrom]:
                        continue
                    try:
                        sequence = genome.fetch(chrom, start, start + length)
                    except InputError as error:
                        assert "\n" not in str(error) and "is not an IUPAC DNA code" in str(error)
                        continue
                    assert len(sequence) == length
                    one_hot = one_hot_encode(sequence, n_value=n_value)
                    assert one_hot.shape == (4, length) and set(np.unique(one_hot)) <= {0.0, 1.0, n_value}
                    assert one_hot_encode(reverse_complement(sequence)).shape == (4, length)


@SETTINGS
@given(sequence=st.text(max_size=200))
def test_encoding_any_string_is_clean_or_input_error(sequence):
    try:
        one_hot = one_hot_encode(sequence)
    except InputError as error:
        assert "not an IUPAC DNA code" in str(error)
        return
    assert one_hot.shape == (4, len(sequence)) and (one_hot.sum(axis=0) <= 1).all()


@SETTINGS
@given(length=st.integers(-5, 3000), window=st.integers(-5, 600), stride=st.integers(-5, 700))
def test_tiling_covers_every_base_or_raises_input_error(length, window, stride):
    try:
        starts = tile_starts(length, window, stride)
    except InputError:
        assert stride <= 0 or stride > window
        return
    if length > window:
        covered = np.zeros(length, dtype=bool)
        for offset in starts:
            covered[offset:offset + window] = True
        assert covered.all() and starts[-1] + window == length
