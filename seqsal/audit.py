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
* ``window_edges``, ``padding_and_N``: contribution within ``k`` bp of model-window edges; gradients on N/padding.

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
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from . import audit_checks as ac
from .errors import InputError
from .io import atomic_path, region_arrays, write_table_atomic

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
    motif_share_look: float = 0.1     # instances within 5 bp of one offset
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
    model_regions: int = 50
    shuffles: int = 4
    seed: int = 0
    model: bool = True
    skip: tuple = field(default_factory=tuple)


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

    @property
    def mass(self) -> np.ndarray:
        return np.abs((self.one_hot * self.hyp).sum(axis=1))


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
    result = ac.positional_concentration(mass, run.lengths, rng, options.bin_bp, options.jitter)
    verdict = _grade(result["enrichment"], result["pvalue"], options.position_look, options.position_shortcut,
                     options.alpha)
    start, end = ac.peak_span(mass, run.lengths, result["bin"], options.bin_bp)
    word, count, rows = ac.modal_sequence(run.sequences, start, end)
    centre = np.median(run.lengths) / 2
    evidence = f"peak at offsets {start}-{end} (bin {result['bin']}-{result['bin'] + options.bin_bp})"
    if verdict != "ok":
        evidence += f"; commonest sequence there {word or '-'} in {count} of {rows} regions"
        if abs((start + end) / 2 - centre) <= 25 and count < max(5, 0.05 * rows):
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
        result = ac.offset_clustering(mine["offset"].to_numpy(), mine["limit"].to_numpy(), rng, jitter=options.jitter)
        p_adj = min(1.0, result["pvalue"] * len(tested))
        verdict = _grade(result["share"], p_adj, options.motif_share_look, options.motif_share_shortcut, options.alpha)
        matched = _matched(motif, options)
        centre = np.median(run.lengths) / 2
        if verdict == "shortcut likely" and matched and abs(result["offset"] - centre) <= 50:
            verdict = "look"  # a known motif at the summit of summit-centred regions
        rows.append((result["share"], _row(
            "motif_position", f"share of {motif.motif}'s instances within 5 bp",
            f"jitter of <= {options.jitter} bp (199 draws), Bonferroni over {len(tested)} motifs",
            result["share"], p_adj, verdict,
            f"{motif.motif} ({motif.consensus}): {result['count']} of {len(mine)} instances within 5 bp of offset "
            f"{result['offset']} (null max {result['expected']:.1f})"
            + (f"; matches {motif.match_name}" if matched else "; no database match"))))
    flagged = [row for _, row in rows if row["verdict"] != "ok"]
    if flagged:
        return flagged
    if not rows:
        return [_row("motif_position", "largest share of a motif's instances within 5 bp", "-", np.nan, np.nan, "n/a",
                     "no motif with 10 or more instances")]
    best = max(rows, key=lambda pair: pair[0])[1]
    best["evidence"] = f"{len(rows)} motifs tested, none piled up; largest: " + best["evidence"]
    return [best]


def _matched(motif, options: AuditOptions) -> bool:
    q = getattr(motif, "match_qvalue", np.nan)
    return bool(np.isfinite(q) and q <= options.match_q)


def check_unmatched_motifs(run: _Run, options: AuditOptions, motifs: pd.DataFrame | None) -> list[dict]:
    """Check 2: motifs carrying >= ``contribution_share`` of the motifs' |contribution| with no database match."""
    statistic = "share of the motifs' |contribution| (n_seqlets x |CWM sum|)"
    if motifs is None or not len(motifs):
        return [_row("unmatched_motif", statistic, "-", np.nan, np.nan, "n/a", "no motifs.tsv: run `seqsal motifs`")]
    if "match_qvalue" not in motifs:
        return [_row("unmatched_motif", statistic, "-", np.nan, np.nan, "n/a",
                     "motifs were not matched to a database (seqsal motifs --database none)")]
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
        if motif_share >= options.contribution_share and repeated:
            verdict = "shortcut likely"
        elif motif_share >= options.contribution_share or repeated:
            verdict = "look"
        else:
            continue
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
    projected_sum = (run.one_hot * run.hyp).sum(axis=(1, 2))
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
    from .evaluate import _predict, _run_inputs
    from .shuffle import dinucleotide_shuffle

    statistic = "slope of mean shuffled prediction on prediction"
    try:
        record, model, x, windows, target, seed = _run_inputs(run.path, options.model_regions, options.seed)
    except (InputError, OSError, KeyError, ValueError, RuntimeError) as error:
        return _row("shuffle_response", statistic, "-", np.nan, np.nan, "n/a", f"model not loaded: {error}")
    rc = bool(record.get("parameters", {}).get("rc", False))
    original = _predict(model, x, target, rc=rc)
    shuffled = dinucleotide_shuffle(x.numpy(), n=options.shuffles, seed=options.seed)
    flat = shuffled.reshape(-1, *shuffled.shape[2:])
    import torch

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
                f"{len(original)} windows x {options.shuffles} dinucleotide shuffles; prediction sd "
                f"{np.std(original):.3g}, shuffled sd {np.std(mean_shuffled):.3g}, mean {np.mean(original):.3g} -> "
                f"{np.mean(mean_shuffled):.3g}")


def window_edges(run: _Run) -> list[np.ndarray]:
    """Offsets (reading direction) of the model-window edges inside each region, as the run tiled it."""
    from .engine import fetch_span
    from .regions import tile_starts

    parameters = run.record.get("parameters", {})
    window, stride = parameters.get("window"), parameters.get("stride")
    edges = []
    for i, row in enumerate(run.regions.itertuples(index=False)):
        start, length = int(row.start), int(run.lengths[i])
        fetch_start, fetch_end = fetch_span(start, start + length, window)
        use = length if window is None or window == length else int(window)
        starts = tile_starts(fetch_end - fetch_start, use, int(stride or use))
        cuts = np.unique(np.concatenate([starts, starts + use]) + fetch_start - start)
        cuts = cuts[(cuts >= 0) & (cuts <= length)]
        edges.append(length - cuts if run.minus[i] else cuts)
    return edges


def check_edges(run: _Run, options: AuditOptions, rng: np.random.Generator) -> dict:
    """Check 4a: mean |contribution| within ``edge_k`` bp of the model-window edges against the interior."""
    valid = run.one_hot.max(axis=1) > 0.5
    near = ac.edge_mask(run.lengths, valid.shape[1], window_edges(run), options.edge_k) & valid
    interior = valid & ~near
    edge_mean, interior_mean, ratio = ac.mean_ratio(run.mass, near, interior)
    if not np.isfinite(ratio):
        return _row("window_edges", "mean |contribution| near edges / interior", "-", np.nan, np.nan, "n/a",
                    "no window edge inside the regions (each region got its genomic context)")
    pvalue = ac.row_bootstrap_ratio(run.mass, near, interior, rng)
    verdict = _grade(ratio, pvalue, options.edge_look, options.edge_shortcut, options.alpha)
    return _row("window_edges", f"mean |contribution| within {options.edge_k} bp of window edges / interior",
                "1 = no edge preference; p: regions resampled (199), ratio <= 1", ratio, pvalue, verdict,
                f"edge {edge_mean:.3g}, interior {interior_mean:.3g} over {int(near.sum())} edge bases")


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
        folder.mkdir(exist_ok=True)
    motifs, instances = _table(run, "motifs.tsv"), _instances(run)
    rows = [check_positional_mass(run, options, rng, folder)]
    rows += check_motif_positions(run, options, rng, motifs, instances)
    rows += check_unmatched_motifs(run, options, motifs)
    rows.append(check_composition(run, options, rng))
    rows.append(check_soft_masked(run, options, rng))
    if options.model:
        rows.append(check_shuffle_response(run, options))
    rows.append(check_edges(run, options, rng))
    rows.append(check_padding(run, options, rng))
    table = pd.DataFrame(rows, columns=AUDIT_COLUMNS)
    if write:
        write_table_atomic(run.path / AUDIT_TABLE, table)
    log.info("audit: %s in %.1f s", ", ".join(f"{(table['verdict'] == v).sum()} {v}" for v in VERDICTS
                                             if (table["verdict"] == v).any()), time.perf_counter() - began)
    return table


def audit_section(out_dir: str | os.PathLike) -> str:
    """The report's "Audit" section: ``audit.tsv`` as a table with its histograms, or how to make it."""
    path = Path(out_dir)
    head = '<h2 id="audit">Audit: shortcuts and artefacts</h2>'
    if not (path / AUDIT_TABLE).is_file():
        return head + '<p class="muted">No audit.tsv: run <code>seqsal audit</code> on this folder.</p>'
    table = pd.read_csv(path / AUDIT_TABLE, sep="\t")
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
