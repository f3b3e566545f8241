"""seqsal.motifs.discover: seqlets -> neighbour graph -> clusters -> aligned, trimmed motifs."""
import numpy as np
import pandas as pd
import pytest

from seqsal.encode import one_hot_encode, reverse_complement
from seqsal.motifs import (
    DiscoveryOptions,
    best_matches,
    compare_motifs,
    consensus,
    discover_motifs,
    mutual_neighbours,
    reverse_complement_matrix,
)
from seqsal.simulate import random_sequence, sample_site
from motif_helpers import jaspar_motifs, planted_run, toy_run_folder, word_tracks


@pytest.fixture(scope="module")
def jaspar():
    return jaspar_motifs()


@pytest.fixture(scope="module")
def planted(jaspar):
    return planted_run(jaspar)


def test_discovery_recovers_planted_motifs_with_the_right_consensus(planted, jaspar):
    one_hot, hyp, lengths, seqlets, _ = planted
    motifs = discover_motifs(one_hot, hyp, lengths, seqlets, DiscoveryOptions(min_seqlets=20))
    assert [(m.name, m.sign) for m in motifs] == [("pos_1", "+"), ("pos_2", "+"), ("neg_1", "-")]
    table = compare_motifs([m.to_motif() for m in motifs], list(jaspar.values()))
    best = best_matches(table, 1).set_index("query")
    names = {m.name: best.loc[m.name, "target_name"] for m in motifs}
    assert sorted(names.values()) == ["CEBPB", "REST", "Spi1"]
    for motif in motifs:
        assert best.loc[motif.name, "qvalue"] < 0.01
        truth = consensus(jaspar[names[motif.name]].pwm).upper()
        found = motif.consensus.upper()
        core = found.strip("acgt").upper() if motif.consensus.strip("acgt") else found
        assert core in truth or reverse_complement(core) in truth, (found, truth)
        assert 70 <= motif.n_seqlets <= 80  # 80 planted sites each, noise seqlets left out
        assert motif.cwm.shape == motif.pwm.shape == motif.hypothetical_cwm.shape
        assert np.sign(motif.cwm.sum()) == (1 if motif.sign == "+" else -1)
        np.testing.assert_allclose(motif.pwm.sum(axis=0), 1, atol=1e-9)


def test_motif_context_is_the_base_frequencies_next_to_its_instances(planted):
    """``left_context``/``right_context`` hold the bases just outside each instance, in the motif's orientation."""
    one_hot, hyp, lengths, seqlets, _ = planted
    motifs = discover_motifs(one_hot, hyp, lengths, seqlets)
    for motif in motifs:
        left, right = motif.left_context, motif.right_context
        assert left.shape[0] == right.shape[0] == 4 and left.shape[1] + motif.pwm.shape[1] + right.shape[1] == 40
        k = 3
        counts = {"left": np.zeros((4, k)), "right": np.zeros((4, k))}
        for row in motif.instances.itertuples():
            region = one_hot[row.region_index]
            before, after = region[:, max(row.start - k, 0):row.start], region[:, row.end:row.end + k]
            if row.rc:  # the motif reads the minus strand: its left flank is the forward right flank, complemented
                before, after = reverse_complement_matrix(after), reverse_complement_matrix(before)
            counts["left"][:, k - before.shape[1]:] += before
            counts["right"][:, :after.shape[1]] += after
        for side, observed in (("left", left[:, -k:]), ("right", right[:, :k])):
            expected = (counts[side] + 0.5) / (counts[side].sum(axis=0, keepdims=True) + 2.0)
            np.testing.assert_allclose(observed, expected, atol=1e-6, err_msg=f"{motif.name} {side}")
        extra = motif.to_motif().extra
        np.testing.assert_array_equal(extra["left_context"], left)
        np.testing.assert_array_equal(extra["right_context"], right)


def test_discovery_instances_point_at_the_planted_sites(planted):
    one_hot, hyp, lengths, seqlets, truth = planted
    motifs = discover_motifs(one_hot, hyp, lengths, seqlets)
    site = {region: (start, minus) for _, region, start, minus in truth}
    for motif in motifs:
        inst = motif.instances
        starts = inst["region_index"].map(lambda r: site[r][0]).to_numpy()
        minus = inst["region_index"].map(lambda r: site[r][1]).to_numpy()
        inside = (inst["start"].to_numpy() >= starts) & (inst["end"].to_numpy() <= starts + 21)
        assert inside.mean() > 0.95
        # trimmed instances sit at one offset in the site per strand; strands agree with the planted ones
        agree = inst["rc"].to_numpy() == minus
        assert agree.mean() > 0.95 or agree.mean() < 0.05
        assert len(set(inst["start"].to_numpy()[minus] - starts[minus])) <= 2
        assert inst["region_index"].is_unique


def test_negative_seqlets_next_to_a_stronger_positive_site_give_a_negative_motif():
    """Negative seqlets 4 bp from a 3x stronger positive site: the '-' motif is the negative site's, not the
    positive one that the alignment window also covers (it was, before cores and trims followed the sign)."""
    rng = np.random.default_rng(3)
    n, length = 80, 200
    one_hot = np.zeros((n, 4, length), np.float32)
    one_hot[np.arange(n)[:, None], rng.integers(0, 4, (n, length)), np.arange(length)[None, :]] = 1
    positive, negative = "TGACTCA", "GGTCCAG"
    hyp = rng.normal(0, 0.02, (n, 4, length)).astype(np.float32)
    for row in range(n):
        for motif, start, value in ((negative, 88, -0.3), (positive, 99, 0.9)):
            block = one_hot_encode(motif)
            one_hot[row, :, start:start + 7] = block
            hyp[row, :, start:start + 7] = block * value
    seqlets = pd.DataFrame({"region_index": np.arange(n), "offset_start": 88, "offset_end": 95, "sign": "-"})
    motifs = discover_motifs(one_hot, hyp, np.full(n, length), seqlets, DiscoveryOptions(min_seqlets=10))
    assert len(motifs) == 1
    motif = motifs[0]
    assert motif.sign == "-" and motif.cwm.sum() < 0
    assert negative in consensus(motif.pwm).upper() or reverse_complement(negative) in consensus(motif.pwm).upper()


def test_a_cluster_on_no_consistent_sequence_is_not_a_motif():
    """Seqlets whose hypothetical contributions agree but whose bases are random cluster, yet are not a motif."""
    rng = np.random.default_rng(4)
    n, length = 60, 120
    one_hot = np.zeros((n, 4, length), np.float32)
    one_hot[np.arange(n)[:, None], rng.integers(0, 4, (n, length)), np.arange(length)[None, :]] = 1
    pattern = rng.normal(0, 1, (4, 10)).astype(np.float32)
    hyp = rng.normal(0, 0.01, (n, 4, length)).astype(np.float32)
    hyp[:, :, 50:60] += np.abs(pattern)  # the same hypothetical pattern at every seqlet, positive everywhere
    seqlets = pd.DataFrame({"region_index": np.arange(n), "offset_start": 50, "offset_end": 60, "sign": "+"})
    lengths = np.full(n, length)
    assert discover_motifs(one_hot, hyp, lengths, seqlets, DiscoveryOptions(min_seqlets=10)) == []
    kept = discover_motifs(one_hot, hyp, lengths, seqlets, DiscoveryOptions(min_seqlets=10, min_strong_columns=0))
    assert len(kept) == 1 and kept[0].n_seqlets == n


def test_mutual_neighbours_joins_items_that_pick_each_other():
    # 0-1-2 are a tight group; 3 is a hub fairly similar to everything; 4 likes 3 but 3 prefers others
    similarity = np.array([
        [1.0, 0.9, 0.8, 0.6, 0.1],
        [0.9, 1.0, 0.85, 0.6, 0.1],
        [0.8, 0.85, 1.0, 0.6, 0.1],
        [0.6, 0.6, 0.6, 1.0, 0.5],
        [0.1, 0.1, 0.1, 0.5, 1.0],
    ])
    adjacency = mutual_neighbours(similarity, 2)
    assert (adjacency == adjacency.T).all() and not adjacency.diagonal().any()
    assert {tuple(map(int, pair)) for pair in np.argwhere(np.triu(adjacency))} == {(0, 1), (0, 2), (1, 2)}
    assert mutual_neighbours(similarity, 10).sum() == 20  # k past n - 1: everyone is everyone's neighbour
    assert not mutual_neighbours(similarity[:1, :1], 3).any()


def test_later_seeding_rounds_find_a_rare_motif_missed_by_the_first_sample(jaspar):
    """40 CTCF seqlets among 3,000: ~4 land in a first seed sample of 300, too few to seed, and they join another
    motif's cluster. A second round seeds on the seqlets no template explains well (unassigned, or cosine < 0.6)
    and finds CTCF, without a fragment of the common motifs."""
    rng = np.random.default_rng(1)
    common = ["GATA1::TAL1", "Spi1", "CEBPB", "FOS::JUN"]
    n, length = 3000, 60
    one_hot = np.zeros((n, 4, length), dtype=np.float32)
    hyp = rng.normal(0, 0.03, size=(n, 4, length)).astype(np.float32)
    rare = set(rng.choice(n, 40, replace=False).tolist())
    rows = []
    for i in range(n):
        sequence = bytearray(random_sequence(length, rng).tobytes())
        name = "CTCF" if i in rare else common[i % 4] if rng.random() < 0.8 else None
        if name is None:
            rows.append((i, 20, 35, "+"))
        else:
            pwm = jaspar[name].pwm
            width = pwm.shape[1]
            start = int(rng.integers(5, length - width - 5))
            minus = bool(rng.random() < 0.5)
            site = sample_site(pwm, rng)
            sequence[start:start + width] = (reverse_complement(site) if minus else site).encode()
            log_odds = np.log2((pwm + 0.01) / 0.25)
            log_odds -= log_odds.mean(axis=0, keepdims=True)
            hyp[i, :, start:start + width] += 0.3 * (reverse_complement_matrix(log_odds) if minus else log_odds)
            rows.append((i, start, start + width, "+"))
        one_hot[i] = one_hot_encode(bytes(sequence))
    seqlets = pd.DataFrame(rows, columns=["region_index", "offset_start", "offset_end", "sign"])

    def found(rounds):
        motifs = discover_motifs(one_hot, hyp, np.full(n, length), seqlets,
                                 DiscoveryOptions(max_seed_seqlets=300, seed_rounds=rounds))
        best = best_matches(compare_motifs([m.to_motif() for m in motifs], list(jaspar.values())), 1)
        best = best.set_index("query")
        named = {best.loc[m.name, "target_name"]: m for m in motifs
                 if best.loc[m.name, "qvalue"] < 0.05}
        return named, len(best)

    named, _ = found(1)
    assert "CTCF" not in named and set(named) == set(common)
    named, n_motifs = found(3)
    assert set(named) == {*common, "CTCF"} and n_motifs == 5  # all five, nothing spurious or twice
    ctcf = named["CTCF"]
    assert set(ctcf.instances["region_index"]) <= rare and ctcf.n_seqlets >= 36


def test_row_cache_gives_the_rows_and_stays_within_its_bytes():
    """Discovery's row cache returns what the array holds and drops the least recently used rows past its cap."""
    from seqsal.motifs.seqlets import RowCache, extract_windows

    reads = []

    class Stored:
        def __init__(self, data):
            self.data = data

        def __len__(self):
            return len(self.data)

        def __getitem__(self, row):
            reads.append(row)
            return self.data[row]

    rng = np.random.default_rng(0)
    data = rng.random((6, 4, 50)).astype(np.float32)
    cache = RowCache(Stored(data), max_bytes=2 * data[0].nbytes)
    rows, starts = np.array([0, 0, 1, 0, 2, 3, 0]), np.array([0, 10, 5, 20, 0, 40, 3])
    lengths = np.full(6, 50)
    got = extract_windows([cache], lengths, rows, starts, 12)[0]
    np.testing.assert_array_equal(got, extract_windows([data], lengths, rows, starts, 12)[0])
    assert cache.held <= 2 * data[0].nbytes and len(cache) == 6
    assert reads.count(0) == 1  # row 0's four windows: one read
    cache[1], cache[2]
    assert reads.count(1) == 2 and 0 not in cache._rows  # row 1 had been dropped; row 0 is now the oldest, gone


# ---------------------------------------------------------------------------
# The discovery re-call: a long motif with little contribution per base
# ---------------------------------------------------------------------------

LONG_SITE = "TGGCCACCAGGGGGCGCTA"  # CTCF's 19-bp consensus (JASPAR MA0139)
CHANCE_WORDS = ("GATAA", "CCAAT")  # short words a toy model reads wherever they occur, shuffled or not


def _toy_tracks(one_hot: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Hypothetical contributions ``(n, 4, L)`` of a toy model: noise (SD 0.05), 0.3 on each base of a chance word
    (1.5 over 5 bp) and 0.13 on each base of :data:`LONG_SITE` (0.78 over 6 bp, 2.5 over its 19)."""
    return word_tracks(one_hot, rng, ((CHANCE_WORDS[0], 0.3), (CHANCE_WORDS[1], 0.3), (LONG_SITE, 0.13)))


def _long_motif_run(folder, n_regions: int = 300, length: int = 600, seed: int = 0):
    """A run folder made without a model (:func:`motif_helpers.toy_run_folder`), :data:`LONG_SITE` in half the
    regions."""
    return toy_run_folder(folder, LONG_SITE, 0.5, _toy_tracks, n_regions, length, seed, first_offset=30)


def test_a_long_motif_with_little_contribution_per_base_is_found_and_kept(tmp_path):
    """A 19-bp site carrying 0.13 per base (2.5 in all) among chance words carrying 0.3 per base (1.5 over 5 bp),
    as CTCF among sharper motifs on a max-pool model. Over 6 bp the site sums 0.78, under the chance words of the
    null, so the old 6-bp re-call kept 118 seqlets, 17 of them on the 154 sites, and found no motif; the re-call and
    the support test over :data:`~seqsal.motifs.run.DISCOVERY_WIDTHS` (24 bp) hold the whole site (2.5, over the
    null's words): seqlets on all 154 sites, and its motif is found and passes the support test (149 windows against
    0 in the null); the chance words do not."""
    from seqsal.motifs import run_motifs

    result = run_motifs(_long_motif_run(tmp_path), progress=False)
    assert len(result["motifs"]) == 1
    motif = result["motifs"][0]
    text = motif.consensus.upper()
    assert motif.sign == "+" and motif.n_seqlets >= 80
    assert any(LONG_SITE[k:k + 12] in text or reverse_complement(LONG_SITE)[k:k + 12] in text for k in range(8))
    row = result["support"].iloc[0]
    assert row["n_support_seqlets"] >= 80 and row["n_null_seqlets"] <= 2 and row["support_pvalue"] < 1e-10
