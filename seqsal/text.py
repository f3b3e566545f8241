"""Wording shared by messages: counts with the right plural, and the line an attribution run ends with."""
from __future__ import annotations


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """``count`` and the noun in the number it takes: ``plural(1, "region")`` is ``"1 region"``, 2 ``"2 regions"``.

    Parameters
    ----------
    count
        How many (0 takes the plural, as in English).
    singular
        The noun for one.
    plural_form
        The noun for several, when it is not ``singular + "s"`` (``"matches"``, ``"entries"``).

    Returns
    -------
    str
        ``f"{count:,} {noun}"`` (thousands separated by commas).
    """
    noun = singular if count == 1 else (plural_form or singular + "s")
    return f"{count:,} {noun}"


def run_summary(n_regions: int, before: int, seconds: float, out_dir: str) -> str:
    """The line an attribution run ends with: what *this* invocation did, in how long.

    Parameters
    ----------
    n_regions
        Regions of the run (of its shard).
    before
        Regions an earlier, interrupted invocation had attributed (its checkpoint, resumed from); 0 for a fresh run.
    seconds
        This invocation's wall time.
    out_dir
        The run folder.

    Returns
    -------
    str
        ``1,200 regions attributed in 8.5 s -> run``; for a resumed run, ``resumed: 400 of 1,200 regions attributed
        in 3.1 s (800 done before) -> run``, or, when the checkpoint held them all, that only the final files were
        written.
    """
    if before <= 0:
        return f"{plural(n_regions, 'region')} attributed in {seconds:.1f} s -> {out_dir}"
    if before >= n_regions:
        return (f"resumed with all {plural(n_regions, 'region')} attributed before: the final files written in "
                f"{seconds:.1f} s -> {out_dir}")
    return (f"resumed: {n_regions - before:,} of {plural(n_regions, 'region')} attributed in {seconds:.1f} s "
            f"({before:,} done before) -> {out_dir}")


def nothing_to_resume(out_dir: str, n_regions: int) -> str:
    """The line of a resume that finds its run complete: ``nothing to resume: run is complete (12 regions)``."""
    return f"nothing to resume: {out_dir} is complete ({plural(n_regions, 'region')})"
