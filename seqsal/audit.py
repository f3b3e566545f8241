"""``seqsal audit``: does the model of a finished run lean on shortcuts or artefacts rather than biology?

A faithful map of a model that learned a shortcut highlights the shortcut (an adapter in every positive, GC
content, the window's edges, padding). From a run folder (``attributions.npz``, ``regions.tsv``, ``run.json``, and
``motifs.tsv``/``motif_instances.tsv`` when ``seqsal motifs`` ran) this writes ``audit.tsv``, one row per check
(:data:`AUDIT_COLUMNS`), and the positional histograms under ``audit/``. The statistics are in
:mod:`seqsal.audit_checks`.

Checks (``check`` column):

* ``positional_mass``: |contribution| concentrated at fixed offsets (reading direction) beyond a local-shift null.
* ``motif_position``: a discovered motif's instances piled at one offset (Bonferroni over motifs).
* ``unmatched_motif``: a motif with a large share of the contribution and no database match; verbatim copies.
* ``composition_correlation``: Spearman correlation of prediction / attribution sum with GC and CpG fraction.
* ``soft_masked``: share of |contribution| on lowercase bases of the genome against their share of the bases.
* ``shuffle_response``: how much of the spread of predictions dinucleotide shuffles keep (needs the model).
* ``window_edges``, ``padding_and_N``: regions peaking within ``k`` bp of model-window edges; gradients on N/padding.
* ``faithfulness_gap``: where ``seqsal evaluate`` ran and its deletion curve shows the model relies on the bases the
  map ranks first, the share of their contribution no database motif covers (a matrix hit or a matched instance).

Verdicts: ``ok``, ``look`` (a statistic beyond its null but a modest effect, or one that biology can also give),
``shortcut likely``, and ``n/a`` (the check could not run; the evidence says why).
"""
from __future__ import annotations

import base64
import html
import json
import logging
import os
import time
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from . import audit_checks as ac
from .errors import InputError
from .io import atomic_path, region_arrays, write_table_atomic
from .provenance import record_written, remove_group, status

log = logging.getLogger("seqsal")

AUDIT_TABLE = "audit.tsv"
AUDIT_FOLDER = "audit"
AUDIT_COLUMNS = ["check", "statistic", "reference", "value", "pvalue", "verdict", "evidence"]
VERDICTS = ("ok", "look", "shortcut likely", "n/a")
STRICT_EXIT_CODE = 3


@dataclass
class AuditOptions:
    """Thresholds of the checks (effect sizes; p-values must also be at most ``alpha``)."""

    alpha: float = 0.01
    bin_bp: int = 10
    jitter: int = 50
    position_look: float = 1.5        # bin / null-mean ratio
    position_shortcut: float = 2.5
    motif_share_look: float = 0.1     # share of a motif's instances within 5 bp of one offset, beyond the null max
    motif_share_shortcut: float = 0.25
    contribution_share: float = 0.2   # of the motifs' total |contribution|
    match_q: float = 0.05
    rho_look: float = 0.4
    rho_shortcut: float = 0.7
    masked_look: float = 1.5
    masked_shortcut: float = 3.0
    retained_look: float = 0.3
    retained_shortcut: float = 0.6
    edge_k: int = 10
    edge_look: float = 1.5
    edge_shortcut: float = 3.0
    edge_excess_look: float = 0.02    # share of regions peaking at a window edge beyond the null (and >= edge_look x)
    edge_excess_shortcut: float = 0.05
    gap_look: float = 0.6             # unexplained share of the contribution the deletion curve removes first
    gap_enrichment: float = 2.0       # ... and those bases hit by motifs less than this many times as often as all
    gap_rows: int = 500               # regions scanned with the database
    hit_pvalue: float = 1e-4          # a database matrix's hit (FIMO's default)
    database: str | None = None       # MEME file; None: the bundled JASPAR subset
    position_rows: int = 1000         # regions in the positional null
    model_regions: int = 50
    shuffles: int = 4
    seed: int = 0
    model: bool = True


@dataclass
class _Run:
    path: Path
    record: dict
    regions: pd.DataFrame
    one_hot: np.ndarray      # (N, 4, L) reading direction
    hyp: np.ndarray          # (N, 4, L) reading direction
    lengths: np.ndarray
    minus: np.ndarray
    sequences: list[str]

    @cached_property
    def contribution(self) -> np.ndarray:
        """``(N, L)`` projected contribution (hypothetical x one-hot, summed over bases)."""
        return (self.one_hot * self.hyp).sum(axis=1)

    @cached_property
    def mass(self) -> np.ndarray:
        """``(N, L)`` |projected contribution|."""
        return np.abs(self.contribution)


def _row(check, statistic, reference, value, pvalue, verdict, evidence) -> dict:
    return dict(zip(AUDIT_COLUMNS, (check, statistic, reference, value, pvalue, verdict, evidence)))


def _grade(effect: float, pvalue: float, look: float, shortcut: float, alpha: float) -> str:
    if not np.isfinite(effect) or pvalue > alpha or effect < look:
        return "ok"
    return "shortcut likely" if effect >= shortcut else "look"


def read_run(out_dir: str | os.PathLike) -> _Run:
    """The arrays and tables of a run folder, minus-strand rows turned to the model's reading direction.

    Raises
    ------
    InputError
        ``attributions.npz`` or ``regions.tsv`` missing, or their row counts differ.
    """
    path = Path(out_dir)
    for name in ("attributions.npz", "regions.tsv"):
        if not (path / name).is_file():
            raise InputError(f"{name} not found; run `seqsal attribute ... -o {path}` first", str(path))
    arrays = region_arrays(path / "attributions.npz", ["one_hot", "hypothetical"])
    regions = pd.read_csv(path / "regions.tsv", sep="\t")
    if len(regions) != len(arrays):
        raise InputError(f"regions.tsv has {len(regions)} rows, attributions.npz {len(arrays)}; rerun the attribution",
                         str(path / "regions.tsv"))
    lengths = arrays.lengths
    one_hot = arrays["one_hot"].padded().astype(np.float32, copy=False)  # (N, 4, max length): the checks' layout
    minus = (regions["strand"].astype(str) == "-").to_numpy() if "strand" in regions else np.zeros(len(one_hot), bool)
    record_path = path / "run.json"
    record = json.loads(record_path.read_text()) if record_path.is_file() else {}
    one_hot = ac.orient(one_hot, lengths, minus)
    hyp = ac.orient(arrays["hypothetical"].padded().astype(np.float32, copy=False), lengths, minus)
    return _Run(path, record, regions, one_hot, hyp, lengths, minus, ac.decode_rows(one_hot, lengths))


def _histogram_png(path: Path, profile: np.ndarray, null_mean: np.ndarray, bin_bp: int, title: str,
                   mark: int | None) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 2.6))
    ax = fig.add_subplot()
    x = np.arange(len(profile)) * bin_bp
    ax.bar(x, np.nan_to_num(profile), width=bin_bp, align="edge", color="#4a7", label="run")
    ax.step(x, np.nan_to_num(null_mean), where="post", color="k", lw=1, label="local-shift null")
    if mark is not None:
        ax.axvline(mark, color="r", lw=0.8)
    ax.set_xlabel("offset in region (bp, reading direction)")
    ax.set_ylabel("mean value")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=90)


def check_positional_mass(run: _Run, options: AuditOptions, rng: np.random.Generator, folder: Path | None) -> dict:
    """Check 1a: |contribution| per offset against the local-shift null (:func:`audit_checks.positional_concentration`)."""
    mass = run.mass
    result = ac.positional_concentration(mass, run.lengths, rng, options.bin_bp, options.jitter,
                                         max_rows=options.position_rows)
    verdict = _grade(result["enrichment"], result["pvalue"], options.position_look, options.position_shortcut,
                     options.alpha)
    start, end = ac.peak_span(mass, run.lengths, result["bin"], options.bin_bp)
    word, count, rows = ac.modal_sequence(run.sequences, start, end)
    centre = np.median(run.lengths) / 2
    evidence = f"peak at offsets {start}-{end} (bin {result['bin']}-{result['bin'] + options.bin_bp})"
    if verdict != "ok":
        evidence += f"; commonest sequence there {word or '-'} in {count} of {rows} regions"
        repeated = len(word) >= 6 and count >= max(5, 0.05 * rows)  # a 1-2 bp word recurs by chance
        if abs((start + end) / 2 - centre) <= 25 and not repeated:
            verdict = "look"  # summit-centred regions put real motifs at the centre; no repeated sequence there
            evidence += "; at the region centre with no repeated sequence (summit-centred regions do this)"
    if folder is not None:
        _histogram_png(folder / "positional_mass.png", result["profile"], result["null_mean"], options.bin_bp,
                       "|contribution| per offset", result["bin"] if verdict != "ok" else None)
        evidence += f"; {AUDIT_FOLDER}/positional_mass.png"
    return _row("positional_mass", "max bin / local-shift null mean", f"{99} local shifts of <= {options.jitter} bp",
                result["enrichment"], result["pvalue"], verdict, evidence)


def _instances(run: _Run) -> pd.DataFrame | None:
    path = run.path / "motif_instances.tsv"
    if not path.is_file():
        return None
    table = pd.read_csv(path, sep="\t")
    index = table["region_index"].to_numpy(dtype=np.int64)
    region_start = run.regions["start"].to_numpy(dtype=np.int64)[index]
    length = run.lengths[index]
    start, end = table["start"].to_numpy(np.int64) - region_start, table["end"].to_numpy(np.int64) - region_start
    minus = run.minus[index]
    table["offset"] = np.where(minus, length - end, start)
    table["limit"] = length - (end - start)
    return table


def check_motif_positions(run: _Run, options: AuditOptions, rng: np.random.Generator,
                          motifs: pd.DataFrame | None, instances: pd.DataFrame | None) -> list[dict]:
    """Check 1b: each motif's instance offsets against local jitter (:func:`audit_checks.offset_clustering`)."""
    if motifs is None or instances is None:
        return [_row("motif_position", "largest share of a motif's instances within 5 bp", "-", np.nan, np.nan, "n/a",
                     "no motifs.tsv / motif_instances.tsv: run `seqsal motifs` first")]
    rows, tested = [], motifs[motifs["motif"].isin(instances["motif"])]
    for motif in tested.itertuples(index=False):
        mine = instances[instances["motif"] == motif.motif]
        if len(mine) < 10:
            continue
        draws = max(199, int(np.ceil(2 * len(tested) / options.alpha)))  # p can reach alpha after Bonferroni
        result = ac.offset_clustering(mine["offset"].to_numpy(), mine["limit"].to_numpy(), rng, jitter=options.jitter,
                                      n_null=draws)
        p_adj = min(1.0, result["pvalue"] * len(tested))
        excess = (result["count"] - result["expected"]) / len(mine)  # effect: beyond what jitter piles up by chance
        verdict = _grade(excess, p_adj, options.motif_share_look, options.motif_share_shortcut, options.alpha)
        matched = _matched(motif, options)
        centre = np.median(run.lengths) / 2
        if verdict == "shortcut likely" and matched and abs(result["offset"] - centre) <= 50:
            verdict = "look"  # a known motif at the summit of summit-centred regions
        rows.append((excess, _row(
            "motif_position", f"share of {motif.motif}'s instances within 5 bp of one offset, beyond the null max",
            f"jitter of <= {options.jitter} bp ({draws} draws), Bonferroni over {len(tested)} motifs",
            excess, p_adj, verdict,
            f"{motif.motif} ({motif.consensus}): {result['count']} of {len(mine)} instances within 5 bp of offset "
            f"{result['offset']}{ac.edge_note(result['offset'], int(mine['limit'].median()), options.edge_k)} "
            f"(null max {result['expected']:.1f})"
            + (f"; matches {motif.match_name}" if matched else "; no database match"))))
    flagged = [row for _, row in rows if row["verdict"] != "ok"]
    if flagged:
        return flagged
    if not rows:
        return [_row("motif_position", "largest share of a motif's instances within 5 bp", "-", np.nan, np.nan, "n/a",
                     "no motif with 10 or more instances" if motifs is not None and len(motifs)
                     else "seqsal motifs found no motif")]
    best = max(rows, key=lambda pair: pair[0])[1]
    best["evidence"] = f"{len(rows)} motifs tested, none piled up; largest: " + best["evidence"]
    return [best]


def _matched(motif, options: AuditOptions) -> bool:
    q = getattr(motif, "match_qvalue", np.nan)
    return bool(np.isfinite(q) and q <= options.match_q)


def check_unmatched_motifs(run: _Run, options: AuditOptions, motifs: pd.DataFrame | None) -> list[dict]:
    """Check 2: motifs carrying >= ``contribution_share`` of the motifs' |contribution| with no database match."""
    statistic = "share of the motifs' |contribution| (n_seqlets x |CWM sum|)"
    why = "no motifs.tsv: run `seqsal motifs`" if motifs is None else "seqsal motifs found no motif" if not len(motifs) \
        else "motifs were not matched to a database (seqsal motifs --database none)" \
        if "match_qvalue" not in motifs or motifs["match_qvalue"].isna().all() else ""
    if why:
        return [_row("unmatched_motif", statistic, "-", np.nan, np.nan, "n/a", why)]
    weight = motifs["n_seqlets"].to_numpy(np.float64) * motifs["contribution"].abs().to_numpy(np.float64)
    share = weight / max(weight.sum(), 1e-30)
    rows = []
    for motif, motif_share in zip(motifs.itertuples(index=False), share):
        if _matched(motif, options) or motif_share < options.contribution_share / 2:
            continue
        word = str(motif.consensus).upper()
        count = ac.verbatim_regions(run.sequences, word)
        expected = ac.verbatim_expected(run.sequences, word)
        pvalue = ac.poisson_upper(count, expected)
        repeated = count >= 5 and pvalue <= options.alpha
        large = motif_share >= options.contribution_share
        if not (large or repeated):
            continue
        verdict = "shortcut likely" if large and repeated else "look"
        rows.append(_row("unmatched_motif", statistic, f"database q > {options.match_q}; verbatim count against "
                         "independent bases (Poisson)", motif_share, pvalue, verdict,
                         f"{motif.motif} consensus {word} (best match q {getattr(motif, 'match_qvalue', np.nan):.2g}) "
                         f"in {count} regions verbatim, {expected:.2g} expected by chance"))
    if rows:
        return rows
    unmatched = [f"{m.motif}" for m in motifs.itertuples(index=False) if not _matched(m, options)]
    return [_row("unmatched_motif", statistic, f"database q > {options.match_q}", float(share.max()), np.nan, "ok",
                 f"{len(motifs)} motifs, {len(unmatched)} unmatched ({', '.join(unmatched) or 'none'}), none with a "
                 f"large share")]


def check_composition(run: _Run, options: AuditOptions, rng: np.random.Generator) -> dict:
    """Check 3a: Spearman correlation of prediction and attribution sum with GC and CpG (permutation p)."""
    gc, cpg = ac.composition(run.one_hot, run.lengths)
    projected_sum = run.contribution.sum(axis=1)
    quantities = {"prediction": run.regions["prediction"].to_numpy(np.float64)
                  if "prediction" in run.regions else np.full(len(gc), np.nan), "attribution sum": projected_sum}
    results = [(name, comp, *ac.spearman_permutation(values, composition_values, rng))
               for name, values in quantities.items()
               for comp, composition_values in (("GC", gc), ("CpG", cpg))]
    finite = [r for r in results if np.isfinite(r[2])]
    if not finite:
        return _row("composition_correlation", "max |Spearman rho|", "-", np.nan, np.nan, "n/a", "too few regions")
    name, comp, rho, pvalue = max(finite, key=lambda r: abs(r[2]))
    pvalue = min(1.0, pvalue * len(finite))
    verdict = _grade(abs(rho), pvalue, options.rho_look, options.rho_shortcut, options.alpha)
    evidence = "; ".join(f"{n} ~ {c}: rho {r:+.2f}" for n, c, r, _ in results)
    return _row("composition_correlation", "max |Spearman rho| of prediction / attribution sum with GC, CpG",
                "999 permutations, Bonferroni over 4", abs(rho), pvalue, verdict,
                f"strongest {name} ~ {comp}; {evidence}; mean GC {np.nanmean(gc):.3f}")


def soft_mask(run: _Run) -> np.ndarray:
    """``(N, L)`` lowercase (soft-masked) bases of the regions in reading direction, from the run's genome.

    Raises
    ------
    InputError
        The genome of ``run.json`` cannot be opened.
    """
    from .genome import genome_of_run

    mask = np.zeros(run.one_hot.shape[::2], dtype=bool)
    with genome_of_run(run.record) as genome:
        for i, row in enumerate(run.regions.itertuples(index=False)):
            start, end = int(row.start), int(row.end)
            text = genome.fetch(row.chrom, start, end)[:int(run.lengths[i])]
            lower = np.frombuffer(text.encode(), dtype=np.uint8) >= 97
            mask[i, :len(lower)] = lower[::-1] if run.minus[i] else lower
    return mask


def check_soft_masked(run: _Run, options: AuditOptions, rng: np.random.Generator) -> dict:
    """Check 3b: share of |contribution| on soft-masked bases against their share of the bases (shift null)."""
    statistic = "|contribution| share / base share on soft-masked bases"
    try:
        mask = soft_mask(run)
    except (InputError, OSError, KeyError) as error:
        return _row("soft_masked", statistic, "-", np.nan, np.nan, "n/a", f"genome of run.json not readable: {error}")
    valid = run.one_hot.max(axis=1) > 0.5
    if not (mask & valid).any():
        return _row("soft_masked", statistic, "-", np.nan, np.nan, "ok", "no soft-masked bases in the regions")
    result = ac.share_inside(run.mass, mask, valid, run.lengths, rng)
    verdict = _grade(result["enrichment"], result["pvalue"], options.masked_look, options.masked_shortcut,
                     options.alpha)
    return _row("soft_masked", statistic, "mask circularly shifted within each region (199 draws)",
                result["enrichment"], result["pvalue"], verdict,
                f"lowercase bases {100 * result['base_share']:.2f} % of the bases, "
                f"{100 * result['track_share']:.2f} % of |contribution|")


def check_shuffle_response(run: _Run, options: AuditOptions) -> dict:
    """Check 3c: predictions of dinucleotide shuffles of a sample of the run's windows against the originals.

    Loads the model of ``run.json`` (through :func:`seqsal.evaluate` 's inputs, the windows exactly as the run fed
    them); at most ``options.model_regions`` regions, ``options.shuffles`` shuffles each.
    """
    import torch

    from .evaluate import _predict, _run_inputs
    from .shuffle import dinucleotide_shuffle

    statistic = "slope of mean shuffled prediction on prediction"
    try:
        record, model, x, windows, target, seed = _run_inputs(run.path, options.model_regions, options.seed)
    except (InputError, OSError, KeyError, ValueError, RuntimeError) as error:
        return _row("shuffle_response", statistic, "-", np.nan, np.nan, "n/a", f"model not loaded: {error}")
    rc = bool(record.get("parameters", {}).get("rc", False))
    called = x.numpy().max(axis=1).mean(axis=1) >= 0.99  # windows with N / padding keep it when shuffled: check 4's
    dropped = int((~called).sum()) if called.sum() >= 10 else 0
    x = x[torch.from_numpy(called)] if dropped else x
    original = _predict(model, x, target, rc=rc)
    shuffled = dinucleotide_shuffle(x.numpy(), n=options.shuffles, seed=options.seed)
    flat = shuffled.reshape(-1, *shuffled.shape[2:])
    mean_shuffled = _predict(model, torch.from_numpy(np.ascontiguousarray(flat)), target, rc=rc)
    mean_shuffled = mean_shuffled.reshape(len(original), options.shuffles).mean(axis=1)
    slope = ac.retained_slope(original, mean_shuffled)
    boot = np.random.default_rng(options.seed)
    slopes = [ac.retained_slope(original[pick], mean_shuffled[pick])
              for pick in (boot.integers(0, len(original), len(original)) for _ in range(199))]
    pvalue = (1 + int(np.sum(np.array(slopes) <= 0))) / 200
    verdict = _grade(slope, pvalue, options.retained_look, options.retained_shortcut, options.alpha)
    return _row("shuffle_response", statistic, "0 = composition keeps none of the spread; bootstrap p of slope <= 0",
                slope, pvalue, verdict,
                f"{len(original)} windows x {options.shuffles} dinucleotide shuffles"
                + (f" ({dropped} windows over 1 % N left out: shuffles keep their Ns)" if dropped else "")
                + "; prediction sd "
                f"{np.std(original):.3g}, shuffled sd {np.std(mean_shuffled):.3g}, mean {np.mean(original):.3g} -> "
                f"{np.mean(mean_shuffled):.3g}")


def window_edges(run: _Run) -> list[np.ndarray]:
    """Offsets (reading direction) of the model-window edges inside each region, as the run tiled it."""
    from .engine import fetch_span
    from .regions import tile_starts

    parameters = run.record.get("parameters", {})
    window, stride = parameters.get("window"), parameters.get("stride")
    edges, known = [], {}  # the cuts depend on the length only (fetch_span widens symmetrically)
    for length, minus in zip(run.lengths.tolist(), run.minus.tolist()):
        if length not in known:
            fetch_start, fetch_end = fetch_span(0, length, window)
            use = length if window is None or window == length else int(window)
            starts = tile_starts(fetch_end - fetch_start, use, int(stride or use))
            cuts = np.unique(np.concatenate([starts, starts + use]) + fetch_start)
            known[length] = cuts[(cuts >= 0) & (cuts <= length)]
        edges.append(length - known[length] if minus else known[length])
    return edges


def check_edges(run: _Run, options: AuditOptions, rng: np.random.Generator) -> dict:
    """Check 4a: regions whose strongest ``edge_k``-bp stretch lies within ``edge_k`` bp of a model-window edge.

    Each region counts once (:func:`audit_checks.peaks_in_zone`), against the peaks jittered by ``jitter`` bp; a
    mean over all regions would dilute an edge shortcut that a fraction of the regions carry. The mean
    |contribution| near the edges against the interior is in the evidence.
    """
    valid = run.one_hot.max(axis=1) > 0.5
    near = ac.edge_mask(run.lengths, valid.shape[1], window_edges(run), options.edge_k) & valid
    interior = valid & ~near
    edge_mean, interior_mean, ratio = ac.mean_ratio(run.mass, near, interior)
    statistic = f"share of regions whose strongest {options.edge_k}-bp stretch is within {options.edge_k} bp of a " \
                "window edge, minus the null share"
    if not np.isfinite(ratio):
        return _row("window_edges", statistic, "-", np.nan, np.nan, "n/a",
                    "no window edge inside the regions (each region got its genomic context)")
    peaks = ac.region_peaks(run.mass, run.lengths, options.edge_k)
    result = ac.peaks_in_zone(peaks, run.lengths, near, rng, options.jitter, n_null=199)
    excess = result["share"] - result["expected"]
    verdict = _grade(excess, result["pvalue"], options.edge_excess_look, options.edge_excess_shortcut, options.alpha)
    if result["ratio"] < options.edge_look:
        verdict = "ok"  # a broad trend (e.g. motifs near the ends of short regions), not a pile at the edge
    flagged = result["rows"]
    evidence = (f"{len(flagged)} of {len(peaks)} regions ({100 * result['share']:.1f} %) peak at a window edge, "
                f"{100 * result['expected']:.1f} % expected under jitter of <= {options.jitter} bp "
                f"({result['ratio']:.2f}x)")
    if len(flagged):
        first = peaks[flagged] < run.lengths[flagged] / 2
        side, word = ac.edge_consensus([run.sequences[i] for i in flagged], first, 2 * options.edge_k)
        evidence += (f"; {int(first.sum())} at the region's first {2 * options.edge_k} bp, {int((~first).sum())} at "
                     f"its last; their {side} {2 * options.edge_k} bp: {word} (upper case: the base of >= half of them)")
    evidence += f"; mean |contribution| near edges {edge_mean:.3g}, interior {interior_mean:.3g} ({ratio:.2f}x)"
    return _row("window_edges", statistic, f"peaks jittered by <= {options.jitter} bp (199 draws)", excess,
                result["pvalue"], verdict, evidence)


def check_padding(run: _Run, options: AuditOptions, rng: np.random.Generator) -> dict:
    """Check 4b: gradient magnitude (max over A/C/G/T of |hypothetical|) on N and padded bases against called bases.

    The projected contribution of an N (all-zero one-hot) is zero by construction, so reliance shows in what the
    model *would* do there: its hypothetical contributions.
    """
    width = run.one_hot.shape[2]
    inside = np.arange(width)[None, :] < run.lengths[:, None]
    called = (run.one_hot.max(axis=1) > 0.5) & inside
    unknown = inside & ~called
    magnitude = np.abs(run.hyp).max(axis=1)
    if not unknown.any():
        return _row("padding_and_N", "mean max|hypothetical| on N/padded bases / on called bases", "-", np.nan,
                    np.nan, "ok", "no N or padded bases in the regions")
    n_mean, called_mean, ratio = ac.mean_ratio(magnitude, unknown, called)
    pvalue = ac.row_bootstrap_ratio(magnitude, unknown, called, rng)
    verdict = _grade(ratio, pvalue, options.edge_look, options.edge_shortcut, options.alpha)
    padded = int(run.regions["padded_bp"].sum()) if "padded_bp" in run.regions else 0
    return _row("padding_and_N", "mean max|hypothetical| on N/padded bases / on called bases",
                "1 = N treated like any base; p: regions resampled (199), ratio <= 1", ratio, pvalue, verdict,
                f"{int(unknown.sum())} N bases ({padded} padded past chromosome ends) in "
                f"{int(unknown.any(axis=1).sum())} regions: {n_mean:.3g} against {called_mean:.3g}")


def check_faithfulness_gap(run: _Run, options: AuditOptions, rng: np.random.Generator, motifs: pd.DataFrame | None,
                           instances: pd.DataFrame | None) -> dict:
    """Check 5: of the bases whose deletion makes half the drop of ``seqsal evaluate``'s deletion curve (the run's
    method; :func:`audit_checks.half_drop_fraction`, :func:`audit_checks.top_bases`), the share of the positive
    contribution outside every database-matrix hit (p < ``hit_pvalue``, :func:`audit_checks.motif_hit_mask`) and
    every instance of a database-matched discovered motif. At most ``look`` (biology the database lacks gives the
    same gap as a shortcut; checks 1-4 name shortcuts), and only when those bases are hit less than
    ``gap_enrichment`` times as often as all bases; ``ok`` when the curve is no steeper than random order's."""
    statistic = "share of the contribution on the bases whose deletion makes half the drop that no database motif covers"
    curves_path, table_path = run.path / "evaluation_curves.tsv", run.path / "evaluation.tsv"
    method = str(run.record.get("method", ""))
    if not curves_path.is_file() or not table_path.is_file() or status(run.path, "evaluation") == "stale":
        mine = row = pd.DataFrame()
    else:
        curves, table = pd.read_csv(curves_path, sep="\t"), pd.read_csv(table_path, sep="\t")
        mine = curves[(curves["method"] == method) & (curves["curve"] == "deletion")].sort_values("fraction")
        row = table[table["method"] == method]
    if mine.empty or row.empty:
        return _row("faithfulness_gap", statistic, "-", np.nan, np.nan, "n/a", "no evaluation of the run's method "
                    f"{method!r} on this run: run `seqsal evaluate --methods {method}` on this folder")
    fraction, drop = ac.half_drop_fraction(mine["fraction"].to_numpy(), mine["mean_target"].to_numpy())
    versus = float(row["deletion_auc_vs_random"].iloc[0])
    if not np.isfinite(fraction) or versus >= 0:
        return _row("faithfulness_gap", statistic, "deletion AUC of the map vs the random order", versus, np.nan, "ok",
                    f"the {method} deletion curve is no steeper than the random order's (AUC {versus:+.3g} vs random):"
                    " it shows no reliance to explain")
    from .motifs import default_database, read_meme

    database = options.database or default_database()
    matrices = [ac.log_odds(m.pwm) for m in read_meme(database)] if database else []
    thresholds = [ac.score_threshold(m, options.hit_pvalue) for m in matrices]
    n = len(run.lengths)
    rows = np.sort(rng.choice(n, options.gap_rows, replace=False)) if n > options.gap_rows else np.arange(n)
    explained = ac.motif_hit_mask(run.one_hot[rows], matrices, thresholds)
    matched = set() if motifs is None or instances is None or "match_qvalue" not in motifs else \
        set(motifs.loc[motifs["match_qvalue"] <= options.match_q, "motif"])
    if matched:
        hits = instances[instances["motif"].isin(matched)]
        explained |= ac.instance_mask(rows, explained.shape[1], hits["region_index"].to_numpy(np.int64),
                                      hits["offset"].to_numpy(np.int64), (hits["end"] - hits["start"]).to_numpy(np.int64))
    top = ac.top_bases(run.contribution[rows], run.lengths[rows], fraction)
    result = ac.unexplained_share(run.contribution[rows], top, explained, rng, options.gap_look)
    enrichment = result["explained_bases"] / max(explained.sum() / run.lengths[rows].sum(), 1e-9)
    verdict = "look" if _grade(result["gap"], result["pvalue"], options.gap_look, 1.0, options.alpha) != "ok" \
        and enrichment < options.gap_enrichment else "ok"
    return _row("faithfulness_gap", statistic, f"bootstrap over regions (199): p of a share below {options.gap_look}",
                result["gap"], result["pvalue"], verdict, f"the top {100 * fraction:.0f} % of bases ({method}) make half "
                f"the deletion drop of {drop:.3g} (AUC {versus:+.3g} vs random); {100 * (1 - result['gap']):.0f} % of "
                f"their contribution is in hits of {len(matrices)} database motifs (p < {options.hit_pvalue:g}) or "
                f"instances of {len(matched)} matched motifs, covering {100 * result['explained_bases']:.0f} % of those "
                f"bases, {enrichment:.1f}x all bases; {len(rows)} regions")


def _table(run: _Run, name: str) -> pd.DataFrame | None:
    path = run.path / name
    return pd.read_csv(path, sep="\t") if path.is_file() else None


def audit_run(out_dir: str | os.PathLike, options: AuditOptions | None = None, write: bool = True) -> pd.DataFrame:
    """Audit a finished run folder for shortcuts and artefacts the model relies on.

    Parameters
    ----------
    out_dir
        A folder of ``seqsal attribute`` (``seqsal motifs`` adds the motif checks).
    options
        Thresholds and sample sizes (:class:`AuditOptions`); ``model=False`` skips the one check that runs the model.
    write
        Write ``audit.tsv`` and ``audit/*.png`` into the folder.

    Returns
    -------
    pandas.DataFrame
        One row per check, columns :data:`AUDIT_COLUMNS`.

    Raises
    ------
    InputError
        ``attributions.npz`` or ``regions.tsv`` missing or inconsistent.
    """
    options = options or AuditOptions()
    began = time.perf_counter()
    run = read_run(out_dir)
    rng = np.random.default_rng(options.seed)
    folder = run.path / AUDIT_FOLDER if write else None
    if folder is not None:
        remove_group(run.path, "audit")  # no figure of an earlier audit stays beside this one's
        folder.mkdir(exist_ok=True)
    motifs, instances = (_table(run, "motifs.tsv"), _instances(run)) if status(run.path, "motifs") != "stale" \
        else (None, None)  # motifs of other attributions are not this run's
    rows = [check_positional_mass(run, options, rng, folder)]
    rows += check_motif_positions(run, options, rng, motifs, instances)
    rows += check_unmatched_motifs(run, options, motifs)
    rows.append(check_composition(run, options, rng))
    rows.append(check_soft_masked(run, options, rng))
    if options.model:
        rows.append(check_shuffle_response(run, options))
    rows.append(check_edges(run, options, rng))
    rows.append(check_padding(run, options, rng))
    rows.append(check_faithfulness_gap(run, options, rng, motifs, instances))
    table = pd.DataFrame(rows, columns=AUDIT_COLUMNS)
    if write:
        write_table_atomic(run.path / AUDIT_TABLE, table)
        record_written(run.path, "audit")  # and a report drawn before this audit is removed
    log.info("audit: %s in %.1f s", ", ".join(f"{(table['verdict'] == v).sum()} {v}" for v in VERDICTS
                                             if (table["verdict"] == v).any()), time.perf_counter() - began)
    return table


def audit_section(out_dir: str | os.PathLike) -> str:
    """The report's "Audit" section: ``audit.tsv`` as a table with its histograms, or how to make it."""
    path = Path(out_dir)
    head = '<h2 id="audit">Audit: shortcuts and artefacts</h2>'
    if not (path / AUDIT_TABLE).is_file():
        return head + '<p class="muted">No audit.tsv: run <code>seqsal audit</code> on this folder.</p>'
    table = pd.read_csv(path / AUDIT_TABLE, sep="\t", keep_default_na=False, na_values=[""])  # "n/a" is a verdict
    flagged = table[table["verdict"].isin(["look", "shortcut likely"])]
    lines = "".join(
        f"<tr><td>{html.escape(str(r.check))}</td><td><b>{html.escape(str(r.verdict))}</b></td>"
        f"<td>{'' if pd.isna(r.value) else f'{r.value:.3g}'}</td><td>{'' if pd.isna(r.pvalue) else f'{r.pvalue:.2g}'}"
        f"</td><td>{html.escape(str(r.statistic))}</td><td>{html.escape(str(r.evidence))}</td></tr>"
        for r in table.itertuples(index=False))
    images = "".join(
        f'<img alt="{html.escape(png.stem)}" src="data:image/png;base64,{base64.b64encode(png.read_bytes()).decode()}">'
        for png in sorted((path / AUDIT_FOLDER).glob("*.png")))
    summary = (f'<div class="warn">{len(flagged)} of {len(table)} checks flagged</div>' if len(flagged)
               else f"<p>All {len(table)} checks ok or not applicable.</p>")
    return (head + summary + "<table><tr><th>check</th><th>verdict</th><th>value</th><th>p</th><th>statistic</th>"
            "<th>evidence</th></tr>" + lines + "</table>" + images)
