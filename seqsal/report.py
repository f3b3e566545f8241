"""Pictures of a run folder: logo files (``seqsal logos``) and a single-file HTML report (``seqsal report``).

Both read what earlier commands wrote (``attributions.npz``, ``regions.tsv``,
``run.json``, ``seqlets.tsv``/``elements.tsv`` from the peak caller,
``motifs.*`` from ``seqsal motifs``) and draw with :mod:`seqsal.plot`; nothing
is recomputed. The report embeds every image as a data URI and loads nothing
from the network.
"""
from __future__ import annotations

import html
import logging
import os
import re
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .audit import audit_section
from .errors import InputError, option
from .io import RegionArrays, region_arrays
from .provenance import GROUPS, read_json_record, record_path, stale_text, status, write_record
from .motifs import read_motif_arrays
from .motifs.export import MATCH_Q, match_label
from .plot import LogoJob, calibration_figure, remove_other_logos, render_jobs
from .report_tables import (_CSS, EVALUATION_TABLES, _img, _table, calls_heading, evaluation_section, figure_png,
                            outlook_line, prediction_histogram, render_all, seqlet_check_section, support_note,
                            target_text, timing_text)
from .runlock import locks_run_folder
from .tables import read_tsv
from .text import plural

log = logging.getLogger("seqsal")

FORMATS = ("png", "svg", "pdf")


@dataclass
class RunFolder:
    """What a run folder holds, read lazily (the attribution arrays are memory maps).

    ``stale`` maps each derived group (:data:`seqsal.provenance.GROUPS`) that no longer matches the folder's
    attributions or calls to why (:func:`seqsal.provenance.stale_text`): its files are left out (:meth:`shown`).
    ``unrecorded`` lists the groups present without a provenance record (an older seqsal): shown, not checked."""

    path: str
    arrays: RegionArrays
    regions: pd.DataFrame
    record: dict
    stale: dict = field(default_factory=dict)
    unrecorded: list = field(default_factory=list)

    @classmethod
    def open(cls, path: str | os.PathLike) -> "RunFolder":
        path = str(path)
        for name in ("attributions.npz", "regions.tsv"):
            if not os.path.isfile(os.path.join(path, name)):
                raise InputError(f"{name} not found; run `seqsal attribute` into this folder first", path)
        record_path = os.path.join(path, "run.json")
        record = read_json_record(record_path) if os.path.isfile(record_path) else {}
        states = {name: status(path, name) for name in ("calls", "motifs", "evaluation", "seqlet_check", "audit")}
        stale = {name: stale_text(path, name) for name, state in states.items() if state == "stale"}
        for why in stale.values():
            log.warning("left out %s", why)
        return cls(path, region_arrays(os.path.join(path, "attributions.npz"), ("one_hot", "hypothetical")),
                   read_tsv(os.path.join(path, "regions.tsv")), record, stale,
                   [name for name, state in states.items() if state == "unrecorded"])

    def file(self, name: str) -> str:
        return os.path.join(self.path, name)

    def shown(self, name: str) -> bool:
        """Whether file ``name`` is there and not of a stale group (what may be shown as this run's)."""
        return os.path.exists(self.file(name)) and not any(name in GROUPS[group].outputs for group in self.stale)

    def table(self, name: str) -> pd.DataFrame | None:
        """``seqlets``/``elements``/``motifs``/``motif_matches`` table, or ``None`` when absent, stale or empty
        (a file without even a header, as ``seqsal evaluate`` once wrote for a receptive field it could not
        measure)."""
        if not self.shown(f"{name}.tsv"):
            return None
        try:
            return read_tsv(self.file(f"{name}.tsv"))
        except pd.errors.EmptyDataError:
            return None

    def length(self, row: int) -> int:
        return int(self.arrays.lengths[row])

    def window(self, row: int, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray, int, int]:
        """One-hot and hypothetical ``(4, hi - lo)`` of a row, clipped to it; returns arrays and the clipped bounds."""
        lo, hi = max(lo, 0), min(hi, self.length(row))
        return (np.array(self.arrays["one_hot"][row][:, lo:hi]), np.array(self.arrays["hypothetical"][row][:, lo:hi]),
                lo, hi)


def motifs_in_calls(calls: pd.DataFrame, instances: pd.DataFrame | None, motifs: pd.DataFrame | None) -> list[str]:
    """For each call (genome ``chrom``/``start``/``end``), the motifs with an instance (or instance call) overlapping it.

    Returns one string per call, e.g. ``"pos_1 (FOS::JUN) x2, neg_1 (REST)"``: the motif, its best database
    match when ``q < 0.05``, and how many of its instances overlap the call; ``""`` for none."""
    if instances is None or instances.empty:
        return [""] * len(calls)
    names = {}
    if motifs is not None and "match_name" in motifs:
        for row in motifs.itertuples():
            good = isinstance(row.match_name, str) and float(getattr(row, "match_qvalue", 1.0)) < MATCH_Q
            names[row.motif] = f"{row.motif} ({row.match_name})" if good else row.motif
    out = []
    for chrom, start, end in zip(calls["chrom"], calls["start"], calls["end"]):
        inside = instances[(instances["chrom"] == chrom) & (instances["start"] < end) & (instances["end"] > start)]
        counts = inside["motif"].value_counts(sort=False)
        out.append(", ".join(f"{names.get(m, m)}{f' x{n}' if n > 1 else ''}" for m, n in counts.items()))
    return out


def top_calls(table: pd.DataFrame, n: int) -> pd.DataFrame:
    """The ``n`` best seqlets/elements, each site once (:func:`seqsal.peaks.unique_calls`): by ``rank`` when
    present, else by ``|score|``."""
    from .peaks import unique_calls

    table = unique_calls(table)
    if "rank" in table:
        return table.sort_values("rank", kind="stable").head(n)
    return table.reindex(table["score"].abs().sort_values(ascending=False, kind="stable").index).head(n)


def _call_title(row) -> str:
    parts = [f"{row.chrom}:{int(row.start):,}-{int(row.end):,}", f"({row.sign})"]
    if hasattr(row, "score"):
        parts.append(f"score {float(row.score):.3g}")
    if hasattr(row, "qvalue"):
        parts.append(f"q {float(row.qvalue):.2g}")
    return f"{getattr(row, 'name', '')}  " + " ".join(parts)


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in str(name))


def call_jobs(run: RunFolder, table: pd.DataFrame, kind: str, top: int, fmt: str, flank: int = 5,
              hypothetical: bool = False, context: int = 50) -> list[LogoJob]:
    """Logo jobs for the top seqlets or elements: a contribution logo each, and a region view of each element.

    ``kind`` is ``seqlets`` or ``elements``; files go to ``logos/<kind>/``."""
    jobs = []
    spans = _all_spans(run)
    for row in top_calls(table, top).itertuples(index=False):
        region = int(row.region_index)
        region_start = int(run.regions.loc[run.regions["index"] == region, "start"].iloc[0]) if "index" in run.regions \
            else int(row.start) - int(row.offset_start)
        one_hot, hyp, lo, _ = run.window(region, int(row.offset_start) - flank, int(row.offset_end) + flank)
        stem = f"{int(getattr(row, 'rank', 0)):05d}_{_safe(getattr(row, 'name', f'{kind}_{region}'))}"
        title = _call_title(row)
        jobs.append(LogoJob(os.path.join(run.path, "logos", kind, f"{stem}.{fmt}"), "seqlet", {
            "one_hot": one_hot, "hypothetical": hyp, "title": title, "genome_start": region_start + lo,
            "show_hypothetical": hypothetical}))
        if kind == "elements":
            one_hot, hyp, lo, hi = run.window(region, int(row.offset_start) - context, int(row.offset_end) + context)
            jobs.append(LogoJob(os.path.join(run.path, "logos", "regions", f"{stem}.{fmt}"), "region", {
                "one_hot": one_hot, "hypothetical": hyp, "chrom": row.chrom, "genome_start": region_start + lo,
                "spans": _spans_in(spans, row.chrom, region_start + lo, region_start + hi), "title": title}))
    return jobs


def _all_spans(run: RunFolder) -> pd.DataFrame:
    frames = []
    for kind, short in (("elements", "E"), ("seqlets", "S")):
        table = run.table(kind)
        if table is not None and len(table):
            frames.append(table[["chrom", "start", "end", "sign"]].assign(label=short, layer=kind))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["chrom", "start", "end", "sign",
                                                                                      "label", "layer"])


def _spans_in(spans: pd.DataFrame, chrom: str, start: int, end: int) -> pd.DataFrame:
    return spans[(spans["chrom"] == chrom) & (spans["start"] < end) & (spans["end"] > start)]


def region_jobs(run: RunFolder, top: int, fmt: str, max_width: int = 1000) -> list[LogoJob]:
    """Region views of the ``top`` regions by prediction (centred window of at most ``max_width`` bp)."""
    regions = run.regions
    if "status" in regions:
        regions = regions[regions["status"] != "all_N"]
    order = regions.sort_values("prediction", ascending=False, kind="stable").head(top)
    spans = _all_spans(run)
    jobs = []
    for rank, row in enumerate(order.itertuples(index=False), 1):
        length = run.length(int(row.index))
        lo = max(0, (length - max_width) // 2)
        one_hot, hyp, lo, hi = run.window(int(row.index), lo, lo + max_width)
        title = f"{row.name}  {row.chrom}:{int(row.start) + lo:,}-{int(row.start) + hi:,}  prediction {float(row.prediction):.3g}"
        jobs.append(LogoJob(os.path.join(run.path, "logos", "regions", f"top{rank:04d}_{_safe(row.name)}.{fmt}"),
                            "region", {"one_hot": one_hot, "hypothetical": hyp, "chrom": row.chrom,
                                       "genome_start": int(row.start) + lo,
                                       "spans": _spans_in(spans, row.chrom, int(row.start) + lo, int(row.start) + hi),
                                       "title": title}))
    return jobs


def motif_jobs(run: RunFolder, fmt: str) -> list[LogoJob]:
    """Motif figures (CWM and PWM, both strands) of every motif of ``motifs.tsv``; empty when there are none."""
    table = run.table("motifs")
    if table is None or not len(table):
        return []
    arrays = read_motif_arrays(run.file("motifs.npz"))
    jobs = []
    for row in table.itertuples(index=False):
        matrices = arrays[row.motif]
        match = match_label(getattr(row, "match_name", None), getattr(row, "match_qvalue", None))
        title = f"{row.motif} ({row.sign})  {int(row.n_seqlets)} seqlets  {row.consensus}  {match}".rstrip()
        jobs.append(LogoJob(os.path.join(run.path, "logos", "motifs", f"{_safe(row.motif)}.{fmt}"), "motif",
                            {"cwm": matrices["cwm"], "pwm": matrices["pwm"], "title": title}))
    return jobs


@locks_run_folder("logos")
def write_logos(out_dir: str | os.PathLike, top: int = 50, fmt: str = "png", workers: int = 1,
                hypothetical: bool = False, progress: bool = True) -> dict:
    """Write logos of a run folder under ``out/logos/``: top seqlets and elements, region views, motifs.

    Without seqlet/element tables (no peak calls yet) the top regions by prediction are drawn as region views instead.

    Parameters
    ----------
    out_dir, top, fmt, workers, hypothetical, progress
        A ``seqsal attribute`` folder; the seqlets and the elements drawn (each; without calls, the regions by
        prediction); ``png``, ``svg`` or ``pdf``; drawing processes; also draw hypothetical logos; a progress bar.

    Returns
    -------
    dict
        ``paths`` written, ``seconds`` and ``logos_per_second``.

    Raises
    ------
    InputError
        An unknown ``fmt``; no ``attributions.npz``/``regions.tsv``; a damaged ``run.json``; an unfinished run or
        another seqsal process holding the folder's lock."""
    if fmt not in FORMATS:
        raise InputError(f"{option('fmt')} {fmt!r}: choose one of {', '.join(FORMATS)}")
    run = RunFolder.open(out_dir)
    jobs: list[LogoJob] = []
    calls = False
    for kind in ("seqlets", "elements"):
        table = run.table(kind)
        if table is not None and len(table):
            calls = True
            jobs += call_jobs(run, table, kind, top, fmt, hypothetical=hypothetical)
    if not calls:
        log.info("%s in %s: drawing the top %s instead", "no seqlet or element called (seqlets.tsv and elements.tsv "
                 "are empty)" if run.table("seqlets") is not None else "no seqlets.tsv/elements.tsv", run.path,
                 plural(top, "region"))
        jobs += region_jobs(run, top, fmt)
    jobs += motif_jobs(run, fmt)
    started = time.perf_counter()
    record_path(run.path, "logos").unlink(missing_ok=True)  # killed while drawing: unrecorded, not read as current
    paths = render_jobs(jobs, workers=workers, progress=progress)
    if removed := remove_other_logos(os.path.join(run.path, "logos"), paths):
        log.info("removed %s an earlier logos run drew", plural(removed, "logo"))
    write_record(run.path, "logos")
    seconds = time.perf_counter() - started
    rate = len(paths) / seconds if seconds > 0 else float("inf")
    log.info("%s in %.1f s (%.1f logos/s) -> %s", plural(len(paths), "logo"), seconds, rate,
             os.path.join(run.path, "logos"))
    return {"paths": paths, "seconds": seconds, "logos_per_second": rate}


# --------------------------------------------------------------------------- report.html

def _calibration_absent(peaks: dict | None) -> str:
    """Why a run folder's ``run.json`` has no ``peaks.calibration``, and what to run."""
    if not peaks:
        return ("No peak calls in this run (it ran with <code>--no-peaks</code>, or run.json is missing): run "
                "<code>seqsal call-peaks</code> on this folder to call seqlets and record their calibration.")
    if "calls" in peaks and "n_tests" not in peaks:
        return ("This folder is one shard; calls are made after merging: <code>seqsal merge</code> the shards, "
                "then <code>seqsal call-peaks</code> the merged folder.")
    return ("run.json has peak calls but no <code>peaks.calibration</code>: it was written by an older seqsal. "
            "Rerun <code>seqsal call-peaks</code> on this folder (no model needed) to record it.")


def calibration_table(peaks: dict) -> pd.DataFrame:
    """One row per sign of ``peaks.calibration``: the null, its sample and fit, and the bulk ratio.

    Columns: ``sign``, ``tests``, ``null kind``, ``null tests``, ``null regions`` and ``copies`` (of
    ``peaks.null_sample``; empty where the Laplace null was used), ``null scale`` (``peaks.null_model``),
    ``region spread`` (``calibration.null_row_spread``: sd of the null regions' log noise level, see
    :func:`seqsal.peaks.calling.row_scale_spread`), ``smallest counted p``, ``tail shape``, ``tail fit ok`` and
    ``bulk ratio`` (observed over expected tests at ``p <= 0.5``; near 1 when the null represents the background).

    Parameters
    ----------
    peaks
        The ``peaks`` entry of ``run.json`` (see :func:`seqsal.peaks.calibration.calibration_summary`).

    Returns
    -------
    pandas.DataFrame
        Up to two rows, ``+`` then ``-``; a value the record lacks is missing (NaN/None).
    """
    calibration, sample = peaks.get("calibration", {}), peaks.get("null_sample") or {}
    fits = peaks.get("null_model") or {}
    rows = []
    for sign in ("+", "-"):
        entry = calibration.get(sign)
        if not isinstance(entry, dict):
            continue
        fit_ok = entry.get("tail_fit_ok")
        shuffled = entry.get("null_kind") == "empirical"  # the sample of null.npz is this sign's null
        rows.append({"sign": sign, "tests": entry.get("tests"), "null kind": entry.get("null_kind"),
                     "null tests": entry.get("null_tests"),
                     "null regions": sample.get("n_regions") if shuffled else None,
                     "copies": sample.get("copies") if shuffled else None,
                     "null scale": (fits.get(sign) or {}).get("scale"),
                     "region spread": (calibration.get("null_row_spread") or {}).get("sd_log_scale") if shuffled
                     else None,
                     "smallest counted p": entry.get("smallest_counted_p"), "tail shape": entry.get("tail_shape"),
                     "tail fit ok": None if fit_ok is None else ("yes" if fit_ok else "NO"),
                     "bulk ratio": entry.get("bulk_ratio")})
    return pd.DataFrame(rows)


def _code_spans(text: str) -> str:
    """HTML-escaped ``text`` with its `backquoted` commands and ``--options`` set as code."""
    pieces = html.escape(text).split("`")
    if len(pieces) % 2 == 0:  # an unpaired backquote: the last one is text
        pieces[-2:] = ["`".join(pieces[-2:])]
    option = re.compile(r"(?<![\w-])(--[a-z][a-z-]*)")
    return "".join(f"<code>{piece}</code>" if k % 2 else option.sub(r"<code>\1</code>", piece)
                   for k, piece in enumerate(pieces))


def calibration_warnings(record: dict) -> list[str]:
    """``peaks.calibration.warnings`` of a ``run.json`` record (a shuffled null too small to fit a sign, a tail
    fit that does not hold, p-values off the null's in the bulk).

    Parameters
    ----------
    record
        A parsed ``run.json``.

    Returns
    -------
    list of str
        One sentence each, saying what to do; empty when there is nothing to warn about (or no record).
    """
    peaks = record.get("peaks") or {}
    warnings = [str(w) for w in (peaks.get("calibration") or {}).get("warnings", [])]
    return warnings


def calibration_section(run: RunFolder) -> str:
    """HTML of the peak caller's calibration: warnings, the observed-vs-null plot per sign, and the null's table.

    Reads ``peaks.calibration``, ``peaks.null_model`` and ``peaks.null_sample`` of ``run.json`` (written by
    ``seqsal attribute``/``seqsal call-peaks``); when the record has no calibration, the section says why
    and what to run.

    Returns
    -------
    str
        The section's HTML, headed ``<h2 id="calibration">``; the figure (:func:`seqsal.plot.calibration_figure`)
        is an embedded PNG.

    Raises
    ------
    InputError
        A sign's calibration lists differ in length (a damaged ``run.json``).
    """
    peaks = run.record.get("peaks")
    calibration = (peaks or {}).get("calibration")
    head = '<h2 id="calibration">Calibration of the p-values</h2>'
    if not isinstance(calibration, dict) or not any(isinstance(calibration.get(s), dict) for s in ("+", "-")):
        return head + f'<p class="muted">{_calibration_absent(peaks)}</p>'
    warnings = calibration_warnings(run.record)
    parts = [head]
    if warnings:
        parts.append('<div class="warn"><b>Warnings</b><ul>'
                     + "".join(f"<li>{_code_spans(w)}</li>" for w in warnings) + "</ul></div>")
    else:
        parts.append('<p class="muted">No calibration warnings.</p>')
    sample = peaks.get("null_sample") or {}
    null = html.escape(str(peaks.get("null", "")))
    if sample and peaks.get("null") == "shuffle":
        copies, regions = int(sample.get("copies", 1)), int(sample.get("n_regions", 0))  # review25: 1 by default
        pieces = int(sample.get("n_pieces", regions))
        cut = f" (long ones in pieces: {plural(pieces, 'piece')})" if pieces > regions else ""
        parts.append(f"<p>Null: <b>{null}</b>, {plural(regions, 'region')}{cut} shuffled "
                     f"{'once' if copies == 1 else f'{copies} times'} each, {int(sample.get('bases', 0)):,} bases "
                     f"(<code>{html.escape(str(sample.get('file', 'null.npz')))}</code>).</p>")
    else:
        parts.append(f"<p>Null: <b>{null}</b> (fitted to the bulk of the observed tests).</p>")
    parts.append(
        '<p class="muted">Each point: for a p-value threshold t, the tests with p &le; t against the m&middot;t a run '
        "without signal gives. On the dashed diagonal the run looks like its null. Above it on the left (small t) "
        "is signal; above it on the right (t near 0.5: the bulk, bulk ratio &gt; 1) the null is lighter than the "
        "run's background and p-values are too small."
        + (" Left of the dotted line (p &lt; 1/(n+1)) the shuffled null can no longer count and its fitted tail "
           "gives the p-values." if any((calibration.get(s) or {}).get("null_kind") == "empirical" for s in "+-")
           else "") + "</p>")
    parts.append(_img(figure_png(calibration_figure(calibration), dpi=100), "observed against expected p-values"))
    parts.append(outlook_line(peaks, str(run.path)))
    counts = {column: (lambda v: f"{int(v):,}") for column in ("tests", "null tests", "null regions", "copies")}
    parts.append(_table(calibration_table(peaks), {
        **counts, "null scale": lambda v: f"{v:.3g}", "smallest counted p": lambda v: f"{v:.2g}",
        "tail shape": lambda v: f"{v:.3g}", "bulk ratio": lambda v: f"{v:.3f}"}))
    return "".join(parts)


def _repeats_note(calls: pd.DataFrame, kind: str) -> str:
    """Why the heading counts fewer calls than the `seqsal attribute`/`call-peaks` log line, when it does.

    The log line counts every call, those that repeat a site already called from an overlapping region
    (``duplicate_of`` set) included; the heading, like the BED files, counts each site once."""
    from .peaks import unique_calls

    repeats = len(calls) - len(unique_calls(calls))
    if not repeats:
        return ""
    return (f'<p class="muted">{plural(len(calls), kind[:-1])} called, as the log line counts them; {repeats} of '
            "them repeat a site already called from an overlapping region (<code>duplicate_of</code> in "
            f"{kind}.tsv) and are counted once here, as in {kind}.bed.</p>")


def build_report(out_dir: str | os.PathLike, top: int = 20, workers: int = 1) -> str:
    """The HTML text of a run folder's report (self-contained: images are data URIs, no scripts, no network)."""
    run = RunFolder.open(out_dir)
    record = run.record
    sections = []
    title = f"seqsal report: {html.escape(os.path.basename(os.path.abspath(run.path)))}"
    model = record.get("model", {})
    summary = pd.DataFrame([
        ("command", " ".join(map(str, record.get("command", [])))),
        ("seqsal version", record.get("seqsal_version", "")),
        ("genome", record.get("genome", "")), ("regions", record.get("regions", "")),
        ("model", f"{model.get('path', '')} ({model.get('format', '')}, sha256 {str(model.get('sha256', ''))[:12]})"),
        ("method", record.get("method", "")), ("target", target_text(record.get("target"), model.get("task_names"))),
        ("regions attributed", record.get("n_regions", len(run.regions))),
        ("timing", timing_text(record.get("timing_seconds")))], columns=["", "value"])
    parameters = record.get("parameters", {})
    sections.append("<h2>Run</h2>" + _table(summary, wrap=("value",)) + "<details><summary>All parameters</summary>"
                    + _table(pd.DataFrame(sorted(parameters.items()), columns=["parameter", "value"])
                             .assign(value=lambda frame: [str(v) for v in frame["value"]])) + "</details>")
    warnings = calibration_warnings(record)
    if warnings:
        sections.append(f'<div class="warn"><b>{plural(len(warnings), "calibration warning")}</b> (see '
                        '<a href="#calibration">Calibration</a>): ' + _code_spans(warnings[0])
                        + (" ..." if len(warnings) > 1 else "") + "</div>")

    regions = run.regions
    predictions = regions["prediction"].to_numpy(dtype=np.float64)
    stats = pd.DataFrame([("regions", len(regions)), ("min", np.nanmin(predictions)),
                          ("median", np.nanmedian(predictions)), ("mean", np.nanmean(predictions)),
                          ("max", np.nanmax(predictions))], columns=["prediction", "value"])
    status = regions["status"].value_counts().rename_axis("status").reset_index() if "status" in regions else None
    sections.append("<h2>Predictions</h2>" + '<div style="display:flex;gap:2em;align-items:flex-start">'
                    + _table(stats, {"value": lambda v: f"{v:.4g}"})
                    + (_table(status) if status is not None else "")
                    + _img(prediction_histogram(predictions), "histogram of predictions") + "</div>")

    links = [name for name in ("attributions.bw", "elements.bed", "seqlets.bed", "motifs.meme", "regions.tsv",
                               "elements.tsv", "seqlets.tsv", "motifs.tsv", "motif_matches.tsv", "motif_calls.tsv",
                               "motif_calls.bed",
                               "motif_instances.tsv", "motifs.h5", *EVALUATION_TABLES, "seqlet_check.tsv", "attributions.npz",
                               "run.json")
             if run.shown(name)]
    sections.append(provenance_note(run))
    for extra in (evaluation_section(run), seqlet_check_section(run)):
        if extra is not None:
            sections.append(extra)
    sections.append("<h2>Files</h2><ul>" + "".join(
        f'<li><a href="{html.escape(name)}">{html.escape(name)}</a></li>' for name in links) + "</ul>")
    sections.append(calibration_section(run))
    sections.append(audit_section(run.path) if "audit" not in run.stale else '<h2 id="audit">Audit: shortcuts and '
                    'artefacts</h2><p class="muted">audit.tsv left out (see above).</p>')

    jobs: list[LogoJob] = []
    elements = run.table("elements")
    seqlets = run.table("seqlets")
    calls = elements if elements is not None and len(elements) else seqlets
    kind = "elements" if calls is elements else "seqlets"
    if calls is not None and len(calls):
        chosen = top_calls(calls, top)
        call_images = [job for job in call_jobs(run, chosen, kind, top, "png") if job.kind == ("region" if kind == "elements" else "seqlet")]
        jobs += call_images
    else:
        chosen = None
        jobs += region_jobs(run, top, "png")
    motif_list = motif_jobs(run, "png")
    images = render_all(jobs + motif_list, workers)
    call_png, motif_png = images[:len(jobs)], images[len(jobs):]

    if chosen is not None:
        called = run.table("motif_calls")  # FDR-controlled; else discovery's lenient instances, said so below
        instances = called if called is not None else run.table("motif_instances")
        chosen = chosen.assign(motifs=motifs_in_calls(chosen, instances, run.table("motifs")))
        source = ("the kept motifs' instance calls (motif_calls.tsv) overlapping it" if called is not None else
                  "discovery's instances overlapping it (motif_instances.tsv: lenient, not FDR-controlled)")
        columns = [c for c in ("name", "chrom", "start", "end", "sign", "score", "pvalue", "qvalue", "n_seqlets",
                               "region_name", "motifs", "sequence") if c in chosen]
        cards = []
        for (_, row), png in zip(chosen.iterrows(), call_png):
            cards.append('<div class="card">' + _table(row[columns].to_frame().T,
                                                       {"score": lambda v: f"{v:.4g}", "pvalue": lambda v: f"{v:.2g}",
                                                        "qvalue": lambda v: f"{v:.2g}"})
                         + _img(png, f"logo of {row.get('name', '')}") + "</div>")
        from .peaks import unique_calls

        n_total = len(unique_calls(calls))  # sites, as the BED files list them
        extra = calls_heading(run.record.get("peaks") or {}, kind, n_total,
                              len(unique_calls(seqlets)) if seqlets is not None else None)
        sections.append(f"<h2>Top {len(chosen)} {kind}{extra}</h2>" + _repeats_note(calls, kind)
                        + (f'<p class="muted">motifs: {source}.</p>' if instances is not None else "") + "".join(cards))
    else:
        why = ("No seqlet or element passed the FDR (seqlets.tsv and elements.tsv are empty; the calibration "
               "section says how far the run is from calls)." if seqlets is not None or elements is not None else
               "No seqlets.tsv/elements.tsv in this folder: run <code>seqsal call-peaks</code> to call elements.")
        sections.append(f"<h2>Top {plural(len(call_png), 'region')} by prediction</h2>"
                        f'<p class="muted">{why}</p>' + "".join(f'<div class="card">{_img(png, "region view")}</div>'
                                                               for png in call_png))

    motifs = run.table("motifs")
    if motifs is not None and len(motifs):
        matches = run.table("motif_matches")
        cards = []
        for (_, row), png in zip(motifs.iterrows(), motif_png):
            head = _table(row[[c for c in _MOTIF_HEAD if c in row]].to_frame().T,
                          {"contribution": lambda v: f"{v:.3g}", "enrichment": lambda v: f"{v:.3g}",
                           "support_pvalue": lambda v: f"{v:.2g}", "call_min_fdr": lambda v: f"{v:.4g}"})
            match_html = ""
            if matches is not None:
                hits = matches[matches["query"] == row["motif"]].head(3)
                if len(hits):  # TOMTOM lists every match: say when even the best is no match at MATCH_Q
                    match_html = ("<p>Best matches</p>" if float(hits["qvalue"].min()) < MATCH_Q else
                                  f"<p>No database match at q &lt; {MATCH_Q:g}; the closest (not its name):</p>") + _table(
                        hits[["target_id", "target_name", "strand", "offset", "overlap", "pvalue", "evalue", "qvalue"]],
                        {"pvalue": lambda v: f"{v:.2g}", "evalue": lambda v: f"{v:.2g}", "qvalue": lambda v: f"{v:.2g}"})
            cards.append(f'<div class="card">{head}{_img(png, "logos of " + str(row["motif"]))}{match_html}</div>')
        sections.append(f"<h2>Motifs ({len(motifs)})</h2>" + support_note(motifs) + "".join(cards))
    else:  # an empty motifs.tsv is a run of `seqsal motifs` that kept none (its log says why)
        sections.append('<h2>Motifs</h2><p class="muted">' + ("No motif was kept by <code>seqsal motifs</code> "
                        "(its log says why: no cluster, or none more frequent than in the shuffled null)." if motifs
                        is not None else "No motifs.tsv: run <code>seqsal motifs</code> to discover motifs.") + "</p>")
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
            f"<style>{_CSS}</style></head><body><h1>{title}</h1>"
            f'<p class="muted">{html.escape(os.path.abspath(run.path))}</p>' + "\n".join(sections) + "</body></html>\n")


_MOTIF_HEAD = ("motif", "sign", "n_seqlets", "width", "consensus", "contribution", "enrichment", "support_pvalue",
               "n_calls", "call_min_fdr")  # the motifs.tsv columns of each motif's card


def provenance_note(run: RunFolder) -> str:
    """The report's note on what it leaves out (files that no longer match the run: :attr:`RunFolder.stale`) and
    on what it shows unchecked (:attr:`RunFolder.unrecorded`); ``""`` when there is neither."""
    note = ""
    if run.stale:
        note += ('<div class="warn"><b>Left out: no longer of this run</b><ul>'
                 + "".join(f"<li>{_code_spans(why)}</li>" for why in run.stale.values()) + "</ul></div>")
    if run.unrecorded:
        files = ", ".join(GROUPS[name].outputs[0] for name in run.unrecorded)
        note += (f'<p class="muted">{html.escape(files)}: no provenance record (written by an older seqsal, by hand, '
                 "or by a command stopped before it finished), so not checked against this run's attributions.</p>")
    return note


@locks_run_folder("report")
def write_report(out_dir: str | os.PathLike, top: int = 20, workers: int = 1) -> str:
    """Write ``out/report.html`` (atomically), record it (:func:`seqsal.provenance.write_record`), return its path.

    Parameters
    ----------
    out_dir, top, workers
        A ``seqsal attribute`` folder; the calls shown (top elements, else seqlets, else regions); drawing processes."""
    from .io import write_text_atomic

    path = os.path.join(str(out_dir), "report.html")
    write_text_atomic(path, build_report(out_dir, top, workers))
    write_record(out_dir, "report")
    return path
