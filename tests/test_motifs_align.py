"""seqsal.motifs.align: aligned cosine over offsets and strands, and trimming to the important columns."""
import numpy as np
import pytest

from seqsal.motifs import best_alignment, reverse_complement_matrix, trim_bounds


def test_best_alignment_finds_offset_and_strand():
    rng = np.random.default_rng(3)
    template = rng.normal(size=(1, 4, 8)).astype(np.float32)
    windows = rng.normal(0, 0.05, size=(2, 4, 20)).astype(np.float32)
    windows[0, :, 5:13] += template[0]
    windows[1, :, 9:17] += reverse_complement_matrix(template[0])
    similarity, offset, rc = best_alignment(template, windows)
    assert similarity.min() > 0.95
    assert offset[:, 0].tolist() == [5, 9] and rc[:, 0].tolist() == [False, True]


def test_best_alignment_equals_a_brute_force_scan_of_offsets_and_strands():
    """Every template against every window, by explicit loops (cosine of each C-bp stretch, forward then reverse
    complement); the chunked matrix-product scan must give the same best cosine, offset and strand, with ties
    (a zero window: every cosine 0) going to the first forward offset."""
    rng = np.random.default_rng(5)
    templates = rng.normal(size=(7, 4, 6)).astype(np.float32)
    windows = rng.normal(size=(9, 4, 15)).astype(np.float32)
    windows[4] = 0.0
    similarity, offset, rc = best_alignment(templates, windows, chunk_values=500)  # several passes
    for i, window in enumerate(windows):
        for k, template in enumerate(templates):
            best = (-np.inf, 0, False)
            for strand, seq in ((False, window), (True, reverse_complement_matrix(window))):
                for p in range(15 - 6 + 1):
                    stretch = seq[:, p:p + 6]
                    cos = float((stretch * template).sum() / max(np.linalg.norm(stretch), 1e-12)
                                / np.linalg.norm(template))
                    if cos > best[0] + 1e-6:
                        best = (cos, 15 - 6 - p if strand else p, strand)
            assert similarity[i, k] == pytest.approx(best[0], abs=1e-5)
            assert (offset[i, k], rc[i, k]) == best[1:], (i, k)


def test_trim_bounds():
    assert trim_bounds(np.array([[0, 1, 5, 0.1, 2, 0]] * 4)) == (2, 5)
    assert trim_bounds(np.array([[0, 1, 5, 0.1, 2, 0]] * 4), pad=1) == (1, 6)
