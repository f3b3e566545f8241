"""The options of ``seqsal train`` (:class:`TrainOptions`) and what is refused before any work: values that cannot
work, alone or together (:func:`check_options`), and lengths that do not fit the training window (:func:`check_window`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from .errors import InputError, option
from .train_priors import CUTOUT_FILLS

__all__ = ["TrainOptions", "check_options", "check_window"]


@dataclass
class TrainOptions:
    """Options of :func:`train_model` (the flags of ``seqsal train``).

    Attributes
    ----------
    architecture, model_config
        Built-in ``basset`` or ``bpnet`` and its constructor arguments (``n_tasks``, ``task_names`` and
        ``input_length`` are filled in). A BPNet is trained on its counts head.
    task
        ``regression`` (MSE) or ``classification`` (binary cross-entropy on logits; labels 0/1).
    window
        Input length in bases (default the config's ``input_length``, else 500).
    valid_chroms, test_chroms
        Chromosomes held out for early stopping and for the final test metrics.
    epochs, batch_size, learning_rate, patience, seed
        Adam; stop after ``patience`` epochs without a better validation score; all randomness from ``seed``.
    rc_augment, max_shift
        Reverse-complement half the training windows; shift each by up to ``max_shift`` bases.
    fourier_prior, fourier_freq_limit, fourier_sigma
        Weight of :func:`seqsal.train_priors.fourier_penalty` (0: off) and its cut-off and smoothing.
    fourier_positives
        The prior applies to the positive windows of each batch only (Tseng et al. 2020;
        :func:`seqsal.train_priors.fourier_prior_term`): classification, a label of 1; regression, a label above
        this quantile of the task's training labels (default 0.5: the upper half), in any task
        (:func:`seqsal.train_priors.positive_thresholds`). ``None``: every window (seqsal's first version).
    mask_prior, mask_weight
        ``EXCLUDE.bed[,INCLUDE.bed]`` and the weight of :func:`seqsal.train_priors.mask_penalty` (the squared
        effect of randomising M- over the labels' variance; computed on every step).
    saliency_cutout, random_cutout, cutout_span
        Probability of a salient (or random) cutout per training window, and its length range in bases.
    cutout_fill
        What replaces the cut stretch: ``random`` bases (default) or ``n``, Ns (all-zero one-hot columns).
    unknown_bases
        A FASTA character that is not an IUPAC code within a training window: ``error`` (stop with its line, as
        ``seqsal attribute`` does by default) or ``n`` (read it as N; one warning line counts them).
    consistency, consistency_weight, consistency_shift
        ``rc`` or ``shift`` (or ``None``), its weight, and the shift in bases.
    consistency_centre
        ``rc``: compare maps centred per position over the batch (default;
        :func:`seqsal.train_priors.rc_consistency`), so that a sequence-independent positional profile does not
        satisfy the term for free; ``False``: the uncentred distance of the first version.
    prior_every
        Lazy regularisation of the gradient terms (Fourier, consistency): they are evaluated on one
        optimiser step in ``prior_every``, with their weights multiplied by ``prior_every`` so that their
        expected contribution to the gradient is unchanged (Karras et al., "Analyzing and improving the image
        quality of StyleGAN", CVPR 2020, section 3.1: the R1 input-gradient penalty every 16 minibatches).
        ``1``: every step (the exact computation); ``None`` (default): :func:`prior_interval`, 2, or 5 with a
        consistency term (two double-backward passes), which keeps each term within 2.5x plain training per
        epoch on the CPU (``benchmarks/train_cost.py``).
    device, precision
        Device (``None``: the best available); ``auto`` autocasts to bf16 on a GPU and never on the CPU.
    """

    architecture: str = "basset"
    model_config: dict | None = None
    task: str = "regression"
    window: int | None = None
    valid_chroms: list[str] = field(default_factory=list)
    test_chroms: list[str] = field(default_factory=list)
    epochs: int = 20
    batch_size: int = 128
    learning_rate: float = 2e-3
    patience: int = 3
    seed: int = 0
    rc_augment: bool = True
    max_shift: int = 3
    fourier_prior: float = 0.0
    fourier_freq_limit: int | None = None
    fourier_sigma: int = 3
    fourier_positives: float | None = 0.5
    mask_prior: str | None = None
    mask_weight: float = 0.0
    saliency_cutout: float = 0.0
    random_cutout: float = 0.0
    cutout_span: tuple[int, int] = (10, 30)
    cutout_fill: str = "random"
    unknown_bases: str = "error"
    consistency: str | None = None
    consistency_weight: float = 0.0
    consistency_shift: int = 5
    consistency_centre: bool = True
    prior_every: int | None = None
    device: str | None = None
    precision: str = "auto"



def check_options(options: TrainOptions) -> None:
    """Raise :class:`InputError` for option values that cannot work together."""
    if options.precision not in ("auto", "fp32", "bf16", "fp16"):
        raise InputError(f"unknown {option('precision')} {options.precision!r}; choose auto, fp32, bf16 or fp16")
    if options.task not in ("regression", "classification"):
        raise InputError(f"unknown {option('task')} {options.task!r}; choose regression or classification")
    if options.consistency not in (None, "rc", "shift"):
        raise InputError(f"unknown {option('consistency')} {options.consistency!r}; choose rc or shift")
    for name in ("saliency_cutout", "random_cutout"):
        if not 0.0 <= getattr(options, name) <= 1.0:
            raise InputError(f"{option(name)} is a probability; give a value in [0, 1]")
    if options.saliency_cutout and options.random_cutout:
        raise InputError(f"{option('saliency_cutout')} and {option('random_cutout')} are alternatives (random is the "
                         "control); give one")
    if min(options.cutout_span) < 1 or options.cutout_span[0] > options.cutout_span[1]:
        raise InputError(f"{option('cutout_span', str(options.cutout_span))}: give MIN,MAX bases with 1 <= MIN <= MAX")
    if options.unknown_bases not in ("error", "n"):
        raise InputError(f"{option('unknown_bases')} {options.unknown_bases!r}: choose error or n")
    if options.cutout_fill not in CUTOUT_FILLS:
        raise InputError(f"{option('cutout_fill')} {options.cutout_fill!r}: choose one of {', '.join(CUTOUT_FILLS)}")
    if options.mask_prior and not options.mask_weight:
        raise InputError(f"{option('mask_prior')} needs a weight > 0 (0 turns it off: leave {option('mask_prior')} "
                         "out)")
    if options.consistency and not options.consistency_weight:  # as the mask prior (trainbreak: 0 accepted)
        raise InputError(f"{option('consistency')} needs a weight > 0 (0 turns it off: leave {option('consistency')} "
                         "out)")
    if min(options.fourier_prior, options.mask_weight, options.consistency_weight) < 0:
        raise InputError("prior weights must be >= 0")
    if options.consistency == "shift" and options.consistency_shift < 1:
        raise InputError(f"{option('consistency_shift')} must be >= 1 base")
    if options.fourier_positives is not None and not 0.0 <= options.fourier_positives < 1.0:
        raise InputError(f"{option('fourier_positives', options.fourier_positives)}: give a quantile in [0, 1)")
    if options.prior_every is not None and options.prior_every < 1:
        raise InputError(f"{option('prior_every', options.prior_every)}: give a number of steps >= 1")
    for name in ("valid_chroms", "test_chroms"):
        if not isinstance(getattr(options, name), (list, tuple)) or not all(
                isinstance(chrom, str) for chrom in getattr(options, name)):
            raise InputError(f"{name}={getattr(options, name)!r}: give a list of chromosome names, e.g. ['chr2']")
    if options.fourier_freq_limit is not None and options.fourier_freq_limit < 1:
        raise InputError(f"{option('fourier_freq_limit', options.fourier_freq_limit)}: give a frequency index >= 1")
    for name in ("learning_rate", "fourier_prior", "mask_weight", "consistency_weight"):
        if not math.isfinite(getattr(options, name)):
            raise InputError(f"{option(name, getattr(options, name))}: give a finite number")
    if options.learning_rate <= 0 or options.batch_size < 1 or options.epochs < 1 or options.max_shift < 0:
        raise InputError(f"{option('learning_rate')} must be > 0, {option('batch_size')} and {option('epochs')} >= 1, "
                         f"{option('max_shift')} >= 0")


def resolved_window(options: TrainOptions) -> int:
    """The model's input length in bases: ``window``, else the config's ``input_length``, else 500."""
    return int(options.window or (options.model_config or {}).get("input_length") or 500)


def check_window(options: TrainOptions, window: int) -> None:
    """Raise :class:`InputError` for a length option that does not fit in the ``window``-bp training inputs."""
    cutout = max(options.cutout_span) if options.saliency_cutout or options.random_cutout else 0
    for name, bases in (("max_shift", options.max_shift), ("cutout_span", cutout),
                        ("consistency_shift", options.consistency_shift if options.consistency == "shift" else 0)):
        if bases >= window:
            raise InputError(f"{option(name, bases)} is not shorter than the {window}-bp training window; give less")
    if options.fourier_prior and (options.fourier_freq_limit or 0) >= window // 2:
        raise InputError(f"{option('fourier_freq_limit', options.fourier_freq_limit)} counts all {window // 2} "
                         f"frequencies of the "
                         f"{window}-bp window as low, so the prior penalises nothing; give less (default "
                         f"{max(1, round(0.15 * window))}, a period of about 6.7 bases)")
