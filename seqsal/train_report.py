"""Held-out metrics and the training report (``train_report.html``) of ``seqsal train``.

The report is self-contained like ``report.html``: images are PNG data URIs, no scripts, no network.
"""
from __future__ import annotations

import base64
import html
import io
import json

import numpy as np

_STYLE = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;padding:.25em .6em;font-size:.9em}
th{background:#f4f4f4}td.num{text-align:right;font-variant-numeric:tabular-nums}img{max-width:100%;height:auto}
.muted{color:#777}"""


def pearson_columns(predictions: np.ndarray, targets: np.ndarray) -> list[float]:
    """Pearson r of each task column of ``(N, T)`` predictions and targets (NaN for a constant column)."""
    out = []
    for p, t in zip(np.asarray(predictions, np.float64).T, np.asarray(targets, np.float64).T):
        p, t = p - p.mean(), t - t.mean()
        denominator = np.sqrt((p * p).sum() * (t * t).sum())
        out.append(float((p * t).sum() / denominator) if denominator > 0 else float("nan"))
    return out


def auroc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney, average ranks for ties); NaN with one class only."""
    import pandas as pd  # its ranks: scipy is no dependency of seqsal (floors32: train crashed without it)

    labels = np.asarray(labels) > 0.5
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = pd.Series(np.asarray(scores, dtype=np.float64)).rank(method="average").to_numpy()
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def auprc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Average precision (the step-wise area under the precision-recall curve); NaN with no positive."""
    labels = np.asarray(labels) > 0.5
    if not labels.any():
        return float("nan")
    order = np.argsort(-np.asarray(scores, np.float64), kind="stable")
    hits = labels[order]
    precision = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float(precision[hits].sum() / hits.sum())


def held_out_metrics(predictions: np.ndarray, targets: np.ndarray, task: str, tasks: list[str]) -> dict:
    """Per-task metrics of one split: Pearson r and MSE (regression) or AUROC and AUPRC (classification)."""
    out: dict = {"n": int(len(targets))}
    if task == "regression":
        out["pearson"] = dict(zip(tasks, pearson_columns(predictions, targets)))
        out["mse"] = dict(zip(tasks, ((predictions - targets) ** 2).mean(axis=0).tolist()))
    else:
        out["auroc"] = {name: auroc(predictions[:, t], targets[:, t]) for t, name in enumerate(tasks)}
        out["auprc"] = {name: auprc(predictions[:, t], targets[:, t]) for t, name in enumerate(tasks)}
    return out


def validation_score(predictions: np.ndarray, targets: np.ndarray, task: str) -> float:
    """The early-stopping score (higher is better): mean Pearson r over tasks, or mean AUROC."""
    if task == "regression":
        values = pearson_columns(predictions, targets)
    else:
        values = [auroc(predictions[:, t], targets[:, t]) for t in range(targets.shape[1])]
    finite = [v for v in values if np.isfinite(v)]
    return float(np.mean(finite)) if finite else float("nan")


def _png(fig) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    return f'<img alt="training curves" src="data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()}">'


def curves_png(history: list[dict], metric_name: str) -> str:
    """An ``<img>`` of the per-epoch training loss, prior terms and validation score."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 2.8), layout="constrained")
    left, right = fig.subplots(1, 2)
    epochs = [h["epoch"] for h in history]
    left.plot(epochs, [h["train_loss"] for h in history], marker="o", label="training loss (task)")
    for key in sorted({k for h in history for k in h if k.startswith("term_")}):
        left.plot(epochs, [h.get(key, np.nan) for h in history], marker=".", label=key[5:])
    left.set_xlabel("epoch", fontsize=8)
    left.legend(fontsize=7)
    right.plot(epochs, [h["valid_score"] for h in history], marker="o", color="#c0504d")
    right.set_xlabel("epoch", fontsize=8)
    right.set_ylabel(f"validation {metric_name}", fontsize=8)
    for ax in (left, right):
        ax.tick_params(labelsize=7)
    return _png(fig)


def _table(rows: list[tuple], header: tuple) -> str:
    def cell(value) -> str:
        if isinstance(value, float):
            return f'<td class="num">{value:.4g}</td>'
        return f"<td>{html.escape(str(value))}</td>"

    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    return f"<table><tr>{head}</tr>" + "".join("<tr>" + "".join(cell(v) for v in row) + "</tr>" for row in rows) + "</table>"


def build_train_report(summary: dict) -> str:
    """The HTML of a training report.

    Parameters
    ----------
    summary
        As written to ``train_report.json`` by :func:`seqsal.train.train_model`: ``options``, ``history``,
        ``metrics`` (split -> per-task metrics), ``model``, ``best_epoch``, ``seconds_per_epoch``.
    """
    history = summary["history"]
    metric_name = "mean Pearson r" if summary["options"]["task"] == "regression" else "mean AUROC"
    rows = []
    for split, metrics in summary["metrics"].items():
        for key, per_task in metrics.items():
            if isinstance(per_task, dict):
                rows += [(split, key, task, float(value)) for task, value in per_task.items()]
    epoch_rows = [tuple(h.get(k, "") for k in ("epoch", "train_loss", "valid_score", "seconds")) for h in history]
    options = sorted((k, json.dumps(v)) for k, v in summary["options"].items())
    sections = [
        f"<h1>seqsal training report: {html.escape(str(summary['model']))}</h1>",
        f"<p>Best epoch {summary['best_epoch']} of {len(history)}"
        f"{' (stopped early: no better validation score in --patience epochs)' if summary.get('stopped_early') else ''}"
        f"; validation {metric_name} "
        f"{summary['best_score']:.4f}; {summary['seconds_per_epoch']:.1f} s per epoch on {html.escape(summary['device'])}."
        "</p>",
        "<h2>Curves</h2>" + curves_png(history, metric_name),
        "<h2>Held-out metrics</h2>" + _table(rows, ("split", "metric", "task", "value")),
        "<h2>Epochs</h2>" + _table(epoch_rows, ("epoch", "training loss", f"validation {metric_name}", "seconds")),
        "<details><summary>All options</summary>" + _table(options, ("option", "value")) + "</details>",
    ]
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>seqsal training report</title>"
            f"<style>{_STYLE}</style></head><body>{''.join(sections)}</body></html>\n")
