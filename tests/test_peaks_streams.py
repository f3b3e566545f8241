"""seqsal.peaks.streams and widths: chunks of tracks and the tests computed from them."""
import numpy as np
import pandas as pd
from peak_helpers import noise

import seqsal
from seqsal.peaks.stats import block_tests
from seqsal.peaks.streams import array_chunks
from seqsal.peaks.widths import LadderTests


def test_calls_are_the_same_whether_tests_are_held_or_recomputed(monkeypatch):
    """Between passes the caller keeps the tests while they fit (_TESTS_HELD), else recomputes them: same calls."""
    import seqsal.peaks.widths as widths

    rng = np.random.default_rng(5)
    track = noise(rng, (40, 700), scale=0.1)
    track[:, 300:312] += 0.8
    track[::3, 500:512] -= 0.7
    track[4, 100:160] = np.nan  # an N stretch
    held = {level: seqsal.call_peaks(track, fdr=0.1, level=level) for level in ("seqlets", "elements")}
    monkeypatch.setattr(widths, "_TESTS_HELD", 0)
    for level, frame in held.items():
        assert len(frame) > 10
        pd.testing.assert_frame_equal(seqsal.call_peaks(track, fdr=0.1, level=level), frame)


def test_chunked_rows_give_the_tests_of_the_whole_array(monkeypatch):
    """Rows served in several chunks (global row indices) give the tests of the whole array at once."""
    import seqsal.peaks.streams as streams

    rng = np.random.default_rng(9)
    track = noise(rng, (7, 300))
    valid = np.ones(track.shape, bool)
    valid[3, 40:90] = False
    whole = [(s, r, a, v) for s, r, a, v in block_tests(track, valid, 6)]
    monkeypatch.setattr(streams, "CHUNK_POSITIONS", 2 * 300)  # two rows a chunk
    chunks = list(array_chunks(track, valid)())
    assert [chunk.rows.tolist() for chunk in chunks] == [[0, 1], [2, 3], [4, 5], [6]]
    for sign in (1, -1):
        expected = [np.concatenate([t[k] for t in whole if t[0] == sign]) for k in (1, 2, 3)]
        got = [np.concatenate([t[k] for t in LadderTests(array_chunks(track, valid), (6,)) if t[0] == sign])
               for k in (1, 2, 4)]
        order = np.lexsort((got[1], got[0]))
        for a, b in zip(expected, got):
            np.testing.assert_array_equal(a, b[order])
    tests = LadderTests(array_chunks(track, valid), (6,))
    first, second = list(tests), list(tests)  # the second pass replays the held tests
    assert tests.held and len(first) == len(second)
    for a, b in zip(first, second):
        assert a[0] == b[0] and all(np.array_equal(x, y) for x, y in zip(a[1:], b[1:]))
