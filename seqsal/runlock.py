"""One writer per run folder: locks that every command writing into a run folder holds for its whole write.

Two ``seqsal attribute -o SAME --force`` runs (a cluster job resubmitted while the first still runs), or a
``seqsal call-peaks`` started while ``seqsal motifs`` rewrites the same folder, would otherwise interleave their
files: a folder whose ``regions.tsv`` and ``attributions.npz`` come from different runs. :func:`run_folder_lock`
takes ``flock(LOCK_NB)`` locks in the folder before anything there is touched; a writer that cannot have them is
refused at once with one line that names the holder (its pid and command), instead of waiting or writing.

* The commands that write the run itself (``attribute``, ``merge``, ``call-peaks``: the arrays, the calls,
  ``run.json``) hold ``FOLDER/.seqsal.lock`` exclusively: nothing else writes the folder meanwhile.
* The commands that add their own files derived from the run (``motifs``, ``evaluate``, ``check-seqlets``,
  ``audit``, ``report``, ``logos``) hold ``.seqsal.lock`` shared and ``FOLDER/.seqsal-<command>.lock``
  exclusively: they run side by side (the shipped Snakemake workflow runs ``logos``, ``check-seqlets`` and
  ``audit`` at once), but never while the run is rewritten, and never two of the same command.

The notebook API's functions that write a run folder (:func:`seqsal.run_attribute`, :func:`seqsal.run_motifs`,
...) take the same locks (:func:`locks_run_folder`), so a notebook cell and a workflow step cannot mix one folder's
files either; within one process the locks are re-entrant (the CLI's lock and its API function's are one hold).

The kernel releases a lock when its holder's process ends, however it ends (``kill -9`` included), so
``--resume`` after a crash takes it again; a lock file left by a dead process is not a lock. The last holder
removes the lock file, so a finished folder holds no trace of it.

The locks are advisory (only seqsal takes them). On NFS, Linux emulates ``flock`` with POSIX byte-range locks,
which the server arbitrates across machines; a file system mounted with node-local locks only (Lustre
``localflock``) protects against writers on the same node only.
"""
from __future__ import annotations

import contextlib
import fcntl
import functools
import inspect
import json
import os
from pathlib import Path
from typing import IO, Any, Callable, Iterator

from .errors import InputError
from .provenance import file_digest

LOCK_FILE = ".seqsal.lock"

# The CLI commands that write into a run folder: whether the user names that folder with -o (a new folder can be
# chosen; else it is the OUT_DIR argument, a run worked on in place), and whether the command rewrites the run
# itself (exclusive) or adds files of its own (shared, plus its own lock). `seqsal export-modisco` reads OUT_DIR
# and writes elsewhere; `seqsal train` writes one model file.
WRITERS: dict[str, tuple[bool, bool]] = {
    "attribute": (True, True), "merge": (True, True), "call_peaks": (False, True), "relocate": (False, True),
    "motifs": (False, False), "evaluate": (False, False), "check_seqlets": (False, False), "audit": (False, False),
    "report": (False, False), "logos": (False, False),
}

_HELD: dict[str, list] = {}  # realpath of a lock file this process holds -> [open file, nested holds, exclusive]


def holder_text(text: str) -> str:
    """Who holds a lock, from its lock file's text (``pid<TAB>command``): ``pid 123, `seqsal attribute```.

    Parameters
    ----------
    text
        The lock file's content; empty while the holder has not written it yet.

    Returns
    -------
    str
        ``"pid N, `COMMAND`"``, or ``"pid N"`` without a command, or ``""`` when the text names no pid.
    """
    pid, _, command = text.strip().partition("\t")
    if not pid.isdigit():
        return ""
    return f"pid {pid}, `{command}`" if command else f"pid {pid}"


def refusal(folder: str, holder: str, new_folder_option: bool) -> InputError:
    """The one-line error of a writer refused because another process holds a lock of the folder.

    Parameters
    ----------
    folder
        The run folder, as the user gave it.
    holder
        :func:`holder_text` of the lock file (may be empty).
    new_folder_option
        Whether the refused command chooses its folder with ``-o`` (then another ``-o`` is a way out).
    """
    who = f" ({holder})" if holder else ""
    way_out = "wait for it to finish or use another -o" if new_folder_option else \
        "wait for it to finish, then run this command again"
    what = "this file" if os.path.isfile(folder) or not os.path.isdir(folder) else "this folder"
    return InputError(f"another seqsal process{who} is writing {what}; {way_out}", folder)


def _open_locked(path: Path, exclusive: bool) -> IO[str] | None:
    """Open ``path`` (created if absent) and lock it; ``None`` when another process's lock is in the way.

    The lock must be on the file that ``path`` names *after* it is taken: the last holder unlinks the file when
    it lets go, so a process that opened the old file just before that holds a lock on a file nobody else can
    open. It then opens ``path`` again (the loop).
    """
    while True:
        handle = open(path, "a+", encoding="utf-8")
        try:
            fcntl.flock(handle.fileno(), (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return None
        try:
            same = os.stat(path).st_ino == os.fstat(handle.fileno()).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return handle
        handle.close()


def _holder(path: Path) -> str:
    """:func:`holder_text` of who is in the way of lock file ``path``.

    The folder's lock held shared names no one: the holders are those of the ``.seqsal-<group>.lock`` files
    beside it that are locked now (probed with a shared lock, let go at once).
    """
    candidates = [path]
    if path.name == LOCK_FILE:
        candidates = sorted(path.parent.glob(".seqsal-*.lock")) + candidates
    for candidate in candidates:
        try:
            handle = open(candidate, encoding="utf-8")
        except OSError:
            continue
        with handle:
            if candidate != path and not _held_elsewhere(handle):
                continue  # not held: what it says is stale (closing the file lets go of the probe)
            if text := holder_text(handle.read()):
                return text
    return ""


def _held_elsewhere(handle: IO[str]) -> bool:
    """Whether another process holds the open lock file exclusively (a writer of that group: its text is current);
    else this probe now holds it shared, until the file is closed."""
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    return False


def _release(path: Path, handle: IO[str]) -> None:
    """Let go of a lock; the last holder (the one that can make it exclusive) unlinks the file first."""
    with contextlib.suppress(BlockingIOError):  # another process shares it: it unlinks the file when it lets go
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        path.unlink(missing_ok=True)  # while still locked: see _open_locked
    handle.close()


@contextlib.contextmanager
def _hold(path: Path, exclusive: bool, command: str, folder: str, new_folder_option: bool) -> Iterator[None]:
    """Hold the lock of lock file ``path`` for the block (re-entrant within this process)."""
    key = os.path.realpath(path)
    if key in _HELD:
        if exclusive and not _HELD[key][2]:  # this process adds derived files: it cannot rewrite the run too
            raise refusal(folder, f"pid {os.getpid()}, this one", new_folder_option)
        _HELD[key][1] += 1
        try:
            yield
        finally:
            _HELD[key][1] -= 1
        return
    handle = _open_locked(path, exclusive)
    if handle is None:
        raise refusal(folder, _holder(path), new_folder_option)
    if exclusive:  # a shared holder leaves the text alone: its own group's lock file names it
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\t{command}\n")
        handle.flush()
    _HELD[key] = [handle, 1, exclusive]
    try:
        yield
    finally:
        del _HELD[key]
        _release(path, handle)


REGIONS_TABLE_KEY = "regions_tsv_sha256"
"""``run.json`` member: the SHA-256 of the ``regions.tsv`` the run (or merge) wrote, so that a table edited by hand
since is refused (:func:`refuse_unfinished_run`; fresh26b: a region shifted by 5 kb was called at the new place with
the old bases)."""


def regions_table_digest(folder: str | os.PathLike) -> str:
    """SHA-256 (hex) of ``FOLDER/regions.tsv``'s bytes (:data:`REGIONS_TABLE_KEY`); ``""`` without one."""
    return file_digest(Path(folder) / "regions.tsv")


def refuse_edited_regions_table(folder: str | os.PathLike) -> None:
    """Refuse a run folder whose ``regions.tsv`` is not the one its run wrote (:data:`REGIONS_TABLE_KEY`; nothing
    to check in a ``run.json`` from before that key, or without one).

    Raises
    ------
    InputError
        Naming ``regions.tsv``: edited, replaced or removed since the run.
    """
    path = Path(folder)
    try:
        recorded = json.loads((path / "run.json").read_text()).get(REGIONS_TABLE_KEY)
    except (OSError, ValueError, AttributeError):
        return  # no run.json, or an unreadable one: refused where it is read, with its own message
    if recorded and regions_table_digest(path) != recorded:
        raise InputError("regions.tsv is not the table this run wrote (edited, replaced or removed since): its rows "
                         "name the regions whose attributions attributions.npz holds; restore it, or rerun `seqsal "
                         "attribute` with --force", str(path / "regions.tsv"))


def refuse_unfinished_run(folder: str | os.PathLike) -> None:
    """Refuse a run folder whose ``seqsal attribute`` run has not finished (interrupted: its checkpoint
    ``.partial`` is there, ``run.json`` is not), before a command derives files from half a run.

    Raises
    ------
    InputError
        ``FOLDER: the seqsal attribute run in this folder has not finished ...; finish it with the same
        command plus --resume first``; attributions without ``run.json`` (removed since the run); a
        ``regions.tsv`` whose bytes are not those the run recorded (:data:`REGIONS_TABLE_KEY`).
    """
    path = Path(folder)
    if (path / "run.json").exists():
        refuse_edited_regions_table(path)
        return
    if (path / ".partial").is_dir():
        raise InputError("the seqsal attribute run in this folder has not finished (interrupted: .partial holds its "
                         "checkpoint, run.json is not written); finish it with the same `seqsal attribute` command "
                         "plus --resume first", str(folder))
    if (path / "attributions.npz").exists():  # auditbreak: the audit then lost the window, call-peaks its record
        raise InputError("holds attributions.npz but no run.json (removed since, or never written): the run's "
                         "record of its model, genome and parameters is gone; restore run.json, or rerun `seqsal "
                         "attribute` with --force", str(folder))


@contextlib.contextmanager
def run_folder_lock(folder: str | os.PathLike, command: str, new_folder_option: bool = False,
                    group: str | None = None) -> Iterator[None]:
    """Hold the write lock(s) of run folder ``folder`` for the block; refuse if another process is in the way.

    Parameters
    ----------
    folder
        The run folder; created (with its parents) when absent, and removed again at the end of the block if
        it holds nothing then, with the parents it made (a run failed on bad input leaves no empty folder).
    command
        What the lock file says holds it (``seqsal attribute``), for the message a refused writer prints.
    new_folder_option
        Whether the refusal may suggest another ``-o`` (the command chooses its folder with ``-o``).
    group
        ``None``: the folder's lock, exclusively (a writer of the run itself). A name (``motifs``): the folder's
        lock shared, and ``.seqsal-<group>.lock`` exclusively (a writer of its own derived files).

    Raises
    ------
    InputError
        When another process holds a lock in the way (``FOLDER: another seqsal process (pid N, `seqsal
        attribute`) is writing this folder; ...``), before anything in the folder has been touched; and, for a
        command that works on a run in place (``new_folder_option`` False), when that run has not finished
        (:func:`refuse_unfinished_run`; not inside this process's own hold: ``seqsal attribute`` calls its peaks
        before it writes ``run.json``).

    Notes
    -----
    Re-entrant within a process (``seqsal attribute --logos`` holds it once for the attribution and the logos).
    """
    path = Path(folder)
    made = [p for p in (path, *path.parents) if not p.exists()]  # the folders this call makes, deepest first
    try:
        path.mkdir(parents=True, exist_ok=True)
    except (FileNotFoundError, NotADirectoryError, FileExistsError) as error:
        raise InputError(f"cannot make this folder ({error.strerror}); give a folder path that can be created",
                         str(folder)) from None
    try:
        nested = os.path.realpath(path / LOCK_FILE) in _HELD  # inside this process's own writer (attribute)
        with _hold(path / LOCK_FILE, group is None, command, str(folder), new_folder_option):
            if not (new_folder_option or nested):  # a command on a run in place: never on half a run
                refuse_unfinished_run(path)
            if group is None:
                yield
            else:
                with _hold(path / f".seqsal-{group}.lock", True, command, str(folder), new_folder_option):
                    yield
    finally:
        with contextlib.suppress(OSError):
            for made_folder in made:
                made_folder.rmdir()  # only when empty: a run that failed on bad input leaves no folder behind


@contextlib.contextmanager
def output_lock(output: str | os.PathLike, command: str) -> Iterator[None]:
    """Hold ``<output>.lock`` exclusively for the block: one writer of an output file that is no run folder
    (``seqsal train``'s model, checkpoint and report), refused at once, as :func:`run_folder_lock` refuses.

    Raises
    ------
    InputError
        ``OUTPUT: another seqsal process (pid N, `seqsal train`) is writing this file; wait for it to finish or
        use another -o``.

    Folders it makes for the lock are removed at the end when nothing else was written into them.
    """
    path = Path(str(output) + ".lock")
    made = [folder for folder in (path.parent, *path.parent.parents) if not folder.exists()]
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with _hold(path, True, command, str(output), True):
            yield
    finally:  # a run refused or failed before it wrote anything leaves no empty folder behind
        for folder in made:
            with contextlib.suppress(OSError):
                folder.rmdir()  # only when empty


def command_lock(name: str, arguments: dict) -> contextlib.AbstractContextManager:
    """The lock a CLI command holds while it runs: its run folder's when it writes one (:data:`WRITERS`).

    Parameters
    ----------
    name
        The command's function name in :mod:`seqsal.cli` (``attribute``, ``call_peaks``).
    arguments
        Its keyword arguments; the run folder is ``out_dir``.
    """
    if name not in WRITERS or not arguments.get("out_dir"):
        return contextlib.nullcontext()
    new_folder_option, rewrites_run = WRITERS[name]
    return run_folder_lock(arguments["out_dir"], "seqsal " + name.replace("_", "-"), new_folder_option,
                           None if rewrites_run else name)


def locks_run_folder(name: str, folder: str = "out_dir",
                     when: Callable[[dict[str, Any]], bool] | None = None) -> Callable[[Callable], Callable]:
    """Decorate an API function that writes a run folder: it holds that folder's lock as the CLI command ``name``.

    Parameters
    ----------
    name
        The command whose lock it takes (a key of :data:`WRITERS`: ``motifs`` shares the folder's lock and holds
        its own group's; ``attribute`` holds the folder's lock exclusively).
    folder
        The function's argument naming the run folder.
    when
        Given the call's bound arguments (defaults applied), whether this call writes (``write=False`` calls read
        only and take no lock); None: always.

    Returns
    -------
    callable
        The decorator. The lock is taken before the function runs; another process in the way raises
        :class:`~seqsal.errors.InputError` naming it, before anything is touched.
    """
    def decorate(function: Callable) -> Callable:
        signature = inspect.signature(function)

        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            arguments = bound.arguments
            if arguments.get(folder) is None or (when is not None and not when(arguments)):
                return function(*args, **kwargs)
            with command_lock(name, {"out_dir": arguments[folder]}):
                return function(*args, **kwargs)

        return wrapper

    return decorate
