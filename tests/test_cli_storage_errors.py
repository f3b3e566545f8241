"""A full disk, a full quota or a read-only file system under a write gives one line and exit 2, not a traceback;
other OS errors (seqsal's own bugs) still raise. A folder that cannot be made is refused before anything runs."""
from __future__ import annotations

import errno

import click
import pytest
from click.testing import CliRunner

from seqsal.cli import main
from seqsal.cli_common import handle_errors

DEMO = ["attribute", "g.fa", "r.bed", "--model", "m.safetensors"]


def _command(error: OSError, resume: bool) -> click.Command:
    @handle_errors
    def write(**_):
        raise error

    return click.command()(click.option("--resume", is_flag=True)(write) if resume else write)


@pytest.mark.parametrize("code, text, advice", [
    (errno.ENOSPC, "No space left on device", "free space on that file system, then rerun with --resume"),
    (errno.EDQUOT, "Disk quota exceeded", "raise your quota on that file system, then rerun with --resume"),
    (errno.EROFS, "Read-only file system", "give a folder on a writable one (copy the run there first)"),
])
def test_storage_errors_are_one_line(code, text, advice):
    error = OSError(code, text, "/data/run/attributions.npz")
    result = CliRunner().invoke(_command(error, resume=True), [])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"seqsal: error: /data/run/attributions.npz: {text}; "), lines
    assert lines[0].endswith(advice), lines


def test_a_command_without_resume_is_told_to_rerun_and_other_os_errors_still_raise():
    full = OSError(errno.ENOSPC, "No space left on device", "/data/run/motifs.tsv")
    result = CliRunner().invoke(_command(full, resume=False), [])
    assert result.exit_code == 2 and result.output.strip().endswith("free space on that file system, then rerun the "
                                                                     "command")
    bug = OSError(errno.EBADF, "Bad file descriptor")
    result = CliRunner().invoke(_command(bug, resume=False), [])
    assert result.exit_code == 1 and result.exception is bug


def test_an_output_folder_that_cannot_be_made_is_refused_in_one_line(tmp_path):
    (tmp_path / "a_file").write_text("x")
    result = CliRunner().invoke(main, [*DEMO, "-o", str(tmp_path / "a_file" / "run")])
    assert result.exit_code == 2
    assert result.output.strip() == (f"seqsal: error: {tmp_path / 'a_file' / 'run'}: cannot make this folder (Not a "
                                     "directory); give a folder path that can be created")
