"""Wording shared by messages: counts with the right plural."""
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
