"""Faithfulness of attribution maps: which map to trust, with numbers.

All functions take a model, one-hot windows ``x`` ``(N, 4, L)`` and per-base scores ``(N, L)`` (the projected
contribution: hypothetical x one-hot summed over channels) and return plain arrays/tables:

* :func:`deletion_insertion` — rank bases by score, replace the top fraction by a background (deletion) or
  restore it into the background (insertion), record the target; :func:`curve_auc` of each curve. A faithful
  map drops the output fast under deletion (low AUC) and raises it fast under insertion (high AUC); a random
  ranking is the reference.
* :func:`ground_truth_scores` — per-base AUROC and AUPRC of ``|score|`` against known sites (a BED).
* :func:`sanity_check` — cascading re-randomisation of the parameterised layers from the top (Adebayo et al.
  2018); Spearman correlation of each map with the original. A map that barely changes is flagged.
* :func:`stability` — similarity of maps under a few substitutions that leave the prediction nearly unchanged.
* :func:`effective_receptive_field` — impulse response (mean |gradient| of the centre position of each
  convolution's output over the input) and its width (σ, by moments) per depth.

:func:`evaluate_run` runs them on a ``seqsal attribute`` output folder and writes ``evaluation.tsv``,
``evaluation_curves.tsv``, ``evaluation_sanity.tsv``, ``evaluation_erf.tsv`` and plots under
``evaluation/``.
"""
from __future__ import annotations

import copy
import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from .attribution import Target
from .devices import device_for, exported_module, model_home
from .encode import reverse_complement_one_hot
from .errors import InputError, option
from .models.logit_output import exact_logit
from .evaluate_inputs import (check_truth, method_parameters, method_target, methods_named, refuse_unfit_methods,
                              skipped_text, unavailable_checks)
from .io import atomic_path, write_table_atomic
from .provenance import record_written, remove_group
from .tables import read_region_coordinates
from .methods import METHODS, attribute, make_baselines
from .run_windows import run_device, run_inputs
from .runlock import locks_run_folder
from .shuffle import dinucleotide_shuffle

log = logging.getLogger("seqsal")

FRACTIONS = np.linspace(0.0, 1.0, 21)


def projected_scores(model: nn.Module, x: torch.Tensor, method: str, target: Target, batch_size: int = 64,
                     device: str | None = None, correct: bool = True, **params) -> np.ndarray:
    """Per-base score ``(N, L)`` of ``method`` on one-hot ``x`` ``(N, 4, L)``: the projected contribution
    (hypothetical x one-hot summed over channels); for ``saliency`` the max |gradient| over the channels. On
    ``device``, default the model's own (its first parameter's; the CPU for a model without)."""
    if device is None:
        home = model_home(model) if isinstance(model, nn.Module) else None
        device = "cpu" if home is None else str(home)
    hypothetical = attribute(model, x, method=method, target=target, correct=correct, batch_size=batch_size,
                             device=device, hypothetical=True, **params)
    if method == "saliency":  # the saliency map of Simonyan et al.: max |gradient| over the four channels
        return hypothetical.abs().amax(dim=1).numpy()
    return (hypothetical * torch.as_tensor(x)).sum(dim=1).numpy()


def predict_target(model: nn.Module, x: torch.Tensor, target: Target, batch_size: int = 256, rc: bool = False
                   ) -> np.ndarray:
    """The target ``(N,)`` float32 of each one-hot window ``(N, 4, L)``, in batches of ``batch_size``, without
    gradients; with ``rc``, averaged with its reverse complement's (what an ``--rc`` run explains). The batches
    go to the model's device (its first parameter's)."""
    outputs, (model, target) = [], exact_logit(model, target)  # a sigmoid's logit from its input, not from p
    home = model_home(model) if isinstance(model, nn.Module) else None  # a model on a GPU takes its batches there
    with torch.no_grad():
        for first in range(0, x.shape[0], batch_size):
            chunk = x[first:first + batch_size] if home is None else x[first:first + batch_size].to(home)
            value = target.select(model(chunk)).float().detach()  # review27: a rewrite can return a parameter
            if rc:
                value = 0.5 * (value + target.select(model(reverse_complement_one_hot(chunk))).float())
            outputs.append(value.cpu())
    return torch.cat(outputs).numpy() if outputs else np.zeros(0, np.float32)


def background_of(x: np.ndarray, kind: str = "shuffle", seed: int = 0) -> np.ndarray:
    """A background ``(N, 4, L)`` per window: a dinucleotide shuffle, or 0.25; N kept (as in ``make_baselines``)."""
    if kind == "uniform":
        return make_baselines(torch.from_numpy(np.ascontiguousarray(x)), "uniform")[:, 0].numpy()
    if kind != "shuffle":
        raise InputError(f"unknown {option('background')} {kind!r}; choose shuffle or uniform")
    return dinucleotide_shuffle(x, n=1, seed=seed)[:, 0]


def deletion_insertion(model: nn.Module, x: np.ndarray, scores: np.ndarray, target: Target,
                       background: np.ndarray, fractions: np.ndarray = FRACTIONS, rc: bool = False
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Deletion and insertion curves (``rc``: of the target averaged over both strands, as ``--rc`` runs explain).

    Parameters
    ----------
    x, background
        ``(N, 4, L)`` windows and their backgrounds.
    scores
        ``(N, L)``; bases are taken in decreasing order of score (ties broken by position).
    fractions
        ``(K,)`` fractions of the bases replaced (deletion) or restored (insertion).

    Returns
    -------
    deletion, insertion
        ``(N, K)`` target values.
    """
    n, _, length = x.shape
    order = np.argsort(-scores, axis=1, kind="stable")
    rank = np.empty_like(order)
    rank[np.arange(n)[:, None], order] = np.arange(length)[None]
    counts = np.round(fractions * length).astype(int)
    deleted, inserted = [], []
    for count in counts:
        top = (rank < count)[:, None, :]  # (N, 1, L)
        deleted.append(np.where(top, background, x))
        inserted.append(np.where(top, x, background))
    batch = torch.from_numpy(np.concatenate([np.stack(deleted, 1), np.stack(inserted, 1)], axis=1)
                             .reshape(-1, 4, length).astype(np.float32))
    values = predict_target(model, batch, target, rc=rc).reshape(n, 2 * len(counts))
    return values[:, :len(counts)], values[:, len(counts):]


def curve_auc(curve: np.ndarray, fractions: np.ndarray = FRACTIONS) -> np.ndarray:
    """Area under each curve ``(N, K)`` over the fractions (trapezoids) -> ``(N,)``."""
    widths = np.diff(fractions)
    return ((curve[:, 1:] + curve[:, :-1]) / 2 * widths).sum(axis=1)


def site_mask(windows: pd.DataFrame, sites: pd.DataFrame, length: int) -> np.ndarray:
    """``(N, L)`` booleans: which bases of each window (``chrom``, ``start``) lie in a site (BED, half-open).

    A window with ``strand`` ``-`` is read on the reverse complement (as the model saw it, :func:`run_windows`):
    its base ``i`` is genome position ``start + L - 1 - i``.
    """
    mask = np.zeros((len(windows), length), dtype=bool)
    by_chrom = {chrom: group[["start", "end"]].to_numpy() for chrom, group in sites.groupby("chrom")}
    for i, (chrom, start) in enumerate(zip(windows["chrom"], windows["start"])):
        spans = by_chrom.get(chrom)
        if spans is None:
            continue
        hit = spans[(spans[:, 1] > start) & (spans[:, 0] < start + length)]
        for a, b in hit:
            mask[i, max(0, a - start):min(length, b - start)] = True
    if "strand" in windows:
        minus = (windows["strand"] == "-").to_numpy()
        mask[minus] = mask[minus, ::-1]
    return mask


def auroc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve (Mann–Whitney, ties averaged)."""
    scores, labels = np.ravel(scores), np.ravel(labels).astype(bool)
    positives, negatives = labels.sum(), (~labels).sum()
    if positives == 0 or negatives == 0:
        return float("nan")
    ranks = pd.Series(scores).rank(method="average").to_numpy()
    return float((ranks[labels].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def auprc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Average precision (area under the precision–recall curve, step-wise, ties grouped)."""
    scores, labels = np.ravel(scores), np.ravel(labels).astype(bool)
    if labels.sum() == 0:
        return float("nan")
    order = np.argsort(-scores, kind="stable")
    s, y = scores[order], labels[order]
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]  # last index of each tie group
    tp = np.cumsum(y)[last]
    precision = tp / (last + 1)
    recall_gain = np.diff(np.r_[0, tp]) / labels.sum()
    return float((precision * recall_gain).sum())


def ground_truth_scores(scores: np.ndarray, mask: np.ndarray) -> dict:
    """AUROC and AUPRC of ``|scores|`` ``(N, L)`` for the known-site bases ``mask`` ``(N, L)``, pooled over windows."""
    magnitude = np.abs(scores)
    return {"auroc": auroc(magnitude, mask), "auprc": auprc(magnitude, mask), "site_fraction": float(mask.mean())}


def spearman_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Spearman correlation of each row of ``a`` with the same row of ``b`` ``(N, L)`` -> ``(N,)``; two constant rows
    (all-zero maps) rank alike, 1 (fresh25: they counted 0), a constant row against a varying one 0."""
    ra = pd.DataFrame(a).rank(axis=1).to_numpy(dtype=np.float64, copy=True)
    rb = pd.DataFrame(b).rank(axis=1).to_numpy(dtype=np.float64, copy=True)
    ra -= ra.mean(axis=1, keepdims=True)
    rb -= rb.mean(axis=1, keepdims=True)
    sa, sb = (ra ** 2).sum(axis=1), (rb ** 2).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        correlation = np.where(sa * sb > 0, (ra * rb).sum(axis=1) / np.sqrt(sa * sb), 0.0)
    return np.where((sa == 0) & (sb == 0), 1.0, correlation)


# --------------------------------------------------------------------------- sanity, stability, ERF


def parameterised_layers(model: nn.Module) -> list[str]:
    """Names of the convolution and linear layers, from the input to the output."""
    return [name for name, module in model.named_modules() if isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Linear))]


def sanity_check(model: nn.Module, x: torch.Tensor, method: str, target: Target, reference: np.ndarray,
                 rng_seed: int = 0, **params) -> pd.DataFrame:
    """Cascading re-randomisation from the top layer down (Adebayo et al. 2018, "Sanity checks for saliency maps").

    Returns a table with one row per step: ``randomised`` (layers re-initialised so far, top first), ``layer`` and
    ``spearman`` (mean over windows of the rank correlation of ``|map|`` with the original ``|reference|``).

    Parameters
    ----------
    model, x, method, target, reference, rng_seed, **params
        Model (a copy is re-initialised; ``model`` is unchanged), one-hot ``(N, 4, L)``, a ``METHODS`` key, the
        target, the ``(N, L)`` map of the intact model, the new weights' seed, more :func:`seqsal.attribute` args."""
    layers = parameterised_layers(model)
    randomised = copy.deepcopy(model)  # where the model is (a GPU run's evaluation stays on the GPU)
    generator = torch.Generator().manual_seed(rng_seed)
    rows = []
    modules = dict(randomised.named_modules())
    for step, name in enumerate(reversed(layers), start=1):
        module = modules[name]
        with torch.no_grad():
            for parameter in (module.weight, module.bias):
                if parameter is not None:
                    scale = float(parameter.std()) if parameter.numel() > 1 else 0.1
                    parameter.copy_(torch.randn(parameter.shape, generator=generator) * max(scale, 1e-3))
        scores = projected_scores(randomised, x, method, target, **params)
        rows.append({"randomised": step, "layer": name,
                     "spearman": float(np.nanmean(spearman_rows(np.abs(scores), np.abs(reference))))})
    return pd.DataFrame(rows)


def stability(model: nn.Module, x: torch.Tensor, method: str, target: Target, reference: np.ndarray,
              substitutions: int = 2, rng_seed: int = 0, **params) -> dict:
    """Maps under ``substitutions`` random substitutions per window, away from the top 10 % of ``|reference|``.

    Returns the mean Spearman correlation of the maps (over the unchanged bases), and the mean absolute change of
    the prediction relative to its spread over the windows.
    """
    rng = np.random.default_rng(rng_seed)
    array = x.numpy().copy()
    n, _, length = array.shape
    keep = np.ones((n, length), dtype=bool)
    threshold = np.quantile(np.abs(reference), 0.9, axis=1, keepdims=True)
    for i in range(n):
        allowed = np.flatnonzero(np.abs(reference[i]) < threshold[i])
        for position in rng.choice(allowed, size=min(substitutions, len(allowed)), replace=False):
            current = array[i, :, position].argmax()
            array[i, :, position] = 0
            array[i, (current + rng.integers(1, 4)) % 4, position] = 1
            keep[i, position] = False
    perturbed = torch.from_numpy(array)
    scores = projected_scores(model, perturbed, method, target, **params)
    similarity = [spearman_rows(scores[i:i + 1, keep[i]], reference[i:i + 1, keep[i]])[0] for i in range(n)]
    rc = bool(params.get("rc", False))
    before, after = predict_target(model, x, target, rc=rc), predict_target(model, perturbed, target, rc=rc)
    spread = float(np.std(before)) or 1.0
    return {"stability": float(np.mean(similarity)), "prediction_change": float(np.mean(np.abs(after - before)) / spread)}


def effective_receptive_field(model: nn.Module, x: torch.Tensor) -> tuple[pd.DataFrame, np.ndarray]:
    """Impulse response of every convolution of the model.

    For the convolution at depth ``d``: the gradient of the sum over channels of its output at the centre
    position, with respect to the input; ``|gradient|`` summed over A/C/G/T and averaged over windows gives a
    profile over input positions; its width is the σ of the profile (moments of the profile taken as a
    distribution, i.e. the Gaussian of the same variance).

    Returns
    -------
    table, profiles
        Table of ``depth``, ``layer``, ``sigma``, ``support`` (bases with a non-zero response) and
        ``(D, L)`` profiles, each normalised to sum 1.
    """
    convs = [(name, m) for name, m in model.named_modules() if isinstance(m, nn.Conv1d)]
    rows, profiles = [], []
    for depth, (name, module) in enumerate(convs, start=1):
        captured = {}
        handle = module.register_forward_hook(lambda _m, _i, out: captured.__setitem__("a", out))
        try:
            leaf = x.detach().clone().requires_grad_(True)
            with torch.enable_grad():
                model(leaf)
                activation = captured["a"]
                centre = activation[:, :, activation.shape[-1] // 2].sum()
                (gradient,) = torch.autograd.grad(centre, leaf)
        finally:
            handle.remove()
        profile = gradient.abs().sum(dim=1).mean(dim=0).numpy().astype(np.float64)
        total = profile.sum()
        profile = profile / total if total > 0 else profile
        positions = np.arange(profile.shape[0])
        mean = (profile * positions).sum()
        sigma = float(np.sqrt((profile * (positions - mean) ** 2).sum()))
        rows.append({"depth": depth, "layer": name, "sigma": sigma, "support": int((profile > 1e-12).sum())})
        profiles.append(profile)
    return pd.DataFrame(rows), np.array(profiles)


@locks_run_folder("evaluate")
def evaluate_run(out_dir: str, methods: list[str] | None = None, truth: str | None = None,
                 max_regions: int | None = 100, background: str = "shuffle", sanity: bool = True,
                 seed: int | None = None, method_params: dict | None = None, plots: bool = True,
                 progress: bool = True, named: bool | None = None, device: str | None = None) -> pd.DataFrame:
    """Evaluate ``methods`` on the windows the run attributed, as it attributed them.

    The windows are the run's own (:func:`run_windows`: widened, tiled, reverse-complemented for minus-strand
    regions as the engine does); every method runs with the run's gradient correction and ``--rc``, and the
    run's own method with the run's parameters unless ``method_params`` names others.

    Parameters
    ----------
    out_dir
        A ``seqsal attribute`` output folder (its ``run.json`` names genome, regions, model and target).
    methods
        Keys of :data:`seqsal.methods.METHODS` (``None``: :data:`seqsal.evaluate_inputs.DEFAULT_METHODS`).
    named
        Whether the user named ``methods`` (``None``: unless they are the default list). A named method the model
        cannot take (deepshap on TorchScript) is refused; an unnamed one is skipped with one log line.
    truth
        BED of known functional sites (per-base AUROC/AUPRC; refused when none lies in the windows evaluated,
        :func:`~seqsal.evaluate_inputs.check_truth`); ``None`` skips it.
    max_regions
        Evaluate a random sample of this many regions (``None``: all).
    background
        ``shuffle`` or ``uniform`` for deletion/insertion.
    seed
        Seed of the region sample, the backgrounds and the methods' references and noise; ``None``: the run's.
    method_params
        ``{method: {param: value}}`` given explicitly (they override the run's for the run's method).
    device
        Where the model runs: ``cpu``, ``cuda``, ... ; ``None``: the run's device (``run.json``) where this machine
        has it, else the best available (:func:`seqsal.run_windows.run_device`).

    Returns
    -------
    pandas.DataFrame
        One row per method (also in ``evaluation.tsv``), plus a ``random`` row for the curves. Checks and methods
        the model cannot take are logged (a line each, after the progress bar) and recorded under ``skipped`` in
        ``provenance/evaluation.json``, the methods also in ``result.attrs["skipped_methods"]`` (no
        ``evaluation_erf.tsv``/``evaluation_sanity.tsv`` then: a table is never written without its header).

    Raises
    ------
    InputError
        On an unknown method, a ``max_regions`` that is not a whole number >= 1, a named method the model cannot
        take (tried on one window before any work), ``truth`` with no site in the windows evaluated, and the run's
        inputs as :func:`run_inputs` reads them (no ``run.json``, a model or genome that moved or changed).
    """
    from tqdm import tqdm

    out = Path(out_dir)
    methods, named = methods_named(methods, named)
    if unknown := [m for m in methods if m not in METHODS]:
        raise InputError(f"unknown method(s) {', '.join(unknown)}; choose from {', '.join(sorted(METHODS))}")
    count = isinstance(max_regions, (int, float, np.number)) and not isinstance(max_regions, bool)
    if max_regions is not None and (not count or not float(max_regions).is_integer() or max_regions < 1):  # fresh30b
        raise InputError(f"{option('max_regions')} must be a whole number >= 1 (None: all), got {max_regions!r}")
    max_regions = None if max_regions is None else int(max_regions)
    record, model, x, windows, target, seed = run_inputs(out, max_regions, seed)
    where = device_for(run_device(record, device), model)
    if not exported_module(model):  # the run's model, loaded for this evaluation: placed for good
        model.to(where)
    common = {"correct": bool(record["parameters"].get("correct", True)), "rc": bool(record["parameters"].get("rc"))}
    targets = {method: method_target(method, target) for method in methods}
    parameters = {method: {**common, **method_parameters(method, record, (method_params or {}).get(method, {}), seed)}
                  for method in methods}
    if named:  # a named method that cannot take this model's layers: refused before any work (fresh30)
        refuse_unfit_methods(model, x[:1], methods, targets, parameters)
    sites = None
    if truth is not None:
        from .regions import read_regions

        sites = read_regions(truth)
    n, _, length = x.shape
    mask = site_mask(windows, sites, length) if sites is not None else None
    if mask is not None:  # else AUROC/AUPRC nan: a wrong genome build or chromosome names look the same
        check_truth(sites, read_region_coordinates(out / "regions.tsv", False), windows["region_index"].nunique(),
                    bool(mask.any()), truth)
    x_np = x.numpy()
    bg = background_of(x_np, background, seed)
    rows, curve_rows, sanity_rows = [], [], []

    def record_curves(name, scores, seconds):
        deletion, insertion = deletion_insertion(model, x_np, scores, target, bg, rc=common["rc"])
        for kind, curve in (("deletion", deletion), ("insertion", insertion)):
            for fraction, value in zip(FRACTIONS, curve.mean(axis=0)):
                curve_rows.append({"method": name, "curve": kind, "fraction": round(float(fraction), 4),
                                   "mean_target": float(value)})
        row = {"method": name, "n_windows": n, "deletion_auc": float(curve_auc(deletion).mean()),
               "insertion_auc": float(curve_auc(insertion).mean()), "seconds_per_window": seconds}
        if mask is not None:
            row.update(ground_truth_scores(scores, mask))
        return row

    rng = np.random.default_rng(seed)
    rows.append(record_curves("random", rng.random((n, length)), 0.0))
    layers = parameterised_layers(model)
    skipped = unavailable_checks(record["model"].get("format"), bool(layers),
                                 any(isinstance(m, nn.Conv1d) for m in model.modules()), sanity)
    if skipped:  # before the progress bar: a line of its own
        log.warning("evaluate: %s", skipped_text(skipped))
    bar = tqdm(methods, desc="evaluate", unit="method", **({} if progress else {"disable": True}))  # TQDM_DISABLE
    skipped_methods = {}
    for method in bar:
        params = parameters[method]
        started, explained = time.perf_counter(), targets[method]
        try:
            scores = projected_scores(model, x, method, explained, **params)
        except InputError as error:
            if named:  # the user asked for it: the one-line refusal
                raise
            skipped_methods[method] = str(error)  # logged once the bar is closed: a line of its own
            continue
        seconds = (time.perf_counter() - started) / max(n, 1)
        row = record_curves(method, scores, seconds)
        subset = x[: min(n, 16)]
        if sanity and layers:
            table = sanity_check(model, subset, method, explained, scores[: subset.shape[0]], rng_seed=seed, **params)
            table.insert(0, "method", method)
            sanity_rows.append(table)
            row["sanity_spearman_all_random"] = float(table["spearman"].iloc[-1])
            row["sanity_flag"] = bool(table["spearman"].iloc[-1] > 0.5)
        row.update(stability(model, subset, method, explained, scores[: subset.shape[0]], rng_seed=seed, **params))
        rows.append(row)
    bar.close()
    for method, why in skipped_methods.items():  # after the bar, not glued to its line where it is easily missed
        log.warning("evaluate: skipped %s (a default method; name the methods with --methods to choose): %s",
                    method, why)
    if len(rows) == 1 and skipped_methods:  # no method could run: nothing to compare with random
        raise InputError(f"no method of {', '.join(methods)} can explain this model: "
                         f"{next(iter(skipped_methods.values()))}", str(out))
    result = pd.DataFrame(rows)
    result["deletion_auc_vs_random"] = result["deletion_auc"] - result.loc[0, "deletion_auc"]
    result["insertion_auc_vs_random"] = result["insertion_auc"] - result.loc[0, "insertion_auc"]
    erf_table, profiles = effective_receptive_field(model, x[: min(n, 32)])
    remove_group(out, "evaluation")  # an earlier evaluation's files (sanity table, plots) must not stay beside these
    write_table_atomic(out / "evaluation.tsv", result)
    curves = pd.DataFrame(curve_rows)
    write_table_atomic(out / "evaluation_curves.tsv", curves)
    if sanity_rows:
        write_table_atomic(out / "evaluation_sanity.tsv", pd.concat(sanity_rows, ignore_index=True))
    if len(erf_table):  # no convolution reached: no file (why: provenance/evaluation.json's "skipped")
        write_table_atomic(out / "evaluation_erf.tsv", erf_table)
    if plots:
        _plots(out / "evaluation", curves, pd.concat(sanity_rows, ignore_index=True) if sanity_rows else None,
               erf_table, profiles)
    skipped.update({"methods": skipped_methods} if skipped_methods else {})
    record_written(out, "evaluation", extra={"skipped": skipped})  # and a report drawn before it is removed
    result.attrs["skipped_methods"] = dict(skipped_methods)
    return result


def _save(fig, path: Path) -> None:
    import matplotlib.pyplot as plt

    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)


def _plots(folder: Path, curves: pd.DataFrame, sanity: pd.DataFrame | None, erf: pd.DataFrame,
           profiles: np.ndarray) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, kind in zip(axes, ("deletion", "insertion")):
        for method, group in curves[curves["curve"] == kind].groupby("method", sort=False):
            ax.plot(group["fraction"], group["mean_target"], label=method,
                    linestyle="--" if method == "random" else "-", color="grey" if method == "random" else None)
        ax.set(xlabel="fraction of bases " + ("replaced by background" if kind == "deletion" else "restored"),
               ylabel="mean target", title=kind)
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    _save(fig, folder / "deletion_insertion.png")
    if sanity is not None and len(sanity):
        fig, ax = plt.subplots(figsize=(6, 4))
        for method, group in sanity.groupby("method", sort=False):
            ax.plot(group["randomised"], group["spearman"], marker="o", label=method)
        ax.set(xlabel="layers re-randomised (from the top)", ylabel="Spearman with the original map")
        ax.axhline(0.5, color="grey", linestyle=":")
        ax.legend(fontsize=8)
        fig.tight_layout()
        _save(fig, folder / "sanity.png")
    if len(profiles):
        fig, axes = plt.subplots(1, 2, figsize=(10, 4))
        centre = profiles.shape[1] // 2
        for depth, profile in zip(erf["depth"], profiles):
            axes[0].plot(np.arange(profiles.shape[1]) - centre, profile, label=f"conv {depth}")
        axes[0].set(xlabel="input position relative to the centre", ylabel="mean |gradient| (normalised)")
        axes[0].legend(fontsize=8)
        axes[1].plot(erf["depth"], erf["sigma"], marker="o")
        axes[1].set(xlabel="convolution depth", ylabel="σ of the impulse response (bases)")
        fig.tight_layout()
        _save(fig, folder / "erf.png")
