"""seqsal.motifs.discover.refine_strands: a palindrome's seqlets re-read on the strand its PWM fits."""
import re

import numpy as np
import pandas as pd
import pytest

from seqsal.encode import one_hot_encode, reverse_complement
from seqsal.motifs import DiscoveryOptions, discover_motifs, reverse_complement_matrix
from seqsal.motifs.strands import mirror_window, refine_strands
from seqsal.simulate import random_sequence, sample_site
from motif_helpers import jaspar_motifs

# AP-1-like TGAsTCA: the outer six columns a palindrome, the centre G 0.8 / C 0.1 (FOS::JUN MA0099.3: G 0.69 / C 0.18)
PALINDROME = np.array([
    # T     G     A     s     T     C     A
    [0.02, 0.02, 0.94, 0.05, 0.02, 0.02, 0.94],  # A
    [0.02, 0.02, 0.02, 0.10, 0.02, 0.94, 0.02],  # C
    [0.02, 0.94, 0.02, 0.80, 0.02, 0.02, 0.02],  # G
    [0.94, 0.02, 0.02, 0.05, 0.94, 0.02, 0.02],  # T
])


def windows_with_sites(pwm, n, width, at, rng, minus):
    """``(n, 4, width)`` one-hot random windows with a site of ``pwm`` at column ``at``, reverse-complemented where
    ``minus``: seqlets of a palindrome aligned by their contributions, which do not tell its strands apart."""
    windows = np.empty((n, 4, width), dtype=np.float32)
    for i in range(n):
        sequence = bytearray(random_sequence(width, rng).tobytes())
        site = sample_site(pwm, rng)
        sequence[at:at + pwm.shape[1]] = (reverse_complement(site) if minus[i] else site).encode()
        windows[i] = one_hot_encode(bytes(sequence))
    return windows


def frequencies(windows):
    counts = windows.sum(axis=0)
    return (counts + 0.5) / (counts.sum(axis=0, keepdims=True) + 2.0)


def test_mirror_window_is_the_reverse_complement_moved_by_the_shift():
    window = one_hot_encode(b"AACGTTTGCA")[None]
    assert mirror_window(window, 0)[0].tolist() == one_hot_encode(b"TGCAAACGTT").tolist()
    # shift 2: the stretch [1, 7) (ACGTTT) maps onto columns [1, 7) of the result as its reverse complement
    mirrored = mirror_window(window, 10 - 1 - 7)[0]
    assert mirrored[:, 1:7].tolist() == one_hot_encode(b"AAACGT").tolist()
    assert not mirrored[:, 8:].any()  # past the window: zeros


def test_a_palindromes_seqlets_on_random_strands_give_back_its_asymmetric_centre():
    rng = np.random.default_rng(0)
    n, width, lo = 300, 30, 9  # the site off the window's centre: the mirror shift is 30 - 9 - 16 = 5
    hi = lo + PALINDROME.shape[1]
    minus = rng.random(n) < 0.5
    windows = windows_with_sites(PALINDROME, n, width, lo, rng, minus)
    mixed = frequencies(windows)[:, lo + 3]
    assert abs(mixed[2] - mixed[1]) < 0.15  # as aligned: the centre averages G with its complement C

    flip, shift = refine_strands(windows, lo, hi)
    assert shift == width - lo - hi
    refined = np.where(flip[:, None, None], mirror_window(windows, shift), windows)
    pwm = frequencies(refined)[:, lo:hi]
    centre = pwm[:, 3]
    if centre[1] > centre[2]:  # the motif may settle on either strand; read it on the one with the G centre
        pwm = reverse_complement_matrix(pwm)
        centre = pwm[:, 3]
    assert centre[2] > 0.75 and centre[1] < 0.15  # the planted G 0.8 / C 0.1, not the merged ~0.45 / ~0.45
    assert (pwm.max(axis=0)[[0, 1, 2, 4, 5, 6]] > 0.85).all()  # the flipped sites stay in register
    # the strands it settles on are mostly the planted ones (up to one overall flip; not the sites with a C, A or T
    # centre, nor all those whose other columns fit better mirrored: 0.76 here; half without the refinement)
    agree = minus ^ flip
    assert max(agree.mean(), 1 - agree.mean()) > 0.7
    # without the refinement nothing changes
    assert not refine_strands(windows, lo, hi, max_iterations=0)[0].any()


def test_a_non_palindromic_motif_keeps_every_strand_even_for_seqlets_that_fit_neither():
    rng = np.random.default_rng(1)
    spi1 = jaspar_motifs()["Spi1"].pwm
    n, width, lo = 200, 40, 12
    windows = windows_with_sites(spi1, n, width, lo, rng, np.zeros(n, dtype=bool))  # aligned on the right strand
    noise = np.stack([one_hot_encode(random_sequence(width, rng).tobytes()) for _ in range(40)])
    both = np.concatenate([windows, noise]).astype(np.float32)  # a cluster also holds seqlets of no site
    flip, _ = refine_strands(both, lo, lo + spi1.shape[1])
    assert not flip.any()


@pytest.fixture(scope="module")
def palindrome_run():
    """Regions with one AP-1-like site each, on random strands; the contributions (the log-odds of the site's
    symmetrised matrix: a model that scores TGAGTCA and TGACTCA alike) do not tell the strands apart."""
    rng = np.random.default_rng(2)
    n, length = 160, 120
    symmetric = (PALINDROME + reverse_complement_matrix(PALINDROME)) / 2
    log_odds = np.log2((symmetric + 0.01) / 0.25)
    log_odds -= log_odds.mean(axis=0, keepdims=True)
    one_hot = np.zeros((n, 4, length), dtype=np.float32)
    hyp = rng.normal(0, 0.03, size=(n, 4, length)).astype(np.float32)
    seqlets, truth = [], []
    for i in range(n):
        sequence = bytearray(random_sequence(length, rng).tobytes())
        start, minus = int(rng.integers(20, length - 27)), bool(rng.random() < 0.5)
        site = sample_site(PALINDROME, rng)
        sequence[start:start + 7] = (reverse_complement(site) if minus else site).encode()
        one_hot[i] = one_hot_encode(bytes(sequence))
        hyp[i, :, start:start + 7] += 0.3 * log_odds.astype(np.float32)
        jitter = int(rng.integers(-3, 4))
        seqlets.append((i, start + jitter, start + 7 + jitter, "+", 1.0))
        truth.append((start, minus))
    table = pd.DataFrame(seqlets, columns=["region_index", "offset_start", "offset_end", "sign", "score"])
    return one_hot, hyp, np.full(n, length), table, truth


def test_discovery_resolves_a_palindromes_strands_and_keeps_instances_matrices_and_context_consistent(
        palindrome_run):
    one_hot, hyp, lengths, seqlets, truth = palindrome_run
    (merged,) = discover_motifs(one_hot, hyp, lengths, seqlets, DiscoveryOptions(min_seqlets=20, strand_iterations=0))
    (motif,) = discover_motifs(one_hot, hyp, lengths, seqlets, DiscoveryOptions(min_seqlets=20))

    def centre(m):  # G and C of the centre column of the TGAsTCA core, whichever strand the motif reads
        column = re.search("TGA.TCA", m.consensus.upper()).start() + 3
        return m.pwm[2, column], m.pwm[1, column]

    g, c = centre(merged)
    assert abs(g - c) < 0.25, (g, c)  # strands merged: the centre averages G with C
    g, c = centre(motif)
    assert max(g, c) > 0.7 and min(g, c) < 0.2, (g, c)  # the planted G 0.8 / C 0.1 (or its complement)
    # each instance, read on its strand, is a site of the motif: the PWM, CWM, hypothetical CWM and the context
    # are those of the instances as the table places them
    inst = motif.instances
    width = motif.pwm.shape[1]
    k = 3
    reads, projected, hypothetical, left, right = [], [], [], [], []
    for row in inst.itertuples():
        span = slice(row.start - k, row.end + k)
        oh, hy = one_hot[row.region_index][:, span], hyp[row.region_index][:, span]
        if row.rc:
            oh, hy = reverse_complement_matrix(oh), reverse_complement_matrix(hy)
        reads.append(oh[:, k:k + width])
        projected.append((oh * hy)[:, k:k + width])
        hypothetical.append(hy[:, k:k + width])
        left.append(oh[:, :k])
        right.append(oh[:, k + width:])
    np.testing.assert_allclose(motif.pwm, frequencies(np.stack(reads)), atol=1e-6)
    np.testing.assert_allclose(motif.cwm, np.mean(projected, axis=0), atol=1e-5)
    np.testing.assert_allclose(motif.hypothetical_cwm, np.mean(hypothetical, axis=0), atol=1e-5)
    np.testing.assert_allclose(motif.left_context[:, -k:], frequencies(np.stack(left)), atol=1e-6)
    np.testing.assert_allclose(motif.right_context[:, :k], frequencies(np.stack(right)), atol=1e-6)
    # the instances still sit on the planted sites
    for row in inst.itertuples():
        start, _ = truth[row.region_index]
        assert start - 2 <= row.start and row.end <= start + 9


def test_discovery_leaves_non_palindromic_motifs_as_they_were():
    from motif_helpers import planted_run

    one_hot, hyp, lengths, seqlets, _ = planted_run(jaspar_motifs())
    before = discover_motifs(one_hot, hyp, lengths, seqlets, DiscoveryOptions(strand_iterations=0))
    after = discover_motifs(one_hot, hyp, lengths, seqlets)
    spi1_rest = [(b, a) for b, a in zip(before, after) if "GGAA" in b.consensus.upper() + reverse_complement(
        b.consensus.upper()) or b.sign == "-"]
    assert len(spi1_rest) == 2
    for b, a in spi1_rest:
        np.testing.assert_array_equal(a.pwm, b.pwm)
        np.testing.assert_array_equal(a.cwm, b.cwm)
        pd.testing.assert_frame_equal(a.instances, b.instances)
