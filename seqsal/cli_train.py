"""``seqsal train``: a thin click command over :func:`seqsal.train.train_model` (registered by :mod:`seqsal.cli`)."""
from __future__ import annotations

import logging

import click

from .cli_common import SEED, Finite, handle_errors, setup_logging


def _chroms(text: str | None) -> list[str]:
    return [c.strip() for c in (text or "").split(",") if c.strip()]  # "chr2, chr3" names chr3, not " chr3"


@click.command()
@click.argument("genome", type=click.Path(dir_okay=False))
@click.argument("labels", type=click.Path(dir_okay=False))
@click.option("--out", "-o", "output", required=True, type=click.Path(dir_okay=False),
              help="Model file to write (seqsal .safetensors; `seqsal attribute` loads it as it is).")
@click.option("--architecture", type=click.Choice(["basset", "bpnet"]), default="basset", show_default=True)
@click.option("--model-config", type=click.Path(dir_okay=False, exists=True), default=None,
              help="JSON/YAML of the architecture's constructor arguments.")
@click.option("--task", type=click.Choice(["regression", "classification"]), default="regression", show_default=True,
              help="MSE, or binary cross-entropy on logits (labels 0/1).")
@click.option("--tasks", default=None, help="TSV labels: comma-separated task columns [every value column].")
@click.option("--value-column", type=click.IntRange(min=4), default=None,
              help="BED labels: 1-based value column [narrowPeak 7, BED 5].")
@click.option("--regions", default=None, type=click.Path(dir_okay=False),
              help="bigWig labels: the BED of regions to average the signal over.")
@click.option("--window", type=click.IntRange(min=8), default=None, help="Input length in bases [config or 500].")
@click.option("--valid-chroms", required=True, help="Comma-separated validation chromosomes (early stopping).")
@click.option("--test-chroms", default="", help="Comma-separated test chromosomes (final held-out metrics).")
@click.option("--epochs", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--batch-size", type=click.IntRange(min=1), default=128, show_default=True)
@click.option("--learning-rate", type=Finite(min=0, min_open=True), default=2e-3, show_default=True)
@click.option("--patience", type=click.IntRange(min=1), default=3, show_default=True,
              help="Stop after this many epochs without a better validation score.")
@click.option("--seed", type=SEED, default=0, show_default=True)
@click.option("--rc-augment/--no-rc-augment", default=True, show_default=True)
@click.option("--max-shift", type=click.IntRange(min=0), default=3, show_default=True, help="Shift augmentation, bases.")
@click.option("--fourier-prior", type=Finite(min=0), default=0.0, help="Weight of the Fourier prior (try 0.1).")
@click.option("--fourier-freq-limit", type=click.IntRange(min=1), default=None, help="Cut-off frequency index [0.15 L].")
@click.option("--fourier-positives", type=Finite(), default=0.5, help="Fourier prior on label 1 or > this quantile [0.5].")
@click.option("--mask-prior", nargs=2, type=(str, Finite(min=0)), default=None,
              metavar="EXCLUDE.bed[,INCLUDE.bed] WEIGHT", help="Penalise attribution in M-, reward it in M+.")
@click.option("--saliency-cutout", type=Finite(0, 1), default=0.0, help="Probability of a salient cutout.")
@click.option("--random-cutout", type=Finite(0, 1), default=0.0, help="Probability of a random cutout.")
@click.option("--cutout-span", nargs=2, type=click.IntRange(min=1), default=(10, 30), show_default=True,
              metavar="MIN MAX", help="Length range of a cutout, bases (drawn uniformly).")
@click.option("--cutout-fill", type=click.Choice(["random", "n"]), default="random", show_default=True,
              help="What a cutout becomes: random bases, or N (all-zero columns).")
@click.option("--unknown-bases", type=click.Choice(["error", "n"]), default="error", show_default=True,
              help="A FASTA character that is not an IUPAC code (e.g. 'Z') in a training window: stop with its "
                   "line, or read it as N (one warning line counts them).")
@click.option("--consistency", nargs=2, type=(click.Choice(["rc", "shift"]), Finite(min=0)), default=None,
              metavar="rc|shift WEIGHT", help="Map consistency under reverse complement or a shift.")
@click.option("--consistency-shift", type=click.IntRange(min=1), default=5, show_default=True,
              help="With --consistency shift: the shift, bases.")
@click.option("--prior-every", type=click.IntRange(min=1), default=None,
              help="Gradient terms on one step in K, weight x K (lazy regularisation) [2; 5 with --consistency].")
@click.option("--device", default=None, help="cuda, cpu, mps [best available].")
@click.option("--precision", type=click.Choice(["auto", "fp32", "bf16", "fp16"]), default="auto", show_default=True,
              help="Autocast on a GPU (auto: bf16 there, fp32 on the CPU).")
@click.option("--resume", is_flag=True, help="Continue from OUT.ckpt after an interruption.")
@click.option("--force", is_flag=True, help="Overwrite a model (and its report) already at OUT; start over.")
@click.option("--report", "report_path", default=None, type=click.Path(dir_okay=False),
              help="Training report (and its .json) [STEM.train_report.html beside OUT = STEM.safetensors].")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar or info logs.")
@handle_errors
def train(genome, labels, output, architecture, model_config, task, tasks, value_column, regions, window,
          valid_chroms, test_chroms, epochs, batch_size, learning_rate, patience, seed, rc_augment, max_shift,
          fourier_prior, fourier_freq_limit, fourier_positives, mask_prior, saliency_cutout, random_cutout,
          cutout_span, cutout_fill, unknown_bases, consistency, consistency_shift, prior_every, device, precision,
          resume, force, report_path, quiet):
    """Train a model on GENOME windows with LABELS (BED/narrowPeak value, TSV of tasks, or bigWig), with
    optional attribution priors; writes OUT, OUT.ckpt and STEM.train_report.html/.json (OUT = STEM.safetensors)."""
    setup_logging(quiet)
    from .models.files import _read_config
    from .train import train_model
    from .train_options import TrainOptions
    from .train_data import read_labels

    options = TrainOptions(
        architecture=architecture, model_config=_read_config(model_config), task=task, window=window,
        valid_chroms=_chroms(valid_chroms), test_chroms=_chroms(test_chroms), epochs=epochs, batch_size=batch_size,
        learning_rate=learning_rate, patience=patience, seed=seed, rc_augment=rc_augment, max_shift=max_shift,
        fourier_prior=fourier_prior, fourier_freq_limit=fourier_freq_limit, fourier_positives=fourier_positives,
        mask_prior=mask_prior[0] if mask_prior else None, mask_weight=mask_prior[1] if mask_prior else 0.0,
        saliency_cutout=saliency_cutout, random_cutout=random_cutout, cutout_span=tuple(cutout_span),
        cutout_fill=cutout_fill, unknown_bases=unknown_bases,
        consistency=consistency[0] if consistency else None, consistency_weight=consistency[1] if consistency else 0.0,
        consistency_shift=consistency_shift,
        prior_every=prior_every, device=device, precision=precision)
    table = read_labels(labels, tasks=_chroms(tasks) or None, value_column=value_column, regions=regions)
    summary = train_model(genome, table, output, options, resume=resume, quiet=quiet, report=report_path,
                          force=force)
    logging.getLogger("seqsal").info("model -> %s (best epoch %d, validation %.4f)", output, summary["best_epoch"],
                                     summary["best_score"])
