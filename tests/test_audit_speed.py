"""`seqsal audit`'s fast paths (issue 17's speed target) give what the plain computations they replaced give.

Each oracle below is the earlier, direct code: the padded (N, 4, L) arrays of the run folder, one null replicate
at a time, a database scan that scores every window with every column.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from seqsal import audit_checks as ac
from seqsal import audit_scan as scan
from seqsal.audit_inputs import read_run, soft_mask
from seqsal.io import region_arrays, write_npz
from seqsal.motifs import default_database, read_meme
from tests.test_audit import make_run, random_sequences


def _plain_profiles(track, lengths, shifts, bin_bp, min_cover):
    return np.array([ac._binned_profile(ac._shifted(track, lengths, s), lengths, bin_bp, min_cover) for s in shifts])


@pytest.mark.parametrize("kind", ["equal", "few lengths", "many lengths", "short rows"])
def test_shifted_profiles_equal_shifting_the_track(kind):
    rng = np.random.default_rng(1)
    n, width = 300, 257
    lengths = {"equal": np.full(n, width), "few lengths": rng.choice([width, 200, 131], n),
               "many lengths": rng.integers(1, width + 1, n), "short rows": rng.choice([width, 3, 0], n)}[kind]
    lengths[0] = width
    track = np.where(np.arange(width)[None, :] < lengths[:, None], rng.exponential(1.0, (n, width)), 0.0)
    shifts = [rng.integers(1, 51, n) * rng.choice([-1, 1], n) for _ in range(5)]
    fast = ac._ShiftedProfiles(track, lengths, 10, n // 2)
    assert fast.direct == (kind == "many lengths")
    np.testing.assert_allclose(np.array([fast(s) for s in shifts]), _plain_profiles(track, lengths, shifts, 10, n // 2),
                               rtol=1e-12, atol=0)


def _plain_offset_null(offsets, limits, rng, window, jitter, n_null):
    def best(values):
        counts = np.bincount(values, minlength=int(limits.max()) + window + 1)
        return int(np.convolve(counts, np.ones(window, dtype=np.int64), mode="valid").max())
    return np.array([best(ac.jitter_reflect(offsets, limits, rng, jitter)) for _ in range(n_null)], float)


def test_batched_jitter_nulls_draw_and_count_as_one_replicate_at_a_time():
    rng = np.random.default_rng(2)
    offsets, limits = rng.integers(0, 400, 120), np.full(120, 390)
    offsets[:30] = 17
    offsets = np.minimum(offsets, limits)
    result = ac.offset_clustering(offsets, limits, np.random.default_rng(5), n_null=250)
    null = _plain_offset_null(offsets, limits, np.random.default_rng(5), 5, 50, 250)
    assert result["expected"] == null.mean() and result["pvalue"] == (1 + (null >= result["count"]).sum()) / 251
    zone = np.zeros((400, 300), bool)
    zone[:, :10] = True
    peaks, lengths = rng.integers(0, 300, 400), np.full(400, 300)
    batched = ac.peaks_in_zone(peaks, lengths, zone, np.random.default_rng(6), n_null=199)
    draws = np.random.default_rng(6)
    plain = np.array([zone[np.arange(400), np.minimum(ac.jitter_reflect(peaks, lengths - 1, draws, 50), 299)].mean()
                      for _ in range(199)])
    assert batched["expected"] == plain.mean() and batched["pvalue"] == (1 + (plain >= batched["share"]).sum()) / 200


def _plain_hit_mask(codes, matrices, thresholds):
    n, width = codes.shape
    covered = np.zeros((n, width), dtype=bool)
    for matrix, threshold in zip(matrices, thresholds):
        w = matrix.shape[1]
        for strand in (matrix, matrix[::-1, ::-1]):
            table = np.vstack([strand, np.full((1, w), -1e9)])
            score = np.zeros((n, width - w + 1))
            for j in range(w):
                score += table[codes[:, j:j + width - w + 1], j]
            for j in range(w):
                covered[:, j:j + width - w + 1] |= score >= threshold
    return covered


@pytest.mark.parametrize("lower", [0.0, 4.0, 12.0])
def test_pruned_database_scan_marks_the_bases_of_the_plain_scan(lower):
    rng = np.random.default_rng(3)
    matrices = [scan.log_odds(m.pwm) for m in read_meme(default_database())]
    thresholds = [scan.score_threshold(m, 1e-4) - lower for m in matrices]  # lower: many hits, near-ties
    codes = rng.integers(0, 4, (60, 300)).astype(np.uint8)
    codes[rng.random(codes.shape) < 0.02] = 4
    plain = _plain_hit_mask(codes.astype(np.int64), matrices, thresholds)
    assert plain.any() and np.array_equal(scan.code_hit_mask(codes, matrices, thresholds), plain)


def _plain_tracks(path):
    """The earlier read_run: both members padded to (N, 4, L), minus rows reversed, reduced over the bases."""
    arrays = region_arrays(path / "attributions.npz", ["one_hot", "hypothetical"])
    lengths = arrays.lengths
    one_hot, hyp = (arrays[key].padded().astype(np.float32, copy=False) for key in ("one_hot", "hypothetical"))
    return lengths, one_hot, hyp


@pytest.mark.parametrize("layout", ["dense", "ragged", "N as 0.25"])
def test_read_run_keeps_what_the_padded_arrays_give(tmp_path, layout):
    rng = np.random.default_rng(4)
    lengths = rng.integers(150, 300, 40)
    lengths[0] = 300
    sequences = [s[:k] for s, k in zip(random_sequences(rng, 40, 300), lengths)]
    sequences[3] = "NN" + sequences[3][2:]
    hyp = rng.normal(0, 1, (40, 4, 300)).astype(np.float32)
    strands = np.where(rng.random(40) < 0.5, "-", "+")
    path = make_run(tmp_path / "run", sequences, hyp, strands=strands)
    x, h = _plain_tracks(path)[1:]
    if layout == "N as 0.25":  # `--n-value 0.25`: the C and G channels are not counts (the float sums)
        x[:, :, :][(x.max(axis=1, keepdims=True) == 0).repeat(4, axis=1)] = 0.25
        write_npz(path / "attributions.npz", {"one_hot": x, "hypothetical": h, "length": lengths})
    if layout == "ragged":  # regions end to end, Fortran order, as `seqsal attribute` writes them
        flat = {key: np.asfortranarray(np.concatenate([a[i, :, :k] for i, k in enumerate(lengths)], axis=1))
                for key, a in (("one_hot", x), ("hypothetical", h))}
        write_npz(path / "attributions.npz", {**flat, "offsets": np.concatenate([[0], np.cumsum(lengths)])})
    _, one_hot, hyp = _plain_tracks(path)
    minus = strands == "-"
    contribution = ac.orient((one_hot * hyp).sum(axis=1), lengths, minus)  # summed over A, C, G, T as stored
    one_hot, hyp = ac.orient(one_hot, lengths, minus), ac.orient(hyp, lengths, minus)
    run = read_run(path)
    called = one_hot.max(axis=1) > 0.5
    assert np.array_equal(run.codes, np.where(called, one_hot.argmax(axis=1), 4))
    assert np.array_equal(run.contribution, contribution)
    assert np.array_equal(run.magnitude, np.abs(hyp).max(axis=1))
    for fast, plain in zip(run.composition(), ac.composition(one_hot, lengths)):
        assert np.array_equal(fast, plain, equal_nan=True)
    assert run.sequences == ac.decode_rows(one_hot, lengths)


def test_soft_mask_reads_a_chromosome_whole_or_region_by_region_alike(tmp_path):
    rng = np.random.default_rng(5)
    chroms = {"chr1": "".join(rng.choice(list("ACGTacgt"), 3000)), "chr2": "".join(rng.choice(list("ACgt"), 20000))}
    lines = {name: "\n".join(text[i:i + 60] for i in range(0, len(text), 60)) for name, text in chroms.items()}
    (tmp_path / "genome.fa").write_text("".join(f">{name}\n{body}\n" for name, body in lines.items()))
    places = [("chr1", 0), ("chr1", 1000), ("chr1", 2800), ("chr1", 3200), ("chr2", 500), ("chr2", 19800)]
    # chr1 (3 kb): 4 x 400 bp, read whole; 2 of chr2 (20 kb) alone; the 3rd and 6th run past the end, the 4th lies
    # beyond. The stored bases are the genome's (the run's genome is checked to hold them: seqsal.run_genome)
    sequences = [(chroms[chrom] + "N" * 400)[start:start + 400].upper().ljust(400, "N") for chrom, start in places]
    hyp = rng.normal(0, 1, (6, 4, 400)).astype(np.float32)
    record = {"genome": str(tmp_path / "genome.fa"), "parameters": {"window": None, "stride": None}}
    path = make_run(tmp_path / "run", sequences, hyp, strands=["+", "-"] * 3, record=record)
    table = pd.read_csv(path / "regions.tsv", sep="\t")
    table["chrom"] = [chrom for chrom, _ in places]
    table["start"] = [start for _, start in places]
    table["end"] = table["start"] + 400
    table.to_csv(path / "regions.tsv", sep="\t", index=False)
    run = read_run(path)
    mask = soft_mask(run)
    run.close()
    for i, region in table.iterrows():
        text = (chroms[region.chrom] + "N" * 400)[region.start:region.end] if region.start < len(chroms[region.chrom]) \
            else "N" * 400  # past the chromosome's end: N (upper case)
        lower = np.frombuffer(text.encode(), np.uint8) >= 97
        assert np.array_equal(mask[i], lower[::-1] if region.strand == "-" else lower), i
    assert mask[:3].any() and mask[4].any() and not mask[3].any()


def test_shifted_mask_sums_equal_shifting_the_mask():
    rng = np.random.default_rng(6)
    n, width = 300, 120
    lengths = rng.integers(1, width + 1, n)
    lengths[0] = width
    inside = np.arange(width)[None, :] < lengths[:, None]
    track = np.where(inside, rng.exponential(1.0, (n, width)), 0.0)
    mask = (rng.random((n, width)) < 0.02).cumsum(axis=1) % 2 == 1  # runs of every length, some to the row's end
    mask &= inside
    valid = inside & (rng.random((n, width)) > 0.05)
    shifts = rng.integers(0, np.broadcast_to(np.maximum(lengths, 1), (7, n)))
    plain = [track[(ac._shifted(mask.astype(float), lengths, s) > 0.5) & valid].sum() for s in shifts]
    np.testing.assert_allclose(ac._shifted_mask_sums(track, mask, valid, lengths, shifts), plain, rtol=1e-12)
    reliant = ac.share_inside(track * (1 + 4 * mask), mask, inside, lengths, np.random.default_rng(0))
    blind = ac.share_inside(track, mask, inside, lengths, np.random.default_rng(0))
    assert reliant["enrichment"] > 1.5 and reliant["pvalue"] <= 0.01 and blind["pvalue"] > 0.01


def test_a_row_masked_end_to_end_ties_with_every_shift_as_the_direct_null_does():
    rng = np.random.default_rng(7)
    track = rng.exponential(1.0, (20, 600)).astype(np.float32)
    mask = np.zeros((20, 600), bool)
    mask[4] = True  # every shift leaves it in place: each replicate's sum is the observed one (p = 1)
    result = ac.share_inside(track, mask, np.ones_like(mask), np.full(20, 600), np.random.default_rng(0))
    assert result["pvalue"] == 1.0


def test_minus_strand_rows_read_as_the_reverse_complement_the_model_saw(tmp_path):
    """The audit's sequences of a minus-strand region are the reverse complement of its + strand (what the engine
    fed the model), and its CpG count is the + strand's (CpG reads CpG on both strands). Before, the rows were
    reversed but not complemented: the evidence showed the reversed + strand and the count was GpC's."""
    plus = "ACGTTCGAGGCCATCGAT"
    rc = plus[::-1].translate(str.maketrans("ACGT", "TGCA"))
    path = make_run(tmp_path / "run", [plus, plus], np.zeros((2, 4, len(plus)), np.float32), strands=["+", "-"])
    run = read_run(path)
    assert run.sequences == [plus, rc]
    assert run.cpg_count.tolist() == [plus.count("CG")] * 2 != [plus.count("CG"), plus.count("GC")]
