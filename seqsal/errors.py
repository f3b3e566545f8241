"""The one exception type that the CLI turns into a one-line message and exit code 2."""
from __future__ import annotations


class InputError(Exception):
    """Bad input from the user: a file, a line or field in it, or an option.

    The message names the file (and line/field) when there is one, says what is
    wrong and what to do. The CLI prints it as ``seqsal: error: <message>`` and
    exits with code 2, without a traceback.
    """

    def __init__(self, message: str, path: str | None = None, line: int | None = None):
        where = ""
        if path is not None:
            where = f"{path}:{line}: " if line is not None else f"{path}: "
        super().__init__(where + message)
        self.path = path
        self.line = line
