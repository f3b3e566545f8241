"""The HTML pieces of ``report.html``: its style sheet, tables, embedded images and the Evaluation section.

:mod:`seqsal.report` assembles the page from these. Every table sits in a box that scrolls sideways on its own
(``div.tw``), so a wide table never pushes the page past the window (the Evaluation table at 1,400 px); words
break only between words (``overflow-wrap: break-word``: a method name stays whole), except in the columns a
caller marks ``wrap`` (paths and commands, which may break anywhere).
"""
from __future__ import annotations

import base64
import html
import io
import os
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .models.probes import output_task_names

if TYPE_CHECKING:
    from .plot import LogoJob

_CSS = """
body{font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;margin:2em auto;max-width:1200px;color:#222;padding:0 1em}
h1{font-size:1.6em;margin-bottom:.2em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
.tw{max-width:100%;overflow-x:auto}
table{border-collapse:collapse;font-size:.85em;margin:.5em 0}td,th{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top;max-width:36em;overflow-wrap:break-word}
th{background:#f4f4f4;white-space:nowrap}td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}td.wrap{overflow-wrap:anywhere}code{font-size:.9em}
img{max-width:100%;height:auto}.muted{color:#777}.card{border:1px solid #e3e3e3;border-radius:6px;padding:.6em 1em;margin:.8em 0;overflow-x:auto}
.seq{font-family:monospace;font-size:.85em;word-break:break-all}
.warn{background:#fff4e5;border:1px solid #e69500;border-left:6px solid #e69500;border-radius:4px;padding:.5em 1em;margin:.8em 0}
"""

EVALUATION_TABLES = ("evaluation.tsv", "evaluation_sanity.tsv", "evaluation_erf.tsv", "evaluation_curves.tsv")


def figure_png(fig, dpi: int = 90) -> bytes:
    """PNG bytes of a matplotlib figure."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def _img(data: bytes, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(data).decode()}">'


def _table(frame: pd.DataFrame, formats: dict | None = None, wrap: tuple[str, ...] = ()) -> str:
    """An HTML table of ``frame`` in a sideways-scrolling box.

    Parameters
    ----------
    frame
        The rows; numbers are right-aligned and never wrapped.
    formats
        Column -> function formatting a (non-missing) value.
    wrap
        Columns whose text may break anywhere (long paths, commands); others break only between words.
    """
    formats = formats or {}
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    rows = []
    for values in frame.itertuples(index=False):
        cells = []
        for column, value in zip(frame.columns, values):
            text = formats[column](value) if column in formats and pd.notna(value) else ("" if pd.isna(value) else str(value))
            numeric = isinstance(value, (int, float, np.integer, np.floating))
            kind = ' class="num"' if numeric else (' class="wrap"' if column in wrap else "")
            cells.append(f"<td{kind}>{html.escape(text)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f'<div class="tw"><table><tr>{head}</tr>{"".join(rows)}</table></div>'


def _number(value) -> str:
    return f"{value:.4g}" if isinstance(value, (float, np.floating)) else str(value)


def target_text(target: dict | None, task_names: list | dict | None = None) -> str:
    """``run.json``'s ``target`` in words, e.g. ``task 0 (activity); reduction sum``.

    Parameters
    ----------
    target
        The record's ``target``: ``output``, ``task``, ``axis``, ``reduction`` and ``transform`` (None: the
        default of each).
    task_names
        The model's task names (``run.json``'s ``model.task_names``: a list, or a dict of lists per output), to
        name a task given by index.

    Returns
    -------
    str
        One part per field: ``output`` and ``axis`` only when set; the task by index and name (``task 0
        (activity), the default`` when none was recorded); the reduction only when it was applied
        (:func:`reduction_applied`).
    """
    target = target or {}
    names = output_task_names(task_names, target.get("output")) or []
    parts = []
    if target.get("output") is not None:
        parts.append(f"output {target['output']}")
    task = target.get("task")
    if task is None:
        parts.append(f"task 0 ({names[0]}), the default" if names else "task 0, the default")
    elif isinstance(task, int) and 0 <= task < len(names):
        parts.append(f"task {task} ({names[task]})")
    else:
        parts.append(f"task {task}")
    if target.get("axis") == "none":
        parts.append("no task axis (a profile of one task)")
    elif target.get("axis") is not None:
        parts.append(f"task axis {target['axis']}")
    if target.get("positions") is not None:
        parts.append(f"positions {target['positions'][0]}:{target['positions'][1]} of the output")
    if reduction_applied(target):
        parts.append(f"a profile output reduced by {target['reduction']}")
    if target.get("transform") == "logit":
        parts.append("its logit log(p / (1 - p)) (the output is a probability)")
    elif target.get("transform") in ("log_odds", "log_odds_logp"):
        kind = "probabilities" if target["transform"] == "log_odds" else "log-probabilities"
        parts.append(f"its log-odds against the other classes, log(p_k / sum of the others' p) (the output is a "
                     f"softmax's class {kind})")
    return "; ".join(parts)


def reduction_applied(target: dict) -> bool:
    """Whether ``run.json``'s ``target`` reduced a profile to one value per sequence.

    Its ``profile`` says so (``seqsal attribute`` records whether the targeted output held more than one value per
    sequence); a record without it (an older seqsal) does not tell the output's shape, so only a reduction other
    than the default ``sum`` is taken as applied.
    """
    if not target.get("reduction"):
        return False
    if "profile" in target:
        return bool(target["profile"])
    return target["reduction"] != "sum"


def timing_text(timing: dict | None) -> str:
    """``run.json``'s ``timing_seconds`` in words: ``attribution 4.1 s, total 8.5 s``."""
    return ", ".join(f"{key.replace('_', ' ')} {value:.1f} s" if isinstance(value, (int, float)) else f"{key} {value}"
                     for key, value in (timing or {}).items())


def evaluation_section(run) -> str | None:
    """HTML of the evaluation outputs of a run folder, or ``None`` when it has none.

    Shows ``evaluation.tsv`` (one row per method), the effective receptive field table
    (``evaluation_erf.tsv``), the per-region completeness summary of ``run.json`` (ig, deepshap) and every
    ``evaluation/*.png`` plot, embedded as data URIs. ``run`` is a :class:`seqsal.report.RunFolder`.
    """
    parts = []
    completeness = run.record.get("completeness")
    if completeness:
        parts.append("<h3>Completeness (per region)</h3>"
                     f'<p class="muted">{html.escape(str(completeness.get("meaning", "")))}; column '
                     "<code>completeness_error</code> of regions.tsv</p>"
                     + _table(pd.DataFrame([{k: v for k, v in completeness.items() if k != "meaning"}]),
                              {k: _number for k in completeness}))
    table = run.table("evaluation")
    if table is not None and len(table):
        parts.append("<h3>Methods</h3>" + _table(table, {c: _number for c in table.columns}))
    erf = run.table("evaluation_erf")
    if erf is not None and len(erf):
        parts.append("<h3>Effective receptive field</h3>" + _table(erf, {c: _number for c in erf.columns}))
    if table is not None:
        parts.extend(f'<p class="muted">{html.escape(line)}</p>' for line in skipped_lines(run, erf is not None))
    folder = run.file("evaluation")
    plots = sorted(name for name in os.listdir(folder) if name.endswith(".png")) if (
        os.path.isdir(folder) and run.shown("evaluation")) else []  # not the plots of a stale evaluation
    for name in plots:
        with open(os.path.join(folder, name), "rb") as handle:
            parts.append(f'<div class="card"><p>{html.escape(name)}</p>{_img(handle.read(), name)}</div>')
    if not parts:
        return None
    return ("<h2>Evaluation</h2>" + (
        "" if table is not None else '<p class="muted">No evaluation.tsv: run <code>seqsal evaluate</code> for '
                                     "deletion/insertion, sanity and stability checks.</p>") + "".join(parts))


def skipped_lines(run, has_erf: bool) -> list[str]:
    """What the evaluation of a run folder could not check, and why, one sentence each.

    From ``provenance/evaluation.json``'s ``skipped`` (``sanity``, ``receptive_field``: why; ``methods``: method ->
    why), as :func:`seqsal.evaluate.evaluate_run` records it. An evaluation from before that record that has no
    receptive field table gets a sentence saying so (with the likely cause for a TorchScript or torch.export
    model). ``run`` is a :class:`seqsal.report.RunFolder`.
    """
    from .evaluate_inputs import FORMAT_WORDS, skipped_text
    from .provenance import read_record

    record = read_record(run.path, "evaluation") or {}
    skipped = record.get("skipped")
    if not isinstance(skipped, dict):
        if has_erf:
            return []
        kind = FORMAT_WORDS.get((run.record.get("model") or {}).get("format"))
        return [f"No sanity check and no effective receptive field: {kind} runs its layers outside Python, where "
                "they cannot be re-randomised or hooked." if kind else "No effective receptive field."]
    checks = skipped_text({key: why for key, why in skipped.items() if key in ("sanity", "receptive_field")})
    lines = [f"{checks[0].upper()}{checks[1:]}."] if checks else []
    lines += [f"Method {method} skipped (a default method the model cannot take): {why}"
              for method, why in (skipped.get("methods") or {}).items()]
    return lines


def seqlet_check_section(run) -> str | None:
    """HTML of ``seqlet_check.tsv`` (``seqsal check-seqlets``): per sign, the seqlets checked, how many the model
    confirms and the median effect; ``None`` when the folder has no current check. ``run`` is a
    :class:`seqsal.report.RunFolder`."""
    table = run.table("seqlet_check")
    if table is None or not len(table):
        return None
    summary = pd.DataFrame([{"sign": sign, "checked": len(part), "confirmed": int(part["confirmed"].sum()),
                             "share confirmed": float(part["confirmed"].mean()),
                             "median effect": float(part["effect"].median()),
                             "median effect, not confirmed": float(part.loc[~part["confirmed"], "effect"].median())
                             if (~part["confirmed"]).any() else float("nan")}
                            for sign, part in table.groupby("sign", sort=True)])
    from .provenance import read_record
    from .seqlet_check import unconfirmed_signs  # a sibling of this layer that imports torch: only when shown

    folder = html.escape(str(run.path))
    basis = read_record(run.path, "seqlet_check") or {}  # the check's alpha and controls (verdict_basis)
    if basis.get("alpha") is not None:
        table.attrs["n_controls"] = int(basis.get("n_controls", 0))
        flagged = unconfirmed_signs(table, alpha=float(basis["alpha"]))  # none where the controls cannot reach it
    else:  # a check written before its record kept them
        flagged = unconfirmed_signs(table)
    withheld = (run.record.get("peaks") or {}).get("withheld") or {}  # seqlet_check.withhold_unconfirmed
    warning = "".join(f'<div class="warn"><b>The model does not confirm most {sign} seqlets</b> ({n["confirmed"]} of '
                      f"{n['checked']} checked): for this model the attribution's {sign} sign does not say what its "
                      f"bases do, so its seqlets and elements are not called (<code>seqsal call-peaks {folder} "
                      "--signs +-</code> calls them anyway).</div>" for sign, n in withheld.items())
    if len(flagged) == 2:  # fresh31b: a box per sign told to call each sign alone
        warning += ('<div class="warn"><b>The model confirms neither sign\'s seqlets</b>: for this model the '
                    "attribution map does not say what its bases do; do not act on the calls, or explain it with "
                    "another method and check again.</div>")
    else:
        warning += "".join(f'<div class="warn"><b>The model does not confirm most {sign} seqlets</b>: for this model '
                           f"the attribution's {sign} sign does not say what its bases do; do not act on those calls "
                           f"(<code>seqsal call-peaks {folder} --signs {'+' if sign == '-' else '-'}</code> calls the "
                           "other sign alone), or explain it with another method and check again.</div>"
                           for sign in flagged if sign not in withheld)
    return ('<h2 id="seqlet-check">Does the model confirm the seqlets?</h2>' + warning + '<p class="muted">'
            "<code>seqsal check-seqlets</code>: each seqlet's bases replaced by random bases in the model window; "
            "confirmed when the prediction moves the way its sign says, further than replacing stretches no call "
            "covers (effect = -sign &times; change of the target). A sign whose seqlets the model does not confirm "
            "is a sign the attribution map gets wrong for this model. Per seqlet: <code>seqlet_check.tsv</code>."
            "</p>" + _table(summary, {c: _number for c in summary.columns if c not in ("sign", "checked",
                                                                                      "confirmed")}))


def prediction_histogram(predictions: np.ndarray) -> bytes:
    """PNG of the histogram of the run's predictions (finite values, 40 bins), for the report's Run section."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5, 2.2), layout="constrained")
    ax = fig.subplots()
    ax.hist(predictions[np.isfinite(predictions)], bins=40, color="#4a78a8")
    ax.set_xlabel("prediction", fontsize=8)
    ax.set_ylabel("regions", fontsize=8)
    ax.tick_params(labelsize=7)
    return figure_png(fig)


def render_png(job: "LogoJob") -> bytes:
    """PNG of one logo or track figure job (:class:`seqsal.plot.LogoJob`)."""
    from .plot import _KINDS

    return figure_png(_KINDS[job.kind](**job.args))


def render_all(jobs: list["LogoJob"], workers: int) -> list[bytes]:
    """PNGs of ``jobs`` in order, drawn by ``workers`` processes (fork where available) when there are >= 4."""
    if workers <= 1 or len(jobs) < 4:
        return [render_png(job) for job in jobs]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        return list(pool.map(render_png, jobs, chunksize=4))


def support_note(motifs: pd.DataFrame) -> str:
    """What the motifs' support test (``seqsal motifs``, each motif against the run's shuffled null) says, or a
    warning that they were not tested (a run without ``null.npz``): noise can then cluster into motifs too."""
    if "support_pvalue" in motifs and motifs["support_pvalue"].notna().any():
        return ('<p class="muted">Each motif passed the support test: its PWM matches the run\'s windows more often '
                "than the shuffled null's (enrichment, scaled by bases; support_pvalue: one-sided binomial). "
                "n_calls: its instances called at the motif instance FDR (<a href=\"motif_calls.bed\">"
                "motif_calls.bed</a>, <a href=\"motif_calls.tsv\">.tsv</a>); call_min_fdr: the instance FDR "
                "(<code>seqsal motifs --instance-fdr</code>) at which its best instances would be called.</p>")
    return ('<div class="warn">These motifs were <b>not tested against a shuffled null</b> (the run has no '
            "<code>null.npz</code>: it ran with <code>--null laplace</code> or <code>--no-peaks</code>), so "
            "clusters of noise are not told apart from motifs. Rerun <code>seqsal attribute</code> with "
            "<code>--null shuffle</code> (the default), then <code>seqsal motifs</code>.</div>")


def calls_heading(peaks: dict, kind: str, n_calls: int, n_seqlets: int | None = None) -> str:
    """The tail of the report's heading over the top calls: `` of N at FDR x``, and for elements `` (and M seqlets
    at FDR y)`` (each kind at its own level, from run.json's ``peaks``: a folder called before elements had their
    own level named one FDR for both; no level where the record names none); ``; - not called`` and why, when the
    calls are of one sign."""
    seqlets = peaks.get("fdr")
    levels = {"seqlets": seqlets, "elements": peaks.get("element_fdr", seqlets)}

    def at(kind_: str) -> str:
        return f" at FDR {float(levels[kind_]):g}" if levels[kind_] is not None else ""

    text = f" of {n_calls}{at(kind)}"
    if kind == "elements" and n_seqlets is not None:
        text += f" (and {n_seqlets:,} seqlet{'' if n_seqlets == 1 else 's'}{at('seqlets')})"
    signs = (peaks.get("options") or {}).get("signs", "+-")
    if signs != "+-":  # fresh31b: the report never said a sign was left out
        other = "-" if signs == "+" else "+"
        text += (f"; {other} not called" + (" (the model does not confirm it)" if other in (peaks.get("withheld") or {})
                                            else f" (--signs {signs})"))
    return text


def outlook_line(peaks: dict, folder: str) -> str:
    """One sentence from run.json's ``peaks.calibration.outlook`` (the called sign's own, when one sign is
    called): the smallest q-value and the calls at other FDR levels."""
    outlook, fdr = (peaks.get("calibration") or {}).get("outlook"), peaks.get("fdr")
    signs = (peaks.get("options") or {}).get("signs", "+-")  # fresh31b: one sign called, the other's counts shown
    if signs != "+-" and isinstance(outlook, dict) and (outlook.get("by_sign") or {}).get(signs):
        outlook = outlook["by_sign"][signs]
    if not isinstance(outlook, dict) or outlook.get("smallest_qvalue") is None:
        return ""
    levels = ", ".join(f"{float(level):g}: {'&ge; ' if count else ''}{int(count):,}"
                       for level, count in (outlook.get("passing") or {}).items())
    called = f" (this run: FDR {float(fdr):g})" if fdr is not None else ""
    bound = (" The strongest tests lie beyond every shuffled-null test (their p-value is the null's resolution, "
             "1/(n+1)): a larger null (<code>seqsal attribute --min-null-bases</code>, and "
             "<code>--max-null-copies</code> for a run of few regions) can resolve smaller p-values."
             if outlook.get("null_resolution_bound") else "")
    return (f"<p>Smallest q-value of the run: <b>{float(outlook['smallest_qvalue']):.3g}</b>. Tests passing "
            f"Benjamini&ndash;Hochberg at FDR {levels}{called} (overlapping tests merge into one seqlet); "
            f"<code>seqsal call-peaks {html.escape(folder)} --fdr L</code> calls again at another level without "
            f"recomputing attributions.{bound}</p>")
