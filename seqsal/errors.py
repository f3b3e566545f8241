"""The one exception type that the CLI turns into a one-line message and exit code 2, and the spelling of the
options its messages name (a command-line flag for the CLI, a keyword for the notebook API)."""
from __future__ import annotations

import re

# Options whose flag is not ``--`` + the keyword with ``_`` -> ``-`` (add ``keyword: "--flag"`` here).
CLI_FLAGS: dict[str, str] = {
    "fmt": "--format",  # write_logos(fmt=...): seqsal logos --format
    "mask_weight": "--mask-prior",  # TrainOptions.mask_weight: the WEIGHT of seqsal train --mask-prior
    "consistency_weight": "--consistency",  # TrainOptions.consistency_weight: the WEIGHT of --consistency
    "model_path": "--model",  # run_attribute(model_path=...): seqsal attribute --model
}

_OPEN, _SEP, _CLOSE = "\ue000", "\ue001", "\ue002"  # private-use characters: markup that no user text holds
_MARKED = re.compile(f"{_OPEN}([^{_SEP}{_CLOSE}]*){_SEP}([^{_SEP}{_CLOSE}]*){_SEP}([^{_SEP}{_CLOSE}]*){_CLOSE}")
SPELLINGS = ("api", "cli")


def cli_flag(name: str) -> str:
    """The command-line flag of the option with keyword ``name``: ``cli_flag("on_error")`` is ``--on-error``."""
    return CLI_FLAGS.get(name, "--" + name.replace("_", "-"))


def option(name: str, value: str | int | float | None = None) -> str:
    """An option named in an :class:`InputError` message, spelled when the message is read.

    Parameters
    ----------
    name
        The option's keyword in the notebook API (``target``, ``on_error``, ``fdr``).
    value
        Its value as the message shows it, or ``None`` for the option alone.

    Returns
    -------
    str
        Markup that :func:`spell` turns into ``--target output=5`` / ``--on-error skip`` / ``--window`` for the
        CLI, and ``target="output=5"`` / ``fdr=0.05`` / ``window`` for the API (a string value quoted, a number
        not; the option alone is its keyword). Only meaningful inside an :class:`InputError` message.
    """
    if value is None:
        return f"{_OPEN}{name}{_SEP}{_SEP}{_CLOSE}"
    api = f'"{value}"' if isinstance(value, str) else f"{value}"
    return f"{_OPEN}{name}{_SEP} {value}{_SEP}{api}{_CLOSE}"


def spell(text: str, spelling: str = "api") -> str:
    """``text`` with each :func:`option` in it spelled for ``spelling``: ``api`` (keywords) or ``cli`` (flags)."""
    if spelling not in SPELLINGS:
        raise ValueError(f"unknown spelling {spelling!r}; choose one of {', '.join(SPELLINGS)}")
    if spelling == "cli":
        return _MARKED.sub(lambda m: cli_flag(m[1]) + m[2], text)
    return _MARKED.sub(lambda m: m[1] + (f"={m[3]}" if m[3] else ""), text)


class InputError(Exception):
    """Bad input from the user: a file, a line or field in it, or an option.

    The message names the file (and line/field) when there is one, says what is
    wrong and what to do. The options it names are written with :func:`option`:
    ``str(error)`` spells them as the notebook API's keywords (``target="output=5"``),
    :meth:`cli_message` as the CLI's flags (``--target output=5``). The CLI prints
    ``seqsal: error: <cli_message>`` and exits with code 2, without a traceback.

    Parameters
    ----------
    message
        What is wrong and what to do; options named with :func:`option`.
    path
        The file (or folder) at fault, if any: the message is prefixed with ``PATH:`` and a space.
    line
        Its 1-based line number, if any (with ``path``: prefixed with ``PATH:LINE:``).

    Attributes
    ----------
    path, line
        As given.
    template
        The message with its location prefix and the options unspelled (what :meth:`cli_message` spells).
    """

    def __init__(self, message: str, path: str | None = None, line: int | None = None):
        where = ""
        if path is not None:
            where = f"{path}:{line}: " if line is not None else f"{path}: "
        self.template = where + message
        super().__init__(spell(self.template, "api"))
        self.path = path
        self.line = line

    def cli_message(self) -> str:
        """The message with the options it names spelled as command-line flags (``--target output=5``)."""
        return spell(getattr(self, "template", str(self)), "cli")
