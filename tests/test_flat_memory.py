"""Peak calling in memory that does not grow with the number of regions (issue 18, memory part).

The changes behind it must not change a byte of the calls: scattered rows of a run folder share read blocks, rows
of one length are read without index arrays, the null's statistics are sorted once and not copied again, the
tests held between passes are capped (recomputed beyond, exactly), and element sequences are decoded for the
called elements only.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
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
