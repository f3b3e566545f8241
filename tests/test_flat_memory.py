"""Peak calling in memory that does not grow with the number of regions (issue 18, memory part).

The changes behind it must not change a byte of the calls: scattered rows of a run folder share read blocks, rows
of one length are read without index arrays, the null's statistics are sorted once and not copied again, the
tests held between passes are capped (recomputed beyond, exactly), element sequences are decoded for the
called elements only, the observed tests kept for BH and the candidate elements go to unnamed scratch files (held:
8 B of p-value each) and the elements' BH takes two passes; region names stay in ``regions.tsv`` until the calls are
written, the per-width null statistics are held as float32 with the p-values of float64, and tests and site
selections are computed in groups of rows.
"""
from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from peak_helpers import noise, planted

import seqsal
from seqsal.io import LENGTH, OFFSETS, RaggedStream, ragged_offsets, region_arrays, write_npz
from seqsal.peaks import PeakOptions
from seqsal.peaks.calling import call_source
from seqsal.peaks.stats import NullModel, block_tests, null_statistics
from seqsal.peaks.streams import array_chunks

KEYS = ("one_hot", "hypothetical")


def _ragged_file(tmp_path, lengths: np.ndarray, seed: int = 0):
    rng = np.random.default_rng(seed)
    rows = [rng.normal(size=(4, int(n))).astype(np.float32) for n in lengths]
    stores = [RaggedStream(str(tmp_path / f"{key}.npy"), (4,), lengths) for key in KEYS]
    for i, row in enumerate(rows):
        for k, store in enumerate(stores):
            store.write_row(i, (k + 1) * row)
    for store in stores:
        store.close()
    write_npz(tmp_path / "run.npz", {key: str(tmp_path / f"{key}.npy") for key in KEYS}
              | {LENGTH: lengths, OFFSETS: ragged_offsets(lengths)})
    return region_arrays(tmp_path / "run.npz", KEYS), rows


def test_scattered_rows_share_blocks_and_read_the_same_values(tmp_path):
    """A few rows spread over a file come in a few blocks (not one per run of consecutive rows), each row as
    written; rows of one length (read by a reshape) and of mixed lengths (read by a gather) alike."""
    lengths = np.array([50] * 40 + [30, 70, 50, 12] + [50] * 20, dtype=np.int64)
    arrays, rows = _ragged_file(tmp_path, lengths)
    wanted = np.array([1, 3, 5, 9, 10, 11, 30, 40, 41, 43, 50, 63])
    blocks = list(arrays.blocks(rows=wanted, max_positions=4 * 50 * 6))
    assert len(blocks) < 6  # 9 runs of consecutive rows before
    assert np.concatenate([block for block, _ in blocks]).tolist() == wanted.tolist()
    for block, data in blocks:
        width = data["one_hot"].shape[2]
        assert data["one_hot"].size <= 4 * 50 * 6 or block.shape[0] == 1
        assert width == lengths[block].max()
        for k, row in enumerate(block.tolist()):
            n = int(lengths[row])
            np.testing.assert_array_equal(data["one_hot"][k, :, :n], rows[row])
            np.testing.assert_array_equal(data["hypothetical"][k, :, :n], 2 * rows[row])
            assert not data["one_hot"][k, :, n:].any()
    same = np.arange(0, 40)  # one length, consecutive: the reshape path
    np.testing.assert_array_equal(arrays["one_hot"].padded(same), np.stack([rows[i] for i in same]))
    all_rows = list(arrays.blocks())
    assert np.concatenate([block for block, _ in all_rows]).tolist() == list(range(len(lengths)))


def test_null_statistics_come_sorted_and_the_empirical_null_keeps_them_without_a_copy():
    rng = np.random.default_rng(4)
    track = noise(rng, (30, 600))
    valid = np.ones(track.shape, bool)
    scores, total = null_statistics(block_tests(track, valid, 6))
    for sign in (1, -1):
        values = scores[sign]
        assert values.shape[0] == total[sign] > 100 and (np.diff(values) >= 0).all()
        model = NullModel.empirical(values, 50)
        assert np.shares_memory(model.sorted_values, values)  # held once
        shuffled = rng.permutation(values)
        again = NullModel.empirical(shuffled, 50)  # unsorted input: sorted into a copy, the input left as it was
        assert not np.shares_memory(again.sorted_values, shuffled) and not (np.diff(shuffled) >= 0).all()
        assert again.describe() == model.describe()
        probe = np.linspace(0, values.max() * 1.5, 50)
        np.testing.assert_array_equal(again.pvalues(probe), model.pvalues(probe))


def test_element_sequences_are_those_of_the_called_extents_whatever_the_tests_held(monkeypatch):
    """Element sequences, decoded after the call for its elements only, are the one-hot of their extents; a cap
    on the tests held between passes of zero (every pass recomputes them) gives the same calls, byte for byte."""
    import seqsal.peaks.widths as widths

    rng = np.random.default_rng(7)
    track, _ = planted(rng, n=30, length=500)
    one_hot = np.eye(4, dtype=np.float32)[rng.integers(0, 4, size=track.shape)].transpose(0, 2, 1)
    valid = np.ones(track.shape, bool)
    null = noise(np.random.default_rng(8), (60, 500))
    options = PeakOptions(fdr=0.05, null="shuffle")

    def call():
        return call_source(array_chunks(track, valid, one_hot), options, array_chunks(null, np.ones(null.shape, bool)))

    held = call()
    assert len(held.elements) > 5 and len(held.seqlets) > 5
    for row in held.elements.itertuples():
        assert row.sequence == seqsal.one_hot_decode(one_hot[row.region_index, :, row.offset_start:row.offset_end])
    monkeypatch.setattr(widths, "_TESTS_HELD", 0)
    again = call()
    pd.testing.assert_frame_equal(again.elements, held.elements)
    pd.testing.assert_frame_equal(again.seqlets, held.seqlets)
    no_sequences = call_source(array_chunks(track, valid), options, array_chunks(null, np.ones(null.shape, bool)))
    assert no_sequences.elements["sequence"].isna().all()
    pd.testing.assert_frame_equal(no_sequences.elements.drop(columns="sequence"),
                                  held.elements.drop(columns="sequence"))


def test_a_checkpoint_array_killed_before_its_sizing_resumes_at_full_size(tmp_path):
    """NpyStream writes the header, then sizes the file, then rows: a kill between the first two leaves a header
    alone (seen in test_kill_resume). Resuming from it gives a file of the full shape whose rows load."""
    import numpy as np

    from seqsal.io import NpyStream

    path = tmp_path / "one_hot.npy"
    with open(path, "wb") as handle:  # the state such a kill leaves
        np.lib.format.write_array_header_1_0(handle, {"descr": "<f4", "fortran_order": False, "shape": (3, 4, 5)})
    stream = NpyStream(str(path), (3, 4, 5), resume=True)
    stream.write_row(1, np.ones((4, 5), np.float32))
    stream.close()
    data = np.load(path, mmap_mode="r")
    assert data.shape == (3, 4, 5) and data[1].sum() == 20 and data[[0, 2]].sum() == 0


def _many_candidates(seed: int = 11):
    """A planted run of 40 rows (some with N stretches) and its null: hundreds of windows with p <= 0.2."""
    rng = np.random.default_rng(seed)
    track, _ = planted(rng, n=40, length=600)
    valid = np.ones(track.shape, bool)
    valid[3, 200:230] = valid[17, 0:40] = valid[29, 580:] = False
    track = np.where(valid, track, 0).astype(np.float32)
    null = noise(np.random.default_rng(seed + 1), (80, 600))
    return track, valid, null


def test_spilled_tests_and_two_pass_element_bh_equal_one_bh_over_everything_held(tmp_path, monkeypatch):
    """The kept tests go to a scratch file and the element candidates' BH takes two passes (p-values, then the
    candidates that pass); seqlet tests and elements are those of the BH families (per sign, gated by both signs')
    over every kept test and every candidate held at once (the code before: all windows in one table, sorted by
    row, sign and start, grouped in one go),
    with the rows served in many small chunks. Nothing is left in the scratch folder."""
    import seqsal.peaks.calling as calling
    import seqsal.peaks.elements as elements_module
    import seqsal.peaks.streams as streams
    from seqsal.peaks.stats import benjamini_hochberg

    track, valid, null = _many_candidates()
    options = PeakOptions(fdr=0.2, element_fdr=0.2, null="shuffle")
    whole = array_chunks(track, valid)  # one chunk: every row
    null_source = array_chunks(null, np.ones(null.shape, bool))
    tests, widths, models, final, _ = calling._fit_nulls(options, whole, null_source)
    significant, kept, n_tests, _, _ = calling._significant_tests(tests, widths, models, final, options, tmp_path)
    with kept.spill:
        assert not isinstance(kept.spill.handle, io.BytesIO)  # a file in the scratch folder
        windows = pd.DataFrame(np.concatenate(list(kept.spill.parts())))
        assert len(windows) > 300 and list(tmp_path.iterdir()) == []  # unnamed: nothing to leave behind
        # seqlet tests: BH over each sign's kept p-values (n_tests[sign] in its family), gated by the Simes
        # p-value of both signs (the smallest q-value of one BH over all of them)
        pvalues, signs = windows["pvalue"].to_numpy(), windows["sign"].to_numpy()
        gate = benjamini_hochberg(pvalues, n_tests[1] + n_tests[-1]).min()
        q = np.zeros(len(windows))
        for s in (1, -1):
            q[signs == s] = np.maximum(benjamini_hochberg(pvalues[signs == s], n_tests[s]), gate)
        passed = windows[q <= options.fdr].assign(qvalue=q[q <= options.fdr])
        expected = passed.sort_values(["sign", "row", "start"], ascending=[False, True, True], kind="stable")
        assert 20 < len(significant) < len(windows)
        np.testing.assert_array_equal(significant["region_index"], expected["row"])
        np.testing.assert_array_equal(significant["window_start"], expected["start"])
        np.testing.assert_array_equal(significant["sign"], expected["sign"])
        np.testing.assert_array_equal(significant["qvalue"], expected["qvalue"])
        np.testing.assert_array_equal(significant["statistic"], expected["statistic"])
        # elements: every candidate built at once from the whole sorted table, one BH over all of them
        ordered = windows.sort_values(["row", "sign", "start"], kind="stable")
        region, sign, first, width = (ordered[c].to_numpy(np.int64) for c in ("row", "sign", "start", "width"))
        groups = elements_module._group_seqlets(next(whole(None)), region, sign, first, first + width, options)
        elements_module._element_bounds(groups, options)
        every = elements_module._element_candidates(groups, ordered["pvalue"].to_numpy(), ordered["statistic"].to_numpy(),
                                            first + width // 2, options)
        q = np.zeros(every.shape[0])  # each sign's family, gated by the Simes p-value of both signs
        for s in (1, -1):
            mine = every["sign"] == s
            q[mine] = np.maximum(benjamini_hochberg(every["pvalue"][mine]), benjamini_hochberg(every["pvalue"]).min())
        assert every.shape[0] > 100 and 10 < (q <= options.element_fdr).sum() < every.shape[0]  # some pass, some not
        monkeypatch.setattr(streams, "CHUNK_POSITIONS", 3 * 600)  # 3 rows a chunk: 14 chunks, 14 spilled parts
        elements = elements_module.call_elements(kept, significant.iloc[:0], array_chunks(track, valid), options,
                                                 tmp_path)
    one = every[q <= options.element_fdr]
    np.testing.assert_array_equal(elements["region_index"], one["row"])
    np.testing.assert_array_equal(elements["offset_start"], one["start"])
    np.testing.assert_array_equal(elements["offset_end"], one["end"])
    np.testing.assert_array_equal(elements["sign"], one["sign"])
    np.testing.assert_array_equal(elements["score"], one["score"])
    np.testing.assert_array_equal(elements["pvalue"], one["pvalue"])
    np.testing.assert_array_equal(elements["qvalue"], q[q <= options.fdr])
    np.testing.assert_array_equal(elements["summit_offset"], one["summit"])
    assert list(tmp_path.iterdir()) == []


def test_calls_are_the_same_in_memory_spilled_and_in_small_chunks_and_an_error_leaves_no_scratch(tmp_path,
                                                                                                 monkeypatch):
    """call_source with its scratch files in a folder, in memory, and with rows served a few at a time gives the
    same calls; an error mid-call closes (removes) the scratch files."""
    import seqsal.peaks.elements as elements_module
    import seqsal.peaks.spill as spill
    import seqsal.peaks.streams as streams

    track, valid, null = _many_candidates(seed=12)
    one_hot = np.eye(4, dtype=np.float32)[np.random.default_rng(3).integers(0, 4, size=track.shape)]
    one_hot = one_hot.transpose(0, 2, 1)
    options = PeakOptions(fdr=0.1, null="shuffle")

    def call(scratch):
        return call_source(array_chunks(track, valid, one_hot), options, array_chunks(null, np.ones(null.shape, bool)),
                           scratch=scratch)

    memory = call(None)
    assert len(memory.elements) > 5 and len(memory.seqlets) > 5
    spilled = call(tmp_path)
    monkeypatch.setattr(streams, "CHUNK_POSITIONS", 2 * 600)
    small = call(tmp_path)
    for other in (spilled, small):
        pd.testing.assert_frame_equal(other.seqlets, memory.seqlets)
        pd.testing.assert_frame_equal(other.elements, memory.elements)
        assert other.info == memory.info
    opened = []
    real = spill._scratch_file

    def tracked(folder):
        opened.append(real(folder))
        return opened[-1]

    def fail(*args, **kwargs):
        raise RuntimeError("stop")

    monkeypatch.setattr(spill, "_scratch_file", tracked)
    monkeypatch.setattr(elements_module, "calibrated_pvalues", fail)  # while both spills are open (after the null)
    with pytest.raises(RuntimeError):
        call(tmp_path)
    assert len(opened) == 2 and all(handle.closed for handle in opened)
    assert list(tmp_path.iterdir()) == []


def test_the_row_cursor_gives_each_rows_records_in_the_order_written_holding_a_few_parts():
    """Parts come per chunk of rows and sign (rows unsorted inside a chunk): take(r) gives exactly the records of
    rows <= r not yet taken, in the order written, whatever bounds the reader's chunks put inside a chunk."""
    from seqsal.peaks.spill import WINDOW_RECORD, Spill

    rng = np.random.default_rng(5)
    written = []
    with Spill(WINDOW_RECORD) as spill:
        for first in range(0, 100, 10):  # a chunk of 10 rows: a + part, then a - part
            for sign in (1, -1):
                part = np.zeros(int(rng.integers(0, 30)), WINDOW_RECORD)
                part["row"] = rng.integers(first, first + 10, size=part.shape[0])
                part["sign"], part["start"] = sign, rng.integers(0, 500, size=part.shape[0])
                spill.append(part)
                written.append(part)
        every = np.concatenate(written)
        assert len(spill) == every.shape[0] and len(spill.counts) < 20  # empty parts are not written
        cursor = spill.by_rows()
        most = max(spill.counts)
        taken = []
        for bound in (3, 4, 17, 18, 19, 40, 41, 77, 99):
            got = cursor.take(bound)
            previous = taken[-1][0] if taken else -1
            expected = every[(every["row"] > previous) & (every["row"] <= bound)]
            assert got.tobytes() == expected.tobytes()
            assert cursor.buffer.shape[0] <= 2 * most  # at most the parts of one chunk wait
            taken.append((bound, got))
        assert cursor.buffer.shape[0] == 0


def test_long_rows_are_cut_at_the_fixed_block_not_at_the_chunk_size(monkeypatch):
    """Chunks of rows are small (CHUNK_POSITIONS), but block_tests cuts a long row at BLOCK_POSITIONS: where a row
    is cut sets the float64 rounding of its window sums, so a smaller chunk must not change a test."""
    import seqsal.peaks.stats as stats

    rng = np.random.default_rng(6)
    track = noise(rng, (2, 5000))
    valid = np.ones(track.shape, bool)
    whole = list(block_tests(track, valid, 6))
    monkeypatch.setattr(stats, "CHUNK_POSITIONS", 100)
    again = list(block_tests(track, valid, 6))
    assert len(again) == len(whole) == 2  # one block: + then -
    for a, b in zip(whole, again):
        for x, y in zip(a[1:], b[1:]):
            np.testing.assert_array_equal(x, y)
    assert stats.BLOCK_POSITIONS >= 1 << 20 > stats.CHUNK_POSITIONS


def test_region_coordinates_leave_the_names_in_the_file_and_the_calls_read_theirs_back(tmp_path):
    """100,000 names held ~6 MB as Python strings: the caller reads ``regions.tsv`` without them (in chunks) and
    reads back the names of the regions with calls only. Both reads give what one pandas read of the file gives:
    empty, numeric-looking, quoted names, chromosome categories, coordinates."""
    from seqsal.tables import read_region_coordinates
    from seqsal.peaks.runfolder import region_names

    rng = np.random.default_rng(3)
    n = 10_000  # over two of the 4,096-row chunks
    names = np.array([f"r{i}" for i in range(n)], dtype=object)
    names[[0, 5, 4097]] = ["", "007", 'a "quoted"\tname']
    chrom = np.concatenate([rng.choice(["chr2", "chrX"], size=5000), rng.choice(["chr10", "1", "chrX"], size=n - 5000)])
    start = rng.integers(0, 10**9, size=n)
    table = pd.DataFrame({"index": np.arange(n), "name": names, "chrom": chrom, "start": start,
                          "end": start + rng.integers(1, 2000, size=n), "status": "ok"})
    path = tmp_path / "regions.tsv"
    table.to_csv(path, sep="\t", index=False)
    columns = ["name", "chrom", "start", "end"]
    whole = pd.read_csv(path, sep="\t", usecols=columns, keep_default_na=False,
                        dtype={"name": str, "chrom": "category", "start": "int64", "end": "int64"})[columns]
    pd.testing.assert_frame_equal(read_region_coordinates(path), whole)
    coordinates = read_region_coordinates(path, names=False)
    assert "name" not in coordinates and coordinates.memory_usage(deep=True).sum() < 20 * n  # no strings
    pd.testing.assert_frame_equal(coordinates, whole[["chrom", "start", "end"]])
    assert coordinates["chrom"].cat.categories.tolist() == ["1", "chr10", "chr2", "chrX"]  # sorted, as one read
    rows = np.array([4097, 0, 5, 9999, 4096, 4095, 5, 8191, 8192])  # unordered, repeated, at chunk edges
    assert region_names(path, rows).tolist() == whole["name"].to_numpy()[rows].tolist()
    assert region_names(path, np.zeros(0, np.int64)).shape == (0,)


def test_width_nulls_are_held_as_float32_and_give_the_pvalues_of_float64(monkeypatch):
    """The per-width null statistics are window sums computed in float32: held as float32 (half the memory),
    their empirical null gives exactly the p-values of the same values held as float64, for scores between
    float32 values, on them, in the tail and beyond float32's range; the caller holds them so."""
    import seqsal.peaks.calling as calling

    rng = np.random.default_rng(5)
    track = noise(rng, (40, 800))
    valid = np.ones(track.shape, bool)
    wide, _ = null_statistics(block_tests(track, valid, 6))
    narrow, _ = null_statistics(block_tests(track, valid, 6), dtype=np.float32)
    for sign in (1, -1):
        assert narrow[sign].dtype == np.float32 and wide[sign].dtype == np.float64
        np.testing.assert_array_equal(narrow[sign].astype(np.float64), wide[sign])
        exact, held = NullModel.empirical(wide[sign], 50), NullModel.empirical(narrow[sign], 50)
        assert held.sorted_values.dtype == np.float32 and np.shares_memory(held.sorted_values, narrow[sign])
        assert held.describe() == exact.describe()
        values = wide[sign]
        probe = np.concatenate([values, np.nextafter(values, np.inf), np.nextafter(values, -np.inf),
                                (values[1:] + values[:-1]) / 2, rng.uniform(0, 2 * values.max(), 500),
                                [0.0, -1.0, values.max() * 10, 1e39, -1e39, np.inf]])
        assert (np.nextafter(values, np.inf).astype(np.float32) == values).all()  # between float32 values
        np.testing.assert_array_equal(held.pvalues(probe), exact.pvalues(probe))
    heavy = np.sort(rng.lognormal(0, 2, size=5000).astype(np.float32))  # its tails span many binades
    exact, held = NullModel.empirical(heavy.astype(np.float64), 50), NullModel.empirical(heavy, 50)
    assert held.describe() == exact.describe()
    probe = rng.lognormal(0, 3, size=2000)
    np.testing.assert_array_equal(held.pvalues(probe), exact.pvalues(probe))
    with pytest.raises(ValueError, match="float32"):
        null_statistics([(1, None, None, np.array([0.1]))], dtype=np.float32)  # 0.1 is no float32 value
    seen = []

    def spy(*args, **kwargs):
        scores, total = null_statistics(*args, **kwargs)
        seen.append({value.dtype for value in scores.values()})
        return scores, total

    monkeypatch.setattr(calling, "null_statistics", spy)
    null = noise(np.random.default_rng(6), (60, 500))
    call_source(array_chunks(track, valid), PeakOptions(null="shuffle"), array_chunks(null, np.ones(null.shape, bool)))
    assert seen == [{np.dtype(np.float32)}, {np.dtype(np.float64)}]  # per width; the final null's -log p


def test_row_blocks_hold_no_python_object_per_region():
    """Splitting 200,000 regions into read blocks holds a few thousand lengths as Python ints at a time, not all
    of them (a list of every length took ~36 B a region); the blocks are those of the row-by-row rule."""
    import tracemalloc

    from seqsal.io import _row_runs

    lengths = np.random.default_rng(2).integers(300, 700, size=200_000)
    tracemalloc.start()
    try:
        blocks = [(rows[0], rows[-1], width) for rows, width in _row_runs(lengths, None, 1 << 18, 4)]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2_000_000  # the list of 200,000 lengths alone took 7 MB
    expected, start, width = [], 0, 0
    for k, size in enumerate(lengths.tolist()):
        longer = max(width, size)
        if k > start and (k - start + 1) * longer * 4 > 1 << 18:
            expected.append((start, k - 1, width))
            start, longer = k, size
        width = longer
    expected.append((start, len(lengths) - 1, width))
    assert blocks == expected
    scattered = np.sort(np.random.default_rng(3).choice(200_000, 5000, replace=False))
    assert np.concatenate([rows for rows, _ in _row_runs(lengths, scattered, 1 << 18, 4)]).tolist() == \
        scattered.tolist()


def test_tests_and_selections_in_groups_of_rows_are_those_of_the_whole_chunk(monkeypatch):
    """A chunk's tests are computed in groups of rows (bounded temporaries) and sites selected in groups of whole
    rows: the same tests in the same order (rows, then starts, width by width) as one call on the whole chunk,
    for short rows and for rows long enough to be cut into blocks of starts; the same sites kept."""
    import seqsal.peaks.stats as stats
    import seqsal.peaks.widths as widths

    rng = np.random.default_rng(9)
    track = noise(rng, (12, 700)).astype(np.float32)
    valid = np.ones(track.shape, bool)
    valid[3, 100:110] = valid[7, 650:] = False
    track[~valid] = 0

    def whole_chunk():  # the tests of one block_tests call per width, as before the groups
        parts = {1: [], -1: []}
        for width in (6, 10, 16):
            for sign, rows, starts, scores in stats.block_tests(track, valid, width):
                parts[sign].append((rows, starts, np.full(rows.shape[0], width), scores))
        return {sign: [np.concatenate([p[k] for p in found]) for k in range(4)] for sign, found in parts.items()}

    monkeypatch.setattr(widths, "GROUP_POSITIONS", 1500)  # two rows a group
    for block in (1 << 20, 256):  # rows of one block of starts; rows cut into blocks
        monkeypatch.setattr(stats, "BLOCK_POSITIONS", block)
        monkeypatch.setattr(widths, "BLOCK_POSITIONS", block)
        grouped, expected = widths.ladder_tests(track, valid, (6, 10, 16)), whole_chunk()
        for sign in (1, -1):
            assert len(expected[sign][0]) > 100
            for got, want in zip(grouped[sign], expected[sign]):
                np.testing.assert_array_equal(got, want)
    n = 20_000
    rows = rng.integers(0, 400, n)  # unsorted rows, as the widths' tests come
    starts = rng.integers(0, 2000, n)
    ends = starts + rng.choice([6, 10, 16, 24], n)
    pvalue = rng.random(n)
    at_once = widths.select_sites(rows, starts, ends, pvalue)
    monkeypatch.setattr(widths, "GROUP_TESTS", 300)
    np.testing.assert_array_equal(widths.select_sites(rows, starts, ends, pvalue), at_once)


def test_tests_that_overflowed_the_cap_once_are_not_gathered_again():
    """Once a pass has counted more tests than the cap, later passes recompute them without holding any until
    the cap is passed again (it was ~5 MB per pass of the null at 100,000 regions); the tests are the same."""
    import tracemalloc

    from seqsal.peaks.streams import TrackChunk
    from seqsal.peaks.widths import LadderTests

    def source(rows=None):
        for k in range(60):
            rng = np.random.default_rng(k)
            yield TrackChunk(np.arange(10 * k, 10 * k + 10), noise(rng, (10, 500)).astype(np.float32),
                             np.ones((10, 500), bool))

    tests = LadderTests(source, (6, 10), limit=40_000)  # ~1,000 tests a chunk: passed in chunk 41 of 60
    peaks, passes = [], []
    tracemalloc.start()
    try:
        for _ in range(2):
            tracemalloc.reset_peak()
            before = tracemalloc.get_traced_memory()[0]
            count, last = 0, None
            for sign, rows, starts, _, _ in tests:
                count, last = count + rows.shape[0], (sign, rows, starts)
            passes.append((count, last))
            peaks.append(tracemalloc.get_traced_memory()[1] - before)
    finally:
        tracemalloc.stop()
    assert not tests.held and passes[0][0] > 40_000
    assert peaks[1] < peaks[0] / 2, peaks  # the first pass gathered ~2 MB before dropping them
    (n0, (s0, r0, a0)), (n1, (s1, r1, a1)) = passes
    assert n0 == n1 and s0 == s1 and np.array_equal(r0, r1) and np.array_equal(a0, a1)
