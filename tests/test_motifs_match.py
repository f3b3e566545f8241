"""seqsal.motifs.match: TOMTOM-style comparison with known motifs."""
import numpy as np
import pytest

from seqsal.motifs import Motif, best_matches, compare_motifs, reverse_complement_matrix
from motif_helpers import jaspar_motifs


def test_compare_motifs_names_the_right_known_motif():
    jaspar = jaspar_motifs()
    rng = np.random.default_rng(0)
    database = list(jaspar.values())
    queries = []
    for name in ("CTCF", "Spi1", "CEBPB"):
        pwm = jaspar[name].pwm[:, 1:-1] + rng.random((4, jaspar[name].pwm.shape[1] - 2)) * 0.2
        queries.append(Motif(name, name, reverse_complement_matrix(pwm / pwm.sum(axis=0))))
    queries.append(Motif("random", "random", rng.dirichlet(np.ones(4), size=10).T))
    table = compare_motifs(queries, database)
    assert len(table) == len(queries) * len(database)
    best = best_matches(table, 1).set_index("query")
    for name in ("CTCF", "Spi1", "CEBPB"):
        assert best.loc[name, "target_name"] == name
        assert best.loc[name, "strand"] == "-" and best.loc[name, "offset"] == 1
        assert best.loc[name, "qvalue"] < 1e-4
    assert best.loc["random", "qvalue"] > 0.05
    assert ((table["pvalue"] >= 0) & (table["pvalue"] <= 1) & (table["qvalue"] >= table["pvalue"])).all()


def _column(base: str, p: float) -> np.ndarray:
    """A PWM column with probability ``p`` on ``base`` and the rest spread evenly."""
    column = np.full(4, (1 - p) / 3)
    column["ACGT".index(base)] = p
    return column


def _pwm(columns: list[tuple[str, float]]) -> np.ndarray:
    return np.stack([_column(base, p) for base, p in columns], axis=1)


def test_a_trimmed_core_with_its_context_prefers_the_known_motif_its_flanks_agree_with():
    """A short core shared by two known motifs: the flanks decide (issue 19: AP-1 core vs MAF's longer MARE).

    Scored on its 7 core columns alone (context 0, the old matcher), the query matches best the known motif with
    the exact copy of its core (``maf``), although that motif's 3 strong columns on each side contradict the
    query's flanks. With its context, the query prefers ``ap1``, whose core differs in its central column but
    whose flanks (a weak ``a`` and ``t``) are the ones the query's seqlets show.
    """
    rng = np.random.default_rng(1)
    core = [("T", 0.9), ("G", 0.9), ("A", 0.9), ("C", 0.45), ("T", 0.9), ("C", 0.9), ("A", 0.9)]
    query_core = _pwm(core)
    query_core[:, 3] = [0.05, 0.45, 0.45, 0.05]  # the palindrome's centre: both strands' bases
    maf = _pwm([("T", 0.85), ("G", 0.85), ("C", 0.85)] + core + [("G", 0.85), ("C", 0.85), ("A", 0.85)])
    maf[:, 6] = query_core[:, 3]
    ap1 = _pwm([("A", 0.6)] + core + [("T", 0.6), ("C", 0.4)])
    ap1[:, 4] = [0.05, 0.2, 0.7, 0.05]
    decoys = [Motif(f"decoy{i}", f"decoy{i}", rng.dirichlet(np.ones(4) * 0.5, size=12).T) for i in range(30)]
    database = [Motif("MAF", "maf", maf), Motif("AP1", "ap1", ap1)] + decoys
    near_uniform = [("A", 0.27), ("T", 0.27), ("C", 0.26), ("G", 0.26)]
    left, right = _pwm(near_uniform + [("A", 0.5)]), _pwm([("T", 0.5), ("C", 0.32)] + near_uniform)
    query = Motif("q", "q", query_core, extra={"left_context": left, "right_context": right})

    old = best_matches(compare_motifs([query], database, context=0), 1).iloc[0]
    assert old["target_id"] == "MAF"  # the old matcher's choice: the sharpest copy of the core
    new = compare_motifs([query], database).set_index("target_id")
    assert new["pvalue"].idxmin() == "AP1"
    assert new.loc["AP1", "pvalue"] < new.loc["MAF", "pvalue"] / 10
    # offsets and overlaps count the motif's own columns, not its context
    assert (new.loc["AP1", "strand"], new.loc["AP1", "offset"], new.loc["AP1", "overlap"]) == ("+", 1, 7)
    # a query without context (e.g. read from a MEME file) is compared by its PWM alone, as before
    plain = compare_motifs([Motif("q", "q", query_core)], database)
    old_table = compare_motifs([query], database, context=0)
    np.testing.assert_array_equal(plain["pvalue"].to_numpy(), old_table["pvalue"].to_numpy())


def test_context_columns_alone_never_make_an_alignment():
    """A target that overlaps only the flanks is not aligned: ``min_overlap`` counts the motif's own columns."""
    core = _pwm([("C", 0.9), ("C", 0.9), ("G", 0.9), ("G", 0.9), ("A", 0.9)])
    flank = _pwm([("T", 0.9)] * 4)
    query = Motif("q", "q", core, extra={"left_context": flank, "right_context": flank})
    target = Motif("T4", "t", _pwm([("T", 0.95)] * 5))  # matches the flanks perfectly, the core not at all
    rng = np.random.default_rng(2)
    decoys = [Motif(f"decoy{i}", f"decoy{i}", rng.dirichlet(np.ones(4) * 0.5, size=8).T) for i in range(20)]
    table = compare_motifs([query], [target, Motif("C", "c", core)] + decoys).set_index("target_id")
    row = table.loc["T4"]
    assert (row["overlap"], row["offset"]) == (5, 0)  # it can only face the core, which it does not match
    assert row["pvalue"] > 0.5
    assert table["pvalue"].idxmin() == "C"


def _random_motifs():
    rng = np.random.default_rng(3)

    def motif(i, width):
        return Motif(f"m{i}", f"n{i}", rng.dirichlet(np.full(4, 0.3), size=width).T)

    return [motif(0, 8), motif(1, 10)], [motif(10 + k, 6 + k % 5) for k in range(12)]


def test_match_q_values_are_bh_and_e_values_count_the_database():
    """mut30: q-values equal to the p-values, and E-values without the database's size, both passed the suite."""
    queries, database = _random_motifs()
    table = compare_motifs(queries, database)
    p = table["pvalue"].to_numpy()
    ranked = np.sort(p)
    m = p.shape[0]
    expected = [min(1.0, min(ranked[j] * m / (j + 1) for j in range(m) if ranked[j] >= v)) for v in p]
    np.testing.assert_allclose(table["qvalue"], expected, rtol=1e-9)
    np.testing.assert_allclose(table["evalue"], p * len(database), rtol=1e-12)


def test_the_column_null_is_the_share_of_column_pairs_at_or_above_the_score():
    """The match p-value of a 2-column alignment: P(S >= s) over every pair of the pool's columns, enumerated (an
    off-by-one giving P(S > s) passed the suite)."""
    from seqsal.motifs.match import _RangeNull, column_pearson

    queries, database = _random_motifs()
    query = queries[0].pwm[:, :2]
    pool = np.concatenate([motif.pwm for motif in database], axis=1)
    bins = 10
    null = _RangeNull(query, pool, bins, 2)
    binned = np.rint(column_pearson(query, pool) * bins).astype(int)
    sums = (binned[0][:, None] + binned[1][None, :]).ravel()
    for score in range(-2 * bins, 2 * bins + 1, 3):
        assert null.pvalue(0, 2, score) == pytest.approx(float(np.mean(sums >= score)), rel=1e-9, abs=1e-15), score
