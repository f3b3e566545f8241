"""What every ``seqsal`` command shares: one-line errors, the run-folder lock, logging, the method options.

Errors in the user's input print one line, ``seqsal: error: ...``, and exit with code 2 (:func:`handle_errors`,
:class:`OneLineErrors`); logs go to stderr (:func:`setup_logging`).
"""
from __future__ import annotations

import errno
import functools
import logging
import math
import os
import sys

import click


class Finite(click.FloatRange):
    """A float option that must be a finite number (click's FloatRange lets ``nan`` and ``inf`` through, and a
    NaN FDR or weight then ran silently wrong), within the bounds given as :class:`click.FloatRange` takes them."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.min is None and self.max is None:
            self.name = "float"  # its help reads FLOAT, as type=float's

    def _describe_range(self) -> str:
        return "finite" if self.min is None and self.max is None else super()._describe_range()

    def convert(self, value, param, ctx):
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number


SEED = click.IntRange(0, 2 ** 32 - 1)
"""A random seed: what NumPy's and torch's generators take alike (a negative seed failed inside numpy)."""


def setup_logging(quiet: bool) -> None:
    logging.basicConfig(
        level=logging.WARNING if quiet else logging.INFO, format="seqsal: %(message)s", stream=sys.stderr, force=True
    )


STORAGE_ERRORS = {
    errno.ENOSPC: "free space on that file system",
    errno.EDQUOT: "free space or raise your quota on that file system",
    errno.EROFS: "the file system is read-only: give a folder on a writable one (copy the run there first)",
    errno.EFBIG: "the file is larger than that file system allows: write less (a smaller --width), or elsewhere",
}
"""The errors of the disk under a write (full, over quota, read-only) that :func:`handle_errors` turns into one
line: they are the user's to fix, not seqsal's bugs. Files are written whole or not at all (``io.atomic_path``),
so nothing half-written is left under a final name."""


def handle_errors(function):
    """Turn :class:`seqsal.errors.InputError` (and interrupts) into one line and an exit code."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        from .errors import InputError
        from .runlock import command_lock

        try:
            with command_lock(function.__name__, kwargs):  # one writer per run folder (seqsal.runlock)
                return function(*args, **kwargs)
        except InputError as error:
            click.echo(f"seqsal: error: {error.cli_message()}", err=True)
            sys.exit(2)
        except PermissionError as error:  # e.g. a run folder that is not writable: one line, not a traceback
            where = error.filename or "a file"
            click.echo(f"seqsal: error: {where}: permission denied; make its folder writable or give another one",
                       err=True)
            sys.exit(2)
        except OSError as error:
            if error.errno not in STORAGE_ERRORS:
                raise
            context = click.get_current_context(silent=True)
            resumable = context is not None and any(p.name == "resume" for p in context.command.params)
            where = error.filename or kwargs.get("out_dir") or kwargs.get("output") or "a file"
            click.echo(f"seqsal: error: {where}: {error.strerror or 'write failed'}; "
                       f"{STORAGE_ERRORS[error.errno]}"
                       + (", then rerun with --resume" if resumable and error.errno != errno.EROFS else
                          ", then rerun the command" if error.errno != errno.EROFS else ""), err=True)
            sys.exit(2)
        except KeyboardInterrupt:
            context = click.get_current_context(silent=True)
            resumable = context is not None and any(p.name == "resume" for p in context.command.params)
            if resumable and kwargs.get("output") and "out_dir" not in kwargs:  # `seqsal train`: has it a checkpoint?
                resumable = os.path.isfile(f"{kwargs['output']}.ckpt")  # (fresh24b: none, yet "--resume" was said)
            resume = "; rerun with --resume" + (" in place of --force" if kwargs.get("force") else "") + " to continue"
            click.echo("seqsal: interrupted" + (resume if resumable else
                                                "; rerun the command (files are written whole or not at all)"),
                       err=True)
            sys.exit(130)

    return wrapper


class OneLineErrors(click.Group):
    """A click group whose usage errors (bad option values, missing arguments) print one line too.

    ``seqsal: error: <what is wrong> (see 'seqsal <command> --help')``, exit code 2, like
    :func:`handle_errors` does for seqsal's own checks.
    """

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.UsageError as error:
            command = error.ctx.command_path if error.ctx is not None else "seqsal"
            click.echo(f"seqsal: error: {error.format_message()} (see '{command} --help')", err=True)
            sys.exit(error.exit_code)
        except click.ClickException as error:
            click.echo(f"seqsal: error: {error.format_message()}", err=True)
            sys.exit(error.exit_code)
        except click.Abort:
            click.echo("seqsal: aborted", err=True)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


def method_options(function):
    """Add the options of the attribution methods; they reach ``function`` as one ``method_params`` dict."""
    options = [
        click.option("--references", type=click.IntRange(min=1), default=None,
                     help="deepshap, ig: dinucleotide-shuffled references per sequence [deepshap 20, ig 10]."),
        click.option("--baseline", type=click.Choice(["shuffle", "zero", "uniform"]), default=None,
                     help="deepshap, ig: reference/baseline [deepshap shuffle, ig zero]."),
        click.option("--steps", type=click.IntRange(min=1), default=None,
                     help="ig: Gauss-Legendre points on the path [32]."),
        click.option("--samples", type=click.IntRange(min=1), default=None, help="smoothgrad: noisy copies [20]."),
        click.option("--noise", type=Finite(min=0), default=None,
                     help="smoothgrad: noise standard deviation, in one-hot units [0.1]."),
        click.option("--layer", default=None,
                     help="gradcam: module name of the layer [the rectified output of the last convolution block]."),
        click.option("--fast/--naive", "fast", default=None,
                     help="ism: recompute only each substitution's receptive field [fast when supported]."),
    ]

    @functools.wraps(function)
    @handle_errors
    def wrapper(*args, references, baseline, steps, samples, noise, layer, fast, **kwargs):
        from .methods import method_params

        given = dict(references=references, baseline=baseline, steps=steps, samples=samples, noise=noise, layer=layer,
                     fast=fast)
        if "method" in kwargs:  # one method: check that it takes these options
            kwargs["method_params"] = method_params(kwargs["method"], kwargs.get("seed", 0), **given)
        else:  # several methods: each takes the options it knows
            kwargs["method_params"] = {key: value for key, value in given.items() if value is not None}
            kwargs["method_params"]["seed"] = kwargs.get("seed", 0)
        return function(*args, **kwargs)

    for option in reversed(options):
        wrapper = option(wrapper)
    return wrapper
