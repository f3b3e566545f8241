"""The table of input cases (issues 7 and 15) for ``benchmarks/RESULTS.md``.

Runs every case of ``tests/test_reliability.py::CASES`` (issue 7: bad inputs) and
``tests/test_input_cases.py::CASES`` (issue 15: genomes, interval and model files
people have) through the command line (click's runner), each in a fresh folder, and
prints a markdown table: the case, its kind, the exit code, the output (paths
shortened) and whether the case did what it must. A refused input must exit 2 with
one line holding the expected text and leave the output folder untouched; an
accepted one must exit 0 with the right result (the case's check) and no line but
the one expected. Neither may write beside its inputs.

Usage::

    python benchmarks/bad_inputs.py
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests import test_input_cases as issue15  # noqa: E402
from tests.test_reliability import CASES, make_job, run_case  # noqa: E402


def _issue7_row(case, job) -> tuple[bool, str, int, str]:
    result, before, after = run_case(case, job)
    lines = [line for line in result.output.splitlines() if line.strip()]
    ok = (result.exit_code == 2 and len(lines) == 1 and case.expect in lines[0] and before == after)
    return ok, " / ".join(lines), result.exit_code, "refused" if result.exit_code == 2 else "ran"


def main() -> None:
    print("| case | kind | input | exit | output (one line) | as required |")
    print("| --- | --- | --- | --- | --- | --- |")
    rows = [("7 bad input", case, _issue7_row) for case in CASES]
    rows += [(case.kind, case, lambda c, j: issue15.outcome(c, j) + ("",)) for case in issue15.CASES]
    failures = refused = 0
    for kind, case, judge in rows:
        with tempfile.TemporaryDirectory() as folder:
            job = make_job(Path(folder) / "job")
            ok, text, code, _ = judge(case, job)
            message = text.replace(str(job.root) + "/", "").replace("|", "\\|") or "(nothing)"
        failures += not ok
        refused += code == 2
        print(f"| `{case.id}` | {kind} | {case.what} | {code} | {message} | {'yes' if ok else 'NO'} |")
    print(f"\n{len(rows) - failures} of {len(rows)} cases as required ({refused} refused with exit 2 and one line, "
          f"{len(rows) - refused} accepted with the right result).")


if __name__ == "__main__":
    main()
