from collections import Counter

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from seqsal.encode import one_hot_decode, one_hot_encode
from seqsal.shuffle import (
    dinucleotide_counts,
    dinucleotide_shuffle,
    dinucleotide_shuffle_string,
    shuffle_symbols,
)


def pairs(sequence: str) -> Counter:
    return Counter(sequence[i:i + 2] for i in range(len(sequence) - 1))


def random_dna(length, rng, alphabet="ACGT"):
    return "".join(rng.choice(list(alphabet), size=length))


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet="ACGTN", min_size=0, max_size=80), st.integers(0, 2**31 - 1))
def test_string_shuffle_keeps_every_pair_count(sequence, seed):
    for shuffled in dinucleotide_shuffle_string(sequence, n=3, seed=seed):
        assert pairs(shuffled) == pairs(sequence)
        assert Counter(shuffled) == Counter(sequence)
        if sequence:
            assert shuffled[0] == sequence[0] and shuffled[-1] == sequence[-1]


@settings(max_examples=40, deadline=None)
@given(st.text(alphabet="ACGTN", min_size=1, max_size=120), st.integers(0, 2**31 - 1),
       st.sampled_from(["fixed", "symbol"]))
def test_one_hot_shuffle_keeps_dinucleotide_counts_with_n(sequence, seed, n_mode):
    x = one_hot_encode(sequence)
    out = dinucleotide_shuffle(x, n=4, seed=seed, n_mode=n_mode)
    assert out.shape == (4, 4, len(sequence)) and out.dtype == np.float32
    for row in out:
        np.testing.assert_array_equal(dinucleotide_counts(row), dinucleotide_counts(x))
        assert set(np.unique(row.sum(axis=0))) <= {0.0, 1.0}
        if n_mode == "fixed":  # N columns stay in place
            np.testing.assert_array_equal(row.sum(axis=0) == 0, x.sum(axis=0) == 0)


def test_many_distinct_shuffles_and_actually_shuffled():
    rng = np.random.default_rng(0)
    sequence = random_dna(200, rng)
    x = one_hot_encode(sequence)
    out = dinucleotide_shuffle(x, n=100, seed=1)
    decoded = {one_hot_decode(row) for row in out}
    assert len(decoded) == 100
    assert sequence not in decoded
    # positions are decorrelated from the original: identity ~ 25-35 %, not ~100 %
    identity = np.mean([(row * x).sum() / x.shape[1] for row in out])
    assert identity < 0.5


def test_uniform_over_all_arrangements():
    """Every sequence with the same dinucleotide counts and first letter is equally likely (chi-square)."""
    sequence = "AACAGCATGTA"
    from itertools import permutations

    target = pairs(sequence)
    universe = {
        sequence[0] + "".join(p) for p in set(permutations(sequence[1:]))
        if pairs(sequence[0] + "".join(p)) == target
    }
    draws = Counter(dinucleotide_shuffle_string(sequence, n=6000, seed=3))
    assert set(draws) <= universe and len(draws) == len(universe)
    expected = 6000 / len(universe)
    chi2 = sum((draws[s] - expected) ** 2 / expected for s in universe)
    # df = len(universe) - 1; generous bound (p << 1e-4 otherwise)
    assert chi2 < len(universe) - 1 + 6 * np.sqrt(2 * (len(universe) - 1)), (chi2, len(universe))


def test_batches_seeds_and_torch():
    rng = np.random.default_rng(5)
    x = np.stack([one_hot_encode(random_dna(60, rng)) for _ in range(3)])
    a = dinucleotide_shuffle(x, n=5, seed=11)
    b = dinucleotide_shuffle(x, n=5, seed=11)
    c = dinucleotide_shuffle(x, n=5, seed=12)
    assert a.shape == (3, 5, 4, 60)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    t = dinucleotide_shuffle(torch.from_numpy(x), n=5, seed=np.random.default_rng(11))
    assert isinstance(t, torch.Tensor) and t.dtype == torch.float32
    np.testing.assert_array_equal(t.numpy(), a)
    for i in range(3):
        for row in a[i]:
            np.testing.assert_array_equal(dinucleotide_counts(row), dinucleotide_counts(x[i]))


def test_n_runs_fixed_and_uniform_n_value():
    sequence = "ACGTTGCA" * 5 + "NNNN" + "GGATCCAT" * 5
    x = one_hot_encode(sequence, n_value=0.25)
    fixed = dinucleotide_shuffle(x, n=10, seed=0)
    for row in fixed:
        np.testing.assert_array_equal(row[:, 40:44], x[:, 40:44])
        np.testing.assert_array_equal(dinucleotide_counts(row), dinucleotide_counts(x))
    symbol = dinucleotide_shuffle(x, n=10, seed=0, n_mode="symbol")
    for row in symbol:
        np.testing.assert_array_equal(dinucleotide_counts(row), dinucleotide_counts(x))
        n_columns = row.max(axis=0) < 1
        assert n_columns.sum() == 4 and np.all(row[:, n_columns] == 0.25)


def test_edge_cases_and_errors():
    assert dinucleotide_shuffle(np.zeros((4, 0), np.float32), n=2).shape == (2, 4, 0)
    np.testing.assert_array_equal(dinucleotide_shuffle(one_hot_encode("AC"), n=2, seed=0)[1], one_hot_encode("AC"))
    np.testing.assert_array_equal(shuffle_symbols(np.array([3, 3, 3, 3]), 2, np.random.default_rng(0)), [[3] * 4] * 2)
    assert dinucleotide_shuffle(np.zeros((0, 4, 10), np.float32), n=3).shape == (0, 3, 4, 10)
    with pytest.raises(ValueError, match="n_mode"):
        dinucleotide_shuffle(one_hot_encode("ACGT"), n_mode="keep")
    with pytest.raises(ValueError, match="shape"):
        dinucleotide_shuffle(np.zeros((5, 10)))


def test_per_row_seeds_do_not_depend_on_the_batch():
    rng = np.random.default_rng(8)
    x = np.stack([one_hot_encode(random_dna(80, rng)) for _ in range(4)])
    x[2, :, 30:33] = 0  # an N run: row 2 shuffled in two segments
    seeds = [np.random.default_rng(100 + i) for i in range(4)]
    together = dinucleotide_shuffle(x, n=7, seed=seeds)
    for i in range(4):
        alone = dinucleotide_shuffle(x[i], n=7, seed=np.random.default_rng(100 + i))
        np.testing.assert_array_equal(together[i], alone)
    with pytest.raises(ValueError, match="seeds"):
        dinucleotide_shuffle(x, n=2, seed=[1, 2])


def test_shuffle_many_mixed_lengths_and_alphabets():
    from seqsal.shuffle import shuffle_many

    rng = np.random.default_rng(2)
    sequences = [rng.integers(0, 4, 50), rng.integers(5, 7, 50), np.array([9, 9, 1]), rng.integers(0, 20, 300),
                 np.array([3, 1])]
    out = shuffle_many(sequences, 9, [np.random.default_rng(i) for i in range(len(sequences))])
    for sequence, shuffled in zip(sequences, out):
        assert shuffled.shape == (9, sequence.shape[0])
        for row in shuffled:
            assert Counter(zip(row[:-1], row[1:])) == Counter(zip(sequence[:-1], sequence[1:]))
            assert row[0] == sequence[0] and row[-1] == sequence[-1]
    assert len({tuple(r) for r in out[3]}) == 9


def test_ragged_batch_gives_each_sequence_its_own_shuffle():
    """Shuffling many sequences of different lengths together (one walk) gives each exactly the shuffle it gets
    alone from its generator, N runs included (fixed and symbol modes)."""
    from seqsal.shuffle import dinucleotide_shuffle_ragged

    rng = np.random.default_rng(0)
    xs = []
    for i in range(60):
        sequence = "".join(rng.choice(list("ACGTN" if i % 3 == 0 else "ACGT"), int(rng.integers(1, 300))))
        if i % 7 == 0:
            sequence = "NNNN" + sequence + "NN"
        xs.append(one_hot_encode("NNN" if i == 11 else sequence, n_value=0.25 if i % 5 == 0 else 0.0))
    for mode in ("fixed", "symbol"):
        batch = dinucleotide_shuffle_ragged(xs, [np.random.default_rng(100 + i) for i in range(60)], mode)
        for i, x in enumerate(xs):
            assert np.array_equal(batch[i], dinucleotide_shuffle(x, 1, np.random.default_rng(100 + i), mode)[0])
    shuffled = dinucleotide_shuffle_ragged(xs[1:3], [np.random.default_rng(1), np.random.default_rng(2)])
    assert [s.shape for s in shuffled] == [x.shape for x in xs[1:3]]
    assert dinucleotide_counts(shuffled[0]).tolist() == dinucleotide_counts(xs[1]).tolist()


def test_shuffled_fetch_draws_planned_stretches_in_blocks_with_the_same_result():
    from seqsal.peaks import shuffled_fetch

    rng = np.random.default_rng(3)
    genome = "".join(rng.choice(list("ACGT"), 5000))
    calls = []

    def fetch(chrom, start, end):
        calls.append((start, end))
        return genome[start:end]

    plan = [("chr1", 10 * k, 10 * k + 300) for k in range(40)]
    one_by_one = shuffled_fetch(fetch, 7)
    expected = [one_by_one(*key) for key in plan]
    calls.clear()
    planned = shuffled_fetch(fetch, 7, plan, block=16)
    assert [planned(*key) for key in plan] == expected
    assert len(calls) == 40  # every stretch fetched once, in blocks
    assert planned("chr1", 5, 105) == one_by_one("chr1", 5, 105)  # a stretch outside the plan still works
    assert expected[0] != genome[0:300] and sorted(expected[0]) == sorted(genome[0:300])
