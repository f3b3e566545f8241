"""seqsal.motifs.instances / instance_run: motif instance calls at an FDR against the run's shuffled null."""
import logging

import numpy as np
import pandas as pd
import pytest

from motif_helpers import ROOT, jaspar_motifs, planted_run
from seqsal.motifs.adaptive import adaptive_qvalues, enrichment_ranks, noise_scores, one_motif_per_window
from seqsal.motifs.instances import CALL_COLUMNS, calls_bed, calls_table, match_strand, one_per_instance


def draw_motifs(sites: list[int], n0: int, scale: float, rng: np.random.Generator, top: float = 0.3,
                strength: float = 0.05) -> tuple[list, list[int]]:
    """Motifs as ``seqsal.motifs.instance_run`` sees them: per motif ``Poisson(scale n0)`` noise instances of the run
    and ``Poisson(n0)`` of the null (the null on ``1 / scale`` of the run's bases, exchangeable with the run's
    noise), ``u = p * p_match`` with ``p ~ U(0, 1)``, ``p_match ~ U(0, top)``; each motif's ``sites`` true run
    instances have ``p ~ Beta(strength, 1)``. Returns the groups and each motif's count of noise run instances
    (they come first)."""
    groups, noise = [], []
    for n_true in sites:
        k = rng.poisson(n0 * scale)
        run = np.concatenate([rng.random(k) * rng.random(k), rng.beta(strength, 1.0, n_true) * rng.random(n_true)])
        k0 = rng.poisson(n0)
        groups.append((run * top, rng.random(k0) * rng.random(k0) * top, scale, top))
        noise.append(k)
    return groups, noise


def simulate(sites: list[int], n0: int, scale: float, reps: int, seed: int = 0,
             alphas: tuple[float, ...] = (0.05, 0.2)) -> dict[float, tuple[float, float]]:
    """Per alpha, the mean FDP over all motifs' calls and the mean calls of :func:`adaptive_qvalues`, over ``reps``
    draws of :func:`draw_motifs` (one peeling per draw serves every alpha)."""
    rng = np.random.default_rng(seed)
    fdp, calls = np.zeros((len(alphas), reps)), np.zeros((len(alphas), reps))
    for i in range(reps):
        groups, noise = draw_motifs(sites, n0, scale, rng)
        qvalues = adaptive_qvalues(groups)
        for j, alpha in enumerate(alphas):
            called = [q <= alpha for q in qvalues]
            calls[j, i] = sum(int(c.sum()) for c in called)
            fdp[j, i] = sum(int(c[:k].sum()) for c, k in zip(called, noise)) / max(calls[j, i], 1)
    return {alpha: (float(fdp[j].mean()), float(calls[j].mean())) for j, alpha in enumerate(alphas)}


def test_one_fdr_over_all_motifs_holds_on_exchangeable_nulls():
    """The FDR over all motifs' calls at 0.05 and 0.2, measured on simulated motifs (+ 0.015 of Monte Carlo slack, 150
    draws each): one motif of 200 sites, the null on half or twice the run's bases; ten motifs of 8 sites (one
    step-up per motif, each with its own + 1, reaches 0.44 at 0.2 there: measured .19 here); three strong, three weak
    and four noise motifs; noise alone. Calls where each motif alone could not pass: ten motifs of 30 sites at 0.05,
    null on half the run (one step-up per motif: 0.9 calls; measured 212 with 300 null instances a motif). Fails
    without the + 1 (noise alone), when the peeling looks at the sides of the instances left, or with the peeling
    order by what was peeled alone (ten motifs of 30: 0.6 calls)."""
    for sites, scale, n0 in (([200], 2.0, 300), ([200], 0.5, 600), ([8] * 10, 2.0, 100),
                             ([100] * 3 + [15] * 3 + [0] * 4, 0.5, 200), ([0] * 10, 2.0, 100)):
        for alpha, (fdr, _) in simulate(sites, n0, scale, 150).items():
            assert fdr <= alpha + 0.015, (sites, scale, alpha, fdr)
    assert simulate([30] * 10, 100, 2.0, 60, seed=1, alphas=(0.05,))[0.05][1] >= 150


def test_one_motif_is_its_step_up_and_qvalues_call_exactly_at_alpha():
    """One motif: the peeling goes down its u, so by hand the estimates (k0 + 1) / k at the sorted run instances are
    1, 1, 2/3, 1/2, 2/5, 1/2, 3/7 (one null instance below the second, one between the fifth and sixth, one past the
    last) and each q-value is the smallest at or above it: 0.4 x 5, 3/7 x 2; the calls at alpha are q <= alpha (all
    7 at 0.45, 5 at 0.41, none at 0.3), whatever the input order; scale B / B0 multiplies; ties count together."""
    run = np.array([0.001, 0.002, 0.003, 0.01, 0.02, 0.03, 0.5])
    null = np.array([0.0015, 0.025, 0.6])
    q = adaptive_qvalues([(run, null, 1.0, 1.0)])[0]
    np.testing.assert_allclose(q, [0.4] * 5 + [3 / 7] * 2)
    assert [(q <= a).sum() for a in (0.45, 0.41, 0.3)] == [7, 5, 0]
    shuffled = np.random.default_rng(0).permutation(7)
    np.testing.assert_allclose(adaptive_qvalues([(run[shuffled], null, 1.0, 1.0)])[0], q[shuffled])
    np.testing.assert_allclose(adaptive_qvalues([(run, null, 2.0, 1.0)])[0], np.minimum(2 * q, 1.0))
    tied = adaptive_qvalues([(np.array([0.01, 0.01, 0.01]), np.zeros(0), 1.0, 1.0)])[0]
    np.testing.assert_allclose(tied, 1 / 3)
    assert adaptive_qvalues([(np.zeros(0), null, 1.0, 1.0)])[0].shape == (0,)
    assert adaptive_qvalues([]) == []


def copies_sharing_noise(k: int, sites: int, rng: np.random.Generator, n0: int = 30,
                         assign: bool = True) -> tuple[list, list[np.ndarray]]:
    """``k`` near copies of one motif: the same ``Poisson(n0)`` noise windows of the run and of the null (ids shared,
    same u) are candidates of every copy, and each copy has ``sites`` true run instances of its own; with
    ``assign``, :func:`one_motif_per_window` gives each window to one copy, per side. Returns the groups and, per
    motif, which of its run instances are noise."""
    run_ids, null_ids = np.arange(rng.poisson(n0)), np.arange(rng.poisson(n0))
    run_noise = rng.random(run_ids.shape[0]) * rng.random(run_ids.shape[0]) * 0.3
    null_noise = rng.random(null_ids.shape[0]) * rng.random(null_ids.shape[0]) * 0.3
    run_w, run_u, null_w, null_u, noise = [], [], [], [], []
    for m in range(k):
        own = 10_000 + m * sites + np.arange(sites)
        run_w.append(np.concatenate([run_ids, own]))
        run_u.append(np.concatenate([run_noise, rng.beta(0.05, 1.0, sites) * rng.random(sites) * 0.3]))
        null_w.append(null_ids)
        null_u.append(null_noise)
        noise.append(np.arange(run_w[-1].shape[0]) < run_ids.shape[0])
    if assign:
        keep_run, keep_null = one_motif_per_window(run_w, run_u), one_motif_per_window(null_w, null_u)
        run_u = [u[keep] for u, keep in zip(run_u, keep_run)]
        null_u = [u[keep] for u, keep in zip(null_u, keep_null)]
        noise = [n[keep] for n, keep in zip(noise, keep_run)]
    return [(r, n, 1.0, 0.3) for r, n in zip(run_u, null_u)], noise


def test_a_window_that_several_motifs_match_is_one_candidate():
    """Ten near copies of a motif share their noise windows (breakfdr): counted once per copy, one noise window is
    ten false calls against one + 1 (measured 0.12 at 0.05 with 5 sites each, 0.24 on noise alone at 0.2); given to
    the copy it matches best (smallest u), the FDR holds. By hand: each window stays with the smaller u, ties with
    the earlier motif."""
    kept = one_motif_per_window([np.array([0, 1, 2]), np.array([1, 2, 3])],
                                [np.array([0.1, 0.2, 0.3]), np.array([0.1, 0.25, 0.05])])
    assert [k.tolist() for k in kept] == [[True, False, False], [True, True, True]]
    assert one_motif_per_window([], []) == []
    rng = np.random.default_rng(4)
    for sites, alpha in ((5, 0.05), (0, 0.2)):
        fdp = []
        for _ in range(300):
            groups, noise = copies_sharing_noise(10, sites, rng)
            q = adaptive_qvalues(groups)
            false = sum(int((x[n] <= alpha).sum()) for x, n in zip(q, noise))
            fdp.append(false / max(sum(int((x <= alpha).sum()) for x in q), 1))
        assert np.mean(fdp) <= alpha + 0.015, (sites, alpha, np.mean(fdp))


def test_tied_instances_of_a_motif_leave_together():
    """breakfdr's example: motif A's three run instances tied at u 0.1 got q 0.6, 0.33, 0.33 by input order, as
    another motif was peeled between them; a tie now leaves at once, so they share one q."""
    a = (np.array([0.01, 0.1, 0.1, 0.1]), np.zeros(0), 1.0, 0.3)
    b = (np.array([0.2]), np.array([0.2, 0.1]), 1.0, 0.3)
    q = adaptive_qvalues([a, b])[0]
    assert q[1] == q[2] == q[3]
    shuffled = adaptive_qvalues([(a[0][[3, 1, 0, 2]], *a[1:]), b])[0]
    np.testing.assert_allclose(np.sort(shuffled), np.sort(q))


def test_the_peeling_order_reads_what_was_peeled_and_the_u_left():
    """noise_scores: entry i sees only the sides of the first i instances (the peeled) and the enrichment rank of
    the i-th: on all-null peels (1 + s)(w + 0.5)/(w + 1) times the rank under a square root; enrichment_ranks: about
    1 on uniform products, small where instances pile up at small u."""
    ahead = np.full(6, 0.25)
    scores = noise_scores(np.array([True, True, False, False, False, False]), ahead, 1.0, window=2)
    behind = 2.0 * np.array([0.5 / 1, 1.5 / 2, 2.5 / 3, 1.5 / 3, 0.5 / 3, 0.5 / 3])
    np.testing.assert_allclose(scores, np.sqrt(behind * 0.25))
    rng = np.random.default_rng(0)
    noise = rng.random(4000) * rng.random(4000) * 0.2
    assert 0.8 < np.median(enrichment_ranks(noise, 0.2)) <= 1.05
    piled = np.concatenate([noise, rng.random(400) * 1e-5])
    assert enrichment_ranks(piled, 0.2)[-400:].max() < 0.05


def test_one_window_per_instance_and_the_strand_of_a_match():
    rows = np.array([0, 0, 0, 1, 1])
    starts = np.array([10, 12, 40, 10, 11])
    pvalues = np.array([0.3, 0.1, 0.2, 0.5, 0.05])
    matched = np.array([True, True, True, True, False])
    np.testing.assert_array_equal(one_per_instance(rows, starts, pvalues, matched, 5), [1, 2, 3])
    pwm = np.full((4, 3), 0.02)
    pwm[[0, 0, 2], [0, 1, 2]] = 0.94  # AAG; its reverse complement CTT
    one_hot = np.zeros((2, 4, 3), np.float32)
    one_hot[0, [0, 0, 2], [0, 1, 2]] = 1
    one_hot[1, [1, 3, 3], [0, 1, 2]] = 1
    assert list(match_strand(pwm, one_hot)) == ["+", "-"]


def test_calls_table_on_the_genome_once_per_site_and_its_bed():
    regions = pd.DataFrame({"index": [0, 1, 2], "name": ["a", "b", "c"], "chrom": ["chr2", "chr1", "chr1"],
                            "start": [1000, 500, 400], "end": [1600, 1100, 1000]})
    part = pd.DataFrame({"motif": "pos_1", "sign": "+", "region_index": [0, 1, 1], "offset": [5, 100, 100],
                         "width": 10, "strand": ["+", "-", "-"], "pvalue": [0.01, 0.02, 0.02],
                         "match": [0.9, 0.8, 0.8], "match_pvalue": [0.01, 0.2, 0.2],
                         "qvalue": [1e-200, 0.03, 0.03]})
    other = part.iloc[[1]].assign(motif="pos_2", region_index=2, offset=200, pvalue=0.001)  # the same site
    calls = calls_table([part, other], regions)
    assert list(calls.columns) == CALL_COLUMNS
    assert calls[["chrom", "start", "end", "motif"]].values.tolist() == [
        ["chr1", 600, 610, "pos_1"], ["chr1", 600, 610, "pos_2"], ["chr2", 1005, 1015, "pos_1"]]
    assert list(calls["region_name"]) == ["b", "c", "a"]
    bed = calls_bed(calls)
    assert list(bed.columns) == ["chrom", "start", "end", "name", "score", "strand"]
    assert list(bed["score"]) == [15, 15, 1000] and list(bed["strand"]) == ["-", "-", "+"]
    assert list(calls_table([], regions).columns) == CALL_COLUMNS


def test_demo_motif_calls_are_on_planted_sites(demo_run):
    """`seqsal motifs --instance-fdr 0.05` on the demo: motif_calls.tsv (231 calls measured, 91 % on a planted
    site) and its BED; motifs.tsv counts each motif's calls; the files belong to the motifs group."""
    from click.testing import CliRunner

    from seqsal.cli import main
    from seqsal.provenance import status

    result = CliRunner().invoke(main, ["motifs", str(demo_run), "--database", "none", "--instance-fdr", "0.05",
                                       "--quiet"])
    assert result.exit_code == 0, result.output
    calls = pd.read_csv(demo_run / "motif_calls.tsv", sep="\t", dtype={"chrom": str})
    assert list(calls.columns) == CALL_COLUMNS and len(calls) >= 100
    assert (calls["qvalue"] <= 0.05).all() and calls["strand"].isin(["+", "-"]).all()
    assert calls.equals(calls.sort_values(["chrom", "start"], kind="stable").reset_index(drop=True))
    planted = pd.read_csv(ROOT / "data" / "demo" / "planted.bed", sep="\t", header=None)
    on_site = [((planted[0] == c) & (planted[1] < e) & (planted[2] > s)).any()
               for c, s, e in zip(calls["chrom"], calls["start"], calls["end"])]
    assert np.mean(on_site) >= 0.8
    table = pd.read_csv(demo_run / "motifs.tsv", sep="\t")
    assert table["n_calls"].sum() == len(calls)
    assert calls.groupby("motif").size().to_dict() == {m: n for m, n in zip(table["motif"], table["n_calls"]) if n}
    cut = table.set_index("motif")["call_cut"]  # the ranking statistic: window p x match p
    statistic = calls["pvalue"].to_numpy() * calls["match_pvalue"].to_numpy()
    assert (statistic <= cut[calls["motif"]].to_numpy() * (1 + 1e-9)).all()
    assert ((calls["match_pvalue"] > 0) & (calls["match_pvalue"] <= 1)).all()
    threshold = table.set_index("motif")["support_match"]  # a call matches its motif as the support test counts
    assert (calls["match"].to_numpy() >= threshold[calls["motif"]].to_numpy() - 1e-4).all()
    bed = pd.read_csv(demo_run / "motif_calls.bed", sep="\t", header=None)
    assert len(bed) == len(calls) and (bed[4] == np.minimum(1000, (-10 * np.log10(calls["qvalue"])).astype(int))).all()
    assert status(demo_run, "motifs") == "current"


def test_a_kept_motif_without_calls_is_named_with_the_fdr_that_would_call_it(demo_run, tmp_path, caplog):
    """The demo keeps a motif with no call at 0.05 (measured: CTCF, smallest estimate 0.0968); the log names each such
    motif with its smallest estimated FDR, and at that FDR the motif gets its calls."""
    import re
    import shutil

    from seqsal.motifs import run_motifs

    copy = tmp_path / "run"
    shutil.copytree(demo_run, copy)
    with caplog.at_level(logging.INFO, logger="seqsal"):
        first = run_motifs(copy, progress=False, instance_fdr=0.05)
    note = [r.getMessage() for r in caplog.records if r.getMessage().startswith("no instance call at FDR 0.05")]
    uncalled = dict(re.findall(r"(\w+) \(smallest estimated FDR ([0-9.e-]+)\)", note[0])) if note else {}
    counts = first["table"].set_index("motif")["n_calls"]
    assert set(uncalled) == set(counts.index[counts == 0]) and uncalled
    assert all(float(q) > 0.05 for q in uncalled.values())
    shown = first["table"].set_index("motif")["call_min_fdr"]  # motifs.tsv carries it (the report shows it)
    assert all(shown[name] == pytest.approx(float(q), rel=1e-3) for name, q in uncalled.items())
    assert (shown[counts > 0] <= 0.05).all()
    for name, fdr in uncalled.items():  # the FDR shown (rounded up) calls the motif, as given back
        again = run_motifs(copy, progress=False, instance_fdr=min(1.0, float(shown[name])))
        assert again["table"].set_index("motif").loc[name, "n_calls"] > 0, (name, shown[name])
    name, fdr = min(uncalled.items(), key=lambda item: float(item[1]))
    below = run_motifs(copy, progress=False, instance_fdr=float(fdr) * 0.98)
    assert below["table"].set_index("motif").loc[name, "n_calls"] == 0


def test_no_null_no_call_file(tmp_path, caplog):
    """A run without null.npz: no motif is tested, so none is called; an earlier run's call files are removed."""
    from seqsal.io import write_npz
    from seqsal.motifs import run_motifs

    one_hot, hyp, lengths, seqlets, _ = planted_run(jaspar_motifs())
    write_npz(tmp_path / "attributions.npz", {"one_hot": one_hot, "hypothetical": hyp, "length": lengths})
    (tmp_path / "run.json").write_text("{}")  # a finished run's folder holds its record
    pd.DataFrame({"index": np.arange(len(lengths)), "name": [f"r{i}" for i in range(len(lengths))], "chrom": "chr1",
                  "start": np.arange(len(lengths)) * 1000, "end": np.arange(len(lengths)) * 1000 + 200}).to_csv(
        tmp_path / "regions.tsv", sep="\t", index=False)
    seqlets.to_csv(tmp_path / "seqlets.tsv", sep="\t", index=False)
    for name in ("motif_calls.tsv", "motif_calls.bed"):
        (tmp_path / name).write_text("stale\n")
    with caplog.at_level(logging.INFO, logger="seqsal"):
        found = run_motifs(tmp_path, seqlets_path=tmp_path / "seqlets.tsv", database="none", progress=False)
    assert found["motifs"] and found["calls"] is None
    assert not (tmp_path / "motif_calls.tsv").exists() and not (tmp_path / "motif_calls.bed").exists()
    assert "no motif instance calls" in caplog.text
    assert pd.read_csv(tmp_path / "motifs.tsv", sep="\t")["n_calls"].isna().all()


def test_match_pvalues_rank_each_window_in_a_pool_it_belongs_to():
    """A run window's match p is its rank among the null's windows with itself added, a null window's among
    the null's with itself counted once (brute force); ties reach."""
    from seqsal.motifs.instances import match_pvalues
    rng = np.random.default_rng(3)
    null = np.round(rng.random(50), 2)
    run = np.round(rng.random(30), 2)
    np.testing.assert_allclose(match_pvalues(null, run), [(1 + (null >= x).sum()) / 51 for x in run])
    np.testing.assert_allclose(match_pvalues(null, null, own=True), [(null >= x).sum() / 50 for x in null])
    assert match_pvalues(null, np.array([2.0]))[0] == pytest.approx(1 / 51)
    from seqsal.motifs.instances import window_statistics
    run_p, null_p = rng.random(30), rng.random(50)
    run_u, run_match_p, null_u = window_statistics(run_p, run, null_p, null)
    np.testing.assert_allclose(run_match_p, [(1 + (null >= x).sum()) / 51 for x in run])
    np.testing.assert_allclose(run_u, run_p * run_match_p)
    np.testing.assert_allclose(null_u, null_p * np.array([(null >= x).sum() / 50 for x in null]))
    alone = window_statistics(run_p, run, null_p[:0], null[:0])  # no null window: ranked by p alone
    np.testing.assert_allclose(alone[0], run_p)
    np.testing.assert_allclose(alone[1], 1.0)


def simulate_ranked(n_true: int, n0: int, alpha: float, reps: int, rank: str, seed: int = 0) -> tuple[float, float]:
    """Mean FDP and calls of the step-up on windows ranked by :func:`window_statistics` (``rank="product"``) or by
    the window p alone: noise windows have p ~ U(0, 1) and a match ~ Beta(2, 4); true sites a weakly informative
    p ~ Beta(0.6, 1) and a strong match ~ Beta(9, 2); candidates match at >= 0.5; run and null on equal bases."""
    from seqsal.motifs.instances import window_statistics
    rng = np.random.default_rng(seed)
    fdp, calls = np.zeros(reps), np.zeros(reps)
    for i in range(reps):
        n_noise = rng.poisson(n0)
        run_p = np.concatenate([rng.random(n_noise), rng.beta(0.6, 1.0, n_true)])
        run_s = np.concatenate([rng.beta(2, 4, n_noise), rng.beta(9, 2, n_true)])
        null_p, null_s = rng.random(rng.poisson(n0)), rng.beta(2, 4, rng.poisson(n0))
        null_p = null_p[:min(null_p.shape[0], null_s.shape[0])]
        null_s = null_s[:null_p.shape[0]]
        if rank == "product":
            run_u, _, null_u = window_statistics(run_p, run_s, null_p, null_s)
        else:
            run_u, null_u = run_p, null_p
        mine, decoy = run_s >= 0.5, null_s >= 0.5
        qvalues = adaptive_qvalues([(run_u[mine], null_u[decoy], 1.0, 0.5)])[0]
        called = np.zeros(mine.shape[0], bool)
        called[np.flatnonzero(mine)[qvalues <= alpha]] = True
        fdp[i] = called[:n_noise].sum() / max(called.sum(), 1)
        calls[i] = called.sum()
    return float(fdp.mean()), float(calls.mean())


@pytest.mark.parametrize("alpha", [0.05, 0.2])
def test_windows_ranked_by_window_p_times_match_p_keep_the_fdr_and_call_more(alpha):
    """Sites whose contribution barely stands out but whose match does: ranked by p x match p, most of the 100
    sites are called with the FDR held (500 noise windows: mean FDP .035 / .202, 27 / 108 calls); ranked by p
    alone, far fewer (0.6 / 22); on noise alone the FDP stays under the level (0 / .037). Fails when the null's match p-values are taken
    against the run's windows, or the run's without the window itself (each ranks the two sides differently)."""
    fdr, calls = simulate_ranked(100, 500, alpha, 300, "product")
    assert fdr <= alpha + 0.01, fdr
    _, by_p = simulate_ranked(100, 500, alpha, 300, "p")
    assert calls >= 1.5 * by_p + 10, (calls, by_p)
    noise_fdr, _ = simulate_ranked(0, 500, alpha, 300, "product", seed=1)
    assert noise_fdr <= alpha + 0.01, noise_fdr


def test_a_map_that_is_never_negative_is_tested_and_called_against_its_positive_null(tmp_path):
    """Grad-CAM's map is never negative: the null holds no - window. The support test and the instance calls
    refused the whole null for it ("too few tests (+: 3828, -: 0)", advice to enlarge the null); now the + side is
    scored against the + null and the empty sign is left out."""
    from click.testing import CliRunner

    from seqsal.cli import main
    from seqsal.motifs.sides import folder_sides
    from seqsal.motifs.support import SupportOptions, side_parameters

    demo, out = ROOT / "data" / "demo", tmp_path / "gradcam"
    result = CliRunner().invoke(main, ["attribute", str(demo / "genome.fa"), str(demo / "regions.bed"), "--model",
                                       str(demo / "model.safetensors"), "--method", "gradcam", "-o", str(out), "-q"])
    assert result.exit_code == 0, result.output
    options = SupportOptions(test_width=24)
    sides = folder_sides(out, 0.9, *side_parameters(options))
    assert sides is not None
    run, null = sides.calls
    assert (run.windows.signs == 1).all() and run.windows.signs.shape[0] > 0 and (null.windows.signs == 1).all()


def test_a_null_too_small_for_one_sign_leaves_that_sign_out_and_tests_the_other(tmp_path, caplog):
    """fresh16: a null with enough + tests but too few - ones (here 62 and 43 at the 24-bp width, 50 needed) left
    every motif of the run untested and kept; now the - sign is left out and the + motifs are tested."""
    import logging

    from click.testing import CliRunner

    from seqsal.cli import main
    from seqsal.motifs.sides import folder_sides
    from seqsal.motifs.support import SupportOptions, side_parameters

    demo, out = ROOT / "data" / "demo", tmp_path / "small_null"
    result = CliRunner().invoke(main, ["attribute", str(demo / "genome.fa"), str(demo / "regions.bed"), "--model",
                                       str(demo / "model.safetensors"), "--min-null-bases", "1", "--null-fraction",
                                       "0.025", "-o", str(out), "-q"])
    assert result.exit_code == 0, result.output
    logger = logging.getLogger("seqsal")
    logger.addHandler(caplog.handler)  # the CLI run above set the seqsal logger not to propagate
    try:
        sides = folder_sides(out, 0.9, *side_parameters(SupportOptions(test_width=24)))  # as `seqsal motifs`
    finally:
        logger.removeHandler(caplog.handler)
    assert sides is not None, caplog.text
    assert "too few - tests" in caplog.text and "- motifs are not tested" in caplog.text
    run, null = sides.calls
    assert (run.windows.signs == 1).all() and (null.windows.signs == 1).all() and run.windows.signs.shape[0] > 0
