"""Training DNA sequence models: :func:`train_model` (``seqsal train``) and a minimal MSE loop.

* :func:`train_model` — labels from BED/narrowPeak, TSV or bigWig (:mod:`seqsal.train_data`); a built-in Basset or
  BPNet; validation/test chromosomes; RC and shift augmentation; early stopping; a checkpoint after every epoch
  (:mod:`seqsal.train_checkpoint`) and ``resume``; autocast on a GPU; attribution terms (:mod:`seqsal.train_priors`:
  Fourier prior, mask prior, saliency cutout, consistency); a report (:mod:`seqsal.train_report`).
* :func:`fit_regression` — the minimal loop that ``data/demo/make_demo.py`` uses on in-memory arrays.
"""
from __future__ import annotations

import contextlib
import copy
import json
import logging
import math
import os
import sys
import time
from dataclasses import asdict, dataclass
from typing import Callable

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from .devices import autocast_dtype_for, keeps_global_rng, precision_context, select_device
from .errors import InputError, option
from .genome import Genome
from .io import write_text_atomic
from .models import build_model, save_model
from .runlock import output_lock
from .train_data import (Labels, check_label_spread, check_labels_on_genome, crop, encode_windows, interval_masks,
                         log_label_source, minus_strand, read_labels, read_mask_spec, split_chromosomes,
                         window_starts)
from .train_checkpoint import load_checkpoint, run_record, save_checkpoint
from .train_options import TrainOptions, check_options, check_window, resolved_window
from .train_outputs import (check_not_inputs, check_report_paths, check_train_outputs, check_writable, report_paths,
                            summary_json)
from .train_priors import (fourier_prior_term, input_gradients, mask_counterfactuals, mask_term,
                           positive_thresholds, positive_windows, random_cutout, rc_consistency, salient_cutout,
                           shift_consistency)
from .train_report import build_train_report, held_out_metrics, validation_score

log = logging.getLogger("seqsal")


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two 1-D arrays."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    a, b = a - a.mean(), b - b.mean()
    return float((a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum() + 1e-30))


def predict(model: nn.Module, x: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Model outputs of task 0 for ``x`` ``(N, 4, L)``, shape ``(N,)``."""
    model.eval()
    outputs = []
    with torch.no_grad():
        for i in range(0, len(x), batch_size):
            output = model(torch.as_tensor(x[i:i + batch_size], dtype=torch.float32))
            output = output[1] if isinstance(output, tuple) else output
            outputs.append(output[:, 0].numpy())
    return np.concatenate(outputs)


def fit_regression(
    model: nn.Module,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_valid: np.ndarray | None = None,
    y_valid: np.ndarray | None = None,
    epochs: int = 10,
    batch_size: int = 128,
    learning_rate: float = 2e-3,
    seed: int = 0,
) -> list[dict]:
    """Train ``model`` (output ``(N, T)``, task 0 used) with MSE and Adam; returns per-epoch metrics.

    Parameters
    ----------
    x_train, x_valid
        One-hot ``(N, 4, L)`` float32.
    y_train, y_valid
        Targets ``(N,)``.
    """
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    optimiser = torch.optim.Adam(model.parameters(), lr=learning_rate)
    x_tensor = torch.as_tensor(x_train, dtype=torch.float32)
    y_tensor = torch.as_tensor(y_train, dtype=torch.float32)
    history = []
    for epoch in range(epochs):
        model.train()
        order = torch.as_tensor(rng.permutation(len(x_tensor)))
        total = 0.0
        for i in range(0, len(order), batch_size):
            index = order[i:i + batch_size]
            output = model(x_tensor[index])
            output = output[1] if isinstance(output, tuple) else output
            loss = nn.functional.mse_loss(output[:, 0], y_tensor[index])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total += float(loss.detach()) * len(index)
        metrics = {"epoch": epoch + 1, "train_mse": total / len(order)}
        if x_valid is not None:
            metrics["valid_pearson"] = pearson(predict(model, x_valid), y_valid)
        log.info("epoch %s", metrics)
        history.append(metrics)
    model.eval()
    return history


# --------------------------------------------------------------------------------------------------------------
# seqsal train: the full trainer (labels from files, splits by chromosome, augmentation, attribution terms,
# early stopping, checkpoints and --resume, a report). Data in seqsal.train_data, terms in seqsal.train_priors.


@dataclass
class TrainData:
    """Encoded windows of one split: ``x`` ``(N, 4, L + 2 flank)`` int8, ``y`` ``(N, T)``, masks ``(N, L + 2 flank)``."""

    x: np.ndarray
    y: np.ndarray
    exclude: np.ndarray | None = None
    include: np.ndarray | None = None


def prior_interval(options: TrainOptions) -> int:
    """Optimiser steps per evaluation of the gradient terms: ``prior_every``, or 2 (5 with a consistency term)."""
    if options.prior_every is not None:
        return int(options.prior_every)
    return 5 if options.consistency is not None else 2


def term_multiplier(step: int, every: int) -> float:
    """Weight multiplier of the gradient terms at 0-based optimiser ``step``: ``every`` on every ``every``-th
    step (the first included), else 0 (the terms are not computed); lazy regularisation, Karras et al. 2020."""
    return float(every) if step % every == 0 else 0.0


def flank_of(options: TrainOptions) -> int:
    """Extra bases cut on each side of a window: room for shift augmentation and, beyond it, the consistency
    shift of the shifted partner."""
    return options.max_shift + (options.consistency_shift if options.consistency == "shift" else 0)


def build(options: TrainOptions, tasks: list[str]) -> tuple[nn.Module, int]:
    """The model to train (seeded) and its input length."""
    config = dict(options.model_config or {})
    if options.window and config.get("input_length") not in (None, options.window):  # fresh31: replaced unsaid
        raise InputError(f"{option('model_config')} input_length {config['input_length']} differs from "
                         f"{option('window', options.window)}; give the window once")
    for key, value in (("n_tasks", len(tasks)), ("task_names", list(tasks))):
        if key in config and config[key] != value:
            raise InputError(f"{option('model_config')} {key} {config[key]!r} differs from the labels' {value!r}: the "
                             f"tasks are the labels'; leave {key} out of the config (or pick tasks with "
                             f"{option('tasks')})")
    window = resolved_window(options)
    if options.architecture == "basset":
        config["input_length"] = window
    config.update(n_tasks=len(tasks), task_names=list(tasks))
    torch.manual_seed(options.seed)
    try:
        model = build_model(options.architecture, config)
    except (TypeError, ValueError) as exc:
        raise InputError(f"cannot build {options.architecture} from {option('model_config')} and "
                         f"{option('window', window)} ({exc}); check the config's keys and values, and the "
                         "window") from None
    if options.architecture == "bpnet" and 2 * model.trimming >= window:  # its profile would be empty
        raise InputError(f"{option('model_config')} trimming {model.trimming} leaves no profile of a {window}-bp "
                         f"window; give a "
                         f"trimming below {window / 2:g} or a longer {option('window')}")
    if options.architecture == "bpnet":  # trained on its counts head (outputs_of) and windows of this length
        model.input_length, model.default_target = int(window), "output=1"
    return model, int(window)


def outputs_of(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Predictions ``(N, T)``: the output of a Basset, the counts head of a BPNet."""
    output = model(x)
    return output[1] if isinstance(output, tuple) else output


def _forward(model: nn.Module, autocast: torch.dtype | None, device: torch.device):
    def forward(x: torch.Tensor) -> torch.Tensor:
        with torch.autocast(device.type, dtype=autocast or torch.float32, enabled=autocast is not None):
            return outputs_of(model, x).float()
    return forward


def task_loss(predictions: torch.Tensor, targets: torch.Tensor, task: str) -> torch.Tensor:
    """MSE (regression) or binary cross-entropy on logits (classification), mean over samples and tasks."""
    if task == "regression":
        return nn.functional.mse_loss(predictions, targets)
    return nn.functional.binary_cross_entropy_with_logits(predictions, targets)


def make_batch(data: TrainData, index: np.ndarray, options: TrainOptions, window: int,
               rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Cut (and augment) one training batch: shift, reverse complement; the shifted partner for consistency."""
    flank = (data.x.shape[-1] - window) // 2  # flank_of(options): max_shift + the consistency shift
    s = options.consistency_shift if options.consistency == "shift" else 0
    m = flank - s  # the shift augmentation, +-max_shift around the centre; the partner moves s further
    offsets = rng.integers(flank - m, flank + m + 1, size=len(index)) if m else np.full(len(index), flank, np.int64)
    flip = rng.random(len(index)) < 0.5 if options.rc_augment else np.zeros(len(index), bool)
    x_full = data.x[index].astype(np.float32)
    batch = {"x": crop(x_full, offsets, window), "y": data.y[index]}
    if s:
        batch["x_shifted"] = crop(x_full, offsets + np.where(flip, -s, s), window)
    for name in ("exclude", "include"):
        if getattr(data, name) is not None:
            batch[name] = crop(getattr(data, name)[index], offsets, window)
    for key in ("x", "x_shifted", "exclude", "include"):
        if key in batch:
            value = batch[key]
            value[flip] = value[flip][..., ::-1, ::-1] if value.ndim == 3 else value[flip][..., ::-1]
    return batch


def train_step(model: nn.Module, optimiser: torch.optim.Optimizer, batch: dict[str, np.ndarray],
               options: TrainOptions, rng: np.random.Generator, device: torch.device,
               autocast: torch.dtype | None, multiplier: float = 1.0, spread: np.ndarray | None = None,
               thresholds: np.ndarray | None = None) -> dict[str, float]:
    """One optimiser step on a batch; returns the task loss and each attribution term (unweighted).

    ``multiplier`` scales the weights of the gradient terms (Fourier, consistency); 0 skips them (a plain
    step): :func:`term_multiplier`. The cutouts (augmentation) and the mask prior (the masked windows'
    counterfactuals appended to the task's forward pass, no double backpropagation) run on every step; ``spread``
    ``(T,)`` is the mask prior's scale, the variance of each task's labels over the training split (default:
    over the batch). ``thresholds`` ``(T,)``: the Fourier prior's positives are the windows with a label above
    (:func:`seqsal.train_priors.positive_thresholds`; default: every window).
    """
    forward = _forward(model, autocast, device)
    x = batch["x"]
    if options.saliency_cutout or options.random_cutout:
        if options.saliency_cutout:
            model.eval()  # the saliency pass must not move batch-norm statistics
            x = salient_cutout(forward, x, options.saliency_cutout, options.cutout_span, rng, device,
                               options.cutout_fill)
            model.train()
        else:
            x = random_cutout(x, options.random_cutout, options.cutout_span, rng, options.cutout_fill)
    x_t = torch.as_tensor(np.ascontiguousarray(x), device=device)
    y_t = torch.as_tensor(batch["y"], device=device)
    needs_grad = multiplier > 0 and (options.fourier_prior > 0 or options.consistency is not None)
    counterfactuals = None
    if options.mask_weight > 0:
        masks = [torch.as_tensor(np.ascontiguousarray(batch[k]), device=device) if k in batch else None
                 for k in ("exclude", "include")]
        counterfactuals = mask_counterfactuals(x_t, *masks)
    # the counterfactuals of the mask prior share the task's forward pass (and its batch statistics)
    x_all = x_t if counterfactuals is None else torch.cat([x_t, counterfactuals.inputs])
    n = len(x_t)
    terms: dict[str, torch.Tensor] = {}
    if needs_grad:
        outputs, gradients = input_gradients(forward, x_all)
        predictions, attributions = outputs[:n], gradients[:n] * x_t
        if options.fourier_prior > 0:
            positives = (positive_windows(y_t, torch.as_tensor(thresholds)) if thresholds is not None
                         else torch.ones(n, dtype=torch.bool, device=device))
            terms["fourier"] = fourier_prior_term(attributions, positives, options.fourier_freq_limit,
                                                  sigma=options.fourier_sigma)
        # centred on one window, the two maps are opposite (distance 2, no gradient): a batch of one skips the term
        if options.consistency == "rc" and (n > 1 or not options.consistency_centre):
            terms["consistency"] = rc_consistency(forward, x_t, attributions, centre=options.consistency_centre)
        elif options.consistency == "shift":
            shifted = torch.as_tensor(np.ascontiguousarray(batch["x_shifted"]), device=device)
            terms["consistency"] = shift_consistency(forward, x_t, shifted, options.consistency_shift, attributions)
    else:
        outputs = forward(x_all)
        predictions = outputs[:n]
    mask_value = None
    if options.mask_weight > 0:
        scale = y_t.float().var(dim=0, unbiased=False) if spread is None else torch.as_tensor(spread, device=device)
        mask_value = (mask_term(predictions, outputs[n:], counterfactuals, scale) if counterfactuals is not None
                      else predictions.new_zeros(()))
    loss = task_loss(predictions, y_t, options.task)
    weights = {"fourier": options.fourier_prior, "mask": options.mask_weight, "consistency": options.consistency_weight}
    total = loss + sum(multiplier * weights[name] * value for name, value in terms.items())
    if mask_value is not None:  # not a gradient term: every step, weight as given
        terms["mask"] = mask_value
        total = total + options.mask_weight * mask_value
    optimiser.zero_grad(set_to_none=True)
    total.backward()
    optimiser.step()
    return {"loss": float(loss.detach()), **{name: float(value.detach()) for name, value in terms.items()}}


def predict_windows(model: nn.Module, data: TrainData, window: int, device: torch.device,
                    autocast: torch.dtype | None, batch_size: int = 256) -> np.ndarray:
    """Predictions ``(N, T)`` on the centred windows of a split (eval mode, no augmentation)."""
    flank = (data.x.shape[-1] - window) // 2
    forward = _forward(model, autocast, device)
    model.eval()
    out = []
    with torch.no_grad(), precision_context(device, None) if autocast is None else contextlib.nullcontext():
        for i in range(0, len(data.x), batch_size):
            x = torch.as_tensor(data.x[i:i + batch_size, :, flank:flank + window].astype(np.float32), device=device)
            out.append(forward(x).cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, data.y.shape[1]), np.float32)


def load_splits(genome_path: str, labels: Labels, options: TrainOptions, window: int) -> dict[str, TrainData]:
    """Encode the windows of every split (``train``, ``valid``, ``test`` when it has regions) and their masks."""
    if options.task == "classification" and not (binary := np.isin(labels.values, (0.0, 1.0))).all():
        row, task = (int(k) for k in np.argwhere(~binary)[0])  # the first, named by its line (trainbreak)
        raise InputError(f"{option('task', 'classification')} needs labels of 0 or 1, got {labels.values[row, task]:g} "
                         f"({labels.tasks[task]}); use {option('task', 'regression')} for other values",
                         labels.regions_path or labels.path, int(labels.regions["line"].iloc[row]) or None)
    regions = labels.regions
    chroms = regions["chrom"].to_numpy(dtype=object)
    flank = flank_of(options)
    starts = window_starts(regions, window) - flank
    exclude = include = None
    out = {}
    with Genome(genome_path, unknown_bases=options.unknown_bases) as genome:
        # the labels on the genome first (fresh31: labels named 1/2/3 on a chr1/2/3 genome were told first that
        # --valid-chroms chr2 holds no region, and a bigWig of another build that its labels were constant)
        check_labels_on_genome(labels, genome.chrom_sizes)  # regions (and a bigWig's sizes) on the genome
        longest = max(genome.chrom_sizes.items(), key=lambda item: item[1])
        if window > longest[1]:  # fresh31: a whole epoch of N-padded windows, then "no finite validation score"
            raise InputError(f"{option('window', window)} is longer than every chromosome (the longest, "
                             f"{longest[0]}, is {longest[1]} bp): its windows would be mostly N; give a window of at "
                             f"most {longest[1]} bp", genome_path)
        split = split_chromosomes(chroms, options.valid_chroms, options.test_chroms, labels.path)
        check_label_spread(labels, split, options.valid_chroms)  # before the windows are read
        ends = np.array([genome.chrom_sizes[str(chrom)] for chrom in chroms], np.int64)
        if (past := int(((starts < 0) | (starts + window + 2 * flank > ends)).sum())):  # trainbreak: silent
            log.warning("%d of %d labelled windows run past their chromosome (window %d bp, %d more each side for "
                        "shifts): those bases are read as N (zeros)", past, len(starts), window, flank)
        if options.mask_prior:
            exclude, include = read_mask_spec(options.mask_prior, genome.chrom_sizes)
        for name, chosen in split.items():
            if not chosen.any():
                continue
            x = encode_windows(genome, chroms[chosen], starts[chosen], window + 2 * flank, labels.path,
                               regions["line"].to_numpy()[chosen]).astype(np.int8)
            minus = minus_strand(regions)[chosen]  # read as attribute reads them (fresh31)
            x[minus] = x[minus][:, ::-1, ::-1]
            data = TrainData(x, labels.values[chosen].astype(np.float32))
            if exclude is not None:
                data.exclude = interval_masks(exclude, chroms[chosen], starts[chosen], window + 2 * flank)
                data.exclude[minus] = data.exclude[minus][:, ::-1]
            if include is not None:
                data.include = interval_masks(include, chroms[chosen], starts[chosen], window + 2 * flank)
                data.include[minus] = data.include[minus][:, ::-1]
            out[name] = data
    for part, table, key in ((0, exclude, "exclude"), (1, include, "include")):
        if table is not None and not getattr(out["train"], key).any():  # trainbreak: term 0 every epoch, no word
            log.warning("--mask-prior %s touches no training window: its term does nothing (are its intervals on "
                        "the validation or test chromosomes, or between the labelled regions?)",
                        options.mask_prior.split(",")[part])
    return out


@keeps_global_rng
def train_model(
    genome: str | os.PathLike,
    labels: str | os.PathLike | Labels,
    output: str | os.PathLike,
    options: TrainOptions | None = None,
    resume: bool = False,
    quiet: bool = False,
    report: str | os.PathLike | None = None,
    force: bool = False,
    on_batch: Callable[[int, int], None] | None = None,
) -> dict:
    """Train a built-in model on genome windows, with optional attribution priors, and save it.

    The priors (:mod:`seqsal.train_priors`, chosen in :class:`TrainOptions`): the Fourier prior of Tseng,
    Shrikumar & Kundaje 2020; a mask penalty after Ross, Hughes & Doshi-Velez 2017 ("Right for the right
    reasons"); reverse-complement and shift consistency of the gradient x input maps; saliency-guided cutout.

    Parameters
    ----------
    genome
        FASTA of the genome the labels' coordinates refer to.
    labels
        A labels file (:func:`seqsal.train_data.read_labels`) or :class:`~seqsal.train_data.Labels`.
    output
        The model file (``seqsal.save_model`` safetensors; ``seqsal attribute`` loads it unchanged). The
        checkpoint is ``<output>.ckpt``, rewritten atomically after every epoch.
    options
        :class:`TrainOptions`.
    resume
        Continue from ``<output>.ckpt`` (after a kill): the epochs already done are not redone, and the
        result equals an uninterrupted run's (the randomness of each epoch derives from ``(seed, epoch)``).
    quiet
        No progress bar.
    report
        The HTML report (default ``<stem>.train_report.html`` beside ``output``, ``<stem>`` its name without the
        suffix); its numbers also go to ``<report>.json`` (strict JSON: an undefined number is ``null``).
    force
        Overwrite a model or report already there; without it (or ``resume``) they, and the checkpoint of an
        interrupted run, are refused (:func:`seqsal.train_outputs.check_train_outputs`).
    on_batch
        Called as ``on_batch(epoch, batch)`` after every optimiser step (progress hooks, tests).

    Returns
    -------
    dict
        The summary written to the JSON file: options, per-epoch history, held-out metrics per split.

    Raises
    ------
    InputError
        Bad labels, genome, masks or options; a model, report or checkpoint already there without ``force`` or
        ``resume`` (or both given), a checkpoint of another run or not a seqsal checkpoint, an output that would
        overwrite an input, or a folder that cannot be written; another process writing the same model or report;
        training that diverged (non-finite loss) or gave no finite validation score (nothing is saved then).
    """
    options = options or TrainOptions()
    check_options(options)
    labels = labels if isinstance(labels, Labels) else read_labels(labels)
    check_writable(str(output))  # before its lock file is made beside it
    report_html = report_paths(str(output), None if report is None else str(report))[0]
    # one writer of this model and checkpoint, and of this report (trainbreak: another run's --report overwrote it)
    with output_lock(str(output), "seqsal train"), output_lock(report_html, "seqsal train"):
        return _train(str(genome), labels, str(output), options, resume, quiet, report, force, on_batch)


def _train(genome: str, labels: Labels, output: str, options: TrainOptions, resume: bool, quiet: bool,
           report: str | os.PathLike | None, force: bool, on_batch: Callable[[int, int], None] | None) -> dict:
    report, report_json = report_paths(output, None if report is None else str(report))
    check_report_paths(output, (report, report_json), output + ".ckpt")
    check_not_inputs((output, output + ".ckpt", output + ".lock", report, report + ".lock", report_json),
                     (genome, genome + ".fai", genome + ".gzi", labels.path, labels.regions_path,
                      *(options.mask_prior or "").split(",")))
    check_train_outputs(output, (report, report_json), output + ".ckpt", force, resume)
    check_writable(report)
    device = select_device(options.device)
    precision = options.precision if options.precision != "auto" else ("bf16" if device.type == "cuda" else "fp32")
    if device.type == "cpu" and precision != "fp32":  # autocast is for GPUs: say so, and record what ran
        log.info("--precision %s applies on a GPU; training in fp32 on the CPU", precision)
        precision = "fp32"
    autocast = autocast_dtype_for(precision, device) if device.type != "cpu" else None
    model, window = build(options, labels.tasks)
    check_window(options, window)
    splits = load_splits(str(genome), labels, options, window)
    log_label_source(labels)
    model.to(device)
    optimiser = torch.optim.Adam(model.parameters(), lr=options.learning_rate)
    checkpoint, owner = output + ".ckpt", run_record(options, labels, str(genome))
    history: list[dict] = []
    best = {"score": -math.inf, "epoch": 0, "state": copy.deepcopy(model.state_dict()), "bad": 0}
    if resume and os.path.isfile(checkpoint):
        state = load_checkpoint(checkpoint, owner)
        model.load_state_dict(state["model"])
        optimiser.load_state_dict(state["optimiser"])
        history = json.loads(state["history"])
        if len(history) > options.epochs:  # trainbreak: the report said 1 epoch and held 3, the model from all 3
            raise InputError(f"this checkpoint has {len(history)} epochs done already; give {option('epochs')} "
                             f">= {len(history)} to {option('resume')}", checkpoint)
        best = {"score": state["best_score"], "epoch": state["best_epoch"], "state": state["best_state"],
                "bad": state["bad_epochs"]}
        log.info("resuming from %s after epoch %d", checkpoint, len(history))
    elif resume:
        log.info("no checkpoint at %s; starting from the first epoch", checkpoint)
    train, valid = splits["train"], splits["valid"]
    n_batches = math.ceil(len(train.x) / options.batch_size)
    every = prior_interval(options)
    spread = train.y.astype(np.float64).var(axis=0).astype(np.float32)
    thresholds = positive_thresholds(train.y, options.task, options.fourier_positives)
    for epoch in range(len(history) + 1, options.epochs + 1):
        if best["bad"] >= options.patience:
            log.info("stopped early after epoch %d: no better validation score in %d epochs (--patience); the "
                     "model is epoch %d's", epoch - 1, options.patience, best["epoch"])
            break
        started, cpu_started = time.perf_counter(), time.process_time()
        rng = np.random.default_rng([options.seed, epoch])
        torch.manual_seed(options.seed * 100_003 + epoch)
        model.train()
        order = rng.permutation(len(train.x))
        sums: dict[str, float] = {}
        counts: dict[str, int] = {}
        bar = tqdm(total=n_batches, desc=f"epoch {epoch}/{options.epochs}", file=sys.stderr, leave=False,
                   dynamic_ncols=True, **({"disable": True} if quiet else {}))  # else TQDM_DISABLE decides
        for b in range(n_batches):
            index = np.sort(order[b * options.batch_size:(b + 1) * options.batch_size])
            # fp32 is float32 on a GPU too, not TF32 (review32); autocast stays around the forward passes alone
            with precision_context(device, None) if autocast is None else contextlib.nullcontext():
                values = train_step(model, optimiser, make_batch(train, index, options, window, rng), options, rng,
                                    device, autocast, term_multiplier((epoch - 1) * n_batches + b, every),
                                    spread=spread, thresholds=thresholds)
            for key, value in values.items():
                sums[key] = sums.get(key, 0.0) + value * len(index)
                counts[key] = counts.get(key, 0) + len(index)
            bar.update(1)
            bar.set_postfix(loss=f"{sums['loss'] / ((b * options.batch_size) + len(index)):.4f}",
                            valid=f"{best['score']:.3f}" if history else "-")
            if on_batch is not None:
                on_batch(epoch, b)
        bar.close()
        score = validation_score(predict_windows(model, valid, window, device, autocast), valid.y, options.task)
        record = {"epoch": epoch, "train_loss": sums.pop("loss") / len(train.x), "valid_score": score,
                  **{f"term_{k}": v / counts[k] for k, v in sums.items()},
                  "seconds": time.perf_counter() - started, "cpu_seconds": time.process_time() - cpu_started}
        history.append(record)
        if score > best["score"]:
            best = {"score": score, "epoch": epoch, "state": copy.deepcopy(model.state_dict()), "bad": 0}
        else:
            best["bad"] += 1
        if not quiet:
            log.info("epoch %d: loss %.4f, validation %.4f (%.1f s)", epoch, record["train_loss"], score,
                     record["seconds"])
        if not math.isfinite(record["train_loss"]):
            raise InputError(f"training diverged at epoch {epoch} (loss {record['train_loss']}), so the model was not "
                             f"written; lower {option('learning_rate')} or the prior weights and rerun "
                             f"({option('force')} over a "
                             "checkpoint)", labels.path)
        save_checkpoint(checkpoint, {"digest": json.dumps(owner, sort_keys=True), "model": model.state_dict(),
                                     "optimiser": optimiser.state_dict(),
                                     "history": json.dumps(history), "best_score": best["score"],
                                     "best_epoch": best["epoch"], "best_state": best["state"],
                                     "bad_epochs": best["bad"]})
    if not best["epoch"]:
        raise InputError("no epoch gave a finite validation score (constant predictions, or constant labels on the "
                         "validation chromosomes), so the model was not written; check the labels there",
                         labels.path)
    model.load_state_dict(best["state"])
    metrics = {name: held_out_metrics(predict_windows(model, data, window, device, autocast), data.y, options.task,
                                      labels.tasks)
               for name, data in splits.items()}
    model.cpu().eval()
    save_model(model, output)
    summary = {"model": output, "labels": labels.path, "genome": str(genome), "tasks": labels.tasks,
               "window": window, "device": str(device), "precision": precision,
               "options": {**asdict(options), "cutout_span": list(options.cutout_span), "prior_every": every},
               "history": history, "stopped_early": len(history) < options.epochs,
               "best_epoch": best["epoch"], "best_score": best["score"], "metrics": metrics,
               "seconds_per_epoch": float(np.mean([h["seconds"] for h in history])) if history else 0.0}
    write_text_atomic(report, build_train_report(summary))
    write_text_atomic(report_json, summary_json(summary))
    return summary
