"""seqsal.motifs.align: aligned cosine over offsets and strands, and trimming to the important columns."""
import numpy as np

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


def test_trim_bounds():
    assert trim_bounds(np.array([[0, 1, 5, 0.1, 2, 0]] * 4)) == (2, 5)
    assert trim_bounds(np.array([[0, 1, 5, 0.1, 2, 0]] * 4), pad=1) == (1, 6)
