"""The table of bad-input cases (issue 7) for ``benchmarks/RESULTS.md``.

Runs every case of ``tests/test_reliability.py::CASES`` through the command line
(click's runner) in a fresh folder and prints a markdown table: the case, the
exit code, the error line (paths shortened), and whether the output folder was
left untouched.

Usage::

    python benchmarks/bad_inputs.py
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.test_reliability import CASES, make_job, run_case  # noqa: E402


def main() -> None:
    print("| case | input | exit | message (one line) | outputs untouched |")
    print("| --- | --- | --- | --- | --- |")
    failures = 0
    for case in CASES:
        with tempfile.TemporaryDirectory() as folder:
            job = make_job(Path(folder) / "job")
            result, before, after = run_case(case, job)
            lines = [line for line in result.output.splitlines() if line.strip()]
            message = " / ".join(lines).replace(str(job.root) + "/", "").replace("|", "\\|")
            ok = result.exit_code == 2 and len(lines) == 1 and case.expect in message and before == after
            failures += not ok
            print(f"| `{case.id}` | {case.what} | {result.exit_code} | {message} | "
                  f"{'yes' if before == after else 'NO'} |")
    print(f"\n{len(CASES) - failures} of {len(CASES)} cases: exit 2, one line, expected text, no output touched.")


if __name__ == "__main__":
    main()
