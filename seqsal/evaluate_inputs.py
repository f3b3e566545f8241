"""What the model checks of a run folder (``seqsal evaluate``, ``check-seqlets``, the audit's model check) may use.

* :func:`check_model_unchanged` — the model file (and a user architecture file) must be the bytes the run
  attributed with: the SHA-256 ``run.json`` recorded at ``seqsal attribute`` time against the file's now.
* :func:`unavailable_checks` — which of the evaluation's model-internal checks (the cascading sanity check,
  the effective receptive field) a model cannot take, and why, in words the log and the report show.
* :data:`DEFAULT_METHODS` and :func:`methods_named` — the methods ``seqsal evaluate`` runs when the user names
  none; only those may be skipped when the model cannot take one (a named method that cannot run is refused).
* :func:`check_truth` — a ``--truth`` BED must overlap the regions evaluated (else AUROC/AUPRC are ``nan``).
"""
from __future__ import annotations

import logging
import os

import numpy as np
import pandas as pd

from .errors import InputError, option
from .text import plural

log = logging.getLogger("seqsal")

DEFAULT_METHODS: tuple[str, ...] = ("saliency", "grad_x_input", "ig", "deepshap", "ism")
"""The methods ``seqsal evaluate`` scores when ``--methods`` is not given (the CLI's default list)."""

FORMAT_WORDS = {"torchscript": "a TorchScript model", "export": "a torch.export program (.pt2)"}  # run outside Python
_ADVICE = ("give the model as a state_dict (.pt or .safetensors) with --architecture (a built-in name or "
           "file.py:Class) to get them")


def _changed_text(what: str, recorded: str, now: str) -> str:
    return (f"the {what} changed since this run (sha256 recorded {recorded[:8]}..., now {now[:8]}...); rerun seqsal "
            f"attribute, or restore the original (a copy of it elsewhere: `seqsal relocate RUN_FOLDER "
            f"--{_flag(what)} PATH`)")


def _flag(what: str) -> str:
    """The `seqsal relocate` option of a recorded file (a module the architecture imports moves with its file)."""
    return "architecture" if what.startswith("module") else what.split()[0]


def imported_modules(model: dict, architecture_file: str) -> list[tuple[str, str, str]]:
    """``(relative, path, sha256)`` of each module ``run.json``'s ``model`` record says the architecture file
    imports, with its path beside ``architecture_file`` (the modules move with their file)."""
    folder = os.path.dirname(architecture_file)
    return [(relative, os.path.join(folder, relative), digest)
            for relative, digest in (model.get("architecture_imports") or {}).items()]


def check_model_unchanged(model: dict) -> None:
    """Refuse a run folder whose model file (or user architecture file) is not the one the run attributed with.

    Parameters
    ----------
    model
        ``run.json``'s ``model`` record: ``path`` and ``sha256`` of the model file, and for a state_dict with a
        user architecture ``architecture`` (``/path/file.py:Class``) and ``architecture_sha256``.

    Raises
    ------
    InputError
        A file whose SHA-256 differs from the recorded one (``seqsal: error: <path>: the model file changed since
        this run (sha256 recorded 364cc366..., now 0a1b2c3d...); ...``). A file that is gone from its path (one line
        naming ``seqsal relocate``). A folder from before the hashes were recorded gets a warning, not a refusal.
    """
    from .models.files import file_sha256

    path = model.get("path")
    files = [("model file", path, model.get("sha256"))]
    architecture = model.get("architecture")
    if isinstance(architecture, str) and ".py:" in architecture:  # a user file; a built-in name has none
        file = architecture.rpartition(":")[0]
        files.append(("architecture file", file, model.get("architecture_sha256")))
        files += [("module the architecture file imports", path, digest)
                  for _, path, digest in imported_modules(model, file)]
    for what, file, recorded in files:
        if file and not os.path.isfile(file):
            raise InputError(f"the {what} this run attributed with is not there any more; if it moved, `seqsal "
                             f"relocate RUN_FOLDER --{_flag(what)} NEW_PATH` points the run at it (checked to be "
                             "the same)", file)
        if not file:
            continue
        if not recorded:
            log.warning("%s: this run recorded no sha256 of its %s (a run folder of an older seqsal): it cannot be "
                        "checked to be the one the run attributed with", file, what)
            continue
        now = file_sha256(file)
        if now != recorded:
            raise InputError(_changed_text(what, recorded, now), file)


def unavailable_checks(model_format: str | None, has_layers: bool, has_convolutions: bool, sanity: bool = True
                       ) -> dict[str, str]:
    """The model-internal checks a model cannot take, each with why and what to do.

    Parameters
    ----------
    model_format
        ``run.json``'s ``model.format`` (``torchscript``, ``export``, ``state_dict``, ``seqsal``).
    has_layers
        Whether the model has parameterised layers as Python modules (``nn.Conv1d``/``Conv2d``/``Linear``): the
        sanity check re-randomises them.
    has_convolutions
        Whether it has ``nn.Conv1d`` modules: the effective receptive field hooks their outputs.
    sanity
        Whether the sanity check was asked for (``--no-sanity``: it is not reported as skipped).

    Returns
    -------
    dict
        ``{"sanity": why, "receptive_field": why}`` for the checks that cannot run (empty when all can).
    """
    kind = FORMAT_WORDS.get(model_format or "")
    why = f"{kind} runs its layers outside Python, where they cannot be re-randomised or hooked; {_ADVICE}" \
        if kind else None
    skipped = {}
    if sanity and not has_layers:
        skipped["sanity"] = why or "the model has no Conv1d, Conv2d or Linear module to re-randomise"
    if not has_convolutions:
        skipped["receptive_field"] = why or "the model has no Conv1d module whose output can be hooked"
    return skipped


def skipped_text(skipped: dict[str, str]) -> str:
    """One sentence of :func:`unavailable_checks`' result, e.g. ``no sanity check and no effective receptive
    field: a TorchScript model runs its layers outside Python, ...``; ``""`` when nothing was skipped."""
    names = {"sanity": "no sanity check", "receptive_field": "no effective receptive field"}
    if not skipped:
        return ""
    reasons = list(dict.fromkeys(skipped.values()))
    if len(reasons) == 1:
        return f"{' and '.join(names[key] for key in skipped)}: {reasons[0]}"
    return "; ".join(f"{names[key]}: {why}" for key, why in skipped.items())


def methods_named(methods: list[str] | str | None, named: bool | None) -> tuple[list[str], bool]:
    """The methods to evaluate and whether the user named them (then a method the model cannot take is refused).

    ``methods`` ``None`` is :data:`DEFAULT_METHODS`; ``named`` ``None`` means named unless the list is the default
    one (the CLI says whether ``--methods`` was given). A method named twice is evaluated once (the first place
    it is named; one warning line says so), not given two rows of ``evaluation.tsv``.

    Raises
    ------
    InputError
        For an empty list (``--methods ""``): it would evaluate only the ``random`` row and still replace the
        folder's evaluation. Raised before anything is read or written.
    """
    if isinstance(methods, str):  # one name, or the CLI's comma-separated form ("saliency" was read as letters)
        methods = [name.strip() for name in methods.split(",") if name.strip()]
    chosen = list(DEFAULT_METHODS) if methods is None else list(methods)
    if not chosen:
        raise InputError(f"{option('methods')} is empty; give one or more of "
                         f"{', '.join(DEFAULT_METHODS)} (comma-separated), or leave it out for all that the model "
                         "can take")
    unique = list(dict.fromkeys(chosen))
    if len(unique) < len(chosen):
        repeated = [name for name in unique if chosen.count(name) > 1]
        log.warning("evaluate: %s named more than once; evaluating each once", ", ".join(repeated))
    if named is None:
        named = methods is not None and tuple(unique) != DEFAULT_METHODS
    return unique, bool(named)


def sites_overlapping(sites: pd.DataFrame, regions: pd.DataFrame) -> np.ndarray:
    """Which truth sites overlap at least one region (same chromosome name, half-open intervals share a base).

    Parameters
    ----------
    sites, regions
        Tables with ``chrom`` (compared as text), ``start`` and ``end`` (0-based half-open), e.g. a ``--truth``
        BED and the run's ``regions.tsv``.

    Returns
    -------
    np.ndarray
        ``(len(sites),)`` bool. Per chromosome the regions are sorted by start; a site overlaps one when, among
        the regions starting before its end, the largest end is past its start.
    """
    hit = np.zeros(len(sites), dtype=bool)
    chroms = sites["chrom"].astype(str).to_numpy()
    by_chrom = regions.assign(chrom=regions["chrom"].astype(str)).groupby("chrom", sort=False)
    for chrom, group in by_chrom:
        order = np.argsort(group["start"].to_numpy(np.int64), kind="stable")
        starts = group["start"].to_numpy(np.int64)[order]
        reach = np.maximum.accumulate(group["end"].to_numpy(np.int64)[order])
        mine = np.flatnonzero(chroms == chrom)
        last = np.searchsorted(starts, sites["end"].to_numpy(np.int64)[mine], side="left") - 1
        hit[mine] = (last >= 0) & (reach[np.maximum(last, 0)] > sites["start"].to_numpy(np.int64)[mine])
    return hit


def check_truth(sites: pd.DataFrame, regions: pd.DataFrame, sampled: int, in_windows: bool, path: str) -> None:
    """Refuse a ``--truth`` BED that no AUROC/AUPRC can be computed from (they would be ``nan``).

    Parameters
    ----------
    sites
        The truth BED (``chrom``, ``start``, ``end``).
    regions
        The run's ``regions.tsv`` (``chrom``, ``start``, ``end``): all of them.
    sampled
        How many regions the evaluation reads (``max_regions`` or all).
    in_windows
        Whether any base of the evaluated windows lies in a site.
    path
        The BED, named in the message.

    Raises
    ------
    InputError
        When no site overlaps any region of the run (a wrong genome build or chromosome naming looks like this),
        or none overlaps the sampled regions' windows.
    """
    n_hit = int(sites_overlapping(sites, regions).sum())
    if n_hit == 0:
        shown = ", ".join(sorted(set(sites["chrom"].astype(str)))[:3])
        ours = ", ".join(sorted(set(regions["chrom"].astype(str)))[:3])
        raise InputError(f"0 of {plural(len(sites), 'truth site')} overlap the run's "
                         f"{plural(len(regions), 'region')} (sites on {shown or 'no chromosome'}; regions on "
                         f"{ours}): check that {option('truth')} uses the genome build and the chromosome names "
                         "(chr1 or 1) of the run's regions.tsv", path)
    if not in_windows:
        raise InputError(f"{n_hit} of {plural(len(sites), 'truth site')} overlap the run's regions, but none the "
                         f"{plural(sampled, 'region')} evaluated; evaluate more regions "
                         f"({option('max_regions')}, larger, or all)", path)


def check_run_regions(table: pd.DataFrame, run: pd.DataFrame, regions_path: str) -> None:
    """Refuse regions re-read from the run's BED (``table``, prepared as ``seqsal attribute`` prepares them) that
    are no longer the run's ``regions.tsv`` rows ``run`` (:func:`seqsal.regions.first_region_difference`): a file
    edited in place since the run would be scored in other windows (auditbreak: every p-value moved, no word).

    Raises
    ------
    InputError
        Naming the first differing row (and its line of the file) and what to do.
    """
    from .regions import first_region_difference

    if (differs := first_region_difference(table, run)) is not None:
        what, line = differs
        raise InputError(f"no longer the run's regions ({what}): the file changed since `seqsal attribute`; restore "
                         "it, or rerun `seqsal attribute` with --force", regions_path, line)


def recorded_transform(record: dict) -> str:
    """The target transform of a run folder made before ``run.json`` recorded it: the ``--target`` option's."""
    from .attribution import Target

    text = (record.get("parameters") or {}).get("target")
    return Target.parse(text if isinstance(text, str) else None).transform or "none"


def method_target(method: str, target):
    """The target ``method`` explains in ``seqsal evaluate``: the run's, except that DeepLIFT/DeepSHAP, whose rules
    cannot take a transform of the output, explain a ``logit`` run's probability (a warning says so; the curves
    score the run's target)."""
    from dataclasses import replace

    if method in ("deeplift", "deepshap") and target.transform not in (None, "none"):
        log.warning("evaluate: %s explains the probability, not the logit the run explained (its rules act on the "
                    "model's own layers); its curves are scored on the logit", method)
        return replace(target, transform="none")
    return target


def method_parameters(method: str, record: dict, given: dict, seed: int) -> dict:
    """The parameters ``method`` runs with in ``seqsal evaluate``: the run's own (for the run's method), then those
    ``given``, and the seed for the methods that draw references or noise."""
    from .methods import METHOD_OPTIONS

    params = dict(record["parameters"].get("method_params") or {}) if method == record.get("method") else {}
    params.update({key: value for key, value in given.items() if value is not None})
    if "seed" in METHOD_OPTIONS.get(method, ()):
        params.setdefault("seed", seed)
    return params


def refuse_unfit_methods(model, window, methods, targets: dict, parameters: dict) -> None:
    """Run each of ``methods`` that explains only the layers it has rules for
    (:data:`~seqsal.methods.registry.LAYER_RULE_METHODS`: DeepSHAP's rules, Grad-CAM's feature map) on one window
    ``(1, 4, L)`` with one reference, before any other work: a model it cannot take is refused in seconds, not after
    every method listed before it (fresh30: 8 minutes of other methods, then the refusal). ``targets`` and
    ``parameters`` map each method to the target it explains and the parameters it runs with.

    Raises
    ------
    InputError
        The method's own refusal (e.g. :class:`~seqsal.methods.UnsupportedLayer`).
    """
    from .methods import METHOD_OPTIONS, attribute
    from .methods.registry import LAYER_RULE_METHODS

    for method in (m for m in methods if m in LAYER_RULE_METHODS):
        fewest = {"references": 1} if "references" in METHOD_OPTIONS.get(method, ()) else {}
        attribute(model, window, method=method, target=targets[method], hypothetical=True,
                  **{**parameters[method], **fewest})
