"""The table of input cases (issues 7, 14 and 15) for ``benchmarks/RESULTS.md``.

Runs every case of ``tests/test_reliability.py::CASES`` (issue 7: bad inputs),
``tests/test_input_cases.py::CASES`` (issue 15: genomes, interval and model files
people have), ``tests/test_model_matrix.py::REFUSALS`` (issue 14: model formats,
input layouts and output kinds that cannot be run) and ``tests/test_methods_cli.py::CASES`` (issue 14: operations
DeepSHAP has no rule for, completeness errors, models left in training mode, Grad-CAM layers) through the
command line (click's runner), each in a fresh folder, and prints a markdown table: the case, its kind, the exit code, the output (paths
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
from tests import test_model_matrix as issue14  # noqa: E402
from tests import test_methods_cli as issue14_methods  # noqa: E402
from tests.test_reliability import CASES, make_job, run_case  # noqa: E402


def _issue7_row(case, job) -> tuple[bool, str, int, str]:
    result, before, after = run_case(case, job)
    lines = [line for line in result.output.splitlines() if line.strip()]
    ok = (result.exit_code == 2 and len(lines) == 1 and case.expect in lines[0] and before == after)
    return ok, " / ".join(lines), result.exit_code, "refused" if result.exit_code == 2 else "ran"


def _issue14_row(case, job) -> tuple[bool, str, int, str]:
    """A model the command must refuse (issue 14: formats, input layouts, output kinds), built in the job's folder."""
    folder = job.root / "zoo"
    folder.mkdir()
    zoo = issue14.Zoo(folder)
    return (*issue14.refusal_outcome(case, zoo, issue14.matrix_job(folder), job.root / "out14"), "")


def main() -> None:
    print("| case | kind | input | exit | output (one line) | as required |")
    print("| --- | --- | --- | --- | --- | --- |")
    rows = [("7 bad input", case, _issue7_row) for case in CASES]
    rows += [(case.kind, case, lambda c, j: issue15.outcome(c, j) + ("",)) for case in issue15.CASES]
    rows += [("14 model zoo", case, _issue14_row) for case in issue14.REFUSALS]
    rows += [("14 methods", case, _issue7_row) for case in issue14_methods.CASES]
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
