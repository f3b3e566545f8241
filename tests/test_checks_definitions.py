"""check-seqlets, evaluate, Grad-CAM's fallback layer and the audit's p-values against their definitions.

Each test fails on a mutant of the code the rest of the suite let pass (helper mut30b, session 30:
benchmarks/RESULTS.md); the comment after each name says which rule it holds.
"""
import numpy as np
import pandas as pd
import pytest


def _ns(**k):
    from types import SimpleNamespace
    return SimpleNamespace(**k)


def test_check_pvalue():  # K1 K4: p = (1 + #{controls: -sign x change >= effect}) / (n + 1); confirmed where p <= alpha
    import seqsal.seqlet_check as sc
    from seqsal.attribution import Target
    from test_seqlet_check import _world, TwoMotifs
    captured, orig = [], sc.replacement_changes
    def spy(*a, **k):
        out = orig(*a, **k); captured.append(out); return out
    sc.replacement_changes = spy
    try:
        x, windows, seqlets = _world()
        t = sc.check_seqlets(TwoMotifs(), x, windows, seqlets, Target(), max_seqlets=1000, draws=4, seed=0)
        change, control = captured[0], captured[1]
        sign = np.where(t["sign"] == "+", 1, -1)
        effect = -sign * change
        n = control.shape[0]
        want = np.array([(1 + np.sum(-s * control >= e)) / (n + 1) for s, e in zip(sign, effect)])
        assert t.attrs["n_controls"] == n
        np.testing.assert_allclose(t["pvalue"], want, rtol=0, atol=1e-15)
        assert (want == 1.0).any(), "no seqlet with every control reaching it"
        alpha = 1 / (n + 1)  # a level the p-values attain
        t2 = sc.check_seqlets(TwoMotifs(), x, windows, seqlets, Target(), max_seqlets=1000, draws=4, seed=0,
                              alpha=alpha)
        assert t2["confirmed"].any() and (t2["confirmed"].to_numpy() == (want <= alpha)).all()
    finally:
        sc.replacement_changes = orig


def test_check_order():  # K7: equal q-values: the larger |score| is checked first
    from seqsal.seqlet_check import _most_significant
    df = pd.DataFrame({"score": [1.0, -5.0, 3.0, 9.0], "qvalue": [0.01, 0.01, 0.01, 0.02]})
    assert _most_significant(df).tolist() == [1, 2, 0, 3]


def test_deletion_counts():  # E2: the fraction f replaces round(f L) bases
    from torch import nn
    from seqsal.evaluate import deletion_insertion
    from seqsal.attribution import Target

    class CountA(nn.Module):
        def forward(self, x):
            return x[:, 0, :].sum(dim=1, keepdim=True)

    L = 10
    x = np.zeros((1, 4, L), np.float32); x[:, 0] = 1
    bg = np.zeros_like(x); bg[:, 1] = 1
    scores = np.arange(L, 0, -1, dtype=float)[None]
    fr = np.array([0.0, 0.38, 0.62, 1.0])
    d, i = deletion_insertion(CountA(), x, scores, Target(), bg, fractions=fr)
    np.testing.assert_allclose(d[0], [10, 6, 4, 0]); np.testing.assert_allclose(i[0], [0, 4, 6, 10])


def test_curve_auc():  # E3: trapezoids
    from seqsal.evaluate import curve_auc
    f = np.array([0.0, 0.5, 1.0]); c = np.array([[0.0, 1.0, 0.5]])
    assert curve_auc(c, f)[0] == pytest.approx(0.5 * (0 + 1) / 2 + 0.5 * (1 + 0.5) / 2)


def test_auprc_ties():  # E7: tied scores are one threshold
    from seqsal.evaluate import auprc
    assert auprc(np.array([1.0, 1.0, 0.0]), np.array([1, 0, 0])) == pytest.approx(0.5)
    average_precision_score = pytest.importorskip("sklearn.metrics").average_precision_score  # independent
    rng = np.random.default_rng(0); s = rng.integers(0, 4, 200).astype(float); y = rng.random(200) < 0.3
    assert auprc(s, y) == pytest.approx(average_precision_score(y, s))


def test_spearman_ties():  # E9: Spearman with ties (rows of sparse maps: many zeros)
    from scipy.stats import spearmanr
    from seqsal.evaluate import spearman_rows
    rng = np.random.default_rng(0)
    a = rng.integers(0, 3, (5, 30)).astype(float); b = rng.integers(0, 5, (5, 30)).astype(float)
    want = [spearmanr(a[i], b[i])[0] for i in range(5)]
    np.testing.assert_allclose(spearman_rows(a, b), want, rtol=1e-10)


def test_ground_truth_magnitude():  # E13: a site of negative contribution is found by |score|
    from seqsal.evaluate import ground_truth_scores
    mask = np.zeros((2, 20), bool); mask[:, 5:9] = True
    scores = np.where(mask, -1.0, 0.01)
    out = ground_truth_scores(scores, mask)
    assert out["auroc"] == 1.0 and out["auprc"] == 1.0, out


def test_stability_parts():  # E10 E11: substitutions avoid the top 10 % of |reference|; change relative to the spread
    import torch
    import seqsal.evaluate as ev
    from seqsal.attribution import Target
    from helpers import frozen, random_one_hot
    torch.manual_seed(0)
    model = frozen(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4 * 40, 1)))
    x = random_one_hot(64, 40)
    reference = ev.projected_scores(model, x, "grad_x_input", Target())
    seen, orig = [], ev.projected_scores
    def spy(model, xx, *a, **k):
        seen.append(xx.clone()); return orig(model, xx, *a, **k)
    ev.projected_scores = spy
    try:
        out = ev.stability(model, x, "grad_x_input", Target(), reference)
    finally:
        ev.projected_scores = orig
    perturbed = seen[-1].numpy(); changed = (perturbed != x.numpy()).any(axis=1)
    top = np.abs(reference) >= np.quantile(np.abs(reference), 0.9, axis=1, keepdims=True)
    assert changed.sum() == 2 * 64 and not (changed & top).any()
    with torch.no_grad():
        before, after = model(x)[:, 0].numpy(), model(torch.from_numpy(perturbed))[:, 0].numpy()
    assert out["prediction_change"] == pytest.approx(np.mean(np.abs(after - before)) / np.std(before), rel=1e-5)


def test_gradcam_fallback():  # G3: the probed layer is absent from this batch: the last wide activation, not the first
    import torch
    from torch import nn
    from seqsal.methods.gradcam import gradcam
    from seqsal.attribution import Target

    class Branchy(nn.Module):
        def __init__(self):
            super().__init__()
            torch.manual_seed(0)
            self.c1, self.r1 = nn.Conv1d(4, 6, 5, padding=2), nn.ReLU()
            self.c2, self.r2 = nn.Conv1d(6, 6, 5, padding=2), nn.ReLU()
            self.c3, self.r3 = nn.Conv1d(6, 6, 5, padding=2), nn.ReLU()
            self.head = nn.Linear(6, 1)

        def forward(self, x):
            h = self.r2(self.c2(self.r1(self.c1(x))))
            if bool((x[:, 0, 0] == 1).all()):  # every row starts with A: one more block (the probe's rows do not)
                h = self.r3(self.c3(h))
            return self.head(h.mean(dim=-1))

    model = Branchy().eval()
    for p in model.parameters():
        p.requires_grad_(False)
    bases = torch.randint(0, 4, (4, 60), generator=torch.Generator().manual_seed(1)); bases[:, 0] = 0
    x = torch.nn.functional.one_hot(bases, 4).transpose(1, 2).float()
    default, _ = gradcam(model, x, Target())
    last, _ = gradcam(model, x, Target(), layer="r3")
    first, _ = gradcam(model, x, Target(), layer="r1")
    assert not torch.allclose(last, first, atol=1e-6)  # the check can tell the two apart
    torch.testing.assert_close(default, last, rtol=0, atol=1e-6)


def test_positional_ties():  # A1: a flat track: every null maximum ties the observed one, p = 1
    from seqsal.audit_checks import positional_concentration
    track = np.ones((40, 200)); lengths = np.full(40, 200)
    out = positional_concentration(track, lengths, np.random.default_rng(0), n_null=19)
    assert out["pvalue"] == 1.0, out["pvalue"]


def test_offset_ties():  # A2: no jitter: every null replicate equals the observed pile, p = 1
    from seqsal.audit_checks import offset_clustering
    offsets = np.array([10, 11, 12, 50, 90]); limits = np.full(5, 100)
    out = offset_clustering(offsets, limits, np.random.default_rng(0), window=5, jitter=0, n_null=19)
    assert out["pvalue"] == 1.0, out


def test_spearman_two_sided():  # A4: a perfect negative rank correlation is significant (two-sided)
    from seqsal.audit_checks import spearman_permutation
    x = np.arange(50.0)
    rho, p = spearman_permutation(x, -x, np.random.default_rng(0), n_null=199)
    assert rho == pytest.approx(-1.0) and p == pytest.approx(1 / 200), (rho, p)


def test_bootstrap_tie():  # A6: a ratio of exactly 1 is not evidence of enrichment (p of 'ratio <= 1' is 1)
    from seqsal.audit_checks import row_bootstrap_ratio
    track = np.ones((10, 20)); inside = np.zeros((10, 20), bool); inside[:, :5] = True
    assert row_bootstrap_ratio(track, inside, ~inside, np.random.default_rng(0), n_boot=19) == 1.0


def test_retained_slope():  # A7: slope of y on x, not their correlation
    from seqsal.audit_checks import retained_slope
    x = np.array([0.0, 1, 2, 3, 4])
    assert retained_slope(x, 0.5 * x + 1) == pytest.approx(0.5)


def test_verbatim_expected():  # A9: a word is counted on both strands
    from seqsal.audit_checks import verbatim_expected
    seqs = ["AACCAGTTTG" * 3, "ACGTACGTAA" * 2]
    text = "".join(seqs); f = {b: text.count(b) / len(text) for b in "ACGT"}
    p = f["A"] * f["C"] * f["C"] + f["G"] * f["G"] * f["T"]  # ACC and its reverse complement GGT
    want = sum(1 - (1 - p) ** (len(s) - 3 + 1) for s in seqs)
    assert verbatim_expected(seqs, "ACC") == pytest.approx(want, rel=1e-12)


def test_share_inside_denominator():  # A12: the null's shares are of the whole track, as the observed share is
    from seqsal.audit_checks import share_inside
    rng = np.random.default_rng(0)
    n, L = 60, 100
    track = np.full((n, L), 0.1); mask = np.zeros((n, L), bool)
    mask[:20, 40:50] = True; track[:20, 40:50] = 10.0  # 20 masked rows, the track concentrated in the mask
    track[20:] = 5.0  # 40 rows with no masked base carry most of the track
    out = share_inside(track, mask, np.ones((n, L), bool), np.full(n, L), rng, n_null=99)
    assert out["enrichment"] > 1 and out["pvalue"] <= 0.02, out


def test_composition_bonferroni():  # B1: the strongest of 4 correlations, its p Bonferroni-adjusted over the 4
    import seqsal.audit_checks as ac
    from seqsal.audit_composition import check_composition
    from seqsal.audit_inputs import AuditOptions
    rng = np.random.default_rng(3); n = 40
    gc = rng.uniform(0.3, 0.6, n); cpg = rng.uniform(0, 0.05, n)
    prediction = gc + rng.normal(0, 0.15, n); contribution = rng.normal(size=(n, 30))
    run = _ns(composition=lambda: (gc, cpg), contribution=contribution,
              regions=pd.DataFrame({"prediction": prediction}))
    out = check_composition(run, AuditOptions(), np.random.default_rng(0))
    again = np.random.default_rng(0)
    res = [ac.spearman_permutation(v, c, again) for v in (prediction, contribution.sum(axis=1)) for c in (gc, cpg)]
    rho, p = max(res, key=lambda r: abs(r[0]))
    assert 0 < 4 * p < 1, p
    assert out["pvalue"] == pytest.approx(4 * p), (out["pvalue"], p)


def test_motif_positions_bonferroni():  # B2: each motif's pile-up p, Bonferroni over the motifs tested
    import seqsal.audit_checks as ac
    from seqsal.audit_position import check_motif_positions
    from seqsal.audit_inputs import AuditOptions
    rng = np.random.default_rng(1)
    off = {"m1": np.r_[np.full(8, 100), rng.integers(0, 200, 22)], "m2": rng.integers(0, 200, 30)}
    instances = pd.DataFrame({"motif": np.repeat(["m1", "m2"], 30), "offset": np.r_[off["m1"], off["m2"]],
                              "limit": 200})
    motifs = pd.DataFrame({"motif": ["m1", "m2"], "consensus": ["AAA", "CCC"], "match_qvalue": [np.nan, np.nan]})
    o = AuditOptions()
    rows = check_motif_positions(_ns(lengths=np.full(10, 220)), o, np.random.default_rng(0), motifs, instances)
    again = np.random.default_rng(0); draws = max(199, int(np.ceil(2 * 2 / o.alpha)))
    want = {m: min(1.0, 2 * ac.offset_clustering(off[m], np.full(30, 200), again, jitter=o.jitter,
                                                 n_null=draws)["pvalue"])
            for m in ("m1", "m2")}
    for r in rows:
        m = "m1" if "m1 (" in r["evidence"] else "m2"
        assert r["pvalue"] == pytest.approx(want[m]), (r["pvalue"], want)
    assert any(0 < want[m] < 1 for m in want), want


def test_unexplained_all_explained():  # B5: every resample below the threshold: p = 1
    from seqsal.audit_scan import unexplained_share
    c = np.ones((10, 20)); top = np.ones_like(c, bool)
    out = unexplained_share(c, top, top, np.random.default_rng(0), threshold=0.5, n_boot=19)
    assert out["gap"] == 0.0 and out["pvalue"] == 1.0, out


def test_unmatched_repeated_level():  # B6: 'repeated' is a Poisson p <= alpha, not 2 alpha
    import seqsal.audit_checks as ac
    from seqsal.audit_position import check_unmatched_motifs
    from seqsal.audit_inputs import AuditOptions
    o = AuditOptions()
    word = "ACGTAC"
    for plant in range(1, 40):
        rng = np.random.default_rng(0)
        seqs = ["".join(rng.choice(list("ACGT"), 120)) for _ in range(300)]
        seqs = [word + s[6:] if k < plant else s for k, s in enumerate(seqs)]
        count, expected = ac.verbatim_regions(seqs, word), ac.verbatim_expected(seqs, word)
        p = ac.poisson_upper(count, expected)
        if count >= 5 and o.alpha < p <= 2 * o.alpha:
            break
    else:
        raise AssertionError("no planting gives alpha < p <= 2 alpha")
    share = (o.contribution_share / 2 + o.contribution_share) / 2  # not large: only 'repeated' could report it
    motifs = pd.DataFrame({"motif": ["m1", "m2"], "consensus": [word, "GGGGGG"], "n_seqlets": [1, 1],
                           "contribution": [share, 1 - share], "match_qvalue": [0.9, 0.0]})
    rows = check_unmatched_motifs(_ns(sequences=seqs), o, motifs)
    assert len(rows) == 1 and rows[0]["verdict"] == "ok", (p, rows)


# --- helper mut31 (session 31) ---


def test_control_spans_reach_both_ends():  # K05 K06 K07: a control may end at the window's end and may touch a call
    from seqsal.seqlet_check import control_spans
    windows = pd.DataFrame({"start": [0], "end": [10]})
    for called, want in (([0, 0, 5], [[0, 5, 10]]), ([0, 5, 10], [[0, 0, 5]])):
        called = np.array([called])  # the only free 5-bp stretch is the other half, next to the call
        out = control_spans(called, np.array([5]), windows, called, np.random.default_rng(0))
        assert out.tolist() == want, (called, out)


def test_testable_and_unconfirmed_boundaries():  # K18 K20: 1 / (n + 1) == alpha is testable; half confirmed is no flag
    from seqsal.seqlet_check import testable, unconfirmed_signs
    table = pd.DataFrame({"sign": ["+"] * 10, "confirmed": [True] * 5 + [False] * 5})
    table.attrs["n_controls"] = 99
    assert testable(table, 0.01) and not testable(table, 0.0099)
    fewer = table.assign(confirmed=[True] * 4 + [False] * 6)
    assert unconfirmed_signs(table) == [] and unconfirmed_signs(fewer) == ["+"]  # 5 of 10 confirmed; 4 of 10


def test_controls_avoid_the_lenient_calls(monkeypatch):  # K17: the controls avoid calls at max(0.5, the run's FDR)
    import seqsal.seqlet_check as sc
    import seqsal.motifs.seqlets as ms
    asked = []

    class Stop(Exception):
        pass

    def lenient(out, fdr, **k):
        asked.append(fdr)
        raise Stop
    seqlets = pd.DataFrame({"name": ["a"], "region_index": [0], "start": [10], "end": [20], "sign": ["+"],
                            "score": [1.0], "qvalue": [0.01]})
    monkeypatch.setattr(sc, "read_region_coordinates", lambda path: None)
    monkeypatch.setattr(ms, "seqlet_region_mismatch", lambda s, r: None)
    monkeypatch.setattr(sc, "call_peaks_from_run", lenient)
    for run_fdr, want in ((0.05, 0.5), (0.8, 0.8)):
        record = {"parameters": {}, "peaks": {"fdr": run_fdr}}
        monkeypatch.setattr(sc, "run_inputs", lambda *a, **k: (record, None, None, None, None, 0))
        with pytest.raises(Stop):
            sc.check_seqlets_run("unused", seqlets=seqlets, write=False)
        assert asked[-1] == want, asked


def test_window_spans_edges():  # K24: a seqlet that ends at the window's end is held; one base past it is not
    from seqsal.seqlet_check import window_spans
    windows = pd.DataFrame({"region_index": [0], "start": [0], "end": [100], "strand": ["+"]})
    seqlets = pd.DataFrame({"region_index": [0, 0], "start": [90, 90], "end": [100, 101]})
    assert window_spans(seqlets, windows).tolist() == [[0, 90, 100], [-1, -1, -1]]


def test_alpha_one_is_a_level():  # K25: alpha is in (0, 1]: 1 is taken
    from seqsal.seqlet_check import _check_parameters
    _check_parameters(200, 8, 1.0)
    _check_parameters(None, 1, 1)
