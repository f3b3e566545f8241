"""One writer per run folder (seqsal.runlock): a second writer is refused with one line before it touches anything,
the lock dies with its holder (kill -9), and every CLI command that writes a run folder takes it."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from seqsal.cli import main
from seqsal.errors import InputError
from seqsal.io import region_arrays
from seqsal.runlock import LOCK_FILE, WRITERS, run_folder_lock

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "data" / "demo"
HOLD = ("import sys\nfrom seqsal.runlock import run_folder_lock\n"
        "group = sys.argv[2] if len(sys.argv) > 2 else None\n"
        "with run_folder_lock(sys.argv[1], f'seqsal {group or \"attribute\"}', True, group):\n"
        "    print('held', flush=True)\n    sys.stdin.read()\n")


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under ``folder``: relative path -> (bytes, mtime in ns)."""
    return {str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _hold(folder: Path, *group: str) -> subprocess.Popen:
    """Another process holding the lock of ``folder`` (as `seqsal attribute`, or as `seqsal GROUP`) until its stdin
    closes."""
    process = subprocess.Popen([sys.executable, "-c", HOLD, str(folder), *group], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert process.stdout.readline().strip() == "held"
    return process


@pytest.fixture()
def holder(tmp_path):
    """Another process holding the lock of ``tmp_path / "run"`` (which holds a file) until the test ends."""
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "regions.tsv").write_text("name\nr1\n")
    process = _hold(folder)
    yield folder, process
    if process.poll() is None:
        process.stdin.close()
        process.wait(timeout=30)


def _arguments(command: str, folder: Path, tmp_path: Path) -> list[str]:
    if command == "attribute":
        return ["attribute", str(DEMO / "genome.fa"), str(DEMO / "regions.bed"), "-m", str(DEMO / "model.safetensors"),
                "-o", str(folder), "--force", "--device", "cpu"]
    if command == "merge":
        return ["merge", str(tmp_path), "-o", str(folder), "--force"]
    return [command.replace("_", "-"), str(folder)]


@pytest.mark.parametrize("command", sorted(WRITERS))
def test_every_writer_is_refused_while_another_process_writes_the_folder(holder, tmp_path, command):
    folder, process = holder
    before = snapshot(folder)
    result = CliRunner().invoke(main, _arguments(command, folder, tmp_path), catch_exceptions=False)
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert lines == [f"seqsal: error: {folder}: another seqsal process (pid {process.pid}, `seqsal attribute`) is "
                     "writing this folder; wait for it to finish"
                     + (" or use another -o" if WRITERS[command][0] else ", then run this command again")], lines
    assert snapshot(folder) == before  # nothing touched, the holder's lock file included


def test_every_cli_command_that_writes_a_run_folder_takes_the_lock():
    """A new command with an OUT_DIR (or -o folder) must be listed in WRITERS (export-modisco only reads it)."""
    writing = {name.replace("-", "_") for name, command in main.commands.items()
               if any(parameter.name == "out_dir" for parameter in command.params)}
    assert writing - {"export_modisco"} == set(WRITERS)


def test_the_lock_dies_with_its_holder_and_a_finished_writer_leaves_no_trace(holder):
    folder, process = holder
    with pytest.raises(InputError, match=f"pid {process.pid}"):
        with run_folder_lock(folder, "seqsal call-peaks"):
            pass
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert (folder / LOCK_FILE).exists()  # left by the killed holder: not a lock any more
    with run_folder_lock(folder, "seqsal attribute --resume"):
        assert (folder / LOCK_FILE).read_text() == f"{os.getpid()}\tseqsal attribute --resume\n"
        with run_folder_lock(folder, "seqsal logos"):  # re-entrant: attribute --logos holds it once
            pass
        assert (folder / LOCK_FILE).exists()
    assert sorted(p.name for p in folder.iterdir()) == ["regions.tsv"]


def test_writers_of_derived_files_run_side_by_side_but_not_with_their_own_kind_or_a_rewrite_of_the_run(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    logos = _hold(folder, "logos")  # as the workflow runs logos, check-seqlets and audit at once
    try:
        with run_folder_lock(folder, "seqsal audit", group="audit"):
            with pytest.raises(InputError, match=rf"another seqsal process \(pid {os.getpid()}, this one\)"):
                with run_folder_lock(folder, "seqsal attribute", True):  # not from inside a derived writer either
                    pass
        with pytest.raises(InputError, match=rf"\(pid {logos.pid}, `seqsal logos`\)"):
            with run_folder_lock(folder, "seqsal attribute", True):
                pass
        with pytest.raises(InputError, match=rf"\(pid {logos.pid}, `seqsal logos`\)"):
            with run_folder_lock(folder, "seqsal logos", group="logos"):
                pass
        # the audit let go of its shared lock but left the file to the logos, which still holds it
        with pytest.raises(InputError, match="another seqsal process"):
            with run_folder_lock(folder, "seqsal call-peaks"):
                pass
    finally:
        logos.stdin.close()
        logos.wait(timeout=30)
    with run_folder_lock(folder, "seqsal call-peaks"):
        pass
    assert list(folder.iterdir()) == []


def test_a_folder_made_for_the_lock_goes_again_when_nothing_was_written(tmp_path):
    with pytest.raises(InputError, match="bad input"):
        with run_folder_lock(tmp_path / "new" / "run", "seqsal attribute", True):
            raise InputError("bad input")
    assert not (tmp_path / "new").exists()  # the parents it made too


def test_two_real_attribute_runs_into_one_folder_the_second_is_refused_and_the_first_finishes(tmp_path):
    out = tmp_path / "out"
    command = [sys.executable, "-m", "seqsal.cli", "attribute", str(DEMO / "genome.fa"), str(DEMO / "regions.bed"),
               "-m", str(DEMO / "model.safetensors"), "-o", str(out), "--device", "cpu", "--no-peaks", "-q",
               "--force"]
    first = subprocess.Popen(command, cwd=ROOT, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not (out / ".partial").exists() and first.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        first.send_signal(signal.SIGSTOP)  # mid-run for sure (a resubmitted cluster job while the first runs)
        assert first.poll() is None, first.stderr.read()
        before = snapshot(out)
        second = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert second.returncode == 2
        assert second.stderr.strip().splitlines() == [
            f"seqsal: error: {out}: another seqsal process (pid {first.pid}, `seqsal attribute`) is writing this "
            "folder; wait for it to finish or use another -o"]
        assert snapshot(out) == before
    finally:
        first.send_signal(signal.SIGCONT)
    assert first.wait(timeout=300) == 0, first.stderr.read()
    record = json.loads((out / "run.json").read_text())
    n_rows = len((out / "regions.tsv").read_text().splitlines()) - 1
    assert record["n_regions"] == n_rows == len(region_arrays(out / "attributions.npz", ["one_hot"]))
    assert not (out / LOCK_FILE).exists()


def test_the_shuffled_null_streams_its_valid_rows_under_a_name_of_its_own_process(tmp_path):
    """Not the fixed `.null.npz.valid.npy` that two runs shared; a name --resume/--force clears as a temporary."""
    from types import SimpleNamespace

    import numpy as np
    import pandas as pd

    from seqsal.encode import one_hot_encode
    from seqsal.peaks.nulls import write_shuffled_null
    from seqsal.peaks.options import NULL_FILE

    regions = pd.DataFrame({"chrom": ["chr1", "chr1"], "start": [0, 100], "end": [50, 150], "name": ["a", "b"]})
    seen: list[list[str]] = []

    def attribute_regions(table, fetch, whole_table):
        for k, row in enumerate(table.itertuples()):
            seen.append(sorted(p.name for p in tmp_path.iterdir()))
            sequence = fetch(row.chrom, row.start, row.end)
            yield SimpleNamespace(index=k, one_hot=one_hot_encode(sequence), prediction=0.5,
                                  projected=np.ones(len(sequence), np.float32))

    write_shuffled_null(tmp_path, regions, attribute_regions, lambda chrom, start, end: ("ACGT" * 300)[start:end],
                        {"chr1": 1000}, fraction=1.0, seed=0)
    streamed = {name for names in seen for name in names if "valid" in name}
    assert streamed == {f"{NULL_FILE}.tmp-{os.getpid()}.valid.npy"}
    assert all(name.split(".tmp-")[0] == NULL_FILE for name in streamed)  # run_checkpoint.prepare_output's rule
    assert sorted(p.name for p in tmp_path.iterdir()) == [NULL_FILE]


def _api_writers(folder: Path, tmp_path: Path) -> dict:
    """Each CLI writer's notebook-API function, called on ``folder`` as a user would."""
    import seqsal
    from seqsal.shards import merge_runs

    demo = [str(DEMO / "genome.fa"), str(DEMO / "regions.bed"), str(DEMO / "model.safetensors")]
    return {
        "attribute": lambda: seqsal.run_attribute(*demo, str(folder), force=True, progress=False),
        "merge": lambda: merge_runs([str(tmp_path)], str(folder), force=True),
        "call_peaks": lambda: seqsal.call_peaks_from_run(folder),
        "motifs": lambda: seqsal.run_motifs(folder, progress=False),
        "evaluate": lambda: seqsal.evaluate_run(str(folder), progress=False),
        "check_seqlets": lambda: seqsal.check_seqlets_run(folder),
        "audit": lambda: seqsal.audit_run(folder),
        "report": lambda: seqsal.write_report(folder),
        "logos": lambda: seqsal.write_logos(folder, progress=False),
        "relocate": lambda: seqsal.relocate_run(folder, genome=demo[0]),
    }


@pytest.mark.parametrize("command", sorted(WRITERS))
def test_every_api_function_that_writes_a_run_folder_is_refused_while_another_process_writes_it(holder, tmp_path,
                                                                                                  command):
    """The notebook API takes the CLI's locks too (a notebook cell beside a running workflow step); before, only
    the CLI did, and `seqsal.run_motifs` wrote into a folder `seqsal attribute --force` was rewriting."""
    folder, process = holder
    writers = _api_writers(folder, tmp_path)
    assert set(writers) == set(WRITERS)
    before = snapshot(folder)
    with pytest.raises(InputError, match=f"another seqsal process \\(pid {process.pid}, `seqsal attribute`\\)"):
        writers[command]()
    assert snapshot(folder) == before


def test_api_calls_that_only_read_take_no_lock(holder):
    """`write=False` reads the run (seqsal motifs re-calls seqlets that way while holding its own shared lock)."""
    import seqsal

    folder, _ = holder
    for call in (lambda: seqsal.call_peaks_from_run(folder, write=False),
                 lambda: seqsal.check_seqlets_run(folder, write=False),
                 lambda: seqsal.audit_run(folder, write=False)):
        try:
            call()
        except Exception as error:  # the folder holds no run: any error but the lock's
            assert "another seqsal process" not in str(error)
